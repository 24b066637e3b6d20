-- Supply chain workflow (db/schema/app_public/functions/: create_purchase_order, approve_purchase_order,
-- send_purchase_order, cancel_purchase_order, receive_goods): purchase orders
-- (create, totals, approval by another user, send, cancel, legal transitions), goods receipt
-- (PO outstanding, batch creation and top-up, optical products, consumables, PO status), guards
-- on direct writes, tenancy, and the ledger invariant (every batch = Σ of its movements).
begin;
select plan(102);

-- ---------------------------------------------------------------------------------------------
-- Fixtures (as the owner, in NY): suppliers, two medicines, an optical product.
-- ---------------------------------------------------------------------------------------------
-- Business days are the hospital's (NY), as the workflows read them.
create function tests.sc_today() returns date language sql stable as $$ select app_hidden.hospital_today('10000000-0000-4000-8000-000000000001') $$;
grant execute on function tests.sc_today() to public;
insert into app_public.suppliers (id, hospital_id, code, name, drug_licence_number, drug_licence_expiry, is_active) values
  ('e4000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'SCT-OK', 'Supply Test Pharma', 'LIC-1', tests.sc_today() + 365, true),
  ('e4000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001', 'SCT-LAPSED', 'Lapsed Licence Pharma', 'LIC-2', tests.sc_today() - 1, true),
  ('e4000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000001', 'SCT-OLD', 'Former Supplier', null, null, false);
insert into app_public.medicines (id, hospital_id, item_code, generic_name, dosage_form, base_unit, pack_size) values
  ('e4000000-0000-4000-8000-000000000011', '10000000-0000-4000-8000-000000000001', 'SCT-M1', 'Supplytestamol', 'tablet', 'tablet', 10),
  ('e4000000-0000-4000-8000-000000000012', '10000000-0000-4000-8000-000000000001', 'SCT-M2', 'Receivofen', 'tablet', 'tablet', 1);
insert into app_public.optical_products (id, hospital_id, sku, name, product_type, selling_price, purchase_price) values
  ('e4000000-0000-4000-8000-000000000021', '10000000-0000-4000-8000-000000000001', 'SCT-FR-1', 'Supply test frame', 'frame', 80, 20);

create function tests.sc_ledger_ok() returns boolean language sql as $$
  select not exists (
      select 1 from app_public.medicine_batches b
       where b.hospital_id = '10000000-0000-4000-8000-000000000001'
         and b.quantity_on_hand <> coalesce((select sum(m.quantity) from app_public.stock_movements m where m.batch_id = b.id), 0))
     and not exists (
      select 1 from app_public.optical_products p
       where p.id = 'e4000000-0000-4000-8000-000000000021'
         and p.quantity_on_hand <> coalesce((select sum(m.quantity) from app_public.stock_movements m where m.optical_product_id = p.id), 0));
$$;
create function tests.sc_id(p_name text) returns uuid language sql stable as $$ select nullif(current_setting('sc.' || p_name, true), '')::uuid $$;
grant execute on function tests.sc_ledger_ok(), tests.sc_id(text) to public;

-- The lines of PO 1: M1 100 × 2.50 −10 % +5 % tax, M2 50 × 1.00, the frame 5 × 20.00, gloves 10 × 3.00.
create function tests.sc_po1_items() returns jsonb language sql as $$
  select '[{"medicine_id": "e4000000-0000-4000-8000-000000000011", "quantity_ordered": 100, "unit_cost": 2.50, "discount_percent": 10, "tax_percent": 5},
           {"medicine_id": "e4000000-0000-4000-8000-000000000012", "quantity_ordered": 50, "unit_cost": 1.00},
           {"optical_product_id": "e4000000-0000-4000-8000-000000000021", "quantity_ordered": 5, "unit_cost": 20},
           {"description": "Nitrile gloves (box of 100)", "quantity_ordered": 10, "unit_cost": 3}]'::jsonb
