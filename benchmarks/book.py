"""Address book: adds and finds per second through the service, beside the floor.

The floor is the same operation done directly with sqlite3 / psycopg in one process
(same pragmas: WAL, synchronous=FULL; the same upsert). The service runs in a
``hosepipe serve book --model thread`` process; the client is BookClient in this one.
Each figure is the median of RUNS runs of N operations. PostgreSQL rows appear when
HOSEPIPE_TEST_POSTGRES (or --postgres URL) names a database.

    python benchmarks/book.py [--runs 3] [-n 500] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

from hosepipe.book import Entry
from hosepipe.book.client import BookClient

Op = Callable[[int], None]


def entry(i: int) -> Entry:
    return Entry(f"name-{i}", str(i), "Benchmark Road", "Camelot", "555-0100")


def sqlite_floor(path: str) -> tuple[Op, Op, Callable[[], None]]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS e (name TEXT PRIMARY KEY, house, street, town, phone)")

    def add(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO e VALUES (?, ?, ?, ?, ?)",
                   tuple(entry(i).to_dict().values()))
        db.execute("COMMIT")

    def find(i: int) -> None:
        db.execute("SELECT * FROM e WHERE name = ?", (f"name-{i}",)).fetchone()

    return add, find, db.close


def postgres_floor(url: str) -> tuple[Op, Op, Callable[[], None]]:
    import psycopg  # noqa: PLC0415 - only when PostgreSQL is measured

    db = psycopg.connect(url, autocommit=True)
    db.execute("CREATE TABLE IF NOT EXISTS e (name TEXT PRIMARY KEY, house TEXT, street TEXT, "
               "town TEXT, phone TEXT)")

    def add(i: int) -> None:
        db.execute("INSERT INTO e VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE "
                   "SET house = EXCLUDED.house", tuple(entry(i).to_dict().values()))

    def find(i: int) -> None:
        db.execute("SELECT * FROM e WHERE name = %s", (f"name-{i}",)).fetchone()

    return add, find, db.close


def service(url: str) -> tuple[Op, Op, Callable[[], None]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "hosepipe", "-q", "serve", "book@tcp://127.0.0.1:0", "--db", url,
         "--model", "thread"], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    address = server.stdout.readline().split()[1]
    book = BookClient(address)

    def close() -> None:
        book.close()
        server.terminate()
        server.wait()
        assert server.stdout is not None
        server.stdout.close()

    def add(i: int) -> None:
        book.add(entry(i))

    def find(i: int) -> None:
        book.find(f"name-{i}")

    return add, find, close


def rate(op: Op, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        op(i)
    return n / (time.perf_counter() - started)


def measure(make: Callable[[], tuple[Op, Op, Callable[[], None]]], runs: int, n: int
            ) -> tuple[list[float], list[float]]:
    add, find, close = make()
    try:
        adds = [rate(add, n) for _ in range(runs)]
        finds = [rate(find, n) for _ in range(runs)]
    finally:
        close()
    return adds, finds


def postgres_schema(base: str) -> tuple[str, Callable[[], None]]:
    import psycopg  # noqa: PLC0415

    schema = f"hosepipe_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")

    return base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}", drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--postgres", default=os.environ.get("HOSEPIPE_TEST_POSTGRES"))
    args = parser.parse_args()
    print(f"# book: median of {args.runs} runs x {args.n} operations; "
          f"{' '.join(sys.argv)}; client and server unpinned")
    print(f"{'store':<11} {'path':<26} {'adds/s':>9} {'x floor':>8} {'finds/s':>9} {'x floor':>8}")
    with tempfile.TemporaryDirectory() as directory:
        stores = [("sqlite", f"{directory}/floor.db", f"sqlite://{directory}/service.db", None)]
        drops: list[Callable[[], None]] = []
        if args.postgres:
            floor_url, drop_floor = postgres_schema(args.postgres)
            service_url, drop_service = postgres_schema(args.postgres)
            drops += [drop_floor, drop_service]
            stores.append(("postgresql", floor_url, service_url, None))
        try:
            for kind, floor_where, service_url, _ in stores:
                floor_make = (lambda w=floor_where: sqlite_floor(w)) if kind == "sqlite" else (
                    lambda w=floor_where: postgres_floor(w))
                floor = measure(floor_make, args.runs, args.n)
                ours = measure(lambda u=service_url: service(u), args.runs, args.n)
                fa, ff = statistics.median(floor[0]), statistics.median(floor[1])
                oa, of = statistics.median(ours[0]), statistics.median(ours[1])
                print(f"{kind:<11} {'direct (floor)':<26} {fa:>9.0f} {1:>8.2f} "
                      f"{ff:>9.0f} {1:>8.2f}")
                print(f"{kind:<11} {'hosepipe book service':<26} {oa:>9.0f} {oa / fa:>8.2f} "
                      f"{of:>9.0f} {of / ff:>8.2f}", flush=True)
        finally:
            for drop in drops:
                drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
