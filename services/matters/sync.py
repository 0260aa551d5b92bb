"""Provincial sync (省级事项目录同步): pull the change feed through the gateway adapter.

Incremental by cursor; every change is applied in its own transaction together with the
cursor that follows it, so a crash loses nothing and applies nothing twice (the
per-item ``province_seq`` also makes a replayed change a no-op). Each change that alters
an item is a new version. City refinements (二次统筹) survive a provincial update; when
the province changes a field the city refined, the city value is kept and the conflict
is reported to operators (``sync_issues``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.matters import catalog
from services.matters.catalog import Actor
from services.matters.domain.access import SECONDARY_FIELDS
from services.matters.domain.diff import field_diff
from services.matters.domain.elements import ContentError, parse_content
from services.matters.domain.gate import missing_elements
from services.matters.store import repository as repo
from services.matters.store.tables import BaseItem, BaseItemVersion, Matter, SyncIssue
from services.runtime.app import Hub
from services.runtime.db import utcnow
from services.runtime.identifiers import InvalidIdentifier, validate_base_code
from services.runtime.problems import Problem

log = logging.getLogger("hub.matters.sync")

FEED = "province-catalog"
PROVINCE = Actor(subject="province-sync", kind="province")

TokenProvider = Callable[[], Awaitable[str]]
AppliedHook = Callable[[dict[str, Any]], Awaitable[None]]


class FeedUnavailable(Exception):
    """The provincial feed could not be read (network, gateway or province error)."""


@dataclass
class FeedPage:
    changes: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool


class FeedClient:
    """Reads the feed from the gateway adapter with a bearer token."""

    def __init__(
        self,
        url: str,
        token: TokenProvider | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.url = url
        self.token = token
        self.http = http
        self.timeout = timeout

    async def fetch(self, since: str | None, limit: int) -> FeedPage:
        params: dict[str, Any] = {"limit": limit}
        if since:
            params["since"] = since
        headers = {"Authorization": f"Bearer {await self.token()}"} if self.token else {}
        client = self.http or httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await client.get(self.url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise FeedUnavailable(f"feed unreachable: {type(exc).__name__}") from exc
        finally:
            if self.http is None:
                await client.aclose()
        if response.status_code != 200:
            detail = _problem_detail(response)
            raise FeedUnavailable(f"feed answered {response.status_code}: {detail}")
        try:
            body = response.json()
            changes = body["changes"]
            if not isinstance(changes, list):
                raise TypeError("changes is not a list")
            return FeedPage(changes, body.get("next_cursor"), bool(body.get("has_more")))
        except (ValueError, KeyError, TypeError) as exc:
            raise FeedUnavailable(f"feed page is malformed: {exc}") from exc


def _problem_detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:300]
    except ValueError:
        return response.text[:300]


def client_credentials(
    token_url: str, client_id: str, client_secret: str, scope: str
) -> TokenProvider:
    """A token provider using the OAuth client-credentials grant, cached until expiry."""
    cache: dict[str, Any] = {"token": None, "expires": 0.0}

    async def provide() -> str:
        if cache["token"] and time.monotonic() < cache["expires"] - 30:
            return str(cache["token"])
        async with httpx.AsyncClient(timeout=10) as client:
            try:
                response = await client.post(
                    token_url,
                    data={"grant_type": "client_credentials", "scope": scope},
                    auth=(client_id, client_secret),
                )
                response.raise_for_status()
                body = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise FeedUnavailable(f"cannot get a token: {exc}") from exc
        cache["token"] = body["access_token"]
        cache["expires"] = time.monotonic() + float(body.get("expires_in", 300))
        return str(cache["token"])

    return provide


def client_from_settings(hub: Hub) -> FeedClient:
    s = hub.settings
    token = None
    if getattr(s, "matters_province_token_url", ""):
        token = client_credentials(
            s.matters_province_token_url,  # type: ignore[attr-defined]
            s.matters_province_client_id,  # type: ignore[attr-defined]
            s.matters_province_client_secret,  # type: ignore[attr-defined]
            s.matters_province_scope,  # type: ignore[attr-defined]
        )
    return FeedClient(s.matters_province_feed_url, token)  # type: ignore[attr-defined]


@dataclass
class SyncReport:
    counts: Counter[str] = field(default_factory=Counter)
    cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cursor": self.cursor, **{k: self.counts[k] for k in sorted(self.counts)}}


async def sync_once(
    hub: Hub,
    client: FeedClient,
    *,
    page_size: int | None = None,
    on_applied: AppliedHook | None = None,
) -> SyncReport:
    """Read the feed from the stored cursor to its end; one transaction per change.

    ``on_applied`` runs inside each change's transaction after it is applied (a test seam
    to simulate a crash before the commit).
    """
    lock: asyncio.Lock = hub.extras.setdefault("sync_lock", asyncio.Lock())
    size = page_size or int(getattr(hub.settings, "matters_sync_page_size", 100))
    report = SyncReport()
    async with lock:
        async with hub.db.transaction() as session:
            cursor = (await repo.get_sync_state(session, FEED)).cursor
        while True:
            page = await client.fetch(cursor, size)
            for change in page.changes:
                async with hub.db.transaction() as session:
                    outcome = await apply_change(hub, session, change)
                    state = await repo.get_sync_state(session, FEED)
                    state.cursor = str(change.get("cursor") or "")
                    state.applied += 1
                    state.updated_at = utcnow()
                    if on_applied is not None:
                        await on_applied(change)
                cursor = state.cursor
                report.counts[outcome] += 1
            if page.next_cursor and page.next_cursor != cursor and not page.changes:
                cursor = page.next_cursor
            if not page.has_more or not page.changes:
                break
    report.cursor = cursor
    return report


async def apply_change(hub: Hub, session: AsyncSession, change: Any) -> str:
    """Apply one feed entry; anything unusable is recorded as a rejected issue, never lost."""
    if not isinstance(change, dict):
        return await _reject(session, {"code": "?", "change_id": "?"}, "change is not an object")
    kind, op = change.get("kind"), change.get("op")
    try:
        seq = int(change.get("seq"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return await _reject(session, change, "change has no integer seq")
    if kind == "base_item" and op == "upsert":
        return await _apply_base_item(hub, session, change)
    if kind == "implementation_item" and op in ("upsert", "withdraw"):
        return await _apply_item(hub, session, change, op, seq)
    return await _reject(session, change, f"unknown change kind/op {kind!r}/{op!r}")


async def _reject(session: AsyncSession, change: dict[str, Any], detail: str) -> str:
    session.add(
        SyncIssue(
            kind="rejected",
            code=str(change.get("code") or "?")[:40],
            change_id=str(change.get("change_id") or change.get("seq") or "?")[:100],
            province_new=change.get("data") if isinstance(change.get("data"), dict) else None,
            detail=detail[:2000],
        )
    )
    return "rejected"


async def _apply_base_item(hub: Hub, session: AsyncSession, change: dict[str, Any]) -> str:
    data = change.get("data")
    pattern = str(getattr(hub.settings, "matters_base_code_pattern", r"^[0-9A-Z]{10,14}$"))
    try:
        code = validate_base_code(str(change.get("code")), pattern)
    except InvalidIdentifier as exc:
        return await _reject(session, change, f"基本编码 is not valid: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        return await _reject(session, change, "base item needs data.name")
    content = {
        "name": data["name"][:200],
        "matter_type": data.get("matter_type"),
        "level": data.get("level"),
        "legal_basis": data.get("legal_basis") or [],
    }
    item = await repo.get_base_item(session, code)
    old = None
    if item is None:
        item = BaseItem(base_code=code, origin="province", version=0, **content)
        session.add(item)
    else:
        old = {k: getattr(item, k) for k in content}
        if old == content:
            return "unchanged"
        for key, value in content.items():
            setattr(item, key, value)
    item.version += 1
    item.updated_at = utcnow()
    await session.flush()
    session.add(
        BaseItemVersion(
            base_code=code,
            version=item.version,
            content=content,
            diff=field_diff(old, content),
            source="province",
        )
    )
    return "base_item"


async def _apply_item(
    hub: Hub, session: AsyncSession, change: dict[str, Any], op: str, seq: int
) -> str:
    try:
        code = catalog.check_code(str(change.get("code")))
    except Problem as exc:
        return await _reject(session, change, exc.detail)
    matter = await repo.get_matter(session, code.code, lock=True)
    if matter is not None and matter.province_seq is not None and seq <= matter.province_seq:
        return "duplicate"  # replayed or out-of-date change
    if op == "withdraw":
        if matter is None or matter.published_version is None or matter.withdrawn:
            if matter is not None:
                matter.province_seq = seq
            return "unchanged"
        matter.province_seq = seq
        await catalog.withdraw_in(hub, session, matter, PROVINCE, "省级目录撤销")
        return "withdrawn"
    try:
        new = catalog.check_content(
            change.get("data") if isinstance(change.get("data"), dict) else {},
            code,
            str(getattr(hub.settings, "matters_base_code_pattern", r"^[0-9A-Z]{10,14}$")),
        ).dump()
    except Problem as exc:
        errors = exc.extensions.get("errors") or []
        return await _reject(session, change, f"{exc.detail} {errors}"[:2000])
    if matter is None:
        division = new.get("division_code")
        if not division:
            return await _reject(session, change, "implementation item needs division_code")
        matter = Matter(
            implementation_code=code.code,
            org_uscc=code.uscc,
            division_code=division,
            base_code=new.get("base_code"),
            origin="province",
            head_version=0,
        )
        session.add(matter)
        await session.flush()
    current: dict[str, Any] = {}
    if matter.published_version is not None:
        published = await repo.get_version(
            session, matter.implementation_code, matter.published_version
        )
        current = dict(published.content) if published is not None else {}
    snapshot = matter.province_snapshot or {}
    overrides = {
        f: current[f]
        for f in SECONDARY_FIELDS
        if f in current and current.get(f) != snapshot.get(f) and current.get(f) is not None
    }
    merged = {**new, **overrides}
    try:
        merged = parse_content(merged).dump()
    except ContentError:
        # The city's values no longer fit the new provincial data (e.g. 承诺 > 法定):
        # the province wins and every refined field is reported.
        for f in overrides:
            _conflict(
                session,
                change,
                code.code,
                f,
                current[f],
                snapshot.get(f),
                new.get(f),
                "city value does not fit the new provincial data; provincial value applied",
            )
        merged, overrides = new, {}
    for f, local in overrides.items():
        if new.get(f) != snapshot.get(f) and new.get(f) != local:
            _conflict(
                session,
                change,
                code.code,
                f,
                local,
                snapshot.get(f),
                new.get(f),
                "province changed a field the city refined (二次统筹); city value kept",
            )
    matter.origin = "province"
    matter.province_snapshot = new
    matter.province_seq = seq
    if merged == current and not matter.withdrawn:
        return "unchanged"
    version = await catalog.add_version(
        session,
        matter,
        merged,
        current or None,
        PROVINCE,
        note=f"省级同步 {change.get('change_id')}",
    )
    if missing_elements(parse_content(merged)):
        # Kept as a draft for the city to complete; the item stays as it was.
        return "incomplete"
    await catalog.publish_version(hub, session, matter, version, PROVINCE)
    return "published"


def _conflict(
    session: AsyncSession,
    change: dict[str, Any],
    code: str,
    field_name: str,
    local: Any,
    old: Any,
    new: Any,
    detail: str,
) -> None:
    session.add(
        SyncIssue(
            kind="conflict",
            code=code,
            change_id=str(change.get("change_id") or change.get("seq"))[:100],
            field=field_name,
            local_value=local,
            province_old=old,
            province_new=new,
            detail=detail,
        )
    )


def install_background_sync(hub: Hub) -> None:
    """When ``matters_sync_interval`` > 0, sync in the background while the app runs."""
    interval = float(getattr(hub.settings, "matters_sync_interval", 0) or 0)
    if interval <= 0:
        return

    client = client_from_settings(hub)

    async def step() -> None:
        report = await sync_once(hub, client)
        if report.counts:
            log.info("provincial sync: %s", report.to_dict())

    hub.background.every("province-sync", step, interval)
