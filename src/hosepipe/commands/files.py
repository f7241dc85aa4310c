"""``hosepipe ls``, ``get`` and ``put``: the file service from the command line.

``get`` speaks the framed protocol (size, SHA-256, resume). A server that does not
answer the framed hello within :data:`HELLO_TIMEOUT` seconds, or answers it with bytes
that are not a hello reply, is taken for a classic getfile server (the tutorial's:
a path and a newline, then the bytes until close), and ``get`` fetches from it with
the classic protocol, saying on standard error what that loses. ``--classic`` goes
there directly; ``--framed`` never does. ``ls`` and ``put`` have no classic form.

Where ``get`` writes: ``-o -`` is standard output (no part file, no progress bar, the
checksum still verified at the end); ``-o DIR/`` (a trailing slash) is a directory,
created if missing; an existing directory gets the file under its own name.

Resuming: a download goes to ``NAME.part``. A ``get`` that finds one continues it
(asking for the rest only) and verifies the whole file's SHA-256 at the end; if that
fails, the part was not the start of this file, and the download starts again from
the beginning, once (saying so). ``--restart`` discards a part first. After Ctrl-C
(exit 130) or a lost connection the part stays, and the message says so.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from hosepipe.client_protocol import NotFramed
from hosepipe.commands import Handler, Subparsers
from hosepipe.commands.common import add_auth_option, authkey_of, timeout_arg
from hosepipe.errors import HosepipeError
from hosepipe.files.classic import LOST_GUARANTEES, fetch_classic
from hosepipe.files.client import DEFAULT_ADDRESS, ChecksumMismatch, FilesClient, part_of
from hosepipe.files.client import Progress as ProgressCallback
from hosepipe.units import format_size

__all__ = ["HELLO_TIMEOUT", "add_parsers", "run_get", "run_ls", "run_put"]

HELLO_TIMEOUT = 3.0  # seconds a server gets to answer the framed hello before `get` falls back

GET_HELP = f"""\
Download PATH, verified by SHA-256. The file goes to NAME.part first and becomes NAME
once whole and verified. A NAME.part left by an earlier run is resumed (only the rest
is fetched; the whole file is verified, and fetched again from the start if the part
was not its beginning). After Ctrl-C or a lost connection the part stays: run the
same command again.

A server that does not answer the framed hello within {HELLO_TIMEOUT:g} s (the tutorial's
getfile server) is fetched from with the classic protocol (the path and a newline,
the bytes until close), which has no checksum and no resume; hosepipe says so.

examples:
  hosepipe get docs/report.pdf                  to ./report.pdf
  hosepipe get docs/report.pdf -o downloads/    into downloads/ (created)
  hosepipe get docs/report.pdf -o - | less      to standard output
  hosepipe get notes.txt -a 127.0.0.1:50001 --classic"""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--address", default=DEFAULT_ADDRESS,
                   help=f"the file server (default {DEFAULT_ADDRESS})")
    p.add_argument("-t", "--timeout", type=timeout_arg, default=30.0, metavar="SECONDS",
                   help="seconds without progress before giving up; 0 or none: wait for ever "
                   "(default 30)")
    add_auth_option(p)


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser("ls", help="list a directory of the file server",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  hosepipe ls\n  hosepipe ls docs --json")
    _common(p)
    p.add_argument("dir", nargs="?", default="", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    p = sub.add_parser("get", help="download a file (verified by SHA-256)",
                       description=GET_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(p)
    p.add_argument("path", metavar="PATH")
    p.add_argument("-o", "--output", metavar="DIR_OR_FILE", help="where to write it: a file, "
                   "a directory (DIR/ is created), or - for standard output (default: the "
                   "current directory, under the file's own name)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue NAME.part (the default when one exists)")
    again.add_argument("--restart", action="store_true",
                       help="discard NAME.part and download from the start")
    protocol = p.add_mutually_exclusive_group()
    protocol.add_argument("--classic", action="store_true", help="use the classic getfile "
                          "protocol (path and newline, bytes until close): no checksum, no "
                          "resume")
    protocol.add_argument("--framed", action="store_true",
                          help="never fall back to the classic protocol")
    p = sub.add_parser("put", help="upload a file (when the server takes uploads)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="The server stores it under its name (or --as NAME) once whole "
                       "and matching its SHA-256;\nan existing name is never overwritten."
                       "\n\nexamples:\n  hosepipe put big.iso\n  hosepipe put "
                       "big.iso --as copy.iso -a 127.0.0.1:50001")
    _common(p)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--as", dest="name", metavar="NAME", help="the name on the server")
    return {"ls": run_ls, "get": run_get, "put": run_put}


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[ProgressCallback]:
    """A rich progress bar (rate, ETA) on a terminal; nothing when not a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update


