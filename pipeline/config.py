"""Paths and source facts, declared once. They must match ``dvc.yaml``'s deps and outs."""

from pathlib import Path

PARAMS_FILE = Path("params.yaml")

RAW_DIR = Path("datasets/raw")
INTERIM_DIR = Path("datasets/interim")
DATASET_DIR = Path("datasets/tinydigits")

RAW_FILE = RAW_DIR / "digits.npz"
NORMALIZED_FILE = INTERIM_DIR / "normalized.npz"
SAMPLE_FILE = INTERIM_DIR / "sample.npz"
SPLITS_FILE = INTERIM_DIR / "splits.npz"
SWEEP_FILE = INTERIM_DIR / "sweep.npz"  # the benchmark_sweep stage's runs

SPLITS = ("train", "test")
# TinyDigits v1: its params, and the published sha256 of its pickles. The pickle stage refuses to
# replace anything when these params build other bytes (another NumPy, another algorithm).
V1_SEED, V1_TRAIN_PER_CLASS, V1_TEST_PER_CLASS = 42, 100, 20
V1_SHA256 = {
    "train": "254293630e549113002cdc3f7f1542715e0a40288a3a8a0358fb8e478dce1e54",
    "test": "767ea1644a12dac6f3f94f63536de4deace8a0fa1f5c54f80a9419a267c7802d",
}
PICKLE_PROTOCOL = 4  # the published format; Python 3.14 defaults to 5


def pickle_path(split: str, root: Path = DATASET_DIR) -> Path:
    return Path(root) / f"{split}.pkl"


def npz_path(split: str, root: Path = DATASET_DIR) -> Path:
    return Path(root) / f"{split}.npz"


def parquet_path(split: str, root: Path = DATASET_DIR) -> Path:
    return Path(root) / f"{split}.parquet"


CROISSANT_FILE = DATASET_DIR / "croissant.json"  # Croissant metadata of the Parquet files


# The source: scikit-learn's bundled copy of the UCI optical digits (test part), a gzipped
# CSV of 64 pixel columns (integers 0..16) then the label. Pinned by digest, like
# scikit-learn pins its own remote files; the class sizes are facts of that exact file.
SOURCE_PACKAGE = "sklearn"
SOURCE_RELPATH = ("datasets", "data", "digits.csv.gz")
SOURCE_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
SOURCE_ROWS = 1797
CLASS_SIZES = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)  # digits 0..9
DIGITS = tuple(range(10))
# Train images per digit in TinyDigits v1, the size the "~80%" promise is about: the benchmark's
# gate trains the baseline on the split the pipeline draws at this size.
GATE_PER_CLASS = 100
IMAGE_SHAPE = (8, 8)
PIXEL_MAX = 16
# The data's licence, as the UCI repository publishes it for the source data set (Alpaydin and
# Kaynak, 1998, doi:10.24432/C50P49): stated in croissant.json and the card's Hugging Face header.
DATA_LICENSE_ID = "cc-by-4.0"
DATA_LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"
