"""Every target `make help` lists runs for real somewhere, so that none can break unseen (issue 17:
`make bench-env` failed on an import error, and `make bench` on the reorganised entry point,
while nothing ran them).

:data:`EXERCISED` says where each one runs: in this module, in another test module or in CI
(.ci/run, the GitHub workflow); a place named there must really run ``make ... TARGET``, which
is checked. The targets that need the package index, or minutes (bench), are in :data:`BY_HAND`. A
target in neither fails :func:`test_every_listed_target_is_exercised_or_listed_with_the_reason`.

The targets run here as a user runs them, in throwaway copies of the project whose ``.venv`` is
this environment (``-o .venv/.installed``: never rebuild the shared environment).
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.helpers import (
    ROOT,
    ctrl_c,
    link_venv,
    make_repo,
    restore,
    run,
)

THIS = "tests/test_make.py"
CI = ".ci/run"
WORKFLOW = ".github/workflows/reproducibility.yml"

# target -> the files that run it for real (each is checked to hold a `make ... TARGET` call).
EXERCISED = {
    "help": [THIS],
    # and, as the prerequisite of every target that uses .venv, in .ci/run
    "install": [WORKFLOW],
    "lint": [CI, WORKFLOW],
    "numpy1": [CI, WORKFLOW],
    "repro": ["tests/test_e2e.py", "tests/test_paths.py", "tests/test_release.py"],
    "test": [CI, WORKFLOW, "tests/test_paths.py"],
    "test-fast": [THIS],
    "status": [THIS, "tests/test_paths.py"],
    "bench-env": [THIS],
    "check-repro": [CI, WORKFLOW, "tests/test_check_repro.py"],
    # here with a spent time budget (interpreter discovery, every one skipped, saying why); CI runs
    # the real check, a fresh .venv per Python, which needs the package index
    "check-pythons": [CI, THIS],
    "verify-data": [THIS],
    "push": [THIS],
    "pull": [THIS],
    "release": ["tests/test_release.py"],
    "tags": [WORKFLOW, "tests/test_tags.py", "tests/test_release.py"],
    "review": [WORKFLOW, "tests/test_release.py"],
}
# target -> why neither the suite nor CI runs it: the maintainer runs it by hand.
BY_HAND = {
    "lock": "rewrites requirements.lock from the package index (uv installed from PyPI); run when "
    "pyproject.toml's ranges change. Every `make install` (CI) then installs the new lock with "
    "--require-hashes, and tests/test_check_repro.py checks the venv matches it exactly",
    "check-wheels": "asks the package index for a wheel of every pin on 4 Pythons x 4 platforms "
    "(uv installed from PyPI); run after `make lock`",
}
BY_HAND["bench"] = (
    "even its cheapest mode (--skip-loop --skip-benchmark --scale 1) takes about 3 minutes, and the "
    "suite's time is itself a goal (docs/performance.md); the maintainer runs it, after `make repro`"
)
BY_HAND["mutate"] = (
    "installs mutmut from the package index on first use and takes minutes (about 26 for its "
    "default modules on 2 cores); tests/test_mutate.py tests its own logic, and the "
    "maintainer runs it on the modules a change touched (docs/testing.md)"
)
# Phony targets `make help` need not list (none today): helpers that only other targets use.
INTERNAL: set[str] = set()

# The copies link the shared environment as their .venv: never rebuild it from a test.
MAKE = ["make", "-o", ".venv/.installed"]


def make(repo: Path, target: str, *args: str, check: bool = True, timeout: float = 600, **kwargs):
    """``make TARGET ARGS`` in ``repo``, as a user types it."""
    return run([*MAKE, target, *args], repo, check=check, timeout=timeout, **kwargs)


def listed_targets(help_text: str) -> list[str]:
    return [line.split(":", 1)[0] for line in help_text.splitlines()]


def phony_targets(makefile: str) -> set[str]:
    joined = makefile.replace("\\\n", " ")
    return {t for line in re.findall(r"(?m)^\.PHONY:(.*)$", joined) for t in line.split()}


def runs_make(path: str, target: str) -> bool:
    """Whether ``path`` runs ``make [OPTIONS] [VAR=value] TARGET`` (not just names it in a comment)."""
    text = (ROOT / path).read_text()
    t = re.escape(target)
    # Python: ["make", "-o", ".venv/.installed", "TARGET", ...], or make(repo, "TARGET") here
    if path.endswith(".py"):
        call = rf'\[\s*"make"(?:\s*,\s*"[^"]*")*\s*,\s*"{t}"\s*[,\]]|\bmake\(\w+,\s*"{t}"'
        return re.search(call, text) is not None
    commands = [
        line
        for line in text.splitlines()
        if not line.lstrip().startswith(("#", "- name:", "name:"))
    ]
    call = rf"\bmake(?:\s+(?:-\S+|\w+=\S*))*\s+{t}(?=\s|$)"
    return any(re.search(call, line) for line in commands)


# ---- the inventory (unit tier) -----------------------------------------------------------------


def test_help_lists_every_phony_target_and_is_the_default_goal(tmp_path):
    # help needs nothing else
    shutil.copy2(ROOT / "Makefile", tmp_path / "Makefile")
    default = run(["make", "-s"], tmp_path)
    help_ = run(["make", "-s", "help"], tmp_path)
    assert default.stdout == help_.stdout
    lines = help_.stdout.splitlines()
    assert lines and all(re.fullmatch(r"[a-z0-9-]+: \S.*", line) for line in lines), lines
    listed = listed_targets(help_.stdout)
    assert len(listed) == len(set(listed)), listed
    makefile = (ROOT / "Makefile").read_text()
    assert set(listed) == phony_targets(makefile) - INTERNAL
    # each has a rule, not only a help line
    for target in listed:
        assert re.search(rf"(?m)^{re.escape(target)}:", makefile), target


def test_every_listed_target_is_exercised_or_listed_with_the_reason():
    listed = set(listed_targets(run(["make", "-s", "help"], ROOT).stdout))
    assert not set(EXERCISED) & set(BY_HAND)
    unaccounted = listed - set(EXERCISED) - set(BY_HAND)
    assert not unaccounted, f"`make help` lists {sorted(unaccounted)}: run them in a test or CI"
    stale = (set(EXERCISED) | set(BY_HAND)) - listed
    assert not stale, f"no longer in `make help`: {sorted(stale)}"
    missing = [(t, p) for t, places in EXERCISED.items() for p in places if not runs_make(p, t)]
    assert not missing, f"these places do not run `make TARGET`: {missing}"


# ---- the targets, run for real --------------------------------------------------------------


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    """A fresh copy of the project, never built, with this environment as its .venv."""
    return link_venv(make_repo(tmp_path_factory.mktemp("make-plain") / "repo"))


@pytest.fixture(scope="module")
def built(module_copy) -> Path:
    """A copy of the built project; its default DVC remote is ``tinydigits-dvc-remote`` beside it."""
    return link_venv(module_copy)


@pytest.fixture
def restored(built):
    """``built``, back to its committed, up-to-date state after the test, whatever it did."""
    yield built
    restore(built)


def makefile_only(folder: Path) -> Path:
    """``folder`` with the Makefile and the lock file it depends on, and nothing else."""
    folder.mkdir(exist_ok=True)
    for name in ("Makefile", "requirements.lock"):
        shutil.copyfile(ROOT / name, folder / name)
    return folder


def test_install_refuses_a_linked_venv_and_leaves_what_it_links_to(tmp_path):
    """A .venv linked to an environment elsewhere (one shared by several clones, say): rebuilding
    it with `venv --clear` would empty that folder, so make refuses, naming the link and both ways
    on. A fresh clone's requirements.lock is newer than any stamp, so this is what it meets."""
    repo = makefile_only(tmp_path / "repo")
    shared = tmp_path / "shared env"
    (shared / "bin").mkdir(parents=True)
    (shared / "bin" / "python").write_text("kept")
    (repo / ".venv").symlink_to(shared)
    result = run(["make", "install"], repo, check=False)
    assert result.returncode != 0 and (shared / "bin" / "python").read_text() == "kept"
    assert result.stdout.splitlines() == [
        f"make install: .venv is a symbolic link (to {shared}), and rebuilding it (venv --clear) "
        "would empty that folder. Remove the link (rm .venv) for this clone's own environment, or, "
        "if the linked one holds exactly the pins of requirements.lock, keep it and skip this "
        "step: make -o .venv/.installed TARGET"
    ]


