-- Structure and key rules of insurance_providers, insurance_policies, insurance_claims and
-- pre_authorizations (db/schema/app_public/tables/<table>.sql).
begin;
select plan(30);

-- Tables
select has_table('app_public', 'insurance_providers', 'insurance_providers exists');
select has_table('app_public', 'insurance_policies', 'insurance_policies exists');
select has_table('app_public', 'pre_authorizations', 'pre_authorizations exists');
select has_table('app_public', 'insurance_claims', 'insurance_claims exists');

-- Key columns
select col_type_is('app_public', 'insurance_policies', 'coverage_percent', 'numeric(5,2)', 'insurance_policies.coverage_percent is a percentage');
select col_not_null('app_public', 'insurance_policies', 'policy_number', 'insurance_policies.policy_number is required');
select col_type_is('app_public', 'insurance_claims', 'claimed_amount', 'numeric(12,2)', 'insurance_claims.claimed_amount is money');
select col_type_is('app_public', 'insurance_claims', 'documents', 'jsonb', 'insurance_claims.documents is jsonb');
select col_type_is('app_public', 'pre_authorizations', 'diagnosis_codes', 'text[]', 'pre_authorizations.diagnosis_codes is text[]');
select col_has_default('app_public', 'insurance_claims', 'status', 'insurance_claims.status has a default');

-- Foreign keys (tenant and composite)
select fk_ok('app_public', 'insurance_providers', array['hospital_id'], 'app_public', 'hospitals', array['id'],
  'insurance_providers belong to a hospital');
select fk_ok('app_public', 'insurance_policies', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'insurance_policies cover a patient of the same hospital');
select fk_ok('app_public', 'insurance_policies', array['hospital_id', 'provider_id'], 'app_public', 'insurance_providers', array['hospital_id', 'id'],
  'insurance_policies are with a provider of the same hospital');
select fk_ok('app_public', 'pre_authorizations', array['hospital_id', 'policy_id'], 'app_public', 'insurance_policies', array['hospital_id', 'id'],
  'pre_authorizations are under a policy of the same hospital');
select fk_ok('app_public', 'pre_authorizations', array['hospital_id', 'appointment_id'], 'app_public', 'appointments', array['hospital_id', 'id'],
  'pre_authorizations may name the visit that advised the treatment');
select fk_ok('app_public', 'insurance_claims', array['hospital_id', 'invoice_id'], 'app_public', 'invoices', array['hospital_id', 'id'],
  'insurance_claims claim an invoice of the same hospital');
select fk_ok('app_public', 'insurance_claims', array['hospital_id', 'policy_id'], 'app_public', 'insurance_policies', array['hospital_id', 'id'],
  'insurance_claims are made under a policy of the same hospital');
select fk_ok('app_public', 'insurance_claims', array['hospital_id', 'pre_authorization_id'], 'app_public', 'pre_authorizations', array['hospital_id', 'id'],
  'insurance_claims may use a pre-authorization');

-- Access-path indexes
select has_index('app_public', 'insurance_providers', 'idx_insurance_providers__hospital_id_name_trgm', 'trigram index for provider search');
select has_index('app_public', 'insurance_policies', 'idx_insurance_policies__one_primary_per_patient', 'one active primary policy per patient');
select has_index('app_public', 'insurance_claims', 'idx_insurance_claims__hospital_id_provider_id_status', 'claims by provider and status');
select has_index('app_public', 'insurance_claims', 'idx_insurance_claims__outstanding', 'outstanding claims (partial index)');

-- Fixtures
insert into app_public.hospitals (id, code, name) values
  ('31000000-0000-0000-0000-000000000001', 'IA', 'Insurance Hospital A'),
  ('31000000-0000-0000-0000-000000000002', 'IB', 'Insurance Hospital B');
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender) values
  ('31000000-0000-0000-0000-000000000101', '31000000-0000-0000-0000-000000000001', 'MRN-IA-0001', 'Ivy', 'Insured', date '1982-07-09', 'female');
insert into app_public.insurance_providers (id, hospital_id, code, name, provider_type) values
  ('31000000-0000-0000-0000-000000000302', '31000000-0000-0000-0000-000000000002', 'ACME', 'Acme Health (hospital B)', 'private_insurer');
