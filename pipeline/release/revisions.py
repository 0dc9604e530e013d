"""Files at git revisions, read with ``git show REV:path`` (the published files are git-tracked,
so no DVC checkout is needed). ``rev=None`` means the working tree.

A release's revision is the commit that recorded it: the first commit, oldest first, whose
``releases.json`` holds its version. Its tag ``tinydigits@vX.Y.Z`` follows that commit
(``make tags``, :mod:`pipeline.release.tags`); where the tag is not in a clone (tags do not travel with
a branch), :func:`resolve` finds the same commit from the record. Every failure is a
:class:`RevisionError` with one line saying what is absent.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from pipeline.core import config
from pipeline.core.errors import RevisionError

TAG_PREFIX = "tinydigits@v"
RECORD_PATH = config.RECORD_FILE.as_posix()
_TAG = re.compile(re.escape(TAG_PREFIX) + r"(\d+\.\d+\.\d+)")


def git(
    args: list[str], root: Path = Path("."), env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run git in ``root``; bytes out, never raises on a non-zero exit."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, env=env)


def tag_of(version: str) -> str:
    return f"{TAG_PREFIX}{version}"


def resolve(rev: str, root: Path = Path(".")) -> str:
    """The full commit hash ``rev`` names (a branch, tag or commit). A release tag missing from
    this clone (``tinydigits@v1.0.0``) names the commit that recorded that release in HEAD's
    ``releases.json``, the commit ``make tags`` puts the tag on."""
    out = git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    if out.returncode == 0:
        return out.stdout.decode().strip()
    match = _TAG.fullmatch(rev)
    commit = recording_commit(match.group(1), root) if match else None
    if commit is None:
        hint = ""
        if match:
            version, head = match.group(1), git(["show", f"HEAD:{RECORD_PATH}"], root)
            hint = (
                f"; release {version} is in {RECORD_PATH} but the commit that recorded it is not "
                "in this clone (a shallow clone? run `git fetch --unshallow`)"
                if head.returncode == 0 and version in recorded_versions(head.stdout)
                else f"; release {version} is not in this clone's {RECORD_PATH} either"
            )
        raise RevisionError(
            f"unknown revision {rev!r}: not a branch, tag or commit of this repository{hint}"
        )
    return commit


def recorded_versions(blob: bytes) -> list[str]:
    """The versions a ``releases.json`` holds ([] when it is not a readable record)."""
    try:
        return [str(e["version"]) for e in json.loads(blob)["releases"]]
    except (ValueError, KeyError, TypeError):
        return []


def recording_commit(
    version: str, root: Path = Path("."), head: str = "HEAD", record_path: str = RECORD_PATH
) -> str | None:
    """The first commit in ``head``'s history, oldest first, whose ``record_path`` holds ``version``
    (None when there is none, or when the history in this clone is too shallow to hold it)."""
    out = git(["log", "--topo-order", "--reverse", "--format=%H", head, "--", record_path], root)
    for commit in out.stdout.decode().split():
        blob = git(["show", f"{commit}:{record_path}"], root)
        if blob.returncode == 0 and version in recorded_versions(blob.stdout):
            # A shallow clone's oldest commit holds the record of all the history cut off before
            # it: the release may have been recorded earlier, so this commit cannot be named.
            return None if commit in shallow_commits(root) else commit
    return None


def shallow_commits(root: Path = Path(".")) -> set[str]:
    """The commits whose parents this clone lacks (a shallow clone's oldest); none in a full clone."""
    where = git(["rev-parse", "--git-path", "shallow"], root).stdout.decode().strip()
    try:
        return set((Path(root) / where).read_text(encoding="ascii").split()) if where else set()
    except FileNotFoundError:
        return set()


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
    version: str, record_path: str | Path = RECORD_PATH, root: Path = Path(".")
) -> tuple[str, str]:
    """(revision, how it was found) for a recorded release: its tag, else the commit that first
    recorded ``version`` in ``record_path`` (where ``make tags`` would put the tag)."""
    tag = tag_of(version)
    if has_tag(tag, root):
        return tag, f"tag {tag}, commit {resolve(tag, root)[:7]}"
    commit = recording_commit(version, root, record_path=Path(record_path).as_posix())
    if commit is None:
        raise RevisionError(
            f"release {version} is in {record_path} but neither tag {tag} nor the commit that recorded it "
            "is in this clone; run `git fetch --tags` (or `git fetch --unshallow` in a shallow clone)"
        )
    return (
        commit,
        f"commit {commit[:7]}, which recorded it; tag {tag} is not in this clone (make tags)",
    )


def changes(root: Path = Path(".")) -> list[str]:
    """``git status --porcelain`` lines: empty when nothing is modified or untracked."""
    return (
        git(["status", "--porcelain", "--untracked-files=all"], root).stdout.decode().splitlines()
    )
