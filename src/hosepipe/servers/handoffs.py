"""Connections taken over by their service (``Service.handoff``: exec programs),
tracked until they end.

The hub gives the accepted stream to :meth:`Service.take_over` and closes its own copy
at once; what comes back (a :class:`~hosepipe.service.Handoff`, e.g. a process) is
polled (never ``waitpid(-1)``, which would steal other children) and, at shutdown,
given the grace period, then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import logging
import time

from hosepipe.servers.base import Bound, Tally
from hosepipe.service import Handoff
from hosepipe.transports.base import Stream

__all__ = ["Handoffs"]

log = logging.getLogger("hosepipe.server")


class Handoffs:
    """Running handed-off connections, with the tally each is counted in with."""

    def __init__(self) -> None:
        self.running: dict[Handoff, Tally] = {}

    def start(self, bound: Bound, stream: Stream, peer: str) -> None:
        tally = Tally(bound, peer)
        try:
            handoff = bound.service.take_over(stream, peer)
        except OSError as exc:
            log.error("%s: cannot hand the connection over: %s", tally.label, exc)
            tally.done("refused: the service could not take it")
            return
        finally:
            stream.close()
        self.running[handoff] = tally

    def reap(self) -> None:
        for handoff in [h for h in self.running if h.poll() is not None]:
            tally = self.running.pop(handoff)
            tally.done(f"closed (exit status {handoff.poll()}; its bytes are not counted)")

    def __len__(self) -> int:
        return len(self.running)

    def terminate(self, wait: float = 2.0) -> None:
        for handoff in self.running:
            handoff.terminate()
        deadline = time.monotonic() + wait
        for handoff in self.running:
            try:
                handoff.wait(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                handoff.kill()
                handoff.wait()
        self.reap()
