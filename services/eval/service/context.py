"""What every eval use case needs: settings, the outbox publisher, the PII cipher, the
working-day calendar and the step deadlines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from services.eval.domain.rectification import Deadlines
from services.eval.settings import EvalSettings
from services.runtime.calendar import WorkingCalendar
from services.runtime.crypto import FieldCipher

Publish = Callable[..., Awaitable[str]]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # periods and deadlines are local days


def local_date(at: dt.datetime) -> dt.date:
    return at.astimezone(LOCAL_TZ).date()


def period_of(at: dt.datetime) -> str:
    return local_date(at).strftime("%Y-%m")


@dataclass(frozen=True)
class EvalContext:
    settings: EvalSettings
    publish: Publish
    cipher: FieldCipher
    calendar: WorkingCalendar

    @property
    def deadlines(self) -> Deadlines:
        s = self.settings
        return Deadlines(
            verify=s.eval_verify_days,
            rectify=s.eval_rectify_days,
            return_visit=s.eval_return_visit_days,
            rectify_by_region=s.eval_rectify_days_by_region,
        )
