"""From ``SERVICE@ADDRESS`` arguments and TOML files to validated bindings.

A binding argument is ``SERVICE[@ADDRESS]``; without an address a built-in service
gets every default address (PROTOCOLS.md). The address is split off at the last
``@scheme:``, so ``echo@unix:@name`` and ``exec:grep -h @x@tcp://127.0.0.1:7`` both work.

The TOML file::

    model = "select"            # default model for every binding
    [limits]                    # default limits (names as in hosepipe.limits.Limits)
    idle_timeout = 60
    [[bind]]
    service = "echo"
    address = "tcp://127.0.0.1:7007"   # optional for built-ins
    model = "thread"                   # optional
    authkey_file = "~/.hosepipe.key"   # optional: require the multiprocessing challenge
    cert = "server.pem"                # for tls:// addresses (key = ..., ca = ...,
                                       # verify_client = true for mutual TLS)
    prefix = "Echo=>"                  # any other key is a service option
    [bind.limits]                      # optional per-binding limits
    max_line = 1024
"""

from __future__ import annotations

import os
import re
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hosepipe.address import parse_address, schemes
from hosepipe.errors import ConfigError, UsageError
from hosepipe.limits import Limits
from hosepipe.servers.base import Binding
from hosepipe.services import BUILTINS, DEFAULT_ADDRESSES, make_service
from hosepipe.transports.tls import server_context

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "BindSpec", "ServeConfig", "build_bindings", "load_config", "parse_bind_arg", "read_authkey",
]

_SPLIT = re.compile(r"@(?=(?:{}|fifo|serial):)".format("|".join(schemes())))


@dataclass(frozen=True)
class BindSpec:
    """One binding as written by the user, before anything is built."""

    service: str
    address: str | None = None
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServeConfig:
    model: str | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    binds: tuple[BindSpec, ...] = ()


def parse_bind_arg(text: str) -> BindSpec:
    """``SERVICE[@ADDRESS]`` from the command line."""
    matches = list(_SPLIT.finditer(text))
    if not matches:
        if not text:
            raise UsageError("empty binding; write SERVICE[@ADDRESS]")
        return BindSpec(text)
    at = matches[-1].start()
    service, address = text[:at], text[at + 1 :]
    if not service:
        raise UsageError(f"{text!r}: no service before '@'")
    return BindSpec(service, address)


def load_config(path: str | Path) -> ServeConfig:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    unknown = set(data) - {"model", "limits", "bind"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    binds = []
    for index, raw in enumerate(data.get("bind", []), 1):
        table = dict(raw)
        if "service" not in table:
            raise ConfigError(f"{path}: [[bind]] number {index} has no service")
        binds.append(BindSpec(
            service=str(table.pop("service")),
            address=table.pop("address", None),
            model=table.pop("model", None),
            limits=dict(table.pop("limits", {})),
            options=table,
        ))
    return ServeConfig(data.get("model"), dict(data.get("limits", {})), tuple(binds))


def default_binds() -> list[BindSpec]:
    """Every built-in service on every default address."""
    return [BindSpec(name) for name in BUILTINS]


def read_authkey(path: str | None) -> bytes | None:
    """The key in ``path`` (one trailing newline dropped), else $HOSEPIPE_AUTHKEY, else None."""
    key: bytes | None
    if path:
        try:
            key = Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the authkey file {path}: {exc.strerror}") from exc
        key = key[:-1] if key.endswith(b"\n") else key
    else:
        key = os.environ.get("HOSEPIPE_AUTHKEY", "").encode() or None
    if key is not None and len(key) < 16:
        raise ConfigError("an authkey must be at least 16 bytes long")
    return key


@dataclass(frozen=True)
class TlsFiles:
    """Where a tls:// binding's certificate, key and client CA are."""

    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    verify_client: bool = False

    def context(self) -> ssl.SSLContext | None:
        if self.cert is None:
            return None
        return server_context(self.cert, self.key, ca=self.ca, verify_client=self.verify_client)


def build_bindings(specs: list[BindSpec], *, model: str, limits: Limits,
                   authkey: bytes | None = None, allow_md5: bool = True,
                   tls: TlsFiles = TlsFiles(), udp_no_amplify: bool = False) -> list[Binding]:
    """Make the services and parse the addresses; every error names the binding."""
    bindings = []
    for spec in specs:
        options = dict(spec.options)
        key = read_authkey(options.pop("authkey_file")) if "authkey_file" in options else authkey
        no_amplify = bool(options.pop("udp_no_amplify", udp_no_amplify))
        tls_files = TlsFiles(
            cert=options.pop("cert", tls.cert), key=options.pop("key", tls.key),
            ca=options.pop("ca", tls.ca), verify_client=options.pop("verify_client",
                                                                     tls.verify_client))
        service = make_service(spec.service, options)
        if spec.address is not None:
            addresses: tuple[str, ...] = (spec.address,)
        elif spec.service in DEFAULT_ADDRESSES:
            addresses = DEFAULT_ADDRESSES[spec.service]
        else:
            raise ConfigError(f"{spec.service!r} has no default address; write SERVICE@ADDRESS")
        binding_limits = limits.updated(**spec.limits)
        for text in addresses:
            address = parse_address(text)
            if key is not None and address.is_datagram:
                raise ConfigError(f"{spec.service}@{text}: a datagram binding cannot run the "
                                  "authkey challenge; serve it over a stream address only")
            bindings.append(Binding(
                tls=tls_files.context() if address.scheme == "tls" else None,
                service=service,
                address=address,
                model=spec.model or model,
                limits=binding_limits,
                label=spec.service if spec.service in BUILTINS else service.name,
                authkey=key,
                allow_md5=allow_md5,
                no_amplify=no_amplify,
            ))
    return bindings
