"""Programs started per connection by exec services, tracked until reaped.

The socket is handed to the program and our copy closed at once; the tracker polls
each program (never ``waitpid(-1)``, which would steal other children) and, at
shutdown, gives them the grace period and then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import time

from hosepipe.servers.base import Binding, Tally
from hosepipe.services.program import Program

__all__ = ["Programs"]

log = logging.getLogger("hosepipe.server")


class Programs:
    """Running exec-service programs, with the binding each counts against."""

    def __init__(self) -> None:
        self.running: dict[subprocess.Popen[bytes], tuple[Binding, Tally]] = {}

    def start(self, binding: Binding, sock: socket.socket, peer: str) -> None:
        service = binding.service
        assert isinstance(service, Program)
        tally = Tally(binding, peer)
        try:
            process = service.spawn(sock.fileno(), peer)
        except OSError as exc:
            log.error("%s: cannot start %s: %s", binding.label, service.argv[0], exc)
            tally.done("refused: program did not start")
            return
        finally:
            sock.close()
        self.running[process] = (binding, tally)

    def reap(self) -> None:
        for process in [p for p in self.running if p.poll() is not None]:
            _, tally = self.running.pop(process)
            tally.done(f"closed (program exit status {process.returncode}; its bytes "
                       "are not counted)")

    def __len__(self) -> int:
        return len(self.running)

    def terminate(self, wait: float = 2.0) -> None:
        for process in self.running:
            process.terminate()
        deadline = time.monotonic() + wait
        for process in self.running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.reap()
