"""The TinyDigits reference algorithm as pure functions, arrays in and arrays out: what the data
stages apply to files, and what the benchmark applies in memory to draw the split each sweep count
would give. No I/O here, so an edit to a stage's reading or writing, or to a contract message,
reruns neither the sweep nor the benchmark; an edit here reruns every stage that draws.

This module is the only place randomness lives: one NumPy legacy ``RandomState(seed)`` stream; for
digit 0..9, shuffle that digit's source indices and take the first ``train[d]`` for train and the
next ``test[d]`` for test; then one permutation of train, then one of test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.core import config
from pipeline.core.errors import ParamsError


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


def normalize(pixels: np.ndarray) -> np.ndarray:
    """Pixels (N, 64) integers 0..16 -> images (N, 8, 8) float32 ``pixels / 16`` (exact)."""
    return (pixels.astype(np.float32) / np.float32(config.PIXEL_MAX)).reshape(
        -1, *config.IMAGE_SHAPE
    )


def gather(
    images: np.ndarray, labels: np.ndarray, index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 8, 8) and labels (N,) at ``index`` (M,) -> (M, 8, 8) float32, (M,) int64."""
    return np.ascontiguousarray(images[index]), labels[index].astype(np.int64)
