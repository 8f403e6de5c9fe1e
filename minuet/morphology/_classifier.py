"""Galaxy Zoo-style morphology classifiers on the latent."""

import dataclasses
import warnings

import numpy as np
import torch
from astropy.table import Table
from astropy.utils.decorators import deprecated_renamed_argument
from astropy.utils.exceptions import AstropyUserWarning

from .._config import RENAMED_SINCE
from .._fitting import standardisation
from .._heads import UNCHANGED
from .._latents import latent_array
from .._vocabulary import DEFAULT_LABELS
from .._weights import load_fitted, save_fitted
from ._metrics import binary_metrics
from ._network import ResidualMLP, train_binary

__all__ = ["MorphologyClassifier"]

_KIND = "minuet-morphology-1"


@dataclasses.dataclass
class _Settings:
    width: int = 64
    blocks: int = 2
    max_epochs: int = 200
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 15
    batch_size: int = 512


class MorphologyClassifier:
    """
    Binary morphology classifiers (merger, spiral arms, edge-on, round) from latents.

    One residual MLP per label is trained on z-scored latents with a
    binary cross-entropy loss and early stopping on a stratified validation
    split, following the classifiers of Minuet (Gagliano, Shen & Villar
    2025, arXiv:2512.04145). On the synthetic benchmarks it is compared with
    scikit-learn's histogram gradient boosting (``benchmarks/bench_science.py``).

    Parameters
    ----------
    width : int, optional
        Hidden width of each network.
    blocks : int, optional
        Number of residual blocks.
    max_epochs : int, optional
        Maximum number of training epochs (``epochs`` is its deprecated name).
    learning_rate : float, optional
        AdamW learning rate.
    weight_decay : float, optional
        AdamW weight decay.
    patience : int, optional
        Epochs without improvement of the validation loss before stopping.
    batch_size : int, optional
        Mini-batch size.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from minuet.morphology import MorphologyClassifier
    >>> rng = np.random.default_rng(0)
    >>> latents = rng.normal(size=(300, 5))
    >>> truth = Table({"edge_on": latents[:, 0] > 0.5})
    >>> clf = MorphologyClassifier(max_epochs=20).fit(latents, truth, labels=["edge_on"])
    >>> clf.predict_proba(latents[:2]).colnames
    ['p_edge_on']
    """

    @deprecated_renamed_argument("epochs", "max_epochs", RENAMED_SINCE)
    def __init__(self, *, width=64, blocks=2, max_epochs=200, learning_rate=3e-3,
                 weight_decay=1e-4, patience=15, batch_size=512):
        self._settings = _Settings(width, blocks, max_epochs, learning_rate, weight_decay,
                                   patience, batch_size)
        self.labels = None
        self._models = None
        self._mean = self._std = None
        self.sha256 = None

    def __repr__(self):
        return f"<MorphologyClassifier labels={self.labels}>"

    @deprecated_renamed_argument("table", "truth", RENAMED_SINCE)
    def fit(self, latents, truth, *, labels=None, seed=0):
        """
        Train one classifier per label.

        Rows whose label is masked are left out of that label's training
        with an `~astropy.utils.exceptions.AstropyUserWarning`.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents, or a table with ``latent_*`` columns.
        truth : `~astropy.table.Table`
            Truth, one row per latent, with boolean label columns.
        labels : list of str, optional
            Label columns; default ``merger``, ``spiral_arms``, ``edge_on``, ``round``.
        seed : int, optional
            Seed for the splits and the initial weights.

        Returns
        -------
        self : `MorphologyClassifier`

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.morphology import MorphologyClassifier
        >>> rng = np.random.default_rng(0)
        >>> latents = rng.normal(size=(200, 5))
        >>> truth = Table({"edge_on": latents[:, 0] > 0.5, "round": latents[:, 1] > 0})
        >>> clf = MorphologyClassifier(width=16, max_epochs=5)
        >>> clf.fit(latents, truth, labels=["edge_on", "round"])
        <MorphologyClassifier labels=['edge_on', 'round']>
        """
        x = latent_array(latents)
        targets = _labels(truth, labels, len(x))
        self._mean, self._std = standardisation(x)
        xs = self._scale(x)
        self._models = {}
        for name, (y, known) in targets.items():
            self._models[name] = train_binary(xs[known], y[known], seed=seed,
                                              **dataclasses.asdict(self._settings))
        self.labels = list(targets)
        self.sha256 = None
        return self

    def _scale(self, x):
        return ((x - self._mean) / self._std).astype(np.float32)

    def predict_proba(self, latents):
        """
        Probability of each label being true.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents.

        Returns
        -------
        table : `~astropy.table.Table`
            One column ``p_<label>`` per label.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.morphology import MorphologyClassifier
        >>> rng = np.random.default_rng(0)
        >>> latents = rng.normal(size=(200, 5))
        >>> truth = Table({"edge_on": latents[:, 0] > 0.5, "round": latents[:, 1] > 0})
        >>> clf = MorphologyClassifier(width=16, max_epochs=5)
        >>> clf = clf.fit(latents, truth, labels=["edge_on", "round"])
        >>> proba = clf.predict_proba(latents[:3])
        >>> proba.colnames, len(proba)
        (['p_edge_on', 'p_round'], 3)
        """
        if self._models is None:
            msg = "This MorphologyClassifier is not fitted yet; call fit() or load() first."
            raise RuntimeError(msg)
        x = torch.as_tensor(self._scale(latent_array(latents, n_features=len(self._mean))))
        table = Table()
        with torch.no_grad():
            for name, model in self._models.items():
                table[f"p_{name}"] = torch.sigmoid(model(x)).numpy().astype(float)
        table.meta["morphology_weights_sha256"] = self.sha256
        return table

    @deprecated_renamed_argument("table", "truth", RENAMED_SINCE)
    def cross_validate(self, latents, truth, *, labels=None, n_splits=5, seed=0):
        """
        ROC-AUC and PR-AUC from stratified k-fold cross-validation.

        Each label gets its own stratified split (scikit-learn's
        `~sklearn.model_selection.StratifiedKFold`); a fresh classifier with
        this object's settings is trained on each training fold. The fitted
        state of this object is left unchanged.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents.
        truth : `~astropy.table.Table`
            Truth with the label columns.
        labels : list of str, optional
            Label columns; default as in `fit`.
        n_splits : int, optional
            Number of folds.
        seed : int, optional
            Seed for the folds and the networks.

        Returns
        -------
        result : `~astropy.table.Table`
            Per label: ``roc_auc``, ``roc_auc_std``, ``pr_auc``, ``pr_auc_std``
            (means and standard deviations over folds) and ``prevalence``.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.morphology import MorphologyClassifier
        >>> rng = np.random.default_rng(0)
        >>> latents = rng.normal(size=(200, 5))
        >>> truth = Table({"edge_on": latents[:, 0] > 0.5, "round": latents[:, 1] > 0})
        >>> clf = MorphologyClassifier(width=16, max_epochs=5)
        >>> result = clf.cross_validate(latents, truth, labels=["round"], n_splits=2)
        >>> result.colnames
        ['label', 'roc_auc', 'roc_auc_std', 'pr_auc', 'pr_auc_std', 'prevalence', 'n']
        """
        from sklearn.model_selection import StratifiedKFold

        x = latent_array(latents)
        targets = _labels(truth, labels, len(x), min_per_class=n_splits)
        rows = []
        for name, (y, known) in targets.items():
            xk, yk = x[known], y[known]
            folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            scores = []
            for i, (train, test) in enumerate(folds.split(xk, yk)):
                fold = MorphologyClassifier(**dataclasses.asdict(self._settings))
                fold.fit(xk[train], Table({name: yk[train]}), labels=[name], seed=seed + i)
                proba = fold.predict_proba(xk[test])[f"p_{name}"]
                scores.append(binary_metrics(yk[test], proba))
            roc = [s["roc_auc"] for s in scores]
            pr = [s["pr_auc"] for s in scores]
            rows.append((name, np.mean(roc), np.std(roc), np.mean(pr), np.std(pr), yk.mean(),
                         len(yk)))
        return Table(rows=rows, names=("label", "roc_auc", "roc_auc_std", "pr_auc",
                                       "pr_auc_std", "prevalence", "n"),
                     meta={"n_splits": n_splits, "seed": seed})

    def save(self, path):
        """
        Write the networks (safetensors) and settings (JSON sidecar).

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` path; the sidecar gets the ``.json`` suffix.

        Returns
        -------
        path : `~pathlib.Path`
            The weights file; its SHA-256 is kept as ``sha256``.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.morphology import MorphologyClassifier
        >>> rng = np.random.default_rng(0)
        >>> latents = rng.normal(size=(200, 5))
        >>> truth = Table({"edge_on": latents[:, 0] > 0.5, "round": latents[:, 1] > 0})
        >>> clf = MorphologyClassifier(width=16, max_epochs=5)
        >>> clf = clf.fit(latents, truth, labels=["edge_on", "round"])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = clf.save(f"{tmp}/morphology.safetensors")
        ...     again = MorphologyClassifier.load(path)
        >>> again.sha256 == clf.sha256, again.labels
        (True, ['edge_on', 'round'])
        """
        if self._models is None:
            msg = "Nothing to save: fit the classifier first."
            raise RuntimeError(msg)
        tensors = {"mean": self._mean, "std": self._std}
        for name, model in self._models.items():
            for key, value in model.state_dict().items():
                tensors[f"{name}.{key}"] = value.numpy()
        config = {"labels": self.labels, **dataclasses.asdict(self._settings)}
        path, self.sha256 = save_fitted(path, _KIND, tensors, config)
        return path

    @classmethod
    def load(cls, path):
        """Read a classifier written by `save`, checking the weights' SHA-256.

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` file (or its ``.json`` sidecar).

        Returns
        -------
        classifier : `MorphologyClassifier`

        Examples
        --------
        See `save`.
        """
        tensors, config, record = load_fitted(path, _KIND, legacy_kind="MorphologyClassifier")
        labels = config.pop("labels")
        if "epochs" in config:  # written before the option was called max_epochs
            config["max_epochs"] = config.pop("epochs")
        self = cls(**config)
        self._mean, self._std = tensors["mean"], tensors["std"]
        self._models = {}
        for name in labels:
            model = ResidualMLP(len(self._mean), width=self._settings.width,
                                blocks=self._settings.blocks)
            prefix = f"{name}."
            model.load_state_dict({k[len(prefix):]: torch.from_numpy(v)
                                   for k, v in tensors.items() if k.startswith(prefix)})
            model.eval()
            self._models[name] = model
        self.labels = labels
        self.sha256 = record["sha256"]
        return self

    @classmethod
    def fit_head(cls, request):
        """Fit classifiers of ``request.labels`` for `~minuet.Minuet.fit_heads`.

        Parameters
        ----------
        request : HeadRequest
            Latents, truth, seed and options of `~minuet.Minuet.fit_heads`.

        Returns
        -------
        classifier : `MorphologyClassifier`
            Or the marker that keeps the model's head when no label is asked for.
        """
        if not request.labels:
            return UNCHANGED
        return cls().fit(request.latents, request.truth, labels=list(request.labels),
                         seed=request.seed)

    def describe(self):
        """A few words on what the classifier gives, for a model's ``repr``.

        Examples
        --------
        >>> from minuet.morphology import MorphologyClassifier
        >>> MorphologyClassifier().describe()
        'classifiers (not fitted)'
        """
        if self.labels is None:
            return "classifiers (not fitted)"
        return f"classifiers for {', '.join(self.labels)}"


