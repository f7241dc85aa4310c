"""The chat's text, sans I/O: lines cut, made safe to print, typed lines encoded."""

from __future__ import annotations

import pytest

from hosepipe.chat.text import Incoming, Outgoing, neutralise
from hosepipe.errors import LineTooLong


def test_neutralise_escapes_controls_and_overrides_and_keeps_text() -> None:
    assert neutralise(b"plain \xc3\xa9t\xc3\xa9\ttab") == "plain été\ttab"
    assert neutralise(b"\x1b[31mred\x07\x7f") == "\\x1b[31mred\\x07\\x7f"
    assert neutralise("\u009b2J \u202eevil".encode()) == "\\x9b2J \\u202eevil"
    assert neutralise(b"bad \xff byte") == "bad \ufffd byte"


def test_lines_and_bare_messages() -> None:
    incoming = Incoming(max_line=100, pause=0.05)
    assert incoming.feed(b"one\r\ntw") == ["one"]
    assert incoming.waiting and not incoming.bare
    assert incoming.feed(b"o\nbare") == ["two"]
    assert incoming.quiet() == ["bare"]
    assert incoming.bare  # the peer sends messages with no newline
    assert incoming.feed(b"line\n") == ["line"]
    assert not incoming.bare
    assert incoming.feed(b"last") == []
    assert incoming.end() == ["last"]


def test_a_line_over_max_line_is_refused() -> None:
    incoming = Incoming(max_line=10, pause=0.05)
    assert incoming.feed(b"0123456789\n") == ["0123456789"]
    with pytest.raises(LineTooLong):
        incoming.feed(b"0123456789x")


@pytest.mark.parametrize(("eol", "bare", "wire"), [
    ("auto", False, b"hi\n"), ("auto", True, b"hi"), ("lf", True, b"hi\n"),
    ("crlf", False, b"hi\r\n"), ("none", False, b"hi"),
])
def test_typed_lines_end_as_eol_says(eol: str, bare: bool, wire: bytes) -> None:
    assert Outgoing(eol).encode("hi", peer_bare=bare) == wire


def test_an_unknown_eol_is_refused() -> None:
    with pytest.raises(ValueError, match="eol must be one of"):
        Outgoing("cr")
