from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hosepipe.address import ExecAddress, InetAddress, UnixAddress, parse_address
from hosepipe.cli import COMMANDS, build_parser
from hosepipe.config import BindSpec, build_bindings, load_config, parse_bind_arg
from hosepipe.errors import AddressError, ConfigError
from hosepipe.limits import Limits
from hosepipe.services import BUILTINS, make_service


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://127.0.0.1:7", InetAddress("tcp", "127.0.0.1", 7)),
        ("127.0.0.1:7", InetAddress("tcp", "127.0.0.1", 7)),
        ("localhost:0", InetAddress("tcp", "localhost", 0)),
        ("tcp://[::1]:8080", InetAddress("tcp", "::1", 8080)),
        ("udp://127.0.0.1:13", InetAddress("udp", "127.0.0.1", 13)),
        ("unix:///tmp/x.sock", UnixAddress("/tmp/x.sock")),
        ("unix:@hosepipe", UnixAddress("hosepipe", abstract=True)),
        ("exec:tr a-z 'A-Z'", ExecAddress(("tr", "a-z", "A-Z"))),
    ],
)
def test_addresses_parse(text: str, expected: object) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["tcp://[::1]:8080", "unix:@x", "udp://127.0.0.1:1", "pipe:"])
def test_addresses_print_back(text: str) -> None:
    assert str(parse_address(text)) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tcp://127.0.0.1", "HOST:PORT"),
        ("tcp://127.0.0.1:99999", "out of range"),
        ("tcp://h:http", "not a number"),
        ("tcp://::1:80", "brackets"),
        ("unix:", "unix:///PATH"),
        ("unix:@", "name"),
        ("exec:", "needs a command"),
        ("foo://x", "unknown address scheme 'foo'"),
        ("nonsense", "not an address"),
        ("unix://" + "x" * 120, "107"),
    ],
)
def test_bad_addresses_say_why(text: str, reason: str) -> None:
    with pytest.raises(AddressError, match=reason):
        parse_address(text)


@pytest.mark.parametrize(
    ("text", "service", "address"),
    [
        ("echo", "echo", None),
        ("echo@tcp://127.0.0.1:0", "echo", "tcp://127.0.0.1:0"),
        ("echo@unix:@name", "echo", "unix:@name"),
        ("exec:grep -h @x@tcp://127.0.0.1:7", "exec:grep -h @x", "tcp://127.0.0.1:7"),
        ("pkg.mod:Class@unix:///tmp/s", "pkg.mod:Class", "unix:///tmp/s"),
    ],
)
def test_binding_arguments(text: str, service: str, address: str | None) -> None:
    assert parse_bind_arg(text) == BindSpec(service, address)


def test_builtin_without_address_gets_every_default() -> None:
    bindings = build_bindings([BindSpec("echo")], model="select", limits=Limits())
    assert [str(b.address) for b in bindings] == ["tcp://127.0.0.1:50007", "udp://127.0.0.1:50007"]


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "hosepipe.toml"
    path.write_text(
        'model = "thread"\n[limits]\nidle_timeout = 9\n'
        '[[bind]]\nservice = "echo"\naddress = "tcp://127.0.0.1:0"\nprefix = "E>"\n'
        '[bind.limits]\nmax_line = 99\n'
        '[[bind]]\nservice = "square"\naddress = "tcp://127.0.0.1:0"\nmodel = "fork"\n'
    )
    config = load_config(path)
    assert config.model == "thread"
    limits = Limits().updated(**config.limits)
    bindings = build_bindings(list(config.binds), model=config.model or "", limits=limits)
    assert [(b.label, b.model) for b in bindings] == [("echo", "thread"), ("square", "fork")]
    assert bindings[0].limits.max_line == 99 and bindings[0].limits.idle_timeout == 9
    assert bindings[1].limits.max_line == Limits().max_line
    assert bindings[0].service.prefix == "E>"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[bind]]\naddress='x'\n", "no service"),
        ("colour = 'blue'\n", "unknown top-level"),
        ("[[bind]]\nservice = 'echo'\nbogus = 1\n", "bad options"),
        ("[[bind]]\nservice = 'nosuch'\n", "unknown service"),
        ("this is not toml", "hosepipe.toml"),
    ],
)
def test_bad_config_says_why(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "hosepipe.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=reason):
        config = load_config(path)
        build_bindings(list(config.binds), model="select", limits=Limits())


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigError, match="max_line"):
        Limits(max_line=0)
    with pytest.raises(ConfigError, match="unknown limit"):
        Limits().updated(colour=1)


def test_user_classes_load() -> None:
    service = make_service("tests.unit.test_services:Divider")
    assert service.name == "divide"
    with pytest.raises(ConfigError, match="cannot import"):
        make_service("no_such_module_xyz:Thing")
    with pytest.raises(ConfigError, match="neither"):
        make_service("hosepipe.limits:Limits")


def test_user_class_found_in_the_working_directory(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """As with `python -m` and application servers: a local module:Class just works."""
    (tmp_path / "my_local_service.py").write_text(
        "from hosepipe import MessageService\n"
        "class Hello(MessageService):\n"
        "    name = 'hello'\n"
        "    def handle(self, request):\n"
        "        return 'hello ' + request\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_local_service", raising=False)
    service = make_service("my_local_service:Hello")
    assert service.handle("you") == "hello you"  # type: ignore[attr-defined]


def test_every_builtin_service_has_a_client_command() -> None:
    clients = {"files": "get", "room": "chat"}  # hosepipe chat --room NAME
    build_parser()
    assert all(clients.get(name, name) in COMMANDS for name in BUILTINS)
