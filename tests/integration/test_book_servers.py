"""The book served for real: every model, the menu at a terminal, concurrency,
durability under SIGKILL, and PostgreSQL shared between two servers."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pexpect
import psutil
import pytest

from hosepipe import ConnectionClosed, RemoteError, TransportError
from hosepipe.book import Entry
from hosepipe.book.client import BookClient
from hosepipe.book.menu import PROMPTS
from hosepipe.book.sqlite import SqliteStore
from tests.conftest import ServerProcess, start_server
from tests.waiting import wait_for

ROOT = Path(__file__).parents[2]
ARTHUR = Entry("Arthur", "1", "High St", "Camelot", "555-0100")


def serve_book(db: str, model: str = "select", *extra: str) -> ServerProcess:
    return start_server("book@tcp://127.0.0.1:0", "--db", db, "--model", model, *extra)


def classic_lines(address: str, *commands: str) -> list[str]:
    host, port = address[6:].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall("".join(c + "\n" for c in commands).encode())
        sock.shutdown(socket.SHUT_WR)
        return sock.makefile("r").read().splitlines()


@pytest.mark.parametrize("model", ["iterative", "thread", "fork", "select", "async"])
def test_every_model_serves_the_book(tmp_path: Path, model: str) -> None:
    server = serve_book(f"sqlite://{tmp_path}/book.db", model)
    address = server.address("book")
    try:
        assert classic_lines(address, "add:Arthur,1,High St,Camelot,555-0100", "fnd:Arthur",
                             "rem:Nobody", "what") == [
            "Added entry for Arthur", "Arthur : 1,High St,Camelot,555-0100",
            "Sorry, no entry for: Nobody", "ERROR: Unrecognized command: what"]
        with BookClient(address) as book:
            assert book.find("Arthur") == ARTHUR  # what one adds, the next finds
            book.add_many([Entry("Kay", "2", "a", "b", "c")])
            assert [e.name for e in book.entries()] == ["Arthur", "Kay"]
            with pytest.raises(RemoteError, match="not-found"):
                book.remove("Nobody")
            with pytest.raises(RemoteError, match="bad-entry"):
                book.client.request({"op": "add", "entry": {"name": "x"}})
    finally:
        assert server.stop() == 0


def spawn_menu(*args: str) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "hosepipe", "book", *args], cwd=str(ROOT),
                         encoding="utf-8", timeout=20, dimensions=(40, 120))


def add_in_menu(menu: pexpect.spawn, entry: Entry) -> None:
    menu.expect_exact("Choose an option[1-4] ")
    menu.sendline("1")
    for prompt, value in zip(PROMPTS, entry.to_dict().values(), strict=True):
        menu.expect_exact(prompt)
        menu.sendline(value)
    menu.expect_exact(f"RESULT:  Added entry for {entry.name}")


def pipe_child(menu: pexpect.spawn) -> psutil.Process:
    deadline = time.monotonic() + 10
    while not (children := psutil.Process(menu.pid).children()):
        assert time.monotonic() < deadline, "the --local book child never appeared"
        time.sleep(0.05)
    (child,) = children
    return child


def gone(process: psutil.Process, timeout: float = 10) -> bool:
    """True once the process has ended and been reaped (a zombie is not gone)."""
    try:
        process.wait(timeout)
    except psutil.TimeoutExpired:
        return False
    except psutil.NoSuchProcess:
        pass
    return not psutil.pid_exists(process.pid)


@pytest.mark.parametrize("ending", ["quit", "ctrl-c", "eof"])
def test_local_menu_as_a_person_uses_it(tmp_path: Path, ending: str) -> None:
    menu = spawn_menu("--local", "--db", f"sqlite://{tmp_path}/book.db")
    try:
        add_in_menu(menu, ARTHUR)
        child = pipe_child(menu)
        menu.expect_exact("Choose an option[1-4] ")
        menu.sendline("3")
        menu.expect_exact("Enter the name: ")
        menu.sendline("Arthur")
        menu.expect_exact("RESULT:  Arthur : 1,High St,Camelot,555-0100")
        menu.expect_exact("Choose an option[1-4] ")
        menu.sendline("2")
        menu.expect_exact("Enter the name: ")
        menu.sendline("Nobody")
        menu.expect_exact("RESULT:  Sorry, no entry for: Nobody")
        menu.expect_exact("Choose an option[1-4] ")
        if ending == "quit":
            menu.sendline("4")
        elif ending == "ctrl-c":
            menu.sendintr()
        else:
            menu.sendeof()
        menu.expect(pexpect.EOF)
        menu.wait()
        assert menu.exitstatus == (130 if ending == "ctrl-c" else 0)
        assert gone(child)
    finally:
        menu.close(force=True)
    store = SqliteStore(f"sqlite://{tmp_path}/book.db")
    try:
        assert store.entries() == [ARTHUR]
    finally:
        store.close()


def test_networked_menu_shares_the_book(tmp_path: Path) -> None:
    server = serve_book(f"sqlite://{tmp_path}/book.db")
    try:
        menu = spawn_menu("-a", server.address("book"))
        try:
            add_in_menu(menu, ARTHUR)
            menu.expect_exact("Choose an option[1-4] ")
            menu.sendline("4")
            menu.expect(pexpect.EOF)
        finally:
            menu.close(force=True)
        with BookClient(server.address("book")) as book:
            assert book.find("Arthur") == ARTHUR
    finally:
        assert server.stop() == 0


def run_workers(address: str, adders: int, adds: int, incrementers: int, increments: int
                ) -> list[Entry]:
    """Adder and read-modify-write processes against one book; the book afterwards."""
    worker = str(Path(__file__).with_name("book_worker.py"))
    with BookClient(address) as book:
        book.add(Entry("Counter", "0", "RMW Road", "Camelot", "555"))
    jobs = [("adds", f"p{i}", adds) for i in range(adders)]
    jobs += [("increment", "Counter", increments)] * incrementers
    processes = [subprocess.Popen([sys.executable, worker, address, mode, key, str(count)],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
                 for mode, key, count in jobs]
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, out
    with BookClient(address) as book:
        return book.entries()


def expected_names(adders: int, adds: int) -> set[str]:
    return {f"p{i}-{n}" for i in range(adders) for n in range(adds)} | {"Counter"}


@pytest.mark.parametrize("model", ["thread", "fork", "select", "async"])
def test_concurrent_clients_get_exactly_the_expected_book(tmp_path: Path, model: str) -> None:
    server = serve_book(f"sqlite://{tmp_path}/book.db", model)
    try:
        entries = run_workers(server.address("book"), 4, 500, 4, 25)
        assert {e.name for e in entries} == expected_names(4, 500) and len(entries) == 2001
        assert next(e for e in entries if e.name == "Counter").house == "100"
    finally:
        assert server.stop() == 0


def test_acknowledged_adds_survive_sigkill(tmp_path: Path) -> None:
    """At least 50 rounds: a writer records each acknowledged add, the server is killed
    with SIGKILL at a random moment, and every acknowledged entry is there afterwards."""
    db = f"sqlite://{tmp_path}/book.db"
    rng = random.Random(868)
    acknowledged: list[str] = []
    models = ["thread", "fork", "select", "async"]
    for round_ in range(50):
        server = serve_book(db, models[round_ % 4])
        stop = threading.Event()

        def write(address: str = server.address("book"), round_: int = round_,
                  stop: threading.Event = stop) -> None:
            try:
                with BookClient(address, timeout=5) as book:
                    for i in range(100_000):
                        if stop.is_set():
                            return
                        name = f"r{round_}-{i}"
                        book.add(Entry(name, str(i), "Durable Way", "Camelot", "555"))
                        acknowledged.append(name)  # only after the reply came back
            except (ConnectionClosed, TransportError, RemoteError):
                return

        before = len(acknowledged)
        writer = threading.Thread(target=write)
        writer.start()
        # a random moment of the writing, however slow the machine: after a random count
        # of this round's adds (polled, so the kill lands anywhere in the next ones)
        wanted = before + rng.randint(1, 12)
        wait_for(lambda w=writer, n=wanted: len(acknowledged) >= n or not w.is_alive(),
                 "the round's adds")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        stop.set()
        writer.join(10)
        server.stop()
    store = SqliteStore(db)
    try:
        stored = {entry.name for entry in store.entries()}
        assert store.integrity_check() == "ok"
    finally:
        store.close()
    assert len(acknowledged) > 50
    missing = [name for name in acknowledged if name not in stored]
    assert missing == []


def test_two_servers_share_one_postgresql_book(postgres_url: str) -> None:
    first = serve_book(postgres_url, "thread")
    second = serve_book(postgres_url, "async")
    try:
        with BookClient(first.address("book")) as one, BookClient(second.address("book")) as two:
            one.add(ARTHUR)
            assert two.find("Arthur") == ARTHUR
            two.remove("Arthur")
            with pytest.raises(RemoteError, match="not-found"):
                one.find("Arthur")
        assert classic_lines(second.address("book"), "add:Kay,2,a,b,c")[0] == "Added entry for Kay"
        assert classic_lines(first.address("book"), "fnd:Kay") == ["Kay : 2,a,b,c"]
    finally:
        assert first.stop() == 0
        assert second.stop() == 0


@pytest.mark.parametrize("model", ["thread", "fork", "async"])
def test_concurrent_clients_on_postgresql(postgres_url: str, model: str) -> None:
    server = serve_book(postgres_url, model)
    try:
        entries = run_workers(server.address("book"), 4, 100, 4, 10)
        assert {e.name for e in entries} == expected_names(4, 100) and len(entries) == 401
        assert next(e for e in entries if e.name == "Counter").house == "40"
    finally:
        assert server.stop() == 0
