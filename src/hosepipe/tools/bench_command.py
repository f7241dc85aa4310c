"""``hosepipe bench``: the command line of :mod:`hosepipe.tools.bench`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hosepipe.commands import Handler, Subparsers
from hosepipe.errors import UsageError
from hosepipe.servers import MODELS
from hosepipe.tools.bench import BenchOptions, BenchResult, bench
from hosepipe.tools.bench import Progress as ProgressCallback
from hosepipe.tools.bench_models import bench_models, parse_models
from hosepipe.tools.bench_report import save_plot, table, terminal_plot
from hosepipe.tools.console import wide_console
from hosepipe.units import parse_size

__all__ = ["add_parser"]

EXAMPLES = f"""\
services: echo, upper and square are spoken as classic lines (a request ends in a
newline: without one, a message can wait for the service's 50 ms pause before it
counts, and the bench would measure the pause); any other service is a message service and
needs --payload, the request as JSON, sent framed (msgpack unless --codec json).

examples:
  hosepipe bench 127.0.0.1:50007                       # echo, 8 clients, 5 seconds
  hosepipe bench 127.0.0.1:50008 --service square -c 32 -n 100000
  hosepipe bench 127.0.0.1:50007 --rate 2000 -d 10     # open loop, 2000 req/s in all
  hosepipe bench 127.0.0.1:50004 --service book --payload '{{"op": "find", "name": "Arthur"}}'
  hosepipe bench --models {",".join(MODELS)} --service upper -c 4 -n 20000
  hosepipe bench 127.0.0.1:50007 --json > run.json; hosepipe bench ... --plot latency.png

Latency is per request, in an HDR histogram (1 us to 1 h, 3 significant digits). With
--rate it is measured from when each request should have been sent, so a stalled
server shows in the percentiles (coordinated omission corrected, as wrk2 does).
Ctrl-C stops early and prints what was measured so far.
"""


def add_parser(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser("bench", help="many clients at once against a service: latency "
                       "percentiles, throughput", description="Run many clients in parallel "
                       "against a service and report latency percentiles and throughput.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("address", nargs="?", metavar="ADDRESS",
                   help="the server (not with --models, which starts its own)")
    p.add_argument("-s", "--service", default="echo", help="echo, upper, square, or any "
                   "message service with --payload (default echo)")
    p.add_argument("-c", "--clients", type=int, default=8, metavar="N",
                   help="clients at once, each its own connection (default 8)")
    amount = p.add_mutually_exclusive_group()
    amount.add_argument("-n", "--requests", type=int, metavar="N", help="requests in all")
    amount.add_argument("-d", "--duration", type=float, metavar="SECONDS",
                        help="run this long (default 5, unless -n)")
    p.add_argument("--size", default="64", metavar="BYTES",
                   help="bytes per classic request, newline included (default 64)")
    p.add_argument("--rate", type=float, metavar="R", help="open loop: R requests per "
                   "second in all, latency from the intended send time")
    p.add_argument("--payload", metavar="JSON", help="a framed request for a message service")
    p.add_argument("--codec", choices=("msgpack", "json"), default="msgpack")
    p.add_argument("-w", "--workers", type=int, metavar="N", help="processes the clients are "
                   "spread over, each running its share on one event loop (default: one per "
                   "CPU, at most one per client; N = CLIENTS gives each client its own)")
    p.add_argument("--threads", action="store_true", help="workers as threads, not processes")
    p.add_argument("-t", "--timeout", type=float, default=10.0, metavar="SECONDS",
                   help="per connect and per reply (default 10)")
    p.add_argument("--models", metavar="LIST", help="start SERVICE under each model "
                   f"(of {','.join(MODELS)}) and compare them")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="save the latency percentile curve "
                   "(needs matplotlib: pip install 'hosepipe[plot]')")
    return {"bench": run_bench}


def _options(args: argparse.Namespace) -> BenchOptions:
    return BenchOptions(service=args.service, clients=args.clients, requests=args.requests,
                        duration=args.duration, size=parse_size(args.size), rate=args.rate,
                        payload=args.payload, codec=args.codec, threads=args.threads,
                        workers=args.workers, timeout=args.timeout)


def run_bench(args: argparse.Namespace) -> int:
    options = _options(args)
    options.check()
    if (args.models is None) == (args.address is None):
        raise UsageError("give an ADDRESS, or --models (which starts its own servers)")
    err = Console(stderr=True)
    show = err.is_terminal and not args.json
    with _progress(err, show, options) as start:
        if args.models:
            results = bench_models(parse_models(args.models), options, progress=start)
        else:
            results = [bench(args.address, options, progress=start(args.address))]
    _report(results, args)
    return 130 if any(r.interrupted for r in results) else 0


def _report(results: list[BenchResult], args: argparse.Namespace) -> None:
    if args.plot:
        save_plot(results, args.plot)
    if args.json:
        json.dump([r.to_json() for r in results], sys.stdout, indent=2)
        print()
        return
    out = wide_console()
    title = f"hosepipe bench: {args.service}, " + (
        f"{args.requests} requests" if args.requests else f"{args.duration or 5:g} s") + (
        f" at {args.rate:g}/s (open loop)" if args.rate else "")
    out.print(table(results, title))
    for r in results:
        if r.error_samples:
            out.print(f"[red]{r.label}: errors, e.g.[/] " + "; ".join(r.error_samples))
    if not args.plot and len(results) == 1:
        out.print(terminal_plot(results[0]))


@contextmanager
def _progress(console: Console, show: bool, options: BenchOptions
              ) -> Iterator[Callable[[str], ProgressCallback | None]]:
    """A rich progress bar per run (requests, or seconds with -d), on a terminal only."""
    if not show:
        yield lambda label: None
        return
    # no refresh thread (auto_refresh=False): the clients are forked, and a fork should
    # not copy a thread that may hold the console's lock; the bench's own loop refreshes
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console, transient=True, auto_refresh=False)

    def start(label: str) -> ProgressCallback:
        task = bar.add_task(label, total=options.requests)

        def update(done: int) -> None:
            bar.update(task, completed=done)
            bar.refresh()

        return update

    with bar:
        yield start
