-- The index that finds the credit line naming a claim line (the claim view's CREDITED) holds
-- only credit lines, about one line in eighty. Over all lines it was eighty times larger
-- than needed, and while a table's statistics lag behind a large load the planner took it
-- for the duplicate check of a batch's claim lines (same two leading columns), reading
-- thousands of rows per line instead of one from the unique key.
drop index claim_line_municipality_code_provider_agb_previous_referenc_idx;
create index claim_line_credits on claim_line (municipality_code, provider_agb, previous_reference)
  where previous_reference is not null;
