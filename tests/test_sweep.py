"""pipeline.benchmark.sweep: the sweep measures the gate's size, which the stage then reuses."""

import dataclasses

import numpy as np

from pipeline.algorithm import normalize
from pipeline.benchmark import stage as benchmark
from pipeline.benchmark import sweep as benchmark_sweep
from pipeline.benchmark import training
from pipeline.core import params
from tests.helpers import tiny, with_


def test_sweep_always_measures_the_gate_size_and_the_baseline_reuses_the_published_point(
    source, monkeypatch
):
    pixels, labels = source
    b = tiny(
        seeds=2, epochs=3, sweep_per_class=(5,), reference_hidden_units=4, reference_max_epochs=7
    )
    asked, real = [], benchmark_sweep.run_tasks

    def run_tasks(fn, tasks, *, cost=None, workers=None):
        asked.append((cost, workers))
        return real(fn, tasks, cost=cost, workers=workers)

    monkeypatch.setattr(benchmark_sweep, "run_tasks", run_tasks)
    sweep, _ = benchmark_sweep.measure(pixels, labels, b, (20,) * 10, 42, workers=1)
    assert sorted(sweep.points) == [5, 100] and all(
        len(runs) == 2 for runs in sweep.points.values()
    )
    # The dearest task first, on the workers asked for: a task's cost is its train images times
    # its epochs, so the reference (the gate's split, until it converges) is handed out first and
    # the last to finish is a cheap one. Two seeds at 5 and at 100 per digit (50 and 1,000 images,
    # 3 epochs), then the reference (7). Checked here, in the test that measures: make mutate
    # runs a mutant only in the tests whose own code reached it, never in one reading a fixture.
    assert asked == [([50 * 3] * 2 + [1000 * 3] * 2 + [1000 * 7], 1)]
    published = training.sweep_split(normalize(pixels), labels, 100, (20,) * 10, 42)
    p = params.parse(with_())
    # reused, not retrained
    assert benchmark.published_point(p, *published, pixels, labels, sweep.points) == 100
    # another seed draws another split: nothing to reuse
    other = dataclasses.replace(p, seed=7)
    assert benchmark.published_point(other, *published, pixels, labels, sweep.points) is None
    # a count the sweep did not measure
    fifty = params.parse(with_(sample__train_per_class=50))
    assert benchmark.published_point(fifty, *published, pixels, labels, sweep.points) is None


def test_the_sweep_file_keeps_whether_the_reference_converged():
    run = training.Run(np.array([0.5, 0.75]), None, np.array([3, 1, 4]))
    for converged in (True, False):
        ref = {"test_accuracy": 0.875, "epochs": 12, "converged": converged}
        kept = benchmark_sweep.from_arrays(
            benchmark_sweep.to_arrays(benchmark_sweep.Sweep({5: [run]}, {5: run.curve}, ref))
        )
        assert kept.reference == ref and type(kept.reference["converged"]) is bool
