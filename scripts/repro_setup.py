"""check_repro's set-up: the clean clone of HEAD and the environment that rebuilds it, plus the
small helpers both share (run a command, say a line, the tail of a failed command's output)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

BASE_PACKAGES = {"pip", "setuptools", "wheel"}


def sh(cmd: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)


def say(message: str) -> None:
    print(f"check-repro: {message}", flush=True)


def tail(result: subprocess.CompletedProcess, n: int = 25) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    return "\n".join(f"    {line}" for line in lines[-n:])


# ---- set-up --------------------------------------------------------------------------------


def clone_head(source: Path, dest: Path) -> str:
    """Check out ``source``'s HEAD (a branch or detached, even in a shallow clone) into ``dest``."""
    for cmd in (
        ["git", "init", "-q", dest],
        ["git", "-C", dest, "fetch", "-q", "--no-tags", source, "HEAD"],
        ["git", "-C", dest, "checkout", "-q", "--detach", "FETCH_HEAD"],
    ):
        result = sh(cmd, source)
        if result.returncode:
            raise SystemExit(f"check-repro: {' '.join(map(str, cmd))} failed:\n{tail(result)}")
    return sh(["git", "rev-parse", "--short", "HEAD"], dest).stdout.strip()


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def venv_mismatch(venv: Path, lock: Path) -> str | None:
    """Why ``venv`` is not exactly ``lock``'s pins (None when it is)."""
    python = venv / "bin" / "python"
    if not python.exists():
        return f"{venv} does not exist"
    dry = sh(
        [
            python,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--no-deps",
            "--require-hashes",
            "--disable-pip-version-check",
            "--quiet",
            "--report",
            "-",
            "-r",
            lock,
        ],
        lock.parent,
    )
    if dry.returncode:
        return f"it lacks pins of {lock.name} (pip: {dry.stderr.strip().splitlines()[-1:]})"
    wanted = [
        item["metadata"]["name"] for item in json.loads(dry.stdout or "{}").get("install", [])
    ]
    if wanted:
        return f"it lacks {', '.join(wanted)}"
    pinned = {
        _name(m) for m in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock.read_text(), re.M)
    }
    frozen = sh(
        [python, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"], lock.parent
    ).stdout
    extra = (
        {_name(line.split("==")[0]) for line in frozen.splitlines() if "==" in line}
        - pinned
        - BASE_PACKAGES
    )
    return (
        f"it holds packages {lock.name} does not pin: {', '.join(sorted(extra))}" if extra else None
    )


def environment(clone: Path, venv: Path, fresh: bool, python: str | None = None) -> Path:
    """The venv whose ``bin`` runs dvc and the stages: ``venv`` if it matches the lock, else a new one.

    ``python``: build the new one with this interpreter (``make install PYTHON=...``); implies fresh.
    """
    reason = (
        f"--python {python}"
        if python
        else "--fresh"
        if fresh
        else venv_mismatch(venv, clone / "requirements.lock")
    )
    if reason is None:
        say(f"environment: reusing {venv}, which holds exactly the pins of requirements.lock")
        return venv
    say(f"environment: fresh install, `make install` in the clone ({reason})")
    start = time.monotonic()
    result = sh(["make", "install"] + ([f"PYTHON={python}"] if python else []), clone)
    if result.returncode:
        raise SystemExit(f"check-repro: FAIL `make install` failed:\n{tail(result)}")
    version = sh(
        [clone / ".venv/bin/python", "-c", "import platform; print(platform.python_version())"],
        clone,
    )
    say(
        f"environment: installed in {time.monotonic() - start:.1f} s (Python {version.stdout.strip()})"
    )
    return clone / ".venv"
