-- Stock operations (db/schema/app_public/functions/: request/approve/reject_stock_adjustment,
-- start_cycle_count, record_count, complete_cycle_count, approve_cycle_count): adjustments (request, approval by
-- another user, rejection, sign rules, insufficient stock) and cycle counts (start, record,
-- complete, approve with variance movements, the "batch moved since the snapshot" rule), guards on
-- direct writes, tenancy, and the ledger invariant (every batch = Σ of its movements).
begin;
select plan(91);

-- ---------------------------------------------------------------------------------------------
-- Fixtures (as the owner, in NY): a medicine with two batches (20 and 5 units), an optical product (3).
-- ---------------------------------------------------------------------------------------------
insert into app_public.medicines (id, hospital_id, item_code, generic_name, dosage_form, base_unit) values
  ('e4100000-0000-4000-8000-000000000011', '10000000-0000-4000-8000-000000000001', 'STK-M1', 'Stockotriptan', 'tablet', 'tablet');
insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, expiry_date, unit_cost) values
  ('e4100000-0000-4000-8000-000000000101', '10000000-0000-4000-8000-000000000001', 'e4100000-0000-4000-8000-000000000011', 'STK-B1', current_date + 300, 1.50),
  ('e4100000-0000-4000-8000-000000000102', '10000000-0000-4000-8000-000000000001', 'e4100000-0000-4000-8000-000000000011', 'STK-B2', current_date + 200, 2.00);
insert into app_public.optical_products (id, hospital_id, sku, name, product_type, selling_price, purchase_price) values
  ('e4100000-0000-4000-8000-000000000021', '10000000-0000-4000-8000-000000000001', 'STK-FR-1', 'Stock test frame', 'frame', 90, 20);
insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, reason)
values
  ('10000000-0000-4000-8000-000000000001', 'opening_balance', 'medicine', 'e4100000-0000-4000-8000-000000000011', 'e4100000-0000-4000-8000-000000000101', null, 20, 0, 'stock test'),
  ('10000000-0000-4000-8000-000000000001', 'opening_balance', 'medicine', 'e4100000-0000-4000-8000-000000000011', 'e4100000-0000-4000-8000-000000000102', null, 5, 0, 'stock test'),
  ('10000000-0000-4000-8000-000000000001', 'opening_balance', 'optical_product', null, null, 'e4100000-0000-4000-8000-000000000021', 3, 0, 'stock test');

create function tests.stk_ledger_ok() returns boolean language sql as $$
  select not exists (
      select 1 from app_public.medicine_batches b
       where b.hospital_id = '10000000-0000-4000-8000-000000000001'
         and b.quantity_on_hand <> coalesce((select sum(m.quantity) from app_public.stock_movements m where m.batch_id = b.id), 0))
     and not exists (
      select 1 from app_public.optical_products p
       where p.id = 'e4100000-0000-4000-8000-000000000021'
         and p.quantity_on_hand <> coalesce((select sum(m.quantity) from app_public.stock_movements m where m.optical_product_id = p.id), 0));
$$;
create function tests.stk_id(p_name text) returns uuid language sql stable as $$ select nullif(current_setting('stk.' || p_name, true), '')::uuid $$;
create function tests.stk_qoh(p_batch uuid) returns integer language sql stable security definer as $$
  select quantity_on_hand from app_public.medicine_batches where id = p_batch $$;
-- A movement of batch B2 written the way the workflows write them (security definer, as the owner).
create function tests.stk_move(p_type text, p_quantity integer, p_performed_by uuid) returns app_public.stock_movements
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
  insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason, performed_by)
  values ('10000000-0000-4000-8000-000000000001', p_type, 'medicine', 'e4100000-0000-4000-8000-000000000011',
          'e4100000-0000-4000-8000-000000000102', p_quantity, 0, 'stock test', p_performed_by)
  returning * $$;
grant execute on function tests.stk_ledger_ok(), tests.stk_id(text), tests.stk_qoh(uuid), tests.stk_move(text, integer, uuid) to public;
select ok(tests.stk_ledger_ok(), 'fixtures: every batch equals the sum of its movements');

-- ---------------------------------------------------------------------------------------------
-- Stock adjustments
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select throws_matching($$select app_public.request_stock_adjustment(-1, 'damage', 'e4100000-0000-4000-8000-000000000101')$$,
  'HMS_FORBIDDEN', 'a doctor may not request adjustments (403)');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.request_stock_adjustment(-1, 'damage', 'd2010000-0000-4000-8000-000000000211')$$,
  'HMS_NOT_FOUND', 'another hospital''s (LA) batch is not found (404)');
