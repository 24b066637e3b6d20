-- Structure and key rules of invoices, invoice_items, payments, refunds, credit_notes and
-- daily_settlements (db/schema/app_public/tables/<table>.sql).
begin;
select plan(43);

-- Tables
select has_table('app_public', 'invoices', 'invoices exists');
select has_table('app_public', 'invoice_items', 'invoice_items exists');
select has_table('app_public', 'payments', 'payments exists');
select has_table('app_public', 'refunds', 'refunds exists');
select has_table('app_public', 'credit_notes', 'credit_notes exists');
select has_table('app_public', 'daily_settlements', 'daily_settlements exists');

-- Key columns
select col_type_is('app_public', 'invoices', 'invoice_number', 'text', 'invoices.invoice_number is text');
select col_not_null('app_public', 'invoices', 'invoice_number', 'invoices.invoice_number is required');
select col_type_is('app_public', 'invoices', 'currency_code', 'character(3)', 'invoices.currency_code is char(3)');
select col_type_is('app_public', 'invoices', 'total_amount', 'numeric(12,2)', 'invoices.total_amount is money');
select col_has_default('app_public', 'invoices', 'status', 'invoices.status has a default');
select col_type_is('app_public', 'invoice_items', 'quantity', 'numeric(12,3)', 'invoice_items.quantity is numeric(12,3)');
select col_type_is('app_public', 'payments', 'payment_date', 'timestamp with time zone', 'payments.payment_date is timestamptz');
select col_not_null('app_public', 'payments', 'amount', 'payments.amount is required');
select col_type_is('app_public', 'credit_notes', 'lines', 'jsonb', 'credit_notes.lines is jsonb');
select col_type_is('app_public', 'daily_settlements', 'settlement_date', 'date', 'daily_settlements.settlement_date is a date');

-- Foreign keys (tenant and composite)
select fk_ok('app_public', 'invoices', array['hospital_id'], 'app_public', 'hospitals', array['id'],
  'invoices belong to a hospital');
select fk_ok('app_public', 'invoices', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'invoices bill a patient of the same hospital');
select fk_ok('app_public', 'invoices', array['hospital_id', 'appointment_id'], 'app_public', 'appointments', array['hospital_id', 'id'],
  'invoices reference an appointment of the same hospital');
select fk_ok('app_public', 'invoice_items', array['hospital_id', 'invoice_id'], 'app_public', 'invoices', array['hospital_id', 'id'],
  'invoice_items belong to an invoice of the same hospital');
select fk_ok('app_public', 'invoice_items', array['hospital_id', 'dispensing_item_id'], 'app_public', 'pharmacy_dispensing_items', array['hospital_id', 'id'],
  'invoice_items link the dispensed item they bill');
select fk_ok('app_public', 'invoice_items', array['hospital_id', 'lab_order_id'], 'app_public', 'lab_orders', array['hospital_id', 'id'],
  'invoice_items link the lab order they bill');
select fk_ok('app_public', 'invoice_items', array['hospital_id', 'tax_configuration_id'], 'app_public', 'tax_configurations', array['hospital_id', 'id'],
  'invoice_items reference a tax rule of the same hospital');
select fk_ok('app_public', 'invoice_items', array['hospital_id', 'doctor_id'], 'app_public', 'doctors', array['hospital_id', 'id'],
  'invoice_items credit a doctor of the same hospital');
select fk_ok('app_public', 'payments', array['hospital_id', 'invoice_id'], 'app_public', 'invoices', array['hospital_id', 'id'],
  'payments pay an invoice of the same hospital');
select fk_ok('app_public', 'payments', array['received_by'], 'app_public', 'users', array['id'],
  'payments.received_by references users');
select fk_ok('app_public', 'refunds', array['hospital_id', 'payment_id'], 'app_public', 'payments', array['hospital_id', 'id'],
  'refunds may name the payment they return');
select fk_ok('app_public', 'credit_notes', array['hospital_id', 'invoice_id'], 'app_public', 'invoices', array['hospital_id', 'id'],
  'credit_notes credit an invoice of the same hospital');
select fk_ok('app_public', 'daily_settlements', array['settled_by'], 'app_public', 'users', array['id'],
  'daily_settlements.settled_by references users');

-- Access-path indexes
select has_index('app_public', 'invoices', 'idx_invoices__hospital_id_patient_id_status', 'invoices by patient and status');
select has_index('app_public', 'invoices', 'idx_invoices__hospital_id_invoice_date', 'invoices by day');
select has_index('app_public', 'invoices', 'idx_invoices__open_by_due_date', 'open invoices (partial index)');
select has_index('app_public', 'payments', 'idx_payments__hospital_id_payment_date', 'payments by day (settlement)');
select has_index('app_public', 'refunds', 'idx_refunds__open', 'refunds awaiting approval or payout (partial index)');

