"""scripts/verify_data.py: directory deps (pipeline/core, pipeline/benchmark) are re-hashed from
their files, as DVC hashes them, whether or not the DVC cache holds their manifest."""

import shutil

import pytest

from scripts import verify_data
from tests.helpers import ROOT


def copy_with_lock(tmp_path):
    """pipeline/ with this project's dvc.lock and .dvcignore, and bytecode beside the modules."""
    shutil.copytree(ROOT / "pipeline", tmp_path / "pipeline")
    for name in ("dvc.lock", ".dvcignore"):
        shutil.copy2(ROOT / name, tmp_path / name)
    (tmp_path / ".dvc").mkdir()
    for sub in ("core", "benchmark"):
        cache = tmp_path / "pipeline" / sub / "__pycache__"
        cache.mkdir(exist_ok=True)
        (cache / "x.cpython-311.pyc").write_bytes(b"bytecode")
    return tmp_path


def dir_problems(repo, rel):
    md5 = verify_data.lock_records(repo)[rel]["md5"]
    return verify_data._dir_problems(repo / rel, rel, md5, repo / ".dvc" / "cache")


def test_directory_deps_hash_as_dvc_lock_records_them_without_a_cached_manifest(tmp_path):
    repo = copy_with_lock(tmp_path)
    for rel in ("pipeline/core", "pipeline/benchmark"):
        checked, problems = dir_problems(repo, rel)
        # every file, not only modules: pipeline/benchmark holds the card template
        files = [f for f in (ROOT / rel).rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        assert problems == [] and checked == len(files)


def test_a_changed_or_added_module_in_a_directory_dep_is_reported(tmp_path):
    repo = copy_with_lock(tmp_path)
    (repo / "pipeline/core/config.py").write_text("# changed\n")
    assert "pipeline/core/: its files hash to" in dir_problems(repo, "pipeline/core")[1][0]
    (repo / "pipeline/benchmark/extra.py").write_text("")
    assert dir_problems(repo, "pipeline/benchmark")[1]


def test_a_folder_without_dvc_lock_or_a_missing_remote_is_refused_in_one_line(tmp_path, capsys):
    """Not a traceback (a folder that is not the project), and not '0 objects match' (a remote
    folder that does not exist would read as a pass)."""
    for argv, message in [
        (
            [str(tmp_path)],
            f"{tmp_path} holds no dvc.lock: give the project's folder (default: this one)",
        ),
        ([str(tmp_path / "nowhere")], f"{tmp_path / 'nowhere'} holds no dvc.lock"),
        (
            [str(ROOT), "--objects", str(tmp_path / "remote")],
            f"--objects {tmp_path / 'remote'}: no such folder",
        ),
    ]:
        with pytest.raises(SystemExit) as stop:
            verify_data.main(argv)
        assert stop.value.code == 2
        assert (
            capsys.readouterr().err.splitlines()[-1].startswith(f"verify_data.py: error: {message}")
        )
