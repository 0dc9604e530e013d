"""Stage ``sample``: choose which source images go to train and test, and in what order.

    $ python -m pipeline sample
    sample: seed 42: train 1,000 images (100 per digit), test 200 (20 per digit)

The draw itself is :func:`pipeline.algorithm.draw`, where the only randomness lives; this stage
reads the source labels and writes the plan: source indices per split, in final order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pipeline.algorithm import draw
from pipeline.core import config, params
from pipeline.core.storage import read_npz, write_npz

log = logging.getLogger(__name__)
# what this stage writes: dvc.yaml's outs (tests/test_dvc_yaml.py)
OUTS = (config.SAMPLE_FILE,)


def main() -> None:
    p = params.load()

    # validated by fetch, pinned by DVC's hash
    labels = read_npz(config.RAW_FILE, ("labels",))["labels"]
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
