"""JSON logs that carry trace_id/span_id, the request id and the service name.

PII is masked before a record is written (see :mod:`services.runtime.masking`).
"""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from services.runtime.context import current_request_id


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span().get_span_context()
        record.trace_id = format(span.trace_id, "032x") if span.is_valid else None
        record.span_id = format(span.span_id, "016x") if span.is_valid else None
        record.request_id = current_request_id()
        record.service = self.service
        return True


def configure_logging(service: str, level: str = "INFO", json_output: bool = True) -> None:
    """Route every logger (ours, uvicorn's, libraries') through one masked JSON handler."""
    from services.runtime.masking import PiiMaskingFilter

    handler = logging.StreamHandler(sys.stderr)
    if json_output:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(service)s %(name)s %(message)s")
        )
    handler.addFilter(_ContextFilter(service))
    handler.addFilter(PiiMaskingFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # aiokafka is chatty at INFO about group rebalances; warnings still show.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
