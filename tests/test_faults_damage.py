"""Faults: a damaged published file and corrupted DVC cache objects, caught and rebuilt."""

from __future__ import annotations

import os

import pytest

from pipeline import load
from pipeline.core.errors import DigestError
from tests.helpers import assert_restorable, run

pytestmark = pytest.mark.e2e
DATA = "datasets/tinydigits"


@pytest.fixture
def repo(restored_copy):
    """This module's copy of the built project; each test starts from its committed state."""
    return restored_copy


# ---- damaged files ------------------------------------------------------------------------------


def test_truncated_published_file_is_flagged_and_rebuilt(repo):
    path = repo / f"{DATA}/test.pkl"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DigestError, match=r"test.pkl has md5 \w+ \(26,522 bytes\)"):
        load("test", repo / DATA)
    assert "modified:" in run(["dvc", "status", "pickle"], repo).stdout
    run(["dvc", "repro", "pickle"], repo)
    assert path.read_bytes() == good
    assert_restorable(repo)


def cache_object(repo, rel):
    """The cache file of a DVC-cached output, by the md5 dvc.lock records for it."""
    import yaml

    for stage in yaml.safe_load((repo / "dvc.lock").read_text())["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == rel:
                return repo / ".dvc/cache/files/md5" / out["md5"][:2] / out["md5"][2:]
    raise KeyError(rel)


def corrupt(path, *, read_only):
    """Flip one byte of a cache object, leaving it writable or (as bit rot would) read-only."""
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))
    if read_only:
        os.chmod(path, 0o444)


def test_corrupted_writable_cache_object_is_caught_by_dvc_status_and_rebuilt(repo):
    obj = cache_object(repo, "datasets/interim/normalized.npz")
    corrupt(obj, read_only=False)
    status = run(["dvc", "status"], repo).stdout
    assert "not in cache:" in status and "datasets/interim/normalized.npz" in status
    # it was writable, so dvc status re-hashed it, found it corrupt, deleted it
    assert not obj.exists()
    assert run(["dvc", "status", "-q"], repo, check=False).returncode != 0
    # rebuilt and re-cached
    assert "Running stage 'normalize'" in run(["dvc", "repro"], repo).stdout
    assert run(["python", "scripts/verify_data.py"], repo).returncode == 0
    assert_restorable(repo)


def test_corrupted_read_only_cache_object_passes_dvc_but_not_verify_data(repo):
    rel = "datasets/interim/splits.npz"
    obj = cache_object(repo, rel)
    # bit rot, or any process running as root: the object stays read-only
    corrupt(obj, read_only=True)
    # DVC trusts read-only objects
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0
    (repo / rel).unlink()
    # and copies the bad bytes into the workspace
    run(["dvc", "checkout", rel], repo)
    assert (repo / rel).read_bytes() == obj.read_bytes()
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0

    verify = run(["python", "scripts/verify_data.py"], repo, check=False)
    assert verify.returncode == 1
    assert (
        f"{rel}: md5 " in verify.stdout
        and f"does not match its name {obj.parent.name}{obj.name}" in verify.stdout
    )
    repair = run(["python", "scripts/verify_data.py", "--repair"], repo, check=False)
    assert "removed" in repair.stdout and not obj.exists()
    (repo / rel).unlink()
    # the split stage rebuilds the good bytes and re-caches them
    run(["dvc", "repro", "pickle"], repo)
    assert run(["python", "scripts/verify_data.py"], repo).returncode == 0
    assert_restorable(repo)
