"""The transfer list: one row per download or upload, under a bar with the local folder.

Each row has a progress bar, a line with bytes, rate and time left (or the outcome),
and a button for what can be done next: Cancel while it runs, Resume for a download
whose part is kept, Retry otherwise; ✕ takes a finished row away. The rows live in a
canvas so that any number of them scrolls. The widget reads the :class:`Transfer`
objects at each :meth:`TransferList.refresh`; it starts and stops nothing itself (the
window does, through ``on_action``).
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from tkinter import filedialog, ttk
from typing import Any

from hosepipe.gui.testhook import box
from hosepipe.gui.transfers import CANCELLED, DONE, FAILED, RUNNING, Transfer

__all__ = ["TransferList"]

ERROR_COLOUR = "#b00020"


def action_label(transfer: Transfer) -> str:
    """What the row's button does next ("" when nothing is left to do)."""
    if transfer.state == RUNNING:
        return "Cancel"
    if transfer.state == DONE:
        return ""
    return "Resume" if transfer.can_resume else "Retry"


class TransferRow(ttk.Frame):
    def __init__(self, parent: tk.Misc, transfer: Transfer,
                 on_action: Callable[[Transfer], None], on_remove: Callable[[Transfer], None]
                 ) -> None:
        super().__init__(parent, padding=(4, 2))
        self.transfer = transfer
        self.title = ttk.Label(self, text=transfer.title, width=22, anchor="w")
        self.bar = ttk.Progressbar(self, length=150, mode="determinate", maximum=1)
        self.detail = ttk.Label(self, text="", anchor="w")
        self.action = ttk.Button(self, width=8, command=lambda: on_action(self.transfer))
        self.remove = ttk.Button(self, text="✕", width=3, command=lambda: on_remove(self.transfer))
        self.title.grid(row=0, column=0, sticky="w")
        self.bar.grid(row=0, column=1, padx=6)
        self.detail.grid(row=0, column=2, sticky="ew")
        self.action.grid(row=0, column=3, padx=(6, 2))
        self.remove.grid(row=0, column=4)
        self.columnconfigure(2, weight=1)

    def refresh(self, now: float) -> None:
        t = self.transfer
        self.bar.configure(maximum=max(t.total, 1), value=min(t.done, max(t.total, 1)))
        if t.state == RUNNING:
            text, colour = t.describe_progress(now), ""
        else:
            text, colour = t.message, ERROR_COLOUR if t.state == FAILED else ""
        self.detail.configure(text=text, foreground=colour)
        label = action_label(t)
        self.action.configure(text=label)
        if label:
            self.action.grid()
        else:
            self.action.grid_remove()
        self.remove.state(["disabled" if t.state == RUNNING else "!disabled"])

    def describe(self) -> dict[str, Any]:
        t = self.transfer
        return {"id": t.id, "kind": t.kind, "title": str(self.title.cget("text")),
                "state": t.state, "detail": str(self.detail.cget("text")),
                "error": str(self.detail.cget("foreground")) == ERROR_COLOUR,
                "value": float(self.bar.cget("value")), "maximum": float(self.bar.cget("maximum")),
                "local": str(t.local), "action": str(self.action.cget("text"))
                if self.action.winfo_ismapped() else "", "action_box": box(self.action)}


class TransferList(ttk.Frame):
    def __init__(self, parent: tk.Misc, folder: str, *, on_action: Callable[[Transfer], None],
                 on_upload: Callable[[], None]) -> None:
        super().__init__(parent)
        self.on_action = on_action
        self.rows: dict[int, TransferRow] = {}
        bar = ttk.Frame(self)
        bar.pack(fill="x", pady=(0, 4))
        ttk.Label(bar, text="Transfers — local folder:").pack(side="left")
        self.folder = ttk.Entry(bar)
        self.folder.insert(0, folder)
        self.folder.pack(side="left", fill="x", expand=True, padx=4)
        self.choose_button = ttk.Button(bar, text="Choose…", command=self.choose_folder)
        self.choose_button.pack(side="left")
        self.upload_button = ttk.Button(bar, text="Upload…", command=on_upload)
        self.upload_button.pack(side="left", padx=(8, 0))
        self.clear_button = ttk.Button(bar, text="Clear finished", command=self.clear_finished)
        self.clear_button.pack(side="left", padx=(8, 0))
        self.inner = self._scrolling_area()

    def _scrolling_area(self) -> ttk.Frame:
        frame = ttk.Frame(self, relief="sunken", borderwidth=1)
        frame.pack(fill="both", expand=True)
        self.canvas = tk.Canvas(frame, height=120, highlightthickness=0)
        scroll = ttk.Scrollbar(frame, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=scroll.set)
        scroll.pack(side="right", fill="y")
        self.canvas.pack(side="left", fill="both", expand=True)
        inner = ttk.Frame(self.canvas)
        window = self.canvas.create_window(0, 0, window=inner, anchor="nw")
        inner.bind("<Configure>", lambda event: self.canvas.configure(
            scrollregion=self.canvas.bbox("all")))
        self.canvas.bind("<Configure>", lambda event: self.canvas.itemconfigure(
            window, width=event.width))
        return inner

    def choose_folder(self) -> None:
        chosen = filedialog.askdirectory(parent=self, initialdir=self.folder.get() or None,
                                         title="Where downloads go", mustexist=True)
        if chosen:
            self.folder.delete(0, "end")
            self.folder.insert(0, chosen)

    def add(self, transfer: Transfer) -> None:
        row = TransferRow(self.inner, transfer, self.on_action, self.remove)
        row.pack(fill="x")
        self.rows[transfer.id] = row
        row.refresh(time.monotonic())
        self.canvas.update_idletasks()
        self.canvas.yview_moveto(1.0)

    def remove(self, transfer: Transfer) -> None:
        if transfer.state != RUNNING and transfer.id in self.rows:
            self.rows.pop(transfer.id).destroy()

    def clear_finished(self) -> None:
        for row in list(self.rows.values()):
            if row.transfer.state in (DONE, CANCELLED, FAILED):
                self.remove(row.transfer)

    def refresh(self) -> None:
        now = time.monotonic()
        for row in self.rows.values():
            row.refresh(now)

    def describe(self) -> dict[str, Any]:
        return {"folder": self.folder.get(), "upload": box(self.upload_button),
                "transfers": [row.describe() for row in self.rows.values()]}
