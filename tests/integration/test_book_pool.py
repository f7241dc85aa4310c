"""Database connections under the thread model: bounded however many workers come and go.

Three bursts of 16 clients at once against ``--model thread --thread-idle 0.2``, with a
pause after each burst until the workers have retired. Each retired worker used to keep
its database connection for ever (49 PostgreSQL backends for one live thread, then
"too many clients" for everyone); the store now keeps a bounded pool.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import psycopg
import pytest

from hosepipe.book import Entry
from hosepipe.book.client import BookClient
from hosepipe.book.store import DEFAULT_POOL
from tests.conftest import ServerProcess, postgres_base_url, start_server

CLIENTS = 16
BURSTS = 3


def burst(address: str, round_: int) -> None:
    """16 clients connected at once, each served a request before any leaves."""
    everyone_served = threading.Barrier(CLIENTS, timeout=60)
    failures: list[BaseException] = []

    def client(i: int) -> None:
        try:
            with BookClient(address, timeout=60) as book:
                book.add(Entry(f"b{round_}-{i}", str(i), "Burst Lane", "Camelot", "555"))
                everyone_served.wait()
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
            everyone_served.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert failures == []


def workers_retired(server: ServerProcess, baseline: int, timeout: float = 30.0) -> None:
    process = psutil.Process(server.process.pid)
    deadline = time.monotonic() + timeout
    while process.num_threads() > baseline:
        assert time.monotonic() < deadline, "the thread model's workers never retired"
        time.sleep(0.05)


def run_bursts(server: ServerProcess, count: Callable[[], int]) -> list[int]:
    """The connection count after start, after each burst, and once workers retired."""
    baseline = psutil.Process(server.process.pid).num_threads()
    counts = [count()]
    for round_ in range(BURSTS):
        burst(server.address("book"), round_)
        counts.append(count())
        workers_retired(server, baseline)
        counts.append(count())
    with BookClient(server.address("book")) as book:  # still serving everyone
        assert len(book.entries()) == CLIENTS * BURSTS
    return counts


def postgres_backends(application: str) -> int:
    with psycopg.connect(postgres_base_url(), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application,)).fetchone()
    assert row is not None
    return int(row[0])


def sqlite_fds(pid: int, path: Path) -> int:
    return sum(1 for f in psutil.Process(pid).open_files() if f.path.startswith(str(path)))


def serve_thread_book(db: str, *extra: str) -> ServerProcess:
    return start_server("book@tcp://127.0.0.1:0", "--db", db, "--model", "thread",
                        "--thread-idle", "0.2", *extra)


def with_application(url: str) -> tuple[str, str]:
    application = f"hosepipe_pool_{uuid.uuid4().hex[:10]}"
    return url + ("&" if "?" in url else "?") + f"application_name={application}", application


def test_postgresql_backends_stay_bounded_across_bursts(postgres_url: str) -> None:
    url, application = with_application(postgres_url)
    server = serve_thread_book(url)
    try:
        counts = run_bursts(server, lambda: postgres_backends(application))
    finally:
        assert server.stop() == 0
    print(f"PostgreSQL backends (start, then per burst: busy, retired): {counts}")
    assert max(counts) <= DEFAULT_POOL
    deadline = time.monotonic() + 30  # all closed when the server stops (the backends
    while postgres_backends(application) > 0:  # end a moment after their clients)
        assert time.monotonic() < deadline, "PostgreSQL backends outlived the server"
        time.sleep(0.05)


def test_sqlite_descriptors_stay_bounded_across_bursts(tmp_path: Path) -> None:
    server = serve_thread_book(f"sqlite://{tmp_path}/book.db")
    try:
        counts = run_bursts(server, lambda: sqlite_fds(server.process.pid, tmp_path))
    finally:
        assert server.stop() == 0
    print(f"SQLite descriptors (start, then per burst: busy, retired): {counts}")
    assert max(counts) <= 3 * DEFAULT_POOL  # the database, its WAL and its shared memory


@pytest.mark.parametrize("pool", [1, 3])
def test_pool_size_is_a_service_option(postgres_url: str, tmp_path: Path, pool: int) -> None:
    url, application = with_application(postgres_url)
    config = tmp_path / "serve.toml"
    config.write_text(f'[[bind]]\nservice = "book"\naddress = "tcp://127.0.0.1:0"\n'
                      f'db = "{url}"\npool = {pool}\n')
    server = start_server("--config", str(config), "--model", "thread", "--thread-idle", "0.2",
                          expect=1)
    try:
        burst(server.address("book"), 0)
        assert 1 <= postgres_backends(application) <= pool
    finally:
        assert server.stop() == 0
