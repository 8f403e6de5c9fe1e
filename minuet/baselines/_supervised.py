"""A CNN trained on the pixels themselves: the yardstick for what five numbers keep."""

from dataclasses import dataclass

import astropy.units as u
import numpy as np
import torch
from astropy.table import QTable
from astropy.utils.decorators import deprecated_renamed_argument
from torch.nn import functional as F

from .._config import RENAMED_SINCE, JSONConfig
from .._fitting import seeded
from .._vocabulary import DEFAULT_LABELS, DEFAULT_PROPERTIES, PROPERTY_UNITS
from ..training import augment
from ._data import check_flux, default_stretch, make_source, split, truth_array
from ._networks import ResNet, gaussian_nll
from ._training import forward_in_batches, load_network, save_network, train

__all__ = ["SupervisedCNN", "SupervisedCNNConfig"]

_FORMAT = "minuet-supervised-cnn-1"

#: Units of the default properties when the truth table carries none (as in minuet.posterior).
DEFAULT_UNITS = PROPERTY_UNITS

#: Standard-normal quantiles of the summary columns shared with minuet's posterior summaries.
_QUANTILES = {"median": 0.0, "lo68": -1.0, "hi68": 1.0, "lo95": -1.959964, "hi95": 1.959964}


@dataclass
class SupervisedCNNConfig(JSONConfig):
    """Configuration of a `SupervisedCNN`; round-trips through JSON.

    Parameters
    ----------
    image_size, channels : int
        Side of the square cutouts and number of bands.
    widths : tuple of int
        Channels of the residual stages; each halves the image side.
    properties : tuple of str
        Truth columns predicted with a Gaussian mean and variance.
    units : tuple of str
        Units of ``properties`` ('' for dimensionless); taken from the
        truth table's columns when they have units.
    labels : tuple of str
        Boolean truth columns predicted as probabilities.

    Examples
    --------
    A network for redshift only, with no classification heads:

    >>> from minuet.baselines import SupervisedCNNConfig
    >>> config = SupervisedCNNConfig(properties=("redshift",), units=("",), labels=())
    >>> SupervisedCNNConfig.from_json(config.to_json()) == config
    True
    """

    image_size: int = 72
    channels: int = 3
    widths: tuple = (32, 64, 128)
    properties: tuple = DEFAULT_PROPERTIES
    units: tuple = ("", "dex(solMass)", "dex(solMass / yr)")
    labels: tuple = DEFAULT_LABELS

    def __post_init__(self):
        if len(self.units) != len(self.properties):
            msg = (f"units must give one unit per property; received {len(self.units)} units "
                   f"for {len(self.properties)} properties.")
            raise ValueError(msg)
        if not (self.properties or self.labels):
            msg = "nothing to predict: give at least one property or label."
            raise ValueError(msg)


