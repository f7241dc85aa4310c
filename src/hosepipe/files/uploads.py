"""Uploads: written under a hidden temporary name, verified, then renamed.

A partial upload is never visible under its final name: bytes go to
``.NAME.upload-XXXXXXXX`` in the upload directory (hidden, so never listed or served),
hashed as they arrive; only when all of them arrived and the SHA-256 matches is the
file fsynced and renamed to NAME (refused if NAME exists). Any error, a size limit, a
full disk or a vanished client deletes the temporary file.

Room on the disk is reserved when the upload is accepted: the temporary file is
allocated at its declared size (``posix_fallocate``), so two uploads at once cannot
both pass a free-space check that only one of them fits, whatever process (or server
sharing the directory) runs them; no room, and the upload is refused at once.

A temporary file outlives its upload only if its process was killed. Each upload holds
an ``flock`` on its file for its whole life, and :func:`sweep_stale` (run when the
service starts) deletes only temporaries that nobody holds and that have not changed for
``stale`` seconds: another server's upload in the same directory, in progress or just
stalled, is left alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import stat
import tempfile
import time
import unicodedata
from typing import Any

from hosepipe.conversations.messages import Sink
from hosepipe.service import ServiceError

__all__ = ["STALE", "UploadSink", "check_upload_name", "sweep_stale"]

log = logging.getLogger("hosepipe.files")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_TEMPORARY = re.compile(r"\..+\.upload-[A-Za-z0-9_]{8}", re.DOTALL)
SPACE_MARGIN = 16 * 1024 * 1024
STALE = 3600.0  # seconds without a change after which an unheld temporary is an orphan
_UNPRINTABLE = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def check_upload_name(name: object) -> str:
    """A plain file name: no directories, nothing hidden, nothing unprintable (control
    and format characters: a name must read as what it is), not too long."""
    if not isinstance(name, str) or not name.strip():
        raise ServiceError("bad-request", "put needs a file name")
    shown = name.encode("unicode_escape").decode("ascii")[:80]
    if any(unicodedata.category(ch) in _UNPRINTABLE for ch in name):
        raise ServiceError("refused", f"{shown!r} holds a control or format character")
    if "/" in name or name.startswith(".") or len(name.encode()) > 255:
        raise ServiceError("refused", f"{shown!r} is not a plain file name")
    return name


def _reserve(fd: int, size: int) -> None:
    """Allocate ``size`` bytes on the disk now (no room: ``no-space``)."""
    if size == 0:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ServiceError("no-space", f"not enough free space for {size} bytes") from None
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise ServiceError("io-error", f"cannot store the upload: {exc.strerror}") from None


class UploadSink(Sink):
    def __init__(self, directory: str, name: str, size: int, sha256: object) -> None:
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise ServiceError("bad-request", "put needs the file's sha256 (64 hex digits)")
        self.directory = directory
        self.name = name
        self.size = size
        self.expected = sha256
        self.final = os.path.join(directory, name)
        if os.path.lexists(self.final):
            raise ServiceError("exists", f"{name} already exists")
        free = os.statvfs(directory)
        if size + SPACE_MARGIN > free.f_bavail * free.f_frsize:
            raise ServiceError("no-space", f"not enough free space for {size} bytes")
        fd, self.temporary = tempfile.mkstemp(prefix=f".{name}.upload-", dir=directory)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # ours while we live (see sweep_stale)
            os.fchmod(fd, 0o644)  # mkstemp makes 0600; a stored upload reads like any file
            _reserve(fd, size)
        except BaseException:
            os.close(fd)
            os.unlink(self.temporary)
            raise
        self.file = os.fdopen(fd, "wb")
        self.digest = hashlib.sha256()
        self.written = 0

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as exc:
            raise ServiceError("no-space" if exc.errno == errno.ENOSPC else "io-error",
                               f"cannot store the upload: {exc.strerror}") from exc
        self.digest.update(data)
        self.written += len(data)

    def finish(self) -> Any:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
        except OSError as exc:
            self.abort()
            raise ServiceError("io-error", f"cannot store the upload: {exc.strerror}") from exc
        if self.digest.hexdigest() != self.expected:
            self.abort()
            raise ServiceError("checksum", "the upload's SHA-256 does not match; not stored")
        try:
            os.link(self.temporary, self.final)  # fails if the name appeared meanwhile
        except FileExistsError:
            self.abort()
            raise ServiceError("exists", f"{self.name} already exists") from None
        os.unlink(self.temporary)
        self.file.close()
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return {"stored": self.name, "size": self.written, "sha256": self.expected}

    def abort(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temporary)
        with contextlib.suppress(OSError):
            self.file.close()


def _orphan(directory: int, name: str, stale: float) -> bool:
    """Delete ``name`` if it is an upload temporary nobody holds, unchanged for
    ``stale`` seconds; True if it was deleted."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=directory)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < stale:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # an upload in progress holds it
        if os.stat(name, dir_fd=directory, follow_symlinks=False).st_ino != info.st_ino:
            return False  # replaced meanwhile
        os.unlink(name, dir_fd=directory)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def sweep_stale(directory: str, stale: float = STALE) -> int:
    """Delete orphaned upload temporaries in ``directory``; returns how many."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        removed = [name for name in sorted(os.listdir(dir_fd))
                   if _TEMPORARY.fullmatch(name) and _orphan(dir_fd, name, stale)]
    finally:
        os.close(dir_fd)
    for name in removed:
        log.warning("files: removed an orphaned upload %s from %s",
                    name.encode("unicode_escape").decode("ascii"), directory)
    return len(removed)
