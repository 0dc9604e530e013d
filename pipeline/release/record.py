"""The release record, ``datasets/tinydigits/releases.json``: what each TinyDigits version is.

One entry per release, oldest first::

    {"version": "1.0.0", "tag": "tinydigits@v1.0.0", "date": "2026-11-25", "bump": null, "since": null,
     "params": {...resolved params.yaml...}, "test_accuracy": 0.7985,
     "files": {"train.pkl": {"bytes": 264255, "sha256": "2542..."}, ...},
     "splits": {"train": {"images": 1000, "per_digit": [100, ...], "content_sha256": "..."}, ...},
     "change": {...what pipeline.release.diff found against the previous release...}, "notes": "..."}

The measured parts (``files``, ``splits``) come from :mod:`pipeline.release.fingerprint`. ``date`` is the
day (UTC) of the commit released: ``make release`` reads it from git (HEAD's committer date), never
from the clock, so the same commit always records the same date. The published
files are the outputs ``dvc.yaml`` declares under ``datasets/tinydigits/``, except the card, which
names the release and so changes because of the record (its digest is never recorded). This
module is what the card needs (the benchmark stage imports it), so it reads no data files.

The bump rule (TensorFlow Datasets' rule; see docs/releases.md): MAJOR when a published file's
bytes changed or it disappeared (images added, removed or moved between splits, a label changed,
or only reordered: pinned digests break either way); MINOR when new files appear beside
unchanged ones; PATCH when every published file is byte-identical (card, metadata, code).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

from pipeline.core import config, params
from pipeline.core.errors import ReleaseError

RECORD_FILE, CHANGELOG_FILE = config.RECORD_FILE, config.CHANGELOG_FILE
LEVELS = ("MAJOR", "MINOR", "PATCH")
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


def parse_version(text: str) -> tuple[int, int, int]:
    match = _SEMVER.fullmatch(text or "")
    if not match:
        raise ReleaseError(
            f"VERSION must be a semantic version MAJOR.MINOR.PATCH such as 2.0.0, got {text!r}"
        )
    return tuple(int(n) for n in match.groups())


def bump_level(old: str, new: str) -> str | None:
    """MAJOR, MINOR or PATCH: the first part of ``new`` that is greater; None if not greater."""
    a, b = parse_version(old), parse_version(new)
    if b <= a:
        return None
    return next(level for level, x, y in zip(LEVELS, a, b, strict=True) if x != y)


def load(text: str | None = None, path: Path = RECORD_FILE) -> list[dict]:
    """The record's entries, oldest first (``[]`` when there is no record yet)."""
    if text is None:
        if not Path(path).exists():
            return []
        text = Path(path).read_text(encoding="utf-8")
    try:
        entries = json.loads(text)["releases"]
        [parse_version(e["version"]) for e in entries]
    except (ValueError, KeyError, TypeError, ReleaseError) as err:
        raise ReleaseError(
            f"{path} is not a valid release record ({type(err).__name__}: {err})"
        ) from None
    return entries


def record_bytes(entries: list[dict]) -> bytes:
    return (json.dumps({"releases": entries}, indent=2, sort_keys=True) + "\n").encode()


def params_dict(p: params.Params) -> dict:
    """The resolved params (per-digit counts spelled out), as JSON data."""
    return json.loads(json.dumps(dataclasses.asdict(p)))


def required_bump(last: dict, now: dict) -> tuple[str | None, list[str]]:
    """(MAJOR/MINOR/PATCH, reasons) for going from entry ``last`` to the measured ``now``;
    (None, ...) when nothing published changed and ``None`` is not allowed by the caller."""
    reasons = []
    for split in config.SPLITS:
        old, new = last["splits"][split], now["splits"][split]
        if old["content_sha256"] != new["content_sha256"]:
            size = (
                f"{old['images']:,} -> {new['images']:,} images"
                if old["images"] != new["images"]
                else f"still {new['images']:,} images, but not the same ones or not the same labels"
            )
            reasons.append(f"{split}: images or labels changed ({size})")
    for name, old in sorted(last["files"].items()):
        new = now["files"].get(name)
        if new is None:
            reasons.append(f"{name} is no longer published")
        elif new["sha256"] != old["sha256"] and not any(
            r.startswith(name.split(".")[0] + ":") for r in reasons
        ):
            reasons.append(
                f"{name}: same images and labels but other bytes (order or encoding), "
                "so its pinned sha256 breaks"
            )
    if reasons:
        return "MAJOR", reasons
    added = sorted(set(now["files"]) - set(last["files"]))
    if added:
        return "MINOR", [f"new file(s) {', '.join(added)} beside unchanged ones"]
    return "PATCH", ["every published file is byte-identical (card, metadata or code changed)"]


