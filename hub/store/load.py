"""Idempotent load of adapter results: natural keys, provenance on every row, rejections to
quarantine, a run recorded per file whatever happens.

Files of one source load in batches: one transaction and a fixed number of set-based
statements per batch (an upsert of a key the batch names twice takes one per occurrence,
and a statement takes at most 20,000 rows: `_many`), with the same outcome as loading the
files one by one in order (the order-dependent parts, message replays, resent claims,
care-period starts and stops and unlinked references, are worked out in file order). When a
batch fails, its files are loaded one by one, so only a failing file fails.

A batch recomputes the trajectories of the youth whose care it changed, or, when the caller
defers them (`hub ingest` does, for a source's batches of files and for a pull's pages), lists
those youth in trajectory_pending for `refresh_pending_trajectories` to recompute once, when
the source is all loaded: a youth's messages span many batches.

Every upsert only writes when something differs (`where ... is distinct from ...`), so loading
the same content twice changes no row. A file that failed as a whole loads nothing and is
recorded as a failed run with its one quarantined record.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import asyncpg
import orjson

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


@cache
def _set_based(sql: str, types: str) -> str:
    """A one-row `insert ... values ($1, ...) ...` rewritten to insert many rows in one
    statement, in their order, from one parameter: the rows as a JSON array of arrays
    (`_rows`), `select ... from jsonb_array_elements($1) with ordinality`. `types` names each
    value's type; a `text[]` value is a JSON array."""
    head, rest = sql.split("values (", 1)
    depth, end = 1, 0
    while depth:
        depth += {"(": 1, ")": -1}.get(rest[end], 0)
        end += 1
    values, tail = rest[: end - 1], rest[end:]
    if "$" in tail:
        raise ValueError("the conflict clause of a set-based insert can only name excluded values")
    kinds = types.split()

    def column(match: re.Match[str]) -> str:
        i = int(match[1]) - 1
        if kinds[i] == "text[]":
            return f"array(select jsonb_array_elements_text(u.r -> {i}))"
        return f"(u.r ->> {i})::{kinds[i]}"

    selected = re.sub(r"[$](\d+)", column, values)
    return (
        f"{head}select {selected}\n"
        f"from jsonb_array_elements($1::jsonb) with ordinality as u(r, n) order by u.n{tail}"
    )


def _rows(rows: list[tuple[Any, ...]]) -> str:
    """Rows as one JSON document, for `_set_based`. asyncpg sends an array per column element
    by element, with Python checks on each: 5.7 us of this process for a row of 20 values,
    against 0.5 us for the row in one document."""
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError as exc:  # an integer beyond 64 bits, say: the file fails
        raise asyncpg.DataError(f"a value cannot be sent to the database: {exc}") from None


async def _many(
    tx: Tx,
    sql: str,
    types: str,
    rows: list[tuple[Any, ...]],
    key: Callable[[tuple[Any, ...]], Any] | None = None,
) -> None:
    """Insert the rows as running `sql` once per row, in order, would; in one statement, or
    with `key` (an upsert that updates on conflict, which may touch a row once per
    statement) one per occurrence of a key: the first rows of every key, then the second.
    A statement takes at most `_STATEMENT_ROWS` rows; more go in the next, in order."""
    if not rows:
        return
    rounds: list[list[tuple[Any, ...]]] = [rows]
    if key is not None:
        rounds, seen = [], Counter[Any]()
        for row in rows:
            k = key(row)
            if seen[k] == len(rounds):
                rounds.append([])
            rounds[seen[k]].append(row)
            seen[k] += 1
    for batch in rounds:
        for i in range(0, len(batch), _STATEMENT_ROWS):
            await tx.execute(_set_based(sql, types), _rows(batch[i : i + _STATEMENT_ROWS]))


# Rows per statement: their JSON stays far below jsonb's limit of 256 MB, whatever the size
# of one file (a municipality's yearly export of a million rows, say).
_STATEMENT_ROWS = 20_000
_TIMEOUT_MS = 600_000  # a batch's transaction, or a municipality's pending trajectories


async def load_file(db: Database, source: SourceInfo, result: FileResult) -> RunResult:
    """Load one file's records in one transaction and record the run."""
    (run,) = await load_files(db, source, [result])
    return run


