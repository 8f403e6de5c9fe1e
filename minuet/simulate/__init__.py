"""Legacy-Surveys-like g, r, z cutouts of simulated galaxies with a truth catalogue."""

from .config import *  # noqa: F403
from .core import *  # noqa: F403
from .dataset import *  # noqa: F403
from .relations import *  # noqa: F403
from .variants import *  # noqa: F403
