"""exec:COMMAND: a program whose stdin and stdout are the stream (client side).

``exec:tr a-z A-Z`` runs the program and talks to it through two pipes; closing the
stream closes its stdin and waits for it (killing it if it lingers). The server-side
counterpart, a program per accepted connection, is the ``exec:`` *service*
(:mod:`hosepipe.services.program`).
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
from dataclasses import dataclass

from hosepipe.errors import AddressError, ConnectError
from hosepipe.transports.streams import FdStream

__all__ = ["SCHEMES", "ExecAddress", "ProcessStream", "connect", "parse"]

SCHEMES = ("exec",)


@dataclass(frozen=True)
class ExecAddress:
    """A program started per connection; its stdin/stdout is the byte stream."""

    argv: tuple[str, ...]
    scheme: str = "exec"
    is_datagram = False

    def __str__(self) -> str:
        return "exec:" + shlex.join(self.argv)


def parse(scheme: str, rest: str, original: str) -> ExecAddress:
    try:
        argv = tuple(shlex.split(rest))
    except ValueError as exc:
        raise AddressError(f"{original!r}: {exc}") from exc
    if not argv:
        raise AddressError(f"{original!r}: exec: needs a command, as exec:COMMAND ARGS")
    return ExecAddress(argv)


def connect(address: ExecAddress, **_: object) -> ProcessStream:
    return ProcessStream.start(address.argv)


class ProcessStream(FdStream):
    """A program's stdin (we write) and stdout (we read); closing waits for it."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        super().__init__(process.stdout.fileno(), process.stdin.fileno(), f"exec {process.pid}")
        self.process = process
        self.owned = False  # the Popen owns the pipes

    @classmethod
    def start(cls, argv: tuple[str, ...]) -> ProcessStream:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as exc:
            raise ConnectError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from exc
        return cls(process)

    def send_eof(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def close(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
