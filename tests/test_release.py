"""End to end: `make release` refuses what it must, releases the next MAJOR version, and a downstream project pins
versions with `dvc get`, `dvc import` + `dvc update`, `dvc.api` and `dvc artifacts get`.

One module-scoped project copy serves every test, in file order: the refusals run on the v1 state,
then train_per_class goes to 90 (the issue's scenario) and the next MAJOR version is released; the consumer tests
read from a bare mirror of it, standing in for the hosted repository (no network).
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from scripts.oracle import reference_splits
from tests.helpers import (
    ENTRIES,
    LAST,
    MAJOR,
    PATCH,
    PATCH_AFTER_MAJOR,
    copy_build,
    ctrl_c,
    git,
    link_venv,
    release_state,
    run,
    update_params,
)

pytestmark = pytest.mark.e2e
TRAIN = "datasets/tinydigits/train.npz"
# The releases recorded today, [(version, bump), ...]: the refusals are phrased against the last
# of them (helpers.LAST), so that cutting a release never breaks this file.
RECORDED = [(e["version"], e["bump"]) for e in ENTRIES]


def make_release(repo, version, notes=""):
    # check-repro and dvc repro: a minute here, far more on a busy machine
    return run(
        ["make", "-o", ".venv/.installed", "release", f"VERSION={version}", f"NOTES={notes}"],
        repo,
        check=False,
        timeout=1800,
    )


def assert_refused(repo, version, message, *, slow=False):
    before = release_state(repo)
    result = make_release(repo, version)
    errors = [line for line in result.stderr.splitlines() if line.startswith("release: error:")]
    assert result.returncode != 0 and len(errors) == 1, result.stderr
    assert message in errors[0], errors[0]
    assert "Traceback" not in result.stderr
    # cheap checks come first
    assert ("running make check-repro" in result.stderr) == slow
    assert release_state(repo) == before


@pytest.fixture(scope="module")
def project(cold_build, tmp_path_factory):
    """A copy of the built project at v1, tagged by `make tags`, with this environment as its .venv."""
    base = tmp_path_factory.mktemp("release")
    repo = link_venv(copy_build(cold_build, base / "tinydigits"))
    tagged = run(["make", "-s", "-o", ".venv/.installed", "tags"], repo).stdout.split()
    assert "tinydigits@v1.0.0" in tagged
    v1 = git(repo, "rev-parse", "tinydigits@v1.0.0^{commit}")
    with open(repo / "README.md", "a") as f:
        f.write("\nA line of documentation: a PATCH-level change.\n")
    git(repo, "commit", "-qam", "docs")
    return base, repo, v1


# Through make, as a maintainer types it: no VERSION at all, and a bump the measured change refutes.
# Every other refusal, and each message word for word, is tested in process in tests/test_cut.py.
@pytest.mark.parametrize(
    "version, message",
    [
        ("", "VERSION must be a semantic version MAJOR.MINOR.PATCH such as 2.0.0, got ''"),
        # The project as it stands has the files of the last release and one more line of docs: PATCH.
        (
            MAJOR,
            f"VERSION {MAJOR} is a MAJOR bump but the change since {LAST} is PATCH (every published "
            f"file is byte-identical (card, metadata or code changed)); release it as {PATCH}",
        ),
    ],
)
def test_refuses_a_bad_version(project, version, message):
    assert_refused(project[1], version, message)


def test_refuses_an_existing_tag(project):
    _, repo, _ = project
    git(repo, "tag", f"tinydigits@v{PATCH}")
    try:
        assert_refused(repo, PATCH, f"tag tinydigits@v{PATCH} already exists")
    finally:
        git(repo, "tag", "-d", f"tinydigits@v{PATCH}")


def test_refuses_a_dirty_tree(project):
    _, repo, _ = project
    (repo / "notes.txt").write_text("draft")
    try:
        assert_refused(
            repo, PATCH, "the working tree is not clean (notes.txt); commit or stash first"
        )
    finally:
        (repo / "notes.txt").unlink()


def test_refuses_when_check_repro_fails(project):
    """A committed params.yaml that no stage accepts: the cheap checks pass, the gate does not."""
    _, repo, _ = project
    head = git(repo, "rev-parse", "HEAD")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("seed: 42", "seed: -1"))
    git(repo, "commit", "-qam", "a params.yaml no stage accepts")
    try:
        # PATCH is the bump the change calls for (no published file changed): only the gate can refuse it
        assert_refused(
            repo,
            PATCH,
            "make check-repro fails, so HEAD is not a reproducible release",
            slow=True,
        )
    finally:
        git(repo, "reset", "-q", "--hard", head)


def test_ctrl_c_in_the_gate_releases_nothing_and_leaves_no_clone(project):
    """Ctrl-C while the release's `make check-repro` runs a stage in its clone of HEAD."""
    base, repo, _ = project
    tmp = base / "tmp-ctrl-c"
    tmp.mkdir()
    before = release_state(repo)
    status, output = ctrl_c(
        repo,
        ["make", "-o", ".venv/.installed", "release", f"VERSION={PATCH}"],
        lambda _, procs: any(
            "-m pipeline" in p.cmd and "-m pipeline release" not in p.cmd for p in procs
        ),
        env={"TMPDIR": str(tmp)},
    )
    assert "Traceback" not in output, output
    assert (
        "release: interrupted; nothing was released (the tree is back at the commit it started from)"
        in output.splitlines()
    ), output
    # make's own last line: "Interrupt" or "Error 130", as the signal reaches make before or after
    assert status != 0 and re.search(r"release\] (Interrupt|Error 130)$", output.splitlines()[-1])
    assert release_state(repo) == before
    # the gate's clone went with it
    assert list(tmp.iterdir()) == []


