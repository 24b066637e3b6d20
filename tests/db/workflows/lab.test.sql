-- Lab workflow (db/schema/app_public/functions/: order_lab_test, collect_sample, start_lab_test,
-- record_lab_result, report_lab_result, cancel_lab_order): ordering, the status machine (legal and
-- illegal transitions, whatever the path), results only in progress/completed, critical flags,
-- permissions per step, another hospital's ids.
begin;
select plan(52);

select set_config('t.ny_patient', 'd1000000-0000-4000-8000-000000000011', true);
select set_config('t.ny_patient2', 'd1000000-0000-4000-8000-000000000012', true);
select set_config('t.la_patient', 'd1000000-0000-4000-8000-000000000021', true);

-- An LA order, written by the owner.
insert into app_public.lab_orders (id, hospital_id, patient_id, referring_physician, test_name, test_category, specimen_type)
values ('22990000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002', 'd1000000-0000-4000-8000-000000000021',
        'Dr. Outside', 'Lipid profile', 'biochemistry', 'blood');

-- ---------------------------------------------------------------------------------------------
-- order_lab_test
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('nurse.ny@hms.test', 'NY');
select throws_like($$select app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'CBC', 'Complete blood count', 'hematology', 'blood')$$,
                   '%HMS_FORBIDDEN%', 'a nurse / lab technician cannot order tests (403)');
select throws_like($$insert into app_public.lab_orders (patient_id, referring_physician, test_name, test_category)
                     values (current_setting('t.ny_patient')::uuid, 'Dr. X', 'ESR', 'hematology')$$,
                   '%HMS_FORBIDDEN%', 'nor through a direct insert');

select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select set_config('t.lab', (app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'CBC', 'Complete blood count', 'hematology',
                                                      'blood', 'urgent', null, 'Fatigue for 3 weeks')).id::text, true);
select throws_ok($$insert into app_public.lab_orders (patient_id, referring_physician, test_name, test_category, ordered_at)
                   values (current_setting('t.ny_patient')::uuid, 'Dr. X', 'ESR', 'hematology', now() - interval '1 day')$$,
                 '42501', null, 'a client never dates an order itself: ordered_at is the step''s stamp (403)');
select results_eq($$select status, priority, doctor_id, order_number like 'LAB-%' from app_public.lab_orders where id = current_setting('t.lab')::uuid$$,
                  $$values ('ordered'::text, 'urgent'::text, 'd1100000-0000-4000-8000-000000000001'::uuid, true)$$,
                  'a doctor orders a test in their name; it is numbered and ordered');
select throws_like($$select app_public.order_lab_test(current_setting('t.la_patient')::uuid, 'CBC', 'Complete blood count', 'hematology', 'blood')$$,
                   '%HMS_NOT_FOUND%', 'a patient of another hospital is not found (404)');
select throws_like($$select app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'CBC', 'Complete blood count', 'astrology', 'blood')$$,
                   '%HMS_LAB_CATEGORY_INVALID%', 'the category must be one of the list (422)');
select throws_like($$select app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'CBC', 'Complete blood count', 'hematology', 'hair')$$,
                   '%HMS_LAB_SPECIMEN_INVALID%', 'the specimen type must be one of the list (422)');
select throws_like($$select app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'CBC', 'Complete blood count', 'hematology', 'blood', 'asap')$$,
                   '%HMS_LAB_PRIORITY_INVALID%', 'priority is routine, urgent or stat (422)');
select throws_like($$select app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'CBC', ' ', 'hematology', 'blood')$$,
                   '%HMS_LAB_TEST_INVALID%', 'a test name is required (422)');
select throws_like($$select app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'CBC', 'Complete blood count', 'hematology', 'blood',
                     'routine', 'd1200000-0000-4000-8000-000000000012')$$,
                   '%HMS_APPOINTMENT_PATIENT_MISMATCH%', 'the appointment must be the patient''s (422)');
select throws_like($$select app_public.collect_sample('22990000-0000-4000-8000-000000000001')$$,
                   '%HMS_FORBIDDEN%', 'a doctor does not process samples (403 lab.process)');

-- ---------------------------------------------------------------------------------------------
-- Processing as the lab technician
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('nurse.ny@hms.test', 'NY');
select throws_like($$select app_public.collect_sample('22990000-0000-4000-8000-000000000001')$$,
                   '%HMS_NOT_FOUND%', 'a lab order of another hospital is not found (404)');
select throws_like($$select app_public.start_lab_test(current_setting('t.lab')::uuid)$$,
                   '%HMS_ILLEGAL_TRANSITION%collect the sample first%', 'ordered → in_progress is illegal for a specimen test (409)');
