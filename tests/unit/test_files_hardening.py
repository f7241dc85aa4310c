"""The file service's own parts, hardened: the shared checksum cache, the sandbox
opening nothing it refuses, hard links, upload names, reservations and orphans."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hosepipe.files.checksum import ChecksumCache
from hosepipe.files.sandbox import Refused, Sandbox
from hosepipe.files.uploads import check_upload_name, sweep_stale
from hosepipe.service import ServiceError
from tests.conftest import FileTree

ROOT = Path(__file__).parents[2]


# -- the checksum cache -------------------------------------------------------------------

def in_child(work: object) -> None:
    """Run ``work()`` in a forked child; fail unless it exits 0."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work()  # type: ignore[operator]
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_hash_made_in_a_forked_child_serves_the_parent(tmp_path: Path) -> None:
    served = tmp_path / "served.bin"
    served.write_bytes(os.urandom(300_000))
    decoy = tmp_path / "decoy.bin"
    decoy.write_bytes(b"")
    cache = ChecksumCache()
    try:
        def hash_in_child() -> None:
            fd = os.open(served, os.O_RDONLY)
            cache.sha256(fd, os.fstat(fd))

        in_child(hash_in_child)
        # the decoy's descriptor with the served file's identity: only a hit gives the
        # served file's hash (a miss would hash the empty decoy)
        fd = os.open(decoy, os.O_RDONLY)
        try:
            assert cache.sha256(fd, served.stat()) == hashlib.sha256(
                served.read_bytes()).hexdigest()
        finally:
            os.close(fd)
    finally:
        cache.close()


def digest_of(key: tuple[int, int, int, int]) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()


def test_the_cache_is_bounded_and_safe_under_concurrent_writers() -> None:
    cache = ChecksumCache(capacity=64)
    keys = [(7, inode, inode * 10, inode * 100) for inode in range(1, 400)]
    try:
        def write(part: int) -> None:
            for key in keys[part::4]:
                cache.store(key, digest_of(key))
                found = cache.lookup(key)
                assert found in (None, digest_of(key))

        pids = []
        for part in range(4):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    write(part)
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        for pid in pids:
            assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        held = {key: cache.lookup(key) for key in keys}
        kept = [key for key, value in held.items() if value is not None]
        assert 0 < len(kept) <= 64
        assert all(held[key] == digest_of(key) for key in kept)  # no torn or mixed slot
        newer = (7, 5, 51, 501)  # a new version of inode 5 takes its old slot
        cache.store(newer, digest_of(newer))
        assert cache.lookup((7, 5, 50, 500)) is None and cache.lookup(newer) is not None
    finally:
        cache.close()


# -- the sandbox opens nothing it refuses ---------------------------------------------------

IN_OPEN = 0x20
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC


class OpenWatch:
    """inotify IN_OPEN on one path: did anything open it?"""

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        assert self.fd >= 0
        if libc.inotify_add_watch(self.fd, os.fsencode(path), IN_OPEN) < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), "inotify_add_watch")

    def opened(self) -> bool:
        try:
            return bool(os.read(self.fd, 4096))
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def sandbox(tree: FileTree) -> Iterator[Sandbox]:
    box = Sandbox(str(tree.root))
    yield box
    box.close()


def specials(root: Path) -> list[Path]:
    """A FIFO, and where we may make one, a character device (a copy of /dev/null)."""
    made = [root / "fifo"]
    try:
        os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        made.append(root / "null")
    except PermissionError:
        pass
    return made


def test_devices_and_fifos_are_refused_without_being_opened(tree: FileTree,
                                                            sandbox: Sandbox) -> None:
    for special in specials(tree.root):
        watch = OpenWatch(special)
        try:
            with pytest.raises(Refused, match="not a regular file"):
                sandbox.open_file(special.name)
            listed = {item.name for item in sandbox.listing("")}
            assert special.name not in listed and "docs" in listed
            assert not watch.opened(), f"{special.name} was opened"
        finally:
            watch.close()


