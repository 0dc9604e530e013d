"""`make tags`: release tags derived from the record, on tiny git repositories; then this repository's
own history, tagged in a fresh clone, and every consumer command of the README and docs/releases.md
run as written, in order, against it."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess

import pytest

from pipeline.core.errors import ReleaseError, RevisionError
from pipeline.release import changelog, revisions, tags
from tests.helpers import ROOT, git, help_text, link_venv, run

DATA = "datasets/tinydigits"


def entry(version, files):
    return {
        "version": version,
        "tag": f"tinydigits@v{version}",
        "bump": None,
        "since": None,
        "files": {
            n: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in files.items()
        },
    }


def commit_release(repo, entries, files, message):
    """Write ``files`` and a record of ``entries`` into ``repo`` and commit; returns the commit."""
    (repo / DATA).mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (repo / DATA / name).write_bytes(blob)
    (repo / DATA / "releases.json").write_text(json.dumps({"releases": entries}))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path):
    """A repository where commit 1 records 1.0.0, commit 2 changes nothing recorded, commit 3 records
    1.1.0 (a new file beside the old one); returns (repo, {version: commit})."""
    repo = tmp_path / "repo"
    repo.mkdir()
    run(["git", "init", "-q", "-b", "main"], repo)
    v1 = {"train.npz": b"one"}
    first = commit_release(repo, [entry("1.0.0", v1)], v1, "record 1.0.0")
    (repo / "notes.txt").write_text("between releases")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "notes")
    v11 = {**v1, "train.parquet": b"two"}
    third = commit_release(repo, [entry("1.0.0", v1), entry("1.1.0", v11)], v11, "record 1.1.0")
    (repo / "notes.txt").write_text("after")
    git(repo, "commit", "-qam", "after the release")
    return repo, {"1.0.0": first, "1.1.0": third}


def tag_list(repo):
    return git(repo, "tag", "--list").split()


def test_tags_land_annotated_on_the_recording_commits(history):
    repo, commits = history
    created = tags.ensure(repo)
    assert [t.name for t in created] == ["tinydigits@v1.0.0", "tinydigits@v1.1.0"]
    for version, commit in commits.items():
        name = f"tinydigits@v{version}"
        assert git(repo, "cat-file", "-t", name) == "tag"
        assert git(repo, "rev-parse", f"{name}^{{commit}}") == commit
    message = git(repo, "tag", "-l", "--format=%(contents)", "tinydigits@v1.1.0")
    assert "train.parquet 3 bytes sha256 " + hashlib.sha256(b"two").hexdigest() in message


def test_a_second_run_changes_nothing_and_tag_objects_are_the_same_everywhere(history, monkeypatch):
    repo, _ = history
    tags.ensure(repo)
    objects = {t: git(repo, "rev-parse", t) for t in tag_list(repo)}
    assert tags.ensure(repo) == []
    assert {t: git(repo, "rev-parse", t) for t in tag_list(repo)} == objects
    # Another clone (or CI), another person, another day: byte-identical tag objects, because the
    # tagger and date come from the recording commit.
    for t in objects:
        git(repo, "tag", "-d", t)
    monkeypatch.setenv("GIT_COMMITTER_NAME", "someone else")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ci@elsewhere.invalid")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2031-01-01T00:00:00+00:00")
    tags.ensure(repo)
    assert {t: git(repo, "rev-parse", t) for t in tag_list(repo)} == objects


def test_a_clone_with_some_tags_gets_the_missing_ones(history):
    """A clone that fetched 1.0.0's tag but not 1.1.0's: the existing tag is kept, the missing one
    made (break for continue after an existing tag passed every other test)."""
    repo, commits = history
    tags.ensure(repo)
    kept = git(repo, "rev-parse", "tinydigits@v1.0.0")
    git(repo, "tag", "-d", "tinydigits@v1.1.0")
    assert [t.name for t in tags.ensure(repo)] == ["tinydigits@v1.1.0"]
    assert git(repo, "rev-parse", "tinydigits@v1.0.0") == kept
    assert git(repo, "rev-parse", "tinydigits@v1.1.0^{commit}") == commits["1.1.0"]


def test_a_release_without_its_tag_is_found_by_the_commit_that_recorded_it(history):
    """What `make diff` and `make review` do in a clone without tags, here in process (their own
    tests run them as commands, where mutation testing cannot reach: make mutate left the whole
    fallback alive)."""
    repo, commits = history
    assert revisions.resolve("tinydigits@v1.0.0", repo) == commits["1.0.0"]
    assert revisions.resolve("tinydigits@v1.1.0", repo) == commits["1.1.0"]
    assert revisions.resolve("main", repo) == git(repo, "rev-parse", "HEAD")
    assert not revisions.has_tag("tinydigits@v1.0.0", repo)
    # a tag that exists wins, wherever it points (tags.plan is what refuses a misplaced one)
    git(repo, "tag", "-a", "tinydigits@v1.0.0", "-m", "by hand", commits["1.1.0"])
    assert revisions.has_tag("tinydigits@v1.0.0", repo)
    assert revisions.resolve("tinydigits@v1.0.0", repo) == commits["1.1.0"]
    with pytest.raises(
        RevisionError,
        match=r"^unknown revision 'tinydigits@v9\.9\.9': not a branch, tag or commit of this "
        r"repository; release 9\.9\.9 is not in this clone's datasets/tinydigits/releases\.json either$",
    ):
        revisions.resolve("tinydigits@v9.9.9", repo)
    with pytest.raises(
        RevisionError,
        match=r"^unknown revision 'nope': not a branch, tag or commit of this repository$",
    ):
        revisions.resolve("nope", repo)


def test_a_record_that_disagrees_with_the_files_is_refused_and_tags_nothing(history):
    repo, commits = history
    record = json.loads((repo / DATA / "releases.json").read_text())
    wrong = hashlib.sha256(b"not it").hexdigest()
    record["releases"][1]["files"]["train.parquet"]["sha256"] = wrong
    (repo / DATA / "releases.json").write_text(json.dumps(record))
    git(repo, "commit", "-qam", "a record edited by hand")
    with pytest.raises(ReleaseError) as err:
        tags.ensure(repo)
    message = str(err.value)
    assert "release 1.1.0" in message and f"{DATA}/train.parquet" in message
    assert wrong in message and hashlib.sha256(b"two").hexdigest() in message
    # not even 1.0.0, which is fine
    assert tag_list(repo) == []


def test_a_recorded_file_absent_at_the_commit_is_refused(history):
    repo, _ = history
    record = json.loads((repo / DATA / "releases.json").read_text())
    record["releases"][0]["files"]["test.npz"] = {"bytes": 1, "sha256": "0" * 64}
    (repo / DATA / "releases.json").write_text(json.dumps(record))
    git(repo, "commit", "-qam", "a file that never existed")
    with pytest.raises(ReleaseError, match=rf"release 1.0.0: {DATA}/test.npz is absent at"):
        tags.ensure(repo)
    assert tag_list(repo) == []


def test_a_tag_elsewhere_or_lightweight_is_refused(history):
    repo, commits = history
    git(repo, "tag", "-a", "tinydigits@v1.0.0", "-m", "by hand", commits["1.1.0"])
    with pytest.raises(ReleaseError) as err:
        tags.ensure(repo)
    assert str(err.value) == (
        f"no tag was made: release 1.0.0: tag tinydigits@v1.0.0 points at {commits['1.1.0'][:7]}, "
        f"but the commit that recorded 1.0.0 is {commits['1.0.0'][:7]}; delete the tag "
        "(git tag -d tinydigits@v1.0.0) if it is wrong"
    )
    # 1.1.0 not made either
    assert tag_list(repo) == ["tinydigits@v1.0.0"]
    git(repo, "tag", "-d", "tinydigits@v1.0.0")
    git(repo, "tag", "tinydigits@v1.0.0", commits["1.0.0"])
    with pytest.raises(ReleaseError) as err:
        tags.ensure(repo)
    assert str(err.value) == (
        f"no tag was made: release 1.0.0: tag tinydigits@v1.0.0 at {commits['1.0.0'][:7]} is a "
        "lightweight tag, which GTO and `dvc artifacts` ignore; replace it: "
        "git tag -d tinydigits@v1.0.0 && make tags"
    )


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_shallow_clone_names_no_commit_it_cannot_prove(history, tmp_path, monkeypatch, depth):
    """Its oldest commit holds the record of all the history cut off before it: a release first
    seen there may have been recorded earlier, so neither ``make tags`` nor a tag's stand-in names
    it (before: every release was tagged at that commit). 1: HEAD alone; 2: from the commit that
    recorded 1.1.0, unprovable as such; 3: from the commit between the releases, so 1.1.0's is known."""
    repo, commits = history
    shallow = tmp_path / "shallow"
    run(["git", "clone", "-q", f"--depth={depth}", repo.as_uri(), str(shallow)], tmp_path)
    # every call names the clone; none reads this folder
    monkeypatch.chdir(tmp_path)
    assert revisions.shallow_commits(shallow) == {
        git(shallow, "rev-list", "--max-parents=0", "HEAD")
    }
    unprovable = ["1.0.0", "1.1.0"] if depth < 3 else ["1.0.0"]
    with pytest.raises(ReleaseError) as err:
        tags.ensure(shallow)
    assert str(err.value) == "no tag was made: " + " | ".join(
        f"release {v}: no commit of HEAD's history records it in {DATA}/releases.json "
        "(a shallow clone? run `git fetch --unshallow`)"
        for v in unprovable
    )
    assert tag_list(shallow) == []
    with pytest.raises(RevisionError) as err:
        revisions.resolve("tinydigits@v1.0.0", shallow)
    assert str(err.value) == (
        "unknown revision 'tinydigits@v1.0.0': not a branch, tag or commit of this repository; "
        f"release 1.0.0 is in {DATA}/releases.json but the commit that recorded it is not in this "
        "clone (a shallow clone? run `git fetch --unshallow`)"
    )
    if depth == 3:
        assert revisions.recording_commit("1.1.0", shallow) == commits["1.1.0"]
    git(shallow, "fetch", "-q", "--unshallow")
    assert revisions.shallow_commits(shallow) == set()
    assert [t.commit for t in tags.ensure(shallow)] == [commits["1.0.0"], commits["1.1.0"]]


