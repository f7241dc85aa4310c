"""The GUI's parts that need no display: rates, names, settings, error lines, and the
network work the windows hand to their threads, against real servers."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosepipe.errors import ConnectError, RemoteError, Timeout
from hosepipe.gui import settings
from hosepipe.gui.getfile import address_of
from hosepipe.gui.remote import Endpoint, describe, fetch_any
from hosepipe.gui.tasks import Cancel, Cancelled
from hosepipe.gui.transfers import (
    CANCELLED,
    DONE,
    FAILED,
    RateMeter,
    Transfer,
    choose_dest,
    format_eta,
)
from tests.conftest import ServerProcess, start_server
from tests.gui.conftest import WAIT
from tests.gui.proxy import Throttle

HERE = Path(__file__).parent
DATA = bytes(range(256)) * 8192  # 2 MiB


def test_rate_meter_uses_the_last_seconds_only() -> None:
    meter = RateMeter(window=3.0)
    assert meter.rate() is None
    meter.add(0.0, 0)
    meter.add(1.0, 1000)
    assert meter.rate() == 1000
    for second in range(2, 11):
        meter.add(float(second), 1000 + (second - 1) * 5000)
    assert meter.rate() == pytest.approx(5000)  # the slow first second has gone
    meter.clear()
    assert meter.rate() is None


def test_format_eta() -> None:
    assert [format_eta(s) for s in (0, 9.6, 61, 3600 + 62)] == ["0:00", "0:10", "1:01",
                                                                "1:01:02"]


def test_choose_dest_never_overwrites_but_resumes(tmp_path: Path) -> None:
    assert choose_dest(tmp_path, "docs/a.txt") == tmp_path / "a.txt"
    (tmp_path / "a.txt").write_text("mine")
    assert choose_dest(tmp_path, "docs/a.txt") == tmp_path / "a (1).txt"
    (tmp_path / "a.txt.part").write_text("half")
    assert choose_dest(tmp_path, "a.txt") == tmp_path / "a.txt"  # its part is resumed


def test_settings_round_trip_and_bad_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    path = settings.config_path()
    assert path == tmp_path / "cfg" / "hosepipe" / "gui.json"
    assert settings.load() == settings.Settings()  # no file: defaults
    settings.save(settings.Settings(address="tcp://h:1", local_dir="/x"))
    assert settings.load().address == "tcp://h:1"
    assert [p.name for p in path.parent.iterdir()] == ["gui.json"]  # no temporary left
    path.write_text(json.dumps({"address": "tcp://h:2", "unknown": 1, "ca_file": None}))
    assert settings.load() == settings.Settings(address="tcp://h:2")
    path.write_text("{not json")
    assert settings.load() == settings.Settings()
    assert "ignoring" in caplog.text
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "a-file"))  # not a folder
    settings.save(settings.Settings())  # logged, never raised
    assert "cannot save the settings" in caplog.text


def test_address_of_the_form_fields() -> None:
    assert address_of("localhost", "50001") == "tcp://localhost:50001"
    assert address_of("::1", "7") == "tcp://[::1]:7"
    assert address_of("tls://files.example", "443") == "tls://files.example:443"
    for server, port in (("", "1"), ("h", "x"), ("h", "70000"), ("h", "0")):
        with pytest.raises(ValueError):
            address_of(server, port)


def test_describe_says_it_in_one_line() -> None:
    assert describe(Cancelled()) == "cancelled"
    assert describe(RemoteError("not-found", "no such file")) == \
        "the server refused: no such file (not-found)"
    assert describe(Timeout("nothing received for 3 s")) == "timed out: nothing received for 3 s"
    assert describe(FileNotFoundError(2, "No such file or directory", "/x")) == \
        "No such file or directory: /x"
    assert describe(ValueError("odd")) == "ValueError: odd"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    (root / "data.bin").write_bytes(DATA)
    return root


@pytest.fixture
def server(root: Path) -> Iterator[ServerProcess]:
    process = start_server("files@tcp://127.0.0.1:0", "--root", str(root))
    yield process
    process.stop()


def test_fetch_any_speaks_framed_to_hosepipe(server: ServerProcess, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    fetched = fetch_any(Endpoint(server.address("files")), "data.bin", tmp_path / "d.bin",
                        progress=lambda done, total: seen.append((done, total)), cancel=Cancel())
    assert (fetched.protocol, fetched.size) == ("framed", len(DATA))
    assert fetched.sha256 == hashlib.sha256(DATA).hexdigest()
    assert (tmp_path / "d.bin").read_bytes() == DATA
    assert seen[-1] == (len(DATA), len(DATA))


def test_fetch_any_falls_back_to_classic(root: Path, tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, str(HERE / "getfile_server.py")], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    try:
        port = int(process.stdout.readline())
        fetched = fetch_any(Endpoint(f"127.0.0.1:{port}"), "data.bin", tmp_path / "d.bin",
                            progress=lambda done, total: None, cancel=Cancel(),
                            hello_timeout=0.5)
    finally:
        process.kill()
        process.wait(WAIT)
        process.stdout.close()
    assert (fetched.protocol, fetched.size, fetched.sha256) == ("classic", len(DATA), None)
    assert (tmp_path / "d.bin").read_bytes() == DATA


def test_fetch_any_does_not_fall_back_when_refused(tmp_path: Path) -> None:
    with pytest.raises(ConnectError):
        fetch_any(Endpoint("127.0.0.1:1"), "x", tmp_path / "x", progress=lambda d, t: None,
                  cancel=Cancel())


def stalled(server: ServerProcess, proxy_budget: int) -> Throttle:
    host, port = server.address("files")[6:].rsplit(":", 1)
    return Throttle((host, int(port)), proxy_budget)


def test_cancel_wakes_a_transfer_blocked_in_a_receive(server: ServerProcess,
                                                      tmp_path: Path) -> None:
    proxy = stalled(server, 600_000)
    try:
        transfer = Transfer("get", "data.bin", tmp_path / "d.bin", Endpoint(proxy.address))
        transfer.start()
        outcome: list[str | BaseException] = []

        def work() -> None:
            try:
                outcome.append(transfer.run())
            except BaseException as exc:
                outcome.append(exc)

        worker = threading.Thread(target=work)
        worker.start()
        proxy.wait_delivered(600_000)
        transfer.cancel.cancel()
        worker.join(WAIT)
        assert not worker.is_alive()
        transfer.finish(outcome[0])
        assert transfer.state == CANCELLED
        assert 0 < transfer.part.stat().st_size < len(DATA)
        assert transfer.can_resume
        proxy.release()
        transfer.start()
        assert transfer.resumed
        transfer.finish(transfer.run())
        assert transfer.state == DONE
        assert transfer.message.startswith("2.0 MiB, SHA-256 verified, resumed at ")
        assert transfer.local.read_bytes() == DATA
    finally:
        proxy.close()


def test_a_refused_upload_fails_with_the_servers_reason(server: ServerProcess,
                                                        root: Path) -> None:
    transfer = Transfer("put", "copy.bin", root / "data.bin", Endpoint(server.address("files")))
    transfer.start()
    with pytest.raises(RemoteError) as raised:
        transfer.run()
    transfer.finish(raised.value)
    assert transfer.state == FAILED
    assert transfer.message.startswith("the server refused: ")
    assert not transfer.can_resume
