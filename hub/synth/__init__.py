"""A deterministic synthetic region for `hub generate` and `hub demo`: every municipality's
data in that municipality's own format, and a `sources.toml` that reads it all.

    OUTDIR/sources.toml
    OUTDIR/<code>/ijw/*.xml           iJw municipalities: all messages; the others: the
                                      providers' claims (JW323) and their answers (JW325)
    OUTDIR/<code>/export/*.csv        CSV municipalities: yearly exports of their system
    OUTDIR/api/<code>/<resource>.json JSON API municipalities: what their API serves
                                      (`hub demo` serves OUTDIR/api as ${HUB_DEMO_API})
    OUTDIR/claims/<agb>/*.csv         small providers that bill in CSV, not JW323
    OUTDIR/gi/<agb>/*.csv             the GIs' measures
    OUTDIR/reference/*.csv            provider register, budgets, population, signals

Same arguments, same bytes: all randomness comes from `random.Random(seed)` and no date
depends on the clock. The data is as of 31 December of `end_year`: what was sent later is
not there yet.
"""

from __future__ import annotations

import gc
import itertools
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hub.config import Municipality, default_region
from hub.synth import reference, rows
from hub.synth.claims import add_claims
from hub.synth.ijw import render
from hub.synth.simulation import simulate
from hub.synth.systems import (
    API_SYSTEMS,
    CLAIMS_EXPORTS,
    CSV,
    CSV_SYSTEMS,
    FORMATS,
    GI_EXPORTS,
    IJW,
    JSON_API,
    REFERENCE_EXPORTS,
    Export,
    System,
)
from hub.synth.tabular import Row, csv_bytes, json_bytes, json_item
from hub.synth.world import MunicipalityWorld, Region

__all__ = ["GeneratedRegion", "generate", "municipality_formats"]

MESSAGE_TYPES = ("JW301", "JW305", "JW307", "JW315", "JW323", "JW325")
API_VARIABLE = "${HUB_DEMO_API}"
_KIND_IDS = {"referral": "referrals", "assignment": "assignments", "care_period": "care-periods"}
# What a previous run may have left: removed before writing.
_GENERATED = (
    "*/ijw/*.xml",
    "*/export/*.csv",
    "*/*_JW3??_*.xml",
    "api/*/*.json",
    "claims/*/*.csv",
    "gi/*/*.csv",
    "reference/*.csv",
)


@dataclass(slots=True)
class GeneratedRegion:
    files: list[Path]  # every data file written (not sources.toml)
    sources_toml: Path
    # iJw records per message type: body items (ToegewezenProduct, StartProduct,
    # StopProduct, AangevraagdProduct, Prestatie); for JW325 the rejected Prestaties, or 1
    # for an answer that rejects nothing.
    counts: dict[str, int] = field(default_factory=dict)
    # Records per source id, as the adapters count them (iJw records, CSV rows, API items):
    # what ingestion must account for as accepted + quarantined.
    records: dict[str, int] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)  # municipality code -> format


def municipality_formats(region: list[Municipality]) -> dict[str, str]:
    """Each municipality's access format: ijw, csv or json-api, round-robin."""
    return {m.code: FORMATS[i % len(FORMATS)] for i, m in enumerate(region)}


def generate(
    outdir: Path,
    *,
    seed: int = 1,
    years: int = 1,
    scale: float = 0.02,
    region: list[Municipality] | None = None,
    end_year: int = 2025,
    progress: Callable[[str], None] | None = None,
) -> GeneratedRegion:
    """Write the region's sources for the years `end_year - years + 1 .. end_year` (care
    already running at the start comes with its earlier records) and `outdir/sources.toml`.
    `scale` multiplies the number of youth (1: the whole region). `progress` hears each
    step as it starts."""
    say = progress or (lambda _: None)
    if years < 1 or scale <= 0:
        raise ValueError("years must be at least 1 and scale positive")
    region = default_region() if region is None else region
    collecting = gc.isenabled()
    gc.disable()  # millions of long-lived objects and no cycles: collection only costs time
    try:
        say("simulating the region")
        world = simulate(
            region, seed=seed, first_year=end_year - years + 1, last_year=end_year, scale=scale
        )
        say("simulating claims")
        add_claims(world)
        writer = _Writer(Path(outdir), world, municipality_formats(region))
        writer.clear()
        say("writing reference data")
        writer.reference(random.Random(world.claims_seed + 1))  # noqa: S311 -- test data
        say("writing the municipalities' sources")
        writer.municipalities()
        say("writing provider claims and GI measures")
        writer.provider_claims()
        writer.measures()
    finally:
        if collecting:
            gc.enable()
    result = writer.result
    result.sources_toml.write_bytes(
        _sources_toml(
            writer.sources, f"seed {seed}, years {end_year - years + 1}-{end_year}, scale {scale:g}"
        )
    )
    return result


