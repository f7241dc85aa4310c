"""``hosepipe gui --form``: the chapter's getfile front end, on the reusable Form.

Server, Port, File and Local folder; Submit (or Return) fetches the file on a worker
thread -- the window keeps drawing and the Close button cancels -- with the framed
protocol when the server speaks it (resumable, SHA-256 verified) and the classic one
otherwise (nothing verified; the window says so). The status line says where the file
went. The fields are remembered for the next run.
"""

from __future__ import annotations

import tkinter as tk
from pathlib import Path, PurePosixPath
from tkinter import ttk

from hosepipe.address import InetAddress, parse_address
from hosepipe.gui import settings as store
from hosepipe.gui import testhook
from hosepipe.gui.form import Form, Values
from hosepipe.gui.remote import Endpoint, Fetched, describe, fetch_any
from hosepipe.gui.settings import Settings
from hosepipe.gui.tasks import Cancel
from hosepipe.gui.window import Shell
from hosepipe.units import format_size

__all__ = ["GetfileForm"]

SERVER, PORT, FILE, FOLDER = "Server", "Port", "File", "Local folder"


def address_of(server: str, port: str) -> str:
    """``tcp://HOST:PORT`` from the two fields (``tls://HOST`` in Server keeps TLS)."""
    scheme, _, host = server.strip().rpartition("://")
    host = host.strip("[]")
    if not host:
        raise ValueError("Server is empty: a host name or address, e.g. 127.0.0.1")
    if not port.strip().isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"Port {port.strip()!r} is not a port number (1 to 65535)")
    host = f"[{host}]" if ":" in host else host
    return f"{scheme or 'tcp'}://{host}:{int(port)}"


class GetfileForm(Form):
    def __init__(self, root: tk.Tk, settings: Settings, *, address: str | None = None,
                 timeout: float = 30.0, hello_timeout: float = 3.0,
                 authkey_file: str = "", ca_file: str = "", folder: str | None = None) -> None:
        self.settings = settings
        self.endpoint_options = (authkey_file, ca_file, timeout)
        self.hello_timeout = hello_timeout
        defaults = {SERVER: settings.form_server, PORT: settings.form_port, FILE: "",
                    FOLDER: folder or settings.form_dir or str(Path.cwd())}
        if address is not None:
            parsed = parse_address(address)
            if isinstance(parsed, InetAddress):
                scheme = "tls://" if parsed.scheme == "tls" else ""
                defaults[SERVER], defaults[PORT] = scheme + parsed.host, str(parsed.port)
        super().__init__(root, defaults, submit_text="Submit", cancel_text="Close")
        self.shell = Shell(root, "hosepipe getfile", show_error=lambda text: self.say(
            text, error=True), cancel_all=self._cancel_fetch)
        self.progress = ttk.Progressbar(self, mode="determinate", maximum=1)
        self.add_row(self.progress)
        self.pack(fill="both", expand=True)
        self.fetching: Cancel | None = None
        self._counts = [0, 0]  # written by the worker: bytes done, bytes in all
        self.shell.pump.ticks.append(self._show_progress)
        self.trace = testhook.install(root, self.describe, lambda: self.fetching is not None)
        if self.trace is not None:
            self.shell.before_destroy.append(self.trace.close)

    def _request(self, values: Values) -> tuple[Endpoint, str, Path]:
        address = address_of(values[SERVER], values[PORT])
        path = values[FILE].strip().lstrip("/")
        if not path:
            raise ValueError("File is empty: the path of a file on the server")
        folder = Path(values[FOLDER].strip() or ".").expanduser()
        if not folder.is_dir():
            raise ValueError(f"Local folder {str(folder)!r} is not a folder")
        endpoint = Endpoint(address, *self.endpoint_options)
        endpoint.check()
        return endpoint, path, folder / PurePosixPath(path).name

    def on_submit(self, values: Values) -> None:
        if self.fetching is not None:
            return
        try:
            endpoint, path, dest = self._request(values)
        except (ValueError, OSError) as exc:
            self.say(str(exc), error=True)
            return
        except Exception as exc:  # a bad address or key file
            self.say(describe(exc), error=True)
            return
        self._remember(values)
        cancel = self.fetching = Cancel()
        self._counts[:] = [0, 0]
        self.busy(True)
        self.say(f"Fetching {path} from {endpoint.address} …")

        def progress(done: int, total: int) -> None:
            self._counts[:] = [done, total]

        self.shell.pump.submit(
            lambda: fetch_any(endpoint, path, dest, progress=progress, cancel=cancel,
                              hello_timeout=self.hello_timeout),
            self._fetched, self._failed, name="fetch")

    def _remember(self, values: Values) -> None:
        self.settings.form_server, self.settings.form_port = values[SERVER], values[PORT]
        self.settings.form_dir = values[FOLDER]
        store.save(self.settings)

    def _show_progress(self) -> None:
        if self.fetching is None:
            return
        done, total = self._counts
        if total:
            self.progress.configure(mode="determinate", maximum=total, value=done)
            self.say(f"Fetching … {format_size(done)} of {format_size(total)}")
        elif done:
            self.progress.configure(mode="determinate", maximum=max(done, 1), value=done)
            self.say(f"Fetching … {format_size(done)} (the classic protocol gives no size)")

    def _finish(self) -> None:
        self.fetching = None
        self.busy(False)
        self.entries[FILE].focus_set()
        self.entries[FILE].selection_range(0, "end")

    def _fetched(self, fetched: Fetched) -> None:
        self._finish()
        self.progress.configure(maximum=max(fetched.size, 1), value=max(fetched.size, 1))
        where = f"Saved {fetched.dest} ({format_size(fetched.size)})"
        if fetched.protocol == "framed":
            self.say(f"{where}: framed protocol, SHA-256 verified ({fetched.sha256})")
        elif fetched.size == 0:
            self.say(f"{where}: classic protocol, NOT verified. The server sent nothing: "
                     "in this protocol a refused path and an empty file look alike.",
                     error=True)
        else:
            self.say(f"{where}: classic protocol, NOT verified (it carries no checksum)")

    def _failed(self, exc: BaseException) -> None:
        cancelled = self.fetching is not None and self.fetching.cancelled
        self._finish()
        self.progress.configure(value=0)
        self.say("Cancelled." if cancelled else f"Failed: {describe(exc)}", error=not cancelled)

    def _cancel_fetch(self) -> None:
        if self.fetching is not None:
            self.fetching.cancel()

    def on_cancel(self) -> None:
        """Close cancels a fetch in progress; otherwise it closes the window."""
        if self.fetching is not None:
            self.say("Cancelling …")
            self.fetching.cancel()
        else:
            self.shell.close()

    def describe(self) -> dict[str, object]:
        """What the window shows (for the test hook)."""
        return {"mode": "form", "fields": self.values(),
                "status": {"text": str(self.status.cget("text")),
                           "error": str(self.status.cget("foreground")) != ""},
                "busy": self.fetching is not None,
                "progress": [float(self.progress.cget("value")),
                             float(self.progress.cget("maximum"))]}
