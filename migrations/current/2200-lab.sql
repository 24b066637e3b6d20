/*
 * Laboratory and imaging orders (table: db/schema/app_public/tables/lab_orders.sql) on the kit.
 *
 * A lab order follows ordered → sample_collected → in_progress → completed (results entered) →
 * reported (verified and released); a test without a specimen (imaging) goes ordered →
 * in_progress directly, and an order that has not started (ordered or sample_collected) can be
 * cancelled with a reason. The status machine holds the steps, the permission each needs (lab.order
 * to order and cancel, lab.process for the rest) and who/when of each; whichever way a row
 * arrives (RPC, REST, GraphQL) it obeys them. The module's own rules: results are entered only
 * while the test is in progress or completed, by lab staff, and is_critical follows the flags.
 *
 * RPCs: order_lab_test, collect_sample, start_lab_test, record_lab_result, report_lab_result,
 * cancel_lab_order — each returns the lab order.
 */

select app_hidden.register_error_codes('lab', $json$[
  {"code": "HMS_LAB_TEST_INVALID", "http_status": 422, "meaning": "test_code (1 to 32 letters, digits, dots, dashes, underscores) or test_name (2 to 200 characters) is wrong (details.field)."},
  {"code": "HMS_LAB_CATEGORY_INVALID", "http_status": 422, "meaning": "test_category is not one of hematology, biochemistry, microbiology, pathology, radiology, immunology, serology, urinalysis, molecular, other."},
  {"code": "HMS_LAB_SPECIMEN_INVALID", "http_status": 422, "meaning": "specimen_type is not one of blood, urine, stool, sputum, swab, tissue, csf, other (null when the test needs none)."},
  {"code": "HMS_LAB_PRIORITY_INVALID", "http_status": 422, "meaning": "priority is not routine, urgent or stat."},
  {"code": "HMS_LAB_PRICE_INVALID", "http_status": 422, "meaning": "price is not an amount of zero or more."},
  {"code": "HMS_LAB_ORDERER_REQUIRED", "http_status": 422, "meaning": "The caller is not a doctor of the hospital and no referring_physician (outside referral) was named."},
  {"code": "HMS_LAB_NO_SPECIMEN", "http_status": 422, "meaning": "The test needs no specimen (e.g. imaging): there is no sample to collect; start it directly."},
  {"code": "HMS_LAB_BARCODE_INVALID", "http_status": 422, "meaning": "A sample barcode has 4 to 48 letters, digits or dashes."},
  {"code": "HMS_LAB_BARCODE_TAKEN", "http_status": 409, "meaning": "The barcode is already on another sample of this hospital."},
  {"code": "HMS_LAB_RESULTS_NOT_ALLOWED", "http_status": 409, "meaning": "Results are entered only while the test is in progress or completed, and the interpretation only once it is completed (details.status)."},
  {"code": "HMS_LAB_RESULTS_INVALID", "http_status": 422, "meaning": "results is not a JSON array of {analyte, value, unit, reference_range, flag} objects with an analyte and a known flag (details.result)."},
  {"code": "HMS_LAB_RESULT_FLAG_INVALID", "http_status": 422, "meaning": "result_flag is not one of normal, low, high, critical_low, critical_high, abnormal."},
  {"code": "HMS_LAB_RESULTS_EMPTY", "http_status": 422, "meaning": "A test is completed with a result value or panel results; none was given."}
]$json$);

/*
 * Direct (REST) writes meet the codes of the RPCs for the rules the schema states; the collection
 * rule is the conditional step ordered → in_progress, taken only by tests without a specimen.
 */
insert into app_hidden.constraint_errors (constraint_name, code, message) values
  ('lab_orders_collected_check', 'HMS_ILLEGAL_TRANSITION',
   'A test that needs a specimen starts only after its sample is collected: collect the sample first.'),
  ('lab_orders_orderer_check', 'HMS_LAB_ORDERER_REQUIRED',
   'A lab order names its ordering doctor of the hospital, or the referring_physician of an outside referral.'),
  ('idx_lab_orders__hospital_id_sample_barcode', 'HMS_LAB_BARCODE_TAKEN', 'The barcode is already on another sample of this hospital.')
on conflict (constraint_name) do update set code = excluded.code, message = excluded.message;

