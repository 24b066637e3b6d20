-- Pharmacy workflow (db/schema/app_public/functions/: dispense_prescription, dispense_otc,
-- return_dispensed_items): dispensing against a
-- prescription and over the counter (first expiry, first out), returns, invoice lines through the
-- billing contract, guards on direct writes, and the ledger invariant (batch = Σ movements).
begin;
select plan(106);

-- ---------------------------------------------------------------------------------------------
-- Fixtures (as the owner, in NY): two test medicines with their own batches, prescriptions.
-- ---------------------------------------------------------------------------------------------
insert into app_public.medicines (id, hospital_id, item_code, generic_name, dosage_form, strength, base_unit,
                                  schedule_category, selling_price, tax_configuration_id)
select v.id, '10000000-0000-4000-8000-000000000001', v.code, v.name, 'tablet', '10 mg', 'tablet', v.schedule, v.price, t.id
  from (values ('e2300000-0000-4000-8000-000000000001'::uuid, 'PHT-RX1', 'Testamine', 'prescription_only', 2.00),
               ('e2300000-0000-4000-8000-000000000002'::uuid, 'PHT-OTC1', 'Otcaprofen', 'otc', 1.00)) v(id, code, name, schedule, price)
  join app_public.tax_configurations t on t.hospital_id = '10000000-0000-4000-8000-000000000001' and t.code = 'MED_5';

