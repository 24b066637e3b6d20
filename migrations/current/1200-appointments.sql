/*
 * Appointments workflow (tables: db/schema/app_public/tables/appointments.sql,
 * appointment_status_log.sql, appointment_queue.sql): booking against the doctors' schedules, the
 * status machine, check-in with the day's queue token, and the consultation fee on the invoice.
 *
 * Slots. A doctor's bookable slots on a day are the active doctor_schedules sessions of that
 * weekday (valid_from ≤ day ≤ valid_to, day_of_week 0 = Sunday), cut into slot_minutes (or the
 * hospital's default_slot_minutes) in the hospital's time zone, minus approved leaves (a half-day
 * leave removes the slots starting before 13:00 local time for first_half, from 13:00 for
 * second_half). available_slots() lists them with is_free; book_appointment() accepts only a start
 * that is one of them, and not one that has already begun by the business clock.
 *
 * Double booking is refused by the exclusion constraint appointments_no_double_booking_excl; the
 * booking checks first (clear message) and translates the violation a concurrent booking raises
 * (23P01) into 409 HMS_SLOT_TAKEN.
 *
 * Status machine (declared below; the kit's _150_status_machine trigger enforces it for every
 * write with a session — RPC, PATCH, GraphQL — and refuses undeclared steps even to the owner):
 *   booked      → confirmed | checked_in | cancelled | no_show | rescheduled
 *   confirmed   → checked_in | cancelled | no_show | rescheduled
 *   checked_in  → in_progress | cancelled
 *   in_progress → completed
 *   completed, cancelled, no_show and rescheduled are final.
 * checked_in and rescheduled have side effects (the queue token and the invoice line; the new
 * booking) and are taken only inside check_in_appointment / reschedule_appointment. Each step
 * stamps its time column from the business clock, a cancellation needs its reason and records
 * who cancelled; the steps the RPCs gate with appointments.manage need it on a PATCH as well, so
 * a direct write cannot reach what the RPC would refuse. Two rules stay the module's own
 * triggers: a no-show is recorded only from scheduled_start + no_show_after_minutes, and every
 * change is appended to appointment_status_log (who = the session's user) while the queue token
 * follows the consultation (in_progress → in_consultation, completed, cancelled, no_show).
 *
 * What only the workflow writes is declared once, in the registration at the end: the slot, the
 * patient and the doctor are set when the booking is made and never changed (a new slot is a
 * reschedule, which keeps the history as a chain through rescheduled_from_id); the quoted fee and
 * the predecessor come from the booking functions alone. A queue token keeps the day, department
 * and patient it was issued for (its label counts in that department's day), only check-in ties
 * it to an appointment (walk-ins have none), and its number follows its label.
 *
 * Consultation fee → invoice: AT CHECK-IN, when the patient is seen to be at the hospital (a
 * booking that is cancelled or missed never reaches billing). The fee quoted at booking becomes a
 * 'consultation' line on the patient's draft outpatient invoice for that appointment (billing
 * contract: app_hidden.ensure_draft_invoice + app_hidden.add_invoice_item, with the fee's tax
 * rule). No line when the quoted fee is null or 0. Cancelling after check-in leaves the line on
 * the draft invoice for the front desk to remove or void.
 */

