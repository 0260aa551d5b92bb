"""Canonical form (RFC 8785) and SM2-SM3 signatures, every one cross-verified with gmssl."""

from __future__ import annotations

import dataclasses
import json

import pytest
from gmssl import func as gm_func

from services.certs.domain.canonical import (
    CANONICAL_FORMAT,
    canonical_bytes,
    canonical_json,
    face_digest,
)
from services.certs.domain.signing import (
    CertificateSignature,
    key_id,
    sign_version,
    verify_version,
)
from services.runtime.crypto import generate_sm2_keypair, sm3_digest
from tests.certs.support import food_version, gmssl_verifier


def test_canonical_form_is_jcs_of_metadata_and_face() -> None:
    version = food_version()
    data = canonical_bytes(version)
    document = json.loads(data)
    assert document["format"] == CANONICAL_FORMAT
    assert document["metadata"]["certificate_id"] == version.certificate_id
    assert document["metadata"]["valid_until"] == "2031-03-14"
    assert document["face"] == dict(version.face)
    # JCS: keys sorted, no whitespace, UTF-8 (not \u escapes) — rebuildable by anyone.
    assert data == json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "经营者名称".encode() not in data  # field names are English keys, values Chinese
    assert "好味道".encode() in data


def test_canonical_form_ignores_key_order_but_not_values() -> None:
    version = food_version()
    shuffled = dataclasses.replace(version, face=dict(reversed(list(version.face.items()))))
    assert canonical_bytes(shuffled) == canonical_bytes(version)
    changed = food_version(legal_representative="王五")
    assert canonical_bytes(changed) != canonical_bytes(version)
    assert face_digest(version.face) == sm3_digest(canonical_json(dict(version.face)))


def test_uncanonicalisable_values_are_refused() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    with pytest.raises(ValueError):
        canonical_json({"x": object()})


def test_signature_verifies_with_tongsuopy_and_gmssl(issuer_keys: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = issuer_keys
    version = food_version()
    signature = sign_version(private_pem, public_pem, version)
    assert signature.key_id == key_id(public_pem) and len(signature.key_id) == 8
    assert verify_version(public_pem, version, signature)
    gm = gmssl_verifier(private_pem)
    assert gm.verify_with_sm3(signature.value.hex(), canonical_bytes(version))
    tampered = food_version(operator_name="别人家餐饮店")
    assert not verify_version(public_pem, tampered, signature)
    assert not gm.verify_with_sm3(signature.value.hex(), canonical_bytes(tampered))


def test_gmssl_signature_verifies_here(issuer_keys: tuple[bytes, bytes]) -> None:
    """The other direction: a signature made by gmssl over our canonical form verifies."""
    private_pem, public_pem = issuer_keys
    version = food_version(version=2)
    gm = gmssl_verifier(private_pem)
    raw_hex = gm.sign_with_sm3(canonical_bytes(version), gm_func.random_hex(gm.para_len))
    signature = CertificateSignature(key_id=key_id(public_pem), value=bytes.fromhex(raw_hex))
    assert verify_version(public_pem, version, signature)


def test_wrong_key_or_mangled_signature_is_false(issuer_keys: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = issuer_keys
    version = food_version()
    signature = sign_version(private_pem, public_pem, version)
    _, other_public = generate_sm2_keypair()
    assert not verify_version(other_public, version, signature)  # kid mismatch
    forged_kid = dataclasses.replace(signature, key_id=key_id(other_public))
    assert not verify_version(other_public, version, forged_kid)  # signature mismatch
    flipped = bytearray(signature.value)
    flipped[10] ^= 0x40
    assert not verify_version(
        public_pem, version, dataclasses.replace(signature, value=bytes(flipped))
    )
    assert not verify_version(public_pem, version, dataclasses.replace(signature, value=b"\0" * 64))
    assert not verify_version(public_pem, version, dataclasses.replace(signature, value=b"short"))
    assert not verify_version(
        public_pem, version, dataclasses.replace(signature, algorithm="ECDSA-SHA256")
    )


def test_signature_json_round_trip(issuer_keys: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = issuer_keys
    signature = sign_version(private_pem, public_pem, food_version())
    assert CertificateSignature.from_json(signature.to_json()) == signature
    for bad in (
        {},
        {"alg": "SM2-SM3", "kid": "zz", "sig": "AA=="},
        {"alg": "SM2-SM3", "kid": "00", "sig": "!!"},
        {"alg": "RS256", **{k: v for k, v in signature.to_json().items() if k != "alg"}},
    ):
        with pytest.raises(ValueError):
            CertificateSignature.from_json(bad)


def test_key_id_needs_a_public_key_pem(issuer_keys: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = issuer_keys
    assert key_id(public_pem.decode()) == key_id(public_pem)
    with pytest.raises(ValueError):
        key_id(private_pem)
    with pytest.raises(ValueError):
        key_id("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n")
