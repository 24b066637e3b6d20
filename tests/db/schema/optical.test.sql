-- Structure and key rules of optical_products, optical_prescriptions, optical_orders,
-- optical_order_items, optical_repairs (db/schema/app_public/tables/<table>.sql).
begin;
select plan(59);

-- Tables
select has_table('app_public', 'optical_products', 'optical_products exists');
select has_table('app_public', 'optical_prescriptions', 'optical_prescriptions exists');
select has_table('app_public', 'optical_orders', 'optical_orders exists');
select has_table('app_public', 'optical_order_items', 'optical_order_items exists');
select has_table('app_public', 'optical_repairs', 'optical_repairs exists');

-- Key columns
select col_not_null('app_public', 'optical_products', 'sku', 'optical_products.sku is not null');
select col_type_is('app_public', 'optical_products', 'lens_index', 'numeric(3,2)', 'optical_products.lens_index is numeric(3,2)');
select col_type_is('app_public', 'optical_products', 'coatings', 'text[]', 'optical_products.coatings is text[]');
select col_type_is('app_public', 'optical_products', 'quantity_on_hand', 'integer', 'optical_products.quantity_on_hand is integer');
select col_type_is('app_public', 'optical_products', 'selling_price', 'numeric(12,2)', 'optical_products.selling_price is money');
select col_type_is('app_public', 'optical_prescriptions', 'od_sphere', 'numeric(5,2)', 'optical_prescriptions.od_sphere is numeric(5,2)');
select col_type_is('app_public', 'optical_prescriptions', 'os_cylinder', 'numeric(5,2)', 'optical_prescriptions.os_cylinder is numeric(5,2)');
select col_type_is('app_public', 'optical_prescriptions', 'od_axis', 'smallint', 'optical_prescriptions.od_axis is smallint');
select col_type_is('app_public', 'optical_prescriptions', 'os_add', 'numeric(4,2)', 'optical_prescriptions.os_add is numeric(4,2)');
select col_not_null('app_public', 'optical_prescriptions', 'patient_id', 'optical_prescriptions.patient_id is not null');
select col_is_null('app_public', 'optical_prescriptions', 'doctor_id', 'optical_prescriptions.doctor_id is nullable (outside prescriptions)');
select col_not_null('app_public', 'optical_orders', 'order_number', 'optical_orders.order_number is not null');
select col_default_is('app_public', 'optical_orders', 'status', 'draft', 'a new optical order is a draft');
select col_type_is('app_public', 'optical_orders', 'total_amount', 'numeric(12,2)', 'optical_orders.total_amount is money');
select col_not_null('app_public', 'optical_order_items', 'optical_order_id', 'optical_order_items.optical_order_id is not null');
select col_is_null('app_public', 'optical_order_items', 'optical_product_id', 'optical_order_items.optical_product_id is nullable (services, lab lenses)');
select col_not_null('app_public', 'optical_repairs', 'repair_number', 'optical_repairs.repair_number is not null');
select col_default_is('app_public', 'optical_repairs', 'status', 'received', 'a new repair is received');

-- Foreign keys
select fk_ok('app_public', 'optical_products', array['hospital_id'], 'app_public', 'hospitals', array['id'], 'optical_products belong to a hospital');
select fk_ok('app_public', 'optical_products', array['hospital_id', 'tax_configuration_id'], 'app_public', 'tax_configurations', array['hospital_id', 'id'],
  'optical_products.tax_configuration_id is a composite tenant FK');
select fk_ok('app_public', 'optical_prescriptions', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'optical_prescriptions.patient_id is a composite tenant FK');
select fk_ok('app_public', 'optical_prescriptions', array['hospital_id', 'doctor_id'], 'app_public', 'doctors', array['hospital_id', 'id'],
  'optical_prescriptions.doctor_id is a composite tenant FK');
select fk_ok('app_public', 'optical_prescriptions', array['hospital_id', 'appointment_id'], 'app_public', 'appointments', array['hospital_id', 'id'],
  'optical_prescriptions.appointment_id is a composite tenant FK');
select fk_ok('app_public', 'optical_orders', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'optical_orders.patient_id is a composite tenant FK');
select fk_ok('app_public', 'optical_orders', array['hospital_id', 'optical_prescription_id'], 'app_public', 'optical_prescriptions', array['hospital_id', 'id'],
  'optical_orders.optical_prescription_id is a composite tenant FK');
select fk_ok('app_public', 'optical_orders', array['delivered_by'], 'app_public', 'users', array['id'], 'optical_orders.delivered_by references users');
select fk_ok('app_public', 'optical_order_items', array['hospital_id', 'optical_order_id'], 'app_public', 'optical_orders', array['hospital_id', 'id'],
  'optical_order_items.optical_order_id is a composite tenant FK');
select fk_ok('app_public', 'optical_order_items', array['hospital_id', 'optical_product_id'], 'app_public', 'optical_products', array['hospital_id', 'id'],
  'optical_order_items.optical_product_id is a composite tenant FK');
select fk_ok('app_public', 'optical_repairs', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
  'optical_repairs.patient_id is a composite tenant FK');
select fk_ok('app_public', 'optical_repairs', array['hospital_id', 'optical_order_id'], 'app_public', 'optical_orders', array['hospital_id', 'id'],
  'optical_repairs.optical_order_id is a composite tenant FK');
select fk_ok('app_public', 'optical_repairs', array['technician_user_id'], 'app_public', 'users', array['id'], 'optical_repairs.technician_user_id references users');

-- Access-path indexes
select has_index('app_public', 'optical_products', 'idx_optical_products__hospital_id_name_trgm', 'product name trigram search');
select has_index('app_public', 'optical_products', 'idx_optical_products__hospital_id_brand_trgm', 'product brand trigram search');
select has_index('app_public', 'optical_products', 'idx_optical_products__hospital_id_barcode', 'barcode lookup (unique per hospital)');
select has_index('app_public', 'optical_prescriptions', 'idx_optical_prescriptions__hospital_id_patient_id', 'prescriptions of a patient');
select has_index('app_public', 'optical_orders', 'idx_optical_orders__hospital_id_status_ordered_at', 'orders by status and date');
select has_index('app_public', 'optical_orders', 'idx_optical_orders__hospital_id_patient_id', 'orders of a patient');
select has_index('app_public', 'optical_order_items', 'idx_optical_order_items__hospital_id_optical_order_id', 'lines of an order');
select has_index('app_public', 'optical_repairs', 'idx_optical_repairs__hospital_id_status_received_at', 'repairs by status');

-- Parent rows for the behaviour tests
insert into app_public.hospitals (id, code, name) values ('24000000-0000-4000-8000-000000000001', 'ZOP', 'Optical Test Hospital');
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender)
  values ('24000000-0000-4000-8000-000000000002', '24000000-0000-4000-8000-000000000001', 'ZOP-TEST-1', 'Iris', 'Lens', '1968-04-02', 'female');

select lives_ok($$
  insert into app_public.optical_prescriptions (id, hospital_id, patient_id, external_prescriber,
    od_sphere, od_cylinder, od_axis, od_add, os_sphere, os_cylinder, os_axis, os_add, pd_right_mm, pd_left_mm, pd_binocular_mm)
  values ('24000000-0000-4000-8000-000000000010', '24000000-0000-4000-8000-000000000001', '24000000-0000-4000-8000-000000000002',
    'Dr. Outside, City Eye Clinic', -2.25, -0.75, 180, 2.00, -2.50, -1.00, 175, 2.00, 31.5, 32.0, 63.5)
$$, 'a valid outside prescription is accepted');

select throws_ok($$
  insert into app_public.optical_prescriptions (hospital_id, patient_id, external_prescriber, od_sphere)
  values ('24000000-0000-4000-8000-000000000001', '24000000-0000-4000-8000-000000000002', 'Dr. Outside', -2.30)
$$, '23514', null, 'sphere must be a multiple of 0.25 D');

select throws_ok($$
  insert into app_public.optical_prescriptions (hospital_id, patient_id, external_prescriber, od_sphere, od_cylinder)
  values ('24000000-0000-4000-8000-000000000001', '24000000-0000-4000-8000-000000000002', 'Dr. Outside', -1.00, -0.50)
$$, '23514', null, 'a cylinder requires an axis');

