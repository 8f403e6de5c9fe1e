"""The `Minuet` class: one object from cutouts to five numbers and back.

The class ties the rooms together: its directory on disk is `minuet._bundle`,
its heads are listed in `minuet._heads`, encoding and reconstruction are in
`minuet._codec` and the science from the latent in `minuet._science`.
"""

import datetime
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
from astropy.utils.exceptions import AstropyDeprecationWarning

from . import _bundle, _codec, _heads, _science
from ._latents import good_rows, latent_array
from ._validation import names
from ._validation import seed as validate_seed
from ._vocabulary import (
    DEFAULT_LABELS,
    DEFAULT_MODEL,
    DEFAULT_PROPERTIES,
    MANIFEST,
    SUPERSEDED,
    latent_names,
    version,
)
from .cutouts import AsinhStretch

__all__ = ["Minuet"]

DEFAULT_PRETRAINED = DEFAULT_MODEL


def model_from_name(name=None):
    """Return the model a ``--model`` option names: a saved directory, or a model's name.

    `None` means the default bundled model.

    Examples
    --------
    >>> from minuet.core import model_from_name
    >>> model_from_name().name
    'minuet-sim-2'
    """
    if name is None:
        return Minuet.pretrained(DEFAULT_MODEL)
    return Minuet.load(name) if Path(name).is_dir() else Minuet.pretrained(str(name))


