"""Scaling: the stage functions in one process on synthetic sources k times the digits' size.

Called by scripts/bench.py; prints tab-separated rows (measure, median, note). Each step's
time is the median of three runs; memory is the peak traced by tracemalloc (NumPy and
pandas report their buffers to it) above what was live before the step.
"""

from __future__ import annotations

import gzip
import statistics
import time
import tracemalloc

import numpy as np

from pipeline import algorithm, fetch, normalize, pickling, schemas
from pipeline.core import config


def synthetic_csv(k: int) -> bytes:
    """A gzipped CSV like digits.csv.gz with ``k * 1797`` rows, balanced labels, distinct rows."""
    rng = np.random.RandomState(k)
    n = k * config.SOURCE_ROWS
    table = np.empty((n, 65), dtype=np.int64)
    table[:, :64] = rng.randint(0, config.PIXEL_MAX + 1, size=(n, 64))
    table[:, 64] = np.arange(n) % 10
    lines = "\n".join(",".join(map(str, row)) for row in table.tolist())
    return gzip.compress(lines.encode(), compresslevel=1)


def measure(fn, *args):
    times = []
    for _ in range(3):
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return out, statistics.median(times), peak / 2**20


def main(scales: list[int]) -> None:
    for k in scales:
        scale(k)


def scale(k: int) -> None:
    """Print one row per step for a synthetic source ``k`` times the digits' size."""
    data = synthetic_csv(k)
    pixels, labels = fetch.parse_csv(data)
    train_counts, test_counts = [100 * k] * 10, [20 * k] * 10
    raw_schema = schemas.raw_schema(rows=len(labels))

    def validate_raw():
        schemas.validate(schemas.to_frame(pixels, labels), raw_schema, stage="bench")

    images = algorithm.normalize(pixels)

    def validate_norm():
        schemas.validate(schemas.to_frame(images, labels), schemas.NORMALIZED, stage="bench")

    train, test = algorithm.draw(labels, train_counts, test_counts, 42)
    parts = {
        "train": algorithm.gather(images, labels, train),
        "test": algorithm.gather(images, labels, test),
    }

    def validate_splits():
        frame = schemas.splits_frame(parts)
        schemas.validate(frame, schemas.splits_schema(train_counts, test_counts), stage="bench")

    steps = [
        ("parse source csv", fetch.parse_csv, data),
        ("pandera: raw", validate_raw),
        ("normalize", normalize.normalize, pixels),
        ("pandera: normalized", validate_norm),
        ("algorithm.draw", algorithm.draw, labels, train_counts, test_counts, 42),
        (
            "split.gather train+test",
            lambda: [algorithm.gather(images, labels, i) for i in (train, test)],
        ),
        ("pandera: splits", validate_splits),
        ("pickle_bytes train+test", lambda: [pickling.pickle_bytes(*p) for p in parts.values()]),
    ]
    for name, fn, *args in steps:
        _, seconds, mib = measure(fn, *args)
        print(
            f"scale {k}x ({len(labels):,} rows): {name}\t{seconds * 1000:.1f} ms\tpeak +{mib:.1f} MiB"
        )
