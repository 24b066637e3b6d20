/*
 * Pharmacy (tables: db/schema/app_public/tables/pharmacy_dispensing.sql, pharmacy_dispensing_items.sql,
 * pharmacy_returns.sql, pharmacy_return_items.sql): medicines handed over against a prescription
 * or over the counter, and brought back, on the kit.
 *
 * - dispense_prescription / dispense_otc take batches first-expiry-first-out (FEFO) among the
 *   medicine's usable batches (active, on hand, expiring after today plus the hospital's
 *   near_expiry_block_days), locking them in expiry order, and write one 'dispense' stock movement
 *   per line: the ledger trigger (section 4100) lowers the batch. A line the usable batches cannot
 *   cover → HMS_INSUFFICIENT_STOCK and nothing at all is written. Dispensed lines go on the
 *   patient's draft pharmacy invoice in the same transaction through the billing contract
 *   (app_hidden.ensure_draft_invoice / add_invoice_item); a walk-in customer pays at the counter.
 * - return_dispensed_items books a completed return: resalable units go back to their batch
 *   ('patient_return' movement), damaged or expired ones are written off; the refund is recorded
 *   (paying it out is billing's job).
 *
 * What clients may do directly is declared once: a dispensing starts as a draft and a draft may be
 * cancelled; handed-over dispensings are born completed (or partially dispensed) inside the RPCs.
 * A return is recorded as requested, then approved or rejected; a completed return is born inside
 * return_dispensed_items. Who received, approved, cancelled or dispensed is the session's user.
 * Handed-over dispensings and completed or rejected returns are locked documents (their lines too);
 * their amounts are totals of their lines.
 */

select app_hidden.register_error_codes('pharmacy', $json$[
  {"code": "HMS_INSUFFICIENT_STOCK", "http_status": 409, "meaning": "Not enough usable stock: the batches that are active and not (nearly) expired hold less than asked (details: medicine, requested, available); nothing is written."},
  {"code": "HMS_PRESCRIPTION_NOT_FINALIZED", "http_status": 409, "meaning": "The prescription is still a draft: the doctor must finalize it before it is dispensed."},
  {"code": "HMS_PRESCRIPTION_CANCELLED", "http_status": 409, "meaning": "The prescription was cancelled and cannot be dispensed."},
  {"code": "HMS_PRESCRIPTION_EXPIRED", "http_status": 409, "meaning": "The prescription is past its validity and cannot be dispensed (details.valid_until)."},
  {"code": "HMS_PRESCRIPTION_ALREADY_DISPENSED", "http_status": 409, "meaning": "The prescription has already been dispensed in full."},
  {"code": "HMS_NOTHING_TO_DISPENSE", "http_status": 422, "meaning": "Nothing is outstanding on the prescription's formulary lines."},
  {"code": "HMS_INVALID_ITEMS", "http_status": 422, "meaning": "items must be a non-empty JSON array of objects, each naming its line or medicine by a uuid."},
  {"code": "HMS_INVALID_QUANTITY", "http_status": 422, "meaning": "A quantity is not a whole number above zero (details.item)."},
  {"code": "HMS_DUPLICATE_ITEM", "http_status": 422, "meaning": "The same line or medicine is listed twice in items."},
  {"code": "HMS_MEDICINE_NOT_STOCKED", "http_status": 422, "meaning": "The prescription line names no medicine of the formulary: it is dispensed elsewhere, not from stock."},
  {"code": "HMS_QUANTITY_EXCEEDS_PRESCRIBED", "http_status": 422, "meaning": "More is asked than is still outstanding on the prescription line (details: requested, outstanding)."},
  {"code": "HMS_MEDICINE_INACTIVE", "http_status": 422, "meaning": "The medicine is no longer active in the formulary and cannot be dispensed."},
  {"code": "HMS_RECIPIENT_REQUIRED", "http_status": 422, "meaning": "An over-the-counter sale needs a patient or the walk-in customer's name."},
  {"code": "HMS_PRESCRIPTION_REQUIRED", "http_status": 422, "meaning": "The medicine is not over-the-counter: it is dispensed only against a prescription."},
  {"code": "HMS_DISPENSING_NOT_RETURNABLE", "http_status": 409, "meaning": "Only handed-over (completed or partially dispensed) medicines can be returned."},
  {"code": "HMS_INVALID_RETURN_REASON", "http_status": 422, "meaning": "The return reason is not one of adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued, patient_request, other."},
  {"code": "HMS_RETURN_REASON_NOTES_REQUIRED", "http_status": 422, "meaning": "A return for reason other needs reason_notes saying why."},
  {"code": "HMS_INVALID_CONDITION", "http_status": 422, "meaning": "A returned item's condition is not resalable, damaged or expired."},
  {"code": "HMS_RETURN_EXCEEDS_DISPENSED", "http_status": 422, "meaning": "More units are returned than were dispensed on the line and not returned yet (details: requested, dispensed, already_returned)."}
]$json$);

-- ---------------------------------------------------------------------------------------------
-- Helpers of the RPCs
-- ---------------------------------------------------------------------------------------------

