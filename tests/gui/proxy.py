"""A TCP relay for tests whose server-to-client bytes stop after a budget.

A download through it stalls, deterministically, after ``budget`` bytes: the client is
then blocked in a receive with part of the file on disk, which is what a cancel (or a
close) must cope with. :meth:`Throttle.release` lets the rest through.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time

__all__ = ["Throttle"]


class Throttle:
    def __init__(self, target: tuple[str, int], budget: int | None) -> None:
        self.target = target
        self.budget = budget
        self.delivered = 0  # server-to-client bytes passed on
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self._wake_r, self._wake_w = socket.socketpair()
        self._lock = threading.Lock()
        self._stop = False
        self._peer: dict[socket.socket, socket.socket] = {}
        self._paused: set[socket.socket] = set()
        self._upstreams: set[socket.socket] = set()
        self._selector = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, name="test-throttle")
        self._thread.start()

    def limit(self, more: int) -> None:
        """From now on, let only ``more`` bytes more through."""
        with self._lock:
            self.budget = self.delivered + more
        self._wake_w.send(b"x")  # a paused upstream may read again

    def release(self) -> None:
        with self._lock:
            self.budget = None
        self._wake_w.send(b"x")

    def wait_delivered(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.delivered < count:
            assert time.monotonic() < deadline, f"only {self.delivered} of {count} bytes relayed"
            time.sleep(0.02)

    def close(self) -> None:
        self._stop = True
        self._wake_w.send(b"x")
        self._thread.join(30)
        for sock in (self.listener, self._wake_r, self._wake_w, *self._peer):
            sock.close()
        self._selector.close()

    def _run(self) -> None:
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        while not self._stop:
            for key, _ in self._selector.select(timeout=1.0):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self.listener:
                    self._accept()
                elif sock is self._wake_r:
                    self._wake_r.recv(64)
                    self._resume()
                elif sock in self._peer:
                    self._forward(sock)

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        upstream = socket.create_connection(self.target, timeout=10)
        client.settimeout(30)
        self._peer[client], self._peer[upstream] = upstream, client
        self._upstreams.add(upstream)
        self.connections += 1
        for sock in (client, upstream):
            self._selector.register(sock, selectors.EVENT_READ)

    def _allowance(self, sock: socket.socket) -> int:
        if sock not in self._upstreams:
            return 65536
        with self._lock:
            budget = self.budget
        return 65536 if budget is None else min(65536, budget - self.delivered)

    def _forward(self, sock: socket.socket) -> None:
        allowed = self._allowance(sock)
        if allowed <= 0:
            self._selector.unregister(sock)
            self._paused.add(sock)
            return
        try:
            data = sock.recv(allowed)
            if data:
                self._peer[sock].sendall(data)
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
        elif sock in self._upstreams:
            self.delivered += len(data)

    def _resume(self) -> None:
        for sock in list(self._paused):
            self._paused.discard(sock)
            self._selector.register(sock, selectors.EVENT_READ)

    def _drop(self, sock: socket.socket) -> None:
        other = self._peer.pop(sock)
        self._peer.pop(other, None)
        for each in (sock, other):
            self._paused.discard(each)
            self._upstreams.discard(each)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(each)
            each.close()
