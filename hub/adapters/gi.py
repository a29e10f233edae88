"""Measures of certified institutions (GI): OTS, voogdij and jeugdreclassering with their
start and end dates and the GI's own identity, as the CSV its case system exports.
GI referrals come as JW315 with Verwijzer Type 04 through the iJw adapter."""

from __future__ import annotations

from typing import ClassVar

from hub.adapters.csv_export import CsvAdapter


class GiAdapter(CsvAdapter):
    name: ClassVar[str] = "gi"
    kinds: ClassVar[tuple[str, ...]] = ("measure",)
