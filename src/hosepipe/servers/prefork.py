"""Pre-forked workers: one superserver's bindings served by N processes, so that a busy
service uses every core.

The parent binds every address once, then forks ``workers`` children that share the
listening sockets (the kernel hands each connection, or datagram, to one of them). They
inherit the very same sockets, so no ``SO_REUSEPORT`` is needed -- and none is set, so a
second server started on the same port still fails with "address in use" instead of
silently splitting the traffic. Each child runs the whole superserver -- its own hub,
models and event loop. The parent only supervises: a worker that dies is replaced (at
most one restart a second), and SIGTERM or SIGINT is passed on to every worker, which
then shuts down gracefully (a second signal, passed on too, cuts their grace period
short); the parent reaps them all and returns. Limits apply per worker
(``max_connections`` is per process).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable

from hosepipe.errors import ConfigError
from hosepipe.servers.base import Bound
from hosepipe.servers.signals import SignalGuard, blocked, ignore_from_now_on
from hosepipe.servers.superserver import (
    Superserver,
    separate_state_error,
    shares_process_state,
)

__all__ = ["Workers", "serve_until_stopped"]

log = logging.getLogger("hosepipe.server")

RESTART_DELAY = 1.0


class Workers:
    """Supervises ``count`` worker processes serving ``server``'s bindings."""

    def __init__(self, server: Superserver, count: int) -> None:
        for binding in server.bindings:
            if not shares_process_state(binding.service):
                raise ConfigError(separate_state_error(binding.label, f"--workers {count}"))
        self.server = server
        self.count = count
        self.stopping = False
        self.running: dict[int, int] = {}  # pid -> worker index

    def install_signal_handlers(self) -> SignalGuard:
        """Call before announcing readiness; the handlers stay for the process's life."""
        return SignalGuard(self._pass_on, self._pass_on).install()

    def _pass_on(self) -> None:
        self.stopping = True
        for pid in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _start(self, index: int) -> None:
        with blocked():  # the child installs its own handlers before any signal runs
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                self.server.install_signal_handlers()
            else:
                self.running[pid] = index  # before unblocking: a signal now reaches it
        if pid:
            return
        status = 0
        try:
            self.server.run()
        except BaseException:
            log.exception("worker %d failed", index)
            status = 1
        finally:
            os._exit(status)

    def run(self) -> None:
        """Serve from the workers (bindings already open) until a SIGTERM/SIGINT, then
        stop them all gracefully and close the bindings."""
        try:
            for index in range(self.count):
                if self.stopping:  # a signal came before every worker was started
                    break
                self._start(index)
            log.info("serving with %d worker processes: %s", self.count, sorted(self.running))
            while self.running:
                try:
                    pid, status = os.wait()
                except ChildProcessError:
                    break
                if pid not in self.running:
                    continue
                index = self.running.pop(pid)
                if self.stopping:
                    continue
                log.warning("worker %d (pid %d) ended unexpectedly (status %d); restarting",
                            index, pid, status)
                time.sleep(RESTART_DELAY)
                if not self.stopping:
                    self._start(index)
        finally:
            self.server.close()


def serve_until_stopped(server: Superserver, workers: int,
                        announce: Callable[[list[Bound]], None]) -> None:
    """A command's whole server life: stop signals handled before anything is announced
    (a supervisor may signal as soon as it reads the readiness lines), every address
    bound and ``announce``d, served (from ``workers`` pre-forked processes when more
    than one) until SIGTERM or SIGINT, then further stop signals held pending: Python
    puts the default handlers back while it finalizes, where one more SIGTERM would end
    the process "by signal"."""
    runner = Workers(server, workers) if workers > 1 else server
    runner.install_signal_handlers()
    announce(server.open())
    try:
        runner.run()
    finally:
        ignore_from_now_on()
