"""Session-wide real infrastructure: PostgreSQL databases and a Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.broker import LocalBroker, free_port
from tests.support.pii_logs import assert_no_pii_in_files, no_pii_in_logs
from tests.support.postgres import DatabaseFactory, admin_url, check_reachable

__all__ = ["no_pii_in_logs"]  # autouse: every test is also a masking test

os.environ.setdefault("HUB_ENVIRONMENT", "test")


@pytest.fixture(scope="session")
def pg() -> Iterator[DatabaseFactory]:
    problem = asyncio.run(check_reachable())
    if problem is not None:
        pytest.fail(
            f"PostgreSQL at {admin_url()} is unreachable ({problem}); the suite needs a real "
            "server (set HUB_TEST_PG_URL)",
            pytrace=False,
        )
    factory = DatabaseFactory()
    yield factory
    asyncio.run(factory.drop_all())


@pytest.fixture(scope="session")
def log_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hub-test-logs-"))
    yield path
    assert_no_pii_in_files(path)


@pytest.fixture(scope="session")
def broker(log_dir: Path) -> Iterator[LocalBroker]:
    b = LocalBroker(free_port(), log_dir / "broker.log")
    b.start()
    yield b
    b.stop()
