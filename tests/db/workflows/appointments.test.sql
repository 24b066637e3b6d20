-- Appointments workflow (db/schema/app_public/functions/: available_slots, book_appointment,
-- reschedule_appointment, cancel_appointment, check_in_appointment, start_appointment,
-- complete_appointment, mark_no_show): slots, booking rules,
-- the status machine (RPCs and direct updates), check-in with queue token and invoice line.
begin;
select plan(115);

-- ------------------------------------------------------------------------------------------
-- Fixtures (NY): a test doctor working 08:00–12:00 every day in 30-minute slots, with a fee,
-- a full-day leave in 8 days and a first-half leave in 9 days; patients; an inactive doctor.
-- ------------------------------------------------------------------------------------------
create function pg_temp.ny() returns uuid language sql immutable as $$ select '10000000-0000-4000-8000-000000000001'::uuid $$;
create function pg_temp.day(n int) returns date language sql stable as $$ select (now() at time zone 'America/New_York')::date + n $$;
create function pg_temp.at(n int, t time) returns timestamptz language sql stable as $$
  select (pg_temp.day(n) + t) at time zone 'America/New_York' $$;
grant execute on function pg_temp.ny(), pg_temp.day(int), pg_temp.at(int, time) to public;

insert into app_public.users (id, email, first_name, last_name, title) values
  ('12990000-0000-4000-8000-0000000000a1', 'dr.slots@example.org', 'Sloane', 'Slots', 'Dr.'),
  ('12990000-0000-4000-8000-0000000000a2', 'dr.gone@example.org', 'Gone', 'Away', 'Dr.');
insert into app_public.doctors (id, hospital_id, user_id, department_id, registration_number, specialization, is_active) values
  ('12990000-0000-4000-8000-000000000101', pg_temp.ny(), '12990000-0000-4000-8000-0000000000a1',
   'd0100000-0000-4000-8000-000000000011', 'WF-1200-1', 'Cardiology', true),
  ('12990000-0000-4000-8000-000000000102', pg_temp.ny(), '12990000-0000-4000-8000-0000000000a2',
   'd0100000-0000-4000-8000-000000000011', 'WF-1200-2', 'Cardiology', false);
insert into app_public.doctor_schedules (hospital_id, doctor_id, day_of_week, session, start_time, end_time, slot_minutes, valid_from)
select pg_temp.ny(), d.id, dow, 'morning', time '08:00', time '12:00', 30, pg_temp.day(-30)
  from generate_series(0, 6) dow
 cross join (values ('12990000-0000-4000-8000-000000000101'::uuid), ('12990000-0000-4000-8000-000000000102'::uuid)) d(id);
insert into app_public.doctor_fees (hospital_id, doctor_id, visit_type, amount, tax_configuration_id, valid_from)
select pg_temp.ny(), '12990000-0000-4000-8000-000000000101', 'new_consultation', 200.00, t.id, pg_temp.day(-30)
  from app_public.tax_configurations t where t.hospital_id = pg_temp.ny() and t.code = 'CONSULT_EXEMPT';
insert into app_public.doctor_leaves (hospital_id, doctor_id, leave_type, start_date, end_date, half_day, status, approved_at) values
  (pg_temp.ny(), '12990000-0000-4000-8000-000000000101', 'vacation', pg_temp.day(8), pg_temp.day(8), null, 'approved', now()),
  (pg_temp.ny(), '12990000-0000-4000-8000-000000000101', 'personal', pg_temp.day(9), pg_temp.day(9), 'first_half', 'approved', now()),
  (pg_temp.ny(), '12990000-0000-4000-8000-000000000101', 'training', pg_temp.day(10), pg_temp.day(10), null, 'requested', null);
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender, is_active) values
  ('12990000-0000-4000-8000-000000000201', pg_temp.ny(), 'WF-1200-P1', 'Ada', 'Booker', date '1980-01-01', 'female', true),
  ('12990000-0000-4000-8000-000000000202', pg_temp.ny(), 'WF-1200-P2', 'Ina', 'Active', date '1980-01-01', 'female', false),
  ('12990000-0000-4000-8000-000000000203', pg_temp.ny(), 'WF-1200-P3', 'Del', 'Eted', date '1980-01-01', 'male', true),
  ('12990000-0000-4000-8000-000000000204', pg_temp.ny(), 'WF-1200-P4', 'Sen', 'Ior', date '1940-01-01', 'male', true);
