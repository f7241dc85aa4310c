"""FilesClient: list, stat, get (resumable, verified) and put, over the framed protocol.

A download goes to ``NAME.part``; when every byte has arrived and the SHA-256 of the
whole file matches the server's, the part is renamed to NAME (not fsynced first, as
curl, wget and rsync do not: a crash may lose a download, never pass off a bad one).
A part whose checksum does not match is deleted, never renamed. If the connection
drops, the part stays and ``resume=True`` asks the server for the rest only (the
part's bytes are hashed locally).
"""

from __future__ import annotations

import hashlib
import os
import queue
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from hosepipe.address import Address
from hosepipe.client import Client
from hosepipe.errors import ConnectionClosed, HosepipeError

__all__ = [
    "DEFAULT_ADDRESS", "ChecksumMismatch", "FilesClient", "Progress", "part_of", "sha256_of",
]

DEFAULT_ADDRESS = "tcp://127.0.0.1:50001"
BUFFER = 1024 * 1024
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


class ChecksumMismatch(HosepipeError):
    """The downloaded bytes do not hash to the server's SHA-256."""


def sha256_of(path: str | Path, upto: int | None = None) -> hashlib._Hash:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        remaining = upto
        while remaining is None or remaining > 0:
            chunk = file.read(BUFFER if remaining is None else min(BUFFER, remaining))
            if not chunk:
                break
            digest.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return digest


def _ignore(done: int, total: int) -> None:
    pass


def part_of(dest: str | Path) -> Path:
    """Where a download to ``dest`` is kept until it is whole and verified."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


class BackgroundHash:
    """SHA-256 on a second thread, over a ring of buffers.

    hashlib releases the GIL for large buffers, so hashing runs beside receiving and
    writing instead of after them. A buffer is handed back (:meth:`buffer`) only once it
    has been hashed, so no byte is overwritten before it counts.
    """

    def __init__(self, digest: Any, slots: int = 4, size: int = BUFFER) -> None:
        self.digest = digest
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._work: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        for _ in range(slots):
            self._free.put(bytearray(size))
        self._thread = threading.Thread(target=self._run, name="hosepipe-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            buffer, n = item
            self.digest.update(memoryview(buffer)[:n])
            self._free.put(buffer)

    def buffer(self) -> bytearray:
        return self._free.get()

    def submit(self, buffer: bytearray, n: int) -> None:
        self._work.put((buffer, n))

    def close(self) -> str:
        """Wait for every submitted buffer; the hex digest of all of them."""
        if self._thread.is_alive():
            self._work.put(None)
            self._thread.join()
        return str(self.digest.hexdigest())


class FilesClient:
    def __init__(self, address: str | Address = DEFAULT_ADDRESS, *,
                 timeout: float | None = 30.0, tls: ssl.SSLContext | None = None,
                 authkey: bytes | None = None, hello_timeout: float | None = None) -> None:
        """``hello_timeout``: how long the server may take to answer the hello; one that
        does not answer it as a hosepipe server would (a classic getfile server) raises
        :class:`~hosepipe.wire.messages.NotFramed`."""
        self.client = Client(address, timeout=timeout, tls=tls, authkey=authkey,
                             hello_timeout=hello_timeout)

    def list(self, path: str = "") -> list[dict[str, Any]]:
        return list(self.client.request({"op": "list", "path": path}))

    def stat(self, path: str, *, sha256: bool = False) -> dict[str, Any]:
        return dict(self.client.request({"op": "stat", "path": path, "sha256": sha256}))

    def get(self, path: str, dest: str | Path, *, resume: bool = False,
            progress: Progress = _ignore) -> dict[str, Any]:
        """Download ``path`` to ``dest`` (a file name) through ``dest.part``."""
        dest = Path(dest)
        part = part_of(dest)
        offset = part.stat().st_size if resume and part.exists() else 0
        header = self.client.request({"op": "get", "path": path, "offset": offset})
        size, offset = int(header["size"]), int(header["offset"])
        hasher = BackgroundHash(sha256_of(part, offset) if offset else hashlib.sha256())
        try:
            with open(part, "r+b" if offset else "wb") as file:
                file.truncate(offset)
                file.seek(offset)
                self._receive(file, hasher, offset, size, progress)
        finally:
            received = hasher.close()
        if received != header["sha256"]:
            part.unlink()
            raise ChecksumMismatch(f"{path}: the SHA-256 does not match the server's; "
                                   "the partial file was deleted")
        os.replace(part, dest)
        return dict(header)

    def get_into(self, path: str, out: BinaryIO, *, progress: Progress = _ignore
                 ) -> dict[str, Any]:
        """Download ``path`` into an open file (standard output): no part, no resume;
        the SHA-256 is checked at the end (:class:`ChecksumMismatch` if it differs,
        when the bytes are already written)."""
        header = self.client.request({"op": "get", "path": path, "offset": 0})
        hasher = BackgroundHash(hashlib.sha256())
        try:
            self._receive(out, hasher, 0, int(header["size"]), progress)
            out.flush()
        finally:
            received = hasher.close()
        if received != header["sha256"]:
            raise ChecksumMismatch(f"{path}: the bytes written do not match the server's "
                                   "SHA-256")
        return dict(header)

    def _receive(self, file: Any, hasher: BackgroundHash, done: int, size: int,
                 progress: Progress) -> None:
        leftover = self.client.take_leftover()[: size - done]
        file.write(leftover)
        hasher.digest.update(leftover)  # before the hashing thread sees any buffer
        done += len(leftover)
        stream = self.client.stream
        while done < size:
            progress(done, size)
            buffer = hasher.buffer()
            n = stream.receive_into(memoryview(buffer)[: min(BUFFER, size - done)],
                                    self.client.timeout)
            if n == 0:
                hasher.submit(buffer, 0)
                raise ConnectionClosed(f"the connection was lost after {done} of {size} bytes;"
                                       " run the same command again to continue")
            file.write(memoryview(buffer)[:n])
            hasher.submit(buffer, n)
            done += n
        progress(done, size)

    def put(self, local: str | Path, name: str | None = None, *,
            progress: Progress = _ignore) -> dict[str, Any]:
        """Upload ``local`` as ``name`` (default: its own name)."""
        local = Path(local)
        size = local.stat().st_size
        sha = sha256_of(local).hexdigest()
        self.client.request({"op": "put", "path": name or local.name, "size": size,
                             "sha256": sha})
        fd = os.open(local, os.O_RDONLY)
        try:
            sent = 0
            while sent < size:
                progress(sent, size)
                n = self.client.stream.send_file(fd, sent, min(8 * BUFFER, size - sent),
                                                 self.client.timeout)
                if n == 0:
                    raise HosepipeError(f"{local} shrank while it was being sent")
                sent += n
            progress(sent, size)
        finally:
            os.close(fd)
        return dict(self.client.receive_reply())

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> FilesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
