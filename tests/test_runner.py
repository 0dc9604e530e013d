"""pipeline.core.runner in this process: what every command prints and returns, a known error, an
error while Ctrl-C unwinds, and a child process on Ctrl-C. (tests/test_interrupt_edges.py sends
real Ctrl-Cs to real commands; those run in processes of their own, where mutmut cannot follow.)"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.core import runner
from pipeline.core.errors import EXIT_INTERRUPTED, Interrupted, SourceError

pytestmark = pytest.mark.usefixtures("ctrl_c_handler_kept")


@pytest.fixture(autouse=True)
def no_ctrl_c_yet(monkeypatch):
    monkeypatch.setattr(runner, "_pressed", False)


def run(command, main, **kwargs) -> int:
    """runner.run as in a new process: with no handler on the root logger, so that its logging
    set-up takes effect (pytest puts its own capture handler there for each test; it goes back)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    try:
        return runner.run(command, main, **kwargs)
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        root.handlers[:] = handlers
        root.setLevel(level)


def say(message: str) -> None:
    logging.getLogger("pipeline.somewhere").info(message)


def test_lines_name_the_command_and_main_decides_the_exit_status(capsys):
    assert run("fetch", lambda: say("wrote it")) == 0
    assert run("fetch", lambda: 3) == 3
    assert capsys.readouterr() == ("", "fetch: wrote it\n")


def test_a_pipeline_error_is_one_line_and_exit_1(capsys):
    def main():
        say("started")
        raise SourceError("source file x is missing")

    assert run("fetch", main) == 1
    assert capsys.readouterr().err == "fetch: started\nfetch: error: source file x is missing\n"


def test_ctrl_c_is_one_line_with_the_commands_hint(capsys):
    def main():
        os.kill(os.getpid(), signal.SIGINT)
        # the handler raises in here
        time.sleep(5)

    assert run("tags", main, hint="the hint") == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "tags: the hint\n"
    # the command is over: a later Ctrl-C ends the process by the signal, silently
    assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL


def test_an_error_raised_after_ctrl_c_was_caught_is_the_interruption(capsys):
    """A pool cut short while it starts raises an error of its own, with no trace of the Ctrl-C
    in it: that Ctrl-C was pressed is what counts."""

    def main():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except Interrupted:
            pass
        raise RuntimeError("pool cut short")

    assert run("benchmark", main, hint="interrupted") == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "benchmark: interrupted\n"


def test_an_error_caused_by_ctrl_c_is_the_interruption(capsys):
    def main():
        raise RuntimeError("while defining a class") from KeyboardInterrupt()

    assert run("normalize", main, hint="interrupted") == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "normalize: interrupted\n"


def test_any_other_error_is_not_caught(capsys):
    def main():
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        run("split", main)
    assert capsys.readouterr().err == ""


# ---- run_child ----------------------------------------------------------------------------------

PRINT = [sys.executable, "-c", "print('out'); import sys; print('err', file=sys.stderr)"]


def test_run_child_returns_what_the_child_printed(capfd):
    done = runner.run_child(PRINT)
    assert (done.args, done.returncode, done.stdout, done.stderr) == (PRINT, 0, "out\n", "err\n")
    done = runner.run_child(PRINT, capture=False)
    assert (done.stdout, done.stderr) == (None, None)
    # passed through to this process's own
    assert capfd.readouterr() == ("out\n", "err\n")


def ctrl_c_once(started: Path) -> None:
    """Ctrl-C to this process as soon as the child has made ``started`` (so that it comes while
    run_child waits for the child, not while the child is being started)."""

    def wait_then_press():
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        # else the test fails on its own, with no stray Ctrl-C to come
        if started.exists():
            os.kill(os.getpid(), signal.SIGINT)

    runner.catch_ctrl_c()
    threading.Thread(target=wait_then_press, daemon=True).start()


def child(started: Path, then: str) -> list[str]:
    return [sys.executable, "-c", f"import time; open({str(started)!r}, 'w'); {then}"]


def test_on_ctrl_c_run_child_lets_the_child_finish_within_the_grace(tmp_path):
    started, mark = tmp_path / "started", tmp_path / "cleaned-up"
    ctrl_c_once(started)
    with pytest.raises(Interrupted):
        runner.run_child(child(started, f"time.sleep(0.3); open({str(mark)!r}, 'w')"), grace=30)
    # it was not killed when Ctrl-C came
    assert mark.exists()


def test_on_ctrl_c_run_child_kills_a_child_that_outlasts_the_grace(tmp_path):
    started = tmp_path / "started"
    ctrl_c_once(started)
    start = time.monotonic()
    with pytest.raises(Interrupted):
        runner.run_child(child(started, "time.sleep(20)"), grace=0.2)
    assert time.monotonic() - start < 10
