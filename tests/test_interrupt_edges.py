"""Ctrl-C where the end-to-end Ctrl-C tests (tests/test_interrupt.py) cannot aim: while
``python -m pipeline`` starts and while it exits, which last a few milliseconds, and while a
command waits for a child process that is cleaning up after the same Ctrl-C. A real SIGINT each
time, sent by the process to itself or to its process group at a chosen point.

Start-up: from the first import of ``pipeline/__main__.py``'s own code up to the runner's catch,
Python's own handler raises KeyboardInterrupt wherever the interpreter happens to be, and there
each import is a point where it can land. Before Python has found ``pipeline/__main__.py`` (its own
start-up, ``site``, ``runpy``) no code of ours has run: docs/faults.md measures that window.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline import __main__ as entry
from pipeline.core.errors import INTERRUPTED, Interrupted, caused_by_ctrl_c
from pipeline.core.runner import run_through_ctrl_c, settle
from tests.helpers import ROOT, default_ctrl_c, foreground_job, wait_for

# Runs ``python -m pipeline params`` as ``-m`` does (runpy), with an import hook that sends SIGINT
# to this process at the Nth module imported after ``pipeline.__main__`` is found (N = argv[1]),
# there or (argv[2] "in-a-class") while it defines a class, and prints "imports: COUNT" on stdout
# if the run ends without it having been sent.
HOOK = r"""
import os, runpy, signal, sys

N = int(sys.argv.pop(1))
IN_A_CLASS = sys.argv.pop(1) == "in-a-class"

class SendsCtrlC:
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), signal.SIGINT)

class CtrlCAtImport:
    count = None  # None until pipeline.__main__ is found
    caught_from = None  # the first import with the runner's own Ctrl-C handler in place

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name == "pipeline.__main__":
            cls.count = 0
        elif cls.count is not None:
            cls.count += 1
            if cls.caught_from is None and signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                cls.caught_from = cls.count
            if cls.count == N and IN_A_CLASS:
                # as if the import were defining a class: Python 3.11 wraps it in RuntimeError
                type("Defined", (), {"attribute": SendsCtrlC()})
            elif cls.count == N:
                os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlCAtImport)
try:
    runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
finally:
    if CtrlCAtImport.count is not None and CtrlCAtImport.count < N:
        print("imports: %d, caught from: %s" % (CtrlCAtImport.count, CtrlCAtImport.caught_from))
"""


def ctrl_c_at_import(n: int, where: str, command: str = "params") -> subprocess.CompletedProcess:
    # params: the one stage that writes nothing, so the runs past its last import leave ROOT as it was
    return subprocess.run(
        [sys.executable, "-c", HOOK, str(n), where, command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=default_ctrl_c,
    )


# about 30 real `python -m pipeline params` processes, 2.6 s: the end-to-end tier (make test runs it)
@pytest.mark.e2e
def test_ctrl_c_at_every_import_of_the_start_up_gives_the_one_line():
    # a run without Ctrl-C: how many imports, and from which one the runner's own catch is in place
    found = re.search(
        r"^imports: (\d+), caught from: (\d+)$",
        ctrl_c_at_import(10_000, "at-the-import").stdout,
        re.MULTILINE,
    )
    assert found, "the params stage did not run to its end"
    imports, caught_from = map(int, found.groups())
    # pipeline.core, the environment check, pathlib, re, the runner, logging...: a start-up with
    # fewer is not the one this test is about
    assert caught_from >= 20, caught_from
    # every import point up to the runner's catch and five beyond it (the stage's own imports,
    # caught as any Ctrl-C in a stage is); at every fifth, Ctrl-C lands in a class definition
    points = [
        (n, "in-a-class" if n % 5 == 0 else "at-the-import")
        for n in range(1, min(imports, caught_from + 5) + 1)
    ]
    outcomes = {point: ctrl_c_at_import(*point) for point in points}
    wrong = {
        point: (result.returncode, result.stderr.splitlines()[-1:])
        for point, result in outcomes.items()
        if (result.returncode, result.stderr) != (130, f"params: {INTERRUPTED}\n")
    }
    assert not wrong, f"{len(wrong)} of {len(points)} import points: {wrong}"


# Sends itself SIGINT from an exit handler, as a Ctrl-C that lands after a command's main() has
# returned, while Python exits; the command is the runner's.
AT_EXIT = r"""
import atexit, os, signal, time

