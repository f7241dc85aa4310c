"""Test peers that behave as the tutorials' programs do, run as real processes.

One module per tutorial program (see /work/shared/seeds/): the same bytes, the same
``send``/``recv`` pattern and the same prompts, so hosepipe's clients can be tested
against what a user would actually run. Each binds 127.0.0.1 port 0 (never the
tutorials' fixed ports) and prints the port it got as its first line of output.
Where a tutorial program would spin for ever or never run at all (a ``recv`` loop with
no exit, Python 2 syntax), the module says what it does instead; nothing that reaches
the wire differs.

    with start_peer("squares") as peer:
        run_cli("square", "-a", peer.address, "3")

:func:`start_peer` runs ``python -m tests.peers.NAME`` in its own session (so that
forked children go too), with its output in a file (read with :meth:`Peer.output`),
and :meth:`Peer.stop` ends the whole process group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["Peer", "listen", "start_peer"]

ROOT = Path(__file__).parents[2]


@dataclass
class Peer:
    process: subprocess.Popen[bytes]
    port: int
    out: IO[str]

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def output(self) -> str:
        """What the peer printed so far (prompts, "Server heard ...")."""
        self.out.seek(0)
        return self.out.read()

    def stop(self) -> int | None:
        """End the peer and everything it forked; its exit status (None if killed)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        code = self.process.wait(15)
        self.out.close()
        return code

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_peer(name: str, *args: str, stdin: str | None = None, cwd: Path | None = None,
               timeout: float = 15.0) -> Peer:
    """Run peer ``name`` (a module of this package) and wait for the port it prints;
    ``stdin`` is what the peer reads from its standard input (a tutorial's typing)."""
    out = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by Peer.stop
    with tempfile.TemporaryFile() as feed:
        feed.write((stdin or "").encode())
        feed.seek(0)
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", f"tests.peers.{name}", *args],
            stdin=feed, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,
        )
    peer = Peer(process, 0, out)
    deadline = time.monotonic() + timeout
    while not (first := peer.output().partition("\n"))[1]:
        if process.poll() is not None or time.monotonic() > deadline:
            peer.stop()
            raise RuntimeError(f"peer {name} did not print its port: {peer.output()!r}")
        time.sleep(0.02)
    peer.port = int(first[0])
    return peer


def listen(backlog: int = 5) -> socket.socket:
    """A TCP socket on 127.0.0.1, any free port, whose port is printed (the first line
    of output, which :func:`start_peer` waits for)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    print(sock.getsockname()[1], flush=True)
    return sock
