"""Stage ``benchmark_sweep``: the benchmark's work that does not depend on the train counts.

    $ python -m pipeline benchmark_sweep
    benchmark_sweep: 8 points x 10 seeds and the reference, on 2 workers: 3.1 s (0.176 s per fit at 100 per digit)
    benchmark_sweep: wrote datasets/interim/sweep.npz

The data-size sweep trains the baseline on the split the pipeline would build with
``train_per_class=k`` for each ``k`` in ``benchmark.sweep_per_class`` and the gate's 100; the
reference (the ceiling: Adam until converged) trains on that 100-per-digit split. Both depend on
the seed, the test counts, the raw source and the benchmark settings, never on the train counts,
so changing ``sample.train_per_class`` does not rerun this stage, and going back to an earlier
setting of its own params restores its output from DVC's run cache. Every run's accuracy curve
and predictions, and each point's mean training loss at the reports' precision
(:func:`pipeline.benchmark.training.mean_loss`), go to :data:`pipeline.core.config.SWEEP_FILE` (DVC cache). It
holds no wall times and nothing finer than what the reports publish, so its hash, which
``dvc.lock`` records, changes with the inputs and not with the machine's BLAS kernel. The
``benchmark`` stage reads it, reuses the runs of the point whose split is the published one,
writes the reports and applies the gate.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.algorithm import normalize
from pipeline.benchmark.parallel import run_tasks, timed_call, worker_count
from pipeline.benchmark.training import Run, flat, mean_loss, reference, sweep_split, train_run
from pipeline.core import config, params
from pipeline.core.config import GATE_PER_CLASS
from pipeline.core.storage import atomic_write_bytes, read_npz, write_npz

log = logging.getLogger(__name__)
# what this stage writes: dvc.yaml's outs (tests/test_dvc_yaml.py)
OUTS = (config.SWEEP_FILE,)

# wall times: machine-specific, git-ignored
LOCAL_FILE = config.SWEEP_TIMES_FILE
_NAMES = (
    "per_class",
    "curve",
    "mean_loss",
    "predicted",
    "reference_test_accuracy",
    "reference_epochs",
    "reference_converged",
)


@dataclass(frozen=True)
class Sweep:
    """The runs of every point, ``{train images per digit: [Run per seed]}``, each point's
    :func:`~pipeline.benchmark.training.mean_loss` (``loss``, same keys), and the reference
    ``{test_accuracy, epochs, converged}``."""

    points: dict[int, list[Run]]
    loss: dict[int, np.ndarray]
    reference: dict


def points(b: params.BenchmarkParams) -> list[int]:
    """The counts the sweep measures: ``benchmark.sweep_per_class`` and the gate's, ascending."""
    return sorted(set(b.sweep_per_class) | {GATE_PER_CLASS})


def measure(
    pixels: np.ndarray,
    labels: np.ndarray,
    b: params.BenchmarkParams,
    test_counts,
    seed: int,
    *,
    workers: int | None = None,
) -> tuple[Sweep, dict[int, float]]:
    """Train every point's seeds and the reference, in parallel; the result does not depend on ``workers``.

    ``pixels`` (1797, 64) uint8 and ``labels`` (1797,): the raw snapshot. Returns the :class:`Sweep`
    and the mean seconds per fit at each point (machine-specific, for the log only).
    """

    # once, for every point
    images = normalize(pixels)
    splits = {k: sweep_split(images, labels, k, test_counts, seed) for k in points(b)}
    arrays = {k: (*flat(train), *flat(test)) for k, (train, test) in splits.items()}
    tasks = [(train_run, *arrays[k], b, s) for k in splits for s in range(b.seeds)]
    cost = [len(t[2]) * b.epochs for t in tasks]
    # the dearest task: runs first
    tasks.append((reference, *splits[GATE_PER_CLASS], b))
    cost.append(len(splits[GATE_PER_CLASS][0][1]) * b.reference_max_epochs)
    # before forking, so each worker has it already (this process imports nothing heavier; 191 MiB)
    import sklearn.neural_network  # noqa: F401

    done = run_tasks(timed_call, tasks, cost=cost, workers=workers)
    (ref, _), fits = done[-1], iter(done[:-1])
    runs, seconds = {}, {}
    for k in splits:
        pairs = [next(fits) for _ in range(b.seeds)]
        runs[k], seconds[k] = [run for run, _ in pairs], float(np.mean([s for _, s in pairs]))
    return Sweep(runs, {k: mean_loss(rs) for k, rs in runs.items()}, ref), seconds