from pipeline.core.runner import run

atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.5)))
raise SystemExit(run("params", lambda: 0))
"""


def test_ctrl_c_while_python_exits_ends_it_silently_by_the_signal():
    result = subprocess.run(
        [sys.executable, "-c", AT_EXIT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=default_ctrl_c,
    )
    # ended by SIGINT as if Python were not there: no "Exception ignored in atexit callback" and
    # no Interrupted traceback, and the caller (dvc, the shell) sees a process killed by Ctrl-C
    assert (result.returncode, result.stderr) == (-signal.SIGINT, "")


class RaisesInSetName:
    def __init__(self, exception: BaseException):
        self.exception = exception

    def __set_name__(self, owner, name):
        raise self.exception


def define_a_class_whose_set_name_raises(exception: BaseException) -> BaseException:
    """What defining a class raises when Ctrl-C lands in a ``__set_name__`` (Python 3.11 wraps it
    in RuntimeError; 3.12 and later do not)."""
    try:
        type("Defined", (), {"attribute": RaisesInSetName(exception)})
    except BaseException as err:  # noqa: BLE001 (what the interpreter raised is the subject)
        return err
    raise AssertionError("defining the class raised nothing")


def test_caused_by_ctrl_c_sees_through_what_wraps_it():
    for ctrl_c in (KeyboardInterrupt(), Interrupted()):
        raised = define_a_class_whose_set_name_raises(ctrl_c)
        assert caused_by_ctrl_c(raised), repr(raised)
        try:
            try:
                raise ctrl_c
            except BaseException:
                raise RuntimeError("raised while unwinding")  # noqa: B904 (the implicit context)
        except RuntimeError as err:
            assert caused_by_ctrl_c(err)
    for other in (ValueError("x"), define_a_class_whose_set_name_raises(ValueError("x"))):
        assert not caused_by_ctrl_c(other)
    loop = RuntimeError("a")
    loop.__context__ = RuntimeError("b")
    # a cycle ends the walk instead of looping forever
    loop.__context__.__context__ = loop
    assert not caused_by_ctrl_c(loop)


# A command run by the runner whose child takes half a second to clean up after Ctrl-C, as the
# gate's `dvc repro` waits for its stage and the gate then removes its clone.
CHILD = r"""
import pathlib, signal, sys, time

def clean_up(signum, frame):
    time.sleep(0.5)
    pathlib.Path(sys.argv[1], "cleaned up").touch()
    sys.exit(130)

signal.signal(signal.SIGINT, clean_up)
pathlib.Path(sys.argv[1], "started").touch()
time.sleep(60)
"""
PARENT = r"""
import sys

from pipeline.core.runner import run, run_child

