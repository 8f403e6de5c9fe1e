"""Encoding whole catalogues: streaming, resumable runs and Dask."""

from ._dask import encode_dask_array, encode_files_dask
from ._stream import encode_catalogue

__all__ = ["encode_catalogue", "encode_dask_array", "encode_files_dask"]
