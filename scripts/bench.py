"""Measure what `dvc repro` costs, against one-process baselines run in the same command.

    $ make bench            # after `make repro`; about two minutes
    $ .venv/bin/python scripts/bench.py --runs 7 --before HEAD~3 --scale 10 100
    $ .venv/bin/python scripts/bench.py --loop-only --before d2c099d   # the maintainer's loop only

Works in a throwaway clone of HEAD (with this checkout's .venv), so the working tree is
never touched. Every timed figure is the median of ``--runs`` runs, and each pipeline run
alternates with its baseline so both see the same machine load. Prints a table and writes
it to reports/local/bench.md (git-ignored: it holds machine-specific seconds).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))
from pipeline.__main__ import STAGES  # noqa: E402  (stage -> module, as dvc.yaml runs them)

LOOP = (
    90,
    80,
)  # the maintainer's loop: sample.train_per_class 100 -> 90 -> 80, `dvc repro` after each
RETURN = (100, 90)  # then back to values seen before: DVC restores what its run cache holds
OUT = ROOT / "reports" / "local" / "bench.md"


def sh(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and res.returncode:
        sys.exit(f"bench: {' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one run of ``cmd`` (RSS of that process tree's largest member)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if proc.returncode:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return elapsed, usage.ru_maxrss // 1024


def timed_stages(cmd: list[str], cwd: Path) -> tuple[float, dict[str, float]]:
    """Wall seconds of ``cmd`` (a `dvc repro`) and the seconds from each stage's first line in its
    output to the next stage's ("start-up": before the first; the last stage runs to the end)."""
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        DVC_NO_ANALYTICS="1",
        PYTHONUNBUFFERED="1",
    )
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    marks, lines = [("start-up", 0.0)], []
    for line in proc.stdout:
        lines.append(line)
        m = re.match(r"(?:Running stage|Stage) '([\w-]+)'", line)
        if m and m.group(1) != marks[-1][0]:
            marks.append((m.group(1), time.perf_counter() - start))
    proc.wait()
    elapsed = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{''.join(lines)}")
    ends = [t for _, t in marks[1:]] + [elapsed]
    return elapsed, {name: end - t for (name, t), end in zip(marks, ends, strict=False)}


def loop_run(repo: Path, dvc: list[str]) -> dict[str, tuple[float, dict[str, float]]]:
    """One maintainer's loop in ``repo`` from an up-to-date 100 with an empty run cache (but for 100's
    sample and split): 90, 80 (new values), then 100, 90 (seen before). Timed repro per value."""
    set_train_per_class(repo, 100)
    sh(dvc + ["repro"], repo)
    shutil.rmtree(
        repo / ".dvc" / "cache" / "runs", ignore_errors=True
    )  # this run's loop starts unseen
    for stage in ("sample", "split"):
        sh(dvc + ["repro", "--force", "--single-item", stage], repo)  # 100 is "seen before"
    out = {}
    for phase, value in [("loop", v) for v in LOOP] + [("return", v) for v in RETURN]:
        set_train_per_class(repo, value)
        out[f"{phase} {value}"] = timed_stages(dvc + ["repro"], repo)
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def import_seconds(module: str, cwd: Path) -> float:
    """Seconds spent importing while running ``python -m module`` (from -X importtime, top-level imports)."""
    err = sh([str(BIN / "python"), "-X", "importtime", "-m", module], cwd).stderr
    total = 0
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):
            total += int(m.group(1))
    return total / 1e6


# ---- baselines: the same work in one process ---------------------------------------------

