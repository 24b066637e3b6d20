/*
 * Optical (tables: db/schema/app_public/tables/optical_products.sql, optical_prescriptions.sql,
 * optical_orders.sql, optical_order_items.sql, optical_repairs.sql): eye prescriptions,
 * spectacle orders and repairs, on the kit.
 *
 * Prescriptions: create_optical_prescription checks each value the way a lab would (range,
 *   0.25 D steps, axis with cylinder, base with prism, PD ranges) with a specific 422 HMS_RX_*
 *   code; any other rule of the table answers HMS_RX_VALUE_INVALID, however the row is written.
 *   A new prescription supersedes the patient's older active ones.
 * Orders: draft → confirmed → sent_to_lab → in_production → ready → delivered;
 *   confirmed → ready (ready-made goods, no lab job); draft | confirmed | sent_to_lab → cancelled
 *   (with a reason). Lines change only while the order is a draft; a line's total is its own
 *   arithmetic, the order's totals come from its lines. Delivery (deliver_optical_order) takes
 *   each product line out of stock through the ledger ('optical_sale' movements) and bills every
 *   line on the patient's optical draft invoice through the billing contract, so 'delivered' is
 *   reached only through it.
 * Repairs: received → in_repair → ready → returned; received | in_repair → cancelled.
 * The status steps stamp their time (and who delivered or cancelled) from the business clock and
 * the session, whoever writes; the stamps are never client-writable.
 */

select app_hidden.register_error_codes('optical', $json$[
  {"code": "HMS_RX_SPHERE_INVALID", "http_status": 422, "meaning": "A sphere power outside -30.00…+30.00 D or not in 0.25 D steps (details: field, value)."},
  {"code": "HMS_RX_CYLINDER_INVALID", "http_status": 422, "meaning": "A cylinder power outside -10.00…+10.00 D or not in 0.25 D steps (details: field, value)."},
  {"code": "HMS_RX_AXIS_INVALID", "http_status": 422, "meaning": "An axis that is not a whole number of degrees from 0 to 180 (details: field, value)."},
  {"code": "HMS_RX_AXIS_REQUIRED", "http_status": 422, "meaning": "An eye with a cylinder needs its axis (details.field)."},
  {"code": "HMS_RX_ADD_INVALID", "http_status": 422, "meaning": "A near addition outside +0.25…+4.00 D or not in 0.25 D steps (details: field, value)."},
  {"code": "HMS_RX_PRISM_INVALID", "http_status": 422, "meaning": "A prism outside 0…20 prism dioptres, a prism without a base (up, down, in, out) or a base without a prism."},
  {"code": "HMS_RX_PD_INVALID", "http_status": 422, "meaning": "A pupillary distance out of range (monocular 20–40 mm, binocular 40–80 mm) or inconsistent (right + left = binocular within 2 mm, near ≤ distance)."},
  {"code": "HMS_RX_POWER_REQUIRED", "http_status": 422, "meaning": "An eye prescription needs the sphere of at least one eye."},
  {"code": "HMS_RX_PRESCRIBER_REQUIRED", "http_status": 422, "meaning": "Name the prescriber: a doctor of this hospital, an external prescriber, or call as a doctor."},
  {"code": "HMS_RX_UNKNOWN_FIELD", "http_status": 422, "meaning": "values names a field that is not part of an eye prescription (details.allowed lists them)."},
  {"code": "HMS_RX_VALUE_INVALID", "http_status": 422, "meaning": "An eye prescription value has the wrong type or breaks a rule of the prescription (the message names the rule, the hint what is allowed)."},
  {"code": "HMS_ORDER_ITEMS_REQUIRED", "http_status": 422, "meaning": "An optical order needs at least one line (to be created or confirmed)."},
  {"code": "HMS_ORDER_ITEM_INVALID", "http_status": 422, "meaning": "An optical order line is malformed: type, eye, quantity, price, discount or description (details.line numbers it)."},
  {"code": "HMS_PRODUCT_INACTIVE", "http_status": 422, "meaning": "The optical product is no longer sold."},
  {"code": "HMS_LAB_NAME_REQUIRED", "http_status": 422, "meaning": "Sending an order to a lab needs the lab's (or in-house workshop's) name."},
  {"code": "HMS_EXPECTED_READY_INVALID", "http_status": 422, "meaning": "The expected ready time is before the order was placed."},
  {"code": "HMS_REPAIR_CUSTOMER_REQUIRED", "http_status": 422, "meaning": "A repair needs its customer: a patient or a walk-in customer's name."},
  {"code": "HMS_REPAIR_TYPE_INVALID", "http_status": 422, "meaning": "repair_type is not frame_adjustment, hinge, nose_pad, screw, lens_replacement, frame_replacement, soldering, cleaning or other."},
  {"code": "HMS_REPAIR_DESCRIPTION_REQUIRED", "http_status": 422, "meaning": "A repair needs the item (2 to 500 characters) and the problem described."},
  {"code": "HMS_PHONE_INVALID", "http_status": 422, "meaning": "The phone number is not valid (6 to 24 digits, spaces, brackets, dots, dashes, an optional leading +)."},
  {"code": "HMS_AMOUNT_INVALID", "http_status": 422, "meaning": "An amount is negative or too large."},
  {"code": "HMS_PROMISED_AT_INVALID", "http_status": 422, "meaning": "The promised time of a repair is in the past."},
  {"code": "HMS_REPAIR_STATUS_INVALID", "http_status": 422, "meaning": "The repair status asked for is not in_repair, ready, returned or cancelled."}
]$json$);

