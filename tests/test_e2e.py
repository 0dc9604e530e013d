"""End to end: real `dvc repro` runs in a temporary git copy of the project."""

import hashlib
import os
import pickle
import re
import subprocess

import numpy as np

# a dependency of dvc
import psutil
import pytest
import yaml

from scripts.oracle import reference_pickles
from tests.helpers import V1, VENV_BIN, Pause, restore, run, update_params, user_env, wait_for

pytestmark = pytest.mark.e2e
PUBLISHED = [f"datasets/tinydigits/{s}.{ext}" for s in ("train", "test") for ext in ("pkl", "npz")]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_params(repo, **sample):
    seed = {"seed": sample.pop("seed")} if "seed" in sample else {}
    update_params(repo, sample=sample, **seed)


@pytest.fixture(scope="module")
def built(module_copy, cold_build):
    """A copy of the project after its cold `dvc repro` (shared by the tests below, in order), and
    a second `dvc repro` in the copy."""
    return module_copy, cold_build, run(["dvc", "repro"], module_copy)


@pytest.fixture(autouse=True)
def restored(built):
    """Each test starts from the committed, reproduced state, whatever the one before it did."""
    yield
    restore(built[0])


def test_cold_repro_gives_published_bytes_and_a_clean_tree(built):
    repo, cold, second = built
    for name, digest in V1.items():
        assert sha256(repo / f"datasets/tinydigits/{name}.pkl") == digest
    # the cold run rewrote nothing git tracks: dvc.lock and every output as committed (run
    # `dvc repro` and commit dvc.lock with the code that changed it when this fails)
    assert cold.status == ""
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0
    assert "Running stage" in cold.stdout
    # a second repro runs nothing
    assert "Running stage" not in second.stdout


def test_a_forced_rebuild_without_the_outputs_regenerates_the_published_bytes(built):
    """The cold run above skips pickle (its deps come out unchanged, and the pickles are checked
    out): here every stage up to pickle really runs, `--force` bypassing DVC's run cache, with
    the published files deleted first, so the bytes compared can only be the ones just written."""
    repo = built[0]
    for rel in PUBLISHED:
        (repo / rel).unlink()
    result = run(["dvc", "repro", "--force", "pickle"], repo)
    ran = re.findall(r"Running stage '(\w+)'", result.stdout)
    assert ran == ["fetch", "sample", "normalize", "split", "pickle"], result.stdout
    # an independent rendition of the algorithm
    oracle = reference_pickles([100] * 10, [20] * 10, 42)
    # as REFERENCE.md publishes them
    for name, size in (("train", 264_255), ("test", 53_044)):
        data = (repo / f"datasets/tinydigits/{name}.pkl").read_bytes()
        assert data == oracle[name], name
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, V1[name])
    # every output as committed
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


def test_bytecode_beside_the_modules_leaves_every_stage_up_to_date(built):
    """pipeline/core and pipeline/benchmark are directory deps: the __pycache__ a Python without
    PYTHONDONTWRITEBYTECODE writes into them when a stage runs must not make a stage stale."""
    repo = built[0]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = "import pipeline.core.params, pipeline.benchmark.stage, pipeline.fetch"
    subprocess.run([str(VENV_BIN / "python"), "-c", code], cwd=repo, env=env, check=True)
    assert list((repo / "pipeline" / "core" / "__pycache__").glob("*.pyc"))
    assert list((repo / "pipeline" / "benchmark" / "__pycache__").glob("*.pyc"))
    status = run(["dvc", "status", "--json"], repo)
    assert status.stdout.strip() == "{}", status.stdout


def test_npz_twins_match_the_pickles(built):
    repo, _, _ = built
    for name in ("train", "test"):
        with open(repo / f"datasets/tinydigits/{name}.pkl", "rb") as f:
            record = pickle.load(f)
        with np.load(repo / f"datasets/tinydigits/{name}.npz", allow_pickle=False) as z:
            assert np.array_equal(z["images"], record["images"])
            assert np.array_equal(z["labels"], record["labels"])


