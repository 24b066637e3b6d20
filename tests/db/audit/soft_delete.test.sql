-- Soft delete (db/schema/app_hidden/functions/tg__soft_delete.sql, enable_soft_delete.sql): a
-- DELETE by a logged-in member of staff
-- keeps the row (is_deleted = true, deleted_at set, audited as soft_delete); a DELETE without a
-- request user (the owner, maintenance) really deletes.
begin;
select plan(25);

-- ---------------------------------------------------------------------------------------------
-- Installation
-- ---------------------------------------------------------------------------------------------
select is_definer('app_hidden', 'tg__soft_delete', '{}'::name[], 'tg__soft_delete is security definer');
select is((select proconfig from pg_proc where oid = 'app_hidden.tg__soft_delete()'::regprocedure),
  array['search_path=pg_catalog, pg_temp'], 'tg__soft_delete pins its search_path');
select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'is_deleted' and not a.attisdropped)
           and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = '_050_soft_delete')
         order by 1),
  '{}'::text[], 'every table with is_deleted has the _050_soft_delete trigger');
select is(
  array(select c.relname::text from pg_class c join pg_trigger t on t.tgrelid = c.oid and t.tgname = '_050_soft_delete'
         where c.relnamespace = 'app_public'::regnamespace
           and not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'is_deleted' and not a.attisdropped)
         order by 1),
  '{}'::text[], 'no table without is_deleted has it');
select is(
  array(select t.tgrelid::regclass::text from pg_trigger t
         where t.tgname = '_050_soft_delete'
           and (t.tgtype <> (1 | 2 | 8) or t.tgfoid <> 'app_hidden.tg__soft_delete()'::regprocedure or t.tgenabled <> 'O')
         order by 1),
  '{}'::text[], 'every _050_soft_delete trigger is enabled and runs app_hidden.tg__soft_delete() BEFORE DELETE FOR EACH ROW');

-- ---------------------------------------------------------------------------------------------
-- Fixtures: four NY patients, one tax rule (no is_deleted), written by the owner.
-- ---------------------------------------------------------------------------------------------
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender)
select ('a0250000-0000-4000-8000-00000000010' || n)::uuid, '10000000-0000-4000-8000-000000000001', 'SD-010' || n,
       'Sofia', 'Delete' || n, date '1980-01-01', 'female'
  from generate_series(1, 4) n;
insert into app_public.tax_configurations (id, hospital_id, code, name, rate_percent)
values ('a0250000-0000-4000-8000-000000000201', '10000000-0000-4000-8000-000000000001', 'SD_TEST', 'Soft delete test rule', 1);

-- ---------------------------------------------------------------------------------------------
-- A request, simulated as the owner (claims of a live session, no role switch)
-- ---------------------------------------------------------------------------------------------
insert into app_private.sessions (id, user_id, hospital_id, expires_at)
values ('a0250000-0000-4000-8000-0000000000e1', '20000000-0000-4000-8000-000000000002',
        '10000000-0000-4000-8000-000000000001', now() + interval '1 hour');
select set_config('request.jwt.claims',
  json_build_object('role', 'hms_staff', 'sub', '20000000-0000-4000-8000-000000000002',
                    'sid', 'a0250000-0000-4000-8000-0000000000e1', 'hid', '10000000-0000-4000-8000-000000000001', 'aud', 'hms')::text,
  true);

with d as (delete from app_public.patients where id = 'a0250000-0000-4000-8000-000000000101' returning id)
select is((select count(*)::int from d), 0,
  'a DELETE in a request reports no deleted row (PostgREST: [] with return=representation)');
select results_eq(
  $$select is_deleted, deleted_at = now(), updated_by from app_public.patients where id = 'a0250000-0000-4000-8000-000000000101'$$,
  $$values (true, true, '20000000-0000-4000-8000-000000000002'::uuid)$$,
  '… the row stays, soft-deleted now, by the user of the request');
select results_eq(
  $$select action, user_id, session_id, changed_columns from app_public.audit_logs
     where table_name = 'patients' and record_id = 'a0250000-0000-4000-8000-000000000101' and action <> 'insert'$$,
  $$values ('soft_delete', '20000000-0000-4000-8000-000000000002'::uuid, 'a0250000-0000-4000-8000-0000000000e1'::uuid,
            '{is_deleted,deleted_at}'::text[])$$,
  '… and it is audited once, as soft_delete, with the user and session');

select lives_ok($$delete from app_public.patients where id = 'a0250000-0000-4000-8000-000000000101'$$,
  'deleting a soft-deleted row again succeeds');
select is((select count(*)::int from app_public.audit_logs
            where record_id = 'a0250000-0000-4000-8000-000000000101' and action <> 'insert'), 1,
  '… and changes nothing (no second audit row)');

