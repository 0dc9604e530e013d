"""The published folder as students load it: pandas, Hugging Face ``datasets`` and ``mlcroissant``.

Each client is the real package, pinned in requirements.lock, run offline in a process of its own
(see tests/clients.py); every array it gives must equal the published ``.npz``. The last test
builds a variant with a real ``dvc repro`` and checks that the same files describe it.
"""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline import config
from tests import clients
from tests.conftest import ROOT, copy_build, run

DATA = ROOT / config.DATASET_DIR


def assert_traced_to_source(source_index, images, labels):
    """Row ``source_index[i]`` of scikit-learn's ``load_digits()`` is image ``i``, scaled to k/16."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    assert np.array_equal(digits.images[source_index].astype(np.float32) / 16, images)
    assert np.array_equal(digits.target[source_index], labels)


def assert_equal_to_npz(got, want):
    for split in clients.SPLITS:
        images, labels = want[split]["images"], want[split]["labels"]
        assert got[split]["images"].shape == images.shape, split
        assert np.array_equal(got[split]["images"].astype(np.float32), images), split
        assert np.array_equal(got[split]["labels"].astype(np.int64), labels), split
        assert_traced_to_source(got[split]["source_index"], images, labels)


def card_header(folder):
    text = (folder / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_pandas_reads_both_parquet_files():
    want = clients.npz(DATA)
    for split in clients.SPLITS:
        frame = pd.read_parquet(DATA / f"{split}.parquet")
        assert list(frame.columns) == ["image", "label", "source_index"]
        images = np.stack([np.stack(rows) for rows in frame["image"]])
        assert images.dtype == np.float32 and np.array_equal(images, want[split]["images"])
        assert frame["label"].dtype == np.int64 and np.array_equal(frame["label"].to_numpy(), want[split]["labels"])
        assert_traced_to_source(frame["source_index"].to_numpy(), want[split]["images"], want[split]["labels"])


def test_hugging_face_datasets_loads_the_folder_offline(tmp_path):
    got = clients.hugging_face(DATA, tmp_path)
    assert [len(got[s]["labels"]) for s in clients.SPLITS] == [1000, 200]
    assert got["train"]["images"].dtype == np.float32 and got["train"]["labels"].dtype == np.int64
    assert_equal_to_npz(got, clients.npz(DATA))
    splits = {s["name"]: s for s in card_header(DATA)["dataset_info"]["splits"]}
    for split in clients.SPLITS:  # the header's num_bytes is what datasets measures
        assert int(got[split]["num_bytes"]) == splits[split]["num_bytes"]


def test_mlcroissant_validates_and_its_records_equal_the_npz(tmp_path):
    result = clients.croissant_validate(DATA / "croissant.json", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Done" in result.stdout + result.stderr
    assert_equal_to_npz(clients.croissant(DATA / "croissant.json", tmp_path), clients.npz(DATA))


def test_croissant_digests_and_card_sizes_match_the_files():
    doc = json.loads((DATA / "croissant.json").read_text(encoding="utf-8"))
    for entry in doc["distribution"]:
        blob = (DATA / entry["contentUrl"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(blob).hexdigest() and entry["contentSize"] == f"{len(blob)} B"
    info = card_header(DATA)["dataset_info"]
    assert info["download_size"] == sum((DATA / f"{s}.parquet").stat().st_size for s in clients.SPLITS)


@pytest.mark.e2e
def test_a_variant_describes_itself_and_every_client_loads_it(cold_build, tmp_path):
    repo = copy_build(cold_build, tmp_path / "repo")
    params = repo / "params.yaml"
    raw = yaml.safe_load(params.read_text())
    raw["sample"].update(train_per_class=30, test_per_class=10, train_counts={8: 15})
    # a lighter benchmark (the card is what matters here), with no gate
    raw["benchmark"].update(seeds=2, sweep_per_class=[5], reference_max_epochs=5, min_accuracy=0.0)
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    run(["dvc", "repro"], repo, timeout=1800)
    data = repo / config.DATASET_DIR
    want = clients.npz(data)
    assert [len(want[s]["labels"]) for s in clients.SPLITS] == [285, 100]

    assert_equal_to_npz(clients.hugging_face(data, tmp_path), want)
    assert_equal_to_npz(clients.croissant(data / "croissant.json", tmp_path), want)
    assert clients.croissant_validate(data / "croissant.json", tmp_path).returncode == 0
    doc = json.loads((data / "croissant.json").read_text(encoding="utf-8"))
    assert "train: 285 images, per digit [30, 30, 30, 30, 30, 30, 30, 30, 15, 30]" in doc["description"]
    for entry in doc["distribution"]:
        assert entry["sha256"] == hashlib.sha256((data / entry["contentUrl"]).read_bytes()).hexdigest()
    info = card_header(data)
    assert info["size_categories"] == ["n<1K"]
    assert [s["num_examples"] for s in info["dataset_info"]["splits"]] == [285, 100]

    # the variant rebuilds byte for byte
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "variant"], repo)
    run(["dvc", "repro", "--force", "pickle"], repo)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
