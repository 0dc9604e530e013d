"""The benchmark stage: training runs, the sweep's splits, the gate, metrics and plot files.

Unit tests use tiny fixtures and few epochs; one end-to-end test runs `dvc repro` with the gate
raised, to see it fail the pipeline after writing its reports.
"""

import dataclasses
import json
import warnings

import numpy as np
import pytest
import yaml

from pipeline import fetch
from pipeline.benchmark import plots, reports, training
from pipeline.benchmark import stage as benchmark
from pipeline.benchmark import sweep as benchmark_sweep
from pipeline.core import config, params
from pipeline.core.errors import ParamsError, PipelineError
from pipeline.normalize import normalize
from scripts.oracle import reference_splits
from tests.conftest import ROOT, copy_build, run
from tests.test_params import with_

DEFAULTS = params.load(ROOT / config.PARAMS_FILE).benchmark


def tiny(**changes) -> params.BenchmarkParams:
    """Benchmark params small enough for unit tests."""
    small = {"seeds": 3, "hidden_units": 8, "batch_size": 8, "epochs": 6}
    return dataclasses.replace(DEFAULTS, **{**small, **changes})


@pytest.fixture(scope="module")
def blobs():
    """60 train and 30 test images (N, 8, 8) float32 of 10 classes, each class a noisy blob."""
    rng = np.random.RandomState(1)
    centres = rng.rand(10, 8, 8)

    def draw(n):
        labels = np.tile(np.arange(10), n // 10)
        images = np.clip(centres[labels] + 0.3 * rng.randn(len(labels), 8, 8), 0, 1).astype(
            np.float32
        )
        return images, labels.astype(np.int64)

    return draw(60), draw(30)


@pytest.fixture(scope="module")
def source():
    return fetch.parse_csv(fetch.source_path().read_bytes())


def one_shot(b, split, seed):
    """What the stage must equal: one plain ``fit(max_iter=b.epochs)``."""
    (x, y) = training.flat(split)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return training.baseline_model(b, seed, len(y)).fit(x, y)


# ---- training ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 5])
def test_each_curve_point_is_what_a_one_shot_fit_gives(blobs, seed):
    train, test = blobs
    b = tiny()
    (x, y), (xt, yt) = training.flat(train), training.flat(test)
    run_ = training.train_run(x, y, xt, yt, b, seed)
    assert run_.curve.shape == run_.loss.shape == (b.epochs,) and run_.predicted.shape == yt.shape
    for epochs in (1, 3, b.epochs):
        model = one_shot(dataclasses.replace(b, epochs=epochs), train, seed)
        assert run_.curve[epochs - 1] == np.mean(model.predict(xt) == yt)
    model = one_shot(b, train, seed)
    assert np.array_equal(run_.predicted, model.predict(xt))
    assert np.array_equal(run_.loss, model.loss_curve_)


def test_training_stops_where_fit_stops_early(blobs):
    train, test = blobs
    b = tiny(learning_rate=9.0, epochs=30)  # diverges: the loss stops improving, fit() gives up
    model = one_shot(b, train, 0)
    assert model.n_iter_ < b.epochs
    (x, y), (xt, yt) = training.flat(train), training.flat(test)
    run_ = training.train_run(x, y, xt, yt, b, 0)
    assert np.array_equal(run_.predicted, model.predict(xt))
    assert np.all(run_.curve[model.n_iter_ - 1 :] == run_.accuracy)  # flat once stopped


def test_seeds_differ_and_repeat(blobs):
    train, test = blobs
    first, again = (
        training.train_seeds(train, test, tiny()),
        training.train_seeds(train, test, tiny()),
    )
    assert len(first) == 3
    assert all(np.array_equal(a.curve, b.curve) for a, b in zip(first, again, strict=True))
    assert len({r.predicted.tobytes() for r in first}) > 1


def test_reference_reports_convergence(blobs):
    train, test = blobs
    short = training.reference(train, test, tiny(reference_hidden_units=4, reference_max_epochs=2))
    assert short["epochs"] == 2 and short["converged"] is False
    assert 0.0 <= short["test_accuracy"] <= 1.0


# ---- the sweep's splits ------------------------------------------------------------------


def test_sweep_point_at_the_published_count_is_the_published_split(source):
    pixels, labels = source
    train, test = training.sweep_split(normalize(pixels), labels, 100, (20,) * 10, 42)
    for name, (images, split_labels) in (("train", train), ("test", test)):
        with np.load(ROOT / config.npz_path(name), allow_pickle=False) as z:
            assert np.array_equal(images, z["images"]) and np.array_equal(split_labels, z["labels"])


def test_sweep_point_is_what_the_reference_algorithm_draws(source):
    pixels, labels = source
    train, test = training.sweep_split(normalize(pixels), labels, 15, (20,) * 10, 42)
    want = reference_splits([15] * 10, [20] * 10, 42)
    assert (
        np.bincount(train[1]).tolist() == [15] * 10 and np.bincount(test[1]).tolist() == [20] * 10
    )
    for got, (images, split_labels) in ((train, want["train"]), (test, want["test"])):
        assert np.array_equal(got[0], images) and np.array_equal(got[1], split_labels)


def test_sweep_always_measures_the_gate_size_and_the_baseline_reuses_the_published_point(source):
    pixels, labels = source
    b = tiny(
        seeds=2, epochs=1, sweep_per_class=(5,), reference_hidden_units=4, reference_max_epochs=2
    )
    sweep, _ = benchmark_sweep.measure(pixels, labels, b, (20,) * 10, 42, workers=1)
    assert sorted(sweep.points) == [5, 100] and all(
        len(runs) == 2 for runs in sweep.points.values()
    )
    published = training.sweep_split(normalize(pixels), labels, 100, (20,) * 10, 42)
    p = params.parse(with_())
    assert (
        benchmark.published_point(p, *published, pixels, labels, sweep.points) == 100
    )  # reused, not retrained
    other = dataclasses.replace(p, seed=7)  # another seed draws another split: nothing to reuse
    assert benchmark.published_point(other, *published, pixels, labels, sweep.points) is None
    fifty = params.parse(with_(sample__train_per_class=50))  # a count the sweep did not measure
    assert benchmark.published_point(fifty, *published, pixels, labels, sweep.points) is None


# ---- the gate ----------------------------------------------------------------------------


def test_gate_passes_at_or_above_the_threshold():
    benchmark.gate(0.80, tiny(min_accuracy=0.75))
    benchmark.gate(0.75, tiny(min_accuracy=0.75))


def test_gate_fails_below_the_threshold_naming_the_key_and_the_measure():
    with pytest.raises(
        PipelineError,
        match=r"benchmark\.min_accuracy is 0\.99 but the baseline trained on 100 "
        r"images per digit \(the TinyDigits v1 size\) reaches a mean test "
        r"accuracy of 0\.7985 over 3 seeds; .*lower benchmark\.min_accuracy",
    ):
        benchmark.gate(0.7985, tiny(min_accuracy=0.99))


# ---- params ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, match",
    [
        (
            {"benchmark__reference_max_epochs": 0},
            r"benchmark\.reference_max_epochs must be an integer in \[1, 100000\], got 0",
        ),
        (
            {"benchmark__reference_hidden_units": 2.0},
            r"benchmark\.reference_hidden_units must be an integer in \[1, 4096\]",
        ),
        (
            {"benchmark__sweep_per_class": [5, 5]},
            r"benchmark\.sweep_per_class must list distinct counts",
        ),
        (
            {"benchmark__sweep_per_class": [5, 160]},
            r"benchmark\.sweep_per_class\[1\] = 160 leaves no room for the 20 test "
            r"images of digit 8 \(174 images\); valid: counts in \[1, 154\]",
        ),
        (
            {"benchmark__sweep_per_class": [150], "sample__test_per_class": 30},
            r"valid: counts in \[1, 144\]",
        ),
        (
            {
                "benchmark__sweep_per_class": [5],
                "sample__train_per_class": 50,
                "sample__test_per_class": 80,
            },
            r"sample\.test_per_class / sample\.test_counts\.8 = 80 leaves no room for the benchmark gate's 100 train "
            r"images of digit 8 \(174 images\); valid: test images per digit <= 74 for digit 8",
        ),
    ],
)
def test_benchmark_params_name_the_key_and_the_valid_range(changes, match):
    with pytest.raises(ParamsError, match=match):
        params.parse(with_(**changes))


