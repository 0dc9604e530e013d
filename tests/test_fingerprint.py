"""pipeline/release/fingerprint.py: which files a release publishes, and the order-free content digest."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from pipeline.core.errors import PipelineError
from pipeline.core.storage import npz_bytes
from pipeline.loader import reader
from pipeline.release import fingerprint
from tests.helpers import ROOT, V1_ENTRY


def test_the_published_files_are_the_dataset_outs_of_dvc_yaml_but_the_metadata():
    names = fingerprint.published_names((ROOT / "dvc.yaml").read_text())
    # the card and croissant.json name the release, so no release records their digests
    assert names == [
        "test.npz",
        "test.parquet",
        "test.pkl",
        "train.npz",
        "train.parquet",
        "train.pkl",
    ]
    # Parquet came after 1.0.0
    assert set(V1_ENTRY["files"]) == set(names) - {
        "train.parquet",
        "test.parquet",
    }


def test_content_digest_ignores_order_but_not_labels():
    x = np.arange(3 * 64, dtype=np.float32).reshape(3, 8, 8) / 1000
    y = np.array([1, 2, 3])
    assert fingerprint.content_sha256(x, y) == fingerprint.content_sha256(x[::-1], y[::-1])
    assert fingerprint.content_sha256(x, y) != fingerprint.content_sha256(x, np.array([1, 2, 4]))


# ---- found by mutation testing (mutmut 3.8): a digest blind to the pixels, or to their dtype, and
# a join that no test pinned, each passed every test above


def test_content_digest_sees_one_pixel_and_hashes_float32_whatever_the_input_dtype():
    x = np.arange(3 * 64, dtype=np.float32).reshape(3, 8, 8) / 1000
    y = np.array([1, 2, 3])
    changed = x.copy()
    changed[1, 4, 4] += np.float32(1 / 16)
    assert fingerprint.content_sha256(x, y) != fingerprint.content_sha256(changed, y)
    assert fingerprint.content_sha256(x.astype(np.float64), y) == fingerprint.content_sha256(x, y)


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_published_splits_have_the_content_digests_v1_recorded(split):
    from pipeline import load

    images, labels = load(split, ROOT / "datasets" / "tinydigits", format="npz", verify=False)
    assert fingerprint.content_sha256(images, labels) == V1_ENTRY["splits"][split]["content_sha256"]


def test_published_names_reads_metrics_and_plain_string_outs():
    dvc_yaml = """
stages:
  a:
    outs: [datasets/tinydigits/plain.npz, {datasets/tinydigits/kept.pkl: {cache: false}}]
    metrics: [{datasets/tinydigits/scores.json: {cache: false}}]
  b:
    outs: [datasets/interim/elsewhere.npz, datasets/tinydigits/croissant.json]
"""
    assert fingerprint.published_names(dvc_yaml) == ["kept.pkl", "plain.npz", "scores.json"]


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_split_with_pickles_only_is_read_from_its_pickle(split):
    """A revision that publishes no .npz (a fork that dropped them) is still measured."""
    files = {n: (ROOT / "datasets/tinydigits" / n).read_bytes() for n in V1_ENTRY["files"]}
    from_npz = fingerprint.split_arrays(files, split)
    pickles = {n: b for n, b in files.items() if n.endswith(".pkl")}
    images, labels = fingerprint.split_arrays(pickles, split)
    assert np.array_equal(images, from_npz[0]) and np.array_equal(labels, from_npz[1])
    assert fingerprint.measure(pickles)["splits"] == fingerprint.measure(files)["splits"]


@pytest.mark.parametrize("suffix", ["npz", "pkl"])
def test_an_unreadable_split_file_is_named(suffix):
    with pytest.raises(PipelineError, match=rf"^train\.{suffix}"):
        fingerprint.split_arrays({f"train.{suffix}": b"not a " + suffix.encode()}, "train")
    good = ROOT / f"datasets/tinydigits/test.{suffix}"
    # readable, but not a split
    with pytest.raises(PipelineError, match=rf"^train\.{suffix}: "):
        fingerprint.split_arrays({f"train.{suffix}": _wrong_shape(suffix, good)}, "train")


def _wrong_shape(suffix, good):
    """A readable file of the right kind whose arrays are not a split: images (N, 64)."""
    images, labels = reader.validate(
        reader.parse_npz(good.read_bytes())
        if suffix == "npz"
        else reader.unpickle(good.read_bytes())
    )
    arrays = {"images": images.reshape(len(images), 64), "labels": labels}
    return npz_bytes(arrays) if suffix == "npz" else pickle.dumps(arrays, protocol=4)


def test_per_digit_counts_list_all_ten_digits_even_one_absent():
    files = {n: (ROOT / "datasets/tinydigits" / n).read_bytes() for n in ("train.npz", "test.npz")}
    images, labels = fingerprint.split_arrays(files, "test")
    keep = labels != 9
    files["test.npz"] = npz_bytes({"images": images[keep], "labels": labels[keep]})
    assert fingerprint.measure(files)["splits"]["test"]["per_digit"] == [20] * 9 + [0]
