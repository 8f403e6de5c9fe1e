"""The `Minuet` class: one object from cutouts to five numbers and back."""

import datetime
import json
import os
import shutil
import tempfile
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
from astropy.nddata import NDData, StdDevUncertainty
from astropy.table import QTable, Table
from tqdm.auto import tqdm

from . import __version__
from ._latents import good_rows, latent_array, refuse_nonfinite_latents
from ._validation import SEED_LIMIT, count, names
from ._validation import seed as validate_seed
from .cutouts import AsinhStretch, Cutouts, load_cutouts, nanomaggy

__all__ = ["Minuet"]

_FORMAT = "minuet-model-1"
_MANIFEST = "minuet.json"
_AUTOENCODER = "autoencoder"
DEFAULT_PRETRAINED = "minuet-sim"


def _latent_names(dim):
    return [f"latent_{i}" for i in range(dim)]


def _resolved(precision):
    """The precision, ``'bf16'`` or ``'fp32'``, that a ``precision`` option means on the CPU."""
    from .models import resolve_precision

    return resolve_precision(precision)


def _show_progress(progress, n_batches):
    """Progress bars appear by default only for work of more than a few batches."""
    return n_batches > 4 if progress is None else bool(progress)


_REQUIRED_KEYS = {"name": str, "stretch": dict, "files": dict}


def _check_manifest(path, manifest):
    """Refuse a manifest that lacks a key, has one of the wrong kind, or names outside files."""
    from ._weights import contained_file

    if not isinstance(manifest, dict):
        msg = f"{path / _MANIFEST} holds a {type(manifest).__name__}, not a minuet manifest."
        raise ValueError(msg)
    for key, kind in _REQUIRED_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            msg = (
                f"{path / _MANIFEST} has no valid {key!r} entry (expected a {kind.__name__}, "
                f"found {manifest.get(key)!r}); the model directory is damaged. Save or copy "
                "the model again."
            )
            raise ValueError(msg)
    heads = manifest.get("heads", {})
    if not isinstance(heads, dict):
        msg = f"{path / _MANIFEST} has a 'heads' entry that is not a mapping; it is damaged."
        raise ValueError(msg)
    files = manifest["files"]
    for name in [*files, *heads.values()]:
        contained_file(path, name)
    unhashed = sorted(set(heads.values()) - set(files))
    for required in (_AUTOENCODER + ".safetensors", _AUTOENCODER + ".json"):
        if required not in files:
            unhashed.append(required)
    if unhashed:
        msg = (
            f"{path / _MANIFEST} lists no SHA-256 for {unhashed}; every file of a model must "
            "be hashed. The model directory is damaged: save or copy the model again."
        )
        raise ValueError(msg)


def _verify_files(path, manifest):
    """Check every file the manifest lists against its SHA-256 before anything is read."""
    from ._weights import sha256

    _check_manifest(path, manifest)
    for name, expected in manifest["files"].items():
        file = path / name
        if not file.is_file():
            msg = f"{file} is missing from the model directory; save or copy the model again."
            raise FileNotFoundError(msg)
        digest = sha256(file)
        if digest != expected:
            msg = (
                f"SHA-256 of {file} is {digest}, but {_MANIFEST} records {expected}: the file "
                "is truncated or altered. Save or copy the model again."
            )
            raise ValueError(msg)


def _save_heads(model, directory):
    """Write the science heads beside the autoencoder; return what was written."""
    heads = {}
    if model.posterior_estimator is not None:
        model.posterior_estimator.save(directory / "posterior.safetensors")
        heads["posterior"] = "posterior.safetensors"
    if model.morphology_classifier is not None:
        model.morphology_classifier.save(directory / "morphology.safetensors")
        heads["morphology"] = "morphology.safetensors"
    if model.latent_index is not None:
        model.latent_index.save(directory / "neighbours.npz")
        heads["neighbours"] = "neighbours.npz"
        if model.latent_index.catalog is not None:
            catalog = QTable(model.latent_index.catalog)
            catalog.meta.clear()
            catalog.write(directory / "neighbours_catalogue.fits")
            heads["neighbours_catalogue"] = "neighbours_catalogue.fits"
    if model.anomaly_scorer is not None:
        model.anomaly_scorer.save(directory / "anomaly.npz")
        heads["anomaly"] = "anomaly.npz"
    if model.typicality_scorer is not None:
        model.typicality_scorer.save(directory / "typicality.safetensors")
        heads["typicality"] = "typicality.safetensors"
    if model.posterior_calibration is not None:
        model.posterior_calibration.save(directory / "posterior_calibration.safetensors")
        heads["posterior_calibration"] = "posterior_calibration.safetensors"
    return heads


