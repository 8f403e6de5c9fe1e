"""The astropy-facing posterior estimator: latents in, property posteriors out."""

import dataclasses
import warnings

import astropy.units as u
import numpy as np
import torch
from astropy.table import QTable
from astropy.utils.decorators import deprecated_renamed_argument
from astropy.utils.exceptions import AstropyUserWarning

from .._config import RENAMED_SINCE, JSONConfig
from .._fitting import EarlyStopping, seeded, standardisation
from .._heads import UNCHANGED
from .._latents import column_unit, latent_array, table_columns
from .._validation import count
from .._validation import seed as validate_seed
from .._vocabulary import DEFAULT_PROPERTIES, PROPERTY_UNITS, version
from .._weights import load_fitted, save_fitted
from ._flow import build_flow, sample

#: Latents more than this many training standard deviations from the training mean, in
#: any dimension, get NaN posteriors: the flow has never seen anything like them and its
#: output there is extrapolation (latents of 1e6 gave redshifts of 1e34).
MAX_LATENT_ZSCORE = 10.0

#: Fewest samples behind a summary: percentiles of fewer draws are meaningless (with one
#: draw every interval has zero width), and the 2.5th and 97.5th need dozens.
MIN_SUMMARY_SAMPLES = 20

__all__ = ["PosteriorConfig", "PosteriorEstimator"]

_KIND = "minuet-posterior-1"

#: Units used for the default properties when the truth table carries none.
DEFAULT_UNITS = PROPERTY_UNITS

#: Percentiles reported by `PosteriorEstimator.summary`, with their column suffixes.
SUMMARY_PERCENTILES = {"median": 50.0, "lo68": 15.865525, "hi68": 84.134475,
                       "lo95": 2.5, "hi95": 97.5}


@dataclasses.dataclass
class PosteriorConfig(JSONConfig):
    """
    Configuration of a `PosteriorEstimator`; round-trips through JSON.

    The defaults were chosen by measurement (``benchmarks/bench_science.py``):
    a context-only spline flow (``flow='context'``) is calibrated on the
    synthetic benchmarks and samples 10,000 galaxies x 1,000 draws in a few
    seconds on two CPU cores. ``flow='nsf'`` builds zuko's masked
    autoregressive neural spline flow instead (the reference used 10
    transforms and six hidden layers of 512), whose sampling is far slower.

    Parameters
    ----------
    properties : tuple of str
        Names of the target properties (truth-table columns).
    units : tuple of str
        Unit strings of the properties ('' for dimensionless).
    flow : {'context', 'nsf'}
        Flow family.
    transforms : int
        Number of spline layers.
    hidden_features : tuple of int
        Widths of the hidden layers.
    bins : int
        Number of spline bins.
    learning_rate : float
        Adam learning rate.
    batch_size : int
        Training mini-batch size.
    max_epochs : int
        Upper limit on training epochs.
    patience : int
        Epochs without a validation improvement before training stops.
    n_latents : int or None
        Latent dimension, set by ``fit``.

    Examples
    --------
    A small flow for redshift alone, as used in quick tests:

    >>> from minuet.posterior import PosteriorConfig
    >>> config = PosteriorConfig(properties=("redshift",), units=("",), transforms=1,
    ...                          hidden_features=(32,), max_epochs=30)
    >>> PosteriorConfig.from_json(config.to_json()) == config
    True
    """

    properties: tuple = DEFAULT_PROPERTIES
    units: tuple = tuple(DEFAULT_UNITS[p] for p in DEFAULT_PROPERTIES)
    flow: str = "context"
    transforms: int = 4
    hidden_features: tuple = (256, 256, 256)
    bins: int = 8
    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 300
    patience: int = 20
    n_latents: int | None = None


