"""Unit tests of the environment check (markers, requirements.lock) and of the v1 digest check."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from pipeline import __main__ as entry
from pipeline import pickling
from pipeline.core import config, environment
from pipeline.core.errors import EnvironmentMismatch, ReproducibilityError
from tests.helpers import ROOT

LINUX_311 = {
    "python_version": "3.11",
    "python_full_version": "3.11.7",
    "sys_platform": "linux",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}
LOCK = """# requires-python: >=3.11,<3.15 (from pyproject.toml; other Pythons are refused)
numpy==2.4.6 ; python_full_version >= '3.12' \\
    --hash=sha256:aa
numpy==2.3.5 ; python_full_version < '3.12' \\
    --hash=sha256:bb
    # via tinydigits
pywin32==312 ; sys_platform == 'win32' \\
    --hash=sha256:cc
pyyaml==6.0.4 \\
    --hash=sha256:dd
"""


# ---- markers and the lock -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "marker, expected",
    [
        ("python_full_version < '3.12'", True),
        ("python_version >= '3.12'", False),
        # versions compare padded: 3.11 == 3.11.0
        ("python_version == '3.11.0'", True),
        (
            "sys_platform == 'win32' or (implementation_name == 'cpython' and python_version < '3.13')",
            True,
        ),
        ("sys_platform == 'win32' or implementation_name == 'pypy'", False),
        ("'linux' in sys_platform and platform_python_implementation != 'PyPy'", True),
        # and: both must hold
        ("sys_platform == 'linux' and python_version >= '3.12'", False),
        # compatible release: 3.11.7 is >= 3.11.2
        ("python_full_version ~= '3.11.2'", True),
        ("python_full_version ~= '3.11.8'", False),
        # ~= 3.10.1 is == 3.10.*: 3.11.7 is not
        ("python_full_version ~= '3.10.1'", False),
        # ~= 3.9 is == 3.*
        ("python_version ~= '3.9'", True),
        ("python_version ~= '2.7'", False),
    ],
)
def test_markers_are_evaluated_as_pep_508_says(marker, expected):
    assert environment.evaluate(marker, LINUX_311) is expected


def test_an_unknown_marker_variable_is_named():
    with pytest.raises(EnvironmentMismatch) as err:
        environment.evaluate("platform_wibble == 'x'", LINUX_311)
    assert str(err.value) == (
        "requirements.lock: unknown marker variable 'platform_wibble' in \"platform_wibble == 'x'\""
    )


def test_the_pin_whose_marker_holds_is_the_pin():
    requires, pins = environment.read_lock(LOCK, LINUX_311)
    assert requires == ">=3.11,<3.15"
    assert pins == {"numpy": "2.3.5", "pyyaml": "6.0.4"}
    _, pins = environment.read_lock(
        LOCK, dict(LINUX_311, python_version="3.13", python_full_version="3.13.0")
    )
    assert pins["numpy"] == "2.4.6"


def test_a_decisive_package_the_lock_does_not_pin_is_a_problem():
    found = environment.problems(
        LOCK, LINUX_311, "3.11.7", lambda n: {"numpy": "2.3.5", "scipy": "1.0"}, ("numpy", "scipy")
    )
    assert found == ["requirements.lock pins no version of scipy"]
    # and the packages after it are still checked
    found = environment.problems(
        LOCK, LINUX_311, "3.11.7", lambda n: {"scipy": None, "numpy": "1.0"}, ("scipy", "numpy")
    )
    assert found == [
        "requirements.lock pins no version of scipy",
        "numpy 1.0 is installed, requirements.lock pins 2.3.5",
    ]


def test_an_unreadable_lock_is_refused_naming_it(tmp_path):
    missing = tmp_path / "requirements.lock"
    with pytest.raises(
        EnvironmentMismatch, match=f"cannot read {missing} .*the stages run only in the repository"
    ):
        environment.check(missing)


def test_problems_name_package_found_and_pinned():
    def installed(names):
        return {"numpy": "1.26.4", "PyYAML": None}

    found = environment.problems(LOCK, LINUX_311, "3.11.7", installed, decisive=("numpy", "PyYAML"))
    assert found == [
        "numpy 1.26.4 is installed, requirements.lock pins 2.3.5",
        "PyYAML is not installed (requirements.lock pins 6.0.4)",
    ]
    assert (
        environment.problems(
            LOCK,
            LINUX_311,
            "3.11.7",
            lambda n: {"numpy": "2.3.5", "pyyaml": "6.0.4"},
            decisive=("numpy", "pyyaml"),
        )
        == []
    )


@pytest.mark.parametrize("other", ["2.3.4", "2.4.5", "2.3.5.post1", "2.3.5rc1"])
def test_any_other_release_of_a_pinned_package_is_refused(other):
    """The pin is exact: a patch, minor or post release can change bytes (a BLAS kernel, a
    float format), so only the pinned version passes."""
    found = environment.problems(
        LOCK, LINUX_311, "3.11.7", lambda n: {"numpy": other}, decisive=("numpy",)
    )
    assert found == [f"numpy {other} is installed, requirements.lock pins 2.3.5"]


@pytest.mark.parametrize(
    "version, ok", [("3.10.13", False), ("3.11.0", True), ("3.14.2", True), ("3.15.0", False)]
)
def test_only_the_locked_pythons_are_supported(version, ok):
    found = environment.problems(
        LOCK, LINUX_311, version, lambda n: {"numpy": "2.3.5"}, decisive=("numpy",)
    )
    assert (found == []) is ok
    if not ok:
        assert found == [
            f"Python {version} is not supported: requirements.lock is resolved for "
            "requires-python >=3.11,<3.15"
        ]


def test_this_venv_is_the_pinned_environment_and_the_lock_pins_every_decisive_package():
    # raises if not
    environment.check()
    _, pins = environment.read_lock(
        environment.REQUIREMENTS_FILE.read_text(), environment.marker_environment()
    )
    assert all(environment.canonical(n) in pins for n in environment.DECISIVE)


def test_the_lock_records_pyprojects_python_range():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert (
        environment.REQUIREMENTS_FILE.read_text()
        .splitlines()[0]
        .startswith(f"# requires-python: {requires} ")
    )


def test_every_stage_runs_through_the_check_and_depends_on_the_lock():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(entry.STAGES)
    for name, stage in stages.items():
        assert stage["cmd"] == f"exec python3 -m pipeline {name}"
        assert "requirements.lock" in stage["deps"], name


# ---- the v1 digests ----------------------------------------------------------------------------


def test_v1_params_and_other_bytes_are_refused_naming_both_digests():
    bad = b"not the v1 pickle"
    with pytest.raises(
        ReproducibilityError,
        match=(
            f"train.pkl built 17 bytes sha256 {hashlib.sha256(bad).hexdigest()}, "
            f"but v1 is sha256 {config.V1_SHA256['train']}; nothing was replaced"
        ),
    ):
        pickling.check_v1({"train": bad})


# ---- the entry point runs the check: `python -m pipeline <stage>`, as dvc.yaml does ----------------


def run_stage(python, stage, cwd, pythonpath):
    """``python -m pipeline <stage>`` in ``cwd`` (an empty project folder), this repository importable."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, [*pythonpath, ROOT])))
    return subprocess.run(
        [str(python), "-m", "pipeline", stage],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def stage_folder(tmp_path):
    """What a stage needs to run in a folder of its own: params.yaml (paths are relative to the cwd)."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    return folder


@pytest.mark.parametrize("stage", ["fetch", "pickle"])
def test_a_stage_started_through_the_entry_point_refuses_another_numpy_and_writes_nothing(
    stage_folder, tmp_path, stage
):
    """No pyenv, no network: a ``numpy-1.0.0.dist-info`` folder ahead of site-packages on sys.path is
    what this interpreter reports as installed, as a stray older NumPy on PYTHONPATH would be."""
    shadow = tmp_path / "shadow"
    (shadow / "numpy-1.0.0.dist-info").mkdir(parents=True)
    (shadow / "numpy-1.0.0.dist-info/METADATA").write_text(
        "Metadata-Version: 2.1\nName: numpy\nVersion: 1.0.0\n"
    )
    before = files_under(stage_folder)
    result = run_stage(sys.executable, stage, stage_folder, [shadow])
    pinned = environment.read_lock(
        environment.REQUIREMENTS_FILE.read_text(), environment.marker_environment()
    )[1]["numpy"]
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(
        f"{stage}: error: wrong environment for this stage: numpy 1.0.0 is installed, "
        f"requirements.lock pins {pinned}; interpreter {sys.executable} "
    )
    assert result.stderr.endswith("Nothing was written.\n") and "Traceback" not in result.stderr
    assert result.stdout == "" and files_under(stage_folder) == before


def test_the_same_stage_runs_through_the_entry_point_without_the_shadow(stage_folder):
    """The control for the test above: the same command, unshadowed, does write."""
    result = run_stage(sys.executable, "fetch", stage_folder, [])
    assert result.returncode == 0, result.stderr
    assert "datasets/raw/digits.npz" in files_under(stage_folder)


# the check's own code must run on these
OLD_PYTHONS = ["3.6", "3.7", "3.8", "3.9", "3.10"]


def old_python(version):
    """An interpreter of that version: pyenv's (not its shims), or the system's."""
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"))
    found += [p for p in [Path(f"/usr/bin/python{version}")] if p.exists()]
    return found[0] if found else None


@pytest.fixture(scope="module")
def never_set_up(tmp_path_factory):
    """A checkout with no .venv (never set up): the package and the lock alone, so that a stage
    started by another Python has no environment to hand itself over to."""
    folder = tmp_path_factory.mktemp("never-set-up")
    shutil.copytree(
        ROOT / "pipeline", folder / "pipeline", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "requirements.lock", folder)
    return folder


@pytest.mark.parametrize("version", OLD_PYTHONS)
def test_an_old_python_gets_the_one_message_and_writes_nothing(stage_folder, never_set_up, version):
    python = old_python(version)
    if python is None:
        pytest.skip(f"no Python {version} on this machine (pyenv or PATH)")
    before = files_under(stage_folder)
    result = run_stage(python, "fetch", stage_folder, [never_set_up])
    assert result.returncode == 1, result.stderr
    assert re.fullmatch(
        rf"fetch: error: wrong environment for this stage: Python {re.escape(version)}\.\d+ is not "
        r"supported: requirements.lock is resolved for (requires-python )?>=3\.11,<3\.15; "
        r".* Nothing was written.\n",
        result.stderr,
    ), result.stderr
    assert files_under(stage_folder) == before


def test_an_old_python_in_a_set_up_checkout_hands_the_stage_over_to_its_venv(stage_folder):
    """The same command in this checkout, which has its .venv: the stage runs there, really
    replacing the old Python's process, and says so."""
    python = old_python(OLD_PYTHONS[-1])
    if python is None:
        pytest.skip(f"no Python {OLD_PYTHONS[-1]} on this machine (pyenv or PATH)")
    result = run_stage(python, "fetch", stage_folder, [])
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(
        f"fetch: {python} is not the pinned environment; running with this project's "
        ".venv/bin/python (activate .venv to run it directly)\nfetch: source "
    )
    assert files_under(stage_folder) == [
        "datasets",
        "datasets/raw",
        "datasets/raw/digits.npz",
        "params.yaml",
    ]


def test_lock_names_are_every_pinned_package_whatever_its_marker():
    # read_lock keeps the pins whose marker holds here; lock_names is what the lock allows at all
    assert environment.lock_names(LOCK) == {"numpy", "pywin32", "pyyaml"}
    assert "pywin32" not in environment.read_lock(LOCK, LINUX_311)[1]
    assert environment.lock_names("PyYAML==6.0.4 \\\n    --hash=sha256:dd\n") == {"pyyaml"}


# ---- each comparison at its boundary, every variable, names, the listing: found by mutation
# testing (mutmut 3.8), where a flipped boundary, a renamed variable or break for continue passed


@pytest.mark.parametrize(
    "left, op, right, expected",
    [
        ("3.12", "<=", "3.12.0", True),
        ("3.12", "<", "3.12", False),
        ("3.12", ">", "3.12", False),
        ("3.12", ">=", "3.12.0", True),
        ("3.12", "==", "3.12.0", True),
        ("3.12", "!=", "3.12.0", False),
        # arbitrary equality compares the strings
        ("3.12", "===", "3.12.0", False),
        ("3.12", "===", "3.12", True),
        # the bound itself is compatible
        ("3.11.2", "~=", "3.11.2", True),
        # >= 3.11.2 but not 3.11.*
        ("3.12.0", "~=", "3.11.2", False),
        # not versions: compared as strings, >=
        ("linux", "~=", "linux", True),
        ("darwin", "~=", "linux", False),
        # a version against a word: compared as strings
        ("3.12", "!=", "linux", True),
        ("linux", "==", "linux", True),
        ("linux", "in", "linux2", True),
        ("win32", "not in", "linux cygwin", True),
        ("linux", "not in", "linux cygwin", False),
    ],
)
def test_each_comparison_at_its_boundary(left, op, right, expected):
    env = {"a": left, "b": right}
    assert environment.evaluate(f"a {op} b", env) is expected


def test_not_in_may_be_spelt_with_any_spacing():
    assert environment.evaluate("sys_platform not   in 'win32 cygwin'", LINUX_311) is True


SUPPORTED = {
    "python_version",
    "python_full_version",
    "implementation_name",
    "platform_python_implementation",
    "sys_platform",
    "platform_system",
    "platform_machine",
    "os_name",
    "extra",
}


@pytest.mark.parametrize("variable", sorted(SUPPORTED))
def test_every_marker_variable_is_what_pypas_packaging_says(variable):
    """Against packaging's own marker environment (PyPA's reference implementation, pinned),
    not a second copy of ours; ``extra`` is empty outside an extra's install."""
    from packaging.markers import default_environment

    ours = environment.marker_environment()
    assert set(ours) == SUPPORTED
    expected = "" if variable == "extra" else default_environment()[variable]
    assert ours[variable] == expected
    assert environment.evaluate(f"{variable} === '{expected}'", ours) is True


@pytest.mark.parametrize(
    "name, expected",
    [
        ("PyYAML", "pyyaml"),
        ("scikit_learn", "scikit-learn"),
        ("ruamel.yaml.clib", "ruamel-yaml-clib"),
        ("zope__interface", "zope-interface"),
        ("A-_.b", "a-b"),
    ],
)
def test_names_are_compared_as_pep_503_spells_them(name, expected):
    assert environment.canonical(name) == expected


def test_a_lock_without_its_python_header_reads_as_no_requirement():
    assert environment.read_lock("pyyaml==6.0.4\n", LINUX_311) == (None, {"pyyaml": "6.0.4"})


def test_installed_versions_takes_the_first_on_sys_path_by_canonical_name(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "My_Pkg-1.2.3.dist-info").mkdir(parents=True)
    (first / "other-0.1.dist-info").mkdir()
    (second / "my_pkg-9.9.dist-info").mkdir(parents=True)
    (second / "later-2.0.dist-info").mkdir()
    # an egg-info, which the listing does not read: importlib.metadata finds it
    egg = second / "eggy-0.5.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: eggy\nVersion: 0.5\n")
    # an entry that cannot be listed is skipped, not the end
    missing = tmp_path / "not-there"
    monkeypatch.chdir(first)
    monkeypatch.setattr(sys, "path", [str(missing), "", str(second)])
    assert environment.installed_versions(["my-pkg", "later", "eggy", "absent-pkg"]) == {
        # "" is the current folder, listed before second
        "my-pkg": "1.2.3",
        "later": "2.0",
        "eggy": "0.5",
        "absent-pkg": None,
    }


