"""``hosepipe gui``: the file client window.

From the top: a connect bar (address, authkey file, CA file for ``tls://``; remembered
between runs), the remote listing (:mod:`hosepipe.gui.browser`), the transfers with the
local folder (:mod:`hosepipe.gui.transferlist`), and a status line where every error
lands. Each listing and each transfer runs on a worker thread over a connection of its
own (:mod:`hosepipe.gui.tasks`), so the window never waits on the network; a listing
that comes back after a newer one was asked for is dropped. Closing the window cancels
every transfer (download parts are kept for Resume) and remembers the settings.

Keys: Ctrl+L the address, Return in it connects; F5 refresh; Ctrl+U upload; Return on
a row opens or downloads it; BackSpace goes up; Ctrl+Q closes.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk
from typing import Any

from hosepipe.errors import HosepipeError
from hosepipe.gui import settings as store
from hosepipe.gui import testhook
from hosepipe.gui.browser import Browser, Item
from hosepipe.gui.remote import Endpoint, describe
from hosepipe.gui.settings import Settings, default_folder
from hosepipe.gui.tasks import Cancel
from hosepipe.gui.testhook import box
from hosepipe.gui.transferlist import ERROR_COLOUR, TransferList
from hosepipe.gui.transfers import FAILED, RUNNING, Transfer, choose_dest
from hosepipe.gui.window import Shell

__all__ = ["ClientWindow"]


class ClientWindow:
    def __init__(self, root: tk.Tk, settings: Settings, *, address: str | None = None,
                 timeout: float = 30.0, authkey_file: str | None = None,
                 ca_file: str | None = None, folder: str | None = None) -> None:
        self.root, self.settings, self.timeout = root, settings, timeout
        self.shell = Shell(root, "hosepipe files", show_error=self.error,
                           cancel_all=self.cancel_all)
        self.pump = self.shell.pump
        self.endpoint: Endpoint | None = None
        self.transfers: dict[int, Transfer] = {}
        self.listing = Cancel()
        self.generation = 0
        root.geometry("980x620")
        root.minsize(640, 400)
        self.fields = self._connect_bar(address or settings.address,
                                        authkey_file or settings.authkey_file,
                                        ca_file or settings.ca_file)
        self.status = ttk.Label(root, text="Not connected.", anchor="w", padding=(6, 3),
                                relief="sunken")
        self.status.pack(fill="x", side="bottom")  # packed before the panes: never squeezed out
        self.browser, self.transfer_list = self._panes(folder or settings.local_dir
                                                       or default_folder())
        self.pump.ticks.append(self.transfer_list.refresh)
        self._bind_keys()
        self.trace = testhook.install(root, self.describe, self.busy)
        self.shell.before_destroy.append(self._closing)
        root.after_idle(self.connect)
        root.after_idle(self.browser.tree.focus_force)  # a new window takes the keyboard

    def _connect_bar(self, address: str, authkey_file: str, ca_file: str
                     ) -> dict[str, ttk.Entry]:
        bar = ttk.Frame(self.root, padding=6)
        bar.pack(fill="x")
        fields: dict[str, ttk.Entry] = {}
        for column, (name, value, width) in enumerate(
                (("Address", address, 30), ("Authkey file", authkey_file, 18),
                 ("CA file", ca_file, 18))):
            ttk.Label(bar, text=name).grid(row=0, column=column * 3, padx=(8 if column else 0, 4))
            entry = fields[name] = ttk.Entry(bar, width=width)
            entry.insert(0, value)
            entry.grid(row=0, column=column * 3 + 1, sticky="ew")
            entry.bind("<Return>", lambda event: self.connect())
            if name != "Address":
                ttk.Button(bar, text="…", width=2, command=self._chooser(entry, name)
                           ).grid(row=0, column=column * 3 + 2)
            bar.columnconfigure(column * 3 + 1, weight=3 if name == "Address" else 1)
        self.connect_button = ttk.Button(bar, text="Connect", command=self.connect)
        self.connect_button.grid(row=0, column=9, padx=(8, 0))
        return fields

    def _panes(self, folder: str) -> tuple[Browser, TransferList]:
        panes = ttk.PanedWindow(self.root, orient="vertical")
        panes.pack(fill="both", expand=True, padx=6)
        browser = Browser(panes, on_list=self.list_folder, on_open=self.open)
        transfers = TransferList(panes, folder, on_action=self.action, on_upload=self.upload)
        panes.add(browser, weight=3)
        panes.add(transfers, weight=1)
        return browser, transfers

    def _chooser(self, entry: ttk.Entry, name: str) -> Callable[[], None]:
        return lambda: self._choose_file(entry, name)

    def _choose_file(self, entry: ttk.Entry, name: str) -> None:
        chosen = filedialog.askopenfilename(parent=self.root, title=f"Choose the {name}")
        if chosen:
            entry.delete(0, "end")
            entry.insert(0, chosen)

    def _bind_keys(self) -> None:
        self.root.bind_all("<Control-l>", lambda event: self.fields["Address"].focus_set())
        self.root.bind_all("<F5>", lambda event: self.browser.refresh())
        self.root.bind_all("<Control-u>", lambda event: self.upload())

    # -- the status line -------------------------------------------------------------

    def info(self, text: str) -> None:
        self.status.configure(text=text, foreground="")

    def error(self, text: str) -> None:
        self.status.configure(text=text, foreground=ERROR_COLOUR)

    # -- connecting and listing ------------------------------------------------------

    def connect(self) -> None:
        endpoint = Endpoint(self.fields["Address"].get().strip(),
                            self.fields["Authkey file"].get().strip(),
                            self.fields["CA file"].get().strip(), self.timeout)
        try:
            endpoint.check()
        except HosepipeError as exc:
            self.error(describe(exc))
            return
        self.endpoint = endpoint
        self.browser.clear()
        self.list_folder("")

    def list_folder(self, path: str) -> None:
        endpoint = self.endpoint
        if endpoint is None:
            self.error("Not connected: give the server's address and press Connect.")
            return
        self.listing.cancel()  # an older listing still on its way is of no use now
        self.generation += 1
        generation, cancel = self.generation, Cancel()
        self.listing = cancel
        self.info(f"Listing /{path} on {endpoint.address} …")

        def work() -> list[Item]:
            with endpoint.connect() as files:
                cancel.attach(files.client.stream.abort)
                return files.list(path)

        def done(items: list[Item]) -> None:
            if generation == self.generation:
                self._listed(endpoint, path, items)

        def failed(exc: BaseException) -> None:
            if generation == self.generation and not cancel.cancelled:
                self.error(describe(exc))

        self.pump.submit(work, done, failed, name="list")

    def _listed(self, endpoint: Endpoint, path: str, items: list[Item]) -> None:
        self.browser.show(path, items)
        folders = sum(1 for item in items if item.get("type") == "dir")
        self.info(f"{endpoint.address} /{path}: {folders} folders, {len(items) - folders} files")
        remembered = (self.settings.address, self.settings.authkey_file, self.settings.ca_file)
        if remembered != (endpoint.address, endpoint.authkey_file, endpoint.ca_file):
            self.settings.address = endpoint.address
            self.settings.authkey_file = endpoint.authkey_file
            self.settings.ca_file = endpoint.ca_file
            store.save(self.settings)

    def open(self, path: str, item: Item) -> None:
        if item.get("type") == "dir":
            self.list_folder(path)
        else:
            self.download(path)

    # -- transfers -------------------------------------------------------------------

    def _folder(self) -> Path | None:
        folder = Path(self.transfer_list.folder.get().strip() or ".").expanduser()
        if not folder.is_dir():
            self.error(f"The local folder {str(folder)!r} is not a folder; choose another.")
            return None
        return folder

    def download(self, remote: str) -> None:
        folder = self._folder()
        if folder is None or self.endpoint is None:
            return
        dest = choose_dest(folder, remote)
        if any(t.local == dest and t.state == RUNNING for t in self.transfers.values()):
            self.info(f"{dest.name} is already on its way.")
            return
        self.start(Transfer("get", remote, dest, self.endpoint))

    def upload(self) -> None:
        if self.endpoint is None:
            self.error("Not connected: connect before uploading.")
            return
        chosen = filedialog.askopenfilenames(parent=self.root, title="Upload to the server",
                                             initialdir=self.transfer_list.folder.get() or None)
        for name in self.root.tk.splitlist(chosen):
            self.start(Transfer("put", Path(name).name, Path(name), self.endpoint))

    def start(self, transfer: Transfer) -> None:
        transfer.start()
        if transfer.id not in self.transfers:
            self.transfers[transfer.id] = transfer
            self.transfer_list.add(transfer)

        def finished(outcome: str | BaseException) -> None:
            transfer.finish(outcome)
            say = self.error if transfer.state == FAILED else self.info
            say(f"{transfer.title[2:]}: {transfer.message}")

        self.pump.submit(transfer.run, finished, finished, name=f"transfer-{transfer.id}")

    def action(self, transfer: Transfer) -> None:
        """The row's button: Cancel a running transfer, else Resume or Retry it."""
        if transfer.state == RUNNING:
            transfer.cancel.cancel()
        else:
            self.start(transfer)

    def cancel_all(self) -> None:
        self.listing.cancel()
        for transfer in self.transfers.values():
            if transfer.state == RUNNING:
                transfer.cancel.cancel()

    def busy(self) -> bool:
        return any(t.state == RUNNING for t in self.transfers.values())

    def _closing(self) -> None:
        self.transfer_list.refresh()
        self.settings.local_dir = self.transfer_list.folder.get().strip()
        store.save(self.settings)
        if self.trace is not None:
            self.trace.close()

    def describe(self) -> dict[str, Any]:
        """What the window shows (for the test hook)."""
        return {"mode": "client",
                "connect": {name: entry.get() for name, entry in self.fields.items()},
                "status": {"text": str(self.status.cget("text")),
                           "error": str(self.status.cget("foreground")) == ERROR_COLOUR},
                "connect_box": box(self.connect_button),
                **self.browser.describe(), **self.transfer_list.describe()}
