"""The benchmark stage's I/O edge: read its inputs; build and write metrics, plots and the card.

Paths here are the ``benchmark`` stage's outs (``tests/test_dvc_yaml.py`` checks them against
``dvc.yaml``). Every tracked output is built in memory first and then written atomically, so a
failed build writes nothing. Wall times are machine-specific: they go to the log and to
:data:`LOCAL_FILE` (git-ignored), never into a tracked file.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from pipeline.benchmark import card, plots
from pipeline.benchmark.sweep import LOCAL_FILE as SWEEP_LOCAL
from pipeline.core import config, params
from pipeline.core.storage import atomic_write_bytes, read_npz
from pipeline.release import record

log = logging.getLogger(__name__)

REPORTS_DIR, METRICS_FILE = config.REPORTS_DIR, config.METRICS_FILE
PLOT_FILES = {
    name: REPORTS_DIR / "plots" / f"{name}.csv"
    for name in ("learning_curve", "sweep", "confusion", "per_class")
}
FIGURE_FILES = {name: REPORTS_DIR / "figures" / f"{name}.png" for name in ("samples", "confusion")}
LOCAL_FILE = config.BENCHMARK_TIMES_FILE
CARD_FILE = config.CARD_FILE
# every tracked file build() gives
OUTS = (
    METRICS_FILE,
    *PLOT_FILES.values(),
    *FIGURE_FILES.values(),
    CARD_FILE,
)
CARD_TEMPLATE = Path("pipeline/benchmark/card_template.md")
DECIMALS = config.REPORT_DECIMALS


def read_inputs():
    """The published splits, each (images (N, 8, 8) float32, labels (N,) int64), the raw snapshot
    {pixels (1797, 64) uint8, labels (1797,)}, and the published files' bytes {path: bytes} (for the
    card's sizes and digests; each file is read once). Each was validated by the stage that wrote
    it, and DVC's hashes pin those bytes, so they are not checked again here."""
    files = {
        path: path.read_bytes()
        for s in config.SPLITS
        for path in (config.pickle_path(s), config.npz_path(s), config.parquet_path(s))
    }
    files[config.CROISSANT_FILE] = config.CROISSANT_FILE.read_bytes()
    data = {
        s: read_npz(config.npz_path(s), ("images", "labels"), files[config.npz_path(s)])
        for s in config.SPLITS
    }
    raw = read_npz(config.RAW_FILE, ("pixels", "labels"))
    train = (data["train"]["images"], data["train"]["labels"])
    return train, (data["test"]["images"], data["test"]["labels"]), raw, files


def per_digit(matrix: np.ndarray) -> dict[int, float]:
    """Accuracy per digit from a confusion matrix (10, 10); digits without test images are left out."""
    totals = matrix.sum(axis=1)
    return {d: float(matrix[d, d] / totals[d]) for d in config.DIGITS if totals[d]}


def metrics(
    base: dict, runs, per_class: dict[int, float], ref: dict, sweep: dict[int, dict]
) -> dict:
    """``reports/metrics.json``: ``test_accuracy`` is the baseline's mean over seeds."""
    return {
        "test_accuracy": base["mean"],
        **{f"test_accuracy_{k}": base[k] for k in ("std", "min", "max")},
        "test_accuracy_per_seed": {f"seed_{s}": run.accuracy for s, run in enumerate(runs)},
        "test_accuracy_per_digit": {f"digit_{d}": a for d, a in per_class.items()},
        "reference": ref,
        "sweep": {f"per_class_{k}": s for k, s in sorted(sweep.items())},
        "gate": {
            "per_class": config.GATE_PER_CLASS,
            "test_accuracy": sweep[config.GATE_PER_CLASS]["mean"],
        },
    }


def json_bytes(obj) -> bytes:
    """Sorted keys, floats rounded to :data:`DECIMALS`: the same figures give the same bytes."""

    def rounded(o):
        if isinstance(o, dict):
            return {k: rounded(v) for k, v in o.items()}
        return round(o, DECIMALS) if isinstance(o, float) else o

    return (json.dumps(rounded(obj), sort_keys=True, indent=2) + "\n").encode()


