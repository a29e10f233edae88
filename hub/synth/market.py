"""The region's market: about 150 providers with heavy-tailed sizes and a realistic mix of
lots, three GIs, the provider that gets into financial trouble and the one that gets no new
assignments; and the youth population per municipality and year."""

from __future__ import annotations

import random
from datetime import date, timedelta

from hub.config import Municipality
from hub.synth.world import (
    AMBULANT,
    CRISIS,
    HSWV,
    PROBATION,
    PROTECTION,
    RESIDENTIAL,
    Market,
    Provider,
    days,
)

PROVIDER_COUNT = 150
_PROVIDER_WORDS = (
    "Horizon",
    "Het Kompas",
    "De Brug",
    "Het Anker",
    "Vlinder",
    "De Linde",
    "Sterrenhuis",
    "De Eik",
    "Wegwijzer",
    "De Haven",
    "Zonnestraal",
    "Kiem",
    "De Vonk",
    "Samen Sterk",
    "Het Baken",
    "Groeikracht",
    "De Boog",
    "Opstap",
    "Lichtpunt",
    "Kleurrijk",
    "De Wending",
    "Koers",
    "Het Nest",
    "Perspectief",
    "De Overstap",
    "Veldzicht",
    "De Kleine Reus",
    "Noëlle",
    "Tij",
    "De Schakel",
)
_PLACES = ("Zwolle", "Deventer", "Salland", "Vechtdal", "IJsseldelta", "Kampen", "Noordwest")


# --- providers ---------------------------------------------------------------------------------

_JW = date(2015, 1, 1)  # the Jeugdwet: the first contracts
# (lots, count, name prefixes, weight factor): a realistic mix of specialisms.
_PROVIDER_KINDS: tuple[tuple[tuple[str, ...], int, tuple[str, ...], float], ...] = (
    ((AMBULANT, RESIDENTIAL, CRISIS, HSWV), 2, ("Jeugdzorg",), 4.0),
    ((AMBULANT, RESIDENTIAL, HSWV), 3, ("Jeugdzorg", "Jeugd-GGZ"), 3.0),
    ((AMBULANT, RESIDENTIAL, CRISIS), 3, ("Jeugdzorg", "Zorggroep"), 3.0),
    ((AMBULANT, RESIDENTIAL), 20, ("Jeugdhulp", "Zorggroep", "Stichting"), 1.5),
    ((RESIDENTIAL,), 12, ("Gezinshuis", "Woongroep", "Logeerhuis"), 0.4),
)
_AMBULANT_PREFIXES = (
    "Praktijk",
    "Jeugd-GGZ",
    "Orthopedagogisch Centrum",
    "Kindertherapie",
    "Gezinsbegeleiding",
    "Jeugdhulp",
)


def make_market(rng: random.Random, first: date, last: date, start: date) -> Market:
    """About 150 providers with heavy-tailed sizes, three GIs, and the two special ones."""
    kinds = list(_PROVIDER_KINDS)
    ambulant_only = PROVIDER_COUNT - 3 - sum(k[1] for k in kinds)
    kinds.append(((AMBULANT,), ambulant_only, _AMBULANT_PREFIXES, 1.0))
    names = [f"{w} {p}" for w in _PROVIDER_WORDS for p in _PLACES] + list(_PROVIDER_WORDS)
    rng.shuffle(names)
    agbs = [f"98{n:06d}" for n in sorted(rng.sample(range(10**6), PROVIDER_COUNT))]
    rng.shuffle(agbs)
    providers: list[Provider] = [
        Provider(agbs[0], "Jeugdbescherming Overijssel (fictief)", (PROTECTION,), 6.0, _JW),
        Provider(
            agbs[1],
            "Jeugdbescherming en Jeugdreclassering Landelijk (fictief)",
            (PROTECTION, PROBATION),
            3.0,
            _JW,
        ),
        Provider(agbs[2], "Jeugdreclassering Oost (fictief)", (PROBATION,), 1.5, _JW),
    ]
    late = (start + timedelta(days=365), max(start + timedelta(days=366), last - timedelta(400)))
    for lots, count, prefixes, factor in kinds:
        for _ in range(count):
            i = len(providers)
            weight = round(min(60.0, rng.paretovariate(1.0)) * factor, 3)
            contract = _JW
            if rng.random() < 0.12:  # a newer contract: no assignments before its start
                contract = late[0] + days(rng, 0, (late[1] - late[0]).days)
            name = f"{rng.choice(prefixes)} {names[i]} (fictief)"
            providers.append(Provider(agbs[i], name, lots, weight, contract))
    care = [p for p in providers if not p.is_gi and p.contract_start == _JW]
    mixed = sorted((p for p in care if p.lots == (AMBULANT, RESIDENTIAL)), key=lambda p: -p.weight)
    troubled = mixed[1]
    small = sorted((p for p in care if p.lots == (AMBULANT,)), key=lambda p: -p.weight)
    dormant = small[8]
    csv_agbs = {p.agb for p in small[12:17]}
    providers = [
        Provider(p.agb, p.name, p.lots, p.weight, p.contract_start, True)
        if p.agb in csv_agbs
        else p
        for p in providers
    ]
    window = (last - first).days
    return Market(
        tuple(sorted(providers, key=lambda p: p.agb)),
        troubled,
        first + timedelta(days=int(window * 0.4)),
        dormant,
        last - days(rng, 400, 460),
        first,
        last,
    )


# --- population --------------------------------------------------------------------------------


def populations(
    region: list[Municipality], rng: random.Random, years: range, anchor: int
) -> dict[str, dict[int, int]]:
    """Youth aged 0-17 per municipality and year: the region's figure, drifting a little
    from the `anchor` year on (and back before it)."""
    result: dict[str, dict[int, int]] = {}
    for muni in region:
        drift = rng.uniform(-0.006, 0.006)
        known = muni.youth_population
        series = {}
        for year in years:
            base = known.get(year) or (
                known[min(known, key=lambda y: (abs(y - year), y))] if known else 0
            )
            series[year] = round(base * (1 + drift) ** (year - anchor))
        result[muni.code] = series
    return result
