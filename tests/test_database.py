"""The wall: roles, row-level security and migrations, asserted on the real catalog."""

from __future__ import annotations

import asyncpg
import pytest

from hub.config import default_region
from hub.db import Database, DatabaseError, Scope, migrate
from hub.ingest import ingest, refresh_facts
from hub.store.load import SourceInfo

from .conftest import (
    INGEST_TABLES,
    PUBLIC_TABLES,
    SAMPLE_REGION,
    SAMPLES,
    STATE_TABLES,
    TENANT_TABLES,
    TENANT_VIEWS,
    settings_for,
)

TENANT_RELATIONS = TENANT_TABLES + TENANT_VIEWS


@pytest.fixture(scope="module")
async def urls(make_database, open_db, tmp_path_factory):
    """A database with a row in every tenant table: the samples, plus one referral."""
    urls = await make_database(SAMPLE_REGION)
    settings = settings_for(SAMPLE_REGION, tmp_path_factory.mktemp("region"))
    db = await open_db(urls)
    await ingest(db, settings, SourceInfo("samples", "ijw"), sorted(SAMPLES.glob("*.xml")))
    await refresh_facts(db, settings)  # indicator_fact
    admin = await asyncpg.connect(urls.admin)
    try:
        await admin.execute(
            """insert into referral(municipality_code, provider_agb, youth_id, provider_reference,
                 referrer_type, requested_start, dated, source_id, file_hash, position)
               select municipality_code, '65656055', id, 'R1', '04', '2026-01-01', '2026-01-01',
                      's', 'h', '/' from youth limit 1"""
        )
        await admin.execute(
            """insert into gi_measure(municipality_code, provider_agb, youth_id, measure_id,
                 measure_type, start_date, dated, source_id, file_hash, position)
               select municipality_code, '65656055', id, 'M1', 'OTS', '2026-01-01',
                      '2026-01-01', 's', 'h', '/' from youth limit 1"""
        )
        for relation in TENANT_RELATIONS:  # superuser: the rows are there
            assert await admin.fetchval(f"select count(*) from {relation}") > 0, relation
    finally:
        await admin.close()
    return urls


async def test_service_role_owns_nothing_is_no_superuser_and_cannot_bypass_rls(urls) -> None:
    conn = await asyncpg.connect(urls.service)
    try:
        role = await conn.fetchrow(
            "select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles "
            "where rolname = current_user"
        )
        assert role is not None
        assert dict(role) == {
            "rolsuper": False,
            "rolbypassrls": False,
            "rolcreaterole": False,
            "rolcreatedb": False,
        }
        owned = await conn.fetchval(
            """select (select count(*) from pg_class where relowner = r.oid)
                    + (select count(*) from pg_proc where proowner = r.oid)
                    + (select count(*) from pg_namespace where nspowner = r.oid)
               from pg_roles r where rolname = current_user"""
        )
        assert owned == 0
    finally:
        await conn.close()


async def test_every_tenant_table_has_forced_rls_with_a_policy(urls) -> None:
    conn = await asyncpg.connect(urls.admin)
    try:
        rows = await conn.fetch(
            """select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                      (select count(*) from pg_policy p where p.polrelid = c.oid) as policies,
                      pg_get_userbyid(c.relowner) as owner
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'public' and c.relkind = 'r'
                 and exists (select 1 from pg_attribute a where a.attrelid = c.oid
                             and a.attname = 'municipality_code' and not a.attisdropped)"""
        )
        # a new one joins a list
        assert {r["relname"] for r in rows} == set(
            TENANT_TABLES + PUBLIC_TABLES + STATE_TABLES + INGEST_TABLES
        )
        for r in rows:
            assert r["relrowsecurity"], r["relname"]
            assert r["relforcerowsecurity"], r["relname"]
            assert r["policies"] >= 1, r["relname"]
        owners = await conn.fetch(
            """select distinct pg_get_userbyid(c.relowner) as owner from pg_class c
               join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'"""
        )
        assert {r["owner"] for r in owners} == {"hub_owner"}
        views = await conn.fetch(
            """select c.relname, coalesce(c.reloptions, '{}') as options from pg_class c
               join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'public' and c.relkind in ('v', 'm')"""
        )
        assert views
        for v in views:
            assert "security_invoker=true" in v["options"], v["relname"]
        definers = await conn.fetch(
            """select proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where n.nspname = 'public' and prosecdef
                 and not exists (select 1 from unnest(coalesce(proconfig, '{}')) c
                                 where c like 'search_path=%')"""
        )
        assert definers == []
    finally:
        await conn.close()


async def test_record_policies_test_roles_in_a_form_the_planner_can_estimate(urls) -> None:
    """`(select app_role()) = 'region'` is estimated to keep 0.5% of rows, so pages read and
    sort everything behind a policy; `(select app_role_is('region'))` is estimated at half
    (sql/013_policy_estimates.sql). What the policies let through is the isolation tests'."""
    records = set(TENANT_TABLES) - {"quarantine", "ingest_run"}  # small: the runs' own forms
    conn = await asyncpg.connect(urls.admin)
    try:
        rows = await conn.fetch(
            """select tablename, qual from pg_policies
               where schemaname = 'public' and policyname = 'read_scoped'
                 and tablename = any($1::text[])""",
            list(records),
        )
    finally:
        await conn.close()
    assert {r["tablename"] for r in rows} == records
    for r in rows:
        assert "app_role_is('region'" in r["qual"], r["tablename"]
        assert "app_role()" not in r["qual"], r["tablename"]