/*
 * Takes p_quantity units of a medicine first-expiry-first-out: locks the usable batches in
 * expiry order and returns the batches and quantities to take (a line may span batches).
 * Raises HMS_INSUFFICIENT_STOCK when the usable batches hold less than asked. Writes nothing:
 * the caller writes the stock movements.
 */
create or replace function app_hidden.pharmacy_allocate_fefo(p_hospital_id uuid, p_medicine_id uuid, p_quantity integer)
returns table (batch_id uuid, batch_number text, expiry_date date, quantity integer)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_usable_after date := app_hidden.hospital_today(p_hospital_id)
    + coalesce((select s.near_expiry_block_days from app_public.hospital_settings s where s.hospital_id = p_hospital_id), 0);
  v_remaining integer := p_quantity;
  v_available integer := 0;
  v_take integer;
  v_name text;
  r record;
begin
  for r in
    select b.id, b.batch_number, b.expiry_date, b.quantity_on_hand
      from app_public.medicine_batches b
     where b.hospital_id = p_hospital_id
       and b.medicine_id = p_medicine_id
       and b.status = 'active'
       and b.quantity_on_hand > 0
       and b.expiry_date > v_usable_after
     order by b.expiry_date, b.received_at, b.id
       for update of b
  loop
    v_available := v_available + r.quantity_on_hand;
    if v_remaining > 0 then
      v_take := least(v_remaining, r.quantity_on_hand);
      v_remaining := v_remaining - v_take;
      batch_id := r.id;
      batch_number := r.batch_number;
      expiry_date := r.expiry_date;
      quantity := v_take;
      return next;
    end if;
  end loop;

  if v_remaining > 0 then
    select concat_ws(' ', m.generic_name, m.strength) into v_name from app_public.medicines m where m.id = p_medicine_id;
    perform app_hidden.raise_error('HMS_INSUFFICIENT_STOCK',
      format('Not enough usable stock of %s: %s requested, %s available in batches that are active and not (nearly) expired.',
             v_name, p_quantity, v_available),
      jsonb_build_object('medicine_id', p_medicine_id, 'medicine', v_name, 'requested', p_quantity, 'available', v_available));
  end if;
end;
$$;
comment on function app_hidden.pharmacy_allocate_fefo(uuid, uuid, integer) is
  'First-expiry-first-out allocation of a medicine: locks the usable batches (active, on hand, expiring after today + near_expiry_block_days) in expiry order and returns how much to take from which; HMS_INSUFFICIENT_STOCK when they do not hold enough.';

/* A positive whole number from a JSON value, or null. */
create or replace function app_hidden.pharmacy_json_quantity(p_value jsonb) returns integer
language sql
immutable
as $$
  select case when jsonb_typeof(p_value) = 'number' and p_value::text ~ '^[0-9]{1,9}$' and p_value::text::integer > 0
              then p_value::text::integer end;
$$;
comment on function app_hidden.pharmacy_json_quantity(jsonb) is 'A whole number above zero from a JSON value of items, or null (the caller answers HMS_INVALID_QUANTITY).';

