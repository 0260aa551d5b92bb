"""Settings of the eval service (``HUB_EVAL_*`` besides the shared ``HUB_*``)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import HubSettings


class EvalSettings(HubSettings):
    service_name: str = "eval"
    eval_default_rating_days: int = Field(
        default=7, ge=1, le=365, description="natural days before a 默认评价 (广东: 7)"
    )
    eval_follow_up_days: int = Field(
        default=15, ge=0, le=365, description="natural days after a rating for its one 追评"
    )
    eval_verify_days: int = Field(default=3, ge=1, le=60, description="working days to 核实")
    eval_rectify_days: int = Field(default=15, ge=1, le=120, description="working days to 整改")
    eval_rectify_days_by_region: dict[str, int] = Field(
        default_factory=dict,
        description="整改 working days by 行政区划 prefix of the handling org (JSON), e.g. "
        '{"4402": 5}; the longest prefix wins',
    )
    eval_return_visit_days: int = Field(
        default=5, ge=1, le=60, description="working days to 回访 after 整改"
    )
    eval_sweep_interval: float = Field(
        default=600.0, ge=0, description="seconds between 默认评价/overdue sweeps; 0 turns it off"
    )
