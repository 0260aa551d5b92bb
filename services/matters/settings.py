"""Settings of the matters service (``HUB_`` prefix; service words start with ``matters_``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.identifiers import DEFAULT_BASE_CODE_PATTERN
from services.runtime.settings import HubSettings


class MattersSettings(HubSettings):
    service_name: str = "matters"
    matters_base_code_pattern: str = Field(
        default=DEFAULT_BASE_CODE_PATTERN, description="regular expression a 基本编码 must match"
    )
    matters_province_feed_url: str = Field(
        default="http://127.0.0.1:8000/v1/adapters/province-catalog/feed",
        description="the gateway adapter that pulls the provincial 事项目录 feed",
    )
    matters_province_token_url: str = Field(
        default="", description="identity token endpoint for the client-credentials grant"
    )
    matters_province_client_id: str = ""
    matters_province_client_secret: str = ""
    matters_province_scope: str = "province-catalog:read"
    matters_sync_page_size: int = Field(default=100, ge=1, le=1000)
    matters_sync_interval: float = Field(
        default=0.0, description="seconds between background sync passes; 0 = only on demand"
    )
    matters_search_max_results: int = Field(default=100, ge=1, le=500)