select throws_like($$update app_public.lab_orders set status = 'completed' where id = current_setting('t.lab')::uuid$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'ordered → completed is illegal, also through a direct update (409)');
select throws_like($$update app_public.lab_orders set status = 'in_progress' where id = current_setting('t.lab')::uuid$$,
                   '%HMS_ILLEGAL_TRANSITION%collect the sample first%', 'ordered → in_progress is refused for a specimen test, also through a direct update (409)');
select throws_like($$select app_public.record_lab_result(current_setting('t.lab')::uuid, '[]', '13.5', 'g/dL')$$,
                   '%HMS_LAB_RESULTS_NOT_ALLOWED%', 'no results on an order that is not in progress (409)');
select throws_like($$update app_public.lab_orders set result_value = '13.5' where id = current_setting('t.lab')::uuid$$,
                   '%HMS_LAB_RESULTS_NOT_ALLOWED%', 'nor through a direct update');
select throws_like($$select app_public.collect_sample(current_setting('t.lab')::uuid, 'no spaces allowed')$$,
                   '%HMS_LAB_BARCODE_INVALID%', 'a barcode has letters, digits and dashes (422)');
select is(((app_public.collect_sample(current_setting('t.lab')::uuid, 'NY-TUBE-0001')).status), 'sample_collected',
          'collect_sample: ordered → sample_collected');
select is((select sample_collected_by from app_public.lab_orders where id = current_setting('t.lab')::uuid),
          '20000000-0000-4000-8000-000000000007'::uuid, 'the collector is recorded');
select throws_like($$select app_public.collect_sample(current_setting('t.lab')::uuid)$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'a sample is collected once (409)');
select throws_ok($$update app_public.lab_orders set sample_collected_at = now() - interval '1 day', sample_collected_by = null where id = current_setting('t.lab')::uuid$$,
                 '42501', null, 'workflow stamps cannot be rewritten by a client (403)');
select throws_ok($$update app_public.lab_orders set is_critical = true where id = current_setting('t.lab')::uuid$$,
                 '42501', null, 'is_critical is derived, never written by a client (403)');
select ok((select sample_collected_at = now() and sample_collected_by = '20000000-0000-4000-8000-000000000007' from app_public.lab_orders where id = current_setting('t.lab')::uuid),
          'the collection stamps are as the workflow set them');
select throws_like($$update app_public.lab_orders set status = 'cancelled', cancellation_reason = 'Sample haemolysed' where id = current_setting('t.lab')::uuid$$,
                   '%HMS_FORBIDDEN%lab.order%', 'a lab technician cannot cancel, also through a direct update (403 lab.order)');
select is(((app_public.start_lab_test(current_setting('t.lab')::uuid)).status), 'in_progress', 'start_lab_test: sample_collected → in_progress');
select throws_like($$select app_public.cancel_lab_order(current_setting('t.lab')::uuid, 'Patient left')$$,
                   '%HMS_FORBIDDEN%', 'a lab technician cannot cancel orders (403 lab.order)');
select throws_like($$select app_public.record_lab_result(current_setting('t.lab')::uuid, '[{"value": "13.5"}]')$$,
                   '%HMS_LAB_RESULTS_INVALID%', 'each panel result names its analyte (422)');
select throws_like($$select app_public.record_lab_result(current_setting('t.lab')::uuid, '[]', '13.5', 'g/dL', null, 'sky_high')$$,
                   '%HMS_LAB_RESULT_FLAG_INVALID%', 'the result flag must be one of the list (422)');
select throws_like($$select app_public.record_lab_result(current_setting('t.lab')::uuid, '[]')$$,
                   '%HMS_LAB_RESULTS_EMPTY%', 'a result is required (422)');
select throws_like($$select app_public.report_lab_result(current_setting('t.lab')::uuid)$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'in_progress → reported is illegal (409)');
select results_eq($$select (r).status, (r).is_critical, (r).performed_by
                      from (select app_public.record_lab_result(current_setting('t.lab')::uuid,
                              '[{"analyte": "Hemoglobin", "value": "6.1", "unit": "g/dL", "flag": "critical_low"},
                                {"analyte": "WBC", "value": "7.2", "unit": "10^9/L", "flag": "normal"}]'::jsonb,
                              null, null, null, 'abnormal', 'Repeat confirmed') as r) x$$,
                  $$values ('completed'::text, true, '20000000-0000-4000-8000-000000000007'::uuid)$$,
                  'record_lab_result: in_progress → completed, performer recorded, critical analyte flags is_critical');
select lives_ok($$update app_public.lab_orders set critical_notified_at = now(), critical_notified_to = 'Dr. Ward, read back'
                   where id = current_setting('t.lab')::uuid$$,
                'the call to the clinician about the critical value is documented');