/* Every rule of an eye prescription a write can break answers HMS_RX_VALUE_INVALID, naming the rule. */
insert into app_hidden.constraint_errors (constraint_name, code, message)
select c.conname, 'HMS_RX_VALUE_INVALID',
       format('The eye prescription breaks the rule %s.', regexp_replace(c.conname, '^optical_prescriptions_(.*)_check$', '\1'))
  from pg_catalog.pg_constraint c
 where c.conrelid = 'app_public.optical_prescriptions'::regclass and c.contype = 'c'
   and c.conname not in ('optical_prescriptions_status_check', 'optical_prescriptions_deleted_check')
on conflict (constraint_name) do update set code = excluded.code, message = excluded.message;

-- ---------------------------------------------------------------------------------------------
-- Prescriptions
-- ---------------------------------------------------------------------------------------------

/* A refraction value out of its range: 422 with the field and the value given. */
create or replace function app_hidden.optical_rx_error(p_code text, p_field text, p_message text, p_value jsonb) returns void
language plpgsql
as $$
begin
  perform app_hidden.raise_error(p_code, p_message, jsonb_build_object('field', p_field, 'value', p_value));
end;
$$;
comment on function app_hidden.optical_rx_error(text, text, text, jsonb) is
  'Raises an HMS_RX_* error of create_optical_prescription with details {field, value}.';

drop function if exists app_public.create_optical_prescription(uuid, jsonb, uuid, text, uuid);
create function app_public.create_optical_prescription(
  patient_id uuid,
  "values" jsonb,
  doctor_id uuid default null,
  external_prescriber text default null,
  appointment_id uuid default null
) returns app_public.optical_prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.prescribe');
  v_allowed text[] := array[
    'prescription_type', 'examination_date', 'valid_until',
    'od_sphere', 'od_cylinder', 'od_axis', 'od_add', 'od_prism', 'od_prism_base', 'od_visual_acuity_unaided',
    'od_visual_acuity_corrected', 'od_near_visual_acuity', 'os_sphere', 'os_cylinder', 'os_axis', 'os_add', 'os_prism',
    'os_prism_base', 'os_visual_acuity_unaided', 'os_visual_acuity_corrected', 'os_near_visual_acuity',
    'pd_right_mm', 'pd_left_mm', 'pd_binocular_mm', 'pd_near_mm', 'od_iop_mmhg', 'os_iop_mmhg',
    'od_keratometry_k1', 'od_keratometry_k2', 'od_keratometry_axis', 'os_keratometry_k1', 'os_keratometry_k2',
    'os_keratometry_axis', 'recommended_lens_type', 'recommended_coatings', 'contact_lens_details', 'diagnosis', 'clinical_notes'];
  v_values jsonb := coalesce(create_optical_prescription."values", '{}'::jsonb);
  v_key text;
  v_rx app_public.optical_prescriptions;
  v_eye text;
  v_sphere numeric; v_cyl numeric; v_axis numeric; v_add numeric; v_prism numeric; v_base text;
  v_doctor uuid := create_optical_prescription.doctor_id;
  v_appointment app_public.appointments;
