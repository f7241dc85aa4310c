"""What both windows share: the Tk root, the worker pump, errors, signals and closing.

A :class:`Shell` owns the root window's life. An exception in a Tk callback is shown
on the window's status line and logged, never printed as a traceback. SIGINT (Ctrl-C in
the terminal that started it) and SIGTERM close the window the way its close button
does; Python runs signal handlers only between bytecodes, so the handler just sets a
flag that the pump's next poll (at most 50 ms later) acts on. Closing cancels the work
in flight, waits (a bounded time) for the workers to let go of their connections, then
destroys the window; ``run()`` returns the exit status (130 after Ctrl-C).
"""

from __future__ import annotations

import logging
import signal
import time
import tkinter as tk
from collections.abc import Callable
from types import FrameType, TracebackType

from hosepipe.gui.remote import describe
from hosepipe.gui.tasks import Pump

__all__ = ["Shell"]

log = logging.getLogger("hosepipe.gui")

CLOSE_WAIT = 5.0  # seconds closing waits for workers after cancelling them


class Shell:
    def __init__(self, root: tk.Tk, title: str, *, show_error: Callable[[str], None],
                 cancel_all: Callable[[], None]) -> None:
        self.root = root
        self.show_error = show_error
        self.cancel_all = cancel_all
        self.pump = Pump(root)
        self.exit_status = 0
        self.closing = False
        self._signalled: int | None = None
        self._before: dict[int, object] = {}
        self.before_destroy: list[Callable[[], None]] = []
        root.title(title)
        root.report_callback_exception = self._report
        root.protocol("WM_DELETE_WINDOW", self.close)
        root.bind_all("<Control-q>", lambda event: self.close())
        self.pump.ticks.append(self._check_signal)

    def _report(self, kind: type[BaseException], exc: BaseException,
                trace: TracebackType | None) -> None:
        log.debug("error in a window callback", exc_info=(kind, exc, trace))
        if self.pump.stopped:  # the window is going or gone: nowhere to show it
            return
        try:
            self.show_error(describe(exc))
        except tk.TclError:
            log.warning("%s", describe(exc))

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self._signalled = number

    def _check_signal(self) -> None:
        number, self._signalled = self._signalled, None
        if number is not None and not self.closing:
            self.exit_status = 130 if number == int(signal.SIGINT) else 0
            self.root.after_idle(self.close)  # not from inside the pump's poll

    def close(self) -> None:
        """Cancel everything, let the workers finish (bounded), then go."""
        if self.closing:
            return
        self.closing = True
        self.cancel_all()
        deadline = time.monotonic() + CLOSE_WAIT

        def wait() -> None:
            if self.pump.busy and time.monotonic() < deadline:
                self.root.after(20, wait)
                return
            if self.pump.busy:
                log.warning("closing with work still running (it will be cut off)")
            self.pump.drain()  # the workers' last reports (a transfer's final state)
            for call in self.before_destroy:
                call()
            self.pump.stop()
            self.root.destroy()

        wait()

    def run(self) -> int:
        for number in (signal.SIGINT, signal.SIGTERM):
            self._before[number] = signal.signal(number, self._on_signal)
        try:
            self.root.mainloop()
        finally:
            for signalled, handler in self._before.items():
                signal.signal(signalled, handler)  # type: ignore[arg-type]
        return self.exit_status
