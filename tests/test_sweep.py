"""pipeline.benchmark.sweep: the sweep measures the gate's size, which the stage then reuses."""

import dataclasses

from pipeline.algorithm import normalize
from pipeline.benchmark import stage as benchmark
from pipeline.benchmark import sweep as benchmark_sweep
from pipeline.benchmark import training
from pipeline.core import params
from tests.helpers import tiny, with_


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
    # reused, not retrained
    assert benchmark.published_point(p, *published, pixels, labels, sweep.points) == 100
    other = dataclasses.replace(p, seed=7)  # another seed draws another split: nothing to reuse
    assert benchmark.published_point(other, *published, pixels, labels, sweep.points) is None
    fifty = params.parse(with_(sample__train_per_class=50))  # a count the sweep did not measure
    assert benchmark.published_point(fifty, *published, pixels, labels, sweep.points) is None
