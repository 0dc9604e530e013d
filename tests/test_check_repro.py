"""`make check-repro`, the CI gate, passes on a reproducible HEAD and fails, saying what differs,
on a commit whose outputs were altered; scripts/verify_data.py finds what DVC trusts blindly."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time

import pytest
import yaml

from scripts.check_repro import check_git
from scripts.repro_setup import clone_head, venv_mismatch
from scripts.verify_data import lock_problems, object_problems
from tests.helpers import (
    LIGHT_BENCHMARK,
    ROOT,
    VENV_BIN,
    copy_build,
    ctrl_c,
    git,
    link_venv,
    run,
    update_params,
)

V1_TRAIN = "254293630e549113002cdc3f7f1542715e0a40288a3a8a0358fb8e478dce1e54"
V1_TEST = "767ea1644a12dac6f3f94f63536de4deace8a0fa1f5c54f80a9419a267c7802d"
STAGES = set(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])


def commit_all(repo, message):
    if run(["git", "status", "--porcelain"], repo).stdout:
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-qm", message], repo)


def check_repro(repo, tmp):
    """`make check-repro` in ``repo``, reusing this environment's .venv (never rebuilding it)."""
    start = time.monotonic()
    result = run(
        ["make", "-o", ".venv/.installed", "check-repro"],
        repo,
        check=False,
        env={"TMPDIR": str(tmp)},
    )
    print(
        f"make check-repro: exit {result.returncode} in {time.monotonic() - start:.1f} s\n{result.stdout}"
    )
    return result


def stages_rebuilt(out):
    """The stages the gate's `dvc repro --force` ran, as it lists them."""
    found = re.search(r"check-repro: dvc repro --force: (\d+) stages ran in \S+ s: (.*)", out)
    assert found, out
    names = found.group(2).split(", ")
    assert int(found.group(1)) == len(names)
    return set(names)


def flip_a_zero_pixel(path):
    """Change one 0.0 pixel to 0.0625 in place: the same size, still a valid file of the same arrays'
    shapes; returns the new sha256."""
    data = path.read_bytes()
    # a run of 0.0 pixels
    at = data.index(bytes(16))
    path.write_bytes(data[:at] + bytes.fromhex("0000803d") + data[at + 4 :])
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def project(cold_build, tmp_path_factory):
    """A copy of the project at a reproduced commit, with this environment as its .venv.

    Its benchmark is lighter (two seeds, one sweep point besides the gate's 100, a short
    reference), reproduced and committed: each gate run below rebuilds every stage, and what it
    checks does not depend on how many runs the benchmark trains. The committed project's own
    settings pass the same gate in CI (`make check-repro`). The plain `dvc repro` of a
    benchmark-only change is itself checked: the gate passes only if it rewrote every file whose
    bytes depend on those settings (it once left croissant.json's version behind: the pickle
    stage did not track `benchmark`)."""
    base = tmp_path_factory.mktemp("gate")
    repo = link_venv(copy_build(cold_build, base / "repo"))
    update_params(repo, benchmark=LIGHT_BENCHMARK)
    run(["dvc", "repro"], repo, timeout=1800)
    commit_all(repo, "a lighter benchmark")
    (base / "tmp").mkdir()
    return repo, base / "tmp"


