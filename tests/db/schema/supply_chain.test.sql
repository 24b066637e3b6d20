-- Structure and key rules of suppliers, purchase_orders, purchase_order_items, goods_receipt_notes,
-- grn_items (db/schema/app_public/tables/<table>.sql).
begin;
select plan(46);

-- Tables
select has_table('app_public', 'suppliers', 'suppliers exists');
select has_table('app_public', 'purchase_orders', 'purchase_orders exists');
select has_table('app_public', 'purchase_order_items', 'purchase_order_items exists');
select has_table('app_public', 'goods_receipt_notes', 'goods_receipt_notes exists');
select has_table('app_public', 'grn_items', 'grn_items exists');

-- Key columns
select col_not_null('app_public', 'suppliers', 'code', 'suppliers.code is not null');
select col_type_is('app_public', 'suppliers', 'rating', 'smallint', 'suppliers.rating is smallint');
select col_type_is('app_public', 'suppliers', 'credit_limit', 'numeric(12,2)', 'suppliers.credit_limit is money');
select col_not_null('app_public', 'purchase_orders', 'po_number', 'purchase_orders.po_number is not null');
select col_default_is('app_public', 'purchase_orders', 'status', 'draft', 'a new purchase order is a draft');
select col_type_is('app_public', 'purchase_orders', 'total_amount', 'numeric(12,2)', 'purchase_orders.total_amount is money');
select col_type_is('app_public', 'purchase_order_items', 'quantity_ordered', 'integer', 'purchase_order_items.quantity_ordered is integer (base units)');
select col_not_null('app_public', 'goods_receipt_notes', 'grn_number', 'goods_receipt_notes.grn_number is not null');
select col_type_is('app_public', 'goods_receipt_notes', 'received_at', 'timestamp with time zone', 'goods_receipt_notes.received_at is timestamptz');
select col_type_is('app_public', 'grn_items', 'expiry_date', 'date', 'grn_items.expiry_date is a date');
select col_type_is('app_public', 'grn_items', 'quantity_accepted', 'integer', 'grn_items.quantity_accepted is integer');

-- Foreign keys
select fk_ok('app_public', 'suppliers', array['hospital_id'], 'app_public', 'hospitals', array['id'], 'suppliers belong to a hospital');
select fk_ok('app_public', 'purchase_orders', array['hospital_id', 'supplier_id'], 'app_public', 'suppliers', array['hospital_id', 'id'],
  'purchase_orders.supplier_id is a composite tenant FK');
select fk_ok('app_public', 'purchase_orders', array['hospital_id', 'department_id'], 'app_public', 'departments', array['hospital_id', 'id'],
  'purchase_orders.department_id is a composite tenant FK');
select fk_ok('app_public', 'purchase_orders', array['approved_by'], 'app_public', 'users', array['id'], 'purchase_orders.approved_by references users');
select fk_ok('app_public', 'purchase_order_items', array['hospital_id', 'purchase_order_id'], 'app_public', 'purchase_orders', array['hospital_id', 'id'],
  'purchase_order_items.purchase_order_id is a composite tenant FK');
select fk_ok('app_public', 'purchase_order_items', array['hospital_id', 'medicine_id'], 'app_public', 'medicines', array['hospital_id', 'id'],
  'purchase_order_items.medicine_id is a composite tenant FK');
select fk_ok('app_public', 'purchase_order_items', array['hospital_id', 'optical_product_id'], 'app_public', 'optical_products', array['hospital_id', 'id'],
  'purchase_order_items.optical_product_id is a composite tenant FK');
select fk_ok('app_public', 'goods_receipt_notes', array['hospital_id', 'purchase_order_id'], 'app_public', 'purchase_orders', array['hospital_id', 'id'],
  'goods_receipt_notes.purchase_order_id is a composite tenant FK');
select fk_ok('app_public', 'goods_receipt_notes', array['hospital_id', 'supplier_id'], 'app_public', 'suppliers', array['hospital_id', 'id'],
  'goods_receipt_notes.supplier_id is a composite tenant FK');
select fk_ok('app_public', 'grn_items', array['hospital_id', 'grn_id'], 'app_public', 'goods_receipt_notes', array['hospital_id', 'id'],
  'grn_items.grn_id is a composite tenant FK');
select fk_ok('app_public', 'grn_items', array['hospital_id', 'purchase_order_item_id'], 'app_public', 'purchase_order_items', array['hospital_id', 'id'],
  'grn_items.purchase_order_item_id is a composite tenant FK');
select fk_ok('app_public', 'grn_items', array['hospital_id', 'medicine_id', 'batch_id'], 'app_public', 'medicine_batches', array['hospital_id', 'medicine_id', 'id'],
  'grn_items.batch_id must be a batch of the line''s medicine, in the same hospital');