def test_check_in_process_says_what_is_wrong_which_interpreter_and_the_fix(tmp_path):
    """The message a stage prints, built here without a stage's process around it (the stage
    tests above run one, where mutation testing cannot reach)."""
    import platform

    lock = tmp_path / "requirements.lock"
    here = environment.installed_versions(["numpy"])["numpy"]
    lock.write_text(
        (ROOT / "requirements.lock").read_text().replace(f"numpy=={here} ", "numpy==0.0.1 ")
    )
    with pytest.raises(EnvironmentMismatch) as err:
        environment.check(lock)
    assert str(err.value) == (
        f"wrong environment for this stage: numpy {here} is installed, requirements.lock pins 0.0.1; "
        f"interpreter {sys.executable} (Python {platform.python_version()}). Fix: {environment.FIX}. "
        "Nothing was written."
    )
    pandas = environment.installed_versions(["pandas"])["pandas"]
    lock.write_text(lock.read_text().replace(f"pandas=={pandas} ", "pandas==0.0.2 "))
    with pytest.raises(EnvironmentMismatch) as err:
        environment.check(lock)
    # every problem, in one message
    assert str(err.value).startswith(
        f"wrong environment for this stage: numpy {here} is installed, requirements.lock pins 0.0.1; "
        f"pandas {pandas} is installed, requirements.lock pins 0.0.2; interpreter {sys.executable} "
    )
    # the pinned environment: no complaint
    environment.check(ROOT / "requirements.lock")
    with pytest.raises(
        EnvironmentMismatch,
        match=r"^cannot read .*/nowhere\.lock \(.*No such file.*\); the stages run only in the repository$",
    ):
        environment.check(tmp_path / "nowhere.lock")


