"""`python -m pipeline diff`: image-level comparison of two revisions, on hand-built git revisions."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.core import config
from pipeline.core.errors import ReleaseError, RevisionError
from pipeline.core.storage import npz_bytes
from pipeline.release import diff, fingerprint, review, revisions
from tests.helpers import ROOT, help_text, png_pixels, run

# 40 distinct images
POOL = np.random.RandomState(3).randint(0, 17, size=(40, 8, 8)).astype(np.float32) / 16
LABELS = np.arange(40, dtype=np.int64) % 10
# B's croissant.json
SHA_OF_BRACES = hashlib.sha256(b"{}\n").hexdigest()


def split(index, relabel=()):
    labels = LABELS[index].copy()
    for i in relabel:
        labels[i] = (labels[i] + 1) % 10
    return POOL[index], labels


A = {"train": split(np.arange(0, 20)), "test": split(np.arange(20, 30))}
# B: 5 train images dropped (15..19), 2 of them moved to test (15, 16); 3 test images moved to train
# (20, 21, 22), 2 more dropped from test (23, 24), 4 new test images (30..33); image 0 relabelled.
B = {
    "train": split(np.r_[np.arange(0, 15), 20, 21, 22][::-1], relabel=[17]),
    "test": split(np.r_[25:30, 15, 16, 30:34]),
}
EXPECTED = {
    "train": {"added": 3, "removed": 5, "kept": 15},
    "test": {"added": 6, "removed": 5, "kept": 5},
    "moved": {"train_to_test": 2, "test_to_train": 3},
    "relabelled": 1,
}


def numbers(r):
    return {
        "train": {k: r["train"][k] for k in ("added", "removed", "kept")},
        "test": {k: r["test"][k] for k in ("added", "removed", "kept")},
        "moved": r["moved"],
        "relabelled": r["relabelled"],
    }


def test_compare_counts_images_by_content():
    assert numbers(diff.compare(A, B)) == EXPECTED
    r = diff.compare(A, B)
    assert r["train"]["per_digit_before"] == [2] * 10 and sum(r["train"]["per_digit_after"]) == 18


def test_a_reordering_adds_and_removes_nothing():
    shuffled = {s: (x[::-1], y[::-1]) for s, (x, y) in A.items()}
    r = diff.compare(A, shuffled)
    assert [r[s]["kept"] for s in ("train", "test")] == [20, 10]
    assert (
        r["train"]["added"]
        == r["test"]["removed"]
        == r["moved"]["train_to_test"]
        == r["relabelled"]
        == 0
    )


def relabelled_by_index(a, b):
    """The relabel count worked out from the pool indices the splits were built from, not by content:
    each of ``a`` and ``b`` is {split: (pool indices, positions relabelled)}."""

    def labels(splits):
        out = {}
        for index, relabel in splits.values():
            labels = split(index, relabel)[1]
            out.update(zip(index.tolist(), labels.tolist(), strict=True))
        return out

    before, after = labels(a), labels(b)
    return sum(before[i] != after[i] for i in before.keys() & after.keys())


TRAIN, TEST = np.arange(0, 20), np.arange(20, 30)


@pytest.mark.parametrize(
    "b, moved",
    [
        # image 23 stays in test, relabelled
        ({"train": (TRAIN, ()), "test": (TEST, (3,))}, (0, 0)),
        # image 19 moves train -> test, relabelled there
        ({"train": (TRAIN[:19], ()), "test": (np.r_[TEST, 19], (10,))}, (1, 0)),
        # image 20 moves test -> train, relabelled there
        ({"train": (np.r_[TRAIN, 20], (20,)), "test": (TEST[1:], ())}, (0, 1)),
        # all three at once, with an image relabelled in train as well
        (
            {"train": (np.r_[TRAIN[:19], 20], (0, 19)), "test": (np.r_[TEST[1:], 19], (2, 9))},
            (1, 1),
        ),
    ],
    ids=["in-test", "moved-train-to-test", "moved-test-to-train", "everywhere"],
)
def test_relabels_are_counted_in_both_splits_and_across_them(b, moved):
    a = {"train": (TRAIN, ()), "test": (TEST, ())}
    want = relabelled_by_index(a, b)
    assert want >= 1
    r = diff.compare({s: split(*a[s]) for s in a}, {s: split(*b[s]) for s in b})
    assert r["relabelled"] == want
    assert (r["moved"]["train_to_test"], r["moved"]["test_to_train"]) == moved


def write_revision(repo, splits, accuracy):
    folder = repo / "datasets/tinydigits"
    folder.mkdir(parents=True, exist_ok=True)
    for name, (x, y) in splits.items():
        (folder / f"{name}.npz").write_bytes(npz_bytes({"images": x, "labels": y}))
    (repo / "reports").mkdir(exist_ok=True)
    (repo / "reports/metrics.json").write_text(json.dumps({"test_accuracy": accuracy}))


def commit(repo, message):
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", message], repo)
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


@pytest.fixture(scope="module")
def revs(tmp_path_factory):
    """A git repository with two hand-built revisions: A (recorded as release 1.0.0, tagged), then B."""
    repo = tmp_path_factory.mktemp("diff") / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    run(["git", "init", "-q", "-b", "main"], repo)
    write_revision(repo, A, 0.8)
    (repo / "datasets/tinydigits/releases.json").write_text(
        json.dumps({"releases": [{"version": "1.0.0"}]}, indent=1)
    )
    a = commit(repo, "A")
    run(["git", "tag", "tinydigits@v1.0.0"], repo)
    write_revision(repo, B, 0.75)
    # metadata, new in B
    (repo / "datasets/tinydigits/croissant.json").write_text("{}\n")
    b = commit(repo, "B")
    return repo, a, b


@pytest.fixture
def pdiff(capsys, monkeypatch):
    """``python -m pipeline diff ARGS`` run in ``repo`` in this process (where ``make mutate``
    reaches it); returns what it printed. The entry point itself: :func:`test_the_command_line_...`."""

    def call(repo, *args):
        monkeypatch.chdir(repo)
        capsys.readouterr()
        diff.main(list(args))
        return capsys.readouterr().out

    return call


def test_json_numbers_between_two_revisions(revs, pdiff):
    repo, a, b = revs
    r = json.loads(pdiff(repo, a, "main", "--json"))
    assert numbers(r) == EXPECTED
    assert r["test_accuracy"] == {"a": 0.8, "b": 0.75}
    assert r["files"]["train.npz"]["a"]["sha256"] != r["files"]["train.npz"]["b"]["sha256"]
    blob = (repo / "datasets/tinydigits/train.npz").read_bytes()
    assert r["files"]["train.npz"]["b"] == {
        "bytes": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    assert r["files"]["croissant.json"] == {"a": None, "b": {"bytes": 3, "sha256": SHA_OF_BRACES}}


def test_revisions_are_labelled_as_named_and_by_commit(revs, pdiff):
    repo, a, b = revs
    r = json.loads(pdiff(repo, a[:9], "main", "--json"))
    # a commit as given; a name and its commit
    assert (r["a"], r["b"]) == (a[:9], f"main ({b[:7]})")
    assert json.loads(pdiff(repo, "main", "--json"))["b"] == "working tree"


def test_text_says_plainly_that_moved_images_leak(revs, pdiff):
    repo, a, b = revs
    out = pdiff(repo, a, b)
    assert out.startswith(f"TinyDigits: A = {a}  ->  B = {b}\n\n")
    assert "train: 20 -> 18 images: 3 added, 5 removed, 15 kept" in out
    assert "test: 10 -> 11 images: 6 added, 5 removed, 5 kept" in out
    assert "  A          2     2     2     2     2     2     2     2     2     2" in out
    assert (
        "MOVED between splits: 2 images from A's train are in B's test, 3 from A's test are in "
        "B's train.\n  A model trained on A's train and scored on B's test would be scored on 2 of "
        "its own training images: do not compare such scores." in out
    )
    assert (
        "labels changed: 1" in out and "benchmark test accuracy: 0.8000 -> 0.7500 (-0.0500)" in out
    )


def test_text_of_a_change_that_moves_and_relabels_nothing(revs, pdiff, tmp_path):
    repo, a, _ = revs
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    write_revision(clone, {"train": A["train"], "test": split(np.arange(20, 29))}, None)
    out = pdiff(clone, a)
    assert "test: 10 -> 9 images: 0 added, 1 removed, 9 kept" in out
    assert "moved between splits: none\nlabels changed: none\n" in out
    assert "MOVED" not in out and "would be scored" not in out
    assert out.endswith("benchmark test accuracy: A 0.8, B None (not recorded where None)\n")


def test_images_moved_only_from_test_to_train_are_no_leak(revs, pdiff, tmp_path):
    repo, a, _ = revs
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    write_revision(clone, {"train": split(np.arange(0, 21)), "test": split(np.arange(21, 30))}, 0.8)
    out = pdiff(clone, a)
    assert "MOVED between splits: 0 images from A's train are in B's test, 1 from A's test" in out
    assert "would be scored" not in out
    assert "benchmark test accuracy: 0.8000 -> 0.8000 (+0.0000)" in out


def test_defaults_are_the_last_release_and_the_working_tree(revs, pdiff):
    repo, a, b = revs
    r = json.loads(pdiff(repo, "--json"))
    assert r["a"] == f"release 1.0.0 (tag tinydigits@v1.0.0, commit {a[:7]})"
    assert r["b"] == "working tree" and numbers(r) == EXPECTED


def test_without_the_tag_the_release_is_found_by_the_commit_that_recorded_it(revs, pdiff, tmp_path):
    repo, a, b = revs
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", "--no-tags", str(repo), str(clone)], tmp_path)
    r = json.loads(pdiff(clone, "--json"))
    assert a[:7] in r["a"] and "not in this clone" in r["a"] and numbers(r) == EXPECTED


def test_without_a_recorded_release_revision_a_must_be_named(revs, pdiff, tmp_path):
    repo, _, _ = revs
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    (clone / "datasets/tinydigits/releases.json").write_text('{"releases": []}')
    with pytest.raises(ReleaseError) as err:
        pdiff(clone)
    assert str(err.value) == (
        "no release is recorded in datasets/tinydigits/releases.json; name revision A"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["nope", "main"],
            "unknown revision 'nope': not a branch, tag or commit of this repository",
        ),
        (
            ["tinydigits@v9.9.9"],
            "unknown revision 'tinydigits@v9.9.9': not a branch, tag or commit of this repository; "
            "release 9.9.9 is not in this clone's datasets/tinydigits/releases.json either",
        ),
    ],
)
def test_an_unknown_revision_is_named(revs, pdiff, args, message):
    with pytest.raises(RevisionError) as err:
        pdiff(revs[0], *args)
    assert str(err.value) == message


def test_the_command_line_says_an_error_in_one_line(revs):
    """The entry point, as a user runs it: exit 1 and one line on stderr, no traceback."""
    result = run(
        ["python", "-m", "pipeline", "diff", "nope", "main"],
        revs[0],
        check=False,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        "diff: error: unknown revision 'nope': not a branch, tag or commit of this repository\n"
    )


def test_a_file_missing_at_a_revision_is_named_with_the_revision(revs, pdiff):
    repo, _, _ = revs
    run(["git", "rm", "-q", "datasets/tinydigits/test.npz"], repo)
    c = commit(repo, "no test split")
    try:
        with pytest.raises(ReleaseError) as err:
            pdiff(repo, "main~1", c)
        assert str(err.value).startswith(
            f"revision {c!r}: neither test.npz nor test.pkl is among the published files"
        )
        with pytest.raises(ReleaseError, match=r"^the working tree: neither test\.npz nor"):
            pdiff(repo, "main~1")
    finally:
        run(["git", "reset", "-q", "--hard", "main~1"], repo)


def test_a_release_tag_missing_from_the_clone_names_the_commit_that_recorded_it(
    revs, pdiff, tmp_path
):
    repo, a, _ = revs
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", "--no-tags", str(repo), str(clone)], tmp_path)
    r = json.loads(pdiff(clone, "tinydigits@v1.0.0", "main", "--json"))
    assert r["a"] == f"tinydigits@v1.0.0 ({a[:7]})" and numbers(r) == EXPECTED


def test_the_file_list_includes_metadata_and_stays_aligned(revs, pdiff):
    repo, a, b = revs
    out = pdiff(repo, a, b)
    rows = out[out.index("files:") :].splitlines()[1:-1]
    assert [r.split()[0] for r in rows] == ["croissant.json", "test.npz", "train.npz"]
    assert rows[0].split() == "croissant.json absent -> 3 bytes sha256".split() + [
        SHA_OF_BRACES[:16]
    ]
    # absent rows line up with the others
    assert len({r.index("->") for r in rows}) == 1, rows


def file_cell(repo, rev, name):
    """How the text report shows ``name`` at ``rev``, from git rather than from the report."""
    got = run(["git", "show", f"{rev}:datasets/tinydigits/{name}"], repo, check=False, text=False)
    digest = hashlib.sha256(got.stdout).hexdigest()
    return "absent" if got.returncode else f"{len(got.stdout):,} bytes sha256 {digest[:16]}"


def test_an_unchanged_file_says_so(revs, pdiff):
    repo, a, _ = revs
    out = pdiff(repo, a, a)
    assert f"  test.npz   {file_cell(repo, a, 'test.npz')}  (unchanged)" in out.splitlines()
    assert "benchmark test accuracy: 0.8000 -> 0.8000 (+0.0000)" in out


def test_markdown_review_and_its_png(revs, pdiff, tmp_path, caplog):
    repo, a, b = revs
    # folders made as needed
    png = tmp_path / "deep" / "er" / "review.png"
    with caplog.at_level(logging.INFO, logger=diff.log.name):
        md = pdiff(repo, a, b, "--markdown", "--png", str(png))
    assert caplog.messages == [f"wrote {png}"]
    assert md.startswith(f"### TinyDigits data review\n\nA = `{a}` -> B = `{b}`\n")
    assert "| train | 20 | 18 | 3 | 5 | 15 |" in md and "| test | 10 | 11 | 6 | 5 | 5 |" in md
    assert (
        "Moved between splits: 2 from train to test, 3 from test to train. Labels changed: 1." in md
    )
    assert "**Leakage warning:** 2 images of A's train set are in B's test set" in md
    assert "| `test_accuracy` | `0.8` | `0.75` | -0.0500 |" in md
    assert "| train | B | " + " | ".join(map(str, np.bincount(B["train"][1], minlength=10))) in md
    assert f"| `croissant.json` | absent | 3 bytes, sha256 `{SHA_OF_BRACES[:16]}` |" in md
    # no params.yaml at either revision
    assert "#### Params changed\n\nNone.\n" in md
    first = png.read_bytes()
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    # a title (A and B) in the top band
    assert png_pixels(first)[:30, :, :3].min() < 0.5
    # again, into the same folder: replaced
    pdiff(repo, a, a, "--png", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.read_bytes() != first


def test_review_groups_are_what_changed_by_content():
    got = {title: (len(labels), labels.tolist()) for title, _, labels in review.groups(A, B)}
    assert {t: n for t, (n, _) in got.items()} == {
        "train: removed": 3,
        "test: added": 4,
        "test: removed": 2,
        "moved train -> test (label in B)": 2,
        "moved test -> train (label in B)": 3,
    }
    assert sorted(got["test: added"][1]) == sorted(LABELS[30:34].tolist())


def shaded(n, offset=0.0):
    """``n`` images (8, 8), image i of the even value (i + 1) / 64 + offset: each tells where it went."""
    return np.stack([np.full((8, 8), (i + 1) / 64 + offset, np.float32) for i in range(n)])


def test_review_sheet_pastes_each_group_under_its_title_twenty_to_a_row():
    many, few = shaded(review.SHOWN_PER_GROUP + 1), shaded(3, offset=0.5)
    drawn = [
        ("train: added", many, np.arange(41) % 10),
        ("test: removed", few, np.array([7, 8, 9])),
    ]
    grid, texts = review.sheet(drawn)
    # 40 of 41 shown, in two rows of 20, then three in one row; each row an 8-pixel image under a
    # 3-pixel label band; each group under a 6-pixel title band; 20 images and 19 gaps across
    assert grid.shape == (6 + 2 * 11 + 6 + 11, 20 * 8 + 19) and grid.dtype == np.float32
    painted = np.zeros(grid.shape, bool)
    labels = []
    for i, (top, image) in enumerate([(6, x) for x in many[:40]] + [(28 + 6, x) for x in few]):
        # place in its own group
        k = i % 40
        y, x = top + (k // 20) * 11 + 3, (k % 20) * 9
        np.testing.assert_array_equal(grid[y : y + 8, x : x + 8], image)
        painted[y : y + 8, x : x + 8] = True
        labels.append((y - 2, x + 3.5))
    # everything else blank
    assert np.isnan(grid[~painted]).all()
    headers = [(t.row, t.col, t.text) for t in texts if t.kind == "header"]
    assert headers == [
        (4, -0.5, "train: added: 41 images, 40 shown"),
        (28 + 4, -0.5, "test: removed: 3 images"),
    ]
    got = [(t.row, t.col, t.text) for t in texts if t.kind == "label"]
    want = [str(d) for d in np.arange(40) % 10] + ["7", "8", "9"]
    assert got == [(r, c, d) for (r, c), d in zip(labels, want, strict=True)]
    # each group's title before its labels
    assert len(texts) == 2 + 43 and texts[1].kind == "label"


def test_review_sheet_shows_a_full_group_without_a_cut_and_nothing_as_one_line():
    _, texts = review.sheet([("moved test -> train (label in B)", shaded(40), np.zeros(40, int))])
    assert texts[0].text == "moved test -> train (label in B): 40 images"
    _, texts = review.sheet([(name, shaded(1), np.zeros(1, int)) for name in "abc"])
    headers = [t.row for t in texts if t.kind == "header"]
    # one under another
    assert headers == [4, 17 + 4, 2 * 17 + 4]
    grid, texts = review.sheet([])
    assert grid.shape == (6, 179) and grid.dtype == np.float32 and np.isnan(grid).all()
    assert texts == [review.Text(2.5, 89.0, "no image added, removed or moved", "note")]


def test_review_png_draws_the_sheet_half_an_inch_per_image():
    # black images: 20 in the first row, one in the second
    ink = np.ones((21, 8, 8), np.float32)
    # but one grey
    ink[1] = 0.5
    png = review.figure([("train: added", ink, np.zeros(21, int))], "A -> B")
    # (rows, columns, RGB) in [0, 1]
    pixels = png_pixels(png)[..., :3]
    # the sheet is 28 x 179 pixels at 0.055 in, with 0.3 in round it and 0.3 in more for the title
    assert pixels.shape == (round((28 * 0.055 + 0.9) * 100), round((179 * 0.055 + 0.6) * 100), 3)

    # the figure's pixel at the centre of the sheet's pixel (row, col)
    def at(row, col):
        return pixels[
            int((0.6 + (row + 0.5) * 0.055) * 100), int((0.3 + (col + 0.5) * 0.055) * 100)
        ]

    white = np.ones(3)
    # an image's centre is black, the gap to its right white
    for k in (0, 19, 20):
        y, x = 6 + (k // 20) * 11 + 3, (k % 20) * 9
        assert (at(y + 4, x + 4) == 0).all(), k
        assert (at(y + 4, x + 8) == white).all(), k
        # the space above the group's title
        assert (at(1, x + 4) == white).all(), k
        band = pixels[int((0.6 + (y - 3) * 0.055) * 100) : int((0.6 + y * 0.055) * 100)]
        assert (
            band[:, int((0.3 + x * 0.055) * 100) : int((0.3 + (x + 8) * 0.055) * 100)].min() < 0.5
        )
    # grey on a scale of 0 to 1
    assert np.allclose(at(6 + 3 + 4, 9 + 4), 0.5, atol=0.01)
    # no 22nd image
    assert (at(6 + 11 + 3 + 4, 9 + 4) == white).all()
    # the title in the top 0.3 in; nothing else outside the sheet (no axis, no tick)
    assert pixels[:30].min() < 0.5
    outside = np.ones(pixels.shape[:2], bool)
    outside[:30] = False
    # the sheet
    outside[60 : 60 + math.ceil(28 * 5.5), 30 : 30 + math.ceil(179 * 5.5)] = False
    assert (pixels[outside] == 1).all()
    grey = png_pixels(review.figure([("g", np.full((1, 8, 8), 0.5, np.float32), [0])], ""))
    # alone too
    assert np.allclose(grey[int((0.6 + 13.5 * 0.055) * 100), 52, :3], 0.5, atol=0.01)
    empty = png_pixels(review.figure([], "nothing"))
    assert empty.shape == (round((6 * 0.055 + 0.9) * 100), round((179 * 0.055 + 0.6) * 100), 4)


def test_review_lists_every_changed_param_and_metric(revs, tmp_path, capsys, monkeypatch):
    repo, a, _ = revs
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    params = {"seed": 42, "sample": {"train_per_class": 100, "test_per_class": 20}}
    (clone / "params.yaml").write_text(json.dumps(params))
    commit(clone, "params")
    params["sample"]["train_per_class"], params["seed"] = 90, None
    (clone / "params.yaml").write_text(json.dumps({**params, "benchmark": {"epochs": 20}}))
    (clone / "reports/metrics.json").write_text(
        json.dumps({"test_accuracy": 0.75, "gate": {"passed": True}})
    )
    commit(clone, "90 per digit")
    assert review.changes("main~1", "main", Path("params.yaml"), clone) == [
        ("benchmark.epochs", None, 20),
        ("sample.train_per_class", 100, 90),
        ("seed", 42, None),
    ]
    assert review.changes("main~1", None, Path("params.yaml"), clone) == review.changes(
        "main~1", "main", Path("params.yaml"), clone
    )
    monkeypatch.chdir(clone)
    capsys.readouterr()
    # diff --markdown, and the PNG in reports/local/
    review.main(["main~1"])
    md = capsys.readouterr().out
    assert (
        "#### Params changed\n\n| param | A | B |\n| --- | --- | --- |\n"
        "| `benchmark.epochs` | absent | `20` |\n"
        "| `sample.train_per_class` | `100` | `90` |\n"
        "| `seed` | `42` | absent |\n" in md
    )
    metrics = md[md.index("#### Metrics changed") : md.index("#### Files")]
    # test_accuracy is the same at both: not a row
    assert metrics == (
        "#### Metrics changed (`reports/metrics.json`)\n\n| metric | A | B | change |\n"
        "| --- | ---: | ---: | ---: |\n| `gate.passed` | absent | `true` |  |\n\n"
    )
    assert (clone / config.REVIEW_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_review_takes_one_revision(revs, monkeypatch, capsys):
    monkeypatch.chdir(revs[0])
    with pytest.raises(SystemExit) as stop:
        review.main(["a", "b"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m pipeline review: error: unrecognized arguments: b"
    )


def test_review_help_says_what_it_writes_and_its_default():
    assert help_text(review.main) == (
        "usage: python -m pipeline review [-h] [BASE] The pull-request data review: what changed "
        "in the published files from BASE to the working tree, with the params and metrics that "
        "changed (Markdown on stdout), and a PNG of the images added, removed or moved in "
        "reports/local/review.png. positional arguments: BASE git revision (default: main) "
        "options: -h, --help show this help message and exit"
    )


def test_review_of_no_change_says_none(revs, tmp_path, capsys, monkeypatch):
    repo, _, b = revs
    monkeypatch.chdir(repo)
    capsys.readouterr()
    diff.main([b, "main", "--markdown"])
    md = capsys.readouterr().out
    assert (
        "Moved between splits: 0 from train to test, 0 from test to train. Labels changed: 0." in md
    )
    assert "Leakage" not in md
    assert (
        "#### Params changed\n\nNone.\n\n#### Metrics changed (`reports/metrics.json`)\n\nNone.\n"
        in md
    )
    assert md.count("(unchanged) |") == 3
    png = review.figure(review.groups(B, B), "nothing")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_side_is_read_at_its_own_revision(revs, pdiff, tmp_path):
    """dvc.yaml (which files are published), the metrics and the params are read at each revision,
    not in the working tree, which here differs from both."""
    repo, a, b = revs
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    run(["git", "rm", "-q", "reports/metrics.json"], clone)
    (clone / "params.yaml").write_text(json.dumps({"seed": 7}))
    c = commit(clone, "no metrics; params")
    (clone / "dvc.yaml").write_text("stages: {}\n")
    (clone / "params.yaml").write_text(json.dumps({"seed": 8}))
    (clone / "reports").mkdir(exist_ok=True)
    (clone / "reports/metrics.json").write_text(json.dumps({"test_accuracy": 0.5}))
    r = json.loads(pdiff(clone, a, c, "--json"))
    assert numbers(r) == EXPECTED and r["test_accuracy"] == {"a": 0.8, "b": None}
    md = pdiff(clone, b, c, "--markdown")
    assert "| `seed` | absent | `7` |" in md
    assert "| `test_accuracy` | `0.75` | absent |  |" in md


def test_json_is_indented_and_the_output_ends_in_one_newline(revs, pdiff):
    repo, a, b = revs
    out = pdiff(repo, a, b, "--json")
    assert out.startswith('{\n  "a": ') and out.endswith("}\n")
    for form in ((), ("--markdown",)):
        out = pdiff(repo, a, b, *form)
        assert out.endswith("\n") and not out.endswith("\n\n")


def test_the_text_tables_digits_under_their_headings(revs, pdiff):
    repo, a, b = revs
    lines = pdiff(repo, a, b).splitlines()
    at = lines.index("train: 20 -> 18 images: 3 added, 5 removed, 15 kept")
    after = np.bincount(B["train"][1], minlength=10)
    assert lines[at + 1 : at + 4] == [
        "  digit   " + "  ".join(f"{d:>4}" for d in range(10)),
        "  A       " + "  ".join(f"{n:>4}" for n in [2] * 10),
        "  B       " + "  ".join(f"{n:>4}" for n in after),
    ]


def test_the_text_lists_each_published_file_at_both_revisions(revs, pdiff):
    repo, a, b = revs
    lines = pdiff(repo, a, b).splitlines()
    names = list(json.loads(pdiff(repo, a, b, "--json"))["files"])

    cells = {n: (file_cell(repo, a, n), file_cell(repo, b, n)) for n in names}
    width, left = max(map(len, names)), max(len(was) for was, _ in cells.values())
    rows = [
        f"  {n:<{width}}  {was:<{left}}  {'(unchanged)' if was == now else f'-> {now}'}"
        for n, (was, now) in cells.items()
    ]
    at = lines.index("files:")
    assert lines[at + 1 : at + 1 + len(names)] == rows
    assert lines[at + 1 + len(names)].startswith("benchmark test accuracy:")
    # a file changed, at both sides
    assert any("-> " in r and "absent" not in r for r in rows)
    # croissant.json, new in B
    assert any(
        " absent " in r and r.endswith("-> 3 bytes sha256 " + SHA_OF_BRACES[:16]) for r in rows
    )


def test_help_names_each_argument_and_its_default():
    out = help_text(diff.main)
    assert out.startswith("usage: python -m pipeline diff ")
    # the docstring's first line only, then the arguments
    assert "two git revisions, image by image. positional arguments: a git revision" in out
    for text in (
        diff.__doc__.split("\n")[0],
        "a git revision or tag (default: the last release)",
        "b git revision or tag (default: the working tree)",
        "--json print one JSON object",
        "--markdown print the pull-request review (Markdown)",
        "--png PNG also write a PNG of the images added, removed and moved",
    ):
        assert text in out, text


def test_per_digit_counts_list_every_digit_even_one_absent():
    no_nines = {s: (x[y != 9], y[y != 9]) for s, (x, y) in A.items()}
    r = diff.compare(A, no_nines)
    assert r["train"]["per_digit_after"] == [2] * 9 + [0]
    assert diff.compare(no_nines, A)["test"]["per_digit_before"] == [1] * 9 + [0]


def test_the_default_base_is_found_in_the_repository_named(revs, tmp_path, monkeypatch):
    repo, a, _ = revs
    # not a repository
    monkeypatch.chdir(tmp_path)
    assert diff.default_base(repo) == (
        "tinydigits@v1.0.0",
        f"release 1.0.0 (tag tinydigits@v1.0.0, commit {a[:7]})",
    )


def test_review_compares_with_main_by_default(revs, tmp_path, capsys, monkeypatch):
    repo, _, b = revs
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    monkeypatch.chdir(clone)
    capsys.readouterr()
    review.main([])
    assert f"A = `main ({b[:7]})` -> B = `working tree`" in capsys.readouterr().out


def test_a_review_group_takes_each_digits_first_image_then_each_ones_second():
    """Cut at SHOWN_PER_GROUP, a group still shows every digit: round-robin over the digits."""
    # 0..4 and 10..14 removed
    b = {"train": split(np.r_[5:10, 15:20]), "test": A["test"]}
    (title, images, labels), *rest = review.groups(A, b)
    assert title == "train: removed" and rest == []
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]
    first = {int(label): i for i, label in reversed(list(enumerate(labels)))}
    # each digit's images in one fixed order: by content hash
    for digit, at in first.items():
        same = [i for i in np.flatnonzero(labels == digit)]
        hashes = [fingerprint.image_hash(images[i]) for i in same]
        assert hashes == sorted(hashes) and same[0] == at


def test_a_file_absent_at_a_revision_or_in_the_tree_is_named_with_where(revs):
    repo, a, _ = revs
    with pytest.raises(RevisionError) as err:
        revisions.show(a, "nope.txt", repo)
    assert str(err.value) == f"nope.txt does not exist at revision {a!r}"
    with pytest.raises(RevisionError) as err:
        revisions.show(None, "nope.txt", repo)
    assert str(err.value) == "nope.txt does not exist in the working tree"


def test_the_review_markdown_whole():
    """The pull request's review as GitHub renders it: every blank line before a table or a quote
    matters, so the whole text is pinned (each piece has its own test above)."""

    def short(blob):
        return hashlib.sha256(blob).hexdigest()[:16]

    files_a = {"test.npz": b"t" * 1000, "train.npz": b"a" * 2500}
    files_b = {"croissant.json": b"{}\n", "test.npz": b"t" * 1000, "train.npz": b"b" * 2400}
    r = diff.report(
        diff.Snapshot("A", A, files_a, 0.8), diff.Snapshot("B (abc1234)", B, files_b, 0.75)
    )
    c, t, a, b = (short(blob) for blob in (b"{}\n", b"t" * 1000, b"a" * 2500, b"b" * 2400))
    params = [("sample.train_per_class", 100, 90)]
    metrics = [("test_accuracy", 0.8, 0.75), ("gate.passed", None, True)]
    assert (
        review.markdown(r, params, metrics)
        == f"""### TinyDigits data review

