"""Encoding whole catalogues: streaming, resumable runs, Dask and LSDB."""

from ._dask import encode_dask_array, encode_files_dask
from ._lsdb import encode_lsdb
from ._resume import ResumeWarning
from ._stream import encode_catalogue

__all__ = [
    "ResumeWarning",
    "encode_catalogue",
    "encode_dask_array",
    "encode_files_dask",
    "encode_lsdb",
]
