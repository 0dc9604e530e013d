"""Run independent training tasks on every available core; results in task order, bit-identical
whatever the worker count.

    >>> results = run_tasks(fit_one, [(x, y, seed) for seed in range(10)], cost=[len(y)] * 10)

Each task runs ``fn(*args)`` with one BLAS thread, in a worker forked from this process (fork
costs milliseconds, and the modules the parent has imported are already there: the sweep
imports scikit-learn before forking; the benchmark stage leaves it to the workers, to keep its
own peak memory down). A task's result depends only on its arguments, and results come back in the order of
``tasks``, so 1 worker and N give the same bytes (tests/test_parallel.py compares them).
``TINYDIGITS_WORKERS`` sets the worker count (default: the cores this process may use);
with 1 worker, or a single task, everything runs in this process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from pipeline.core.errors import ParamsError
from pipeline.core.runner import EXIT_INTERRUPTED

log = logging.getLogger(__name__)

WORKERS_ENV = "TINYDIGITS_WORKERS"
# the forkserver imports it first
FORKSERVER_SETUP = "pipeline.benchmark.forkserver_setup"


def worker_count() -> int:
    """``TINYDIGITS_WORKERS`` if set (an integer >= 1), else the cores this process may run on."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )
    if not value.isdigit() or int(value) < 1:
        raise ParamsError(
            f"environment variable {WORKERS_ENV} must be an integer >= 1, got {value!r}"
        )
    return int(value)


def _quit(signum, frame) -> None:
    os._exit(EXIT_INTERRUPTED)


def _start_worker(lifeline: tuple[Connection, Connection]) -> None:
    # Ctrl-C reaches every process in the terminal's group: a worker leaves at once and silently
    # (no traceback, no half-trained result); the stage's own process reports it (core.runner).
    # A fork worker starts with Ctrl-C held (_ctrl_c_held): one pressed meanwhile arrives now.
    signal.signal(signal.SIGINT, _quit)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    alive, stage_end = lifeline
    # a forked worker's copy: only the stage's own may keep the line open
    stage_end.close()
    threading.Thread(target=_leave_with, args=(alive,), daemon=True).start()
    from threadpoolctl import threadpool_limits

    # for the worker's lifetime: the same sums in every run
    threadpool_limits(limits=1)


def _leave_with(alive: Connection) -> None:
    """End this worker once the stage has gone: nothing is ever sent down ``alive``, so it reads
    end-of-file when the stage's end closes, as it does when the stage exits, however it exits.
    A worker that a forkserver forks just after Ctrl-C never sees the signal, and would otherwise
    wait for tasks forever: it holds both ends of its task queue, and the forkserver's lifeline."""
    try:
        alive.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(EXIT_INTERRUPTED)


def _context() -> multiprocessing.context.BaseContext:
    # fork: a worker starts in milliseconds with the parent's imports; spawn would re-import
    # numpy and scikit-learn in each worker (about 0.6 s here)
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def warm_workers(modules: Sequence[str]) -> multiprocessing.context.BaseContext | None:
    """Start, in the background, a process that imports ``modules`` and forks the workers of a
    later :func:`run_tasks` (pass it as ``context``): their imports then overlap with what this
    process does meanwhile, and this process need not import them at all. None where there is
    no forkserver (Windows) or one worker: :func:`run_tasks` then works as without it."""
    if "forkserver" not in multiprocessing.get_all_start_methods() or worker_count() <= 1:
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([FORKSERVER_SETUP, *modules])
    from multiprocessing import forkserver, resource_tracker

    # The forkserver imports ``modules`` before it starts ignoring Ctrl-C, so Ctrl-C then would print
    # its traceback: start it with Ctrl-C held (a signal mask survives exec; its workers inherit it
    # and set their own handler, _start_worker), and take any Ctrl-C here once it has started. The
    # resource tracker first: starting, it holds Ctrl-C itself, then releases it, ours included.
    resource_tracker.ensure_running()
    with _ctrl_c_held():
        forkserver.ensure_running()
    return context


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple],
    *,
    cost: Sequence[float] | None = None,
    workers: int | None = None,
    context: multiprocessing.context.BaseContext | None = None,
) -> list[Any]:
    """``[fn(*args) for args in tasks]``, computed by up to ``workers`` processes.

    ``cost``: a relative estimate per task; the dearest start first, so the last to finish is a
    cheap one. ``fn`` must be a module-level function; ``args`` and results must pickle.
    """
    workers = worker_count() if workers is None else workers
    n = min(workers, len(tasks))
    if n <= 1:
        from threadpoolctl import threadpool_limits

        # as in a worker: the same sums
        with threadpool_limits(limits=1):
            return [fn(*args) for args in tasks]
    order = (
        sorted(range(len(tasks)), key=lambda i: -cost[i]) if cost is not None else range(len(tasks))
    )
    results: list[Any] = [None] * len(tasks)
    context = context or _context()
    # (the workers' end, the stage's end)
    lifeline = context.Pipe(duplex=False)
    with ProcessPoolExecutor(
        max_workers=n, mp_context=context, initializer=_start_worker, initargs=(lifeline,)
    ) as pool:
        try:
            # a Ctrl-C held meanwhile arrives as this block ends
            with _ctrl_c_held():
                futures = {i: pool.submit(fn, *tasks[i]) for i in order}
            for i, future in futures.items():
                results[i] = future.result()
        except BaseException:
            # interrupted, or a task failed: start no other task, and wait for the workers to end
            # (wait=False would let this process exit while a worker still unpickles its start-up
            # state, which then fails with a traceback)
            _unblock_the_feeder(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    for end in lifeline:
        end.close()
    log.debug("%d tasks on %d workers", len(tasks), n)
    return results


def _unblock_the_feeder(pool: ProcessPoolExecutor) -> None:
    """Let ``pool`` shut down once its workers are gone: Ctrl-C ends them at once, and a task still
    on its way to them (a training set, hundreds of KiB) leaves the pool's feeder thread blocked,
    writing into a pipe that nothing reads. Before Python 3.11.5 the pool then waits for that
    thread forever (CPython gh-94777; Debian 12's Python 3.11.2 hung ``dvc repro`` so). Later
    Pythons close this process's end of the pipe themselves, which makes the write fail, from the
    pool's own thread: there, closing it here too could close it twice at once. Before 3.11.5, we
    do what they do, through the pool's private attributes (none: nothing to do)."""
    if sys.version_info >= (3, 11, 5):
        return
    reader = getattr(getattr(pool, "_call_queue", None), "_reader", None)
    if reader is not None:
        reader.close()


@contextlib.contextmanager
def _ctrl_c_held():
    """Hold Ctrl-C while the pool starts its workers, and take it once they are started: cut short,
    a starting worker prints a traceback (its parent gone, or the pool's thread never started)."""
    # Windows: no signal masks
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def timed_call(fn: Callable[..., Any], *args) -> tuple[Any, float]:
    """``(fn(*args), seconds it took)``: a task wrapper that reports each task's own time."""
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start
