"""Canonical rows in a source's own spelling: CSV files and JSON API items.

A canonical row maps the field names of `hub.adapters.tabular.KINDS` to plain values (text,
whole numbers, dates, `Money` in cents, or None). A `Dialect` says how one system writes
values (delimiter, encoding, date format, decimal mark, euros or cents, its own codes); a
`Layout` which fields it exports, under which names (or dotted JSON paths), in which order.
Their `options()` are the source's `[source.options]` in sources.toml, so the adapter reads
exactly what was written.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = ["Dialect", "Layout", "Money", "Row", "csv_bytes", "json_bytes"]


class Money(int):
    """An amount in cents (kept apart from counts: a dialect may write euros)."""

    __slots__ = ()


Value = str | int | date | None
Row = dict[str, Value]

_CODECS = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "windows-1252": "cp1252"}


@dataclass(frozen=True, slots=True)
class Dialect:
    delimiter: str = ","
    encoding: str = "utf-8"  # utf-8, utf-8-sig (with a byte order mark) or windows-1252
    date_format: str = "%Y-%m-%d"
    short_dates: bool = False  # 1-3-2024: no leading zeros (read with %d-%m-%Y)
    decimal: str = "."
    money: str = "cents"  # or euros
    thousands: bool = False  # euros with a thousands separator: 1.234.567,00
    cbs_codes: bool = False  # municipality as CBS StatLine writes it: GM0150
    # The system's own spelling of codes: {field: {canonical value: written value}}.
    codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def day(self, value: date) -> str:
        if self.short_dates:
            return f"{value.day}-{value.month}-{value.year}"
        return value.strftime(self.date_format)

    def euros(self, cents: int) -> str:
        whole, rest = divmod(abs(cents), 100)
        text = f"{whole:,}" if self.thousands else str(whole)
        text = text.replace(",", "." if self.decimal == "," else ",")
        return f"{'-' if cents < 0 else ''}{text}{self.decimal}{rest:02d}"

    def text(self, name: str, value: Value) -> str:
        if value is None:
            return ""
        if isinstance(value, Money):
            return str(int(value)) if self.money == "cents" else self.euros(value)
        if isinstance(value, date):
            return self.day(value)
        text = str(value)
        if name == "municipality" and self.cbs_codes:
            return f"GM{text}"
        return self.codes.get(name, {}).get(text, text)

    def json(self, name: str, value: Value) -> Any:
        if isinstance(value, Money):
            return int(value) if self.money == "cents" else int(value) / 100
        if isinstance(value, int) or value is None:
            return value
        return self.text(name, value)

    def options(self, *, csv: bool, fields: Iterable[str]) -> dict[str, Any]:
        """The options that read this dialect for these fields (CSV adds delimiter and
        encoding)."""
        result: dict[str, Any] = {}
        if csv:
            result["delimiter"] = self.delimiter
            result["encoding"] = self.encoding
        if self.date_format != "%Y-%m-%d":
            result["date_format"] = self.date_format
        if self.decimal != ".":
            result["decimal"] = self.decimal
        if self.money != "cents":
            result["money"] = self.money
        present = set(fields)
        values = {
            name: {written: canonical for canonical, written in spelled.items()}
            for name, spelled in self.codes.items()
            if spelled and name in present
        }
        if values:
            result["values"] = values
        return result


@dataclass(frozen=True, slots=True)
class Layout:
    """Which canonical fields a system exports for one kind of record, under what names."""

    kind: str
    columns: tuple[tuple[str, str], ...]  # (canonical field, the source's name or path)

    def has(self, name: str) -> bool:
        return any(canonical == name for canonical, _ in self.columns)

    def options(self, dialect: Dialect, *, csv: bool) -> dict[str, Any]:
        """The source's `[source.options]`: its kind, its names, its dialect."""
        return {
            "kind": self.kind,
            **dialect.options(csv=csv, fields=(name for name, _ in self.columns)),
            "columns": {canonical: own for canonical, own in self.columns if canonical != own},
        }


def csv_bytes(rows: Iterable[Row], layout: Layout, dialect: Dialect) -> bytes:
    """A CSV file: a header of the system's column names, then one line per row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=dialect.delimiter, lineterminator="\r\n")
    writer.writerow(own for _, own in layout.columns)
    for row in rows:
        writer.writerow(dialect.text(name, row.get(name)) for name, _ in layout.columns)
    return buffer.getvalue().encode(_CODECS[dialect.encoding])


def json_item(row: Row, layout: Layout, dialect: Dialect, modified: str) -> dict[str, Any]:
    """One API item: nested objects along the dotted paths, and its lastModified."""
    item: dict[str, Any] = {}
    for name, path in layout.columns:
        *parents, leaf = path.split(".")
        node = item
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = dialect.json(name, row.get(name))
    item["lastModified"] = modified
    return item


def json_bytes(items: Iterable[dict[str, Any]]) -> bytes:
    """A JSON array with one item per line: diffable, and small enough."""
    lines = [json.dumps(item, ensure_ascii=False, separators=(",", ":")) for item in items]
    return ("[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n").encode("utf-8")
