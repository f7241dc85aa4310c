"""The tutorial's address book (tests/peers/addressbook.py) against hosepipe's flat file.

Whatever a person types into the tutorial's menu, the ``addbook.dat`` its server writes
is imported by hosepipe and exported again byte for byte, in the same order; and the
replies hosepipe's classic book gives are the tutorial's, word for word.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hosepipe.book.flatfile import read_flat, write_flat
from hosepipe.book.service import Book
from hosepipe.service import Context, Send
from tests.peers import addressbook

# what a person can type at input(): no newline; a ':' anywhere makes the tutorial's
# server crash (its split(':') gets three parts), so no line with one is ever written
typed = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"),
                                       blacklist_characters=":", whitelist_characters="\t"),
                max_size=12)
# hosepipe needs a name; the tutorial's is what comes before the first comma
named = typed.filter(lambda t: t.split(",")[0].strip() != "")
adds = st.tuples(named, typed, typed, typed, typed)
sessions = st.lists(st.one_of(adds, st.integers(0, 20)), min_size=1, max_size=12)


def typist(answers: list[str]) -> Callable[[str], str]:
    """An ``input`` that types the answers in turn, whatever the prompt."""
    pending = iter(answers)
    return lambda _prompt: next(pending)


def run_session(steps: list[tuple[str, ...] | int]) -> tuple[dict[str, str], list[str]]:
    """The tutorial's client and server: each add as typed; an int removes the n-th name."""
    book: dict[str, str] = {}
    commands = []
    for step in steps:
        if isinstance(step, int):
            if not book:
                continue
            name = list(book)[step % len(book)]  # the tutorial's server dies on a missing one
            command = addressbook.command_for(2, typist([name]))
        else:
            command = addressbook.command_for(1, typist(list(step)))
        addressbook.serve_command(book, command, save=False)
        commands.append(command)
    return book, commands


@given(steps=sessions)
@settings(max_examples=300, deadline=None)
def test_every_addbook_the_tutorial_writes_round_trips(tmp_path_factory: object, steps: list
                                                       ) -> None:
    directory = Path(tmp_path_factory.mktemp("book"))  # type: ignore[attr-defined]
    book, _ = run_session(steps)
    written = directory / "addbook.dat"
    addressbook.saveBook(book, str(written))
    flat = read_flat(written)
    assert flat.bad == []
    exported = directory / "exported.dat"
    write_flat(exported, flat.entries)
    assert exported.read_bytes() == written.read_bytes()


@given(steps=sessions)
@settings(max_examples=100, deadline=None)
def test_the_classic_book_answers_as_the_tutorial(tmp_path_factory: object, steps: list
                                                  ) -> None:
    directory = Path(tmp_path_factory.mktemp("book"))  # type: ignore[attr-defined]
    book, commands = run_session(steps)
    finds = [f"fnd:{name}" for name in book] + ["fnd:Nobody at all"]
    tutorial: dict[str, str] = {}
    expected = [addressbook.serve_command(tutorial, c, save=False) for c in commands + finds]
    service = Book(db=f"sqlite://{directory}/book.db?synchronous=OFF")
    try:
        conversation = service.conversation(Context())
        replies = []
        for command in commands + finds:
            actions = conversation.data_received(command.encode() + b"\n")
            replies.append(b"".join(a.data for a in actions if isinstance(a, Send)))
    finally:
        service.close()
    assert [r.decode().removesuffix("\n") for r in replies] == expected
