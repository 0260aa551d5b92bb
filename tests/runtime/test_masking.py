"""PII masking helpers and the logging filter, exercised through real loggers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from services.runtime.masking import (
    PiiMaskingFilter,
    mask_citizen_id,
    mask_name,
    mask_phone,
    mask_text,
    mask_uscc,
)

CID = "440106199001011235"
CID_X = "11010519491231002X"
PHONE = "13812345678"


def test_field_maskers() -> None:
    assert mask_citizen_id("440106199001011234") == "4401**********1234"
    assert mask_phone(PHONE) == "138****5678"
    assert mask_uscc("91440101MA59C2KX01") == "9144**********KX01"
    assert mask_name("张三丰") == "张**"
    assert mask_name("张三") == "张*"
    assert mask_name("张") == "*"
    assert mask_name("") == ""
    assert mask_phone("123") == "***"  # too short to keep anything


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"citizen_id={CID}", "citizen_id=4401**********1235"),
        (f"身份证号{CID_X}已提交", "身份证号1101**********002X已提交"),
        (f"lower {CID_X.lower()} x", "lower 1101**********002x x"),
        (f'{{"phone": "{PHONE}"}}', '{"phone": "138****5678"}'),
        (f"手机{PHONE}。", "手机138****5678。"),
        ("call +86 138 1234 5678 now", "call +86 138****5678 now"),
        ("tel:8613812345678", "tel:86138****5678"),
        ("tel 0086-138-1234-5678", "tel 0086-138****5678"),
        (f"two {CID} and {PHONE}", "two 4401**********1235 and 138****5678"),
    ],
)
def test_mask_text_finds_pii(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "nothing here",
        "order 12345678901234567890123 done",  # longer digit run is not an ID
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "12812345678 is not a mobile prefix",
        "case 91440101MA59C2KX01000123456700A202402290042",
        "sizes 123-4567-890",
    ],
)
def test_mask_text_leaves_non_pii_alone(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_without_candidates_returns_same_object() -> None:
    line = "GET /v1/matters 200 12ms"
    assert mask_text(line) is line


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(PiiMaskingFilter())
    logger = logging.getLogger("tests.runtime.masking")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def test_filter_masks_message_and_args(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("applicant %s phone %s", CID, PHONE)
    logger.info("int arg %d", int(CID[:-1] + "0"))
    logger.info(f"inline {CID_X}")
    out = stream.getvalue()
    assert CID not in out
    assert PHONE not in out
    assert CID_X not in out
    assert CID[:-1] not in out
    assert "applicant 4401**********1235 phone 138****5678" in out
    assert "inline 1101**********002X" in out


def test_filter_keeps_template_when_nothing_to_mask() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "count %d", (3,), None)
    assert PiiMaskingFilter().filter(record)
    assert record.msg == "count %d"
    assert record.args == (3,)


def test_filter_masks_extras_and_nested_extras(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    handler = logger.handlers[0]
    handler.setFormatter(logging.Formatter("%(message)s|%(id_no)s|%(payload)s"))
    logger.info("submitted", extra={"id_no": CID, "payload": {"phones": [PHONE], "n": 1}})
    out = stream.getvalue()
    assert CID not in out
    assert PHONE not in out
    assert "4401**********1235" in out
    assert "138****5678" in out


def test_filter_masks_exception_text(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        raise ValueError(f"duplicate key (citizen_id)=({CID})")
    except ValueError:
        logger.exception("insert failed")
    out = stream.getvalue()
    assert "Traceback" in out
    assert "duplicate key" in out
    assert CID not in out
    assert "4401**********1235" in out


def test_filter_on_root_handler_covers_child_loggers() -> None:
    """The filter belongs on handlers: records from child loggers pass through them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PiiMaskingFilter())
    parent = logging.getLogger("tests.runtime.parent")
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    parent.propagate = False
    try:
        logging.getLogger("tests.runtime.parent.child").warning("phone %s", PHONE)
    finally:
        parent.removeHandler(handler)
    assert stream.getvalue().strip() == "phone 138****5678"


def test_filter_with_json_style_formatter(capture: tuple[logging.Logger, io.StringIO]) -> None:
    class JsonFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return json.dumps({"msg": record.getMessage(), "who": getattr(record, "who", None)})

    logger, stream = capture
    logger.handlers[0].setFormatter(JsonFormatter())
    logger.info("lookup %s", CID_X, extra={"who": f"user {PHONE}"})
    line = json.loads(stream.getvalue())
    assert line == {"msg": "lookup 1101**********002X", "who": "user 138****5678"}


def test_bad_format_args_do_not_leak_via_handle_error() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d %d", (CID,), None)
    PiiMaskingFilter().filter(record)
    assert CID not in repr(record.args)
    assert CID not in str(record.msg)
