"""The cost of the environment check each stage runs first (``pipeline.core.environment.check``).

    $ make bench-env          # or: .venv/bin/python scripts/bench_environment.py [--runs 41]
    bench-env: environment check, cold, in a fresh interpreter: median 4.1 ms (min 3.2, max 9.8) over 41 runs
    bench-env: `python -m pipeline <stage>` start-up without a stage: median 38 ms with the check, 33 ms without ...

Each run is a new process, as under ``dvc repro``: the timed part is importing the check and
running it once (reading and parsing requirements.lock, evaluating its markers, looking up the
installed version of each decisive package). The second line compares whole interpreter
start-ups that import the check module and run it, or only import it, alternating.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMED = (
    "import time; t = time.perf_counter(); from pipeline.core import environment; environment.check(); "
    "print(time.perf_counter() - t)"
)


def wall(code: str) -> float:
    start = time.perf_counter()
    # its output captured: Ctrl-C reaches the measured interpreter too, and one still starting
    # would print Python's KeyboardInterrupt traceback under bench-env's own one line
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=41)
    args = parser.parse_args(argv)
    inside = [
        float(
            subprocess.run(
                [sys.executable, "-c", TIMED], cwd=ROOT, check=True, capture_output=True, text=True
            ).stdout
        )
        for _ in range(args.runs)
    ]
    ms = [1000 * s for s in inside]
    # flushed: the line as soon as it is measured, also into a pipe or a log
    print(
        f"bench-env: environment check, cold, in a fresh interpreter: median {statistics.median(ms):.1f} ms "
        f"(min {min(ms):.1f}, max {max(ms):.1f}) over {args.runs} runs",
        flush=True,
    )
    with_check, without = [], []
    # alternating, so both see the same machine load
    for _ in range(args.runs):
        with_check.append(wall("from pipeline.core import environment; environment.check()"))
        without.append(wall("from pipeline.core import errors"))
    a, b = 1000 * statistics.median(with_check), 1000 * statistics.median(without)
    print(
        f"bench-env: interpreter start-up with the check {a:.0f} ms, without {b:.0f} ms (medians of "
        f"{args.runs} alternating runs): the check adds {a - b:.1f} ms per stage"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from pipeline.core.runner import run

    sys.exit(run("bench-env", main, hint="interrupted; it writes nothing"))
