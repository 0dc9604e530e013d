"""pipeline.benchmark.parallel: training on several workers gives the same bits, in the same order, as on one."""

from __future__ import annotations

import dataclasses
import importlib
import multiprocessing
import multiprocessing.connection
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest

from pipeline.benchmark import parallel, training
from pipeline.benchmark import sweep as benchmark_sweep
from pipeline.benchmark.parallel import WORKERS_ENV, run_tasks, warm_workers, worker_count
from pipeline.core import config, params
from pipeline.core.errors import INTERRUPTED, ParamsError, PipelineError
from pipeline.core.storage import npz_bytes
from tests.helpers import ROOT, foreground_job, group_processes, wait_for

SMALL = dataclasses.replace(
    params.load(ROOT / config.PARAMS_FILE).benchmark,
    seeds=4,
    hidden_units=8,
    epochs=3,
    sweep_per_class=(5, 15),
    reference_hidden_units=4,
    reference_max_epochs=5,
)


def bits(runs) -> list[bytes]:
    return [
        r.curve.tobytes() + (b"" if r.loss is None else r.loss.tobytes()) + r.predicted.tobytes()
        for r in runs
    ]


def test_seeds_on_one_worker_and_on_several_are_bit_identical(source):
    pixels, labels = source
    from pipeline.algorithm import normalize

    train, test = training.sweep_split(normalize(pixels), labels, 30, (10,) * 10, 3)
    one = training.train_seeds(train, test, SMALL, workers=1)
    # the seeds really differ
    assert len(set(bits(one))) == SMALL.seeds
    for n in (2, 3):
        assert bits(training.train_seeds(train, test, SMALL, workers=n)) == bits(one), n


def test_seeds_from_warmed_workers_are_the_bits_of_one_worker(source, monkeypatch):
    """The benchmark stage's workers fork from a process that imported scikit-learn first
    (a forkserver): the same bits as one worker in this process."""
    pixels, labels = source
    from pipeline.algorithm import normalize

    monkeypatch.setenv(WORKERS_ENV, "2")
    context = warm_workers(training.WORKER_IMPORTS)
    if context is None:
        pytest.skip("no forkserver start method here")
    assert context.get_start_method() == "forkserver"
    train, test = training.sweep_split(normalize(pixels), labels, 30, (10,) * 10, 3)
    one = training.train_seeds(train, test, SMALL, workers=1)
    warm = training.train_seeds(train, test, SMALL, workers=2, context=context)
    assert bits(warm) == bits(one)


def test_sweep_file_is_byte_identical_on_one_and_on_several_workers(source):
    pixels, labels = source
    files = {
        n: npz_bytes(
            benchmark_sweep.to_arrays(
                benchmark_sweep.measure(pixels, labels, SMALL, (20,) * 10, 42, workers=n)[0]
            )
        )
        for n in (1, 2)
    }
    assert files[1] == files[2]


def test_sweep_arrays_round_trip_bit_for_bit(source):
    pixels, labels = source
    sweep, seconds = benchmark_sweep.measure(pixels, labels, SMALL, (20,) * 10, 42, workers=1)
    assert sorted(sweep.points) == sorted(seconds) == [5, 15, 100]
    again = benchmark_sweep.from_arrays(benchmark_sweep.to_arrays(sweep))
    assert again.reference == sweep.reference and again.reference["epochs"] == 5
    strip = lambda runs: [dataclasses.replace(r, loss=None) for r in runs]  # noqa: E731  (the file keeps mean_loss only)
    assert all(bits(again.points[k]) == bits(strip(sweep.points[k])) for k in sweep.points)
    assert all(
        np.array_equal(again.loss[k], training.mean_loss(sweep.points[k])) for k in sweep.points
    )


def test_results_come_back_in_task_order_whatever_runs_first():
    tasks = [(b, 3) for b in range(12)]
    cheap_first = list(range(12))
    assert run_tasks(pow, tasks, cost=cheap_first, workers=2) == [b**3 for b in range(12)]


def _fail_on(x: int, bad: int) -> int:
    if x == bad:
        raise PipelineError(f"task {x} failed")
    return x