def test_a_marker_it_cannot_read_is_named():
    with pytest.raises(
        EnvironmentMismatch,
        match=r"^requirements\.lock: cannot read the marker 'python_version >= 3\.11'$",
    ):
        # an unquoted version
        environment.evaluate("python_version >= 3.11", LINUX_311)


@pytest.mark.parametrize(
    "header, resolved_for",
    [
        ("# requires-python: >=3.11,<3.15 (from pyproject.toml)\n", ">=3.11,<3.15"),
        ("", "newer Pythons"),
    ],
)
def test_a_python_without_importlib_metadata_is_named_with_what_the_lock_is_for(
    header, resolved_for, tmp_path, monkeypatch
):
    # Python 3.7, as far as the check can tell: its own sys and platform, nothing else replaced
    monkeypatch.setattr(
        environment,
        "sys",
        SimpleNamespace(version_info=(3, 7, 9, "final", 0), executable="/old/bin/python3.7"),
    )
    monkeypatch.setattr(environment, "platform", SimpleNamespace(python_version=lambda: "3.7.9"))
    lock = tmp_path / "requirements.lock"
    lock.write_text(header + "numpy==2.3.5 \\\n    --hash=sha256:00\n", encoding="utf-8")
    with pytest.raises(EnvironmentMismatch) as raised:
        environment.check(lock)
    assert str(raised.value) == (
        f"wrong environment for this stage: Python 3.7.9 is not supported: requirements.lock is "
        f"resolved for {resolved_for}; interpreter /old/bin/python3.7 (Python 3.7.9). Fix: "
        f"{environment.FIX}. Nothing was written."
    )