-- Testamine: an active batch already past expiry, one expiring in 10 days, one in 200 days, one
-- quarantined; Otcaprofen: one expiring in 10 days, one in 100 days.
insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, status)
values
  ('e2300000-0000-4000-8000-000000000101', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000001', 'T-EXPIRED', current_date - 400, current_date - 3, 'active'),
  ('e2300000-0000-4000-8000-000000000102', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000001', 'T-SOON', current_date - 300, current_date + 10, 'active'),
  ('e2300000-0000-4000-8000-000000000103', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000001', 'T-LATE', current_date - 30, current_date + 200, 'active'),
  ('e2300000-0000-4000-8000-000000000104', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000001', 'T-QUAR', current_date - 30, current_date + 5, 'active'),
  ('e2300000-0000-4000-8000-000000000201', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000002', 'O-SOON', current_date - 300, current_date + 10, 'active'),
  ('e2300000-0000-4000-8000-000000000202', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000002', 'O-LATE', current_date - 30, current_date + 100, 'active');
insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason)
select b.hospital_id, 'opening_balance', 'medicine', b.medicine_id, b.id, v.qty, 0, 'pharmacy test stock'
  from (values ('e2300000-0000-4000-8000-000000000101'::uuid, 50), ('e2300000-0000-4000-8000-000000000102'::uuid, 5),
               ('e2300000-0000-4000-8000-000000000103'::uuid, 20), ('e2300000-0000-4000-8000-000000000104'::uuid, 100),
               ('e2300000-0000-4000-8000-000000000201'::uuid, 3), ('e2300000-0000-4000-8000-000000000202'::uuid, 10)) v(id, qty)
  join app_public.medicine_batches b on b.id = v.id;
update app_public.medicine_batches set status = 'quarantined' where id = 'e2300000-0000-4000-8000-000000000104';

-- Prescriptions of NY patient 1 by the NY doctor: P1 (Testamine 20 + Otcaprofen 4 + a drug not
-- stocked), a draft, a cancelled one, an expired one, one asking more than the shelves hold, one
-- of the demo's Lisinopril (FEFO over the demo batches).
insert into app_public.prescriptions (id, hospital_id, patient_id, doctor_id, status, valid_until, finalized_at, cancelled_at)
values
  ('e2300000-0000-4000-8000-000000000301', '10000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000011', 'd1100000-0000-4000-8000-000000000001', 'finalized', current_date + 30, now(), null),
  ('e2300000-0000-4000-8000-000000000302', '10000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000011', 'd1100000-0000-4000-8000-000000000001', 'draft', current_date + 30, null, null),
  ('e2300000-0000-4000-8000-000000000303', '10000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000011', 'd1100000-0000-4000-8000-000000000001', 'cancelled', current_date + 30, null, now()),
  ('e2300000-0000-4000-8000-000000000304', '10000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000011', 'd1100000-0000-4000-8000-000000000001', 'finalized', current_date - 3, now() - interval '40 days', null),
  ('e2300000-0000-4000-8000-000000000305', '10000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000011', 'd1100000-0000-4000-8000-000000000001', 'finalized', current_date + 30, now(), null),
  ('e2300000-0000-4000-8000-000000000306', '10000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000011', 'd1100000-0000-4000-8000-000000000001', 'finalized', current_date + 30, now(), null);
insert into app_public.prescription_items (id, hospital_id, prescription_id, line_number, medicine_id, drug_name, quantity_prescribed)
values
  ('e2300000-0000-4000-8000-000000000311', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000301', 1, 'e2300000-0000-4000-8000-000000000001', 'Testamine 10 mg', 20),
  ('e2300000-0000-4000-8000-000000000312', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000301', 2, 'e2300000-0000-4000-8000-000000000002', 'Otcaprofen 10 mg', 4),
  ('e2300000-0000-4000-8000-000000000313', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000301', 3, null, 'Herbal syrup', 1),
  ('e2300000-0000-4000-8000-000000000321', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000302', 1, 'e2300000-0000-4000-8000-000000000001', 'Testamine 10 mg', 1),
  ('e2300000-0000-4000-8000-000000000331', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000303', 1, 'e2300000-0000-4000-8000-000000000001', 'Testamine 10 mg', 1),
  ('e2300000-0000-4000-8000-000000000341', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000304', 1, 'e2300000-0000-4000-8000-000000000001', 'Testamine 10 mg', 1),
  ('e2300000-0000-4000-8000-000000000351', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000305', 1, 'e2300000-0000-4000-8000-000000000001', 'Testamine 10 mg', 26),
  ('e2300000-0000-4000-8000-000000000361', '10000000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000306', 1, 'd2000000-0000-4000-8000-000000000012', 'Lisinopril', 3);

-- The ledger invariant, checked after every step: each batch of NY equals the sum of its movements.
create function tests.pharm_ledger_ok() returns boolean language sql as $$
  select not exists (
    select 1 from app_public.medicine_batches b
     where b.hospital_id = '10000000-0000-4000-8000-000000000001'
       and b.quantity_on_hand <> coalesce((select sum(m.quantity) from app_public.stock_movements m where m.batch_id = b.id), 0));
$$;
create function tests.pharm_on_hand(p_batch uuid) returns integer language sql as $$
  select quantity_on_hand from app_public.medicine_batches where id = p_batch;
$$;
-- Results of calls made as staff (who may not create tables), read back through views.
create table tests.pharm_results (k text primary key, j jsonb);
grant select, insert on tests.pharm_results to public;
create view tests.pharm_otc1 as select j from tests.pharm_results where k = 'otc1';
create view tests.pharm_otc2 as select j from tests.pharm_results where k = 'otc2';
create view tests.pharm_r1 as select j from tests.pharm_results where k = 'r1';
create view tests.pharm_r2 as select j from tests.pharm_results where k = 'r2';
grant select on tests.pharm_otc1, tests.pharm_otc2, tests.pharm_r1, tests.pharm_r2 to public;
select ok(tests.pharm_ledger_ok(), 'fixtures: every batch equals the sum of its movements');

-- ---------------------------------------------------------------------------------------------
-- Permission, tenancy and input errors
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301')$$,
  'HMS_FORBIDDEN', 'a doctor may not dispense (403 HMS_FORBIDDEN)');
select throws_matching($$select app_public.dispense_otc(null, 'Walk-in', '[{"medicine_id": "e2300000-0000-4000-8000-000000000002", "quantity": 1}]')$$,
  'HMS_FORBIDDEN', 'a doctor may not sell over the counter');
select throws_matching($$select app_public.return_dispensed_items('e2300000-0000-4000-8000-000000000301', '[]', 'other')$$,
  'HMS_FORBIDDEN', 'a doctor may not accept returns');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.dispense_prescription('d2100000-0000-4000-8000-000000000002')$$,
  'HMS_NOT_FOUND', 'another hospital''s (LA) prescription is not found (404)');
select throws_matching($$select app_public.dispense_prescription(gen_random_uuid())$$,
  'HMS_NOT_FOUND', 'an unknown prescription is not found');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000302')$$,
  'HMS_PRESCRIPTION_NOT_FINALIZED', 'a draft prescription is not dispensed');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000303')$$,
  'HMS_PRESCRIPTION_CANCELLED', 'a cancelled prescription is not dispensed');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000304')$$,
  'HMS_PRESCRIPTION_EXPIRED', 'a prescription past valid_until is not dispensed');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[]')$$,
  'HMS_INVALID_ITEMS', 'an empty items array is refused');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[{"prescription_item_id": "nope", "quantity": 1}]')$$,
  'HMS_INVALID_ITEMS', 'a malformed line id is refused (422, not 500)');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[{"prescription_item_id": "e2300000-0000-4000-8000-000000000311", "quantity": -2}]')$$,
  'HMS_INVALID_QUANTITY', 'a negative quantity is refused');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[{"prescription_item_id": "e2300000-0000-4000-8000-000000000311", "quantity": 1.5}]')$$,
  'HMS_INVALID_QUANTITY', 'a fractional quantity is refused');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[{"prescription_item_id": "e2300000-0000-4000-8000-000000000321", "quantity": 1}]')$$,
  'HMS_NOT_FOUND', 'a line of another prescription is not found');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[{"prescription_item_id": "e2300000-0000-4000-8000-000000000313", "quantity": 1}]')$$,
  'HMS_MEDICINE_NOT_STOCKED', 'a line naming no formulary medicine cannot be dispensed from stock');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[{"prescription_item_id": "e2300000-0000-4000-8000-000000000311", "quantity": 1}, {"prescription_item_id": "e2300000-0000-4000-8000-000000000311", "quantity": 1}]')$$,
  'HMS_DUPLICATE_ITEM', 'the same line twice is refused');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[{"prescription_item_id": "e2300000-0000-4000-8000-000000000311", "quantity": 21}]')$$,
  'HMS_QUANTITY_EXCEEDS_PRESCRIBED', 'more than prescribed is refused (422)');