def test_every_problem_of_every_release_is_named_at_once(history):
    """1.0.0's record disagrees with its file and its tag is elsewhere; 1.1.0's file disagrees too:
    one refusal names all three, so that one fix-and-rerun is enough."""
    repo, commits = history
    record = json.loads((repo / DATA / "releases.json").read_text())
    for release in record["releases"]:
        release["files"]["train.npz"]["sha256"] = "0" * 64
    (repo / DATA / "releases.json").write_text(json.dumps(record))
    git(repo, "commit", "-qam", "a record edited by hand")
    git(repo, "tag", "-a", "tinydigits@v1.0.0", "-m", "by hand", commits["1.1.0"])
    with pytest.raises(ReleaseError) as err:
        tags.ensure(repo)
    problems = str(err.value).removeprefix("no tag was made: ").split(" | ")
    assert [p.split(":")[0] for p in problems] == ["release 1.0.0"] * 2 + ["release 1.1.0"]
    assert f"{DATA}/train.npz" in problems[0] and "points at" in problems[1]


def test_the_command_prints_created_tags_on_stdout_and_refusals_as_one_line(history):
    repo, _ = history
    cmd = ["python", "-m", "pipeline", "tags"]
    env = {"PYTHONPATH": str(ROOT)}
    first = run(cmd, repo, env=env)
    assert first.stdout.split() == ["tinydigits@v1.0.0", "tinydigits@v1.1.0"]
    assert run(cmd, repo, env=env).stdout == ""
    git(repo, "tag", "-d", "tinydigits@v1.1.0")
    git(repo, "tag", "-a", "tinydigits@v1.1.0", "-m", "moved", "HEAD")
    refused = run(cmd, repo, env=env, check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("tags: error: no tag was made: release 1.1.0: tag")
    assert "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) == 1


def test_make_tags_says_what_it_made_and_what_was_there(history, monkeypatch, capsys, caplog):
    """`python -m pipeline tags` in this process (where `make mutate` reaches it): the tags made on
    stdout, one log line per release for the maintainer."""
    repo, commits = history
    monkeypatch.chdir(repo)
    with caplog.at_level(logging.INFO, logger=tags.log.name):
        tags.main([])
    assert capsys.readouterr().out == "tinydigits@v1.0.0\ntinydigits@v1.1.0\n"
    one, two = commits["1.0.0"][:7], commits["1.1.0"][:7]
    assert caplog.messages == [
        f"tinydigits@v1.0.0 created at {one}, the commit that recorded 1.0.0 (1 files match the record)",
        f"tinydigits@v1.1.0 created at {two}, the commit that recorded 1.1.0 (2 files match the record)",
    ]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=tags.log.name):
        tags.main([])
    assert capsys.readouterr().out == ""
    assert caplog.messages == [
        f"tinydigits@v1.0.0 already at {one}, the commit that recorded 1.0.0",
        f"tinydigits@v1.1.0 already at {two}, the commit that recorded 1.1.0",
    ]


