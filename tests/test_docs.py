"""Every Python block of README.md and docs/*.md runs as written, each pasted into a fresh
interpreter at the repository's root, against the files the repository ships.

A block that cannot run here says so on the line right above its fence, with the reason:
``<!-- not run here: REASON -->`` (a placeholder for a hosted repository, or another test that runs
it with more checks). A marker without a reason fails, and so does a marked block that no reason
explains. An in-house runner rather than a plugin (pytest-markdown-docs, sybil): it is twenty lines,
it needs no new pin in requirements.lock, and it runs each block in its own process, as a user
pasting it would, which the plugins' shared-namespace runners do not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import ROOT, run

OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:^(?P<marker><!--.*?-->)\n)?^```python\n(?P<code>.*?)^```", re.M | re.S)
MARKER = re.compile(r"<!-- not run here:(?P<reason>.*?)-->")


def python_blocks(page: str) -> list[tuple[str, str | None]]:
    """(code, reason it is not run, or None) for each ```python block of ``page``."""
    found = []
    for m in BLOCK.finditer((ROOT / page).read_text(encoding="utf-8")):
        marker = MARKER.fullmatch(m["marker"] or "")
        if m["marker"] and not marker:
            pytest.fail(
                f"{page}: a comment above a python block is not `<!-- not run here: REASON -->`"
            )
        found.append((m["code"], marker["reason"].strip() if marker else None))
    return found


BLOCKS = [
    (page, i, code, why) for page in PAGES for i, (code, why) in enumerate(python_blocks(page))
]
RUN = [pytest.param(page, code, id=f"{page}#{i}") for page, i, code, why in BLOCKS if why is None]


def test_the_pages_have_python_blocks_and_each_skipped_one_says_why():
    assert len(RUN) >= 3 and {page for page, *_ in BLOCKS} >= {"README.md", "docs/loading.md"}
    for page, i, _, why in BLOCKS:
        assert why is None or len(why.split()) >= 4, f"{page} block {i}: give a reason: {why!r}"


@pytest.mark.parametrize("page, code", RUN)
def test_python_block_runs_as_written(page, code, tmp_path):
    # A fresh interpreter, as a user pasting the block would have: nothing imported beforehand.
    env = {**OFFLINE, "HF_HOME": str(tmp_path / "hf")}
    result = run(["python", "-c", code], ROOT, env=env, check=False, timeout=300)
    assert result.returncode == 0, f"{page}: a block failed:\n{code}\n{result.stderr}"


def test_a_broken_block_fails_and_an_unexplained_marker_is_refused(tmp_path, monkeypatch):
    """The runner itself: a block that raises is reported, and a marker needs its reason."""
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- not run here: -->\n```python\nprint(1)\n```\n```python\nraise SystemExit(3)\n```\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (marked, why), (code, none) = python_blocks(Path("page.md"))
    assert why == "" and none is None
    assert run(["python", "-c", code], tmp_path, check=False).returncode == 3
    page.write_text("<!-- a note -->\n```python\nprint(1)\n```\n")
    with pytest.raises(pytest.fail.Exception, match="not run here: REASON"):
        python_blocks(Path("page.md"))
