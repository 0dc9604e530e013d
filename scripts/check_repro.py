"""The reproducibility gate: rebuild HEAD from scratch in a clean clone and compare every byte.

    $ make check-repro          # or: .venv/bin/python scripts/check_repro.py [--fresh] [--keep]
    check-repro: cloned HEAD 2a30faf into /tmp/check-repro-zomx9e43/tinydigits
    check-repro: environment: reusing /home/me/tinydigits/.venv, which holds exactly the pins of requirements.lock
    check-repro: dvc repro --force: 8 stages ran in 12.3 s: params, fetch, sample, ...
    check-repro: PASS git status --porcelain is empty: every tracked file is byte-identical
    ...
    check-repro: HEAD 2a30faf reproduces byte for byte (14.8 s)

Uncommitted changes are not part of the check: it clones HEAD. The environment is this
checkout's ``.venv`` when it holds exactly the pins of HEAD's ``requirements.lock`` (nothing
missing, no other version, nothing extra), otherwise, or with ``--fresh``, a new one made in the
clone by ``make install``, as the README says. Exit 0 when every check passes, 1 otherwise
with a list of what differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline.core.runner import run  # noqa: E402
from scripts.repro_setup import clone_head, environment, say, sh, tail  # noqa: E402

HERE = Path(__file__).resolve().parent
TEXT_SUFFIXES = {
    ".lock",
    ".yaml",
    ".yml",
    ".json",
    ".md",
    ".csv",
    ".tsv",
    ".txt",
    ".py",
    ".toml",
    ".svg",
}
# lines of a text diff shown per file
DIFF_LINES = 12


# ---- checks --------------------------------------------------------------------------------


def describe_change(clone: Path, status: str, rel: str) -> list[str]:
    """What differs in one ``git status --porcelain`` entry."""
    path = clone / rel
    if status.strip() != "M" or not path.is_file():
        return [
            f"{status} {rel}" + (" (not tracked by git and not ignored)" if status == "??" else "")
        ]
    old = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=clone, capture_output=True).stdout
    new = path.read_bytes()
    lines = [
        f"{status} {rel}: committed {len(old):,} bytes sha256 {hashlib.sha256(old).hexdigest()[:16]}, "
        f"rebuilt {len(new):,} bytes sha256 {hashlib.sha256(new).hexdigest()[:16]}"
    ]
    if rel == "dvc.lock":
        lines += _first(lock_changes(old.decode(), new.decode()), "changed entries")
    elif path.suffix in TEXT_SUFFIXES:
        diff = sh(["git", "diff", "--no-color", "-U0", "--", rel], clone).stdout.splitlines()
        lines += _first(
            [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))],
            "changed lines",
        )
    return lines


def _first(changed: list[str], what: str) -> list[str]:
    """The first :data:`DIFF_LINES` of ``changed``, indented, and a count of the rest."""
    more = [f"... {len(changed) - DIFF_LINES} more {what}"] if len(changed) > DIFF_LINES else []
    return [f"      {line}" for line in changed[:DIFF_LINES] + more]


def lock_changes(old: str, new: str) -> list[str]:
    """``stage dep|out path: committed -> rebuilt`` for every entry of ``dvc.lock`` that differs."""

    def flat(text: str) -> dict[str, str]:
        entries = {}
        for stage, body in ((yaml.safe_load(text) or {}).get("stages") or {}).items():
            entries[f"{stage} cmd"] = str(body.get("cmd"))
            for kind in ("deps", "outs"):
                for entry in body.get(kind) or []:
                    entries[f"{stage} {kind[:-1]} {entry['path']}"] = (
                        f"md5 {entry.get('md5')} ({entry.get('size')} bytes)"
                    )
            for file, values in (body.get("params") or {}).items():
                entries[f"{stage} params {file}"] = json.dumps(values, sort_keys=True)
        return entries

    a, b = flat(old), flat(new)
    return [
        f"{key}: {a.get(key, '(absent)')} -> {b.get(key, '(absent)')}"
        for key in sorted(a.keys() | b.keys())
        if a.get(key) != b.get(key)
    ]


def check_git(clone: Path, env: dict) -> list[str]:
    porcelain = sh(
        ["git", "status", "--porcelain", "--untracked-files=all"], clone
    ).stdout.splitlines()
    return [line for entry in porcelain for line in describe_change(clone, entry[:2], entry[3:])]


def check_dvc_status(clone: Path, env: dict) -> list[str]:
    if sh(["dvc", "status", "-q"], clone, env).returncode == 0:
        return []
    return sh(["dvc", "status"], clone, env).stdout.strip().splitlines() or [
        "dvc status -q exited non-zero"
    ]


def check_command(cmd: list) -> Callable[[Path, dict], list[str]]:
    def check(clone: Path, env: dict) -> list[str]:
        result = sh(cmd, clone, env)
        return (
            [] if result.returncode == 0 else (result.stdout + result.stderr).strip().splitlines()
        )

    return check


# (what passing means, check)
CHECKS = [
    (
        "git status --porcelain is empty: every tracked file is byte-identical, nothing new",
        check_git,
    ),
    ("dvc status -q exits 0: every stage is up to date", check_dvc_status),
    (
        "the md5 and size dvc.lock records match every file, and every cache object matches its name",
        check_command(["python", HERE / "verify_data.py", "."]),
    ),
    (
        "pipeline.load verifies train and test against dvc.lock; each .pkl holds the same arrays as its .npz",
        check_command(["python", "-m", "pipeline", "load"]),
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--fresh", action="store_true", help="always install a new .venv in the clone"
    )
    parser.add_argument(
        "--python", help="build the clone's .venv with this interpreter (implies --fresh)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    parser.add_argument(
        "--workdir", type=Path, help="where to make the clone (default: the system temp folder)"
    )
    parser.add_argument(
        "--source", type=Path, default=ROOT, help="the repository whose HEAD is checked"
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    source = args.source.resolve()
    if dirty := sh(["git", "status", "--porcelain"], source).stdout.splitlines():
        say(f"note: {len(dirty)} uncommitted change(s) in {source} are not checked (only HEAD is)")
    tmp = Path(tempfile.mkdtemp(prefix="check-repro-", dir=args.workdir))
    clone = tmp / "tinydigits"
    try:
        head = clone_head(source, clone)
        say(f"cloned HEAD {head} into {clone}")
        venv = environment(clone, source / ".venv", args.fresh, args.python)
        env = dict(
            os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1"
        )
        began = time.monotonic()
        repro = sh(["dvc", "--wait-for-lock", "repro", "--force"], clone, env)
        if repro.returncode:
            say(f"FAIL dvc repro --force exited {repro.returncode}:\n{tail(repro)}")
            return 1
        ran = re.findall(r"Running stage '([^']+)'", repro.stdout)
        say(
            f"dvc repro --force: {len(ran)} stages ran in {time.monotonic() - began:.1f} s: "
            + ", ".join(ran)
        )
        failures = 0
        for passing, check in CHECKS:
            problems = check(clone, env)
            say(f"{'FAIL' if problems else 'PASS'} {passing}")
            for line in problems:
                print(f"    {line}")
            failures += bool(problems)
        took = time.monotonic() - start
        if failures:
            say(
                f"HEAD {head} does NOT reproduce: {failures} of {len(CHECKS)} checks failed ({took:.1f} s)"
            )
            return 1
        say(f"HEAD {head} reproduces byte for byte ({took:.1f} s)")
        return 0
    finally:
        if args.keep:
            say(f"kept {clone}")
        else:
            # a second Ctrl-C must not stop the clean-up halfway and leave half a clone behind
            handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                shutil.rmtree(tmp, ignore_errors=True)
            finally:
                signal.signal(signal.SIGINT, handler)
            if tmp.exists():
                say(f"could not remove {tmp} entirely; delete it by hand")


if __name__ == "__main__":
    sys.exit(
        run("check-repro", main, hint="interrupted; its clone is removed, and nothing else changed")
    )
