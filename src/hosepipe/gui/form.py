"""The reusable form: labelled entries in a grid, Submit and Cancel.

The chapter's ``Form`` class laid out one packed row per field and bound Return on the
whole window. This one keeps the idea -- a list of field names in, the values out --
and adds what a form needs to be used by other programs: defaults, a grid whose entry
column stretches with the window, the first field focused with its text selected (so
typing replaces it), Tab and Shift-Tab between fields, Return to submit and Escape to
cancel from any of its widgets (bound on the form's own widgets, so two forms in one
window do not fight), a status line, and a busy state for work in progress.

Two ways to use it::

    values = ask(["Name", "Age", "Job"], title="Who")      # a window; waits; None if cancelled

    form = Form(parent, {"Server": "localhost", "Port": "50001"},
                on_submit=lambda values: print(values))     # inside your own window
    form.pack(fill="x")

or subclass it and override :meth:`Form.on_submit` and :meth:`Form.on_cancel`, as the
chapter did.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Collection, Iterable, Mapping
from tkinter import ttk

__all__ = ["Form", "ask"]

Values = dict[str, str]


class Form(ttk.Frame):
    """Entries for ``fields`` (names, or a mapping of names to default values)."""

    def __init__(self, parent: tk.Misc, fields: Iterable[str] | Mapping[str, str], *,
                 on_submit: Callable[[Values], None] | None = None,
                 on_cancel: Callable[[], None] | None = None,
                 submit_text: str = "Submit", cancel_text: str = "Cancel",
                 secret: Collection[str] = (), width: int = 40) -> None:
        super().__init__(parent, padding=8)
        defaults = dict(fields) if isinstance(fields, Mapping) else dict.fromkeys(fields, "")
        if not defaults:
            raise ValueError("a form needs at least one field")
        self._submitted = on_submit
        self._cancelled = on_cancel
        self.tag = f"Form{id(self)}"  # a bind tag on every widget of this form
        self.entries: dict[str, ttk.Entry] = {}
        for row, (name, value) in enumerate(defaults.items()):
            self._add_field(row, name, value, secret=name in secret, width=width)
        self._rows = len(defaults)
        self.status = ttk.Label(self, text="", wraplength=420, justify="left")
        self.buttons = ttk.Frame(self)
        self._place_footer()
        self.submit_button = ttk.Button(self.buttons, text=submit_text, command=self.submit)
        self.cancel_button = ttk.Button(self.buttons, text=cancel_text, command=self.cancel)
        self.submit_button.pack(side="right")
        self.cancel_button.pack(side="right", padx=(0, 6))
        for widget in (*self.entries.values(), self.submit_button, self.cancel_button):
            widget.bindtags((self.tag, *widget.bindtags()))
        self.bind_class(self.tag, "<Return>", self._on_return)
        self.bind_class(self.tag, "<KP_Enter>", self._on_return)
        self.bind_class(self.tag, "<Escape>", lambda event: self.cancel())
        self.columnconfigure(1, weight=1)
        self.after_idle(self.focus_first)

    def _add_field(self, row: int, name: str, value: str, *, secret: bool, width: int) -> None:
        ttk.Label(self, text=name).grid(row=row, column=0, sticky="w", padx=(0, 8), pady=2)
        entry = ttk.Entry(self, width=width, show="•" if secret else "")
        entry.insert(0, value)
        entry.grid(row=row, column=1, sticky="ew", pady=2)
        self.entries[name] = entry

    def _place_footer(self) -> None:
        self.status.grid(row=self._rows, column=0, columnspan=2, sticky="ew", pady=(6, 0))
        self.buttons.grid(row=self._rows + 1, column=0, columnspan=2, sticky="e", pady=(6, 0))

    def add_row(self, widget: tk.Widget) -> None:
        """Put ``widget`` (a child of the form) across the form, under the fields."""
        widget.grid(row=self._rows, column=0, columnspan=2, sticky="ew", pady=(6, 0))
        self._rows += 1
        self._place_footer()

    def _on_return(self, event: tk.Event) -> str:
        if str(self.submit_button.cget("state")) != "disabled":
            self.submit()
        return "break"

    def focus_first(self, force: bool = True) -> None:
        """Focus the first field with its text selected; ``force`` takes the keyboard
        from other applications too (right for a window that has just opened)."""
        first = next(iter(self.entries.values()))
        if force:
            first.focus_force()
        else:
            first.focus_set()
        first.selection_range(0, "end")
        first.icursor("end")

    def values(self) -> Values:
        return {name: entry.get() for name, entry in self.entries.items()}

    def set(self, name: str, value: str) -> None:
        entry = self.entries[name]
        entry.delete(0, "end")
        entry.insert(0, value)

    def say(self, text: str, *, error: bool = False) -> None:
        """Show ``text`` on the status line (red for an error)."""
        self.status.configure(text=text, foreground="#b00020" if error else "")

    def busy(self, flag: bool) -> None:
        """While work runs: fields and Submit disabled (Cancel stays)."""
        state = "disabled" if flag else "!disabled"
        for widget in (*self.entries.values(), self.submit_button):
            widget.state([state])

    def submit(self) -> None:
        self.on_submit(self.values())

    def cancel(self) -> None:
        self.on_cancel()

    def on_submit(self, values: Values) -> None:
        """Called with the values on Submit or Return; override, or pass ``on_submit``."""
        if self._submitted is not None:
            self._submitted(values)

    def on_cancel(self) -> None:
        """Called on Cancel or Escape; by default the form's window closes."""
        if self._cancelled is not None:
            self._cancelled()
        else:
            self.winfo_toplevel().destroy()


def ask(fields: Iterable[str] | Mapping[str, str], *, title: str = "hosepipe",
        parent: tk.Misc | None = None, **options: object) -> Values | None:
    """Show a form in a window of its own and wait: the values, or None if cancelled.

    Without ``parent`` this makes (and ends) its own Tk root, so a script needs nothing
    else; with one, it opens a modal Toplevel over ``parent``.
    """
    window: tk.Tk | tk.Toplevel = tk.Tk() if parent is None else tk.Toplevel(parent)
    window.title(title)
    result: list[Values] = []

    def submitted(values: Values) -> None:
        result.append(values)
        window.destroy()

    form = Form(window, fields, on_submit=submitted, on_cancel=window.destroy,
                **options)  # type: ignore[arg-type]
    form.pack(fill="both", expand=True)
    window.protocol("WM_DELETE_WINDOW", window.destroy)
    if parent is None:
        window.mainloop()
    else:
        window.transient(parent.winfo_toplevel())
        window.grab_set()
        window.wait_window()
    return result[0] if result else None
