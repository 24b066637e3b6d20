-- audit_logs is append-only for everyone, the owner included (db/schema/app_public/tables/audit_logs.sql,
-- db/schema/app_hidden/functions/tg__append_only.sql):
-- UPDATE, DELETE and TRUNCATE are refused with HMS_APPEND_ONLY (403); the API roles have no
-- write privilege at all; app_private.write_audit_log still appends.
begin;
select plan(17);

select has_trigger('app_public', 'audit_logs', '_000_append_only', 'audit_logs has the append-only row trigger');
select has_trigger('app_public', 'audit_logs', '_000_append_only_truncate', 'audit_logs has the append-only truncate trigger');
select ok(
  (select t.tgtype = (1 | 2 | 8 | 16) and t.tgenabled = 'O' from pg_trigger t
    where t.tgrelid = 'app_public.audit_logs'::regclass and t.tgname = '_000_append_only'),
  '_000_append_only runs BEFORE UPDATE OR DELETE FOR EACH ROW and is enabled');
select ok(
  (select t.tgtype = (2 | 32) and t.tgenabled = 'O' from pg_trigger t
    where t.tgrelid = 'app_public.audit_logs'::regclass and t.tgname = '_000_append_only_truncate'),
  '_000_append_only_truncate runs BEFORE TRUNCATE FOR EACH STATEMENT and is enabled');

-- The one writer appends.
select lives_ok(
  $$select app_private.write_audit_log('other', p_hospital_id => '10000000-0000-4000-8000-000000000001',
                                        p_description => 'append-only test entry')$$,
  'app_private.write_audit_log appends an entry');
select is((select count(*)::int from app_public.audit_logs where description = 'append-only test entry'), 1, '… exactly one');

-- The owner (this file's role) can neither change nor remove an entry.
select throws_ok(
  $$update app_public.audit_logs set description = 'rewritten' where description = 'append-only test entry'$$,
  'PGRST', null, 'the owner cannot update an audit entry');
select throws_matching(
  $$update app_public.audit_logs set description = 'rewritten' where description = 'append-only test entry'$$,
  'HMS_APPEND_ONLY', '… and the error is HMS_APPEND_ONLY');
select throws_ok(
  $$delete from app_public.audit_logs where description = 'append-only test entry'$$,
  'PGRST', null, 'the owner cannot delete an audit entry');
select throws_matching(
  $$delete from app_public.audit_logs$$,
  'HMS_APPEND_ONLY', 'the owner cannot empty the trail with DELETE');
select throws_matching(
  $$truncate app_public.audit_logs$$,
  'HMS_APPEND_ONLY', 'the owner cannot truncate the trail');

-- The HTTP status PostgREST answers comes from the error detail.
select is(tests.try($$delete from app_public.audit_logs where description = 'append-only test entry'$$, true), 'HMS_APPEND_ONLY/403',
  'the refusal is HTTP 403');

select is((select count(*)::int from app_public.audit_logs where description = 'append-only test entry'), 1,
  'the entry is still there, unchanged');

-- API roles: no write privilege whatsoever (staff read it with audit.read).
select ok(
  not has_table_privilege('hms_staff', 'app_public.audit_logs', 'insert')
  and not has_table_privilege('hms_staff', 'app_public.audit_logs', 'update')
  and not has_table_privilege('hms_staff', 'app_public.audit_logs', 'delete')
  and not has_table_privilege('hms_staff', 'app_public.audit_logs', 'truncate'),
  'hms_staff has no insert, update, delete or truncate privilege on audit_logs');
select ok(
  not has_table_privilege('hms_anonymous', 'app_public.audit_logs', 'insert')
  and not has_table_privilege('hms_anonymous', 'app_public.audit_logs', 'update')
  and not has_table_privilege('hms_anonymous', 'app_public.audit_logs', 'delete')
  and not has_table_privilege('hms_anonymous', 'app_public.audit_logs', 'truncate'),
  'hms_anonymous has no insert, update, delete or truncate privilege on audit_logs');

select tests.authenticate_as('admin.ny@hms.test', 'NY');
select throws_ok($$delete from app_public.audit_logs$$, '42501', null, 'a hospital admin cannot delete audit entries through the API');
select throws_ok(
  $$insert into app_public.audit_logs (hospital_id, action, description) values ('10000000-0000-4000-8000-000000000001', 'other', 'forged')$$,
  '42501', null, 'a hospital admin cannot forge an audit entry through the API');
select tests.clear_authentication();

select * from finish();
rollback;
