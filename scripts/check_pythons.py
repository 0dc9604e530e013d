"""Rebuild HEAD byte for byte under every supported Python this machine has (``make check-pythons``).

    $ make check-pythons
    check-pythons: requirements.lock supports requires-python >=3.11,<3.15: 3.11, 3.12, 3.13, 3.14
    check-pythons: 3.12: /root/.pyenv/versions/3.12.1/bin/python3.12
    check-repro: ...                                  (a fresh clone, a fresh .venv built with it)
    check-pythons: SKIP 3.14: no python3.14 on this machine
    check-pythons: PASS 3.11, 3.12, 3.13; skipped 3.14

For each minor version that ``requirements.lock``'s ``requires-python`` allows, it looks for an
interpreter (``pyenv prefix``, then ``$PYENV_ROOT/versions/<minor>.*``, then ``python<minor>`` on
PATH; the newest patch release wins) and runs ``scripts/check_repro.py --python`` with it: a clean
clone of HEAD, ``make install`` with that interpreter, ``dvc repro --force``, then ``git status``
(every tracked file, ``dvc.lock`` included, byte-identical), ``dvc status -q``, the digests and
``load()``. A Python the machine lacks is reported as skipped, not failed. Exit 1 if any fails.

``--budget SECONDS`` (CI passes what is left of its time limit): an interpreter starts only if
the time still left covers it, estimated as the longest check so far (``--estimate`` for the
first); one that does not fit is reported as ``SKIP ... time budget``, so a slow machine skips
loudly instead of overrunning. ``--skip`` leaves out minors checked elsewhere (CI's
``make check-repro`` has just checked the one that runs it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline.core.environment import REQUIREMENTS_FILE, python_supported  # noqa: E402  (the repository's own module)
from pipeline.core.runner import run, run_child  # noqa: E402

CANDIDATES = [f"3.{minor}" for minor in range(8, 20)]


def say(message: str) -> None:
    print(f"check-pythons: {message}", flush=True)


def supported(lock: Path = REQUIREMENTS_FILE) -> tuple[str, list[str]]:
    requires = re.search(r"^#\s*requires-python:\s*(\S+)", lock.read_text(), re.M).group(1)
    return requires, [minor for minor in CANDIDATES if python_supported(requires, minor + ".0")]


def _patch(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.parent.name))


def find(minor: str) -> str | None:
    """An interpreter of ``minor`` (e.g. ``'3.12'``) on this machine, or None."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        result = subprocess.run([pyenv, "prefix", minor], capture_output=True, text=True)
        candidate = (
            Path(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "")
            / "bin"
            / f"python{minor}"
        )
        if result.returncode == 0 and candidate.is_file():
            return str(candidate)
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found = sorted(root.glob(f"versions/{minor}.*/bin/python{minor}"), key=_patch)
    if found:
        return str(found[-1])
    return shutil.which(f"python{minor}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="check_pythons.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only", nargs="*", default=[], help="check only these minor versions (e.g. 3.12 3.13)"
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], help="leave out these minor versions (checked elsewhere)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="seconds this may take in all; an interpreter that would not fit is skipped",
    )
    parser.add_argument(
        "--estimate",
        type=float,
        default=900,
        help="seconds the first interpreter is expected to take, for --budget (default 900)",
    )
    args = parser.parse_args(argv)
    requires, minors = supported()
    for flag, given in (("--only", args.only), ("--skip", args.skip)):
        unknown = [m for m in given if m not in minors]
        if unknown:
            # a typo would otherwise check every Python (--skip) or none (--only)
            parser.error(
                f"{flag} {' '.join(unknown)}: not a Python that requirements.lock supports "
                f"({requires}: {', '.join(minors)})"
            )
    say(f"requirements.lock supports requires-python {requires}: {', '.join(minors)}")
    passed, failed, skipped, took = [], [], [], []
    deadline = None if args.budget is None else time.monotonic() + args.budget
    for minor in minors:
        if (args.only and minor not in args.only) or minor in args.skip:
            continue
        python = find(minor)
        if python is None:
            say(f"SKIP {minor}: no python{minor} on this machine")
            skipped.append(minor)
            continue
        expected = max(took, default=args.estimate)
        if deadline is not None and time.monotonic() + expected > deadline:
            left = deadline - time.monotonic()
            say(
                f"SKIP {minor}: time budget: {max(left, 0):.0f} s left, a check takes about {expected:.0f} s here; "
                f"run `make check-pythons` by hand"
            )
            skipped.append(minor)
            continue
        say(f"{minor}: {python}")
        began = time.monotonic()
        # on Ctrl-C, the gate removes its clone (and the .venv it built) before this goes on
        code = run_child(
            [sys.executable, str(ROOT / "scripts/check_repro.py"), "--python", python],
            capture=False,
        ).returncode
        took.append(time.monotonic() - began)
        (failed if code else passed).append(minor)
        say(f"{'FAIL' if code else 'PASS'} {minor} ({took[-1]:.0f} s)")
    say(
        f"passed {', '.join(passed) or 'none'}; failed {', '.join(failed) or 'none'}; "
        f"skipped {', '.join(skipped) or 'none'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run("check-pythons", main, hint="interrupted; each gate removed its clone"))