@pytest.mark.e2e
def test_gate_passes_on_a_reproducible_head(project):
    repo, tmp = project
    result = check_repro(repo, tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "environment: reusing" in result.stdout
    assert result.stdout.count("check-repro: PASS") == 4 and "FAIL" not in result.stdout
    assert "reproduces byte for byte" in result.stdout
    # every stage, not only those DVC finds stale
    assert stages_rebuilt(result.stdout) == STAGES
    # the clone is removed
    assert list(tmp.iterdir()) == []


@pytest.mark.e2e
def test_ctrl_c_stops_the_gate_in_one_line_and_removes_its_clone(project):
    """Ctrl-C while the gate's `dvc repro --force` runs a stage in its clone."""
    repo, tmp = project
    # group_ends: the gate let its dvc repro stop, and dvc waited for its stage
    status, output = ctrl_c(
        repo,
        ["make", "-o", ".venv/.installed", "check-repro"],
        lambda _, procs: any("-m pipeline" in p.cmd for p in procs),
        env={"TMPDIR": str(tmp)},
        group_ends=True,
    )
    lines = output.splitlines()
    assert "Traceback" not in output, output
    assert lines[-2] == "check-repro: interrupted; its clone is removed, and nothing else changed"
    # make's own last line: "Interrupt" or "Error 130", as the signal reaches make before or after
    assert status != 0 and re.search(r"check-repro\] (Interrupt|Error 130)$", lines[-1]), output
    assert list(tmp.iterdir()) == []


@pytest.mark.e2e
def test_gate_fails_on_a_commit_with_altered_outputs_and_lists_them(project):
    repo, tmp = project
    tampered = flip_a_zero_pixel(repo / "datasets/tinydigits/train.pkl")
    lock = repo / "dvc.lock"
    sample = yaml.safe_load(lock.read_text())["stages"]["sample"]["outs"][0]
    sample_md5, size = sample["md5"], sample["size"]
    forged = hashlib.md5(b"forged").hexdigest()
    lock.write_text(lock.read_text().replace(f"md5: {sample_md5}", f"md5: {forged}"))
    commit_all(repo, "tampered outputs")
    (repo / "notes.txt").write_text("uncommitted")

    result = check_repro(repo, tmp)
    out = result.stdout
    # make reports the script's exit 1 as 2
    assert result.returncode != 0
    assert "note: 1 uncommitted change(s)" in out
    assert "FAIL git status --porcelain is empty" in out
    assert (
        f"M datasets/tinydigits/train.pkl: committed 264,255 bytes sha256 {tampered[:16]}, "
        f"rebuilt 264,255 bytes sha256 {V1_TRAIN[:16]}"
    ) in out
    assert "M dvc.lock:" in out
    assert (
        f"sample out datasets/interim/sample.npz: md5 {forged} ({size} bytes) -> md5 {sample_md5} ({size} bytes)"
        in out
    )
    assert f"split dep datasets/interim/sample.npz: md5 {forged}" in out
    assert "does NOT reproduce: 1 of 4 checks failed" in out
    run(["git", "reset", "-q", "--hard", "HEAD~1"], repo)


@pytest.mark.e2e
def test_gate_fails_on_a_consistent_forgery_and_names_the_file(project):
    """A published file edited by hand, then `dvc commit -f` and committed: dvc.lock agrees with it,
    so only rebuilding every stage (`--force`) can find that the code does not make these bytes."""
    repo, tmp = project
    forged = flip_a_zero_pixel(repo / "datasets/tinydigits/test.pkl")
    run(["dvc", "commit", "-f", "-q"], repo)
    # consistent
    assert run(["dvc", "status", "-q"], repo, check=False).returncode == 0
    commit_all(repo, "test.pkl edited by hand, recorded by dvc commit -f")
    try:
        result = check_repro(repo, tmp)
        out = result.stdout
        assert result.returncode != 0, out
        assert stages_rebuilt(out) == STAGES
        assert "FAIL git status --porcelain is empty" in out
        assert (
            f"M datasets/tinydigits/test.pkl: committed 53,044 bytes sha256 {forged[:16]}, "
            f"rebuilt 53,044 bytes sha256 {V1_TEST[:16]}"
        ) in out
        assert "does NOT reproduce" in out
    finally:
        run(["git", "reset", "-q", "--hard", "HEAD~1"], repo)


# ---- what the gate lists, on a hand-made clone ------------------------------------------------------


@pytest.fixture
def rebuilt_clone(tmp_path):
    """A git repository standing in for the gate's clone after its rebuild: a text file and a binary
    file changed, a new file in a new folder, and a lock whose one entry changed."""
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "notes.txt").write_text("".join(f"line {i}\n" for i in range(20)))
    (clone / "data.bin").write_bytes(bytes(10))
    lock = {"stages": {"s": {"cmd": "x", "outs": [{"path": "data.bin", "md5": "a", "size": 10}]}}}
    (clone / "dvc.lock").write_text(yaml.safe_dump(lock))
    run(["git", "init", "-q", "-b", "main"], clone)
    run(["git", "add", "-A"], clone)
    run(["git", "commit", "-qm", "committed"], clone)
    (clone / "notes.txt").write_text("".join(f"LINE {i}\n" for i in range(20)))
    (clone / "data.bin").write_bytes(bytes(9) + b"\1")
    lock["stages"]["s"]["outs"][0]["md5"] = "b"
    # a new entry
    lock["stages"]["s"]["deps"] = [{"path": "in.txt", "md5": "c", "size": 1}]
    (clone / "dvc.lock").write_text(yaml.safe_dump(lock))
    (clone / "new").mkdir()
    (clone / "new/file.txt").write_text("made by the rebuild")
    return clone


