"""pipeline.formats.hub_header: the card's Hugging Face header, from the measured files."""

import pytest
import yaml

from pipeline.formats import hub_header


@pytest.mark.parametrize(
    "n, category",
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1_000, "1K<n<10K"),
        (1_200, "1K<n<10K"),
        (10_000, "10K<n<100K"),
        (5_000_000, "n>1M"),
    ],
)
def test_size_category_follows_the_hubs_bins(n, category):
    assert hub_header.size_category(n) == category


def test_hub_header_points_at_the_parquet_files_with_measured_counts():
    text = hub_header.header(
        {"train": 500, "test": 100}, {"train": 1234, "test": 321}, {"train": 9876, "test": 543}
    )
    assert text.startswith("---\n") and text.endswith("\n---")
    meta = yaml.safe_load(text.strip("-\n"))
    assert meta["license"] == "cc-by-4.0" and meta["task_categories"] == ["image-classification"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "train.parquet"},
                {"split": "test", "path": "test.parquet"},
            ],
        }
    ]
    info = meta["dataset_info"]
    assert [f["name"] for f in info["features"]] == ["image", "label", "source_index"]
    assert [(s["name"], s["num_examples"]) for s in info["splits"]] == [
        ("train", 500),
        ("test", 100),
    ]
    assert [s["num_bytes"] for s in info["splits"]] == [9876, 543]
    assert info["download_size"] == 1555 and info["dataset_size"] == 10_419


def test_hub_header_types_image_and_label_for_the_datasets_client():
    import datasets

    features = datasets.Features._from_yaml_list(hub_header.FEATURES)
    assert features["image"] == datasets.Array2D(shape=(8, 8), dtype="float32")
    assert features["label"] == datasets.ClassLabel(names=[str(d) for d in range(10)])
    assert features["source_index"] == datasets.Value("int64")