@pytest.mark.parametrize("python", ["kept", "gone"])
def test_install_rebuilds_a_venv_whose_python_is_gone(tmp_path, python):
    """A .venv installed from a Python since upgraded or removed (Homebrew and pyenv do that):
    its bin/python is a dangling link, and the stamp is newer than the lock. `make install` must
    rebuild it, not call it up to date; with its Python there, there is nothing to do."""
    repo = makefile_only(tmp_path / "repo")
    base = tmp_path / "base-python"
    base.write_text("")
    (repo / ".venv/bin").mkdir(parents=True)
    (repo / ".venv/bin/python").symlink_to(base)
    (repo / ".venv/.installed").touch()
    os.utime(repo / "requirements.lock", (1, 1))
    os.utime(base, (1, 1), follow_symlinks=True)
    if python == "gone":
        base.unlink()
    # -n: what it would run, without running it
    result = run(["make", "-n", "install"], repo)
    rebuilds = "-m venv --clear .venv" in result.stdout
    assert rebuilds == (python == "gone"), result.stdout


@pytest.mark.e2e
def test_bench_env_times_the_environment_check(plain):
    result = make(plain, "bench-env")
    first, second = result.stdout.splitlines()[-2:]
    cold = re.fullmatch(
        r"bench-env: environment check, cold, in a fresh interpreter: median ([\d.]+) ms "
        r"\(min ([\d.]+), max ([\d.]+)\) over 41 runs",
        first,
    )
    assert cold, result.stdout
    median, low, high = map(float, cold.groups())
    assert 0 < low <= median <= high
    assert re.fullmatch(
        r"bench-env: interpreter start-up with the check \d+ ms, without \d+ ms \(medians of 41 "
        r"alternating runs\): the check adds -?[\d.]+ ms per stage",
        second,
    ), result.stdout


