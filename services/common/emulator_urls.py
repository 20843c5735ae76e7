"""How an emulator's address is recognised, so that a production process refuses one (settings.py).

The bundled emulators (``emulators/grid``, ``emulators/connect``) stand in for the grid explorer, 3Bot Connect,
OpenKYC, crt.sh and a public resolver. None of the real systems lives on this machine or under an emulator's
name, and only the emulators serve ``/_emulator/``. An address is an emulator's when:

- its path has an ``_emulator`` segment (the emulators' unauthenticated control and fake endpoints, e.g. the
  certificate-transparency log ``/_emulator/ct``), whatever the host;
- its host is loopback: ``localhost``/``*.localhost``, 127.0.0.0/8 in any spelling ``getaddrinfo`` accepts
  (``127.1``, ``2130706433``), ``::1``, ``::ffff:127.0.0.1``, or the unspecified ``0.0.0.0``/``::``
  (``make run`` binds the emulators to 127.0.0.1);
- the first label of its host has the word ``emulator`` (``grid-emulator``, ``connect-emulator``: the compose
  services; not ``emulators-docs``).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import unquote, urlsplit


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            # The legacy spellings the resolver accepts for IPv4 (127.1, 0x7f.1, 2130706433).
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def emulator_name(host: str) -> bool:
    """Whether the first label of ``host`` names an emulator: the word ``emulator`` between dashes/underscores or
    the label's ends (the compose services ``grid-emulator``, ``connect-emulator``, ``deploy_grid-emulator_1``)."""
    return re.search(r"(^|[-_])emulator($|[-_])", host.lower().split(".")[0]) is not None


def emulator_host(host: str) -> str | None:
    """Why ``host`` (a name or an address, without port) is an emulator's; None when it is not."""
    host = host.strip("[]").rstrip(".").lower()
    if _loopback(host):
        return "a loopback host"
    if emulator_name(host):
        return "an emulator's host name"
    return None


def emulator_url(url: str) -> str | None:
    """Why ``url`` is an emulator's address (see the module's rules); None when it is not."""
    parts = urlsplit(url)
    if "_emulator" in unquote(parts.path).split("/"):
        return "an /_emulator/ endpoint"
    return emulator_host(parts.hostname or "")