async def load_files(
    db: Database,
    source: SourceInfo,
    results: list[FileResult],
    *,
    defer_trajectories: bool = False,
) -> list[RunResult]:
    """Load files of one source, in order, in one transaction; their runs in the same order.
    `defer_trajectories`: list the youth whose trajectories changed in trajectory_pending
    rather than recompute them now (see the module's docstring)."""
    runs: dict[int, RunResult] = {}
    batch = [i for i, r in enumerate(results) if not r.failed and r.records]
    if batch:
        try:
            files = [results[i] for i in batch]
            loaded = await _load_batch(db, source, files, defer_trajectories)
            runs.update(zip(batch, loaded, strict=True))
        except (asyncpg.PostgresError, asyncpg.DataError) as exc:
            if len(batch) == 1:
                runs[batch[0]] = await _record_failure(db, source, results[batch[0]], exc)
            else:  # find the failing file(s): each file on its own
                for i in batch:
                    (runs[i],) = await load_files(
                        db, source, [results[i]], defer_trajectories=defer_trajectories
                    )
    for i, result in enumerate(results):
        if i not in runs:  # failed as a whole, or nothing in it to load
            status = "failed" if result.failed else "loaded"
            runs[i] = await _record_run(db, source, result, _scope(source, [result]), status=status)
    return [runs[i] for i in range(len(results))]


def _scope(source: SourceInfo, results: list[FileResult]) -> Scope:
    # The transaction may write exactly the municipalities these files speak of.
    codes = {m for f in results for r in f.records if (m := _municipality(r))}
    codes |= {q.municipality_code for f in results for q in f.rejections if q.municipality_code}
    codes |= {f.municipality_code for f in results if f.municipality_code}
    own = {f.municipality_code for f in results}
    return Scope(
        "ingest",
        municipality=own.pop() if len(own) == 1 else None,
        actor=f"source:{source.id}",
        # "-" (no municipality): a file that failed before naming one may only record its
        # run and its file-level quarantine row.
        ingest_municipalities=tuple(sorted(codes)) or ("-",),
    )


async def _load_batch(
    db: Database, source: SourceInfo, files: list[FileResult], defer_trajectories: bool
) -> list[RunResult]:
    async with db.tenant(_scope(source, files), readonly=False, timeout_ms=_TIMEOUT_MS) as tx:
        await _register_source(tx, source)
        files = await _quarantine_resent_claims(tx, files)
        unlinked = await _load_records(tx, files, defer_trajectories)
        return await _insert_runs(tx, source, files, unlinked)


async def _record_failure(
    db: Database, source: SourceInfo, result: FileResult, exc: Exception
) -> RunResult:
    """The file fails as a whole: the data stays as it was, the run is recorded."""
    log.warning(
        "ingest_file_failed source=%s file=%s error=%s",
        source.id,
        result.file_name,
        type(exc).__name__,
    )
    rejection = Rejection(
        source.id,
        result.file_name,
        result.file_hash,
        "/",
        None,
        f"the file could not be loaded ({type(exc).__name__}); nothing of it was kept",
        "load-failed",
        result.municipality_code,
    )
    failed = FileResult(
        result.file_name,
        result.file_hash,
        result.records_read,
        rejections=[rejection],
        municipality_code=result.municipality_code,
        failed=True,
        schema_validated=result.schema_validated,
    )
    return await _record_run(
        db, source, failed, _scope(source, [failed]), status="failed", error=type(exc).__name__
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
    error: str | None = None,
) -> RunResult:
    async with db.tenant(scope, readonly=False) as tx:
        await _register_source(tx, source)
        (run,) = await _insert_runs(tx, source, [result], [0], status=status, error=error)
        return run


