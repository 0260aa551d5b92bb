"""Legacy SOAP 1.1 intake: signatures (HMAC-SM3/SHA256), freshness, replays, unsafe XML."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from gateway.clients.registry import create_legacy_client, set_status
from gateway.store.tables import ExchangeLogEntry, ExternalClient
from tests.gateway.conftest import Gateway
from tests.peers.county_system import (
    COUNTIES,
    SOAP_PATH,
    CountySystem,
    SoapPusher,
    malformed,
    parse_soap_results,
    soap_envelope,
    soap_fault,
)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;</soap:Body></soap:Envelope>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&xxe;</soap:Body></soap:Envelope>"""


async def _pusher(gateway: Gateway, algorithm: str = "HMAC-SM3", **kw: object) -> SoapPusher:
    creds = await create_legacy_client(
        gateway.hub.db,
        gateway.hub.settings,
        name="浈江区行政审批系统",
        orgs=[COUNTIES[0].bureau_uscc],
        channels=kw.pop("channels", ("soap",)),  # type: ignore[arg-type]
    )
    return SoapPusher(gateway.client, creds.app_key, creds.secret, algorithm)


@pytest.mark.parametrize("algorithm", ["HMAC-SM3", "HMAC-SHA256"])
async def test_signed_envelope_is_accepted_with_per_event_results(
    gateway: Gateway, algorithm: str
) -> None:
    pusher = await _pusher(gateway, algorithm)
    system = CountySystem(COUNTIES[0], seed=21 if algorithm == "HMAC-SM3" else 121)
    events = system.stream(3)
    bad = malformed(system.case()[0])[2][1]
    response = await pusher.push([*events, bad])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    results = parse_soap_results(response.content)
    assert [r["status"] for r in results] == ["accepted"] * len(events) + ["rejected"]
    assert results[-1]["errors"][0]["path"] == "implementation_code"
    rows = await gateway.outbox_rows(subject=events[0]["case_no"])
    payloads = [r["payload"] for r in rows if r["payload"]["event_id"] == events[0]["event_id"]]
    assert len(payloads) == 1 and payloads[0]["channel"] == "soap"
    assert payloads[0]["detail"] == {"channel_hint": "window", "note": "第1步"}
    again = await pusher.push(events[:2])
    assert [r["status"] for r in parse_soap_results(again.content)] == ["duplicate"] * 2


async def test_secret_is_encrypted_at_rest(gateway: Gateway) -> None:
    pusher = await _pusher(gateway)
    async with gateway.hub.db.sessionmaker() as session:
        row = (
            await session.execute(
                select(ExternalClient).where(ExternalClient.app_key == pusher.app_key)
            )
        ).scalar_one()
    assert row.secret_encrypted and pusher.secret.decode() not in row.secret_encrypted


async def test_bad_signature_stale_timestamp_and_replay_are_refused(gateway: Gateway) -> None:
    pusher = await _pusher(gateway)
    events = CountySystem(COUNTIES[0], seed=22).case()
    body = soap_envelope(events)
    before = await gateway.outbox_count()

    forged = await pusher.send(body, pusher.headers(body, secret=b"not-the-secret"))
    assert forged.status_code == 401 and soap_fault(forged.content)["code"] == "signature-invalid"
    assert soap_fault(forged.content)["faultcode"] == "soap:Client"

    headers = pusher.headers(body)
    tampered = await pusher.send(body.replace(b"submitted", b"accepted", 1), headers)
    assert soap_fault(tampered.content)["code"] == "signature-invalid"

    stale = await pusher.send(body, pusher.headers(body, timestamp=int(time.time()) - 301))
    assert stale.status_code == 401
    assert soap_fault(stale.content)["code"] == "timestamp-out-of-window"
    future = await pusher.send(body, pusher.headers(body, timestamp=int(time.time()) + 400))
    assert soap_fault(future.content)["code"] == "timestamp-out-of-window"

    first = await pusher.send(body, headers)
    assert first.status_code == 200
    replay = await pusher.send(body, headers)
    assert replay.status_code == 409 and soap_fault(replay.content)["code"] == "nonce-replayed"
    assert await gateway.outbox_count() == before + len(events)

    unknown = SoapPusher(gateway.client, "ak-unknown", "whatever")
    refused = await unknown.push(events)
    assert refused.status_code == 401 and soap_fault(refused.content)["code"] == "unknown-app-key"
    missing = await gateway.client.post(
        SOAP_PATH, content=body, headers={"Content-Type": "text/xml"}
    )
    assert missing.status_code == 401
    assert soap_fault(missing.content)["code"] == "missing-credentials"
    odd = pusher.headers(body)
    odd["X-Signature-Method"] = "MD5"
    assert (await pusher.send(body, odd)).status_code == 400


async def test_disabled_client_and_wrong_channel_are_forbidden(gateway: Gateway) -> None:
    files_only = await _pusher(gateway, channels=("file",))
    response = await files_only.push(CountySystem(COUNTIES[1], seed=23).case())
    assert response.status_code == 403
    assert soap_fault(response.content)["code"] == "channel-not-allowed"
    pusher = await _pusher(gateway)
    async with gateway.hub.db.sessionmaker() as session:
        client_id = (
            await session.execute(
                select(ExternalClient.client_id).where(ExternalClient.app_key == pusher.app_key)
            )
        ).scalar_one()
    await set_status(gateway.hub.db, client_id, "disabled")
    response = await pusher.push(CountySystem(COUNTIES[1], seed=24).case())
    assert response.status_code == 403 and soap_fault(response.content)["code"] == "client-disabled"


@pytest.mark.parametrize(
    "body, status, code",
    [
        (BILLION_LAUGHS, 400, "unsafe-xml"),
        (XXE, 400, "unsafe-xml"),
        (b"<soap:Envelope", 400, "malformed-xml"),
        (b"\x00\x01garbage", 400, "malformed-xml"),
        (b"<a/>", 400, "not-soap"),
        (
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            400,
            "version-mismatch",
        ),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b"<Other/></s:Body></s:Envelope>",
            422,
            "unknown-operation",
        ),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b"<PushCaseEvents/></s:Body></s:Envelope>",
            422,
            "no-events",
        ),
    ],
)
async def test_unsafe_and_malformed_xml_get_faults_never_500(
    gateway: Gateway, body: bytes, status: int, code: str
) -> None:
    pusher = await _pusher(gateway)
    response = await pusher.send(body, pusher.headers(body))
    assert response.status_code == status, response.text
    fault = soap_fault(response.content)
    assert fault["code"] == code
    if code == "version-mismatch":
        assert fault["faultcode"] == "soap:VersionMismatch"


async def test_refusals_are_logged_with_the_claimed_app_key(gateway: Gateway) -> None:
    pusher = await _pusher(gateway)
    body = soap_envelope(CountySystem(COUNTIES[2], seed=25).case())
    await pusher.send(body, pusher.headers(body, secret=b"wrong"))
    async with gateway.hub.db.sessionmaker() as session:
        entry = (
            await session.execute(
                select(ExchangeLogEntry).where(ExchangeLogEntry.client_id == pusher.app_key)
            )
        ).scalar_one()
    assert (entry.result, entry.detail, entry.channel) == ("refused", "signature-invalid", "soap")
