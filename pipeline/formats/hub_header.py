"""The Hugging Face header of the dataset card: YAML that makes ``datasets/tinydigits/`` a dataset repository.

With it, ``datasets.load_dataset("datasets/tinydigits")`` reads ``train.parquet`` and
``test.parquet`` as the ``train`` and ``test`` splits, with the features declared here, and the
Hub shows licence, task and size. Counts and sizes are measured from the files (see
:func:`header`), so a variant built with other params describes itself.
"""

from __future__ import annotations

import yaml

from pipeline.core import config

# The Parquet columns as Hugging Face features, typed: ``image`` an 8x8 float32 ``Array2D`` and
# ``label`` a ``ClassLabel`` named "0".."9", so ``with_format("numpy")`` gives (N, 8, 8) float32 and
# (N,) int64, and the Hub's viewer shows digits with their class names. This is metadata only:
# ``datasets`` casts the file's plain nested lists to these types when it reads them, so the
# Parquet bytes stay plain Arrow (docs/formats.md) and every other reader sees the same columns.
FEATURES = [
    {
        "name": "image",
        "dtype": {"array2_d": {"shape": list(config.IMAGE_SHAPE), "dtype": "float32"}},
    },
    {
        "name": "label",
        "dtype": {"class_label": {"names": {str(d): str(d) for d in config.DIGITS}}},
    },
    {"name": "source_index", "dtype": "int64"},
]
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` value for ``n`` examples in all."""
    return next((name for limit, name in _SIZES if n < limit), "n>1M")


def header(rows: dict[str, int], parquet_bytes: dict[str, int], arrow_bytes: dict[str, int]) -> str:
    """The YAML block, ``---`` lines included; ``rows``, ``parquet_bytes`` and ``arrow_bytes`` map each
    split to its number of images, the size of its Parquet file and of its table in memory
    (:func:`pipeline.formats.parquet.arrow_nbytes`)."""
    splits = [
        {"name": s, "num_bytes": arrow_bytes[s], "num_examples": rows[s]} for s in config.SPLITS
    ]
    meta = {
        "license": config.DATA_LICENSE_ID,
        "pretty_name": "TinyDigits",
        "task_categories": ["image-classification"],
        "size_categories": [size_category(sum(rows.values()))],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": s, "path": config.parquet_path(s, ".").name} for s in config.SPLITS
                ],
            }
        ],
        "dataset_info": {
            "features": FEATURES,
            "splits": splits,
            "download_size": sum(parquet_bytes.values()),
            "dataset_size": sum(split["num_bytes"] for split in splits),
        },
    }
    return (
        "---\n" + yaml.safe_dump(meta, sort_keys=False, default_flow_style=False, width=100) + "---"
    )
