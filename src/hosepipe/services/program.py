"""exec services: a program run per connection, the socket as its stdin and stdout.

This is inetd's ``nowait`` and tcpserver's model: the server accepts, starts the
program with the connected socket as file descriptors 0 and 1, and lets it talk. The
program learns who called from the environment, with the names ucspi-tcp uses
(``PROTO``, ``TCPREMOTEIP``, ``TCPREMOTEPORT``) plus ``HOSEPIPE_PEER``.
Server models start the program with :meth:`Program.spawn` and reap it when it exits.
"""

from __future__ import annotations

import os
import subprocess
from typing import ClassVar

from hosepipe.service import Service

__all__ = ["Program"]


class Program(Service):
    """Run a program per connection with the socket as its stdin/stdout."""

    name: ClassVar[str] = "exec"
    handoff: ClassVar[bool] = True

    def __init__(self, argv: tuple[str, ...] | list[str]) -> None:
        if not argv:
            raise ValueError("exec needs a command")
        self.argv = tuple(argv)

    def spawn(self, fd: int, peer: str) -> subprocess.Popen[bytes]:
        """Start the program on the connected descriptor ``fd``; the caller reaps it."""
        env = dict(os.environ, HOSEPIPE_PEER=peer)
        host, sep, port = peer.rpartition(":")
        if sep and port.isdigit():
            env.update(PROTO="TCP", TCPREMOTEIP=host.strip("[]"), TCPREMOTEPORT=port)
        return subprocess.Popen(self.argv, stdin=fd, stdout=fd, close_fds=True, env=env)
