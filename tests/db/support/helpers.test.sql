-- The pgTAP helpers themselves (tests/support/test-helpers.sql): tests.try answers exactly what
-- became of a statement and acts as the current identity; tests.freeze_time stops only
-- app_hidden.now() and only inside this transaction.
begin;
select plan(22);

create temporary table try_probe (n int);
grant all on try_probe to public;

-- tests.try: the outcome
select is(tests.try($$select 1$$), 'ok', 'try: a statement that runs answers ok');
select is(tests.try($$insert into try_probe values (1)$$), 'ok', 'try: an insert that runs answers ok');
select is((select count(*)::int from try_probe), 1, 'try: … and its effect stays in the transaction');
select is(tests.try($$with i as (insert into try_probe values (2) returning n) select n / 0 from i$$), 'E:22012',
  'try: any other error answers E:<sqlstate>');
select is((select count(*)::int from try_probe), 1, 'try: … and a failed statement wrote nothing');
insert into app_hidden.error_codes (code, http_status, module, meaning) values ('HMS_TEST', 409, 'tests', 'A code of this test only.');
select is(tests.try($$select app_hidden.raise_error('HMS_TEST', 'A sentence.')$$), 'HMS_TEST',
  'try: a business error answers its HMS code');
select is(tests.try($$select app_hidden.raise_error('HMS_TEST', 'A sentence.')$$, true), 'HMS_TEST/409',
  'try: … with its HTTP status when asked');
select is(tests.try($$select no_such_column from try_probe$$), 'E:42703', 'try: an error in the statement itself is E:<sqlstate> too');

-- tests.try: as the current identity
select is(tests.try($$insert into app_public.departments (hospital_id, code, name) values ('10000000-0000-4000-8000-000000000001', 'TRYOWN', 'Owner')$$),
  'ok', 'try as the owner: RLS does not apply');
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select is(tests.try($$insert into app_public.departments (code, name) values ('TRYDOC', 'Doctor')$$), 'HMS_FORBIDDEN',
  'try as a doctor (no settings.manage): the statement check refuses the insert (HMS_FORBIDDEN)');
select is(tests.try($q$do $d$ begin if current_user <> 'hms_staff' then raise exception 'not staff'; end if; end $d$$q$), 'ok',
  'try as a doctor: the statement runs as hms_staff');
select is(current_user::text, 'hms_staff', 'try leaves the identity as it was');
select tests.authenticate_as('admin.ny@hms.test', 'NY');
select is(tests.try($$insert into app_public.departments (code, name) values ('TRYADM', 'Admin')$$), 'ok',
  'try as the NY admin (settings.manage): the insert passes');
select tests.authenticate_as_anonymous();
select is(tests.try($$select 1 from app_public.departments$$), 'E:42501', 'try as anonymous: no table is readable');
select tests.clear_authentication();
select is(array(select code::text from app_public.departments where code like 'TRY%' order by code), array['TRYADM', 'TRYOWN'],
  'try: exactly the permitted inserts were written, in the active hospital');

-- tests.freeze_time / tests.unfreeze_time
select tests.freeze_time('2031-02-03 04:05:06+00');
select is(app_hidden.now(), '2031-02-03 04:05:06+00'::timestamptz, 'freeze_time: app_hidden.now() answers the frozen instant');
select isnt(now(), '2031-02-03 04:05:06+00'::timestamptz, 'freeze_time: pg_catalog.now() keeps the real clock');
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select is(app_hidden.now(), '2031-02-03 04:05:06+00'::timestamptz, 'freeze_time: staff read the frozen clock too');
select tests.clear_authentication();
select tests.freeze_time('2032-01-01 00:00+00');
select is(app_hidden.now(), '2032-01-01 00:00+00'::timestamptz, 'freeze_time again: the clock moves to the new instant');
select tests.unfreeze_time();
select is(app_hidden.now(), now(), 'unfreeze_time: app_hidden.now() is now() again');
select is(pg_get_functiondef('app_hidden.now()'::regprocedure) ~ 'pg_catalog\.now\(\)', true,
  'unfreeze_time: the definition before the freeze is back');
-- A freeze inside a subtransaction that is rolled back is undone with it (as the test's rollback undoes any freeze).
savepoint frozen;
select tests.freeze_time('2033-01-01 00:00+00');
rollback to savepoint frozen;
select is(app_hidden.now(), now(), 'a rolled-back freeze leaves the real clock');

select * from finish();
rollback;