@dataclass(slots=True)
class _Source:
    id: str
    adapter: str
    owner: str
    location: str
    options: dict[str, Any] = field(default_factory=dict)


class _Writer:
    def __init__(self, outdir: Path, world: Region, formats: dict[str, str]) -> None:
        self.outdir, self.world, self.formats = outdir, world, formats
        self.as_of = world.last
        self.years = range(world.first.year, world.last.year + 1)
        self.made: set[Path] = set()  # folders known to exist
        self.sources: list[_Source] = []
        self.result = GeneratedRegion(
            [], outdir / "sources.toml", dict.fromkeys(MESSAGE_TYPES, 0), {}, dict(formats)
        )
        self.idents = (f"{n:012d}" for n in itertools.count(1))

    def clear(self) -> None:
        self.outdir.mkdir(parents=True, exist_ok=True)
        for pattern in _GENERATED:
            for stale in self.outdir.glob(pattern):
                stale.unlink()

    def write(self, source: str, relative: str, data: bytes, records: int) -> None:
        path = self.outdir / relative
        if path.parent not in self.made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.made.add(path.parent)
        path.write_bytes(data)
        self.result.files.append(path)
        self.result.records[source] = self.result.records.get(source, 0) + records

    def add(self, source: _Source) -> None:
        self.sources.append(source)
        self.result.records.setdefault(source.id, 0)

    # -- per municipality

    def municipalities(self) -> None:
        csv_count = api_count = 0
        for world in self.world.worlds:
            code = world.municipality.code
            kind = self.formats[code]
            if kind == IJW:
                self.ijw(world, f"ijw-{code}", access=True)
            elif kind == CSV:
                self.csv_exports(world, CSV_SYSTEMS[csv_count % len(CSV_SYSTEMS)])
                csv_count += 1
                self.ijw(world, f"ijw-{code}-claims", access=False)
            else:
                self.api_resources(world, API_SYSTEMS[api_count % len(API_SYSTEMS)])
                api_count += 1
                self.ijw(world, f"ijw-{code}-claims", access=False)

    def ijw(self, world: MunicipalityWorld, source: str, *, access: bool) -> None:
        code = world.municipality.code
        self.add(_Source(source, IJW, code, f"{code}/ijw/*.xml"))
        for name, text, records in render(world, self.idents, access=access, as_of=self.as_of):
            self.write(source, f"{code}/ijw/{name}", text.encode("utf-8"), records)
            self.result.counts[name.split("_")[1]] += records

    def csv_exports(self, world: MunicipalityWorld, system: System) -> None:
        code = world.municipality.code
        changes = rows.access_changes(world, self.as_of)
        for kind in rows.ACCESS_KINDS:
            layout, pattern = system.layouts[kind], system.files[kind]
            source = f"csv-{code}-{_KIND_IDS[kind]}"
            location = f"{code}/export/{pattern.format(year='*')}"
            options = layout.options(system.dialect, csv=True)
            self.add(_Source(source, CSV, code, location, options))
            for year, changed in rows.per_year(changes[kind], self.years).items():
                data = csv_bytes((c.row for c in changed), layout, system.dialect)
                self.write(source, f"{code}/export/{pattern.format(year=year)}", data, len(changed))

    def api_resources(self, world: MunicipalityWorld, system: System) -> None:
        code = world.municipality.code
        changes = rows.access_changes(world, self.as_of)
        for kind in rows.ACCESS_KINDS:
            layout, resource = system.layouts[kind], system.files[kind]
            source = f"api-{code}-{_KIND_IDS[kind]}"
            options = layout.options(system.dialect, csv=False)
            self.add(_Source(source, JSON_API, code, f"{API_VARIABLE}/{code}/{resource}", options))
            items = [
                json_item(c.row, layout, system.dialect, _moment(c))
                for c in rows.latest(changes[kind])
            ]
            self.write(source, f"api/{code}/{resource}.json", json_bytes(items), len(items))

    # -- providers, GIs and the region

    def provider_claims(self) -> None:
        """The providers that bill in CSV: every municipality's claims in their export."""
        claims = sorted(
            (c for w in self.world.worlds for c in w.claims if c.provider.claims_csv),
            key=lambda c: (c.sent, c.municipality, c.number),
        )
        billing = [p for p in self.world.market.providers if p.claims_csv]
        for i, provider in enumerate(billing):
            export = CLAIMS_EXPORTS[i % len(CLAIMS_EXPORTS)]
            source = f"claims-{provider.agb}"
            self.add(
                _Source(
                    source,
                    "claims-csv",
                    provider.agb,
                    f"claims/{provider.agb}/*.csv",
                    export.layout.options(export.dialect, csv=True),
                )
            )
            signed = not export.layout.has("debit_credit")
            files: dict[str, list[Row]] = defaultdict(list)
            if "{month}" not in export.file:  # yearly: every year has its file
                for year in self.years:
                    files[export.file.format(year=year)] = []
            for claim in claims:
                if claim.provider is not provider or claim.sent > self.as_of:
                    continue
                name = export.file.format(year=claim.sent.year, month=f"{claim.sent.month:02d}")
                files[name].extend(
                    rows.claim_line(claim, line, self.as_of, signed=signed) for line in claim.lines
                )
            self.files(source, f"claims/{provider.agb}", files, export)

    def measures(self) -> None:
        gis = [p for p in self.world.market.providers if p.is_gi]
        for i, gi in enumerate(gis):
            export = GI_EXPORTS[i % len(GI_EXPORTS)]
            source = f"gi-{gi.agb}"
            self.add(
                _Source(
                    source,
                    "gi",
                    gi.agb,
                    f"gi/{gi.agb}/*.csv",
                    export.layout.options(export.dialect, csv=True),
                )
            )
            changes = [
                c for w in self.world.worlds for c in rows.measure_changes(w, gi.agb, self.as_of)
            ]
            files = {
                export.file.format(year=year): [c.row for c in changed]
                for year, changed in rows.per_year(changes, self.years).items()
            }
            self.files(source, f"gi/{gi.agb}", files, export)

    def reference(self, rng: random.Random) -> None:
        data = {
            "provider": {"": reference.providers(self.world)},
            "budget": {"": reference.budgets(self.world, rng)},
            "population": {"": reference.population(self.world)},
            "signal": _by_year(reference.signals(self.world, rng)),
        }
        ids = {
            "provider": "providers",
            "budget": "budgets",
            "population": "population",
            "signal": "signals",
        }
        for kind, export in REFERENCE_EXPORTS.items():
            source = f"reference-{ids[kind]}"
            location = "reference/" + export.file.format(year="*")
            self.add(
                _Source(
                    source,
                    "reference",
                    "region",
                    location,
                    export.layout.options(export.dialect, csv=True),
                )
            )
            files = {export.file.format(year=year): found for year, found in data[kind].items()}
            self.files(source, "reference", files, export)

    def files(
        self, source: str, folder: str, files: Mapping[str, list[Row]], export: Export
    ) -> None:
        for name in sorted(files):
            data = csv_bytes(files[name], export.layout, export.dialect)
            self.write(source, f"{folder}/{name}", data, len(files[name]))


