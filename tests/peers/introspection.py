"""An RFC 7662 introspection endpoint for tokens of the tests' ``TestIssuer``.

Services under test verify tokens signed by ``tests.support.tokens.TestIssuer``; routes that
need an ACTIVE token also ask introspection. The answers come from the issuer itself
(:meth:`TestIssuer.introspection_app`: it authenticates the caller, verifies the token and
reports it inactive once revoked or expired); this peer only serves them to the gateway's
tests in process or as a real HTTP server. The real identity service is used where
revocation itself is under test.
"""

from __future__ import annotations

from fastapi import FastAPI

from tests.support.tokens import TestIssuer


class IntrospectionPeer:
    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.app: FastAPI = issuer.introspection_app()

    @property
    def client_id(self) -> str:
        return self.issuer.client_id

    @property
    def client_secret(self) -> str:
        return self.issuer.client_secret

    @property
    def calls(self) -> int:
        return self.issuer.introspections

    def revoke(self, token: str) -> None:
        self.issuer.revoke(token)

    # --- as a real HTTP server (for gateway processes) ---
    def start(self) -> str:
        return self.issuer.serve_introspection()["HUB_AUTH_INTROSPECTION_URL"]

    def stop(self) -> None:
        self.issuer.stop_introspection()

    def env(self, url: str) -> dict[str, str]:
        return {
            "HUB_AUTH_INTROSPECTION_URL": url,
            "HUB_AUTH_CLIENT_ID": self.client_id,
            "HUB_AUTH_CLIENT_SECRET": self.client_secret,
        }
