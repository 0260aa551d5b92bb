"""Per-org SM2 keys and the 电子印章 record: generated on first use, rotated, published.

Private keys are encrypted with the runtime PII cipher (context bound to the key id) and
are decrypted only to sign. Retired keys stay published with their validity, so versions
signed before a rotation still verify."""

from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw
from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.domain.signing import key_id
from services.certs.domain.status_list import MIN_ENTRIES, StatusPurpose
from services.certs.service.context import CertsContext
from services.certs.store import repository as repo
from services.certs.store.tables import IssuerKeyRow, IssuerRow, StatusListRow
from services.runtime.crypto import generate_sm2_keypair
from services.runtime.problems import Problem


@dataclass(frozen=True)
class SigningKey:
    kid: str
    public_pem: str
    private_pem: str


def _key_context(kid: str) -> str:
    return f"certs-issuer-key:{kid}"


def seal_image(size: int = 240) -> bytes:
    """A generated seal picture (red ring and star) as PNG; the signature is what binds."""
    img = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    red = (200, 16, 32, 255)
    draw.ellipse((6, 6, size - 6, size - 6), outline=red, width=10)
    c, r = size / 2, size / 6
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.4
        angle = -90 + i * 36
        points.append(
            (
                c + radius * math.cos(math.radians(angle)),
                c + radius * math.sin(math.radians(angle)),
            )
        )
    draw.polygon(points, fill=red)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


async def _new_key(
    ctx: CertsContext, session: AsyncSession, issuer: IssuerRow, now: dt.datetime
) -> IssuerKeyRow:
    private_pem, public_pem = generate_sm2_keypair()
    kid = key_id(public_pem).hex()
    row = IssuerKeyRow(
        kid=kid,
        org_uscc=issuer.uscc,
        public_pem=public_pem.decode("ascii"),
        private_enc=ctx.cipher.encrypt(private_pem.decode("ascii"), context=_key_context(kid)),
        valid_from=now,
        valid_until=now + dt.timedelta(days=ctx.settings.certs_key_validity_days),
        retired_at=None,
        created_at=now,
    )
    session.add(row)
    issuer.current_kid = kid
    # SES_SealInfo: the seal's key and validity follow the signing key.
    issuer.seal_valid_from = row.valid_from
    issuer.seal_valid_until = row.valid_until
    await session.flush()
    return row


async def issuer_for_signing(
    ctx: CertsContext, session: AsyncSession, uscc: str, now: dt.datetime
) -> tuple[IssuerRow, SigningKey]:
    """The issuer row (locked) and its current signing key, created on first use."""
    issuer = await repo.lock_issuer(session, uscc)
    if issuer is None:
        name = ctx.issuer_name(uscc)
        await repo.insert_if_absent(
            session,
            IssuerRow(
                uscc=uscc,
                name=name,
                seal_name=f"{name}电子证照专用章",
                seal_image_png=seal_image(),
                created_at=now,
            ),
        )
        for purpose in StatusPurpose:
            await repo.insert_if_absent(
                session,
                StatusListRow(
                    issuer_uscc=uscc,
                    purpose=str(purpose),
                    size=MIN_ENTRIES,
                    used=0,
                    bits=bytes(MIN_ENTRIES // 8),
                    updated_at=now,
                ),
            )
        issuer = await repo.lock_issuer(session, uscc)
        assert issuer is not None
    key = await repo.get_key(session, issuer.current_kid) if issuer.current_kid else None
    if key is None or key.valid_until <= now or key.retired_at is not None:
        if key is not None and key.retired_at is None:
            key.retired_at = now
        key = await _new_key(ctx, session, issuer, now)
    return issuer, signing_key(ctx, key)


def signing_key(ctx: CertsContext, key: IssuerKeyRow) -> SigningKey:
    private = ctx.cipher.decrypt(key.private_enc, context=_key_context(key.kid))
    return SigningKey(kid=key.kid, public_pem=key.public_pem, private_pem=private)


async def rotate(
    ctx: CertsContext, session: AsyncSession, uscc: str, now: dt.datetime
) -> IssuerKeyRow:
    """Retire the current key (it stays published until its validity ends) and make a new one."""
    issuer, current = await issuer_for_signing(ctx, session, uscc, now)
    old = await repo.get_key(session, current.kid)
    if old is not None and old.created_at < now:
        old.retired_at = now
    elif old is not None:  # created by this very call: nothing to rotate away from
        return old
    return await _new_key(ctx, session, issuer, now)


async def public_key(session: AsyncSession, uscc: str, kid: str) -> str | None:
    key = await repo.get_key(session, kid)
    return key.public_pem if key is not None and key.org_uscc == uscc else None


async def require_issuer(session: AsyncSession, uscc: str) -> IssuerRow:
    issuer = await repo.get_issuer(session, uscc)
    if issuer is None:
        raise Problem(404, "this org has issued no certificate", code="not-found")
    return issuer
