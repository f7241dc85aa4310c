"""The built-in services, their default addresses, and loading a service by name.

A service spec is one of:

* a built-in name: ``echo``, ``daytime``, ``time``, ``square``, ``upper``, ``ni``,
  ``book``, ``files``;
* ``package.module:Class``: a user's :class:`~hosepipe.service.Service` subclass
  (instantiated with the binding's options), or a
  :class:`~hosepipe.service.Conversation` subclass (instantiated per connection, with
  the :class:`~hosepipe.service.Context` if its constructor takes one);
* ``exec:COMMAND``: a program run per connection with the socket as stdin/stdout;
* ``relay:ADDRESS``: each connection relayed to a new connection to ADDRESS (as
  ``hosepipe relay --listen`` does).
"""

from __future__ import annotations

import importlib
import inspect
import os
import shlex
import sys
from collections.abc import Callable
from typing import Any

from hosepipe.book.service import Book
from hosepipe.conversations.messages import MessageService
from hosepipe.errors import ConfigError
from hosepipe.files.service import Files
from hosepipe.room.service import Room
from hosepipe.service import Context, Conversation, Service
from hosepipe.services.clocks import Daytime, Time
from hosepipe.services.echo import Echo
from hosepipe.services.program import Program
from hosepipe.services.square import Square
from hosepipe.services.text import Ni, Upper

__all__ = ["BUILTINS", "DEFAULT_ADDRESSES", "MessageService", "Program", "make_service"]

BUILTINS: dict[str, Callable[..., Service]] = {
    "echo": Echo,
    "daytime": Daytime,
    "time": Time,
    "square": Square,
    "upper": Upper,
    "ni": Ni,
    "book": Book,
    "files": Files,
    "room": Room,
}

DEFAULT_ADDRESSES: dict[str, tuple[str, ...]] = {
    "echo": ("tcp://127.0.0.1:50007", "udp://127.0.0.1:50007"),
    "daytime": ("tcp://127.0.0.1:50013", "udp://127.0.0.1:50013"),
    "time": ("tcp://127.0.0.1:50037", "udp://127.0.0.1:50037"),
    "square": ("tcp://127.0.0.1:50008",),
    "upper": ("tcp://127.0.0.1:50002",),
    "ni": ("tcp://127.0.0.1:50009",),
    "book": ("tcp://127.0.0.1:50004",),
    "files": ("tcp://127.0.0.1:50001",),
    "room": ("tcp://127.0.0.1:50003",),
}


class ConversationService(Service):
    """Serves a user's Conversation class, one instance per connection."""

    def __init__(self, cls: type[Conversation]) -> None:
        self.cls = cls
        self.name = cls.__name__  # type: ignore[misc]
        self._takes_context = len(inspect.signature(cls).parameters) >= 1

    def conversation(self, context: Context) -> Conversation:
        return self.cls(context) if self._takes_context else self.cls()  # type: ignore[call-arg]


def _load_class(spec: str) -> Any:
    """Import ``module:Attr``; the working directory is searched first, as ``python -m``
    and application servers (gunicorn, uvicorn) do, so local modules are found."""
    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"service {spec!r}: cannot import {module_name!r}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"service {spec!r}: {module_name} has no {attr!r}") from None
    return target


def make_service(spec: str, options: dict[str, Any] | None = None) -> Service:
    """Build the service that ``spec`` names, with per-binding ``options``."""
    options = dict(options or {})
    if spec.startswith("exec:"):
        try:
            return Program(shlex.split(spec[5:]))
        except ValueError as exc:
            raise ConfigError(f"service {spec!r}: {exc}") from exc
    if spec.startswith("relay:"):
        from hosepipe.tools.relay_service import Relay  # noqa: PLC0415 (rarely wanted)

        if options:
            raise ConfigError(f"service {spec!r} takes no options")
        return Relay(spec[6:])
    if spec in BUILTINS:
        target: Any = BUILTINS[spec]
    elif ":" in spec:
        target = _load_class(spec)
    else:
        known = ", ".join(BUILTINS)
        raise ConfigError(f"unknown service {spec!r}; built in: {known}; "
                          "or module:Class, exec:CMD, relay:ADDRESS")
    if inspect.isclass(target) and issubclass(target, Conversation):
        if options:
            raise ConfigError(f"service {spec!r} is a Conversation and takes no options")
        return ConversationService(target)
    if not (inspect.isclass(target) and issubclass(target, Service)):
        raise ConfigError(f"service {spec!r} is neither a Service nor a Conversation subclass")
    try:
        return target(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"service {spec!r}: bad options {options}: {exc}") from exc
