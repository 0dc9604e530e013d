"""pipeline.benchmark.reports: the metrics file, its JSON form, and the committed metrics."""

import json

import numpy as np

from pipeline.benchmark import plots, reports, training
from pipeline.benchmark import stage as benchmark
from pipeline.core import config, params
from tests.helpers import ROOT

DEFAULTS = params.load(ROOT / config.PARAMS_FILE).benchmark


def fake_runs(accuracies, actual):
    rng = np.random.RandomState(0)
    return [
        training.Run(
            np.linspace(0.1, a, 4), np.linspace(2.0, 1.0, 4), rng.randint(0, 10, len(actual))
        )
        for a in accuracies
    ]


def test_metrics_file_shape():
    actual = np.tile(np.arange(10), 2)
    runs = fake_runs([0.8, 0.7, 0.9], actual)
    matrix = plots.confusion_matrix(actual, np.stack([r.predicted for r in runs]))
    sweep = {
        5: benchmark.summary([0.1, 0.2]),
        15: benchmark.summary([0.3, 0.4]),
        100: benchmark.summary([0.78, 0.82]),
    }
    ref = {"test_accuracy": 0.97, "epochs": 300, "converged": True}
    base = benchmark.summary([r.accuracy for r in runs])
    m = json.loads(
        reports.json_bytes(reports.metrics(base, runs, reports.per_digit(matrix), ref, sweep))
    )
    assert (
        m["test_accuracy"] == 0.8
        and m["test_accuracy_min"] == 0.7
        and m["test_accuracy_max"] == 0.9
    )
    assert m["test_accuracy_std"] == round(float(np.std([0.8, 0.7, 0.9])), 4)
    assert m["test_accuracy_per_seed"] == {"seed_0": 0.8, "seed_1": 0.7, "seed_2": 0.9}
    assert sorted(m["test_accuracy_per_digit"]) == [f"digit_{d}" for d in range(10)]
    assert m["reference"] == ref
    assert m["sweep"]["per_class_15"] == {"mean": 0.35, "std": 0.05, "min": 0.3, "max": 0.4}
    assert m["gate"] == {"per_class": 100, "test_accuracy": 0.8}


def test_json_is_sorted_and_rounded():
    text = reports.json_bytes({"b": 1 / 3, "a": {"d": 2, "c": 0.123456}}).decode()
    assert text == '{\n  "a": {\n    "c": 0.1235,\n    "d": 2\n  },\n  "b": 0.3333\n}\n'


def test_committed_metrics_file_has_the_documented_shape():
    m = json.loads((ROOT / reports.METRICS_FILE).read_text())
    per_seed = m["test_accuracy_per_seed"]
    assert len(per_seed) == DEFAULTS.seeds
    assert m["test_accuracy"] == round(float(np.mean(list(per_seed.values()))), 4)
    assert m["test_accuracy_min"] == min(per_seed.values()) and m["test_accuracy_max"] == max(
        per_seed.values()
    )
    assert sorted(m["sweep"]) == sorted(f"per_class_{k}" for k in {*DEFAULTS.sweep_per_class, 100})
    # with default params the gate's split is the published one, so it measures the same runs
    assert m["gate"] == {"per_class": 100, "test_accuracy": m["test_accuracy"]}
    assert set(m["reference"]) == {"test_accuracy", "epochs", "converged"}


def test_the_console_says_when_the_reference_converged_and_where_fit_times_are(
    tmp_path, monkeypatch, caplog
):
    """A converged reference, and a baseline reused from a sweep that did not run on this machine
    (no timing file here, as after `dvc pull` or a run-cache restore): its fit times are in its log."""
    monkeypatch.chdir(tmp_path)
    caplog.set_level("INFO", logger="pipeline")
    base = benchmark.summary([0.8, 0.7])
    ref = {"test_accuracy": 0.95, "epochs": 38, "converged": True}
    times = {"baseline_s": 0.0, "total_s": 1.25}
    reports.log_figures(DEFAULTS, base, ref, {100: base}, times, reused=100)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[1] == "reference 64-64-10 Adam, 38 epochs (converged): test accuracy 0.9500"
    assert lines[-1] == (
        "wall time 1.2 s: baseline 0.00 s (the runs of benchmark_sweep's 100-per-digit point, whose "
        "split is the published one; fit times in its log; the original card claims <10 s); "
        "see reports/local/benchmark.json"
    )
    timing = json.loads(reports.LOCAL_FILE.read_text())
    assert timing["baseline_per_fit_s"] is None and timing["baseline_from_sweep_point"] == 100
