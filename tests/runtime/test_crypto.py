"""国密 primitives (cross-checked with gmssl), field encryption, request signing."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from gmssl import func as gm_func
from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3
from tongsuopy.crypto import serialization

from services.runtime.crypto import (
    SM2_DEFAULT_USER_ID,
    DecryptionError,
    FieldAlgorithm,
    FieldCipher,
    FieldKey,
    canonical_request,
    generate_sm2_keypair,
    hmac_sm3,
    sign_request,
    sm2_public_key_pem,
    sm2_sign,
    sm2_signature_from_raw,
    sm2_signature_to_raw,
    sm2_verify,
    sm3_hex,
    verify_request_signature,
)

# --- SM3 / HMAC-SM3 ---


def gm_sm3_hex(data: bytes) -> str:
    return gm_sm3.sm3_hash(gm_func.bytes_to_list(data))


def gm_hmac_sm3(key: bytes, data: bytes) -> bytes:
    """Independent RFC 2104 over gmssl's pure-Python SM3."""
    if len(key) > 64:
        key = bytes.fromhex(gm_sm3_hex(key))
    key = key.ljust(64, b"\0")
    inner = bytes.fromhex(gm_sm3_hex(bytes(b ^ 0x36 for b in key) + data))
    return bytes.fromhex(gm_sm3_hex(bytes(b ^ 0x5C for b in key) + inner))


