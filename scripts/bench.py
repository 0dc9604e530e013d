"""Measure what `dvc repro` costs, against one-process baselines run in the same command.

    $ make bench            # after `make repro`; about two minutes
    $ .venv/bin/python scripts/bench.py --runs 7 --before HEAD~3 --scale 10 100
    $ .venv/bin/python scripts/bench.py --loop-only --before d2c099d   # the maintainer's loop only

Works in throwaway clones of HEAD (and of ``--before REV``), each set up as a user meets it, by
its own `make repro` (its own fresh .venv from its own pins), and run in a plain environment
(``--shared-venv``: this checkout's .venv for every clone, quicker). The working tree is never
touched. Every timed figure is the median of ``--runs`` runs, and each pipeline run
alternates with its baseline so both see the same machine load. Prints a table and writes
it to reports/local/bench.md (git-ignored: it holds machine-specific seconds).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# stage -> (module, what it does), as dvc.yaml runs them
from pipeline.__main__ import STAGES  # noqa: E402
from pipeline.core.runner import run  # noqa: E402
from scripts.bench_runs import (  # noqa: E402
    BIN,
    dvc_of,
    import_seconds,
    loop_run,
    median,
    prepare,
    python_of,
    report,
    scaling,
    set_train_per_class,
    timed,
)

# ---- baselines: the same work in one process ---------------------------------------------

# The same work in one process: the environment check once, then every data stage's main() in
# order, writing the same files (pickles, .npz, Parquet, croissant.json) with the same contract
# checks: what the five stage processes and DVC's bookkeeping add is the ratio's numerator.
ONE_PROCESS = """
import importlib
from pipeline.__main__ import STAGES
from pipeline.core import environment
environment.check()
for stage in ("fetch", "sample", "normalize", "split", "pickle"):
    importlib.import_module(STAGES[stage][0]).main()
"""

# The original one-shot script's work (load_digits, the global stream, protocol-4 pickles), as
# the tests' independent oracle of the reference algorithm does it.
ORIGINAL = """
import sys
from scripts.oracle import reference_pickles
for name, blob in reference_pickles([100] * 10, [20] * 10, 42).items():
    with open(f"{sys.argv[1]}/{name}.pkl", "wb") as f:
        f.write(blob)
