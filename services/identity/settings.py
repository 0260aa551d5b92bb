"""Settings of the identity service (统一身份认证), ``HUB_IDENTITY_*`` on top of ``HUB_*``.

The issuer is ``HUB_AUTH_ISSUER`` (shared with every resource server): the public base URL
under which portals reach this service through the gateway, e.g.
``https://ywtb.example.gov.cn/api/identity``. Every endpoint in discovery is under it.
"""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import HubSettings


class IdentitySettings(HubSettings):
    service_name: str = "identity"

    identity_code_lifetime: int = Field(default=60, description="authorization code, seconds")
    identity_access_token_lifetime: int = Field(default=600, description="default, seconds")
    # A JWT cannot be recalled from a resource server that does not introspect: its
    # lifetime bounds the damage, so no client may ask for longer than this.
    identity_access_token_max_lifetime: int = Field(
        default=600, description="cap on any client's access token lifetime, seconds"
    )
    identity_refresh_token_lifetime: int = Field(
        default=8 * 3600, description="default idle lifetime of a refresh token, seconds"
    )
    # Rotation renews the idle lifetime; this bounds a grant however often it is used.
    identity_refresh_token_max_lifetime: int = Field(
        default=24 * 3600, description="absolute lifetime of a refresh-token family, seconds"
    )
    identity_id_token_lifetime: int = Field(default=600, description="default, seconds")
    identity_session_lifetime: int = Field(default=8 * 3600, description="SSO browser session")
    identity_login_challenge_lifetime: int = 300

    # Brute-force protection, Keycloak's "permanent lockout off" model: after every
    # `failure_factor` consecutive failures the account waits `wait_increment` x n seconds
    # (n = failures // factor), capped at `max_wait`; counts reset after `failure_reset`.
    identity_lockout_failure_factor: int = 5
    identity_lockout_wait_increment: int = 60
    identity_lockout_max_wait: int = 15 * 60
    identity_lockout_failure_reset: int = 12 * 3600

    # argon2id (RFC 9106 / OWASP 2023): m=19 MiB, t=2, p=1 is OWASP's baseline for
    # interactive logins, about 20-30 ms here; raise memory first if hardware allows.
    identity_argon2_time_cost: int = 2
    identity_argon2_memory_kib: int = 19 * 1024
    identity_argon2_parallelism: int = 1

    identity_sms_code_lifetime: int = 300
    # Per mobile number, whoever asks (whether or not the number is registered).
    identity_sms_min_interval: int = Field(default=60, description="seconds between codes")
    identity_sms_daily_limit: int = Field(default=10, description="codes per number per 24 h")
    # Unverified (L2) accounts claiming one ID number that a password login tries, newest
    # first; once an account is verified the ID number logs in to that account only.
    identity_login_id_candidates: int = 5
    # Which staff role may grant which roles (JSON object role -> [roles]); empty = the
    # default of services/identity/domain/roles.py.
    identity_role_grants: dict[str, list[str]] = Field(default_factory=dict)
    identity_sms_sender: str = Field(default="local", description="local (table) | none")

    identity_realname_verifier: str = Field(
        default="gateway", description="gateway (provincial 实名核验 via the gateway) | none"
    )
    identity_realname_url: str = Field(
        default="",
        description="adapter URL; default <public_base_url>/api/adapters/realname/v1/verify",
    )
    identity_realname_legal_url: str = Field(
        default="",
        description="legal-person check; default <public_base_url>/api/adapters/realname/v1/"
        "verify-legal",
    )
    identity_realname_timeout: float = 5.0

    identity_key_reload_interval: float = Field(
        default=30.0, description="seconds between re-reads of the signing key table"
    )
    identity_cookie_secure: bool = Field(default=False, description="Secure flag on cookies")

    @property
    def issuer(self) -> str:
        return self.auth_issuer.rstrip("/")

    @property
    def realname_url(self) -> str:
        return self.identity_realname_url or (
            self.public_base_url.rstrip("/") + "/api/adapters/realname/v1/verify"
        )

    @property
    def realname_legal_url(self) -> str:
        return self.identity_realname_legal_url or (
            self.public_base_url.rstrip("/") + "/api/adapters/realname/v1/verify-legal"
        )

    @property
    def role_grants(self) -> dict[str, tuple[str, ...]]:
        from services.identity.domain.roles import DEFAULT_GRANTS

        if not self.identity_role_grants:
            return DEFAULT_GRANTS
        return {k: tuple(v) for k, v in self.identity_role_grants.items()}
