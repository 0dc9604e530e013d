"""Every ```python block of README.md and docs/*.md runs as written, each pasted into a fresh
interpreter (``python -c``) at the repository's root, against the built files committed here.

A block that cannot run as written (it needs a hosted repository, a network, or is a fragment)
carries ``<!-- not run: REASON -->`` on the line right before its fence: it is reported as skipped
with that reason (``-ra`` lists them), and a marker without a reason fails. A top-level
``print(...)  # TEXT`` line states its output: TEXT must be a line of the block's stdout, in order.

An in-house runner rather than a plugin (pytest-markdown-docs, pytest-codeblocks, sybil): those run
every block inside the pytest process, where Hugging Face ``datasets`` and ``mlcroissant`` cannot
share one interpreter, none asks a skipped block for its reason, and one more dev pin would change
requirements.lock, a dep of every DVC stage.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md"))))
# the opening line of a Python block
FENCE = re.compile(r"```(?:python|python3|py)\s*")
# the whole comment; its reason after "not run:"
MARKER = re.compile(r"<!--\s*not run\b(.*?)-->")
# a top-level print and the output it states
STATED = re.compile(r"print\(.*\)\s+#\s?(.*\S)\s*")
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


@dataclass(frozen=True)
class Block:
    page: str
    # of the opening fence, 1-based
    line: int
    code: str
    # the HTML comment on the line before the fence, when it is a marker
    marker: str | None

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def reason(self) -> str:
        """What the marker says after ``not run:`` (empty when it says nothing)."""
        text = MARKER.fullmatch(self.marker).group(1).strip() if self.marker else ""
        return text.removeprefix(":").strip()


def blocks(page: str) -> list[Block]:
    lines = (ROOT / page).read_text().splitlines()
    found = []
    for i, line in enumerate(lines):
        if FENCE.fullmatch(line):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            before = lines[i - 1].strip() if i else ""
            marker = before if MARKER.fullmatch(before) else None
            found.append(Block(page, i + 1, "\n".join(lines[i + 1 : end]) + "\n", marker))
    return found


BLOCKS = [block for page in PAGES for block in blocks(page)]


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_python_block_runs_as_written(block, tmp_path):
    if block.marker:
        pytest.skip(f"{block.name}: not run: {block.reason or '(no reason given)'}")
    # A fresh interpreter, as a user pasting the block would have: nothing imported beforehand.
    env = {**os.environ, **OFFLINE, "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run(
        [sys.executable, "-c", block.code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{block.name} failed:\n{block.code}\n{result.stderr[-3000:]}"
    out = iter(result.stdout.splitlines())
    for stated in (m.group(1) for m in map(STATED.fullmatch, block.code.splitlines()) if m):
        # `in` on an iterator consumes it: each stated line must come after the previous one
        assert stated in out, f"{block.name} does not print {stated!r}:\n{result.stdout}"


def test_every_not_run_marker_gives_a_reason_right_before_a_python_block():
    marked = {(b.page, b.line - 1): b for b in BLOCKS if b.marker}
    wrong = [f"{b.name}: {b.marker} gives no reason" for b in marked.values() if not b.reason]
    for page in PAGES:
        for number, line in enumerate((ROOT / page).read_text().splitlines(), start=1):
            if re.search(r"<!--\s*not run", line) and (page, number) not in marked:
                wrong.append(f"{page}:{number}: a marker not on the line right before ```python")
    assert not wrong, "\n".join(wrong)


def test_the_runner_finds_every_python_block():
    """A fence the parser missed would go untested without a word."""
    for page in PAGES:
        text = (ROOT / page).read_text()
        assert len(re.findall(r"^```(?:python|python3|py)\s*$", text, flags=re.M)) == len(
            blocks(page)
        ), page
    assert any(b.page == "README.md" and not b.marker for b in BLOCKS)
