"""A DVC remote: `dvc push` from one clone, `dvc pull` into another, and nothing needs to rerun.

The default remote (.dvc/config) is the folder ``tinydigits-dvc-remote`` next to the
repository, so two clones side by side share it; here they sit in a temporary folder.
"""

from __future__ import annotations

import os

import pytest

from tests.helpers import copy_build, run

pytestmark = pytest.mark.e2e
REMOTE = "tinydigits-dvc-remote"


def commit_all(repo, message):
    if run(["git", "status", "--porcelain"], repo).stdout:
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-qm", message], repo)


def objects(remote):
    return sorted(p for p in (remote / "files" / "md5").glob("??/*"))


@pytest.fixture(scope="module")
def pushed(cold_build, tmp_path_factory):
    """Clone ``a`` after `dvc repro` and `dvc push` to the default remote, ``base/tinydigits-dvc-remote``."""
    base = tmp_path_factory.mktemp("remote")
    a = copy_build(cold_build, base / "a")
    assert run(["dvc", "remote", "list"], a).stdout.split()[:3] == [
        "local",
        str(base / REMOTE),
        "(default)",
    ]
    result = run(["dvc", "push"], a)
    assert objects(base / REMOTE), result.stdout
    return base, a


def published_mtimes(repo):
    return {p.name: p.stat().st_mtime_ns for p in (repo / "datasets/tinydigits").glob("*.*")}


def test_pull_into_a_fresh_clone_is_up_to_date_without_running_a_stage(pushed):
    base, a = pushed
    b = base / "b"
    run(["git", "clone", "-q", str(a), str(b)], base)
    # intermediates missing
    assert run(["dvc", "status", "-q"], b, check=False).returncode != 0
    before = published_mtimes(b)
    pulled = run(["dvc", "pull"], b)
    assert "fetched" in pulled.stdout and "Running stage" not in pulled.stdout
    assert run(["dvc", "status", "-q"], b, check=False).returncode == 0
    repro = run(["dvc", "repro"], b)
    assert (
        "Running stage" not in repro.stdout and "Data and pipelines are up to date." in repro.stdout
    )
    # the git-tracked files were never rewritten
    assert published_mtimes(b) == before
    assert run(["git", "status", "--porcelain"], b).stdout == ""


def test_a_remote_elsewhere_set_with_modify_local(pushed, tmp_path):
    base, a = pushed
    elsewhere = tmp_path / "shared-remote"
    run(["cp", "-r", str(base / REMOTE), str(elsewhere)], tmp_path)
    c = tmp_path / "far" / "c"
    run(["git", "clone", "-q", str(a), str(c)], tmp_path)
    # .dvc/config.local, git-ignored
    run(["dvc", "remote", "modify", "--local", "local", "url", str(elsewhere)], c)
    assert run(["git", "status", "--porcelain"], c).stdout == ""
    run(["dvc", "pull"], c)
    assert run(["dvc", "status", "-q"], c, check=False).returncode == 0
    assert not (tmp_path / "far" / REMOTE).exists()


def test_a_corrupted_remote_object_is_refused_and_rebuilt(pushed):
    base, a = pushed
    remote = base / REMOTE
    # the largest intermediate
    victim = max(objects(remote), key=lambda p: p.stat().st_size)
    oid = victim.parent.name + victim.name
    good = victim.read_bytes()
    os.chmod(victim, 0o644)
    victim.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    d = base / "d"
    run(["git", "clone", "-q", str(a), str(d)], base)
    verify = run(["python", "scripts/verify_data.py", "--objects", str(remote)], d, check=False)
    assert verify.returncode == 1 and f"does not match its name {oid}" in verify.stdout

    pulled = run(["dvc", "pull"], d, check=False)
    assert pulled.returncode != 0
    assert (
        f"Missing cache files:\nmd5: {oid}" in pulled.stderr and "Checkout failed" in pulled.stderr
    )
    # DVC re-hashed it, found it corrupt, deleted it from the (local) remote
    assert not victim.exists()
    # and never cached it
    assert not list((d / ".dvc/cache/files/md5").glob(f"{oid[:2]}/{oid[2:]}"))

    # rebuilds the missing intermediate from its stage, byte for byte
    run(["dvc", "repro"], d)
    assert run(["git", "status", "--porcelain"], d).stdout == ""
    assert "1 file pushed" in run(["dvc", "push"], d).stdout and victim.read_bytes() == good
    assert run(["python", "scripts/verify_data.py", "--objects", str(remote)], d).returncode == 0
