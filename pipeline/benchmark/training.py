"""The baseline's training runs and the reference, shared by the ``benchmark`` and ``benchmark_sweep`` stages.

Pure functions: arrays and :class:`pipeline.core.params.BenchmarkParams` in, runs out. The seeds and
sweep points run in parallel (:mod:`pipeline.benchmark.parallel`), each fit on one BLAS thread, so the
results are the same bits whatever the number of workers.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np

from pipeline.algorithm import draw, gather
from pipeline.benchmark.parallel import run_tasks
from pipeline.core import config, params
from pipeline.core.errors import PipelineError

log = logging.getLogger(__name__)


# What a training worker imports: given to parallel.warm_workers, which imports it once for all.
WORKER_IMPORTS = ("sklearn.neural_network", "pipeline.benchmark.training")


@dataclass(frozen=True)
class Run:
    """One baseline training run: test accuracy and mean training loss after each epoch
    (``curve``, ``loss``: (epochs,)), and the final test predictions (``predicted``: (n_test,)).
    ``loss`` is None for runs read back from the sweep file, which keeps only :func:`mean_loss`."""

    curve: np.ndarray
    loss: np.ndarray | None
    predicted: np.ndarray

    @property
    def accuracy(self) -> float:
        return float(self.curve[-1])


def quantize(values) -> np.ndarray:
    """``values`` at the precision the reports publish (:data:`pipeline.core.config.REPORT_DECIMALS`
    decimals, as they print).

    Training losses differ in their last digits between BLAS kernels (6.9e-6 relative after 20
    epochs, measured between OpenBLAS' Haswell, Sandybridge and Prescott kernels): whatever is kept
    past the published precision would make the files that keep it machine-specific.
    """
    return np.array(
        [
            float(f"{v:.{config.REPORT_DECIMALS}f}")
            for v in np.asarray(values, dtype=np.float64).ravel()
        ]
    ).reshape(np.shape(values))


def mean_loss(runs: list[Run]) -> np.ndarray:
    """The training loss per epoch (epochs,), averaged over ``runs``, at the precision the reports
    publish: the one loss figure that leaves training (stable across BLAS kernels; see
    :func:`quantize`)."""
    return quantize(np.stack([run.loss for run in runs]).mean(axis=0))


def baseline_model(b: params.BenchmarkParams, random_state, n_train: int):
    """The TinyTorch milestone MLP: 64 -> hidden -> 10, ReLU, plain SGD, no weight decay."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        (b.hidden_units,),
        solver="sgd",
        learning_rate_init=b.learning_rate,
        momentum=0,
        batch_size=min(b.batch_size, n_train),
        alpha=0,
        max_iter=b.epochs,
        random_state=random_state,
    )


def train_run(
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    b: params.BenchmarkParams,
    seed: int,
) -> Run:
    """Train on ``x`` (N, 64) / ``y`` (N,) one epoch at a time, scoring ``x_test`` (M, 64) after each.

    Epoch e of the curve is the model ``fit(max_iter=e)`` returns, bit for bit. ``fit`` reshuffles
    the previous epoch's order; ``partial_fit`` shuffles the order it is given, so each epoch gets
    the data in ``fit``'s previous order, replayed from a twin of the model's random stream (checked
    against the model's stream after every epoch). Where ``fit`` would stop early (training loss
    flat for ``n_iter_no_change`` epochs) training stops too, and the curve stays at that model.
    """
    from sklearn.utils import shuffle

    stream, twin = np.random.RandomState(seed), np.random.RandomState(seed)
    model = baseline_model(b, stream, len(y))
    for fan_in, fan_out in ((x.shape[1], b.hidden_units), (b.hidden_units, len(config.DIGITS))):
        # the initial weights
        twin.uniform(-1, 1, (fan_in, fan_out)), twin.uniform(-1, 1, fan_out)
    order, curve = np.arange(len(y)), []
    for epoch in range(b.epochs):
        step = shuffle(np.arange(len(y)), random_state=twin)
        model.partial_fit(x[order], y[order], classes=np.asarray(config.DIGITS))
        if not _same_state(stream, twin):
            raise PipelineError(
                f"epoch {epoch + 1}: scikit-learn's shuffling no longer matches fit(); "
                "the learning curve would not be the one-shot fit's"
            )
        order = order[step]
        curve.append(np.mean(model.predict(x_test) == y_test))
        # fit() stops here
        if model._no_improvement_count > model.n_iter_no_change:
            log.warning(
                "seed %d: training loss stopped improving at epoch %d; fit() stops there",
                seed,
                epoch + 1,
            )
            break
    stopped = b.epochs - len(curve)
    loss = np.array(model.loss_curve_)
    return Run(
        np.pad(curve, (0, stopped), mode="edge"),
        np.pad(loss, (0, stopped), mode="edge"),
        model.predict(x_test).astype(np.int64),
    )


