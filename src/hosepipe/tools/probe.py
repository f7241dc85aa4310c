"""``hosepipe probe HOST``: connect to many ports at once and say what answers.

Every port is probed concurrently (asyncio, at most ``concurrency`` at a time), each
within its own deadline (``timeout``). Over TCP a port is:

* ``closed``: the connection was refused;
* ``filtered``: the connection did not complete by the deadline (nothing answered);
* ``open``: it spoke first (a banner, read for ``wait`` seconds and then until the peer
  is quiet) or answered a nudge (:mod:`hosepipe.tools.nudges`);
* ``silent``: it accepted the connection but neither spoke nor answered any nudge;
* ``error``: any other failure to connect (an unreachable network), with its reason.

A port known to need a particular nudge gets that one first (``http`` for 80, ``tls``
for 443, ``echo`` for 7, hosepipe's ``hello`` for its framed services); any other
silent port gets ``hello``, ``tls`` and ``http`` at once, each on its own connection
(the first reuses the one already open). What came back is decoded by
:mod:`hosepipe.tools.decode`. Over UDP (``udp=True``) a port gets one datagram (empty,
or the echo test line for echo ports): an answer means ``open``, an ICMP "port
unreachable" ``closed``, and silence ``open|filtered``, as nmap says.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from hosepipe.address import InetAddress, parse_address
from hosepipe.errors import ConnectError, UsageError
from hosepipe.services import DEFAULT_ADDRESSES
from hosepipe.tools.decode import Finding, decode_banner
from hosepipe.tools.nudges import ECHO_TEST, NUDGES, Conn, close, read_banner

__all__ = ["DEFAULT_TCP_PORTS", "DEFAULT_UDP_PORTS", "PortReport", "ProbeOptions", "parse_ports",
           "probe"]


def _hosepipe_ports(scheme: str) -> tuple[int, ...]:
    addresses = (parse_address(a) for values in DEFAULT_ADDRESSES.values() for a in values)
    return tuple(sorted({a.port for a in addresses
                         if isinstance(a, InetAddress) and a.scheme == scheme}))


DEFAULT_TCP_PORTS = (7, 13, 21, 22, 25, 37, 80, 110, 119, 143, 443, *_hosepipe_ports("tcp"))
DEFAULT_UDP_PORTS = (7, 13, 37, *_hosepipe_ports("udp"))
ECHO_PORTS = (7, 50007)
_KNOWN = {7: "echo", 50007: "echo", 80: "http", 8000: "http", 8080: "http", 443: "tls",
          8443: "tls", 465: "tls", 993: "tls", 995: "tls",
          **{port: "hello" for port in (50001, 50002, 50004, 50008, 50009)}}
_GENERIC = ("hello", "tls", "http")
_PREFERENCE = ("tls", "hello", "echo", "http")  # which answer wins when several identify


@dataclass(frozen=True)
class ProbeOptions:
    timeout: float = 3.0  # per port, everything included
    wait: float = 1.0  # for a server that speaks first, before nudging it
    concurrency: int = 64  # ports probed at once
    nudge: bool = True  # send the nudges at all


@dataclass
class PortReport:
    """One port's outcome; ``fields`` are the decoded details, ``answers`` what each
    nudge got (a summary per nudge)."""

    port: int
    transport: str
    state: str
    service: str = ""
    summary: str = ""
    nudge: str = ""  # what made it speak; "" when it spoke first
    seconds: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def found(self, finding: Finding, nudge: str = "") -> PortReport:
        self.state, self.service, self.summary = "open", finding.service, finding.summary
        self.fields, self.nudge = finding.fields, nudge
        return self


def parse_ports(text: str) -> tuple[int, ...]:
    """``22,80,8000-8010`` as sorted port numbers."""
    ports: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise UsageError(f"{part!r} is not a port or a range like 8000-8010")
        first, last = int(low), int(high) if sep else int(low)
        if not 1 <= first <= last <= 65535:
            raise UsageError(f"{part!r} is outside 1-65535 (or backwards)")
        ports.update(range(first, last + 1))
    if not ports:
        raise UsageError("no ports given")
    return tuple(sorted(ports))


async def _probe_tcp(host: str, port: int, options: ProbeOptions) -> PortReport:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.timeout
    report = PortReport(port, "tcp", "open")
    try:
        conn = await asyncio.wait_for(asyncio.open_connection(host, port), options.timeout)
    except ConnectionRefusedError:
        report.state = "closed"
        return report
    except asyncio.TimeoutError:
        report.state = "filtered"
        return report
    except OSError as exc:
        report.state, report.summary = "error", exc.strerror or str(exc)
        return report
    try:
        data, ended = await read_banner(conn[0], options.wait, deadline)
        if data:
            return report.found(decode_banner(data, port, ended=ended))
        if ended:
            report.summary = "closed the connection without a word"
            return report
        return await _nudged(host, port, deadline, conn, report=report, options=options)
    finally:
        await close(conn[1])


async def _nudged(host: str, port: int, deadline: float, conn: Conn, *, report: PortReport,
                  options: ProbeOptions) -> PortReport:
    """Send the nudges for ``port``; the best answer decides what the port is."""
    report.state = "silent"
    if not options.nudge:
        return report
    first = (_KNOWN[port],) if port in _KNOWN else _GENERIC
    answers = await _run(host, port, deadline, conn, first)
    if not any(f.service for f in answers.values()) and port in _KNOWN:  # not what we thought
        answers.update(await _run(host, port, deadline, None,
                                  tuple(n for n in _GENERIC if n not in first)))
    report.answers = {name: f.summary for name, f in answers.items()}
    ranked = sorted(answers.items(), key=lambda item: (not item[1].service,
                                                       _PREFERENCE.index(item[0])))
    return report.found(ranked[0][1], ranked[0][0]) if ranked else report


async def _run(host: str, port: int, deadline: float, conn: Conn | None,
               names: tuple[str, ...]) -> dict[str, Finding]:
    """Run nudges at once (the first plain one may use ``conn``) until one identifies
    the service; the others are then cancelled. What each got, by name."""
    reusable = next((n for n in names if n != "tls"), None)
    tasks = {asyncio.ensure_future(NUDGES[name](host, port, deadline,
                                                conn if name == reusable else None)): name
             for name in names}
    found: dict[str, Finding] = {}
    pending = set(tasks)
    try:
        while pending and not any(f.service for f in found.values()):
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.exception() and (finding := task.result()) is not None:
                    found[tasks[task]] = finding
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    return found


async def _probe_udp(host: str, port: int, options: ProbeOptions) -> PortReport:
    loop = asyncio.get_running_loop()
    report = PortReport(port, "udp", "open|filtered")
    deadline = loop.time() + options.timeout
    try:  # a plain socket: asyncio's datagram transport drops empty datagrams
        family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        report.state, report.summary = "error", exc.strerror or str(exc)
        return report
    with sock:
        sock.setblocking(False)
        for payload in (ECHO_TEST,) if port in ECHO_PORTS else (b"", ECHO_TEST):
            try:
                sock.connect(sockaddr)
                sock.send(payload)
                answer = await asyncio.wait_for(loop.sock_recv(sock, 65535),
                                                max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                return report
            except ConnectionRefusedError:  # ICMP port unreachable
                report.state = "closed"
                return report
            except OSError as exc:
                report.state, report.summary = "error", exc.strerror or str(exc)
                return report
            if answer or payload:  # an empty answer to an empty datagram: try the echo test
                return report.found(_datagram_finding(answer, payload, port),
                                    "echo" if payload else "empty datagram")
    return report


def _datagram_finding(answer: bytes, sent: bytes, port: int) -> Finding:
    if sent and answer == sent:
        return Finding("echo", "echoed the datagram (RFC 862)", {"sent": sent.decode()})
    return decode_banner(answer, port, ended=True)  # a datagram is whole


async def probe_async(host: str, ports: tuple[int, ...], options: ProbeOptions, *,
                      udp: bool = False) -> list[PortReport]:
    """Probe ``ports`` of ``host`` at once; reports in port order."""
    limit = asyncio.Semaphore(options.concurrency)
    one = _probe_udp if udp else _probe_tcp

    async def bounded(port: int) -> PortReport:
        async with limit:
            started = time.monotonic()
            report = await one(host, port, options)
            report.seconds = round(time.monotonic() - started, 3)
            return report

    return list(await asyncio.gather(*(bounded(port) for port in ports)))


def probe(host: str, ports: tuple[int, ...] | None = None, options: ProbeOptions | None = None,
          *, udp: bool = False) -> list[PortReport]:
    """Probe ``host`` (default ports: :data:`DEFAULT_TCP_PORTS` or :data:`DEFAULT_UDP_PORTS`)."""
    options = options or ProbeOptions()
    if options.timeout <= 0 or options.wait < 0 or options.concurrency < 1:
        raise UsageError("probe: --timeout must be positive, --wait not negative, "
                         "--concurrency at least 1")
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {host!r}: {exc.strerror}") from exc
    chosen = ports or (DEFAULT_UDP_PORTS if udp else DEFAULT_TCP_PORTS)
    return asyncio.run(probe_async(host, chosen, options, udp=udp))