$$;
grant execute on function tests.sc_po1_items() to public;
-- A draft GRN entered directly by the current member of staff (PostgREST's POST /goods_receipt_notes).
create function tests.sc_insert_draft_grn() returns setof app_public.goods_receipt_notes language sql as $$
  insert into app_public.goods_receipt_notes (supplier_id, notes) values ('e4000000-0000-4000-8000-000000000001', 'Entered by hand') returning * $$;
grant execute on function tests.sc_insert_draft_grn() to public;

-- ---------------------------------------------------------------------------------------------
-- create_purchase_order: permission, tenancy, input
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', tests.sc_po1_items())$$,
  'HMS_FORBIDDEN', 'a doctor may not raise purchase orders (403)');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.create_purchase_order('d4000000-0000-4000-8000-000000000002', tests.sc_po1_items())$$,
  'HMS_NOT_FOUND', 'another hospital''s (LA) supplier is not found (404)');
select throws_matching($$select app_public.create_purchase_order(gen_random_uuid(), tests.sc_po1_items())$$,
  'HMS_NOT_FOUND', 'an unknown supplier is not found');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000003', tests.sc_po1_items())$$,
  'HMS_SUPPLIER_INACTIVE', 'an inactive supplier gets no orders (422)');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000002', tests.sc_po1_items())$$,
  'HMS_SUPPLIER_LICENCE_EXPIRED', 'no medicines from a supplier whose drug licence lapsed');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', '[]')$$,
  'HMS_ITEMS_REQUIRED', 'an order needs lines');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', null)$$,
  'HMS_ITEMS_REQUIRED', 'null items are refused (422, not 500)');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', '[{"medicine_id": "e4000000-0000-4000-8000-000000000011", "quantity_ordered": 0, "unit_cost": 1}]')$$,
  'HMS_INVALID_QUANTITY', 'a quantity of 0 is refused');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', '[{"medicine_id": "e4000000-0000-4000-8000-000000000011", "quantity_ordered": 2.5, "unit_cost": 1}]')$$,
  'HMS_INVALID_INPUT', 'a fractional quantity is refused (422)');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', '[{"medicine_id": "not-a-uuid", "quantity_ordered": 1, "unit_cost": 1}]')$$,
  'HMS_INVALID_INPUT', 'a malformed medicine id is refused (422, not 500)');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', '[{"medicine_id": "d2000000-0000-4000-8000-000000000021", "quantity_ordered": 1, "unit_cost": 1}]')$$,
  'HMS_NOT_FOUND', 'another hospital''s medicine is not found');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', '[{"medicine_id": "e4000000-0000-4000-8000-000000000011", "quantity_ordered": 1}]')$$,
  'HMS_INVALID_PRICE', 'a line needs a unit cost');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', '[{"medicine_id": "e4000000-0000-4000-8000-000000000011", "quantity_ordered": 1, "unit_cost": 1, "discount_percent": 120}]')$$,
  'HMS_INVALID_PERCENT', 'a discount above 100 % is refused');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', '[{"quantity_ordered": 1, "unit_cost": 1}]')$$,
  'HMS_ITEM_INVALID', 'a line must say what is ordered');
select throws_matching($$select app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', tests.sc_po1_items(), tests.sc_today() - 1)$$,
  'HMS_INVALID_DATE', 'an expected delivery in the past is refused');

-- PO 1 by the pharmacist.
select set_config('sc.po1', (app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001', tests.sc_po1_items(),
  tests.sc_today() + 7, 'Monthly replenishment')).id::text, true);
select tests.clear_authentication();

select is((select status from app_public.purchase_orders where id = tests.sc_id('po1')), 'draft', 'a new purchase order is a draft');
select matches((select po_number from app_public.purchase_orders where id = tests.sc_id('po1')), '^PO-', 'it is numbered from the purchase_order sequence');
select is((select created_by from app_public.purchase_orders where id = tests.sc_id('po1')), '20000000-0000-4000-8000-000000000009'::uuid,
  'created_by is the pharmacist');
select is((select line_total from app_public.purchase_order_items where purchase_order_id = tests.sc_id('po1') and line_number = 1),
  236.25::numeric, 'line total = 100 × 2.50 × 0.90 × 1.05 = 236.25');
select is((select pack_size from app_public.purchase_order_items where purchase_order_id = tests.sc_id('po1') and line_number = 1),
  10, 'the pack size is copied from the medicine');
select is((select array[subtotal, discount_amount, tax_amount, total_amount] from app_public.purchase_orders where id = tests.sc_id('po1')),
  array[430.00, 25.00, 11.25, 416.25]::numeric[], 'order totals from the lines: subtotal 430, discount 25, tax 11.25, total 416.25');

