"""pipeline/release/record.py: the release record's 1.0.0 entry, the bump rule, the card's note (all in memory),
and the date a release records (from a throwaway git commit)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from pipeline.core import config, params
from pipeline.core.errors import ReleaseError
from pipeline.release import record
from pipeline.release.cut import next_version
from tests.helpers import ENTRIES, ROOT, V1, V1_ENTRY, run

DEFAULTS = params.load(ROOT / config.PARAMS_FILE)
# the record as it stood with 1.0.0 alone: what the v1 files are
V1_ONLY = ENTRIES[:1]


def test_release_1_0_0_records_the_published_v1_files():
    assert (
        V1_ENTRY["version"] == "1.0.0"
        and V1_ENTRY["tag"] == "tinydigits@v1.0.0"
        and V1_ENTRY["bump"] is None
    )
    assert {n: f["sha256"] for n, f in V1_ENTRY["files"].items() if n.endswith(".pkl")} == {
        f"{k}.pkl": v for k, v in V1.items()
    }
    assert (
        V1_ENTRY["files"]["train.pkl"]["bytes"] == 264_255
        and V1_ENTRY["files"]["test.pkl"]["bytes"] == 53_044
    )
    assert (
        V1_ENTRY["splits"]["train"]["per_digit"] == [100] * 10
        and V1_ENTRY["splits"]["test"]["per_digit"] == [20] * 10
    )
    assert V1_ENTRY["params"]["seed"] == 42 and V1_ENTRY["test_accuracy"] == 0.7985


@pytest.mark.parametrize("text", ["2.0", "v2.0.0", "2.0.0-rc1", "02.0.0", ""])
def test_a_version_must_be_major_minor_patch(text):
    with pytest.raises(ReleaseError, match="VERSION must be a semantic version MAJOR.MINOR.PATCH"):
        record.parse_version(text)


def test_bump_level_is_the_first_part_that_grew():
    assert record.bump_level("1.0.0", "2.0.0") == "MAJOR"
    assert record.bump_level("1.2.3", "1.3.0") == "MINOR"
    assert record.bump_level("1.2.3", "1.2.10") == "PATCH"
    assert (
        record.bump_level("1.2.3", "1.2.3") is None and record.bump_level("1.2.3", "1.1.9") is None
    )


def changed(**edits):
    """A copy of the 1.0.0 entry's measured facts with ``edits`` applied as (path tuple, value)."""
    now = copy.deepcopy({"files": V1_ENTRY["files"], "splits": V1_ENTRY["splits"]})
    for keys, value in edits.values():
        target = now
        for k in keys[:-1]:
            target = target[k]
        if value is None:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return now


def test_bump_rule():
    same = changed()
    assert record.required_bump(V1_ENTRY, same) == (
        "PATCH",
        ["every published file is byte-identical (card, metadata or code changed)"],
    )
    new_file = changed(
        a=(("files", "train.parquet"), {"bytes": 1, "sha256": "0" * 64}),
        b=(("files", "test.parquet"), {"bytes": 1, "sha256": "1" * 64}),
    )
    assert record.required_bump(V1_ENTRY, new_file) == (
        "MINOR",
        ["new file(s) test.parquet, train.parquet beside unchanged ones"],
    )
    # the same number of images, but other ones (or other labels)
    swapped = changed(
        a=(("splits", "test", "content_sha256"), "e" * 64),
        c=(("files", "test.pkl", "sha256"), "3" * 64),
    )
    assert record.required_bump(V1_ENTRY, swapped) == (
        "MAJOR",
        [
            "test: images or labels changed (still 200 images, but not the same ones or not the same labels)"
        ],
    )
    fewer = changed(
        a=(("splits", "train", "content_sha256"), "f" * 64),
        b=(("splits", "train", "images"), 900),
        c=(("files", "train.pkl", "sha256"), "1" * 64),
    )
    level, reasons = record.required_bump(V1_ENTRY, fewer)
    assert level == "MAJOR" and reasons == ["train: images or labels changed (1,000 -> 900 images)"]
    reordered = changed(a=(("files", "test.npz", "sha256"), "2" * 64))
    level, reasons = record.required_bump(V1_ENTRY, reordered)
    assert level == "MAJOR" and reasons == [
        "test.npz: same images and labels but other bytes (order or encoding), so its pinned sha256 breaks"
    ]
    dropped = changed(a=(("files", "test.pkl"), None))
    assert record.required_bump(V1_ENTRY, dropped) == (
        "MAJOR",
        ["test.pkl is no longer published"],
    )