def build(
    p: params.Params,
    train,
    test,
    files: dict[Path, bytes],
    runs,
    loss: np.ndarray,
    base: dict,
    ref: dict,
    sweep: dict[int, dict],
    samples: bytes,
) -> dict[Path, bytes]:
    """Every tracked output of the stage, as bytes, keyed by path; ``files`` as :func:`read_inputs`
    gives, ``loss`` the runs' :func:`~pipeline.benchmark.training.mean_loss`, ``base`` the
    summary of ``runs``' accuracies, ``samples`` the samples figure
    (:func:`pipeline.benchmark.plots.samples_png` of ``train``, which the stage draws before it trains)."""

    actual = np.asarray(test[1])
    predicted = np.stack([run.predicted for run in runs])
    matrix = plots.confusion_matrix(actual, predicted)
    per_class = per_digit(matrix)
    curves = np.stack([r.curve for r in runs])
    facts = card.Facts(
        p=p,
        train_labels=np.asarray(train[1]),
        test_labels=actual,
        files=files,
        base=base,
        per_class=per_class,
        curve=curves.mean(axis=0),
        ref=ref,
        sweep=sweep,
        release_note=record.card_note(
            record.load(),
            p,
            {Path(k).name: v for k, v in files.items() if Path(k) not in config.METADATA_FILES},
        ),
    )
    n = sum(matrix.sum(axis=1))
    return {
        METRICS_FILE: json_bytes(metrics(base, runs, per_class, ref, sweep)),
        PLOT_FILES["learning_curve"]: plots.learning_curve(curves, loss),
        PLOT_FILES["sweep"]: plots.sweep_table(sweep),
        PLOT_FILES["confusion"]: plots.confusion_rows(actual, predicted),
        PLOT_FILES["per_class"]: plots.per_class_table(per_class),
        FIGURE_FILES["samples"]: samples,
        FIGURE_FILES["confusion"]: plots.confusion_png(
            matrix, f"Baseline on test, {len(runs)} seeds pooled ({n:,} predictions)"
        ),
        CARD_FILE: card.render(CARD_TEMPLATE.read_text(encoding="utf-8"), facts).encode(),
    }


def write(outputs: dict[Path, bytes]) -> None:
    for path, blob in outputs.items():
        atomic_write_bytes(path, blob)
    log.info("wrote %s", ", ".join(str(path) for path in outputs))


def log_figures(
    b: params.BenchmarkParams,
    base: dict,
    ref: dict,
    sweep: dict[int, dict],
    times: dict,
    reused: int | None = None,
) -> None:
    """The headline figures and wall times on the console; wall times also to :data:`LOCAL_FILE`.
    ``reused``: the sweep point whose runs are the baseline (no training here), if any."""
    log.info(
        "baseline 64-%d-10 SGD, %d epochs, %d seeds: test accuracy %.4f (min %.4f, max %.4f, std %.4f)",
        b.hidden_units,
        b.epochs,
        b.seeds,
        base["mean"],
        base["min"],
        base["max"],
        base["std"],
    )
    log.info(
        "reference 64-%d-10 Adam, %d epochs (%s): test accuracy %.4f",
        b.reference_hidden_units,
        ref["epochs"],
        "converged" if ref["converged"] else "NOT converged",
        ref["test_accuracy"],
    )
    log.info(
        "sweep, train images per digit -> mean test accuracy: %s",
        ", ".join(f"{k}: {s['mean']:.4f}" for k, s in sorted(sweep.items())),
    )
    if reused is None:
        # wall time over the seeds trained in parallel
        per_fit = times["baseline_s"] / b.seeds
        how = f"{per_fit:.3f} s per {b.epochs}-epoch fit, {b.seeds} fits in parallel"
    else:
        # trained by benchmark_sweep, which records its own fit times
        per_fit = _sweep_fit_seconds(reused)
        how = (
            f"the runs of benchmark_sweep's {reused}-per-digit point, whose split is the published one; "
            + (
                f"{per_fit:.3f} s per {b.epochs}-epoch fit there"
                if per_fit is not None
                else "fit times in its log"
            )
        )
    log.info(
        "wall time %.1f s: baseline %.2f s (%s; the original card claims <10 s); see %s",
        times["total_s"],
        times["baseline_s"],
        how,
        LOCAL_FILE,
    )
    timing = {
        **times,
        "baseline_per_fit_s": per_fit,
        "baseline_from_sweep_point": reused,
        "cpus": os.cpu_count(),
        "blas_threads": 1,
    }
    atomic_write_bytes(LOCAL_FILE, json_bytes(timing))


def _sweep_fit_seconds(k: int) -> float | None:
    """Seconds per fit at sweep point ``k``, as benchmark_sweep last recorded them here (if it ran here)."""
    try:
        return float(json.loads(SWEEP_LOCAL.read_text())["per_fit_s"][f"per_class_{k}"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
