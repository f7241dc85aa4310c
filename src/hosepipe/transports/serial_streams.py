"""Opening a serial line with pySerial, and the two streams it gives.

:func:`open_line` configures a device through :class:`serial.Serial` (raw mode, the
address's line settings, the ``flock``) and then leaves pySerial's own read/write aside:
a :class:`TtyStream` drives the descriptor like a pipe, with deadlines from ``poll``,
so the select and async models can register it. Its descriptor stays non-blocking
(pySerial opens it so, and the blocking face waits with ``poll`` anyway); the write
side is a ``dup`` of it, so that an event loop can watch each direction on a descriptor
of its own. A read timeout is a deadline (:class:`~hosepipe.errors.Timeout`), never an
end of stream; a hang-up (``EIO``: the device gone, a pty's other side closed) is
:class:`~hosepipe.errors.ConnectionClosed`.

A pySerial URL handler (``loop://``, ``socket://``, ``rfc2217://``) has no descriptor
to wait on: a :class:`UrlStream` calls its ``read``/``write``, setting the port's
timeouts per call (on ``_timeout``/``_write_timeout``: the public setters reconfigure
the port, a network round trip for rfc2217), and is blocking only.

The errors a user meets opening a device are one line each: no such device, permission
denied (naming the device's group, e.g. ``dialout``), device busy, unsupported baud rate,
not a serial device.
"""

from __future__ import annotations

import contextlib
import errno
import grp
import os
import select
import socket
import termios
from collections.abc import Callable
from typing import Any

from hosepipe.errors import ConnectError, ConnectionClosed, Timeout, UsageError
from hosepipe.transports.base import Stream
from hosepipe.transports.serial import SerialAddress
from hosepipe.transports.streams import RECEIVE_SIZE, FdStream

__all__ = ["TtyStream", "UrlStream", "hung_up", "open_device", "open_line"]

LOOP_BUFFER = 4 * 1024 * 1024  # bytes a loop:// holds (pySerial's default is 4096)


def _pyserial() -> Any:
    try:
        import serial  # noqa: PLC0415 - an optional extra
    except ImportError:
        raise UsageError("serial addresses need pySerial: pip install 'hosepipe[serial]'") \
            from None
    return serial


def open_line(address: SerialAddress, *, timeout: float | None = 10.0,
              keep_input: bool = False) -> Stream:
    """Open the device or URL of ``address``; ConnectError says why it cannot be."""
    if address.url:
        return _open_url(_pyserial(), address, keep_input=keep_input)
    port = open_device(address)
    return TtyStream(port.fd, str(address), release=port.close)


def open_device(address: SerialAddress, *, keep_input: bool = False) -> Any:
    """A configured, open :class:`serial.Serial` for ``address``'s device. pySerial
    discards what is waiting to be read when it opens a port; ``keep_input`` keeps it
    (a server: the far end may have spoken before the line was opened)."""
    serial = _pyserial()
    port = serial.Serial()
    if keep_input:
        _keep_input(port)
    port.port = address.device
    port.baudrate = address.baudrate
    port.bytesize = address.bytesize
    port.parity = address.parity
    port.stopbits = address.stopbits
    port.rtscts = address.rtscts
    port.xonxoff = address.xonxoff
    port.exclusive = address.exclusive
    try:
        port.open()
    except serial.SerialException as exc:
        raise ConnectError(_reason(address, exc)) from exc
    except (ValueError, OverflowError) as exc:  # a rate the driver (or ioctl) refuses
        raise ConnectError(f"cannot open {address.device}: unsupported baud rate "
                           f"{address.baudrate} ({exc})") from exc
    _wait_for_a_byte(port.fd)
    return port


def _keep_input(port: Any) -> None:
    """Make pySerial's open() keep what is already waiting to be read (it calls
    ``_reset_input_buffer`` for devices, ``reset_input_buffer`` for URL handlers)."""
    port._reset_input_buffer = port.reset_input_buffer = lambda: None


def hung_up(fd: int) -> bool:
    """True if the line behind ``fd`` has hung up (a pty's other side closed, the
    device unplugged)."""
    poll = select.poll()
    poll.register(fd, select.POLLIN)
    return any(event & (select.POLLHUP | select.POLLERR | select.POLLNVAL)
               for _, event in poll.poll(0))


def _wait_for_a_byte(fd: int) -> None:
    """VMIN=1: pySerial leaves VMIN=0 (it times reads with select), under which a read
    with nothing there returns 0 bytes, even non-blocking: it would read as the end of
    the stream. With VMIN=1 it is EAGAIN, and 0 bytes only ever mean a hang-up."""
    attributes = termios.tcgetattr(fd)
    attributes[6][termios.VMIN] = 1
    attributes[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attributes)