def test_bad_params_stop_repro_before_anything_is_written(built):
    repo, _, _ = built
    before = {p: sha256(repo / p) for p in PUBLISHED + ["dvc.lock"]}
    set_params(repo, train_per_class=160)
    result = run(["dvc", "repro"], repo, check=False)
    assert result.returncode != 0
    assert (
        "sample.train_per_class + sample.test_per_class = 160 + 20 = 180 exceeds the 178 images of digit 0"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert {p: sha256(repo / p) for p in before} == before
    run(["git", "checkout", "params.yaml"], repo)
    # the params stage tracks params.yaml whole and runs first: it refused before DVC removed any
    # later output
    assert (repo / "datasets/interim/sample.npz").exists()
    run(["dvc", "checkout"], repo)
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0


def test_a_typo_in_the_benchmark_block_fails_repro_and_keeps_the_reports(built):
    repo, _, _ = built
    tracked = run(["git", "ls-files", "reports", "datasets/tinydigits"], repo).stdout.split()
    before = {p: sha256(repo / p) for p in tracked}
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    # meant: epochs
    raw["benchmark"]["epoch"] = 40
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    result = run(["dvc", "repro"], repo, check=False)
    assert result.returncode != 0
    # the params stage tracks params.yaml whole and runs first, so it is the stage that refuses
    assert (
        "params: error: unknown key benchmark.epoch (did you mean benchmark.epochs?)"
        in result.stderr
    )
    # persist: DVC did not delete them
    assert {p: sha256(repo / p) for p in tracked} == before
    run(["git", "checkout", "params.yaml"], repo)
    # DVC removed the sweep's cached output before running the stage; the cache still has it
    run(["dvc", "checkout"], repo)
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0


def test_a_contract_violation_fails_the_stage_naming_stage_check_and_values(built):
    repo, _, _ = built
    normalized = repo / "datasets/interim/normalized.npz"
    with np.load(normalized, allow_pickle=False) as z:
        images, labels = z["images"].copy(), z["labels"]
    # off the 1/16 grid everywhere a stroke is
    images[images > 0] = 0.03
    np.savez(normalized, images=images, labels=labels)
    result = run(["python", "-m", "pipeline", "split"], repo, check=False)
    assert result.returncode == 1
    assert (
        "split: error: stage 'split': splits data (1,200 rows) violates the contract:"
        in result.stderr
    )
    assert "check 'multiple of 1/16': pixel_" in result.stderr and "=0.03" in result.stderr
    assert "Traceback" not in result.stderr
    # DVC sees the tampered intermediate and rebuilds it
    run(["dvc", "repro", "pickle"], repo)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


def test_changed_counts_and_seed_give_the_oracle_bytes(built):
    repo, _, _ = built
    set_params(
        repo, seed=7, train_per_class=30, test_per_class=5, train_counts={8: 12}, test_counts={0: 0}
    )
    result = run(["dvc", "repro", "pickle"], repo)
    # only what depends on the counts reran
    assert "Stage 'normalize' didn't change" in result.stdout
    train = [30] * 8 + [12, 30]
    test = [0] + [5] * 9
    want = reference_pickles(train, test, 7)
    for name in ("train", "test"):
        assert (repo / f"datasets/tinydigits/{name}.pkl").read_bytes() == want[name], name
    run(["git", "checkout", "params.yaml"], repo)
    run(["dvc", "repro", "pickle"], repo)
    assert sha256(repo / "datasets/tinydigits/train.pkl") == V1["train"]


def blocked_in_flock(proc) -> bool:
    """True while ``proc`` (a make) has a ``flock`` child still waiting: nothing started under it yet."""
    try:
        return any(
            p.name() == "flock" and not p.children()
            for p in psutil.Process(proc.pid).children(recursive=True)
        )
    except psutil.NoSuchProcess:
        return False


def test_two_make_repro_at_once_overlap_and_both_succeed(built):
    repo, _, _ = built
    if not (repo / ".venv").exists():
        (repo / ".venv").symlink_to(VENV_BIN.parent)
    # give both runs something to do
    (repo / "datasets/tinydigits/test.pkl").unlink()
    # as a user types it: not a sub-make of the suite's own `make test`
    env = user_env()
    pause = Pause.before_replacing(repo.parent / "pause-make", "tinydigits/test.pkl")
    # -o: never rebuild the (shared, symlinked) environment from here
    cmd = ["make", "-o", ".venv/.installed", "repro"]
    log = repo.parent / "first-make.log"
    # the first stops in the pickle stage, holding the flock
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
        second = subprocess.Popen(
            cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        # the two overlap: the second is queued in flock while the first is still in its stage
        wait_for(
            lambda: blocked_in_flock(second), "the second make repro to wait in flock", proc=second
        )
        assert first.poll() is None, log.read_text()
    finally:
        pause.release()
    outputs = [log.read_text(), second.communicate(timeout=600)[0]]
    assert [first.wait(timeout=600), second.returncode] == [0, 0], outputs
    # it found the first's work done
    assert "Running stage 'pickle'" not in outputs[1]
    assert sha256(repo / "datasets/tinydigits/test.pkl") == V1["test"]
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


def test_original_card_command_runs_the_pipeline(built):
    repo, _, _ = built
    script = ["python3", "datasets/tinydigits/create_tinydigits.py", "pickle"]
    (repo / ".venv").unlink(missing_ok=True)
    missing = run(script, repo, check=False)
    assert missing.returncode == 2 and "run `make repro`" in missing.stderr
    (repo / ".venv").symlink_to(VENV_BIN.parent)
    (repo / "datasets/tinydigits/test.pkl").unlink()
    run(script, repo)
    assert sha256(repo / "datasets/tinydigits/test.pkl") == V1["test"]
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


def test_a_train_count_change_leaves_the_sweep_alone_and_a_return_restores_from_the_run_cache(
    built,
):
    repo, _, _ = built
    set_params(repo, train_per_class=90)
    changed = run(["dvc", "repro"], repo)
    # it never reads the train counts
    assert "Stage 'benchmark_sweep' didn't change" in changed.stdout
    assert "Running stage 'benchmark'" in changed.stdout
    # the gate still measured at v1's size
    assert '"per_class": 100' in (repo / "reports/metrics.json").read_text()
    run(["git", "checkout", "params.yaml"], repo)
    back = run(["dvc", "repro"], repo)
    # restored, not rerun
    assert "Stage 'sample' is cached - skipping run" in back.stdout
    assert "Stage 'split' is cached - skipping run" in back.stdout
    # v1 bytes, reports and card again
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
