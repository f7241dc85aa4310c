"""``hosepipe probe``: the command line of :mod:`hosepipe.tools.probe` (a table, or JSON)."""

from __future__ import annotations

import argparse
import json
import sys

from rich.markup import escape
from rich.table import Table

from hosepipe.commands import Handler, Subparsers
from hosepipe.errors import UsageError
from hosepipe.tools.console import wide_console
from hosepipe.tools.probe import (
    DEFAULT_TCP_PORTS,
    DEFAULT_UDP_PORTS,
    PortReport,
    ProbeOptions,
    parse_ports,
    probe,
)

__all__ = ["add_parser", "render_table"]

EXAMPLES = f"""\
default ports: tcp {",".join(map(str, DEFAULT_TCP_PORTS))}
               udp {",".join(map(str, DEFAULT_UDP_PORTS))}

states: open (it spoke, or answered a nudge), silent (accepted, never answered),
closed (refused), filtered (no answer to the connection by the deadline); over UDP,
open|filtered (no answer) and closed (ICMP port unreachable).

examples:
  hosepipe probe 127.0.0.1                    # the well-known ports and hosepipe's own
  hosepipe probe example.org --ports 22,25,80,443
  hosepipe probe 127.0.0.1 --ports 50000-50100 --timeout 1
  hosepipe probe 127.0.0.1 --udp              # daytime, time and echo over UDP
  hosepipe probe 127.0.0.1 --json | jq '.[] | select(.state == "open")'
"""

_COLOURS = {"open": "green", "silent": "cyan", "closed": "red", "filtered": "yellow",
            "open|filtered": "yellow", "error": "magenta"}


def add_parser(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser("probe", help="see what answers on a host's ports, decoded",
                       description="Connect to many ports at once, read what each says "
                       "first (or answers to a harmless nudge), and decode it.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host", metavar="HOST")
    p.add_argument("-p", "--ports", type=_ports, metavar="LIST",
                   help="ports and ranges, e.g. 22,80,8000-8010 (default: see below)")
    p.add_argument("-u", "--udp", action="store_true", help="probe UDP ports instead of TCP")
    p.add_argument("-t", "--timeout", type=float, default=3.0, metavar="SECONDS",
                   help="deadline per port, nudges included (default 3)")
    p.add_argument("-w", "--wait", type=float, default=1.0, metavar="SECONDS",
                   help="how long to wait for a port to speak first (default 1)")
    p.add_argument("-c", "--concurrency", type=int, default=64, metavar="N",
                   help="ports probed at once (default 64)")
    p.add_argument("--no-nudge", action="store_true", help="only listen, send nothing")
    p.add_argument("--all", action="store_true", help="list closed ports too")
    p.add_argument("--json", action="store_true", help="print every port as JSON")
    return {"probe": run_probe}


def _ports(text: str) -> tuple[int, ...]:
    try:
        return parse_ports(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_probe(args: argparse.Namespace) -> int:
    options = ProbeOptions(timeout=args.timeout, wait=args.wait,
                           concurrency=args.concurrency, nudge=not args.no_nudge)
    reports = probe(args.host, args.ports, options, udp=args.udp)
    if args.json:
        json.dump([r.to_json() for r in reports], sys.stdout, indent=2)
        print()
    else:
        shown = [r for r in reports if args.all or r.state != "closed"]
        wide_console().print(render_table(args.host, shown, len(reports) - len(shown)))
    return 0


def render_table(host: str, reports: list[PortReport], hidden: int) -> Table:
    """The rich table of a probe: port, state, service, what it said."""
    caption = (f"{hidden} closed port{'s' if hidden > 1 else ''} not shown (--all shows "
               "them)") if hidden else None
    table = Table(title=f"probe {host}", caption=caption, title_justify="left")
    for column in ("port", "state", "service", "what it said"):
        table.add_column(column, justify="right" if column == "port" else "left",
                         overflow="fold")
    for r in reports:
        said = escape(r.summary) + (f"  [dim](after {r.nudge})[/dim]" if r.nudge else "")
        table.add_row(f"{r.port}/{r.transport}",
                      f"[{_COLOURS.get(r.state, 'white')}]{r.state}[/]", r.service, said)
    return table