begin
  perform app_hidden.find_or_404(null::app_public.patients, create_optical_prescription.patient_id);
  if v_doctor is not null then
    perform app_hidden.find_or_404(null::app_public.doctors, v_doctor);
  end if;
  if create_optical_prescription.appointment_id is not null then
    v_appointment := app_hidden.find_or_404(null::app_public.appointments, create_optical_prescription.appointment_id);
    if v_appointment.patient_id is distinct from create_optical_prescription.patient_id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment of this patient in this hospital.',
        jsonb_build_object('entity', replace(app_hidden.entity_of('app_public.appointments'), ' ', '_'), 'id', create_optical_prescription.appointment_id));
    end if;
  end if;
  if v_doctor is null and nullif(trim(create_optical_prescription.external_prescriber), '') is null then
    select d.id into v_doctor from app_public.doctors d
     where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id();
    if v_doctor is null then
      perform app_hidden.raise_error('HMS_RX_PRESCRIBER_REQUIRED',
        'Name the prescriber: a doctor of this hospital (doctor_id) or an external prescriber.');
    end if;
  end if;
  if jsonb_typeof(v_values) <> 'object' then
    perform app_hidden.raise_error('HMS_RX_VALUE_INVALID', 'values must be a JSON object of prescription fields.');
  end if;
  for v_key in select jsonb_object_keys(v_values) loop
    if v_key <> all (v_allowed) then
      perform app_hidden.raise_error('HMS_RX_UNKNOWN_FIELD', format('%s is not a field of an eye prescription.', v_key),
        jsonb_build_object('field', v_key, 'allowed', to_jsonb(v_allowed)));
    end if;
  end loop;

  begin
    v_rx := jsonb_populate_record(null::app_public.optical_prescriptions, v_values);
  exception when data_exception then
    perform app_hidden.raise_error('HMS_RX_VALUE_INVALID', 'A prescription value has the wrong type or is far out of range: ' || sqlerrm,
      jsonb_build_object('error', sqlerrm));
  end;

  for v_eye in select unnest(array['od', 'os']) loop
    v_sphere := (v_values ->> (v_eye || '_sphere'))::numeric;
    v_cyl := (v_values ->> (v_eye || '_cylinder'))::numeric;
    v_axis := (v_values ->> (v_eye || '_axis'))::numeric;
    v_add := (v_values ->> (v_eye || '_add'))::numeric;
    v_prism := (v_values ->> (v_eye || '_prism'))::numeric;
    v_base := v_values ->> (v_eye || '_prism_base');
    if v_sphere is not null and (v_sphere not between -30 and 30 or mod(v_sphere, 0.25) <> 0) then
      perform app_hidden.optical_rx_error('HMS_RX_SPHERE_INVALID', v_eye || '_sphere',
        format('%s sphere %s: must be between -30.00 and +30.00 D in 0.25 steps.', upper(v_eye), v_sphere), to_jsonb(v_sphere));
    end if;
    if v_cyl is not null and (v_cyl not between -10 and 10 or mod(v_cyl, 0.25) <> 0) then
      perform app_hidden.optical_rx_error('HMS_RX_CYLINDER_INVALID', v_eye || '_cylinder',
        format('%s cylinder %s: must be between -10.00 and +10.00 D in 0.25 steps.', upper(v_eye), v_cyl), to_jsonb(v_cyl));
    end if;
    if v_axis is not null and (v_axis not between 0 and 180 or v_axis <> trunc(v_axis)) then
      perform app_hidden.optical_rx_error('HMS_RX_AXIS_INVALID', v_eye || '_axis',
        format('%s axis %s: must be a whole number of degrees from 0 to 180.', upper(v_eye), v_axis), to_jsonb(v_axis));
    end if;
    if coalesce(v_cyl, 0) <> 0 and v_axis is null then
      perform app_hidden.optical_rx_error('HMS_RX_AXIS_REQUIRED', v_eye || '_axis',
        format('%s has a cylinder: give its axis (0–180).', upper(v_eye)), null);
    end if;
    if v_add is not null and (v_add not between 0.25 and 4 or mod(v_add, 0.25) <> 0) then
      perform app_hidden.optical_rx_error('HMS_RX_ADD_INVALID', v_eye || '_add',
        format('%s addition %s: must be between +0.25 and +4.00 D in 0.25 steps.', upper(v_eye), v_add), to_jsonb(v_add));
    end if;
    if v_prism is not null and v_prism not between 0 and 20 then
      perform app_hidden.optical_rx_error('HMS_RX_PRISM_INVALID', v_eye || '_prism',
        format('%s prism %s: must be between 0 and 20 prism dioptres.', upper(v_eye), v_prism), to_jsonb(v_prism));
    end if;
    if (coalesce(v_prism, 0) <> 0) <> (v_base is not null) or (v_base is not null and v_base not in ('up', 'down', 'in', 'out')) then
      perform app_hidden.optical_rx_error('HMS_RX_PRISM_INVALID', v_eye || '_prism_base',
        format('%s prism: a prism needs a base (up, down, in or out), and a base needs a prism.', upper(v_eye)), to_jsonb(v_base));
    end if;
  end loop;
  if v_rx.od_sphere is null and v_rx.os_sphere is null then
    perform app_hidden.raise_error('HMS_RX_POWER_REQUIRED', 'Give the sphere of at least one eye (od_sphere or os_sphere).');
  end if;
  if v_rx.pd_right_mm not between 20 and 40 or v_rx.pd_left_mm not between 20 and 40 then
    perform app_hidden.optical_rx_error('HMS_RX_PD_INVALID', 'pd_right_mm/pd_left_mm', 'A monocular PD must be between 20 and 40 mm.',
      jsonb_build_object('pd_right_mm', v_rx.pd_right_mm, 'pd_left_mm', v_rx.pd_left_mm));
  end if;
  if v_rx.pd_binocular_mm not between 40 and 80 or v_rx.pd_near_mm not between 40 and 80 then
    perform app_hidden.optical_rx_error('HMS_RX_PD_INVALID', 'pd_binocular_mm/pd_near_mm', 'A binocular (distance or near) PD must be between 40 and 80 mm.',
      jsonb_build_object('pd_binocular_mm', v_rx.pd_binocular_mm, 'pd_near_mm', v_rx.pd_near_mm));
  end if;
  if abs(v_rx.pd_right_mm + v_rx.pd_left_mm - v_rx.pd_binocular_mm) > 2 then
    perform app_hidden.optical_rx_error('HMS_RX_PD_INVALID', 'pd_binocular_mm',
      'The right and left PDs must add up to the binocular PD (within 2 mm).', to_jsonb(v_rx.pd_binocular_mm));
  end if;
  if v_rx.pd_near_mm > v_rx.pd_binocular_mm then
    perform app_hidden.optical_rx_error('HMS_RX_PD_INVALID', 'pd_near_mm', 'The near PD cannot exceed the distance PD.', to_jsonb(v_rx.pd_near_mm));
  end if;

  v_rx.id := gen_random_uuid();
  v_rx.hospital_id := v_hospital;
  v_rx.patient_id := create_optical_prescription.patient_id;
  v_rx.doctor_id := v_doctor;
  v_rx.external_prescriber := nullif(trim(create_optical_prescription.external_prescriber), '');
  v_rx.appointment_id := create_optical_prescription.appointment_id;
  v_rx.prescription_type := coalesce(v_rx.prescription_type, 'spectacles');
  v_rx.examination_date := coalesce(v_rx.examination_date, app_hidden.hospital_today(v_hospital));
  v_rx.prescribed_at := app_hidden.now();
  v_rx.recommended_coatings := coalesce(v_rx.recommended_coatings, '{}');
  v_rx.status := 'active';
  v_rx.is_deleted := false;
  v_rx.deleted_at := null;

  update app_public.optical_prescriptions p set status = 'superseded'
   where p.hospital_id = v_hospital and p.patient_id = v_rx.patient_id and p.status = 'active' and not p.is_deleted;

  -- Any rule left unchecked above answers HMS_RX_VALUE_INVALID (app_hidden.constraint_errors).
  insert into app_public.optical_prescriptions select v_rx.* returning * into v_rx;
  return v_rx;
