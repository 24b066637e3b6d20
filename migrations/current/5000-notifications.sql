/*
 * Notifications (tables: db/schema/app_public/tables/): templates are hospital settings; the
 * in-app inbox (notifications) has hand-written policies (one's own, or all with
 * settings.manage); the delivery queue is worker bookkeeping — readable by administrators,
 * written by nobody through the API, and not audited (claims and retries are not business changes).
 */
select app_hidden.register_table('app_public.notification_templates', 'notification template',
  write_permissions => '{settings.manage}', delete_permissions => '{settings.manage}');
select app_hidden.register_table('app_public.notifications', 'notification', policies => 'hand_written');
select app_hidden.register_table('app_public.notification_queue', 'queued notification',
  read_permissions => '{settings.manage}', write_mode => 'read_only', audited => false);
