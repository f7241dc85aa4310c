"""``hosepipe chat``: the command line of :mod:`hosepipe.chat`.

``hosepipe chat ADDRESS`` is the person at the client; ``hosepipe chat --listen
ADDRESS`` the person at the server, who is shown who connected and each line received
(with ``--upper`` also upper-cased, as the tutorial's server shows it);
``hosepipe chat --room NAME`` joins a room of the ``room`` service.
"""

from __future__ import annotations

import argparse
import os
import signal
from types import FrameType

from hosepipe.chat.keyboard import Keyboard, Stopped, open_keyboard
from hosepipe.chat.listen import ChatListener
from hosepipe.chat.session import ChatOptions, Session
from hosepipe.chat.text import EOLS
from hosepipe.commands import Handler, Subparsers
from hosepipe.commands.common import size_arg, timeout_arg
from hosepipe.errors import UsageError
from hosepipe.tools.ends import tolerant
from hosepipe.transports.base import Stream
from hosepipe.transports.connect import connect_stream
from hosepipe.transports.tls import client_context, server_context

__all__ = ["add_parsers"]

ROOM_ADDRESS = "tcp://127.0.0.1:50003"
CLEAN = ("quit", "end of input", "interrupted", "peer left")

EPILOG = """\
Either side may type at any time; lines from the other side appear as they arrive.
q alone on a line, Ctrl-D (end of input) or Ctrl-C leaves; the other side sees the
connection end ("*** peer left"). With --listen, q ends the conversation and waits
for the next person (q again, Ctrl-D or Ctrl-C stops listening).

--listen serves one person at a time. Anyone else who connects meanwhile is refused
with one line ("busy: someone else is chatting; try again later"), unless --queue N
lets up to N of them wait their turn (they are told so in one line).

The wire is plain lines. Received text without a newline (the tutorial's programs send
none) is a line after --pause seconds of quiet. --eol says how typed lines end: auto
(default) sends a newline until the peer shows it sends bare messages, then none, as
the tutorial's programs do; lf or crlf for nc and telnet; none always bare.

examples:
  hosepipe chat --listen tcp://127.0.0.1:5001 --upper   # the tutorial's server
  hosepipe chat tcp://127.0.0.1:5001                    # the tutorial's client
  hosepipe chat --listen unix:///tmp/chat.sock --queue 3
  hosepipe chat --listen tls://0.0.0.0:5443 --cert server.pem
  hosepipe chat --room lobby --nick arthur              # the room service (50003)
"""


