"""pipeline.loader.reader: loading the published files, damaged files, and validation of the arrays.

Every bad file here is built in memory; none of them may load silently. Restricted unpickling,
malicious pickles and NumPy 1.x/2 pickle compatibility are in test_loader_pickles.py; the digest
check and Git LFS pointers (pipeline.loader.integrity) are in test_integrity.py.
"""

from __future__ import annotations

import io
import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pipeline import load
from pipeline.core.errors import (
    CorruptFileError,
    DatasetError,
    DatasetFormatError,
    DatasetNotFoundError,
)
from pipeline.core.storage import npz_bytes
from pipeline.loader.reader import find_dataset, main, parse_npz, unpickle, validate
from tests.helpers import PUBLISHED, ROOT, good_arrays, help_text, lock_text

# ---- the published files -------------------------------------------------------------------


@pytest.mark.parametrize("split, n", [("train", 1000), ("test", 200)])
def test_published_split_loads_verified_from_both_formats(project, split, n):
    images, labels = load(split, project, verify=True)
    assert images.shape == (n, 8, 8) and images.dtype == np.float32
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert 0 <= images.min() and images.max() <= 1
    twin_images, twin_labels = load(split, project, format="npz", verify=True)
    assert np.array_equal(images, twin_images) and np.array_equal(labels, twin_labels)


def test_default_root_is_the_repository_dataset(monkeypatch):
    monkeypatch.chdir(ROOT)
    images, labels = load("test")
    assert images.shape == (200, 8, 8) and np.bincount(labels).tolist() == [20] * 10


def test_from_a_subfolder_the_default_is_the_checkouts_dataset(project, monkeypatch, caplog):
    """A script or notebook two folders down loads the files of the checkout it is in, verified."""
    # project: <tmp>/project/datasets/tinydigits, with the project's dvc.lock
    below = project.parents[1] / "notebooks" / "week 1"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert find_dataset() == Path("../../datasets/tinydigits")
    images, labels = load("train", verify=True)
    assert images.shape == (1000, 8, 8) and np.bincount(labels).tolist() == [100] * 10
    with caplog.at_level(logging.INFO, logger="pipeline.loader.reader"):
        main([])
    assert [m.split(";")[0] for m in caplog.messages] == ["train: 1,000 images", "test: 200 images"]


def test_the_nearest_dataset_above_wins(project, monkeypatch):
    """An inner checkout's files, not those of a folder above it."""
    inner = project.parents[1] / "course" / "datasets" / "tinydigits"
    inner.mkdir(parents=True)
    images, labels = good_arrays(10)
    (inner / "test.npz").write_bytes(npz_bytes({"images": images, "labels": labels}))
    monkeypatch.chdir(inner.parents[1])
    assert load("test", format="npz")[0].shape == (10, 8, 8)


def test_a_root_given_from_the_home_folder_is_expanded(project, monkeypatch):
    monkeypatch.setenv("HOME", str(project.parent))
    images, labels = load("test", f"~/{project.name}", verify=True)
    assert images.shape == (200, 8, 8)


def test_a_root_that_is_not_a_folder_of_files_is_one_error(tmp_path, capsys):
    """A file given as the folder, and a folder where a split's file should be: a DatasetError
    naming the path and what was expected, never a traceback from the command."""
    readme = tmp_path / "README.md"
    readme.write_text("not a folder")
    with pytest.raises(DatasetError) as err:
        load("train", readme)
    assert str(err.value) == (
        f"{readme}/train.pkl cannot be read (Not a directory); expected {readme} to be a folder "
        "holding the files train.pkl and train.npz"
    )
    (tmp_path / "data" / "test.npz").mkdir(parents=True)
    with pytest.raises(DatasetError) as err:
        load("test", tmp_path / "data", format="npz")
    assert str(err.value) == (
        f"{tmp_path}/data/test.npz cannot be read (Is a directory); expected {tmp_path}/data to be "
        "a folder holding the files test.pkl and test.npz"
    )


def test_outside_any_checkout_the_default_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError) as err:
        load("train")
    assert str(err.value) == (
        f"no datasets/tinydigits in {tmp_path.resolve()} or any folder above it; run from inside "
        "a TinyDigits checkout, or pass the folder that holds the files (root=...)"
    )


def test_command_line_checks_every_split_and_both_formats(project, caplog):
    with caplog.at_level(logging.INFO, logger="pipeline.loader.reader"):
        main([str(project)])
    assert (
        "train: 1,000 images; train.pkl md5" in caplog.text and "as dvc.lock records" in caplog.text
    )
    assert "test.npz holds the same arrays" in caplog.text


@pytest.mark.parametrize("differ", ["both", "images", "labels"])
def test_command_line_fails_when_the_twins_disagree(project, differ):
    images, labels = load("test", project)
    twin = {
        "images": images[::-1] if differ != "labels" else images,
        "labels": labels[::-1] if differ != "images" else labels,
    }
    (project / "test.npz").write_bytes(npz_bytes(twin))
    # digests fine, content not
    (project.parents[1] / "dvc.lock").write_text(lock_text(project.parents[1]))
    with pytest.raises(DatasetError, match="test.pkl and test.npz .* hold different arrays"):
        main([str(project)])