def _by_year(found: Iterable[Row]) -> dict[str, list[Row]]:
    years: dict[str, list[Row]] = defaultdict(list)
    for row in found:
        day = row["dated"]
        if isinstance(day, date):
            years[str(day.year)].append(row)
    return dict(years)


def _moment(change: rows.Change) -> str:
    """lastModified: the day of the change at a time of the working day."""
    minutes = 7 * 60 + sum(map(ord, "".join(change.key))) * 37 % (11 * 60)
    return f"{change.dated.isoformat()}T{minutes // 60:02d}:{minutes % 60:02d}:00Z"


# --- sources.toml ------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else json.dumps(key, ensure_ascii=False)


def _toml_table(name: str, table: Mapping[str, Any]) -> list[str]:
    lines = [f"[{name}]"]
    lines += [
        f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)
    ]
    for key, value in table.items():
        if isinstance(value, dict) and value:
            lines += _toml_table(f"{name}.{_toml_key(key)}", value)
    return lines


def _sources_toml(sources: list[_Source], about: str) -> bytes:
    lines = [
        f"# Synthetic region written by hub.synth: {about}.",
        "# JSON API sources read ${HUB_DEMO_API}: `hub demo` serves the folder api/ there.",
        "",
    ]
    for s in sources:
        lines += [
            "[[source]]",
            f"id = {_toml_value(s.id)}",
            f"adapter = {_toml_value(s.adapter)}",
            f"owner = {_toml_value(s.owner)}",
            f"location = {_toml_value(s.location)}",
        ]
        if s.options:
            lines += _toml_table("source.options", s.options)
        lines.append("")
    return "\n".join(lines).encode("utf-8")