/*
 * BEFORE INSERT/UPDATE on lab_orders (_200_rules). Whoever writes: is_critical follows the flags,
 * and a critical notification goes with the critical value it documented. For client writes:
 * results only while the test is in progress or completed and only by lab staff (lab.process),
 * the interpretation once the results are completed, and a test is completed with a result (the
 * RPCs check their own input).
 */
create or replace function app_hidden.tg_lab_orders__rules() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_results_changed boolean;
begin
  NEW.is_critical := app_hidden.lab_results_critical(NEW.result_flag, NEW.results);
  if TG_OP = 'UPDATE' and OLD.is_critical and not NEW.is_critical then
    NEW.critical_notified_at := null;
    NEW.critical_notified_to := null;
  end if;
  if app_hidden.is_trusted_writer() then
    return NEW;
  end if;

  if TG_OP = 'INSERT' then
    if NEW.results <> '[]'::jsonb or num_nonnulls(NEW.result_value, NEW.result_unit, NEW.reference_range, NEW.result_flag,
                                                   NEW.result_notes, NEW.interpretation) > 0 then
      perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED', 'Results are entered once the test is in progress.',
        jsonb_build_object('status', NEW.status));
    end if;
    return NEW;
  end if;

  v_results_changed := (NEW.results, NEW.result_value, NEW.result_unit, NEW.reference_range, NEW.result_flag, NEW.result_notes)
                       is distinct from
                       (OLD.results, OLD.result_value, OLD.result_unit, OLD.reference_range, OLD.result_flag, OLD.result_notes);
  if v_results_changed then
    if OLD.status not in ('in_progress', 'completed') or NEW.status not in ('in_progress', 'completed') then
      perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
        format('Results are entered only while the test is in progress or completed (this order is %s).', OLD.status),
        jsonb_build_object('status', OLD.status));
    end if;
    if not app_hidden.has_permission('lab.process') then
      perform app_hidden.raise_error('HMS_FORBIDDEN', 'Entering results needs the lab.process permission.',
        jsonb_build_object('permission', 'lab.process'));
    end if;
  end if;
  if NEW.interpretation is distinct from OLD.interpretation and OLD.status <> 'completed' then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
      format('The interpretation is written when the results are completed, before the report is released (this order is %s).', OLD.status),
      jsonb_build_object('status', OLD.status));
  end if;
  if NEW.status = 'completed' and OLD.status <> 'completed'
     and NEW.results = '[]'::jsonb and nullif(trim(NEW.result_value), '') is null then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_EMPTY', 'Enter a result value or panel results before completing the test.',
      jsonb_build_object('field', 'result_value'));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_lab_orders__rules() is
  'BEFORE INSERT/UPDATE on lab_orders (_200_rules): is_critical from the flags; for client writes, results only while in progress or completed and with lab.process, the interpretation once completed, completion with a result (HMS_LAB_RESULTS_NOT_ALLOWED, HMS_FORBIDDEN, HMS_LAB_RESULTS_EMPTY).';

drop trigger if exists _200_workflow on app_public.lab_orders;
drop trigger if exists _200_rules on app_public.lab_orders;
create trigger _200_rules before insert or update on app_public.lab_orders
  for each row execute function app_hidden.tg_lab_orders__rules();

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

drop function if exists app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric);
create function app_public.order_lab_test(
  patient_id uuid,
  test_code text,
  test_name text,
  test_category text,
  specimen_type text default null,
  priority text default 'routine',
  appointment_id uuid default null,
  clinical_notes text default null,
  referring_physician text default null,
  prescription_id uuid default null,
  department_id uuid default null,
  price numeric default 0
) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.order');
  v_patient app_public.patients := app_hidden.find_or_404(null::app_public.patients, order_lab_test.patient_id);
  v_appointment app_public.appointments;
  v_prescription app_public.prescriptions;
  v_department app_public.departments;
  v_doctor_id uuid;
  v_row app_public.lab_orders;
