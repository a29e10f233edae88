"""Idempotent load of one adapter result: one transaction per file, natural keys, provenance
on every row, rejections to quarantine, the run recorded whatever happens.

Every upsert only writes when something differs (`where ... is distinct from ...`), so loading
the same content twice changes no row. A file that failed as a whole loads nothing and is
recorded as a failed run with its one quarantined record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import asyncpg

from hub.db import Database, Scope, Tx
from hub.model import (
    Assignment,
    Budget,
    CarePeriod,
    CareStart,
    CareStop,
    ChangeAnswer,
    ChangeRequest,
    ClaimLine,
    ClaimRejection,
    FileResult,
    Measure,
    Population,
    ProviderContract,
    ProviderSignal,
    Record,
    Referral,
    Rejection,
    Retour,
    Youth,
)

log = logging.getLogger("hub.store")


@dataclass(frozen=True, slots=True)
class SourceInfo:
    id: str
    adapter: str
    owner: str | None = None
    location: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int
    file_name: str
    status: str  # loaded | failed
    records_read: int
    records_accepted: int
    records_quarantined: int
    records_unlinked: int
    error: str | None = None
    rejections: tuple[Rejection, ...] = ()


_YOUTH_ID = "(select id from youth y where y.municipality_code = $1 and y.pseudonym = $2)"
_PROVENANCE = "source_id, file_hash, position"


def _prov(r: Any) -> tuple[str, str, str]:
    return (r.provenance.source_id, r.provenance.file_hash, r.provenance.position)


def _youth_of(r: Record) -> Youth | None:
    return getattr(r, "youth", None)


async def load_file(db: Database, source: SourceInfo, result: FileResult) -> RunResult:
    """Load one file's records in one transaction and record the run."""
    municipality = result.municipality_code
    # The transaction may write exactly the municipalities this file speaks of.
    codes = {m for r in result.records if (m := _municipality(r))}
    codes |= {q.municipality_code for q in result.rejections if q.municipality_code}
    if municipality:
        codes.add(municipality)
    scope = Scope(
        "ingest",
        municipality=municipality,
        actor=f"source:{source.id}",
        # "-" (no municipality): a file that failed before naming one may only record its
        # run and its file-level quarantine row.
        ingest_municipalities=tuple(sorted(codes)) or ("-",),
    )
    if result.failed or not result.records:
        return await _record_run(
            db, source, result, scope, status="failed" if result.failed else "loaded", unlinked=0
        )
    try:
        async with db.tenant(scope, readonly=False, timeout_ms=600_000) as tx:
            await _register_source(tx, source)
            result = await _quarantine_resent_claims(tx, result)
            unlinked = await _load_records(tx, result.records) if result.records else 0
            return await _insert_run(tx, source, result, status="loaded", unlinked=unlinked)
    except (asyncpg.PostgresError, asyncpg.DataError) as exc:
        # the file fails as a whole: the data stays as it was, the run is recorded
        log.warning(
            "ingest_file_failed source=%s file=%s error=%s",
            source.id,
            result.file_name,
            type(exc).__name__,
        )
        failed = FileResult(
            result.file_name,
            result.file_hash,
            result.records_read,
            municipality_code=municipality,
            failed=True,
            schema_validated=result.schema_validated,
        )
        failed.rejections.append(
            Rejection(
                source.id,
                result.file_name,
                result.file_hash,
                "/",
                None,
                f"the file could not be loaded ({type(exc).__name__}); nothing of it was kept",
                "load-failed",
                municipality,
            )
        )
        return await _record_run(
            db, source, failed, scope, status="failed", unlinked=0, error=type(exc).__name__
        )


async def register_source(db: Database, source: SourceInfo) -> None:
    """Make a source known before any of its files is loaded (a source without files yet is
    still listed by `hub sources`)."""
    scope = Scope("ingest", actor=f"source:{source.id}", ingest_municipalities=("-",))
    async with db.tenant(scope, readonly=False) as tx:
        await _register_source(tx, source)


