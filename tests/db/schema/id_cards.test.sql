-- Structure and key rules of id_cards (db/schema/app_public/tables/id_cards.sql).
begin;
select plan(24);

select has_table('app_public', 'id_cards', 'id_cards exists');
select col_type_is('app_public', 'id_cards', 'card_number', 'text', 'id_cards.card_number is text');
select col_not_null('app_public', 'id_cards', 'card_number', 'id_cards.card_number is not null');
select col_type_is('app_public', 'id_cards', 'print_count', 'smallint', 'id_cards.print_count is smallint');
select col_type_is('app_public', 'id_cards', 'valid_until', 'date', 'id_cards.valid_until is a date');
select col_default_is('app_public', 'id_cards', 'status', 'active', 'a new card is active');

select fk_ok('app_public', 'id_cards', array['hospital_id'], 'app_public', 'hospitals', array['id'], 'id_cards belong to a hospital');
select fk_ok('app_public', 'id_cards', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'id_cards.patient_id is a composite tenant FK');
select fk_ok('app_public', 'id_cards', array['user_id'], 'app_public', 'users', array['id'], 'id_cards.user_id references users');
select fk_ok('app_public', 'id_cards', array['hospital_id', 'replaced_by_id'], 'app_public', 'id_cards', array['hospital_id', 'id'],
  'id_cards.replaced_by_id is a composite self FK');
select fk_ok('app_public', 'id_cards', array['hospital_id', 'department_id'], 'app_public', 'departments', array['hospital_id', 'id'],
  'id_cards.department_id is a composite tenant FK');

select has_index('app_public', 'id_cards', 'idx_id_cards__hospital_id_patient_id', 'patient FK index');
select has_index('app_public', 'id_cards', 'idx_id_cards__one_active_per_patient', 'one active card per patient and type');
select has_index('app_public', 'id_cards', 'idx_id_cards__one_active_per_user', 'one active card per staff user and type');

insert into app_public.hospitals (id, code, name) values ('52000000-0000-4000-8000-000000000001', 'ZIC', 'ID Card Test Hospital');
insert into app_public.users (id, email, first_name, last_name)
  values ('52000000-0000-4000-8000-000000000002', 'idcard-test@example.test', 'Stan', 'Staff');
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender)
  values ('52000000-0000-4000-8000-000000000003', '52000000-0000-4000-8000-000000000001', 'ZIC-TEST-1', 'Pat', 'Ient', '1975-02-11', 'male');

select lives_ok($$
  insert into app_public.id_cards (id, hospital_id, card_number, holder_type, patient_id, card_type, valid_until, barcode_value, qr_payload)
  values ('52000000-0000-4000-8000-000000000010', '52000000-0000-4000-8000-000000000001', 'IDC-ZIC-1', 'patient',
          '52000000-0000-4000-8000-000000000003', 'patient_health_card', current_date + 365, 'IDC-ZIC-1', 'IDC-ZIC-1')
$$, 'a patient health card is accepted');

select throws_ok($$
  insert into app_public.id_cards (hospital_id, card_number, holder_type, patient_id, card_type)
  values ('52000000-0000-4000-8000-000000000001', 'IDC-ZIC-2', 'patient', '52000000-0000-4000-8000-000000000003', 'patient_health_card')
$$, '23505', null, 'only one active card of a type per patient');

select throws_ok($$
  insert into app_public.id_cards (hospital_id, card_number, holder_type, user_id, card_type)
  values ('52000000-0000-4000-8000-000000000001', 'IDC-ZIC-1', 'staff', '52000000-0000-4000-8000-000000000002', 'staff_badge')
$$, '23505', null, 'card numbers are unique within the hospital');

select throws_ok($$
  insert into app_public.id_cards (hospital_id, card_number, holder_type, patient_id, user_id, card_type)
  values ('52000000-0000-4000-8000-000000000001', 'IDC-ZIC-3', 'staff', '52000000-0000-4000-8000-000000000003',
          '52000000-0000-4000-8000-000000000002', 'staff_badge')
$$, '23514', null, 'a staff card names a user and no patient');

select throws_ok($$
  insert into app_public.id_cards (hospital_id, card_number, holder_type, patient_id, card_type)
  values ('52000000-0000-4000-8000-000000000001', 'IDC-ZIC-4', 'patient', '52000000-0000-4000-8000-000000000003', 'staff_badge')
$$, '23514', null, 'a staff badge cannot be issued to a patient');

select throws_ok($$
  insert into app_public.id_cards (hospital_id, card_number, holder_type, user_id, card_type, valid_from, valid_until)
  values ('52000000-0000-4000-8000-000000000001', 'IDC-ZIC-5', 'staff', '52000000-0000-4000-8000-000000000002', 'staff_badge',
          date '2026-02-01', date '2026-01-31')
$$, '23514', null, 'valid_until cannot be before valid_from');

select throws_ok($$
  insert into app_public.id_cards (hospital_id, card_number, holder_type, user_id, card_type, print_count)
  values ('52000000-0000-4000-8000-000000000001', 'IDC-ZIC-6', 'staff', '52000000-0000-4000-8000-000000000002', 'staff_badge', -1)
$$, '23514', null, 'print_count cannot be negative');

select lives_ok($$
  update app_public.id_cards set status = 'lost' where id = '52000000-0000-4000-8000-000000000010';
  insert into app_public.id_cards (id, hospital_id, card_number, holder_type, patient_id, card_type)
  values ('52000000-0000-4000-8000-000000000011', '52000000-0000-4000-8000-000000000001', 'IDC-ZIC-7', 'patient',
          '52000000-0000-4000-8000-000000000003', 'patient_health_card');
  update app_public.id_cards set replaced_by_id = '52000000-0000-4000-8000-000000000011' where id = '52000000-0000-4000-8000-000000000010'
$$, 'a lost card can be replaced by a new active card');

delete from app_public.id_cards where id = '52000000-0000-4000-8000-000000000011';
select is((select replaced_by_id from app_public.id_cards where id = '52000000-0000-4000-8000-000000000010'), null::uuid,
  'deleting the replacement clears replaced_by_id but keeps hospital_id');

select is((select hospital_id from app_public.id_cards where id = '52000000-0000-4000-8000-000000000010'),
  '52000000-0000-4000-8000-000000000001'::uuid, 'the replaced card keeps its hospital');

select * from finish();
rollback;
