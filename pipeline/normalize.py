"""Stage ``normalize``: integer pixels 0..16 -> float32 in [0, 1], every value exactly k/16.

$ python -m pipeline.normalize
normalize: wrote datasets/interim/normalized.npz: 1,797 images float32 (8, 8) in [0, 1]
"""

from __future__ import annotations

import logging

import numpy as np

from pipeline.core import config, params
from pipeline.core.runner import run
from pipeline.core.storage import read_npz, write_npz

log = logging.getLogger(__name__)
OUTS = (config.NORMALIZED_FILE,)  # what this stage writes: dvc.yaml's outs (tests/test_dvc_yaml.py)


def normalize(pixels: np.ndarray) -> np.ndarray:
    """Pixels (N, 64) integers 0..16 -> images (N, 8, 8) float32 ``pixels / 16`` (exact)."""
    return (pixels.astype(np.float32) / np.float32(config.PIXEL_MAX)).reshape(
        -1, *config.IMAGE_SHAPE
    )


def main() -> None:
    from pipeline import (
        schemas,
    )  # deferred: pandas + pandera, ~3 s; other stages import this module

    params.load()
    raw = read_npz(
        config.RAW_FILE, ("pixels", "labels")
    )  # validated by fetch, pinned by DVC's hash
    images = normalize(raw["pixels"])
    schemas.validate(schemas.to_frame(images, raw["labels"]), schemas.NORMALIZED, stage="normalize")
    write_npz(config.NORMALIZED_FILE, images=images, labels=raw["labels"])
    log.info(
        "wrote %s: %s images float32 %s in [0, 1]",
        config.NORMALIZED_FILE,
        f"{len(images):,}",
        config.IMAGE_SHAPE,
    )


if __name__ == "__main__":
    run("normalize", main)
