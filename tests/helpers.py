"""Helpers the tests share (fixtures are in conftest.py): waiting for an observable event."""

from __future__ import annotations

import subprocess
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEADLINE = 300.0  # seconds: generous, for a loaded machine running two test suites at once


def wait_for(
    event: Callable[[], T],
    what: str,
    *,
    timeout: float = DEADLINE,
    interval: float = 0.05,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
) -> T:
    """Poll ``event()`` until it returns something truthy, and return that.

    Fails, naming ``what`` (and showing ``log`` when given), when ``timeout`` seconds pass or when
    ``proc`` has exited first: a process that ended can no longer cause the event.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = event()
        if found:
            return found
        ended = proc is not None and proc.poll() is not None
        if ended or time.monotonic() > deadline:
            # the event may have happened just before the process ended
            found = event()
            if found:
                return found
            why = f"the process exited {proc.returncode}" if ended else f"{timeout:.0f} s passed"
            shown = f"\n--- {log}\n{log.read_text()}" if log is not None and log.exists() else ""
            raise AssertionError(f"waited for {what}, but {why}{shown}")
        time.sleep(interval)


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float = DEADLINE) -> None:
    """Wait until ``proc``, writing to ``log``, has printed ``text``."""
    wait_for(
        lambda: log.exists() and text in log.read_text(),
        f"{text!r} in {log.name}",
        proc=proc,
        log=log,
        timeout=timeout,
    )


# Loaded through PYTHONPATH (as sitecustomize) by every Python process dvc starts. At the moment a
# process would move a finished temp file over a path ending in $KILL_AT_REPLACE, it SIGKILLs
# itself. Over $PAUSE_AT_REPLACE, it first creates $PAUSE_MARK (the event a test waits for), then
# waits until $RESUME_FILE exists (the test's go-ahead; after $PAUSE_TIMEOUT s it goes on anyway,
# so that a failed test never leaves a stage hanging).
STAGE_HOOK = textwrap.dedent("""
    import os, signal, time
    _kill, _pause = os.environ.get("KILL_AT_REPLACE"), os.environ.get("PAUSE_AT_REPLACE")
    if _kill or _pause:
        _replace = os.replace
        def replace(src, dst, *args, **kwargs):
            if _pause and os.fspath(dst).endswith(_pause):
                with open(os.environ["PAUSE_MARK"], "w") as mark:
                    mark.write(str(os.getpid()))
                deadline = time.monotonic() + float(os.environ.get("PAUSE_TIMEOUT", "600"))
                while not os.path.exists(os.environ["RESUME_FILE"]) and time.monotonic() < deadline:
                    time.sleep(0.02)
            if _kill and os.fspath(dst).endswith(_kill):
                os.kill(os.getpid(), signal.SIGKILL)
            return _replace(src, dst, *args, **kwargs)
        os.replace = replace
""")


def write_stage_hook(folder: Path) -> Path:
    """A folder holding :data:`STAGE_HOOK` as ``sitecustomize.py``, to put on PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(STAGE_HOOK)
    return folder


@dataclass(frozen=True)
class Pause:
    """A stage that stops just before it replaces ``at``, until the test lets it go on."""

    hook: Path  # the folder holding the hook, for PYTHONPATH
    at: str  # the end of the path whose replace waits
    mark: Path  # created by the stage when it stops there
    resume: Path  # created by the test to let it go on

    @classmethod
    def before_replacing(cls, folder: Path, at: str) -> Pause:
        folder.mkdir(parents=True, exist_ok=True)
        pause = cls(write_stage_hook(folder / "hook"), at, folder / "paused", folder / "resume")
        pause.mark.unlink(missing_ok=True)
        pause.resume.unlink(missing_ok=True)
        return pause

    def env(self) -> dict[str, str]:
        return {
            "PYTHONPATH": str(self.hook),
            "PAUSE_AT_REPLACE": self.at,
            "PAUSE_MARK": str(self.mark),
            "RESUME_FILE": str(self.resume),
        }

    def wait(self, proc: subprocess.Popen, log: Path | None = None) -> None:
        """Until the stage ``proc`` runs has stopped before the replace (fails if ``proc`` ends first)."""
        wait_for(
            self.mark.exists, f"a stage to stop before replacing {self.at}", proc=proc, log=log
        )

    def release(self) -> None:
        self.resume.touch()
