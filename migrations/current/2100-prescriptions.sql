/*
 * Prescriptions (tables: db/schema/app_public/tables/prescriptions.sql, prescription_items.sql,
 * prescription_templates.sql, prescription_versions.sql) on the kit.
 *
 * A prescription is written as a draft (create_prescription, apply_prescription_template), edited
 * freely while it is a draft (update_prescription, add_prescription_item, remove_prescription_item,
 * or plain REST writes), then signed with finalize_prescription: from then on it is a legal
 * document. Version 1 in prescription_versions keeps it as signed; every later change goes through
 * amend_prescription, which applies the change, raises prescriptions.version and stores the next
 * snapshot with the reason. The document lock refuses any other change of a signed prescription's
 * clinical fields or lines (409 HMS_DOCUMENT_LOCKED); what the pharmacy writes while dispensing
 * (prescription_items.quantity_dispensed, the dispensing statuses) stays open to its workflow.
 *
 * The status machine: draft → finalized (only through finalize_prescription: it stores version 1)
 * or cancelled (with a reason); finalized → cancelled (nothing dispensed), expired, or the
 * dispensing statuses, which follow the quantities dispensed and are taken only by the pharmacy's
 * workflow. History is append-only, for everyone.
 */

select app_hidden.register_error_codes('prescriptions', $json$[
  {"code": "HMS_NOT_A_DOCTOR", "http_status": 403, "meaning": "Only a doctor of this hospital (an active doctor record linked to your user) writes prescriptions."},
  {"code": "HMS_PRESCRIPTION_ITEMS_INVALID", "http_status": 422, "meaning": "items is not a JSON array of item objects."},
  {"code": "HMS_PRESCRIPTION_ITEM_INVALID", "http_status": 422, "meaning": "A field of a prescription line is missing or wrong (details.item is its position, details.field the field)."},
  {"code": "HMS_PRESCRIPTION_QUANTITY_INVALID", "http_status": 422, "meaning": "quantity_prescribed of a line is missing or not a whole number greater than zero (details.item)."},
  {"code": "HMS_PRESCRIPTION_ROUTE_INVALID", "http_status": 422, "meaning": "The route of a line is not one of oral, sublingual, topical, inhalation, intravenous, intramuscular, subcutaneous, rectal, ophthalmic, otic, nasal, other."},
  {"code": "HMS_MEDICINE_INACTIVE", "http_status": 422, "meaning": "The medicine is no longer in the formulary (is_active is false)."},
  {"code": "HMS_DIAGNOSIS_CODE_INVALID", "http_status": 422, "meaning": "A diagnosis code does not look like an ICD-10 code (e.g. J06.9); details.codes lists the ones refused."},
  {"code": "HMS_APPOINTMENT_PATIENT_MISMATCH", "http_status": 422, "meaning": "The appointment (or prescription) named belongs to another patient than the one given."},
  {"code": "HMS_PRESCRIPTION_DATE_INVALID", "http_status": 422, "meaning": "A follow-up date in the past, or a follow-up or validity date before the prescription's date."},
  {"code": "HMS_PRESCRIPTION_CHANGES_INVALID", "http_status": 422, "meaning": "changes is not a non-empty JSON object of the allowed keys, or one of its values has the wrong shape (details.unknown lists unknown keys)."},
  {"code": "HMS_PRESCRIPTION_EMPTY", "http_status": 422, "meaning": "A prescription (or template) needs at least one medicine line to be finalized, kept after an amendment, or saved."},
  {"code": "HMS_PRESCRIPTION_NOT_AMENDABLE", "http_status": 409, "meaning": "Only a finalized or partially dispensed prescription is amended: a draft is edited with update_prescription; a cancelled, expired or fully dispensed one no longer changes."},
  {"code": "HMS_PRESCRIPTION_ITEM_DISPENSED", "http_status": 409, "meaning": "The line has already been (partly) dispensed: an amendment can no longer remove or replace it (details.prescription_item_id)."},
  {"code": "HMS_PRESCRIPTION_DISPENSED", "http_status": 409, "meaning": "Medicines of the prescription have already been dispensed: it can no longer be cancelled."},
  {"code": "HMS_TEMPLATE_NAME_INVALID", "http_status": 422, "meaning": "A prescription template name has 2 to 120 characters."},
  {"code": "HMS_TEMPLATE_NAME_TAKEN", "http_status": 409, "meaning": "The owner (the doctor, or the hospital for hospital-wide templates) already has a template with that name."},
  {"code": "HMS_TEMPLATE_INACTIVE", "http_status": 422, "meaning": "The prescription template has been deactivated (is_active is false) and is no longer applied."}
]$json$);

-- Direct (REST) writes meet the same codes as the RPCs for the rules the schema states.
insert into app_hidden.constraint_errors (constraint_name, code, message) values
  ('prescriptions_diagnosis_codes_check', 'HMS_DIAGNOSIS_CODE_INVALID', 'Diagnosis codes are ICD-10 codes, e.g. J06.9.'),
  ('prescription_templates_diagnosis_codes_check', 'HMS_DIAGNOSIS_CODE_INVALID', 'Diagnosis codes are ICD-10 codes, e.g. J06.9.'),
  ('prescription_templates_hospital_id_doctor_id_name_key', 'HMS_TEMPLATE_NAME_TAKEN', 'The owner of the template already has a template with that name.')
on conflict (constraint_name) do update set code = excluded.code, message = excluded.message;

/* The prescription with its lines as one JSON object, as stored in prescription_versions.snapshot. */
comment on function app_hidden.prescription_snapshot(uuid, uuid) is
  'The prescription (without stamps) and its lines under "items": the snapshot stored in prescription_versions.snapshot.';