-- Fixtures
insert into app_public.hospitals (id, code, name) values
  ('30000000-0000-0000-0000-000000000001', 'BA', 'Billing Hospital A'),
  ('30000000-0000-0000-0000-000000000002', 'BB', 'Billing Hospital B');
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender) values
  ('30000000-0000-0000-0000-000000000101', '30000000-0000-0000-0000-000000000001', 'MRN-BA-0001', 'Paul', 'Payer', date '1975-03-02', 'male'),
  ('30000000-0000-0000-0000-000000000102', '30000000-0000-0000-0000-000000000002', 'MRN-BB-0001', 'Bea', 'Other', date '1990-11-20', 'female');
insert into app_public.daily_settlements (hospital_id, settlement_number, settlement_date) values
  ('30000000-0000-0000-0000-000000000001', 'STL-BA-2026-0001-X', date '2026-01-15');

select lives_ok($$
  insert into app_public.invoices (id, hospital_id, invoice_number, patient_id, invoice_type, currency_code)
  values ('30000000-0000-0000-0000-000000000201', '30000000-0000-0000-0000-000000000001', 'INV-BA-2026-000001-X',
          '30000000-0000-0000-0000-000000000101', 'outpatient', 'USD')
$$, 'a draft invoice can be created');
select lives_ok($$
  insert into app_public.payments (hospital_id, receipt_number, invoice_id, patient_id, amount, payment_method, card_last4)
  values ('30000000-0000-0000-0000-000000000001', 'RCT-BA-2026-000001-X', '30000000-0000-0000-0000-000000000201',
          '30000000-0000-0000-0000-000000000101', 50.00, 'card', '4242')
$$, 'a card payment can be recorded against the invoice');

-- CHECKs and keys
select throws_ok($$
  insert into app_public.invoices (hospital_id, invoice_number, patient_id, status, currency_code)
  values ('30000000-0000-0000-0000-000000000001', 'INV-BA-2026-000002-X', '30000000-0000-0000-0000-000000000101', 'settled', 'USD')
$$, '23514', null, 'an unknown invoice status is refused');
select throws_ok($$
  insert into app_public.invoice_items (hospital_id, invoice_id, line_number, item_type, description, quantity, unit_price)
  values ('30000000-0000-0000-0000-000000000001', '30000000-0000-0000-0000-000000000201', 1, 'consultation', 'Consultation', 0, 80.00)
$$, '23514', null, 'a line with quantity 0 is refused');
select throws_ok($$
  insert into app_public.payments (hospital_id, receipt_number, invoice_id, patient_id, amount, payment_method)
  values ('30000000-0000-0000-0000-000000000001', 'RCT-BA-2026-000002-X', '30000000-0000-0000-0000-000000000201',
          '30000000-0000-0000-0000-000000000101', 0, 'cash')
$$, '23514', null, 'a payment of 0 is refused');
select throws_ok($$
  insert into app_public.payments (hospital_id, receipt_number, invoice_id, patient_id, amount, payment_method, card_last4)
  values ('30000000-0000-0000-0000-000000000001', 'RCT-BA-2026-000003-X', '30000000-0000-0000-0000-000000000201',
          '30000000-0000-0000-0000-000000000101', 10.00, 'card', '4242424242424242')
$$, '23514', null, 'card_last4 holds only four digits, never a full card number');
select throws_ok($$
  insert into app_public.payments (hospital_id, receipt_number, invoice_id, patient_id, amount, payment_method)
  values ('30000000-0000-0000-0000-000000000002', 'RCT-BB-2026-000001-X', '30000000-0000-0000-0000-000000000201',
          '30000000-0000-0000-0000-000000000102', 10.00, 'cash')
$$, '23503', null, 'a payment cannot point at another hospital''s invoice');
select throws_ok($$
  insert into app_public.daily_settlements (hospital_id, settlement_number, settlement_date)
  values ('30000000-0000-0000-0000-000000000001', 'STL-BA-2026-0002-X', date '2026-01-15')
$$, '23505', null, 'a hospital has one settlement per day');
select throws_ok($$
  insert into app_public.credit_notes (hospital_id, credit_note_number, invoice_id, patient_id, amount, reason, lines)
  values ('30000000-0000-0000-0000-000000000001', 'CRN-BA-2026-000001-X', '30000000-0000-0000-0000-000000000201',
          '30000000-0000-0000-0000-000000000101', 5.00, 'Overcharge', '{"line": 1}'::jsonb)
$$, '23514', null, 'credit note lines must be a JSON array');

select * from finish();
rollback;
