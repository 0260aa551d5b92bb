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
        default_factory=lambda: {"submitted": 5, "decided": 10},
        description="working days a single stage may last (JSON), e.g. 受理审查 5, 送达 10",
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
        )