-- ---------------------------------------------------------------------------------------------
-- Input of the RPCs
-- ---------------------------------------------------------------------------------------------

/* A number of an item object: null when absent, 422 when it is not a number. */
create or replace function app_hidden.rx_item_number(p_item jsonb, p_key text, p_index integer) returns numeric
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_value jsonb := p_item -> p_key;
begin
  if v_value is null or jsonb_typeof(v_value) = 'null' then
    return null;
  end if;
  if jsonb_typeof(v_value) = 'number' then
    return v_value::text::numeric;
  end if;
  if jsonb_typeof(v_value) = 'string' and (v_value #>> '{}') ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$' then
    return trim(v_value #>> '{}')::numeric;
  end if;
  perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID', format('Item %s: %s must be a number.', p_index, p_key),
    jsonb_build_object('item', p_index, 'field', p_key));
  return null;
end;
$$;
comment on function app_hidden.rx_item_number(jsonb, text, integer) is 'Reads a numeric field of a prescription item object (HMS_PRESCRIPTION_ITEM_INVALID when it is not a number).';

/*
 * Validates one item object of the API and returns it normalised to prescription_items columns.
 * Errors: HMS_PRESCRIPTION_ITEM_INVALID, HMS_PRESCRIPTION_QUANTITY_INVALID, HMS_PRESCRIPTION_ROUTE_INVALID (422),
 * HMS_NOT_FOUND (404, a medicine not of this hospital), HMS_MEDICINE_INACTIVE (422).
 */
create or replace function app_hidden.normalize_prescription_item(p_hospital_id uuid, p_item jsonb, p_index integer) returns jsonb
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_medicine app_public.medicines;
  v_medicine_id uuid;
  v_drug_name text;
  v_quantity numeric;
  v_dose_quantity numeric;
  v_frequency_per_day numeric;
  v_duration numeric;
  v_route text;
  v_timing text;
  v_dose_unit text;
begin
  if p_item is null or jsonb_typeof(p_item) <> 'object' then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID', format('Item %s must be a JSON object.', p_index),
      jsonb_build_object('item', p_index));
  end if;

  if nullif(p_item ->> 'medicine_id', '') is not null then
    if (p_item ->> 'medicine_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID', format('Item %s: medicine_id is not a valid id.', p_index),
        jsonb_build_object('item', p_index, 'field', 'medicine_id'));
    end if;
    v_medicine_id := (p_item ->> 'medicine_id')::uuid;
    v_medicine := app_hidden.find_or_404(null::app_public.medicines, v_medicine_id);
    if not v_medicine.is_active then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE', format('Item %s: %s is no longer in the formulary.', p_index, v_medicine.generic_name),
        jsonb_build_object('item', p_index, 'medicine_id', v_medicine_id));
    end if;
  end if;

  v_drug_name := coalesce(nullif(trim(p_item ->> 'drug_name'), ''),
                          case when v_medicine.id is not null
                               then v_medicine.generic_name || coalesce(' ' || v_medicine.strength, '') || coalesce(' (' || v_medicine.brand_name || ')', '') end);
  if v_drug_name is null or length(v_drug_name) not between 2 and 200 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: drug_name (2 to 200 characters) is required when no medicine_id is given.', p_index),
      jsonb_build_object('item', p_index, 'field', 'drug_name'));
  end if;

  v_quantity := app_hidden.rx_item_number(p_item, 'quantity_prescribed', p_index);
  if v_quantity is null or v_quantity <= 0 or v_quantity <> trunc(v_quantity) or v_quantity > 2147483647 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_QUANTITY_INVALID',
      format('Item %s: quantity_prescribed must be a whole number greater than zero.', p_index),
      jsonb_build_object('item', p_index, 'field', 'quantity_prescribed'));
  end if;

  v_route := coalesce(nullif(p_item ->> 'route', ''), v_medicine.route, 'oral');
  if v_route not in ('oral', 'sublingual', 'topical', 'inhalation', 'intravenous', 'intramuscular', 'subcutaneous', 'rectal',
                     'ophthalmic', 'otic', 'nasal', 'other') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ROUTE_INVALID',
      format('Item %s: route %s is not one of oral, sublingual, topical, inhalation, intravenous, intramuscular, subcutaneous, rectal, ophthalmic, otic, nasal, other.', p_index, v_route),
      jsonb_build_object('item', p_index, 'field', 'route'));
  end if;

  v_timing := coalesce(nullif(p_item ->> 'timing', ''), 'any');
  if v_timing not in ('before_food', 'after_food', 'with_food', 'empty_stomach', 'bedtime', 'any') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: timing must be before_food, after_food, with_food, empty_stomach, bedtime or any.', p_index),
      jsonb_build_object('item', p_index, 'field', 'timing'));
  end if;

  v_dose_quantity := app_hidden.rx_item_number(p_item, 'dose_quantity', p_index);
  v_dose_unit := nullif(trim(p_item ->> 'dose_unit'), '');
  if (v_dose_quantity is null) <> (v_dose_unit is null) or v_dose_quantity <= 0 or v_dose_quantity >= 10000000 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: dose_quantity (greater than zero) and dose_unit go together.', p_index),
      jsonb_build_object('item', p_index, 'field', 'dose_quantity'));
  end if;

  v_frequency_per_day := app_hidden.rx_item_number(p_item, 'frequency_per_day', p_index);
  if v_frequency_per_day <= 0 or v_frequency_per_day > 48 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: frequency_per_day must be more than 0 and at most 48.', p_index),
      jsonb_build_object('item', p_index, 'field', 'frequency_per_day'));
  end if;

  v_duration := app_hidden.rx_item_number(p_item, 'duration_days', p_index);
  if v_duration < 1 or v_duration > 3650 or v_duration <> trunc(v_duration) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: duration_days must be a whole number of days between 1 and 3650.', p_index),
      jsonb_build_object('item', p_index, 'field', 'duration_days'));
  end if;

  if (p_item ? 'is_prn' and jsonb_typeof(p_item -> 'is_prn') not in ('boolean', 'null'))
     or (p_item ? 'substitution_allowed' and jsonb_typeof(p_item -> 'substitution_allowed') not in ('boolean', 'null')) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: is_prn and substitution_allowed are true or false.', p_index),
      jsonb_build_object('item', p_index, 'field', 'is_prn'));
  end if;

  return jsonb_build_object(
    'medicine_id', v_medicine_id,
    'drug_name', v_drug_name,
    'dose', nullif(trim(p_item ->> 'dose'), ''),
    'dose_quantity', v_dose_quantity,
    'dose_unit', v_dose_unit,
    'frequency', nullif(trim(p_item ->> 'frequency'), ''),
    'frequency_per_day', v_frequency_per_day,
    'route', v_route,
    'duration_days', v_duration::integer,
    'quantity_prescribed', v_quantity::integer,
    'timing', v_timing,
    'instructions', nullif(trim(p_item ->> 'instructions'), ''),
    'is_prn', coalesce((p_item ->> 'is_prn')::boolean, false),
    'substitution_allowed', coalesce((p_item ->> 'substitution_allowed')::boolean, true));
