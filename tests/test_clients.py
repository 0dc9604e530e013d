"""The published folder as students load it: pandas, Hugging Face ``datasets`` and ``mlcroissant``.

Each client is the real package, pinned in requirements.lock, run offline in a process of its own
(the loaders below); every array it gives must equal the published ``.npz``. The last test
builds a variant with a real ``dvc repro`` and checks that the same files describe it.
"""

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.core import config
from tests.helpers import LIGHT_BENCHMARK, ROOT, copy_build, run, update_params

DATA = ROOT / config.DATASET_DIR


# ---- the real clients, each in a process of its own ---------------------------------------------
# Hugging Face ``datasets`` changes how pandas reads Arrow extension types when imported, which
# breaks ``mlcroissant``'s reader in the same process; a subprocess per client also keeps the test
# process free of both. Each returns ``{split: {"images", "labels", "source_index"}}`` as NumPy
# arrays, exactly as the client gave them (dtypes included).

SPLITS = ("train", "test")

_HF = """
import sys, numpy as np, datasets
ds = datasets.load_dataset(sys.argv[1])
out = {}
for s in ("train", "test"):
    d = ds[s].with_format("numpy")[:]  # every column as one array, as docs/formats.md shows
    out[f"{s}_images"], out[f"{s}_labels"], out[f"{s}_source_index"] = d["image"], d["label"], d["source_index"]
    out[f"{s}_num_bytes"] = np.int64(ds[s].info.splits[s].num_bytes)
    out[f"{s}_features"] = np.array([repr(f) for f in ds[s].features.values()])
    out[f"{s}_class_names"] = np.array(ds[s].features["label"].names)
np.savez(sys.argv[2], **out)
"""

_CROISSANT = """
import sys, numpy as np, mlcroissant as mlc
ds = mlc.Dataset(jsonld=sys.argv[1])
out = {}
for s in ("train", "test"):
    records = list(ds.records(record_set=s))
    out[f"{s}_images"] = np.stack([np.asarray(r[f"{s}/image"]) for r in records])
    out[f"{s}_labels"] = np.array([r[f"{s}/label"] for r in records])
    out[f"{s}_source_index"] = np.array([r[f"{s}/source_index"] for r in records])
np.savez(sys.argv[2], **out)
"""


