"""Pieces shared by everything minuet fits: standardisation, early stopping, local seeds.

Nothing here changes the caller's global state: random initialisation runs
inside `seeded`, which restores torch's global generator afterwards, and
thread counts set by `threads` are put back.
"""

import contextlib
import copy

import numpy as np

__all__ = []


def standardisation(values, *, axis=0):
    """Mean and standard deviation along ``axis``, a zero deviation replaced by 1.

    Dividing by the result never divides by zero: a constant feature stays
    constant (zero after centring) instead of becoming NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet._fitting import standardisation
    >>> mean, std = standardisation(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> mean.tolist(), std.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """
    values = np.asarray(values)
    std = values.std(axis=axis)
    return values.mean(axis=axis), np.where(std > 0, std, 1.0)


@contextlib.contextmanager
def seeded(seed):
    """Run a block with torch's global generator seeded, then restore the caller's state.

    For code that draws from the global generator and cannot be given a
    local one (the initial weights of ``torch.nn`` layers).

    Examples
    --------
    >>> import torch
    >>> from minuet._fitting import seeded
    >>> state = torch.random.get_rng_state()
    >>> with seeded(3):
    ...     a = torch.rand(2)
    >>> with seeded(3):
    ...     b = torch.rand(2)
    >>> bool(torch.equal(a, b)), bool(torch.equal(state, torch.random.get_rng_state()))
    (True, True)
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


@contextlib.contextmanager
def threads(count):
    """Run a block with ``count`` torch threads (None: unchanged), then restore the number.

    Examples
    --------
    >>> import torch
    >>> from minuet._fitting import threads
    >>> before = torch.get_num_threads()
    >>> with threads(1):
    ...     inside = torch.get_num_threads()
    >>> inside, torch.get_num_threads() == before
    (1, True)
    """
    import torch

    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class EarlyStopping:
    """Keep the best state of a torch module and say when to stop improving it.

    Parameters
    ----------
    module : `torch.nn.Module`
        The module being fitted.
    patience : int
        Validations without improvement before stopping.
    min_delta : float, optional
        Smallest decrease of the loss that counts as an improvement.

    Examples
    --------
    >>> import torch
    >>> from minuet._fitting import EarlyStopping
    >>> net = torch.nn.Linear(1, 1)
    >>> stopper = EarlyStopping(net, patience=2)
    >>> [stopper.update(loss) for loss in (3.0, 2.0, 2.5, 2.4)]
    [False, False, False, True]
    >>> stopper.best
    2.0
    """

    def __init__(self, module, *, patience, min_delta=0.0):
        self.module = module
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best = np.inf
        self.state = None
        self.waited = 0

    def update(self, loss):
        """Record a validation loss; return True when it is time to stop."""
        if loss < self.best - self.min_delta:
            self.best, self.waited = float(loss), 0
            self.state = copy.deepcopy(self.module.state_dict())
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore(self):
        """Load the best state seen into the module (nothing if none was recorded)."""
        if self.state is not None:
            self.module.load_state_dict(self.state)
        return self.module
