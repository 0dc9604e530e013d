"""Stage ``split``: gather train and test images in the order the sample plan drew.

    $ python -m pipeline split
    split: train (1,000, 8, 8) float32, test (200, 8, 8) float32; disjoint, shuffled

Checks the full splits contract before writing: per-class counts as params say, no image in
both splits, labels shuffled rather than grouped by class.
"""

from __future__ import annotations

import logging

from pipeline.algorithm import gather
from pipeline.core import config, params
from pipeline.core.storage import read_npz, write_npz

log = logging.getLogger(__name__)
# what this stage writes: dvc.yaml's outs (tests/test_dvc_yaml.py)
OUTS = (config.SPLITS_FILE,)


def main() -> None:
    # deferred, so that importing this module stays cheap: pandas + pandera load only to check
    from pipeline import schemas

    p = params.load()
    # inputs were validated by the stages that wrote them; DVC's hashes pin those bytes
    data = read_npz(config.NORMALIZED_FILE, ("images", "labels"))
    plan = read_npz(config.SAMPLE_FILE, ("train_index", "test_index"))
    splits = {
        name: gather(data["images"], data["labels"], plan[f"{name}_index"])
        for name in config.SPLITS
    }
    schema = schemas.splits_schema(p.sample.train_counts, p.sample.test_counts)
    schemas.validate(schemas.splits_frame(splits), schema, stage="split")
    write_npz(
        config.SPLITS_FILE,
        **{
            f"{name}_{part}": arr
            for name, pair in splits.items()
            for part, arr in zip(("images", "labels"), pair, strict=True)
        },
    )
    log.info(
        "%s; disjoint, shuffled",
        ", ".join(f"{name} {images.shape} {images.dtype}" for name, (images, _) in splits.items()),
    )
