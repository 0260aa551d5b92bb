"""Builders and independent checkers shared by the certs domain tests."""

from __future__ import annotations

import base64
import datetime as dt
import gzip

from gmssl import sm2 as gm_sm2
from stdnum.cn import uscc
from tongsuopy.crypto import serialization

from services.certs.domain.canonical import CertificateVersion, HolderIdType
from services.certs.domain.identifiers import make_certificate_id, make_food_licence_no
from services.certs.domain.types import FOOD_LICENCE, SHAOGUAN_MARKET_USCC


def _uscc(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17 + "0")


OPERATOR_USCC = _uscc("91440203MA4UP1234")
CITIZEN_ID = "440203199001011231"  # check-digit-valid, made up


def food_face(**overrides: object) -> dict[str, object]:
    face: dict[str, object] = {
        "operator_name": "韶关市武江区好味道餐饮店",
        "uscc": OPERATOR_USCC,
        "legal_representative": "李四",
        "residence": "广东省韶关市武江区新华南路1号",
        "business_premises": "广东省韶关市武江区新华南路1号首层",
        "business_form": "餐饮服务经营者（小餐饮）",
        "business_items": ["热食类食品制售", "冷食类食品制售（不含烧卤熟肉）"],
        "licence_no": make_food_licence_no("2", "440203", 1234),
        "supervisory_authority": "韶关市武江区市场监督管理局",
        "valid_until": "2031-03-14",
    }
    face.update(overrides)
    return face


def food_version(version: int = 1, **face_overrides: object) -> CertificateVersion:
    face = food_face(**face_overrides)
    issued = dt.date(2026, 3, 15)
    return CertificateVersion(
        certificate_id=make_certificate_id(
            FOOD_LICENCE.type_code, SHAOGUAN_MARKET_USCC, "2026000123", version
        ),
        type_code=FOOD_LICENCE.type_code,
        name=FOOD_LICENCE.name,
        number=str(face["licence_no"]),
        issuer_uscc=SHAOGUAN_MARKET_USCC,
        issuer_name="韶关市市场监督管理局",
        issued_on=issued,
        valid_from=issued,
        valid_until=FOOD_LICENCE.valid_until(issued),
        holder_name=str(face["operator_name"]),
        holder_id_type=HolderIdType.USCC,
        holder_id=OPERATOR_USCC,
        version=version,
        face=face,
    )


def spec_decode_bit(encoded_list: str, index: int) -> bool:
    """Independent reader, straight from Bitstring Status List v1.0 §3.2: strip the multibase
    'u', base64url-decode, GZIP-expand; index 0 is the left-most bit of the first byte."""
    assert encoded_list[0] == "u"
    data = encoded_list[1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    assert len(raw) * 8 >= 131072
    return (raw[index // 8] >> (7 - index % 8)) & 1 == 1


def gmssl_verifier(private_pem: bytes) -> gm_sm2.CryptSM2:
    """gmssl (pure Python, independent of Tongsuo) holding the same key pair."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    numbers = key.private_numbers()
    public_hex = f"{numbers.public_numbers.x:064x}{numbers.public_numbers.y:064x}"
    return gm_sm2.CryptSM2(private_key=f"{numbers.private_value:064x}", public_key=public_hex)
