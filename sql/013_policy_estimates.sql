-- Row-level security in a form the planner can estimate. A policy's
-- `(select app_role()) = 'region'` compares a value known only at run time with a constant,
-- which PostgreSQL takes to hold for 0.5% of rows: every scan behind a policy looked nearly
-- empty, so a page of 101 records was found by reading and sorting all of a municipality's
-- rows instead of walking the primary key and stopping. `(select app_role_is('region'))` is
-- a boolean known only at run time, taken to hold for half of them. Each policy lets through
-- exactly what it did before: only the form of its role tests changes.
create function app_role_is(r text) returns boolean language sql stable
  as $$ select app_role() = r $$;
grant execute on function app_role_is(text) to hub_service;

do $$
declare
  t text;
begin
  foreach t in array array['referral', 'assignment', 'care_period', 'claim_line', 'claim_answer',
      'claim_rejection', 'change_request', 'change_answer', 'retour', 'gi_measure', 'trajectory']
  loop
    execute format($f$alter policy read_scoped on %I using (
        ((select app_role_is('municipality')) and municipality_code = (select app_municipality()))
        or (select app_role_is('region'))
        or ((select app_role_is('provider')) and provider_agb = (select app_provider())))$f$, t);
  end loop;
  foreach t in array array['message', 'indicator_fact'] loop
    execute format($f$alter policy read_scoped on %I using (
        ((select app_role_is('municipality')) and municipality_code = (select app_municipality()))
        or (select app_role_is('region')))$f$, t);
  end loop;
end $$;

alter policy read_scoped on youth using (
  ((select app_role_is('municipality')) and municipality_code = (select app_municipality()))
  or (select app_role_is('region'))
  or ((select app_role_is('provider')) and (
        exists (select 1 from assignment a where a.municipality_code = youth.municipality_code
                and a.youth_id = youth.id and a.provider_agb = (select app_provider()))
        or exists (select 1 from claim_line c where c.municipality_code = youth.municipality_code
                and c.youth_id = youth.id and c.provider_agb = (select app_provider()))
        or exists (select 1 from care_period p where p.municipality_code = youth.municipality_code
                and p.youth_id = youth.id and p.provider_agb = (select app_provider()))
        or exists (select 1 from gi_measure g where g.municipality_code = youth.municipality_code
                and g.youth_id = youth.id and g.provider_agb = (select app_provider())))));