def add_parsers(sub: Subparsers) -> dict[str, Handler]:
    p = sub.add_parser("chat", help="two people chatting over any stream address",
                       description="Chat line by line with a person (or a program) at the "
                       "other end of ADDRESS, both ways at once.", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("address", nargs="?", metavar="ADDRESS",
                   help="tcp://HOST:PORT (or HOST:PORT), tls://, unix://, fifo://, serial://")
    p.add_argument("-a", "--address", dest="address_option", metavar="ADDRESS",
                   help="the same as ADDRESS (with --room: default " + ROOM_ADDRESS + ")")
    p.add_argument("-l", "--listen", action="store_true",
                   help="be the server: wait at ADDRESS for someone to chat with "
                   "(port 0: the port chosen is printed)")
    p.add_argument("--upper", action="store_true",
                   help="also show each received line upper-cased (the tutorial's server)")
    p.add_argument("--queue", type=int, default=0, metavar="N",
                   help="--listen: up to N others wait their turn while one chats "
                   "(default 0: others are refused)")
    p.add_argument("--once", action="store_true",
                   help="--listen: stop after the first conversation")
    p.add_argument("--eol", choices=EOLS, default="auto",
                   help="how typed lines end on the wire (default auto, see below)")
    p.add_argument("--max-line", type=size_arg, default=64 * 1024, metavar="SIZE",
                   help="the longest line either way; a longer one from the peer ends the "
                   "conversation (default 64KiB)")
    p.add_argument("--pause", type=float, default=0.05, metavar="SECONDS",
                   help="quiet that ends a received message without a newline (default 0.05)")
    p.add_argument("-t", "--timeout", type=timeout_arg, default=10.0, metavar="SECONDS",
                   help="to connect, and for a TLS handshake (default 10)")
    p.add_argument("--send-timeout", type=timeout_arg, default=30.0, metavar="SECONDS",
                   help="end the conversation when the peer accepts nothing for this long "
                   "(default 30)")
    p.add_argument("--linger", type=float, default=1.0, metavar="SECONDS",
                   help="after leaving, how long the peer's last lines are still shown "
                   "(default 1)")
    p.add_argument("--plain", action="store_true",
                   help="plain lines even on a terminal (no line editor, no prompt)")
    tls = p.add_argument_group("TLS (tls:// addresses)")
    tls.add_argument("--cert", metavar="FILE", help="--listen: the certificate chain (PEM)")
    tls.add_argument("--key", metavar="FILE", help="--listen: its key, if not in --cert")
    tls.add_argument("--ca", metavar="FILE", help="the CA that signed the server's "
                     "certificate (default $HOSEPIPE_TLS_CA, else the system's)")
    room = p.add_argument_group("rooms (the room service)")
    room.add_argument("--room", metavar="NAME", help="join room NAME of the room service")
    room.add_argument("--nick", metavar="NAME", help="your nickname in the room "
                      "(default $USER, else guest)")
    return {"chat": run_chat}


def _options(args: argparse.Namespace, **changes: object) -> ChatOptions:
    if args.pause <= 0 or args.linger < 0:
        raise UsageError("--pause must be positive and --linger not negative")
    if args.max_line < 1:
        raise UsageError("--max-line must be at least 1 byte")
    fields: dict[str, object] = {
        "eol": args.eol, "max_line": args.max_line, "pause": args.pause,
        "send_timeout": args.send_timeout, "linger": args.linger, "upper": args.upper}
    fields.update(changes)
    return ChatOptions(**fields)  # type: ignore[arg-type]


def _address(args: argparse.Namespace) -> str:
    if args.address and args.address_option and args.address != args.address_option:
        raise UsageError("give the address once (ADDRESS or -a)")
    address: str | None = args.address or args.address_option
    if address is None and args.room is not None:
        return ROOM_ADDRESS
    if address is None:
        raise UsageError("chat needs an ADDRESS (or --room NAME)")
    return address


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_chat(args: argparse.Namespace) -> int:
    address = _address(args)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM leaves as Ctrl-C does
    if args.listen:
        if args.room is not None:
            raise UsageError("--room joins a room as a client; it does not go with --listen")
        return _listen(args, address)
    if args.cert or args.key:
        raise UsageError("--cert and --key are for --listen tls://")
    tls = tolerant(client_context(ca=args.ca)) if address.startswith("tls:") else None
    stream = connect_stream(address, timeout=args.timeout, tls=tls)
    if args.room is not None:
        options, greeting = _room(args)
    else:
        options, greeting = _options(args), b""
    with open_keyboard(terminal=False if args.plain else None) as keyboard:
        keyboard.show(f"Connected to: {stream.peer} (q, Ctrl-D or Ctrl-C to leave)")
        try:
            reason = Session(stream, keyboard, options, greeting).run()
        except KeyboardInterrupt:
            return 0
    return 0 if reason in CLEAN else 1


def _room(args: argparse.Namespace) -> tuple[ChatOptions, bytes]:
    nick = args.nick or os.environ.get("USER") or "guest"
    for text, what in ((nick, "--nick"), (args.room, "--room")):
        if not text or not text.isprintable() or len(text.encode()) > 64:
            raise UsageError(f"{what} {text!r}: 1 to 64 printable characters")
    # The room first, then the nickname: the nickname is checked in the room it is for,
    # and if it is taken the person types another and still enters that room.
    greeting = f"/join {args.room}\n{nick}\n".encode()
    return _options(args, eol="lf", label="", quit_line=b"/quit\n"), greeting


def _listen(args: argparse.Namespace, address: str) -> int:
    if args.ca:
        raise UsageError("--ca is for the client side (chat ADDRESS)")
    tls = tolerant(server_context(args.cert, args.key)) if args.cert else None
    listener = ChatListener(address, queue_size=args.queue, tls=tls,
                            handshake_timeout=args.timeout or 10.0)
    options = _options(args, label="from connected user: ")
    try:
        print(f"listening on {listener.bound}", flush=True)
        with open_keyboard(terminal=False if args.plain else None) as keyboard:
            return _converse(args, listener, options, keyboard)
    except KeyboardInterrupt:
        return 0
    finally:
        listener.close()


def _converse(args: argparse.Namespace, listener: ChatListener, options: ChatOptions,
              keyboard: Keyboard) -> int:
    """One conversation after another until the end of input (or --once)."""
    listener.notify = keyboard.stop
    while True:
        accepted = _wait_for_someone(listener, keyboard)
        if accepted is None:
            return 0
        stream, peer = accepted
        keyboard.show(f"Connection from: {peer}")
        try:
            reason = Session(stream, keyboard, options).run()
        finally:
            listener.done()
        if args.once or reason == "end of input":
            return 0 if reason in CLEAN else 1
        keyboard.show("*** waiting for the next person (q, Ctrl-D or Ctrl-C to stop)")


def _wait_for_someone(listener: ChatListener, keyboard: Keyboard
                      ) -> tuple[Stream, str] | None:
    """The next peer; the keyboard is read meanwhile: None if the person stops (q or
    the end of input), and a typed line is answered that nobody is there yet."""
    keyboard.reset()  # before looking: an arrival from now on stops the read below
    while (accepted := listener.next()) is None:
        try:
            line = keyboard.read()
        except Stopped:
            continue
        if line is None or line == "q":
            return None
        keyboard.show(f"*** nobody is connected yet (waiting at {listener.bound})")
    return accepted