class Minuet:
    """A diffusion autoencoder for g, r, z galaxy cutouts, ready for science.

    Most users start from :meth:`pretrained`. The object encodes cutouts to a
    few numbers per galaxy (:meth:`encode`) and draws calibrated-flux images
    back from those numbers (:meth:`reconstruct`).

    Parameters
    ----------
    autoencoder : `~minuet.models.DiffusionAutoencoder`
        The trained network (pure torch).
    stretch : `~minuet.cutouts.AsinhStretch`, optional
        The flux stretch the network was trained with.
    name : str, optional
        Name recorded in every output's ``meta``.
    info : dict, optional
        Free-form model card information (training data, compute, metrics).
    posterior_estimator : `~minuet.posterior.PosteriorEstimator`, optional
        Fitted flow from latents to physical properties.
    morphology_classifier : `~minuet.morphology.MorphologyClassifier`, optional
        Fitted classifiers from latents to morphology labels.
    latent_index : `~minuet.neighbours.LatentIndex`, optional
        Index of a reference catalogue for :meth:`neighbours`.
    anomaly_scorer : `~minuet.anomaly.AnomalyScorer`, optional
        Fitted density of latents for :meth:`anomaly_score`.
    typicality_scorer : `~minuet.typicality.TypicalityScorer`, optional
        Typicality under the training set, added to :meth:`encode`'s table.
    posterior_calibration : `~minuet.posterior.IntervalCalibration`, optional
        Conformal adjustment of :meth:`posterior`'s intervals (see
        :meth:`recalibrate`).

    Examples
    --------
    >>> from minuet import Minuet
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny"))
    >>> model = Minuet(net, name="untrained-tiny")
    >>> model.latent_dim
    5
    """

    def __init__(self, autoencoder, *, stretch=None, name="custom", info=None, **heads):
        unknown = sorted(set(heads) - set(_heads.attributes()))
        if unknown:
            msg = (
                f"Minuet() got unknown keyword arguments {unknown}; the heads it takes are "
                f"{list(_heads.attributes())}."
            )
            raise TypeError(msg)
        self.autoencoder = autoencoder.eval()
        for attribute in _heads.attributes():
            setattr(self, attribute, heads.get(attribute))
        self.stretch = AsinhStretch() if stretch is None else stretch
        self.name = str(name)
        self.info = dict(info or {})
        self.sha256 = getattr(autoencoder, "record", {}).get("sha256")
        #: Directory the model was loaded from or last saved to (None if neither).
        self.path = None
        #: SHA-256 of that directory's manifest (its stretch, heads and file hashes).
        self.manifest_sha256 = None

    @property
    def heads(self):
        """The model's science heads by attribute name (None where it has none).

        Examples
        --------
        >>> from minuet import Minuet
        >>> heads = Minuet.pretrained().heads
        >>> heads["posterior_estimator"]
        <PosteriorEstimator properties=['redshift', 'log_mstar', 'log_sfr'] flow='context' (fitted)>
        >>> len(heads)
        6
        """
        return {attribute: getattr(self, attribute) for attribute in _heads.attributes()}

    # -- construction -------------------------------------------------------------------

    @classmethod
    def pretrained(cls, name=DEFAULT_PRETRAINED):
        """Load a model bundled with the package or listed in the model registry.

        A bundled model needs no network. A registered model (see
        `minuet.registry`) is downloaded the first time, checked against the
        SHA-256 of the registry and kept in the cache.

        Parameters
        ----------
        name : str, optional
            Name of the model. :meth:`available` lists the bundled ones,
            ``minuet models`` both kinds. The default is ``'minuet-sim-2'``;
            its predecessor ``'minuet-sim'`` loads with an
            `~astropy.utils.exceptions.AstropyDeprecationWarning` for this
            release.

        Returns
        -------
        model : `Minuet`

        Raises
        ------
        ValueError
            If no model has that name, or its weights fail their SHA-256
            check.
        ConnectionError
            If a registered model is not cached and cannot be downloaded.

        Examples
        --------
        >>> from minuet import Minuet
        >>> model = Minuet.pretrained()
        >>> model.name, model.latent_dim, model.image_size
        ('minuet-sim-2', 5, 72)
        """
        if name not in cls.available():
            from .registry import download_model

            return cls.load(download_model(name))
        if name in SUPERSEDED:
            warnings.warn(
                f"{name!r} is superseded by {SUPERSEDED[name]!r}, the default of "
                f"Minuet.pretrained(), and stays loadable by name for this release only.",
                AstropyDeprecationWarning, stacklevel=2)
        with resources.as_file(resources.files("minuet.data") / name) as path:
            return cls.load(path)

    @staticmethod
    def available():
        """Names of the models bundled with the package.

        Returns
        -------
        names : list of str

        Examples
        --------
        >>> from minuet import Minuet
        >>> Minuet.available()
        ['minuet-sim', 'minuet-sim-2']
        """
        return _bundle.bundled_models()

    @classmethod
    def load(cls, path):
        """Load a model saved with :meth:`save`, verifying every file's SHA-256.

        Parameters
        ----------
        path : str or path-like
            The model directory.

        Returns
        -------
        model : `Minuet`

        Examples
        --------
        >>> import tempfile
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> model = Minuet(DiffusionAutoencoder(config), name="untrained-tiny")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = model.save(f"{tmp}/tiny")
        ...     again = Minuet.load(f"{tmp}/tiny")
        >>> again.name, again.sha256 == model.sha256
        ('untrained-tiny', True)
        """
        from ._weights import sha256
        from .models import load_model

        path = Path(path)
        manifest = _bundle.read_manifest(path)
        manifest_sha256 = sha256(path / MANIFEST)
        autoencoder = load_model(path / _bundle.AUTOENCODER)
        heads = _bundle.load_heads(path, manifest)
        try:
            stretch = AsinhStretch.from_dict(manifest["stretch"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = (
                f"{path / MANIFEST} has an invalid 'stretch' entry ({type(exc).__name__}: "
                f"{exc}); the model directory is damaged. Save or copy the model again."
            )
            raise ValueError(msg) from None
        model = cls(autoencoder, stretch=stretch, name=manifest["name"],
                    info=manifest.get("info", {}), **heads)
        model.path = path
        model.manifest_sha256 = manifest_sha256
        return model

    def save(self, path, *, overwrite=False):
        """Write the model to a directory, atomically.

        Parameters
        ----------
        path : str or path-like
            Directory to create.
        overwrite : bool, optional
            Replace an existing model directory (one holding ``minuet.json``);
            the old model is deleted only once the new one is in place. A file
            or a directory that is not a minuet model is never replaced.

        Returns
        -------
        path : `~pathlib.Path`
            The absolute path of the directory.

        Raises
        ------
        FileExistsError
            If ``path`` is a file, a directory that is not a minuet model, or
            a model while ``overwrite`` is False.

        Examples
        --------
        >>> import tempfile
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> model = Minuet(DiffusionAutoencoder(config), name="untrained-tiny")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = model.save(f"{tmp}/tiny")
        ...     files = sorted(entry.name for entry in path.iterdir())
        >>> files
        ['autoencoder.json', 'autoencoder.safetensors', 'minuet.json']
        >>> len(model.sha256)
        64
        """
        self.path, self.sha256, self.manifest_sha256 = _bundle.save_bundle(
            self, path, overwrite=overwrite)
        return self.path

    # -- properties ---------------------------------------------------------------------

    @property
    def latent_dim(self):
        """Number of latent numbers per galaxy.

        Examples
        --------
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> model = Minuet(DiffusionAutoencoder(config))
        >>> model.latent_dim
        5
        """
        return self.autoencoder.config.encoder.latent_dim

    @property
    def image_size(self):
        """Side of the square cutouts the model takes, in pixels.

        Examples
        --------
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> model = Minuet(DiffusionAutoencoder(config))
        >>> model.image_size
        24
        """
        return self.autoencoder.config.encoder.image_size

    @property
    def latent_names(self):
        """Column names of the latent in output tables.

        Examples
        --------
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> model = Minuet(DiffusionAutoencoder(config))
        >>> model.latent_names
        ['latent_0', 'latent_1', 'latent_2', 'latent_3', 'latent_4']
        """
        return latent_names(self.latent_dim)

    def __repr__(self):
        config = self.autoencoder.config
        enc, den, dif = config.encoder, config.denoiser, config.diffusion
        digest = f"{self.sha256[:12]}..." if self.sha256 else "unsaved"
        heads = _heads.describe(self.heads)
        heads = f"; {heads}" if heads else ""
        return (
            f"<Minuet {self.name!r}: {self.latent_dim} latents from {enc.image_size}x"
            f"{enc.image_size} g,r,z cutouts; encoder {enc.kind} ({enc.patch}px patches, "
            f"width {enc.width}, depth {enc.depth}); denoiser ({den.patch}px patches"
            f"{f' in {2 * den.patch}px windows' if den.overlap else ''}, width "
            f"{den.width}, depth {den.depth}); {dif.kind.upper()} sampler {dif.sampler} with "
            f"{dif.steps} steps; weights sha256 {digest}{heads}>"
        )

    def provenance(self):
        """Return what every output records: package version, model, SHA-256s, date.

        ``weights_sha256`` identifies the autoencoder's weights and
        ``manifest_sha256`` the model directory's ``minuet.json``, which holds
        the flux stretch and the SHA-256 of every other file: two outputs with
        the same ``manifest_sha256`` came from the same model, heads included.

        Returns
        -------
        meta : dict

        Examples
        --------
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> model = Minuet(DiffusionAutoencoder(config), name="untrained-tiny")
        >>> meta = model.provenance()
        >>> sorted(meta)
        ['date', 'manifest_sha256', 'minuet_version', 'model', 'weights_sha256']
        >>> meta["model"], meta["weights_sha256"]  # unsaved, so no SHA-256 yet
        ('untrained-tiny', None)
        """
        return {
            "minuet_version": version(),
            "model": self.name,
            "weights_sha256": self.sha256,
            "manifest_sha256": self.manifest_sha256,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }

    # -- cutouts to latents and back (minuet/_codec.py) -----------------------------------

    encode_cutouts = _codec.encode_cutouts
    encode = _codec.encode
    _add_typicality = _codec._add_typicality
    reconstruct = _codec.reconstruct

    # -- science from the latent (minuet/_science.py) -------------------------------------

    def fit_heads(self, latents, truth, *, properties=None, labels=None, catalogue_columns=None,
                  posterior_config=None, statistics=None, seed=0, progress=False):
        """Fit every science head on latents with known truth; return ``self``.

        This is how the bundled heads were made from the simulator's truth
        catalogue, and how to make your own from any labelled set (for
        example spectroscopic redshifts and Galaxy Zoo votes of real galaxies
        encoded with :meth:`encode`).

        Parameters
        ----------
        latents : `~astropy.table.Table` or array-like
            Output of :meth:`encode` for the training galaxies.
        truth : `~astropy.table.Table`
            One row per latent: the properties and boolean labels.
        properties : sequence of str, optional
            Properties for the posterior flow; default those of ``redshift``,
            ``log_mstar`` and ``log_sfr`` that ``truth`` has. An empty list
            skips the posterior.
        labels : sequence of str, optional
            Boolean labels for the classifiers; default those of ``merger``,
            ``spiral_arms``, ``edge_on`` and ``round`` that ``truth`` has. An
            empty list skips the classifiers.
        catalogue_columns : sequence of str, optional
            Columns of ``truth`` kept in the reference catalogue that
            :meth:`neighbours` returns; default the properties and labels.
        posterior_config : `~minuet.posterior.PosteriorConfig`, optional
            Settings of the flow.
        statistics : array-like, optional
            `~minuet.typicality.cutout_statistics` of the same cutouts, one
            row per latent; with it a `~minuet.typicality.TypicalityScorer`
            is fitted too, so that :meth:`encode` reports typicality.
        seed : int, optional
            Seed of every fit.
        progress : bool, optional
            Show the posterior's training progress.

        Returns
        -------
        self : `Minuet`

        Examples
        --------
        A posterior of redshift, quickly (and crudely) fitted to 40
        made-up latents; ``labels=[]`` skips the classifiers:

        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.posterior import PosteriorConfig
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> model = Minuet(DiffusionAutoencoder(config), name="untrained-tiny")
        >>> rng = np.random.default_rng(0)
        >>> latents = rng.normal(size=(40, 5))
        >>> truth = Table({"redshift": 0.3 + 0.1 * np.tanh(latents[:, 0])})
        >>> config = PosteriorConfig(transforms=1, hidden_features=(16,), max_epochs=2)
        >>> model = model.fit_heads(latents, truth, labels=[], posterior_config=config)
        >>> model.posterior_estimator.properties, len(model.latent_index)
        (['redshift'], 40)
        >>> model.posterior(latents[:2], n_samples=100, seed=1).colnames[:3]
        ['redshift_median', 'redshift_lo68', 'redshift_hi68']
        """
        seed = validate_seed(seed, allow_none=False)
        z, good = self._rows(latents, what="fit the heads on")
        if len(truth) != len(z):
            msg = (
                f"latents has {len(z)} rows but truth has {len(truth)}; they must describe "
                "the same galaxies, row by row."
            )
            raise ValueError(msg)
        if statistics is not None:
            statistics = np.asarray(statistics, dtype=float)
            if len(statistics) != len(z):
                msg = (
                    f"statistics has {len(statistics)} rows but latents has {len(z)}; pass "
                    "cutout_statistics of the same cutouts, row by row."
                )
                raise ValueError(msg)
            statistics = statistics[good]
        z, truth = z[good], truth[good]
        if properties is None:
            properties = [p for p in DEFAULT_PROPERTIES if p in truth.colnames]
        if labels is None:
            labels = [name for name in DEFAULT_LABELS if name in truth.colnames]
        properties, labels = names(properties, "properties"), names(labels, "labels")
        columns = (list(properties) + list(labels) if catalogue_columns is None
                   else names(catalogue_columns, "catalogue_columns"))
        request = _heads.HeadRequest(
            z, truth, seed=seed, properties=tuple(properties), labels=tuple(labels),
            catalogue_columns=tuple(columns), posterior_config=posterior_config,
            statistics=statistics, progress=progress)
        for attribute, head in _heads.fit_all(request).items():
            setattr(self, attribute, head)
        return self

    def _head(self, attribute, method):
        head = getattr(self, attribute)
        if head is None:
            msg = (
                f"the model {self.name!r} has no {attribute}; {method} needs one. Fit one on "
                f"your own latents and truth and set model.{attribute}, or use a model that "
                "bundles it (Minuet.pretrained())."
            )
            raise ValueError(msg)
        return head

    def _rows(self, latents, what=None):
        z = latent_array(latents, n_features=self.latent_dim, allow_nan=True).astype(np.float32)
        good = np.all(np.isfinite(z), axis=1)
        if what is not None:
            good_rows(good, what=what)
        return z, good

    posterior = _science.posterior
    recalibrate = _science.recalibrate
    classify = _science.classify
    neighbours = _science.neighbours
    anomaly_score = _science.anomaly_score
    sample_typicality = _science.sample_typicality