select app_hidden.register_error_codes('appointments', $json$[
  {"code": "HMS_PATIENT_INACTIVE", "http_status": 422, "meaning": "The patient record is inactive: it cannot be booked (details.patient_id)."},
  {"code": "HMS_DOCTOR_INACTIVE", "http_status": 422, "meaning": "The doctor no longer practises here: they cannot be booked (details.doctor_id)."},
  {"code": "HMS_SLOT_IN_PAST", "http_status": 422, "meaning": "The slot has already started by the hospital's clock; choose a later one (details.scheduled_start)."},
  {"code": "HMS_SLOT_BEYOND_HORIZON", "http_status": 422, "meaning": "The slot is more than the hospital's booking_horizon_days ahead (details.booking_horizon_days)."},
  {"code": "HMS_SLOT_OUTSIDE_SCHEDULE", "http_status": 422, "meaning": "The time is not the start of a slot of the doctor's active schedule sessions that day; available_slots lists them."},
  {"code": "HMS_DOCTOR_ON_LEAVE", "http_status": 409, "meaning": "An approved leave of the doctor covers the slot (details.doctor_id, day)."},
  {"code": "HMS_SLOT_TAKEN", "http_status": 409, "meaning": "A live appointment of the doctor already holds the slot — also when two bookings race for it."},
  {"code": "HMS_CHECKIN_NOT_TODAY", "http_status": 422, "meaning": "A patient is checked in only on the day of the appointment, in the hospital's time zone (details.appointment_day, today)."},
  {"code": "HMS_TOO_EARLY_FOR_NO_SHOW", "http_status": 422, "meaning": "A no-show is recorded only from scheduled_start plus the hospital's no_show_after_minutes (details.no_show_after_minutes, from)."}
]$json$);

/* ----------------------------------------------------------------------------------------
 * Slots
 * ---------------------------------------------------------------------------------------- */

/* Every slot of a doctor's sessions on a day (leaves not removed), with the session it comes from. */
create or replace function app_hidden.doctor_schedule_slots(p_hospital_id uuid, p_doctor_id uuid, p_day date)
returns table (slot_start timestamptz, slot_end timestamptz, schedule_id uuid)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
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
set search_path = pg_catalog, pg_temp
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
set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1 from app_public.appointments a
     where a.hospital_id = p_hospital_id and a.doctor_id = p_doctor_id
       and a.status not in ('cancelled', 'no_show', 'rescheduled') and not a.is_deleted
       and tstzrange(a.scheduled_start, a.scheduled_end) && tstzrange(p_start, p_end));
$$;
comment on function app_hidden.doctor_slot_taken(uuid, uuid, timestamptz, timestamptz) is
  'True when a live (not cancelled, no-show, rescheduled or deleted) appointment of the doctor overlaps the range.';

/* ----------------------------------------------------------------------------------------
 * The booking (shared by book_appointment and reschedule_appointment)
 * ---------------------------------------------------------------------------------------- */

/*
 * Validates patient, doctor and slot in the active hospital, inserts the appointment (quoted fee
 * of the doctor for the visit type on that day, department of the doctor, schedule session) and
 * its first status log row. Errors in the order they are checked: 422 HMS_INVALID_INPUT,
 * 404 HMS_NOT_FOUND, 422 HMS_PATIENT_INACTIVE / HMS_DOCTOR_INACTIVE, 422 HMS_SLOT_IN_PAST,
 * 422 HMS_SLOT_BEYOND_HORIZON, 422 HMS_SLOT_OUTSIDE_SCHEDULE, 409 HMS_DOCTOR_ON_LEAVE,
 * 409 HMS_SLOT_TAKEN. Called only by the RPCs, after their gate.
 */
