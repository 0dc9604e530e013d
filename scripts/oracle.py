"""An independent, deliberately plain rendition of the TinyDigits reference algorithm.

It shares no code with ``pipeline/``: the source comes from ``sklearn.datasets.load_digits``
and the stream is NumPy's global legacy generator, exactly as the published files were made.
"""

from __future__ import annotations

import pickle

import numpy as np


def reference_splits(train_counts, test_counts, seed):
    """{'train': (images, labels), 'test': (...)} as the reference algorithm builds them."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    np.random.seed(seed)
    blocks = {"train": [], "test": []}
    for digit in range(10):
        idx = np.where(digits.target == digit)[0]
        np.random.shuffle(idx)
        n_train, n_test = train_counts[digit], test_counts[digit]
        blocks["train"].append((images[idx[:n_train]], [digit] * n_train))
        blocks["test"].append((images[idx[n_train : n_train + n_test]], [digit] * n_test))
    out = {}
    for name in ("train", "test"):
        x = np.vstack([b[0] for b in blocks[name]])
        y = np.array(sum((b[1] for b in blocks[name]), []), dtype=np.int64)
        order = np.random.permutation(len(x))
        out[name] = (x[order], y[order])
    return out


def reference_pickles(train_counts, test_counts, seed) -> dict[str, bytes]:
    """The bytes of train.pkl and test.pkl for these constants."""
    return {
        name: pickle.dumps({"images": x, "labels": y}, protocol=4)
        for name, (x, y) in reference_splits(train_counts, test_counts, seed).items()
    }