@pytest.mark.e2e
@pytest.mark.parametrize(
    "target, args, busy, line",
    [
        (
            "bench-env",
            [],
            lambda out, procs: "bench-env: environment check" in out,
            "bench-env: interrupted; it writes nothing",
        ),
        (
            "bench",
            ["BENCH_ARGS=--shared-venv --skip-loop"],
            # a stage of the `dvc repro` that fills its clone's cache
            lambda out, procs: any("-m pipeline" in p.cmd for p in procs),
            "bench: interrupted; no figures were written, and its clones are removed",
        ),
    ],
    ids=["bench-env", "bench"],
)
def test_ctrl_c_stops_a_measurement_in_one_line_and_leaves_nothing(
    plain, tmp_path, target, args, busy, line
):
    """Ctrl-C while `make bench-env` measures, and while `make bench` sets up its clone."""
    # group_ends: it waited for what it ran
    status, output = ctrl_c(
        plain, [*MAKE, target, *args], busy, env={"TMPDIR": str(tmp_path)}, group_ends=True
    )
    assert "Traceback" not in output, output
    lines = output.splitlines()
    assert lines[-2] == line, output
    assert status != 0 and re.search(rf"{target}\] (Interrupt|Error 130)$", lines[-1]), output
    # bench's clones went with it
    assert list(tmp_path.iterdir()) == []


