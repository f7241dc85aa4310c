"""The PostgreSQL store: one book shared by servers on many machines.

psycopg 3, connections from the store's bounded pool (see :mod:`hosepipe.book.store`),
each method one transaction. The schema is created on first use by versioned
migrations, run under a transaction-level advisory lock so that several servers
starting at once migrate exactly once. Read-modify-write updates lock the row
(``SELECT ... FOR UPDATE``) before comparing. A broken connection is dropped and the
call retried once on a new one; past that the caller gets
:class:`~hosepipe.book.store.StoreUnavailable`. Data PostgreSQL refuses (a NUL byte)
is :class:`~hosepipe.book.entry.BadEntry`; every other psycopg error is StoreUnavailable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

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

try:
    import psycopg
except ImportError:  # pragma: no cover - the postgres extra is not installed
    psycopg = None  # type: ignore[assignment]

__all__ = ["MIGRATIONS", "PostgresStore"]

T = TypeVar("T")

LOCK_KEY = 0x686F7365  # "hose": the advisory lock that serializes migrations

MIGRATIONS: list[tuple[str, ...]] = [
    # 1: the entries table
    ("""
    CREATE TABLE book_entries (
        name   TEXT PRIMARY KEY,
        house  TEXT NOT NULL,
        street TEXT NOT NULL,
        town   TEXT NOT NULL,
        phone  TEXT NOT NULL
    )
    """,),
    # 2: the order of addition (the flat file's order)
    ("ALTER TABLE book_entries ADD COLUMN seq BIGSERIAL",
     "CREATE INDEX book_entries_seq ON book_entries (seq)"),
]

_COLUMNS = "name, house, street, town, phone"


class PostgresStore(Store):
    def __init__(self, url: str, pool: int = DEFAULT_POOL) -> None:
        if psycopg is None:
            raise ConfigError("PostgreSQL needs psycopg: pip install 'hosepipe[postgres]'")
        self.url = url
        self._pool: Pool[Any] = Pool(self._open, lambda c: c.close(), pool)

    def _errors(self) -> Any:
        return store_errors(psycopg.Error, (psycopg.DataError,))

    def _open(self) -> Any:
        try:
            connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())  # libpq's message spans lines
            raise StoreUnavailable(f"cannot connect to the book database: {reason}") from exc
        try:
            with self._errors():
                self._migrate(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    @staticmethod
    def _migrate(connection: Any) -> None:
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
            connection.execute(
                "CREATE TABLE IF NOT EXISTS hosepipe_book_schema (version INTEGER NOT NULL)"
            )
            current = connection.execute(
                "SELECT coalesce(max(version), 0) FROM hosepipe_book_schema").fetchone()[0]
            for version, scripts in enumerate(MIGRATIONS[current:], current + 1):
                for script in scripts:
                    connection.execute(script)
                connection.execute("INSERT INTO hosepipe_book_schema VALUES (%s)", (version,))

    def _run(self, work: Callable[[Any], T]) -> T:
        for attempt in (1, 2):
            try:
                with self._pool.connection() as db, self._errors(), db.transaction():
                    return work(db)
            except StoreUnavailable as exc:  # the pool has dropped the connection
                broken = isinstance(exc.__cause__, psycopg.OperationalError)
                if attempt == 2 or not broken:
                    raise
        raise AssertionError("unreachable")

    def check(self) -> None:
        self._pool.check()

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[Entry]:
        return self._run(lambda db: [Entry(*row) for row in db.execute(sql, args).fetchall()])

    def add(self, entry: Entry) -> bool:
        sql = (f"INSERT INTO book_entries ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s) "
               "ON CONFLICT (name) DO UPDATE SET house = EXCLUDED.house, "
               "street = EXCLUDED.street, town = EXCLUDED.town, phone = EXCLUDED.phone "
               "RETURNING (xmax = 0)")
        values = tuple(entry.to_dict().values())
        return bool(self._run(lambda db: db.execute(sql, values).fetchone()[0]))

    def add_many(self, entries: list[Entry]) -> int:
        sql = (f"INSERT INTO book_entries ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s) "
               "ON CONFLICT (name) DO UPDATE SET house = EXCLUDED.house, "
               "street = EXCLUDED.street, town = EXCLUDED.town, phone = EXCLUDED.phone")
        rows = [tuple(e.to_dict().values()) for e in entries]

        def work(db: Any) -> int:
            with db.cursor() as cursor:
                cursor.executemany(sql, rows)
            return len(rows)

        return self._run(work)

    def remove(self, name: str) -> bool:
        return self._run(
            lambda db: db.execute("DELETE FROM book_entries WHERE name = %s", (name,)).rowcount > 0
        )

    def find(self, name: str) -> Entry | None:
        found = self._rows(f"SELECT {_COLUMNS} FROM book_entries WHERE name = %s", (name,))
        return found[0] if found else None

    def entries(self, order: str = "name") -> list[Entry]:
        return self._rows(f"SELECT {_COLUMNS} FROM book_entries ORDER BY {order_by(order)}")

    def search(self, text: str) -> list[Entry]:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self._rows(
            f"SELECT {_COLUMNS} FROM book_entries WHERE "
            "concat_ws(' ', name, house, street, town, phone) ILIKE %s ORDER BY name",
            (pattern,),
        )

    def update(self, entry: Entry, expect: Entry | None = None) -> None:
        def work(db: Any) -> None:
            row = db.execute(f"SELECT {_COLUMNS} FROM book_entries WHERE name = %s FOR UPDATE",
                             (entry.name,)).fetchone()
            if row is None:
                raise NotFound(entry.name)
            if expect is not None and Entry(*row) != expect:
                raise Conflict(entry.name)
            db.execute("UPDATE book_entries SET house = %s, street = %s, town = %s, phone = %s "
                       "WHERE name = %s",
                       (entry.house, entry.street, entry.town, entry.phone, entry.name))

        self._run(work)

    def close(self) -> None:
        self._pool.close()
