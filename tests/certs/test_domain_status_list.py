"""W3C Bitstring Status List v1.0: bits, encoding, random index assignment."""

from __future__ import annotations

import base64
import gzip
import random

import pytest

from services.certs.domain.status_list import (
    MIN_ENTRIES,
    StatusList,
    StatusListError,
    StatusListFull,
    StatusPurpose,
    allocate_index,
    status_list_credential_subject,
    status_list_entry,
)
from tests.certs.support import spec_decode_bit


def test_empty_list_is_16_kib_of_zero_bits() -> None:
    status_list = StatusList(StatusPurpose.REVOCATION)
    assert status_list.size == MIN_ENTRIES
    encoded = status_list.encode()
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded
    assert len(encoded) < 300  # all zeros compress to almost nothing
    assert not any(spec_decode_bit(encoded, i) for i in (0, 1, 7, 8, MIN_ENTRIES - 1))


def test_set_clear_get_match_the_independent_decoder() -> None:
    status_list = StatusList(StatusPurpose.SUSPENSION)
    rng = random.Random(7)
    chosen = {rng.randrange(MIN_ENTRIES) for _ in range(500)} | {0, 7, 8, MIN_ENTRIES - 1}
    for index in chosen:
        status_list.set(index)
    cleared = sorted(chosen)[::3]
    for index in cleared:
        status_list.clear(index)
    expected = chosen - set(cleared)
    encoded = status_list.encode()
    for index in chosen | {1, 2, 9, 12345}:
        assert spec_decode_bit(encoded, index) == (index in expected)
        assert status_list.get(index) == (index in expected)


def test_bit_zero_is_the_most_significant_bit_of_byte_zero() -> None:
    status_list = StatusList(StatusPurpose.REVOCATION)
    status_list.set(0)
    status_list.set(9)
    raw = status_list.to_bytes()
    assert raw[0] == 0x80 and raw[1] == 0x40


def test_encode_decode_round_trip_and_determinism() -> None:
    status_list = StatusList(StatusPurpose.REVOCATION, MIN_ENTRIES * 2)
    for index in (3, 131_071, 200_000):
        status_list.set(index)
    encoded = status_list.encode()
    assert encoded == status_list.encode()  # mtime 0: same bits, same text
    decoded = StatusList.decode(encoded, StatusPurpose.REVOCATION)
    assert decoded.size == MIN_ENTRIES * 2
    assert decoded.to_bytes() == status_list.to_bytes()


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        ("z" + "AAAA", "format"),  # base58btc prefix, not base64url
        ("u!!!!", "format"),
        ("u" + base64.urlsafe_b64encode(b"not gzip").decode(), "format"),
        ("u" + base64.urlsafe_b64encode(gzip.compress(bytes(1024))).decode(), "length"),
        (
            "u" + base64.urlsafe_b64encode(gzip.compress(bytes(16 * 1024 * 1024 + 8))).decode(),
            "length",
        ),  # bomb: 16 MiB + 8 expands past the cap
        ("u" + base64.urlsafe_b64encode(gzip.compress(bytes(16384))[:-9]).decode(), "format"),
    ],
)
def test_decode_refuses_bad_lists(encoded: str, reason: str) -> None:
    with pytest.raises(StatusListError) as err:
        StatusList.decode(encoded, StatusPurpose.REVOCATION)
    assert err.value.reason == reason


@pytest.mark.parametrize("index", [-1, MIN_ENTRIES, True, "3"])
def test_out_of_range_index(index: object) -> None:
    with pytest.raises(StatusListError) as err:
        StatusList(StatusPurpose.REVOCATION).get(index)  # type: ignore[arg-type]
    assert err.value.reason == "range"


@pytest.mark.parametrize("size", [MIN_ENTRIES - 8, MIN_ENTRIES + 1])
def test_bad_sizes(size: int) -> None:
    with pytest.raises(StatusListError):
        StatusList(StatusPurpose.REVOCATION, size)


def test_random_allocation_never_reuses() -> None:
    rng = random.Random(1)
    used: set[int] = set()
    for _ in range(2000):
        index = allocate_index(used, MIN_ENTRIES, rng)
        assert index not in used and 0 <= index < MIN_ENTRIES
        used.add(index)
    # Spread over the whole range, not sequential from 0.
    assert max(used) > MIN_ENTRIES * 0.9 and min(used) < MIN_ENTRIES * 0.1
    assert sorted(used) != list(range(len(used)))


def test_allocation_fills_a_nearly_full_list_then_reports_full() -> None:
    size = MIN_ENTRIES
    used = set(range(size)) - {5, 99_999}
    got = {allocate_index(used, size), allocate_index(used | {5}, size)}
    assert 99_999 in got
    assert allocate_index(used | {99_999}, size) == 5
    with pytest.raises(StatusListFull):
        allocate_index(set(range(size)), size)


def test_default_allocator_uses_the_system_csprng() -> None:
    picks = {allocate_index(set()) for _ in range(20)}
    assert len(picks) > 15


def test_credential_subject_and_entry_shapes() -> None:
    url = "https://hub.example/api/certs/v1/status/11440200MB2C12345W/revocation/1"
    status_list = StatusList(StatusPurpose.REVOCATION)
    status_list.set(42)
    subject = status_list_credential_subject(url, StatusPurpose.REVOCATION, status_list, 300_000)
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation" and subject["ttl"] == 300_000
    assert spec_decode_bit(subject["encodedList"], 42)
    entry = status_list_entry(url, StatusPurpose.SUSPENSION, 42)
    assert entry == {
        "id": f"{url}#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "suspension",
        "statusListIndex": "42",
        "statusListCredential": url,
    }
