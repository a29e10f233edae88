"""Reference and steering data as CSV: the provider register (AGB, name, contracted lot and
contract dates), municipal budgets per year and lot, youth population 0-17 per municipality
and year, and contract-management signals per provider (early-warning level, escalation
status, waiting list). The source's `kind` option says which."""

from __future__ import annotations

from typing import ClassVar

from hub.adapters.csv_export import CsvAdapter


class ReferenceAdapter(CsvAdapter):
    name: ClassVar[str] = "reference"
    kinds: ClassVar[tuple[str, ...]] = ("provider", "budget", "population", "signal")
