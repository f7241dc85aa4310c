"""BookClient: the book's framed operations as methods, over any stream address.

For ``pipe:`` the client forks a child that serves the book (opening the store itself,
after the fork). Errors from the service arrive as :class:`~hosepipe.errors.RemoteError`
with codes not-found, bad-entry, too-long, conflict, bad-request, unavailable.
"""

from __future__ import annotations

import ssl
from typing import Any

from hosepipe.address import Address, PipeAddress, parse_address
from hosepipe.book.entry import Entry
from hosepipe.client import Client
from hosepipe.services.book import Book

__all__ = ["DEFAULT_ADDRESS", "BookClient"]

DEFAULT_ADDRESS = "tcp://127.0.0.1:50004"


class BookClient:
    def __init__(self, address: str | Address = DEFAULT_ADDRESS, *, db: str | None = None,
                 timeout: float | None = 30.0, tls: ssl.SSLContext | None = None,
                 authkey: bytes | None = None) -> None:
        address = parse_address(address)
        self.service = Book(db=db) if isinstance(address, PipeAddress) else None
        self.client = Client(address, service=self.service, timeout=timeout, tls=tls,
                             authkey=authkey)

    def _call(self, op: str, **arguments: Any) -> Any:
        return self.client.request({"op": op, **arguments})

    def add(self, entry: Entry) -> bool:
        """Add or replace; True if the name was new."""
        return bool(self._call("add", entry=entry.to_dict())["new"])

    def add_many(self, entries: list[Entry]) -> int:
        return int(self._call("add_many", entries=[e.to_dict() for e in entries])["added"])

    def remove(self, name: str) -> None:
        self._call("remove", name=name)

    def find(self, name: str) -> Entry:
        return Entry(**self._call("find", name=name))

    def entries(self) -> list[Entry]:
        return [Entry(**e) for e in self._call("list")]

    def search(self, text: str) -> list[Entry]:
        return [Entry(**e) for e in self._call("search", text=text)]

    def update(self, entry: Entry, expect: Entry | None = None) -> None:
        self._call("update", entry=entry.to_dict(),
                   expect=expect.to_dict() if expect is not None else None)

    def close(self) -> None:
        self.client.close()
        if self.service is not None:
            self.service.close()

    def __enter__(self) -> BookClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
