-- Structure and key rules of doctors, doctor_schedules, doctor_leaves and doctor_fees
-- (db/schema/app_public/tables/<table>.sql).
begin;
select plan(31);

-- The tables, and the link from a department to its head of department
select has_table('app_public', 'doctors', 'doctors exists');
select has_table('app_public', 'doctor_schedules', 'doctor_schedules exists');
select has_table('app_public', 'doctor_leaves', 'doctor_leaves exists');
select has_table('app_public', 'doctor_fees', 'doctor_fees exists');
select has_column('app_public', 'departments', 'head_doctor_id', 'departments.head_doctor_id exists');

-- Key columns
select col_not_null('app_public', 'doctors', 'user_id', 'doctors.user_id is required');
select col_type_is('app_public', 'doctors', 'qualifications', 'text[]', 'doctors.qualifications is text[]');
select col_type_is('app_public', 'doctor_schedules', 'day_of_week', 'smallint', 'doctor_schedules.day_of_week is smallint');
select col_type_is('app_public', 'doctor_schedules', 'start_time', 'time without time zone', 'doctor_schedules.start_time is a clock time');
select col_type_is('app_public', 'doctor_fees', 'amount', 'numeric(12,2)', 'doctor_fees.amount is money');

-- Foreign keys
select fk_ok('app_public', 'doctors', array['user_id'], 'app_public', 'users', array['id'],
  'doctors.user_id references users');
select fk_ok('app_public', 'doctors', array['hospital_id', 'department_id'], 'app_public', 'departments', array['hospital_id', 'id'],
  'a doctor belongs to a department of the same hospital');
select fk_ok('app_public', 'departments', array['hospital_id', 'head_doctor_id'], 'app_public', 'doctors', array['hospital_id', 'id'],
  'a department head is a doctor of the same hospital');
select fk_ok('app_public', 'doctor_schedules', array['hospital_id', 'doctor_id'], 'app_public', 'doctors', array['hospital_id', 'id'],
  'doctor_schedules reference a doctor of the same hospital');
select fk_ok('app_public', 'doctor_leaves', array['hospital_id', 'substitute_doctor_id'], 'app_public', 'doctors', array['hospital_id', 'id'],
  'a substitute is a doctor of the same hospital');
select fk_ok('app_public', 'doctor_fees', array['hospital_id', 'tax_configuration_id'], 'app_public', 'tax_configurations', array['hospital_id', 'id'],
  'doctor_fees reference a tax rule of the same hospital');

-- Keys and access-path indexes
select has_index('app_public', 'doctors', 'doctors_hospital_id_user_id_key', 'one doctor row per hospital and user');
select has_index('app_public', 'doctors', 'idx_doctors__user_id', 'doctors by user');
select has_index('app_public', 'doctor_schedules', 'doctor_schedules_no_overlap_excl', 'schedule overlap exclusion');
select has_index('app_public', 'doctor_leaves', 'idx_doctor_leaves__hospital_id_doctor_id_start_date', 'leaves by doctor');
select has_index('app_public', 'doctor_fees', 'doctor_fees_no_overlap_excl', 'fee validity overlap exclusion');

-- Fixtures
insert into app_public.hospitals (id, code, name) values
  ('11000000-0000-0000-0000-000000000001', 'TA', 'Test Hospital A');
insert into app_public.departments (id, hospital_id, code, name) values
  ('11000000-0000-0000-0000-000000000011', '11000000-0000-0000-0000-000000000001', 'CARD', 'Cardiology');
insert into app_public.users (id, email, first_name, last_name) values
  ('11000000-0000-0000-0000-0000000000a1', 'dr.heart@example.org', 'Hana', 'Heart'),
  ('11000000-0000-0000-0000-0000000000a2', 'dr.beat@example.org', 'Ben', 'Beat');
insert into app_public.doctors (id, hospital_id, user_id, department_id, registration_number, specialization) values
  ('11000000-0000-0000-0000-000000000101', '11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-0000000000a1',
   '11000000-0000-0000-0000-000000000011', 'MC-10001', 'Cardiology');
insert into app_public.doctor_schedules (hospital_id, doctor_id, day_of_week, session, start_time, end_time, valid_from) values
  ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 1, 'morning', '09:00', '13:00', date '2026-01-01');
insert into app_public.doctor_fees (hospital_id, doctor_id, visit_type, amount, valid_from) values
  ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 'new_consultation', 500, date '2026-01-01');

-- Rules
select throws_ok($$
  insert into app_public.doctors (hospital_id, user_id, department_id, registration_number, specialization)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-0000000000a1',
          '11000000-0000-0000-0000-000000000011', 'MC-10002', 'Cardiology')
$$, '23505', null, 'a user is a doctor at most once per hospital');
select throws_ok($$
  insert into app_public.doctor_schedules (hospital_id, doctor_id, day_of_week, start_time, end_time)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 7, '09:00', '10:00')
$$, '23514', null, 'day_of_week must be 0 to 6');
select throws_ok($$
  insert into app_public.doctor_schedules (hospital_id, doctor_id, day_of_week, start_time, end_time)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 2, '13:00', '09:00')
$$, '23514', null, 'a session must end after it starts');
select throws_ok($$
  insert into app_public.doctor_schedules (hospital_id, doctor_id, day_of_week, start_time, end_time, valid_from)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 1, '12:00', '15:00', date '2026-03-01')
$$, '23P01', null, 'active sessions of a doctor may not overlap on the same weekday');
select lives_ok($$
  insert into app_public.doctor_schedules (hospital_id, doctor_id, day_of_week, start_time, end_time, valid_from)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 1, '13:00', '17:00', date '2026-01-01')
$$, 'back-to-back sessions are allowed');
select throws_ok($$
  insert into app_public.doctor_schedules (hospital_id, doctor_id, day_of_week, start_time, end_time, slot_minutes)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 3, '09:00', '10:00', 3)
$$, '23514', null, 'slot_minutes must be 5 to 240');
select throws_ok($$
  insert into app_public.doctor_leaves (hospital_id, doctor_id, leave_type, start_date, end_date)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 'vacation', date '2026-05-10', date '2026-05-01')
$$, '23514', null, 'a leave must end on or after its start');
select throws_ok($$
  insert into app_public.doctor_fees (hospital_id, doctor_id, visit_type, amount)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 'follow_up', -1)
$$, '23514', null, 'a fee cannot be negative');
select throws_ok($$
  insert into app_public.doctor_fees (hospital_id, doctor_id, visit_type, amount, valid_from)
  values ('11000000-0000-0000-0000-000000000001', '11000000-0000-0000-0000-000000000101', 'new_consultation', 600, date '2026-06-01')
$$, '23P01', null, 'active fees of one doctor and visit type may not overlap in time');
select lives_ok($$
  update app_public.departments set head_doctor_id = '11000000-0000-0000-0000-000000000101'
   where id = '11000000-0000-0000-0000-000000000011'
$$, 'a doctor of the hospital can head its department');

select * from finish();
rollback;
