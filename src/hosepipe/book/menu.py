"""The classic four-option menu, driven by a person at a terminal.

``run_menu`` reads with ``ask`` and writes with ``say`` (``input`` and ``print`` by
default), so it can be tested without a terminal too. It returns when the person
chooses 4 (or q); end of input (EOFError) and Ctrl-C (KeyboardInterrupt) propagate,
so the caller can close the connection (and reap a ``--local`` child) in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from hosepipe.book.client import BookClient
from hosepipe.book.entry import BadEntry, Entry
from hosepipe.errors import RemoteError

__all__ = ["MENU", "run_menu"]

MENU = """
  1  add an entry
  2  delete an entry
  3  find an entry
  4  quit"""

LABELS = ("Name", "House number", "Street", "Town", "Phone")


def run_menu(book: BookClient, *, ask: Callable[[str], str] = input,
             say: Callable[[str], None] = print) -> None:
    while True:
        say(MENU)
        choice = ask("Choice [1-4]: ").strip().lower()
        if choice in ("4", "q", "quit"):
            say("Goodbye.")
            return
        action = {"1": _add, "2": _delete, "3": _find}.get(choice)
        if action is None:
            say("Please choose 1, 2, 3 or 4.")
            continue
        try:
            say(action(book, ask))
        except (BadEntry, RemoteError) as exc:
            say(f"Error: {getattr(exc, 'message', None) or exc}")


def _add(book: BookClient, ask: Callable[[str], str]) -> str:
    entry = Entry.make(*(ask(f"{label}: ") for label in LABELS))
    book.add(entry)
    return f"Added entry for {entry.name}"


def _delete(book: BookClient, ask: Callable[[str], str]) -> str:
    name = ask("Name: ").strip()
    try:
        book.remove(name)
    except RemoteError as exc:
        if exc.code == "not-found":
            return f"Sorry, no entry for: {name}"
        raise
    return f"Deleted entry for {name}"


def _find(book: BookClient, ask: Callable[[str], str]) -> str:
    name = ask("Name: ").strip()
    try:
        entry = book.find(name)
    except RemoteError as exc:
        if exc.code == "not-found":
            return f"Sorry, no entry for: {name}"
        raise
    return f"{entry.name} : {entry.address_text()}"