-- Insufficient stock: 26 asked, 25 usable (5 + 20; the expired 50 and quarantined 100 do not count).
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000305')$$,
  'HMS_INSUFFICIENT_STOCK.*requested.{1,6}26.*available.{1,6}25|HMS_INSUFFICIENT_STOCK.*available.{1,6}25.*requested.{1,6}26',
  'not enough usable stock: 409 HMS_INSUFFICIENT_STOCK with requested 26 and available 25 (expired and quarantined batches excluded)');
select tests.clear_authentication();
select is((select count(*)::int from app_public.pharmacy_dispensing where prescription_id = 'e2300000-0000-4000-8000-000000000305'), 0,
  '… and no dispensing was written');
select is(array[tests.pharm_on_hand('e2300000-0000-4000-8000-000000000101'), tests.pharm_on_hand('e2300000-0000-4000-8000-000000000102'),
                tests.pharm_on_hand('e2300000-0000-4000-8000-000000000103'), tests.pharm_on_hand('e2300000-0000-4000-8000-000000000104')],
  array[50, 5, 20, 100], '… and no batch moved');
select is((select quantity_dispensed from app_public.prescription_items where id = 'e2300000-0000-4000-8000-000000000351'), 0,
  '… and the line is not dispensed');

-- ---------------------------------------------------------------------------------------------
-- Partial dispensing: 8 Testamine → FEFO takes T-SOON (5) then T-LATE (3), never T-EXPIRED.
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select is((app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301',
             '[{"prescription_item_id": "e2300000-0000-4000-8000-000000000311", "quantity": 8}]')).status,
  'partially_dispensed', 'a partial dispensing is partially_dispensed');
select tests.clear_authentication();
create table tests.pharm_d1 as
  select d.* from app_public.pharmacy_dispensing d where d.prescription_id = 'e2300000-0000-4000-8000-000000000301';
select is((select count(*)::int from tests.pharm_d1), 1, 'one dispensing was written');
select matches((select dispensing_number from tests.pharm_d1), '^.+$', 'it got its number from the numbering trigger');
select is((select (dispensing_type, patient_id, dispensed_by is not null, dispensed_at is not null)::text from tests.pharm_d1),
  '(prescription,d1000000-0000-4000-8000-000000000011,t,t)', 'it is a prescription dispensing for the patient, stamped with who and when');
select results_eq(
  $$select b.batch_number, i.quantity, i.expiry_date, i.unit_price, i.tax_percent, i.line_total
      from app_public.pharmacy_dispensing_items i join app_public.medicine_batches b on b.id = i.batch_id
     where i.dispensing_id = (select id from tests.pharm_d1) order by i.expiry_date$$,
  $$values ('T-SOON'::text, 5, current_date + 10, 2.00::numeric(12,2), 5.00::numeric(5,2), 10.50::numeric(12,2)),
           ('T-LATE'::text, 3, current_date + 200, 2.00::numeric(12,2), 5.00::numeric(5,2), 6.30::numeric(12,2))$$,
  'first expiry first out: the line is split over T-SOON (all 5) then T-LATE (3), with expiry, price and tax copied');
select is((select (total_amount, tax_amount, net_amount)::text from tests.pharm_d1), '(16.00,0.80,16.80)', 'the dispensing totals are the sums of its lines');
select results_eq(
  $$select m.movement_type, m.quantity, m.balance_after from app_public.stock_movements m
      join app_public.pharmacy_dispensing_items i on i.id = m.dispensing_item_id
     where i.dispensing_id = (select id from tests.pharm_d1) order by i.expiry_date$$,
  $$values ('dispense'::text, -5, 0), ('dispense'::text, -3, 17)$$,
  'one dispense movement (negative) per line, pointing at its line');
select is(array[tests.pharm_on_hand('e2300000-0000-4000-8000-000000000101'), tests.pharm_on_hand('e2300000-0000-4000-8000-000000000102'),
                tests.pharm_on_hand('e2300000-0000-4000-8000-000000000103'), tests.pharm_on_hand('e2300000-0000-4000-8000-000000000104')],
  array[50, 0, 17, 100], 'batches after: expired and quarantined untouched, T-SOON empty, T-LATE 17');
select is((select status from app_public.medicine_batches where id = 'e2300000-0000-4000-8000-000000000102'), 'depleted', 'the emptied batch is depleted');
select ok(tests.pharm_ledger_ok(), 'after the partial dispensing every batch equals the sum of its movements');
select is((select quantity_dispensed from app_public.prescription_items where id = 'e2300000-0000-4000-8000-000000000311'), 8,
  'the prescription line records 8 dispensed');
