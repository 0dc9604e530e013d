"""pipeline.sample: drawing the per-digit train and test indices."""

import numpy as np
import pytest

from pipeline import algorithm
from pipeline.core.errors import ParamsError


def test_draw_counts_and_disjointness_on_tiny_labels(tiny_labels):
    train, test = algorithm.draw(tiny_labels, [2] * 10, [1] * 10, seed=0)
    assert len(train) == 20 and len(test) == 10
    assert not set(train) & set(test)
    assert np.bincount(tiny_labels[train], minlength=10).tolist() == [2] * 10
    assert train.dtype == np.int64


def test_draw_is_a_pure_function_of_its_seed(tiny_labels):
    a = algorithm.draw(tiny_labels, [2] * 10, [1] * 10, seed=5)
    b = algorithm.draw(tiny_labels, [2] * 10, [1] * 10, seed=5)
    c = algorithm.draw(tiny_labels, [2] * 10, [1] * 10, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_draw_refuses_more_than_a_class_holds(tiny_labels):
    with pytest.raises(ParamsError, match=r"digit 4 is 4, which exceeds the 3 images of digit 4"):
        algorithm.draw(tiny_labels, [2] * 10, [1, 1, 1, 1, 2, 1, 1, 1, 1, 1], seed=0)