async def _record_run(
    db: Database,
    source: SourceInfo,
    result: FileResult,
    scope: Scope,
    *,
    status: str,
    unlinked: int,
    error: str | None = None,
) -> RunResult:
    async with db.tenant(scope, readonly=False) as tx:
        await _register_source(tx, source)
        return await _insert_run(tx, source, result, status=status, unlinked=unlinked, error=error)


async def _quarantine_resent_claims(tx: Tx, result: FileResult) -> FileResult:
    """A ReferentieNummer is unique per provider: a claim line whose reference an earlier
    message already used is a duplicate key, quarantined rather than silently dropped."""
    claims = [r for r in result.records if isinstance(r, ClaimLine)]
    if not claims:
        return result
    earlier = await tx.fetch(
        """select municipality_code, provider_agb, reference, claim_message_id from claim_line
           where (municipality_code, provider_agb, reference) in
                 (select * from unnest($1::text[], $2::text[], $3::text[]))""",
        [c.municipality_code for c in claims],
        [c.provider_agb for c in claims],
        [c.reference for c in claims],
    )
    used = {(r[0], r[1], r[2]): r[3] for r in earlier}
    resent = [
        c
        for c in claims
        if used.get((c.municipality_code, c.provider_agb, c.reference), c.message.identification)
        != c.message.identification
    ]
    if not resent:
        return result
    resent_ids = {id(c) for c in resent}
    kept = [r for r in result.records if id(r) not in resent_ids]
    rejections = [
        Rejection(
            c.provenance.source_id,
            result.file_name,
            result.file_hash,
            c.provenance.position,
            "ReferentieNummer",
            f"ReferentieNummer {c.reference} of provider {c.provider_agb} was already claimed "
            f"in message {used[(c.municipality_code, c.provider_agb, c.reference)]}",
            "duplicate-key",
            c.municipality_code,
            c.reference,
        )
        for c in resent
    ]
    return replace(result, records=kept, rejections=[*result.rejections, *rejections])


async def _register_source(tx: Tx, source: SourceInfo) -> None:
    await tx.execute(
        """insert into source(id, adapter, owner, location, options)
           values ($1, $2, $3, $4, $5::jsonb)
           on conflict (id) do update set adapter = excluded.adapter, owner = excluded.owner,
             location = excluded.location, options = excluded.options
           where (source.adapter, source.owner, source.location, source.options)
                 is distinct from (excluded.adapter, excluded.owner, excluded.location,
                                   excluded.options)""",
        source.id,
        source.adapter,
        source.owner,
        source.location,
        json.dumps(dict(source.options), sort_keys=True),
    )


async def _insert_run(
    tx: Tx,
    source: SourceInfo,
    result: FileResult,
    *,
    status: str,
    unlinked: int,
    error: str | None = None,
) -> RunResult:
    accepted = 0 if result.failed else len(result.records)
    quarantined = len(result.rejections)
    run_id = await tx.fetchval(
        """insert into ingest_run(source_id, municipality_code, file_name, file_hash, finished_at,
             status, records_read, records_accepted, records_quarantined, records_unlinked,
             schema_validated, error)
           values ($1, $2, $3, $4, now(), $5, $6, $7, $8, $9, $10, $11) returning id""",
        source.id,
        result.municipality_code,
        result.file_name,
        result.file_hash,
        status,
        result.records_read,
        accepted,
        quarantined,
        unlinked,
        result.schema_validated,
        error,
    )
    await tx.executemany(
        """insert into quarantine(municipality_code, run_id, source_id, file_name, file_hash,
             position, field, code, reason, value) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
           on conflict (file_hash, position, code) do nothing""",
        [
            (
                r.municipality_code,
                run_id,
                source.id,
                r.file_name,
                r.file_hash,
                r.position,
                r.field,
                r.code,
                r.reason,
                r.value,
            )
            for r in result.rejections
        ],
    )
    return RunResult(
        run_id,
        result.file_name,
        status,
        result.records_read,
        accepted,
        quarantined,
        unlinked,
        error,
        tuple(result.rejections),
    )


