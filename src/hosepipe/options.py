"""Service options from the command line: what each service takes, typed and explained.

A service's options are the keyword-only parameters of its constructor
(``Echo(*, prefix="")``). :func:`options_of` reads them by introspection -- name,
type, default -- and takes each one's meaning from the constructor's docstring, where
an option is documented as a line ``NAME: what it does`` (continued on lines indented
deeper). Nothing is listed by hand, so a new option shows up in ``hosepipe services``
and is accepted by ``-o`` as soon as the constructor has it.

Values given as text (``-o square.max_digits=100``) are converted by the parameter's
annotation: ``int`` (an integer), ``bool`` (yes/no, true/false, on/off, 1/0), or text.
An ``int`` option whose default is written as text (``max_upload="1GiB"``) is a size
and takes units (``2GiB``, ``500MB``, see :mod:`hosepipe.units`).

:func:`apply_option_args` applies ``SERVICE.KEY=VALUE`` assignments to the bindings
of that service (``KEY=VALUE`` alone when only one service is bound).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from hosepipe.config import BindSpec
from hosepipe.errors import ConfigError, UsageError
from hosepipe.services import BUILTINS
from hosepipe.units import parse_size

__all__ = ["Option", "apply_option_args", "options_of", "parse_assignment", "service_target"]

_TRUE = ("1", "yes", "true", "on")
_FALSE = ("0", "no", "false", "off")


@dataclass(frozen=True)
class Option:
    """One keyword-only constructor parameter of a service."""

    name: str
    kind: str  # "text", "integer", "yes/no", "size"
    default: Any
    help: str

    def convert(self, text: str) -> Any:
        """``text`` (from the command line) as the value the constructor expects."""
        try:
            return _CONVERTERS[self.kind](text)
        except ValueError:
            raise ConfigError(f"option {self.name}={text!r}: expected {_EXPECTED[self.kind]}"
                              ) from None

    def shown_default(self) -> str:
        if self.default is None or self.default == "":
            return "none"
        if isinstance(self.default, bool):
            return "yes" if self.default else "no"
        return str(self.default)


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(text)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except UsageError as exc:  # reworded by Option.convert
        raise ValueError(text) from exc


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "text": str, "integer": int, "yes/no": _boolean, "size": _size,
}
_EXPECTED = {"text": "text", "integer": "an integer", "yes/no": "yes or no",
             "size": "a size such as 4096, 500MB or 2GiB"}


def _kind(annotation: Any, default: Any) -> str:
    types = set(typing.get_args(annotation)) or {annotation}
    if bool in types:
        return "yes/no"
    if int in types:
        return "size" if isinstance(default, str) else "integer"
    return "text"


def _docs(function: Callable[..., Any]) -> dict[str, str]:
    """``NAME: text`` entries of a docstring (continuation lines joined)."""
    entries: dict[str, str] = {}
    current = None
    for line in inspect.cleandoc(function.__doc__ or "").splitlines():
        match = re.match(r"(\w+):\s+(\S.*)", line)
        if match:
            current = match[1]
            entries[current] = match[2].replace("``", "")
        elif current and line.startswith((" ", "\t")) and line.strip():
            entries[current] += " " + line.strip().replace("``", "")
        else:
            current = None
    return entries


def options_of(target: Callable[..., Any]) -> list[Option]:
    """The options of a service class (its constructor's keyword-only parameters)."""
    init = target.__init__ if inspect.isclass(target) else target
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # an annotation that does not resolve: treat every option as text
        hints = {}
    docs = _docs(init)
    return [
        Option(p.name, _kind(hints.get(p.name, str), p.default),
               None if p.default is p.empty else p.default, docs.get(p.name, ""))
        for p in inspect.signature(init).parameters.values()
        if p.kind is p.KEYWORD_ONLY
    ]


def service_target(spec: str) -> Any:
    """The class a service spec names (``None`` for ``exec:`` programs)."""
    if spec.startswith("exec:"):
        return None
    if spec in BUILTINS:
        return BUILTINS[spec]
    from hosepipe.services import _load_class  # noqa: PLC0415 - the one loader of module:Class

    return _load_class(spec)


def parse_assignment(text: str) -> tuple[str | None, str, str]:
    """``SERVICE.KEY=VALUE`` or ``KEY=VALUE`` as (service or None, key, value)."""
    left, sep, value = text.partition("=")
    service, dot, key = left.rpartition(".")
    if not sep or not key.isidentifier():
        raise ConfigError(f"-o {text!r}: write SERVICE.KEY=VALUE, e.g. -o echo.prefix='Echo=>'")
    return (service if dot else None), key, value


def _typed(spec: str, key: str, value: str) -> Any:
    target = service_target(spec)
    if target is None:
        raise ConfigError(f"-o {spec}.{key}: an exec: service takes no options")
    options = {option.name: option for option in options_of(target)}
    if key not in options:
        known = ", ".join(options) or "none"
        raise ConfigError(f"service {spec!r} has no option {key!r} (its options: {known}); "
                          "see hosepipe services")
    return options[key].convert(value)


def apply_option_args(specs: list[BindSpec], texts: Iterable[str]) -> list[BindSpec]:
    """``specs`` with each ``SERVICE.KEY=VALUE`` applied to every binding of SERVICE."""
    for text in texts:
        service, key, value = parse_assignment(text)
        named = list(dict.fromkeys(s.service for s in specs))
        if service is None:
            if len(named) != 1:
                raise ConfigError(f"-o {text!r}: say which service, as SERVICE.{key}=...; "
                                  f"bound: {', '.join(named)}")
            service = named[0]
        if service not in named:
            raise ConfigError(f"-o {text!r}: no binding of {service!r} (bound: "
                              f"{', '.join(named)})")
        typed = _typed(service, key, value)
        specs = [replace(s, options={**s.options, key: typed}) if s.service == service else s
                 for s in specs]
    return specs
