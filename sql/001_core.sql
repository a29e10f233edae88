-- The canonical model, its row-level security and what hub_service may do.
-- Runs as hub_owner. Every tenant table carries municipality_code; RLS is enabled and forced
-- on each, and every policy fails closed: with no (or an empty) hub.role or hub.municipality
-- setting nothing is visible and nothing can be written.

-- The caller's scope, set transaction-locally by hub/db.py (Database.tenant).
create function app_role() returns text language sql stable
  as $$ select nullif(current_setting('hub.role', true), '') $$;
create function app_municipality() returns text language sql stable
  as $$ select nullif(current_setting('hub.municipality', true), '') $$;
create function app_provider() returns text language sql stable
  as $$ select nullif(current_setting('hub.provider', true), '') $$;
-- The municipalities one ingestion transaction may write (a provider's file can span several).
create function app_ingest_scope() returns text[] language sql stable
  as $$ select string_to_array(nullif(current_setting('hub.ingest_municipalities', true), ''), ',') $$;

-- JZ020 product category -> CBS care type (DOMAIN.md).
create function care_type(category text) returns text language sql immutable parallel safe
  as $$
    select case
      when category in ('35','36','37','38','43','44') then 'RESIDENTIAL'
      when category in ('31','32','33','34','40','41','42','45','51','52','53','54') then 'AMBULANT'
      when category = '46' then 'CRISIS'
      when category = '47' then 'PROBATION'
      when category = '48' then 'PROTECTION'
      when category is null then null
      else 'OTHER'
    end
  $$;

-- Reference data: readable by every role, written by the owner (region) or ingestion.
create table municipality (
  code text primary key check (code ~ '^[0-9]{4}$'),
  name text not null,
  youth_population jsonb not null default '{}',
  in_region boolean not null default true
);

create table provider (
  agb text primary key check (agb ~ '^[0-9]{8}$'),
  name text
);

create table source (
  id text primary key,
  adapter text not null,
  owner text,
  location text,
  options jsonb not null default '{}'
);

create table ingest_run (
  id bigint generated always as identity primary key,
  source_id text not null references source(id),
  municipality_code text,
  file_name text not null,
  file_hash text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  status text not null check (status in ('loaded', 'failed')),
  records_read integer not null default 0,
  records_accepted integer not null default 0,
  records_quarantined integer not null default 0,
  records_unlinked integer not null default 0,
  schema_validated boolean not null default true,
  error text
);
create index on ingest_run (source_id, id desc);

-- Records. Keys include municipality_code so the tables can be distributed by it.
create table youth (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  pseudonym text not null,
  birth_year integer,
  birth_month integer check (birth_month between 1 and 12),
  gender text,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, pseudonym)
);

create table message (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  message_type text not null,
  sender text not null,
  message_code text not null,
  identification text not null,
  dated date not null,
  provider_agb text not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, sender, message_code, identification)
);

create table referral (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  youth_id bigint not null,
  provider_reference text not null,
  referrer_type text not null,
  referrer_code text,
  referrer_name text,
  product_category text,
  product_code text,
  requested_start date not null,
  requested_end date,
  volume integer, unit text, frequency text,
  budget_cents bigint,
  dated date not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, provider_agb, provider_reference),
  foreign key (municipality_code, youth_id) references youth(municipality_code, id)
);

create table assignment (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  youth_id bigint not null,
  toewijzing_nummer text not null,
  provider_reference text,
  product_category text,
  product_code text,
  assigned_on date not null,
  start_date date not null,
  end_date date,
  volume integer, unit text, frequency text,
  budget_cents bigint,
  change_reason text,
  dated date not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, toewijzing_nummer),
  foreign key (municipality_code, youth_id) references youth(municipality_code, id)
);
create index on assignment (municipality_code, provider_agb, provider_reference);
create index on assignment (municipality_code, youth_id);

-- A care period is one delivery of JW305 (start) and, when stopped, JW307 (stop), keyed like
-- iJw keys them: (municipality, ToewijzingNummer, Begindatum).
create table care_period (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  youth_id bigint not null,
  toewijzing_nummer text not null,
  product_category text,
  product_code text,
  start_date date not null,
  end_date date,
  end_reason text,
  start_delivered boolean not null,  -- a JW305 delivered the start (not only a JW307)
  repeat_inflow boolean not null default false,  -- see refresh_repeat_inflow()
  dated date not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, toewijzing_nummer, start_date),
  foreign key (municipality_code, youth_id) references youth(municipality_code, id)
);
create index on care_period (municipality_code, youth_id, start_date);

create table claim_line (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  youth_id bigint not null,
  reference text not null,
  previous_reference text,
  toewijzing_nummer text not null,
  product_category text not null,
  product_code text not null,
  period_start date not null,
  period_end date not null,
  volume integer not null,
  unit text not null,
  rate_cents bigint,
  amount_cents bigint not null check (amount_cents >= 0),
  debit_credit text not null check (debit_credit in ('D', 'C')),
  claim_number text not null,
  claim_date date not null,
  claim_message_id text not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, provider_agb, reference),
  foreign key (municipality_code, youth_id) references youth(municipality_code, id)
);
create index on claim_line (municipality_code, toewijzing_nummer);
create index on claim_line (municipality_code, provider_agb, previous_reference);

