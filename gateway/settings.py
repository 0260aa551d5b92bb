"""Gateway settings: the upstream routing table and proxy limits."""

from __future__ import annotations

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


class GatewaySettings(HubSettings):
    service_name: str = "gateway"
    upstreams: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_UPSTREAMS),
        description="service name → base URL; HUB_UPSTREAMS as JSON",
    )
    upstream_connect_timeout: float = 3.0
    upstream_timeout: float = 30.0
    upstream_max_connections: int = 200

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
