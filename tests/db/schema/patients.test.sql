-- Structure and key rules of patients, patient_consents and patient_documents
-- (db/schema/app_public/tables/<table>.sql).
begin;
select plan(30);

-- Tables
select has_table('app_public', 'patients', 'patients exists');
select has_table('app_public', 'patient_consents', 'patient_consents exists');
select has_table('app_public', 'patient_documents', 'patient_documents exists');

-- Key columns
select col_type_is('app_public', 'patients', 'mrn', 'text', 'patients.mrn is text');
select col_not_null('app_public', 'patients', 'mrn', 'patients.mrn is required');
select col_type_is('app_public', 'patients', 'date_of_birth', 'date', 'patients.date_of_birth is a date');
select col_type_is('app_public', 'patients', 'email', 'citext', 'patients.email is citext');
select col_type_is('app_public', 'patients', 'allergies', 'text[]', 'patients.allergies is text[]');
select col_not_null('app_public', 'patients', 'gender', 'patients.gender is required');
select col_type_is('app_public', 'patient_documents', 'size_bytes', 'bigint', 'patient_documents.size_bytes is bigint');
select col_has_default('app_public', 'patient_consents', 'status', 'patient_consents.status has a default');

-- Foreign keys (tenant and composite)
select fk_ok('app_public', 'patients', array['hospital_id'], 'app_public', 'hospitals', array['id'],
  'patients belong to a hospital');
select fk_ok('app_public', 'patient_consents', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'patient_consents reference a patient of the same hospital');
select fk_ok('app_public', 'patient_consents', array['witness_user_id'], 'app_public', 'users', array['id'],
  'patient_consents.witness_user_id references users');
select fk_ok('app_public', 'patient_documents', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'patient_documents reference a patient of the same hospital');
select fk_ok('app_public', 'patient_documents', array['uploaded_by'], 'app_public', 'users', array['id'],
  'patient_documents.uploaded_by references users');

-- Access-path indexes
select has_index('app_public', 'patients', 'idx_patients__hospital_id_full_name_trgm', 'trigram index for name search');
select has_index('app_public', 'patients', 'idx_patients__hospital_id_phone_primary_trgm', 'trigram index for phone search');
select has_index('app_public', 'patients', 'idx_patients__hospital_id_mrn_trgm', 'trigram index for MRN search');
select has_index('app_public', 'patients', 'idx_patients__hospital_id_date_of_birth', 'index on (hospital_id, date_of_birth)');
select has_index('app_public', 'patient_consents', 'idx_patient_consents__hospital_id_patient_id_consent_type', 'consents by patient');
select has_index('app_public', 'patient_documents', 'idx_patient_documents__hospital_id_patient_id_document_type', 'documents by patient');

-- Fixtures
insert into app_public.hospitals (id, code, name) values
  ('10000000-0000-0000-0000-000000000001', 'TA', 'Test Hospital A'),
  ('10000000-0000-0000-0000-000000000002', 'TB', 'Test Hospital B');
insert into app_public.users (id, email, first_name, last_name) values
  ('10000000-0000-0000-0000-0000000000a1', 'nurse.test@example.org', 'Nora', 'Nurse');

select lives_ok($$
  insert into app_public.patients (id, hospital_id, mrn, first_name, middle_name, last_name, date_of_birth, gender, phone_primary)
  values ('10000000-0000-0000-0000-000000000101', '10000000-0000-0000-0000-000000000001', 'MRN-TA-0001',
          'Ann', 'Marie', 'Smith', date '1980-05-17', 'female', '+1 212 555 0100')
$$, 'a valid patient can be registered');
select is((select full_name from app_public.patients where id = '10000000-0000-0000-0000-000000000101'),
  'Ann Marie Smith', 'full_name joins first, middle and last name');

-- CHECKs and keys
select throws_ok($$
  insert into app_public.patients (hospital_id, mrn, first_name, last_name, date_of_birth, gender)
  values ('10000000-0000-0000-0000-000000000001', 'MRN-TA-0002', 'Future', 'Baby', current_date + 30, 'male')
$$, '23514', null, 'a date of birth in the future is refused');
select throws_ok($$
  insert into app_public.patients (hospital_id, mrn, first_name, last_name, date_of_birth, gender, blood_group)
  values ('10000000-0000-0000-0000-000000000001', 'MRN-TA-0003', 'Bad', 'Blood', date '1990-01-01', 'male', 'C+')
$$, '23514', null, 'an unknown blood group is refused');
select throws_ok($$
  insert into app_public.patients (hospital_id, mrn, first_name, last_name, date_of_birth, gender)
  values ('10000000-0000-0000-0000-000000000001', 'MRN-TA-0001', 'Second', 'Holder', date '1990-01-01', 'male')
$$, '23505', null, 'an MRN is unique within the hospital');
select throws_ok($$
  insert into app_public.patient_consents (hospital_id, patient_id, consent_type, status)
  values ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000101', 'surgery', 'withdrawn')
$$, '23514', null, 'a withdrawn consent needs withdrawn_at');
select throws_ok($$
  insert into app_public.patient_consents (hospital_id, patient_id, consent_type)
  values ('10000000-0000-0000-0000-000000000002', '10000000-0000-0000-0000-000000000101', 'treatment')
$$, '23503', null, 'a consent cannot point at a patient of another hospital');
select throws_ok($$
  insert into app_public.patient_documents (hospital_id, patient_id, document_type, title, file_name, file_url, sha256, uploaded_by)
  values ('10000000-0000-0000-0000-000000000001', '10000000-0000-0000-0000-000000000101', 'lab_report', 'CBC',
          'cbc.pdf', 's3://docs/cbc.pdf', 'not-a-hash', '10000000-0000-0000-0000-0000000000a1')
$$, '23514', null, 'a malformed sha256 is refused');

select * from finish();
rollback;
