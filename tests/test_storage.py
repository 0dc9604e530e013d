"""pipeline.core.storage: deterministic .npz bytes, atomic writes and their temp files, read_npz."""

import errno
import hashlib
import zipfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from pipeline import algorithm
from pipeline.core import storage
from pipeline.core.errors import PipelineError, WriteError


def test_npz_twin_holds_the_same_arrays_without_pickles(tiny_pixels, tiny_labels, tmp_path):
    images = algorithm.normalize(tiny_pixels)
    storage.write_npz(tmp_path / "t.npz", images=images, labels=tiny_labels)
    with np.load(tmp_path / "t.npz", allow_pickle=False) as z:
        assert np.array_equal(z["images"], images) and np.array_equal(z["labels"], tiny_labels)


def test_npz_bytes_are_deterministic_and_refuse_objects():
    arrays = {"a": np.arange(6).reshape(2, 3)}
    assert storage.npz_bytes(arrays) == storage.npz_bytes(dict(arrays))
    with pytest.raises(ValueError):
        storage.npz_bytes({"a": np.array([{"x": 1}], dtype=object)})


def test_npz_bytes_are_pinned_whatever_the_python_release():
    # zipfile wrote other bytes for the same arrays in CPython 3.11.2 than in 3.11.7; this
    # digest was taken on both, so a change in the layout shows here first, not in dvc.lock
    arrays = {
        "images": np.arange(12, dtype=np.float32).reshape(3, 2, 2),
        "labels": np.arange(3, dtype=np.int64),
    }
    blob = storage.npz_bytes(arrays)
    assert (
        hashlib.sha256(blob).hexdigest()
        == "2d1cdf40f6c583b53dda03a7ded58e7105194bff54add993fb169bdd3bd0019f"
    )
    with zipfile.ZipFile(BytesIO(blob)) as zf:
        # every CRC checks out
        assert zf.testzip() is None
        assert [
            (i.filename, i.date_time, i.compress_type, i.external_attr >> 16) for i in zf.infolist()
        ] == [(f"{n}.npy", (1980, 1, 1, 0, 0, 0), zipfile.ZIP_STORED, 0o100644) for n in arrays]
    with np.load(BytesIO(blob), allow_pickle=False) as z:
        assert all(np.array_equal(z[n], a) and z[n].dtype == a.dtype for n, a in arrays.items())


def test_zip_stored_refuses_what_would_need_zip64(monkeypatch):
    # stands in for 4 GiB
    monkeypatch.setattr(storage, "_ZIP_MAX", 64)
    assert storage.zip_stored([(b"small", b"0" * 10)])
    with pytest.raises(ValueError, match=r"big: 65 bytes at offset 0 needs zip64"):
        storage.zip_stored([(b"big", b"0" * 65)])
    with pytest.raises(
        ValueError, match=r"2 members, 90 bytes: npz_bytes writes archives under 4 GiB"
    ):
        storage.zip_stored([(b"a", b"0" * 14), (b"b", b"0" * 14)])


def test_atomic_write_keeps_the_old_file_when_the_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / "train.pkl"
    target.write_bytes(b"old")

    def boom(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, "replace", boom)
    # one line for the user (a PipelineError), still an OSError for code that catches those
    with pytest.raises(WriteError) as err:
        storage.atomic_write_bytes(target, b"new bytes")
    assert isinstance(err.value, OSError) and str(err.value) == (
        f"cannot write {target}: No space left on device; whatever was there is unchanged"
    )
    assert target.read_bytes() == b"old"
    # no temp file left behind
    assert [p.name for p in tmp_path.iterdir()] == ["train.pkl"]

    # an OSError without an errno's text is quoted as it is
    def odd(src, dst):
        raise OSError("odd")

    monkeypatch.setattr(storage.os, "replace", odd)
    with pytest.raises(WriteError, match=r"^cannot write .*train\.pkl: odd; whatever was there"):
        storage.atomic_write_bytes(target, b"new bytes")


def test_a_temp_file_that_cannot_be_made_is_named_with_the_reason(tmp_path, monkeypatch):
    """No file in the way this time (a full disk): the system's reason, as it says it."""

    def full(**kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.tempfile, "mkstemp", full)
    with pytest.raises(WriteError) as err:
        storage.atomic_write_bytes(tmp_path / "train.pkl", b"new")
    assert str(err.value) == f"cannot write {tmp_path / 'train.pkl'}: No space left on device"


def test_a_folder_in_the_files_place_is_named_and_left_alone(tmp_path):
    target = tmp_path / "reports"
    (target / "plots").mkdir(parents=True)
    with pytest.raises(WriteError) as err:
        storage.atomic_write_bytes(target, b"png")
    assert str(err.value) == (
        f"cannot write {target}: a folder is in its place; whatever was there is unchanged"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]
    assert [p.name for p in target.iterdir()] == ["plots"]


@pytest.mark.parametrize("below", ["x.png", "deeper/x.png"])
def test_a_file_where_a_folder_should_be_is_named(tmp_path, below):
    readme = tmp_path / "README.md"
    readme.write_text("a file")
    target = readme / below
    with pytest.raises(WriteError) as err:
        storage.atomic_write_bytes(target, b"png")
    assert str(err.value) == f"cannot write {target}: {readme} is a file, not a folder"
    assert readme.read_text() == "a file"


