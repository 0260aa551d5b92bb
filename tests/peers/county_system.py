"""County / department system simulator: realistic 办件 streams over all four channels.

Identifiers are valid by construction: USCCs with their GB 32100 check character,
实施编码 = implementing body's USCC + 13 chars, 办件编号 = 实施编码 + yyyymmdd + 4-digit
daily sequence, 公民身份号码 with their ISO 7064 MOD 11-2 check character. Each case walks a
plausible stage sequence (承诺件 with 补正 or 特别程序, 即办件, 不予受理, 撤回) with ``seq``
and increasing ``occurred_at`` in +08:00.

Channels speak the real protocols: REST/JSON with a bearer token, SOAP 1.1 signed with
HMAC (``services.runtime.crypto.sign_request``), rows in a MySQL/MariaDB exchange table,
CSV/XML files written to a drop directory (``.part`` then renamed, plus ``.done``).
Mutations produce the abuse a hub sees in practice: duplicates, reordering, malformed items,
bad signatures, stale timestamps and replays.
"""

from __future__ import annotations

import csv
import io
import json
import random
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from stdnum.cn import ric, uscc

from services.runtime.crypto import sign_request

CST = timezone(timedelta(hours=8))
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
INTAKE_NS = "urn:ywtb-hub:intake:v1"
SOAP_PATH = "/api/intake/soap/case-events"
REST_PATH = "/api/intake/v1/case-events"

# The exchange-table / CSV columns as docs/intake.md publishes them (kept here on purpose:
# a peer speaks the documented format, it does not import the hub's code).
SCALAR_COLUMNS = (
    "event_id",
    "case_no",
    "implementation_code",
    "stage",
    "occurred_at",
    "seq",
    "case_type",
)
GROUPS = {
    "applicant": ("type", "id_type", "id_no", "name"),
    "handler": ("org_uscc", "department", "staff_no"),
    "result": ("decision", "certificate_type", "certificate_data"),
}
FLAT_COLUMNS = (
    *SCALAR_COLUMNS,
    *(f"{group}_{name}" for group, names in GROUPS.items() for name in names),
    "detail",
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超"]
DEPARTMENTS = [
    "市场监督管理局",
    "卫生健康局",
    "住房和城乡建设局",
    "交通运输局",
    "人力资源和社会保障局",
]


def make_uscc(division: str, serial: int, kind: str = "11") -> str:
    """A valid 统一社会信用代码: kind (11 机关, 91 企业 …) + 6-digit area + 9-char org code."""
    body = f"{kind}{division}{serial:09d}"
    return body + uscc.calc_check_digit(body)


def make_citizen_id(division: str, birth: datetime, serial: int) -> str:
    body = f"{division}{birth:%Y%m%d}{serial % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects a check slot


@dataclass
class County:
    """A county with its approval bureau (implementing body) and the matters it handles."""

    name: str
    division: str
    client_id: str
    bureau_uscc: str = ""
    matters: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bureau_uscc = self.bureau_uscc or make_uscc(self.division, int(self.division) % 997)
        if not self.matters:
            self.matters = [
                self.bureau_uscc + f"{11442010 + i:08d}{i:05d}"[:13] for i in range(1, 4)
            ]


COUNTIES = [
    County("浈江区", "440204", "county-zhenjiang"),
    County("武江区", "440203", "county-wujiang"),
    County("曲江区", "440205", "county-qujiang"),
    County("乐昌市", "440281", "county-lechang"),
]


class CountySystem:
    """Generates the 办件 event stream of one county's approval system."""

    def __init__(self, county: County, seed: int = 1) -> None:
        self.county = county
        self.rng = random.Random(seed)
        self._daily: dict[tuple[str, str], int] = {}

    def _case_no(self, matter: str, day: datetime) -> str:
        key = (matter, f"{day:%Y%m%d}")
        self._daily[key] = self._daily.get(key, 0) + 1
        return f"{matter}{day:%Y%m%d}{self._daily[key]:04d}"

    def _applicant(self) -> dict[str, str]:
        if self.rng.random() < 0.7:
            birth = datetime(1960, 1, 1) + timedelta(days=self.rng.randrange(0, 40 * 365))
            name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN) + self.rng.choice(GIVEN)
            return {
                "type": "natural",
                "id_type": "身份证",
                "id_no": make_citizen_id(self.county.division, birth, self.rng.randrange(1000)),
                "name": name,
            }
        serial = self.rng.randrange(10**8)
        return {
            "type": "legal",
            "id_type": "统一社会信用代码",
            "id_no": make_uscc(self.county.division, serial, "91"),
            "name": f"{self.county.name}{self.rng.choice(GIVEN)}{self.rng.choice(GIVEN)}有限公司",
        }

    def case(self, start: datetime | None = None) -> list[dict[str, Any]]:
        """One case's events in source order."""
        start = start or datetime(2026, 3, 2, 9, 0, tzinfo=CST) + timedelta(
            minutes=self.rng.randrange(0, 60 * 24 * 20)
        )
        matter = self.rng.choice(self.county.matters)
        case_no = self._case_no(matter, start)
        roll = self.rng.random()
        if roll < 0.25:
            case_type, stages = "1", ["submitted", "accepted", "decided", "concluded"]
        elif roll < 0.35:
            case_type, stages = "2", ["submitted", "not_accepted"]
        elif roll < 0.42:
            case_type, stages = "2", ["submitted", "accepted", "withdrawn"]
        else:
            case_type = "2"
            stages = ["submitted", "accepted"]
            if self.rng.random() < 0.3:
                stages += ["correction_requested", "correction_received"]
            if self.rng.random() < 0.2:
                stages += ["suspended", "resumed"]
            stages += ["decided", "concluded", "delivered"]
        applicant = self._applicant()
        handler = {
            "org_uscc": self.county.bureau_uscc,
            "department": self.rng.choice(DEPARTMENTS),
            "staff_no": f"S{self.rng.randrange(1000, 9999)}",
        }
        decision = "approved" if self.rng.random() < 0.9 else "denied"
        events = []
        moment = start
        for seq, stage in enumerate(stages, start=1):
            event: dict[str, Any] = {
                "event_id": f"{case_no[18:]}-{seq}",
                "case_no": case_no,
                "implementation_code": matter,
                "stage": stage,
                "occurred_at": moment.isoformat(),
                "seq": seq,
                "case_type": case_type,
                "applicant": applicant,
                "handler": handler,
                "detail": {"channel_hint": "window", "note": f"第{seq}步"},
            }
            if stage in ("decided", "concluded"):
                event["result"] = {
                    "decision": decision,
                    "certificate_type": "食品经营许可证" if decision == "approved" else None,
                    "certificate_data": {"licence_no": f"JY{self.rng.randrange(10**13):013d}"}
                    if decision == "approved"
                    else None,
                }
            events.append(event)
            moment += timedelta(hours=self.rng.randrange(1, 72))
        return events

    def stream(self, cases: int) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for _ in range(cases):
            events.extend(self.case())
        return events