def v1_files():
    return {
        p.name: p.read_bytes()
        for s in config.SPLITS
        for p in (ROOT / config.pickle_path(s), ROOT / config.npz_path(s))
    }


def test_card_note_names_the_release_the_files_are():
    note = record.card_note(V1_ONLY, DEFAULTS, v1_files())
    assert note.startswith("This card describes **TinyDigits 1.0.0** (git tag `tinydigits@v1.0.0`")


def test_card_note_says_how_an_unreleased_variant_differs():
    ninety = dataclasses.replace(
        DEFAULTS, sample=dataclasses.replace(DEFAULTS.sample, train_counts=(90,) * 10)
    )
    files = {**v1_files(), "train.pkl": b"other"}
    note = record.card_note(V1_ONLY, ninety, files)
    assert "**unreleased variant**" in note and "`sample.train_per_class: 100 -> 90`" in note
    same_params = record.card_note(V1_ONLY, DEFAULTS, files)
    assert "unreleased variant" in same_params and ": other bytes in train.pkl." in same_params
    assert "No TinyDigits release is recorded yet" in record.card_note([], DEFAULTS, files)


def test_new_files_beside_a_release_are_named_and_not_claimed_as_that_release():
    files = {**v1_files(), "train.parquet": b"new"}
    note = record.card_note(V1_ONLY, DEFAULTS, files)
    assert "unreleased variant" in note and "files not in that release: train.parquet" in note
    assert record.version_of(V1_ONLY, DEFAULTS, files) == "1.0.0+unreleased"
    assert record.version_of(V1_ONLY, DEFAULTS, v1_files()) == "1.0.0"
    assert record.version_of([], DEFAULTS, v1_files()) == "0.0.0+unreleased"


def test_a_damaged_record_is_one_clear_error(tmp_path):
    bad = tmp_path / "releases.json"
    bad.write_text('{"releases": [{"version": "one"}]}')
    with pytest.raises(ReleaseError, match="is not a valid release record"):
        record.load(path=bad)
    assert record.load(path=Path(tmp_path / "absent.json")) == []


def later_entries():
    """The record, then a PATCH release 1.0.1 of the same files and params, then 2.0.0 of other files."""
    patch = {**copy.deepcopy(V1_ENTRY), "version": "1.0.1", "tag": "tinydigits@v1.0.1"}
    major = {**copy.deepcopy(V1_ENTRY), "version": "2.0.0", "tag": "tinydigits@v2.0.0"}
    major["files"]["train.pkl"] = {"bytes": 5, "sha256": "0" * 64}
    return [*ENTRIES, patch, major]


def test_the_newest_release_with_these_files_and_params_is_the_one_described():
    entries = later_entries()
    assert record.version_of(entries, DEFAULTS, v1_files()) == "1.0.1"
    note = record.card_note(entries, DEFAULTS, v1_files())
    assert note == (
        "This card describes **TinyDigits 1.0.1** (git tag `tinydigits@v1.0.1`; see "
        "[CHANGELOG.md](CHANGELOG.md); the latest release is 2.0.0)."
    )


def test_the_same_files_under_other_params_are_not_that_release():
    seven = dataclasses.replace(DEFAULTS, seed=7)
    assert record.version_of(V1_ONLY, seven, v1_files()) == "1.0.0+unreleased"
    assert "`seed: 42 -> 7`" in record.card_note(V1_ONLY, seven, v1_files())


def test_a_missing_file_is_named_in_the_card_note():
    files = {n: blob for n, blob in v1_files().items() if n != "test.npz"}
    note = record.card_note(V1_ONLY, DEFAULTS, files)
    assert "unreleased variant" in note and "files missing: test.npz" in note