PROBE = """
import os
from pathlib import Path

import pytest


def test_unit_tier():
    Path(os.environ["PROBE_DIR"], "unit").touch()
    assert "PROBE_FAIL" not in os.environ


@pytest.mark.e2e
def test_end_to_end_tier():
    Path(os.environ["PROBE_DIR"], "e2e").touch()
"""


@pytest.mark.e2e
def test_test_fast_runs_the_unit_tier_only_and_fails_with_it(plain, tmp_path):
    probe = plain / "tests" / "test_probe_tier.py"
    probe.write_text(PROBE)
    # the probe, and a module of real end-to-end tests (deselected, so never run)
    args = "PYTEST_ARGS=-p no:cacheprovider tests/test_probe_tier.py tests/test_paths.py"
    try:
        passed = make(plain, "test-fast", args, env={"PROBE_DIR": str(tmp_path)})
        # deselected: the probe's end-to-end test and test_paths' ones
        deselected = re.search(r"\b1 passed, (\d+) deselected\b", passed.stdout)
        assert deselected and int(deselected.group(1)) >= 2, passed.stdout
        assert (tmp_path / "unit").exists() and not (tmp_path / "e2e").exists()
        failed = make(
            plain,
            "test-fast",
            args,
            check=False,
            env={"PROBE_DIR": str(tmp_path), "PROBE_FAIL": "1"},
        )
        assert failed.returncode != 0 and "1 failed" in failed.stdout, failed.stdout
    finally:
        probe.unlink()


@pytest.mark.e2e
def test_status_fails_when_a_stage_is_stale_and_passes_when_up_to_date(restored):
    repo = restored
    assert make(repo, "status").returncode == 0
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("\nseed: 42\n", "\nseed: 43\n", 1))
    stale = make(repo, "status", check=False)
    assert stale.returncode != 0 and "status] Error" in stale.stderr, stale.stderr
    run(["git", "checkout", "params.yaml"], repo)
    assert make(repo, "status").returncode == 0
    # an output gone: sample is stale
    (repo / "datasets/interim/sample.npz").unlink()
    assert make(repo, "status", check=False).returncode != 0
    # status reports, never rebuilds
    assert not (repo / "datasets/interim/sample.npz").exists()


@pytest.mark.e2e
def test_verify_data_rehashes_and_names_a_corrupted_cache_object(restored):
    repo = restored
    ok = make(repo, "verify-data")
    assert re.search(
        r"verify-data: dvc\.lock: \d+ files match the md5 and size it records", ok.stdout
    )
    assert re.search(r"verify-data: cache .*: [1-9]\d* objects match their md5 names", ok.stdout)
    cache = repo / ".dvc/cache/files/md5"
    victim = max((p for p in cache.glob("??/*") if p.is_file()), key=lambda p: p.stat().st_size)
    good, stat = victim.read_bytes(), victim.stat()
    os.chmod(victim, 0o644)
    try:
        # one byte flipped, size and mtime kept: DVC's own checks would not look again
        victim.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
        os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        bad = make(repo, "verify-data", check=False)
        assert bad.returncode != 0
        assert f"does not match its name {victim.parent.name}{victim.name}" in bad.stdout, (
            bad.stdout
        )
        assert "verify-data: FAIL: 1 file(s) differ" in bad.stderr
    finally:
        victim.write_bytes(good)
        os.chmod(victim, stat.st_mode)
    make(repo, "verify-data")