update app_public.patients set is_deleted = true, deleted_at = now() where id = '12990000-0000-4000-8000-000000000203';
-- Appointments the booking rules would refuse, written as the owner: today (for check-in) and a week ago (for no-show).
insert into app_public.appointments (id, hospital_id, patient_id, doctor_id, department_id, scheduled_start, scheduled_end, quoted_fee) values
  ('12990000-0000-4000-8000-000000000301', pg_temp.ny(), '12990000-0000-4000-8000-000000000204', '12990000-0000-4000-8000-000000000101',
   'd0100000-0000-4000-8000-000000000011', pg_temp.at(0, '08:00'), pg_temp.at(0, '08:30'), 200.00),
  ('12990000-0000-4000-8000-000000000302', pg_temp.ny(), '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101',
   'd0100000-0000-4000-8000-000000000011', pg_temp.at(-7, '08:00'), pg_temp.at(-7, '08:30'), 200.00),
  ('12990000-0000-4000-8000-000000000303', pg_temp.ny(), '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101',
   'd0100000-0000-4000-8000-000000000011', pg_temp.at(-6, '08:00'), pg_temp.at(-6, '08:30'), 200.00);

create function pg_temp.book(p_email text, p_patient text, p_doctor text, p_start timestamptz, p_visit text default 'new_consultation') returns text
language sql as $$
  select tests.try_as(p_email, format('select app_public.book_appointment(%L::uuid, %L::uuid, %L::timestamptz, %L)', p_patient, p_doctor, p_start, p_visit));
$$;
create temp table ids (name text primary key, id uuid);

-- ------------------------------------------------------------------------------------------
-- available_slots
-- ------------------------------------------------------------------------------------------
select tests.authenticate_as('reception.ny@hms.test');
select is((select count(*)::int from app_public.available_slots('12990000-0000-4000-8000-000000000101', pg_temp.day(7))), 8,
  'available_slots: 08:00–12:00 in 30-minute slots is 8 slots');
select is((select min(slot_start) from app_public.available_slots('12990000-0000-4000-8000-000000000101', pg_temp.day(7))),
  pg_temp.at(7, '08:00'), 'available_slots: the first slot starts at 08:00 in the hospital''s time zone');
select is((select bool_and(slot_end - slot_start = interval '30 minutes') from app_public.available_slots('12990000-0000-4000-8000-000000000101', pg_temp.day(7))),
  true, 'available_slots: slots last slot_minutes');
select is((select count(*)::int from app_public.available_slots('12990000-0000-4000-8000-000000000101', pg_temp.day(8))), 0,
  'available_slots: an approved full-day leave removes the day');
select is((select count(*)::int from app_public.available_slots('12990000-0000-4000-8000-000000000101', pg_temp.day(9))), 0,
  'available_slots: an approved first-half leave removes the morning slots');
select is((select count(*)::int from app_public.available_slots('12990000-0000-4000-8000-000000000101', pg_temp.day(10))), 8,
  'available_slots: a requested (unapproved) leave blocks nothing');
select is((select count(*)::int from app_public.available_slots('12990000-0000-4000-8000-000000000101', pg_temp.day(-31))), 0,
  'available_slots: nothing before the schedule is valid');
select tests.clear_authentication();
select is(tests.try_as('pharmacist.ny@hms.test', format('select * from app_public.available_slots(%L, %L)', '12990000-0000-4000-8000-000000000101', pg_temp.day(7))),
  'HMS_FORBIDDEN', 'available_slots: 403 without appointments.read');
select is(tests.try_as('reception.ny@hms.test', format('select * from app_public.available_slots(%L, %L)', 'd1100000-0000-4000-8000-000000000002', pg_temp.day(7))),
  'HMS_NOT_FOUND', 'available_slots: another hospital''s doctor is 404');
select is(tests.try_as('reception.ny@hms.test', format('select * from app_public.available_slots(%L, null)', '12990000-0000-4000-8000-000000000101')),
  'HMS_INVALID_INPUT', 'available_slots: a missing day is 422');
select is(tests.try_as(null, format('select * from app_public.available_slots(%L, %L)', '12990000-0000-4000-8000-000000000101', pg_temp.day(7))),
  'HMS_SESSION_INVALID', 'available_slots: no session is 401');

