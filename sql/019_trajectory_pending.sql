-- Youth whose trajectories are to be recomputed. `hub ingest` loads a source a batch of files
-- per transaction; recomputing the trajectories of each batch's youth in that batch redid
-- the same youth in batch after batch (their messages span years of files) and hashed the
-- municipality's assignments and referrals once per batch. Instead a batch lists its youth
-- here, in its own transaction, and the source's end recomputes them once
-- (hub/store/load.py, refresh_pending_trajectories). A run that stops between the two
-- leaves its youth listed, and the next facts refresh recomputes them first. No personal
-- data: a municipality and a youth's row id.
create table trajectory_pending (
  municipality_code text not null references municipality(code),
  youth_id bigint not null,
  primary key (municipality_code, youth_id)
);
grant select, insert, delete on trajectory_pending to hub_service;

-- Only ingestion reads or writes it, and only for the municipalities its scope names.
alter table trajectory_pending enable row level security;
alter table trajectory_pending force row level security;
create policy ingest_writes on trajectory_pending for all
  using ((select app_role_is('ingest'))
         and municipality_code = any((select app_ingest_scope())::text[]))
  with check ((select app_role_is('ingest'))
              and municipality_code = any((select app_ingest_scope())::text[]));
