"""``hosepipe gui``, the file client, in a real window under Xvfb against a real
``hosepipe serve files``: listing, sorting, folders, downloads (with the event loop
probed while 64 MiB arrive), cancel and resume, uploads, errors, closing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hosepipe.units import format_size
from tests.conftest import ServerProcess, start_server
from tests.gui.conftest import Gui, State
from tests.gui.proxy import Throttle

BIG = 64 * 1024 * 1024
LATE = 0.25  # seconds the 50 ms probe may run late while a transfer runs (generous)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def big_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("gui-root")
    try:
        (root / "docs" / "deep").mkdir(parents=True)
        (root / "docs" / "report.txt").write_text("the report\n")
        (root / "z.txt").write_bytes(b"z" * 10)
        (root / "a.txt").write_bytes(b"a" * 3000)
        with open(root / "big.bin", "wb") as file:
            for _ in range(BIG // (1 << 20)):
                file.write(os.urandom(1 << 20))
        yield root
    finally:  # 64 MiB: not left for pytest's retention
        shutil.rmtree(root)


@pytest.fixture
def server(big_root: Path) -> Iterator[ServerProcess]:
    process = start_server("files@tcp://127.0.0.1:0", "--root", str(big_root))
    yield process
    process.stop()


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


def names(state: State) -> list[str]:
    return [row["values"][0] for row in state.get("rows", [])]


def row(state: State, name: str) -> list[int]:
    return next(r["box"] for r in state["rows"] if r["values"][0] == name)


def listed(*expected: str) -> Callable[[State], bool]:
    """The listing shows ``expected``, drawn (every row has its place on the screen)."""
    return lambda state: names(state) == list(expected) and all(
        r["box"] for r in state["rows"])


ROOT = ("docs/", "a.txt", "big.bin", "z.txt")


def transfer(state: State, index: int = -1) -> dict[str, Any]:
    return state["transfers"][index] if state.get("transfers") else {}


def in_state(wanted: str, index: int = -1) -> Callable[[State], bool]:
    return lambda state: transfer(state, index).get("state") == wanted


def test_listing_sorts_opens_folders_and_is_remembered(
        gui: Callable[..., Gui], server: ServerProcess, downloads: Path, shots: Path) -> None:
    window = gui("-a", server.address("files"), "-d", str(downloads))
    state = window.wait("the root listing, folders first", listed(*ROOT))
    assert state["path"] == "/"
    assert not state["status"]["error"]
    assert state["status"]["text"] == f"{server.address('files')} /: 1 folders, 3 files"
    window.click(state["heading_boxes"]["size"])
    state = window.wait("sorted by size", listed("docs/", "z.txt", "a.txt", "big.bin"))
    assert state["headings"]["size"] == "Size ▲"
    window.click(state["heading_boxes"]["size"])
    state = window.wait("sorted by size, largest first",
                        listed("docs/", "big.bin", "a.txt", "z.txt"))
    assert state["headings"]["size"] == "Size ▼"
    window.click(row(state, "docs/"), double=True)
    state = window.wait("the docs folder", listed("deep/", "report.txt"))
    assert state["path"] == "/docs"
    window.shot(shots, "client-folder")
    window.click(state["up"])
    window.wait("the root again", lambda s: s["path"] == "/" and len(names(s)) == 4)
    assert window.close() == 0
    again = gui()  # no -a: the address, like the folder, comes from the last run
    state = again.wait("the remembered server's listing", lambda s: len(names(s)) == 4)
    assert state["connect"]["Address"] == server.address("files")
    assert state["folder"] == str(downloads)
    assert again.close() == 0


def test_a_64_mib_download_leaves_the_window_responsive(
        gui: Callable[..., Gui], server: ServerProcess, big_root: Path, downloads: Path,
        shots: Path) -> None:
    window = gui("-a", server.address("files"), "-d", str(downloads))
    state = window.wait("the listing", listed(*ROOT))
    window.click(row(state, "big.bin"), double=True)
    state = window.wait("the download finished", in_state("done"))
    assert transfer(state)["detail"] == "64 MiB, SHA-256 verified"
    assert sha256(downloads / "big.bin") == sha256(big_root / "big.bin")
    assert not (downloads / "big.bin.part").exists()
    probe = state["probe"]
    (shots / "responsiveness.json").write_text(json.dumps(probe) + "\n")
    assert probe["busy_samples"] >= 1, probe
    assert probe["max_late_busy"] <= LATE, probe
    window.shot(shots, "client")
    assert window.close() == 0


@pytest.fixture
def throttle(server: ServerProcess) -> Iterator[Throttle]:
    host, port = server.address("files")[6:].rsplit(":", 1)
    proxy = Throttle((host, int(port)), None)
    yield proxy
    proxy.close()


def start_stalled_download(window: Gui, throttle: Throttle, stall_at: int) -> State:
    """Double-click big.bin with the relay letting only ``stall_at`` bytes through."""
    state = window.wait("the listing", listed(*ROOT))
    throttle.limit(stall_at)
    window.click(row(state, "big.bin"), double=True)
    throttle.wait_delivered(throttle.budget or 0)
    return window.wait("the download under way", lambda s: in_state("running")(s)
                       and transfer(s)["value"] > 0)


def test_cancel_keeps_the_part_and_resume_completes_it(
        gui: Callable[..., Gui], throttle: Throttle, big_root: Path, downloads: Path,
        shots: Path) -> None:
    window = gui("-a", throttle.address, "-d", str(downloads))
    start_stalled_download(window, throttle, 5 * 1024 * 1024)
    throttle.limit(1024 * 1024)  # one MiB more: now there is a rate, and a time left
    state = window.wait("the rate and time left", lambda s: re.fullmatch(
        r"6(?:\.0)? MiB of 64 MiB · [0-9.]+ (B|KiB|MiB)/s · [0-9:]+ left",
        transfer(s)["detail"]) is not None)
    assert transfer(state)["action"] == "Cancel"
    window.click(transfer(state)["action_box"])
    state = window.wait("the download cancelled", in_state("cancelled"))
    part = downloads / "big.bin.part"
    kept = part.stat().st_size
    assert 0 < kept < BIG
    assert transfer(state)["value"] == kept
    assert transfer(state)["action"] == "Resume"
    assert transfer(state)["detail"].endswith("; part kept for Resume")
    window.shot(shots, "client-cancelled")
    throttle.release()
    window.click(transfer(state)["action_box"])
    state = window.wait("the download resumed and finished", in_state("done"))
    resumed = f"64 MiB, SHA-256 verified, resumed at {format_size(kept)}"
    assert transfer(state)["detail"] == resumed
    assert sha256(downloads / "big.bin") == sha256(big_root / "big.bin")
    assert not part.exists()
    assert len(state["transfers"]) == 1  # the same row, resumed
    assert window.close() == 0


@pytest.mark.parametrize(("how", "status"), [("ctrl+q", 0), ("SIGINT", 130), ("SIGTERM", 0)])
def test_closing_cancels_and_keeps_the_part(
        gui: Callable[..., Gui], throttle: Throttle, big_root: Path, downloads: Path,
        how: str, status: int) -> None:
    window = gui("-a", throttle.address, "-d", str(downloads))
    start_stalled_download(window, throttle, 3 * 1024 * 1024)
    assert window.close(how) == status, window.output()
    assert window.states[-1]["event"] == "closed"
    assert transfer(window.states[-1])["state"] == "cancelled"
    kept = (downloads / "big.bin.part").stat().st_size
    assert 0 < kept < BIG
    assert window.output() == ""  # no traceback, no noise
    throttle.release()
    again = gui()  # the next run finds the part and asks only for the rest
    state = again.wait("the listing", listed(*ROOT))
    again.click(row(state, "big.bin"), double=True)
    state = again.wait("the download resumed", in_state("done"))
    assert transfer(state)["detail"].endswith(f"resumed at {format_size(kept)}")
    assert sha256(downloads / "big.bin") == sha256(big_root / "big.bin")
    assert again.close() == 0