end;
$$;
comment on function app_hidden.normalize_prescription_item(uuid, jsonb, integer) is
  'Validates one prescription item object of the API (medicine of this hospital, drug name, quantity > 0, route, timing, dose) and returns it with prescription_items column names.';

/* Validates a JSON array of items; returns the normalised array. */
create or replace function app_hidden.normalize_prescription_items(p_hospital_id uuid, p_items jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result jsonb := '[]'::jsonb;
  v_item jsonb;
  v_index integer := 0;
begin
  if p_items is null or jsonb_typeof(p_items) = 'null' then
    return v_result;
  end if;
  if jsonb_typeof(p_items) <> 'array' then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEMS_INVALID', 'items must be a JSON array of item objects.', p_hint => 'e.g. [{"drug_name": "Paracetamol 500 mg tablet", "quantity_prescribed": 10}]');
  end if;
  for v_item in select e from jsonb_array_elements(p_items) e loop
    v_index := v_index + 1;
    v_result := v_result || jsonb_build_array(app_hidden.normalize_prescription_item(p_hospital_id, v_item, v_index));
  end loop;
  return v_result;
end;
$$;
comment on function app_hidden.normalize_prescription_items(uuid, jsonb) is 'Validates a JSON array of prescription items (see normalize_prescription_item); HMS_PRESCRIPTION_ITEMS_INVALID when it is not an array.';

/* ICD-10 codes: 422 HMS_DIAGNOSIS_CODE_INVALID. */
create or replace function app_hidden.check_diagnosis_codes(p_codes text[]) returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_bad text[];
begin
  select array_agg(coalesce(c, 'null')) into v_bad from unnest(coalesce(p_codes, '{}')) c
   where c is null or c !~ '^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$';
  if v_bad is not null then
    perform app_hidden.raise_error('HMS_DIAGNOSIS_CODE_INVALID',
      format('Not ICD-10 codes: %s (expected e.g. J06.9).', array_to_string(v_bad, ', ')), jsonb_build_object('codes', v_bad));
  end if;
end;
$$;
comment on function app_hidden.check_diagnosis_codes(text[]) is 'Refuses diagnosis codes that do not look like ICD-10 codes (HMS_DIAGNOSIS_CODE_INVALID).';

/*
 * A line of the prescription that a change removes or replaces, locked: 404 when it is not a line
 * of this prescription, 409 HMS_PRESCRIPTION_ITEM_DISPENSED once medicines were handed out on it
 * (what was dispensed stays on the prescription it was dispensed against).
 */
create or replace function app_hidden.lock_undispensed_line(p_prescription app_public.prescriptions, p_line_id uuid, p_done text)
returns app_public.prescription_items
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_line app_public.prescription_items := app_hidden.lock_or_404(null::app_public.prescription_items, p_line_id);
begin
  if v_line.prescription_id <> p_prescription.id then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this prescription.',
      jsonb_build_object('entity', 'prescription_line', 'id', p_line_id));
  end if;
  if v_line.quantity_dispensed > 0 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_DISPENSED',
      format('Line %s (%s) has already been dispensed and cannot be %s.', v_line.line_number, v_line.drug_name, p_done),
      jsonb_build_object('prescription_item_id', v_line.id));
  end if;
  return v_line;
end;
$$;
comment on function app_hidden.lock_undispensed_line(app_public.prescriptions, uuid, text) is
  'Locks a line of the prescription that a change removes or replaces (p_done: removed, replaced): 404 HMS_NOT_FOUND when not on it, 409 HMS_PRESCRIPTION_ITEM_DISPENSED once dispensed.';

/*
 * Applies a change set to a prescription: header fields and items (add_items, remove_items,
 * replace_items). Used by update_prescription (drafts) and amend_prescription (signed ones).
 */
create or replace function app_hidden.apply_prescription_changes(p_row app_public.prescriptions, p_changes jsonb) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_unknown text[];
  v_codes text[];
  v_item jsonb;
  v_line app_public.prescription_items;
  v_new jsonb;
  v_index integer := 0;
  v_date date;
  v_prescribed_on date := app_hidden.hospital_local_date(p_row.hospital_id, p_row.prescribed_at);
