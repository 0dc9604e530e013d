"""Load a published split safely: digest checked, restricted unpickling, format validated.

    >>> from pipeline import load
    >>> images, labels = load("train")                   # datasets/tinydigits/train.pkl
    >>> images.shape, images.dtype, labels.shape, labels.dtype
    ((1000, 8, 8), dtype('float32'), (1000,), dtype('int64'))
    >>> images, labels = load("test", format="npz")      # the .npz twin, no pickle at all

    $ python -m pipeline load
    load: train: 1,000 images; train.pkl md5 6c43ffa69131 as dvc.lock records; train.npz holds the same arrays
    load: test: 200 images; test.pkl md5 2d7166647fe8 as dvc.lock records; test.npz holds the same arrays

The file is read once; its md5 and size are checked against the ``dvc.lock`` of the project
it sits in (DVC 3 records md5, not sha256) and the same bytes are then parsed. Without a
``dvc.lock`` (the files copied on their own) there is nothing to check against, and loading
goes on unverified. Parsing runs no code from the file: the unpickler resolves only what an
array pickle needs (NumPy's array reconstructor, ``ndarray``, ``dtype``) and refuses any other
name before it could be called; ``.npz`` files load with ``allow_pickle=False``.
Needs only NumPy (and PyYAML, to read a ``dvc.lock`` when there is one).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import pickle
from pathlib import Path

import numpy as np

from pipeline.core.config import DATASET_DIR, DIGITS, IMAGE_SHAPE, SPLITS
from pipeline.core.errors import (
    CorruptFileError,
    DatasetError,
    DatasetFormatError,
    DatasetNotFoundError,
    UnsafePickleError,
)
from pipeline.loader.integrity import check_digest, check_not_lfs_pointer

log = logging.getLogger(__name__)
# what `python -m pipeline load` says when Ctrl-C stops it
INTERRUPTED_HINT = "interrupted; loading only reads, so nothing was changed"

FORMATS = ("pkl", "npz")
# What unpickling an ndarray calls: ndarray.__reduce__ names its own reconstructor.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
ALLOWED_GLOBALS = {
    # NumPy 2.x pickles (TinyDigits v1)
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    # NumPy 1.x pickles
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


def load(
    split: str,
    root: Path | str | None = None,
    *,
    format: str = "pkl",
    verify: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 8, 8) float32 in [0, 1] and labels (N,) int64 in 0..9 of ``split``.

    ``root`` is the folder holding the files (``~`` expanded); by default, that of the checkout
    you are in (:func:`find_dataset`). ``format`` is ``"pkl"`` (the published pickle) or ``"npz"``
    (its twin). ``verify``: ``None`` checks the digest when a ``dvc.lock`` records the file,
    ``True`` requires that record, ``False`` skips the check. Raises a
    :class:`~pipeline.core.errors.DatasetError` subclass.
    """
    images, labels, _ = _load(split, root, format, verify)
    return images, labels


def find_dataset() -> Path:
    """``datasets/tinydigits`` in the working directory or in the nearest folder above it that has
    one, as git and dvc find their repository: a script or notebook in a subfolder of a checkout
    loads that checkout's files. The path is relative to the working directory."""
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / DATASET_DIR).is_dir():
            return Path(os.path.relpath(folder / DATASET_DIR))
    raise DatasetNotFoundError(
        f"no {DATASET_DIR} in {here} or any folder above it; run from inside a TinyDigits "
        "checkout, or pass the folder that holds the files (root=...)"
    )


def _load(split, root, format, verify) -> tuple[np.ndarray, np.ndarray, str]:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    if format not in FORMATS:
        raise DatasetError(f"unknown format {format!r}; valid formats: {', '.join(FORMATS)}")
    # "~/Downloads/tinydigits" as a shell would read it, as pandas reads paths too
    root = find_dataset() if root is None else Path(root).expanduser()
    path = root / f"{split}.{format}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetNotFoundError(
            f"{path} not found; expected {split}.pkl and {split}.npz in {root}"
        ) from None
    except OSError as err:
        # a root that is a file, a split's name taken by a folder, no permission
        raise DatasetError(
            f"{path} cannot be read ({err.strerror}); expected {root} to be a folder holding "
            f"the files {split}.pkl and {split}.npz"
        ) from None
    # before the digest check: a pointer is not a changed file
    check_not_lfs_pointer(path, data)
    note = check_digest(path, data, verify)
    obj = unpickle(data, path) if format == "pkl" else parse_npz(data, path)
    images, labels = validate(obj, path)
    return images, labels, note


