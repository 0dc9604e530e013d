"""Helpers the tests share (fixtures are in conftest.py, and only fixtures): the project's paths,
running real commands, throwaway git + DVC copies of the project, tiny params and published-file
fixtures' building blocks, waiting for an observable event, and Ctrl-C as a terminal sends it."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import importlib
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import yaml

from pipeline.__main__ import STAGES
from pipeline.core import config, params
from pipeline.release import record

ROOT = Path(__file__).resolve().parents[1]
# the environment running pytest also runs dvc
VENV_BIN = Path(sys.executable).parent


def user_env(extra: dict | None = None) -> dict:
    """The environment the tests run commands in: this one as a user's shell has it, with the
    project's environment first on PATH, no DVC analytics and a git identity; then ``extra``."""
    # as a user types it: under `make test`, make's own variables would turn a nested `make` into a
    # sub-make (printing "make[1]: Entering directory ...") and hand it the outer make's flags
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="tests",
        GIT_AUTHOR_EMAIL="tests@tinydigits.invalid",
        GIT_COMMITTER_NAME="tests",
        GIT_COMMITTER_EMAIL="tests@tinydigits.invalid",
    )
    env.update(extra or {})
    return env


def run(
    cmd: list[str], cwd: Path, *, check: bool = True, timeout: float = 600, **kwargs
) -> subprocess.CompletedProcess:
    """Run a real command (dvc, git, python) in ``cwd`` with the project's environment first on PATH."""
    env = user_env(kwargs.pop("env", None))
    if "stdout" not in kwargs and "stderr" not in kwargs:
        kwargs["capture_output"] = True
    # text=False for bytes, as `git show` of a binary file needs
    kwargs.setdefault("text", True)
    result = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def help_text(main: Callable[[list[str]], object]) -> str:
    """What a command's ``main(["--help"])`` prints, its whitespace collapsed (argparse wraps to the
    terminal's width); fails unless it exits 0."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main(["--help"])
    except SystemExit as stop:
        assert stop.code == 0, f"--help exited {stop.code}"
    else:
        raise AssertionError("--help did not exit")
    return " ".join(out.getvalue().split())


def png_pixels(png: bytes) -> np.ndarray:
    """A PNG's pixels: (rows, columns, RGBA) floats in [0, 1]."""
    # matplotlib (0.4 s) only for the tests that decode a figure
    from matplotlib import image

    return image.imread(io.BytesIO(png), format="png")


def project_files() -> list[str]:
    """The working tree as git would commit it: tracked files plus untracked, not-ignored ones."""
    out = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT).stdout
    return sorted({f for f in out.split("\0") if f and (ROOT / f).exists()})


def make_repo(dest: Path) -> Path:
    """Copy this project's working tree into ``dest`` as a fresh one-commit git repository."""
    for rel in project_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "copy of the project under test"], dest)
    return dest


def restore(repo: Path) -> None:
    """Back to the last commit, whatever a test did (even when it failed): tracked files from git,
    DVC-cached ones from the cache, temp files a killed writer left removed."""
    run(["git", "checkout", "-q", "--", "."], repo, check=False)
    for leftover in repo.glob("datasets/*/.*.tmp"):
        leftover.unlink()
    run(["dvc", "checkout", "-q", "--force"], repo, check=False)


def assert_restorable(repo):
    """Undo a test: committed files back, intermediates from the cache, everything up to date."""
    run(["git", "checkout", "-q", "--", "."], repo)
    run(["dvc", "checkout", "-q"], repo)
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


def update_params(repo: Path, **changes) -> None:
    """Change ``repo``'s params.yaml as a maintainer would: a block by its keys
    (``sample={"train_per_class": 90}``), a top-level value whole (``seed=7``); the rest stays."""
    path = repo / config.PARAMS_FILE
    raw = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            raw[key].update(value)
        else:
            raw[key] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


# A benchmark that trains little (two seeds, one sweep point besides the gate's 100, a 5-epoch
# reference), for tests whose claim does not depend on how much it trains.
LIGHT_BENCHMARK = {"seeds": 2, "sweep_per_class": [5], "reference_max_epochs": 5}


def link_venv(repo: Path) -> Path:
    """Give ``repo`` this environment as its ``.venv`` (a symlink git ignores), so ``make`` targets
    run there without installing; returns ``repo``."""
    (repo / ".venv").symlink_to(VENV_BIN.parent)
    with open(repo / ".git/info/exclude", "a") as f:
        # whatever .gitignore says about a symlinked .venv
        f.write("/.venv\n")
    return repo