begin
  if order_lab_test.appointment_id is not null then
    v_appointment := app_hidden.find_or_404(null::app_public.appointments, order_lab_test.appointment_id);
    if v_appointment.patient_id <> v_patient.id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The appointment is of another patient.',
        jsonb_build_object('appointment_id', v_appointment.id));
    end if;
  end if;
  if order_lab_test.prescription_id is not null then
    v_prescription := app_hidden.find_or_404(null::app_public.prescriptions, order_lab_test.prescription_id);
    if v_prescription.patient_id <> v_patient.id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The prescription is of another patient.',
        jsonb_build_object('prescription_id', v_prescription.id));
    end if;
  end if;
  if order_lab_test.department_id is not null then
    v_department := app_hidden.find_or_404(null::app_public.departments, order_lab_test.department_id);
  end if;
  if order_lab_test.test_code is not null and order_lab_test.test_code !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' then
    perform app_hidden.raise_error('HMS_LAB_TEST_INVALID', 'test_code has 1 to 32 letters, digits, dots, dashes or underscores (e.g. CBC, 2345-7).',
      jsonb_build_object('field', 'test_code'));
  end if;
  if order_lab_test.test_name is null or length(trim(order_lab_test.test_name)) not between 2 and 200 then
    perform app_hidden.raise_error('HMS_LAB_TEST_INVALID', 'test_name (2 to 200 characters) is required.',
      jsonb_build_object('field', 'test_name'));
  end if;
  if order_lab_test.test_category is null or order_lab_test.test_category not in
       ('hematology', 'biochemistry', 'microbiology', 'pathology', 'radiology', 'immunology', 'serology', 'urinalysis', 'molecular', 'other') then
    perform app_hidden.raise_error('HMS_LAB_CATEGORY_INVALID',
      'test_category is hematology, biochemistry, microbiology, pathology, radiology, immunology, serology, urinalysis, molecular or other.',
      jsonb_build_object('field', 'test_category'));
  end if;
  if order_lab_test.specimen_type not in ('blood', 'urine', 'stool', 'sputum', 'swab', 'tissue', 'csf', 'other') then
    perform app_hidden.raise_error('HMS_LAB_SPECIMEN_INVALID',
      'specimen_type is blood, urine, stool, sputum, swab, tissue, csf, other, or null when none is needed.',
      jsonb_build_object('field', 'specimen_type'));
  end if;
  if coalesce(order_lab_test.priority, '') not in ('routine', 'urgent', 'stat') then
    perform app_hidden.raise_error('HMS_LAB_PRIORITY_INVALID', 'priority is routine, urgent or stat.', jsonb_build_object('field', 'priority'));
  end if;
  if order_lab_test.price is null or order_lab_test.price < 0 or order_lab_test.price >= 10000000000 then
    perform app_hidden.raise_error('HMS_LAB_PRICE_INVALID', 'price is an amount of zero or more.', jsonb_build_object('field', 'price'));
  end if;
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and not d.is_deleted;
  if v_doctor_id is null and nullif(trim(order_lab_test.referring_physician), '') is null then
    perform app_hidden.raise_error('HMS_LAB_ORDERER_REQUIRED',
      'Only doctors of the hospital order in their own name; name the referring_physician of an outside referral.',
      jsonb_build_object('field', 'referring_physician'));
  end if;

  insert into app_public.lab_orders (hospital_id, patient_id, doctor_id, referring_physician, appointment_id, prescription_id, department_id,
                                     test_code, test_name, test_category, specimen_type, priority, clinical_notes, price)
  values (v_hospital, v_patient.id, v_doctor_id, nullif(trim(order_lab_test.referring_physician), ''), v_appointment.id, v_prescription.id,
          v_department.id, order_lab_test.test_code, trim(order_lab_test.test_name), order_lab_test.test_category,
          order_lab_test.specimen_type, order_lab_test.priority, nullif(trim(order_lab_test.clinical_notes), ''),
          round(order_lab_test.price, 2))
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric) is
  E'Orders a lab or imaging test for a patient, in the calling doctor''s name (or for an outside referring_physician); status ordered, ordered_at from the session''s clock. Needs lab.order. Returns the lab order. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN (lab.order), 404 HMS_NOT_FOUND (patient, appointment, prescription, department), 422 HMS_APPOINTMENT_PATIENT_MISMATCH, HMS_LAB_TEST_INVALID, HMS_LAB_CATEGORY_INVALID, HMS_LAB_SPECIMEN_INVALID, HMS_LAB_PRIORITY_INVALID, HMS_LAB_PRICE_INVALID, HMS_LAB_ORDERER_REQUIRED.';
grant execute on function app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric) to :DATABASE_STAFF;

drop function if exists app_public.collect_sample(uuid, text);
create function app_public.collect_sample(lab_order_id uuid, sample_barcode text default null) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.process');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, collect_sample.lab_order_id);
  v_barcode text := nullif(trim(collect_sample.sample_barcode), '');
