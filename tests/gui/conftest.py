"""The GUI under test: a private X server (Xvfb), windows run as ``hosepipe gui``
subprocesses, driven with real X input (xdotool) and read through the window's own
trace (``HOSEPIPE_GUI_TRACE``, see :mod:`hosepipe.gui.testhook`).

Xvfb picks a free display number itself (``-displayfd``) and the fixture waits, with a
deadline, until it has said which and its socket is there. Screenshots of each main
screen go to ``artefacts/gui/`` (or ``$HOSEPIPE_GUI_SHOTS``), listed at the end of the
run. Every wait polls with a deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).parents[2]
SHOTS = Path(os.environ.get("HOSEPIPE_GUI_SHOTS") or REPO / "artefacts" / "gui")
TOOLS = {"Xvfb": "xvfb", "xdotool": "xdotool", "import": "imagemagick"}
WAIT = 60.0  # seconds any one thing may take on a slow, shared machine
State = dict[str, Any]


def _read_display(fd: int, deadline: float) -> str:
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError("Xvfb did not report its display in time")
        chunk = os.read(fd, 64)
        if not chunk:
            raise RuntimeError("Xvfb exited before reporting its display")
        data += chunk
    return data.decode().strip()


@pytest.fixture(scope="package")
def display() -> Iterator[str]:
    """A private Xvfb for the GUI tests; DISPLAY points at it.

    Package scope, not session: Xvfb is a child of the test process, and tests elsewhere
    count that process's children, so it is gone before they run."""
    missing = [f"{tool} (apt package {package})" for tool, package in TOOLS.items()
               if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}; .ci/run installs them")
    read, write = os.pipe()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=log)
    os.close(write)
    try:
        deadline = time.monotonic() + WAIT
        number = _read_display(read, deadline)
        socket_file = Path(f"/tmp/.X11-unix/X{number}")
        while not socket_file.exists():
            assert time.monotonic() < deadline, f"no {socket_file} after Xvfb started"
            time.sleep(0.02)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DISPLAY", f":{number}")
            yield f":{number}"
    finally:
        os.close(read)
        process.terminate()
        process.wait(15)
        log.close()


_SHOTS_USED: list[Path] = []  # where this run's screenshots went


@pytest.fixture(scope="package")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """SHOTS, emptied for this run; or, while another copy of the suite holds it (two
    runs side by side), a directory of this run's own, so neither deletes the other's."""
    SHOTS.parent.mkdir(parents=True, exist_ok=True)
    with open(SHOTS.parent / f".{SHOTS.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(SHOTS, ignore_errors=True)
            SHOTS.mkdir()
            where = SHOTS
        except BlockingIOError:
            where = tmp_path_factory.mktemp("gui-shots")
        _SHOTS_USED.append(where)
        yield where  # the lock is held until the package is done


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for where in _SHOTS_USED:
        if where.is_dir() and any(where.iterdir()):
            names = ", ".join(sorted(p.name for p in where.glob("*.png")))
            terminalreporter.write_line(f"GUI screenshots in {where}: {names}")
        probe = where / "responsiveness.json"
        if probe.exists():
            terminalreporter.write_line(
                f"GUI event loop during a 64 MiB download: {probe.read_text()}")


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=WAIT)


def move_pointer(x: int, y: int) -> None:
    """Move the pointer and wait (a deadline) until the X server has it there.

    (``xdotool mousemove --sync`` waits for motion, so it hangs for seconds when the
    pointer is already where it is sent.)"""
    xdotool("mousemove", str(x), str(y))
    deadline = time.monotonic() + WAIT
    while True:
        where = subprocess.run(["xdotool", "getmouselocation", "--shell"], capture_output=True,
                               text=True, check=True, timeout=WAIT).stdout
        if f"X={x}\n" in where and f"Y={y}\n" in where:
            return
        assert time.monotonic() < deadline, f"the pointer did not reach {x},{y}: {where}"
        time.sleep(0.01)


