"""``make tags``: give every recorded release its annotated git tag, derived from the record.

    $ make tags                                      # or: python -m pipeline tags
    tags: tinydigits@v1.0.0 created at 1047769, the commit that recorded 1.0.0 (4 files match the record)
    tags: tinydigits@v1.1.0 already at 3c2d1e0, the commit that recorded 1.1.0
    tinydigits@v1.0.0

The record, HEAD's ``releases.json``, is the source of truth; tags follow it. A release's commit is
the first commit, oldest first, whose ``releases.json`` holds its version. Before any tag is made,
every release is checked: each file its entry records must be at that commit with the recorded
size and sha256, and an existing tag must be annotated and point at that commit. Any disagreement
is refused, one line per problem naming the release, the file and both digests, and no tag is made.

A tag's message lists the release's files (:func:`pipeline.release.changelog.tag_message`) and its tagger is
the recording commit's committer, name, e-mail and date: every clone that runs ``make tags``
makes byte-identical tag objects, so CI's tags and a maintainer's never disagree. Created tags are
printed on stdout, one per line (what the workflow pushes); the rest goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.core import config
from pipeline.core.errors import ReleaseError
from pipeline.core.runner import summary
from pipeline.release import changelog, record, revisions

log = logging.getLogger(__name__)
# what `python -m pipeline tags` says when Ctrl-C stops it: `git tag` makes each tag in one step
INTERRUPTED_HINT = "interrupted; each tag made so far is whole; run `make tags` again for the rest"


@dataclass(frozen=True)
class Tag:
    """One release's tag: where it belongs and whether it is already there."""

    version: str
    name: str
    commit: str
    exists: bool
    entry: dict


def problems_at(entry: dict, commit: str, root: Path) -> list[str]:
    """Why the files at ``commit`` are not the release ``entry`` records ([] when they are)."""
    found = []
    for name, want in sorted(entry["files"].items()):
        path = (config.DATASET_DIR / name).as_posix()
        blob = revisions.git(["show", f"{commit}:{path}"], root)
        if blob.returncode:
            found.append(
                f"release {entry['version']}: {path} is absent at {commit[:7]}, the commit that "
                f"recorded it; the record says {want['bytes']:,} bytes sha256 {want['sha256']}"
            )
            continue
        got = hashlib.sha256(blob.stdout).hexdigest()
        if got != want["sha256"] or len(blob.stdout) != want["bytes"]:
            found.append(
                f"release {entry['version']}: {path} at {commit[:7]} is {len(blob.stdout):,} bytes "
                f"sha256 {got}, but the record says {want['bytes']:,} bytes sha256 {want['sha256']}"
            )
    return found


def plan(root: Path = Path(".")) -> list[Tag]:
    """Every release in HEAD's record with its commit; raises :class:`ReleaseError` listing every
    problem (a file that disagrees with the record, a tag elsewhere or not annotated)."""
    shown = revisions.git(["show", f"HEAD:{config.RECORD_FILE.as_posix()}"], root)
    if shown.returncode:
        raise ReleaseError(f"HEAD has no {config.RECORD_FILE}: there is no release to tag")
    entries = record.load(shown.stdout.decode(), path=config.RECORD_FILE)
    found, tags = [], []
    for entry in entries:
        version, name = entry["version"], revisions.tag_of(entry["version"])
        commit = revisions.recording_commit(version, root)
        if commit is None:
            found.append(
                f"release {version}: no commit of HEAD's history records it in {config.RECORD_FILE} "
                "(a shallow clone? run `git fetch --unshallow`)"
            )
            continue
        found += problems_at(entry, commit, root)
        exists = revisions.has_tag(name, root)
        if exists:
            found += _tag_problems(name, version, commit, root)
        tags.append(Tag(version, name, commit, exists, entry))
    if found:
        raise ReleaseError("no tag was made: " + " | ".join(found))
    return tags


def _tag_problems(name: str, version: str, commit: str, root: Path) -> list[str]:
    kind = revisions.git(["cat-file", "-t", f"refs/tags/{name}"], root).stdout.decode().strip()
    at = revisions.resolve(name, root)
    if at != commit:
        return [
            f"release {version}: tag {name} points at {at[:7]}, but the commit that recorded "
            f"{version} is {commit[:7]}; delete the tag (git tag -d {name}) if it is wrong"
        ]
    if kind != "tag":
        return [
            f"release {version}: tag {name} at {commit[:7]} is a lightweight tag, which GTO and "
            f"`dvc artifacts` ignore; replace it: git tag -d {name} && make tags"
        ]
    return []


def ensure(root: Path = Path(".")) -> list[Tag]:
    """Create every missing tag (after :func:`plan` found no problem); returns the ones created."""
    created = []
    for tag in plan(root):
        if tag.exists:
            log.info(
                "%s already at %s, the commit that recorded %s",
                tag.name,
                tag.commit[:7],
                tag.version,
            )
            continue
        who = revisions.git(["log", "-1", "--format=%cn%x00%ce%x00%cI", tag.commit], root)
        name, email, date = who.stdout.decode().strip().split("\0")
        env = dict(
            os.environ, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email, GIT_COMMITTER_DATE=date
        )
        message = changelog.tag_message(tag.entry)
        out = revisions.git(["tag", "-a", tag.name, "-m", message, tag.commit], root, env=env)
        if out.returncode:
            raise ReleaseError(f"git tag {tag.name} failed: {out.stderr.decode().strip()}")
        log.info(
            "%s created at %s, the commit that recorded %s (%d files match the record)",
            tag.name,
            tag.commit[:7],
            tag.version,
            len(tag.entry["files"]),
        )
        created.append(tag)
    return created


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline tags",
        description=summary(__doc__),
    )
    parser.parse_args(argv)
    for tag in ensure():
        print(tag.name)
    sys.stdout.flush()
