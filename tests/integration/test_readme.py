"""The README's library example runs as written (with the address made private)."""

from __future__ import annotations

import contextlib
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hosepipe
from hosepipe import Client, RemoteError

README = Path(__file__).parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_service_example(tmp_path: Path) -> None:
    server_code, client_code = python_blocks()[:2]
    address = f"unix://{tmp_path}/stats.sock"
    server_code = server_code.replace("tcp://127.0.0.1:7000", address)
    process = subprocess.Popen([sys.executable, "-c", server_code], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not (tmp_path / "stats.sock").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        sync_part = client_code.split("client = await")[0].replace("127.0.0.1:7000", address)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(sync_part, {"hosepipe": hosepipe})
        assert printed.getvalue() == "{'n': 3, 'mean': 2.0}\n"
        with Client(address) as client, pytest.raises(RemoteError, match="non-empty"):
            client.request([])
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(15) == 0
        assert process.stderr is not None
        process.stderr.close()
