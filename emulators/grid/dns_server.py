"""The gateways' authoritative DNS on a loopback UDP+TCP port, served by dnslib from the live state (dns_zones.py).

The sockets are bound by :func:`bind` in gunicorn's arbiter before the worker starts, so a port already in use is
a one-line start-up error; :func:`serve` runs in the worker, where the World (store, clock offset, runtime knobs)
lives, as two daemon threads that end with the worker. One query at a time per protocol: each thread keeps its
own SQLite connections (store.py), a query takes about a millisecond, and a TCP client gets ``TCP_TIMEOUT``
seconds to send its query before the next one is served.

Every query first replays what became due (World.read_session), like an HTTP request, so a subdomain whose node
has just reported Ok resolves and one whose deletion was confirmed does not. With the runtime knob ``dns_outage``
UDP queries go unanswered (the client times out) and TCP connections are closed without an answer.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from dataclasses import dataclass
from typing import Any

import structlog
from dnslib import AAAA, NS, QTYPE, RCODE, RR, SOA, A, DNSLabel, DNSRecord
from dnslib.server import DNSHandler, DNSLogger

from emulators.grid import dns_zones
from emulators.grid.dns_zones import Record
from emulators.grid.world import World

log = structlog.get_logger("grid-emulator")

TCP_TIMEOUT = 2.0
_OPCODE_QUERY = 0


class _Resolver:
    """dnslib's resolver interface: a reply for each parsed request."""

    def __init__(self, world: World) -> None:
        self.world = world

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply(ra=0, aa=1)  # authoritative, no recursion
        reply.header.ad = 0  # nothing here is DNSSEC-validated
        if request.header.opcode != _OPCODE_QUERY or len(request.questions) != 1:
            reply.header.rcode = RCODE.NOTIMP
            return reply
        qname, qtype = str(request.q.qname), QTYPE.get(request.q.qtype, str(request.q.qtype))
        try:
            with self.world.read_session() as (conn, _now):
                answer = dns_zones.resolve(conn, qname, qtype)
        except Exception:  # a broken query must be a SERVFAIL, never a silent thread death
            log.exception("dns query failed", name=qname, type=qtype)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        reply.header.rcode = getattr(RCODE, answer.rcode.value)
        if answer.rcode == dns_zones.Rcode.REFUSED:
            reply.header.aa = 0
        for record in answer.answer:
            reply.add_answer(_rr(record))
        for record in answer.authority:
            reply.add_auth(_rr(record))
        for record in answer.additional:
            reply.add_ar(_rr(record))
        log.info("dns", name=qname, type=qtype, rcode=answer.rcode.value, answers=len(answer.answer),
                 protocol=handler.protocol)  # fmt: skip
        return reply


def _rr(record: Record) -> RR:
    rdata: Any
    if record.rtype == "A":
        rdata = A(str(record.value))
    elif record.rtype == "AAAA":
        rdata = AAAA(str(record.value))
    elif record.rtype == "NS":
        rdata = NS(str(record.value) + ".")
    else:
        assert isinstance(record.value, tuple), record
        mname, rname, *times = record.value
        rdata = SOA(f"{mname}.", f"{rname}.", tuple(times))
    return RR(DNSLabel(record.name + "."), getattr(QTYPE, record.rtype), rdata=rdata, ttl=record.ttl)


class _Handler(DNSHandler):  # type: ignore[misc]
    def setup(self) -> None:
        if isinstance(self.request, socket.socket):  # TCP: never let one silent client hold the server
            self.request.settimeout(TCP_TIMEOUT)

    def handle(self) -> None:
        if self.server.resolver.world.settings.current.dns_outage:
            return  # injected outage: UDP unanswered, TCP closed unanswered
        try:
            super().handle()
        except OSError as exc:  # a client that went away or timed out
            log.info("dns connection dropped", error=str(exc))


class _UdpServer(socketserver.UDPServer):
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[DNSHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


class _TcpServer(socketserver.TCPServer):
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[DNSHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


@dataclass
class DnsSockets:
    """The bound (not yet serving) UDP and TCP servers of one port."""

    udp: socketserver.BaseServer
    tcp: socketserver.BaseServer
    port: int


def bind(host: str, port: int) -> DnsSockets:
    """Bind UDP and TCP on ``host:port`` (port 0: a free port, the same number for both). Raises OSError."""
    tcp = _TcpServer((host, port), _Handler)
    try:
        udp = _UdpServer((host, tcp.server_address[1]), _Handler)
    except OSError:
        tcp.server_close()
        raise
    return DnsSockets(udp, tcp, int(tcp.server_address[1]))


def serve(sockets: DnsSockets, world: World) -> None:
    """Answer queries from ``world`` on both sockets, each in a daemon thread of this process."""
    quiet = DNSLogger(log="error", logf=lambda text: log.warning("dns", detail=text))
    for server in (sockets.udp, sockets.tcp):
        server.resolver = _Resolver(world)  # type: ignore[attr-defined]
        server.logger = quiet  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, name="grid-dns", daemon=True).start()
    log.info("dns server listening", port=sockets.port, protocols="udp+tcp")
