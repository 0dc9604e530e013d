"""pipeline.fetch: the bundled source, its pinned digest, and its parsing."""

import gzip
import hashlib
import sys

import numpy as np
import pytest

from pipeline import fetch
from pipeline.core import config
from pipeline.core.errors import SourceError


def test_bundled_source_matches_pinned_digest():
    data = fetch.source_path().read_bytes()
    assert fetch.verify(data) == config.SOURCE_SHA256


def test_missing_source_package_says_how_to_get_the_environment(monkeypatch):
    monkeypatch.setattr(fetch.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SourceError) as err:
        fetch.source_path()
    assert str(err.value) == (
        "package 'sklearn', which ships the source file datasets/data/digits.csv.gz, is not "
        f"installed for {sys.executable}; run `make repro` (it installs the pinned dependencies "
        "into .venv and runs dvc with them), or `. .venv/bin/activate` before running dvc by hand"
    )


def test_verify_names_both_digests_on_mismatch():
    with pytest.raises(SourceError) as err:
        fetch.verify(b"not the digits", name="digits.csv.gz")
    actual = hashlib.sha256(b"not the digits").hexdigest()
    assert actual in str(err.value) and config.SOURCE_SHA256 in str(err.value)
    assert str(err.value).startswith("digits.csv.gz sha256 is")
    # the name when none is given
    with pytest.raises(SourceError, match=r"^source sha256 is "):
        fetch.verify(b"not the digits")


def test_parse_csv_shapes_and_dtypes():
    rows = "\n".join(",".join(["0"] * 63 + ["16", str(d)]) for d in (3, 7)) + "\n"
    pixels, labels = fetch.parse_csv(gzip.compress(rows.encode()))
    assert pixels.shape == (2, 64) and pixels.dtype == np.uint8 and pixels[0, 63] == 16
    assert labels.tolist() == [3, 7] and labels.dtype == np.int64


def test_parse_csv_rejects_wrong_width_and_fractions():
    with pytest.raises(SourceError, match=r"65 columns.*got 3"):
        fetch.parse_csv(gzip.compress(b"1,2,3\n"))
    with pytest.raises(SourceError) as err:
        fetch.parse_csv(gzip.compress((",".join(["0.5"] * 65) + "\n").encode()))
    assert (
        str(err.value) == "source holds non-integer values; pixels and labels must be whole numbers"
    )


def row(*values: int) -> bytes:
    return gzip.compress((",".join(map(str, [*values] + [0] * (65 - len(values)))) + "\n").encode())


def test_parse_csv_takes_0_to_255_and_refuses_values_outside():
    pixels, _ = fetch.parse_csv(row(255, 0))
    assert pixels[0, 0] == 255
    for values, got in [((256,), "[0.0, 256.0]"), ((-1, 16), "[-1.0, 16.0]")]:
        with pytest.raises(SourceError) as err:
            fetch.parse_csv(row(*values))
        assert str(err.value) == f"source values must lie in [0, 255], got {got}"


def test_real_source_has_the_documented_class_sizes(source):
    pixels, labels = source
    assert pixels.shape == (config.SOURCE_ROWS, 64)
    assert tuple(np.bincount(labels)) == config.CLASS_SIZES
