"""`make release`'s own logic (pipeline/release/cut.py) in this process, on a small git repository
holding the published files: every refusal and its message, the entry, changelog, commit and tags
a release makes, and the roll-back when it fails half-way.

The two slow steps are replaced here, and only here: the gate (``make check-repro``, a clean clone
rebuilt from scratch) and the ``dvc repro`` that rewrites the card. tests/test_release.py runs the
real ones, end to end, through ``make release``; this module reaches the code mutation testing
changes (``make mutate``), which a ``make`` run in another process cannot."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pipeline.core import config
from pipeline.core.errors import ReleaseError
from pipeline.core.storage import npz_bytes
from pipeline.loader import reader
from pipeline.release import changelog, cut, diff, fingerprint, record, revisions
from tests.helpers import (
    ENTRIES,
    LAST,
    MAJOR,
    MINOR,
    PATCH,
    PATCH_AFTER_MAJOR,
    ROOT,
    git,
    help_text,
    release_state,
    run,
)

DATA = config.DATASET_DIR
COPIED = [
    "dvc.yaml",
    "params.yaml",
    config.METRICS_FILE.as_posix(),
    config.RECORD_FILE.as_posix(),
    *(
        f"{DATA.as_posix()}/{n}"
        for n in fingerprint.published_names((ROOT / "dvc.yaml").read_text())
    ),
]
# HEAD's committer date: the release's date (UTC)
COMMITTED_AT = "2031-02-03T23:30:00+00:00"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A repository whose first commit holds this project's published files and record (so it
    records every release so far, untagged; no card or CHANGELOG.md yet: a release writes them),
    then a commit that changes documentation only (a PATCH change). Built once; never changed."""
    repo = tmp_path_factory.mktemp("cut") / "repo"
    for rel in COPIED:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, repo / rel)
    run(["git", "init", "-q", "-b", "main"], repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the published files, as recorded")
    (repo / "README.md").write_text("A line of documentation: a PATCH-level change.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "docs")
    return repo


@pytest.fixture
def repo(template, tmp_path, monkeypatch):
    """This test's own copy of :func:`template`. Each call names the repository as its root, from
    a working directory that is not a repository at all, so that a call that forgot its root cannot
    pass by reading the working directory's."""
    repo = shutil.copytree(template, tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    # the release commits in this process: a git identity
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "tests")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "tests@tinydigits.invalid")
    return repo


def ninety_per_digit(repo):
    """The issue's scenario: keep the first 90 train images of each digit, commit; a MAJOR change."""
    path = repo / DATA / "train.npz"
    images, labels = reader.validate(reader.parse_npz(path.read_bytes()))
    keep = np.sort(np.concatenate([np.flatnonzero(labels == d)[:90] for d in range(10)]))
    # the .npz alone: a release measures the splits from it (the other files keep their bytes)
    path.write_bytes(npz_bytes({"images": images[keep], "labels": labels[keep]}))
    git(repo, "add", "-A")
    run(
        ["git", "commit", "-qm", "90 train images per digit"],
        repo,
        env={"GIT_COMMITTER_DATE": COMMITTED_AT},
    )


@pytest.mark.parametrize(
    "version, message",
    [
        ("", "VERSION must be a semantic version MAJOR.MINOR.PATCH such as 2.0.0, got ''"),
        ("2.0", "VERSION must be a semantic version MAJOR.MINOR.PATCH such as 2.0.0, got '2.0'"),
        (LAST, f"VERSION {LAST} is not greater than the last release, {LAST}"),
        ("0.9.9", f"VERSION 0.9.9 is not greater than the last release, {LAST}"),
        (
            MAJOR,
            f"VERSION {MAJOR} is a MAJOR bump but the change since {LAST} is PATCH (every published "
            f"file is byte-identical (card, metadata or code changed)); release it as {PATCH}",
        ),
        (
            MINOR,
            f"VERSION {MINOR} is a MINOR bump but the change since {LAST} is PATCH (every published "
            f"file is byte-identical (card, metadata or code changed)); release it as {PATCH}",
        ),
    ],
)
def test_a_bad_version_is_refused_with_what_would_be_valid(repo, version, message):
    before = release_state(repo)
    with pytest.raises(ReleaseError) as err:
        cut.plan(version, repo)
    assert str(err.value) == message
    assert release_state(repo) == before


def test_the_bump_the_change_calls_for_passes_the_cheap_checks(repo):
    entries, level, reasons, now = cut.plan(PATCH, repo)
    assert entries == ENTRIES and level == "PATCH"
    assert reasons == ["every published file is byte-identical (card, metadata or code changed)"]
    assert now == fingerprint.measure(cut.current_files(repo))
    assert now["files"] == ENTRIES[-1]["files"]


def test_a_record_without_releases_is_refused(repo):
    (repo / config.RECORD_FILE).write_text('{"releases": []}\n')
    git(repo, "commit", "-qam", "an empty record")
    with pytest.raises(
        ReleaseError,
        match=r"^datasets/tinydigits/releases.json records no release; "
        r"the first \(1\.0\.0\) is recorded by hand$",
    ):
        cut.plan(PATCH, repo)


def test_an_existing_tag_is_refused(repo):
    git(repo, "tag", f"tinydigits@v{PATCH}")
    with pytest.raises(ReleaseError) as err:
        cut.plan(PATCH, repo)
    assert (
        str(err.value) == f"tag tinydigits@v{PATCH} already exists; choose a version above {LAST}"
    )


@pytest.mark.parametrize(
    "names, shown",
    [
        (["notes.txt"], "notes.txt"),
        (["a.txt", "b.txt", "c.txt"], "a.txt, b.txt, c.txt"),
        (["a.txt", "b.txt", "c.txt", "d.txt"], "a.txt, b.txt, c.txt and 1 more"),
        (["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"], "a.txt, b.txt, c.txt and 2 more"),
    ],
)
def test_a_dirty_tree_is_refused_naming_what_is_not_committed(repo, names, shown):
    for name in names:
        (repo / name).write_text("draft")
    with pytest.raises(ReleaseError) as err:
        cut.plan(PATCH, repo)
    assert str(err.value) == (
        f"the working tree is not clean ({shown}); commit or stash first: a release is a commit"
    )


def test_a_modified_tracked_file_is_named_by_its_path(repo):
    (repo / "README.md").write_text("changed\n")
    with pytest.raises(ReleaseError, match=r"^the working tree is not clean \(README\.md\); "):
        cut.plan(PATCH, repo)


def test_nothing_changed_since_the_last_release_is_refused(repo):
    # back at the commit that recorded it
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    with pytest.raises(ReleaseError) as err:
        cut.plan(PATCH, repo)
    first = git(repo, "rev-parse", "HEAD")
    assert str(err.value) == (
        f"nothing changed since release {LAST} (commit {first[:7]}, which recorded it; tag "
        f"tinydigits@v{LAST} is not in this clone (make tags)): HEAD holds the same files"
    )


def test_a_published_file_gone_from_the_commit_is_named(repo):
    git(repo, "rm", "-q", "datasets/tinydigits/train.parquet", "datasets/tinydigits/test.pkl")
    git(repo, "commit", "-qm", "two files fewer")
    with pytest.raises(ReleaseError) as err:
        cut.plan(MAJOR, repo)
    assert str(err.value) == (
        "published file(s) test.pkl, train.parquet missing from datasets/tinydigits; run make repro"
    )


def test_a_change_of_images_is_major_and_says_so(repo):
    ninety_per_digit(repo)
    with pytest.raises(ReleaseError) as err:
        cut.plan(PATCH, repo)
    assert str(err.value).startswith(
        f"VERSION {PATCH} is a PATCH bump but the change since {LAST} is MAJOR (train: images or "
        "labels changed (1,000 -> 900 images)); release it as "
    )
    assert str(err.value).endswith(f"; release it as {MAJOR}")
    assert cut.plan(MAJOR, repo)[1] == "MAJOR"


def gate(returncode, stdout):
    """What ``run_child`` returns for the gate's process."""
    return lambda cmd, cwd: subprocess.CompletedProcess(cmd, returncode, stdout, "")


def test_a_failing_gate_is_one_message_of_its_failed_checks(repo, monkeypatch):
    out = (
        "check-repro: cloned HEAD\n"
        "check-repro: FAIL git status --porcelain: M datasets/tinydigits/train.npz\n"
        "check-repro: PASS dvc status\n"
        "check-repro: FAIL dvc.lock changed\n"
        "check-repro: HEAD does not reproduce\n"
    )
    monkeypatch.setattr(cut, "run_child", gate(1, out))
    with pytest.raises(ReleaseError) as err:
        cut.check_repro(repo)
    assert str(err.value) == (
        "make check-repro fails, so HEAD is not a reproducible release: FAIL git status "
        "--porcelain: M datasets/tinydigits/train.npz | FAIL dvc.lock changed"
    )


def test_a_gate_failing_without_a_check_quotes_its_last_lines(repo, monkeypatch):
    monkeypatch.setattr(
        cut,
        "run_child",
        gate(1, "check-repro: one\ncheck-repro: two\ncheck-repro: three\ncheck-repro: four\n"),
    )
    with pytest.raises(ReleaseError, match=r"release: two \| three \| four$"):
        cut.check_repro(repo)
    silent = lambda cmd, cwd: subprocess.CompletedProcess(cmd, 2, "", "no such file\n")  # noqa: E731
    monkeypatch.setattr(cut, "run_child", silent)
    with pytest.raises(ReleaseError, match=r"reproducible release: no such file$"):
        cut.check_repro(repo)


def test_the_gate_is_this_interpreter_running_check_repro_in_the_root(repo, monkeypatch, caplog):
    calls = []

    def child(cmd, cwd):
        calls.append((cmd, cwd))
        out = "check-repro: cloned HEAD\ncheck-repro: PASS x\ncheck-repro: HEAD abc reproduces\n"
        return subprocess.CompletedProcess(cmd, 0, out, "")

    monkeypatch.setattr(cut, "run_child", child)
    with caplog.at_level(logging.INFO, logger=cut.log.name):
        cut.check_repro(repo)
    assert calls == [([sys.executable, "scripts/check_repro.py"], repo)]
    assert caplog.messages == [
        "running make check-repro: a clean clone of HEAD rebuilt from scratch (slow)",
        "make check-repro: HEAD abc reproduces",
    ]
    caplog.clear()
    monkeypatch.setattr(cut, "run_child", gate(0, ""))
    with caplog.at_level(logging.INFO, logger=cut.log.name):
        cut.check_repro(repo)
    assert caplog.messages[-1] == "make check-repro: passed"


def test_help_names_the_version_and_the_notes():
    out = help_text(cut.main)
    assert out.startswith("usage: python -m pipeline release ")
    for text in (
        # as a terminal shows it: no reStructuredText double backquotes
        "`make release VERSION=X.Y.Z`: record the committed dataset as a release, commit, tag.",
        "version MAJOR.MINOR.PATCH, greater than the last release",
        "--notes NOTES one paragraph for the changelog",
    ):
        assert text in out, text


class StandIns:
    """The gate and the card's ``dvc repro``, replaced; ``card`` is what the repro writes, and
    ``also`` runs after it (to change a published file, say)."""

    def __init__(self, monkeypatch, card=b"the card names the release\n", also=None):
        self.gates, self.repros, self.card, self.also = [], [], card, also
        real_sh = cut.sh

        def sh(cmd, root):
            if "dvc" not in cmd:
                return real_sh(cmd, root)
            self.repros.append((cmd, root))
            (root / config.CARD_FILE).write_bytes(self.card)
            if self.also:
                self.also(root)
            return ""

        monkeypatch.setattr(cut, "check_repro", lambda root: self.gates.append(root))
        monkeypatch.setattr(cut, "sh", sh)


def test_a_release_records_commits_and_tags(repo, monkeypatch, caplog):
    ninety_per_digit(repo)
    head = git(repo, "rev-parse", "HEAD")
    base = revisions.recording_commit(LAST, repo)
    stand_ins = StandIns(monkeypatch)
    with caplog.at_level(logging.INFO, logger=cut.log.name):
        tag = cut.release(MAJOR, "Ninety train images per digit.", repo)
    assert tag == f"tinydigits@v{MAJOR}"
    assert stand_ins.gates == [repo]
    assert stand_ins.repros == [([sys.executable, "-m", "dvc", "--wait-for-lock", "repro"], repo)]

    # one commit on top, with the record, the changelog and the card, and nothing left over
    assert git(repo, "rev-parse", "HEAD~1") == head
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%s") == (
        f"Release tinydigits@v{MAJOR}: MAJOR, train: images or labels changed (1,000 -> 900 images)"
    )
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [
        "datasets/tinydigits/CHANGELOG.md",
        "datasets/tinydigits/README.md",
        "datasets/tinydigits/releases.json",
    ]
    entries = record.load(path=repo / config.RECORD_FILE)
    assert entries[:-1] == ENTRIES
    new = entries[-1]
    files = cut.current_files(repo)
    assert new == {
        "version": MAJOR,
        "tag": f"tinydigits@v{MAJOR}",
        # the released commit's date, in UTC
        "date": "2031-02-03",
        "bump": "MAJOR",
        "since": LAST,
        "params": ENTRIES[-1]["params"],
        "test_accuracy": json.loads((repo / config.METRICS_FILE).read_text())["test_accuracy"],
        **fingerprint.measure(files),
        "change": {
            "train": {
                "added": 0,
                "removed": 100,
                "kept": 900,
                "images_before": 1000,
                "images_after": 900,
                "per_digit_before": [100] * 10,
                "per_digit_after": [90] * 10,
            },
            "test": diff.compare(
                diff.snapshot(base, repo).splits, diff.snapshot(None, repo).splits
            )["test"],
            "moved": {"train_to_test": 0, "test_to_train": 0},
            "relabelled": 0,
        },
        "notes": "Ninety train images per digit.",
    }
    assert new["change"]["test"]["kept"] == new["change"]["test"]["images_after"] == 200
    assert (repo / config.CHANGELOG_FILE).read_text() == changelog.render(entries)
    assert (repo / config.RECORD_FILE).read_bytes() == record.record_bytes(entries)

    # this release's tag on the new commit, and every older one missing from the clone as well
    release_commit = git(repo, "rev-parse", "HEAD")
    made = {
        t: git(repo, "rev-parse", f"{t}^{{commit}}") for t in git(repo, "tag", "--list").split()
    }
    assert made == {
        **{f"tinydigits@v{e['version']}": base for e in ENTRIES},
        f"tinydigits@v{MAJOR}": release_commit,
    }
    # annotated
    assert git(repo, "cat-file", "-t", f"refs/tags/tinydigits@v{MAJOR}") == "tag"

    # what the maintainer reads, in order
    older = " ".join(f"tinydigits@v{e['version']}" for e in ENTRIES)
    assert [r.getMessage() for r in caplog.records if r.name == cut.log.name] == [
        f"{MAJOR} is a MAJOR release: train: images or labels changed (1,000 -> 900 images)",
        f"compared image by image with {LAST} (commit {base[:7]}, which recorded it; tag "
        f"tinydigits@v{LAST} is not in this clone (make tags))",
        f"committed {release_commit[:7]} and tagged {older.replace(' ', ', ')}, "
        f"tinydigits@v{MAJOR}; publish with: git push (CI's tags job then tags the pushed "
        f"record), or push the tags yourself: git push origin {older} tinydigits@v{MAJOR}",
    ]

    # the next release is measured against this one, not against the one before it
    (repo / "README.md").write_text("Another line of documentation.\n")
    git(repo, "commit", "-qam", "docs")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=cut.log.name):
        assert cut.release(PATCH_AFTER_MAJOR, root=repo) == f"tinydigits@v{PATCH_AFTER_MAJOR}"
    patch = record.load(path=repo / config.RECORD_FILE)[-1]
    assert (patch["bump"], patch["since"], patch["notes"]) == ("PATCH", MAJOR, "")
    assert patch["change"]["train"]["kept"] == 900 and patch["change"]["train"]["added"] == 0
    assert caplog.messages[1] == (
        f"compared image by image with {MAJOR} (tag tinydigits@v{MAJOR}, commit {release_commit[:7]})"
    )


