"""hosepipe's book beside the tutorial's (tests/peers/addressbook.py), for real.

The same keystrokes at a terminal give the same screen in the tutorial's program and in
``hosepipe book --local``; the ``addbook.dat`` the tutorial's program writes goes
through ``hosepipe book import`` and ``export`` byte for byte; and ``hosepipe book``
uses a plain add/rem/fnd server (the tutorial's server on a socket) by itself.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from hosepipe.book.menu import PROMPTS
from tests.conftest import run_cli, start_server

ROOT = Path(__file__).parents[2]
CHOOSE = "Choose an option[1-4] "

# (prompt answered, what the person types), in order; the session ends with 4
SESSION = [
    (CHOOSE, "1"), *zip(PROMPTS, ["Arthur", "1", "High St, Upper", "Camelot", "555"],
                        strict=True),
    (CHOOSE, "3"), (PROMPTS[0], "Arthur"),
    (CHOOSE, "x"),
    (CHOOSE, "7"),
    (CHOOSE, "1"), *zip(PROMPTS, ["Kay", "", "", "", ""], strict=True),
    (CHOOSE, "3"), (PROMPTS[0], "Kay"),
    (CHOOSE, "3"), (PROMPTS[0], "Nobody"),
    (CHOOSE, "2"), (PROMPTS[0], "Arthur"),
    (CHOOSE, "3"), (PROMPTS[0], "Arthur"),
]

# entries as a person types them: spaces kept, commas, quotes, a tab, other scripts,
# empty fields, a name added twice (the second replaces the first, in its place)
TYPED = [
    ["Arthur", "1", "High St", "Camelot", "555-0100"],
    [" Gawain ", "3", '"Green, Chapel"', "Orkney", ""],
    ["Tristan", "1", "Road", "Tintagel, Cornwall", "555"],
    ["Zoë", "", "Rue\tdu Pont", "Québec", "+1 418"],
    ["Bedivere", "", "", "", ""],
    ["Arthur", "2", "Castle", "Camelot", "555-0101"],
    ["Percival", "12", 'The "Grail" Inn', "Corbenic", "5,5,5"],
]


def spawn(*argv: str, cwd: Path) -> pexpect.spawn:
    return pexpect.spawn(argv[0], list(argv[1:]), cwd=str(cwd), encoding="utf-8",
                         timeout=30, dimensions=(40, 200), env={"PYTHONPATH": str(ROOT),
                                                                "PATH": "/usr/bin:/bin"})


def drive(menu: pexpect.spawn, steps: list[tuple[str, str]]) -> str:
    """Answer each prompt as it appears, quit, and return the whole screen."""
    screen = io.StringIO()
    menu.logfile_read = screen
    try:
        for prompt, typed in steps:
            menu.expect_exact(prompt)
            menu.sendline(typed)
        menu.expect_exact(CHOOSE)
        menu.sendline("4")
        menu.expect(pexpect.EOF)
        menu.wait()
    finally:
        menu.close(force=True)
    assert menu.exitstatus == 0, screen.getvalue()
    return screen.getvalue()


def tutorial(cwd: Path) -> pexpect.spawn:
    return spawn(sys.executable, "-m", "tests.peers.addressbook", cwd=cwd)


def hosepipe_local(cwd: Path) -> pexpect.spawn:
    return spawn(sys.executable, "-m", "hosepipe", "book", "--local", "--db",
                 f"sqlite://{cwd}/book.db", cwd=cwd)


def adds(entries: list[list[str]]) -> list[tuple[str, str]]:
    return [step for fields in entries
            for step in [(CHOOSE, "1"), *zip(PROMPTS, fields, strict=True)]]


def test_the_menu_reads_as_the_tutorials(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "h").mkdir()
    theirs = drive(tutorial(tmp_path / "t"), SESSION)
    ours = drive(hosepipe_local(tmp_path / "h"), SESSION)
    assert "RESULT:  Arthur : 1,High St, Upper,Camelot,555" in theirs
    assert "RESULT:  Kay : ,,," in theirs and "Invalid choice" in theirs
    assert ours == theirs


def test_the_tutorials_addbook_imports_and_exports_byte_for_byte(tmp_path: Path) -> None:
    drive(tutorial(tmp_path), adds(TYPED))
    written = (tmp_path / "addbook.dat").read_bytes()
    assert written.count(b"\n") == 6 and written.startswith(b"Arthur:2,Castle,")
    db = ["--local", "--db", f"sqlite://{tmp_path}/book.db"]
    imported = run_cli("book", *db, "import", str(tmp_path / "addbook.dat"))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == f"Imported 6 entries from {tmp_path}/addbook.dat\n"
    exported = run_cli("book", *db, "export", str(tmp_path / "exported.dat"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "exported.dat").read_bytes() == written
    found = run_cli("book", *db, "find", " Gawain ")
    assert found.stdout == ' Gawain  : 3,"Green, Chapel",Orkney,\n'


def test_import_reports_bad_lines_or_imports_nothing(tmp_path: Path) -> None:
    book = tmp_path / "addbook.dat"
    book.write_bytes(b"Arthur:1,High St,Camelot,555\nno colon here\nKay:1,a,b,c\n"
                     b":1,a,b,c\n")
    db = ["--local", "--db", f"sqlite://{tmp_path}/book.db"]
    strict = run_cli("book", *db, "import", "--strict", str(book))
    assert strict.returncode == 1
    assert f"{book}, line 2: expected NAME:HOUSE,STREET,TOWN,PHONE" in strict.stderr
    assert f"{book}, line 4: name is empty" in strict.stderr
    assert "nothing imported (--strict)" in strict.stderr
    assert run_cli("book", *db, "list").stdout == "(no entries)\n"
    lenient = run_cli("book", *db, "import", str(book))
    assert lenient.returncode == 0
    assert lenient.stdout.endswith("Imported 2 entries from " + str(book)
                                   + "; skipped 2 bad line(s)\n")
    assert lenient.stderr.count(str(book)) == 2
    assert run_cli("book", *db, "list").stdout == "Arthur : 1,High St,Camelot,555\n" \
        "Kay : 1,a,b,c\n"


@pytest.fixture
def plain_server(tmp_path: Path) -> Iterator[str]:
    """The tutorial's server on a socket: a plain add/rem/fnd book, no newlines."""
    with open(tmp_path / "peer.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "tests.peers.addressbook", "serve"],
                                   cwd=tmp_path, stdout=subprocess.PIPE, stderr=log, text=True,
                                   env={"PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"tcp://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_book_falls_back_to_a_plain_server(plain_server: str, tmp_path: Path) -> None:
    added = run_cli("book", "-a", plain_server, "add", "Arthur", "1", "High St, Upper",
                    "Camelot", "555")
    assert added.returncode == 0 and added.stdout == "Added entry for Arthur\n"
    assert "does not speak hosepipe's framed protocol" in added.stderr
    assert "no list, search, update or export" in added.stderr
    found = run_cli("book", "-a", plain_server, "find", "Arthur")
    assert found.stdout == "Arthur : 1,High St, Upper,Camelot,555\n"
    assert (tmp_path / "addbook.dat").read_text() == "Arthur:1,High St, Upper,Camelot,555\n"
    missing = run_cli("book", "-a", plain_server, "--classic", "find", "Nobody")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == "Sorry, no entry for: Nobody\n"  # --classic: no note
    listed = run_cli("book", "-a", plain_server, "list")
    assert listed.returncode == 1
    assert "list needs hosepipe's framed protocol" in listed.stderr
    menu = spawn(sys.executable, "-m", "hosepipe", "book", "-a", plain_server, cwd=ROOT)
    screen = drive(menu, [(CHOOSE, "3"), (PROMPTS[0], "Arthur"), (CHOOSE, "2"),
                          (PROMPTS[0], "Arthur")])
    assert "RESULT:  Arthur : 1,High St, Upper,Camelot,555" in screen
    assert "RESULT:  Deleted entry for Arthur" in screen
    assert (tmp_path / "addbook.dat").read_text() == ""


def test_classic_flag_against_hosepipe(tmp_path: Path) -> None:
    server = start_server("book@tcp://127.0.0.1:0", "--db", f"sqlite://{tmp_path}/b.db")
    try:
        address = server.address("book")
        added = run_cli("book", "-a", address, "--classic", "add", "Kay", "2", "", "", "")
        assert (added.returncode, added.stdout, added.stderr) == (0, "Added entry for Kay\n", "")
        assert run_cli("book", "-a", address, "find", "Kay").stdout == "Kay : 2,,,\n"
    finally:
        assert server.stop() == 0