class PosteriorEstimator:
    """
    Posteriors of physical properties given a galaxy's latent.

    A conditional normalising flow (Papamakarios et al. 2021, JMLR 22, 57)
    with rational-quadratic spline transforms (Durkan et al. 2019,
    arXiv:1906.04032) learns ``p(properties | latent)`` from a training set
    of latents and true properties, as in Minuet (Gagliano, Shen & Villar
    2025, arXiv:2512.04145). Latents and targets are standardised with the
    training set's mean and standard deviation.

    Units: ``redshift`` is dimensionless, ``log_mstar`` is in
    ``dex(Msun)`` and ``log_sfr`` in ``dex(Msun / yr)`` unless the truth
    table's columns carry their own units, which are then kept. Any other
    property is dimensionless unless its column has a unit.

    Parameters
    ----------
    config : `PosteriorConfig`, optional
        The configuration; the default is used when omitted.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from minuet.posterior import PosteriorConfig, PosteriorEstimator
    >>> rng = np.random.default_rng(0)
    >>> z = rng.uniform(0.05, 0.5, 400)
    >>> truth = Table({"redshift": z})
    >>> latents = np.column_stack([z + rng.normal(0, 0.02, 400), rng.normal(size=400)])
    >>> config = PosteriorConfig(transforms=1, hidden_features=(16,), max_epochs=5)
    >>> estimator = PosteriorEstimator(config).fit(latents, truth, properties=["redshift"])
    >>> table = estimator.summary(latents[:3], n_samples=200, seed=1)
    >>> table.colnames
    ['redshift_median', 'redshift_lo68', 'redshift_hi68', 'redshift_lo95', 'redshift_hi95']
    """

    def __init__(self, config=None):
        self.config = PosteriorConfig() if config is None else config
        self._flow = None
        self._stats = None
        self.sha256 = None
        self.history = None

    def __repr__(self):
        state = "fitted" if self._flow is not None else "not fitted"
        return (f"<PosteriorEstimator properties={list(self.config.properties)} "
                f"flow={self.config.flow!r} ({state})>")

    @property
    def properties(self):
        """Names of the properties the estimator predicts.

        Examples
        --------
        >>> from minuet.posterior import PosteriorEstimator
        >>> PosteriorEstimator().properties
        ['redshift', 'log_mstar', 'log_sfr']
        """
        return list(self.config.properties)

    def _build(self):
        config = self.config
        return build_flow(config.flow, len(config.properties), config.n_latents,
                          transforms=config.transforms,
                          hidden_features=config.hidden_features, bins=config.bins)

    def _check_fitted(self):
        if self._flow is None:
            msg = "This PosteriorEstimator is not fitted yet; call fit() or load() first."
            raise RuntimeError(msg)

    @deprecated_renamed_argument(["table", "epochs"], ["truth", "max_epochs"],
                                 [RENAMED_SINCE, RENAMED_SINCE])
    def fit(self, latents, truth, *, properties=None, max_epochs=None, seed=0,
            validation_fraction=0.2, progress=False):
        """
        Train the flow on latents and a truth table.

        Rows whose properties are not finite are dropped with a warning.
        Training stops when the validation negative log-likelihood has not
        improved for ``config.patience`` epochs, and the best state is kept.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents, or a table with ``latent_*`` columns.
        truth : `~astropy.table.Table`
            Truth, one row per latent, with the property columns.
        properties : list of str, optional
            Property columns to learn; default ``config.properties``.
        max_epochs : int, optional
            Maximum number of epochs; default ``config.max_epochs``
            (``epochs`` is its deprecated name).
        seed : int, optional
            Seed for the split, the initial weights and the batches.
        validation_fraction : float, optional
            Fraction of rows held out for early stopping, in (0, 1).
        progress : bool, optional
            Show a progress bar.

        Returns
        -------
        self : `PosteriorEstimator`

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.posterior import PosteriorConfig, PosteriorEstimator
        >>> rng = np.random.default_rng(0)
        >>> z = rng.uniform(0.05, 0.5, 200)
        >>> latents = np.column_stack([z + rng.normal(0, 0.02, 200), rng.normal(size=200)])
        >>> config = PosteriorConfig(transforms=1, hidden_features=(16,), max_epochs=3)
        >>> estimator = PosteriorEstimator(config).fit(latents, Table({"redshift": z}),
        ...                                            properties=["redshift"])
        >>> estimator, len(estimator.history["validation"])
        (<PosteriorEstimator properties=['redshift'] flow='context' (fitted)>, 3)
        """
        x_lat = latent_array(latents)
        names = tuple(properties) if properties is not None else tuple(self.config.properties)
        if len(names) == 0:
            msg = "properties is empty; pass at least one property column name."
            raise ValueError(msg)
        targets = table_columns(truth, names)
        if len(truth) != len(x_lat):
            msg = (f"latents has {len(x_lat)} rows but the truth table has {len(truth)}; "
                   "they must describe the same galaxies, row by row.")
            raise ValueError(msg)
        if not 0 < validation_fraction < 1:
            msg = f"validation_fraction must be in (0, 1); received {validation_fraction}."
            raise ValueError(msg)
        good = np.isfinite(targets).all(axis=1)
        if not good.all():
            warnings.warn(f"Dropping {np.sum(~good)} row(s) with non-finite properties.",
                          AstropyUserWarning, stacklevel=2)
            x_lat, targets = x_lat[good], targets[good]
        n_val = round(validation_fraction * len(x_lat))
        if n_val < 1 or len(x_lat) - n_val < 2:
            msg = (f"Too few usable rows ({len(x_lat)}) to train with a validation fraction "
                   f"of {validation_fraction}; pass more galaxies.")
            raise ValueError(msg)
        units = tuple(column_unit(truth[n]) or DEFAULT_UNITS.get(n, "") for n in names)
        self.config = dataclasses.replace(self.config, properties=names, units=units,
                                          n_latents=x_lat.shape[1])
        (latent_mean, latent_std), (target_mean, target_std) = (
            standardisation(x_lat), standardisation(targets))
        self._stats = {"latent_mean": latent_mean, "latent_std": latent_std,
                       "target_mean": target_mean, "target_std": target_std}
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(x_lat))
        val, train = order[:n_val], order[n_val:]
        c = self._context(x_lat)
        y = torch.as_tensor((targets - self._stats["target_mean"]) / self._stats["target_std"],
                            dtype=torch.float32)
        with seeded(seed):
            self._flow = self._build()
        self.history = _train(self._flow, c[train], y[train], c[val], y[val],
                              max_epochs=max_epochs or self.config.max_epochs,
                              patience=self.config.patience,
                              learning_rate=self.config.learning_rate,
                              batch_size=self.config.batch_size, seed=seed, progress=progress)
        self.sha256 = None
        return self

    def _context(self, x_lat):
        return torch.as_tensor((x_lat - self._stats["latent_mean"]) / self._stats["latent_std"],
                               dtype=torch.float32)

    def sample(self, latents, *, n_samples=1000, seed=None):
        """
        Draw posterior samples of the properties.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents.
        n_samples : int, optional
            Samples per galaxy.
        seed : int, optional
            Seed for reproducible draws.

        Returns
        -------
        samples : `~numpy.ndarray`
            Shape ``(N, n_samples, P)`` in the properties' units (as plain numbers).
            NaN, with a warning, for latents more than ``MAX_LATENT_ZSCORE``
            (10) training standard deviations from the training mean.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.posterior import PosteriorConfig, PosteriorEstimator
        >>> rng = np.random.default_rng(0)
        >>> z = rng.uniform(0.05, 0.5, 200)
        >>> latents = np.column_stack([z + rng.normal(0, 0.02, 200), rng.normal(size=200)])
        >>> config = PosteriorConfig(transforms=1, hidden_features=(16,), max_epochs=3)
        >>> estimator = PosteriorEstimator(config).fit(latents, Table({"redshift": z}),
        ...                                            properties=["redshift"])
        >>> estimator.sample(latents[:4], n_samples=50, seed=1).shape
        (4, 50, 1)
        """
        return self._draw(latents, n_samples, seed, minimum=1)

    def _draw(self, latents, n_samples, seed, *, minimum):
        self._check_fitted()
        x_lat = latent_array(latents, n_features=self.config.n_latents)
        n_samples = count(n_samples, "n_samples", minimum=minimum)
        seed = validate_seed(seed)
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        context = self._context(x_lat)
        outside = (context.abs() > MAX_LATENT_ZSCORE).any(dim=1).numpy()
        if outside.any():
            warnings.warn(
                f"{int(outside.sum())} of {len(outside)} latents (first at row "
                f"{int(np.flatnonzero(outside)[0])}) lie more than {MAX_LATENT_ZSCORE:g} standard "
                "deviations from the latents the flow was trained on; their posteriors would be "
                "extrapolation and are returned as NaN.",
                AstropyUserWarning, stacklevel=3)
            context[torch.from_numpy(outside)] = 0.0
        self._flow.eval()
        draws = sample(self._flow, context, n_samples, generator=generator).numpy()
        draws = draws * self._stats["target_std"] + self._stats["target_mean"]
        draws[outside] = np.nan
        return draws

    def summary(self, latents, *, n_samples=1000, seed=None, samples=False):
        """
        Summarise each galaxy's posterior in a `~astropy.table.QTable`.

        For each property ``p`` the columns ``p_median``, ``p_lo68``,
        ``p_hi68`` (16th and 84th percentiles), ``p_lo95`` and ``p_hi95``
        (2.5th and 97.5th percentiles) are returned with the property's unit.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents.
        n_samples : int, optional
            Samples per galaxy; at least ``MIN_SUMMARY_SAMPLES`` (20).
        seed : int, optional
            Seed for reproducible draws.
        samples : bool, optional
            Also return the draws as ``p_samples`` columns of shape
            ``(N, n_samples)``; wrap one in
            `astropy.uncertainty.Distribution` to propagate it.

        Returns
        -------
        table : `~astropy.table.QTable`

        Examples
        --------
        See the class example; with ``samples=True`` the draws come too:

        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.posterior import PosteriorConfig, PosteriorEstimator
        >>> rng = np.random.default_rng(0)
        >>> z = rng.uniform(0.05, 0.5, 200)
        >>> latents = np.column_stack([z + rng.normal(0, 0.02, 200), rng.normal(size=200)])
        >>> config = PosteriorConfig(transforms=1, hidden_features=(16,), max_epochs=3)
        >>> estimator = PosteriorEstimator(config).fit(latents, Table({"redshift": z}),
        ...                                            properties=["redshift"])
        >>> table = estimator.summary(latents[:4], n_samples=50, seed=1, samples=True)
        >>> table["redshift_samples"].shape
        (4, 50)
        """
        draws = self._draw(latents, n_samples, seed, minimum=MIN_SUMMARY_SAMPLES)
        table = QTable()
        levels = np.percentile(draws, list(SUMMARY_PERCENTILES.values()), axis=1)
        for j, (name, unit) in enumerate(zip(self.config.properties, self.config.units,
                                             strict=True)):
            unit = u.Unit(unit)
            for i, suffix in enumerate(SUMMARY_PERCENTILES):
                table[f"{name}_{suffix}"] = levels[i, :, j] * unit
            if samples:
                table[f"{name}_samples"] = draws[:, :, j] * unit
        table.meta.update(self._meta(n_samples=n_samples, seed=seed))
        return table

    @deprecated_renamed_argument("table", "truth", RENAMED_SINCE)
    def log_prob(self, latents, truth):
        """
        Log posterior density of the true properties given the latents.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents.
        truth : `~astropy.table.Table`
            Rows with the property columns.

        Returns
        -------
        log_prob : `~numpy.ndarray`
            Shape ``(N,)``, per unit of the properties' values.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.posterior import PosteriorConfig, PosteriorEstimator
        >>> rng = np.random.default_rng(0)
        >>> z = rng.uniform(0.05, 0.5, 200)
        >>> latents = np.column_stack([z + rng.normal(0, 0.02, 200), rng.normal(size=200)])
        >>> config = PosteriorConfig(transforms=1, hidden_features=(16,), max_epochs=3)
        >>> estimator = PosteriorEstimator(config).fit(latents, Table({"redshift": z}),
        ...                                            properties=["redshift"])
        >>> estimator.log_prob(latents[:4], Table({"redshift": z[:4]})).shape
        (4,)
        """
        self._check_fitted()
        x_lat = latent_array(latents, n_features=self.config.n_latents)
        targets = table_columns(truth, self.config.properties)
        y = torch.as_tensor((targets - self._stats["target_mean"]) / self._stats["target_std"],
                            dtype=torch.float32)
        self._flow.eval()
        with torch.no_grad():
            out = []
            c = self._context(x_lat)
            for start in range(0, len(y), 65536):
                stop = start + 65536
                out.append(self._flow(c[start:stop]).log_prob(y[start:stop]))
        return torch.cat(out).numpy().astype(float) - np.log(self._stats["target_std"]).sum()

    def _meta(self, **extra):
        meta = {"minuet_version": version(), "posterior_flow": self.config.flow,
                "posterior_weights_sha256": self.sha256,
                "properties": list(self.config.properties)}
        meta.update(extra)
        return meta

    def save(self, path):
        """
        Write the weights (safetensors) and configuration (JSON sidecar).

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
        >>> from minuet.posterior import PosteriorConfig, PosteriorEstimator
        >>> rng = np.random.default_rng(0)
        >>> z = rng.uniform(0.05, 0.5, 200)
        >>> latents = np.column_stack([z + rng.normal(0, 0.02, 200), rng.normal(size=200)])
        >>> config = PosteriorConfig(transforms=1, hidden_features=(16,), max_epochs=3)
        >>> estimator = PosteriorEstimator(config).fit(latents, Table({"redshift": z}),
        ...                                            properties=["redshift"])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = estimator.save(f"{tmp}/posterior.safetensors")
        ...     again = PosteriorEstimator.load(path)
        >>> again.sha256 == estimator.sha256, again.properties
        (True, ['redshift'])
        """
        self._check_fitted()
        tensors = {f"flow.{k}": v.detach().numpy() for k, v in self._flow.state_dict().items()}
        tensors.update({f"stats.{k}": np.asarray(v) for k, v in self._stats.items()})
        path, self.sha256 = save_fitted(path, _KIND, tensors, self.config.to_dict())
        return path

    @classmethod
    def load(cls, path):
        """
        Read an estimator written by `save`, checking the weights' SHA-256.

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` file (or its ``.json`` sidecar).

        Returns
        -------
        estimator : `PosteriorEstimator`

        Examples
        --------
        See `save`.
        """
        tensors, config, record = load_fitted(path, _KIND, legacy_kind="PosteriorEstimator")
        self = cls(PosteriorConfig.from_json(config))
        self._flow = self._build()
        self._flow.load_state_dict({k[5:]: torch.from_numpy(v) for k, v in tensors.items()
                                    if k.startswith("flow.")})
        self._stats = {k[6:]: v for k, v in tensors.items() if k.startswith("stats.")}
        self.sha256 = record["sha256"]
        return self

    @classmethod
    def fit_head(cls, request):
        """Fit the posterior of ``request.properties`` for `~minuet.Minuet.fit_heads`.

        Parameters
        ----------
        request : HeadRequest
            Latents, truth, seed and options of `~minuet.Minuet.fit_heads`.

        Returns
        -------
        estimator : `PosteriorEstimator`
            Or the marker that keeps the model's head when no property is asked for.
        """
        if not request.properties:
            return UNCHANGED
        return cls(request.posterior_config).fit(
            request.latents, request.truth, properties=list(request.properties),
            seed=request.seed, progress=request.progress)

    def describe(self):
        """A few words on what the estimator gives, for a model's ``repr``.

        Examples
        --------
        >>> from minuet.posterior import PosteriorEstimator
        >>> PosteriorEstimator().describe()
        'posterior of redshift, log_mstar, log_sfr'
        """
        return f"posterior of {', '.join(self.config.properties)}"


def _train(flow, c_train, y_train, c_val, y_val, *, max_epochs, patience, learning_rate,
           batch_size, seed, progress):
    """Maximum-likelihood training with early stopping; returns the loss history."""
    from tqdm.auto import tqdm

    optimizer = torch.optim.Adam(flow.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(int(seed))
    stopper = EarlyStopping(flow, patience=patience, min_delta=1e-4)
    history = {"train": [], "validation": []}
    for _ in tqdm(range(max_epochs), disable=not progress, desc="posterior flow"):
        flow.train()
        order = torch.randperm(len(y_train), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss = -flow(c_train[idx]).log_prob(y_train[idx]).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
            optimizer.step()
            total += loss.item() * len(idx)
        flow.eval()
        with torch.no_grad():
            val = -flow(c_val).log_prob(y_val).mean().item()
        history["train"].append(total / len(order))
        history["validation"].append(val)
        if stopper.update(val):
            break
    stopper.restore()
    return history
