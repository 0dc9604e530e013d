"""pipeline.normalize: pixels 0..16 to float32 images in [0, 1]."""

import numpy as np

from pipeline import algorithm


def test_normalize_is_exact_sixteenths(tiny_pixels):
    images = algorithm.normalize(tiny_pixels)
    assert images.shape == (30, 8, 8) and images.dtype == np.float32
    assert np.array_equal(images * 16, tiny_pixels.reshape(30, 8, 8).astype(np.float32))
    assert images.min() >= 0 and images.max() <= 1