begin
  if p_changes is null or jsonb_typeof(p_changes) <> 'object' or p_changes = '{}'::jsonb then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'changes must be a non-empty JSON object.', null::jsonb);
  end if;
  select array_agg(k) into v_unknown from jsonb_object_keys(p_changes) k
   where k not in ('diagnosis', 'diagnosis_codes', 'chief_complaint', 'clinical_notes', 'advice', 'follow_up_date', 'valid_until',
                   'notes', 'add_items', 'remove_items', 'replace_items');
  if v_unknown is not null then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID',
      format('Unknown change: %s. Allowed: diagnosis, diagnosis_codes, chief_complaint, clinical_notes, advice, follow_up_date, valid_until, notes, add_items, remove_items, replace_items.',
             array_to_string(v_unknown, ', ')), jsonb_build_object('unknown', v_unknown));
  end if;

  if p_changes ? 'diagnosis_codes' then
    if jsonb_typeof(p_changes -> 'diagnosis_codes') <> 'array' then
      perform app_hidden.raise_error('HMS_DIAGNOSIS_CODE_INVALID', 'diagnosis_codes must be an array of ICD-10 codes.', null::jsonb);
    end if;
    v_codes := array(select jsonb_array_elements_text(p_changes -> 'diagnosis_codes'));
    perform app_hidden.check_diagnosis_codes(v_codes);
  end if;
  begin
    if p_changes ? 'follow_up_date' then v_date := (p_changes ->> 'follow_up_date')::date; end if;
    if p_changes ? 'valid_until' then v_date := (p_changes ->> 'valid_until')::date; end if;
  exception when others then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'follow_up_date and valid_until are dates (YYYY-MM-DD).', null::jsonb);
  end;
  if (p_changes ->> 'valid_until')::date < v_prescribed_on or (p_changes ->> 'follow_up_date')::date < v_prescribed_on then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_DATE_INVALID', 'follow_up_date and valid_until cannot be before the prescription date.',
      jsonb_build_object('prescribed_on', v_prescribed_on));
  end if;

  update app_public.prescriptions p
     set diagnosis = case when p_changes ? 'diagnosis' then nullif(trim(p_changes ->> 'diagnosis'), '') else p.diagnosis end,
         diagnosis_codes = case when p_changes ? 'diagnosis_codes' then v_codes else p.diagnosis_codes end,
         chief_complaint = case when p_changes ? 'chief_complaint' then nullif(trim(p_changes ->> 'chief_complaint'), '') else p.chief_complaint end,
         clinical_notes = case when p_changes ? 'clinical_notes' then nullif(trim(p_changes ->> 'clinical_notes'), '') else p.clinical_notes end,
         advice = case when p_changes ? 'advice' then nullif(trim(p_changes ->> 'advice'), '') else p.advice end,
         follow_up_date = case when p_changes ? 'follow_up_date' then (p_changes ->> 'follow_up_date')::date else p.follow_up_date end,
         valid_until = case when p_changes ? 'valid_until' then (p_changes ->> 'valid_until')::date else p.valid_until end,
         notes = case when p_changes ? 'notes' then nullif(trim(p_changes ->> 'notes'), '') else p.notes end
   where p.hospital_id = p_row.hospital_id and p.id = p_row.id;

  -- remove_items: ids of lines
  if p_changes ? 'remove_items' then
    if jsonb_typeof(p_changes -> 'remove_items') <> 'array' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'remove_items must be an array of prescription item ids.', null::jsonb);
    end if;
    for v_item in select e from jsonb_array_elements(p_changes -> 'remove_items') e loop
      if jsonb_typeof(v_item) <> 'string' or (v_item #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'remove_items must be an array of prescription item ids.', null::jsonb);
      end if;
      v_line := app_hidden.lock_undispensed_line(p_row, (v_item #>> '{}')::uuid, 'removed');
      delete from app_public.prescription_items i where i.id = v_line.id;
    end loop;
  end if;

  -- replace_items: [{id, …item}] — the line keeps its number, its content is replaced
  if p_changes ? 'replace_items' then
    if jsonb_typeof(p_changes -> 'replace_items') <> 'array' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'replace_items must be an array of item objects with their id.', null::jsonb);
    end if;
    for v_item in select e from jsonb_array_elements(p_changes -> 'replace_items') e loop
      v_index := v_index + 1;
      if jsonb_typeof(v_item) <> 'object' or coalesce(v_item ->> 'id', '') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'replace_items must be an array of item objects with their id.', null::jsonb);
      end if;
      v_line := app_hidden.lock_undispensed_line(p_row, (v_item ->> 'id')::uuid, 'replaced');
      v_new := app_hidden.normalize_prescription_item(p_row.hospital_id, v_item - 'id', v_index);
      update app_public.prescription_items i
         set (medicine_id, drug_name, dose, dose_quantity, dose_unit, frequency, frequency_per_day, route, duration_days,
              quantity_prescribed, timing, instructions, is_prn, substitution_allowed)
           = (select r.medicine_id, r.drug_name, r.dose, r.dose_quantity, r.dose_unit, r.frequency, r.frequency_per_day, r.route,
                     r.duration_days, r.quantity_prescribed, r.timing, r.instructions, r.is_prn, r.substitution_allowed
                from jsonb_populate_record(null::app_public.prescription_items, v_new) r)
       where i.id = v_line.id;
    end loop;
  end if;

  if p_changes ? 'add_items' then
    perform app_hidden.insert_prescription_items(p_row.hospital_id, p_row.id,
      app_hidden.normalize_prescription_items(p_row.hospital_id, p_changes -> 'add_items'));
  end if;
end;
$$;
comment on function app_hidden.apply_prescription_changes(app_public.prescriptions, jsonb) is
  'Applies {diagnosis, diagnosis_codes, chief_complaint, clinical_notes, advice, follow_up_date, valid_until, notes, add_items, remove_items, replace_items} to a prescription.';

-- ---------------------------------------------------------------------------------------------
-- Rules of the module's own (the status machine, document lock and history are the kit's)
-- ---------------------------------------------------------------------------------------------

