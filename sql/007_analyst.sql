-- The SQL face for BI tools (docs/bi.md): schema `analyst`, holding only figures that have
-- already been through suppression. The hub fills it with the `public` role's answer of
-- `indicators` (hub/analyst.py, `hub analyst refresh`); the login `hub_analyst` reads its
-- views and nothing else. Grants to hub_analyst are made by `hub analyst refresh`, which
-- creates that login (it cannot be created here: hub_owner creates no roles).

create schema analyst;
revoke all on schema analyst from public;

-- One cell of the public answer: a grouping (which aliases of the refresh operation it comes
-- from), its dimensions, a metric, the value shown to the public and whether it was
-- suppressed (then the value is null).
create table analyst.indicator (
  grouping text not null check (grouping in (
    'municipality_month', 'municipality_year', 'municipality_year_care_type', 'region_month')),
  municipality_code text,
  municipality_name text,
  year integer,
  month integer check (month between 1 and 12),
  care_type text,
  metric text not null,
  value double precision,
  suppressed boolean not null,
  check (not suppressed or value is null)
);
create index on analyst.indicator (grouping, metric);

-- When the figures were computed, from which data version, with which threshold.
create table analyst.refresh (
  id integer primary key check (id = 1),
  refreshed_at timestamptz not null,
  data_version bigint not null,
  suppression_threshold integer not null
);

-- Public figures: readable by whoever is granted the table, written only by the owner.
alter table analyst.indicator enable row level security;
alter table analyst.indicator force row level security;
create policy read_all on analyst.indicator for select using (true);
create policy refresh on analyst.indicator for all to hub_owner using (true) with check (true);
alter table analyst.refresh enable row level security;
alter table analyst.refresh force row level security;
create policy read_all on analyst.refresh for select using (true);
create policy refresh on analyst.refresh for all to hub_owner using (true) with check (true);

create view analyst.municipality_month with (security_invoker = true) as
  select municipality_code, municipality_name, year, month,
         make_date(year, month, 1) as month_start, metric, value, suppressed
  from analyst.indicator where grouping = 'municipality_month';

create view analyst.municipality_year with (security_invoker = true) as
  select municipality_code, municipality_name, year, metric, value, suppressed
  from analyst.indicator where grouping = 'municipality_year';

create view analyst.municipality_year_care_type with (security_invoker = true) as
  select municipality_code, municipality_name, year, care_type, metric, value, suppressed
  from analyst.indicator where grouping = 'municipality_year_care_type';

create view analyst.region_month with (security_invoker = true) as
  select year, month, make_date(year, month, 1) as month_start, metric, value, suppressed
  from analyst.indicator where grouping = 'region_month';

create view analyst.freshness with (security_invoker = true) as
  select refreshed_at, data_version, suppression_threshold from analyst.refresh;

revoke all on all tables in schema analyst from public;