async def _load_records(tx: Tx, records: list[Record]) -> int:
    """Upsert the records of one file; returns how many point at nothing (stored, flagged)."""
    youths = {(y.municipality_code, y.pseudonym): y for r in records if (y := _youth_of(r))}
    await tx.executemany(
        f"""insert into youth(municipality_code, pseudonym, birth_year, birth_month, gender,
              {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7, $8)
            on conflict (municipality_code, pseudonym) do update
              set birth_year = coalesce(youth.birth_year, excluded.birth_year),
                  birth_month = coalesce(youth.birth_month, excluded.birth_month),
                  gender = coalesce(youth.gender, excluded.gender)
            where (youth.birth_year is null and excluded.birth_year is not null)
               or (youth.birth_month is null and excluded.birth_month is not null)
               or (youth.gender is null and excluded.gender is not null)""",
        [
            (
                y.municipality_code,
                y.pseudonym,
                y.birth_year,
                y.birth_month,
                y.gender,
                *_first_prov(records, y),
            )
            for y in youths.values()
        ],
    )
    providers = sorted(
        {r.provider_agb for r in records if hasattr(r, "provider_agb")}
        | {r.answer.provider_agb for r in records if isinstance(r, ClaimRejection)}
    )
    await tx.executemany(
        "insert into provider(agb) values ($1) on conflict (agb) do nothing",
        [(p,) for p in providers],
    )
    first = records[0]
    message = first.answer.message if isinstance(first, ClaimRejection) else first.message
    if message.message_type.startswith("JW") and not await _new_message(tx, first, message):
        return await _count_unlinked(tx, records)
    for kind, loader in _LOADERS.items():
        batch = [r for r in records if isinstance(r, kind)]
        if batch:
            await loader(tx, batch)
    for municipality in sorted({m for m, _ in youths}):
        await tx.execute(
            """select refresh_trajectories($1, array(
                 select id from youth where municipality_code = $1 and pseudonym = any($2)))""",
            municipality,
            [p for m, p in youths if m == municipality],
        )
    return await _count_unlinked(tx, records)


async def _new_message(tx: Tx, first: Record, message: Any) -> bool:
    """Record the iJw message, identified by (Afzender, BerichtCode, Identificatie). A
    message applied before is not applied again: replaying it after a later withdrawal
    (status 3) or correction would undo that. Rows of other sources are snapshots, made
    idempotent by their keys and `dated`."""
    new_message = await tx.fetchval(
        f"""insert into message(municipality_code, message_type, sender, message_code,
              identification, dated, provider_agb, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, '/')
            on conflict (municipality_code, sender, message_code, identification) do nothing
            returning id""",
        _municipality(first),
        message.message_type,
        message.sender,
        message.message_code,
        message.identification,
        message.dated,
        _provider(first),
        _prov(first)[0],
        _prov(first)[1],
    )
    return new_message is not None


def _first_prov(records: list[Record], youth: Youth) -> tuple[str, str, str]:
    return next(_prov(r) for r in records if _youth_of(r) == youth)


def _municipality(r: Record) -> str | None:
    if isinstance(r, ClaimRejection):
        return r.answer.municipality_code
    return getattr(r, "municipality_code", None)


def _provider(r: Record) -> str | None:
    return (
        r.answer.provider_agb if isinstance(r, ClaimRejection) else getattr(r, "provider_agb", None)
    )


