"""What a release records about the published files: which they are, their digests, their content.

``content_sha256`` hashes a split's sorted (image, label) pairs, so it ignores order: equal
content digests with different file digests mean "same images and labels, other bytes".
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import yaml

from pipeline.core import config
from pipeline.core.errors import ReleaseError
from pipeline.loader import reader


def published_names(dvc_yaml: str) -> list[str]:
    """Names of the published data files: the outs under the dataset folder in ``dvc.yaml``, minus
    :data:`config.METADATA_FILES` (the card and croissant.json, which name the release)."""
    names = set()
    for stage in (yaml.safe_load(dvc_yaml).get("stages") or {}).values():
        for kind in ("outs", "metrics"):
            for out in stage.get(kind) or []:
                path = Path(next(iter(out)) if isinstance(out, dict) else out)
                if path.parent == config.DATASET_DIR and path not in config.METADATA_FILES:
                    names.add(path.name)
    return sorted(names)


def content_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """Order-free digest of a split: sha256 of its sorted (sha256 of float32 image bytes, label) pairs."""
    pairs = sorted(image_hash(x) + f":{int(y)}" for x, y in zip(images, labels, strict=True))
    return hashlib.sha256("\n".join(pairs).encode()).hexdigest()


def image_hash(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.float32).tobytes()).hexdigest()


def split_arrays(files: dict[str, bytes], split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 8, 8), labels (N,)) of a split from its ``.npz`` (else its ``.pkl``), safely."""
    if f"{split}.npz" in files:
        return reader.validate(
            reader.parse_npz(files[f"{split}.npz"], f"{split}.npz"), f"{split}.npz"
        )
    if f"{split}.pkl" in files:
        return reader.validate(
            reader.unpickle(files[f"{split}.pkl"], f"{split}.pkl"), f"{split}.pkl"
        )
    raise ReleaseError(
        f"neither {split}.npz nor {split}.pkl is among the published files {sorted(files)}"
    )


def measure(files: dict[str, bytes]) -> dict:
    """The measured part of an entry from the published files' bytes: ``files`` and ``splits``."""
    splits = {}
    for split in config.SPLITS:
        images, labels = split_arrays(files, split)
        splits[split] = {
            "images": int(len(labels)),
            "per_digit": np.bincount(labels, minlength=10).tolist(),
            "content_sha256": content_sha256(images, labels),
        }
    return {
        "files": {
            name: {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
            for name, blob in sorted(files.items())
        },
        "splits": splits,
    }
