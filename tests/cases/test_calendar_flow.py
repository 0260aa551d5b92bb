"""Past the official calendar data (issue 8, hole 9): 2027 has no official schedule yet.

A 承诺件 accepted on Thursday 28 January 2027 with a 10-working-day limit gets a
provisional due date counted across the statutory 春节 (除夕 5 Feb to 初三 8 Feb, Saturday
and Sunday compensated on 9 and 10 Feb): Wednesday 17 Feb. Matters ``/due`` says the
same, marked provisional; the event goes through the real broker and nothing reaches the
DLQ. Then ``hub calendar load`` (a real process) loads an official schedule with a
Sunday make-up working day (调休): matters stores it and publishes
``hub.calendar.year_loaded``; the cases consumer recomputes the case (Thursday 18 Feb,
flag cleared) and tells a ``hub.case.state.changed`` fact carrying the new date.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from hub.broker import LocalBroker
from services.cases.store.tables import CalendarYearRow, CaseRow
from services.matters.app import create_app as matters_app
from services.matters.demo_catalog import DEMO_FOOD_CODE, food_licence_content
from services.runtime.calendar import WorkingCalendar, YearSchedule
from services.runtime.messaging import Envelope
from services.runtime.messaging.tables import dead_letters
from tests.cases.factory import at, case_no, event_data, impl_code, matter_data
from tests.cases.support import CasesHarness, cases_app
from tests.matters.conftest import Staff, publish_new, settings_for
from tests.support.apps import migrate, serve
from tests.support.postgres import DatabaseFactory
from tests.support.processes import PROJECT_ROOT
from tests.support.tokens import TestIssuer, bearer

# A plausible official 2027 arrangement: 5–12 Feb off, Sunday 31 Jan and Saturday 20 Feb
# are make-up working days.
OFFICIAL_2027 = """\
2027:
  holidays: [2027-01-01, 2027-02-05, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09,
             2027-02-10, 2027-02-11, 2027-02-12, 2027-04-05, 2027-05-01, 2027-05-02,
             2027-05-03, 2027-05-04, 2027-05-05, 2027-06-09, 2027-09-15, 2027-10-01,
             2027-10-02, 2027-10-03, 2027-10-04, 2027-10-05, 2027-10-06, 2027-10-07]
  workdays: [2027-01-31, 2027-02-20, 2027-04-25, 2027-09-26, 2027-10-09]
