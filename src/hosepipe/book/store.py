"""The address-book store: one small interface, SQLite and PostgreSQL behind it.

``open_store(url)`` picks the implementation: ``sqlite:///PATH`` (or a plain path; the
default lives in the user's data directory) or ``postgresql://...``. Every method is
one transaction, and raises only the store's own errors: :class:`BadEntry` for data the
database cannot hold, :class:`StoreUnavailable` for everything the database or the disk
did wrong (:func:`store_errors` maps them), :class:`NotFound` and :class:`Conflict`.

Connections come from a :class:`Pool` of at most ``pool`` connections per process,
lent for one call at a time, so however many threads come and go (the thread model
retires idle workers) the database sees a bounded number of clients. A forked child
never touches its parent's connections: it starts its own pool.
"""

from __future__ import annotations

import contextlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from hosepipe.book.entry import BadEntry, Entry
from hosepipe.errors import ConfigError

__all__ = [
    "DEFAULT_POOL", "POOL_WAIT", "Conflict", "NotFound", "Pool", "Store", "StoreUnavailable",
    "default_db_url", "open_store", "store_errors",
]

C = TypeVar("C")

DEFAULT_POOL = 8
POOL_WAIT = 30.0  # seconds a call waits for a connection when all are lent out
_inherited: list[object] = []  # a parent's connections, kept from the garbage collector


class Conflict(Exception):
    """The entry changed between the read and the write of a read-modify-write."""


class NotFound(KeyError):
    """No entry has that name."""


class StoreUnavailable(Exception):
    """The database could not be reached, failed, or stayed busy past the deadline."""


_OWN_ERRORS = (BadEntry, Conflict, NotFound, StoreUnavailable)


class store_errors:  # lower case: it reads as a function, ``with store_errors(...):``
    """Turn whatever a database call raised into the store's own errors.

    A class, not a generator: it runs around every call of the book (two method
    calls where :func:`contextlib.contextmanager` makes eight)."""

    __slots__ = ("bad_data", "database")

    def __init__(self, database: type[Exception],
                 bad_data: tuple[type[Exception], ...] = ()) -> None:
        self.database = database
        self.bad_data = bad_data

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 _tb: object) -> None:
        if exc is None or isinstance(exc, _OWN_ERRORS):
            return
        if isinstance(exc, UnicodeError):
            raise BadEntry(f"the book holds only valid UTF-8 text: {exc}") from exc
        if isinstance(exc, self.bad_data):
            raise BadEntry(f"the database refused the entry: {exc}") from exc
        if isinstance(exc, (self.database, OSError)):
            raise StoreUnavailable(f"the book database failed: {exc}") from exc


class _Loan(Generic[C]):
    """One borrowed connection, given back (or, after a store error, dropped) on exit."""

    __slots__ = ("connection", "pool")

    def __init__(self, pool: Pool[C]) -> None:
        self.pool = pool
        self.connection = pool._take()

    def __enter__(self) -> C:
        return self.connection

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 _tb: object) -> None:
        if isinstance(exc, StoreUnavailable):
            self.pool._drop(self.connection)
        else:
            self.pool._give(self.connection)


class Pool(Generic[C]):
    """At most ``size`` connections, lent to one caller at a time, closed by ``close``.

    ``connect`` opens one (raising the store's errors); ``disconnect`` closes one.
    """

    def __init__(self, connect: Callable[[], C], disconnect: Callable[[C], None],
                 size: int = DEFAULT_POOL, wait: float = POOL_WAIT) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ConfigError(f"pool must be a whole number of connections, at least 1, "
                              f"not {size!r}")
        self.size = size
        self.wait = wait
        self._connect = connect
        self._disconnect = disconnect
        self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._ready = threading.Condition()
        self._idle: list[C] = []
        self._open = 0
        self._closed = False

    def connection(self) -> _Loan[C]:
        """Borrow a connection (``with pool.connection() as db:``); one that raised an
        error of the store's is discarded."""
        return _Loan(self)

    def check(self) -> None:
        """Open one connection and close it again: raises the store's error if it
        cannot. Nothing stays open (a forked child inherits no connection of ours)."""
        self._drop(self._take())

    def _take(self) -> C:
        if self._pid != os.getpid():  # forked: the parent's connections are not ours
            _inherited.extend(self._idle)
            self._start()
        with self._ready:
            if self._idle:  # the usual case: no waiting, no predicate
                return self._idle.pop()
            if not self._ready.wait_for(lambda: self._idle or self._open < self.size,
                                        self.wait):
                raise StoreUnavailable(f"all {self.size} database connections stayed busy "
                                       f"for {self.wait:g} s")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return self._connect()
        except BaseException:
            self._forget()
            raise

    def _give(self, connection: C) -> None:
        with self._ready:
            if not self._closed:
                self._idle.append(connection)
                self._ready.notify()
                return
        self._drop(connection)

    def _drop(self, connection: C) -> None:
        self._forget()
        with contextlib.suppress(Exception):
            self._disconnect(connection)

    def _forget(self) -> None:
        with self._ready:
            self._open -= 1
            self._ready.notify()

    def close(self) -> None:
        """Close the idle connections now, and the lent ones when they come back."""
        if self._pid != os.getpid():
            return
        with self._ready:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            self._drop(connection)


class Store(ABC):
    """What the book service needs from a database."""

    url: str

    @abstractmethod
    def check(self) -> None:
        """Connect once (creating or migrating the schema): StoreUnavailable if it cannot."""

    @abstractmethod
    def add(self, entry: Entry) -> bool:
        """Add or replace the entry; True if the name was new. A replaced entry keeps
        its place in the order of addition."""

    @abstractmethod
    def add_many(self, entries: list[Entry]) -> int:
        """Add or replace all, in one transaction, in order; returns how many."""

    @abstractmethod
    def remove(self, name: str) -> bool:
        """Delete the entry; False if there was none."""

    @abstractmethod
    def find(self, name: str) -> Entry | None: ...

    @abstractmethod
    def entries(self, order: str = "name") -> list[Entry]:
        """Every entry, by name (``order="added"``: in the order they were first added)."""

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


ORDERS = ("name", "added")


def order_by(order: str) -> str:
    if order not in ORDERS:
        raise BadEntry(f"order is 'name' or 'added', not {order!r}", "bad-request")
    return "name" if order == "name" else "seq, name"


def default_db_url() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return "sqlite://" + str(Path(base) / "hosepipe" / "book.sqlite3")


def open_store(url: str | None = None, pool: int = DEFAULT_POOL) -> Store:
    """The store for ``url`` (default: SQLite in the user's data directory), holding at
    most ``pool`` connections per process."""
    url = url or os.environ.get("HOSEPIPE_BOOK_DB") or default_db_url()
    if url.startswith(("postgresql://", "postgres://")):
        from hosepipe.book.postgres import PostgresStore  # noqa: PLC0415 - optional dependency

        return PostgresStore(url, pool)
    if url.startswith("sqlite:") or "://" not in url:
        from hosepipe.book.sqlite import SqliteStore  # noqa: PLC0415

        return SqliteStore(url, pool)
    raise ConfigError(f"unknown database URL {url!r}; use sqlite:///PATH or postgresql://...")
