"""pipeline/release/fingerprint.py: which files a release publishes, and the order-free content digest."""

from __future__ import annotations

import numpy as np

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
