"""The edge every command shares (``python -m pipeline`` runs them all through :func:`run`):
logging set-up, known errors as one line, and Ctrl-C as one line."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable

from pipeline.core.errors import PipelineError

log = logging.getLogger("pipeline")

# What an interrupted stage says: every write is atomic (pipeline.core.storage), so a stage stopped
# anywhere leaves each output whole, old or new, and DVC reruns it next time.
INTERRUPTED = (
    "interrupted; nothing half-written remains; run `make repro` (or `dvc repro`) to finish"
)
EXIT_INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a process ended by Ctrl-C


class Interrupted(BaseException):
    """Ctrl-C in a stage. Not a KeyboardInterrupt: scikit-learn's MLP catches that, warns "Training
    interrupted by user." and goes on with a half-trained model; this one nothing catches."""


_pressed = False  # Ctrl-C was pressed in this process


def _raise_interrupted(signum, frame) -> None:
    global _pressed
    _pressed = True
    raise Interrupted


def catch_ctrl_c() -> None:
    """From now on Ctrl-C raises :class:`Interrupted` in this process. Ctrl-C reaches every process
    in the terminal's group: worker processes leave silently (pipeline.benchmark.parallel), and
    this one reports for them all."""
    signal.signal(signal.SIGINT, _raise_interrupted)


def interrupted(stage: str, hint: str = INTERRUPTED) -> int:
    """Say that ``stage`` was interrupted, in one line on stderr; the exit status to end with."""
    print(f"{stage}: {hint}", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


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
        if isinstance(err, (Interrupted, KeyboardInterrupt)) or _pressed:
            return interrupted(command, hint)
        raise
