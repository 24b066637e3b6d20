-- Structure and key rules of appointments, appointment_status_log and appointment_queue
-- (db/schema/app_public/tables/<table>.sql).
begin;
select plan(41);

-- Tables
select has_table('app_public', 'appointments', 'appointments exists');
select has_table('app_public', 'appointment_status_log', 'appointment_status_log exists');
select has_table('app_public', 'appointment_queue', 'appointment_queue exists');

-- Key columns
select col_not_null('app_public', 'appointments', 'appointment_number', 'appointments.appointment_number is required');
select col_type_is('app_public', 'appointments', 'scheduled_start', 'timestamp with time zone', 'appointments.scheduled_start is an instant');
select col_type_is('app_public', 'appointments', 'scheduled_end', 'timestamp with time zone', 'appointments.scheduled_end is an instant');
select col_has_default('app_public', 'appointments', 'status', 'appointments.status has a default');
select col_is_null('app_public', 'appointment_status_log', 'from_status', 'appointment_status_log.from_status is nullable (first entry)');
select col_type_is('app_public', 'appointment_queue', 'queue_date', 'date', 'appointment_queue.queue_date is a date');
select col_type_is('app_public', 'appointment_queue', 'token_number', 'integer', 'appointment_queue.token_number is integer');

-- Foreign keys (composite, tenant-safe)
select fk_ok('app_public', 'appointments', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'appointments reference a patient of the same hospital');
select fk_ok('app_public', 'appointments', array['hospital_id', 'doctor_id'], 'app_public', 'doctors', array['hospital_id', 'id'],
  'appointments reference a doctor of the same hospital');
select fk_ok('app_public', 'appointments', array['hospital_id', 'rescheduled_from_id'], 'app_public', 'appointments', array['hospital_id', 'id'],
  'a rescheduled appointment points at its predecessor in the same hospital');
select fk_ok('app_public', 'appointment_status_log', array['hospital_id', 'appointment_id'], 'app_public', 'appointments', array['hospital_id', 'id'],
  'status log entries belong to an appointment of the same hospital');
select fk_ok('app_public', 'appointment_queue', array['hospital_id', 'appointment_id'], 'app_public', 'appointments', array['hospital_id', 'id'],
  'queue tokens reference an appointment of the same hospital');
select fk_ok('app_public', 'appointment_queue', array['hospital_id', 'department_id'], 'app_public', 'departments', array['hospital_id', 'id'],
  'queue tokens reference a department of the same hospital');

-- Access-path indexes and the double-booking exclusion
select has_index('app_public', 'appointments', 'appointments_no_double_booking_excl', 'double-booking exclusion');
select has_index('app_public', 'appointments', 'idx_appointments__hospital_id_doctor_id_scheduled_start', 'a doctor''s day');
select has_index('app_public', 'appointments', 'idx_appointments__hospital_id_patient_id_scheduled_start', 'a patient''s appointments');
select has_index('app_public', 'appointments', 'idx_appointments__hospital_id_scheduled_start', 'the day list');
select has_index('app_public', 'appointment_queue', 'idx_appointment_queue__hospital_id_queue_date_status', 'queue by hospital and day');

-- Registered with the kit: the status machine, the module's triggers, what clients may write
select results_eq(
  $$select table_name, entity, soft_delete, audited, append_only from app_hidden.table_registry
     where table_name in ('appointments', 'appointment_status_log', 'appointment_queue') order by table_name$$,
  $$values ('appointment_queue'::text, 'queue token'::text, false, true, false),
           ('appointment_status_log', 'appointment status change', false, true, true),
           ('appointments', 'appointment', true, true, false)$$,
  'the three tables are registered (entity, soft delete, audit, append-only)');