def test_the_gate_lists_every_change_file_by_file(rebuilt_clone):
    def sha(data):
        return hashlib.sha256(data).hexdigest()[:16]

    old_bin, new_bin = bytes(10), (rebuilt_clone / "data.bin").read_bytes()
    old_notes = run(["git", "show", "HEAD:notes.txt"], rebuilt_clone).stdout.encode()
    new_notes = (rebuilt_clone / "notes.txt").read_bytes()
    lines = check_git(rebuilt_clone, {})
    assert lines[0] == (
        f" M data.bin: committed 10 bytes sha256 {sha(old_bin)}, rebuilt 10 bytes sha256 {sha(new_bin)}"
    )
    assert lines[1].startswith(" M dvc.lock: committed ")
    assert lines[2:] == [
        "      s dep in.txt: (absent) -> md5 c (1 bytes)",
        "      s out data.bin: md5 a (10 bytes) -> md5 b (10 bytes)",
        f" M notes.txt: committed 150 bytes sha256 {sha(old_notes)}, "
        f"rebuilt 150 bytes sha256 {sha(new_notes)}",
        # the first DIFF_LINES changed lines
        *[f"      -line {i}" for i in range(12)],
        "      ... 28 more changed lines",
        # each new file, not its folder
        "?? new/file.txt (not tracked by git and not ignored)",
    ]