child = [sys.executable, "-c", sys.argv[1], sys.argv[2]]
sys.exit(run("parent", lambda: run_child(child).returncode))
"""


def test_on_ctrl_c_run_child_waits_for_the_child_to_clean_up(tmp_path: Path):
    parent = foreground_job([sys.executable, "-c", PARENT, CHILD, str(tmp_path)], cwd=ROOT)
    wait_for(lambda: (tmp_path / "started").exists(), "the child to start", proc=parent)
    # as a terminal does: parent and child at once
    os.killpg(parent.pid, signal.SIGINT)
    _, err = parent.communicate(timeout=60)
    # subprocess.run would have killed the child at once, before it cleaned up
    assert (tmp_path / "cleaned up").exists()
    assert (parent.returncode, err) == (130, f"parent: {INTERRUPTED}\n")


def raise_interrupted(signum, frame):
    # what the runner's own handler raises, without marking this process as interrupted
    raise Interrupted


def test_a_second_ctrl_c_while_settle_waits_kills_the_child(tmp_path, ctrl_c_handler_kept):
    """The child ignores Ctrl-C (a dvc slow to stop): a second Ctrl-C while settle() waits out its
    grace kills it at once instead of leaving this process waiting, or gone with the child running."""
    ready = tmp_path / "ready"
    child = subprocess.Popen(sleeper(ready, "signal.SIG_IGN"))
    wait_for(ready.exists, "the child to start", proc=child)
    signal.signal(signal.SIGINT, raise_interrupted)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    settle(child, grace=30)
    assert child.returncode == -signal.SIGKILL and time.monotonic() - start < 10


def sleeper(ready: Path, on_ctrl_c: str) -> list[str]:
    """A child that handles Ctrl-C with ``on_ctrl_c``, then writes its pid to ``ready``, sleeps a
    minute and exits 3."""
    code = (
        "import os, signal, sys, time\n"
        f"signal.signal(signal.SIGINT, {on_ctrl_c})\n"
        f"open({str(ready)!r} + '.part', 'w').write(str(os.getpid()))\n"
        f"os.replace({str(ready)!r} + '.part', {str(ready)!r})\n"
        "time.sleep(60)\n"
        "sys.exit(3)\n"
    )
    return [sys.executable, "-c", code]


def ctrl_c_when(ready: Path, times: int = 1) -> None:
    """Once the child has written ``ready``, Ctrl-C as a terminal sends it: to the child and to
    this process at once (a thread does it while this process waits), ``times`` times 0.3 s apart."""

    def press():
        wait_for(ready.exists, "the child to start", timeout=30)
        for _ in range(times):
            os.kill(int(ready.read_text()), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)

    threading.Thread(target=press, daemon=True).start()


def test_run_through_ctrl_c_returns_the_status_the_child_stops_with(tmp_path, ctrl_c_handler_kept):
    ready = tmp_path / "ready"
    # were Ctrl-C to escape the wait, it would fail the test, not stop the test run
    signal.signal(signal.SIGINT, raise_interrupted)
    ctrl_c_when(ready)
    # the child takes 0.5 s to stop, well within the grace: its own status, not a kill
    child = sleeper(ready, "lambda *_: (time.sleep(0.5), sys.exit(7))")
    assert run_through_ctrl_c(child, grace=20) == 7
    assert signal.getsignal(signal.SIGINT) is raise_interrupted


def test_run_through_ctrl_c_kills_a_child_still_running_when_the_grace_ends(
    tmp_path, ctrl_c_handler_kept
):
    ready = tmp_path / "ready"
    signal.signal(signal.SIGINT, raise_interrupted)
    ctrl_c_when(ready)
    start = time.monotonic()
    assert run_through_ctrl_c(sleeper(ready, "signal.SIG_IGN"), grace=1) == -signal.SIGKILL
    # after the grace (1 s after Ctrl-C), not at Ctrl-C and not at the child's own end (60 s)
    assert 1 <= time.monotonic() - start < 30


def test_run_through_ctrl_c_kills_the_child_at_a_second_ctrl_c(tmp_path, ctrl_c_handler_kept):
    ready = tmp_path / "ready"
    signal.signal(signal.SIGINT, raise_interrupted)
    ctrl_c_when(ready, times=2)
    start = time.monotonic()
    assert run_through_ctrl_c(sleeper(ready, "signal.SIG_IGN"), grace=20) == -signal.SIGKILL
    # at the second Ctrl-C, not at the end of the grace (20 s) or of the child (60 s)
    assert time.monotonic() - start < 15


def test_run_through_ctrl_c_without_ctrl_c_waits_for_the_child(ctrl_c_handler_kept):
    child = [sys.executable, "-c", "import time; time.sleep(1.5); exit(3)"]
    # no Ctrl-C: the grace never starts, however short
    assert run_through_ctrl_c(child, grace=0.1) == 3


def test_run_through_ctrl_c_passes_popens_arguments(tmp_path, ctrl_c_handler_kept):
    cmd = [
        sys.executable,
        "-c",
        "import os, sys; sys.exit(len(os.listdir()) + int(os.environ['N']))",
    ]
    (tmp_path / "one").touch()
    assert run_through_ctrl_c(cmd, cwd=tmp_path, env={"N": "4"}) == 5


# What each tool says when Ctrl-C stops it (a stage's line is tests/test_interrupt.py's): a tool
# leaves no stage to finish, so none may send its user to `make repro`.
TOOL_LINES = {
    "load": "load: interrupted; loading only reads, so nothing was changed",
    "diff": "diff: interrupted; it writes nothing but the --png file, which is whole, old or new",
    "review": "review: interrupted; it writes nothing but reports/local/review.png, which is whole, "
    "old or new",
    "release": "release: interrupted; nothing was released (the tree is back at the commit it "
    "started from)",
    "tags": "tags: interrupted; each tag made so far is whole; run `make tags` again for the rest",
}


def press_ctrl_c(*args):
    # a real SIGINT, handled before kill() returns
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    raise AssertionError("Ctrl-C did not stop the command")


@pytest.mark.parametrize("name", sorted(TOOL_LINES))
def test_ctrl_c_in_a_tool_says_what_that_tool_leaves(
    name, monkeypatch, capsys, ctrl_c_handler_kept
):
    assert set(TOOL_LINES) == set(entry.TOOLS)
    monkeypatch.setattr(importlib.import_module(entry.TOOLS[name][0]), "main", press_ctrl_c)
    assert entry.main([name]) == 130
    assert capsys.readouterr().err == TOOL_LINES[name] + "\n"


@pytest.mark.parametrize("name", ["load", "params"])
def test_ctrl_c_while_a_command_loads_its_module(name, monkeypatch, capsys, ctrl_c_handler_kept):
    monkeypatch.setattr(importlib, "import_module", press_ctrl_c)
    assert entry.main([name]) == 130
    # the tool had not begun; the stage's outputs are DVC's to finish
    left = {"load": "interrupted; nothing was changed", "params": INTERRUPTED}[name]
    assert capsys.readouterr().err == f"{name}: {left}\n"


@pytest.mark.parametrize(
    "command, line",
    [
        ("load", "load: interrupted; nothing was changed"),
        ("params", f"params: {INTERRUPTED}"),
    ],
)
def test_ctrl_c_before_the_entry_point_catches_it(command, line):
    # at the first import after pipeline/__main__.py is found: before main() has its own catch
    result = ctrl_c_at_import(1, "at-the-import", command)
    assert (result.returncode, result.stderr) == (130, line + "\n")


# The original card's command, `python3 datasets/tinydigits/create_tinydigits.py`, runs `.venv`'s
# dvc. Here that folder's `.venv/bin/python` is a stand-in for dvc: it says it is running, and on
# Ctrl-C it stops (exit 7) or, told to, ignores it as a dvc slow to stop would; left alone, it ends
# with the same status after a minute (or as long as it is told). The script is a copy
# in that folder, run by this Python (it finds `.venv` beside the `datasets/` it sits in), beside a
# link to this checkout's `pipeline/`, whose runner waits for dvc.
DVC_STAND_IN = r"""
import os, signal, sys, time