def test_an_error_in_a_worker_reaches_the_caller_as_itself():
    with pytest.raises(PipelineError, match="task 3 failed"):
        run_tasks(_fail_on, [(x, 3) for x in range(6)], workers=2)


def test_worker_count_comes_from_the_environment_or_the_cores(monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert worker_count() == 3
    monkeypatch.delenv(WORKERS_ENV)
    assert worker_count() >= 1
    monkeypatch.setenv(WORKERS_ENV, "0")
    with pytest.raises(ParamsError, match=r"TINYDIGITS_WORKERS must be an integer >= 1, got '0'"):
        worker_count()


KERNEL_PROBE = """
import dataclasses, hashlib, sys
import numpy as np
from pipeline.benchmark import sweep as benchmark_sweep
from pipeline.core import config, params
from pipeline import fetch
from pipeline.core.storage import npz_bytes
small = dataclasses.replace(params.load(config.PARAMS_FILE).benchmark, seeds=3, epochs=20, sweep_per_class=(50,),
                            reference_max_epochs=5)
pixels, labels = fetch.parse_csv(fetch.source_path().read_bytes())
sweep, _ = benchmark_sweep.measure(pixels, labels, small, (20,) * 10, 42, workers=1)
raw = np.stack([r.loss for r in sweep.points[100]])
blob = npz_bytes(benchmark_sweep.to_arrays(sweep))
print(hashlib.sha256(raw.tobytes()).hexdigest(), hashlib.sha256(blob).hexdigest())
"""


# two training runs in child processes: about 5 s, the unit tier's slowest by far
@pytest.mark.e2e
def test_the_sweep_file_does_not_depend_on_the_blas_kernel():
    """Per-seed losses differ between OpenBLAS kernels; the file, which dvc.lock hashes, must not."""
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("OPENBLAS_CORETYPE=Prescott and Haswell are x86_64 kernels")
    digests = {}
    for kernel in ("Prescott", "Haswell"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
        out = subprocess.run(
            [sys.executable, "-c", KERNEL_PROBE],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**env, "OPENBLAS_CORETYPE": kernel},
            timeout=300,
        )
        if out.returncode:
            pytest.skip(
                f"this CPU cannot run OpenBLAS' {kernel} kernel: {out.stderr.strip()[-200:]}"
            )
        digests[kernel] = out.stdout.split()
    (raw_a, file_a), (raw_b, file_b) = digests.values()
    if raw_a == raw_b:
        pytest.skip("both kernels gave the same per-seed losses here, so this machine cannot tell")
    assert file_a == file_b


STAGE_KILLED_BY_ITS_OWN_TASK = """
import os, signal, sys
from pipeline.benchmark.parallel import run_tasks, warm_workers
context = warm_workers(["os"]) if sys.argv[1] == "forkserver" else None
# one task kills the stage (as if it had ended at Ctrl-C before its workers saw the signal), the
# other does nothing: then both workers sit idle, holding both ends of their task queue
run_tasks(os.kill, [(os.getpid(), signal.SIGKILL), (os.getpid(), 0)], workers=2, context=context)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork and forkserver workers (POSIX)")
@pytest.mark.parametrize("start", ["fork", "forkserver"])
def test_workers_leave_once_their_stage_has_gone(start):
    # every process of the run holds the output pipe: communicate() returns once all have ended
    stage = subprocess.Popen(
        [sys.executable, "-c", STAGE_KILLED_BY_ITS_OWN_TASK, start],
        cwd=ROOT,
        env=dict(os.environ, **{WORKERS_ENV: "2"}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = stage.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(stage.pid, 9)
        pytest.fail("a worker outlived its stage")
    assert stage.returncode == -9 and "Traceback" not in output, output


def test_the_forkserver_loads_its_quiet_start_up_hook_first(monkeypatch, capsys):
    """A worker whose stage went (Ctrl-C) while it started finds its pipes and semaphores gone; the
    forkserver hands that error to sys.excepthook, which then prints nothing. Anything else prints."""
    seen = {}
    monkeypatch.setattr(
        multiprocessing.context.ForkServerContext,
        "set_forkserver_preload",
        lambda self, modules: seen.setdefault("preload", modules),
    )
    monkeypatch.setattr("multiprocessing.forkserver.ensure_running", lambda: None)
    monkeypatch.setenv("TINYDIGITS_WORKERS", "2")
    parallel.warm_workers(["sklearn.neural_network"])
    assert seen["preload"] == [parallel.FORKSERVER_SETUP, "sklearn.neural_network"]

    # restored after the test
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    setup = importlib.reload(importlib.import_module(parallel.FORKSERVER_SETUP))
    for error in (FileNotFoundError(2, "No such file or directory"), EOFError()):
        sys.excepthook(type(error), error, None)
    assert capsys.readouterr().err == ""
    sys.excepthook(ValueError, ValueError("a real start-up bug"), None)
    assert "ValueError: a real start-up bug" in capsys.readouterr().err
    assert sys.excepthook is setup._quiet_when_the_stage_is_gone


# Ctrl-C while a task the size of a training set is still on its way to the workers: they leave
# at once, and the pool's feeder thread is left writing that task into a pipe nothing reads.
# Before Python 3.11.5 (CPython gh-94777) the pool then waited for that thread forever: on Debian
# 12's Python 3.11.2, Ctrl-C during the sweep hung `dvc repro`. Two moments: while the workers
# train (the test sends it), and while run_tasks hands the tasks out, when it holds Ctrl-C until
# all are (the script sends it to its own process group at the third task, deterministically).
QUEUED_TASKS = r"""
import os, signal, sys, time
from concurrent.futures import ProcessPoolExecutor

from pipeline.benchmark.parallel import run_tasks
from pipeline.core.runner import run


def slow(blob, i):
    time.sleep(120)
    return i


if sys.argv[1] == "handing-out":
    submit, handed = ProcessPoolExecutor.submit, []

    def submit_then_ctrl_c(pool, *args):
        handed.append(submit(pool, *args))
        if len(handed) == 3:
            os.killpg(0, signal.SIGINT)
        return handed[-1]

    ProcessPoolExecutor.submit = submit_then_ctrl_c

tasks = [(bytes(1 << 20), i) for i in range(6)]  # 1 MiB each, as the sweep's training sets
sys.exit(run("tasks", lambda: run_tasks(slow, tasks, workers=2) and 0))
"""


def older_pythons_3_11() -> list[str]:
    """This machine's other Python 3.11 interpreters (the system's, say), which can import this
    environment's pure-Python packages; the test runs under each as well as under this one."""
    found = []
    for path in ("/usr/bin/python3.11", "/usr/local/bin/python3.11"):
        if os.path.exists(path) and os.path.realpath(path) != os.path.realpath(sys.executable):
            version = subprocess.run(
                [path, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            if version == "True":
                found.append(path)
    return found


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork workers and process groups (POSIX)")
@pytest.mark.parametrize("when", ["training", "handing-out"])
@pytest.mark.parametrize("python", [sys.executable, *older_pythons_3_11()])
def test_ctrl_c_with_a_big_task_still_queued_ends_the_stage(python, when):
    import sysconfig

    # threadpoolctl, which each worker imports
    site = sysconfig.get_paths()["purelib"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), site]))
    proc = foreground_job([python, "-c", QUEUED_TASKS, when], cwd=ROOT, env=env)
    try:
        if when == "training":
            wait_for(lambda: len(group_processes(proc.pid)) >= 3, "two workers", proc=proc)
            # the feeder thread fills the call queue's pipe and blocks
            time.sleep(0.3)
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{python}: Ctrl-C did not end run_tasks within 60 s (hung)")
    assert (proc.returncode, err) == (130, f"tasks: {INTERRUPTED}\n")


