-- The generic audit trigger (db/schema/app_hidden/functions/tg__audit.sql, installed by register_table.sql): which
-- tables it covers, and the
-- audit_logs row it writes for insert, update, soft delete, restore and delete — with the request
-- context (user, session, hospital, request id, user agent, client address as the front passed it, api).
-- A request is simulated as PostgREST does it, but without switching role: a live session of
-- admin.ny@hms.test in NY, its claims in request.jwt.claims, the headers in request.headers.
begin;
select plan(34);

-- ---------------------------------------------------------------------------------------------
-- Installation
-- ---------------------------------------------------------------------------------------------
select is_definer('app_hidden', 'tg__audit', '{}'::name[], 'tg__audit is security definer (it writes through app_private)');
select is((select proconfig from pg_proc where oid = 'app_hidden.tg__audit()'::regprocedure),
  array['search_path=pg_catalog, pg_temp'], 'tg__audit pins its search_path');
select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and c.relname not in ('audit_logs', 'notification_queue', 'refresh_tokens')
           and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = '_900_audit')
         order by 1),
  '{}'::text[], 'every app_public table but the four exclusions has the _900_audit trigger');
select is(
  array(select c.relname::text from pg_class c join pg_trigger t on t.tgrelid = c.oid and t.tgname = '_900_audit'
         where c.relnamespace = 'app_public'::regnamespace
           and c.relname in ('audit_logs', 'notification_queue', 'refresh_tokens')
         order by 1),
  '{}'::text[], 'audit_logs, notification_queue and refresh_tokens are not audited (id_sequences, the numbering formats, are: issue 8 item 8)');
select is(
  array(select t.tgrelid::regclass::text from pg_trigger t
         where t.tgname = '_900_audit'
           and (t.tgtype <> (1 | 4 | 8 | 16) or t.tgfoid <> 'app_hidden.tg__audit()'::regprocedure or t.tgenabled <> 'O')
         order by 1),
  '{}'::text[], 'every _900_audit trigger is enabled and runs app_hidden.tg__audit() AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW');

-- ---------------------------------------------------------------------------------------------
-- Request context helpers
-- ---------------------------------------------------------------------------------------------
insert into app_private.sessions (id, user_id, hospital_id, expires_at)
values ('a0240000-0000-4000-8000-0000000000e1', '20000000-0000-4000-8000-000000000002',
        '10000000-0000-4000-8000-000000000001', now() + interval '1 hour');

create function pg_temp.as_request(p_headers text) returns void
language sql
as $$
  select set_config('request.jwt.claims',
           json_build_object('role', 'hms_staff', 'sub', '20000000-0000-4000-8000-000000000002',
                             'sid', 'a0240000-0000-4000-8000-0000000000e1',
                             'hid', '10000000-0000-4000-8000-000000000001', 'aud', 'hms')::text, true),
         set_config('request.method', 'PATCH', true),
         set_config('request.headers', p_headers, true);
$$;

create function pg_temp.as_owner() returns void
language sql
as $$
  select set_config('request.jwt.claims', '', true),
         set_config('request.method', '', true),
         set_config('request.headers', '', true);
$$;

-- ---------------------------------------------------------------------------------------------
-- Insert, update, soft delete, restore, delete of a patient (tenant table)
-- ---------------------------------------------------------------------------------------------
select pg_temp.as_request('{"user-agent":"x","x-forwarded-for":"198.51.100.1","x-hms-client-address":"203.0.113.7","x-request-id":"r1"}');

insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender, phone_primary)
values ('a0240000-0000-4000-8000-000000000101', '10000000-0000-4000-8000-000000000001', 'AUD-0101',
        'Ada', 'Audit', date '1970-01-01', 'female', '+1 212 555 0100');

select results_eq(
  $$select action, table_name, record_id, hospital_id, user_id, session_id, old_values is null, changed_columns,
           request_id, host(client_address), user_agent, api
      from app_public.audit_logs
     where table_name = 'patients' and record_id = 'a0240000-0000-4000-8000-000000000101'$$,
  $$values ('insert', 'patients', 'a0240000-0000-4000-8000-000000000101'::uuid, '10000000-0000-4000-8000-000000000001'::uuid,
            '20000000-0000-4000-8000-000000000002'::uuid, 'a0240000-0000-4000-8000-0000000000e1'::uuid, true, null::text[],
            'r1', '203.0.113.7', 'x', 'rest')$$,
  'an insert writes one audit row: table, record, hospital, user, session, no old values, and the request headers (the front''s X-HMS-Client-Address, not X-Forwarded-For)');
