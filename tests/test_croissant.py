"""pipeline.croissant: croissant.json, built from the files, the same bytes every run."""

import hashlib
import json

import numpy as np

from pipeline import croissant
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
