"""What ``hosepipe probe`` makes of the bytes a port sent: pure functions, no I/O.

:func:`decode_banner` reads what a server said first (or in answer to a nudge) and
returns a :class:`Finding`: the service it looks like, a one-line summary for the
table, and the decoded fields for ``--json``. It knows RFC 868 time (four bytes, then
the end of the stream: a date and its offset from our clock), daytime text (parsed
where the format is one of the usual ones), SSH identification strings (RFC 4253),
the greetings of SMTP and FTP (220), POP3 (+OK), IMAP (* OK) and NNTP (200/201),
HTTP status lines with their ``Server`` header, hosepipe's square greeting, and
hosepipe's framed hello. Anything else is shown as text, or as hex if it is not text.
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hosepipe.services.clocks import rfc868_decode
from hosepipe.services.square import GREETING
from hosepipe.wire.hello import MAGIC

__all__ = ["Finding", "decode_banner", "decode_daytime", "decode_frame", "decode_time",
           "shown"]

_DAYTIME_FORMATS = (
    "%a %b %d %H:%M:%S %Y",  # time.ctime(), the usual daytime answer
    "%A, %B %d, %Y %H:%M:%S",  # RFC 867's example, its zone stripped
    "%d %b %y %H:%M:%S",  # RFC 867's other example, its zone stripped
    "%y-%m-%d %H:%M:%S",  # NIST's, after its Modified Julian Day
)
TIME_PORTS = (37, 50037)
DAYTIME_PORTS = (13, 50013)
_IMAP = re.compile(r"\* (OK|PREAUTH|BYE)\b ?(?:\[([^\]]*)\])? ?(.*)")
_NNTP = re.compile(r"(20[01]) (.*)")


@dataclass
class Finding:
    """What a port is: the service it looks like, a summary, and the decoded fields."""

    service: str
    summary: str
    fields: dict[str, Any] = field(default_factory=dict)


def _is_text(text: str) -> bool:
    return sum(ch.isprintable() or ch in "\r\n\t" for ch in text) >= 0.9 * len(text)


def shown(data: bytes, limit: int = 60) -> str:
    """Bytes for a table cell: text if they are text, else hex."""
    text = data.decode("utf-8", "replace")
    if not _is_text(text):
        hexed = data[: limit // 3].hex(" ")
        return hexed + (" …" if len(data) > limit // 3 else "")
    flat = "".join(ch if ch.isprintable() and ch != "\ufffd" else "." for ch in
                   " ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _offset(seconds: float) -> str:
    return f"{round(seconds):+d} s"  # both clocks' answers have a resolution of a second


def decode_time(data: bytes, now: float | None = None) -> Finding:
    """Four RFC 868 bytes: the date they stand for and its offset from our clock."""
    now = time.time() if now is None else now
    unix = rfc868_decode(data)
    stamp = datetime.fromtimestamp(unix, timezone.utc)
    offset = unix - int(now)  # the value is whole seconds, truncated
    return Finding("time", f"RFC 868: {stamp:%Y-%m-%d %H:%M:%S} UTC, offset {_offset(offset)}",
                   {"value": struct.unpack("!I", data)[0], "unix": unix,
                    "utc": stamp.isoformat(), "offset_seconds": round(offset, 3)})


def decode_daytime(text: str, now: float | None = None) -> Finding | None:
    """A daytime line, when it parses as a date (local time unless it says UTC or GMT),
    and its offset from our clock."""
    line = text.strip()
    utc = bool(re.search(r"\b(UTC|GMT)\b", line))
    candidate = line.split(" ", 1)[1] if re.match(r"\d{5} \d\d-", line) else line  # NIST
    candidate = re.sub(r"[- ][A-Z]{2,5}(\(\w+\))?( \*)?$", "", candidate)  # a trailing zone
    for fmt in _DAYTIME_FORMATS:
        try:
            parsed = datetime.strptime(" ".join(candidate.split()[:len(fmt.split())]), fmt)
        except ValueError:
            continue
        if utc:
            parsed = parsed.replace(tzinfo=timezone.utc)
        offset = parsed.timestamp() - int(time.time() if now is None else now)
        return Finding("daytime", f"{line} (offset {_offset(offset)})",
                       {"text": line, "parsed": parsed.isoformat(), "zone": "UTC" if utc
                        else "local", "offset_seconds": round(offset, 3)})
    return None


def _ssh(text: str) -> Finding:
    line = text.splitlines()[0]
    proto, _, rest = line[4:].partition("-")
    software, _, comments = rest.partition(" ")
    return Finding("ssh", f"SSH {proto}, {software}" + (f" ({comments})" if comments else ""),
                   {"protocol": proto, "software": software, "comments": comments})


def _code_220(text: str, port: int) -> Finding:
    lines = [line[4:] for line in text.splitlines() if line[:3] == "220"]
    said = " ".join(lines)
    lowered = said.lower()
    if "ftp" in lowered or port == 21:
        service = "ftp"
    elif "smtp" in lowered or "mail" in lowered or port in (25, 465, 587):
        service = "smtp"
    else:
        service = "smtp/ftp"
    host = said.split()[0] if service == "smtp" and said.split() else ""
    fields = {"code": 220, "text": said, **({"host": host} if host else {})}
    return Finding(service, f"220 {said}", fields)


def _http(text: str) -> Finding:
    head, *headers = text.split("\r\n\r\n", 1)[0].splitlines()
    version, _, rest = head.partition(" ")
    code, _, reason = rest.partition(" ")
    values = {}
    for line in headers:
        name, sep, value = line.partition(":")
        if sep:
            values[name.strip().lower()] = value.strip()
    server = values.get("server", "")
    summary = f"{version} {code} {reason}".strip() + (f", Server: {server}" if server else "")
    return Finding("http", summary, {"version": version, "status": int(code)
                                     if code.isdigit() else code, "reason": reason,
                                     "server": server, "headers": values})


def _mail_and_news(first: str) -> Finding | None:
    """POP3 (+OK), IMAP (* OK, with its capabilities) and NNTP (200, 201) greetings."""
    if first.startswith(("+OK", "-ERR")):
        status, _, said = first.partition(" ")
        return Finding("pop3", first, {"status": status, "text": said})
    if match := _IMAP.match(first):
        code = (match[2] or "").split()
        capabilities = code[1:] if code[:1] == ["CAPABILITY"] else []
        return Finding("imap", first, {"status": match[1], "text": match[3],
                                       "capabilities": capabilities})
    if match := _NNTP.match(first):
        return Finding("nntp", first, {"code": int(match[1]), "posting": match[1] == "200",
                                       "text": match[2]})
    return None


def decode_frame(data: bytes) -> Finding | None:
    """A hosepipe hello reply in a frame (``HOSEPIPE/1 ok codec=...``)."""
    if len(data) < 4:
        return None
    payload = data[4:4 + struct.unpack("!i", data[:4])[0]]
    if not payload.startswith(MAGIC):
        return None
    said = payload[len(MAGIC):].decode("utf-8", "replace")
    codec = said.removeprefix("ok codec=") if said.startswith("ok codec=") else None
    summary = f"framed messages, codec {codec}" if codec else f"framed, hello refused: {said}"
    return Finding("hosepipe", summary, {"hello": payload.decode("utf-8", "replace"),
                                         **({"codec": codec} if codec else {})})


def _by_prefix(text: str, port: int) -> Finding | None:
    if text.startswith("SSH-"):
        return _ssh(text)
    if text.startswith("220"):
        return _code_220(text, port)
    if text.startswith("HTTP/"):
        return _http(text)
    if text.strip() == GREETING:
        return Finding("square", f"hosepipe's greeting: {GREETING}", {"greeting": GREETING})
    return _mail_and_news(text.splitlines()[0] if text else "")


def _text_or_hex(data: bytes, text: str, port: int, now: float | None) -> Finding:
    if not _is_text(text):
        return Finding("", shown(data), {"hex": data.hex()})
    if (daytime := decode_daytime(text, now)) is not None:
        return daytime
    if port in DAYTIME_PORTS:
        return Finding("daytime", text.strip(), {"text": text.strip()})
    return Finding("", shown(data), {"text": text})


def decode_banner(data: bytes, port: int = 0, *, ended: bool = False,
                  now: float | None = None) -> Finding:
    """What ``data`` (the first bytes a port sent) says; ``ended``: the stream ended
    right after them (as RFC 868 and daytime servers do)."""
    if len(data) == 4 and (ended or port in TIME_PORTS):
        return decode_time(data, now)
    text = data.decode("utf-8", "replace")
    found = decode_frame(data) or _by_prefix(text, port)
    return found or _text_or_hex(data, text, port, now)