def test_a_release_whose_card_rebuild_changes_a_published_file_is_rolled_back(repo, monkeypatch):
    ninety_per_digit(repo)
    before = release_state(repo)
    changelog_before = (repo / config.CHANGELOG_FILE).exists()

    # the same test images in another order: other bytes
    def damage(root):
        images, labels = reader.validate(reader.parse_npz((root / DATA / "test.npz").read_bytes()))
        (root / DATA / "test.npz").write_bytes(
            npz_bytes({"images": images[::-1], "labels": labels[::-1]})
        )

    StandIns(monkeypatch, also=damage)
    with pytest.raises(ReleaseError) as err:
        cut.release(MAJOR, root=repo)
    assert str(err.value) == (
        "a published file changed when the card was regenerated; the record must not feed any "
        "published file but the card"
    )
    # no commit, no tag, the record and the files as they were
    assert release_state(repo) == before
    assert (repo / config.CHANGELOG_FILE).exists() == changelog_before


def test_a_release_interrupted_after_its_writes_is_rolled_back(repo, monkeypatch):
    ninety_per_digit(repo)
    before = release_state(repo)

    def ctrl_c(root):
        raise KeyboardInterrupt

    StandIns(monkeypatch, also=ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        cut.release(MAJOR, root=repo)
    assert release_state(repo) == before


def test_a_refused_release_runs_neither_the_gate_nor_dvc(repo, monkeypatch):
    stand_ins = StandIns(monkeypatch)
    with pytest.raises(ReleaseError, match="is a MAJOR bump but the change since"):
        cut.release(MAJOR, root=repo)
    assert stand_ins.gates == stand_ins.repros == []


def test_without_the_last_releases_revision_the_change_is_left_out_with_a_warning(repo, caplog):
    with caplog.at_level(logging.WARNING, logger=cut.log.name):
        assert cut.measured_change("9.9.9", repo) is None
    assert caplog.messages == [
        "no image-level comparison with 9.9.9 in the changelog: release 9.9.9 is in "
        "datasets/tinydigits/releases.json but neither tag tinydigits@v9.9.9 nor the commit that "
        "recorded it is in this clone; run `git fetch --tags` (or `git fetch --unshallow` in a "
        "shallow clone)"
    ]


def test_the_command_line_takes_the_version_and_the_notes(repo, monkeypatch, capsys):
    got = []
    monkeypatch.setattr(cut, "release", lambda version, notes="": got.append((version, notes)))
    cut.main([MAJOR, "--notes", "why"])
    cut.main([PATCH])
    assert got == [(MAJOR, "why"), (PATCH, "")]
    with pytest.raises(SystemExit):
        cut.main([])
    with pytest.raises(SystemExit):
        cut.main(["--help"])
    # argparse wraps to the terminal's width
    words = " ".join(capsys.readouterr().out.split())
    assert words.startswith(
        "usage: python -m pipeline release [-h] [--notes NOTES] version `make release "
        "VERSION=X.Y.Z`: record the committed dataset as a release, commit, tag. positional"
    )


def test_commands_run_with_this_interpreters_environment_first_on_path(repo, monkeypatch):
    """As under `.venv/bin/python -m pipeline release` with .venv not activated: the card's
    `dvc repro` must find this environment's python and dvc, not the first on the user's PATH."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    out = cut.sh(["python", "-c", "import sys; print(sys.prefix)"], repo)
    assert out == sys.prefix + "\n"
    assert cut.sh(["git", "rev-parse", "--show-toplevel"], repo).strip() == str(repo.resolve())


def test_a_failing_command_is_named_with_its_error_line(repo, monkeypatch):
    # git's own words, untranslated
    monkeypatch.setenv("LC_ALL", "C")
    with pytest.raises(ReleaseError) as err:
        cut.sh(["git", "show", "no-such-revision"], repo)
    # git's error line, not the usage hint it prints after it
    assert str(err.value) == (
        "`git show no-such-revision` failed: fatal: ambiguous argument 'no-such-revision': "
        "unknown revision or path not in the working tree."
    )
    # nothing on stderr: its stdout's last line
    with pytest.raises(ReleaseError) as err:
        cut.sh(["python", "-c", "print('first'); print('last'); raise SystemExit(1)"], repo)
    assert str(err.value).endswith(" failed: last")
    with pytest.raises(ReleaseError) as err:
        cut.sh(
            ["python", "-c", "import sys; print('one\\ntwo', file=sys.stderr); sys.exit(1)"], repo
        )
    assert str(err.value).endswith(" failed: two")
    with pytest.raises(ReleaseError) as err:
        cut.sh(["python", "-c", "raise SystemExit(3)"], repo)
    assert str(err.value) == (
        "`python -c raise SystemExit(3)` failed: exit status 3, nothing printed"
    )


def test_without_a_git_identity_the_release_says_so_and_is_rolled_back(repo, monkeypatch, tmp_path):
    ninety_per_digit(repo)
    before = release_state(repo)
    for name in ("AUTHOR_NAME", "AUTHOR_EMAIL", "COMMITTER_NAME", "COMMITTER_EMAIL"):
        monkeypatch.delenv(f"GIT_{name}")
    monkeypatch.delenv("EMAIL", raising=False)
    (tmp_path / "empty.gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "empty.gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    StandIns(monkeypatch)
    with pytest.raises(ReleaseError) as err:
        cut.release(MAJOR, root=repo)
    assert str(err.value).startswith(f"`git commit -q -m Release tinydigits@v{MAJOR}: MAJOR, ")
    assert "failed: fatal: no email was given and auto-detection is disabled" in str(err.value)
    assert release_state(repo) == before


def test_the_release_date_of_a_repository_without_commits_is_an_error(tmp_path):
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    with pytest.raises(ReleaseError, match=r"^cannot read HEAD's commit date: fatal: "):
        cut.release_date(tmp_path)


def test_every_reason_is_named_in_the_refusal_the_log_and_the_commit(repo, monkeypatch, caplog):
    path = repo / DATA / "test.npz"
    images, labels = reader.validate(reader.parse_npz(path.read_bytes()))
    path.write_bytes(npz_bytes({"images": images[::-1], "labels": labels[::-1]}))
    # commits both
    ninety_per_digit(repo)
    reasons = (
        "train: images or labels changed (1,000 -> 900 images); test.npz: same images and labels "
        "but other bytes (order or encoding), so its pinned sha256 breaks"
    )
    with pytest.raises(ReleaseError) as err:
        cut.plan(MINOR, repo)
    assert f"the change since {LAST} is MAJOR ({reasons}); release it as {MAJOR}" in str(err.value)
    StandIns(monkeypatch)
    with caplog.at_level(logging.INFO, logger=cut.log.name):
        cut.release(MAJOR, root=repo)
    assert caplog.messages[0] == f"{MAJOR} is a MAJOR release: {reasons}"
    assert git(repo, "log", "-1", "--format=%s") == f"Release tinydigits@v{MAJOR}: MAJOR, {reasons}"


def test_a_git_error_line_is_quoted_before_its_hints(repo):
    # both lines on stderr
    script = "import sys; sys.exit('error: it broke\\nhint: try this')"
    with pytest.raises(ReleaseError) as err:
        cut.sh(["python", "-c", script], repo)
    assert str(err.value).endswith(" failed: error: it broke")