def _load_heads(path, manifest):
    heads = manifest.get("heads", {})
    out = {}
    if "posterior" in heads:
        from .posterior import PosteriorEstimator

        out["posterior_estimator"] = PosteriorEstimator.load(path / heads["posterior"])
    if "morphology" in heads:
        from .morphology import MorphologyClassifier

        out["morphology_classifier"] = MorphologyClassifier.load(path / heads["morphology"])
    if "neighbours" in heads:
        from .neighbours import LatentIndex

        catalog = None
        if "neighbours_catalogue" in heads:
            catalog = QTable.read(path / heads["neighbours_catalogue"])
        out["latent_index"] = LatentIndex.load(path / heads["neighbours"], catalog=catalog)
    if "anomaly" in heads:
        from .anomaly import AnomalyScorer

        out["anomaly_scorer"] = AnomalyScorer.load(path / heads["anomaly"])
    if "typicality" in heads:
        from .typicality import TypicalityScorer

        out["typicality_scorer"] = TypicalityScorer.load(path / heads["typicality"])
    if "posterior_calibration" in heads:
        from .posterior import IntervalCalibration

        out["posterior_calibration"] = IntervalCalibration.load(
            path / heads["posterior_calibration"])
    return out


def _carry_flag(latents, table, *, rows=None, name="atypical"):
    """Copy the ``atypical`` flag of an :meth:`Minuet.encode` table onto an output table.

    ``rows`` maps output rows to latent rows (the query of each neighbour);
    the column is called ``name``. Warns once per call when galaxies are flagged.
    """
    from .typicality import AtypicalWarning

    if not isinstance(latents, Table) or "atypical" not in latents.colnames:
        return table
    flag = np.asarray(latents["atypical"], dtype=bool)
    table[name] = flag if rows is None else flag[np.asarray(rows, dtype=int)]
    if flag.any():
        msg = (
            f"{int(flag.sum())} of {len(flag)} galaxies are flagged atypical of the training "
            "set (column 'atypical'): their answers are less reliable than the validation "
            "figures say. See the typicality section of the documentation."
        )
        warnings.warn(msg, AtypicalWarning, stacklevel=3)
    return table