def test_every_file_of_a_release_is_checked_after_an_absent_one(history):
    repo, commits = history
    at = commits["1.0.0"][:7]
    absent, other = b"never committed", b"not what was committed"
    files = {"a.npz": absent, "train.npz": other}
    assert tags.problems_at(entry("1.0.0", files), commits["1.0.0"], repo) == [
        f"release 1.0.0: {DATA}/a.npz is absent at {at}, the commit that recorded it; the record "
        f"says 15 bytes sha256 {hashlib.sha256(absent).hexdigest()}",
        f"release 1.0.0: {DATA}/train.npz at {at} is 3 bytes sha256 "
        f"{hashlib.sha256(b'one').hexdigest()}, but the record says 22 bytes sha256 "
        f"{hashlib.sha256(other).hexdigest()}",
    ]


def test_without_a_record_at_head_nothing_is_tagged(tmp_path):
    run(["git", "init", "-q", "-b", "main"], tmp_path)
    (tmp_path / "notes.txt").write_text("no release yet")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "first")
    with pytest.raises(ReleaseError) as err:
        tags.plan(tmp_path)
    assert str(err.value) == (
        "HEAD has no datasets/tinydigits/releases.json: there is no release to tag"
    )


# ---- this repository: a fresh clone of main, `make tags`, and the consumer commands ------------