select is(
  (select new_values from app_public.audit_logs
    where table_name = 'patients' and record_id = 'a0240000-0000-4000-8000-000000000101' and action = 'insert'),
  (select to_jsonb(p) from app_public.patients p where p.id = 'a0240000-0000-4000-8000-000000000101'),
  'the insert''s new_values is the whole row as JSON');

update app_public.patients set phone_primary = '+1 212 555 0199', notes = 'Prefers mornings'
 where id = 'a0240000-0000-4000-8000-000000000101';

select results_eq(
  $$select changed_columns, old_values ->> 'phone_primary', new_values ->> 'phone_primary',
           old_values ->> 'notes', new_values ->> 'notes', user_id, hospital_id
      from app_public.audit_logs
     where table_name = 'patients' and record_id = 'a0240000-0000-4000-8000-000000000101' and action = 'update'$$,
  $$values ('{phone_primary,notes}'::text[], '+1 212 555 0100'::text, '+1 212 555 0199'::text, null::text, 'Prefers mornings'::text,
            '20000000-0000-4000-8000-000000000002'::uuid, '10000000-0000-4000-8000-000000000001'::uuid)$$,
  'an update is audited with the changed columns in column order (not the stamps) and their old and new values');

-- A no-op update (same values) writes nothing.
update app_public.patients set notes = notes, phone_primary = phone_primary where id = 'a0240000-0000-4000-8000-000000000101';
select is((select count(*)::int from app_public.audit_logs where record_id = 'a0240000-0000-4000-8000-000000000101'), 2,
  'an update that changes no value writes no audit row');

-- A demo patient written in an earlier transaction: the update changes only updated_at/updated_by.
update app_public.patients set first_name = first_name where id = 'd1000000-0000-4000-8000-000000000011';
select ok(
  (select updated_at = now() and updated_by = '20000000-0000-4000-8000-000000000002'
     from app_public.patients where id = 'd1000000-0000-4000-8000-000000000011'),
  'the stamps of the demo patient did change (updated_at, updated_by)');
select is((select count(*)::int from app_public.audit_logs
            where record_id = 'd1000000-0000-4000-8000-000000000011' and action <> 'insert'), 0,
  'an update that changes nothing but updated_at/updated_by writes no audit row');

update app_public.patients set is_deleted = true where id = 'a0240000-0000-4000-8000-000000000101';
select results_eq(
  $$select changed_columns, old_values -> 'is_deleted', new_values -> 'is_deleted',
           old_values -> 'deleted_at' = 'null'::jsonb, new_values ->> 'deleted_at' is not null
      from app_public.audit_logs
     where record_id = 'a0240000-0000-4000-8000-000000000101' and action = 'soft_delete'$$,
  $$values ('{is_deleted,deleted_at}'::text[], 'false'::jsonb, 'true'::jsonb, true, true)$$,
  'is_deleted false → true is audited as soft_delete, with is_deleted and deleted_at as changed columns');

update app_public.patients set is_deleted = false where id = 'a0240000-0000-4000-8000-000000000101';
select results_eq(
  $$select changed_columns, old_values -> 'is_deleted', new_values -> 'is_deleted', new_values -> 'deleted_at'
      from app_public.audit_logs
     where record_id = 'a0240000-0000-4000-8000-000000000101' and action = 'restore'$$,
  $$values ('{is_deleted,deleted_at}'::text[], 'true'::jsonb, 'false'::jsonb, 'null'::jsonb)$$,
  'is_deleted true → false is audited as restore');

-- A malformed client address never blocks the write it describes.
select pg_temp.as_request('{"user-agent":"y","x-hms-client-address":"unknown"}');
select lives_ok(
  $$update app_public.patients set notes = 'Evenings now' where id = 'a0240000-0000-4000-8000-000000000101'$$,
  'an update with a malformed X-HMS-Client-Address header succeeds');