-- ------------------------------------------------------------------------------------------
-- book_appointment
-- ------------------------------------------------------------------------------------------
insert into ids select 'a1', (tests.call_as('reception.ny@hms.test', format(
  'select to_jsonb(app_public.book_appointment(%L, %L, %L, reason_for_visit => %L))', '12990000-0000-4000-8000-000000000201',
  '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '08:00'), 'Chest pain')) ->> 'id')::uuid;
select ok((select id from ids where name = 'a1') is not null, 'book_appointment: reception books a free slot');
select results_eq(
  $$select status, scheduled_end - scheduled_start, quoted_fee, department_id, appointment_number is not null, schedule_id is not null,
           booking_source, created_by
      from app_public.appointments where id = (select id from ids where name = 'a1')$$,
  $$values ('booked'::text, interval '30 minutes', 200.00::numeric(12,2), 'd0100000-0000-4000-8000-000000000011'::uuid, true, true,
            'front_desk'::text, '20000000-0000-4000-8000-000000000008'::uuid)$$,
  'book_appointment: booked, slot length, quoted fee, doctor''s department, number, session, source, booked by');
select results_eq(
  $$select from_status, to_status, changed_by from app_public.appointment_status_log where appointment_id = (select id from ids where name = 'a1')$$,
  $$values (null::text, 'booked'::text, '20000000-0000-4000-8000-000000000008'::uuid)$$,
  'book_appointment: the first status log row (null → booked, by the receptionist)');
select tests.authenticate_as('reception.ny@hms.test');
select is((select is_free from app_public.available_slots('12990000-0000-4000-8000-000000000101', pg_temp.day(7)) where slot_start = pg_temp.at(7, '08:00')),
  false, 'available_slots: a booked slot is not free');
select tests.clear_authentication();
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000204', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '08:00')),
  'HMS_SLOT_TAKEN', 'book_appointment: a taken slot is 409 HMS_SLOT_TAKEN');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '08:10')),
  'HMS_SLOT_OUTSIDE_SCHEDULE', 'book_appointment: a start that is not a slot start is 422');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '13:00')),
  'HMS_SLOT_OUTSIDE_SCHEDULE', 'book_appointment: a time outside the sessions is 422');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(8, '08:00')),
  'HMS_DOCTOR_ON_LEAVE', 'book_appointment: during an approved leave is 409');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(9, '09:00')),
  'HMS_DOCTOR_ON_LEAVE', 'book_appointment: during an approved half-day leave is 409');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(-7, '09:00')),
  'HMS_SLOT_IN_PAST', 'book_appointment: a slot in the past is 422');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(100, '08:00')),
  'HMS_SLOT_BEYOND_HORIZON', 'book_appointment: beyond booking_horizon_days (90) is 422');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000102', pg_temp.at(7, '08:00')),
  'HMS_DOCTOR_INACTIVE', 'book_appointment: an inactive doctor is 422');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000202', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '11:00')),
  'HMS_PATIENT_INACTIVE', 'book_appointment: an inactive patient is 422');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000203', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '11:00')),
  'HMS_NOT_FOUND', 'book_appointment: a deleted patient is 404');
select is(pg_temp.book('reception.ny@hms.test', 'd1000000-0000-4000-8000-000000000021', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '11:00')),
  'HMS_NOT_FOUND', 'book_appointment: another hospital''s patient is 404');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', 'd1100000-0000-4000-8000-000000000002', pg_temp.at(7, '11:00')),
  'HMS_NOT_FOUND', 'book_appointment: another hospital''s doctor is 404');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '11:00'), 'spa_day'),
  'HMS_INVALID_INPUT', 'book_appointment: an unknown visit type is 422');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.book_appointment(null, %L, %L)', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '11:00'))),
  'HMS_INVALID_INPUT', 'book_appointment: a missing patient is 422');
select is(pg_temp.book('nurse.ny@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '11:00')),
  'HMS_FORBIDDEN', 'book_appointment: 403 without appointments.manage (nurse)');
select is(pg_temp.book('doctor.la@hms.test', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '11:00')),
  'HMS_NOT_FOUND', 'book_appointment: staff of another hospital get 404 for NY ids');
select is(tests.try_as(null, format('select app_public.book_appointment(%L, %L, %L)', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '11:00'))),
  'HMS_SESSION_INVALID', 'book_appointment: no session is 401');
insert into ids select 'a2', (tests.call_as('doctor.ny@hms.test', format(
  'select to_jsonb(app_public.book_appointment(%L, %L, %L, %L))', '12990000-0000-4000-8000-000000000201',
  '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '08:30'), 'follow_up')) ->> 'id')::uuid;
select is((select quoted_fee from app_public.appointments where id = (select id from ids where name = 'a2')), null,
  'book_appointment: no fee for the visit type leaves quoted_fee empty (doctor with appointments.manage books)');
select is(
  (select count(*)::int from app_public.appointments
    where doctor_id = '12990000-0000-4000-8000-000000000101' and scheduled_start >= pg_temp.at(1, '00:00')),
  2, 'refused bookings wrote nothing');

-- ------------------------------------------------------------------------------------------
-- cancel_appointment
-- ------------------------------------------------------------------------------------------
select is(tests.try_as('reception.ny@hms.test', format('select app_public.cancel_appointment(%L, %L)', (select id from ids where name = 'a1'), '  ')),
  'HMS_REASON_REQUIRED', 'cancel_appointment: a blank reason is 422 HMS_REASON_REQUIRED');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.cancel_appointment(%L, null)', (select id from ids where name = 'a1'))),
  'HMS_REASON_REQUIRED', 'cancel_appointment: a missing reason is 422');
select is(tests.try_as('nurse.ny@hms.test', format('select app_public.cancel_appointment(%L, %L)', (select id from ids where name = 'a1'), 'x')),
  'HMS_FORBIDDEN', 'cancel_appointment: 403 without appointments.manage');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.cancel_appointment(%L, %L)', 'd1200000-0000-4000-8000-000000000022', 'x')),
  'HMS_NOT_FOUND', 'cancel_appointment: another hospital''s appointment is 404');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.cancel_appointment(%L, %L)', (select id from ids where name = 'a1'), 'Patient travelling')),
  'ok', 'cancel_appointment: with a reason');