ONE_PROCESS = """
import sys
from pipeline import fetch, normalize, pickling, sample, split
from pipeline.core import config, params
from pipeline.core.storage import atomic_write_bytes
p = params.load()
pixels, labels = fetch.parse_csv(fetch.source_path().read_bytes())
images = normalize.normalize(pixels)
train, test = sample.draw(labels, p.sample.train_counts, p.sample.test_counts, p.seed)
for name, index in (("train", train), ("test", test)):
    atomic_write_bytes(f"{sys.argv[1]}/{name}.pkl", pickling.pickle_bytes(*split.gather(images, labels, index)))
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


def set_train_per_class(repo: Path, value: int) -> None:
    path = repo / "params.yaml"
    text = path.read_text()
    new = re.sub(r"(?m)^(\s+train_per_class:\s*)\d+", rf"\g<1>{value}", text)
    path.write_text(new)


def prepare(rev: str, dest: Path) -> Path:
    """A clone of ``rev`` using this checkout's .venv, after one warm-up `dvc repro`."""
    sh(["git", "clone", "-q", str(ROOT), str(dest)], ROOT)
    sh(["git", "checkout", "-q", rev], dest)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    sh([str(BIN / "dvc"), "repro"], dest)  # fill the cache, as after `make repro`
    return dest


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

    py, dvc = str(BIN / "python"), [str(BIN / "dvc")]
    with tempfile.TemporaryDirectory(prefix="tinydigits-bench-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        repos = {"HEAD": prepare("HEAD", Path(tmp) / "head")}
        if args.before:
            repos[args.before] = prepare(args.before, Path(tmp) / "before")
        names = list(repos)
        figures: dict[str, dict[str, str]] = {}

        def record(measure: str, column: str, value: str) -> None:
            figures.setdefault(measure, {})[column] = value

        # 0. the maintainer's loop, alternating: total per phase and per stage (medians)
        loops: dict[str, list[dict]] = {n: [] for n in names}
        for _ in range(0 if args.skip_loop else args.runs):
            for name, repo in repos.items():
                loops[name].append(loop_run(repo, dvc))
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
            _report(args, names, figures, [])
            return

        # 1. fetch..pickle under DVC vs the same work in one process, all alternating
        samples: dict[str, list[float]] = {k: [] for k in [*names, "one", "orig"]}
        for _ in range(args.runs):
            for name, repo in repos.items():
                samples[name].append(timed(dvc + ["repro", "--force", "pickle"], repo)[0])
            samples["one"].append(timed([py, "-c", ONE_PROCESS, str(out)], repos["HEAD"])[0])
            samples["orig"].append(timed([py, "-c", ORIGINAL, str(out)], repos["HEAD"])[0])
        one, orig = median(samples["one"]), median(samples["orig"])
        record("one process, pipeline functions (baseline)", "HEAD", f"{one:.2f} s")
        record("one process, original script with load_digits (baseline)", "HEAD", f"{orig:.2f} s")
        for name in names:
            pipe = median(samples[name])
            record("dvc repro --force pickle (fetch..pickle)", name, f"{pipe:.2f} s")
            record("  ratio to one process, pipeline functions", name, f"{pipe / one:.2f}x")
            record("  ratio to original script (goal <= 2.5x)", name, f"{pipe / orig:.2f}x")

        # 2. repro after a count change (99/100 alternately, so each run is a change);
        # 3. no-op repro: nothing changed since the last run (one untimed run settles DVC's state)
        noop = {n: [] for n in names}
        change = {n: [] for n in names}
        for i in range(args.runs):
            for name, repo in repos.items():
                set_train_per_class(repo, 99 if i % 2 == 0 else 100)
                change[name].append(timed(dvc + ["repro"], repo)[0])
        for repo in repos.values():
            timed(dvc + ["repro"], repo)
        for _ in range(args.runs):
            for name, repo in repos.items():
                noop[name].append(timed(dvc + ["repro"], repo)[0])
        for name in names:
            record("no-op dvc repro (goal <= 0.6 s)", name, f"{median(noop[name]):.2f} s")
            record(
                "dvc repro after sample.train_per_class changes",
                name,
                f"{median(change[name]):.2f} s",
            )

        # 4. the benchmark stage alone; 5. each stage by itself: wall, imports, peak memory
        for name, repo in repos.items():
            dvc_yaml = (repo / "dvc.yaml").read_text()
            if "benchmark:" in dvc_yaml and not args.skip_benchmark:
                runs = [
                    timed(dvc + ["repro", "--force", "--single-item", "benchmark"], repo)[0]
                    for _ in range(args.runs)
                ]
                record(
                    "benchmark stage alone (dvc repro -f -s benchmark)",
                    name,
                    f"{median(runs):.2f} s",
                )
            for stage, module in STAGES.items():
                if (
                    f"python -m pipeline {stage}" in dvc_yaml
                ):  # through the environment check, as dvc runs it
                    cmd = [py, "-m", "pipeline", stage]
                elif f"pipeline.{module}" in dvc_yaml:  # older commits (--before)
                    cmd = [py, "-m", f"pipeline.{module}"]
                else:
                    continue
                runs = [timed(cmd, repo) for _ in range(args.runs)]
                imports = median([import_seconds(f"pipeline.{module}", repo) for _ in range(3)])
                record(f"stage {stage}: wall", name, f"{median([r[0] for r in runs]):.2f} s")
                record(f"stage {stage}: imports", name, f"{imports:.2f} s")
                record(
                    f"stage {stage}: peak RSS (goal < 250 MiB)",
                    name,
                    f"{max(r[1] for r in runs)} MiB",
                )

    _report(args, names, figures, scaling(args.scale))


def _report(args, names: list[str], figures: dict[str, dict[str, str]], rows) -> None:
    head = "| measure | " + " | ".join(names) + " |\n| --- |" + " --- |" * len(names) + "\n"
    body = "\n".join(
        f"| {m} | " + " | ".join(v.get(n, "") for n in names) + " |" for m, v in figures.items()
    )
    scale_table = "\n\n| scaling (in-process, synthetic source) | median | peak traced |\n| --- | --- | --- |\n"
    scale_table += "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows) if rows else ""
    header = (
        f"make bench: median of {args.runs} alternating runs, {os.cpu_count()} cores "
        "(machine-specific; not tracked)\n\n"
    )
    text = header + head + body + (scale_table if rows else "") + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")


def scaling(scales: list[int]) -> list[tuple[str, str, str]]:
    """Run the stage functions in-process on synthetic sources; time and peak traced memory per step."""
    if not scales:
        return []
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from scripts.bench_scale import main; main({scales!r})"
    res = sh([str(BIN / "python"), "-c", code], ROOT)
    return [tuple(line.split("\t")) for line in res.stdout.strip().splitlines()]


if __name__ == "__main__":
    main()