select results_eq(
  $$select client_address, user_agent, request_id, changed_columns
      from app_public.audit_logs
     where record_id = 'a0240000-0000-4000-8000-000000000101' and action = 'update' and new_values ->> 'notes' = 'Evenings now'$$,
  $$values (null::inet, 'y'::text, null::text, '{notes}'::text[])$$,
  '… and is audited without a client address');

-- The owner outside a request: a real delete, audited without user or session.
select pg_temp.as_owner();
delete from app_public.patients where id = 'a0240000-0000-4000-8000-000000000101';
select results_eq(
  $$select hospital_id, user_id, session_id, new_values is null, old_values ->> 'mrn', old_values ->> 'notes', changed_columns, api
      from app_public.audit_logs
     where record_id = 'a0240000-0000-4000-8000-000000000101' and action = 'delete'$$,
  $$values ('10000000-0000-4000-8000-000000000001'::uuid, null::uuid, null::uuid, true, 'AUD-0101'::text, 'Evenings now'::text,
            null::text[], 'sql'::text)$$,
  'a delete is audited with the old row, no new values, and no user or session outside a request');
select results_eq(
  $$select action, count(*)::int from app_public.audit_logs
     where table_name = 'patients' and record_id = 'a0240000-0000-4000-8000-000000000101' group by action order by action$$,
  $$values ('delete', 1), ('insert', 1), ('restore', 1), ('soft_delete', 1), ('update', 2)$$,
  'the patient''s history: one row per real change');

-- ---------------------------------------------------------------------------------------------
-- Chain-level tables and hospitals
-- ---------------------------------------------------------------------------------------------
insert into app_public.users (id, email, first_name, last_name)
values ('a0240000-0000-4000-8000-000000000201', 'audit.probe@hms.test', 'Audrey', 'Probe');
select results_eq(
  $$select action, hospital_id, user_id from app_public.audit_logs
     where table_name = 'users' and record_id = 'a0240000-0000-4000-8000-000000000201'$$,
  $$values ('insert', null::uuid, null::uuid)$$,
  'a chain-level row (users) written outside a request has no hospital');

select pg_temp.as_request('{}');
update app_public.users set job_title = 'Auditor' where id = 'a0240000-0000-4000-8000-000000000201';
select results_eq(
  $$select hospital_id, user_id, changed_columns from app_public.audit_logs
     where table_name = 'users' and record_id = 'a0240000-0000-4000-8000-000000000201' and action = 'update'$$,
  $$values ('10000000-0000-4000-8000-000000000001'::uuid, '20000000-0000-4000-8000-000000000002'::uuid, '{job_title}'::text[])$$,
  'a chain-level row changed in a request is filed under the session''s hospital');
select pg_temp.as_owner();

insert into app_public.hospitals (id, code, name) values ('a0240000-0000-4000-8000-000000000001', 'ZAT', 'Audit Trigger Hospital');
select results_eq(
  $$select table_name, action, hospital_id from app_public.audit_logs
     where hospital_id = 'a0240000-0000-4000-8000-000000000001' and table_name <> 'id_sequences' order by table_name$$,
  $$values ('hospital_settings', 'insert', 'a0240000-0000-4000-8000-000000000001'::uuid),
           ('hospitals', 'insert', 'a0240000-0000-4000-8000-000000000001'::uuid)$$,
  'a new hospital is audited under itself, and so is its provisioned settings row (its id_sequences too, counted below)');
select is(
  (select record_id from app_public.audit_logs where table_name = 'hospitals' and hospital_id = 'a0240000-0000-4000-8000-000000000001'),
  'a0240000-0000-4000-8000-000000000001'::uuid, 'the hospital row is its own record_id');

select ok(app_hidden.hms_generate_id('a0240000-0000-4000-8000-000000000001', 'invoice') is not null, 'a number is issued');
select ok((select count(*)::int from app_public.audit_logs where table_name = 'id_sequences' and action = 'update') > 0,
  'issuing numbers (id_sequences updates) is audited like every configuration change');

select throws_ok($$delete from app_public.hospitals where id = 'a0240000-0000-4000-8000-000000000001'$$, '23503', null,
  'a hospital with an audit history cannot be hard-deleted (audit_logs.hospital_id restricts)');

