"""The address-book store: one small interface, SQLite and PostgreSQL behind it.

``open_store(url)`` picks the implementation: ``sqlite:///PATH`` (or a plain path; the
default lives in the user's data directory) or ``postgresql://...``. Every method is
one transaction. Stores are safe to share between threads and across ``fork``: each
thread of each process gets its own connection, opened on first use.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Generic, TypeVar

from hosepipe.book.entry import Entry
from hosepipe.errors import ConfigError

__all__ = ["Conflict", "NotFound", "Store", "StoreUnavailable", "default_db_url", "open_store"]

C = TypeVar("C")


class Conflict(Exception):
    """The entry changed between the read and the write of a read-modify-write."""


class NotFound(KeyError):
    """No entry has that name."""


class StoreUnavailable(Exception):
    """The database could not be reached or stayed busy past the deadline."""


class Store(ABC):
    """What the book service needs from a database."""

    url: str

    @abstractmethod
    def add(self, entry: Entry) -> bool:
        """Add or replace the entry; True if the name was new."""

    @abstractmethod
    def add_many(self, entries: list[Entry]) -> int:
        """Add or replace all, in one transaction; returns how many."""

    @abstractmethod
    def remove(self, name: str) -> bool:
        """Delete the entry; False if there was none."""

    @abstractmethod
    def find(self, name: str) -> Entry | None: ...

    @abstractmethod
    def entries(self) -> list[Entry]:
        """Every entry, by name."""

    @abstractmethod
    def search(self, text: str) -> list[Entry]:
        """Entries with ``text`` in any field, case-insensitively, by name."""

    @abstractmethod
    def update(self, entry: Entry, expect: Entry | None = None) -> None:
        """Replace the entry named ``entry.name``; :class:`NotFound` if there is none,
        :class:`Conflict` if ``expect`` is given and the stored entry differs from it."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection this store opened."""


class PerThread(Generic[C]):
    """One connection per (process, thread), opened lazily, all closed by ``close_all``."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[tuple[int, C]] = []

    def get(self) -> C | None:
        held = getattr(self._local, "held", None)
        if held is None or held[0] != os.getpid():
            return None
        return held[1]

    def put(self, connection: C) -> None:
        self._local.held = (os.getpid(), connection)
        with self._lock:
            self._all.append((os.getpid(), connection))

    def drop(self) -> None:
        self._local.held = None

    def take_all(self) -> list[C]:
        """This process's connections (inherited ones from a parent are left alone)."""
        with self._lock:
            mine = [c for pid, c in self._all if pid == os.getpid()]
            self._all = []
        self._local.held = None
        return mine


def default_db_url() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return "sqlite://" + str(Path(base) / "hosepipe" / "book.sqlite3")


def open_store(url: str | None = None) -> Store:
    """The store for ``url`` (default: SQLite in the user's data directory)."""
    url = url or os.environ.get("HOSEPIPE_BOOK_DB") or default_db_url()
    if url.startswith(("postgresql://", "postgres://")):
        from hosepipe.book.postgres import PostgresStore  # noqa: PLC0415 - optional dependency

        return PostgresStore(url)
    if url.startswith("sqlite:") or "://" not in url:
        from hosepipe.book.sqlite import SqliteStore  # noqa: PLC0415

        return SqliteStore(url)
    raise ConfigError(f"unknown database URL {url!r}; use sqlite:///PATH or postgresql://...")
