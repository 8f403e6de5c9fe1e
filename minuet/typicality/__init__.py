"""Typicality: how far each galaxy lies from the training set, and a flag for trust."""

from ._sample import SampleTypicality, sample_typicality
from ._scorer import AtypicalWarning, TypicalityScorer
from ._statistics import STATISTIC_NAMES, cutout_statistics

__all__ = ["STATISTIC_NAMES", "AtypicalWarning", "SampleTypicality", "TypicalityScorer",
           "cutout_statistics", "sample_typicality"]