async def _quarantine_resent_claims(tx: Tx, files: list[FileResult]) -> list[FileResult]:
    """A ReferentieNummer is unique per provider: a claim line whose reference an earlier
    message (stored, or an earlier file of the batch) already used is a duplicate key,
    quarantined rather than silently dropped."""
    claims = [r for f in files for r in f.records if isinstance(r, ClaimLine)]
    if not claims:
        return files
    earlier = await tx.fetch(
        """select municipality_code, provider_agb, reference, claim_message_id from claim_line
           where (municipality_code, provider_agb, reference) in
                 (select * from unnest($1::text[], $2::text[], $3::text[]))""",
        [c.municipality_code for c in claims],
        [c.provider_agb for c in claims],
        [c.reference for c in claims],
    )
    used = {(r[0], r[1], r[2]): r[3] for r in earlier}
    checked = []
    for f in files:
        file_claims = [r for r in f.records if isinstance(r, ClaimLine)]
        resent = [
            c
            for c in file_claims
            if used.get(
                (c.municipality_code, c.provider_agb, c.reference), c.message.identification
            )
            != c.message.identification
        ]
        for c in file_claims:
            used.setdefault(
                (c.municipality_code, c.provider_agb, c.reference), c.message.identification
            )
        if not resent:
            checked.append(f)
            continue
        resent_ids = {id(c) for c in resent}
        rejections = [
            Rejection(
                c.provenance.source_id,
                f.file_name,
                f.file_hash,
                c.provenance.position,
                "ReferentieNummer",
                f"ReferentieNummer {c.reference} of provider {c.provider_agb} was already "
                f"claimed in message {used[(c.municipality_code, c.provider_agb, c.reference)]}",
                "duplicate-key",
                c.municipality_code,
                c.reference,
            )
            for c in resent
        ]
        checked.append(
            replace(
                f,
                records=[r for r in f.records if id(r) not in resent_ids],
                rejections=[*f.rejections, *rejections],
            )
        )
    return checked


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


async def _insert_runs(
    tx: Tx,
    source: SourceInfo,
    files: list[FileResult],
    unlinked: list[int],
    *,
    status: str = "loaded",
    error: str | None = None,
) -> list[RunResult]:
    """One run per file, in file order (ids are handed out in insertion order), and each
    file's rejections in quarantine."""
    accepted = [0 if f.failed else len(f.records) for f in files]
    ids = await tx.fetch(
        _set_based(
            """insert into ingest_run(source_id, municipality_code, file_name, file_hash,
                 finished_at, status, records_read, records_accepted, records_quarantined,
                 records_unlinked, schema_validated, error)
               values ($1, $2, $3, $4, now(), $5, $6, $7, $8, $9, $10, $11)
               returning id""",
            "text text text text text int int int int bool text",
        ),
        _rows(
            [
                (
                    source.id,
                    f.municipality_code,
                    f.file_name,
                    f.file_hash,
                    status,
                    f.records_read,
                    n_accepted,
                    len(f.rejections),
                    n_unlinked,
                    f.schema_validated,
                    error,
                )
                for f, n_accepted, n_unlinked in zip(files, accepted, unlinked, strict=True)
            ]
        ),
    )
    run_ids = sorted(r["id"] for r in ids)
    await _many(
        tx,
        """insert into quarantine(municipality_code, run_id, source_id, file_name, file_hash,
             position, field, code, reason, value) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
           on conflict (file_hash, position, code) do nothing""",
        "text bigint text text text text text text text text",
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
            for run_id, f in zip(run_ids, files, strict=True)
            for r in f.rejections
        ],
    )
    return [
        RunResult(
            run_id,
            f.file_name,
            status,
            f.records_read,
            n_accepted,
            len(f.rejections),
            n_unlinked,
            error,
            tuple(f.rejections),
        )
        for run_id, f, n_accepted, n_unlinked in zip(
            run_ids, files, accepted, unlinked, strict=True
        )
    ]


