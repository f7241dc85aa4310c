"""The remote listing: a path bar over a ``ttk.Treeview`` of names, sizes and times.

Folders come first and open on double-click (or Return); a file downloads. Up (or
BackSpace) goes to the parent folder; the path bar takes a typed path on Return.
Clicking a column heading sorts by it; clicking it again reverses the order (folders
stay first either way). The browser knows nothing of the network: it calls
``on_list(path)`` and ``on_open(path, item)`` and is given listings with
:meth:`Browser.show`.
"""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable
from pathlib import PurePosixPath
from tkinter import ttk
from typing import Any

from hosepipe.gui.testhook import box
from hosepipe.units import format_size

__all__ = ["Browser", "join", "parent"]

Item = dict[str, Any]
COLUMNS = (("name", "Name", 320, "w"), ("size", "Size", 100, "e"),
           ("modified", "Modified", 150, "w"))


def join(folder: str, name: str) -> str:
    return str(PurePosixPath(folder, name)) if folder else name


def parent(folder: str) -> str:
    up = str(PurePosixPath(folder).parent)
    return "" if up == "." else up


def sort_key(column: str) -> Callable[[Item], Any]:
    if column == "size":
        return lambda item: (item.get("size", 0), item["name"].casefold())
    if column == "modified":
        return lambda item: (item.get("mtime", 0), item["name"].casefold())
    return lambda item: item["name"].casefold()


class Browser(ttk.Frame):
    def __init__(self, parent_widget: tk.Misc, *, on_list: Callable[[str], None],
                 on_open: Callable[[str, Item], None]) -> None:
        super().__init__(parent_widget)
        self.on_list = on_list
        self.on_open = on_open
        self.path = ""
        self.items: list[Item] = []
        self._ordered: list[Item] = []
        self.sort_column, self.descending = "name", False
        bar = ttk.Frame(self)
        bar.pack(fill="x", pady=(0, 4))
        self.up_button = ttk.Button(bar, text="↑ Up", width=6, command=self.go_up)
        self.up_button.pack(side="left")
        self.path_entry = ttk.Entry(bar)
        self.path_entry.pack(side="left", fill="x", expand=True, padx=4)
        self.path_entry.bind("<Return>", lambda event: self.on_list(self._typed_path()))
        self.refresh_button = ttk.Button(bar, text="⟳ Refresh", command=self.refresh)
        self.refresh_button.pack(side="left")
        self.tree = self._make_tree()

    def _make_tree(self) -> ttk.Treeview:
        frame = ttk.Frame(self)
        frame.pack(fill="both", expand=True)
        tree = ttk.Treeview(frame, columns=[c[0] for c in COLUMNS], show="headings",
                            selectmode="extended", height=12)
        for name, title, width, anchor in COLUMNS:
            tree.heading(name, text=title, command=self._sorter(name))
            tree.column(name, width=width, anchor=anchor, stretch=name == "name")  # type: ignore[call-overload]
        scroll = ttk.Scrollbar(frame, orient="vertical", command=tree.yview)
        tree.configure(yscrollcommand=scroll.set)
        tree.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        tree.bind("<Double-1>", self._on_double)
        tree.bind("<Return>", lambda event: self.open_selected())
        tree.bind("<BackSpace>", lambda event: self.go_up())
        tree.tag_configure("dir", foreground="#1a4d8f")
        return tree

    def _sorter(self, column: str) -> Callable[[], None]:
        return lambda: self.sort_by(column)

    def _typed_path(self) -> str:
        return self.path_entry.get().strip().strip("/")

    def show(self, path: str, items: list[Item]) -> None:
        """Show the listing of ``path``."""
        self.path, self.items = path, list(items)
        self.path_entry.delete(0, "end")
        self.path_entry.insert(0, "/" + path)
        self._fill()
        self.tree.yview_moveto(0)

    def clear(self) -> None:
        self.items = []
        self._fill()

    def _fill(self) -> None:
        ordered = sorted(self.items, key=sort_key(self.sort_column), reverse=self.descending)
        ordered.sort(key=lambda item: item.get("type") != "dir")  # stable: folders first
        self.tree.delete(*self.tree.get_children())
        for index, item in enumerate(ordered):
            is_dir = item.get("type") == "dir"
            size = "—" if is_dir else format_size(int(item.get("size", 0)))
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.get("mtime", 0)))
            name = item["name"] + ("/" if is_dir else "")
            self.tree.insert("", "end", iid=str(index), values=(name, size, stamp),
                             tags=("dir",) if is_dir else ())
        self._ordered = ordered
        for name, title, _width, _anchor in COLUMNS:
            mark = (" ▼" if self.descending else " ▲") if name == self.sort_column else ""
            self.tree.heading(name, text=title + mark)

    def sort_by(self, column: str) -> None:
        if column == self.sort_column:
            self.descending = not self.descending
        else:
            self.sort_column, self.descending = column, False
        self._fill()

    def _on_double(self, event: tk.Event) -> str | None:
        row = self.tree.identify_row(event.y)
        if not row:
            return None
        self.tree.selection_set(row)
        self.open_selected()
        return "break"

    def open_selected(self) -> None:
        for row in self.tree.selection():
            item = self._ordered[int(row)]
            self.on_open(join(self.path, item["name"]), item)

    def go_up(self) -> None:
        if self.path:
            self.on_list(parent(self.path))

    def refresh(self) -> None:
        self.on_list(self.path)

    def describe(self) -> dict[str, Any]:
        """What the listing shows, and where (for the test hook)."""
        rows = []
        for row in self.tree.get_children():
            bbox = self.tree.bbox(row)
            x, y = self.tree.winfo_rootx(), self.tree.winfo_rooty()
            where = [x + bbox[0], y + bbox[1], bbox[2], bbox[3]] if bbox else None
            rows.append({"values": [str(v) for v in self.tree.item(row, "values")],
                         "box": where})
        headings = {name: self.tree.heading(name, "text") for name, *_ in COLUMNS}
        return {"path": self.path_entry.get(), "rows": rows, "headings": headings,
                "heading_boxes": self._heading_boxes(), "up": box(self.up_button)}

    def _heading_boxes(self) -> dict[str, list[int]]:
        x, y = self.tree.winfo_rootx(), self.tree.winfo_rooty()
        boxes, left = {}, 0
        for name, *_ in COLUMNS:
            width = int(self.tree.column(name, "width"))
            boxes[name] = [x + left, y, width, 20]
            left += width
        return boxes