select is((select status from app_public.prescriptions where id = 'e2300000-0000-4000-8000-000000000301'), 'partially_dispensed',
  'the prescription is partially_dispensed');
select results_eq(
  $$select v.invoice_type, v.status, ii.item_type, ii.description, ii.quantity::int, ii.unit_price, ii.medicine_id, ii.batch_id
      from app_public.invoice_items ii join app_public.invoices v on v.id = ii.invoice_id
      join app_public.pharmacy_dispensing_items i on i.id = ii.dispensing_item_id
     where i.dispensing_id = (select id from tests.pharm_d1) order by i.expiry_date$$,
  $$values ('pharmacy'::text, 'draft'::text, 'medicine'::text, 'Testamine 10 mg (batch T-SOON)'::text, 5, 2.00::numeric(12,2),
            'e2300000-0000-4000-8000-000000000001'::uuid, 'e2300000-0000-4000-8000-000000000102'::uuid),
           ('pharmacy', 'draft', 'medicine', 'Testamine 10 mg (batch T-LATE)', 3, 2.00, 'e2300000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000103')$$,
  'the lines are on the patient''s draft pharmacy invoice in the same transaction (billing contract)');
select is((select v.patient_id from app_public.invoices v join app_public.invoice_items ii on ii.invoice_id = v.id
             join app_public.pharmacy_dispensing_items i on i.id = ii.dispensing_item_id where i.dispensing_id = (select id from tests.pharm_d1) limit 1),
  'd1000000-0000-4000-8000-000000000011'::uuid, '… the invoice is the patient''s');

-- ---------------------------------------------------------------------------------------------
-- The rest: default = everything outstanding (12 Testamine, 4 Otcaprofen), near-expiry block.
-- ---------------------------------------------------------------------------------------------
update app_public.hospital_settings set near_expiry_block_days = 30 where hospital_id = '10000000-0000-4000-8000-000000000001';
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301', '[{"prescription_item_id": "e2300000-0000-4000-8000-000000000311", "quantity": 13}]')$$,
  'HMS_QUANTITY_EXCEEDS_PRESCRIBED', 'after 8 of 20, 13 more is above what is outstanding');
select is((app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301')).status,
  'completed', 'dispensing the rest completes the dispensing (and the prescription, below)');
select tests.clear_authentication();
update app_public.hospital_settings set near_expiry_block_days = 0 where hospital_id = '10000000-0000-4000-8000-000000000001';
create table tests.pharm_d2 as
  select d.* from app_public.pharmacy_dispensing d
   where d.prescription_id = 'e2300000-0000-4000-8000-000000000301' and d.id <> (select id from tests.pharm_d1);
select is((select status from tests.pharm_d2), 'completed', 'the second dispensing is completed');
select results_eq(
  $$select b.batch_number, i.quantity from app_public.pharmacy_dispensing_items i join app_public.medicine_batches b on b.id = i.batch_id
     where i.dispensing_id = (select id from tests.pharm_d2) order by b.batch_number$$,
  $$values ('O-LATE'::text, 4), ('T-LATE'::text, 12)$$,
  'the outstanding quantities are dispensed; with near_expiry_block_days = 30 the batch expiring in 10 days (O-SOON) is skipped');
select results_eq(
  $$select quantity_dispensed from app_public.prescription_items where prescription_id = 'e2300000-0000-4000-8000-000000000301' order by line_number$$,
  $$values (20), (4), (0)$$, 'the lines are fully dispensed (the not-stocked line stays at 0)');
select is((select status from app_public.prescriptions where id = 'e2300000-0000-4000-8000-000000000301'), 'dispensed', 'the prescription is dispensed');
select ok(tests.pharm_ledger_ok(), 'after the full dispensing every batch equals the sum of its movements');
select is((select count(*)::int from app_public.invoice_items ii join app_public.pharmacy_dispensing_items i on i.id = ii.dispensing_item_id
            where i.dispensing_id in (select id from tests.pharm_d1 union all select id from tests.pharm_d2)), 4, 'all four dispensed lines are invoiced');
select is((select count(distinct ii.invoice_id)::int from app_public.invoice_items ii join app_public.pharmacy_dispensing_items i on i.id = ii.dispensing_item_id
            where i.dispensing_id in (select id from tests.pharm_d1 union all select id from tests.pharm_d2)), 1, '… on the same draft invoice');
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.dispense_prescription('e2300000-0000-4000-8000-000000000301')$$,
  'HMS_PRESCRIPTION_ALREADY_DISPENSED', 'a fully dispensed prescription is not dispensed again');

-- The demo's NY batches: Lisinopril takes the batch expiring within 60 days first.
insert into tests.pharm_results select 'lisinopril', to_jsonb(app_public.dispense_prescription('e2300000-0000-4000-8000-000000000306'));
select is((select i.batch_id::text from app_public.pharmacy_dispensing_items i, tests.pharm_results r
            where r.k = 'lisinopril' and i.dispensing_id = (r.j ->> 'id')::uuid order by i.expiry_date limit 1),
  'd2010000-0000-4000-8000-000000000122', 'demo Lisinopril: FEFO takes NRV23D097 (expiring soon) before NRV24J221');
