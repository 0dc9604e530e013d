"""Atomic, byte-deterministic file writes, and the matching readers.

Every write goes to a temporary file in the destination folder and is moved into place
with :func:`os.replace`, so a reader (or a killed stage) never sees a half-written file.
``.npz`` archives are laid out here, byte by byte, rather than by :mod:`zipfile`:
``numpy.savez`` stamps the current time, and :mod:`zipfile` itself writes different headers
in different CPython patch releases (3.11.2 and 3.11.7 disagree on the zip64 fields), either
of which would make the same arrays give different files, and churn ``dvc.lock``.
"""

from __future__ import annotations

import fcntl
import glob
import io
import os
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError, WriteError

# Every entry is stored (not compressed) and stamped 1980-01-01 00:00, the zip epoch, as
# MS-DOS date and time fields; files are regular, mode 0644, "made by" Unix, zip spec 2.0.
_DOS_DATE, _DOS_TIME = (1 << 5) | 1, 0
_VERSION = 20
_MADE_BY = (3 << 8) | _VERSION
_MODE = 0o100644 << 16
# beyond this, zip64 records would be needed; TinyDigits is far below
_ZIP_MAX = 0xFFFFFFFF


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, replace.

    The temp file is ``flock``-ed until it is moved into place. A writer killed mid-way
    leaves its temp file behind with no lock on it; the next write to ``path`` removes it.
    Two writers of one path at once (DVC's locks prevent that) can make one fail, never
    leave a partial file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphaned_temps(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        # a file where a folder on its way should be: say which
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        why = f"{blocking} is a file, not a folder" if blocking else err.strerror or err
        raise WriteError(f"cannot write {path}: {why}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            # still locked: no cleaner can take it for an orphan
            os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            why = "a folder is in its place" if path.is_dir() else err.strerror or err
            raise WriteError(
                f"cannot write {path}: {why}; whatever was there is unchanged"
            ) from None
        raise


def remove_orphaned_temps(path: Path | str) -> None:
    """Delete temp files of ``path`` left by killed writers (those no live process locks)."""
    path = Path(path)
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # a live writer holds it
            continue
        else:
            tmp.unlink(missing_ok=True)
        finally:
            os.close(fd)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` of ``arrays`` (loadable with ``allow_pickle=False``).

    The bytes depend only on the names, dtypes, shapes and values of ``arrays`` (in order),
    not on the clock or the Python version. Object arrays raise ``ValueError``.
    """
    members = []
    for name, array in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
        members.append((f"{name}.npy".encode(), buf.getvalue()))
    return zip_stored(members)


def zip_stored(members: list[tuple[bytes, bytes]]) -> bytes:
    """A zip archive of ``(name, data)`` members, stored uncompressed, with fixed metadata."""
    local, central = [], []
    offset = 0
    for name, data in members:
        crc = zlib.crc32(data)
        if len(data) > _ZIP_MAX or offset > _ZIP_MAX:
            raise ValueError(
                f"{name.decode()}: {len(data):,} bytes at offset {offset:,} needs zip64; "
                f"npz_bytes writes archives under 4 GiB"
            )
        fields = (_VERSION, 0, 0, _DOS_TIME, _DOS_DATE, crc, len(data), len(data), len(name))
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields, 0) + name
        central.append(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", _MADE_BY, *fields, 0, 0, 0, 0, _MODE, offset)
            + name
        )
        local += [header, data]
        offset += len(header) + len(data)
    directory = b"".join(central)
    if len(members) > 0xFFFF or offset > _ZIP_MAX:
        raise ValueError(
            f"{len(members)} members, {offset:,} bytes: npz_bytes writes archives under 4 GiB"
        )
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), offset, 0
    )
    return b"".join(local) + directory + end


def write_npz(path: Path | str, **arrays: np.ndarray) -> None:
    atomic_write_bytes(path, npz_bytes(arrays))


def read_npz(
    path: Path | str, names: tuple[str, ...], data: bytes | None = None
) -> dict[str, np.ndarray]:
    """Read exactly ``names`` from an ``.npz`` written by :func:`write_npz` (no pickles).

    ``data``: the file's bytes, when the caller has already read them (the file is not read again).
    """
    path = Path(path)
    try:
        with np.load(path if data is None else io.BytesIO(data), allow_pickle=False) as z:
            missing = [n for n in names if n not in z.files]
            if missing:
                raise PipelineError(f"{path} lacks array(s) {missing}; it holds {z.files}")
            return {n: z[n] for n in names}
    except FileNotFoundError:
        raise PipelineError(f"{path} not found; run the stage that writes it (dvc repro)") from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        # damaged, truncated, or holding pickled objects (never loaded): not what write_npz wrote
        raise PipelineError(
            f"{path} is not a readable .npz of arrays ({type(err).__name__}: {err}); "
            f"`dvc checkout --force {path}` restores it from the cache, `dvc repro` rebuilds it"
        ) from None
