"""pipeline.benchmark.tables: the Markdown tables and the epochs the card's curve shows."""

from pathlib import Path

import numpy as np

from pipeline.benchmark import tables


def test_curve_epochs_keep_the_first_and_last():
    assert tables.curve_epochs(20) == [1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert tables.curve_epochs(3) == [1, 2, 3]
    assert tables.curve_epochs(25)[-1] == 25
    # fewer epochs than shown: every one
    assert tables.curve_epochs(5) == [1, 2, 3, 4, 5]


def test_counts_table_word_for_word():
    assert tables.counts_table(np.array([0, 0, 1, 9]), np.array([3])) == (
        "| split | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | total |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        "| train | 2 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 4 |\n"
        "| test | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 1 |"
    )


def test_files_and_sweep_tables_word_for_word():
    assert tables.files_table({Path("a/train.pkl"): b"ab", Path("test.npz"): b""}) == (
        "| `train.pkl` | 2 | `fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603` |\n"
        "| `test.npz` | 0 | `e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855` |"
    )
    summary = {"mean": 0.81234, "std": 0.0312, "min": 0.7, "max": 0.9}
    assert tables.sweep_table({150: summary, 5: summary}) == (
        "| 5 | 50 | 0.8123 | 0.0312 | 0.7000 | 0.9000 |\n"
        "| 150 | 1,500 | 0.8123 | 0.0312 | 0.7000 | 0.9000 |"
    )


def test_span_phrase_and_row_table_word_for_word():
    assert tables.span([3, 3]) == "3" and tables.span([5, 2, 9]) == "2 to 9"
    assert tables.per_digit_phrase([20] * 10) == "the 20 per digit"
    assert tables.per_digit_phrase([20, 15]) == "the per-digit counts [20, 15]"
    assert tables.row_table("digit", {0: "0.91", 1: "0.88"}) == (
        "| digit | 0 | 1 |\n| --- | ---: | ---: |\n| accuracy | 0.91 | 0.88 |"
    )
    assert tables.row_table("epoch", {1: "0.1"}, label="mean").endswith("| mean | 0.1 |")
