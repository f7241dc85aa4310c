"""Every example in README.md runs as written: read from the README itself, so a changed
README is tested as it stands.

**The world the README assumes** (the ``world`` fixture): ``make run``'s superserver --
every built-in service -- on free ports (a service's udp binding on the same port
number as its tcp one), a HOME and XDG_DATA_HOME of its own holding
``~/.hosepipe.key``, ``~/public`` and ``~/incoming``, ``docs/report.pdf`` under the served
roots, and ``addbook.dat`` and ``big.iso`` in the working directory.

**Blocks**, one test each, in README order:

* shell blocks (untagged fences): each line is a command, run by bash. In a block with
  ``$`` prompts, the lines after a prompt are its expected output (a time such as
  ``Sat Nov 21 10:00:00 2026`` and a ten-digit number stand for any). Every command must
  exit 0. ``hosepipe serve`` lines start a server that lives until the end of the block,
  on port 0 instead of the port written; the client commands after it in the block
  talk to it. Other default ports (50001-50037), and client commands that rely on
  them, are pointed at the world's superserver. ``/tmp/`` is a private directory.
* ``python`` blocks (and untagged ones that start with ``import``/``from``): run as a
  script; a comment on a ``print`` line is that line's expected output. A block that
  serves (``hosepipe.serve(``, ``.run()``) runs in the background for the blocks after
  it. ``127.0.0.1:PORT`` for a port that is not a default one becomes a Unix socket
  shared by the blocks, so no fixed port is ever bound.
* ``toml`` blocks: a config file, served with ``hosepipe serve --config`` on port 0.

**To add an example that cannot run here**, put ``<!-- readme-test: skip REASON -->`` on
the line before its block, or, for one line of a block, add the line to
:data:`SKIP_LINES` with the reason. Any other failure names the README line.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hosepipe.services import BUILTINS, DEFAULT_ADDRESSES
from tests.conftest import ServerProcess, start_server

README = Path(__file__).parents[2] / "README.md"
MARKER = re.compile(r"<!--\s*readme-test:\s*skip\s+(.*?)\s*-->")

SKIP_LINES = {
    "files@tcp://0.0.0.0:50001": "binds every interface; tests bind 127.0.0.1 only",
    "book@tcp://0.0.0.0:50004": "binds every interface, and needs a PostgreSQL host",
    "upper@tls://0.0.0.0:7443": "binds every interface and needs a real certificate",
    "tls://server:7443": "needs a TLS server named 'server' with a real certificate",
    "mypackage.services:Reverse": "illustrates a user's own module, which is not here",
    "tcp://HOST:PORT --classic": "HOST:PORT stands for a plain add/rem/fnd server's address "
                                 "(tests/integration/test_book_tutorial.py runs one)",
}
"""Lines (by a part of their text) that cannot run here, and why."""

CLIENTS = ("echo", "daytime", "time", "square", "upper", "book", "ls", "get", "put")
DEFAULT_PORT = {name: int(addresses[0].rsplit(":", 1)[1])
                for name, addresses in DEFAULT_ADDRESSES.items()}
DEFAULT_PORT.update(ls=DEFAULT_PORT["files"], get=DEFAULT_PORT["files"],
                    put=DEFAULT_PORT["files"])
TIME = r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d(?: [A-Z]{2,5})? \d{4}"
VARIABLE = re.compile(TIME + r"|\b\d{10}\b")
KEY = "a-secret-key-for-the-readme-tests\n"


# -- reading the README ---------------------------------------------------------------

@dataclass
class Block:
    line: int  # of the opening fence
    lang: str
    text: str
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"README.md:{self.line}-{kind(self)}"


def readme_blocks() -> list[Block]:
    blocks: list[Block] = []
    lines = README.read_text().splitlines()
    index, previous = 0, ""
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            marker = MARKER.search(previous)
            blocks.append(Block(index + 1, line[3:].strip(),
                                "\n".join(lines[index + 1 : end]) + "\n",
                                marker[1] if marker else None))
            index = end
        elif line.strip():
            previous = line
        index += 1
    return blocks


def kind(block: Block) -> str:
    if block.lang in ("", "sh", "shell", "bash", "console"):
        first = block.text.lstrip()
        return "python" if first.startswith(("import ", "from ")) else "shell"
    return block.lang


@dataclass
class Command:
    line: int
    text: str
    expected: str | None  # the output after a `$` prompt


def commands(block: Block) -> list[Command]:
    lines = block.text.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    found: list[Command] = []
    for number, line in enumerate(lines, block.line + 1):
        if prompted and line.startswith("$ "):
            found.append(Command(number, line[2:], ""))
        elif prompted and found:
            found[-1].expected = (found[-1].expected or "") + line + "\n"
        elif not prompted and line.strip():
            found.append(Command(number, line, None))
    for command in found:
        if command.expected == "":
            command.expected = None
    return found


def output_pattern(expected: str) -> str:
    """``expected`` as a regex in which times and ten-digit numbers match any."""
    parts, position = [], 0
    for match in VARIABLE.finditer(expected):
        parts += [re.escape(expected[position : match.start()]),
                  TIME if ":" in match[0] else r"\d+"]
        position = match.end()
    return "".join([*parts, re.escape(expected[position:])])


# -- the world ------------------------------------------------------------------------

@dataclass
class World:
    home: Path
    cwd: Path
    tmp: Path
    env: dict[str, str]  # for every command, and for the servers the blocks start
    ports: dict[int, int]  # a default port -> the port the world's server got
    servers: list[ServerProcess] = field(default_factory=list)
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, command: str, *, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], input=stdin, capture_output=True,
                              text=True, timeout=90, cwd=self.cwd, env=self.env, check=False)

    def unix(self, port: str) -> str:
        return f"unix://{self.tmp}/port{port}.sock"


def make_home(home: Path, cwd: Path) -> None:
    for directory in ("public/docs", "incoming", ".local/share/hosepipe/public/docs"):
        (home / directory).mkdir(parents=True)
    (home / ".hosepipe.key").write_text(KEY)
    for root in (home / "public", home / ".local/share/hosepipe/public"):
        (root / "docs" / "report.pdf").write_bytes(b"%PDF-1.4 a report\n" * 1000)
    (cwd / "addbook.dat").write_text("Gawain:3,Green Chapel,Orkney,555-0111\n")
    (cwd / "big.iso").write_bytes(os.urandom(300_000))


def serve_everything(home: Path) -> list[ServerProcess]:
    """``make run``: every built-in, tcp on free ports, udp on the same numbers."""
    tcp = [f"{name}@tcp://127.0.0.1:0" for name in BUILTINS]
    main = start_server(*tcp, "--root", str(home / ".local/share/hosepipe/public"),
                        "--uploads", str(home / "incoming"),
                        "--db", f"sqlite://{home}/.local/share/hosepipe/book.sqlite3")
    udp = [f"{name}@udp://{main.address(name)[len('tcp://'):]}"
           for name, addresses in DEFAULT_ADDRESSES.items()
           if any(a.startswith("udp:") for a in addresses)]
    try:
        return [main, start_server(*udp)]
    except RuntimeError:  # a udp port number that someone else holds: the caller retries
        main.stop()
        raise


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("readme")
    home, cwd, tmp = base / "home", base / "work", base / "tmp"
    for directory in (home, cwd, tmp):
        directory.mkdir()
    make_home(home, cwd)
    for attempt in range(3):
        try:
            servers = serve_everything(home)
            break
        except RuntimeError:
            if attempt == 2:
                raise
    main = servers[0]
    ports = {DEFAULT_PORT[name]: int(main.address(name).rsplit(":", 1)[1]) for name in BUILTINS}
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HOSEPIPE_AUTHKEY", "HOSEPIPE_TLS_"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CONFIG_HOME=str(home / ".config"),
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}")
    world = World(home, cwd, tmp, env, ports, servers)
    for block in readme_blocks():  # started here, before any test's leak snapshot
        if kind(block) == "python" and serves(block.text) and not block.skip:
            start_python_server(world, block)
    yield world
    for process in world.background:
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
    for server in world.servers:
        assert server.stop() == 0


# -- shell blocks ---------------------------------------------------------------------

def requested_ports(args: list[str]) -> list[int | None]:
    """The port each binding of a ``hosepipe serve`` command asks for, in order."""
    ports: list[int | None] = []
    for arg in args:
        if arg in BUILTINS:
            ports.append(DEFAULT_PORT[arg])
        elif match := re.search(r"@(?:tcp|udp|tls)://[^@]*:(\d+)$", arg):
            ports.append(int(match[1]))
        elif "@" in arg:
            ports.append(None)
    return ports


def serve_args(command: str, tmp: Path) -> list[str]:  # (~ is the world's HOME by then)
    """The arguments of a README ``hosepipe serve`` line, on port 0 and in ``tmp``."""
    args = shlex.split(command, comments=True)[2:]
    out = []
    for index, arg in enumerate(args):
        positional = index == 0 or not args[index - 1].startswith("-")
        if positional and arg in BUILTINS:
            arg += "@tcp://127.0.0.1:0"
        arg = re.sub(r"((?:tcp|udp|tls)://127\.0\.0\.1):\d+", r"\1:0", arg)
        out.append(os.path.expanduser(arg.replace("/tmp/", f"{tmp}/")))
    return out


@dataclass
class Shell:
    """One shell block being run: its servers and the ports they took."""

    world: World
    block: Block
    ports: dict[int, int]
    servers: list[ServerProcess] = field(default_factory=list)

    def where(self, command: Command) -> str:
        return f"README.md:{command.line}: {command.text}"

    def serve(self, command: Command) -> None:
        args = serve_args(command.text, self.world.tmp)
        assert "@" in " ".join(args) or "--config" in args, (
            f"{self.where(command)}: with no binding it would take the default ports")
        if any(arg.endswith("@stdio:") for arg in args):
            result = self.world.run(shlex.join(["hosepipe", "serve", *args]), stdin="knights\n")
            assert (result.returncode, result.stdout) == (0, "KNIGHTS\n"), self.where(command)
            return
        server = start_server(*args)  # in the world's environment (see test_readme_block)
        self.servers.append(server)
        check_serving(server)
        asked = requested_ports(shlex.split(command.text, comments=True)[2:])
        for port, line in zip(asked, server.lines, strict=False):
            if port is not None and re.search(r":(\d+)\s", line):
                self.ports[port] = int(line.split()[1].rsplit(":", 1)[1])

    def rewrite(self, text: str) -> str:
        """Ports written in ``text`` as the servers got them (one pass: a new port is
        never rewritten again), and ``-a`` for clients that rely on a default port."""
        numbers = "|".join(str(port) for port in self.ports)
        text = re.sub(rf"\b({numbers})\b", lambda m: str(self.ports[int(m[1])]), text)

        def address(match: re.Match[str]) -> str:
            port = DEFAULT_PORT[match[2]]
            return f"{match[0]} -a 127.0.0.1:{self.ports.get(port, port)}"

        return re.sub(r"\b(hosepipe) (" + "|".join(CLIENTS) + r")\b(?![^|;]*(\s-a\s|--local))",
                      address, text)

    def client(self, command: Command) -> None:
        for tool in ("nc", "rdate"):
            if re.search(rf"(^|[|;]\s*){tool}\b", command.text) and not shutil.which(tool):
                pytest.skip(f"{tool} is not installed (.ci/run installs it)")
        result = self.world.run(self.rewrite(command.text).replace("/tmp/",
                                                                   f"{self.world.tmp}/"))
        assert result.returncode == 0, f"{self.where(command)}\n{result.stderr[-2000:]}"
        if command.expected is not None:
            assert re.fullmatch(output_pattern(command.expected), result.stdout), (
                f"{self.where(command)}\nexpected:\n{command.expected}got:\n{result.stdout}")

    def close(self) -> None:
        for server in self.servers:
            assert server.stop() == 0, server.log()


def run_shell(world: World, block: Block) -> None:
    shell = Shell(world, block, dict(world.ports))
    try:
        for command in commands(block):
            reason = next((why for part, why in SKIP_LINES.items() if part in command.text),
                          None)
            if reason is None and command.text.split()[:2] == ["hosepipe", "serve"]:
                shell.serve(command)
            elif reason is None:
                shell.client(command)
    finally:
        shell.close()


# -- python and toml blocks -----------------------------------------------------------

def python_code(world: World, text: str) -> str:
    """Default ports as the world's server got them; any other port a Unix socket."""
    def address(match: re.Match[str]) -> str:
        port = int(match[2])
        if port in world.ports:
            return f"{match[1] or ''}127.0.0.1:{world.ports[port]}"
        return world.unix(match[2])

    return re.sub(r"(tcp://)?\b127\.0\.0\.1:(\d+)\b", address, text)