-- Access-path indexes
select has_index('app_public', 'suppliers', 'idx_suppliers__hospital_id_name_trgm', 'supplier name trigram search'::text);
select has_index('app_public', 'purchase_orders', 'purchase_orders_hospital_id_po_number_key', 'PO number unique per hospital'::text);
select has_index('app_public', 'purchase_orders', 'idx_purchase_orders__hospital_id_status_expected_delivery_date', 'open purchase orders by status'::text);
select has_index('app_public', 'goods_receipt_notes', 'goods_receipt_notes_hospital_id_grn_number_key', 'GRN number unique per hospital'::text);
select has_index('app_public', 'goods_receipt_notes', 'idx_goods_receipt_notes__supplier_invoice', 'a supplier invoice is entered once'::text);
select has_index('app_public', 'grn_items', 'idx_grn_items__hospital_id_medicine_id_batch_id', 'GRN lines by medicine and batch'::text);

-- Fixtures: two hospitals, a supplier in each, two medicines and a batch, an order and a GRN.
insert into app_public.hospitals (id, code, name) values
  ('4000aaaa-0000-4000-8000-000000000001', 'ZSCA', 'Supply Chain Test A'),
  ('4000aaaa-0000-4000-8000-000000000002', 'ZSCB', 'Supply Chain Test B');
insert into app_public.suppliers (id, hospital_id, code, name) values
  ('4000bbbb-0000-4000-8000-000000000001', '4000aaaa-0000-4000-8000-000000000001', 'MEDPLUS', 'MedPlus Distributors'),
  ('4000bbbb-0000-4000-8000-000000000002', '4000aaaa-0000-4000-8000-000000000002', 'MEDPLUS', 'MedPlus Distributors');
insert into app_public.medicines (id, hospital_id, generic_name, dosage_form, base_unit) values
  ('4000cccc-0000-4000-8000-000000000001', '4000aaaa-0000-4000-8000-000000000001', 'Paracetamol 500 mg', 'tablet', 'tablet'),
  ('4000cccc-0000-4000-8000-000000000002', '4000aaaa-0000-4000-8000-000000000001', 'Amoxicillin 250 mg', 'capsule', 'capsule');
insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, expiry_date) values
  ('4000dddd-0000-4000-8000-000000000001', '4000aaaa-0000-4000-8000-000000000001', '4000cccc-0000-4000-8000-000000000001', 'PCM2601', date '2028-06-30');
insert into app_public.purchase_orders (id, hospital_id, po_number, supplier_id) values
  ('4000eeee-0000-4000-8000-000000000001', '4000aaaa-0000-4000-8000-000000000001', 'PO-T-1', '4000bbbb-0000-4000-8000-000000000001'),
  ('4000eeee-0000-4000-8000-000000000002', '4000aaaa-0000-4000-8000-000000000001', 'PO-T-2', '4000bbbb-0000-4000-8000-000000000001');
insert into app_public.purchase_order_items (hospital_id, purchase_order_id, line_number, item_type, medicine_id, quantity_ordered, unit_cost) values
  ('4000aaaa-0000-4000-8000-000000000001', '4000eeee-0000-4000-8000-000000000002', 1, 'medicine', '4000cccc-0000-4000-8000-000000000001', 1000, 0.12);
insert into app_public.goods_receipt_notes (id, hospital_id, grn_number, purchase_order_id, supplier_id, supplier_invoice_number) values
  ('4000ffff-0000-4000-8000-000000000001', '4000aaaa-0000-4000-8000-000000000001', 'GRN-T-1', '4000eeee-0000-4000-8000-000000000001',
   '4000bbbb-0000-4000-8000-000000000001', 'INV-778');

-- Rules
select throws_ok(
  $$insert into app_public.suppliers (hospital_id, code, name, rating) values ('4000aaaa-0000-4000-8000-000000000001', 'BADRATE', 'Bad Rating Ltd', 6)$$,
  '23514', 'new row for relation "suppliers" violates check constraint "suppliers_rating_check"',
  'a supplier rating is 1 to 5');
select throws_ok(
  $$insert into app_public.purchase_orders (hospital_id, po_number, supplier_id)
    values ('4000aaaa-0000-4000-8000-000000000001', 'PO-T-X', '4000bbbb-0000-4000-8000-000000000002')$$,
  '23503', 'insert or update on table "purchase_orders" violates foreign key constraint "purchase_orders_supplier_fkey"',
  'a purchase order cannot name another hospital''s supplier');