/* A uuid from a JSON string, or null when it is not one. */
create or replace function app_hidden.pharmacy_json_uuid(p_value jsonb) returns uuid
language sql
immutable
as $$
  select case when jsonb_typeof(p_value) = 'string'
               and (p_value #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then (p_value #>> '{}')::uuid end;
$$;
comment on function app_hidden.pharmacy_json_uuid(jsonb) is 'A uuid from a JSON string of items, or null (the caller answers HMS_INVALID_ITEMS).';

/*
 * Writes one dispensing line per FEFO batch of one medicine (price and tax from the medicine),
 * its 'dispense' stock movement and, given an invoice, its invoice line.
 */
drop function if exists app_hidden.pharmacy_dispense_medicine(uuid, uuid, uuid, uuid, integer, uuid, text);
create function app_hidden.pharmacy_dispense_medicine(
  p_hospital_id uuid, p_dispensing_id uuid, p_prescription_item_id uuid, p_medicine_id uuid, p_quantity integer,
  p_invoice_id uuid, p_instructions text default null
) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_medicine app_public.medicines;
  v_rate numeric(5,2) := 0;
  v_inclusive boolean := false;
  v_gross numeric(12,2);
  v_tax numeric(12,2);
  v_item_id uuid;
  a record;
begin
  select * into v_medicine from app_public.medicines m where m.id = p_medicine_id and m.hospital_id = p_hospital_id;
  if v_medicine.tax_configuration_id is not null then
    select t.rate_percent, t.is_inclusive into v_rate, v_inclusive
      from app_public.tax_configurations t
     where t.hospital_id = p_hospital_id and t.id = v_medicine.tax_configuration_id and t.is_active;
    v_rate := coalesce(v_rate, 0);
    v_inclusive := coalesce(v_inclusive, false);
  end if;

  for a in select * from app_hidden.pharmacy_allocate_fefo(p_hospital_id, p_medicine_id, p_quantity) loop
    v_gross := round(a.quantity * v_medicine.selling_price, 2);
    v_tax := case when v_inclusive then round(v_gross - v_gross / (1 + v_rate / 100), 2)
                  else round(v_gross * v_rate / 100, 2) end;
    insert into app_public.pharmacy_dispensing_items
      (hospital_id, dispensing_id, prescription_item_id, medicine_id, batch_id, quantity, unit_price, tax_percent,
       tax_amount, line_total, expiry_date, dosage_instructions)
    values
      (p_hospital_id, p_dispensing_id, p_prescription_item_id, p_medicine_id, a.batch_id, a.quantity,
       v_medicine.selling_price, v_rate, v_tax, case when v_inclusive then v_gross else v_gross + v_tax end,
       a.expiry_date, p_instructions)
    returning id into v_item_id;

    insert into app_public.stock_movements
      (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, dispensing_item_id, reason)
    values
      (p_hospital_id, 'dispense', 'medicine', p_medicine_id, a.batch_id, -a.quantity, 0, v_item_id,
       'Dispensed by the pharmacy.');

    if p_invoice_id is not null then
      perform app_hidden.add_invoice_item(
        p_invoice_id, 'medicine',
        format('%s (batch %s)', concat_ws(' ', v_medicine.generic_name, v_medicine.strength), a.batch_number),
        a.quantity, v_medicine.selling_price, v_medicine.tax_configuration_id,
        jsonb_build_object('dispensing_item_id', v_item_id, 'medicine_id', p_medicine_id, 'batch_id', a.batch_id));
    end if;
  end loop;
end;
$$;
comment on function app_hidden.pharmacy_dispense_medicine(uuid, uuid, uuid, uuid, integer, uuid, text) is
  'Writes the FEFO dispensing lines of one medicine (price and tax from the medicine), their dispense stock movements and, given an invoice, their invoice lines.';

-- ---------------------------------------------------------------------------------------------
-- Totals from lines
-- ---------------------------------------------------------------------------------------------

/* A dispensing's amounts from its lines: total = Σ price × quantity, tax = Σ line tax, net = Σ line totals. */
create or replace function app_hidden.refresh_pharmacy_dispensing_totals(p_id uuid) returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update app_public.pharmacy_dispensing d
     set total_amount = t.gross, tax_amount = t.tax, net_amount = t.net
    from app_public.pharmacy_dispensing h
   cross join lateral (select coalesce(sum(round(i.quantity * i.unit_price, 2)), 0) as gross,
                              coalesce(sum(i.tax_amount), 0) as tax,
                              coalesce(sum(i.line_total), 0) as net
                         from app_public.pharmacy_dispensing_items i
                        where i.hospital_id = h.hospital_id and i.dispensing_id = h.id) t
   where h.id = p_id and d.id = h.id
     and (d.total_amount, d.tax_amount, d.net_amount) is distinct from (t.gross, t.tax, t.net);
$$;
comment on function app_hidden.refresh_pharmacy_dispensing_totals(uuid) is
  'Recomputes a dispensing''s total_amount (Σ price × quantity), tax_amount and net_amount (Σ line totals) from its lines; the one place they are computed.';

/* A return's refund from its lines: refund_amount = Σ line refunds. */
create or replace function app_hidden.refresh_pharmacy_return_totals(p_id uuid) returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update app_public.pharmacy_returns r
     set refund_amount = t.refund
    from app_public.pharmacy_returns h
   cross join lateral (select coalesce(sum(i.line_refund), 0) as refund
                         from app_public.pharmacy_return_items i
                        where i.hospital_id = h.hospital_id and i.return_id = h.id) t
   where h.id = p_id and r.id = h.id and r.refund_amount is distinct from t.refund;
$$;
comment on function app_hidden.refresh_pharmacy_return_totals(uuid) is
  'Recomputes a return''s refund_amount (Σ line refunds) from its lines; the one place it is computed.';

-- ---------------------------------------------------------------------------------------------
-- dispense_prescription
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.dispense_prescription(uuid, jsonb);
create function app_public.dispense_prescription(prescription_id uuid, items jsonb default null)
returns app_public.pharmacy_dispensing
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.dispense');
  v_prescription app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, dispense_prescription.prescription_id);
  v_requests jsonb := '[]'::jsonb;   -- [{prescription_item_id, medicine_id, quantity, instructions}]
  v_element jsonb;
  v_item_id uuid;
  v_quantity integer;
  v_line app_public.prescription_items;
  v_medicine app_public.medicines;
  v_dispensing app_public.pharmacy_dispensing;
  v_invoice_id uuid;
  v_outstanding_after integer;
  v_new_prescription_status text;
  r record;
