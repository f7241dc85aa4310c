"""Waiting without guessing: polling with a deadline, and reading until a reply is whole.

A test on a loaded machine cannot know how long the other side takes, so it never
sleeps a fixed time and hopes (``time.sleep(0.3)`` and then an assertion). It polls the
condition it needs -- a log line, a file's size, a process's children -- until it holds,
and fails with a message naming what it waited for once the deadline passes. Likewise
one ``recv()`` is whatever the kernel had at that moment, not a reply: the readers here
go on until the expected bytes, a delimiter or end of stream has arrived. Every loop is
bounded in time, and in count (each step waits at least ``STEP`` or receives a byte).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import IO

__all__ = ["DEADLINE", "STEP", "log_text", "recv_exactly", "recv_to_eof", "recv_until",
           "wait_for", "wait_for_log"]

DEADLINE = 30.0  # seconds: generous, a loaded machine is slow but not this slow
STEP = 0.02


def wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(STEP)


def log_text(log_file: IO[str]) -> str:
    """What a server wrote so far to ``log_file`` (read with pread: the server shares
    the file's offset, which a seek here would move)."""
    return os.pread(log_file.fileno(), 1 << 24, 0).decode(errors="replace")


def wait_for_log(log_file: IO[str], text: str, count: int = 1,
                 timeout: float = DEADLINE) -> str:
    """Wait until ``text`` appears ``count`` times in the log; returns the log."""
    seen = [""]

    def appeared() -> bool:
        seen[0] = log_text(log_file)
        return seen[0].count(text) >= count

    try:
        wait_for(appeared, f"{count} x {text!r} in the log", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the log:\n{seen[0]}") from None
    return seen[0]


def _recv(sock: socket.socket, size: int, deadline: float) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    sock.settimeout(left)
    return sock.recv(size)


def recv_exactly(sock: socket.socket, size: int, timeout: float = DEADLINE) -> bytes:
    """``size`` bytes (fewer only if the peer closes first)."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    while len(got) < size and (data := _recv(sock, size - len(got), deadline)):
        got += data
    return bytes(got)


def recv_until(sock: socket.socket, done: bytes | Callable[[bytes], bool],
               timeout: float = DEADLINE, limit: int = 1 << 24) -> bytes:
    """Receive until ``done`` (bytes the data must end with, or a test of all received),
    end of stream, ``limit`` bytes or the deadline (TimeoutError)."""
    finished = done if callable(done) else (lambda data: data.endswith(done))
    deadline = time.monotonic() + timeout
    got = b""
    while not finished(got) and len(got) < limit:
        data = _recv(sock, 65536, deadline)
        if not data:
            break
        got += data
    return got


def recv_to_eof(sock: socket.socket, timeout: float = DEADLINE, limit: int = 1 << 30) -> bytes:
    """Everything until the peer closes (or resets: what came before is returned)."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    try:
        while len(got) < limit and (data := _recv(sock, 65536, deadline)):
            got += data
    except ConnectionResetError:
        pass
    return bytes(got)
