"""Legacy XML over HTTP: SOAP 1.1 ``PushCaseEvents`` signed with an app key + HMAC.

``POST /api/intake/soap/case-events`` with ``Content-Type: text/xml`` and the headers of
``gateway.clients.signatures``. The answer is a SOAP envelope with one ``<result>`` per
event; errors are SOAP 1.1 Faults. HTTP status of a Fault: the hub never answers bad input
with 500 (WS-I BP R1126 asks for 500 on every Fault), so a ``soap:Client`` Fault carries
the status that says why (400 unreadable, 401 not authenticated, 403 not allowed, 409
replayed nonce, 422 not a valid request) and only a ``soap:Server`` Fault is a 5xx. The
format, an example and the signature recipe are in docs/intake.md.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.adapters.intake.ingest import Counts, ItemResult, accept_call, log_call, normalise_all
from gateway.adapters.intake.xml import (
    INTAKE_NS,
    MAX_EVENTS_PER_DOCUMENT,
    XmlRefused,
    events_in,
    local_name,
    namespace,
    parse_document,
)
from gateway.clients.registry import ClientRefused, admit, client_secret, find_by_app_key
from gateway.clients.signatures import SignatureRefused, check_signature, read_headers
from gateway.settings import GatewaySettings
from gateway.store import nonces
from services.runtime.crypto import sm3_hex
from services.runtime.deps import HubDep

log = logging.getLogger("hub.gateway.intake.soap")

CHANNEL = "soap"
PATH = "/api/intake/soap/case-events"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV_NS = "http://www.w3.org/2003/05/soap-envelope"
XML_MEDIA_TYPE = "text/xml; charset=utf-8"
OPERATION = "PushCaseEvents"

router = APIRouter(tags=["intake"])

ET.register_namespace("soap", SOAP_ENV_NS)
ET.register_namespace("hub", INTAKE_NS)


class SoapFault(Exception):
    def __init__(self, status: int, code: str, message: str, faultcode: str = "Client") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.faultcode = faultcode


def _envelope(body_child: ET.Element) -> bytes:
    envelope = ET.Element(f"{{{SOAP_ENV_NS}}}Envelope")
    body = ET.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")
    body.append(body_child)
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)


def fault_response(fault: SoapFault, request_id: str | None) -> Response:
    element = ET.Element(f"{{{SOAP_ENV_NS}}}Fault")
    # SOAP 1.1 faultcode/faultstring/detail are unqualified elements.
    ET.SubElement(element, "faultcode").text = f"soap:{fault.faultcode}"
    ET.SubElement(element, "faultstring").text = str(fault)
    detail = ET.SubElement(element, "detail")
    info = ET.SubElement(detail, f"{{{INTAKE_NS}}}error")
    ET.SubElement(info, f"{{{INTAKE_NS}}}code").text = fault.code
    if request_id:
        ET.SubElement(info, f"{{{INTAKE_NS}}}requestId").text = request_id
    return Response(_envelope(element), status_code=fault.status, media_type=XML_MEDIA_TYPE)


def results_response(results: list[ItemResult]) -> Response:
    answer = ET.Element(f"{{{INTAKE_NS}}}{OPERATION}Response")
    counts = Counts.of(results)
    ET.SubElement(
        answer,
        f"{{{INTAKE_NS}}}summary",
        {k: str(v) for k, v in counts.as_dict().items()},
    )
    for result in results:
        attrs = {"index": str(result.index), "status": result.status}
        if result.event_id is not None:
            attrs["eventId"] = result.event_id
        if result.case_no is not None:
            attrs["caseNo"] = result.case_no
        item = ET.SubElement(answer, f"{{{INTAKE_NS}}}result", attrs)
        if result.note:
            ET.SubElement(item, f"{{{INTAKE_NS}}}note").text = result.note
        for error in result.errors:
            ET.SubElement(
                item, f"{{{INTAKE_NS}}}error", {"path": error["path"], "code": error["code"]}
            ).text = error["message"]
    return Response(_envelope(answer), status_code=200, media_type=XML_MEDIA_TYPE)


def soap_events(body: bytes) -> list[object]:
    """The raw events of a SOAP 1.1 ``PushCaseEvents`` request."""
    try:
        root = parse_document(body)
    except XmlRefused as exc:
        raise SoapFault(400, exc.code, str(exc)) from exc
    if local_name(root.tag) != "Envelope":
        raise SoapFault(400, "not-soap", "the document is not a SOAP envelope")
    if namespace(root.tag) != SOAP_ENV_NS:
        # SOAP 1.1 §4.4.1: a wrong envelope namespace is a VersionMismatch fault.
        raise SoapFault(
            400, "version-mismatch", "only SOAP 1.1 envelopes are accepted", "VersionMismatch"
        )
    bodies = [c for c in root if local_name(c.tag) == "Body" and namespace(c.tag) == SOAP_ENV_NS]
    if len(bodies) != 1:
        raise SoapFault(400, "not-soap", "the envelope must contain exactly one soap:Body")
    operations = [c for c in bodies[0] if local_name(c.tag)]
    if len(operations) != 1 or local_name(operations[0].tag) != OPERATION:
        raise SoapFault(422, "unknown-operation", f"the soap:Body must hold one {OPERATION}")
    try:
        return events_in(operations[0])
    except XmlRefused as exc:
        raise SoapFault(422, exc.code, str(exc)) from exc


@router.post(
    PATH,
    summary="Push 办件 events as SOAP 1.1 (app key + HMAC signature)",
    response_class=Response,
    responses={200: {"content": {"text/xml": {}}}, 401: {"content": {"text/xml": {}}}},
)
async def push_case_events_soap(request: Request, hub: HubDep) -> Response:
    body = await request.body()
    digest = sm3_hex(body)
    request_id = getattr(request.state, "request_id", None)
    claimed = (request.headers.get("x-app-key") or "unknown")[:64]
    try:
        results = await _handle(request, hub, body, digest)
    except SoapFault as fault:
        await log_call(
            hub,
            client_id=claimed,
            channel=CHANNEL,
            result="refused",
            body_digest=digest,
            detail=fault.code,
        )
        return fault_response(fault, request_id)
    return results_response(results)


async def _handle(request: Request, hub: HubDep, body: bytes, digest: str) -> list[ItemResult]:
    settings = hub.settings
    assert isinstance(settings, GatewaySettings)
    window = timedelta(seconds=settings.intake_signature_window_seconds)
    now = datetime.now(UTC)
    try:
        signed = read_headers(request.headers, now=now, window=window)
    except SignatureRefused as exc:
        raise SoapFault(exc.status, exc.code, str(exc)) from exc
    async with hub.db.sessionmaker() as session:
        client = await find_by_app_key(session, signed.app_key)
    if client is None or not client.secret_encrypted:
        raise SoapFault(401, "unknown-app-key", "the app key is not known")
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        check_signature(
            signed, secret=client_secret(client, settings), method="POST", path=path, body=body
        )
    except SignatureRefused as exc:
        raise SoapFault(exc.status, exc.code, str(exc)) from exc
    try:
        admit(client, CHANNEL)
    except ClientRefused as refused:
        raise SoapFault(403, refused.code, str(refused)) from refused
    # The body is checked BEFORE the nonce is spent: a refused body (malformed, too deep,
    # too many events) can be corrected and re-sent with the same nonce.
    events = soap_events(body)
    if len(events) > min(settings.intake_max_batch, MAX_EVENTS_PER_DOCUMENT):
        raise SoapFault(422, "too-many-events", "too many events in one request")
    # Remember the nonce until the timestamp itself could no longer pass the window.
    if not await nonces.consume(hub.db, signed.app_key, signed.nonce, signed.moment + window):
        raise SoapFault(409, "nonce-replayed", "this nonce was already used (replayed request)")
    items = normalise_all(events, source_system=client.client_id, channel=CHANNEL)
    results = await accept_call(
        hub,
        client_id=client.client_id,
        orgs=frozenset(client.orgs),
        channel=CHANNEL,
        items=items,
        body_digest=digest,
    )
    return results
