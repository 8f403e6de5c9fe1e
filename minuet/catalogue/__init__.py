"""Encoding whole catalogues: streaming, resumable runs, Dask and LSDB."""

from ._dask import encode_dask_array, encode_files_dask
from ._lsdb import encode_lsdb
from ._stream import encode_catalogue

__all__ = ["encode_catalogue", "encode_dask_array", "encode_files_dask", "encode_lsdb"]
