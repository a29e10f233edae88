-- A row that names its youth by (municipality_code, youth_id), youth_id not null, refers to
-- a youth of that municipality, and the youth refers to the municipality: the row's own
-- foreign key from municipality_code to municipality adds nothing there, and costs a check
-- per inserted row (6 of the 29 microseconds a claim line takes to insert). The composite
-- key to youth stays. change_request keeps its own key: its youth may be unknown.
alter table claim_line drop constraint claim_line_municipality_code_fkey;
alter table care_period drop constraint care_period_municipality_code_fkey;
alter table assignment drop constraint assignment_municipality_code_fkey;
alter table referral drop constraint referral_municipality_code_fkey;
alter table trajectory drop constraint trajectory_municipality_code_fkey;
alter table gi_measure drop constraint gi_measure_municipality_code_fkey;
