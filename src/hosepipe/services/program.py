"""exec services: a program run per connection, the connection as its stdin and stdout.

This is inetd's ``nowait`` and tcpserver's model: the server accepts, starts the
program with the connected socket as file descriptors 0 and 1, and lets it talk. The
program learns who called from the environment, with the names ucspi-tcp uses
(``PROTO``, ``TCPREMOTEIP``, ``TCPREMOTEPORT``) plus ``HOSEPIPE_PEER``.
The service takes the connection over (``handoff``); the server only tracks the process.
"""

from __future__ import annotations

import os
import subprocess
from typing import ClassVar

from hosepipe.service import Handoff, Service
from hosepipe.transports.base import Stream

__all__ = ["Program"]


class _Process(Handoff):
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def poll(self) -> int | None:
        return self.process.poll()

    def terminate(self) -> None:
        self.process.terminate()

    def kill(self) -> None:
        self.process.kill()

    def wait(self, timeout: float | None = None) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(str(exc)) from exc


class Program(Service):
    """Run a program per connection with the connection as its stdin/stdout."""

    name: ClassVar[str] = "exec"
    handoff: ClassVar[bool] = True

    def __init__(self, argv: tuple[str, ...] | list[str]) -> None:
        if not argv:
            raise ValueError("exec needs a command")
        self.argv = tuple(argv)

    def take_over(self, stream: object, peer: str) -> Handoff:
        assert isinstance(stream, Stream)
        stream.set_blocking(True)  # the program expects ordinary blocking descriptors
        env = dict(os.environ, HOSEPIPE_PEER=peer)
        host, sep, port = peer.rpartition(":")
        if sep and port.isdigit():
            env.update(PROTO="TCP", TCPREMOTEIP=host.strip("[]"), TCPREMOTEPORT=port)
        return _Process(subprocess.Popen(self.argv, stdin=stream.read_fd,
                                         stdout=stream.write_fd, close_fds=True, env=env))