# ---- parsing -----------------------------------------------------------------------------


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED_GLOBALS`; any other global is refused before it is called."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise UnsafePickleError(
                f"pickle references {module}.{name}, which a TinyDigits file never needs; refused "
                f"without calling it (allowed: {allowed})"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(
            f"pickle uses a persistent id ({pid!r}); TinyDigits files have none"
        )


def unpickle(data: bytes, path: Path | str = "<bytes>") -> object:
    """Unpickle ``data`` allowing only NumPy array globals; the whole input must be one pickle."""
    stream = io.BytesIO(data)
    try:
        obj = _NumpyOnlyUnpickler(stream).load()
    except DatasetError as err:
        raise type(err)(f"{path}: {err}") from None
    except Exception as err:
        # any parse failure means a damaged file; no foreign code can run here
        raise CorruptFileError(
            f"{path} is not a readable pickle ({type(err).__name__}: {err}); truncated or damaged?"
        ) from None
    if stream.tell() != len(data):
        raise CorruptFileError(
            f"{path} has {len(data) - stream.tell():,} unexpected bytes after the pickle"
        )
    return obj


def parse_npz(data: bytes, path: Path | str = "<bytes>") -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive in ``data``, read with ``allow_pickle=False``."""
    if not data.startswith(b"PK\x03\x04"):
        raise CorruptFileError(f"{path} is not an .npz (zip) archive")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise DatasetFormatError(
                f"{path} holds an object array; refused (it would need unpickling)"
            ) from None
        raise CorruptFileError(
            f"{path} is not a readable .npz ({err}); truncated or damaged?"
        ) from None
    except Exception as err:
        # zipfile / format errors: a damaged archive
        raise CorruptFileError(
            f"{path} is not a readable .npz ({type(err).__name__}: {err}); truncated or damaged?"
        ) from None


def validate(obj: object, path: Path | str = "<data>") -> tuple[np.ndarray, np.ndarray]:
    """Check ``{'images': (N, 8, 8) float32 in [0, 1], 'labels': (N,) int64 in 0..9}``; return both."""
    if not isinstance(obj, dict) or set(obj) != {"images", "labels"}:
        got = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
        raise DatasetFormatError(f"{path} must hold exactly 'images' and 'labels', got {got}")
    images, labels = obj["images"], obj["labels"]
    for key, arr, dtype in (("images", images, np.float32), ("labels", labels, np.int64)):
        if type(arr) is not np.ndarray:
            raise DatasetFormatError(
                f"{path}: {key} must be a numpy array, got {type(arr).__name__}"
            )
        if arr.dtype != np.dtype(dtype):
            raise DatasetFormatError(
                f"{path}: {key} must be {np.dtype(dtype)}, got dtype {arr.dtype}"
            )
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE or len(images) == 0:
        raise DatasetFormatError(
            f"{path}: images must have shape (N, 8, 8) with N >= 1, got {images.shape}"
        )
    if labels.shape != (len(images),):
        raise DatasetFormatError(
            f"{path}: labels must have shape ({len(images)},) to match images, got {labels.shape}"
        )
    # NaN counts as outside
    outside = np.flatnonzero(~((images >= 0) & (images <= 1)).all(axis=(1, 2)))
    if outside.size:
        raise DatasetFormatError(
            f"{path}: pixel values must lie in [0, 1]; images {outside[:5].tolist()} "
            f"({outside.size:,} in all) do not"
        )
    bad = np.flatnonzero((labels < DIGITS[0]) | (labels > DIGITS[-1]))
    if bad.size:
        raise DatasetFormatError(
            f"{path}: labels must be digits 0..9; positions {bad[:5].tolist()} "
            f"hold {labels[bad[:5]].tolist()}"
        )
    return images, labels


# ---- command line: check both files of every split ----------------------------------------


def main(argv: list[str]) -> None:
    """``python -m pipeline load [DIR]``: load both splits from both formats in DIR (default: the
    checkout's published folder, :func:`find_dataset`) and check that they hold the same arrays."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline load",
        description="Load train and test from the .pkl and the .npz files, each checked against "
        "dvc.lock and validated, and check that both formats hold the same arrays.",
    )
    parser.add_argument(
        "dir",
        nargs="?",
        metavar="DIR",
        help=f"the folder holding the files (default: the {DATASET_DIR} of the checkout you are "
        "in, found as git finds its repository)",
    )
    root = parser.parse_args(argv).dir or find_dataset()
    for split in SPLITS:
        images, labels, note = _load(split, root, "pkl", None)
        twin_images, twin_labels, _ = _load(split, root, "npz", None)
        if not (np.array_equal(images, twin_images) and np.array_equal(labels, twin_labels)):
            raise DatasetError(
                f"{split}.pkl and {split}.npz in {root} hold different arrays; rebuild with `dvc repro`"
            )
        log.info(
            "%s: %s images; %s.pkl %s; %s.npz holds the same arrays",
            split,
            f"{len(labels):,}",
            split,
            note,
            split,
        )
