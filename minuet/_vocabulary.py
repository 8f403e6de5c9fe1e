"""The words and numbers every part of minuet shares.

Bands, photometric zero point, pixel scale, the default properties and
labels with their units, the columns of output tables and their dtypes, file
suffixes and the version recorded as provenance. Every module reads them
from here, so that one change reaches the whole package.
"""

import numpy as np

__all__ = []

#: The bands of a cutout, in the order of its first axis.
BANDS = ("g", "r", "z")

#: AB zero point of Legacy Surveys fluxes: ``m = 22.5 - 2.5 log10(flux / nanomaggy)``.
AB_ZEROPOINT = 22.5

#: Pixel scale of Legacy Surveys DR10 coadds, arcsec per pixel (Dey et al. 2019).
PIXEL_SCALE = 0.262

#: Physical properties the posterior learns by default, with their units.
PROPERTY_UNITS = {"redshift": "", "log_mstar": "dex(solMass)", "log_sfr": "dex(solMass / yr)"}
DEFAULT_PROPERTIES = tuple(PROPERTY_UNITS)

#: Boolean morphology labels the classifiers learn by default.
DEFAULT_LABELS = ("merger", "spiral_arms", "edge_on", "round")

#: Columns, after the latents, of every encoded table and their dtypes.
ENCODE_COLUMNS = {"valid": np.dtype(bool), "flag": np.dtype("U"),
                  "masked_fraction": np.dtype(np.float32)}

#: Columns that typicality adds to encoded tables (`minuet.typicality.TypicalityScorer.score`).
TYPICALITY_COLUMNS = ("typicality", "typicality_latent", "typicality_image", "atypical")

#: File suffixes of minuet's files.
WEIGHTS_SUFFIX = ".safetensors"
RECORD_SUFFIX = ".json"
TABLE_SUFFIX = ".fits"
MANIFEST = "minuet.json"

#: The model `~minuet.Minuet.pretrained` loads by default.
DEFAULT_MODEL = "minuet-sim-2"
#: Bundled models kept loadable by name for one release after a successor
#: replaced them, and their successors.
SUPERSEDED = {"minuet-sim": "minuet-sim-2"}


#: The 8-character FITS keyword of each provenance entry of an output's meta.
FITS_KEYWORDS = {"minuet_version": "MINUETV", "model": "MODEL", "precision": "PRECISN",
                 "compile": "COMPILED", "weights_sha256": "WSHA256", "date": "DATE",
                 "typicality_threshold": "TYPTHRSH",
                 "typicality_calibration_galaxies": "TYPNCAL"}


def fits_keywords(meta):
    """An output's provenance as 8-character FITS keywords; its sources as COMMENT cards.

    Examples
    --------
    >>> from minuet._vocabulary import fits_keywords
    >>> fits_keywords({"model": "minuet-sim", "sources": ["a.fits"]})["COMMENT"]
    ['source 0: a.fits']
    """
    return {
        **{keyword: meta.get(name) for name, keyword in FITS_KEYWORDS.items()},
        "COMMENT": [f"source {i}: {path}" for i, path in enumerate(meta.get("sources", []))],
    }


def meta_value(meta, name, default=None):
    """A provenance entry of a table's meta, under its own name or its FITS keyword.

    Examples
    --------
    >>> from minuet._vocabulary import meta_value
    >>> meta_value({"MODEL": "minuet-sim-2"}, "model"), meta_value({}, "model", "none")
    ('minuet-sim-2', 'none')
    """
    if name in meta:
        return meta[name]
    return meta.get(FITS_KEYWORDS.get(name), default)


def encoded_columns(latents, valid, reason, mask):
    """The columns of every encoded table, in order and with their dtypes.

    One builder for `~minuet.Minuet.encode`, the streamed catalogues and the
    LSDB path, so that all of them write the same schema.

    Parameters
    ----------
    latents : array-like
        ``(N, D)`` latents (NaN for refused cutouts).
    valid, reason : array-like
        Per cutout: whether it was accepted, and why not.
    mask : array-like
        ``(N, ...)`` boolean masks of the cutouts' pixels.

    Returns
    -------
    columns : dict of `~numpy.ndarray`
        ``latent_0`` ... then the `ENCODE_COLUMNS`.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet._vocabulary import encoded_columns
    >>> columns = encoded_columns(np.zeros((2, 2)), [True, False], ["", "empty"],
    ...                           np.array([[False, True], [True, True]]))
    >>> list(columns), columns["masked_fraction"].tolist(), columns["masked_fraction"].dtype
    (['latent_0', 'latent_1', 'valid', 'flag', 'masked_fraction'], [0.5, 1.0], dtype('float32'))
    """
    latents = np.asarray(latents, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    mask = mask.reshape(len(latents), -1) if mask.size else np.zeros((len(latents), 1), bool)
    pixels = mask.shape[1]
    columns = {name: latents[:, i] for i, name in enumerate(latent_names(latents.shape[1]))}
    columns["valid"] = np.asarray(valid, dtype=ENCODE_COLUMNS["valid"])
    columns["flag"] = np.asarray(reason, dtype=str)
    # most batches have no masked pixel; where some do, summing the flags' bytes is
    # twice as fast as counting along an axis
    counts = (mask.view(np.uint8).sum(axis=1, dtype=np.uint32) if mask.any()
              else np.zeros(len(mask), dtype=np.uint32))
    columns["masked_fraction"] = (counts / pixels).astype(ENCODE_COLUMNS["masked_fraction"])
    return columns


def latent_names(dim):
    """Column names of a ``dim``-dimensional latent: ``latent_0``, ``latent_1``, ...

    Examples
    --------
    >>> from minuet._vocabulary import latent_names
    >>> latent_names(2)
    ['latent_0', 'latent_1']
    """
    return [f"latent_{i}" for i in range(int(dim))]


def version():
    """The installed version of minuet, recorded in every file and output.

    Examples
    --------
    >>> from minuet._vocabulary import version
    >>> isinstance(version(), str)
    True
    """
    try:
        from ._version import version as found
    except ImportError:  # pragma: no cover - only when run from a bare source tree
        found = "0.0.0"
    return found
