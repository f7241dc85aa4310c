"""``hosepipe probe`` against local servers only: hosepipe's own services, ``nc -l``,
greeting servers written here, a TLS server with a trustme certificate, a closed port,
a port whose connections never complete, and one that accepts and never speaks."""

from __future__ import annotations

import json
import select
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest
import trustme

from hosepipe.services.clocks import daytime_text, rfc868_now
from hosepipe.tools.decode import decode_banner
from hosepipe.tools.probe import PortReport, ProbeOptions, parse_ports, probe
from tests.conftest import ServerProcess, run_cli, start_server

OPTIONS = ProbeOptions(timeout=10, wait=0.5)  # generous: the machine is shared and slow
QUICK = ProbeOptions(timeout=1, wait=0.2)  # for ports that will never answer anyway
NC = shutil.which("nc")


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def by_port(reports: list[PortReport]) -> dict[int, PortReport]:
    return {r.port: r for r in reports}


# -- hosepipe's own services -------------------------------------------------------------------

@pytest.fixture(scope="module")
def hosepipe_services() -> Iterator[ServerProcess]:
    server = start_server(*(f"{name}@tcp://127.0.0.1:0" for name in
                            ("echo", "daytime", "time", "square", "upper")),
                          *(f"{name}@udp://127.0.0.1:0" for name in ("echo", "daytime", "time")))
    yield server
    assert server.stop() == 0


def test_hosepipe_services_over_tcp_decoded(hosepipe_services: ServerProcess) -> None:
    ports = {name: port_of(hosepipe_services.address(name))
             for name in ("echo", "daytime", "time", "square", "upper")}
    found = by_port(probe("127.0.0.1", tuple(ports.values()), OPTIONS))
    assert {name: (found[p].state, found[p].service) for name, p in ports.items()} == {
        "echo": ("open", "echo"), "daytime": ("open", "daytime"), "time": ("open", "time"),
        "square": ("open", "hosepipe"), "upper": ("open", "hosepipe")}
    clock = found[ports["time"]].fields
    assert clock["utc"][:4] == str(datetime.now(timezone.utc).year)
    assert abs(clock["offset_seconds"]) < 60  # the same machine's clock
    assert abs(found[ports["daytime"]].fields["offset_seconds"]) < 60
    upper = found[ports["upper"]]
    assert (upper.nudge, upper.fields["codec"], upper.fields["likely"]) == (
        "hello", "msgpack", "upper")
    assert found[ports["square"]].fields["nil_reply"].startswith("bad-request: ")
    assert found[ports["echo"]].nudge in ("hello", "http")  # either way it echoed


def test_hosepipe_services_over_udp(hosepipe_services: ServerProcess) -> None:
    ports = {name: port_of(hosepipe_services.address(name, "udp"))
             for name in ("echo", "daytime", "time")}
    found = by_port(probe("127.0.0.1", tuple(ports.values()), OPTIONS, udp=True))
    assert {name: (found[p].state, found[p].service) for name, p in ports.items()} == {
        "echo": ("open", "echo"), "daytime": ("open", "daytime"), "time": ("open", "time")}
    assert found[ports["time"]].nudge == "empty datagram"


def test_udp_closed_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (report,) = probe("127.0.0.1", (port,), OPTIONS, udp=True)
    assert report.state == "closed"


# -- greetings ---------------------------------------------------------------------------------

GREETINGS = {
    "ssh": b"SSH-2.0-HosepipeTest_1.0 probe-suite\r\n",
    "smtp": b"220-mail.test ESMTP HosepipeTest\r\n220 ready when you are\r\n",
    "ftp": b"220 HosepipeTest FTP server ready\r\n",
    "pop3": b"+OK HosepipeTest POP3 ready\r\n",
    "imap": b"* OK [CAPABILITY IMAP4rev1 STARTTLS] HosepipeTest ready\r\n",
    "nntp": b"201 news.test HosepipeTest ready (no posting)\r\n",
}


