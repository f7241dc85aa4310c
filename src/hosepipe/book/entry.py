"""Address-book entries: the record, its validation, and its text forms.

An entry is a name plus house number, street, town and phone. Names are unique.
All five fields are required. Each is stripped, must be non-empty, at most
``MAX_FIELD`` characters (``MAX_NAME`` for the name), and free of control characters;
a name may not contain ``:`` (the flat file's separator).
The four address fields are written as one CSV row, so a field may contain a comma:
``add:Arthur,1,"High St, Upper",Camelot,555-0100``.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from hosepipe.errors import UsageError

__all__ = [
    "FIELDS", "MAX_FIELD", "MAX_NAME", "BadEntry", "Entry", "clean_name", "parse_fields",
    "parse_flat",
]

FIELDS = ("name", "house", "street", "town", "phone")
MAX_NAME = 100
MAX_FIELD = 200


class BadEntry(UsageError, ValueError):
    """An entry or name that fails validation; the message says which field and why."""

    def __init__(self, message: str, code: str = "bad-entry") -> None:
        super().__init__(message)
        self.code = code


def _clean(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise BadEntry(f"{field} must be text, not {type(value).__name__}")
    value = value.strip()
    if not value:
        raise BadEntry(f"{field} is empty")
    if len(value) > limit:
        raise BadEntry(f"{field} is {len(value)} characters; the limit is {limit}", "too-long")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise BadEntry(f"{field} contains a control character")
    return value


def clean_name(name: object) -> str:
    name = _clean("name", name, MAX_NAME)
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
        """A validated entry (fields stripped); :class:`BadEntry` says what is wrong."""
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
        """HOUSE,STREET,TOWN,PHONE as one CSV row (fields quoted only when needed)."""
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(
            [self.house, self.street, self.town, self.phone]
        )
        return out.getvalue()

    def flat_line(self) -> str:
        """The flat-file form: NAME:HOUSE,STREET,TOWN,PHONE."""
        return f"{self.name}:{self.address_text()}"


def parse_fields(text: str) -> list[str]:
    """Split a CSV row of fields (quotes allowed around fields holding commas)."""
    try:
        rows = list(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise BadEntry(f"cannot read the fields: {exc}") from exc
    return rows[0] if rows else []


def parse_flat(line: str) -> Entry:
    """An entry from ``NAME:HOUSE,STREET,TOWN,PHONE``."""
    name, sep, rest = line.partition(":")
    if not sep:
        raise BadEntry("expected NAME:HOUSE,STREET,TOWN,PHONE")
    fields = parse_fields(rest)
    if len(fields) != 4:
        raise BadEntry(f"expected 4 fields after the name (house, street, town, phone), "
                       f"got {len(fields)}")
    return Entry.make(name, *fields)
