"""The science heads of a `~minuet.Minuet` model: their shared shape and their registry.

A head turns latents into science. Every head class follows one protocol:

``fit_head(request)`` (classmethod)
    Fit a new head from a `HeadRequest` (the latents, the truth table, a
    seed and the options of `~minuet.Minuet.fit_heads`); return it, `None`
    to remove the model's head, or `UNCHANGED` to keep it.
``save(path)``
    Write every file of the head in minuet's one format and return the
    path of its ``.safetensors`` file.
``load(path)`` (classmethod)
    Read what ``save`` wrote, checking every SHA-256.
``describe()``
    A few words for the model's ``repr``.

`HEADS` lists them in the order they are fitted, saved and described. Adding a
head is one new module that follows the protocol and one line here; the
model's constructor, `~minuet.Minuet.fit_heads`, its ``repr`` and its saved
directory then know it. Head classes are imported only when a head is used,
so loading a model imports only the heads it holds.
"""

import dataclasses
import importlib

__all__ = []

#: Returned by ``fit_head`` to keep the model's current head.
UNCHANGED = object()


@dataclasses.dataclass(frozen=True)
class HeadRequest:
    """What `~minuet.Minuet.fit_heads` gives every head to fit itself on.

    ``latents`` are finite ``(N, D)`` float32 rows and ``truth`` their
    table; ``fitted`` maps the keys of heads already fitted in this call to
    the new heads, so that a head made for another (the posterior's
    calibration) knows when that one was replaced.
    """

    latents: object
    truth: object
    seed: int = 0
    properties: tuple = ()
    labels: tuple = ()
    catalogue_columns: tuple = ()
    posterior_config: object = None
    statistics: object = None
    progress: bool = False
    fitted: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class HeadEntry:
    """One registered head: its key in a model directory, its attribute, its class."""

    key: str
    attribute: str
    target: str  # "module:Class"

    def head_class(self):
        """Import and return the head's class."""
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)


HEADS = (
    HeadEntry("posterior", "posterior_estimator", "minuet.posterior:PosteriorEstimator"),
    HeadEntry("morphology", "morphology_classifier", "minuet.morphology:MorphologyClassifier"),
    HeadEntry("neighbours", "latent_index", "minuet.neighbours:LatentIndex"),
    HeadEntry("anomaly", "anomaly_scorer", "minuet.anomaly:AnomalyScorer"),
    HeadEntry("typicality", "typicality_scorer", "minuet.typicality:TypicalityScorer"),
    HeadEntry("posterior_calibration", "posterior_calibration",
              "minuet.posterior:IntervalCalibration"),
)

def attributes():
    """Attribute names of the heads on a `~minuet.Minuet` model, in registry order."""
    return tuple(entry.attribute for entry in HEADS)


def fit_all(request):
    """Fit every head on ``request``; return ``{attribute: head}`` of those that changed."""
    changed = {}
    for entry in HEADS:
        head = entry.head_class().fit_head(request)
        if head is not UNCHANGED:
            changed[entry.attribute] = request.fitted[entry.key] = head
    return changed


def describe(heads):
    """``'; '``-joined descriptions of the heads that are set, in registry order."""
    return "; ".join(heads[entry.attribute].describe() for entry in HEADS
                     if heads.get(entry.attribute) is not None)