end;
$$;
comment on function app_public.create_optical_prescription(uuid, jsonb, uuid, text, uuid) is
  E'Writes an eye (refraction) prescription for a patient (needs optical.prescribe). values: {od_sphere, od_cylinder, od_axis, od_add, od_prism, od_prism_base, os_…, pd_right_mm, pd_left_mm, pd_binocular_mm, pd_near_mm, iop, keratometry, recommended_lens_type, recommended_coatings, valid_until, …}. Prescriber: doctor_id, external_prescriber, or the calling doctor. Older active prescriptions of the patient become superseded. Returns the prescription.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (patient, doctor, appointment of the patient); 422 HMS_RX_SPHERE_INVALID (±30 D, 0.25 steps), HMS_RX_CYLINDER_INVALID (±10 D, 0.25 steps), HMS_RX_AXIS_INVALID (0–180), HMS_RX_AXIS_REQUIRED (cylinder without axis), HMS_RX_ADD_INVALID (+0.25…+4.00), HMS_RX_PRISM_INVALID (0–20 with a base), HMS_RX_PD_INVALID, HMS_RX_POWER_REQUIRED, HMS_RX_PRESCRIBER_REQUIRED, HMS_RX_UNKNOWN_FIELD, HMS_RX_VALUE_INVALID (a wrong type or any other rule).';
grant execute on function app_public.create_optical_prescription(uuid, jsonb, uuid, text, uuid) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Orders
-- ---------------------------------------------------------------------------------------------

/* BEFORE INSERT/UPDATE on optical_order_items: line_total = quantity × price × (1 − discount%) × (1 + tax%). */
create or replace function app_hidden.tg_optical_order_items__line_total() returns trigger
language plpgsql
as $$
begin
  NEW.line_total := round(NEW.quantity * NEW.unit_price * (1 - NEW.discount_percent / 100) * (1 + NEW.tax_percent / 100), 2);
  return NEW;
end;
$$;
comment on function app_hidden.tg_optical_order_items__line_total() is
  'BEFORE INSERT/UPDATE on optical_order_items: line_total = quantity × unit price × (1 − discount%) × (1 + tax%), rounded to cents.';
grant execute on function app_hidden.tg_optical_order_items__line_total() to :DATABASE_STAFF;

drop trigger if exists _200_compute on app_public.optical_order_items;
drop trigger if exists _200_line_total on app_public.optical_order_items;
create trigger _200_line_total before insert or update on app_public.optical_order_items
  for each row execute function app_hidden.tg_optical_order_items__line_total();

/* An order's totals from its lines: subtotal = Σ quantity × price, discount, tax = Σ line_total − net, total = subtotal − discount + tax. */
create or replace function app_hidden.refresh_optical_order_totals(p_order_id uuid) returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update app_public.optical_orders o
     set subtotal = l.gross, discount_amount = l.discount, tax_amount = l.tax, total_amount = l.gross - l.discount + l.tax
    from app_public.optical_orders h
   cross join lateral (
         select coalesce(sum(round(i.quantity * i.unit_price, 2)), 0) as gross,
                coalesce(sum(round(i.quantity * i.unit_price * i.discount_percent / 100, 2)), 0) as discount,
                coalesce(sum(i.line_total - round(i.quantity * i.unit_price, 2) + round(i.quantity * i.unit_price * i.discount_percent / 100, 2)), 0) as tax
           from app_public.optical_order_items i
          where i.hospital_id = h.hospital_id and i.optical_order_id = h.id) l
   where h.id = p_order_id and o.id = h.id
     and (o.subtotal, o.discount_amount, o.tax_amount, o.total_amount) is distinct from (l.gross, l.discount, l.tax, l.gross - l.discount + l.tax);
$$;
comment on function app_hidden.refresh_optical_order_totals(uuid) is
  'Recomputes an optical order''s subtotal (Σ quantity × price), discount_amount, tax_amount (Σ line_total − net) and total_amount (subtotal − discount + tax) from its lines; the one place they are computed.';

drop function if exists app_public.create_optical_order(uuid, uuid, jsonb, text);
create function app_public.create_optical_order(
  patient_id uuid,
  optical_prescription_id uuid default null,
  items jsonb default '[]',
  notes text default null
) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_order app_public.optical_orders;
  v_prescription app_public.optical_prescriptions;
  v_item jsonb;
  v_n integer := 0;
  v_product app_public.optical_products;
  v_product_id uuid;
  v_type text;
  v_eye text;
  v_qty numeric;
  v_price numeric;
  v_discount numeric;
  v_tax numeric;
  v_description text;
