"""Process settings, read from the environment (12-factor) with the ``HUB_`` prefix.

Every process (a service or the gateway) reads the same variable names; the process
manager gives each one its own values (its own ``HUB_DATABASE_URL``, for instance).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VAR_DIR = PROJECT_ROOT / "var"


class HubSettings(BaseSettings):
    """Settings shared by every process of the hub."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    service_name: str = Field(default="hub", description="logical name of this process")
    environment: str = Field(default="local", description="local | test | production")
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means a SQLite file var/<service>.db",
    )
    db_pool_size: int = 10
    db_echo: bool = False

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_enabled: bool = True
    kafka_client_id: str = ""
    kafka_topic_partitions: int = 3
    kafka_replication_factor: int = 1

    outbox_poll_interval: float = Field(default=0.5, description="seconds between idle polls")
    outbox_batch_size: int = 500
    outbox_max_backoff: float = 10.0
    outbox_max_attempts: int = Field(
        default=10, description="failures of a row's own (not the broker's) before it is parked"
    )
    outbox_replay_window: float = Field(
        default=7 * 86400,
        description="seconds: when the broker comes up empty (in-memory local broker "
        "restarted), rows published this recently are published again; 0 disables",
    )

    consumer_max_attempts: int = Field(
        default=5, description="attempts on an unrecognised failure before the DLQ"
    )
    consumer_retry_backoff: float = 0.2
    consumer_max_backoff: float = Field(
        default=10.0, description="cap of the wait between retries of a transient failure"
    )

    retention_interval: float = Field(default=300.0, description="seconds between purge rounds")
    retention_batch_size: int = Field(default=1000, description="rows per DELETE")
    retention_outbox_days: float = Field(default=14.0, description="published outbox rows")
    retention_inbox_days: float = Field(
        default=30.0, description="inbox ids (longer than any redelivery: topic retention)"
    )
    retention_dead_letter_days: float = Field(
        default=30.0, description="dead letters after they were redriven or discarded"
    )
    retention_grace_days: float = Field(
        default=1.0, description="expired tokens, codes, nonces … are kept this long after"
    )

    max_body_bytes: int = Field(default=2 * 1024 * 1024, description="request size limit")
    log_level: str = "INFO"
    log_json: bool = True

    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="where portals reach the gateway"
    )
    trusted_proxies: str = Field(
        default="127.0.0.1/32,::1/128",
        description="CIDRs whose X-Forwarded-For is believed (services sit behind the gateway "
        "on loopback); the gateway's own default is empty",
    )
    redis_url: str = Field(
        default="", description="redis://host:port/db for shared counters; empty = in-process"
    )
    auth_issuer: str = Field(
        default="http://127.0.0.1:8000/api/identity", description="expected token issuer"
    )
    auth_audience: str = Field(default="ywtb-hub", description="audience of access tokens")
    auth_jwks_url: str = Field(default="", description="identity JWKS URL (internal)")
    auth_jwks: str = Field(default="", description="static JWKS JSON (tests, air-gapped)")
    auth_leeway: int = 30
    auth_client_id: str = Field(default="", description="this service's own OAuth client")
    auth_client_secret: str = ""
    auth_introspection_url: str = Field(default="", description="identity /introspect URL")
    auth_introspection_cache_seconds: float = Field(
        default=0.0, description="cache of 'active' answers; 0 = revocation at once"
    )

    pii_encryption_keys: str = Field(
        default="",
        description="'kid:base64key,...' for PII at rest (first is primary); required in "
        "production, a local development key is derived when empty",
    )
    pii_index_key: str = Field(
        default="", description="base64 key of the blind index shared by services"
    )

    calendar_overrides_file: str = Field(
        default="", description="YAML file with holidays/workdays for years the package lacks"
    )

    # Fault injection for resilience tests only: exit the process abruptly after this
    # many consumed events have been applied but before their offsets are committed.
    fault_crash_after_apply: int = 0

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{VAR_DIR / (self.service_name + '.db')}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")


@lru_cache
def get_settings() -> HubSettings:
    return HubSettings()