def test_paths_that_are_not_text_are_refused(tree: FileTree, sandbox: Sandbox) -> None:
    with pytest.raises(Refused, match="not valid text"):
        sandbox.open_file("docs/\ud800")  # a lone surrogate names no file
    (tree.root / os.fsdecode(b"docs/latin-\xe9.txt")).write_bytes(b"bytes")
    fd, _ = sandbox.open_file("docs/latin-\udce9.txt")  # a classic client's raw bytes
    os.close(fd)
    assert "latin-\udce9.txt" not in {i.name for i in sandbox.listing("docs")}


def test_a_hard_link_from_outside_is_served_unless_single_link(tree: FileTree) -> None:
    os.link(tree.outside / "secret.txt", tree.root / "linked.txt")
    open_box = Sandbox(str(tree.root))
    strict = Sandbox(str(tree.root), single_link=True)
    try:
        fd, _ = open_box.open_file("linked.txt")  # documented: a link is the same file
        os.close(fd)
        with pytest.raises(Refused, match="2 hard links"):
            strict.open_file("linked.txt")
        fd, _ = strict.open_file("docs/report.txt")  # one link: served
        os.close(fd)
    finally:
        open_box.close()
        strict.close()


# -- uploads --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a\x1b[31mred", "tab\there", "bell\x07", "rtl\u202eexe.txt",
                                  "line\u2028break", "a/b", ".hidden", "x" * 256])
def test_upload_names_must_read_as_what_they_are(name: str) -> None:
    with pytest.raises(ServiceError) as info:
        check_upload_name(name)
    assert info.value.code == "refused"
    assert "\x1b" not in info.value.message and "\u202e" not in info.value.message


def test_upload_names_that_are_fine() -> None:
    for name in ("report.pdf", "Zoë's notes.txt", "日本語.txt", "a b"):
        assert check_upload_name(name) == name


def make_temporary(directory: Path, name: str, age: float) -> Path:
    path = directory / name
    path.write_bytes(b"half an upload")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_the_sweep_removes_only_orphans(tmp_path: Path) -> None:
    orphan = make_temporary(tmp_path, ".a.bin.upload-abcd1234", 7200)
    fresh = make_temporary(tmp_path, ".b.bin.upload-abcd1234", 10)
    held = make_temporary(tmp_path, ".c.bin.upload-abcd1234", 7200)
    unlike = make_temporary(tmp_path, ".d.bin.upload-abc", 7200)
    visible = make_temporary(tmp_path, "e.bin.upload-abcd1234", 7200)
    os.symlink(unlike, tmp_path / ".f.bin.upload-abcd1234")
    holder = os.open(held, os.O_RDONLY)  # as a live upload (another server's) holds it
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        assert sweep_stale(str(tmp_path), 3600) == 1
    finally:
        os.close(holder)
    assert not orphan.exists()
    assert fresh.exists() and held.exists() and unlike.exists() and visible.exists()
    assert os.path.lexists(tmp_path / ".f.bin.upload-abcd1234")
    assert sweep_stale(str(tmp_path), 3600) == 1  # released: now an orphan
    assert not held.exists()


RESERVE = """
import json, os, subprocess, sys
from hosepipe.files.uploads import UploadSink
from hosepipe.service import ServiceError
directory = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", directory], check=True)
mib = 1024 * 1024
out = []
def put(name):
    try:
        sink = UploadSink(directory, name, 30 * mib, "0" * 64)
    except ServiceError as exc:
        out.append(exc.code)
        return None
    out.append("ready")
    return sink
first = put("first.bin")
out.append(os.path.getsize(first.temporary))
second = put("second.bin")
first.abort()
third = put("third.bin")
third.write(b"x" * mib)
third.abort()
out.append(sorted(os.listdir(directory)))
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare (a private tmpfs)")
def test_an_accepted_upload_reserves_its_room(tmp_path: Path) -> None:
    """64 MiB of disk: one 30 MiB upload fits with the 16 MiB margin, a second one at
    the same time does not, and it does again once the first is gone."""
    disk = tmp_path / "disk"
    disk.mkdir()
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", RESERVE,
         str(disk)], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    if result.returncode != 0 and "mount" in result.stderr and errno.errorcode:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()[-200:]}")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["ready", 30 * 1024 * 1024, "no-space", "ready", []]