async def _load_referrals(tx: Tx, rows: list[Any]) -> None:
    await tx.executemany(
        f"""insert into referral(municipality_code, youth_id, provider_agb, provider_reference,
              referrer_type, referrer_code, referrer_name, product_category, product_code,
              requested_start, requested_end, volume, unit, frequency, budget_cents, dated,
              {_PROVENANCE})
            values ($1, {_YOUTH_ID}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                    $16, $17, $18, $19)
            on conflict (municipality_code, provider_agb, provider_reference) do update set
              youth_id = excluded.youth_id, referrer_type = excluded.referrer_type,
              referrer_code = excluded.referrer_code, referrer_name = excluded.referrer_name,
              product_category = excluded.product_category, product_code = excluded.product_code,
              requested_start = excluded.requested_start, requested_end = excluded.requested_end,
              volume = excluded.volume, unit = excluded.unit, frequency = excluded.frequency,
              budget_cents = excluded.budget_cents, dated = excluded.dated,
              source_id = excluded.source_id, file_hash = excluded.file_hash,
              position = excluded.position
            where excluded.dated >= referral.dated
              and (referral.youth_id, referral.referrer_type, referral.referrer_code,
                   referral.referrer_name, referral.product_category, referral.product_code,
                   referral.requested_start, referral.requested_end, referral.volume,
                   referral.unit, referral.frequency, referral.budget_cents)
                  is distinct from
                  (excluded.youth_id, excluded.referrer_type, excluded.referrer_code,
                   excluded.referrer_name, excluded.product_category, excluded.product_code,
                   excluded.requested_start, excluded.requested_end, excluded.volume,
                   excluded.unit, excluded.frequency, excluded.budget_cents)""",
        [
            (
                r.municipality_code,
                r.youth.pseudonym,
                r.provider_agb,
                r.provider_reference,
                r.referrer_type,
                r.referrer_code,
                r.referrer_name,
                r.product_category,
                r.product_code,
                r.requested_start,
                r.requested_end,
                r.volume,
                r.unit,
                r.frequency,
                r.budget_cents,
                r.message.dated,
                *_prov(r),
            )
            for r in rows
        ],
    )


async def _load_assignments(tx: Tx, rows: list[Any]) -> None:
    await tx.executemany(
        f"""insert into assignment(municipality_code, youth_id, provider_agb, toewijzing_nummer,
              provider_reference, product_category, product_code, assigned_on, start_date,
              end_date, volume, unit, frequency, budget_cents, change_reason, dated,
              {_PROVENANCE})
            values ($1, {_YOUTH_ID}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                    $16, $17, $18, $19)
            on conflict (municipality_code, toewijzing_nummer) do update set
              youth_id = excluded.youth_id, provider_agb = excluded.provider_agb,
              provider_reference = excluded.provider_reference,
              product_category = excluded.product_category, product_code = excluded.product_code,
              assigned_on = excluded.assigned_on, start_date = excluded.start_date,
              end_date = excluded.end_date, volume = excluded.volume, unit = excluded.unit,
              frequency = excluded.frequency, budget_cents = excluded.budget_cents,
              change_reason = excluded.change_reason, dated = excluded.dated,
              source_id = excluded.source_id, file_hash = excluded.file_hash,
              position = excluded.position
            where excluded.dated >= assignment.dated
              and (assignment.youth_id, assignment.provider_agb, assignment.provider_reference,
                   assignment.product_category, assignment.product_code, assignment.assigned_on,
                   assignment.start_date, assignment.end_date, assignment.volume,
                   assignment.unit, assignment.frequency, assignment.budget_cents,
                   assignment.change_reason)
                  is distinct from
                  (excluded.youth_id, excluded.provider_agb, excluded.provider_reference,
                   excluded.product_category, excluded.product_code, excluded.assigned_on,
                   excluded.start_date, excluded.end_date, excluded.volume, excluded.unit,
                   excluded.frequency, excluded.budget_cents, excluded.change_reason)""",
        [
            (
                r.municipality_code,
                r.youth.pseudonym,
                r.provider_agb,
                r.toewijzing_nummer,
                r.provider_reference,
                r.product_category,
                r.product_code,
                r.assigned_on,
                r.start,
                r.end,
                r.volume,
                r.unit,
                r.frequency,
                r.budget_cents,
                r.change_reason,
                r.message.dated,
                *_prov(r),
            )
            for r in rows
        ],
    )