create or replace function app_hidden.create_appointment(
  p_hospital_id uuid, p_patient_id uuid, p_doctor_id uuid, p_start timestamptz, p_visit_type text,
  p_reason text, p_booking_source text, p_rescheduled_from_id uuid default null, p_priority text default 'routine',
  p_notes text default null
) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
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
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'patient_id, doctor_id and scheduled_start are required.',
      jsonb_build_object('required', jsonb_build_array('patient_id', 'doctor_id', 'scheduled_start')));
  end if;
  if p_visit_type is null or p_visit_type not in ('new_consultation', 'follow_up', 'emergency', 'teleconsultation', 'home_visit', 'procedure') then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Unknown visit type %s.', coalesce(p_visit_type, 'null')),
      jsonb_build_object('field', 'visit_type', 'allowed', jsonb_build_array('new_consultation', 'follow_up', 'emergency', 'teleconsultation', 'home_visit', 'procedure')));
  end if;
  if p_booking_source is null or p_booking_source not in ('front_desk', 'phone', 'web', 'app', 'walk_in', 'referral', 'api') then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Unknown booking source %s.', coalesce(p_booking_source, 'null')),
      jsonb_build_object('field', 'booking_source', 'allowed', jsonb_build_array('front_desk', 'phone', 'web', 'app', 'walk_in', 'referral', 'api')));
  end if;

  v_patient := app_hidden.find_or_404(null::app_public.patients, p_patient_id);
  v_doctor := app_hidden.find_or_404(null::app_public.doctors, p_doctor_id);
  if not v_patient.is_active then
    perform app_hidden.raise_error('HMS_PATIENT_INACTIVE', 'The patient record is inactive and cannot be booked.',
      jsonb_build_object('patient_id', p_patient_id));
  end if;
  if not v_doctor.is_active then
    perform app_hidden.raise_error('HMS_DOCTOR_INACTIVE', 'The doctor no longer practises here and cannot be booked.',
      jsonb_build_object('doctor_id', p_doctor_id));
  end if;

  select * into strict v_settings from app_public.hospital_settings s where s.hospital_id = p_hospital_id;
  v_day := app_hidden.hospital_local_date(p_hospital_id, p_start);
  if p_start < app_hidden.now() then
    perform app_hidden.raise_error('HMS_SLOT_IN_PAST', 'The slot has already started; choose a later one.',
      jsonb_build_object('scheduled_start', p_start));
  end if;
  if v_day > app_hidden.hospital_today(p_hospital_id) + v_settings.booking_horizon_days then
    perform app_hidden.raise_error('HMS_SLOT_BEYOND_HORIZON',
      format('Appointments can be booked at most %s days ahead.', v_settings.booking_horizon_days),
      jsonb_build_object('booking_horizon_days', v_settings.booking_horizon_days));
  end if;

  select s.slot_start, s.slot_end, s.schedule_id into v_slot
    from app_hidden.doctor_schedule_slots(p_hospital_id, p_doctor_id, v_day) s
   where s.slot_start = p_start
   limit 1;
  if not found then
    perform app_hidden.raise_error('HMS_SLOT_OUTSIDE_SCHEDULE',
      E'That time is not the start of a slot in the doctor''s schedule; see available_slots.',
      jsonb_build_object('doctor_id', p_doctor_id, 'day', v_day, 'scheduled_start', p_start));
  end if;
  if app_hidden.doctor_on_leave(p_hospital_id, p_doctor_id, p_start) then
    perform app_hidden.raise_error('HMS_DOCTOR_ON_LEAVE', 'The doctor is on approved leave at that time.',
      jsonb_build_object('doctor_id', p_doctor_id, 'day', v_day));
  end if;
  if app_hidden.doctor_slot_taken(p_hospital_id, p_doctor_id, v_slot.slot_start, v_slot.slot_end) then
    perform app_hidden.raise_error('HMS_SLOT_TAKEN', 'That slot is already booked; choose another one.',
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
    perform app_hidden.raise_error('HMS_SLOT_TAKEN', 'That slot was just booked by someone else; choose another one.',
      jsonb_build_object('doctor_id', p_doctor_id, 'scheduled_start', p_start));
  end;

  insert into app_public.appointment_status_log (hospital_id, appointment_id, from_status, to_status, changed_at, changed_by, reason, notes)
  values (p_hospital_id, v_row.id, null, 'booked', app_hidden.now(), app_hidden.current_user_id(), p_reason,
          case when p_rescheduled_from_id is not null then 'Rescheduled from an earlier appointment.'
               else 'Booked by ' || p_booking_source || '.' end);
  return v_row;
end;
$$;
comment on function app_hidden.create_appointment(uuid, uuid, uuid, timestamptz, text, text, text, uuid, text, text) is
  'Validates and inserts a booking in the active hospital (shared by book_appointment and reschedule_appointment) with its first status log row.';

/* ----------------------------------------------------------------------------------------
 * The status machine and the module's own rules on appointments
 * ---------------------------------------------------------------------------------------- */

select app_hidden.declare_status_machine('app_public.appointments', $json$[
  {"from": null, "to": "booked"},
  {"from": "booked", "to": "confirmed", "stamp_at": "confirmed_at"},
  {"from": "booked", "to": "checked_in", "via": "check_in_appointment", "permission": "appointments.checkin", "stamp_at": "checked_in_at"},
  {"from": "booked", "to": "cancelled", "permission": "appointments.manage", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "booked", "to": "no_show", "permission": "appointments.manage", "stamp_at": "no_show_at"},
  {"from": "booked", "to": "rescheduled", "via": "reschedule_appointment", "permission": "appointments.manage"},
  {"from": "confirmed", "to": "checked_in", "via": "check_in_appointment", "permission": "appointments.checkin", "stamp_at": "checked_in_at"},
  {"from": "confirmed", "to": "cancelled", "permission": "appointments.manage", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "confirmed", "to": "no_show", "permission": "appointments.manage", "stamp_at": "no_show_at"},
  {"from": "confirmed", "to": "rescheduled", "via": "reschedule_appointment", "permission": "appointments.manage"},
  {"from": "checked_in", "to": "in_progress", "permission": "appointments.manage", "stamp_at": "started_at"},
  {"from": "checked_in", "to": "cancelled", "permission": "appointments.manage", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "in_progress", "to": "completed", "permission": "appointments.manage", "stamp_at": "completed_at"}
]$json$);

/*
 * BEFORE UPDATE OF status (_160_no_show_timing, after the status machine): a patient is a no-show
 * only once the slot has started and the hospital's grace (no_show_after_minutes, 30 by default)
 * has passed, by the business clock — whoever records it.
 */
create or replace function app_hidden.tg_appointments__no_show_timing() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_after integer := coalesce((select s.no_show_after_minutes from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id), 30);
  v_from timestamptz := NEW.scheduled_start + make_interval(mins => v_after);
begin
  if app_hidden.now() < v_from then
    perform app_hidden.raise_error('HMS_TOO_EARLY_FOR_NO_SHOW',
      format('A no-show can be recorded %s minutes after the slot starts, from %s.', v_after, v_from),
      jsonb_build_object('no_show_after_minutes', v_after, 'from', v_from));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_appointments__no_show_timing() is
  'BEFORE UPDATE OF status on appointments, to no_show: refuses before scheduled_start + the hospital''s no_show_after_minutes (422 HMS_TOO_EARLY_FOR_NO_SHOW).';

drop trigger if exists _200_workflow on app_public.appointments;
drop trigger if exists _160_no_show_timing on app_public.appointments;
create trigger _160_no_show_timing before update of status on app_public.appointments
  for each row when (NEW.status = 'no_show' and OLD.status is distinct from NEW.status)
  execute function app_hidden.tg_appointments__no_show_timing();

/*
 * AFTER UPDATE OF status (_210_status_log): appends the change to appointment_status_log — who is
 * the session's user (null for the owner without one), when is the business clock, the reason of
 * a cancellation — and moves the queue token along with the consultation.
 */
create or replace function app_hidden.tg_appointments__status_log() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  insert into app_public.appointment_status_log (hospital_id, appointment_id, from_status, to_status, changed_at, changed_by, reason)
  values (NEW.hospital_id, NEW.id, OLD.status, NEW.status, app_hidden.now(), app_hidden.current_user_id(),
          case when NEW.status = 'cancelled' then NEW.cancellation_reason end);

  update app_public.appointment_queue q
     set status = case NEW.status when 'in_progress' then 'in_consultation' else NEW.status end,
         consultation_started_at = case when NEW.status = 'in_progress' then coalesce(q.consultation_started_at, app_hidden.now())
                                        else q.consultation_started_at end,
         completed_at = case when NEW.status = 'completed' then coalesce(q.completed_at, app_hidden.now()) else q.completed_at end
   where q.hospital_id = NEW.hospital_id and q.appointment_id = NEW.id
     and NEW.status in ('in_progress', 'completed', 'cancelled', 'no_show')
     and q.status not in ('completed', 'cancelled', 'no_show');
  return null;
end;
$$;
comment on function app_hidden.tg_appointments__status_log() is
  'AFTER UPDATE OF status on appointments: appends the change to appointment_status_log (who from the session, when, the cancellation reason) and moves the queue token along.';

drop trigger if exists _210_status_log on app_public.appointments;
create trigger _210_status_log after update of status on app_public.appointments
  for each row when (OLD.status is distinct from NEW.status)
  execute function app_hidden.tg_appointments__status_log();

/*
 * BEFORE INSERT OR UPDATE (_020_token_number, after _010_number fills the label): the number called
 * out is the counter at the end of the printed label (CARD-012 → 12), so the two never disagree.
 */
create or replace function app_hidden.tg_appointment_queue__token_number() returns trigger
language plpgsql
as $$
begin
  NEW.token_number := (pg_catalog.regexp_match(NEW.token_label, '(\d+)\D*$'))[1]::integer;
  return NEW;
end;
$$;
comment on function app_hidden.tg_appointment_queue__token_number() is
  'BEFORE INSERT/UPDATE on appointment_queue: token_number is the trailing counter of token_label.';

drop trigger if exists _020_token_number on app_public.appointment_queue;
create trigger _020_token_number before insert or update on app_public.appointment_queue
  for each row execute function app_hidden.tg_appointment_queue__token_number();

/* ----------------------------------------------------------------------------------------
 * RPCs
 * ---------------------------------------------------------------------------------------- */

drop function if exists app_public.available_slots(uuid, date);
create function app_public.available_slots(doctor_id uuid, day date)
returns table (slot_start timestamptz, slot_end timestamptz, is_free boolean)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('appointments.read');
  v_doctor uuid := available_slots.doctor_id;
  v_day date := available_slots.day;
begin
  if v_doctor is null or v_day is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'doctor_id and day are required.',
      jsonb_build_object('required', jsonb_build_array('doctor_id', 'day')));
  end if;
  perform app_hidden.find_or_404(null::app_public.doctors, v_doctor);
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
) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('appointments.manage');
begin
  return app_hidden.create_appointment(v_hospital, book_appointment.patient_id, book_appointment.doctor_id,
           book_appointment.scheduled_start, book_appointment.visit_type, book_appointment.reason_for_visit,
           book_appointment.booking_source);
