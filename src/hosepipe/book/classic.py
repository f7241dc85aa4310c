"""ClassicBook: the tutorial's add/rem/fnd protocol, as a client, for plain book servers.

A plain book server (the tutorial's, moved onto a socket) reads a command with one
``read(1024)``, answers with one ``write`` and no newline, and knows nothing else. So
each command goes out bare (a newline would become part of the name), and a reply is
whole when the server has sent something and then gone quiet for ``QUIET`` seconds, or
closed the connection; a server that closes after each reply is reconnected.
What this protocol cannot do: list, search, update, a structured error, or tell a new
entry from a replaced one. Replies come back as the server's text.
"""

from __future__ import annotations

import ssl

from hosepipe.address import Address
from hosepipe.book.entry import BadEntry, Entry, clean_name, split_fields
from hosepipe.client import open_stream
from hosepipe.errors import ConnectionClosed, ProtocolError, RemoteError, Timeout
from hosepipe.transports.streams import Stream

__all__ = ["LOST", "QUIET", "ClassicBook", "failed"]

QUIET = 0.2  # seconds of silence after which a reply counts as whole
MAX_REPLY = 64 * 1024
LOST = "no list, search, update or export, and errors come back as text"
_NO_ENTRY = "Sorry, no entry for: "


def failed(reply: str) -> bool:
    """True for the replies that report a failure (no entry, an error)."""
    return reply.startswith((_NO_ENTRY, "ERROR", "Error"))


class ClassicBook:
    """One connection to a plain add/rem/fnd server, reopened if the server closes it."""

    def __init__(self, address: Address, *, timeout: float | None = 30.0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.address = address
        self.timeout = timeout
        self.tls = tls
        self.stream: Stream | None = None
        self._connect()

    def _connect(self) -> Stream:
        self.stream = open_stream(self.address, timeout=self.timeout, tls=self.tls)
        return self.stream

    def command(self, text: str) -> str:
        """Send one command, bare; the reply, once the server has gone quiet."""
        stream = self.stream or self._connect()
        try:
            stream.send_all(text.encode("utf-8"), self.timeout)
        except ConnectionClosed:  # the server closed after its last reply: once more
            self.close()
            stream = self._connect()
            stream.send_all(text.encode("utf-8"), self.timeout)
        return self._reply(stream).decode("utf-8", "replace")

    def _reply(self, stream: Stream) -> bytes:
        reply = stream.receive_some(self.timeout)
        if not reply:
            self.close()
            raise ConnectionClosed("the book server closed the connection without a reply")
        while len(reply) <= MAX_REPLY:
            try:
                more = stream.receive_some(QUIET)
            except Timeout:
                return reply
            if not more:
                self.close()
                return reply
            reply += more
        raise ProtocolError(f"a reply longer than {MAX_REPLY} bytes")

    # -- the menu's operations: the server's own words --------------------------------
    def add_text(self, entry: Entry) -> str:
        return self.command(f"add:{entry.name},{entry.address_text()}")

    def remove_text(self, name: str) -> str:
        return self.command(f"rem:{name}")

    def find_text(self, name: str) -> str:
        return self.command(f"fnd:{name}")

    # -- the one-shot commands' operations ---------------------------------------------
    def find(self, name: str) -> Entry:
        reply = self.find_text(clean_name(name))
        found, sep, rest = reply.partition(" : ")
        if failed(reply) or not sep:
            raise RemoteError("not-found" if reply.startswith(_NO_ENTRY) else "error", reply)
        try:
            return Entry.make(found, *split_fields(rest))
        except BadEntry as exc:
            raise RemoteError("bad-reply", f"{reply!r}: {exc}") from None

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
