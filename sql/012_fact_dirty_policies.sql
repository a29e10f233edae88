-- fact_dirty names municipalities (whose records changed since their facts were computed):
-- behind row-level security like every table that does. Ingestion marks what it may write;
-- a refresh (an ingest transaction over the region) reads and clears it; reading whether
-- the facts are fresh is part of an aggregate answer, read region-wide (Tx.fetch_region_wide).
alter table fact_dirty enable row level security;
alter table fact_dirty force row level security;
create policy read_scoped on fact_dirty for select using ((select app_role()) = 'region');
create policy ingest_writes on fact_dirty for all
  using ((select app_role()) = 'ingest' and array[municipality_code] <@ (select app_ingest_scope()))
  with check ((select app_role()) = 'ingest'
              and array[municipality_code] <@ (select app_ingest_scope()));