-- OTC aspirin never comes from the expired demo batch BAY23C552.
insert into tests.pharm_results select 'aspirin', to_jsonb(app_public.dispense_otc(null, 'Walk-in customer', '[{"medicine_id": "d2000000-0000-4000-8000-000000000014", "quantity": 2}]'));
select is((select i.batch_id::text from app_public.pharmacy_dispensing_items i, tests.pharm_results r
            where r.k = 'aspirin' and i.dispensing_id = (r.j ->> 'id')::uuid order by i.expiry_date limit 1),
  'd2010000-0000-4000-8000-000000000141', 'demo aspirin: the expired batch BAY23C552 is never used, BAY25A014 is');

-- ---------------------------------------------------------------------------------------------
-- Over the counter
-- ---------------------------------------------------------------------------------------------
select throws_matching($$select app_public.dispense_otc(null, 'Walk-in', '[{"medicine_id": "e2300000-0000-4000-8000-000000000001", "quantity": 1}]')$$,
  'HMS_PRESCRIPTION_REQUIRED', 'a prescription-only medicine is not sold over the counter');
select throws_matching($$select app_public.dispense_otc(null, '  ', '[{"medicine_id": "e2300000-0000-4000-8000-000000000002", "quantity": 1}]')$$,
  'HMS_RECIPIENT_REQUIRED', 'an OTC sale needs a patient or a customer name');
select throws_matching($$select app_public.dispense_otc(null, 'Walk-in', null)$$,
  'HMS_INVALID_ITEMS', 'an OTC sale needs items');
select throws_matching($$select app_public.dispense_otc('d1000000-0000-4000-8000-000000000021', null, '[{"medicine_id": "e2300000-0000-4000-8000-000000000002", "quantity": 1}]')$$,
  'HMS_NOT_FOUND', 'an LA patient is not found in NY');
select throws_matching($$select app_public.dispense_otc(null, 'Walk-in', '[{"medicine_id": "d2000000-0000-4000-8000-000000000022", "quantity": 1}]')$$,
  'HMS_NOT_FOUND', 'an LA medicine is not found in NY');
select throws_matching($$select app_public.dispense_otc(null, 'Walk-in', '[{"medicine_id": "e2300000-0000-4000-8000-000000000002", "quantity": 10}]')$$,
  'HMS_INSUFFICIENT_STOCK', 'an OTC sale above the usable stock (9) is refused');
insert into tests.pharm_results
  select 'otc1', to_jsonb(app_public.dispense_otc(null, 'Walk-in', '[{"medicine_id": "e2300000-0000-4000-8000-000000000002", "quantity": 4}]')) as j;
select is((select jsonb_agg(jsonb_build_object('batch_id', i.batch_id, 'quantity', i.quantity) order by i.expiry_date)
             from tests.pharm_otc1, app_public.pharmacy_dispensing_items i where i.dispensing_id = (j ->> 'id')::uuid),
  '[{"batch_id": "e2300000-0000-4000-8000-000000000201", "quantity": 3}, {"batch_id": "e2300000-0000-4000-8000-000000000202", "quantity": 1}]'::jsonb,
  'an OTC sale takes O-SOON (3) then O-LATE (1)');
select is((select (j ->> 'status', (select count(*) from app_public.invoice_items ii join app_public.pharmacy_dispensing_items i on i.id = ii.dispensing_item_id
                                     where i.dispensing_id = (j ->> 'id')::uuid), j ->> 'customer_name')::text from tests.pharm_otc1), '(completed,0,Walk-in)',
  'a walk-in sale is completed and not invoiced');
insert into tests.pharm_results
  select 'otc2', to_jsonb(app_public.dispense_otc('d1000000-0000-4000-8000-000000000012', null, '[{"medicine_id": "e2300000-0000-4000-8000-000000000002", "quantity": 2}]')) as j;
select tests.clear_authentication();
select is((select count(*)::int from app_public.invoice_items ii join app_public.invoices v on v.id = ii.invoice_id
            where ii.dispensing_item_id in (select i.id from tests.pharm_otc2, app_public.pharmacy_dispensing_items i where i.dispensing_id = (j ->> 'id')::uuid)
              and v.status = 'draft' and v.patient_id = 'd1000000-0000-4000-8000-000000000012'
              and v.invoice_type = 'pharmacy'), 1,
  'an OTC sale to a patient goes on the patient''s pharmacy invoice');
select is((select dispensing_type from app_public.pharmacy_dispensing where id = (select (j ->> 'id')::uuid from tests.pharm_otc2)), 'otc',
  '… as an otc dispensing');
select ok(tests.pharm_ledger_ok(), 'after the OTC sales every batch equals the sum of its movements');