begin
  case v_prescription.status
    when 'draft' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_NOT_FINALIZED', 'The prescription is still a draft: the doctor must finalize it before it is dispensed.',
        jsonb_build_object('status', v_prescription.status));
    when 'cancelled' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CANCELLED', 'The prescription was cancelled and cannot be dispensed.',
        jsonb_build_object('status', v_prescription.status));
    when 'expired' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_EXPIRED', 'The prescription has expired and cannot be dispensed.',
        jsonb_build_object('status', v_prescription.status, 'valid_until', v_prescription.valid_until));
    when 'dispensed' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_ALREADY_DISPENSED', 'The prescription has already been dispensed in full.',
        jsonb_build_object('status', v_prescription.status));
    else null;
  end case;
  if v_prescription.valid_until < app_hidden.hospital_today(v_hospital) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EXPIRED',
      format('The prescription was valid until %s and cannot be dispensed any more.', v_prescription.valid_until),
      jsonb_build_object('status', v_prescription.status, 'valid_until', v_prescription.valid_until));
  end if;

  -- What to dispense: the lines asked for, or everything still outstanding.
  if dispense_prescription.items is null then
    for v_line in
      select * from app_public.prescription_items i
       where i.hospital_id = v_hospital and i.prescription_id = v_prescription.id
         and i.medicine_id is not null and i.quantity_dispensed < i.quantity_prescribed
       order by i.line_number
         for update
    loop
      v_requests := v_requests || jsonb_build_object('prescription_item_id', v_line.id, 'medicine_id', v_line.medicine_id,
        'quantity', v_line.quantity_prescribed - v_line.quantity_dispensed, 'instructions', v_line.instructions);
    end loop;
    if jsonb_array_length(v_requests) = 0 then
      perform app_hidden.raise_error('HMS_NOTHING_TO_DISPENSE',
        'Nothing is left to dispense on this prescription: its formulary lines are fully dispensed (lines for medicines the hospital does not stock are dispensed elsewhere).');
    end if;
  else
    if jsonb_typeof(dispense_prescription.items) <> 'array' or jsonb_array_length(dispense_prescription.items) = 0 then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {prescription_item_id, quantity}.');
    end if;
    for v_element in select e from jsonb_array_elements(dispense_prescription.items) e loop
      if jsonb_typeof(v_element) <> 'object' then
        perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {prescription_item_id, quantity}.');
      end if;
      v_item_id := app_hidden.pharmacy_json_uuid(v_element -> 'prescription_item_id');
      if v_item_id is null then
        perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a prescription_item_id (a uuid).',
          jsonb_build_object('item', v_element));
      end if;
      v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
      if v_quantity is null then
        perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.',
          jsonb_build_object('item', v_element));
      end if;
      if v_requests @> jsonb_build_array(jsonb_build_object('prescription_item_id', v_item_id)) then
        perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same prescription line is listed twice.',
          jsonb_build_object('prescription_item_id', v_item_id));
      end if;
      v_line := app_hidden.lock_or_404(null::app_public.prescription_items, v_item_id);
      if v_line.prescription_id is distinct from v_prescription.id then
        perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this prescription.',
          jsonb_build_object('entity', replace(app_hidden.entity_of('app_public.prescription_items'), ' ', '_'), 'id', v_item_id));
      end if;
      if v_line.medicine_id is null then
        perform app_hidden.raise_error('HMS_MEDICINE_NOT_STOCKED',
          format('Line %s (%s) names no medicine of the formulary: it cannot be dispensed from stock.', v_line.line_number, v_line.drug_name),
          jsonb_build_object('prescription_item_id', v_item_id));
      end if;
      if v_quantity > v_line.quantity_prescribed - v_line.quantity_dispensed then
        perform app_hidden.raise_error('HMS_QUANTITY_EXCEEDS_PRESCRIBED',
          format('Line %s (%s): %s requested but only %s of %s prescribed are still to dispense.', v_line.line_number,
                 v_line.drug_name, v_quantity, v_line.quantity_prescribed - v_line.quantity_dispensed, v_line.quantity_prescribed),
          jsonb_build_object('prescription_item_id', v_item_id, 'requested', v_quantity,
                             'outstanding', v_line.quantity_prescribed - v_line.quantity_dispensed));
      end if;
      v_requests := v_requests || jsonb_build_object('prescription_item_id', v_item_id, 'medicine_id', v_line.medicine_id,
        'quantity', v_quantity, 'instructions', v_line.instructions);
    end loop;
  end if;

  -- Every medicine must still be dispensable.
  for r in select distinct (e ->> 'medicine_id')::uuid as medicine_id from jsonb_array_elements(v_requests) e loop
    select * into v_medicine from app_public.medicines m where m.hospital_id = v_hospital and m.id = r.medicine_id;
    if not v_medicine.is_active or v_medicine.is_deleted then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE',
        format('%s is no longer active in the formulary and cannot be dispensed.', v_medicine.generic_name),
        jsonb_build_object('medicine_id', r.medicine_id));
    end if;
  end loop;

  -- Complete when no formulary line stays outstanding after this dispensing.
  select coalesce(sum(greatest(i.quantity_prescribed - i.quantity_dispensed
                               - coalesce((select sum((e ->> 'quantity')::integer) from jsonb_array_elements(v_requests) e
                                            where (e ->> 'prescription_item_id')::uuid = i.id), 0), 0)), 0)
    into v_outstanding_after
    from app_public.prescription_items i
   where i.hospital_id = v_hospital and i.prescription_id = v_prescription.id and i.medicine_id is not null;
  v_new_prescription_status := case when v_outstanding_after = 0 then 'dispensed' else 'partially_dispensed' end;

  -- Born handed over: the status machine stamps dispensed_at / dispensed_by from the session.
  insert into app_public.pharmacy_dispensing (hospital_id, patient_id, prescription_id, dispensing_type, status)
  values (v_hospital, v_prescription.patient_id, v_prescription.id, 'prescription',
          case when v_outstanding_after = 0 then 'completed' else 'partially_dispensed' end)
  returning * into v_dispensing;

  v_invoice_id := app_hidden.ensure_draft_invoice(v_hospital, v_prescription.patient_id, 'pharmacy');

  -- Lines in medicine order, so concurrent dispensings lock batches in one global order (no deadlock).
  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'medicine_id', e ->> 'prescription_item_id' loop
    perform app_hidden.pharmacy_dispense_medicine(v_hospital, v_dispensing.id,
      (v_element ->> 'prescription_item_id')::uuid, (v_element ->> 'medicine_id')::uuid, (v_element ->> 'quantity')::integer,
      v_invoice_id, v_element ->> 'instructions');
    update app_public.prescription_items i
       set quantity_dispensed = i.quantity_dispensed + (v_element ->> 'quantity')::integer
     where i.hospital_id = v_hospital and i.id = (v_element ->> 'prescription_item_id')::uuid;
  end loop;

  update app_public.prescriptions p set status = v_new_prescription_status
   where p.hospital_id = v_hospital and p.id = v_prescription.id and p.status is distinct from v_new_prescription_status;

  select * into v_dispensing from app_public.pharmacy_dispensing d where d.id = v_dispensing.id;
  return v_dispensing;
