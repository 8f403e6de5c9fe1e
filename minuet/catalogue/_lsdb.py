"""Latents for the rows of an LSDB / HATS catalogue, partition by partition.

HATS catalogues (Hierarchical Adaptive Tiling Scheme) split the sky into
HEALPix pixels of similar row counts; LSDB opens them lazily as Dask
collections. :func:`encode_lsdb` adds the latent columns to such a catalogue
without reading it whole: each partition's positions are turned into cutouts
(by the Legacy Surveys cutout service, or by a function of the user's), which
the model encodes on the worker that holds the partition.
"""

from pathlib import Path

import numpy as np
from astropy.utils.decorators import deprecated_renamed_argument

from .._config import RENAMED_SINCE
from .._vocabulary import ENCODE_COLUMNS, TYPICALITY_COLUMNS, encoded_columns
from ._dask import _model_reference, _worker_model

__all__ = ["encode_lsdb"]

#: Columns added beside the latents, prefixed so as not to clash with the catalogue's.
_PREFIX = "minuet_"
VALID_COLUMN, FLAG_COLUMN, MASKED_COLUMN = (_PREFIX + name for name in ENCODE_COLUMNS)


def _encode_partition(frame, *, reference, ra_column, dec_column, cutouts, batch_size,
                      average_dihedral, precision, fetch_options, typicality=False):
    """The partition with the latent, validity, flag and masked-fraction columns added.

    With ``typicality``, also the typicality columns of `~minuet.Minuet.encode`,
    under their own names so that the heads find them.
    """
    import pandas as pd
    from astropy.table import Table

    from ..cutouts import fetch_legacy_cutouts

    model = _worker_model(*reference)
    n = len(frame)
    latents = np.full((n, model.latent_dim), np.nan, dtype=np.float32)
    valid, flag, mask = np.zeros(n, dtype=bool), np.full(n, ""), np.zeros((n, 1), dtype=bool)
    scores = None
    if n:
        positions = Table({"ra": np.asarray(frame[ra_column], dtype=float),
                           "dec": np.asarray(frame[dec_column], dtype=float)})
        if cutouts is None:
            defaults = {"size": model.image_size, "on_invalid": "flag", "progress": False}
            batch = fetch_legacy_cutouts(positions, **(defaults | fetch_options))
        else:
            batch = cutouts(positions)
        if len(batch) != n:
            msg = (f"the cutout function returned {len(batch)} cutouts for a partition of {n} "
                   "rows; it must return one cutout per row, in order (flag the ones it "
                   "cannot make).")
            raise ValueError(msg)
        latents = model.encode_cutouts(batch, batch_size=batch_size, progress=False,
                                       average_dihedral=average_dihedral, precision=precision)
        valid, flag, mask = batch.valid, batch.reason, batch.mask
        if typicality:
            scores = model.typicality_scorer.score_cutouts(latents, batch)
    out = frame.copy()
    for name, column in encoded_columns(latents, valid, flag, mask).items():
        name = name if name in model.latent_names else _PREFIX + name
        out[name] = pd.Series(column, index=frame.index, dtype=str if name == FLAG_COLUMN
                              else column.dtype)
    if typicality:
        for name in TYPICALITY_COLUMNS:
            dtype = bool if name == "atypical" else float
            column = (np.zeros(0, dtype=dtype) if scores is None
                      else np.asarray(scores[name], dtype=dtype))
            out[name] = pd.Series(column, index=frame.index, dtype=dtype)
    return out