def _reason(address: SerialAddress, exc: OSError) -> str:
    device = address.device
    code = exc.errno
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return f"no such device: {device}"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied: {device}{_group_hint(device)}"
    if code in (errno.EBUSY, errno.EAGAIN):
        return f"device busy: {device} is open in another program (exclusive=1)"
    if "configure" in str(exc):
        return f"not a serial device: {device}"
    return f"cannot open {device}: {exc}"


def _group_hint(device: str) -> str:
    try:
        group = grp.getgrgid(os.stat(device).st_gid).gr_name
    except (OSError, KeyError):
        return ""
    return (f" is for group {group!r} (join it: sudo usermod -aG {group} $USER, "
            "then log in again)")


def _open_url(serial: Any, address: SerialAddress, *, keep_input: bool) -> UrlStream:
    try:
        port = serial.serial_for_url(address.url, do_not_open=True)
        if keep_input:
            _keep_input(port)
        if address.url.startswith("loop://"):
            port.buffer_size = LOOP_BUFFER
        port.open()
    except (serial.SerialException, ValueError, OSError) as exc:
        raise ConnectError(f"cannot open {address}: {exc}") from exc
    return UrlStream(port, str(address))


class TtyStream(FdStream):
    """A terminal device: one non-blocking descriptor read, a ``dup`` of it written."""

    def __init__(self, fd: int, peer: str, *, release: Callable[[], None]) -> None:
        os.set_blocking(fd, False)
        super().__init__(fd, os.dup(fd), peer)
        self._release = release

    def set_blocking(self, flag: bool) -> None:
        """Nothing to switch: the blocking face waits with poll on a non-blocking
        descriptor (a blocking write to a tty would wait past any deadline)."""

    def send_eof(self) -> None:
        """A line has no end of stream to send."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.release_abort()
        with contextlib.suppress(OSError):
            os.close(self.write_fd)
        with contextlib.suppress(OSError):
            self._release()  # closes the device (pySerial's own descriptors too)


class UrlStream(Stream):
    """A pySerial URL handler's port: blocking only, deadlines set per call."""

    nonblocking = False

    def __init__(self, port: Any, peer: str) -> None:
        self.port = port
        self.peer = peer
        self._serial = _pyserial()
        self._deadline_writes = type(port).__module__.endswith("protocol_socket")
        self._aborted = False

    def set_blocking(self, flag: bool) -> None:
        if not flag:
            raise UsageError(f"{self.peer} is blocking only")

    def _read(self, size: int, timeout: float | None) -> bytes:
        self.port._timeout = timeout
        try:
            return bytes(self.port.read(size))
        except (self._serial.SerialException, OSError, ValueError) as exc:
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc

    def _receive(self, size: int, timeout: float | None) -> bytes:
        """Wait up to ``timeout`` for a first byte, then take what else is there."""
        first = self._read(1, timeout)
        if not first:
            if timeout is None or self._aborted or not self.port.is_open:
                raise ConnectionClosed(f"{self.peer}: aborted")
            raise Timeout(f"{self.peer}: nothing received for {timeout:g} s")
        return first + self._read(size - 1, 0) if size > 1 else first

    def receive_some(self, timeout: float | None) -> bytes:
        return self._receive(RECEIVE_SIZE, timeout)

    def receive_into(self, buffer: memoryview, timeout: float | None) -> int:
        data = self._receive(len(buffer), timeout)
        buffer[:len(data)] = data
        return len(data)

    def send_all(self, data: bytes | memoryview, timeout: float | None) -> None:
        if self._deadline_writes:  # socket:// keeps a write deadline; loop:// and
            self.port._write_timeout = timeout  # rfc2217:// have none of their own
        try:
            self.port.write(bytes(data))
        except self._serial.SerialTimeoutException as exc:
            raise Timeout(f"{self.peer}: accepted no data for {timeout:g} s") from exc
        except (self._serial.SerialException, OSError, ValueError) as exc:
            raise ConnectionClosed(f"{self.peer}: {exc}") from exc

    def send_eof(self) -> None:
        """A line has no end of stream to send."""

    def cut_watch(self) -> tuple[int, int] | None:
        sock = getattr(self.port, "_socket", None)  # socket:// and rfc2217:// ports
        return (sock.fileno(), 0) if sock is not None else None  # see SocketStream's

    def abort(self) -> None:
        self._aborted = True
        cancel = getattr(self.port, "cancel_read", None)
        sock = getattr(self.port, "_socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        elif cancel is not None:
            cancel()

    def close(self) -> None:
        sock = getattr(self.port, "_socket", None)
        with contextlib.suppress(Exception):
            self.port.close()
        if sock is not None:  # pySerial skips the close when shutdown fails (aborted)
            sock.close()
