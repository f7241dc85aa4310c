"""Registrations a fifo:// listener refuses: paths the registering client could not have
made. Each is written by hand to a real well-known FIFO; the listener must open
nothing it should not (a file behind a symlink stays as it was) and go on serving."""

from __future__ import annotations

import logging
import os
import select
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hosepipe.address import parse_address
from hosepipe.transports.fifo import MAGIC
from hosepipe.transports.fifo_listener import FifoListener
from hosepipe.transports.listen import open_listener

NOBODY = 65534


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[FifoListener]:
    served = open_listener(parse_address(f"fifo://{tmp_path}/well"))
    assert isinstance(served, FifoListener)
    yield served
    served.close()


def register(listener: FifoListener, line: bytes) -> None:
    fd = os.open(listener.address.path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def private_dir(tmp_path: Path, name: str = "client") -> Path:
    directory = tmp_path / name
    directory.mkdir(mode=0o700)
    os.mkfifo(directory / "up", 0o600)
    os.mkfifo(directory / "down", 0o600)
    return directory


def line_for(directory: Path) -> bytes:
    return b"%s %d %s\n" % (MAGIC, os.getpid(), os.fsencode(directory))


def dir_is_a_symlink(tmp_path: Path) -> Path:
    link = tmp_path / "link"
    link.symlink_to(private_dir(tmp_path))
    return link


def dir_open_to_others(tmp_path: Path) -> Path:
    directory = private_dir(tmp_path)
    directory.chmod(0o755)
    return directory


def down_is_a_symlink_to_a_file(tmp_path: Path) -> Path:
    directory = private_dir(tmp_path)
    (directory / "down").unlink()
    (directory / "down").symlink_to(tmp_path / "victim")
    return directory


def up_is_not_a_fifo(tmp_path: Path) -> Path:
    directory = private_dir(tmp_path)
    (directory / "up").unlink()
    (directory / "up").write_text("a plain file")
    return directory


def fifo_of_another_user(tmp_path: Path) -> Path:
    directory = private_dir(tmp_path)
    os.chown(directory / "down", NOBODY, -1)
    return directory


def dir_of_a_user_the_mode_leaves_out(tmp_path: Path) -> Path:
    directory = private_dir(tmp_path)
    for path in (directory, directory / "up", directory / "down"):
        os.chown(path, NOBODY, -1)
    return directory


def client_gone_before_opening(tmp_path: Path) -> Path:
    return private_dir(tmp_path)  # nobody holds "down" open for reading: ENXIO


CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "dir-symlink": (dir_is_a_symlink, "is a symlink"),
    "dir-open": (dir_open_to_others, "is open to others (mode 0755)"),
    "down-symlink": (down_is_a_symlink_to_a_file, "'down' in the registered directory is a "
                                                  "symlink"),
    "up-file": (up_is_not_a_fifo, "'up' in the registered directory is not a FIFO"),
    "other-owner": (fifo_of_another_user, "'down' in the registered directory is not "
                                          "private to uid"),
    "outsider": (dir_of_a_user_the_mode_leaves_out, f"belongs to uid {NOBODY}, who may not "
                                                    "write to"),
    "client-gone": (client_gone_before_opening, "No such device or address"),
}
NEEDS_ROOT = {"other-owner", "outsider"}


@pytest.mark.parametrize("case", list(CASES))
def test_a_registration_naming_what_the_client_could_not_make_is_refused(
        listener: FifoListener, tmp_path: Path, case: str,
        caplog: pytest.LogCaptureFixture) -> None:
    if case in NEEDS_ROOT and os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    (tmp_path / "victim").write_text("untouched")
    make, reason = CASES[case]
    directory = make(tmp_path)
    with caplog.at_level(logging.WARNING, logger="hosepipe.server"):
        register(listener, line_for(directory))
        assert listener.accept_nowait() is None
    assert "registration refused" in caplog.text and reason in caplog.text
    assert (tmp_path / "victim").read_text() == "untouched"


@pytest.mark.parametrize("line", [b"hello\n", b"%s 12 relative/dir\n" % MAGIC,
                                  b"%s x /tmp\n" % MAGIC, b"\n\n"])
def test_lines_that_are_not_registrations_are_dropped(
        listener: FifoListener, line: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hosepipe.server"):
        register(listener, line)
        assert listener.accept_nowait() is None
    if line.strip():
        assert "not a registration" in caplog.text


def test_a_good_registration_after_bad_ones_is_served(
        listener: FifoListener, tmp_path: Path) -> None:
    register(listener, b"garbage\n")
    register(listener, line_for(dir_open_to_others(tmp_path)))
    directory = private_dir(tmp_path, "good")
    down = os.open(directory / "down", os.O_RDONLY | os.O_NONBLOCK)
    up = os.open(directory / "up", os.O_RDWR | os.O_NONBLOCK)
    try:
        register(listener, line_for(directory))
        accepted = listener.accept_nowait()
        assert accepted is not None
        stream, peer = accepted
        assert peer == f"pid {os.getpid()} uid {os.geteuid()}"
        assert os.read(down, 1) == b"\x06"  # the server's word that it has both ends
        stream.send_all(b"to the client", 5)
        assert os.read(down, 100) == b"to the client"
        os.write(up, b"to the server")
        assert stream.receive_some(5) == b"to the server"
        stream.close()
    finally:
        os.close(down)
        os.close(up)


def test_registrations_read_together_are_each_handed_out(
        listener: FifoListener, tmp_path: Path) -> None:
    """Two registrations in one read: the second keeps the listener readable."""
    held = []
    lines = b""
    for name in ("one", "two"):
        directory = private_dir(tmp_path, name)
        held.append(os.open(directory / "down", os.O_RDONLY | os.O_NONBLOCK))
        held.append(os.open(directory / "up", os.O_RDWR | os.O_NONBLOCK))
        lines += line_for(directory)
    try:
        register(listener, lines)
        first = listener.accept_nowait()
        assert first is not None
        first[0].close()
        assert select.select([listener.fileno()], [], [], 5)[0], "the second was forgotten"
        second = listener.accept_nowait()
        assert second is not None
        second[0].close()
        assert listener.accept_nowait() is None
        assert not select.select([listener.fileno()], [], [], 0)[0]
    finally:
        for fd in held:
            os.close(fd)