-- ---------------------------------------------------------------------------------------------
-- Returns, against the first dispensing (T-SOON 5 and T-LATE 3)
-- ---------------------------------------------------------------------------------------------
create table tests.pharm_d1_items as
  select b.batch_number, i.id from app_public.pharmacy_dispensing_items i join app_public.medicine_batches b on b.id = i.batch_id
   where i.dispensing_id = (select id from tests.pharm_d1);
grant select on tests.pharm_d1, tests.pharm_d1_items to public;
-- An LA dispensing (draft, as the owner) to prove tenancy.
insert into app_public.pharmacy_dispensing (id, hospital_id, customer_name, dispensing_type, status)
values ('e2300000-0000-4000-8000-000000000901', '10000000-0000-4000-8000-000000000002', 'LA walk-in', 'otc', 'draft');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.return_dispensed_items('e2300000-0000-4000-8000-000000000901', '[]', 'other', 'x')$$,
  'HMS_NOT_FOUND', 'another hospital''s dispensing is not found (404)');
select throws_matching(format($$select app_public.return_dispensed_items(%L, %L, 'unhappy')$$, (select id from tests.pharm_d1),
    jsonb_build_array(jsonb_build_object('dispensing_item_id', (select id from tests.pharm_d1_items where batch_number = 'T-LATE'), 'quantity', 1))),
  'HMS_INVALID_RETURN_REASON', 'an unknown reason is refused');
select throws_matching(format($$select app_public.return_dispensed_items(%L, %L, 'other')$$, (select id from tests.pharm_d1),
    jsonb_build_array(jsonb_build_object('dispensing_item_id', (select id from tests.pharm_d1_items where batch_number = 'T-LATE'), 'quantity', 1))),
  'HMS_RETURN_REASON_NOTES_REQUIRED', 'reason other needs notes');
select throws_matching(format($$select app_public.return_dispensed_items(%L, %L, 'excess_quantity')$$, (select id from tests.pharm_d1),
    jsonb_build_array(jsonb_build_object('dispensing_item_id', (select id from tests.pharm_d1_items where batch_number = 'T-LATE'), 'quantity', 1, 'condition', 'broken'))),
  'HMS_INVALID_CONDITION', 'an unknown condition is refused');
select throws_matching(format($$select app_public.return_dispensed_items(%L, %L, 'excess_quantity')$$, (select id from tests.pharm_d1),
    jsonb_build_array(jsonb_build_object('dispensing_item_id', (select id from tests.pharm_d1_items where batch_number = 'T-LATE'), 'quantity', 4))),
  'HMS_RETURN_EXCEEDS_DISPENSED', 'returning more than dispensed (4 of 3) is refused');
select throws_matching(format($$select app_public.return_dispensed_items(%L, %L, 'excess_quantity')$$, (select id from tests.pharm_d1),
    jsonb_build_array(jsonb_build_object('dispensing_item_id', (select i.id from tests.pharm_otc2, app_public.pharmacy_dispensing_items i where i.dispensing_id = (j ->> 'id')::uuid), 'quantity', 1))),
  'HMS_NOT_FOUND', 'a line of another dispensing is not found');

insert into tests.pharm_results
  select 'r1', to_jsonb(app_public.return_dispensed_items((select id from tests.pharm_d1),
    jsonb_build_array(jsonb_build_object('dispensing_item_id', (select id from tests.pharm_d1_items where batch_number = 'T-LATE'), 'quantity', 2, 'condition', 'resalable')),
    'excess_quantity')) as j;
select is((select (j ->> 'status', (j ->> 'refund_amount')::numeric)::text from tests.pharm_r1), '(completed,4.20)',
  'a return is completed with refund = 2 × 2.00 incl. 5% tax = 4.20');
select throws_matching(format($$select app_public.return_dispensed_items(%L, %L, 'excess_quantity')$$, (select id from tests.pharm_d1),
    jsonb_build_array(jsonb_build_object('dispensing_item_id', (select id from tests.pharm_d1_items where batch_number = 'T-LATE'), 'quantity', 2))),
  'HMS_RETURN_EXCEEDS_DISPENSED', 'after returning 2 of 3, 2 more is refused');
insert into tests.pharm_results
  select 'r2', to_jsonb(app_public.return_dispensed_items((select id from tests.pharm_d1),
    jsonb_build_array(jsonb_build_object('dispensing_item_id', (select id from tests.pharm_d1_items where batch_number = 'T-LATE'), 'quantity', 1, 'condition', 'damaged')),
    'other', 'Blister crushed')) as j;
select tests.clear_authentication();
select is((select (status, refund_amount, approved_at is not null, completed_at is not null, patient_id)::text
             from app_public.pharmacy_returns where id = (select (j ->> 'id')::uuid from tests.pharm_r1)),
  '(completed,4.20,t,t,d1000000-0000-4000-8000-000000000011)', 'the return row is completed with its refund and the patient');
select is((select quantity_returned from app_public.pharmacy_dispensing_items where id = (select id from tests.pharm_d1_items where batch_number = 'T-LATE')), 3,
  'quantity_returned counts both returns');
