"""``hosepipe gui``: uploads through the file dialog, errors shown in the window (a
refused connection, server errors, a checksum mismatch), and the authkey field."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from tests.conftest import ServerProcess, start_server
from tests.gui.conftest import Gui, State
from tests.gui.test_client import in_state, listed, row, transfer


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "report.txt").write_text("the report\n")
    (root / "gone.txt").write_text("soon gone\n")
    return root


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def serve(root: Path, *extra: str) -> ServerProcess:
    return start_server("files@tcp://127.0.0.1:0", "--root", str(root), *extra)


def dialog_has_focus(state: State) -> bool:
    return state["focus"].startswith(".__tk_filedialog") and state["focus"].endswith(".ent")


def test_upload_through_the_file_dialog(gui: Callable[..., Gui], root: Path, tmp_path: Path,
                                        downloads: Path, shots: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    local = tmp_path / "song.ogg"
    local.write_bytes(bytes(range(256)) * 8192)
    server = serve(root, "--uploads", str(uploads))
    try:
        window = gui("-a", server.address("files"), "-d", str(downloads))
        state = window.wait("the listing", listed("gone.txt", "report.txt"))
        window.click(state["upload"])
        window.wait("the file dialog, its name field focused", dialog_has_focus)
        window.shot(shots, "client-upload-dialog")
        window.type(str(local))
        window.key("Return")
        state = window.wait("the upload finished", in_state("done"))
        assert transfer(state)["title"] == "↑ song.ogg"
        assert transfer(state)["detail"] == "2.0 MiB stored as song.ogg, SHA-256 verified"
        assert (uploads / "song.ogg").read_bytes() == local.read_bytes()
        assert window.close() == 0
    finally:
        server.stop()


def test_errors_are_shown_in_the_window(gui: Callable[..., Gui], root: Path, downloads: Path,
                                        closed_port: int, shots: Path) -> None:
    window = gui("-a", f"127.0.0.1:{closed_port}", "-d", str(downloads))
    state = window.wait("an error", lambda s: s["status"]["error"])
    assert state["status"]["text"] == (f"cannot connect to tcp://127.0.0.1:{closed_port}: "
                                       "Connection refused")
    window.shot(shots, "client-refused")
    server = serve(root)  # read-only: no uploads
    try:
        window.click(state["connect_box"])  # the address field is still the refused one
        state = window.wait("the error again", lambda s: s["status"]["error"]
                            and s["status"]["text"].startswith("cannot connect"))
        address = server.address("files")
        window.key("ctrl+l")
        window.wait("the address focused", lambda s: s["focus"].endswith("entry"))
        window.key("ctrl+a", "ctrl+k")  # Tk: start of line, then delete to the end
        window.type(address)
        window.key("Return")
        state = window.wait("the listing", listed("gone.txt", "report.txt"))
        (root / "gone.txt").unlink()  # listed, then deleted on the server
        window.click(row(state, "gone.txt"), double=True)
        state = window.wait("the refused download", in_state("failed"))
        detail = transfer(state)["detail"]
        assert detail.startswith("the server refused: ") and detail.endswith("(not-found)")
        assert transfer(state)["error"]
        assert transfer(state)["action"] == "Retry"
        window.key("ctrl+u")
        window.wait("the file dialog", dialog_has_focus)
        window.type(str(root / "report.txt"))
        window.key("Return")
        state = window.wait("the refused upload", lambda s: len(s["transfers"]) == 2
                            and in_state("failed")(s))
        assert transfer(state)["detail"] == ("the server refused: this server takes no "
                                             "uploads (refused)")
        assert state["status"] == {"text": "report.txt: " + transfer(state)["detail"],
                                   "error": True}
        window.shot(shots, "client-errors")
        assert window.close() == 0
    finally:
        server.stop()


def test_a_part_that_does_not_match_is_deleted_and_retried(
        gui: Callable[..., Gui], root: Path, downloads: Path) -> None:
    (downloads / "report.txt.part").write_text("the repXXX")  # not what the server has
    server = serve(root)
    try:
        window = gui("-a", server.address("files"), "-d", str(downloads))
        state = window.wait("the listing", listed("gone.txt", "report.txt"))
        window.click(row(state, "report.txt"), double=True)
        state = window.wait("the mismatch", in_state("failed"))
        assert "does not match" in transfer(state)["detail"]
        assert transfer(state)["detail"].endswith("(Retry downloads it again)")
        assert not (downloads / "report.txt.part").exists()
        assert not (downloads / "report.txt").exists()
        window.click(transfer(state)["action_box"])
        state = window.wait("the fresh download", in_state("done"))
        assert (downloads / "report.txt").read_text() == "the report\n"
        assert window.close() == 0
    finally:
        server.stop()


def test_the_authkey_file(gui: Callable[..., Gui], root: Path, tmp_path: Path,
                          downloads: Path) -> None:
    key = tmp_path / "key"
    key.write_text("a key of sixteen bytes or more\n")
    server = serve(root, "--authkey-file", str(key))
    try:
        window = gui("-a", server.address("files"), "-d", str(downloads))
        state = window.wait("an error", lambda s: s["status"]["error"])
        assert "requires an authkey" in state["status"]["text"]
        assert window.close() == 0
        window = gui("-a", server.address("files"), "--authkey-file", str(key))
        state = window.wait("the listing", listed("gone.txt", "report.txt"))
        assert state["connect"]["Authkey file"] == str(key)
        window.click(row(state, "report.txt"), double=True)
        window.wait("the download", in_state("done"))
        assert (downloads / "report.txt").read_text() == "the report\n"
        assert window.close() == 0
    finally:
        server.stop()


@pytest.fixture
def pki(tmp_path: Path) -> tuple[Path, Path]:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "server.pem"))
    return tmp_path / "ca.pem", tmp_path / "server.pem"


def test_tls_with_the_ca_file(gui: Callable[..., Gui], root: Path, downloads: Path,
                              pki: tuple[Path, Path]) -> None:
    ca, cert = pki
    server = start_server("files@tls://127.0.0.1:0", "--root", str(root), "--cert", str(cert),
                          "--model", "thread")
    try:
        address = server.address("files", "tls")
        window = gui("-a", address, "-d", str(downloads))
        state = window.wait("an error", lambda s: s["status"]["error"])
        assert "CERTIFICATE_VERIFY_FAILED" in state["status"]["text"].upper().replace(" ", "_")
        assert window.close() == 0
        window = gui("-a", address, "--ca", str(ca), "-d", str(downloads))
        state = window.wait("the listing", listed("gone.txt", "report.txt"))
        assert state["connect"]["CA file"] == str(ca)
        window.click(row(state, "report.txt"), double=True)
        window.wait("the download", in_state("done"))
        assert (downloads / "report.txt").read_text() == "the report\n"
        assert window.close() == 0
    finally:
        server.stop()
