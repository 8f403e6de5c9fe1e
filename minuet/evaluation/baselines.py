"""Former home of `minuet.baselines`; its names still resolve here, with a warning."""

import warnings

from astropy.utils.exceptions import AstropyDeprecationWarning

__all__ = []


def __getattr__(name):
    from .. import baselines

    if name not in baselines.__all__:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    warnings.warn(
        f"minuet.evaluation.baselines.{name} has moved to minuet.baselines.{name}; import it "
        "from there.",
        AstropyDeprecationWarning,
        stacklevel=2,
    )
    return getattr(baselines, name)
