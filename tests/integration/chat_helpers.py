"""What the chat tests share: ``hosepipe chat`` and the tutorial's programs in real
pseudo-terminals (pexpect), and a raw socket peer read until what is expected arrives."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pexpect

ROOT = Path(__file__).parents[2]
PROMPT = "type message:"  # prompt_toolkit moves the cursor instead of printing the space
# prompt_toolkit drawing an empty prompt: the line editor runs (the terminal is raw). A
# Ctrl-D typed before that goes to the tty's line discipline between two prompts.
READY = "type message:\x1b[13D\x1b[14C"
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm", "HOME": "/tmp",
       "PROMPT_TOOLKIT_NO_CPR": "1", "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}


def spawn(*argv: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    child = pexpect.spawn(argv[0], list(argv[1:]), cwd=str(ROOT), encoding="utf-8",
                          timeout=15, dimensions=(40, 200), env=env or ENV)
    return child


def chat(*args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    """``hosepipe chat ARGS`` in a terminal of its own."""
    return spawn(sys.executable, "-m", "hosepipe", "chat", *args, env=env)


@contextmanager
def listening(*args: str, address: str = "tcp://127.0.0.1:0"
              ) -> Iterator[tuple[pexpect.spawn, str]]:
    """``hosepipe chat --listen ADDRESS ARGS`` and the address it bound."""
    child = chat("--listen", address, *args)
    try:
        child.expect(r"listening on (\S+)\r\n")
        yield child, child.match.group(1)
    finally:
        finish(child)


@contextmanager
def running(child: pexpect.spawn) -> Iterator[pexpect.spawn]:
    try:
        yield child
    finally:
        finish(child)


def finish(child: pexpect.spawn) -> None:
    """Kill ``child`` if it still runs, and reap it."""
    if child.closed:
        return
    if child.isalive():
        child.kill(signal.SIGKILL)
        child.wait()
    child.close()


def at_prompt(child: pexpect.spawn) -> None:
    """Wait until ``child``'s line editor shows an empty prompt."""
    child.expect_exact(READY)


def say(child: pexpect.spawn, text: str) -> None:
    """Type ``text`` and Enter, and wait for the next empty prompt."""
    child.sendline(text)
    child.expect_exact(f"type message: {text}")
    at_prompt(child)


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def connect(address: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port_of(address)), timeout=15)
    return sock


def read_until(sock: socket.socket, wanted: bytes, timeout: float = 15.0) -> bytes:
    """What ``sock`` sends until ``wanted`` has arrived (AssertionError at the deadline)."""
    got = b""
    deadline = time.monotonic() + timeout
    while wanted not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"{wanted!r} never came; got {got!r}"
        sock.settimeout(left)
        chunk = sock.recv(4096)
        assert chunk, f"closed before {wanted!r}; got {got!r}"
        got += chunk
    return got


def read_to_end(sock: socket.socket, timeout: float = 15.0) -> bytes:
    """Everything ``sock`` sends until it closes."""
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"never closed; got {got!r}"
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            return got
        got += chunk


def ended(child: pexpect.spawn) -> int | None:
    """Wait for ``child`` to exit; its exit status."""
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus
