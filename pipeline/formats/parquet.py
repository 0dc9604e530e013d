"""The Parquet twins of the published splits: one row per image, in the pickles' order.

Columns: ``image`` (8 lists of 8 float32), ``label`` (int64) and ``source_index`` (int64, the
image's row in scikit-learn's ``digits.csv.gz``). Plain Arrow types only, no pandas or Hugging
Face metadata: pandas, Polars, DuckDB, Hugging Face ``datasets`` and ``mlcroissant`` all read
them as they are. Every writer option is pinned, so the same arrays and the same pyarrow give
the same bytes; the footer names the pyarrow version that wrote it ("created_by"), so pyarrow's
pin in ``requirements.lock`` is one of those that decide these files' bytes.

pyarrow is imported inside the functions: only the pickle stage needs it (it costs about
0.1 s to import), and every other stage imports this package.
"""

from __future__ import annotations

import io

import numpy as np

from pipeline.core import config
from pipeline.core.errors import ContractError

COLUMNS = ("image", "label", "source_index")
# Every option of pyarrow.parquet.write_table that can change the bytes, set explicitly rather than
# left to defaults that may move between pyarrow releases. One row group, one data page per column
# (TinyDigits is far below these sizes), dictionary encoding (17 distinct pixel values), no
# compression codec whose output could change with its library's version, no statistics.
WRITER_OPTIONS = dict(
    version="2.6",
    data_page_version="1.0",
    compression="none",
    use_dictionary=True,
    write_statistics=False,
    write_page_index=False,
    write_page_checksum=False,
    # no "ARROW:schema" key: the Parquet schema alone describes the columns
    store_schema=False,
    use_compliant_nested_type=True,
    use_byte_stream_split=False,
    data_page_size=1 << 20,
    dictionary_pagesize_limit=1 << 20,
    write_batch_size=1024,
)
ROW_GROUP_SIZE = 1 << 20


def table(images: np.ndarray, labels: np.ndarray, source_index: np.ndarray):
    """A ``pyarrow.Table`` of ``images`` (N, 8, 8) float32, ``labels`` (N,) int64 and
    ``source_index`` (N,) int64, with columns :data:`COLUMNS`; ``image`` is list<list<float32>>."""
    import pyarrow as pa

    n = len(images)
    if images.dtype != np.float32 or images.ndim != 3 or images.shape[1:] != config.IMAGE_SHAPE:
        raise ContractError(f"images must be float32 (N, 8, 8), got {images.dtype} {images.shape}")
    for name, column in (("labels", labels), ("source_index", source_index)):
        if column.dtype != np.int64 or column.shape != (n,):
            raise ContractError(f"{name} must be int64 ({n},), got {column.dtype} {column.shape}")
    rows, cols = config.IMAGE_SHAPE
    pixels = _arrow(images.reshape(-1), pa.float32())
    image_rows = pa.ListArray.from_arrays(
        _arrow(np.arange(0, n * rows * cols + 1, cols, dtype=np.int32), pa.int32()), pixels
    )
    image = pa.ListArray.from_arrays(
        _arrow(np.arange(0, n * rows + 1, rows, dtype=np.int32), pa.int32()), image_rows
    )
    columns = [image, _arrow(labels, pa.int64()), _arrow(source_index, pa.int64())]
    return pa.Table.from_arrays(columns, names=list(COLUMNS))


def _arrow(array: np.ndarray, arrow_type):
    """A 1-D array as an Arrow array of ``arrow_type`` (same width), from its buffer. Not
    ``pyarrow.array``: that imports pandas to check the input's type (measured: ~0.5 s idle)."""
    import pyarrow as pa

    array = np.ascontiguousarray(array)
    return pa.Array.from_buffers(arrow_type, len(array), [None, pa.py_buffer(array)])


def parquet_bytes(images: np.ndarray, labels: np.ndarray, source_index: np.ndarray) -> bytes:
    """The published Parquet file of one split (see :func:`table`), written with :data:`WRITER_OPTIONS`."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(
        table(images, labels, source_index), sink, row_group_size=ROW_GROUP_SIZE, **WRITER_OPTIONS
    )
    return sink.getvalue()


def read(data: bytes) -> dict[str, np.ndarray]:
    """``{'images': (N, 8, 8) float32, 'labels': (N,) int64, 'source_index': (N,) int64}`` from
    the bytes of a file :func:`parquet_bytes` wrote."""
    t = _table(data)
    pixels = t.column("image").combine_chunks().flatten().flatten().to_numpy()
    return {
        "images": pixels.reshape(t.num_rows, *config.IMAGE_SHAPE),
        "labels": t.column("label").to_numpy(),
        "source_index": t.column("source_index").to_numpy(),
    }


def arrow_nbytes(data: bytes) -> int:
    """Bytes the file's table takes in memory as Arrow (``pyarrow.Table.nbytes``), which Hugging Face
    ``datasets`` reports as a split's ``num_bytes``: pyarrow's own count, buffers and bitmaps included."""
    return _table(data).nbytes


def _table(data: bytes):
    import pyarrow.parquet as pq

    # ParquetFile, not read_table: read_table imports pyarrow.dataset, which took the benchmark
    # stage (the card's num_bytes) from 193 to 271 MiB peak; this reads the same table in 74 MiB.
    return pq.ParquetFile(io.BytesIO(data)).read()
