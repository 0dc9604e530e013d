"""Imported only by the benchmark's forkserver, first (:func:`pipeline.benchmark.parallel.warm_workers`
preloads it): a worker that cannot start because its stage has gone leaves without a traceback.

Ctrl-C ends the stage while the forkserver may be forking its workers. Such a worker then finds the
pipes and semaphores it was to inherit already closed and removed (``FileNotFoundError`` while it
unpickles its start-up state, or ``EOFError``), and the forkserver's child code passes the error to
``sys.excepthook`` before it exits. The stage itself reports the interruption in one line
(:mod:`pipeline.core.runner`); any other start-up error still prints in full.
"""

from __future__ import annotations

import sys


def _quiet_when_the_stage_is_gone(kind, value, tb) -> None:
    if issubclass(kind, (OSError, EOFError)):
        return
    sys.__excepthook__(kind, value, tb)


sys.excepthook = _quiet_when_the_stage_is_gone