end;
$$;
comment on function app_public.dispense_prescription(uuid, jsonb) is
E'Dispenses a finalized (or partially dispensed) prescription, in full or in part (needs pharmacy.dispense).\n'
 'items: optional array of {prescription_item_id, quantity}; without it everything still outstanding on the formulary lines is dispensed. '
 'Batches are taken first-expiry-first-out among active batches that expire after today + near_expiry_block_days (a line may span batches; expired batches are never used); '
 'each line writes a dispense stock movement and goes on the patient''s draft pharmacy invoice in the same transaction; the prescription becomes partially_dispensed or dispensed. '
 'Returns the dispensing (status completed or partially_dispensed, with its totals); its lines are pharmacy_dispensing_items (each with its invoice_items line), read them with GET /pharmacy_dispensing?id=eq.…&select=*,pharmacy_dispensing_items(*,invoice_items(invoice_id)).\n'
 'Errors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (prescription or line); '
 'HMS_PRESCRIPTION_NOT_FINALIZED, HMS_PRESCRIPTION_CANCELLED, HMS_PRESCRIPTION_EXPIRED, HMS_PRESCRIPTION_ALREADY_DISPENSED 409; '
 'HMS_INSUFFICIENT_STOCK 409 (details: medicine, requested, available — nothing is dispensed); '
 'HMS_QUANTITY_EXCEEDS_PRESCRIBED, HMS_INVALID_ITEMS, HMS_INVALID_QUANTITY, HMS_DUPLICATE_ITEM, HMS_MEDICINE_NOT_STOCKED, HMS_MEDICINE_INACTIVE, HMS_NOTHING_TO_DISPENSE 422.';
grant execute on function app_public.dispense_prescription(uuid, jsonb) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- dispense_otc
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.dispense_otc(uuid, text, jsonb);
create function app_public.dispense_otc(patient_id uuid default null, customer_name text default null, items jsonb default null)
returns app_public.pharmacy_dispensing
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.dispense');
  v_customer text := nullif(trim(dispense_otc.customer_name), '');
  v_requests jsonb := '[]'::jsonb;
  v_element jsonb;
  v_medicine_id uuid;
  v_quantity integer;
  v_medicine app_public.medicines;
  v_dispensing app_public.pharmacy_dispensing;
  v_invoice_id uuid;
