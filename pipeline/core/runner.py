"""The edge every stage shares: the environment check, logging set-up, known errors as one line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from pipeline.core import environment
from pipeline.core.errors import PipelineError

log = logging.getLogger("pipeline")


def run(stage: str, main: Callable[[], None], *, checked: bool = False) -> None:
    """Run a stage's ``main``; a :class:`PipelineError` ends it with exit 1 and one message.

    The environment is checked first unless the caller (``python -m pipeline``) already did.
    """
    logging.basicConfig(level=logging.INFO, format=f"{stage}: %(message)s", stream=sys.stderr)
    try:
        if not checked:
            environment.check()
        main()
    except PipelineError as err:
        log.error("error: %s", err)
        sys.exit(1)