async def _load_records(tx: Tx, files: list[FileResult], defer_trajectories: bool) -> list[int]:
    """Upsert the records of the files; returns per file how many of its records point at
    nothing (stored and flagged, never dropped)."""
    records = [r for f in files for r in f.records]
    await _load_youth(tx, records)
    providers = sorted(
        {r.provider_agb for r in records if hasattr(r, "provider_agb")}
        | {r.answer.provider_agb for r in records if isinstance(r, ClaimRejection)}
    )
    await _many(
        tx,
        "insert into provider(agb) values ($1) on conflict (agb) do nothing",
        "text",
        [(p,) for p in providers],
    )
    linked_before = await _known_assignments(tx, records)
    applied = await _new_messages(tx, files)
    to_load = [r for f, new in zip(files, applied, strict=True) if new for r in f.records]
    for kind, loader in _LOADERS.items():
        batch = [r for r in to_load if isinstance(r, kind)]
        if batch:
            await loader(tx, batch)
    # Trajectories come from care periods with their assignment and referral: only the
    # youth those changed for are recomputed (claims, measures and the like leave them be).
    youths = {
        (y.municipality_code, y.pseudonym)
        for r in to_load
        if isinstance(r, _SHAPES_TRAJECTORIES) and (y := _youth_of(r))
    }
    for municipality in sorted({m for m, _ in youths}):
        await tx.execute(
            _PENDING if defer_trajectories else _REFRESH,
            municipality,
            sorted(p for m, p in youths if m == municipality),
        )
    # A reference is linked when its assignment was stored before or came in this file or an
    # earlier one of the batch (assignments are never removed).
    unlinked, known = [], linked_before
    for f, new in zip(files, applied, strict=True):
        if new:
            known |= {
                (r.municipality_code, r.toewijzing_nummer)
                for r in f.records
                if isinstance(r, Assignment)
            }
        unlinked.append(
            sum(
                1
                for r in f.records
                if isinstance(r, _LINKED)
                and (r.municipality_code, r.toewijzing_nummer) not in known
            )
        )
    return unlinked


_YOUTH_IDS = "select id from youth where municipality_code = $1 and pseudonym = any($2)"
_REFRESH = f"select refresh_trajectories($1, array({_YOUTH_IDS}))"
_PENDING = f"""insert into trajectory_pending(municipality_code, youth_id)
               select $1, y.id from ({_YOUTH_IDS}) y on conflict do nothing"""


async def refresh_pending_trajectories(
    db: Database, region: Iterable[str], actor: str | None = None
) -> None:
    """Recompute the trajectories of the youth listed in trajectory_pending, one transaction
    per municipality. The listed youth are taken off the list in the transaction that
    recomputes them: a batch that lists one again meanwhile keeps it listed, and a refresh
    that fails leaves the list as it was."""
    everywhere = Scope("ingest", actor=actor, ingest_municipalities=tuple(sorted(region)))
    async with db.tenant(everywhere) as tx:
        listed = await tx.fetch("select distinct municipality_code from trajectory_pending")
    for code in sorted(r[0] for r in listed):
        scope = Scope("ingest", municipality=code, actor=actor, ingest_municipalities=(code,))
        async with db.tenant(scope, readonly=False, timeout_ms=_TIMEOUT_MS) as tx:
            taken = await tx.fetch(
                "delete from trajectory_pending where municipality_code = $1 returning youth_id",
                code,
            )
            if taken:  # a refresh beside this one may have taken them
                ids = sorted(r[0] for r in taken)
                await tx.execute("select refresh_trajectories($1, $2::bigint[])", code, ids)


async def _load_youth(tx: Tx, records: list[Record]) -> None:
    """One row per youth in one statement. What the records say of a youth combines as
    loading them in turn would: the first known birth year, month and gender stay; the row
    carries the provenance of the first record naming the youth."""
    merged: dict[tuple[str, str], list[Any]] = {}
    for r in records:
        y = _youth_of(r)
        if y is None:
            continue
        row = merged.setdefault(
            (y.municipality_code, y.pseudonym),
            [y.municipality_code, y.pseudonym, None, None, None, *_prov(r)],
        )
        for i, value in enumerate((y.birth_year, y.birth_month, y.gender), start=2):
            if row[i] is None:
                row[i] = value
    await _many(
        tx,
        f"""insert into youth(municipality_code, pseudonym, birth_year, birth_month, gender,
              {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7, $8)
            on conflict (municipality_code, pseudonym) do update
              set birth_year = coalesce(youth.birth_year, excluded.birth_year),
                  birth_month = coalesce(youth.birth_month, excluded.birth_month),
                  gender = coalesce(youth.gender, excluded.gender)
            where (youth.birth_year is null and excluded.birth_year is not null)
               or (youth.birth_month is null and excluded.birth_month is not null)
               or (youth.gender is null and excluded.gender is not null)""",
        "text text int int text text text text",
        [tuple(row) for row in merged.values()],
    )