def serves(code: str) -> bool:
    return "hosepipe.serve(" in code or ".run()" in code


def start_python_server(world: World, block: Block) -> None:
    """A block that serves runs for the whole module (the blocks after it call it)."""
    code = python_code(world, block.text)
    sockets = [Path(p) for p in re.findall(r"unix://([^\"' ]+)", code)]
    process = subprocess.Popen([sys.executable, "-c", code], cwd=world.cwd,
                               env=world.env, stderr=subprocess.DEVNULL)
    world.background.append(process)
    deadline = time.monotonic() + 30
    while not all(path.exists() for path in sockets):
        assert process.poll() is None and time.monotonic() < deadline, block.id
        time.sleep(0.02)


def run_python(world: World, block: Block) -> None:
    code = python_code(world, block.text)
    if serves(code):  # started by the world fixture: it must still be serving
        assert all(process.poll() is None for process in world.background), block.id
        return
    expected = "".join(line.split("# ", 1)[1].strip() + "\n"
                       for line in block.text.splitlines() if "print(" in line and "# " in line)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=world.cwd, env=world.env, check=False)
    assert result.returncode == 0, f"{block.id}\n{result.stderr[-2000:]}"
    assert result.stdout == expected, block.id


def run_toml(world: World, block: Block) -> None:
    for chunk in block.text.split("[[bind]]")[1:]:
        table = re.split(r"^\[", chunk, flags=re.M)[0]  # up to its [bind.limits]
        assert re.search(r"^address\s*=", table, re.M), (
            f"{block.id}: give each [[bind]] an address, or the example collides with "
            "make run's default ports")
    config = world.tmp / f"config-{block.line}.toml"
    config.write_text(re.sub(r"(tcp://127\.0\.0\.1):\d+", r"\1:0", block.text))
    server = start_server("--config", str(config), expect=block.text.count("[[bind]]"))
    check_serving(server)
    assert server.stop() == 0, server.log()