begin
  if dispense_otc.patient_id is not null then
    perform app_hidden.find_or_404(null::app_public.patients, dispense_otc.patient_id);
  elsif v_customer is null then
    perform app_hidden.raise_error('HMS_RECIPIENT_REQUIRED', 'Give the patient or the walk-in customer''s name.');
  end if;

  if dispense_otc.items is null or jsonb_typeof(dispense_otc.items) <> 'array' or jsonb_array_length(dispense_otc.items) = 0 then
    perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {medicine_id, quantity}.');
  end if;
  for v_element in select e from jsonb_array_elements(dispense_otc.items) e loop
    if jsonb_typeof(v_element) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {medicine_id, quantity}.');
    end if;
    v_medicine_id := app_hidden.pharmacy_json_uuid(v_element -> 'medicine_id');
    if v_medicine_id is null then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a medicine_id (a uuid).', jsonb_build_object('item', v_element));
    end if;
    v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
    if v_quantity is null then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.',
        jsonb_build_object('item', v_element));
    end if;
    if v_requests @> jsonb_build_array(jsonb_build_object('medicine_id', v_medicine_id)) then
      perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same medicine is listed twice.', jsonb_build_object('medicine_id', v_medicine_id));
    end if;
    v_medicine := app_hidden.find_or_404(null::app_public.medicines, v_medicine_id);
    if not v_medicine.is_active then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE',
        format('%s is no longer active in the formulary and cannot be dispensed.', v_medicine.generic_name),
        jsonb_build_object('medicine_id', v_medicine_id));
    end if;
    if v_medicine.requires_prescription then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_REQUIRED',
        format('%s is %s: it is dispensed only against a prescription.', v_medicine.generic_name,
               replace(v_medicine.schedule_category, '_', ' ')),
        jsonb_build_object('medicine_id', v_medicine_id, 'schedule_category', v_medicine.schedule_category));
    end if;
    v_requests := v_requests || jsonb_build_object('medicine_id', v_medicine_id, 'quantity', v_quantity);
  end loop;

  -- Born handed over: the status machine stamps dispensed_at / dispensed_by from the session.
  insert into app_public.pharmacy_dispensing (hospital_id, patient_id, customer_name, dispensing_type, status)
  values (v_hospital, dispense_otc.patient_id, v_customer, 'otc', 'completed')
  returning * into v_dispensing;

  -- Walk-in customers pay at the counter: only a registered patient's sale goes on an invoice.
  if dispense_otc.patient_id is not null then
    v_invoice_id := app_hidden.ensure_draft_invoice(v_hospital, dispense_otc.patient_id, 'pharmacy');
  end if;

  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'medicine_id' loop
    perform app_hidden.pharmacy_dispense_medicine(v_hospital, v_dispensing.id, null,
      (v_element ->> 'medicine_id')::uuid, (v_element ->> 'quantity')::integer, v_invoice_id, null);
  end loop;

  select * into v_dispensing from app_public.pharmacy_dispensing d where d.id = v_dispensing.id;
  return v_dispensing;
end;
$$;
comment on function app_public.dispense_otc(uuid, text, jsonb) is
E'Over-the-counter sale of medicines that need no prescription (needs pharmacy.dispense): to a registered patient (patient_id) or a walk-in customer (customer_name). '
 'items: array of {medicine_id, quantity}. Batches first-expiry-first-out as for prescriptions, one dispense stock movement per line. '
 'A patient''s sale goes on their draft pharmacy invoice; a walk-in sale is not invoiced (paid at the counter). '
 'Returns the dispensing (completed, with its totals); its lines are pharmacy_dispensing_items.\n'
 'Errors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (patient, medicine); HMS_INSUFFICIENT_STOCK 409; '
 'HMS_PRESCRIPTION_REQUIRED, HMS_RECIPIENT_REQUIRED, HMS_INVALID_ITEMS, HMS_INVALID_QUANTITY, HMS_DUPLICATE_ITEM, HMS_MEDICINE_INACTIVE 422.';
grant execute on function app_public.dispense_otc(uuid, text, jsonb) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- return_dispensed_items
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.return_dispensed_items(uuid, jsonb, text, text);
create function app_public.return_dispensed_items(dispensing_id uuid, items jsonb, reason text, reason_notes text default null)
returns app_public.pharmacy_returns
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.return');
  v_dispensing app_public.pharmacy_dispensing := app_hidden.lock_or_404(null::app_public.pharmacy_dispensing, return_dispensed_items.dispensing_id);
  v_notes text := nullif(trim(return_dispensed_items.reason_notes), '');
  v_requests jsonb := '[]'::jsonb;
  v_element jsonb;
  v_item_id uuid;
  v_quantity integer;
  v_condition text;
  v_item app_public.pharmacy_dispensing_items;
  v_return app_public.pharmacy_returns;
  v_return_item_id uuid;
