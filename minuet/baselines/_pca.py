"""Principal component analysis of stretched cutouts: the linear baseline."""

import json
from pathlib import Path

import numpy as np

from .._weights import load_fitted, save_fitted
from ..cutouts import AsinhStretch, nanomaggy
from ._data import check_flux, is_files, read_flux

__all__ = ["PCABaseline"]

_KIND = "minuet-pca-baseline-2"
_LEGACY_FORMAT = "minuet-pca-baseline-1"  # an .npz file with its settings in an array


class PCABaseline:
    """Linear compression of g, r, z cutouts to a few principal components.

    The cutouts are mapped to network input with an invertible
    `~minuet.cutouts.AsinhStretch`, flattened and projected onto the leading
    principal components (`sklearn.decomposition.PCA`); reconstructions are
    mapped back to flux with the inverse stretch. At the same number of
    components as minuet's latent this is the best any *linear* code can do
    in mean squared error of the stretched pixels.

    Parameters
    ----------
    n_components : int
        Size of the code (5, like minuet's latent, by default).
    stretch : `~minuet.cutouts.AsinhStretch`, optional
        Flux to network-input mapping; the default stretch when omitted.
    seed : int
        Seed of the randomised SVD used for large training sets.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.baselines import PCABaseline
    >>> flux = np.random.default_rng(0).normal(0, 0.01, (20, 3, 8, 8))
    >>> pca = PCABaseline(n_components=3).fit(flux)
    >>> pca.encode(flux).shape
    (20, 3)
    >>> pca.reconstruct(pca.encode(flux)).unit
    Unit("nanomaggy")
    """

    def __init__(self, n_components=5, *, stretch=None, seed=0):
        if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer) \
                or n_components < 1:
            msg = f"n_components must be a positive integer; received {n_components!r}."
            raise ValueError(msg)
        self.n_components = int(n_components)
        self.stretch = AsinhStretch() if stretch is None else stretch
        self.seed = int(seed)
        self.mean_ = self.components_ = self.explained_variance_ratio_ = None
        self.image_shape = None
        self.sha256 = None

    def _check_fitted(self):
        if self.components_ is None:
            msg = "this PCABaseline is not fitted yet; call fit(flux) or PCABaseline.load(path)."
            raise RuntimeError(msg)

    def fit(self, flux, *, max_images=None):
        """Fit the principal components of stretched cutouts.

        Parameters
        ----------
        flux : array-like, `~astropy.units.Quantity`, str or list of str
            g, r, z flux ``(N, 3, H, W)`` in nanomaggies, or HDF5 files of
            the simulator (their ``images`` dataset).
        max_images : int, optional
            Use at most the first this many cutouts.

        Returns
        -------
        self : `PCABaseline`

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.baselines import PCABaseline
        >>> flux = np.random.default_rng(0).normal(0, 0.01, (20, 3, 8, 8))
        >>> pca = PCABaseline(n_components=3).fit(flux, max_images=10)
        >>> pca.components_.shape
        (3, 192)
        """
        from sklearn.decomposition import PCA

        if is_files(flux):
            paths = [flux] if not isinstance(flux, list | tuple) else flux
            flux = np.concatenate([read_flux(p, stop=max_images)[0] for p in paths])
        flux = check_flux(flux)[:max_images]
        if len(flux) <= self.n_components:
            msg = (f"fitting {self.n_components} components needs more than "
                   f"{self.n_components} cutouts; received {len(flux)}.")
            raise ValueError(msg)
        x = self.stretch.forward(flux).reshape(len(flux), -1).astype(np.float64)
        pca = PCA(n_components=self.n_components, random_state=self.seed).fit(x)
        # in the memory layout they are saved and loaded in, so that a loaded copy
        # computes bit for bit the same
        self.mean_ = np.ascontiguousarray(pca.mean_)
        self.components_ = np.ascontiguousarray(pca.components_)
        self.explained_variance_ratio_ = np.ascontiguousarray(pca.explained_variance_ratio_)
        self.image_shape = flux.shape[1:]
        return self

    def encode(self, flux):
        """Return the ``(N, n_components)`` principal-component coefficients of ``flux``.

        Parameters
        ----------
        flux : array-like or `~astropy.units.Quantity`
            g, r, z flux ``(N, 3, H, W)`` in nanomaggies, of the fitted size.

        Returns
        -------
        latents : `~numpy.ndarray`
            Shape ``(N, n_components)``.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.baselines import PCABaseline
        >>> flux = np.random.default_rng(0).normal(0, 0.01, (20, 3, 8, 8))
        >>> pca = PCABaseline(n_components=3).fit(flux)
        >>> pca.encode(flux[:4]).shape
        (4, 3)
        """
        self._check_fitted()
        flux = check_flux(flux, size=self.image_shape[-1])
        x = self.stretch.forward(flux).reshape(len(flux), -1).astype(np.float64)
        return (x - self.mean_) @ self.components_.T

    def reconstruct(self, latents):
        """Return the cutouts ``(N, 3, H, W)`` of coefficients ``latents``, in nanomaggies.

        The stretched image is the mean plus the components weighted by the
        coefficients, mapped back to flux with the inverse stretch.

        Parameters
        ----------
        latents : array-like
            Shape ``(N, n_components)``, as returned by `encode`.

        Returns
        -------
        flux : `~astropy.units.Quantity`
            Shape ``(N, 3, H, W)``, in nanomaggies.

        Examples
        --------
        The zero coefficients give the mean stretched image:

        >>> import numpy as np
        >>> from minuet.baselines import PCABaseline
        >>> flux = np.random.default_rng(0).normal(0, 0.01, (20, 3, 8, 8))
        >>> pca = PCABaseline(n_components=3).fit(flux)
        >>> images = pca.reconstruct(np.zeros((1, 3)))
        >>> images.shape, images.unit
        ((1, 3, 8, 8), Unit("nanomaggy"))
        """
        self._check_fitted()
        latents = np.asarray(latents, dtype=np.float64)
        if latents.ndim != 2 or latents.shape[1] != self.n_components:
            msg = (f"latents must be shaped (N, {self.n_components}); received "
                   f"{latents.shape}. Pass the output of encode().")
            raise ValueError(msg)
        if not np.isfinite(latents).all():
            msg = "latents contain NaN or infinite values; pass the output of encode()."
            raise ValueError(msg)
        x = (latents @ self.components_ + self.mean_).reshape(len(latents), *self.image_shape)
        return self.stretch.inverse(x) * nanomaggy

    def save(self, path):
        """Write the fitted components in minuet's one format (safetensors and a JSON record).

        Parameters
        ----------
        path : str or path-like
            The ``.safetensors`` path or its stem.

        Returns
        -------
        path : `pathlib.Path`

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from minuet.baselines import PCABaseline
        >>> flux = np.random.default_rng(0).normal(0, 0.01, (20, 3, 8, 8))
        >>> pca = PCABaseline(n_components=3).fit(flux)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pca.save(f"{tmp}/pca")
        ...     again = PCABaseline.load(path)
        >>> path.name, bool(np.allclose(again.encode(flux), pca.encode(flux)))
        ('pca.safetensors', True)
        """
        self._check_fitted()
        config = {"stretch": self.stretch.to_dict(), "seed": self.seed,
                  "image_shape": list(self.image_shape)}
        tensors = {"mean": self.mean_, "components": self.components_,
                   "explained_variance_ratio": self.explained_variance_ratio_}
        path, self.sha256 = save_fitted(path, _KIND, tensors, config)
        return path

    @classmethod
    def load(cls, path):
        """Read a baseline written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            The ``.safetensors`` file (or its ``.json`` record); the ``.npz``
            file of an older version is read too.

        Returns
        -------
        baseline : `PCABaseline`

        Examples
        --------
        See :meth:`save`.
        """
        if Path(path).suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta"])) if "meta" in f else {}
                if meta.get("format") != _LEGACY_FORMAT:
                    msg = (f"{path} is not a PCABaseline file (expected format "
                           f"{_LEGACY_FORMAT!r}).")
                    raise ValueError(msg)
                arrays = {k: f[k] for k in ("mean", "components", "explained_variance_ratio")}
        else:
            arrays, meta, _ = load_fitted(path, _KIND)
        self = cls(len(arrays["components"]), stretch=AsinhStretch.from_dict(meta["stretch"]),
                   seed=meta["seed"])
        self.mean_, self.components_ = arrays["mean"], arrays["components"]
        self.explained_variance_ratio_ = arrays["explained_variance_ratio"]
        self.image_shape = tuple(meta["image_shape"])
        return self
