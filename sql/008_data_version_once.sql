-- The data version is bumped once per transaction that changes data, not once per statement:
-- a batch of files loaded in one transaction would otherwise update the same row thousands
-- of times, each update walking the row's growing version chain. Once is enough, since other
-- transactions only see the new version after the commit anyway. The mark is
-- transaction-local (and undone with a rolled-back savepoint, like the update it marks).
create or replace function bump_data_version() returns trigger language plpgsql as $$
begin
  if current_setting('hub.data_version_bumped', true) is distinct from 'yes'
     and exists (select 1 from changed) then
    update data_version set version = version + 1 where id = 1;
    perform set_config('hub.data_version_bumped', 'yes', true);
  end if;
  return null;
end $$;
