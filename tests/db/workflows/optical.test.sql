-- Optical workflow (db/schema/app_public/functions/: create_optical_prescription, create_optical_order,
-- confirm_optical_order, send_to_lab, mark_order_in_production, mark_order_ready,
-- deliver_optical_order, cancel_optical_order, receive_repair, update_repair_status): eye prescriptions and their
-- ranges, orders (totals, status machine, delivery through the stock ledger and the billing
-- contract), repairs, permissions and tenant isolation.
begin;
select plan(102);

create function pg_temp.chi() returns uuid language sql immutable as $$ select '10000000-0000-4000-8000-000000000003'::uuid $$;

create temp table ids (name text primary key, id uuid);
grant all on ids to public;
create function pg_temp.id(p text) returns uuid language sql stable as $$ select id from ids where name = p $$;
-- Statements run as staff build their SQL from these names.
grant execute on function pg_temp.id(text) to public;
-- A prescription attempt for the CHI test patient with these values: its tests.try outcome with the HTTP status.
create function pg_temp.rx(p_values jsonb, p_email text default 'doctor.chi@hms.test') returns text language plpgsql as $$
declare
  v_outcome text;
begin
  perform tests.authenticate_as(p_email);
  v_outcome := tests.try(format('select app_public.create_optical_prescription(%L, %L::jsonb)', '24990000-0000-4000-8000-000000000001', p_values), true);
  perform tests.clear_authentication();
  return v_outcome;
end;
$$;

insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender) values
  ('24990000-0000-4000-8000-000000000001', pg_temp.chi(), 'WF-2400-P1', 'Vera', 'Vision', date '1960-03-03', 'female');
create temp table stock_before as
  select id, quantity_on_hand from app_public.optical_products where hospital_id = pg_temp.chi();
grant all on stock_before to public;

-- ------------------------------------------------------------------------------------------
-- Prescriptions
-- ------------------------------------------------------------------------------------------
select is(pg_temp.rx('{"od_sphere": -1.25}', 'nurse.ny@hms.test'), 'HMS_FORBIDDEN/403', 'prescribing needs optical.prescribe');
select tests.authenticate_as('admin.la@hms.test');
select is(tests.try(format('select app_public.create_optical_prescription(%L, %L::jsonb, null, %L)',
            '24990000-0000-4000-8000-000000000001', '{"od_sphere": -1.25}', 'Dr Outside'), true),
          'HMS_NOT_FOUND/404', 'another hospital''s patient is not found');
