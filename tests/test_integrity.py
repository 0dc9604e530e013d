"""pipeline.loader.integrity: the dvc.lock digest check and Git LFS pointers, as pipeline.load meets them."""

import hashlib
import logging
import pickle
import shutil
import sys

import numpy as np
import pytest

from pipeline import load
from pipeline.core.errors import DatasetError, DigestError, LfsPointerError
from pipeline.loader.integrity import check_digest, parse_pointer, recorded_digest
from tests.helpers import FILES, PUBLISHED, lock_text

# ---- no dvc.lock, or no record in it -------------------------------------------------------


def test_loads_unverified_without_a_dvc_lock(loose):
    images, labels = load("train", loose)
    assert images.shape == (1000, 8, 8)
    with pytest.raises(DigestError, match="no dvc.lock above .* records it"):
        load("train", loose, verify=True)


def test_the_note_says_how_a_file_was_checked_or_why_not(loose, project, caplog):
    data = (loose / "test.pkl").read_bytes()
    assert check_digest(loose / "test.pkl", data, False) == "not verified (verify=False)"
    with caplog.at_level(logging.DEBUG, logger="pipeline.loader.integrity"):
        assert (
            check_digest(loose / "test.pkl", data, None) == "not verified (no dvc.lock records it)"
        )
    assert caplog.messages == [f"{loose / 'test.pkl'}: no dvc.lock records it; loading unverified"]
    md5 = hashlib.md5(data).hexdigest()
    assert check_digest(project / "test.pkl", data, None) == f"md5 {md5[:12]} as dvc.lock records"


def test_a_dvc_lock_with_no_stages_records_nothing(project):
    (project.parents[1] / "dvc.lock").write_text("schema: '2.0'\n")
    assert recorded_digest(project / "test.pkl") is None
    assert load("test", project)[0].shape == (200, 8, 8)


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
    with pytest.raises(
        DigestError,
        match=r"train.pkl has md5 \w+ \(264,255 bytes\) but .*dvc.lock records md5 6c43ff",
    ):
        load("train", project)
    # it was the digest, not the format
    assert load("train", project, verify=False)[0].shape == (
        1000,
        8,
        8,
    )


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


# ---- a clone without Git LFS ----------------------------------------------------------------


def lfs_pointer(data: bytes) -> bytes:
    """The pointer file Git LFS stores for ``data``, byte for byte as its spec lays it out."""
    return (
        b"version https://git-lfs.github.com/spec/v1\n"
        + f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n".encode()
    )


@pytest.mark.parametrize(
    "fmt, fix",
    [
        (
            "pkl",
            r"Fix: `git lfs install && git lfs pull` in the clone, "
            r"or load the .npz instead \(load\('train', format=\"npz\"\)\)",
        ),
        ("npz", r"Fix: `git lfs install && git lfs pull` in the clone or download the real file$"),
    ],
)
def test_a_git_lfs_pointer_is_named_with_its_size_oid_and_fix(project, fmt, fix):
    path = project / f"train.{fmt}"
    real = path.read_bytes()
    # what a clone without Git LFS checks out
    path.write_bytes(lfs_pointer(real))
    sha = hashlib.sha256(real).hexdigest()
    with pytest.raises(
        LfsPointerError,
        match=rf"train.{fmt} is a Git LFS pointer, not the data: 1\d\d bytes of text "
        rf"standing for a {len(real):,}-byte file \(oid sha256:{sha}\); this copy was made without Git LFS",
    ):
        load("train", project) if fmt == "pkl" else load("train", project, format="npz")
    # recognised before (and without) the digest check
    with pytest.raises(LfsPointerError, match=fix):
        load("train", project, format=fmt, verify=False)
    with pytest.raises(pickle.UnpicklingError, match="invalid load key, 'v'"):
        # what plain pickle says instead
        pickle.loads(path.read_bytes())


def test_a_pointer_that_names_no_size_or_oid_says_so(loose):
    path = loose / "train.npz"
    path.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(LfsPointerError) as err:
        load("train", loose, format="npz")
    assert str(err.value).startswith(
        f"{path} is a Git LFS pointer, not the data: 43 bytes of text standing for the real file "
        "(oid not given); this copy was made without Git LFS. "
    )


def test_only_a_real_pointer_counts_as_one():
    pointer = parse_pointer(lfs_pointer(b"x" * 10))
    assert pointer.size == 10 and pointer.oid == "sha256:" + hashlib.sha256(b"x" * 10).hexdigest()
    assert parse_pointer((PUBLISHED / "test.pkl").read_bytes()) is None
    assert parse_pointer(b"version 1\n") is None
    # pointers are under 1,024 bytes
    assert parse_pointer(lfs_pointer(b"") + b"#" * 1024) is None
    short = lfs_pointer(b"")
    # 1,023 bytes: one
    assert parse_pointer(short + b"#" * (1023 - len(short))).size == 0
    assert parse_pointer(short + b"#" * (1024 - len(short))) is None
    assert parse_pointer(b"version https://git-lfs.github.com/spec/v1\n").size is None


@pytest.mark.parametrize("marker", [".git", ".dvc"])
def test_the_search_for_dvc_lock_stops_at_a_repository_without_one(tmp_path, marker):
    """A copy inside another project's tree (its own .git or .dvc, no dvc.lock) is not checked
    against the outer project's dvc.lock, even one that records a file at the same path."""
    inner = tmp_path / "outer" / "inner"
    data = inner / "datasets" / "tinydigits"
    data.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(PUBLISHED / name, data / name)
    (tmp_path / "outer" / "dvc.lock").write_text(
        lock_text(inner).replace("path: datasets/", "path: inner/datasets/")
    )
    assert recorded_digest(data / "test.pkl")[2] == tmp_path / "outer" / "dvc.lock"
    (inner / marker).mkdir()
    assert recorded_digest(data / "test.pkl") is None


def test_verifying_without_pyyaml_names_what_to_do(project, monkeypatch):
    """The loader needs only NumPy; reading dvc.lock takes PyYAML, and its absence is one message."""
    # `import yaml` raises ImportError
    monkeypatch.setitem(sys.modules, "yaml", None)
    lock = project.parents[1] / "dvc.lock"
    with pytest.raises(DatasetError) as err:
        load("train", project, verify=True)
    assert str(err.value) == (
        f"{lock} records digests but PyYAML is not installed to read it; "
        "install pyyaml, or pass verify=False to load unverified"
    )
    images, _ = load("train", project, verify=False)
    assert len(images) == 1000
