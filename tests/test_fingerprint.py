"""pipeline/release/fingerprint.py: which files a release publishes, and the order-free content digest."""

from __future__ import annotations

import numpy as np
import pytest

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
