-- Prescriptions workflow (db/schema/app_public/functions/: create_prescription, finalize_prescription,
-- amend_prescription, cancel_prescription, create/apply_prescription_template): drafts, finalize,
-- versions after two amendments, refusal of direct edits after finalize, cancel, templates.
begin;
select plan(75);

-- Demo ids: NY patient / medicines, LA patient / medicine.
select set_config('t.ny_patient', 'd1000000-0000-4000-8000-000000000011', true);
select set_config('t.la_patient', 'd1000000-0000-4000-8000-000000000021', true);
select set_config('t.ny_med1', 'd2000000-0000-4000-8000-000000000011', true);
select set_config('t.ny_med2', 'd2000000-0000-4000-8000-000000000012', true);
select set_config('t.la_med', 'd2000000-0000-4000-8000-000000000021', true);

-- What the pharmacy's security definer RPCs do around their writes: the gate marks that call as the workflow.
create function pg_temp.pharmacy_workflow(p_permission text, p_sql text) returns void language plpgsql as $$
begin
  perform app_hidden.require_permission(p_permission);
  execute p_sql;
end;
$$;

-- A template of another hospital (LA), written by the owner.
insert into app_public.prescription_templates (id, hospital_id, name, items)
values ('21990000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002', 'LA knee pain',
        '[{"drug_name": "Ibuprofen 400 mg tablet", "quantity_prescribed": 10}]');

-- ---------------------------------------------------------------------------------------------
-- Permissions and who may prescribe
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}',
                     '[{"drug_name": "Paracetamol 500 mg", "quantity_prescribed": 10}]')$$,
                   '%HMS_FORBIDDEN%', 'a pharmacist cannot prescribe (403 HMS_FORBIDDEN)');
select tests.authenticate_as('admin.ny@hms.test', 'NY');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}',
                     '[{"drug_name": "Paracetamol 500 mg", "quantity_prescribed": 10}]')$$,
                   '%HMS_NOT_A_DOCTOR%', 'staff with prescriptions.write who are not doctors cannot sign prescriptions (403 HMS_NOT_A_DOCTOR)');

-- ---------------------------------------------------------------------------------------------
-- create_prescription
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select set_config('t.rx', (app_public.create_prescription(
  current_setting('t.ny_patient')::uuid, null, 'Essential hypertension', '{I10}',
  jsonb_build_array(
    jsonb_build_object('medicine_id', current_setting('t.ny_med1'), 'dose', '20 mg', 'dose_quantity', 1, 'dose_unit', 'tablet',
                       'frequency', 'Once daily', 'frequency_per_day', 1, 'duration_days', 30, 'quantity_prescribed', 30, 'timing', 'bedtime'),
    jsonb_build_object('drug_name', 'Aspirin 81 mg tablet', 'frequency', 'Once daily', 'quantity_prescribed', 30)),
  'Low-salt diet.', null)).id::text, true);

select is((select status from app_public.prescriptions where id = current_setting('t.rx')::uuid), 'draft', 'a new prescription is a draft');
select is((select doctor_id from app_public.prescriptions where id = current_setting('t.rx')::uuid),
          'd1100000-0000-4000-8000-000000000001'::uuid, 'the prescribing doctor is the caller''s doctor record');
select is(array(select line_number from app_public.prescription_items where prescription_id = current_setting('t.rx')::uuid order by 1),
          array[1, 2], 'line numbers are given automatically');
select is((select drug_name from app_public.prescription_items where prescription_id = current_setting('t.rx')::uuid and line_number = 1),
          (select generic_name || ' ' || strength || coalesce(' (' || brand_name || ')', '') from app_public.medicines
            where id = current_setting('t.ny_med1')::uuid),
          'a formulary line without drug_name is named after the medicine');
select is((select valid_until from app_public.prescriptions where id = current_setting('t.rx')::uuid),
          (select (now() at time zone h.time_zone)::date + s.prescription_validity_days from app_public.hospitals h
             join app_public.hospital_settings s on s.hospital_id = h.id where h.code = 'NY'),
          'valid_until follows the hospital''s prescription_validity_days');

