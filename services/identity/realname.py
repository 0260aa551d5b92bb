"""实名核验: name + 公民身份号码 checked against the population base (level L3), and
法人核验: USCC + company name + 法定代表人 (name, 公民身份号码) against the legal-person base.

Pluggable: the default asks the provincial service through the gateway adapter
(``POST /api/adapters/realname/v1/verify`` and ``…/verify-legal``), authenticating with a
client-credentials token this service mints for itself (scope ``realname:verify``).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httpx
from joserfc import jwt

if TYPE_CHECKING:
    from services.identity.core import IdentityCore

log = logging.getLogger("hub.identity.realname")
SERVICE_CLIENT_ID = "identity-service"


@dataclass(frozen=True)
class RealNameResult:
    matched: bool
    reason: str = ""


class RealNameUnavailable(Exception):
    """The verification service could not answer (not a mismatch)."""


class RealNameVerifier(Protocol):
    async def verify(self, name: str, id_number: str) -> RealNameResult: ...

    async def verify_legal(
        self, uscc: str, name: str, representative_name: str, representative_id_number: str
    ) -> RealNameResult: ...


class GatewayRealNameVerifier:
    def __init__(
        self,
        core: IdentityCore,
        url: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        legal_url: str | None = None,
    ) -> None:
        self.core = core
        self.url = url
        self.legal_url = legal_url or url.rstrip("/") + "-legal"
        self.timeout = timeout
        self.transport = transport  # tests: the gateway app in-process

    def _service_token(self) -> str:
        now = int(time.time())
        key = self.core.keys.signing_key
        claims = {
            "iss": self.core.issuer,
            "aud": self.core.settings.auth_audience,
            "sub": SERVICE_CLIENT_ID,
            "sub_type": "client",
            "client_id": SERVICE_CLIENT_ID,
            "scope": "realname:verify",
            "iat": now,
            "nbf": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key)

    async def verify(self, name: str, id_number: str) -> RealNameResult:
        return await self._ask(self.url, {"name": name, "id_number": id_number})

    async def verify_legal(
        self, uscc: str, name: str, representative_name: str, representative_id_number: str
    ) -> RealNameResult:
        return await self._ask(
            self.legal_url,
            {
                "uscc": uscc,
                "name": name,
                "representative_name": representative_name,
                "representative_id_number": representative_id_number,
            },
        )

    async def _ask(self, url: str, body: dict[str, str]) -> RealNameResult:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.post(
                    url, json=body, headers={"Authorization": f"Bearer {self._service_token()}"}
                )
        except httpx.HTTPError as exc:
            raise RealNameUnavailable(
                f"verification service unreachable: {type(exc).__name__}"
            ) from exc
        if response.status_code != 200:
            raise RealNameUnavailable(f"verification service answered {response.status_code}")
        body = response.json()
        return RealNameResult(bool(body.get("match")), str(body.get("reason", "")))


class UnavailableVerifier:
    """No verification service configured: nobody reaches L3 by self-service."""

    async def verify(self, name: str, id_number: str) -> RealNameResult:
        raise RealNameUnavailable("no 实名核验 service is configured")

    async def verify_legal(
        self, uscc: str, name: str, representative_name: str, representative_id_number: str
    ) -> RealNameResult:
        raise RealNameUnavailable("no 法人核验 service is configured")


def verifier_from_settings(core: IdentityCore) -> RealNameVerifier:
    s = core.settings
    if s.identity_realname_verifier == "gateway":
        return GatewayRealNameVerifier(
            core, s.realname_url, s.identity_realname_timeout, legal_url=s.realname_legal_url
        )
    return UnavailableVerifier()
