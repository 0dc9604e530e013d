"""The exceptions the pipeline raises on bad input; each message says what would be valid.
Also what Ctrl-C ends a command with: this module imports nothing but ``sys``, so that
``python -m pipeline`` can say it before it has imported anything else."""

import sys

# What a stage says when Ctrl-C stops it, and its exit status (a shell's for a process ended by
# SIGINT, 128 + 2). Every write is atomic (pipeline.core.storage), so a stage stopped anywhere leaves
# each output whole, old or new, and DVC reruns it next time.
INTERRUPTED = (
    "interrupted; nothing half-written remains; run `make repro` (or `dvc repro`) to finish"
)
# What a tool says when Ctrl-C stops it before its own code has begun: it had changed nothing (a
# tool that writes says more, in its module's INTERRUPTED_HINT; pipeline/__main__.py).
UNCHANGED = "interrupted; nothing was changed"
EXIT_INTERRUPTED = 130


def interrupted(command, hint=INTERRUPTED):
    """Say that ``command`` was interrupted, in one line on stderr; the exit status to end with."""
    print(f"{command}: {hint}", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


class Interrupted(BaseException):
    """Ctrl-C in a stage, once :func:`pipeline.core.runner.catch_ctrl_c` is in place. Not a
    KeyboardInterrupt: scikit-learn's MLP catches that, warns "Training interrupted by user." and
    goes on with a half-trained model; this one nothing catches."""


def caused_by_ctrl_c(err):
    """Whether ``err`` is Ctrl-C or was raised because of it: Python 3.11 wraps an exception raised
    in ``__set_name__`` in a RuntimeError, so Ctrl-C while a class is defined (an import) arrives as
    that RuntimeError, the KeyboardInterrupt as its cause."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, (KeyboardInterrupt, Interrupted)):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


class PipelineError(Exception):
    """Base class: a stage ends with this message and a non-zero exit, no traceback."""


class ParamsError(PipelineError, ValueError):
    """``params.yaml`` is missing, malformed, or has a value out of range."""


class SourceError(PipelineError, OSError):
    """The bundled source file is missing or its digest differs from the pinned one."""


class WriteError(PipelineError, OSError):
    """A file could not be written (a folder in its place, no space, no permission); whatever was
    at its path is unchanged."""


class ContractError(PipelineError):
    """Data at a stage boundary violates the schema in :mod:`pipeline.schemas`."""


class DatasetError(PipelineError):
    """A published dataset file cannot be loaded safely; nothing in it was executed."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The split's file does not exist under the given root."""


class DigestError(DatasetError):
    """The file's md5 or size differs from what ``dvc.lock`` records for it."""


class UnsafePickleError(DatasetError):
    """The pickle names a global outside the NumPy allow-list; it was refused, not called."""


class CorruptFileError(DatasetError):
    """The file is truncated, damaged, or not a pickle / ``.npz`` at all."""


class LfsPointerError(DatasetError):
    """The file is a Git LFS pointer (a clone without Git LFS), not the data it stands for."""


class DatasetFormatError(DatasetError, ValueError):
    """The file parses but is not TinyDigits: wrong keys, dtype (e.g. object), shape or values."""


class ReleaseError(PipelineError):
    """A release cannot be made or read: bad version, dirty tree, wrong bump, missing record."""


class RevisionError(PipelineError):
    """A git revision is unknown, or a file does not exist at it."""


class EnvironmentMismatch(PipelineError):
    """A stage would run on another Python or other package versions than ``requirements.lock`` pins."""


class ReproducibilityError(PipelineError):
    """With TinyDigits v1's params, the files built are not the published v1 bytes; nothing was replaced."""