def param_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every param that differs, named as ``params.yaml`` names them: resolved
    per-digit counts are shown as ``sample.train_per_class`` and ``sample.train_counts`` overrides."""
    old, new = _as_written(old), _as_written(new)
    out = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict) and not key.endswith("_counts"):
            out += param_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {_show(a)} -> {_show(b)}")
    return out


def _as_written(block: dict) -> dict:
    """The sample block's resolved ``train_counts``/``test_counts`` lists as ``*_per_class`` (the
    count most digits have) plus ``*_counts`` overrides, the way ``params.yaml`` says them."""
    block = dict(block)
    for split in config.SPLITS:
        counts = block.get(f"{split}_counts")
        if isinstance(counts, list) and len(counts) == len(config.DIGITS):
            common = min(set(counts), key=lambda n: (-counts.count(n), n))
            block[f"{split}_per_class"] = common
            block[f"{split}_counts"] = {d: n for d, n in enumerate(counts) if n != common}
    return block


def _show(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def described(entries: list[dict], p: params.Params, files: dict[str, bytes]) -> dict | None:
    """The release the build is, or None: the newest entry with these params whose recorded data files
    are exactly ``files`` (name -> bytes of every published data file; metadata files are left out)."""
    return _described(entries, params_dict(p), _digests(files))


def _digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(blob).hexdigest() for name, blob in files.items()}


def _described(entries: list[dict], current: dict, digests: dict[str, str]) -> dict | None:
    for e in reversed(entries):
        if e["params"] == current and {n: f["sha256"] for n, f in e["files"].items()} == digests:
            return e
    return None


def date_published(entries: list[dict]) -> str | None:
    """The day TinyDigits was first published (schema.org's ``datePublished``): the first release's
    recorded ``date``, YYYY-MM-DD; None when no release is recorded."""
    return entries[0]["date"] if entries else None


def version_of(entries: list[dict], p: params.Params, files: dict[str, bytes]) -> str:
    """The version the build describes itself as: a release's, or ``LAST+unreleased`` (semver build
    metadata) for anything else, so a variant never claims a released version."""
    e = described(entries, p, files)
    if e is not None:
        return e["version"]
    return f"{entries[-1]['version']}+unreleased" if entries else "0.0.0+unreleased"


def card_note(entries: list[dict], p: params.Params, files: dict[str, bytes]) -> str:
    """The card's sentence on which release it describes; ``files`` as for :func:`described`."""
    if not entries:
        return "No TinyDigits release is recorded yet (`datasets/tinydigits/releases.json`)."
    # each file hashed once
    current, digests = params_dict(p), _digests(files)
    latest, e = entries[-1], _described(entries, current, digests)
    if e is not None:
        later = "" if e is latest else f"; the latest release is {latest['version']}"
        return (
            f"This card describes **TinyDigits {e['version']}** (git tag `{e['tag']}`; "
            f"see [CHANGELOG.md](CHANGELOG.md){later})."
        )
    recorded = {n: f["sha256"] for n, f in latest["files"].items()}
    changes = [f"`{c}`" for c in param_changes(latest["params"], current)]
    changed = sorted(n for n in recorded if n in digests and digests[n] != recorded[n])
    new, gone = sorted(set(digests) - set(recorded)), sorted(set(recorded) - set(digests))
    how = "; ".join(
        part
        for part in (
            "its params differ: " + "; ".join(changes) if changes else "",
            f"other bytes in {', '.join(changed)}" if changed else "",
            f"files not in that release: {', '.join(new)}" if new else "",
            f"files missing: {', '.join(gone)}" if gone else "",
        )
        if part
    )
    return (
        f"This is an **unreleased variant** of TinyDigits, not a release: it differs from the last "
        f"release, {latest['version']} (`{latest['tag']}`): {how}."
    )