begin
  perform app_hidden.require_transition('app_public.lab_orders', v_row.status, 'sample_collected');
  if v_row.specimen_type is null then
    perform app_hidden.raise_error('HMS_LAB_NO_SPECIMEN', format('Test %s needs no specimen: start it directly.', v_row.test_name),
      jsonb_build_object('lab_order_id', v_row.id));
  end if;
  if v_barcode is not null and v_barcode !~ '^[0-9A-Za-z-]{4,48}$' then
    perform app_hidden.raise_error('HMS_LAB_BARCODE_INVALID', 'A sample barcode has 4 to 48 letters, digits or dashes.',
      jsonb_build_object('field', 'sample_barcode'));
  end if;
  if v_barcode is not null and exists (select 1 from app_public.lab_orders l
                                        where l.hospital_id = v_hospital and l.sample_barcode = v_barcode and l.id <> v_row.id) then
    perform app_hidden.raise_error('HMS_LAB_BARCODE_TAKEN', format('Barcode %s is already on another sample.', v_barcode),
      jsonb_build_object('sample_barcode', v_barcode));
  end if;
  update app_public.lab_orders l set status = 'sample_collected', sample_barcode = coalesce(v_barcode, l.sample_barcode)
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.collect_sample(uuid, text) is
  E'Records the specimen collection of an ordered test (ordered → sample_collected, sample_collected_at/by from the session), with the container barcode. Needs lab.process. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_LAB_BARCODE_TAKEN, 422 HMS_LAB_NO_SPECIMEN, HMS_LAB_BARCODE_INVALID.';
grant execute on function app_public.collect_sample(uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.start_lab_test(uuid);
create function app_public.start_lab_test(lab_order_id uuid) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.process');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, start_lab_test.lab_order_id);
begin
  perform app_hidden.require_transition('app_public.lab_orders', v_row.status, 'in_progress');
  -- a test that needs a specimen and has none collected meets lab_orders_collected_check (409)
  update app_public.lab_orders l set status = 'in_progress' where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.start_lab_test(uuid) is
  E'Starts processing: sample_collected (or ordered, for tests without a specimen) → in_progress, started_at from the session''s clock. Needs lab.process. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (also a specimen test whose sample is not collected).';
grant execute on function app_public.start_lab_test(uuid) to :DATABASE_STAFF;

drop function if exists app_public.record_lab_result(uuid, jsonb, text, text, text, text, text);
create function app_public.record_lab_result(
  lab_order_id uuid,
  results jsonb default '[]',
  result_value text default null,
  result_unit text default null,
  reference_range text default null,
  result_flag text default null,
  result_notes text default null
) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.process');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, record_lab_result.lab_order_id);
  v_results jsonb := coalesce(record_lab_result.results, '[]'::jsonb);
  v_bad jsonb;
begin
  -- results are entered (in_progress → completed) or corrected (completed, before the report)
  if v_row.status not in ('in_progress', 'completed') then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
      format('Results are entered only while the test is in progress or completed (lab order %s is %s).', v_row.order_number, v_row.status),
      jsonb_build_object('status', v_row.status));
  end if;
  if jsonb_typeof(v_results) <> 'array' then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_INVALID', 'results is a JSON array of {analyte, value, unit, reference_range, flag}.',
      jsonb_build_object('field', 'results'));
  end if;
  select e into v_bad from jsonb_array_elements(v_results) e
   where jsonb_typeof(e) <> 'object' or nullif(trim(e ->> 'analyte'), '') is null
      or (e ? 'flag' and jsonb_typeof(e -> 'flag') <> 'null'
          and (e ->> 'flag') not in ('normal', 'low', 'high', 'critical_low', 'critical_high', 'abnormal'))
   limit 1;
  if v_bad is not null then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_INVALID',
      'Each panel result is an object with an analyte (and value, unit, reference_range, flag: normal, low, high, critical_low, critical_high or abnormal).',
      jsonb_build_object('result', v_bad));
  end if;
  if record_lab_result.result_flag not in ('normal', 'low', 'high', 'critical_low', 'critical_high', 'abnormal') then
    perform app_hidden.raise_error('HMS_LAB_RESULT_FLAG_INVALID', 'result_flag is normal, low, high, critical_low, critical_high or abnormal.',
      jsonb_build_object('field', 'result_flag'));
  end if;
  if v_results = '[]'::jsonb and nullif(trim(record_lab_result.result_value), '') is null then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_EMPTY', 'Enter a result value or panel results.', jsonb_build_object('field', 'result_value'));
  end if;
  update app_public.lab_orders l
     set status = 'completed', results = v_results,
         result_value = nullif(trim(record_lab_result.result_value), ''),
         result_unit = nullif(trim(record_lab_result.result_unit), ''),
         reference_range = nullif(trim(record_lab_result.reference_range), ''),
         result_flag = record_lab_result.result_flag,
         result_notes = nullif(trim(record_lab_result.result_notes), '')
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.record_lab_result(uuid, jsonb, text, text, text, text, text) is
  E'Enters (or corrects, before the report) the results of a test in progress: in_progress → completed, performed_by/completed_at from the session; is_critical is set when a flag is critical_low or critical_high. Needs lab.process. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_LAB_RESULTS_NOT_ALLOWED (not in progress or completed), 422 HMS_LAB_RESULTS_INVALID, HMS_LAB_RESULT_FLAG_INVALID, HMS_LAB_RESULTS_EMPTY.';