end;
$$;
comment on function app_public.book_appointment(uuid, uuid, timestamptz, text, text, text) is
  E'Books a patient with a doctor at a slot start from available_slots (status booked, quoted fee from the doctor''s fee for the visit type, department of the doctor) and logs the booking; returns the appointment. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (patient, doctor), 422 HMS_INVALID_INPUT, HMS_PATIENT_INACTIVE, HMS_DOCTOR_INACTIVE, HMS_SLOT_IN_PAST, HMS_SLOT_BEYOND_HORIZON (booking_horizon_days), HMS_SLOT_OUTSIDE_SCHEDULE, 409 HMS_DOCTOR_ON_LEAVE, HMS_SLOT_TAKEN (also when a concurrent booking wins).';

drop function if exists app_public.reschedule_appointment(uuid, timestamptz);
create function app_public.reschedule_appointment(appointment_id uuid, new_start timestamptz) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('appointments.manage');
  v_old app_public.appointments;
begin
  if reschedule_appointment.appointment_id is null or reschedule_appointment.new_start is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id and new_start are required.',
      jsonb_build_object('required', jsonb_build_array('appointment_id', 'new_start')));
  end if;
  v_old := app_hidden.lock_or_404(null::app_public.appointments, reschedule_appointment.appointment_id);
  perform app_hidden.require_transition('app_public.appointments', v_old.status, 'rescheduled');
  -- The old booking frees its slot first, so the new one may overlap it.
  update app_public.appointments a set status = 'rescheduled' where a.id = v_old.id;
  return app_hidden.create_appointment(v_hospital, v_old.patient_id, v_old.doctor_id, reschedule_appointment.new_start,
           v_old.visit_type, v_old.reason_for_visit, v_old.booking_source, v_old.id, v_old.priority, v_old.notes);
