"""A data review of a change, for a pull request: ``make review BASE=REV``.

    $ make review BASE=tinydigits@v1.0.0      # or: python -m pipeline review tinydigits@v1.0.0
    ### TinyDigits data review
    ...                                         # Markdown on stdout; the PNG in reports/local/

The Markdown (:func:`markdown`) is the :func:`pipeline.release.diff.report` of two revisions, plus the params
and metrics that changed, read from ``params.yaml`` and ``reports/metrics.json`` at both
revisions as written (no DVC needed). The PNG (:func:`figure`) shows the images that were
added, removed or moved between splits, each labelled with its digit, grouped by split.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml

from pipeline.core import config
from pipeline.release import fingerprint, revisions

# what `python -m pipeline review` says when Ctrl-C stops it: the PNG is replaced in one step
INTERRUPTED_HINT = (
    f"interrupted; it writes nothing but {config.REVIEW_PNG.as_posix()}, which is whole, old or new"
)
# images drawn per group; a group's title gives its full count
SHOWN_PER_GROUP = 40


def _flat(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            out.update(_flat(inner, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def _read(rev: str | None, path: Path, root: Path, parse) -> dict:
    if not revisions.exists(rev, path, root):
        return {}
    return _flat(parse(revisions.show(rev, path, root)) or {})


def changes(rev_a: str | None, rev_b: str | None, path: Path, root: Path = Path(".")) -> list:
    """(key, A, B) for every key whose value differs between the two revisions of a YAML/JSON file
    (``None`` where a side lacks the key or the file)."""
    a, b = (_read(rev, path, root, yaml.safe_load) for rev in (rev_a, rev_b))
    return [(k, a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


def _value(v) -> str:
    return "absent" if v is None else f"`{json.dumps(v)}`"


def _delta(a, b) -> str:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    return f"{b - a:+.4f}" if numbers else ""


def _file_cell(d: dict | None) -> str:
    return "absent" if d is None else f"{d['bytes']:,} bytes, sha256 `{d['sha256'][:16]}`"


def markdown(r: dict, params: list, metrics: list) -> str:
    """The review in GitHub Markdown; ``r`` as :func:`pipeline.release.diff.report` gives it."""
    lines = [
        "### TinyDigits data review",
        "",
        f"A = `{r['a']}` -> B = `{r['b']}`",
        "",
        "| split | images in A | images in B | added | removed | kept |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in config.SPLITS:
        c = r[s]
        lines.append(
            f"| {s} | {c['images_before']:,} | {c['images_after']:,} | {c['added']:,} "
            f"| {c['removed']:,} | {c['kept']:,} |"
        )
    m = r["moved"]
    lines += [
        "",
        f"Moved between splits: {m['train_to_test']:,} from train to test, "
        f"{m['test_to_train']:,} from test to train. Labels changed: {r['relabelled']:,}.",
    ]
    if m["train_to_test"]:
        lines += [
            "",
            f"> **Leakage warning:** {m['train_to_test']:,} images of A's train set are in B's test "
            "set. A model trained on A and scored on B would be scored on its own training images: "
            "do not compare such scores.",
        ]
    digits = " | ".join(map(str, config.DIGITS))
    lines += [
        "",
        "#### Images per digit",
        "",
        f"| split | | {digits} | total |",
        "| --- | --- |" + " ---: |" * (len(config.DIGITS) + 1),
    ]
    for s in config.SPLITS:
        for side, key in (("A", "per_digit_before"), ("B", "per_digit_after")):
            counts = r[s][key]
            lines.append(f"| {s} | {side} | {' | '.join(map(str, counts))} | {sum(counts):,} |")
    lines += ["", "#### Params changed", ""]
    lines += (
        ["| param | A | B |", "| --- | --- | --- |"]
        + [f"| `{k}` | {_value(a)} | {_value(b)} |" for k, a, b in params]
        if params
        else ["None."]
    )
    lines += ["", "#### Metrics changed (`reports/metrics.json`)", ""]
    lines += (
        ["| metric | A | B | change |", "| --- | ---: | ---: | ---: |"]
        + [f"| `{k}` | {_value(a)} | {_value(b)} | {_delta(a, b)} |" for k, a, b in metrics]
        if metrics
        else ["None."]
    )
    lines += ["", "#### Files", "", "| file | A | B |", "| --- | --- | --- |"]
    for name, d in r["files"].items():
        same = " (unchanged)" if d["a"] == d["b"] else ""
        lines.append(f"| `{name}` | {_file_cell(d['a'])} | {_file_cell(d['b'])}{same} |")
    return "\n".join(lines) + "\n"


def groups(a: dict, b: dict) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(title, images (N, 8, 8), labels (N,)) for each non-empty group of changed images: per split,
    added and removed (moved images excluded), then moved train -> test and test -> train.
    ``a`` and ``b`` are {split: (images, labels)}, as :class:`pipeline.release.diff.Snapshot` holds them."""

    def keyed(splits, s):
        images, labels = splits[s]
        return {fingerprint.image_hash(x): (x, int(y)) for x, y in zip(images, labels, strict=True)}

    ka = {s: keyed(a, s) for s in config.SPLITS}
    kb = {s: keyed(b, s) for s in config.SPLITS}
    moved = {
        ("train", "test"): ka["train"].keys() & kb["test"].keys(),
        ("test", "train"): ka["test"].keys() & kb["train"].keys(),
    }
    out = []

    def add(title, side, hashes):
        # Round-robin over digits (each digit's first image, then each one's second, ...), so the
        # images drawn when a group is cut at SHOWN_PER_GROUP cover every digit.
        by_digit = sorted(hashes, key=lambda h: (side[h][1], h))
        seen, rank = {}, {}
        for h in by_digit:
            rank[h] = seen[side[h][1]] = seen.get(side[h][1], -1) + 1
        picked = sorted(by_digit, key=lambda h: (rank[h], side[h][1]))
        if picked:
            images = np.stack([side[h][0] for h in picked])
            out.append((title, images, np.array([side[h][1] for h in picked], dtype=np.int64)))

    for s in config.SPLITS:
        other = "test" if s == "train" else "train"
        add(f"{s}: added", kb[s], kb[s].keys() - ka[s].keys() - ka[other].keys())
        add(f"{s}: removed", ka[s], ka[s].keys() - kb[s].keys() - kb[other].keys())
    for (src, dst), hashes in moved.items():
        add(f"moved {src} -> {dst} (label in B)", kb[dst], hashes)
    return out


