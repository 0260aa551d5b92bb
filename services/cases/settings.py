"""Settings of the cases service (``HUB_CASES_*`` besides the shared ``HUB_*``)."""

from __future__ import annotations

from fractions import Fraction

from pydantic import Field

from services.cases.domain.stages import Stage
from services.cases.domain.supervision import SupervisionRules
from services.runtime.settings import HubSettings


class CasesSettings(HubSettings):
    service_name: str = "cases"
    cases_yellow_ratio: float = Field(
        default=0.2, gt=0, lt=1, description="yellow warning when at most this share is left"
    )
    cases_step_limits: dict[str, int] = Field(
        default_factory=lambda: {"submitted": 5},
        description="working days a single stage may last until the next step (JSON), "
        "e.g. 受理审查 submitted 5",
    )
    cases_delivery_limit_days: int = Field(
        default=10,
        ge=0,
        description="送达: working days from the decision (决定, else 办结) to delivery "
        "(行政许可法第四十四条); 0 turns the check off",
    )
    cases_special_procedure_limit_days: int = Field(
        default=20,
        ge=0,
        description="特别程序 pause limit in working days when the matter names none",
    )
    cases_supervision_interval: float = Field(
        default=300.0, description="seconds between supervision scans; 0 turns the scan off"
    )
    cases_park_batch: int = Field(
        default=1000, description="parked events re-applied per matter event and batch"
    )

    def supervision_rules(self) -> SupervisionRules:
        return SupervisionRules(
            yellow_ratio=Fraction(str(self.cases_yellow_ratio)).limit_denominator(1000),
            step_limits={Stage(k): v for k, v in self.cases_step_limits.items()},
            delivery_limit_days=self.cases_delivery_limit_days or None,
            special_procedure_limit_days=self.cases_special_procedure_limit_days,
        )