# ---- scripts/verify_data.py on hand-made projects ---------------------------------------------------


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def tiny_project(tmp_path):
    """dvc.lock recording two files (one twice, as dep and out) and a cache holding one object."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.bin").write_bytes(b"alpha")
    (tmp_path / "data/b.bin").write_bytes(b"bravo")
    lock = {
        "schema": "2.0",
        "stages": {
            "make": {
                "cmd": "x",
                "outs": [{"path": "data/a.bin", "hash": "md5", "md5": md5(b"alpha"), "size": 5}],
            },
            "use": {
                "cmd": "y",
                "deps": [{"path": "data/a.bin", "hash": "md5", "md5": md5(b"alpha"), "size": 5}],
                "params": {"params.yaml": {"seed": 1}},
                "outs": [{"path": "data/b.bin", "hash": "md5", "md5": md5(b"bravo"), "size": 5}],
            },
        },
    }
    # JSON is YAML
    (tmp_path / "dvc.lock").write_text(json.dumps(lock))
    obj = tmp_path / "cache/files/md5" / md5(b"alpha")[:2] / md5(b"alpha")[2:]
    obj.parent.mkdir(parents=True)
    obj.write_bytes(b"alpha")
    return tmp_path


def test_verify_data_passes_when_everything_matches(tiny_project):
    assert lock_problems(tiny_project, tiny_project / "cache") == (2, [])
    assert object_problems(tiny_project / "cache") == (1, [])


def test_verify_data_names_changed_and_missing_files(tiny_project):
    (tiny_project / "data/a.bin").write_bytes(b"alphA")
    (tiny_project / "data/b.bin").unlink()
    checked, problems = lock_problems(tiny_project, tiny_project / "cache")
    assert checked == 2
    assert problems == [
        f"data/a.bin: md5 {md5(b'alphA')} (5 bytes), dvc.lock records {md5(b'alpha')} (5 bytes)",
        f"data/b.bin: missing (dvc.lock records md5 {md5(b'bravo')})",
    ]


def test_verify_data_finds_a_corrupted_cache_object_even_with_its_mtime_kept(tiny_project):
    obj = next((tiny_project / "cache/files/md5").glob("??/*"))
    stat = obj.stat()
    obj.write_bytes(b"alphX")
    # what DVC's own check relies on
    os.utime(obj, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    checked, problems = object_problems(tiny_project / "cache")
    assert (
        checked == 1
        and len(problems) == 1
        and f"content md5 {md5(b'alphX')} does not match" in problems[0]
    )
    checked, problems = object_problems(tiny_project / "cache", repair=True)
    assert "removed (restore it with `dvc pull` or `dvc repro`)" in problems[0] and not obj.exists()


def test_verify_data_checks_directory_outputs_through_their_manifest(tiny_project):
    manifest = json.dumps(
        [{"md5": md5(b"alpha"), "relpath": "a.bin"}, {"md5": md5(b"zulu"), "relpath": "b.bin"}]
    )
    oid = md5(manifest.encode()) + ".dir"
    (tiny_project / "cache/files/md5" / oid[:2]).mkdir(exist_ok=True)
    (tiny_project / "cache/files/md5" / oid[:2] / oid[2:]).write_text(manifest)
    lock = {"stages": {"s": {"outs": [{"path": "data", "md5": oid, "size": 10}]}}}
    (tiny_project / "dvc.lock").write_text(json.dumps(lock))
    checked, problems = lock_problems(tiny_project, tiny_project / "cache")
    assert checked == 2 and problems == [
        f"data/b.bin: md5 {md5(b'bravo')}, manifest records {md5(b'zulu')}"
    ]
    assert object_problems(tiny_project / "cache") == (2, [])


# ---- when the gate may reuse an existing .venv ------------------------------------------------------


@pytest.mark.parametrize("how", ["branch", "detached", "shallow"])
def test_the_gate_checks_out_head_from_any_clone(tmp_path, how):
    """A branch, a detached HEAD, and a shallow clone (what CI's checkout makes: before, git refused
    to fetch its HEAD, whose parent it lacks, and the gate failed there)."""
    source = tmp_path / "source"
    source.mkdir()
    git(source, "init", "-q", "-b", "main")
    for text in ("one", "two"):
        (source / "f.txt").write_text(text)
        git(source, "add", "-A")
        git(source, "commit", "-qm", text)
    if how == "detached":
        git(source, "checkout", "-q", "--detach", "HEAD~1")
    if how == "shallow":
        full, source = source, tmp_path / "shallow"
        run(["git", "clone", "-q", "--depth=1", full.as_uri(), str(source)], tmp_path)
    head = git(source, "rev-parse", "--short", "HEAD")
    assert clone_head(source, tmp_path / "dest") == head
    assert (tmp_path / "dest/f.txt").read_text() == ("one" if how == "detached" else "two")
    (tmp_path / "plain").mkdir()
    with pytest.raises(
        SystemExit
        # a folder that is not a repository: named, with git's word
    ) as err:
        clone_head(tmp_path / "plain", tmp_path / "dest2", who="mutate")
    assert str(err.value).startswith("mutate: git -C ") and "fatal: " in str(err.value)


def test_this_venv_matches_the_lock_exactly():
    assert venv_mismatch(VENV_BIN.parent, ROOT / "requirements.lock") is None


def test_a_venv_with_another_version_or_an_unpinned_package_is_not_reused(tmp_path):
    lock = (ROOT / "requirements.lock").read_text()
    other = tmp_path / "other-version.lock"
    other.write_text(re.sub(r"^pyyaml==\S+", "pyyaml==5.4.1", lock, flags=re.M))
    assert re.search(
        r"^it is not the environment other-version.lock pins: "
        r"pyyaml 6\.\S+ is installed, other-version.lock pins 5\.4\.1$",
        venv_mismatch(VENV_BIN.parent, other),
    )
    missing = tmp_path / "missing.lock"
    missing.write_text(lock + "not-installed-here==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    assert venv_mismatch(VENV_BIN.parent, missing) == (
        "it is not the environment missing.lock pins: "
        "not-installed-here is not installed (missing.lock pins 1.0)"
    )
    old_python = tmp_path / "old-python.lock"
    old_python.write_text(
        re.sub(r"^# requires-python: \S+", "# requires-python: <3.8", lock, flags=re.M)
    )
    assert re.fullmatch(
        r"it is not the environment old-python.lock pins: Python 3\.\d+\.\d+ is not supported: "
        r"old-python.lock is resolved for requires-python <3\.8",
        venv_mismatch(VENV_BIN.parent, old_python),
    )
    fewer = tmp_path / "fewer.lock"
    fewer.write_text(re.sub(r"^tabulate==.*?(?=^\S)", "", lock, flags=re.M | re.S))
    assert (
        venv_mismatch(VENV_BIN.parent, fewer)
        == "it holds packages fewer.lock does not pin: tabulate"
    )
    assert "does not exist" in venv_mismatch(tmp_path / "nowhere", fewer)
