"""Stage ``sample``: choose which source images go to train and test, and in what order.

    $ python -m pipeline.sample
    sample: seed 42: train 1,000 images (100 per digit), test 200 (20 per digit)

This module is the only place randomness lives. It follows the TinyDigits reference
algorithm exactly: one NumPy legacy ``RandomState(seed)`` stream; for digit 0..9, shuffle
that digit's source indices and take the first ``train[d]`` for train and the next
``test[d]`` for test; then one permutation of train, then one of test. The output is the
plan: source indices per split in final order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from pipeline.core import config, params
from pipeline.core.errors import ParamsError
from pipeline.core.runner import run
from pipeline.core.storage import read_npz, write_npz

log = logging.getLogger(__name__)
OUTS = (config.SAMPLE_FILE,)  # what this stage writes: dvc.yaml's outs (tests/test_dvc_yaml.py)


def draw(
    labels: np.ndarray, train_counts: Sequence[int], test_counts: Sequence[int], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Source indices of train and test, each in its final shuffled order.

    ``labels`` (N,) int digits 0..9; ``train_counts``/``test_counts`` (10,) per digit.
    Returns ``(train_index (sum(train_counts),), test_index (sum(test_counts),))`` int64.
    """
    stream = np.random.RandomState(seed)
    train_parts, test_parts = [], []
    for digit in config.DIGITS:
        pool = np.flatnonzero(labels == digit)
        n_train, n_test = train_counts[digit], test_counts[digit]
        if n_train + n_test > len(pool):
            raise ParamsError(
                f"train + test for digit {digit} is {n_train + n_test}, "
                f"which exceeds the {len(pool)} images of digit {digit}"
            )
        stream.shuffle(pool)
        train_parts.append(pool[:n_train])
        test_parts.append(pool[n_train : n_train + n_test])
    train, test = np.concatenate(train_parts), np.concatenate(test_parts)
    train = train[stream.permutation(len(train))]
    test = test[stream.permutation(len(test))]
    return train.astype(np.int64), test.astype(np.int64)


def main() -> None:
    p = params.load()

    labels = read_npz(config.RAW_FILE, ("labels",))[
        "labels"
    ]  # validated by fetch, pinned by DVC's hash
    train, test = draw(labels, p.sample.train_counts, p.sample.test_counts, p.seed)
    write_npz(config.SAMPLE_FILE, train_index=train, test_index=test)
    log.info(
        "seed %d: train %s images %s, test %s %s",
        p.seed,
        f"{len(train):,}",
        _per_class(p.sample.train_counts),
        f"{len(test):,}",
        _per_class(p.sample.test_counts),
    )


def _per_class(counts: Sequence[int]) -> str:
    return f"({counts[0]} per digit)" if len(set(counts)) == 1 else f"(per digit {list(counts)})"


if __name__ == "__main__":
    run("sample", main)