select throws_like($$select app_public.create_prescription(current_setting('t.la_patient')::uuid, null, 'x', '{}',
                     '[{"drug_name": "Paracetamol 500 mg", "quantity_prescribed": 10}]')$$,
                   '%HMS_NOT_FOUND%', 'a patient of another hospital is not found (404)');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}',
                     jsonb_build_array(jsonb_build_object('medicine_id', current_setting('t.la_med'), 'quantity_prescribed', 10)))$$,
                   '%HMS_NOT_FOUND%medicine%', 'a medicine of another hospital is not found (404)');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}',
                     '[{"drug_name": "Paracetamol 500 mg", "quantity_prescribed": 0}]')$$,
                   '%HMS_PRESCRIPTION_QUANTITY_INVALID%', 'quantity_prescribed must be more than zero (422)');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}',
                     '[{"drug_name": "Paracetamol 500 mg", "quantity_prescribed": -3}]')$$,
                   '%HMS_PRESCRIPTION_QUANTITY_INVALID%', 'a negative quantity is refused (422)');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}',
                     '[{"drug_name": "Paracetamol 500 mg", "quantity_prescribed": 10, "route": "by_mouth"}]')$$,
                   '%HMS_PRESCRIPTION_ROUTE_INVALID%', 'the route must be one of the list (422)');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}',
                     '[{"quantity_prescribed": 10}]')$$,
                   '%HMS_PRESCRIPTION_ITEM_INVALID%', 'a free-text line needs a drug name (422)');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}',
                     '[{"drug_name": "Paracetamol", "quantity_prescribed": "ten"}]')$$,
                   '%HMS_PRESCRIPTION_ITEM_INVALID%', 'a quantity that is not a number is a 422, not a 500');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{}', '{"drug_name": "x"}')$$,
                   '%HMS_PRESCRIPTION_ITEMS_INVALID%', 'items must be an array (422)');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'x', '{flu}', '[]')$$,
                   '%HMS_DIAGNOSIS_CODE_INVALID%', 'diagnosis codes must look like ICD-10 (422)');
select throws_like($$select app_public.create_prescription(current_setting('t.ny_patient')::uuid, 'd1200000-0000-4000-8000-000000000021', 'x')$$,
                   '%HMS_NOT_FOUND%appointment%', 'an appointment of another hospital is not found (404)');

-- ---------------------------------------------------------------------------------------------
-- Drafts are edited freely
-- ---------------------------------------------------------------------------------------------
select lives_ok($$select app_public.update_prescription(current_setting('t.rx')::uuid,
                   '{"diagnosis": "Essential hypertension, uncontrolled", "add_items": [{"drug_name": "Amlodipine 5 mg tablet", "quantity_prescribed": 30}]}')$$,
                'update_prescription edits a draft and adds lines');
select is((select count(*)::int from app_public.prescription_items where prescription_id = current_setting('t.rx')::uuid), 3,
          'the draft has three lines');
select lives_ok($$select app_public.remove_prescription_item((select id from app_public.prescription_items
                    where prescription_id = current_setting('t.rx')::uuid and line_number = 2))$$,
                'remove_prescription_item removes a line of a draft');
select lives_ok($$update app_public.prescription_items set instructions = 'Take at night'
                   where prescription_id = current_setting('t.rx')::uuid and line_number = 1$$,
                'a draft line may be edited directly (REST PATCH)');

-- ---------------------------------------------------------------------------------------------
-- finalize_prescription and version 1
-- ---------------------------------------------------------------------------------------------
select lives_ok($$select app_public.finalize_prescription(current_setting('t.rx')::uuid)$$, 'the doctor finalizes the draft');
select is((select status || ' ' || (finalized_by = '20000000-0000-4000-8000-000000000004') || ' ' || (finalized_at is not null)
             from app_public.prescriptions where id = current_setting('t.rx')::uuid),
          'finalized true true', 'finalized, with finalized_at and finalized_by');
