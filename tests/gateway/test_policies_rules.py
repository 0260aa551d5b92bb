"""Pure rules of the front door: breaker states, keying, headers, trusted proxies."""

from __future__ import annotations

import base64
import json

from gateway.policies import rules
from gateway.policies.breaker import Breaker
from gateway.policies.idempotency import parse_key, request_digest
from gateway.settings import RateRule
from services.runtime.forwarding import client_address, parse_networks


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_doubles_its_break() -> None:
    clock = Clock()
    b = Breaker(threshold=3, base=2.0, ceiling=300.0, clock=clock)
    b.failure()
    b.failure()
    b.success()  # a success in between resets the run
    b.failure()
    b.failure()
    assert b.admit() is None and b.state == "closed"
    b.failure()
    assert b.state == "open"
    assert b.admit() == 2.0
    clock.now += 2.0
    assert b.state == "half-open"
    assert b.admit() is None  # the single probe
    assert b.admit() is not None  # a second caller waits while the probe runs
    b.failure()  # the probe failed: twice as long
    assert b.admit() == 4.0
    clock.now += 4.0
    assert b.admit() is None
    b.failure()
    assert b.admit() == 8.0
    clock.now += 8.0
    assert b.admit() is None
    b.success()
    assert b.state == "closed" and b.admit() is None


def test_breaker_break_is_capped() -> None:
    clock = Clock()
    b = Breaker(threshold=1, base=2.0, ceiling=300.0, clock=clock)
    b.failure()
    for _ in range(12):
        clock.now = b.open_until
        assert b.admit() is None
        b.failure()
    assert b.break_seconds() == 300.0
    assert b.admit() == 300.0


def test_a_lost_probe_does_not_keep_the_breaker_half_open_forever() -> None:
    clock = Clock()
    b = Breaker(threshold=1, base=1.0, probe_timeout=10.0, clock=clock)
    b.failure()
    clock.now += 1.0
    assert b.admit() is None  # probe admitted, its outcome never recorded
    clock.now += 11.0
    assert b.admit() is None  # another probe after the probe timeout


def _jwt(claims: dict[str, object]) -> str:
    def part(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"Bearer {part({'alg': 'none'})}.{part(claims)}.sig"


def test_caller_is_keyed_by_the_tokens_client_without_trusting_it() -> None:
    caller = rules.caller_of("10.1.1.1", _jwt({"azp": "county-a", "sub_type": "natural"}))
    assert caller == rules.Caller("10.1.1.1", "county-a", "natural")
    assert rules.caller_of("10.1.1.1", "Bearer not-a-jwt").client_id is None
    assert rules.caller_of("10.1.1.1", "Bearer a.!!!.c").client_id is None
    assert rules.caller_of("10.1.1.1", None).client_id is None
    rule = RateRule(path_prefix="/api/", limit=1, window=1, key="client")
    assert rules.counter_key("r", rule, caller) == "rl:r:c:county-a"
    assert rules.counter_key("r", rule, rules.Caller("10.1.1.1")) == "rl:r:ip:10.1.1.1"


def test_basic_user_is_the_client_id_at_token() -> None:
    creds = base64.b64encode(b"county-a:secret").decode()
    assert rules.basic_user(f"Basic {creds}") == "county-a"
    assert rules.basic_user("Basic !!!") is None
    assert rules.basic_user("Bearer x") is None


def test_rules_match_prefix_and_method() -> None:
    rule = RateRule(path_prefix="/api/identity/login/sms/send", methods=["POST"], limit=5, window=9)
    assert rules.applies(rule, "post", "/api/identity/login/sms/send")
    assert not rules.applies(rule, "GET", "/api/identity/login/sms/send")
    assert not rules.applies(rule, "POST", "/api/identity/login")
    assert rules.applies(RateRule(path_prefix="/api/", limit=1, window=1), "PUT", "/api/x")


def test_ratelimit_headers_follow_the_ietf_draft() -> None:
    assert rules.rate_headers("sms", 5, 600, 2, 599.2) == {
        "RateLimit-Policy": '"sms";q=5;w=600',
        "RateLimit": '"sms";r=3;t=600',
    }
    assert rules.rate_headers("sms", 5, 600, 9, 0.0)["RateLimit"] == '"sms";r=0;t=1'


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    trusted = parse_networks("10.0.0.0/8, 127.0.0.1")
    # Not from a trusted proxy: the header is whatever the client wrote.
    assert client_address("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9"
    # Through our proxy: the address it appended.
    assert client_address("10.0.0.5", "198.51.100.7", trusted) == "198.51.100.7"
    # A forged head of the chain is skipped: the right-most untrusted hop counts.
    assert client_address("10.0.0.5", "1.2.3.4, 198.51.100.7, 10.0.0.9", trusted) == (
        "198.51.100.7"
    )
    assert client_address("10.0.0.5", "garbage", trusted) == "10.0.0.5"
    assert client_address("10.0.0.5", None, trusted) == "10.0.0.5"
    assert client_address("127.0.0.1", "::1", parse_networks("")) == "127.0.0.1"


def test_idempotency_key_and_digest() -> None:
    assert parse_key('"abc-123"') == "abc-123"
    assert parse_key("abc") == "abc"
    assert parse_key("has space") == ""
    assert parse_key("x" * 201) == ""
    assert parse_key(None) is None
    a = request_digest("POST", "/api/x", "", b"{}")
    assert a == request_digest("POST", "/api/x", "", b"{}")
    assert a != request_digest("POST", "/api/x", "", b"{ }")
    assert a != request_digest("POST", "/api/y", "", b"{}")
