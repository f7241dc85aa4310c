"""The file server as the window sees it, without Tk: where it is, how to call it, and
what to say when that fails.

:class:`Endpoint` holds what the connect bar holds (address, authkey file, CA file,
timeout) and opens a :class:`~hosepipe.files.client.FilesClient` from it.
:func:`fetch_any` is the form's download: the framed protocol (verified by SHA-256)
when the server answers its hello, else the chapter's classic one (a path and a
newline, bytes until close; nothing verified). :func:`describe` turns any error into the
one line the window shows.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from hosepipe.address import InetAddress, parse_address
from hosepipe.client import Client
from hosepipe.config import read_authkey
from hosepipe.errors import (
    ConnectionClosed,
    FrameTooLarge,
    HosepipeError,
    RemoteError,
    Timeout,
)
from hosepipe.files.classic import fetch_classic
from hosepipe.files.client import FilesClient, Progress
from hosepipe.gui.tasks import Cancel, Cancelled
from hosepipe.transports.tls import client_context

__all__ = ["Endpoint", "Fetched", "describe", "fetch_any"]


@dataclass(frozen=True)
class Endpoint:
    """A file server and how to reach it."""

    address: str
    authkey_file: str = ""
    ca_file: str = ""
    timeout: float = 30.0

    def check(self) -> None:
        """Raise a :class:`HosepipeError` now for an address or key that cannot work."""
        parse_address(self.address)
        self.authkey()

    def authkey(self) -> bytes | None:
        return read_authkey(self.authkey_file) if self.authkey_file else None

    def connect(self, timeout: float | None = None) -> FilesClient:
        """A connected client; ``timeout`` (default: the endpoint's) bounds each wait."""
        address = parse_address(self.address)
        secure = isinstance(address, InetAddress) and address.scheme == "tls"
        tls = client_context(ca=self.ca_file or None) if secure else None
        wait = self.timeout if timeout is None else timeout
        key = self.authkey()
        if key is None:
            return FilesClient(address, timeout=wait, tls=tls)
        if "authkey" in inspect.signature(FilesClient).parameters:
            return cast(Any, FilesClient)(address, timeout=wait, tls=tls, authkey=key)
        # FilesClient takes no authkey yet: give it a Client that has passed the challenge
        files = FilesClient.__new__(FilesClient)
        files.client = Client(address, timeout=wait, tls=tls, authkey=key)
        return files


@dataclass(frozen=True)
class Fetched:
    """Where a download went and how it came."""

    dest: Path
    size: int
    protocol: str  # "framed" or "classic"
    sha256: str | None  # None: classic, nothing verified


def _watch(cancel: Cancel, progress: Progress) -> Progress:
    def report(done: int, total: int) -> None:
        cancel.check()
        progress(done, total)

    return report


def fetch_any(endpoint: Endpoint, path: str, dest: Path, *, progress: Progress,
              cancel: Cancel, hello_timeout: float = 3.0) -> Fetched:
    """Download ``path`` to ``dest`` with whichever protocol the server speaks.

    A server that does not answer the framed hello within ``hello_timeout`` (or closes,
    or answers with bytes that are no frame) is asked again the classic way. A server
    that asks for an authkey is not: classic would save its challenge as the file.
    """
    try:
        files = endpoint.connect(timeout=hello_timeout)
    except (ConnectionClosed, Timeout, FrameTooLarge):
        if endpoint.authkey() is not None:
            raise
        cancel.check()
        size = fetch_classic(endpoint.address, path, dest, timeout=endpoint.timeout,
                             progress=_watch(cancel, progress))
        return Fetched(dest, size, "classic", None)
    with files:
        files.client.timeout = endpoint.timeout
        cancel.attach(files.client.stream.abort)
        part = dest.with_name(dest.name + ".part")
        header = files.get(path, dest, resume=part.exists(), progress=_watch(cancel, progress))
    return Fetched(dest, int(header["size"]), "framed", str(header["sha256"]))


def describe(exc: BaseException) -> str:
    """The one line the window shows for ``exc``."""
    if isinstance(exc, Cancelled):
        return "cancelled"
    if isinstance(exc, RemoteError):
        return f"the server refused: {exc.message or exc.code} ({exc.code})"
    if isinstance(exc, Timeout):
        return f"timed out: {exc}"
    if isinstance(exc, HosepipeError):
        return str(exc)
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return f"{type(exc).__name__}: {exc}"