@dataclass(frozen=True)
class ColdBuild:
    """The project after one cold ``dvc repro`` with default params (see :func:`cold_build`)."""

    # the template: never change it, copy it with copy_build()
    repo: Path
    # what that `dvc repro` printed
    stdout: str
    # `git status --porcelain` right after it: empty when the copied dvc.lock was current
    status: str


def copy_build(build: ColdBuild, dest: Path) -> Path:
    """A copy of the built project at ``dest``: its own git repository, DVC cache and run cache
    (``.dvc/tmp``, DVC's locks and state, is left behind: DVC makes it anew); returns ``dest``."""
    skip_tmp = lambda folder, names: ["tmp"] if Path(folder) == build.repo / ".dvc" else []  # noqa: E731
    shutil.copytree(build.repo, dest, symlinks=True, ignore=skip_tmp)
    return dest


# The sha256 of the published TinyDigits v1 pickles.
V1 = {
    "train": "254293630e549113002cdc3f7f1542715e0a40288a3a8a0358fb8e478dce1e54",
    "test": "767ea1644a12dac6f3f94f63536de4deace8a0fa1f5c54f80a9419a267c7802d",
}


# The committed release record (datasets/tinydigits/releases.json), oldest first, and its 1.0.0 entry.
ENTRIES = record.load(path=ROOT / record.RECORD_FILE)


V1_ENTRY = ENTRIES[0]


# The last release recorded, and the next version of each level: refusals are phrased against it, so
# that cutting a release never breaks a test.
LAST = ENTRIES[-1]["version"]
_major, _minor, _patch = map(int, LAST.split("."))
PATCH, MINOR, MAJOR = (
    f"{_major}.{_minor}.{_patch + 1}",
    f"{_major}.{_minor + 1}.0",
    f"{_major + 1}.0.0",
)
# once MAJOR is released
PATCH_AFTER_MAJOR = f"{_major + 1}.0.1"


def git(repo: Path, *args: str) -> str:
    """``git ARGS`` in ``repo`` (it must succeed); its stdout, stripped."""
    return run(["git", *args], repo).stdout.strip()


def release_state(repo: Path) -> tuple:
    """What a refused or failed release must leave as it was: HEAD, the tags, the tree, the record."""
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "tag", "--list"),
        git(repo, "status", "--porcelain"),
        (repo / config.RECORD_FILE).read_bytes(),
    )


# params.yaml as committed
RAW_PARAMS = yaml.safe_load((ROOT / config.PARAMS_FILE).read_text())


BENCHMARK_DEFAULTS = params.load(ROOT / config.PARAMS_FILE).benchmark


def with_(**changes):
    """A deep copy of the committed params.yaml with ``changes``: ``sample__train_per_class=50`` sets
    ``sample.train_per_class``."""
    raw = copy.deepcopy(RAW_PARAMS)
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = raw
        for key in path:
            node = node[key]
        node[last] = value
    return raw


def tiny(**changes) -> params.BenchmarkParams:
    """Benchmark params small enough for unit tests."""
    small = {"seeds": 3, "hidden_units": 8, "batch_size": 8, "epochs": 6}
    return dataclasses.replace(BENCHMARK_DEFAULTS, **{**small, **changes})


PUBLISHED = ROOT / "datasets" / "tinydigits"


FILES = [f"{s}.{ext}" for s in ("train", "test") for ext in ("pkl", "npz")]


def lock_text(root, names=FILES) -> str:
    """A dvc.lock in DVC 3's own layout recording ``root/datasets/tinydigits/<name>``, after a
    stage that records no outs (as the real one's first stage, params, does)."""
    lines = [
        "schema: '2.0'",
        "stages:",
        "  params:",
        "    cmd: python -m pipeline params",
        "    deps:",
        "    - path: params.yaml",
        "      hash: md5",
        "      md5: 0123456789abcdef0123456789abcdef",
        "      size: 1",
        "  pickle:",
        "    cmd: python -m pipeline pickle",
        "    outs:",
    ]
    for name in names:
        data = (root / "datasets/tinydigits" / name).read_bytes()
        lines += [
            f"    - path: datasets/tinydigits/{name}",
            "      hash: md5",
            f"      md5: {hashlib.md5(data).hexdigest()}",
            f"      size: {len(data)}",
        ]
    return "\n".join(lines) + "\n"


