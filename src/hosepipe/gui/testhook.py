"""A window that tells a test what it shows: ``HOSEPIPE_GUI_TRACE=FILE``.

With that variable set, the window appends a JSON line to FILE whenever what it shows
changes: the texts of its widgets as Tk holds them, the screen boxes of the controls a
test clicks (``[x, y, width, height]`` in root coordinates), the X window id, and the
**probe**: an ``after()`` callback every 50 ms that records how late it ran. The
probe's worst lateness while a transfer is running is the responsiveness the design
promises (every network call on a worker thread). A test reads the lines and polls
them with a deadline; it never sleeps to synchronise. Without the variable nothing of
this runs.
"""

from __future__ import annotations

import json
import os
import time
import tkinter as tk
from collections.abc import Callable
from typing import Any

__all__ = ["PROBE_MS", "Trace", "box", "install"]

PROBE_MS = 50
ENV = "HOSEPIPE_GUI_TRACE"


def box(widget: tk.Misc) -> list[int]:
    """Where ``widget`` is on the screen: x, y, width, height."""
    return [widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(),
            widget.winfo_height()]


class Probe:
    """How late an ``after(PROBE_MS)`` callback runs, overall and while busy."""

    def __init__(self) -> None:
        self.samples = self.busy_samples = 0
        self.max_late = self.max_late_busy = 0.0

    def record(self, late: float, busy: bool) -> None:
        self.samples += 1
        self.max_late = max(self.max_late, late)
        if busy:
            self.busy_samples += 1
            self.max_late_busy = max(self.max_late_busy, late)

    def as_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "max_late": round(self.max_late, 4),
                "busy_samples": self.busy_samples,
                "max_late_busy": round(self.max_late_busy, 4)}


class Trace:
    def __init__(self, root: tk.Tk, path: str, describe: Callable[[], dict[str, Any]],
                 busy: Callable[[], bool]) -> None:
        self.root = root
        self.describe = describe
        self.busy = busy
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.probe = Probe()
        self.last = ""
        self.expected = time.monotonic() + PROBE_MS / 1000
        self.job = root.after(PROBE_MS, self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self.probe.record(max(0.0, now - self.expected), self.busy())
        self.expected = now + PROBE_MS / 1000
        self.job = self.root.after(PROBE_MS, self._tick)
        self.write()

    def write(self, event: str = "state") -> None:
        state = {"window": int(self.root.wm_frame(), 16), "window_box": box(self.root),
                 "title": self.root.title(),
                 "focus": str(self.root.tk.call("focus")), **self.describe()}
        text = json.dumps(state, sort_keys=True)
        if text != self.last or event != "state":
            self.last = text
            line = {"event": event, "t": round(time.monotonic(), 3),
                    "probe": self.probe.as_dict(), **state}
            self.file.write(json.dumps(line) + "\n")
            self.file.flush()

    def close(self) -> None:
        self.root.after_cancel(self.job)
        self.write("closed")
        self.file.close()


def install(root: tk.Tk, describe: Callable[[], dict[str, Any]],
            busy: Callable[[], bool]) -> Trace | None:
    """Start the trace if ``HOSEPIPE_GUI_TRACE`` names a file."""
    path = os.environ.get(ENV)
    return Trace(root, path, describe, busy) if path else None
