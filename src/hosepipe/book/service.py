"""book: the address book, as classic text commands and as framed messages, on one port.

Classic commands (one per message; see docs/protocols.md)::

    add:NAME,HOUSE,STREET,TOWN,PHONE  ->  Added entry for NAME
    rem:NAME                          ->  Deleted entry for NAME  |  Sorry, no entry for: NAME
    fnd:NAME                          ->  NAME : HOUSE,STREET,TOWN,PHONE  |  (the same Sorry)
    anything else                     ->  ERROR: Unrecognized command: ...

Framed requests are maps with an ``op``: add, add_many, remove, find, list, search,
update (with an optional ``expect`` for read-modify-write). Errors are structured:
not-found, bad-entry, too-long, conflict, bad-request, unavailable.

The store is opened (and its schema migrated) when the service is made, so a server
whose database cannot be reached says so when it starts, not at the first request.
Options: ``db`` (the database URL) and ``pool`` (at most this many database
connections per process, default 8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hosepipe.book.entry import BadEntry, Entry, clean_name, split_fields
from hosepipe.book.store import (
    DEFAULT_POOL,
    Conflict,
    NotFound,
    Store,
    StoreUnavailable,
    open_store,
)
from hosepipe.conversations.classic import ClassicConversation
from hosepipe.conversations.messages import MessageConversation, MessageService
from hosepipe.conversations.switch import FirstByteSwitch
from hosepipe.errors import ConnectError
from hosepipe.service import Context, Conversation, Service, ServiceError

__all__ = ["Book"]


def _no_entry(name: str) -> str:
    return f"Sorry, no entry for: {name}"


class _BookLines(ClassicConversation):
    def __init__(self, context: Context, store: Store) -> None:
        super().__init__(context)
        self.store = store

    def answer(self, text: str) -> str:
        command, sep, argument = text.partition(":")
        handler = {"add": self._add, "rem": self._remove, "fnd": self._find}.get(command.strip())
        if not sep or handler is None:
            shown = text if len(text) <= 80 else text[:77] + "..."
            return f"ERROR: Unrecognized command: {shown}"
        try:
            return handler(argument)
        except BadEntry as exc:
            return f"ERROR: {exc}"
        except StoreUnavailable as exc:
            return f"ERROR: the book is unavailable: {exc}"

    def _add(self, argument: str) -> str:
        try:
            fields = split_fields(argument, 5)
        except BadEntry as exc:
            raise BadEntry(f"add needs NAME,HOUSE,STREET,TOWN,PHONE: {exc}") from None
        entry = Entry.make(*fields)
        self.store.add(entry)
        return f"Added entry for {entry.name}"

    def _remove(self, argument: str) -> str:
        name = clean_name(argument)
        return f"Deleted entry for {name}" if self.store.remove(name) else _no_entry(name)

    def _find(self, argument: str) -> str:
        name = clean_name(argument)
        entry = self.store.find(name)
        return f"{entry.name} : {entry.address_text()}" if entry else _no_entry(name)


def _text(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str):
        raise ServiceError("bad-request", f"{request.get('op')} needs a text {key!r}")
    return value


class _BookMessages(MessageService):
    name = "book"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.ops: dict[str, Callable[[dict[str, Any]], Any]] = {
            "add": self._add, "add_many": self._add_many, "remove": self._remove,
            "find": self._find, "list": self._list, "search": self._search,
            "update": self._update,
        }

    def handle(self, request: Any) -> Any:
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            raise ServiceError("bad-request", "a request is a map with an 'op'")
        op = self.ops.get(request["op"])
        if op is None:
            raise ServiceError("bad-request", f"unknown op {request['op']!r}; known: "
                               + ", ".join(self.ops))
        try:
            return op(request)
        except BadEntry as exc:
            raise ServiceError(exc.code, str(exc)) from None
        except NotFound as exc:
            raise ServiceError("not-found", f"no entry for {exc.args[0]}") from None
        except Conflict as exc:
            raise ServiceError("conflict", f"{exc.args[0]} changed since it was read") from None
        except StoreUnavailable as exc:
            raise ServiceError("unavailable", str(exc)) from None

    def _add(self, request: dict[str, Any]) -> Any:
        entry = Entry.from_dict(request.get("entry"))
        return {"added": entry.name, "new": self.store.add(entry)}

    def _add_many(self, request: dict[str, Any]) -> Any:
        entries = request.get("entries")
        if not isinstance(entries, list):
            raise ServiceError("bad-request", "add_many needs a list of 'entries'")
        return {"added": self.store.add_many([Entry.from_dict(e) for e in entries])}

    def _remove(self, request: dict[str, Any]) -> Any:
        name = clean_name(_text(request, "name"))
        if not self.store.remove(name):
            raise NotFound(name)
        return {"removed": name}

    def _find(self, request: dict[str, Any]) -> Any:
        name = clean_name(_text(request, "name"))
        entry = self.store.find(name)
        if entry is None:
            raise NotFound(name)
        return entry.to_dict()

    def _list(self, request: dict[str, Any]) -> Any:
        order = request.get("order", "name")
        if not isinstance(order, str):
            raise ServiceError("bad-request", "order is 'name' or 'added'")
        return [entry.to_dict() for entry in self.store.entries(order)]

    def _search(self, request: dict[str, Any]) -> Any:
        return [entry.to_dict() for entry in self.store.search(_text(request, "text"))]

    def _update(self, request: dict[str, Any]) -> Any:
        entry = Entry.from_dict(request.get("entry"))
        expect = request.get("expect")
        self.store.update(entry, Entry.from_dict(expect) if expect is not None else None)
        return {"updated": entry.name}


class Book(Service):
    """Book: a shared address book (SQLite by default, or PostgreSQL)."""

    name = "book"

    def __init__(self, *, db: str | None = None, pool: int = DEFAULT_POOL) -> None:
        """Options:

        db: the database, ``sqlite:///PATH`` (``?synchronous=NORMAL`` for speed over
            durability) or ``postgresql://USER@HOST/DBNAME``; default: SQLite in
            ``$XDG_DATA_HOME/hosepipe/book.sqlite3``.
        pool: the most database connections this server keeps open at once.
        """
        self.store = open_store(db, pool)
        try:
            self.store.check()
        except (StoreUnavailable, BadEntry) as exc:
            self.store.close()
            raise ConnectError(f"book: {exc}") from exc  # the environment, not the usage: 1
        self._messages = _BookMessages(self.store)

    def conversation(self, context: Context) -> Conversation:
        return FirstByteSwitch(
            context,
            classic=lambda ctx: _BookLines(ctx, self.store),
            framed=lambda ctx: MessageConversation(self._messages, ctx),
        )

    def close(self) -> None:
        self.store.close()
