"""The fork model: one child process per connection, every child reaped.

The parent accepts, forks, closes its copy of the socket and goes back to accepting;
the child closes every listener, serves the one conversation and exits with
``os._exit``. SIGCHLD wakes the hub, which reaps each known child with
``waitpid(pid, WNOHANG)`` (never ``waitpid(-1)``: exec programs are reaped by their own
tracker). At shutdown the children get the grace period, then SIGTERM, and are reaped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable

from hosepipe.servers.base import Bound, Model
from hosepipe.servers.blocking import serve_connection
from hosepipe.servers.signals import blocked
from hosepipe.transports.base import Stream

__all__ = ["ForkModel"]

log = logging.getLogger("hosepipe.server")


class ForkModel(Model):
    name = "fork"

    def __init__(self, in_child: Callable[[], None]) -> None:
        self._in_child = in_child  # releases the parent's loop in a new child
        self.children: dict[int, tuple[Bound, str]] = {}

    def accepted(self, bound: Bound, stream: Stream, peer: str) -> None:
        try:
            with blocked():  # the child must never run the parent's signal handlers
                pid = os.fork()
                if pid == 0:
                    _child_signals()
        except OSError as exc:
            log.error("%s: cannot fork for %s: %s", bound.label, peer, exc)
            stream.close()
            bound.leave(peer)
            return
        if pid == 0:
            self._child(bound, stream, peer)
        stream.close()
        self.children[pid] = (bound, peer)

    def _child(self, bound: Bound, stream: Stream, peer: str) -> None:
        status = 0
        try:
            self._in_child()
            serve_connection(bound, stream, peer)
        except BaseException:
            log.exception("%s: child for %s failed", bound.label, peer)
            status = 1
        finally:
            os._exit(status)

    def tick(self) -> None:
        for pid in list(self.children):
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                bound, peer = self.children.pop(pid)
                bound.leave(peer)

    def active(self) -> int:
        return len(self.children)

    def abort(self) -> None:
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def close(self) -> None:
        for pid, (bound, peer) in list(self.children.items()):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            bound.leave(peer)
        self.children.clear()


def _child_signals() -> None:
    """A connection's child: SIGTERM ends it (the parent's abort), SIGINT is the
    parent's to handle (a Ctrl-C reaches the whole process group)."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