-- The documented DBA purge: with the append-only trigger disabled for the purge only.
delete from app_public.id_sequences where hospital_id = 'a0240000-0000-4000-8000-000000000001';
alter table app_public.audit_logs disable trigger _000_append_only;
delete from app_public.audit_logs where hospital_id = 'a0240000-0000-4000-8000-000000000001';
alter table app_public.audit_logs enable trigger _000_append_only;
select lives_ok($$delete from app_public.hospitals where id = 'a0240000-0000-4000-8000-000000000001'$$,
  'once a DBA purged its history, the owner can hard-delete the hospital');
select results_eq(
  $$select table_name, action, hospital_id, old_values ->> 'hospital_id' from app_public.audit_logs
     where action = 'delete' and table_name in ('hospitals', 'hospital_settings')
       and (record_id = 'a0240000-0000-4000-8000-000000000001' or old_values ->> 'hospital_id' = 'a0240000-0000-4000-8000-000000000001')
     order by table_name$$,
  $$values ('hospital_settings', 'delete', null::uuid, 'a0240000-0000-4000-8000-000000000001'),
           ('hospitals', 'delete', null::uuid, null)$$,
  '… and that delete (with its cascade to hospital_settings) is audited as chain-level events');

-- ---------------------------------------------------------------------------------------------
-- A new table: one call covers it; secrets never reach the trail
-- ---------------------------------------------------------------------------------------------
create table app_public.zz_audit_probe (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid,
  note text,
  api_secret text,
  password_hash text,
  refresh_token_hash text,
  must_change_password boolean not null default false
);
select lives_ok($$select app_hidden.register_table('app_public.zz_audit_probe', 'audit probe', policies => 'hand_written')$$,
  'register_table installs the audit trigger on a new table');
select lives_ok($$select app_hidden.register_table('app_public.zz_audit_probe', 'audit probe', policies => 'hand_written')$$,
  'registering again changes nothing');
select is((select count(*)::int from pg_trigger where tgrelid = 'app_public.zz_audit_probe'::regclass and tgname = '_900_audit'), 1,
  'the table has exactly one _900_audit trigger');

insert into app_public.zz_audit_probe (id, hospital_id, note, api_secret, password_hash, refresh_token_hash)
values ('a0240000-0000-4000-8000-000000000301', '10000000-0000-4000-8000-000000000001', 'hello', 's3cr3t', '$2a$hash', '\x00ff');
select results_eq(
  $$select hospital_id, new_values ?| array['api_secret', 'password_hash', 'refresh_token_hash'],
           new_values ->> 'note', new_values -> 'must_change_password'
      from app_public.audit_logs where table_name = 'zz_audit_probe' and action = 'insert'$$,
  $$values ('10000000-0000-4000-8000-000000000001'::uuid, false, 'hello'::text, 'false'::jsonb)$$,
  'secret columns (password, secret, token_hash) are removed from new_values; boolean flags are kept');

update app_public.zz_audit_probe set password_hash = '$2a$other', api_secret = 'n3w' where id = 'a0240000-0000-4000-8000-000000000301';
select results_eq(
  $$select changed_columns, old_values ?| array['api_secret', 'password_hash'], new_values ?| array['api_secret', 'password_hash']
      from app_public.audit_logs where table_name = 'zz_audit_probe' and action = 'update'$$,
  $$values ('{api_secret,password_hash}'::text[], false, false)$$,
  'a change of secrets is recorded by column name only, never by value');
select unalike(
  (select string_agg(old_values::text || new_values::text, ' ') from app_public.audit_logs where table_name = 'zz_audit_probe'),
  '%s3cr3t%', 'no secret value appears anywhere in the trail');

select throws_ok($$select app_hidden.register_table('app_public.audit_logs', 'audit log entry', policies => 'hand_written', append_only => true)$$,
  'P0001', 'register_table: app_public.audit_logs cannot audit itself (audited => false)',
  'register_table refuses to audit the audit trail itself');

select ok(
  (select count(*) from app_public.audit_logs where table_name = 'zz_audit_probe') = 2
  and not exists (select 1 from app_public.audit_logs where table_name = 'audit_logs'),
  'writing the trail does not audit itself');

select * from finish();
rollback;
