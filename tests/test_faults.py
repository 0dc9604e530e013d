"""Faults: killed stages, killed `dvc repro`, two runs at once.

Each test breaks one thing in a shared reproduced copy of the project, checks that nothing was
corrupted, and leaves the copy as it found it. Damaged outputs and a corrupted cache are in
test_faults_damage.py.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import yaml

from pipeline import load
from pipeline.core.errors import DigestError
from scripts.oracle import reference_pickles
from tests.helpers import (
    Pause,
    assert_restorable,
    run,
    user_env,
)

pytestmark = pytest.mark.e2e
DATA = "datasets/tinydigits"
PUBLISHED = [f"{DATA}/{s}.{ext}" for s in ("train", "test") for ext in ("pkl", "npz")]


def set_train_per_class(repo, n):
    path = repo / "params.yaml"
    text = path.read_text()
    assert "train_per_class: 100" in text
    path.write_text(text.replace("train_per_class: 100", f"train_per_class: {n}", 1))


def oracle(n):
    return reference_pickles([n] * 10, [20] * 10, 42)


def snapshot(repo):
    return {rel: (repo / rel).read_bytes() for rel in PUBLISHED}


@pytest.fixture
def repo(restored_copy):
    """This module's copy of the built project; each test starts from its committed state."""
    return restored_copy


def killed_pickle_stage(repo, at):
    hook = repo.parent / "hook"
    return run(
        ["dvc", "repro", "pickle"],
        repo,
        check=False,
        env={"PYTHONPATH": str(hook), "KILL_AT_REPLACE": at},
    )


# ---- killed while writing ------------------------------------------------------------------------


def test_stage_killed_before_its_first_replace_leaves_the_published_files_intact(repo):
    before = snapshot(repo)
    set_train_per_class(repo, 60)
    result = killed_pickle_stage(repo, f"{DATA}/train.pkl")
    assert result.returncode != 0 and "failed to reproduce 'pickle'" in result.stderr
    # SIGKILL, as dvc reports it: -9 when the shell exec'd python (bash), 128 + 9 when it forked (dash)
    assert "exited with -9" in result.stderr or "exited with 137" in result.stderr, result.stderr
    assert snapshot(repo) == before
    leftovers = sorted(p.name for p in (repo / DATA).glob(".train.pkl.*.tmp"))
    # the finished temp file the kill stranded: git-ignored, unlocked
    assert len(leftovers) == 1
    assert run(["git", "status", "--porcelain"], repo).stdout.split() == [
        "M",
        "dvc.lock",
        "M",
        "params.yaml",
    ]
    # pickle is stale
    assert run(["dvc", "status", "-q", "pickle"], repo, check=False).returncode != 0
    # still the files dvc.lock records
    load("train", repo / DATA, verify=True)

    # a plain rerun finishes the job
    run(["dvc", "repro", "pickle"], repo)
    assert (repo / f"{DATA}/train.pkl").read_bytes() == oracle(60)["train"]
    assert run(["dvc", "status", "-q", "pickle"], repo, check=False).returncode == 0
    # and clears what the killed writer left
    assert not list((repo / DATA).glob(".*.tmp"))
    assert_restorable(repo)


def test_stage_killed_between_two_replaces_leaves_whole_files_and_the_mix_is_flagged(repo):
    before = snapshot(repo)
    set_train_per_class(repo, 60)
    # train.pkl and train.npz are already replaced
    result = killed_pickle_stage(repo, f"{DATA}/test.pkl")
    assert result.returncode != 0
    after = snapshot(repo)
    # new and whole
    assert after[f"{DATA}/train.pkl"] == oracle(60)["train"]
    # old and whole
    assert after[f"{DATA}/test.pkl"] == before[f"{DATA}/test.pkl"]
    for split in ("train", "test"):
        for fmt in ("pkl", "npz"):
            # every file parses and validates
            load(split, repo / DATA, format=fmt, verify=False)
    with pytest.raises(DigestError, match="train.pkl has md5 .* but .*dvc.lock records"):
        # the mixed set is caught by the digest check
        load("train", repo / DATA)
    status = run(["dvc", "status", "pickle"], repo).stdout
    assert "modified:" in status and f"{DATA}/train.pkl" in status

    run(["dvc", "repro", "pickle"], repo)
    assert snapshot(repo)[f"{DATA}/test.pkl"] == oracle(60)["test"]
    load("test", repo / DATA, verify=True)
    # the rerun cleared what the kill left
    assert not list((repo / DATA).glob(".*.tmp"))
    assert_restorable(repo)


