"""``hosepipe gui [-a ADDRESS] [--form]``: open the file client (or the getfile form).

Before any window: a missing ``DISPLAY`` or one that cannot be opened, and a Python
without tkinter, are one line each (``hosepipe: error: no display (...)``, exit 1),
not a Tk traceback.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from hosepipe.commands import Handler, Subparsers
from hosepipe.errors import HosepipeError
from hosepipe.files.client import DEFAULT_ADDRESS

__all__ = ["HELLO_TIMEOUT", "add_parsers", "open_display", "run_gui"]

HELLO_TIMEOUT = 3.0  # seconds --form waits for the framed hello before trying classic

EXAMPLES = f"""\
examples:
  hosepipe gui                    the file client (the last server, else {DEFAULT_ADDRESS})
  hosepipe gui -a tls://files.example:50001 --ca ca.pem
  hosepipe gui --form             the chapter's getfile form: Server, Port, File
  hosepipe gui --form -a 127.0.0.1:50001 -d ~/Downloads

The connect bar, the local folder and the form's fields are remembered in
$XDG_CONFIG_HOME/hosepipe/gui.json (~/.config/hosepipe/gui.json).
"""


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser("gui", help="the file service in a window (tkinter)",
                       description="The file service in a window: browse, download (resumable,"
                       " verified)\nand upload; or, with --form, the chapter's getfile form.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-a", "--address", help="the file server (default: the last one used, "
                   f"else {DEFAULT_ADDRESS})")
    p.add_argument("--form", action="store_true",
                   help="the getfile form (Server, Port, File) instead of the full client")
    p.add_argument("-t", "--timeout", type=seconds, default=30.0,
                   help="seconds without progress before a transfer fails (default 30)")
    p.add_argument("--authkey-file", metavar="FILE", help="answer the server's authkey challenge")
    p.add_argument("--ca", metavar="FILE", help="the CA that signed a tls:// server's certificate")
    p.add_argument("-d", "--dir", metavar="DIR", help="the local folder for downloads")
    p.add_argument("--hello-timeout", type=seconds, default=HELLO_TIMEOUT, metavar="SECONDS",
                   help="--form: how long the framed protocol may take to answer before the "
                   f"classic one is tried (default {HELLO_TIMEOUT:g})")
    return {"gui": run_gui}


def open_display() -> Any:
    """A Tk root window, or a :class:`HosepipeError` that says why there is none."""
    display = os.environ.get("DISPLAY")
    if not display:
        raise HosepipeError("no display (DISPLAY is not set; run it in a desktop session, "
                            "over ssh -X, or under xvfb-run)")
    try:
        import tkinter  # noqa: PLC0415 - a missing tkinter is an error message
    except ImportError as exc:
        raise HosepipeError(f"tkinter is not available ({exc}); on Debian or Ubuntu: "
                            "apt install python3-tk") from exc
    try:
        return tkinter.Tk(className="Hosepipe")
    except tkinter.TclError as exc:
        raise HosepipeError(f"no display (cannot open DISPLAY={display}: {exc})") from exc


def run_gui(args: argparse.Namespace) -> int:
    # the windows import tkinter: only once we know there is a display to show them on
    from hosepipe.gui import settings as store  # noqa: PLC0415
    from hosepipe.gui.app import ClientWindow  # noqa: PLC0415
    from hosepipe.gui.getfile import GetfileForm  # noqa: PLC0415

    root = open_display()
    settings = store.load()
    if args.form:
        form = GetfileForm(root, settings, address=args.address, timeout=args.timeout,
                           hello_timeout=args.hello_timeout, authkey_file=args.authkey_file
                           or "", ca_file=args.ca or "", folder=args.dir)
        return form.shell.run()
    window = ClientWindow(root, settings, address=args.address, timeout=args.timeout,
                          authkey_file=args.authkey_file, ca_file=args.ca, folder=args.dir)
    return window.shell.run()
