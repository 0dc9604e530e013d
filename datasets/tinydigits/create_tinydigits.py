#!/usr/bin/env python3
"""Regenerate TinyDigits, as the original dataset card documents: runs the DVC pipeline.

    $ python3 datasets/tinydigits/create_tinydigits.py

There is one implementation, the pipeline in ``pipeline/``; this script only runs
``dvc repro`` from the repository root with the project's virtual environment
(created by ``make repro`` or ``make install``). Extra arguments go to ``dvc repro``.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def main(argv: list[str]) -> int:
    python = VENV_BIN / "python"
    if not python.exists():
        print(
            f"error: {python.relative_to(ROOT)} not found; run `make repro` in {ROOT.name}/ "
            "once to create it (it installs the pinned dependencies)",
            file=sys.stderr,
        )
        return 2
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(python), "-m", "dvc", "--wait-for-lock", "repro", *argv]
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
