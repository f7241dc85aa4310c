"""A few threads for slow work that must not run on a loop shared by many connections.

Hashing a 4 GiB file takes seconds; on the select or async model's loop that would
stall every other connection and binding. :func:`run_elsewhere` runs such work on one of
at most ``MOST`` worker threads and hands the outcome to ``done`` on that thread (a
conversation then pushes :data:`~hosepipe.service.RESUME` to its driver). Workers end
after ``IDLE`` seconds without work, so an idle server keeps none.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["MOST", "Outcome", "run_elsewhere"]

MOST = 4
IDLE = 1.0

Outcome = tuple[bool, Any]  # (True, value) or (False, the exception)

_work: queue.SimpleQueue[tuple[Callable[[], Any], Callable[[Outcome], None]]] = (
    queue.SimpleQueue())
_lock = threading.Lock()
_workers = 0
_idle = 0


def run_elsewhere(work: Callable[[], Any], done: Callable[[Outcome], None]) -> None:
    """Run ``work()`` on a worker thread, then ``done((ok, value_or_exception))``."""
    global _workers
    with _lock:
        grow = _idle == 0 and _workers < MOST
        if grow:
            _workers += 1
    _work.put((work, done))
    if grow:
        threading.Thread(target=_serve, name="hosepipe-offload", daemon=True).start()


def _serve() -> None:
    global _workers, _idle
    while True:
        with _lock:
            _idle += 1
        try:
            work, done = _work.get(timeout=IDLE)
        except queue.Empty:
            with _lock:
                _idle -= 1
                if _work.empty():
                    _workers -= 1
                    return
            continue
        with _lock:
            _idle -= 1
        try:
            outcome: Outcome = (True, work())
        except Exception as exc:  # handed over to be answered as an error reply
            outcome = (False, exc)
        done(outcome)