def pickle_outputs(repo):
    """Every file the pickle stage publishes, as dvc.yaml lists them."""
    outs = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["pickle"]["outs"]
    return [next(iter(out)) if isinstance(out, dict) else out for out in outs]


def test_sigkill_to_a_running_dvc_repro_inside_the_pickle_writes_leaves_whole_files(repo):
    outputs = pickle_outputs(repo)
    assert set(PUBLISHED) <= set(outputs)
    before = {rel: (repo / rel).read_bytes() for rel in outputs}
    set_train_per_class(repo, 70)
    log = repo.parent / "killed-repro.log"
    # the stage stops after replacing train.pkl, train.npz and train.parquet, before test.pkl:
    # its writes take milliseconds, too short a window for a test to hit by polling the folder
    pause = Pause.before_replacing(repo.parent / "pause-kill", f"{DATA}/test.pkl")
    env = user_env()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            ["dvc", "repro", "pickle"],
            cwd=repo,
            env=dict(env, **pause.env()),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        pause.wait(proc, log)
    finally:
        # dvc and the stage it runs, between two writes
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, log.read_text()
    killed = {rel: (repo / rel).read_bytes() for rel in outputs}
    for split in ("train", "test"):
        for fmt in ("pkl", "npz"):
            # every file parses and validates
            load(split, repo / DATA, format=fmt, verify=False)
    # its stale locks are still recorded
    assert str(proc.pid) in (repo / ".dvc/tmp/rwlock").read_text()

    # the dead process's locks do not block it
    rerun = run(["dvc", "repro", "pickle"], repo)
    assert "Running stage 'pickle'" in rerun.stdout
    after = {rel: (repo / rel).read_bytes() for rel in outputs}
    # each file whole: entirely the old bytes or entirely the new ones
    for rel in outputs:
        assert killed[rel] in (before[rel], after[rel]), rel
    # and the kill did land inside the writes: train's files already new, test's still old
    assert killed[f"{DATA}/train.pkl"] == after[f"{DATA}/train.pkl"] == oracle(70)["train"]
    assert killed[f"{DATA}/train.npz"] == after[f"{DATA}/train.npz"] != before[f"{DATA}/train.npz"]
    assert killed[f"{DATA}/test.pkl"] == before[f"{DATA}/test.pkl"] != after[f"{DATA}/test.pkl"]
    assert after[f"{DATA}/test.pkl"] == oracle(70)["test"]
    assert run(["dvc", "status", "-q", "pickle"], repo, check=False).returncode == 0
    # the rerun cleared what the kill left
    assert not list(repo.glob("datasets/*/.*.tmp"))
    assert_restorable(repo)


# ---- two at once ---------------------------------------------------------------------------------


def test_two_dvc_repro_at_once_the_second_stops_with_255_having_written_nothing(repo):
    """What docs/faults.md says: the second stops at once, exit 255, writing nothing; the first completes."""
    set_train_per_class(repo, 80)
    env = user_env()
    cmd = ["dvc", "--wait-for-lock", "repro", "pickle"]
    log = repo.parent / "first-repro.log"
    pause = Pause.before_replacing(repo.parent / "pause-two", f"{DATA}/train.pkl")
    # the first stops inside the pickle stage until the second has run
    with open(log, "w") as out:
        first = subprocess.Popen(
            cmd,
            cwd=repo,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env, **pause.env()),
        )
    try:
        pause.wait(first, log)
        before = snapshot(repo)
        second = run(cmd, repo, check=False)
        # the second ended while the first was still inside its stage: they overlapped
        assert first.poll() is None, log.read_text()
        # read before the first goes on (it replaces train.pkl as soon as it is released)
        after_second = snapshot(repo)
    finally:
        pause.release()
    assert second.returncode == 255, second.stdout + second.stderr
    assert "is busy, it is being blocked by" in second.stderr and "Traceback" not in second.stderr
    # it wrote nothing
    assert "Running stage" not in second.stdout and after_second == before
    assert first.wait(timeout=300) == 0, log.read_text()
    assert snapshot(repo)[f"{DATA}/train.pkl"] == oracle(80)["train"]
    assert run(["dvc", "status", "-q", "pickle"], repo, check=False).returncode == 0
    load("train", repo / DATA, verify=True)
    assert_restorable(repo)
