"""Settings of the certs service (``HUB_CERTS_*`` besides the shared ``HUB_*``)."""

from __future__ import annotations

from pydantic import Field

from services.certs.domain.types import (
    CDPF_USCC,
    GUANGDONG_MARKET_USCC,
    SHAOGUAN_CDPF_USCC,
    SHAOGUAN_EDUCATION_USCC,
    SHAOGUAN_HEALTH_USCC,
    SHAOGUAN_MARKET_USCC,
)
from services.runtime.settings import HubSettings


class CertsSettings(HubSettings):
    service_name: str = "certs"
    certs_public_base_url: str = Field(
        default="http://127.0.0.1:8000/api/certs",
        description="public URL of this service (through the gateway), named in certificates",
    )
    certs_status_list_ttl_seconds: int = Field(
        default=300, ge=1, le=86_400, description="ttl of a status list (Cache-Control max-age)"
    )
    certs_key_validity_days: int = Field(
        default=3 * 365, ge=1, description="validity of a newly generated issuer key"
    )
    certs_sweep_interval: float = Field(
        default=3600.0, ge=0, description="seconds between 过期/年检 sweeps; 0 turns it off"
    )
    certs_issuer_names: dict[str, str] = Field(
        default_factory=lambda: {
            SHAOGUAN_MARKET_USCC: "韶关市市场监督管理局",
            SHAOGUAN_EDUCATION_USCC: "韶关市教育局",
            SHAOGUAN_HEALTH_USCC: "韶关市卫生健康局",
            GUANGDONG_MARKET_USCC: "广东省市场监督管理局",
            CDPF_USCC: "中国残疾人联合会",
            SHAOGUAN_CDPF_USCC: "韶关市残疾人联合会",
        },
        description="颁发机构 names by USCC (JSON); the signed metadata names the issuer",
    )
