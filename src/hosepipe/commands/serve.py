"""``hosepipe serve``: the superserver from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hosepipe.address import StdioAddress
from hosepipe.commands import Handler, Subparsers
from hosepipe.commands.common import size_arg
from hosepipe.config import (
    BindSpec,
    TlsFiles,
    build_bindings,
    default_binds,
    load_config,
    parse_bind_arg,
    read_authkey,
)
from hosepipe.errors import UsageError
from hosepipe.limits import Limits
from hosepipe.options import apply_option_args
from hosepipe.servers import MODELS, Superserver
from hosepipe.servers.base import Bound
from hosepipe.servers.prefork import serve_until_stopped
from hosepipe.services import DEFAULT_ADDRESSES
from hosepipe.units import format_size

__all__ = ["add_parsers"]

SERVICE_FLAGS: dict[str, tuple[str, tuple[str, str]]] = {
    "db": ("book", ("URL", "sqlite:///PATH or postgresql://... "
                    "(default: SQLite in ~/.local/share/hosepipe)")),
    "root": ("files", ("DIR", "the directory served (default ~/.local/share/hosepipe/public)")),
    "uploads": ("files", ("DIR", "where put stores files (default: no uploads)")),
    "max_upload": ("files", ("SIZE", "largest upload, e.g. 2GiB (default 1 GiB)")),
    "hidden": ("files", ("store_true", "serve and list hidden (dot) files too")),
}
"""Shortcuts for common service options: ``--root DIR`` is ``-o files.root=DIR``."""

Kind = Callable[[str], Any]
LIMIT_FLAGS: dict[str, tuple[Kind, str]] = {
    "max_connections": (int, "connections at once per binding"),
    "max_per_client": (int, "connections at once from one IP address, per binding"),
    "max_frame": (size_arg, "largest frame payload (bytes, or 64KiB, 1MiB...)"),
    "max_line": (size_arg, "longest classic message or line (bytes, or 4KiB...)"),
    "idle_timeout": (float, "close a connection silent for this many seconds"),
    "message_timeout": (float, "drop a peer whose message is not whole after this many seconds"),
    "send_timeout": (float, "close a peer that accepts no data for this many seconds"),
    "pause": (float, "with --keep-pausing: quiet seconds that end an unterminated "
              "classic message"),
    "keep_pausing": (bool, "end every bare classic message by the pause, not by the "
                     "receive it came in (for peers that send a message in pieces)"),
    "high_water": (size_arg, "output queued per connection before the server stops "
                   "reading from it and answering its pipelined requests (bytes, or 256KiB)"),
    "threads": (int, "worker threads of the thread model"),
    "thread_idle": (float, "seconds after which an idle worker thread ends"),
    "worker_rest": (float, "thread model: seconds a quiet connection keeps its worker "
                    "before it waits in the loop again"),
    "grace": (float, "seconds in-flight conversations get on SIGTERM/SIGINT"),
    "handshake_timeout": (float, "seconds for each step of the authkey challenge"),
    "max_preauth": (size_arg, "largest message before the authkey challenge is passed"),
    "udp_rate": (float, "datagrams answered per second per source address"),
}

EPILOG = """\
service options:
  -o SERVICE.KEY=VALUE sets an option of every binding of SERVICE (KEY=VALUE alone
  when one service is bound); `hosepipe services` lists each service's options.

examples:
  hosepipe serve                                   every built-in service, default ports
  hosepipe serve square@tcp://127.0.0.1:0          port 0: the port chosen is printed
  hosepipe serve 'echo@tcp://127.0.0.1:7007' -o echo.prefix='Echo=>'
  hosepipe serve files --root ~/public --max-upload 2GiB --uploads ~/incoming
  hosepipe serve upper@stdio:                      one conversation on stdin/stdout

