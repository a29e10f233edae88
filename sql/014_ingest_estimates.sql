-- Ingestion's row-level security in a form the planner can estimate, as 013 did for reads.
-- `(select app_role()) = 'ingest' and array[municipality_code] <@ (select ...)` was taken
-- to keep 0.5% of 0.5% of the rows: every scan of an ingest transaction (loading, and the
-- refresh of the stored facts over the whole region) looked nearly empty, so 420,000 claim
-- lines were joined row by row through indexes. The same test written as a run-time
-- boolean and `= any(...)` is estimated from the column's statistics. Each policy lets
-- through exactly what it did before: municipality_code is never null in these tables, and
-- for a value that is not null `array[v] <@ s` and `v = any(s)` agree (both null when s is).
do $$
declare
  t text;
begin
  foreach t in array array['youth', 'message', 'referral', 'assignment', 'care_period',
      'claim_line', 'claim_answer', 'claim_rejection', 'change_request', 'change_answer',
      'retour', 'gi_measure', 'trajectory', 'budget', 'population', 'indicator_fact',
      'fact_dirty']
  loop
    execute format($f$alter policy ingest_writes on %I
        using ((select app_role_is('ingest'))
               and municipality_code = any((select app_ingest_scope())::text[]))
        with check ((select app_role_is('ingest'))
                    and municipality_code = any((select app_ingest_scope())::text[]))$f$, t);
  end loop;
end $$;
