"""Operator CLI of the identity service (mounted by the lead as ``hub clients …`` /
``hub users …``). Writes to ``HUB_DATABASE_URL`` or the default SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from services.identity import accounts, clients
from services.identity.clients import ClientSpec
from services.identity.core import IdentityCore, build_core
from services.identity.events import audit
from services.identity.settings import IdentitySettings
from services.identity.store import repo
from services.identity.store.tables import StaffMember
from services.runtime.db import Database
from services.runtime.messaging import Messaging
from services.runtime.problems import Problem

app = typer.Typer(help="统一身份认证: OAuth clients and user accounts", no_args_is_help=True)
clients_app = typer.Typer(help="OAuth clients", no_args_is_help=True)
users_app = typer.Typer(help="user accounts", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(users_app, name="users")
T = TypeVar("T")


def _run(work: Callable[[IdentityCore], Awaitable[T]], database_url: str | None = None) -> T:
    settings = IdentitySettings(**({"database_url": database_url} if database_url else {}))

    async def main() -> T:
        db = Database(settings.resolved_database_url())
        try:
            # Events (role changes) go to the outbox; the running service relays them.
            return await work(build_core(settings, db, Messaging(settings, db)))
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except Problem as exc:
        typer.echo(
            json.dumps({"error": exc.code, "detail": exc.detail}, ensure_ascii=False), err=True
        )
        raise typer.Exit(2) from exc


@clients_app.command("create")
def create_client(
    name: Annotated[str, typer.Option(help="display name")],
    grant: Annotated[list[str], typer.Option(help="grant type; repeat for several")],
    scope: Annotated[str, typer.Option(help="space-separated scopes")] = "",
    redirect_uri: Annotated[list[str] | None, typer.Option(help="exact redirect URI")] = None,
    public: Annotated[bool, typer.Option(help="public client (PKCE, no secret)")] = False,
    access_token_lifetime: Annotated[int | None, typer.Option()] = None,
    introspect: Annotated[bool, typer.Option(help="may introspect any token")] = False,
) -> None:
    """Register a client; prints JSON with client_id and client_secret (shown once)."""

    async def work(core: IdentityCore) -> dict[str, Any]:
        async with core.db.transaction() as session:
            row, secret = await clients.create_client(
                session,
                ClientSpec(
                    name=name,
                    grant_types=grant,
                    scopes=scope.split(),
                    public=public,
                    redirect_uris=redirect_uri or [],
                    access_token_lifetime=access_token_lifetime,
                    can_introspect=introspect,
                ),
            )
            return {**clients.describe(row), "client_secret": secret}

    typer.echo(json.dumps(_run(work), ensure_ascii=False))


@clients_app.command("disable")
def disable_client(
    client_id: Annotated[str, typer.Argument(help="the client to disable")],
    enable: Annotated[bool, typer.Option(help="re-enable instead")] = False,
) -> None:
    """Disable a client: no new tokens, and its existing tokens become inactive at once."""

    async def work(core: IdentityCore) -> dict[str, Any]:
        async with core.db.transaction() as session:
            return clients.describe(await clients.set_disabled(session, client_id, not enable))

    typer.echo(json.dumps(_run(work), ensure_ascii=False))


@users_app.command("create")
def create_user(
    type_: Annotated[str, typer.Option("--type", help="natural | legal | staff")],
    name: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option()],
    id_number: Annotated[str | None, typer.Option(help="公民身份号码 (natural)")] = None,
    uscc: Annotated[str | None, typer.Option(help="统一社会信用代码 (legal; staff org)")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    username: Annotated[str | None, typer.Option(help="account name (staff: required)")] = None,
    level: Annotated[
        str | None,
        typer.Option(help="L2..L5; L3+ = the operator vouches for the identity (default L2)"),
    ] = None,
    role: Annotated[list[str] | None, typer.Option(help="staff role; repeat")] = None,
    division: Annotated[str | None, typer.Option(help="行政区划代码 (staff)")] = None,
    department: Annotated[str | None, typer.Option(help="department (staff)")] = None,
) -> None:
    """Create an account; prints JSON with its subject id (ID numbers masked)."""

    async def work(core: IdentityCore) -> dict[str, Any]:
        async with core.db.transaction() as session:
            if type_ == "natural":
                if not id_number:
                    raise Problem(422, "--id-number is required for natural persons")
                acc = await accounts.create_natural(
                    session,
                    core,
                    id_number=id_number,
                    name=name,
                    password=password,
                    phone=phone,
                    level=level or "L2",
                    username=username,
                )
            elif type_ == "legal":
                if not uscc:
                    raise Problem(422, "--uscc is required for legal persons")
                acc = await accounts.create_legal(
                    session, core, uscc=uscc, name=name, password=password, level=level or "L2"
                )
            elif type_ == "staff":
                if not (uscc and username):
                    raise Problem(422, "--uscc (org) and --username are required for staff")
                acc = await accounts.create_staff(
                    session,
                    core,
                    username=username,
                    name=name,
                    password=password,
                    org_uscc=uscc,
                    department=department,
                    division=division,
                    roles=role or [],
                    level=level or "L2",
                )
            else:
                raise Problem(422, "--type must be natural, legal or staff")
            subject = await accounts.subject_of(session, core, acc)
            return {
                "sub": acc.id,
                "sub_type": acc.kind,
                "level": acc.level,
                "id_number": subject.id_no_masked,
                "uscc": subject.uscc,
            }

    typer.echo(json.dumps(_run(work), ensure_ascii=False))


@users_app.command("roles")
def set_roles(
    username: Annotated[str, typer.Option(help="staff account name")],
    role: Annotated[list[str] | None, typer.Option(help="role; repeat (none = no roles)")] = None,
) -> None:
    """Replace a staff member's roles, any role included (``identity-superadmin`` is granted
    only here, never through the API). Audited on hub.identity with by = "cli"."""

    async def work(core: IdentityCore) -> dict[str, Any]:
        roles = sorted(set(role or []))
        accounts.check_roles(roles)
        async with core.db.transaction() as session:
            acc = await repo.account_by_username(session, username)
            member = await session.get(StaffMember, acc.id) if acc is not None else None
            if acc is None or member is None:
                raise Problem(404, "no staff member with this account name")
            before = sorted(member.roles or [])
            member.roles = roles
            await audit.staff_changed(
                session,
                core,
                change="roles-changed",
                sub=acc.id,
                org_uscc=member.org_uscc,
                by="cli",
                roles=roles,
                roles_before=before,
            )
            return {"sub": acc.id, "roles": roles, "roles_before": before}

    typer.echo(json.dumps(_run(work), ensure_ascii=False))


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Start signing with a new key (the old one stays published until its tokens expire)."""

    async def work(core: IdentityCore) -> str:
        await core.keys.ensure()
        return await core.keys.rotate()

    typer.echo(json.dumps({"kid": _run(work)}))