select results_eq(
  $$select status, cancellation_reason, cancelled_at is not null, cancelled_by from app_public.appointments where id = (select id from ids where name = 'a1')$$,
  $$values ('cancelled'::text, 'Patient travelling'::text, true, '20000000-0000-4000-8000-000000000008'::uuid)$$,
  'cancel_appointment: status, reason, time and who');
select results_eq(
  $$select from_status, to_status, reason, changed_by from app_public.appointment_status_log
     where appointment_id = (select id from ids where name = 'a1') and from_status is not null$$,
  $$values ('booked'::text, 'cancelled'::text, 'Patient travelling'::text, '20000000-0000-4000-8000-000000000008'::uuid)$$,
  'cancel_appointment: logged with reason and user');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.cancel_appointment(%L, %L)', (select id from ids where name = 'a1'), 'again')),
  'HMS_ILLEGAL_TRANSITION', 'cancel_appointment: cancelled is final (409)');
select is(pg_temp.book('reception.ny@hms.test', '12990000-0000-4000-8000-000000000204', '12990000-0000-4000-8000-000000000101', pg_temp.at(7, '08:00')),
  'ok', 'a cancelled appointment frees its slot');

-- ------------------------------------------------------------------------------------------
-- reschedule_appointment
-- ------------------------------------------------------------------------------------------
select is(tests.try_as('reception.ny@hms.test', format('select app_public.reschedule_appointment(%L, %L)', (select id from ids where name = 'a2'), pg_temp.at(7, '08:00'))),
  'HMS_SLOT_TAKEN', 'reschedule_appointment: to a taken slot is 409');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.reschedule_appointment(%L, %L)', (select id from ids where name = 'a2'), pg_temp.at(7, '08:45'))),
  'HMS_SLOT_OUTSIDE_SCHEDULE', 'reschedule_appointment: to a time that is no slot is 422');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.reschedule_appointment(%L, %L)', (select id from ids where name = 'a2'), pg_temp.at(8, '08:00'))),
  'HMS_DOCTOR_ON_LEAVE', 'reschedule_appointment: onto a leave is 409');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.reschedule_appointment(%L, null)', (select id from ids where name = 'a2'))),
  'HMS_INVALID_INPUT', 'reschedule_appointment: a missing new start is 422');
select is((select status from app_public.appointments where id = (select id from ids where name = 'a2')), 'booked',
  'reschedule_appointment: a refused reschedule leaves the appointment booked');
insert into ids select 'a3', (tests.call_as('reception.ny@hms.test', format(
  'select to_jsonb(app_public.reschedule_appointment(%L, %L))', (select id from ids where name = 'a2'), pg_temp.at(11, '09:00'))) ->> 'id')::uuid;
select results_eq(
  $$select status, rescheduled_from_id, scheduled_start, visit_type, patient_id from app_public.appointments where id = (select id from ids where name = 'a3')$$,
  format($$values ('booked'::text, %L::uuid, %L::timestamptz, 'follow_up'::text, '12990000-0000-4000-8000-000000000201'::uuid)$$,
         (select id from ids where name = 'a2'), pg_temp.at(11, '09:00')),
  'reschedule_appointment: the new booking points back at the old one, same visit');
select is((select status from app_public.appointments where id = (select id from ids where name = 'a2')), 'rescheduled',
  'reschedule_appointment: the old one is rescheduled');
select is((select count(*)::int from app_public.appointment_status_log where appointment_id = (select id from ids where name = 'a2') and to_status = 'rescheduled'), 1,
  'reschedule_appointment: the change is logged');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.reschedule_appointment(%L, %L)', (select id from ids where name = 'a2'), pg_temp.at(12, '09:00'))),
  'HMS_ILLEGAL_TRANSITION', 'reschedule_appointment: rescheduled is final (409)');

