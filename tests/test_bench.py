"""scripts/bench.py measures the way issue 18 asks: each clone's commands run with that clone's own
.venv first on PATH and nothing else of the caller's environment, and the data stages' baseline is
one process doing the stages' own work (the same published files). `make bench` itself takes minutes
and is run by hand (tests/test_make.py's BY_HAND)."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from pipeline.pickling import OUTS
from scripts.bench import ONE_PROCESS
from scripts.bench_runs import dvc_of, plain_env, python_of
from tests.helpers import ROOT, link_venv


def test_a_clone_runs_with_its_own_venv_first_and_nothing_else_of_ours(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", f"/elsewhere/.venv/bin:/usr/bin:{tmp_path}/x/.venv/bin/:/bin")
    monkeypatch.setenv("PYTHONPATH", "/leaks")
    monkeypatch.setenv("VIRTUAL_ENV", "/elsewhere/.venv")
    monkeypatch.setenv("HOME", "/home/someone")
    clone = tmp_path / "clone"
    env = plain_env(clone)
    assert env == {
        "PATH": f"{clone}/.venv/bin:/usr/bin:/bin",
        "HOME": "/home/someone",
        "DVC_NO_ANALYTICS": "1",
    }
    assert dvc_of(clone) == [f"{clone}/.venv/bin/dvc"]
    assert python_of(clone) == f"{clone}/.venv/bin/python"


@pytest.mark.e2e
def test_the_one_process_baseline_writes_the_published_files(restored_copy):
    """Same work: run in a copy of the built project with the published files deleted, the
    baseline writes every file the pickle stage publishes again, byte for byte."""
    repo = link_venv(restored_copy)
    want = {str(out): hashlib.sha256((ROOT / out).read_bytes()).hexdigest() for out in OUTS}
    assert len(want) == 7
    for out in OUTS:
        (repo / out).unlink()
    subprocess.run([python_of(repo), "-c", ONE_PROCESS], cwd=repo, env=plain_env(repo), check=True)
    got = {str(out): hashlib.sha256((repo / out).read_bytes()).hexdigest() for out in OUTS}
    assert got == want
