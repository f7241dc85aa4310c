"""One chat conversation over one connected stream, both ways at once.

A pump thread owns the stream: it sends what the person typed (handed over through a
small queue and a wake pipe), receives, cuts lines (:class:`~hosepipe.chat.text.Incoming`)
and shows them. One thread does all of the stream's I/O, so a TLS connection is never
read and written from two threads at once. The calling thread reads the keyboard.

The conversation ends:

* from here: ``q`` alone on a line, the end of input (Ctrl-D) or Ctrl-C. What was typed
  is sent, then the end of our stream (a half-close) and, for a bounded ``linger``, the
  peer's last lines are still shown, until it closes too. The peer sees the end of the
  stream: nothing else is sent (``quit_line`` first, for the room service's ``/quit``);
* from there: the peer closes (``*** peer left``), sends a line longer than ``max_line``
  (it is told with one ``error:`` line), or accepts nothing for ``send_timeout``.
"""

from __future__ import annotations

import contextlib
import queue
import select
import ssl
import threading
import time
from dataclasses import dataclass

from hosepipe.chat.keyboard import Keyboard, Stopped
from hosepipe.chat.text import Incoming, Outgoing
from hosepipe.driving.blocking import Wake
from hosepipe.errors import HosepipeError, LineTooLong, Timeout
from hosepipe.transports.base import Stream
from hosepipe.transports.serial_streams import TtyStream, UrlStream
from hosepipe.transports.streams import SocketStream
from hosepipe.units import format_size

__all__ = ["ChatOptions", "Session"]

TICK = 0.05  # streams that cannot be polled (pySerial URLs) are read this long at a time
OUTBOX = 64  # typed lines waiting to be sent; more and typing waits (back-pressure)
_END = object()


@dataclass(frozen=True)
class ChatOptions:
    """How a conversation behaves; each field is a flag of ``hosepipe chat``."""

    eol: str = "auto"
    max_line: int = 64 * 1024
    pause: float = 0.05
    send_timeout: float | None = 30.0
    linger: float = 1.0
    upper: bool = False
    label: str = "Received from server: "
    upper_label: str = "Received from User: "
    quit_line: bytes = b""  # sent before leaving (the room service's /quit)