def _labels(table, labels, n_rows, *, min_per_class=2):
    """Return ``{label: (values, known)}`` after checking every label column."""
    names = list(DEFAULT_LABELS if labels is None else labels)
    if not isinstance(table, Table):
        msg = f"truth must be an astropy Table with label columns; received {type(table)}."
        raise TypeError(msg)
    if len(table) != n_rows:
        msg = (f"latents has {n_rows} rows but the truth table has {len(table)}; they must "
               "describe the same galaxies, row by row.")
        raise ValueError(msg)
    if not names:
        msg = "labels is empty; pass at least one label column name."
        raise ValueError(msg)
    missing = [n for n in names if n not in table.colnames]
    if missing:
        msg = (f"The truth table has no label column(s) {missing}; available columns are "
               f"{table.colnames}.")
        raise ValueError(msg)
    out = {}
    for name in names:
        column = table[name]
        known = ~np.asarray(getattr(column, "mask", np.zeros(len(column), bool)), bool)
        values = np.asarray(getattr(column, "data", column))
        if values.dtype.kind == "f":
            known &= np.isfinite(values)
        if values.dtype.kind not in "biuf" or not np.isin(values[known], (0, 1)).all():
            msg = (f"Label column {name!r} must be boolean (or 0/1); received values of "
                   f"dtype {values.dtype}.")
            raise ValueError(msg)
        if not known.all():
            warnings.warn(f"Label {name!r}: leaving out {np.sum(~known)} row(s) with a "
                          "missing value.", AstropyUserWarning, stacklevel=3)
        y = np.zeros(len(values), bool)
        y[known] = values[known].astype(bool)
        counts = (np.sum(y[known]), np.sum(~y[known]))
        if min(counts) < min_per_class:
            msg = (f"Label {name!r} has {counts[0]} positive and {counts[1]} negative "
                   f"example(s); at least {min_per_class} of each are needed. Drop the "
                   "label or add galaxies of the missing class.")
            raise ValueError(msg)
        out[name] = (y, known)
    return out
