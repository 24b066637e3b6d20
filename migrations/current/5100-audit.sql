/*
 * The audit trail (table: db/schema/app_public/tables/audit_logs.sql) is append-only history for
 * everyone, the owner included (the kit's _000_append_only triggers), written only by
 * app_private.write_audit_log; its read policy is hand-written (audit.read within the hospital,
 * chain-level events for the super admin). A retention purge is a deliberate, visible DBA step:
 * in one transaction as the owner, `alter table app_public.audit_logs disable trigger
 * _000_append_only`, delete the old rows, `enable trigger` again (or drop an old monthly partition).
 */
select app_hidden.register_table('app_public.audit_logs', 'audit log entry', policies => 'hand_written',
  audited => false, append_only => true);