grant execute on function app_public.record_lab_result(uuid, jsonb, text, text, text, text, text) to :DATABASE_STAFF;

drop function if exists app_public.report_lab_result(uuid, text);
create function app_public.report_lab_result(lab_order_id uuid, interpretation text default null) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.process');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, report_lab_result.lab_order_id);
begin
  perform app_hidden.require_transition('app_public.lab_orders', v_row.status, 'reported');
  update app_public.lab_orders l
     set status = 'reported', interpretation = coalesce(nullif(trim(report_lab_result.interpretation), ''), l.interpretation)
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.report_lab_result(uuid, text) is
  E'Verifies and releases the report of a completed test (completed → reported, reported_at/by from the session), with an optional interpretation. Needs lab.process. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.report_lab_result(uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.cancel_lab_order(uuid, text);
create function app_public.cancel_lab_order(lab_order_id uuid, reason text) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.order');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, cancel_lab_order.lab_order_id);
begin
  perform app_hidden.require_transition('app_public.lab_orders', v_row.status, 'cancelled');
  -- the status machine asks for the reason and stamps cancelled_at/by
  update app_public.lab_orders l set status = 'cancelled', cancellation_reason = nullif(trim(cancel_lab_order.reason), '')
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.cancel_lab_order(uuid, text) is
  E'Cancels a test that has not started (ordered or sample_collected), with the reason (cancelled_at/by from the session). Needs lab.order. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.order), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.cancel_lab_order(uuid, text) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Status machine, registration
-- ---------------------------------------------------------------------------------------------

/*
 * ordered → in_progress is the step of tests without a specimen (imaging); for a test that needs
 * one, lab_orders_collected_check refuses it (worded as HMS_ILLEGAL_TRANSITION above).
 */
select app_hidden.declare_status_machine('app_public.lab_orders', $json$[
  {"from": null, "to": "ordered", "permission": "lab.order", "stamp_at": "ordered_at"},
  {"from": "ordered", "to": "sample_collected", "permission": "lab.process", "stamp_at": "sample_collected_at", "stamp_by": "sample_collected_by"},
  {"from": "ordered", "to": "in_progress", "permission": "lab.process", "stamp_at": "started_at"},
  {"from": "sample_collected", "to": "in_progress", "permission": "lab.process", "stamp_at": "started_at"},
  {"from": "in_progress", "to": "completed", "permission": "lab.process", "stamp_at": "completed_at", "stamp_by": "performed_by"},
  {"from": "completed", "to": "reported", "permission": "lab.process", "stamp_at": "reported_at", "stamp_by": "reported_by"},
  {"from": "ordered", "to": "cancelled", "permission": "lab.order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "sample_collected", "to": "cancelled", "permission": "lab.order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);

select app_hidden.register_table('app_public.lab_orders', 'lab order',
  read_permissions => '{lab.read}', write_permissions => '{lab.order,lab.process}', delete_permissions => '{lab.order}',
  protected_columns => '{is_critical}');

-- ---------------------------------------------------------------------------------------------
-- Dialect helpers replaced by the kit
-- ---------------------------------------------------------------------------------------------
drop function if exists app_hidden.tg_lab_orders__workflow();
drop function if exists app_hidden.lock_lab_order(uuid, text);
drop function if exists app_hidden.lab_transition_error(app_public.lab_orders, text);
