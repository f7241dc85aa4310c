"""The person's side of a chat: typed lines in, received lines out, prompt never torn.

Two kinds, one interface (:class:`Keyboard`):

* :class:`TerminalKeyboard`, when stdin and stdout are a terminal: a prompt_toolkit
  ``PromptSession`` under ``patch_stdout``, so a line printed by the pump thread while
  the person is typing appears above the prompt, and the half-typed line stays;
* :class:`PlainKeyboard` otherwise (a pipe, a file, a test): lines read from the stdin
  descriptor with ``poll`` and printed as plain lines, no prompt.

:meth:`Keyboard.read` returns a typed line, ``None`` at the end of input (Ctrl-D), and
raises ``KeyboardInterrupt`` on Ctrl-C and :class:`Stopped` once :meth:`Keyboard.stop`
was called from another thread (the peer left): the pump thread ends the person's
turn that way. :meth:`Keyboard.reset` re-arms it for the next conversation.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from types import TracebackType
from typing import Any

from hosepipe.driving.blocking import Wake

__all__ = ["Keyboard", "PlainKeyboard", "Stopped", "TerminalKeyboard", "open_keyboard"]

PROMPT = "type message: "


class Stopped(Exception):
    """The conversation ended while the person was typing (the peer left)."""


class Keyboard:
    """What a chat session needs from the person's side."""

    def read(self) -> str | None:
        raise NotImplementedError

    def show(self, text: str) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Keyboard:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Give the terminal back."""


class TerminalKeyboard(Keyboard):
    """prompt_toolkit's line editor; other threads print above its prompt."""

    def __init__(self, prompt: str = PROMPT) -> None:
        from prompt_toolkit import PromptSession  # noqa: PLC0415 (only on a terminal)
        from prompt_toolkit.patch_stdout import patch_stdout  # noqa: PLC0415

        self.prompt = prompt
        self.session: Any = PromptSession()
        self._stopped = threading.Event()
        self._patch: Any = patch_stdout()
        self._patch.__enter__()

    def read(self) -> str | None:
        if self._stopped.is_set():
            raise Stopped
        self.session.app.erase_when_done = False  # a typed line stays on the screen
        try:
            line: str = self.session.prompt(self.prompt, pre_run=self._exit_if_stopped)
        except EOFError:
            return None
        return line

    def _exit_if_stopped(self) -> None:
        if self._stopped.is_set():
            self._exit()

    def _exit(self) -> None:
        app = self.session.app
        with contextlib.suppress(Exception):  # not running, or ending already
            if app.is_running and not app.future.done():
                app.erase_when_done = True  # an abandoned prompt leaves no line behind
                app.exit(exception=Stopped())

    def show(self, text: str) -> None:
        print(text, flush=True)  # patch_stdout puts it above the prompt

    def stop(self) -> None:
        self._stopped.set()
        loop = getattr(self.session.app, "loop", None)
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to end
                loop.call_soon_threadsafe(self._exit)

    def reset(self) -> None:
        self._stopped.clear()

    def close(self) -> None:
        self._patch.__exit__(None, None, None)


class PlainKeyboard(Keyboard):
    """Lines from a descriptor (stdin), printed lines on stdout; no prompt."""

    def __init__(self, fd: int = 0, max_read: int = 1024 * 1024) -> None:
        self.fd = fd
        self.max_read = max_read  # a longer run without a newline is handed on as a line
        self._buffer = bytearray()
        self._eof = False
        self._lock = threading.Lock()
        self._wake = Wake()  # readable from stop() until reset()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._poll.register(self._wake.fd, select.POLLIN)

    def read(self) -> str | None:
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0 or len(self._buffer) >= self.max_read:
                end = newline + 1 if newline >= 0 else len(self._buffer)
                line = bytes(self._buffer[:end]).rstrip(b"\n").removesuffix(b"\r")
                del self._buffer[:end]
                return line.decode("utf-8", errors="replace")
            if self._eof:
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line.decode("utf-8", errors="replace")
                return None
            ready = dict(self._poll.poll())
            if self._wake.fd in ready:
                raise Stopped
            chunk = os.read(self.fd, 65536)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True

    def show(self, text: str) -> None:
        with self._lock, contextlib.suppress(BrokenPipeError, ValueError):
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def stop(self) -> None:
        self._wake.set()

    def reset(self) -> None:
        self._wake.clear()

    def close(self) -> None:
        self._wake.close()


def open_keyboard(*, terminal: bool | None = None, prompt: str = PROMPT) -> Keyboard:
    """The person's keyboard: a line editor on a terminal, plain lines otherwise."""
    if terminal is None:
        terminal = sys.stdin.isatty() and sys.stdout.isatty()
    return TerminalKeyboard(prompt) if terminal else PlainKeyboard()