end;
$$;
comment on function app_public.reschedule_appointment(uuid, timestamptz) is
  'Moves a booked or confirmed appointment to another slot of the same doctor: marks it rescheduled and books the new slot (same checks as book_appointment, rescheduled_from_id = the old one); returns the new appointment. Needs appointments.manage. Errors: those of book_appointment, 404 HMS_NOT_FOUND (appointment), 409 HMS_ILLEGAL_TRANSITION.';

drop function if exists app_public.cancel_appointment(uuid, text);
create function app_public.cancel_appointment(appointment_id uuid, reason text) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('appointments.manage');
  v_row app_public.appointments;
begin
  if cancel_appointment.appointment_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id is required.',
      jsonb_build_object('required', jsonb_build_array('appointment_id')));
  end if;
  v_row := app_hidden.lock_or_404(null::app_public.appointments, cancel_appointment.appointment_id);
  perform app_hidden.require_transition('app_public.appointments', v_row.status, 'cancelled');
  -- The status machine requires the reason and stamps cancelled_at / cancelled_by.
  update app_public.appointments a
     set status = 'cancelled', cancellation_reason = nullif(trim(cancel_appointment.reason), '')
   where a.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.cancel_appointment(uuid, text) is
  'Cancels a booked, confirmed or checked-in appointment with a reason (frees the slot; the queue token is cancelled; cancelled_at and cancelled_by from the session); returns the appointment. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_INVALID_INPUT, HMS_REASON_REQUIRED.';

