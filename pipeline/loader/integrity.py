"""Is this the published file? Not a Git LFS pointer, and the bytes its ``dvc.lock`` records.

A Git LFS pointer is what a clone without Git LFS holds instead of the data: a small UTF-8
text file (under 1,024 bytes) of ``key value`` lines, ``version`` first
(https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md)::

    version https://git-lfs.github.com/spec/v1
    oid sha256:254293630e549113002cdc3f7f1542715e0a40288a3a8a0358fb8e478dce1e54
    size 264255

Loading one as a pickle fails with ``invalid load key, 'v'``; as an ``.npz`` with "not a zip file".
The digest is the md5 and size that the nearest ``dvc.lock`` records (DVC 3 records md5).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import config
from pipeline.core.errors import DatasetError, DigestError, LfsPointerError

log = logging.getLogger(__name__)

LOCK_FILE = config.DVC_LOCK_FILE
MAX_POINTER_BYTES = 1024
# The spec's version URL, and the one its pre-release ("hawser") clients wrote.
_VERSIONS = (
    b"version https://git-lfs.github.com/spec/",
    b"version https://hawser.github.com/spec/",
)


@dataclass(frozen=True)
class LfsPointer:
    # e.g. "sha256:2542..."; empty when the pointer names none
    oid: str
    # bytes of the real file; None when the pointer does not say
    size: int | None


def parse_pointer(data: bytes) -> LfsPointer | None:
    """The pointer ``data`` holds, or None when ``data`` is not a Git LFS pointer file."""
    if len(data) >= MAX_POINTER_BYTES or not data.startswith(_VERSIONS):
        return None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return None
    fields = dict(line.partition(" ")[::2] for line in lines if line)
    size = fields.get("size", "")
    return LfsPointer(
        oid=fields.get("oid", ""), size=int(size) if size.isascii() and size.isdigit() else None
    )


def check_not_lfs_pointer(path: Path, data: bytes) -> None:
    """Raise :class:`LfsPointerError` when ``data`` is a Git LFS pointer rather than the file itself."""
    pointer = parse_pointer(data)
    if pointer is None:
        return
    real = f"a {pointer.size:,}-byte file" if pointer.size is not None else "the real file"
    other = (
        " or download the real file"
        if path.suffix == ".npz"
        else f', or load the .npz instead (load({path.stem!r}, format="npz"))'
    )
    raise LfsPointerError(
        f"{path} is a Git LFS pointer, not the data: {len(data):,} bytes of text standing for {real} "
        f"(oid {pointer.oid or 'not given'}); this copy was made without Git LFS. "
        f"Fix: `git lfs install && git lfs pull` in the clone{other}"
    )


# ---- digest ------------------------------------------------------------------------------


def recorded_digest(path: Path) -> tuple[str, int, Path] | None:
    """``(md5, size, lock)`` that the nearest ``dvc.lock`` above ``path`` records for it, else None.

    The search stops at the first folder holding a ``dvc.lock``, ``.dvc`` or ``.git``.
    """
    path = Path(path).resolve()
    for folder in path.parents:
        lock = folder / LOCK_FILE
        if lock.is_file():
            return _lookup(lock, path.relative_to(folder).as_posix())
        if (folder / ".dvc").exists() or (folder / ".git").exists():
            return None
    return None


def _lookup(lock: Path, rel: str) -> tuple[str, int, Path] | None:
    try:
        import yaml
    except ImportError:
        raise DatasetError(
            f"{lock} records digests but PyYAML is not installed to read it; "
            "install pyyaml, or pass verify=False to load unverified"
        ) from None
    try:
        stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
        for stage in stages.values():
            for out in stage.get("outs", []):
                if out.get("path") == rel and "md5" in out:
                    return str(out["md5"]), int(out["size"]), lock
    except (yaml.YAMLError, AttributeError, TypeError, KeyError, ValueError) as err:
        raise DigestError(
            f"{lock} is not a readable dvc.lock ({err}); cannot verify {rel}"
        ) from None
    return None


def check_digest(path: Path, data: bytes, verify: bool | None) -> str:
    """Compare ``data`` (the bytes of ``path``) with its ``dvc.lock`` record; return what was checked."""
    if verify is False:
        return "not verified (verify=False)"
    record = recorded_digest(path)
    if record is None:
        if verify:
            raise DigestError(
                f"no dvc.lock above {path} records it, so its digest cannot be verified"
            )
        log.debug("%s: no dvc.lock records it; loading unverified", path)
        return "not verified (no dvc.lock records it)"
    md5, size, lock = record
    actual = hashlib.md5(data).hexdigest()
    if (actual, len(data)) != (md5, size):
        raise DigestError(
            f"{path} has md5 {actual} ({len(data):,} bytes) but {lock} records md5 {md5} ({size:,} bytes): "
            f"the file changed after the last `dvc repro`. Restore it (`git checkout -- {path}`) or "
            f"rebuild it (`dvc repro`), or pass verify=False to load it anyway"
        )
    return f"md5 {md5[:12]} as {lock.name} records"
