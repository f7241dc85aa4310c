"""files: serve one directory tree, read-only unless an upload directory is given.

Classic (docs/protocols.md): a path and a newline in, the file's bytes out, then close;
anything refused closes at once with no data, and the reason goes to the log.
Framed (first byte 0x00): ``list``, ``stat``, ``get`` (with an ``offset`` to resume;
the reply carries size, mtime and SHA-256 and the file's bytes follow it, sent with
sendfile), and ``put`` into the upload directory (a size limit, room reserved on the
disk, a hidden temporary name, renamed only once complete and verified).

Options: ``root``, ``uploads``, ``max_upload``, ``hidden``; ``single_link`` (refuse
files with more than one hard link); ``upload_stale`` (seconds: at start, upload
temporaries left by a killed server and unchanged this long are deleted).
A refused classic path is logged escaped and cut to ``SHOWN`` characters, at most once
a second with a count of the rest.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hosepipe.conversations.messages import (
    MessageConversation,
    MessageService,
    Offload,
    Streamed,
    Upload,
)
from hosepipe.conversations.switch import FirstByteSwitch
from hosepipe.errors import ProtocolError
from hosepipe.files.checksum import ChecksumCache
from hosepipe.files.sandbox import Refused, Sandbox
from hosepipe.files.uploads import STALE, UploadSink, check_upload_name, sweep_stale
from hosepipe.ratelog import limit_log
from hosepipe.service import CLOSE, Action, Context, Conversation, SendFile, Service, ServiceError
from hosepipe.units import parse_size
from hosepipe.wire.framing import LineDecoder

__all__ = ["Files", "default_root"]

log = logging.getLogger("hosepipe.files")
SHOWN = 100  # characters of a refused path that reach the log


def shown(path: str) -> str:
    """A client's path as it may appear in the log: escaped, and cut."""
    text = path.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= SHOWN else text[:SHOWN] + f"...({len(text)} characters)"


def default_root() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "hosepipe" / "public")


class _ClassicGet(Conversation):
    """One path line in; the file, or nothing, out; then close."""

    def __init__(self, context: Context, files: Files) -> None:
        self.context = context
        self.files = files
        self._lines = LineDecoder(context.limits.max_line)

    def data_received(self, data: bytes) -> list[Action]:
        try:
            self._lines.feed(data)
        except ProtocolError as exc:  # an overlong line: refused like any other bad path
            return self._refuse(str(exc))
        line = self._lines.next_line()
        return [] if line is None else self._serve(line.body)

    @property
    def partial(self) -> bool:
        return self._lines.pending > 0

    def eof_received(self) -> list[Action]:
        rest = self._lines.take_rest()
        return self._serve(rest.body) if rest else [CLOSE]

    def _serve(self, raw: bytes) -> list[Action]:
        path = raw.decode("utf-8", "surrogateescape")
        try:
            fd, info = self.files.sandbox.open_file(path)
        except Refused as exc:
            return self._refuse(f"{exc.code}: {shown(path)}")
        log.info("files: %s gets %s (%d bytes)", self.context.peer, shown(path), info.st_size)
        return [SendFile(fd, 0, info.st_size), CLOSE]

    def _refuse(self, reason: str) -> list[Action]:

        limit_log.warning("files: refused", "files: refused %s: %s", self.context.peer, reason)
        return [CLOSE]