-- ------------------------------------------------------------------------------------------
-- check-in, start, complete (today's appointment 301, patient over 65)
-- ------------------------------------------------------------------------------------------
select is(tests.try_as('reception.ny@hms.test', format('select app_public.check_in_appointment(%L)', (select id from ids where name = 'a3'))),
  'HMS_CHECKIN_NOT_TODAY', 'check_in_appointment: not on the appointment''s day is 422');
select is(tests.try_as('doctor.ny@hms.test', format('select app_public.check_in_appointment(%L)', '12990000-0000-4000-8000-000000000301')),
  'HMS_FORBIDDEN', 'check_in_appointment: 403 without appointments.checkin (doctor)');
select is(tests.try_as('doctor.ny@hms.test', format('select app_public.check_in_appointment(%L)', (select id from ids where name = 'a3'))),
  'HMS_FORBIDDEN', 'check_in_appointment: without appointments.checkin the answer is 403 before any other rule (doctor, another day)');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.check_in_appointment(%L)', 'd1200000-0000-4000-8000-000000000022')),
  'HMS_NOT_FOUND', 'check_in_appointment: another hospital''s appointment is 404');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.start_appointment(%L)', '12990000-0000-4000-8000-000000000301')),
  'HMS_ILLEGAL_TRANSITION', 'start_appointment: a booked appointment cannot start (409)');
select is(tests.try_as('nurse.ny@hms.test', format('select app_public.check_in_appointment(%L)', '12990000-0000-4000-8000-000000000301')),
  'ok', 'check_in_appointment: the nurse checks the patient in on the day');
select results_eq(
  $$select status, checked_in_at is not null from app_public.appointments where id = '12990000-0000-4000-8000-000000000301'$$,
  $$values ('checked_in'::text, true)$$, 'check_in_appointment: checked_in with its time');
select results_eq(
  $$select queue_date, department_id, doctor_id, patient_id, status, priority, token_number > 0, token_label is not null
      from app_public.appointment_queue where appointment_id = '12990000-0000-4000-8000-000000000301'$$,
  $$values (app_hidden.hospital_today('10000000-0000-4000-8000-000000000001'), 'd0100000-0000-4000-8000-000000000011'::uuid,
            '12990000-0000-4000-8000-000000000101'::uuid, '12990000-0000-4000-8000-000000000204'::uuid, 'waiting'::text,
            'senior_citizen'::text, true, true)$$,
  'check_in_appointment: the day''s queue token (department, doctor, waiting, senior priority, numbered)');
select results_eq(
  $$select i.invoice_type, i.status, i.appointment_id, it.item_type, it.quantity, it.unit_price, it.doctor_id, it.description
      from app_public.invoice_items it join app_public.invoices i on i.id = it.invoice_id
     where it.appointment_id = '12990000-0000-4000-8000-000000000301'$$,
  $$values ('outpatient'::text, 'draft'::text, '12990000-0000-4000-8000-000000000301'::uuid, 'consultation'::text, 1::numeric,
            200.00::numeric, '12990000-0000-4000-8000-000000000101'::uuid, 'New Consultation — Dr. Sloane Slots'::text)$$,
  'check_in_appointment: the quoted fee is a consultation line on the patient''s draft outpatient invoice');
select is((select count(*)::int from app_public.appointment_status_log where appointment_id = '12990000-0000-4000-8000-000000000301'
            and from_status = 'booked' and to_status = 'checked_in' and changed_by = '20000000-0000-4000-8000-000000000007'), 1,
  'check_in_appointment: logged with the nurse as author');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.check_in_appointment(%L)', '12990000-0000-4000-8000-000000000301')),
  'HMS_ILLEGAL_TRANSITION', 'check_in_appointment: twice is 409');
select is(tests.try_as('doctor.ny@hms.test', format('select app_public.complete_appointment(%L)', '12990000-0000-4000-8000-000000000301')),
  'HMS_ILLEGAL_TRANSITION', 'complete_appointment: checked_in cannot complete without starting (409)');
select is(tests.try_as('doctor.ny@hms.test', format('select app_public.start_appointment(%L)', '12990000-0000-4000-8000-000000000301')),
  'ok', 'start_appointment: the doctor starts the consultation');
select results_eq(
  $$select a.status, a.started_at is not null, q.status, q.consultation_started_at is not null
      from app_public.appointments a join app_public.appointment_queue q on q.appointment_id = a.id
     where a.id = '12990000-0000-4000-8000-000000000301'$$,
  $$values ('in_progress'::text, true, 'in_consultation'::text, true)$$, 'start_appointment: in_progress, queue in_consultation');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.cancel_appointment(%L, %L)', '12990000-0000-4000-8000-000000000301', 'x')),
  'HMS_ILLEGAL_TRANSITION', 'cancel_appointment: an in-progress consultation cannot be cancelled');
