"""``hosepipe gui --form`` and the Form class, in real windows under Xvfb, typed into
with real key events."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, start_server
from tests.gui.conftest import WAIT, Gui, State, xdotool
from tests.gui.proxy import Throttle

HERE = Path(__file__).parent


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "report.txt").write_text("the report\n")
    (root / "photo.bin").write_bytes(bytes(range(256)) * 4096)
    return root


@pytest.fixture
def server(root: Path) -> Iterator[ServerProcess]:
    process = start_server("files@tcp://127.0.0.1:0", "--root", str(root))
    yield process
    process.stop()


@pytest.fixture
def classic_server(root: Path) -> Iterator[int]:
    """The chapter's own getfile server (threads, a path line, bytes until close)."""
    process = subprocess.Popen([sys.executable, str(HERE / "getfile_server.py")], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    try:
        yield int(process.stdout.readline())
    finally:
        process.kill()
        process.wait(WAIT)
        process.stdout.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound (so nobody else takes it), not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def port_of(server: ServerProcess) -> str:
    return server.address("files").rsplit(":", 1)[1]


def form_ready(state: State) -> bool:
    return state.get("mode") == "form" and state["focus"].endswith("entry")


def saved(state: State) -> bool:
    return state["status"]["text"].startswith(("Saved", "Failed")) and not state["busy"]


def test_form_fetches_a_file_typed_into_it(gui: Callable[..., Gui], server: ServerProcess,
                                           tmp_path: Path, shots: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    window = gui("--form")
    window.wait("the form, first field focused", form_ready)
    window.type("127.0.0.1")  # the first field's text is selected: typing replaces it
    for text in (port_of(server), "docs/report.txt", str(folder)):
        window.key("Tab")
        window.type(text)
    typed = {"Server": "127.0.0.1", "Port": port_of(server), "File": "docs/report.txt",
             "Local folder": str(folder)}
    window.wait("the typed fields", lambda s: s["fields"] == typed)
    window.key("Return")
    state = window.wait("the outcome", saved)
    text = state["status"]["text"]
    digest = hashlib.sha256(b"the report\n").hexdigest()
    assert text == (f"Saved {folder / 'report.txt'} (11 B): framed protocol, "
                    f"SHA-256 verified ({digest})"), text
    assert not state["status"]["error"]
    assert (folder / "report.txt").read_text() == "the report\n"
    window.shot(shots, "form")
    assert window.close() == 0
    # the fields are remembered for the next run
    again = gui("--form")
    state = again.wait("the form", form_ready)
    assert state["fields"]["Port"] == port_of(server)
    assert state["fields"]["Local folder"] == str(folder)
    assert again.close() == 0


def test_form_falls_back_to_the_classic_protocol(gui: Callable[..., Gui], classic_server: int,
                                                 tmp_path: Path) -> None:
    window = gui("--form", "-a", f"127.0.0.1:{classic_server}", "-d", str(tmp_path),
                 "--hello-timeout", "1")
    window.wait("the form", form_ready)
    window.key("Tab", "Tab")
    window.type("photo.bin")
    window.key("Return")
    state = window.wait("the outcome", saved)
    text = state["status"]["text"]
    assert text == (f"Saved {tmp_path / 'photo.bin'} (1.0 MiB): classic protocol, NOT "
                    "verified (it carries no checksum)"), text
    assert (tmp_path / "photo.bin").read_bytes() == bytes(range(256)) * 4096
    window.key("ctrl+a", "ctrl+k")  # File is focused again after a fetch
    window.type("missing.bin")
    window.key("Return")
    state = window.wait("the second outcome", lambda s: saved(s) and "missing" in
                        s["status"]["text"])
    assert state["status"]["error"]
    assert state["status"]["text"].endswith("The server sent nothing: in this protocol a "
                                            "refused path and an empty file look alike.")
    assert window.close() == 0


def test_form_shows_errors(gui: Callable[..., Gui], server: ServerProcess, closed_port: int,
                           tmp_path: Path) -> None:
    window = gui("--form", "-a", f"127.0.0.1:{closed_port}", "-d", str(tmp_path))
    window.wait("the form", form_ready)
    window.key("Tab", "Tab")
    window.type("docs/report.txt")
    window.key("Return")
    state = window.wait("the outcome", saved)
    assert state["status"]["error"]
    assert state["status"]["text"] == (f"Failed: cannot connect to tcp://127.0.0.1:{closed_port}"
                                       ": Connection refused")
    assert state["focus"].endswith("entry3")  # back in File, for the next try
    assert window.close() == 0


def test_form_says_what_the_server_refused(gui: Callable[..., Gui], server: ServerProcess,
                                           tmp_path: Path) -> None:
    window = gui("--form", "-a", server.address("files"), "-d", str(tmp_path))
    window.wait("the form", form_ready)
    window.key("Tab", "Tab")
    window.type("docs/missing.txt")
    window.key("Return")
    state = window.wait("the outcome", saved)
    assert state["status"]["error"]
    assert state["status"]["text"].startswith("Failed: the server refused: "), state["status"]
    assert "(not-found)" in state["status"]["text"]
    assert not list(tmp_path.glob("missing*"))
    assert window.close("SIGTERM") == 0


def readme_form_example() -> str:
    """The README's example of ``ask``, as written there."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```$", readme, re.S | re.M)
    return next(block for block in blocks if "from hosepipe.gui import ask" in block)


def focused_window(title: str, deadline: float) -> str:
    """The id of the window called ``title``, once it has the keyboard."""
    while True:
        found = subprocess.run(["xdotool", "search", "--name", f"^{title}$"],
                               capture_output=True, text=True, timeout=WAIT).stdout.split()
        focus = subprocess.run(["xdotool", "getwindowfocus"], capture_output=True, text=True,
                               timeout=WAIT).stdout.strip()
        if found and focus in found:
            return focus
        assert time.monotonic() < deadline, f"no focused window {title!r}"
        time.sleep(0.02)


@pytest.mark.parametrize(("keys", "printed"), [
    (["Return"], "{'Name': 'Arthur', 'Age': '37', 'Job': 'knight'}"),
    (["Escape"], "None"),
])
def test_ask_returns_the_values(display: str, keys: list[str], printed: str) -> None:
    process = subprocess.Popen([sys.executable, "-c", readme_form_example()],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        focused_window("Who goes there", time.monotonic() + WAIT)
        xdotool("type", "--delay", "15", "Arthur")
        xdotool("key", "Tab")
        xdotool("type", "--delay", "15", "37")
        xdotool("key", *keys)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (out.strip(), err, process.returncode) == (printed, "", 0)


def test_escape_cancels_a_fetch_and_submit_resumes_it(
        gui: Callable[..., Gui], server: ServerProcess, root: Path, tmp_path: Path) -> None:
    host, port = server.address("files")[6:].rsplit(":", 1)
    relay = Throttle((host, int(port)), None)
    try:
        window = gui("--form", "-a", relay.address, "-d", str(tmp_path))
        window.wait("the form", form_ready)
        window.key("Tab", "Tab")
        window.type("photo.bin")
        relay.limit(300_000)
        window.key("Return")
        relay.wait_delivered(300_000)
        window.wait("the fetch under way", lambda s: s["busy"] and s["progress"][0] > 0)
        window.key("Escape")  # cancels the fetch, not the window
        state = window.wait("the fetch cancelled", lambda s: not s["busy"])
        assert state["status"] == {"text": "Cancelled.", "error": False}
        kept = (tmp_path / "photo.bin.part").stat().st_size
        assert 0 < kept < 1024 * 1024
        relay.release()
        window.key("Return")
        state = window.wait("the outcome", saved)
        assert "framed protocol, SHA-256 verified" in state["status"]["text"]
        assert (tmp_path / "photo.bin").read_bytes() == (root / "photo.bin").read_bytes()
        assert not (tmp_path / "photo.bin.part").exists()
        window.key("Escape")  # nothing running: Escape closes the window
        assert window.process.wait(WAIT) == 0
    finally:
        relay.close()
