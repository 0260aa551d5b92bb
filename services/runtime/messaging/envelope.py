"""CloudEvents 1.0 in Kafka binary mode: attributes as ``ce_*`` headers, data as value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

_FORMAT = JSONFormat()
KafkaHeaders = list[tuple[str, bytes]]


class MalformedEvent(ValueError):
    """A record that is not a CloudEvent this hub can read."""


@dataclass(frozen=True)
class Envelope:
    """One event as it travels: CloudEvents attributes plus JSON data."""

    id: str
    source: str
    type: str
    key: str
    data: dict[str, Any]
    subject: str | None = None
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    dataschema: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)

    def to_kafka(self) -> tuple[bytes, bytes, KafkaHeaders]:
        attributes: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "time": self.time,
            "datacontenttype": "application/json",
            "partitionkey": self.key,
        }
        if self.subject:
            attributes["subject"] = self.subject
        if self.dataschema:
            attributes["dataschema"] = self.dataschema
        attributes.update(self.extensions)
        message = ce_kafka.to_binary(CloudEvent(attributes=attributes, data=self.data), _FORMAT)
        # The SDK serialises JSON with ASCII escapes; UTF-8 keeps Chinese readable on the wire.
        value = json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [(k, v) for k, v in message.headers.items()]
        return self.key.encode(), value, headers

    @classmethod
    def from_kafka(cls, key: bytes | None, value: bytes | None, headers: KafkaHeaders) -> Envelope:
        header_map = {k: v for k, v in headers if v is not None}
        if "ce_id" not in header_map or "ce_type" not in header_map:
            raise MalformedEvent("record has no CloudEvents ce_id/ce_type headers")
        try:
            event = ce_kafka.from_binary(
                ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b""), _FORMAT
            )
        except Exception as exc:  # the SDK raises several types for bad attributes
            raise MalformedEvent(f"unreadable CloudEvent: {exc}") from exc
        data = event.get_data()
        if isinstance(data, bytes | str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise MalformedEvent("event data is not JSON") from exc
        if not isinstance(data, dict):
            raise MalformedEvent("event data must be a JSON object")
        attrs = event.get_attributes()
        known = {
            "id",
            "source",
            "type",
            "time",
            "datacontenttype",
            "partitionkey",
            "subject",
            "dataschema",
            "specversion",
        }
        time = attrs.get("time") or datetime.now(UTC)
        return cls(
            id=str(attrs["id"]),
            source=str(attrs["source"]),
            type=str(attrs["type"]),
            key=(key.decode() if key else str(attrs.get("partitionkey") or "")),
            data=data,
            subject=attrs.get("subject"),
            time=time.astimezone(UTC),
            dataschema=attrs.get("dataschema"),
            extensions={k: str(v) for k, v in attrs.items() if k not in known},
        )
