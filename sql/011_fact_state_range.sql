-- The data's first date beside its last in the facts' state: while the facts are fresh (no
-- municipality marked), the range they were computed over is the data's range, so an answer
-- from them needs no scan of the records to find it.
alter table indicator_fact_state add column first_date date;
grant update (first_date) on indicator_fact_state to hub_service;
