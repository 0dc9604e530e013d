"""What scripts/bench.py times with: each command run in a clone as a user's shell runs it (that
clone's .venv first on PATH, then the system's; HOME; nothing else of this process's environment),
wall time and peak RSS of one run, per-stage times of a `dvc repro`, and the maintainer's loop."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pipeline.core.runner import run_child, settle

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
# the maintainer's loop: sample.train_per_class 100 -> 90 -> 80, `dvc repro` after each
LOOP = (90, 80)
OUT = ROOT / "reports" / "local" / "bench.md"
# then back to values seen before: DVC restores what its run cache holds
RETURN = (100, 90)


def plain_env(cwd: Path) -> dict[str, str]:
    """A user's shell in ``cwd`` after `. .venv/bin/activate`: PATH with ``cwd``'s .venv/bin first and
    no other .venv, HOME, and DVC_NO_ANALYTICS (so that no run waits on the network)."""
    system = [
        d
        for d in os.environ["PATH"].split(os.pathsep)
        if d and not d.rstrip("/").endswith(".venv/bin")
    ]
    return {
        "PATH": os.pathsep.join([str(cwd / ".venv" / "bin"), *system]),
        "HOME": os.environ.get("HOME", str(Path.home())),
        "DVC_NO_ANALYTICS": "1",
    }


def dvc_of(repo: Path) -> list[str]:
    return [str(repo / ".venv" / "bin" / "dvc")]


def python_of(repo: Path) -> str:
    return str(repo / ".venv" / "bin" / "python")


def sh(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    # on Ctrl-C, the command (a dvc repro in a clone) stops on its own before the clone goes
    res = run_child(cmd, cwd=cwd, env=plain_env(cwd))
    if check and res.returncode:
        sys.exit(f"bench: {' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one run of ``cmd`` (RSS of that process tree's largest member)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=plain_env(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        settle(proc)
        raise
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
    env = dict(plain_env(cwd), PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    marks, lines = [("start-up", 0.0)], []
    try:
        for line in proc.stdout:
            lines.append(line)
            m = re.match(r"(?:Running stage|Stage) '([\w-]+)'", line)
            if m and m.group(1) != marks[-1][0]:
                marks.append((m.group(1), time.perf_counter() - start))
        proc.wait()
    except BaseException:
        settle(proc)
        raise
    elapsed = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{''.join(lines)}")
    ends = [t for _, t in marks[1:]] + [elapsed]
    return elapsed, {name: end - t for (name, t), end in zip(marks, ends, strict=False)}


def loop_run(repo: Path) -> dict[str, tuple[float, dict[str, float]]]:
    """One maintainer's loop in ``repo`` from an up-to-date 100 with an empty run cache (but for 100's
    sample and split): 90, 80 (new values), then 100, 90 (seen before). Timed repro per value."""
    dvc = dvc_of(repo)
    set_train_per_class(repo, 100)
    sh(dvc + ["repro"], repo)
    # this run's loop starts unseen
    shutil.rmtree(repo / ".dvc" / "cache" / "runs", ignore_errors=True)
    for stage in ("sample", "split"):
        # 100 is "seen before"
        sh(dvc + ["repro", "--force", "--single-item", stage], repo)
    out = {}
    for phase, value in [("loop", v) for v in LOOP] + [("return", v) for v in RETURN]:
        set_train_per_class(repo, value)
        out[f"{phase} {value}"] = timed_stages(dvc + ["repro"], repo)
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def import_seconds(module: str, cwd: Path) -> float:
    """Seconds spent importing while running ``python -m module`` (from -X importtime, top-level imports)."""
    err = sh([python_of(cwd), "-X", "importtime", "-m", module], cwd).stderr
    total = 0
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):
            total += int(m.group(1))
    return total / 1e6


def set_train_per_class(repo: Path, value: int) -> None:
    path = repo / "params.yaml"
    text = path.read_text()
    new = re.sub(r"(?m)^(\s+train_per_class:\s*)\d+", rf"\g<1>{value}", text)
    path.write_text(new)


def prepare(rev: str, dest: Path, shared_venv: bool = False) -> Path:
    """A clone of ``rev`` set up as a user meets it: by its own README command, `make repro` (a
    fresh .venv from that commit's own pins, then `dvc repro`), in a plain environment. With
    ``shared_venv``, this checkout's .venv instead and one warm-up `dvc repro` (quicker; then two
    commits differ in code only, not in pinned dependencies)."""
    sh(["git", "clone", "-q", str(ROOT), str(dest)], ROOT)
    sh(["git", "checkout", "-q", rev], dest)
    if shared_venv:
        (dest / ".venv").symlink_to(ROOT / ".venv")
        # fill the cache, as after `make repro`
        sh(dvc_of(dest) + ["repro"], dest)
    else:
        print(
            f"bench: {rev}: `make repro` in a fresh clone ({dest.name}), its own .venv", flush=True
        )
        sh(["make", "repro"], dest)
    return dest


def report(args, names: list[str], figures: dict[str, dict[str, str]], rows) -> None:
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
    res = sh([python_of(ROOT), "-c", code], ROOT)
    return [tuple(line.split("\t")) for line in res.stdout.strip().splitlines()]
