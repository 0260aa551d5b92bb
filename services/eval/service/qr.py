"""二维码评价: a signed one-time code for one 办件, printed on the window receipt.

The code lets whoever holds the receipt rate that 办件 once on channel ``qr`` without
logging in (the rating is the applicant's, anonymous: no contact). The code is
``E1.<办件编号>.<nonce>.<signature>``; the signature is the PII cipher's keyed index
(HMAC) of the rest, so a code cannot be made up, and the nonce row is marked used in the
rating's transaction, so it works once and never again."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from services.eval.domain.rating import Channel, RatingError, check_rating
from services.eval.events import facts
from services.eval.service import rating
from services.eval.service.context import EvalContext
from services.eval.service.handling import HANDLER_ROLES
from services.eval.store import repository as repo
from services.eval.store.tables import QrCodeRow
from services.runtime.auth import Principal
from services.runtime.db import Database, utcnow
from services.runtime.problems import Problem

PREFIX = "E1"
QR_ROLES = HANDLER_ROLES | {"eval-window"}


def _signature(ctx: EvalContext, case_no: str, nonce: str) -> str:
    return ctx.cipher.blind_index(f"{PREFIX}.{case_no}.{nonce}", scope="eval-qr")


def _parse(ctx: EvalContext, code: str) -> tuple[str, str]:
    parts = code.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise Problem(404, "no such evaluation code", code="not-found")
    _, case_no, nonce, sig = parts
    if not hmac.compare_digest(sig, _signature(ctx, case_no, nonce)):
        raise Problem(404, "no such evaluation code", code="not-found")
    return case_no, nonce


async def issue(
    ctx: EvalContext, db: Database, principal: Principal, case_no: str
) -> dict[str, Any]:
    """A new code for a 办件 of the caller's org (window staff print it on the receipt)."""
    if not principal.roles & QR_ROLES:
        raise Problem(
            403, "needs role eval-window, eval-handler or eval-rectifier", code="forbidden"
        )
    now = utcnow()
    async with db.transaction() as session:
        inv = await repo.invitation(session, case_no)
        if inv is None or inv.org_uscc != principal.uscc:
            raise Problem(404, "no 办件 of your org with that number", code="not-found")
        if inv.window_closed_at is not None or now >= inv.default_due_at:
            raise Problem(409, "the rating window of this 办件 has closed", code="window-closed")
        nonce = secrets.token_hex(16)
        session.add(
            QrCodeRow(nonce=nonce, case_no=case_no, issued_by=principal.subject, issued_at=now)
        )
        until = inv.default_due_at
    return {
        "case_no": case_no,
        "code": f"{PREFIX}.{case_no}.{nonce}.{_signature(ctx, case_no, nonce)}",
        "valid_until": until,
    }


async def rate(
    ctx: EvalContext,
    db: Database,
    code: str,
    level: int,
    indicators: Mapping[str, int],
    categories: Sequence[str],
    comment: str | None,
) -> Any:
    case_no, nonce = _parse(ctx, code)
    try:
        lvl = check_rating(Channel.QR, level, indicators, categories, comment)
    except RatingError as exc:
        raise Problem(422, exc.detail, code=exc.code) from None
    now = utcnow()
    async with db.transaction() as session:
        row = await repo.qr_code(session, nonce, lock=True)
        if row is None or row.case_no != case_no:
            raise Problem(404, "no such evaluation code", code="not-found")
        if row.used_at is not None:
            raise Problem(409, "this code has been used", code="code-used")
        inv = await repo.invitation(session, case_no, lock=True)
        assert inv is not None
        if inv.window_closed_at is not None or now >= inv.default_due_at:
            raise Problem(409, "the rating window of this 办件 has closed", code="window-closed")
        if str(Channel.QR) in (await repo.channels_rated(session, [case_no])).get(case_no, []):
            raise Problem(409, "this 办件 is already rated on that channel", code="already-rated")
        ev = rating.new_evaluation(
            inv,
            str(Channel.QR),
            int(lvl),
            now,
            indicators=indicators,
            categories=categories,
            comment=(comment or "").strip() or None,
        )
        # The applicant's rating (the receipt is theirs), anonymous: no contact is known.
        ev.evaluator_kind, ev.evaluator_ref = inv.applicant_kind, inv.applicant_ref
        ev.evaluator_sub = "qr"
        session.add(ev)
        row.used_at, row.evaluation_id = now, ev.id
        await session.flush()
        await facts.submitted(ctx.publish, session, ev)
        if ev.is_bad:
            await rating.open_rectification(ctx, session, ev, now)
    return ev
