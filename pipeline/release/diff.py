"""Compare the published TinyDigits files of two git revisions, image by image.

    $ python -m pipeline diff tinydigits@v1.0.0 tinydigits@v2.0.0
    $ python -m pipeline diff                     # the last release -> the working tree
    $ python -m pipeline diff A B --json          # {"train": {"added", "removed", "kept", ...},
                                                  #  "test": ..., "moved": ...}
    $ python -m pipeline diff A --markdown --png reports/local/review.png   # make review BASE=A

Images are compared by content (sha256 of their float32 bytes; the source has no duplicate
images), so a reordering is "0 added, 0 removed" while its file digests still change. Files are
read with ``git show REV:path`` (the published files are git-tracked), so no DVC checkout is
needed. A defaults to the last release in ``releases.json`` (its tag, or the commit that recorded
it when the tag is not in the clone), B to the working tree. A release tag missing from the clone
names the commit that recorded the release (:func:`pipeline.release.revisions.resolve`). ``--markdown``
adds the params and metrics that changed (:mod:`pipeline.release.review`), for a pull request's summary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core import config
from pipeline.core.errors import ReleaseError
from pipeline.core.runner import summary
from pipeline.core.storage import atomic_write_bytes
from pipeline.release import fingerprint, record, review, revisions

log = logging.getLogger(__name__)
# what `python -m pipeline diff` says when Ctrl-C stops it: --png replaces its file in one step
INTERRUPTED_HINT = "interrupted; it writes nothing but the --png file, which is whole, old or new"
METRICS_FILE = config.METRICS_FILE.as_posix()


@dataclass(frozen=True)
class Snapshot:
    """The published files at one revision: ``splits[s]`` = (images (N, 8, 8), labels (N,))."""

    label: str
    splits: dict
    files: dict[str, bytes]
    accuracy: float | None


def snapshot(rev: str | None, root: Path = Path("."), label: str | None = None) -> Snapshot:
    """Read the published files, their arrays and the benchmark's test accuracy at ``rev`` (None: working tree)."""
    names = fingerprint.published_names(revisions.show(rev, "dvc.yaml", root).decode())
    names += [m.name for m in config.METADATA_FILES]
    files = {
        n: revisions.show(rev, config.DATASET_DIR / n, root)
        for n in names
        if revisions.exists(rev, config.DATASET_DIR / n, root)
    }
    where = "the working tree" if rev is None else f"revision {rev!r}"
    try:
        data = {
            n: blob for n, blob in files.items() if n not in {m.name for m in config.METADATA_FILES}
        }
        splits = {s: fingerprint.split_arrays(data, s) for s in config.SPLITS}
    except ReleaseError as err:
        raise ReleaseError(f"{where}: {err}") from None
    accuracy = None
    if revisions.exists(rev, METRICS_FILE, root):
        accuracy = json.loads(revisions.show(rev, METRICS_FILE, root)).get("test_accuracy")
    if label is None:
        commit = None if rev is None else revisions.resolve(rev, root)
        label = (
            "working tree"
            if rev is None
            else rev
            if commit.startswith(rev)
            else f"{rev} ({commit[:7]})"
        )
    return Snapshot(label, splits, files, accuracy)


def _keyed(splits) -> dict[str, dict[str, int]]:
    return {
        s: {fingerprint.image_hash(x): int(y) for x, y in zip(*splits[s], strict=True)}
        for s in config.SPLITS
    }


def compare(a: dict, b: dict) -> dict:
    """What changed from splits ``a`` to splits ``b`` (each {split: (images, labels)}), by image content."""
    ka, kb = _keyed(a), _keyed(b)
    out = {}
    for s in config.SPLITS:
        old, new = ka[s].keys(), kb[s].keys()
        out[s] = {
            "added": len(new - old),
            "removed": len(old - new),
            "kept": len(old & new),
            "images_before": len(a[s][1]),
            "images_after": len(b[s][1]),
            "per_digit_before": np.bincount(a[s][1], minlength=10).tolist(),
            "per_digit_after": np.bincount(b[s][1], minlength=10).tolist(),
        }
    out["moved"] = {
        "train_to_test": len(ka["train"].keys() & kb["test"].keys()),
        "test_to_train": len(ka["test"].keys() & kb["train"].keys()),
    }
    label_a, label_b = {**ka["train"], **ka["test"]}, {**kb["train"], **kb["test"]}
    out["relabelled"] = sum(label_a[h] != label_b[h] for h in label_a.keys() & label_b.keys())
    return out


