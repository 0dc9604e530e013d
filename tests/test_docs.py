"""Every Python block of the README runs as written, pasted into the project's Python at the
repository's root (the blocks of docs/releases.md that need a hosted repository run in test_tags)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, run

OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", (ROOT / path).read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(python_blocks("README.md"))))
def test_readme_python_block_runs(index, tmp_path):
    block = python_blocks("README.md")[index]
    # A fresh interpreter, as a user pasting the block would have: nothing imported beforehand.
    env = {**OFFLINE, "HF_HOME": str(tmp_path / "hf")}
    result = run(["python", "-c", block], ROOT, env=env, check=False, timeout=300)
    assert result.returncode == 0, f"README block {index} failed:\n{block}\n{result.stderr}"