def stop(signum, frame):
    # not print(): Ctrl-C can land while print("dvc: running") is still inside stdout's buffer,
    # which a second write from here finds busy (RuntimeError: reentrant call)
    os.write(1, b"dvc: stopped\n")
    os._exit(7)

signal.signal(signal.SIGINT, signal.SIG_IGN if {ignores} else stop)
print("dvc: running", flush=True)
time.sleep({runs_for})
sys.exit(7)
"""


def card_command(folder: Path, ignores: bool, runs_for: float = 60) -> list[str]:
    script = folder / "datasets/tinydigits/create_tinydigits.py"
    script.parent.mkdir(parents=True)
    script.write_bytes((ROOT / "datasets/tinydigits/create_tinydigits.py").read_bytes())
    # what it imports from the checkout it sits in
    (folder / "pipeline").symlink_to(ROOT / "pipeline")
    stand_in = folder / ".venv/bin/python"
    stand_in.parent.mkdir(parents=True)
    (folder / "dvc.py").write_text(DVC_STAND_IN.format(ignores=ignores, runs_for=runs_for))
    # through sh: a #! line cannot name an interpreter whose path has a space (`/tmp/My Courses/`)
    stand_in.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{folder / "dvc.py"}" "$@"\n')
    stand_in.chmod(0o755)
    return [sys.executable, str(script)]


@pytest.mark.parametrize("ignores", [False, True], ids=["dvc stops", "dvc keeps on"])
def test_ctrl_c_under_the_original_cards_command(tmp_path: Path, ignores: bool):
    job = foreground_job(card_command(tmp_path, ignores), cwd=tmp_path)
    assert job.stdout.readline() == "dvc: running\n"
    os.killpg(job.pid, signal.SIGINT)
    if ignores:
        # the script waits for dvc (up to 30 s); a second Ctrl-C ends the wait and dvc with it
        time.sleep(0.5)
        assert job.poll() is None
        os.killpg(job.pid, signal.SIGINT)
    out, err = job.communicate(timeout=20)
    if ignores:
        line = "create_tinydigits.py: interrupted; run it again (or `make repro`) to finish\n"
        assert (job.returncode, out, err) == (130, "", line)
    else:
        # dvc's own lines and exit status, nothing of the script's (it showed a traceback)
        assert (job.returncode, out, err) == (7, "dvc: stopped\n", "")


# Runs the script (argv[1]) as `python3 SCRIPT` would, after the code put before it has set up
# where Ctrl-C lands.
AS_MAIN = r"""
sys.argv = sys.argv[1:]
exec(compile(open(sys.argv[0]).read(), sys.argv[0], "exec"), {"__name__": "__main__", "__file__": sys.argv[0]})
"""

# Sent from inside the script's Popen, just before dvc would start: nothing has run yet.
CTRL_C_AT_POPEN = r"""
import os, signal, sys

