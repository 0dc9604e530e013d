"""The exceptions the pipeline raises on bad input; each message says what would be valid."""


class PipelineError(Exception):
    """Base class: a stage ends with this message and a non-zero exit, no traceback."""


class ParamsError(PipelineError, ValueError):
    """``params.yaml`` is missing, malformed, or has a value out of range."""


class SourceError(PipelineError, OSError):
    """The bundled source file is missing or its digest differs from the pinned one."""


class ContractError(PipelineError):
    """Data at a stage boundary violates the schema in :mod:`pipeline.schemas`."""
