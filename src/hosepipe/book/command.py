"""``hosepipe book``: the menu with no ACTION, else one operation (``--json`` for scripts)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hosepipe.book.client import DEFAULT_ADDRESS, BookClient
from hosepipe.book.entry import Entry
from hosepipe.book.flatfile import read_flat, write_flat
from hosepipe.book.menu import run_menu
from hosepipe.commands import Handler, Subparsers
from hosepipe.commands.common import add_auth_option, authkey_of, timeout_arg

__all__ = ["add_parsers", "run"]


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser(
        "book", help="the address book: the menu, or one operation",
        description="With no ACTION, the four-option menu. --local forks a private book "
        "server connected by two pipes (SQLite, or --db); otherwise the server at -a.",
    )
    p.add_argument("-a", "--address", default=DEFAULT_ADDRESS,
                   help=f"the book server (default {DEFAULT_ADDRESS})")
    p.add_argument("--local", action="store_true",
                   help="serve the book from a forked child over two os.pipe() pairs")
    p.add_argument("--db", metavar="URL", help="database for --local: sqlite:///PATH or "
                   "postgresql://... (default: SQLite in ~/.local/share/hosepipe)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.add_argument("-t", "--timeout", type=timeout_arg, default=30.0, metavar="SECONDS",
                   help="seconds; 0 or none: wait for ever (default 30)")
    add_auth_option(p)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="add (or replace) an entry")
    for field in ("name", "house", "street", "town", "phone"):
        add.add_argument(field)
    actions.add_parser("find", help="show one entry").add_argument("name")
    actions.add_parser("remove", help="delete one entry").add_argument("name")
    actions.add_parser("list", help="every entry, by name")
    actions.add_parser("search", help="entries containing TEXT in any field").add_argument("text")
    actions.add_parser("import", help="add every entry of a flat file").add_argument("file")
    actions.add_parser("export", help="write the book to a flat file").add_argument("file")
    for action in actions.choices.values():  # --json may also follow the action
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help="print the result as JSON")
    return {"book": run}


def _show(args: argparse.Namespace, result: Any, text: str) -> None:
    print(json.dumps(result, ensure_ascii=False) if args.json else text)


def _count(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


def _lines(entries: list[Entry]) -> str:
    return "\n".join(f"{e.name} : {e.address_text()}" for e in entries) or "(no entries)"


def _act(args: argparse.Namespace, book: BookClient) -> None:
    action = args.action
    if action == "add":
        entry = Entry.make(args.name, args.house, args.street, args.town, args.phone)
        new = book.add(entry)
        _show(args, {"added": entry.name, "new": new}, f"Added entry for {entry.name}")
    elif action == "find":
        entry = book.find(args.name)
        _show(args, entry.to_dict(), f"{entry.name} : {entry.address_text()}")
    elif action == "remove":
        book.remove(args.name)
        _show(args, {"removed": args.name}, f"Deleted entry for {args.name}")
    elif action in ("list", "search"):
        entries = book.entries() if action == "list" else book.search(args.text)
        _show(args, [e.to_dict() for e in entries], _lines(entries))
    elif action == "import":
        count = book.add_many(read_flat(args.file))
        _show(args, {"imported": count}, f"Imported {_count(count)} from {args.file}")
    elif action == "export":
        entries = book.entries()
        write_flat(args.file, entries)
        _show(args, {"exported": len(entries)}, f"Exported {_count(len(entries))} to {args.file}")


def run(args: argparse.Namespace) -> int:
    address = "pipe:" if args.local else args.address
    with BookClient(address, db=args.db, timeout=args.timeout,
                    authkey=authkey_of(args)) as book:
        if args.action:
            _act(args, book)
            return 0
        where = "a private book (forked child over pipes)" if args.local else str(address)
        print(f"Address book: {where}")
        try:
            run_menu(book)
        except EOFError:
            print()
        sys.stdout.flush()
    return 0
