#!/usr/bin/env python3
"""Regenerate TinyDigits, as the original dataset card documents: runs the DVC pipeline.

    $ python3 datasets/tinydigits/create_tinydigits.py

There is one implementation, the pipeline in ``pipeline/``; this script only runs
``dvc repro`` from the repository root with the project's virtual environment
(created by ``make repro`` or ``make install``). Extra arguments go to ``dvc repro``.
"""

import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
NAME = Path(__file__).name

# The pipeline's own Ctrl-C lines; this module imports nothing but sys, so any python3 imports it.
sys.path.insert(0, str(ROOT))
from pipeline.core.errors import UNCHANGED, interrupted  # noqa: E402


def main(argv: list[str]) -> int:
    python = VENV_BIN / "python"
    if not python.exists():
        print(
            f"error: {python.relative_to(ROOT)} not found; run `make repro` in {ROOT.name}/ "
            "once to create it (it installs the pinned dependencies)",
            file=sys.stderr,
        )
        return 2
    # the pipeline's Ctrl-C handling for a child: standard library only, like the errors above
    from pipeline.core.runner import run_through_ctrl_c

    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(python), "-m", "dvc", "--wait-for-lock", "repro", *argv]
    # A terminal's Ctrl-C reaches dvc too: it stops its stage (which says what is left and how to
    # finish) and records what finished. Wait for that; a second Ctrl-C kills it.
    status = run_through_ctrl_c(cmd, cwd=ROOT, env=env)
    if status == -signal.SIGKILL:
        return interrupted(NAME, "interrupted; run it again (or `make repro`) to finish")
    return status


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        # before dvc started (or while the runner was imported)
        sys.exit(interrupted(NAME, UNCHANGED))
