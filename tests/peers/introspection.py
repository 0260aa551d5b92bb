"""An RFC 7662 introspection endpoint for tokens of the tests' ``TestIssuer``.

Services under test verify tokens signed by ``tests.support.tokens.TestIssuer``; the
gateway's intake route also asks whether a token is still ACTIVE. This peer answers as
identity's ``/introspect`` does: it authenticates the caller (client_secret_basic), verifies
the token with the issuer's key and reports it inactive once revoked here (RFC 7009 style)
or expired. The real identity service is used where revocation itself is under test.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import FastAPI, Form, Header
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.errors import JoseError

from tests.peers.server import ThreadedServer
from tests.support.tokens import TestIssuer

CLIENT_ID = "hub-gateway"
CLIENT_SECRET = "introspection-peer-secret"


class IntrospectionPeer:
    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.revoked: set[str] = set()  # jti
        self.calls = 0
        self.app = self._build()
        self._server: ThreadedServer | None = None

    def revoke(self, token: str) -> None:
        self.revoked.add(str(jwt.decode(token, self.issuer.key).claims["jti"]))

    def _answer(self, token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(token, self.issuer.key).claims
        except (JoseError, ValueError):
            return {"active": False}
        if claims.get("jti") in self.revoked or int(claims.get("exp", 0)) < time.time():
            return {"active": False}
        return {"active": True, **claims}

    def _build(self) -> FastAPI:
        app = FastAPI()
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

        @app.post("/introspect")
        async def introspect(
            token: str = Form(""), authorization: str = Header("")
        ) -> JSONResponse:
            self.calls += 1
            if authorization != expected:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            return JSONResponse(self._answer(token))

        return app

    # --- as a real HTTP server (for gateway processes) ---
    def start(self) -> str:
        self._server = ThreadedServer(self.app, "introspection")
        self._server.start()
        return f"{self._server.base_url}/introspect"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def env(self, url: str) -> dict[str, str]:
        return {
            "HUB_AUTH_INTROSPECTION_URL": url,
            "HUB_AUTH_CLIENT_ID": CLIENT_ID,
            "HUB_AUTH_CLIENT_SECRET": CLIENT_SECRET,
            "HUB_AUTH_INTROSPECTION_CACHE_SECONDS": "1",
        }
