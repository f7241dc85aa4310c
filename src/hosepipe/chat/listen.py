"""The person at the server: one peer at a time, the others queued or refused.

:class:`ChatListener` opens the server side of any stream address
(:func:`hosepipe.transports.listen.open_listener`). For a listener (tcp, tls, unix,
fifo) an accept thread takes every connection at once, runs the TLS handshake under
``handshake_timeout`` for tls://, and then:

* if nobody is chatting, hands it to the person (:meth:`ChatListener.next`, and
  :attr:`ChatListener.notify` wakes the person's thread, which reads the keyboard
  meanwhile);
* else, if fewer than ``queue`` peers wait, queues it and tells it, in one line, that it
  waits its turn (it is served when the conversations before it end; what it types
  meanwhile waits in the connection);
* else refuses it with one line (:data:`BUSY`) and closes it.

A serial line is one stream, not a listener: :meth:`ChatListener.next` opens it again
for each conversation, and there is nobody to queue or refuse.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import selectors
import ssl
import threading
from collections.abc import Callable

from hosepipe.address import Address, parse_address
from hosepipe.errors import HosepipeError, UsageError
from hosepipe.transports.base import Endpoint, Listener, Stream
from hosepipe.transports.listen import is_transient_accept_error, open_listener
from hosepipe.transports.streams import SocketStream
from hosepipe.transports.tls import secure_accepted

__all__ = ["BUSY", "STREAM_SCHEMES", "ChatListener"]

log = logging.getLogger("hosepipe.chat")

BUSY = b"busy: someone else is chatting; try again later\n"
STREAM_SCHEMES = ("tcp", "tls", "unix", "fifo", "serial")
NOTICE_TIMEOUT = 1.0  # seconds a refused or queued peer gets to take its one line


class ChatListener:
    """Where ``hosepipe chat --listen`` waits; :meth:`next` is the next peer."""

    def __init__(self, address: str | Address, *, queue_size: int = 0,
                 tls: ssl.SSLContext | None = None, handshake_timeout: float = 10.0) -> None:
        if queue_size < 0:
            raise UsageError("--queue must not be negative")
        self.address = parse_address(address)
        if self.address.scheme not in STREAM_SCHEMES:
            raise UsageError(f"chat --listen takes a {', '.join(STREAM_SCHEMES)} address, "
                             f"not {self.address}")
        if self.address.scheme == "tls" and tls is None:
            raise UsageError("chat --listen tls://... needs --cert (and --key if separate)")
        self.queue_size = queue_size
        self.tls = tls
        self.handshake_timeout = handshake_timeout
        self.server: Listener | Endpoint = open_listener(self.address)
        self.bound = self.server.bound
        self._handoff: queue.Queue[tuple[Stream, str]] = queue.Queue()
        self._waiting: collections.deque[tuple[Stream, str]] = collections.deque()
        self._busy = False
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.notify: Callable[[], None] | None = None
        if isinstance(self.server, Listener):
            self._thread = threading.Thread(target=self._accepting, name="chat-accept",
                                            daemon=True)
            self._thread.start()

    def next(self) -> tuple[Stream, str] | None:
        """The next peer to chat with, or None if nobody is waiting yet (then
        :attr:`notify` is called, from another thread, when somebody is)."""
        if isinstance(self.server, Endpoint):
            return self.server.open()
        try:
            return self._handoff.get_nowait()
        except queue.Empty:
            return None

    def _hand_over(self, peer: tuple[Stream, str]) -> None:
        self._handoff.put(peer)
        if self.notify is not None:
            self.notify()

    def done(self) -> None:
        """The conversation has ended: the first peer waiting is next."""
        with self._lock:
            if self._waiting:
                self._hand_over(self._waiting.popleft())
            else:
                self._busy = False

    def close(self) -> None:
        """Stop accepting, close every waiting peer and the listener."""
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            left = [*self._waiting]
            self._waiting.clear()
        while True:
            try:
                left.append(self._handoff.get_nowait())
            except queue.Empty:
                break
        for stream, _ in left:
            with contextlib.suppress(HosepipeError, OSError):
                stream.close()
        self.server.close()
        os.close(self._stop_r)
        os.close(self._stop_w)

    # -- the accept thread -------------------------------------------------------------
    def _accepting(self) -> None:
        assert isinstance(self.server, Listener)
        with selectors.PollSelector() as selector:
            selector.register(self.server.fileno(), selectors.EVENT_READ)
            selector.register(self._stop_r, selectors.EVENT_READ)
            while not any(key.fd == self._stop_r for key, _ in selector.select()):
                try:
                    accepted = self.server.accept_nowait()
                except OSError as exc:
                    if not is_transient_accept_error(exc):
                        log.error("chat: accepting on %s failed: %s", self.bound, exc)
                        return
                    continue
                if accepted is not None:
                    self._arrived(*accepted)

    def _arrived(self, stream: Stream, peer: str) -> None:
        try:
            if self.tls is not None:
                assert isinstance(stream, SocketStream)
                secure = secure_accepted(stream.sock, self.tls, self.handshake_timeout)
                stream = SocketStream(secure, peer)
        except HosepipeError as exc:
            log.warning("chat: %s: %s", peer, exc)
            return
        with self._lock:
            if not self._busy:
                self._busy = True
                self._hand_over((stream, peer))
                return
            if len(self._waiting) < self.queue_size:
                self._waiting.append((stream, peer))
                ahead = len(self._waiting)
                notice = (f"*** please wait: someone else is chatting "
                          f"({ahead} ahead of you)\n").encode()
            else:
                notice = b""
        if notice:
            self._tell(stream, notice)
            log.info("chat: %s waits its turn", peer)
            return
        self._tell(stream, BUSY)
        log.info("chat: %s refused: someone else is chatting", peer)
        with contextlib.suppress(HosepipeError, OSError):
            stream.send_eof()
            stream.close()

    @staticmethod
    def _tell(stream: Stream, line: bytes) -> None:
        with contextlib.suppress(HosepipeError, OSError):
            stream.send_all(line, NOTICE_TIMEOUT)
