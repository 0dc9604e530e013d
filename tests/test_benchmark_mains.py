"""The two benchmark stages' ``main()`` in this process, on one worker (``TINYDIGITS_WORKERS=1``:
no pool, so ``make mutate`` can follow every call), with a light benchmark (two seeds, one sweep
point besides the gate's 100, a 5-epoch reference) in a scratch project holding the published
files: what the sweep writes and prints, the baseline taken from the sweep's runs or trained here,
every report written before the gate, and the gate's refusal.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline import fetch
from pipeline.benchmark import plots, reports, stage, sweep, tables, training
from pipeline.benchmark.parallel import WORKERS_ENV
from pipeline.core import config, params
from pipeline.core.errors import PipelineError
from pipeline.release import record
from tests.helpers import LIGHT_BENCHMARK, PUBLISHED, RAW_PARAMS, ROOT, run_stages, update_params

LIGHT = {**RAW_PARAMS, "benchmark": {**RAW_PARAMS["benchmark"], **LIGHT_BENCHMARK}}


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The published files, the card template, ``LIGHT`` as params.yaml, the raw snapshot and the
    sweep (fetch and benchmark_sweep, in process, once for the module), and what the sweep did.
    The first test below, which makes it, is the one that checks the sweep: make mutate runs a
    mutant only in the tests whose own code reached it."""
    root = tmp_path_factory.mktemp("benchmark") / "project"
    (root / config.DATASET_DIR).mkdir(parents=True)
    for path in PUBLISHED.iterdir():
        if path.is_file():
            shutil.copy(path, root / config.DATASET_DIR / path.name)
    (root / reports.CARD_TEMPLATE).parent.mkdir(parents=True)
    shutil.copy(ROOT / reports.CARD_TEMPLATE, root / reports.CARD_TEMPLATE)
    (root / config.PARAMS_FILE).write_text(yaml.safe_dump(LIGHT, sort_keys=False))
    logger, handler = logging.getLogger("pipeline"), Lines()
    level = logger.level
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv(WORKERS_ENV, "1")
        limits = blas_limits(mp)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            fetch.main()
            handler.lines.clear()
            start = time.perf_counter()
            sweep.main()
            elapsed = time.perf_counter() - start
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)
    return Built(root, handler.lines, elapsed, limits)


@dataclass
class Built:
    root: Path
    # what the sweep's main() logged
    lines: list[str]
    # its wall time, as this test measured it
    seconds: float
    # each threadpool_limits(...) it asked for
    blas_limits: list[dict]


def blas_limits(mp) -> list[dict]:
    """Record every ``threadpool_limits(**kwargs)`` a stage asks for (it imports it when it runs)."""
    import threadpoolctl

    asked, real = [], threadpoolctl.threadpool_limits

    def recorded(**kwargs):
        asked.append(kwargs)
        return real(**kwargs)

    mp.setattr(threadpoolctl, "threadpool_limits", recorded)
    return asked


def assert_timing_file(path, seconds: float, key: str) -> dict:
    """A stage's own timing file: indented, sorted JSON, its ``key`` a wall time within ``seconds``."""
    text = path.read_text()
    timing = json.loads(text)
    assert text == json.dumps(timing, indent=2, sort_keys=True) + "\n"
    assert 0 < timing[key] <= seconds, (timing, seconds)
    return timing


@pytest.fixture
def project(built, tmp_path, monkeypatch, caplog):
    """A copy of ``built`` as the current directory, on one worker."""
    root = tmp_path / "project"
    shutil.copytree(built.root, root)
    monkeypatch.chdir(root)
    monkeypatch.setenv(WORKERS_ENV, "1")
    caplog.set_level(logging.INFO, logger="pipeline")
    return root


@pytest.fixture
def workers(monkeypatch) -> dict[str, list]:
    """What the benchmark stage asks of the workers, recorded: the forkserver it warms (and what
    for), the context it trains with and its BLAS limits. On one worker no forkserver exists, so
    the stage gets a stand-in context, which training on one worker never uses."""
    context = object()
    asked = {"warmed": [], "contexts": [], "limits": blas_limits(monkeypatch), "context": context}

    def warm(modules):
        asked["warmed"].append(modules)
        return context

    def train(*args, context=None, **kwargs):
        asked["contexts"].append(context)
        return training.train_seeds(*args, **kwargs)

    monkeypatch.setattr(stage, "warm_workers", warm)
    monkeypatch.setattr(stage, "train_seeds", train)
    return asked


