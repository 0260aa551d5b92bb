"""Gateway settings: the upstream routing table and proxy limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.runtime.settings import HubSettings

DEFAULT_UPSTREAMS = {
    "identity": "http://127.0.0.1:8001",
    "matters": "http://127.0.0.1:8002",
    "cases": "http://127.0.0.1:8003",
    "certs": "http://127.0.0.1:8004",
    "eval": "http://127.0.0.1:8005",
}


class ExchangeTableSource(BaseModel):
    """A 前置库: a department database holding an exchange table of 办件 rows."""

    client_id: str = Field(description="source_system of the rows' events")
    dsn: str = Field(description="mysql://user:password@host:port/database")
    table: str = "hub_case_exchange"
    batch_size: int = 500


class FileDropSource(BaseModel):
    """A watched directory where a system drops CSV or XML files of 办件 events."""

    client_id: str = Field(description="source_system of the files' events")
    directory: str
    settle_seconds: float = Field(
        default=2.0, description="size and mtime must be unchanged this long (no .done marker)"
    )
    max_file_bytes: int = 50 * 1024 * 1024


class RateRule(BaseModel):
    """One rate limit (APISIX ``limit-count``): ``limit`` requests per ``window`` seconds
    per key (``ip`` = source address, ``client`` = the token's client_id/azp, falling back
    to the address) on paths starting with ``path_prefix`` and the listed methods."""

    path_prefix: str
    methods: list[str] = Field(default_factory=list, description="empty = every method")
    limit: int = Field(gt=0)
    window: int = Field(gt=0, description="seconds")
    key: Literal["ip", "client"] = "ip"
    name: str = ""


DEFAULT_RATE_RULES = [
    # 短信验证码: a text message costs money and pesters a phone owner; per source.
    RateRule(
        name="sms",
        path_prefix="/api/identity/login/sms/send",
        methods=["POST"],
        limit=5,
        window=600,
    ),
    # Per-client and per-address quotas for the whole API are deployment choices (see
    # docs/security.md); none by default so that batch systems are not cut off unawares.
]

# 防撞库: failures (upstream 401/403/423…) counted per source on these paths.
DEFAULT_GUARDED_PATHS = [
    "/api/identity/token",
    "/api/identity/login",
    "/api/identity/introspect",
    "/api/identity/v1/register/",
    "/api/adapters/realname/",
]


class GatewaySettings(HubSettings):
    service_name: str = "gateway"
    upstreams: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_UPSTREAMS),
        description="service name → base URL; HUB_UPSTREAMS as JSON",
    )
    upstream_connect_timeout: float = 3.0
    upstream_timeout: float = 30.0
    upstream_max_connections: int = 200
    upstream_max_connections_per_service: int = Field(
        default=50, description="pool size of each upstream, so a slow one cannot take all"
    )
    request_body_timeout: float = Field(
        default=15.0, description="seconds a client may pause while sending its body (→ 408)"
    )

    # --- front door (gateway/policies) ---
    trusted_proxies: str = Field(
        default="", description="CIDRs of proxies in front of the gateway (X-Forwarded-For)"
    )
    redis_key_prefix: str = Field(default="hub:", description="namespace of the gateway's keys")
    rate_limits_enabled: bool = True
    rate_limits: list[RateRule] = Field(
        default_factory=lambda: [r.model_copy() for r in DEFAULT_RATE_RULES],
        description="HUB_RATE_LIMITS as JSON list; first matching rule of each key kind wins",
    )
    guard_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_GUARDED_PATHS))
    guard_failure_statuses: list[int] = Field(default_factory=lambda: [400, 401, 403, 409, 423])
    guard_max_failures: int = Field(default=20, description="failures per source per window")
    guard_window: int = Field(default=300, description="seconds")
    guard_client_max_failures: int = Field(
        default=100, description="failures per client_id per window at /token (any source)"
    )
    breaker_failures: int = Field(default=5, description="consecutive failures that open it")
    breaker_base_seconds: float = 2.0
    breaker_max_seconds: float = 300.0
    idempotency_ttl_hours: int = Field(default=24, description="how long answers are replayed")
    idempotency_max_body_bytes: int = Field(
        default=1024 * 1024, description="larger answers are not stored (the key is released)"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="portal origins allowed by CORS (exact match)"
    )
    cors_max_age: int = 600

    # --- 办件 intake (gateway/adapters/intake) ---
    intake_max_batch: int = Field(default=1000, description="events per REST/SOAP call")
    intake_signature_window_seconds: int = Field(
        default=300, description="allowed clock difference of signed legacy calls (±)"
    )
    intake_idempotency_ttl_hours: int = 24
    intake_poll_interval: float = Field(default=2.0, description="seconds between polls")
    intake_max_item_attempts: int = Field(
        default=3,
        ge=1,
        description="an exchange-table row or file whose processing fails this many times "
        "is set aside (failed, with a report) so that the rest of its source flows",
    )
    intake_exchange_sources: list[ExchangeTableSource] = Field(
        default_factory=list, description="HUB_INTAKE_EXCHANGE_SOURCES as JSON list"
    )
    intake_file_sources: list[FileDropSource] = Field(
        default_factory=list, description="HUB_INTAKE_FILE_SOURCES as JSON list"
    )
    # Outbound: the provincial 事项目录管理系统 (pulled by the matters service via the adapter)
    province_catalog_url: str = Field(default="", description="base URL of the province feed")
    province_catalog_app_key: str = ""
    province_catalog_secret: str = Field(default="", description="HMAC secret from the province")
    province_catalog_timeout: float = 15.0
    # 实名核验 adapter (gateway/adapters/realname): the provincial service and the hub's
    # own credentials there (app key + HMAC secret).
    realname_province_url: str = Field(default="", description="provincial 实名核验 URL")
    realname_legal_province_url: str = Field(
        default="",
        description="provincial legal-person (法人库) check URL; default: /lpk/v1/check on the "
        "host of realname_province_url",
    )
    realname_app_key: str = ""
    realname_app_secret: str = ""
    realname_timeout: float = 5.0
