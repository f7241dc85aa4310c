"""``hosepipe ls``, ``get`` and ``put``: the file service from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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

from hosepipe.commands import Handler, Subparsers
from hosepipe.files.client import DEFAULT_ADDRESS, FilesClient
from hosepipe.files.client import Progress as ProgressCallback
from hosepipe.units import format_size

__all__ = ["add_parsers", "run_get", "run_ls", "run_put"]


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("-a", "--address", default=DEFAULT_ADDRESS,
                       help=f"the file server (default {DEFAULT_ADDRESS})")
        p.add_argument("-t", "--timeout", type=float, default=30.0,
                       help="seconds without progress before giving up (default 30)")

    p = sub.add_parser("ls", help="list a directory of the file server")
    common(p)
    p.add_argument("dir", nargs="?", default="", metavar="DIR")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    p = sub.add_parser("get", help="download a file (verified by SHA-256)")
    common(p)
    p.add_argument("path", metavar="PATH")
    p.add_argument("-o", "--output", metavar="DIR_OR_FILE", help="where to write it "
                   "(default: the current directory, under the file's own name)")
    p.add_argument("--resume", action="store_true", help="continue a NAME.part download")
    p = sub.add_parser("put", help="upload a file (when the server takes uploads)")
    common(p)
    p.add_argument("file", metavar="FILE")
    p.add_argument("--as", dest="name", metavar="NAME", help="the name on the server")
    return {"ls": run_ls, "get": run_get, "put": run_put}


@contextmanager
def progress_bar(label: str) -> Iterator[ProgressCallback]:
    """A rich progress bar (rate, ETA) on a terminal; nothing when not a terminal."""
    if not sys.stderr.isatty():
        yield lambda done, total: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def run_ls(args: argparse.Namespace) -> int:
    with FilesClient(args.address, timeout=args.timeout) as files:
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


def run_get(args: argparse.Namespace) -> int:
    name = Path(args.path).name
    dest = Path(args.output) if args.output else Path(name)
    if dest.is_dir():
        dest = dest / name
    with FilesClient(args.address, timeout=args.timeout) as files, progress_bar(name) as bar:
        header = files.get(args.path, dest, resume=args.resume, progress=bar)
    print(f"{dest}: {header['size']} bytes, sha256 {header['sha256']}", file=sys.stderr)
    return 0


def run_put(args: argparse.Namespace) -> int:
    with FilesClient(args.address, timeout=args.timeout) as files, \
            progress_bar(Path(args.file).name) as bar:
        reply = files.put(args.file, args.name, progress=bar)
    print(f"stored {reply['stored']}: {reply['size']} bytes, sha256 {reply['sha256']}",
          file=sys.stderr)
    return 0
