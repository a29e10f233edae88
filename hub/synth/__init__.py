"""A deterministic synthetic region: iJw 3.2 messages per municipality plus a
`sources.toml`, for `hub generate` and `hub demo`. Same arguments, same bytes: all
randomness comes from `random.Random(seed)` and no date depends on the clock."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from hub.config import Municipality, default_region
from hub.synth.ijw import render
from hub.synth.world import simulate

__all__ = ["GeneratedRegion", "generate"]

MESSAGE_TYPES = ("JW301", "JW305", "JW307", "JW315", "JW323", "JW325")


@dataclass(slots=True)
class GeneratedRegion:
    files: list[Path]
    sources_toml: Path
    # Records per message type: body items (ToegewezenProduct, StartProduct, StopProduct,
    # AangevraagdProduct, Prestatie); for JW325 the rejected Prestaties, or 1 for an
    # answer that rejects nothing.
    counts: dict[str, int] = field(default_factory=dict)


def generate(
    outdir: Path,
    *,
    seed: int = 1,
    years: int = 1,
    scale: float = 0.02,
    region: list[Municipality] | None = None,
    end_year: int = 2025,
) -> GeneratedRegion:
    """Write `outdir/<code>/*.xml` for every municipality of the region, covering the years
    `end_year - years + 1 .. end_year` (care already running at the start comes with its
    earlier messages), and `outdir/sources.toml`. `scale` multiplies the number of youth."""
    if years < 1 or scale <= 0:
        raise ValueError("years must be at least 1 and scale positive")
    region = default_region() if region is None else region
    worlds = simulate(
        region, seed=seed, first_year=end_year - years + 1, last_year=end_year, scale=scale
    )
    idents = (f"{n:012d}" for n in itertools.count(1))
    result = GeneratedRegion([], outdir / "sources.toml", dict.fromkeys(MESSAGE_TYPES, 0))
    for world in worlds:
        folder = outdir / world.municipality.code
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*_JW3??_*.xml"):  # a previous run's messages
            stale.unlink()
        for name, text, records in render(world, idents):
            path = folder / name
            path.write_bytes(text.encode("utf-8"))
            result.files.append(path)
            result.counts[name.split("_")[1]] += records
    result.sources_toml.write_bytes(_sources_toml(region, seed, years, scale, end_year))
    return result


def _sources_toml(
    region: list[Municipality], seed: int, years: int, scale: float, end_year: int
) -> bytes:
    lines = [
        f"# Synthetic region written by hub.synth: seed {seed}, years "
        f"{end_year - years + 1}-{end_year}, scale {scale}.",
        "",
    ]
    for muni in region:
        lines += [
            "[[source]]",
            f'id = "ijw-{muni.code}"',
            'adapter = "ijw"',
            f'owner = "{muni.code}"',
            f'location = "{muni.code}/*.xml"',
            "",
        ]
    return "\n".join(lines).encode("utf-8")
