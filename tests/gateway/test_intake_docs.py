"""docs/intake.md stays true: its SOAP example parses and its signatures are right."""

from __future__ import annotations

import re

from gateway.adapters.intake.canonical import normalise
from gateway.adapters.intake.soap import soap_events
from services.runtime.crypto import sm3_hex, verify_request_signature
from services.runtime.settings import PROJECT_ROOT

DOC = (PROJECT_ROOT / "docs" / "intake.md").read_text(encoding="utf-8")


def test_documented_soap_example_and_signatures() -> None:
    body = DOC.split("<!-- soap-example -->\n```xml\n", 1)[1].split("```", 1)[0].encode()
    events = soap_events(body)
    assert [normalise(e, source_system="x", channel="soap").errors for e in events] == [[], []]
    stamp = re.search(r"X-Timestamp: (\d+)", DOC)
    nonce = re.search(r"X-Nonce: ([0-9a-f]+)", DOC)
    assert stamp and nonce
    assert f"SM3 of the body: `{sm3_hex(body)}`" in DOC
    for method in ("HMAC-SM3", "HMAC-SHA256"):
        found = re.search(rf"`X-Signature-Method: {method}` → `X-Signature: ([0-9a-f]+)`", DOC)
        assert found, method
        assert verify_request_signature(
            b"demo-secret-do-not-use",
            "POST",
            "/api/intake/soap/case-events",
            stamp.group(1),
            nonce.group(1),
            body,
            found.group(1),
            method,  # type: ignore[arg-type]
        )