def _framed(args: argparse.Namespace, what: str) -> FilesClient:
    """A FilesClient; a server that does not speak the framed protocol is an error that
    says so (``ls`` and ``put`` have no classic form)."""
    try:
        return FilesClient(args.address, timeout=args.timeout, authkey=authkey_of(args),
                           hello_timeout=_hello_timeout(args))
    except NotFramed as exc:
        raise HosepipeError(f"{args.address} does not speak hosepipe's framed protocol "
                            f"({exc}); a classic getfile server cannot {what}") from exc


def run_ls(args: argparse.Namespace) -> int:
    with _framed(args, "list directories: fetch a file by name with hosepipe get") as files:
        items = files.list(args.dir)
    if args.json:
        print(json.dumps(items))
        return 0
    table = Table(box=None, show_header=True, pad_edge=False)
    for column, justify in (("size", "right"), ("modified", "left"), ("name", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for item in items:
        size = "-" if item["type"] == "dir" else format_size(item["size"])
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(item["mtime"]))
        name = item["name"] + ("/" if item["type"] == "dir" else "")
        table.add_row(size, stamp, name)
    Console().print(table)
    return 0


def destination(path: str, output: str | None) -> Path | None:
    """Where ``get PATH -o OUTPUT`` writes (``None``: standard output)."""
    name = Path(path).name
    if output == "-":
        return None
    if output is None:
        return Path(name)
    if output.endswith("/"):
        Path(output).mkdir(parents=True, exist_ok=True)
    dest = Path(output)
    return dest / name if dest.is_dir() else dest


def _say(text: str) -> None:
    print(f"hosepipe: {text}", file=sys.stderr)


def run_get(args: argparse.Namespace) -> int:
    dest = destination(args.path, args.output)
    if args.restart and dest is not None:
        part_of(dest).unlink(missing_ok=True)
    if args.classic:
        return _get_classic(args, dest)
    try:
        files = FilesClient(args.address, timeout=args.timeout, authkey=authkey_of(args),
                            hello_timeout=None if args.framed else _hello_timeout(args))
    except NotFramed as exc:
        if args.framed:
            raise
        _say(f"{args.address} does not speak hosepipe's framed protocol ({exc}); "
             f"fetching with the classic protocol instead -- {LOST_GUARANTEES}")
        return _get_classic(args, dest)
    with files:
        header = _get_framed(files, args.path, dest)
    where = "standard output" if dest is None else str(dest)
    _say(f"{where}: {header['size']} bytes, sha256 {header['sha256']} (verified)")
    return 0


def _hello_timeout(args: argparse.Namespace) -> float:
    return HELLO_TIMEOUT if args.timeout is None else min(HELLO_TIMEOUT, args.timeout)


def _get_framed(files: FilesClient, path: str, dest: Path | None) -> dict[str, Any]:
    if dest is None:
        return files.get_into(path, sys.stdout.buffer)
    part = part_of(dest)
    resuming = part.exists()
    if resuming:
        _say(f"resuming {part} ({part.stat().st_size} bytes already here)")
    try:
        with progress_bar(Path(path).name) as bar:
            try:
                return files.get(path, dest, resume=resuming, progress=bar)
            except ChecksumMismatch:
                if not resuming:
                    raise
                _say(f"{part} was not the start of {path}; downloading it again from the start")
                return files.get(path, dest, progress=bar)
    except KeyboardInterrupt:
        _hint(part)
        raise


def _hint(part: Path) -> None:
    if part.exists():
        _say(f"interrupted: {part} keeps {part.stat().st_size} bytes; run the same command "
             "again to continue (or add --restart to start over)")


def _get_classic(args: argparse.Namespace, dest: Path | None) -> int:
    if dest is not None and part_of(dest).exists():
        _say(f"{part_of(dest)} cannot be resumed over the classic protocol; starting again")
    target = sys.stdout.buffer if dest is None else dest
    with progress_bar(Path(args.path).name, enabled=dest is not None) as bar:
        size = fetch_classic(args.address, args.path, target, timeout=args.timeout,
                             authkey=authkey_of(args), progress=bar)
    where = "standard output" if dest is None else str(dest)
    _say(f"{where}: {size} bytes (classic protocol: not verified)")
    return 0


def run_put(args: argparse.Namespace) -> int:
    with _framed(args, "take uploads") as files, \
            progress_bar(Path(args.file).name) as bar:
        reply = files.put(args.file, args.name, progress=bar)
    _say(f"stored {reply['stored']}: {reply['size']} bytes, sha256 {reply['sha256']}")
    return 0
