"""End to end: stages under the wrong Python or NumPy are refused; a lock change reruns them all."""

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.core import config, environment
from tests.helpers import VENV_BIN, link_venv, run

PUBLISHED = [f"datasets/tinydigits/{s}.{e}" for s in config.SPLITS for e in ("pkl", "npz")]


def digests(repo, paths):
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in paths}


# ---- end to end: the failures users hit ---------------------------------------------------------


def stage_python(tmp_path, python):
    """A folder holding ``python3`` (what dvc.yaml runs) and ``python`` -> the given interpreter,
    to put first on PATH."""
    bin_dir = tmp_path / "other-bin"
    bin_dir.mkdir()
    for name in ("python3", "python"):
        (bin_dir / name).symlink_to(python)
    return bin_dir


def repro_with(repo, bin_dir, *args):
    """``.venv/bin/dvc repro`` with another ``python3`` first on PATH, as a user who did not
    activate .venv. The copies of the project have no .venv of their own, so the stage cannot hand
    itself over to one and refuses (the last test gives the copy one)."""
    env = {"PATH": f"{bin_dir}:{VENV_BIN}:/usr/bin:/bin"}
    return run([str(VENV_BIN / "dvc"), "repro", *args], repo, check=False, env=env)


@pytest.fixture(scope="module")
def built(module_copy):
    """A copy of the built project."""
    return module_copy


@pytest.mark.e2e
def test_the_machines_own_python_is_refused_before_anything_is_written(built, tmp_path):
    python = shutil.which("python3", path="/usr/bin")
    if (
        python is None
        or subprocess.run([python, "-c", "import pandas"], capture_output=True).returncode == 0
    ):
        pytest.skip("needs /usr/bin/python3 without pandas")
    before = digests(built, PUBLISHED + ["dvc.lock"])
    result = repro_with(built, stage_python(tmp_path, python), "--force", "pickle")
    assert result.returncode != 0
    assert re.search(
        r"fetch: error: wrong environment for this stage: .*pandas is not installed "
        r"\(requirements.lock pins [\d.]+\).*; interpreter .*other-bin/python3 \(Python 3\.",
        result.stderr,
    )
    assert "Fix: run `make repro`" in result.stderr and "Traceback" not in result.stderr
    assert digests(built, before) == before


@pytest.mark.e2e
def test_an_unsupported_python_is_refused(built, tmp_path):
    old = sorted(Path.home().glob(".pyenv/versions/3.10.*/bin/python3.10"))
    if not old:
        pytest.skip("no Python 3.10 on this machine (pyenv)")
    before = digests(built, PUBLISHED + ["dvc.lock"])
    result = run([str(old[-1]), "-m", "pipeline", "pickle"], built, check=False)
    assert result.returncode == 1
    assert re.fullmatch(
        r"pickle: error: wrong environment for this stage: Python 3\.10\.\d+ is not supported: "
        r"requirements.lock is resolved for requires-python >=3.11,<3.15; .* Nothing was written.\n",
        result.stderr,
    )
    assert digests(built, before) == before


# A NumPy older than the pin with a wheel for each supported Python (the case is 1.26.4;
# 3.13 and 3.14 have no wheel of it, and building one from source fails there).
OLD_NUMPY = {(3, 11): "1.26.4", (3, 12): "1.26.4", (3, 13): "2.1.3", (3, 14): "2.3.2"}


