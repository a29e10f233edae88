-- Indicator facts: the per-municipality figures of every calendar month, quarter and year,
-- kept by the hub (hub/resolvers/indicators.py, refresh_facts) so that the common dashboard
-- questions (by municipality and period) read a few rows instead of recomputing from the
-- records. A row holds what the live query of one family (trajectory, claim, ...) gives for
-- that municipality and period, so both ways give the same answer.
--
-- Kept up to date incrementally: every statement that changes a municipality's records marks
-- that municipality in fact_dirty (the data-version trigger below); a refresh recomputes only
-- the marked municipalities (all of them when the data's last date moved, which shifts the
-- reference day of the last periods). Until then a question is answered live, so an answer
-- never comes from stale facts.
create table indicator_fact (
  municipality_code text not null references municipality(code),
  grain text not null check (grain in ('MONTH', 'QUARTER', 'YEAR')),
  period_start date not null,
  family text not null,
  data jsonb not null,
  primary key (grain, period_start, municipality_code, family)
);
alter table indicator_fact enable row level security;
alter table indicator_fact force row level security;
create policy read_scoped on indicator_fact for select using (
  ((select app_role()) = 'municipality' and municipality_code = (select app_municipality()))
  or (select app_role()) = 'region');
create policy ingest_writes on indicator_fact for all
  using ((select app_role()) = 'ingest' and array[municipality_code] <@ (select app_ingest_scope()))
  with check ((select app_role()) = 'ingest'
              and array[municipality_code] <@ (select app_ingest_scope()));
grant select, insert, delete on indicator_fact to hub_service;

-- What the facts were computed from: the data's last date and the years of long-running care.
create table indicator_fact_state (
  id integer primary key check (id = 1),
  last_date date,
  long_running_years integer,
  refreshed_at timestamptz
);
insert into indicator_fact_state values (1, null, null, null);
grant select, update (last_date, long_running_years, refreshed_at) on indicator_fact_state
  to hub_service;

-- Municipalities whose records changed since their facts were computed. No personal data.
create table fact_dirty (municipality_code text primary key);
insert into fact_dirty select code from municipality;
grant select, insert, delete on fact_dirty to hub_service;

create or replace function bump_data_version() returns trigger language plpgsql as $$
declare
  marked text := coalesce(current_setting('hub.facts_marked', true), '');
  codes text[];
begin
  if current_setting('hub.data_version_bumped', true) is distinct from 'yes'
     and exists (select 1 from changed) then
    update data_version set version = version + 1 where id = 1;
    perform set_config('hub.data_version_bumped', 'yes', true);
  end if;
  if tg_table_name in ('youth', 'referral', 'assignment', 'care_period', 'claim_line',
                       'claim_answer', 'claim_rejection', 'trajectory') then
    -- once per municipality and transaction
    execute 'select array_agg(distinct municipality_code) from changed
             where municipality_code <> all (string_to_array($1, '',''))'
      into codes using marked;
    if codes is not null then
      insert into fact_dirty select unnest(codes) on conflict do nothing;
      perform set_config('hub.facts_marked', marked || ',' || array_to_string(codes, ','), true);
    end if;
  end if;
  return null;
end $$;