def to_arrays(sweep: Sweep) -> dict[str, np.ndarray]:
    """The :class:`Sweep` as arrays: ``curve`` (P, seeds, epochs), ``mean_loss`` (P, epochs),
    ``predicted`` (P, seeds, M); per-seed losses are not kept (see :func:`pipeline.benchmark.training.quantize`)."""
    ks = sorted(sweep.points)
    stack = lambda field: np.stack([[getattr(r, field) for r in sweep.points[k]] for k in ks])  # noqa: E731
    ref = sweep.reference
    return {
        "per_class": np.asarray(ks, dtype=np.int64),
        "curve": stack("curve").astype(np.float64),
        "mean_loss": np.stack([sweep.loss[k] for k in ks]).astype(np.float64),
        "predicted": stack("predicted").astype(np.int64),
        # (1,): .npz has no 0-d here
        "reference_test_accuracy": np.array([ref["test_accuracy"]], dtype=np.float64),
        "reference_epochs": np.array([ref["epochs"]], dtype=np.int64),
        "reference_converged": np.array([ref["converged"]], dtype=np.bool_),
    }


def from_arrays(a: dict[str, np.ndarray]) -> Sweep:
    """Inverse of :func:`to_arrays`, bit for bit (the runs come back without per-seed losses)."""
    runs = {
        int(k): [
            Run(a["curve"][i, s], None, a["predicted"][i, s]) for s in range(a["curve"].shape[1])
        ]
        for i, k in enumerate(a["per_class"])
    }
    loss = {int(k): a["mean_loss"][i] for i, k in enumerate(a["per_class"])}
    ref = {
        "test_accuracy": float(a["reference_test_accuracy"][0]),
        "epochs": int(a["reference_epochs"][0]),
        "converged": bool(a["reference_converged"][0]),
    }
    return Sweep(runs, loss, ref)


def read(path: Path = config.SWEEP_FILE) -> Sweep:
    """The sweep this stage wrote (DVC's hash pins the bytes it wrote)."""
    return from_arrays(read_npz(path, _NAMES))


def main() -> None:
    p = params.load()
    from threadpoolctl import threadpool_limits

    # validated by fetch, pinned by DVC's hash
    raw = read_npz(config.RAW_FILE, ("pixels", "labels"))
    start, workers = time.perf_counter(), worker_count()
    # one BLAS thread: the same sums every run, in this process too
    with threadpool_limits(limits=1):
        sweep, per_fit = measure(
            raw["pixels"], raw["labels"], p.benchmark, p.sample.test_counts, p.seed, workers=workers
        )
    elapsed = time.perf_counter() - start
    write_npz(config.SWEEP_FILE, **to_arrays(sweep))
    log.info(
        "%d points x %d seeds and the reference, on %d worker%s: %.1f s (%.3f s per fit at %d per digit)",
        len(sweep.points),
        p.benchmark.seeds,
        workers,
        "" if workers == 1 else "s",
        elapsed,
        per_fit[GATE_PER_CLASS],
        GATE_PER_CLASS,
    )
    log.info(
        "sweep, train images per digit -> mean test accuracy: %s; reference %.4f",
        ", ".join(
            f"{k}: {np.mean([r.accuracy for r in rs]):.4f}" for k, rs in sweep.points.items()
        ),
        sweep.reference["test_accuracy"],
    )
    record = {
        "sweep_s": elapsed,
        "workers": workers,
        "per_fit_s": {f"per_class_{k}": s for k, s in per_fit.items()},
    }
    atomic_write_bytes(LOCAL_FILE, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    log.info("wrote %s", config.SWEEP_FILE)
