"""Rules about the grid that more than one service applies, defined once: when a node counts as up (GRID_API §5.4),
which address range a user network may have (SOLUTIONS §3.2), what a domain name, a domain label and a WireGuard
public key must look like (SOLUTIONS §3.9-§3.11): the wizard refuses what the deployer would refuse, in the same
words.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import time

# A node is up while its last heartbeat (the explorer's ``updated``) is at most this old (GRID_API §5.4).
NODE_UP_SECONDS = 600
NODE_UP_WORDS = f"no heartbeat in the last {NODE_UP_SECONDS // 60} minutes"

PRIVATE_IPV4 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
NETWORK_RANGE_HELP = "a private (RFC 1918) /16, e.g. 10.20.0.0/16 or 172.16.0.0/16"


def node_is_up(updated: float | int | None, now: float | None = None) -> bool:
    """True when a node whose last heartbeat was at ``updated`` (epoch seconds) is up at ``now``."""
    return int(updated or 0) >= (time.time() if now is None else now) - NODE_UP_SECONDS


def network_range_problem(value: str) -> str | None:
    """Why ``value`` cannot be a user network's range (a network-aligned RFC 1918 IPv4 /16), or None when it can."""
    try:
        net = ipaddress.IPv4Network(value)
    except ValueError:
        return "not an IPv4 network like 10.20.0.0/16"
    if net.prefixlen != 16 or not any(net.subnet_of(block) for block in PRIVATE_IPV4):
        return f"must be {NETWORK_RANGE_HELP}"
    return None


_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
DOMAIN_HELP = "a domain name such as example.com: letters, digits and dashes in dot-separated labels"
LABEL_HELP = "one DNS label: letters, digits and dashes (not at either end), at most 63 characters, no dots"
WIREGUARD_KEY_HELP = "a WireGuard public key is the 44-character base64 of 32 bytes, as 'wg pubkey' prints it"


def normal_name(value: str) -> str:
    """A DNS name or label as it is stored: trimmed, lower-case, without the root's trailing dot."""
    return value.strip().lower().removesuffix(".")


def domain_problem(name: str) -> str | None:
    """Why ``name`` (in :func:`normal_name` form) is not a DNS name we put in a gateway's zone, or None.

    ASCII only (an internationalised name in its ``xn--`` form), at most 253 characters, at least two labels of
    1-63 letters, digits and inner dashes, and a top-level label of letters (or ``xn--``): nothing else reaches a
    zone, an entrypoint or an instruction shown to the user — no spaces, no shell characters, no unicode.
    """
    if not name.isascii():
        return "use the ASCII (xn--) form of an internationalised domain name"
    if len(name) > 253:
        return "a domain name is at most 253 characters"
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels) or not _TLD.fullmatch(labels[-1]):
        return f"not a domain name: {DOMAIN_HELP}"
    return None


def label_problem(label: str) -> str | None:
    """Why ``label`` (in :func:`normal_name` form) is not one DNS label (the part a user puts before a parent)."""
    if "." in label:
        return "no dots: the label is the part before the domain"
    if not label.isascii() or not _LABEL.fullmatch(label):
        return f"not a domain label: {LABEL_HELP}"
    return None


def wireguard_key_problem(key: str) -> str | None:
    """Why ``key`` is not a WireGuard (Curve25519) public key in ``wg pubkey`` form (base64 of 32 bytes), or None."""
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return WIREGUARD_KEY_HELP
    if len(raw) != 32 or base64.b64encode(raw).decode() != key or raw == bytes(32):
        return WIREGUARD_KEY_HELP
    return None
