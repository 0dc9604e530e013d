"""pipeline.formats.croissant: croissant.json, built from the files, the same bytes every run."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.core import config
from pipeline.formats import croissant
from pipeline.release import record
from tests.helpers import ROOT, run

DATE = "2026-11-25"

FILES = {"train": b"train parquet bytes", "test": b"test"}
LABELS = {"train": np.repeat(np.arange(10), 5), "test": np.repeat(np.arange(10), [2] * 9 + [1])}


def test_distribution_states_each_files_sha256_and_size():
    doc = croissant.metadata(FILES, LABELS, "1.0.0", DATE)
    files = {d["contentUrl"]: d for d in doc["distribution"]}
    assert set(files) == {"train.parquet", "test.parquet"}
    for split, blob in FILES.items():
        assert files[f"{split}.parquet"]["sha256"] == hashlib.sha256(blob).hexdigest()
        assert files[f"{split}.parquet"]["contentSize"] == f"{len(blob)} B"


def test_record_sets_have_the_three_fields_and_the_counts():
    doc = croissant.metadata(FILES, LABELS, "1.0.0", DATE)
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


def test_a_digit_with_no_image_is_counted_as_0():
    """``train_counts: {9: 0}`` is valid: the per-digit counts still list ten digits."""
    labels = {"train": np.repeat(np.arange(9), 5), "test": LABELS["test"]}
    doc = croissant.metadata(FILES, labels, "1.0.0", DATE)
    assert "train: 45 images, per digit [5, 5, 5, 5, 5, 5, 5, 5, 5, 0];" in doc["description"]


def test_licence_version_citation_and_responsible_ai_fields():
    doc = croissant.metadata(FILES, LABELS, "1.0.0", DATE)
    assert (
        doc["license"] == config.DATA_LICENSE_URL == "https://creativecommons.org/licenses/by/4.0/"
    )
    assert doc["version"] == "1.0.0"
    assert "Alpaydin" in doc["citeAs"] and "10.24432/C50P49" in doc["citeAs"]
    assert (
        "13 others" in doc["rai:dataCollection"]
        and "same 13 writers" in doc["rai:dataLimitations"]
        and "13 writers" in doc["rai:dataBiases"]
        and "RandomState" in doc["rai:dataPreprocessingProtocol"]
        and doc["rai:personalSensitiveInformation"].startswith("None.")
    )
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1"


def test_same_files_give_the_same_bytes_and_the_only_date_is_the_recorded_one():
    blob = croissant.json_bytes(croissant.metadata(FILES, LABELS, "1.0.0", DATE))
    assert blob == croissant.json_bytes(
        croissant.metadata(dict(FILES), {k: v.copy() for k, v in LABELS.items()}, "1.0.0", DATE)
    )
    assert blob.endswith(b"}\n") and json.loads(blob)["name"] == "TinyDigits"
    assert json.loads(blob)["datePublished"] == DATE and blob.lower().count(b"date") == 1
    assert b"datePublished" not in croissant.json_bytes(
        croissant.metadata(FILES, LABELS, "0.0.0+unreleased", None)
    )
    assert (
        croissant.json_bytes(croissant.metadata({**FILES, "test": b"other"}, LABELS, "1.0.0", DATE))
        != blob
    )


def test_date_published_is_the_first_releases_recorded_date():
    entries = record.load(path=ROOT / record.RECORD_FILE)
    assert record.date_published(entries) == entries[0]["date"] == "2026-11-25"
    assert record.date_published([*entries, {**entries[0], "date": "2030-01-01"}]) == DATE
    assert record.date_published([]) is None


def test_context_is_the_standard_croissant_1_1_context():
    from mlcroissant._src.core.context import Context, CroissantVersion
    from mlcroissant._src.core.rdf import make_context

    assert croissant._CONTEXT == make_context(Context(conforms_to=CroissantVersion.V_1_1))


# ---- the real validator ---------------------------------------------------------------------------


def validate(jsonld: Path, cwd: Path) -> list[str]:
    """``mlcroissant validate --jsonld`` as a user runs it: every line it prints but its final "Done."
    (absl logs each warning and error as a line of its own)."""
    cli = Path(sys.executable).parent / "mlcroissant"
    result = run([str(cli), "validate", "--jsonld", str(jsonld)], cwd, check=False)
    lines = (result.stdout + result.stderr).splitlines()
    assert result.returncode == 0 and lines and lines[-1].endswith("Done."), lines
    return lines[:-1]


# mlcroissant's own command line, a process each: about 1.2 s apiece (the end-to-end tier)
@pytest.mark.e2e
def test_mlcroissant_validates_the_published_file_without_a_warning(tmp_path):
    assert validate(ROOT / config.CROISSANT_FILE, tmp_path) == []


@pytest.mark.parametrize(
    "change, warning",
    [
        (lambda doc: doc.pop("datePublished"), "datePublished"),
        (lambda doc: doc["@context"].pop("samplingRate"), "@context` is not standard"),
    ],
    ids=["no datePublished", "older @context"],
)
@pytest.mark.e2e
def test_the_validation_catches_a_warning(change, warning, tmp_path):
    doc = json.loads((ROOT / config.CROISSANT_FILE).read_text(encoding="utf-8"))
    change(doc)
    (tmp_path / "croissant.json").write_bytes(croissant.json_bytes(doc))
    assert any(warning in line for line in validate(tmp_path / "croissant.json", tmp_path))
