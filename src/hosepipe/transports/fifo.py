"""fifo:///PATH: named pipes on one machine, many clients at once (Stevens' way).

The server creates a well-known FIFO at PATH (mode 0600, or ``?mode=0660`` to let a
group in) and reads registrations from it. A client makes a private directory (0700)
holding two FIFOs of its own, ``up`` (client to server) and ``down`` (server to
client), and registers it with one write of under ``PIPE_BUF`` bytes, which the kernel
keeps whole however many clients write at once::

    HOSEPIPE-FIFO/1 PID /tmp/hosepipe-fifo-XXXXXX\\n

The order of opens is what keeps the server from ever blocking. Before registering,
the client opens ``down`` for reading and ``up`` for reading and writing (a writer
from the start: a client that dies now is seen as an end of stream at once). The
server (:mod:`hosepipe.transports.fifo_listener`) opens ``up`` for reading and
``down`` for writing, both ``O_NONBLOCK`` (``ENXIO``: the client is gone, the
registration is dropped), and writes one byte, ``ACK``, to ``down``. Seeing it, the
client opens ``up`` write-only, closes its read-write descriptor and removes the
directory: from then on the conversation is two descriptors on each side and nothing
on disk, so a client killed at any point leaves nothing behind in the server.

A registration the server refuses (see the listener) is only logged there: the client
cannot be told on paths it may not have made, and its connect times out.
"""

from __future__ import annotations

import errno
import os
import select
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from hosepipe.errors import AddressError, ConnectError
from hosepipe.transports.streams import FdStream

if TYPE_CHECKING:
    from hosepipe.transports.fifo_listener import FifoListener

__all__ = ["ACK", "MAGIC", "SCHEMES", "FifoAddress", "connect", "parse", "serve"]

SCHEMES = ("fifo",)
MAGIC = b"HOSEPIPE-FIFO/1"
ACK = b"\x06"
DEFAULT_MODE = 0o600
_REASONS = {
    errno.ENXIO: "no server is listening there",
    errno.ENOENT: "no such FIFO",
    errno.EACCES: "permission denied (the server's mode= lets only its owner or group in)",
}


@dataclass(frozen=True)
class FifoAddress:
    """A well-known FIFO; ``mode`` is what the server creates it with."""

    path: str
    mode: int = DEFAULT_MODE
    scheme: str = "fifo"
    is_datagram = False

    def __str__(self) -> str:
        query = f"?mode={self.mode:04o}" if self.mode != DEFAULT_MODE else ""
        return f"fifo://{self.path}{query}"


def parse(scheme: str, rest: str, original: str) -> FifoAddress:
    path, _, query = (rest[2:] if rest.startswith("//") else rest).partition("?")
    if not path.startswith("/") or path.endswith("/"):
        raise AddressError(f"{original!r}: expected fifo:///PATH (an absolute path)")
    options = parse_qs(query, keep_blank_values=True)
    mode_text = options.pop("mode", [oct(DEFAULT_MODE)])[-1]
    if options:
        raise AddressError(f"{original!r}: the only option is mode=OCTAL (e.g. mode=0660)")
    try:
        mode = int(mode_text, 8)
    except ValueError:
        raise AddressError(f"{original!r}: mode {mode_text!r} is not octal") from None
    if mode > 0o777 or mode & 0o600 != 0o600:
        raise AddressError(f"{original!r}: mode {mode_text!r} must be at most 0777 and "
                           "give the owner read and write (0600)")
    return FifoAddress(path, mode)


# -- the client side -----------------------------------------------------------------------
def _open_well_known(address: FifoAddress) -> int:
    try:
        fd = os.open(address.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0, exc.strerror)
        raise ConnectError(f"cannot connect to {address}: {reason}") from exc
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConnectError(f"cannot connect to {address}: it is not a FIFO")
    return fd


def _wait(fd: int, event: int, deadline: float | None) -> bool:
    """Wait for ``event`` on ``fd`` until ``deadline``; False on timeout."""
    poll = select.poll()
    poll.register(fd, event)
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    return bool(poll.poll(None if left is None else left * 1000))


def _register(address: FifoAddress, well: int, line: bytes, deadline: float | None) -> None:
    while True:
        try:
            os.write(well, line)  # under PIPE_BUF: whole, or not at all
            return
        except BlockingIOError:  # the server is behind: its FIFO is full
            if not _wait(well, select.POLLOUT, deadline):
                raise ConnectError(f"cannot connect to {address}: the server takes no "
                                   "registrations (its FIFO stays full)") from None
        except BrokenPipeError as exc:
            raise ConnectError(f"cannot connect to {address}: the server went away") from exc


def _await_ack(address: FifoAddress, down: int, deadline: float | None) -> None:
    if not _wait(down, select.POLLIN, deadline):
        raise ConnectError(f"cannot connect to {address}: no answer from the server "
                           "(a registration it refuses is logged on its side)")
    if os.read(down, 1) != ACK:
        raise ConnectError(f"cannot connect to {address}: the server closed the "
                           "connection before accepting it")


def connect(address: FifoAddress, *, timeout: float | None = 10.0, **_: object) -> FdStream:
    """Register a private pair of FIFOs with the server at ``address``; the stream reads
    ``down`` and writes ``up``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    well = _open_well_known(address)
    private = tempfile.mkdtemp(prefix="hosepipe-fifo-")
    line = b"%s %d %s\n" % (MAGIC, os.getpid(), os.fsencode(private))
    fds: list[int] = []
    try:
        if len(line) > select.PIPE_BUF or b"\n" in line[:-1]:
            raise ConnectError(f"cannot connect to {address}: the temporary directory "
                               f"{private!r} makes a registration too long")
        up, down = os.path.join(private, "up"), os.path.join(private, "down")
        os.mkfifo(up, 0o600)
        os.mkfifo(down, 0o600)
        fds.append(os.open(down, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        fds.append(os.open(up, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC))
        _register(address, well, line, deadline)
        _await_ack(address, fds[0], deadline)
        fds.append(os.open(up, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC))
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    finally:
        os.close(well)
        shutil.rmtree(private, ignore_errors=True)  # both ends are open: no name needed
    down_fd, both, up_fd = fds
    os.close(both)
    os.set_blocking(down_fd, True)
    return FdStream(down_fd, up_fd, str(address))


def serve(address: FifoAddress) -> FifoListener:
    from hosepipe.transports.fifo_listener import FifoListener  # noqa: PLC0415 - a cycle

    return FifoListener.create(address)