@pytest.mark.e2e
def test_push_then_pull_into_a_fresh_clone_brings_every_stage_up_to_date(restored):
    repo = restored
    # .dvc/config's default remote
    remote = repo.parent / "tinydigits-dvc-remote"
    clone = repo.parent / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], repo.parent)
    link_venv(clone)
    # before anything was pushed: dvc's own error, then what to do instead
    early = make(clone, "pull", check=False)
    assert early.returncode != 0 and "Traceback" not in early.stderr, early.stdout + early.stderr
    assert early.stdout.splitlines()[-1] == (
        "make pull: dvc pull failed (above). If nothing was pushed to the remote yet (make push, "
        "from a clone that ran make repro), make repro builds the same files here."
    )

    assert run(["dvc", "status", "--cloud", "-q"], repo, check=False).returncode != 0
    pushed = make(repo, "push")
    assert "pushed" in pushed.stdout and list(remote.glob("files/md5/??/*")), pushed.stdout
    assert run(["dvc", "status", "--cloud", "-q"], repo, check=False).returncode == 0

    # a fresh clone has the git-tracked outputs but not the DVC-cached intermediates
    assert make(clone, "status", check=False).returncode != 0
    pulled = make(clone, "pull")
    assert "fetched" in pulled.stdout and "Running stage" not in pulled.stdout, pulled.stdout
    assert make(clone, "status").returncode == 0
    assert run(["git", "status", "--porcelain"], clone).stdout == ""


ECHO_ARGS = '#!/bin/sh\nfor a in "$@"; do printf \'%s\\n\' "$a"; done\n'


@pytest.mark.parametrize(
    "target, given, passed",
    [
        (
            "release",
            ["VERSION=2.0.0", 'NOTES=Keeps the "8" digit\'s $HOME `x` $(y) as typed'],
            ["release", "2.0.0", "--notes", 'Keeps the "8" digit\'s $HOME `x` $(y) as typed'],
        ),
        ("release", [], ["release", "", "--notes", ""]),
        ("review", ["BASE=tinydigits@v1.0.0 $(x)"], ["review", "tinydigits@v1.0.0 $(x)"]),
        ("review", [], ["review", "main"]),
    ],
)
def test_make_hands_version_notes_and_base_on_as_typed(tmp_path, target, given, passed):
    """Through make and the shell, quotes, $ and backquotes reach the command untouched: the
    Makefile and a stand-in for .venv's python that prints its arguments, one per line."""
    makefile_only(tmp_path)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(ECHO_ARGS)
    python.chmod(0o755)
    (tmp_path / ".venv" / ".installed").touch()
    result = run([*MAKE, "-s", target, *given], tmp_path)
    assert result.stdout.splitlines() == ["-m", "pipeline", *passed]


@pytest.mark.parametrize("flag", ["--skip", "--only"])
def test_check_pythons_refuses_a_python_the_lock_does_not_support(flag, capsys, monkeypatch):
    """A typo (`--skip 3.1`) would otherwise check every Python, for many minutes, or none."""
    from scripts import check_pythons

    # were the typo let through, no gate may start here
    monkeypatch.setattr(check_pythons, "run_child", pytest.fail)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    with pytest.raises(SystemExit) as stop:
        check_pythons.main([flag, "3.12", "3.1", "9.9"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(
        f"check_pythons.py: error: {flag} 3.1 9.9: not a Python that requirements.lock supports "
        f"({requires}: 3.11, "
    ), err


@pytest.mark.e2e
def test_check_pythons_with_no_time_left_skips_every_python_saying_why(plain):
    result = make(plain, "check-pythons", "CHECK_PYTHONS_ARGS=--budget 0")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    lines = [line.removeprefix("check-pythons: ") for line in result.stdout.splitlines()[1:]]
    head = re.fullmatch(
        rf"requirements\.lock supports requires-python {re.escape(requires)}: (.+)", lines[0]
    )
    assert head, result.stdout
    minors = head.group(1).split(", ")
    assert minors and all(re.fullmatch(r"3\.\d+", m) for m in minors)
    # found or not, none may run
    for minor, line in zip(minors, lines[1:-1], strict=True):
        assert line.startswith(f"SKIP {minor}: ") and (
            "time budget" in line or f"no python{minor} on this machine" in line
        ), result.stdout
    assert lines[-1] == f"passed none; failed none; skipped {', '.join(minors)}"
