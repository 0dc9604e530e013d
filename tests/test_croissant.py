"""croissant.json and the card's Hugging Face header: built from the files, the same bytes every run."""

import hashlib
import json

import numpy as np
import pytest
import yaml

from pipeline import croissant
from pipeline.benchmark import hub_header
from pipeline.core import config

FILES = {"train": b"train parquet bytes", "test": b"test"}
LABELS = {"train": np.repeat(np.arange(10), 5), "test": np.repeat(np.arange(10), [2] * 9 + [1])}


def test_distribution_states_each_files_sha256_and_size():
    doc = croissant.metadata(FILES, LABELS, "1.0.0")
    files = {d["contentUrl"]: d for d in doc["distribution"]}
    assert set(files) == {"train.parquet", "test.parquet"}
    for split, blob in FILES.items():
        assert files[f"{split}.parquet"]["sha256"] == hashlib.sha256(blob).hexdigest()
        assert files[f"{split}.parquet"]["contentSize"] == f"{len(blob)} B"


def test_record_sets_have_the_three_fields_and_the_counts():
    doc = croissant.metadata(FILES, LABELS, "1.0.0")
    assert [r["name"] for r in doc["recordSet"]] == ["train", "test"]
    for record_set in doc["recordSet"]:
        assert [f["name"] for f in record_set["field"]] == ["image", "label", "source_index"]
        image = record_set["field"][0]
        assert (
            image["isArray"] is True
            and image["arrayShape"] == "8,8"
            and image["dataType"] == "cr:Float32"
        )
    assert (
        "train: 50 images, 5 per digit; test: 19 images, per digit [2, 2, 2, 2, 2, 2, 2, 2, 2, 1]"
        in doc["description"]
    )
    assert "test split: 19 images" in doc["recordSet"][1]["description"]


def test_licence_version_citation_and_responsible_ai_fields():
    doc = croissant.metadata(FILES, LABELS, "1.0.0")
    assert (
        doc["license"] == config.DATA_LICENSE_URL == "https://creativecommons.org/licenses/by/4.0/"
    )
    assert doc["version"] == "1.0.0"
    assert "Alpaydin" in doc["citeAs"] and "10.24432/C50P49" in doc["citeAs"]
    assert (
        "13 writers" in doc["rai:dataCollection"]
        and "same 13 writers" in doc["rai:dataLimitations"]
    )
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"


def test_same_files_give_the_same_bytes_without_dates():
    blob = croissant.json_bytes(croissant.metadata(FILES, LABELS, "1.0.0"))
    assert blob == croissant.json_bytes(
        croissant.metadata(dict(FILES), {k: v.copy() for k, v in LABELS.items()}, "1.0.0")
    )
    assert blob.endswith(b"}\n") and json.loads(blob)["name"] == "TinyDigits"
    assert b"date" not in blob.lower()
    assert (
        croissant.json_bytes(croissant.metadata({**FILES, "test": b"other"}, LABELS, "1.0.0"))
        != blob
    )


@pytest.mark.parametrize(
    "n, category",
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1_000, "1K<n<10K"),
        (1_200, "1K<n<10K"),
        (10_000, "10K<n<100K"),
        (5_000_000, "n>1M"),
    ],
)
def test_size_category_follows_the_hubs_bins(n, category):
    assert hub_header.size_category(n) == category


def test_hub_header_points_at_the_parquet_files_with_measured_counts():
    text = hub_header.header(
        {"train": 500, "test": 100}, {"train": 1234, "test": 321}, {"train": 9876, "test": 543}
    )
    assert text.startswith("---\n") and text.endswith("\n---")
    meta = yaml.safe_load(text.strip("-\n"))
    assert meta["license"] == "cc-by-4.0" and meta["task_categories"] == ["image-classification"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "train.parquet"},
                {"split": "test", "path": "test.parquet"},
            ],
        }
    ]
    info = meta["dataset_info"]
    assert [f["name"] for f in info["features"]] == ["image", "label", "source_index"]
    assert [(s["name"], s["num_examples"]) for s in info["splits"]] == [
        ("train", 500),
        ("test", 100),
    ]
    assert [s["num_bytes"] for s in info["splits"]] == [9876, 543]
    assert info["download_size"] == 1555 and info["dataset_size"] == 10_419