# The PNG is one image, a "sheet", with every group's images pasted in and the text written over it.
# images side by side in a group
COLS = 20
# blank pixels between two images side by side
GAP = 1
# blank pixel rows above each image, where its digit is written
LABEL = 3
# blank pixel rows above a group: a space, then its title in the last three
HEADER = 6
# inches per pixel of the sheet (an 8x8 image is about half an inch)
INCH = 0.055
# inches round the sheet; the figure's title takes MARGIN more at the top
MARGIN = 0.3


class Text(NamedTuple):
    """Text over the sheet, centred vertically on ``row`` (a ``header`` starts at ``col``, a
    ``label`` is centred on it); rows and columns are the sheet's pixels."""

    row: float
    col: float
    text: str
    kind: str


def sheet(drawn: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, list[Text]]:
    """The PNG's content: each group of :func:`groups` under its title, at most
    :data:`SHOWN_PER_GROUP` of its images, :data:`COLS` to a row, each under its digit.

    Returns the sheet (float32, blank pixels NaN, the images where they are drawn) and the text to
    write over it. With no group, a sheet of one blank band and a line saying so."""
    h, w = drawn[0][1].shape[1:] if drawn else (8, 8)
    width = COLS * (w + GAP) - GAP
    blocks, texts, top = [], [], 0
    for name, images, labels in drawn:
        shown = min(len(labels), SHOWN_PER_GROUP)
        more = f", {shown} shown" if shown < len(labels) else ""
        texts.append(
            Text(top + HEADER - 2, -0.5, f"{name}: {len(labels):,} images{more}", "header")
        )
        rows = -(-shown // COLS)
        block = np.full((HEADER + rows * (LABEL + h), width), np.nan, np.float32)
        for i in range(shown):
            y, x = HEADER + (i // COLS) * (LABEL + h) + LABEL, (i % COLS) * (w + GAP)
            block[y : y + h, x : x + w] = images[i]
            texts.append(Text(top + y - (LABEL + 1) / 2, x + (w - 1) / 2, str(labels[i]), "label"))
        blocks.append(block)
        top += len(block)
    if not drawn:
        blocks.append(np.full((HEADER, width), np.nan, np.float32))
        texts.append(
            Text((HEADER - 1) / 2, (width - 1) / 2, "no image added, removed or moved", "note")
        )
    return np.concatenate(blocks), texts


def figure(drawn: list[tuple[str, np.ndarray, np.ndarray]], title: str) -> bytes:
    """The PNG of :func:`sheet`: one image and its text, under ``title`` (one axes: drawing 40
    axes per group took over a second)."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    grid, texts = sheet(drawn)
    height, width = grid.shape
    fig = Figure(figsize=(width * INCH + 2 * MARGIN, height * INCH + 3 * MARGIN), dpi=100)
    ax = fig.add_axes(
        (
            MARGIN / fig.get_figwidth(),
            MARGIN / fig.get_figheight(),
            width * INCH / fig.get_figwidth(),
            height * INCH / fig.get_figheight(),
        )
    )
    cmap = colormaps["gray_r"].with_extremes(bad="white")
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    ax.axis("off")
    style = {
        "header": {"ha": "left", "fontsize": 9, "weight": "bold"},
        "label": {"ha": "center", "fontsize": 7},
        "note": {"ha": "center", "fontsize": 9},
    }
    for t in texts:
        ax.text(t.col, t.row, t.text, va="center", **style[t.kind])
    fig.suptitle(title, fontsize=9, y=1 - MARGIN / 2 / fig.get_figheight())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def main(argv: list[str]) -> None:
    """``python -m pipeline review [BASE]``: ``diff BASE --markdown --png`` into ``reports/local/``."""
    from pipeline.release import diff

    parser = argparse.ArgumentParser(
        prog="python -m pipeline review",
        description="The pull-request data review: what changed in the published files from BASE "
        "to the working tree, with the params and metrics that changed (Markdown on stdout), and a "
        f"PNG of the images added, removed or moved in {config.REVIEW_PNG.as_posix()}.",
    )
    parser.add_argument(
        "base", nargs="?", default="main", metavar="BASE", help="git revision (default: main)"
    )
    base = parser.parse_args(argv).base
    diff.main([base, "--markdown", "--png", str(config.REVIEW_PNG)])
