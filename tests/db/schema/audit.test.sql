-- Structure and key rules of audit_logs (db/schema/app_public/tables/audit_logs.sql): append-only,
-- hospital_id nullable.
begin;
select plan(21);

select has_table('app_public', 'audit_logs', 'audit_logs exists');
select col_is_null('app_public', 'audit_logs', 'hospital_id', 'audit_logs.hospital_id is nullable (chain-level events)');
select col_not_null('app_public', 'audit_logs', 'occurred_at', 'audit_logs.occurred_at is not null');
select col_not_null('app_public', 'audit_logs', 'action', 'audit_logs.action is not null');
select col_type_is('app_public', 'audit_logs', 'client_address', 'inet', 'audit_logs.client_address is inet');
select col_type_is('app_public', 'audit_logs', 'changed_columns', 'text[]', 'audit_logs.changed_columns is text[]');
select col_type_is('app_public', 'audit_logs', 'old_values', 'jsonb', 'audit_logs.old_values is jsonb');
select hasnt_column('app_public', 'audit_logs', 'updated_at', 'audit_logs has no updated_at (immutable)');

select fk_ok('app_public', 'audit_logs', array['hospital_id'], 'app_public', 'hospitals', array['id'], 'audit_logs.hospital_id references hospitals');
select fk_ok('app_public', 'audit_logs', array['user_id'], 'app_public', 'users', array['id'], 'audit_logs.user_id references users');

select has_index('app_public', 'audit_logs', 'idx_audit_logs__hospital_id_occurred_at', 'hospital timeline index');
select has_index('app_public', 'audit_logs', 'idx_audit_logs__hospital_id_table_name_record_id', 'record history index');
select has_index('app_public', 'audit_logs', 'idx_audit_logs__user_id_occurred_at', 'user activity index');
select has_index('app_public', 'audit_logs', 'idx_audit_logs__action_occurred_at', 'security events index');
select hasnt_trigger('app_public', 'audit_logs', '_100_stamp', 'audit_logs has no stamp trigger');

insert into app_public.hospitals (id, code, name) values ('51000000-0000-4000-8000-000000000001', 'ZAU', 'Audit Test Hospital');

select lives_ok($$
  insert into app_public.audit_logs (action, client_address, user_agent, api, description)
  values ('login_failed', '203.0.113.7', 'curl/8', 'rest', 'Login failed: unknown account')
$$, 'a chain-level event without hospital or user is accepted');

select lives_ok($$
  insert into app_public.audit_logs (hospital_id, action, table_name, record_id, old_values, new_values, changed_columns, api)
  values ('51000000-0000-4000-8000-000000000001', 'update', 'invoices', '51000000-0000-4000-8000-000000000009',
          '{"status": "draft"}', '{"status": "issued"}', '{status}', 'rest')
$$, 'a data change with its record is accepted');

select throws_ok($$
  insert into app_public.audit_logs (hospital_id, action) values ('51000000-0000-4000-8000-000000000001', 'hacked')
$$, '23514', null, 'action must be one of the listed values');

select throws_ok($$
  insert into app_public.audit_logs (hospital_id, action, table_name) values ('51000000-0000-4000-8000-000000000001', 'update', 'invoices')
$$, '23514', null, 'a data change must name its record');

select throws_ok($$
  insert into app_public.audit_logs (hospital_id, action, table_name, record_id, old_values)
  values ('51000000-0000-4000-8000-000000000001', 'delete', 'invoices', '51000000-0000-4000-8000-000000000009', '[1, 2]')
$$, '23514', null, 'old_values must be a JSON object');

select throws_ok($$
  insert into app_public.audit_logs (hospital_id, action) values ('51000000-0000-4000-8000-0000000000ff', 'export')
$$, '23503', null, 'hospital_id must name an existing hospital');

select * from finish();
rollback;