select is(tests.try_as('doctor.ny@hms.test', format('select app_public.complete_appointment(%L)', '12990000-0000-4000-8000-000000000301')),
  'ok', 'complete_appointment: the doctor completes it');
select results_eq(
  $$select a.status, a.completed_at is not null, q.status, q.completed_at is not null
      from app_public.appointments a join app_public.appointment_queue q on q.appointment_id = a.id
     where a.id = '12990000-0000-4000-8000-000000000301'$$,
  $$values ('completed'::text, true, 'completed'::text, true)$$, 'complete_appointment: completed, queue completed');
select is(
  array(select coalesce(from_status, '-') || '>' || to_status from app_public.appointment_status_log
         where appointment_id = '12990000-0000-4000-8000-000000000301' order by changed_at, created_at),
  array['booked>checked_in', 'checked_in>in_progress', 'in_progress>completed'],
  'the status log holds every transition');
select is(tests.try_as('doctor.ny@hms.test', format('select app_public.start_appointment(%L)', '12990000-0000-4000-8000-000000000301')),
  'HMS_ILLEGAL_TRANSITION', 'completed is final (409)');

-- ------------------------------------------------------------------------------------------
-- mark_no_show
-- ------------------------------------------------------------------------------------------
select is(tests.try_as('reception.ny@hms.test', format('select app_public.mark_no_show(%L)', (select id from ids where name = 'a3'))),
  'HMS_TOO_EARLY_FOR_NO_SHOW', 'mark_no_show: before scheduled_start + no_show_after_minutes is 422');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.mark_no_show(%L)', '12990000-0000-4000-8000-000000000302')),
  'ok', 'mark_no_show: after the slot');
select results_eq(
  $$select status, no_show_at is not null from app_public.appointments where id = '12990000-0000-4000-8000-000000000302'$$,
  $$values ('no_show'::text, true)$$, 'mark_no_show: no_show with its time');
select is(tests.try_as('reception.ny@hms.test', format('select app_public.mark_no_show(%L)', '12990000-0000-4000-8000-000000000302')),
  'HMS_ILLEGAL_TRANSITION', 'mark_no_show: no_show is final (409)');
select is(tests.try_as('nurse.ny@hms.test', format('select app_public.mark_no_show(%L)', '12990000-0000-4000-8000-000000000303')),
  'HMS_FORBIDDEN', 'mark_no_show: 403 without appointments.manage');

-- ------------------------------------------------------------------------------------------
-- Direct updates (REST PATCH) obey the same rules
-- ------------------------------------------------------------------------------------------
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set status = 'checked_in' where id = %L$$, (select id from ids where name = 'a3'))),
  'HMS_WORKFLOW_REQUIRED', 'PATCH: checked_in only through check_in_appointment (409)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set status = 'rescheduled' where id = %L$$, (select id from ids where name = 'a3'))),
  'HMS_WORKFLOW_REQUIRED', 'PATCH: rescheduled only through reschedule_appointment (409)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set scheduled_start = scheduled_start + interval '1 hour' where id = %L$$, (select id from ids where name = 'a3'))),
  'E:42501', 'PATCH: the slot is immutable: no column privilege (403), it moves only through reschedule_appointment');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set completed_at = now() where id = %L$$, (select id from ids where name = 'a3'))),
  'E:42501', 'PATCH: workflow times are not written by hand: no column privilege (403)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set status = 'completed' where id = %L$$, (select id from ids where name = 'a3'))),
  'HMS_ILLEGAL_TRANSITION', 'PATCH: booked → completed is illegal (409)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set status = 'confirmed', notes = 'Confirmed by phone' where id = %L$$, (select id from ids where name = 'a3'))),
  'ok', 'PATCH: booked → confirmed');
select results_eq(
  format($$select a.confirmed_at is not null, l.changed_by from app_public.appointments a
            join app_public.appointment_status_log l on l.appointment_id = a.id and l.to_status = 'confirmed' where a.id = %L$$, (select id from ids where name = 'a3')),
  $$values (true, '20000000-0000-4000-8000-000000000008'::uuid)$$, 'PATCH: confirmed_at stamped and the change logged');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set status = 'cancelled' where id = %L$$, (select id from ids where name = 'a3'))),
  'HMS_REASON_REQUIRED', 'PATCH: cancelling needs a cancellation_reason (422)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set status = 'no_show' where id = %L$$, (select id from ids where name = 'a3'))),
  'HMS_TOO_EARLY_FOR_NO_SHOW', 'PATCH: no-show timing holds too (422)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set status = 'cancelled', cancellation_reason = 'Feeling better' where id = %L$$, (select id from ids where name = 'a3'))),
  'ok', 'PATCH: confirmed → cancelled with a reason');
