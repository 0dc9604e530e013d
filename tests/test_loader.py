"""pipeline.load: digest checked against dvc.lock, restricted unpickling, validated arrays.

Every bad file here is built in memory; none of them may run code or load silently.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import subprocess

import numpy as np
import pytest

from pipeline import load
from pipeline.errors import (
    CorruptFileError, DatasetError, DatasetFormatError, DatasetNotFoundError, DigestError, UnsafePickleError,
)
from pipeline.io import npz_bytes
from pipeline.loader import main, recorded_digest, unpickle
from tests.conftest import ROOT

PUBLISHED = ROOT / "datasets" / "tinydigits"
FILES = [f"{s}.{ext}" for s in ("train", "test") for ext in ("pkl", "npz")]


def lock_text(root, names=FILES) -> str:
    """A dvc.lock in DVC 3's own layout recording ``root/datasets/tinydigits/<name>``."""
    lines = ["schema: '2.0'", "stages:", "  pickle:", "    cmd: python -m pipeline.pickling", "    outs:"]
    for name in names:
        data = (root / "datasets/tinydigits" / name).read_bytes()
        lines += [f"    - path: datasets/tinydigits/{name}", "      hash: md5",
                  f"      md5: {hashlib.md5(data).hexdigest()}", f"      size: {len(data)}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(tmp_path):
    """A project folder with the published files and a dvc.lock recording them; returns the data root."""
    data = tmp_path / "project" / "datasets" / "tinydigits"
    data.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(PUBLISHED / name, data / name)
    (tmp_path / "project" / "dvc.lock").write_text(lock_text(tmp_path / "project"))
    return data


@pytest.fixture
def loose(tmp_path):
    """The published files copied on their own, with no dvc.lock anywhere above them."""
    data = tmp_path / "copied"
    data.mkdir()
    for name in FILES:
        shutil.copyfile(PUBLISHED / name, data / name)
    assert recorded_digest(data / "train.pkl") is None
    return data


def record(images, labels, protocol=4) -> bytes:
    return pickle.dumps({"images": images, "labels": labels}, protocol=protocol)


def good_arrays(n=10):
    images = (np.arange(n * 64, dtype=np.float32).reshape(n, 8, 8) % 17) / np.float32(16)
    return images, np.arange(n, dtype=np.int64) % 10


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


def test_command_line_checks_every_split_and_both_formats(project, caplog):
    with caplog.at_level(logging.INFO, logger="pipeline.loader"):
        main(project)
    assert "train: 1,000 images; train.pkl md5" in caplog.text and "as dvc.lock records" in caplog.text
    assert "test.npz holds the same arrays" in caplog.text


def test_command_line_fails_when_the_twins_disagree(project):
    images, labels = load("test", project)
    (project / "test.npz").write_bytes(npz_bytes({"images": images[::-1], "labels": labels[::-1]}))
    (project.parents[1] / "dvc.lock").write_text(lock_text(project.parents[1]))  # digests fine, content not
    with pytest.raises(DatasetError, match="test.pkl and test.npz .* hold different arrays"):
        main(project)


def test_loads_unverified_without_a_dvc_lock(loose):
    images, labels = load("train", loose)
    assert images.shape == (1000, 8, 8)
    with pytest.raises(DigestError, match="no dvc.lock above .* records it"):
        load("train", loose, verify=True)


def test_a_dvc_lock_without_a_record_for_the_file_is_not_a_verification(project):
    (project.parents[1] / "dvc.lock").write_text(lock_text(project.parents[1], ["train.pkl"]))
    assert load("test", project)[0].shape == (200, 8, 8)
    with pytest.raises(DigestError, match="records it"):
        load("test", project, verify=True)


# ---- digests -------------------------------------------------------------------------------

def flip_first_zero_pixel(data: bytes) -> bytes:
    """Same length, still a valid pickle: one 0.0 pixel becomes 0.0625."""
    at = data.index(np.float32(0).tobytes() * 4)
    return data[:at] + np.float32(0.0625).tobytes() + data[at + 4 :]


def test_changed_pixel_fails_the_digest_check_before_parsing(project):
    path = project / "train.pkl"
    path.write_bytes(flip_first_zero_pixel(path.read_bytes()))
    with pytest.raises(DigestError, match=r"train.pkl has md5 \w+ \(264,255 bytes\) but .*dvc.lock records md5 6c43ff"):
        load("train", project)
    assert load("train", project, verify=False)[0].shape == (1000, 8, 8)  # it was the digest, not the format


def test_appended_bytes_fail_the_digest_check(project):
    size = (project / "test.npz").stat().st_size
    with open(project / "test.npz", "ab") as f:
        f.write(b"\0")
    with pytest.raises(DigestError, match=rf"{size + 1:,} bytes\) but .* \({size:,} bytes\)"):
        load("test", project, format="npz")


def test_unreadable_dvc_lock_is_reported(project):
    (project.parents[1] / "dvc.lock").write_text("stages: [unclosed\n")
    with pytest.raises(DigestError, match="not a readable dvc.lock"):
        load("train", project)


# ---- malicious pickles: refused, never run ---------------------------------------------------

class Exploit:
    """Unpickling this would call ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def exploits(marker):
    command = f"touch {marker}"
    return {
        "os.system": Exploit(os.system, command),
        "subprocess.call": Exploit(subprocess.call, ["touch", str(marker)]),
        "builtins.exec": Exploit(exec, f"open({str(marker)!r}, 'w').close()"),
        "in an object array": {"images": np.array([Exploit(os.system, command)], dtype=object), "labels": np.zeros(1)},
        "as the labels": {"images": np.zeros((1, 8, 8), np.float32), "labels": Exploit(os.system, command)},
        "numpy.load": Exploit(np.load, str(marker)),
    }


@pytest.mark.parametrize("name", list(exploits("x")))
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_malicious_pickle_is_refused_and_runs_nothing(loose, tmp_path, name, protocol):
    marker = tmp_path / "pwned"
    (loose / "train.pkl").write_bytes(pickle.dumps(exploits(marker)[name], protocol=protocol))
    with pytest.raises(UnsafePickleError, match="refused without calling it"):
        load("train", loose)
    assert not marker.exists()


def test_the_exploit_is_real(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(exploits(marker)["os.system"], protocol=4))  # the plain unpickler runs it
    assert marker.exists()


def test_numpy_array_subclasses_are_refused(loose):
    images, labels = good_arrays()
    (loose / "train.pkl").write_bytes(record(np.ma.masked_array(images), labels))
    with pytest.raises(UnsafePickleError, match=r"references numpy\.ma\.core\._mareconstruct"):
        load("train", loose)


def test_malicious_pickle_in_a_project_fails_the_digest_first(project, tmp_path):
    marker = tmp_path / "pwned"
    (project / "train.pkl").write_bytes(pickle.dumps(Exploit(os.system, f"touch {marker}"), protocol=4))
    with pytest.raises(DigestError):
        load("train", project)
    with pytest.raises(UnsafePickleError):
        load("train", project, verify=False)
    assert not marker.exists()


def test_persistent_ids_are_refused():
    data = b"\x80\x04P0\n."  # PERSID '0', STOP
    with pytest.raises(UnsafePickleError, match="persistent id"):
        unpickle(data)


# ---- damaged files ---------------------------------------------------------------------------

@pytest.mark.parametrize("keep", [0, 1, 2, 11, 200, 5_000, 53_000, 53_043])
def test_truncated_pickle_is_a_corrupt_file(loose, keep):
    path = loose / "test.pkl"
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(CorruptFileError, match="not a readable pickle .*truncated or damaged"):
        load("test", loose)


@pytest.mark.parametrize("keep", [0, 3, 100, 30_000, -1])
def test_truncated_npz_is_a_corrupt_file(loose, keep):
    path = loose / "test.npz"
    path.write_bytes(path.read_bytes()[:keep])  # -1: all but the last byte
    with pytest.raises(CorruptFileError):
        load("test", loose, format="npz")


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
    with pytest.raises(DatasetError, match="unknown format 'csv'"):
        load("train", loose, format="csv")


# ---- wrong contents --------------------------------------------------------------------------

def test_numpy_1_pickles_load():
    images, labels = good_arrays()
    data = record(images, labels, protocol=3)  # protocol 3 names globals as text lines
    assert b"numpy._core.multiarray\n_reconstruct" in data
    data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    got = unpickle(data)
    assert np.array_equal(got["images"], images) and np.array_equal(got["labels"], labels)


def bad_records():
    images, labels = good_arrays()
    nan = images.copy()
    nan[3, 1, 1] = np.nan
    return {
        "object images": ({"images": images.astype(object), "labels": labels}, "images must be float32, got dtype object"),
        "object labels": ({"images": images, "labels": labels.astype(object)}, "labels must be int64, got dtype object"),
        "float64": ({"images": images.astype(np.float64), "labels": labels}, "got dtype float64"),
        "int32 labels": ({"images": images, "labels": labels.astype(np.int32)}, "labels must be int64"),
        "flat images": ({"images": images.reshape(10, 64), "labels": labels}, r"shape \(N, 8, 8\) .* got \(10, 64\)"),
        "empty": ({"images": images[:0], "labels": labels[:0]}, r"N >= 1, got \(0, 8, 8\)"),
        "short labels": ({"images": images, "labels": labels[:9]}, r"shape \(10,\) to match images, got \(9,\)"),
        "pixel > 1": ({"images": images * 2, "labels": labels}, r"must lie in \[0, 1\]"),
        "NaN pixel": ({"images": nan, "labels": labels}, r"images \[3\] \(1 in all\)"),
        "label 10": ({"images": images, "labels": labels + 1}, r"digits 0..9; positions \[9\] hold \[10\]"),
        "extra key": ({"images": images, "labels": labels, "note": "hi"}, r"exactly 'images' and 'labels', got \['images', 'labels', 'note'\]"),
        "a list": ([images, labels], "got list"),
        "a number": ({"images": 0.5, "labels": labels}, "images must be a numpy array, got float"),
    }


@pytest.mark.parametrize("name", list(bad_records()))
def test_wrong_contents_are_a_format_error(loose, name):
    obj, message = bad_records()[name]
    (loose / "train.pkl").write_bytes(pickle.dumps(obj, protocol=4))
    with pytest.raises(DatasetFormatError, match=message):
        load("train", loose)


def test_object_array_in_npz_is_refused_without_unpickling(loose, tmp_path):
    marker = tmp_path / "pwned"
    images, labels = good_arrays()
    evil = np.array([Exploit(os.system, f"touch {marker}")], dtype=object)
    np.savez(loose / "train.npz", images=evil, labels=labels)  # savez pickles object arrays
    with pytest.raises(DatasetFormatError, match="holds an object array; refused"):
        load("train", loose, format="npz")
    assert not marker.exists()


@pytest.mark.parametrize("arrays, message", [
    ({"x": good_arrays()[0], "labels": good_arrays()[1]}, r"got \['labels', 'x'\]"),
    ({"images": good_arrays()[0].astype(">f4"), "labels": good_arrays()[1]}, "got dtype >f4"),
    ({"images": good_arrays()[0], "labels": good_arrays()[1].astype(np.uint8)}, "labels must be int64, got dtype uint8"),
])
def test_npz_with_wrong_arrays_is_a_format_error(loose, arrays, message):
    (loose / "train.npz").write_bytes(npz_bytes(arrays))
    with pytest.raises(DatasetFormatError, match=message):
        load("train", loose, format="npz")
