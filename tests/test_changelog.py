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


def test_a_release_with_other_params_and_moved_images_says_so():
    """A MAJOR release: its section names each param changed and warns when test images were in the
    old train set (found by make mutate: both lines could be dropped and every test passed)."""
    third = copy.deepcopy(V1_ENTRY)
    third["params"]["sample"]["train_counts"] = [90] * 10
    third.update(
        version="2.0.0",
        tag="tinydigits@v2.0.0",
        bump="MAJOR",
        since="1.0.0",
        change={
            "train": {"added": 0, "removed": 100, "kept": 900},
            "test": {"added": 3, "removed": 3, "kept": 197},
            "moved": {"train_to_test": 3, "test_to_train": 0},
            "relabelled": 0,
        },
    )
    lines = changelog.section(third, V1_ENTRY).splitlines()
    assert "Params changed: `sample.train_per_class: 100 -> 90`." in lines
    assert (
        "- moved between splits: 3 train -> test, 0 test -> train (a model trained on the old "
        "train set would be scored on its own training images)"
    ) in lines
    third["change"]["moved"]["train_to_test"] = 0
    assert "- moved between splits: 0 train -> test, 0 test -> train" in (
        changelog.section(third, V1_ENTRY).splitlines()
    )
    message = changelog.tag_message({**third, "bump": None})
    assert message.splitlines()[0] == "TinyDigits 2.0.0"
