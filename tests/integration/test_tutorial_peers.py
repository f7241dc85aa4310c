"""hosepipe's clients against the tutorials' own servers (tests/peers), without flags.

The tutorials' servers answer without newlines, never close, or speak only the
classic getfile protocol; each test here failed (timed out, printed nothing, or could
not fetch) before the clients learnt to tell a whole reply without a newline.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hosepipe import classic
from tests.conftest import run_cli
from tests.peers import start_peer

CTIME = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}"
LONG = "30"  # the clients' own timeout: a test that waited for it would hit run_cli's


def test_square_against_the_bare_squares_server() -> None:
    with start_peer("squares") as peer:
        result = run_cli("square", "-a", peer.address, "-t", LONG, "3", "-12", "99", timeout=20)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "Hello. Nice to see you.\n9\n144\n9801\n"
        assert "Server heard ' b'Hi there!\\n' '" in peer.output()


def test_a_crashing_tutorial_server_is_an_error() -> None:
    with start_peer("squares") as peer:  # int(b"abc") raises: the tutorial server dies
        result = run_cli("square", "-a", peer.address, "abc", timeout=20)
        assert result.returncode == 1
        assert "closed the connection before answering" in result.stderr


def test_daytime_against_the_time_server() -> None:
    with start_peer("timeserver") as peer:
        result = run_cli("daytime", "-a", peer.address, timeout=20)
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(CTIME + "\n", result.stdout)


def test_echo_against_the_forking_server_that_never_closes() -> None:
    with start_peer("echo_fork") as peer:
        result = run_cli("echo", "-a", peer.address, "-t", LONG, "hello", "world", timeout=20)
        assert result.returncode == 0, result.stderr
        assert re.fullmatch(r"Echo=>b'hello world\\n' at " + CTIME + "\n", result.stdout)


def test_echo_against_the_prefix_echo_server() -> None:
    with start_peer("echo_basic") as peer:
        assert classic.echo(peer.address, "hello world", timeout=30) == "Echo =>hello world"


def test_upper_against_the_interactive_chat_server() -> None:
    typed = "KNIGHTS\nWHO SAY NI\n"  # what the person at the server types
    with start_peer("upper_chat", stdin=typed) as peer:
        result = run_cli("upper", "-a", peer.address, "-t", LONG, "knights", "who say ni",
                         timeout=20)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "KNIGHTS\nWHO SAY NI\n"
        assert peer.output().count("type message: ") == 2
        assert "from connected user: who say ni\n" in peer.output()  # sent bare, as typed


def test_ni_against_the_bare_ni_server() -> None:
    with start_peer("ni_server") as peer:
        replies = list(classic.ni(peer.address, ["The Knights who say Ni!", "again"], timeout=30))
    # the first message went as a line (the server echoes its newline inside the reply);
    # once the server had answered bare, the next went bare too
    assert replies == ["Ni!\nThe Knights who say Ni!\n\nNi!", "Ni!\nagain\nNi!"]


def test_lines_mode_waits_for_newlines() -> None:
    with start_peer("squares") as peer:
        result = run_cli("square", "-a", peer.address, "--lines", "-t", "1", "3", timeout=20)
        assert result.returncode == 1
        assert "nothing received for 1 s" in result.stderr


@pytest.fixture
def served(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "report.bin").write_bytes(bytes(range(256)) * 1500)
    return root


def test_get_falls_back_to_the_classic_getfile_server(served: Path, tmp_path: Path) -> None:
    with start_peer("getfile", cwd=served) as peer:
        result = run_cli("get", "-a", peer.address, "docs/report.bin", "-o", str(tmp_path),
                         timeout=30)
        assert result.returncode == 0, result.stderr
        assert "does not speak hosepipe's framed protocol" in result.stderr
        assert "no checksum, no resume" in result.stderr
        assert (tmp_path / "report.bin").read_bytes() == (served / "docs/report.bin").read_bytes()
        assert not (tmp_path / "report.bin.part").exists()


def test_get_classic_to_stdout_and_a_missing_file(served: Path, tmp_path: Path) -> None:
    with start_peer("getfile", cwd=served) as peer:
        out = run_bytes("get", "-a", peer.address, "--classic", "docs/report.bin", "-o", "-")
        assert out == (served / "docs/report.bin").read_bytes()
        result = run_cli("get", "-a", peer.address, "--classic", "docs/nothing.bin",
                         "-o", str(tmp_path / "nothing.bin"))
        assert result.returncode == 1
        assert "sent nothing" in result.stderr
        assert list(tmp_path.iterdir()) == [served.parent / "root"]


def test_ls_against_a_getfile_server_says_why_not(served: Path) -> None:
    with start_peer("getfile", cwd=served) as peer:
        result = run_cli("ls", "-a", peer.address, timeout=30)
        assert result.returncode == 1
        assert "cannot list directories" in result.stderr


def run_bytes(*args: str) -> bytes:
    result = subprocess.run([sys.executable, "-m", "hosepipe", *args], capture_output=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_upper_through_a_program_that_answers_at_the_end_of_its_input() -> None:
    result = run_cli("upper", "-a", "exec:tr a-z A-Z", "-t", LONG, "knights", "who say ni",
                     timeout=20)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "KNIGHTS\nWHO SAY NI\n"


def test_echo_and_daytime_through_programs() -> None:
    assert classic.echo("exec:cat", "hello", timeout=30) == "hello"
    assert re.fullmatch(CTIME, classic.daytime("exec:date '+%a %b %e %H:%M:%S %Y'",
                                               timeout=30))
