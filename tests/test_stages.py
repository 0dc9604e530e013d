"""Unit tests of each stage's pure functions, on tiny fixtures and on the real bundled source."""

import gzip
import hashlib
import pickle
import zipfile
from io import BytesIO

import numpy as np
import pytest

from pipeline import fetch, normalize, pickling, sample, split
from pipeline.core import config, storage
from pipeline.core.errors import ContractError, ParamsError, PipelineError, SourceError
from scripts.oracle import reference_pickles, reference_splits

V1 = {
    "train": "254293630e549113002cdc3f7f1542715e0a40288a3a8a0358fb8e478dce1e54",
    "test": "767ea1644a12dac6f3f94f63536de4deace8a0fa1f5c54f80a9419a267c7802d",
}


@pytest.fixture(scope="module")
def source():
    data = fetch.source_path().read_bytes()
    return fetch.parse_csv(data)


def build(source, train_counts, test_counts, seed):
    """The pipeline's pure functions chained in memory: source -> {split: (images, labels)}."""
    pixels, labels = source
    images = normalize.normalize(pixels)
    train, test = sample.draw(labels, train_counts, test_counts, seed)
    return {
        "train": split.gather(images, labels, train),
        "test": split.gather(images, labels, test),
    }


# ---- fetch -------------------------------------------------------------------------------


def test_bundled_source_matches_pinned_digest():
    data = fetch.source_path().read_bytes()
    assert fetch.verify(data) == config.SOURCE_SHA256


def test_missing_source_package_says_how_to_get_the_environment(monkeypatch):
    monkeypatch.setattr(fetch.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        SourceError,
        match=r"package 'sklearn', which ships the source file datasets/data/"
        r"digits\.csv\.gz, is not installed for .*; run `make repro`",
    ):
        fetch.source_path()


def test_verify_names_both_digests_on_mismatch():
    with pytest.raises(SourceError) as err:
        fetch.verify(b"not the digits", name="digits.csv.gz")
    actual = hashlib.sha256(b"not the digits").hexdigest()
    assert actual in str(err.value) and config.SOURCE_SHA256 in str(err.value)
    assert str(err.value).startswith("digits.csv.gz sha256 is")


def test_parse_csv_shapes_and_dtypes():
    rows = "\n".join(",".join(["0"] * 63 + ["16", str(d)]) for d in (3, 7)) + "\n"
    pixels, labels = fetch.parse_csv(gzip.compress(rows.encode()))
    assert pixels.shape == (2, 64) and pixels.dtype == np.uint8 and pixels[0, 63] == 16
    assert labels.tolist() == [3, 7] and labels.dtype == np.int64


def test_parse_csv_rejects_wrong_width_and_fractions():
    with pytest.raises(SourceError, match=r"65 columns.*got 3"):
        fetch.parse_csv(gzip.compress(b"1,2,3\n"))
    with pytest.raises(SourceError, match=r"non-integer"):
        fetch.parse_csv(gzip.compress((",".join(["0.5"] * 65) + "\n").encode()))


def test_real_source_has_the_documented_class_sizes(source):
    pixels, labels = source
    assert pixels.shape == (config.SOURCE_ROWS, 64)
    assert tuple(np.bincount(labels)) == config.CLASS_SIZES


# ---- sample ------------------------------------------------------------------------------


def test_draw_counts_and_disjointness_on_tiny_labels(tiny_labels):
    train, test = sample.draw(tiny_labels, [2] * 10, [1] * 10, seed=0)
    assert len(train) == 20 and len(test) == 10
    assert not set(train) & set(test)
    assert np.bincount(tiny_labels[train], minlength=10).tolist() == [2] * 10
    assert train.dtype == np.int64