# ---- metrics and plot files --------------------------------------------------------------


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


def test_confusion_matrix_and_per_digit_accuracy():
    actual = np.array([0, 0, 1, 1])
    predicted = np.array([[0, 1, 1, 1], [0, 0, 1, 0]])
    matrix = plots.confusion_matrix(actual, predicted)
    assert (
        matrix[0, 0] == 3
        and matrix[0, 1] == 1
        and matrix[1, 1] == 3
        and matrix[1, 0] == 1
        and matrix.sum() == 8
    )
    assert reports.per_digit(matrix) == {
        0: 0.75,
        1: 0.75,
    }  # digits without test images are left out
    rows = plots.confusion_rows(actual, predicted).decode().splitlines()
    assert rows[0] == "actual,predicted" and rows[1:] == [
        "0,0",
        "0,1",
        "1,1",
        "1,1",
        "0,0",
        "0,0",
        "1,1",
        "1,0",
    ]


def test_learning_curve_and_sweep_csv():
    curves = np.array([[0.1, 0.5], [0.3, 0.7]])
    runs = [
        training.Run(c, np.array(loss), np.zeros(1))
        for c, loss in zip(curves, ([2.0, 1.0], [2.2, 1.2]), strict=True)
    ]
    text = plots.learning_curve(curves, training.mean_loss(runs)).decode()
    assert (
        text
        == "epoch,mean,min,max,train_loss\n1,0.2000,0.1000,0.3000,2.1000\n2,0.6000,0.5000,0.7000,1.1000\n"
    )
    text = plots.sweep_table(
        {15: benchmark.summary([0.3, 0.4]), 5: benchmark.summary([0.1])}
    ).decode()
    assert text.splitlines()[1:] == [
        "5,50,0.1000,0.1000,0.1000,0.0000",
        "15,150,0.3500,0.3000,0.4000,0.0500",
    ]


