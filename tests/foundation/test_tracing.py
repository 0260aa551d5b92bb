"""One trace follows a request through the gateway, a service, the outbox, Kafka and a
consumer in another process — asserted on the spans the processes export over OTLP."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker
from tests.support.otlp import OtlpReceiver
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver()
    r.start()
    yield r
    r.stop()


def test_one_trace_spans_gateway_service_outbox_kafka_and_consumer(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path, receiver: OtlpReceiver
) -> None:
    common = {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_OUTBOX_POLL_INTERVAL": "0.2",
        **receiver.env(),
    }
    notes = AppProcess(
        "notes",
        "tests.foundation.apps:create_notes_app",
        {**common, "HUB_DATABASE_URL": pg.create_sync("tr_notes")},
        log_dir,
    )
    copier = AppProcess(
        "copier",
        "tests.foundation.apps:create_copier_app",
        {**common, "HUB_DATABASE_URL": pg.create_sync("tr_copier"), "HUB_LOG_LEVEL": "DEBUG"},
        log_dir,
    )
    gateway = AppProcess(
        "gateway",
        "gateway.app:create_app",
        {
            **common,
            "HUB_DATABASE_URL": pg.create_sync("tr_gateway"),
            "HUB_UPSTREAMS": json.dumps({"notes": notes.url}),
        },
        log_dir,
    )
    from tests.support.apps import migrate

    migrate("gateway", gateway.env["HUB_DATABASE_URL"])
    try:
        for p in (notes, copier, gateway):
            p.start()
        trace_id = secrets.token_hex(16)
        parent = secrets.token_hex(8)
        # urllib, not httpx: other tests may have instrumented httpx in this process, and
        # an instrumented client would replace our traceparent with its own.
        request = urllib.request.Request(
            f"{gateway.url}/api/notes/v1/notes",
            data=json.dumps({"text": "traced"}).encode(),
            headers={
                "content-type": "application/json",
                "traceparent": f"00-{trace_id}-{parent}-01",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
            note_id = json.loads(response.read())["ids"][0]
        wait_until(
            lambda: any(
                c["note_id"] == note_id
                for c in httpx.get(f"{copier.url}/v1/copies").json()["copies"]
            ),
            timeout=60,
        )

        def complete() -> bool:
            services = {s.service for s in receiver.trace(trace_id)}
            return {"gateway", "notes", "copier"} <= services and any(
                s.kind == "CONSUMER" and s.name.endswith("process")
                for s in receiver.trace(trace_id)
            )

        try:
            wait_until(complete, timeout=30)
        except TimeoutError:
            seen = sorted({(s.service, s.kind, s.name) for s in receiver.trace(trace_id)})
            others = sorted(
                {(s.service, s.name) for s in receiver.spans if s.name.endswith("process")}
            )
            raise AssertionError(
                f"trace incomplete: {seen}; process spans anywhere: {others}"
            ) from None
        spans = receiver.trace(trace_id)
        by_id = {s.span_id: s for s in spans}

        gateway_server = [s for s in spans if s.service == "gateway" and s.kind == "SERVER"]
        assert gateway_server and gateway_server[0].parent_span_id == parent
        notes_server = [s for s in spans if s.service == "notes" and s.kind == "SERVER"]
        assert notes_server, "the service's request span is missing"
        # The service's span descends from the gateway's outgoing call.
        assert by_id[notes_server[0].parent_span_id].service == "gateway"

        publish = [
            s
            for s in spans
            if s.service == "notes" and s.kind == "PRODUCER" and s.name == "hub.test-notes publish"
        ]
        assert publish and publish[0].attributes["hub.aggregate_id"] == note_id
        process = [s for s in spans if s.service == "copier" and s.name == "hub.test-notes process"]
        assert process and process[0].attributes["hub.aggregate_id"] == note_id
        # The consumer's span hangs below a producer-side span of the notes service.
        assert by_id[process[0].parent_span_id].service == "notes"
        # The consumer's database work is inside the same trace.
        assert any(
            s.service == "copier" and s.kind == "CLIENT" and "INSERT" in s.name for s in spans
        )
        # JSON logs of the consumer carry the trace id.
        assert any(
            json.loads(line).get("trace_id") == trace_id
            for line in copier.log_text().splitlines()
            if line.startswith("{")
        )
    finally:
        for p in (gateway, copier, notes):
            p.stop()