delete from app_public.tax_configurations where id = 'a0250000-0000-4000-8000-000000000201';
select is((select count(*)::int from app_public.tax_configurations where id = 'a0250000-0000-4000-8000-000000000201'), 0,
  'a row of a table without is_deleted is really deleted, even in a request');
select results_eq(
  $$select action, user_id, old_values ->> 'code' from app_public.audit_logs
     where table_name = 'tax_configurations' and record_id = 'a0250000-0000-4000-8000-000000000201' and action <> 'insert'$$,
  $$values ('delete', '20000000-0000-4000-8000-000000000002'::uuid, 'SD_TEST')$$,
  '… audited as delete');

-- ---------------------------------------------------------------------------------------------
-- The owner outside a request (DBA, maintenance): a real delete
-- ---------------------------------------------------------------------------------------------
select set_config('request.jwt.claims', '', true);
delete from app_public.patients where id = 'a0250000-0000-4000-8000-000000000102';
select is((select count(*)::int from app_public.patients where id = 'a0250000-0000-4000-8000-000000000102'), 0,
  'a delete without a request user really deletes the row');
select results_eq(
  $$select action, user_id, new_values is null from app_public.audit_logs
     where record_id = 'a0250000-0000-4000-8000-000000000102' and action <> 'insert'$$,
  $$values ('delete', null::uuid, true)$$,
  '… audited as delete, without a user');

-- Restoring (owner or an RPC) is an update back to is_deleted = false.
update app_public.patients set is_deleted = false where id = 'a0250000-0000-4000-8000-000000000101';
select results_eq(
  $$select is_deleted, deleted_at from app_public.patients where id = 'a0250000-0000-4000-8000-000000000101'$$,
  $$values (false, null::timestamptz)$$,
  'a restore clears is_deleted and deleted_at');
select is((select count(*)::int from app_public.audit_logs
            where record_id = 'a0250000-0000-4000-8000-000000000101' and action = 'restore'), 1,
  '… and is audited as restore');

-- ---------------------------------------------------------------------------------------------
-- Through the API role: staff with the permission (the grants and policies in db/schema/app_public/tables/patients.sql)
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('admin.ny@hms.test', 'NY');
select lives_ok($$delete from app_public.patients where id = 'a0250000-0000-4000-8000-000000000103'$$,
  'a hospital admin (patients.delete) deletes a patient through the API role');
select tests.clear_authentication();
select results_eq(
  $$select is_deleted, deleted_at is not null, updated_by from app_public.patients where id = 'a0250000-0000-4000-8000-000000000103'$$,
  $$values (true, true, '20000000-0000-4000-8000-000000000002'::uuid)$$,
  '… the row stays with is_deleted = true and deleted_at set');
select results_eq(
  $$select action, user_id, hospital_id, changed_columns from app_public.audit_logs
     where record_id = 'a0250000-0000-4000-8000-000000000103' and action <> 'insert'$$,
  $$values ('soft_delete', '20000000-0000-4000-8000-000000000002'::uuid, '10000000-0000-4000-8000-000000000001'::uuid,
            '{is_deleted,deleted_at}'::text[])$$,
  '… audited as soft_delete by the admin');

select tests.authenticate_as('admin.ny@hms.test', 'NY');
select is(
  (select count(*)::int from app_public.patients where id = 'a0250000-0000-4000-8000-000000000103' and is_deleted),
  1, 'the admin (audit.read) still sees the soft-deleted patient');
select tests.clear_authentication();

-- Staff without patients.delete: refused (403 HMS_FORBIDDEN) before any row is looked at.
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select is(tests.try($$delete from app_public.patients where id = 'a0250000-0000-4000-8000-000000000104'$$), 'HMS_FORBIDDEN',
  'a doctor''s delete of a patient is refused: HMS_FORBIDDEN');
select tests.clear_authentication();
select results_eq(
  $$select is_deleted from app_public.patients where id = 'a0250000-0000-4000-8000-000000000104'$$,
  $$values (false)$$,
  '… but touches nothing: doctors do not hold patients.delete');
select is((select count(*)::int from app_public.audit_logs
            where record_id = 'a0250000-0000-4000-8000-000000000104' and action <> 'insert'), 0,
  '… and writes no audit row');

-- Another hospital's admin cannot reach the row at all.
select tests.authenticate_as('admin.la@hms.test', 'LA');
select lives_ok($$delete from app_public.patients where id = 'a0250000-0000-4000-8000-000000000104'$$,
  'the LA admin''s delete of an NY patient is accepted by the database');
select tests.clear_authentication();
select results_eq(
  $$select is_deleted from app_public.patients where id = 'a0250000-0000-4000-8000-000000000104'$$,
  $$values (false)$$,
  '… but touches nothing (tenant isolation)');

select * from finish();
rollback;
