/*
 * Users and access (tables: db/schema/app_public/tables/): chain-level tables with hand-written
 * policies (section 9200 of migration 000002: the staff directory of the active hospital, the
 * role catalogue, role assignments within one's hospital), registered with the kit for their
 * conventions, stamps, soft delete, friendly errors and audit. refresh_tokens and password_emails
 * are written only by the identity functions; refresh tokens are audited as login/refresh events
 * instead of row changes.
 */
select app_hidden.register_table('app_public.users', 'user', policies => 'hand_written', write_permissions => '{users.manage}');
select app_hidden.register_table('app_public.roles', 'role', policies => 'hand_written', write_permissions => '{roles.manage}');
select app_hidden.register_table('app_public.permissions', 'permission', policies => 'hand_written');
select app_hidden.register_table('app_public.role_permissions', 'role permission', policies => 'hand_written', write_permissions => '{roles.manage}');
select app_hidden.register_table('app_public.user_roles', 'role assignment', policies => 'hand_written', write_permissions => '{users.manage}');
select app_hidden.register_table('app_public.refresh_tokens', 'refresh token', policies => 'hand_written', audited => false);
select app_hidden.register_table('app_public.password_emails', 'password email', policies => 'hand_written');

/* Numbering formats are edited by administrators; the counters only by hms_generate_id. Not audited: every number issued is a counter update (the documents that receive numbers are audited). */
select app_hidden.register_table('app_public.id_sequences', 'id sequence',
  write_permissions => '{settings.manage}', write_mode => 'update_only',
  protected_columns => '{document_type,scope,current_period,next_value,last_issued_at}', audited => false);