select results_eq(
  $$select ri.condition, ri.restocked, m.movement_type, m.quantity from app_public.pharmacy_return_items ri
      left join app_public.stock_movements m on m.return_item_id = ri.id
     where ri.return_id in ((select (j ->> 'id')::uuid from tests.pharm_r1), (select (j ->> 'id')::uuid from tests.pharm_r2)) order by ri.condition desc$$,
  $$values ('resalable'::text, true, 'patient_return'::text, 2), ('damaged'::text, false, null::text, null::int)$$,
  'resalable units are restocked with a patient_return movement; damaged ones are not');
select is(tests.pharm_on_hand('e2300000-0000-4000-8000-000000000103'), 7, 'T-LATE: 20 − 3 − 12 + 2 returned = 7');
select ok(tests.pharm_ledger_ok(), 'after the returns every batch equals the sum of its movements');

-- ---------------------------------------------------------------------------------------------
-- Direct writes by staff cannot bypass the workflow
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_ok(format($$update app_public.pharmacy_dispensing set status = 'cancelled' where id = %L$$, (select id from tests.pharm_d1)),
  'PGRST', null, 'a handed-over dispensing cannot be cancelled by a direct update');
select throws_matching(format($$update app_public.pharmacy_dispensing set status = 'cancelled', cancellation_reason = 'Changed mind' where id = %L$$, (select id from tests.pharm_d1)),
  'HMS_ILLEGAL_TRANSITION', '… HMS_ILLEGAL_TRANSITION');
select throws_matching($$insert into app_public.pharmacy_dispensing (customer_name, dispensing_type, status) values ('X', 'otc', 'completed')$$,
  'HMS_WORKFLOW_REQUIRED', 'a dispensing cannot be inserted as completed (no stock, no invoice): only dispense_prescription / dispense_otc create one');
select throws_ok($$update app_public.prescription_items set quantity_dispensed = 0 where id = 'e2300000-0000-4000-8000-000000000311'$$,
  '42501', null, 'staff cannot write prescription_items.quantity_dispensed');
select throws_ok(format($$update app_public.pharmacy_dispensing_items set quantity_returned = 0 where id = %L$$, (select id from tests.pharm_d1_items where batch_number = 'T-LATE')),
  '42501', null, 'staff cannot write pharmacy_dispensing_items.quantity_returned');
select throws_ok(format($$update app_public.pharmacy_dispensing set net_amount = 0 where id = %L$$, (select id from tests.pharm_d1)),
  '42501', null, 'staff cannot write the dispensing totals');
select throws_matching(format($$update app_public.pharmacy_dispensing_items set quantity = 1 where id = %L$$, (select id from tests.pharm_d1_items where batch_number = 'T-LATE')),
  'HMS_DOCUMENT_LOCKED', 'lines of a handed-over dispensing cannot be changed');
select throws_matching(format($$insert into app_public.pharmacy_returns (dispensing_id, reason, status) values (%L, 'damaged', 'completed')$$, (select id from tests.pharm_d1)),
  'HMS_WORKFLOW_REQUIRED', 'a return cannot be inserted as completed (no restock, no refund): only return_dispensed_items creates one');
-- Handed-over dispensings: stamps are the session's, who/what/how much are locked, notes are not.
select throws_ok(format($$update app_public.pharmacy_dispensing set dispensed_by = null where id = %L$$, (select id from tests.pharm_d1)),
  '42501', null, 'who dispensed is never written by clients');
select throws_matching(format($$update app_public.pharmacy_dispensing set patient_id = 'd1000000-0000-4000-8000-000000000012' where id = %L$$, (select id from tests.pharm_d1)),
  'HMS_DOCUMENT_LOCKED', 'a handed-over dispensing keeps its patient');
select lives_ok(format($$update app_public.pharmacy_dispensing set counselling_notes = 'Take with food' where id = %L$$, (select id from tests.pharm_d1)),
  '… its counselling notes stay editable');

-- A draft prepared by hand: its totals follow its lines; it is cancelled, never completed, by PATCH.
select lives_ok($$insert into app_public.pharmacy_dispensing (id, customer_name, dispensing_type) values ('e2300000-0000-4000-8000-000000000911', 'Counter draft', 'otc')$$,
  'a client prepares a draft dispensing');
select lives_ok($$insert into app_public.pharmacy_dispensing_items (dispensing_id, medicine_id, batch_id, quantity, unit_price, expiry_date)
                  values ('e2300000-0000-4000-8000-000000000911', 'e2300000-0000-4000-8000-000000000002', 'e2300000-0000-4000-8000-000000000202', 2, 1.50, current_date + 100)$$,
  '… with a line');
select is((select total_amount from app_public.pharmacy_dispensing where id = 'e2300000-0000-4000-8000-000000000911'), 3.00::numeric(12,2),
  'a draft''s total follows its lines');
