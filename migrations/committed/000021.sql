--! Previous: sha1:6bf9664487a9b36deb7f779c2931e8ebfc3786ef
--! Hash: sha1:f4bd1dc8c82112cfd6b6c355cfc7f52cb2ec185a

--! split: 1-current.sql
/*
 * Bookings of one doctor are serialised (app_hidden.create_appointment): racing receptionists
 * could meet a deadlock between their colliding inserts instead of HMS_SLOT_TAKEN.
 */
CREATE OR REPLACE FUNCTION app_hidden.create_appointment(p_hospital_id uuid, p_patient_id uuid, p_doctor_id uuid, p_start timestamp with time zone, p_visit_type text, p_reason text, p_booking_source text, p_rescheduled_from_id uuid DEFAULT NULL::uuid, p_priority text DEFAULT 'routine'::text, p_notes text DEFAULT NULL::text)
 RETURNS app_public.appointments
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
  -- One booking of a doctor at a time: concurrent inserts that collide on the exclusion
  -- constraint may each wait for the other (PostgreSQL then aborts one with a deadlock, not
  -- 23P01); serialised here, a second booking of the slot sees the first and answers HMS_SLOT_TAKEN.
  perform pg_advisory_xact_lock(hashtextextended('hms.booking:' || p_hospital_id || ':' || p_doctor_id, 0));
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
$function$;
