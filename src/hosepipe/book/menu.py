"""The four-option menu, as the tutorial's client shows it, driven by a person.

The menu, the prompts (``Choose an option[1-4] ``, ``Enter the name: ``, ...) and the
``RESULT:`` line before each reply are the tutorial's own, character for character; a
choice that is not a number shows the menu again, a number out of range says so.
What a person types is sent as typed (nothing stripped; empty fields but the name are
allowed). ``run_menu`` reads with ``ask`` and writes with ``say`` (``input`` and
``print`` by default), so it can be tested without a terminal too. It returns when the
person chooses 4; end of input (EOFError) and Ctrl-C (KeyboardInterrupt) propagate, so
the caller can close the connection (and reap a ``--local`` child) in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hosepipe.book.entry import BadEntry, Entry
from hosepipe.errors import RemoteError

__all__ = ["MENU", "PROMPTS", "run_menu"]

MENU = '''
   1) Add Entry
   2) Delete Entry
   3) Find Entry

   4) Quit
   '''

PROMPTS = ("Enter the name: ", "Enter the House number: ", "Enter the Street name: ",
           "Enter the Town: ", "Enter the Phone number: ")


class Book(Protocol):
    """What the menu needs: the three classic operations, answered as the server words
    them (``Added entry for NAME``, ``Sorry, no entry for: NAME``, ...)."""

    def add_text(self, entry: Entry) -> str: ...
    def remove_text(self, name: str) -> str: ...
    def find_text(self, name: str) -> str: ...


def run_menu(book: Book, *, ask: Callable[[str], str] = input,
             say: Callable[[str], None] = print) -> None:
    while True:
        say(MENU)
        try:
            choice = int(ask("Choose an option[1-4] "))
        except ValueError:
            continue
        if choice == 4:
            return
        action = {1: _add, 2: _delete, 3: _find}.get(choice)
        if action is None:
            say("Invalid choice, must be between 1 and 4.")
            continue
        try:
            result = action(book, ask)
        except BadEntry as exc:
            result = f"ERROR: {exc}"
        except RemoteError as exc:
            result = f"ERROR: {exc.message or exc.code}"
        say(f"\nRESULT:  {result}")


def _add(book: Book, ask: Callable[[str], str]) -> str:
    return book.add_text(Entry.make(*(ask(prompt) for prompt in PROMPTS)))


def _delete(book: Book, ask: Callable[[str], str]) -> str:
    return book.remove_text(ask(PROMPTS[0]))


def _find(book: Book, ask: Callable[[str], str]) -> str:
    return book.find_text(ask(PROMPTS[0]))
