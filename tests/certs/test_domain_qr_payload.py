"""扫码亮证 payload: encode, decode, offline verification, QR fit and a camera-style round trip."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zlib

import base45
import cbor2
import pytest
import segno
import zxingcpp
from PIL import Image

from services.certs.domain.canonical import CertificateVersion, HolderIdType, face_digest
from services.certs.domain.qr_payload import (
    ALG_SM2_SM3,
    QR_PREFIX,
    QrPayloadError,
    decode_qr,
    encode_qr,
    mask_holder,
    verify_qr,
)
from services.certs.domain.signing import key_id
from services.runtime.crypto import generate_sm2_keypair
from tests.certs.support import CITIZEN_ID, food_version, gmssl_verifier

ISSUED_AT = 1_773_532_800  # 2026-03-15T00:00:00Z


def lookup_for(public_pem: bytes):  # type: ignore[no-untyped-def]
    def lookup(issuer: str, kid: bytes) -> bytes | None:
        return public_pem if kid == key_id(public_pem) else None

    return lookup


@pytest.fixture(scope="module")
def qr_text(issuer_keys: tuple[bytes, bytes]) -> str:
    private_pem, public_pem = issuer_keys
    return encode_qr(food_version(), 4242, private_pem, public_pem, ISSUED_AT)


def test_round_trip_and_offline_verification(
    qr_text: str, issuer_keys: tuple[bytes, bytes]
) -> None:
    version = food_version()
    assert qr_text.startswith(QR_PREFIX)
    claims = verify_qr(qr_text, lookup_for(issuer_keys[1]))
    assert claims.certificate_id == version.certificate_id
    assert claims.type_code == version.type_code
    assert claims.issuer_uscc == version.issuer_uscc
    assert claims.valid_from == dt.date(2026, 3, 15)
    assert claims.valid_until == dt.date(2031, 3, 14)
    assert claims.status_index == 4242
    assert claims.face_digest == face_digest(version.face)
    assert claims.issued_at == ISSUED_AT
    assert claims.is_current(dt.date(2031, 3, 14))
    assert not claims.is_current(dt.date(2031, 3, 15))
    assert not claims.is_current(dt.date(2026, 3, 14))
    # A legal person's name is public; its code is masked.
    assert claims.holder_name_masked == version.holder_name
    assert "*" in claims.holder_id_masked


def test_structure_is_cose_sign1_verifiable_by_gmssl(
    qr_text: str, issuer_keys: tuple[bytes, bytes]
) -> None:
    """Rebuild the Sig_structure from the bytes alone and verify with an independent library."""
    raw = zlib.decompress(base45.b45decode(qr_text[len(QR_PREFIX) :]))
    cose = cbor2.loads(raw)
    assert cose.tag == 18
    protected, unprotected, payload, signature = cose.value
    assert unprotected == {}
    assert cbor2.loads(protected) == {1: ALG_SM2_SM3, 4: key_id(issuer_keys[1])}
    assert len(signature) == 64
    sig_structure = cbor2.dumps(["Signature1", protected, b"", payload])
    assert gmssl_verifier(issuer_keys[0]).verify_with_sm3(signature.hex(), sig_structure)
    assert set(cbor2.loads(payload)) == set(range(1, 11))


def test_fits_an_alphanumeric_qr_at_level_q(qr_text: str) -> None:
    qr = segno.make(qr_text, error="q", mode="alphanumeric", micro=False)
    assert qr.error == "Q" and qr.mode == "alphanumeric"
    assert qr.version <= 20, qr.version  # 15 measured; DCC codes run to 25 and scan fine
    assert len(qr_text) < 500


def test_rendered_qr_decodes_back_and_verifies(
    qr_text: str, issuer_keys: tuple[bytes, bytes]
) -> None:
    png = io.BytesIO()
    segno.make(qr_text, error="q", mode="alphanumeric").save(png, kind="png", scale=4, border=4)
    png.seek(0)
    image = Image.open(png).convert("L")
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    assert results[0].text == qr_text
    assert verify_qr(results[0].text, lookup_for(issuer_keys[1])).status_index == 4242


def test_natural_person_is_masked() -> None:
    assert mask_holder("张三丰", CITIZEN_ID, HolderIdType.CITIZEN_ID) == (
        "张**",
        "4402**********1231",
    )
    keys = generate_sm2_keypair()
    person = dataclasses.replace(
        food_version(),
        holder_name="张三丰",
        holder_id_type=HolderIdType.CITIZEN_ID,
        holder_id=CITIZEN_ID,
        valid_until=None,
    )
    text = encode_qr(person, 1, keys[0], keys[1], ISSUED_AT)
    claims = verify_qr(text, lookup_for(keys[1]))
    assert (claims.holder_name_masked, claims.holder_id_masked) == ("张**", "4402**********1231")
    assert claims.valid_until is None and claims.is_current(dt.date(2099, 1, 1))
    assert CITIZEN_ID.encode() not in zlib.decompress(base45.b45decode(text[len(QR_PREFIX) :]))


def test_tampering_and_wrong_keys_are_refused(
    qr_text: str, issuer_keys: tuple[bytes, bytes]
) -> None:
    raw = zlib.decompress(base45.b45decode(qr_text[len(QR_PREFIX) :]))
    cose = cbor2.loads(raw)
    claims = cbor2.loads(cose.value[2])
    claims[8] = 1  # move the status index to an unrevoked slot
    protected, _, _, signature = cose.value
    forged = _wrap(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(claims), signature]))
    with pytest.raises(QrPayloadError) as err:
        verify_qr(forged, lookup_for(issuer_keys[1]))
    assert err.value.reason == "signature"
    assert decode_qr(forged).status_index == 1  # decode alone does not vouch for anything

    other = generate_sm2_keypair()
    with pytest.raises(QrPayloadError) as err:
        verify_qr(qr_text, lookup_for(other[1]))
    assert err.value.reason == "unknown_key"
    with pytest.raises(QrPayloadError) as err:
        verify_qr(qr_text, lambda issuer, kid: other[1])  # lookup ignores the kid
    assert err.value.reason == "signature"


def _wrap(obj: object) -> str:
    return QR_PREFIX + base45.b45encode(zlib.compress(cbor2.dumps(obj))).decode()


def _cose(protected: object, payload: object, signature: bytes = b"\0" * 64) -> str:
    return _wrap(cbor2.CBORTag(18, [cbor2.dumps(protected), {}, cbor2.dumps(payload), signature]))


_VERSION = food_version()
VALID_CLAIMS = {
    1: _VERSION.certificate_id,
    2: _VERSION.type_code,
    3: _VERSION.issuer_uscc,
    4: "x",
    5: "y",
    6: 20000,
    7: None,
    8: 5,
    9: b"\0" * 32,
    10: 0,
}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("HC1:6BFOXN", "prefix"),
        (QR_PREFIX + "::::", "encoding"),
        (QR_PREFIX + base45.b45encode(b"not zlib").decode(), "encoding"),
        (QR_PREFIX + "A" * 3000, "encoding"),
        (QR_PREFIX + base45.b45encode(zlib.compress(bytes(5000))).decode(), "encoding"),
        (_wrap([1, 2, 3]), "structure"),
        (_wrap(cbor2.CBORTag(18, [b"", {}, b""])), "structure"),
        (_wrap(cbor2.CBORTag(18, ["x", {}, b"", b""])), "structure"),
        (_cose({1: -7, 4: b"12345678"}, {}), "structure"),  # ES256, not SM2
        (_cose({1: ALG_SM2_SM3, 4: b"12345678"}, [1]), "structure"),
        (_cose({1: ALG_SM2_SM3, 4: b"12345678"}, {1: "x"}), "claims"),
        (_cose({1: ALG_SM2_SM3, 4: b"12345678"}, {**VALID_CLAIMS, 8: -1}), "claims"),
        (_cose({1: ALG_SM2_SM3, 4: b"12345678"}, {**VALID_CLAIMS, 6: 10**12}), "claims"),
        (_cose({1: ALG_SM2_SM3, 4: b"12345678"}, {**VALID_CLAIMS, 9: "digest"}), "claims"),
        (_cose({1: ALG_SM2_SM3, 4: b"12345678"}, VALID_CLAIMS), "unknown_key"),
    ],
)
def test_malformed_payloads_have_reasons(text: str, reason: str) -> None:
    with pytest.raises(QrPayloadError) as err:
        verify_qr(text, lambda issuer, kid: None)
    assert err.value.reason == reason


def test_claims_must_agree_with_the_certificate_id(issuer_keys: tuple[bytes, bytes]) -> None:
    version: CertificateVersion = dataclasses.replace(
        food_version(), issuer_uscc="11440200MB2C12353P"
    )
    text = encode_qr(version, 1, issuer_keys[0], issuer_keys[1], ISSUED_AT)
    with pytest.raises(QrPayloadError) as err:
        decode_qr(text)
    assert err.value.reason == "claims"


def test_bad_certificate_id_claim(issuer_keys: tuple[bytes, bytes]) -> None:
    version = dataclasses.replace(food_version(), certificate_id="1.2.156.3005.2.X")
    text = encode_qr(version, 1, issuer_keys[0], issuer_keys[1], ISSUED_AT)
    with pytest.raises(QrPayloadError) as err:
        decode_qr(text)
    assert err.value.reason == "claims"