@pytest.fixture(scope="module")
def released(project):
    """The issue's scenario: train_per_class 90, `make repro`, commit; a PATCH refused; MAJOR released."""
    base, repo, v1 = project
    update_params(repo, sample={"train_per_class": 90})
    run(["make", "-o", ".venv/.installed", "repro"], repo, timeout=1800)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "90 train images per digit")
    card = (repo / "datasets/tinydigits/README.md").read_text()
    assert_refused(
        repo,
        PATCH,
        f"VERSION {PATCH} is a PATCH bump but the change since {LAST} is MAJOR "
        "(train: images or labels changed (1,000 -> 900 images); test: images or labels changed",
    )
    # The clone lost 1.0.0's tag (tags do not travel with a branch): the release makes it again.
    git(repo, "tag", "-d", "tinydigits@v1.0.0")
    result = make_release(repo, MAJOR, notes="Ninety train images per digit.")
    assert result.returncode == 0, result.stdout + result.stderr
    hosted = base / "hosted.git"
    run(["git", "clone", "-q", "--mirror", str(repo), str(hosted)], base)
    return repo, hosted, v1, card, result


def test_before_release_the_card_says_it_is_an_unreleased_variant(released):
    card = released[3]
    assert "This is an **unreleased variant** of TinyDigits" in card
    assert "`sample.train_per_class: 100 -> 90`" in card


def test_release_commits_tags_and_leaves_a_clean_tree(released):
    repo, _, v1, _, result = released
    tag = f"tinydigits@v{MAJOR}"
    assert git(repo, "status", "--porcelain") == ""
    # remade where it belongs
    assert git(repo, "rev-parse", "tinydigits@v1.0.0^{commit}") == v1
    assert f"tagged tinydigits@v1.0.0, tinydigits@v{MAJOR}" in result.stderr
    # annotated
    assert git(repo, "cat-file", "-t", tag) == "tag"
    assert git(repo, "rev-parse", f"{tag}^{{commit}}") == git(repo, "rev-parse", "HEAD")
    message = git(repo, "tag", "-l", "--format=%(contents)", tag)
    for name in ("train.pkl", "test.pkl", "train.npz", "test.npz"):
        blob = (repo / "datasets/tinydigits" / name).read_bytes()
        assert f"{name} {len(blob)} bytes sha256 {hashlib.sha256(blob).hexdigest()}" in message
    entries = json.loads((repo / "datasets/tinydigits/releases.json").read_text())["releases"]
    assert [(e["version"], e["bump"]) for e in entries] == [
        *RECORDED,
        (MAJOR, "MAJOR"),
    ]
    # dated by the commit released (HEAD before the release commit), in UTC
    assert (
        entries[-1]["date"]
        == run(
            ["git", "log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%d", "HEAD^"],
            repo,
            env={"TZ": "UTC"},
        ).stdout.strip()
    )
    assert (
        entries[-1]["splits"]["train"]["per_digit"] == [90] * 10
        and entries[-1]["notes"] == "Ninety train images per digit."
    )
    assert (
        f"This card describes **TinyDigits {MAJOR}**"
        in (repo / "datasets/tinydigits/README.md").read_text()
    )
    changelog = (repo / "datasets/tinydigits/CHANGELOG.md").read_text()
    assert (
        changelog.index(f"## {MAJOR}") < changelog.index("## 1.0.0")
        and "- train: 0 added, 100 removed, 900 kept" in changelog
    )


def test_refuses_a_release_of_nothing_new(released):
    assert_refused(
        released[0],
        PATCH_AFTER_MAJOR,
        f"nothing changed since release {MAJOR} (tag tinydigits@v{MAJOR}",
    )


def oracle_numbers():
    """Added/removed/kept/moved from v1 to 90-per-digit, by the independent reference implementation."""
    a, b = (reference_splits([n] * 10, [20] * 10, 42) for n in (100, 90))
    keys = {
        name: {s: {x.tobytes() for x in split[s][0]} for s in ("train", "test")}
        for name, split in (("a", a), ("b", b))
    }
    out = {
        s: {
            "added": len(keys["b"][s] - keys["a"][s]),
            "removed": len(keys["a"][s] - keys["b"][s]),
            "kept": len(keys["a"][s] & keys["b"][s]),
        }
        for s in ("train", "test")
    }
    out["moved"] = {
        "train_to_test": len(keys["a"]["train"] & keys["b"]["test"]),
        "test_to_train": len(keys["a"]["test"] & keys["b"]["train"]),
    }
    return out


