"""The server side of fifo:///PATH: a well-known FIFO read for registrations.

:meth:`FifoListener.create` makes the FIFO (replacing a stale one, see below), opens it
for reading and also for writing, so that clients coming and going never make it read
as ended, and sets its mode with ``fchmod`` (the umask does not apply).
:meth:`~FifoListener.accept_nowait` reads registrations (each whole: they are written
under ``PIPE_BUF``), checks the private directory each one names and opens its pair of
FIFOs, never blocking (see :mod:`hosepipe.transports.fifo` for the order of opens).
Several registrations may arrive in one read; those not handed out yet keep the
listener readable through a wake-up pipe, both behind one ``epoll`` descriptor.

**Who registered?** A FIFO carries no credentials (no ``SO_PEERCRED``), so the peer is
the owner of the directory the registration names: only that user (or root) can have
made it and the FIFOs in it. A directory is refused if it is a symlink, not private
(any group or other permission bit), or owned by a user who could not have written to
the well-known FIFO (its owner; its group when ``mode`` lets the group write; anyone
when others may). Each FIFO in it must be a FIFO, not a symlink, owned by that same
user and private; it is opened relative to the directory with ``O_NOFOLLOW`` and
checked again after opening (same device and inode), before a byte is written.

**Stale or live?** A FIFO has no connect to be refused, but opening it write-only and
non-blocking fails with ``ENXIO`` exactly when nobody has it open for reading: then
no server is there and the FIFO is replaced; otherwise binding fails.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import pwd
import select
import stat
import time
from collections import deque

from hosepipe.errors import ConnectError
from hosepipe.transports.base import Listener
from hosepipe.transports.fifo import ACK, MAGIC, FifoAddress
from hosepipe.transports.streams import FdStream

__all__ = ["FifoListener", "Refused"]

log = logging.getLogger("hosepipe.server")

READ_SIZE = 64 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PRIVATE = 0o077  # no bit of these may be set on a client's directory or FIFOs


class Refused(Exception):
    """A registration the listener will not serve (the reason is logged)."""


def _remove_stale(address: FifoAddress) -> None:
    try:
        info = os.lstat(address.path)
    except FileNotFoundError:
        return
    if not stat.S_ISFIFO(info.st_mode):
        raise ConnectError(f"cannot bind {address}: a file that is not a FIFO is there")
    try:
        probe = os.open(address.path, os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno != errno.ENXIO:
            raise ConnectError(f"cannot bind {address}: {exc.strerror}") from exc
    else:
        os.close(probe)
        raise ConnectError(f"cannot bind {address}: another server is listening there")
    try:
        os.unlink(address.path)  # nobody reads it: a dead server's leftover
    except OSError as exc:
        raise ConnectError(f"cannot bind {address}: cannot remove the stale FIFO there: "
                           f"{exc.strerror}") from exc


class FifoListener(Listener):
    """A well-known FIFO; each registration read from it becomes a connection."""

    def __init__(self, address: FifoAddress, fd: int, keep: int) -> None:
        self.address = address
        self.bound = str(address)
        self._fd, self._keep = fd, keep
        info = os.fstat(fd)
        self._ident = (info.st_dev, info.st_ino)
        self._pending: deque[bytes] = deque()
        self._partial = b""
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._woken = False
        self._epoll = select.epoll()
        self._epoll.register(fd, select.EPOLLIN)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._warned_at = 0.0
        self._suppressed = 0

    @classmethod
    def create(cls, address: FifoAddress) -> FifoListener:
        _remove_stale(address)
        try:
            os.mkfifo(address.path, 0o600)
        except OSError as exc:
            raise ConnectError(f"cannot bind {address}: {exc.strerror}") from exc
        fd = os.open(address.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
        keep = os.open(address.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.fchmod(fd, address.mode)
        return cls(address, fd, keep)

    def fileno(self) -> int:
        return self._epoll.fileno()

    # -- accepting ---------------------------------------------------------------------
    def accept_nowait(self) -> tuple[FdStream, str] | None:
        while (line := self._next_line()) is not None:
            try:
                return self._open(line)
            except Refused as exc:
                self._warn(str(exc))
        return None

    def _next_line(self) -> bytes | None:
        if not self._pending and self._fd >= 0:
            self._read()
        line = self._pending.popleft() if self._pending else None
        self._keep_awake(bool(self._pending))
        return line

    def _read(self) -> None:
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return
        *lines, self._partial = (self._partial + data).split(b"\n")
        self._pending.extend(line for line in lines if line)
        if len(self._partial) > select.PIPE_BUF:
            self._warn(f"{len(self._partial)} bytes without a newline dropped")
            self._partial = b""

    def _keep_awake(self, wanted: bool) -> None:
        """Keep the wake-up pipe readable while registrations wait in ``_pending``."""
        if wanted and not self._woken:
            os.write(self._wake_w, b"\0")
        elif self._woken and not wanted:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)
        self._woken = wanted

    def _open(self, line: bytes) -> tuple[FdStream, str]:
        magic, _, rest = line.partition(b" ")
        pid, _, path = rest.partition(b" ")
        if magic != MAGIC or not pid.isdigit() or not path.startswith(b"/"):
            raise Refused(f"not a registration: {line[:80]!r}")
        try:
            directory = os.open(path, _DIR_FLAGS)
        except OSError as exc:
            symlink = exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path)
            reason = "is a symlink" if symlink else exc.strerror
            raise Refused(f"{path!r}: {reason}") from exc
        try:
            uid = self._check_directory(path, directory)
            up = self._open_fifo(directory, "up", os.O_RDONLY, uid)
            try:
                down = self._open_fifo(directory, "down", os.O_WRONLY, uid)
            except BaseException:
                os.close(up)
                raise
        finally:
            os.close(directory)
        return self._acknowledge(up, down, f"pid {int(pid)} uid {uid}")

    def _check_directory(self, path: bytes, directory: int) -> int:
        info = os.fstat(directory)
        if info.st_mode & _PRIVATE:
            raise Refused(f"{path!r} is open to others (mode {info.st_mode & 0o777:04o})")
        if not self._may_register(info.st_uid):
            raise Refused(f"{path!r} belongs to uid {info.st_uid}, who may not write to "
                          f"{self.bound}")
        return info.st_uid

    def _may_register(self, uid: int) -> bool:
        """Could ``uid`` have written to the well-known FIFO (its mode as it is now)?"""
        info = os.fstat(self._fd)
        if uid in (0, info.st_uid) or info.st_mode & stat.S_IWOTH:
            return True
        if not info.st_mode & stat.S_IWGRP:
            return False
        try:
            user = pwd.getpwuid(uid)
        except KeyError:
            return False
        return info.st_gid in os.getgrouplist(user.pw_name, user.pw_gid)

    @staticmethod
    def _open_fifo(directory: int, name: str, flags: int, uid: int) -> int:
        what = f"{name!r} in the registered directory"
        try:
            before = os.stat(name, dir_fd=directory, follow_symlinks=False)
        except OSError as exc:
            raise Refused(f"{what}: {exc.strerror}") from exc
        if stat.S_ISLNK(before.st_mode):
            raise Refused(f"{what} is a symlink")
        if not stat.S_ISFIFO(before.st_mode):
            raise Refused(f"{what} is not a FIFO")
        if before.st_uid != uid or before.st_mode & _PRIVATE:
            raise Refused(f"{what} is not private to uid {uid}")
        try:
            fd = os.open(name, flags | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=directory)
        except OSError as exc:  # ENXIO: nobody reads it any more: the client is gone
            raise Refused(f"{what}: {exc.strerror}") from exc
        after = os.fstat(fd)
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            os.close(fd)
            raise Refused(f"{what} was replaced while it was opened")
        return fd

    @staticmethod
    def _acknowledge(up: int, down: int, peer: str) -> tuple[FdStream, str]:
        try:
            os.write(down, ACK)  # a new pipe: room for one byte
        except OSError as exc:  # EPIPE: the client went away meanwhile
            os.close(up)
            os.close(down)
            raise Refused(f"{peer}: {exc.strerror}") from exc
        os.set_blocking(up, True)
        return FdStream(up, down, peer), peer

    def _warn(self, reason: str) -> None:
        """Log a refusal; at most one line a second, with a count of those held back."""
        now = time.monotonic()
        if now - self._warned_at < 1.0:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} more refused)" if self._suppressed else ""
        log.warning("%s: registration refused: %s%s", self.bound, reason, more)
        self._warned_at, self._suppressed = now, 0

    # -- ending ------------------------------------------------------------------------
    def forget(self) -> None:
        """Close our descriptors, leaving the FIFO in place (a forked child)."""
        if self._fd < 0:
            return
        self._epoll.close()
        for fd in (self._fd, self._keep, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fd = self._keep = self._wake_r = self._wake_w = -1
        self._pending.clear()

    def close(self) -> None:
        """Stop listening and remove the FIFO (if it is still the one we made)."""
        if self._fd < 0:
            return
        self.forget()
        with contextlib.suppress(OSError):
            info = os.lstat(self.address.path)
            if (info.st_dev, info.st_ino) == self._ident:
                os.unlink(self.address.path)