# --- mutations ---


def with_duplicates(
    events: Sequence[dict[str, Any]], ratio: float, rng: random.Random
) -> list[dict[str, Any]]:
    extra = [dict(e) for e in rng.sample(list(events), int(len(events) * ratio))]
    return [*events, *extra]


def shuffled(events: Iterable[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    out = list(events)
    rng.shuffle(out)
    return out


def malformed(valid: dict[str, Any]) -> list[tuple[str, Any]]:
    """(path of the expected field error, item) pairs derived from a valid event."""

    def variant(**changes: Any) -> dict[str, Any]:
        item = json.loads(json.dumps(valid))
        item["event_id"] = f"bad-{secrets.token_hex(4)}"
        item.update(changes)
        return item

    bad_id = dict(valid["applicant"], type="natural", id_type="身份证")
    bad_id["id_no"] = bad_id["id_no"][:17] + ("0" if bad_id["id_no"][17] != "0" else "1")
    if valid["applicant"]["type"] == "legal":
        good = make_citizen_id("440204", datetime(1980, 1, 1), 1)
        bad_id["id_no"] = good[:17] + ("1" if good[17] != "1" else "2")
    return [
        ("case_no", variant(case_no=valid["case_no"][:17] + "Y" + valid["case_no"][18:])),
        ("case_no", variant(case_no=valid["case_no"][:40])),
        ("implementation_code", variant(implementation_code=valid["case_no"][:30] + "Q")),
        ("stage", variant(stage="approved-ish")),
        ("occurred_at", variant(occurred_at="2026-03-02T09:30:00")),
        ("occurred_at", variant(occurred_at="yesterday")),
        ("seq", variant(seq="three")),
        ("applicant.id_no", variant(applicant=bad_id)),
        ("event_id", variant(event_id=None)),
        ("", ["not", "an", "object"]),
    ]


# --- channels ---


class RestPusher:
    """REST/JSON batch with a client-credentials bearer token."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.token = token

    async def push(
        self, events: Sequence[Any], *, idempotency_key: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return await self.client.post(REST_PATH, json={"events": list(events)}, headers=headers)


def _add_value(parent: ET.Element, name: str, value: Any) -> None:
    if value is None:
        return
    child = ET.SubElement(parent, f"{{{INTAKE_NS}}}{name}")
    if isinstance(value, dict):
        for key, inner in value.items():
            _add_value(child, key, inner)
    else:
        child.text = str(value)


def events_xml(events: Sequence[dict[str, Any]], root: ET.Element) -> None:
    for event in events:
        element = ET.SubElement(root, f"{{{INTAKE_NS}}}event")
        for key, value in event.items():
            _add_value(element, key, value)


def soap_envelope(events: Sequence[dict[str, Any]]) -> bytes:
    envelope = ET.Element(f"{{{SOAP_ENV_NS}}}Envelope")
    ET.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Header")
    body = ET.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")
    operation = ET.SubElement(body, f"{{{INTAKE_NS}}}PushCaseEvents")
    events_xml(events, operation)
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


class SoapPusher:
    """SOAP 1.1 over HTTP, signed with app key + HMAC (SM3 or SHA-256)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        app_key: str,
        secret: str,
        algorithm: str = "HMAC-SM3",
        path: str = SOAP_PATH,
    ) -> None:
        self.client = client
        self.app_key = app_key
        self.secret = secret.encode()
        self.algorithm = algorithm
        self.path = path

    def headers(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        secret: bytes | None = None,
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(16)
        signature = sign_request(
            secret or self.secret,
            "POST",
            self.path,
            stamp,
            nonce,
            body,
            self.algorithm,  # type: ignore[arg-type]
        )
        return {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"urn:ywtb-hub:intake:v1#PushCaseEvents"',
            "X-App-Key": self.app_key,
            "X-Timestamp": stamp,
            "X-Nonce": nonce,
            "X-Signature": signature,
            "X-Signature-Method": self.algorithm,
        }

    async def send(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post(self.path, content=body, headers=headers)

    async def push(self, events: Sequence[dict[str, Any]], **kw: Any) -> httpx.Response:
        body = soap_envelope(events)
        return await self.send(body, self.headers(body, **kw))


def parse_soap_results(body: bytes) -> list[dict[str, Any]]:
    root = ET.fromstring(body)
    out = []
    for result in root.iter(f"{{{INTAKE_NS}}}result"):
        errors = [
            {"path": e.get("path"), "code": e.get("code"), "message": e.text}
            for e in result.findall(f"{{{INTAKE_NS}}}error")
        ]
        out.append({**result.attrib, "errors": errors})
    return out


def soap_fault(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    fault = root.find(f"{{{SOAP_ENV_NS}}}Body/{{{SOAP_ENV_NS}}}Fault")
    assert fault is not None, body
    code = fault.find(f".//{{{INTAKE_NS}}}code")
    return {
        "faultcode": fault.findtext("faultcode") or "",
        "faultstring": fault.findtext("faultstring") or "",
        "code": code.text if code is not None and code.text else "",
    }


def flatten(event: dict[str, Any]) -> dict[str, Any]:
    """A canonical-shaped event → exchange-table / CSV columns."""
    row: dict[str, Any] = {k: event.get(k) for k in SCALAR_COLUMNS}
    for group, names in GROUPS.items():
        values = event.get(group) or {}
        for name in names:
            value = values.get(name) if isinstance(values, dict) else None
            row[f"{group}_{name}"] = (
                json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
            )
    detail = event.get("detail")
    row["detail"] = json.dumps(detail, ensure_ascii=False) if detail is not None else None
    return row


async def insert_exchange_rows(conn: Any, table: str, events: Sequence[dict[str, Any]]) -> None:
    """The department side of the 前置库: plain INSERTs into its exchange table."""
    columns = ", ".join(FLAT_COLUMNS)
    marks = ", ".join(["%s"] * len(FLAT_COLUMNS))
    async with conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})",
            [tuple(flatten(e)[c] for c in FLAT_COLUMNS) for e in events],
        )
    await conn.commit()


def csv_bytes(events: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(FLAT_COLUMNS))
    writer.writeheader()
    for event in events:
        writer.writerow(flatten(event))
    return buffer.getvalue().encode("utf-8")


def xml_file_bytes(events: Sequence[dict[str, Any]]) -> bytes:
    root = ET.Element(f"{{{INTAKE_NS}}}CaseEvents")
    events_xml(events, root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def drop_file(directory: Path, name: str, data: bytes, *, marker: bool = True) -> Path:
    """Write as ``<name>.part``, rename when complete, then (optionally) add ``.done``."""
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f"{name}.part"
    partial.write_bytes(data)
    final = directory / name
    partial.rename(final)
    if marker:
        (directory / f"{name}.done").write_bytes(b"")
    return final


def now_utc() -> datetime:
    return datetime.now(UTC)
