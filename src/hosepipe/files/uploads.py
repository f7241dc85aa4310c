"""Uploads: written under a hidden temporary name, verified, then renamed.

A partial upload is never visible under its final name: bytes go to
``.NAME.upload-XXXX`` in the upload directory (hidden, so never listed or served),
hashed as they arrive; only when all of them arrived and the SHA-256 matches is the
file fsynced and renamed to NAME (refused if NAME exists). Any error, a size limit, a
full disk or a vanished client deletes the temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from typing import Any

from hosepipe.service import ServiceError
from hosepipe.services.message import Sink

__all__ = ["UploadSink", "check_upload_name"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
SPACE_MARGIN = 16 * 1024 * 1024


def check_upload_name(name: object) -> str:
    """A plain file name: no directories, nothing hidden, no NUL, not too long."""
    if not isinstance(name, str) or not name.strip():
        raise ServiceError("bad-request", "put needs a file name")
    if "/" in name or "\0" in name or name.startswith(".") or len(name.encode()) > 255:
        raise ServiceError("refused", f"{name!r} is not a plain file name")
    return name


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
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; a stored upload reads like any file
        self.file = os.fdopen(fd, "wb")
        self.digest = hashlib.sha256()
        self.written = 0

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as exc:
            raise ServiceError("no-space" if exc.errno == 28 else "io-error",
                               f"cannot store the upload: {exc.strerror}") from exc
        self.digest.update(data)
        self.written += len(data)

    def finish(self) -> Any:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
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
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return {"stored": self.name, "size": self.written, "sha256": self.expected}

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temporary)