_CARE_PERIOD_INSERT = f"""insert into care_period(municipality_code, youth_id, provider_agb,
      toewijzing_nummer, product_category, product_code, start_date, end_date, end_reason,
      start_delivered, dated, {_PROVENANCE})
    values ($1, {_YOUTH_ID}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"""


def _care_period_row(r: Any, end: Any, reason: str | None, *, started: bool) -> tuple[Any, ...]:
    return (
        r.municipality_code,
        r.youth.pseudonym,
        r.provider_agb,
        r.toewijzing_nummer,
        r.product_category,
        r.product_code,
        r.start,
        end,
        reason,
        started,
        r.message.dated,
        *_prov(r),
    )


async def _load_starts(tx: Tx, rows: list[Any]) -> None:
    # StatusAanlevering 1 adds the delivery (a period its stop created is now started);
    # 3 removes the delivery with the same key.
    for status, batch in _by_status(rows):
        if status == "1":
            await tx.executemany(
                _CARE_PERIOD_INSERT
                + """ on conflict (municipality_code, toewijzing_nummer, start_date)
                    do update set start_delivered = true where not care_period.start_delivered""",
                [_care_period_row(r, None, None, started=True) for r in batch],
            )
        else:
            await tx.executemany(
                """delete from care_period where municipality_code = $1
                     and toewijzing_nummer = $2 and start_date = $3""",
                [(r.municipality_code, r.toewijzing_nummer, r.start) for r in batch],
            )


async def _load_stops(tx: Tx, rows: list[Any]) -> None:
    # StatusAanlevering 1 delivers the stop (creating the period when its start is unknown);
    # 3 removes the stop delivery: the period is open again, or gone when no start was
    # ever delivered for it.
    for status, batch in _by_status(rows):
        if status == "1":
            await tx.executemany(
                _CARE_PERIOD_INSERT
                + """ on conflict (municipality_code, toewijzing_nummer,
                    start_date) do update set end_date = excluded.end_date,
                    end_reason = excluded.end_reason
                  where (care_period.end_date, care_period.end_reason)
                        is distinct from (excluded.end_date, excluded.end_reason)""",
                [_care_period_row(r, r.end, r.end_reason, started=False) for r in batch],
            )
        else:
            keys = [(r.municipality_code, r.toewijzing_nummer, r.start) for r in batch]
            await tx.executemany(
                """delete from care_period where municipality_code = $1
                     and toewijzing_nummer = $2 and start_date = $3 and not start_delivered""",
                keys,
            )
            await tx.executemany(
                """update care_period set end_date = null, end_reason = null
                   where municipality_code = $1 and toewijzing_nummer = $2 and start_date = $3
                     and end_date is not null""",
                keys,
            )


def _by_status(rows: list[Any]) -> list[tuple[str, list[Any]]]:
    # Keep document order between adds and removals: consecutive runs of one status.
    runs: list[tuple[str, list[Any]]] = []
    for r in rows:
        if runs and runs[-1][0] == r.status:
            runs[-1][1].append(r)
        else:
            runs.append((r.status, [r]))
    return runs


async def _load_claims(tx: Tx, rows: list[Any]) -> None:
    # A claim line is immutable once sent: corrections come as a credit line naming it
    # (VorigReferentieNummer) and a new debit line; see the `claim` view for the outcome.
    await tx.executemany(
        f"""insert into claim_line(municipality_code, youth_id, provider_agb, reference,
              previous_reference, toewijzing_nummer, product_category, product_code,
              period_start, period_end, volume, unit, rate_cents, amount_cents, debit_credit,
              claim_number, claim_date, claim_message_id, {_PROVENANCE})
            values ($1, {_YOUTH_ID}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                    $16, $17, $18, $19, $20, $21)
            on conflict (municipality_code, provider_agb, reference) do nothing""",
        [
            (
                r.municipality_code,
                r.youth.pseudonym,
                r.provider_agb,
                r.reference,
                r.previous_reference,
                r.toewijzing_nummer,
                r.product_category,
                r.product_code,
                r.period_start,
                r.period_end,
                r.volume,
                r.unit,
                r.rate_cents,
                r.amount_cents,
                r.debit_credit,
                r.claim_number,
                r.claim_date,
                r.message.identification,
                *_prov(r),
            )
            for r in rows
        ],
    )
    await _load_claim_outcomes(tx, [r for r in rows if r.outcome is not None])