def test_diff_from_the_v1_commit_to_the_release_matches_the_oracle(released):
    repo, _, v1, _, _ = released
    r = json.loads(
        run(["python", "-m", "pipeline", "diff", v1, f"tinydigits@v{MAJOR}", "--json"], repo).stdout
    )
    got = {s: {k: r[s][k] for k in ("added", "removed", "kept")} for s in ("train", "test")}
    assert {**got, "moved": r["moved"]} == oracle_numbers()
    # the 10 per digit that v1 trained on are now test images
    assert r["moved"]["train_to_test"] == 100


def test_make_review_against_v1_matches_the_oracle(released):
    """The pull-request review of the 90-per-digit change: numbers computed independently."""
    repo = released[0]
    result = run(["make", "-s", "-o", ".venv/.installed", "review", "BASE=tinydigits@v1.0.0"], repo)
    md = result.stdout
    want = oracle_numbers()
    for s, before, after in (("train", 1000, 900), ("test", 200, 200)):
        w = want[s]
        row = (
            f"| {s} | {before:,} | {after:,} | {w['added']:,} | {w['removed']:,} | {w['kept']:,} |"
        )
        assert row in md, md
    m = want["moved"]
    assert (
        f"Moved between splits: {m['train_to_test']:,} from train to test, "
        f"{m['test_to_train']:,} from test to train." in md
    )
    assert "**Leakage warning:** 100 images of A's train set are in B's test set" in md
    assert "| train | B | " + " | ".join(["90"] * 10) + " | 900 |" in md
    assert "| `sample.train_per_class` | `100` | `90` |" in md
    assert "| `test_accuracy` |" in md
    png = repo / "reports/local/review.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    # reports/local/ is git-ignored
    assert git(repo, "status", "--porcelain") == ""


# ---- a downstream project pins releases ------------------------------------------------------


@pytest.fixture(scope="module")
def course(released, tmp_path_factory):
    """Another git + DVC repository: a course that uses TinyDigits."""
    repo = tmp_path_factory.mktemp("course") / "course"
    repo.mkdir()
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["dvc", "init", "-q"], repo)
    git(repo, "commit", "-qm", "dvc init")
    return repo


def tagged(released, version, path=TRAIN):
    return run(["git", "show", f"tinydigits@v{version}:{path}"], released[0], text=False).stdout


@pytest.mark.parametrize("version", ["1.0.0", MAJOR])
def test_dvc_get_gives_the_tagged_bytes(released, course, version):
    out = course / f"get-{version}.npz"
    run(
        ["dvc", "get", str(released[1]), TRAIN, "--rev", f"tinydigits@v{version}", "-o", str(out)],
        course,
    )
    assert out.read_bytes() == tagged(released, version)


def test_dvc_import_then_update_to_a_newer_tag(released, course):
    (
        course / "data"
        # `dvc import -o data/x` fails if data/ does not exist ("stage working dir")
    ).mkdir()
    run(
        [
            "dvc",
            "import",
            str(released[1]),
            TRAIN,
            "--rev",
            "tinydigits@v1.0.0",
            "-o",
            "data/train.npz",
        ],
        course,
    )
    assert (course / "data/train.npz").read_bytes() == tagged(released, "1.0.0")
    assert "rev: tinydigits@v1.0.0" in (course / "data/train.npz.dvc").read_text()
    run(["dvc", "update", "--rev", f"tinydigits@v{MAJOR}", "data/train.npz.dvc"], course)
    assert (course / "data/train.npz").read_bytes() == tagged(released, MAJOR)
    assert f"rev: tinydigits@v{MAJOR}" in (course / "data/train.npz.dvc").read_text()
    with np.load(course / "data/train.npz") as z:
        assert z["images"].shape == (900, 8, 8)


def test_dvc_api_reads_a_release(released):
    import io

    import dvc.api

    blob = dvc.api.read(TRAIN, repo=str(released[1]), rev=f"tinydigits@v{MAJOR}", mode="rb")
    assert blob == tagged(released, MAJOR)
    with dvc.api.open(
        "datasets/tinydigits/test.npz", repo=str(released[1]), rev="tinydigits@v1.0.0", mode="rb"
    ) as f:
        with np.load(io.BytesIO(f.read())) as z:
            assert z["labels"].shape == (200,)


def test_dvc_artifacts_get_fetches_the_dataset_folder(released, course):
    run(
        ["dvc", "artifacts", "get", str(released[1]), "tinydigits", "--rev", "v1.0.0", "-o", "v1"],
        course,
    )
    assert (course / "v1/train.npz").read_bytes() == tagged(released, "1.0.0")
    # the highest version
    run(["dvc", "artifacts", "get", str(released[1]), "tinydigits", "-o", "latest"], course)
    assert (course / "latest/train.npz").read_bytes() == tagged(released, MAJOR)
