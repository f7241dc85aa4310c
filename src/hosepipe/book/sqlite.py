"""The SQLite store: a file, WAL, one writer at a time, durable on acknowledgement.

Writes run in ``BEGIN IMMEDIATE`` transactions (the write lock is taken up front, so two
read-modify-writes cannot deadlock on upgrade) with a busy timeout; if the database is
still locked, the write is retried with back-off until ``BUSY_DEADLINE``, so "database
is locked" never reaches a client (past the deadline it becomes StoreUnavailable). Any
other failure (a full disk, an I/O error, a file that is not a database) is
StoreUnavailable at once. ``synchronous=FULL`` (the default) makes each commit reach
the disk before the reply is sent; ``sqlite:///PATH?synchronous=NORMAL`` trades that for
speed (in WAL mode a power loss may then lose the last commits, though never corrupt
the file). Connections come from the store's pool (see :mod:`hosepipe.book.store`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from hosepipe.book.entry import Entry
from hosepipe.book.store import (
    DEFAULT_POOL,
    Conflict,
    NotFound,
    Pool,
    Store,
    StoreUnavailable,
    order_by,
    store_errors,
)
from hosepipe.errors import ConfigError

__all__ = ["MIGRATIONS", "SqliteStore"]

T = TypeVar("T")

BUSY_TIMEOUT = 5.0
BUSY_DEADLINE = 30.0
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED

MIGRATIONS: list[tuple[str, ...]] = [
    # 1: the entries table
    ("""
    CREATE TABLE entries (
        name   TEXT PRIMARY KEY NOT NULL,
        house  TEXT NOT NULL,
        street TEXT NOT NULL,
        town   TEXT NOT NULL,
        phone  TEXT NOT NULL
    ) WITHOUT ROWID
    """,),
    # 2: the order of addition (the flat file's order); older entries come first, by name
    ("ALTER TABLE entries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
     "CREATE INDEX entries_seq ON entries (seq)"),
]

_COLUMNS = "name, house, street, town, phone"
_UPSERT = (f"INSERT INTO entries ({_COLUMNS}, seq) VALUES (?, ?, ?, ?, ?, "
           "(SELECT coalesce(max(seq), 0) + 1 FROM entries)) "
           "ON CONFLICT (name) DO UPDATE SET house = excluded.house, "
           "street = excluded.street, town = excluded.town, phone = excluded.phone")


def _path_and_options(url: str) -> tuple[str, str]:
    if "://" not in url:
        return url, "FULL"
    parts = urlsplit(url)
    path = (parts.netloc + parts.path) if parts.netloc else parts.path
    if not path:
        raise ConfigError(f"{url!r}: expected sqlite:///PATH")
    options = parse_qs(parts.query)
    synchronous = options.pop("synchronous", ["FULL"])[-1].upper()
    if synchronous not in SYNCHRONOUS or options:
        raise ConfigError(f"{url!r}: the only option is synchronous={'|'.join(SYNCHRONOUS)}")
    return path, synchronous


def _busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in _BUSY
    return "locked" in str(exc) or "busy" in str(exc)


class SqliteStore(Store):
    def __init__(self, url: str, pool: int = DEFAULT_POOL) -> None:
        self.path, self.synchronous = _path_and_options(url)
        self.url = f"sqlite://{self.path}"
        self._pool: Pool[sqlite3.Connection] = Pool(self._open, sqlite3.Connection.close, pool)

    # -- connections ------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        with store_errors(sqlite3.Error):
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT,
                                         isolation_level=None, check_same_thread=False)
        try:
            with store_errors(sqlite3.Error):
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(f"PRAGMA synchronous={self.synchronous}")
                self._transaction(connection, self._migrate)
        except BaseException:
            connection.close()
            raise
        return connection

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
        for version, scripts in enumerate(MIGRATIONS[current:], current + 1):
            for script in scripts:
                db.execute(script)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @staticmethod
    def _transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a BEGIN IMMEDIATE transaction, retrying while locked."""
        deadline = time.monotonic() + BUSY_DEADLINE
        delay = 0.005
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise StoreUnavailable(f"the book stayed locked: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        try:
            result = work(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:  # a failed COMMIT (a full disk) may have ended it
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise
        return result

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._pool.connection() as db, store_errors(sqlite3.Error):
            return self._transaction(db, work)

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[Entry]:
        with self._pool.connection() as db, store_errors(sqlite3.Error):
            rows = db.execute(sql, args).fetchall()
        return [Entry(*row) for row in rows]

    # -- the interface ----------------------------------------------------------------
    def check(self) -> None:
        self._pool.check()

    def add(self, entry: Entry) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            existed = db.execute("SELECT 1 FROM entries WHERE name = ?", (entry.name,)).fetchone()
            db.execute(_UPSERT, tuple(entry.to_dict().values()))
            return existed is None

        return self._write(work)

    def add_many(self, entries: list[Entry]) -> int:
        def work(db: sqlite3.Connection) -> int:
            db.executemany(_UPSERT, [tuple(e.to_dict().values()) for e in entries])
            return len(entries)

        return self._write(work)

    def remove(self, name: str) -> bool:
        return self._write(
            lambda db: db.execute("DELETE FROM entries WHERE name = ?", (name,)).rowcount > 0
        )

    def find(self, name: str) -> Entry | None:
        found = self._read(f"SELECT {_COLUMNS} FROM entries WHERE name = ?", (name,))
        return found[0] if found else None

    def entries(self, order: str = "name") -> list[Entry]:
        return self._read(f"SELECT {_COLUMNS} FROM entries ORDER BY {order_by(order)}")

    def search(self, text: str) -> list[Entry]:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self._read(
            f"SELECT {_COLUMNS} FROM entries WHERE "
            "(name || ' ' || house || ' ' || street || ' ' || town || ' ' || phone) "
            "LIKE ? ESCAPE '\\' ORDER BY name",
            (pattern,),
        )

    def update(self, entry: Entry, expect: Entry | None = None) -> None:
        def work(db: sqlite3.Connection) -> None:
            row = db.execute(f"SELECT {_COLUMNS} FROM entries WHERE name = ?",
                             (entry.name,)).fetchone()
            if row is None:
                raise NotFound(entry.name)
            if expect is not None and Entry(*row) != expect:
                raise Conflict(entry.name)
            db.execute("UPDATE entries SET house = ?, street = ?, town = ?, phone = ? "
                       "WHERE name = ?", (entry.house, entry.street, entry.town, entry.phone,
                                          entry.name))

        self._write(work)

    def integrity_check(self) -> str:
        with self._pool.connection() as db, store_errors(sqlite3.Error):
            return str(db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self._pool.close()
