"""Re-hash what DVC trusts: every file ``dvc.lock`` records, and every object in the DVC cache.

    $ make verify-data          # or: .venv/bin/python scripts/verify_data.py [--repair] [--objects DIR]
    verify-data: dvc.lock: 30 files match the md5 and size it records
    verify-data: cache /home/me/tinydigits/.dvc/cache: 4 objects match their md5 names

DVC re-hashes a workspace file only when its size, mtime or inode changed, and a cache object
only when it is writable (DVC makes them read-only): bytes changed under a read-only object
(bit rot, any process running as root) pass ``dvc status``, and ``dvc checkout`` copies them
into the workspace as if they were good. This script hashes everything and exits 1 with a list
of what differs. ``--repair`` deletes corrupted cache objects, so that ``dvc pull``
or ``dvc repro`` puts good ones back. ``--objects DIR`` also checks a local remote.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lock_records(repo: Path) -> dict[str, dict]:
    """``{path: {'md5': ..., 'size': ...}}`` for every dep and out ``repo/dvc.lock`` hashes."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text(encoding="utf-8")) or {}
    records = {}
    for stage in (lock.get("stages") or {}).values():
        for entry in (stage.get("deps") or []) + (stage.get("outs") or []):
            if "md5" in entry:
                records[entry["path"]] = {"md5": entry["md5"], "size": entry.get("size")}
    return records


def lock_problems(repo: Path, cache: Path | None = None) -> tuple[int, list[str]]:
    """Files checked, and one line per file whose bytes differ from what ``dvc.lock`` records."""
    problems, checked = [], 0
    for rel, rec in sorted(lock_records(repo).items()):
        path = repo / rel
        if rec["md5"].endswith(".dir"):
            n, bad = _dir_problems(path, rel, rec["md5"], cache or cache_dir(repo))
            checked, problems = checked + n, problems + bad
            continue
        checked += 1
        if not path.is_file():
            problems.append(f"{rel}: missing (dvc.lock records md5 {rec['md5']})")
            continue
        size, md5 = path.stat().st_size, md5_file(path)
        if md5 != rec["md5"] or (rec["size"] is not None and size != rec["size"]):
            problems.append(
                f"{rel}: md5 {md5} ({size:,} bytes), dvc.lock records {rec['md5']} ({rec['size']:,} bytes)"
            )
    return checked, problems


def _dir_problems(path: Path, rel: str, md5: str, cache: Path) -> tuple[int, list[str]]:
    """Rebuild the directory's manifest from its files, as DVC builds it (``.dvcignore`` applied),
    and compare its md5 with ``dvc.lock``'s; on a mismatch, name the files that differ from the
    manifest the cache holds, when it holds one (DVC keeps none for a dep in a fresh clone)."""
    if not path.is_dir():
        return 0, [f"{rel}/: missing (dvc.lock records {md5})"]
    ignored = dvcignore(path)
    entries = [
        {"md5": md5_file(f), "relpath": f.relative_to(path).as_posix()}
        for f in sorted(path.rglob("*"))
        if f.is_file() and not ignored(f.relative_to(path))
    ]
    entries.sort(key=lambda entry: entry["relpath"])
    actual = hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"
    if actual == md5:
        return len(entries), []
    for manifest in (cache / "files" / "md5" / md5[:2] / md5[2:], cache / md5[:2] / md5[2:]):
        # name the files that differ from it
        if manifest.is_file():
            recorded = {e["relpath"]: e["md5"] for e in json.loads(manifest.read_text())}
            now = {e["relpath"]: e["md5"] for e in entries}
            problems = [
                f"{rel}/{name}: missing"
                if name not in now
                else f"{rel}/{name}: not in the manifest"
                if name not in recorded
                else f"{rel}/{name}: md5 {now[name]}, manifest records {recorded[name]}"
                for name in sorted(set(recorded) | set(now))
                if recorded.get(name) != now.get(name)
            ]
            return len(entries), problems
    return len(entries), [f"{rel}/: its files hash to {actual}, dvc.lock records {md5}"]


def dvcignore(folder: Path):
    """A predicate on paths below ``folder``: does the repository's ``.dvcignore`` exclude it?
    Read with pathspec's gitignore rules, which DVC itself uses for that file."""
    # a dependency of dvc
    import pathspec

    repo = next((p for p in [folder, *folder.parents] if (p / ".dvc").is_dir()), folder)
    ignore = repo / ".dvcignore"
    spec = pathspec.GitIgnoreSpec.from_lines(
        ignore.read_text().splitlines() if ignore.is_file() else []
    )
    return lambda relpath: spec.match_file((folder / relpath).relative_to(repo).as_posix())


def cache_dir(repo: Path) -> Path:
    """The project's DVC cache folder (``.dvc/cache`` unless configured otherwise)."""
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "cache", "dir"], cwd=repo, capture_output=True, text=True
    )
    return (
        Path(out.stdout.strip())
        if out.returncode == 0 and out.stdout.strip()
        else repo / ".dvc" / "cache"
    )


def object_problems(objects: Path, *, repair: bool = False) -> tuple[int, list[str]]:
    """Objects checked under ``objects/files/md5``, and one line per object whose md5 is not its name."""
    problems, checked = [], 0
    root = objects / "files" / "md5"
    for path in sorted(root.glob("??/*")) if root.is_dir() else []:
        name = path.parent.name + path.name
        if path.suffix in (".tmp", ".lock") or not path.is_file():
            continue
        checked += 1
        md5 = md5_file(path)
        if md5 != name.removesuffix(".dir"):
            action = ""
            if repair:
                os.chmod(path, 0o644)
                path.unlink()
                action = "; removed (restore it with `dvc pull` or `dvc repro`)"
            problems.append(f"{path}: content md5 {md5} does not match its name {name}{action}")
    return checked, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verify_data.py", description=__doc__.split("\n")[0])
    parser.add_argument(
        "repo", nargs="?", type=Path, default=ROOT, help="project folder (default: this one)"
    )
    parser.add_argument("--repair", action="store_true", help="delete corrupted cache objects")
    parser.add_argument(
        "--objects", type=Path, action="append", default=[], help="also check this local remote"
    )
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    if not (repo / "dvc.lock").is_file():
        parser.error(
            f"{args.repo} holds no dvc.lock: give the project's folder (default: this one)"
        )
    for folder in args.objects:
        if not folder.is_dir():
            # an empty count would read as a pass
            parser.error(f"--objects {folder}: no such folder")
    cache = cache_dir(repo)
    checks = [("dvc.lock", "files match the md5 and size it records", lock_problems(repo, cache))]
    for label, folder in [(f"cache {cache}", cache)] + [(f"objects {d}", d) for d in args.objects]:
        checks.append(
            (label, "objects match their md5 names", object_problems(folder, repair=args.repair))
        )
    failures = 0
    for label, ok, (checked, problems) in checks:
        print(
            f"verify-data: {label}: {checked} "
            + (ok if not problems else f"checked, {len(problems)} differ:")
        )
        for line in problems:
            print(f"  - {line}")
        failures += len(problems)
    if failures:
        print(
            f"verify-data: FAIL: {failures} file(s) differ from their recorded md5", file=sys.stderr
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from pipeline.core.runner import run

    sys.exit(run("verify-data", main, hint="interrupted; it only reads, so nothing changed"))
