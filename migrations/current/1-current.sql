/*
 * Notification delivery (issue 10 §3). One path for every message HMS sends:
 *
 *   an event (a trigger or an RPC) → app_hidden.notify(template code, recipient, values)
 *     → one `notifications` row per channel the hospital, the recipient and the template allow,
 *       rendered from `notification_templates` in the recipient's language
 *     → for email/SMS/WhatsApp one `notification_queue` row and a job (`notification_queue__deliver`,
 *       job key = the row) → the worker claims the row, sends it, records the outcome.
 *
 * `notification_queue` is the truth of a delivery (status, attempts, lock, provider id, last error);
 * graphile-worker's jobs are only wake-ups carrying the row's id. A job that finds the row sent,
 * dead or being sent by a live worker does nothing, so a duplicate job never sends twice; a row
 * left `processing` by a worker that died is taken over once its lock is stale.
 */

-- {{name}} placeholders filled from a JSON object (missing values render empty).
create or replace function app_hidden.render_template(p_text text, p_values jsonb)
returns text
language plpgsql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
  v_name text;
  v_out text := p_text;
begin
  if p_text is null then
    return null;
  end if;
  for v_name in select distinct m[1] from regexp_matches(p_text, '\{\{\s*([a-z][a-z0-9_]*)\s*\}\}', 'g') m loop
    v_out := regexp_replace(v_out, '\{\{\s*' || v_name || '\s*\}\}',
                            replace(coalesce(p_values ->> v_name, ''), '\', '\\'), 'g');
  end loop;
  return v_out;
end;
$$;
comment on function app_hidden.render_template(text, jsonb) is 'Fills the {{placeholders}} of a template text from a JSON object; a placeholder without a value renders empty.';
revoke execute on function app_hidden.render_template(text, jsonb) from public;

/*
 * The one way to produce a notification. For each channel with an active template of p_code in
 * the hospital (the recipient's language first: exact locale, then the same language, then the
 * hospital's locale, then any), it keeps the channel only if
 *   - the hospital's settings switch it on (email/sms/whatsapp_notifications_enabled; in-app is
 *     for staff and always on),
 *   - a patient agreed to it (email_consent, sms_consent, whatsapp_consent), a marketing template
 *     also needs a granted marketing_communications consent, and a deceased patient gets nothing,
 *   - the recipient has an address for it (email, phone);
 * and writes the rendered notification (in-app ones are delivered by being written), with its
 * queue row and wake-up job for the others. p_dedupe_key makes it idempotent: a second call with
 * the same key writes nothing. Answers how many notifications it wrote.
 */
create or replace function app_hidden.notify(
  p_hospital_id uuid,
  p_code text,
  p_patient_id uuid,
  p_user_id uuid,
  p_values jsonb,
  p_related_table text default null,
  p_related_id uuid default null,
  p_dedupe_key text default null,
  p_action_url text default null
) returns integer
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_settings app_public.hospital_settings;
  v_hospital app_public.hospitals;
  v_patient app_public.patients;
  v_user app_public.users;
  v_locale text;
  v_template app_public.notification_templates;
  v_address text;
  v_notification_id uuid;
  v_queue_id uuid;
  v_queue_created timestamptz;
  v_values jsonb;
  v_subject text;
  v_body text;
  v_html text;
  v_count integer := 0;
begin
  if (p_patient_id is null) = (p_user_id is null) then
    raise exception 'notify: give exactly one of p_patient_id, p_user_id';
  end if;
  select * into v_hospital from app_public.hospitals h where h.id = p_hospital_id;
  select * into v_settings from app_public.hospital_settings s where s.hospital_id = p_hospital_id;
  if p_patient_id is not null then
    select * into v_patient from app_public.patients p where p.hospital_id = p_hospital_id and p.id = p_patient_id;
    if not found or v_patient.is_deceased or v_patient.is_deleted then
      return 0;
    end if;
    v_locale := coalesce(v_patient.preferred_language, v_hospital.locale);
  else
    select * into v_user from app_public.users u where u.id = p_user_id;
    if not found or not v_user.is_active or v_user.is_deleted then
      return 0;
    end if;
    v_locale := coalesce(v_user.locale, v_hospital.locale);
  end if;
  v_values := coalesce(p_values, '{}'::jsonb)
    || jsonb_build_object('hospital_name', v_hospital.name, 'hospital_phone', coalesce(v_hospital.phone, ''),
                          'hospital_email', coalesce(v_hospital.email::text, ''));

  for v_template in
    select distinct on (t.channel) t.*
      from app_public.notification_templates t
     where t.hospital_id = p_hospital_id and t.code = p_code and t.is_active
     order by t.channel,
              (t.locale = v_locale) desc,
              (split_part(t.locale, '-', 1) = split_part(v_locale, '-', 1)) desc,
              (t.locale = v_hospital.locale) desc,
              (split_part(t.locale, '-', 1) = split_part(v_hospital.locale, '-', 1)) desc,
              t.locale
  loop
    v_address := null;
    if v_template.channel = 'in_app' then
      continue when p_user_id is null;
    elsif v_template.channel = 'email' then
      continue when not coalesce(v_settings.email_notifications_enabled, false);
      v_address := coalesce(v_patient.email::text, v_user.email::text);
      continue when p_patient_id is not null and not v_patient.email_consent;
    elsif v_template.channel = 'sms' then
      continue when not coalesce(v_settings.sms_notifications_enabled, false);
      v_address := coalesce(v_patient.phone_primary, v_user.phone);
      continue when p_patient_id is not null and not v_patient.sms_consent;
    elsif v_template.channel = 'whatsapp' then
      continue when not coalesce(v_settings.whatsapp_notifications_enabled, false);
      v_address := coalesce(v_patient.phone_primary, v_user.phone);
      continue when p_patient_id is not null and not v_patient.whatsapp_consent;
    else
      continue; -- push: no device registry yet
    end if;
    continue when v_template.channel <> 'in_app' and nullif(trim(v_address), '') is null;
    if v_template.category = 'marketing' then
      continue when p_patient_id is null or not exists (
        select 1 from app_public.patient_consents c
         where c.hospital_id = p_hospital_id and c.patient_id = p_patient_id
           and c.consent_type = 'marketing_communications' and c.status = 'granted'
           and (c.expires_at is null or c.expires_at > now()));
    end if;

    v_subject := app_hidden.render_template(coalesce(v_template.subject, v_template.name), v_values);
    v_body := app_hidden.render_template(v_template.body, v_values);
    v_html := app_hidden.render_template(v_template.body_html, v_values);
    insert into app_public.notifications
      (hospital_id, recipient_type, patient_id, user_id, template_id, channel, category, title, body, data,
       related_table, related_id, action_url, status, dedupe_key, sent_at)
    values
      (p_hospital_id, case when p_patient_id is null then 'user' else 'patient' end, p_patient_id, p_user_id,
       v_template.id, v_template.channel, v_template.category, left(v_subject, 200), left(v_body, 10000), v_values,
       p_related_table, p_related_id, p_action_url,
       case when v_template.channel = 'in_app' then 'sent' else 'queued' end,
       case when p_dedupe_key is not null then left(p_dedupe_key || ':' || v_template.channel, 128) end,
       case when v_template.channel = 'in_app' then now() end)
    on conflict (hospital_id, dedupe_key) where dedupe_key is not null do nothing
    returning id into v_notification_id;
    continue when v_notification_id is null;
    v_count := v_count + 1;
    continue when v_template.channel = 'in_app';

    insert into app_public.notification_queue (hospital_id, notification_id, channel, recipient_address, payload)
    values (p_hospital_id, v_notification_id, v_template.channel, trim(v_address),
            jsonb_strip_nulls(jsonb_build_object('subject', v_subject, 'text', v_body, 'html', v_html,
                                                 'template_id', v_template.external_template_id)))
    returning id, created_at into v_queue_id, v_queue_created;
    perform graphile_worker.add_job('notification_queue__deliver', json_build_object('id', v_queue_id),
                                    job_key => 'notification_queue:' || v_queue_id, max_attempts => 3);
  end loop;
  return v_count;
end;
$$;
comment on function app_hidden.notify(uuid, text, uuid, uuid, jsonb, text, uuid, text, text) is 'Writes the notifications of one event (template p_code of the hospital) to a patient or a user on every channel the hospital''s settings, the recipient''s consents and addresses and the templates allow, in the recipient''s language; queues email/SMS/WhatsApp for the worker. Idempotent per p_dedupe_key. Answers how many it wrote.';
revoke execute on function app_hidden.notify(uuid, text, uuid, uuid, jsonb, text, uuid, text, text) from public;

-- The values an appointment's messages use, in the hospital's time zone.
create or replace function app_hidden.appointment_message_values(p_appointment app_public.appointments)
returns jsonb
language sql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select jsonb_build_object(
           'patient_name', p.full_name,
           'doctor_name', coalesce(nullif(trim(coalesce(u.title || ' ', '') || u.first_name || coalesce(' ' || u.last_name, '')), ''), u.display_name),
           'department_name', coalesce(d.name, ''),
           'appointment_number', p_appointment.appointment_number,
           'appointment_date', to_char(p_appointment.scheduled_start at time zone h.time_zone, 'FMDay, FMDD FMMonth YYYY'),
           'appointment_time', to_char(p_appointment.scheduled_start at time zone h.time_zone, 'HH24:MI'),
           'cancellation_reason', coalesce(p_appointment.cancellation_reason, ''))
    from app_public.hospitals h
    join app_public.patients p on p.hospital_id = h.id and p.id = p_appointment.patient_id
    join app_public.doctors doc on doc.hospital_id = h.id and doc.id = p_appointment.doctor_id
    join app_public.users u on u.id = doc.user_id
    left join app_public.departments d on d.hospital_id = h.id and d.id = p_appointment.department_id
   where h.id = p_appointment.hospital_id;
$$;
comment on function app_hidden.appointment_message_values(app_public.appointments) is 'The {{placeholders}} of appointment messages: patient, doctor, department, number, date and time in the hospital''s time zone, cancellation reason.';
revoke execute on function app_hidden.appointment_message_values(app_public.appointments) from public;

/*
 * Appointment messages: a booking (confirmation, or "rescheduled" for the booking that replaces
 * another), a cancellation. Only for appointments still ahead: nobody is told about the past.
 */
create or replace function app_hidden.tg_appointments__notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_values jsonb;
  v_old_start timestamptz;
begin
  if NEW.scheduled_start <= app_hidden.now() then
    return null;
  end if;
  v_values := app_hidden.appointment_message_values(NEW);
  if TG_OP = 'INSERT' and NEW.status = 'booked' then
    if NEW.rescheduled_from_id is null then
      perform app_hidden.notify(NEW.hospital_id, 'appointment_confirmation', NEW.patient_id, null, v_values,
                                'appointments', NEW.id, 'appointment_confirmation:' || NEW.id);
    else
      select a.scheduled_start into v_old_start from app_public.appointments a
       where a.hospital_id = NEW.hospital_id and a.id = NEW.rescheduled_from_id;
      perform app_hidden.notify(NEW.hospital_id, 'appointment_rescheduled', NEW.patient_id, null,
                                v_values || jsonb_build_object(
                                  'previous_date', to_char(v_old_start at time zone h.time_zone, 'FMDay, FMDD FMMonth YYYY'),
                                  'previous_time', to_char(v_old_start at time zone h.time_zone, 'HH24:MI')),
                                'appointments', NEW.id, 'appointment_rescheduled:' || NEW.id)
         from app_public.hospitals h where h.id = NEW.hospital_id;
    end if;
  elsif TG_OP = 'UPDATE' and NEW.status = 'cancelled' and OLD.status is distinct from 'cancelled' then
    perform app_hidden.notify(NEW.hospital_id, 'appointment_cancelled', NEW.patient_id, null, v_values,
                              'appointments', NEW.id, 'appointment_cancelled:' || NEW.id);
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_appointments__notify() is 'AFTER INSERT / UPDATE OF status on appointments: the patient''s booking confirmation, reschedule or cancellation message (app_hidden.notify), for appointments still ahead.';
revoke execute on function app_hidden.tg_appointments__notify() from public;
drop trigger if exists _800_notify on app_public.appointments;
create trigger _800_notify after insert or update of status on app_public.appointments
  for each row execute function app_hidden.tg_appointments__notify();

/*
 * The worker's side of a delivery (worker/src/tasks/notification_queue__deliver.ts), granted to
 * the worker's role only. p_worker names the worker process (host:pid), kept in locked_by.
 */

-- Takes a queue row for sending, or says why not: {"action": "send", …} with what to send,
-- {"action": "skip"} (sent, dead, gone) or {"action": "later", "at": …} (not due yet, or a live
-- worker holds it: a wake-up job is left for that time). A lock older than p_stale_after belongs
-- to a worker that died and is taken over.
create or replace function app_private.notification_claim(p_queue_id uuid, p_worker text, p_stale_after interval)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.notification_queue;
  v_at timestamptz;
  v_hospital app_public.hospitals;
begin
  -- skip locked: a transaction recording this row's outcome right now decides it; look again soon.
  select * into v_row from app_public.notification_queue q where q.id = p_queue_id for update skip locked;
  if not found then
    if exists (select 1 from app_public.notification_queue q where q.id = p_queue_id) then
      v_at := now() + interval '5 seconds';
      perform graphile_worker.add_job('notification_queue__deliver', json_build_object('id', p_queue_id),
                                      run_at => v_at, job_key => 'notification_queue:' || p_queue_id, max_attempts => 3);
      return jsonb_build_object('action', 'later', 'at', v_at);
    end if;
    return jsonb_build_object('action', 'skip', 'reason', 'gone');
  end if;
  if v_row.status in ('sent', 'dead') then
    return jsonb_build_object('action', 'skip', 'reason', v_row.status);
  end if;
  if v_row.status = 'processing' and v_row.locked_at > now() - p_stale_after then
    v_at := v_row.locked_at + p_stale_after;
  elsif v_row.status in ('queued', 'failed') and v_row.next_attempt_at > now() then
    v_at := v_row.next_attempt_at;
  end if;
  if v_at is not null then
    perform graphile_worker.add_job('notification_queue__deliver', json_build_object('id', p_queue_id),
                                    run_at => v_at, job_key => 'notification_queue:' || p_queue_id, max_attempts => 3);
    return jsonb_build_object('action', 'later', 'at', v_at);
  end if;
  if v_row.attempts >= v_row.max_attempts then
    update app_public.notification_queue q
       set status = 'dead', locked_at = null, locked_by = null,
           last_error = coalesce(q.last_error, 'gave up: no attempt left')
     where q.id = v_row.id and q.created_at = v_row.created_at;
    update app_public.notifications n set status = 'failed', failed_at = now(),
           failure_reason = coalesce(v_row.last_error, 'gave up: no attempt left')
     where n.hospital_id = v_row.hospital_id and n.id = v_row.notification_id;
    return jsonb_build_object('action', 'skip', 'reason', 'dead');
  end if;
  update app_public.notification_queue q
     set status = 'processing', attempts = q.attempts + 1, last_attempt_at = now(),
         locked_at = now(), locked_by = left(p_worker, 200)
   where q.id = v_row.id and q.created_at = v_row.created_at;
  select * into v_hospital from app_public.hospitals h where h.id = v_row.hospital_id;
  return jsonb_build_object(
    'action', 'send',
    'id', v_row.id,
    'channel', v_row.channel,
    'to', v_row.recipient_address,
    'payload', v_row.payload,
    'attempt', v_row.attempts + 1,
    'from_name', v_hospital.name,
    'reply_to', v_hospital.email);
end;
$$;
comment on function app_private.notification_claim(uuid, text, interval) is 'The worker takes a notification_queue row for sending (status processing, attempts + 1, its lock) and gets what to send; or is told to skip it (sent, dead) or to come back later (not due, or held by a live worker — a wake-up job is left). Locks older than p_stale_after are taken over.';
revoke execute on function app_private.notification_claim(uuid, text, interval) from public;

-- The provider accepted the message.
create or replace function app_private.notification_sent(p_queue_id uuid, p_provider text, p_provider_message_id text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.notification_queue;
begin
  update app_public.notification_queue q
     set status = 'sent', sent_at = now(), locked_at = null, locked_by = null, last_error = null,
         provider = p_provider, provider_message_id = left(p_provider_message_id, 128)
   where q.id = p_queue_id
  returning * into v_row;
  if found then
    update app_public.notifications n set status = 'sent', sent_at = v_row.sent_at, failed_at = null, failure_reason = null
     where n.hospital_id = v_row.hospital_id and n.id = v_row.notification_id;
  end if;
end;
$$;
comment on function app_private.notification_sent(uuid, text, text) is 'Records that the provider accepted a queued message (status sent, provider and its message id); the notification becomes sent.';
revoke execute on function app_private.notification_sent(uuid, text, text) from public;

-- The attempt failed: retried with backoff (1, 4, 16, 64 … minutes, at most 6 hours) unless the
-- failure is permanent or no attempt is left, then dead with the reason on the notification.
create or replace function app_private.notification_failed(p_queue_id uuid, p_error text, p_permanent boolean)
returns text
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row app_public.notification_queue;
  v_error text := left(coalesce(nullif(trim(p_error), ''), 'unknown error'), 10000);
begin
  select * into v_row from app_public.notification_queue q where q.id = p_queue_id for update;
  if not found then
    return 'gone';
  end if;
  if p_permanent or v_row.attempts >= v_row.max_attempts then
    update app_public.notification_queue q set status = 'dead', locked_at = null, locked_by = null, last_error = v_error
     where q.id = v_row.id and q.created_at = v_row.created_at;
    update app_public.notifications n set status = 'failed', failed_at = now(), failure_reason = v_error
     where n.hospital_id = v_row.hospital_id and n.id = v_row.notification_id;
    return 'dead';
  end if;
  update app_public.notification_queue q
     set status = 'failed', locked_at = null, locked_by = null, last_error = v_error,
         next_attempt_at = now() + least(interval '6 hours', interval '1 minute' * power(4, greatest(v_row.attempts - 1, 0)))
   where q.id = v_row.id and q.created_at = v_row.created_at
  returning * into v_row;
  perform graphile_worker.add_job('notification_queue__deliver', json_build_object('id', v_row.id),
                                  run_at => v_row.next_attempt_at, job_key => 'notification_queue:' || v_row.id, max_attempts => 3);
  return 'retry';
end;
$$;
comment on function app_private.notification_failed(uuid, text, boolean) is 'Records a failed delivery attempt: retried at next_attempt_at with exponential backoff (a wake-up job is left), or dead — permanent failure or no attempt left — with the reason on the notification. Answers retry, dead or gone.';
revoke execute on function app_private.notification_failed(uuid, text, boolean) from public;

-- Every minute (worker/crontab) and when a worker starts: a wake-up job for each row that should
-- be moving and is not — due for longer than p_stale_after (its job went with a worker that died)
-- or held by a lock older than that. Bounded per run; answers how many it woke.
create or replace function app_private.notification_sweep(p_stale_after interval, p_limit integer default 5000)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_count integer;
begin
  with stuck as (
    select q.id from app_public.notification_queue q
     where q.status in ('queued', 'failed') and q.next_attempt_at < now() - p_stale_after
    union all
    select q.id from app_public.notification_queue q
     where q.status = 'processing' and q.locked_at < now() - p_stale_after
     limit p_limit
  )
  select count(*) into v_count
    from (select graphile_worker.add_job('notification_queue__deliver', json_build_object('id', s.id),
                                         job_key => 'notification_queue:' || s.id, job_key_mode => 'preserve_run_at',
                                         max_attempts => 3)
            from (select id from stuck limit p_limit) s) woken;
  return v_count;
end;
$$;
comment on function app_private.notification_sweep(interval, integer) is 'Leaves a wake-up job for each queued or failed notification due for longer than p_stale_after and each one held by a lock older than that (its worker died); answers how many. Run every minute and at the worker''s start.';
revoke execute on function app_private.notification_sweep(interval, integer) from public;

grant execute on function app_private.notification_claim(uuid, text, interval) to :DATABASE_WORKER;
grant execute on function app_private.notification_sent(uuid, text, text) to :DATABASE_WORKER;
grant execute on function app_private.notification_failed(uuid, text, boolean) to :DATABASE_WORKER;
grant execute on function app_private.notification_sweep(interval, integer) to :DATABASE_WORKER;
