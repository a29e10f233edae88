-- The audit trail of record access (NEN 7513 / BIO 8.15): one row per request that read
-- youth-level records, listing every youth read, written in the request's own transaction.
-- Rows are hash-chained: each row's hash covers its content and the previous row's hash, so
-- `hub audit verify` detects any edit or deletion. hub_service may only insert.

create table audit_log (
  seq bigint primary key,  -- position in the chain, set under the chain's lock
  at timestamptz not null default clock_timestamp(),
  actor text not null,  -- the token's subject
  role text not null,
  on_behalf_of text,  -- the municipality or provider the token acts for
  action text not null,  -- the GraphQL operation (name or 'query')
  result text not null check (result in ('ok', 'error')),
  origin text,  -- the client's address
  youth text[] not null,  -- every youth read, as municipality:id
  prev_hash text not null,
  hash text not null
);

-- The chain: the canonical text of a row, hashed with its predecessor's hash.
create function audit_row_text(a audit_log) returns text language sql immutable
  set search_path = pg_catalog, public
  as $$
    select concat_ws('|', a.seq::text, to_char(a.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'),
                     a.actor, a.role, coalesce(a.on_behalf_of, ''), a.action, a.result,
                     coalesce(a.origin, ''), array_to_string(a.youth, ','), a.prev_hash)
  $$;

-- Runs as the owner, which sees the whole chain; one writer at a time (the lock is held to
-- the end of the request's transaction), and each query of a volatile function sees what
-- committed before it, so the chain never forks.
create function audit_chain() returns trigger language plpgsql security definer
  set search_path = pg_catalog, public
  as $$
  begin
    perform pg_advisory_xact_lock(7513);
    new.at := clock_timestamp();
    select coalesce(max(seq), 0) + 1 into new.seq from audit_log;
    new.prev_hash := coalesce((select hash from audit_log where seq = new.seq - 1), '');
    new.hash := encode(sha256(convert_to(audit_row_text(new), 'UTF8')), 'hex');
    return new;
  end
  $$;
create trigger audit_chain before insert on audit_log for each row execute function audit_chain();

-- Readable by admins only; any request may add its row; nobody updates or deletes.
alter table audit_log enable row level security;
create policy admin_reads on audit_log for select using ((select app_role()) = 'admin');
create policy requests_write on audit_log for insert
  with check ((select app_role()) is not null and role = (select app_role()));

grant select, insert on audit_log to hub_service;
revoke execute on function audit_chain() from public;

-- For /readyz: which migrations the database has, without granting the table itself.
create function applied_migrations() returns setof text language sql stable security definer
  set search_path = pg_catalog, public
  as $$ select version from schema_migration order by version $$;
revoke execute on function applied_migrations() from public;
grant execute on function applied_migrations() to hub_service;
