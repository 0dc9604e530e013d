"""The five data stages' ``main()`` in order, in this process, in a scratch project: what
``dvc repro`` runs, where ``make mutate`` can follow it (it cannot follow a stage's own process).

With the committed params they write the published files byte for byte and the intermediates that
``dvc.lock`` records; with a variant, the oracle's pickles and a ``croissant.json`` that claims no
release. Each stage's lines are what ``python -m pipeline STAGE`` prints after its name.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline import fetch
from pipeline.core import config
from pipeline.core.errors import ContractError, ParamsError, SourceError
from pipeline.core.storage import write_npz
from scripts.oracle import reference_pickles
from tests.helpers import (
    DATA_STAGES,
    LAST,
    PUBLISHED,
    RAW_PARAMS,
    ROOT,
    run_stages,
    stage_main,
    update_params,
)

# in the order the pickle stage writes them
PUBLISHED_FILES = [
    *(f"{s}.{ext}" for s in config.SPLITS for ext in ("pkl", "npz", "parquet")),
    "croissant.json",
]


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
    assert lines == [
        f"fetch: source sklearn/datasets/data/digits.csv.gz sha256 {config.SOURCE_SHA256[:12]} ok",
        "fetch: wrote datasets/raw/digits.npz: 1,797 images, 64 pixels each",
        "sample: seed 42: train 1,000 images (100 per digit), test 200 (20 per digit)",
        "normalize: wrote datasets/interim/normalized.npz: 1,797 images float32 (8, 8) in [0, 1]",
        "split: train (1000, 8, 8) float32, test (200, 8, 8) float32; disjoint, shuffled",
        *(written(config.DATASET_DIR / n, published[n]) for n in PUBLISHED_FILES),
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
    committed_params(tmp_path, monkeypatch)
    update_params(tmp_path, seed=-1)
    with pytest.raises(ParamsError, match=r"^seed"):
        stage_main(stage)()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["params.yaml"]


def committed_params(tmp_path, monkeypatch) -> None:
    """``tmp_path`` as the current directory, with the committed params.yaml."""
    shutil.copy(ROOT / config.PARAMS_FILE, tmp_path / config.PARAMS_FILE)
    monkeypatch.chdir(tmp_path)


def source_with(tmp_path, edit) -> Path:
    """scikit-learn's digits.csv.gz with ``edit`` applied to its text, in a file of its own."""
    text = gzip.decompress(fetch.source_path().read_bytes()).decode()
    path = tmp_path / "digits.csv.gz"
    path.write_bytes(gzip.compress(edit(text).encode()))
    return path


def test_fetch_names_the_source_file_it_cannot_read_or_trust(tmp_path, monkeypatch):
    committed_params(tmp_path, monkeypatch)
    tampered = source_with(tmp_path, lambda text: text.replace("0", "1", 1))
    missing = tmp_path / "nowhere" / "digits.csv.gz"
    monkeypatch.setattr(fetch, "source_path", lambda: missing)
    with pytest.raises(SourceError) as err:
        fetch.main()
    assert str(err.value) == f"source file {missing} is missing from the installed scikit-learn"
    monkeypatch.setattr(fetch, "source_path", lambda: tampered)
    with pytest.raises(
        SourceError, match=rf"^{re.escape(str(tampered))} sha256 is [0-9a-f]{{64}}, "
    ):
        fetch.main()
    assert not (tmp_path / config.RAW_FILE).exists()


def test_each_checking_stage_names_itself_when_its_output_breaks_the_contract(
    tmp_path, monkeypatch
):
    committed_params(tmp_path, monkeypatch)
    # fetch: a pixel of 17, a whole number in [0, 255] (so it parses) that the contract refuses
    bad = source_with(tmp_path, lambda text: "17" + text[1:])
    monkeypatch.setattr(fetch, "source_path", lambda: bad)
    monkeypatch.setattr(fetch, "verify", lambda data, name: hashlib.sha256(data).hexdigest())
    with pytest.raises(ContractError, match=r"^stage 'fetch': raw data \(1,797 rows\) violates"):
        fetch.main()
    assert not (tmp_path / config.RAW_FILE).exists()
    # normalize: the same pixel, in a raw snapshot written as if fetch had let it through
    monkeypatch.undo()
    committed_params(tmp_path, monkeypatch)
    fetch.main()
    with np.load(config.RAW_FILE, allow_pickle=False) as npz:
        pixels, labels = npz["pixels"].copy(), npz["labels"]
    pixels[0, 0] = 17
    write_npz(config.RAW_FILE, pixels=pixels, labels=labels)
    with pytest.raises(
        ContractError, match=r"^stage 'normalize': normalized data \(1,797 rows\) violates"
    ):
        stage_main("normalize")()
    assert not (tmp_path / config.NORMALIZED_FILE).exists()
    # split: a plan of 100 per digit, when params.yaml says 90 by the time split runs
    write_npz(config.RAW_FILE, pixels=np.where(pixels > 16, 16, pixels), labels=labels)
    stage_main("sample")()
    stage_main("normalize")()
    update_params(tmp_path, sample={"train_per_class": 90})
    with pytest.raises(ContractError, match=r"^stage 'split': splits data \(1,200 rows\) violates"):
        stage_main("split")()
    assert not (tmp_path / config.SPLITS_FILE).exists()
