"""Rows to canonical records, shared by the adapters of tabular sources: CSV exports of
access systems, JSON APIs, GI measures, provider claims and reference data.

A row is a mapping from the source's own field names to values. The source's options in
`sources.toml` say which kind of record every row is and how to read it:

    kind          one of KINDS below (each source delivers one kind)
    columns       {canonical field = "the source's own name"}; unmapped fields are looked
                  up under their canonical name
    values        {canonical field = {"their value" = "canonical value"}}, e.g. gender M -> 1
    date_format   strptime pattern, default "%Y-%m-%d"; "%d-%m-%Y" also reads 1-3-2024
    decimal       "." (default) or ",": the decimal mark of amounts
    money         "cents" (default) or "euros"
    municipality  the municipality of every row when the source has no such column (defaults
                  to the source's owner when that is a municipality code)

Every row is one record, or one rejection naming the row's position, the source's field
name and the reason. A required column missing from the header fails the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from hub.adapters.base import AdapterContext
from hub.config import ConfigError
from hub.model import (
    Assignment,
    Budget,
    CarePeriod,
    ClaimLine,
    FileResult,
    Measure,
    MessageKey,
    Population,
    Provenance,
    ProviderContract,
    ProviderSignal,
    Record,
    Referral,
    Rejection,
    Youth,
)
from hub.pseudonym import elfproef

LOTS = frozenset({"AMBULANT", "RESIDENTIAL", "CRISIS", "HSWV", "PROTECTION", "PROBATION"})
MEASURE_TYPES = frozenset({"OTS", "VOOGDIJ", "JEUGDRECLASSERING"})
EARLY_WARNING = frozenset({"GREEN", "YELLOW", "ORANGE", "RED"})
ESCALATION = frozenset({"NONE", "MONITORING", "ESCALATED", "CONTINUITY_PLAN"})
CLAIM_STATUS = frozenset({"SUBMITTED", "GRANTED", "REJECTED"})

# Field types: how a value is read and checked.
_TEXT, _DATE, _INT, _MONEY, _AGB, _MUNI, _CODES = (
    "text",
    "date",
    "int",
    "money",
    "agb",
    "municipality",
    "codes",
)

_YOUTH = {"bsn": ("text", True), "birth_date": (_DATE, False), "gender": (_TEXT, False)}
_PRODUCT = {"product_category": (_TEXT, False), "product_code": (_TEXT, False)}

# kind -> {canonical field: (type, required)}
KINDS: dict[str, dict[str, tuple[str, bool]]] = {
    "referral": {
        "municipality": (_MUNI, True),
        **_YOUTH,
        "provider_agb": (_AGB, True),
        "provider_reference": (_TEXT, True),
        "referrer_type": (_TEXT, True),
        "referrer_code": (_TEXT, False),
        "referrer_name": (_TEXT, False),
        **_PRODUCT,
        "requested_start": (_DATE, True),
        "requested_end": (_DATE, False),
        "volume": (_INT, False),
        "unit": (_TEXT, False),
        "frequency": (_TEXT, False),
        "budget": (_MONEY, False),
        "dated": (_DATE, False),
    },
    "assignment": {
        "municipality": (_MUNI, True),
        **_YOUTH,
        "provider_agb": (_AGB, True),
        "assignment_number": (_TEXT, True),
        "provider_reference": (_TEXT, False),
        **_PRODUCT,
        "assigned_on": (_DATE, True),
        "start": (_DATE, True),
        "end": (_DATE, False),
        "volume": (_INT, False),
        "unit": (_TEXT, False),
        "frequency": (_TEXT, False),
        "budget": (_MONEY, False),
        "change_reason": (_TEXT, False),
        "dated": (_DATE, False),
    },
    "care_period": {
        "municipality": (_MUNI, True),
        **_YOUTH,
        "provider_agb": (_AGB, True),
        "assignment_number": (_TEXT, True),
        **_PRODUCT,
        "start": (_DATE, True),
        "end": (_DATE, False),
        "end_reason": (_TEXT, False),
        "dated": (_DATE, False),
    },
    "claim": {
        "municipality": (_MUNI, True),
        **_YOUTH,
        "provider_agb": (_AGB, True),
        "reference": (_TEXT, True),
        "previous_reference": (_TEXT, False),
        "assignment_number": (_TEXT, True),
        **_PRODUCT,
        "period_start": (_DATE, True),
        "period_end": (_DATE, True),
        "volume": (_INT, True),
        "unit": (_TEXT, True),
        "rate": (_MONEY, False),
        "amount": (_MONEY, True),
        "debit_credit": (_TEXT, False),
        "claim_number": (_TEXT, True),
        "claim_date": (_DATE, True),
        "status": (_TEXT, False),
        "retourcodes": (_CODES, False),
    },
    "measure": {
        "municipality": (_MUNI, True),
        **_YOUTH,
        "provider_agb": (_AGB, True),
        "measure_id": (_TEXT, True),
        "measure_type": (_TEXT, True),
        "start": (_DATE, True),
        "end": (_DATE, False),
        "end_reason": (_TEXT, False),
    },
    "provider": {
        "provider_agb": (_AGB, True),
        "name": (_TEXT, True),
        "lot": (_TEXT, True),
        "start": (_DATE, True),
        "end": (_DATE, False),
    },
    "budget": {
        "municipality": (_MUNI, True),
        "year": (_INT, True),
        "lot": (_TEXT, True),
        "amount": (_MONEY, True),
    },
    "population": {
        "municipality": (_MUNI, True),
        "year": (_INT, True),
        "youth_0_17": (_INT, True),
    },
    "signal": {
        "provider_agb": (_AGB, True),
        "dated": (_DATE, True),
        "early_warning": (_TEXT, True),
        "escalation": (_TEXT, True),
        "waiting_list": (_INT, False),
        "waiting_days": (_INT, False),
    },
}

_OPTIONS = frozenset(
    {"kind", "columns", "values", "date_format", "decimal", "money", "municipality"}
)


class FieldError(Exception):
    """One field of one row could not be read."""

    def __init__(self, code: str, field: str, reason: str, value: str | None = None) -> None:
        super().__init__(reason)
        self.code, self.field, self.reason, self.value = code, field, reason, value


@dataclass(frozen=True, slots=True)
class RowOptions:
    kind: str
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> source name
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str = "%Y-%m-%d"
    decimal: str = "."
    money: str = "cents"
    municipality: str | None = None

    @classmethod
    def parse(
        cls,
        source_id: str,
        options: Mapping[str, Any],
        *,
        kinds: Iterable[str],
        extra: Iterable[str] = (),
        owner: str | None = None,
    ) -> RowOptions:
        """Read and check a source's options; a mistake is a ConfigError naming the source."""
        where = f"source {source_id!r}"
        unknown = set(options) - _OPTIONS - set(extra)
        if unknown:
            raise ConfigError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}")
        allowed = list(kinds)
        kind = options.get("kind", allowed[0] if len(allowed) == 1 else None)
        if kind not in allowed:
            raise ConfigError(f"{where}: option kind must be one of {', '.join(allowed)}")
        fields = KINDS[kind]
        columns = dict(options.get("columns", {}))
        values = {
            k: {str(a): str(b) for a, b in v.items()} for k, v in options.get("values", {}).items()
        }
        for name in (*columns, *values):
            if name not in fields:
                raise ConfigError(
                    f"{where}: {name!r} is no field of kind {kind} (fields: {', '.join(fields)})"
                )
        if options.get("decimal", ".") not in (".", ","):
            raise ConfigError(f"{where}: option decimal must be '.' or ','")
        if options.get("money", "cents") not in ("cents", "euros"):
            raise ConfigError(f"{where}: option money must be 'cents' or 'euros'")
        date_format = str(options.get("date_format", "%Y-%m-%d"))
        try:
            datetime.strptime(date(2024, 3, 1).strftime(date_format), date_format)
        except ValueError as exc:
            raise ConfigError(f"{where}: date_format {date_format!r}: {exc}") from exc
        municipality = options.get("municipality")
        if municipality is None and owner and re.fullmatch(r"[0-9]{4}", owner):
            municipality = owner
        return cls(
            kind,
            {str(k): str(v) for k, v in columns.items()},
            values,
            date_format,
            str(options.get("decimal", ".")),
            str(options.get("money", "cents")),
            str(municipality) if municipality else None,
        )

    def source_name(self, canonical: str) -> str:
        return self.columns.get(canonical, canonical)

    def missing_columns(self, header: Iterable[str]) -> list[str]:
        """Required fields whose column the header lacks (the municipality may come from the
        options instead)."""
        present = set(header)
        return [
            self.source_name(name)
            for name, (_, required) in KINDS[self.kind].items()
            if required
            and self.source_name(name) not in present
            and not (name == "municipality" and self.municipality)
        ]