create table claim_answer (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  claim_message_id text not null,
  claim_number text,
  submitted_cents bigint,
  granted_cents bigint,
  retourcodes text[] not null default '{}',
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, provider_agb, claim_message_id)
);

create table claim_rejection (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  claim_message_id text not null,
  reference text not null,
  retourcodes text[] not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, provider_agb, claim_message_id, reference)
);

create table change_request (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  youth_id bigint,
  provider_reference text not null,
  reason text not null,
  unchanged text[] not null default '{}',
  changed text[] not null default '{}',
  new_products text[] not null default '{}',
  dated date not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, provider_agb, provider_reference),
  foreign key (municipality_code, youth_id) references youth(municipality_code, id)
);

create table change_answer (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  provider_reference text not null,
  answer text not null,
  rejection_reason text,
  residence_municipality text,
  dated date not null,
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, provider_agb, provider_reference)
);

create table retour (
  municipality_code text not null references municipality(code),
  id bigint generated always as identity,
  provider_agb text not null references provider(agb),
  message_type text not null,
  answers_identification text not null,
  answers_dated date not null,
  item text not null default '',
  header_retourcodes text[] not null default '{}',
  item_retourcodes text[] not null default '{}',
  source_id text not null, file_hash text not null, position text not null,
  primary key (municipality_code, id),
  unique (municipality_code, provider_agb, message_type, answers_identification, item)
);

-- What was refused, where and why. municipality_code is null when a file failed before its
-- municipality could be read (not well-formed, XSD); only admins see those.
create table quarantine (
  municipality_code text,
  id bigint generated always as identity,
  run_id bigint not null references ingest_run(id),
  source_id text not null,
  file_name text not null,
  file_hash text not null,
  position text not null,
  field text,
  code text not null,
  reason text not null,
  value text,
  created_at timestamptz not null default now(),
  primary key (id),
  unique (file_hash, position, code)  -- re-ingesting a file quarantines nothing twice
);
create index on quarantine (run_id);

-- Row-level security. Record tables: a municipality sees its own rows, the region all rows,
-- a provider the rows it is party to (tables with provider_agb), ingestion reads and writes
-- the rows of the municipalities its transaction is scoped to. public and admin see no records.
-- (select app_...()) makes PostgreSQL evaluate the setting once per statement.
do $$
declare
  t text;
  provider_clause text;
begin
  foreach t in array array['youth', 'message', 'referral', 'assignment', 'care_period',
      'claim_line', 'claim_answer', 'claim_rejection', 'change_request', 'change_answer',
      'retour']
  loop
    execute format('alter table %I enable row level security', t);
    execute format('alter table %I force row level security', t);
    provider_clause := case when t = 'youth' then
        $p$ or ((select app_role()) = 'provider' and (
              exists (select 1 from assignment a where a.municipality_code = youth.municipality_code
                      and a.youth_id = youth.id and a.provider_agb = (select app_provider()))
              or exists (select 1 from claim_line c where c.municipality_code = youth.municipality_code
                      and c.youth_id = youth.id and c.provider_agb = (select app_provider()))
              or exists (select 1 from care_period p where p.municipality_code = youth.municipality_code
                      and p.youth_id = youth.id and p.provider_agb = (select app_provider()))))$p$
      when t = 'message' then ''
      else $p$ or ((select app_role()) = 'provider' and provider_agb = (select app_provider()))$p$
    end;
    execute format($f$create policy read_scoped on %I for select using (
        ((select app_role()) = 'municipality' and municipality_code = (select app_municipality()))
        or (select app_role()) = 'region' %s)$f$, t, provider_clause);
    execute format($f$create policy ingest_writes on %I for all
        using ((select app_role()) = 'ingest'
               and array[municipality_code] <@ (select app_ingest_scope()))
        with check ((select app_role()) = 'ingest'
                    and array[municipality_code] <@ (select app_ingest_scope()))$f$, t);
  end loop;
end $$;

alter table quarantine enable row level security;
alter table quarantine force row level security;
create policy read_scoped on quarantine for select using (
  (select app_role()) = 'admin'
  or ((select app_role()) = 'municipality' and municipality_code = (select app_municipality()))
  or ((select app_role()) = 'ingest' and (select app_ingest_scope()) is not null
      and (municipality_code is null or array[municipality_code] <@ (select app_ingest_scope()))));
create policy ingest_writes on quarantine for insert with check (
  (select app_role()) = 'ingest' and (select app_ingest_scope()) is not null
  and (municipality_code is null or array[municipality_code] <@ (select app_ingest_scope())));

alter table ingest_run enable row level security;
alter table ingest_run force row level security;
create policy read_scoped on ingest_run for select using (
  (select app_role()) = 'admin'
  or ((select app_role()) = 'ingest' and (select app_ingest_scope()) is not null)
  or ((select app_role()) = 'municipality' and municipality_code = (select app_municipality())));