select throws_matching($$select app_public.request_stock_adjustment(-1, 'damage')$$,
  'HMS_ITEM_INVALID', 'an adjustment names a batch or a product');
select throws_matching($$select app_public.request_stock_adjustment(-1, 'damage', 'e4100000-0000-4000-8000-000000000101', 'e4100000-0000-4000-8000-000000000021')$$,
  'HMS_ITEM_INVALID', 'not both a batch and a product');
select throws_matching($$select app_public.request_stock_adjustment(0, 'found', 'e4100000-0000-4000-8000-000000000101')$$,
  'HMS_INVALID_QUANTITY', 'a change of 0 is refused');
select throws_matching($$select app_public.request_stock_adjustment(null, 'found', 'e4100000-0000-4000-8000-000000000101')$$,
  'HMS_INVALID_QUANTITY', 'a null change is refused (422, not 500)');
select throws_matching($$select app_public.request_stock_adjustment(1, 'bogus', 'e4100000-0000-4000-8000-000000000101')$$,
  'HMS_INVALID_REASON', 'an unknown reason is refused');
select throws_matching($$select app_public.request_stock_adjustment(5, 'damage', 'e4100000-0000-4000-8000-000000000101')$$,
  'HMS_ADJUSTMENT_SIGN_MISMATCH', 'damage cannot add stock');
select throws_matching($$select app_public.request_stock_adjustment(-5, 'found', 'e4100000-0000-4000-8000-000000000101')$$,
  'HMS_ADJUSTMENT_SIGN_MISMATCH', 'found stock cannot remove stock');
select throws_matching($$select app_public.request_stock_adjustment(2, 'other', 'e4100000-0000-4000-8000-000000000101')$$,
  'HMS_REASON_NOTES_REQUIRED', '"other" needs reason notes');
select throws_matching($$select app_public.request_stock_adjustment(-1, 'damage', 'e4100000-0000-4000-8000-000000000101', null, 'd2000000-0000-4000-8000-000000000011')$$,
  'HMS_NOT_FOUND', 'a batch of another medicine than the one named is not found');

select set_config('stk.a1', (app_public.request_stock_adjustment(-4, 'damage', 'e4100000-0000-4000-8000-000000000101', null, null,
  'Dropped a box')).id::text, true);
select set_config('stk.a3', (app_public.request_stock_adjustment(-10, 'theft_loss', 'e4100000-0000-4000-8000-000000000102')).id::text, true);
select set_config('stk.a4', (app_public.request_stock_adjustment(2, 'found', null, 'e4100000-0000-4000-8000-000000000021')).id::text, true);
select throws_matching($$select app_public.approve_stock_adjustment(tests.stk_id('a1'))$$,
  'HMS_FORBIDDEN', 'a pharmacist (no inventory.approve) may not approve');
select throws_ok($$update app_public.stock_adjustments set status = 'approved', approved_at = now() where id = tests.stk_id('a1')$$,
  '42501', 'permission denied for table stock_adjustments', 'approval stamps are never written by a client (403)');
select throws_matching($$update app_public.stock_adjustments set status = 'approved' where id = tests.stk_id('a1')$$,
  'HMS_WORKFLOW_REQUIRED.*approve_stock_adjustment', 'approving by PATCHing the status is refused (409): approval goes through approve_stock_adjustment');
select throws_ok($$update app_public.stock_adjustments set quantity_change = -1 where id = tests.stk_id('a1')$$,
  '42501', 'permission denied for table stock_adjustments', 'the quantity of a requested adjustment cannot be changed (403)');
select throws_ok($$update app_public.stock_adjustments set unit_cost = 0 where id = tests.stk_id('a1')$$,
  '42501', 'permission denied for table stock_adjustments', 'nor its valuation (403)');
select throws_ok($$insert into app_public.stock_adjustments (item_type, medicine_id, batch_id, quantity_change, reason, status, requested_at, approved_at)
                         values ('medicine', 'e4100000-0000-4000-8000-000000000011', 'e4100000-0000-4000-8000-000000000101', 50, 'found', 'approved', now(), now())$$,
  '42501', 'permission denied for table stock_adjustments', 'an adjustment cannot be inserted with approval stamps (403)');
