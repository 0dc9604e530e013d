"""The five data stages' ``main()`` in order, in this process, in a scratch project: what
``dvc repro`` runs, where ``make mutate`` can follow it (it cannot follow a stage's own process).

With the committed params they write the published files byte for byte and the intermediates that
``dvc.lock`` records; with a variant, the oracle's pickles and a ``croissant.json`` that claims no
release. Each stage's lines are what ``python -m pipeline STAGE`` prints after its name.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import logging
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.__main__ import STAGES
from pipeline.core import config
from scripts.oracle import reference_pickles
from tests.helpers import LAST, PUBLISHED, RAW_PARAMS, ROOT

DATA_STAGES = ("fetch", "sample", "normalize", "split", "pickle")
PUBLISHED_FILES = [
    *(f"{s}.{ext}" for s in config.SPLITS for ext in ("pkl", "npz", "parquet")),
    "croissant.json",
]


def run_stages(project, monkeypatch, caplog, params: dict) -> list[str]:
    """Run the data stages in ``project`` with ``params`` as its params.yaml; each stage's lines,
    prefixed with the stage's name as the entry point prints them."""
    (project / "datasets/tinydigits").mkdir(parents=True)
    shutil.copy(ROOT / config.RECORD_FILE, project / config.RECORD_FILE)
    (project / config.PARAMS_FILE).write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(project)
    caplog.set_level(logging.INFO, logger="pipeline")
    lines = []
    for stage in DATA_STAGES:
        caplog.clear()
        assert importlib.import_module(STAGES[stage][0]).main() is None
        lines += [f"{stage}: {r.getMessage()}" for r in caplog.records]
    return lines


def sha(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def written(path, blob: bytes) -> str:
    return f"pickle: {path} {len(blob):,} bytes sha256 {sha(blob)[:12]}"


def test_with_the_committed_params_they_write_the_published_bytes(tmp_path, monkeypatch, caplog):
    lines = run_stages(tmp_path, monkeypatch, caplog, RAW_PARAMS)
    for name in PUBLISHED_FILES:
        assert (tmp_path / config.DATASET_DIR / name).read_bytes() == (
            PUBLISHED / name
        ).read_bytes(), name
    # the intermediates are the bytes dvc.lock records for them
    lock = yaml.safe_load((ROOT / config.DVC_LOCK_FILE).read_text())["stages"]
    for stage, out in [
        ("fetch", config.RAW_FILE),
        ("sample", config.SAMPLE_FILE),
        ("normalize", config.NORMALIZED_FILE),
        ("split", config.SPLITS_FILE),
    ]:
        (recorded,) = [o["md5"] for o in lock[stage]["outs"] if o["path"] == str(out)]
        assert hashlib.md5((tmp_path / out).read_bytes()).hexdigest() == recorded, out
    published = {n: (PUBLISHED / n).read_bytes() for n in PUBLISHED_FILES}
    order = [f"{s}.{ext}" for s in config.SPLITS for ext in ("pkl", "npz", "parquet")]
    assert lines == [
        f"fetch: source sklearn/datasets/data/digits.csv.gz sha256 {config.SOURCE_SHA256[:12]} ok",
        "fetch: wrote datasets/raw/digits.npz: 1,797 images, 64 pixels each",
        "sample: seed 42: train 1,000 images (100 per digit), test 200 (20 per digit)",
        "normalize: wrote datasets/interim/normalized.npz: 1,797 images float32 (8, 8) in [0, 1]",
        "split: train (1000, 8, 8) float32, test (200, 8, 8) float32; disjoint, shuffled",
        *(written(config.DATASET_DIR / n, published[n]) for n in [*order, "croissant.json"]),
    ]


def test_a_variant_gives_the_oracles_pickles_and_claims_no_release(tmp_path, monkeypatch, caplog):
    train = [90] * 10
    train[8] = 50
    test = [20] * 10
    test[3] = 15
    variant = {
        **RAW_PARAMS,
        "seed": 7,
        "sample": {
            **RAW_PARAMS["sample"],
            "train_per_class": 90,
            "train_counts": {8: 50},
            "test_counts": {3: 15},
        },
    }
    lines = run_stages(tmp_path, monkeypatch, caplog, variant)
    out = tmp_path / config.DATASET_DIR
    want = reference_pickles(train, test, 7)
    for split in config.SPLITS:
        assert (out / f"{split}.pkl").read_bytes() == want[split], split
        with np.load(out / f"{split}.npz", allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
        frame = pd.read_parquet(io.BytesIO((out / f"{split}.parquet").read_bytes()))
        assert frame["label"].tolist() == labels.tolist()
        assert np.array_equal(np.stack([np.stack(i) for i in frame["image"]]), images)
        assert np.bincount(labels, minlength=10).tolist() == (train if split == "train" else test)
    doc = json.loads((out / "croissant.json").read_text())
    assert doc["version"] == f"{LAST}+unreleased"
    assert doc["description"] == (
        "A small subset of the 8x8 handwritten digits that ship with scikit-learn (the UCI Optical "
        "Recognition of Handwritten Digits test set), for teaching ML systems. "
        f"train: 860 images, per digit {train}; test: 195 images, per digit {test}. "
        "Pixels are float32 in [0, 1]."
    )
    assert [f["sha256"] for f in doc["distribution"]] == [
        sha((out / f"{s}.parquet").read_bytes()) for s in config.SPLITS
    ]
    assert lines[2] == (
        f"sample: seed 7: train 860 images (per digit {train}), test 195 (per digit {test})"
    )
    assert (
        lines[4] == "split: train (860, 8, 8) float32, test (195, 8, 8) float32; disjoint, shuffled"
    )


@pytest.mark.parametrize("stage", DATA_STAGES)
def test_every_stage_stops_on_a_bad_params_file_before_writing(stage, tmp_path, monkeypatch):
    from pipeline.core.errors import ParamsError

    (tmp_path / config.PARAMS_FILE).write_text(yaml.safe_dump({**RAW_PARAMS, "seed": -1}))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParamsError, match=r"^seed"):
        importlib.import_module(STAGES[stage][0]).main()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["params.yaml"]
