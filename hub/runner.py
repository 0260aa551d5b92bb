"""``make run``: the whole hub on the embedded default (SQLite files + local broker).

Starts the broker, applies every migration, runs the demo seeds, starts every service
and the gateway as its own process, prints one line per process, and on Ctrl-C stops
everything it started. Data lives in ``var/`` and survives the next run.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hub.broker import LocalBroker, free_port
from hub.registry import ALL_PROCESSES, GATEWAY, ProcessSpec
from services.runtime.migrate import upgrade
from services.runtime.settings import VAR_DIR

# process name -> "module:async function(database_url) -> list[str]"; idempotent demo
# data, whose lines are printed once every process is up.
SEEDS = {
    "identity": "services.identity.seed:seed_demo",
    "matters": "services.matters.seed:seed_demo",
    "certs": "services.certs.seed:seed_demo",
    "eval": "services.eval.seed:seed_demo",
}


def sqlite_url(name: str) -> str:
    return f"sqlite+aiosqlite:///{VAR_DIR / (name + '.db')}"


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def process_env(spec: ProcessSpec, bootstrap: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HUB_ENVIRONMENT", "local")
    env["HUB_SERVICE_NAME"] = spec.name
    env["HUB_DATABASE_URL"] = os.environ.get(f"HUB_{spec.name.upper()}_DATABASE_URL") or sqlite_url(
        spec.name
    )
    env["HUB_KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    # Services verify tokens against identity's keys, fetched directly (not via the gateway).
    identity = next(s for s in ALL_PROCESSES if s.name == "identity")
    env.setdefault("HUB_AUTH_JWKS_URL", f"http://127.0.0.1:{identity.port}/jwks")
    if spec.name == GATEWAY.name:
        import json

        env["HUB_UPSTREAMS"] = json.dumps(
            {s.name: f"http://127.0.0.1:{s.port}" for s in ALL_PROCESSES if s is not GATEWAY}
        )
    return env


def start_process(spec: ProcessSpec, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    log = open(log_dir / f"{spec.name}.log", "ab")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            spec.app_factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(spec.port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def run_seeds(env_by_name: dict[str, dict[str, str]]) -> list[str]:
    from hub.onboarding import register_demo_county

    lines: list[str] = []
    for name, target in SEEDS.items():
        module, func = target.split(":")
        fn = getattr(importlib.import_module(module), func)
        lines += asyncio.run(fn(env_by_name[name]["HUB_DATABASE_URL"]))
    gateway = env_by_name[GATEWAY.name]
    # The demo county client may push only once registered at the gateway, for its orgs.
    lines += asyncio.run(register_demo_county(gateway["HUB_DATABASE_URL"]))
    return lines


def service_credentials(identity_database_url: str) -> dict[str, str]:
    """The services' own OAuth client (introspection of tokens at identity): its secret
    is generated once and kept in ``var/``, its digest seeded into identity."""
    from services.identity.seed import SERVICE_CLIENT_ID, ensure_service_client

    path = VAR_DIR / "service-client.secret"
    if not path.exists():
        import secrets

        path.touch(mode=0o600)  # owner-only before the secret is in it
        path.write_text(secrets.token_urlsafe(32))
    secret = path.read_text().strip()
    asyncio.run(ensure_service_client(identity_database_url, secret))
    return {"HUB_AUTH_CLIENT_ID": SERVICE_CLIENT_ID, "HUB_AUTH_CLIENT_SECRET": secret}


def main() -> int:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    log_dir = VAR_DIR / "log"
    log_dir.mkdir(exist_ok=True)
    for spec in ALL_PROCESSES:
        if not port_free(spec.port):
            print(f"port {spec.port} for {spec.name} is in use; is the hub already running?")
            return 1

    broker: LocalBroker | None = None
    bootstrap = os.environ.get("HUB_KAFKA_BOOTSTRAP_SERVERS", "")
    if not bootstrap:
        port = int(os.environ.get("HUB_BROKER_PORT", "9092"))
        if not port_free(port):
            port = free_port()
        broker = LocalBroker(port, log_dir / "broker.log")
        broker.start()
        bootstrap = broker.bootstrap

    envs = {spec.name: process_env(spec, bootstrap) for spec in ALL_PROCESSES}
    for spec in ALL_PROCESSES:
        upgrade(spec.migrations_dir, envs[spec.name]["HUB_DATABASE_URL"])
    seed_lines = run_seeds(envs)
    # Every resource server (the gateway too) checks revocation at identity's /introspect.
    credentials = service_credentials(envs["identity"]["HUB_DATABASE_URL"])
    for name, env in envs.items():
        if name != "identity":
            for key, value in credentials.items():
                env.setdefault(key, value)

    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop_all(*_args: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nstopping …", flush=True)
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if broker is not None:
            broker.stop()

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)

    for spec in ALL_PROCESSES:
        procs[spec.name] = start_process(spec, envs[spec.name], log_dir)
    failed = False
    print(f"{'broker':<9}kafka://{bootstrap}", flush=True)
    for spec in ALL_PROCESSES:
        url = f"http://127.0.0.1:{spec.port}"
        if wait_ready(url, procs[spec.name]):
            print(f"{spec.name:<9}{url}", flush=True)
        else:
            print(f"{spec.name:<9}FAILED to start; see {log_dir / (spec.name + '.log')}")
            failed = True
    if failed:
        stop_all()
        return 1
    for line in seed_lines:
        print(line)
    print(f"logs in {log_dir}; Ctrl-C stops everything", flush=True)

    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None and not stopping:
                print(f"{name} exited with {proc.returncode}; stopping the hub")
                stop_all()
                return 1
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
