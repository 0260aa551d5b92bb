"""Status lists (证照状态列表) after W3C Bitstring Status List v1.0.

One list per issuer and purpose (``revocation``: 注销/吊销/被变更取代, irreversible;
``suspension``: 挂失/暂停, reversible). Each certificate version gets a random, never reused
index in each list; a verifier downloads the whole list, so the hub never learns which
certificate is being checked (herd privacy, hence the ≥ 131,072-entry minimum of the spec).

Encoding (spec §2.1 / §3.2): bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8`` (index 0 is the
left-most bit of the first byte), the bytes are GZIP-compressed and the result is multibase
base64url without padding, i.e. ``"u" + base64url(gzip(bits))``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import secrets
import zlib
from collections.abc import Collection
from enum import StrEnum
from random import Random
from typing import Any

__all__ = [
    "MAX_ENTRIES",
    "MIN_ENTRIES",
    "StatusList",
    "StatusListError",
    "StatusListFull",
    "StatusPurpose",
    "allocate_index",
    "status_list_credential_subject",
    "status_list_entry",
]

MIN_ENTRIES = 131_072  # 16 KiB of bits: the spec's minimum for herd privacy
MAX_ENTRIES = 16 * 1024 * 1024 * 8  # cap decoded lists at 16 MiB: a gzip bomb stops here
_MULTIBASE_BASE64URL = "u"


class StatusPurpose(StrEnum):
    """statusPurpose of a list."""

    REVOCATION = "revocation"  # 撤销: 注销, 吊销, superseded by 变更 — never cleared
    SUSPENSION = "suspension"  # 暂停: 挂失/暂停,年检 overdue — cleared on resumption


class StatusListError(ValueError):
    """A status list or index is malformed; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class StatusListFull(StatusListError):
    """No free index is left: open a new list for the issuer and purpose."""

    def __init__(self) -> None:
        super().__init__("full", "status list has no free index")


class StatusList:
    """A mutable bitstring of ``size`` entries (a multiple of 8, ≥ 131,072)."""

    __slots__ = ("_bits", "purpose")

    def __init__(
        self, purpose: StatusPurpose, size: int = MIN_ENTRIES, *, bits: bytes | None = None
    ) -> None:
        if size < MIN_ENTRIES or size % 8 or size > MAX_ENTRIES:
            raise StatusListError(
                "length", f"size must be a multiple of 8 in [{MIN_ENTRIES}, {MAX_ENTRIES}]"
            )
        if bits is not None and len(bits) != size // 8:
            raise StatusListError("length", "bits do not match size")
        self.purpose = StatusPurpose(purpose)
        self._bits = bytearray(bits) if bits is not None else bytearray(size // 8)

    @property
    def size(self) -> int:
        """Number of entries."""
        return len(self._bits) * 8

    def _check(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.size:
            raise StatusListError("range", f"index must be in [0, {self.size})")

    def get(self, index: int) -> bool:
        """The bit at ``index`` (True = revoked / suspended)."""
        self._check(index)
        return bool(self._bits[index >> 3] >> (7 - (index & 7)) & 1)

    def set(self, index: int, value: bool = True) -> None:
        """Set (or with ``value=False`` clear) the bit at ``index``."""
        self._check(index)
        mask = 1 << (7 - (index & 7))
        if value:
            self._bits[index >> 3] |= mask
        else:
            self._bits[index >> 3] &= ~mask & 0xFF

    def clear(self, index: int) -> None:
        """Clear the bit at ``index``."""
        self.set(index, False)

    def to_bytes(self) -> bytes:
        """The raw bitstring."""
        return bytes(self._bits)

    def encode(self) -> str:
        """``encodedList``: multibase base64url (no padding) of GZIP of the bitstring.

        ``mtime=0`` makes the output a function of the bits alone (stable ETags, caching).
        """
        packed = gzip.compress(bytes(self._bits), compresslevel=9, mtime=0)
        return _MULTIBASE_BASE64URL + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()

    @classmethod
    def decode(cls, encoded: str, purpose: StatusPurpose) -> StatusList:
        """Parse an ``encodedList``; a list under 131,072 entries is rejected (spec §3.2)."""
        if not isinstance(encoded, str) or not encoded.startswith(_MULTIBASE_BASE64URL):
            raise StatusListError("format", "encodedList must be multibase base64url ('u' prefix)")
        body = encoded[1:]
        try:
            packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:
            raise StatusListError("format", "encodedList is not base64url") from exc
        bits = _gunzip_capped(packed, MAX_ENTRIES // 8)
        if len(bits) * 8 < MIN_ENTRIES:
            raise StatusListError("length", f"a status list holds at least {MIN_ENTRIES} entries")
        return cls(purpose, len(bits) * 8, bits=bits)


def _gunzip_capped(packed: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    try:
        bits = decompressor.decompress(packed, limit + 1)
    except zlib.error as exc:
        raise StatusListError("format", "encodedList is not GZIP") from exc
    if len(bits) > limit:
        raise StatusListError("length", "status list is larger than the hub accepts")
    if not decompressor.eof:
        raise StatusListError("format", "encodedList GZIP stream is truncated")
    return bits


def allocate_index(
    used: Collection[int], size: int = MIN_ENTRIES, rng: Random | None = None
) -> int:
    """A uniformly random free index in ``[0, size)``, never one in ``used``.

    Random (not sequential) so that an index reveals nothing about issue order or volume.
    Rejection sampling while the list is less than half full; past that, pick among the
    remaining ones directly so the cost stays bounded. The caller keeps the used set (the store
    enforces uniqueness per list); ``rng`` defaults to the system CSPRNG.
    """
    chooser = rng if rng is not None else secrets.SystemRandom()
    if len(used) >= size:
        raise StatusListFull()
    if len(used) * 2 < size:
        while True:
            candidate = chooser.randrange(size)
            if candidate not in used:
                return candidate
    used_set = set(used)
    free = [i for i in range(size) if i not in used_set]
    if not free:
        raise StatusListFull()
    return chooser.choice(free)


def status_list_credential_subject(
    list_url: str, purpose: StatusPurpose, status_list: StatusList, ttl_ms: int
) -> dict[str, Any]:
    """``credentialSubject`` of a BitstringStatusListCredential (the service signs and serves it
    with ``Cache-Control: max-age`` = ``ttl`` seconds)."""
    return {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": str(purpose),
        "encodedList": status_list.encode(),
        "ttl": ttl_ms,
    }


def status_list_entry(list_url: str, purpose: StatusPurpose, index: int) -> dict[str, Any]:
    """``credentialStatus`` entry a certificate carries for one list."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": str(purpose),
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }
