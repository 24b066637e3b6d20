-- Structure and key rules of stock_movements (the ledger), stock_adjustments, cycle_counts,
-- cycle_count_items (db/schema/app_public/tables/<table>.sql).
begin;
select plan(49);

-- Tables
select has_table('app_public', 'stock_movements', 'stock_movements exists');
select has_table('app_public', 'stock_adjustments', 'stock_adjustments exists');
select has_table('app_public', 'cycle_counts', 'cycle_counts exists');
select has_table('app_public', 'cycle_count_items', 'cycle_count_items exists');

-- Key columns
select col_not_null('app_public', 'stock_movements', 'movement_type', 'stock_movements.movement_type is not null');
select col_type_is('app_public', 'stock_movements', 'quantity', 'integer', 'stock_movements.quantity is integer (base units)');
select col_not_null('app_public', 'stock_movements', 'quantity', 'stock_movements.quantity is not null');
select col_type_is('app_public', 'stock_movements', 'balance_after', 'integer', 'stock_movements.balance_after is integer');
select col_type_is('app_public', 'stock_movements', 'occurred_at', 'timestamp with time zone', 'stock_movements.occurred_at is timestamptz');
select col_not_null('app_public', 'stock_adjustments', 'adjustment_number', 'stock_adjustments.adjustment_number is not null');
select col_type_is('app_public', 'stock_adjustments', 'quantity_change', 'integer', 'stock_adjustments.quantity_change is integer');
select col_not_null('app_public', 'cycle_counts', 'count_number', 'cycle_counts.count_number is not null');
select col_default_is('app_public', 'cycle_counts', 'status', 'draft', 'a new cycle count is a draft');
select col_type_is('app_public', 'cycle_count_items', 'variance_quantity', 'integer', 'cycle_count_items.variance_quantity is integer');
select col_type_is('app_public', 'cycle_count_items', 'variance_value', 'numeric(12,2)', 'cycle_count_items.variance_value is money');

-- Foreign keys
select fk_ok('app_public', 'stock_movements', array['hospital_id'], 'app_public', 'hospitals', array['id'], 'stock_movements belong to a hospital');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'medicine_id'], 'app_public', 'medicines', array['hospital_id', 'id'],
  'stock_movements.medicine_id is a composite tenant FK');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'medicine_id', 'batch_id'], 'app_public', 'medicine_batches', array['hospital_id', 'medicine_id', 'id'],
  'stock_movements.batch_id is a batch of the movement''s medicine');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'optical_product_id'], 'app_public', 'optical_products', array['hospital_id', 'id'],
  'stock_movements.optical_product_id is a composite tenant FK');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'grn_item_id'], 'app_public', 'grn_items', array['hospital_id', 'id'],
  'stock_movements.grn_item_id is a composite tenant FK');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'dispensing_item_id'], 'app_public', 'pharmacy_dispensing_items', array['hospital_id', 'id'],
  'stock_movements.dispensing_item_id is a composite tenant FK');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'return_item_id'], 'app_public', 'pharmacy_return_items', array['hospital_id', 'id'],
  'stock_movements.return_item_id is a composite tenant FK');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'adjustment_id'], 'app_public', 'stock_adjustments', array['hospital_id', 'id'],
  'stock_movements.adjustment_id is a composite tenant FK');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'cycle_count_item_id'], 'app_public', 'cycle_count_items', array['hospital_id', 'id'],
  'stock_movements.cycle_count_item_id is a composite tenant FK');
select fk_ok('app_public', 'stock_movements', array['hospital_id', 'optical_order_item_id'], 'app_public', 'optical_order_items', array['hospital_id', 'id'],
  'stock_movements.optical_order_item_id is a composite tenant FK');
select fk_ok('app_public', 'stock_adjustments', array['hospital_id', 'medicine_id', 'batch_id'], 'app_public', 'medicine_batches', array['hospital_id', 'medicine_id', 'id'],
  'stock_adjustments.batch_id is a batch of the adjustment''s medicine');
select fk_ok('app_public', 'cycle_counts', array['hospital_id', 'department_id'], 'app_public', 'departments', array['hospital_id', 'id'],
  'cycle_counts.department_id is a composite tenant FK');
select fk_ok('app_public', 'cycle_count_items', array['hospital_id', 'cycle_count_id'], 'app_public', 'cycle_counts', array['hospital_id', 'id'],
  'cycle_count_items.cycle_count_id is a composite tenant FK');
