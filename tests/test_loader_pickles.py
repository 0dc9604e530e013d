"""pipeline.loader.reader's restricted unpickler: malicious pickles and NumPy 1.x/2 pickle compatibility."""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline import load
from pipeline.core.errors import DatasetFormatError, DigestError, UnsafePickleError
from pipeline.loader.reader import ALLOWED_GLOBALS, unpickle
from tests.helpers import PUBLISHED, ROOT, good_arrays, run


def record(images, labels, protocol=4) -> bytes:
    return pickle.dumps({"images": images, "labels": labels}, protocol=protocol)


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
        "in an object array": {
            "images": np.array([Exploit(os.system, command)], dtype=object),
            "labels": np.zeros(1),
        },
        "as the labels": {
            "images": np.zeros((1, 8, 8), np.float32),
            "labels": Exploit(os.system, command),
        },
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


def test_the_refusal_names_the_global_and_what_is_allowed(loose):
    (loose / "train.pkl").write_bytes(pickle.dumps({"images": os.getcwd}, protocol=4))
    with pytest.raises(UnsafePickleError) as err:
        load("train", loose)
    # posix, or nt on Windows
    where = os.getcwd.__module__
    assert str(err.value) == (
        f"{loose / 'train.pkl'}: pickle references {where}.getcwd, which a TinyDigits file never "
        "needs; refused without calling it (allowed: numpy._core.multiarray._reconstruct, "
        "numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype)"
    )


def test_the_exploit_is_real(tmp_path):
    marker = tmp_path / "pwned"
    # the plain unpickler runs it
    pickle.loads(pickle.dumps(exploits(marker)["os.system"], protocol=4))
    assert marker.exists()


def test_numpy_array_subclasses_are_refused(loose):
    images, labels = good_arrays()
    (loose / "train.pkl").write_bytes(record(np.ma.masked_array(images), labels))
    with pytest.raises(UnsafePickleError, match=r"references numpy\.ma\.core\._mareconstruct"):
        load("train", loose)


def test_malicious_pickle_in_a_project_fails_the_digest_first(project, tmp_path):
    marker = tmp_path / "pwned"
    (project / "train.pkl").write_bytes(
        pickle.dumps(Exploit(os.system, f"touch {marker}"), protocol=4)
    )
    with pytest.raises(DigestError):
        load("train", project)
    with pytest.raises(UnsafePickleError):
        load("train", project, verify=False)
    assert not marker.exists()


def test_persistent_ids_are_refused():
    # PERSID '0', STOP
    data = b"\x80\x04P0\n."
    with pytest.raises(UnsafePickleError, match="persistent id"):
        unpickle(data)


def test_object_array_in_npz_is_refused_without_unpickling(loose, tmp_path):
    marker = tmp_path / "pwned"
    images, labels = good_arrays()
    evil = np.array([Exploit(os.system, f"touch {marker}")], dtype=object)
    # savez pickles object arrays
    np.savez(loose / "train.npz", images=evil, labels=labels)
    with pytest.raises(DatasetFormatError, match="holds an object array; refused"):
        load("train", loose, format="npz")
    assert not marker.exists()


# ---- NumPy 1.x and NumPy 2: each reads the other's pickles ------------------------------------


def pickle_globals(data: bytes) -> set[str]:
    """Every ``module.name`` a pickle imports, read from its opcodes without unpickling (as picklescan does)."""
    # top: the string on top of the stack, if any
    found, strings, memo, top = set(), [], {}, None
    for op, arg, _ in pickletools.genops(data):
        # numbers every memoized object, in order; the top stays put
        if op.name == "MEMOIZE":
            memo[len(memo)] = top
            continue
        top = arg if "UNICODE" in op.name else memo.get(arg) if op.name.endswith("GET") else None
        if isinstance(top, str):
            strings.append(top)
        if op.name == "GLOBAL":
            found.add(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL":
            found.add(f"{strings[-2]}.{strings[-1]}")
    return found


@pytest.mark.parametrize("split", ["train", "test"])
def test_published_pickles_import_only_the_three_numpy_globals(split):
    names = pickle_globals((PUBLISHED / f"{split}.pkl").read_bytes())
    assert names == {"numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype"}
    assert names <= {f"{m}.{n}" for m, n in ALLOWED_GLOBALS}


def test_numpy_2_pickles_load_where_numpy_core_cannot_be_imported(monkeypatch):
    """NumPy < 1.26 has no ``numpy._core``: plain pickle fails there, the allow-list never imports it."""
    data = (PUBLISHED / "test.pkl").read_bytes()
    for name in [m for m in sys.modules if m == "numpy._core" or m.startswith("numpy._core.")]:
        # makes `import numpy._core...` fail, as on NumPy 1.25
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ModuleNotFoundError, match="numpy._core"):
        pickle.loads(data)
    got = unpickle(data)
    assert got["images"].shape == (200, 8, 8) and got["labels"].dtype == np.int64


NUMPY1 = Path(os.environ.get("TINYDIGITS_NUMPY1_PYTHON", ROOT / ".tools/numpy1/bin/python"))
UNDER_NUMPY1 = """
import json, pickle, sys
import numpy as np
from pipeline import load
root = sys.argv[1]
out = {"numpy": np.__version__}
try:
    pickle.load(open(f"{root}/train.pkl", "rb"))
except Exception as err:
    out["plain_pickle"] = f"{type(err).__name__}: {err}"
images, labels = load("train", root)
with np.load(f"{root}/train.npz", allow_pickle=False) as z:
    out["npz_shapes"] = [z["images"].shape, z["labels"].shape]
    out["load_equals_npz"] = bool(np.array_equal(images, z["images"]) and np.array_equal(labels, z["labels"]))
print(json.dumps(out))
"""


@pytest.mark.e2e
def test_under_numpy_1_25_the_npz_and_load_work_where_plain_pickle_fails(loose):
    if (
        not NUMPY1.exists()
        or "TINYDIGITS_NUMPY1_PYTHON" not in os.environ
        and not (NUMPY1.parents[1] / ".installed").exists()
    ):
        pytest.skip(
            f"no NumPy < 1.26 interpreter at {NUMPY1}: `make numpy1` creates it (NumPy 1.25 from the "
            "package index), or set TINYDIGITS_NUMPY1_PYTHON"
        )
    result = run([str(NUMPY1), "-c", UNDER_NUMPY1, str(loose)], ROOT, env={"PYTHONPATH": str(ROOT)})
    out = json.loads(result.stdout)
    assert tuple(map(int, out["numpy"].split(".")[:2])) < (1, 26), out
    # the failure users hit
    assert out["plain_pickle"] == "ModuleNotFoundError: No module named 'numpy._core'"
    # the .npz loads with plain NumPy 1.25
    assert out["npz_shapes"] == [[1000, 8, 8], [1000]]
    # and pipeline.load reads the NumPy 2 pickle there too
    assert out["load_equals_npz"]


def test_numpy_1_pickles_load():
    images, labels = good_arrays()
    # protocol 3 names globals as text lines
    data = record(images, labels, protocol=3)
    assert b"numpy._core.multiarray\n_reconstruct" in data
    data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    got = unpickle(data)
    assert np.array_equal(got["images"], images) and np.array_equal(got["labels"], labels)
