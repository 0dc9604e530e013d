"""The Parquet twins: plain Arrow types, every writer option pinned, the same bytes every run."""

import io

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.core.errors import ContractError
from pipeline.formats import parquet


@pytest.fixture
def split(tiny_pixels, tiny_labels):
    """30 images (30, 8, 8) float32 k/16, labels (30,) int64, source rows (30,) int64 in shuffled order."""
    images = (tiny_pixels.astype(np.float32) / 16).reshape(-1, 8, 8)
    return (
        images,
        tiny_labels.astype(np.int64),
        np.random.RandomState(1).permutation(100)[:30].astype(np.int64),
    )


def test_round_trip_gives_back_the_arrays_in_order(split):
    back = parquet.read(parquet.parquet_bytes(*split))
    for key, array in zip(("images", "labels", "source_index"), split, strict=True):
        assert back[key].dtype == array.dtype and np.array_equal(back[key], array), key


def test_the_same_arrays_give_the_same_bytes_and_other_arrays_other_bytes(split):
    images, labels, index = split
    blob = parquet.parquet_bytes(images, labels, index)
    assert parquet.parquet_bytes(images.copy(), labels.copy(), index.copy()) == blob
    assert parquet.parquet_bytes(images, labels, index[::-1].copy()) != blob


def test_schema_is_plain_arrow_without_pandas_or_hugging_face_metadata(split):
    blob = parquet.parquet_bytes(*split)
    meta = pq.read_metadata(io.BytesIO(blob))
    assert meta.metadata is None or not {b"pandas", b"huggingface", b"ARROW:schema"} & set(
        meta.metadata
    )
    assert meta.num_row_groups == 1 and meta.num_rows == 30
    schema = pq.read_schema(io.BytesIO(blob))
    assert schema.names == ["image", "label", "source_index"]
    assert str(schema.field("image").type) == "list<element: list<element: float>>"
    assert str(schema.field("label").type) == "int64"
    column = meta.row_group(0).column(0)
    assert column.compression == "UNCOMPRESSED" and not column.is_stats_set


def test_pandas_reads_one_row_per_image(split):
    images, labels, index = split
    frame = pd.read_parquet(io.BytesIO(parquet.parquet_bytes(*split)))
    assert list(frame.columns) == ["image", "label", "source_index"] and len(frame) == 30
    assert np.array_equal(np.stack(frame["image"].map(np.stack)), images)
    assert np.array_equal(frame["label"].to_numpy(), labels)
    assert np.array_equal(frame["source_index"].to_numpy(), index)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda i, y, s: (i.astype(np.float64), y, s),
            r"images must be float32 \(N, 8, 8\), got float64",
        ),
        (
            lambda i, y, s: (i.reshape(-1, 4, 16), y, s),
            r"images must be float32 \(N, 8, 8\), got float32 \(30, 4, 16\)",
        ),
        (lambda i, y, s: (i, y.astype(np.int32), s), r"labels must be int64 \(30,\), got int32"),
        (lambda i, y, s: (i, y, s[:29]), r"source_index must be int64 \(30,\), got int64 \(29,\)"),
    ],
)
def test_bad_arrays_are_refused_with_what_was_found(split, change, message):
    with pytest.raises(ContractError, match=message):
        parquet.parquet_bytes(*change(*split))
