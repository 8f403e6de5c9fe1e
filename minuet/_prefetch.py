"""Reading the next item of an iterator in a background thread."""

from concurrent.futures import ThreadPoolExecutor

__all__ = ["prefetch"]

_END = object()


def prefetch(iterable):
    """Yield the items of ``iterable`` while a thread already makes the next one.

    Reading from disk then overlaps with the work on the item before, which
    releases the interpreter lock while it computes. Errors of the reader
    are raised where the item would have been yielded.

    Examples
    --------
    >>> from minuet._prefetch import prefetch
    >>> list(prefetch(iter(range(3))))
    [0, 1, 2]
    """
    iterator = iter(iterable)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, iterator, _END)
        while (item := pending.result()) is not _END:
            pending = pool.submit(next, iterator, _END)
            yield item