async def _load_claim_outcomes(tx: Tx, rows: list[ClaimLine]) -> None:
    """Claims delivered with their answer (claims CSV): the answer per claim, and the
    rejected lines with their retourcodes, as a JW325 would have recorded them."""
    answers = {(r.municipality_code, r.provider_agb, r.message.identification): r for r in rows}
    await tx.executemany(
        f"""insert into claim_answer(municipality_code, provider_agb, claim_message_id,
              claim_number, {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, '/')
            on conflict (municipality_code, provider_agb, claim_message_id) do nothing""",
        [(*key, r.claim_number, *_prov(r)[:2]) for key, r in answers.items()],
    )
    await tx.executemany(
        f"""insert into claim_rejection(municipality_code, provider_agb, claim_message_id,
              reference, retourcodes, {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7, $8)
            on conflict (municipality_code, provider_agb, claim_message_id, reference)
            do nothing""",
        [
            (
                r.municipality_code,
                r.provider_agb,
                r.message.identification,
                r.reference,
                list(r.outcome or ()),
                *_prov(r),
            )
            for r in rows
            if r.outcome
        ],
    )


async def _load_claim_answers(tx: Tx, rows: list[Any]) -> None:
    answers = {r.answer: r for r in rows}
    await tx.executemany(
        f"""insert into claim_answer(municipality_code, provider_agb, claim_message_id,
              claim_number, submitted_cents, granted_cents, retourcodes, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            on conflict (municipality_code, provider_agb, claim_message_id) do nothing""",
        [
            (
                a.municipality_code,
                a.provider_agb,
                a.claim_message_id,
                a.claim_number,
                a.submitted_cents,
                a.granted_cents,
                list(a.retourcodes),
                r.provenance.source_id,
                r.provenance.file_hash,
                "/",
            )
            for a, r in answers.items()
        ],
    )
    await tx.executemany(
        f"""insert into claim_rejection(municipality_code, provider_agb, claim_message_id,
              reference, retourcodes, {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7, $8)
            on conflict (municipality_code, provider_agb, claim_message_id, reference)
            do nothing""",
        [
            (
                r.answer.municipality_code,
                r.answer.provider_agb,
                r.answer.claim_message_id,
                r.reference,
                list(r.retourcodes),
                *_prov(r),
            )
            for r in rows
            if r.reference
        ],
    )


async def _load_change_requests(tx: Tx, rows: list[Any]) -> None:
    await tx.executemany(
        f"""insert into change_request(municipality_code, youth_id, provider_agb,
              provider_reference, reason, unchanged, changed, new_products, dated,
              {_PROVENANCE})
            values ($1, {_YOUTH_ID}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            on conflict (municipality_code, provider_agb, provider_reference) do nothing""",
        [
            (
                r.municipality_code,
                r.youth.pseudonym if r.youth else None,
                r.provider_agb,
                r.provider_reference,
                r.reason,
                list(r.unchanged),
                list(r.changed),
                list(r.new_products),
                r.message.dated,
                *_prov(r),
            )
            for r in rows
        ],
    )