select lives_ok($$select app_public.record_lab_result(current_setting('t.lab')::uuid, '[]', '11.0', 'g/dL', '13.0–17.0', 'low')$$,
                'a completed result may be corrected before the report');
select is((select is_critical from app_public.lab_orders where id = current_setting('t.lab')::uuid), false,
          'is_critical follows the corrected flags');
select is((select critical_notified_at from app_public.lab_orders where id = current_setting('t.lab')::uuid), null,
          'a notification of a critical value that is no longer critical goes with it');
select lives_ok($$select app_public.record_lab_result(current_setting('t.lab')::uuid, '[]', '5.9', 'g/dL', '13.0–17.0', 'critical_low')$$,
                'a critical single value');
select is((select is_critical from app_public.lab_orders where id = current_setting('t.lab')::uuid), true,
          'result_flag critical_low makes the result critical');
select results_eq($$select (r).status, (r).reported_by, (r).interpretation
                      from (select app_public.report_lab_result(current_setting('t.lab')::uuid, 'Severe anaemia; clinician called.') as r) x$$,
                  $$values ('reported'::text, '20000000-0000-4000-8000-000000000007'::uuid, 'Severe anaemia; clinician called.'::text)$$,
                  'report_lab_result: completed → reported, reporter and interpretation recorded');
select throws_like($$select app_public.record_lab_result(current_setting('t.lab')::uuid, '[]', '6.0')$$,
                   '%HMS_LAB_RESULTS_NOT_ALLOWED%', 'a released report is not changed (409)');
select throws_like($$select app_public.report_lab_result(current_setting('t.lab')::uuid)$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'a report is released once (409)');
select throws_like($$update app_public.lab_orders set status = 'in_progress' where id = current_setting('t.lab')::uuid$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'reported → in_progress is illegal (409)');

-- ---------------------------------------------------------------------------------------------
-- Cancel and imaging (no specimen)
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select throws_like($$select app_public.cancel_lab_order(current_setting('t.lab')::uuid, 'Not needed')$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'a reported order cannot be cancelled (409)');
select set_config('t.lab2', (app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'LIPID', 'Lipid profile', 'biochemistry', 'blood')).id::text, true);
select throws_like($$update app_public.lab_orders set status = 'sample_collected' where id = current_setting('t.lab2')::uuid$$,
                   '%HMS_FORBIDDEN%lab.process%', 'a doctor does not collect samples, also through a direct update (403 lab.process)');
select throws_like($$select app_public.cancel_lab_order(current_setting('t.lab2')::uuid, ' ')$$,
                   '%HMS_REASON_REQUIRED%cancellation_reason%', 'cancelling needs a reason (422)');
select results_eq($$select (r).status, (r).cancelled_by, (r).cancellation_reason
                      from (select app_public.cancel_lab_order(current_setting('t.lab2')::uuid, 'Done last week elsewhere') as r) x$$,
                  $$values ('cancelled'::text, '20000000-0000-4000-8000-000000000004'::uuid, 'Done last week elsewhere'::text)$$,
                  'ordered → cancelled with the reason and who');
select throws_like($$select app_public.cancel_lab_order(current_setting('t.lab2')::uuid, 'Again')$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'a cancelled order is not cancelled again (409)');
select set_config('t.lab3', (app_public.order_lab_test(current_setting('t.ny_patient')::uuid, 'CXR', 'Chest X-ray PA view', 'radiology')).id::text, true);
select tests.authenticate_as('nurse.ny@hms.test', 'NY');
select throws_like($$select app_public.collect_sample(current_setting('t.lab3')::uuid)$$,
                   '%HMS_LAB_NO_SPECIMEN%', 'an imaging test has no sample to collect (422)');
select tests.clear_authentication();
select tests.freeze_time('2026-03-02 09:00+00');
select tests.authenticate_as('nurse.ny@hms.test', 'NY');
select is(((app_public.start_lab_test(current_setting('t.lab3')::uuid)).status), 'in_progress',
          'a test without a specimen starts directly: ordered → in_progress');
select is((select started_at from app_public.lab_orders where id = current_setting('t.lab3')::uuid), '2026-03-02 09:00+00'::timestamptz,
          'started_at is the business clock''s');
select throws_like($$update app_public.lab_orders set status = 'completed' where id = current_setting('t.lab3')::uuid$$,
                   '%HMS_LAB_RESULTS_EMPTY%', 'a direct update completes a test only with a result (422)');
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select throws_like($$update app_public.lab_orders set result_value = 'No acute findings' where id = current_setting('t.lab3')::uuid$$,
                   '%HMS_FORBIDDEN%lab.process%', 'results are entered by lab staff only, also through a direct update (403 lab.process)');

select * from finish();
rollback;