select throws_matching($$insert into app_public.stock_adjustments (item_type, medicine_id, batch_id, quantity_change, reason, status)
                         values ('medicine', 'e4100000-0000-4000-8000-000000000011', 'e4100000-0000-4000-8000-000000000101', 50, 'found', 'approved')$$,
  'HMS_ILLEGAL_TRANSITION', 'an adjustment cannot be inserted already approved (409)');
select tests.clear_authentication();

select ok((select status = 'pending_approval' and adjustment_number like 'ADJ-%' and requested_by = '20000000-0000-4000-8000-000000000009'
                  and unit_cost = 1.50 and value_change = -6.00
             from app_public.stock_adjustments where id = tests.stk_id('a1')),
  'a request is pending approval, numbered, with requester, cost and value (−4 × 1.50)');
select is(tests.stk_qoh('e4100000-0000-4000-8000-000000000101'), 20, 'a pending adjustment does not move stock');

select tests.authenticate_as('admin.ny@hms.test', 'NY');
select set_config('stk.a2', (app_public.request_stock_adjustment(3, 'found', 'e4100000-0000-4000-8000-000000000101')).id::text, true);
select throws_matching($$select app_public.approve_stock_adjustment(tests.stk_id('a2'))$$,
  'HMS_APPROVAL_BY_OTHER_USER', 'the requester may not approve their own adjustment (409)');
select is((app_public.approve_stock_adjustment(tests.stk_id('a1'))).status, 'approved', 'the admin approves');
select is((select balance_after from app_public.stock_movements where adjustment_id = tests.stk_id('a1')), 16, 'the approval moves the batch: 20 − 4 = 16');
select throws_matching($$select app_public.approve_stock_adjustment(tests.stk_id('a1'))$$,
  'HMS_ILLEGAL_TRANSITION', 'approving twice is an illegal transition (409)');
select throws_matching($$select app_public.approve_stock_adjustment(tests.stk_id('a3'))$$,
  'HMS_INSUFFICIENT_STOCK', 'a decrease beyond the stock (10 > 5) is refused by the ledger (409)');
select throws_matching($$select app_public.reject_stock_adjustment(tests.stk_id('a3'), '')$$,
  'HMS_REASON_REQUIRED', 'a rejection needs a reason');
select is((app_public.reject_stock_adjustment(tests.stk_id('a3'), 'Count again first')).status, 'rejected', 'the admin rejects it');
select throws_matching($$select app_public.reject_stock_adjustment(tests.stk_id('a3'), 'again')$$,
  'HMS_ILLEGAL_TRANSITION', 'a rejected adjustment cannot be rejected again');
select throws_matching($$select app_public.approve_stock_adjustment(tests.stk_id('a3'))$$,
  'HMS_ILLEGAL_TRANSITION', 'nor approved');
select is((app_public.approve_stock_adjustment(tests.stk_id('a4'))).status, 'approved', 'an optical product adjustment is approved');
select is((select balance_after from app_public.stock_movements where adjustment_id = tests.stk_id('a4')), 5, 'an optical product adjustment: 3 + 2 = 5');
select throws_matching($$select app_public.approve_stock_adjustment(gen_random_uuid())$$, 'HMS_NOT_FOUND', 'an unknown adjustment is not found');
select tests.clear_authentication();

select ok((select status = 'approved' and approved_by = '20000000-0000-4000-8000-000000000002' and approved_at is not null
             from app_public.stock_adjustments where id = tests.stk_id('a1')), 'approved_by and approved_at are recorded');
select is((select array[movement_type, quantity::text, balance_after::text] from app_public.stock_movements where adjustment_id = tests.stk_id('a1')),
  array['adjustment_decrease', '-4', '16'], 'approval wrote one adjustment_decrease movement of −4, linked to the adjustment');
select is((select movement_type from app_public.stock_movements where adjustment_id = tests.stk_id('a4')), 'adjustment_increase',
  'an increase writes an adjustment_increase movement');
select is((select count(*)::int from app_public.stock_movements where adjustment_id = tests.stk_id('a3')), 0, 'a rejected adjustment moves nothing');
select ok((select rejected_by = '20000000-0000-4000-8000-000000000002' and rejection_reason = 'Count again first'
             from app_public.stock_adjustments where id = tests.stk_id('a3')), 'the rejection is recorded with its reason');
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$delete from app_public.stock_adjustments where id = tests.stk_id('a1')$$,
  'HMS_DOCUMENT_LOCKED', 'an approved adjustment cannot be (soft-)deleted (409)');
select lives_ok($$update app_public.stock_adjustments set reason_notes = 'Box fell from the top shelf' where id = tests.stk_id('a1')$$,
  'an approved adjustment''s notes may still be completed');
select throws_matching($$update app_public.stock_adjustments set status = 'pending_approval' where id = tests.stk_id('a1')$$,
  'HMS_ILLEGAL_TRANSITION', 'approved is final');
select tests.clear_authentication();
select is((select performed_by from app_public.stock_movements where adjustment_id = tests.stk_id('a1')), '20000000-0000-4000-8000-000000000002'::uuid,
  'the movement is attributed to the approver (the session)');
select ok(tests.stk_ledger_ok(), 'after the adjustments every batch equals the sum of its movements');

select tests.authenticate_as('admin.la@hms.test', 'LA');
select throws_matching($$select app_public.approve_stock_adjustment(tests.stk_id('a2'))$$,
  'HMS_NOT_FOUND', 'LA staff get 404 for a NY adjustment');

-- ---------------------------------------------------------------------------------------------
-- Cycle counts
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select throws_matching($$select app_public.start_cycle_count()$$, 'HMS_FORBIDDEN', 'a doctor may not start a count (403)');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.start_cycle_count('everything')$$, 'HMS_INVALID_SCOPE', 'an unknown scope is refused');
select throws_matching($$select app_public.start_cycle_count('medicine_category')$$, 'HMS_CATEGORY_REQUIRED', 'a category count names its category');
select throws_matching($$select app_public.start_cycle_count('partial', null, '["d2010000-0000-4000-8000-000000000211"]')$$,
  'HMS_NOT_FOUND', 'another hospital''s batch cannot be counted (404)');
select throws_matching($$select app_public.start_cycle_count('partial', null, '["abc"]')$$, 'HMS_INVALID_INPUT', 'a malformed id is refused (422)');

-- Default scope: every active batch with stock (not the demo's expired batch).
select set_config('stk.c0', (app_public.start_cycle_count()).id::text, true);
select tests.clear_authentication();
select ok((select bool_or(batch_id = 'e4100000-0000-4000-8000-000000000101') and not bool_or(batch_id = 'd2010000-0000-4000-8000-000000000142')
             from app_public.cycle_count_items where cycle_count_id = tests.stk_id('c0')),
  'a count without items takes the active batches with stock, not expired ones');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select set_config('stk.c1', (app_public.start_cycle_count('partial', 'Main pharmacy', '["e4100000-0000-4000-8000-000000000101", "e4100000-0000-4000-8000-000000000102", "e4100000-0000-4000-8000-000000000021"]')).id::text, true);
select tests.clear_authentication();
select set_config('stk.l_b1', (select id::text from app_public.cycle_count_items where cycle_count_id = tests.stk_id('c1') and batch_id = 'e4100000-0000-4000-8000-000000000101'), true);
select set_config('stk.l_b2', (select id::text from app_public.cycle_count_items where cycle_count_id = tests.stk_id('c1') and batch_id = 'e4100000-0000-4000-8000-000000000102'), true);
select set_config('stk.l_p', (select id::text from app_public.cycle_count_items where cycle_count_id = tests.stk_id('c1') and optical_product_id = 'e4100000-0000-4000-8000-000000000021'), true);
select ok((select status = 'counting' and started_at is not null and count_number like 'CC-%' from app_public.cycle_counts where id = tests.stk_id('c1')),
  'a started count is counting, numbered');
select is((select array_agg(system_quantity order by system_quantity, id) from app_public.cycle_count_items where cycle_count_id = tests.stk_id('c1')),
  array[5, 5, 16], 'system quantities are snapshotted (B2 5, frame 5, B1 16)');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$select app_public.complete_cycle_count(tests.stk_id('c1'))$$, 'HMS_COUNT_INCOMPLETE', 'a count with uncounted lines cannot be completed (422)');
select throws_matching($$select app_public.record_count(tests.stk_id('l_b1'), -1)$$, 'HMS_INVALID_QUANTITY', 'a negative count is refused');
select throws_matching($$select app_public.record_count(gen_random_uuid(), 1)$$, 'HMS_NOT_FOUND', 'an unknown line is not found');
select is((app_public.record_count(tests.stk_id('l_b1'), 14, 'Two strips missing')).variance_quantity, -2, 'B1: 14 found of 16 → variance −2');
select throws_ok($$update app_public.cycle_count_items set counted_quantity = 99 where id = tests.stk_id('l_b1')$$,
  '42501', 'permission denied for table cycle_count_items', 'a counted quantity is changed only through record_count (403)');