@lru_cache(maxsize=8192)
def _parse_day(text: str, date_format: str) -> date:
    """strptime, once per text: a source's rows name the same few thousand days over and
    over, and strptime takes 15 to 20 us a call (reading the region's CSV exports and API
    resources takes a sixth less). A text that is no date raises every time; only dates
    are kept."""
    return datetime.strptime(text, date_format).date()


class _Row:
    """Typed access to one row's fields by canonical name; errors name the source's field."""

    def __init__(self, raw: Mapping[str, Any], opts: RowOptions) -> None:
        self.raw, self.opts = raw, opts
        self.fields = KINDS[opts.kind]

    def text(self, name: str) -> str | None:
        value = self.raw.get(self.opts.source_name(name))
        text = "" if value is None else str(value).strip()
        if not text and name == "municipality":
            text = self.opts.municipality or ""
        mapped = self.opts.values.get(name)
        if mapped and text in mapped:
            text = mapped[text]
        if not text:
            if self.fields[name][1]:
                raise FieldError("missing-field", self.opts.source_name(name), "value missing")
            return None
        return text

    def req(self, name: str) -> str:
        text = self.text(name)
        assert text is not None  # required fields raise in text()  # noqa: S101
        return text

    def _fail(
        self, name: str, reason: str, value: str | None, code: str = "invalid-value"
    ) -> FieldError:
        return FieldError(code, self.opts.source_name(name), reason, value)

    def day(self, name: str) -> date | None:
        text = self.text(name)
        if text is None:
            return None
        try:
            return _parse_day(text, self.opts.date_format)
        except ValueError:
            raise self._fail(
                name, f"not a date in the format {self.opts.date_format}", text[:40]
            ) from None

    def req_day(self, name: str) -> date:
        value = self.day(name)
        assert value is not None  # noqa: S101
        return value

    def num(self, name: str) -> int | None:
        text = self.text(name)
        if text is None:
            return None
        if not re.fullmatch(r"-?[0-9]+", text):
            raise self._fail(name, "not a whole number", text[:40])
        return int(text)

    def req_num(self, name: str) -> int:
        value = self.num(name)
        assert value is not None  # noqa: S101
        return value

    def money(self, name: str) -> int | None:
        """Integer eurocents from cents or euros with the source's decimal mark."""
        text = self.text(name)
        if text is None:
            return None
        thousands = "." if self.opts.decimal == "," else ","
        plain = text.replace(" ", "").replace(thousands, "").replace(self.opts.decimal, ".")
        try:
            amount = Decimal(plain)
        except InvalidOperation:
            raise self._fail(name, "not an amount", text[:40]) from None
        cents = amount * 100 if self.opts.money == "euros" else amount
        if cents != cents.to_integral_value():
            raise self._fail(name, f"amount has fractions of a cent ({self.opts.money})", text)
        return int(cents)

    def code(self, name: str, allowed: frozenset[str]) -> str:
        text = self.req(name).upper()
        if text not in allowed:
            raise self._fail(name, f"must be one of {', '.join(sorted(allowed))}", text[:40])
        return text

    def agb(self, name: str = "provider_agb") -> str:
        text = self.req(name)
        if not re.fullmatch(r"[0-9]{8}", text):
            raise self._fail(name, "an AGB code has 8 digits", text[:40])
        return text

    def codes(self, name: str) -> tuple[str, ...]:
        text = self.text(name)
        return tuple(c for c in re.split(r"[;,\s]+", text) if c) if text else ()