def good_arrays(n=10):
    """``n`` valid (images, labels) for the loader tests: float32 (n, 8, 8) in [0, 1], int64 digits."""
    images = (np.arange(n * 64, dtype=np.float32).reshape(n, 8, 8) % 17) / np.float32(16)
    return images, np.arange(n, dtype=np.int64) % 10


T = TypeVar("T")

# seconds: generous, for a loaded machine running two test suites at once
DEADLINE = 300.0


def wait_for(
    event: Callable[[], T],
    what: str,
    *,
    timeout: float = DEADLINE,
    interval: float = 0.05,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
) -> T:
    """Poll ``event()`` until it returns something truthy, and return that.

    Fails, naming ``what`` (and showing ``log`` when given), when ``timeout`` seconds pass or when
    ``proc`` has exited first: a process that ended can no longer cause the event.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = event()
        if found:
            return found
        ended = proc is not None and proc.poll() is not None
        if ended or time.monotonic() > deadline:
            # the event may have happened just before the process ended
            found = event()
            if found:
                return found
            why = f"the process exited {proc.returncode}" if ended else f"{timeout:.0f} s passed"
            shown = f"\n--- {log}\n{log.read_text()}" if log is not None and log.exists() else ""
            raise AssertionError(f"waited for {what}, but {why}{shown}")
        time.sleep(interval)


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float = DEADLINE) -> None:
    """Wait until ``proc``, writing to ``log``, has printed ``text``."""
    wait_for(
        lambda: log.exists() and text in log.read_text(),
        f"{text!r} in {log.name}",
        proc=proc,
        log=log,
        timeout=timeout,
    )


# Loaded through PYTHONPATH (as sitecustomize) by every Python process dvc starts. At the moment a
# process would move a finished temp file over a path ending in $KILL_AT_REPLACE, it SIGKILLs
# itself. Over $PAUSE_AT_REPLACE, it first creates $PAUSE_MARK (the event a test waits for), then
# waits until $RESUME_FILE exists (the test's go-ahead; after $PAUSE_TIMEOUT s it goes on anyway,
# so that a failed test never leaves a stage hanging).
STAGE_HOOK = textwrap.dedent("""
    import os, signal, time
    _kill, _pause = os.environ.get("KILL_AT_REPLACE"), os.environ.get("PAUSE_AT_REPLACE")
    if _kill or _pause:
        _replace = os.replace
        def replace(src, dst, *args, **kwargs):
            if _pause and os.fspath(dst).endswith(_pause):
                with open(os.environ["PAUSE_MARK"], "w") as mark:
                    mark.write(str(os.getpid()))
                deadline = time.monotonic() + float(os.environ.get("PAUSE_TIMEOUT", "600"))
                while not os.path.exists(os.environ["RESUME_FILE"]) and time.monotonic() < deadline:
                    time.sleep(0.02)
            if _kill and os.fspath(dst).endswith(_kill):
                os.kill(os.getpid(), signal.SIGKILL)
            return _replace(src, dst, *args, **kwargs)
        os.replace = replace
""")


def write_stage_hook(folder: Path) -> Path:
    """A folder holding :data:`STAGE_HOOK` as ``sitecustomize.py``, to put on PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(STAGE_HOOK)
    return folder


@dataclass(frozen=True)
class Pause:
    """A stage that stops just before it replaces ``at``, until the test lets it go on."""

    # the folder holding the hook, for PYTHONPATH
    hook: Path
    # the end of the path whose replace waits
    at: str
    # created by the stage when it stops there
    mark: Path
    # created by the test to let it go on
    resume: Path

    @classmethod
    def before_replacing(cls, folder: Path, at: str) -> Pause:
        folder.mkdir(parents=True, exist_ok=True)
        pause = cls(write_stage_hook(folder / "hook"), at, folder / "paused", folder / "resume")
        pause.mark.unlink(missing_ok=True)
        pause.resume.unlink(missing_ok=True)
        return pause

    def env(self) -> dict[str, str]:
        return {
            "PYTHONPATH": str(self.hook),
            "PAUSE_AT_REPLACE": self.at,
            "PAUSE_MARK": str(self.mark),
            "RESUME_FILE": str(self.resume),
        }

    def wait(self, proc: subprocess.Popen, log: Path | None = None) -> None:
        """Until the stage ``proc`` runs has stopped before the replace (fails if ``proc`` ends first)."""
        wait_for(
            self.mark.exists, f"a stage to stop before replacing {self.at}", proc=proc, log=log
        )

    def release(self) -> None:
        self.resume.touch()