select results_eq(
  format($$select cancelled_at is not null, cancelled_by from app_public.appointments where id = %L$$, (select id from ids where name = 'a3')),
  $$values (true, '20000000-0000-4000-8000-000000000008'::uuid)$$, 'PATCH: cancelled_at and cancelled_by stamped');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set status = 'booked' where id = %L$$, (select id from ids where name = 'a3'))),
  'HMS_ILLEGAL_TRANSITION', 'PATCH: cancelled → booked is illegal (409)');
select is(tests.try_as(null, $$update app_public.appointments set status = 'booked' where id = '12990000-0000-4000-8000-000000000301'$$),
  'HMS_ILLEGAL_TRANSITION', 'even the owner cannot reopen a completed appointment (409)');
select is(tests.try_as('reception.ny@hms.test', format($$insert into app_public.appointments (patient_id, doctor_id, department_id, scheduled_start, scheduled_end, status)
  values ('12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', 'd0100000-0000-4000-8000-000000000011', %L, %L, 'completed')$$,
  pg_temp.at(12, '08:00'), pg_temp.at(12, '08:30'))),
  'HMS_ILLEGAL_TRANSITION', 'POST: staff cannot insert an appointment in another status than booked (409)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set notes = 'Wheelchair' where id = %L$$, (select id from ids where name = 'a3'))),
  'ok', 'PATCH: ordinary fields stay editable');

-- ------------------------------------------------------------------------------------------
-- What the kit enforces for the module: stamps from the session, step permissions, protected
-- and immutable columns, the append-only log, the token number following its label
-- ------------------------------------------------------------------------------------------
select results_eq(
  format($$select confirmed_at = app_hidden.now(), cancelled_at = app_hidden.now() from app_public.appointments where id = %L$$, (select id from ids where name = 'a3')),
  $$values (true, true)$$, 'PATCH: the step stamps come from the business clock');
select results_eq(
  $$select checked_in_at = app_hidden.now(), started_at = app_hidden.now(), completed_at = app_hidden.now()
      from app_public.appointments where id = '12990000-0000-4000-8000-000000000301'$$,
  $$values (true, true, true)$$, 'RPC: check-in, start and completion are stamped by the business clock');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set cancelled_by = '20000000-0000-4000-8000-000000000007' where id = %L$$, (select id from ids where name = 'a3'))),
  'E:42501', 'PATCH: who cancelled is never taken from the request (403)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set patient_id = '12990000-0000-4000-8000-000000000204' where id = %L$$, (select id from ids where name = 'a3'))),
  'E:42501', 'PATCH: the patient of a booking is immutable (403)');
select is(tests.try_as('reception.ny@hms.test', format($$update app_public.appointments set quoted_fee = 0 where id = %L$$, (select id from ids where name = 'a3'))),
  'E:42501', 'PATCH: the quoted fee is the booking''s (403)');
select is(tests.try_as('reception.ny@hms.test', format($$insert into app_public.appointments (patient_id, doctor_id, department_id, scheduled_start, scheduled_end, quoted_fee)
  values ('12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', 'd0100000-0000-4000-8000-000000000011', %L, %L, 1)$$,
  pg_temp.at(12, '08:00'), pg_temp.at(12, '08:30'))),
  'E:42501', 'POST: a quoted fee is never sent by a client (403)');
select is(tests.try_as('reception.ny@hms.test', format($$insert into app_public.appointments (patient_id, doctor_id, department_id, scheduled_start, scheduled_end, rescheduled_from_id)
  values ('12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', 'd0100000-0000-4000-8000-000000000011', %L, %L, %L)$$,
  pg_temp.at(12, '08:00'), pg_temp.at(12, '08:30'), (select id from ids where name = 'a2'))),
  'E:42501', 'POST: only reschedule_appointment links a booking to its predecessor (403)');
insert into ids values ('a4', '12990000-0000-4000-8000-000000000304');
select is(tests.try_as('reception.ny@hms.test', format($$insert into app_public.appointments (id, patient_id, doctor_id, department_id, scheduled_start, scheduled_end)
  values ('12990000-0000-4000-8000-000000000304', '12990000-0000-4000-8000-000000000201', '12990000-0000-4000-8000-000000000101', 'd0100000-0000-4000-8000-000000000011', %L, %L)$$,
  pg_temp.at(12, '08:00'), pg_temp.at(12, '08:30'))),
  'ok', 'POST: staff may insert a booked appointment with its patient, doctor and slot');
select is(tests.try_as('nurse.ny@hms.test', $$update app_public.appointments set status = 'cancelled', cancellation_reason = 'x' where id = '12990000-0000-4000-8000-000000000304'$$),
  'HMS_FORBIDDEN', 'PATCH: cancelling needs appointments.manage, as cancel_appointment does (nurse: 403)');