"""


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


def envelope(event_type: str, key: str, data: dict[str, Any]) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        source="/hub/gateway",
        type=event_type,
        key=key,
        data=data,
        time=datetime.now(UTC),
    )


async def _case(h: CasesHarness, number: str) -> CaseRow | None:
    async with h.hub.db.sessionmaker() as s:
        return await s.get(CaseRow, number)


async def _until(check: Any, seconds: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def _hub_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``hub …`` in its own process, as an operator runs it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        *args,
        cwd=PROJECT_ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def test_provisional_due_dates_across_spring_festival_2027_then_the_official_schedule(
    pg: DatabaseFactory, broker: LocalBroker, issuer: TestIssuer, tmp_path: Path
) -> None:
    matters_url = await pg.create("matters-calendar")
    migrate("matters", matters_url)
    m_settings = settings_for(matters_url, issuer).model_copy(
        update={
            "kafka_enabled": True,
            "kafka_bootstrap_servers": broker.bootstrap,
            "outbox_poll_interval": 0.2,
        }
    )
    h = await cases_app(
        pg,
        issuer,
        kafka_enabled=True,
        kafka_bootstrap_servers=broker.bootstrap,
        outbox_poll_interval=0.2,
        consumer_retry_backoff=0.05,
    )
    code = impl_code(n=uuid.uuid4().int % 10**9)  # unique on the shared broker
    number = case_no(code, date(2027, 1, 28), 1)
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False
    )
    async with serve(matters_app(m_settings)) as matters, serve(h.app) as cases:
        await producer.start()
        try:
            # Matters /due for 2027: provisional, 春节 counted from the statutory rules.
            await publish_new(matters, Staff(issuer), DEMO_FOOD_CODE, food_licence_content())
            due_url = f"/v1/matters/{DEMO_FOOD_CODE}/due"
            when = {"accepted_at": "2027-01-28T10:00:00+08:00"}
            before = (await matters.get(due_url, params=when)).json()
            assert before["promised_due"] == "2027-02-17" and before["provisional"] is True

            # The case through the real broker: accepted, provisional, nothing in the DLQ.
            await h.matter(matter_data(code, promised=10, statutory=20))
            for n, (stage, moment) in enumerate(
                [("submitted", "2027-01-28T09:00"), ("accepted", "2027-01-28T10:00")], start=1
            ):
                ev = envelope(
                    "hub.case.event.received",
                    number,
                    event_data(number, stage, at(moment), seq=n),
                )
                key, value, headers = ev.to_kafka()
                await producer.send_and_wait("hub.cases", value=value, key=key, headers=headers)

            async def accepted() -> CaseRow | None:
                row = await _case(h, number)
                return row if row is not None and row.due_date is not None else None

            row = await _until(accepted)
            assert row is not None, "the case event was not applied"
            assert row.due_date == date(2027, 2, 17) and row.due_date_provisional is True
            [fact] = [f for f in await h.facts("hub.case.accepted") if f["case_no"] == number]
            assert fact["due_date"] == "2027-02-17" and fact["due_date_provisional"] is True

            staff = bearer(issuer.staff(code[:18], ["window"], scope="cases:read"))
            detail = (await cases.get(f"/v1/cases/{number}", headers=staff)).json()
            assert detail["due_date"] == "2027-02-17" and detail["due_date_provisional"] is True
            mine = (await cases.get("/v1/me/cases", headers=staff)).json()["items"]
            assert [(c["case_no"], c["due_date_provisional"]) for c in mine] == [(number, True)]
            listed = (await cases.get("/v1/supervision/provisional", headers=staff)).json()
            assert [c["case_no"] for c in listed["items"]] == [number]
            outsider = bearer(issuer.staff("91440300MA5XXXXXX1", ["window"], scope="cases:read"))
            hidden = await cases.get("/v1/supervision/provisional", headers=outsider)
            assert hidden.status_code == 200 and hidden.json()["items"] == []
            citizen = await cases.get(
                "/v1/supervision/provisional",
                headers=bearer(issuer.company(code[:18], scope="cases:read")),
            )
            assert citizen.status_code == 404
            cases_db = {"HUB_DATABASE_URL": h.hub.settings.database_url}
            rc, out = await _hub_cli("cases", "provisional", env=cases_db)
            assert rc == 0 and f"{number}\taccepted\tdue 2027-02-17" in out, out

            # A schedule that cannot be right is refused before anything is written.
            bad = tmp_path / "bad.yaml"
            bad.write_text("2027:\n  holidays: [2028-01-01]\n", encoding="utf-8")
            rc, out = await _hub_cli("calendar", "load", str(bad), "--database-url", matters_url)
            assert rc == 2 and "2028-01-01 is not in 2027" in out

            # The official schedule, loaded by the operators' command in its own process.
            file = tmp_path / "2027.yaml"
            file.write_text(OFFICIAL_2027, encoding="utf-8")
            rc, out = await _hub_cli("calendar", "load", str(file), "--database-url", matters_url)
            assert rc == 0, out
            assert "2027: 24 holidays, 5 make-up workdays" in out and "loaded 2027" in out
            rc, out = await _hub_cli("calendar", "years", "--database-url", matters_url)
            assert rc == 0 and "2027" in out and "hub-cli" in out, out

            async def recomputed() -> CaseRow | None:
                row = await _case(h, number)
                return row if row is not None and not row.due_date_provisional else None

            row = await _until(recomputed)
            assert row is not None, "the case was not recomputed on the official schedule"
            # 29 Jan, Sun 31 Jan (调休), 1–4 Feb, then 5–14 Feb off, 15–18 Feb: Thu 18 Feb.
            assert row.due_date == date(2027, 2, 18)
            official = WorkingCalendar()
            [schedule] = [YearSchedule.parse(2027, *_lists(OFFICIAL_2027))]
            official.load_year(schedule)
            assert row.statutory_due_date == official.add_working_days(date(2027, 1, 28), 20)
            changed = [
                f
                for f in await h.facts("hub.case.state.changed")
                if f["case_no"] == number and f["due_date"] == "2027-02-18"
            ]
            assert len(changed) == 1
            assert changed[0]["from_stage"] == changed[0]["to_stage"] == "accepted"
            assert changed[0]["due_date_provisional"] is False

            detail = (await cases.get(f"/v1/cases/{number}", headers=staff)).json()
            assert detail["due_date"] == "2027-02-18" and detail["due_date_provisional"] is False
            listed = (await cases.get("/v1/supervision/provisional", headers=staff)).json()
            assert listed["items"] == []
            rc, out = await _hub_cli("cases", "provisional", env=cases_db)
            assert rc == 0 and number not in out and "provisional due dates: 0" in out
            async with h.hub.db.sessionmaker() as s:
                stored = await s.get(CalendarYearRow, 2027)
                dead = (await s.execute(select(dead_letters.c.key))).scalars().all()
            assert stored is not None and "2027-01-31" in stored.workdays
            assert number not in dead and "2027" not in dead

            # Matters counts on the loaded schedule too, no longer provisional.
            after = (await matters.get(due_url, params=when)).json()
            assert after["promised_due"] == "2027-02-18" and after["provisional"] is False
        finally:
            await producer.stop()


def _lists(text: str) -> tuple[list[str], list[str]]:
    import yaml

    spec = yaml.safe_load(text)[2027]
    return spec["holidays"], spec["workdays"]