select is((select jsonb_array_length(snapshot -> 'items') from app_public.prescription_versions
            where prescription_id = current_setting('t.rx')::uuid and version = 1), 2,
          'version 1 is a snapshot of the prescription with its two lines');
select throws_like($$select app_public.finalize_prescription(current_setting('t.rx')::uuid)$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'finalizing twice is an illegal transition (409)');

-- Direct edits after finalize are refused
select throws_like($$update app_public.prescriptions set diagnosis = 'Changed quietly' where id = current_setting('t.rx')::uuid$$,
                   '%HMS_DOCUMENT_LOCKED%', 'a finalized diagnosis cannot be changed directly (409)');
select throws_like($$update app_public.prescription_items set dose = '40 mg' where prescription_id = current_setting('t.rx')::uuid and line_number = 1$$,
                   '%HMS_DOCUMENT_LOCKED%', 'a finalized line cannot be changed directly (409)');
select throws_like($$insert into app_public.prescription_items (prescription_id, drug_name, quantity_prescribed)
                     values (current_setting('t.rx')::uuid, 'Extra drug', 5)$$,
                   '%HMS_DOCUMENT_LOCKED%', 'no line can be added directly to a finalized prescription (409)');
select throws_like($$delete from app_public.prescription_items where prescription_id = current_setting('t.rx')::uuid and line_number = 1$$,
                   '%HMS_DOCUMENT_LOCKED%', 'no line can be removed directly from a finalized prescription (409)');
select throws_like($$delete from app_public.prescriptions where id = current_setting('t.rx')::uuid$$,
                   '%HMS_DOCUMENT_LOCKED%cancel it instead%', 'a finalized prescription cannot be deleted (cancel it instead)');
select throws_like($$update app_public.prescriptions set cancellation_reason = 'Quietly' where id = current_setting('t.rx')::uuid$$,
                   '%HMS_DOCUMENT_LOCKED%', 'the cancellation reason of a signed prescription is written only by cancelling it (409)');
select throws_ok($$update app_public.prescriptions set finalized_by = '20000000-0000-4000-8000-000000000001' where id = current_setting('t.rx')::uuid$$,
                 '42501', null, 'the signature stamps (finalized_at/by) are never written by a client (403)');
select throws_ok($$update app_public.prescriptions set version = 7 where id = current_setting('t.rx')::uuid$$,
                 '42501', null, 'the version is never written by a client (403)');
select throws_ok($$update app_public.prescription_items set prescription_id = gen_random_uuid() where prescription_id = current_setting('t.rx')::uuid and line_number = 1$$,
                 '42501', null, 'a line never moves to another prescription (403)');
select lives_ok($$update app_public.prescriptions set notes = 'Patient prefers generics' where id = current_setting('t.rx')::uuid$$,
                'internal notes of a signed prescription stay editable');
select throws_like($$select app_public.update_prescription(current_setting('t.rx')::uuid, '{"advice": "x"}')$$,
                   '%HMS_DOCUMENT_LOCKED%amend_prescription%', 'update_prescription refuses a finalized prescription');

-- ---------------------------------------------------------------------------------------------
-- amend_prescription: two amendments, three versions
-- ---------------------------------------------------------------------------------------------
select throws_like($$select app_public.amend_prescription(current_setting('t.rx')::uuid, '{"advice": "More walking."}', '  ')$$,
                   '%HMS_REASON_REQUIRED%change_reason%', 'an amendment needs a reason (422)');
select throws_like($$select app_public.amend_prescription(current_setting('t.rx')::uuid, '{"colour": "blue"}', 'typo')$$,
                   '%HMS_PRESCRIPTION_CHANGES_INVALID%', 'unknown changes are refused (422)');
