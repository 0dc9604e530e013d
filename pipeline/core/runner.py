"""The edge every command shares (``python -m pipeline`` runs them all through :func:`run`):
logging set-up, known errors as one line, and Ctrl-C as one line."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

from pipeline.core.errors import (
    EXIT_INTERRUPTED,
    INTERRUPTED,
    Interrupted,
    PipelineError,
    caused_by_ctrl_c,
    interrupted,
)

__all__ = [
    "EXIT_INTERRUPTED",
    "INTERRUPTED",
    "Interrupted",
    "catch_ctrl_c",
    "interrupted",
    "run",
    "run_child",
    "run_through_ctrl_c",
    "settle",
    "summary",
]

log = logging.getLogger("pipeline")

# Ctrl-C was pressed in this process
_pressed = False


def summary(doc: str) -> str:
    """A command module's docstring, first line, as its ``--help`` shows it: reStructuredText's
    double backquotes become the single ones a terminal reader expects."""
    return doc.split("\n")[0].replace("``", "`")


def _raise_interrupted(signum, frame) -> None:
    global _pressed
    _pressed = True
    raise Interrupted


def catch_ctrl_c() -> None:
    """From now on Ctrl-C raises :class:`Interrupted` in this process. Ctrl-C reaches every process
    in the terminal's group: worker processes leave silently (pipeline.benchmark.parallel), and
    this one reports for them all."""
    signal.signal(signal.SIGINT, _raise_interrupted)


def run_child(cmd: list, *, capture: bool = True, grace: float = 30.0, **kwargs):
    """``subprocess.run(cmd, capture_output=capture, text=True, **kwargs)`` (its CompletedProcess),
    except on Ctrl-C. (subprocess is imported here: every stage imports this module.)

    The terminal sends Ctrl-C to the whole process group, so the child is stopping as well:
    wait up to ``grace`` seconds for it to finish its own clean-up (a ``dvc repro`` waits for its
    stage, a gate removes its clone), kill it only then, and re-raise. ``subprocess.run`` kills it
    at once, which left the gate's clone behind under ``make release``."""
    import subprocess

    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE} if capture else {}
    with subprocess.Popen(cmd, text=True, **pipes, **kwargs) as proc:
        try:
            out, err = proc.communicate()
        except BaseException:
            settle(proc, grace)
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def settle(proc, grace: float = 30.0) -> None:
    """After Ctrl-C, for a ``subprocess.Popen`` the terminal signalled too: let it stop on its own
    within ``grace`` seconds (reading its pipes meanwhile, so that it cannot block on them), and
    kill it only if it does not, or if Ctrl-C comes again (the user will not wait). Killed, its
    ``returncode`` is ``-SIGKILL``."""
    import subprocess

    try:
        proc.communicate(timeout=grace)
    except (subprocess.TimeoutExpired, KeyboardInterrupt, Interrupted):
        proc.kill()
        proc.communicate()


def run_through_ctrl_c(cmd: list, *, grace: float = 30.0, **kwargs) -> int:
    """Run ``cmd`` (``subprocess.Popen(cmd, **kwargs)``) in the terminal's process group and return
    its exit status: the child's own, even when Ctrl-C comes, since the terminal sent it to the
    child too, which stops on its own. The first Ctrl-C gives the child ``grace`` seconds; a second
    one, or the end of the grace, kills it (its status is then ``-SIGKILL``). Ctrl-C before Popen
    has returned raises KeyboardInterrupt: the child has not begun its own work (if it was started
    at all, the same Ctrl-C stops it as it starts).

    Once the child runs, Ctrl-C does not raise. Raised out of ``proc.wait()``, it can land after
    the wait has reaped the child and before Popen keeps the status, which is then lost for good
    (Popen reports 0 for a child it can no longer wait for). Its handler is in place before the
    child starts, so that no Ctrl-C finds the child running and this process unprepared."""
    import subprocess
    import threading

    proc = None
    grace_over = threading.Timer(grace, lambda: proc.kill())

    def on_ctrl_c(signum, frame) -> None:
        if proc is None:
            raise KeyboardInterrupt
        if grace_over.ident is None:
            grace_over.start()
        else:
            proc.kill()

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        with subprocess.Popen(cmd, **kwargs) as proc:
            return proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        grace_over.cancel()


def run(command: str, main: Callable[[], int | None], *, hint: str = INTERRUPTED) -> int:
    """Run a command's ``main`` (``python -m pipeline`` has checked the environment); its exit
    status: what ``main`` returns, or 0. A :class:`PipelineError` ends it with exit 1 and one
    message, Ctrl-C with exit 130 and one line (``command: hint``)."""
    logging.basicConfig(level=logging.INFO, format=f"{command}: %(message)s", stream=sys.stderr)
    try:
        catch_ctrl_c()
        return main() or 0
    except PipelineError as err:
        log.error("error: %s", err)
        return 1
    except BaseException as err:
        # after Ctrl-C, whatever the interrupted code raised while unwinding (a pool cut short
        # while starting raises RuntimeError) is the interruption, not an error of its own
        if _pressed or caused_by_ctrl_c(err):
            return interrupted(command, hint)
        raise
    finally:
        # The command is over: a Ctrl-C from here on (while Python flushes and exits) ends the
        # process by the signal, silently, instead of raising Interrupted where nothing catches it.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
