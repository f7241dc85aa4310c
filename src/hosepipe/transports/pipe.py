"""pipe:: a forked child at the other end of two ``os.pipe()`` pairs (client side only).

The tutorial's way to talk to a helper process: the parent writes requests into one
pipe and reads answers from the other; the child, a fork of the parent, runs whatever
``child_main`` the caller gives it (a service, for :class:`hosepipe.Client`) over the
other ends. Closing the stream ends the child with SIGTERM and reaps it: no zombie, no
orphan.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

from hosepipe.errors import AddressError, UsageError
from hosepipe.transports.base import Stream
from hosepipe.transports.streams import FdStream

__all__ = ["SCHEMES", "ChildStream", "PipeAddress", "connect", "parse"]

SCHEMES = ("pipe",)

ChildMain = Callable[[Stream], None]


@dataclass(frozen=True)
class PipeAddress:
    """A forked child running the service, joined to us by two os.pipe() pairs."""

    scheme: str = "pipe"
    is_datagram = False

    def __str__(self) -> str:
        return "pipe:"


def parse(scheme: str, rest: str, original: str) -> PipeAddress:
    if rest.strip("/"):
        raise AddressError(f"{original!r}: pipe: takes no arguments")
    return PipeAddress()


def connect(address: PipeAddress, *, child_main: ChildMain | None = None,
            **_: object) -> ChildStream:
    if child_main is None:
        raise UsageError("pipe: needs a service to run in the child")
    return ChildStream.fork(child_main)


class ChildStream(FdStream):
    """Pipes to a forked child; closing ends the child with SIGTERM and reaps it."""

    def __init__(self, read_fd: int, write_fd: int, pid: int) -> None:
        super().__init__(read_fd, write_fd, f"pipe child {pid}")
        self.pid = pid

    @classmethod
    def fork(cls, child_main: ChildMain) -> ChildStream:
        down_r, down_w = os.pipe()  # parent -> child
        up_r, up_w = os.pipe()  # child -> parent
        pid = os.fork()
        if pid == 0:  # the child: serve over the pipes, never return into the caller
            status = 0
            try:
                os.close(down_w)
                os.close(up_r)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                child_main(FdStream(down_r, up_w, "parent"))
            except BaseException:
                status = 1
            finally:
                os._exit(status)
        os.close(down_r)
        os.close(up_w)
        return cls(up_r, down_w, pid)

    def close(self) -> None:
        super().close()
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0