drop function if exists app_public.check_in_appointment(uuid);
create function app_public.check_in_appointment(appointment_id uuid) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('appointments.checkin');
  v_row app_public.appointments;
  v_today date;
  v_fee record;
  v_doctor_name text;
  v_invoice uuid;
  v_priority text;
begin
  if check_in_appointment.appointment_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id is required.',
      jsonb_build_object('required', jsonb_build_array('appointment_id')));
  end if;
  v_row := app_hidden.lock_or_404(null::app_public.appointments, check_in_appointment.appointment_id);
  perform app_hidden.require_transition('app_public.appointments', v_row.status, 'checked_in');
  v_today := app_hidden.hospital_today(v_hospital);
  if app_hidden.hospital_local_date(v_hospital, v_row.scheduled_start) <> v_today then
    perform app_hidden.raise_error('HMS_CHECKIN_NOT_TODAY', 'A patient can be checked in only on the day of the appointment.',
      jsonb_build_object('appointment_day', app_hidden.hospital_local_date(v_hospital, v_row.scheduled_start), 'today', v_today));
  end if;

  -- The status machine stamps checked_in_at.
  update app_public.appointments a set status = 'checked_in'
   where a.id = v_row.id
  returning * into v_row;

  -- The day's queue token: its label (and number) per department and day come from the numbering triggers.
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
  return v_row;
end;
$$;
comment on function app_public.check_in_appointment(uuid) is
  E'Checks the patient in on the day of a booked or confirmed appointment (hospital time zone): status checked_in, checked_in_at, the day''s queue token of the department (waiting; senior_citizen priority from 65) and the quoted consultation fee as a line of the patient''s draft outpatient invoice for the appointment; returns the appointment. Needs appointments.checkin. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_INVALID_INPUT, HMS_CHECKIN_NOT_TODAY.';

drop function if exists app_public.start_appointment(uuid);
create function app_public.start_appointment(appointment_id uuid) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('appointments.manage');
  v_row app_public.appointments;
begin
  if start_appointment.appointment_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id is required.',
      jsonb_build_object('required', jsonb_build_array('appointment_id')));
  end if;
  v_row := app_hidden.lock_or_404(null::app_public.appointments, start_appointment.appointment_id);
  perform app_hidden.require_transition('app_public.appointments', v_row.status, 'in_progress');
  update app_public.appointments a set status = 'in_progress' where a.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.start_appointment(uuid) is
  'Starts the consultation of a checked-in appointment: status in_progress, started_at; the queue token goes in_consultation; returns the appointment. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_INVALID_INPUT.';

drop function if exists app_public.complete_appointment(uuid);
create function app_public.complete_appointment(appointment_id uuid) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('appointments.manage');
  v_row app_public.appointments;
begin
  if complete_appointment.appointment_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id is required.',
      jsonb_build_object('required', jsonb_build_array('appointment_id')));
  end if;
  v_row := app_hidden.lock_or_404(null::app_public.appointments, complete_appointment.appointment_id);
  perform app_hidden.require_transition('app_public.appointments', v_row.status, 'completed');
  update app_public.appointments a set status = 'completed' where a.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.complete_appointment(uuid) is
  'Ends the consultation of an in-progress appointment: status completed, completed_at; the queue token is completed; returns the appointment. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_INVALID_INPUT.';

drop function if exists app_public.mark_no_show(uuid);
create function app_public.mark_no_show(appointment_id uuid) returns app_public.appointments
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('appointments.manage');
  v_row app_public.appointments;
begin
  if mark_no_show.appointment_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'appointment_id is required.',
      jsonb_build_object('required', jsonb_build_array('appointment_id')));
  end if;
  v_row := app_hidden.lock_or_404(null::app_public.appointments, mark_no_show.appointment_id);
  perform app_hidden.require_transition('app_public.appointments', v_row.status, 'no_show');
  update app_public.appointments a set status = 'no_show' where a.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.mark_no_show(uuid) is
  E'Records that the patient did not come (booked or confirmed, from scheduled_start + the hospital''s no_show_after_minutes): status no_show, no_show_at; frees the slot and the queue token is no_show; returns the appointment. Needs appointments.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_INVALID_INPUT, HMS_TOO_EARLY_FOR_NO_SHOW.';

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

/* ----------------------------------------------------------------------------------------
 * Registration
 * ---------------------------------------------------------------------------------------- */

select app_hidden.register_table('app_public.appointments', 'appointment',
  read_permissions => '{appointments.read}', write_permissions => '{appointments.manage,appointments.checkin}',
  delete_permissions => '{appointments.manage}',
  protected_columns => '{rescheduled_from_id,quoted_fee}',
  immutable_columns => '{patient_id,doctor_id,schedule_id,scheduled_start,scheduled_end}');
select app_hidden.register_table('app_public.appointment_status_log', 'appointment status change',
  read_permissions => '{appointments.read}', write_mode => 'read_only', append_only => true);
select app_hidden.register_table('app_public.appointment_queue', 'queue token',
  read_permissions => '{appointments.read}', write_permissions => '{appointments.checkin}',
  protected_columns => '{token_number,appointment_id}',
  immutable_columns => '{queue_date,department_id,patient_id}');

/* Helpers the kit replaces: the gate, lock-or-404, the transition table and its check, the workflow mark, the token number trigger. */
drop function if exists app_hidden.appointment_set_status(text, uuid, text);
drop function if exists app_hidden.appointment_for_update(uuid, uuid);
drop function if exists app_hidden.appointments_require(text);
drop function if exists app_hidden.assert_appointment_transition(text, text);
drop function if exists app_hidden.appointment_transition_allowed(text, text);
drop function if exists app_hidden.appointment_workflow_on();
drop function if exists app_hidden.appointment_workflow_off();
drop function if exists app_hidden.tg_appointments__workflow();
drop function if exists app_hidden.tg_appointment_queue__assign_token();
