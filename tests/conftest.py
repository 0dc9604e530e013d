"""Shared fixtures: tiny in-memory data, and a throwaway git + DVC copy of this project."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline import fetch
from pipeline.core import config, params
from pipeline.loader.integrity import recorded_digest
from pipeline.release import record

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # the environment running pytest also runs dvc


def run(
    cmd: list[str], cwd: Path, *, check: bool = True, timeout: float = 600, **kwargs
) -> subprocess.CompletedProcess:
    """Run a real command (dvc, git, python) in ``cwd`` with the project's environment first on PATH."""
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="tests",
        GIT_AUTHOR_EMAIL="tests@tinydigits.invalid",
        GIT_COMMITTER_NAME="tests",
        GIT_COMMITTER_EMAIL="tests@tinydigits.invalid",
    )
    env.update(kwargs.pop("env", {}))
    if "stdout" not in kwargs and "stderr" not in kwargs:
        kwargs["capture_output"] = True
    kwargs.setdefault("text", True)  # text=False for bytes, as `git show` of a binary file needs
    result = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def project_files() -> list[str]:
    """The working tree as git would commit it: tracked files plus untracked, not-ignored ones."""
    out = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT).stdout
    return sorted({f for f in out.split("\0") if f and (ROOT / f).exists()})


def make_repo(dest: Path) -> Path:
    """Copy this project's working tree into ``dest`` as a fresh one-commit git repository."""
    for rel in project_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "copy of the project under test"], dest)
    return dest


def restore(repo: Path) -> None:
    """Back to the last commit, whatever a test did (even when it failed): tracked files from git,
    DVC-cached ones from the cache, temp files a killed writer left removed."""
    run(["git", "checkout", "-q", "--", "."], repo, check=False)
    for leftover in repo.glob("datasets/*/.*.tmp"):
        leftover.unlink()
    run(["dvc", "checkout", "-q", "--force"], repo, check=False)


def assert_restorable(repo):
    """Undo a test: committed files back, intermediates from the cache, everything up to date."""
    run(["git", "checkout", "-q", "--", "."], repo)
    run(["dvc", "checkout", "-q"], repo)
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


def link_venv(repo: Path) -> Path:
    """Give ``repo`` this environment as its ``.venv`` (a symlink git ignores), so ``make`` targets
    run there without installing; returns ``repo``."""
    (repo / ".venv").symlink_to(VENV_BIN.parent)
    with open(repo / ".git/info/exclude", "a") as f:
        f.write("/.venv\n")  # whatever .gitignore says about a symlinked .venv
    return repo


@dataclass(frozen=True)
class ColdBuild:
    """The project after one cold ``dvc repro`` with default params (see :func:`cold_build`)."""

    repo: Path  # the template: never change it, copy it with copy_build()
    stdout: str  # what that `dvc repro` printed
    # `git status --porcelain` right after it: empty when the copied dvc.lock was current
    status: str


@pytest.fixture(scope="session")
def cold_build(tmp_path_factory) -> ColdBuild:
    """One cold ``dvc repro`` of a fresh copy of the project per test process, committed.

    Every end-to-end module that needs a built project starts from a copy of it
    (:func:`copy_build`), whose DVC cache and run cache already hold every stage's outputs, instead
    of paying for its own cold run (about 45 s each on 2 cores). ``test_e2e`` checks the cold run itself.
    """
    repo = make_repo(tmp_path_factory.mktemp("cold-build") / "repo")
    first = run(["dvc", "repro"], repo, timeout=1800)
    status = run(["git", "status", "--porcelain"], repo).stdout
    if status:  # recorded for test_e2e, which fails on it; the copies start from a committed state all the same
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-qm", "reproduced"], repo)
    return ColdBuild(repo, first.stdout, status)


