-- Sources beyond iJw: GI measures, the provider register, budgets, population, provider
-- signals, and the cursor of sources that are pulled incrementally (JSON APIs).

alter table source add column cursor text;  -- where the next incremental pull starts

create table gi_measure (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),  -- the GI
  youth_id bigint not null,
  measure_id text not null,
  measure_type text not null check (measure_type in ('OTS', 'VOOGDIJ', 'JEUGDRECLASSERING')),
  start_date date not null,
  end_date date,
  end_reason text,
  dated date not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, provider_agb, measure_id),
  foreign key (municipality_code, youth_id) references youth(municipality_code, id)
);

create table provider_contract (
  provider_agb text not null references provider(agb),
  lot text not null check (lot in ('AMBULANT', 'RESIDENTIAL', 'CRISIS', 'HSWV', 'PROTECTION',
                                   'PROBATION')),
  start_date date not null,
  end_date date,
  source_id text not null, file_hash text not null, position text not null,
  primary key (provider_agb, lot, start_date)
);

create table budget (
  municipality_code text not null references municipality(code),
  year integer not null,
  lot text not null,
  amount_cents bigint not null check (amount_cents >= 0),
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, year, lot)
);

-- Youth aged 0-17 on 1 January; overrides the region file's figure for that year.
create table population (
  municipality_code text not null references municipality(code),
  year integer not null,
  youth_0_17 integer not null check (youth_0_17 >= 0),
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, year)
);

create table provider_signal (
  provider_agb text not null references provider(agb),
  dated date not null,
  early_warning text not null check (early_warning in ('GREEN', 'YELLOW', 'ORANGE', 'RED')),
  escalation text not null
    check (escalation in ('NONE', 'MONITORING', 'ESCALATED', 'CONTINUITY_PLAN')),
  waiting_list integer,
  waiting_days integer,
  source_id text not null, file_hash text not null, position text not null,
  primary key (provider_agb, dated)
);

-- GI measures are records: the same wall as every record table.
alter table gi_measure enable row level security;
alter table gi_measure force row level security;
create policy read_scoped on gi_measure for select using (
  ((select app_role()) = 'municipality' and municipality_code = (select app_municipality()))
  or (select app_role()) = 'region'
  or ((select app_role()) = 'provider' and provider_agb = (select app_provider())));
create policy ingest_writes on gi_measure for all
  using ((select app_role()) = 'ingest' and array[municipality_code] <@ (select app_ingest_scope()))
  with check ((select app_role()) = 'ingest'
              and array[municipality_code] <@ (select app_ingest_scope()));

-- A GI sees the youth of its measures.
drop policy read_scoped on youth;
create policy read_scoped on youth for select using (
  ((select app_role()) = 'municipality' and municipality_code = (select app_municipality()))
  or (select app_role()) = 'region'
  or ((select app_role()) = 'provider' and (
        exists (select 1 from assignment a where a.municipality_code = youth.municipality_code
                and a.youth_id = youth.id and a.provider_agb = (select app_provider()))
        or exists (select 1 from claim_line c where c.municipality_code = youth.municipality_code
                and c.youth_id = youth.id and c.provider_agb = (select app_provider()))
        or exists (select 1 from care_period p where p.municipality_code = youth.municipality_code
                and p.youth_id = youth.id and p.provider_agb = (select app_provider()))
        or exists (select 1 from gi_measure g where g.municipality_code = youth.municipality_code
                and g.youth_id = youth.id and g.provider_agb = (select app_provider())))));

-- Budgets, population and the provider register are public figures: everyone reads them;
-- ingestion writes them (budgets and population only for the municipalities in its scope).
do $$
declare
  t text;
begin
  foreach t in array array['budget', 'population', 'provider_contract'] loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    execute format('create policy read_all on %I for select using (true)', t);
  end loop;
  foreach t in array array['budget', 'population'] loop
    execute format($f$create policy ingest_writes on %I for all
        using ((select app_role()) = 'ingest'
               and array[municipality_code] <@ (select app_ingest_scope()))
        with check ((select app_role()) = 'ingest'
                    and array[municipality_code] <@ (select app_ingest_scope()))$f$, t);
  end loop;
end $$;
create policy ingest_writes on provider_contract for all
  using ((select app_role()) = 'ingest' and (select app_ingest_scope()) is not null)
  with check ((select app_role()) = 'ingest' and (select app_ingest_scope()) is not null);

-- Contract-management signals are the region's business: the region and its municipalities
-- read them, a provider its own; public and admin do not.
alter table provider_signal enable row level security;
alter table provider_signal force row level security;
create policy read_scoped on provider_signal for select using (
  (select app_role()) in ('region', 'municipality')
  or ((select app_role()) = 'provider' and provider_agb = (select app_provider())));
create policy ingest_writes on provider_signal for all
  using ((select app_role()) = 'ingest' and (select app_ingest_scope()) is not null)
  with check ((select app_role()) = 'ingest' and (select app_ingest_scope()) is not null);

grant select on gi_measure, provider_contract, budget, population, provider_signal
  to hub_service;
grant insert, update, delete on gi_measure, provider_contract, budget, population,
  provider_signal to hub_service;
grant update (name) on provider to hub_service;  -- the register names providers