select results_eq(
  $$select coalesce(from_status, '-'), to_status, coalesce(via, '-'), coalesce(permission, '-'), coalesce(stamp_at, '-'),
           coalesce(stamp_by, '-'), coalesce(reason_column, '-')
      from app_hidden.status_transitions where table_name = 'appointments' order by 1, 2$$,
  $$values ('-'::text, 'booked'::text, '-'::text, '-'::text, '-'::text, '-'::text, '-'::text),
           ('booked', 'cancelled', '-', 'appointments.manage', 'cancelled_at', 'cancelled_by', 'cancellation_reason'),
           ('booked', 'checked_in', 'check_in_appointment', 'appointments.checkin', 'checked_in_at', '-', '-'),
           ('booked', 'confirmed', '-', '-', 'confirmed_at', '-', '-'),
           ('booked', 'no_show', '-', 'appointments.manage', 'no_show_at', '-', '-'),
           ('booked', 'rescheduled', 'reschedule_appointment', 'appointments.manage', '-', '-', '-'),
           ('checked_in', 'cancelled', '-', 'appointments.manage', 'cancelled_at', 'cancelled_by', 'cancellation_reason'),
           ('checked_in', 'in_progress', '-', 'appointments.manage', 'started_at', '-', '-'),
           ('confirmed', 'cancelled', '-', 'appointments.manage', 'cancelled_at', 'cancelled_by', 'cancellation_reason'),
           ('confirmed', 'checked_in', 'check_in_appointment', 'appointments.checkin', 'checked_in_at', '-', '-'),
           ('confirmed', 'no_show', '-', 'appointments.manage', 'no_show_at', '-', '-'),
           ('confirmed', 'rescheduled', 'reschedule_appointment', 'appointments.manage', '-', '-', '-'),
           ('in_progress', 'completed', '-', 'appointments.manage', 'completed_at', '-', '-')$$,
  'the appointment status machine, step by step');
select is(
  array(select t.tgname::text from pg_trigger t where t.tgrelid = 'app_public.appointments'::regclass and not t.tgisinternal order by 1),
  array['_001_forbidden_delete', '_001_forbidden_insert', '_001_forbidden_update', '_010_number', '_050_soft_delete', '_100_stamp', '_110_soft_delete', '_150_status_machine', '_160_no_show_timing',
        '_210_status_log', '_850_notify', '_900_audit', '_990_friendly_constraints'],
  'appointments: the kit''s triggers, the no-show timing, the status log and the patient''s messages (no module workflow trigger)');
select is(
  array(select t.tgname::text from pg_trigger t where t.tgrelid = 'app_public.appointment_status_log'::regclass and not t.tgisinternal order by 1),
  array['_000_append_only', '_000_append_only_truncate', '_100_stamp', '_900_audit', '_990_friendly_constraints'],
  'appointment_status_log: append-only history');
select is(
  array(select t.tgname::text || ':' || t.tgfoid::regproc::text from pg_trigger t
         where t.tgrelid = 'app_public.appointment_queue'::regclass and t.tgname in ('_010_number', '_020_token_number') order by 1),
  array['_010_number:app_hidden.tg__assign_number', '_020_token_number:app_hidden.tg_appointment_queue__token_number'],
  'appointment_queue: the label from the document-type registry, then the number from the label');
select is(
  array(select c from unnest(array['patient_id', 'doctor_id', 'schedule_id', 'scheduled_start', 'scheduled_end', 'department_id',
                                   'visit_type', 'cancellation_reason', 'notes']) c
         where has_column_privilege('hms_staff', 'app_public.appointments', c, 'insert')),
  array['patient_id', 'doctor_id', 'schedule_id', 'scheduled_start', 'scheduled_end', 'department_id',
        'visit_type', 'cancellation_reason', 'notes'],
  'staff insert a booking''s patient, doctor, slot and details');
select is(
  array(select c from unnest(array['patient_id', 'doctor_id', 'schedule_id', 'scheduled_start', 'scheduled_end',
                                   'rescheduled_from_id', 'quoted_fee', 'appointment_number', 'confirmed_at', 'checked_in_at',
                                   'started_at', 'completed_at', 'no_show_at', 'cancelled_at', 'cancelled_by']) c
         where has_column_privilege('hms_staff', 'app_public.appointments', c, 'update')),
  '{}'::text[], 'staff never update the slot, patient, doctor, fee, predecessor, number or stamps of an appointment');
