"""File drop: complete files only, done/ or failed/ with a report, exactly once."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from gateway.adapters.intake import file_drop
from gateway.adapters.intake.file_drop import FileDropAdapter
from gateway.clients.registry import get_client
from gateway.settings import FileDropSource
from tests.gateway.conftest import Gateway, register
from tests.gateway.test_soap_intake import BILLION_LAUGHS
from tests.peers.county_system import (
    COUNTIES,
    CountySystem,
    csv_bytes,
    drop_file,
    malformed,
    xml_file_bytes,
)


class Killed(BaseException):
    """The process dying (not an error the adapter handles: it is never caught)."""


async def _adapter(
    gateway: Gateway, directory: Path, settle: float = 0.2, client_id: str | None = None
) -> FileDropAdapter:
    """A registered source (reporting for every test county)."""
    client_id = client_id or f"files-{uuid.uuid4().hex[:8]}"
    async with gateway.hub.db.sessionmaker() as session:
        known = await get_client(session, client_id)
    if known is None:
        await register(gateway.hub, client_id, *COUNTIES, channels=("file",))
    source = FileDropSource(client_id=client_id, directory=str(directory), settle_seconds=settle)
    return FileDropAdapter(gateway.hub, source)


async def _published(gateway: Gateway, client_id: str) -> list[str]:
    rows = await gateway.outbox_rows()
    return [r["payload"]["event_id"] for r in rows if r["payload"]["source_system"] == client_id]


def _report(directory: Path, name: str) -> dict:
    return json.loads((directory / f"{name}.report.json").read_text(encoding="utf-8"))


async def test_csv_with_marker_is_processed_and_reported(gateway: Gateway, tmp_path: Path) -> None:
    adapter = await _adapter(gateway, tmp_path)
    system = CountySystem(COUNTIES[0], seed=41)
    events = system.stream(3)
    bad_path, bad = malformed(system.case()[0])[5]
    drop_file(tmp_path, "batch-001.csv", csv_bytes([*events, bad]))
    assert await adapter.poll_once() == 1
    assert (tmp_path / "done" / "batch-001.csv").exists()
    assert not (tmp_path / "batch-001.csv").exists()
    assert not (tmp_path / "batch-001.csv.done").exists()
    report = _report(tmp_path / "done", "batch-001.csv")
    assert (report["accepted"], report["rejected"], report["outcome"]) == (len(events), 1, "done")
    assert report["results"][-1]["row"] == len(events) + 1
    assert report["results"][-1]["errors"][0]["path"] == bad_path
    assert events[0]["applicant"]["id_no"] not in json.dumps(report, ensure_ascii=False)
    assert sorted(await _published(gateway, adapter.source.client_id)) == sorted(
        e["event_id"] for e in events
    )
    payload = (await gateway.outbox_rows(subject=events[0]["case_no"]))[-1]["payload"]
    assert payload["channel"] == "file" and payload["applicant"] == events[0]["applicant"]


async def test_half_written_and_changing_files_are_left_alone(
    gateway: Gateway, tmp_path: Path
) -> None:
    adapter = await _adapter(gateway, tmp_path, settle=0.3)
    events = CountySystem(COUNTIES[1], seed=42).stream(2)
    data = xml_file_bytes(events)
    (tmp_path / "upload.xml.part").write_bytes(data[:100])
    (tmp_path / "upload.xml.tmp").write_bytes(data)
    growing = tmp_path / "growing.xml"
    growing.write_bytes(data[: len(data) // 2])
    assert await adapter.poll_once() == 0  # first sight: not settled yet
    await asyncio.sleep(0.35)
    growing.write_bytes(data)  # still being written: size changed
    assert await adapter.poll_once() == 0
    assert growing.exists()
    await asyncio.sleep(0.35)
    assert await adapter.poll_once() == 1  # unchanged for settle_seconds: complete
    assert (tmp_path / "done" / "growing.xml").exists()
    assert (tmp_path / "upload.xml.part").exists() and (tmp_path / "upload.xml.tmp").exists()
    assert len(await _published(gateway, adapter.source.client_id)) == len(events)


async def test_death_after_commit_before_move_does_not_publish_twice(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashing = await _adapter(gateway, tmp_path)
    events = CountySystem(COUNTIES[2], seed=43).stream(3)
    drop_file(tmp_path, "day.csv", csv_bytes(events))

    def die(*_a: object, **_k: object) -> Path:
        raise Killed("adapter killed after its commit, before the move")

    monkeypatch.setattr(crashing, "finish", die)
    with pytest.raises(Killed):
        await crashing.poll_once()
    assert (tmp_path / "day.csv").exists()
    client_id = crashing.source.client_id
    assert len(await _published(gateway, client_id)) == len(events)

    restarted = FileDropAdapter(gateway.hub, crashing.source)
    assert await restarted.poll_once() == 1
    assert (tmp_path / "done" / "day.csv").exists()
    assert _report(tmp_path / "done", "day.csv")["accepted"] == len(events)
    assert sorted(await _published(gateway, client_id)) == sorted(e["event_id"] for e in events)


async def test_death_before_commit_leaves_nothing_and_the_file_is_processed_once(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = await _adapter(gateway, tmp_path)
    events = CountySystem(COUNTIES[3], seed=44).stream(2)
    drop_file(tmp_path, "night.xml", xml_file_bytes(events))
    real = file_drop.accept_call

    async def die(*_a: object, **_k: object) -> None:
        raise Killed("adapter killed mid-file")

    monkeypatch.setattr(file_drop, "accept_call", die)
    with pytest.raises(Killed):
        await adapter.poll_once()
    assert await _published(gateway, adapter.source.client_id) == []
    monkeypatch.setattr(file_drop, "accept_call", real)
    assert await adapter.poll_once() == 1
    assert await adapter.poll_once() == 0
    assert sorted(await _published(gateway, adapter.source.client_id)) == sorted(
        e["event_id"] for e in events
    )


@pytest.mark.parametrize(
    "name, data, code",
    [
        ("bomb.xml", BILLION_LAUGHS, "unsafe-xml"),
        ("broken.xml", b"<CaseEvents><event>", "malformed-xml"),
        ("headless.csv", b"a,b\n1,2\n", "missing-columns"),
        ("binary.csv", b"\xff\xfe\xfa\x00\x81" * 10, "bad-encoding"),
    ],
)
async def test_unreadable_files_go_to_failed_with_a_report(
    gateway: Gateway, tmp_path: Path, name: str, data: bytes, code: str
) -> None:
    adapter = await _adapter(gateway, tmp_path)
    drop_file(tmp_path, name, data)
    assert await adapter.poll_once() == 1
    assert (tmp_path / "failed" / name).exists()
    assert _report(tmp_path / "failed", name)["error"]["code"] == code


async def test_a_file_of_only_bad_rows_fails_and_the_same_content_is_not_reprocessed(
    gateway: Gateway, tmp_path: Path
) -> None:
    adapter = await _adapter(gateway, tmp_path)
    bad = [item for _, item in malformed(CountySystem(COUNTIES[0], seed=45).case()[0])[:4]]
    drop_file(tmp_path, "bad.csv", csv_bytes(bad))
    assert await adapter.poll_once() == 1
    assert _report(tmp_path / "failed", "bad.csv")["rejected"] == len(bad)
    good = CountySystem(COUNTIES[0], seed=46).stream(1)
    drop_file(tmp_path, "good.csv", csv_bytes(good))
    await adapter.poll_once()
    before = len(await _published(gateway, adapter.source.client_id))
    drop_file(tmp_path, "good.csv", csv_bytes(good))  # the same bytes dropped again
    assert await adapter.poll_once() == 1
    assert len(await _published(gateway, adapter.source.client_id)) == before
    assert len(list((tmp_path / "done").glob("*good.csv"))) == 2