def test_command_line_takes_one_folder_at_most(project, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["a", "b"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m pipeline load: error: unrecognized arguments: b"
    )


def test_command_line_help_says_what_it_checks_and_where_it_looks():
    assert help_text(main) == (
        "usage: python -m pipeline load [-h] [DIR] Load train and test from the .pkl and the .npz "
        "files, each checked against dvc.lock and validated, and check that both formats hold the "
        "same arrays. positional arguments: DIR the folder holding the files (default: the "
        "datasets/tinydigits of the checkout you are in, found as git finds its repository) "
        "options: -h, --help show this help message and exit"
    )


# ---- damaged files ---------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 1, 2, 11, 200, 5_000, 53_000, 53_043])
def test_truncated_pickle_is_a_corrupt_file(loose, keep):
    path = loose / "test.pkl"
    path.write_bytes(path.read_bytes()[:keep])
    # the parser's own words, named by their kind (EOFError, UnpicklingError, ...)
    with pytest.raises(
        CorruptFileError, match=r"not a readable pickle \([A-Z]\w+: .*\); truncated or"
    ):
        load("test", loose)


@pytest.mark.parametrize("keep", [0, 3, 100, 30_000, -1])
def test_truncated_npz_is_a_corrupt_file(loose, keep):
    path = loose / "test.npz"
    # -1: all but the last byte
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(CorruptFileError, match=r"not an .npz|not a readable .npz \([A-Z]\w+: "):
        load("test", loose, format="npz")


def test_damage_is_named_by_the_parsers_own_error():
    """Called on bytes alone (as fingerprint does), the messages name ``<bytes>``."""
    npz = (PUBLISHED / "test.npz").read_bytes()
    pkl = (PUBLISHED / "test.pkl").read_bytes()
    for parse, data, want in (
        (parse_npz, npz[:100], "not a readable .npz (BadZipFile: File is not a zip file)"),
        (unpickle, b"", "not a readable pickle (EOFError: Ran out of input)"),
        (unpickle, pkl[:11], "not a readable pickle (UnpicklingError: pickle data was truncated)"),
    ):
        with pytest.raises(CorruptFileError) as err:
            parse(data)
        assert str(err.value) == f"<bytes> is {want}; truncated or damaged?"


def test_a_damaged_array_inside_a_whole_npz_is_a_corrupt_file(loose):
    """The archive opens, but an array's header is not one: NumPy's ValueError, named as damage."""
    path = loose / "test.npz"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("images.npy", b"\x93NUMPY\x01\x00" + (10).to_bytes(2, "little") + b"not a dict")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CorruptFileError) as err:
        load("test", loose, format="npz")
    assert str(err.value) == (
        f"{path} is not a readable .npz (Cannot parse header: 'not a dict'); truncated or damaged?"
    )


def test_trailing_bytes_after_the_pickle_are_refused(loose):
    path = loose / "test.pkl"
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(CorruptFileError, match="4 unexpected bytes after the pickle"):
        load("test", loose)


def test_a_pickle_posing_as_npz_is_refused(loose):
    (loose / "train.npz").write_bytes((loose / "train.pkl").read_bytes())
    with pytest.raises(CorruptFileError, match="not an .npz"):
        load("train", loose, format="npz")


def test_missing_file_and_unknown_split_or_format(loose):
    (loose / "test.pkl").unlink()
    with pytest.raises(DatasetNotFoundError, match="test.pkl not found"):
        load("test", loose)
    with pytest.raises(DatasetError, match="unknown split 'valid'; valid splits: train, test"):
        load("valid", loose)
    with pytest.raises(DatasetError) as err:
        load("train", loose, format="csv")
    assert str(err.value) == "unknown format 'csv'; valid formats: pkl, npz"


# ---- wrong contents --------------------------------------------------------------------------


def bad_records():
    images, labels = good_arrays()
    nan = images.copy()
    nan[3, 1, 1] = np.nan
    return {
        "object images": (
            {"images": images.astype(object), "labels": labels},
            "images must be float32, got dtype object",
        ),
        "object labels": (
            {"images": images, "labels": labels.astype(object)},
            "labels must be int64, got dtype object",
        ),
        "float64": ({"images": images.astype(np.float64), "labels": labels}, "got dtype float64"),
        "int32 labels": (
            {"images": images, "labels": labels.astype(np.int32)},
            "labels must be int64",
        ),
        "flat images": (
            {"images": images.reshape(10, 64), "labels": labels},
            r"shape \(N, 8, 8\) .* got \(10, 64\)",
        ),
        "8x9 images": (
            {"images": np.zeros((10, 8, 9), np.float32), "labels": labels},
            r"shape \(N, 8, 8\) .* got \(10, 8, 9\)",
        ),
        "empty": ({"images": images[:0], "labels": labels[:0]}, r"N >= 1, got \(0, 8, 8\)"),
        "short labels": (
            {"images": images, "labels": labels[:9]},
            r"shape \(10,\) to match images, got \(9,\)",
        ),
        "pixel > 1": ({"images": images * 2, "labels": labels}, r"must lie in \[0, 1\]"),
        "NaN pixel": ({"images": nan, "labels": labels}, r"images \[3\] \(1 in all\)"),
        "label 10": (
            {"images": images, "labels": labels + 1},
            r"digits 0..9; positions \[9\] hold \[10\]",
        ),
        "extra key": (
            {"images": images, "labels": labels, "note": "hi"},
            r"exactly 'images' and 'labels', got \['images', 'labels', 'note'\]",
        ),
        "a list": ([images, labels], "got list"),
        "a number": ({"images": 0.5, "labels": labels}, "images must be a numpy array, got float"),
    }