def test_pngs_are_deterministic_and_carry_no_version(blobs):
    (images, labels), _ = blobs
    first, again = (
        plots.samples_png(images, labels, per_class=3),
        plots.samples_png(images, labels, per_class=3),
    )
    assert first == again and first.startswith(b"\x89PNG") and b"matplotlib" not in first.lower()
    matrix = np.arange(100).reshape(10, 10)
    assert plots.confusion_png(matrix, "t") == plots.confusion_png(matrix, "t")


# ---- end to end --------------------------------------------------------------------------


@pytest.mark.e2e
def test_gate_fails_dvc_repro_after_writing_its_reports(cold_build, tmp_path):
    repo = copy_build(cold_build, tmp_path / "repo")
    path = repo / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["benchmark"].update(
        min_accuracy=0.99, seeds=2, sweep_per_class=[5, 100], reference_max_epochs=20
    )
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    result = run(["dvc", "repro"], repo, check=False)
    assert result.returncode != 0
    assert (
        "benchmark: error: benchmark.min_accuracy is 0.99 but the baseline trained on 100 images per digit "
        "(the TinyDigits v1 size) reaches a mean test accuracy of"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    metrics = json.loads((repo / reports.METRICS_FILE).read_text())
    assert sorted(metrics["test_accuracy_per_seed"]) == [
        "seed_0",
        "seed_1",
    ]  # written before failing
    assert metrics["test_accuracy"] < 0.99
    locked = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["benchmark"]["params"][
        "params.yaml"
    ]
    assert (
        locked["benchmark"]["min_accuracy"] == DEFAULTS.min_accuracy
    )  # no lock for the failed run
    assert "benchmark" in run(["dvc", "status", "benchmark"], repo).stdout
