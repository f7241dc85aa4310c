"""What the window remembers between runs: the connect bar, the local folder, the form.

One small JSON file, ``$XDG_CONFIG_HOME/hosepipe/gui.json`` (``~/.config/hosepipe/`` by
default), written atomically (a temporary file renamed over it). It holds names of
files, never a key. A missing, unreadable or malformed file is not an error: the window
starts from defaults and says so in the log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from hosepipe.files.client import DEFAULT_ADDRESS

__all__ = ["Settings", "config_path", "default_folder", "load", "save"]

log = logging.getLogger("hosepipe.gui")


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hosepipe" / "gui.json"


def default_folder() -> str:
    downloads = Path.home() / "Downloads"
    return str(downloads if downloads.is_dir() else Path.cwd())


@dataclass
class Settings:
    address: str = DEFAULT_ADDRESS
    authkey_file: str = ""
    ca_file: str = ""
    local_dir: str = ""
    form_server: str = "127.0.0.1"
    form_port: str = "50001"
    form_dir: str = ""

    @classmethod
    def from_json(cls, data: Any) -> Settings:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: str(v) for k, v in data.items() if k in known and v is not None})


def load(path: Path | None = None) -> Settings:
    path = path or config_path()
    try:
        return Settings.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return Settings()


def save(settings: Settings, path: Path | None = None) -> None:
    """Write ``settings``; a failure is logged, never raised (it must not stop a close)."""
    path = path or config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".gui-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(asdict(settings), file, indent=2)
                file.write("\n")
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as exc:
        log.warning("cannot save the settings to %s: %s", path, exc.strerror or exc)
