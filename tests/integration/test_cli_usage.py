"""Exit status and errors of the command line: usage errors exit 2 and say what is wrong;
values take units; -v/-q go anywhere; service options have a command-line form."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from hosepipe import classic
from hosepipe.cli import main
from tests.conftest import run_cli, start_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["square", "-t", "-1", "3"], "must be positive"),
        (["square", "-t", "soon", "3"], "is not a timeout"),
        (["echo", "-a", "tcp://127.0.0.1", "x"], "HOST:PORT"),
        (["serve", "echo@foo://x"], "unknown address scheme 'foo'"),
        (["serve", "nosuchservice@tcp://127.0.0.1:0"], "unknown service"),
        (["serve", "echo@tcp://127.0.0.1:0", "--max-frame", "lots"], "is not a size"),
        (["serve", "echo@tcp://127.0.0.1:0", "--max-line", "0"], "must be a positive"),
        (["serve", "echo@tcp://127.0.0.1:0", "-o", "echo.nope=1"], "no option 'nope'"),
        (["serve", "square@tcp://127.0.0.1:0", "-o", "square.max_digits=many"],
         "expected an integer"),
        (["serve", "echo@tcp://127.0.0.1:0", "-o", "files.root=/tmp"], "no binding of 'files'"),
        (["serve", "echo@tcp://127.0.0.1:0", "--no-such-flag"], "unrecognized arguments"),
        (["serve", "echo@udp://127.0.0.1:0", "--workers", "0"], "at least 1"),
        (["square", "--authkey-file", "/nonexistent/key", "3"], "cannot read the authkey"),
        (["get", "x", "--classic", "--framed"], "not allowed with"),
    ],
)
def test_usage_errors_exit_2_and_say_why(args: list[str], says: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_main_returns_argparse_status_instead_of_exiting(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    assert main(["--version"]) == 0
    assert main(["square"]) == 2  # N is required
    assert "required" in capsys.readouterr().err


def test_zero_timeout_means_no_timeout() -> None:
    server = start_server("square@tcp://127.0.0.1:0")
    try:
        for value in ("0", "none"):
            result = run_cli("square", "-a", server.address("square"), "-t", value, "3")
            assert result.returncode == 0, result.stderr
            assert result.stdout == "Hello. Nice to see you.\n9\n"
    finally:
        assert server.stop() == 0


def test_error_reply_goes_to_stderr_and_exits_1() -> None:
    server = start_server("square@tcp://127.0.0.1:0")
    try:
        result = run_cli("square", "-a", server.address("square"), "3", "abc", "4")
        assert result.returncode == 1
        assert result.stdout == "Hello. Nice to see you.\n9\n16\n"  # the rest still answered
        assert result.stderr == "error: not an integer: 'abc'\n"
    finally:
        assert server.stop() == 0


def test_refused_connection_exits_1() -> None:
    result = run_cli("daytime", "-a", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.startswith("hosepipe: error: cannot connect")


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_and_quiet_go_before_or_after_the_subcommand(where: str) -> None:
    server = start_server("echo@tcp://127.0.0.1:0")
    try:
        args = ["echo", "-a", server.address("echo"), "hi"]
        quiet = ["-q", *args] if where == "before" else [*args[:1], "-q", *args[1:]]
        verbose = ["-v", *args] if where == "before" else [*args, "-v"]
        for flags in (quiet, verbose):
            result = run_cli(*flags)
            assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
    finally:
        assert server.stop() == 0


def test_serve_takes_quiet_after_the_subcommand() -> None:
    server = start_server("-q", "daytime@tcp://127.0.0.1:0", expect=1)  # `hosepipe serve -q`
    try:
        classic.daytime(server.address("daytime"))
    finally:
        assert server.stop() == 0
    assert " INFO " not in server.log()  # connections are logged at INFO


def test_sizes_take_units_and_are_enforced() -> None:
    server = start_server("upper@tcp://127.0.0.1:0", "--max-line", "1KiB")
    try:
        assert list(classic.upper(server.address("upper"), ["a" * 1000])) == ["A" * 1000]
        replies = list(classic.upper(server.address("upper"), ["a" * 1100]))
        assert replies == ["error: line longer than the limit of 1024 bytes"]
    finally:
        assert server.stop() == 0


def test_help_shows_defaults_readably() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "(default 1 MiB)" in text  # --max-frame
    assert "(default 64 KiB)" in text  # --max-line
    assert "1048576" not in text
    assert "-o SERVICE.KEY=VALUE" in text and "hosepipe services" in text


def test_echo_prefix_from_the_command_line() -> None:
    server = start_server("echo@tcp://127.0.0.1:0", "-o", "echo.prefix=Echo=>")
    try:
        assert classic.echo(server.address("echo"), "hello") == "Echo=>hello"
    finally:
        assert server.stop() == 0


def test_option_without_service_name_when_one_service_is_bound() -> None:
    server = start_server("square@tcp://127.0.0.1:0", "-o", "max_digits=3")
    try:
        replies = list(classic.square(server.address("square"), ["999", "1000"]))
        assert replies[1:] == ["998001", "error: integer has 4 digits; the limit is 3"]
    finally:
        assert server.stop() == 0


def test_options_are_typed_from_the_constructor(tmp_path: Path) -> None:
    (tmp_path / ".hidden.txt").write_text("seen\n")
    server = start_server("files@tcp://127.0.0.1:0", "-o", f"files.root={tmp_path}",
                          "-o", "files.hidden=yes", "-o", "files.max_upload=2KiB")
    try:
        result = run_cli("ls", "-a", server.address("files"), "--json")
        assert [item["name"] for item in json.loads(result.stdout)] == [".hidden.txt"]
    finally:
        assert server.stop() == 0
    result = run_cli("serve", "files@tcp://127.0.0.1:0", "-o", "files.hidden=perhaps")
    assert result.returncode == 2
    assert "expected yes or no" in result.stderr


def test_services_lists_every_option_with_default_and_meaning() -> None:
    result = run_cli("services")
    assert result.returncode == 0
    text = result.stdout
    for line in ("-o echo.prefix=... (text, default none)",
                 "-o square.max_digits=... (integer, default 4300)",
                 "-o files.max_upload=... (size, default 1GiB)",
                 "-o files.hidden=... (yes/no, default no)", "-o book.db=..."):
        assert line in text
    assert "Echo=>" in text  # the meaning, from the constructor's docstring
    infos = {info["name"]: info for info in json.loads(run_cli("services", "--json").stdout)}
    assert set(infos) == {"echo", "daytime", "time", "square", "upper", "ni", "book", "files",
                          "room"}
    assert infos["daytime"]["options"] == []
    assert infos["echo"]["addresses"] == ["tcp://127.0.0.1:50007", "udp://127.0.0.1:50007"]


def test_services_describes_a_users_class() -> None:
    result = run_cli("services", "tests.integration.user_services:Countdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("tests.integration.user_services:Countdown")


def test_framed_error_replies_exit_1(tmp_path: Path) -> None:
    server = start_server("files@tcp://127.0.0.1:0", "--root", str(tmp_path))
    try:
        for args in (["get", "missing.txt", "-o", str(tmp_path / "x")], ["ls", "nodir"],
                     ["put", __file__]):
            result = run_cli(*args[:1], "-a", server.address("files"), *args[1:])
            assert result.returncode == 1, args
            assert result.stderr.startswith("hosepipe: error: "), result.stderr
    finally:
        assert server.stop() == 0