def hook(event, args):
    if event == "subprocess.Popen":
        os.kill(os.getpid(), signal.SIGINT)

sys.addaudithook(hook)
"""


# Sent from inside the wait, when it has reaped dvc and not yet kept its status: on a busy machine
# Ctrl-C reaches the script that late when dvc stops at once. Raised there, it lost the status:
# Popen then reports 0 for a child it can no longer wait for, and the script exited 0 (found by CI).
CTRL_C_AS_THE_WAIT_REAPS_DVC = r"""
import os, signal, subprocess, sys

class Popen(subprocess.Popen):
    def _handle_exitstatus(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return super()._handle_exitstatus(*args, **kwargs)

assert hasattr(subprocess.Popen, "_handle_exitstatus"), "this Python's Popen keeps a status elsewhere"
subprocess.Popen = Popen
"""


def test_ctrl_c_as_the_wait_reaps_dvc_keeps_dvcs_status(tmp_path: Path):
    _, script = card_command(tmp_path, ignores=False, runs_for=0)
    job = foreground_job(
        [sys.executable, "-c", CTRL_C_AS_THE_WAIT_REAPS_DVC + AS_MAIN, script], cwd=tmp_path
    )
    out, err = job.communicate(timeout=20)
    assert (job.returncode, out, err) == (7, "dvc: running\n", "")


def test_ctrl_c_before_the_original_cards_command_starts_dvc(tmp_path: Path):
    _, script = card_command(tmp_path, ignores=False)
    job = foreground_job([sys.executable, "-c", CTRL_C_AT_POPEN + AS_MAIN, script], cwd=tmp_path)
    out, err = job.communicate(timeout=20)
    line = "create_tinydigits.py: interrupted; nothing was changed\n"
    assert (job.returncode, out, err) == (130, "", line)
