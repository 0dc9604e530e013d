"""scripts/mutate.py (``make mutate``): its pure parts. The run itself needs mutmut from the package
index and takes minutes; docs/testing.md says what it found."""

from __future__ import annotations

import configparser
import sys

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import mutate  # noqa: E402


def test_cache_decorators_are_removed_and_nothing_else():
    source = (
        "import functools\n\n@functools.cache\ndef a():\n    return 1\n\n"
        "    @functools.lru_cache(maxsize=None)\n    def b(self):\n        return 2\n\n"
        "@functools.wraps(a)\ndef c():\n    pass\n"
    )
    assert mutate.uncached(source) == (
        "import functools\n\ndef a():\n    return 1\n\n"
        "    def b(self):\n        return 2\n\n"
        "@functools.wraps(a)\ndef c():\n    pass\n"
    )
    schemas = (ROOT / "pipeline/schemas.py").read_text()
    assert "@functools.cache" in schemas and "@functools.cache" not in mutate.uncached(schemas)


def test_failed_tests_are_named_by_file_and_function_once():
    output = (
        "FAILED tests/test_diff.py::test_json_numbers_between_two_revisions - Assertio...\n"
        "FAILED tests/test_diff.py::test_an_unknown_revision_is_one_line[args0-unknown revision 'nope': x]\n"
        "FAILED tests/test_diff.py::test_an_unknown_revision_is_one_line[args1-y] - assert 1 == 0\n"
        "  FAILED not at the start of a line\n"
        "1 failed, 45 passed in 7.78s\n"
    )
    assert mutate.failed_tests(output) == [
        "tests/test_diff.py::test_an_unknown_revision_is_one_line",
        "tests/test_diff.py::test_json_numbers_between_two_revisions",
    ]


def test_the_config_is_what_mutmut_reads():
    text = mutate.config(
        ["pipeline/schemas.py", "pipeline/release/*"],
        ["tests/test_x.py::test_y"],
        ["README.md", "datasets"],
    )
    cfg = configparser.ConfigParser()
    cfg.read_string(text)
    section = cfg["mutmut"]
    assert section["source_paths"] == "pipeline"
    assert section["only_mutate"].split("\n") == ["pipeline/schemas.py", "pipeline/release/*"]
    assert section["also_copy"].split("\n") == ["README.md", "datasets"]
    assert section["pytest_add_cli_args"].split("\n") == [
        "-m",
        "not e2e",
        "-p",
        "no:cacheprovider",
        "--deselect",
        "tests/test_x.py::test_y",
    ]
    # discovering: mutmut's -x overridden, so that one run names every test that cannot run
    found = configparser.ConfigParser()
    found.read_string(mutate.config(["pipeline/schemas.py"], [], [], discover=True))
    assert found["mutmut"]["pytest_add_cli_args"].split("\n")[-1] == "--maxfail=1000000"


def test_results_are_counted_per_module_methods_included():
    listed = (
        "    pipeline.core.params.x_parse__mutmut_3: survived\n"
        "    pipeline.core.params.x_parse__mutmut_4: killed\n"
        "    pipeline.core.params.x_load__mutmut_1: killed\n"
        "    pipeline.schemas.xǁFrameCheckǁcheck__mutmut_1: no tests\n"
        "\n"
    )
    results = mutate.parse_results(listed)
    assert results["pipeline.schemas.xǁFrameCheckǁcheck__mutmut_1"] == "no tests"
    assert mutate.summary(results) == [
        "pipeline.core.params: 3 mutants: 2 killed, 1 survived",
        "pipeline.schemas: 1 mutants: 1 no tests",
    ]


def test_a_diff_keeps_its_changed_lines_only():
    shown = (
        "# pipeline.core.params.x_parse__mutmut_3: survived\n"
        "--- pipeline/core/params.py\n+++ pipeline/core/params.py\n@@ -1,3 +1,3 @@\n"
        ' def parse(raw):\n-    raw = mapping(raw, "", KEYS)\n+    raw = mapping(raw, None, KEYS)\n'
    )
    assert mutate.changed_lines(shown) == [
        '-    raw = mapping(raw, "", KEYS)',
        "+    raw = mapping(raw, None, KEYS)",
    ]


def test_mutmuts_failure_words_are_recognised():
    assert mutate.TESTS_FAILED.search("failed to collect stats. runner returned 1")
    assert mutate.TESTS_FAILED.search("Failed to run clean test")
    assert not mutate.TESTS_FAILED.search("439/439  🎉 370 🫥 6  🙁 63")


def test_a_module_outside_pipeline_is_one_line_before_anything_is_installed(tmp_path):
    import subprocess

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/mutate.py"), "pipeline/no_such_module.py"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "mutate: error: 'pipeline/no_such_module.py' names no file under pipeline/; give paths such "
        "as pipeline/core/params.py or pipeline/release/*"
    ]