class _FileMessages(MessageService):
    name = "files"

    def __init__(self, files: Files) -> None:
        self.files = files

    def handle(self, request: Any) -> Any:
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            raise ServiceError("bad-request", "a request is a map with an 'op'")
        op = {"list": self._list, "stat": self._stat, "get": self._get,
              "put": self._put}.get(request["op"])
        if op is None:
            raise ServiceError("bad-request", f"unknown op {request['op']!r}; "
                               "known: list, stat, get, put")
        try:
            return op(request)
        except Refused as exc:
            raise ServiceError(exc.code, str(exc)) from None

    def _path(self, request: dict[str, Any], default: str | None = None) -> str:
        path = request.get("path", default)
        if not isinstance(path, str):
            raise ServiceError("bad-request", f"{request['op']} needs a text 'path'")
        return path

    def _list(self, request: dict[str, Any]) -> Any:
        return [vars(item) for item in self.files.sandbox.listing(self._path(request, ""))]

    def _stat(self, request: dict[str, Any]) -> Any:
        fd, info = self.files.sandbox.open_file(self._path(request))
        want = bool(request.get("sha256"))
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if not want or self.files.checksums.lookup(key) is not None:
            return self._stat_of(fd, info, want)  # nothing to read, or the hash is known
        return Offload(lambda: self._stat_of(fd, info, want))

    def _stat_of(self, fd: int, info: os.stat_result, want: bool) -> Any:
        try:
            sha = self.files.checksums.sha256(fd, info) if want else None
        finally:
            os.close(fd)
        return {"size": info.st_size, "mtime": info.st_mtime, "sha256": sha}

    def _get(self, request: dict[str, Any]) -> Any:
        offset = request.get("offset", 0)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ServiceError("bad-request", "offset must be a non-negative integer")
        fd, info = self.files.sandbox.open_file(self._path(request))
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        sha = self.files.checksums.lookup(key)
        if sha is not None:  # known: no reading before sending
            return self._streamed(fd, info, offset, sha)
        return Offload(lambda: self._hashed(fd, info, offset))  # not on a shared loop

    def _hashed(self, fd: int, info: os.stat_result, offset: int) -> Streamed:
        try:
            sha = self.files.checksums.sha256(fd, info)
        except OSError as exc:
            os.close(fd)
            raise ServiceError("io-error", f"cannot read the file: {exc.strerror}") from None
        return self._streamed(fd, info, offset, sha)

    @staticmethod
    def _streamed(fd: int, info: os.stat_result, offset: int, sha: str) -> Streamed:
        offset = min(offset, info.st_size)
        header = {"size": info.st_size, "mtime": info.st_mtime, "sha256": sha, "offset": offset}
        return Streamed(header, [SendFile(fd, offset, info.st_size - offset)])

    def _put(self, request: dict[str, Any]) -> Any:
        if self.files.uploads is None:
            raise ServiceError("refused", "this server takes no uploads")
        name = check_upload_name(request.get("path"))
        size = request.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ServiceError("bad-request", "put needs the file's size in bytes")
        if size > self.files.max_upload:
            raise ServiceError("too-large", f"{size} bytes is over the upload limit of "
                               f"{self.files.max_upload} bytes")
        sink = UploadSink(self.files.uploads, name, size, request.get("sha256"))
        return Upload({"ready": True}, size, sink)


class Files(Service):
    """Files: a directory served read-only, with optional uploads."""

    name = "files"

    def __init__(self, *, root: str | None = None, uploads: str | None = None,
                 max_upload: str | int = "1GiB", hidden: bool = False,
                 single_link: bool = False, upload_stale: float = STALE) -> None:
        """Options:

        root: the directory served; default ``~/.local/share/hosepipe/public``
            (created empty).
        uploads: the directory ``put`` stores files in; default: no uploads taken.
        max_upload: the largest upload accepted (bytes, or with a unit: 500MB, 2GiB).
        hidden: serve and list hidden (dot) names too.
        single_link: refuse regular files with more than one hard link (a link made
            inside the root to a file outside it).
        upload_stale: seconds after which an unfinished upload's temporary file, left
            by a server that died, is removed at start.
        """
        root = os.path.expanduser(root) if root else default_root()
        if root == default_root():
            os.makedirs(root, exist_ok=True)
        self.sandbox = Sandbox(root, hidden=hidden, single_link=bool(single_link))
        self.uploads = os.path.realpath(os.path.expanduser(uploads)) if uploads else None
        if self.uploads is not None and not os.path.isdir(self.uploads):
            raise ValueError(f"the upload directory {self.uploads} does not exist")
        if not isinstance(upload_stale, int | float) or upload_stale <= 0:
            raise ValueError(f"upload_stale must be a positive number of seconds, "
                             f"not {upload_stale!r}")
        if self.uploads is not None:
            sweep_stale(self.uploads, upload_stale)
        self.max_upload = parse_size(max_upload)
        self.checksums = ChecksumCache()
        self._messages = _FileMessages(self)

    def conversation(self, context: Context) -> Conversation:
        return FirstByteSwitch(
            context,
            classic=lambda ctx: _ClassicGet(ctx, self),
            framed=lambda ctx: MessageConversation(self._messages, ctx),
        )

    def close(self) -> None:
        self.sandbox.close()
        self.checksums.close()