def test_atomic_write_replaces_and_creates_folders(tmp_path):
    # two folders that do not exist yet
    target = tmp_path / "deep" / "er" / "x.bin"
    storage.atomic_write_bytes(target, b"1")
    storage.atomic_write_bytes(target, b"22")
    assert target.read_bytes() == b"22"
    assert [p.name for p in target.parent.iterdir()] == ["x.bin"]


def test_a_write_removes_temp_files_that_killed_writers_left_but_not_live_ones(tmp_path):
    import fcntl

    # a killed writer's: nobody holds its lock
    orphan = tmp_path / ".x.bin.k1ll3d.tmp"
    orphan.write_bytes(b"half")
    # a running writer's: locked
    live = tmp_path / ".x.bin.w0rk1n.tmp"
    live.write_bytes(b"busy")
    # another file's: not ours to judge
    other = tmp_path / ".y.bin.k1ll3d.tmp"
    other.write_bytes(b"")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        storage.atomic_write_bytes(tmp_path / "x.bin", b"new")
    assert (tmp_path / "x.bin").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, live.name, "x.bin"])


def test_the_temp_file_sits_beside_its_target_named_for_the_cleaner_and_ends_up_0644(
    tmp_path, monkeypatch
):
    """In the target's folder, so that the replace is one rename on one file system; named
    ``.<name>.*.tmp``, the pattern remove_orphaned_temps looks for; and mode 0644 whatever the
    umask, as the files are published."""
    import fnmatch
    import os

    moves, replace = [], os.replace
    monkeypatch.setattr(
        storage.os, "replace", lambda src, dst: moves.append(src) or replace(src, dst)
    )
    target = tmp_path / "x.bin"
    umask = os.umask(0o077)
    try:
        storage.atomic_write_bytes(target, b"1")
    finally:
        os.umask(umask)
    (tmp,) = map(Path, moves)
    assert tmp.parent == tmp_path
    assert fnmatch.fnmatchcase(tmp.name, ".x.bin.*.tmp"), tmp.name
    assert target.stat().st_mode & 0o777 == 0o644


def test_every_orphan_goes_whatever_order_the_folder_lists_them_in(tmp_path):
    import fcntl
    from contextlib import ExitStack

    names = [f".x.bin.{i}.tmp" for i in range(8)]
    for name in names:
        (tmp_path / name).write_bytes(b"half")
    with ExitStack() as stack:
        # every other one is a live writer's
        for name in names[::2]:
            held = stack.enter_context(open(tmp_path / name, "rb"))
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        storage.remove_orphaned_temps(tmp_path / "x.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[::2])


def test_read_npz_names_missing_files_and_arrays(tmp_path):
    with pytest.raises(PipelineError, match=r"nope\.npz not found; run the stage that writes it"):
        storage.read_npz(tmp_path / "nope.npz", ("a",))
    storage.write_npz(tmp_path / "x.npz", a=np.zeros(2))
    with pytest.raises(PipelineError, match=r"lacks array\(s\) \['b'\]"):
        storage.read_npz(tmp_path / "x.npz", ("a", "b"))


def test_read_npz_parses_bytes_already_read_without_touching_the_path(tmp_path):
    blob = storage.npz_bytes({"a": np.arange(3)})
    got = storage.read_npz(tmp_path / "never-written.npz", ("a",), blob)
    assert got["a"].tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "damage, why",
    [
        # truncated
        (lambda b: b[: len(b) // 2], "BadZipFile"),
        # not a zip: NumPy would take it for a pickle, and refuses to unpickle it
        (lambda b: b"not a zip at all", "ValueError: This file contains pickled (object) data"),
        (None, "ValueError: Object arrays cannot be loaded when allow_pickle=False"),
    ],
)
def test_read_npz_refuses_a_damaged_file_or_pickled_objects_in_one_line(tmp_path, damage, why):
    # an .npz numpy.savez wrote with a pickled object: never unpickled
    if damage is None:
        buf = BytesIO()
        np.savez(buf, images=np.array([{"a": 1}], dtype=object))
        data = buf.getvalue()
    else:
        data = damage(storage.npz_bytes({"images": np.zeros((2, 8, 8), np.float32)}))
    path = tmp_path / "sample.npz"
    path.write_bytes(data)
    with pytest.raises(PipelineError) as err:
        storage.read_npz(path, ("images",))
    assert str(err.value).startswith(f"{path} is not a readable .npz of arrays ({why}")
    assert str(err.value).endswith(
        f"`dvc checkout --force {path}` restores it from the cache, `dvc repro` rebuilds it"
    )


def test_zip_stored_takes_exactly_its_limits(monkeypatch):
    # 64 stands in for 4 GiB; a member's local header is 30 bytes + its name
    monkeypatch.setattr(storage, "_ZIP_MAX", 64)
    # its records end exactly at the limit: fine
    assert storage.zip_stored([(b"a", b"0" * 33)])
    # 64 bytes of data are within the member limit; the records then end at 98, beyond the archive's
    with pytest.raises(ValueError, match=r"^1 members, 98 bytes: npz_bytes writes archives under"):
        storage.zip_stored([(b"edge", b"0" * 64)])
    # a member that starts exactly at the limit is within it; the records' end is not
    with pytest.raises(ValueError, match=r"^2 members, 95 bytes: npz_bytes writes archives under"):
        storage.zip_stored([(b"a", b"0" * 33), (b"b", b"")])
    monkeypatch.undo()
    # 65,535 members: the most a zip counts
    assert storage.zip_stored([(b"m", b"")] * 0xFFFF)
    with pytest.raises(ValueError, match=r"^65536 members, "):
        storage.zip_stored([(b"m", b"")] * 0x10000)