select tests.clear_authentication();
select is(pg_temp.rx('{"od_sphere": 30.25}'), 'HMS_RX_SPHERE_INVALID/422', 'sphere beyond ±30 D');
select is(pg_temp.rx('{"od_sphere": 1.10}'), 'HMS_RX_SPHERE_INVALID/422', 'sphere not in 0.25 steps');
select is(pg_temp.rx('{"os_sphere": -2, "os_cylinder": -10.5, "os_axis": 90}'), 'HMS_RX_CYLINDER_INVALID/422', 'cylinder beyond ±10 D');
select is(pg_temp.rx('{"os_sphere": -2, "os_cylinder": -0.3, "os_axis": 90}'), 'HMS_RX_CYLINDER_INVALID/422', 'cylinder not in 0.25 steps');
select is(pg_temp.rx('{"od_sphere": -2, "od_cylinder": -0.50}'), 'HMS_RX_AXIS_REQUIRED/422', 'a cylinder needs an axis');
select is(pg_temp.rx('{"od_sphere": -2, "od_cylinder": -0.50, "od_axis": 181}'), 'HMS_RX_AXIS_INVALID/422', 'axis beyond 180');
select is(pg_temp.rx('{"od_sphere": 1, "od_add": 4.25}'), 'HMS_RX_ADD_INVALID/422', 'addition beyond +4.00');
select is(pg_temp.rx('{"od_sphere": 1, "od_add": 0}'), 'HMS_RX_ADD_INVALID/422', 'addition below +0.25');
select is(pg_temp.rx('{"od_sphere": 1, "od_prism": 2}'), 'HMS_RX_PRISM_INVALID/422', 'a prism needs a base');
select is(pg_temp.rx('{"od_sphere": 1, "od_prism": 25, "od_prism_base": "in"}'), 'HMS_RX_PRISM_INVALID/422', 'prism beyond 20');
select is(pg_temp.rx('{"od_sphere": 1, "pd_right_mm": 45}'), 'HMS_RX_PD_INVALID/422', 'monocular PD out of range');
select is(pg_temp.rx('{"od_sphere": 1, "pd_binocular_mm": 90}'), 'HMS_RX_PD_INVALID/422', 'binocular PD out of range');
select is(pg_temp.rx('{"od_sphere": 1, "pd_right_mm": 31, "pd_left_mm": 31, "pd_binocular_mm": 70}'), 'HMS_RX_PD_INVALID/422', 'PDs must add up');
select is(pg_temp.rx('{"od_cylinder": 0}'), 'HMS_RX_POWER_REQUIRED/422', 'a sphere is required for at least one eye');
select is(pg_temp.rx('{"od_sphere": 1, "od_colour": "blue"}'), 'HMS_RX_UNKNOWN_FIELD/422', 'unknown fields are refused');
select is(pg_temp.rx('{"od_sphere": "minus two"}'), 'HMS_RX_VALUE_INVALID/422', 'a non-number is refused');
select is(pg_temp.rx('{"od_sphere": 1, "od_iop_mmhg": 95}'), 'HMS_RX_VALUE_INVALID/422', 'other CHECK violations are translated');
select is(pg_temp.rx('{"od_sphere": 1, "valid_until": "2000-01-01"}'), 'HMS_RX_VALUE_INVALID/422', 'validity before the examination');

select tests.authenticate_as('doctor.chi@hms.test');
insert into ids select 'RX1', (tests.call(format('select to_jsonb(app_public.create_optical_prescription(%L, %L::jsonb))',
  '24990000-0000-4000-8000-000000000001',
  '{"od_sphere": -2.25, "od_cylinder": -0.75, "od_axis": 180, "od_add": 2.00, "os_sphere": -2.00, "os_cylinder": 0,
    "os_prism": 1.5, "os_prism_base": "in", "pd_right_mm": 31.5, "pd_left_mm": 31, "pd_binocular_mm": 62.5, "pd_near_mm": 59.5,
    "recommended_lens_type": "progressive", "recommended_coatings": ["anti_reflective"]}')) ->> 'id')::uuid;
select tests.clear_authentication();
select ok((select status = 'active' and doctor_id = 'd1100000-0000-4000-8000-000000000003' and od_axis = 180 and os_prism_base = 'in'
                  and recommended_coatings = '{anti_reflective}'
             from app_public.optical_prescriptions where id = pg_temp.id('RX1')),
          'a valid prescription is written, by the calling doctor');
select tests.authenticate_as('doctor.chi@hms.test');
insert into ids select 'RX2', (tests.call(format('select to_jsonb(app_public.create_optical_prescription(%L, %L::jsonb, null, %L))',
  '24990000-0000-4000-8000-000000000001', '{"od_sphere": 30, "os_sphere": -30, "od_add": 0.25, "os_add": 4}', 'Dr Elsewhere')) ->> 'id')::uuid;
select tests.clear_authentication();
select ok((select external_prescriber = 'Dr Elsewhere' and od_sphere = 30 and os_sphere = -30 from app_public.optical_prescriptions where id = pg_temp.id('RX2')),
          'the range limits themselves are accepted, with an external prescriber');
select is((select status from app_public.optical_prescriptions where id = pg_temp.id('RX1')), 'superseded', 'a newer prescription supersedes the older');

-- ------------------------------------------------------------------------------------------
-- Orders
-- ------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test');
select is(tests.try($$select app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null, '[{"item_type": "service", "description": "x", "unit_price": 1}]')$$, true),
          'HMS_FORBIDDEN/403', 'ordering needs optical.manage');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try($$select app_public.create_optical_order('d1000000-0000-4000-8000-000000000011', null, '[{"item_type": "service", "description": "x", "unit_price": 1}]')$$, true),
          'HMS_NOT_FOUND/404', 'another hospital''s patient is not found');