@pytest.mark.parametrize("key", ["images", "labels"])
def test_many_bad_values_name_the_first_five_and_count_them_all(key):
    # 30 rows
    images, labels = (np.concatenate([a] * 3) for a in good_arrays())
    bad = [2, 3, 5, 8, 13, 21, 29]
    if key == "images":
        images[bad, 4, 4] = 1.5
        want = "<data>: pixel values must lie in [0, 1]; images [2, 3, 5, 8, 13] (7 in all) do not"
    else:
        labels[bad] = -np.arange(1, 8)
        want = "<data>: labels must be digits 0..9; positions [2, 3, 5, 8, 13] hold [-1, -2, -3, -4, -5]"
    with pytest.raises(DatasetFormatError) as err:
        validate({"images": images, "labels": labels})
    assert str(err.value) == want


@pytest.mark.parametrize("name", list(bad_records()))
def test_wrong_contents_are_a_format_error(loose, name):
    obj, message = bad_records()[name]
    (loose / "train.pkl").write_bytes(pickle.dumps(obj, protocol=4))
    with pytest.raises(DatasetFormatError, match=message):
        load("train", loose)


@pytest.mark.parametrize("key", ["images", "labels"])
def test_an_array_subclass_is_refused_by_the_format_check_itself(key):
    """validate() is also what fingerprint calls on arrays of any origin: a subclass (here a masked
    array, whose mask a plain ndarray would drop) is not a TinyDigits array."""
    arrays = dict(zip(("images", "labels"), good_arrays(), strict=True))
    arrays[key] = np.ma.masked_array(arrays[key])
    with pytest.raises(DatasetFormatError, match=f"{key} must be a numpy array, got MaskedArray"):
        validate(arrays)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": good_arrays()[0], "labels": good_arrays()[1]}, r"got \['labels', 'x'\]"),
        ({"images": good_arrays()[0].astype(">f4"), "labels": good_arrays()[1]}, "got dtype >f4"),
        (
            {"images": good_arrays()[0], "labels": good_arrays()[1].astype(np.uint8)},
            "labels must be int64, got dtype uint8",
        ),
    ],
)
def test_npz_with_wrong_arrays_is_a_format_error(loose, arrays, message):
    (loose / "train.npz").write_bytes(npz_bytes(arrays))
    with pytest.raises(DatasetFormatError, match=message):
        load("train", loose, format="npz")


# ---- every message names its file, and the notes say how each file was checked (found by
# mutation testing: the path could be dropped from any of them and every test passed)


@pytest.mark.parametrize(
    "name, damage",
    [
        # truncated pickle
        ("test.pkl", lambda b: b[:200]),
        # truncated zip
        ("test.npz", lambda b: b[:100]),
        # the wrong arrays
        ("test.pkl", lambda b: pickle.dumps({"images": 1, "labels": 2})),
        ("test.npz", lambda b: npz_bytes({"images": np.zeros((2, 8, 8)), "labels": np.zeros(2)})),
    ],
)
def test_every_refusal_starts_with_the_files_path(loose, name, damage):
    path = loose / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DatasetError) as err:
        load("test", loose, format=name.split(".")[1])
    assert str(err.value).startswith(f"{path}"), str(err.value)


def test_the_command_line_checks_the_published_folder_by_default(monkeypatch, caplog):
    monkeypatch.chdir(ROOT)
    with caplog.at_level(logging.INFO, logger="pipeline.loader.reader"):
        main([])
    assert [m.split(";")[0] for m in caplog.messages] == ["train: 1,000 images", "test: 200 images"]


def test_the_command_line_says_how_each_file_was_checked(project, loose, caplog):
    import hashlib

    with caplog.at_level(logging.INFO, logger="pipeline.loader.reader"):
        main([str(project)])
        main([str(loose)])
    md5 = hashlib.md5((project / "train.pkl").read_bytes()).hexdigest()
    assert (
        f"train: 1,000 images; train.pkl md5 {md5[:12]} as dvc.lock records; "
        "train.npz holds the same arrays"
    ) in caplog.messages
    assert (
        "test: 200 images; test.pkl not verified (no dvc.lock records it); "
        "test.npz holds the same arrays"
    ) in caplog.messages
