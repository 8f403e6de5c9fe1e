"""Keeping freed tensor buffers in the process heap while a network runs on the CPU.

Each layer of a network allocates its output afresh, tens of megabytes for
a batch of a few hundred cutouts. With glibc's default settings the heap
hands much of that memory back to the kernel as soon as it is freed, and
the next call takes it again page by page: on the machines the benchmarks
ran on (virtual machines, where a page fault is dear) the bf16 encoder spent
a fifth of its time on such faults. Inside `retained_heap` glibc serves
buffers of up to 32 MiB from the heap and keeps what is freed; on leaving
it, the heap goes back to returning free memory above 64 MiB, and what was
kept is handed back at once (``malloc_trim``). Elsewhere (macOS, Windows,
musl) it does nothing.

This is what preloading a caching allocator (jemalloc, tcmalloc) does for a
whole process, confined to the calls that need it. Set the environment
variable ``MINUET_RETAIN_HEAP=0`` to leave the C library's settings alone.
"""

import contextlib
import ctypes
import functools
import os
import sys
import threading

__all__ = ["retained_heap"]

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's largest mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX)
_MMAP_THRESHOLD = 32 << 20
#: free memory at the top of the heap that is kept inside the context
_RETAIN = 1 << 30
#: and afterwards: twice the mmap threshold, where glibc's own sliding
#: thresholds settle once buffers of the largest size have been freed
_TRIM_AFTER = 2 * _MMAP_THRESHOLD

_lock = threading.Lock()
_depth = 0


@functools.cache
def _process_glibc():
    """The C library linked into this process if it is glibc, else None (looked up once)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (present in glibc only)
    except (OSError, AttributeError):
        return None
    return libc


def _glibc():
    """The process's C library if it is glibc on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    return _process_glibc()


def _enabled():
    return os.environ.get("MINUET_RETAIN_HEAP", "1").strip().lower() not in {"0", "false", "no"}


@contextlib.contextmanager
def retained_heap():
    """Keep freed buffers of up to 32 MiB in the heap while the block runs.

    Nested and concurrent uses share one setting, which is restored when
    the last of them ends. Results do not depend on it, only the time spent
    on page faults.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import retained_heap
    >>> with retained_heap():
    ...     total = sum(float(torch.ones(1 << 20).sum()) for _ in range(3))
    >>> total
    3145728.0
    """
    global _depth
    libc = _glibc() if _enabled() else None
    if libc is None:
        yield
        return
    with _lock:
        if _depth == 0:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
            libc.mallopt(_M_TRIM_THRESHOLD, _RETAIN)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_AFTER)
                libc.malloc_trim(0)