begin
  if v_dispensing.status not in ('completed', 'partially_dispensed') then
    perform app_hidden.raise_error('HMS_DISPENSING_NOT_RETURNABLE',
      format('Only handed-over medicines can be returned; this dispensing is %s.', v_dispensing.status),
      jsonb_build_object('status', v_dispensing.status));
  end if;
  if return_dispensed_items.reason is null or return_dispensed_items.reason not in
     ('adverse_reaction', 'wrong_medicine', 'excess_quantity', 'expired', 'damaged', 'discontinued', 'patient_request', 'other') then
    perform app_hidden.raise_error('HMS_INVALID_RETURN_REASON',
      'reason must be one of adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued, patient_request, other.',
      jsonb_build_object('reason', return_dispensed_items.reason));
  end if;
  if return_dispensed_items.reason = 'other' and v_notes is null then
    perform app_hidden.raise_error('HMS_RETURN_REASON_NOTES_REQUIRED', 'A return for reason "other" needs reason_notes saying why.');
  end if;

  if return_dispensed_items.items is null or jsonb_typeof(return_dispensed_items.items) <> 'array'
     or jsonb_array_length(return_dispensed_items.items) = 0 then
    perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {dispensing_item_id, quantity, condition}.');
  end if;
  for v_element in select e from jsonb_array_elements(return_dispensed_items.items) e loop
    if jsonb_typeof(v_element) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {dispensing_item_id, quantity, condition}.');
    end if;
    v_item_id := app_hidden.pharmacy_json_uuid(v_element -> 'dispensing_item_id');
    if v_item_id is null then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a dispensing_item_id (a uuid).', jsonb_build_object('item', v_element));
    end if;
    v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
    if v_quantity is null then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.',
        jsonb_build_object('item', v_element));
    end if;
    v_condition := coalesce(v_element ->> 'condition', 'resalable');
    if v_condition not in ('resalable', 'damaged', 'expired') then
      perform app_hidden.raise_error('HMS_INVALID_CONDITION', 'condition must be resalable, damaged or expired.', jsonb_build_object('item', v_element));
    end if;
    if v_requests @> jsonb_build_array(jsonb_build_object('dispensing_item_id', v_item_id)) then
      perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same dispensing line is listed twice.', jsonb_build_object('dispensing_item_id', v_item_id));
    end if;
    v_item := app_hidden.lock_or_404(null::app_public.pharmacy_dispensing_items, v_item_id);
    if v_item.dispensing_id is distinct from v_dispensing.id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this dispensing.',
        jsonb_build_object('entity', replace(app_hidden.entity_of('app_public.pharmacy_dispensing_items'), ' ', '_'), 'id', v_item_id));
    end if;
    if v_quantity > v_item.quantity - v_item.quantity_returned then
      perform app_hidden.raise_error('HMS_RETURN_EXCEEDS_DISPENSED',
        format('%s units returned but only %s of the %s dispensed on this line are not returned yet.', v_quantity,
               v_item.quantity - v_item.quantity_returned, v_item.quantity),
        jsonb_build_object('dispensing_item_id', v_item_id, 'requested', v_quantity, 'dispensed', v_item.quantity,
                           'already_returned', v_item.quantity_returned));
    end if;
    v_requests := v_requests || jsonb_build_object('dispensing_item_id', v_item_id, 'quantity', v_quantity, 'condition', v_condition);
  end loop;

  -- Born completed (the pharmacist approves it by booking it): the status machine stamps
  -- received_by and completed_at; the approval is the same pharmacist's, now.
  insert into app_public.pharmacy_returns
    (hospital_id, dispensing_id, patient_id, returned_at, reason, reason_notes, status, approved_at, approved_by, restock)
  values
    (v_hospital, v_dispensing.id, v_dispensing.patient_id, app_hidden.now(), return_dispensed_items.reason, v_notes, 'completed',
     app_hidden.now(), app_hidden.current_user_id(), v_requests @> '[{"condition": "resalable"}]')
  returning * into v_return;

  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'dispensing_item_id' loop
    select * into v_item from app_public.pharmacy_dispensing_items i
     where i.hospital_id = v_hospital and i.id = (v_element ->> 'dispensing_item_id')::uuid;
    v_quantity := (v_element ->> 'quantity')::integer;
    v_condition := v_element ->> 'condition';
    -- Refund at the price paid, tax included: the share of the line total for these units.
    insert into app_public.pharmacy_return_items
      (hospital_id, return_id, dispensing_item_id, medicine_id, batch_id, quantity, unit_price, line_refund, condition, restocked)
    values
      (v_hospital, v_return.id, v_item.id, v_item.medicine_id, v_item.batch_id, v_quantity, v_item.unit_price,
       round(v_item.line_total * v_quantity / v_item.quantity, 2), v_condition, v_condition = 'resalable')
    returning id into v_return_item_id;
    if v_condition = 'resalable' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, return_item_id, reason)
      values
        (v_hospital, 'patient_return', 'medicine', v_item.medicine_id, v_item.batch_id, v_quantity, 0, v_return_item_id,
         'Returned by the patient in resalable condition.');
    end if;
    update app_public.pharmacy_dispensing_items i set quantity_returned = i.quantity_returned + v_quantity
     where i.hospital_id = v_hospital and i.id = v_item.id;
  end loop;

  select * into v_return from app_public.pharmacy_returns r where r.id = v_return.id;
  return v_return;
end;
$$;
comment on function app_public.return_dispensed_items(uuid, jsonb, text, text) is
E'Books a completed return of dispensed medicines (needs pharmacy.return). items: array of {dispensing_item_id, quantity, condition: resalable|damaged|expired (default resalable)}; '
 'reason: adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued, patient_request or other (then reason_notes is required). '
 'Resalable units go back to their batch (patient_return stock movement); damaged or expired ones are not restocked. '
 'refund_amount = returned units × price paid including tax; it is recorded only (the refund itself is made by billing). '
 'Returns the return (completed, with its refund_amount); its lines are pharmacy_return_items.\n'
 'Errors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (dispensing, line); HMS_DISPENSING_NOT_RETURNABLE 409; '
 'HMS_RETURN_EXCEEDS_DISPENSED, HMS_INVALID_RETURN_REASON, HMS_RETURN_REASON_NOTES_REQUIRED, HMS_INVALID_ITEMS, HMS_INVALID_QUANTITY, HMS_INVALID_CONDITION, HMS_DUPLICATE_ITEM 422.';
grant execute on function app_public.return_dispensed_items(uuid, jsonb, text, text) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Rules of direct writes: status machines, document locks, totals, access
-- ---------------------------------------------------------------------------------------------

