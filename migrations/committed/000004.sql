--! Previous: sha1:ee2590952a4751571abbd6b3ca9f0393cbe4877b
--! Hash: sha1:3c46baece9a6a56a007ec4e3daf695b48e52c520

--! split: 0310-numbering-triggers.sql
/*
 * Numbering wired in (DESIGN.md §7): every numbered document gets its number from
 * hms_generate_id in a BEFORE INSERT trigger. API clients cannot set or change a number (no
 * column privilege, see 9200); a trusted writer without a request (a migration, the demo data)
 * may supply one it generated itself, which is kept.
 */
create or replace function app_hidden.tg__assign_number() returns trigger
language plpgsql
as $$
declare
  v_column text := TG_ARGV[0];
  v_document_type text := TG_ARGV[1];
begin
  if to_jsonb(NEW) ->> v_column is null then
    NEW := jsonb_populate_record(NEW, jsonb_build_object(v_column,
             app_hidden.hms_generate_id(NEW.hospital_id, v_document_type)));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__assign_number() is
  'BEFORE INSERT: fills the number column (TG_ARGV[0]) from hms_generate_id(hospital_id, TG_ARGV[1]) when none is given.';

do $$
declare
  v record;
begin
  for v in select * from (values
      ('patients', 'mrn', 'patient'),
      ('appointments', 'appointment_number', 'appointment'),
      ('prescriptions', 'prescription_number', 'prescription'),
      ('lab_orders', 'order_number', 'lab_order'),
      ('pharmacy_dispensing', 'dispensing_number', 'dispensing'),
      ('pharmacy_returns', 'return_number', 'pharmacy_return'),
      ('optical_orders', 'order_number', 'optical_order'),
      ('optical_repairs', 'repair_number', 'optical_repair'),
      ('invoices', 'invoice_number', 'invoice'),
      ('payments', 'receipt_number', 'receipt'),
      ('refunds', 'refund_number', 'refund'),
      ('credit_notes', 'credit_note_number', 'credit_note'),
      ('daily_settlements', 'settlement_number', 'settlement'),
      ('insurance_claims', 'claim_number', 'insurance_claim'),
      ('pre_authorizations', 'pre_authorization_number', 'pre_authorization'),
      ('purchase_orders', 'po_number', 'purchase_order'),
      ('goods_receipt_notes', 'grn_number', 'goods_receipt'),
      ('stock_adjustments', 'adjustment_number', 'stock_adjustment'),
      ('cycle_counts', 'count_number', 'cycle_count'),
      ('id_cards', 'card_number', 'id_card')
    ) as t(table_name, column_name, document_type)
  loop
    execute format('drop trigger if exists _010_number on app_public.%I', v.table_name);
    execute format('create trigger _010_number before insert on app_public.%I for each row execute function app_hidden.tg__assign_number(%L, %L)',
                   v.table_name, v.column_name, v.document_type);
  end loop;
end;
$$;

/* Queue tokens restart every day per hospital and department: CARD-001, CARD-002, … */
create or replace function app_hidden.tg_appointment_queue__assign_token() returns trigger
language plpgsql
as $$
declare
  v_department_code text;
begin
  if NEW.token_label is null then
    select d.code into v_department_code from app_public.departments d
     where d.id = NEW.department_id and d.hospital_id = NEW.hospital_id;
    NEW.token_label := app_hidden.hms_generate_id(NEW.hospital_id, 'queue_token', v_department_code);
  end if;
  if NEW.token_number is null then
    NEW.token_number := (regexp_match(NEW.token_label, '(\d+)\D*$'))[1]::integer;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_appointment_queue__assign_token() is
  'BEFORE INSERT on appointment_queue: the day''s token of the department (label and number) when none is given.';
drop trigger if exists _010_number on app_public.appointment_queue;
create trigger _010_number before insert on app_public.appointment_queue
  for each row execute function app_hidden.tg_appointment_queue__assign_token();

--! split: 1200-appointments-workflow.sql
/*
 * Appointments workflow — booking, the status machine, check-in with its queue token, and the
 * consultation fee on the invoice.
 *
 * Slots. A doctor's bookable slots on a day are the active doctor_schedules sessions of that
 * weekday (valid_from ≤ day ≤ valid_to, day_of_week 0 = Sunday), cut into slot_minutes (or the
 * hospital's default_slot_minutes) in the hospital's time zone, minus approved leaves (a
 * half-day leave removes the slots starting before 13:00 local time for first_half, from 13:00
 * for second_half). available_slots() lists them with is_free; book_appointment() accepts only
 * a start that is one of them.
 *
 * Double booking is refused by the exclusion constraint appointments_no_double_booking_excl;
 * the booking functions check first (clear message) and translate the constraint violation
 * (23P01) raised by a concurrent booking into 409 HMS_SLOT_TAKEN.
 *
 * Status machine (enforced by the BEFORE UPDATE trigger, whatever the client: RPC, PATCH,
 * GraphQL, psql):
 *   booked      → confirmed | checked_in | cancelled | no_show | rescheduled
 *   confirmed   → checked_in | cancelled | no_show | rescheduled
 *   checked_in  → in_progress | cancelled
 *   in_progress → completed
 *   completed, cancelled, no_show, rescheduled are final.
 * Every change is written to appointment_status_log (AFTER UPDATE trigger: who = the current
 * user, when = now()); the booking functions write the first row (null → booked). The trigger
 * stamps the time column of the new status (confirmed_at, checked_in_at, started_at,
 * completed_at, no_show_at, cancelled_at + cancelled_by), requires a cancellation reason and
 * refuses a no-show before scheduled_start + no_show_after_minutes; it keeps the queue token in
 * step (in_progress → in_consultation, completed → completed, cancelled / no_show → same).
 * Staff may PATCH confirmed, cancelled, no_show, in_progress and completed directly; checked_in
 * and rescheduled have side effects (queue token, invoice line, the new booking) and are
 * reachable only through check_in_appointment / reschedule_appointment. The workflow columns
 * (times, doctor, patient, slot, fee, predecessor) change only through these functions
 * (409 HMS_WORKFLOW_REQUIRED otherwise); the functions mark themselves with the transaction-local
 * setting hms.workflow = 'appointments' and clear it before returning.
 *
 * Consultation fee → invoice: AT CHECK-IN. The fee quoted at booking (doctor_fees active for the
 * visit type on the appointment's day) becomes a 'consultation' line on the patient's draft
 * outpatient invoice for that appointment (billing contract: app_hidden.ensure_draft_invoice +
 * app_hidden.add_invoice_item, with the fee's tax rule). Check-in is when the patient is
 * actually seen to be at the hospital; a booking that is cancelled or missed never reaches
 * billing. No line when the quoted fee is null or 0. Cancelling after check-in leaves the line
 * on the draft invoice for the front desk to remove or void.
 */

/* ----------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------------- */

/* The hospital's local "today" and the local date of an instant. */
create or replace function app_hidden.hospital_today(p_hospital_id uuid) returns date
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select (now() at time zone h.time_zone)::date from app_public.hospitals h where h.id = p_hospital_id;
$$;
comment on function app_hidden.hospital_today(uuid) is E'Today''s date in the hospital''s time zone.';

create or replace function app_hidden.hospital_local_date(p_hospital_id uuid, p_at timestamptz) returns date
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select (p_at at time zone h.time_zone)::date from app_public.hospitals h where h.id = p_hospital_id;
$$;
comment on function app_hidden.hospital_local_date(uuid, timestamptz) is E'The calendar day of an instant in the hospital''s time zone.';

/* Every slot of a doctor's sessions on a day (leaves not removed), with the session it comes from. */
create or replace function app_hidden.doctor_schedule_slots(p_hospital_id uuid, p_doctor_id uuid, p_day date)
returns table (slot_start timestamptz, slot_end timestamptz, schedule_id uuid)
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select (l.local_start at time zone h.time_zone), ((l.local_start + l.len) at time zone h.time_zone), s.id
    from app_public.doctor_schedules s
    join app_public.hospitals h on h.id = s.hospital_id
    join app_public.hospital_settings hs on hs.hospital_id = s.hospital_id
   cross join lateral (select make_interval(mins => coalesce(s.slot_minutes, hs.default_slot_minutes)::int) as len) m
   cross join lateral (
     select g as local_start, m.len
       from pg_catalog.generate_series(p_day + s.start_time, p_day + s.end_time - m.len, m.len) g) l
   where s.hospital_id = p_hospital_id and s.doctor_id = p_doctor_id and s.is_active
     and s.day_of_week = extract(dow from p_day)
     and s.valid_from <= p_day and (s.valid_to is null or s.valid_to >= p_day)
   order by 1;
$$;
comment on function app_hidden.doctor_schedule_slots(uuid, uuid, date) is
  E'The slots of a doctor''s active sessions on a day in the hospital''s time zone (leaves not removed).';

/* Is the doctor on approved leave at that slot (whole days, or the half of the day the slot starts in)? */
create or replace function app_hidden.doctor_on_leave(p_hospital_id uuid, p_doctor_id uuid, p_slot_start timestamptz)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select exists (
    select 1
      from app_public.doctor_leaves lv
      join app_public.hospitals h on h.id = lv.hospital_id
     cross join lateral (select p_slot_start at time zone h.time_zone as local_start) t
     where lv.hospital_id = p_hospital_id and lv.doctor_id = p_doctor_id and lv.status = 'approved'
       and t.local_start::date between lv.start_date and lv.end_date
       and (lv.half_day is null
            or (lv.half_day = 'first_half' and t.local_start::time < time '13:00')
            or (lv.half_day = 'second_half' and t.local_start::time >= time '13:00')));
$$;
comment on function app_hidden.doctor_on_leave(uuid, uuid, timestamptz) is
  'True when an approved leave of the doctor covers the slot start (first_half = before 13:00 local time, second_half = from 13:00).';

/* Does a live appointment of the doctor overlap the range? */
create or replace function app_hidden.doctor_slot_taken(p_hospital_id uuid, p_doctor_id uuid, p_start timestamptz, p_end timestamptz)
returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select exists (
    select 1 from app_public.appointments a
     where a.hospital_id = p_hospital_id and a.doctor_id = p_doctor_id
       and a.status not in ('cancelled', 'no_show', 'rescheduled') and not a.is_deleted
       and tstzrange(a.scheduled_start, a.scheduled_end) && tstzrange(p_start, p_end));
$$;
comment on function app_hidden.doctor_slot_taken(uuid, uuid, timestamptz, timestamptz) is
  'True when a live (not cancelled, no-show, rescheduled or deleted) appointment of the doctor overlaps the range.';

/* The transition table of appointments.status. */
create or replace function app_hidden.appointment_transition_allowed(p_from text, p_to text) returns boolean
language sql
immutable
as $$
  select (p_from, p_to) in (
    ('booked', 'confirmed'), ('booked', 'checked_in'), ('booked', 'cancelled'), ('booked', 'no_show'), ('booked', 'rescheduled'),
    ('confirmed', 'checked_in'), ('confirmed', 'cancelled'), ('confirmed', 'no_show'), ('confirmed', 'rescheduled'),
    ('checked_in', 'in_progress'), ('checked_in', 'cancelled'),
    ('in_progress', 'completed'));
$$;
comment on function app_hidden.appointment_transition_allowed(text, text) is
  'Legal appointment status changes: booked → confirmed|checked_in|cancelled|no_show|rescheduled; confirmed → checked_in|cancelled|no_show|rescheduled; checked_in → in_progress|cancelled; in_progress → completed.';

create or replace function app_hidden.assert_appointment_transition(p_from text, p_to text) returns void
language plpgsql
immutable
as $$
begin
  if not app_hidden.appointment_transition_allowed(p_from, p_to) then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('An appointment cannot go from %s to %s.', p_from, p_to), 409,
      jsonb_build_object('entity', 'appointment', 'from', p_from, 'to', p_to));
  end if;
end;
$$;
comment on function app_hidden.assert_appointment_transition(text, text) is
  'Raises 409 HMS_ILLEGAL_TRANSITION when the appointment status change is not in the transition table.';

/* Session + permission check shared by the RPCs; returns the active hospital. */
create or replace function app_hidden.appointments_require(p_permission text) returns uuid
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
begin
  if v_hospital is null or app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in (with an active hospital) to do this.', 401);
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the %s permission.', p_permission), 403,
      jsonb_build_object('permission', p_permission));
  end if;
  return v_hospital;
end;
$$;
comment on function app_hidden.appointments_require(text) is
  'The active hospital of the logged-in member of staff (401 HMS_SESSION_INVALID otherwise) holding the permission (403 HMS_FORBIDDEN otherwise).';

/* An appointment of the hospital, locked (404 HMS_NOT_FOUND otherwise, also for another hospital's id). */
create or replace function app_hidden.appointment_for_update(p_hospital_id uuid, p_appointment_id uuid)
returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v app_public.appointments;
begin
  select * into v from app_public.appointments a
   where a.id = p_appointment_id and a.hospital_id = p_hospital_id and not a.is_deleted
   for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment in this hospital.', 404,
      jsonb_build_object('entity', 'appointment', 'id', p_appointment_id));
  end if;
  return v;
end;
$$;
comment on function app_hidden.appointment_for_update(uuid, uuid) is
  'Locks and returns an appointment of the hospital; 404 HMS_NOT_FOUND when it does not exist there.';

/*
 * The booking itself, shared by book_appointment and reschedule_appointment: validates patient,
 * doctor and slot, inserts the appointment (quoted fee, department of the doctor, schedule
 * session) and its first status log row. Errors in the order they are checked:
 * 422 HMS_INVALID_INPUT, 404 HMS_NOT_FOUND, 422 HMS_PATIENT_INACTIVE / HMS_DOCTOR_INACTIVE,
 * 422 HMS_SLOT_IN_PAST, 422 HMS_SLOT_BEYOND_HORIZON, 422 HMS_SLOT_OUTSIDE_SCHEDULE,
 * 409 HMS_DOCTOR_ON_LEAVE, 409 HMS_SLOT_TAKEN.
 */
create or replace function app_hidden.create_appointment(
  p_hospital_id uuid, p_patient_id uuid, p_doctor_id uuid, p_start timestamptz, p_visit_type text,
  p_reason text, p_booking_source text, p_rescheduled_from_id uuid default null, p_priority text default 'routine',
  p_notes text default null
) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_patient app_public.patients;
  v_doctor app_public.doctors;
  v_settings app_public.hospital_settings;
  v_day date;
  v_slot record;
  v_fee numeric(12,2);
  v_row app_public.appointments;
begin
  if p_patient_id is null or p_doctor_id is null or p_start is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'patient_id, doctor_id and scheduled_start are required.', 422,
      jsonb_build_object('required', jsonb_build_array('patient_id', 'doctor_id', 'scheduled_start')));
  end if;
  if p_visit_type is null or p_visit_type not in ('new_consultation', 'follow_up', 'emergency', 'teleconsultation', 'home_visit', 'procedure') then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Unknown visit type %s.', coalesce(p_visit_type, 'null')), 422,
      jsonb_build_object('field', 'visit_type', 'allowed', jsonb_build_array('new_consultation', 'follow_up', 'emergency', 'teleconsultation', 'home_visit', 'procedure')));
  end if;
  if p_booking_source is null or p_booking_source not in ('front_desk', 'phone', 'web', 'app', 'walk_in', 'referral', 'api') then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Unknown booking source %s.', coalesce(p_booking_source, 'null')), 422,
      jsonb_build_object('field', 'booking_source', 'allowed', jsonb_build_array('front_desk', 'phone', 'web', 'app', 'walk_in', 'referral', 'api')));
  end if;

  select * into v_patient from app_public.patients p
   where p.id = p_patient_id and p.hospital_id = p_hospital_id and not p.is_deleted;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such patient in this hospital.', 404,
      jsonb_build_object('entity', 'patient', 'id', p_patient_id));
  end if;
  select * into v_doctor from app_public.doctors d
   where d.id = p_doctor_id and d.hospital_id = p_hospital_id and not d.is_deleted;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such doctor in this hospital.', 404,
      jsonb_build_object('entity', 'doctor', 'id', p_doctor_id));
  end if;
  if not v_patient.is_active then
    perform app_hidden.raise_error('HMS_PATIENT_INACTIVE', 'The patient record is inactive and cannot be booked.', 422,
      jsonb_build_object('patient_id', p_patient_id));
  end if;
  if not v_doctor.is_active then
    perform app_hidden.raise_error('HMS_DOCTOR_INACTIVE', 'The doctor no longer practises here and cannot be booked.', 422,
      jsonb_build_object('doctor_id', p_doctor_id));
  end if;

  select * into strict v_settings from app_public.hospital_settings s where s.hospital_id = p_hospital_id;
  v_day := app_hidden.hospital_local_date(p_hospital_id, p_start);
  if p_start < now() then
    perform app_hidden.raise_error('HMS_SLOT_IN_PAST', 'The slot has already started; choose a later one.', 422,
      jsonb_build_object('scheduled_start', p_start));
  end if;
  if v_day > app_hidden.hospital_today(p_hospital_id) + v_settings.booking_horizon_days then
    perform app_hidden.raise_error('HMS_SLOT_BEYOND_HORIZON',
      format('Appointments can be booked at most %s days ahead.', v_settings.booking_horizon_days), 422,
      jsonb_build_object('booking_horizon_days', v_settings.booking_horizon_days));
  end if;

  select s.slot_start, s.slot_end, s.schedule_id into v_slot
    from app_hidden.doctor_schedule_slots(p_hospital_id, p_doctor_id, v_day) s
   where s.slot_start = p_start
   limit 1;
  if not found then
    perform app_hidden.raise_error('HMS_SLOT_OUTSIDE_SCHEDULE',
      E'That time is not the start of a slot in the doctor''s schedule; see available_slots.', 422,
      jsonb_build_object('doctor_id', p_doctor_id, 'day', v_day, 'scheduled_start', p_start));
  end if;
  if app_hidden.doctor_on_leave(p_hospital_id, p_doctor_id, p_start) then
    perform app_hidden.raise_error('HMS_DOCTOR_ON_LEAVE', 'The doctor is on approved leave at that time.', 409,
      jsonb_build_object('doctor_id', p_doctor_id, 'day', v_day));
  end if;
  if app_hidden.doctor_slot_taken(p_hospital_id, p_doctor_id, v_slot.slot_start, v_slot.slot_end) then
    perform app_hidden.raise_error('HMS_SLOT_TAKEN', 'That slot is already booked; choose another one.', 409,
      jsonb_build_object('doctor_id', p_doctor_id, 'scheduled_start', p_start));
  end if;

  select f.amount into v_fee from app_public.doctor_fees f
   where f.hospital_id = p_hospital_id and f.doctor_id = p_doctor_id and f.visit_type = p_visit_type and f.is_active
     and f.valid_from <= v_day and (f.valid_to is null or f.valid_to >= v_day)
   order by f.valid_from desc limit 1;

  begin
    insert into app_public.appointments
      (hospital_id, patient_id, doctor_id, department_id, schedule_id, visit_type, scheduled_start, scheduled_end,
       status, booking_source, priority, reason_for_visit, rescheduled_from_id, quoted_fee, notes)
    values
      (p_hospital_id, p_patient_id, p_doctor_id, v_doctor.department_id, v_slot.schedule_id, p_visit_type,
       v_slot.slot_start, v_slot.slot_end, 'booked', p_booking_source, coalesce(p_priority, 'routine'), p_reason,
       p_rescheduled_from_id, v_fee, p_notes)
    returning * into v_row;
  exception when exclusion_violation then
    perform app_hidden.raise_error('HMS_SLOT_TAKEN', 'That slot was just booked by someone else; choose another one.', 409,
      jsonb_build_object('doctor_id', p_doctor_id, 'scheduled_start', p_start));
  end;

  insert into app_public.appointment_status_log (hospital_id, appointment_id, from_status, to_status, changed_at, changed_by, reason, notes)
  values (p_hospital_id, v_row.id, null, 'booked', now(), app_hidden.current_user_id(), p_reason,
          case when p_rescheduled_from_id is not null then 'Rescheduled from an earlier appointment.'
               else 'Booked by ' || p_booking_source || '.' end);
  return v_row;
end;
$$;
comment on function app_hidden.create_appointment(uuid, uuid, uuid, timestamptz, text, text, text, uuid, text, text) is
  'Validates and inserts a booking (shared by book_appointment and reschedule_appointment) with its first status log row.';

/* Runs a status change as the workflow (the trigger then allows the workflow columns). */
create or replace function app_hidden.appointment_workflow_on() returns void
language sql volatile as $$ select set_config('hms.workflow', 'appointments', true); $$;
create or replace function app_hidden.appointment_workflow_off() returns void
language sql volatile as $$ select set_config('hms.workflow', '', true); $$;
comment on function app_hidden.appointment_workflow_on() is 'Marks the transaction as running an appointments workflow function (hms.workflow).';
comment on function app_hidden.appointment_workflow_off() is 'Clears the hms.workflow mark.';

/* ----------------------------------------------------------------------------------------
 * Triggers on appointments
 * ---------------------------------------------------------------------------------------- */

create or replace function app_hidden.tg_appointments__workflow() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_staff boolean := app_hidden.current_user_id() is not null;
  v_workflow boolean := coalesce(current_setting('hms.workflow', true), '') = 'appointments';
  v_changed text[];
  v_no_show_after smallint;
begin
  if TG_OP = 'INSERT' then
    if v_staff and not v_workflow and NEW.status <> 'booked' then
      perform app_hidden.raise_error('HMS_WORKFLOW_REQUIRED',
        'A new appointment starts as booked; use book_appointment.', 409, jsonb_build_object('status', NEW.status));
    end if;
    return NEW;
  end if;

  -- Workflow columns: only the workflow functions (or a trusted writer without a session) change them.
  if v_staff and not v_workflow then
    select coalesce(array_agg(c), '{}') into v_changed
      from (values
        ('patient_id', OLD.patient_id::text is distinct from NEW.patient_id::text),
        ('doctor_id', OLD.doctor_id::text is distinct from NEW.doctor_id::text),
        ('schedule_id', OLD.schedule_id::text is distinct from NEW.schedule_id::text),
        ('scheduled_start', OLD.scheduled_start is distinct from NEW.scheduled_start),
        ('scheduled_end', OLD.scheduled_end is distinct from NEW.scheduled_end),
        ('rescheduled_from_id', OLD.rescheduled_from_id::text is distinct from NEW.rescheduled_from_id::text),
        ('quoted_fee', OLD.quoted_fee is distinct from NEW.quoted_fee),
        ('confirmed_at', OLD.confirmed_at is distinct from NEW.confirmed_at),
        ('checked_in_at', OLD.checked_in_at is distinct from NEW.checked_in_at),
        ('started_at', OLD.started_at is distinct from NEW.started_at),
        ('completed_at', OLD.completed_at is distinct from NEW.completed_at),
        ('no_show_at', OLD.no_show_at is distinct from NEW.no_show_at),
        ('cancelled_at', OLD.cancelled_at is distinct from NEW.cancelled_at),
        ('cancelled_by', OLD.cancelled_by::text is distinct from NEW.cancelled_by::text)) x(c, changed)
     where x.changed;
    if v_changed <> '{}' then
      perform app_hidden.raise_error('HMS_WORKFLOW_REQUIRED',
        'These appointment fields change only through the appointment functions: ' || array_to_string(v_changed, ', ') || '.', 409,
        jsonb_build_object('columns', to_jsonb(v_changed)));
    end if;
  end if;

  if NEW.status is distinct from OLD.status then
    perform app_hidden.assert_appointment_transition(OLD.status, NEW.status);
    if v_staff and not v_workflow and NEW.status in ('checked_in', 'rescheduled') then
      perform app_hidden.raise_error('HMS_WORKFLOW_REQUIRED',
        case NEW.status when 'checked_in' then 'Check a patient in with check_in_appointment (it issues the queue token).'
                        else 'Reschedule with reschedule_appointment (it books the new slot).' end, 409,
        jsonb_build_object('status', NEW.status));
    end if;
    if NEW.status = 'cancelled' and coalesce(trim(NEW.cancellation_reason), '') = '' then
      perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the appointment is cancelled.', 422,
        jsonb_build_object('field', 'cancellation_reason'));
    end if;
    if NEW.status = 'no_show' then
      select s.no_show_after_minutes into v_no_show_after from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
      if now() < NEW.scheduled_start + make_interval(mins => coalesce(v_no_show_after, 30)::int) then
        perform app_hidden.raise_error('HMS_TOO_EARLY_FOR_NO_SHOW',
          format('A no-show can be recorded %s minutes after the slot starts, from %s.', coalesce(v_no_show_after, 30),
                 NEW.scheduled_start + make_interval(mins => coalesce(v_no_show_after, 30)::int)), 422,
          jsonb_build_object('no_show_after_minutes', coalesce(v_no_show_after, 30)));
      end if;
    end if;
    case NEW.status
      when 'confirmed' then NEW.confirmed_at := coalesce(NEW.confirmed_at, now());
      when 'checked_in' then NEW.checked_in_at := coalesce(NEW.checked_in_at, now());
      when 'in_progress' then NEW.started_at := coalesce(NEW.started_at, now());
      when 'completed' then NEW.completed_at := coalesce(NEW.completed_at, now());
      when 'no_show' then NEW.no_show_at := coalesce(NEW.no_show_at, now());
      when 'cancelled' then
        NEW.cancelled_at := coalesce(NEW.cancelled_at, now());
        NEW.cancelled_by := coalesce(NEW.cancelled_by, app_hidden.current_user_id());
      else null;
    end case;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_appointments__workflow() is
  'BEFORE INSERT/UPDATE on appointments: legal status transitions (409 HMS_ILLEGAL_TRANSITION), workflow-only columns and statuses (409 HMS_WORKFLOW_REQUIRED), cancellation reason (422 HMS_REASON_REQUIRED), no-show timing (422 HMS_TOO_EARLY_FOR_NO_SHOW); stamps the time of the new status.';

drop trigger if exists _200_workflow on app_public.appointments;
create trigger _200_workflow before insert or update on app_public.appointments
  for each row execute function app_hidden.tg_appointments__workflow();

create or replace function app_hidden.tg_appointments__status_log() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  insert into app_public.appointment_status_log (hospital_id, appointment_id, from_status, to_status, changed_at, changed_by, reason)
  values (NEW.hospital_id, NEW.id, OLD.status, NEW.status, now(), app_hidden.current_user_id(),
          case when NEW.status = 'cancelled' then NEW.cancellation_reason
               else nullif(current_setting('hms.status_reason', true), '') end);

  -- The queue token follows the consultation.
  update app_public.appointment_queue q
     set status = case NEW.status when 'in_progress' then 'in_consultation' else NEW.status end,
         consultation_started_at = case when NEW.status = 'in_progress' then coalesce(q.consultation_started_at, now())
                                        else q.consultation_started_at end,
         completed_at = case when NEW.status = 'completed' then coalesce(q.completed_at, now()) else q.completed_at end
   where q.hospital_id = NEW.hospital_id and q.appointment_id = NEW.id
     and NEW.status in ('in_progress', 'completed', 'cancelled', 'no_show')
     and q.status not in ('completed', 'cancelled', 'no_show');
  return null;
end;
$$;
comment on function app_hidden.tg_appointments__status_log() is
  'AFTER UPDATE OF status on appointments: appends the change to appointment_status_log (who, when, reason) and moves the queue token along.';

drop trigger if exists _210_status_log on app_public.appointments;
create trigger _210_status_log after update of status on app_public.appointments
  for each row when (OLD.status is distinct from NEW.status)
  execute function app_hidden.tg_appointments__status_log();

/* ----------------------------------------------------------------------------------------
 * RPCs
 * ---------------------------------------------------------------------------------------- */

drop function if exists app_public.available_slots(uuid, date);
create function app_public.available_slots(doctor_id uuid, day date)
returns table (slot_start timestamptz, slot_end timestamptz, is_free boolean)
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.appointments_require('appointments.read');
  v_doctor uuid := available_slots.doctor_id;
  v_day date := available_slots.day;
begin
  if v_doctor is null or v_day is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'doctor_id and day are required.', 422,
      jsonb_build_object('required', jsonb_build_array('doctor_id', 'day')));
  end if;
  if not exists (select 1 from app_public.doctors d where d.id = v_doctor and d.hospital_id = v_hospital and not d.is_deleted) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such doctor in this hospital.', 404,
      jsonb_build_object('entity', 'doctor', 'id', v_doctor));
  end if;
  return query
    select s.slot_start, s.slot_end, not app_hidden.doctor_slot_taken(v_hospital, v_doctor, s.slot_start, s.slot_end)
      from app_hidden.doctor_schedule_slots(v_hospital, v_doctor, v_day) s
     where not app_hidden.doctor_on_leave(v_hospital, v_doctor, s.slot_start)
     order by s.slot_start;
end;
$$;
comment on function app_public.available_slots(uuid, date) is
  E'The slots of a doctor on a day: the active schedule sessions of that weekday cut into slot_minutes (or the hospital default) in the hospital''s time zone, minus approved leaves; is_free is false when a live appointment holds the slot. Needs appointments.read. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (doctor), 422 HMS_INVALID_INPUT.';

drop function if exists app_public.book_appointment(uuid, uuid, timestamptz, text, text, text);
create function app_public.book_appointment(
  patient_id uuid, doctor_id uuid, scheduled_start timestamptz, visit_type text default 'new_consultation',
  reason_for_visit text default null, booking_source text default 'front_desk'
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.appointments_require('appointments.manage');
  v_row app_public.appointments;
begin
  v_row := app_hidden.create_appointment(v_hospital, book_appointment.patient_id, book_appointment.doctor_id,
             book_appointment.scheduled_start, book_appointment.visit_type, book_appointment.reason_for_visit,
             book_appointment.booking_source);
  return row_to_json(v_row);
end;
$$;
comment on function app_public.book_appointment(uuid, uuid, timestamptz, text, text, text) is
  E'Books a patient with a doctor at a slot start from available_slots (status booked, quoted fee from the doctor''s fee for the visit type, department of the doctor) and logs the booking; returns the appointment. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (patient, doctor), 422 HMS_INVALID_INPUT, HMS_PATIENT_INACTIVE, HMS_DOCTOR_INACTIVE, HMS_SLOT_IN_PAST, HMS_SLOT_BEYOND_HORIZON (booking_horizon_days), HMS_SLOT_OUTSIDE_SCHEDULE, 409 HMS_DOCTOR_ON_LEAVE, HMS_SLOT_TAKEN (also when a concurrent booking wins).';

drop function if exists app_public.reschedule_appointment(uuid, timestamptz);
create function app_public.reschedule_appointment(appointment_id uuid, new_start timestamptz) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.appointments_require('appointments.manage');
  v_old app_public.appointments;
  v_new app_public.appointments;
begin
  if reschedule_appointment.appointment_id is null or reschedule_appointment.new_start is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id and new_start are required.', 422,
      jsonb_build_object('required', jsonb_build_array('appointment_id', 'new_start')));
  end if;
  v_old := app_hidden.appointment_for_update(v_hospital, reschedule_appointment.appointment_id);
  perform app_hidden.assert_appointment_transition(v_old.status, 'rescheduled');
  perform app_hidden.appointment_workflow_on();
  -- The old booking frees its slot first, so the new one may overlap it.
  update app_public.appointments a set status = 'rescheduled' where a.id = v_old.id;
  v_new := app_hidden.create_appointment(v_hospital, v_old.patient_id, v_old.doctor_id, reschedule_appointment.new_start,
             v_old.visit_type, v_old.reason_for_visit, v_old.booking_source, v_old.id, v_old.priority, v_old.notes);
  perform app_hidden.appointment_workflow_off();
  return row_to_json(v_new);
end;
$$;
comment on function app_public.reschedule_appointment(uuid, timestamptz) is
  'Moves a booked or confirmed appointment to another slot of the same doctor: books the new slot (same checks as book_appointment, rescheduled_from_id = the old one) and marks the old one rescheduled; returns the new appointment. Needs appointments.manage. Errors: those of book_appointment, 404 HMS_NOT_FOUND (appointment), 409 HMS_ILLEGAL_TRANSITION.';

drop function if exists app_public.cancel_appointment(uuid, text);
create function app_public.cancel_appointment(appointment_id uuid, reason text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.appointments_require('appointments.manage');
  v_row app_public.appointments;
begin
  if cancel_appointment.appointment_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id is required.', 422,
      jsonb_build_object('required', jsonb_build_array('appointment_id')));
  end if;
  v_row := app_hidden.appointment_for_update(v_hospital, cancel_appointment.appointment_id);
  perform app_hidden.assert_appointment_transition(v_row.status, 'cancelled');
  if coalesce(trim(cancel_appointment.reason), '') = '' then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the appointment is cancelled.', 422,
      jsonb_build_object('field', 'reason'));
  end if;
  perform app_hidden.appointment_workflow_on();
  update app_public.appointments a
     set status = 'cancelled', cancellation_reason = trim(cancel_appointment.reason),
         cancelled_at = now(), cancelled_by = app_hidden.current_user_id()
   where a.id = v_row.id
  returning * into v_row;
  perform app_hidden.appointment_workflow_off();
  return row_to_json(v_row);
end;
$$;
comment on function app_public.cancel_appointment(uuid, text) is
  'Cancels a booked, confirmed or checked-in appointment (frees the slot; the queue token is cancelled); returns the appointment. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';

drop function if exists app_public.check_in_appointment(uuid);
create function app_public.check_in_appointment(appointment_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.appointments_require('appointments.checkin');
  v_row app_public.appointments;
  v_today date;
  v_fee record;
  v_doctor_name text;
  v_invoice uuid;
  v_priority text := 'normal';
begin
  if check_in_appointment.appointment_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id is required.', 422,
      jsonb_build_object('required', jsonb_build_array('appointment_id')));
  end if;
  v_row := app_hidden.appointment_for_update(v_hospital, check_in_appointment.appointment_id);
  perform app_hidden.assert_appointment_transition(v_row.status, 'checked_in');
  v_today := app_hidden.hospital_today(v_hospital);
  if app_hidden.hospital_local_date(v_hospital, v_row.scheduled_start) <> v_today then
    perform app_hidden.raise_error('HMS_CHECKIN_NOT_TODAY', 'A patient can be checked in only on the day of the appointment.', 422,
      jsonb_build_object('appointment_day', app_hidden.hospital_local_date(v_hospital, v_row.scheduled_start), 'today', v_today));
  end if;

  perform app_hidden.appointment_workflow_on();
  update app_public.appointments a set status = 'checked_in', checked_in_at = now()
   where a.id = v_row.id
  returning * into v_row;

  -- The day's queue token (label and number from the 0310 trigger, per department and day).
  select case when age(v_today, p.date_of_birth) >= interval '65 years' then 'senior_citizen' else 'normal' end
    into v_priority
    from app_public.patients p where p.id = v_row.patient_id and p.hospital_id = v_hospital;
  insert into app_public.appointment_queue
    (hospital_id, queue_date, department_id, doctor_id, appointment_id, patient_id, priority, status, checked_in_at)
  values (v_hospital, v_today, v_row.department_id, v_row.doctor_id, v_row.id, v_row.patient_id,
          coalesce(v_priority, 'normal'), 'waiting', v_row.checked_in_at);

  -- The consultation fee goes on the patient's draft outpatient invoice for this appointment.
  if coalesce(v_row.quoted_fee, 0) > 0 then
    select f.id, f.tax_configuration_id into v_fee from app_public.doctor_fees f
     where f.hospital_id = v_hospital and f.doctor_id = v_row.doctor_id and f.visit_type = v_row.visit_type and f.is_active
       and f.valid_from <= v_today and (f.valid_to is null or f.valid_to >= v_today)
     order by f.valid_from desc limit 1;
    select u.first_name || ' ' || u.last_name into v_doctor_name
      from app_public.doctors d join app_public.users u on u.id = d.user_id
     where d.id = v_row.doctor_id and d.hospital_id = v_hospital;
    v_invoice := app_hidden.ensure_draft_invoice(v_hospital, v_row.patient_id, 'outpatient', v_row.id);
    perform app_hidden.add_invoice_item(v_invoice, 'consultation',
      initcap(replace(v_row.visit_type, '_', ' ')) || ' — Dr. ' || coalesce(v_doctor_name, 'unknown'),
      1, v_row.quoted_fee, v_fee.tax_configuration_id,
      jsonb_build_object('appointment_id', v_row.id, 'doctor_id', v_row.doctor_id, 'department_id', v_row.department_id));
  end if;
  perform app_hidden.appointment_workflow_off();
  return row_to_json(v_row);
end;
$$;
comment on function app_public.check_in_appointment(uuid) is
  E'Checks the patient in on the day of a booked or confirmed appointment (hospital time zone): status checked_in, checked_in_at, the day''s queue token (waiting) and the quoted consultation fee as a line of the patient''s draft outpatient invoice for the appointment; returns the appointment. Needs appointments.checkin. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_CHECKIN_NOT_TODAY.';

/* start / complete / no-show: one status change each (the triggers stamp, log and move the queue). */
create or replace function app_hidden.appointment_set_status(p_permission text, p_appointment_id uuid, p_to text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.appointments_require(p_permission);
  v_row app_public.appointments;
begin
  if p_appointment_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id is required.', 422,
      jsonb_build_object('required', jsonb_build_array('appointment_id')));
  end if;
  v_row := app_hidden.appointment_for_update(v_hospital, p_appointment_id);
  perform app_hidden.assert_appointment_transition(v_row.status, p_to);
  perform app_hidden.appointment_workflow_on();
  update app_public.appointments a set status = p_to where a.id = v_row.id returning * into v_row;
  perform app_hidden.appointment_workflow_off();
  return row_to_json(v_row);
end;
$$;
comment on function app_hidden.appointment_set_status(text, uuid, text) is
  'Shared body of start_appointment, complete_appointment and mark_no_show.';

drop function if exists app_public.start_appointment(uuid);
create function app_public.start_appointment(appointment_id uuid) returns json
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$ select app_hidden.appointment_set_status('appointments.manage', $1, 'in_progress'); $$;
comment on function app_public.start_appointment(uuid) is
  'Starts the consultation of a checked-in appointment: status in_progress, started_at; the queue token goes in_consultation. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';

drop function if exists app_public.complete_appointment(uuid);
create function app_public.complete_appointment(appointment_id uuid) returns json
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$ select app_hidden.appointment_set_status('appointments.manage', $1, 'completed'); $$;
comment on function app_public.complete_appointment(uuid) is
  'Ends the consultation of an in-progress appointment: status completed, completed_at; the queue token is completed. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';

drop function if exists app_public.mark_no_show(uuid);
create function app_public.mark_no_show(appointment_id uuid) returns json
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$ select app_hidden.appointment_set_status('appointments.manage', $1, 'no_show'); $$;
comment on function app_public.mark_no_show(uuid) is
  E'Records that the patient did not come (booked or confirmed, from scheduled_start + the hospital''s no_show_after_minutes): status no_show, no_show_at; frees the slot. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_TOO_EARLY_FOR_NO_SHOW.';

grant execute on function
  app_public.available_slots(uuid, date),
  app_public.book_appointment(uuid, uuid, timestamptz, text, text, text),
  app_public.reschedule_appointment(uuid, timestamptz),
  app_public.cancel_appointment(uuid, text),
  app_public.check_in_appointment(uuid),
  app_public.start_appointment(uuid),
  app_public.complete_appointment(uuid),
  app_public.mark_no_show(uuid)
to :DATABASE_STAFF;

--! split: 2100-prescriptions-workflow.sql
/*
 * Prescriptions workflow (DESIGN.md, section 2100).
 *
 * A prescription is written as a draft (create_prescription, or apply_prescription_template),
 * edited freely while it is a draft (update_prescription, add_prescription_item,
 * remove_prescription_item, or plain REST writes), then signed with finalize_prescription: from
 * then on it is a legal document. Version 1 of prescription_versions keeps the finalized state;
 * every later change goes through amend_prescription, which applies the change, raises
 * prescriptions.version and stores the next snapshot with the reason. Triggers refuse any other
 * change of a finalized prescription's clinical fields or lines (409 HMS_PRESCRIPTION_FINALIZED),
 * except what the pharmacy writes while dispensing (quantity_dispensed, the dispensing statuses).
 *
 * The triggers act on requests of logged-in staff (app_hidden.current_user_id() is not null);
 * the owner (migrations, demo data, maintenance) is trusted, as for soft delete. The RPCs mark
 * their own writes with the transaction-local setting hms.workflow = 'prescriptions' and clear it
 * before returning.
 */

/* The prescription with its lines as one JSON object: the API answer and the version snapshot. */
create or replace function app_hidden.prescription_snapshot(p_hospital_id uuid, p_prescription_id uuid) returns jsonb
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select (to_jsonb(p) - array['created_at', 'updated_at', 'created_by', 'updated_by'])
         || jsonb_build_object('items', coalesce(
              (select jsonb_agg(to_jsonb(i) - array['hospital_id', 'prescription_id', 'created_at', 'updated_at', 'created_by', 'updated_by']
                                order by i.line_number)
                 from app_public.prescription_items i
                where i.hospital_id = p.hospital_id and i.prescription_id = p.id), '[]'::jsonb))
    from app_public.prescriptions p
   where p.hospital_id = p_hospital_id and p.id = p_prescription_id;
$$;
comment on function app_hidden.prescription_snapshot(uuid, uuid) is
  'The prescription (without stamps) and its lines under "items", as stored in prescription_versions.snapshot and returned by the prescription RPCs.';

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
  perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
    format('Item %s: %s must be a number.', p_index, p_key), 422,
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
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID', format('Item %s must be a JSON object.', p_index), 422,
      jsonb_build_object('item', p_index));
  end if;

  if nullif(p_item ->> 'medicine_id', '') is not null then
    if (p_item ->> 'medicine_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID', format('Item %s: medicine_id is not a valid id.', p_index), 422,
        jsonb_build_object('item', p_index, 'field', 'medicine_id'));
    end if;
    v_medicine_id := (p_item ->> 'medicine_id')::uuid;
    select * into v_medicine from app_public.medicines m
     where m.hospital_id = p_hospital_id and m.id = v_medicine_id and not m.is_deleted;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', format('Item %s: no such medicine in this hospital.', p_index), 404,
        jsonb_build_object('entity', 'medicine', 'id', v_medicine_id, 'item', p_index));
    end if;
    if not v_medicine.is_active then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE', format('Item %s: %s is no longer in the formulary.', p_index, v_medicine.generic_name), 422,
        jsonb_build_object('item', p_index, 'medicine_id', v_medicine_id));
    end if;
  end if;

  v_drug_name := coalesce(nullif(trim(p_item ->> 'drug_name'), ''),
                          case when v_medicine.id is not null
                               then v_medicine.generic_name || coalesce(' ' || v_medicine.strength, '') || coalesce(' (' || v_medicine.brand_name || ')', '') end);
  if v_drug_name is null or length(v_drug_name) not between 2 and 200 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: drug_name (2 to 200 characters) is required when no medicine_id is given.', p_index), 422,
      jsonb_build_object('item', p_index, 'field', 'drug_name'));
  end if;

  v_quantity := app_hidden.rx_item_number(p_item, 'quantity_prescribed', p_index);
  if v_quantity is null or v_quantity <= 0 or v_quantity <> trunc(v_quantity) or v_quantity > 2147483647 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_QUANTITY_INVALID',
      format('Item %s: quantity_prescribed must be a whole number greater than zero.', p_index), 422,
      jsonb_build_object('item', p_index, 'field', 'quantity_prescribed'));
  end if;

  v_route := coalesce(nullif(p_item ->> 'route', ''), v_medicine.route, 'oral');
  if v_route not in ('oral', 'sublingual', 'topical', 'inhalation', 'intravenous', 'intramuscular', 'subcutaneous', 'rectal',
                     'ophthalmic', 'otic', 'nasal', 'other') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ROUTE_INVALID',
      format('Item %s: route %s is not one of oral, sublingual, topical, inhalation, intravenous, intramuscular, subcutaneous, rectal, ophthalmic, otic, nasal, other.', p_index, v_route),
      422, jsonb_build_object('item', p_index, 'field', 'route'));
  end if;

  v_timing := coalesce(nullif(p_item ->> 'timing', ''), 'any');
  if v_timing not in ('before_food', 'after_food', 'with_food', 'empty_stomach', 'bedtime', 'any') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: timing must be before_food, after_food, with_food, empty_stomach, bedtime or any.', p_index), 422,
      jsonb_build_object('item', p_index, 'field', 'timing'));
  end if;

  v_dose_quantity := app_hidden.rx_item_number(p_item, 'dose_quantity', p_index);
  v_dose_unit := nullif(trim(p_item ->> 'dose_unit'), '');
  if (v_dose_quantity is null) <> (v_dose_unit is null) or v_dose_quantity <= 0 or v_dose_quantity >= 10000000 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: dose_quantity (greater than zero) and dose_unit go together.', p_index), 422,
      jsonb_build_object('item', p_index, 'field', 'dose_quantity'));
  end if;

  v_frequency_per_day := app_hidden.rx_item_number(p_item, 'frequency_per_day', p_index);
  if v_frequency_per_day <= 0 or v_frequency_per_day > 48 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: frequency_per_day must be more than 0 and at most 48.', p_index), 422,
      jsonb_build_object('item', p_index, 'field', 'frequency_per_day'));
  end if;

  v_duration := app_hidden.rx_item_number(p_item, 'duration_days', p_index);
  if v_duration < 1 or v_duration > 3650 or v_duration <> trunc(v_duration) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: duration_days must be a whole number of days between 1 and 3650.', p_index), 422,
      jsonb_build_object('item', p_index, 'field', 'duration_days'));
  end if;

  if (p_item ? 'is_prn' and jsonb_typeof(p_item -> 'is_prn') not in ('boolean', 'null'))
     or (p_item ? 'substitution_allowed' and jsonb_typeof(p_item -> 'substitution_allowed') not in ('boolean', 'null')) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: is_prn and substitution_allowed are true or false.', p_index), 422,
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
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEMS_INVALID', 'items must be a JSON array of item objects.', 422);
  end if;
  for v_item in select e from jsonb_array_elements(p_items) e loop
    v_index := v_index + 1;
    v_result := v_result || jsonb_build_array(app_hidden.normalize_prescription_item(p_hospital_id, v_item, v_index));
  end loop;
  return v_result;
end;
$$;
comment on function app_hidden.normalize_prescription_items(uuid, jsonb) is 'Validates a JSON array of prescription items (see normalize_prescription_item); HMS_PRESCRIPTION_ITEMS_INVALID when it is not an array.';

/* Inserts normalised items as new lines (line numbers follow the last one). */
create or replace function app_hidden.insert_prescription_items(p_hospital_id uuid, p_prescription_id uuid, p_items jsonb) returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  insert into app_public.prescription_items
    (hospital_id, prescription_id, medicine_id, drug_name, dose, dose_quantity, dose_unit, frequency, frequency_per_day, route,
     duration_days, quantity_prescribed, timing, instructions, is_prn, substitution_allowed)
  select p_hospital_id, p_prescription_id, r.medicine_id, r.drug_name, r.dose, r.dose_quantity, r.dose_unit, r.frequency,
         r.frequency_per_day, r.route, r.duration_days, r.quantity_prescribed, r.timing, r.instructions, r.is_prn, r.substitution_allowed
    from jsonb_array_elements(coalesce(p_items, '[]'::jsonb)) with ordinality e(item, n)
   cross join lateral jsonb_populate_record(null::app_public.prescription_items, e.item) r
   order by e.n;
$$;
comment on function app_hidden.insert_prescription_items(uuid, uuid, jsonb) is 'Adds normalised item objects as new lines of a prescription, numbered after the last line.';

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
      format('Not ICD-10 codes: %s (expected e.g. J06.9).', array_to_string(v_bad, ', ')), 422, jsonb_build_object('codes', v_bad));
  end if;
end;
$$;
comment on function app_hidden.check_diagnosis_codes(text[]) is 'Refuses diagnosis codes that do not look like ICD-10 codes (HMS_DIAGNOSIS_CODE_INVALID).';

/* Session, permission and the prescription locked (404 when not of this hospital). */
create or replace function app_hidden.lock_prescription(p_prescription_id uuid, p_permission text) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
  v_row app_public.prescriptions;
begin
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital first.', 401);
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the %s permission.', p_permission), 403,
      jsonb_build_object('permission', p_permission));
  end if;
  select * into v_row from app_public.prescriptions p
   where p.hospital_id = v_hospital and p.id = p_prescription_id and not p.is_deleted
     for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such prescription in this hospital.', 404,
      jsonb_build_object('entity', 'prescription', 'id', p_prescription_id));
  end if;
  return v_row;
end;
$$;
comment on function app_hidden.lock_prescription(uuid, text) is
  'For prescription RPCs: checks the session (401) and the permission (403), then locks the prescription of the active hospital (404 otherwise).';

/*
 * Applies a change set to a prescription: header fields and items (add_items, remove_items,
 * replace_items). Used by update_prescription (drafts) and amend_prescription (finalized).
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
  v_id uuid;
  v_line app_public.prescription_items;
  v_new jsonb;
  v_index integer := 0;
  v_date date;
begin
  if p_changes is null or jsonb_typeof(p_changes) <> 'object' or p_changes = '{}'::jsonb then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'changes must be a non-empty JSON object.', 422);
  end if;
  select array_agg(k) into v_unknown from jsonb_object_keys(p_changes) k
   where k not in ('diagnosis', 'diagnosis_codes', 'chief_complaint', 'clinical_notes', 'advice', 'follow_up_date', 'valid_until',
                   'notes', 'add_items', 'remove_items', 'replace_items');
  if v_unknown is not null then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID',
      format('Unknown change: %s. Allowed: diagnosis, diagnosis_codes, chief_complaint, clinical_notes, advice, follow_up_date, valid_until, notes, add_items, remove_items, replace_items.',
             array_to_string(v_unknown, ', ')), 422, jsonb_build_object('unknown', v_unknown));
  end if;

  if p_changes ? 'diagnosis_codes' then
    if jsonb_typeof(p_changes -> 'diagnosis_codes') <> 'array' then
      perform app_hidden.raise_error('HMS_DIAGNOSIS_CODE_INVALID', 'diagnosis_codes must be an array of ICD-10 codes.', 422);
    end if;
    v_codes := array(select jsonb_array_elements_text(p_changes -> 'diagnosis_codes'));
    perform app_hidden.check_diagnosis_codes(v_codes);
  end if;
  begin
    if p_changes ? 'follow_up_date' then v_date := (p_changes ->> 'follow_up_date')::date; end if;
    if p_changes ? 'valid_until' then v_date := (p_changes ->> 'valid_until')::date; end if;
  exception when others then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'follow_up_date and valid_until are dates (YYYY-MM-DD).', 422);
  end;
  if (p_changes ->> 'valid_until')::date < p_row.prescribed_at::date
     or (p_changes ->> 'follow_up_date')::date < p_row.prescribed_at::date then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_DATE_INVALID', 'follow_up_date and valid_until cannot be before the prescription date.', 422);
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
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'remove_items must be an array of prescription item ids.', 422);
    end if;
    for v_item in select e from jsonb_array_elements(p_changes -> 'remove_items') e loop
      if jsonb_typeof(v_item) <> 'string' or (v_item #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'remove_items must be an array of prescription item ids.', 422);
      end if;
      v_id := (v_item #>> '{}')::uuid;
      select * into v_line from app_public.prescription_items i
       where i.hospital_id = p_row.hospital_id and i.prescription_id = p_row.id and i.id = v_id;
      if not found then
        perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this prescription.', 404,
          jsonb_build_object('entity', 'prescription_item', 'id', v_id));
      end if;
      if v_line.quantity_dispensed > 0 then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_DISPENSED',
          format('Line %s (%s) has already been dispensed and cannot be removed.', v_line.line_number, v_line.drug_name), 409,
          jsonb_build_object('prescription_item_id', v_id));
      end if;
      delete from app_public.prescription_items i where i.id = v_id;
    end loop;
  end if;

  -- replace_items: [{id, …item}] — the line keeps its number, its content is replaced
  if p_changes ? 'replace_items' then
    if jsonb_typeof(p_changes -> 'replace_items') <> 'array' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'replace_items must be an array of item objects with their id.', 422);
    end if;
    for v_item in select e from jsonb_array_elements(p_changes -> 'replace_items') e loop
      v_index := v_index + 1;
      if jsonb_typeof(v_item) <> 'object' or coalesce(v_item ->> 'id', '') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'replace_items must be an array of item objects with their id.', 422);
      end if;
      v_id := (v_item ->> 'id')::uuid;
      select * into v_line from app_public.prescription_items i
       where i.hospital_id = p_row.hospital_id and i.prescription_id = p_row.id and i.id = v_id;
      if not found then
        perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this prescription.', 404,
          jsonb_build_object('entity', 'prescription_item', 'id', v_id));
      end if;
      if v_line.quantity_dispensed > 0 then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_DISPENSED',
          format('Line %s (%s) has already been dispensed and cannot be replaced.', v_line.line_number, v_line.drug_name), 409,
          jsonb_build_object('prescription_item_id', v_id));
      end if;
      v_new := app_hidden.normalize_prescription_item(p_row.hospital_id, v_item - 'id', v_index);
      update app_public.prescription_items i
         set (medicine_id, drug_name, dose, dose_quantity, dose_unit, frequency, frequency_per_day, route, duration_days,
              quantity_prescribed, timing, instructions, is_prn, substitution_allowed)
           = (select r.medicine_id, r.drug_name, r.dose, r.dose_quantity, r.dose_unit, r.frequency, r.frequency_per_day, r.route,
                     r.duration_days, r.quantity_prescribed, r.timing, r.instructions, r.is_prn, r.substitution_allowed
                from jsonb_populate_record(null::app_public.prescription_items, v_new) r)
       where i.id = v_id;
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
-- Triggers
-- ---------------------------------------------------------------------------------------------

/*
 * BEFORE INSERT/UPDATE on prescriptions, for requests of staff: a prescription starts as a
 * draft; legal status changes only (table in the function); finalize and cancel stamp who and
 * when; a finalized prescription's clinical fields change only through amend_prescription.
 */
create or replace function app_hidden.tg_prescriptions__workflow() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_in_workflow boolean := coalesce(current_setting('hms.workflow', true), '') = 'prescriptions';
  v_allowed text[] := array['status', 'finalized_at', 'finalized_by', 'cancelled_at', 'cancelled_by', 'cancellation_reason',
                            'notes', 'is_deleted', 'deleted_at', 'updated_at', 'updated_by'];
  v_legal boolean;
  v_dispensed integer;
begin
  if v_user is null then
    return NEW; -- owner, migrations, demo data: trusted
  end if;

  if TG_OP = 'INSERT' then
    if NEW.status <> 'draft' then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        format('A prescription starts as a draft (not %s); finalize it with finalize_prescription.', NEW.status), 409,
        jsonb_build_object('from', null, 'to', NEW.status));
    end if;
    NEW.version := 1;
    NEW.finalized_at := null; NEW.finalized_by := null;
    NEW.cancelled_at := null; NEW.cancelled_by := null;
    return NEW;
  end if;

  -- workflow stamps follow the status, never a client
  NEW.finalized_at := OLD.finalized_at; NEW.finalized_by := OLD.finalized_by;
  NEW.cancelled_at := OLD.cancelled_at; NEW.cancelled_by := OLD.cancelled_by;
  if not v_in_workflow then
    NEW.version := OLD.version;
  end if;

  if NEW.status is distinct from OLD.status then
    v_legal := (OLD.status, NEW.status) in (
      ('draft', 'finalized'), ('draft', 'cancelled'),
      ('finalized', 'partially_dispensed'), ('finalized', 'dispensed'), ('finalized', 'cancelled'), ('finalized', 'expired'),
      ('partially_dispensed', 'dispensed'), ('partially_dispensed', 'finalized'), ('partially_dispensed', 'expired'),
      ('dispensed', 'partially_dispensed'));
    if not v_legal then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        format('A prescription cannot go from %s to %s.', OLD.status, NEW.status), 409,
        jsonb_build_object('from', OLD.status, 'to', NEW.status));
    end if;
    if NEW.status in ('partially_dispensed', 'dispensed') or OLD.status in ('partially_dispensed', 'dispensed') then
      if not app_hidden.has_any_permission(array['pharmacy.dispense', 'pharmacy.return']) then
        perform app_hidden.raise_error('HMS_FORBIDDEN', 'Only the pharmacy sets the dispensing status of a prescription.', 403,
          jsonb_build_object('permission', 'pharmacy.dispense'));
      end if;
    end if;
    if NEW.status = 'finalized' and OLD.status = 'draft' then
      if not exists (select 1 from app_public.prescription_items i where i.hospital_id = NEW.hospital_id and i.prescription_id = NEW.id) then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A prescription needs at least one medicine line to be finalized.', 422);
      end if;
      NEW.finalized_at := now();
      NEW.finalized_by := v_user;
    elsif NEW.status = 'cancelled' then
      if nullif(trim(NEW.cancellation_reason), '') is null then
        perform app_hidden.raise_error('HMS_CANCELLATION_REASON_REQUIRED', 'Say why the prescription is cancelled.', 422);
      end if;
      select coalesce(sum(i.quantity_dispensed), 0) into v_dispensed from app_public.prescription_items i
       where i.hospital_id = NEW.hospital_id and i.prescription_id = NEW.id;
      if v_dispensed > 0 then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_DISPENSED',
          'Medicines of this prescription have already been dispensed: it can no longer be cancelled.', 409,
          jsonb_build_object('quantity_dispensed', v_dispensed));
      end if;
      NEW.cancelled_at := now();
      NEW.cancelled_by := v_user;
    end if;
  end if;

  if OLD.status <> 'draft' and not v_in_workflow then
    if (to_jsonb(NEW) - v_allowed) is distinct from (to_jsonb(OLD) - v_allowed) then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_FINALIZED',
        format('Prescription %s is %s: change it with amend_prescription (a new version with a reason).', OLD.prescription_number, OLD.status),
        409, jsonb_build_object('prescription_id', OLD.id, 'status', OLD.status));
    end if;
    if NEW.cancellation_reason is distinct from OLD.cancellation_reason and NEW.status <> 'cancelled' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_FINALIZED', 'The cancellation reason is set by cancelling the prescription.', 409,
        jsonb_build_object('prescription_id', OLD.id, 'status', OLD.status));
    end if;
    if NEW.is_deleted and not OLD.is_deleted and OLD.status in ('finalized', 'partially_dispensed', 'dispensed') then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_FINALIZED',
        format('Prescription %s is %s and cannot be deleted; cancel it instead.', OLD.prescription_number, OLD.status), 409,
        jsonb_build_object('prescription_id', OLD.id, 'status', OLD.status));
    end if;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_prescriptions__workflow() is
  'BEFORE INSERT/UPDATE on prescriptions (staff requests): drafts first, legal status changes only, finalize/cancel stamps, finalized clinical fields change only through amend_prescription (HMS_PRESCRIPTION_FINALIZED).';

drop trigger if exists _200_workflow on app_public.prescriptions;
create trigger _200_workflow before insert or update on app_public.prescriptions
  for each row execute function app_hidden.tg_prescriptions__workflow();

/* AFTER UPDATE: finalizing writes version 1 (the prescription as signed). */
create or replace function app_hidden.tg_prescriptions__first_version() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
begin
  if v_user is not null and OLD.status = 'draft' and NEW.status = 'finalized' then
    insert into app_public.prescription_versions (hospital_id, prescription_id, version, snapshot, change_reason, changed_at, changed_by)
    values (NEW.hospital_id, NEW.id, NEW.version, app_hidden.prescription_snapshot(NEW.hospital_id, NEW.id), 'Finalized', now(), v_user)
    on conflict (hospital_id, prescription_id, version) do nothing;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_prescriptions__first_version() is 'AFTER UPDATE on prescriptions: finalizing a draft stores its first version snapshot in prescription_versions.';

drop trigger if exists _300_first_version on app_public.prescriptions;
create trigger _300_first_version after update of status on app_public.prescriptions
  for each row execute function app_hidden.tg_prescriptions__first_version();

/*
 * BEFORE INSERT/UPDATE/DELETE on prescription_items: numbers new lines; for staff requests, the
 * lines of a prescription that is no longer a draft change only through amend_prescription —
 * except quantity_dispensed, which the pharmacy keeps.
 */
create or replace function app_hidden.tg_prescription_items__workflow() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_in_workflow boolean := coalesce(current_setting('hms.workflow', true), '') = 'prescriptions';
  v_parent app_public.prescriptions;
  v_row app_public.prescription_items;
  v_ignore text[] := array['quantity_dispensed', 'updated_at', 'updated_by'];
begin
  if TG_OP = 'INSERT' and NEW.line_number is null then
    select * into v_parent from app_public.prescriptions p where p.hospital_id = NEW.hospital_id and p.id = NEW.prescription_id for update;
    NEW.line_number := coalesce((select max(i.line_number) from app_public.prescription_items i
                                  where i.hospital_id = NEW.hospital_id and i.prescription_id = NEW.prescription_id), 0) + 1;
  end if;
  if TG_OP = 'DELETE' then v_row := OLD; else v_row := NEW; end if;
  if v_user is null or v_in_workflow then
    return v_row;
  end if;

  select * into v_parent from app_public.prescriptions p where p.hospital_id = v_row.hospital_id and p.id = v_row.prescription_id;
  if found and v_parent.status <> 'draft' then
    if TG_OP <> 'UPDATE' or (to_jsonb(NEW) - v_ignore) is distinct from (to_jsonb(OLD) - v_ignore) then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_FINALIZED',
        format('Prescription %s is %s: its lines change only with amend_prescription (a new version with a reason).',
               v_parent.prescription_number, v_parent.status),
        409, jsonb_build_object('prescription_id', v_parent.id, 'status', v_parent.status));
    end if;
  end if;
  if TG_OP = 'UPDATE' and NEW.prescription_id is distinct from OLD.prescription_id then
    select * into v_parent from app_public.prescriptions p where p.hospital_id = NEW.hospital_id and p.id = NEW.prescription_id;
    if found and v_parent.status <> 'draft' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_FINALIZED', 'A line cannot be moved onto a finalized prescription.', 409,
        jsonb_build_object('prescription_id', v_parent.id, 'status', v_parent.status));
    end if;
  end if;
  return v_row;
end;
$$;
comment on function app_hidden.tg_prescription_items__workflow() is
  'BEFORE INSERT/UPDATE/DELETE on prescription_items: numbers new lines; lines of a non-draft prescription change only through amend_prescription, except quantity_dispensed (HMS_PRESCRIPTION_FINALIZED).';

drop trigger if exists _200_workflow on app_public.prescription_items;
create trigger _200_workflow before insert or update or delete on app_public.prescription_items
  for each row execute function app_hidden.tg_prescription_items__workflow();

/* prescription_versions is history: never updated. */
create or replace function app_hidden.tg_prescription_versions__append_only() returns trigger
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_PRESCRIPTION_VERSIONS_APPEND_ONLY',
    'Prescription versions are history and never change; amend the prescription to create a new version.', 403);
  return null;
end;
$$;
comment on function app_hidden.tg_prescription_versions__append_only() is 'BEFORE UPDATE on prescription_versions: refuses any change (history is append-only).';

drop trigger if exists _000_append_only on app_public.prescription_versions;
create trigger _000_append_only before update on app_public.prescription_versions
  for each row execute function app_hidden.tg_prescription_versions__append_only();

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

drop function if exists app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date);
create or replace function app_public.create_prescription(
  patient_id uuid,
  appointment_id uuid default null,
  diagnosis text default null,
  diagnosis_codes text[] default '{}',
  items jsonb default '[]',
  advice text default null,
  follow_up_date date default null
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
  v_user uuid := app_hidden.current_user_id();
  v_patient_id uuid := create_prescription.patient_id;
  v_appointment_id uuid := create_prescription.appointment_id;
  v_items jsonb;
  v_doctor_id uuid;
  v_appointment app_public.appointments;
  v_today date;
  v_validity integer;
  v_id uuid;
begin
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital first.', 401);
  end if;
  if not app_hidden.has_permission('prescriptions.write') then
    perform app_hidden.raise_error('HMS_FORBIDDEN', 'Writing prescriptions needs the prescriptions.write permission.', 403,
      jsonb_build_object('permission', 'prescriptions.write'));
  end if;
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = v_user and d.is_active and not d.is_deleted;
  if v_doctor_id is null then
    perform app_hidden.raise_error('HMS_NOT_A_DOCTOR', 'Only a doctor of this hospital can write a prescription.', 403);
  end if;
  if v_patient_id is null or not exists (select 1 from app_public.patients p
                                          where p.hospital_id = v_hospital and p.id = v_patient_id and not p.is_deleted) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such patient in this hospital.', 404,
      jsonb_build_object('entity', 'patient', 'id', v_patient_id));
  end if;
  if v_appointment_id is not null then
    select * into v_appointment from app_public.appointments a
     where a.hospital_id = v_hospital and a.id = v_appointment_id and not a.is_deleted;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment in this hospital.', 404,
        jsonb_build_object('entity', 'appointment', 'id', v_appointment_id));
    end if;
    if v_appointment.patient_id <> v_patient_id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The appointment is of another patient.', 422,
        jsonb_build_object('appointment_id', v_appointment_id));
    end if;
  end if;
  perform app_hidden.check_diagnosis_codes(create_prescription.diagnosis_codes);
  v_items := app_hidden.normalize_prescription_items(v_hospital, create_prescription.items);

  select (now() at time zone h.time_zone)::date, s.prescription_validity_days into v_today, v_validity
    from app_public.hospitals h join app_public.hospital_settings s on s.hospital_id = h.id
   where h.id = v_hospital;
  if create_prescription.follow_up_date < v_today then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_DATE_INVALID', 'The follow-up date is in the past.', 422);
  end if;

  insert into app_public.prescriptions (hospital_id, patient_id, doctor_id, appointment_id, status, diagnosis, diagnosis_codes,
                                        advice, follow_up_date, valid_until, chief_complaint)
  values (v_hospital, v_patient_id, v_doctor_id, v_appointment_id, 'draft', nullif(trim(create_prescription.diagnosis), ''),
          coalesce(create_prescription.diagnosis_codes, '{}'), nullif(trim(create_prescription.advice), ''),
          create_prescription.follow_up_date, v_today + coalesce(v_validity, 30), v_appointment.chief_complaint)
  returning id into v_id;
  perform app_hidden.insert_prescription_items(v_hospital, v_id, v_items);
  return app_hidden.prescription_snapshot(v_hospital, v_id)::json;
end;
$$;
comment on function app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date) is
  E'Starts a draft prescription for a patient, written by the calling doctor, valid for the hospital''s prescription_validity_days. items: [{medicine_id?, drug_name, dose, dose_quantity, dose_unit, frequency, frequency_per_day, route, duration_days, quantity_prescribed, timing, instructions, is_prn, substitution_allowed}] (line numbers are automatic). Returns the prescription with its items. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN (prescriptions.write), 403 HMS_NOT_A_DOCTOR, 404 HMS_NOT_FOUND (patient, appointment, medicine), 422 HMS_APPOINTMENT_PATIENT_MISMATCH, HMS_DIAGNOSIS_CODE_INVALID, HMS_PRESCRIPTION_ITEMS_INVALID, HMS_PRESCRIPTION_ITEM_INVALID, HMS_PRESCRIPTION_QUANTITY_INVALID, HMS_PRESCRIPTION_ROUTE_INVALID, HMS_MEDICINE_INACTIVE, HMS_PRESCRIPTION_DATE_INVALID.';
grant execute on function app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date) to :DATABASE_STAFF;

create or replace function app_public.update_prescription(prescription_id uuid, changes jsonb) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.prescriptions := app_hidden.lock_prescription(update_prescription.prescription_id, 'prescriptions.write');
begin
  if v_row.status <> 'draft' then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_FINALIZED',
      format('Prescription %s is %s: change it with amend_prescription (a new version with a reason).', v_row.prescription_number, v_row.status),
      409, jsonb_build_object('prescription_id', v_row.id, 'status', v_row.status));
  end if;
  perform app_hidden.apply_prescription_changes(v_row, update_prescription.changes);
  return app_hidden.prescription_snapshot(v_row.hospital_id, v_row.id)::json;
end;
$$;
comment on function app_public.update_prescription(uuid, jsonb) is
  E'Edits a DRAFT prescription. changes: {diagnosis, diagnosis_codes, chief_complaint, clinical_notes, advice, follow_up_date, valid_until, notes, add_items: [item…], remove_items: [prescription_item id…], replace_items: [{id, …item}]}. Returns the prescription with its items. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_PRESCRIPTION_FINALIZED (use amend_prescription), 422 HMS_PRESCRIPTION_CHANGES_INVALID and the item errors of create_prescription.';
grant execute on function app_public.update_prescription(uuid, jsonb) to :DATABASE_STAFF;

create or replace function app_public.add_prescription_item(prescription_id uuid, item jsonb) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  return app_public.update_prescription(add_prescription_item.prescription_id,
                                        jsonb_build_object('add_items', jsonb_build_array(add_prescription_item.item)));
end;
$$;
comment on function app_public.add_prescription_item(uuid, jsonb) is
  'Adds one medicine line (an item object as for create_prescription) to a DRAFT prescription; returns the prescription. Errors as update_prescription.';
grant execute on function app_public.add_prescription_item(uuid, jsonb) to :DATABASE_STAFF;

create or replace function app_public.remove_prescription_item(prescription_item_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
  v_prescription_id uuid;
begin
  select i.prescription_id into v_prescription_id from app_public.prescription_items i
   where i.hospital_id = v_hospital and i.id = remove_prescription_item.prescription_item_id;
  if v_hospital is not null and v_prescription_id is null and app_hidden.has_permission('prescriptions.write') then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such prescription line in this hospital.', 404,
      jsonb_build_object('entity', 'prescription_item', 'id', remove_prescription_item.prescription_item_id));
  end if;
  return app_public.update_prescription(v_prescription_id,
                                        jsonb_build_object('remove_items', jsonb_build_array(remove_prescription_item.prescription_item_id)));
end;
$$;
comment on function app_public.remove_prescription_item(uuid) is
  'Removes one line from a DRAFT prescription; returns the prescription. Errors as update_prescription.';
grant execute on function app_public.remove_prescription_item(uuid) to :DATABASE_STAFF;

create or replace function app_public.finalize_prescription(prescription_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.prescriptions := app_hidden.lock_prescription(finalize_prescription.prescription_id, 'prescriptions.write');
begin
  if v_row.status <> 'draft' then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('Prescription %s cannot go from %s to finalized.', v_row.prescription_number, v_row.status), 409,
      jsonb_build_object('from', v_row.status, 'to', 'finalized'));
  end if;
  -- the triggers check the lines, stamp finalized_at/by and store version 1
  update app_public.prescriptions p set status = 'finalized' where p.id = v_row.id;
  return app_hidden.prescription_snapshot(v_row.hospital_id, v_row.id)::json;
end;
$$;
comment on function app_public.finalize_prescription(uuid) is
  E'Signs a draft prescription: draft → finalized, finalized_at/by, and version 1 in prescription_versions (snapshot with its items). Later changes need amend_prescription. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft), 422 HMS_PRESCRIPTION_EMPTY (no line).';
grant execute on function app_public.finalize_prescription(uuid) to :DATABASE_STAFF;

create or replace function app_public.amend_prescription(prescription_id uuid, changes jsonb, change_reason text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.prescriptions := app_hidden.lock_prescription(amend_prescription.prescription_id, 'prescriptions.write');
  v_version integer;
  v_previous_flag text := coalesce(current_setting('hms.workflow', true), '');
begin
  if v_row.status not in ('finalized', 'partially_dispensed') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_NOT_AMENDABLE',
      case when v_row.status = 'draft'
           then format('Prescription %s is a draft: edit it with update_prescription.', v_row.prescription_number)
           else format('Prescription %s is %s and can no longer be amended.', v_row.prescription_number, v_row.status) end,
      409, jsonb_build_object('prescription_id', v_row.id, 'status', v_row.status));
  end if;
  if nullif(trim(amend_prescription.change_reason), '') is null then
    perform app_hidden.raise_error('HMS_CHANGE_REASON_REQUIRED', 'Say why the finalized prescription is changed (change_reason).', 422);
  end if;

  perform set_config('hms.workflow', 'prescriptions', true);
  perform app_hidden.apply_prescription_changes(v_row, amend_prescription.changes);
  if not exists (select 1 from app_public.prescription_items i where i.hospital_id = v_row.hospital_id and i.prescription_id = v_row.id) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A finalized prescription keeps at least one medicine line; cancel it instead.', 422);
  end if;
  update app_public.prescriptions p set version = p.version + 1 where p.id = v_row.id returning p.version into v_version;
  insert into app_public.prescription_versions (hospital_id, prescription_id, version, snapshot, change_reason, changed_at, changed_by)
  values (v_row.hospital_id, v_row.id, v_version, app_hidden.prescription_snapshot(v_row.hospital_id, v_row.id),
          trim(amend_prescription.change_reason), now(), app_hidden.current_user_id());
  perform set_config('hms.workflow', v_previous_flag, true);
  return app_hidden.prescription_snapshot(v_row.hospital_id, v_row.id)::json;
end;
$$;
comment on function app_public.amend_prescription(uuid, jsonb, text) is
  E'Changes a finalized (or partially dispensed) prescription: applies changes (as update_prescription: header fields, add_items, remove_items, replace_items — dispensed lines cannot be removed or replaced), raises version and stores the new snapshot with change_reason in prescription_versions. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_PRESCRIPTION_NOT_AMENDABLE, 409 HMS_PRESCRIPTION_ITEM_DISPENSED, 422 HMS_CHANGE_REASON_REQUIRED, HMS_PRESCRIPTION_CHANGES_INVALID, HMS_PRESCRIPTION_EMPTY and the item errors of create_prescription.';
grant execute on function app_public.amend_prescription(uuid, jsonb, text) to :DATABASE_STAFF;

create or replace function app_public.cancel_prescription(prescription_id uuid, reason text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.prescriptions := app_hidden.lock_prescription(cancel_prescription.prescription_id, 'prescriptions.write');
begin
  if v_row.status not in ('draft', 'finalized') then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('Prescription %s cannot go from %s to cancelled.', v_row.prescription_number, v_row.status), 409,
      jsonb_build_object('from', v_row.status, 'to', 'cancelled'));
  end if;
  if nullif(trim(cancel_prescription.reason), '') is null then
    perform app_hidden.raise_error('HMS_CANCELLATION_REASON_REQUIRED', 'Say why the prescription is cancelled.', 422);
  end if;
  -- the trigger refuses when something was dispensed and stamps cancelled_at/by
  update app_public.prescriptions p set status = 'cancelled', cancellation_reason = trim(cancel_prescription.reason)
   where p.id = v_row.id;
  return app_hidden.prescription_snapshot(v_row.hospital_id, v_row.id)::json;
end;
$$;
comment on function app_public.cancel_prescription(uuid, text) is
  E'Cancels a draft or finalized prescription of which nothing was dispensed. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (other states), 409 HMS_PRESCRIPTION_DISPENSED, 422 HMS_CANCELLATION_REASON_REQUIRED.';
grant execute on function app_public.cancel_prescription(uuid, text) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Templates
-- ---------------------------------------------------------------------------------------------

drop function if exists app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid);
create or replace function app_public.create_prescription_template(
  name text,
  diagnosis text default null,
  items jsonb default '[]',
  diagnosis_codes text[] default '{}',
  advice text default null,
  description text default null,
  is_shared boolean default false,
  department_id uuid default null
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
  v_doctor_id uuid;
  v_name text := trim(create_prescription_template.name);
  v_department_id uuid := create_prescription_template.department_id;
  v_items jsonb;
  v_row app_public.prescription_templates;
begin
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital first.', 401);
  end if;
  if not app_hidden.has_permission('prescriptions.write') then
    perform app_hidden.raise_error('HMS_FORBIDDEN', 'Prescription templates need the prescriptions.write permission.', 403,
      jsonb_build_object('permission', 'prescriptions.write'));
  end if;
  -- a doctor's own template; staff who are not doctors (hospital admins) write hospital-wide ones
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and not d.is_deleted;
  if v_name is null or length(v_name) not between 2 and 120 then
    perform app_hidden.raise_error('HMS_TEMPLATE_NAME_INVALID', 'A template name has 2 to 120 characters.', 422);
  end if;
  if v_department_id is not null and not exists (select 1 from app_public.departments d where d.hospital_id = v_hospital and d.id = v_department_id) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such department in this hospital.', 404,
      jsonb_build_object('entity', 'department', 'id', v_department_id));
  end if;
  perform app_hidden.check_diagnosis_codes(create_prescription_template.diagnosis_codes);
  v_items := app_hidden.normalize_prescription_items(v_hospital, create_prescription_template.items);
  if jsonb_array_length(v_items) = 0 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A template needs at least one medicine line.', 422);
  end if;
  if exists (select 1 from app_public.prescription_templates t
              where t.hospital_id = v_hospital and t.doctor_id is not distinct from v_doctor_id and t.name = v_name) then
    perform app_hidden.raise_error('HMS_TEMPLATE_NAME_TAKEN', format('There is already a template named %s.', v_name), 409);
  end if;
  insert into app_public.prescription_templates (hospital_id, name, doctor_id, department_id, diagnosis, diagnosis_codes, description,
                                                 items, advice, is_shared)
  values (v_hospital, v_name, v_doctor_id, v_department_id, nullif(trim(create_prescription_template.diagnosis), ''),
          coalesce(create_prescription_template.diagnosis_codes, '{}'), nullif(trim(create_prescription_template.description), ''),
          v_items, nullif(trim(create_prescription_template.advice), ''), coalesce(create_prescription_template.is_shared, false))
  returning * into v_row;
  return to_json(v_row);
end;
$$;
comment on function app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid) is
  E'Saves a reusable regimen: the caller''s own template (hospital-wide when the caller is not a doctor). items as for create_prescription (validated). Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (department, medicine), 409 HMS_TEMPLATE_NAME_TAKEN, 422 HMS_TEMPLATE_NAME_INVALID, HMS_PRESCRIPTION_EMPTY, HMS_DIAGNOSIS_CODE_INVALID and the item errors.';
grant execute on function app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid) to :DATABASE_STAFF;

create or replace function app_public.apply_prescription_template(template_id uuid, patient_id uuid, appointment_id uuid default null) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
  v_template app_public.prescription_templates;
  v_doctor_id uuid;
  v_result json;
begin
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital first.', 401);
  end if;
  if not app_hidden.has_permission('prescriptions.write') then
    perform app_hidden.raise_error('HMS_FORBIDDEN', 'Writing prescriptions needs the prescriptions.write permission.', 403,
      jsonb_build_object('permission', 'prescriptions.write'));
  end if;
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and not d.is_deleted;
  -- a colleague's personal template that is not shared is not visible: 404 as for another hospital's
  select * into v_template from app_public.prescription_templates t
   where t.hospital_id = v_hospital and t.id = apply_prescription_template.template_id
     and (t.doctor_id is null or t.doctor_id = v_doctor_id or t.is_shared)
     for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such prescription template in this hospital.', 404,
      jsonb_build_object('entity', 'prescription_template', 'id', apply_prescription_template.template_id));
  end if;
  if not v_template.is_active then
    perform app_hidden.raise_error('HMS_TEMPLATE_INACTIVE', format('The template %s is no longer active.', v_template.name), 422);
  end if;
  v_result := app_public.create_prescription(apply_prescription_template.patient_id, apply_prescription_template.appointment_id,
                                             v_template.diagnosis, v_template.diagnosis_codes, v_template.items, v_template.advice, null);
  update app_public.prescription_templates t set usage_count = t.usage_count + 1 where t.id = v_template.id;
  return v_result;
end;
$$;
comment on function app_public.apply_prescription_template(uuid, uuid, uuid) is
  E'Starts a draft prescription for the patient from a template (diagnosis, codes, items, advice) and counts the use. Errors: those of create_prescription, 404 HMS_NOT_FOUND (template of another hospital or a colleague''s unshared one), 422 HMS_TEMPLATE_INACTIVE.';
grant execute on function app_public.apply_prescription_template(uuid, uuid, uuid) to :DATABASE_STAFF;

--! split: 2200-lab-workflow.sql
/*
 * Lab workflow (section 2200). A lab order follows
 *   ordered → sample_collected → in_progress → completed (results entered) → reported (released),
 * tests without a specimen (imaging) go ordered → in_progress directly, and an order that has
 * not started (ordered or sample_collected) can be cancelled with a reason. A BEFORE trigger
 * enforces this for every staff request (REST, GraphQL, psql as staff): legal transitions only,
 * the permission each step needs (lab.order to order and cancel, lab.process for the rest), the
 * workflow stamps (who and when) set by the database, results only while the order is in progress
 * or completed, and is_critical derived from the flags. The owner (migrations, maintenance) is
 * trusted and meets only the table's CHECKs.
 *
 * RPCs: order_lab_test, collect_sample, start_lab_test, record_lab_result, report_lab_result,
 * cancel_lab_order.
 */

create or replace function app_hidden.lab_results_critical(p_flag text, p_results jsonb) returns boolean
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(p_flag in ('critical_low', 'critical_high'), false)
      or (jsonb_typeof(p_results) = 'array'
          and exists (select 1 from jsonb_array_elements(p_results) e
                       where jsonb_typeof(e) = 'object' and e ->> 'flag' in ('critical_low', 'critical_high')));
$$;
comment on function app_hidden.lab_results_critical(text, jsonb) is 'True when the overall flag or any analyte flag is critical_low or critical_high.';

create or replace function app_hidden.tg_lab_orders__workflow() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_results_changed boolean;
begin
  if v_user is null then
    return NEW; -- owner, migrations, maintenance: trusted (CHECKs still apply)
  end if;

  if TG_OP = 'INSERT' then
    if NEW.status <> 'ordered' then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('A lab order starts as ordered (not %s).', NEW.status), 409,
        jsonb_build_object('from', null, 'to', NEW.status));
    end if;
    -- staff without any lab write permission meet the row-level policy (42501); lab.process alone does not order
    if not app_hidden.has_permission('lab.order') and app_hidden.has_permission('lab.process') then
      perform app_hidden.raise_error('HMS_FORBIDDEN', 'Ordering lab tests needs the lab.order permission.', 403,
        jsonb_build_object('permission', 'lab.order'));
    end if;
    if NEW.results <> '[]'::jsonb or num_nonnulls(NEW.result_value, NEW.result_unit, NEW.reference_range, NEW.result_flag,
                                                   NEW.result_notes, NEW.interpretation) > 0 then
      perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED', 'Results are entered once the test is in progress.', 409);
    end if;
    NEW.ordered_at := now();
    NEW.sample_collected_at := null; NEW.sample_collected_by := null; NEW.started_at := null;
    NEW.completed_at := null; NEW.performed_by := null; NEW.reported_at := null; NEW.reported_by := null;
    NEW.cancelled_at := null; NEW.cancelled_by := null; NEW.is_critical := false;
    return NEW;
  end if;

  -- workflow stamps follow the status, never a client
  NEW.ordered_at := OLD.ordered_at;
  NEW.sample_collected_at := OLD.sample_collected_at; NEW.sample_collected_by := OLD.sample_collected_by;
  NEW.started_at := OLD.started_at; NEW.completed_at := OLD.completed_at; NEW.performed_by := OLD.performed_by;
  NEW.reported_at := OLD.reported_at; NEW.reported_by := OLD.reported_by;
  NEW.cancelled_at := OLD.cancelled_at; NEW.cancelled_by := OLD.cancelled_by;

  if NEW.status is distinct from OLD.status then
    if not ((OLD.status, NEW.status) in (
              ('ordered', 'sample_collected'), ('sample_collected', 'in_progress'), ('in_progress', 'completed'),
              ('completed', 'reported'), ('ordered', 'cancelled'), ('sample_collected', 'cancelled'))
            or (OLD.status = 'ordered' and NEW.status = 'in_progress' and NEW.specimen_type is null)) then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        format('A lab order cannot go from %s to %s.', OLD.status, NEW.status)
          || case when OLD.status = 'ordered' and NEW.status = 'in_progress' then ' Collect the sample first.' else '' end,
        409, jsonb_build_object('from', OLD.status, 'to', NEW.status));
    end if;
    if NEW.status = 'cancelled' then
      if not app_hidden.has_permission('lab.order') then
        perform app_hidden.raise_error('HMS_FORBIDDEN', 'Cancelling a lab order needs the lab.order permission.', 403,
          jsonb_build_object('permission', 'lab.order'));
      end if;
      if nullif(trim(NEW.cancellation_reason), '') is null then
        perform app_hidden.raise_error('HMS_CANCELLATION_REASON_REQUIRED', 'Say why the lab order is cancelled.', 422);
      end if;
      NEW.cancelled_at := now(); NEW.cancelled_by := v_user;
    else
      if not app_hidden.has_permission('lab.process') then
        perform app_hidden.raise_error('HMS_FORBIDDEN', 'Processing lab orders needs the lab.process permission.', 403,
          jsonb_build_object('permission', 'lab.process'));
      end if;
      case NEW.status
        when 'sample_collected' then
          NEW.sample_collected_at := now(); NEW.sample_collected_by := v_user;
        when 'in_progress' then
          NEW.started_at := now();
        when 'completed' then
          if NEW.results = '[]'::jsonb and nullif(trim(NEW.result_value), '') is null then
            perform app_hidden.raise_error('HMS_LAB_RESULTS_EMPTY', 'Enter a result value or panel results before completing the test.', 422);
          end if;
          NEW.completed_at := now(); NEW.performed_by := v_user;
        when 'reported' then
          NEW.reported_at := now(); NEW.reported_by := v_user;
        else
          null;
      end case;
    end if;
  end if;

  v_results_changed := (NEW.results, NEW.result_value, NEW.result_unit, NEW.reference_range, NEW.result_flag, NEW.result_notes)
                       is distinct from
                       (OLD.results, OLD.result_value, OLD.result_unit, OLD.reference_range, OLD.result_flag, OLD.result_notes);
  if v_results_changed then
    if OLD.status not in ('in_progress', 'completed') or NEW.status not in ('in_progress', 'completed') then
      perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
        format('Results are entered only while the test is in progress or completed (this order is %s).', OLD.status), 409,
        jsonb_build_object('status', OLD.status));
    end if;
    if not app_hidden.has_permission('lab.process') then
      perform app_hidden.raise_error('HMS_FORBIDDEN', 'Entering results needs the lab.process permission.', 403,
        jsonb_build_object('permission', 'lab.process'));
    end if;
  end if;
  if NEW.interpretation is distinct from OLD.interpretation and OLD.status <> 'completed' then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
      format('The interpretation is written when the results are completed, before the report is released (this order is %s).', OLD.status),
      409, jsonb_build_object('status', OLD.status));
  end if;
  NEW.is_critical := app_hidden.lab_results_critical(NEW.result_flag, NEW.results);
  if not NEW.is_critical then
    NEW.critical_notified_at := null;
    NEW.critical_notified_to := null;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_lab_orders__workflow() is
  'BEFORE INSERT/UPDATE on lab_orders (staff requests): legal status changes with the permission of each step, workflow stamps, results only while in progress or completed, is_critical from the flags.';

drop trigger if exists _200_workflow on app_public.lab_orders;
create trigger _200_workflow before insert or update on app_public.lab_orders
  for each row execute function app_hidden.tg_lab_orders__workflow();

/* Session, permission and the lab order locked (404 when not of this hospital). */
create or replace function app_hidden.lock_lab_order(p_lab_order_id uuid, p_permission text) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
  v_row app_public.lab_orders;
begin
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital first.', 401);
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the %s permission.', p_permission), 403,
      jsonb_build_object('permission', p_permission));
  end if;
  select * into v_row from app_public.lab_orders l
   where l.hospital_id = v_hospital and l.id = p_lab_order_id and not l.is_deleted
     for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such lab order in this hospital.', 404,
      jsonb_build_object('entity', 'lab_order', 'id', p_lab_order_id));
  end if;
  return v_row;
end;
$$;
comment on function app_hidden.lock_lab_order(uuid, text) is
  'For lab RPCs: checks the session (401) and the permission (403), then locks the lab order of the active hospital (404 otherwise).';

create or replace function app_hidden.lab_transition_error(p_row app_public.lab_orders, p_to text) returns void
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
    format('Lab order %s cannot go from %s to %s.', p_row.order_number, p_row.status, p_to), 409,
    jsonb_build_object('from', p_row.status, 'to', p_to));
end;
$$;
comment on function app_hidden.lab_transition_error(app_public.lab_orders, text) is 'Raises HMS_ILLEGAL_TRANSITION (409) for a lab order step.';

drop function if exists app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric);
create or replace function app_public.order_lab_test(
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
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
  v_patient_id uuid := order_lab_test.patient_id;
  v_appointment_id uuid := order_lab_test.appointment_id;
  v_prescription_id uuid := order_lab_test.prescription_id;
  v_department_id uuid := order_lab_test.department_id;
  v_doctor_id uuid;
  v_other_patient uuid;
  v_row app_public.lab_orders;
begin
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital first.', 401);
  end if;
  if not app_hidden.has_permission('lab.order') then
    perform app_hidden.raise_error('HMS_FORBIDDEN', 'Ordering lab tests needs the lab.order permission.', 403,
      jsonb_build_object('permission', 'lab.order'));
  end if;
  if v_patient_id is null or not exists (select 1 from app_public.patients p
                                          where p.hospital_id = v_hospital and p.id = v_patient_id and not p.is_deleted) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such patient in this hospital.', 404,
      jsonb_build_object('entity', 'patient', 'id', v_patient_id));
  end if;
  if v_appointment_id is not null then
    select a.patient_id into v_other_patient from app_public.appointments a
     where a.hospital_id = v_hospital and a.id = v_appointment_id and not a.is_deleted;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment in this hospital.', 404,
        jsonb_build_object('entity', 'appointment', 'id', v_appointment_id));
    end if;
    if v_other_patient <> v_patient_id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The appointment is of another patient.', 422);
    end if;
  end if;
  if v_prescription_id is not null then
    select p.patient_id into v_other_patient from app_public.prescriptions p
     where p.hospital_id = v_hospital and p.id = v_prescription_id and not p.is_deleted;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such prescription in this hospital.', 404,
        jsonb_build_object('entity', 'prescription', 'id', v_prescription_id));
    end if;
    if v_other_patient <> v_patient_id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The prescription is of another patient.', 422);
    end if;
  end if;
  if v_department_id is not null and not exists (select 1 from app_public.departments d
                                                  where d.hospital_id = v_hospital and d.id = v_department_id and not d.is_deleted) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such department in this hospital.', 404,
      jsonb_build_object('entity', 'department', 'id', v_department_id));
  end if;
  if order_lab_test.test_code is not null and order_lab_test.test_code !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' then
    perform app_hidden.raise_error('HMS_LAB_TEST_INVALID', 'test_code has 1 to 32 letters, digits, dots, dashes or underscores (e.g. CBC, 2345-7).', 422,
      jsonb_build_object('field', 'test_code'));
  end if;
  if order_lab_test.test_name is null or length(trim(order_lab_test.test_name)) not between 2 and 200 then
    perform app_hidden.raise_error('HMS_LAB_TEST_INVALID', 'test_name (2 to 200 characters) is required.', 422,
      jsonb_build_object('field', 'test_name'));
  end if;
  if order_lab_test.test_category is null or order_lab_test.test_category not in
       ('hematology', 'biochemistry', 'microbiology', 'pathology', 'radiology', 'immunology', 'serology', 'urinalysis', 'molecular', 'other') then
    perform app_hidden.raise_error('HMS_LAB_CATEGORY_INVALID',
      'test_category is hematology, biochemistry, microbiology, pathology, radiology, immunology, serology, urinalysis, molecular or other.', 422);
  end if;
  if order_lab_test.specimen_type not in ('blood', 'urine', 'stool', 'sputum', 'swab', 'tissue', 'csf', 'other') then
    perform app_hidden.raise_error('HMS_LAB_SPECIMEN_INVALID',
      'specimen_type is blood, urine, stool, sputum, swab, tissue, csf, other, or null when none is needed.', 422);
  end if;
  if coalesce(order_lab_test.priority, '') not in ('routine', 'urgent', 'stat') then
    perform app_hidden.raise_error('HMS_LAB_PRIORITY_INVALID', 'priority is routine, urgent or stat.', 422);
  end if;
  if order_lab_test.price is null or order_lab_test.price < 0 or order_lab_test.price >= 10000000000 then
    perform app_hidden.raise_error('HMS_LAB_PRICE_INVALID', 'price is an amount of zero or more.', 422);
  end if;
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and not d.is_deleted;
  if v_doctor_id is null and nullif(trim(order_lab_test.referring_physician), '') is null then
    perform app_hidden.raise_error('HMS_LAB_ORDERER_REQUIRED',
      'Only doctors of the hospital order in their own name; name the referring_physician of an outside referral.', 422);
  end if;

  insert into app_public.lab_orders (hospital_id, patient_id, doctor_id, referring_physician, appointment_id, prescription_id, department_id,
                                     test_code, test_name, test_category, specimen_type, priority, clinical_notes, price)
  values (v_hospital, v_patient_id, v_doctor_id, nullif(trim(order_lab_test.referring_physician), ''), v_appointment_id, v_prescription_id,
          v_department_id, order_lab_test.test_code, trim(order_lab_test.test_name), order_lab_test.test_category,
          order_lab_test.specimen_type, order_lab_test.priority, nullif(trim(order_lab_test.clinical_notes), ''),
          round(order_lab_test.price, 2))
  returning * into v_row;
  return to_json(v_row);
end;
$$;
comment on function app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric) is
  E'Orders a lab or imaging test for a patient, in the calling doctor''s name (or for an outside referring_physician); status ordered. Returns the order. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN (lab.order), 404 HMS_NOT_FOUND (patient, appointment, prescription, department), 422 HMS_APPOINTMENT_PATIENT_MISMATCH, HMS_LAB_TEST_INVALID, HMS_LAB_CATEGORY_INVALID, HMS_LAB_SPECIMEN_INVALID, HMS_LAB_PRIORITY_INVALID, HMS_LAB_PRICE_INVALID, HMS_LAB_ORDERER_REQUIRED.';
grant execute on function app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric) to :DATABASE_STAFF;

create or replace function app_public.collect_sample(lab_order_id uuid, sample_barcode text default null) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.lab_orders := app_hidden.lock_lab_order(collect_sample.lab_order_id, 'lab.process');
  v_barcode text := nullif(trim(collect_sample.sample_barcode), '');
begin
  if v_row.status <> 'ordered' then
    perform app_hidden.lab_transition_error(v_row, 'sample_collected');
  end if;
  if v_row.specimen_type is null then
    perform app_hidden.raise_error('HMS_LAB_NO_SPECIMEN', format('Test %s needs no specimen: start it directly.', v_row.test_name), 422);
  end if;
  if v_barcode is not null and v_barcode !~ '^[0-9A-Za-z-]{4,48}$' then
    perform app_hidden.raise_error('HMS_LAB_BARCODE_INVALID', 'A sample barcode has 4 to 48 letters, digits or dashes.', 422);
  end if;
  if v_barcode is not null and exists (select 1 from app_public.lab_orders l
                                        where l.hospital_id = v_row.hospital_id and l.sample_barcode = v_barcode and l.id <> v_row.id) then
    perform app_hidden.raise_error('HMS_LAB_BARCODE_TAKEN', format('Barcode %s is already on another sample.', v_barcode), 409);
  end if;
  update app_public.lab_orders l set status = 'sample_collected', sample_barcode = coalesce(v_barcode, l.sample_barcode)
   where l.id = v_row.id returning * into v_row;
  return to_json(v_row);
end;
$$;
comment on function app_public.collect_sample(uuid, text) is
  E'Records the specimen collection of an ordered test (ordered → sample_collected, who and when), with the container barcode. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_LAB_BARCODE_TAKEN, 422 HMS_LAB_NO_SPECIMEN, HMS_LAB_BARCODE_INVALID.';
grant execute on function app_public.collect_sample(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.start_lab_test(lab_order_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.lab_orders := app_hidden.lock_lab_order(start_lab_test.lab_order_id, 'lab.process');
begin
  if not (v_row.status = 'sample_collected' or (v_row.status = 'ordered' and v_row.specimen_type is null)) then
    perform app_hidden.lab_transition_error(v_row, 'in_progress');
  end if;
  update app_public.lab_orders l set status = 'in_progress' where l.id = v_row.id returning * into v_row;
  return to_json(v_row);
end;
$$;
comment on function app_public.start_lab_test(uuid) is
  E'Starts processing: sample_collected (or ordered, for tests without a specimen) → in_progress. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.start_lab_test(uuid) to :DATABASE_STAFF;

drop function if exists app_public.record_lab_result(uuid, jsonb, text, text, text, text, text);
create or replace function app_public.record_lab_result(
  lab_order_id uuid,
  results jsonb default '[]',
  result_value text default null,
  result_unit text default null,
  reference_range text default null,
  result_flag text default null,
  result_notes text default null
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.lab_orders := app_hidden.lock_lab_order(record_lab_result.lab_order_id, 'lab.process');
  v_results jsonb := coalesce(record_lab_result.results, '[]'::jsonb);
  v_bad jsonb;
begin
  if v_row.status not in ('in_progress', 'completed') then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
      format('Results are entered only while the test is in progress or completed (lab order %s is %s).', v_row.order_number, v_row.status),
      409, jsonb_build_object('status', v_row.status));
  end if;
  if jsonb_typeof(v_results) <> 'array' then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_INVALID', 'results is a JSON array of {analyte, value, unit, reference_range, flag}.', 422);
  end if;
  select e into v_bad from jsonb_array_elements(v_results) e
   where jsonb_typeof(e) <> 'object' or nullif(trim(e ->> 'analyte'), '') is null
      or (e ? 'flag' and jsonb_typeof(e -> 'flag') <> 'null'
          and (e ->> 'flag') not in ('normal', 'low', 'high', 'critical_low', 'critical_high', 'abnormal'))
   limit 1;
  if v_bad is not null then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_INVALID',
      'Each panel result is an object with an analyte (and value, unit, reference_range, flag: normal, low, high, critical_low, critical_high or abnormal).',
      422, jsonb_build_object('result', v_bad));
  end if;
  if record_lab_result.result_flag not in ('normal', 'low', 'high', 'critical_low', 'critical_high', 'abnormal') then
    perform app_hidden.raise_error('HMS_LAB_RESULT_FLAG_INVALID', 'result_flag is normal, low, high, critical_low, critical_high or abnormal.', 422);
  end if;
  if v_results = '[]'::jsonb and nullif(trim(record_lab_result.result_value), '') is null then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_EMPTY', 'Enter a result value or panel results.', 422);
  end if;
  update app_public.lab_orders l
     set status = 'completed', results = v_results,
         result_value = nullif(trim(record_lab_result.result_value), ''),
         result_unit = nullif(trim(record_lab_result.result_unit), ''),
         reference_range = nullif(trim(record_lab_result.reference_range), ''),
         result_flag = record_lab_result.result_flag,
         result_notes = nullif(trim(record_lab_result.result_notes), '')
   where l.id = v_row.id returning * into v_row;
  return to_json(v_row);
end;
$$;
comment on function app_public.record_lab_result(uuid, jsonb, text, text, text, text, text) is
  E'Enters (or corrects, before the report) the results of a test in progress: in_progress → completed, performed_by/completed_at; is_critical is set when a flag is critical_low or critical_high. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_LAB_RESULTS_NOT_ALLOWED (not in progress or completed), 422 HMS_LAB_RESULTS_INVALID, HMS_LAB_RESULT_FLAG_INVALID, HMS_LAB_RESULTS_EMPTY.';
grant execute on function app_public.record_lab_result(uuid, jsonb, text, text, text, text, text) to :DATABASE_STAFF;

create or replace function app_public.report_lab_result(lab_order_id uuid, interpretation text default null) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.lab_orders := app_hidden.lock_lab_order(report_lab_result.lab_order_id, 'lab.process');
begin
  if v_row.status <> 'completed' then
    perform app_hidden.lab_transition_error(v_row, 'reported');
  end if;
  update app_public.lab_orders l
     set interpretation = coalesce(nullif(trim(report_lab_result.interpretation), ''), l.interpretation)
   where l.id = v_row.id;
  update app_public.lab_orders l set status = 'reported' where l.id = v_row.id returning * into v_row;
  return to_json(v_row);
end;
$$;
comment on function app_public.report_lab_result(uuid, text) is
  E'Verifies and releases the report of a completed test (completed → reported, reported_at/by), with an optional interpretation. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.report_lab_result(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.cancel_lab_order(lab_order_id uuid, reason text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.lab_orders := app_hidden.lock_lab_order(cancel_lab_order.lab_order_id, 'lab.order');
begin
  if v_row.status not in ('ordered', 'sample_collected') then
    perform app_hidden.lab_transition_error(v_row, 'cancelled');
  end if;
  if nullif(trim(cancel_lab_order.reason), '') is null then
    perform app_hidden.raise_error('HMS_CANCELLATION_REASON_REQUIRED', 'Say why the lab order is cancelled.', 422);
  end if;
  update app_public.lab_orders l set status = 'cancelled', cancellation_reason = trim(cancel_lab_order.reason)
   where l.id = v_row.id returning * into v_row;
  return to_json(v_row);
end;
$$;
comment on function app_public.cancel_lab_order(uuid, text) is
  E'Cancels a test that has not started (ordered or sample_collected), with the reason. Errors: 401, 403 HMS_FORBIDDEN (lab.order), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_CANCELLATION_REASON_REQUIRED.';
grant execute on function app_public.cancel_lab_order(uuid, text) to :DATABASE_STAFF;

--! split: 2300-pharmacy-workflow.sql
/*
 * Pharmacy workflow (issue 4): dispensing against a prescription, over-the-counter sales and
 * patient returns, as security definer RPCs.
 *
 * - dispense_prescription / dispense_otc pick batches first-expiry-first-out (FEFO) among the
 *   medicine's usable batches (status active, stock on hand, expiry after today plus the
 *   hospital's near_expiry_block_days), locking them in expiry order, and write one 'dispense'
 *   stock movement per line: the ledger trigger (4100) lowers the batch. Not enough usable stock
 *   for a line → HMS_INSUFFICIENT_STOCK and nothing at all is written.
 * - Dispensed lines go on the patient's draft pharmacy invoice in the same transaction through
 *   the billing contract (app_hidden.ensure_draft_invoice / add_invoice_item, 3000). An OTC sale
 *   to a walk-in customer (no patient) is not invoiced here: it is paid at the counter.
 * - return_dispensed_items books a completed return: resalable units go back to their batch
 *   ('patient_return' movement), damaged or expired ones are written off (not restocked); the
 *   refund amount is recorded — paying it out is the billing module's job.
 *
 * Quantities and totals (prescription_items.quantity_dispensed,
 * pharmacy_dispensing_items.quantity_returned, the dispensing totals) are not client-writable
 * (table_access) and the guard triggers below keep completed dispensings and returns immutable for
 * clients: they only change inside these RPCs, which set the transaction-local flag
 * hms.workflow = 'pharmacy'.
 */

-- ---------------------------------------------------------------------------------------------
-- Internal helpers
-- ---------------------------------------------------------------------------------------------

/* Is the current statement running inside a pharmacy RPC (or as the owner, without a user)? */
create or replace function app_hidden.pharmacy_workflow_active() returns boolean
language sql
stable
as $$
  select coalesce(current_setting('hms.workflow', true), '') = 'pharmacy'
      or app_hidden.current_user_id() is null;
$$;
comment on function app_hidden.pharmacy_workflow_active() is
  'True inside the pharmacy RPCs (transaction-local flag hms.workflow = pharmacy) or when no user acts (owner, migrations, seed).';
grant execute on function app_hidden.pharmacy_workflow_active() to :DATABASE_STAFF;

/*
 * Takes p_quantity units of a medicine first-expiry-first-out: locks the usable batches in
 * expiry order, and returns the batches and quantities to take (a line may span batches).
 * Raises HMS_INSUFFICIENT_STOCK (409) when the usable batches hold less than asked.
 * Writes nothing: the caller writes the stock movements.
 */
create or replace function app_hidden.pharmacy_allocate_fefo(p_hospital_id uuid, p_medicine_id uuid, p_quantity integer)
returns table (batch_id uuid, batch_number text, expiry_date date, quantity integer)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_today date;
  v_block_days integer;
  v_remaining integer := p_quantity;
  v_available integer := 0;
  v_take integer;
  v_name text;
  r record;
begin
  select (now() at time zone h.time_zone)::date, coalesce(s.near_expiry_block_days, 0)
    into v_today, v_block_days
    from app_public.hospitals h
    left join app_public.hospital_settings s on s.hospital_id = h.id
   where h.id = p_hospital_id;

  for r in
    select b.id, b.batch_number, b.expiry_date, b.quantity_on_hand
      from app_public.medicine_batches b
     where b.hospital_id = p_hospital_id
       and b.medicine_id = p_medicine_id
       and b.status = 'active'
       and b.quantity_on_hand > 0
       and b.expiry_date > v_today + v_block_days
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
             v_name, p_quantity, v_available), 409,
      jsonb_build_object('medicine_id', p_medicine_id, 'medicine', v_name, 'requested', p_quantity, 'available', v_available));
  end if;
end;
$$;
comment on function app_hidden.pharmacy_allocate_fefo(uuid, uuid, integer) is
  'First-expiry-first-out allocation of a medicine: locks the usable batches (active, on hand, expiring after today + near_expiry_block_days) in expiry order and returns which batches to take how much from; HMS_INSUFFICIENT_STOCK (409) when they do not hold enough.';

/* A positive whole number from a JSON value, or null. */
create or replace function app_hidden.pharmacy_json_quantity(p_value jsonb) returns integer
language sql
immutable
as $$
  select case when jsonb_typeof(p_value) = 'number' and p_value::text ~ '^[0-9]{1,9}$' and p_value::text::integer > 0
              then p_value::text::integer end;
$$;

/* A uuid from a JSON string, or null when it is not one. */
create or replace function app_hidden.pharmacy_json_uuid(p_value jsonb) returns uuid
language sql
immutable
as $$
  select case when jsonb_typeof(p_value) = 'string'
               and (p_value #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then (p_value #>> '{}')::uuid end;
$$;

/*
 * Writes one dispensing line per FEFO batch of one medicine (with its 'dispense' stock movement
 * and, when p_invoice_id is given, its invoice line) and returns the lines as a JSON array.
 */
create or replace function app_hidden.pharmacy_dispense_medicine(
  p_hospital_id uuid, p_dispensing_id uuid, p_prescription_item_id uuid, p_medicine_id uuid, p_quantity integer,
  p_invoice_id uuid, p_instructions text default null
) returns jsonb
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
  v_invoice_item_id uuid;
  v_lines jsonb := '[]'::jsonb;
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

    v_invoice_item_id := null;
    if p_invoice_id is not null then
      v_invoice_item_id := app_hidden.add_invoice_item(
        p_invoice_id, 'medicine',
        format('%s (batch %s)', concat_ws(' ', v_medicine.generic_name, v_medicine.strength), a.batch_number),
        a.quantity, v_medicine.selling_price, v_medicine.tax_configuration_id,
        jsonb_build_object('dispensing_item_id', v_item_id, 'medicine_id', p_medicine_id, 'batch_id', a.batch_id));
    end if;

    v_lines := v_lines || jsonb_build_object(
      'dispensing_item_id', v_item_id, 'prescription_item_id', p_prescription_item_id, 'medicine_id', p_medicine_id,
      'batch_id', a.batch_id, 'batch_number', a.batch_number, 'expiry_date', a.expiry_date, 'quantity', a.quantity,
      'unit_price', v_medicine.selling_price, 'tax_percent', v_rate, 'tax_amount', v_tax,
      'line_total', case when v_inclusive then v_gross else v_gross + v_tax end,
      'invoice_item_id', v_invoice_item_id);
  end loop;
  return v_lines;
end;
$$;
comment on function app_hidden.pharmacy_dispense_medicine(uuid, uuid, uuid, uuid, integer, uuid, text) is
  'Writes the FEFO dispensing lines of one medicine (price and tax from the medicine), their dispense stock movements and, given an invoice, their invoice lines; returns the lines as JSON.';

/* Recomputes a dispensing's totals from its lines: total = price × quantity, tax, net = Σ line totals. */
create or replace function app_hidden.pharmacy_total_dispensing(p_dispensing_id uuid) returns void
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  update app_public.pharmacy_dispensing d
     set total_amount = t.gross, tax_amount = t.tax, net_amount = t.net
    from (select coalesce(sum(round(i.quantity * i.unit_price, 2)), 0) as gross,
                 coalesce(sum(i.tax_amount), 0) as tax,
                 coalesce(sum(i.line_total), 0) as net
            from app_public.pharmacy_dispensing_items i where i.dispensing_id = p_dispensing_id) t
   where d.id = p_dispensing_id;
$$;

-- ---------------------------------------------------------------------------------------------
-- dispense_prescription
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.dispense_prescription(uuid, jsonb);
create function app_public.dispense_prescription(prescription_id uuid, items jsonb default null) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid;
  v_prescription app_public.prescriptions;
  v_today date;
  v_previous_flag text := coalesce(current_setting('hms.workflow', true), '');
  v_requests jsonb := '[]'::jsonb;   -- [{prescription_item_id, medicine_id, quantity, instructions}]
  v_element jsonb;
  v_item_id uuid;
  v_quantity integer;
  v_line app_public.prescription_items;
  v_medicine app_public.medicines;
  v_dispensing_id uuid;
  v_dispensing_number text;
  v_invoice_id uuid;
  v_lines jsonb := '[]'::jsonb;
  v_outstanding_after integer;
  v_status text;
  v_new_prescription_status text;
  r record;
begin
  v_hospital := app_hidden.current_hospital_id();
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital to dispense.', 401);
  end if;
  if not app_hidden.has_permission('pharmacy.dispense') then
    perform app_hidden.raise_error('HMS_FORBIDDEN', 'Dispensing needs the pharmacy.dispense permission.', 403);
  end if;

  select * into v_prescription
    from app_public.prescriptions p
   where p.id = dispense_prescription.prescription_id and p.hospital_id = v_hospital and not p.is_deleted
     for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such prescription in this hospital.', 404,
      jsonb_build_object('entity', 'prescription', 'id', dispense_prescription.prescription_id));
  end if;

  select (now() at time zone h.time_zone)::date into v_today from app_public.hospitals h where h.id = v_hospital;
  case v_prescription.status
    when 'draft' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_NOT_FINALIZED', 'The prescription is still a draft: the doctor must finalize it before it is dispensed.', 409,
        jsonb_build_object('status', v_prescription.status));
    when 'cancelled' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CANCELLED', 'The prescription was cancelled and cannot be dispensed.', 409,
        jsonb_build_object('status', v_prescription.status));
    when 'expired' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_EXPIRED', 'The prescription has expired and cannot be dispensed.', 409,
        jsonb_build_object('status', v_prescription.status, 'valid_until', v_prescription.valid_until));
    when 'dispensed' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_ALREADY_DISPENSED', 'The prescription has already been dispensed in full.', 409,
        jsonb_build_object('status', v_prescription.status));
    else null;
  end case;
  if v_prescription.valid_until is not null and v_prescription.valid_until < v_today then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EXPIRED',
      format('The prescription was valid until %s and cannot be dispensed any more.', v_prescription.valid_until), 409,
      jsonb_build_object('status', v_prescription.status, 'valid_until', v_prescription.valid_until));
  end if;

  -- What to dispense: the lines asked for, or everything still outstanding.
  if dispense_prescription.items is null then
    for v_line in
      select * from app_public.prescription_items i
       where i.prescription_id = v_prescription.id and i.hospital_id = v_hospital
         and i.medicine_id is not null and i.quantity_dispensed < i.quantity_prescribed
       order by i.line_number
         for update
    loop
      v_requests := v_requests || jsonb_build_object('prescription_item_id', v_line.id, 'medicine_id', v_line.medicine_id,
        'quantity', v_line.quantity_prescribed - v_line.quantity_dispensed, 'instructions', v_line.instructions);
    end loop;
    if jsonb_array_length(v_requests) = 0 then
      perform app_hidden.raise_error('HMS_NOTHING_TO_DISPENSE',
        'Nothing is left to dispense on this prescription: its formulary lines are fully dispensed (lines for medicines the hospital does not stock are dispensed elsewhere).', 422);
    end if;
  else
    if jsonb_typeof(dispense_prescription.items) <> 'array' or jsonb_array_length(dispense_prescription.items) = 0 then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {prescription_item_id, quantity}.', 422);
    end if;
    for v_element in select e from jsonb_array_elements(dispense_prescription.items) e loop
      if jsonb_typeof(v_element) <> 'object' then
        perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {prescription_item_id, quantity}.', 422);
      end if;
      v_item_id := app_hidden.pharmacy_json_uuid(v_element -> 'prescription_item_id');
      if v_item_id is null then
        perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a prescription_item_id (a uuid).', 422,
          jsonb_build_object('item', v_element));
      end if;
      v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
      if v_quantity is null then
        perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.', 422,
          jsonb_build_object('item', v_element));
      end if;
      if v_requests @> jsonb_build_array(jsonb_build_object('prescription_item_id', v_item_id)) then
        perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same prescription line is listed twice.', 422,
          jsonb_build_object('prescription_item_id', v_item_id));
      end if;
      select * into v_line from app_public.prescription_items i
       where i.id = v_item_id and i.prescription_id = v_prescription.id and i.hospital_id = v_hospital
         for update;
      if not found then
        perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this prescription.', 404,
          jsonb_build_object('entity', 'prescription_item', 'id', v_item_id));
      end if;
      if v_line.medicine_id is null then
        perform app_hidden.raise_error('HMS_MEDICINE_NOT_STOCKED',
          format('Line %s (%s) names no medicine of the formulary: it cannot be dispensed from stock.', v_line.line_number, v_line.drug_name), 422,
          jsonb_build_object('prescription_item_id', v_item_id));
      end if;
      if v_quantity > v_line.quantity_prescribed - v_line.quantity_dispensed then
        perform app_hidden.raise_error('HMS_QUANTITY_EXCEEDS_PRESCRIBED',
          format('Line %s (%s): %s requested but only %s of %s prescribed are still to dispense.', v_line.line_number,
                 v_line.drug_name, v_quantity, v_line.quantity_prescribed - v_line.quantity_dispensed, v_line.quantity_prescribed), 422,
          jsonb_build_object('prescription_item_id', v_item_id, 'requested', v_quantity,
                             'outstanding', v_line.quantity_prescribed - v_line.quantity_dispensed));
      end if;
      v_requests := v_requests || jsonb_build_object('prescription_item_id', v_item_id, 'medicine_id', v_line.medicine_id,
        'quantity', v_quantity, 'instructions', v_line.instructions);
    end loop;
  end if;

  -- Every medicine must still be dispensable.
  for r in select distinct (e ->> 'medicine_id')::uuid as medicine_id from jsonb_array_elements(v_requests) e loop
    select * into v_medicine from app_public.medicines m where m.id = r.medicine_id and m.hospital_id = v_hospital;
    if not v_medicine.is_active or v_medicine.is_deleted then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE',
        format('%s is no longer active in the formulary and cannot be dispensed.', v_medicine.generic_name), 422,
        jsonb_build_object('medicine_id', r.medicine_id));
    end if;
  end loop;

  -- Status after this dispensing: complete when no formulary line stays outstanding.
  select coalesce(sum(greatest(i.quantity_prescribed - i.quantity_dispensed
                               - coalesce((select sum((e ->> 'quantity')::integer) from jsonb_array_elements(v_requests) e
                                            where (e ->> 'prescription_item_id')::uuid = i.id), 0), 0)), 0)
    into v_outstanding_after
    from app_public.prescription_items i
   where i.prescription_id = v_prescription.id and i.medicine_id is not null;
  v_status := case when v_outstanding_after = 0 then 'completed' else 'partially_dispensed' end;
  v_new_prescription_status := case when v_outstanding_after = 0 then 'dispensed' else 'partially_dispensed' end;

  perform set_config('hms.workflow', 'pharmacy', true);

  insert into app_public.pharmacy_dispensing
    (hospital_id, patient_id, prescription_id, dispensing_type, status, dispensed_at, dispensed_by)
  values
    (v_hospital, v_prescription.patient_id, v_prescription.id, 'prescription', v_status, now(), app_hidden.current_user_id())
  returning id, dispensing_number into v_dispensing_id, v_dispensing_number;

  v_invoice_id := app_hidden.ensure_draft_invoice(v_hospital, v_prescription.patient_id, 'pharmacy');

  -- Lines in medicine order, so concurrent dispensings lock batches in one global order (no deadlock).
  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'medicine_id', e ->> 'prescription_item_id' loop
    v_lines := v_lines || app_hidden.pharmacy_dispense_medicine(v_hospital, v_dispensing_id,
      (v_element ->> 'prescription_item_id')::uuid, (v_element ->> 'medicine_id')::uuid, (v_element ->> 'quantity')::integer,
      v_invoice_id, v_element ->> 'instructions');
    update app_public.prescription_items i
       set quantity_dispensed = i.quantity_dispensed + (v_element ->> 'quantity')::integer
     where i.id = (v_element ->> 'prescription_item_id')::uuid;
  end loop;

  perform app_hidden.pharmacy_total_dispensing(v_dispensing_id);
  update app_public.prescriptions p set status = v_new_prescription_status
   where p.id = v_prescription.id and p.status is distinct from v_new_prescription_status;

  perform set_config('hms.workflow', v_previous_flag, true);

  return (select json_build_object(
    'dispensing_id', d.id, 'dispensing_number', d.dispensing_number, 'status', d.status,
    'prescription_id', v_prescription.id, 'prescription_status', v_new_prescription_status,
    'patient_id', d.patient_id, 'invoice_id', v_invoice_id,
    'total_amount', d.total_amount, 'tax_amount', d.tax_amount, 'net_amount', d.net_amount,
    'items', v_lines)
    from app_public.pharmacy_dispensing d where d.id = v_dispensing_id);
end;
$$;
comment on function app_public.dispense_prescription(uuid, jsonb) is
E'Dispenses a finalized (or partially dispensed) prescription, in full or in part (needs pharmacy.dispense).\n'
 'items: optional array of {prescription_item_id, quantity}; without it everything still outstanding on the formulary lines is dispensed. '
 'Batches are taken first-expiry-first-out among active batches that expire after today + near_expiry_block_days (a line may span batches; expired batches are never used); '
 'each line writes a dispense stock movement and goes on the patient''s draft pharmacy invoice in the same transaction. '
 'Returns {dispensing_id, dispensing_number, status, prescription_status, invoice_id, totals, items[]}.\n'
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
returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid;
  v_customer text := nullif(trim(dispense_otc.customer_name), '');
  v_previous_flag text := coalesce(current_setting('hms.workflow', true), '');
  v_requests jsonb := '[]'::jsonb;
  v_element jsonb;
  v_medicine_id uuid;
  v_quantity integer;
  v_medicine app_public.medicines;
  v_dispensing_id uuid;
  v_invoice_id uuid;
  v_lines jsonb := '[]'::jsonb;
begin
  v_hospital := app_hidden.current_hospital_id();
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital to dispense.', 401);
  end if;
  if not app_hidden.has_permission('pharmacy.dispense') then
    perform app_hidden.raise_error('HMS_FORBIDDEN', 'Dispensing needs the pharmacy.dispense permission.', 403);
  end if;

  if dispense_otc.patient_id is not null then
    perform 1 from app_public.patients p
     where p.id = dispense_otc.patient_id and p.hospital_id = v_hospital and not p.is_deleted;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such patient in this hospital.', 404,
        jsonb_build_object('entity', 'patient', 'id', dispense_otc.patient_id));
    end if;
  elsif v_customer is null then
    perform app_hidden.raise_error('HMS_RECIPIENT_REQUIRED', 'Give the patient or the walk-in customer''s name.', 422);
  end if;

  if dispense_otc.items is null or jsonb_typeof(dispense_otc.items) <> 'array' or jsonb_array_length(dispense_otc.items) = 0 then
    perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {medicine_id, quantity}.', 422);
  end if;
  for v_element in select e from jsonb_array_elements(dispense_otc.items) e loop
    if jsonb_typeof(v_element) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {medicine_id, quantity}.', 422);
    end if;
    v_medicine_id := app_hidden.pharmacy_json_uuid(v_element -> 'medicine_id');
    if v_medicine_id is null then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a medicine_id (a uuid).', 422,
        jsonb_build_object('item', v_element));
    end if;
    v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
    if v_quantity is null then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.', 422,
        jsonb_build_object('item', v_element));
    end if;
    if v_requests @> jsonb_build_array(jsonb_build_object('medicine_id', v_medicine_id)) then
      perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same medicine is listed twice.', 422,
        jsonb_build_object('medicine_id', v_medicine_id));
    end if;
    select * into v_medicine from app_public.medicines m
     where m.id = v_medicine_id and m.hospital_id = v_hospital and not m.is_deleted;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such medicine in this hospital.', 404,
        jsonb_build_object('entity', 'medicine', 'id', v_medicine_id));
    end if;
    if not v_medicine.is_active then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE',
        format('%s is no longer active in the formulary and cannot be dispensed.', v_medicine.generic_name), 422,
        jsonb_build_object('medicine_id', v_medicine_id));
    end if;
    if v_medicine.requires_prescription then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_REQUIRED',
        format('%s is %s: it is dispensed only against a prescription.', v_medicine.generic_name,
               replace(v_medicine.schedule_category, '_', ' ')), 422,
        jsonb_build_object('medicine_id', v_medicine_id, 'schedule_category', v_medicine.schedule_category));
    end if;
    v_requests := v_requests || jsonb_build_object('medicine_id', v_medicine_id, 'quantity', v_quantity);
  end loop;

  perform set_config('hms.workflow', 'pharmacy', true);

  insert into app_public.pharmacy_dispensing
    (hospital_id, patient_id, customer_name, dispensing_type, status, dispensed_at, dispensed_by)
  values
    (v_hospital, dispense_otc.patient_id, v_customer, 'otc', 'completed', now(), app_hidden.current_user_id())
  returning id into v_dispensing_id;

  -- Walk-in customers pay at the counter: only a registered patient's sale goes on an invoice.
  if dispense_otc.patient_id is not null then
    v_invoice_id := app_hidden.ensure_draft_invoice(v_hospital, dispense_otc.patient_id, 'pharmacy');
  end if;

  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'medicine_id' loop
    v_lines := v_lines || app_hidden.pharmacy_dispense_medicine(v_hospital, v_dispensing_id, null,
      (v_element ->> 'medicine_id')::uuid, (v_element ->> 'quantity')::integer, v_invoice_id, null);
  end loop;
  perform app_hidden.pharmacy_total_dispensing(v_dispensing_id);

  perform set_config('hms.workflow', v_previous_flag, true);

  return (select json_build_object(
    'dispensing_id', d.id, 'dispensing_number', d.dispensing_number, 'status', d.status,
    'patient_id', d.patient_id, 'customer_name', d.customer_name, 'invoice_id', v_invoice_id,
    'total_amount', d.total_amount, 'tax_amount', d.tax_amount, 'net_amount', d.net_amount,
    'items', v_lines)
    from app_public.pharmacy_dispensing d where d.id = v_dispensing_id);
end;
$$;
comment on function app_public.dispense_otc(uuid, text, jsonb) is
E'Over-the-counter sale of medicines that need no prescription (needs pharmacy.dispense): to a registered patient (patient_id) or a walk-in customer (customer_name). '
 'items: array of {medicine_id, quantity}. Batches first-expiry-first-out as for prescriptions, one dispense stock movement per line. '
 'A patient''s sale goes on their draft pharmacy invoice; a walk-in sale is not invoiced (paid at the counter).\n'
 'Errors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (patient, medicine); HMS_INSUFFICIENT_STOCK 409; '
 'HMS_PRESCRIPTION_REQUIRED, HMS_RECIPIENT_REQUIRED, HMS_INVALID_ITEMS, HMS_INVALID_QUANTITY, HMS_DUPLICATE_ITEM, HMS_MEDICINE_INACTIVE 422.';
grant execute on function app_public.dispense_otc(uuid, text, jsonb) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- return_dispensed_items
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.return_dispensed_items(uuid, jsonb, text, text);
create function app_public.return_dispensed_items(dispensing_id uuid, items jsonb, reason text, reason_notes text default null)
returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid;
  v_user uuid := app_hidden.current_user_id();
  v_dispensing app_public.pharmacy_dispensing;
  v_previous_flag text := coalesce(current_setting('hms.workflow', true), '');
  v_notes text := nullif(trim(return_dispensed_items.reason_notes), '');
  v_requests jsonb := '[]'::jsonb;
  v_element jsonb;
  v_item_id uuid;
  v_quantity integer;
  v_condition text;
  v_item app_public.pharmacy_dispensing_items;
  v_return_id uuid;
  v_return_item_id uuid;
  v_refund numeric(12,2);
  v_total_refund numeric(12,2) := 0;
  v_lines jsonb := '[]'::jsonb;
begin
  v_hospital := app_hidden.current_hospital_id();
  if v_hospital is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in to a hospital to accept returns.', 401);
  end if;
  if not app_hidden.has_permission('pharmacy.return') then
    perform app_hidden.raise_error('HMS_FORBIDDEN', 'Accepting returns needs the pharmacy.return permission.', 403);
  end if;

  select * into v_dispensing from app_public.pharmacy_dispensing d
   where d.id = return_dispensed_items.dispensing_id and d.hospital_id = v_hospital and not d.is_deleted
     for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such dispensing in this hospital.', 404,
      jsonb_build_object('entity', 'dispensing', 'id', return_dispensed_items.dispensing_id));
  end if;
  if v_dispensing.status not in ('completed', 'partially_dispensed') then
    perform app_hidden.raise_error('HMS_DISPENSING_NOT_RETURNABLE',
      format('Only handed-over medicines can be returned; this dispensing is %s.', v_dispensing.status), 409,
      jsonb_build_object('status', v_dispensing.status));
  end if;
  if return_dispensed_items.reason is null or return_dispensed_items.reason not in
     ('adverse_reaction', 'wrong_medicine', 'excess_quantity', 'expired', 'damaged', 'discontinued', 'patient_request', 'other') then
    perform app_hidden.raise_error('HMS_INVALID_RETURN_REASON',
      'reason must be one of adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued, patient_request, other.', 422,
      jsonb_build_object('reason', return_dispensed_items.reason));
  end if;
  if return_dispensed_items.reason = 'other' and v_notes is null then
    perform app_hidden.raise_error('HMS_RETURN_REASON_NOTES_REQUIRED', 'A return for reason "other" needs reason_notes saying why.', 422);
  end if;

  if return_dispensed_items.items is null or jsonb_typeof(return_dispensed_items.items) <> 'array'
     or jsonb_array_length(return_dispensed_items.items) = 0 then
    perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {dispensing_item_id, quantity, condition}.', 422);
  end if;
  for v_element in select e from jsonb_array_elements(return_dispensed_items.items) e loop
    if jsonb_typeof(v_element) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {dispensing_item_id, quantity, condition}.', 422);
    end if;
    v_item_id := app_hidden.pharmacy_json_uuid(v_element -> 'dispensing_item_id');
    if v_item_id is null then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a dispensing_item_id (a uuid).', 422,
        jsonb_build_object('item', v_element));
    end if;
    v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
    if v_quantity is null then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.', 422,
        jsonb_build_object('item', v_element));
    end if;
    v_condition := coalesce(v_element ->> 'condition', 'resalable');
    if v_condition not in ('resalable', 'damaged', 'expired') then
      perform app_hidden.raise_error('HMS_INVALID_CONDITION', 'condition must be resalable, damaged or expired.', 422,
        jsonb_build_object('item', v_element));
    end if;
    if v_requests @> jsonb_build_array(jsonb_build_object('dispensing_item_id', v_item_id)) then
      perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same dispensing line is listed twice.', 422,
        jsonb_build_object('dispensing_item_id', v_item_id));
    end if;
    select * into v_item from app_public.pharmacy_dispensing_items i
     where i.id = v_item_id and i.dispensing_id = v_dispensing.id and i.hospital_id = v_hospital
       for update;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this dispensing.', 404,
        jsonb_build_object('entity', 'dispensing_item', 'id', v_item_id));
    end if;
    if v_quantity > v_item.quantity - v_item.quantity_returned then
      perform app_hidden.raise_error('HMS_RETURN_EXCEEDS_DISPENSED',
        format('%s units returned but only %s of the %s dispensed on this line are not returned yet.', v_quantity,
               v_item.quantity - v_item.quantity_returned, v_item.quantity), 422,
        jsonb_build_object('dispensing_item_id', v_item_id, 'requested', v_quantity, 'dispensed', v_item.quantity,
                           'already_returned', v_item.quantity_returned));
    end if;
    v_requests := v_requests || jsonb_build_object('dispensing_item_id', v_item_id, 'quantity', v_quantity, 'condition', v_condition);
  end loop;

  perform set_config('hms.workflow', 'pharmacy', true);

  insert into app_public.pharmacy_returns
    (hospital_id, dispensing_id, patient_id, returned_at, received_by, reason, reason_notes, status, approved_at, approved_by,
     completed_at, restock)
  values
    (v_hospital, v_dispensing.id, v_dispensing.patient_id, now(), v_user, return_dispensed_items.reason, v_notes, 'completed',
     now(), v_user, now(), v_requests @> '[{"condition": "resalable"}]')
  returning id into v_return_id;

  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'dispensing_item_id' loop
    select * into v_item from app_public.pharmacy_dispensing_items i where i.id = (v_element ->> 'dispensing_item_id')::uuid;
    v_quantity := (v_element ->> 'quantity')::integer;
    v_condition := v_element ->> 'condition';
    -- Refund at the price paid, tax included: the share of the line total for these units.
    v_refund := round(v_item.line_total * v_quantity / v_item.quantity, 2);
    v_total_refund := v_total_refund + v_refund;
    insert into app_public.pharmacy_return_items
      (hospital_id, return_id, dispensing_item_id, medicine_id, batch_id, quantity, unit_price, line_refund, condition, restocked)
    values
      (v_hospital, v_return_id, v_item.id, v_item.medicine_id, v_item.batch_id, v_quantity, v_item.unit_price, v_refund,
       v_condition, v_condition = 'resalable')
    returning id into v_return_item_id;
    if v_condition = 'resalable' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, return_item_id, reason)
      values
        (v_hospital, 'patient_return', 'medicine', v_item.medicine_id, v_item.batch_id, v_quantity, 0, v_return_item_id,
         'Returned by the patient in resalable condition.');
    end if;
    update app_public.pharmacy_dispensing_items i set quantity_returned = i.quantity_returned + v_quantity where i.id = v_item.id;
    v_lines := v_lines || jsonb_build_object('return_item_id', v_return_item_id, 'dispensing_item_id', v_item.id,
      'medicine_id', v_item.medicine_id, 'batch_id', v_item.batch_id, 'quantity', v_quantity, 'condition', v_condition,
      'restocked', v_condition = 'resalable', 'line_refund', v_refund);
  end loop;

  update app_public.pharmacy_returns r set refund_amount = v_total_refund where r.id = v_return_id;

  perform set_config('hms.workflow', v_previous_flag, true);

  return (select json_build_object(
    'return_id', r.id, 'return_number', r.return_number, 'status', r.status, 'dispensing_id', r.dispensing_id,
    'patient_id', r.patient_id, 'refund_amount', r.refund_amount, 'items', v_lines)
    from app_public.pharmacy_returns r where r.id = v_return_id);
end;
$$;
comment on function app_public.return_dispensed_items(uuid, jsonb, text, text) is
E'Books a completed return of dispensed medicines (needs pharmacy.return). items: array of {dispensing_item_id, quantity, condition: resalable|damaged|expired (default resalable)}; '
 'reason: adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued, patient_request or other (then reason_notes is required). '
 'Resalable units go back to their batch (patient_return stock movement); damaged or expired ones are not restocked. '
 'refund_amount = returned units × price paid including tax; it is recorded only (the refund itself is made by billing).\n'
 'Errors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (dispensing, line); HMS_DISPENSING_NOT_RETURNABLE 409; '
 'HMS_RETURN_EXCEEDS_DISPENSED, HMS_INVALID_RETURN_REASON, HMS_RETURN_REASON_NOTES_REQUIRED, HMS_INVALID_ITEMS, HMS_INVALID_QUANTITY, HMS_INVALID_CONDITION, HMS_DUPLICATE_ITEM 422.';
grant execute on function app_public.return_dispensed_items(uuid, jsonb, text, text) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Guards: what clients may not do with direct writes (REST, GraphQL, psql as staff)
-- ---------------------------------------------------------------------------------------------

/*
 * pharmacy_dispensing: a client creates only drafts; the only status change a client makes is
 * draft → cancelled. Completing (stock, invoice) happens only in the dispensing RPCs, and the
 * amounts are kept from the lines.
 */
create or replace function app_hidden.tg_pharmacy_dispensing__guard() returns trigger
language plpgsql
as $$
begin
  if app_hidden.pharmacy_workflow_active() then
    return NEW;
  end if;
  if TG_OP = 'INSERT' then
    if NEW.status <> 'draft' then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        format('A dispensing is created as a draft, not %s: use dispense_prescription or dispense_otc to hand medicines over.', NEW.status), 409,
        jsonb_build_object('from', null, 'to', NEW.status));
    end if;
    if NEW.total_amount <> 0 or NEW.tax_amount <> 0 or NEW.net_amount <> 0 then
      perform app_hidden.raise_error('HMS_COLUMN_PROTECTED', 'Dispensing amounts are totals of its lines and are not written directly.', 403);
    end if;
    return NEW;
  end if;
  if NEW.status is distinct from OLD.status and not (OLD.status = 'draft' and NEW.status = 'cancelled') then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('A dispensing cannot go from %s to %s directly: use dispense_prescription, dispense_otc or return_dispensed_items.', OLD.status, NEW.status), 409,
      jsonb_build_object('from', OLD.status, 'to', NEW.status));
  end if;
  if (NEW.total_amount, NEW.tax_amount, NEW.net_amount) is distinct from (OLD.total_amount, OLD.tax_amount, OLD.net_amount) then
    perform app_hidden.raise_error('HMS_COLUMN_PROTECTED', 'Dispensing amounts are totals of its lines and are not written directly.', 403);
  end if;
  if OLD.status <> 'draft' and (NEW.patient_id, NEW.prescription_id, NEW.dispensing_type, NEW.dispensed_at, NEW.dispensed_by, NEW.discount_amount)
       is distinct from (OLD.patient_id, OLD.prescription_id, OLD.dispensing_type, OLD.dispensed_at, OLD.dispensed_by, OLD.discount_amount) then
    perform app_hidden.raise_error('HMS_DISPENSING_LOCKED', format('A %s dispensing cannot be changed: record a return instead.', OLD.status), 409,
      jsonb_build_object('status', OLD.status));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_pharmacy_dispensing__guard() is
  'Clients create dispensings only as drafts and may only cancel a draft; completion, amounts and handed-over dispensings change only through the pharmacy RPCs.';
grant execute on function app_hidden.tg_pharmacy_dispensing__guard() to :DATABASE_STAFF;

drop trigger if exists _300_workflow_guard on app_public.pharmacy_dispensing;
create trigger _300_workflow_guard before insert or update on app_public.pharmacy_dispensing
  for each row execute function app_hidden.tg_pharmacy_dispensing__guard();

/* pharmacy_dispensing_items: lines of a handed-over dispensing never change for clients. */
create or replace function app_hidden.tg_pharmacy_dispensing_items__guard() returns trigger
language plpgsql
as $$
declare
  v_status text;
begin
  if app_hidden.pharmacy_workflow_active() then
    return case when TG_OP = 'DELETE' then OLD else NEW end;
  end if;
  if TG_OP = 'UPDATE' and NEW.quantity_returned is distinct from OLD.quantity_returned then
    perform app_hidden.raise_error('HMS_COLUMN_PROTECTED', 'quantity_returned is raised only by return_dispensed_items.', 403);
  end if;
  if TG_OP = 'INSERT' and NEW.quantity_returned <> 0 then
    perform app_hidden.raise_error('HMS_COLUMN_PROTECTED', 'quantity_returned is raised only by return_dispensed_items.', 403);
  end if;
  select d.status into v_status from app_public.pharmacy_dispensing d
   where d.id = case when TG_OP = 'DELETE' then OLD.dispensing_id else NEW.dispensing_id end;
  -- No parent found: leave the refusal to row-level security and the foreign key.
  if (v_status is not null and v_status <> 'draft')
     or (TG_OP = 'UPDATE' and OLD.dispensing_id is distinct from NEW.dispensing_id
         and exists (select 1 from app_public.pharmacy_dispensing d where d.id = OLD.dispensing_id and d.status <> 'draft')) then
    perform app_hidden.raise_error('HMS_DISPENSING_LOCKED',
      format('Lines of a %s dispensing cannot be changed: record a return instead.', coalesce(nullif(v_status, 'draft'), 'handed-over')), 409,
      jsonb_build_object('status', v_status));
  end if;
  return case when TG_OP = 'DELETE' then OLD else NEW end;
end;
$$;
comment on function app_hidden.tg_pharmacy_dispensing_items__guard() is
  'Clients change dispensing lines only on a draft dispensing and never quantity_returned; the pharmacy RPCs write the rest.';
grant execute on function app_hidden.tg_pharmacy_dispensing_items__guard() to :DATABASE_STAFF;

drop trigger if exists _300_workflow_guard on app_public.pharmacy_dispensing_items;
create trigger _300_workflow_guard before insert or update or delete on app_public.pharmacy_dispensing_items
  for each row execute function app_hidden.tg_pharmacy_dispensing_items__guard();

/*
 * pharmacy_returns: a client records a return as requested and may approve or reject it;
 * completing (stock back on the shelf, refund amount) happens only in return_dispensed_items.
 */
create or replace function app_hidden.tg_pharmacy_returns__guard() returns trigger
language plpgsql
as $$
begin
  if app_hidden.pharmacy_workflow_active() then
    return NEW;
  end if;
  if TG_OP = 'INSERT' then
    if NEW.status <> 'requested' then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        format('A return is recorded as requested, not %s: use return_dispensed_items to complete one.', NEW.status), 409,
        jsonb_build_object('from', null, 'to', NEW.status));
    end if;
    if NEW.refund_amount <> 0 then
      perform app_hidden.raise_error('HMS_COLUMN_PROTECTED', 'refund_amount is computed by return_dispensed_items.', 403);
    end if;
    return NEW;
  end if;
  if NEW.status is distinct from OLD.status
     and not ((OLD.status, NEW.status) in (('requested', 'approved'), ('requested', 'rejected'), ('approved', 'rejected'))) then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('A return cannot go from %s to %s directly.', OLD.status, NEW.status), 409,
      jsonb_build_object('from', OLD.status, 'to', NEW.status));
  end if;
  if NEW.refund_amount is distinct from OLD.refund_amount then
    perform app_hidden.raise_error('HMS_COLUMN_PROTECTED', 'refund_amount is computed by return_dispensed_items.', 403);
  end if;
  if OLD.status in ('completed', 'rejected') and (NEW.dispensing_id, NEW.patient_id, NEW.reason, NEW.restock, NEW.completed_at)
       is distinct from (OLD.dispensing_id, OLD.patient_id, OLD.reason, OLD.restock, OLD.completed_at) then
    perform app_hidden.raise_error('HMS_RETURN_LOCKED', format('A %s return cannot be changed.', OLD.status), 409,
      jsonb_build_object('status', OLD.status));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_pharmacy_returns__guard() is
  'Clients record returns as requested and may approve or reject them; completion and the refund amount come only from return_dispensed_items.';
grant execute on function app_hidden.tg_pharmacy_returns__guard() to :DATABASE_STAFF;

drop trigger if exists _300_workflow_guard on app_public.pharmacy_returns;
create trigger _300_workflow_guard before insert or update on app_public.pharmacy_returns
  for each row execute function app_hidden.tg_pharmacy_returns__guard();

/* pharmacy_return_items: lines of a completed or rejected return never change for clients; restocking is the RPC's. */
create or replace function app_hidden.tg_pharmacy_return_items__guard() returns trigger
language plpgsql
as $$
declare
  v_status text;
begin
  if app_hidden.pharmacy_workflow_active() then
    return case when TG_OP = 'DELETE' then OLD else NEW end;
  end if;
  if TG_OP <> 'DELETE' and NEW.restocked then
    perform app_hidden.raise_error('HMS_COLUMN_PROTECTED', 'restocked is set only by return_dispensed_items, which puts the units back on the shelf.', 403);
  end if;
  select r.status into v_status from app_public.pharmacy_returns r
   where r.id = case when TG_OP = 'DELETE' then OLD.return_id else NEW.return_id end;
  -- No parent found: leave the refusal to row-level security and the foreign key.
  if v_status is not null and v_status not in ('requested', 'approved') then
    perform app_hidden.raise_error('HMS_RETURN_LOCKED', format('Lines of a %s return cannot be changed.', v_status), 409,
      jsonb_build_object('status', v_status));
  end if;
  return case when TG_OP = 'DELETE' then OLD else NEW end;
end;
$$;
comment on function app_hidden.tg_pharmacy_return_items__guard() is
  'Clients change return lines only while the return is requested or approved, and never mark them restocked.';
grant execute on function app_hidden.tg_pharmacy_return_items__guard() to :DATABASE_STAFF;

drop trigger if exists _300_workflow_guard on app_public.pharmacy_return_items;
create trigger _300_workflow_guard before insert or update or delete on app_public.pharmacy_return_items
  for each row execute function app_hidden.tg_pharmacy_return_items__guard();

/* prescription_items.quantity_dispensed is raised only by dispense_prescription. */
create or replace function app_hidden.tg_prescription_items__protect_dispensed() returns trigger
language plpgsql
as $$
begin
  if app_hidden.pharmacy_workflow_active() then
    return NEW;
  end if;
  if (TG_OP = 'INSERT' and NEW.quantity_dispensed <> 0)
     or (TG_OP = 'UPDATE' and NEW.quantity_dispensed is distinct from OLD.quantity_dispensed) then
    perform app_hidden.raise_error('HMS_COLUMN_PROTECTED', 'quantity_dispensed is raised only by dispense_prescription.', 403);
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_prescription_items__protect_dispensed() is
  'quantity_dispensed of a prescription line changes only through dispense_prescription.';
grant execute on function app_hidden.tg_prescription_items__protect_dispensed() to :DATABASE_STAFF;

drop trigger if exists _310_protect_quantity_dispensed on app_public.prescription_items;
create trigger _310_protect_quantity_dispensed before insert or update on app_public.prescription_items
  for each row execute function app_hidden.tg_prescription_items__protect_dispensed();

-- Belt and braces: these columns are also outside the staff column grants (table_access).
revoke update (quantity_dispensed) on app_public.prescription_items from :DATABASE_STAFF;
revoke update (quantity_returned, tax_amount, line_total) on app_public.pharmacy_dispensing_items from :DATABASE_STAFF;
revoke update (total_amount, tax_amount, net_amount) on app_public.pharmacy_dispensing from :DATABASE_STAFF;

--! split: 2400-optical-workflow.sql
/*
 * Optical workflow — eye prescriptions, spectacle orders and repairs as database rules.
 *
 * Prescriptions: create_optical_prescription validates each value the way a lab would (range,
 *   0.25 D steps, axis with cylinder, base with prism, PD ranges) with a specific 422 HMS_RX_*
 *   code, and translates any remaining CHECK violation (23514) into HMS_RX_VALUE_INVALID. A new
 *   prescription supersedes the patient's older active ones.
 * Orders: draft → confirmed → sent_to_lab → in_production → ready → delivered;
 *   confirmed → ready (ready-made goods, no lab job); draft | confirmed | sent_to_lab → cancelled.
 *   Lines change only while the order is a draft; line totals and order totals are derived by
 *   triggers. Delivery (deliver_optical_order) takes each product line out of stock through the
 *   ledger ('optical_sale' movements) and bills every line on the patient's optical draft invoice
 *   through the billing contract.
 * Repairs: received → in_repair → ready → returned; received | in_repair → cancelled.
 * BEFORE UPDATE triggers enforce the transitions and stamp the workflow timestamps however a row
 * is written; 'delivered' is reachable only through deliver_optical_order (hms.workflow = optical).
 */

create or replace function app_hidden.optical_assert_transition(p_entity text, p_from text, p_to text, p_allowed jsonb)
returns void
language plpgsql
immutable
as $$
begin
  if p_from is distinct from p_to and not coalesce((p_allowed -> p_from) ? p_to, false) then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('An optical %s cannot go from %s to %s.', p_entity, p_from, p_to), 409,
      jsonb_build_object('entity', p_entity, 'from', p_from, 'to', p_to,
                         'allowed', coalesce(p_allowed -> p_from, '[]'::jsonb)));
  end if;
end;
$$;
comment on function app_hidden.optical_assert_transition(text, text, text, jsonb) is
  'Raises HMS_ILLEGAL_TRANSITION (409) unless p_to is p_from or listed under p_from in p_allowed.';
grant execute on function app_hidden.optical_assert_transition(text, text, text, jsonb) to :DATABASE_STAFF;

create or replace function app_hidden.optical_order_transitions() returns jsonb
language sql
immutable
as $$
  select '{"draft": ["confirmed", "cancelled"], "confirmed": ["sent_to_lab", "ready", "cancelled"],
           "sent_to_lab": ["in_production", "cancelled"], "in_production": ["ready"], "ready": ["delivered"]}'::jsonb;
$$;
grant execute on function app_hidden.optical_order_transitions() to :DATABASE_STAFF;

create or replace function app_hidden.optical_repair_transitions() returns jsonb
language sql
immutable
as $$
  select '{"received": ["in_repair", "cancelled"], "in_repair": ["ready", "cancelled"], "ready": ["returned"]}'::jsonb;
$$;
grant execute on function app_hidden.optical_repair_transitions() to :DATABASE_STAFF;

create or replace function app_hidden.optical_trusted_writer() returns boolean
language sql
stable
as $$
  select app_hidden.current_user_id() is null
      or coalesce(current_setting('hms.workflow', true), '') = 'optical';
$$;
comment on function app_hidden.optical_trusted_writer() is
  'True inside an optical workflow RPC (hms.workflow = optical) or when no member of staff is acting.';
grant execute on function app_hidden.optical_trusted_writer() to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Orders: status trigger
-- ---------------------------------------------------------------------------------------------
create or replace function app_hidden.tg_optical_orders__workflow() returns trigger
language plpgsql
as $$
begin
  if TG_OP = 'INSERT' then
    if not app_hidden.optical_trusted_writer() and NEW.status <> 'draft' then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('A new optical order starts as a draft, not %s.', NEW.status), 409,
        jsonb_build_object('entity', 'order', 'from', null, 'to', NEW.status));
    end if;
    return NEW;
  end if;
  perform app_hidden.optical_assert_transition('order', OLD.status, NEW.status, app_hidden.optical_order_transitions());
  if not app_hidden.optical_trusted_writer() then
    if NEW.status = 'delivered' and OLD.status <> 'delivered' then
      perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED',
        'An order is delivered with deliver_optical_order (it takes the stock and bills the patient).', 403,
        jsonb_build_object('column', 'status'));
    end if;
    if (NEW.confirmed_at, NEW.sent_to_lab_at, NEW.ready_at, NEW.delivered_at, NEW.delivered_by, NEW.cancelled_at, NEW.cancelled_by, NEW.patient_id)
       is distinct from (OLD.confirmed_at, OLD.sent_to_lab_at, OLD.ready_at, OLD.delivered_at, OLD.delivered_by, OLD.cancelled_at, OLD.cancelled_by, OLD.patient_id)
       then
      perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED',
        'The patient and the workflow stamps of an optical order are set by its transitions.', 403);
    end if;
  end if;
  if NEW.status is distinct from OLD.status then
    case NEW.status
      when 'confirmed' then NEW.confirmed_at := coalesce(NEW.confirmed_at, now());
      when 'sent_to_lab' then NEW.sent_to_lab_at := coalesce(NEW.sent_to_lab_at, now());
      when 'ready' then NEW.ready_at := coalesce(NEW.ready_at, now());
      when 'delivered' then
        NEW.delivered_at := coalesce(NEW.delivered_at, now());
        NEW.delivered_by := coalesce(NEW.delivered_by, app_hidden.current_user_id());
      when 'cancelled' then
        NEW.cancelled_at := coalesce(NEW.cancelled_at, now());
        NEW.cancelled_by := coalesce(NEW.cancelled_by, app_hidden.current_user_id());
      else null;
    end case;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_optical_orders__workflow() is
  'BEFORE INSERT/UPDATE on optical_orders: legal status transitions (HMS_ILLEGAL_TRANSITION), stamps of each transition, delivery only through deliver_optical_order.';

drop trigger if exists _200_workflow on app_public.optical_orders;
create trigger _200_workflow before insert or update on app_public.optical_orders
  for each row execute function app_hidden.tg_optical_orders__workflow();

-- ---------------------------------------------------------------------------------------------
-- Order lines: draft only, derived line and order totals
-- ---------------------------------------------------------------------------------------------
create or replace function app_hidden.tg_optical_order_items__compute() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_status text;
begin
  if app_hidden.current_user_id() is null then   -- trusted writer (migration, demo data, job)
    if TG_OP = 'DELETE' then return OLD; end if;
    return NEW;   -- keeps the line total it was given
  end if;
  if TG_OP in ('UPDATE', 'DELETE') then
    select o.status into v_status from app_public.optical_orders o where o.id = OLD.optical_order_id and o.hospital_id = OLD.hospital_id;
    if v_status is distinct from 'draft' and v_status is not null then
      perform app_hidden.raise_error('HMS_ORDER_NOT_DRAFT', format('The order is %s: its lines can no longer change.', v_status), 409,
        jsonb_build_object('optical_order_id', OLD.optical_order_id, 'status', v_status));
    end if;
  end if;
  if TG_OP = 'DELETE' then
    return OLD;
  end if;
  select o.status into v_status from app_public.optical_orders o where o.id = NEW.optical_order_id and o.hospital_id = NEW.hospital_id;
  if v_status is distinct from 'draft' and v_status is not null then
    perform app_hidden.raise_error('HMS_ORDER_NOT_DRAFT', format('The order is %s: its lines can no longer change.', v_status), 409,
      jsonb_build_object('optical_order_id', NEW.optical_order_id, 'status', v_status));
  end if;
  NEW.line_total := round(NEW.quantity * NEW.unit_price * (1 - NEW.discount_percent / 100) * (1 + NEW.tax_percent / 100), 2);
  return NEW;
end;
$$;
comment on function app_hidden.tg_optical_order_items__compute() is
  'BEFORE INSERT/UPDATE/DELETE on optical_order_items: lines change only on a draft order (HMS_ORDER_NOT_DRAFT); line_total = quantity × price × (1 − discount%) × (1 + tax%).';

drop trigger if exists _200_compute on app_public.optical_order_items;
create trigger _200_compute before insert or update or delete on app_public.optical_order_items
  for each row execute function app_hidden.tg_optical_order_items__compute();

create or replace function app_hidden.refresh_optical_order_totals(p_order_id uuid) returns void
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  update app_public.optical_orders o
     set subtotal = l.gross, discount_amount = l.discount, tax_amount = l.tax,
         total_amount = l.gross - l.discount + l.tax
    from (select coalesce(sum(round(i.quantity * i.unit_price, 2)), 0) as gross,
                 coalesce(sum(round(i.quantity * i.unit_price * i.discount_percent / 100, 2)), 0) as discount,
                 coalesce(sum(i.line_total - round(i.quantity * i.unit_price, 2) + round(i.quantity * i.unit_price * i.discount_percent / 100, 2)), 0) as tax
            from app_public.optical_order_items i where i.optical_order_id = p_order_id) l
   where o.id = p_order_id;
$$;
comment on function app_hidden.refresh_optical_order_totals(uuid) is
  'Order totals from its lines: subtotal = Σ quantity × price, discount, tax = Σ line_total − net, total = subtotal − discount + tax.';

create or replace function app_hidden.tg_optical_order_items__refresh_order() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if TG_OP in ('INSERT', 'UPDATE') then
    perform app_hidden.refresh_optical_order_totals(NEW.optical_order_id);
  end if;
  if TG_OP = 'DELETE' or (TG_OP = 'UPDATE' and OLD.optical_order_id is distinct from NEW.optical_order_id) then
    perform app_hidden.refresh_optical_order_totals(OLD.optical_order_id);
  end if;
  return null;
end;
$$;
drop trigger if exists _800_refresh_order on app_public.optical_order_items;
create trigger _800_refresh_order after insert or update or delete on app_public.optical_order_items
  for each row execute function app_hidden.tg_optical_order_items__refresh_order();

-- ---------------------------------------------------------------------------------------------
-- Repairs: status trigger
-- ---------------------------------------------------------------------------------------------
create or replace function app_hidden.tg_optical_repairs__workflow() returns trigger
language plpgsql
as $$
begin
  if TG_OP = 'INSERT' then
    if not app_hidden.optical_trusted_writer() and NEW.status <> 'received' then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('A new repair starts as received, not %s.', NEW.status), 409,
        jsonb_build_object('entity', 'repair', 'from', null, 'to', NEW.status));
    end if;
    return NEW;
  end if;
  perform app_hidden.optical_assert_transition('repair', OLD.status, NEW.status, app_hidden.optical_repair_transitions());
  if not app_hidden.optical_trusted_writer()
     and (NEW.ready_at, NEW.returned_at) is distinct from (OLD.ready_at, OLD.returned_at) then
    perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED', 'ready_at and returned_at are set by the repair''s transitions.', 403);
  end if;
  if NEW.status is distinct from OLD.status then
    if NEW.status = 'ready' then NEW.ready_at := coalesce(NEW.ready_at, now()); end if;
    if NEW.status = 'returned' then NEW.returned_at := coalesce(NEW.returned_at, now()); end if;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_optical_repairs__workflow() is
  'BEFORE INSERT/UPDATE on optical_repairs: legal status transitions (HMS_ILLEGAL_TRANSITION) and the ready/returned stamps.';

drop trigger if exists _200_workflow on app_public.optical_repairs;
create trigger _200_workflow before insert or update on app_public.optical_repairs
  for each row execute function app_hidden.tg_optical_repairs__workflow();

-- ---------------------------------------------------------------------------------------------
-- Shared guard of the RPCs
-- ---------------------------------------------------------------------------------------------
create or replace function app_hidden.optical_begin(p_permission text) returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
begin
  if v_hospital is null or app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in as a member of staff with an active hospital.', 401);
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the permission %s.', p_permission), 403,
      jsonb_build_object('permission', p_permission));
  end if;
  perform set_config('hms.workflow', 'optical', true);
  return v_hospital;
end;
$$;
comment on function app_hidden.optical_begin(text) is
  'Start of every optical RPC: 401 HMS_SESSION_INVALID without an active hospital, 403 HMS_FORBIDDEN without the permission; returns the hospital and raises the workflow flag.';

create or replace function app_hidden.optical_not_found(p_entity text, p_id uuid) returns void
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_NOT_FOUND', format('No %s with this id in your hospital.', replace(p_entity, '_', ' ')), 404,
    jsonb_build_object('entity', p_entity, 'id', p_id));
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- Prescriptions
-- ---------------------------------------------------------------------------------------------
create or replace function app_hidden.optical_rx_error(p_code text, p_field text, p_message text, p_value jsonb) returns void
language plpgsql
as $$
begin
  perform app_hidden.raise_error(p_code, p_message, 422, jsonb_build_object('field', p_field, 'value', p_value));
end;
$$;

drop function if exists app_public.create_optical_prescription(uuid, jsonb, uuid, text, uuid);
create or replace function app_public.create_optical_prescription(
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
  v_hospital uuid := app_hidden.optical_begin('optical.prescribe');
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
  v_constraint text;
  v_detail text;
begin
  if not exists (select 1 from app_public.patients p
                  where p.id = create_optical_prescription.patient_id and p.hospital_id = v_hospital and not p.is_deleted) then
    perform app_hidden.optical_not_found('patient', create_optical_prescription.patient_id);
  end if;
  if v_doctor is not null and not exists (select 1 from app_public.doctors d where d.id = v_doctor and d.hospital_id = v_hospital) then
    perform app_hidden.optical_not_found('doctor', v_doctor);
  end if;
  if create_optical_prescription.appointment_id is not null and not exists (
       select 1 from app_public.appointments a where a.id = create_optical_prescription.appointment_id
          and a.hospital_id = v_hospital and a.patient_id = create_optical_prescription.patient_id) then
    perform app_hidden.optical_not_found('appointment', create_optical_prescription.appointment_id);
  end if;
  if v_doctor is null and nullif(trim(create_optical_prescription.external_prescriber), '') is null then
    select d.id into v_doctor from app_public.doctors d
     where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id();
    if v_doctor is null then
      perform app_hidden.raise_error('HMS_RX_PRESCRIBER_REQUIRED',
        'Name the prescriber: a doctor of this hospital (doctor_id) or an external prescriber.', 422);
    end if;
  end if;
  if jsonb_typeof(v_values) <> 'object' then
    perform app_hidden.raise_error('HMS_RX_VALUE_INVALID', 'values must be a JSON object of prescription fields.', 422);
  end if;
  for v_key in select jsonb_object_keys(v_values) loop
    if v_key <> all (v_allowed) then
      perform app_hidden.raise_error('HMS_RX_UNKNOWN_FIELD', format('%s is not a field of an eye prescription.', v_key), 422,
        jsonb_build_object('field', v_key, 'allowed', to_jsonb(v_allowed)));
    end if;
  end loop;

  begin
    v_rx := jsonb_populate_record(null::app_public.optical_prescriptions, v_values);
  exception when data_exception then
    perform app_hidden.raise_error('HMS_RX_VALUE_INVALID', 'A prescription value has the wrong type or is far out of range: ' || sqlerrm, 422,
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
    perform app_hidden.raise_error('HMS_RX_POWER_REQUIRED', 'Give the sphere of at least one eye (od_sphere or os_sphere).', 422);
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
  v_rx.examination_date := coalesce(v_rx.examination_date, current_date);
  v_rx.prescribed_at := now();
  v_rx.recommended_coatings := coalesce(v_rx.recommended_coatings, '{}');
  v_rx.status := 'active';
  v_rx.is_deleted := false;
  v_rx.deleted_at := null;
  v_rx.created_at := now();
  v_rx.updated_at := now();
  v_rx.created_by := null;
  v_rx.updated_by := null;

  update app_public.optical_prescriptions p set status = 'superseded'
   where p.hospital_id = v_hospital and p.patient_id = v_rx.patient_id and p.status = 'active' and not p.is_deleted;

  begin
    insert into app_public.optical_prescriptions select v_rx.* returning * into v_rx;
  exception when check_violation then
    get stacked diagnostics v_constraint = constraint_name, v_detail = message_text;
    perform app_hidden.raise_error('HMS_RX_VALUE_INVALID',
      format('The prescription breaks the rule %s.', coalesce(replace(replace(v_constraint, 'optical_prescriptions_', ''), '_check', ''), v_detail)), 422,
      jsonb_build_object('constraint', v_constraint));
  end;
  perform set_config('hms.workflow', '', true);
  return v_rx;
end;
$$;
comment on function app_public.create_optical_prescription(uuid, jsonb, uuid, text, uuid) is
  E'Writes an eye (refraction) prescription for a patient. values: {od_sphere, od_cylinder, od_axis, od_add, od_prism, od_prism_base, os_…, pd_right_mm, pd_left_mm, pd_binocular_mm, pd_near_mm, iop, keratometry, recommended_lens_type, recommended_coatings, valid_until, …}. Prescriber: doctor_id, external_prescriber, or the calling doctor. Older active prescriptions of the patient become superseded. Needs optical.prescribe. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (patient, doctor, appointment), 422 HMS_RX_SPHERE_INVALID (±30 D, 0.25 steps), HMS_RX_CYLINDER_INVALID (±10 D, 0.25 steps), HMS_RX_AXIS_INVALID (0–180), HMS_RX_AXIS_REQUIRED (cylinder without axis), HMS_RX_ADD_INVALID (+0.25…+4.00), HMS_RX_PRISM_INVALID (0–20 with a base), HMS_RX_PD_INVALID, HMS_RX_POWER_REQUIRED, HMS_RX_PRESCRIBER_REQUIRED, HMS_RX_UNKNOWN_FIELD, HMS_RX_VALUE_INVALID (any other rule).';
grant execute on function app_public.create_optical_prescription(uuid, jsonb, uuid, text, uuid) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Orders
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.create_optical_order(uuid, uuid, jsonb, text);
create or replace function app_public.create_optical_order(
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
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_order app_public.optical_orders;
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
  if not exists (select 1 from app_public.patients p
                  where p.id = create_optical_order.patient_id and p.hospital_id = v_hospital and not p.is_deleted) then
    perform app_hidden.optical_not_found('patient', create_optical_order.patient_id);
  end if;
  if create_optical_order.optical_prescription_id is not null and not exists (
       select 1 from app_public.optical_prescriptions r where r.id = create_optical_order.optical_prescription_id
          and r.hospital_id = v_hospital and r.patient_id = create_optical_order.patient_id and not r.is_deleted) then
    perform app_hidden.optical_not_found('optical_prescription', create_optical_order.optical_prescription_id);
  end if;
  if create_optical_order.items is null or jsonb_typeof(create_optical_order.items) <> 'array'
     or jsonb_array_length(create_optical_order.items) = 0 then
    perform app_hidden.raise_error('HMS_ORDER_ITEMS_REQUIRED', 'An optical order needs at least one line (items: a JSON array).', 422);
  end if;

  insert into app_public.optical_orders (hospital_id, patient_id, optical_prescription_id, notes)
  values (v_hospital, create_optical_order.patient_id, create_optical_order.optical_prescription_id, create_optical_order.notes)
  returning * into v_order;

  for v_item in select value from jsonb_array_elements(create_optical_order.items) loop
    v_n := v_n + 1;
    if jsonb_typeof(v_item) <> 'object' then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s is not an object.', v_n), 422, jsonb_build_object('line', v_n));
    end if;
    begin
      v_product_id := (v_item ->> 'optical_product_id')::uuid;
      v_qty := coalesce((v_item ->> 'quantity')::numeric, 1);
      v_price := (v_item ->> 'unit_price')::numeric;
      v_discount := coalesce((v_item ->> 'discount_percent')::numeric, 0);
    exception when data_exception then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: a value has the wrong type (%s).', v_n, sqlerrm), 422,
        jsonb_build_object('line', v_n));
    end;
    v_type := v_item ->> 'item_type';
    v_product := null;
    if v_product_id is not null then
      select * into v_product from app_public.optical_products p
       where p.id = v_product_id and p.hospital_id = v_hospital and not p.is_deleted;
      if not found then
        perform app_hidden.optical_not_found('optical_product', v_product_id);
      end if;
      if not v_product.is_active then
        perform app_hidden.raise_error('HMS_PRODUCT_INACTIVE', format('%s is no longer sold.', v_product.name), 422,
          jsonb_build_object('line', v_n, 'optical_product_id', v_product_id));
      end if;
      v_type := coalesce(v_type, case v_product.product_type when 'frame' then 'frame' when 'sunglasses' then 'frame'
                                   when 'spectacle_lens' then 'lens_pair' when 'contact_lens' then 'contact_lens' else 'accessory' end);
    end if;
    if v_type is null or v_type not in ('frame', 'lens_right', 'lens_left', 'lens_pair', 'contact_lens', 'accessory', 'service') then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID',
        format('Line %s: item_type must be frame, lens_right, lens_left, lens_pair, contact_lens, accessory or service.', v_n), 422,
        jsonb_build_object('line', v_n, 'item_type', v_type));
    end if;
    v_eye := coalesce(v_item ->> 'eye', case v_type when 'lens_right' then 'right' when 'lens_left' then 'left'
                                                    when 'lens_pair' then 'both' else 'none' end);
    if v_eye not in ('right', 'left', 'both', 'none')
       or (v_type = 'lens_right' and v_eye <> 'right') or (v_type = 'lens_left' and v_eye <> 'left')
       or (v_type = 'lens_pair' and v_eye <> 'both') then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: eye %s does not fit item type %s.', v_n, v_eye, v_type), 422,
        jsonb_build_object('line', v_n, 'eye', v_eye));
    end if;
    if v_qty <= 0 or v_qty <> trunc(v_qty) or v_qty > 1000 then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: the quantity must be a whole number from 1 to 1000.', v_n), 422,
        jsonb_build_object('line', v_n, 'quantity', v_qty));
    end if;
    v_price := coalesce(v_price, v_product.selling_price);
    if v_price is null or v_price < 0 or v_price >= 1e8 then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: give a unit price of 0 or more (no product to take it from).', v_n), 422,
        jsonb_build_object('line', v_n, 'unit_price', v_price));
    end if;
    if v_discount not between 0 and 100 then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: discount_percent must be between 0 and 100.', v_n), 422,
        jsonb_build_object('line', v_n));
    end if;
    v_description := coalesce(nullif(trim(v_item ->> 'description'), ''), v_product.name);
    if v_description is null or length(v_description) > 500 then
      perform app_hidden.raise_error('HMS_ORDER_ITEM_INVALID', format('Line %s: a description of 1 to 500 characters is needed.', v_n), 422,
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
  perform set_config('hms.workflow', '', true);
  return v_order;
end;
$$;
comment on function app_public.create_optical_order(uuid, uuid, jsonb, text) is
  E'Opens a draft optical order with its lines. items: [{optical_product_id?, item_type, description?, eye?, quantity?, unit_price?, discount_percent?}] — a product line takes its name, price and tax from the catalogue. Totals are derived. Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (patient, prescription, product), 422 HMS_ORDER_ITEMS_REQUIRED, HMS_ORDER_ITEM_INVALID, HMS_PRODUCT_INACTIVE.';
grant execute on function app_public.create_optical_order(uuid, uuid, jsonb, text) to :DATABASE_STAFF;

/* Loads an order of the active hospital for update, or 404. */
create or replace function app_hidden.optical_lock_order(p_hospital uuid, p_order_id uuid) returns app_public.optical_orders
language plpgsql
as $$
declare
  v_row app_public.optical_orders;
begin
  select * into v_row from app_public.optical_orders o
   where o.id = p_order_id and o.hospital_id = p_hospital and not o.is_deleted
     for update;
  if not found then
    perform app_hidden.optical_not_found('optical_order', p_order_id);
  end if;
  return v_row;
end;
$$;

/* Moves an order to a status (legal transitions only) and returns it. */
create or replace function app_hidden.optical_move_order(p_order app_public.optical_orders, p_to text) returns app_public.optical_orders
language plpgsql
as $$
declare
  v_row app_public.optical_orders;
begin
  if p_order.status = p_to then
    perform app_hidden.optical_assert_transition('order', p_order.status, p_to || ' again', '{}'::jsonb);
  end if;
  perform app_hidden.optical_assert_transition('order', p_order.status, p_to, app_hidden.optical_order_transitions());
  update app_public.optical_orders o set status = p_to where o.id = p_order.id returning * into v_row;
  return v_row;
end;
$$;

drop function if exists app_public.confirm_optical_order(uuid);
create or replace function app_public.confirm_optical_order(order_id uuid) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_row app_public.optical_orders := app_hidden.optical_lock_order(v_hospital, confirm_optical_order.order_id);
begin
  if not exists (select 1 from app_public.optical_order_items i where i.optical_order_id = v_row.id) then
    perform app_hidden.raise_error('HMS_ORDER_ITEMS_REQUIRED', 'An order without lines cannot be confirmed.', 422);
  end if;
  v_row := app_hidden.optical_move_order(v_row, 'confirmed');
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.confirm_optical_order(uuid) is
  'Confirms a draft optical order (lines freeze; no stock is reserved). Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 422 HMS_ORDER_ITEMS_REQUIRED, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.confirm_optical_order(uuid) to :DATABASE_STAFF;

drop function if exists app_public.send_to_lab(uuid, text, text, timestamptz);
create or replace function app_public.send_to_lab(
  order_id uuid, lab_name text, lab_reference text default null, expected_ready_at timestamptz default null
) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_row app_public.optical_orders := app_hidden.optical_lock_order(v_hospital, send_to_lab.order_id);
begin
  if nullif(trim(send_to_lab.lab_name), '') is null then
    perform app_hidden.raise_error('HMS_LAB_NAME_REQUIRED', 'Name the lab (or in-house workshop) the job goes to.', 422);
  end if;
  if send_to_lab.expected_ready_at is not null and send_to_lab.expected_ready_at < v_row.ordered_at then
    perform app_hidden.raise_error('HMS_EXPECTED_READY_INVALID', 'The expected ready time cannot be before the order.', 422);
  end if;
  perform app_hidden.optical_assert_transition('order', v_row.status, 'sent_to_lab', '{"confirmed": ["sent_to_lab"]}'::jsonb);
  update app_public.optical_orders o
     set lab_name = trim(send_to_lab.lab_name), lab_reference = send_to_lab.lab_reference,
         expected_ready_at = coalesce(send_to_lab.expected_ready_at, o.expected_ready_at)
   where o.id = v_row.id returning * into v_row;
  v_row := app_hidden.optical_move_order(v_row, 'sent_to_lab');
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.send_to_lab(uuid, text, text, timestamptz) is
  'Sends a confirmed optical order to a lab (lab name and reference, expected ready time). Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 422 HMS_LAB_NAME_REQUIRED, HMS_EXPECTED_READY_INVALID, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.send_to_lab(uuid, text, text, timestamptz) to :DATABASE_STAFF;

drop function if exists app_public.mark_order_in_production(uuid);
create or replace function app_public.mark_order_in_production(order_id uuid) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_row app_public.optical_orders := app_hidden.optical_lock_order(v_hospital, mark_order_in_production.order_id);
begin
  v_row := app_hidden.optical_move_order(v_row, 'in_production');
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.mark_order_in_production(uuid) is
  'The lab has started the job of an order sent to it. Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.mark_order_in_production(uuid) to :DATABASE_STAFF;

drop function if exists app_public.mark_order_ready(uuid);
create or replace function app_public.mark_order_ready(order_id uuid) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_row app_public.optical_orders := app_hidden.optical_lock_order(v_hospital, mark_order_ready.order_id);
begin
  v_row := app_hidden.optical_move_order(v_row, 'ready');
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.mark_order_ready(uuid) is
  'The glasses are ready for pick-up (from in_production, or from confirmed for ready-made goods). Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.mark_order_ready(uuid) to :DATABASE_STAFF;

drop function if exists app_public.cancel_optical_order(uuid, text);
create or replace function app_public.cancel_optical_order(order_id uuid, reason text) returns app_public.optical_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_row app_public.optical_orders := app_hidden.optical_lock_order(v_hospital, cancel_optical_order.order_id);
begin
  if nullif(trim(cancel_optical_order.reason), '') is null then
    perform app_hidden.raise_error('HMS_CANCELLATION_REASON_REQUIRED', 'Say why the order is cancelled.', 422);
  end if;
  perform app_hidden.optical_assert_transition('order', v_row.status, 'cancelled', app_hidden.optical_order_transitions());
  update app_public.optical_orders o set cancellation_reason = trim(cancel_optical_order.reason) where o.id = v_row.id returning * into v_row;
  v_row := app_hidden.optical_move_order(v_row, 'cancelled');
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.cancel_optical_order(uuid, text) is
  'Cancels a draft, confirmed or sent-to-lab optical order with a reason. Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 422 HMS_CANCELLATION_REASON_REQUIRED, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.cancel_optical_order(uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.deliver_optical_order(uuid);
create or replace function app_public.deliver_optical_order(order_id uuid) returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_row app_public.optical_orders := app_hidden.optical_lock_order(v_hospital, deliver_optical_order.order_id);
  v_item record;
  v_invoice uuid;
begin
  perform app_hidden.optical_assert_transition('order', v_row.status, 'delivered', '{"ready": ["delivered"]}'::jsonb);
  if v_row.status = 'delivered' then
    perform app_hidden.optical_assert_transition('order', 'delivered', 'delivered again', '{}'::jsonb);
  end if;
  v_invoice := app_hidden.ensure_draft_invoice(v_hospital, v_row.patient_id, 'optical');
  for v_item in
    select i.*, p.tax_configuration_id
      from app_public.optical_order_items i
      left join app_public.optical_products p on p.id = i.optical_product_id and p.hospital_id = i.hospital_id
     where i.optical_order_id = v_row.id and i.hospital_id = v_hospital
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
  v_row := app_hidden.optical_move_order(v_row, 'delivered');
  perform set_config('hms.workflow', '', true);
  return jsonb_build_object('order', to_jsonb(v_row), 'invoice_id', v_invoice);
end;
$$;
comment on function app_public.deliver_optical_order(uuid) is
  E'Hands a ready optical order to the patient: takes every product line out of stock through the ledger (optical_sale movements) and bills every line on the patient''s optical draft invoice. Returns {order, invoice_id}. Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not ready), 409 HMS_INSUFFICIENT_STOCK (from the ledger; nothing is written).';
grant execute on function app_public.deliver_optical_order(uuid) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Repairs
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.receive_repair(text, text, text, uuid, text, text, uuid, numeric, timestamptz, boolean, text);
create or replace function app_public.receive_repair(
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
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_order app_public.optical_orders;
  v_warranty boolean := receive_repair.is_under_warranty;
  v_row app_public.optical_repairs;
begin
  if receive_repair.patient_id is not null and not exists (
       select 1 from app_public.patients p where p.id = receive_repair.patient_id and p.hospital_id = v_hospital and not p.is_deleted) then
    perform app_hidden.optical_not_found('patient', receive_repair.patient_id);
  end if;
  if receive_repair.optical_order_id is not null then
    select * into v_order from app_public.optical_orders o
     where o.id = receive_repair.optical_order_id and o.hospital_id = v_hospital and not o.is_deleted;
    if not found then
      perform app_hidden.optical_not_found('optical_order', receive_repair.optical_order_id);
    end if;
  end if;
  if receive_repair.patient_id is null and nullif(trim(receive_repair.customer_name), '') is null then
    perform app_hidden.raise_error('HMS_REPAIR_CUSTOMER_REQUIRED', 'Name the customer: a patient or a walk-in customer name.', 422);
  end if;
  if receive_repair.repair_type is null or receive_repair.repair_type not in
     ('frame_adjustment', 'hinge', 'nose_pad', 'screw', 'lens_replacement', 'frame_replacement', 'soldering', 'cleaning', 'other') then
    perform app_hidden.raise_error('HMS_REPAIR_TYPE_INVALID',
      'repair_type must be frame_adjustment, hinge, nose_pad, screw, lens_replacement, frame_replacement, soldering, cleaning or other.', 422,
      jsonb_build_object('repair_type', receive_repair.repair_type));
  end if;
  if length(trim(coalesce(receive_repair.item_description, ''))) not between 2 and 500
     or length(trim(coalesce(receive_repair.problem_description, ''))) = 0 then
    perform app_hidden.raise_error('HMS_REPAIR_DESCRIPTION_REQUIRED', 'Describe the item (2 to 500 characters) and the problem.', 422);
  end if;
  if receive_repair.customer_phone is not null and receive_repair.customer_phone !~ '^\+?[0-9 ()./-]{6,24}$' then
    perform app_hidden.raise_error('HMS_PHONE_INVALID', 'The phone number is not valid.', 422);
  end if;
  if receive_repair.estimated_cost < 0 or receive_repair.estimated_cost >= 1e8 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The estimated cost must be 0 or more.', 422);
  end if;
  if receive_repair.promised_at is not null and receive_repair.promised_at < now() then
    perform app_hidden.raise_error('HMS_PROMISED_AT_INVALID', 'The promised time cannot be in the past.', 422);
  end if;
  if v_warranty is null then
    v_warranty := v_order.status = 'delivered' and exists (
      select 1 from app_public.optical_order_items i join app_public.optical_products p on p.id = i.optical_product_id
       where i.optical_order_id = v_order.id and p.warranty_months > 0
         and v_order.delivered_at + make_interval(months => p.warranty_months) >= now());
  end if;
  insert into app_public.optical_repairs
    (hospital_id, patient_id, customer_name, customer_phone, optical_order_id, item_description, repair_type,
     problem_description, estimated_cost, promised_at, is_under_warranty, notes)
  values
    (v_hospital, receive_repair.patient_id, nullif(trim(receive_repair.customer_name), ''), receive_repair.customer_phone,
     v_order.id, trim(receive_repair.item_description), receive_repair.repair_type, trim(receive_repair.problem_description),
     receive_repair.estimated_cost, receive_repair.promised_at, coalesce(v_warranty, false), receive_repair.notes)
  returning * into v_row;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.receive_repair(text, text, text, uuid, text, text, uuid, numeric, timestamptz, boolean, text) is
  E'Takes in a spectacle repair (status received, numbered) for a patient or a walk-in customer; the warranty follows the order''s products when not given. Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (patient, order), 422 HMS_REPAIR_CUSTOMER_REQUIRED, HMS_REPAIR_TYPE_INVALID, HMS_REPAIR_DESCRIPTION_REQUIRED, HMS_PHONE_INVALID, HMS_AMOUNT_INVALID, HMS_PROMISED_AT_INVALID.';
grant execute on function app_public.receive_repair(text, text, text, uuid, text, text, uuid, numeric, timestamptz, boolean, text) to :DATABASE_STAFF;

drop function if exists app_public.update_repair_status(uuid, text, text, numeric);
create or replace function app_public.update_repair_status(
  repair_id uuid, status text, work_done text default null, final_cost numeric default null
) returns app_public.optical_repairs
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.optical_begin('optical.manage');
  v_row app_public.optical_repairs;
begin
  select * into v_row from app_public.optical_repairs r
   where r.id = update_repair_status.repair_id and r.hospital_id = v_hospital and not r.is_deleted
     for update;
  if not found then
    perform app_hidden.optical_not_found('optical_repair', update_repair_status.repair_id);
  end if;
  if update_repair_status.status is null
     or update_repair_status.status not in ('received', 'in_repair', 'ready', 'returned', 'cancelled') then
    perform app_hidden.raise_error('HMS_REPAIR_STATUS_INVALID', 'status must be in_repair, ready, returned or cancelled.', 422,
      jsonb_build_object('status', update_repair_status.status));
  end if;
  if update_repair_status.final_cost < 0 or update_repair_status.final_cost >= 1e8 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The final cost must be 0 or more.', 422);
  end if;
  if v_row.status = update_repair_status.status then
    perform app_hidden.optical_assert_transition('repair', v_row.status, v_row.status || ' again', '{}'::jsonb);
  end if;
  perform app_hidden.optical_assert_transition('repair', v_row.status, update_repair_status.status, app_hidden.optical_repair_transitions());
  update app_public.optical_repairs r
     set status = update_repair_status.status,
         work_done = coalesce(update_repair_status.work_done, r.work_done),
         final_cost = coalesce(update_repair_status.final_cost, r.final_cost),
         technician_user_id = case when update_repair_status.status = 'in_repair'
                                   then coalesce(r.technician_user_id, app_hidden.current_user_id()) else r.technician_user_id end
   where r.id = v_row.id
  returning * into v_row;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.update_repair_status(uuid, text, text, numeric) is
  'Moves a repair on: received → in_repair → ready → returned, or received|in_repair → cancelled; records the work done and final cost. Needs optical.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 422 HMS_REPAIR_STATUS_INVALID, HMS_AMOUNT_INVALID, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.update_repair_status(uuid, text, text, numeric) to :DATABASE_STAFF;

--! split: 3000-billing-workflow.sql
/*
 * Billing workflow (issue 4): the rules that turn the billing tables into a cash desk.
 *
 *   - Invoice lines compute their own discount, tax and line total (BEFORE trigger) and may only
 *     be added, changed or removed while their invoice is a draft (HMS_INVOICE_NOT_DRAFT).
 *   - Invoice totals and balances are derived by triggers from the lines, payments, refunds and
 *     credit notes; once issued, the status follows the money.
 *       subtotal        = Σ line amounts before discount and tax (line_total − tax + line discount)
 *       discount_amount = Σ line discounts + the invoice-level discount entered on the draft (a line
 *                         change moves it by that line's discount; what staff enter on top stays)
 *       tax_amount      = Σ line tax
 *       total_amount    = max(subtotal − discount_amount + tax_amount, 0)
 *       amount_paid     = Σ completed payments, amount_refunded = Σ processed refunds,
 *       amount_credited = Σ issued/applied credit notes
 *       balance_due     = max(total − paid + refunded − credited, 0); 0 for void and refunded
 *                         invoices (nothing is asked any more). A credit note on a paid invoice
 *                         leaves balance 0: the money owed back is returned by a refund.
 *   - Invoice status machine: draft → issued → partially_paid → paid; draft|issued → void;
 *     partially_paid|paid → refunded when every paid cent was refunded; never back to draft.
 *     Between issued, partially_paid and paid the status is derived from the money (a refund
 *     without credit note re-opens the balance: paid → partially_paid).
 *   - Payments (record_payment) lock the invoice row, so parallel payments never overpay.
 *   - Refunds: requested → approved|rejected, approved → processed; above the hospital's
 *     refund_approval_threshold the approver must not be the requester.
 *   - Credit notes reduce what an issued invoice asks for.
 *   - Daily settlements: settle_day computes a hospital-local day's collections and locks it;
 *     payments and processed refunds dated in a settled day are refused (HMS_DAY_SETTLED).
 *
 * A "trusted writer" (the owner without a request: migrations, the demo data) may write invoices
 * and lines in any state, like the numbering triggers let it supply numbers; every request of a
 * member of staff (REST, GraphQL, RPC) obeys the rules.
 *
 * BILLING CONTRACT for other workflows (called from their security definer RPCs):
 *   app_hidden.ensure_draft_invoice(hospital, patient, invoice_type, appointment default null) → invoice id
 *   app_hidden.add_invoice_item(invoice, item_type, description, quantity, unit_price,
 *                               tax_configuration_id default null, links jsonb default '{}') → line id
 */

/* ------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------ */

/* The hospital-local calendar day of an instant. */
create or replace function app_hidden.billing_local_date(p_hospital_id uuid, p_at timestamptz) returns date
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select (p_at at time zone coalesce((select h.time_zone from app_public.hospitals h where h.id = p_hospital_id), 'UTC'))::date;
$$;
comment on function app_hidden.billing_local_date(uuid, timestamptz) is
  'The calendar day of an instant in the hospital''s time zone (the day a payment or refund counts in).';

/* The item_type of an invoice line → the applies_to category of tax_configurations. */
create or replace function app_hidden.tax_category_of_item_type(p_item_type text) returns text
language sql
immutable
as $$
  select case p_item_type
           when 'consultation' then 'consultation'
           when 'medicine' then 'medicine'
           when 'lab_test' then 'lab'
           when 'optical' then 'optical'
           when 'procedure' then 'procedure'
           when 'room' then 'room'
           else 'all' end;
$$;
comment on function app_hidden.tax_category_of_item_type(text) is
  'Maps an invoice line item_type to the tax_configurations.applies_to category whose default rule taxes it.';

/* Is the calling transaction inside a billing RPC? */
create or replace function app_hidden.in_billing_workflow() returns boolean
language sql
stable
as $$
  select coalesce(current_setting('hms.workflow', true), '') = 'billing';
$$;
comment on function app_hidden.in_billing_workflow() is 'True while a billing RPC or trigger writes derived billing columns.';

/* ------------------------------------------------------------------------------------------
 * Invoice totals
 * ------------------------------------------------------------------------------------------ */

drop function if exists app_hidden.refresh_invoice_totals(uuid);
create or replace function app_hidden.refresh_invoice_totals(p_invoice_id uuid, p_line_discount_delta numeric default 0) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_previous text := current_setting('hms.workflow', true);
begin
  perform set_config('hms.workflow', 'billing', true);
  update app_public.invoices i
     set subtotal = coalesce(l.gross, 0),
         discount_amount = greatest(i.discount_amount + coalesce(p_line_discount_delta, 0), 0),
         tax_amount = coalesce(l.tax, 0),
         amount_paid = coalesce((select sum(p.amount) from app_public.payments p
                                  where p.invoice_id = i.id and p.hospital_id = i.hospital_id
                                    and p.status = 'completed' and not p.is_deleted), 0),
         amount_refunded = coalesce((select sum(r.amount) from app_public.refunds r
                                      where r.invoice_id = i.id and r.hospital_id = i.hospital_id
                                        and r.status = 'processed' and not r.is_deleted), 0),
         amount_credited = coalesce((select sum(c.amount) from app_public.credit_notes c
                                      where c.invoice_id = i.id and c.hospital_id = i.hospital_id
                                        and c.status in ('issued', 'applied') and not c.is_deleted), 0)
    from (select sum(it.line_total - it.tax_amount + it.discount_amount) as gross, sum(it.tax_amount) as tax
            from app_public.invoice_items it where it.invoice_id = p_invoice_id) l
   where i.id = p_invoice_id;
  perform set_config('hms.workflow', coalesce(v_previous, ''), true);
end;
$$;
comment on function app_hidden.refresh_invoice_totals(uuid, numeric) is
  'Recomputes an invoice''s subtotal, tax and money columns from its lines, payments, refunds and credit notes, and moves discount_amount by the change of line discounts (the invoices trigger derives total, balance and status).';

create or replace function app_hidden.tg__refresh_invoice_totals() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_lines boolean := TG_TABLE_NAME = 'invoice_items';
  v_same boolean := case when TG_OP = 'UPDATE' then OLD.invoice_id is not distinct from NEW.invoice_id else false end;
  v_new numeric := 0;   -- discount of the line as it is now (invoice_items only)
  v_old numeric := 0;   -- and as it was
begin
  if v_lines and TG_OP in ('INSERT', 'UPDATE') then v_new := (to_jsonb(NEW) ->> 'discount_amount')::numeric; end if;
  if v_lines and TG_OP in ('UPDATE', 'DELETE') then v_old := (to_jsonb(OLD) ->> 'discount_amount')::numeric; end if;
  -- invoice_items: the invoice's discount moves by the change of the line discounts.
  if v_same then
    perform app_hidden.refresh_invoice_totals(NEW.invoice_id, v_new - v_old);
  else
    if TG_OP in ('INSERT', 'UPDATE') then
      perform app_hidden.refresh_invoice_totals(NEW.invoice_id, v_new);
    end if;
    if TG_OP in ('UPDATE', 'DELETE') then
      perform app_hidden.refresh_invoice_totals(OLD.invoice_id, -v_old);
    end if;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg__refresh_invoice_totals() is
  'AFTER INSERT/UPDATE/DELETE on invoice_items, payments, refunds and credit_notes: refreshes the invoice''s totals.';

do $$
declare
  v text;
begin
  foreach v in array array['invoice_items', 'payments', 'refunds', 'credit_notes'] loop
    execute format('drop trigger if exists _800_refresh_invoice on app_public.%I', v);
    execute format('create trigger _800_refresh_invoice after insert or update or delete on app_public.%I for each row execute function app_hidden.tg__refresh_invoice_totals()', v);
  end loop;
end;
$$;

/* ------------------------------------------------------------------------------------------
 * Invoices: header rules, status machine, derived money columns
 * ------------------------------------------------------------------------------------------ */

create or replace function app_hidden.tg_invoices__workflow() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_staff boolean := v_user is not null;
  v_raw numeric;
  v_derived text;
  v_due_days integer;
begin
  if TG_OP = 'INSERT' then
    NEW.currency_code := coalesce(NEW.currency_code, (select h.currency_code from app_public.hospitals h where h.id = NEW.hospital_id));
    if v_staff and NEW.status <> 'draft' then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        format('A new invoice starts as a draft, not %s.', NEW.status), 409,
        jsonb_build_object('from', null, 'to', NEW.status));
    end if;
  else
    -- Header fields that decide what is owed are frozen once the invoice left draft.
    if v_staff and OLD.status <> 'draft' and not app_hidden.in_billing_workflow()
       and (NEW.patient_id is distinct from OLD.patient_id or NEW.invoice_type is distinct from OLD.invoice_type
            or NEW.currency_code is distinct from OLD.currency_code or NEW.discount_amount is distinct from OLD.discount_amount
            or NEW.appointment_id is distinct from OLD.appointment_id or NEW.invoice_date is distinct from OLD.invoice_date) then
      perform app_hidden.raise_error('HMS_INVOICE_NOT_DRAFT',
        format('Invoice %s is %s: its patient, type, date and discount can no longer change (issue a credit note instead).', OLD.invoice_number, OLD.status),
        409, jsonb_build_object('invoice_id', OLD.id, 'status', OLD.status));
    end if;
    -- Workflow stamps are set by the transitions, never edited.
    if v_staff and NEW.status = OLD.status
       and (NEW.issued_at is distinct from OLD.issued_at or NEW.issued_by is distinct from OLD.issued_by
            or NEW.voided_at is distinct from OLD.voided_at or NEW.voided_by is distinct from OLD.voided_by
            or NEW.void_reason is distinct from OLD.void_reason) then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        'issued_at/by and voided_at/by/void_reason are set by issuing or voiding the invoice.', 409,
        jsonb_build_object('from', OLD.status, 'to', NEW.status));
    end if;

    if NEW.status is distinct from OLD.status then
      if not ((OLD.status = 'draft' and NEW.status in ('issued', 'void'))
              or (OLD.status = 'issued' and NEW.status = 'void')
              -- owner-only (trusted writer): money statuses move with the money anyway
              or (not v_staff and OLD.status in ('issued', 'partially_paid', 'paid') and NEW.status in ('issued', 'partially_paid', 'paid', 'refunded'))) then
        perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
          format('An invoice cannot go from %s to %s%s.', OLD.status, NEW.status,
                 case when NEW.status in ('partially_paid', 'paid', 'refunded') then ' by hand: that status follows payments and refunds' else '' end),
          409, jsonb_build_object('from', OLD.status, 'to', NEW.status));
      end if;
      if NEW.status = 'issued' and OLD.status = 'draft' then
        if not exists (select 1 from app_public.invoice_items it where it.invoice_id = NEW.id and it.hospital_id = NEW.hospital_id) then
          perform app_hidden.raise_error('HMS_INVOICE_EMPTY', 'An invoice needs at least one line before it is issued.', 422,
            jsonb_build_object('invoice_id', NEW.id));
        end if;
        NEW.issued_at := coalesce(NEW.issued_at, now());
        NEW.issued_by := coalesce(NEW.issued_by, v_user);
        if NEW.due_date is null then
          select s.invoice_due_days into v_due_days from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
          NEW.due_date := NEW.invoice_date + coalesce(v_due_days, 0);
        end if;
      elsif NEW.status = 'void' then
        if v_staff and not app_hidden.has_permission('billing.void') then
          perform app_hidden.raise_error('HMS_FORBIDDEN', 'Voiding an invoice needs the billing.void permission.', 403,
            jsonb_build_object('permission', 'billing.void'));
        end if;
        if nullif(trim(coalesce(NEW.void_reason, '')), '') is null then
          perform app_hidden.raise_error('HMS_VOID_REASON_REQUIRED', 'Say why the invoice is voided (void_reason).', 422);
        end if;
        if OLD.amount_paid > 0 then
          perform app_hidden.raise_error('HMS_INVOICE_HAS_PAYMENTS',
            format('Invoice %s has %s paid against it: refund the payments or issue a credit note instead of voiding.', OLD.invoice_number, OLD.amount_paid),
            409, jsonb_build_object('invoice_id', OLD.id, 'amount_paid', OLD.amount_paid));
        end if;
        NEW.voided_at := coalesce(NEW.voided_at, now());
        NEW.voided_by := coalesce(NEW.voided_by, v_user);
      end if;
    end if;
  end if;

  -- Derived money columns.
  NEW.total_amount := greatest(NEW.subtotal - NEW.discount_amount + NEW.tax_amount, 0);
  v_raw := NEW.total_amount - NEW.amount_paid + NEW.amount_refunded - NEW.amount_credited;
  if NEW.status in ('issued', 'partially_paid', 'paid') then
    v_derived := case
      when NEW.amount_paid > 0 and NEW.amount_refunded >= NEW.amount_paid then 'refunded'
      when v_raw <= 0 then 'paid'
      when NEW.amount_paid - NEW.amount_refunded > 0 then 'partially_paid'
      else 'issued' end;
    NEW.status := v_derived;
  end if;
  NEW.balance_due := case when NEW.status in ('void', 'refunded') then 0 else greatest(v_raw, 0) end;
  if NEW.insurance_amount = 0 then
    NEW.patient_amount := NEW.total_amount;
  end if;
  if NEW.status = 'paid' and (TG_OP = 'INSERT' or OLD.status <> 'paid') then
    NEW.paid_at := coalesce(NEW.paid_at, now());
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_invoices__workflow() is
  'BEFORE INSERT/UPDATE on invoices: the status machine (draft → issued → partially_paid → paid, draft|issued → void, → refunded), issue/void stamps, frozen header after issue, and the derived total, balance and money-driven status.';

drop trigger if exists _200_workflow on app_public.invoices;
create trigger _200_workflow before insert or update on app_public.invoices
  for each row execute function app_hidden.tg_invoices__workflow();

/* ------------------------------------------------------------------------------------------
 * Invoice lines: draft only, computed amounts
 * ------------------------------------------------------------------------------------------ */

create or replace function app_hidden.tg_invoice_items__draft_only() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_invoice record;
begin
  if app_hidden.current_user_id() is null then
    return case when TG_OP = 'DELETE' then OLD else NEW end;   -- trusted writer
  end if;
  if TG_OP = 'UPDATE' and NEW is not distinct from OLD then
    return NEW;   -- a no-op update changes nothing that is owed
  end if;
  for v_invoice in
    select i.id, i.invoice_number, i.status from app_public.invoices i
     where i.id in (case when TG_OP = 'DELETE' then OLD.invoice_id else NEW.invoice_id end,
                    case when TG_OP = 'UPDATE' then OLD.invoice_id end)
  loop
    if v_invoice.status <> 'draft' then
      perform app_hidden.raise_error('HMS_INVOICE_NOT_DRAFT',
        format('Invoice %s is %s: its lines can no longer change (issue a credit note instead).', v_invoice.invoice_number, v_invoice.status),
        409, jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
    end if;
  end loop;
  return case when TG_OP = 'DELETE' then OLD else NEW end;
end;
$$;
comment on function app_hidden.tg_invoice_items__draft_only() is
  'BEFORE INSERT/UPDATE/DELETE on invoice_items: lines change only while their invoice is a draft (HMS_INVOICE_NOT_DRAFT).';

drop trigger if exists _050_draft_only on app_public.invoice_items;
create trigger _050_draft_only before insert or update or delete on app_public.invoice_items
  for each row execute function app_hidden.tg_invoice_items__draft_only();

create or replace function app_hidden.tg_invoice_items__compute() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_rate numeric;
  v_gross numeric;
  v_net numeric;
begin
  if NEW.line_number is null then
    NEW.line_number := coalesce((select max(it.line_number) from app_public.invoice_items it
                                  where it.hospital_id = NEW.hospital_id and it.invoice_id = NEW.invoice_id), 0) + 1;
  end if;
  -- Tax rate: explicit (non-zero) rate kept; else the configuration's rate; else the category default.
  if TG_OP = 'INSERT' or NEW.tax_configuration_id is distinct from OLD.tax_configuration_id
     or NEW.item_type is distinct from OLD.item_type then
    if NEW.tax_configuration_id is not null then
      if NEW.tax_percent = 0 or (TG_OP = 'UPDATE' and NEW.tax_percent = OLD.tax_percent) then
        select t.rate_percent into v_rate from app_public.tax_configurations t
         where t.id = NEW.tax_configuration_id and t.hospital_id = NEW.hospital_id;
        NEW.tax_percent := coalesce(v_rate, NEW.tax_percent);
      end if;
    elsif TG_OP = 'INSERT' and NEW.tax_percent = 0 then
      select t.id, t.rate_percent into NEW.tax_configuration_id, v_rate
        from app_public.tax_configurations t
       where t.hospital_id = NEW.hospital_id and t.is_active and t.is_default
         and t.applies_to = app_hidden.tax_category_of_item_type(NEW.item_type)
         and t.effective_from <= current_date and (t.effective_to is null or t.effective_to >= current_date)
       order by t.effective_from desc
       limit 1;
      NEW.tax_percent := coalesce(v_rate, 0);
    end if;
  end if;

  v_gross := round(NEW.quantity * NEW.unit_price, 2);
  NEW.discount_amount := round(v_gross * NEW.discount_percent / 100, 2);
  v_net := v_gross - NEW.discount_amount;
  if NEW.price_includes_tax then
    NEW.tax_amount := round(v_net - v_net / (1 + NEW.tax_percent / 100), 2);
    NEW.line_total := v_net;
  else
    NEW.tax_amount := round(v_net * NEW.tax_percent / 100, 2);
    NEW.line_total := v_net + NEW.tax_amount;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_invoice_items__compute() is
  'BEFORE INSERT/UPDATE on invoice_items: line number, tax rate (given, from tax_configuration_id, or the category''s default rule), discount, tax and line total rounded to cents; price_includes_tax extracts the tax from the price.';

drop trigger if exists _200_compute on app_public.invoice_items;
create trigger _200_compute before insert or update on app_public.invoice_items
  for each row execute function app_hidden.tg_invoice_items__compute();

/* ------------------------------------------------------------------------------------------
 * BILLING CONTRACT
 * ------------------------------------------------------------------------------------------ */

create or replace function app_hidden.ensure_draft_invoice(
  p_hospital_id uuid,
  p_patient_id uuid,
  p_invoice_type text,
  p_appointment_id uuid default null
) returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  if p_invoice_type is null or p_invoice_type not in ('outpatient', 'pharmacy', 'optical', 'lab', 'inpatient', 'other') then
    perform app_hidden.raise_error('HMS_INVOICE_TYPE_INVALID',
      format('Unknown invoice type %s: outpatient, pharmacy, optical, lab, inpatient or other.', coalesce(p_invoice_type, 'null')), 422);
  end if;
  if not exists (select 1 from app_public.patients p where p.id = p_patient_id and p.hospital_id = p_hospital_id and not p.is_deleted) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such patient in this hospital.', 404,
      jsonb_build_object('entity', 'patient', 'id', p_patient_id));
  end if;
  if p_appointment_id is not null
     and not exists (select 1 from app_public.appointments a where a.id = p_appointment_id and a.hospital_id = p_hospital_id
                        and a.patient_id = p_patient_id) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment of this patient in this hospital.', 404,
      jsonb_build_object('entity', 'appointment', 'id', p_appointment_id));
  end if;
  -- One open draft per patient, type (and appointment): serialise concurrent callers.
  perform pg_advisory_xact_lock(hashtextextended('hms.draft_invoice:' || p_hospital_id || ':' || p_patient_id || ':' || p_invoice_type, 0));
  select i.id into v_id from app_public.invoices i
   where i.hospital_id = p_hospital_id and i.patient_id = p_patient_id and i.invoice_type = p_invoice_type
     and i.status = 'draft' and not i.is_deleted
     and (p_appointment_id is null or i.appointment_id = p_appointment_id)
   order by (i.appointment_id is not distinct from p_appointment_id) desc, i.created_at
   limit 1;
  if v_id is null then
    insert into app_public.invoices (hospital_id, patient_id, appointment_id, invoice_type, status, currency_code,
                                     bill_to_name, billing_address_line1, billing_address_line2, billing_city,
                                     billing_state_province, billing_postal_code, billing_country_code)
    select p_hospital_id, p.id, p_appointment_id, p_invoice_type, 'draft', h.currency_code,
           p.full_name, p.address_line1, p.address_line2, p.city, p.state_province, p.postal_code, p.country_code
      from app_public.patients p join app_public.hospitals h on h.id = p.hospital_id
     where p.id = p_patient_id and p.hospital_id = p_hospital_id
    returning id into v_id;
  end if;
  return v_id;
end;
$$;
comment on function app_hidden.ensure_draft_invoice(uuid, uuid, text, uuid) is
  'BILLING CONTRACT: the patient''s open draft invoice of that type (and appointment when given), created if none. Errors: HMS_INVOICE_TYPE_INVALID (422), HMS_NOT_FOUND (404).';
revoke all on function app_hidden.ensure_draft_invoice(uuid, uuid, text, uuid) from public;

create or replace function app_hidden.add_invoice_item(
  p_invoice_id uuid,
  p_item_type text,
  p_description text,
  p_quantity numeric,
  p_unit_price numeric,
  p_tax_configuration_id uuid default null,
  p_links jsonb default '{}'
) returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_invoice app_public.invoices;
  v_links jsonb := coalesce(p_links, '{}');
  v_tax app_public.tax_configurations;
  v_includes boolean;
  v_discount numeric;
  v_id uuid;
begin
  select * into v_invoice from app_public.invoices i where i.id = p_invoice_id and not i.is_deleted for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such invoice.', 404, jsonb_build_object('entity', 'invoice', 'id', p_invoice_id));
  end if;
  if v_invoice.status <> 'draft' then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_DRAFT',
      format('Invoice %s is %s: lines can only be added to a draft.', v_invoice.invoice_number, v_invoice.status), 409,
      jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if p_item_type is null or p_item_type not in ('consultation', 'procedure', 'medicine', 'lab_test', 'optical', 'room', 'service', 'package', 'other') then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID',
      format('Unknown item type %s.', coalesce(p_item_type, 'null')), 422, jsonb_build_object('field', 'item_type'));
  end if;
  if length(trim(coalesce(p_description, ''))) not between 1 and 500 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'A line needs a description of 1 to 500 characters.', 422,
      jsonb_build_object('field', 'description'));
  end if;
  if p_quantity is null or p_quantity <= 0 or p_quantity >= 1e9 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The quantity must be greater than zero.', 422,
      jsonb_build_object('field', 'quantity'));
  end if;
  if p_unit_price is null or p_unit_price < 0 or p_unit_price >= 1e10 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The unit price must be zero or more.', 422,
      jsonb_build_object('field', 'unit_price'));
  end if;
  if round(p_quantity * p_unit_price, 2) >= 1e10 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The line amount (quantity × unit price) is too large.', 422,
      jsonb_build_object('field', 'quantity'));
  end if;
  begin
    v_discount := coalesce((v_links ->> 'discount_percent')::numeric, 0);
  exception when others then
    v_discount := -1;
  end;
  if v_discount < 0 or v_discount > 100 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'discount_percent must be between 0 and 100.', 422,
      jsonb_build_object('field', 'discount_percent'));
  end if;
  if p_tax_configuration_id is not null then
    select * into v_tax from app_public.tax_configurations t
     where t.id = p_tax_configuration_id and t.hospital_id = v_invoice.hospital_id;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such tax configuration in this hospital.', 404,
        jsonb_build_object('entity', 'tax_configuration', 'id', p_tax_configuration_id));
    end if;
    v_includes := v_tax.is_inclusive;
  else
    v_includes := coalesce((select s.prices_include_tax from app_public.hospital_settings s where s.hospital_id = v_invoice.hospital_id), false);
  end if;

  begin
    insert into app_public.invoice_items
      (hospital_id, invoice_id, item_type, description, service_code, service_date, appointment_id, dispensing_item_id,
       lab_order_id, optical_order_item_id, medicine_id, batch_id, doctor_id, department_id, quantity, unit_price,
       discount_percent, price_includes_tax, tax_configuration_id)
    values
      (v_invoice.hospital_id, v_invoice.id, p_item_type, trim(p_description), v_links ->> 'service_code',
       app_hidden.billing_local_date(v_invoice.hospital_id, now()),
       (v_links ->> 'appointment_id')::uuid, (v_links ->> 'dispensing_item_id')::uuid, (v_links ->> 'lab_order_id')::uuid,
       (v_links ->> 'optical_order_item_id')::uuid, (v_links ->> 'medicine_id')::uuid, (v_links ->> 'batch_id')::uuid,
       (v_links ->> 'doctor_id')::uuid, (v_links ->> 'department_id')::uuid, p_quantity, p_unit_price,
       v_discount, v_includes, p_tax_configuration_id)
    returning id into v_id;
  exception
    when foreign_key_violation then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'A record linked to this line does not exist in this hospital.', 404,
        jsonb_build_object('entity', 'invoice_item_link', 'links', v_links));
    when invalid_text_representation then
      perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'A link id of this line is not a valid id.', 422,
        jsonb_build_object('field', 'links'));
  end;
  return v_id;
end;
$$;
comment on function app_hidden.add_invoice_item(uuid, text, text, numeric, numeric, uuid, jsonb) is
  'BILLING CONTRACT: adds a line to a draft invoice; tax, line total and invoice totals come from the billing triggers. p_links (optional keys): appointment_id, dispensing_item_id, lab_order_id, optical_order_item_id, medicine_id, batch_id, doctor_id, department_id, service_code, discount_percent. Errors: HMS_NOT_FOUND (404), HMS_INVOICE_NOT_DRAFT (409), HMS_INVOICE_ITEM_INVALID (422).';
revoke all on function app_hidden.add_invoice_item(uuid, text, text, numeric, numeric, uuid, jsonb) from public;

/* ------------------------------------------------------------------------------------------
 * Payments, refunds: integrity for every writer of a request, and the settled-day lock
 * ------------------------------------------------------------------------------------------ */

/* Is that hospital-local day settled? */
create or replace function app_hidden.is_day_settled(p_hospital_id uuid, p_day date) returns boolean
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select exists (select 1 from app_public.daily_settlements d
                  where d.hospital_id = p_hospital_id and d.settlement_date = p_day and d.status = 'settled');
$$;
comment on function app_hidden.is_day_settled(uuid, date) is 'True when the daily settlement of that hospital-local day is settled (locked).';

create or replace function app_hidden.tg__settled_day_lock() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_new_at timestamptz;
  v_old_at timestamptz;
  v_day date;
begin
  if TG_TABLE_NAME = 'payments' then
    v_new_at := NEW.payment_date;
    v_old_at := case when TG_OP = 'UPDATE' then OLD.payment_date end;
  else
    v_new_at := NEW.processed_at;
    v_old_at := case when TG_OP = 'UPDATE' then OLD.processed_at end;
  end if;
  foreach v_day in array array[app_hidden.billing_local_date(NEW.hospital_id, v_new_at),
                               app_hidden.billing_local_date(NEW.hospital_id, v_old_at)] loop
    if v_day is not null and app_hidden.is_day_settled(NEW.hospital_id, v_day) then
      perform app_hidden.raise_error('HMS_DAY_SETTLED',
        format('The day %s is settled: no %s may be recorded or changed in it (reopen the day first).', v_day,
               case TG_TABLE_NAME when 'payments' then 'payment' else 'refund' end),
        409, jsonb_build_object('settlement_date', v_day));
    end if;
  end loop;
  return NEW;
end;
$$;
comment on function app_hidden.tg__settled_day_lock() is
  'BEFORE INSERT/UPDATE on payments and refunds: refuses a row dated (payment_date / processed_at, hospital-local) in a settled day (HMS_DAY_SETTLED).';

drop trigger if exists _300_settled_day_lock on app_public.payments;
create trigger _300_settled_day_lock before insert or update on app_public.payments
  for each row execute function app_hidden.tg__settled_day_lock();
drop trigger if exists _300_settled_day_lock on app_public.refunds;
create trigger _300_settled_day_lock before insert or update on app_public.refunds
  for each row execute function app_hidden.tg__settled_day_lock();

/* Payments written by staff (also over REST) keep the invoice's balance exact. */
create or replace function app_hidden.tg_payments__guard() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_invoice app_public.invoices;
begin
  NEW.received_by := coalesce(NEW.received_by, app_hidden.current_user_id());
  if app_hidden.current_user_id() is null or app_hidden.in_billing_workflow() then
    return NEW;   -- trusted writer, or record_payment (which checked under the invoice lock)
  end if;
  if TG_OP = 'UPDATE' and (NEW.amount is distinct from OLD.amount or NEW.invoice_id is distinct from OLD.invoice_id
                           or (NEW.status = 'completed' and OLD.status <> 'completed')) then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      'A payment''s amount and invoice never change, and it is completed only when recorded: cancel it and record a new one.', 409,
      jsonb_build_object('from', OLD.status, 'to', NEW.status));
  end if;
  if TG_OP = 'INSERT' and NEW.status = 'completed' then
    select * into v_invoice from app_public.invoices i where i.id = NEW.invoice_id and i.hospital_id = NEW.hospital_id for update;
    if found and v_invoice.status not in ('issued', 'partially_paid') then
      perform app_hidden.raise_error('HMS_INVOICE_NOT_PAYABLE',
        format('Invoice %s is %s: payments are taken on issued or partially paid invoices.', v_invoice.invoice_number, v_invoice.status),
        409, jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
    end if;
    if found and NEW.amount > v_invoice.balance_due then
      perform app_hidden.raise_error('HMS_OVERPAYMENT',
        format('%s is more than the balance due of %s.', NEW.amount, v_invoice.balance_due), 422,
        jsonb_build_object('invoice_id', v_invoice.id, 'balance_due', v_invoice.balance_due, 'amount', NEW.amount));
    end if;
    if found then
      NEW.patient_id := v_invoice.patient_id;
    end if;
  end if;
  if NEW.status = 'cancelled' then
    NEW.cancelled_at := coalesce(NEW.cancelled_at, now());
    NEW.cancelled_by := coalesce(NEW.cancelled_by, app_hidden.current_user_id());
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_payments__guard() is
  'BEFORE INSERT/UPDATE on payments by staff: only on issued/partially paid invoices, never above the balance (under the invoice lock), amount and invoice frozen.';

drop trigger if exists _200_guard on app_public.payments;
create trigger _200_guard before insert or update on app_public.payments
  for each row execute function app_hidden.tg_payments__guard();

/* Refund status machine: requested → approved|rejected, approved → processed. */
create or replace function app_hidden.tg_refunds__workflow() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_threshold numeric;
  v_invoice app_public.invoices;
begin
  if TG_OP = 'INSERT' then
    NEW.requested_by := coalesce(NEW.requested_by, v_user);
    if v_user is not null and not app_hidden.in_billing_workflow() and NEW.status <> 'requested' then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('A refund starts as requested, not %s.', NEW.status), 409,
        jsonb_build_object('from', null, 'to', NEW.status));
    end if;
    return NEW;
  end if;
  if v_user is not null and (NEW.amount is distinct from OLD.amount or NEW.invoice_id is distinct from OLD.invoice_id) and OLD.status <> 'requested' then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', 'An approved, rejected or processed refund cannot change its amount or invoice.', 409,
      jsonb_build_object('from', OLD.status, 'to', NEW.status));
  end if;
  if NEW.status is distinct from OLD.status then
    if not ((OLD.status = 'requested' and NEW.status in ('approved', 'rejected'))
            or (OLD.status = 'approved' and NEW.status = 'processed')) then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        format('A refund cannot go from %s to %s.', OLD.status, NEW.status), 409,
        jsonb_build_object('from', OLD.status, 'to', NEW.status));
    end if;
    if NEW.status = 'approved' then
      NEW.approved_at := coalesce(NEW.approved_at, now());
      NEW.approved_by := coalesce(NEW.approved_by, v_user);
      select s.refund_approval_threshold into v_threshold from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
      if NEW.amount > coalesce(v_threshold, 0) and NEW.approved_by is not distinct from NEW.requested_by then
        perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
          format('Refunds above %s must be approved by someone other than the requester.', coalesce(v_threshold, 0)), 409,
          jsonb_build_object('refund_id', NEW.id, 'threshold', coalesce(v_threshold, 0)));
      end if;
    elsif NEW.status = 'rejected' then
      if nullif(trim(coalesce(NEW.rejection_reason, '')), '') is null then
        perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the refund is rejected (rejection_reason).', 422);
      end if;
      NEW.rejected_at := coalesce(NEW.rejected_at, now());
      NEW.rejected_by := coalesce(NEW.rejected_by, v_user);
    elsif NEW.status = 'processed' then
      -- never more out than in: checked under the invoice lock, however the refund is processed
      select * into v_invoice from app_public.invoices i where i.id = NEW.invoice_id and i.hospital_id = NEW.hospital_id for update;
      if NEW.amount > v_invoice.amount_paid - v_invoice.amount_refunded then
        perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID',
          format('%s is more than the %s still paid on invoice %s.', NEW.amount, v_invoice.amount_paid - v_invoice.amount_refunded, v_invoice.invoice_number),
          422, jsonb_build_object('invoice_id', v_invoice.id));
      end if;
      NEW.processed_at := coalesce(NEW.processed_at, now());
      NEW.processed_by := coalesce(NEW.processed_by, v_user);
    end if;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_refunds__workflow() is
  'BEFORE INSERT/UPDATE on refunds: requested → approved|rejected, approved → processed, stamps, and approval by another user above refund_approval_threshold (HMS_APPROVAL_BY_OTHER_USER).';

drop trigger if exists _200_workflow on app_public.refunds;
create trigger _200_workflow before insert or update on app_public.refunds
  for each row execute function app_hidden.tg_refunds__workflow();

/* Credit notes: staff issue them only through issue_credit_note (which checks the amount). */
create or replace function app_hidden.tg_credit_notes__guard() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if app_hidden.current_user_id() is null or app_hidden.in_billing_workflow() then
    return NEW;
  end if;
  if (TG_OP = 'INSERT' and NEW.status in ('issued', 'applied'))
     or (TG_OP = 'UPDATE' and NEW.status is distinct from OLD.status and NEW.status in ('issued', 'applied', 'draft')) then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('A credit note becomes %s only through issue_credit_note.', NEW.status), 409,
      jsonb_build_object('from', case when TG_OP = 'UPDATE' then OLD.status end, 'to', NEW.status));
  end if;
  if TG_OP = 'UPDATE' and OLD.status <> 'draft'
     and (NEW.amount is distinct from OLD.amount or NEW.invoice_id is distinct from OLD.invoice_id or NEW.lines is distinct from OLD.lines) then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', 'An issued credit note never changes; void it and issue another.', 409,
      jsonb_build_object('from', OLD.status, 'to', NEW.status));
  end if;
  if NEW.status = 'void' and (TG_OP = 'INSERT' or OLD.status <> 'void') then
    NEW.voided_at := coalesce(NEW.voided_at, now());
    NEW.voided_by := coalesce(NEW.voided_by, app_hidden.current_user_id());
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_credit_notes__guard() is
  'BEFORE INSERT/UPDATE on credit_notes by staff: issued only through issue_credit_note, frozen once issued, void stamped.';

drop trigger if exists _200_guard on app_public.credit_notes;
create trigger _200_guard before insert or update on app_public.credit_notes
  for each row execute function app_hidden.tg_credit_notes__guard();

/* Daily settlements: open|reconciling|reopened → settled → reopened, stamps. */
create or replace function app_hidden.tg_daily_settlements__workflow() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
begin
  if v_user is not null and not app_hidden.in_billing_workflow() then
    if TG_OP = 'INSERT' and NEW.status not in ('open', 'reconciling') then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', 'A day is settled with settle_day.', 409,
        jsonb_build_object('from', null, 'to', NEW.status));
    end if;
    if TG_OP = 'UPDATE' and NEW.status is distinct from OLD.status
       and not (OLD.status in ('open', 'reopened') and NEW.status = 'reconciling') then
      perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
        format('A settlement goes from %s to %s only through settle_day / reopen_day.', OLD.status, NEW.status), 409,
        jsonb_build_object('from', OLD.status, 'to', NEW.status));
    end if;
    if TG_OP = 'UPDATE' and OLD.status = 'settled'
       and (NEW.counted_cash is distinct from OLD.counted_cash or NEW.variance_reason is distinct from OLD.variance_reason
            or NEW.settled_at is distinct from OLD.settled_at or NEW.settled_by is distinct from OLD.settled_by) then
      perform app_hidden.raise_error('HMS_DAY_SETTLED', 'A settled day is locked: reopen it first.', 409,
        jsonb_build_object('settlement_date', OLD.settlement_date));
    end if;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_daily_settlements__workflow() is
  'BEFORE INSERT/UPDATE on daily_settlements: staff reach settled and reopened only through settle_day / reopen_day; a settled row is locked.';

drop trigger if exists _200_workflow on app_public.daily_settlements;
create trigger _200_workflow before insert or update on app_public.daily_settlements
  for each row execute function app_hidden.tg_daily_settlements__workflow();

/* ------------------------------------------------------------------------------------------
 * Daily settlement computation (also for the settlement job of a later issue)
 * ------------------------------------------------------------------------------------------ */

create or replace function app_hidden.compute_daily_settlement(p_hospital_id uuid, p_date date)
returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tz text;
  v_from timestamptz;
  v_to timestamptz;
  v_row app_public.daily_settlements;
  v_previous text := current_setting('hms.workflow', true);
begin
  select h.time_zone into v_tz from app_public.hospitals h where h.id = p_hospital_id;
  if v_tz is null then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such hospital.', 404, jsonb_build_object('entity', 'hospital', 'id', p_hospital_id));
  end if;
  v_from := p_date::timestamp at time zone v_tz;
  v_to := (p_date + 1)::timestamp at time zone v_tz;
  perform set_config('hms.workflow', 'billing', true);

  insert into app_public.daily_settlements (hospital_id, settlement_date)
  values (p_hospital_id, p_date)
  on conflict on constraint daily_settlements_hospital_id_settlement_date_key do nothing;

  with p as (
    select p.amount, p.payment_method, p.invoice_id from app_public.payments p
     where p.hospital_id = p_hospital_id and p.status = 'completed' and not p.is_deleted
       and p.payment_date >= v_from and p.payment_date < v_to
  ), r as (
    select r.amount, r.refund_method from app_public.refunds r
     where r.hospital_id = p_hospital_id and r.status = 'processed' and not r.is_deleted
       and r.processed_at >= v_from and r.processed_at < v_to
  )
  update app_public.daily_settlements d
     set cash_total = coalesce((select sum(amount) from p where payment_method = 'cash'), 0),
         card_total = coalesce((select sum(amount) from p where payment_method = 'card'), 0),
         upi_total = coalesce((select sum(amount) from p where payment_method = 'upi'), 0),
         bank_transfer_total = coalesce((select sum(amount) from p where payment_method = 'bank_transfer'), 0),
         cheque_total = coalesce((select sum(amount) from p where payment_method = 'cheque'), 0),
         wallet_total = coalesce((select sum(amount) from p where payment_method = 'mobile_wallet'), 0),
         insurance_total = coalesce((select sum(amount) from p where payment_method = 'insurance'), 0),
         other_total = coalesce((select sum(amount) from p where payment_method in ('online', 'other')), 0),
         gross_collections = coalesce((select sum(amount) from p), 0),
         refunds_total = coalesce((select sum(amount) from r), 0),
         net_collections = coalesce((select sum(amount) from p), 0) - coalesce((select sum(amount) from r), 0),
         invoice_count = (select count(distinct invoice_id) from p),
         payment_count = (select count(*) from p),
         refund_count = (select count(*) from r),
         expected_cash = coalesce((select sum(amount) from p where payment_method = 'cash'), 0)
                         - coalesce((select sum(amount) from r where refund_method = 'cash'), 0),
         cash_variance = case when d.counted_cash is null then null
                              else d.counted_cash - (coalesce((select sum(amount) from p where payment_method = 'cash'), 0)
                                                     - coalesce((select sum(amount) from r where refund_method = 'cash'), 0)) end,
         computed_at = now()
   where d.hospital_id = p_hospital_id and d.settlement_date = p_date
  returning * into v_row;
  perform set_config('hms.workflow', coalesce(v_previous, ''), true);
  return v_row;
end;
$$;
comment on function app_hidden.compute_daily_settlement(uuid, date) is
  'Creates (if needed) and recomputes the daily_settlements row of a hospital-local day from its completed payments and processed refunds: totals per method, gross, refunds, net, counts, expected cash and variance. Does not change the status.';
revoke all on function app_hidden.compute_daily_settlement(uuid, date) from public;

/* ------------------------------------------------------------------------------------------
 * RPCs
 * ------------------------------------------------------------------------------------------ */

/* Common prologue: the active hospital, or 401; the permission, or 403. */
create or replace function app_hidden.billing_require(p_permission text) returns uuid
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
begin
  if v_hospital is null or app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in as a member of staff with an active hospital.', 401);
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the %s permission.', p_permission), 403,
      jsonb_build_object('permission', p_permission));
  end if;
  return v_hospital;
end;
$$;
comment on function app_hidden.billing_require(text) is 'Billing RPC prologue: returns the active hospital (401 HMS_SESSION_INVALID) after checking the permission (403 HMS_FORBIDDEN).';

/* The invoice of the active hospital, locked; 404 otherwise. */
create or replace function app_hidden.billing_lock_invoice(p_hospital_id uuid, p_invoice_id uuid) returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_invoice app_public.invoices;
begin
  select * into v_invoice from app_public.invoices i
   where i.id = p_invoice_id and i.hospital_id = p_hospital_id and not i.is_deleted
   for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such invoice in this hospital.', 404,
      jsonb_build_object('entity', 'invoice', 'id', p_invoice_id));
  end if;
  return v_invoice;
end;
$$;
comment on function app_hidden.billing_lock_invoice(uuid, uuid) is 'Locks and returns an invoice of the hospital (404 HMS_NOT_FOUND otherwise).';

create or replace function app_public.create_invoice(patient_id uuid, invoice_type text default 'outpatient', appointment_id uuid default null)
returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.write');
  v_id uuid;
  v_row app_public.invoices;
begin
  if not exists (select 1 from app_public.patients p where p.id = create_invoice.patient_id and p.hospital_id = v_hospital and not p.is_deleted) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such patient in this hospital.', 404, jsonb_build_object('entity', 'patient', 'id', create_invoice.patient_id));
  end if;
  v_id := app_hidden.ensure_draft_invoice(v_hospital, create_invoice.patient_id, create_invoice.invoice_type, create_invoice.appointment_id);
  select * into v_row from app_public.invoices i where i.id = v_id;
  return v_row;
end;
$$;
comment on function app_public.create_invoice(uuid, text, uuid) is
  E'Opens a draft invoice for a patient (or returns their open draft of that type and appointment). Needs billing.write. invoice_type: outpatient, pharmacy, optical, lab, inpatient or other. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (patient, appointment), 422 HMS_INVOICE_TYPE_INVALID.';
grant execute on function app_public.create_invoice(uuid, text, uuid) to :DATABASE_STAFF;

create or replace function app_public.add_invoice_item(
  invoice_id uuid,
  item_type text,
  description text,
  quantity numeric default 1,
  unit_price numeric default 0,
  tax_configuration_id uuid default null,
  discount_percent numeric default 0,
  service_code text default null,
  doctor_id uuid default null,
  department_id uuid default null
) returns app_public.invoice_items
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.write');
  v_invoice app_public.invoices;
  v_id uuid;
  v_row app_public.invoice_items;
begin
  v_invoice := app_hidden.billing_lock_invoice(v_hospital, add_invoice_item.invoice_id);
  v_id := app_hidden.add_invoice_item(v_invoice.id, add_invoice_item.item_type, add_invoice_item.description,
            add_invoice_item.quantity, add_invoice_item.unit_price, add_invoice_item.tax_configuration_id,
            jsonb_strip_nulls(jsonb_build_object('discount_percent', add_invoice_item.discount_percent,
                                                 'service_code', add_invoice_item.service_code,
                                                 'doctor_id', add_invoice_item.doctor_id,
                                                 'department_id', add_invoice_item.department_id)));
  select * into v_row from app_public.invoice_items it where it.id = v_id;
  return v_row;
end;
$$;
comment on function app_public.add_invoice_item(uuid, text, text, numeric, numeric, uuid, numeric, text, uuid, uuid) is
  E'Adds a line to a draft invoice; discount, tax (from tax_configuration_id or the hospital''s default rule for the item type) and totals are computed. Needs billing.write. item_type: consultation, procedure, medicine, lab_test, optical, room, service, package or other. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_INVOICE_NOT_DRAFT, 422 HMS_INVOICE_ITEM_INVALID.';
grant execute on function app_public.add_invoice_item(uuid, text, text, numeric, numeric, uuid, numeric, text, uuid, uuid) to :DATABASE_STAFF;

create or replace function app_public.issue_invoice(invoice_id uuid) returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.write');
  v_invoice app_public.invoices;
begin
  v_invoice := app_hidden.billing_lock_invoice(v_hospital, issue_invoice.invoice_id);
  if v_invoice.status <> 'draft' then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('Invoice %s cannot go from %s to issued.', v_invoice.invoice_number, v_invoice.status), 409,
      jsonb_build_object('from', v_invoice.status, 'to', 'issued'));
  end if;
  update app_public.invoices i set status = 'issued' where i.id = v_invoice.id returning * into v_invoice;
  return v_invoice;
end;
$$;
comment on function app_public.issue_invoice(uuid) is
  E'Issues a draft invoice: freezes its lines, stamps issued_at/by and sets the due date from hospital_settings.invoice_due_days. Needs billing.write. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft), 422 HMS_INVOICE_EMPTY (no line).';
grant execute on function app_public.issue_invoice(uuid) to :DATABASE_STAFF;

create or replace function app_public.void_invoice(invoice_id uuid, reason text) returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.void');
  v_invoice app_public.invoices;
begin
  v_invoice := app_hidden.billing_lock_invoice(v_hospital, void_invoice.invoice_id);
  if nullif(trim(coalesce(void_invoice.reason, '')), '') is null then
    perform app_hidden.raise_error('HMS_VOID_REASON_REQUIRED', 'Say why the invoice is voided.', 422);
  end if;
  if v_invoice.status not in ('draft', 'issued') then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('Invoice %s cannot go from %s to void.', v_invoice.invoice_number, v_invoice.status), 409,
      jsonb_build_object('from', v_invoice.status, 'to', 'void'));
  end if;
  update app_public.invoices i set status = 'void', void_reason = trim(void_invoice.reason)
   where i.id = v_invoice.id returning * into v_invoice;
  return v_invoice;
end;
$$;
comment on function app_public.void_invoice(uuid, text) is
  E'Cancels a draft or issued invoice on which nothing was paid; it keeps its number. Needs billing.void. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_INVOICE_HAS_PAYMENTS, 422 HMS_VOID_REASON_REQUIRED.';
grant execute on function app_public.void_invoice(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.record_payment(
  invoice_id uuid,
  amount numeric,
  payment_method text,
  reference_number text default null,
  payer_name text default null,
  card_last4 text default null,
  cheque_number text default null,
  notes text default null
) returns app_public.payments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.collect');
  v_invoice app_public.invoices;
  v_row app_public.payments;
  v_previous text := current_setting('hms.workflow', true);
begin
  v_invoice := app_hidden.billing_lock_invoice(v_hospital, record_payment.invoice_id);
  if v_invoice.status not in ('issued', 'partially_paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_PAYABLE',
      format('Invoice %s is %s: payments are taken on issued or partially paid invoices.', v_invoice.invoice_number, v_invoice.status),
      409, jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if record_payment.amount is null or record_payment.amount <= 0 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero.', 422,
      jsonb_build_object('field', 'amount'));
  end if;
  if round(record_payment.amount, 2) <> record_payment.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount has at most two decimals.', 422,
      jsonb_build_object('field', 'amount'));
  end if;
  if record_payment.amount > v_invoice.balance_due then
    perform app_hidden.raise_error('HMS_OVERPAYMENT',
      format('%s is more than the balance due of %s on invoice %s.', record_payment.amount, v_invoice.balance_due, v_invoice.invoice_number),
      422, jsonb_build_object('invoice_id', v_invoice.id, 'balance_due', v_invoice.balance_due, 'amount', record_payment.amount));
  end if;
  if record_payment.payment_method is null
     or record_payment.payment_method not in ('cash', 'card', 'upi', 'bank_transfer', 'cheque', 'mobile_wallet', 'insurance', 'online', 'other') then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID',
      format('Unknown payment method %s: cash, card, upi, bank_transfer, cheque, mobile_wallet, insurance, online or other.', coalesce(record_payment.payment_method, 'null')),
      422, jsonb_build_object('field', 'payment_method'));
  end if;
  if record_payment.payment_method = 'cheque' and nullif(trim(coalesce(record_payment.cheque_number, '')), '') is null then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', 'A cheque payment needs the cheque number.', 422,
      jsonb_build_object('field', 'cheque_number'));
  end if;
  if record_payment.card_last4 is not null and record_payment.card_last4 !~ '^[0-9]{4}$' then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', 'card_last4 is the last four digits of the card.', 422,
      jsonb_build_object('field', 'card_last4'));
  end if;
  perform set_config('hms.workflow', 'billing', true);
  insert into app_public.payments (hospital_id, invoice_id, patient_id, amount, payment_method, payment_date, status,
                                   payer_name, reference_number, card_last4, cheque_number, received_by, notes)
  values (v_hospital, v_invoice.id, v_invoice.patient_id, record_payment.amount, record_payment.payment_method, now(), 'completed',
          coalesce(record_payment.payer_name, v_invoice.bill_to_name), record_payment.reference_number, record_payment.card_last4,
          record_payment.cheque_number, app_hidden.current_user_id(), record_payment.notes)
  returning * into v_row;
  perform set_config('hms.workflow', coalesce(v_previous, ''), true);
  return v_row;
end;
$$;
comment on function app_public.record_payment(uuid, numeric, text, text, text, text, text, text) is
  E'Records a payment (with its automatic receipt number) against an issued or partially paid invoice; the invoice is locked so parallel payments never exceed the balance. Needs billing.collect. payment_method: cash, card, upi, bank_transfer, cheque, mobile_wallet, insurance, online or other. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_INVOICE_NOT_PAYABLE, 409 HMS_DAY_SETTLED, 422 HMS_AMOUNT_INVALID, 422 HMS_OVERPAYMENT, 422 HMS_PAYMENT_METHOD_INVALID.';
grant execute on function app_public.record_payment(uuid, numeric, text, text, text, text, text, text) to :DATABASE_STAFF;

create or replace function app_public.request_refund(
  invoice_id uuid,
  amount numeric,
  reason text,
  payment_id uuid default null,
  refund_method text default null,
  reason_notes text default null
) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.refund');
  v_invoice app_public.invoices;
  v_payment app_public.payments;
  v_pending numeric;
  v_available numeric;
  v_row app_public.refunds;
begin
  v_invoice := app_hidden.billing_lock_invoice(v_hospital, request_refund.invoice_id);
  if request_refund.payment_id is not null then
    select * into v_payment from app_public.payments p
     where p.id = request_refund.payment_id and p.hospital_id = v_hospital and p.invoice_id = v_invoice.id and not p.is_deleted;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such payment on this invoice.', 404,
        jsonb_build_object('entity', 'payment', 'id', request_refund.payment_id));
    end if;
  end if;
  if request_refund.amount is null or request_refund.amount <= 0 or round(request_refund.amount, 2) <> request_refund.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero, with at most two decimals.', 422,
      jsonb_build_object('field', 'amount'));
  end if;
  if request_refund.reason is null or request_refund.reason not in
     ('service_not_rendered', 'overbilling', 'duplicate_payment', 'cancellation', 'insurance_adjustment', 'medicine_return', 'other') then
    perform app_hidden.raise_error('HMS_REFUND_REASON_INVALID',
      'reason is one of service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return, other.', 422,
      jsonb_build_object('field', 'reason'));
  end if;
  if request_refund.refund_method is not null and request_refund.refund_method not in
     ('cash', 'card', 'upi', 'bank_transfer', 'cheque', 'mobile_wallet', 'insurance', 'online', 'other') then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', format('Unknown refund method %s.', request_refund.refund_method), 422,
      jsonb_build_object('field', 'refund_method'));
  end if;
  select coalesce(sum(r.amount), 0) into v_pending from app_public.refunds r
   where r.invoice_id = v_invoice.id and r.hospital_id = v_hospital and r.status in ('requested', 'approved') and not r.is_deleted;
  v_available := v_invoice.amount_paid - v_invoice.amount_refunded - v_pending;
  if request_refund.amount > v_available then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID',
      format('%s is more than the %s still refundable on invoice %s (paid %s, refunded %s, pending %s).', request_refund.amount,
             greatest(v_available, 0), v_invoice.invoice_number, v_invoice.amount_paid, v_invoice.amount_refunded, v_pending),
      422, jsonb_build_object('invoice_id', v_invoice.id, 'refundable', greatest(v_available, 0)));
  end if;
  if request_refund.payment_id is not null and request_refund.amount > v_payment.amount
       - coalesce((select sum(r.amount) from app_public.refunds r where r.payment_id = v_payment.id and r.status <> 'rejected' and not r.is_deleted), 0) then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID', 'The amount is more than what is left to refund of that payment.', 422,
      jsonb_build_object('payment_id', v_payment.id));
  end if;
  insert into app_public.refunds (hospital_id, invoice_id, payment_id, patient_id, amount, refund_method, reason, reason_notes,
                                  status, requested_at, requested_by)
  values (v_hospital, v_invoice.id, request_refund.payment_id, v_invoice.patient_id, request_refund.amount,
          coalesce(request_refund.refund_method, v_payment.payment_method, 'cash'), request_refund.reason, request_refund.reason_notes,
          'requested', now(), app_hidden.current_user_id())
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.request_refund(uuid, numeric, text, uuid, text, text) is
  E'Requests a refund of money paid on an invoice (at most paid − refunded − pending refunds). Needs billing.refund. reason: service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return or other; refund_method defaults to the payment''s method (else cash). Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 422 HMS_AMOUNT_INVALID, 422 HMS_REFUND_REASON_INVALID, 422 HMS_PAYMENT_METHOD_INVALID, 422 HMS_REFUND_EXCEEDS_PAID.';
grant execute on function app_public.request_refund(uuid, numeric, text, uuid, text, text) to :DATABASE_STAFF;

/* The refund of the active hospital, locked (with its invoice); 404 otherwise. */
create or replace function app_hidden.billing_lock_refund(p_hospital_id uuid, p_refund_id uuid) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.refunds;
begin
  select * into v_row from app_public.refunds r where r.id = p_refund_id and r.hospital_id = p_hospital_id and not r.is_deleted;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such refund in this hospital.', 404, jsonb_build_object('entity', 'refund', 'id', p_refund_id));
  end if;
  perform app_hidden.billing_lock_invoice(p_hospital_id, v_row.invoice_id);
  select * into v_row from app_public.refunds r where r.id = p_refund_id for update;
  return v_row;
end;
$$;
comment on function app_hidden.billing_lock_refund(uuid, uuid) is 'Locks a refund of the hospital and its invoice (404 HMS_NOT_FOUND otherwise).';

create or replace function app_public.approve_refund(refund_id uuid) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.refund');
  v_row app_public.refunds;
begin
  v_row := app_hidden.billing_lock_refund(v_hospital, approve_refund.refund_id);
  if v_row.status <> 'requested' then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('A refund cannot go from %s to approved.', v_row.status), 409,
      jsonb_build_object('from', v_row.status, 'to', 'approved'));
  end if;
  update app_public.refunds r set status = 'approved', approved_at = now(), approved_by = app_hidden.current_user_id()
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.approve_refund(uuid) is
  E'Approves a requested refund; above hospital_settings.refund_approval_threshold the approver must not be the requester. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_APPROVAL_BY_OTHER_USER.';
grant execute on function app_public.approve_refund(uuid) to :DATABASE_STAFF;

create or replace function app_public.reject_refund(refund_id uuid, reason text) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.refund');
  v_row app_public.refunds;
begin
  v_row := app_hidden.billing_lock_refund(v_hospital, reject_refund.refund_id);
  if nullif(trim(coalesce(reject_refund.reason, '')), '') is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the refund is rejected.', 422);
  end if;
  if v_row.status <> 'requested' then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('A refund cannot go from %s to rejected.', v_row.status), 409,
      jsonb_build_object('from', v_row.status, 'to', 'rejected'));
  end if;
  update app_public.refunds r set status = 'rejected', rejection_reason = trim(reject_refund.reason)
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reject_refund(uuid, text) is
  E'Rejects a requested refund with a reason. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reject_refund(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.process_refund(refund_id uuid, reference_number text default null) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.refund');
  v_row app_public.refunds;
  v_invoice app_public.invoices;
begin
  v_row := app_hidden.billing_lock_refund(v_hospital, process_refund.refund_id);
  if v_row.status <> 'approved' then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('A refund cannot go from %s to processed.', v_row.status), 409,
      jsonb_build_object('from', v_row.status, 'to', 'processed'));
  end if;
  select * into v_invoice from app_public.invoices i where i.id = v_row.invoice_id;
  if v_row.amount > v_invoice.amount_paid - v_invoice.amount_refunded then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID',
      format('%s is more than the %s still paid on invoice %s.', v_row.amount, v_invoice.amount_paid - v_invoice.amount_refunded, v_invoice.invoice_number),
      422, jsonb_build_object('invoice_id', v_invoice.id));
  end if;
  update app_public.refunds r
     set status = 'processed', processed_at = now(), processed_by = app_hidden.current_user_id(),
         reference_number = coalesce(process_refund.reference_number, r.reference_number)
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.process_refund(uuid, text) is
  E'Pays out an approved refund: it now counts in the invoice''s amount_refunded and in today''s settlement. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_DAY_SETTLED, 422 HMS_REFUND_EXCEEDS_PAID.';
grant execute on function app_public.process_refund(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.issue_credit_note(invoice_id uuid, amount numeric, reason text, lines jsonb default '[]')
returns app_public.credit_notes
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.refund');
  v_invoice app_public.invoices;
  v_row app_public.credit_notes;
  v_tax numeric;
  v_previous text := current_setting('hms.workflow', true);
begin
  v_invoice := app_hidden.billing_lock_invoice(v_hospital, issue_credit_note.invoice_id);
  if v_invoice.status not in ('issued', 'partially_paid', 'paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_CREDITABLE',
      format('Invoice %s is %s: credit notes are issued against issued, partially paid or paid invoices.', v_invoice.invoice_number, v_invoice.status),
      409, jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if issue_credit_note.amount is null or issue_credit_note.amount <= 0 or round(issue_credit_note.amount, 2) <> issue_credit_note.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero, with at most two decimals.', 422,
      jsonb_build_object('field', 'amount'));
  end if;
  if length(trim(coalesce(issue_credit_note.reason, ''))) not between 2 and 500 then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the invoice is credited (2 to 500 characters).', 422);
  end if;
  if issue_credit_note.lines is not null and jsonb_typeof(issue_credit_note.lines) <> 'array' then
    perform app_hidden.raise_error('HMS_CREDIT_NOTE_LINES_INVALID', 'lines is a JSON array of credited items.', 422);
  end if;
  if issue_credit_note.amount > v_invoice.total_amount - v_invoice.amount_credited then
    perform app_hidden.raise_error('HMS_CREDIT_EXCEEDS_TOTAL',
      format('%s is more than the %s not yet credited on invoice %s.', issue_credit_note.amount,
             v_invoice.total_amount - v_invoice.amount_credited, v_invoice.invoice_number),
      422, jsonb_build_object('invoice_id', v_invoice.id, 'creditable', v_invoice.total_amount - v_invoice.amount_credited));
  end if;
  begin
    v_tax := least(coalesce((select sum((l ->> 'tax_amount')::numeric) from jsonb_array_elements(coalesce(issue_credit_note.lines, '[]')) l), 0),
                   issue_credit_note.amount);
  exception when others then
    perform app_hidden.raise_error('HMS_CREDIT_NOTE_LINES_INVALID', 'A line''s tax_amount is not a number.', 422);
  end;
  perform set_config('hms.workflow', 'billing', true);
  insert into app_public.credit_notes (hospital_id, invoice_id, patient_id, amount, tax_amount, reason, status, issued_at, issued_by, lines)
  values (v_hospital, v_invoice.id, v_invoice.patient_id, issue_credit_note.amount, greatest(v_tax, 0), trim(issue_credit_note.reason),
          'issued', now(), app_hidden.current_user_id(), coalesce(issue_credit_note.lines, '[]'))
  returning * into v_row;
  perform set_config('hms.workflow', coalesce(v_previous, ''), true);
  return v_row;
end;
$$;
comment on function app_public.issue_credit_note(uuid, numeric, text, jsonb) is
  E'Issues a numbered credit note reducing what an issued, partially paid or paid invoice asks for (at most total − already credited); lines lists the credited items. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_INVOICE_NOT_CREDITABLE, 422 HMS_AMOUNT_INVALID, 422 HMS_REASON_REQUIRED, 422 HMS_CREDIT_NOTE_LINES_INVALID, 422 HMS_CREDIT_EXCEEDS_TOTAL.';
grant execute on function app_public.issue_credit_note(uuid, numeric, text, jsonb) to :DATABASE_STAFF;

create or replace function app_public.settle_day(settlement_date date, counted_cash numeric default null, variance_reason text default null)
returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.settle');
  v_row app_public.daily_settlements;
  v_previous text := current_setting('hms.workflow', true);
begin
  if settle_day.settlement_date is null or settle_day.settlement_date > app_hidden.billing_local_date(v_hospital, now()) then
    perform app_hidden.raise_error('HMS_SETTLEMENT_DATE_INVALID', 'Only today or a past day (hospital time) can be settled.', 422,
      jsonb_build_object('field', 'settlement_date'));
  end if;
  if settle_day.counted_cash is not null and (settle_day.counted_cash < 0 or settle_day.counted_cash >= 1e10) then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'counted_cash cannot be negative.', 422, jsonb_build_object('field', 'counted_cash'));
  end if;
  -- Serialise with payments of that day: lock the settlement row (created if needed).
  perform pg_advisory_xact_lock(hashtextextended('hms.settlement:' || v_hospital || ':' || settle_day.settlement_date, 0));
  select * into v_row from app_public.daily_settlements d
   where d.hospital_id = v_hospital and d.settlement_date = settle_day.settlement_date for update;
  if found and v_row.status = 'settled' then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('The day %s is already settled.', settle_day.settlement_date), 409,
      jsonb_build_object('from', 'settled', 'to', 'settled'));
  end if;
  -- Lock out concurrent payment writers of the hospital while the day is counted.
  lock table app_public.payments, app_public.refunds in share row exclusive mode;
  perform set_config('hms.workflow', 'billing', true);
  insert into app_public.daily_settlements (hospital_id, settlement_date) values (v_hospital, settle_day.settlement_date)
  on conflict on constraint daily_settlements_hospital_id_settlement_date_key do nothing;
  update app_public.daily_settlements d set counted_cash = settle_day.counted_cash, variance_reason = nullif(trim(settle_day.variance_reason), '')
   where d.hospital_id = v_hospital and d.settlement_date = settle_day.settlement_date;
  v_row := app_hidden.compute_daily_settlement(v_hospital, settle_day.settlement_date);
  if v_row.cash_variance is not null and v_row.cash_variance <> 0 and v_row.variance_reason is null then
    perform app_hidden.raise_error('HMS_VARIANCE_REASON_REQUIRED',
      format('Counted cash differs from the expected %s by %s: give a variance_reason.', v_row.expected_cash, v_row.cash_variance), 422,
      jsonb_build_object('expected_cash', v_row.expected_cash, 'cash_variance', v_row.cash_variance));
  end if;
  update app_public.daily_settlements d set status = 'settled', settled_at = now(), settled_by = app_hidden.current_user_id()
   where d.id = v_row.id returning * into v_row;
  perform set_config('hms.workflow', coalesce(v_previous, ''), true);
  return v_row;
end;
$$;
comment on function app_public.settle_day(date, numeric, text) is
  E'Computes a hospital-local day''s collections per method from completed payments and processed refunds and settles (locks) the day: no payment or refund may then be dated in it. counted_cash records the cash counted in the drawer; a variance needs variance_reason. Needs billing.settle. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 409 HMS_ILLEGAL_TRANSITION (already settled), 422 HMS_SETTLEMENT_DATE_INVALID, 422 HMS_AMOUNT_INVALID, 422 HMS_VARIANCE_REASON_REQUIRED.';
grant execute on function app_public.settle_day(date, numeric, text) to :DATABASE_STAFF;

create or replace function app_public.reopen_day(settlement_date date, reason text) returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.billing_require('billing.settle');
  v_row app_public.daily_settlements;
  v_previous text := current_setting('hms.workflow', true);
begin
  select * into v_row from app_public.daily_settlements d
   where d.hospital_id = v_hospital and d.settlement_date = reopen_day.settlement_date for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No settlement for that day in this hospital.', 404,
      jsonb_build_object('entity', 'daily_settlement', 'settlement_date', reopen_day.settlement_date));
  end if;
  if nullif(trim(coalesce(reopen_day.reason, '')), '') is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the day is reopened.', 422);
  end if;
  if v_row.status <> 'settled' then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION', format('A settlement cannot go from %s to reopened.', v_row.status), 409,
      jsonb_build_object('from', v_row.status, 'to', 'reopened'));
  end if;
  perform set_config('hms.workflow', 'billing', true);
  update app_public.daily_settlements d
     set status = 'reopened', reopened_at = now(), reopened_by = app_hidden.current_user_id(), reopen_reason = trim(reopen_day.reason)
   where d.id = v_row.id returning * into v_row;
  perform set_config('hms.workflow', coalesce(v_previous, ''), true);
  return v_row;
end;
$$;
comment on function app_public.reopen_day(date, text) is
  E'Reopens a settled day (with a reason) so payments and refunds may be corrected in it; settle it again afterwards. Needs billing.settle. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reopen_day(date, text) to :DATABASE_STAFF;

--! split: 3100-insurance-workflow.sql
/*
 * Insurance workflow — pre-authorizations and claims as database rules.
 *
 * Pre-authorization: requested → approved | partially_approved | denied | cancelled;
 *                    approved | partially_approved → used | expired.
 * Claim:             draft → submitted → under_review → approved | partially_approved | denied;
 *                    approved | partially_approved → paid; draft | submitted → cancelled.
 * BEFORE UPDATE triggers enforce these transitions however a row is written (REST, GraphQL,
 * psql). Amounts, decisions and workflow stamps change only through the RPCs below, which set
 * the transaction-local flag hms.workflow = 'insurance' while they write.
 *
 * CLAIMED AMOUNT (create_claim) — the insurer's share of an issued invoice:
 *   share = round(invoice.total_amount × coverage_percent / 100, 2)
 *           − round(invoice.total_amount × co_pay_percent / 100, 2)
 *           − co_pay_amount
 *   then capped (least) by: per_visit_limit (when set), remaining_limit (when set, else
 *   annual_limit when set), and the approved_amount of the pre-authorization (when given).
 *   The deductible is not applied (the insurer tracks what the patient has met this year).
 *   A share ≤ 0 is refused (HMS_CLAIM_NOTHING_TO_CLAIM).
 *
 * DECISION (decide_claim) — approved / partially approved amounts split the invoice:
 *   invoices.insurance_amount = approved_amount, invoices.patient_amount = total − approved_amount
 *   (denied: 0 and total); the claim's patient_responsibility = total − approved_amount. An
 *   approval also lowers the policy's remaining_limit (when set) and marks the claim's
 *   pre-authorization 'used'. Payments stay with billing: record_claim_payment only records the
 *   insurer's payment on the claim.
 */

create or replace function app_hidden.insurance_assert_transition(p_entity text, p_from text, p_to text, p_allowed jsonb)
returns void
language plpgsql
immutable
as $$
begin
  if p_from is distinct from p_to and not coalesce((p_allowed -> p_from) ? p_to, false) then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('A %s cannot go from %s to %s.', p_entity, p_from, p_to), 409,
      jsonb_build_object('entity', p_entity, 'from', p_from, 'to', p_to,
                         'allowed', coalesce(p_allowed -> p_from, '[]'::jsonb)));
  end if;
end;
$$;
comment on function app_hidden.insurance_assert_transition(text, text, text, jsonb) is
  'Raises HMS_ILLEGAL_TRANSITION (409) unless p_to is p_from or listed under p_from in p_allowed.';
grant execute on function app_hidden.insurance_assert_transition(text, text, text, jsonb) to :DATABASE_STAFF;

/* True inside an insurance RPC, or when no member of staff is acting (migrations, jobs, owner). */
create or replace function app_hidden.insurance_trusted_writer() returns boolean
language sql
stable
as $$
  select app_hidden.current_user_id() is null
      or coalesce(current_setting('hms.workflow', true), '') = 'insurance';
$$;
comment on function app_hidden.insurance_trusted_writer() is
  'True inside an insurance workflow RPC (hms.workflow = insurance) or when no member of staff is acting.';
grant execute on function app_hidden.insurance_trusted_writer() to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Pre-authorization status trigger
-- ---------------------------------------------------------------------------------------------
create or replace function app_hidden.tg_pre_authorizations__workflow() returns trigger
language plpgsql
as $$
begin
  if TG_OP = 'INSERT' then
    if not app_hidden.insurance_trusted_writer()
       and (NEW.status <> 'requested' or NEW.approved_amount is not null or NEW.decided_at is not null or NEW.used_at is not null) then
      perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED',
        'A pre-authorization starts as requested; use request_pre_authorization and decide_pre_authorization.', 403);
    end if;
    return NEW;
  end if;
  perform app_hidden.insurance_assert_transition('pre-authorization', OLD.status, NEW.status,
    '{"requested": ["approved", "partially_approved", "denied", "cancelled"],
      "approved": ["used", "expired"], "partially_approved": ["used", "expired"]}'::jsonb);
  if not app_hidden.insurance_trusted_writer() then
    if NEW.status in ('approved', 'partially_approved', 'denied')
       and NEW.status is distinct from OLD.status then
      perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED',
        'The payer''s decision is recorded with decide_pre_authorization.', 403, jsonb_build_object('column', 'status'));
    end if;
    if (NEW.approved_amount, NEW.decided_at, NEW.used_at, NEW.policy_id, NEW.patient_id, NEW.provider_id, NEW.requested_by)
       is distinct from (OLD.approved_amount, OLD.decided_at, OLD.used_at, OLD.policy_id, OLD.patient_id, OLD.provider_id, OLD.requested_by) then
      perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED',
        'Approved amount, decision and usage of a pre-authorization change only through the insurance RPCs.', 403);
    end if;
  end if;
  if NEW.status = 'used' and OLD.status <> 'used' then
    NEW.used_at := coalesce(NEW.used_at, now());
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_pre_authorizations__workflow() is
  'BEFORE INSERT/UPDATE on pre_authorizations: legal status transitions (HMS_ILLEGAL_TRANSITION) and decision columns written only by the insurance RPCs.';

drop trigger if exists _200_workflow on app_public.pre_authorizations;
create trigger _200_workflow before insert or update on app_public.pre_authorizations
  for each row execute function app_hidden.tg_pre_authorizations__workflow();

-- ---------------------------------------------------------------------------------------------
-- Claim status trigger
-- ---------------------------------------------------------------------------------------------
create or replace function app_hidden.tg_insurance_claims__workflow() returns trigger
language plpgsql
as $$
begin
  if TG_OP = 'INSERT' then
    -- (without insurance.manage the row-level policy refuses the insert itself)
    if not app_hidden.insurance_trusted_writer() and app_hidden.has_permission('insurance.manage') then
      perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED',
        'Claims are created with create_claim, which computes the claimed amount.', 403);
    end if;
    return NEW;
  end if;
  perform app_hidden.insurance_assert_transition('claim', OLD.status, NEW.status,
    '{"draft": ["submitted", "cancelled"], "submitted": ["under_review", "cancelled"],
      "under_review": ["approved", "partially_approved", "denied"],
      "approved": ["paid"], "partially_approved": ["paid"]}'::jsonb);
  if not app_hidden.insurance_trusted_writer() then
    if NEW.status is distinct from OLD.status and NEW.status not in ('cancelled', 'under_review') then
      perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED',
        format('A claim moves to %s only through the insurance RPCs (submit_claim, decide_claim, record_claim_payment).', NEW.status),
        403, jsonb_build_object('column', 'status'));
    end if;
    if (NEW.claimed_amount, NEW.approved_amount, NEW.paid_amount, NEW.patient_responsibility, NEW.submitted_at,
        NEW.submitted_by, NEW.decided_at, NEW.paid_at, NEW.invoice_id, NEW.policy_id, NEW.provider_id, NEW.patient_id,
        NEW.pre_authorization_id)
       is distinct from
       (OLD.claimed_amount, OLD.approved_amount, OLD.paid_amount, OLD.patient_responsibility, OLD.submitted_at,
        OLD.submitted_by, OLD.decided_at, OLD.paid_at, OLD.invoice_id, OLD.policy_id, OLD.provider_id, OLD.patient_id,
        OLD.pre_authorization_id) then
      perform app_hidden.raise_error('HMS_WORKFLOW_FIELD_PROTECTED',
        'Amounts, links and workflow stamps of a claim change only through the insurance RPCs.', 403);
    end if;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_insurance_claims__workflow() is
  'BEFORE INSERT/UPDATE on insurance_claims: legal status transitions (HMS_ILLEGAL_TRANSITION) and amounts/stamps written only by the insurance RPCs.';

drop trigger if exists _200_workflow on app_public.insurance_claims;
create trigger _200_workflow before insert or update on app_public.insurance_claims
  for each row execute function app_hidden.tg_insurance_claims__workflow();

-- ---------------------------------------------------------------------------------------------
-- Shared guard of the RPCs: session, hospital and permission
-- ---------------------------------------------------------------------------------------------
create or replace function app_hidden.insurance_begin(p_permission text) returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
begin
  if v_hospital is null or app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in as a member of staff with an active hospital.', 401);
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the permission %s.', p_permission), 403,
      jsonb_build_object('permission', p_permission));
  end if;
  perform set_config('hms.workflow', 'insurance', true);
  return v_hospital;
end;
$$;
comment on function app_hidden.insurance_begin(text) is
  'Start of every insurance RPC: 401 HMS_SESSION_INVALID without an active hospital, 403 HMS_FORBIDDEN without the permission; returns the hospital and raises the workflow flag.';

create or replace function app_hidden.insurance_not_found(p_entity text, p_id uuid) returns void
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_NOT_FOUND', format('No %s with this id in your hospital.', replace(p_entity, '_', ' ')), 404,
    jsonb_build_object('entity', p_entity, 'id', p_id));
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- Pre-authorization RPCs
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.request_pre_authorization(uuid, text, numeric, numeric, text[], text[], date, uuid, uuid, text);
create or replace function app_public.request_pre_authorization(
  policy_id uuid,
  procedure_description text,
  estimated_amount numeric,
  requested_amount numeric,
  diagnosis_codes text[] default '{}',
  procedure_codes text[] default '{}',
  planned_date date default null,
  appointment_id uuid default null,
  doctor_id uuid default null,
  notes text default null
) returns app_public.pre_authorizations
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.insurance_begin('insurance.manage');
  v_policy app_public.insurance_policies;
  v_row app_public.pre_authorizations;
begin
  select * into v_policy from app_public.insurance_policies p
   where p.id = request_pre_authorization.policy_id and p.hospital_id = v_hospital and not p.is_deleted;
  if not found then
    perform app_hidden.insurance_not_found('insurance_policy', request_pre_authorization.policy_id);
  end if;
  if v_policy.status <> 'active' or current_date < coalesce(v_policy.valid_from, current_date)
     or current_date > coalesce(v_policy.valid_to, current_date) then
    perform app_hidden.raise_error('HMS_POLICY_NOT_ACTIVE',
      format('The policy %s is not active today (status %s, valid %s to %s).', v_policy.policy_number, v_policy.status,
             coalesce(v_policy.valid_from::text, '…'), coalesce(v_policy.valid_to::text, '…')), 422,
      jsonb_build_object('policy_id', v_policy.id, 'status', v_policy.status, 'valid_from', v_policy.valid_from, 'valid_to', v_policy.valid_to));
  end if;
  if length(trim(coalesce(request_pre_authorization.procedure_description, ''))) not between 2 and 2000 then
    perform app_hidden.raise_error('HMS_PROCEDURE_DESCRIPTION_REQUIRED', 'Describe the planned procedure (2 to 2000 characters).', 422);
  end if;
  if request_pre_authorization.requested_amount is null or request_pre_authorization.requested_amount <= 0
     or request_pre_authorization.requested_amount >= 1e10
     or request_pre_authorization.estimated_amount < 0 or request_pre_authorization.estimated_amount >= 1e10 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The requested amount must be greater than zero and the estimate not negative.', 422,
      jsonb_build_object('requested_amount', request_pre_authorization.requested_amount, 'estimated_amount', request_pre_authorization.estimated_amount));
  end if;
  if request_pre_authorization.appointment_id is not null and not exists (
       select 1 from app_public.appointments a where a.id = request_pre_authorization.appointment_id and a.hospital_id = v_hospital
          and a.patient_id = v_policy.patient_id) then
    perform app_hidden.insurance_not_found('appointment', request_pre_authorization.appointment_id);
  end if;
  if request_pre_authorization.doctor_id is not null and not exists (
       select 1 from app_public.doctors d where d.id = request_pre_authorization.doctor_id and d.hospital_id = v_hospital) then
    perform app_hidden.insurance_not_found('doctor', request_pre_authorization.doctor_id);
  end if;

  insert into app_public.pre_authorizations
    (hospital_id, policy_id, patient_id, provider_id, appointment_id, doctor_id, requested_by, procedure_description,
     diagnosis_codes, procedure_codes, planned_date, estimated_amount, requested_amount, notes)
  values
    (v_hospital, v_policy.id, v_policy.patient_id, v_policy.provider_id, request_pre_authorization.appointment_id,
     request_pre_authorization.doctor_id, app_hidden.current_user_id(), trim(request_pre_authorization.procedure_description),
     coalesce(request_pre_authorization.diagnosis_codes, '{}'), coalesce(request_pre_authorization.procedure_codes, '{}'),
     request_pre_authorization.planned_date, request_pre_authorization.estimated_amount,
     request_pre_authorization.requested_amount, request_pre_authorization.notes)
  returning * into v_row;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.request_pre_authorization(uuid, text, numeric, numeric, text[], text[], date, uuid, uuid, text) is
  E'Asks the payer of a policy to pre-authorize a planned procedure (status requested, numbered PAU-…). Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (policy, appointment, doctor), 422 HMS_POLICY_NOT_ACTIVE (policy not active or not valid today), HMS_PROCEDURE_DESCRIPTION_REQUIRED, HMS_AMOUNT_INVALID.';
grant execute on function app_public.request_pre_authorization(uuid, text, numeric, numeric, text[], text[], date, uuid, uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.decide_pre_authorization(uuid, text, numeric, text, text, date);
create or replace function app_public.decide_pre_authorization(
  pre_authorization_id uuid,
  decision text,
  approved_amount numeric default null,
  insurer_reference text default null,
  denial_reason text default null,
  valid_until date default null
) returns app_public.pre_authorizations
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.insurance_begin('insurance.manage');
  v_row app_public.pre_authorizations;
  v_amount numeric;
begin
  select * into v_row from app_public.pre_authorizations p
   where p.id = decide_pre_authorization.pre_authorization_id and p.hospital_id = v_hospital and not p.is_deleted
     for update;
  if not found then
    perform app_hidden.insurance_not_found('pre_authorization', decide_pre_authorization.pre_authorization_id);
  end if;
  if decide_pre_authorization.decision is null
     or decide_pre_authorization.decision not in ('approved', 'partially_approved', 'denied', 'cancelled') then
    perform app_hidden.raise_error('HMS_DECISION_INVALID',
      'The decision must be approved, partially_approved, denied or cancelled.', 422,
      jsonb_build_object('decision', decide_pre_authorization.decision));
  end if;
  perform app_hidden.insurance_assert_transition('pre-authorization', v_row.status, decide_pre_authorization.decision,
    '{"requested": ["approved", "partially_approved", "denied", "cancelled"]}'::jsonb);
  if v_row.status = decide_pre_authorization.decision then
    perform app_hidden.insurance_assert_transition('pre-authorization', v_row.status, decide_pre_authorization.decision, '{}'::jsonb);
  end if;

  if decide_pre_authorization.decision = 'approved' then
    v_amount := coalesce(decide_pre_authorization.approved_amount, v_row.requested_amount);
    if v_amount <> v_row.requested_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        'A full approval is for the requested amount; use partially_approved for less.', 422,
        jsonb_build_object('requested_amount', v_row.requested_amount, 'approved_amount', v_amount));
    end if;
  elsif decide_pre_authorization.decision = 'partially_approved' then
    v_amount := decide_pre_authorization.approved_amount;
    if v_amount is null or v_amount <= 0 or v_amount >= v_row.requested_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A partial approval needs an amount above 0 and below the requested %s.', v_row.requested_amount), 422,
        jsonb_build_object('requested_amount', v_row.requested_amount, 'approved_amount', v_amount));
    end if;
  elsif decide_pre_authorization.decision = 'denied' then
    if length(trim(coalesce(decide_pre_authorization.denial_reason, ''))) = 0 then
      perform app_hidden.raise_error('HMS_DENIAL_REASON_REQUIRED', 'Say why the payer denied it.', 422);
    end if;
  end if;
  if decide_pre_authorization.valid_until is not null and decide_pre_authorization.valid_until < current_date then
    perform app_hidden.raise_error('HMS_VALIDITY_INVALID', 'valid_until cannot be in the past.', 422);
  end if;

  update app_public.pre_authorizations p
     set status = decide_pre_authorization.decision,
         approved_amount = v_amount,
         insurer_reference = coalesce(decide_pre_authorization.insurer_reference, p.insurer_reference),
         denial_reason = case when decide_pre_authorization.decision = 'denied' then trim(decide_pre_authorization.denial_reason) else p.denial_reason end,
         valid_until = coalesce(decide_pre_authorization.valid_until, p.valid_until),
         decided_at = case when decide_pre_authorization.decision = 'cancelled' then p.decided_at else now() end
   where p.id = v_row.id
  returning * into v_row;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.decide_pre_authorization(uuid, text, numeric, text, text, date) is
  E'Records the payer''s answer to a requested pre-authorization: approved (for the requested amount), partially_approved (approved_amount below it), denied (denial_reason) or cancelled. Needs insurance.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 422 HMS_DECISION_INVALID, HMS_APPROVED_AMOUNT_INVALID, HMS_DENIAL_REASON_REQUIRED, HMS_VALIDITY_INVALID, 409 HMS_ILLEGAL_TRANSITION (not requested any more).';
grant execute on function app_public.decide_pre_authorization(uuid, text, numeric, text, text, date) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Claim RPCs
-- ---------------------------------------------------------------------------------------------
/* The insurer's share of an invoice total under a policy (formula in the header of this file). */
create or replace function app_hidden.insurance_claimable_amount(
  p_total numeric, p_policy app_public.insurance_policies, p_pre_authorized numeric default null
) returns numeric
language sql
immutable
as $$
  select greatest(0, least(
           round(p_total * p_policy.coverage_percent / 100, 2)
             - round(p_total * p_policy.co_pay_percent / 100, 2)
             - p_policy.co_pay_amount,
           coalesce(p_policy.per_visit_limit, 'infinity'::numeric),
           coalesce(p_policy.remaining_limit, p_policy.annual_limit, 'infinity'::numeric),
           coalesce(p_pre_authorized, 'infinity'::numeric)));
$$;
comment on function app_hidden.insurance_claimable_amount(numeric, app_public.insurance_policies, numeric) is
  'Insurer''s share: total × coverage% − total × co-pay% − co-pay amount, capped by per-visit limit, remaining (else annual) limit and the pre-authorized amount; never below 0.';

drop function if exists app_public.create_claim(uuid, uuid, text, uuid);
create or replace function app_public.create_claim(
  invoice_id uuid,
  policy_id uuid,
  claim_type text default 'cashless',
  pre_authorization_id uuid default null
) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.insurance_begin('insurance.manage');
  v_invoice app_public.invoices;
  v_policy app_public.insurance_policies;
  v_pre app_public.pre_authorizations;
  v_amount numeric;
  v_row app_public.insurance_claims;
begin
  select * into v_invoice from app_public.invoices i
   where i.id = create_claim.invoice_id and i.hospital_id = v_hospital and not i.is_deleted;
  if not found then
    perform app_hidden.insurance_not_found('invoice', create_claim.invoice_id);
  end if;
  select * into v_policy from app_public.insurance_policies p
   where p.id = create_claim.policy_id and p.hospital_id = v_hospital and not p.is_deleted;
  if not found then
    perform app_hidden.insurance_not_found('insurance_policy', create_claim.policy_id);
  end if;
  if create_claim.claim_type is null or create_claim.claim_type not in ('cashless', 'reimbursement') then
    perform app_hidden.raise_error('HMS_CLAIM_TYPE_INVALID', 'The claim type must be cashless or reimbursement.', 422,
      jsonb_build_object('claim_type', create_claim.claim_type));
  end if;
  if v_invoice.status not in ('issued', 'partially_paid', 'paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_ISSUED',
      format('Invoice %s is %s: only an issued invoice can be claimed.', v_invoice.invoice_number, v_invoice.status), 409,
      jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if v_invoice.patient_id <> v_policy.patient_id then
    perform app_hidden.raise_error('HMS_POLICY_PATIENT_MISMATCH', 'The invoice is not for the patient this policy covers.', 422,
      jsonb_build_object('invoice_patient_id', v_invoice.patient_id, 'policy_patient_id', v_policy.patient_id));
  end if;
  if v_policy.status <> 'active' or v_invoice.invoice_date < coalesce(v_policy.valid_from, v_invoice.invoice_date)
     or v_invoice.invoice_date > coalesce(v_policy.valid_to, v_invoice.invoice_date) then
    perform app_hidden.raise_error('HMS_POLICY_NOT_ACTIVE',
      format('The policy %s was not active on the invoice date %s.', v_policy.policy_number, v_invoice.invoice_date), 422,
      jsonb_build_object('policy_id', v_policy.id, 'status', v_policy.status, 'valid_from', v_policy.valid_from, 'valid_to', v_policy.valid_to));
  end if;
  -- one live claim per invoice (serialised on the invoice row)
  perform 1 from app_public.invoices i where i.id = v_invoice.id for update;
  if exists (select 1 from app_public.insurance_claims c
              where c.hospital_id = v_hospital and c.invoice_id = v_invoice.id and not c.is_deleted
                and c.status not in ('cancelled', 'denied')) then
    perform app_hidden.raise_error('HMS_CLAIM_EXISTS', 'This invoice already has an open or settled claim.', 409,
      jsonb_build_object('invoice_id', v_invoice.id));
  end if;
  if create_claim.pre_authorization_id is not null then
    select * into v_pre from app_public.pre_authorizations p
     where p.id = create_claim.pre_authorization_id and p.hospital_id = v_hospital and not p.is_deleted
       for update;
    if not found then
      perform app_hidden.insurance_not_found('pre_authorization', create_claim.pre_authorization_id);
    end if;
    if v_pre.policy_id <> v_policy.id then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_MISMATCH', 'The pre-authorization belongs to another policy.', 422);
    end if;
    if v_pre.status not in ('approved', 'partially_approved') then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_NOT_APPROVED',
        format('The pre-authorization is %s, not approved.', v_pre.status), 409, jsonb_build_object('status', v_pre.status));
    end if;
    if v_pre.valid_until is not null and v_pre.valid_until < current_date then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_NOT_APPROVED',
        format('The pre-authorization expired on %s.', v_pre.valid_until), 409, jsonb_build_object('valid_until', v_pre.valid_until));
    end if;
    if exists (select 1 from app_public.insurance_claims c
                where c.hospital_id = v_hospital and c.pre_authorization_id = v_pre.id and not c.is_deleted
                  and c.status not in ('cancelled', 'denied')) then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_IN_USE', 'Another claim already uses this pre-authorization.', 409);
    end if;
  end if;

  v_amount := app_hidden.insurance_claimable_amount(v_invoice.total_amount, v_policy, v_pre.approved_amount);
  if v_amount <= 0 then
    perform app_hidden.raise_error('HMS_CLAIM_NOTHING_TO_CLAIM',
      'Under this policy the insurer owes nothing on this invoice (coverage, co-pay or limits).', 422,
      jsonb_build_object('invoice_total', v_invoice.total_amount, 'coverage_percent', v_policy.coverage_percent,
                         'co_pay_amount', v_policy.co_pay_amount, 'remaining_limit', v_policy.remaining_limit));
  end if;

  insert into app_public.insurance_claims
    (hospital_id, invoice_id, policy_id, provider_id, patient_id, pre_authorization_id, claim_type, claimed_amount,
     diagnosis_codes)
  values
    (v_hospital, v_invoice.id, v_policy.id, v_policy.provider_id, v_policy.patient_id, v_pre.id, create_claim.claim_type,
     v_amount, coalesce(v_pre.diagnosis_codes, '{}'))
  returning * into v_row;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.create_claim(uuid, uuid, text, uuid) is
  E'Drafts a claim for the insurer''s share of an issued invoice: claimed_amount = total × coverage% − total × co-pay% − co-pay amount, capped by the per-visit limit, the remaining (else annual) limit and the pre-authorized amount. Needs insurance.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (invoice, policy, pre-authorization), 409 HMS_INVOICE_NOT_ISSUED, HMS_CLAIM_EXISTS, HMS_PRE_AUTHORIZATION_NOT_APPROVED, HMS_PRE_AUTHORIZATION_IN_USE, 422 HMS_CLAIM_TYPE_INVALID, HMS_POLICY_PATIENT_MISMATCH, HMS_POLICY_NOT_ACTIVE, HMS_PRE_AUTHORIZATION_MISMATCH, HMS_CLAIM_NOTHING_TO_CLAIM.';
grant execute on function app_public.create_claim(uuid, uuid, text, uuid) to :DATABASE_STAFF;

/* Loads a claim of the active hospital for update, or 404. */
create or replace function app_hidden.insurance_lock_claim(p_hospital uuid, p_claim_id uuid) returns app_public.insurance_claims
language plpgsql
as $$
declare
  v_row app_public.insurance_claims;
begin
  select * into v_row from app_public.insurance_claims c
   where c.id = p_claim_id and c.hospital_id = p_hospital and not c.is_deleted
     for update;
  if not found then
    perform app_hidden.insurance_not_found('insurance_claim', p_claim_id);
  end if;
  return v_row;
end;
$$;

drop function if exists app_public.submit_claim(uuid);
create or replace function app_public.submit_claim(claim_id uuid) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.insurance_begin('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.insurance_lock_claim(v_hospital, submit_claim.claim_id);
begin
  perform app_hidden.insurance_assert_transition('claim', v_row.status, 'submitted', '{"draft": ["submitted"]}'::jsonb);
  if v_row.status = 'submitted' then
    perform app_hidden.insurance_assert_transition('claim', 'submitted', 'submitted again', '{}'::jsonb);
  end if;
  update app_public.insurance_claims c
     set status = 'submitted', submitted_at = now(), submitted_by = app_hidden.current_user_id()
   where c.id = v_row.id
  returning * into v_row;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.submit_claim(uuid) is
  'Sends a draft claim to the payer (status submitted, submitted_at/by stamped). Needs insurance.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft).';
grant execute on function app_public.submit_claim(uuid) to :DATABASE_STAFF;

drop function if exists app_public.cancel_claim(uuid, text);
create or replace function app_public.cancel_claim(claim_id uuid, reason text default null) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.insurance_begin('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.insurance_lock_claim(v_hospital, cancel_claim.claim_id);
begin
  perform app_hidden.insurance_assert_transition('claim', v_row.status, 'cancelled',
    '{"draft": ["cancelled"], "submitted": ["cancelled"]}'::jsonb);
  if v_row.status = 'cancelled' then
    perform app_hidden.insurance_assert_transition('claim', 'cancelled', 'cancelled_again', '{}'::jsonb);
  end if;
  update app_public.insurance_claims c
     set status = 'cancelled',
         notes = case when nullif(trim(cancel_claim.reason), '') is null then c.notes
                      else concat_ws(E'\n', c.notes, 'Cancelled: ' || trim(cancel_claim.reason)) end
   where c.id = v_row.id
  returning * into v_row;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.cancel_claim(uuid, text) is
  'Withdraws a draft or submitted claim (status cancelled; the reason is appended to the notes). Needs insurance.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.cancel_claim(uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.decide_claim(uuid, text, numeric, text, text, text);
create or replace function app_public.decide_claim(
  claim_id uuid,
  decision text,
  approved_amount numeric default null,
  denial_reason text default null,
  denial_code text default null,
  insurer_claim_reference text default null
) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.insurance_begin('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.insurance_lock_claim(v_hospital, decide_claim.claim_id);
  v_total numeric;
  v_amount numeric;
begin
  if decide_claim.decision is null
     or decide_claim.decision not in ('under_review', 'approved', 'partially_approved', 'denied') then
    perform app_hidden.raise_error('HMS_DECISION_INVALID',
      'The decision must be under_review, approved, partially_approved or denied.', 422,
      jsonb_build_object('decision', decide_claim.decision));
  end if;
  if v_row.status = 'submitted' and decide_claim.decision <> 'under_review' then
    -- the payer's answer implies it reviewed the claim: pass through under_review
    update app_public.insurance_claims c set status = 'under_review' where c.id = v_row.id returning * into v_row;
  end if;
  perform app_hidden.insurance_assert_transition('claim', v_row.status, decide_claim.decision,
    '{"submitted": ["under_review"], "under_review": ["approved", "partially_approved", "denied"]}'::jsonb);
  if v_row.status = decide_claim.decision then
    perform app_hidden.insurance_assert_transition('claim', v_row.status, decide_claim.decision, '{}'::jsonb);
  end if;

  if decide_claim.decision = 'under_review' then
    update app_public.insurance_claims c
       set status = 'under_review',
           insurer_claim_reference = coalesce(decide_claim.insurer_claim_reference, c.insurer_claim_reference)
     where c.id = v_row.id returning * into v_row;
    perform set_config('hms.workflow', '', true);
    return v_row;
  end if;

  if decide_claim.decision = 'approved' then
    v_amount := coalesce(decide_claim.approved_amount, v_row.claimed_amount);
    if v_amount <> v_row.claimed_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A full approval is for the claimed %s; use partially_approved for less.', v_row.claimed_amount), 422,
        jsonb_build_object('claimed_amount', v_row.claimed_amount, 'approved_amount', v_amount));
    end if;
  elsif decide_claim.decision = 'partially_approved' then
    v_amount := decide_claim.approved_amount;
    if v_amount is null or v_amount < 0 or v_amount >= v_row.claimed_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A partial approval needs an amount from 0 to below the claimed %s.', v_row.claimed_amount), 422,
        jsonb_build_object('claimed_amount', v_row.claimed_amount, 'approved_amount', v_amount));
    end if;
  else
    if length(trim(coalesce(decide_claim.denial_reason, ''))) = 0 then
      perform app_hidden.raise_error('HMS_DENIAL_REASON_REQUIRED', 'Say why the payer denied the claim.', 422);
    end if;
    v_amount := 0;
  end if;

  select i.total_amount into v_total from app_public.invoices i
   where i.id = v_row.invoice_id and i.hospital_id = v_hospital
     for update;
  v_amount := least(v_amount, v_total);

  update app_public.insurance_claims c
     set status = decide_claim.decision,
         approved_amount = case when decide_claim.decision = 'denied' then null else v_amount end,
         patient_responsibility = v_total - v_amount,
         denial_reason = case when decide_claim.decision = 'denied' then trim(decide_claim.denial_reason) else c.denial_reason end,
         denial_code = case when decide_claim.decision = 'denied' then decide_claim.denial_code else c.denial_code end,
         insurer_claim_reference = coalesce(decide_claim.insurer_claim_reference, c.insurer_claim_reference),
         decided_at = now()
   where c.id = v_row.id
  returning * into v_row;

  -- the invoice's split between insurer and patient
  update app_public.invoices i
     set insurance_amount = v_amount,
         patient_amount = i.total_amount - v_amount
   where i.id = v_row.invoice_id and i.hospital_id = v_hospital;

  if v_amount > 0 then
    update app_public.insurance_policies p
       set remaining_limit = greatest(p.remaining_limit - v_amount, 0)
     where p.id = v_row.policy_id and p.remaining_limit is not null;
    if v_row.pre_authorization_id is not null then
      update app_public.pre_authorizations p set status = 'used', used_at = now()
       where p.id = v_row.pre_authorization_id and p.status in ('approved', 'partially_approved');
    end if;
  end if;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.decide_claim(uuid, text, numeric, text, text, text) is
  E'Records the payer''s decision on a submitted claim: under_review, approved (the claimed amount), partially_approved (approved_amount below it) or denied (denial_reason). An approval sets the invoice''s insurance_amount = approved and patient_amount = total − approved, lowers the policy''s remaining_limit and marks the pre-authorization used. Needs insurance.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 422 HMS_DECISION_INVALID, HMS_APPROVED_AMOUNT_INVALID, HMS_DENIAL_REASON_REQUIRED, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.decide_claim(uuid, text, numeric, text, text, text) to :DATABASE_STAFF;

drop function if exists app_public.record_claim_payment(uuid, numeric, text);
create or replace function app_public.record_claim_payment(
  claim_id uuid,
  paid_amount numeric,
  payment_reference text default null
) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.insurance_begin('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.insurance_lock_claim(v_hospital, record_claim_payment.claim_id);
begin
  perform app_hidden.insurance_assert_transition('claim', v_row.status, 'paid',
    '{"approved": ["paid"], "partially_approved": ["paid"]}'::jsonb);
  if v_row.status = 'paid' then
    perform app_hidden.insurance_assert_transition('claim', 'paid', 'paid_again', '{}'::jsonb);
  end if;
  if record_claim_payment.paid_amount is null or record_claim_payment.paid_amount <= 0
     or record_claim_payment.paid_amount > v_row.approved_amount then
    perform app_hidden.raise_error('HMS_CLAIM_PAYMENT_INVALID',
      format('The payment must be above 0 and at most the approved %s.', v_row.approved_amount), 422,
      jsonb_build_object('approved_amount', v_row.approved_amount, 'paid_amount', record_claim_payment.paid_amount));
  end if;
  update app_public.insurance_claims c
     set status = 'paid', paid_amount = record_claim_payment.paid_amount, paid_at = now(),
         payment_reference = coalesce(record_claim_payment.payment_reference, c.payment_reference)
   where c.id = v_row.id
  returning * into v_row;
  perform set_config('hms.workflow', '', true);
  return v_row;
end;
$$;
comment on function app_public.record_claim_payment(uuid, numeric, text) is
  E'Records the payer''s payment of an approved claim (status paid, paid_amount ≤ approved_amount). The cash itself is posted by billing. Needs insurance.manage. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 422 HMS_CLAIM_PAYMENT_INVALID, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.record_claim_payment(uuid, numeric, text) to :DATABASE_STAFF;

--! split: 4000-supply-chain-workflow.sql
/*
 * Supply chain workflow (issue 4): purchase orders and goods receipt as database rules.
 *
 *   create_purchase_order → draft ─approve_purchase_order─→ approved ─send_purchase_order─→ sent
 *   receive_goods (approved | sent | partially_received) → partially_received … → received
 *   cancel_purchase_order: draft | approved | sent → cancelled (with a reason)
 *
 * Status columns follow a transition table enforced by BEFORE triggers however the row is written
 * (REST PATCH, GraphQL, psql). Workflow columns (status, approval/sending/closing stamps, totals,
 * received quantities) change only through the RPCs below: a request that writes them directly
 * gets 403 HMS_WORKFLOW_PROTECTED. The RPCs mark the transaction with
 * set_config('hms.workflow', 'supply_chain', true) while they work and clear it before returning.
 *
 * Totals are computed by the database: a PO line's line_total is
 *   round(qty × cost, 2) − discount + tax, discount = round(gross × discount%, 2),
 *   tax = round((gross − discount) × tax%, 2)
 * and the header's subtotal / discount_amount / tax_amount are the sums of the lines' gross,
 * discount and tax (so total_amount = subtotal − discount + tax + shipping always holds to the
 * cent). GRN lines and headers use the same rule on quantity_received.
 *
 * receive_goods posts a goods receipt note in one go (status posted): for every medicine line it
 * creates the batch (or tops up the batch with the same medicine and batch number) and writes a
 * goods_receipt movement of the accepted quantity (received + free − rejected) into the stock
 * ledger (4100-stock-ledger.sql), whose trigger changes quantity_on_hand. Against a PO line the
 * paid accepted quantity (received − rejected, at least 0) is added to purchase_order_items.
 * quantity_received; rejected units stay outstanding. Receiving against an approved (not yet
 * sent) order stamps sent_at as well.
 */

/* ---------------------------------------------------------------------------------------------
 * Shared helpers of the supply-chain and stock workflows (4110 uses them too)
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.sc_workflow(p_on boolean) returns void
language sql
volatile
as $$
  select set_config('hms.workflow', case when p_on then 'supply_chain' else '' end, true);
$$;
comment on function app_hidden.sc_workflow(boolean) is
  'Marks (true) or unmarks (false) the transaction as running a supply-chain/stock workflow RPC, so its triggers let workflow columns change.';

/* True when a member of staff writes directly (not through a workflow RPC): workflow columns are then protected. */
create or replace function app_hidden.sc_is_direct_write() returns boolean
language sql
stable
as $$
  select app_hidden.current_user_id() is not null
     and coalesce(current_setting('hms.workflow', true), '') <> 'supply_chain';
$$;
comment on function app_hidden.sc_is_direct_write() is
  'True when the current write comes from a member of staff outside a supply-chain/stock workflow RPC.';
grant execute on function app_hidden.sc_is_direct_write() to :DATABASE_STAFF;

/* The columns (of p_columns) whose value differs between two row images. */
create or replace function app_hidden.sc_changed_columns(p_old jsonb, p_new jsonb, p_columns text[]) returns text[]
language sql
immutable
as $$
  select coalesce(array_agg(c order by c), '{}') from unnest(p_columns) c where p_old -> c is distinct from p_new -> c;
$$;
comment on function app_hidden.sc_changed_columns(jsonb, jsonb, text[]) is 'The columns of the list whose values differ between two row images.';
grant execute on function app_hidden.sc_changed_columns(jsonb, jsonb, text[]) to :DATABASE_STAFF;

/* Refuses a direct write of workflow-only columns (403 HMS_WORKFLOW_PROTECTED). */
create or replace function app_hidden.sc_protect(p_table text, p_old jsonb, p_new jsonb, p_columns text[], p_rpc text) returns void
language plpgsql
as $$
declare
  v_changed text[];
begin
  if not app_hidden.sc_is_direct_write() then
    return;
  end if;
  v_changed := app_hidden.sc_changed_columns(p_old, p_new, p_columns);
  if cardinality(v_changed) > 0 then
    perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED',
      format('%s of %s change only through the workflow (%s).', array_to_string(v_changed, ', '), p_table, p_rpc), 403,
      jsonb_build_object('table', p_table, 'columns', v_changed, 'use', p_rpc));
  end if;
end;
$$;
comment on function app_hidden.sc_protect(text, jsonb, jsonb, text[], text) is
  'Raises HMS_WORKFLOW_PROTECTED (403) when a member of staff changes workflow-only columns directly instead of through the RPC.';
grant execute on function app_hidden.sc_protect(text, jsonb, jsonb, text[], text) to :DATABASE_STAFF;

/* Did an UPDATE change anything but notes and the stamps (and computed columns)? */
create or replace function app_hidden.sc_row_changed(p_old jsonb, p_new jsonb, p_ignore text[]) returns boolean
language sql
immutable
as $$
  select exists (select 1 from jsonb_object_keys(p_new) k
                  where k <> all (p_ignore || array['notes', 'created_at', 'created_by', 'updated_at', 'updated_by'])
                    and p_old -> k is distinct from p_new -> k);
$$;
comment on function app_hidden.sc_row_changed(jsonb, jsonb, text[]) is
  'True when an update changes a column other than notes, the stamps and the listed (computed) ones.';
grant execute on function app_hidden.sc_row_changed(jsonb, jsonb, text[]) to :DATABASE_STAFF;

/* Checks a status change against a transition table {from: [to, …]} (409 HMS_ILLEGAL_TRANSITION). */
create or replace function app_hidden.sc_check_transition(p_entity text, p_from text, p_to text, p_transitions jsonb) returns void
language plpgsql
as $$
begin
  if p_from is distinct from p_to and not coalesce((p_transitions -> p_from) ? p_to, false) then
    perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
      format('A %s cannot go from %s to %s.', p_entity, p_from, p_to), 409,
      jsonb_build_object('entity', p_entity, 'from', p_from, 'to', p_to,
                         'allowed', coalesce(p_transitions -> p_from, '[]'::jsonb)));
  end if;
end;
$$;
comment on function app_hidden.sc_check_transition(text, text, text, jsonb) is
  'Raises HMS_ILLEGAL_TRANSITION (409) unless from → to is in the transition table (staying in the same status is allowed).';
grant execute on function app_hidden.sc_check_transition(text, text, text, jsonb) to :DATABASE_STAFF;

/* Raises HMS_ILLEGAL_TRANSITION (409) for a workflow step the document's status does not allow. */
create or replace function app_hidden.sc_illegal_transition(p_entity text, p_from text, p_to text) returns void
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
    format('A %s cannot go from %s to %s.', p_entity, p_from, p_to), 409,
    jsonb_build_object('entity', p_entity, 'from', p_from, 'to', p_to));
end;
$$;
comment on function app_hidden.sc_illegal_transition(text, text, text) is 'Raises HMS_ILLEGAL_TRANSITION (409): the document''s status does not allow this step.';

/* The acting member of staff and hospital, with the permission: 401 / 403 otherwise. */
create or replace function app_hidden.sc_require(p_permission text) returns uuid
language plpgsql
stable
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
begin
  if v_hospital is null or app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in as a member of staff with an active hospital.', 401);
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('You need the %s permission for this.', p_permission), 403,
      jsonb_build_object('permission', p_permission));
  end if;
  return v_hospital;
end;
$$;
comment on function app_hidden.sc_require(text) is
  'Returns the active hospital when a logged-in member of staff holds the permission; 401 HMS_SESSION_INVALID or 403 HMS_FORBIDDEN otherwise.';

create or replace function app_hidden.sc_not_found(p_entity text, p_id uuid) returns void
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_NOT_FOUND', format('No %s with that id in this hospital.', replace(p_entity, '_', ' ')), 404,
    jsonb_build_object('entity', p_entity, 'id', p_id));
end;
$$;
comment on function app_hidden.sc_not_found(text, uuid) is 'Raises HMS_NOT_FOUND (404) naming the entity.';

/* Money of a line: gross, discount, tax and total, rounded to the cent. */
create or replace function app_hidden.sc_line_amounts(p_quantity numeric, p_unit_cost numeric, p_discount_percent numeric, p_tax_percent numeric,
                                                     out gross numeric, out discount numeric, out tax numeric, out total numeric)
language plpgsql
immutable
as $$
begin
  gross := round(coalesce(p_quantity, 0) * coalesce(p_unit_cost, 0), 2);
  discount := round(gross * coalesce(p_discount_percent, 0) / 100, 2);
  tax := round((gross - discount) * coalesce(p_tax_percent, 0) / 100, 2);
  total := gross - discount + tax;
end;
$$;
comment on function app_hidden.sc_line_amounts(numeric, numeric, numeric, numeric) is
  'Gross (qty × cost), discount, tax and total of a purchase line, each rounded to the cent: total = qty × cost × (1 − discount%) × (1 + tax%).';
grant execute on function app_hidden.sc_line_amounts(numeric, numeric, numeric, numeric) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * purchase_orders: transitions, protected columns, totals
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.tg_purchase_orders__workflow() returns trigger
language plpgsql
as $$
declare
  v_transitions constant jsonb := '{
    "draft": ["approved", "cancelled"],
    "approved": ["sent", "partially_received", "received", "cancelled"],
    "sent": ["partially_received", "received", "cancelled"],
    "partially_received": ["received"],
    "received": [],
    "cancelled": []}';
begin
  if TG_OP = 'INSERT' then
    if app_hidden.sc_is_direct_write() and NEW.status <> 'draft' then
      perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED',
        'A purchase order starts as a draft; use approve_purchase_order, send_purchase_order and receive_goods to move it on.', 403,
        jsonb_build_object('table', 'purchase_orders', 'columns', array['status'], 'use', 'create_purchase_order'));
    end if;
    return NEW;
  end if;
  perform app_hidden.sc_check_transition('purchase order', OLD.status, NEW.status, v_transitions);
  perform app_hidden.sc_protect('purchase_orders', to_jsonb(OLD), to_jsonb(NEW),
    array['status', 'approved_by', 'approved_at', 'sent_at', 'closed_at', 'cancelled_at', 'cancelled_by', 'cancellation_reason'],
    'approve_purchase_order, send_purchase_order, cancel_purchase_order, receive_goods');
  if OLD.status <> 'draft' then
    perform app_hidden.sc_protect('purchase_orders', to_jsonb(OLD), to_jsonb(NEW),
      array['supplier_id', 'department_id', 'currency_code', 'shipping_amount'], 'a new purchase order (only drafts are edited)');
  end if;
  if OLD.status not in ('draft', 'cancelled') then
    perform app_hidden.sc_protect('purchase_orders', to_jsonb(OLD), to_jsonb(NEW), array['is_deleted'],
      'cancel_purchase_order (only drafts and cancelled orders are deleted)');
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_purchase_orders__workflow() is
  'BEFORE INSERT/UPDATE on purchase_orders: legal status transitions only; status, approval/sending/closing stamps (and, after the draft, supplier and prices) change only through the workflow RPCs.';
grant execute on function app_hidden.tg_purchase_orders__workflow() to :DATABASE_STAFF;

drop trigger if exists _200_workflow on app_public.purchase_orders;
create trigger _200_workflow before insert or update on app_public.purchase_orders
  for each row execute function app_hidden.tg_purchase_orders__workflow();

/* Header totals from the lines, on every write of the header (lines touch their header). */
create or replace function app_hidden.tg_purchase_orders__totals() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_sub numeric := 0;
  v_disc numeric := 0;
  v_tax numeric := 0;
begin
  if TG_OP = 'INSERT' and app_hidden.current_user_id() is null and coalesce(current_setting('hms.workflow', true), '') = '' then
    return NEW; -- a trusted writer (migration, psql) keeps the totals it gives; the totals CHECK still applies
  end if;
  if TG_OP = 'UPDATE' then
    select coalesce(sum(a.gross), 0), coalesce(sum(a.discount), 0), coalesce(sum(a.tax), 0)
      into v_sub, v_disc, v_tax
      from app_public.purchase_order_items i
     cross join lateral app_hidden.sc_line_amounts(i.quantity_ordered, i.unit_cost, i.discount_percent, i.tax_percent) a
     where i.hospital_id = NEW.hospital_id and i.purchase_order_id = NEW.id;
  end if;
  NEW.subtotal := v_sub;
  NEW.discount_amount := v_disc;
  NEW.tax_amount := v_tax;
  NEW.total_amount := v_sub - v_disc + v_tax + coalesce(NEW.shipping_amount, 0);
  return NEW;
end;
$$;
comment on function app_hidden.tg_purchase_orders__totals() is
  'BEFORE INSERT/UPDATE on purchase_orders: subtotal, discount and tax are the sums of the lines; total = subtotal − discount + tax + shipping.';

drop trigger if exists _300_totals on app_public.purchase_orders;
create trigger _300_totals before insert or update on app_public.purchase_orders
  for each row execute function app_hidden.tg_purchase_orders__totals();

/* Lines: line_total computed; direct writes only while the order is a draft. */
create or replace function app_hidden.tg_purchase_order_items__before() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_row app_public.purchase_order_items := case when TG_OP = 'DELETE' then OLD else NEW end;
  v_status text;
begin
  if app_hidden.sc_is_direct_write()
     and (TG_OP <> 'UPDATE' or app_hidden.sc_row_changed(to_jsonb(OLD), to_jsonb(NEW), array['line_total'])) then
    select po.status into v_status from app_public.purchase_orders po
     where po.id = v_row.purchase_order_id and po.hospital_id = v_row.hospital_id;
    -- An unknown order is left to the foreign key and row-level security (no permission: 42501).
    if v_status is not null and v_status <> 'draft' then
      perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED',
        format('The lines of a purchase order are edited only while it is a draft (it is %s).', v_status), 403,
        jsonb_build_object('table', 'purchase_order_items', 'status', v_status));
    end if;
    if TG_OP = 'UPDATE' and NEW.purchase_order_id is distinct from OLD.purchase_order_id then
      perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED', 'A line cannot move to another purchase order.', 403,
        jsonb_build_object('table', 'purchase_order_items', 'columns', array['purchase_order_id']));
    end if;
  end if;
  if TG_OP = 'DELETE' then
    return OLD;
  end if;
  NEW.line_total := (app_hidden.sc_line_amounts(NEW.quantity_ordered, NEW.unit_cost, NEW.discount_percent, NEW.tax_percent)).total;
  return NEW;
end;
$$;
comment on function app_hidden.tg_purchase_order_items__before() is
  'BEFORE INSERT/UPDATE/DELETE on purchase_order_items: computes line_total; staff edit lines directly (beyond their notes) only while the order is a draft.';

drop trigger if exists _200_before on app_public.purchase_order_items;
create trigger _200_before before insert or update or delete on app_public.purchase_order_items
  for each row execute function app_hidden.tg_purchase_order_items__before();

create or replace function app_hidden.tg_purchase_order_items__touch_order() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if TG_OP in ('UPDATE', 'DELETE') then
    update app_public.purchase_orders po set updated_at = now() where po.id = OLD.purchase_order_id and po.hospital_id = OLD.hospital_id;
  end if;
  if TG_OP in ('INSERT', 'UPDATE') and (TG_OP = 'INSERT' or NEW.purchase_order_id is distinct from OLD.purchase_order_id) then
    update app_public.purchase_orders po set updated_at = now() where po.id = NEW.purchase_order_id and po.hospital_id = NEW.hospital_id;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_purchase_order_items__touch_order() is
  'AFTER a line changes: rewrites its purchase order so the header totals are recomputed from the lines.';

drop trigger if exists _800_touch_order on app_public.purchase_order_items;
create trigger _800_touch_order after insert or update or delete on app_public.purchase_order_items
  for each row execute function app_hidden.tg_purchase_order_items__touch_order();

/* ---------------------------------------------------------------------------------------------
 * goods_receipt_notes and grn_items: transitions, protected columns, totals
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.tg_goods_receipt_notes__workflow() returns trigger
language plpgsql
as $$
declare
  v_transitions constant jsonb := '{"draft": ["posted", "cancelled"], "posted": [], "cancelled": []}';
begin
  if TG_OP = 'INSERT' then
    if app_hidden.sc_is_direct_write() and NEW.status <> 'draft' then
      perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED',
        'Goods are received (and the GRN posted) only through receive_goods.', 403,
        jsonb_build_object('table', 'goods_receipt_notes', 'columns', array['status'], 'use', 'receive_goods'));
    end if;
    return NEW;
  end if;
  perform app_hidden.sc_check_transition('goods receipt note', OLD.status, NEW.status, v_transitions);
  perform app_hidden.sc_protect('goods_receipt_notes', to_jsonb(OLD), to_jsonb(NEW),
    array['status', 'posted_at', 'posted_by', 'cancelled_at', 'cancelled_by', 'cancellation_reason'], 'receive_goods');
  if OLD.status <> 'draft' then
    perform app_hidden.sc_protect('goods_receipt_notes', to_jsonb(OLD), to_jsonb(NEW),
      array['purchase_order_id', 'supplier_id', 'shipping_amount', 'received_at', 'received_by', 'is_deleted'],
      'receive_goods (a posted GRN is neither edited nor deleted)');
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_goods_receipt_notes__workflow() is
  'BEFORE INSERT/UPDATE on goods_receipt_notes: legal status transitions only (draft → posted | cancelled); posting happens only through receive_goods.';
grant execute on function app_hidden.tg_goods_receipt_notes__workflow() to :DATABASE_STAFF;

drop trigger if exists _200_workflow on app_public.goods_receipt_notes;
create trigger _200_workflow before insert or update on app_public.goods_receipt_notes
  for each row execute function app_hidden.tg_goods_receipt_notes__workflow();

create or replace function app_hidden.tg_goods_receipt_notes__totals() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_sub numeric := 0;
  v_disc numeric := 0;
  v_tax numeric := 0;
begin
  if TG_OP = 'INSERT' and app_hidden.current_user_id() is null and coalesce(current_setting('hms.workflow', true), '') = '' then
    return NEW; -- a trusted writer (migration, psql) keeps the totals it gives; the totals CHECK still applies
  end if;
  if TG_OP = 'UPDATE' then
    select coalesce(sum(a.gross), 0), coalesce(sum(a.discount), 0), coalesce(sum(a.tax), 0)
      into v_sub, v_disc, v_tax
      from app_public.grn_items i
     cross join lateral app_hidden.sc_line_amounts(i.quantity_received, i.unit_cost, i.discount_percent, i.tax_percent) a
     where i.hospital_id = NEW.hospital_id and i.grn_id = NEW.id;
  end if;
  NEW.subtotal := v_sub;
  NEW.discount_amount := v_disc;
  NEW.tax_amount := v_tax;
  NEW.total_amount := v_sub - v_disc + v_tax + coalesce(NEW.shipping_amount, 0);
  return NEW;
end;
$$;
comment on function app_hidden.tg_goods_receipt_notes__totals() is
  'BEFORE INSERT/UPDATE on goods_receipt_notes: subtotal, discount and tax are the sums of the lines; total = subtotal − discount + tax + shipping.';

drop trigger if exists _300_totals on app_public.goods_receipt_notes;
create trigger _300_totals before insert or update on app_public.goods_receipt_notes
  for each row execute function app_hidden.tg_goods_receipt_notes__totals();

create or replace function app_hidden.tg_grn_items__before() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_row app_public.grn_items := case when TG_OP = 'DELETE' then OLD else NEW end;
  v_status text;
begin
  if app_hidden.sc_is_direct_write()
     and (TG_OP <> 'UPDATE' or app_hidden.sc_row_changed(to_jsonb(OLD), to_jsonb(NEW), array['line_total', 'quantity_accepted'])) then
    select g.status into v_status from app_public.goods_receipt_notes g where g.id = v_row.grn_id and g.hospital_id = v_row.hospital_id;
    if (v_status is not null and v_status <> 'draft') or (TG_OP = 'UPDATE' and NEW.grn_id is distinct from OLD.grn_id) then
      perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED',
        format('The lines of a goods receipt note are edited only while it is a draft (it is %s).', v_status), 403,
        jsonb_build_object('table', 'grn_items', 'status', v_status));
    end if;
  end if;
  if TG_OP = 'DELETE' then
    return OLD;
  end if;
  NEW.line_total := (app_hidden.sc_line_amounts(NEW.quantity_received, NEW.unit_cost, NEW.discount_percent, NEW.tax_percent)).total;
  return NEW;
end;
$$;
comment on function app_hidden.tg_grn_items__before() is
  'BEFORE INSERT/UPDATE/DELETE on grn_items: computes line_total; staff edit lines directly (beyond their notes) only while the GRN is a draft.';

drop trigger if exists _200_before on app_public.grn_items;
create trigger _200_before before insert or update or delete on app_public.grn_items
  for each row execute function app_hidden.tg_grn_items__before();

create or replace function app_hidden.tg_grn_items__touch_grn() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if TG_OP in ('UPDATE', 'DELETE') then
    update app_public.goods_receipt_notes g set updated_at = now() where g.id = OLD.grn_id and g.hospital_id = OLD.hospital_id;
  end if;
  if TG_OP = 'INSERT' or (TG_OP = 'UPDATE' and NEW.grn_id is distinct from OLD.grn_id) then
    update app_public.goods_receipt_notes g set updated_at = now() where g.id = NEW.grn_id and g.hospital_id = NEW.hospital_id;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_grn_items__touch_grn() is
  'AFTER a GRN line changes: rewrites its GRN so the header totals are recomputed from the lines.';

drop trigger if exists _800_touch_grn on app_public.grn_items;
create trigger _800_touch_grn after insert or update or delete on app_public.grn_items
  for each row execute function app_hidden.tg_grn_items__touch_grn();

/* ---------------------------------------------------------------------------------------------
 * RPCs: purchase orders
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.create_purchase_order(uuid, jsonb, date, text);
create function app_public.create_purchase_order(
  supplier_id uuid,
  items jsonb,
  expected_delivery_date date default null,
  notes text default null
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.manage');
  v_supplier app_public.suppliers;
  v_po app_public.purchase_orders;
  v_item jsonb;
  v_line integer := 0;
  v_type text;
  v_medicine uuid;
  v_product uuid;
  v_description text;
  v_qty integer;
  v_free integer;
  v_cost numeric;
  v_disc numeric;
  v_tax numeric;
  v_pack integer;
  v_expected date;
  v_has_medicine boolean := false;
begin
  select * into v_supplier from app_public.suppliers s
   where s.id = create_purchase_order.supplier_id and s.hospital_id = v_hospital and not s.is_deleted;
  if not found then
    perform app_hidden.sc_not_found('supplier', create_purchase_order.supplier_id);
  end if;
  if not v_supplier.is_active then
    perform app_hidden.raise_error('HMS_SUPPLIER_INACTIVE', format('%s is no longer an active supplier.', v_supplier.name), 422,
      jsonb_build_object('supplier_id', v_supplier.id));
  end if;
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    perform app_hidden.raise_error('HMS_ITEMS_REQUIRED', 'A purchase order needs at least one line (items: a non-empty JSON array).', 422);
  end if;
  if create_purchase_order.expected_delivery_date is not null and create_purchase_order.expected_delivery_date < current_date then
    perform app_hidden.raise_error('HMS_INVALID_DATE', 'The expected delivery date cannot be in the past.', 422,
      jsonb_build_object('field', 'expected_delivery_date'));
  end if;

  perform app_hidden.sc_workflow(true);
  insert into app_public.purchase_orders (hospital_id, supplier_id, status, expected_delivery_date, currency_code, notes, payment_terms)
  values (v_hospital, v_supplier.id, 'draft', create_purchase_order.expected_delivery_date, v_supplier.currency_code,
          create_purchase_order.notes,
          case when v_supplier.payment_terms_days is not null then format('Net %s days', v_supplier.payment_terms_days) end)
  returning * into v_po;

  for v_item in select value from jsonb_array_elements(items) loop
    v_line := v_line + 1;
    if jsonb_typeof(v_item) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s is not a JSON object.', v_line), 422, jsonb_build_object('line', v_line));
    end if;
    begin
      v_medicine := (v_item ->> 'medicine_id')::uuid;
      v_product := (v_item ->> 'optical_product_id')::uuid;
      v_description := nullif(trim(v_item ->> 'description'), '');
      v_qty := coalesce(v_item ->> 'quantity_ordered', v_item ->> 'quantity')::integer;
      v_free := coalesce((v_item ->> 'free_quantity')::integer, 0);
      v_cost := (v_item ->> 'unit_cost')::numeric;
      v_disc := coalesce((v_item ->> 'discount_percent')::numeric, 0);
      v_tax := coalesce((v_item ->> 'tax_percent')::numeric, 0);
      v_pack := (v_item ->> 'pack_size')::integer;
      v_expected := (v_item ->> 'expected_date')::date;
    exception when data_exception then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s has a value of the wrong type (%s).', v_line, sqlerrm), 422,
        jsonb_build_object('line', v_line));
    end;
    if num_nonnulls(v_medicine, v_product) > 1 or (num_nonnulls(v_medicine, v_product) = 0 and v_description is null) then
      perform app_hidden.raise_error('HMS_ITEM_INVALID',
        format('Line %s must name one medicine_id or one optical_product_id (or describe a consumable).', v_line), 422,
        jsonb_build_object('line', v_line));
    end if;
    if v_qty is null or v_qty <= 0 or v_free < 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: the quantity ordered must be a whole number above 0 (free quantity at least 0).', v_line), 422,
        jsonb_build_object('line', v_line));
    end if;
    if v_cost is null or v_cost < 0 then
      perform app_hidden.raise_error('HMS_INVALID_PRICE', format('Line %s: unit_cost is required and cannot be negative.', v_line), 422,
        jsonb_build_object('line', v_line));
    end if;
    if v_disc not between 0 and 100 or v_tax not between 0 and 100 then
      perform app_hidden.raise_error('HMS_INVALID_PERCENT', format('Line %s: discount and tax percentages are between 0 and 100.', v_line), 422,
        jsonb_build_object('line', v_line));
    end if;
    if v_pack is not null and v_pack <= 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: pack_size must be above 0.', v_line), 422, jsonb_build_object('line', v_line));
    end if;
    if v_medicine is not null then
      v_type := 'medicine';
      v_has_medicine := true;
      select coalesce(v_pack, m.pack_size), coalesce(v_description, m.generic_name) into v_pack, v_description
        from app_public.medicines m where m.id = v_medicine and m.hospital_id = v_hospital and not m.is_deleted;
      if not found then
        perform app_hidden.sc_not_found('medicine', v_medicine);
      end if;
    elsif v_product is not null then
      v_type := 'optical_product';
      select coalesce(v_description, p.name) into v_description
        from app_public.optical_products p where p.id = v_product and p.hospital_id = v_hospital and not p.is_deleted;
      if not found then
        perform app_hidden.sc_not_found('optical_product', v_product);
      end if;
    else
      v_type := 'consumable';
    end if;
    insert into app_public.purchase_order_items
      (hospital_id, purchase_order_id, line_number, item_type, medicine_id, optical_product_id, description, pack_size,
       quantity_ordered, free_quantity, unit_cost, discount_percent, tax_percent, expected_date, notes)
    values (v_hospital, v_po.id, v_line, v_type, v_medicine, v_product, v_description, coalesce(v_pack, 1),
            v_qty, v_free, v_cost, v_disc, v_tax, v_expected, v_item ->> 'notes');
  end loop;

  if v_has_medicine and v_supplier.drug_licence_expiry is not null and v_supplier.drug_licence_expiry < current_date then
    perform app_hidden.raise_error('HMS_SUPPLIER_LICENCE_EXPIRED',
      format('The drug licence of %s expired on %s: medicines cannot be ordered from it.', v_supplier.name, v_supplier.drug_licence_expiry), 422,
      jsonb_build_object('supplier_id', v_supplier.id, 'drug_licence_expiry', v_supplier.drug_licence_expiry));
  end if;
  perform app_hidden.sc_workflow(false);

  select * into v_po from app_public.purchase_orders where id = v_po.id;
  return json_build_object('id', v_po.id, 'po_number', v_po.po_number, 'status', v_po.status, 'supplier_id', v_po.supplier_id,
    'subtotal', v_po.subtotal, 'discount_amount', v_po.discount_amount, 'tax_amount', v_po.tax_amount,
    'total_amount', v_po.total_amount, 'line_count', v_line);
end;
$$;
comment on function app_public.create_purchase_order(uuid, jsonb, date, text) is
E'Creates a draft purchase order with its lines (needs inventory.manage). items: [{medicine_id | optical_product_id | description (consumable), quantity_ordered, unit_cost, discount_percent?, tax_percent?, free_quantity?, pack_size?, expected_date?, notes?}]. Line totals = qty × cost × (1 − discount%) × (1 + tax%) and the order totals are computed by the database. Returns {id, po_number, status, subtotal, discount_amount, tax_amount, total_amount, line_count}.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (supplier, medicine, optical_product); 422 HMS_SUPPLIER_INACTIVE, HMS_SUPPLIER_LICENCE_EXPIRED, HMS_ITEMS_REQUIRED, HMS_ITEM_INVALID, HMS_INVALID_QUANTITY, HMS_INVALID_PRICE, HMS_INVALID_PERCENT, HMS_INVALID_DATE, HMS_INVALID_INPUT.';
grant execute on function app_public.create_purchase_order(uuid, jsonb, date, text) to :DATABASE_STAFF;

/* Loads a purchase order of the hospital for update (404 otherwise). */
create or replace function app_hidden.sc_lock_purchase_order(p_hospital uuid, p_po_id uuid) returns app_public.purchase_orders
language plpgsql
as $$
declare
  v_po app_public.purchase_orders;
begin
  select * into v_po from app_public.purchase_orders po
   where po.id = p_po_id and po.hospital_id = p_hospital and not po.is_deleted
     for update;
  if not found then
    perform app_hidden.sc_not_found('purchase_order', p_po_id);
  end if;
  return v_po;
end;
$$;
comment on function app_hidden.sc_lock_purchase_order(uuid, uuid) is 'The purchase order of the hospital, locked for update; 404 HMS_NOT_FOUND otherwise.';

create or replace function app_hidden.sc_po_json(p_po app_public.purchase_orders) returns json
language sql
stable
as $$
  select json_build_object('id', p_po.id, 'po_number', p_po.po_number, 'status', p_po.status,
    'approved_by', p_po.approved_by, 'approved_at', p_po.approved_at, 'sent_at', p_po.sent_at, 'closed_at', p_po.closed_at,
    'cancelled_at', p_po.cancelled_at, 'cancellation_reason', p_po.cancellation_reason,
    'subtotal', p_po.subtotal, 'tax_amount', p_po.tax_amount, 'total_amount', p_po.total_amount);
$$;
comment on function app_hidden.sc_po_json(app_public.purchase_orders) is 'The workflow view of a purchase order returned by its RPCs.';

drop function if exists app_public.approve_purchase_order(uuid);
create function app_public.approve_purchase_order(po_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.approve');
  v_user uuid := app_hidden.current_user_id();
  v_po app_public.purchase_orders := app_hidden.sc_lock_purchase_order(v_hospital, po_id);
begin
  if v_po.status <> 'draft' then
    perform app_hidden.sc_illegal_transition('purchase order', v_po.status, 'approved');
  end if;
  if v_po.created_by = v_user then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      'A purchase order is approved by someone other than the person who raised it.', 409,
      jsonb_build_object('purchase_order_id', v_po.id, 'created_by', v_po.created_by));
  end if;
  perform app_hidden.sc_workflow(true);
  update app_public.purchase_orders po set status = 'approved', approved_by = v_user, approved_at = now()
   where po.id = v_po.id returning * into v_po;
  perform app_hidden.sc_workflow(false);
  return app_hidden.sc_po_json(v_po);
end;
$$;
comment on function app_public.approve_purchase_order(uuid) is
E'Approves a draft purchase order (needs inventory.approve); the approver must not be the person who created it. Returns the order''s workflow fields.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not a draft), HMS_APPROVAL_BY_OTHER_USER.';
grant execute on function app_public.approve_purchase_order(uuid) to :DATABASE_STAFF;

drop function if exists app_public.send_purchase_order(uuid);
create function app_public.send_purchase_order(po_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.manage');
  v_po app_public.purchase_orders := app_hidden.sc_lock_purchase_order(v_hospital, po_id);
begin
  if v_po.status <> 'approved' then
    perform app_hidden.sc_illegal_transition('purchase order', v_po.status, 'sent');
  end if;
  perform app_hidden.sc_workflow(true);
  update app_public.purchase_orders po set status = 'sent', sent_at = now() where po.id = v_po.id returning * into v_po;
  perform app_hidden.sc_workflow(false);
  return app_hidden.sc_po_json(v_po);
end;
$$;
comment on function app_public.send_purchase_order(uuid) is
E'Marks an approved purchase order as sent to the supplier (needs inventory.manage).\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not approved).';
grant execute on function app_public.send_purchase_order(uuid) to :DATABASE_STAFF;

drop function if exists app_public.cancel_purchase_order(uuid, text);
create function app_public.cancel_purchase_order(po_id uuid, reason text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.manage');
  v_po app_public.purchase_orders := app_hidden.sc_lock_purchase_order(v_hospital, po_id);
begin
  if v_po.status not in ('draft', 'approved', 'sent') then
    perform app_hidden.sc_illegal_transition('purchase order', v_po.status, 'cancelled');
  end if;
  if nullif(trim(reason), '') is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the purchase order is cancelled.', 422, jsonb_build_object('field', 'reason'));
  end if;
  perform app_hidden.sc_workflow(true);
  update app_public.purchase_orders po
     set status = 'cancelled', cancelled_at = now(), cancelled_by = app_hidden.current_user_id(), cancellation_reason = trim(reason)
   where po.id = v_po.id returning * into v_po;
  perform app_hidden.sc_workflow(false);
  return app_hidden.sc_po_json(v_po);
end;
$$;
comment on function app_public.cancel_purchase_order(uuid, text) is
E'Cancels a draft, approved or sent purchase order with a reason (needs inventory.manage). Orders with goods received cannot be cancelled.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION; 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.cancel_purchase_order(uuid, text) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * RPC: receive_goods
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.receive_goods(uuid, uuid, jsonb, text, date, numeric, text, uuid, text);
create function app_public.receive_goods(
  purchase_order_id uuid default null,
  supplier_id uuid default null,
  items jsonb default null,
  supplier_invoice_number text default null,
  supplier_invoice_date date default null,
  supplier_invoice_amount numeric default null,
  delivery_note_number text default null,
  department_id uuid default null,
  notes text default null
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.manage');
  v_user uuid := app_hidden.current_user_id();
  v_po app_public.purchase_orders;
  v_supplier app_public.suppliers;
  v_grn app_public.goods_receipt_notes;
  v_poi app_public.purchase_order_items;
  v_batch app_public.medicine_batches;
  v_grn_item app_public.grn_items;
  v_item jsonb;
  v_line integer := 0;
  v_poi_id uuid;
  v_medicine uuid;
  v_product uuid;
  v_type text;
  v_description text;
  v_batch_number text;
  v_mfg date;
  v_expiry date;
  v_qty integer;
  v_free integer;
  v_rejected integer;
  v_cost numeric;
  v_mrp numeric;
  v_price numeric;
  v_disc numeric;
  v_tax numeric;
  v_accepted integer;
  v_any_rejected boolean := false;
  v_any_accepted boolean := false;
  v_count integer;
  v_result jsonb := '[]';
begin
  if receive_goods.purchase_order_id is null and receive_goods.supplier_id is null then
    perform app_hidden.raise_error('HMS_SUPPLIER_REQUIRED', 'Name the purchase order received against, or the supplier of a direct receipt.', 422);
  end if;
  if receive_goods.purchase_order_id is not null then
    v_po := app_hidden.sc_lock_purchase_order(v_hospital, receive_goods.purchase_order_id);
    if receive_goods.supplier_id is not null and receive_goods.supplier_id <> v_po.supplier_id then
      perform app_hidden.raise_error('HMS_SUPPLIER_MISMATCH', 'The supplier is not the supplier of the purchase order.', 422,
        jsonb_build_object('purchase_order_supplier_id', v_po.supplier_id, 'supplier_id', receive_goods.supplier_id));
    end if;
    if v_po.status not in ('approved', 'sent', 'partially_received') then
      perform app_hidden.raise_error('HMS_PURCHASE_ORDER_NOT_RECEIVABLE',
        format('Goods are received only against an approved, sent or partially received purchase order (this one is %s).', v_po.status), 409,
        jsonb_build_object('purchase_order_id', v_po.id, 'status', v_po.status));
    end if;
  end if;
  select * into v_supplier from app_public.suppliers s
   where s.id = coalesce(v_po.supplier_id, receive_goods.supplier_id) and s.hospital_id = v_hospital and not s.is_deleted;
  if not found then
    perform app_hidden.sc_not_found('supplier', coalesce(v_po.supplier_id, receive_goods.supplier_id));
  end if;
  if v_po.id is null and not v_supplier.is_active then
    perform app_hidden.raise_error('HMS_SUPPLIER_INACTIVE', format('%s is no longer an active supplier.', v_supplier.name), 422,
      jsonb_build_object('supplier_id', v_supplier.id));
  end if;
  if receive_goods.department_id is not null
     and not exists (select 1 from app_public.departments d where d.id = receive_goods.department_id and d.hospital_id = v_hospital) then
    perform app_hidden.sc_not_found('department', receive_goods.department_id);
  end if;
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    perform app_hidden.raise_error('HMS_ITEMS_REQUIRED', 'A goods receipt needs at least one line (items: a non-empty JSON array).', 422);
  end if;
  if receive_goods.supplier_invoice_amount is not null and receive_goods.supplier_invoice_amount < 0 then
    perform app_hidden.raise_error('HMS_INVALID_PRICE', 'The supplier invoice amount cannot be negative.', 422);
  end if;
  if nullif(trim(receive_goods.supplier_invoice_number), '') is not null and exists (
       select 1 from app_public.goods_receipt_notes g
        where g.hospital_id = v_hospital and g.supplier_id = v_supplier.id
          and g.supplier_invoice_number = trim(receive_goods.supplier_invoice_number)
          and g.status <> 'cancelled' and not g.is_deleted) then
    perform app_hidden.raise_error('HMS_DUPLICATE_SUPPLIER_INVOICE',
      format('Supplier invoice %s of %s was already received.', trim(receive_goods.supplier_invoice_number), v_supplier.name), 409,
      jsonb_build_object('supplier_invoice_number', trim(receive_goods.supplier_invoice_number)));
  end if;

  perform app_hidden.sc_workflow(true);
  insert into app_public.goods_receipt_notes
    (hospital_id, purchase_order_id, supplier_id, department_id, received_at, received_by, supplier_invoice_number,
     supplier_invoice_date, supplier_invoice_amount, delivery_note_number, status, posted_at, posted_by, notes)
  values (v_hospital, v_po.id, v_supplier.id, coalesce(receive_goods.department_id, v_po.department_id), now(), v_user,
          nullif(trim(receive_goods.supplier_invoice_number), ''), receive_goods.supplier_invoice_date,
          receive_goods.supplier_invoice_amount, receive_goods.delivery_note_number, 'posted', now(), v_user, receive_goods.notes)
  returning * into v_grn;

  for v_item in select value from jsonb_array_elements(items) loop
    v_line := v_line + 1;
    if jsonb_typeof(v_item) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s is not a JSON object.', v_line), 422, jsonb_build_object('line', v_line));
    end if;
    begin
      v_poi_id := (v_item ->> 'purchase_order_item_id')::uuid;
      v_medicine := (v_item ->> 'medicine_id')::uuid;
      v_product := (v_item ->> 'optical_product_id')::uuid;
      v_description := nullif(trim(v_item ->> 'description'), '');
      v_batch_number := nullif(trim(v_item ->> 'batch_number'), '');
      v_mfg := (v_item ->> 'manufacture_date')::date;
      v_expiry := (v_item ->> 'expiry_date')::date;
      v_qty := (v_item ->> 'quantity_received')::integer;
      v_free := coalesce((v_item ->> 'free_quantity')::integer, 0);
      v_rejected := coalesce((v_item ->> 'quantity_rejected')::integer, 0);
      v_cost := (v_item ->> 'unit_cost')::numeric;
      v_mrp := (v_item ->> 'mrp')::numeric;
      v_price := (v_item ->> 'selling_price')::numeric;
      v_disc := (v_item ->> 'discount_percent')::numeric;
      v_tax := (v_item ->> 'tax_percent')::numeric;
    exception when data_exception then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s has a value of the wrong type (%s).', v_line, sqlerrm), 422,
        jsonb_build_object('line', v_line));
    end;

    -- The purchase order line: named, or the one open line of the same item.
    v_poi := null;
    if v_poi_id is not null then
      if v_po.id is null then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s names a purchase order line but no purchase order is given.', v_line), 422,
          jsonb_build_object('line', v_line));
      end if;
      select * into v_poi from app_public.purchase_order_items i
       where i.id = v_poi_id and i.hospital_id = v_hospital for update;
      if not found then
        perform app_hidden.sc_not_found('purchase_order_item', v_poi_id);
      end if;
      if v_poi.purchase_order_id <> v_po.id then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s: that line belongs to another purchase order.', v_line), 422,
          jsonb_build_object('line', v_line, 'purchase_order_item_id', v_poi_id));
      end if;
    elsif v_po.id is not null then
      select count(*) into v_count from app_public.purchase_order_items i
       where i.hospital_id = v_hospital and i.purchase_order_id = v_po.id
         and ((v_medicine is not null and i.medicine_id = v_medicine) or (v_product is not null and i.optical_product_id = v_product));
      if v_count <> 1 then
        perform app_hidden.raise_error('HMS_PO_ITEM_REQUIRED',
          format('Line %s: say which purchase order line (purchase_order_item_id) it receives.', v_line), 422, jsonb_build_object('line', v_line));
      end if;
      select * into v_poi from app_public.purchase_order_items i
       where i.hospital_id = v_hospital and i.purchase_order_id = v_po.id
         and ((v_medicine is not null and i.medicine_id = v_medicine) or (v_product is not null and i.optical_product_id = v_product))
         for update;
    end if;
    if v_poi.id is not null then
      if (v_medicine is not null and v_medicine is distinct from v_poi.medicine_id)
         or (v_product is not null and v_product is distinct from v_poi.optical_product_id) then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s: the item is not the item of the purchase order line.', v_line), 422,
          jsonb_build_object('line', v_line, 'purchase_order_item_id', v_poi.id));
      end if;
      v_medicine := v_poi.medicine_id;
      v_product := v_poi.optical_product_id;
      v_description := coalesce(v_description, v_poi.description);
      v_cost := coalesce(v_cost, v_poi.unit_cost);
      v_disc := coalesce(v_disc, v_poi.discount_percent);
      v_tax := coalesce(v_tax, v_poi.tax_percent);
    end if;

    if num_nonnulls(v_medicine, v_product) > 1 or (num_nonnulls(v_medicine, v_product) = 0 and v_description is null) then
      perform app_hidden.raise_error('HMS_ITEM_INVALID',
        format('Line %s must name one medicine_id or one optical_product_id (or describe a consumable).', v_line), 422, jsonb_build_object('line', v_line));
    end if;
    if v_qty is null or v_qty <= 0 or v_free < 0 or v_rejected < 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY',
        format('Line %s: quantity_received must be above 0; free_quantity and quantity_rejected at least 0.', v_line), 422, jsonb_build_object('line', v_line));
    end if;
    if v_rejected > v_qty + v_free then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: more units rejected than delivered.', v_line), 422, jsonb_build_object('line', v_line));
    end if;
    if v_rejected > 0 and nullif(trim(v_item ->> 'rejection_reason'), '') is null then
      perform app_hidden.raise_error('HMS_REJECTION_REASON_REQUIRED', format('Line %s: say why units were rejected (rejection_reason).', v_line), 422,
        jsonb_build_object('line', v_line));
    end if;
    if v_cost is null or v_cost < 0 or v_mrp < 0 or v_price < 0 or (v_mrp is not null and v_price is not null and v_price > v_mrp) then
      perform app_hidden.raise_error('HMS_INVALID_PRICE',
        format('Line %s: unit_cost is required; prices cannot be negative and the selling price cannot exceed the MRP.', v_line), 422,
        jsonb_build_object('line', v_line));
    end if;
    if coalesce(v_disc, 0) not between 0 and 100 or coalesce(v_tax, 0) not between 0 and 100 then
      perform app_hidden.raise_error('HMS_INVALID_PERCENT', format('Line %s: discount and tax percentages are between 0 and 100.', v_line), 422,
        jsonb_build_object('line', v_line));
    end if;
    if v_poi.id is not null and v_qty > v_poi.quantity_ordered - v_poi.quantity_received then
      perform app_hidden.raise_error('HMS_QUANTITY_EXCEEDS_OUTSTANDING',
        format('Line %s: %s received but only %s of the purchase order line are outstanding.', v_line, v_qty,
               v_poi.quantity_ordered - v_poi.quantity_received), 422,
        jsonb_build_object('line', v_line, 'purchase_order_item_id', v_poi.id, 'outstanding', v_poi.quantity_ordered - v_poi.quantity_received,
                           'quantity_received', v_qty));
    end if;

    v_accepted := v_qty + v_free - v_rejected;
    v_any_rejected := v_any_rejected or v_rejected > 0;
    v_any_accepted := v_any_accepted or v_accepted > 0;
    v_batch := null;

    if v_medicine is not null then
      v_type := 'medicine';
      if not exists (select 1 from app_public.medicines m where m.id = v_medicine and m.hospital_id = v_hospital and not m.is_deleted) then
        perform app_hidden.sc_not_found('medicine', v_medicine);
      end if;
      if v_po.id is null and v_supplier.drug_licence_expiry is not null and v_supplier.drug_licence_expiry < current_date then
        perform app_hidden.raise_error('HMS_SUPPLIER_LICENCE_EXPIRED',
          format('The drug licence of %s expired on %s: medicines cannot be bought from it.', v_supplier.name, v_supplier.drug_licence_expiry), 422,
          jsonb_build_object('supplier_id', v_supplier.id, 'drug_licence_expiry', v_supplier.drug_licence_expiry));
      end if;
      if v_batch_number is null or length(v_batch_number) > 64 then
        perform app_hidden.raise_error('HMS_BATCH_REQUIRED', format('Line %s: the batch number printed on the pack is required (at most 64 characters).', v_line), 422,
          jsonb_build_object('line', v_line));
      end if;
      if v_expiry is null or v_expiry <= current_date then
        perform app_hidden.raise_error('HMS_EXPIRY_INVALID', format('Line %s: a medicine needs an expiry date in the future.', v_line), 422,
          jsonb_build_object('line', v_line, 'expiry_date', v_expiry));
      end if;
      if v_mfg is not null and (v_mfg >= v_expiry or v_mfg > current_date) then
        perform app_hidden.raise_error('HMS_INVALID_DATE', format('Line %s: the manufacture date must be before the expiry date and not in the future.', v_line), 422,
          jsonb_build_object('line', v_line, 'field', 'manufacture_date'));
      end if;
      if v_accepted > 0 then
        select * into v_batch from app_public.medicine_batches b
         where b.hospital_id = v_hospital and b.medicine_id = v_medicine and b.batch_number = v_batch_number
           for update;
        if found then
          if v_batch.expiry_date <> v_expiry then
            perform app_hidden.raise_error('HMS_BATCH_EXPIRY_MISMATCH',
              format('Line %s: batch %s is on file with expiry %s, not %s.', v_line, v_batch_number, v_batch.expiry_date, v_expiry), 422,
              jsonb_build_object('line', v_line, 'batch_id', v_batch.id, 'expiry_date', v_batch.expiry_date));
          end if;
          if v_batch.status in ('recalled', 'expired') then
            perform app_hidden.raise_error('HMS_BATCH_NOT_RECEIVABLE',
              format('Line %s: batch %s is %s and cannot be topped up.', v_line, v_batch_number, v_batch.status), 409,
              jsonb_build_object('line', v_line, 'batch_id', v_batch.id, 'status', v_batch.status));
          end if;
          if coalesce(v_price, v_batch.selling_price) > coalesce(v_mrp, v_batch.mrp) then
            perform app_hidden.raise_error('HMS_INVALID_PRICE',
              format('Line %s: the selling price of batch %s cannot exceed its MRP.', v_line, v_batch_number), 422, jsonb_build_object('line', v_line));
          end if;
          update app_public.medicine_batches b
             set quantity_received = b.quantity_received + v_accepted,
                 mrp = coalesce(v_mrp, b.mrp),
                 selling_price = coalesce(v_price, b.selling_price),
                 manufacture_date = coalesce(b.manufacture_date, v_mfg),
                 received_at = now()
           where b.id = v_batch.id
          returning * into v_batch;
        else
          insert into app_public.medicine_batches
            (hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, quantity_received, quantity_on_hand,
             unit_cost, mrp, selling_price, received_at, storage_location, status)
          values (v_hospital, v_medicine, v_batch_number, v_mfg, v_expiry, v_accepted, 0, v_cost, v_mrp, v_price, now(),
                  nullif(trim(v_item ->> 'storage_location'), ''), 'active')
          returning * into v_batch;
        end if;
      end if;
    elsif v_product is not null then
      v_type := 'optical_product';
      if not exists (select 1 from app_public.optical_products p where p.id = v_product and p.hospital_id = v_hospital and not p.is_deleted) then
        perform app_hidden.sc_not_found('optical_product', v_product);
      end if;
    else
      v_type := 'consumable';
    end if;

    insert into app_public.grn_items
      (hospital_id, grn_id, line_number, purchase_order_item_id, item_type, medicine_id, optical_product_id, description,
       batch_number, manufacture_date, expiry_date, quantity_received, free_quantity, quantity_rejected, rejection_reason,
       unit_cost, mrp, selling_price, discount_percent, tax_percent, batch_id, notes)
    values (v_hospital, v_grn.id, v_line, v_poi.id, v_type, v_medicine, v_product, v_description,
            case when v_type = 'medicine' then v_batch_number end, case when v_type = 'medicine' then v_mfg end,
            case when v_type = 'medicine' then v_expiry end, v_qty, v_free, v_rejected, nullif(trim(v_item ->> 'rejection_reason'), ''),
            v_cost, v_mrp, v_price, coalesce(v_disc, 0), coalesce(v_tax, 0), v_batch.id, v_item ->> 'notes')
    returning * into v_grn_item;

    if v_accepted > 0 and v_type = 'medicine' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, unit_cost, grn_item_id, reason, performed_by)
      values (v_hospital, 'goods_receipt', 'medicine', v_medicine, v_batch.id, v_accepted, 0, v_cost, v_grn_item.id,
              format('Goods receipt %s, line %s.', v_grn.grn_number, v_line), v_user);
    elsif v_accepted > 0 and v_type = 'optical_product' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after, unit_cost, grn_item_id, reason, performed_by)
      values (v_hospital, 'goods_receipt', 'optical_product', v_product, v_accepted, 0, v_cost, v_grn_item.id,
              format('Goods receipt %s, line %s.', v_grn.grn_number, v_line), v_user);
    end if;

    if v_poi.id is not null then
      update app_public.purchase_order_items i
         set quantity_received = i.quantity_received + greatest(v_qty - v_rejected, 0)
       where i.id = v_poi.id;
    end if;

    v_result := v_result || jsonb_build_object('grn_item_id', v_grn_item.id, 'line_number', v_line, 'item_type', v_type,
      'batch_id', v_batch.id, 'quantity_accepted', v_accepted, 'balance_after',
      case when v_type = 'medicine' then (select b.quantity_on_hand from app_public.medicine_batches b where b.id = v_batch.id)
           when v_type = 'optical_product' then (select p.quantity_on_hand from app_public.optical_products p where p.id = v_product) end);
  end loop;

  update app_public.goods_receipt_notes g
     set inspection_status = case when not v_any_rejected then 'passed' when v_any_accepted then 'partial' else 'failed' end,
         inspected_at = now(), inspected_by = v_user
   where g.id = v_grn.id
  returning * into v_grn;

  if v_po.id is not null then
    update app_public.purchase_orders po
       set status = case when exists (select 1 from app_public.purchase_order_items i
                                        where i.hospital_id = v_hospital and i.purchase_order_id = po.id
                                          and i.quantity_received < i.quantity_ordered)
                         then 'partially_received' else 'received' end,
           sent_at = coalesce(po.sent_at, now())
     where po.id = v_po.id
    returning * into v_po;
    if v_po.status = 'received' then
      update app_public.purchase_orders po set closed_at = now() where po.id = v_po.id returning * into v_po;
    end if;
  end if;
  perform app_hidden.sc_workflow(false);

  return json_build_object('id', v_grn.id, 'grn_number', v_grn.grn_number, 'status', v_grn.status,
    'inspection_status', v_grn.inspection_status, 'supplier_id', v_grn.supplier_id, 'purchase_order_id', v_po.id,
    'purchase_order_status', v_po.status, 'subtotal', v_grn.subtotal, 'tax_amount', v_grn.tax_amount,
    'total_amount', v_grn.total_amount, 'items', v_result);
end;
$$;
comment on function app_public.receive_goods(uuid, uuid, jsonb, text, date, numeric, text, uuid, text) is
E'Receives a delivery and posts its goods receipt note (needs inventory.manage), against a purchase order (approved, sent or partially received) or directly from a supplier. items: [{purchase_order_item_id?, medicine_id | optical_product_id | description, batch_number, manufacture_date?, expiry_date, quantity_received, free_quantity?, quantity_rejected?, rejection_reason?, unit_cost (default: the PO line''s), mrp?, selling_price?, discount_percent?, tax_percent?, storage_location?}]. For each medicine line the batch with that number is topped up or created, and a goods_receipt stock movement of the accepted quantity (received + free − rejected) is written; optical lines move the product''s stock; received − rejected counts against the PO line, and the order becomes partially_received or received. Returns {id, grn_number, status, inspection_status, purchase_order_status, totals, items: [{grn_item_id, batch_id, quantity_accepted, balance_after}]}.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (purchase_order, supplier, purchase_order_item, medicine, optical_product, department); 409 HMS_PURCHASE_ORDER_NOT_RECEIVABLE, HMS_DUPLICATE_SUPPLIER_INVOICE, HMS_BATCH_NOT_RECEIVABLE; 422 HMS_SUPPLIER_REQUIRED, HMS_SUPPLIER_MISMATCH, HMS_SUPPLIER_INACTIVE, HMS_SUPPLIER_LICENCE_EXPIRED (direct receipt of medicines), HMS_ITEMS_REQUIRED, HMS_ITEM_INVALID, HMS_PO_ITEM_REQUIRED, HMS_PO_ITEM_MISMATCH, HMS_QUANTITY_EXCEEDS_OUTSTANDING, HMS_INVALID_QUANTITY, HMS_REJECTION_REASON_REQUIRED, HMS_INVALID_PRICE, HMS_INVALID_PERCENT, HMS_BATCH_REQUIRED, HMS_EXPIRY_INVALID, HMS_BATCH_EXPIRY_MISMATCH, HMS_INVALID_DATE, HMS_INVALID_INPUT.';
grant execute on function app_public.receive_goods(uuid, uuid, jsonb, text, date, numeric, text, uuid, text) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * Column documentation, now that the triggers of this issue maintain these columns
 * ------------------------------------------------------------------------------------------- */
comment on column app_public.purchase_orders.subtotal is
  E'Sum of the lines'' quantity × unit cost before discount. Maintained from the lines by a trigger; clients never send it.';
comment on column app_public.purchase_orders.discount_amount is 'Total discount of the lines (Σ quantity × unit cost × discount %). Maintained from the lines by a trigger.';
comment on column app_public.purchase_orders.tax_amount is 'Total tax of the lines (on the discounted amounts). Maintained from the lines by a trigger.';
comment on column app_public.purchase_orders.total_amount is
  E'Order value: subtotal − discount + tax + shipping. Maintained by a trigger; clients never send it.';
comment on column app_public.purchase_order_items.quantity_received is
  E'Paid quantity accepted so far (received − rejected of each GRN line), in base units (0 … quantity_ordered). Maintained by receive_goods.';
comment on column app_public.purchase_order_items.line_total is
  E'quantity_ordered × unit_cost × (1 − discount %) × (1 + tax %), rounded to the cent. Computed by a trigger.';
comment on column app_public.goods_receipt_notes.subtotal is
  E'Sum of the lines'' quantity received × unit cost before discount. Maintained from the lines by a trigger.';
comment on column app_public.goods_receipt_notes.discount_amount is 'Total discount of the lines. Maintained from the lines by a trigger.';
comment on column app_public.goods_receipt_notes.tax_amount is 'Total tax of the lines. Maintained from the lines by a trigger.';
comment on column app_public.goods_receipt_notes.total_amount is
  E'Receipt value: subtotal − discount + tax + shipping. Maintained by a trigger; clients never send it.';
comment on column app_public.grn_items.line_total is
  E'quantity_received × unit_cost × (1 − discount %) × (1 + tax %), rounded to the cent. Computed by a trigger.';
comment on column app_public.grn_items.batch_id is
  E'Medicine batch (of medicine_id) created or topped up when the GRN was posted by receive_goods (null when nothing was accepted).';

--! split: 4100-stock-ledger.sql
/*
 * The stock ledger (DESIGN.md §8). stock_movements is the only way a stock level changes: a
 * BEFORE INSERT trigger locks the batch (or optical product) row, checks that the movement does
 * not take it below zero (HMS_INSUFFICIENT_STOCK, 409), applies the signed quantity and records
 * the resulting balance in balance_after. Row locks serialise concurrent movements of one batch,
 * so parallel dispensing of the last units can never go negative: the losers get the 409.
 * Movements are append-only (corrections are new movements), so every batch's quantity_on_hand
 * always equals the sum of its movements.
 *
 * Every workflow (goods receipt, dispensing, patient returns, adjustments, cycle counts, optical
 * sales) writes its movements through this one trigger — never by updating quantity_on_hand.
 */

create or replace function app_hidden.tg_stock_movements__apply() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_on_hand integer;
  v_name text;
begin
  if NEW.item_type = 'medicine' then
    select b.quantity_on_hand, m.generic_name || ' batch ' || b.batch_number into v_on_hand, v_name
      from app_public.medicine_batches b
      join app_public.medicines m on m.id = b.medicine_id
     where b.id = NEW.batch_id and b.hospital_id = NEW.hospital_id and b.medicine_id = NEW.medicine_id
       for update of b;
  else
    select p.quantity_on_hand, p.name into v_on_hand, v_name
      from app_public.optical_products p
     where p.id = NEW.optical_product_id and p.hospital_id = NEW.hospital_id
       for update;
  end if;
  if not found then
    perform app_hidden.raise_error('HMS_STOCK_ITEM_NOT_FOUND', 'The batch or product of this stock movement does not exist in this hospital.', 404);
  end if;
  if v_on_hand + NEW.quantity < 0 then
    perform app_hidden.raise_error('HMS_INSUFFICIENT_STOCK',
      format('Not enough stock of %s: %s on hand, %s needed.', v_name, v_on_hand, -NEW.quantity), 409,
      jsonb_build_object('on_hand', v_on_hand, 'requested', -NEW.quantity,
                         'batch_id', NEW.batch_id, 'optical_product_id', NEW.optical_product_id));
  end if;

  if NEW.item_type = 'medicine' then
    update app_public.medicine_batches b
       set quantity_on_hand = b.quantity_on_hand + NEW.quantity,
           status = case when b.status = 'active' and b.quantity_on_hand + NEW.quantity = 0 then 'depleted'
                         when b.status = 'depleted' and b.quantity_on_hand + NEW.quantity > 0 then 'active'
                         else b.status end
     where b.id = NEW.batch_id;
  else
    update app_public.optical_products p set quantity_on_hand = p.quantity_on_hand + NEW.quantity
     where p.id = NEW.optical_product_id;
  end if;
  NEW.balance_after := v_on_hand + NEW.quantity;
  NEW.occurred_at := coalesce(NEW.occurred_at, now());
  NEW.performed_by := coalesce(NEW.performed_by, app_hidden.current_user_id());
  return NEW;
end;
$$;
comment on function app_hidden.tg_stock_movements__apply() is
  'BEFORE INSERT on stock_movements: locks the batch or product, refuses to go below zero (HMS_INSUFFICIENT_STOCK), applies the quantity and records balance_after.';

drop trigger if exists _200_apply on app_public.stock_movements;
create trigger _200_apply before insert on app_public.stock_movements
  for each row execute function app_hidden.tg_stock_movements__apply();

create or replace function app_hidden.tg_stock_movements__append_only() returns trigger
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_LEDGER_APPEND_ONLY',
    'Stock movements are never changed or removed; record a correcting movement (an adjustment) instead.', 403,
    jsonb_build_object('operation', lower(TG_OP)));
  return null;
end;
$$;
comment on function app_hidden.tg_stock_movements__append_only() is 'Refuses updates and deletes of the stock ledger, for everyone.';

drop trigger if exists _000_append_only on app_public.stock_movements;
create trigger _000_append_only before update or delete on app_public.stock_movements
  for each row execute function app_hidden.tg_stock_movements__append_only();

--! split: 4110-stock-operations.sql
/*
 * Stock operations (issue 4): adjustments and cycle counts as database rules. Both change stock
 * only through the ledger (4100-stock-ledger.sql): approving writes stock_movements rows and the
 * ledger trigger applies them (and refuses to go below zero: 409 HMS_INSUFFICIENT_STOCK).
 *
 * Adjustments: request_stock_adjustment → pending_approval; approve_stock_adjustment (another user,
 * inventory.approve) → approved + one adjustment_increase / adjustment_decrease movement;
 * reject_stock_adjustment → rejected. Transitions: draft → pending_approval | cancelled;
 * pending_approval → approved | rejected | cancelled.
 *
 * Cycle counts: start_cycle_count → counting (system quantities snapshotted per line);
 * record_count per line; complete_cycle_count → counted (every line counted); approve_cycle_count
 * (another user than the one who started it, inventory.approve) → approved + one
 * cycle_count_variance movement per line whose variance is not 0. Transitions: draft → counting |
 * cancelled; counting → counted | cancelled; counted → approved | cancelled.
 *
 * Batches keep moving while a count is under way (the pharmacy keeps dispensing). Decision: the
 * system quantity of a line is taken again, from the live balance, at the moment its count is
 * recorded (record_count), so variance_quantity = counted − on hand when the shelf was counted.
 * Approval then applies that variance to the current balance: movements before the count are
 * part of the system quantity, movements after it are kept — neither is mistaken for a variance.
 *
 * Workflow columns (status, request/approval/rejection stamps, snapshots, counted quantities,
 * totals) change only through these RPCs (403 HMS_WORKFLOW_PROTECTED for direct writes); the
 * helpers sc_* come from 4000-supply-chain-workflow.sql.
 */

/* ---------------------------------------------------------------------------------------------
 * stock_adjustments: transitions and protected columns
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.tg_stock_adjustments__workflow() returns trigger
language plpgsql
as $$
declare
  v_transitions constant jsonb := '{
    "draft": ["pending_approval", "cancelled"],
    "pending_approval": ["approved", "rejected", "cancelled"],
    "approved": [], "rejected": [], "cancelled": []}';
begin
  if TG_OP = 'INSERT' then
    if app_hidden.sc_is_direct_write() and NEW.status <> 'draft' then
      perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED',
        'Stock adjustments are requested with request_stock_adjustment and approved with approve_stock_adjustment.', 403,
        jsonb_build_object('table', 'stock_adjustments', 'columns', array['status'], 'use', 'request_stock_adjustment'));
    end if;
    return NEW;
  end if;
  perform app_hidden.sc_check_transition('stock adjustment', OLD.status, NEW.status, v_transitions);
  perform app_hidden.sc_protect('stock_adjustments', to_jsonb(OLD), to_jsonb(NEW),
    array['status', 'requested_by', 'requested_at', 'approved_by', 'approved_at', 'rejected_by', 'rejected_at',
          'rejection_reason', 'unit_cost', 'value_change'],
    'request_stock_adjustment, approve_stock_adjustment, reject_stock_adjustment');
  if OLD.status <> 'draft' then
    perform app_hidden.sc_protect('stock_adjustments', to_jsonb(OLD), to_jsonb(NEW),
      array['item_type', 'medicine_id', 'batch_id', 'optical_product_id', 'quantity_change', 'reason'],
      'a new stock adjustment (only drafts are edited)');
  end if;
  if OLD.status = 'approved' then
    perform app_hidden.sc_protect('stock_adjustments', to_jsonb(OLD), to_jsonb(NEW), array['is_deleted'],
      'a correcting adjustment (an approved adjustment moved stock and stays on file)');
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_stock_adjustments__workflow() is
  'BEFORE INSERT/UPDATE on stock_adjustments: legal status transitions only; status, approval stamps and (after the draft) the item and quantity change only through the RPCs.';
grant execute on function app_hidden.tg_stock_adjustments__workflow() to :DATABASE_STAFF;

drop trigger if exists _200_workflow on app_public.stock_adjustments;
create trigger _200_workflow before insert or update on app_public.stock_adjustments
  for each row execute function app_hidden.tg_stock_adjustments__workflow();

/* ---------------------------------------------------------------------------------------------
 * cycle_counts and cycle_count_items: transitions, protected columns, totals
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.tg_cycle_counts__workflow() returns trigger
language plpgsql
as $$
declare
  v_transitions constant jsonb := '{
    "draft": ["counting", "cancelled"],
    "counting": ["counted", "cancelled"],
    "counted": ["approved", "cancelled"],
    "approved": [], "cancelled": []}';
begin
  if TG_OP = 'INSERT' then
    if app_hidden.sc_is_direct_write() and NEW.status <> 'draft' then
      perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED', 'Cycle counts are started with start_cycle_count.', 403,
        jsonb_build_object('table', 'cycle_counts', 'columns', array['status'], 'use', 'start_cycle_count'));
    end if;
    return NEW;
  end if;
  perform app_hidden.sc_check_transition('cycle count', OLD.status, NEW.status, v_transitions);
  perform app_hidden.sc_protect('cycle_counts', to_jsonb(OLD), to_jsonb(NEW),
    array['status', 'started_at', 'counted_by', 'completed_at', 'approved_by', 'approved_at', 'cancelled_at'],
    'start_cycle_count, record_count, complete_cycle_count, approve_cycle_count');
  if OLD.status <> 'draft' then
    perform app_hidden.sc_protect('cycle_counts', to_jsonb(OLD), to_jsonb(NEW),
      array['scope', 'category', 'location', 'department_id', 'count_date'], 'a new cycle count (the scope is fixed once counting starts)');
  end if;
  if OLD.status = 'approved' then
    perform app_hidden.sc_protect('cycle_counts', to_jsonb(OLD), to_jsonb(NEW), array['is_deleted'],
      'a new cycle count (an approved count moved stock and stays on file)');
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_cycle_counts__workflow() is
  'BEFORE INSERT/UPDATE on cycle_counts: legal status transitions only; status and workflow stamps change only through the RPCs.';
grant execute on function app_hidden.tg_cycle_counts__workflow() to :DATABASE_STAFF;

drop trigger if exists _200_workflow on app_public.cycle_counts;
create trigger _200_workflow before insert or update on app_public.cycle_counts
  for each row execute function app_hidden.tg_cycle_counts__workflow();

create or replace function app_hidden.tg_cycle_counts__totals() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if TG_OP = 'INSERT' then
    NEW.total_variance_quantity := 0;
    NEW.total_variance_value := 0;
  else
    select coalesce(sum(i.variance_quantity), 0), coalesce(sum(i.variance_value), 0)
      into NEW.total_variance_quantity, NEW.total_variance_value
      from app_public.cycle_count_items i
     where i.hospital_id = NEW.hospital_id and i.cycle_count_id = NEW.id;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_cycle_counts__totals() is
  'BEFORE INSERT/UPDATE on cycle_counts: total_variance_quantity and total_variance_value are the sums over the counted lines.';

drop trigger if exists _300_totals on app_public.cycle_counts;
create trigger _300_totals before insert or update on app_public.cycle_counts
  for each row execute function app_hidden.tg_cycle_counts__totals();

create or replace function app_hidden.tg_cycle_count_items__before() returns trigger
language plpgsql
as $$
begin
  -- Without inventory.manage, row-level security refuses the write (42501).
  if app_hidden.sc_is_direct_write() and app_hidden.has_permission('inventory.manage') then
    if TG_OP <> 'UPDATE' then
      perform app_hidden.raise_error('HMS_WORKFLOW_PROTECTED',
        'The lines of a cycle count come from start_cycle_count and are counted with record_count.', 403,
        jsonb_build_object('table', 'cycle_count_items', 'operation', lower(TG_OP), 'use', 'start_cycle_count, record_count'));
    end if;
    perform app_hidden.sc_protect('cycle_count_items', to_jsonb(OLD), to_jsonb(NEW),
      array['cycle_count_id', 'item_type', 'medicine_id', 'batch_id', 'optical_product_id', 'system_quantity', 'counted_quantity',
            'unit_cost', 'counted_at', 'counted_by'], 'record_count');
  end if;
  return case when TG_OP = 'DELETE' then OLD else NEW end;
end;
$$;
comment on function app_hidden.tg_cycle_count_items__before() is
  'BEFORE INSERT/UPDATE/DELETE on cycle_count_items: lines are created by start_cycle_count and counted by record_count; staff edit only the reason directly.';
grant execute on function app_hidden.tg_cycle_count_items__before() to :DATABASE_STAFF;

drop trigger if exists _200_before on app_public.cycle_count_items;
create trigger _200_before before insert or update or delete on app_public.cycle_count_items
  for each row execute function app_hidden.tg_cycle_count_items__before();

create or replace function app_hidden.tg_cycle_count_items__touch_count() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if TG_OP = 'UPDATE' and NEW.counted_quantity is not distinct from OLD.counted_quantity
     and NEW.system_quantity = OLD.system_quantity and NEW.unit_cost is not distinct from OLD.unit_cost then
    return null;
  end if;
  update app_public.cycle_counts c set updated_at = now()
   where c.id = coalesce(NEW.cycle_count_id, OLD.cycle_count_id) and c.hospital_id = coalesce(NEW.hospital_id, OLD.hospital_id);
  return null;
end;
$$;
comment on function app_hidden.tg_cycle_count_items__touch_count() is
  'AFTER a counted quantity, snapshot or cost changes: rewrites the cycle count so its variance totals are recomputed.';

drop trigger if exists _800_touch_count on app_public.cycle_count_items;
create trigger _800_touch_count after insert or update or delete on app_public.cycle_count_items
  for each row execute function app_hidden.tg_cycle_count_items__touch_count();

/* ---------------------------------------------------------------------------------------------
 * RPCs: stock adjustments
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.sc_adjustment_json(p_adj app_public.stock_adjustments) returns json
language sql
stable
as $$
  select json_build_object('id', p_adj.id, 'adjustment_number', p_adj.adjustment_number, 'status', p_adj.status,
    'item_type', p_adj.item_type, 'medicine_id', p_adj.medicine_id, 'batch_id', p_adj.batch_id,
    'optical_product_id', p_adj.optical_product_id, 'quantity_change', p_adj.quantity_change, 'reason', p_adj.reason,
    'unit_cost', p_adj.unit_cost, 'value_change', p_adj.value_change, 'requested_by', p_adj.requested_by,
    'approved_by', p_adj.approved_by, 'approved_at', p_adj.approved_at, 'rejected_at', p_adj.rejected_at,
    'rejection_reason', p_adj.rejection_reason);
$$;
comment on function app_hidden.sc_adjustment_json(app_public.stock_adjustments) is 'The workflow view of a stock adjustment returned by its RPCs.';

drop function if exists app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text);
create function app_public.request_stock_adjustment(
  quantity_change integer,
  reason text,
  batch_id uuid default null,
  optical_product_id uuid default null,
  medicine_id uuid default null,
  reason_notes text default null
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.manage');
  v_user uuid := app_hidden.current_user_id();
  v_qty integer := request_stock_adjustment.quantity_change;
  v_reason text := request_stock_adjustment.reason;
  v_notes text := nullif(trim(request_stock_adjustment.reason_notes), '');
  v_batch_id uuid := request_stock_adjustment.batch_id;
  v_product_id uuid := request_stock_adjustment.optical_product_id;
  v_medicine_id uuid := request_stock_adjustment.medicine_id;
  v_cost numeric;
  v_adj app_public.stock_adjustments;
begin
  if num_nonnulls(v_batch_id, v_product_id) <> 1 or (v_product_id is not null and v_medicine_id is not null) then
    perform app_hidden.raise_error('HMS_ITEM_INVALID', 'Name either a medicine batch (batch_id) or an optical product (optical_product_id).', 422);
  end if;
  if v_qty is null or v_qty = 0 then
    perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'quantity_change is a whole number of base units, + to add or − to remove, never 0.', 422);
  end if;
  if v_reason is null or v_reason not in ('damage', 'expiry', 'theft_loss', 'found', 'data_correction', 'donation', 'sample', 'return_to_supplier', 'other') then
    perform app_hidden.raise_error('HMS_INVALID_REASON',
      'reason is one of damage, expiry, theft_loss, found, data_correction, donation, sample, return_to_supplier, other.', 422,
      jsonb_build_object('reason', v_reason));
  end if;
  if (v_reason in ('damage', 'expiry', 'theft_loss', 'return_to_supplier') and v_qty > 0) or (v_reason = 'found' and v_qty < 0) then
    perform app_hidden.raise_error('HMS_ADJUSTMENT_SIGN_MISMATCH',
      format('An adjustment for %s %s stock.', v_reason, case when v_reason = 'found' then 'adds' else 'removes' end), 422,
      jsonb_build_object('reason', v_reason, 'quantity_change', v_qty));
  end if;
  if v_reason in ('other', 'data_correction') and v_notes is null then
    perform app_hidden.raise_error('HMS_REASON_NOTES_REQUIRED', format('Explain an adjustment for %s in reason_notes.', v_reason), 422);
  end if;
  if v_batch_id is not null then
    select b.medicine_id, b.unit_cost into v_medicine_id, v_cost from app_public.medicine_batches b
     where b.id = v_batch_id and b.hospital_id = v_hospital
       and (request_stock_adjustment.medicine_id is null or b.medicine_id = request_stock_adjustment.medicine_id);
    if not found then
      perform app_hidden.sc_not_found('medicine_batch', v_batch_id);
    end if;
  else
    select coalesce(p.purchase_price, 0) into v_cost from app_public.optical_products p
     where p.id = v_product_id and p.hospital_id = v_hospital and not p.is_deleted;
    if not found then
      perform app_hidden.sc_not_found('optical_product', v_product_id);
    end if;
  end if;

  perform app_hidden.sc_workflow(true);
  insert into app_public.stock_adjustments
    (hospital_id, item_type, medicine_id, batch_id, optical_product_id, quantity_change, reason, reason_notes, status,
     requested_by, requested_at, unit_cost, value_change)
  values (v_hospital, case when v_batch_id is not null then 'medicine' else 'optical_product' end, v_medicine_id, v_batch_id,
          v_product_id, v_qty, v_reason, v_notes, 'pending_approval', v_user, now(), v_cost, round(v_qty * v_cost, 2))
  returning * into v_adj;
  perform app_hidden.sc_workflow(false);
  return app_hidden.sc_adjustment_json(v_adj);
end;
$$;
comment on function app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text) is
E'Requests a stock adjustment of one medicine batch (batch_id; medicine_id optional, checked) or optical product (needs inventory.manage); it waits for approval by someone else (approve_stock_adjustment). quantity_change: + adds, − removes (damage, expiry, theft_loss and return_to_supplier remove; found adds; other and data_correction need reason_notes). Returns the adjustment.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (medicine_batch, optical_product); 422 HMS_ITEM_INVALID, HMS_INVALID_QUANTITY, HMS_INVALID_REASON, HMS_ADJUSTMENT_SIGN_MISMATCH, HMS_REASON_NOTES_REQUIRED.';
grant execute on function app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text) to :DATABASE_STAFF;

create or replace function app_hidden.sc_lock_adjustment(p_hospital uuid, p_id uuid) returns app_public.stock_adjustments
language plpgsql
as $$
declare
  v_adj app_public.stock_adjustments;
begin
  select * into v_adj from app_public.stock_adjustments a
   where a.id = p_id and a.hospital_id = p_hospital and not a.is_deleted for update;
  if not found then
    perform app_hidden.sc_not_found('stock_adjustment', p_id);
  end if;
  return v_adj;
end;
$$;
comment on function app_hidden.sc_lock_adjustment(uuid, uuid) is 'The stock adjustment of the hospital, locked for update; 404 HMS_NOT_FOUND otherwise.';

drop function if exists app_public.approve_stock_adjustment(uuid);
create function app_public.approve_stock_adjustment(adjustment_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.approve');
  v_user uuid := app_hidden.current_user_id();
  v_adj app_public.stock_adjustments := app_hidden.sc_lock_adjustment(v_hospital, approve_stock_adjustment.adjustment_id);
  v_balance integer;
begin
  if v_adj.status <> 'pending_approval' then
    perform app_hidden.sc_illegal_transition('stock adjustment', v_adj.status, 'approved');
  end if;
  if coalesce(v_adj.requested_by, v_adj.created_by) = v_user then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      'A stock adjustment is approved by someone other than the person who requested it.', 409,
      jsonb_build_object('stock_adjustment_id', v_adj.id, 'requested_by', v_adj.requested_by));
  end if;
  perform app_hidden.sc_workflow(true);
  insert into app_public.stock_movements
    (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
     adjustment_id, reason, performed_by)
  values (v_hospital, case when v_adj.quantity_change > 0 then 'adjustment_increase' else 'adjustment_decrease' end,
          v_adj.item_type, v_adj.medicine_id, v_adj.batch_id, v_adj.optical_product_id, v_adj.quantity_change, 0, v_adj.unit_cost,
          v_adj.id, format('Stock adjustment %s (%s).', v_adj.adjustment_number, v_adj.reason), v_user)
  returning balance_after into v_balance;
  update app_public.stock_adjustments a set status = 'approved', approved_by = v_user, approved_at = now()
   where a.id = v_adj.id returning * into v_adj;
  perform app_hidden.sc_workflow(false);
  return (app_hidden.sc_adjustment_json(v_adj)::jsonb || jsonb_build_object('balance_after', v_balance))::json;
end;
$$;
comment on function app_public.approve_stock_adjustment(uuid) is
E'Approves a pending stock adjustment (needs inventory.approve; not by its requester) and writes its adjustment_increase / adjustment_decrease stock movement. Returns the adjustment and the new balance (balance_after).\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not pending), HMS_APPROVAL_BY_OTHER_USER, HMS_INSUFFICIENT_STOCK (a decrease larger than the stock on hand).';
grant execute on function app_public.approve_stock_adjustment(uuid) to :DATABASE_STAFF;

drop function if exists app_public.reject_stock_adjustment(uuid, text);
create function app_public.reject_stock_adjustment(adjustment_id uuid, reason text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.approve');
  v_adj app_public.stock_adjustments := app_hidden.sc_lock_adjustment(v_hospital, reject_stock_adjustment.adjustment_id);
begin
  if v_adj.status <> 'pending_approval' then
    perform app_hidden.sc_illegal_transition('stock adjustment', v_adj.status, 'rejected');
  end if;
  if nullif(trim(reject_stock_adjustment.reason), '') is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the adjustment is rejected.', 422, jsonb_build_object('field', 'reason'));
  end if;
  perform app_hidden.sc_workflow(true);
  update app_public.stock_adjustments a
     set status = 'rejected', rejected_by = app_hidden.current_user_id(), rejected_at = now(),
         rejection_reason = trim(reject_stock_adjustment.reason)
   where a.id = v_adj.id returning * into v_adj;
  perform app_hidden.sc_workflow(false);
  return app_hidden.sc_adjustment_json(v_adj);
end;
$$;
comment on function app_public.reject_stock_adjustment(uuid, text) is
E'Rejects a pending stock adjustment with a reason (needs inventory.approve); stock does not change.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not pending); 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reject_stock_adjustment(uuid, text) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * RPCs: cycle counts
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.sc_cycle_count_json(p_count app_public.cycle_counts) returns json
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select json_build_object('id', p_count.id, 'count_number', p_count.count_number, 'status', p_count.status,
    'scope', p_count.scope, 'started_at', p_count.started_at, 'completed_at', p_count.completed_at,
    'approved_by', p_count.approved_by, 'approved_at', p_count.approved_at,
    'total_variance_quantity', p_count.total_variance_quantity, 'total_variance_value', p_count.total_variance_value,
    'items', coalesce((select json_agg(json_build_object('id', i.id, 'item_type', i.item_type, 'medicine_id', i.medicine_id,
                                                        'batch_id', i.batch_id, 'optical_product_id', i.optical_product_id,
                                                        'system_quantity', i.system_quantity, 'counted_quantity', i.counted_quantity,
                                                        'variance_quantity', i.variance_quantity) order by i.created_at, i.id)
                         from app_public.cycle_count_items i
                        where i.hospital_id = p_count.hospital_id and i.cycle_count_id = p_count.id), '[]'));
$$;
comment on function app_hidden.sc_cycle_count_json(app_public.cycle_counts) is 'The workflow view of a cycle count and its lines returned by its RPCs.';

create or replace function app_hidden.sc_lock_cycle_count(p_hospital uuid, p_id uuid) returns app_public.cycle_counts
language plpgsql
as $$
declare
  v_count app_public.cycle_counts;
begin
  select * into v_count from app_public.cycle_counts c
   where c.id = p_id and c.hospital_id = p_hospital and not c.is_deleted for update;
  if not found then
    perform app_hidden.sc_not_found('cycle_count', p_id);
  end if;
  return v_count;
end;
$$;
comment on function app_hidden.sc_lock_cycle_count(uuid, uuid) is 'The cycle count of the hospital, locked for update; 404 HMS_NOT_FOUND otherwise.';

drop function if exists app_public.start_cycle_count(text, text, jsonb, text, uuid, text);
create function app_public.start_cycle_count(
  scope text default 'partial',
  location text default null,
  items jsonb default null,
  category text default null,
  department_id uuid default null,
  notes text default null
) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.manage');
  v_scope text := coalesce(start_cycle_count.scope, 'partial');
  v_location text := nullif(trim(start_cycle_count.location), '');
  v_category text := nullif(trim(start_cycle_count.category), '');
  v_ids uuid[];
  v_id uuid;
  v_count app_public.cycle_counts;
  v_lines integer;
begin
  if v_scope not in ('full', 'partial', 'medicine_category', 'location') then
    perform app_hidden.raise_error('HMS_INVALID_SCOPE', 'scope is full, partial, medicine_category or location.', 422, jsonb_build_object('scope', v_scope));
  end if;
  if v_scope = 'medicine_category' and v_category is null then
    perform app_hidden.raise_error('HMS_CATEGORY_REQUIRED', 'A medicine_category count names the category (therapeutic class).', 422);
  end if;
  if v_scope = 'location' and v_location is null and start_cycle_count.department_id is null then
    perform app_hidden.raise_error('HMS_LOCATION_REQUIRED', 'A location count names the location (or the department store).', 422);
  end if;
  if start_cycle_count.department_id is not null
     and not exists (select 1 from app_public.departments d where d.id = start_cycle_count.department_id and d.hospital_id = v_hospital) then
    perform app_hidden.sc_not_found('department', start_cycle_count.department_id);
  end if;
  if items is not null and jsonb_typeof(items) <> 'null' then
    if jsonb_typeof(items) <> 'array' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', 'items is a JSON array of batch ids and optical product ids.', 422);
    end if;
    begin
      select coalesce(array_agg(distinct (e #>> '{}')::uuid), '{}') into v_ids from jsonb_array_elements(items) e;
    exception when data_exception then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', 'items is a JSON array of batch ids and optical product ids.', 422);
    end;
    foreach v_id in array v_ids loop
      if not exists (select 1 from app_public.medicine_batches b where b.id = v_id and b.hospital_id = v_hospital)
         and not exists (select 1 from app_public.optical_products p where p.id = v_id and p.hospital_id = v_hospital and not p.is_deleted) then
        perform app_hidden.sc_not_found('medicine_batch_or_optical_product', v_id);
      end if;
    end loop;
  end if;

  perform app_hidden.sc_workflow(true);
  insert into app_public.cycle_counts (hospital_id, scope, category, location, department_id, status, started_at, notes)
  values (v_hospital, v_scope, v_category, v_location, start_cycle_count.department_id, 'counting', now(), start_cycle_count.notes)
  returning * into v_count;

  insert into app_public.cycle_count_items
    (hospital_id, cycle_count_id, item_type, medicine_id, batch_id, system_quantity, unit_cost)
  select v_hospital, v_count.id, 'medicine', b.medicine_id, b.id, b.quantity_on_hand, b.unit_cost
    from app_public.medicine_batches b
    join app_public.medicines m on m.id = b.medicine_id and m.hospital_id = b.hospital_id
   where b.hospital_id = v_hospital
     and case when v_ids is not null then b.id = any (v_ids)
              else b.status = 'active' and b.quantity_on_hand > 0 and not m.is_deleted
                   and (v_scope <> 'medicine_category' or m.therapeutic_class ilike '%' || v_category || '%')
                   and (v_scope <> 'location' or v_location is null or b.storage_location ilike '%' || v_location || '%')
         end
   order by m.generic_name, b.expiry_date, b.id;

  insert into app_public.cycle_count_items
    (hospital_id, cycle_count_id, item_type, optical_product_id, system_quantity, unit_cost)
  select v_hospital, v_count.id, 'optical_product', p.id, p.quantity_on_hand, p.purchase_price
    from app_public.optical_products p
   where p.hospital_id = v_hospital and not p.is_deleted
     and case when v_ids is not null then p.id = any (v_ids)
              else v_scope in ('full', 'partial') and p.is_active and p.quantity_on_hand > 0 end
   order by p.name, p.id;

  select count(*) into v_lines from app_public.cycle_count_items i where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id;
  if v_lines = 0 then
    perform app_hidden.raise_error('HMS_NOTHING_TO_COUNT', 'No stock matches the scope of this count.', 422,
      jsonb_build_object('scope', v_scope, 'category', v_category, 'location', v_location));
  end if;
  perform app_hidden.sc_workflow(false);
  select * into v_count from app_public.cycle_counts c where c.id = v_count.id;
  return app_hidden.sc_cycle_count_json(v_count);
end;
$$;
comment on function app_public.start_cycle_count(text, text, jsonb, text, uuid, text) is
E'Starts a physical stock count (needs inventory.manage): status counting, one line per batch or optical product with the system quantity snapshotted. items: optional JSON array of medicine batch ids and optical product ids; without it, scope full or partial takes every active batch and active optical product with stock, medicine_category the active batches of medicines of that therapeutic class (category), location the active batches whose storage location matches (location). Returns the count with its lines.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (medicine_batch_or_optical_product, department); 422 HMS_INVALID_SCOPE, HMS_CATEGORY_REQUIRED, HMS_LOCATION_REQUIRED, HMS_NOTHING_TO_COUNT, HMS_INVALID_INPUT.';
grant execute on function app_public.start_cycle_count(text, text, jsonb, text, uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.record_count(uuid, integer, text);
create function app_public.record_count(cycle_count_item_id uuid, counted_quantity integer, reason text default null) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.manage');
  v_item app_public.cycle_count_items;
  v_count app_public.cycle_counts;
  v_on_hand integer;
begin
  select * into v_item from app_public.cycle_count_items i
   where i.id = record_count.cycle_count_item_id and i.hospital_id = v_hospital;
  if not found then
    perform app_hidden.sc_not_found('cycle_count_item', record_count.cycle_count_item_id);
  end if;
  v_count := app_hidden.sc_lock_cycle_count(v_hospital, v_item.cycle_count_id);
  if v_count.status <> 'counting' then
    perform app_hidden.raise_error('HMS_CYCLE_COUNT_NOT_COUNTING',
      format('Counts are recorded only while the cycle count is counting (it is %s).', v_count.status), 409,
      jsonb_build_object('cycle_count_id', v_count.id, 'status', v_count.status));
  end if;
  if record_count.counted_quantity is null or record_count.counted_quantity < 0 then
    perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'counted_quantity is the whole number of base units found (0 or more).', 422);
  end if;
  -- The system quantity is taken again now, when the shelf is counted (see the header).
  if v_item.item_type = 'medicine' then
    select b.quantity_on_hand into v_on_hand from app_public.medicine_batches b where b.id = v_item.batch_id;
  else
    select p.quantity_on_hand into v_on_hand from app_public.optical_products p where p.id = v_item.optical_product_id;
  end if;
  perform app_hidden.sc_workflow(true);
  update app_public.cycle_count_items i
     set counted_quantity = record_count.counted_quantity, system_quantity = v_on_hand, counted_at = now(),
         counted_by = app_hidden.current_user_id(), reason = coalesce(nullif(trim(record_count.reason), ''), i.reason)
   where i.id = v_item.id
  returning * into v_item;
  perform app_hidden.sc_workflow(false);
  return json_build_object('id', v_item.id, 'cycle_count_id', v_item.cycle_count_id, 'system_quantity', v_item.system_quantity,
    'counted_quantity', v_item.counted_quantity, 'variance_quantity', v_item.variance_quantity, 'variance_value', v_item.variance_value);
end;
$$;
comment on function app_public.record_count(uuid, integer, text) is
E'Records the quantity found for one line of a cycle count that is counting (needs inventory.manage); may be recorded again until the count is completed. The line''s system quantity is re-read at this moment, so variance = counted − on hand when counted. Returns the line with its variance.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_CYCLE_COUNT_NOT_COUNTING; 422 HMS_INVALID_QUANTITY.';
grant execute on function app_public.record_count(uuid, integer, text) to :DATABASE_STAFF;

drop function if exists app_public.complete_cycle_count(uuid);
create function app_public.complete_cycle_count(cycle_count_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.manage');
  v_count app_public.cycle_counts := app_hidden.sc_lock_cycle_count(v_hospital, complete_cycle_count.cycle_count_id);
  v_uncounted integer;
begin
  if v_count.status <> 'counting' then
    perform app_hidden.sc_illegal_transition('cycle count', v_count.status, 'counted');
  end if;
  select count(*) into v_uncounted from app_public.cycle_count_items i
   where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id and i.counted_quantity is null;
  if v_uncounted > 0 then
    perform app_hidden.raise_error('HMS_COUNT_INCOMPLETE', format('%s line(s) of the count are not counted yet.', v_uncounted), 422,
      jsonb_build_object('uncounted', v_uncounted));
  end if;
  perform app_hidden.sc_workflow(true);
  update app_public.cycle_counts c set status = 'counted', completed_at = now(), counted_by = app_hidden.current_user_id()
   where c.id = v_count.id returning * into v_count;
  perform app_hidden.sc_workflow(false);
  return app_hidden.sc_cycle_count_json(v_count);
end;
$$;
comment on function app_public.complete_cycle_count(uuid) is
E'Closes the counting of a cycle count (needs inventory.manage): every line must be counted. Status counted; it then waits for approval.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not counting); 422 HMS_COUNT_INCOMPLETE.';
grant execute on function app_public.complete_cycle_count(uuid) to :DATABASE_STAFF;

drop function if exists app_public.approve_cycle_count(uuid);
create function app_public.approve_cycle_count(cycle_count_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.sc_require('inventory.approve');
  v_user uuid := app_hidden.current_user_id();
  v_count app_public.cycle_counts := app_hidden.sc_lock_cycle_count(v_hospital, approve_cycle_count.cycle_count_id);
  v_item app_public.cycle_count_items;
begin
  if v_count.status <> 'counted' then
    perform app_hidden.sc_illegal_transition('cycle count', v_count.status, 'approved');
  end if;
  if v_count.created_by = v_user then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      'A cycle count is approved by someone other than the person who started it.', 409,
      jsonb_build_object('cycle_count_id', v_count.id, 'created_by', v_count.created_by));
  end if;
  perform app_hidden.sc_workflow(true);
  for v_item in
    select * from app_public.cycle_count_items i
     where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id and i.variance_quantity <> 0
     order by i.created_at, i.id
  loop
    insert into app_public.stock_movements
      (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
       cycle_count_item_id, reason, performed_by)
    values (v_hospital, 'cycle_count_variance', v_item.item_type, v_item.medicine_id, v_item.batch_id, v_item.optical_product_id,
            v_item.variance_quantity, 0, v_item.unit_cost, v_item.id,
            format('Cycle count %s variance%s.', v_count.count_number, coalesce(': ' || v_item.reason, '')), v_user);
  end loop;
  update app_public.cycle_counts c set status = 'approved', approved_by = v_user, approved_at = now()
   where c.id = v_count.id returning * into v_count;
  perform app_hidden.sc_workflow(false);
  return app_hidden.sc_cycle_count_json(v_count);
end;
$$;
comment on function app_public.approve_cycle_count(uuid) is
E'Approves a counted cycle count (needs inventory.approve; not by the person who started it) and posts one cycle_count_variance stock movement per line whose variance is not 0. Returns the count with its totals and lines.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not counted), HMS_APPROVAL_BY_OTHER_USER, HMS_INSUFFICIENT_STOCK (stock moved out since the count so the shortage no longer fits).';
grant execute on function app_public.approve_cycle_count(uuid) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * Column documentation, now that this issue maintains these columns
 * ------------------------------------------------------------------------------------------- */
comment on column app_public.cycle_counts.total_variance_quantity is
  E'Sum of the lines'' variance in base units (negative = shortage). Maintained from the lines by a trigger.';
comment on column app_public.cycle_counts.total_variance_value is
  E'Sum of the lines'' variance value (negative = loss). Maintained from the lines by a trigger.';
comment on column app_public.cycle_count_items.system_quantity is
  E'Quantity the system held, in base units: snapshotted when counting starts and taken again when the line''s count is recorded (record_count), so stock that moved before the count is not mistaken for a variance.';
