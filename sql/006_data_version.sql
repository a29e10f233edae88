-- The data version: bumped by every statement that changes data the answers are computed
-- from, so a cached answer keyed by it (hub/cache.py) is never served after that data
-- changed. A statement that changes no row (re-ingesting the same content) bumps nothing.
create table data_version (
  id integer primary key check (id = 1),
  version bigint not null
);
insert into data_version values (1, 0);
grant select, update (version) on data_version to hub_service;

create function bump_data_version() returns trigger language plpgsql as $$
begin
  if exists (select 1 from changed) then
    update data_version set version = version + 1 where id = 1;
  end if;
  return null;
end $$;

do $$
declare
  t text;
begin
  foreach t in array array['municipality', 'provider', 'youth', 'referral', 'assignment',
      'care_period', 'claim_line', 'claim_answer', 'claim_rejection', 'change_request',
      'change_answer', 'retour', 'gi_measure', 'trajectory', 'provider_contract', 'budget',
      'population', 'provider_signal']
  loop
    execute format('create trigger data_version_insert after insert on %I referencing new table '
                   'as changed for each statement execute function bump_data_version()', t);
    execute format('create trigger data_version_update after update on %I referencing new table '
                   'as changed for each statement execute function bump_data_version()', t);
    execute format('create trigger data_version_delete after delete on %I referencing old table '
                   'as changed for each statement execute function bump_data_version()', t);
  end loop;
end $$;