begin
  perform app_hidden.find_or_404(null::app_public.patients, create_optical_order.patient_id);
  if create_optical_order.optical_prescription_id is not null then
    v_prescription := app_hidden.find_or_404(null::app_public.optical_prescriptions, create_optical_order.optical_prescription_id);
    if v_prescription.patient_id is distinct from create_optical_order.patient_id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such eye prescription of this patient in this hospital.',
        jsonb_build_object('entity', replace(app_hidden.entity_of('app_public.optical_prescriptions'), ' ', '_'), 'id', create_optical_order.optical_prescription_id));
    end if;
  end if;
  if create_optical_order.items is null or jsonb_typeof(create_optical_order.items) <> 'array'
     or jsonb_array_length(create_optical_order.items) = 0 then
    perform app_hidden.raise_error('HMS_ORDER_ITEMS_REQUIRED', 'An optical order needs at least one line (items: a JSON array).');
  end if;

  insert into app_public.optical_orders (hospital_id, patient_id, optical_prescription_id, notes)
  values (v_hospital, create_optical_order.patient_id, create_optical_order.optical_prescription_id, create_optical_order.notes)
  returning * into v_order;

  for v_item in select value from jsonb_array_elements(create_optical_order.items) loop
    v_n := v_n + 1;
    if jsonb_typeof(v_item) <> 'object' then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s is not an object.', v_n), jsonb_build_object('line', v_n));
    end if;
    begin
      v_product_id := (v_item ->> 'optical_product_id')::uuid;
      v_qty := coalesce((v_item ->> 'quantity')::numeric, 1);
      v_price := (v_item ->> 'unit_price')::numeric;
      v_discount := coalesce((v_item ->> 'discount_percent')::numeric, 0);
    exception when data_exception then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: a value has the wrong type (%s).', v_n, sqlerrm),
        jsonb_build_object('line', v_n));
    end;
    v_type := v_item ->> 'item_type';
    v_product := null;
    if v_product_id is not null then
      v_product := app_hidden.find_or_404(null::app_public.optical_products, v_product_id);
      if not v_product.is_active then
        perform app_hidden.raise_error('HMS_PRODUCT_INACTIVE', format('%s is no longer sold.', v_product.name),
          jsonb_build_object('line', v_n, 'optical_product_id', v_product_id));
      end if;
      v_type := coalesce(v_type, case v_product.product_type when 'frame' then 'frame' when 'sunglasses' then 'frame'
                                   when 'spectacle_lens' then 'lens_pair' when 'contact_lens' then 'contact_lens' else 'accessory' end);
    end if;
    if v_type is null or v_type not in ('frame', 'lens_right', 'lens_left', 'lens_pair', 'contact_lens', 'accessory', 'service') then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID',
        format('Line %s: item_type must be frame, lens_right, lens_left, lens_pair, contact_lens, accessory or service.', v_n),
        jsonb_build_object('line', v_n, 'item_type', v_type));
    end if;
    v_eye := coalesce(v_item ->> 'eye', case v_type when 'lens_right' then 'right' when 'lens_left' then 'left'
                                                    when 'lens_pair' then 'both' else 'none' end);
    if v_eye not in ('right', 'left', 'both', 'none')
       or (v_type = 'lens_right' and v_eye <> 'right') or (v_type = 'lens_left' and v_eye <> 'left')
       or (v_type = 'lens_pair' and v_eye <> 'both') then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: eye %s does not fit item type %s.', v_n, v_eye, v_type),
        jsonb_build_object('line', v_n, 'eye', v_eye));
    end if;
    if v_qty <= 0 or v_qty <> trunc(v_qty) or v_qty > 1000 then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: the quantity must be a whole number from 1 to 1000.', v_n),
        jsonb_build_object('line', v_n, 'quantity', v_qty));
    end if;
    v_price := coalesce(v_price, v_product.selling_price);
    if v_price is null or v_price < 0 or v_price >= 1e8 then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: give a unit price of 0 or more (no product to take it from).', v_n),
        jsonb_build_object('line', v_n, 'unit_price', v_price));
    end if;
    if v_discount not between 0 and 100 then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: discount_percent must be between 0 and 100.', v_n),
        jsonb_build_object('line', v_n));
    end if;
    v_description := coalesce(nullif(trim(v_item ->> 'description'), ''), v_product.name);
    if v_description is null or length(v_description) > 500 then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: a description of 1 to 500 characters is needed.', v_n),
        jsonb_build_object('line', v_n));
    end if;
    select t.rate_percent into v_tax from app_public.tax_configurations t
     where t.id = v_product.tax_configuration_id and t.hospital_id = v_hospital and t.is_active and not t.is_inclusive;
    insert into app_public.optical_order_items
      (hospital_id, optical_order_id, optical_product_id, item_type, description, eye, quantity, unit_price, discount_percent, tax_percent)
    values
      (v_hospital, v_order.id, v_product.id, v_type, v_description, v_eye, v_qty::integer, v_price, v_discount, coalesce(v_tax, 0));
  end loop;

  select * into v_order from app_public.optical_orders o where o.id = v_order.id;
  return v_order;
end;
$$;
comment on function app_public.create_optical_order(uuid, uuid, jsonb, text) is
  E'Opens a draft optical order with its lines (needs optical.manage). items: [{optical_product_id?, item_type, description?, eye?, quantity?, unit_price?, discount_percent?}] — a product line takes its name, price and tax from the catalogue. Returns the order with its totals (derived from the lines, optical_order_items).\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (patient, prescription of the patient, product); 422 HMS_ORDER_ITEMS_REQUIRED, HMS_ORDER_ITEM_INVALID, HMS_PRODUCT_INACTIVE.';
grant execute on function app_public.create_optical_order(uuid, uuid, jsonb, text) to :DATABASE_STAFF;

drop function if exists app_public.confirm_optical_order(uuid);
create function app_public.confirm_optical_order(order_id uuid) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_row app_public.optical_orders := app_hidden.lock_or_404(null::app_public.optical_orders, confirm_optical_order.order_id);
begin
  if not exists (select 1 from app_public.optical_order_items i where i.hospital_id = v_hospital and i.optical_order_id = v_row.id) then
    perform app_hidden.raise_error('HMS_ORDER_ITEMS_REQUIRED', 'An order without lines cannot be confirmed.');
  end if;
  perform app_hidden.require_transition('app_public.optical_orders', v_row.status, 'confirmed');
  update app_public.optical_orders o set status = 'confirmed' where o.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.confirm_optical_order(uuid) is
  E'Confirms a draft optical order: its lines freeze (no stock is reserved). Needs optical.manage. Returns the order.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404; HMS_ORDER_ITEMS_REQUIRED 422; HMS_ILLEGAL_TRANSITION 409.';
