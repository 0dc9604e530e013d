"""check_repro's set-up: the clean clone of HEAD and the environment that rebuilds it, plus the
small helpers both share (run a command, say a line, the tail of a failed command's output)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from pipeline.core.runner import run_child

BASE_PACKAGES = {"pip", "setuptools", "wheel"}
ROOT = Path(__file__).resolve().parents[1]


def sh(cmd: list, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    # on Ctrl-C, the command (a dvc repro in the clone) gets to stop on its own before the clone goes
    return run_child([str(c) for c in cmd], cwd=cwd, env=env)


def say(message: str) -> None:
    print(f"check-repro: {message}", flush=True)


def tail(result: subprocess.CompletedProcess, n: int = 25) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    return "\n".join(f"    {line}" for line in lines[-n:])


# ---- set-up --------------------------------------------------------------------------------


def clone_head(source: Path, dest: Path, who: str = "check-repro") -> str:
    """Check out ``source``'s HEAD (a branch or detached, even in a shallow clone) into ``dest``;
    its short hash. A failure exits naming ``who`` (the command that asked) and the git command."""
    for cmd in (
        ["git", "init", "-q", dest],
        # --update-shallow: from a shallow clone (CI's checkout), whose HEAD has no parent here
        ["git", "-C", dest, "fetch", "-q", "--no-tags", "--update-shallow", source, "HEAD"],
        ["git", "-C", dest, "checkout", "-q", "--detach", "FETCH_HEAD"],
    ):
        result = sh(cmd, source)
        if result.returncode:
            raise SystemExit(f"{who}: {' '.join(map(str, cmd))} failed:\n{tail(result)}")
    return sh(["git", "rev-parse", "--short", "HEAD"], dest).stdout.strip()


# Run by the venv's own Python: the stages' own check (pipeline/core/environment.py) with every pin
# of the lock as decisive, every name the lock pins, and every distribution the venv holds.
# ~0.15 s, where `pip install --dry-run` and `pip freeze` took 2 s per gate.
_INVENTORY = """
import json, platform, sys
sys.path.insert(0, sys.argv[1])
from importlib import metadata
from pathlib import Path
from pipeline.core import environment as e
lock = Path(sys.argv[2])
text, env = lock.read_text(encoding="utf-8"), e.marker_environment()
pins = e.read_lock(text, env)[1]
found = e.problems(text, env, platform.python_version(), decisive=tuple(pins), lock_name=lock.name)
installed = {e.canonical(dist.metadata["Name"]) for dist in metadata.distributions()}
print(json.dumps({"problems": found, "extra": sorted(installed - e.lock_names(text))}))
"""


def venv_mismatch(venv: Path, lock: Path) -> str | None:
    """Why ``venv`` is not exactly ``lock``'s pins (None when it is): a pin missing or at another
    version, a package the lock does not pin (pip, setuptools and wheel aside), or a Python outside
    the lock's requires-python."""
    python = venv / "bin" / "python"
    if not python.exists():
        return f"{venv} does not exist"
    # -I: only the venv's own packages, whatever PYTHONPATH or the user's site-packages hold
    found = sh([python, "-I", "-c", _INVENTORY, ROOT, lock], lock.parent)
    if found.returncode:
        return f"its Python could not list its packages ({tail(found, 3).strip()})"
    inv = json.loads(found.stdout)
    if inv["problems"]:
        return f"it is not the environment {lock.name} pins: {'; '.join(inv['problems'])}"
    extra = set(inv["extra"]) - BASE_PACKAGES
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