Sizes take units (4096, 64KiB, 1MiB, 2GiB, 500MB); times are seconds."""


def _meta(name: str, kind: Kind) -> str:
    if name == "udp_rate":
        return "PER_SECOND"
    return "SIZE" if kind is size_arg else "N" if kind is int else "SECONDS"


def _shown(name: str, value: float, kind: Kind) -> str:
    if kind is size_arg:
        return format_size(value)
    return f"{value:g}" + ("/s" if name == "udp_rate" else "" if kind is int else " s")


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    defaults = Limits()
    lines = [f"  {name:<8} {', '.join(addresses)}" for name, addresses in DEFAULT_ADDRESSES.items()]
    p = sub.add_parser(
        "serve", help="run the superserver", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve services on addresses, many in one process.\n\n"
        "BINDING is SERVICE[@ADDRESS]. SERVICE is a built-in name, package.module:Class,\n"
        "exec:COMMAND (run per connection, the socket as its stdin/stdout), or\n"
        "relay:ADDRESS (each connection relayed to a new connection to ADDRESS).\n"
        "With no BINDING and no --config, every built-in service is served on its\n"
        "default addresses:\n" + "\n".join(lines),
    )
    p.add_argument("bindings", nargs="*", metavar="BINDING")
    p.add_argument("-m", "--model", choices=MODELS, help="server model (default: select)")
    p.add_argument("-c", "--config", metavar="FILE", help="TOML file of [[bind]] tables")
    p.add_argument("-o", "--option", action="append", default=[], metavar="SERVICE.KEY=VALUE",
                   help="a service option, e.g. -o echo.prefix='Echo=>' (see: hosepipe "
                   "services)")
    p.add_argument("-w", "--workers", type=int, default=1, metavar="N",
                   help="serve from N pre-forked processes sharing the sockets (default 1)")
    auth = p.add_argument_group("authentication")
    auth.add_argument("--authkey-file", metavar="FILE", help="require the multiprocessing "
                      "authkey challenge with the key in FILE (or set HOSEPIPE_AUTHKEY)")
    auth.add_argument("--no-legacy-md5", action="store_true", help="refuse peers that answer "
                      "with HMAC-MD5 (the standard library of Python 3.10 and 3.11 does)")
    p.add_argument("--udp-no-amplify", action="store_true", help="never answer a datagram "
                   "with more bytes than it carried, not even for daytime and time (whose "
                   "RFC 867/868 clients send empty datagrams)")
    tls = p.add_argument_group("TLS (for tls:// addresses)")
    tls.add_argument("--cert", metavar="FILE", help="the server's certificate chain (PEM)")
    tls.add_argument("--key", metavar="FILE", help="its private key, if not in --cert")
    tls.add_argument("--ca", metavar="FILE", help="CA certificates for client certificates")
    tls.add_argument("--verify-client", action="store_true",
                     help="mutual TLS: require a client certificate signed by --ca")
    group = p.add_argument_group("service option shortcuts (every binding of that service)")
    for flag, (service, (meta, help_text)) in SERVICE_FLAGS.items():
        how: dict[str, Any] = ({"action": "store_true"} if meta == "store_true" else
                               {"metavar": meta})
        group.add_argument("--" + flag.replace("_", "-"), help=f"{service}: {help_text}", **how)
    group = p.add_argument_group("limits (per binding; a config file may set them too)")
    for name, (kind, text) in LIMIT_FLAGS.items():
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            group.add_argument(flag, action="store_true", default=None, help=text)
            continue
        shown = _shown(name, getattr(defaults, name), kind)
        group.add_argument(flag, type=kind, metavar=_meta(name, kind),
                           help=f"{text} (default {shown})")
    return {"serve": _serve}


def _shortcuts(args: argparse.Namespace, specs: list[BindSpec]) -> list[str]:
    """The SERVICE_FLAGS given, as ``SERVICE.KEY=VALUE`` assignments; a shortcut for a
    service that is not bound is ignored (``--root`` with only echo bound)."""
    bound = {spec.service for spec in specs}
    return [f"{service}.{flag}={'yes' if value is True else value}"
            for flag, (service, _) in SERVICE_FLAGS.items()
            if (value := getattr(args, flag)) and service in bound]


def _limits(args: argparse.Namespace, base: dict[str, object]) -> Limits:
    flags = {name: getattr(args, name) for name in LIMIT_FLAGS}
    return Limits().updated(**base).updated(**flags)


def _serve(args: argparse.Namespace) -> int:
    config = load_config(args.config) if args.config else None
    specs: list[BindSpec] = [parse_bind_arg(text) for text in args.bindings]
    if config is not None:
        specs = list(config.binds) + specs
    if not specs:
        specs = default_binds()
    specs = apply_option_args(specs, [*_shortcuts(args, specs), *args.option])
    model = args.model or (config.model if config and config.model else "select")
    limits = _limits(args, config.limits if config else {})
    bindings = build_bindings(specs, model=model, limits=limits,
                              authkey=read_authkey(args.authkey_file),
                              allow_md5=not args.no_legacy_md5,
                              tls=TlsFiles(args.cert, args.key, args.ca, args.verify_client),
                              udp_no_amplify=args.udp_no_amplify)
    if any(isinstance(b.address, StdioAddress) for b in bindings) and len(bindings) > 1:
        raise UsageError("stdio: serves exactly one binding, alone")
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")

    def announce(bound: list[Bound]) -> None:
        for one in bound:
            if not isinstance(one.address, StdioAddress):  # stdout is its stream: no line
                print(f"{one.label:<10} {one.local:<32} {one.model}", flush=True)

    serve_until_stopped(Superserver(bindings), args.workers, announce)
    return 0