/*
 * BEFORE UPDATE on prescriptions (_200_rules): a prescription of which medicines were dispensed
 * is not cancelled, whoever writes; for client writes of a signed prescription, the two columns
 * the document lock leaves open keep their meaning: the cancellation reason is written by
 * cancelling, and a prescription in force is cancelled rather than deleted.
 */
create or replace function app_hidden.tg_prescriptions__rules() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_dispensed integer;
begin
  if NEW.status = 'cancelled' and OLD.status <> 'cancelled' then
    select coalesce(sum(i.quantity_dispensed), 0) into v_dispensed from app_public.prescription_items i
     where i.hospital_id = NEW.hospital_id and i.prescription_id = NEW.id;
    if v_dispensed > 0 then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_DISPENSED',
        'Medicines of this prescription have already been dispensed: it can no longer be cancelled.',
        jsonb_build_object('quantity_dispensed', v_dispensed));
    end if;
  end if;
  if app_hidden.is_trusted_writer() or OLD.status = 'draft' then
    return NEW;
  end if;
  if NEW.cancellation_reason is distinct from OLD.cancellation_reason and NEW.status <> 'cancelled' then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED', 'The cancellation reason is written by cancelling the prescription.',
      jsonb_build_object('entity', 'prescription', 'id', OLD.id, 'status', OLD.status));
  end if;
  if NEW.is_deleted and not OLD.is_deleted and OLD.status in ('finalized', 'partially_dispensed', 'dispensed') then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
      format('Prescription %s is %s and cannot be deleted; cancel it instead.', OLD.prescription_number, OLD.status),
      jsonb_build_object('entity', 'prescription', 'id', OLD.id, 'status', OLD.status));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_prescriptions__rules() is
  'BEFORE UPDATE on prescriptions (_200_rules): no cancellation once something was dispensed (HMS_PRESCRIPTION_DISPENSED); for client writes of a signed prescription, the cancellation reason only by cancelling and no deletion of one in force (HMS_DOCUMENT_LOCKED).';

drop trigger if exists _200_workflow on app_public.prescriptions;
drop trigger if exists _300_first_version on app_public.prescriptions;
drop trigger if exists _200_rules on app_public.prescriptions;
create trigger _200_rules before update on app_public.prescriptions
  for each row execute function app_hidden.tg_prescriptions__rules();

/*
 * BEFORE INSERT on prescription_items (_070_line_number): a line without a number gets the next
 * one of its prescription; the prescription's row lock serialises concurrent additions.
 */
create or replace function app_hidden.tg_prescription_items__line_number() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if NEW.line_number is null then
    perform 1 from app_public.prescriptions p where p.hospital_id = NEW.hospital_id and p.id = NEW.prescription_id for update;
    NEW.line_number := coalesce((select max(i.line_number) from app_public.prescription_items i
                                  where i.hospital_id = NEW.hospital_id and i.prescription_id = NEW.prescription_id), 0) + 1;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_prescription_items__line_number() is
  'BEFORE INSERT on prescription_items (_070_line_number): numbers a new line after the last line of its prescription.';

drop trigger if exists _200_workflow on app_public.prescription_items;
drop trigger if exists _070_line_number on app_public.prescription_items;
create trigger _070_line_number before insert on app_public.prescription_items
  for each row execute function app_hidden.tg_prescription_items__line_number();

drop trigger if exists _000_append_only on app_public.prescription_versions;

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

drop function if exists app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date);
create function app_public.create_prescription(
  patient_id uuid,
  appointment_id uuid default null,
  diagnosis text default null,
  diagnosis_codes text[] default '{}',
  items jsonb default '[]',
  advice text default null,
  follow_up_date date default null
) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_patient app_public.patients;
  v_appointment app_public.appointments;
  v_items jsonb;
  v_doctor_id uuid;
  v_today date := app_hidden.hospital_today(v_hospital);
  v_validity integer;
  v_row app_public.prescriptions;
begin
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and d.is_active and not d.is_deleted;
  if v_doctor_id is null then
    perform app_hidden.raise_error('HMS_NOT_A_DOCTOR', 'Only a doctor of this hospital can write a prescription.', null::jsonb);
  end if;
  v_patient := app_hidden.find_or_404(null::app_public.patients, create_prescription.patient_id);
  if create_prescription.appointment_id is not null then
    v_appointment := app_hidden.find_or_404(null::app_public.appointments, create_prescription.appointment_id);
    if v_appointment.patient_id <> v_patient.id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The appointment is of another patient.',
        jsonb_build_object('appointment_id', v_appointment.id));
    end if;
  end if;
  perform app_hidden.check_diagnosis_codes(create_prescription.diagnosis_codes);
  v_items := app_hidden.normalize_prescription_items(v_hospital, create_prescription.items);

  if create_prescription.follow_up_date < v_today then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_DATE_INVALID', 'The follow-up date is in the past.',
      jsonb_build_object('today', v_today));
  end if;
  select s.prescription_validity_days into v_validity from app_public.hospital_settings s where s.hospital_id = v_hospital;

  insert into app_public.prescriptions (hospital_id, patient_id, doctor_id, appointment_id, status, diagnosis, diagnosis_codes,
                                        advice, follow_up_date, valid_until, chief_complaint)
  values (v_hospital, v_patient.id, v_doctor_id, v_appointment.id, 'draft', nullif(trim(create_prescription.diagnosis), ''),
          coalesce(create_prescription.diagnosis_codes, '{}'), nullif(trim(create_prescription.advice), ''),
          create_prescription.follow_up_date, v_today + coalesce(v_validity, 30), v_appointment.chief_complaint)
  returning * into v_row;
  perform app_hidden.insert_prescription_items(v_hospital, v_row.id, v_items);
  return v_row;