@dataclass(slots=True)
class RowReader:
    """Turns the rows of one input (a file or a page) into a FileResult."""

    opts: RowOptions
    ctx: AdapterContext
    file_name: str
    file_hash: str
    message_type: str  # CSV, API: what the records carry as their message type
    result: FileResult = field(init=False)
    seen: set[tuple[Any, ...]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.result = FileResult(self.file_name, self.file_hash)
        if self.opts.municipality:
            self.result.municipality_code = self.opts.municipality

    def fail(self, code: str, reason: str, field_name: str | None = None) -> FileResult:
        """The input fails as a whole: nothing of it loads."""
        result = FileResult(
            self.file_name,
            self.file_hash,
            max(self.result.records_read, 1),
            municipality_code=self.opts.municipality,
            failed=True,
        )
        result.rejections.append(
            Rejection(
                self.ctx.source_id,
                self.file_name,
                self.file_hash,
                "/",
                field_name,
                reason,
                code,
                self.opts.municipality,
            )
        )
        return result

    def add(self, position: str, raw: Mapping[str, Any]) -> None:
        self.result.records_read += 1
        row = _Row(raw, self.opts)
        municipality = None
        try:
            municipality = self._municipality(row)
            record, key = _BUILDERS[self.opts.kind](self, row, position)
        except FieldError as exc:
            self.reject(position, exc, municipality)
            return
        key = (self.opts.kind, *key)
        if key in self.seen:
            self.reject(
                position,
                FieldError(
                    "duplicate-key",
                    self.opts.source_name(_KEY_FIELD[self.opts.kind]),
                    "the same key occurs earlier in this input",
                    "/".join(str(k) for k in key[1:])[:80],
                ),
                municipality,
            )
            return
        self.seen.add(key)
        self.result.records.append(record)

    def _municipality(self, row: _Row) -> str | None:
        if "municipality" not in row.fields:
            return None
        code = row.req("municipality")
        if code.upper().startswith("GM"):  # CBS StatLine writes GM0193
            code = code[2:]
        if not re.fullmatch(r"[0-9]{4}", code):
            raise row._fail("municipality", "a municipality code has 4 digits", code[:40])
        if code not in self.ctx.region:
            raise FieldError(
                "unknown-municipality",
                self.opts.source_name("municipality"),
                f"municipality {code} is not part of the region",
                code,
            )
        owner = self.ctx.owner
        if owner and re.fullmatch(r"[0-9]{4}", owner) and code != owner:
            raise FieldError(
                "not-owner",
                self.opts.source_name("municipality"),
                f"source of municipality {owner} delivers data of municipality {code}",
                code,
            )
        return code

    def reject(self, position: str, exc: FieldError, municipality: str | None = None) -> None:
        self.result.rejections.append(
            Rejection(
                self.ctx.source_id,
                self.file_name,
                self.file_hash,
                position,
                exc.field or None,
                f"{exc.field}: {exc.reason}" if exc.field else exc.reason,
                exc.code,
                municipality,
                exc.value,
            )
        )

    # -- shared pieces of records

    def provenance(self, position: str) -> Provenance:
        return Provenance(self.ctx.source_id, self.file_hash, position)

    def message(self, dated: date, identification: str | None = None) -> MessageKey:
        return MessageKey(
            self.ctx.source_id,
            self.opts.kind,
            identification or self.file_hash,
            dated,
            self.message_type,
        )

    def youth(self, row: _Row, municipality: str) -> Youth:
        bsn = row.req("bsn")
        if not elfproef(bsn):
            # never the value: a BSN, even a wrong one, stays out of the quarantine
            raise FieldError("elfproef", row.opts.source_name("bsn"), "BSN fails the elfproef")
        birth = row.day("birth_date")
        gender = row.text("gender")
        if gender is not None and gender not in ("0", "1", "2"):
            raise row._fail("gender", "gender must be 0, 1 or 2 (COD046; map with values)", gender)
        return Youth(
            municipality,
            self.ctx.pseudonymise(bsn),
            birth.year if birth else None,
            birth.month if birth else None,
            gender,
        )


def _product(row: _Row) -> tuple[str | None, str | None]:
    code = row.text("product_code")
    category = row.text("product_category")
    if category is None and code and re.match(r"[0-9]{2}", code):
        category = code[:2]
    if category is not None and not re.fullmatch(r"[0-9]{2}", category):
        raise row._fail("product_category", "a product category has 2 digits", category[:40])
    return category, code


def _dated(row: _Row, *dates: date | None) -> date:
    """When the source last changed the row: its own `dated` field, else its latest date."""
    explicit = row.day("dated") if "dated" in row.fields else None
    return explicit or max(d for d in dates if d is not None)


def _check_order(row: _Row, start: date, end: date | None, end_field: str = "end") -> None:
    if end is not None and end < start:
        raise row._fail(end_field, "ends before it starts", end.isoformat())


Built = tuple[Record, tuple[Any, ...]]


def _referral(r: RowReader, row: _Row, pos: str) -> Built:
    m = _muni(row)
    category, code = _product(row)
    start, end = row.req_day("requested_start"), row.day("requested_end")
    _check_order(row, start, end, "requested_end")
    agb, ref = row.agb(), row.req("provider_reference")
    rec = Referral(
        m, agb, r.youth(row, m), ref, row.req("referrer_type"), row.text("referrer_code"),
        row.text("referrer_name"), category, code, start, end, row.num("volume"),
        row.text("unit"), row.text("frequency"), row.money("budget"),
        r.message(_dated(row, start)), r.provenance(pos),
    )  # fmt: skip
    return rec, (m, agb, ref)


def _muni(row: _Row) -> str:
    m = row.req("municipality")
    return m[2:] if m.upper().startswith("GM") else m


def _assignment(r: RowReader, row: _Row, pos: str) -> Built:
    m = _muni(row)
    category, code = _product(row)
    assigned, start, end = row.req_day("assigned_on"), row.req_day("start"), row.day("end")
    _check_order(row, start, end)
    number = row.req("assignment_number")
    rec = Assignment(
        m, row.agb(), r.youth(row, m), number, row.text("provider_reference"), category, code,
        assigned, start, end, row.num("volume"), row.text("unit"), row.text("frequency"),
        row.money("budget"), row.text("change_reason"),
        r.message(_dated(row, assigned)), r.provenance(pos),
    )  # fmt: skip
    return rec, (m, number)


def _care_period(r: RowReader, row: _Row, pos: str) -> Built:
    m = _muni(row)
    category, code = _product(row)
    start, end = row.req_day("start"), row.day("end")
    _check_order(row, start, end)
    reason = row.text("end_reason")
    if end is not None and reason is None:
        raise FieldError(
            "missing-field", row.opts.source_name("end_reason"), "an end needs a reason"
        )
    number = row.req("assignment_number")
    rec = CarePeriod(
        m, row.agb(), r.youth(row, m), number, category, code, start, end,
        reason if end else None, r.message(_dated(row, start, end)), r.provenance(pos),
    )  # fmt: skip
    return rec, (m, number, start)


def _claim(r: RowReader, row: _Row, pos: str) -> Built:
    m = _muni(row)
    category, code = _product(row)
    if category is None or code is None:
        raise FieldError("missing-field", row.opts.source_name("product_code"), "value missing")
    begin, end = row.req_day("period_start"), row.req_day("period_end")
    _check_order(row, begin, end, "period_end")
    amount = row.money("amount")
    assert amount is not None  # noqa: S101
    dc = (row.text("debit_credit") or ("C" if amount < 0 else "D")).upper()
    if dc not in ("D", "C"):
        raise row._fail("debit_credit", "must be D or C", dc[:40])
    status = (row.text("status") or "SUBMITTED").upper()
    if status not in CLAIM_STATUS:
        raise row._fail("status", f"must be one of {', '.join(sorted(CLAIM_STATUS))}", status)
    codes = row.codes("retourcodes")
    if status == "REJECTED" and not codes:
        raise FieldError(
            "missing-field",
            row.opts.source_name("retourcodes"),
            "a rejected line needs retourcodes",
        )
    outcome = None if status == "SUBMITTED" else (codes if status == "REJECTED" else ())
    agb, ref, number = row.agb(), row.req("reference"), row.req("claim_number")
    claimed = row.req_day("claim_date")
    rec = ClaimLine(
        m, agb, r.youth(row, m), ref, row.text("previous_reference"),
        row.req("assignment_number"), category, code, begin, end, row.req_num("volume"),
        row.req("unit"), row.money("rate"), abs(amount), dc, number, claimed,
        r.message(claimed, f"{agb}/{number}"), r.provenance(pos), outcome,
    )  # fmt: skip
    return rec, (m, agb, ref)


def _measure(r: RowReader, row: _Row, pos: str) -> Built:
    m = _muni(row)
    start, end = row.req_day("start"), row.day("end")
    _check_order(row, start, end)
    agb, ident = row.agb(), row.req("measure_id")
    rec = Measure(
        m, agb, r.youth(row, m), ident, row.code("measure_type", MEASURE_TYPES), start, end,
        row.text("end_reason") if end else None, r.message(_dated(row, start, end)),
        r.provenance(pos),
    )  # fmt: skip
    return rec, (m, agb, ident)


def _provider(r: RowReader, row: _Row, pos: str) -> Built:
    start, end = row.req_day("start"), row.day("end")
    _check_order(row, start, end)
    agb, lot = row.agb(), row.code("lot", LOTS)
    rec = ProviderContract(
        agb, row.req("name"), lot, start, end, r.message(start), r.provenance(pos)
    )
    return rec, (agb, lot, start)


def _budget(r: RowReader, row: _Row, pos: str) -> Built:
    m, year, lot = _muni(row), _year(row), row.code("lot", LOTS)
    amount = row.money("amount")
    assert amount is not None  # noqa: S101
    if amount < 0:
        raise row._fail("amount", "a budget is not negative", str(amount))
    rec = Budget(m, year, lot, amount, r.message(date(year, 1, 1)), r.provenance(pos))
    return rec, (m, year, lot)


def _population(r: RowReader, row: _Row, pos: str) -> Built:
    m, year, count = _muni(row), _year(row), row.req_num("youth_0_17")
    if count < 0:
        raise row._fail("youth_0_17", "a population is not negative", str(count))
    rec = Population(m, year, count, r.message(date(year, 1, 1)), r.provenance(pos))
    return rec, (m, year)


def _signal(r: RowReader, row: _Row, pos: str) -> Built:
    agb, dated = row.agb(), row.req_day("dated")
    rec = ProviderSignal(
        agb, dated, row.code("early_warning", EARLY_WARNING), row.code("escalation", ESCALATION),
        row.num("waiting_list"), row.num("waiting_days"), r.message(dated), r.provenance(pos),
    )  # fmt: skip
    return rec, (agb, dated)


def _year(row: _Row) -> int:
    year = row.req_num("year")
    if not 1990 <= year <= 2100:
        raise row._fail("year", "not a plausible year", str(year))
    return year


_BUILDERS: dict[str, Callable[[RowReader, _Row, str], Built]] = {
    "referral": _referral,
    "assignment": _assignment,
    "care_period": _care_period,
    "claim": _claim,
    "measure": _measure,
    "provider": _provider,
    "budget": _budget,
    "population": _population,
    "signal": _signal,
}

# The field a duplicate key is reported under.
_KEY_FIELD = {
    "referral": "provider_reference",
    "assignment": "assignment_number",
    "care_period": "start",
    "claim": "reference",
    "measure": "measure_id",
    "provider": "lot",
    "budget": "lot",
    "population": "year",
    "signal": "dated",
}

__all__ = ["KINDS", "FieldError", "RowOptions", "RowReader"]
