"""Claims of providers that do not send JW323: one claim line per CSV row, with the
municipality's answer when the export has it (status GRANTED or REJECTED with retourcodes).
Credits are a debit_credit of C or a negative amount, naming the line they cancel in
previous_reference, as in iJw."""

from __future__ import annotations

from typing import ClassVar

from hub.adapters.csv_export import CsvAdapter


class ClaimsCsvAdapter(CsvAdapter):
    name: ClassVar[str] = "claims-csv"
    kinds: ClassVar[tuple[str, ...]] = ("claim",)
