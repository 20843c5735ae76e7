"""The outside world's view of a public name (SOLUTIONS §1.9): does it resolve, and may Let's Encrypt still issue
certificates under its parent domain this week.

Both questions go to configured servers, never to whatever the host happens to use: ``DNS_RESOLVER`` (a real DNS
client, dnspython, over UDP with TCP fallback) and ``CT_LOG_URL`` (a certificate-transparency search in crt.sh's
JSON shape). Locally and in tests both are the grid emulator's, so what a test deploys is what they answer.
Every call has a timeout. A CT log that fails tells nothing about a parent: the caller skips that parent only.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import dns.exception
import dns.resolver
import requests
import structlog

log = structlog.get_logger(__name__)

# Let's Encrypt issues at most 50 certificates per registered domain per week ("certificates per registered
# domain"); each distinct first label under a parent is one certificate.
WEEKLY_CERTIFICATES = 50
CT_WINDOW = timedelta(days=7)


class DnsUnavailable(Exception):
    """The resolver did not answer (timeout, refused, no server): nothing is known about the name."""


def _resolver(address: str, timeout: float) -> dns.resolver.Resolver:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:  # a host name in DNS_RESOLVER: its address from the system, once per query
        try:
            host = str(socket.getaddrinfo(host, None)[0][4][0])
        except OSError as exc:
            raise DnsUnavailable(f"the resolver {address} has no address ({exc})") from None
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def resolves(address: str, name: str, timeout: float) -> bool:
    """Whether ``name`` exists in the DNS as ``address`` (host:port) sees it: an A record, or any record at all
    (a name with only AAAA or MX records is taken just the same).

    Raises:
        DnsUnavailable: the resolver did not answer within ``timeout`` seconds.
    """
    try:
        _resolver(address, timeout).resolve(name, "A", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return False
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration, OSError) as exc:
        raise DnsUnavailable(f"the resolver {address} did not answer for {name} ({type(exc).__name__})") from None
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(f"the resolver {address} could not resolve {name} ({type(exc).__name__})") from None
    return True


def ipv4_of(address: str, host: str, timeout: float) -> list[str]:
    """The IPv4 addresses of ``host`` (empty when it has none).

    Raises:
        DnsUnavailable: the resolver did not answer within ``timeout`` seconds.
    """
    try:
        answer = _resolver(address, timeout).resolve(host, "A", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return []
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(f"the resolver {address} did not answer for {host} ({type(exc).__name__})") from None
    except OSError as exc:
        raise DnsUnavailable(f"the resolver {address} is unreachable ({exc})") from None
    return sorted({rdata.address for rdata in answer})


def _entry_time(value: Any) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)  # crt.sh writes UTC without an offset


def weekly_labels(entries: Iterable[Any], parent: str, now: datetime) -> int:
    """Distinct first labels under ``parent`` among the CT entries logged in the last 7 days (crt.sh's JSON:
    ``name_value`` holds one name per line, ``entry_timestamp`` when the log took it)."""
    since = now - CT_WINDOW
    suffix = "." + parent.lower().rstrip(".")
    labels: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        stamp = _entry_time(entry.get("entry_timestamp"))
        if stamp is None or stamp < since:
            continue
        for name in str(entry.get("name_value") or "").lower().split():
            name = name.removeprefix("*.").rstrip(".")
            if name.endswith(suffix):
                labels.add(name.split(".")[0])
    return len(labels)


def budget_left(ct_log_url: str, parent: str, timeout: tuple[float, float], now: datetime | None = None) -> bool | None:
    """Whether Let's Encrypt may still issue under ``parent`` this week (fewer than 50 distinct labels in the CT
    log over the last 7 days); None when the log cannot tell (error, timeout, not crt.sh's JSON)."""
    try:
        response = requests.get(ct_log_url, params={"q": parent, "output": "json"}, timeout=timeout)
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        entries = response.json()
        if not isinstance(entries, list):
            raise ValueError("not a list")
    except (requests.RequestException, ValueError) as exc:
        log.warning("the certificate-transparency log did not answer; the parent domain is skipped",
                    parent=parent, error=str(exc)[:200])  # fmt: skip
        return None
    return weekly_labels(entries, parent, now or datetime.now(UTC)) < WEEKLY_CERTIFICATES
