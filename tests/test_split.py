"""pipeline.split: gathering a split's images and labels."""

import numpy as np

from pipeline import algorithm


def test_gather_keeps_order_and_types(tiny_pixels, tiny_labels):
    images = algorithm.normalize(tiny_pixels)
    got_images, got_labels = algorithm.gather(
        images, tiny_labels.astype(np.int32), np.array([4, 0, 17])
    )
    assert np.array_equal(got_images, images[[4, 0, 17]]) and got_images.flags.c_contiguous
    assert got_labels.tolist() == [4, 0, 7] and got_labels.dtype == np.int64
