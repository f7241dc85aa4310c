"""BookClient: the book's framed operations as methods, over any stream address.

For ``pipe:`` the client forks a child that serves the book (opening the store itself,
after the fork). Errors from the service arrive as :class:`~hosepipe.errors.RemoteError`
with codes not-found, bad-entry, too-long, conflict, bad-request, unavailable.

A server that does not speak the framed protocol (a plain add/rem/fnd book server, as
the tutorial's, which closes or answers in text when it gets a frame) is used through
:class:`~hosepipe.book.classic.ClassicBook` instead: ``classic=None`` (the default)
falls back to it, ``classic=True`` goes straight to it, ``classic=False`` never does.
:attr:`BookClient.classic` is then the ClassicBook and the framed methods refuse.
"""

from __future__ import annotations

import ssl
from typing import Any

from hosepipe.address import Address, PipeAddress, parse_address
from hosepipe.book.classic import LOST, ClassicBook
from hosepipe.book.entry import Entry
from hosepipe.book.service import Book
from hosepipe.client import Client
from hosepipe.errors import ConnectionClosed, FrameTooLarge, ProtocolError, RemoteError

__all__ = ["DEFAULT_ADDRESS", "BookClient"]

DEFAULT_ADDRESS = "tcp://127.0.0.1:50004"
BATCH = 500  # entries per add_many request: well under the default 1 MiB frame


class BookClient:
    def __init__(self, address: str | Address = DEFAULT_ADDRESS, *, db: str | None = None,
                 timeout: float | None = 30.0, tls: ssl.SSLContext | None = None,
                 classic: bool | None = None, authkey: bytes | None = None) -> None:
        address = parse_address(address)
        self.address = address
        self.service = Book(db=db) if isinstance(address, PipeAddress) else None
        self.client: Client | None = None
        self.classic: ClassicBook | None = None
        if classic and self.service is None:
            self.classic = ClassicBook(address, timeout=timeout, tls=tls)
            return
        try:
            self.client = Client(address, service=self.service, timeout=timeout, tls=tls,
                                 authkey=authkey)
        except (ConnectionClosed, FrameTooLarge):  # no hello reply: not a framed server
            if classic is False or self.service is not None:
                raise
            self.classic = ClassicBook(address, timeout=timeout, tls=tls)

    def _call(self, op: str, **arguments: Any) -> Any:
        if self.client is None:
            raise ProtocolError(f"{op} needs hosepipe's framed protocol; the server at "
                             f"{self.address} speaks only add/rem/fnd ({LOST})")
        return self.client.request({"op": op, **arguments})

    def add(self, entry: Entry) -> bool:
        """Add or replace; True if the name was new."""
        return bool(self._call("add", entry=entry.to_dict())["new"])

    def add_many(self, entries: list[Entry]) -> int:
        """Add or replace all, in order, in batches of ``BATCH`` (one transaction each)."""
        added = 0
        for start in range(0, len(entries), BATCH):
            batch = [e.to_dict() for e in entries[start : start + BATCH]]
            added += int(self._call("add_many", entries=batch)["added"])
        return added

    def remove(self, name: str) -> None:
        self._call("remove", name=name)

    def find(self, name: str) -> Entry:
        if self.classic is not None:
            return self.classic.find(name)
        return Entry(**self._call("find", name=name))

    def entries(self, order: str = "name") -> list[Entry]:
        """Every entry, by name, or (``order="added"``) in the order they were added."""
        request = {"order": order} if order != "name" else {}
        return [Entry(**e) for e in self._call("list", **request)]

    def search(self, text: str) -> list[Entry]:
        return [Entry(**e) for e in self._call("search", text=text)]

    def update(self, entry: Entry, expect: Entry | None = None) -> None:
        self._call("update", entry=entry.to_dict(),
                   expect=expect.to_dict() if expect is not None else None)

    # -- the menu's operations, answered in the classic protocol's words ---------------
    def add_text(self, entry: Entry) -> str:
        if self.classic is not None:
            return self.classic.add_text(entry)
        self.add(entry)
        return f"Added entry for {entry.name}"

    def remove_text(self, name: str) -> str:
        if self.classic is not None:
            return self.classic.remove_text(name)
        try:
            self.remove(name)
        except RemoteError as exc:
            return _no_entry(name, exc)
        return f"Deleted entry for {name}"

    def find_text(self, name: str) -> str:
        if self.classic is not None:
            return self.classic.find_text(name)
        try:
            entry = self.find(name)
        except RemoteError as exc:
            return _no_entry(name, exc)
        return f"{entry.name} : {entry.address_text()}"

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.classic is not None:
            self.classic.close()
        if self.service is not None:
            self.service.close()

    def __enter__(self) -> BookClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _no_entry(name: str, exc: RemoteError) -> str:
    """The classic reply for a name the book does not hold; other errors go on."""
    if exc.code != "not-found":
        raise exc
    return f"Sorry, no entry for: {name}"