A = `A` -> B = `B (abc1234)`

| split | images in A | images in B | added | removed | kept |
| --- | ---: | ---: | ---: | ---: | ---: |
| train | 20 | 18 | 3 | 5 | 15 |
| test | 10 | 11 | 6 | 5 | 5 |

Moved between splits: 2 from train to test, 3 from test to train. Labels changed: 1.

> **Leakage warning:** 2 images of A's train set are in B's test set. A model trained on A and \
scored on B would be scored on its own training images: do not compare such scores.

#### Images per digit

| split | | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | total |
| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| train | A | 2 | 2 | 2 | 2 | 2 | 2 | 2 | 2 | 2 | 2 | 20 |
| train | B | 2 | 4 | 3 | 2 | 2 | 1 | 1 | 1 | 1 | 1 | 18 |
| test | A | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 10 |
| test | B | 1 | 1 | 1 | 1 | 0 | 2 | 2 | 1 | 1 | 1 | 11 |

#### Params changed

| param | A | B |
| --- | --- | --- |
| `sample.train_per_class` | `100` | `90` |

#### Metrics changed (`reports/metrics.json`)

| metric | A | B | change |
| --- | ---: | ---: | ---: |
| `test_accuracy` | `0.8` | `0.75` | -0.0500 |
| `gate.passed` | absent | `true` |  |

#### Files

| file | A | B |
| --- | --- | --- |
| `croissant.json` | absent | 3 bytes, sha256 `{c}` |
| `test.npz` | 1,000 bytes, sha256 `{t}` | 1,000 bytes, sha256 `{t}` (unchanged) |
| `train.npz` | 2,500 bytes, sha256 `{a}` | 2,400 bytes, sha256 `{b}` |
"""
    )