insert into app_public.invoices (id, hospital_id, invoice_number, patient_id, currency_code) values
  ('31000000-0000-0000-0000-000000000201', '31000000-0000-0000-0000-000000000001', 'INV-IA-2026-000001-X',
   '31000000-0000-0000-0000-000000000101', 'USD');

select lives_ok($$
  insert into app_public.insurance_providers (id, hospital_id, code, name, provider_type, is_cashless_enabled)
  values ('31000000-0000-0000-0000-000000000301', '31000000-0000-0000-0000-000000000001', 'ACME', 'Acme Health', 'private_insurer', true);
  insert into app_public.insurance_policies (id, hospital_id, patient_id, provider_id, policy_number, member_id, valid_from, valid_to, coverage_percent)
  values ('31000000-0000-0000-0000-000000000401', '31000000-0000-0000-0000-000000000001', '31000000-0000-0000-0000-000000000101',
          '31000000-0000-0000-0000-000000000301', 'POL-123', 'M-01', date '2026-01-01', date '2026-12-31', 80)
$$, 'a provider and a primary policy can be recorded');
select lives_ok($$
  insert into app_public.insurance_claims (hospital_id, claim_number, invoice_id, policy_id, provider_id, patient_id, claimed_amount)
  values ('31000000-0000-0000-0000-000000000001', 'CLM-IA-2026-000001-X', '31000000-0000-0000-0000-000000000201',
          '31000000-0000-0000-0000-000000000401', '31000000-0000-0000-0000-000000000301', '31000000-0000-0000-0000-000000000101', 400.00)
$$, 'a draft claim can be recorded');

-- CHECKs and keys
select throws_ok($$
  insert into app_public.insurance_policies (hospital_id, patient_id, provider_id, policy_number, is_primary, valid_from, valid_to)
  values ('31000000-0000-0000-0000-000000000001', '31000000-0000-0000-0000-000000000101', '31000000-0000-0000-0000-000000000301',
          'POL-456', false, date '2026-12-31', date '2026-01-01')
$$, '23514', null, 'a policy cannot end before it starts');
select throws_ok($$
  insert into app_public.insurance_policies (hospital_id, patient_id, provider_id, policy_number, is_primary, coverage_percent)
  values ('31000000-0000-0000-0000-000000000001', '31000000-0000-0000-0000-000000000101', '31000000-0000-0000-0000-000000000301',
          'POL-789', false, 150)
$$, '23514', null, 'coverage_percent is at most 100');
select throws_ok($$
  insert into app_public.insurance_policies (hospital_id, patient_id, provider_id, policy_number, is_primary)
  values ('31000000-0000-0000-0000-000000000001', '31000000-0000-0000-0000-000000000101', '31000000-0000-0000-0000-000000000301',
          'POL-999', true)
$$, '23505', null, 'a patient has at most one active primary policy');
select throws_ok($$
  insert into app_public.insurance_policies (hospital_id, patient_id, provider_id, policy_number, is_primary)
  values ('31000000-0000-0000-0000-000000000001', '31000000-0000-0000-0000-000000000101', '31000000-0000-0000-0000-000000000302',
          'POL-B', false)
$$, '23503', null, 'a policy cannot be with another hospital''s provider');
select throws_ok($$
  insert into app_public.insurance_claims (hospital_id, claim_number, invoice_id, policy_id, provider_id, patient_id, claimed_amount, approved_amount)
  values ('31000000-0000-0000-0000-000000000001', 'CLM-IA-2026-000002-X', '31000000-0000-0000-0000-000000000201',
          '31000000-0000-0000-0000-000000000401', '31000000-0000-0000-0000-000000000301', '31000000-0000-0000-0000-000000000101', 400.00, 450.00)
$$, '23514', null, 'the approved amount cannot exceed the claimed amount');
select throws_ok($$
  insert into app_public.insurance_claims (hospital_id, claim_number, invoice_id, policy_id, provider_id, patient_id, claimed_amount, approved_amount, paid_amount)
  values ('31000000-0000-0000-0000-000000000001', 'CLM-IA-2026-000003-X', '31000000-0000-0000-0000-000000000201',
          '31000000-0000-0000-0000-000000000401', '31000000-0000-0000-0000-000000000301', '31000000-0000-0000-0000-000000000101', 400.00, 300.00, 350.00)
$$, '23514', null, 'the paid amount cannot exceed the approved amount');

select * from finish();
rollback;