select throws_ok($$update app_public.pharmacy_dispensing_items set line_total = 1 where dispensing_id = 'e2300000-0000-4000-8000-000000000911'$$,
  '42501', null, 'line totals are not client-writable');
select throws_matching($$update app_public.pharmacy_dispensing set status = 'completed' where id = 'e2300000-0000-4000-8000-000000000911'$$,
  'HMS_ILLEGAL_TRANSITION', 'a draft is never completed by PATCH (no stock, no invoice)');
select lives_ok($$update app_public.pharmacy_dispensing set status = 'cancelled' where id = 'e2300000-0000-4000-8000-000000000911'$$,
  'a draft is cancelled by PATCH');
select ok((select cancelled_at is not null and cancelled_by = app_hidden.current_user_id()
             from app_public.pharmacy_dispensing where id = 'e2300000-0000-4000-8000-000000000911'),
  '… stamped with the session''s user and time');
select throws_matching($$delete from app_public.pharmacy_dispensing_items where dispensing_id = 'e2300000-0000-4000-8000-000000000911'$$,
  'HMS_DOCUMENT_LOCKED', 'lines of a cancelled dispensing cannot be removed');

-- A return recorded by hand: requested, approved, rejected; received and approved by the session's user.
select throws_ok(format($$insert into app_public.pharmacy_returns (dispensing_id, reason, received_by) values (%L, 'excess_quantity', 'e2300000-0000-4000-8000-000000000001')$$, (select id from tests.pharm_d1)),
  '42501', null, 'who received a return is never taken from the request');
select lives_ok(format($$insert into app_public.pharmacy_returns (id, dispensing_id, patient_id, reason) values ('e2300000-0000-4000-8000-000000000921', %L, 'd1000000-0000-4000-8000-000000000011', 'excess_quantity')$$, (select id from tests.pharm_d1)),
  'a client records a requested return');
select ok((select status = 'requested' and received_by = app_hidden.current_user_id() from app_public.pharmacy_returns where id = 'e2300000-0000-4000-8000-000000000921'),
  '… received by the session''s user');
select lives_ok(format($$insert into app_public.pharmacy_return_items (return_id, dispensing_item_id, medicine_id, batch_id, quantity, unit_price, line_refund)
                        values ('e2300000-0000-4000-8000-000000000921', %L, 'e2300000-0000-4000-8000-000000000001', 'e2300000-0000-4000-8000-000000000102', 1, 2.00, 2.10)$$,
                       (select id from tests.pharm_d1_items where batch_number = 'T-SOON')),
  '… with a line');
select is((select refund_amount from app_public.pharmacy_returns where id = 'e2300000-0000-4000-8000-000000000921'), 2.10::numeric(12,2),
  'a return''s refund follows its lines');
select throws_ok($$update app_public.pharmacy_return_items set restocked = true where return_id = 'e2300000-0000-4000-8000-000000000921'$$,
  '42501', null, 'only return_dispensed_items restocks units');
select throws_matching($$update app_public.pharmacy_returns set status = 'approved' where id = 'e2300000-0000-4000-8000-000000000921'$$,
  'HMS_WORKFLOW_REQUIRED', 'a return is not approved by PATCH');
select throws_matching($$select app_public.approve_pharmacy_return('e2300000-0000-4000-8000-000000000921')$$,
  'HMS_APPROVAL_BY_OTHER_USER', 'who received a return does not approve it');
select tests.authenticate_as('admin.ny@hms.test');
select lives_ok($$select app_public.approve_pharmacy_return('e2300000-0000-4000-8000-000000000921')$$,
  'another member of staff approves it');
select ok((select approved_at is not null and approved_by = app_hidden.current_user_id() from app_public.pharmacy_returns where id = 'e2300000-0000-4000-8000-000000000921'),
  '… stamped with the session''s user and time');
select throws_matching($$update app_public.pharmacy_returns set status = 'rejected' where id = 'e2300000-0000-4000-8000-000000000921'$$,
  'HMS_WORKFLOW_REQUIRED', 'a return is not rejected by PATCH');
select throws_matching($$select app_public.reject_pharmacy_return('e2300000-0000-4000-8000-000000000921', ' ')$$,
  'HMS_REASON_REQUIRED', 'a rejection needs its reason');
select lives_ok($$select app_public.reject_pharmacy_return('e2300000-0000-4000-8000-000000000921', 'Blister opened')$$,
  'an approved return is rejected with a reason');
select throws_matching($$update app_public.pharmacy_return_items set quantity = 2 where return_id = 'e2300000-0000-4000-8000-000000000921'$$,
  'HMS_DOCUMENT_LOCKED', 'lines of a rejected return cannot change');
select throws_matching($$update app_public.pharmacy_returns set reason = 'damaged' where id = 'e2300000-0000-4000-8000-000000000921'$$,
  'HMS_DOCUMENT_LOCKED', 'a rejected return keeps its reason');
select tests.clear_authentication();
select ok(tests.pharm_ledger_ok(), 'at the end every batch of NY equals the sum of its movements');

select * from finish();
rollback;
