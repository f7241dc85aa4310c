"""SIGTERM and SIGINT for the whole life of a server process.

A supervisor (systemd, a test, a shell) may signal a server the moment it has said it
is ready, and again while it shuts down. So the handlers are installed *before* the
server announces its bindings and are never put back while the process lives:

* the first SIGTERM or SIGINT begins the graceful stop (no new connections; in-flight
  conversations get the grace period);
* a second one cuts the grace period short -- still a clean exit: listeners closed,
  Unix socket files removed, children reaped, status 0;
* later ones are counted, nothing more; once the server has stopped they are ignored
  (:func:`ignore_from_now_on`), so that one arriving while the interpreter finalizes --
  when Python puts default handlers back, and worker threads may still take it --
  cannot end the process "by signal".

A handler only sets state and calls functions that are safe from a signal handler
(they write a byte to a wake-up pipe). :func:`blocked` keeps these signals pending
across a ``fork()``, so that a child never runs its parent's handler: the child
installs its own before unblocking.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from types import FrameType

__all__ = ["STOP_SIGNALS", "SignalGuard", "blocked", "ignore_from_now_on"]

log = logging.getLogger("hosepipe.server")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SignalGuard:
    """Calls ``stop()`` on the first stop signal and ``hurry()`` on every later one."""

    def __init__(self, stop: Callable[[], None], hurry: Callable[[], None]) -> None:
        self._stop = stop
        self._hurry = hurry
        self.received = 0
        self._previous: dict[int, object] = {}

    def install(self) -> SignalGuard:
        """Install the handlers (main thread only); SIGCHLD gets a no-op handler so
        that a wake-up fd (:func:`signal.set_wakeup_fd`) hears children end."""
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        self._previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, _ignore)
        return self

    def restore(self) -> None:
        """Put the previous handlers back (library use; the CLI never does)."""
        for signum, handler in self._previous.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Python may run this handler again inside itself (a signal between two of its
        # bytecodes), so after the second signal it only counts: a flood of signals
        # must not grow the stack or the log.
        self.received += 1
        if self.received > 2:
            return
        name = signal.Signals(signum).name
        if self.received == 1:
            log.info("received %s: stopping gracefully (again to stop at once)", name)
            self._stop()
        else:
            log.info("received %s again: cutting the grace period short", name)
            self._hurry()


def ignore_from_now_on() -> None:
    """Ignore SIGTERM and SIGINT for the rest of the process (main thread only): for
    a command whose server has stopped. CPython's finalization leaves an ignored
    signal ignored, where it would put back the default for a handled one."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    pass


@contextlib.contextmanager
def blocked() -> Iterator[None]:
    """Hold SIGTERM, SIGINT and SIGCHLD pending for the duration (around a fork)."""
    held = {*STOP_SIGNALS, signal.SIGCHLD}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
