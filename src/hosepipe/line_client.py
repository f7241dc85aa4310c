"""LineClient: the client side of classic conversations, and when a reply is whole.

Classic servers end their replies in different ways: hosepipe's and netcat-style ones
with a newline, the tutorials' with nothing at all (one ``send()``, then they wait).
:meth:`LineClient.read_reply` takes both, by one rule:

* a reply is whole once it holds the lines expected (one, or three for ni; a first line
  starting ``error:`` is a whole reply by itself) and ends with a newline;
* until the server has proven to be a line server, a reply is also whole when the
  server has sent nothing for ``pause`` seconds (default 0.05, the server side's own
  rule) after its last byte; a server whose reply ended with a newline is a line server
  from then on (``strict``), and its replies are cut at their lines only;
* at the end of the stream, whatever arrived is the reply.

:meth:`LineClient.read_echo` ends an echo reply as soon as it ends with what was sent
(the plain echo and the tutorial's ``Echo=>`` + data), or at a pause when it is not
the start of what was sent (the tutorial's ``Echo=>... at TIME``).

With an ``authkey`` the multiprocessing challenge runs first (its frames, then the
classic bytes). Without one, a server that opens with the challenge is reported as
:class:`~hosepipe.wire.messages.AuthRequired`, never shown as raw bytes.
"""

from __future__ import annotations

import ssl

from hosepipe.errors import ConnectionClosed, LineTooLong, ProtocolError, Timeout
from hosepipe.limits import Limits
from hosepipe.transports.streams import SocketStream, Stream
from hosepipe.wire.framing import MAX_LINE
from hosepipe.wire.messages import AuthRequired, ClientProtocol, run_handshake
from hosepipe.wire.messages import starts_with_challenge as _challenge

__all__ = ["DEFAULT_PAUSE", "LineClient"]

DEFAULT_PAUSE = Limits().pause


def _is_error(line: bytes | bytearray) -> bool:
    return line[:6].lower() == b"error:"


class LineClient:
    """Send messages and read replies (or everything) from a classic service."""

    def __init__(self, stream: Stream, *, timeout: float | None = 10.0,
                 max_line: int = MAX_LINE, authkey: bytes | None = None,
                 pause: float = DEFAULT_PAUSE) -> None:
        self.stream = stream
        self.timeout = timeout
        self.max_line = max_line
        self.pause = pause
        self._buffer = bytearray()
        self._eof = False
        self._checked = False  # the first bytes were checked for an authkey challenge
        if authkey is not None:
            self._authenticate(authkey)

    def _authenticate(self, authkey: bytes) -> None:
        proto = ClientProtocol(authkey=authkey, raw=True)

        def receive() -> bytes:
            data = proto.take_leftover()
            while (payload := proto.pull(data)) is None:
                data = self.stream.receive_some(self.timeout)
                if not data:
                    raise ConnectionClosed("the server closed the connection")
            return payload

        run_handshake(proto, receive, lambda data: self.stream.send_all(data, self.timeout),
                      self.timeout)
        self._buffer += proto.take_leftover()
        self._checked = True

    # -- sending --------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.stream.send_all(data, self.timeout)

    def send_line(self, text: str) -> None:
        self.send(text.encode("utf-8", "surrogateescape") + b"\n")

    def send_eof(self) -> None:
        """No more from us (a half-close), so a program that answers at the end of its
        input answers now. Not over TLS, where Python cannot half-close a session."""
        if isinstance(self.stream, SocketStream) and isinstance(self.stream.sock, ssl.SSLSocket):
            return
        self.stream.send_eof()

    # -- receiving ------------------------------------------------------------------
    def _fill(self, timeout: float | None) -> bool:
        """Receive once into the buffer; False at the end of the stream."""
        data = self.stream.receive_some(timeout)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        if not self._checked:
            self._check_challenge()
        return True

    def _check_challenge(self) -> None:
        while (verdict := _challenge(bytes(self._buffer))) is None and not self._eof:
            data = self.stream.receive_some(self.timeout)
            self._eof = not data
            self._buffer += data
        if verdict:
            raise AuthRequired()
        self._checked = True

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _whole(self, lines: int, strict: bool) -> int:
        """How many buffered bytes make a whole reply of ``lines`` lines (0: not yet)."""
        buffer = self._buffer
        end, found = 0, 0
        while found < lines:
            end = buffer.find(b"\n", end) + 1
            if not end:
                return 0
            found += 1
            if found == 1 and _is_error(buffer[:end]):
                break
        if strict:
            return end
        return len(buffer) if buffer.endswith(b"\n") else 0

    def read_reply(self, lines: int = 1, *, strict: bool = False) -> bytes:
        """One reply of ``lines`` lines, by the rule in the module docstring (``strict``:
        never by a pause). Ends in ``\\n`` when the server ended it so; ``b""`` if the
        server closed before answering."""
        while not (n := self._whole(lines, strict)):
            if self._eof:
                return self._take(len(self._buffer))
            if len(self._buffer) > self.max_line * lines:
                raise LineTooLong(self.max_line)
            by_pause = bool(self._buffer) and not strict
            try:
                self._fill(self.pause if by_pause else self.timeout)
            except Timeout:
                if not by_pause:
                    raise
                return self._take(len(self._buffer))
        return self._take(n)

    def read_echo(self, sent: bytes) -> bytes:
        """The echo of ``sent`` (see the module docstring)."""
        while not self._buffer.endswith(sent) and not self._eof:
            partial = sent.startswith(self._buffer)
            try:
                self._fill(self.timeout if partial else self.pause)
            except Timeout:
                if partial:
                    raise
                break
        return self._take(len(self._buffer))

    def read_line(self) -> str:
        """One line, strictly (its terminator removed)."""
        line = self.read_reply(1, strict=True)
        if not line.endswith(b"\n"):
            raise ConnectionClosed("the server closed the connection before answering")
        return line.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", "surrogateescape")

    def read_bare(self, pause: float | None = None) -> bytes:
        """A bare reply: what arrives until the peer has been quiet for ``pause``
        seconds; ``b""`` if the peer closes first."""
        if pause is not None:
            self.pause = pause
        while not self._eof:
            try:
                self._fill(self.pause if self._buffer else self.timeout)
            except Timeout:
                if not self._buffer:
                    raise
                break
        return self._take(len(self._buffer))

    def receive_some(self) -> bytes:
        """What is buffered, else what one receive brings; ``b""`` at the end of the
        stream. (For raw data after the handshake, such as a classic file.)"""
        if not self._buffer and not self._eof:
            self._fill(self.timeout)
        return self._take(len(self._buffer))

    def read_to_end(self, limit: int = 1 << 24) -> bytes:
        """Everything until the server closes (at most ``limit`` bytes)."""
        while not self._eof:
            self._fill(self.timeout)
            if len(self._buffer) > limit:
                raise ProtocolError(f"reply longer than {limit} bytes")
        return self._take(len(self._buffer))

    def close(self) -> None:
        self.stream.close()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