class Session:
    """One conversation: :meth:`run` until either side ends it; the reason it ended."""

    def __init__(self, stream: Stream, keyboard: Keyboard, options: ChatOptions,
                 greeting: bytes = b"") -> None:
        self.stream = stream
        self.keyboard = keyboard
        self.options = options
        self.greeting = greeting  # sent first (the room service's /join and nickname)
        self.incoming = Incoming(options.max_line, options.pause)
        self.outgoing = Outgoing(options.eol)
        self.outbox: queue.Queue[object] = queue.Queue(OUTBOX)
        self.reason = ""
        self._local = ""  # why the person ended the conversation
        self._wake = Wake()  # typed lines are waiting in the outbox
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="chat-pump", daemon=True)

    # -- the person's thread ---------------------------------------------------------
    def run(self) -> str:
        """Chat until one side ends; close the stream; why it ended.

        Ctrl-C ends the conversation like ``q`` and is raised again afterwards."""
        self.keyboard.reset()
        self._thread.start()
        interrupted = False
        try:
            local = self._typing()
        except KeyboardInterrupt:
            local, interrupted = "interrupted", True
        self._local = local
        try:
            if local:
                self._hand(_END)
            self._thread.join()
        finally:
            self._wake.close()
        if interrupted:
            raise KeyboardInterrupt
        return self.reason

    def _typing(self) -> str:
        """Hand typed lines to the pump; the local reason to end, or "" (the peer's)."""
        while True:
            try:
                line = self.keyboard.read()
            except Stopped:
                return ""
            if line is None:
                return "end of input"
            if line == "q":
                return "quit"
            data = self.outgoing.encode(line, peer_bare=self.incoming.bare)
            if len(data) > self.options.max_line:
                self.keyboard.show(f"*** not sent: longer than --max-line "
                                   f"({format_size(self.options.max_line)})")
            elif data and not self._hand(data):
                return ""

    def _hand(self, item: object) -> bool:
        """Queue ``item`` for the pump (waiting while the queue is full); False if the
        conversation has ended meanwhile."""
        while not self._done.is_set():
            try:
                self.outbox.put(item, timeout=0.1)
            except queue.Full:
                continue
            self._wake.set()
            return True
        return False

    # -- the pump thread -------------------------------------------------------------
    def _pump(self) -> None:
        try:
            self.reason = self._converse()
        except LineTooLong:
            limit = format_size(self.options.max_line)
            self.reason = f"the peer sent a line longer than {limit}"
            with contextlib.suppress(HosepipeError, OSError):
                self.stream.send_all(f"error: line longer than {limit}\n".encode(), 1.0)
        except (HosepipeError, OSError, ssl.SSLError) as exc:
            self.reason = f"connection lost: {exc}"
        finally:
            self._done.set()
            with contextlib.suppress(HosepipeError, OSError):
                self.stream.close()
            if self.reason not in ("quit", "end of input", "interrupted"):
                self.keyboard.show(f"*** {self.reason}")
            self.keyboard.stop()

    def _converse(self) -> str:
        if self.greeting:
            self.stream.send_all(self.greeting, self.options.send_timeout)
        poll = select.poll()
        poll.register(self._wake.fd, select.POLLIN)
        pollable = self.stream.read_fd >= 0
        if pollable:
            poll.register(self.stream.read_fd, select.POLLIN)
        last = time.monotonic()
        while True:
            ended = self._send_typed()
            if ended:
                return self._leave(ended)
            if pollable and not self.stream.buffered():
                wait = None
                if self.incoming.waiting:
                    wait = max(0.0, last + self.options.pause - time.monotonic()) * 1000
                ready = dict(poll.poll(wait))
                if self._wake.fd in ready:
                    self._wake.clear()
                if self.stream.read_fd not in ready:
                    if self.incoming.waiting and time.monotonic() >= last + self.options.pause:
                        self._show(self.incoming.quiet())
                    continue
            try:
                data = self.stream.receive_some(TICK)
            except Timeout:
                if not pollable and self.incoming.waiting:
                    self._show(self.incoming.quiet())
                continue
            if not data:
                self._show(self.incoming.end())
                return "peer left"
            last = time.monotonic()
            self._show(self.incoming.feed(data))

    def _send_typed(self) -> str:
        """Send every line queued; "quit" if the person has ended the conversation."""
        while True:
            try:
                item = self.outbox.get_nowait()
            except queue.Empty:
                return ""
            if item is _END:
                return self._local or "quit"
            assert isinstance(item, bytes)
            self.stream.send_all(item, self.options.send_timeout)

    def _leave(self, reason: str) -> str:
        """We end: say so (quit_line, end of stream), show the peer's last lines for at
        most ``linger`` seconds or until it closes, and return."""
        if self.options.quit_line:
            self.stream.send_all(self.options.quit_line, self.options.send_timeout)
        if not self._half_closes():
            return reason
        self.stream.send_eof()
        deadline = time.monotonic() + self.options.linger
        with contextlib.suppress(HosepipeError, OSError):  # the peer may be gone already
            while (left := deadline - time.monotonic()) > 0:
                data = self.stream.receive_some(left)
                if not data:
                    break
                self._show(self.incoming.feed(data))
            self._show(self.incoming.end())
        return reason

    def _half_closes(self) -> bool:
        """True if the peer can be sent an end of stream and still answer after it."""
        if isinstance(self.stream, TtyStream | UrlStream):
            return False  # a serial line has no end of stream
        return not (isinstance(self.stream, SocketStream)
                    and isinstance(self.stream.sock, ssl.SSLSocket))

    def _show(self, lines: list[str]) -> None:
        for line in lines:
            self.keyboard.show(self.options.label + line)
            if self.options.upper:
                self.keyboard.show(self.options.upper_label + line.upper())
