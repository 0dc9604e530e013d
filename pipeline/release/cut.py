"""``make release VERSION=X.Y.Z``: record the committed dataset as a release, commit, tag.

    $ make release VERSION=2.0.0 [NOTES="why"]     # or: python -m pipeline release 2.0.0 [--notes ...]
    release: 2.0.0 is a MAJOR release: train: images or labels changed (1,000 -> 900 images)
    release: make check-repro: HEAD 1a2b3c4 reproduces byte for byte
    release: committed 5d6e7f8 and tagged tinydigits@v2.0.0; ...

It refuses (exit 1; ``make`` then exits 2) with one message, writing nothing and tagging nothing, unless: VERSION is
MAJOR.MINOR.PATCH and greater than the last release; its tag does not exist; the working tree is
clean; the bump matches the change (:func:`pipeline.release.record.required_bump`); and, last because
it is slow, ``make check-repro`` passes. Then it appends the entry to ``releases.json``, rewrites
``CHANGELOG.md`` from the record, runs ``dvc repro`` (the card names the release, so the
benchmark stage rewrites it), checks that no published file changed, commits, and tags the commit
with :func:`pipeline.release.tags.ensure`, as ``make tags`` does (so a missing older tag is made too).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from pipeline.core import config, params
from pipeline.core.errors import PipelineError, ReleaseError
from pipeline.core.runner import run_child, summary
from pipeline.core.storage import atomic_write_bytes
from pipeline.release import changelog, diff, fingerprint, record, revisions, tags

log = logging.getLogger(__name__)
INTERRUPTED_HINT = (
    "interrupted; nothing was released (the tree is back at the commit it started from)"
)
CHECK_REPRO = Path("scripts/check_repro.py")


def next_version(version: str, level: str) -> str:
    major, minor, patch = record.parse_version(version)
    return {
        "MAJOR": f"{major + 1}.0.0",
        "MINOR": f"{major}.{minor + 1}.0",
        "PATCH": f"{major}.{minor}.{patch + 1}",
    }[level]


def current_files(root: Path = Path(".")) -> dict[str, bytes]:
    names = fingerprint.published_names((root / "dvc.yaml").read_text(encoding="utf-8"))
    missing = [n for n in names if not (root / config.DATASET_DIR / n).is_file()]
    if missing:
        raise ReleaseError(
            f"published file(s) {', '.join(missing)} missing from {config.DATASET_DIR}; run make repro"
        )
    return {n: (root / config.DATASET_DIR / n).read_bytes() for n in names}


def plan(version: str, root: Path = Path(".")) -> tuple[list[dict], str, list[str], dict]:
    """The cheap checks, in order; (entries, bump level, reasons, measured facts) when all pass."""
    record.parse_version(version)
    entries = record.load(path=root / record.RECORD_FILE)
    if not entries:
        raise ReleaseError(
            f"{record.RECORD_FILE} records no release; the first (1.0.0) is recorded by hand"
        )
    last = entries[-1]["version"]
    level = record.bump_level(last, version)
    if level is None:
        raise ReleaseError(f"VERSION {version} is not greater than the last release, {last}")
    tag = revisions.tag_of(version)
    if revisions.has_tag(tag, root):
        raise ReleaseError(f"tag {tag} already exists; choose a version above {last}")
    dirty = revisions.changes(root)
    if dirty:
        shown = ", ".join(line[3:] for line in dirty[:3]) + (
            f" and {len(dirty) - 3} more" if len(dirty) > 3 else ""
        )
        raise ReleaseError(
            f"the working tree is not clean ({shown}); commit or stash first: a release is a commit"
        )
    unchanged_since(last, root)
    now = fingerprint.measure(current_files(root))
    required, reasons = record.required_bump(entries[-1], now)
    if level != required:
        raise ReleaseError(
            f"VERSION {version} is a {level} bump but the change since {last} is {required} "
            f"({'; '.join(reasons)}); release it as {next_version(last, required)}"
        )
    return entries, level, reasons, now


def unchanged_since(last: str, root: Path) -> None:
    """Refuse when HEAD's tree is the last release's (skipped when that revision is not in the clone)."""
    try:
        rev, how = revisions.release_revision(last, record.RECORD_FILE, root)
    except PipelineError:
        return
    if revisions.git(["diff", "--quiet", rev, "HEAD", "--"], root).returncode == 0:
        raise ReleaseError(
            f"nothing changed since release {last} ({how}): HEAD holds the same files"
        )


def check_repro(root: Path = Path(".")) -> None:
    log.info("running make check-repro: a clean clone of HEAD rebuilt from scratch (slow)")
    # on Ctrl-C the gate removes its clone before this process goes on
    result = run_child([sys.executable, str(CHECK_REPRO)], cwd=root)
    lines = result.stdout.strip().splitlines()
    if result.returncode:
        failed = [line for line in lines if "FAIL" in line] or lines[-3:] or [result.stderr.strip()]
        raise ReleaseError(
            "make check-repro fails, so HEAD is not a reproducible release: "
            + " | ".join(line.replace("check-repro: ", "") for line in failed)
        )
    log.info("make check-repro: %s", lines[-1].replace("check-repro: ", "") if lines else "passed")


def sh(cmd: list[str], root: Path) -> str:
    """Run ``cmd`` in ``root`` with this interpreter's environment first on PATH (``.venv`` need not
    be activated); its stdout, or a :class:`ReleaseError` quoting its error line (git's ``fatal:``
    or ``error:``, else its last line of output)."""
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
    if result.returncode:
        said = (result.stderr or result.stdout).strip().splitlines()
        # git ends some errors with a usage hint: quote its error line, else the last line
        errors = [line for line in said if line.startswith(("fatal:", "error:"))]
        nothing = f"exit status {result.returncode}, nothing printed"
        raise ReleaseError(f"`{' '.join(cmd)}` failed: {(errors or said or [nothing])[-1]}")
    return result.stdout


def release_date(root: Path = Path(".")) -> str:
    """The day of the release, YYYY-MM-DD in UTC: HEAD's committer date, the commit being released.

    Read from git, not the clock: the date is a fact of the commit the entry describes, so a release
    rerun on the same commit records the same bytes, and a test can fix it with GIT_COMMITTER_DATE."""
    out = revisions.git(["log", "-1", "--format=%ct", "HEAD"], root)
    if out.returncode:
        raise ReleaseError(f"cannot read HEAD's commit date: {out.stderr.decode().strip()}")
    seconds = int(out.stdout.decode())
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).date().isoformat()


def entry(
    version: str,
    level: str | None,
    since: str | None,
    now: dict,
    accuracy: float,
    change: dict | None,
    notes: str,
    root: Path = Path("."),
) -> dict:
    return {
        "version": version,
        "tag": revisions.tag_of(version),
        "date": release_date(root),
        "bump": level,
        "since": since,
        "params": record.params_dict(params.load(root / config.PARAMS_FILE)),
        "test_accuracy": accuracy,
        **now,
        "change": change,
        "notes": notes,
    }


def measured_change(since: str, root: Path) -> dict | None:
    """The image-level comparison with the last release, or None when its revision is not in this clone."""
    try:
        rev, how = revisions.release_revision(since, record.RECORD_FILE, root)
        change = diff.compare(diff.snapshot(rev, root).splits, diff.snapshot(None, root).splits)
    except PipelineError as err:
        log.warning("no image-level comparison with %s in the changelog: %s", since, err)
        return None
    log.info("compared image by image with %s (%s)", since, how)
    return {k: change[k] for k in ("train", "test", "moved", "relabelled")}


def release(version: str, notes: str = "", root: Path = Path(".")) -> str:
    entries, level, reasons, now = plan(version, root)
    log.info("%s is a %s release: %s", version, level, "; ".join(reasons))
    check_repro(root)
    accuracy = json.loads((root / config.METRICS_FILE).read_text())["test_accuracy"]
    since = entries[-1]["version"]
    entries = [
        *entries,
        entry(version, level, since, now, accuracy, measured_change(since, root), notes, root),
    ]
    tag, head = revisions.tag_of(version), revisions.resolve("HEAD", root)
    try:
        atomic_write_bytes(root / record.RECORD_FILE, record.record_bytes(entries))
        atomic_write_bytes(root / record.CHANGELOG_FILE, changelog.render(entries).encode())
        # the card names the release
        sh([sys.executable, "-m", "dvc", "--wait-for-lock", "repro"], root)
        if fingerprint.measure(current_files(root)) != now:
            raise ReleaseError(
                "a published file changed when the card was regenerated; the record must not "
                "feed any published file but the card"
            )
        sh(["git", "add", "-A"], root)
        sh(["git", "commit", "-q", "-m", f"Release {tag}: {level}, {'; '.join(reasons)}"], root)
        # The tag follows the record, as `make tags` makes it: this release's, and any missing older one.
        created = [t.name for t in tags.ensure(root)]
    except BaseException:
        # The tree was clean at head (no untracked file either), so what differs now is this
        # release's: tracked files back, and the files it created (a first CHANGELOG.md) removed.
        revisions.git(["reset", "-q", "--hard", head], root)
        revisions.git(["clean", "-q", "-f", "-d"], root)
        raise
    commit = revisions.resolve("HEAD", root)[:7]
    log.info(
        "committed %s and tagged %s; publish with: git push (CI's tags job then tags the pushed "
        "record), or push the tags yourself: git push origin %s",
        commit,
        ", ".join(created),
        " ".join(created),
    )
    return tag


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline release",
        description=summary(__doc__),
    )
    parser.add_argument("version", help="MAJOR.MINOR.PATCH, greater than the last release")
    parser.add_argument("--notes", default="", help="one paragraph for the changelog")
    args = parser.parse_args(argv)
    release(args.version, args.notes)