"""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (median); at least 5")
    ap.add_argument(
        "--before", metavar="REV", help="also measure this commit, alternating with HEAD"
    )
    ap.add_argument(
        "--scale",
        type=int,
        nargs="*",
        default=[1, 10, 100],
        help="synthetic source sizes (x 1,797 rows)",
    )
    ap.add_argument(
        "--shared-venv",
        action="store_true",
        help="every clone uses this checkout's .venv instead of its own `make repro` set-up (quicker;"
        " compares code only)",
    )
    ap.add_argument("--skip-benchmark", action="store_true", help="do not time the benchmark stage")
    ap.add_argument(
        "--loop-only",
        action="store_true",
        help="only the maintainer's loop (100 -> 90 -> 80, back to 100, 90)",
    )
    ap.add_argument(
        "--skip-loop", action="store_true", help="every figure but the maintainer's loop"
    )
    args = ap.parse_args()
    if args.runs < 5:
        ap.error("--runs must be at least 5 (medians of fewer runs are noise here)")
    if not (BIN / "dvc").exists():
        sys.exit("bench: .venv not found; run `make repro` first")

    with tempfile.TemporaryDirectory(prefix="tinydigits-bench-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        repos = {"HEAD": prepare("HEAD", Path(tmp) / "head", args.shared_venv)}
        if args.before:
            repos[args.before] = prepare(args.before, Path(tmp) / "before", args.shared_venv)
        py = python_of(repos["HEAD"])
        names = list(repos)
        figures: dict[str, dict[str, str]] = {}

        def record(measure: str, column: str, value: str) -> None:
            figures.setdefault(measure, {})[column] = value

        # 0. the maintainer's loop, alternating: total per phase and per stage (medians)
        loops: dict[str, list[dict]] = {n: [] for n in names}
        for _ in range(0 if args.skip_loop else args.runs):
            for name, repo in repos.items():
                loops[name].append(loop_run(repo))
        for name in names if not args.skip_loop else []:
            steps = list(loops[name][0])
            for phase in ("loop", "return"):
                totals = [
                    sum(run[s][0] for s in steps if s.startswith(phase)) for run in loops[name]
                ]
                record(
                    f"maintainer's {phase}: {' + '.join(s.split()[1] for s in steps if s.startswith(phase))}"
                    " (sum of dvc repro)",
                    name,
                    f"{median(totals):.2f} s",
                )
            for step in steps:
                record(
                    f"  dvc repro at train_per_class={step}",
                    name,
                    f"{median([r[step][0] for r in loops[name]]):.2f} s",
                )
                stages = sorted(
                    {st for r in loops[name] for st in r[step][1]},
                    key=lambda st: (st != "start-up", st),
                )
                for st in stages:
                    record(
                        f"    {step}: {st}",
                        name,
                        f"{median([r[step][1].get(st, 0.0) for r in loops[name]]):.2f} s",
                    )
        if args.before and not args.skip_loop:
            for phase in ("loop", "return"):
                key = next(m for m in figures if m.startswith(f"maintainer's {phase}"))
                head_s, before_s = (float(figures[key][n].split()[0]) for n in names)
                record(
                    f"  ratio HEAD / {args.before}, {phase} (goal for the loop <= 0.4x)",
                    "HEAD",
                    f"{head_s / before_s:.2f}x",
                )
        if args.loop_only:
            report(args, names, figures, [])
            return

        # 1. fetch..pickle under DVC vs the same work in one process, all alternating
        samples: dict[str, list[float]] = {k: [] for k in [*names, "one", "orig"]}
        for _ in range(args.runs):
            for name, repo in repos.items():
                samples[name].append(timed(dvc_of(repo) + ["repro", "--force", "pickle"], repo)[0])
            samples["one"].append(timed([py, "-c", ONE_PROCESS], repos["HEAD"])[0])
            samples["orig"].append(timed([py, "-c", ORIGINAL, str(out)], repos["HEAD"])[0])
        one, orig = median(samples["one"]), median(samples["orig"])
        record("one process, the same five stages and files (baseline)", "HEAD", f"{one:.2f} s")
        record("one process, original script with load_digits (baseline)", "HEAD", f"{orig:.2f} s")
        for name in names:
            pipe = median(samples[name])
            record("dvc repro --force pickle (fetch..pickle)", name, f"{pipe:.2f} s")
            record("  ratio to one process, same work (goal <= 2.5x)", name, f"{pipe / one:.2f}x")
            record("  ratio to the original pickles-only script", name, f"{pipe / orig:.2f}x")

        # 2. repro after a count change (99/100 alternately, so each run is a change);
        # 3. no-op repro: nothing changed since the last run (one untimed run settles DVC's state)
        noop = {n: [] for n in names}
        change = {n: [] for n in names}
        for i in range(args.runs):
            for name, repo in repos.items():
                set_train_per_class(repo, 99 if i % 2 == 0 else 100)
                change[name].append(timed(dvc_of(repo) + ["repro"], repo)[0])
        for repo in repos.values():
            timed(dvc_of(repo) + ["repro"], repo)
        # DVC's own start-up, the no-op's baseline, alternating with it
        version = []
        for _ in range(args.runs):
            version.append(timed(dvc_of(repos["HEAD"]) + ["version"], repos["HEAD"])[0])
            for name, repo in repos.items():
                noop[name].append(timed(dvc_of(repo) + ["repro"], repo)[0])
        record("dvc version (baseline)", "HEAD", f"{median(version):.2f} s")
        for name in names:
            record("no-op dvc repro", name, f"{median(noop[name]):.2f} s")
            record(
                "  ratio to dvc version (goal <= 1.35x)",
                name,
                f"{median(noop[name]) / median(version):.2f}x",
            )
            record(
                "dvc repro after sample.train_per_class changes",
                name,
                f"{median(change[name]):.2f} s",
            )

        # 4. the benchmark stage alone; 5. each stage by itself: wall, imports, peak memory
        for name, repo in repos.items():
            dvc_yaml = (repo / "dvc.yaml").read_text()
            if "benchmark:" in dvc_yaml and not args.skip_benchmark:
                alone = dvc_of(repo) + ["repro", "--force", "--single-item", "benchmark"]
                runs = [timed(alone, repo)[0] for _ in range(args.runs)]
                record(
                    "benchmark stage alone (dvc repro -f -s benchmark)",
                    name,
                    f"{median(runs):.2f} s",
                )
            for stage, (module, _) in STAGES.items():
                short = module.removeprefix("pipeline.")
                # through the environment check, as dvc runs it (python3, or python before ac098d6)
                if f"-m pipeline {stage}\n" in dvc_yaml:
                    cmd = [python_of(repo), "-m", "pipeline", stage]
                # older commits (--before) ran each stage module directly
                elif f"pipeline.{short}" in dvc_yaml:
                    cmd = [python_of(repo), "-m", module]
                else:
                    continue
                runs = [timed(cmd, repo) for _ in range(args.runs)]
                # HEAD's module names: an older commit's may differ, then its imports are not timed
                imports = median([import_seconds(module, repo) for _ in range(3)])
                record(f"stage {stage}: wall", name, f"{median([r[0] for r in runs]):.2f} s")
                record(f"stage {stage}: imports", name, f"{imports:.2f} s")
                record(
                    f"stage {stage}: peak RSS (goal < 250 MiB)",
                    name,
                    f"{max(r[1] for r in runs)} MiB",
                )

    report(args, names, figures, scaling(args.scale))


if __name__ == "__main__":
    sys.exit(
        run("bench", main, hint="interrupted; no figures were written, and its clones are removed")
    )