def messages(caplog) -> list[str]:
    lines = [r.getMessage() for r in caplog.records]
    caplog.clear()
    return lines


def accuracies(runs) -> list[float]:
    return [run.accuracy for run in runs]


def test_the_sweep_trains_every_point_and_says_what_it_measured(built, project):
    measured = sweep.read()
    assert sorted(measured.points) == [5, 100]
    assert all(len(runs) == 2 for runs in measured.points.values())
    means = {k: np.mean(accuracies(runs)) for k, runs in measured.points.items()}
    warning, first, second, last = built.lines
    # five epochs are too few for the reference to converge, and it says so
    assert warning == "reference did not converge in 5 epochs; raise benchmark.reference_max_epochs"
    assert re.fullmatch(
        r"2 points x 2 seeds and the reference, on 1 worker: \d+\.\d s "
        r"\(\d+\.\d{3} s per fit at 100 per digit\)",
        first,
    ), first
    assert second == (
        f"sweep, train images per digit -> mean test accuracy: 5: {means[5]:.4f}, "
        f"100: {means[100]:.4f}; reference {measured.reference['test_accuracy']:.4f}"
    )
    assert last == "wrote datasets/interim/sweep.npz"
    timing = assert_timing_file(sweep.LOCAL_FILE, built.seconds, "sweep_s")
    assert timing["workers"] == 1 and sorted(timing["per_fit_s"]) == [
        "per_class_100",
        "per_class_5",
    ]
    # one BLAS thread, the same sums every run: the stage's own limit, then run_tasks' on one worker
    assert built.blas_limits == [{"limits": 1}] * 2
    # the 100-per-digit point is the published split: its runs are what training on it gives
    train, test, _, _ = reports.read_inputs()
    b = params.load().benchmark
    assert accuracies(measured.points[100]) == accuracies(training.train_seeds(train, test, b))


def test_at_the_published_count_the_baseline_is_the_sweeps_runs(project, caplog, workers):
    measured = sweep.read()
    start = time.perf_counter()
    stage.main()
    timing = assert_timing_file(reports.LOCAL_FILE, time.perf_counter() - start, "total_s")
    swept = json.loads(sweep.LOCAL_FILE.read_text())["per_fit_s"]["per_class_100"]
    assert 0 < timing.pop("baseline_s") <= timing.pop("total_s")
    assert timing == {
        # the sweep's own fits, which it timed
        "baseline_per_fit_s": round(swept, 4),
        "baseline_from_sweep_point": 100,
        "cpus": os.cpu_count(),
        "blas_threads": 1,
    }
    # nothing to train: no forkserver importing scikit-learn beside it, and no training
    assert workers["warmed"] == workers["contexts"] == workers["limits"] == []
    assert all((project / path).is_file() for path in reports.OUTS)
    metrics = json.loads(reports.METRICS_FILE.read_text())
    at_100 = accuracies(measured.points[100])
    assert metrics["test_accuracy"] == metrics["gate"]["test_accuracy"] == round(np.mean(at_100), 4)
    assert list(metrics["test_accuracy_per_seed"].values()) == [round(a, 4) for a in at_100]
    lines = messages(caplog)
    summary, ref = stage.summary(at_100), measured.reference
    assert lines[:4] == [
        # every report, before the gate
        "wrote " + ", ".join(map(str, reports.OUTS)),
        f"baseline 64-32-10 SGD, 20 epochs, 2 seeds: test accuracy {summary['mean']:.4f} "
        f"(min {summary['min']:.4f}, max {summary['max']:.4f}, std {summary['std']:.4f})",
        f"reference 64-64-10 Adam, 5 epochs (NOT converged): test accuracy "
        f"{ref['test_accuracy']:.4f}",
        "sweep, train images per digit -> mean test accuracy: "
        f"5: {np.mean(accuracies(measured.points[5])):.4f}, 100: {summary['mean']:.4f}",
    ]
    assert re.fullmatch(
        r"wall time \d+\.\d s: baseline 0\.\d\d s \(the runs of benchmark_sweep's 100-per-digit "
        r"point, whose split is the published one; \d\.\d{3} s per 20-epoch fit there; the "
        r"original card claims <10 s\); see reports/local/benchmark\.json",
        lines[-1],
    ), lines[-1]
    assert metrics["reference"] == {
        "converged": False,
        "epochs": 5,
        "test_accuracy": round(ref["test_accuracy"], 4),
    }
    # the figure, the curve and the release note are those of these runs and files
    runs, (_, labels) = measured.points[100], reports.read_inputs()[1]
    matrix = plots.confusion_matrix(labels, np.stack([run.predicted for run in runs]))
    title = "Baseline on test, 2 seeds pooled (400 predictions)"
    assert (project / reports.FIGURE_FILES["confusion"]).read_bytes() == plots.confusion_png(
        matrix, title
    )
    curve = np.stack([run.curve for run in runs]).mean(axis=0)
    card = (project / config.CARD_FILE).read_text()
    assert (
        "| accuracy | " + " | ".join(f"{curve[e - 1]:.3f}" for e in tables.curve_epochs(20)) + " |"
        in card
    )
    data_files = {
        path.name: path.read_bytes()
        for path in (project / config.DATASET_DIR).iterdir()
        if path.suffix in (".pkl", ".npz", ".parquet")
    }
    note = record.card_note(record.load(), params.load(), data_files)
    assert note.startswith("This is an **unreleased variant**") and note in card


