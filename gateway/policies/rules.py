"""Pure rules of the front door: which limits apply, how a caller is keyed, the headers.

Nothing here does I/O; the middleware feeds it requests and counter values.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.settings import RateRule


@dataclass(frozen=True)
class Caller:
    """Who knocks: the source address and, when a token says so, the OAuth client.

    The client id is read from the token WITHOUT verifying it: it only picks a counter, so a
    forged id can at most spend somebody else's quota from the forger's own address, which
    the per-address limits still cover.
    """

    ip: str
    client_id: str | None = None
    sub_type: str | None = None


def applies(rule: RateRule, method: str, path: str) -> bool:
    """Prefix and method match; every rule that applies counts."""
    return path.startswith(rule.path_prefix) and (
        not rule.methods or method.upper() in (m.upper() for m in rule.methods)
    )


def rule_name(rule: RateRule, index: int) -> str:
    return rule.name or f"rule{index}"


def counter_key(name: str, rule: RateRule, caller: Caller) -> str:
    if rule.key == "client" and caller.client_id:
        return f"rl:{name}:c:{caller.client_id}"
    return f"rl:{name}:ip:{caller.ip}"


def is_guarded(paths: Sequence[str], path: str) -> bool:
    return any(path == p or path.startswith(p) for p in paths)


def unverified_claims(authorization: str | None) -> dict[str, Any]:
    """The payload of a bearer JWT, unverified (for keying only), or ``{}``."""
    if not authorization or authorization[:7].lower() != "bearer ":
        return {}
    parts = authorization[7:].strip().split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(_b64url(parts[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}


def basic_user(authorization: str | None) -> str | None:
    """The user part of HTTP Basic credentials (an OAuth client id at /token), or None."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    user, sep, _ = decoded.partition(":")
    return user if sep and user else None


def caller_of(ip: str, authorization: str | None) -> Caller:
    claims = unverified_claims(authorization)
    client = claims.get("client_id") or claims.get("azp")
    sub_type = claims.get("sub_type")
    return Caller(
        ip=ip,
        client_id=str(client)[:100] if isinstance(client, str) and client else None,
        sub_type=sub_type if isinstance(sub_type, str) else None,
    )


def rate_headers(name: str, limit: int, window: int, count: int, reset: float) -> dict[str, str]:
    """IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers):
    ``RateLimit-Policy: "sms";q=5;w=600`` and ``RateLimit: "sms";r=4;t=600``."""
    return {
        "RateLimit-Policy": f'"{name}";q={limit};w={window}',
        "RateLimit": f'"{name}";r={max(limit - count, 0)};t={retry_seconds(reset)}',
    }


def retry_seconds(reset: float) -> int:
    """Whole seconds to wait, at least 1 (a ``Retry-After`` of 0 invites a hot loop)."""
    return max(int(reset + 0.999), 1)


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
