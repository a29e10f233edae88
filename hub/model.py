"""Canonical records: what every adapter yields and the store loads.

One dataclass per kind of record. Dates are `datetime.date`, money is integer eurocents,
codes stay strings (leading zeros matter). No BSN, name, address or contact value ever
appears here: a youth is known by its pseudonym (see hub/pseudonym.py).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import date
from typing import Any, get_type_hints


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a record came from: the source, the file's content hash, and its position
    (an XPath for XML, `line N` for text formats)."""

    source_id: str
    file_hash: str
    position: str


@dataclass(frozen=True, slots=True)
class MessageKey:
    """An iJw message is identified by (Afzender, BerichtCode, Identificatie)."""

    sender: str
    message_code: str
    identification: str
    dated: date
    message_type: str  # "JW301", ...


@dataclass(frozen=True, slots=True)
class Youth:
    municipality_code: str
    pseudonym: str  # hex HMAC-SHA256 of the BSN
    birth_year: int | None
    birth_month: int | None
    gender: str | None  # COD046: 0 unknown, 1 male, 2 female


@dataclass(frozen=True, slots=True)
class Referral:
    """JW315 AangevraagdProduct: a provider's request for an assignment, with its referrer."""

    municipality_code: str
    provider_agb: str
    youth: Youth
    provider_reference: str  # ReferentieAanbieder, unique per provider
    referrer_type: str  # COD327
    referrer_code: str | None  # ZorgverlenerCode (AGB of the referring professional)
    referrer_name: str | None
    product_category: str | None
    product_code: str | None
    requested_start: date
    requested_end: date | None
    volume: int | None
    unit: str | None
    frequency: str | None
    budget_cents: int | None
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Assignment:
    """JW301 ToegewezenProduct (toewijzing)."""

    municipality_code: str
    provider_agb: str
    youth: Youth
    toewijzing_nummer: str
    provider_reference: str | None
    product_category: str | None
    product_code: str | None
    assigned_on: date
    start: date
    end: date | None
    volume: int | None
    unit: str | None
    frequency: str | None
    budget_cents: int | None
    change_reason: str | None  # JZ002
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class CareStart:
    """JW305 StartProduct. Key (municipality, ToewijzingNummer, Begindatum)."""

    municipality_code: str
    provider_agb: str
    youth: Youth
    toewijzing_nummer: str
    product_category: str | None
    product_code: str | None
    start: date
    status: str  # StatusAanlevering: 1 add, 3 remove
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class CareStop:
    """JW307 StopProduct. Key (municipality, ToewijzingNummer, Begindatum)."""

    municipality_code: str
    provider_agb: str
    youth: Youth
    toewijzing_nummer: str
    product_category: str | None
    product_code: str | None
    start: date
    end: date
    end_reason: str  # JZ588
    status: str
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ClaimLine:
    """JW323 Prestatie. Key (provider, ReferentieNummer)."""

    municipality_code: str
    provider_agb: str
    youth: Youth
    reference: str
    previous_reference: str | None
    toewijzing_nummer: str
    product_category: str
    product_code: str
    period_start: date
    period_end: date
    volume: int
    unit: str
    rate_cents: int | None
    amount_cents: int
    debit_credit: str  # D or C
    claim_number: str  # DeclaratieNummer
    claim_date: date  # DeclaratieDagtekening
    message: MessageKey
    provenance: Provenance
    # A claim delivered with its answer (claims CSV): None = not answered yet,
    # () = granted, retourcodes = rejected. JW323 lines are answered by a JW325 instead.
    outcome: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ClaimAnswer:
    """JW325 header: the municipality's answer to one JW323 declaration."""

    municipality_code: str
    provider_agb: str
    claim_message_id: str  # DeclaratieIdentificatie/Identificatie of the JW323
    claim_number: str | None
    submitted_cents: int | None  # signed: credit totals are negative
    granted_cents: int | None
    retourcodes: tuple[str, ...]
    message: MessageKey