class SupervisedCNN:
    """Residual CNN that predicts properties and morphology from the pixels.

    Trained directly on the stretched cutouts (random flips, quarter turns
    and rotations), the network gives for each physical property a Gaussian
    mean and variance (trained with the Gaussian negative log-likelihood on
    standardised targets, so the uncertainties can be checked for coverage
    like minuet's flow posteriors) and for each morphology label a
    probability (binary cross-entropy). With everything the pixels hold
    available to it, it is the yardstick for what minuet's five latent
    numbers keep.

    Parameters
    ----------
    config : `SupervisedCNNConfig`, optional
        Architecture and targets.
    stretch : `~minuet.cutouts.AsinhStretch`, optional
        Flux to network-input mapping.
    seed : int
        Seed of the weight initialisation, the split and the augmentations.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from minuet.baselines import SupervisedCNN, SupervisedCNNConfig
    >>> rng = np.random.default_rng(0)
    >>> flux = rng.normal(0, 0.01, (16, 3, 16, 16))
    >>> truth = Table({"redshift": rng.uniform(0, 1, 16), "merger": rng.random(16) < 0.5})
    >>> config = SupervisedCNNConfig(image_size=16, widths=(8, 8), properties=("redshift",),
    ...                              units=("",), labels=("merger",))
    >>> cnn = SupervisedCNN(config).fit(flux, truth, steps=3, batch_size=8)
    >>> cnn.predict(flux).colnames[:3]
    ['redshift_mean', 'redshift_std', 'redshift_median']
    """

    #: The configuration class, rebuilt from a saved record.
    config_class = SupervisedCNNConfig

    def __init__(self, config=None, *, stretch=None, seed=0):
        self.config = SupervisedCNNConfig() if config is None else config
        self.stretch = default_stretch(stretch)
        self.seed = int(seed)
        c = self.config
        with seeded(self.seed):
            self.network = ResNet(channels=c.channels, widths=c.widths,
                                  n_outputs=2 * len(c.properties) + len(c.labels)).eval()
        self.register_stats(np.zeros(len(c.properties)), np.ones(len(c.properties)))
        self.history = None

    def register_stats(self, mean, std):
        """Set the mean and standard deviation that standardise the property targets.

        `fit` sets them from its training rows and `load` from the saved
        record; predictions are mapped back to the properties' units with
        them.

        Parameters
        ----------
        mean, std : array-like
            One value per property, in the configuration's order.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.baselines import SupervisedCNN, SupervisedCNNConfig
        >>> rng = np.random.default_rng(0)
        >>> flux = rng.normal(0, 0.01, (8, 3, 16, 16))
        >>> truth = Table({"redshift": rng.uniform(0, 1, 8), "merger": rng.random(8) < 0.5})
        >>> config = SupervisedCNNConfig(image_size=16, widths=(8, 8), properties=("redshift",),
        ...                              units=("",), labels=("merger",))
        >>> cnn = SupervisedCNN(config)
        >>> cnn.register_stats([0.3], [0.1])
        >>> cnn.target_mean, cnn.target_std
        (array([0.3]), array([0.1]))
        """
        self.target_mean = np.asarray(mean, dtype=np.float64)
        self.target_std = np.asarray(std, dtype=np.float64)

    def _split_outputs(self, out):
        p = len(self.config.properties)
        return out[:, :p], out[:, p : 2 * p], out[:, 2 * p :]

    @deprecated_renamed_argument(["lr", "minutes"], ["learning_rate", "max_minutes"],
                                 [RENAMED_SINCE, RENAMED_SINCE])
    def fit(self, flux, truth=None, *, steps=2000, batch_size=64, learning_rate=1e-3,
            max_minutes=None, validation_fraction=0.1, patience=10, validate_every=100,
            augmentation=True, precision="auto", progress=False):
        """Train the network on cutouts and their true properties and labels.

        Parameters
        ----------
        flux : array-like, `~astropy.units.Quantity`, str or list of str
            g, r, z flux ``(N, 3, S, S)`` in nanomaggies, or HDF5 files of the
            simulator.
        truth : `~astropy.table.Table`, optional
            One row per cutout with the configuration's property and label
            columns; read from the files' ``truth`` table when omitted.
        steps, batch_size, learning_rate : int, int, float
            Optimiser steps, batch size and AdamW learning rate (``lr`` is
            the deprecated name of ``learning_rate``).
        max_minutes : float, optional
            Wall-clock budget of the training (``minutes`` is its deprecated
            name).
        validation_fraction : float
            Held-out fraction for the validation loss and early stopping.
        patience, validate_every : int
            Early stopping after ``patience`` validations (every
            ``validate_every`` steps) without improvement.
        augmentation : bool
            Random flips, quarter turns and rotations of the training images.
        precision : {'auto', 'bf16', 'fp32'}
            ``'bf16'`` trains under bf16 autocast; ``'auto'`` does so where
            the CPU computes bf16 natively and trains in fp32 elsewhere.
        progress : bool
            Show a progress bar.

        Returns
        -------
        self : `SupervisedCNN`
            With the training record in ``history``.

        Examples
        --------
        Two steps on eight cutouts of noise:

        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.baselines import SupervisedCNN, SupervisedCNNConfig
        >>> rng = np.random.default_rng(0)
        >>> flux = rng.normal(0, 0.01, (8, 3, 16, 16))
        >>> truth = Table({"redshift": rng.uniform(0, 1, 8), "merger": rng.random(8) < 0.5})
        >>> config = SupervisedCNNConfig(image_size=16, widths=(8, 8), properties=("redshift",),
        ...                              units=("",), labels=("merger",))
        >>> cnn = SupervisedCNN(config).fit(flux, truth, steps=2, batch_size=4)
        >>> cnn.history is not None
        True
        """
        c = self.config
        source = make_source(flux, size=c.image_size, stretch=self.stretch, truth=truth,
                             need_truth=True)
        if source.truth is None:
            msg = ("truth is required with flux arrays: pass a Table with the columns "
                   f"{[*c.properties, *c.labels]}.")
            raise ValueError(msg)
        truth_array(source.truth, [*c.properties, *c.labels])  # all missing columns at once
        targets = truth_array(source.truth, c.properties)
        labels = truth_array(source.truth, c.labels).astype(np.float32)
        if not np.isin(labels, (0.0, 1.0)).all():
            msg = f"the label columns {list(c.labels)} must be boolean (0/1); they are not."
            raise ValueError(msg)
        units = tuple(_unit(source.truth[name], default) for name, default
                      in zip(c.properties, c.units, strict=True))
        self.config = c = SupervisedCNNConfig.from_dict(c.to_dict() | {"units": list(units)})
        train_idx, val_idx = split(len(source), validation_fraction=validation_fraction,
                                   seed=self.seed)
        std = targets[train_idx].std(axis=0)
        self.register_stats(targets[train_idx].mean(axis=0), np.where(std > 0, std, 1.0))
        y = torch.from_numpy(((targets - self.target_mean) / self.target_std).astype(np.float32))
        b = torch.from_numpy(labels)
        net = self.network

        def batch_loss(indices, generator, training):
            indices = np.sort(indices)
            x = torch.from_numpy(source.read(indices)[0])
            if training and augmentation:
                x, _ = augment(x, torch.ones_like(x[:, :1]), generator=generator)
            mean, log_var, logits = self._split_outputs(net(x).float())
            loss = 0.0
            if c.properties:
                loss = loss + gaussian_nll(mean, log_var, y[indices])
            if c.labels:
                loss = loss + F.binary_cross_entropy_with_logits(logits, b[indices])
            return loss

        self.history = train(net, batch_loss, train_idx, val_idx, steps=steps,
                             batch_size=batch_size, learning_rate=learning_rate, seed=self.seed,
                             max_minutes=max_minutes,
                             patience=patience, validate_every=validate_every,
                             precision=precision, progress=progress, desc="supervised CNN")
        return self

    @torch.no_grad()
    def predict(self, flux, *, batch_size=256, precision="fp32"):
        """Predict properties with uncertainties and label probabilities.

        Parameters
        ----------
        flux : array-like or `~astropy.units.Quantity`
            g, r, z flux ``(N, 3, S, S)`` in nanomaggies.
        batch_size : int
            Cutouts per forward pass.
        precision : {'fp32', 'bf16', 'auto'}
            Arithmetic of the forward pass.

        Returns
        -------
        table : `~astropy.table.QTable`
            For each property ``p``: ``p_mean`` and ``p_std`` (the Gaussian's
            mean and standard deviation), and ``p_median``, ``p_lo68``,
            ``p_hi68``, ``p_lo95``, ``p_hi95`` (its 50, 15.9, 84.1, 2.5 and
            97.5 percentiles, the columns of minuet's posterior summaries), in
            the property's unit (``log_mstar`` in ``dex(solMass)``,
            ``log_sfr`` in ``dex(solMass / yr)``, the spreads in ``dex``); for
            each label ``l``: ``p_l``, the probability that it applies.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.baselines import SupervisedCNN, SupervisedCNNConfig
        >>> rng = np.random.default_rng(0)
        >>> flux = rng.normal(0, 0.01, (8, 3, 16, 16))
        >>> truth = Table({"redshift": rng.uniform(0, 1, 8), "merger": rng.random(8) < 0.5})
        >>> config = SupervisedCNNConfig(image_size=16, widths=(8, 8), properties=("redshift",),
        ...                              units=("",), labels=("merger",))
        >>> table = SupervisedCNN(config).predict(flux)  # untrained
        >>> table.colnames  # doctest: +NORMALIZE_WHITESPACE
        ['redshift_mean', 'redshift_std', 'redshift_median', 'redshift_lo68',
         'redshift_hi68', 'redshift_lo95', 'redshift_hi95', 'p_merger']
        """
        c = self.config
        flux = check_flux(flux, size=c.image_size)
        x = torch.from_numpy(self.stretch.forward(flux).astype(np.float32))
        out = forward_in_batches(self.network, x, batch_size=batch_size, precision=precision)
        mean, log_var, logits = (t.numpy().astype(np.float64) for t in self._split_outputs(out))
        mean = mean * self.target_std + self.target_mean
        std = np.exp(0.5 * np.clip(log_var, -12.0, 12.0)) * self.target_std
        table = QTable()
        for j, (name, unit) in enumerate(zip(c.properties, c.units, strict=True)):
            unit = u.Unit(unit)
            spread = unit.function_unit if isinstance(unit, u.FunctionUnitBase) else unit
            table[f"{name}_mean"] = mean[:, j] * unit
            table[f"{name}_std"] = std[:, j] * spread
            for suffix, k in _QUANTILES.items():
                table[f"{name}_{suffix}"] = (mean[:, j] + k * std[:, j]) * unit
        for j, name in enumerate(c.labels):
            table[f"p_{name}"] = 1.0 / (1.0 + np.exp(-logits[:, j]))
        table.meta["model"] = "SupervisedCNN"
        return table

    def save(self, path, *, metadata=None):
        """Write ``<path>.safetensors`` and ``<path>.json``; return the weights' SHA-256.

        Parameters
        ----------
        path : str or path-like
            Destination; a ``.safetensors`` or ``.json`` suffix is replaced.
        metadata : dict, optional
            JSON-serialisable information to record.

        Returns
        -------
        digest : str
            SHA-256 of the weights file.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.baselines import SupervisedCNN, SupervisedCNNConfig
        >>> rng = np.random.default_rng(0)
        >>> flux = rng.normal(0, 0.01, (8, 3, 16, 16))
        >>> truth = Table({"redshift": rng.uniform(0, 1, 8), "merger": rng.random(8) < 0.5})
        >>> config = SupervisedCNNConfig(image_size=16, widths=(8, 8), properties=("redshift",),
        ...                              units=("",), labels=("merger",))
        >>> cnn = SupervisedCNN(config)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     digest = cnn.save(f"{tmp}/cnn")
        ...     again = SupervisedCNN.load(f"{tmp}/cnn")
        >>> again.record["sha256"] == digest, again.config == config
        (True, True)
        """
        return save_network(self, path, _FORMAT, metadata=metadata,
                            target_mean=self.target_mean.tolist(),
                            target_std=self.target_std.tolist())

    @classmethod
    def load(cls, path):
        """Read a network written by :meth:`save`, checking its SHA-256.

        Parameters
        ----------
        path : str or path-like
            The ``.safetensors`` file, its ``.json`` sidecar or their common stem.

        Returns
        -------
        network : `SupervisedCNN`
            With the sidecar's contents in ``record``.

        Examples
        --------
        See :meth:`save`.
        """
        self, record = load_network(cls, path, _FORMAT)
        self.register_stats(record["target_mean"], record["target_std"])
        return self


def _unit(column, default):
    unit = getattr(column, "unit", None)
    return default if unit is None else unit.to_string()