end;
$$;
comment on function app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date) is
  E'Starts a draft prescription for a patient, written by the calling doctor, valid for the hospital''s prescription_validity_days. items: [{medicine_id?, drug_name, dose, dose_quantity, dose_unit, frequency, frequency_per_day, route, duration_days, quantity_prescribed, timing, instructions, is_prn, substitution_allowed}] (line numbers are automatic). Needs prescriptions.write. Returns the prescription; read its lines from prescription_items afterwards (an embed in the same call sees them as they were before it). Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 403 HMS_NOT_A_DOCTOR, 404 HMS_NOT_FOUND (patient, appointment, medicine), 422 HMS_APPOINTMENT_PATIENT_MISMATCH, HMS_DIAGNOSIS_CODE_INVALID, HMS_PRESCRIPTION_ITEMS_INVALID, HMS_PRESCRIPTION_ITEM_INVALID, HMS_PRESCRIPTION_QUANTITY_INVALID, HMS_PRESCRIPTION_ROUTE_INVALID, HMS_MEDICINE_INACTIVE, HMS_PRESCRIPTION_DATE_INVALID.';
grant execute on function app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date) to :DATABASE_STAFF;

drop function if exists app_public.update_prescription(uuid, jsonb);
create function app_public.update_prescription(prescription_id uuid, changes jsonb) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_row app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, update_prescription.prescription_id);
begin
  if v_row.status <> 'draft' then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
      format('Prescription %s is %s: change it with amend_prescription (a new version with a reason).', v_row.prescription_number, v_row.status),
      jsonb_build_object('entity', 'prescription', 'id', v_row.id, 'status', v_row.status));
  end if;
  perform app_hidden.apply_prescription_changes(v_row, update_prescription.changes);
  select * into v_row from app_public.prescriptions p where p.hospital_id = v_hospital and p.id = v_row.id;
  return v_row;
end;
$$;
comment on function app_public.update_prescription(uuid, jsonb) is
  E'Edits a DRAFT prescription. changes: {diagnosis, diagnosis_codes, chief_complaint, clinical_notes, advice, follow_up_date, valid_until, notes, add_items: [item…], remove_items: [prescription_item id…], replace_items: [{id, …item}]}. Needs prescriptions.write. Returns the prescription; read its lines from prescription_items afterwards (an embed in the same call sees them as they were before it). Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_DOCUMENT_LOCKED (signed: use amend_prescription), 422 HMS_PRESCRIPTION_CHANGES_INVALID, HMS_PRESCRIPTION_DATE_INVALID and the item errors of create_prescription.';
grant execute on function app_public.update_prescription(uuid, jsonb) to :DATABASE_STAFF;

drop function if exists app_public.add_prescription_item(uuid, jsonb);
create function app_public.add_prescription_item(prescription_id uuid, item jsonb) returns app_public.prescriptions
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select app_public.update_prescription(add_prescription_item.prescription_id,
                                        jsonb_build_object('add_items', jsonb_build_array(add_prescription_item.item)));
$$;
comment on function app_public.add_prescription_item(uuid, jsonb) is
  'Adds one medicine line (an item object as for create_prescription) to a DRAFT prescription; returns the prescription. Errors as update_prescription.';
grant execute on function app_public.add_prescription_item(uuid, jsonb) to :DATABASE_STAFF;

drop function if exists app_public.remove_prescription_item(uuid);
create function app_public.remove_prescription_item(prescription_item_id uuid) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_line app_public.prescription_items := app_hidden.find_or_404(null::app_public.prescription_items, remove_prescription_item.prescription_item_id);
begin
  return app_public.update_prescription(v_line.prescription_id, jsonb_build_object('remove_items', jsonb_build_array(v_line.id)));
end;
$$;
comment on function app_public.remove_prescription_item(uuid) is
  'Removes one line from a DRAFT prescription; returns the prescription. Errors as update_prescription (404 HMS_NOT_FOUND for a line not of this hospital).';
grant execute on function app_public.remove_prescription_item(uuid) to :DATABASE_STAFF;

drop function if exists app_public.finalize_prescription(uuid);
create function app_public.finalize_prescription(prescription_id uuid) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_row app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, finalize_prescription.prescription_id);
begin
  perform app_hidden.require_transition('app_public.prescriptions', v_row.status, 'finalized');
  if not exists (select 1 from app_public.prescription_items i where i.hospital_id = v_hospital and i.prescription_id = v_row.id) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A prescription needs at least one medicine line to be finalized.',
      jsonb_build_object('prescription_id', v_row.id));
  end if;
  update app_public.prescriptions p set status = 'finalized' where p.id = v_row.id returning * into v_row;
  insert into app_public.prescription_versions (hospital_id, prescription_id, version, snapshot, change_reason, changed_at, changed_by)
  values (v_hospital, v_row.id, v_row.version, app_hidden.prescription_snapshot(v_hospital, v_row.id), 'Finalized',
          v_row.finalized_at, v_row.finalized_by);
  return v_row;
end;
$$;
comment on function app_public.finalize_prescription(uuid) is
  E'Signs a draft prescription: draft → finalized (finalized_at/by from the session) and version 1 in prescription_versions (snapshot with its lines). Later changes go through amend_prescription. The only way to finalize. Needs prescriptions.write. Returns the prescription. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft), 422 HMS_PRESCRIPTION_EMPTY (no line).';
