"""Load the published folder with the real clients, each in a process of its own.

Hugging Face ``datasets`` changes how pandas reads Arrow extension types when imported, which
breaks ``mlcroissant``'s reader in the same process; a subprocess per client also keeps the
test process free of both. Each returns ``{split: {"images", "labels", "source_index"}}`` as
NumPy arrays, exactly as the client gave them (dtypes included).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from tests.conftest import run

SPLITS = ("train", "test")

_HF = """
import sys, numpy as np, datasets
ds = datasets.load_dataset(sys.argv[1])
out = {}
for s in ("train", "test"):
    d = ds[s].with_format("numpy")
    out[f"{s}_images"], out[f"{s}_labels"], out[f"{s}_source_index"] = d["image"], d["label"], d["source_index"]
    out[f"{s}_num_bytes"] = np.int64(ds[s].info.splits[s].num_bytes)
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


def _load(code: str, target: Path, tmp: Path, env: dict | None = None) -> dict[str, dict[str, np.ndarray]]:
    out = tmp / "arrays.npz"
    run([sys.executable, "-c", code, str(target), str(out)], tmp, env=env or {})
    with np.load(out, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return {s: {k.split("_", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{s}_")} for s in SPLITS}


def hugging_face(folder: Path, tmp: Path) -> dict[str, dict[str, np.ndarray]]:
    """``datasets.load_dataset(folder)`` offline, with a cache of its own under ``tmp``."""
    env = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp / "hf"),
           "HF_HUB_DISABLE_TELEMETRY": "1"}
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
    return run([str(cli), "validate", "--jsonld", str(Path(jsonld).resolve())], cwd, check=False,
               env={"PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", "")})