select is(tests.try_as('nurse.ny@hms.test', $$update app_public.appointments set status = 'no_show' where id = '12990000-0000-4000-8000-000000000304'$$),
  'HMS_FORBIDDEN', 'PATCH: a no-show needs appointments.manage, as mark_no_show does (nurse: 403)');
select is(tests.try_as('nurse.ny@hms.test', $$update app_public.appointments set status = 'checked_in' where id = '12990000-0000-4000-8000-000000000304'$$),
  'HMS_WORKFLOW_REQUIRED', 'PATCH: checked_in needs check_in_appointment even with appointments.checkin (409)');
select is((select status from app_public.appointments where id = '12990000-0000-4000-8000-000000000304'), 'booked',
  'the refused PATCHes changed nothing');
select is(tests.try_as(null, $$update app_public.appointments set status = 'completed', completed_at = now() where id = '12990000-0000-4000-8000-000000000304'$$),
  'HMS_ILLEGAL_TRANSITION', 'even the owner cannot take an undeclared step (booked → completed)');

-- The status log is history
select is(tests.try_as(null, $$update app_public.appointment_status_log set reason = 'edited' where appointment_id = '12990000-0000-4000-8000-000000000301'$$),
  'HMS_APPEND_ONLY', 'the status log is append-only, even for the owner (update)');
select is(tests.try_as(null, $$delete from app_public.appointment_status_log where appointment_id = '12990000-0000-4000-8000-000000000301'$$),
  'HMS_APPEND_ONLY', 'the status log is append-only, even for the owner (delete)');
select is(tests.try_as('reception.ny@hms.test', $$update app_public.appointment_status_log set reason = 'edited' where appointment_id = '12990000-0000-4000-8000-000000000301'$$),
  'E:42501', 'staff cannot update the status log (403)');
select is(tests.try_as('reception.ny@hms.test', $$insert into app_public.appointment_status_log (appointment_id, from_status, to_status)
  values ('12990000-0000-4000-8000-000000000304', 'booked', 'completed')$$),
  'E:42501', 'staff cannot write the status log (403)');
select is((select count(*)::int from app_public.appointment_status_log where appointment_id = '12990000-0000-4000-8000-000000000301'), 3,
  'the status log kept its rows');

-- The queue token: its number follows the department's daily label and is never client-written
select results_eq(
  $$select q.token_label ~ ('^' || d.code || '-\d{3}$'), q.token_number = (regexp_match(q.token_label, '(\d+)$'))[1]::int
      from app_public.appointment_queue q join app_public.departments d on d.id = q.department_id
     where q.appointment_id = '12990000-0000-4000-8000-000000000301'$$,
  $$values (true, true)$$, 'check-in: the token label is the department''s counter of the day and token_number follows it');
select is(tests.try_as('nurse.ny@hms.test', $$update app_public.appointment_queue set token_number = 99 where appointment_id = '12990000-0000-4000-8000-000000000301'$$),
  'E:42501', 'queue: token_number is never client-written (403)');
select is(tests.try_as('nurse.ny@hms.test', $$update app_public.appointment_queue set appointment_id = '12990000-0000-4000-8000-000000000304' where appointment_id = '12990000-0000-4000-8000-000000000301'$$),
  'E:42501', 'queue: the appointment of a token is check-in''s (403)');
select is(tests.try_as('nurse.ny@hms.test', $$update app_public.appointment_queue set department_id = 'd0100000-0000-4000-8000-000000000012' where appointment_id = '12990000-0000-4000-8000-000000000301'$$),
  'E:42501', 'queue: the department of a token is immutable (its label counts in it) (403)');
select is(tests.try_as('nurse.ny@hms.test', format($$insert into app_public.appointment_queue (queue_date, department_id, patient_id, notes)
  values (%L, 'd0100000-0000-4000-8000-000000000011', '12990000-0000-4000-8000-000000000201', 'walk-in test')$$,
  app_hidden.hospital_today('10000000-0000-4000-8000-000000000001'))),
  'ok', 'queue: the nurse issues a walk-in token');
select results_eq(
  $$select w.token_number = c.token_number + 1, w.token_number = (regexp_match(w.token_label, '(\d+)$'))[1]::int, w.appointment_id
      from app_public.appointment_queue w, app_public.appointment_queue c
     where w.notes = 'walk-in test' and c.appointment_id = '12990000-0000-4000-8000-000000000301'$$,
  $$values (true, true, null::uuid)$$, 'queue: a walk-in gets the department''s next token of the day, its number following the label');

select * from finish();
rollback;