select lives_ok($$select app_public.amend_prescription(current_setting('t.rx')::uuid,
                   jsonb_build_object('advice', 'Low-salt diet and 30 minutes of walking daily.',
                                      'replace_items', jsonb_build_array(jsonb_build_object(
                                        'id', (select id from app_public.prescription_items where prescription_id = current_setting('t.rx')::uuid and line_number = 1),
                                        'medicine_id', current_setting('t.ny_med1'), 'dose', '40 mg', 'quantity_prescribed', 30))),
                   'Dose raised after home blood-pressure log')$$,
                'first amendment (advice, a line replaced)');
select lives_ok($$select app_public.amend_prescription(current_setting('t.rx')::uuid,
                   jsonb_build_object('add_items', jsonb_build_array(jsonb_build_object('medicine_id', current_setting('t.ny_med2'), 'quantity_prescribed', 30))),
                   'Amlodipine added')$$,
                'second amendment (a line added)');
select is((select version from app_public.prescriptions where id = current_setting('t.rx')::uuid), 3,
          'two amendments raise the version to 3');
select results_eq($$select version, change_reason from app_public.prescription_versions
                    where prescription_id = current_setting('t.rx')::uuid order by version$$,
                  $$values (1, 'Finalized'), (2, 'Dose raised after home blood-pressure log'), (3, 'Amlodipine added')$$,
                  'the history holds versions 1, 2 and 3 with their reasons');
select is((select array[v1.snapshot ->> 'advice', v2.snapshot ->> 'advice'] from app_public.prescription_versions v1, app_public.prescription_versions v2
            where v1.prescription_id = current_setting('t.rx')::uuid and v1.version = 1
              and v2.prescription_id = current_setting('t.rx')::uuid and v2.version = 2),
          array['Low-salt diet.', 'Low-salt diet and 30 minutes of walking daily.'], 'each snapshot keeps the advice of its version');
select is((select snapshot -> 'items' -> 0 ->> 'dose' from app_public.prescription_versions
            where prescription_id = current_setting('t.rx')::uuid and version = 2), '40 mg', 'version 2 shows the replaced line');
select is((select jsonb_array_length(snapshot -> 'items') from app_public.prescription_versions
            where prescription_id = current_setting('t.rx')::uuid and version = 3), 3, 'version 3 shows the added line');

-- ---------------------------------------------------------------------------------------------
-- The pharmacy may still record dispensing (quantity_dispensed and the dispensing statuses)
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select set_config('role', 'none', true);  -- as the pharmacy's security definer RPC would, the pharmacist acting
select throws_like($$update app_public.prescriptions set status = 'partially_dispensed' where id = current_setting('t.rx')::uuid$$,
                   '%HMS_WORKFLOW_REQUIRED%dispense_prescription%', 'outside the pharmacy''s workflow even its own writes do not take a dispensing status (409)');
-- Inside it (its gate marks the call):
select lives_ok($$select pg_temp.pharmacy_workflow('pharmacy.dispense', $q$update app_public.prescription_items set quantity_dispensed = 10
                   where prescription_id = current_setting('t.rx')::uuid and line_number = 1$q$)$$,
                'the pharmacy''s workflow records quantity_dispensed on a finalized line');
select lives_ok($$select pg_temp.pharmacy_workflow('pharmacy.dispense',
                   $q$update app_public.prescriptions set status = 'partially_dispensed' where id = current_setting('t.rx')::uuid$q$)$$,
                'finalized → partially_dispensed is taken by the pharmacy''s workflow');

select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select throws_like($$update app_public.prescriptions set status = 'dispensed' where id = current_setting('t.rx')::uuid$$,
                   '%HMS_WORKFLOW_REQUIRED%dispense_prescription%', 'only the pharmacy''s workflow sets dispensing statuses (409)');
select throws_like($$select app_public.amend_prescription(current_setting('t.rx')::uuid,
                     jsonb_build_object('remove_items', jsonb_build_array((select id from app_public.prescription_items
                       where prescription_id = current_setting('t.rx')::uuid and line_number = 1))), 'Stop it')$$,
                   '%HMS_PRESCRIPTION_ITEM_DISPENSED%', 'a dispensed line cannot be removed by an amendment (409)');