@deprecated_renamed_argument("catalog", "catalogue", RENAMED_SINCE)
def encode_lsdb(catalogue, *, model, cutouts=None, batch_size=256, average_dihedral=False,
                precision="auto", typicality=True, **fetch_options):
    """Add minuet's latents to every row of an LSDB catalogue, lazily.

    Parameters
    ----------
    catalogue : ``lsdb.Catalog``, str or path-like
        A catalogue of galaxy positions, or the path of a HATS catalogue
        (opened with ``lsdb.open_catalog``). Its RA and Dec columns are those
        its HATS properties name. ``catalog`` is its deprecated name.
    model : `~minuet.Minuet`, str or path-like
        A saved model (each Dask worker reads its directory once), a model
        directory, or the name of a bundled model.
    cutouts : callable, optional
        ``cutouts(positions) -> Cutouts``: makes one cutout per row of an
        `~astropy.table.Table` with ``ra`` and ``dec`` columns in degrees, in
        order, flagging (not dropping) the rows it cannot make; for example
        one that reads a local cutout store. It must be picklable to run on a
        cluster. Default: download each cutout from the Legacy Surveys
        viewer with `~minuet.cutouts.fetch_legacy_cutouts`, failed rows flagged.
    batch_size : int, optional
        Cutouts per network call.
    average_dihedral : bool, optional
        Average each latent over the 8 flips and quarter turns.
    precision : {'auto', 'bf16', 'fp32'}, optional
        Arithmetic of the network, as for `~minuet.Minuet.encode_cutouts`;
        ``'auto'`` is resolved here, so that every worker computes alike.
    typicality : bool, optional
        Add the typicality columns of `~minuet.Minuet.encode`
        (``typicality``, ``typicality_latent``, ``typicality_image`` and the
        flag ``atypical``), which say which galaxies are unlike the training
        set, under those names so that the heads warn for them; ignored for
        a model without a typicality head. Measuring them costs about a
        third of the encoding time.
    **fetch_options
        Passed to `~minuet.cutouts.fetch_legacy_cutouts` (``layer``,
        ``pixscale``, ``cache``, ``timeout``, ...) when ``cutouts`` is not given.

    Returns
    -------
    catalogue : ``lsdb.Catalog``
        The same partitions with the latent columns (``model.latent_names``),
        ``minuet_valid``, ``minuet_flag`` (why a row was refused) and
        ``minuet_masked_fraction`` added, and with ``typicality`` the
        typicality columns (NaN and ``atypical`` False for refused rows);
        nothing is computed until ``.compute()`` or ``.write_catalog(path)``.
        Rows whose cutout was refused keep NaN latents.

    Raises
    ------
    ImportError
        If LSDB is not installed (``pip install "minuet[lsdb]"``).
    ValueError
        If the catalogue already has a column of the names to be added, or
        ``fetch_options`` are given together with ``cutouts``.

    Examples
    --------
    A HATS catalogue of positions, its latents written as a new HATS
    catalogue (nothing is read or downloaded before ``write_catalog``)::

        import lsdb
        from minuet import Minuet
        from minuet.catalogue import encode_lsdb

        model = Minuet.pretrained()
        galaxies = lsdb.open_catalog("hats/my_galaxies", columns=["objid", "ra", "dec"])
        encode_lsdb(galaxies, model=model, layer="ls-dr10").write_catalog("hats/my_latents")
    """
    try:
        import lsdb
    except ImportError as exc:
        msg = "encode_lsdb needs LSDB; install it with pip install 'minuet[lsdb]'."
        raise ImportError(msg) from exc
    if isinstance(catalogue, (str, Path)):
        catalogue = lsdb.open_catalog(catalogue)
    if cutouts is not None and fetch_options:
        msg = (f"options {sorted(fetch_options)} are for the Legacy Surveys download; with a "
               "cutouts function, set them in that function instead.")
        raise ValueError(msg)
    if cutouts is not None and not callable(cutouts):
        msg = f"cutouts must be a function of a positions table; got {type(cutouts)!r}."
        raise TypeError(msg)
    from ..models import resolve_precision

    precision = resolve_precision(precision)
    reference = _model_reference(model)
    driver_model = _worker_model(*reference)
    typicality = bool(typicality) and driver_model.typicality_scorer is not None
    added = [*driver_model.latent_names, VALID_COLUMN, FLAG_COLUMN, MASKED_COLUMN]
    if typicality:
        added += TYPICALITY_COLUMNS
    clash = sorted(set(added) & set(catalogue.columns))
    if clash:
        msg = (f"the catalogue already has the columns {clash}; select the columns to keep "
               "(catalogue[[...]]) or rename them before encoding.")
        raise ValueError(msg)
    info = catalogue.hc_structure.catalog_info
    return catalogue.map_partitions(
        _encode_partition,
        reference=reference,
        ra_column=info.ra_column,
        dec_column=info.dec_column,
        cutouts=cutouts,
        batch_size=batch_size,
        average_dihedral=average_dihedral,
        precision=precision,
        fetch_options=fetch_options,
        typicality=typicality,
    )
