"""``hosepipe bench --models ...``: the tutorial's "choosing a server scheme", measured.

For each model, :func:`bench_models` starts ``hosepipe serve SERVICE@tcp://127.0.0.1:0
--model MODEL`` as a child process, reads the address it bound from its first line,
runs the same bench against it, and stops it with SIGTERM before the next model, so
every model gets the machine to itself. The results come back in the order asked, for
one comparison table.

The iterative model serves one connection at a time: with several clients, the others
wait in the listen queue until the first one is done, and their waiting is latency.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hosepipe.errors import ConnectError, UsageError
from hosepipe.servers import MODELS
from hosepipe.tools.bench import BenchOptions, BenchResult, Progress, bench

__all__ = ["bench_models", "parse_models", "served"]

START_TIMEOUT = 30.0


def parse_models(text: str) -> tuple[str, ...]:
    names = tuple(filter(None, (n.strip() for n in text.split(","))))
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise UsageError(f"--models: unknown {', '.join(unknown) or '(none given)'}; "
                         f"choose from {','.join(MODELS)}")
    return names


@contextmanager
def served(service: str, model: str) -> Iterator[str]:
    """``hosepipe serve SERVICE`` under ``model`` on a free port; yields its address."""
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - a file: a full pipe would block it
    process = subprocess.Popen(
        [sys.executable, "-m", "hosepipe", "-q", "serve", f"{service}@tcp://127.0.0.1:0",
         "--model", model], stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    try:
        line = _first_line(process)
        if not line:
            log.seek(0)
            raise ConnectError(f"hosepipe serve --model {model} did not start: "
                               f"{log.read().strip()[-500:]}")
        yield line.split()[1]
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        log.close()


def _first_line(process: subprocess.Popen[str]) -> str:
    """The server's first line, or "" if it exits or says nothing in time."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    if reader.is_alive():
        process.kill()  # ends the readline too
        reader.join()
        return ""
    return lines[0] if lines else ""


def bench_models(models: tuple[str, ...], options: BenchOptions, *,
                 progress: Callable[[str], Progress | None] | None = None) -> list[BenchResult]:
    """One bench per model, each against its own fresh server; stops at Ctrl-C with the
    runs so far (the last one marked interrupted)."""
    options.check()
    results = []
    for model in models:
        with served(options.service, model) as address:
            result = bench(address, options, label=model,
                           progress=progress(model) if progress else None)
        results.append(result)
        if result.interrupted:
            break
    return results
