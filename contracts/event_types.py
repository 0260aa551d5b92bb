"""The names on the bus: every topic and CloudEvents ``type`` the hub publishes.

Producers and consumers import these instead of writing the strings, so a renamed event
is one edit and a typo is an ``AttributeError`` at import time. A test checks that this
module and the schemas under ``contracts/events`` name exactly the same types and topics.
"""

from __future__ import annotations

from typing import Final

# Topics (one per owning service; the key is the aggregate id, so order holds per aggregate)
CASES_TOPIC: Final = "hub.cases"
MATTERS_TOPIC: Final = "hub.matters"
CERTS_TOPIC: Final = "hub.certs"
EVALS_TOPIC: Final = "hub.evals"
IDENTITY_TOPIC: Final = "hub.identity"

# 办件 (cases): the county's event as received, and the facts cases derives from it
CASE_EVENT_RECEIVED: Final = "hub.case.event.received"
CASE_STATE_CHANGED: Final = "hub.case.state.changed"
CASE_ACCEPTED: Final = "hub.case.accepted"
CASE_CONCLUDED: Final = "hub.case.concluded"
CASE_WARNING: Final = "hub.case.warning"

# 事项目录 (matters) and the working-day calendar it owns
MATTER_PUBLISHED: Final = "hub.matter.published"
MATTER_WITHDRAWN: Final = "hub.matter.withdrawn"
CALENDAR_YEAR_LOADED: Final = "hub.calendar.year_loaded"

# 电子证照 (certs)
CERT_ISSUED: Final = "hub.cert.issued"
CERT_CHANGED: Final = "hub.cert.changed"
CERT_STATUS_CHANGED: Final = "hub.cert.status_changed"
CERT_USED: Final = "hub.cert.used"

# 好差评 (eval)
EVAL_SUBMITTED: Final = "hub.eval.submitted"
EVAL_RECTIFICATION_CHANGED: Final = "hub.eval.rectification_changed"

# 统一身份认证 (identity): audit facts
IDENTITY_AUTHORIZATION_GRANTED: Final = "hub.identity.authorization.granted"
IDENTITY_AUTHORIZATION_REVOKED: Final = "hub.identity.authorization.revoked"
IDENTITY_LOGIN_SUCCEEDED: Final = "hub.identity.login.succeeded"
IDENTITY_LOGIN_FAILED: Final = "hub.identity.login.failed"
IDENTITY_ACCOUNT_LOCKED: Final = "hub.identity.account.locked"
IDENTITY_STAFF_CREATED: Final = "hub.identity.staff.created"
IDENTITY_STAFF_ROLES_CHANGED: Final = "hub.identity.staff.roles-changed"
IDENTITY_STAFF_VERIFIED: Final = "hub.identity.staff.verified"


def all_topics() -> set[str]:
    return {v for k, v in globals().items() if k.endswith("_TOPIC")}


def all_event_types() -> set[str]:
    return {
        v
        for k, v in globals().items()
        if k.isupper() and not k.endswith("_TOPIC") and isinstance(v, str)
    }
