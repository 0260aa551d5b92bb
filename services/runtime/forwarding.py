"""The client's address of a request, trusting ``X-Forwarded-For`` only from known proxies.

A client can write any ``X-Forwarded-For`` it likes, so the header is believed only as far
as it was appended by proxies we trust (``HUB_TRUSTED_PROXIES``, CIDRs): the chain is read
right to left, trusted hops are skipped, and the first untrusted address is the client.
A request whose peer is not a trusted proxy is taken at its peer address, header ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks; a bare address is a /32 (/128)."""
    items = spec.split(",")
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def is_trusted(address: str | None, trusted: Sequence[Network]) -> bool:
    if not address or not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in trusted)


def forwarded_chain(header: str | None) -> list[str]:
    return [part.strip() for part in (header or "").split(",") if part.strip()]


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The address of the client that made the request (see the module docstring)."""
    if not is_trusted(peer, trusted):
        return peer
    for hop in reversed(forwarded_chain(forwarded_for)):
        if not is_trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return peer


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
