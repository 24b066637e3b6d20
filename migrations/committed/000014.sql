--! Previous: sha1:1bc90caa7b9eeab42635ab730fa817fbd478cbd2
--! Hash: sha1:8000098bb73573a66929ca4ce8729618ece39084

--! split: 1-current.sql
/*
 * The audit trail's read policy is one equality on hospital_id, so that a member of staff's page
 * of the trail ("today, newest first") is the owner's plan: the (hospital_id, occurred_at desc)
 * index of one month's partition, read for the 50 rows shown. With the chain-level rows in the
 * same policy (hospital_id = mine AND audit.read OR hospital_id IS NULL AND super admin) the
 * planner cannot use that index for an OR and reads the whole day of the hospital's trail.
 *
 * The chain-level events (hospital_id null: super-admin work on hospitals and users, failed logins
 * of unknown accounts) are read through their own view, app_public.chain_audit_logs, by the super
 * admin only.
 */
alter policy select_with_permission on app_public.audit_logs
  using (hospital_id = (select app_hidden.current_hospital_id()) and (select app_hidden.has_permission('audit.read')));
comment on policy select_with_permission on app_public.audit_logs is
  'Holders of audit.read read the active hospital''s trail. Chain-level events (no hospital) are read in chain_audit_logs, by the super admin.';

/*
 * Runs with its owner's rights (the owner bypasses RLS): its WHERE is its access rule — rows of
 * no hospital, to the super admin. security_barrier keeps a caller's filters from seeing rows
 * before that rule has run (only leakproof filters, such as comparisons of occurred_at, are
 * pushed down into the scan, and so reach its index). A barrier view is planned on its own, blind
 * to the caller's ORDER BY: its own "newest first" lets a page of it (…&order=occurred_at.desc
 * &limit=50) read 50 index entries instead of sorting the period's rows.
 */
create or replace view app_public.chain_audit_logs with (security_barrier) as
  select a.id, a.occurred_at, a.user_id, a.session_id, a.action, a.table_name, a.record_id, a.old_values,
         a.new_values, a.changed_columns, a.request_id, a.client_address, a.user_agent, a.api, a.description,
         a.created_at
    from app_public.audit_logs a
   where a.hospital_id is null and (select app_hidden.is_super_admin())
   order by a.occurred_at desc;

comment on view app_public.chain_audit_logs is 'The chain-level audit trail: events that belong to no hospital (the super admin''s work on hospitals, users and chain-level roles; failed logins of unknown accounts). Readable by the super admin only; a hospital''s own trail is audit_logs.';
comment on column app_public.chain_audit_logs.id is 'Unique identifier of the audit row (audit_logs.id).';
comment on column app_public.chain_audit_logs.occurred_at is 'When the event happened; filter on it (occurred_at=gte.2026-12-01) to read one period.';
comment on column app_public.chain_audit_logs.user_id is 'User who acted; null for the system and for failed logins of an unknown account.';
comment on column app_public.chain_audit_logs.session_id is 'Login session the request belonged to.';
comment on column app_public.chain_audit_logs.action is 'insert, update, delete, soft_delete, restore, login, login_failed, logout, token_refresh, account_locked, password_changed, switch_hospital, export, print or other.';
comment on column app_public.chain_audit_logs.table_name is 'Table the event concerns, e.g. hospitals.';
comment on column app_public.chain_audit_logs.record_id is 'Id of the row concerned.';
comment on column app_public.chain_audit_logs.old_values is 'Row before the change as JSON, without secrets.';
comment on column app_public.chain_audit_logs.new_values is 'Row after the change as JSON, without secrets.';
comment on column app_public.chain_audit_logs.changed_columns is 'Columns whose value changed.';
comment on column app_public.chain_audit_logs.request_id is 'Id of the HTTP request or worker job.';
comment on column app_public.chain_audit_logs.client_address is 'Client IP address, as passed on by the reverse proxy.';
comment on column app_public.chain_audit_logs.user_agent is 'Browser or client software of the request.';
comment on column app_public.chain_audit_logs.api is 'Where the change came in: rest, graphql, worker or sql.';
comment on column app_public.chain_audit_logs.description is 'Human-readable summary of the event.';
comment on column app_public.chain_audit_logs.created_at is 'When the audit row was written.';
revoke all on app_public.chain_audit_logs from public;
grant select on app_public.chain_audit_logs to :DATABASE_STAFF;


-- The view's own index: "hospital_id IS NULL" does not make the (hospital_id, occurred_at) index
-- ordered by occurred_at for the planner (only an equality does), so the chain-level page
-- "newest first" gets a partial index of its own (small: chain-level rows are few).
create index if not exists idx_audit_logs__chain_occurred_at on app_public.audit_logs (occurred_at desc) where hospital_id is null;