# ---- what a worker does at start, and the pool's helpers, in this process ------------------------
# A worker runs these in its own process, where make mutate cannot follow (mutmut counts a function
# as reached only in the test's process): here they run in the test's, with os._exit recorded
# instead of ending it.


@pytest.fixture
def exits(monkeypatch) -> list[int]:
    """The exit codes os._exit was called with, from any thread, in place of exiting."""
    codes: list[int] = []
    monkeypatch.setattr(os, "_exit", codes.append)
    return codes


@pytest.fixture
def sigint_restored():
    """SIGINT's handler and this thread's signal mask as they were, whatever the test set."""
    handler, mask = signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    # a Ctrl-C still held is dropped, not raised here
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    signal.signal(signal.SIGINT, handler)


def blocked() -> set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="signal masks (POSIX)")
def test_a_starting_worker_takes_a_held_ctrl_c_quietly_and_leaves_when_its_stage_has_gone(
    exits, sigint_restored, monkeypatch
):
    limits = []
    monkeypatch.setattr("threadpoolctl.threadpool_limits", lambda **kw: limits.append(kw))
    alive, stage_end = multiprocessing.Pipe(duplex=False)
    # the stage's own end, which it keeps while it runs: the worker must close only its copy
    stages_own = multiprocessing.connection.Connection(os.dup(stage_end.fileno()))
    before = set(threading.enumerate())
    try:
        # a forked worker starts with Ctrl-C held, as run_tasks holds it while the pool starts;
        # one pressed meanwhile arrives as the worker lets it through, and must find its handler
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        # to this thread: held here
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        parallel._start_worker((alive, stage_end))
        # _quit: no KeyboardInterrupt, no traceback
        assert exits == [parallel.EXIT_INTERRUPTED]
        assert signal.getsignal(signal.SIGINT) is parallel._quit
        assert signal.SIGINT not in blocked()
        assert stage_end.closed and not alive.closed
        # one BLAS thread: the same sums in every run
        assert limits == [{"limits": 1}]
        (watcher,) = set(threading.enumerate()) - before
        # it never keeps the worker alive on its own
        assert watcher.daemon
        watcher.join(0.3)
        # the stage runs on
        assert watcher.is_alive() and exits == [parallel.EXIT_INTERRUPTED]
    finally:
        # the stage has gone, however it went: the watcher ends the worker
        stages_own.close()
        # (already closed, unless the worker failed to)
        stage_end.close()
        for thread in set(threading.enumerate()) - before:
            thread.join(10)
        alive.close()
    assert exits == [parallel.EXIT_INTERRUPTED] * 2
    assert set(threading.enumerate()) <= before


