"""Signed legacy calls: app key + HMAC over method, path, timestamp, nonce, body digest.

The recipe is ``services.runtime.crypto.canonical_request`` (five lines: METHOD, path,
timestamp, nonce, hex digest of the body — SM3 for HMAC-SM3, SHA-256 for HMAC-SHA256).
Freshness: the timestamp (Unix seconds) must lie within ±window of the hub's clock, and
each nonce is accepted once (persisted until the timestamp could no longer pass).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from services.runtime.crypto import RequestSignatureAlgorithm, verify_request_signature

HEADER_APP_KEY = "x-app-key"
HEADER_TIMESTAMP = "x-timestamp"
HEADER_NONCE = "x-nonce"
HEADER_SIGNATURE = "x-signature"
HEADER_METHOD = "x-signature-method"
ALGORITHMS: tuple[str, ...] = ("HMAC-SM3", "HMAC-SHA256")
_NONCE = re.compile(r"[A-Za-z0-9_\-]{16,128}")
_APP_KEY = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_SIGNATURE = re.compile(r"[0-9A-Fa-f]{64}")


class SignatureRefused(Exception):
    """A signed call cannot be accepted; ``code`` is stable, ``status`` the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class SignedHeaders:
    app_key: str
    timestamp: str
    moment: datetime
    nonce: str
    signature: str
    algorithm: RequestSignatureAlgorithm


def read_headers(headers: Mapping[str, str], *, now: datetime, window: timedelta) -> SignedHeaders:
    """Check presence, shape and freshness of the signature headers (not the HMAC yet)."""
    values = {
        h: (headers.get(h) or "").strip()
        for h in (HEADER_APP_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
    }
    missing = [h for h, v in values.items() if not v]
    if missing:
        raise SignatureRefused(
            401, "missing-credentials", f"missing header(s): {', '.join(sorted(missing))}"
        )
    algorithm = (headers.get(HEADER_METHOD) or "HMAC-SHA256").strip().upper()
    if algorithm not in ALGORITHMS:
        raise SignatureRefused(
            400,
            "unsupported-signature-method",
            "X-Signature-Method must be HMAC-SM3 or HMAC-SHA256",
        )
    if _APP_KEY.fullmatch(values[HEADER_APP_KEY]) is None:
        raise SignatureRefused(401, "unknown-app-key", "the app key is not known")
    if _NONCE.fullmatch(values[HEADER_NONCE]) is None:
        raise SignatureRefused(
            401, "bad-nonce", "X-Nonce must be 16-128 characters from A-Za-z0-9_-"
        )
    if _SIGNATURE.fullmatch(values[HEADER_SIGNATURE]) is None:
        raise SignatureRefused(401, "signature-invalid", "X-Signature must be 64 hex characters")
    stamp = values[HEADER_TIMESTAMP]
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureRefused(401, "bad-timestamp", "X-Timestamp must be Unix time in seconds")
    moment = datetime.fromtimestamp(int(stamp), UTC)
    if abs(moment - now) > window:
        raise SignatureRefused(
            401,
            "timestamp-out-of-window",
            f"X-Timestamp is more than {int(window.total_seconds())} seconds from the hub's clock",
        )
    return SignedHeaders(
        app_key=values[HEADER_APP_KEY],
        timestamp=stamp,
        moment=moment,
        nonce=values[HEADER_NONCE],
        signature=values[HEADER_SIGNATURE],
        algorithm=cast(RequestSignatureAlgorithm, algorithm),
    )


def check_signature(
    signed: SignedHeaders, *, secret: bytes, method: str, path: str, body: bytes
) -> None:
    if not verify_request_signature(
        secret,
        method,
        path,
        signed.timestamp,
        signed.nonce,
        body,
        signed.signature,
        signed.algorithm,
    ):
        raise SignatureRefused(401, "signature-invalid", "the signature does not match the request")
