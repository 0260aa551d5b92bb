"""Valid identifiers and realistic 办件 event streams for the cases tests."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from stdnum.cn import ric, uscc

from services.cases.domain.history import CaseEvent
from services.cases.domain.stages import CaseType, Stage

CST = timezone(timedelta(hours=8))


def make_uscc(n: int, prefix: str = "11440300") -> str:
    body = f"{prefix}{n:09d}"[:17]
    return body + uscc.calc_check_digit(body)


def make_citizen_id(n: int, birth: str = "19900101") -> str:
    body = f"440305{birth}{n % 1000:03d}"
    return body + ric.calc_check_digit(body)


ORG_A = make_uscc(1)
ORG_B = make_uscc(2)


def impl_code(org: str = ORG_A, n: int = 1) -> str:
    return f"{org}{n:013d}"


def case_no(code: str, day: date, n: int) -> str:
    return f"{code}{day:%Y%m%d}{n:04d}"


def at(text: str) -> datetime:
    """A local (Asia/Shanghai) time as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def matter_data(
    code: str,
    *,
    promised: int = 10,
    statutory: int = 20,
    version: int = 1,
    org: str | None = None,
    status: str = "published",
    special: int | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "implementation_code": code,
        "version": version,
        "name": "食品经营许可（新办）",
        "department": {"name": "市场监督管理局", "uscc": org or code[:18]},
        "division_code": "440305",
        "status": status,
        "statutory_limit_days": statutory,
        "promised_limit_days": promised,
        "result": {"name": "食品经营许可证", "certificate_type": "11100000000013127D001"},
    }
    if special is not None:  # 特别程序 limit (older publishers do not send it)
        data["special_procedure_limit_days"] = special
    return data


def event_data(
    number: str,
    stage: str,
    occurred_at: datetime,
    *,
    seq: int | None = None,
    event_id: str | None = None,
    source: str = "county-440305",
    applicant: dict[str, Any] | None = None,
    case_type: str | None = "2",
    org: str | None = None,
    detail: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": event_id or uuid.uuid4().hex,
        "source_system": source,
        "channel": "rest",
        "case_no": number,
        "implementation_code": number[:31],
        "stage": stage,
        "occurred_at": occurred_at.isoformat(),
        "seq": seq,
        "case_type": case_type,
        "applicant": applicant,
        "handler": {"org_uscc": org or number[:18], "department": "食品科", "staff_no": "S001"},
        "result": result,
        "detail": detail,
    }
    return data


def natural(id_no: str, name: str = "张三丰") -> dict[str, Any]:
    return {"type": "natural", "id_type": "111", "id_no": id_no, "name": name}


def legal(code: str, name: str = "深圳市某某餐饮有限公司") -> dict[str, Any]:
    return {"type": "legal", "id_type": "001", "id_no": code, "name": name}


LIFECYCLES: list[list[str]] = [
    ["submitted", "accepted", "decided", "concluded", "delivered"],
    [
        "submitted",
        "accepted",
        "correction_requested",
        "correction_received",
        "decided",
        "concluded",
        "delivered",
    ],
    ["submitted", "accepted", "suspended", "resumed", "decided", "concluded"],
    ["submitted", "not_accepted"],
    ["submitted", "accepted", "withdrawn"],
    ["submitted", "correction_requested", "correction_received", "accepted", "decided"],
    ["submitted", "accepted", "correction_requested"],
]


def stream(
    rng: random.Random,
    number: str,
    start: datetime,
    *,
    with_seq: bool = True,
    applicant: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The events of one case in source order (some lifecycles end early or stray)."""
    stages = list(rng.choice(LIFECYCLES))
    if rng.random() < 0.05:  # a stray step the machine must refuse (an anomaly)
        stages.insert(rng.randrange(1, len(stages) + 1), "delivered")
    events, t = [], start
    for i, stage in enumerate(stages):
        t += timedelta(hours=rng.randint(1, 72))
        result = None
        if stage in ("decided", "concluded"):
            result = {
                "decision": "approved",
                "certificate_type": "11100000000013127D001",
                "certificate_data": {"经营者名称": "某某餐饮"},
            }
        detail = (
            {"reason": "材料不齐全"} if stage == "not_accepted" and rng.random() < 0.5 else None
        )
        events.append(
            event_data(
                number,
                stage,
                t,
                seq=(i + 1) if with_seq else None,
                applicant=applicant if i == 0 else None,
                detail=detail,
                result=result,
            )
        )
    return events


def to_domain(data: dict[str, Any]) -> CaseEvent:
    result = data.get("result") or {}
    detail = data.get("detail") or {}
    return CaseEvent(
        event_id=data["event_id"],
        source_system=data["source_system"],
        stage=Stage(data["stage"]),
        occurred_at=datetime.fromisoformat(data["occurred_at"]).astimezone(UTC),
        seq=data.get("seq"),
        channel=data.get("channel"),
        case_type=CaseType(data["case_type"]) if data.get("case_type") else None,
        decision=result.get("decision"),
        certificate_type=result.get("certificate_type"),
        reason=detail.get("reason"),
        applicant=bool(data.get("applicant")) or None,
    )
