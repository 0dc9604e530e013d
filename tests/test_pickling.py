"""pipeline.pickling: the published pickle format, and the v1 bytes the chained stages give."""

import hashlib
import pickle
from dataclasses import replace

import numpy as np
import pytest

from pipeline import algorithm, pickling
from pipeline.core import params
from pipeline.core.errors import ContractError
from scripts.oracle import reference_pickles
from tests.helpers import RAW_PARAMS, V1


def build(source, train_counts, test_counts, seed):
    """The pipeline's pure functions chained in memory: source -> {split: (images, labels)}."""
    pixels, labels = source
    images = algorithm.normalize(pixels)
    train, test = algorithm.draw(labels, train_counts, test_counts, seed)
    return {
        "train": algorithm.gather(images, labels, train),
        "test": algorithm.gather(images, labels, test),
    }


@pytest.mark.parametrize(
    "train_counts, test_counts, seed",
    [
        ([100] * 10, [20] * 10, 42),
        ([50] * 10, [10] * 10, 42),
        ([3, 0, 7, 100, 174, 1, 5, 9, 0, 2], [0, 4, 1, 1, 0, 30, 2, 2, 5, 9], 2**32 - 1),
        ([1] * 10, [1] * 10, 0),
    ],
)
def test_pipeline_functions_match_the_reference_oracle(source, train_counts, test_counts, seed):
    ours = build(source, train_counts, test_counts, seed)
    want = reference_pickles(train_counts, test_counts, seed)
    for name in ("train", "test"):
        assert pickling.pickle_bytes(*ours[name]) == want[name], name


def test_default_params_give_the_published_v1_bytes(source):
    ours = build(source, [100] * 10, [20] * 10, 42)
    for name, digest in V1.items():
        assert hashlib.sha256(pickling.pickle_bytes(*ours[name])).hexdigest() == digest


def test_pickle_bytes_is_the_published_format(tiny_pixels, tiny_labels):
    images = algorithm.normalize(tiny_pixels)
    blob = pickling.pickle_bytes(images, tiny_labels)
    # protocol 4
    assert blob[:2] == b"\x80\x04"
    record = pickle.loads(blob)
    assert set(record) == {"images", "labels"}
    assert record["images"].dtype == np.float32 and record["labels"].dtype == np.int64


def test_pickle_bytes_refuses_anything_but_the_published_dtypes_and_shapes(
    tiny_pixels, tiny_labels
):
    images = algorithm.normalize(tiny_pixels)
    with pytest.raises(
        ContractError, match=r"images must be float32 \(N, 8, 8\), got float64 \(30, 8, 8\)"
    ):
        pickling.pickle_bytes(images.astype(np.float64), tiny_labels)
    with pytest.raises(
        ContractError, match=r"images must be float32 \(N, 8, 8\), got float32 \(30, 64\)"
    ):
        pickling.pickle_bytes(images.reshape(30, 64), tiny_labels)
    # three dimensions, but not 8x8
    with pytest.raises(
        ContractError, match=r"images must be float32 \(N, 8, 8\), got float32 \(30, 4, 16\)"
    ):
        pickling.pickle_bytes(images.reshape(30, 4, 16), tiny_labels)
    with pytest.raises(ContractError, match=r"labels must be int64 \(30,\), got int32 \(30,\)"):
        pickling.pickle_bytes(images, tiny_labels.astype(np.int32))


def test_is_v1_needs_v1s_seed_and_both_counts():
    # the committed params.yaml
    v1 = params.parse(RAW_PARAMS)
    assert pickling.is_v1(v1)
    ninety = (90,) * 10
    assert not pickling.is_v1(replace(v1, seed=7))
    assert not pickling.is_v1(replace(v1, sample=replace(v1.sample, train_counts=ninety)))
    assert not pickling.is_v1(replace(v1, sample=replace(v1.sample, test_counts=(19,) * 10)))
