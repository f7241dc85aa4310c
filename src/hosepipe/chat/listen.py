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
  meanwhile waits in the connection). A queued peer that hangs up having typed nothing
  leaves the queue at once, freeing its place; one that typed something keeps its
  place, and what it typed is shown at its turn;
* else refuses it with one line (:data:`BUSY`) and closes it.

A serial line is one stream, not a listener: :meth:`ChatListener.next` opens it again
for each conversation, and there is nobody to queue or refuse.
"""

from __future__ import annotations

import array
import collections
import contextlib
import fcntl
import logging
import os
import queue
import select
import ssl
import termios
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
_STOP, _LOOK = b"x", b"l"  # to the accept thread: stop; the queue changed
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL | select.POLLRDHUP


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
                self._poke(_LOOK)  # stop watching it for a hang-up
            else:
                self._busy = False

    def _poke(self, what: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self._stop_w, what)

    def close(self) -> None:
        """Stop accepting, close every waiting peer and the listener."""
        self._poke(_STOP)
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
        """Accept peers, and watch the queued ones for hanging up (POLLRDHUP: the
        peer's end of stream, whether or not it typed something first)."""
        assert isinstance(self.server, Listener)
        poller = select.poll()
        listening = self.server.fileno()
        poller.register(listening, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        watched: dict[int, Stream] = {}
        while True:
            self._watch(poller, watched)
            for fd, events in poller.poll():
                if fd == self._stop_r:
                    if _STOP in os.read(self._stop_r, 64):
                        return
                elif fd == listening:
                    if not self._accept_one():
                        return
                elif events & _GONE:
                    self._hung_up(fd, watched, poller)

    def _accept_one(self) -> bool:
        assert isinstance(self.server, Listener)
        try:
            accepted = self.server.accept_nowait()
        except OSError as exc:
            if not is_transient_accept_error(exc):
                log.error("chat: accepting on %s failed: %s", self.bound, exc)
                return False
            return True
        if accepted is not None:
            self._arrived(*accepted)
        return True

    def _watch(self, poller: select.poll, watched: dict[int, Stream]) -> None:
        """Watch exactly the queued peers' descriptors."""
        with self._lock:
            now = {stream.read_fd: stream for stream, _ in self._waiting}
        for fd, stream in list(watched.items()):
            if now.get(fd) is not stream:
                poller.unregister(fd)
                del watched[fd]
        for fd, stream in now.items():
            if fd not in watched:
                poller.register(fd, select.POLLRDHUP)
                watched[fd] = stream

    def _hung_up(self, fd: int, watched: dict[int, Stream], poller: select.poll) -> None:
        """A watched peer hung up: out of the queue if it typed nothing (else it keeps
        its place, and its lines are shown at its turn); watched no more either way."""
        poller.unregister(fd)
        stream = watched.pop(fd)
        if _unread(fd):
            return
        with self._lock:
            for item in self._waiting:
                if item[0] is stream:
                    self._waiting.remove(item)
                    break
            else:
                return  # its turn has come meanwhile: the conversation will see the end
        log.info("chat: %s left while waiting its turn", item[1])
        with contextlib.suppress(HosepipeError, OSError):
            stream.close()

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
                self._waiting.append((stream, peer))  # watched from the next turn on
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


def _unread(fd: int) -> int:
    """Bytes waiting to be read on a socket or pipe (0 if it cannot tell)."""
    count = array.array("i", [0])
    try:
        fcntl.ioctl(fd, termios.FIONREAD, count)
    except OSError:
        return 0
    return count[0]