def test_a_count_no_sweep_point_has_is_trained_here_and_the_gate_still_reads_100(
    project, caplog, monkeypatch, workers
):
    ninety = {**LIGHT, "sample": {**LIGHT["sample"], "train_per_class": 90}}
    shutil.rmtree(project / config.DATASET_DIR)
    run_stages(project, monkeypatch, caplog, ninety)
    caplog.clear()
    stage.main()
    # the workers fork from a process that imports scikit-learn, warmed before the stage reads
    # its inputs; one BLAS thread: the stage's own limit, then run_tasks' on one worker
    assert workers["warmed"] == [stage.WORKER_IMPORTS]
    assert workers["contexts"] == [workers["context"]]
    assert workers["limits"] == [{"limits": 1}] * 2
    timing = json.loads(reports.LOCAL_FILE.read_text())
    # trained here, its 2 seeds side by side: the wall time per fit is the baseline's over 2
    assert timing["baseline_from_sweep_point"] is None
    assert timing["baseline_per_fit_s"] == pytest.approx(timing["baseline_s"] / 2, abs=1e-4)
    train, test, _, _ = reports.read_inputs()
    trained = accuracies(training.train_seeds(train, test, params.load().benchmark))
    metrics = json.loads(reports.METRICS_FILE.read_text())
    assert list(metrics["test_accuracy_per_seed"].values()) == [round(a, 4) for a in trained]
    assert metrics["gate"] == {
        "per_class": 100,
        "test_accuracy": round(np.mean(accuracies(sweep.read().points[100])), 4),
    }
    assert re.search(r"s per 20-epoch fit, 2 fits in parallel; ", messages(caplog)[-1])


def test_the_gate_fails_after_writing_every_report(project, caplog):
    update_params(project, benchmark={"min_accuracy": 0.99})
    for path in reports.OUTS:
        (project / path).unlink(missing_ok=True)
    mean = np.mean(accuracies(sweep.read().points[100]))
    with pytest.raises(PipelineError) as err:
        stage.main()
    assert str(err.value) == (
        "benchmark.min_accuracy is 0.99 but the baseline trained on 100 images per digit (the "
        f"TinyDigits v1 size) reaches a mean test accuracy of {mean:.4f} over 2 seeds; "
        "reports/metrics.json and the plots show this run. Check the data (params.yaml seed, "
        "counts) or lower benchmark.min_accuracy in params.yaml"
    )
    assert all((project / path).is_file() for path in reports.OUTS)
    assert json.loads(reports.METRICS_FILE.read_text())["gate"]["test_accuracy"] == round(mean, 4)
