"""pipeline.benchmark.training: training runs, their curves and seeds, the reference, the sweep's splits."""

import dataclasses
import warnings

import numpy as np
import pytest

from pipeline.algorithm import normalize
from pipeline.benchmark import training
from pipeline.core import config
from scripts.oracle import reference_splits
from tests.helpers import ROOT, tiny


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
    # diverges: the loss stops improving, fit() gives up
    b = tiny(learning_rate=9.0, epochs=30)
    model = one_shot(b, train, 0)
    assert model.n_iter_ < b.epochs
    (x, y), (xt, yt) = training.flat(train), training.flat(test)
    run_ = training.train_run(x, y, xt, yt, b, 0)
    assert np.array_equal(run_.predicted, model.predict(xt))
    # flat once stopped
    assert np.all(run_.curve[model.n_iter_ - 1 :] == run_.accuracy)


def test_seeds_differ_and_repeat(blobs):
    train, test = blobs
    first, again = (
        training.train_seeds(train, test, tiny()),
        training.train_seeds(train, test, tiny()),
    )
    assert len(first) == 3
    assert all(np.array_equal(a.curve, b.curve) for a, b in zip(first, again, strict=True))
    assert len({r.predicted.tobytes() for r in first}) > 1


def test_reference_reports_convergence(blobs, caplog):
    train, test = blobs
    short = training.reference(train, test, tiny(reference_hidden_units=4, reference_max_epochs=2))
    assert short["epochs"] == 2 and short["converged"] is False
    assert 0.0 <= short["test_accuracy"] <= 1.0
    assert [r.getMessage() for r in caplog.records] == [
        "reference did not converge in 2 epochs; raise benchmark.reference_max_epochs"
    ]
    # the converged case: the loss stops improving well before the cap
    full = training.reference(
        train, test, tiny(reference_hidden_units=8, reference_max_epochs=2000)
    )
    assert full["converged"] is True and 2 < full["epochs"] < 2000
    assert 0.0 <= full["test_accuracy"] <= 1.0
    # what the card calls the reference: MLPClassifier's defaults but the hidden units and the
    # epoch cap, seed 0, and its accuracy on the test split (the fraction predicted right)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    (x, y), (xt, yt) = train, test
    model = MLPClassifier((8,), max_iter=2000, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x.reshape(len(x), -1), y)
    assert full == {
        "test_accuracy": model.score(xt.reshape(len(xt), -1), yt),
        "epochs": model.n_iter_,
        "converged": model.n_iter_ < 2000,
    }
    # the fraction right, not wrong: the blobs are learnable
    assert full["test_accuracy"] > 0.5


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