@pytest.fixture(scope="module")
def old_numpy(tmp_path_factory):
    """A throwaway venv (this Python) with an older NumPy and PyYAML: the issue's 'old NumPy first
    on PATH'. Returns its bin folder and that NumPy's version."""
    version = OLD_NUMPY.get(sys.version_info[:2])
    if version is None:
        pytest.skip(f"no older NumPy chosen for Python {sys.version_info[0]}.{sys.version_info[1]}")
    venv = tmp_path_factory.mktemp("old-numpy") / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", venv], check=True, capture_output=True)
    pip = subprocess.run(
        [
            venv / "bin/python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary",
            # a wheel or nothing: never minutes of compiling
            "numpy",
            "--cache-dir",
            venv.parent / "pip-cache",
            f"numpy=={version}",
            "pyyaml",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if pip.returncode:
        pytest.skip(
            f"cannot install numpy {version} from the package index: "
            f"{pip.stderr.strip().splitlines()[-1:]}"
        )
    return venv / "bin", version


@pytest.mark.e2e
def test_old_numpy_first_on_path_is_refused_and_the_published_files_are_untouched(built, old_numpy):
    bin_dir, version = old_numpy
    before = digests(built, PUBLISHED + ["dvc.lock"])
    result = repro_with(built, bin_dir, "-f", "-s", "pickle")
    assert result.returncode != 0
    numpy_pin = environment.read_lock(
        environment.REQUIREMENTS_FILE.read_text(), environment.marker_environment()
    )[1]["numpy"]
    assert (
        f"pickle: error: wrong environment for this stage: numpy {version} is installed, "
        f"requirements.lock pins {numpy_pin}" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert digests(built, before) == before


@pytest.mark.e2e
def test_other_v1_bytes_are_refused_before_anything_is_replaced(built):
    before = digests(built, PUBLISHED + ["dvc.lock"])
    splits = built / "datasets/interim/splits.npz"
    with np.load(splits, allow_pickle=False) as z:
        arrays = {k: z[k].copy() for k in z.files}
    # another order: still valid, not v1
    arrays["train_images"][[0, 1]] = arrays["train_images"][[1, 0]]
    arrays["train_labels"][[0, 1]] = arrays["train_labels"][[1, 0]]
    np.savez(splits, **arrays)
    result = run(["python", "-m", "pipeline", "pickle"], built, check=False)
    assert result.returncode == 1
    assert re.search(
        rf"pickle: error: with TinyDigits v1's params, train.pkl built 264,255 bytes sha256 [0-9a-f]{{64}}, "
        rf"but v1 is sha256 {config.V1_SHA256['train']}; nothing was replaced",
        result.stderr,
    )
    assert digests(built, before) == before
    # DVC sees the changed intermediate and rebuilds it
    run(["dvc", "repro", "pickle"], built)


@pytest.mark.e2e
def test_a_pin_change_makes_every_stage_stale_and_repro_rebuilds_the_same_bytes(built):
    assert run(["dvc", "status", "-q", "pickle"], built, check=False).returncode == 0
    before = digests(built, PUBLISHED)
    lock = built / "requirements.lock"
    text = lock.read_text()
    # a pin that decides no output byte: the check passes
    pin = re.search(r"^pytest==([\d.]+)", text, re.M)
    lock.write_text(text.replace(pin.group(0), "pytest==0.0.1"))
    assert run(["dvc", "status", "-q", "pickle"], built, check=False).returncode != 0
    result = run(["dvc", "repro", "pickle"], built)
    assert [
        s
        for s in ("fetch", "sample", "normalize", "split", "pickle")
        if f"Running stage '{s}'" in result.stdout
    ] == ["fetch", "sample", "normalize", "split", "pickle"]
    assert digests(built, PUBLISHED) == before
    changed = run(["git", "diff", "--stat", "--", "dvc.lock"], built).stdout
    assert "dvc.lock" in changed
    diff = run(["git", "diff", "-U0", "--", "dvc.lock"], built).stdout
    removed = [
        line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")
    ]
    # only the lock's entries
    assert removed and all("md5:" in line or "size:" in line for line in removed)


@pytest.mark.e2e
def test_without_venv_activated_every_stage_runs_with_the_venvs_python_and_says_so(built):
    """`.venv/bin/dvc repro` as the README's user might type it without activating .venv, on a
    PATH with only the system's folders: each stage, started by the first python3 there (or failing
    to find a `python`, as `cmd: python ...` did on Debian), hands itself over to .venv's Python."""
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("no python3 in /usr/bin or /bin")
    link_venv(built)
    try:
        before = digests(built, PUBLISHED)
        # as the test before this one left it
        status = run(["git", "status", "--porcelain"], built).stdout
        result = run(
            [".venv/bin/dvc", "repro", "--force", "pickle"],
            built,
            env={"PATH": "/usr/bin:/bin"},
        )
        for stage in ("fetch", "sample", "normalize", "split", "pickle"):
            assert (
                f"{stage}: {system} is not the pinned environment; running with this project's "
                ".venv/bin/python (activate .venv to run it directly)\n"
            ) in result.stderr, result.stderr
        assert digests(built, PUBLISHED) == before
        assert run(["git", "status", "--porcelain"], built).stdout == status
    finally:
        (built / ".venv").unlink()