async def _load_change_answers(tx: Tx, rows: list[Any]) -> None:
    await tx.executemany(
        f"""insert into change_answer(municipality_code, provider_agb, provider_reference,
              answer, rejection_reason, residence_municipality, dated, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            on conflict (municipality_code, provider_agb, provider_reference) do nothing""",
        [
            (
                r.municipality_code,
                r.provider_agb,
                r.provider_reference,
                r.answer,
                r.rejection_reason,
                r.residence_municipality,
                r.message.dated,
                *_prov(r),
            )
            for r in rows
        ],
    )


async def _load_retours(tx: Tx, rows: list[Any]) -> None:
    await tx.executemany(
        f"""insert into retour(municipality_code, provider_agb, message_type,
              answers_identification, answers_dated, item, header_retourcodes,
              item_retourcodes, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            on conflict (municipality_code, provider_agb, message_type, answers_identification,
              item) do nothing""",
        [
            (
                r.municipality_code,
                r.provider_agb,
                r.message.message_type,
                r.answers_identification,
                r.answers_dated,
                r.item or "",
                list(r.header_retourcodes),
                list(r.item_retourcodes),
                *_prov(r),
            )
            for r in rows
        ],
    )


async def _load_care_periods(tx: Tx, rows: list[Any]) -> None:
    # A snapshot of the period as the access system knows it; an older export (`dated`)
    # does not undo a newer one.
    await tx.executemany(
        _CARE_PERIOD_INSERT
        + """ on conflict (municipality_code, toewijzing_nummer, start_date) do update set
              youth_id = excluded.youth_id, provider_agb = excluded.provider_agb,
              product_category = excluded.product_category,
              product_code = excluded.product_code, end_date = excluded.end_date,
              end_reason = excluded.end_reason, start_delivered = true, dated = excluded.dated,
              source_id = excluded.source_id, file_hash = excluded.file_hash,
              position = excluded.position
            where excluded.dated >= care_period.dated
              and (care_period.youth_id, care_period.provider_agb, care_period.product_category,
                   care_period.product_code, care_period.end_date, care_period.end_reason,
                   care_period.start_delivered)
                  is distinct from
                  (excluded.youth_id, excluded.provider_agb, excluded.product_category,
                   excluded.product_code, excluded.end_date, excluded.end_reason, true)""",
        [_care_period_row(r, r.end, r.end_reason, started=True) for r in rows],
    )


async def _load_measures(tx: Tx, rows: list[Measure]) -> None:
    await tx.executemany(
        f"""insert into gi_measure(municipality_code, youth_id, provider_agb, measure_id,
              measure_type, start_date, end_date, end_reason, dated, {_PROVENANCE})
            values ($1, {_YOUTH_ID}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            on conflict (municipality_code, provider_agb, measure_id) do update set
              youth_id = excluded.youth_id, measure_type = excluded.measure_type,
              start_date = excluded.start_date, end_date = excluded.end_date,
              end_reason = excluded.end_reason, dated = excluded.dated,
              source_id = excluded.source_id, file_hash = excluded.file_hash,
              position = excluded.position
            where excluded.dated >= gi_measure.dated
              and (gi_measure.youth_id, gi_measure.measure_type, gi_measure.start_date,
                   gi_measure.end_date, gi_measure.end_reason)
                  is distinct from
                  (excluded.youth_id, excluded.measure_type, excluded.start_date,
                   excluded.end_date, excluded.end_reason)""",
        [
            (
                r.municipality_code,
                r.youth.pseudonym,
                r.provider_agb,
                r.measure_id,
                r.measure_type,
                r.start,
                r.end,
                r.end_reason,
                r.message.dated,
                *_prov(r),
            )
            for r in rows
        ],
    )


async def _load_contracts(tx: Tx, rows: list[ProviderContract]) -> None:
    await tx.executemany(
        "update provider set name = $2 where agb = $1 and name is distinct from $2",
        sorted({(r.provider_agb, r.name) for r in rows}),
    )
    await tx.executemany(
        f"""insert into provider_contract(provider_agb, lot, start_date, end_date,
              {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7)
            on conflict (provider_agb, lot, start_date) do update set
              end_date = excluded.end_date, source_id = excluded.source_id,
              file_hash = excluded.file_hash, position = excluded.position
            where provider_contract.end_date is distinct from excluded.end_date""",
        [(r.provider_agb, r.lot, r.start, r.end, *_prov(r)) for r in rows],
    )