-- Totals follow line edits while a draft (as the pharmacist, directly).
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
update app_public.purchase_order_items set quantity_ordered = 60 where purchase_order_id = tests.sc_id('po1') and line_number = 2;
select tests.clear_authentication();
select is((select total_amount from app_public.purchase_orders where id = tests.sc_id('po1')), 426.25::numeric,
  'editing a draft line recomputes the order total (50 → 60 units: +10.00)');
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
update app_public.purchase_order_items set quantity_ordered = 50 where purchase_order_id = tests.sc_id('po1') and line_number = 2;
select throws_ok($$update app_public.purchase_orders set status = 'approved', approved_at = now() where id = tests.sc_id('po1')$$,
  '42501', 'permission denied for table purchase_orders', 'approval stamps are never written by a client (403)');
select throws_matching($$update app_public.purchase_orders set status = 'approved' where id = tests.sc_id('po1')$$,
  'HMS_WORKFLOW_REQUIRED.*approve_purchase_order', 'approving by PATCHing the status is refused (409): approval goes through approve_purchase_order');
select throws_matching($$update app_public.purchase_orders set status = 'cancelled' where id = tests.sc_id('po1')$$,
  'HMS_WORKFLOW_REQUIRED.*cancel_purchase_order', 'cancelling by PATCHing the status is refused (409): cancellation goes through cancel_purchase_order');
select throws_ok($$update app_public.purchase_orders set total_amount = 1 where id = tests.sc_id('po1')$$,
  '42501', 'permission denied for table purchase_orders', 'order totals are never written by a client (403)');
select throws_ok($$update app_public.purchase_order_items set purchase_order_id = tests.sc_id('po1') where purchase_order_id = tests.sc_id('po1') and line_number = 1$$,
  '42501', 'permission denied for table purchase_order_items', 'a line never moves to another order (403)');
update app_public.purchase_orders set shipping_amount = 12.50 where id = tests.sc_id('po1');
select is((select total_amount from app_public.purchase_orders where id = tests.sc_id('po1')), 428.75::numeric,
  'a draft''s shipping charge counts in its total (416.25 + 12.50)');
update app_public.purchase_orders set shipping_amount = 0 where id = tests.sc_id('po1');

-- ---------------------------------------------------------------------------------------------
-- Approval (inventory.approve, by someone else), sending, illegal transitions
-- ---------------------------------------------------------------------------------------------
select throws_matching($$select app_public.receive_goods(tests.sc_id('po1'), null, '[{"medicine_id": "e4000000-0000-4000-8000-000000000011", "batch_number": "X", "expiry_date": "2099-01-01", "quantity_received": 1}]')$$,
  'HMS_PURCHASE_ORDER_NOT_RECEIVABLE', 'goods are not received against a draft order (409)');
select throws_matching($$select app_public.approve_purchase_order(tests.sc_id('po1'))$$,
  'HMS_FORBIDDEN', 'a pharmacist (no inventory.approve) may not approve');
select throws_matching($$select app_public.send_purchase_order(tests.sc_id('po1'))$$,
  'HMS_ILLEGAL_TRANSITION', 'a draft cannot be sent before approval');

select tests.authenticate_as('admin.ny@hms.test', 'NY');
select set_config('sc.po2', (app_public.create_purchase_order('e4000000-0000-4000-8000-000000000001',
  '[{"medicine_id": "e4000000-0000-4000-8000-000000000012", "quantity_ordered": 10, "unit_cost": 1}]')).id::text, true);
select throws_matching($$select app_public.approve_purchase_order(tests.sc_id('po2'))$$,
  'HMS_APPROVAL_BY_OTHER_USER', 'the creator may not approve their own order (409)');
select is((app_public.approve_purchase_order(tests.sc_id('po1'))).status, 'approved', 'the admin approves the pharmacist''s order');
select throws_matching($$select app_public.approve_purchase_order(tests.sc_id('po1'))$$,
  'HMS_ILLEGAL_TRANSITION', 'approving twice is an illegal transition (409)');
select throws_matching($$select app_public.approve_purchase_order('d4000000-0000-4000-8000-000000000002')$$,
  'HMS_NOT_FOUND', 'an unknown purchase order is not found (404)');
