"""Checks of counts, seeds, sizes, numbers, name lists and input paths, shared by every module.

Each check returns the cleaned value or raises a `ValueError` (a `TypeError`
for a value of the wrong kind, a `FileNotFoundError` for a missing path) whose
message names the argument, what was expected, what was received and what to
do. Nothing is truncated or wrapped around silently: ``2.7`` is not a count,
``2**64 + 5`` is not a seed.
"""

import numbers
from pathlib import Path

import numpy as np

__all__ = []

#: Seeds must lie in [0, SEED_LIMIT): torch generators take at most 63 bits without
#: wrapping, and numpy refuses negative seeds.
SEED_LIMIT = 2**63


def _describe(value):
    return f"{value!r} ({type(value).__name__})"


def count(value, name, *, minimum=1, maximum=None):
    """Return ``value`` as a Python int, refusing booleans, fractions and out-of-range values.

    A float with an integral value (``3.0``) is accepted; ``2.7`` is refused,
    never truncated.

    Examples
    --------
    >>> from minuet._validation import count
    >>> count(3.0, "k")
    3
    >>> count(2.7, "k")
    Traceback (most recent call last):
    ...
    ValueError: k must be a whole number; got 2.7 (float). Pass an integer such as 2 or 3.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        msg = f"{name} must be a whole number; got {_describe(value)}."
        raise TypeError(msg)
    if isinstance(value, numbers.Integral):
        number = int(value)
    else:
        if not np.isfinite(value) or float(value) != int(value):
            low = int(np.floor(value)) if np.isfinite(value) else 1
            msg = (
                f"{name} must be a whole number; got {_describe(value)}. Pass an integer "
                f"such as {low} or {low + 1}."
            )
            raise ValueError(msg)
        number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        if maximum is not None:
            kind = f"an integer between {minimum} and {maximum}"
        else:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        msg = f"{name} must be {kind}; got {number}."
        raise ValueError(msg)
    return number


def seed(value, name="seed", *, allow_none=True):
    """Return a seed as a Python int in [0, 2**63), or None when allowed.

    Examples
    --------
    >>> from minuet._validation import seed
    >>> seed(np.int64(7)), seed(None)
    (7, None)
    >>> seed(2**64 + 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: seed must be a whole number between 0 and 9223372036854775807; got ...
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        msg = (
            f"{name} must be a whole number between 0 and {SEED_LIMIT - 1}"
            f"{' or None' if allow_none else ''}; got {_describe(value)}."
        )
        raise TypeError(msg)
    number = int(value)
    if not 0 <= number < SEED_LIMIT:
        msg = (
            f"{name} must be a whole number between 0 and {SEED_LIMIT - 1}; got {number}. "
            "Larger or negative seeds would be wrapped onto other seeds."
        )
        raise ValueError(msg)
    return number


def real(value, name, *, minimum=None, allow_none=False):
    """Return ``value`` as a finite float, at least ``minimum`` when given.

    Examples
    --------
    >>> from minuet._validation import real
    >>> real(1, "weight", minimum=0)
    1.0
    >>> real(float("nan"), "weight", minimum=0)
    Traceback (most recent call last):
    ...
    ValueError: weight must be a finite number >= 0; got nan.
    """
    if value is None and allow_none:
        return None
    bound = "" if minimum is None else f" >= {minimum:g}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        msg = f"{name} must be a finite number{bound}; got {_describe(value)}."
        raise TypeError(msg)
    number = float(value)
    if not np.isfinite(number) or (minimum is not None and number < minimum):
        msg = f"{name} must be a finite number{bound}; got {number!r}."
        raise ValueError(msg)
    return number


def names(value, name):
    """Return a list of names; a single string is one name, not a list of letters.

    Examples
    --------
    >>> from minuet._validation import names
    >>> names("redshift", "properties"), names(("a", "b"), "properties")
    (['redshift'], ['a', 'b'])
    """
    if isinstance(value, str):
        return [value]
    try:
        items = list(value)
    except TypeError:
        msg = f"{name} must be a name or a sequence of names; got {_describe(value)}."
        raise TypeError(msg) from None
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        msg = f"{name} must hold names (str); got {bad!r}."
        raise TypeError(msg)
    return items


def input_file(path, what="input file"):
    """Return ``path`` as a `~pathlib.Path` after checking it is a readable regular file.

    A directory, a device (``/dev/zero``), a FIFO or a missing path each get
    their own message; nothing is opened, so nothing can hang.

    Examples
    --------
    >>> from minuet._validation import input_file
    >>> input_file("/")
    Traceback (most recent call last):
    ...
    ValueError: input file / is a directory; give the path of a file inside it.
    """
    path = Path(path)
    if path.is_dir():
        msg = f"{what} {path} is a directory; give the path of a file inside it."
        raise ValueError(msg)
    if not path.exists():
        msg = f"{what} {path} does not exist; check the path."
        raise FileNotFoundError(msg)
    if not path.is_file():
        msg = (
            f"{what} {path} is not a regular file (a device, pipe or socket); give the path "
            "of a file on disk."
        )
        raise ValueError(msg)
    return path