grant execute on function app_public.confirm_optical_order(uuid) to :DATABASE_STAFF;

drop function if exists app_public.send_to_lab(uuid, text, text, timestamptz);
create function app_public.send_to_lab(
  order_id uuid, lab_name text, lab_reference text default null, expected_ready_at timestamptz default null
) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_row app_public.optical_orders := app_hidden.lock_or_404(null::app_public.optical_orders, send_to_lab.order_id);
begin
  if nullif(trim(send_to_lab.lab_name), '') is null then
    perform app_hidden.raise_error('HMS_LAB_NAME_REQUIRED', 'Name the lab (or in-house workshop) the job goes to.');
  end if;
  if send_to_lab.expected_ready_at < v_row.ordered_at then
    perform app_hidden.raise_error('HMS_EXPECTED_READY_INVALID', 'The expected ready time cannot be before the order.');
  end if;
  perform app_hidden.require_transition('app_public.optical_orders', v_row.status, 'sent_to_lab');
  update app_public.optical_orders o
     set status = 'sent_to_lab', lab_name = trim(send_to_lab.lab_name), lab_reference = send_to_lab.lab_reference,
         expected_ready_at = coalesce(send_to_lab.expected_ready_at, o.expected_ready_at)
   where o.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.send_to_lab(uuid, text, text, timestamptz) is
  E'Sends a confirmed optical order to a lab (lab name and reference, expected ready time). Needs optical.manage. Returns the order.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404; HMS_LAB_NAME_REQUIRED, HMS_EXPECTED_READY_INVALID 422; HMS_ILLEGAL_TRANSITION 409.';
grant execute on function app_public.send_to_lab(uuid, text, text, timestamptz) to :DATABASE_STAFF;

drop function if exists app_public.mark_order_in_production(uuid);
create function app_public.mark_order_in_production(order_id uuid) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_row app_public.optical_orders := app_hidden.lock_or_404(null::app_public.optical_orders, mark_order_in_production.order_id);
begin
  perform app_hidden.require_transition('app_public.optical_orders', v_row.status, 'in_production');
  update app_public.optical_orders o set status = 'in_production' where o.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.mark_order_in_production(uuid) is
  E'The lab has started the job of an order sent to it. Needs optical.manage. Returns the order.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404; HMS_ILLEGAL_TRANSITION 409.';
grant execute on function app_public.mark_order_in_production(uuid) to :DATABASE_STAFF;

drop function if exists app_public.mark_order_ready(uuid);
create function app_public.mark_order_ready(order_id uuid) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_row app_public.optical_orders := app_hidden.lock_or_404(null::app_public.optical_orders, mark_order_ready.order_id);
begin
  perform app_hidden.require_transition('app_public.optical_orders', v_row.status, 'ready');
  update app_public.optical_orders o set status = 'ready' where o.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.mark_order_ready(uuid) is
  E'The glasses are ready for pick-up (from in_production, or from confirmed for ready-made goods). Needs optical.manage. Returns the order.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404; HMS_ILLEGAL_TRANSITION 409.';
grant execute on function app_public.mark_order_ready(uuid) to :DATABASE_STAFF;

drop function if exists app_public.cancel_optical_order(uuid, text);
create function app_public.cancel_optical_order(order_id uuid, reason text) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_row app_public.optical_orders := app_hidden.lock_or_404(null::app_public.optical_orders, cancel_optical_order.order_id);
begin
  perform app_hidden.require_transition('app_public.optical_orders', v_row.status, 'cancelled');
  -- The status machine requires the reason and stamps who cancelled and when.
  update app_public.optical_orders o set status = 'cancelled', cancellation_reason = nullif(trim(cancel_optical_order.reason), '')
   where o.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.cancel_optical_order(uuid, text) is
  E'Cancels a draft, confirmed or sent-to-lab optical order with a reason. Needs optical.manage. Returns the order.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404; HMS_REASON_REQUIRED 422 (details.field cancellation_reason); HMS_ILLEGAL_TRANSITION 409.';
grant execute on function app_public.cancel_optical_order(uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.deliver_optical_order(uuid);
create function app_public.deliver_optical_order(order_id uuid) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_row app_public.optical_orders := app_hidden.lock_or_404(null::app_public.optical_orders, deliver_optical_order.order_id);
  v_item record;
  v_invoice uuid;
begin
  perform app_hidden.require_transition('app_public.optical_orders', v_row.status, 'delivered');
  v_invoice := app_hidden.ensure_draft_invoice(v_hospital, v_row.patient_id, 'optical');
  for v_item in
    select i.*, p.tax_configuration_id
      from app_public.optical_order_items i
      left join app_public.optical_products p on p.id = i.optical_product_id and p.hospital_id = i.hospital_id
     where i.hospital_id = v_hospital and i.optical_order_id = v_row.id
     order by i.optical_product_id nulls last, i.created_at, i.id   -- a stable lock order
  loop
    if v_item.optical_product_id is not null then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after, optical_order_item_id, reason)
      values
        (v_hospital, 'optical_sale', 'optical_product', v_item.optical_product_id, -v_item.quantity, 0, v_item.id,
         'Delivered with optical order ' || v_row.order_number);
    end if;
    perform app_hidden.add_invoice_item(v_invoice, 'optical', v_item.description, v_item.quantity, v_item.unit_price,
      v_item.tax_configuration_id,
      jsonb_build_object('optical_order_item_id', v_item.id, 'discount_percent', v_item.discount_percent));
  end loop;
  -- The status machine stamps delivered_at / delivered_by from the session.
  update app_public.optical_orders o set status = 'delivered' where o.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.deliver_optical_order(uuid) is
  E'Hands a ready optical order to the patient (needs optical.manage): takes every product line out of stock through the ledger (optical_sale movements) and bills every line on the patient''s optical draft invoice (each invoice_items line names its optical_order_item_id). Returns the delivered order.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404; HMS_ILLEGAL_TRANSITION 409 (not ready, or already delivered); HMS_INSUFFICIENT_STOCK 409 (from the ledger; nothing is written).';