def test_draw_is_a_pure_function_of_its_seed(tiny_labels):
    a = sample.draw(tiny_labels, [2] * 10, [1] * 10, seed=5)
    b = sample.draw(tiny_labels, [2] * 10, [1] * 10, seed=5)
    c = sample.draw(tiny_labels, [2] * 10, [1] * 10, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_draw_refuses_more_than_a_class_holds(tiny_labels):
    with pytest.raises(ParamsError, match=r"digit 4 is 4, which exceeds the 3 images of digit 4"):
        sample.draw(tiny_labels, [2] * 10, [1, 1, 1, 1, 2, 1, 1, 1, 1, 1], seed=0)


@pytest.mark.parametrize(
    "train_counts, test_counts, seed",
    [
        ([100] * 10, [20] * 10, 42),
        ([50] * 10, [10] * 10, 42),
        ([3, 0, 7, 100, 174, 1, 5, 9, 0, 2], [0, 4, 1, 1, 0, 30, 2, 2, 5, 9], 2**32 - 1),
        ([1] * 10, [1] * 10, 0),
    ],
)
def test_pipeline_functions_match_the_reference_oracle(source, train_counts, test_counts, seed):
    ours = build(source, train_counts, test_counts, seed)
    want = reference_pickles(train_counts, test_counts, seed)
    for name in ("train", "test"):
        assert pickling.pickle_bytes(*ours[name]) == want[name], name


def test_default_params_give_the_published_v1_bytes(source):
    ours = build(source, [100] * 10, [20] * 10, 42)
    for name, digest in V1.items():
        assert hashlib.sha256(pickling.pickle_bytes(*ours[name])).hexdigest() == digest


# ---- normalize, split, pickle ------------------------------------------------------------


def test_normalize_is_exact_sixteenths(tiny_pixels):
    images = normalize.normalize(tiny_pixels)
    assert images.shape == (30, 8, 8) and images.dtype == np.float32
    assert np.array_equal(images * 16, tiny_pixels.reshape(30, 8, 8).astype(np.float32))
    assert images.min() >= 0 and images.max() <= 1


def test_gather_keeps_order_and_types(tiny_pixels, tiny_labels):
    images = normalize.normalize(tiny_pixels)
    got_images, got_labels = split.gather(
        images, tiny_labels.astype(np.int32), np.array([4, 0, 17])
    )
    assert np.array_equal(got_images, images[[4, 0, 17]]) and got_images.flags.c_contiguous
    assert got_labels.tolist() == [4, 0, 7] and got_labels.dtype == np.int64


def test_pickle_bytes_is_the_published_format(tiny_pixels, tiny_labels):
    images = normalize.normalize(tiny_pixels)
    blob = pickling.pickle_bytes(images, tiny_labels)
    assert blob[:2] == b"\x80\x04"  # protocol 4
    record = pickle.loads(blob)
    assert set(record) == {"images", "labels"}
    assert record["images"].dtype == np.float32 and record["labels"].dtype == np.int64


def test_pickle_bytes_refuses_anything_but_the_published_dtypes_and_shapes(
    tiny_pixels, tiny_labels
):
    images = normalize.normalize(tiny_pixels)
    with pytest.raises(
        ContractError, match=r"images must be float32 \(N, 8, 8\), got float64 \(30, 8, 8\)"
    ):
        pickling.pickle_bytes(images.astype(np.float64), tiny_labels)
    with pytest.raises(
        ContractError, match=r"images must be float32 \(N, 8, 8\), got float32 \(30, 64\)"
    ):
        pickling.pickle_bytes(images.reshape(30, 64), tiny_labels)
    with pytest.raises(ContractError, match=r"labels must be int64 \(30,\), got int32 \(30,\)"):
        pickling.pickle_bytes(images, tiny_labels.astype(np.int32))


def test_npz_twin_holds_the_same_arrays_without_pickles(tiny_pixels, tiny_labels, tmp_path):
    images = normalize.normalize(tiny_pixels)
    storage.write_npz(tmp_path / "t.npz", images=images, labels=tiny_labels)
    with np.load(tmp_path / "t.npz", allow_pickle=False) as z:
        assert np.array_equal(z["images"], images) and np.array_equal(z["labels"], tiny_labels)


# ---- io ----------------------------------------------------------------------------------


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
        assert zf.testzip() is None  # every CRC checks out
        assert [
            (i.filename, i.date_time, i.compress_type, i.external_attr >> 16) for i in zf.infolist()
        ] == [(f"{n}.npy", (1980, 1, 1, 0, 0, 0), zipfile.ZIP_STORED, 0o100644) for n in arrays]
    with np.load(BytesIO(blob), allow_pickle=False) as z:
        assert all(np.array_equal(z[n], a) and z[n].dtype == a.dtype for n, a in arrays.items())


def test_zip_stored_refuses_what_would_need_zip64(monkeypatch):
    monkeypatch.setattr(storage, "_ZIP_MAX", 64)  # stands in for 4 GiB
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
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        storage.atomic_write_bytes(target, b"new bytes")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["train.pkl"]  # no temp file left behind


def test_atomic_write_replaces_and_creates_folders(tmp_path):
    target = tmp_path / "deep" / "x.bin"
    storage.atomic_write_bytes(target, b"1")
    storage.atomic_write_bytes(target, b"22")
    assert target.read_bytes() == b"22"
    assert [p.name for p in target.parent.iterdir()] == ["x.bin"]


def test_a_write_removes_temp_files_that_killed_writers_left_but_not_live_ones(tmp_path):
    import fcntl

    orphan = tmp_path / ".x.bin.k1ll3d.tmp"  # a killed writer's: nobody holds its lock
    orphan.write_bytes(b"half")
    live = tmp_path / ".x.bin.w0rk1n.tmp"  # a running writer's: locked
    live.write_bytes(b"busy")
    other = tmp_path / ".y.bin.k1ll3d.tmp"  # another file's: not ours to judge
    other.write_bytes(b"")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        storage.atomic_write_bytes(tmp_path / "x.bin", b"new")
    assert (tmp_path / "x.bin").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, live.name, "x.bin"])


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


def test_oracle_itself_matches_published_digests():
    # guards the oracle: if it drifted, every comparison against it would be meaningless
    blobs = reference_pickles([100] * 10, [20] * 10, 42)
    assert {k: hashlib.sha256(v).hexdigest() for k, v in blobs.items()} == V1
    assert set(reference_splits([1] * 10, [1] * 10, 0)) == {"train", "test"}