def copy_build(build: ColdBuild, dest: Path) -> Path:
    """A copy of the built project at ``dest``: its own git repository, DVC cache and run cache
    (``.dvc/tmp``, DVC's locks and state, is left behind: DVC makes it anew); returns ``dest``."""
    skip_tmp = lambda folder, names: ["tmp"] if Path(folder) == build.repo / ".dvc" else []  # noqa: E731
    shutil.copytree(build.repo, dest, symlinks=True, ignore=skip_tmp)
    return dest


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh git + DVC copy of the project (empty DVC cache) in a temporary folder."""
    return make_repo(tmp_path / "repo")


@pytest.fixture
def tiny_labels() -> np.ndarray:
    """30 labels: three of each digit, in source-like interleaved order."""
    return np.tile(np.arange(10, dtype=np.int64), 3)


@pytest.fixture
def tiny_pixels(tiny_labels) -> np.ndarray:
    """(30, 64) uint8 pixels in 0..16, all rows distinct."""
    rng = np.random.RandomState(0)
    return rng.randint(0, 17, size=(len(tiny_labels), 64)).astype(np.uint8)


# ---- shared by the unit tests ------------------------------------------------------------------

# The sha256 of the published TinyDigits v1 pickles.
V1 = {
    "train": "254293630e549113002cdc3f7f1542715e0a40288a3a8a0358fb8e478dce1e54",
    "test": "767ea1644a12dac6f3f94f63536de4deace8a0fa1f5c54f80a9419a267c7802d",
}
# The committed release record (datasets/tinydigits/releases.json), oldest first, and its 1.0.0 entry.
ENTRIES = record.load(path=ROOT / record.RECORD_FILE)
V1_ENTRY = ENTRIES[0]
RAW_PARAMS = yaml.safe_load((ROOT / config.PARAMS_FILE).read_text())  # params.yaml as committed
BENCHMARK_DEFAULTS = params.load(ROOT / config.PARAMS_FILE).benchmark


def with_(**changes):
    """A deep copy of the committed params.yaml with ``changes``: ``sample__train_per_class=50`` sets
    ``sample.train_per_class``."""
    raw = copy.deepcopy(RAW_PARAMS)
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = raw
        for key in path:
            node = node[key]
        node[last] = value
    return raw


def tiny(**changes) -> params.BenchmarkParams:
    """Benchmark params small enough for unit tests."""
    small = {"seeds": 3, "hidden_units": 8, "batch_size": 8, "epochs": 6}
    return dataclasses.replace(BENCHMARK_DEFAULTS, **{**small, **changes})


@pytest.fixture(scope="module")
def source():
    """The real bundled source: (pixels, labels) as fetch parses it."""
    return fetch.parse_csv(fetch.source_path().read_bytes())


@pytest.fixture(scope="module")
def blobs():
    """60 train and 30 test images (N, 8, 8) float32 of 10 classes, each class a noisy blob."""
    rng = np.random.RandomState(1)
    centres = rng.rand(10, 8, 8)

    def draw(n):
        labels = np.tile(np.arange(10), n // 10)
        images = np.clip(centres[labels] + 0.3 * rng.randn(len(labels), 8, 8), 0, 1).astype(
            np.float32
        )
        return images, labels.astype(np.int64)

    return draw(60), draw(30)


# ---- the published files, for the loader and integrity tests ----------------------------------

PUBLISHED = ROOT / "datasets" / "tinydigits"
FILES = [f"{s}.{ext}" for s in ("train", "test") for ext in ("pkl", "npz")]


def lock_text(root, names=FILES) -> str:
    """A dvc.lock in DVC 3's own layout recording ``root/datasets/tinydigits/<name>``."""
    lines = [
        "schema: '2.0'",
        "stages:",
        "  pickle:",
        "    cmd: python -m pipeline pickle",
        "    outs:",
    ]
    for name in names:
        data = (root / "datasets/tinydigits" / name).read_bytes()
        lines += [
            f"    - path: datasets/tinydigits/{name}",
            "      hash: md5",
            f"      md5: {hashlib.md5(data).hexdigest()}",
            f"      size: {len(data)}",
        ]
    return "\n".join(lines) + "\n"


def good_arrays(n=10):
    """``n`` valid (images, labels) for the loader tests: float32 (n, 8, 8) in [0, 1], int64 digits."""
    images = (np.arange(n * 64, dtype=np.float32).reshape(n, 8, 8) % 17) / np.float32(16)
    return images, np.arange(n, dtype=np.int64) % 10


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