select is(
  array(select c from unnest(array['rescheduled_from_id', 'quoted_fee', 'appointment_number', 'confirmed_at', 'checked_in_at',
                                   'started_at', 'completed_at', 'no_show_at', 'cancelled_at', 'cancelled_by']) c
         where has_column_privilege('hms_staff', 'app_public.appointments', c, 'insert')),
  '{}'::text[], 'staff never insert the fee, predecessor, number or stamps of an appointment');
select is(
  array(select c from unnest(array['token_number', 'token_label', 'appointment_id', 'queue_date', 'department_id', 'patient_id']) c
         where has_column_privilege('hms_staff', 'app_public.appointment_queue', c, 'update')
            or (c in ('token_number', 'token_label', 'appointment_id') and has_column_privilege('hms_staff', 'app_public.appointment_queue', c, 'insert'))),
  '{}'::text[], 'staff never write a token''s number, label or appointment, nor change its day, department or patient');
select is(
  array(select f from unnest(array['appointments_require', 'appointment_for_update', 'assert_appointment_transition',
                                   'appointment_transition_allowed', 'appointment_workflow_on', 'appointment_workflow_off',
                                   'appointment_set_status', 'tg_appointments__workflow', 'tg_appointment_queue__assign_token']) f
         where exists (select 1 from pg_proc p where p.pronamespace = 'app_hidden'::regnamespace and p.proname = f)),
  '{}'::text[], 'the module''s own gate, lock, transition check, workflow mark and token trigger are gone');
select is(
  array(select p.proname::text || ':' || p.prorettype::regtype::text from pg_proc p
         where p.pronamespace = 'app_public'::regnamespace
           and p.proname in ('book_appointment', 'reschedule_appointment', 'cancel_appointment', 'check_in_appointment',
                             'start_appointment', 'complete_appointment', 'mark_no_show') and not p.proretset
         order by 1),
  array['book_appointment:app_public.appointments', 'cancel_appointment:app_public.appointments',
        'check_in_appointment:app_public.appointments', 'complete_appointment:app_public.appointments',
        'mark_no_show:app_public.appointments', 'reschedule_appointment:app_public.appointments',
        'start_appointment:app_public.appointments'],
  'every appointment workflow RPC returns the appointment row');

-- Fixtures
insert into app_public.hospitals (id, code, name) values
  ('12000000-0000-0000-0000-000000000001', 'TA', 'Test Hospital A');
insert into app_public.departments (id, hospital_id, code, name) values
  ('12000000-0000-0000-0000-000000000011', '12000000-0000-0000-0000-000000000001', 'CARD', 'Cardiology');
insert into app_public.users (id, email, first_name, last_name) values
  ('12000000-0000-0000-0000-0000000000a1', 'dr.queue@example.org', 'Quinn', 'Queue');
insert into app_public.doctors (id, hospital_id, user_id, department_id, registration_number, specialization) values
  ('12000000-0000-0000-0000-000000000101', '12000000-0000-0000-0000-000000000001', '12000000-0000-0000-0000-0000000000a1',
   '12000000-0000-0000-0000-000000000011', 'MC-20001', 'Cardiology');
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender) values
  ('12000000-0000-0000-0000-000000000201', '12000000-0000-0000-0000-000000000001', 'MRN-TA-0001', 'Pat', 'One', date '1970-01-01', 'male'),
  ('12000000-0000-0000-0000-000000000202', '12000000-0000-0000-0000-000000000001', 'MRN-TA-0002', 'Pam', 'Two', date '1985-06-30', 'female');
insert into app_public.appointments (id, hospital_id, appointment_number, patient_id, doctor_id, department_id, scheduled_start, scheduled_end) values
  ('12000000-0000-0000-0000-000000000301', '12000000-0000-0000-0000-000000000001', 'APT-TA-0001', '12000000-0000-0000-0000-000000000201',
   '12000000-0000-0000-0000-000000000101', '12000000-0000-0000-0000-000000000011', '2026-03-02 09:00+00', '2026-03-02 09:15+00');
insert into app_public.appointment_queue (hospital_id, queue_date, department_id, doctor_id, appointment_id, patient_id, token_number, token_label) values
  ('12000000-0000-0000-0000-000000000001', date '2026-03-02', '12000000-0000-0000-0000-000000000011', '12000000-0000-0000-0000-000000000101',
   '12000000-0000-0000-0000-000000000301', '12000000-0000-0000-0000-000000000201', 1, 'CARD-001');

