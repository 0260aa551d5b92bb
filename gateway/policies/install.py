"""Wires the front door into the gateway app (called by :func:`gateway.app.create_app`)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware import Middleware

from gateway.policies.counters import counters_for
from gateway.policies.idempotency import IdempotencyStore, RedisIdempotencyStore
from gateway.policies.middleware import EdgeMiddleware, Policies, PolicyMiddleware
from gateway.settings import GatewaySettings
from gateway.store.idempotency import DatabaseIdempotencyStore
from services.runtime.app import Hub
from services.runtime.auth import TokenVerifier


def install_front_door(app: FastAPI, settings: GatewaySettings) -> Policies:
    hub: Hub = app.state.hub
    counters = counters_for(settings.redis_url, settings.redis_key_prefix + "fd:")
    store: IdempotencyStore
    if settings.redis_url:
        redis_store = RedisIdempotencyStore(settings.redis_url, settings.redis_key_prefix + "idem:")
        store = redis_store

        async def close_store(_hub: Hub) -> None:
            await redis_store.close()

        hub.on_shutdown.append(close_store)
    else:
        # Redis expires its keys itself; database rows are purged once past their expiry
        # by the runtime's retention job (gateway/store/retention.py).
        store = DatabaseIdempotencyStore(hub.db)

    async def close_counters(_hub: Hub) -> None:
        await counters.close()

    hub.on_shutdown.append(close_counters)

    def verifier() -> TokenVerifier | None:
        return hub.extras.get("token_verifier")

    policies = Policies(
        settings=settings,
        counters=counters,
        idempotency=store,
        verifier=verifier,
        lock_seconds=settings.upstream_timeout + settings.request_body_timeout + 5,
    )
    # Innermost of the user middleware: inside request ids and the body limit.
    app.user_middleware.append(Middleware(PolicyMiddleware, policies=policies))
    # Outermost: every answer, even a 413 or a 500, gets the security headers.
    app.add_middleware(EdgeMiddleware, settings=settings)
    return policies
