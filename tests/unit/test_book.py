"""The address book as sans-I/O conversations over a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hosepipe.book.entry import MAX_FIELD, BadEntry, Entry, parse_flat
from hosepipe.book.flatfile import read_flat, write_flat
from hosepipe.book.sqlite import SqliteStore
from hosepipe.book.store import open_store
from hosepipe.service import Context, Conversation, Send
from hosepipe.services.book import Book
from hosepipe.wire import get_codec
from hosepipe.wire.framing import FrameDecoder, encode_frame

ARTHUR = Entry("Arthur", "1", "High St", "Camelot", "555-0100")


@pytest.fixture
def book(db_url: str) -> Iterator[Book]:
    service = Book(db=db_url)
    yield service
    service.close()


def classic(conversation: Conversation, *lines: str) -> list[str]:
    out = b""
    for line in lines:
        for action in conversation.data_received(line.encode() + b"\n"):
            if isinstance(action, Send):
                out += action.data
    return out.decode().splitlines()


def framed(book: Book, *requests: Any) -> list[Any]:
    codec = get_codec("msgpack")
    conversation = book.conversation(Context())
    out = b""
    for request in requests:
        for action in conversation.data_received(encode_frame(codec.encode(request))):
            assert isinstance(action, Send)
            out += action.data
    decoder = FrameDecoder()
    decoder.feed(out)
    replies = []
    while (frame := decoder.next_frame()) is not None:
        replies.append(codec.decode(frame))
    return replies


def test_classic_commands(book: Book) -> None:
    lines = classic(
        book.conversation(Context()),
        "add:Arthur,1,High St,Camelot,555-0100",
        "fnd:Arthur",
        'add:Gawain,3,"Green, Chapel",Orkney,555',
        "fnd:Gawain",
        "rem:Arthur",
        "rem:Arthur",
        "fnd:Arthur",
        "jump:Arthur",
        "add:Only,Two",
        "add:Bad\x01Name,1,a,b,c",
        "fnd:" + "x" * 200,
    )
    assert lines[:8] == [
        "Added entry for Arthur",
        "Arthur : 1,High St,Camelot,555-0100",
        "Added entry for Gawain",
        'Gawain : 3,"Green, Chapel",Orkney,555',
        "Deleted entry for Arthur",
        "Sorry, no entry for: Arthur",
        "Sorry, no entry for: Arthur",
        "ERROR: Unrecognized command: jump:Arthur",
    ]
    assert lines[8] == "ERROR: add needs NAME,HOUSE,STREET,TOWN,PHONE (5 fields), got 2"
    assert lines[9] == "ERROR: name contains a control character"
    assert lines[10] == "ERROR: name is 200 characters; the limit is 100"
    assert book.store.entries() == [Entry("Gawain", "3", "Green, Chapel", "Orkney", "555")]


def test_framed_operations(book: Book) -> None:
    arthur = ARTHUR.to_dict()
    replies = framed(
        book,
        {"op": "add", "entry": arthur},
        {"op": "add", "entry": arthur},
        {"op": "find", "name": "Arthur"},
        {"op": "add_many", "entries": [
            {**arthur, "name": "Bedivere", "town": "Caerleon"},
            {**arthur, "name": "Kay"}]},
        {"op": "list"},
        {"op": "search", "text": "CAERLE"},
        {"op": "update", "entry": {**arthur, "house": "2"}, "expect": arthur},
        {"op": "update", "entry": {**arthur, "house": "3"}, "expect": arthur},
        {"op": "remove", "name": "Kay"},
        {"op": "remove", "name": "Kay"},
        {"op": "find", "name": "Kay"},
        {"op": "update", "entry": {**arthur, "name": "Nobody"}},
    )
    assert replies[0] == {"ok": {"added": "Arthur", "new": True}}
    assert replies[1] == {"ok": {"added": "Arthur", "new": False}}
    assert replies[2] == {"ok": arthur}
    assert replies[3] == {"ok": {"added": 2}}
    assert [e["name"] for e in replies[4]["ok"]] == ["Arthur", "Bedivere", "Kay"]
    assert [e["name"] for e in replies[5]["ok"]] == ["Bedivere"]
    assert replies[6] == {"ok": {"updated": "Arthur"}}
    assert replies[7]["error"] == "conflict"
    assert replies[8] == {"ok": {"removed": "Kay"}}
    assert [r["error"] for r in replies[9:12]] == ["not-found"] * 3


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ("add", "bad-request"),
        ({"op": "fly"}, "bad-request"),
        ({"op": "find"}, "bad-request"),
        ({"op": "add", "entry": {"name": "A"}}, "bad-entry"),
        ({"op": "add", "entry": {**ARTHUR.to_dict(), "colour": "blue"}}, "bad-entry"),
        ({"op": "add", "entry": {**ARTHUR.to_dict(), "street": "x" * (MAX_FIELD + 1)}}, "too-long"),
        ({"op": "add", "entry": {**ARTHUR.to_dict(), "town": "  "}}, "bad-entry"),
        ({"op": "add", "entry": {**ARTHUR.to_dict(), "name": "a:b"}}, "bad-entry"),
        ({"op": "add_many", "entries": "x"}, "bad-request"),
        ({"op": "search", "text": 5}, "bad-request"),
    ],
)
def test_framed_errors(book: Book, request_: Any, code: str) -> None:
    (reply,) = framed(book, request_)
    assert reply["error"] == code
    assert book.store.entries() == []  # nothing half-written


def test_search_treats_wildcards_literally(book: Book) -> None:
    book.store.add(Entry("Percy", "100%", "Under_score", "T", "1"))
    book.store.add(ARTHUR)
    assert [e.name for e in book.store.search("0%")] == ["Percy"]
    assert [e.name for e in book.store.search("r_s")] == ["Percy"]
    assert book.store.search("%%") == []


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite://{tmp_path}/b.db")
    try:
        store.add(ARTHUR)
        versions = store._connection().execute("SELECT version FROM schema_version").fetchall()
        assert versions == [(1,)]
        assert store.integrity_check() == "ok"
    finally:
        store.close()
    reopened = open_store(f"sqlite://{tmp_path}/b.db")
    try:
        assert reopened.find("Arthur") == ARTHUR  # migrations are not run twice
    finally:
        reopened.close()


def test_bad_sqlite_options() -> None:
    with pytest.raises(Exception, match="synchronous"):
        open_store("sqlite:///tmp/x.db?synchronous=SOMETIMES")
    with pytest.raises(Exception, match="unknown database URL"):
        open_store("mysql://x/y")


# -- the flat file ----------------------------------------------------------------------

fields = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30
).map(str.strip).filter(bool)


@given(name=fields.filter(lambda n: ":" not in n), rest=st.tuples(fields, fields, fields, fields))
@settings(max_examples=200, deadline=None)
def test_flat_line_round_trip(name: str, rest: tuple[str, str, str, str]) -> None:
    entry = Entry.make(name, *rest)
    assert parse_flat(entry.flat_line()) == entry


def test_flat_file_round_trip_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "addbook.dat"
    entries = [ARTHUR, Entry("Gawain", "3", 'Green, "Chapel"', "Orkney", "555")]
    write_flat(path, entries)
    assert read_flat(path) == entries
    assert sorted(p.name for p in tmp_path.iterdir()) == ["addbook.dat"]  # no temp file left


def test_flat_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "addbook.dat"
    path.write_text("Arthur:1,High St,Camelot,555\n\n# a comment\nBroken line\n")
    with pytest.raises(BadEntry, match="line 4"):
        read_flat(path)


# -- the service against a dict, by Hypothesis --------------------------------------------

names = st.sampled_from(["Arthur", "Bedivere", "Gawain", "Kay", "Percival"])
towns = st.sampled_from(["Camelot", "Caerleon", "Orkney", "Tintagel, Cornwall"])


class BookMachine(RuleBasedStateMachine):
    """The framed book service must behave exactly like a plain dict."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.TemporaryDirectory()
        self.book = Book(db=f"sqlite://{self.directory.name}/book.db?synchronous=OFF")
        self.model: dict[str, Entry] = {}

    def call(self, request: Any) -> Any:
        return framed(self.book, request)[0]

    @rule(name=names, town=towns, house=st.integers(1, 99))
    def add(self, name: str, town: str, house: int) -> None:
        entry = Entry(name, str(house), "Road", town, "555")
        reply = self.call({"op": "add", "entry": entry.to_dict()})
        assert reply == {"ok": {"added": name, "new": name not in self.model}}
        self.model[name] = entry

    @rule(name=names)
    def remove(self, name: str) -> None:
        reply = self.call({"op": "remove", "name": name})
        if name in self.model:
            assert reply == {"ok": {"removed": name}}
            del self.model[name]
        else:
            assert reply["error"] == "not-found"

    @rule(name=names)
    def find(self, name: str) -> None:
        reply = self.call({"op": "find", "name": name})
        if name in self.model:
            assert reply == {"ok": self.model[name].to_dict()}
        else:
            assert reply["error"] == "not-found"

    @rule(name=names, house=st.integers(1, 99), stale=st.booleans())
    def update(self, name: str, house: int, stale: bool) -> None:
        current = self.model.get(name)
        expect = current and (Entry(name, "0", "x", "x", "x") if stale else current)
        entry = Entry(name, str(house), "Lane", "Camelot", "555")
        reply = self.call({"op": "update", "entry": entry.to_dict(),
                           "expect": expect.to_dict() if expect else None})
        if current is None:
            assert reply["error"] == "not-found"
        elif stale:
            assert reply["error"] == "conflict"
        else:
            assert reply == {"ok": {"updated": name}}
            self.model[name] = entry

    @rule(text=st.sampled_from(["cam", "ORK", "a", "zzz", ","]))
    def search(self, text: str) -> None:
        reply = self.call({"op": "search", "text": text})
        expected = sorted(
            (e for e in self.model.values()
             if text.lower() in " ".join(e.to_dict().values()).lower()),
            key=lambda e: e.name,
        )
        assert reply == {"ok": [e.to_dict() for e in expected]}

    @invariant()
    def listing_matches(self) -> None:
        reply = self.call({"op": "list"})
        assert reply == {"ok": [self.model[n].to_dict() for n in sorted(self.model)]}

    def teardown(self) -> None:
        self.book.close()
        self.directory.cleanup()


TestBookMachine = BookMachine.TestCase
TestBookMachine.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
