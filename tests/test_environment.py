"""Unit tests of the environment check (markers, requirements.lock) and of the v1 digest check."""

import hashlib
import tomllib

import pytest
import yaml

from pipeline import __main__ as entry
from pipeline import pickling
from pipeline.core import config, environment
from pipeline.core.errors import EnvironmentMismatch, ReproducibilityError
from tests.conftest import ROOT

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
        ("python_version == '3.11.0'", True),  # versions compare padded: 3.11 == 3.11.0
        (
            "sys_platform == 'win32' or (implementation_name == 'cpython' and python_version < '3.13')",
            True,
        ),
        ("sys_platform == 'win32' or implementation_name == 'pypy'", False),
        ("'linux' in sys_platform and platform_python_implementation != 'PyPy'", True),
    ],
)
def test_markers_are_evaluated_as_pep_508_says(marker, expected):
    assert environment.evaluate(marker, LINUX_311) is expected


def test_an_unknown_marker_variable_is_named():
    with pytest.raises(EnvironmentMismatch, match="unknown marker variable 'platform_wibble'"):
        environment.evaluate("platform_wibble == 'x'", LINUX_311)


def test_the_pin_whose_marker_holds_is_the_pin():
    requires, pins = environment.read_lock(LOCK, LINUX_311)
    assert requires == ">=3.11,<3.15"
    assert pins == {"numpy": "2.3.5", "pyyaml": "6.0.4"}
    _, pins = environment.read_lock(
        LOCK, dict(LINUX_311, python_version="3.13", python_full_version="3.13.0")
    )
    assert pins["numpy"] == "2.4.6"


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
    environment.check()  # raises if not
    _, pins = environment.read_lock(
        environment.LOCK_FILE.read_text(), environment.marker_environment()
    )
    assert all(environment.canonical(n) in pins for n in environment.DECISIVE)


def test_the_lock_records_pyprojects_python_range():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert (
        environment.LOCK_FILE.read_text()
        .splitlines()[0]
        .startswith(f"# requires-python: {requires} ")
    )


def test_every_stage_runs_through_the_check_and_depends_on_the_lock():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(entry.STAGES)
    for name, stage in stages.items():
        assert stage["cmd"] == f"python -m pipeline {name}"
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
