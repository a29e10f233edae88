"""CSV exports of municipal access systems: referrals, assignments and care periods, each
system with its own column names, delimiter, encoding, decimal mark and date format (see
`hub/adapters/tabular.py` for the options). One source delivers one kind of row.

A file fails as a whole when it cannot be decoded in the source's encoding, has no header,
or its header lacks a required column; a row with the wrong number of fields (such as a
truncated last line) is quarantined with its line number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from hub.adapters.base import Adapter, AdapterContext, file_sha256
from hub.adapters.tabular import FieldError, RowOptions, RowReader
from hub.config import ConfigError
from hub.model import FileResult

ENCODINGS = {
    "utf-8": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
}


class CsvAdapter(Adapter):
    name: ClassVar[str] = "csv"
    kinds: ClassVar[tuple[str, ...]] = ("referral", "assignment", "care_period")

    def __init__(self, source_id: str, options: Mapping[str, Any], owner: str | None) -> None:
        super().__init__(source_id, {}, owner)
        self.opts = RowOptions.parse(
            source_id, options, kinds=self.kinds, extra=("delimiter", "encoding"), owner=owner
        )
        self.delimiter = str(options.get("delimiter", ","))
        if len(self.delimiter) != 1:
            raise ConfigError(f"source {source_id!r}: delimiter must be one character")
        encoding = str(options.get("encoding", "utf-8")).lower()
        if encoding not in ENCODINGS:
            raise ConfigError(
                f"source {source_id!r}: encoding must be one of {', '.join(ENCODINGS)}"
            )
        self.encoding = ENCODINGS[encoding]

    def read(self, path: Path, ctx: AdapterContext) -> FileResult:
        data = path.read_bytes()
        reader = RowReader(self.opts, ctx, path.name, file_sha256(data), "CSV")
        try:
            text = data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            return reader.fail(
                "encoding",
                f"the file is not {self.encoding} (byte {exc.start}: {exc.reason}); "
                "set the source's encoding option",
            )
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=True)
        try:
            header = [h.strip() for h in next(rows)]
        except StopIteration:
            return reader.fail("missing-columns", "the file is empty: no header line")
        except csv.Error as exc:
            return reader.fail("malformed-csv", f"line 1: {exc}")
        missing = self.opts.missing_columns(header)
        if missing:
            return reader.fail(
                "missing-columns",
                f"the header lacks column(s) {', '.join(missing)} "
                f"(delimiter {self.delimiter!r}; found {', '.join(header)[:200]})",
                missing[0],
            )
        while True:
            try:
                fields = next(rows)
            except StopIteration:
                break
            except csv.Error as exc:
                reader.result.records_read += 1
                reader.reject(f"line {rows.line_num}", FieldError("malformed-row", "", str(exc)))
                continue
            position = f"line {rows.line_num}"
            if not any(f.strip() for f in fields):
                continue  # blank lines are no records
            if len(fields) != len(header):
                reader.result.records_read += 1
                reader.reject(
                    position,
                    FieldError(
                        "malformed-row",
                        "",
                        f"{len(fields)} fields where the header has {len(header)}",
                    ),
                )
                continue
            reader.add(position, dict(zip(header, fields, strict=True)))
        return reader.result