def report(a: Snapshot, b: Snapshot) -> dict:
    """The JSON object ``--json`` prints: :func:`compare` plus file digests and test accuracies."""

    def digest(blob):
        return (
            None
            if blob is None
            else {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
        )

    out = {"a": a.label, "b": b.label, **compare(a.splits, b.splits)}
    out["files"] = {
        n: {"a": digest(a.files.get(n)), "b": digest(b.files.get(n))}
        for n in sorted(a.files | b.files)
    }
    out["test_accuracy"] = {"a": a.accuracy, "b": b.accuracy}
    return out


def text(r: dict) -> str:
    """The readable report."""
    lines = [f"TinyDigits: A = {r['a']}  ->  B = {r['b']}", ""]
    head = "  ".join(f"{d:>4}" for d in config.DIGITS)
    for s in config.SPLITS:
        c = r[s]
        lines += [
            f"{s}: {c['images_before']:,} -> {c['images_after']:,} images: "
            f"{c['added']:,} added, {c['removed']:,} removed, {c['kept']:,} kept",
            f"  digit   {head}",
            "  A       " + "  ".join(f"{n:>4}" for n in c["per_digit_before"]),
            "  B       " + "  ".join(f"{n:>4}" for n in c["per_digit_after"]),
        ]
    m = r["moved"]
    if m["train_to_test"] or m["test_to_train"]:
        lines.append(
            f"MOVED between splits: {m['train_to_test']:,} images from A's train are in B's test, "
            f"{m['test_to_train']:,} from A's test are in B's train."
        )
        if m["train_to_test"]:
            lines.append(
                f"  A model trained on A's train and scored on B's test would be scored on "
                f"{m['train_to_test']:,} of its own training images: do not compare such scores."
            )
    else:
        lines.append("moved between splits: none")
    lines.append(
        f"labels changed: {r['relabelled']:,}" if r["relabelled"] else "labels changed: none"
    )
    lines.append("files:")
    width = max(len(n) for n in r["files"]) if r["files"] else 0
    cell = max((len(_cell(d["a"])) for d in r["files"].values()), default=0)
    for name, d in r["files"].items():
        change = (
            f"{_cell(d['a']):<{cell}}  (unchanged)"
            if d["a"] == d["b"]
            else f"{_cell(d['a']):<{cell}}  -> {_cell(d['b'])}"
        )
        lines.append(f"  {name:<{width}}  {change}")
    acc = r["test_accuracy"]
    if None in acc.values():
        lines.append(
            f"benchmark test accuracy: A {acc['a']}, B {acc['b']} (not recorded where None)"
        )
    else:
        lines.append(
            f"benchmark test accuracy: {acc['a']:.4f} -> {acc['b']:.4f} ({acc['b'] - acc['a']:+.4f})"
        )
    return "\n".join(lines)


def _cell(x) -> str:
    return "absent" if x is None else f"{x['bytes']:,} bytes sha256 {x['sha256'][:16]}"


def default_base(root: Path = Path(".")) -> tuple[str, str]:
    """(revision, description) of the last release, from the record."""
    entries = record.load(path=root / record.RECORD_FILE)
    if not entries:
        raise ReleaseError(f"no release is recorded in {record.RECORD_FILE}; name revision A")
    version = entries[-1]["version"]
    rev, how = revisions.release_revision(version, record.RECORD_FILE, root)
    return rev, f"release {version} ({how})"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline diff", description=summary(__doc__))
    parser.add_argument("a", nargs="?", help="git revision or tag (default: the last release)")
    parser.add_argument("b", nargs="?", help="git revision or tag (default: the working tree)")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print one JSON object")
    form.add_argument(
        "--markdown", action="store_true", help="print the pull-request review (Markdown)"
    )
    parser.add_argument(
        "--png", type=Path, help="also write a PNG of the images added, removed and moved"
    )
    args = parser.parse_args(argv)
    if args.a is None:
        rev, label = default_base()
        a = snapshot(rev, label=label)
    else:
        rev, a = args.a, snapshot(args.a)
    b = snapshot(args.b)
    r = report(a, b)
    if args.markdown:
        out = review.markdown(
            r,
            review.changes(rev, args.b, config.PARAMS_FILE),
            review.changes(rev, args.b, config.METRICS_FILE),
        )
    else:
        out = json.dumps(r, indent=2) if args.json else text(r)
    if args.png:
        title = f"TinyDigits: images added, removed and moved, A = {a.label} -> B = {b.label}"
        png = review.figure(review.groups(a.splits, b.splits), title)
        atomic_write_bytes(args.png, png)
        log.info("wrote %s", args.png)
    print(out.rstrip("\n"))