def blocks(path, heading, lang):
    """The ``lang`` code blocks of the section of ``path`` that starts at ``heading``."""
    text = (ROOT / path).read_text()
    section = text[text.index(heading) :]
    section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
    return re.findall(rf"```{lang}\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    """A fresh clone of this repository's HEAD, as a user gets it (no tags), after `make tags`,
    mirrored to a bare repository standing in for the hosted one; returns (clone, mirror, first run)."""
    if git(ROOT, "rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("a shallow clone lacks the commits that recorded the releases")
    base = tmp_path_factory.mktemp("hosted")
    clone = base / "tinydigits"
    run(["git", "clone", "-q", "--no-tags", str(ROOT), str(clone)], base)
    # A hosted repository has a default branch. This checkout may be on none (CI checks a pull
    # request out as a detached merge commit), and a mirror of a detached HEAD has no
    # origin/HEAD for `dvc artifacts get` to resolve: name the clone's commit main.
    run(["git", "checkout", "-q", "-B", "main"], clone)
    assert git(clone, "tag", "--list") == ""
    link_venv(clone)
    first = run(["make", "-s", "-o", ".venv/.installed", "tags"], clone)
    mirror = base / "hosted.git"
    run(["git", "clone", "-q", "--mirror", str(clone), str(mirror)], base)
    return clone, mirror, first


def show(clone, version, path):
    out = subprocess.run(
        ["git", "show", f"tinydigits@v{version}:{path}"], cwd=clone, capture_output=True, check=True
    )
    return out.stdout


def recorded(clone):
    return json.loads((clone / DATA / "releases.json").read_text())["releases"]


@pytest.mark.e2e
def test_make_tags_on_a_fresh_clone_tags_every_recorded_release_once(hosted):
    clone, _, first = hosted
    entries = recorded(clone)
    assert first.stdout.split() == [e["tag"] for e in entries]
    assert {"tinydigits@v1.0.0", "tinydigits@v1.1.0"} <= set(first.stdout.split())
    for e in entries:
        assert git(clone, "cat-file", "-t", e["tag"]) == "tag"
        for name, f in e["files"].items():
            blob = show(clone, e["version"], f"{DATA}/{name}")
            assert (len(blob), hashlib.sha256(blob).hexdigest()) == (f["bytes"], f["sha256"])
        message = git(clone, "tag", "-l", "--format=%(contents)", e["tag"])
        assert message == changelog.tag_message(e).strip()
    # The tag is on the first commit whose record holds the version: its parent's record does not.
    parent = subprocess.run(
        ["git", "show", f"tinydigits@v1.1.0~1:{DATA}/releases.json"], cwd=clone, capture_output=True
    )
    assert parent.returncode or '"1.1.0"' not in parent.stdout.decode()
    again = run(["make", "-s", "-o", ".venv/.installed", "tags"], clone)
    assert again.stdout == "" and "already at" in again.stderr


def course(tmp_path):
    """A downstream git + DVC project, as the docs ask for."""
    repo = tmp_path / "course project"
    repo.mkdir()
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["dvc", "init", "-q"], repo)
    git(repo, "commit", "-qm", "dvc init")
    return repo


def run_bash(block, mirror, cwd):
    return run(["bash", "-euo", "pipefail", "-c", block.replace("REPO", str(mirror))], cwd)


def check_folder(clone, version, folder):
    listed = git(clone, "ls-tree", "--name-only", f"tinydigits@v{version}", f"{DATA}/").split()
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.rsplit("/", 1)[1] for p in listed)
    for path in listed:
        assert (folder / path.rsplit("/", 1)[1]).read_bytes() == show(clone, version, path)


@pytest.mark.e2e
def test_the_readme_pin_block_runs_as_written_in_order(hosted, tmp_path):
    clone, mirror, _ = hosted
    (block,) = blocks("README.md", "## Use TinyDigits in your project", "bash")
    repo = course(tmp_path)
    out = run_bash(block, mirror, repo)
    train = f"{DATA}/train.npz"
    assert (repo / "train-v1.0.0.npz").read_bytes() == show(clone, "1.0.0", train)
    assert (repo / "data/train.npz").read_bytes() == show(clone, "1.1.0", train)
    assert "rev: tinydigits@v1.1.0" in (repo / "data/train.npz.dvc").read_text()
    check_folder(clone, "1.1.0", repo / "tinydigits-v1.1.0")
    assert out.stdout.split()[-1] == str(len(show(clone, "1.1.0", train)))


@pytest.mark.e2e
def test_the_releases_page_blocks_run_as_written_in_order(hosted, tmp_path):
    clone, mirror, _ = hosted
    heading = "## I use TinyDigits in my project"
    (bash,) = blocks("docs/releases.md", heading, "bash")
    (python,) = blocks("docs/releases.md", heading, "python")
    repo = course(tmp_path)
    run_bash(bash, mirror, repo)
    train = f"{DATA}/train.npz"
    assert (repo / "train-v1.0.0.npz").read_bytes() == show(clone, "1.0.0", train)
    assert (repo / "data/train.npz").read_bytes() == show(clone, "1.1.0", train)
    assert "rev: tinydigits@v1.0.0" in git(repo, "show", "HEAD:data/train.npz.dvc")
    check_folder(clone, "1.1.0", repo / "tinydigits-v1.1.0")
    out = run(["python", "-c", python.replace("REPO", str(mirror))], repo)
    assert out.stdout.strip() == "(1000, 8, 8) float32 (1000,) int64"


@pytest.mark.e2e
def test_diff_between_the_two_releases_runs_in_the_fresh_clone(hosted):
    clone = hosted[0]
    out = run(
        ["python", "-m", "pipeline", "diff", "tinydigits@v1.0.0", "tinydigits@v1.1.0"], clone
    ).stdout
    assert "train: 1,000 -> 1,000 images: 0 added, 0 removed, 1,000 kept" in out
    assert re.search(r"train\.parquet\s+absent\s+-> 66,743 bytes", out), out


def test_the_help_names_the_command_and_says_what_it_does():
    # the docstring's first line only, then the options
    assert help_text(tags.main) == (
        "usage: python -m pipeline tags [-h] `make tags`: give every recorded release its "
        "annotated git tag, derived from the record. options: -h, --help show this help message "
        "and exit"
    )


def test_a_failing_git_tag_is_named_with_what_git_said(history):
    """A directory where the tag's ref would go (as a ref named `tinydigits@v1.0.0/x` leaves): git
    cannot write the tag, and the error says which tag and why."""
    repo, _ = history
    (repo / ".git/refs/tags/tinydigits@v1.0.0").mkdir(parents=True)
    (repo / ".git/refs/tags/tinydigits@v1.0.0/x").write_text("")
    with pytest.raises(ReleaseError) as err:
        tags.ensure(repo)
    message = str(err.value)
    assert message.startswith("git tag tinydigits@v1.0.0 failed: "), message
    assert "refs/tags/tinydigits@v1.0.0" in message.removeprefix("git tag tinydigits@v1.0.0")


def test_a_record_at_head_that_is_not_json_is_named(history):
    repo, _ = history
    (repo / DATA / "releases.json").write_text("{not json")
    git(repo, "commit", "-qam", "a broken record")
    with pytest.raises(ReleaseError) as err:
        tags.plan(repo)
    assert str(err.value).startswith(
        f"{DATA}/releases.json is not a valid release record (JSONDecodeError: "
    )