grant execute on function app_public.finalize_prescription(uuid) to :DATABASE_STAFF;

drop function if exists app_public.amend_prescription(uuid, jsonb, text);
create function app_public.amend_prescription(prescription_id uuid, changes jsonb, change_reason text) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_row app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, amend_prescription.prescription_id);
  v_reason text := nullif(trim(amend_prescription.change_reason), '');
begin
  if v_row.status not in ('finalized', 'partially_dispensed') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_NOT_AMENDABLE',
      case when v_row.status = 'draft'
           then format('Prescription %s is a draft: edit it with update_prescription.', v_row.prescription_number)
           else format('Prescription %s is %s and can no longer be amended.', v_row.prescription_number, v_row.status) end,
      jsonb_build_object('prescription_id', v_row.id, 'status', v_row.status));
  end if;
  if v_reason is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the signed prescription is changed (change_reason).',
      jsonb_build_object('field', 'change_reason'));
  end if;

  perform app_hidden.apply_prescription_changes(v_row, amend_prescription.changes);
  if not exists (select 1 from app_public.prescription_items i where i.hospital_id = v_hospital and i.prescription_id = v_row.id) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A signed prescription keeps at least one medicine line; cancel it instead.',
      jsonb_build_object('prescription_id', v_row.id));
  end if;
  update app_public.prescriptions p set version = p.version + 1 where p.id = v_row.id returning * into v_row;
  insert into app_public.prescription_versions (hospital_id, prescription_id, version, snapshot, change_reason, changed_at, changed_by)
  values (v_hospital, v_row.id, v_row.version, app_hidden.prescription_snapshot(v_hospital, v_row.id), v_reason,
          app_hidden.now(), app_hidden.current_user_id());
  return v_row;
end;
$$;
comment on function app_public.amend_prescription(uuid, jsonb, text) is
  E'Changes a finalized (or partially dispensed) prescription: applies changes (as update_prescription: header fields, add_items, remove_items, replace_items — dispensed lines cannot be removed or replaced), raises version and stores the new snapshot with change_reason in prescription_versions. Needs prescriptions.write. Returns the prescription; read its lines from prescription_items afterwards (an embed in the same call sees them as they were before it). Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_PRESCRIPTION_NOT_AMENDABLE, 409 HMS_PRESCRIPTION_ITEM_DISPENSED, 422 HMS_REASON_REQUIRED (change_reason), HMS_PRESCRIPTION_CHANGES_INVALID, HMS_PRESCRIPTION_EMPTY and the item errors of create_prescription.';
grant execute on function app_public.amend_prescription(uuid, jsonb, text) to :DATABASE_STAFF;

drop function if exists app_public.cancel_prescription(uuid, text);
create function app_public.cancel_prescription(prescription_id uuid, reason text) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_row app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, cancel_prescription.prescription_id);
begin
  perform app_hidden.require_transition('app_public.prescriptions', v_row.status, 'cancelled');
  -- the status machine asks for the reason and stamps cancelled_at/by; the module rule refuses once something was dispensed
  update app_public.prescriptions p set status = 'cancelled', cancellation_reason = nullif(trim(cancel_prescription.reason), '')
   where p.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.cancel_prescription(uuid, text) is
  E'Cancels a draft or finalized prescription of which nothing was dispensed, with the reason (cancelled_at/by from the session). Needs prescriptions.write. Returns the prescription. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (other states), 409 HMS_PRESCRIPTION_DISPENSED, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.cancel_prescription(uuid, text) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Templates
-- ---------------------------------------------------------------------------------------------

drop function if exists app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid);
create function app_public.create_prescription_template(
  name text,
  diagnosis text default null,
  items jsonb default '[]',
  diagnosis_codes text[] default '{}',
  advice text default null,
  description text default null,
  is_shared boolean default false,
  department_id uuid default null
) returns app_public.prescription_templates
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_doctor_id uuid;
  v_name text := trim(create_prescription_template.name);
  v_department app_public.departments;
  v_items jsonb;
  v_row app_public.prescription_templates;
begin
  -- a doctor's own template; staff who are not doctors (hospital admins) write hospital-wide ones
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and not d.is_deleted;
  if v_name is null or length(v_name) not between 2 and 120 then
    perform app_hidden.raise_error('HMS_TEMPLATE_NAME_INVALID', 'A template name has 2 to 120 characters.', jsonb_build_object('field', 'name'));
  end if;
  if create_prescription_template.department_id is not null then
    v_department := app_hidden.find_or_404(null::app_public.departments, create_prescription_template.department_id);
  end if;
  perform app_hidden.check_diagnosis_codes(create_prescription_template.diagnosis_codes);
  v_items := app_hidden.normalize_prescription_items(v_hospital, create_prescription_template.items);
  if jsonb_array_length(v_items) = 0 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A template needs at least one medicine line.', jsonb_build_object('field', 'items'));
  end if;
  if exists (select 1 from app_public.prescription_templates t
              where t.hospital_id = v_hospital and t.doctor_id is not distinct from v_doctor_id and t.name = v_name) then
    perform app_hidden.raise_error('HMS_TEMPLATE_NAME_TAKEN', format('There is already a template named %s.', v_name),
      jsonb_build_object('name', v_name));
  end if;
  insert into app_public.prescription_templates (hospital_id, name, doctor_id, department_id, diagnosis, diagnosis_codes, description,
                                                 items, advice, is_shared)
  values (v_hospital, v_name, v_doctor_id, v_department.id, nullif(trim(create_prescription_template.diagnosis), ''),
          coalesce(create_prescription_template.diagnosis_codes, '{}'), nullif(trim(create_prescription_template.description), ''),
          v_items, nullif(trim(create_prescription_template.advice), ''), coalesce(create_prescription_template.is_shared, false))
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid) is
  E'Saves a reusable regimen: the caller''s own template (hospital-wide when the caller is not a doctor). items as for create_prescription (validated). Needs prescriptions.write. Returns the template. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (department, medicine), 409 HMS_TEMPLATE_NAME_TAKEN, 422 HMS_TEMPLATE_NAME_INVALID, HMS_PRESCRIPTION_EMPTY, HMS_DIAGNOSIS_CODE_INVALID and the item errors.';
