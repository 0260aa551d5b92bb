"""The canonical 办件 event: validate one raw item from any channel and normalise it.

Pure rules (no I/O): every channel turns its input into a plain ``dict`` first (JSON
object, SOAP element tree, exchange-table row, CSV line) and calls :func:`normalise`,
which either returns the canonical event (contract ``hub.case.event.received``) or the
complete list of field errors. Messages name the field and the rule, never the value:
they end up in answers, reports and logs, and the value may be an ID number.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import case_stages
from services.runtime.identifiers import (
    InvalidIdentifier,
    parse_case_no,
    parse_implementation_code,
    validate_citizen_id,
    validate_uscc,
)

CHANNELS = ("rest", "soap", "exchange-table", "file")

# The wire names, from the canonical event's JSON Schema (one source for every party).
STAGES = case_stages()
# Legacy systems often send the Chinese stage name (申请/收件, 受理 …).
STAGE_ALIASES = {
    "申请": "submitted",
    "收件": "submitted",
    "受理": "accepted",
    "容缺受理": "conditionally_accepted",
    "不予受理": "not_accepted",
    "补正告知": "correction_requested",
    "补齐补正": "correction_requested",
    "补正材料收到": "correction_received",
    "补正受理": "correction_received",
    "特别程序开始": "suspended",
    "特别程序": "suspended",
    "特别程序结束": "resumed",
    "决定": "decided",
    "办结": "concluded",
    "送达": "delivered",
    "撤回": "withdrawn",
    "退件": "returned",
}
RESULT_STAGES = ("decided", "concluded")
CASE_TYPES = {"1": "1", "2": "2", "即办件": "1", "承诺件": "2"}
APPLICANT_TYPES = {"natural": "natural", "legal": "legal", "0": "natural", "1": "legal"}
DECISIONS = {"approved": "approved", "denied": "denied", "准予": "approved", "不予": "denied"}
# id_type values meaning 居民身份证 (GB/T 2261.x code 111, common spellings).
CITIZEN_ID_TYPES = frozenset({"身份证", "居民身份证", "111", "id_card", "id-card", "citizen_id"})
DEFAULT_LEGAL_ID_TYPE = "统一社会信用代码"
DEFAULT_NATURAL_ID_TYPE = "居民身份证"

EVENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
MAX_DETAIL_BYTES = 16 * 1024
# A source clock may run a little fast; an event far in the future is a data error.
MAX_FUTURE_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one item: ``path`` like ``applicant.id_no``."""

    path: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


@dataclass
class Normalised:
    """The outcome for one item: ``event`` when valid, else ``errors``."""

    event: dict[str, Any] | None = None
    errors: list[FieldError] = field(default_factory=list)
    event_id: str | None = None  # known even when the item is rejected, if it was readable

    @property
    def ok(self) -> bool:
        return self.event is not None


class _Collector:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.errors.append(FieldError(path, code, message))