select tests.clear_authentication();
select is((select approved_by from app_public.purchase_orders where id = tests.sc_id('po1')), '20000000-0000-4000-8000-000000000002'::uuid,
  'approved_by is the admin');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$update app_public.purchase_orders set status = 'draft' where id = tests.sc_id('po1')$$,
  'HMS_ILLEGAL_TRANSITION', 'the status machine refuses approved → draft');
select throws_matching($$insert into app_public.purchase_order_items (purchase_order_id, line_number, item_type, medicine_id, quantity_ordered, unit_cost)
                         values (tests.sc_id('po1'), 9, 'medicine', 'e4000000-0000-4000-8000-000000000011', 1000, 1)$$,
  'HMS_DOCUMENT_LOCKED', 'lines cannot be added to an approved order (409)');
select throws_matching($$update app_public.purchase_orders set supplier_id = 'e4000000-0000-4000-8000-000000000003' where id = tests.sc_id('po1')$$,
  'HMS_DOCUMENT_LOCKED', 'an approved order keeps its supplier (409)');
select lives_ok($$update app_public.purchase_orders set notes = 'Deliver to the back door', expected_delivery_date = tests.sc_today() + 10 where id = tests.sc_id('po1')$$,
  'an approved order''s delivery details and notes still change');
select throws_matching($$insert into app_public.purchase_orders (supplier_id, status) values ('e4000000-0000-4000-8000-000000000001', 'received')$$,
  'HMS_ILLEGAL_TRANSITION', 'a purchase order cannot be inserted directly in a later status (409)');
select throws_ok($$insert into app_public.purchase_orders (supplier_id, approved_by) values ('e4000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000002')$$,
  '42501', 'permission denied for table purchase_orders', 'a client never names the approver (403)');
select is((app_public.send_purchase_order(tests.sc_id('po1'))).status, 'sent', 'the pharmacist sends the approved order');

-- ---------------------------------------------------------------------------------------------
-- receive_goods: input and outstanding quantities
-- ---------------------------------------------------------------------------------------------
select set_config('sc.poi_m1', (select id::text from app_public.purchase_order_items where purchase_order_id = tests.sc_id('po1') and line_number = 1), true);
select set_config('sc.poi_m2', (select id::text from app_public.purchase_order_items where purchase_order_id = tests.sc_id('po1') and line_number = 2), true);
select set_config('sc.poi_fr', (select id::text from app_public.purchase_order_items where purchase_order_id = tests.sc_id('po1') and line_number = 3), true);
select set_config('sc.poi_gl', (select id::text from app_public.purchase_order_items where purchase_order_id = tests.sc_id('po1') and line_number = 4), true);

select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": 101}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_QUANTITY_EXCEEDS_OUTSTANDING', 'more than ordered (101 > 100 outstanding) is refused (422)');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": 10}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today()),
  'HMS_EXPIRY_INVALID', 'a medicine expiring today is refused');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "quantity_received": 10}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1')),
  'HMS_EXPIRY_INVALID', 'a medicine without expiry is refused');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "expiry_date": "%s", "quantity_received": 10}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_BATCH_REQUIRED', 'a medicine without batch number is refused');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": 10, "quantity_rejected": 2}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_REJECTION_REASON_REQUIRED', 'rejected units need a reason');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": -3}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_INVALID_QUANTITY', 'a negative quantity is refused');
select throws_matching(format($$select app_public.receive_goods(%L, 'd4000000-0000-4000-8000-000000000001', '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": 1}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_SUPPLIER_MISMATCH', 'a supplier other than the order''s is refused');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "medicine_id": "e4000000-0000-4000-8000-000000000012", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": 1}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_PO_ITEM_MISMATCH', 'a line naming another medicine than its PO line is refused');
select throws_matching($$select app_public.receive_goods(null, null, '[]')$$,
  'HMS_SUPPLIER_REQUIRED', 'a receipt names an order or a supplier');
select throws_matching($$select app_public.receive_goods(null, 'd4000000-0000-4000-8000-000000000002', '[{"medicine_id": "d2000000-0000-4000-8000-000000000021", "batch_number": "X", "expiry_date": "2099-01-01", "quantity_received": 1, "unit_cost": 1}]')$$,
  'HMS_NOT_FOUND', 'another hospital''s (LA) supplier is not found in a direct receipt');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "not a date", "quantity_received": 1}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1')),
  'HMS_INVALID_INPUT', 'a malformed date is refused (422, not 500)');