create policy ingest_writes on ingest_run for insert with check (
  (select app_role()) = 'ingest' and (select app_ingest_scope()) is not null);

alter table source enable row level security;
alter table source force row level security;
-- A source's id, adapter and owner are no secret (records link to them); its runs are.
create policy read_all on source for select using (true);
create policy ingest_writes on source for insert with check ((select app_role()) = 'ingest');
create policy ingest_updates on source for update
  using ((select app_role()) = 'ingest') with check ((select app_role()) = 'ingest');

-- Views over records run with the caller's rights (security_invoker), so RLS applies.
-- One trajectory per care period for now; the CBS derivation replaces this view.
create view trajectory with (security_invoker = true) as
  select cp.municipality_code, cp.id, cp.provider_agb, cp.youth_id, cp.toewijzing_nummer,
         care_type(coalesce(cp.product_category, a.product_category)) as care_type,
         cp.start_date, cp.end_date, cp.end_reason, cp.repeat_inflow,
         cp.source_id, cp.file_hash, cp.position
  from care_period cp
  left join assignment a on a.municipality_code = cp.municipality_code
                        and a.toewijzing_nummer = cp.toewijzing_nummer;

-- Repeat inflow (CBS herhaald beroep) of the care periods of some youth: a jeugdhulp period
-- of a youth who had jeugdhulp in the five years before its start, with at least one day
-- without care in between. Run by ingestion (which sees the whole municipality) for the
-- youth a file touched, so the stored answer does not depend on who asks.
create function refresh_repeat_inflow(p_municipality text, p_youth bigint[])
returns void language sql as $$
  with periods as (
    select p.id, p.youth_id, p.start_date, coalesce(p.end_date, 'infinity') as end_date,
           care_type(coalesce(p.product_category, a.product_category))
             in ('AMBULANT', 'RESIDENTIAL', 'CRISIS') as jeugdhulp
    from care_period p
    left join assignment a on a.municipality_code = p.municipality_code
                          and a.toewijzing_nummer = p.toewijzing_nummer
    where p.municipality_code = p_municipality and p.youth_id = any(p_youth)
  ), computed as (
    select cur.id,
           cur.jeugdhulp
           and exists (select 1 from periods prev
                       where prev.youth_id = cur.youth_id and prev.jeugdhulp
                         and prev.start_date < cur.start_date
                         and prev.end_date >= cur.start_date - interval '5 years')
           and not exists (select 1 from periods prev
                           where prev.youth_id = cur.youth_id and prev.jeugdhulp
                             and prev.id <> cur.id and prev.start_date <= cur.start_date
                             and prev.end_date >= cur.start_date - 1) as repeat_inflow
    from periods cur
  )
  update care_period cp set repeat_inflow = c.repeat_inflow
  from computed c
  where cp.municipality_code = p_municipality and cp.id = c.id
    and cp.repeat_inflow is distinct from c.repeat_inflow
$$;

-- A claim line with its outcome: CREDIT (a credit line), CREDITED (cancelled by a credit
-- line naming it), REJECTED (in a JW325 with retourcodes), GRANTED (answered, not rejected),
-- SUBMITTED (no answer yet).
create view claim with (security_invoker = true) as
  select c.*,
         case
           when r.retourcodes is not null then 'REJECTED'
           when c.debit_credit = 'C' then 'CREDIT'
           when exists (select 1 from claim_line k
                        where k.municipality_code = c.municipality_code
                          and k.provider_agb = c.provider_agb
                          and k.previous_reference = c.reference and k.debit_credit = 'C'
                          and not exists (  -- a rejected credit line cancels nothing
                            select 1 from claim_rejection kr
                            where kr.municipality_code = k.municipality_code
                              and kr.provider_agb = k.provider_agb
                              and kr.claim_message_id = k.claim_message_id
                              and kr.reference = k.reference))
             then 'CREDITED'
           when exists (select 1 from claim_answer ans
                        where ans.municipality_code = c.municipality_code
                          and ans.provider_agb = c.provider_agb
                          and ans.claim_message_id = c.claim_message_id) then 'GRANTED'
           else 'SUBMITTED'
         end as status,
         coalesce(r.retourcodes, '{}') as retourcodes
  from claim_line c
  left join claim_rejection r on r.municipality_code = c.municipality_code
                             and r.provider_agb = c.provider_agb
                             and r.claim_message_id = c.claim_message_id
                             and r.reference = c.reference;

-- hub_service: reads everything its policies allow, writes what ingestion needs, owns nothing.
grant select on all tables in schema public to hub_service;
grant insert, update, delete on youth, message, referral, assignment, care_period, claim_line,
  claim_answer, claim_rejection, change_request, change_answer, retour to hub_service;
grant insert on quarantine, ingest_run to hub_service;
grant insert, update on source to hub_service;
grant insert on provider to hub_service;
grant execute on all functions in schema public to hub_service;
revoke all on schema_migration from hub_service;
