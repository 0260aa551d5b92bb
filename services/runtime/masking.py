"""PII masking (脱敏) for display and for log lines.

The rule the logging filter enforces: no full 公民身份号码 or mobile number ever reaches a log
line. Free-text detection is deliberately pattern-based, without check-digit validation: a
mistyped ID number is still someone's personal data, and over-masking a log line costs
nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = [
    "PiiMaskingFilter",
    "mask_citizen_id",
    "mask_name",
    "mask_phone",
    "mask_text",
    "mask_uscc",
]

_MASK = "*"


def _mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    """Keep the ends, star the middle; too-short values are starred entirely (nothing to keep)."""
    if len(value) <= keep_start + keep_end:
        return _MASK * len(value)
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + _MASK * hidden + value[len(value) - keep_end :]


def mask_citizen_id(value: str) -> str:
    """公民身份号码: keep the first 4 (province + city) and last 4, e.g. ``4401**********1234``."""
    return _mask_middle(value, 4, 4)


def mask_phone(value: str) -> str:
    """手机号码: keep the first 3 (carrier) and last 4, e.g. ``138****5678``."""
    return _mask_middle(value, 3, 4)


def mask_uscc(value: str) -> str:
    """统一社会信用代码: keep the first 4 and last 4."""
    return _mask_middle(value, 4, 4)


def mask_name(value: str) -> str:
    """姓名: keep the first character (the family name in most cases), star the rest.

    ``张三丰`` → ``张**``, ``张三`` → ``张*``; a one-character name is starred entirely.
    """
    if len(value) <= 1:
        return _MASK * len(value)
    return value[0] + _MASK * (len(value) - 1)


# Boundaries are ASCII letters/digits only: Chinese text right next to a number
# ("身份证号440106…已提交") must still be masked, while digit runs inside hex strings
# (trace ids, SHA-256 digests) are left alone.
_BEFORE = r"(?<![0-9A-Za-z])"
_AFTER = r"(?![0-9A-Za-z])"
_PII = re.compile(
    _BEFORE
    + r"(?:"
    + r"(?P<cid>\d{17}[\dXx])"
    + r"|(?P<prefix>(?:\+|00)?86[- ]?)?(?P<phone>1[3-9]\d(?P<sep>[- ]?)\d{4}(?P=sep)\d{4})"
    + r")"
    + _AFTER
)
# Cheap pre-check, a C-speed scan: every pattern above contains 11 digits with at most two
# separators (the "digit run ≥ 11" rule, widened for "138 1234 5678"). Most log lines fail it.
_CANDIDATE = re.compile(r"\d{3}[- ]?\d{4}[- ]?\d{4}")


def _replace(match: re.Match[str]) -> str:
    cid = match.group("cid")
    if cid is not None:
        return mask_citizen_id(cid)
    digits = match.group("phone").replace("-", "").replace(" ", "")
    return (match.group("prefix") or "") + mask_phone(digits)


def mask_text(s: str) -> str:
    """Mask every 18-char 公民身份号码 and mainland mobile number (optionally +86/0086/86,
    optionally split 3-4-4 by spaces or dashes) found anywhere in ``s``."""
    if not s or _CANDIDATE.search(s) is None:
        return s
    return _PII.sub(_replace, s)


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Produced by OpenTelemetry / our JSON logging; hex ids are never PII, so don't spend time.
_SKIP_EXTRAS = frozenset({"otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName"})
_MAX_DEPTH = 4


def _mask_value(value: Any, depth: int = 0) -> Any:
    """Mask strings, recursing into dict/list/tuple extras (JSON loggers serialise them)."""
    if isinstance(value, str):
        return mask_text(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _mask_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v, depth + 1) for v in value)
    return value


class PiiMaskingFilter(logging.Filter):
    """Rewrites a record so no ID number or mobile number survives into any handler's output.

    Attach it to *handlers* (``handler.addFilter(PiiMaskingFilter())``): a filter on a logger
    does not see records propagated from its child loggers.

    What it rewrites: the message (``msg % args`` is rendered once and, if anything was
    masked, stored as ``msg`` with ``args`` cleared — so ``%d`` with an int ID is covered too),
    string ``extra`` attributes (and strings inside dict/list extras), and, when
    ``mask_exceptions`` is on, the rendered traceback: it is stored masked in ``exc_text`` and
    ``exc_info`` is cleared, because formatters would otherwise re-render the raw exception
    (messages of DB errors often quote the offending value).
    """

    def __init__(self, name: str = "", *, mask_exceptions: bool = True) -> None:
        super().__init__(name)
        self._mask_exceptions = mask_exceptions
        self._exc_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        self._mask_message(record)
        self._mask_extras(record)
        if self._mask_exceptions:
            self._mask_exception(record)
        return True

    @staticmethod
    def _mask_message(record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # bad format args: logging reports them, masked, via handleError
            record.msg = mask_text(str(record.msg))
            record.args = tuple(mask_text(str(a)) for a in _as_tuple(record.args))
            return
        masked = mask_text(message)
        # Only replace when needed, so log aggregators can still group by the template.
        if masked != message:
            record.msg = masked
            record.args = ()

    @staticmethod
    def _mask_extras(record: logging.LogRecord) -> None:
        for key, value in list(record.__dict__.items()):
            if key in _STANDARD_ATTRS or key in _SKIP_EXTRAS or value is None:
                continue
            if isinstance(value, str | dict | list | tuple):
                record.__dict__[key] = _mask_value(value)

    def _mask_exception(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = self._exc_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)


def _as_tuple(args: Any) -> tuple[Any, ...]:
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)