class _Greeter(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(self.server.greeting)  # type: ignore[attr-defined]
        self.request.settimeout(30)
        while self.request.recv(4096):  # until the prober closes
            pass


class _Http(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data and (chunk := self.request.recv(4096)):
            data += chunk
        if data.startswith(b"HEAD / HTTP/1.0\r\n"):
            self.request.sendall(b"HTTP/1.0 204 No Content\r\nServer: HosepipeTest/2.1\r\n\r\n")


class _Servers(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True  # server_close joins every handler: no thread outlives the test


@pytest.fixture
def greeters() -> Iterator[dict[str, int]]:
    servers = {}
    for name, greeting in GREETINGS.items():
        server = _Servers(("127.0.0.1", 0), _Greeter)
        server.greeting = greeting  # type: ignore[attr-defined]
        servers[name] = server
    servers["http"] = _Servers(("127.0.0.1", 0), _Http)
    threads = [_serve(server) for server in servers.values()]
    yield {name: server.server_address[1] for name, server in servers.items()}
    for server in servers.values():
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join()


def _serve(server: socketserver.BaseServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    return thread


def test_greetings_decoded_with_their_codes(greeters: dict[str, int]) -> None:
    found = by_port(probe("127.0.0.1", tuple(greeters.values()), OPTIONS))
    got = {name: found[port] for name, port in greeters.items()}
    assert {name: (r.state, r.service) for name, r in got.items()} == {
        name: ("open", name) for name in greeters}
    assert got["ssh"].fields == {"protocol": "2.0", "software": "HosepipeTest_1.0",
                                 "comments": "probe-suite"}
    assert got["smtp"].fields["code"] == 220 and got["smtp"].fields["host"] == "mail.test"
    assert got["ftp"].fields["code"] == 220
    assert got["pop3"].fields["status"] == "+OK"
    assert got["imap"].fields["capabilities"] == ["IMAP4rev1", "STARTTLS"]
    assert (got["nntp"].fields["code"], got["nntp"].fields["posting"]) == (201, False)
    http = got["http"]
    assert (http.nudge, http.fields["status"], http.fields["server"]) == (
        "http", 204, "HosepipeTest/2.1")


@pytest.mark.interop
@pytest.mark.skipif(NC is None, reason="netcat-openbsd missing (.ci/run installs it)")
def test_an_nc_listener_banner() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert NC is not None
    nc = subprocess.Popen([NC, "-l", "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert nc.stdin is not None
        nc.stdin.write(b"SSH-2.0-NetcatBanner_0.1\r\n")
        nc.stdin.flush()
        deadline = time.monotonic() + 30
        while not any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                      for c in psutil.Process(nc.pid).net_connections("tcp")):
            assert time.monotonic() < deadline and nc.poll() is None, "nc never listened"
            time.sleep(0.02)
        (report,) = probe("127.0.0.1", (port,), OPTIONS)
    finally:
        nc.kill()
        nc.wait()
        assert nc.stdin is not None
        nc.stdin.close()
    assert (report.state, report.service, report.nudge) == ("open", "ssh", "")
    assert report.fields["software"] == "NetcatBanner_0.1"


# -- TLS ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    directory = tmp_path_factory.mktemp("probe-pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    cert = ca.issue_cert("127.0.0.1", common_name="probe.test")
    cert.private_key_and_cert_chain_pem.write_to_path(str(directory / "server.pem"))
    server = start_server("upper@tls://127.0.0.1:0", "--cert", str(directory / "server.pem"),
                          "--model", "thread")
    yield port_of(server.address("upper", "tls")), directory / "ca.pem"
    assert server.stop() == 0


def test_tls_handshake_untrusted_certificate_still_read(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    (report,) = probe("127.0.0.1", (port,), OPTIONS)
    assert (report.state, report.service, report.nudge) == ("open", "tls", "tls")
    fields = report.fields
    assert fields["version"] in ("TLSv1.2", "TLSv1.3")
    assert "CN=probe.test" in fields["subject"]
    assert fields["verified"] is False and fields["verify_error"]
    assert fields["days_left"] > 0 and not fields["self_signed"]
    assert datetime.fromisoformat(fields["not_after"]) > datetime.now(timezone.utc)


def test_tls_handshake_trusted_when_the_ca_is_known(tls_server: tuple[int, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    port, ca = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the system's CAs, for this test: ours
    (report,) = probe("127.0.0.1", (port,), OPTIONS)
    assert (report.service, report.fields["verified"]) == ("tls", True)


# -- closed, filtered, silent ----------------------------------------------------------------

def test_closed_filtered_and_silent_are_told_apart() -> None:
    with socket.socket() as gone:
        gone.bind(("127.0.0.1", 0))
        closed = gone.getsockname()[1]
    full = socket.create_server(("127.0.0.1", 0), backlog=0)  # a queue of one, never accepted
    filler = socket.create_connection(full.getsockname(), timeout=30)  # takes that one place:
    mute = socket.create_server(("127.0.0.1", 0), backlog=16)  # further SYNs are dropped
    ports = {"closed": closed, "filtered": full.getsockname()[1],  # the kernel accepts for
             "silent": mute.getsockname()[1]}                      # mute, which never speaks
    try:
        found = by_port(probe("127.0.0.1", tuple(ports.values()), QUICK))
    finally:
        for sock in (filler, full, mute):
            sock.close()
    assert {state: found[port].state for state, port in ports.items()} == {
        "closed": "closed", "filtered": "filtered", "silent": "silent"}
    assert found[ports["silent"]].answers == {}  # no nudge got a byte back


class _AllAtOnce(socketserver.BaseRequestHandler):
    """Speaks only while the first connections to all three servers are open at once."""

    def handle(self) -> None:
        server = self.server
        first = not server.met  # type: ignore[attr-defined]
        server.met = True  # type: ignore[attr-defined]
        self.request.settimeout(30)
        if first:
            with server.together:  # type: ignore[attr-defined]
                server.together.count += 1  # type: ignore[attr-defined]
        try:
            if first:
                self._speak_when_all_are_here(server.together)  # type: ignore[attr-defined]
            while self.request.recv(4096):
                pass
        finally:
            if first:  # counted until the prober has left
                with server.together:  # type: ignore[attr-defined]
                    server.together.count -= 1  # type: ignore[attr-defined]

    def _speak_when_all_are_here(self, together: threading.Condition) -> None:
        while not select.select([self.request], [], [], 0.01)[0]:  # until the prober leaves
            if together.count == 3:  # type: ignore[attr-defined]
                self.request.sendall(b"SSH-2.0-Together_1.0\r\n")
                return


@pytest.mark.parametrize(("concurrency", "state"), [(3, "open"), (1, "silent")])
def test_concurrency_limits_the_ports_probed_at_once(concurrency: int, state: str) -> None:
    together = threading.Condition()
    together.count = 0  # type: ignore[attr-defined]
    servers = [_Servers(("127.0.0.1", 0), _AllAtOnce) for _ in range(3)]
    for server in servers:
        server.together, server.met = together, False  # type: ignore[attr-defined]
    threads = [_serve(server) for server in servers]
    try:  # three at once: all speak; one at a time: none can
        reports = probe("127.0.0.1", tuple(s.server_address[1] for s in servers),
                        ProbeOptions(timeout=10 if concurrency == 3 else 1, wait=0.5,
                                     concurrency=concurrency))
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join()
    assert [r.state for r in reports] == [state] * 3


# -- the command line --------------------------------------------------------------------------

def test_cli_table_and_json(hosepipe_services: ServerProcess) -> None:
    time_port, echo_port = (port_of(hosepipe_services.address(n)) for n in ("time", "echo"))
    ports = f"{time_port},{echo_port}"
    table = run_cli("probe", "127.0.0.1", "--ports", ports, "--timeout", "10")
    assert table.returncode == 0, table.stderr
    assert f"{time_port}/tcp" in table.stdout and "RFC 868" in table.stdout
    out = run_cli("probe", "127.0.0.1", "--ports", ports, "--timeout", "10", "--json")
    assert out.returncode == 0, out.stderr
    reports = json.loads(out.stdout)
    assert [(r["port"], r["service"]) for r in reports] == sorted(
        [(time_port, "time"), (echo_port, "echo")])


@pytest.mark.parametrize(("args", "status", "message"), [
    (["--ports", "0-5"], 2, "is outside 1-65535"),
    (["--ports", "http"], 2, "is not a port or a range"),
    (["--timeout", "0"], 2, "--timeout must be positive"),
])
def test_cli_bad_input(args: list[str], status: int, message: str) -> None:
    result = run_cli("probe", "127.0.0.1", *args)
    assert result.returncode == status
    assert message in result.stderr


def test_cli_unknown_host() -> None:
    result = run_cli("probe", "no-such-host.invalid", "--ports", "80")
    assert result.returncode == 1
    assert result.stderr.startswith("hosepipe: error: cannot resolve 'no-such-host.invalid'")


# -- the decoders, on bytes -------------------------------------------------------------------

def test_decoders_on_known_bytes() -> None:
    now = 1_795_287_486.7
    clock = decode_banner(rfc868_now(now), ended=True, now=now)
    assert (clock.service, clock.fields["offset_seconds"]) == ("time", 0)
    assert clock.fields["utc"] == datetime.fromtimestamp(int(now), timezone.utc).isoformat()
    late = decode_banner(rfc868_now(now - 30), ended=True, now=now)
    assert late.fields["offset_seconds"] == -30
    day = decode_banner(daytime_text(now), now=now)
    assert (day.service, day.fields["offset_seconds"]) == ("daytime", 0)
    nist = decode_banner(b"60580 24-11-21 10:00:00 00 0 0 123.4 UTC(NIST) *\r\n")
    assert nist.fields["parsed"] == "2024-11-21T10:00:00+00:00"
    assert decode_banner(b"\x01\x02\xff").fields == {"hex": "0102ff"}
    hello = decode_banner(b"\x00\x00\x00\x1bHOSEPIPE/1 ok codec=msgpack")
    assert (hello.service, hello.fields["codec"]) == ("hosepipe", "msgpack")


def test_parse_ports() -> None:
    assert parse_ports("80, 22,8000-8002,22") == (22, 80, 8000, 8001, 8002)