async def _load_budgets(tx: Tx, rows: list[Budget]) -> None:
    await tx.executemany(
        f"""insert into budget(municipality_code, year, lot, amount_cents, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7)
            on conflict (municipality_code, year, lot) do update set
              amount_cents = excluded.amount_cents, source_id = excluded.source_id,
              file_hash = excluded.file_hash, position = excluded.position
            where budget.amount_cents is distinct from excluded.amount_cents""",
        [(r.municipality_code, r.year, r.lot, r.amount_cents, *_prov(r)) for r in rows],
    )


async def _load_population(tx: Tx, rows: list[Population]) -> None:
    await tx.executemany(
        f"""insert into population(municipality_code, year, youth_0_17, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6)
            on conflict (municipality_code, year) do update set
              youth_0_17 = excluded.youth_0_17, source_id = excluded.source_id,
              file_hash = excluded.file_hash, position = excluded.position
            where population.youth_0_17 is distinct from excluded.youth_0_17""",
        [(r.municipality_code, r.year, r.youth_0_17, *_prov(r)) for r in rows],
    )


async def _load_signals(tx: Tx, rows: list[ProviderSignal]) -> None:
    await tx.executemany(
        f"""insert into provider_signal(provider_agb, dated, early_warning, escalation,
              waiting_list, waiting_days, {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7,
              $8, $9)
            on conflict (provider_agb, dated) do update set
              early_warning = excluded.early_warning, escalation = excluded.escalation,
              waiting_list = excluded.waiting_list, waiting_days = excluded.waiting_days,
              source_id = excluded.source_id, file_hash = excluded.file_hash,
              position = excluded.position
            where (provider_signal.early_warning, provider_signal.escalation,
                   provider_signal.waiting_list, provider_signal.waiting_days)
                  is distinct from (excluded.early_warning, excluded.escalation,
                                    excluded.waiting_list, excluded.waiting_days)""",
        [
            (
                r.provider_agb,
                r.dated,
                r.early_warning,
                r.escalation,
                r.waiting_list,
                r.waiting_days,
                *_prov(r),
            )
            for r in rows
        ],
    )


_LINKED = CareStart | CareStop | CarePeriod | ClaimLine  # records naming an assignment


async def _count_unlinked(tx: Tx, records: list[Record]) -> int:
    """References that point nowhere (a start, stop or claim for an unknown assignment) are
    kept and counted in the run, never dropped."""
    keys = sorted(
        {(r.municipality_code, r.toewijzing_nummer) for r in records if isinstance(r, _LINKED)}
    )
    if not keys:
        return 0
    known = await tx.fetch(
        """select municipality_code, toewijzing_nummer from assignment
           where (municipality_code, toewijzing_nummer) in
                 (select * from unnest($1::text[], $2::text[]))""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    found = {(r["municipality_code"], r["toewijzing_nummer"]) for r in known}
    return sum(
        1
        for r in records
        if isinstance(r, _LINKED) and (r.municipality_code, r.toewijzing_nummer) not in found
    )


_LOADERS: dict[type, Any] = {
    Referral: _load_referrals,
    Assignment: _load_assignments,
    CareStart: _load_starts,
    CareStop: _load_stops,
    ClaimLine: _load_claims,
    ClaimRejection: _load_claim_answers,
    ChangeRequest: _load_change_requests,
    ChangeAnswer: _load_change_answers,
    Retour: _load_retours,
    CarePeriod: _load_care_periods,
    Measure: _load_measures,
    ProviderContract: _load_contracts,
    Budget: _load_budgets,
    Population: _load_population,
    ProviderSignal: _load_signals,
}
