"""The sandbox: a path is served only if it resolves inside the root.

Paths are walked component by component from a descriptor of the root, every
``open`` with ``O_NOFOLLOW`` relative to the directory before it (``dir_fd``), and the
final descriptor is checked with ``fstat`` -- so what is checked is what is served,
with no window between a check and an open. A symlink met on the way is read and
resolved lexically against the (real, symlink-free) directories walked so far; if the
result stays inside the root, the walk starts again from the root with it, else the
path is refused. Refused outright: empty paths, NUL bytes, absolute paths, ``..`` that
would climb out, hidden components (unless allowed), text that is not a file name
(lone surrogates), and anything that is not a regular file (or directory, for
listings): devices, FIFOs, sockets. Those are refused from an ``lstat`` before any
``open`` (opening a device can act: rewind a tape, take a terminal), and the open itself
carries ``O_NOCTTY | O_NONBLOCK`` in case the name was swapped in between.

A hard link is the same file under another name, and nothing on the file tells which
name is "inside": a file linked from outside the root into it is served like any
other. ``single_link=True`` refuses regular files with more than one link (see
docs/security.md).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass

__all__ = ["Listing", "Refused", "Sandbox"]

MAX_PATH = 4096
MAX_SYMLINKS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = (os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY  # a FIFO won't block,
               | os.O_CLOEXEC)                                            # a tty won't be ours


class Refused(Exception):
    """The path may not be served; ``code`` is ``refused`` or ``not-found``."""

    def __init__(self, reason: str, code: str = "refused") -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Listing:
    name: str
    type: str  # "file" or "dir"
    size: int
    mtime: float


def _refuse_special(name: str, dir_fd: int) -> None:
    """Refuse a device, FIFO or socket before it is opened (a symlink is left to the
    open, which fails with ELOOP and is resolved by the walk)."""
    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
        raise Refused(f"{name!r} is not a regular file")


def _text(name: str) -> bool:
    """True if the name is valid UTF-8 (others cannot be asked for in a framed request,
    nor sent in a reply; the classic protocol still serves them by their bytes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Sandbox:
    """Opens files and directories under ``root`` and nowhere else."""

    def __init__(self, root: str, *, hidden: bool = False, single_link: bool = False) -> None:
        self.root = os.path.realpath(root)
        self.hidden = hidden
        self.single_link = single_link
        try:
            self.root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise FileNotFoundError(exc.errno, f"cannot open the root: {exc.strerror}",
                                    self.root) from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.root_fd)

    # -- paths ----------------------------------------------------------------------
    def parts(self, path: str) -> list[str]:
        """The components of a client's path, or :class:`Refused` saying why not."""
        if not isinstance(path, str) or not path.strip():
            raise Refused("empty path")
        if "\0" in path:
            raise Refused("NUL byte in path")
        try:
            encoded = os.fsencode(path)
        except UnicodeEncodeError:
            raise Refused("the path is not valid text") from None
        if len(encoded) > MAX_PATH:
            raise Refused("path too long")
        if path.startswith("/"):
            raise Refused("absolute path")
        return self._normalize([], path.split("/"))

    def _normalize(self, base: list[str], parts: list[str]) -> list[str]:
        out = list(base)
        for part in parts:
            if part in ("", "."):
                continue
            if part == "..":
                if not out:
                    raise Refused("path leads outside the root")
                out.pop()
                continue
            if part.startswith(".") and not self.hidden:
                raise Refused(f"hidden name {part!r}")
            out.append(part)
        return out

    # -- opening --------------------------------------------------------------------
    def _walk(self, parts: list[str], final_flags: int) -> int:
        """Open ``parts`` from the root, resolving symlinks that stay inside."""
        for _ in range(MAX_SYMLINKS):
            fd = os.dup(self.root_fd)
            try:
                for index, part in enumerate(parts):
                    last = index == len(parts) - 1
                    try:
                        if last:
                            _refuse_special(part, fd)
                        next_fd = os.open(part, final_flags if last else _DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                            raise
                        link = self._readlink(part, fd, exc)
                        parts = self._through_link(parts[:index], link, parts[index + 1 :])
                        break
                    os.close(fd)
                    fd = next_fd
                else:
                    result, fd = fd, -1
                    return result
            finally:
                if fd >= 0:
                    os.close(fd)
        raise Refused("too many symlinks")

    @staticmethod
    def _readlink(part: str, dir_fd: int, cause: OSError) -> str:
        try:
            return os.readlink(part, dir_fd=dir_fd)
        except OSError:
            raise Refused(f"{part!r} is not a directory", "not-found") from cause

    def _through_link(self, walked: list[str], link: str, rest: list[str]) -> list[str]:
        if link.startswith("/"):
            inside = os.path.relpath(os.path.normpath(link), self.root)
            if inside == ".." or inside.startswith("../"):
                raise Refused("symlink leads outside the root")
            return self._normalize([], [*inside.split("/"), *rest])
        return self._normalize(walked, [*link.split("/"), *rest])

    def open_file(self, path: str) -> tuple[int, os.stat_result]:
        """An open descriptor of the regular file at ``path``, and its stat."""
        parts = self.parts(path)
        try:
            fd = self._walk(parts, _FILE_FLAGS)
        except FileNotFoundError:
            raise Refused(f"no such file: {path}", "not-found") from None
        except PermissionError:
            raise Refused(f"permission denied: {path}") from None
        except IsADirectoryError:
            raise Refused(f"{path} is a directory") from None
        except OSError as exc:
            raise Refused(f"{path}: {exc.strerror}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise Refused(f"{path} is {kind}")
        if self.single_link and info.st_nlink > 1:
            os.close(fd)
            raise Refused(f"{path} has {info.st_nlink} hard links (single_link is on)")
        os.set_blocking(fd, True)
        return fd, info

    def dir_parts(self, path: str) -> list[str]:
        """Like :meth:`parts`, but "", "." and "/" name the root itself."""
        return [] if path.strip() in ("", ".", "/") else self.parts(path)

    def open_dir(self, path: str) -> int:
        parts = self.dir_parts(path)
        try:
            return self._walk(parts, _DIR_FLAGS) if parts else os.dup(self.root_fd)
        except FileNotFoundError:
            raise Refused(f"no such directory: {path}", "not-found") from None
        except NotADirectoryError:
            raise Refused(f"{path} is not a directory") from None
        except OSError as exc:
            raise Refused(f"{path}: {exc.strerror}") from None

    def listing(self, path: str) -> list[Listing]:
        """Files and directories in ``path``; symlinks only where they stay inside."""
        fd = self.open_dir(path)
        prefix = "/".join(self.dir_parts(path))
        try:
            with os.scandir(fd) as entries:
                names = sorted(entry.name for entry in entries)
        finally:
            os.close(fd)
        out = []
        for name in names:
            if (name.startswith(".") and not self.hidden) or not _text(name):
                continue
            item = self._describe(f"{prefix}/{name}" if prefix else name, name)
            if item is not None:
                out.append(item)
        return out

    def _describe(self, path: str, name: str) -> Listing | None:
        """One walk (the file flags open directories too, and never block on a FIFO)."""
        try:
            fd = self._walk(self.parts(path), _FILE_FLAGS)
        except (Refused, OSError):
            return None  # outside the root, hidden, a dangling or looping link
        try:
            info = os.fstat(fd)
        finally:
            os.close(fd)
        if stat.S_ISREG(info.st_mode):
            return Listing(name, "file", info.st_size, info.st_mtime)
        if stat.S_ISDIR(info.st_mode):
            return Listing(name, "dir", 0, info.st_mtime)
        return None  # a device, a FIFO, a socket