def test_the_card_notes_word_for_word():
    """What the card's reader sees: every way a variant differs from the last release, each list
    in name order; the release the files are; no release at all."""
    counts = list(DEFAULTS.sample.train_counts)
    counts[3], counts[8] = 40, 50
    variant = dataclasses.replace(
        DEFAULTS, seed=7, sample=dataclasses.replace(DEFAULTS.sample, train_counts=tuple(counts))
    )
    files = {n: b for n, b in v1_files().items() if n.endswith(".pkl")}
    files.update({"train.pkl": b"a", "test.pkl": b"b", "y.parquet": b"c", "x.parquet": b"d"})
    assert record.card_note(V1_ONLY, variant, files) == (
        "This is an **unreleased variant** of TinyDigits, not a release: it differs from the last "
        "release, 1.0.0 (`tinydigits@v1.0.0`): its params differ: `sample.train_counts: {} -> "
        "{3: 40, 8: 50}`; `seed: 42 -> 7`; other bytes in test.pkl, train.pkl; files not in that "
        "release: x.parquet, y.parquet; files missing: test.npz, train.npz."
    )
    # one difference alone: nothing is said of the others
    assert record.card_note(V1_ONLY, DEFAULTS, {**v1_files(), "x.parquet": b"d"}) == (
        "This is an **unreleased variant** of TinyDigits, not a release: it differs from the last "
        "release, 1.0.0 (`tinydigits@v1.0.0`): files not in that release: x.parquet."
    )
    assert record.card_note(V1_ONLY, DEFAULTS, v1_files()) == (
        "This card describes **TinyDigits 1.0.0** (git tag `tinydigits@v1.0.0`; see "
        "[CHANGELOG.md](CHANGELOG.md))."
    )
    assert record.card_note([], DEFAULTS, v1_files()) == (
        "No TinyDigits release is recorded yet (`datasets/tinydigits/releases.json`)."
    )


def test_a_damaged_record_names_the_file_the_error_kind_and_what_is_wrong(tmp_path):
    bad = tmp_path / "releases.json"
    bad.write_text('{"releases": [{"version": "one"}]}')
    with pytest.raises(ReleaseError) as raised:
        record.load(path=bad)
    assert str(raised.value) == (
        f"{bad} is not a valid release record (ReleaseError: VERSION must be a semantic version "
        "MAJOR.MINOR.PATCH such as 2.0.0, got 'one')"
    )


def test_the_record_is_written_in_one_key_order_whatever_the_entries_order():
    """So that a release's diff of record.json shows only the new entry."""
    reordered = [dict(reversed(list(e.items()))) for e in ENTRIES]
    assert record.record_bytes(reordered) == (ROOT / record.RECORD_FILE).read_bytes()


def test_a_release_is_dated_by_heads_commit_in_utc_not_by_the_clock(tmp_path, monkeypatch):
    import time

    from pipeline.release import cut

    run(["git", "init", "-q", "-b", "main"], tmp_path)
    # 23:30 in New York is the next day in UTC
    when = {"GIT_COMMITTER_DATE": "2001-02-03T23:30:00-05:00"}
    run(["git", "commit", "-q", "--allow-empty", "-m", "released"], tmp_path, env=when)
    assert cut.release_date(tmp_path) == "2001-02-04"
    # and on a machine whose clock is set to New York too (not only to UTC, as CI's is)
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert cut.release_date(tmp_path) == "2001-02-04"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_param_changes_name_every_changed_key_as_params_yaml_does():
    old = {
        "seed": 42,
        "sample": {"train_counts": [100] * 10, "test_counts": [20] * 10},
        "benchmark": {"seeds": 10, "epochs": 20},
    }
    new = {
        "seed": 42,
        "sample": {"train_counts": [90] * 8 + [50, 90], "test_counts": [20] * 10},
        "benchmark": {"seeds": 5, "epochs": 30, "sweep_per_class": [5, 10]},
    }
    assert record.param_changes(old, new) == [
        "benchmark.epochs: 20 -> 30",
        "benchmark.seeds: 10 -> 5",
        # a param the older release did not have
        "benchmark.sweep_per_class: null -> [5, 10]",
        "sample.train_counts: {} -> {8: 50}",
        "sample.train_per_class: 100 -> 90",
    ]
    assert record.param_changes(new, old)[2] == "benchmark.sweep_per_class: [5, 10] -> null"
    assert record.param_changes(old, old) == []
    # a block that became a value is one change, not a walk into it
    assert record.param_changes({"a": {"x": 1}}, {"a": 2}) == ["a: {x: 1} -> 2"]


@pytest.mark.parametrize(
    "level, expected", [("MAJOR", "2.0.0"), ("MINOR", "1.3.0"), ("PATCH", "1.2.4")]
)
def test_the_version_a_refusal_suggests_resets_the_lower_parts(level, expected):
    assert next_version("1.2.3", level) == expected
