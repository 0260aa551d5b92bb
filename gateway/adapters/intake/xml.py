"""XML of the legacy channels (SOAP body, dropped ``.xml`` files), read with defusedxml.

A DOCTYPE, entity declaration or external reference is refused outright (XML bombs,
XXE); elements are matched by local name so that a source may or may not qualify them
with the intake namespace. An ``<event>`` becomes the raw nested event: an element with
children becomes an object, a leaf its text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from gateway.adapters.intake.limits import MAX_DEPTH

INTAKE_NS = "urn:ywtb-hub:intake:v1"
MAX_EVENTS_PER_DOCUMENT = 1000
# Envelope/Body/PushCaseEvents/event (or CaseEvents/event) come before an event's own levels.
MAX_DOCUMENT_DEPTH = MAX_DEPTH + 4


class XmlRefused(ValueError):
    """The document cannot be read; ``code`` says why (``unsafe-xml``, ``malformed-xml`` …)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def local_name(tag: Any) -> str:
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _deeper_than(root: ET.Element, limit: int) -> bool:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in element)
    return False


def parse_document(body: bytes) -> ET.Element:
    """Parse untrusted XML; DTDs and entities are forbidden, nesting is bounded."""
    root = _parse(body)
    # Measured without recursion: a deep document would make element_value overflow.
    if _deeper_than(root, MAX_DOCUMENT_DEPTH):
        raise XmlRefused("too-deep", f"the document nests deeper than {MAX_DOCUMENT_DEPTH} levels")
    return root


def _parse(body: bytes) -> ET.Element:
    try:
        return SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise XmlRefused(
            "unsafe-xml", "DTDs, entity declarations and external references are not accepted"
        ) from exc
    except ET.ParseError as exc:
        raise XmlRefused("malformed-xml", f"the body is not well-formed XML ({exc})") from exc
    except ValueError as exc:  # e.g. an encoding declaration Python cannot use
        raise XmlRefused("malformed-xml", "the body's encoding is not readable") from exc
    except RecursionError as exc:
        raise XmlRefused("too-deep", "the document nests too deeply") from exc


def element_value(element: ET.Element) -> Any:
    children = [child for child in element if local_name(child.tag)]
    if not children:
        return element.text
    value: dict[str, Any] = {}
    for child in children:
        value[local_name(child.tag)] = element_value(child)
    return value


def events_in(container: ET.Element, limit: int = MAX_EVENTS_PER_DOCUMENT) -> list[Any]:
    """The raw events under ``container`` (its ``<event>`` children, in order)."""
    events = [element_value(child) for child in container if local_name(child.tag) == "event"]
    if not events:
        raise XmlRefused("no-events", "the document contains no <event> element")
    if len(events) > limit:
        raise XmlRefused("too-many-events", f"at most {limit} events per document")
    return events
