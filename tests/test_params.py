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
    elsewhere = re.escape(
        f"{tmp_path}/params.yaml not found in {tmp_path}: run from the repository root, "
        "where dvc.yaml and params.yaml are"
    )
    with pytest.raises(ParamsError, match=f"^{elsewhere}$"):
        params.load(tmp_path / "params.yaml")
    # in the repository's root, the file itself is gone
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    with pytest.raises(
        ParamsError,
        match=re.escape(
            f"{tmp_path}/params.yaml not found beside dvc.yaml "
            "(`git checkout -- params.yaml` restores the defaults)"
        ),
    ):
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
        # int() would silently read it as 8
        ("８", "U+FF18 FULLWIDTH DIGIT EIGHT"),
        ("٨", "U+0668 ARABIC-INDIC DIGIT EIGHT"),
        # str.isdigit() is True, int() raises ValueError
        ("²", "U+00B2 SUPERSCRIPT TWO"),
        # each character named, in order
        ("８８", "U+FF18 FULLWIDTH DIGIT EIGHT"),
    ],
)
def test_non_ascii_digits_are_refused_by_name(digit, name):
    if len(digit) > 1:
        name = ", ".join([name] * len(digit))
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
        ParamsError,
        match=rf"^{re.escape(str(tmp_path))}/params\.yaml line 3: key benchmark\.sweep_per_class\[0\]\.a "
        r"is given twice",
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


# ---- every bound, both sides: found by mutation testing (mutmut), where a changed bound, a
# dropped key name or a field left unset passed every test above ---------------------------------

INTEGER_BOUNDS = {
    "seeds": (1, 1000),
    "hidden_units": (1, 4096),
    "batch_size": (1, 100_000),
    "epochs": (1, 10_000),
    "reference_hidden_units": (1, 4096),
    "reference_max_epochs": (1, 100_000),
}


@pytest.mark.parametrize("key", INTEGER_BOUNDS)
def test_each_benchmark_integer_takes_its_bounds_and_refuses_one_beyond_them(key):
    lo, hi = INTEGER_BOUNDS[key]
    for ok in (lo, hi):
        assert getattr(params.parse(with_(**{f"benchmark__{key}": ok})).benchmark, key) == ok
    for bad in (lo - 1, hi + 1):
        with pytest.raises(
            ParamsError,
            match=rf"^benchmark\.{key} must be an integer in \[{lo}, {hi}\], got {bad}$",
        ):
            params.parse(with_(**{f"benchmark__{key}": bad}))


@pytest.mark.parametrize(
    "key, accepted, refused, valid",
    [
        ("learning_rate", (1e-9, 10.0), (0.0, 10.001, -1), r"\(0\.0, 10\.0\]"),
        ("min_accuracy", (0.0, 1.0), (-0.001, 1.001), r"\[0\.0, 1\.0\]"),
    ],
)
def test_each_benchmark_number_takes_its_bounds_and_refuses_beyond_them(
    key, accepted, refused, valid
):
    for ok in accepted:
        assert getattr(params.parse(with_(**{f"benchmark__{key}": ok})).benchmark, key) == ok
    for bad in refused:
        with pytest.raises(
            ParamsError, match=rf"^benchmark\.{key} must be a number in {valid}, got {bad}$"
        ):
            params.parse(with_(**{f"benchmark__{key}": bad}))


def test_each_benchmark_value_reaches_its_own_field():
    values = dict(
        seeds=3,
        hidden_units=5,
        learning_rate=0.25,
        batch_size=7,
        epochs=11,
        min_accuracy=0.5,
        sweep_per_class=[13, 2],
        reference_hidden_units=17,
        reference_max_epochs=19,
    )
    got = params.parse(with_(**{f"benchmark__{k}": v for k, v in values.items()})).benchmark
    assert got == params.BenchmarkParams(**{**values, "sweep_per_class": (13, 2)})


@pytest.mark.parametrize(
    "sweep, message",
    [
        ([], r"^benchmark\.sweep_per_class must be a non-empty list of counts, got \[\]$"),
        ("5, 10", r"^benchmark\.sweep_per_class must be a non-empty list of counts, got '5, 10'$"),
        ([5, 0], r"^benchmark\.sweep_per_class\[1\] must be an integer in \[1, 174\], got 0$"),
        ([175], r"^benchmark\.sweep_per_class\[0\] must be an integer in \[1, 174\], got 175$"),
    ],
)
def test_a_bad_sweep_list_is_named(sweep, message):
    with pytest.raises(ParamsError, match=message):
        params.parse(with_(benchmark__sweep_per_class=sweep))


def test_an_unknown_benchmark_key_is_named_with_its_block():
    raw = with_()
    raw["benchmark"]["seedz"] = raw["benchmark"].pop("seeds")
    with pytest.raises(
        ParamsError, match=r"^unknown key benchmark\.seedz \(did you mean benchmark\.seeds\?\)"
    ):
        params.parse(raw)


