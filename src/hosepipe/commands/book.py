"""``hosepipe book``: the menu with no ACTION, else one operation (``--json`` for scripts)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hosepipe.book.classic import LOST, ClassicBook, failed
from hosepipe.book.client import DEFAULT_ADDRESS, BookClient
from hosepipe.book.entry import Entry
from hosepipe.book.flatfile import read_flat, write_flat
from hosepipe.book.menu import run_menu
from hosepipe.commands import Handler, Subparsers
from hosepipe.commands.common import add_auth_option, authkey_of, timeout_arg
from hosepipe.errors import HosepipeError

__all__ = ["add_parsers", "run"]


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser(
        "book", help="the address book: the menu, or one operation",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="With no ACTION, the tutorial's four-option menu. --local forks a private\n"
        "book server connected by two pipes (SQLite, or --db); otherwise the server at -a.\n"
        "A server that does not speak hosepipe's framed protocol (a plain add/rem/fnd book\n"
        "server, as the tutorial's) is used through those three commands, with a note on\n"
        f"stderr: {LOST}.",
        epilog="examples:\n"
        "  hosepipe book --local                       the menu, over two pipes\n"
        "  hosepipe book add Arthur 1 'High St' Camelot 555-0100\n"
        "  hosepipe book add Kay '' '' '' ''           every field but the name may be empty\n"
        "  hosepipe book find Arthur --json\n"
        "  hosepipe book import addbook.dat            bad lines reported and skipped\n"
        "  hosepipe book import --strict addbook.dat   all or nothing\n"
        "  hosepipe book export addbook.dat            in the order entries were added\n"
        "  hosepipe book -a tcp://HOST:PORT --classic find Arthur",
    )
    p.add_argument("-a", "--address", default=DEFAULT_ADDRESS,
                   help=f"the book server (default {DEFAULT_ADDRESS})")
    p.add_argument("--local", action="store_true",
                   help="serve the book from a forked child over two os.pipe() pairs")
    p.add_argument("--db", metavar="URL", help="database for --local: sqlite:///PATH or "
                   "postgresql://... (default: SQLite in ~/.local/share/hosepipe)")
    p.add_argument("--classic", action="store_true",
                   help="speak only the plain add/rem/fnd protocol (without it, the fallback "
                   "when the server does not answer the framed protocol)")
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
    imports = actions.add_parser(
        "import", help="add every entry of a flat file (addbook.dat: NAME:HOUSE,STREET,TOWN,"
        "PHONE lines); bad lines are reported by number and skipped")
    imports.add_argument("file")
    imports.add_argument("--strict", action="store_true",
                         help="import nothing if any line is bad")
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


def _act(args: argparse.Namespace, book: BookClient) -> int:
    action = args.action
    if book.classic is not None and action in ("add", "find", "remove"):
        return _classic_act(args, book.classic)
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
        return _import(args, book)
    elif action == "export":
        entries = book.entries(order="added")
        write_flat(args.file, entries)
        _show(args, {"exported": len(entries)}, f"Exported {_count(len(entries))} to {args.file}")
    return 0


def _classic_act(args: argparse.Namespace, book: ClassicBook) -> int:
    """add, find, remove against a plain server: its reply, on stderr if it failed."""
    if args.action == "add":
        reply = book.add_text(Entry.make(args.name, args.house, args.street, args.town,
                                         args.phone))
    elif args.action == "find":
        reply = book.find_text(args.name)
    else:
        reply = book.remove_text(args.name)
    if failed(reply):
        print(reply, file=sys.stderr)
        return 1
    _show(args, {"reply": reply}, reply)
    return 0


def _import(args: argparse.Namespace, book: BookClient) -> int:
    flat = read_flat(args.file)
    for problem in flat.problems():
        print(f"hosepipe: {problem}", file=sys.stderr)
    if flat.bad and args.strict:
        raise HosepipeError(f"{args.file}: {len(flat.bad)} bad line(s); nothing imported "
                            "(--strict)")  # bad data, not bad usage: exit 1
    if book.classic is not None:
        replies = [book.classic.add_text(entry) for entry in flat.entries]
        refused = [reply for reply in replies if failed(reply)]
        for reply in refused:
            print(f"hosepipe: {reply}", file=sys.stderr)
        count = len(replies) - len(refused)
    else:
        count = book.add_many(flat.entries)
    skipped = f"; skipped {len(flat.bad)} bad line(s)" if flat.bad else ""
    _show(args, {"imported": count, "bad_lines": [number for number, _ in flat.bad]},
          f"Imported {_count(count)} from {args.file}{skipped}")
    return 0


def run(args: argparse.Namespace) -> int:
    address = "pipe:" if args.local else args.address
    with BookClient(address, db=args.db, timeout=args.timeout,
                    classic=True if args.classic else None,
                    authkey=authkey_of(args)) as book:
        if book.classic is not None and not args.classic:
            print(f"hosepipe: note: {address} does not speak hosepipe's framed protocol; "
                  f"using its add/rem/fnd commands ({LOST})", file=sys.stderr)
        if args.action:
            return _act(args, book)
        try:
            run_menu(book)
        except EOFError:
            print()
        sys.stdout.flush()
    return 0
