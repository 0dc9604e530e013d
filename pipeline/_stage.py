"""The edge every stage shares: logging set-up and turning known errors into one line."""

from __future__ import annotations

import logging
import sys
from typing import Callable

from pipeline.errors import PipelineError

log = logging.getLogger("pipeline")


def run(stage: str, main: Callable[[], None]) -> None:
    """Run a stage's ``main``; a :class:`PipelineError` ends it with exit 1 and one message."""
    logging.basicConfig(level=logging.INFO, format=f"{stage}: %(message)s", stream=sys.stderr)
    try:
        main()
    except PipelineError as err:
        log.error("error: %s", err)
        sys.exit(1)
