-- Schema of pharmacy_dispensing, pharmacy_dispensing_items, pharmacy_returns, pharmacy_return_items
-- (db/schema/app_public/tables/<table>.sql).
begin;
select plan(28);

-- structure
select has_table('app_public', 'pharmacy_dispensing', 'pharmacy_dispensing exists');
select has_table('app_public', 'pharmacy_dispensing_items', 'pharmacy_dispensing_items exists');
select has_table('app_public', 'pharmacy_returns', 'pharmacy_returns exists');
select has_table('app_public', 'pharmacy_return_items', 'pharmacy_return_items exists');
select col_not_null('app_public', 'pharmacy_dispensing', 'dispensing_number', 'pharmacy_dispensing.dispensing_number is required');
select col_type_is('app_public', 'pharmacy_dispensing', 'net_amount', 'numeric(12,2)', 'pharmacy_dispensing.net_amount is money');
select col_type_is('app_public', 'pharmacy_dispensing_items', 'quantity', 'integer', 'pharmacy_dispensing_items.quantity counts base units');
select col_not_null('app_public', 'pharmacy_dispensing_items', 'batch_id', 'every dispensed line names its batch');
select col_not_null('app_public', 'pharmacy_returns', 'return_number', 'pharmacy_returns.return_number is required');
select fk_ok('app_public', 'pharmacy_dispensing', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
             'pharmacy_dispensing.patient_id is a same-hospital reference');
select fk_ok('app_public', 'pharmacy_dispensing', array['hospital_id', 'prescription_id'], 'app_public', 'prescriptions', array['hospital_id', 'id'],
             'pharmacy_dispensing.prescription_id is a same-hospital reference');
select fk_ok('app_public', 'pharmacy_dispensing_items', array['hospital_id', 'dispensing_id'], 'app_public', 'pharmacy_dispensing', array['hospital_id', 'id'],
             'pharmacy_dispensing_items.dispensing_id is a same-hospital reference');
select fk_ok('app_public', 'pharmacy_dispensing_items', array['hospital_id', 'prescription_item_id'], 'app_public', 'prescription_items', array['hospital_id', 'id'],
             'pharmacy_dispensing_items.prescription_item_id is a same-hospital reference');
select fk_ok('app_public', 'pharmacy_dispensing_items', array['hospital_id', 'medicine_id', 'batch_id'],
             'app_public', 'medicine_batches', array['hospital_id', 'medicine_id', 'id'],
             'pharmacy_dispensing_items.batch_id is a batch of the line''s medicine, same hospital');
select fk_ok('app_public', 'pharmacy_returns', array['hospital_id', 'dispensing_id'], 'app_public', 'pharmacy_dispensing', array['hospital_id', 'id'],
             'pharmacy_returns.dispensing_id is a same-hospital reference');
select fk_ok('app_public', 'pharmacy_return_items', array['hospital_id', 'return_id'], 'app_public', 'pharmacy_returns', array['hospital_id', 'id'],
             'pharmacy_return_items.return_id is a same-hospital reference');
select fk_ok('app_public', 'pharmacy_return_items', array['hospital_id', 'dispensing_item_id'], 'app_public', 'pharmacy_dispensing_items', array['hospital_id', 'id'],
             'pharmacy_return_items.dispensing_item_id is a same-hospital reference');
select has_index('app_public', 'pharmacy_dispensing', 'idx_pharmacy_dispensing__hospital_id_dispensed_at', 'dispensings by day');
select has_index('app_public', 'pharmacy_dispensing_items', 'idx_pharmacy_dispensing_items__hospital_id_medicine_id_batch_id',
                 'dispensed lines by batch (recalls)');

-- behaviour
insert into app_public.hospitals (id, code, name) values ('23000000-0000-4000-8000-000000000001', 'TPH', 'Test Pharmacy');
insert into app_public.medicines (id, hospital_id, generic_name, dosage_form, base_unit, schedule_category) values
  ('23000000-0000-4000-8000-000000000011', '23000000-0000-4000-8000-000000000001', 'Paracetamol', 'tablet', 'tablet', 'otc'),
  ('23000000-0000-4000-8000-000000000012', '23000000-0000-4000-8000-000000000001', 'Cetirizine', 'tablet', 'tablet', 'otc');
insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, expiry_date, quantity_received, quantity_on_hand) values
  ('23000000-0000-4000-8000-000000000021', '23000000-0000-4000-8000-000000000001', '23000000-0000-4000-8000-000000000011', 'PCM-1', '2028-01-31', 100, 100),
  ('23000000-0000-4000-8000-000000000022', '23000000-0000-4000-8000-000000000001', '23000000-0000-4000-8000-000000000012', 'CTZ-1', '2028-01-31', 50, 50);

select throws_ok($$insert into app_public.pharmacy_dispensing (hospital_id, dispensing_number, dispensing_type)
                   values ('23000000-0000-4000-8000-000000000001', 'DSP-TPH-2026-000001-K', 'otc')$$,
                 '23514', null, 'a dispensing names a patient or a walk-in customer');
select throws_ok($$insert into app_public.pharmacy_dispensing (hospital_id, dispensing_number, customer_name, dispensing_type)
                   values ('23000000-0000-4000-8000-000000000001', 'DSP-TPH-2026-000001-K', 'Walk In', 'prescription')$$,
                 '23514', null, 'a prescription dispensing needs a prescription or an external prescriber');
select lives_ok($$insert into app_public.pharmacy_dispensing (id, hospital_id, dispensing_number, customer_name, dispensing_type)
                  values ('23000000-0000-4000-8000-000000000031', '23000000-0000-4000-8000-000000000001', 'DSP-TPH-2026-000001-K', 'Walk In', 'otc')$$,
                'an over-the-counter sale to a walk-in customer can be recorded');
select throws_ok($$insert into app_public.pharmacy_dispensing_items (hospital_id, dispensing_id, medicine_id, batch_id, quantity, unit_price, expiry_date)
                   values ('23000000-0000-4000-8000-000000000001', '23000000-0000-4000-8000-000000000031',
                           '23000000-0000-4000-8000-000000000011', '23000000-0000-4000-8000-000000000022', 10, 1.50, '2028-01-31')$$,
                 '23503', null, 'a line cannot take stock from a batch of another medicine');
select lives_ok($$insert into app_public.pharmacy_dispensing_items (id, hospital_id, dispensing_id, medicine_id, batch_id, quantity, unit_price, expiry_date)
                  values ('23000000-0000-4000-8000-000000000041', '23000000-0000-4000-8000-000000000001', '23000000-0000-4000-8000-000000000031',
                          '23000000-0000-4000-8000-000000000011', '23000000-0000-4000-8000-000000000021', 10, 1.50, '2028-01-31')$$,
                'a line names a batch of its medicine');
select throws_ok($$update app_public.pharmacy_dispensing_items set quantity_returned = 11 where id = '23000000-0000-4000-8000-000000000041'$$,
                 '23514', null, 'more than was dispensed can never be returned');
insert into app_public.pharmacy_returns (id, hospital_id, return_number, dispensing_id, reason)
  values ('23000000-0000-4000-8000-000000000051', '23000000-0000-4000-8000-000000000001', 'PRT-TPH-2026-000001-K',
          '23000000-0000-4000-8000-000000000031', 'excess_quantity');
select throws_ok($$insert into app_public.pharmacy_return_items (hospital_id, return_id, dispensing_item_id, medicine_id, batch_id, quantity, unit_price, condition, restocked)
                   values ('23000000-0000-4000-8000-000000000001', '23000000-0000-4000-8000-000000000051', '23000000-0000-4000-8000-000000000041',
                           '23000000-0000-4000-8000-000000000011', '23000000-0000-4000-8000-000000000021', 2, 1.50, 'damaged', true)$$,
                 '23514', null, 'damaged units are never restocked');
select throws_ok($$update app_public.pharmacy_returns set status = 'approved' where id = '23000000-0000-4000-8000-000000000051'$$,
                 '23514', null, 'an approved return needs approved_at');
select throws_ok($$delete from app_public.pharmacy_dispensing where id = '23000000-0000-4000-8000-000000000031'$$,
                 '23503', null, 'a dispensing with returns cannot be deleted');

select * from finish();
rollback;
