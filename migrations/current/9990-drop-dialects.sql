/*
 * What the kit replaced, removed once every module is on it (the sections above):
 *   - the per-concern installers enable_audit / disable_audit / enable_soft_delete and the lists
 *     id_sequence_defaults / is_document_type / never_client_writable: register_table and the
 *     document-type registry;
 *   - the audit trail's own append-only trigger: app_hidden.tg__append_only.
 * tests/db/kit.test.sql fails on any helper nothing uses and on any module-named gate, lock,
 * transition check, mark or append-only trigger.
 */
drop function if exists app_hidden.enable_audit(regclass);
drop function if exists app_hidden.disable_audit(regclass);
drop function if exists app_hidden.enable_soft_delete(regclass);
drop function if exists app_hidden.never_client_writable();
drop function if exists app_hidden.is_document_type(text);
drop function if exists app_hidden.id_sequence_defaults();
drop function if exists app_hidden.tg_audit_logs__append_only();