def _same_state(a: np.random.RandomState, b: np.random.RandomState) -> bool:
    sa, sb = a.get_state(), b.get_state()
    return np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:]


def train_seeds(
    train, test, b: params.BenchmarkParams, *, workers: int | None = None, context=None
) -> list[Run]:
    """One :class:`Run` per seed 0..seeds-1, in seed order, trained by up to ``workers`` processes
    (default: :func:`pipeline.benchmark.parallel.worker_count`); ``train``/``test`` are
    (images (N, 8, 8), labels (N,))."""
    # scikit-learn is imported by the workers (or the process ``context`` forks them from), not
    # here: the benchmark stage goes on to draw the figures and read the Parquet files, and with
    # scikit-learn too it peaked at 264 MiB.
    (x, y), (xt, yt) = flat(train), flat(test)
    tasks = [(x, y, xt, yt, b, seed) for seed in range(b.seeds)]
    return run_tasks(train_run, tasks, workers=workers, context=context)


def reference(train, test, b: params.BenchmarkParams) -> dict:
    """The ceiling: ``MLPClassifier((reference_hidden_units,))`` (Adam, scikit-learn's defaults),
    seed 0, until the training loss stops improving or ``reference_max_epochs`` is reached."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    (x, y), (xt, yt) = flat(train), flat(test)
    model = MLPClassifier(
        (b.reference_hidden_units,), max_iter=b.reference_max_epochs, random_state=0
    )
    with warnings.catch_warnings():
        # reported below as converged: false
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    converged = model.n_iter_ < b.reference_max_epochs
    if not converged:
        log.warning(
            "reference did not converge in %d epochs; raise benchmark.reference_max_epochs",
            model.n_iter_,
        )
    return {
        "test_accuracy": float(np.mean(model.predict(xt) == yt)),
        "epochs": int(model.n_iter_),
        "converged": bool(converged),
    }


def sweep_split(images: np.ndarray, labels: np.ndarray, per_class: int, test_counts, seed: int):
    """The split the pipeline builds with ``train_per_class=per_class``, in memory.

    ``images`` (1797, 8, 8) float32 as ``normalize`` gives them, ``labels`` (1797,) ->
    ((images (10k, 8, 8), labels (10k,)), (images (sum(test_counts), 8, 8), labels)),
    via :func:`pipeline.algorithm.draw` and :func:`~pipeline.algorithm.gather`.
    """
    train_index, test_index = draw(labels, (per_class,) * len(config.DIGITS), test_counts, seed)
    return gather(images, labels, train_index), gather(images, labels, test_index)


def same_split(a, b) -> bool:
    return all(
        np.array_equal(x, y)
        for pa, pb in zip(a, b, strict=True)
        for x, y in zip(pa, pb, strict=True)
    )


def flat(split):
    """(images (N, 8, 8), labels (N,)) -> (x (N, 64) float32, y (N,))."""
    images, labels = split
    return np.asarray(images, dtype=np.float32).reshape(len(images), -1), np.asarray(labels)
