"""A signing key for tests of resource servers (services, gateway).

The identity service's own tests use the real issuer; other services' tests need only
tokens their verifier accepts, so they sign with this key and configure the service with
its JWKS (``HUB_AUTH_JWKS``). Revocation-sensitive routes also ask the issuer whether a
token is still active: :meth:`TestIssuer.introspection_app` answers RFC 7662 for the
tokens this issuer signed, as identity does (:meth:`TestIssuer.revoke` ends one), served
in-process (:meth:`TestIssuer.introspector`) or over HTTP for real processes
(:meth:`TestIssuer.serve_introspection`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
import uuid
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from services.runtime.auth import TokenIntrospector

ISSUER = "http://127.0.0.1:8000/api/identity"
AUDIENCE = "ywtb-hub"


class TestIssuer:
    __test__ = False

    def __init__(self, kid: str = "test-key-1") -> None:
        self.key = ECKey.generate_key(
            "P-256", parameters={"kid": kid, "use": "sig", "alg": "ES256"}
        )
        self.kid = kid
        self.revoked: set[str] = set()
        self.client_id = "resource-server"
        self.client_secret = secrets.token_urlsafe(16)
        self.introspections = 0
        self.introspection_delay = 0.0  # seconds; to make concurrent checks overlap
        self._server: Any = None

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
        self,
        org_uscc: str,
        roles: list[str],
        division: str = "440200",
        acr: str = "L4",
        **claims: Any,
    ) -> str:
        return self.token(
            sub=f"staff-{uuid.uuid4().hex[:8]}",
            sub_type="staff",
            uscc=org_uscc,
            roles=roles,
            division=division,
            acr=acr,
            **claims,
        )

    def client(self, client_id: str, scope: str, **claims: Any) -> str:
        return self.token(
            sub=client_id, sub_type="client", client_id=client_id, scope=scope, **claims
        )

    # -- introspection (RFC 7662), as identity answers it ---------------------------

    def revoke(self, token: str) -> None:
        self.revoked.add(jwt.decode(token, self.key).claims["jti"])

    def introspection_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/introspect")
        async def introspect(request: Request) -> JSONResponse:
            self.introspections += 1
            if self.introspection_delay:
                await asyncio.sleep(self.introspection_delay)
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
            if request.headers.get("authorization", "") != f"Basic {expected.decode()}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            token = str((await request.form()).get("token", ""))
            try:
                claims = jwt.decode(token, self.key).claims
            except (JoseError, ValueError):
                return JSONResponse({"active": False})
            if claims.get("jti") in self.revoked or claims.get("exp", 0) <= time.time():
                return JSONResponse({"active": False})
            return JSONResponse({"active": True, **claims})

        return app

    def introspector(self) -> TokenIntrospector:
        """For ``app.state.hub.extras["token_introspector"]`` of an in-process app."""
        transport = httpx.ASGITransport(app=self.introspection_app())
        return TokenIntrospector(
            url="http://issuer/introspect",
            client_id=self.client_id,
            client_secret=self.client_secret,
            http=httpx.AsyncClient(transport=transport),
        )

    def serve_introspection(self) -> dict[str, str]:
        """Start a real HTTP server (a thread) and return the env for real processes."""
        from tests.peers.server import ThreadedServer

        if self._server is None:
            self._server = ThreadedServer(self.introspection_app(), "test issuer introspection")
            self._server.start()
        return {
            "HUB_AUTH_INTROSPECTION_URL": f"{self._server.base_url}/introspect",
            "HUB_AUTH_CLIENT_ID": self.client_id,
            "HUB_AUTH_CLIENT_SECRET": self.client_secret,
        }

    def stop_introspection(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
