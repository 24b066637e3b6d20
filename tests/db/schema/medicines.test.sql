-- Schema of medicines (formulary) and medicine_batches (stock per batch)
-- (db/schema/app_public/tables/<table>.sql).
begin;
select plan(28);

-- structure
select has_table('app_public', 'medicines', 'medicines exists');
select has_table('app_public', 'medicine_batches', 'medicine_batches exists');
select col_type_is('app_public', 'medicines', 'generic_name', 'text', 'medicines.generic_name is text');
select col_not_null('app_public', 'medicines', 'dosage_form', 'medicines.dosage_form is required');
select col_not_null('app_public', 'medicines', 'base_unit', 'medicines.base_unit (unit of stock) is required');
select col_type_is('app_public', 'medicines', 'selling_price', 'numeric(12,2)', 'medicines.selling_price is money');
select hasnt_column('app_public', 'medicines', 'quantity_on_hand', 'medicines has no stock column (stock lives on batches)');
select col_type_is('app_public', 'medicine_batches', 'quantity_on_hand', 'integer', 'medicine_batches.quantity_on_hand counts base units');
select col_not_null('app_public', 'medicine_batches', 'expiry_date', 'medicine_batches.expiry_date is required');
select fk_ok('app_public', 'medicines', array['hospital_id'], 'app_public', 'hospitals', array['id'],
             'medicines belong to a hospital');
select fk_ok('app_public', 'medicines', array['hospital_id', 'tax_configuration_id'],
             'app_public', 'tax_configurations', array['hospital_id', 'id'],
             'medicines.tax_configuration_id is a same-hospital reference');
select fk_ok('app_public', 'medicine_batches', array['hospital_id', 'medicine_id'],
             'app_public', 'medicines', array['hospital_id', 'id'],
             'medicine_batches.medicine_id is a same-hospital reference');
select has_index('app_public', 'medicines', 'idx_medicines__hospital_id_generic_name_trgm', 'trigram search on generic names');
select has_index('app_public', 'medicines', 'idx_medicines__hospital_id_brand_name_trgm', 'trigram search on brand names');
select has_index('app_public', 'medicines', 'idx_medicines__hospital_id_barcode', 'barcode lookup (unique per hospital)');
select has_index('app_public', 'medicine_batches', 'idx_medicine_batches__hospital_id_medicine_id_expiry_date',
                 'batches by medicine and expiry (first expiry first out)');

-- behaviour
insert into app_public.hospitals (id, code, name) values
  ('20000000-0000-4000-8000-000000000001', 'TMA', 'Test Medicines A'),
  ('20000000-0000-4000-8000-000000000002', 'TMB', 'Test Medicines B');
insert into app_public.medicines (id, hospital_id, generic_name, brand_name, dosage_form, strength, base_unit, barcode, schedule_category)
values ('20000000-0000-4000-8000-000000000011', '20000000-0000-4000-8000-000000000001',
        'Paracetamol', 'Calpol', 'tablet', '500 mg', 'tablet', '8901234567890', 'otc'),
       ('20000000-0000-4000-8000-000000000012', '20000000-0000-4000-8000-000000000002',
        'Amoxicillin', null, 'capsule', '500 mg', 'capsule', null, 'prescription_only');

select is((select requires_prescription from app_public.medicines where id = '20000000-0000-4000-8000-000000000011'),
          false, 'requires_prescription is derived from the schedule (otc: no)');
select throws_ok($$insert into app_public.medicines (hospital_id, generic_name, dosage_form, base_unit, atc_code)
                   values ('20000000-0000-4000-8000-000000000001', 'Ibuprofen', 'tablet', 'tablet', 'M1AE01')$$,
                 '23514', null, 'a malformed ATC code is refused');
select throws_ok($$insert into app_public.medicines (hospital_id, generic_name, dosage_form, base_unit, barcode)
                   values ('20000000-0000-4000-8000-000000000001', 'Paracetamol', 'syrup', 'ml', '8901234567890')$$,
                 '23505', null, 'a barcode is unique within the hospital');
select lives_ok($$insert into app_public.medicine_batches (hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, quantity_received, quantity_on_hand)
                  values ('20000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000011', 'PCM-001', '2025-01-01', '2027-12-31', 100, 100)$$,
                'a batch of a medicine can be received');
select throws_ok($$insert into app_public.medicine_batches (hospital_id, medicine_id, batch_number, manufacture_date, expiry_date)
                   values ('20000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000011', 'PCM-002', '2026-01-01', '2025-12-31')$$,
                 '23514', null, 'expiry must be after manufacture');
select throws_ok($$update app_public.medicine_batches set quantity_on_hand = -1 where batch_number = 'PCM-001'$$,
                 '23514', null, 'a batch balance can never go negative');
select throws_ok($$insert into app_public.medicine_batches (hospital_id, medicine_id, batch_number, expiry_date)
                   values ('20000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000011', 'PCM-001', '2028-06-30')$$,
                 '23505', null, 'a batch number is unique per medicine');
select throws_ok($$insert into app_public.medicine_batches (hospital_id, medicine_id, batch_number, expiry_date)
                   values ('20000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000012', 'AMX-001', '2027-06-30')$$,
                 '23503', null, 'a batch cannot point at another hospital''s medicine');

-- access: the ledger's columns and a batch's medicine are never written by staff
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_ok($$update app_public.medicine_batches set quantity_on_hand = 0 where hospital_id = '10000000-0000-4000-8000-000000000001'$$,
                 '42501', null, 'staff never write a batch balance (the stock ledger does)');
select throws_ok($$insert into app_public.medicine_batches (medicine_id, batch_number, expiry_date, quantity_received)
                   values ('d2000000-0000-4000-8000-000000000012', 'STAFF-1', current_date + 100, 10)$$,
                 '42501', null, 'staff never write the quantity received (goods receipts do)');
select throws_ok($$update app_public.medicine_batches set medicine_id = medicine_id where hospital_id = '10000000-0000-4000-8000-000000000001'$$,
                 '42501', null, 'a batch stays a batch of the medicine it was received as');
select lives_ok($$update app_public.medicine_batches set storage_location = 'Fridge 2' where hospital_id = '10000000-0000-4000-8000-000000000001'$$,
                'the rest of a batch is kept by staff');
select tests.clear_authentication();

select * from finish();
rollback;