select is(tests.try($$select app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null, '[{"optical_product_id": "d2400000-0000-4000-8000-000000000099"}]')$$, true),
          'HMS_NOT_FOUND/404', 'an unknown product is not found');
select is(tests.try($$select app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null, '[]')$$, true),
          'HMS_ORDER_ITEMS_REQUIRED/422', 'an order needs lines');
select is(tests.try($$select app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null, '[{"item_type": "gadget", "description": "x", "unit_price": 1}]')$$, true),
          'HMS_ORDER_ITEM_INVALID/422', 'an unknown item type is refused');
select is(tests.try($$select app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null, '[{"optical_product_id": "d2400000-0000-4000-8000-000000000037", "quantity": 0}]')$$, true),
          'HMS_ORDER_ITEM_INVALID/422', 'a quantity must be positive');
select is(tests.try($$select app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null, '[{"item_type": "service", "description": "Tint"}]')$$, true),
          'HMS_ORDER_ITEM_INVALID/422', 'a line without a product needs a price');
select is(tests.try($$select app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null, '[{"item_type": "lens_right", "eye": "left", "description": "x", "unit_price": 1}]')$$, true),
          'HMS_ORDER_ITEM_INVALID/422', 'the eye must fit the item type');

insert into ids select 'O1', (tests.call(format($$select to_jsonb(app_public.create_optical_order(%L, %L, '[
    {"optical_product_id": "d2400000-0000-4000-8000-000000000031", "item_type": "frame"},
    {"optical_product_id": "d2400000-0000-4000-8000-000000000033"},
    {"optical_product_id": "d2400000-0000-4000-8000-000000000037", "item_type": "accessory", "quantity": 2},
    {"item_type": "service", "description": "Fitting and edging", "unit_price": 25}]'))$$,
  '24990000-0000-4000-8000-000000000001', pg_temp.id('RX2'))) ->> 'id')::uuid;
select tests.clear_authentication();
select ok((select status = 'draft' and order_number is not null from app_public.optical_orders where id = pg_temp.id('O1')),
          'a numbered draft order');
select is((select count(*)::int from app_public.optical_order_items where optical_order_id = pg_temp.id('O1')), 4, 'with its four lines');
select ok((select bool_and(i.unit_price = p.selling_price and i.description = p.name)
             from app_public.optical_order_items i join app_public.optical_products p on p.id = i.optical_product_id
            where i.optical_order_id = pg_temp.id('O1')), 'product lines take name and price from the catalogue');
select is((select eye from app_public.optical_order_items where optical_order_id = pg_temp.id('O1') and item_type = 'lens_pair'), 'both',
          'a lens pair is for both eyes');
select is((select subtotal from app_public.optical_orders where id = pg_temp.id('O1')), 364.00::numeric(12,2),
          'subtotal = Σ quantity × price (175 + 140 + 2 × 12 + 25)');
select ok((select o.total_amount = (select sum(line_total) from app_public.optical_order_items where optical_order_id = o.id)
                  and o.total_amount = o.subtotal - o.discount_amount + o.tax_amount and o.tax_amount > 0
             from app_public.optical_orders o where o.id = pg_temp.id('O1')), 'total = Σ line totals = subtotal − discount + tax');

select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try(format($$update app_public.optical_order_items set quantity = 3 where optical_order_id = %L and item_type = 'accessory'$$, pg_temp.id('O1')), true),
          'ok', 'a draft''s lines can be edited');