# ---- another Python hands the command over to .venv's ---------------------------------------------
# `.venv/bin/dvc repro` without activating .venv: DVC's shell execs `python3 -m pipeline <stage>` with
# the first python3 on PATH. tests/test_environment_stages.py runs that end to end.


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout whose .venv holds a ``bin/python``; the environment module pointed at it."""
    monkeypatch.setattr(environment, "REQUIREMENTS_FILE", tmp_path / "requirements.lock")
    python = tmp_path / ".venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    return tmp_path


def test_project_python_is_the_venvs_unless_this_process_runs_in_it(checkout):
    python = checkout / ".venv/bin/python"
    assert environment.project_python(prefix="/usr") == python
    assert environment.project_python(prefix=str(checkout / ".venv")) is None
    # the same folder by another path
    assert environment.project_python(prefix=str(checkout / ".venv/bin/..")) is None
    python.unlink()
    assert environment.project_python(prefix="/usr") is None
    # a folder in its place is no interpreter
    python.mkdir()
    assert environment.project_python(prefix="/usr") is None


def unmarked(monkeypatch):
    """No hand-over mark in this process's environment, and none left after the test (set, then
    deleted, so that pytest removes whatever the code under test sets)."""
    monkeypatch.setenv(environment.HANDED_OVER, "")
    monkeypatch.delenv(environment.HANDED_OVER)


def test_hand_over_replaces_the_process_with_the_same_command(monkeypatch, capsys):
    started = []
    unmarked(monkeypatch)
    monkeypatch.setattr(
        os, "execv", lambda path, args: started.append((path, args, dict(os.environ)))
    )
    print("said before", end="")
    environment.hand_over(Path("/p/.venv/bin/python"), ["sample"])
    # what this process printed is out before the other takes its place
    assert capsys.readouterr().out == "said before"
    ((path, args, env),) = started
    assert (path, args) == (
        "/p/.venv/bin/python",
        ["/p/.venv/bin/python", "-m", "pipeline", "sample"],
    )
    assert env[environment.HANDED_OVER] == "1"


@pytest.mark.parametrize(
    "error, why",
    [
        (PermissionError(13, "Permission denied"), "Permission denied"),
        # no errno, no strerror: the error's own text
        (OSError("not an interpreter"), "not an interpreter"),
    ],
)
def test_hand_over_that_cannot_start_says_why_and_hands_nothing_on(monkeypatch, error, why):
    unmarked(monkeypatch)

    def refused(path, args):
        raise error

    monkeypatch.setattr(os, "execv", refused)
    assert environment.hand_over(Path("/p/python"), ["fetch"]) == why
    assert environment.HANDED_OVER not in os.environ


def wrong_environment(monkeypatch, handed):
    """The entry point in an environment the check refuses, its hand-over recorded, not made."""

    def check():
        raise EnvironmentMismatch("numpy 1.0 ...")

    monkeypatch.setattr(environment, "check", check)
    monkeypatch.setattr(environment, "project_python", lambda: Path("/p/.venv/bin/python"))
    monkeypatch.setattr(
        environment, "hand_over", lambda python, argv: handed.append((python, argv)) or "gone"
    )


def test_the_entry_point_hands_a_refused_command_over_to_the_venv(monkeypatch, capsys):
    handed = []
    unmarked(monkeypatch)
    wrong_environment(monkeypatch, handed)
    # hand_over returns only when the other Python cannot start: then the refusal stands
    assert entry.main(["sample"]) == 1
    assert handed == [(Path("/p/.venv/bin/python"), ["sample"])]
    assert capsys.readouterr().err == (
        f"sample: {sys.executable} is not the pinned environment; running with this project's "
        ".venv/bin/python (activate .venv to run it directly)\n"
        "sample: error: cannot start /p/.venv/bin/python: gone\n"
        "sample: error: numpy 1.0 ...\n"
    )


def test_a_command_handed_over_once_is_refused_not_handed_over_again(monkeypatch, capsys):
    handed = []
    monkeypatch.setenv(environment.HANDED_OVER, "1")
    wrong_environment(monkeypatch, handed)
    assert entry.main(["sample"]) == 1
    assert handed == [] and capsys.readouterr().err == "sample: error: numpy 1.0 ...\n"
    # nothing it starts inherits the mark
    assert environment.HANDED_OVER not in os.environ