class Gui:
    """One ``hosepipe gui`` window: start it, drive it, read what it shows."""

    def __init__(self, args: list[str], home: Path, name: str) -> None:
        self.trace = home / f"{name}.trace.jsonl"
        self.trace.unlink(missing_ok=True)
        self.log: IO[str] = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - stop() closes it
        env = {**os.environ, "HOSEPIPE_GUI_TRACE": str(self.trace),
               "XDG_CONFIG_HOME": str(home / "config")}
        self.process = subprocess.Popen([sys.executable, "-m", "hosepipe", "gui", *args],
                                        env=env, stdout=self.log, stderr=self.log, text=True)
        self.states: list[State] = []
        self._offset = 0
        self.returncode: int | None = None

    def _read(self) -> None:
        if not self.trace.exists():
            return
        with open(self.trace, encoding="utf-8") as file:
            file.seek(self._offset)
            while (line := file.readline()).endswith("\n"):
                self.states.append(json.loads(line))
                self._offset = file.tell()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    @property
    def last(self) -> State:
        self._read()
        assert self.states, "the window has written no state yet"
        return self.states[-1]

    def wait(self, what: str, predicate: Callable[[State], bool], timeout: float = WAIT,
             ) -> State:
        """The first state (from now on) for which ``predicate`` holds."""
        deadline, seen = time.monotonic() + timeout, len(self.states)
        while True:
            self._read()
            for state in self.states[seen:]:
                if predicate(state):
                    return state
            seen = len(self.states)
            exited = self.process.poll()
            if exited is not None or time.monotonic() > deadline:
                last = json.dumps(self.states[-1] if self.states else None, indent=1)[:3000]
                why = f"exited with {exited}" if exited is not None else f"not in {timeout} s"
                pytest.fail(f"window never showed {what} ({why}); last state: {last}\n"
                            f"output: {self.output()}")
            time.sleep(0.02)

    def focus(self) -> None:
        xdotool("windowactivate", "--sync", str(self.last["window"]))

    def _keyboard(self) -> None:
        """Make sure keys reach the window: with no window manager, X gives the keyboard
        to the window under the pointer once the window has lost it."""
        if self.last["focus"]:
            return
        x, y, width, height = self.last["window_box"]
        move_pointer(x + width - 4, y + height - 4)  # the status line's corner
        self.wait("the keyboard", lambda state: bool(state["focus"]))

    def type(self, text: str) -> None:
        self._keyboard()
        xdotool("type", "--delay", "15", text)

    def key(self, *keys: str) -> None:
        self._keyboard()
        xdotool("key", "--delay", "30", *keys)

    def click(self, box: list[int], *, double: bool = False) -> None:
        x, y, width, height = box
        move_pointer(x + width // 2, y + height // 2)
        xdotool("click", *(["--repeat", "2", "--delay", "80"] if double else []), "1")

    def shot(self, directory: Path, name: str) -> Path:
        path = directory / f"{name}.png"
        subprocess.run(["import", "-window", str(self.last["window"]), str(path)],
                       check=True, timeout=WAIT)
        return path

    def close(self, how: str = "ctrl+q", timeout: float = WAIT) -> int:
        """Close the window (Ctrl+Q, or a signal) and wait for the process to end."""
        if how == "ctrl+q":
            self.key("ctrl+q")
        else:
            self.process.send_signal(getattr(signal, how))
        self.returncode = self.process.wait(timeout)
        self._read()
        return self.returncode

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(WAIT)
        self.log.close()


@pytest.fixture
def gui(display: str, tmp_path: Path) -> Iterator[Callable[..., Gui]]:
    """``gui(*args)`` starts a window; every one is stopped after the test."""
    started: list[Gui] = []

    def start(*args: str, name: str = "gui") -> Gui:
        window = Gui(list(args), tmp_path, f"{name}{len(started)}")
        started.append(window)
        return window

    yield start
    for window in started:
        window.stop()
