"""Stage ``pickle``: write the published files: ``train.pkl``/``test.pkl``, their ``.npz`` and
``.parquet`` twins, and ``croissant.json``.

    $ python -m pipeline.pickling
    pickle: datasets/tinydigits/train.pkl 264,255 bytes sha256 254293630e54...
    ...
    pickle: datasets/tinydigits/croissant.json ... bytes sha256 ...

Each ``.pkl`` is pickle protocol 4 of ``{'images': float32 (N, 8, 8), 'labels': int64 (N,)}``,
the TinyDigits v1 format; each ``.npz`` holds the same two arrays and loads with
``numpy.load(path, allow_pickle=False)``. Each ``.parquet`` holds them row by row, in the same
order, with each image's row in the source (``source_index``, from the sample plan); see
:mod:`pipeline.parquet`. ``croissant.json`` describes the Parquet files (:mod:`pipeline.croissant`).
Each write is atomic: a killed run never leaves a partial file.
"""

from __future__ import annotations

import hashlib
import logging
import pickle

import numpy as np

from pipeline import config, croissant, params, parquet
from pipeline.errors import ContractError
from pipeline.io import atomic_write_bytes, npz_bytes, read_npz

log = logging.getLogger(__name__)


def pickle_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """The published format: protocol-4 pickle of ``{'images': (N, 8, 8) float32, 'labels': (N,) int64}``."""
    if images.dtype != np.float32 or images.ndim != 3 or images.shape[1:] != config.IMAGE_SHAPE:
        raise ContractError(f"images must be float32 (N, 8, 8), got {images.dtype} {images.shape}")
    if labels.dtype != np.int64 or labels.shape != (len(images),):
        raise ContractError(f"labels must be int64 ({len(images)},), got {labels.dtype} {labels.shape}")
    record = {"images": np.ascontiguousarray(images), "labels": np.ascontiguousarray(labels)}
    return pickle.dumps(record, protocol=config.PICKLE_PROTOCOL)


def main() -> None:
    params.load()  # the whole file must be valid, though this stage reads no key
    data = read_npz(config.SPLITS_FILE, tuple(f"{s}_{k}" for s in config.SPLITS for k in ("images", "labels")))
    # validated against the full contract by the split stage; DVC's hashes pin those bytes
    splits = {s: (data[f"{s}_images"], data[f"{s}_labels"]) for s in config.SPLITS}
    plan = read_npz(config.SAMPLE_FILE, tuple(f"{s}_index" for s in config.SPLITS))  # what split gathered
    # Build every file's bytes first, then write each atomically: an error while building writes
    # nothing. A kill between two writes leaves whole files of two runs; dvc status flags it.
    files = {}
    for name, (images, labels) in splits.items():
        files[config.pickle_path(name)] = pickle_bytes(images, labels)
        files[config.npz_path(name)] = npz_bytes({"images": images, "labels": labels})
        files[config.parquet_path(name)] = parquet.parquet_bytes(images, labels, plan[f"{name}_index"])
    doc = croissant.metadata({s: files[config.parquet_path(s)] for s in config.SPLITS},
                             {s: labels for s, (_, labels) in splits.items()})
    files[config.CROISSANT_FILE] = croissant.json_bytes(doc)
    for path, blob in files.items():
        atomic_write_bytes(path, blob)
        log.info("%s %s bytes sha256 %s", path, f"{len(blob):,}", hashlib.sha256(blob).hexdigest()[:12])


if __name__ == "__main__":
    from pipeline._stage import run

    run("pickle", main)
