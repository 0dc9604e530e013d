"""Files at git revisions, read with ``git show REV:path`` (the published files are git-tracked,
so no DVC checkout is needed). ``rev=None`` means the working tree.

A release is found by its tag ``tinydigits@vX.Y.Z``; when the tag is missing (tags do not
always travel with a clone), by the commit that first recorded the version in
``releases.json``. Every failure is a :class:`RevisionError` with one line saying what is absent.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.core.errors import RevisionError

TAG_PREFIX = "tinydigits@v"


def git(args: list[str], root: Path = Path(".")) -> subprocess.CompletedProcess:
    """Run git in ``root``; bytes out, never raises on a non-zero exit."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True)


def tag_of(version: str) -> str:
    return f"{TAG_PREFIX}{version}"


def resolve(rev: str, root: Path = Path(".")) -> str:
    """The full commit hash ``rev`` names (a branch, tag or commit)."""
    out = git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    if out.returncode:
        hint = (
            "; tags may not have been fetched into this clone (git fetch --tags)"
            if "@" in rev
            else ""
        )
        raise RevisionError(
            f"unknown revision {rev!r}: not a branch, tag or commit of this repository{hint}"
        )
    return out.stdout.decode().strip()


def has_tag(tag: str, root: Path = Path(".")) -> bool:
    return git(["rev-parse", "--verify", "--quiet", f"refs/tags/{tag}"], root).returncode == 0


def show(rev: str | None, path: str | Path, root: Path = Path(".")) -> bytes:
    """The bytes of ``path`` at ``rev`` (``None``: the working tree)."""
    path = Path(path).as_posix()
    if rev is None:
        try:
            return (root / path).read_bytes()
        except FileNotFoundError:
            raise RevisionError(f"{path} does not exist in the working tree") from None
    out = git(["show", f"{resolve(rev, root)}:{path}"], root)
    if out.returncode:
        raise RevisionError(f"{path} does not exist at revision {rev!r}")
    return out.stdout


def exists(rev: str | None, path: str | Path, root: Path = Path(".")) -> bool:
    if rev is None:
        return (root / path).is_file()
    return (
        git(["cat-file", "-e", f"{resolve(rev, root)}:{Path(path).as_posix()}"], root).returncode
        == 0
    )


def release_revision(
    version: str, record_path: str | Path, root: Path = Path(".")
) -> tuple[str, str]:
    """(revision, how it was found) for a recorded release: its tag, else the commit that first
    recorded ``version`` in ``record_path``."""
    tag = tag_of(version)
    if has_tag(tag, root):
        return tag, f"tag {tag}, commit {resolve(tag, root)[:7]}"
    needle = f'"version": "{version}"'
    out = git(
        ["log", "--format=%H", "--reverse", "-S", needle, "--", Path(record_path).as_posix()], root
    )
    commits = out.stdout.decode().split()
    if out.returncode or not commits:
        raise RevisionError(
            f"release {version} is in {record_path} but neither tag {tag} nor the commit that recorded it "
            "is in this clone; run `git fetch --tags` (or `git fetch --unshallow` in a shallow clone)"
        )
    return commits[0], f"commit {commits[0][:7]}, which recorded it; tag {tag} is not in this clone"


def changes(root: Path = Path(".")) -> list[str]:
    """``git status --porcelain`` lines: empty when nothing is modified or untracked."""
    return (
        git(["status", "--porcelain", "--untracked-files=all"], root).stdout.decode().splitlines()
    )
