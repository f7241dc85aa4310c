"""Fuzz targets: each takes arbitrary bytes and must either accept them or reject them
with hosepipe's own error, never raise anything else and never hang.

The same functions run under Hypothesis in ``make test`` (tests/unit/test_fuzz.py, a
short run) and under atheris in ``make fuzz`` (fuzz/run.py, coverage-guided, longer).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Callable

from hosepipe.errors import HosepipeError
from hosepipe.files.sandbox import Refused, Sandbox
from hosepipe.service import Context, SendFile
from hosepipe.services import make_service
from hosepipe.wire import ClassicDecoder, FrameDecoder, get_codec
from hosepipe.wire.auth import Handshake, Role

__all__ = ["TARGETS"]

KEY = b"fuzzing-key-of-enough-length"


def frames(data: bytes) -> None:
    decoder = FrameDecoder(max_frame=4096)
    try:
        for start in range(0, len(data), 7):  # odd splits too
            decoder.feed(data[start : start + 7])
            while decoder.next_frame() is not None:
                pass
    except HosepipeError:
        return


def classic(data: bytes) -> None:
    decoder = ClassicDecoder(max_line=64)
    try:
        for index, byte in enumerate(data):
            if byte == 0xFE and index % 2:
                decoder.pause()
            else:
                decoder.feed(bytes([byte]))
            while decoder.next_message() is not None:
                pass
        decoder.end_of_stream()
    except HosepipeError:
        return


def codecs(data: bytes) -> None:
    for name in ("json", "msgpack", "text", "bytes"):
        try:
            get_codec(name).decode(data)
        except HosepipeError:
            continue


def _nested(data: bytes) -> bytes:
    """A nesting bomb built from the input: deep arrays/maps in JSON and msgpack."""
    depth = 100 + (data[0] if data else 0) * 200
    return b"[" * depth + data[1:] + b"]" * depth


def codec_bombs(data: bytes) -> None:
    bomb = _nested(data)
    for name in ("json", "msgpack"):
        try:
            get_codec(name).decode(bomb if name == "json" else b"\x91" * len(bomb))
        except HosepipeError:
            continue


def handshake(data: bytes) -> None:
    for role in (Role.SERVER, Role.CLIENT):
        machine = Handshake(KEY, role, b"n" * 40)
        machine.start()
        try:
            for start in range(0, len(data), 64):
                if machine.done:
                    break
                machine.receive(data[start : start + 64])
        except HosepipeError:
            continue


def services(data: bytes) -> None:
    """Every built-in conversation fed the bytes: actions come back, nothing else."""
    for name in ("echo", "square", "upper", "ni"):
        conversation = make_service(name).conversation(Context())
        for action in conversation.opened():
            if isinstance(action, SendFile):
                action.close()
        for start in range(0, len(data), 5):
            conversation.data_received(data[start : start + 5])
        conversation.eof_received()


@functools.cache
def _fuzz_root() -> str:
    """A small tree with a link out, made on first use and removed at exit."""
    base = tempfile.mkdtemp(prefix="hosepipe-fuzz-")
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    os.makedirs(os.path.join(base, "root", "docs"))
    with open(os.path.join(base, "root", "docs", "a.txt"), "w") as file:
        file.write("a")
    with open(os.path.join(base, "secret.txt"), "w") as file:
        file.write("secret")
    os.symlink("../secret.txt", os.path.join(base, "root", "out"))
    return os.path.join(base, "root")


def check_path(sandbox: Sandbox, path: str) -> None:
    """Whatever ``path`` is, what opens is a file inside the root and not hidden, and a
    listing shows nothing hidden (the invariant of the sandbox, for fuzzers and tests)."""
    real_root = sandbox.root
    try:
        fd, _ = sandbox.open_file(path)
    except Refused:
        pass
    else:
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        if not real.startswith(real_root + os.sep) or "/." in real[len(real_root):]:
            raise AssertionError(f"{path!r} escaped the root or reached a hidden file: {real}")
    try:
        names = [item.name for item in sandbox.listing(path)]
    except Refused:
        return
    if any(name.startswith(".") for name in names):
        raise AssertionError(f"listing {path!r} showed hidden names: {names}")


def paths(data: bytes) -> None:
    sandbox = Sandbox(_fuzz_root())  # per input: holds no descriptor between inputs
    try:
        check_path(sandbox, data.decode("utf-8", "surrogateescape"))
    finally:
        sandbox.close()


TARGETS: dict[str, Callable[[bytes], None]] = {
    "frames": frames,
    "classic": classic,
    "codecs": codecs,
    "codec_bombs": codec_bombs,
    "handshake": handshake,
    "services": services,
    "paths": paths,
}