select throws_ok(
  $$insert into app_public.purchase_orders (hospital_id, po_number, supplier_id, subtotal, tax_amount, total_amount)
    values ('4000aaaa-0000-4000-8000-000000000001', 'PO-T-3', '4000bbbb-0000-4000-8000-000000000001', 100, 5, 100)$$,
  '23514', 'new row for relation "purchase_orders" violates check constraint "purchase_orders_totals_check"',
  'total = subtotal - discount + tax + shipping');
select throws_ok(
  $$insert into app_public.purchase_order_items (hospital_id, purchase_order_id, line_number, item_type, description, quantity_ordered, unit_cost)
    values ('4000aaaa-0000-4000-8000-000000000001', '4000eeee-0000-4000-8000-000000000001', 1, 'medicine', 'Paracetamol', 100, 0.10)$$,
  '23514', 'new row for relation "purchase_order_items" violates check constraint "purchase_order_items_item_check"',
  'a medicine line must name its medicine');
select throws_ok(
  $$insert into app_public.purchase_order_items (hospital_id, purchase_order_id, line_number, item_type, description, quantity_ordered, quantity_received, unit_cost)
    values ('4000aaaa-0000-4000-8000-000000000001', '4000eeee-0000-4000-8000-000000000001', 1, 'consumable', 'Nitrile gloves M', 100, 120, 0.10)$$,
  '23514', 'new row for relation "purchase_order_items" violates check constraint "purchase_order_items_quantity_received_max_check"',
  'a PO line cannot be received beyond the quantity ordered');
select lives_ok(
  $$insert into app_public.purchase_order_items (hospital_id, purchase_order_id, line_number, item_type, description, quantity_ordered, unit_cost)
    values ('4000aaaa-0000-4000-8000-000000000001', '4000eeee-0000-4000-8000-000000000001', 1, 'consumable', 'Nitrile gloves M', 100, 0.10)$$,
  'a consumable line needs only a description');
select throws_ok(
  $$insert into app_public.grn_items (hospital_id, grn_id, line_number, item_type, medicine_id, batch_number, quantity_received, unit_cost)
    values ('4000aaaa-0000-4000-8000-000000000001', '4000ffff-0000-4000-8000-000000000001', 1, 'medicine', '4000cccc-0000-4000-8000-000000000001', 'PCM2601', 100, 0.12)$$,
  '23514', 'new row for relation "grn_items" violates check constraint "grn_items_medicine_batch_check"',
  'a medicine GRN line needs its batch number and expiry date');
select throws_ok(
  $$insert into app_public.grn_items (hospital_id, grn_id, line_number, item_type, medicine_id, batch_number, expiry_date, quantity_received, unit_cost, batch_id)
    values ('4000aaaa-0000-4000-8000-000000000001', '4000ffff-0000-4000-8000-000000000001', 1, 'medicine', '4000cccc-0000-4000-8000-000000000002',
            'PCM2601', date '2028-06-30', 100, 0.12, '4000dddd-0000-4000-8000-000000000001')$$,
  '23503', 'insert or update on table "grn_items" violates foreign key constraint "grn_items_batch_fkey"',
  'a GRN line cannot name a batch of another medicine');
select lives_ok(
  $$insert into app_public.grn_items (id, hospital_id, grn_id, line_number, item_type, medicine_id, batch_number, expiry_date,
                                      quantity_received, free_quantity, quantity_rejected, rejection_reason, unit_cost, batch_id)
    values ('4000abcd-0000-4000-8000-000000000001', '4000aaaa-0000-4000-8000-000000000001', '4000ffff-0000-4000-8000-000000000001', 1, 'medicine',
            '4000cccc-0000-4000-8000-000000000001', 'PCM2601', date '2028-06-30', 100, 10, 5, 'Crushed strips', 0.12, '4000dddd-0000-4000-8000-000000000001')$$,
  'a medicine GRN line with batch, expiry and its batch is accepted');
select is(
  (select quantity_accepted from app_public.grn_items where id = '4000abcd-0000-4000-8000-000000000001'), 105,
  'quantity_accepted = received + free - rejected');
select throws_ok(
  $$insert into app_public.goods_receipt_notes (hospital_id, grn_number, supplier_id, supplier_invoice_number)
    values ('4000aaaa-0000-4000-8000-000000000001', 'GRN-T-2', '4000bbbb-0000-4000-8000-000000000001', 'INV-778')$$,
  '23505', 'duplicate key value violates unique constraint "idx_goods_receipt_notes__supplier_invoice"',
  'the same supplier invoice cannot be received twice');
delete from app_public.purchase_orders where id = '4000eeee-0000-4000-8000-000000000002';
select is(
  (select count(*)::integer from app_public.purchase_order_items where purchase_order_id = '4000eeee-0000-4000-8000-000000000002'), 0,
  'deleting a purchase order deletes its lines');

select * from finish();
rollback;