def test_a_worker_whose_lifeline_is_already_closed_leaves_at_once(exits):
    alive, stage_end = multiprocessing.Pipe(duplex=False)
    # reading it raises OSError, not EOFError
    alive.close()
    parallel._leave_with(alive)
    assert exits == [parallel.EXIT_INTERRUPTED]
    stage_end.close()


def test_the_pool_forks_its_workers_where_it_can_and_spawns_them_elsewhere(monkeypatch):
    # a worker has the parent's imports
    if "fork" in multiprocessing.get_all_start_methods():
        assert parallel._context().get_start_method() == "fork"
    # Windows
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert parallel._context().get_start_method() == "spawn"


class _Reader:
    closed = False

    def close(self):
        self.closed = True


@pytest.mark.parametrize(
    "version, closes",
    [((3, 11, 2), True), ((3, 11, 4), True), ((3, 11, 5), False), ((3, 12, 0), False)],
)
def test_the_feeder_is_unblocked_by_hand_only_before_python_3_11_5(monkeypatch, version, closes):
    """CPython gh-94777: before 3.11.5 the pool waits forever for a feeder thread blocked on a pipe
    nothing reads; later Pythons close this end themselves, and closing it here too could race."""
    monkeypatch.setattr(parallel, "sys", types.SimpleNamespace(version_info=version))
    reader = _Reader()
    pool = types.SimpleNamespace(_call_queue=types.SimpleNamespace(_reader=reader))
    parallel._unblock_the_feeder(pool)
    assert reader.closed is closes
    # a pool whose private attributes have changed: nothing to close, and no error either
    for changed in (types.SimpleNamespace(), types.SimpleNamespace(_call_queue=object())):
        parallel._unblock_the_feeder(changed)


def test_a_timed_call_gives_the_result_and_the_seconds_it_took(monkeypatch):
    clock = iter([100.0, 102.5])
    monkeypatch.setattr(parallel, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    assert parallel.timed_call(pow, 2, 10) == (1024, 2.5)
