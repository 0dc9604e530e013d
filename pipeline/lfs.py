"""Recognise a Git LFS pointer file: what a clone without Git LFS holds instead of the data.

A pointer is a small UTF-8 text file (under 1,024 bytes) of ``key value`` lines, ``version`` first
(https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md)::

    version https://git-lfs.github.com/spec/v1
    oid sha256:254293630e549113002cdc3f7f1542715e0a40288a3a8a0358fb8e478dce1e54
    size 264255

Loading one as a pickle fails with ``invalid load key, 'v'``; as an ``.npz`` with "not a zip file".
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_POINTER_BYTES = 1024
# The spec's version URL, and the one its pre-release ("hawser") clients wrote.
_VERSIONS = (
    b"version https://git-lfs.github.com/spec/",
    b"version https://hawser.github.com/spec/",
)


@dataclass(frozen=True)
class LfsPointer:
    oid: str  # e.g. "sha256:2542..."; empty when the pointer names none
    size: int | None  # bytes of the real file; None when the pointer does not say


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
