"""Gateway settings: the upstream routing table and proxy limits."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import HubSettings

DEFAULT_UPSTREAMS = {
    "identity": "http://127.0.0.1:8001",
    "matters": "http://127.0.0.1:8002",
    "cases": "http://127.0.0.1:8003",
    "certs": "http://127.0.0.1:8004",
    "eval": "http://127.0.0.1:8005",
}


class GatewaySettings(HubSettings):
    service_name: str = "gateway"
    upstreams: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_UPSTREAMS),
        description="service name → base URL; HUB_UPSTREAMS as JSON",
    )
    upstream_connect_timeout: float = 3.0
    upstream_timeout: float = 30.0
    upstream_max_connections: int = 200