async def _new_messages(tx: Tx, files: list[FileResult]) -> list[bool]:
    """Per file, whether its records are to be applied. An iJw message is identified by
    (Afzender, BerichtCode, Identificatie) and applied once: replaying it after a later
    withdrawal (status 3) or correction would undo that. Rows of other sources are
    snapshots, made idempotent by their keys and `dated`."""
    keyed: list[tuple[Any, ...] | None] = []
    for f in files:
        if not f.records:  # every record of it was quarantined
            keyed.append(None)
            continue
        first = f.records[0]
        message = first.answer.message if isinstance(first, ClaimRejection) else first.message
        if not message.message_type.startswith("JW"):
            keyed.append(None)
            continue
        keyed.append(
            (
                _municipality(first),
                message.sender,
                message.message_code,
                message.identification,
                message.message_type,
                message.dated,
                _provider(first),
                *_prov(first)[:2],
            )
        )
    messages = [k for k in keyed if k is not None]
    if not messages:
        return [True] * len(files)
    inserted = await tx.fetch(
        _set_based(
            f"""insert into message(municipality_code, sender, message_code, identification,
                  message_type, dated, provider_agb, {_PROVENANCE})
                values ($1, $2, $3, $4, $5, $6, $7, $8, $9, '/')
                on conflict (municipality_code, sender, message_code, identification) do nothing
                returning municipality_code, sender, message_code, identification""",
            "text text text text text date text text text",
        ),
        _rows(messages),
    )
    new = {tuple(r) for r in inserted}
    applied = []
    for k in keyed:  # a message twice in the batch: only its first file applies it
        applied.append(k is None or k[:4] in new)
        if k is not None:
            new.discard(k[:4])
    return applied


def _municipality(r: Record) -> str | None:
    if isinstance(r, ClaimRejection):
        return r.answer.municipality_code
    return getattr(r, "municipality_code", None)


def _provider(r: Record) -> str | None:
    return (
        r.answer.provider_agb if isinstance(r, ClaimRejection) else getattr(r, "provider_agb", None)
    )


async def _load_referrals(tx: Tx, rows: list[Any]) -> None:
    await _many(
        tx,
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
        "text text text text text text text text text date date int text text bigint date "
        "text text text",
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
        key=lambda r: (r[0], r[2], r[3]),
    )


