"""Fixtures of the certs domain tests."""

from __future__ import annotations

import pytest

from services.runtime.crypto import generate_sm2_keypair


@pytest.fixture(scope="session")
def issuer_keys() -> tuple[bytes, bytes]:
    """One issuer's SM2 key pair (private PEM, public PEM)."""
    return generate_sm2_keypair()
