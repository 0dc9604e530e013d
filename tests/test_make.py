"""Every target `make help` lists works: each is run for real here or elsewhere in the suite or in
CI (named below, and checked to be there), or is listed with the reason it can only run by hand.
A new target that is in neither list fails this file."""

from __future__ import annotations

import re

import pytest

from tests.helpers import ROOT, link_venv, run

MAKE = ["make", "-o", ".venv/.installed"]  # the environment is this one: never rebuild it

# target -> the file that runs it for real (its make invocation is checked to be there)
ELSEWHERE = {
    "install": ".github/workflows/reproducibility.yml",
    "lint": ".ci/run",
    "numpy1": ".ci/run",
    "repro": "tests/test_e2e.py",
    "test": ".ci/run",
    "check-repro": "tests/test_release.py",
    "check-pythons": ".ci/run",
    "release": "tests/test_release.py",
    "tags": "tests/test_tags.py",
    "review": "tests/test_release.py",
}
HERE = {"help", "bench-env", "test-fast", "status", "verify-data", "push", "pull"}
BY_HAND = {
    "lock": "regenerates requirements.lock from the package index (network), by a maintainer",
    "check-wheels": "asks the package index for wheels of every pin on four platforms (network)",
    "bench": "about 50 minutes, and its figures need a quiet machine (docs/performance.md)",
}


@pytest.fixture(scope="module")
def built(module_copy):
    """A built copy of the project whose .venv is this environment, as `make` expects."""
    return link_venv(module_copy)


def listed() -> list[str]:
    return [line.split(":")[0] for line in run(["make", "-s", "help"], ROOT).stdout.splitlines()]


def test_help_lists_every_phony_target_and_each_is_exercised_or_explained():
    targets = listed()
    phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M)[1].split()
    assert sorted(targets) == sorted(phony), "make help and .PHONY disagree"
    assert set(targets) == set(ELSEWHERE) | HERE | set(BY_HAND), (
        "every target is exercised here, elsewhere, or explained in BY_HAND"
    )
    assert not (set(ELSEWHERE) & HERE or HERE & set(BY_HAND) or set(ELSEWHERE) & set(BY_HAND))
    for target, where in ELSEWHERE.items():
        text = (ROOT / where).read_text()
        invocation = rf"make[^\n]*\b{re.escape(target)}\b|\"make\",[^\n]*\"{re.escape(target)}\""
        assert re.search(invocation, text), f"{where} does not run make {target}"


def test_bench_env_runs_and_reports_the_check_cost():
    result = run([*MAKE, "-s", "bench-env", "BENCH_ENV_ARGS=--runs 3"], ROOT, timeout=300)
    assert "environment check, cold, in a fresh interpreter: median" in result.stdout
    assert re.search(r"the check adds -?\d+\.\d ms per stage", result.stdout), result.stdout


def test_test_fast_runs_the_unit_tier_only():
    args = "PYTEST_ARGS=-p no:cacheprovider tests/test_layout.py tests/test_e2e.py"
    result = run([*MAKE, "-s", "test-fast", args], ROOT, timeout=600)
    assert re.search(r"\b\d+ passed, \d+ deselected\b", result.stdout), result.stdout


@pytest.mark.e2e
def test_status_fails_when_a_stage_is_stale_and_passes_when_none_is(built):
    run([*MAKE, "status"], built)
    sample = built / "pipeline/sample.py"
    original = sample.read_text()
    sample.write_text(original + "\n# an edit\n")
    try:
        stale = run([*MAKE, "status"], built, check=False)
        assert stale.returncode != 0
    finally:
        sample.write_text(original)
    run([*MAKE, "status"], built)


@pytest.mark.e2e
def test_verify_data_passes_and_names_a_corrupted_file(built):
    assert run([*MAKE, "-s", "verify-data"], built, timeout=600).returncode == 0
    raw = built / "datasets/raw/digits.npz"
    original = raw.read_bytes()
    raw.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        bad = run([*MAKE, "-s", "verify-data"], built, check=False, timeout=600)
        assert bad.returncode != 0 and "datasets/raw/digits.npz" in bad.stdout + bad.stderr
    finally:
        raw.write_bytes(original)


@pytest.mark.e2e
def test_push_then_pull_brings_the_intermediates_back_from_the_remote(built):
    remote = built.parent / "tinydigits-dvc-remote"
    assert "5 files pushed" in run([*MAKE, "push"], built).stdout and remote.is_dir()
    for out in ("datasets/interim/sample.npz", "datasets/interim/splits.npz"):
        (built / out).unlink()
    cache = built / ".dvc/cache"
    run(["rm", "-rf", str(cache)], built)
    result = run([*MAKE, "pull"], built, timeout=600)
    assert "fetched" in result.stdout
    run([*MAKE, "status"], built)
