"""pipeline.parallel: training on several workers gives the same bits, in the same order, as on one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline import benchmark_sweep, config, fetch, params, training
from pipeline.errors import ParamsError, PipelineError
from pipeline.io import npz_bytes
from pipeline.parallel import WORKERS_ENV, run_tasks, worker_count
from tests.conftest import ROOT

SMALL = dataclasses.replace(params.load(ROOT / config.PARAMS_FILE).benchmark, seeds=4, hidden_units=8, epochs=3,
                            sweep_per_class=(5, 15), reference_hidden_units=4, reference_max_epochs=5)


@pytest.fixture(scope="module")
def source():
    return fetch.parse_csv(fetch.source_path().read_bytes())


def bits(runs) -> list[bytes]:
    return [r.curve.tobytes() + r.loss.tobytes() + r.predicted.tobytes() for r in runs]


def test_seeds_on_one_worker_and_on_several_are_bit_identical(source):
    pixels, labels = source
    from pipeline.normalize import normalize

    train, test = training.sweep_split(normalize(pixels), labels, 30, (10,) * 10, 3)
    one = training.train_seeds(train, test, SMALL, workers=1)
    assert len(set(bits(one))) == SMALL.seeds  # the seeds really differ
    for n in (2, 3):
        assert bits(training.train_seeds(train, test, SMALL, workers=n)) == bits(one), n


def test_sweep_file_is_byte_identical_on_one_and_on_several_workers(source):
    pixels, labels = source
    files = {n: npz_bytes(benchmark_sweep.to_arrays(benchmark_sweep.measure(
        pixels, labels, SMALL, (20,) * 10, 42, workers=n)[0])) for n in (1, 2)}
    assert files[1] == files[2]


def test_sweep_arrays_round_trip_bit_for_bit(source):
    pixels, labels = source
    sweep, seconds = benchmark_sweep.measure(pixels, labels, SMALL, (20,) * 10, 42, workers=1)
    assert sorted(sweep.points) == sorted(seconds) == [5, 15, 100]
    again = benchmark_sweep.from_arrays(benchmark_sweep.to_arrays(sweep))
    assert again.reference == sweep.reference and again.reference["epochs"] == 5
    assert all(bits(again.points[k]) == bits(sweep.points[k]) for k in sweep.points)


def test_results_come_back_in_task_order_whatever_runs_first():
    tasks = [(b, 3) for b in range(12)]
    cheap_first = list(range(12))
    assert run_tasks(pow, tasks, cost=cheap_first, workers=2) == [b ** 3 for b in range(12)]


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
