-- Schema of prescriptions, prescription_items, prescription_templates, prescription_versions
-- (db/schema/app_public/tables/<table>.sql).
begin;
select plan(29);

-- structure
select has_table('app_public', 'prescriptions', 'prescriptions exists');
select has_table('app_public', 'prescription_items', 'prescription_items exists');
select has_table('app_public', 'prescription_templates', 'prescription_templates exists');
select has_table('app_public', 'prescription_versions', 'prescription_versions exists');
select col_not_null('app_public', 'prescriptions', 'prescription_number', 'prescriptions.prescription_number is required');
select col_type_is('app_public', 'prescriptions', 'diagnosis_codes', 'text[]', 'prescriptions.diagnosis_codes is a text array');
select col_not_null('app_public', 'prescription_items', 'drug_name', 'prescription_items.drug_name (as written) is required');
select col_type_is('app_public', 'prescription_items', 'quantity_prescribed', 'integer', 'prescription_items.quantity_prescribed counts base units');
select col_type_is('app_public', 'prescription_templates', 'items', 'jsonb', 'prescription_templates.items is jsonb');
select col_type_is('app_public', 'prescription_versions', 'snapshot', 'jsonb', 'prescription_versions.snapshot is jsonb');
select fk_ok('app_public', 'prescriptions', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
             'prescriptions.patient_id is a same-hospital reference');
select fk_ok('app_public', 'prescriptions', array['hospital_id', 'doctor_id'], 'app_public', 'doctors', array['hospital_id', 'id'],
             'prescriptions.doctor_id is a same-hospital reference');
select fk_ok('app_public', 'prescriptions', array['hospital_id', 'appointment_id'], 'app_public', 'appointments', array['hospital_id', 'id'],
             'prescriptions.appointment_id is a same-hospital reference');
select fk_ok('app_public', 'prescriptions', array['finalized_by'], 'app_public', 'users', array['id'],
             'prescriptions.finalized_by is a user');
select fk_ok('app_public', 'prescription_items', array['hospital_id', 'prescription_id'], 'app_public', 'prescriptions', array['hospital_id', 'id'],
             'prescription_items.prescription_id is a same-hospital reference');
select fk_ok('app_public', 'prescription_items', array['hospital_id', 'medicine_id'], 'app_public', 'medicines', array['hospital_id', 'id'],
             'prescription_items.medicine_id is a same-hospital reference');
select fk_ok('app_public', 'prescription_versions', array['hospital_id', 'prescription_id'], 'app_public', 'prescriptions', array['hospital_id', 'id'],
             'prescription_versions.prescription_id is a same-hospital reference');
select has_index('app_public', 'prescriptions', 'idx_prescriptions__hospital_id_patient_id_prescribed_at', 'prescriptions by patient');
select has_index('app_public', 'prescriptions', 'idx_prescriptions__hospital_id_status_prescribed_at', 'pharmacy queue of dispensable prescriptions');

-- behaviour
insert into app_public.hospitals (id, code, name) values ('21000000-0000-4000-8000-000000000001', 'TRX', 'Test Prescriptions');
insert into app_public.users (id, email, first_name, last_name)
  values ('21000000-0000-4000-8000-000000000002', 'rx.doctor@test.example', 'Rita', 'Doctor');
insert into app_public.departments (id, hospital_id, code, name)
  values ('21000000-0000-4000-8000-000000000003', '21000000-0000-4000-8000-000000000001', 'GENMED', 'General Medicine');
insert into app_public.doctors (id, hospital_id, user_id, department_id, registration_number, specialization)
  values ('21000000-0000-4000-8000-000000000004', '21000000-0000-4000-8000-000000000001', '21000000-0000-4000-8000-000000000002',
          '21000000-0000-4000-8000-000000000003', 'REG-12345', 'General Medicine');
insert into app_public.patients (id, hospital_id, mrn, first_name, date_of_birth, gender)
  values ('21000000-0000-4000-8000-000000000005', '21000000-0000-4000-8000-000000000001', 'MRN-TRX-1', 'Pat', '1980-05-01', 'female');