async def test_ingest_policies_test_scope_in_a_form_the_planner_can_estimate(urls) -> None:
    """The write policies of tables with a municipality test the ingest role as a run-time
    boolean and the scope with `= any(...)` (sql/014_ingest_estimates.sql), so the scans of
    an ingest transaction are estimated from statistics. What they let through is the
    isolation tests'."""
    conn = await asyncpg.connect(urls.admin)
    try:
        rows = await conn.fetch(
            """select p.tablename, p.qual, p.with_check from pg_policies p
               where p.schemaname = 'public' and p.policyname = 'ingest_writes'
                 and exists (select 1 from information_schema.columns c
                             where c.table_schema = 'public' and c.table_name = p.tablename
                               and c.column_name = 'municipality_code'
                               and c.is_nullable = 'NO')"""
        )
    finally:
        await conn.close()
    assert len(rows) == 18
    for r in rows:
        for text in (r["qual"], r["with_check"]):
            assert "app_role_is('ingest'" in text, r["tablename"]
            assert "municipality_code = ANY" in text, r["tablename"]
            assert "app_role()" not in text, r["tablename"]
            assert "<@" not in text, r["tablename"]


@pytest.mark.parametrize(
    "settings_sql",
    [
        "",  # nothing set
        "select set_config('hub.role', '', true), set_config('hub.municipality', '', true)",
        "select set_config('hub.role', 'municipality', true)",  # role without municipality
        "select set_config('hub.municipality', '0384', true)",  # municipality without role
        "select set_config('hub.role', 'provider', true), set_config('hub.provider', '', true)",
        # ingestion scoped by hub.municipality alone (it needs hub.ingest_municipalities)
        "select set_config('hub.role', 'ingest', true), set_config('hub.municipality', '0384', "
        "true)",
    ],
)
async def test_missing_or_empty_tenant_setting_sees_nothing(urls, settings_sql: str) -> None:
    conn = await asyncpg.connect(urls.service)
    try:
        async with conn.transaction():
            if settings_sql:
                await conn.execute(settings_sql)
            for relation in TENANT_RELATIONS:
                assert await conn.fetchval(f"select count(*) from {relation}") == 0, relation
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(
                    """insert into youth(municipality_code, pseudonym, source_id, file_hash,
                       position) values ('0384', 'p-x', 's', 'h', '/')"""
                )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "scope",
    [
        Scope("region"),
        Scope("municipality", municipality="0384"),
        Scope("provider", provider="65656055"),
        Scope("public"),
        Scope("admin"),
        Scope("ingest", municipality="0363", ingest_municipalities=("0363",)),
    ],
    ids=lambda s: f"{s.role}-{s.municipality or s.provider or ''}",
)
async def test_pending_trajectories_are_ingestions_own_within_its_scope(urls, scope) -> None:
    """trajectory_pending is read and written by ingestion only, for the municipalities of
    its scope: no other role sees or lists a youth, an ingest scope sees only its own."""
    admin = await asyncpg.connect(urls.admin)
    db = Database(urls.service, min_size=1, max_size=1)
    await db.open()
    try:
        listed = await admin.fetch(
            """insert into trajectory_pending select municipality_code, id from youth
               returning municipality_code"""
        )
        assert {r[0] for r in listed} >= {"0363", "0384"}
        own = set(scope.ingest_municipalities)
        async with db.tenant(scope, readonly=False) as tx:
            seen = {
                r[0] for r in await tx.fetch("select municipality_code from trajectory_pending")
            }
            assert seen == own
            deleted = await tx.fetch(
                "delete from trajectory_pending where municipality_code <> '0363' returning 1"
            )
            assert deleted == []
        for code in ("0384", "0363"):
            insert = "insert into trajectory_pending values ($1, -1)"
            if code in own:
                async with db.tenant(scope, readonly=False) as tx:
                    await tx.execute(insert, code)
                continue
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with db.tenant(scope, readonly=False) as tx:
                    await tx.execute(insert, code)
        assert await admin.fetchval("select count(*) from trajectory_pending") == len(listed) + (
            1 if own else 0
        )
    finally:
        await admin.execute("delete from trajectory_pending")
        await admin.close()
        await db.close()


async def test_tenant_settings_do_not_outlive_the_transaction(urls) -> None:
    db = Database(urls.service, min_size=1, max_size=1)
    await db.open()
    try:
        plan_mode = "select current_setting('plan_cache_mode')"
        async with db.tenant(Scope("region")) as tx:
            assert await tx.fetchval("select current_setting('hub.role')") == "region"
            assert await tx.fetchval(plan_mode) == "force_custom_plan"  # planned per question
        async with db.tenant(Scope("ingest", ingest_municipalities=("0193",))) as tx:
            assert await tx.fetchval(plan_mode) == "auto"
        async with db.tenant(Scope("public")) as tx:
            assert await tx.fetchval("select current_setting('hub.role')") == "public"
        with pytest.raises(ZeroDivisionError):
            async with db.tenant(Scope("region")) as tx:
                raise ZeroDivisionError
        async with db._pool.acquire() as conn:  # type: ignore[union-attr]
            assert await conn.fetchval("select current_setting('hub.role', true)") in ("", None)
            assert await conn.fetchval(plan_mode) == "auto"
    finally:
        await db.close()


async def test_migrations_run_once(urls) -> None:
    assert await migrate(urls.admin, SAMPLE_REGION) == []
    conn = await asyncpg.connect(urls.admin)
    try:
        names = await conn.fetch("select name from schema_migration order by version")
        assert next(r["name"] for r in names) == "001_core.sql"
        assert await conn.fetchval("select count(*) from municipality where in_region") == 13
        await migrate(urls.admin, default_region())
        assert await conn.fetchval("select count(*) from municipality where in_region") == 11
    finally:
        await conn.close()


async def test_serve_refuses_a_superuser_login(urls) -> None:
    db = Database(urls.admin)
    with pytest.raises(DatabaseError, match="superuser"):
        await db.open()
