"""Stage ``fetch``: snapshot scikit-learn's bundled digits, verified by digest, offline.

    $ python -m pipeline fetch
    fetch: source .../sklearn/datasets/data/digits.csv.gz sha256 09f66e6d... ok
    fetch: wrote datasets/raw/digits.npz: 1,797 images, 64 pixels each

The source is found without importing scikit-learn (only its install folder is looked up).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import logging
import sys
from pathlib import Path

import numpy as np

from pipeline.core import config, params
from pipeline.core.errors import SourceError
from pipeline.core.storage import write_npz

log = logging.getLogger(__name__)
# what this stage writes: dvc.yaml's outs (tests/test_dvc_yaml.py)
OUTS = (config.RAW_FILE,)


def source_path() -> Path:
    """The bundled ``digits.csv.gz`` inside the installed scikit-learn."""
    spec = importlib.util.find_spec(config.SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(
            f"package {config.SOURCE_PACKAGE!r}, which ships the source file "
            f"{'/'.join(config.SOURCE_RELPATH)}, is not installed for {sys.executable}; run "
            "`make repro` (it installs the pinned dependencies into .venv and runs dvc with them), "
            "or `. .venv/bin/activate` before running dvc by hand"
        )
    return Path(spec.submodule_search_locations[0], *config.SOURCE_RELPATH)


def verify(data: bytes, *, expected: str = config.SOURCE_SHA256, name: str = "source") -> str:
    """Return the sha256 of ``data``; raise :class:`SourceError` naming both digests if it differs."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise SourceError(
            f"{name} sha256 is {actual}, expected {expected}; the file changed "
            f"(a different scikit-learn build?). Reinstall the pinned dependencies."
        )
    return actual


def parse_csv(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Gzipped CSV rows of 64 pixels then a label -> pixels uint8 (N, 64), labels int64 (N,)."""
    table = np.loadtxt(io.BytesIO(gzip.decompress(data)), delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape[1] != 65:
        raise SourceError(
            f"source rows must have 65 columns (64 pixels, label), got {table.shape[1]}"
        )
    if not np.array_equal(table, np.round(table)):
        raise SourceError(
            "source holds non-integer values; pixels and labels must be whole numbers"
        )
    if table.min() < 0 or table.max() > 255:
        raise SourceError(f"source values must lie in [0, 255], got [{table.min()}, {table.max()}]")
    return table[:, :64].astype(np.uint8), table[:, 64].astype(np.int64)


def main() -> None:
    # fail on a bad params.yaml before writing anything
    params.load()
    path = source_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(
            f"source file {path} is missing from the installed scikit-learn"
        ) from None
    digest = verify(data, name=str(path))
    log.info("source %s sha256 %s ok", "/".join(path.parts[-4:]), digest[:12])
    pixels, labels = parse_csv(data)

    # deferred, so that importing this module stays cheap: pandas + pandera load only to check
    from pipeline import schemas

    schemas.validate(schemas.to_frame(pixels, labels), schemas.RAW, stage="fetch")

    write_npz(config.RAW_FILE, pixels=pixels, labels=labels)
    log.info(
        "wrote %s: %s images, %d pixels each", config.RAW_FILE, f"{len(labels):,}", pixels.shape[1]
    )