select throws_like($$select app_public.cancel_prescription(current_setting('t.rx')::uuid, 'Wrong patient')$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'a partially dispensed prescription cannot be cancelled (409)');
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select set_config('role', 'none', true);
select lives_ok($$select pg_temp.pharmacy_workflow('pharmacy.return',
                   $q$update app_public.prescriptions set status = 'finalized' where id = current_setting('t.rx')::uuid$q$)$$,
                'the pharmacy''s workflow takes a prescription back to finalized (partially_dispensed → finalized)');
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select throws_like($$select app_public.cancel_prescription(current_setting('t.rx')::uuid, 'Stop it')$$,
                   '%HMS_PRESCRIPTION_DISPENSED%', 'a prescription of which medicines were dispensed is not cancelled, whatever its status (409)');

-- ---------------------------------------------------------------------------------------------
-- Cancel, illegal starts, empty finalize
-- ---------------------------------------------------------------------------------------------
select set_config('t.rx2', (app_public.create_prescription(current_setting('t.ny_patient')::uuid, null, 'Headache', '{}', '[]')).id::text, true);
select lives_ok($$insert into app_public.prescription_items (prescription_id, drug_name, quantity_prescribed)
                   values (current_setting('t.rx2')::uuid, 'Paracetamol 500 mg tablet', 10)$$,
                'a line is added to a draft directly (REST POST)');
select throws_like($$update app_public.prescriptions set status = 'finalized' where id = current_setting('t.rx2')::uuid$$,
                   '%HMS_WORKFLOW_REQUIRED%finalize_prescription%', 'a prescription is signed only through finalize_prescription, never by a PATCH (409)');
delete from app_public.prescription_items where prescription_id = current_setting('t.rx2')::uuid;
select throws_like($$select app_public.finalize_prescription(current_setting('t.rx2')::uuid)$$,
                   '%HMS_PRESCRIPTION_EMPTY%', 'a prescription without lines cannot be finalized (422)');
select throws_like($$select app_public.amend_prescription(current_setting('t.rx2')::uuid, '{"advice": "x"}', 'why')$$,
                   '%HMS_PRESCRIPTION_NOT_AMENDABLE%', 'a draft is edited, not amended (409)');
select throws_like($$select app_public.cancel_prescription(current_setting('t.rx2')::uuid, '')$$,
                   '%HMS_REASON_REQUIRED%cancellation_reason%', 'cancelling needs a reason (422)');
select is(((app_public.cancel_prescription(current_setting('t.rx2')::uuid, 'Written by mistake')).status), 'cancelled',
          'a draft is cancelled with its reason');
select throws_like($$select app_public.cancel_prescription(current_setting('t.rx2')::uuid, 'Again')$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'a cancelled prescription cannot be cancelled again (409)');
select throws_like($$insert into app_public.prescriptions (patient_id, doctor_id, status)
                     values (current_setting('t.ny_patient')::uuid, 'd1100000-0000-4000-8000-000000000001', 'finalized')$$,
                   '%HMS_ILLEGAL_TRANSITION%', 'a prescription cannot be created already finalized (409)');

-- ---------------------------------------------------------------------------------------------
-- Templates
-- ---------------------------------------------------------------------------------------------
select set_config('t.tpl', (app_public.create_prescription_template('Hypertension starter', 'Essential hypertension',
  jsonb_build_array(jsonb_build_object('medicine_id', current_setting('t.ny_med2'), 'frequency', 'Once daily', 'quantity_prescribed', 30),
                    jsonb_build_object('drug_name', 'Home BP monitor cuff', 'route', 'other', 'quantity_prescribed', 1)),
  '{I10}', 'Low-salt diet.')).id::text, true);
