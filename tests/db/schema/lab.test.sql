-- Schema of lab_orders (db/schema/app_public/tables/lab_orders.sql).
begin;
select plan(22);

-- structure
select has_table('app_public', 'lab_orders', 'lab_orders exists');
select col_not_null('app_public', 'lab_orders', 'order_number', 'lab_orders.order_number is required');
select col_not_null('app_public', 'lab_orders', 'test_name', 'lab_orders.test_name is required');
select col_type_is('app_public', 'lab_orders', 'results', 'jsonb', 'lab_orders.results (panel) is jsonb');
select col_type_is('app_public', 'lab_orders', 'price', 'numeric(12,2)', 'lab_orders.price is money');
select col_has_default('app_public', 'lab_orders', 'status', 'lab_orders.status starts with a default');
select fk_ok('app_public', 'lab_orders', array['hospital_id', 'patient_id'], 'app_public', 'patients', array['hospital_id', 'id'],
             'lab_orders.patient_id is a same-hospital reference');
select fk_ok('app_public', 'lab_orders', array['hospital_id', 'doctor_id'], 'app_public', 'doctors', array['hospital_id', 'id'],
             'lab_orders.doctor_id is a same-hospital reference');
select fk_ok('app_public', 'lab_orders', array['hospital_id', 'appointment_id'], 'app_public', 'appointments', array['hospital_id', 'id'],
             'lab_orders.appointment_id is a same-hospital reference');
select fk_ok('app_public', 'lab_orders', array['hospital_id', 'prescription_id'], 'app_public', 'prescriptions', array['hospital_id', 'id'],
             'lab_orders.prescription_id is a same-hospital reference');
select fk_ok('app_public', 'lab_orders', array['hospital_id', 'department_id'], 'app_public', 'departments', array['hospital_id', 'id'],
             'lab_orders.department_id (performing lab) is a same-hospital reference');
select fk_ok('app_public', 'lab_orders', array['reported_by'], 'app_public', 'users', array['id'],
             'lab_orders.reported_by is a user');
select has_index('app_public', 'lab_orders', 'idx_lab_orders__hospital_id_status_priority_ordered_at', 'lab worklist');
select has_index('app_public', 'lab_orders', 'idx_lab_orders__hospital_id_patient_id_ordered_at', 'lab orders by patient');

-- behaviour
insert into app_public.hospitals (id, code, name) values ('22000000-0000-4000-8000-000000000001', 'TLB', 'Test Lab');
insert into app_public.patients (id, hospital_id, mrn, first_name, date_of_birth, gender)
  values ('22000000-0000-4000-8000-000000000005', '22000000-0000-4000-8000-000000000001', 'MRN-TLB-1', 'Lab', '1975-03-12', 'male');

select lives_ok($$insert into app_public.lab_orders (id, hospital_id, order_number, patient_id, referring_physician, test_code, test_name, test_category, specimen_type)
                  values ('22000000-0000-4000-8000-000000000006', '22000000-0000-4000-8000-000000000001', 'LAB-TLB-2026-000001-K',
                          '22000000-0000-4000-8000-000000000005', 'Dr. Outside, City Clinic', 'CBC', 'Complete blood count', 'hematology', 'blood')$$,
                'an outside referral can be ordered without a doctor of the hospital');
select throws_ok($$insert into app_public.lab_orders (hospital_id, order_number, patient_id, test_name, test_category)
                   values ('22000000-0000-4000-8000-000000000001', 'LAB-TLB-2026-000002-K', '22000000-0000-4000-8000-000000000005', 'Lipid profile', 'biochemistry')$$,
                 '23514', null, 'an order needs an ordering doctor or a referring physician');
select throws_ok($$insert into app_public.lab_orders (hospital_id, order_number, patient_id, referring_physician, test_name, test_category, priority)
                   values ('22000000-0000-4000-8000-000000000001', 'LAB-TLB-2026-000003-K', '22000000-0000-4000-8000-000000000005', 'Dr. Outside', 'Lipid profile', 'biochemistry', 'asap')$$,
                 '23514', null, 'priority is routine, urgent or stat');
select throws_ok($$insert into app_public.lab_orders (hospital_id, order_number, patient_id, referring_physician, test_name, test_category)
                   values ('22000000-0000-4000-8000-000000000001', 'LAB-TLB-2026-000001-K', '22000000-0000-4000-8000-000000000005', 'Dr. Outside', 'ESR', 'hematology')$$,
                 '23505', null, 'order numbers are unique within the hospital');
select throws_ok($$update app_public.lab_orders set status = 'in_progress' where id = '22000000-0000-4000-8000-000000000006'$$,
                 '23514', null, 'a specimen test cannot be processed before its sample is collected');
insert into app_public.lab_orders (id, hospital_id, order_number, patient_id, referring_physician, test_name, test_category, specimen_type,
                                   status, sample_collected_at, started_at, completed_at, result_value)
  values ('22000000-0000-4000-8000-000000000007', '22000000-0000-4000-8000-000000000001', 'LAB-TLB-2026-000004-K',
          '22000000-0000-4000-8000-000000000005', 'Dr. Outside', 'ESR', 'hematology', 'blood', 'completed', now(), now(), now(), '12');
select throws_ok($$update app_public.lab_orders set status = 'reported' where id = '22000000-0000-4000-8000-000000000007'$$,
                 '23514', null, 'a reported order needs reported_at');
select throws_ok($$update app_public.lab_orders set results = '{"analyte": "Hemoglobin"}' where id = '22000000-0000-4000-8000-000000000006'$$,
                 '23514', null, 'panel results must be a JSON array');
select throws_ok($$update app_public.lab_orders set status = 'cancelled' where id = '22000000-0000-4000-8000-000000000006'$$,
                 '23514', null, 'a cancelled order needs cancelled_at');

select * from finish();
rollback;