select throws_ok($$insert into app_public.cycle_count_items (cycle_count_id, item_type, medicine_id, batch_id)
                   values (tests.stk_id('c1'), 'medicine', 'e4100000-0000-4000-8000-000000000011', 'e4100000-0000-4000-8000-000000000101')$$,
  '42501', 'permission denied for table cycle_count_items', 'the lines of a count come only from start_cycle_count (403)');
select throws_matching($$delete from app_public.cycle_count_items where id = tests.stk_id('l_b1')$$,
  'HMS_DOCUMENT_LOCKED', 'a counted line is not removed (409)');
select lives_ok($$update app_public.cycle_count_items set reason = 'Two strips missing from an opened box' where id = tests.stk_id('l_b1')$$,
  'the variance of a line may still be explained');
select throws_ok($$update app_public.cycle_counts set status = 'counted', completed_at = now() where id = tests.stk_id('c1')$$,
  '42501', 'permission denied for table cycle_counts', 'completion stamps are never written by a client (403)');
select throws_matching($$update app_public.cycle_counts set status = 'counted' where id = tests.stk_id('c1')$$,
  'HMS_WORKFLOW_REQUIRED.*complete_cycle_count', 'a count is completed only through complete_cycle_count (409)');
select throws_ok($$update app_public.cycle_counts set scope = 'full' where id = tests.stk_id('c1')$$,
  '42501', 'permission denied for table cycle_counts', 'the scope of a started count is fixed (403)');
select tests.clear_authentication();

-- Stock keeps moving during the count: +3 into B1 after it was counted, −1 out of B2 before.
insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason) values
  ('10000000-0000-4000-8000-000000000001', 'transfer_in', 'medicine', 'e4100000-0000-4000-8000-000000000011', 'e4100000-0000-4000-8000-000000000101', 3, 0, 'from ward store'),
  ('10000000-0000-4000-8000-000000000001', 'transfer_out', 'medicine', 'e4100000-0000-4000-8000-000000000011', 'e4100000-0000-4000-8000-000000000102', -1, 0, 'to ward store');

select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select is((app_public.record_count(tests.stk_id('l_b2'), 4)).system_quantity, 4,
  'B2 moved before it was counted: the system quantity is re-read when the count is recorded (5 → 4)');
select is((app_public.record_count(tests.stk_id('l_p'), 6)).variance_quantity, 1, 'frame: 6 found of 5 → variance +1');
select is((app_public.complete_cycle_count(tests.stk_id('c1'))).status, 'counted', 'all lines counted: the count is completed');
select throws_matching($$select app_public.record_count(tests.stk_id('l_b1'), 15)$$, 'HMS_CYCLE_COUNT_NOT_COUNTING', 'no counting after completion (409)');
select throws_matching($$select app_public.complete_cycle_count(tests.stk_id('c1'))$$, 'HMS_ILLEGAL_TRANSITION', 'completing twice is illegal');
select throws_matching($$select app_public.approve_cycle_count(tests.stk_id('c1'))$$, 'HMS_FORBIDDEN', 'a pharmacist may not approve a count');

select tests.authenticate_as('admin.la@hms.test', 'LA');
select throws_matching($$select app_public.approve_cycle_count(tests.stk_id('c1'))$$, 'HMS_NOT_FOUND', 'LA staff get 404 for a NY count');

select tests.authenticate_as('admin.ny@hms.test', 'NY');
select is((app_public.approve_cycle_count(tests.stk_id('c1'))).status, 'approved', 'the admin approves the count');
select throws_matching($$select app_public.approve_cycle_count(tests.stk_id('c1'))$$, 'HMS_ILLEGAL_TRANSITION', 'approving twice is illegal');
-- A count started by the admin cannot be approved by the admin.
select set_config('stk.c2', (app_public.start_cycle_count('partial', null, '["e4100000-0000-4000-8000-000000000102"]')).id::text, true);
select app_public.record_count((select id from app_public.cycle_count_items where cycle_count_id = tests.stk_id('c2')), 4);
select app_public.complete_cycle_count(tests.stk_id('c2'));
select throws_matching($$select app_public.approve_cycle_count(tests.stk_id('c2'))$$,
  'HMS_APPROVAL_BY_OTHER_USER', 'whoever started a count may not approve it (409)');
