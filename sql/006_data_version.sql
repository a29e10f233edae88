-- The data version: ingestion bumps it in the transaction of every file it loads, so a
-- cached answer keyed by it is never served after the data it was computed from changed.
create table data_version (
  id integer primary key check (id = 1),
  version bigint not null
);
insert into data_version values (1, 0);
grant select, update (version) on data_version to hub_service;