-- GRN 1: M1 60 + 6 free into a new batch; M2 50 with 5 rejected (matched to its PO line by
-- medicine); the frame 5. The order becomes partially received.
select set_config('sc.grn1', (app_public.receive_goods(tests.sc_id('po1'), null, format($$[
    {"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "manufacture_date": "%s", "expiry_date": "%s", "quantity_received": 60, "free_quantity": 6, "mrp": 5, "selling_price": 4},
    {"medicine_id": "e4000000-0000-4000-8000-000000000012", "batch_number": "SCT-M2-A", "expiry_date": "%s", "quantity_received": 50, "quantity_rejected": 5, "rejection_reason": "Crushed blister packs"},
    {"purchase_order_item_id": "%s", "quantity_received": 5}]$$,
    tests.sc_id('poi_m1'), tests.sc_today() - 30, tests.sc_today() + 400, tests.sc_today() + 300, tests.sc_id('poi_fr'))::jsonb,
  'INV-SCT-1')).id::text, true);
select tests.clear_authentication();

select is((select array[status, inspection_status] from app_public.goods_receipt_notes where id = tests.sc_id('grn1')), array['posted', 'partial'],
  'the GRN is posted; inspection partial (some units rejected)');
select ok((select posted_at is not null and posted_by = '20000000-0000-4000-8000-000000000009' from app_public.goods_receipt_notes where id = tests.sc_id('grn1')),
  'posted_at and posted_by are stamped');
select matches((select grn_number from app_public.goods_receipt_notes where id = tests.sc_id('grn1')), '^GRN-', 'the GRN is numbered');
select is((select array[subtotal, discount_amount, tax_amount, total_amount] from app_public.goods_receipt_notes where id = tests.sc_id('grn1')),
  array[300.00, 15.00, 6.75, 291.75]::numeric[], 'GRN totals from its lines (60 × 2.50 −10 % +5 %, 50 × 1, 5 × 20)');
select is((select array[quantity_on_hand, quantity_received] from app_public.medicine_batches
            where medicine_id = 'e4000000-0000-4000-8000-000000000011' and batch_number = 'SCT-B1'), array[66, 66],
  'a new batch is created with the accepted quantity (60 + 6 free)');
select is((select batch_id from app_public.grn_items where grn_id = tests.sc_id('grn1') and line_number = 1),
  (select id from app_public.medicine_batches where medicine_id = 'e4000000-0000-4000-8000-000000000011' and batch_number = 'SCT-B1'),
  'the GRN line names the batch it created');
select is((select quantity_on_hand from app_public.medicine_batches where medicine_id = 'e4000000-0000-4000-8000-000000000012' and batch_number = 'SCT-M2-A'),
  45, 'rejected units do not enter stock (50 − 5)');
select is((select quantity_on_hand from app_public.optical_products where id = 'e4000000-0000-4000-8000-000000000021'), 5,
  'the optical product''s stock rises by the units received');
select is((select count(*)::int from app_public.stock_movements m join app_public.grn_items gi on gi.id = m.grn_item_id
            where gi.grn_id = tests.sc_id('grn1') and m.movement_type = 'goods_receipt'), 3,
  'one goods_receipt movement per stocked line, linked to its GRN line');
select is((select array_agg(quantity_received order by line_number) from app_public.purchase_order_items where purchase_order_id = tests.sc_id('po1')),
  array[60, 45, 5, 0], 'received − rejected counts against each PO line');
select is((select status from app_public.purchase_orders where id = tests.sc_id('po1')), 'partially_received', 'the order is partially received');
select ok(tests.sc_ledger_ok(), 'after GRN 1 every batch (and the optical product) equals the sum of its movements');

-- Guards on the posted GRN.
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$update app_public.grn_items set quantity_received = 1 where grn_id = tests.sc_id('grn1')$$,
  'HMS_DOCUMENT_LOCKED', 'the lines of a posted GRN cannot be edited (409)');
select lives_ok($$update app_public.grn_items set notes = 'Checked against the invoice' where grn_id = tests.sc_id('grn1')$$,
  'a note on a posted GRN line is still allowed');