select tests.clear_authentication();

select is((select array[total_variance_quantity::numeric, total_variance_value] from app_public.cycle_counts where id = tests.stk_id('c1')),
  array[-1, 17.00]::numeric[], 'count totals: −2 + 0 + 1 = −1 unit; −2 × 1.50 + 1 × 20 = 17.00');
select is((select count(*)::int from app_public.stock_movements m join app_public.cycle_count_items i on i.id = m.cycle_count_item_id
            where i.cycle_count_id = tests.stk_id('c1') and m.movement_type = 'cycle_count_variance'), 2,
  'one cycle_count_variance movement per line with a variance (none for B2)');
select is(tests.stk_qoh('e4100000-0000-4000-8000-000000000101'), 17,
  'B1 = 16 at the count + 3 received after it − 2 variance = 17 (the later movement is kept)');
select is(tests.stk_qoh('e4100000-0000-4000-8000-000000000102'), 4, 'B2 unchanged (no variance)');
select is((select quantity_on_hand from app_public.optical_products where id = 'e4100000-0000-4000-8000-000000000021'), 6, 'the frame = 5 + 1');
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_matching($$delete from app_public.cycle_counts where id = tests.stk_id('c1')$$,
  'HMS_DOCUMENT_LOCKED', 'an approved count cannot be (soft-)deleted (409)');
select throws_matching($$update app_public.cycle_counts set status = 'counting' where id = tests.stk_id('c1')$$,
  'HMS_ILLEGAL_TRANSITION', 'an approved count is final');
select tests.clear_authentication();
select ok((select approved_by = '20000000-0000-4000-8000-000000000002' and approved_at is not null
                  and counted_by = '20000000-0000-4000-8000-000000000009' and completed_at is not null
             from app_public.cycle_counts where id = tests.stk_id('c1')),
  'who completed and who approved the count, and when, come from the sessions');

-- ---------------------------------------------------------------------------------------------
-- The ledger itself: append-only, written only by the workflows, batch status, attribution
-- ---------------------------------------------------------------------------------------------
select throws_matching($$update app_public.stock_movements set quantity = 1000 where adjustment_id = tests.stk_id('a1')$$,
  'HMS_APPEND_ONLY', 'a movement is never changed, not even by the owner');
select throws_matching($$delete from app_public.stock_movements where adjustment_id = tests.stk_id('a1')$$,
  'HMS_APPEND_ONLY', 'nor removed');
select throws_matching($$truncate app_public.stock_movements$$, 'HMS_APPEND_ONLY', 'nor emptied');
select tests.authenticate_as('admin.ny@hms.test', 'NY');
select throws_ok($$insert into app_public.stock_movements (movement_type, item_type, medicine_id, batch_id, quantity, balance_after)
                   values ('opening_balance', 'medicine', 'e4100000-0000-4000-8000-000000000011', 'e4100000-0000-4000-8000-000000000102', 100, 100)$$,
  '42501', 'permission denied for table stock_movements', 'staff never write the ledger directly, whatever their permissions (403)');
-- A workflow writing a movement (as the security definer RPCs do) cannot attribute it to someone else.
select is((tests.stk_move('transfer_out', -4, '20000000-0000-4000-8000-000000000009')).performed_by, '20000000-0000-4000-8000-000000000002'::uuid,
  'a movement is attributed to the session''s user, not to the one the writer names');
select tests.clear_authentication();
select is((select array[status, quantity_on_hand::text] from app_public.medicine_batches where id = 'e4100000-0000-4000-8000-000000000102'),
  array['depleted', '0'], 'a batch taken to 0 is depleted');
select throws_matching($$select tests.stk_move('transfer_out', -1, null)$$,
  'HMS_INSUFFICIENT_STOCK.*0 on hand, 1 needed', 'below zero is refused with what is on hand and what was asked (409)');
select is((tests.stk_move('transfer_in', 2, null)).balance_after, 2, 'balance_after is the batch''s balance after the movement');
select is((select status from app_public.medicine_batches where id = 'e4100000-0000-4000-8000-000000000102'), 'active',
  'a depleted batch that receives stock is active again');
select ok(tests.stk_ledger_ok(), 'at the end every NY batch (and the frame) equals the sum of its movements');

select * from finish();
rollback;
