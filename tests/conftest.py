"""Shared fixtures (only fixtures: the helpers they use are in tests/helpers.py): tiny in-memory
data, and throwaway git + DVC copies of this project."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from pipeline import fetch
from pipeline.loader.integrity import recorded_digest
from tests.helpers import (
    FILES,
    PUBLISHED,
    ColdBuild,
    copy_build,
    lock_text,
    make_repo,
    restore,
    run,
    write_stage_hook,
)


@pytest.fixture(scope="session")
def cold_build(tmp_path_factory) -> ColdBuild:
    """One cold ``dvc repro`` of a fresh copy of the project per test run, committed.

    Every end-to-end module that needs a built project starts from a copy of it
    (:func:`copy_build`), whose DVC cache and run cache already hold every stage's outputs, instead
    of paying for its own cold run (about 45 s each on 2 cores). ``test_e2e`` checks the cold run
    itself. Under ``pytest -n`` the workers share one build: the first to need it makes it while
    the others wait on a file lock, in the run's folder that every worker's temp folder sits in.
    """
    shared = tmp_path_factory.getbasetemp()
    # gw0, gw1, ...: each has a folder in the run's
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    place = shared / "cold-build"
    with FileLock(shared / "cold-build.lock"):
        done = place / "build.json"
        if not done.exists():
            # a build that failed in another worker
            shutil.rmtree(place, ignore_errors=True)
            place.mkdir()
            repo = make_repo(place / "repo")
            first = run(["dvc", "repro"], repo, timeout=1800)
            status = run(["git", "status", "--porcelain"], repo).stdout
            # recorded for test_e2e, which fails on it; the copies start from a committed state all the same
            if status:
                run(["git", "add", "-A"], repo)
                run(["git", "commit", "-qm", "reproduced"], repo)
            done.write_text(json.dumps({"stdout": first.stdout, "status": status}))
        built = json.loads(done.read_text())
    return ColdBuild(place / "repo", built["stdout"], built["status"])


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


@pytest.fixture(scope="module")
def module_copy(cold_build, tmp_path_factory) -> Path:
    """This test module's own copy of the cold build, with the stage hook beside it (tests/helpers.Pause)."""
    base = tmp_path_factory.mktemp("copy")
    repo = copy_build(cold_build, base / "repo")
    write_stage_hook(base / "hook")
    return repo


@pytest.fixture
def restored_copy(module_copy) -> Path:
    """:func:`module_copy`, back at its committed state after each test, even when the test fails."""
    yield module_copy
    restore(module_copy)


@pytest.fixture
def ctrl_c_handler_kept():
    """For a test that calls ``python -m pipeline``'s main() in process: it installs its own Ctrl-C
    handler in this process, and pytest's goes back after."""
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)