select throws_matching($$delete from app_public.goods_receipt_notes where id = tests.sc_id('grn1')$$,
  'HMS_DOCUMENT_LOCKED', 'a posted GRN cannot be (soft-)deleted (409)');
select throws_matching($$delete from app_public.purchase_orders where id = tests.sc_id('po1')$$,
  'HMS_DOCUMENT_LOCKED', 'a partially received order cannot be (soft-)deleted (409)');
select throws_matching($$select app_public.receive_goods(null, 'e4000000-0000-4000-8000-000000000002', '[{"medicine_id": "e4000000-0000-4000-8000-000000000012", "batch_number": "X", "expiry_date": "2099-01-01", "quantity_received": 1, "unit_cost": 1}]')$$,
  'HMS_SUPPLIER_LICENCE_EXPIRED', 'no direct receipt of medicines from a supplier whose licence lapsed');
select throws_matching($$update app_public.goods_receipt_notes set status = 'draft' where id = tests.sc_id('grn1')$$,
  'HMS_ILLEGAL_TRANSITION', 'a posted GRN cannot go back to draft');
select throws_matching($$update app_public.purchase_order_items set quantity_ordered = 1000 where id = tests.sc_id('poi_m1')$$,
  'HMS_DOCUMENT_LOCKED', 'an ordered quantity cannot change once the order is approved (409)');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B9", "expiry_date": "%s", "quantity_received": 41}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_QUANTITY_EXCEEDS_OUTSTANDING', 'the outstanding quantity shrinks with receipts (41 > 40)');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B9", "expiry_date": "%s", "quantity_received": 1}]', 'INV-SCT-1')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_DUPLICATE_SUPPLIER_INVOICE', 'the same supplier invoice is not received twice (409)');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": 1}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 500),
  'HMS_BATCH_EXPIRY_MISMATCH', 'topping up a batch with another expiry date is refused');
select throws_matching($$select app_public.cancel_purchase_order(tests.sc_id('po1'), 'No longer needed')$$,
  'HMS_ILLEGAL_TRANSITION', 'an order with goods received cannot be cancelled');

-- GRN 2: the rest — M1 40 into the same batch (top-up), M2 the 5 outstanding, the gloves.
select set_config('sc.grn2', (app_public.receive_goods(tests.sc_id('po1'), null, format($$[
    {"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": 40},
    {"purchase_order_item_id": "%s", "batch_number": "SCT-M2-B", "expiry_date": "%s", "quantity_received": 5},
    {"purchase_order_item_id": "%s", "quantity_received": 10}]$$,
    tests.sc_id('poi_m1'), tests.sc_today() + 400, tests.sc_id('poi_m2'), tests.sc_today() + 200, tests.sc_id('poi_gl'))::jsonb,
  'INV-SCT-2')).id::text, true);
select tests.clear_authentication();

select is((select count(*)::int from app_public.medicine_batches where medicine_id = 'e4000000-0000-4000-8000-000000000011'), 1,
  'the same medicine and batch number tops up the batch instead of creating another');
select is((select array[quantity_on_hand, quantity_received] from app_public.medicine_batches
            where medicine_id = 'e4000000-0000-4000-8000-000000000011' and batch_number = 'SCT-B1'), array[106, 106],
  'the topped-up batch holds 66 + 40');
select is((select batch_id from app_public.grn_items where grn_id = tests.sc_id('grn2') and line_number = 1),
  (select id from app_public.medicine_batches where medicine_id = 'e4000000-0000-4000-8000-000000000011' and batch_number = 'SCT-B1'),
  'the top-up GRN line names the existing batch');
select is((select batch_id from app_public.grn_items where grn_id = tests.sc_id('grn2') and line_number = 3), null,
  'a consumable line has no batch and moves no stock');
select ok((select status = 'received' and closed_at is not null from app_public.purchase_orders where id = tests.sc_id('po1')),
  'everything received: the order is received and closed');
select is((select inspection_status from app_public.goods_receipt_notes where id = tests.sc_id('grn2')), 'passed', 'nothing rejected: inspection passed');
select ok(tests.sc_ledger_ok(), 'after GRN 2 every batch equals the sum of its movements');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching(format($$select app_public.receive_goods(%L, null, '[{"purchase_order_item_id": "%s", "batch_number": "SCT-B1", "expiry_date": "%s", "quantity_received": 1}]')$$,
  tests.sc_id('po1'), tests.sc_id('poi_m1'), tests.sc_today() + 400),
  'HMS_PURCHASE_ORDER_NOT_RECEIVABLE', 'a received order takes no more goods');