async def _load_assignments(tx: Tx, rows: list[Any]) -> None:
    await _many(
        tx,
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
        "text text text text text text text date date date int text text bigint text date "
        "text text text",
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
        key=lambda r: (r[0], r[3]),
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


async def _load_care_events(tx: Tx, rows: list[Any]) -> None:
    """JW305 starts and JW307 stops, in document order. StatusAanlevering 1 adds a delivery:
    a start makes the period started, a stop gives it its end (creating the period when
    it is unknown); 3 removes one: a removed start removes the period, a removed stop
    opens it again (or removes it when no start was ever delivered).

    Consecutive events of one status are applied together: adds to one key combine into
    what applying them in turn gives (the first creates the row, any start marks it
    started, the last stop sets the end), and so do removals."""
    for status, run in _by_status(rows):
        keyed: dict[tuple[str, str, Any], list[Any]] = {}
        for r in run:
            keyed.setdefault((r.municipality_code, r.toewijzing_nummer, r.start), []).append(r)
        if status == "1":
            await _many(
                tx,
                _CARE_PERIOD_INSERT
                + """ on conflict (municipality_code, toewijzing_nummer, start_date) do update
                    set start_delivered = care_period.start_delivered or excluded.start_delivered,
                        end_date = coalesce(excluded.end_date, care_period.end_date),
                        end_reason = case when excluded.end_date is not null
                                          then excluded.end_reason else care_period.end_reason end
                  where (care_period.start_delivered, care_period.end_date,
                         care_period.end_reason)
                        is distinct from
                        (care_period.start_delivered or excluded.start_delivered,
                         coalesce(excluded.end_date, care_period.end_date),
                         case when excluded.end_date is not null
                              then excluded.end_reason else care_period.end_reason end)""",
                "text text text text text text date date text bool date text text text",
                [_combined_adds(events) for events in keyed.values()],
            )
            continue
        removed = [
            k for k, events in keyed.items() if any(isinstance(e, CareStart) for e in events)
        ]
        await tx.executemany(
            """delete from care_period where municipality_code = $1
                 and toewijzing_nummer = $2 and start_date = $3""",
            removed,
        )
        stops = [k for k in keyed if k not in set(removed)]
        await tx.executemany(
            """delete from care_period where municipality_code = $1
                 and toewijzing_nummer = $2 and start_date = $3 and not start_delivered""",
            stops,
        )
        await tx.executemany(
            """update care_period set end_date = null, end_reason = null
               where municipality_code = $1 and toewijzing_nummer = $2 and start_date = $3
                 and end_date is not null""",
            stops,
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


def _combined_adds(events: list[Any]) -> tuple[Any, ...]:
    # A stop always has its end: the end is given exactly when a stop was.
    stops = [e for e in events if isinstance(e, CareStop)]
    last_stop = stops[-1] if stops else None
    return _care_period_row(
        events[0],
        last_stop.end if last_stop else None,
        last_stop.end_reason if last_stop else None,
        started=any(isinstance(e, CareStart) for e in events),
    )


async def _load_claims(tx: Tx, rows: list[Any]) -> None:
    # A claim line is immutable once sent: corrections come as a credit line naming it
    # (VorigReferentieNummer) and a new debit line; see the `claim` view for the outcome.
    # One statement, in order: of lines with one key, the first stays.
    await _many(
        tx,
        f"""insert into claim_line(municipality_code, youth_id, provider_agb, reference,
              previous_reference, toewijzing_nummer, product_category, product_code,
              period_start, period_end, volume, unit, rate_cents, amount_cents, debit_credit,
              claim_number, claim_date, claim_message_id, {_PROVENANCE})
            values ($1, {_YOUTH_ID}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                    $16, $17, $18, $19, $20, $21)
            on conflict (municipality_code, provider_agb, reference) do nothing""",
        "text text text text text text text text date date int text bigint bigint text text "
        "date text text text text",
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
    await _many(
        tx,
        f"""insert into claim_answer(municipality_code, provider_agb, claim_message_id,
              claim_number, {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, '/')
            on conflict (municipality_code, provider_agb, claim_message_id) do nothing""",
        "text text text text text text",
        [(*key, r.claim_number, *_prov(r)[:2]) for key, r in answers.items()],
    )
    await _many(
        tx,
        f"""insert into claim_rejection(municipality_code, provider_agb, claim_message_id,
              reference, retourcodes, {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7, $8)
            on conflict (municipality_code, provider_agb, claim_message_id, reference)
            do nothing""",
        "text text text text text[] text text text",
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
    await _many(
        tx,
        f"""insert into claim_answer(municipality_code, provider_agb, claim_message_id,
              claim_number, submitted_cents, granted_cents, retourcodes, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            on conflict (municipality_code, provider_agb, claim_message_id) do nothing""",
        "text text text text bigint bigint text[] text text text",
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
    await _many(
        tx,
        f"""insert into claim_rejection(municipality_code, provider_agb, claim_message_id,
              reference, retourcodes, {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7, $8)
            on conflict (municipality_code, provider_agb, claim_message_id, reference)
            do nothing""",
        "text text text text text[] text text text",
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
    await _many(
        tx,
        f"""insert into change_request(municipality_code, youth_id, provider_agb,
              provider_reference, reason, unchanged, changed, new_products, dated,
              {_PROVENANCE})
            values ($1, {_YOUTH_ID}, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            on conflict (municipality_code, provider_agb, provider_reference) do nothing""",
        "text text text text text text[] text[] text[] date text text text",
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
    await _many(
        tx,
        f"""insert into change_answer(municipality_code, provider_agb, provider_reference,
              answer, rejection_reason, residence_municipality, dated, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            on conflict (municipality_code, provider_agb, provider_reference) do nothing""",
        "text text text text text text date text text text",
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
    await _many(
        tx,
        f"""insert into retour(municipality_code, provider_agb, message_type,
              answers_identification, answers_dated, item, header_retourcodes,
              item_retourcodes, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            on conflict (municipality_code, provider_agb, message_type, answers_identification,
              item) do nothing""",
        "text text text text date text text[] text[] text text text",
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
    await _many(
        tx,
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
        "text text text text text text date date text bool date text text text",
        [_care_period_row(r, r.end, r.end_reason, started=True) for r in rows],
        key=lambda r: (r[0], r[3], r[6]),
    )


async def _load_measures(tx: Tx, rows: list[Measure]) -> None:
    await _many(
        tx,
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
        "text text text text text date date text date text text text",
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
        key=lambda r: (r[0], r[2], r[3]),
    )


async def _load_contracts(tx: Tx, rows: list[ProviderContract]) -> None:
    await tx.executemany(
        "update provider set name = $2 where agb = $1 and name is distinct from $2",
        sorted({(r.provider_agb, r.name) for r in rows}),
    )
    await _many(
        tx,
        f"""insert into provider_contract(provider_agb, lot, start_date, end_date,
              {_PROVENANCE}) values ($1, $2, $3, $4, $5, $6, $7)
            on conflict (provider_agb, lot, start_date) do update set
              end_date = excluded.end_date, source_id = excluded.source_id,
              file_hash = excluded.file_hash, position = excluded.position
            where provider_contract.end_date is distinct from excluded.end_date""",
        "text text date date text text text",
        [(r.provider_agb, r.lot, r.start, r.end, *_prov(r)) for r in rows],
        key=lambda r: (r[0], r[1], r[2]),
    )


async def _load_budgets(tx: Tx, rows: list[Budget]) -> None:
    await _many(
        tx,
        f"""insert into budget(municipality_code, year, lot, amount_cents, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6, $7)
            on conflict (municipality_code, year, lot) do update set
              amount_cents = excluded.amount_cents, source_id = excluded.source_id,
              file_hash = excluded.file_hash, position = excluded.position
            where budget.amount_cents is distinct from excluded.amount_cents""",
        "text int text bigint text text text",
        [(r.municipality_code, r.year, r.lot, r.amount_cents, *_prov(r)) for r in rows],
        key=lambda r: (r[0], r[1], r[2]),
    )


async def _load_population(tx: Tx, rows: list[Population]) -> None:
    await _many(
        tx,
        f"""insert into population(municipality_code, year, youth_0_17, {_PROVENANCE})
            values ($1, $2, $3, $4, $5, $6)
            on conflict (municipality_code, year) do update set
              youth_0_17 = excluded.youth_0_17, source_id = excluded.source_id,
              file_hash = excluded.file_hash, position = excluded.position
            where population.youth_0_17 is distinct from excluded.youth_0_17""",
        "text int int text text text",
        [(r.municipality_code, r.year, r.youth_0_17, *_prov(r)) for r in rows],
        key=lambda r: (r[0], r[1]),
    )


async def _load_signals(tx: Tx, rows: list[ProviderSignal]) -> None:
    await _many(
        tx,
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
        "text date text text int int text text text",
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
        key=lambda r: (r[0], r[1]),
    )


_LINKED = CareStart | CareStop | CarePeriod | ClaimLine  # records naming an assignment
_SHAPES_TRAJECTORIES = CareStart | CareStop | CarePeriod | Assignment | Referral


async def _known_assignments(tx: Tx, records: list[Record]) -> set[tuple[str, str]]:
    """Of the assignments the records refer to, those already stored."""
    keys = sorted(
        {(r.municipality_code, r.toewijzing_nummer) for r in records if isinstance(r, _LINKED)}
    )
    if not keys:
        return set()
    known = await tx.fetch(
        """select municipality_code, toewijzing_nummer from assignment
           where (municipality_code, toewijzing_nummer) in
                 (select * from unnest($1::text[], $2::text[]))""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["municipality_code"], r["toewijzing_nummer"]) for r in known}


_LOADERS: dict[Any, Any] = {
    Referral: _load_referrals,
    Assignment: _load_assignments,
    CareStart | CareStop: _load_care_events,  # together, in document order
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