# ---- Ctrl-C as a terminal sends it ------------------------------------------------------------


class Process(NamedTuple):
    pid: int
    parent: int
    # its command line, arguments joined by spaces
    cmd: str
    threads: int


def group_processes(pgid: int) -> list[Process]:
    """Every process in process group ``pgid``."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            # fields after the name: state, ppid, pgrp
            if int(fields[2]) == pgid:
                cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                threads = len(list((stat.parent / "task").iterdir()))
                out.append(Process(int(stat.parent.name), int(fields[1]), cmd, threads))
        except (OSError, IndexError, ValueError):
            # a process that ended meanwhile
            continue
    return out


def still_running(pgid: int) -> list[Process]:
    """The processes of group ``pgid`` that still run: not those that have ended and wait for
    init to reap them (a zombie, or one so far into its exit that its command line is gone)."""
    running = []
    for process in group_processes(pgid):
        try:
            state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            # reaped meanwhile
            continue
        if state not in ("Z", "X") and process.cmd:
            running.append(process)
    return running


def default_ctrl_c() -> None:
    """For a child process (``preexec_fn``): Ctrl-C at its default, as in a terminal's foreground
    job. A suite started in the background of a non-interactive shell (``make test &``) inherits
    SIGINT ignored, and Python then never installs its KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def foreground_job(cmd: list[str], *, stderr=subprocess.PIPE, **kwargs) -> subprocess.Popen:
    """Start ``cmd`` as a terminal starts a foreground job: in a process group of its own (which
    ``os.killpg(proc.pid, SIGINT)`` then reaches whole, as Ctrl-C does) and with Ctrl-C at its
    default; its output read as text from ``proc.stdout`` (and ``proc.stderr``)."""
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,
        preexec_fn=default_ctrl_c,
        **kwargs,
    )


def ctrl_c(
    repo: Path,
    cmd: list[str],
    ready: Callable[[str, list[Process]], bool],
    env: dict | None = None,
    *,
    group_ends: bool = False,
) -> tuple[int, str]:
    """Run ``cmd`` in a process group of its own; once ``ready(output so far, the group's
    processes)`` holds, send SIGINT to the group; return (exit status, everything every process
    printed). ``group_ends``: also fail unless every process of the group has stopped running
    within 10 s of ``cmd`` exiting (one still ending, a forkserver, may take a moment)."""
    proc = foreground_job(cmd, cwd=repo, env=user_env(env), stderr=subprocess.STDOUT)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_for(
            lambda: ready("".join(lines), group_processes(proc.pid)),
            f"the moment to interrupt {' '.join(cmd)}",
            proc=proc,
            interval=0.02,
        )
    except AssertionError as err:
        raise AssertionError(f"{err}\n--- its output\n{''.join(lines)}") from None
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=300)
    # EOF: every process of the group that held the pipe has ended
    reader.join(timeout=300)
    if group_ends:
        wait_for(
            lambda: not still_running(proc.pid), "every process of the group to end", timeout=10
        )
    return proc.returncode, "".join(lines)


# ---- the data stages in this process (tests/test_stage_mains.py, test_benchmark_mains.py) ------

DATA_STAGES = ("fetch", "sample", "normalize", "split", "pickle")


def stage_main(stage: str) -> Callable[[], None]:
    """The ``main`` that ``python -m pipeline STAGE`` runs."""
    return importlib.import_module(STAGES[stage][0]).main


def run_stages(project: Path, monkeypatch, caplog, params: dict) -> list[str]:
    """Run the data stages in ``project`` with ``params`` as its params.yaml; each stage's lines,
    prefixed with the stage's name as the entry point prints them."""
    (project / "datasets/tinydigits").mkdir(parents=True)
    shutil.copy(ROOT / config.RECORD_FILE, project / config.RECORD_FILE)
    (project / config.PARAMS_FILE).write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(project)
    caplog.set_level(logging.INFO, logger="pipeline")
    lines = []
    for stage in DATA_STAGES:
        caplog.clear()
        assert stage_main(stage)() is None
        lines += [f"{stage}: {r.getMessage()}" for r in caplog.records]
    return lines