-- Direct receipt (no order): a new batch of M2.
select set_config('sc.grn3', (app_public.receive_goods(null, 'e4000000-0000-4000-8000-000000000001', format($$[
    {"medicine_id": "e4000000-0000-4000-8000-000000000012", "batch_number": "SCT-M2-C", "expiry_date": "%s", "quantity_received": 12, "unit_cost": 0.9}]$$,
    tests.sc_today() + 90)::jsonb)).id::text, true);
select tests.clear_authentication();
select is((select purchase_order_id from app_public.goods_receipt_notes where id = tests.sc_id('grn3')), null, 'a direct receipt has no order');
select is((select quantity_on_hand from app_public.medicine_batches where batch_number = 'SCT-M2-C'), 12, 'a direct receipt creates its batch');

-- ---------------------------------------------------------------------------------------------
-- Cancellation
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.cancel_purchase_order(tests.sc_id('po2'), '  ')$$,
  'HMS_REASON_REQUIRED', 'a cancellation needs a reason');
select is((app_public.cancel_purchase_order(tests.sc_id('po2'), 'Ordered by mistake')).status, 'cancelled', 'a draft order is cancelled');
select throws_matching($$select app_public.approve_purchase_order(tests.sc_id('po2'))$$,
  'HMS_FORBIDDEN', 'the pharmacist still may not approve');
select tests.authenticate_as('superadmin@hms.test', 'NY');
select throws_matching($$select app_public.approve_purchase_order(tests.sc_id('po2'))$$,
  'HMS_ILLEGAL_TRANSITION', 'a cancelled order cannot be approved');
select tests.clear_authentication();
select ok((select cancelled_at is not null and cancelled_by = '20000000-0000-4000-8000-000000000009' and cancellation_reason = 'Ordered by mistake'
             from app_public.purchase_orders where id = tests.sc_id('po2')), 'cancelled_at, cancelled_by and the reason are recorded');
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$update app_public.purchase_orders set status = 'approved' where id = tests.sc_id('po2')$$,
  'HMS_ILLEGAL_TRANSITION', 'cancelled is final');
select throws_matching($$select app_public.cancel_purchase_order(tests.sc_id('po2'), 'Again')$$,
  'HMS_ILLEGAL_TRANSITION', 'a cancelled order is not cancelled twice (409)');
select throws_matching($$delete from app_public.purchase_orders where id = tests.sc_id('po2')$$,
  'HMS_DOCUMENT_LOCKED', 'a cancelled order stays on file (409)');

-- A GRN entered by hand stays a draft: who received it comes from receive_goods, and only it posts.
select throws_ok($$insert into app_public.goods_receipt_notes (supplier_id, received_by) values ('e4000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000002')$$,
  '42501', 'permission denied for table goods_receipt_notes', 'a client never names who received the goods (403)');
select set_config('sc.grn_draft', (select id::text from tests.sc_insert_draft_grn()), true);
select throws_matching($$update app_public.goods_receipt_notes set status = 'posted' where id = tests.sc_id('grn_draft')$$,
  'HMS_WORKFLOW_REQUIRED.*receive_goods', 'a draft GRN is not posted by PATCH (409): posting goes through receive_goods');
select lives_ok($$delete from app_public.goods_receipt_notes where id = tests.sc_id('grn_draft')$$, 'a draft GRN may be deleted');
select tests.clear_authentication();
select ok((select is_deleted from app_public.goods_receipt_notes where id = tests.sc_id('grn_draft')), '… which soft-deletes it');

-- Another hospital's staff see nothing of NY's orders.
select tests.authenticate_as('admin.la@hms.test', 'LA');
select throws_matching($$select app_public.send_purchase_order(tests.sc_id('po2'))$$,
  'HMS_NOT_FOUND', 'LA staff get 404 for a NY purchase order');
select is((select count(*)::int from app_public.purchase_orders where id = tests.sc_id('po1')), 0, 'and cannot read it');
select tests.clear_authentication();
select ok(tests.sc_ledger_ok(), 'at the end every NY batch equals the sum of its movements');

select * from finish();
rollback;
