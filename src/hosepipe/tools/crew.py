"""The bench's workers in parallel: forked processes (the default, as the tutorial's
client spawner forks them), or threads.

A :class:`Crew` starts ``count`` workers running ``work(index, board)`` and hands back
each worker's result (a dict) as it arrives. The :class:`Board` is memory shared with
the workers (an anonymous shared mapping, inherited by ``fork``; a plain array for
threads) where each worker
posts its request count for the progress bar and whether it connected, and where the
parent raises the stop flag: one memory read per request, no system call. ``go`` is
the starting gun, fired when every worker has connected.

Forked workers ignore SIGINT: Ctrl-C reaches the whole process group, and it is the
parent's to decide (it raises the stop flag and collects what was measured).
"""

from __future__ import annotations

import array
import mmap
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Board", "Crew", "ProcessCrew", "ThreadCrew"]


class Event(Protocol):
    def set(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...


class Board:
    """Shared counters: per worker its requests done and its state, and the stop flag."""

    CONNECTED, FAILED = 1, -1

    def __init__(self, count: int, cells: Any, go: Event) -> None:
        self.count = count
        self.cells = cells  # [done * count, state * count, stop]
        self.go = go

    def done(self, index: int, value: int) -> None:
        self.cells[index] = value

    def set_state(self, index: int, state: int) -> None:
        self.cells[self.count + index] = state

    def states(self) -> list[int]:
        return list(self.cells[self.count: 2 * self.count])

    def total(self) -> int:
        return sum(self.cells[: self.count])

    @property
    def stop_index(self) -> int:
        """Where the stop flag is in :attr:`cells` (for loops that read it directly)."""
        return 2 * self.count

    @property
    def stopping(self) -> bool:
        return bool(self.cells[2 * self.count])

    def stop(self) -> None:
        self.cells[2 * self.count] = 1


Work = Callable[[int, Board], dict[str, Any]]


class Crew:
    """Workers running ``work``; :meth:`results` yields their dicts as they finish."""

    board: Board

    def results(self, timeout: float) -> list[dict[str, Any]]:
        """The results that arrived within ``timeout`` seconds (maybe none)."""
        raise NotImplementedError

    def alive(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Wait for the workers (they have been told to stop) and release them."""
        raise NotImplementedError


def _failure(exc: BaseException) -> dict[str, Any]:
    return {"crashed": "".join(traceback.format_exception_only(exc)).strip()}


class ProcessCrew(Crew):
    def __init__(self, count: int, work: Work) -> None:
        context = multiprocessing.get_context("fork")
        # an anonymous shared mapping: the children see the parent's writes and the
        # parent theirs, with no file behind it (multiprocessing's RawArray keeps one open)
        self._memory = mmap.mmap(-1, 8 * (2 * count + 1))
        self.board = Board(count, memoryview(self._memory).cast("q"), context.Event())
        self._pipes: list[multiprocessing.connection.Connection] = []
        self._processes = []
        for index in range(count):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_process_main, args=(work, index, self.board, send),
                                      name=f"bench-{index}", daemon=True)
            process.start()
            send.close()
            self._pipes.append(receive)
            self._processes.append(process)

    def results(self, timeout: float) -> list[dict[str, Any]]:
        got = []
        for conn in multiprocessing.connection.wait(self._pipes, timeout):
            assert isinstance(conn, multiprocessing.connection.Connection)
            try:
                got.append(conn.recv())
            except EOFError:  # died without a word
                got.append({"crashed": "a client process died"})
            self._pipes.remove(conn)
            conn.close()
        return got

    def alive(self) -> int:
        return len(self._pipes)

    def close(self) -> None:
        for process in self._processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
            process.close()
        for conn in self._pipes:
            conn.close()
        self._pipes.clear()
        self.board.cells.release()
        self._memory.close()


def _process_main(work: Work, index: int, board: Board,
                  send: multiprocessing.connection.Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    try:
        result = work(index, board)
    except BaseException as exc:
        result = _failure(exc)
    send.send(result)
    send.close()
    os._exit(0)  # nothing of the parent's to clean up here


class ThreadCrew(Crew):
    def __init__(self, count: int, work: Work) -> None:
        self.board = Board(count, array.array("q", [0] * (2 * count + 1)), threading.Event())
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._pending = count
        self._threads = [threading.Thread(target=self._main, args=(work, index),
                                          name=f"bench-{index}") for index in range(count)]
        for thread in self._threads:
            thread.start()

    def _main(self, work: Work, index: int) -> None:
        try:
            self._queue.put(work(index, self.board))
        except BaseException as exc:
            self._queue.put(_failure(exc))

    def results(self, timeout: float) -> list[dict[str, Any]]:
        got = []
        try:
            got.append(self._queue.get(timeout=timeout))
            while True:
                got.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        self._pending -= len(got)
        return got

    def alive(self) -> int:
        return self._pending

    def close(self) -> None:
        for thread in self._threads:
            thread.join()
