"""The book's own faults against a real server: bad text, a full disk, no database.

``add:\\xff,...`` used to reach SQLite as a lone surrogate, and the UnicodeEncodeError
ended the iterative superserver with every binding in it; a full disk under the
database did the same. Both are now a reply, and the server goes on.
"""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import ServerProcess, start_server


def endpoint(address: str) -> tuple[str, int]:
    host, port = address[6:].rsplit(":", 1)
    return host, int(port)


def exchange(address: str, data: bytes) -> bytes:
    """Send, close our side, read until the server closes (nc -N)."""
    with socket.create_connection(endpoint(address), timeout=20) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def serve(tmp_path: Path) -> ServerProcess:
    return start_server("book@tcp://127.0.0.1:0", "echo@tcp://127.0.0.1:0",
                        "--db", f"sqlite://{tmp_path}/book.db", "--model", "iterative")


def test_a_line_that_is_not_utf8_gets_an_error_not_a_dead_server(tmp_path: Path) -> None:
    server = serve(tmp_path)
    try:
        book = server.address("book")
        assert exchange(book, b"add:\xff,1,s,t,5\n") == b"ERROR: name is not valid UTF-8 text\n"
        assert exchange(book, b"add:Kay,1,s\xfe,t,5\nfnd:Kay\n") == (
            b"ERROR: street is not valid UTF-8 text\nSorry, no entry for: Kay\n")
        assert exchange(server.address("echo"), b"still here") == b"still here"
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()


def test_a_full_disk_under_the_book_is_an_error_not_a_dead_server(tmp_path: Path) -> None:
    server = serve(tmp_path)
    book = server.address("book")
    try:
        assert exchange(book, b"add:Arthur,1,s,t,5\n") == b"Added entry for Arthur\n"
        largest = max(p.stat().st_size for p in tmp_path.glob("book.db*"))
        unlimited = resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (largest, unlimited[1]))
        big = b"x" * 150
        lines = b"".join(b"add:n%d,%s,%s,%s,%s\n" % (i, big, big, big, big) for i in range(60))
        replies = exchange(book, lines).decode().splitlines()
        assert len(replies) == 60
        assert any(r.startswith("ERROR: the book is unavailable: ") for r in replies), replies
        assert exchange(server.address("echo"), b"still here") == b"still here"
        resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, unlimited)
        assert exchange(book, b"add:Kay,2,a,b,c\nfnd:Kay\n") == (
            b"Added entry for Kay\nKay : 2,a,b,c\n")
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log()


def test_an_unreachable_postgresql_is_reported_at_start(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = closed.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "hosepipe", "serve", "book@tcp://127.0.0.1:0", "--db",
             f"postgresql://postgres@127.0.0.1:{port}/test"],
            capture_output=True, text=True, timeout=60, check=False)
    finally:
        closed.close()
    assert result.returncode == 1
    assert result.stdout == ""  # no binding was announced
    assert result.stderr.startswith("hosepipe: error: book: cannot connect to the book "
                                    "database: ")
    assert result.stderr.count("\n") == 1, result.stderr