def test_sm3_standard_vectors() -> None:
    # GB/T 32905-2016 appendix A examples 1 and 2.
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert (
        sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


@pytest.mark.parametrize("key", [b"", b"k", b"0123456789abcdef", b"x" * 64, b"y" * 65, b"z" * 200])
def test_hmac_sm3_matches_independent_implementation(key: bytes) -> None:
    data = "办件 payload".encode() * 7
    assert hmac_sm3(key, data) == gm_hmac_sm3(key, data)


@pytest.mark.skipif("sm3" not in hashlib.algorithms_available, reason="no OpenSSL SM3 here")
def test_hmac_sm3_matches_stdlib_hmac_over_openssl_sm3() -> None:
    key, data = b"secret-key", b"message"
    assert hmac_sm3(key, data) == hmac.new(key, data, "sm3").digest()


# --- SM2 ---


def gmssl_signer(private_pem: bytes) -> gm_sm2.CryptSM2:
    key = serialization.load_pem_private_key(private_pem, password=None)
    numbers = key.private_numbers()
    public_hex = f"{numbers.public_numbers.x:064x}{numbers.public_numbers.y:064x}"
    return gm_sm2.CryptSM2(private_key=f"{numbers.private_value:064x}", public_key=public_hex)


@pytest.fixture(scope="module")
def keypair() -> tuple[bytes, bytes]:
    return generate_sm2_keypair()


def test_keypair_is_pem_and_public_matches_private(keypair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = keypair
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert sm2_public_key_pem(private_pem) == public_pem


def test_sign_verify_and_tamper(keypair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = keypair
    data = "证照标识 1.2.156.3005.2…".encode()
    signature = sm2_sign(private_pem, data)
    assert sm2_verify(public_pem, data, signature)
    assert sm2_verify(public_pem.decode(), data, signature)  # str PEM from settings
    assert not sm2_verify(public_pem, data + b"!", signature)
    raw = bytearray(sm2_signature_to_raw(signature))
    raw[40] ^= 0x01
    assert not sm2_verify(public_pem, data, sm2_signature_from_raw(bytes(raw)))
    _, other_public = generate_sm2_keypair()
    assert not sm2_verify(other_public, data, signature)


def test_signatures_are_randomised(keypair: tuple[bytes, bytes]) -> None:
    private_pem, _ = keypair
    assert sm2_sign(private_pem, b"x") != sm2_sign(private_pem, b"x")


@pytest.mark.parametrize("junk", [b"", b"garbage", b"\x30" * 80, b"0\x06\x02\x01\x01\x02\x01\x01"])
def test_malformed_signature_is_false_not_an_exception(
    keypair: tuple[bytes, bytes], junk: bytes
) -> None:
    assert sm2_verify(keypair[1], b"data", junk) is False


def test_tongsuopy_signature_verified_by_gmssl(keypair: tuple[bytes, bytes]) -> None:
    private_pem, _ = keypair
    gm = gmssl_signer(private_pem)
    data = b"exchange-log seal"
    raw_hex = sm2_signature_to_raw(sm2_sign(private_pem, data)).hex()
    assert gm.verify_with_sm3(raw_hex, data)
    assert not gm.verify_with_sm3(raw_hex, data + b"x")


def test_gmssl_signature_verified_by_tongsuopy(keypair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = keypair
    gm = gmssl_signer(private_pem)
    data = b"certificate body"
    raw_hex = gm.sign_with_sm3(data, gm_func.random_hex(gm.para_len))
    der = sm2_signature_from_raw(bytes.fromhex(raw_hex))
    assert sm2_verify(public_pem, data, der)
    assert not sm2_verify(public_pem, data + b"x", der)


def test_signature_covers_z_value_with_default_user_id(keypair: tuple[bytes, bytes]) -> None:
    """Compute e = SM3(Z_A || M) ourselves (GB/T 32918.2 §5.5) and check it with gmssl's raw
    verify; e = SM3(M) without Z_A must NOT verify, so tongsuopy really includes Z_A."""
    private_pem, _ = keypair
    gm = gmssl_signer(private_pem)
    data = b"z-value check"
    raw_hex = sm2_signature_to_raw(sm2_sign(private_pem, data)).hex()
    entl = (len(SM2_DEFAULT_USER_ID) * 8).to_bytes(2, "big")
    curve = bytes.fromhex(gm.ecc_table["a"] + gm.ecc_table["b"] + gm.ecc_table["g"] + gm.public_key)
    z = bytes.fromhex(gm_sm3_hex(entl + SM2_DEFAULT_USER_ID + curve))
    e_with_z = bytes.fromhex(gm_sm3_hex(z + data))
    assert gm.verify(raw_hex, e_with_z)
    assert not gm.verify(raw_hex, bytes.fromhex(gm_sm3_hex(data)))


def test_raw_der_conversion_round_trip(keypair: tuple[bytes, bytes]) -> None:
    signature = sm2_sign(keypair[0], b"x")
    raw = sm2_signature_to_raw(signature)
    assert len(raw) == 64
    assert sm2_signature_from_raw(raw) == signature
    with pytest.raises(ValueError):
        sm2_signature_from_raw(raw[:63])


def test_non_sm2_or_bad_keys_rejected() -> None:
    from cryptography.hazmat.primitives import serialization as cs
    from cryptography.hazmat.primitives.asymmetric import ec as cec

    p256 = cec.generate_private_key(cec.SECP256R1())
    pem = p256.private_bytes(cs.Encoding.PEM, cs.PrivateFormat.PKCS8, cs.NoEncryption())
    with pytest.raises(ValueError):
        sm2_sign(pem, b"x")
    with pytest.raises(ValueError):
        sm2_verify(b"not a pem", b"x", b"sig")


# --- field encryption ---

AES_KEY = bytes(range(32))
OLD_KEY = bytes(range(1, 33))
INDEX_KEY = b"i" * 32


def make_cipher(**overrides: object) -> FieldCipher:
    options: dict[str, object] = {"key": AES_KEY, "index_key": INDEX_KEY, "key_id": "k2"}
    options.update(overrides)
    return FieldCipher(**options)  # type: ignore[arg-type]


def test_encrypt_decrypt_round_trip_and_token_shape() -> None:
    cipher = make_cipher()
    token = cipher.encrypt("11010519491231002X")
    version, key_id, body = token.split(":")
    assert (version, key_id) == ("v1", "k2")
    assert "11010519491231002X" not in token
    assert "=" not in body
    assert cipher.decrypt(token) == "11010519491231002X"
    assert cipher.decrypt(cipher.encrypt("张三丰")) == "张三丰"
    assert cipher.decrypt(cipher.encrypt("")) == ""


def test_nonce_randomness() -> None:
    cipher = make_cipher()
    tokens = {cipher.encrypt("13812345678") for _ in range(50)}
    assert len(tokens) == 50


def test_wrong_key_fails() -> None:
    token = make_cipher().encrypt("secret")
    other = make_cipher(key=OLD_KEY)  # same key id, different material
    with pytest.raises(DecryptionError, match="authentication"):
        other.decrypt(token)


def test_unknown_key_id_and_malformed_tokens() -> None:
    cipher = make_cipher()
    token = make_cipher(key_id="k9").encrypt("x")
    with pytest.raises(DecryptionError, match="unknown key id"):
        cipher.decrypt(token)
    for bad in ["", "v1:k2", "v2:k2:AAAA", "v1:k2:!!!", "v1:k2:AAAA"]:
        with pytest.raises(DecryptionError):
            cipher.decrypt(bad)


def test_tampered_token_and_context_binding() -> None:
    cipher = make_cipher()
    token = cipher.encrypt("13812345678", context="phone")
    assert cipher.decrypt(token, context="phone") == "13812345678"
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, context="citizen_id")  # moved to another column
    prefix, body = token.rsplit(":", 1)
    blob = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    blob[-1] ^= 0x01
    forged = prefix + ":" + base64.urlsafe_b64encode(bytes(blob)).rstrip(b"=").decode()
    with pytest.raises(DecryptionError):
        cipher.decrypt(forged, context="phone")


def test_rotation_old_key_still_decrypts() -> None:
    old = FieldCipher(OLD_KEY, key_id="k1", index_key=INDEX_KEY)
    old_token = old.encrypt("440106199001011235")
    rotated = FieldCipher(AES_KEY, key_id="k2", old_keys={"k1": OLD_KEY}, index_key=INDEX_KEY)
    assert rotated.decrypt(old_token) == "440106199001011235"
    assert rotated.needs_reencryption(old_token)
    new_token = rotated.encrypt("440106199001011235")
    assert new_token.startswith("v1:k2:")
    assert not rotated.needs_reencryption(new_token)
    with pytest.raises(DecryptionError):
        old.decrypt(new_token)


def test_sm4_gcm_and_mixed_algorithm_rotation() -> None:
    sm4_key = bytes(range(16))
    sm4 = FieldCipher(sm4_key, key_id="s1", algorithm=FieldAlgorithm.SM4_GCM, index_key=INDEX_KEY)
    token = sm4.encrypt("13812345678")
    assert sm4.decrypt(token) == "13812345678"
    rotated = FieldCipher(
        AES_KEY,
        key_id="k2",
        old_keys={"s1": FieldKey("s1", sm4_key, FieldAlgorithm.SM4_GCM)},
        index_key=INDEX_KEY,
    )
    assert rotated.decrypt(token) == "13812345678"


def test_key_length_and_id_checks() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        FieldCipher(b"short", index_key=INDEX_KEY)
    with pytest.raises(ValueError, match="16-byte"):
        FieldCipher(AES_KEY, algorithm=FieldAlgorithm.SM4_GCM, index_key=INDEX_KEY)
    with pytest.raises(ValueError, match="key id"):
        FieldCipher(AES_KEY, key_id="a:b", index_key=INDEX_KEY)
    with pytest.raises(ValueError, match="index key"):
        FieldCipher(AES_KEY, index_key=b"short")


def test_blind_index_stable_normalised_and_key_dependent() -> None:
    cipher = make_cipher()
    a = cipher.blind_index("11010519491231002X")
    assert a == make_cipher(key=OLD_KEY).blind_index("11010519491231002X")  # index key only
    assert a == cipher.blind_index(" 11010519491231002x ")
    assert len(a) == 64
    assert int(a, 16) >= 0
    assert cipher.blind_index("138 1234 5678") == cipher.blind_index("13812345678")
    assert a != cipher.blind_index("110105194912310011")
    assert a != make_cipher(index_key=b"j" * 32).blind_index("11010519491231002X")
    assert a != cipher.blind_index("11010519491231002X", scope="phone")
    sm3_index = make_cipher(index_algorithm="HMAC-SM3").blind_index("11010519491231002X")
    assert sm3_index != a
    assert sm3_index == make_cipher(index_algorithm="HMAC-SM3").blind_index("11010519491231002x")


def test_from_settings_first_key_is_primary() -> None:
    k2 = base64.b64encode(AES_KEY).decode()
    k1 = base64.urlsafe_b64encode(OLD_KEY).decode().rstrip("=")
    s1 = base64.b64encode(bytes(16)).decode()
    index = base64.b64encode(INDEX_KEY).decode()
    old_token = FieldCipher(OLD_KEY, key_id="k1", index_key=INDEX_KEY).encrypt("x")
    cipher = FieldCipher.from_settings(f"k2:{k2}, k1:{k1}, s1:sm4:{s1}", index)
    assert cipher.primary_key_id == "k2"
    assert cipher.encrypt("y").startswith("v1:k2:")
    assert cipher.decrypt(old_token) == "x"
    assert cipher.blind_index("v") == make_cipher().blind_index("v")
    assert "k2" in repr(cipher)
    assert k2 not in repr(cipher)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("", "empty"),
        ("k1", "key_id"),
        ("k1:!!notbase64!!", "base64"),
        ("k1:rc4:AAAA", "unknown algorithm"),
        (f"k1:{base64.b64encode(AES_KEY).decode()},k1:{base64.b64encode(AES_KEY).decode()}", "dup"),
    ],
)
def test_from_settings_errors(keys: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FieldCipher.from_settings(keys, base64.b64encode(INDEX_KEY).decode())


def test_from_settings_error_does_not_echo_key_material() -> None:
    with pytest.raises(ValueError) as exc:
        FieldCipher.from_settings("k1:c2VjcmV0LWtleQ==", base64.b64encode(INDEX_KEY).decode())
    assert "c2VjcmV0" not in str(exc.value)


# --- request signing ---

SECRET = b"county-system-secret"
ARGS = ("post", "/v1/cases?src=county", "1717171717", "n-0001", b'{"a":1}')


@pytest.mark.parametrize("algorithm", ["HMAC-SHA256", "HMAC-SM3"])
def test_request_signature_verify_and_tamper(algorithm: str) -> None:
    signature = sign_request(SECRET, *ARGS, algorithm=algorithm)  # type: ignore[arg-type]
    assert len(signature) == 64
    assert verify_request_signature(SECRET, *ARGS, signature, algorithm=algorithm)  # type: ignore[arg-type]
    assert verify_request_signature(SECRET, *ARGS, signature.upper(), algorithm=algorithm)  # type: ignore[arg-type]
    method, path, ts, nonce, body = ARGS
    tampered = [
        ("GET", path, ts, nonce, body),
        (method, "/v1/cases", ts, nonce, body),
        (method, path, "1717171718", nonce, body),
        (method, path, ts, "n-0002", body),
        (method, path, ts, nonce, b'{"a":2}'),
    ]
    for fields in tampered:
        assert not verify_request_signature(SECRET, *fields, signature, algorithm=algorithm)  # type: ignore[arg-type]
    assert not verify_request_signature(b"other", *ARGS, signature, algorithm=algorithm)  # type: ignore[arg-type]
    assert not verify_request_signature(SECRET, *ARGS, "签名", algorithm=algorithm)  # type: ignore[arg-type]


def test_request_signature_algorithms_differ_and_match_reference() -> None:
    sha = sign_request(SECRET, *ARGS, algorithm="HMAC-SHA256")
    sm3 = sign_request(SECRET, *ARGS, algorithm="HMAC-SM3")
    assert sha != sm3
    canonical_sha = canonical_request(*ARGS, algorithm="HMAC-SHA256")
    assert canonical_sha == (
        b"POST\n/v1/cases?src=county\n1717171717\nn-0001\n"
        + hashlib.sha256(b'{"a":1}').hexdigest().encode()
    )
    assert sha == hmac.new(SECRET, canonical_sha, hashlib.sha256).hexdigest()
    canonical_sm3 = canonical_request(*ARGS, algorithm="HMAC-SM3")
    assert canonical_sm3.endswith(gm_sm3_hex(b'{"a":1}').encode())
    assert sm3 == gm_hmac_sm3(SECRET, canonical_sm3).hex()


def test_request_signature_rejects_line_breaks_and_unknown_algorithm() -> None:
    with pytest.raises(ValueError):
        sign_request(SECRET, "POST", "/a\n/b", "1", "n", b"")
    with pytest.raises(ValueError):
        sign_request(SECRET, "POST", "/a", "1", "n", b"", algorithm="HMAC-MD5")  # type: ignore[arg-type]
    assert not verify_request_signature(SECRET, "POST", "/a\n", "1", "n", b"", "00")
