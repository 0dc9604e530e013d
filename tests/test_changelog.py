"""pipeline/release/changelog.py: the changelog and the release tag's message, rendered from the record."""

from __future__ import annotations

import copy
import hashlib

from pipeline.core import config
from pipeline.release import changelog, record
from tests.helpers import ENTRIES, ROOT, V1_ENTRY


def test_the_changelog_and_the_tag_message_come_from_the_record():
    assert (ROOT / record.CHANGELOG_FILE).read_text() == changelog.render(ENTRIES)
    second = {
        **copy.deepcopy(V1_ENTRY),
        "version": "1.0.1",
        "tag": "tinydigits@v1.0.1",
        "bump": "PATCH",
        "since": "1.0.0",
        "notes": "Card wording.",
        "change": None,
    }
    text = changelog.render([V1_ENTRY, second])
    assert text.index("## 1.0.1") < text.index("## 1.0.0") and "PATCH release after 1.0.0" in text
    assert "Params changed: none." in text and "Card wording." in text
    message = changelog.tag_message(second)
    digest = hashlib.sha256((ROOT / config.pickle_path("train")).read_bytes()).hexdigest()
    assert (
        message.startswith("TinyDigits 1.0.1 (PATCH after 1.0.0)")
        and f"train.pkl 264255 bytes sha256 {digest}" in message
    )
