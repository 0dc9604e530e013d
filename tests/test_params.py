"""params.yaml validation: every bad value is refused with a message naming the key and range."""

import re

import pytest
import yaml

from pipeline.core import params
from pipeline.core.config import PARAMS_FILE
from pipeline.core.errors import ParamsError
from tests.helpers import ROOT, with_


def test_defaults_resolve_to_v1_counts():
    p = params.load(ROOT / PARAMS_FILE)
    assert p.seed == 42
    assert p.sample.train_counts == (100,) * 10
    assert p.sample.test_counts == (20,) * 10


def test_overrides_replace_per_digit_counts_and_accept_string_digits():
    p = params.parse(with_(sample__train_counts={8: 50, "3": 7}, sample__test_counts={0: 0}))
    assert p.sample.train_counts == (100, 100, 100, 7, 100, 100, 100, 100, 50, 100)
    assert p.sample.test_counts == (0,) + (20,) * 9


@pytest.mark.parametrize(
    "changes, match",
    [
        (
            {"sample__train_per_class": -1},
            r"sample\.train_per_class must be an integer in \[0, 174\], got -1",
        ),
        (
            {"sample__train_per_class": 2.5},
            r"sample\.train_per_class must be an integer in \[0, 174\], got 2\.5",
        ),
        (
            {"sample__test_per_class": "20"},
            r"sample\.test_per_class must be an integer in \[0, 174\], got '20'",
        ),
        ({"sample__test_per_class": True}, r"sample\.test_per_class must be an integer"),
        (
            {"sample__train_counts": {10: 5}},
            r"sample\.train_counts has unknown digit 10; valid digits are 0\.\.9",
        ),
        ({"sample__test_counts": {"x": 5}}, r"sample\.test_counts has unknown digit 'x'"),
        (
            {"sample__train_counts": {3: -2}},
            r"sample\.train_counts\.3 must be an integer in \[0, 183\], got -2",
        ),
        ({"sample__train_counts": [1, 2]}, r"sample\.train_counts must be a mapping of digit"),
        ({"seed": -1}, r"seed must be an integer in \[0, 4294967295\], got -1"),
        ({"seed": 2**32}, r"seed must be an integer in \[0, 4294967295\], got 4294967296"),
        ({"seed": 4.2}, r"seed must be an integer in \[0, 4294967295\]"),
        (
            {"sample__train_per_class": 160},
            r"sample\.train_per_class \+ sample\.test_per_class = 160 \+ 20 = 180 exceeds the 178 images "
            r"of digit 0; valid: train \+ test <= 178 for digit 0 \(over the limit: digits 0, 2, 7, 8;",
        ),
        (
            {"sample__train_counts": {1: 170}},
            r"sample\.train_counts\.1 \+ sample\.test_per_class = 170 \+ 20 = 190 exceeds the 182 images of digit 1",
        ),
        (
            {"sample__train_per_class": 0, "sample__train_counts": {}},
            r"train and test must each hold at least one image",
        ),
        (
            {"benchmark__min_accuracy": 1.5},
            r"benchmark\.min_accuracy must be a number in \[0\.0, 1\.0\], got 1\.5",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_valid_range(changes, match):
    with pytest.raises(ParamsError, match=match):
        params.parse(with_(**changes))


def test_unknown_key_is_a_typo_with_a_suggestion():
    raw = with_()
    raw["sample"]["train_per_clas"] = raw["sample"].pop("train_per_class")
    with pytest.raises(
        ParamsError,
        match=r"unknown key sample\.train_per_clas \(did you mean sample\.train_per_class\?\)",
    ):
        params.parse(raw)
    raw = with_()
    raw["sed"] = 1
    with pytest.raises(ParamsError, match=r"unknown key sed \(did you mean seed\?\)"):
        params.parse(raw)


def test_missing_key_and_wrong_shapes_are_named():
    raw = with_()
    del raw["seed"]
    with pytest.raises(ParamsError, match=r"missing key seed"):
        params.parse(raw)
    with pytest.raises(ParamsError, match=r"params\.yaml must be a mapping"):
        params.parse(["seed", 42])
    with pytest.raises(ParamsError, match=r"sample must be a mapping"):
        params.parse(with_(sample=None))


def test_load_reports_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ParamsError, match=r"not found"):
        params.load(tmp_path / "params.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: [42\n")
    with pytest.raises(ParamsError, match=r"is not valid YAML"):
        params.load(bad)


# ---- digits spelled twice, non-ASCII digits, duplicate keys, empty files ---------------------


def test_a_digit_given_as_both_int_and_string_names_both_spellings():
    # what `dvc exp run -S '++sample.train_counts.8=60'` writes into a file that has {8: 50}
    with pytest.raises(
        ParamsError,
        match=r"sample\.train_counts gives digit 8 twice, as 8: 50 and as '8': 60; "
        r"edit params\.yaml so that digit 8 appears once",
    ):
        params.parse(with_(sample__train_counts={8: 50, "8": 60}))
    with pytest.raises(
        ParamsError, match=r"sample\.test_counts gives digit 3 twice, as '3': 1 and as ' 3': 1"
    ):
        # same count: still refused, not guessed
        params.parse(with_(sample__test_counts={"3": 1, " 3": 1}))


@pytest.mark.parametrize(
    "digit, name",
    [
        ("８", "U+FF18 FULLWIDTH DIGIT EIGHT"),  # int() would silently read it as 8
        ("٨", "U+0668 ARABIC-INDIC DIGIT EIGHT"),
        ("²", "U+00B2 SUPERSCRIPT TWO"),  # str.isdigit() is True, int() raises ValueError
    ],
)
def test_non_ascii_digits_are_refused_by_name(digit, name):
    assert digit.isdigit()
    with pytest.raises(
        ParamsError,
        match=rf"sample\.train_counts has digit '{digit}' \({re.escape(name)}\); "
        r"write digits as 0\.\.9 in ASCII",
    ):
        params.parse(with_(sample__train_counts={digit: 5}))


def write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_key_written_twice_is_refused_with_its_line(tmp_path):
    text = (
        (ROOT / PARAMS_FILE)
        .read_text()
        .replace("  train_counts: {}", "  train_counts:\n    8: 50\n    8: 60", 1)
    )
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("    8: 60"))
    # PyYAML silently keeps the last
    assert yaml.safe_load(text)["sample"]["train_counts"] == {8: 60}
    with pytest.raises(
        ParamsError,
        match=rf"params\.yaml line {line}: key sample\.train_counts\.8 is given twice "
        rf"\(first on line {line - 1}\); YAML would silently keep only the last",
    ):
        params.load(write(tmp_path, text))
    with pytest.raises(ParamsError, match=r"line 2: key seed is given twice \(first on line 1\)"):
        params.load(write(tmp_path, "seed: 42\nseed: 7\n"))
    with pytest.raises(
        ParamsError, match=r"line 3: key benchmark\.sweep_per_class\[0\]\.a is given twice"
    ):
        params.load(write(tmp_path, "benchmark:\n  sweep_per_class: [{a: 1,\n    a: 2}]\n"))


def test_empty_and_invalid_files_get_one_line_naming_the_place(tmp_path):
    for text in ("", "\n", "# only a comment\n"):
        with pytest.raises(
            ParamsError, match=r"params\.yaml is empty; it needs seed, sample and benchmark"
        ):
            params.load(write(tmp_path, text))
    with pytest.raises(
        ParamsError,
        match=r"is not valid YAML: line 2, column 1: expected ',' or '\]'.*"
        r"\(while parsing a flow sequence\)$",
    ):
        params.load(write(tmp_path, "seed: [42\n"))
    with pytest.raises(
        ParamsError, match=r"is not valid YAML: line 2, column 1: found character '\\t'"
    ):
        params.load(write(tmp_path, "seed: 42\n\tsample: 1\n"))


# ---- the benchmark section -----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, match",
    [
        (
            {"benchmark__reference_max_epochs": 0},
            r"benchmark\.reference_max_epochs must be an integer in \[1, 100000\], got 0",
        ),
        (
            {"benchmark__reference_hidden_units": 2.0},
            r"benchmark\.reference_hidden_units must be an integer in \[1, 4096\]",
        ),
        (
            {"benchmark__sweep_per_class": [5, 5]},
            r"benchmark\.sweep_per_class must list distinct counts",
        ),
        (
            {"benchmark__sweep_per_class": [5, 160]},
            r"benchmark\.sweep_per_class\[1\] = 160 leaves no room for the 20 test "
            r"images of digit 8 \(174 images\); valid: counts in \[1, 154\]",
        ),
        (
            {"benchmark__sweep_per_class": [150], "sample__test_per_class": 30},
            r"valid: counts in \[1, 144\]",
        ),
        (
            {
                "benchmark__sweep_per_class": [5],
                "sample__train_per_class": 50,
                "sample__test_per_class": 80,
            },
            r"sample\.test_per_class / sample\.test_counts\.8 = 80 leaves no room for the benchmark gate's 100 train "
            r"images of digit 8 \(174 images\); valid: test images per digit <= 74 for digit 8",
        ),
    ],
)
def test_benchmark_params_name_the_key_and_the_valid_range(changes, match):
    with pytest.raises(ParamsError, match=match):
        params.parse(with_(**changes))
