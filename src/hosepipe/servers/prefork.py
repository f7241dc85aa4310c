"""Pre-forked workers: one superserver's bindings served by N processes, so that a busy
service uses every core.

The parent binds every address once, then forks ``workers`` children that share the
listening sockets (the kernel hands each connection, or datagram, to one of them). They
inherit the very same sockets, so no ``SO_REUSEPORT`` is needed -- and none is set, so a
second server started on the same port still fails with "address in use" instead of
silently splitting the traffic. Each
child runs the whole superserver -- its own hub, models and event loop. The parent only
supervises: a worker that dies is replaced (at most one restart a second), and SIGTERM
or SIGINT is passed on to every worker, which then shuts down gracefully; the parent
reaps them all and returns. Limits apply per worker (``max_connections`` is per
process).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from types import FrameType

from hosepipe.servers.superserver import Superserver

__all__ = ["run_workers"]

log = logging.getLogger("hosepipe.server")

RESTART_DELAY = 1.0


def _start(server: Superserver, index: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    status = 0
    try:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        server.run()
    except BaseException:
        log.exception("worker %d failed", index)
        status = 1
    finally:
        os._exit(status)


def run_workers(server: Superserver, workers: int) -> None:
    """Serve ``server``'s (already open) bindings from ``workers`` processes until a
    SIGTERM/SIGINT, then stop them all gracefully."""
    stopping = False
    running: dict[int, int] = {}  # pid -> worker index

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("received %s: stopping %d workers", signal.Signals(signum).name, len(running))
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(workers):
            running[_start(server, index)] = index
        log.info("serving with %d worker processes: %s", workers, sorted(running))
        while running:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid not in running:
                continue
            index = running.pop(pid)
            if stopping:
                continue
            log.warning("worker %d (pid %d) ended unexpectedly (status %d); restarting it",
                        index, pid, status)
            time.sleep(RESTART_DELAY)
            if not stopping:
                running[_start(server, index)] = index
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.close()
