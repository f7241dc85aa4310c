"""The SQLite store: a file, WAL, one writer at a time, durable on acknowledgement.

Writes run in ``BEGIN IMMEDIATE`` transactions (the write lock is taken up front, so two
read-modify-writes cannot deadlock on upgrade) with a busy timeout; if the database is
still locked, the write is retried with back-off until ``BUSY_DEADLINE``, so "database
is locked" never reaches a client (past the deadline it becomes StoreUnavailable).
``synchronous=FULL`` (the default) makes each commit reach the disk before the reply is
sent; ``sqlite:///PATH?synchronous=NORMAL`` trades that for speed (in WAL mode a power
loss may then lose the last commits, though never corrupt the file).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

from hosepipe.book.entry import Entry
from hosepipe.book.store import Conflict, NotFound, PerThread, Store, StoreUnavailable
from hosepipe.errors import ConfigError

__all__ = ["MIGRATIONS", "SqliteStore"]

T = TypeVar("T")

BUSY_TIMEOUT = 5.0
BUSY_DEADLINE = 30.0
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

MIGRATIONS: list[str] = [
    # 1: the entries table
    """
    CREATE TABLE entries (
        name   TEXT PRIMARY KEY NOT NULL,
        house  TEXT NOT NULL,
        street TEXT NOT NULL,
        town   TEXT NOT NULL,
        phone  TEXT NOT NULL
    ) WITHOUT ROWID
    """,
]

_COLUMNS = "name, house, street, town, phone"


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


class SqliteStore(Store):
    def __init__(self, url: str) -> None:
        self.path, self.synchronous = _path_and_options(url)
        self.url = f"sqlite://{self.path}"
        self._connections: PerThread[sqlite3.Connection] = PerThread()

    # -- connections ------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        connection = self._connections.get()
        if connection is None:
            connection = self._open()
            self._connections.put(connection)
        return connection

    def _open(self) -> sqlite3.Connection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT,
                                         isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={self.synchronous}")
        self._migrate(connection)
        return connection

    def _migrate(self, connection: sqlite3.Connection) -> None:
        def run(db: sqlite3.Connection) -> None:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, script in enumerate(MIGRATIONS[current:], current + 1):
                db.execute(script)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

        self._write(run, connection)

    def _write(self, work: Callable[[sqlite3.Connection], T],
               connection: sqlite3.Connection | None = None) -> T:
        """Run ``work`` in a BEGIN IMMEDIATE transaction, retrying while locked."""
        db = connection or self._connection()
        deadline = time.monotonic() + BUSY_DEADLINE
        delay = 0.005
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if time.monotonic() + delay > deadline:
                    raise StoreUnavailable(f"the book stayed locked: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
                continue
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[Entry]:
        try:
            rows = self._connection().execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return [Entry(*row) for row in rows]

    # -- the interface ----------------------------------------------------------------
    def add(self, entry: Entry) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            existed = db.execute("SELECT 1 FROM entries WHERE name = ?", (entry.name,)).fetchone()
            db.execute(f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                       tuple(entry.to_dict().values()))
            return existed is None

        return self._write(work)

    def add_many(self, entries: list[Entry]) -> int:
        def work(db: sqlite3.Connection) -> int:
            db.executemany(f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                           [tuple(e.to_dict().values()) for e in entries])
            return len(entries)

        return self._write(work)

    def remove(self, name: str) -> bool:
        return self._write(
            lambda db: db.execute("DELETE FROM entries WHERE name = ?", (name,)).rowcount > 0
        )

    def find(self, name: str) -> Entry | None:
        found = self._read(f"SELECT {_COLUMNS} FROM entries WHERE name = ?", (name,))
        return found[0] if found else None

    def entries(self) -> list[Entry]:
        return self._read(f"SELECT {_COLUMNS} FROM entries ORDER BY name")

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
        return str(self._connection().execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        for connection in self._connections.take_all():
            connection.close()