def _text(value: Any) -> str | None:
    """Strings as given (NFKC, stripped); numbers as their text; empty → None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = unicodedata.normalize("NFKC", value).strip()
    return value or None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalise(
    raw: Any, *, source_system: str, channel: str, now: datetime | None = None
) -> Normalised:
    """Validate one raw item and build the canonical event (or list every error)."""
    if not isinstance(raw, Mapping):
        return Normalised(errors=[FieldError("", "type", "each event must be an object")])
    c = _Collector()
    event_id = _event_id(raw.get("event_id"), c)
    case_no, impl_from_case = _case_no(raw.get("case_no"), c)
    implementation_code = _implementation_code(raw.get("implementation_code"), impl_from_case, c)
    stage = _stage(raw.get("stage"), c)
    occurred_at = _occurred_at(raw.get("occurred_at"), c, now or datetime.now(UTC))
    seq = _seq(raw.get("seq"), c)
    case_type = _case_type(raw.get("case_type"), c)
    applicant = _applicant(raw.get("applicant"), c, required=stage == "submitted")
    handler = _handler(raw.get("handler"), c)
    result = _result(raw.get("result"), stage, c)
    detail = _detail(raw.get("detail"), c)
    if c.errors:
        return Normalised(errors=c.errors, event_id=event_id)
    event = {
        "event_id": event_id,
        "source_system": source_system,
        "channel": channel,
        "case_no": case_no,
        "implementation_code": implementation_code,
        "stage": stage,
        "occurred_at": occurred_at,
        "seq": seq,
        "case_type": case_type,
        "applicant": applicant,
        "handler": handler,
        "result": result,
        "detail": detail,
    }
    return Normalised(event=event, event_id=event_id)


def _event_id(value: Any, c: _Collector) -> str | None:
    text = _text(value)
    if text is None:
        c.add("event_id", "required", "event_id is required")
        return None
    if EVENT_ID.fullmatch(text) is None:
        c.add("event_id", "format", "event_id must be 1-64 characters from A-Za-z0-9._:-")
        return None
    return text


def _identifier_error(c: _Collector, path: str, exc: InvalidIdentifier) -> None:
    c.add(path, exc.reason, str(exc))


def _case_no(value: Any, c: _Collector) -> tuple[str | None, str | None]:
    text = _text(value)
    if text is None:
        c.add("case_no", "required", "case_no (办件编号) is required")
        return None, None
    try:
        parsed = parse_case_no(text)
    except InvalidIdentifier as exc:
        _identifier_error(c, "case_no", exc)
        return None, None
    return parsed.case_no, parsed.implementation_code.code


def _implementation_code(value: Any, from_case: str | None, c: _Collector) -> str | None:
    text = _text(value)
    if text is None:
        # The 办件编号 starts with the 实施编码, so a source that omits it loses nothing.
        return from_case
    try:
        code = parse_implementation_code(text).code
    except InvalidIdentifier as exc:
        _identifier_error(c, "implementation_code", exc)
        return None
    if from_case is not None and code != from_case:
        c.add(
            "implementation_code",
            "mismatch",
            "implementation_code (实施编码) must equal the first 31 characters of case_no",
        )
    return code


def _stage(value: Any, c: _Collector) -> str | None:
    text = _text(value)
    if text is None:
        c.add("stage", "required", "stage is required")
        return None
    stage = STAGE_ALIASES.get(text, text.lower())
    if stage not in STAGES:
        c.add("stage", "enum", f"stage must be one of: {', '.join(STAGES)}")
        return None
    return stage


def _occurred_at(value: Any, c: _Collector, now: datetime) -> str | None:
    text = _text(value) if not isinstance(value, int | float) else None
    if text is None:
        c.add("occurred_at", "required", "occurred_at (ISO 8601 with offset) is required")
        return None
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        c.add(
            "occurred_at", "format", "occurred_at must be ISO 8601, e.g. 2026-03-02T09:30:00+08:00"
        )
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        c.add("occurred_at", "offset", "occurred_at must carry a UTC offset (e.g. +08:00 or Z)")
        return None
    moment = moment.astimezone(UTC)
    if moment > now + MAX_FUTURE_SKEW:
        c.add("occurred_at", "future", "occurred_at lies in the future")
        return None
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _seq(value: Any, c: _Collector) -> int | None:
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        c.add("seq", "type", "seq must be a non-negative integer")
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        number = int(value.strip())
    else:
        c.add("seq", "type", "seq must be a non-negative integer")
        return None
    if number < 0 or number > 2**62:
        c.add("seq", "range", "seq must be between 0 and 2^62")
        return None
    return number


def _case_type(value: Any, c: _Collector) -> str | None:
    if _is_blank(value):
        return None
    text = _text(value)
    case_type = CASE_TYPES.get(text or "")
    if case_type is None:
        c.add("case_type", "enum", "case_type must be 1 (即办件) or 2 (承诺件)")
    return case_type


def _object(value: Any, path: str, c: _Collector) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        c.add(path, "type", f"{path} must be an object")
        return None
    return value


def _bounded(value: Any, path: str, limit: int, c: _Collector, *, required: bool) -> str | None:
    text = _text(value)
    if text is None:
        if required:
            c.add(path, "required", f"{path} is required")
        elif not _is_blank(value):
            c.add(path, "type", f"{path} must be a string")
        return None
    if len(text) > limit:
        c.add(path, "length", f"{path} must be at most {limit} characters")
        return None
    return text


def _applicant(value: Any, c: _Collector, *, required: bool) -> dict[str, str] | None:
    obj = _object(value, "applicant", c)
    if obj is None:
        if required and value is None:
            c.add("applicant", "required", "applicant is required for stage submitted")
        return None
    kind_text = _text(obj.get("type"))
    kind = APPLICANT_TYPES.get((kind_text or "").lower())
    if kind is None:
        c.add("applicant.type", "enum", "applicant.type must be natural or legal")
    id_type = _bounded(obj.get("id_type"), "applicant.id_type", 40, c, required=False)
    name = _bounded(obj.get("name"), "applicant.name", 200, c, required=True)
    raw_id = _text(obj.get("id_no"))
    id_no: str | None = None
    if raw_id is None:
        c.add("applicant.id_no", "required", "applicant.id_no is required")
    elif kind == "natural":
        id_type = id_type or DEFAULT_NATURAL_ID_TYPE
        if id_type.lower() in CITIZEN_ID_TYPES:
            try:
                id_no = validate_citizen_id(raw_id)
            except InvalidIdentifier as exc:
                _identifier_error(c, "applicant.id_no", exc)
        elif len(raw_id) > 64:
            c.add("applicant.id_no", "length", "applicant.id_no must be at most 64 characters")
        else:
            id_no = raw_id  # passport, 港澳通行证 …: no national check digit to verify
    elif kind == "legal":
        id_type = id_type or DEFAULT_LEGAL_ID_TYPE
        try:
            id_no = validate_uscc(raw_id)
        except InvalidIdentifier as exc:
            _identifier_error(c, "applicant.id_no", exc)
    if kind is None or id_no is None or name is None:
        return None
    return {"type": kind, "id_type": id_type or "", "id_no": id_no, "name": name}


def _handler(value: Any, c: _Collector) -> dict[str, str] | None:
    obj = _object(value, "handler", c)
    if obj is None:
        return None
    handler: dict[str, str] = {}
    org = _text(obj.get("org_uscc"))
    if org is not None:
        try:
            handler["org_uscc"] = validate_uscc(org)
        except InvalidIdentifier as exc:
            _identifier_error(c, "handler.org_uscc", exc)
    for key, limit in (("department", 200), ("staff_no", 64)):
        text = _bounded(obj.get(key), f"handler.{key}", limit, c, required=False)
        if text is not None:
            handler[key] = text
    return handler or None


def _result(value: Any, stage: str | None, c: _Collector) -> dict[str, Any] | None:
    if stage is not None and stage not in RESULT_STAGES:
        if value is not None:
            c.add(
                "result", "not-allowed", "result is only allowed for stages decided and concluded"
            )
        return None
    obj = _object(value, "result", c)
    if obj is None:
        if value is None and stage in RESULT_STAGES:
            c.add("result", "required", f"result is required for stage {stage}")
        return None
    decision = DECISIONS.get((_text(obj.get("decision")) or "").lower())
    if decision is None:
        c.add("result.decision", "enum", "result.decision must be approved or denied")
    cert_type = _bounded(
        obj.get("certificate_type"), "result.certificate_type", 100, c, required=False
    )
    cert_data = _json_object(obj.get("certificate_data"), "result.certificate_data", c)
    if decision is None:
        return None
    return {"decision": decision, "certificate_type": cert_type, "certificate_data": cert_data}


def _json_object(value: Any, path: str, c: _Collector) -> dict[str, Any] | None:
    """An object, or (from flat channels) the JSON text of one."""
    if _is_blank(value):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            c.add(path, "format", f"{path} must be a JSON object")
            return None
    if not isinstance(value, Mapping):
        c.add(path, "type", f"{path} must be an object")
        return None
    if len(json.dumps(value, ensure_ascii=False).encode("utf-8")) > MAX_DETAIL_BYTES:
        c.add(path, "length", f"{path} must be at most {MAX_DETAIL_BYTES} bytes as JSON")
        return None
    return dict(value)


def _detail(value: Any, c: _Collector) -> dict[str, Any] | None:
    return _json_object(value, "detail", c)
