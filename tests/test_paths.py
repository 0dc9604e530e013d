"""A clone in a folder whose path has a space and a non-ASCII letter (``My Courses/tïnydigits``, as on
many macOS, Windows and synced folders): the Makefile's commands, ``dvc repro`` and ``make test``
work there. (The Makefile used ``$(CURDIR)/.venv/bin/...`` in commands, which make split at the space:
``/bin/sh: 1: /tmp/My: not found``, Error 127.)"""

import pytest

from tests.helpers import copy_build, link_venv, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def spaced(cold_build, tmp_path_factory):
    repo = tmp_path_factory.mktemp("paths") / "My Courses" / "tïnydigits"
    repo.parent.mkdir()
    return link_venv(copy_build(cold_build, repo))


def test_make_repro_and_make_status_in_a_path_with_a_space(spaced):
    # a stage made to run, so make's venv-based command path really runs dvc and the stages
    (spaced / "datasets/interim/sample.npz").unlink()
    result = run(["make", "-o", ".venv/.installed", "repro"], spaced, timeout=1800)
    assert "Error" not in result.stderr and "not found" not in result.stderr, result.stderr
    run(["make", "-o", ".venv/.installed", "status"], spaced)
    run(["dvc", "repro", "--force", "--single-item", "normalize"], spaced, timeout=1800)
    assert run(["git", "status", "--porcelain"], spaced).stdout == ""


def test_make_test_runs_the_suites_fixtures_in_a_path_with_a_space(spaced):
    # one unit-test file and the shared fixtures module (conftest), run by make test from there
    args = "PYTEST_ARGS=-p no:xdist -p no:cacheprovider tests/test_hub_header.py"
    result = run(["make", "-o", ".venv/.installed", "test", args], spaced, timeout=1800)
    assert "passed" in result.stdout, result.stdout + result.stderr