def test_the_sweep_and_the_gate_may_fill_a_digit_exactly():
    # digit 8 has 174 images: 154 + the 20 test images fill it, as 100 + 74 do for the gate
    assert params.parse(with_(benchmark__sweep_per_class=[154])).benchmark.sweep_per_class == (154,)
    p = params.parse(
        with_(benchmark__sweep_per_class=[5], sample__train_per_class=50, sample__test_per_class=74)
    )
    assert p.sample.test_counts == (74,) * 10


def test_the_sweep_names_the_digit_with_the_least_room_left():
    # digit 3 (183 images) keeps 80 for test: 103 left, fewer than digit 8's 174 - 20 = 154
    with pytest.raises(
        ParamsError,
        match=r"benchmark\.sweep_per_class\[0\] = 120 leaves no room for the 80 test images of "
        r"digit 3 \(183 images\); valid: counts in \[1, 103\]$",
    ):
        params.parse(with_(benchmark__sweep_per_class=[120], sample__test_counts={3: 80}))


def test_an_over_full_digit_names_the_test_override_and_the_smallest_digit():
    with pytest.raises(
        ParamsError,
        match=r"^sample\.train_per_class \+ sample\.test_counts\.8 = 100 \+ 100 = 200 exceeds the 174 "
        r"images of digit 8; valid: train \+ test <= 174 for digit 8 \(over the limit: digits 8; "
        r"digit 8 has the fewest, 174\)$",
    ):
        params.parse(with_(sample__test_counts={8: 100}))


def test_one_test_image_is_enough_and_none_is_refused():
    one = params.parse(with_(sample__test_per_class=0, sample__test_counts={4: 1}))
    assert sum(one.sample.test_counts) == 1
    with pytest.raises(
        ParamsError,
        match=r"^sample: train and test must each hold at least one image; all counts are 0$",
    ):
        params.parse(with_(sample__test_per_class=0))


def test_a_yaml_error_gives_its_context_only_when_it_has_one(tmp_path):
    # "mapping values are not allowed here" comes without a context; a flow sequence left open
    # comes with one (tested above)
    with pytest.raises(ParamsError) as err:
        params.load(write(tmp_path, "seed: a: b\n"))
    assert str(err.value).endswith("line 1, column 8: mapping values are not allowed here")
    # a control character is a YAMLError without a line mark: its message, on one line
    with pytest.raises(
        ParamsError,
        match=r"params\.yaml is not valid YAML: unacceptable character #x0007: special characters "
        r"are not allowed in \"<unicode string>\", position 6$",
    ):
        params.load(write(tmp_path, "seed: \x07\n"))


SAMPLE_KEYS = "train_per_class, test_per_class, train_counts, test_counts"
BENCHMARK_KEYS = (
    "seeds, hidden_units, learning_rate, batch_size, epochs, min_accuracy, sweep_per_class, "
    "reference_hidden_units, reference_max_epochs"
)


def test_a_block_names_every_key_it_takes_when_it_is_wrong():
    with pytest.raises(
        ParamsError, match=rf"^sample must be a mapping with keys {SAMPLE_KEYS}, got None$"
    ):
        params.parse(with_(sample=None))
    raw = with_()
    # nothing close: no suggestion
    raw["sample"]["zzz"] = 1
    with pytest.raises(
        ParamsError, match=rf"^unknown key sample\.zzz; valid keys here: {SAMPLE_KEYS}$"
    ):
        params.parse(raw)
    raw = with_()
    del raw["benchmark"]["epochs"]
    with pytest.raises(
        ParamsError, match=rf"^missing key benchmark\.epochs; benchmark needs {BENCHMARK_KEYS}$"
    ):
        params.parse(raw)
    raw = with_()
    del raw["sample"]
    with pytest.raises(
        ParamsError, match=r"^missing key sample; params\.yaml needs seed, sample, benchmark$"
    ):
        params.parse(raw)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "0.5", None])
def test_a_number_that_is_not_a_finite_number_is_refused(value):
    with pytest.raises(
        ParamsError,
        match=rf"^benchmark\.min_accuracy must be a number in \[0\.0, 1\.0\], got {re.escape(repr(value))}$",
    ):
        params.parse(with_(benchmark__min_accuracy=value))


def test_the_params_stage_prints_the_seed_and_every_count(tmp_path, monkeypatch, capsys):
    """`python -m pipeline params`, dvc.yaml's first stage: what a maintainer reads in dvc repro's log."""
    raw = with_(seed=7, sample__train_per_class=150, sample__train_counts={3: 75})
    (tmp_path / PARAMS_FILE).write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    params.main()
    assert capsys.readouterr().out == (
        "seed=7 train=[150, 150, 150, 75, 150, 150, 150, 150, 150, 150] (1,425) "
        "test=[20, 20, 20, 20, 20, 20, 20, 20, 20, 20] (200)\n"
    )
