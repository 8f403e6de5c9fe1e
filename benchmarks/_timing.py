"""Side-by-side timing on a shared machine: interleaved repeats, best of each.

When other jobs share the cores, a single timing says more about them than
about the code. :func:`side_by_side` runs the candidates in turn, round after
round, so that every candidate sees the same competition, and keeps each
candidate's fastest round (the one least disturbed) and its median.
"""

import os
import time

import numpy as np

__all__ = ["load_average", "side_by_side"]


def load_average():
    """The 1, 5 and 15 minute load averages, or None where the system has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def side_by_side(candidates, *, rounds=5, warmup=1):
    """Time several callables against each other, interleaved.

    Parameters
    ----------
    candidates : dict of str to callable
        The calls to time; each is called with no argument.
    rounds : int, optional
        Timed calls of each candidate, interleaved.
    warmup : int, optional
        Untimed calls of each candidate first.

    Returns
    -------
    times : dict of str to dict
        Per candidate ``best`` and ``median`` seconds per call, and the
        load averages before and after.
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    before = load_average()
    seconds = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - start)
    after = load_average()
    return {name: {"best": float(np.min(s)), "median": float(np.median(s)),
                   "load_average": [before, after]} for name, s in seconds.items()}
