"""TLS with certificates made by trustme: every model that holds it, and every failure
failing fast and clearly."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from hosepipe import AsyncClient, Client, ConnectError, HosepipeError, LineClient, Timeout
from hosepipe.client import open_stream
from hosepipe.files.client import FilesClient
from hosepipe.transports.tls import client_context
from tests.conftest import ServerProcess, run_cli, start_server
from tests.waiting import DEADLINE, recv_until


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    client_cert: Path
    other_ca: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, other = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    other.cert_pem.write_to_path(str(directory / "other-ca.pem"))
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.private_key_and_cert_chain_pem.write_to_path(str(directory / "server.pem"))
    client = ca.issue_cert("client@hosepipe.test")
    client.private_key_and_cert_chain_pem.write_to_path(str(directory / "client.pem"))
    return Pki(directory / "ca.pem", directory / "server.pem", directory / "client.pem",
               directory / "other-ca.pem")


def trusting(pki: Pki, *, cert: bool = False) -> ssl.SSLContext:
    return client_context(ca=str(pki.ca), cert=str(pki.client_cert) if cert else None)


@pytest.fixture(scope="module", params=["iterative", "thread", "fork", "select", "async"])
def tls_server(request: pytest.FixtureRequest, pki: Pki,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("tls-root")
    (root / "data.bin").write_bytes(os.urandom(3_000_001))
    server = start_server("upper@tls://127.0.0.1:0", "files@tls://127.0.0.1:0",
                          "--root", str(root), "--cert", str(pki.server_cert),
                          "--model", request.param, "--handshake-timeout", "1")
    server.root = root  # type: ignore[attr-defined]
    yield server
    assert server.stop() == 0


def test_framed_and_classic_over_tls(tls_server: ServerProcess, pki: Pki) -> None:
    address = tls_server.address("upper", "tls")
    with Client(address, tls=trusting(pki)) as client:
        assert client.request("knights") == "KNIGHTS"
    line = LineClient(open_stream(address, tls=trusting(pki)))
    try:
        line.send_line("who say ni")
        assert line.read_line() == "WHO SAY NI"
    finally:
        line.close()


def test_file_over_tls_is_encrypted_not_sendfiled(tls_server: ServerProcess, pki: Pki,
                                                  tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSEPIPE_TLS_CA", str(pki.ca))  # how the CLI commands find the CA
    with FilesClient(tls_server.address("files", "tls")) as files:
        files.get("data.bin", tmp_path / "data.bin")
    root: Path = tls_server.root  # type: ignore[attr-defined]
    assert (tmp_path / "data.bin").read_bytes() == (root / "data.bin").read_bytes()


def test_async_client_over_tls(tls_server: ServerProcess, pki: Pki) -> None:
    async def main() -> str:
        client = await AsyncClient.connect(tls_server.address("upper", "tls"),
                                           tls=trusting(pki))
        try:
            return str(await client.request("ni"))
        finally:
            await client.close()

    assert asyncio.run(main()) == "NI"


# "fast": the failure itself is reported, not a timeout (no timed assertions: a loaded
# machine may take seconds for anything)

def timed_out(exc: BaseException) -> bool:
    return isinstance(exc, Timeout) or "timed out" in str(exc)


def test_untrusted_certificate_fails_fast(tls_server: ServerProcess, pki: Pki) -> None:
    with pytest.raises(ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        Client(tls_server.address("upper", "tls"),
               tls=client_context(ca=str(pki.other_ca)))


def test_plaintext_to_a_tls_port_fails_fast(tls_server: ServerProcess) -> None:
    plain = tls_server.address("upper", "tls").replace("tls://", "tcp://")
    with pytest.raises(HosepipeError) as failed:
        Client(plain, timeout=DEADLINE)
    assert not timed_out(failed.value), failed.value


def test_tls_to_a_plaintext_port_fails_fast(pki: Pki) -> None:
    server = start_server("upper@tcp://127.0.0.1:0")
    try:
        with pytest.raises(ConnectError, match="TLS") as failed:
            Client(server.address("upper").replace("tcp://", "tls://"), tls=trusting(pki),
                   timeout=DEADLINE)
        assert not timed_out(failed.value), failed.value
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["thread", "select", "async"])
def test_mutual_tls(pki: Pki, model: str) -> None:
    server = start_server("upper@tls://127.0.0.1:0", "--cert", str(pki.server_cert),
                          "--ca", str(pki.ca), "--verify-client", "--model", model)
    address = server.address("upper", "tls")
    try:
        with Client(address, tls=trusting(pki, cert=True)) as client:
            assert client.request("mutual") == "MUTUAL"
        with pytest.raises(HosepipeError), \
                Client(address, tls=trusting(pki), timeout=5) as client:  # no client cert
            client.request("anyone?")
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("model", ["iterative", "thread", "fork", "select", "async"])
def test_a_silent_tls_peer_meets_the_idle_timeout(pki: Pki, model: str) -> None:
    # under thread, the handshake runs in the loop and a worker then receives blocking:
    # a kernel timeout on a blocking TLS socket is retried inside the read, never
    # raised, so a silent peer held its worker until shutdown
    server = start_server("upper@tls://127.0.0.1:0", "--cert", str(pki.server_cert),
                          "--model", model, "--idle-timeout", "0.5")
    host, port = server.address("upper", "tls")[6:].rsplit(":", 1)
    try:
        raw = socket.create_connection((host, int(port)), timeout=DEADLINE)
        with trusting(pki).wrap_socket(raw, server_hostname=host) as sock:
            sock.sendall(b"quiet now\n")
            assert recv_until(sock, b"\n") == b"QUIET NOW\n"
            assert recv_until(sock, lambda data: False, timeout=10) == b""  # closed
    finally:
        assert server.stop() == 0


def test_tls_address_without_a_certificate_is_refused() -> None:
    result = run_cli("serve", "upper@tls://127.0.0.1:0", "--model", "thread")
    assert result.returncode == 2  # a usage error: nothing was served
    assert "needs a certificate" in result.stderr
