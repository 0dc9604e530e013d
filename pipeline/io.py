"""Atomic, byte-deterministic file writes, and the matching readers.

Every write goes to a temporary file in the destination folder and is moved into place
with :func:`os.replace`, so a reader (or a killed stage) never sees a half-written file.
``.npz`` archives are written with a fixed zip timestamp so the same arrays always give
the same bytes (``numpy.savez`` stamps the current time, which would churn ``dvc.lock``).
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` of ``arrays`` (loadable with ``allow_pickle=False``), same bytes every time."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def write_npz(path: Path | str, **arrays: np.ndarray) -> None:
    atomic_write_bytes(path, npz_bytes(arrays))


def read_npz(path: Path | str, names: tuple[str, ...], data: bytes | None = None) -> dict[str, np.ndarray]:
    """Read exactly ``names`` from an ``.npz`` written by :func:`write_npz` (no pickles).

    ``data``: the file's bytes, when the caller has already read them (the file is not read again).
    """
    path = Path(path)
    from pipeline.errors import PipelineError

    try:
        with np.load(path if data is None else io.BytesIO(data), allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            if missing:
                raise PipelineError(f"{path} lacks array(s) {missing}; it holds {z.files}")
            return {n: z[n] for n in names}
    except FileNotFoundError:
        raise PipelineError(f"{path} not found; run the stage that writes it (dvc repro)") from None
