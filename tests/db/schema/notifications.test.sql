-- Structure and key rules of notification_templates, notifications, notification_queue
-- (db/schema/app_public/tables/<table>.sql).
begin;
select plan(27);

select has_table('app_public', 'notification_templates', 'notification_templates exists');
select has_table('app_public', 'notifications', 'notifications exists');
select has_table('app_public', 'notification_queue', 'notification_queue exists');

select col_type_is('app_public', 'notification_templates', 'variables', 'text[]', 'notification_templates.variables is text[]');
select col_not_null('app_public', 'notification_templates', 'channel', 'notification_templates.channel is not null');
select col_type_is('app_public', 'notifications', 'data', 'jsonb', 'notifications.data is jsonb');
select col_type_is('app_public', 'notifications', 'scheduled_for', 'timestamp with time zone', 'notifications.scheduled_for is timestamptz');
select col_not_null('app_public', 'notifications', 'recipient_type', 'notifications.recipient_type is not null');
select col_type_is('app_public', 'notification_queue', 'attempts', 'smallint', 'notification_queue.attempts is smallint');
select col_default_is('app_public', 'notification_queue', 'max_attempts', '5', 'notification_queue.max_attempts defaults to 5');

select fk_ok('app_public', 'notification_templates', array['hospital_id'], 'app_public', 'hospitals', array['id'],
  'notification_templates belong to a hospital');
select fk_ok('app_public', 'notifications', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'notifications.patient_id is a composite tenant FK');
select fk_ok('app_public', 'notifications', array['hospital_id', 'template_id'], 'app_public', 'notification_templates', array['hospital_id', 'id'],
  'notifications.template_id is a composite tenant FK');
select fk_ok('app_public', 'notifications', array['user_id'], 'app_public', 'users', array['id'],
  'notifications.user_id references users');
select fk_ok('app_public', 'notification_queue', array['hospital_id', 'notification_id'], 'app_public', 'notifications', array['hospital_id', 'id'],
  'notification_queue.notification_id is a composite tenant FK');

select has_index('app_public', 'notifications', 'idx_notifications__user_id_hospital_id_status_created_at', 'user inbox index');
select has_index('app_public', 'notifications', 'idx_notifications__hospital_id_patient_id_created_at', 'patient notifications index');
select has_index('app_public', 'notifications', 'idx_notifications__scheduled_for_hospital_id', 'scheduled pending index');
select has_index('app_public', 'notification_queue', 'idx_notification_queue__status_next_attempt_at_hospital_id', 'worker claim index');

-- Parent rows.
insert into app_public.hospitals (id, code, name) values ('50000000-0000-4000-8000-000000000001', 'ZNT', 'Notification Test Hospital');
insert into app_public.users (id, email, first_name, last_name)
  values ('50000000-0000-4000-8000-000000000002', 'notification-test@example.test', 'Nora', 'Tester');
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender)
  values ('50000000-0000-4000-8000-000000000003', '50000000-0000-4000-8000-000000000001', 'ZNT-TEST-1', 'Pat', 'Ient', '1980-05-01', 'female');

select throws_ok($$
  insert into app_public.notification_templates (hospital_id, code, name, channel, category, body)
  values ('50000000-0000-4000-8000-000000000001', 'appointment_reminder', 'Reminder (email)', 'email', 'appointment', 'See you {{date}}')
$$, '23514', null, 'an email template needs a subject');

select lives_ok($$
  insert into app_public.notification_templates (id, hospital_id, code, name, channel, category, subject, body, variables)
  values ('50000000-0000-4000-8000-000000000010', '50000000-0000-4000-8000-000000000001', 'appointment_reminder', 'Reminder (email)',
          'email', 'appointment', 'Your appointment on {{date}}', 'See you on {{date}}', '{date}')
$$, 'a complete email template is accepted');

select throws_ok($$
  insert into app_public.notification_templates (hospital_id, code, name, channel, category, subject, body)
  values ('50000000-0000-4000-8000-000000000001', 'appointment_reminder', 'Duplicate', 'email', 'appointment', 'S', 'B')
$$, '23505', null, 'one template per hospital, code, channel and locale');

select throws_ok($$
  insert into app_public.notifications (hospital_id, recipient_type, user_id, channel, category, title, body)
  values ('50000000-0000-4000-8000-000000000001', 'patient', '50000000-0000-4000-8000-000000000002', 'sms', 'appointment', 'T', 'B')
$$, '23514', null, 'a patient notification must name a patient and no user');

select lives_ok($$
  insert into app_public.notifications (id, hospital_id, recipient_type, patient_id, template_id, channel, category, title, body, data)
  values ('50000000-0000-4000-8000-000000000020', '50000000-0000-4000-8000-000000000001', 'patient', '50000000-0000-4000-8000-000000000003',
          '50000000-0000-4000-8000-000000000010', 'email', 'appointment', 'Your appointment', 'See you', '{"appointment_id": null}');
  insert into app_public.notification_queue (id, hospital_id, notification_id, channel, recipient_address, provider)
  values ('50000000-0000-4000-8000-000000000030', '50000000-0000-4000-8000-000000000001', '50000000-0000-4000-8000-000000000020',
          'email', 'pat@example.test', 'smtp')
$$, 'a patient notification and its delivery are accepted');

select throws_ok($$
  insert into app_public.notification_queue (hospital_id, notification_id, channel, recipient_address, attempts, max_attempts)
  values ('50000000-0000-4000-8000-000000000001', '50000000-0000-4000-8000-000000000020', 'email', 'pat@example.test', 6, 5)
$$, '23514', null, 'attempts cannot exceed max_attempts');

select throws_ok($$
  insert into app_public.notification_queue (hospital_id, notification_id, channel, recipient_address)
  values ('50000000-0000-4000-8000-000000000001', '50000000-0000-4000-8000-000000000020', 'sms', 'not a phone')
$$, '23514', null, 'an sms delivery needs a phone number');

delete from app_public.notifications where id = '50000000-0000-4000-8000-000000000020';
select is((select count(*)::integer from app_public.notification_queue where id = '50000000-0000-4000-8000-000000000030'), 0,
  'deleting a notification deletes its queue rows');

select * from finish();
rollback;
