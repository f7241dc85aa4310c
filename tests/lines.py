"""Serial lines for tests: two pseudo-terminals joined by socat, as a null-modem cable
joins two serial ports."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

__all__ = ["SocatLine"]


class SocatLine:
    """``socat pty,raw,echo=0 pty,raw,echo=0``: two ptys, linked as ``a`` and ``b`` in
    ``directory``. :meth:`close` ends socat (both devices go, as if unplugged);
    :meth:`start` brings them back under the same names.

    Unlike a cable, socat relays both directions in one thread with blocking writes: a
    test that streams both ways at once (echo) must bound what it has in flight, or a
    server's backpressure and socat's blocked write wait on each other."""

    def __init__(self, directory: Path, name: str = "line") -> None:
        self.a, self.b = str(directory / f"{name}-a"), str(directory / f"{name}-b")
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.a}", f"pty,raw,echo=0,link={self.b}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(1000):  # socat makes the links before it starts moving bytes
            if os.path.exists(self.a) and os.path.exists(self.b):
                return
            if self.process.poll() is not None:
                break
            threading.Event().wait(0.01)
        self.close()
        raise RuntimeError("socat did not make its ptys")

    def close(self) -> None:
        """Unplug: the links go first, then socat and its ptys. A server serving a
        link reopens it by name after the hang-up; were the links still there once
        the ptys were gone, it could open whatever pty next takes their numbers (one
        of another test, or of another suite running beside this one)."""
        for link in (self.a, self.b):
            if os.path.islink(link):
                os.unlink(link)
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
