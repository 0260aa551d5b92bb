"""A signing key for tests of resource servers (services, gateway).

The identity service's own tests use the real issuer; other services' tests need only
tokens their verifier accepts, so they sign with this key and configure the service with
its JWKS (``HUB_AUTH_JWKS``).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

ISSUER = "http://127.0.0.1:8000/api/identity"
AUDIENCE = "ywtb-hub"


class TestIssuer:
    __test__ = False

    def __init__(self, kid: str = "test-key-1") -> None:
        self.key = ECKey.generate_key(
            "P-256", parameters={"kid": kid, "use": "sig", "alg": "ES256"}
        )
        self.kid = kid

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    @property
    def jwks_json(self) -> str:
        return json.dumps(self.jwks)

    def env(self) -> dict[str, str]:
        return {
            "HUB_AUTH_JWKS": self.jwks_json,
            "HUB_AUTH_ISSUER": ISSUER,
            "HUB_AUTH_AUDIENCE": AUDIENCE,
        }

    def token(
        self,
        *,
        sub: str,
        sub_type: str,
        scope: str = "",
        roles: list[str] | None = None,
        lifetime: int = 300,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "sub_type": sub_type,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "scope": scope,
            "roles": roles or [],
        }
        body.update(claims)
        return jwt.encode({"alg": "ES256", "kid": self.kid}, body, self.key)

    def citizen(self, id_ref: str, sub: str | None = None, acr: str = "L3", **claims: Any) -> str:
        return self.token(
            sub=sub or f"np-{id_ref[:12]}", sub_type="natural", id_ref=id_ref, acr=acr, **claims
        )

    def company(self, uscc: str, acr: str = "L3", **claims: Any) -> str:
        return self.token(sub=f"lp-{uscc}", sub_type="legal", uscc=uscc, acr=acr, **claims)

    def staff(
        self, org_uscc: str, roles: list[str], division: str = "440200", **claims: Any
    ) -> str:
        return self.token(
            sub=f"staff-{uuid.uuid4().hex[:8]}",
            sub_type="staff",
            uscc=org_uscc,
            roles=roles,
            division=division,
            acr="L4",
            **claims,
        )

    def client(self, client_id: str, scope: str, **claims: Any) -> str:
        return self.token(
            sub=client_id, sub_type="client", client_id=client_id, scope=scope, **claims
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