select tests.clear_authentication();
select is((select subtotal from app_public.optical_orders where id = pg_temp.id('O1')), 376.00::numeric(12,2), 'and the totals follow');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try(format($$update app_public.optical_orders set status = 'delivered' where id = %L$$, pg_temp.id('O1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'draft → delivered is illegal');
select is(tests.try(format('select app_public.deliver_optical_order(%L)', pg_temp.id('O1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a draft cannot be delivered');
select tests.authenticate_as('admin.la@hms.test');
select is(tests.try(format('select app_public.confirm_optical_order(%L)', pg_temp.id('O1')), true),
          'HMS_NOT_FOUND/404', 'another hospital cannot confirm it');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.call(format('select to_jsonb(app_public.confirm_optical_order(%L))', pg_temp.id('O1'))) ->> 'status',
          'confirmed', 'draft → confirmed');
select tests.clear_authentication();
select ok((select confirmed_at is not null from app_public.optical_orders where id = pg_temp.id('O1')), 'confirmation is stamped');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try(format($$update app_public.optical_order_items set quantity = 1 where optical_order_id = %L and item_type = 'accessory'$$, pg_temp.id('O1')), true),
          'HMS_DOCUMENT_LOCKED/409', 'lines freeze on confirmation');
select is(tests.try(format($$update app_public.optical_orders set confirmed_at = now() - interval '1 day' where id = %L$$, pg_temp.id('O1')), true),
          'E:42501', 'workflow stamps cannot be edited (not client-writable)');
select is(tests.try(format('select app_public.send_to_lab(%L, %L)', pg_temp.id('O1'), ' '), true),
          'HMS_LAB_NAME_REQUIRED/422', 'a lab name is required');
select is(tests.call(format('select to_jsonb(app_public.send_to_lab(%L, %L, %L))', pg_temp.id('O1'), 'Lakeshore Optical Lab', 'LK-4411')) ->> 'status',
          'sent_to_lab', 'confirmed → sent_to_lab');
select tests.clear_authentication();
select ok((select lab_name = 'Lakeshore Optical Lab' and lab_reference = 'LK-4411' and sent_to_lab_at is not null
             from app_public.optical_orders where id = pg_temp.id('O1')), 'with the lab and its reference');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try(format('select app_public.mark_order_ready(%L)', pg_temp.id('O1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'sent_to_lab → ready skips production');
select is(tests.call(format('select to_jsonb(app_public.mark_order_in_production(%L))', pg_temp.id('O1'))) ->> 'status',
          'in_production', 'sent_to_lab → in_production');
select is(tests.try(format('select app_public.cancel_optical_order(%L, %L)', pg_temp.id('O1'), 'changed mind'), true),
          'HMS_ILLEGAL_TRANSITION/409', 'an order in production cannot be cancelled');
select is(tests.call(format('select to_jsonb(app_public.mark_order_ready(%L))', pg_temp.id('O1'))) ->> 'status',
          'ready', 'in_production → ready');
select is(tests.try(format($$update app_public.optical_orders set status = 'delivered' where id = %L$$, pg_temp.id('O1')), true),
          'HMS_WORKFLOW_REQUIRED/409', 'delivery only through deliver_optical_order');
select tests.authenticate_as('doctor.ny@hms.test');
select is(tests.try(format('select app_public.deliver_optical_order(%L)', pg_temp.id('O1')), true),
          'HMS_FORBIDDEN/403', 'delivering needs optical.manage');

select tests.authenticate_as('doctor.chi@hms.test');
insert into ids select 'D1', (tests.call(format('select to_jsonb(app_public.deliver_optical_order(%L))', pg_temp.id('O1'))) ->> 'id')::uuid;
select tests.clear_authentication();
select is(pg_temp.id('D1'), pg_temp.id('O1'), 'deliver_optical_order returns the order');
-- The invoice the order's lines went on (exactly one).
insert into ids select 'INV1', (select distinct it.invoice_id from app_public.invoice_items it
                                  join app_public.optical_order_items i on i.id = it.optical_order_item_id
                                 where i.optical_order_id = pg_temp.id('O1'));
select ok((select status = 'delivered' and delivered_at is not null and delivered_by is not null from app_public.optical_orders where id = pg_temp.id('O1')),
          'ready → delivered, stamped');
select is((select count(*)::int from app_public.stock_movements m join app_public.optical_order_items i on i.id = m.optical_order_item_id
            where i.optical_order_id = pg_temp.id('O1') and m.movement_type = 'optical_sale'), 3, 'one optical_sale movement per product line');
select ok((select bool_and(m.quantity = -i.quantity and m.optical_product_id = i.optical_product_id)
             from app_public.stock_movements m join app_public.optical_order_items i on i.id = m.optical_order_item_id
            where i.optical_order_id = pg_temp.id('O1')), 'each for the line''s quantity, negative');
select is((select p.quantity_on_hand from app_public.optical_products p where p.id = 'd2400000-0000-4000-8000-000000000037'),
          (select b.quantity_on_hand - 3 from stock_before b where b.id = 'd2400000-0000-4000-8000-000000000037'), 'stock on hand drops by the quantity');
select ok(not exists (select 1 from app_public.optical_products p
                       where p.hospital_id = pg_temp.chi()
                         and p.quantity_on_hand <> (select coalesce(sum(m.quantity), 0) from app_public.stock_movements m where m.optical_product_id = p.id)),
          'invariant: every product''s stock = the sum of its movements');
select ok((select invoice_type = 'optical' and status = 'draft' and patient_id = '24990000-0000-4000-8000-000000000001'
             from app_public.invoices where id = pg_temp.id('INV1')), 'the order is billed on the patient''s optical draft invoice');
select is((select count(*)::int from app_public.invoice_items it join app_public.optical_order_items i on i.id = it.optical_order_item_id
            where it.invoice_id = pg_temp.id('INV1') and i.optical_order_id = pg_temp.id('O1') and it.item_type = 'optical'
              and it.quantity = i.quantity and it.unit_price = i.unit_price), 4, 'one invoice line per order line, linked');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try(format('select app_public.deliver_optical_order(%L)', pg_temp.id('O1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'an order is delivered once');
select is(tests.try(format($$update app_public.optical_orders set status = 'ready' where id = %L$$, pg_temp.id('O1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'delivered is final');

-- Not enough stock: 10 Oakley frames (4 on hand) — the ledger refuses and nothing is written.
insert into ids select 'O2', (tests.call($$select to_jsonb(app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null,
    '[{"optical_product_id": "d2400000-0000-4000-8000-000000000032", "quantity": 10}, {"optical_product_id": "d2400000-0000-4000-8000-000000000036"}]'))$$) ->> 'id')::uuid;
select is(tests.call(format('select to_jsonb(app_public.confirm_optical_order(%L))', pg_temp.id('O2'))) ->> 'status', 'confirmed', 'O2 confirmed');
select is(tests.call(format('select to_jsonb(app_public.mark_order_ready(%L))', pg_temp.id('O2'))) ->> 'status',
          'ready', 'confirmed → ready for ready-made goods');
select is(tests.try(format('select app_public.deliver_optical_order(%L)', pg_temp.id('O2')), true),
          'HMS_INSUFFICIENT_STOCK/409', 'delivery short of stock is refused by the ledger');
select tests.clear_authentication();
select ok((select status = 'ready' from app_public.optical_orders where id = pg_temp.id('O2'))
          and not exists (select 1 from app_public.stock_movements m join app_public.optical_order_items i on i.id = m.optical_order_item_id
                           where i.optical_order_id = pg_temp.id('O2'))
          and (select quantity_on_hand from app_public.optical_products where id = 'd2400000-0000-4000-8000-000000000036')
              = (select quantity_on_hand from stock_before where id = 'd2400000-0000-4000-8000-000000000036'),
          'and writes nothing: no movement, stock and status unchanged');

-- Cancellation.
select tests.authenticate_as('doctor.chi@hms.test');
insert into ids select 'O3', (tests.call($$select to_jsonb(app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null,
    '[{"item_type": "service", "description": "Frame adjustment", "unit_price": 0}]'))$$) ->> 'id')::uuid;
select is(tests.try(format('select app_public.cancel_optical_order(%L, %L)', pg_temp.id('O3'), ''), true),
          'HMS_REASON_REQUIRED/422', 'a cancellation needs a reason');
select is(tests.call(format('select to_jsonb(app_public.cancel_optical_order(%L, %L))', pg_temp.id('O3'), 'Patient withdrew')) ->> 'status',
          'cancelled', 'draft → cancelled');
select tests.clear_authentication();
select ok((select cancelled_at is not null and cancelled_by is not null and cancellation_reason = 'Patient withdrew'
             from app_public.optical_orders where id = pg_temp.id('O3')), 'cancellation is stamped with its reason');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try(format('select app_public.confirm_optical_order(%L)', pg_temp.id('O3')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'cancelled is final');

-- ------------------------------------------------------------------------------------------
-- Repairs
-- ------------------------------------------------------------------------------------------
select is(tests.try($$select app_public.receive_repair('Black acetate frame', 'hinge', 'Left hinge loose')$$, true),
          'HMS_REPAIR_CUSTOMER_REQUIRED/422', 'a repair needs a customer');
select is(tests.try($$select app_public.receive_repair('Black acetate frame', 'magic', 'Broken', customer_name => 'Walk In')$$, true),
          'HMS_REPAIR_TYPE_INVALID/422', 'an unknown repair type is refused');
select tests.authenticate_as('doctor.ny@hms.test');
select is(tests.try($$select app_public.receive_repair('Black acetate frame', 'hinge', 'Broken', customer_name => 'Walk In')$$, true),
          'HMS_FORBIDDEN/403', 'repairs need optical.manage');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try($$select app_public.receive_repair('Black acetate frame', 'hinge', 'Broken', customer_name => 'Walk In', estimated_cost => -5)$$, true),
          'HMS_AMOUNT_INVALID/422', 'a negative estimate is refused');
insert into ids select 'R1', (tests.call(format($$select to_jsonb(app_public.receive_repair('Ray-Ban Clubmaster', 'hinge', 'Left hinge loose',
    patient_id => '24990000-0000-4000-8000-000000000001', optical_order_id => %L, estimated_cost => 15))$$, pg_temp.id('O1'))) ->> 'id')::uuid;
select tests.clear_authentication();
select ok((select status = 'received' and repair_number is not null and is_under_warranty from app_public.optical_repairs where id = pg_temp.id('R1')),
          'a numbered repair, under the warranty of the frame sold on the order');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try(format('select app_public.update_repair_status(%L, %L)', pg_temp.id('R1'), 'ready'), true),
          'HMS_ILLEGAL_TRANSITION/409', 'received → ready skips the repair');
select is(tests.try(format('select app_public.update_repair_status(%L, %L)', pg_temp.id('R1'), 'lost'), true),
          'HMS_REPAIR_STATUS_INVALID/422', 'an unknown status is refused');
select tests.authenticate_as('admin.la@hms.test');
select is(tests.try(format('select app_public.update_repair_status(%L, %L)', pg_temp.id('R1'), 'in_repair'), true),
          'HMS_NOT_FOUND/404', 'another hospital cannot move it');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.call(format('select to_jsonb(app_public.update_repair_status(%L, %L))', pg_temp.id('R1'), 'in_repair')) ->> 'status',
          'in_repair', 'received → in_repair');
select is(tests.call(format('select to_jsonb(app_public.update_repair_status(%L, %L, %L, 0))', pg_temp.id('R1'), 'ready', 'Hinge screw replaced')) ->> 'status',
          'ready', 'in_repair → ready');
select tests.clear_authentication();
select ok((select ready_at is not null and work_done = 'Hinge screw replaced' and final_cost = 0 and technician_user_id is not null
             from app_public.optical_repairs where id = pg_temp.id('R1')), 'with the work done, final cost and ready time');
select tests.authenticate_as('doctor.chi@hms.test');
select is(tests.try(format('select app_public.update_repair_status(%L, %L)', pg_temp.id('R1'), 'cancelled'), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a ready repair cannot be cancelled');
select is(tests.call(format('select to_jsonb(app_public.update_repair_status(%L, %L))', pg_temp.id('R1'), 'returned')) ->> 'status',
          'returned', 'ready → returned');
select is(tests.try(format($$update app_public.optical_repairs set status = 'in_repair' where id = %L$$, pg_temp.id('R1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'returned is final, also for direct updates');

select tests.clear_authentication();
-- ------------------------------------------------------------------------------------------
-- What the kit enforces on direct writes (status machines, stamps, protected columns)
-- ------------------------------------------------------------------------------------------
select is(tests.try_as('doctor.chi@hms.test', format('select app_public.mark_order_ready(%L)', pg_temp.id('O2')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a step is not taken twice (ready → ready)');
select is(tests.try_as('doctor.chi@hms.test', format('select app_public.cancel_optical_order(%L, %L)', pg_temp.id('O3'), 'Again'), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a cancelled order is not cancelled again');
select is((select cancellation_reason from app_public.optical_orders where id = pg_temp.id('O3')), 'Patient withdrew',
          '… and keeps its reason');
select is(tests.try_as('doctor.chi@hms.test', format($$insert into app_public.optical_orders (patient_id, status) values (%L, 'confirmed')$$,
            '24990000-0000-4000-8000-000000000001'), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a new order starts as a draft');
insert into ids select 'O4', (tests.call_as('doctor.chi@hms.test', $$select to_jsonb(app_public.create_optical_order('24990000-0000-4000-8000-000000000001', null,
    '[{"item_type": "service", "description": "Tint", "unit_price": 20}]'))$$) ->> 'id')::uuid;
select is(tests.try_as('doctor.chi@hms.test', format($$update app_public.optical_orders set discount_amount = 5 where id = %L$$, pg_temp.id('O4')), true),
          'E:42501', 'an order''s totals (discount included) are derived, never written by clients');
select is(tests.try_as('doctor.chi@hms.test', format($$update app_public.optical_orders set patient_id = patient_id where id = %L$$, pg_temp.id('O4')), true),
          'E:42501', 'an order''s patient never changes');
select is(tests.try_as('doctor.chi@hms.test', format($$update app_public.optical_order_items set line_total = 1 where optical_order_id = %L$$, pg_temp.id('O4')), true),
          'E:42501', 'a line total is derived, never written by clients');
select is(tests.try_as('doctor.chi@hms.test', format($$update app_public.optical_orders set cancelled_by = null, status = 'cancelled', cancellation_reason = 'x' where id = %L$$, pg_temp.id('O4')), true),
          'E:42501', 'who cancelled is never taken from the request');
select is(tests.try_as('doctor.chi@hms.test', format($$update app_public.optical_orders set status = 'cancelled' where id = %L$$, pg_temp.id('O4')), true),
          'HMS_REASON_REQUIRED/422', 'a cancellation by PATCH needs its reason too');
select is(tests.try_as('doctor.chi@hms.test', format($$update app_public.optical_orders set status = 'cancelled', cancellation_reason = 'Changed mind' where id = %L$$, pg_temp.id('O4')), true),
          'ok', 'a draft is cancelled by PATCH with a reason');
select ok((select status = 'cancelled' and cancelled_at is not null
                  and cancelled_by = (select id from app_public.users where email = 'doctor.chi@hms.test')
             from app_public.optical_orders where id = pg_temp.id('O4')), '… stamped with the session''s user and time');
select is(tests.try_as('doctor.chi@hms.test', format($$update app_public.optical_repairs set ready_at = now() where id = %L$$, pg_temp.id('R1')), true),
          'E:42501', 'repair stamps are not client-writable');
select is(tests.try_as('doctor.chi@hms.test', format($$update app_public.optical_prescriptions set status = 'active' where id = %L$$, pg_temp.id('RX1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a superseded prescription does not become active again');
select is(tests.try_as('doctor.chi@hms.test', $$insert into app_public.optical_prescriptions (patient_id, external_prescriber, od_sphere, status)
                                               values ('24990000-0000-4000-8000-000000000001', 'Dr Outside', 1, 'superseded')$$, true),
          'HMS_ILLEGAL_TRANSITION/409', 'a new prescription starts active');
select is(tests.try_as('doctor.chi@hms.test', $$insert into app_public.optical_prescriptions (patient_id, external_prescriber, od_sphere, od_iop_mmhg)
                                               values ('24990000-0000-4000-8000-000000000001', 'Dr Outside', 1, 95)$$, true),
          'HMS_RX_VALUE_INVALID/422', 'a direct write breaking a prescription rule answers HMS_RX_VALUE_INVALID too');

select * from finish();
rollback;
