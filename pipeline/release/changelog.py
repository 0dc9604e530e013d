"""``datasets/tinydigits/CHANGELOG.md`` and the release tag's message, rendered from the record.

Both are pure functions of ``releases.json`` entries (no dates: the tag carries one), so the
changelog can always be rebuilt from the record.
"""

from __future__ import annotations

from pipeline.core import config
from pipeline.release.record import param_changes

HEADER = """# TinyDigits releases

Every release of the dataset, newest first, written by `make release` from the measured facts in
[`releases.json`](releases.json). Pin a release by its git tag, e.g.
`dvc get <repo> datasets/tinydigits/train.npz --rev tinydigits@v1.0.0`; compare two with
`python -m pipeline diff A B`. Versions follow the rule in `docs/releases.md`: MAJOR when a
published file's bytes change (images added, removed, moved or relabelled, or reordered), MINOR
when new files appear beside unchanged ones, PATCH when every published file is byte-identical.
"""


def _counts(entry: dict) -> list[str]:
    head = "| split | " + " | ".join(map(str, config.DIGITS)) + " | total |"
    rows = [
        f"| {s} | "
        + " | ".join(map(str, entry["splits"][s]["per_digit"]))
        + f" | {entry['splits'][s]['images']:,} |"
        for s in config.SPLITS
    ]
    return [head, "| --- |" + " ---: |" * (len(config.DIGITS) + 1), *rows]


def _change(entry: dict) -> list[str]:
    c = entry.get("change")
    if not c:
        return [
            f"No image-level comparison with {entry['since']} was available when this was released."
        ]
    lines = [f"Compared image by image with {entry['since']}:", ""]
    lines += [
        f"- {s}: {c[s]['added']:,} added, {c[s]['removed']:,} removed, {c[s]['kept']:,} kept"
        for s in config.SPLITS
    ]
    moved = c["moved"]
    lines.append(
        f"- moved between splits: {moved['train_to_test']:,} train -> test, {moved['test_to_train']:,} test -> train"
        + (
            " (a model trained on the old train set would be scored on its own training images)"
            if moved["train_to_test"]
            else ""
        )
    )
    lines.append(f"- labels changed: {c['relabelled']:,}")
    return lines


def section(entry: dict, previous: dict | None) -> str:
    lines = [f"## {entry['version']}", "", f"Tag `{entry['tag']}`."]
    if entry["bump"]:
        lines[-1] += f" {entry['bump']} release after {entry['since']}."
    if entry.get("notes"):
        lines += ["", entry["notes"]]
    if previous is not None:
        changed = param_changes(previous["params"], entry["params"])
        lines += [
            "",
            "Params changed: "
            + ("; ".join(f"`{c}`" for c in changed) if changed else "none")
            + ".",
        ]
        lines += ["", *_change(entry)]
    acc = f"{entry['test_accuracy']:.4f}"
    if previous is not None:
        acc += f" ({previous['version']}: {previous['test_accuracy']:.4f})"
    lines += [
        "",
        "Images per digit:",
        "",
        *_counts(entry),
        "",
        f"Baseline test accuracy (mean over seeds): {acc}.",
        "",
        "| file | bytes | sha256 |",
        "| --- | ---: | --- |",
    ]
    lines += [
        f"| `{n}` | {f['bytes']:,} | `{f['sha256']}` |" for n, f in sorted(entry["files"].items())
    ]
    return "\n".join(lines)


def render(entries: list[dict]) -> str:
    sections = [section(e, entries[i - 1] if i else None) for i, e in enumerate(entries)]
    return HEADER + "\n" + "\n\n".join(reversed(sections)) + "\n"


def tag_message(entry: dict) -> str:
    """The annotated tag's message: the version, then every published file's size and sha256."""
    lines = [
        f"TinyDigits {entry['version']}"
        + (f" ({entry['bump']} after {entry['since']})" if entry["bump"] else ""),
        "",
    ]
    lines += [
        f"{n} {f['bytes']} bytes sha256 {f['sha256']}" for n, f in sorted(entry["files"].items())
    ]
    return "\n".join(lines) + "\n"