select is((select doctor_id from app_public.prescription_templates where id = current_setting('t.tpl')::uuid),
          'd1100000-0000-4000-8000-000000000001'::uuid, 'a doctor''s template is their own');
select throws_like($$select app_public.create_prescription_template('Hypertension starter', null,
                     '[{"drug_name": "Paracetamol", "quantity_prescribed": 1}]')$$,
                   '%HMS_TEMPLATE_NAME_TAKEN%', 'template names are unique per doctor (409)');
select set_config('t.rx3', (app_public.apply_prescription_template(current_setting('t.tpl')::uuid, current_setting('t.ny_patient')::uuid)).id::text, true);
select results_eq($$select status, diagnosis, (select count(*)::int from app_public.prescription_items i where i.prescription_id = p.id)
                    from app_public.prescriptions p where p.id = current_setting('t.rx3')::uuid$$,
                  $$values ('draft'::text, 'Essential hypertension'::text, 2)$$,
                  'applying a template starts a draft with its diagnosis and lines');
select is((select usage_count from app_public.prescription_templates where id = current_setting('t.tpl')::uuid), 1,
          'the template''s usage_count goes up');
select throws_like($$select app_public.apply_prescription_template('21990000-0000-4000-8000-000000000001', current_setting('t.ny_patient')::uuid)$$,
                   '%HMS_NOT_FOUND%', 'a template of another hospital is not found (404)');

-- A signed prescription is cancelled by a PATCH too, with its reason; who and when come from the session
select lives_ok($$select app_public.finalize_prescription(current_setting('t.rx3')::uuid)$$, 'the template''s prescription is signed');
select throws_like($$update app_public.prescriptions set status = 'dispensed' where id = current_setting('t.rx3')::uuid$$,
                   '%HMS_WORKFLOW_REQUIRED%dispense_prescription%', 'nor does a PATCH mark a signed prescription dispensed (409)');
select throws_like($$update app_public.prescriptions set status = 'cancelled' where id = current_setting('t.rx3')::uuid$$,
                   '%HMS_REASON_REQUIRED%cancellation_reason%', 'a PATCH cancelling without a reason is refused (422)');
select throws_ok($$update app_public.prescriptions set status = 'cancelled', cancellation_reason = 'Duplicate', cancelled_by = '20000000-0000-4000-8000-000000000001'
                    where id = current_setting('t.rx3')::uuid$$,
                 '42501', null, 'a client never names who cancelled (403)');
select tests.clear_authentication();
select tests.freeze_time('2026-03-02 09:00+00');
select tests.authenticate_as('doctor.ny@hms.test', 'NY');
select lives_ok($$update app_public.prescriptions set status = 'cancelled', cancellation_reason = 'Duplicate of an earlier prescription'
                   where id = current_setting('t.rx3')::uuid$$,
                'a signed prescription is cancelled by a PATCH with a reason');
select results_eq($$select status, cancelled_by, cancelled_at from app_public.prescriptions where id = current_setting('t.rx3')::uuid$$,
                  $$values ('cancelled'::text, '20000000-0000-4000-8000-000000000004'::uuid, '2026-03-02 09:00+00'::timestamptz)$$,
                  'the cancellation is stamped with the session''s user and the business clock');

-- History is append-only, even for the owner
select throws_ok($$insert into app_public.prescription_versions (prescription_id, version, snapshot)
                   values (current_setting('t.rx')::uuid, 9, '{}')$$,
                 '42501', null, 'staff never write versions directly (403)');
select tests.clear_authentication();
select throws_like($$update app_public.prescription_versions set change_reason = 'rewritten' where prescription_id = current_setting('t.rx')::uuid$$,
                   '%HMS_APPEND_ONLY%', 'prescription versions are never rewritten');
select throws_like($$delete from app_public.prescription_versions where prescription_id = current_setting('t.rx')::uuid$$,
                   '%HMS_APPEND_ONLY%', 'prescription versions are never removed');

select * from finish();
rollback;