grant execute on function app_public.deliver_optical_order(uuid) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Repairs
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.receive_repair(text, text, text, uuid, text, text, uuid, numeric, timestamptz, boolean, text);
create function app_public.receive_repair(
  item_description text,
  repair_type text,
  problem_description text,
  patient_id uuid default null,
  customer_name text default null,
  customer_phone text default null,
  optical_order_id uuid default null,
  estimated_cost numeric default null,
  promised_at timestamptz default null,
  is_under_warranty boolean default null,
  notes text default null
) returns app_public.optical_repairs
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_order app_public.optical_orders;
  v_warranty boolean := receive_repair.is_under_warranty;
  v_row app_public.optical_repairs;
begin
  if receive_repair.patient_id is not null then
    perform app_hidden.find_or_404(null::app_public.patients, receive_repair.patient_id);
  end if;
  if receive_repair.optical_order_id is not null then
    v_order := app_hidden.find_or_404(null::app_public.optical_orders, receive_repair.optical_order_id);
  end if;
  if receive_repair.patient_id is null and nullif(trim(receive_repair.customer_name), '') is null then
    perform app_hidden.raise_error('HMS_REPAIR_CUSTOMER_REQUIRED', 'Name the customer: a patient or a walk-in customer name.');
  end if;
  if receive_repair.repair_type is null or receive_repair.repair_type not in
     ('frame_adjustment', 'hinge', 'nose_pad', 'screw', 'lens_replacement', 'frame_replacement', 'soldering', 'cleaning', 'other') then
    perform app_hidden.raise_error('HMS_REPAIR_TYPE_INVALID',
      'repair_type must be frame_adjustment, hinge, nose_pad, screw, lens_replacement, frame_replacement, soldering, cleaning or other.',
      jsonb_build_object('repair_type', receive_repair.repair_type));
  end if;
  if length(trim(coalesce(receive_repair.item_description, ''))) not between 2 and 500
     or length(trim(coalesce(receive_repair.problem_description, ''))) = 0 then
    perform app_hidden.raise_error('HMS_REPAIR_DESCRIPTION_REQUIRED', 'Describe the item (2 to 500 characters) and the problem.');
  end if;
  if receive_repair.customer_phone !~ '^\+?[0-9 ()./-]{6,24}$' then
    perform app_hidden.raise_error('HMS_PHONE_INVALID', 'The phone number is not valid.');
  end if;
  if receive_repair.estimated_cost < 0 or receive_repair.estimated_cost >= 1e8 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The estimated cost must be 0 or more.');
  end if;
  if receive_repair.promised_at < app_hidden.now() then
    perform app_hidden.raise_error('HMS_PROMISED_AT_INVALID', 'The promised time cannot be in the past.');
  end if;
  if v_warranty is null then
    v_warranty := v_order.status = 'delivered' and exists (
      select 1 from app_public.optical_order_items i join app_public.optical_products p on p.id = i.optical_product_id
       where i.hospital_id = v_hospital and i.optical_order_id = v_order.id and p.warranty_months > 0
         and v_order.delivered_at + make_interval(months => p.warranty_months) >= app_hidden.now());
  end if;
  insert into app_public.optical_repairs
    (hospital_id, patient_id, customer_name, customer_phone, optical_order_id, item_description, repair_type,
     problem_description, estimated_cost, promised_at, is_under_warranty, notes)
  values
    (v_hospital, receive_repair.patient_id, nullif(trim(receive_repair.customer_name), ''), receive_repair.customer_phone,
     v_order.id, trim(receive_repair.item_description), receive_repair.repair_type, trim(receive_repair.problem_description),
     receive_repair.estimated_cost, receive_repair.promised_at, coalesce(v_warranty, false), receive_repair.notes)
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.receive_repair(text, text, text, uuid, text, text, uuid, numeric, timestamptz, boolean, text) is
  E'Takes in a spectacle repair (status received, numbered) for a patient or a walk-in customer; the warranty follows the order''s products when not given. Needs optical.manage. Returns the repair.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (patient, order); 422 HMS_REPAIR_CUSTOMER_REQUIRED, HMS_REPAIR_TYPE_INVALID, HMS_REPAIR_DESCRIPTION_REQUIRED, HMS_PHONE_INVALID, HMS_AMOUNT_INVALID, HMS_PROMISED_AT_INVALID.';
grant execute on function app_public.receive_repair(text, text, text, uuid, text, text, uuid, numeric, timestamptz, boolean, text) to :DATABASE_STAFF;

drop function if exists app_public.update_repair_status(uuid, text, text, numeric);
create function app_public.update_repair_status(
  repair_id uuid, status text, work_done text default null, final_cost numeric default null
) returns app_public.optical_repairs
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('optical.manage');
  v_row app_public.optical_repairs := app_hidden.lock_or_404(null::app_public.optical_repairs, update_repair_status.repair_id);
