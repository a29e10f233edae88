-- refresh_trajectories reads only what the youth it is given need, in a form that does not
-- depend on statistics that lag behind a load:
-- - Each trajectory's referrer comes from a join with the municipality's referrals (hashed
--   once per call), not from a lookup per trajectory. While statistics lagged, the planner
--   took the referral primary key for that lookup, which names the municipality only, and
--   read every referral of the municipality per trajectory: 0.4 s a call for 700
--   trajectories, 5 s for one municipality's care periods loaded page by page.
-- - The care periods and trajectories of the given youth are read by the (municipality,
--   youth) indexes; with hash joins (set below) they were read for the whole municipality
--   per call: 63 ms instead of 22 ms for 400 youth of the largest municipality.
-- - The assignments and referrals stay hashed whole: narrowed by key lists, the planner took
--   an index on the municipality alone and searched the list per row (0.3 s a call).
-- (provider_agb, provider_reference) is unique per municipality, so the join gives what the
-- lookup gave, and the added conditions only narrow what the joins already required.
-- Otherwise as in 016.
create or replace function refresh_trajectories(p_municipality text, p_youth bigint[])
returns void language sql
-- Hash joins whatever the statistics say: while they lag behind a load, the planner takes
-- a municipality's care periods for one row and loops over them per period.
set enable_nestloop = off
as $$
  with own as materialized (
    select * from care_period cp
    where cp.municipality_code = p_municipality and cp.youth_id = any(p_youth)
  ), periods as (
    select cp.id, cp.youth_id, cp.provider_agb, cp.toewijzing_nummer, cp.start_date,
           cp.end_date, cp.end_reason, cp.source_id, cp.file_hash, cp.position,
           coalesce(cp.product_category, a.product_category) as product_category,
           care_type_of(coalesce(cp.product_category, a.product_category)) as care_type,
           a.provider_reference
    from own cp
    left join assignment a on a.municipality_code = p_municipality
                          and a.toewijzing_nummer = cp.toewijzing_nummer
  ), ordered as (
    select p.*, max(coalesce(p.end_date, 'infinity')) over (
             partition by p.youth_id, p.provider_agb, p.care_type order by p.start_date, p.id
             rows between unbounded preceding and 1 preceding) as end_so_far
    from periods p
  ), grouped as (
    select o.*, sum(case when o.end_so_far is null or o.start_date > o.end_so_far + 1
                         then 1 else 0 end)
                  over (partition by o.youth_id, o.provider_agb, o.care_type
                        order by o.start_date, o.id) as grp
    from ordered o
  ), merged as (
    select g.youth_id, g.provider_agb, g.care_type,
           (array_agg(g.id order by g.start_date, g.id))[1] as id,
           (array_agg(g.product_category order by g.start_date, g.id))[1] as product_category,
           (array_agg(g.toewijzing_nummer order by g.start_date, g.id))[1] as toewijzing_nummer,
           (array_agg(g.provider_reference order by g.start_date, g.id))[1] as provider_reference,
           (array_agg(g.source_id order by g.start_date, g.id))[1] as source_id,
           (array_agg(g.file_hash order by g.start_date, g.id))[1] as file_hash,
           (array_agg(g.position order by g.start_date, g.id))[1] as position,
           min(g.start_date) as start_date,
           case when bool_or(g.end_date is null) then null else max(g.end_date) end as end_date,
           case when bool_or(g.end_date is null) then null
                else (array_agg(g.end_reason order by g.end_date desc, g.id desc))[1] end
             as end_reason
    from grouped g
    group by g.youth_id, g.provider_agb, g.care_type, g.grp
  ), computed as (
    select m.*, m.care_type in ('AMBULANT', 'RESIDENTIAL', 'CRISIS') as jeugdhulp,
           r.referrer_type
    from merged m
    left join referral r on r.municipality_code = p_municipality
                        and r.provider_agb = m.provider_agb
                        and r.provider_reference = m.provider_reference
  ), flagged as (
    -- Repeat inflow: jeugdhulp in the five years before, with at least a day without care.
    -- Over the youth's other jeugdhulp that started earlier, the latest end M: there was
    -- jeugdhulp in the five years before when M reaches that far, and a day without care
    -- when M ends before the day before this start.
    select c.*,
           c.jeugdhulp
           and coalesce(c.prior_end >= c.start_date - interval '5 years'
                        and c.prior_end < c.start_date - 1, false) as repeat_inflow
    from (select cur.*,
                 max(case when cur.jeugdhulp then coalesce(cur.end_date, 'infinity') end) over (
                   partition by cur.youth_id order by cur.start_date
                   range between unbounded preceding and interval '1 day' preceding) as prior_end
          from computed cur) c
  ), gone as (
    delete from trajectory t
    where t.municipality_code = p_municipality and t.youth_id = any(p_youth)
      and t.id not in (select f.id from flagged f)
  ), linked as (
    -- Each care period points at its trajectory: the one its group became.
    update care_period cp set trajectory_id = g.trajectory_id
    from (select g.id, first_value(g.id) over (
                   partition by g.youth_id, g.provider_agb, g.care_type, g.grp
                   order by g.start_date, g.id) as trajectory_id
          from grouped g) g
    where cp.municipality_code = p_municipality and cp.youth_id = any(p_youth)
      and cp.id = g.id and cp.trajectory_id is distinct from g.trajectory_id
  )
  insert into trajectory(municipality_code, id, youth_id, provider_agb, care_type,
                         product_category, toewijzing_nummer, referrer_type, start_date,
                         end_date, end_reason, repeat_inflow, source_id, file_hash, position)
  select p_municipality, f.id, f.youth_id, f.provider_agb, f.care_type, f.product_category,
         f.toewijzing_nummer, f.referrer_type, f.start_date, f.end_date, f.end_reason,
         f.repeat_inflow, f.source_id, f.file_hash, f.position
  from flagged f
  on conflict (municipality_code, id) do update set
    youth_id = excluded.youth_id, provider_agb = excluded.provider_agb,
    care_type = excluded.care_type, product_category = excluded.product_category,
    toewijzing_nummer = excluded.toewijzing_nummer, referrer_type = excluded.referrer_type,
    start_date = excluded.start_date, end_date = excluded.end_date,
    end_reason = excluded.end_reason, repeat_inflow = excluded.repeat_inflow,
    source_id = excluded.source_id, file_hash = excluded.file_hash, position = excluded.position
  where (trajectory.youth_id, trajectory.provider_agb, trajectory.care_type,
         trajectory.product_category, trajectory.toewijzing_nummer, trajectory.referrer_type,
         trajectory.start_date, trajectory.end_date, trajectory.end_reason,
         trajectory.repeat_inflow, trajectory.source_id, trajectory.file_hash,
         trajectory.position)
        is distinct from
        (excluded.youth_id, excluded.provider_agb, excluded.care_type,
         excluded.product_category, excluded.toewijzing_nummer, excluded.referrer_type,
         excluded.start_date, excluded.end_date, excluded.end_reason, excluded.repeat_inflow,
         excluded.source_id, excluded.file_hash, excluded.position);

$$;
