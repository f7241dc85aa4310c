"""Where there is no display, ``hosepipe gui`` says so in one line (no Tk traceback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.gui.conftest import WAIT


def run_gui(*args: str, display: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    if display is not None:
        env["DISPLAY"] = display
    return subprocess.run([sys.executable, "-m", "hosepipe", "gui", *args], env=env,
                          capture_output=True, text=True, timeout=WAIT, check=False)


@pytest.mark.parametrize("args", [[], ["--form"]])
def test_no_display_set(args: list[str]) -> None:
    result = run_gui(*args, display=None)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("hosepipe: error: no display (DISPLAY is not set; run it in a "
                             "desktop session, over ssh -X, or under xvfb-run)\n")


def test_a_display_that_cannot_be_opened() -> None:
    result = run_gui(display="/nonexistent/hosepipe-test:0")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("hosepipe: error: no display (cannot open "
                                    "DISPLAY=/nonexistent/hosepipe-test:0: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_bad_timeouts_are_usage_errors() -> None:
    result = run_gui("--timeout", "0", display=None)
    assert result.returncode == 2
    assert "'0' is not a number of seconds above 0" in result.stderr


def test_help_has_examples() -> None:
    result = run_gui("--help", display=None)
    assert result.returncode == 0
    assert "hosepipe gui --form" in result.stdout and "gui.json" in result.stdout