grant execute on function app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid) to :DATABASE_STAFF;

drop function if exists app_public.apply_prescription_template(uuid, uuid, uuid);
create function app_public.apply_prescription_template(template_id uuid, patient_id uuid, appointment_id uuid default null)
returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_template app_public.prescription_templates := app_hidden.lock_or_404(null::app_public.prescription_templates, apply_prescription_template.template_id);
  v_row app_public.prescriptions;
begin
  -- a colleague's personal template that is not shared is not visible: 404 as for another hospital's
  if v_template.doctor_id is not null and not v_template.is_shared
     and not exists (select 1 from app_public.doctors d
                      where d.hospital_id = v_hospital and d.id = v_template.doctor_id and d.user_id = app_hidden.current_user_id()) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such prescription template in this hospital.',
      jsonb_build_object('entity', 'prescription_template', 'id', v_template.id));
  end if;
  if not v_template.is_active then
    perform app_hidden.raise_error('HMS_TEMPLATE_INACTIVE', format('The template %s is no longer active.', v_template.name),
      jsonb_build_object('template_id', v_template.id));
  end if;
  v_row := app_public.create_prescription(apply_prescription_template.patient_id, apply_prescription_template.appointment_id,
                                          v_template.diagnosis, v_template.diagnosis_codes, v_template.items, v_template.advice, null);
  update app_public.prescription_templates t set usage_count = t.usage_count + 1 where t.id = v_template.id;
  return v_row;
end;
$$;
comment on function app_public.apply_prescription_template(uuid, uuid, uuid) is
  E'Starts a draft prescription for the patient from a template (diagnosis, codes, items, advice) and counts the use. Needs prescriptions.write. Returns the prescription; read its lines from prescription_items afterwards. Errors: those of create_prescription, 404 HMS_NOT_FOUND (template of another hospital or a colleague''s unshared one), 422 HMS_TEMPLATE_INACTIVE.';
grant execute on function app_public.apply_prescription_template(uuid, uuid, uuid) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Status machine, document lock, registration
-- ---------------------------------------------------------------------------------------------

/*
 * The dispensing statuses follow the quantities the pharmacy dispenses (and gives back), so only
 * its workflow takes them; finalizing stores version 1, so it is taken only by
 * finalize_prescription. A partly dispensed prescription that expires is closed by the pharmacy.
 */
select app_hidden.declare_status_machine('app_public.prescriptions', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "finalized", "via": "finalize_prescription", "stamp_at": "finalized_at", "stamp_by": "finalized_by"},
  {"from": "draft", "to": "cancelled", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "finalized", "to": "cancelled", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "finalized", "to": "partially_dispensed", "via": "dispense_prescription"},
  {"from": "finalized", "to": "dispensed", "via": "dispense_prescription"},
  {"from": "partially_dispensed", "to": "dispensed", "via": "dispense_prescription"},
  {"from": "partially_dispensed", "to": "finalized", "via": "return_dispensed_items"},
  {"from": "dispensed", "to": "partially_dispensed", "via": "return_dispensed_items"},
  {"from": "finalized", "to": "expired"},
  {"from": "partially_dispensed", "to": "expired", "permission": "pharmacy.dispense"}
]$json$);

-- A signed prescription changes only through amend_prescription; its status (by the machine's
-- steps), internal notes and soft delete (see _200_rules) stay open, and the pharmacy keeps
-- quantity_dispensed of its lines.
select app_hidden.lock_document('app_public.prescriptions', '{draft}',
  still_editable => '{status,cancellation_reason,notes,is_deleted,deleted_at}');
select app_hidden.lock_document('app_public.prescription_items', '{draft}', still_editable => '{quantity_dispensed}',
  document => 'app_public.prescriptions', document_column => 'prescription_id');

select app_hidden.register_table('app_public.prescriptions', 'prescription',
  read_permissions => '{prescriptions.read}', write_permissions => '{prescriptions.write}', delete_permissions => '{prescriptions.write}',
  protected_columns => '{version}');
select app_hidden.register_table('app_public.prescription_items', 'prescription line',
  read_permissions => '{prescriptions.read}', write_permissions => '{prescriptions.write}', delete_permissions => '{prescriptions.write}',
  protected_columns => '{quantity_dispensed}', immutable_columns => '{prescription_id}');
select app_hidden.register_table('app_public.prescription_templates', 'prescription template',
  read_permissions => '{prescriptions.read,prescriptions.write}', write_permissions => '{prescriptions.write}',
  delete_permissions => '{prescriptions.write}', protected_columns => '{usage_count}');
select app_hidden.register_table('app_public.prescription_versions', 'prescription version',
  read_permissions => '{prescriptions.read}', write_mode => 'read_only', append_only => true);

-- ---------------------------------------------------------------------------------------------
-- Dialect helpers replaced by the kit
-- ---------------------------------------------------------------------------------------------
drop function if exists app_hidden.lock_prescription(uuid, text);
drop function if exists app_hidden.tg_prescriptions__workflow();
drop function if exists app_hidden.tg_prescriptions__first_version();
drop function if exists app_hidden.tg_prescription_items__workflow();
drop function if exists app_hidden.tg_prescription_versions__append_only();
