"""Typicality: how far each galaxy lies from the training set, and a flag for trust."""

from ._scorer import AtypicalWarning, TypicalityScorer
from ._statistics import STATISTIC_NAMES, cutout_statistics

__all__ = ["STATISTIC_NAMES", "AtypicalWarning", "TypicalityScorer", "cutout_statistics"]
