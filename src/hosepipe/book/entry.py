"""Address-book entries: the record, its validation, and its text forms.

An entry is a name plus house number, street, town and phone, kept exactly as given
(the tutorial's book strips nothing). The name is required: it must hold something
other than white space, may not contain ``:`` (the flat file's separator) and is at
most ``MAX_NAME`` bytes of UTF-8; the other fields may be empty and are at most
``MAX_FIELD`` bytes each. Text must be valid UTF-8 with no control characters but tab
(a NUL, a newline or an escape sequence never reaches the book).

The four address fields travel as one text, ``HOUSE,STREET,TOWN,PHONE``, as the
tutorial writes them: plain, joined by commas. :func:`split_fields` reads the tutorial's
text back (a field holding commas is the street: the first fields and the last two are
taken one by one, the street is what lies between) and :func:`join_fields` writes plain
text whenever reading it back gives the same fields; only an entry that plain text
cannot carry (a comma outside the street, say ``"Tintagel, Cornwall"``) is written as a
CSV row, with quotes, which :func:`split_fields` recognises. So every line the tutorial
can write is read and written back byte for byte, and every field boundary survives.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from hosepipe.errors import UsageError

__all__ = [
    "FIELDS", "MAX_FIELD", "MAX_NAME", "BadEntry", "Entry", "clean_name", "join_fields",
    "parse_flat", "split_fields",
]

FIELDS = ("name", "house", "street", "town", "phone")
MAX_NAME = 1024
MAX_FIELD = 1024
_ALLOWED_CONTROL = "\t"


class BadEntry(UsageError, ValueError):
    """An entry or name that fails validation; the message says which field and why."""

    def __init__(self, message: str, code: str = "bad-entry") -> None:
        super().__init__(message)
        self.code = code


def _clean(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise BadEntry(f"{field} must be text, not {type(value).__name__}")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadEntry(f"{field} is not valid UTF-8 text") from None
    if size > limit:
        raise BadEntry(f"{field} is {size} bytes; the limit is {limit}", "too-long")
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROL for ch in value):
        raise BadEntry(f"{field} contains a control character")
    return value


def clean_name(name: object) -> str:
    name = _clean("name", name, MAX_NAME)
    if not name.strip():
        raise BadEntry("name is empty")
    if ":" in name:
        raise BadEntry("name may not contain ':'")
    return name


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    house: str
    street: str
    town: str
    phone: str

    @classmethod
    def make(cls, name: object, house: object, street: object, town: object, phone: object
             ) -> Entry:
        """A validated entry; :class:`BadEntry` says what is wrong."""
        return cls(
            clean_name(name),
            _clean("house", str(house) if isinstance(house, int) else house, MAX_FIELD),
            _clean("street", street, MAX_FIELD),
            _clean("town", town, MAX_FIELD),
            _clean("phone", phone, MAX_FIELD),
        )

    @classmethod
    def from_dict(cls, data: Any) -> Entry:
        if not isinstance(data, dict):
            raise BadEntry("an entry is a map of name, house, street, town and phone")
        missing = [f for f in FIELDS if f not in data]
        if missing:
            raise BadEntry(f"entry lacks {', '.join(missing)}")
        extra = sorted(set(data) - set(FIELDS))
        if extra:
            raise BadEntry(f"entry has unknown field(s) {', '.join(map(str, extra))}")
        return cls.make(*(data[f] for f in FIELDS))

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def address_text(self) -> str:
        """HOUSE,STREET,TOWN,PHONE as the tutorial writes it (see :func:`join_fields`)."""
        return join_fields([self.house, self.street, self.town, self.phone])

    def flat_line(self) -> str:
        """The flat-file form: NAME:HOUSE,STREET,TOWN,PHONE."""
        return f"{self.name}:{self.address_text()}"


def _plain(text: str, count: int) -> list[str] | None:
    """The tutorial's reading: split at commas; extra pieces belong to the street,
    which is the third field from the end."""
    pieces = text.split(",")
    if len(pieces) < count:
        return None
    head = count - 3
    return [*pieces[:head], ",".join(pieces[head:-2]), *pieces[-2:]]


def _csv_row(fields: list[str]) -> str:
    return ",".join('"' + f.replace('"', '""') + '"' if any(c in f for c in ',"') else f
                    for f in fields)


def _quoted(text: str, count: int) -> list[str] | None:
    """The fields of a CSV row that only quotes can carry, else None."""
    if '"' not in text:
        return None
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error:
        return None
    fields = rows[0] if len(rows) == 1 else []
    if len(fields) != count or _csv_row(fields) != text:
        return None  # not the row join_fields would have written
    return fields if _plain(",".join(fields), count) != fields else None


def split_fields(text: str, count: int = 4) -> list[str]:
    """``count`` fields from their comma-joined text (the inverse of join_fields)."""
    fields = _quoted(text, count) or _plain(text, count)
    if fields is None:
        got = text.count(",") + 1
        raise BadEntry(f"expected {count} comma-separated fields, got {got}")
    return fields


def join_fields(fields: list[str]) -> str:
    """The fields joined by commas, as plain text unless that would read back as
    other fields (then a CSV row)."""
    plain = ",".join(fields)
    return plain if _plain(plain, len(fields)) == fields else _csv_row(fields)


def parse_flat(line: str) -> Entry:
    """An entry from ``NAME:HOUSE,STREET,TOWN,PHONE``."""
    name, sep, rest = line.partition(":")
    if not sep:
        raise BadEntry("expected NAME:HOUSE,STREET,TOWN,PHONE (no ':' in the line)")
    return Entry.make(name, *split_fields(rest))