@dataclass(frozen=True, slots=True)
class ClaimRejection:
    """JW325 Prestatie: a rejected claim line with its retourcodes (or a header-only answer
    when `reference` is None)."""

    answer: ClaimAnswer
    reference: str | None
    retourcodes: tuple[str, ...]
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """JW317 Verzoek om wijziging."""

    municipality_code: str
    provider_agb: str
    youth: Youth | None
    provider_reference: str
    reason: str  # WJ758
    unchanged: tuple[str, ...]  # ToewijzingNummers kept
    changed: tuple[str, ...]  # ToewijzingNummers to change
    new_products: tuple[str, ...]  # product codes requested
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ChangeAnswer:
    """JW319 Antwoord on a change request."""

    municipality_code: str
    provider_agb: str
    provider_reference: str
    answer: str  # WJ760
    rejection_reason: str | None  # WJ759
    residence_municipality: str | None  # Woonplaatsbeginsel/Gemeente
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Retour:
    """A retour message (JW302, JW306, JW308, JW316, JW318, JW320): the retourcodes a
    receiver gave a message, recorded against that message. One record per body item, or
    one for the header when the message has none."""

    municipality_code: str
    provider_agb: str
    answers_identification: str  # IdentificatieRetour
    answers_dated: date  # DagtekeningRetour
    item: str | None  # e.g. "AangevraagdProduct[1]" or None for the header
    header_retourcodes: tuple[str, ...]
    item_retourcodes: tuple[str, ...]
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class CarePeriod:
    """A care period as an access system exports it (CSV, JSON API): its start and, once
    ended, end and reason in one record. Same key as JW305/JW307: (municipality,
    ToewijzingNummer, start). A later export (`message.dated`) overrides an earlier one."""

    municipality_code: str
    provider_agb: str
    youth: Youth
    toewijzing_nummer: str
    product_category: str | None
    product_code: str | None
    start: date
    end: date | None
    end_reason: str | None
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Measure:
    """A certified institution's (GI) measure: OTS, voogdij or jeugdreclassering. Key
    (municipality, GI, measure id)."""

    municipality_code: str
    provider_agb: str  # the GI's AGB code
    youth: Youth
    measure_id: str  # the GI's own reference
    measure_type: str  # OTS | VOOGDIJ | JEUGDRECLASSERING
    start: date
    end: date | None
    end_reason: str | None
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ProviderContract:
    """Provider register: a provider contracted for one lot. Key (AGB, lot, start)."""

    provider_agb: str
    name: str
    lot: str  # AMBULANT | RESIDENTIAL | CRISIS | HSWV | PROTECTION
    start: date
    end: date | None
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Budget:
    """A municipality's budget for one lot in one year. Key (municipality, year, lot)."""

    municipality_code: str
    year: int
    lot: str
    amount_cents: int
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Population:
    """Youth aged 0-17 on 1 January. Key (municipality, year); overrides the region file."""

    municipality_code: str
    year: int
    youth_0_17: int
    message: MessageKey
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ProviderSignal:
    """Contract management's view of a provider on a date. Key (AGB, date)."""

    provider_agb: str
    dated: date
    early_warning: str  # GREEN | YELLOW | ORANGE | RED (financial early-warning level)
    escalation: str  # NONE | MONITORING | ESCALATED | CONTINUITY_PLAN
    waiting_list: int | None  # youth waiting
    waiting_days: int | None  # mean waiting time in days
    message: MessageKey
    provenance: Provenance