select fk_ok('app_public', 'cycle_count_items', array['hospital_id', 'medicine_id', 'batch_id'], 'app_public', 'medicine_batches', array['hospital_id', 'medicine_id', 'id'],
  'cycle_count_items.batch_id is a batch of the line''s medicine');

-- Access-path indexes
select has_index('app_public', 'stock_movements', 'idx_stock_movements__hospital_id_batch_id_occurred_at', 'stock card of a batch'::text);
select has_index('app_public', 'stock_movements', 'idx_stock_movements__hospital_id_optical_product_id_occurred_at', 'stock card of an optical product'::text);
select has_index('app_public', 'stock_movements', 'idx_stock_movements__hospital_id_occurred_at', 'movements of a hospital by time'::text);
select has_index('app_public', 'stock_movements', 'idx_stock_movements__hospital_id_grn_item_id', 'movements of a GRN line'::text);
select has_index('app_public', 'stock_movements', 'idx_stock_movements__hospital_id_dispensing_item_id', 'movements of a dispensing line'::text);
select has_index('app_public', 'cycle_count_items', 'idx_cycle_count_items__cycle_count_id_batch_id', 'a batch is counted once per count'::text);

-- Fixtures: a hospital, two medicines, a batch of the first, an optical product and a cycle count.
insert into app_public.hospitals (id, code, name) values
  ('4100aaaa-0000-4000-8000-000000000001', 'ZSTA', 'Stock Test A');
insert into app_public.medicines (id, hospital_id, generic_name, dosage_form, base_unit) values
  ('4100cccc-0000-4000-8000-000000000001', '4100aaaa-0000-4000-8000-000000000001', 'Paracetamol 500 mg', 'tablet', 'tablet'),
  ('4100cccc-0000-4000-8000-000000000002', '4100aaaa-0000-4000-8000-000000000001', 'Amoxicillin 250 mg', 'capsule', 'capsule');
insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, expiry_date) values
  ('4100dddd-0000-4000-8000-000000000001', '4100aaaa-0000-4000-8000-000000000001', '4100cccc-0000-4000-8000-000000000001', 'PCM2601', date '2028-06-30');
insert into app_public.optical_products (id, hospital_id, sku, name, product_type, selling_price) values
  ('4100eeee-0000-4000-8000-000000000001', '4100aaaa-0000-4000-8000-000000000001', 'FR-TEST-01', 'Test frame', 'frame', 80);
insert into app_public.cycle_counts (id, hospital_id, count_number) values
  ('4100ffff-0000-4000-8000-000000000001', '4100aaaa-0000-4000-8000-000000000001', 'CC-T-1');

-- Ledger rules
select throws_like(
  $$insert into app_public.stock_movements (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after)
    values ('4100aaaa-0000-4000-8000-000000000001', 'opening_balance', 'optical_product', '4100eeee-0000-4000-8000-000000000001', 0, 0)$$,
  '%relation "stock_movements%" violates check constraint "stock_movements_quantity_check"',
  'a movement never has quantity 0');
select throws_like(
  $$insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, dispensing_item_id)
    values ('4100aaaa-0000-4000-8000-000000000001', 'dispense', 'medicine', '4100cccc-0000-4000-8000-000000000001',
            '4100dddd-0000-4000-8000-000000000001', 5, 5, '4100abcd-0000-4000-8000-000000000009')$$,
  '%relation "stock_movements%" violates check constraint "stock_movements_quantity_sign_check"',
  'dispensing takes stock out (negative quantity)');
select throws_like(
  $$insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after)
    values ('4100aaaa-0000-4000-8000-000000000001', 'goods_receipt', 'medicine', '4100cccc-0000-4000-8000-000000000001',
            '4100dddd-0000-4000-8000-000000000001', 10, 10)$$,
  '%relation "stock_movements%" violates check constraint "stock_movements_source_check"',
  'a goods receipt movement names its GRN line');
select throws_like(
  $$insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, quantity, balance_after)
    values ('4100aaaa-0000-4000-8000-000000000001', 'opening_balance', 'medicine', '4100cccc-0000-4000-8000-000000000001', 10, 10)$$,
  '%HMS_STOCK_ITEM_NOT_FOUND%',
  'a medicine movement names its batch (the ledger finds no batch to apply it to)');