-- Rules
select throws_ok($$
  insert into app_public.appointments (hospital_id, appointment_number, patient_id, doctor_id, department_id, scheduled_start, scheduled_end)
  values ('12000000-0000-0000-0000-000000000001', 'APT-TA-0002', '12000000-0000-0000-0000-000000000202',
          '12000000-0000-0000-0000-000000000101', '12000000-0000-0000-0000-000000000011', '2026-03-02 09:10+00', '2026-03-02 09:25+00')
$$, '23P01', null, 'a doctor cannot be double-booked');
select lives_ok($$
  insert into app_public.appointments (hospital_id, appointment_number, patient_id, doctor_id, department_id, scheduled_start, scheduled_end)
  values ('12000000-0000-0000-0000-000000000001', 'APT-TA-0003', '12000000-0000-0000-0000-000000000202',
          '12000000-0000-0000-0000-000000000101', '12000000-0000-0000-0000-000000000011', '2026-03-02 09:15+00', '2026-03-02 09:30+00')
$$, 'the next slot can be booked');
select lives_ok($$
  update app_public.appointments set status = 'cancelled', cancelled_at = now(), cancellation_reason = 'patient request'
   where id = '12000000-0000-0000-0000-000000000301'
$$, 'an appointment can be cancelled');
select lives_ok($$
  insert into app_public.appointments (hospital_id, appointment_number, patient_id, doctor_id, department_id, scheduled_start, scheduled_end)
  values ('12000000-0000-0000-0000-000000000001', 'APT-TA-0004', '12000000-0000-0000-0000-000000000202',
          '12000000-0000-0000-0000-000000000101', '12000000-0000-0000-0000-000000000011', '2026-03-02 09:00+00', '2026-03-02 09:15+00')
$$, 'a cancelled appointment frees its slot');
select throws_ok($$
  insert into app_public.appointments (hospital_id, appointment_number, patient_id, doctor_id, department_id, scheduled_start, scheduled_end)
  values ('12000000-0000-0000-0000-000000000001', 'APT-TA-0005', '12000000-0000-0000-0000-000000000202',
          '12000000-0000-0000-0000-000000000101', '12000000-0000-0000-0000-000000000011', '2026-03-03 10:00+00', '2026-03-03 09:45+00')
$$, '23514', null, 'an appointment must end after it starts');
select throws_ok($$
  insert into app_public.appointments (hospital_id, appointment_number, patient_id, doctor_id, department_id, scheduled_start, scheduled_end, status)
  values ('12000000-0000-0000-0000-000000000001', 'APT-TA-0006', '12000000-0000-0000-0000-000000000202',
          '12000000-0000-0000-0000-000000000101', '12000000-0000-0000-0000-000000000011', '2026-03-04 10:00+00', '2026-03-04 10:15+00', 'postponed')
$$, '23514', null, 'an unknown appointment status is refused');
select throws_ok($$
  insert into app_public.appointment_status_log (hospital_id, appointment_id, from_status, to_status)
  values ('12000000-0000-0000-0000-000000000001', '12000000-0000-0000-0000-000000000301', 'booked', 'booked')
$$, '23514', null, 'a status log entry must change the status');
select throws_ok($$
  insert into app_public.appointment_queue (hospital_id, queue_date, department_id, patient_id, token_number, token_label)
  values ('12000000-0000-0000-0000-000000000001', date '2026-03-02', '12000000-0000-0000-0000-000000000011',
          '12000000-0000-0000-0000-000000000202', 1, 'CARD-001B')
$$, '23505', null, 'a token number is unique per department and day');
select throws_ok($$
  insert into app_public.appointment_queue (hospital_id, queue_date, department_id, patient_id, token_number, token_label)
  values ('12000000-0000-0000-0000-000000000001', date '2026-03-02', '12000000-0000-0000-0000-000000000011',
          '12000000-0000-0000-0000-000000000202', 0, 'CARD-000')
$$, '23514', null, 'a token number is positive');

select * from finish();
rollback;
