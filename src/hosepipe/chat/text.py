"""The chat's text, sans I/O: lines cut from what arrives, made safe, and typed lines encoded.

**Incoming.** A line ends at ``\\n`` (a ``\\r`` before it belongs to the end of line).
Peers like the tutorial's programs send a message with no newline at all, one ``send``
per message; bytes that are not yet a line become one when the peer has been quiet for
``pause`` seconds (the classic rule of the servers, docs/protocols.md) or ends the
stream. A line longer than ``max_line`` is refused (:class:`~hosepipe.errors.LineTooLong`).

**Safe to print.** Bytes are decoded as UTF-8 with replacement characters, and every
control character (C0 but tab, DEL, C1) and every bidirectional override is shown as an
escape (``\\x1b``, ``\\u202e``): a peer must not be able to move the cursor, retitle the
window or reorder what the person reads.

**Outgoing.** ``eol`` is ``lf``, ``crlf``, ``none`` or ``auto`` (the default):
``auto`` sends ``\\n`` until the peer shows it sends bare messages (its last message
came without a newline, as the tutorial's server and client send them), then sends bare
messages too, as the tutorial's own programs do; a newline from the peer switches back.
"""

from __future__ import annotations

import unicodedata

from hosepipe.wire.framing import LineDecoder

__all__ = ["EOLS", "Incoming", "Outgoing", "neutralise"]

EOLS = ("auto", "lf", "crlf", "none")
_ENDINGS = {"lf": b"\n", "crlf": b"\r\n", "none": b""}
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(data: bytes) -> str:
    """``data`` as text that cannot drive a terminal: controls and overrides escaped."""
    text = data.decode("utf-8", errors="replace")
    return "".join(
        _escape(c) if (c != "\t" and unicodedata.category(c) == "Cc") or c in _BIDI else c
        for c in text)


class Incoming:
    """Lines for the screen out of received bytes; :meth:`feed` each receive."""

    def __init__(self, max_line: int, pause: float) -> None:
        self.pause = pause
        self._lines = LineDecoder(max_line)
        self._ended = False
        self.bare = False
        """True when the peer's last message came with no newline."""

    @property
    def waiting(self) -> bool:
        """True when held bytes become a line if the peer stays quiet for ``pause``."""
        return self._lines.pending > 0

    def feed(self, data: bytes) -> list[str]:
        """The whole lines now here (raises LineTooLong past ``max_line``)."""
        self._lines.feed(data)
        return self._take()

    def quiet(self) -> list[str]:
        """The peer has been quiet for ``pause``: a partial line is a line."""
        return self._take(rest=True)

    def end(self) -> list[str]:
        """The peer will send no more: what is left is the last line."""
        self._ended = True
        return self._take(rest=True)

    def _take(self, *, rest: bool = False) -> list[str]:
        out = []
        while (message := self._lines.next_line()) is not None:
            self.bare = False
            out.append(neutralise(message.body))
        if rest and (message := self._lines.take_rest()) is not None:
            self.bare = not self._ended
            out.append(neutralise(message.body))
        return out


class Outgoing:
    """Typed lines as bytes for the peer, ended as ``eol`` says."""

    def __init__(self, eol: str = "auto") -> None:
        if eol not in EOLS:
            raise ValueError(f"eol must be one of {', '.join(EOLS)}")
        self.eol = eol

    def encode(self, line: str, *, peer_bare: bool = False) -> bytes:
        """The bytes that carry ``line`` (empty: nothing to send, a bare empty message)."""
        eol = self.eol
        if eol == "auto":
            eol = "none" if peer_bare else "lf"
        return line.encode("utf-8", errors="replace") + _ENDINGS[eol]