-- Direct writes are ruled by the declarations below alone: no per-module guard triggers.
drop trigger if exists _300_workflow_guard on app_public.pharmacy_dispensing;
drop trigger if exists _300_workflow_guard on app_public.pharmacy_dispensing_items;
drop trigger if exists _300_workflow_guard on app_public.pharmacy_returns;
drop trigger if exists _300_workflow_guard on app_public.pharmacy_return_items;
-- prescription_items.quantity_dispensed is a protected column of prescription_items (section 2100).
drop trigger if exists _310_protect_quantity_dispensed on app_public.prescription_items;

/*
 * A dispensing is prepared as a draft (or cancelled as one); it is handed over only through
 * dispense_prescription / dispense_otc, which create it completed or partially dispensed.
 */
select app_hidden.declare_status_machine('app_public.pharmacy_dispensing', $json$[
  {"from": null, "to": "draft"},
  {"from": null, "to": "completed", "via": "dispense_prescription or dispense_otc", "stamp_at": "dispensed_at", "stamp_by": "dispensed_by"},
  {"from": null, "to": "partially_dispensed", "via": "dispense_prescription", "stamp_at": "dispensed_at", "stamp_by": "dispensed_by"},
  {"from": "draft", "to": "cancelled", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);

/*
 * A return is recorded as requested (by the member of staff taking it in), then approved or
 * rejected with a reason; a completed return (stock back, refund) is created by return_dispensed_items.
 */
select app_hidden.declare_status_machine('app_public.pharmacy_returns', $json$[
  {"from": null, "to": "requested", "stamp_by": "received_by"},
  {"from": null, "to": "completed", "via": "return_dispensed_items", "stamp_at": "completed_at", "stamp_by": "received_by"},
  {"from": "requested", "to": "approved", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "reason": "rejection_reason"},
  {"from": "approved", "to": "rejected", "reason": "rejection_reason"}
]$json$);

-- Handed-over dispensings: who, what and how much are fixed (a return reverses them); notes stay editable.
select app_hidden.lock_document('app_public.pharmacy_dispensing', '{draft}',
  still_editable => '{status,customer_name,customer_phone,external_prescriber,notes,counselling_notes,cancellation_reason,is_deleted,deleted_at}');
select app_hidden.lock_document('app_public.pharmacy_dispensing_items', '{draft}',
  document => 'app_public.pharmacy_dispensing', document_column => 'dispensing_id');
-- Completed or rejected returns: what came back and why are fixed.
select app_hidden.lock_document('app_public.pharmacy_returns', '{requested,approved}',
  still_editable => '{status,returned_at,reason_notes,rejection_reason,notes,is_deleted,deleted_at}');
select app_hidden.lock_document('app_public.pharmacy_return_items', '{requested,approved}',
  document => 'app_public.pharmacy_returns', document_column => 'return_id');

select app_hidden.refresh_totals_from('app_public.pharmacy_dispensing_items', 'dispensing_id', 'app_hidden.refresh_pharmacy_dispensing_totals');
select app_hidden.refresh_totals_from('app_public.pharmacy_return_items', 'return_id', 'app_hidden.refresh_pharmacy_return_totals');

select app_hidden.register_table('app_public.pharmacy_dispensing', 'dispensing',
  read_permissions => '{pharmacy.dispense,pharmacy.return,billing.read}',
  write_permissions => '{pharmacy.dispense}', delete_permissions => '{pharmacy.dispense}',
  protected_columns => '{total_amount,tax_amount,net_amount}');
select app_hidden.register_table('app_public.pharmacy_dispensing_items', 'dispensing line',
  read_permissions => '{pharmacy.dispense,pharmacy.return,billing.read}',
  write_permissions => '{pharmacy.dispense}', delete_permissions => '{pharmacy.dispense}',
  protected_columns => '{tax_amount,line_total,quantity_returned}');
select app_hidden.register_table('app_public.pharmacy_returns', 'pharmacy return',
  read_permissions => '{pharmacy.dispense,pharmacy.return,billing.read}',
  write_permissions => '{pharmacy.return}', delete_permissions => '{pharmacy.return}',
  protected_columns => '{refund_amount}');
select app_hidden.register_table('app_public.pharmacy_return_items', 'pharmacy return line',
  read_permissions => '{pharmacy.dispense,pharmacy.return,billing.read}',
  write_permissions => '{pharmacy.return}', delete_permissions => '{pharmacy.return}',
  protected_columns => '{restocked}');

-- ---------------------------------------------------------------------------------------------
-- Guards and helpers the declarations above make redundant (dropped where an earlier migration made them)
-- ---------------------------------------------------------------------------------------------
drop function if exists app_hidden.tg_pharmacy_dispensing__guard();
drop function if exists app_hidden.tg_pharmacy_dispensing_items__guard();
drop function if exists app_hidden.tg_pharmacy_returns__guard();
drop function if exists app_hidden.tg_pharmacy_return_items__guard();
drop function if exists app_hidden.tg_prescription_items__protect_dispensed();
drop function if exists app_hidden.pharmacy_total_dispensing(uuid);
drop function if exists app_hidden.pharmacy_workflow_active();
