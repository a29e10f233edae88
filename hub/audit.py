"""The audit trail of record access (NEN 7513 / BIO 8.15; table and hash chain in
sql/005_audit.sql).

Every record type notes the youth it shows (`saw`) in a per-request collector; the request
writes one row listing them in its own transaction before it answers, so without an audit
row there is no answer. `verify` recomputes the chain."""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass

import asyncpg

from hub.db import Scope, Tx

_READ: ContextVar[set[tuple[str, int]] | None] = ContextVar("hub_audit_read", default=None)


def start() -> set[tuple[str, int]]:
    """Begin collecting the youth a request reads (call in the request's task)."""
    read: set[tuple[str, int]] = set()
    _READ.set(read)
    return read


def saw(municipality: str, youth_id: int | None) -> None:
    read = _READ.get()
    if read is not None and youth_id is not None:
        read.add((municipality, youth_id))


async def record(
    tx: Tx, scope: Scope, read: set[tuple[str, int]], *, action: str, ok: bool, origin: str | None
) -> None:
    """One row for a request that read youth-level records; raises when it cannot be written
    (and then the request must not answer)."""
    if not read:
        return
    await tx.execute(
        """insert into audit_log(actor, role, on_behalf_of, action, result, origin, youth)
           values ($1, $2, $3, $4, $5, $6, $7)""",
        scope.actor or "-",
        scope.role,
        scope.municipality or scope.provider,
        action,
        "ok" if ok else "error",
        origin,
        [f"{m}:{i}" for m, i in sorted(read)],
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    rows: int
    head: str  # the hash of the last row: keep it elsewhere to detect a cut-off tail
    problem: str | None  # the first break in the chain, or None


async def verify(conn: asyncpg.Connection) -> Verdict:
    """Recompute every row's hash from its content and its predecessor's hash (as the
    database's `audit_row_text` writes it). Needs a login that reads the whole table."""
    prev, count = "", 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        async for row in conn.cursor(
            "select seq, prev_hash, hash, audit_row_text(a) as text from audit_log a order by seq"
        ):
            count += 1
            if row["seq"] != count:
                return Verdict(count, prev, f"row {count} is missing (found seq {row['seq']})")
            if row["prev_hash"] != prev:
                return Verdict(count, prev, f"row {count} does not follow row {count - 1}")
            if hashlib.sha256(row["text"].encode()).hexdigest() != row["hash"]:
                return Verdict(count, prev, f"row {count} was changed after it was written")
            prev = row["hash"]
    return Verdict(count, prev, None)