select throws_ok($$
  insert into app_public.optical_prescriptions (hospital_id, patient_id, od_sphere)
  values ('24000000-0000-4000-8000-000000000001', '24000000-0000-4000-8000-000000000002', 1.00)
$$, '23514', null, 'a prescription needs a hospital doctor or an external prescriber');

select throws_ok($$
  insert into app_public.optical_prescriptions (hospital_id, patient_id, external_prescriber, od_sphere, od_add)
  values ('24000000-0000-4000-8000-000000000001', '24000000-0000-4000-8000-000000000002', 'Dr. Outside', 0, 4.50)
$$, '23514', null, 'near addition is at most 4.00 D');

select lives_ok($$
  insert into app_public.optical_products (id, hospital_id, sku, name, product_type, brand, frame_type, eye_size_mm, bridge_mm, temple_mm, selling_price, mrp)
  values ('24000000-0000-4000-8000-000000000020', '24000000-0000-4000-8000-000000000001', 'FR-RB5154-51',
    'Ray-Ban RB5154 Clubmaster 51', 'frame', 'Ray-Ban', 'half_rim', 51, 21, 145, 150.00, 180.00)
$$, 'a valid frame is accepted');

select throws_ok($$
  update app_public.optical_products set quantity_on_hand = -1 where id = '24000000-0000-4000-8000-000000000020'
$$, '23514', null, 'stock on hand cannot go negative');

select throws_ok($$
  insert into app_public.optical_products (hospital_id, sku, name, product_type, frame_type, selling_price)
  values ('24000000-0000-4000-8000-000000000001', 'SOL-360', 'Lens solution 360 ml', 'solution', 'full_rim', 10.00)
$$, '23514', null, 'frame attributes only on frames and sunglasses');

select throws_ok($$
  insert into app_public.optical_products (hospital_id, sku, name, product_type, selling_price)
  values ('24000000-0000-4000-8000-000000000001', 'FR-RB5154-51', 'Duplicate SKU', 'frame', 1.00)
$$, '23505', null, 'sku is unique per hospital');

select lives_ok($$
  insert into app_public.optical_orders (id, hospital_id, order_number, patient_id, optical_prescription_id, subtotal, total_amount)
  values ('24000000-0000-4000-8000-000000000030', '24000000-0000-4000-8000-000000000001', 'OPT-ZOP-TEST-1',
    '24000000-0000-4000-8000-000000000002', '24000000-0000-4000-8000-000000000010', 150.00, 150.00)
$$, 'a valid optical order is accepted');

select throws_ok($$
  update app_public.optical_orders set status = 'cancelled' where id = '24000000-0000-4000-8000-000000000030'
$$, '23514', null, 'a cancelled order needs a cancellation reason');

select throws_ok($$
  insert into app_public.optical_order_items (hospital_id, optical_order_id, item_type, description, eye, unit_price)
  values ('24000000-0000-4000-8000-000000000001', '24000000-0000-4000-8000-000000000030', 'lens_right', 'SV 1.60 AR', 'left', 40.00)
$$, '23514', null, 'a right lens line is for the right eye');

select throws_ok($$
  insert into app_public.optical_order_items (hospital_id, optical_order_id, item_type, description, quantity)
  values ('24000000-0000-4000-8000-000000000001', '24000000-0000-4000-8000-000000000030', 'service', 'Fitting', 0)
$$, '23514', null, 'line quantity must be positive');

select throws_ok($$
  insert into app_public.optical_repairs (hospital_id, repair_number, item_description, repair_type, problem_description)
  values ('24000000-0000-4000-8000-000000000001', 'OPR-ZOP-TEST-1', 'Black metal frame', 'hinge', 'Loose left hinge')
$$, '23514', null, 'a repair names a patient or a walk-in customer');

select lives_ok($$
  insert into app_public.optical_repairs (hospital_id, repair_number, customer_name, customer_phone, item_description, repair_type, problem_description)
  values ('24000000-0000-4000-8000-000000000001', 'OPR-ZOP-TEST-2', 'Walk In', '+1 212 555 0199', 'Black metal frame', 'hinge', 'Loose left hinge')
$$, 'a walk-in repair is accepted');

select * from finish();
rollback;