insert into app_public.prescriptions (id, hospital_id, prescription_number, patient_id, doctor_id, diagnosis, diagnosis_codes)
  values ('21000000-0000-4000-8000-000000000006', '21000000-0000-4000-8000-000000000001', 'RX-TRX-2026-000001-K',
          '21000000-0000-4000-8000-000000000005', '21000000-0000-4000-8000-000000000004', 'Acute URTI', '{J06.9}');

select lives_ok($$insert into app_public.prescription_items (hospital_id, prescription_id, line_number, drug_name, dose, frequency, frequency_per_day, duration_days, quantity_prescribed)
                  values ('21000000-0000-4000-8000-000000000001', '21000000-0000-4000-8000-000000000006', 1, 'Paracetamol 500 mg tablet', '1 tablet', 'TID', 3, 3, 9)$$,
                'a free-text drug line (no formulary medicine) can be prescribed');
select throws_ok($$insert into app_public.prescription_items (hospital_id, prescription_id, line_number, drug_name, quantity_prescribed)
                   values ('21000000-0000-4000-8000-000000000001', '21000000-0000-4000-8000-000000000006', 1, 'Cetirizine 10 mg tablet', 5)$$,
                 '23505', null, 'line numbers are unique within a prescription');
select throws_ok($$update app_public.prescription_items set quantity_dispensed = 10
                    where prescription_id = '21000000-0000-4000-8000-000000000006' and line_number = 1$$,
                 '23514', null, 'more than prescribed can never be dispensed');
select throws_ok($$update app_public.prescriptions set diagnosis_codes = '{J06.9,flu}' where id = '21000000-0000-4000-8000-000000000006'$$,
                 '23514', null, 'diagnosis codes must look like ICD-10 codes');
select throws_ok($$update app_public.prescriptions set status = 'finalized' where id = '21000000-0000-4000-8000-000000000006'$$,
                 '23514', null, 'a prescription leaves draft only with finalized_at');
select throws_ok($$insert into app_public.prescription_templates (hospital_id, name, items)
                   values ('21000000-0000-4000-8000-000000000001', 'URTI adult', '{"drug_name": "Paracetamol"}')$$,
                 '23514', null, 'template items must be a JSON array');
insert into app_public.prescription_versions (hospital_id, prescription_id, version, snapshot)
  values ('21000000-0000-4000-8000-000000000001', '21000000-0000-4000-8000-000000000006', 1, '{"items": []}');
select throws_ok($$insert into app_public.prescription_versions (hospital_id, prescription_id, version, snapshot)
                   values ('21000000-0000-4000-8000-000000000001', '21000000-0000-4000-8000-000000000006', 1, '{"items": []}')$$,
                 '23505', null, 'one snapshot per prescription version');
select throws_like($$delete from app_public.prescriptions where id = '21000000-0000-4000-8000-000000000006'$$,
                   '%HMS_APPEND_ONLY%', 'a prescription with history is never removed, not even by the owner: its versions are append-only');
select is((select count(*)::int from app_public.prescription_versions where prescription_id = '21000000-0000-4000-8000-000000000006'),
          1, 'the version stays');
insert into app_public.prescriptions (id, hospital_id, prescription_number, patient_id, doctor_id)
  values ('21000000-0000-4000-8000-000000000007', '21000000-0000-4000-8000-000000000001', 'RX-TRX-2026-000002-K',
          '21000000-0000-4000-8000-000000000005', '21000000-0000-4000-8000-000000000004');
insert into app_public.prescription_items (hospital_id, prescription_id, line_number, drug_name, quantity_prescribed)
  values ('21000000-0000-4000-8000-000000000001', '21000000-0000-4000-8000-000000000007', 1, 'Cetirizine 10 mg tablet', 5);
delete from app_public.prescriptions where id = '21000000-0000-4000-8000-000000000007';
select is((select count(*)::int from app_public.prescription_items where prescription_id = '21000000-0000-4000-8000-000000000007'),
          0, 'lines go with their prescription (a draft without history)');

select * from finish();
rollback;
