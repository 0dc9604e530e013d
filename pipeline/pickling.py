"""Stage ``pickle``: write the published files: ``train.pkl``/``test.pkl``, their ``.npz`` and
``.parquet`` twins, and ``croissant.json``.

    $ python -m pipeline pickle
    pickle: datasets/tinydigits/train.pkl 264,255 bytes sha256 254293630e54...
    ...
    pickle: datasets/tinydigits/croissant.json ... bytes sha256 ...

Each ``.pkl`` is pickle protocol 4 of ``{'images': float32 (N, 8, 8), 'labels': int64 (N,)}``,
the TinyDigits v1 format; each ``.npz`` holds the same two arrays and loads with
``numpy.load(path, allow_pickle=False)``. Each ``.parquet`` holds them row by row, in the same
order, with each image's row in the source (``source_index``, from the sample plan); see
:mod:`pipeline.formats.parquet`. ``croissant.json`` describes the Parquet files (:mod:`pipeline.formats.croissant`).
Each write is atomic: a killed run never leaves a partial file. With TinyDigits v1's params (seed 42,
100 train and 20 test images per digit) the pickles must be the published v1 bytes
(``config.V1_SHA256``); if not, the stage stops naming both digests and replaces nothing.
"""

from __future__ import annotations

import hashlib
import logging
import pickle

import numpy as np

from pipeline.core import config, params
from pipeline.core.errors import ContractError, ReproducibilityError
from pipeline.core.storage import atomic_write_bytes, npz_bytes, read_npz
from pipeline.formats import croissant, parquet
from pipeline.release import record

log = logging.getLogger(__name__)
# What this stage writes: dvc.yaml's outs (tests/test_dvc_yaml.py).
OUTS = (
    *(
        path(s)
        for path in (config.pickle_path, config.npz_path, config.parquet_path)
        for s in config.SPLITS
    ),
    config.CROISSANT_FILE,
)


def pickle_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """The published format: protocol-4 pickle of ``{'images': (N, 8, 8) float32, 'labels': (N,) int64}``."""
    if images.dtype != np.float32 or images.ndim != 3 or images.shape[1:] != config.IMAGE_SHAPE:
        raise ContractError(f"images must be float32 (N, 8, 8), got {images.dtype} {images.shape}")
    if labels.dtype != np.int64 or labels.shape != (len(images),):
        raise ContractError(
            f"labels must be int64 ({len(images)},), got {labels.dtype} {labels.shape}"
        )
    arrays = {"images": np.ascontiguousarray(images), "labels": np.ascontiguousarray(labels)}
    return pickle.dumps(arrays, protocol=config.PICKLE_PROTOCOL)


def is_v1(p: params.Params) -> bool:
    """Whether ``p`` draws TinyDigits v1: its seed and 100 train / 20 test images of every digit."""
    return (
        p.seed == config.V1_SEED
        and p.sample.train_counts == (config.V1_TRAIN_PER_CLASS,) * len(config.DIGITS)
        and p.sample.test_counts == (config.V1_TEST_PER_CLASS,) * len(config.DIGITS)
    )


def check_v1(pickles: dict[str, bytes]) -> None:
    """Raise :class:`ReproducibilityError`, naming both digests, unless ``pickles`` are the v1 bytes."""
    for split, blob in pickles.items():
        built, published = hashlib.sha256(blob).hexdigest(), config.V1_SHA256[split]
        if built != published:
            raise ReproducibilityError(
                f"with TinyDigits v1's params, {split}.pkl built {len(blob):,} bytes sha256 {built}, but v1 is "
                f"sha256 {published}; nothing was replaced. Check the environment (make repro) and the code."
            )


def main() -> None:
    p = params.load()
    data = read_npz(
        config.SPLITS_FILE, tuple(f"{s}_{k}" for s in config.SPLITS for k in ("images", "labels"))
    )
    # validated against the full contract by the split stage; DVC's hashes pin those bytes
    splits = {s: (data[f"{s}_images"], data[f"{s}_labels"]) for s in config.SPLITS}
    # what split gathered
    plan = read_npz(config.SAMPLE_FILE, tuple(f"{s}_index" for s in config.SPLITS))
    # Build every file's bytes first, then write each atomically: an error while building writes
    # nothing. A kill between two writes leaves whole files of two runs; dvc status flags it.
    files = {}
    for name, (images, labels) in splits.items():
        files[config.pickle_path(name)] = pickle_bytes(images, labels)
        files[config.npz_path(name)] = npz_bytes({"images": images, "labels": labels})
        files[config.parquet_path(name)] = parquet.parquet_bytes(
            images, labels, plan[f"{name}_index"]
        )
    # croissant.json states the release these data files are (or LAST+unreleased): see pipeline.release.record
    # and, as datePublished, the first release's recorded date
    entries = record.load()
    version = record.version_of(entries, p, {path.name: blob for path, blob in files.items()})
    doc = croissant.metadata(
        {s: files[config.parquet_path(s)] for s in config.SPLITS},
        {s: labels for s, (_, labels) in splits.items()},
        version,
        record.date_published(entries),
    )
    files[config.CROISSANT_FILE] = croissant.json_bytes(doc)
    # the published digests are the build's own test, before anything is replaced
    if is_v1(p):
        check_v1({name: files[config.pickle_path(name)] for name in splits})
    for path, blob in files.items():
        atomic_write_bytes(path, blob)
        log.info(
            "%s %s bytes sha256 %s", path, f"{len(blob):,}", hashlib.sha256(blob).hexdigest()[:12]
        )
