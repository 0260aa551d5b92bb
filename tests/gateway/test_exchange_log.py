"""The exchange log is hash-chained: verification passes, and any tampering is found."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, update

from gateway.adapters.intake.ingest import Counts, log_call
from gateway.app import create_app
from gateway.store import exchange_log
from gateway.store.tables import ExchangeLogEntry
from tests.gateway.conftest import Gateway, gateway_settings, register, use_introspection
from tests.peers.county_system import COUNTIES, CountySystem, RestPusher
from tests.peers.introspection import IntrospectionPeer
from tests.support.apps import migrate, serve
from tests.support.tokens import TestIssuer


async def _fill(gateway: Gateway, n: int) -> None:
    for i in range(n):
        await log_call(
            gateway.hub,
            client_id=f"c{i}",
            channel="rest",
            result="ok",
            body_digest=f"{i:064x}",
            detail=None,
            counts=Counts(i, 0, 0),
        )


async def _verify(gateway: Gateway) -> exchange_log.ChainVerdict:
    async with gateway.hub.db.sessionmaker() as session:
        return await exchange_log.verify_chain(session)


async def test_chain_verifies_and_detects_edits_and_deletions(gateway: Gateway) -> None:
    await _fill(gateway, 6)
    verdict = await _verify(gateway)
    assert verdict.ok and verdict.entries == 6
    async with gateway.hub.db.transaction() as session:
        await session.execute(
            update(ExchangeLogEntry).where(ExchangeLogEntry.seq == 3).values(accepted=999)
        )
    verdict = await _verify(gateway)
    assert (verdict.ok, verdict.broken_at, verdict.reason) == (False, 3, "entry content altered")

    # Re-hashing the edited entry does not help: the next link no longer matches.
    async with gateway.hub.db.transaction() as session:
        row = await session.get(ExchangeLogEntry, 3)
        assert row is not None
        row.entry_hash = exchange_log.entry_hash(
            **{
                c: getattr(row, c)
                for c in [
                    "seq",
                    "created_at",
                    "prev_hash",
                    "client_id",
                    "channel",
                    "result",
                    "accepted",
                    "duplicate",
                    "rejected",
                    "body_digest",
                    "trace_id",
                    "request_id",
                    "detail",
                ]
            }
        )
    verdict = await _verify(gateway)
    assert (verdict.ok, verdict.broken_at) == (False, 4)

    async with gateway.hub.db.transaction() as session:
        await session.execute(delete(ExchangeLogEntry).where(ExchangeLogEntry.seq == 2))
    verdict = await _verify(gateway)
    assert (verdict.ok, verdict.broken_at, verdict.reason) == (False, 2, "entry missing")


async def test_gateway_runs_on_sqlite_too(
    tmp_path: Path, issuer: TestIssuer, introspection_peer: IntrospectionPeer
) -> None:
    """Migrations and the whole intake path on the embedded default (SQLite)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    migrate("gateway", url)
    app = create_app(gateway_settings(url, issuer))
    http = use_introspection(app, introspection_peer)
    async with serve(app) as client:
        await register(app.state.hub, "county-sqlite", COUNTIES[0])
        events = CountySystem(COUNTIES[0], seed=51).stream(2)
        pusher = RestPusher(client, issuer.client("county-sqlite", "cases:push"))
        assert (await pusher.push(events)).json()["accepted"] == len(events)
        assert (await pusher.push(events)).json()["duplicate"] == len(events)
        async with app.state.hub.db.sessionmaker() as session:
            verdict = await exchange_log.verify_chain(session)
        assert verdict.ok and verdict.entries == 2
    await http.aclose()