select throws_like(
  $$insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after)
    values ('4100aaaa-0000-4000-8000-000000000001', 'adjustment_decrease', 'medicine', '4100cccc-0000-4000-8000-000000000001',
            '4100dddd-0000-4000-8000-000000000001', -1000000, 0)$$,
  '%HMS_INSUFFICIENT_STOCK%',
  'a balance is never negative (the ledger refuses the movement)');
select lives_ok(
  $$insert into app_public.stock_movements (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after, unit_cost)
    values ('4100aaaa-0000-4000-8000-000000000001', 'opening_balance', 'optical_product', '4100eeee-0000-4000-8000-000000000001', 12, 12, 35)$$,
  'an opening balance of an optical product is a valid movement');

-- Adjustments and counts
select throws_ok(
  $$insert into app_public.stock_adjustments (hospital_id, adjustment_number, item_type, medicine_id, batch_id, quantity_change, reason)
    values ('4100aaaa-0000-4000-8000-000000000001', 'ADJ-T-1', 'medicine', '4100cccc-0000-4000-8000-000000000001',
            '4100dddd-0000-4000-8000-000000000001', -3, 'found')$$,
  '23514', 'new row for relation "stock_adjustments" violates check constraint "stock_adjustments_reason_sign_check"',
  'stock found is an increase');
select throws_ok(
  $$insert into app_public.cycle_counts (hospital_id, count_number, scope)
    values ('4100aaaa-0000-4000-8000-000000000001', 'CC-T-2', 'medicine_category')$$,
  '23514', 'new row for relation "cycle_counts" violates check constraint "cycle_counts_category_check"',
  'a category count names its category');
select throws_ok(
  $$insert into app_public.cycle_count_items (hospital_id, cycle_count_id, item_type, medicine_id, batch_id, system_quantity)
    values ('4100aaaa-0000-4000-8000-000000000001', '4100ffff-0000-4000-8000-000000000001', 'medicine', '4100cccc-0000-4000-8000-000000000002',
            '4100dddd-0000-4000-8000-000000000001', 10)$$,
  '23503', 'insert or update on table "cycle_count_items" violates foreign key constraint "cycle_count_items_batch_fkey"',
  'a count line cannot name a batch of another medicine');
select throws_ok(
  $$insert into app_public.cycle_count_items (hospital_id, cycle_count_id, item_type, medicine_id, batch_id, system_quantity, counted_quantity)
    values ('4100aaaa-0000-4000-8000-000000000001', '4100ffff-0000-4000-8000-000000000001', 'medicine', '4100cccc-0000-4000-8000-000000000001',
            '4100dddd-0000-4000-8000-000000000001', 10, -1)$$,
  '23514', 'new row for relation "cycle_count_items" violates check constraint "cycle_count_items_counted_quantity_check"',
  'a counted quantity is never negative');
select lives_ok(
  $$insert into app_public.cycle_count_items (id, hospital_id, cycle_count_id, item_type, medicine_id, batch_id, system_quantity, unit_cost)
    values ('4100abcd-0000-4000-8000-000000000001', '4100aaaa-0000-4000-8000-000000000001', '4100ffff-0000-4000-8000-000000000001', 'medicine',
            '4100cccc-0000-4000-8000-000000000001', '4100dddd-0000-4000-8000-000000000001', 10, 2.50)$$,
  'a count line snapshots the system quantity of a batch');
select throws_ok(
  $$insert into app_public.cycle_count_items (hospital_id, cycle_count_id, item_type, medicine_id, batch_id, system_quantity)
    values ('4100aaaa-0000-4000-8000-000000000001', '4100ffff-0000-4000-8000-000000000001', 'medicine', '4100cccc-0000-4000-8000-000000000001',
            '4100dddd-0000-4000-8000-000000000001', 10)$$,
  '23505', 'duplicate key value violates unique constraint "idx_cycle_count_items__cycle_count_id_batch_id"',
  'a batch appears once per cycle count');
update app_public.cycle_count_items set counted_quantity = 7, counted_at = now() where id = '4100abcd-0000-4000-8000-000000000001';
select is(
  (select variance_quantity from app_public.cycle_count_items where id = '4100abcd-0000-4000-8000-000000000001'), -3,
  'variance_quantity = counted - system');
select is(
  (select variance_value from app_public.cycle_count_items where id = '4100abcd-0000-4000-8000-000000000001'), -7.50::numeric,
  'variance_value = variance × unit cost');

select * from finish();
rollback;