def _load(
    code: str, target: Path, tmp: Path, env: dict | None = None
) -> dict[str, dict[str, np.ndarray]]:
    out = tmp / "arrays.npz"
    run([sys.executable, "-c", code, str(target), str(out)], tmp, env=env or {})
    with np.load(out, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return {
        s: {k.split("_", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{s}_")}
        for s in SPLITS
    }


def hugging_face(folder: Path, tmp: Path) -> dict[str, dict[str, np.ndarray]]:
    """``datasets.load_dataset(folder)`` offline, with a cache of its own under ``tmp``."""
    env = {
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp / "hf"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    return _load(_HF, Path(folder).resolve(), tmp, env)


def croissant(jsonld: Path, tmp: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every record of both record sets, as ``mlcroissant.Dataset(jsonld).records(split)`` yields them."""
    return _load(_CROISSANT, Path(jsonld).resolve(), tmp)


def npz(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """The published ``.npz`` arrays, the reference every client must give back."""
    out = {}
    for s in SPLITS:
        with np.load(Path(folder) / f"{s}.npz", allow_pickle=False) as z:
            out[s] = {"images": z["images"], "labels": z["labels"]}
    return out


def croissant_validate(jsonld: Path, cwd: Path):
    """``mlcroissant validate --jsonld`` as a user runs it (the CLI next to this interpreter)."""
    cli = Path(sys.executable).parent / "mlcroissant"
    return run(
        [str(cli), "validate", "--jsonld", str(Path(jsonld).resolve())],
        cwd,
        check=False,
        env={"PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "")},
    )


# ---- the tests ---------------------------------------------------------------------------------


def assert_traced_to_source(source_index, images, labels):
    """Row ``source_index[i]`` of scikit-learn's ``load_digits()`` is image ``i``, scaled to k/16."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    assert np.array_equal(digits.images[source_index].astype(np.float32) / 16, images)
    assert np.array_equal(digits.target[source_index], labels)


def assert_equal_to_npz(got, want):
    for split in SPLITS:
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
    want = npz(DATA)
    for split in SPLITS:
        frame = pd.read_parquet(DATA / f"{split}.parquet")
        assert list(frame.columns) == ["image", "label", "source_index"]
        images = np.stack([np.stack(rows) for rows in frame["image"]])
        assert images.dtype == np.float32 and np.array_equal(images, want[split]["images"])
        assert frame["label"].dtype == np.int64 and np.array_equal(
            frame["label"].to_numpy(), want[split]["labels"]
        )
        assert_traced_to_source(
            frame["source_index"].to_numpy(), want[split]["images"], want[split]["labels"]
        )


def test_hugging_face_datasets_loads_the_folder_offline(tmp_path):
    got = hugging_face(DATA, tmp_path)
    assert [len(got[s]["labels"]) for s in SPLITS] == [1000, 200]
    # typed by the card's features, with no cast by the user
    for split, n in zip(SPLITS, (1000, 200), strict=True):
        images, labels = got[split]["images"], got[split]["labels"]
        assert (images.shape, images.dtype) == ((n, 8, 8), np.float32), split
        assert (labels.shape, labels.dtype) == ((n,), np.int64), split
        assert list(got[split]["features"]) == [
            "Array2D(shape=(8, 8), dtype='float32')",
            f"ClassLabel(names={[str(d) for d in range(10)]})",
            "Value('int64')",
        ]
        assert list(got[split]["class_names"]) == [str(d) for d in range(10)]
    assert_equal_to_npz(got, npz(DATA))
    splits = {s["name"]: s for s in card_header(DATA)["dataset_info"]["splits"]}
    # the header's num_bytes is what datasets measures
    for split in SPLITS:
        assert int(got[split]["num_bytes"]) == splits[split]["num_bytes"]


def test_mlcroissant_validates_and_its_records_equal_the_npz(tmp_path):
    result = croissant_validate(DATA / "croissant.json", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Done" in result.stdout + result.stderr
    assert_equal_to_npz(croissant(DATA / "croissant.json", tmp_path), npz(DATA))


def test_croissant_digests_and_card_sizes_match_the_files():
    doc = json.loads((DATA / "croissant.json").read_text(encoding="utf-8"))
    for entry in doc["distribution"]:
        blob = (DATA / entry["contentUrl"]).read_bytes()
        assert (
            entry["sha256"] == hashlib.sha256(blob).hexdigest()
            and entry["contentSize"] == f"{len(blob)} B"
        )
    info = card_header(DATA)["dataset_info"]
    assert info["download_size"] == sum((DATA / f"{s}.parquet").stat().st_size for s in SPLITS)


@pytest.mark.e2e
def test_a_variant_describes_itself_and_every_client_loads_it(cold_build, tmp_path):
    repo = copy_build(cold_build, tmp_path / "repo")
    update_params(
        repo,
        sample={"train_per_class": 30, "test_per_class": 10, "train_counts": {8: 15}},
        # a lighter benchmark (the card is what matters here), with no gate
        benchmark={**LIGHT_BENCHMARK, "min_accuracy": 0.0},
    )
    run(["dvc", "repro"], repo, timeout=1800)
    data = repo / config.DATASET_DIR
    want = npz(data)
    assert [len(want[s]["labels"]) for s in SPLITS] == [285, 100]

    assert_equal_to_npz(hugging_face(data, tmp_path), want)
    assert_equal_to_npz(croissant(data / "croissant.json", tmp_path), want)
    assert croissant_validate(data / "croissant.json", tmp_path).returncode == 0
    doc = json.loads((data / "croissant.json").read_text(encoding="utf-8"))
    assert (
        "train: 285 images, per digit [30, 30, 30, 30, 30, 30, 30, 30, 15, 30]"
        in doc["description"]
    )
    for entry in doc["distribution"]:
        assert (
            entry["sha256"] == hashlib.sha256((data / entry["contentUrl"]).read_bytes()).hexdigest()
        )
    info = card_header(data)
    assert info["size_categories"] == ["n<1K"]
    assert [s["num_examples"] for s in info["dataset_info"]["splits"]] == [285, 100]

    # the variant rebuilds byte for byte
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "variant"], repo)
    run(["dvc", "repro", "--force", "pickle"], repo)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


# ---- docs/formats.md's snippets, run as written --------------------------------------------------
# Each ```python block runs in a process of its own from the repository's root (offline), followed
# by a check that the ``images`` and ``labels`` it names are what its comments promise.
FORMATS_SNIPPETS = re.findall(
    r"```python\n(.*?)```", (ROOT / "docs" / "formats.md").read_text(encoding="utf-8"), re.S
)
_PROMISE = """
import numpy as _np
assert isinstance(images, _np.ndarray) and images.dtype == _np.float32, type(images)
assert images.shape[1:] == (8, 8) and len(images) == 1000, images.shape
assert isinstance(labels, _np.ndarray) and labels.dtype == _np.int64 and labels.shape == (1000,)
"""


def test_formats_page_has_its_three_python_snippets():
    clients = ("pandas as pd", "from datasets import", "mlcroissant as mlc")
    assert [tuple(client in c for client in clients) for c in FORMATS_SNIPPETS] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]


@pytest.mark.parametrize("code", FORMATS_SNIPPETS, ids=["pandas", "datasets", "mlcroissant"])
def test_formats_page_snippet_runs_as_written(code, tmp_path):
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    run([sys.executable, "-c", code + _PROMISE], ROOT, env=env)
