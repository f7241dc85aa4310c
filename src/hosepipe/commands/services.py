"""``hosepipe services``: each built-in service, its default addresses and its options.

Everything printed is read from the code (:mod:`hosepipe.options`): the first line of
the service's docstring, :data:`~hosepipe.services.DEFAULT_ADDRESSES`, and the
keyword-only parameters of its constructor with their types, defaults and docs. A
``module:Class`` argument shows a user's own service the same way.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from hosepipe.commands import Handler, Subparsers
from hosepipe.options import options_of, service_target
from hosepipe.services import BUILTINS, DEFAULT_ADDRESSES

__all__ = ["add_parsers", "describe"]


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser(
        "services", help="list the built-in services and their options",
        description="Each service with its default addresses and its options, which "
        "`hosepipe serve` takes as -o SERVICE.KEY=VALUE (or as keys of a [[bind]] table).",
    )
    p.add_argument("names", nargs="*", metavar="SERVICE",
                   help="only these (a built-in name or module:Class)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    return {"services": _run}


def describe(spec: str) -> dict[str, Any]:
    """What ``hosepipe services`` shows about one service, as data."""
    target = service_target(spec)
    doc = (getattr(target, "__doc__", None) or "").strip().splitlines()
    return {
        "name": spec,
        "summary": doc[0] if doc else "",
        "addresses": list(DEFAULT_ADDRESSES.get(spec, ())),
        "options": [
            {"name": o.name, "type": o.kind, "default": o.default,
             "shown": o.shown_default(), "help": o.help}
            for o in (options_of(target) if target is not None else [])
        ],
    }


def _text(info: dict[str, Any]) -> str:
    lines = [f"{info['name']}: {info['summary']}"]
    if info["addresses"]:
        lines.append("  default addresses: " + ", ".join(info["addresses"]))
    if not info["options"]:
        lines.append("  no options")
    for option in info["options"]:
        lines.append(f"  -o {info['name']}.{option['name']}=... "
                     f"({option['type']}, default {option['shown']})")
        lines += textwrap.wrap(option["help"], 84, initial_indent="      ",
                               subsequent_indent="      ")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    infos = [describe(name) for name in (args.names or BUILTINS)]
    if args.json:
        print(json.dumps(infos, default=str))
    else:
        print("\n\n".join(_text(info) for info in infos))
    return 0