Record = (
    Referral
    | Assignment
    | CareStart
    | CareStop
    | ClaimLine
    | ClaimRejection
    | ChangeRequest
    | ChangeAnswer
    | Retour
    | CarePeriod
    | Measure
    | ProviderContract
    | Budget
    | Population
    | ProviderSignal
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record (or a whole file) the hub refuses, with where and why.

    Never carries a BSN, name, address or contact value: `value` is only filled for codes
    and dates that identify nobody."""

    source_id: str
    file_name: str
    file_hash: str
    position: str  # XPath or `line N`; `/` for the whole file
    field: str | None
    reason: str
    code: str  # machine-readable class: xsd, not-well-formed, unknown-municipality, elfproef, ...
    municipality_code: str | None = None
    value: str | None = None


@dataclass(slots=True)
class FileResult:
    """What an adapter made of one file."""

    file_name: str
    file_hash: str
    records_read: int = 0
    records: list[Record] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    municipality_code: str | None = None
    failed: bool = False  # the file failed as a whole (not well-formed, XSD): nothing loads
    schema_validated: bool = True


# --- how records travel from the reader processes --------------------------------------------

_INLINED = (Youth, Provenance)  # one of each per record: they travel as values inside it


def _slot_setters(cls: type) -> dict[str, Any]:
    """`_set0`, `_set1`, ...: each field's slot descriptor's `__set__`, for generated code
    that fills a record without going through its (frozen) `__setattr__`."""
    return {f"_set{i}": getattr(cls, f.name).__set__ for i, f in enumerate(fields(cls))}


def _pickled_flat(cls: type) -> None:
    """Pickle as one call with flat values: the Youth and Provenance a record holds as their
    fields, dates as day numbers. Each as an object of its own (a reduce call and memo
    entries apiece) took two to three times as long to pickle: 13.4 to 19.0 against 6.0 to
    6.2 us for a file of 0193, 62 against 19 for one of six claim lines. The builder is
    generated, as dataclasses generates `__init__`, and sets the slots as unpickling an
    object does, without `__init__`: 1.1 against 2.0 us for a claim line."""
    hints = get_type_hints(cls)
    values: list[str] = []  # expressions over `self`, in order
    made: list[str] = []  # each field's value from v0, v1, ...
    for f in fields(cls):
        kind, v = hints[f.name], f"v{len(values)}"
        if kind in _INLINED:
            names = [g.name for g in fields(kind)]
            args = [f"v{len(values) + i}" for i in range(len(names))]
            values += [f"self.{f.name}.{name}" for name in names]
            made.append(f"_make_{kind.__name__}({', '.join(args)})")
        elif kind is date:
            values.append(f"self.{f.name}.toordinal()")
            made.append(f"_day({v})")
        elif kind == date | None:
            values.append(f"None if self.{f.name} is None else self.{f.name}.toordinal()")
            made.append(f"None if {v} is None else _day({v})")
        else:
            values.append(f"self.{f.name}")
            made.append(v)
    name = f"_make_{cls.__name__}"  # found by pickle as hub.model.<name>
    sets = "".join(f"    _set{i}(o, {value})\n" for i, value in enumerate(made))
    source = (
        f"def {name}({', '.join(f'v{i}' for i in range(len(values)))}):\n"
        f"    o = _new({cls.__name__})\n{sets}    return o\n"
        f"def __reduce__(self):\n"
        f"    return {name}, ({', '.join(values)},)\n"
    )
    scope = {**globals(), **_slot_setters(cls), "_new": object.__new__, "_day": date.fromordinal}
    exec(source, scope)  # noqa: S102  (source made above from the fields)
    globals()[name] = scope[name]
    cls.__reduce__ = scope["__reduce__"]  # type: ignore[method-assign]


def _init_by_slots(cls: type) -> None:
    """The `__init__` of a frozen dataclass, with the same parameters and defaults, setting
    the slots as the builders above do. The one dataclasses generates goes through
    `object.__setattr__` once per field, the class's own being the one that refuses: 2.9
    against 1.6 us for a claim line, 0.66 against 0.40 for a youth; the readers make one
    record or more for every file of the region."""
    params, sets, scope = [], [], _slot_setters(cls)
    for i, f in enumerate(fields(cls)):
        if f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: a default factory is not supported here")
        if f.default is MISSING:
            params.append(f.name)
        else:
            params.append(f"{f.name}=_default{i}")
            scope[f"_default{i}"] = f.default
        sets.append(f"    _set{i}(self, {f.name})\n")
    exec(f"def __init__(self, {', '.join(params)}):\n{''.join(sets)}", scope)  # noqa: S102
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]


_DATACLASSES = [
    value
    for value in tuple(globals().values())
    if isinstance(value, type) and is_dataclass(value) and value.__module__ == __name__
]
for _cls in sorted(_DATACLASSES, key=lambda c: c not in _INLINED):  # their builders first
    _pickled_flat(_cls)
    if _cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        _init_by_slots(_cls)