begin
  if update_repair_status.status is null
     or update_repair_status.status not in ('received', 'in_repair', 'ready', 'returned', 'cancelled') then
    perform app_hidden.raise_error('HMS_REPAIR_STATUS_INVALID', 'status must be in_repair, ready, returned or cancelled.',
      jsonb_build_object('status', update_repair_status.status));
  end if;
  if update_repair_status.final_cost < 0 or update_repair_status.final_cost >= 1e8 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The final cost must be 0 or more.');
  end if;
  perform app_hidden.require_transition('app_public.optical_repairs', v_row.status, update_repair_status.status);
  -- The technician who starts the repair is the one assigned, unless one was already.
  update app_public.optical_repairs r
     set status = update_repair_status.status,
         work_done = coalesce(update_repair_status.work_done, r.work_done),
         final_cost = coalesce(update_repair_status.final_cost, r.final_cost),
         technician_user_id = case when update_repair_status.status = 'in_repair' and r.technician_user_id is null
                                   then app_hidden.current_user_id() else r.technician_user_id end
   where r.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.update_repair_status(uuid, text, text, numeric) is
  E'Moves a repair on: received → in_repair → ready → returned, or received | in_repair → cancelled; records the work done and final cost. Needs optical.manage. Returns the repair.\nErrors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404; HMS_REPAIR_STATUS_INVALID, HMS_AMOUNT_INVALID 422; HMS_ILLEGAL_TRANSITION 409.';
grant execute on function app_public.update_repair_status(uuid, text, text, numeric) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Rules of direct writes: status machines, document lock, totals, access
-- ---------------------------------------------------------------------------------------------

-- Direct writes are ruled by the declarations below alone: no per-module status or line triggers.
drop trigger if exists _200_workflow on app_public.optical_orders;
drop trigger if exists _200_workflow on app_public.optical_repairs;
drop trigger if exists _800_refresh_order on app_public.optical_order_items;

/* A prescription is active until a newer one supersedes it or it expires. */
select app_hidden.declare_status_machine('app_public.optical_prescriptions', $json$[
  {"from": null, "to": "active"},
  {"from": "active", "to": "superseded"},
  {"from": "active", "to": "expired"}
]$json$);

select app_hidden.declare_status_machine('app_public.optical_orders', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "confirmed", "stamp_at": "confirmed_at"},
  {"from": "draft", "to": "cancelled", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "confirmed", "to": "sent_to_lab", "stamp_at": "sent_to_lab_at"},
  {"from": "confirmed", "to": "ready", "stamp_at": "ready_at"},
  {"from": "confirmed", "to": "cancelled", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "sent_to_lab", "to": "in_production"},
  {"from": "sent_to_lab", "to": "cancelled", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "in_production", "to": "ready", "stamp_at": "ready_at"},
  {"from": "ready", "to": "delivered", "via": "deliver_optical_order", "stamp_at": "delivered_at", "stamp_by": "delivered_by"}
]$json$);

select app_hidden.declare_status_machine('app_public.optical_repairs', $json$[
  {"from": null, "to": "received"},
  {"from": "received", "to": "in_repair"},
  {"from": "received", "to": "cancelled"},
  {"from": "in_repair", "to": "ready", "stamp_at": "ready_at"},
  {"from": "in_repair", "to": "cancelled"},
  {"from": "ready", "to": "returned", "stamp_at": "returned_at"}
]$json$);

-- What was sold is fixed once the order is confirmed.
select app_hidden.lock_document('app_public.optical_order_items', '{draft}',
  document => 'app_public.optical_orders', document_column => 'optical_order_id');
select app_hidden.refresh_totals_from('app_public.optical_order_items', 'optical_order_id', 'app_hidden.refresh_optical_order_totals');

select app_hidden.register_table('app_public.optical_products', 'optical product',
  read_permissions => '{optical.read,inventory.read}', write_permissions => '{optical.manage,inventory.manage}',
  delete_permissions => '{optical.manage}', protected_columns => '{quantity_on_hand}');
select app_hidden.register_table('app_public.optical_prescriptions', 'eye prescription',
  read_permissions => '{optical.read}', write_permissions => '{optical.prescribe}', delete_permissions => '{optical.prescribe}');
select app_hidden.register_table('app_public.optical_orders', 'optical order',
  read_permissions => '{optical.read}', write_permissions => '{optical.manage}', delete_permissions => '{optical.manage}',
  protected_columns => '{subtotal,discount_amount,tax_amount,total_amount,advance_paid}', immutable_columns => '{patient_id}');
select app_hidden.register_table('app_public.optical_order_items', 'optical order line',
  read_permissions => '{optical.read}', write_permissions => '{optical.manage}', delete_permissions => '{optical.manage}',
  protected_columns => '{line_total}');
select app_hidden.register_table('app_public.optical_repairs', 'optical repair',
  read_permissions => '{optical.read}', write_permissions => '{optical.manage}', delete_permissions => '{optical.manage}');

-- ---------------------------------------------------------------------------------------------
-- Triggers and helpers the declarations above make redundant (dropped where an earlier migration made them)
-- ---------------------------------------------------------------------------------------------
drop function if exists app_hidden.tg_optical_orders__workflow();
drop function if exists app_hidden.tg_optical_repairs__workflow();
drop function if exists app_hidden.tg_optical_order_items__compute();
drop function if exists app_hidden.tg_optical_order_items__refresh_order();
drop function if exists app_hidden.optical_move_order(app_public.optical_orders, text);
drop function if exists app_hidden.optical_lock_order(uuid, uuid);
drop function if exists app_hidden.optical_not_found(text, uuid);
drop function if exists app_hidden.optical_begin(text);
drop function if exists app_hidden.optical_trusted_writer();
drop function if exists app_hidden.optical_repair_transitions();
drop function if exists app_hidden.optical_order_transitions();
drop function if exists app_hidden.optical_assert_transition(text, text, text, jsonb);
