"""Stage ``normalize``: integer pixels 0..16 -> float32 in [0, 1], every value exactly k/16.

$ python -m pipeline normalize
normalize: wrote datasets/interim/normalized.npz: 1,797 images float32 (8, 8) in [0, 1]
"""

from __future__ import annotations

import logging

from pipeline.algorithm import normalize
from pipeline.core import config, params
from pipeline.core.storage import read_npz, write_npz

log = logging.getLogger(__name__)
# what this stage writes: dvc.yaml's outs (tests/test_dvc_yaml.py)
OUTS = (config.NORMALIZED_FILE,)


def main() -> None:
    # deferred, so that importing this module stays cheap: pandas + pandera load only to check
    from pipeline import schemas

    params.load()
    # validated by fetch, pinned by DVC's hash
    raw = read_npz(config.RAW_FILE, ("pixels", "labels"))
    images = normalize(raw["pixels"])
    schemas.validate(schemas.to_frame(images, raw["labels"]), schemas.NORMALIZED, stage="normalize")
    write_npz(config.NORMALIZED_FILE, images=images, labels=raw["labels"])
    log.info(
        "wrote %s: %s images float32 %s in [0, 1]",
        config.NORMALIZED_FILE,
        f"{len(images):,}",
        config.IMAGE_SHAPE,
    )