def _expand_rows(table, good, n):
    """Spread a table computed for the rows ``good`` over ``n`` rows, NaN elsewhere."""
    if good.all():
        return table
    out = QTable(meta=table.meta)
    for name in table.colnames:
        column = table[name]
        values = np.asarray(getattr(column, "value", column))
        full = np.full((n, *values.shape[1:]), np.nan, dtype=float)
        full[good] = values
        out[name] = full * column.unit if getattr(column, "unit", None) is not None else full
    return out


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

    def __init__(self, autoencoder, *, stretch=None, name="custom", info=None,
                 posterior_estimator=None, morphology_classifier=None, latent_index=None,
                 anomaly_scorer=None, typicality_scorer=None, posterior_calibration=None):
        self.autoencoder = autoencoder.eval()
        #: `~minuet.posterior.PosteriorEstimator` behind :meth:`posterior`, or None.
        self.posterior_estimator = posterior_estimator
        #: `~minuet.morphology.MorphologyClassifier` behind :meth:`classify`, or None.
        self.morphology_classifier = morphology_classifier
        #: `~minuet.neighbours.LatentIndex` of the reference catalogue of :meth:`neighbours`.
        self.latent_index = latent_index
        #: `~minuet.anomaly.AnomalyScorer` behind :meth:`anomaly_score`, or None.
        self.anomaly_scorer = anomaly_scorer
        #: `~minuet.typicality.TypicalityScorer` behind :meth:`encode`'s typicality, or None.
        self.typicality_scorer = typicality_scorer
        #: `~minuet.posterior.IntervalCalibration` of :meth:`posterior`'s intervals, or None.
        self.posterior_calibration = posterior_calibration
        self.stretch = AsinhStretch() if stretch is None else stretch
        self.name = str(name)
        self.info = dict(info or {})
        self.sha256 = getattr(autoencoder, "record", {}).get("sha256")
        #: Directory the model was loaded from or last saved to (None if neither).
        self.path = None
        #: SHA-256 of that directory's manifest (its stretch, heads and file hashes).
        self.manifest_sha256 = None

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
            ``minuet models`` both kinds.

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
        ('minuet-sim', 5, 72)
        """
        if name not in cls.available():
            from .registry import download_model

            return cls.load(download_model(name))
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
        ['minuet-sim']
        """
        root = resources.files("minuet.data")
        return sorted(
            entry.name
            for entry in root.iterdir()
            if entry.is_dir() and (entry / _MANIFEST).is_file()
        )

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
        manifest_path = path / _MANIFEST
        if not manifest_path.is_file():
            msg = f"{path} is not a minuet model directory: {_MANIFEST} is missing."
            raise FileNotFoundError(msg)
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            msg = f"{manifest_path} is not valid JSON ({exc}); the model directory is damaged."
            raise ValueError(msg) from None
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            msg = f"{manifest_path} is not a minuet model manifest (expected format {_FORMAT!r})."
            raise ValueError(msg)
        _verify_files(path, manifest)
        manifest_sha256 = sha256(manifest_path)
        autoencoder = load_model(path / _AUTOENCODER)
        heads = _load_heads(path, manifest)
        try:
            stretch = AsinhStretch.from_dict(manifest["stretch"])
        except (KeyError, TypeError, ValueError) as exc:
            msg = (
                f"{manifest_path} has an invalid 'stretch' entry ({type(exc).__name__}: {exc}); "
                "the model directory is damaged. Save or copy the model again."
            )
            raise ValueError(msg) from None
        model = cls(
            autoencoder,
            stretch=stretch,
            name=manifest["name"],
            info=manifest.get("info", {}),
            **heads,
        )
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
        from ._weights import check_replaceable, replace_directory, sha256
        from .models import save_model

        path = Path(os.path.abspath(path))  # so that "." has a name and a parent
        check_replaceable(path, marker=_MANIFEST, overwrite=overwrite)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; a saved model is meant to be shared
        try:
            digest = save_model(self.autoencoder, tmp / _AUTOENCODER)
            heads = _save_heads(self, tmp)
            manifest = {
                "format": _FORMAT,
                "name": self.name,
                "minuet_version": __version__,
                "latent_dim": self.latent_dim,
                "stretch": self.stretch.to_dict(),
                "heads": heads,
                "files": {
                    entry.name: sha256(entry)
                    for entry in sorted(tmp.iterdir()) if entry.is_file()
                },
                "info": self.info,
            }
            (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
            for entry in tmp.iterdir():
                entry.chmod(0o644)
            manifest_sha256 = sha256(tmp / _MANIFEST)
            replace_directory(tmp, path, marker=_MANIFEST)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        self.sha256 = digest
        self.manifest_sha256 = manifest_sha256
        self.path = path
        return path

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
        return _latent_names(self.latent_dim)

    def __repr__(self):
        config = self.autoencoder.config
        enc, den, dif = config.encoder, config.denoiser, config.diffusion
        digest = f"{self.sha256[:12]}..." if self.sha256 else "unsaved"
        return (
            f"<Minuet {self.name!r}: {self.latent_dim} latents from {enc.image_size}x"
            f"{enc.image_size} g,r,z cutouts; encoder {enc.kind} ({enc.patch}px patches, "
            f"width {enc.width}, depth {enc.depth}); denoiser ({den.patch}px patches"
            f"{f' in {2 * den.patch}px windows' if den.overlap else ''}, width "
            f"{den.width}, depth {den.depth}); {dif.kind.upper()} sampler {dif.sampler} with "
            f"{dif.steps} steps; weights sha256 {digest}{self._heads_repr()}>"
        )

    def _heads_repr(self):
        parts = []
        if self.posterior_estimator is not None:
            names = ", ".join(self.posterior_estimator.config.properties)
            parts.append(f"posterior of {names}")
        if self.morphology_classifier is not None:
            parts.append(f"classifiers for {', '.join(self.morphology_classifier.labels)}")
        if self.latent_index is not None:
            parts.append(f"reference catalogue of {len(self.latent_index)} galaxies")
        if self.anomaly_scorer is not None:
            parts.append("anomaly scores")
        if self.typicality_scorer is not None:
            parts.append("typicality")
        if self.posterior_calibration is not None:
            parts.append("conformalised intervals")
        return "; " + "; ".join(parts) if parts else ""

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
            "minuet_version": __version__,
            "model": self.name,
            "weights_sha256": self.sha256,
            "manifest_sha256": self.manifest_sha256,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }

    # -- encoding -----------------------------------------------------------------------

    def encode_cutouts(self, cutouts, *, batch_size=256, progress=None, average_dihedral=False,
                       precision="auto"):
        """Encode standardised cutouts to a plain latent array.

        This is the array-level step behind :meth:`encode`, for pipelines
        that manage their own tables.

        Parameters
        ----------
        cutouts : `~minuet.cutouts.Cutouts`
            Standardised cutouts, as returned by `~minuet.cutouts.load_cutouts`.
        batch_size : int, optional
            Cutouts per network call.
        progress : bool or None, optional
            Show a progress bar; by default only for more than four batches.
        average_dihedral : bool, optional
            Average the latent over the 8 flips and quarter turns of each
            cutout: less sensitive to orientation, 8 times slower.
        precision : {'auto', 'bf16', 'fp32'}, optional
            Arithmetic of the network. ``'auto'``: bf16 autocast where the
            processor computes bf16 natively, fp32 elsewhere (see
            `~minuet.models.resolve_precision`). With the bundled model, bf16
            moves the latents of simulated galaxies by under 2% of their
            spread in every dimension.

        Returns
        -------
        latents : `~numpy.ndarray`
            Shape ``(N, latent_dim)``, float32; NaN for refused cutouts.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import load_cutouts
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> model = Minuet(DiffusionAutoencoder(config), name="untrained-tiny")
        >>> cutouts = load_cutouts(np.ones((2, 3, 24, 24)), size=model.image_size)
        >>> latents = model.encode_cutouts(cutouts)
        >>> latents.shape, latents.dtype
        ((2, 5), dtype('float32'))
        """
        import torch

        from .models import autocast

        precision = _resolved(precision)
        if not isinstance(cutouts, Cutouts):
            msg = f"encode_cutouts expects minuet.cutouts.Cutouts; got {type(cutouts).__name__}."
            raise TypeError(msg)
        if cutouts.size != self.image_size:
            msg = (
                f"the model takes {self.image_size}x{self.image_size} cutouts; got "
                f"{cutouts.size}x{cutouts.size}. Load them with size={self.image_size}."
            )
            raise ValueError(msg)
        batch_size = count(batch_size, "batch_size")
        latents = np.full((len(cutouts), self.latent_dim), np.nan, dtype=np.float32)
        rows = np.flatnonzero(cutouts.valid)
        starts = range(0, len(rows), batch_size)
        bar = tqdm(
            total=len(rows), desc="encoding", unit="galaxy",
            disable=not _show_progress(progress, len(starts)),
        )
        with torch.inference_mode(), autocast(precision), bar:
            for start in starts:
                index = rows[start:start + batch_size]
                x = torch.from_numpy(self.stretch.forward(cutouts.flux[index]))
                z = self.autoencoder.encode(x, average_dihedral=average_dihedral)
                latents[index] = z.numpy()
                bar.update(len(index))
        return latents

    def encode(self, data, *, batch_size=256, progress=None, average_dihedral=False,
               precision="auto", **cutout_options):
        """Encode cutouts to a table of latents.

        Parameters
        ----------
        data : array-like, `~astropy.nddata.NDData`, `~astropy.table.Table` or path-like
            Anything `~minuet.cutouts.load_cutouts` takes: arrays of shape
            ``(3, H, W)`` or ``(N, 3, H, W)`` in nanomaggies, NDData (unit,
            mask, uncertainty and ``meta['bands']`` are used), a Table with
            ``column=`` naming its image column, or a FITS or HDF5 file.
        batch_size : int, optional
            Cutouts per network call.
        progress : bool or None, optional
            Show a progress bar; by default only for more than four batches.
        average_dihedral : bool, optional
            Average each latent over the 8 flips and quarter turns.
        precision : {'auto', 'bf16', 'fp32'}, optional
            Arithmetic of the network, as for :meth:`encode_cutouts`; the
            precision used is recorded as ``meta['precision']``.
        **cutout_options
            Passed to `~minuet.cutouts.load_cutouts` (``bands``, ``invvar``,
            ``mask``, ``zeropoint``, ``column``, ``on_invalid``, ...). With
            ``on_invalid='flag'`` refused cutouts keep their row with NaN
            latents and the reason in ``flag``.

        Returns
        -------
        table : `~astropy.table.QTable`
            One row per input cutout, in input order: ``id``, the latent
            columns ``latent_0`` ... , ``valid``, ``flag`` and
            ``masked_fraction``. When the model has a typicality head (the
            bundled one does), also ``typicality``, ``typicality_latent``,
            ``typicality_image`` (conformal p-values in (0, 1]: the
            fraction of training-like galaxies less typical than this one)
            and the boolean ``atypical`` (``typicality`` below the head's
            threshold, 0.05: at most 5% of galaxies like the training set
            are flagged); see `~minuet.typicality.TypicalityScorer`. When
            ``data`` is a Table, its own columns come first. ``meta``
            records the package version, the model name, the weights'
            SHA-256 and the date, and says when typicality is unavailable.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> model = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")))
        >>> table = model.encode(np.ones((2, 3, 80, 80)))
        >>> table.colnames  # doctest: +NORMALIZE_WHITESPACE
        ['id', 'latent_0', 'latent_1', 'latent_2', 'latent_3', 'latent_4',
         'valid', 'flag', 'masked_fraction']
        """
        cutouts_options = {"size": self.image_size} | cutout_options
        cutouts = load_cutouts(data, **cutouts_options)
        latents = self.encode_cutouts(
            cutouts, batch_size=batch_size, progress=progress, average_dihedral=average_dihedral,
            precision=precision,
        )
        refuse_nonfinite_latents(latents, cutouts,
                                 on_invalid=cutouts_options.get("on_invalid", "raise"))
        if isinstance(data, Table):
            table = QTable(data, copy=False)
            taken = [name for name in self.latent_names if name in table.colnames]
            if taken:
                msg = (
                    f"the input table already has columns {taken}; rename or remove them "
                    "before encoding."
                )
                raise ValueError(msg)
        else:
            table = QTable()
            table["id"] = cutouts.ids
        for i, name in enumerate(self.latent_names):
            table[name] = latents[:, i]
        table["valid"] = cutouts.valid
        table["flag"] = np.asarray(cutouts.reason, dtype=str)
        table["masked_fraction"] = cutouts.mask.reshape(len(cutouts), -1).mean(axis=1)
        self._add_typicality(table, latents, cutouts)
        table.meta.update(self.provenance())
        table.meta["precision"] = _resolved(precision)
        return table

    def _add_typicality(self, table, latents, cutouts):
        if self.typicality_scorer is None:
            table.meta["typicality"] = (
                f"not available: the model {self.name!r} has no typicality head, so nothing "
                "says which galaxies are unlike its training set. Fit one with "
                "fit_heads(..., statistics=cutout_statistics(...)) or use Minuet.pretrained()."
            )
            return
        from .typicality import cutout_statistics

        stats = np.full((len(cutouts), 7), np.nan)
        rows = cutouts.valid
        if rows.any():
            stats[rows] = cutout_statistics(cutouts.flux[rows], cutouts.mask[rows])
        scores = self.typicality_scorer.score(latents, stats)
        for name in scores.colnames:
            table[name] = scores[name]
        table.meta["typicality_threshold"] = self.typicality_scorer.threshold

    # -- reconstruction -----------------------------------------------------------------

    def reconstruct(self, latents, *, n_samples=1, steps=None, seed=None, batch_size=64,
                    progress=None, precision="auto"):
        """Draw images in calibrated flux from latents.

        Each call draws fresh samples unless ``seed`` is given.

        Parameters
        ----------
        latents : `~astropy.table.Table` or array-like
            Output of :meth:`encode`, or an array of shape ``(N, latent_dim)``.
            Rows with NaN latents (refused cutouts) give NaN images.
        n_samples : int, optional
            Samples per galaxy. With more than one, the image is their
            per-pixel mean and the uncertainty their standard deviation.
        steps : int, optional
            Sampler steps; default the model's own.
        seed : int, optional
            Seed for reproducible draws.
        batch_size : int, optional
            Images per network call.
        progress : bool or None, optional
            Show a progress bar; by default only for more than four batches.
        precision : {'auto', 'bf16', 'fp32'}, optional
            Arithmetic of the denoiser network (the sampler itself always
            runs in fp32). ``'auto'``: bf16 autocast where the processor
            computes bf16 natively, fp32 elsewhere. Recorded as
            ``meta['precision']``.

        Returns
        -------
        images : `~astropy.nddata.NDData`
            Flux in nanomaggies, shape ``(N, 3, H, W)``, bands g, r, z; with
            `~astropy.nddata.StdDevUncertainty` when ``n_samples > 1``.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet import Minuet
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> model = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")))
        >>> images = model.reconstruct(np.zeros((2, 5)), n_samples=2, seed=1)
        >>> images.data.shape, images.unit
        ((2, 3, 72, 72), Unit("nanomaggy"))
        """
        import torch

        from .models import autocast

        precision = _resolved(precision)
        z = latent_array(latents, n_features=self.latent_dim, allow_nan=True).astype(np.float32)
        n_samples = count(n_samples, "n_samples")
        batch_size = count(batch_size, "batch_size")
        steps = None if steps is None else count(steps, "steps")
        seed = validate_seed(seed)
        seed = np.random.SeedSequence().entropy % SEED_LIMIT if seed is None else seed
        generator = torch.Generator().manual_seed(seed)
        good = np.flatnonzero(np.all(np.isfinite(z), axis=1))
        shape = (len(z), 3, self.image_size, self.image_size)
        mean = np.full(shape, np.nan, dtype=np.float32)
        spread = np.full(shape, np.nan, dtype=np.float32) if n_samples > 1 else None
        starts = range(0, len(good), batch_size)
        bar = tqdm(total=len(good) * n_samples, desc="reconstructing", unit="image",
                   disable=not _show_progress(progress, len(starts) * n_samples))
        with torch.inference_mode(), autocast(precision), bar:
            for start in starts:
                index = good[start:start + batch_size]
                latent = torch.from_numpy(z[index])
                draws = []
                for _ in range(n_samples):
                    x = self.autoencoder.decode(latent, steps=steps, generator=generator)
                    draws.append(self.stretch.inverse(x.numpy()))
                    bar.update(len(index))
                draws = np.stack(draws)
                mean[index] = draws.mean(axis=0)
                if spread is not None:
                    spread[index] = draws.std(axis=0, ddof=1)
        meta = self.provenance() | {
            "bands": ("g", "r", "z"),
            "n_samples": int(n_samples),
            "steps": int(steps or self.autoencoder.config.diffusion.steps),
            "seed": int(seed),
            "precision": precision,
        }
        uncertainty = None if spread is None else StdDevUncertainty(spread, unit=nanomaggy)
        return NDData(mean, unit=nanomaggy, uncertainty=uncertainty, meta=meta)

    # -- science from the latent ------------------------------------------------------

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
        from .anomaly import AnomalyScorer
        from .morphology import MorphologyClassifier
        from .neighbours import LatentIndex
        from .posterior import PosteriorEstimator

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
            properties = [p for p in ("redshift", "log_mstar", "log_sfr") if p in truth.colnames]
        if labels is None:
            labels = [name for name in ("merger", "spiral_arms", "edge_on", "round")
                      if name in truth.colnames]
        properties, labels = names(properties, "properties"), names(labels, "labels")
        if catalogue_columns is not None:
            catalogue_columns = names(catalogue_columns, "catalogue_columns")
        if properties:
            self.posterior_estimator = PosteriorEstimator(posterior_config).fit(
                z, truth, properties=list(properties), seed=seed, progress=progress
            )
            self.posterior_calibration = None  # made for the flow it replaces
        if labels:
            self.morphology_classifier = MorphologyClassifier().fit(
                z, truth, labels=list(labels), seed=seed
            )
        columns = (list(properties) + list(labels) if catalogue_columns is None
                   else list(catalogue_columns))
        self.latent_index = LatentIndex(z, catalog=QTable(truth)[columns] if columns else None)
        self.anomaly_scorer = AnomalyScorer().fit(z, seed=seed)
        if statistics is not None:
            from .typicality import TypicalityScorer

            self.typicality_scorer = TypicalityScorer().fit(z, statistics, seed=seed)
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

    def posterior(self, latents, *, properties=None, n_samples=1000, seed=None, samples=False,
                  calibrated=True):
        """Posteriors of physical properties given the latents.

        Parameters
        ----------
        latents : `~astropy.table.Table` or array-like
            Output of :meth:`encode`, or an ``(N, latent_dim)`` array.
        properties : sequence of str, optional
            Properties to report; default all that the flow was trained on
            (for the bundled model ``redshift``, ``log_mstar``, ``log_sfr``).
        n_samples : int, optional
            Posterior samples per galaxy behind the percentiles.
        seed : int, optional
            Seed for reproducible samples.
        samples : bool, optional
            Also return the samples as ``<property>_samples`` columns of shape
            ``(N, n_samples)``; wrap one in `astropy.uncertainty.Distribution`
            to propagate it. They are the flow's own draws: the conformal
            adjustment below changes the intervals only.
        calibrated : bool, optional
            Apply the model's `~minuet.posterior.IntervalCalibration` (from
            :meth:`recalibrate`, or bundled), if it has one, to the 68% and
            95% intervals. A calibration grouped by typicality reads the
            ``typicality`` column of ``latents`` (an :meth:`encode` table);
            without it the pooled adjustment is used.

        Returns
        -------
        table : `~astropy.table.QTable`
            Per property the median and the 68% and 95% central intervals
            (``_median``, ``_lo68``, ``_hi68``, ``_lo95``, ``_hi95``) with
            units; NaN rows for refused cutouts. With the ``atypical`` column
            of an :meth:`encode` table that flags any galaxy, the column is
            carried over and an `~minuet.typicality.AtypicalWarning` is issued.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet import Minuet
        >>> model = Minuet.pretrained()
        >>> table = model.posterior(np.zeros((2, 5)), properties=["redshift"],
        ...                         n_samples=200, seed=1)
        >>> table.colnames
        ['redshift_median', 'redshift_lo68', 'redshift_hi68', 'redshift_lo95', 'redshift_hi95']
        >>> bool(np.all(table["redshift_lo68"] <= table["redshift_hi68"]))
        True
        """
        estimator = self._head("posterior_estimator", "posterior()")
        known = list(estimator.config.properties)
        wanted = known if properties is None else names(properties, "properties")
        unknown = [name for name in wanted if name not in known]
        if unknown:
            msg = f"the posterior knows the properties {known}; {unknown} are not among them."
            raise ValueError(msg)
        z, good = self._rows(latents, what="sample posteriors for")
        summary = estimator.summary(z[good], n_samples=n_samples, seed=seed, samples=samples)
        keep = [name for name in summary.colnames if name.rsplit("_", 1)[0] in wanted]
        table = _expand_rows(summary[keep], good, len(z))
        calibration = self.posterior_calibration if calibrated else None
        if calibration is not None:
            groups = None
            if (calibration.grouped and isinstance(latents, Table)
                    and calibration.group_by in latents.colnames):
                groups = np.asarray(latents[calibration.group_by], dtype=float)
            table = calibration.apply(table, groups=groups)
        table.meta.update(self.provenance() | {"n_samples": int(n_samples)})
        return _carry_flag(latents, table)

    def recalibrate(self, latents, truth, *, n_samples=1000, seed=0, by_typicality=False,
                    edges=(0.05, 0.3)):
        """Return a copy of the model whose intervals are calibrated on a labelled population.

        A user's own labelled subset (for example spectroscopic redshifts
        for a few hundred galaxies of a survey) calibrates the 68% and 95%
        intervals of :meth:`posterior` for galaxies of that population, by
        conformalised quantile regression on the flow's intervals
        (`~minuet.posterior.IntervalCalibration`; Romano, Patterson & Candes
        2019). For new galaxies drawn like the labelled ones the intervals
        then cover the truth with the nominal probability, whatever the
        flow's calibration was; the coverage achieved with one set of ``n``
        labelled galaxies scatters about nominal by about
        ``sqrt(level (1 - level) / n)`` (2 points at 68% for 500 galaxies).
        The copy shares the networks and heads; its calibration is saved
        with it by :meth:`save`. Medians and samples are unchanged.

        Parameters
        ----------
        latents : `~astropy.table.Table` or array-like
            :meth:`encode` output (or latents) of the labelled galaxies.
        truth : `~astropy.table.Table`
            Their true properties, row by row; every property of the flow
            that it has is calibrated (NaN entries are left out).
        n_samples : int, optional
            Posterior samples per galaxy behind the intervals.
        seed : int, optional
            Seed of the samples.
        by_typicality : bool, optional
            Calibrate separately in groups of the ``typicality`` column of
            ``latents`` (a Mondrian conformal predictor), so that less
            typical galaxies get their own, usually wider, intervals. Needs a
            few hundred labelled galaxies per group.
        edges : sequence of float, optional
            Inner group edges in typicality when ``by_typicality``.

        Returns
        -------
        model : `Minuet`
            A shallow copy with ``posterior_calibration`` set.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet import Minuet
        >>> model = Minuet.pretrained()
        >>> rng = np.random.default_rng(0)
        >>> latents = rng.normal(size=(200, 5))
        >>> truth = Table({"redshift": rng.uniform(0.05, 0.6, 200)})
        >>> recalibrated = model.recalibrate(latents, truth, n_samples=200)
        >>> recalibrated.posterior_calibration.properties
        ['redshift']
        """
        import copy

        from .posterior import IntervalCalibration

        estimator = self._head("posterior_estimator", "recalibrate()")
        z, good = self._rows(latents)
        if not isinstance(truth, Table) or len(truth) != len(z):
            got = len(truth) if isinstance(truth, Table) else type(truth).__name__
            msg = (
                f"truth must be a Table with one row per latent ({len(z)}); got {got}. "
                "Pass the labelled galaxies' true properties, row by row."
            )
            raise ValueError(msg)
        groups = None
        if by_typicality:
            if not isinstance(latents, Table) or "typicality" not in latents.colnames:
                msg = (
                    "by_typicality=True needs the 'typicality' column of an encode() table "
                    "made by a model with a typicality head; pass that table as latents."
                )
                raise ValueError(msg)
            groups = np.asarray(latents["typicality"], dtype=float)[good]
        summary = estimator.summary(z[good], n_samples=n_samples, seed=seed)
        calibration = IntervalCalibration(edges=edges if by_typicality else None)
        calibration.fit(summary, Table(truth)[good], groups=groups)
        model = copy.copy(self)
        model.posterior_calibration = calibration
        model.path = None
        return model

    def classify(self, latents):
        """Probabilities of the morphology labels given the latents.

        Parameters
        ----------
        latents : `~astropy.table.Table` or array-like
            Output of :meth:`encode`, or an ``(N, latent_dim)`` array.

        Returns
        -------
        table : `~astropy.table.QTable`
            One ``p_<label>`` column per label (for the bundled model
            ``merger``, ``spiral_arms``, ``edge_on`` and ``round``); NaN rows
            for refused cutouts; ``atypical`` and a warning as in
            :meth:`posterior`.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet import Minuet
        >>> model = Minuet.pretrained()
        >>> table = model.classify(np.zeros((2, 5)))
        >>> table.colnames
        ['p_merger', 'p_spiral_arms', 'p_edge_on', 'p_round']
        >>> bool(np.all((table["p_round"] >= 0) & (table["p_round"] <= 1)))
        True
        """
        classifier = self._head("morphology_classifier", "classify()")
        z, good = self._rows(latents, what="classify")
        table = _expand_rows(QTable(classifier.predict_proba(z[good])), good, len(z))
        table.meta.update(self.provenance())
        return _carry_flag(latents, table)

    def neighbours(self, query, k=10, *, catalogue=None, metric="euclidean"):
        """Nearest neighbours of galaxies in latent space.

        Parameters
        ----------
        query : `~astropy.table.Table` or array-like
            Latents of the query galaxies (output of :meth:`encode` or an
            ``(M, latent_dim)`` array).
        k : int, optional
            Neighbours per query galaxy.
        catalogue : `~astropy.table.Table` or `~minuet.neighbours.LatentIndex`, optional
            Where to search: a table of latents (output of :meth:`encode`,
            other columns are returned with the neighbours) or a prepared
            index. Default: the model's reference catalogue.
        metric : {'euclidean', 'cosine'}, optional
            Distance used when ``catalogue`` is a table.

        Returns
        -------
        table : `~astropy.table.QTable`
            ``M * k`` rows: ``query_index``, ``rank``, ``catalog_index``,
            ``distance`` and the catalogue's own columns; with an
            :meth:`encode` table as ``query``, its ``atypical`` flag as
            ``query_atypical`` and a warning as in :meth:`posterior`.

        Examples
        --------
        In the bundled reference catalogue:

        >>> import numpy as np
        >>> from minuet import Minuet
        >>> model = Minuet.pretrained()
        >>> table = model.neighbours(np.zeros((1, 5)), k=3)
        >>> len(table), table.colnames[:4]
        (3, ['query_index', 'rank', 'catalog_index', 'distance'])

        In a table of latents of one's own:

        >>> from astropy.table import Table
        >>> catalogue = Table(np.eye(5), names=model.latent_names)
        >>> catalogue["name"] = ["a", "b", "c", "d", "e"]
        >>> model.neighbours([[0.0, 0.9, 0.1, 0.0, 0.0]], k=2, catalogue=catalogue)["name"].tolist()
        ['b', 'c']
        """
        from .neighbours import LatentIndex

        kept = None  # catalogue rows that entered the index, when some were refused
        if catalogue is None:
            index = self._head("latent_index", "neighbours() without a catalogue")
        elif isinstance(catalogue, LatentIndex):
            index = catalogue
        else:
            z_cat, good_cat = self._rows(catalogue, what="search")
            rows = QTable(catalogue)[good_cat] if isinstance(catalogue, Table) else None
            index = LatentIndex(z_cat[good_cat], metric=metric, catalog=rows)
            kept = None if good_cat.all() else np.flatnonzero(good_cat)
        z, good = self._rows(query)
        if not good.all():
            msg = (
                f"query rows {np.flatnonzero(~good).tolist()} have no latent (refused "
                "cutouts); drop them before searching."
            )
            raise ValueError(msg)
        table = index.query(z, k=k)
        if kept is not None:
            # refused catalogue rows never enter the index; report rows of the given table
            table["catalog_index"] = kept[np.asarray(table["catalog_index"])]
        table.meta.update(self.provenance())
        return _carry_flag(query, table, rows=table["query_index"], name="query_atypical")

    def anomaly_score(self, latents, *, reconstruction_error=None, weight=1.0):
        """How unusual each galaxy is, from its latent density and reconstruction error.

        Parameters
        ----------
        latents : `~astropy.table.Table` or array-like
            Output of :meth:`encode`, or an ``(N, latent_dim)`` array.
        reconstruction_error : array-like, optional
            Per-galaxy reconstruction error (for example ``chi2_red`` from
            `~minuet.evaluation.compare_reconstructions`).
        weight : float, optional
            Weight of the reconstruction term.

        Returns
        -------
        table : `~astropy.table.QTable`
            ``density_score``, ``reconstruction_score`` (with errors) and
            ``anomaly_score``: higher is more anomalous.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet import Minuet
        >>> model = Minuet.pretrained()
        >>> table = model.anomaly_score(np.array([[0.0] * 5, [40.0] * 5]))
        >>> table.colnames
        ['density_score', 'anomaly_score']
        >>> bool(table["anomaly_score"][1] > table["anomaly_score"][0])
        True
        >>> model.anomaly_score(np.zeros((1, 5)), reconstruction_error=[1.2]).colnames
        ['density_score', 'reconstruction_score', 'anomaly_score']
        """
        scorer = self._head("anomaly_scorer", "anomaly_score()")
        z, good = self._rows(latents, what="score")
        error = None
        if reconstruction_error is not None:
            error = scorer._errors(reconstruction_error, len(z), allow_nan=~good)[good]
        scores = scorer.score(z[good], reconstruction_error=error, weight=weight)
        table = _expand_rows(QTable(scores), good, len(z))
        table.meta.update(self.provenance())
        return table