def check_serving(server: ServerProcess) -> None:
    """Each tcp binding the server printed takes a connection, and the server logs it:
    its loop is running (with its signal handlers), so SIGTERM now is a clean stop."""
    count = 0
    for line in server.lines:
        if match := re.search(r"tcp://([\d.]+):(\d+)", line):
            socket.create_connection((match[1], int(match[2])), timeout=30).close()
            count += 1
    assert server.log_file is not None
    deadline = time.monotonic() + 30
    # pread: the server shares the file's offset, which a seek here would move
    while os.pread(server.log_file.fileno(), 1 << 20, 0).count(b"connection from") < count:
        assert server.process.poll() is None and time.monotonic() < deadline, server.lines
        time.sleep(0.02)


RUNNERS = {"shell": run_shell, "python": run_python, "toml": run_toml}


@pytest.mark.parametrize("block", readme_blocks(), ids=lambda block: block.id)
def test_readme_block(world: World, block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    if block.skip:
        pytest.skip(block.skip)
    for name in ("HOSEPIPE_AUTHKEY", "HOSEPIPE_TLS_CA", "HOSEPIPE_TLS_CERT", "HOSEPIPE_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "PATH"):
        monkeypatch.setenv(name, world.env[name])  # servers started here inherit them
    runner = RUNNERS.get(kind(block))
    assert runner is not None, (
        f"{block.id}: no way to run a {kind(block)!r} block; tag it (shell, python, toml) "
        "or put <!-- readme-test: skip REASON --> on the line before it")
    runner(world, block)


def test_every_skipped_line_is_still_in_the_readme() -> None:
    text = README.read_text()
    assert [part for part in SKIP_LINES if part not in text] == []


def test_the_readme_has_examples_of_each_kind() -> None:
    kinds = [kind(block) for block in readme_blocks() if not block.skip]
    assert {"shell", "python", "toml"} <= set(kinds)
    assert sum(len(commands(b)) for b in readme_blocks() if kind(b) == "shell") > 30
