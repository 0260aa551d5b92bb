"""Identity benchmarks: client-credentials tokens per second, JWT verifications per
second in the shared verifier (against a raw joserfc decode as reference), and the cost
of an argon2 password check with the production parameters."""

from __future__ import annotations

import asyncio
import time

from joserfc import jwt
from joserfc.jwk import KeySet

from services.identity.secrets import password_hasher, verify_password
from services.identity.settings import IdentitySettings
from services.runtime.auth import TokenVerifier
from tests.identity.support import ISSUER, identity_env
from tests.perf.conftest import record, write_doc_section

N_TOKENS = 400
N_VERIFY = 3_000
N_ARGON = 20


async def test_bench_identity(pg) -> None:
    url = await pg.create("identity_bench")
    async with identity_env(url) as env:
        auth = ("county", env.secrets["county"])
        data = {"grant_type": "client_credentials", "scope": "cases:push"}
        for _ in range(10):  # warm-up
            await env.http.post(f"{ISSUER}/token", auth=auth, data=data)
        t0 = time.perf_counter()
        for _ in range(N_TOKENS):
            r = await env.http.post(f"{ISSUER}/token", auth=auth, data=data)
            assert r.status_code == 200
        seq_rate = N_TOKENS / (time.perf_counter() - t0)

        async def worker(n: int) -> None:
            for _ in range(n):
                assert (
                    await env.http.post(f"{ISSUER}/token", auth=auth, data=data)
                ).status_code == 200

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(N_TOKENS // 8) for _ in range(8)))
        par_rate = N_TOKENS / (time.perf_counter() - t0)

        token = r.json()["access_token"]
        jwks = env.core.keys.jwks
    verifier = TokenVerifier(issuer=ISSUER, audience="ywtb-hub", jwks=jwks)
    await verifier.verify(token)
    t0 = time.perf_counter()
    for _ in range(N_VERIFY):
        await verifier.verify(token)
    shared_rate = N_VERIFY / (time.perf_counter() - t0)
    keys = KeySet.import_key_set(jwks)
    t0 = time.perf_counter()
    for _ in range(N_VERIFY):
        jwt.decode(token, keys, algorithms=["ES256"])
    raw_rate = N_VERIFY / (time.perf_counter() - t0)

    prod = IdentitySettings()
    hasher = password_hasher(prod)
    stored = hasher.hash("correct horse battery")
    t0 = time.perf_counter()
    for _ in range(N_ARGON):
        assert verify_password(hasher, stored, "correct horse battery")
    argon_ms = (time.perf_counter() - t0) / N_ARGON * 1000

    figures = {
        "client_credentials_tokens_per_s_sequential": round(seq_rate),
        "client_credentials_tokens_per_s_8_concurrent": round(par_rate),
        "shared_verifier_verifications_per_s": round(shared_rate),
        "raw_joserfc_decode_per_s": round(raw_rate),
        "argon2_verify_ms": round(argon_ms, 1),
        "argon2_params": f"argon2id m={prod.identity_argon2_memory_kib} KiB, "
        f"t={prod.identity_argon2_time_cost}, p={prod.identity_argon2_parallelism}",
    }
    record("identity", figures)
    assert shared_rate > raw_rate * 0.5, "the shared verifier should cost little over a decode"
    _write_doc(figures)


def _write_doc(f: dict[str, object]) -> None:
    seq = f["client_credentials_tokens_per_s_sequential"]
    par = f["client_credentials_tokens_per_s_8_concurrent"]
    shared, raw = f["shared_verifier_verifications_per_s"], f["raw_joserfc_decode_per_s"]
    section = (
        "## Identity\n\n"
        "`tests/perf/bench_identity.py`, in-process app (ASGI) on PostgreSQL, one process.\n\n"
        "| measure | figure |\n|---|---|\n"
        f"| client-credentials tokens issued, sequential | {seq}/s |\n"
        f"| client-credentials tokens, 8 concurrent callers | {par}/s |\n"
        f"| ES256 JWT verifications, shared verifier (cached JWKS, iss/aud/exp) | {shared}/s |\n"
        f"| reference: raw joserfc `jwt.decode` (signature only) | {raw}/s |\n"
        f"| password check ({f['argon2_params']}) | {f['argon2_verify_ms']} ms |\n\n"
        "Each issued token is a signed JWT plus a row in `tokens` (for revocation and "
        "introspection) in one transaction; authlib runs in a worker thread (see "
        "`services/identity/oauth.py`). argon2id parameters follow OWASP's baseline for "
        "interactive logins (19 MiB, 2 passes, 1 lane): memory-hard enough to make GPU "
        "guessing of a stolen hash expensive, cheap enough that a login costs one core a few "
        "tens of ms; the check runs off the event loop. Client secrets and refresh tokens "
        "are 256-bit random values and are stored as SHA-256 digests instead.\n"
    )
    write_doc_section("Identity", section)
