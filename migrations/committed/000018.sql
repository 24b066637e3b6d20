--! Previous: sha1:6a2fe50b0552f465e3a31a8ca8d2d9e9c4a40e2c
--! Hash: sha1:bc372d5be7d3fa9b11156454a3477974a74954c0

--! split: 1-current.sql
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
drop trigger if exists _850_notify on app_public.appointments;
create trigger _850_notify after insert or update of status on app_public.appointments
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

/*
 * Staff invitations and password resets (password_emails). The one-time token never rests in the
 * database: the worker asks for it when it sends the e-mail (app_private.password_email_claim
 * makes a new random token, keeps only its SHA-256 and hands the token to the worker, which puts
 * the link in the e-mail). A resend makes a new token, and the old link stops working. This is
 * why these e-mails do not go through notification_queue, whose rendered payload is readable by
 * holders of settings.manage.
 */
select app_hidden.register_error_codes('identity', $json$[
  {"code": "HMS_PASSWORD_LINK_INVALID", "http_status": 422, "meaning": "The invitation or reset link is unknown, used already, replaced by a newer one or expired; ask for a new one."},
  {"code": "HMS_USER_INACTIVE", "http_status": 422, "meaning": "The user is deactivated or deleted: activate them before inviting them."}
]$json$);

-- The password rules, one place: change_password and set_password_with_token both call it.
create or replace function app_private.check_password_policy(p_email text, p_new text, p_old text default null)
returns void
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  c_min_length constant integer := 10;
  v_email text := lower(coalesce(p_email, ''));
  v_new text := coalesce(p_new, '');
  v_local_part text := split_part(lower(coalesce(p_email, '')), '@', 1);
begin
  if char_length(v_new) < c_min_length then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      format('The new password must have at least %s characters.', c_min_length),
      to_jsonb('min_length'::text));
  elsif octet_length(v_new) > 72 then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      'The new password must not be longer than 72 bytes (bcrypt ignores anything beyond).',
      to_jsonb('max_bytes'::text));
  elsif strpos(lower(v_new), v_email) > 0 or lower(v_new) = v_local_part
        or (char_length(v_local_part) >= 3 and strpos(lower(v_new), v_local_part) > 0) then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      'The new password must not be or contain your email address or its name part.',
      to_jsonb('not_email'::text));
  elsif p_old is not null and v_new = p_old then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      'The new password must be different from the current one.',
      to_jsonb('not_reused'::text));
  end if;
end;
$$;
comment on function app_private.check_password_policy(text, text, text) is 'Raises 422 HMS_PASSWORD_POLICY when a new password breaks a rule: at least 10 characters, at most 72 bytes, not (containing) the email or its name part, different from the current one (when given).';
revoke execute on function app_private.check_password_policy(text, text, text) from public;

CREATE OR REPLACE FUNCTION app_public.change_password(old_password text, new_password text)
 RETURNS json
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_user_id uuid := app_hidden.current_user_id();
  v_session_id uuid := app_hidden.current_session_id();
  v_old text := coalesce(change_password.old_password, '');
  v_new text := coalesce(change_password.new_password, '');
  v_email text;
  v_hash text;
  v_hospital_id uuid;
  v_failure app_private.login_failures;
  v_locked json;
  v_revoked integer;
begin
  if v_user_id is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
  select lower(u.email::text) into v_email from app_public.users u where u.id = v_user_id;
  select s.hospital_id into v_hospital_id from app_private.sessions s where s.id = v_session_id;

  -- The current password is a guess like a login's: a locked address may not try, a wrong one
  -- counts toward the lockout and is audited (returned, not raised, so the count commits).
  select f.* into v_failure from app_private.login_failures f where f.email = v_email::public.citext;
  if v_failure.locked_until > now() then
    perform app_private.write_audit_log('password_change_failed', 'users', v_user_id, v_hospital_id, null,
      jsonb_build_object('email', v_email, 'reason', 'locked'), null, 'Password change refused: account locked', v_user_id);
    return app_private.account_locked_response(v_failure.locked_until);
  end if;
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = v_user_id for update;
  if v_hash is null or public.crypt(v_old, v_hash) <> v_hash then
    perform app_private.write_audit_log('password_change_failed', 'users', v_user_id, v_hospital_id, null,
      jsonb_build_object('email', v_email, 'reason', 'wrong_password'), null, 'Password change failed: wrong current password', v_user_id);
    v_locked := app_private.count_password_failure(v_email, v_user_id, v_hospital_id);
    if v_locked is not null then
      return v_locked;
    end if;
    return app_private.error_response('HMS_PASSWORD_INCORRECT', 'The current password is incorrect.');
  end if;

  perform app_private.check_password_policy(v_email, v_new, v_old);

  update app_private.user_secrets s
     set password_hash = public.crypt(v_new, public.gen_salt('bf', 10)), password_changed_at = now()
   where s.user_id = v_user_id;
  update app_public.users u set must_change_password = false where u.id = v_user_id and u.must_change_password;
  delete from app_private.login_failures f where f.email = v_email::public.citext;

  -- Every other session ends (a thief who knew the old password loses access).
  with revoked as (
    update app_private.sessions s set revoked_at = now(), revoked_reason = 'password_changed'
     where s.user_id = v_user_id and s.id is distinct from v_session_id and s.revoked_at is null
    returning s.id)
  select count(*) into v_revoked from revoked;
  update app_public.refresh_tokens t set revoked_at = now(), revoked_reason = 'password_changed'
   where t.user_id = v_user_id and t.session_id is distinct from v_session_id and t.revoked_at is null;

  perform app_private.write_audit_log('password_changed', 'users', v_user_id, v_hospital_id, null,
    jsonb_build_object('revoked_sessions', v_revoked), null, 'Password changed by the user', v_user_id);
  return json_build_object('password_changed_at', now(), 'revoked_sessions', v_revoked);
end;
$function$;

-- Ends the user's pending links: only the newest one works.
create or replace function app_private.revoke_password_emails(p_user_id uuid)
returns void
language sql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  update app_public.password_emails e set status = 'revoked'
   where e.user_id = p_user_id and e.status in ('pending', 'sent');
  delete from app_private.password_email_tokens t
   using app_public.password_emails e
   where e.id = t.password_email_id and e.user_id = p_user_id and e.status = 'revoked';
$$;
comment on function app_private.revoke_password_emails(uuid) is 'Revokes the user''s pending and sent invitation or reset links (their token hashes go).';
revoke execute on function app_private.revoke_password_emails(uuid) from public;

create or replace function app_public.invite_user(user_id uuid)
returns app_public.password_emails
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('users.manage');
  v_user app_public.users;
  v_row app_public.password_emails;
begin
  if invite_user.user_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'user_id is required.', jsonb_build_object('required', jsonb_build_array('user_id')));
  end if;
  select * into v_user from app_public.users u
   where u.id = invite_user.user_id and u.id in (select app_hidden.hospital_member_ids());
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such user in your hospital.', jsonb_build_object('entity', 'users', 'id', invite_user.user_id));
  end if;
  if not v_user.is_active or v_user.is_deleted then
    perform app_hidden.raise_error('HMS_USER_INACTIVE', 'This user is deactivated: activate them before sending an invitation.',
      jsonb_build_object('user_id', v_user.id));
  end if;
  perform app_private.revoke_password_emails(v_user.id);
  insert into app_public.password_emails (user_id, purpose, sent_to, requested_by, requested_from, expires_at)
  values (v_user.id, 'invite', v_user.email, app_hidden.current_user_id(), app_private.request_client_address(),
          now() + interval '72 hours')
  returning * into v_row;
  perform graphile_worker.add_job('password_emails__send', json_build_object('id', v_row.id),
                                  job_key => 'password_emails:' || v_row.id, max_attempts => 5);
  return v_row;
end;
$$;
comment on function app_public.invite_user(uuid) is 'Sends a member of staff of your hospital an invitation e-mail with a link to set their password (valid 72 hours; an earlier link stops working); returns the password e-mail (its status becomes sent when the mail server accepts it). Needs users.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (not a member of your hospital), 422 HMS_USER_INACTIVE.';
revoke execute on function app_public.invite_user(uuid) from public;
grant execute on function app_public.invite_user(uuid) to :DATABASE_STAFF;

/*
 * "Forgot password": the same answer whether or not the address has an account, so nobody learns
 * who works here. At most one link per user every 2 minutes (the front also limits the calls per
 * client address and per e-mail).
 */
create or replace function app_public.request_password_reset(email text)
returns json
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user app_public.users;
  v_row app_public.password_emails;
begin
  select * into v_user from app_public.users u
   where u.email = nullif(trim(request_password_reset.email), '')::public.citext
     and u.is_active and not u.is_deleted;
  if found and not exists (
    select 1 from app_public.password_emails e
     where e.user_id = v_user.id and e.purpose = 'reset' and e.requested_at > now() - interval '2 minutes') then
    perform app_private.revoke_password_emails(v_user.id);
    insert into app_public.password_emails (user_id, purpose, sent_to, requested_from, expires_at)
    values (v_user.id, 'reset', v_user.email, app_private.request_client_address(), now() + interval '1 hour')
    returning * into v_row;
    perform graphile_worker.add_job('password_emails__send', json_build_object('id', v_row.id),
                                    job_key => 'password_emails:' || v_row.id, max_attempts => 5);
  end if;
  return json_build_object('accepted', true,
    'message', 'If this address belongs to an account, an e-mail with a link to set a new password is on its way (valid for one hour).');
end;
$$;
comment on function app_public.request_password_reset(text) is 'Forgotten password: e-mails the account with this address a link to set a new password (valid one hour; earlier links stop working). Answers the same whether or not the address has an account. POST only; rate-limited per client address and per e-mail.';
revoke execute on function app_public.request_password_reset(text) from public;
grant execute on function app_public.request_password_reset(text) to :DATABASE_ANONYMOUS, :DATABASE_STAFF;

create or replace function app_public.set_password_with_token(token text, new_password text)
returns json
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email app_public.password_emails;
  v_user app_public.users;
  v_revoked integer;
begin
  select e.* into v_email
    from app_private.password_email_tokens t
    join app_public.password_emails e on e.id = t.password_email_id
   where t.token_hash = public.digest(coalesce(set_password_with_token.token, ''), 'sha256')
   for update of e;
  if not found or v_email.status not in ('pending', 'sent') or v_email.expires_at <= now() then
    perform app_hidden.raise_error('HMS_PASSWORD_LINK_INVALID',
      'This link is not valid any more (used, replaced by a newer one or expired). Ask for a new one.');
  end if;
  select * into v_user from app_public.users u where u.id = v_email.user_id;
  if not v_user.is_active or v_user.is_deleted then
    perform app_hidden.raise_error('HMS_PASSWORD_LINK_INVALID',
      'This link is not valid any more (used, replaced by a newer one or expired). Ask for a new one.');
  end if;
  perform app_private.check_password_policy(v_user.email::text, set_password_with_token.new_password);

  insert into app_private.user_secrets (user_id, password_hash, password_changed_at)
  values (v_user.id, public.crypt(set_password_with_token.new_password, public.gen_salt('bf', 10)), now())
  on conflict (user_id) do update set password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at;
  update app_public.password_emails e set status = 'used', used_at = now() where e.id = v_email.id;
  delete from app_private.password_email_tokens t where t.password_email_id = v_email.id;
  perform app_private.revoke_password_emails(v_user.id);
  update app_public.users u set must_change_password = false where u.id = v_user.id and u.must_change_password;
  delete from app_private.login_failures f where f.email = v_user.email;
  -- Whoever knew the old password loses access.
  with revoked as (
    update app_private.sessions s set revoked_at = now(), revoked_reason = 'password_changed'
     where s.user_id = v_user.id and s.revoked_at is null
    returning s.id)
  select count(*) into v_revoked from revoked;
  update app_public.refresh_tokens t set revoked_at = now(), revoked_reason = 'password_changed'
   where t.user_id = v_user.id and t.revoked_at is null;
  perform app_private.write_audit_log('password_changed', 'users', v_user.id, null, null,
    jsonb_build_object('via', v_email.purpose, 'password_email_id', v_email.id, 'revoked_sessions', v_revoked), null,
    case v_email.purpose when 'invite' then 'Password set with an invitation link' else 'Password set with a reset link' end, v_user.id);
  return json_build_object('password_set', true, 'email', v_user.email);
end;
$$;
comment on function app_public.set_password_with_token(text, text) is 'Sets the password of the account an invitation or reset link was sent to, with the token of the link (once: the link is then used, other links revoked, every session ended); then log in. The password rules are those of change_password. Errors: 422 HMS_PASSWORD_LINK_INVALID (unknown, used, replaced or expired), 422 HMS_PASSWORD_POLICY.';
revoke execute on function app_public.set_password_with_token(text, text) from public;
grant execute on function app_public.set_password_with_token(text, text) to :DATABASE_ANONYMOUS, :DATABASE_STAFF;

/*
 * The worker's side (worker/src/tasks/password_emails__send.ts): a fresh token for a pending,
 * unexpired e-mail (its hash replaces an earlier one), the rendered message with the link, or
 * null when there is nothing to send; then "sent".
 */
create or replace function app_private.password_email_claim(p_id uuid, p_link_base text)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_email app_public.password_emails;
  v_user app_public.users;
  v_hospital app_public.hospitals;
  v_template app_public.notification_templates;
  v_token text := encode(public.gen_random_bytes(32), 'hex');
  v_values jsonb;
begin
  select * into v_email from app_public.password_emails e where e.id = p_id for update;
  if not found or v_email.status <> 'pending' or v_email.expires_at <= now() then
    return null;
  end if;
  select * into v_user from app_public.users u where u.id = v_email.user_id;
  select h.* into v_hospital from app_public.hospitals h
   where h.id = coalesce(v_user.home_hospital_id,
                         (select ur.hospital_id from app_public.user_roles ur where ur.user_id = v_user.id and ur.hospital_id is not null
                           order by ur.created_at limit 1));
  insert into app_private.password_email_tokens (password_email_id, token_hash)
  values (v_email.id, public.digest(v_token, 'sha256'))
  on conflict (password_email_id) do update set token_hash = excluded.token_hash;
  v_values := jsonb_build_object(
    'user_name', coalesce(v_user.display_name, v_user.first_name),
    'email', v_user.email,
    'link', rtrim(p_link_base, '/') || '/set-password?token=' || v_token,
    'expires_at', to_char(v_email.expires_at at time zone coalesce(v_hospital.time_zone, 'UTC'), 'FMDD FMMonth YYYY HH24:MI'),
    'hospital_name', coalesce(v_hospital.name, 'HMS'));
  select t.* into v_template from app_public.notification_templates t
   where t.hospital_id = v_hospital.id and t.channel = 'email' and t.is_active
     and t.code = case v_email.purpose when 'invite' then 'user_invitation' else 'password_reset' end
   order by (t.locale = coalesce(v_user.locale, v_hospital.locale)) desc, t.locale limit 1;
  return jsonb_build_object(
    'to', v_email.sent_to,
    'from_name', coalesce(v_hospital.name, 'HMS'),
    'subject', app_hidden.render_template(coalesce(v_template.subject, case v_email.purpose
        when 'invite' then 'You are invited to HMS at {{hospital_name}}'
        else 'Set a new HMS password' end), v_values),
    'text', app_hidden.render_template(coalesce(v_template.body, case v_email.purpose
        when 'invite' then E'Hello {{user_name}},\n\nAn account was created for you ({{email}}) at {{hospital_name}}. Set your password here:\n\n{{link}}\n\nThe link works once, until {{expires_at}}.'
        else E'Hello {{user_name}},\n\nSomeone (we hope you) asked to set a new password for {{email}}. Set it here:\n\n{{link}}\n\nThe link works once, until {{expires_at}}. If you did not ask, ignore this e-mail: your password stays as it is.' end), v_values));
end;
$$;
comment on function app_private.password_email_claim(uuid, text) is 'For the worker: a new one-time token for a pending, unexpired invitation or reset e-mail (only its SHA-256 is kept, replacing an earlier one) and the message to send with the link under p_link_base; null when there is nothing to send.';
revoke execute on function app_private.password_email_claim(uuid, text) from public;

create or replace function app_private.password_email_sent(p_id uuid)
returns void
language sql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  update app_public.password_emails e set status = 'sent', sent_at = now() where e.id = p_id and e.status = 'pending';
$$;
comment on function app_private.password_email_sent(uuid) is 'For the worker: the mail server accepted the invitation or reset e-mail.';
revoke execute on function app_private.password_email_sent(uuid) from public;
grant execute on function app_private.password_email_claim(uuid, text) to :DATABASE_WORKER;
grant execute on function app_private.password_email_sent(uuid) to :DATABASE_WORKER;

/*
 * A hospital administrator's "new member of staff" in one step: the account, its role in the
 * administrator's hospital and (by default) the invitation e-mail. Through plain REST the new
 * account would be invisible to its creator until it has a role, so its id could not be had.
 * The role rules are those of user_roles (hospital roles only; only roles whose permissions the
 * administrator holds — the table's trigger).
 */
create or replace function app_public.create_staff_account(
  email text,
  first_name text,
  last_name text,
  role_id uuid,
  title text default null,
  job_title text default null,
  phone text default null,
  department_id uuid default null,
  send_invitation boolean default true
) returns app_public.users
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('users.manage');
  v_role app_public.roles;
  v_user app_public.users;
begin
  if nullif(trim(create_staff_account.email), '') is null or nullif(trim(create_staff_account.first_name), '') is null
     or create_staff_account.role_id is null then
    perform app_hidden.raise_error('HMS_INVALID_INPUT', 'email, first_name and role_id are required.',
      jsonb_build_object('required', jsonb_build_array('email', 'first_name', 'role_id')));
  end if;
  select * into v_role from app_public.roles r
   where r.id = create_staff_account.role_id and r.is_active and r.scope = 'hospital'
     and (r.hospital_id is null or r.hospital_id = v_hospital);
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such hospital role.', jsonb_build_object('entity', 'roles', 'id', create_staff_account.role_id));
  end if;
  insert into app_public.users (email, title, first_name, last_name, job_title, phone, home_hospital_id)
  values (trim(create_staff_account.email), create_staff_account.title, trim(create_staff_account.first_name),
          nullif(trim(create_staff_account.last_name), ''), create_staff_account.job_title, create_staff_account.phone, v_hospital)
  returning * into v_user;
  insert into app_public.user_roles (user_id, role_id, hospital_id, department_id, is_primary)
  values (v_user.id, v_role.id, v_hospital, create_staff_account.department_id, true);
  if create_staff_account.send_invitation then
    perform app_public.invite_user(v_user.id);
  end if;
  return v_user;
end;
$$;
comment on function app_public.create_staff_account(text, text, text, uuid, text, text, text, uuid, boolean) is 'Creates a member of staff of your hospital: the account (home hospital yours), its role here and, unless send_invitation is false, the invitation e-mail to set a password (invite_user). Needs users.manage; you may give only a hospital role whose permissions you hold. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 403 HMS_GRANT_NOT_HELD, 404 HMS_NOT_FOUND (role), 409 for an e-mail already in use, 422 HMS_INVALID_INPUT.';
revoke execute on function app_public.create_staff_account(text, text, text, uuid, text, text, text, uuid, boolean) from public;
grant execute on function app_public.create_staff_account(text, text, text, uuid, text, text, text, uuid, boolean) to :DATABASE_STAFF;

/*
 * More events that tell people: each a trigger that builds its values and calls app_hidden.notify.
 * Patients hear of their lab report, their prescription, their invoice and their payment (the
 * triggers watch every update: the stamps they look for are set by other triggers, which an
 * UPDATE OF column list would not see); staff
 * with a permission (app_hidden.notify_staff) hear of stock, claims and the day's settlement.
 */

-- An amount as the hospital shows money: 1,234.50 USD.
create or replace function app_hidden.format_money(p_amount numeric, p_currency text)
returns text
language sql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select trim(to_char(coalesce(p_amount, 0), 'FM999G999G999G990D00')) || ' ' || coalesce(p_currency, '');
$$;
comment on function app_hidden.format_money(numeric, text) is 'An amount with two decimals, grouped, and its currency code (1,234.50 USD), as messages show money.';
revoke execute on function app_hidden.format_money(numeric, text) from public;

-- The same event to every active member of staff of the hospital holding p_permission.
create or replace function app_hidden.notify_staff(
  p_hospital_id uuid, p_permission text, p_code text, p_values jsonb,
  p_related_table text default null, p_related_id uuid default null, p_dedupe_key text default null
) returns integer
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user uuid;
  v_count integer := 0;
begin
  for v_user in
    select distinct ur.user_id
      from app_public.user_roles ur
      join app_public.role_permissions rp on rp.role_id = ur.role_id
      join app_public.permissions p on p.id = rp.permission_id
      join app_public.users u on u.id = ur.user_id
     where ur.hospital_id = p_hospital_id and p.code = p_permission
       and current_date >= ur.valid_from and (ur.valid_until is null or current_date <= ur.valid_until)
       and u.is_active and not u.is_deleted
  loop
    v_count := v_count + app_hidden.notify(p_hospital_id, p_code, null, v_user, p_values, p_related_table, p_related_id,
                                           case when p_dedupe_key is not null then p_dedupe_key || ':' || v_user end);
  end loop;
  return v_count;
end;
$$;
comment on function app_hidden.notify_staff(uuid, text, text, jsonb, text, uuid, text) is 'app_hidden.notify to every active member of staff of the hospital whose roles hold p_permission (each once per p_dedupe_key); answers how many notifications it wrote.';
revoke execute on function app_hidden.notify_staff(uuid, text, text, jsonb, text, uuid, text) from public;

create or replace function app_hidden.tg_lab_orders__notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if NEW.reported_at is not null and OLD.reported_at is null then
    perform app_hidden.notify(NEW.hospital_id, 'lab_report_ready', NEW.patient_id, null,
      jsonb_build_object('patient_name', p.full_name, 'test_name', NEW.test_name, 'order_number', NEW.order_number),
      'lab_orders', NEW.id, 'lab_report_ready:' || NEW.id)
      from app_public.patients p where p.hospital_id = NEW.hospital_id and p.id = NEW.patient_id;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_lab_orders__notify() is 'AFTER UPDATE on lab_orders, when reported_at is first set: tells the patient the report is ready (lab_report_ready).';
revoke execute on function app_hidden.tg_lab_orders__notify() from public;
drop trigger if exists _850_notify on app_public.lab_orders;
create trigger _850_notify after update on app_public.lab_orders
  for each row execute function app_hidden.tg_lab_orders__notify();

create or replace function app_hidden.tg_prescriptions__notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if NEW.finalized_at is not null and OLD.finalized_at is null then
    perform app_hidden.notify(NEW.hospital_id, 'prescription_ready', NEW.patient_id, null,
      jsonb_build_object('patient_name', p.full_name, 'prescription_number', NEW.prescription_number,
                         'valid_until', coalesce(to_char(NEW.valid_until, 'FMDD FMMonth YYYY'), '')),
      'prescriptions', NEW.id, 'prescription_ready:' || NEW.id || ':' || NEW.version)
      from app_public.patients p where p.hospital_id = NEW.hospital_id and p.id = NEW.patient_id;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_prescriptions__notify() is 'AFTER UPDATE on prescriptions, when finalized_at is first set: tells the patient the prescription is ready at the pharmacy (prescription_ready).';
revoke execute on function app_hidden.tg_prescriptions__notify() from public;
drop trigger if exists _850_notify on app_public.prescriptions;
create trigger _850_notify after update on app_public.prescriptions
  for each row execute function app_hidden.tg_prescriptions__notify();

create or replace function app_hidden.tg_invoices__notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if NEW.issued_at is not null and OLD.issued_at is null and NEW.patient_id is not null then
    perform app_hidden.notify(NEW.hospital_id, 'invoice_issued', NEW.patient_id, null,
      jsonb_build_object('patient_name', p.full_name, 'invoice_number', NEW.invoice_number,
                         'total_amount', app_hidden.format_money(NEW.total_amount, NEW.currency_code),
                         'balance_due', app_hidden.format_money(NEW.balance_due, NEW.currency_code),
                         'due_date', coalesce(to_char(NEW.due_date, 'FMDD FMMonth YYYY'), '')),
      'invoices', NEW.id, 'invoice_issued:' || NEW.id)
      from app_public.patients p where p.hospital_id = NEW.hospital_id and p.id = NEW.patient_id;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_invoices__notify() is 'AFTER UPDATE on invoices, when issued_at is first set: sends the patient the issued invoice''s amount and due date (invoice_issued).';
revoke execute on function app_hidden.tg_invoices__notify() from public;
drop trigger if exists _850_notify on app_public.invoices;
create trigger _850_notify after update on app_public.invoices
  for each row execute function app_hidden.tg_invoices__notify();

create or replace function app_hidden.tg_payments__notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if NEW.status = 'completed' and NEW.patient_id is not null then
    perform app_hidden.notify(NEW.hospital_id, 'payment_receipt', NEW.patient_id, null,
      jsonb_build_object('patient_name', p.full_name, 'receipt_number', NEW.receipt_number,
                         'amount', app_hidden.format_money(NEW.amount, i.currency_code),
                         'payment_method', replace(NEW.payment_method, '_', ' '),
                         'payment_date', to_char(NEW.payment_date at time zone h.time_zone, 'FMDD FMMonth YYYY'),
                         'invoice_number', coalesce(i.invoice_number, ''),
                         'balance_due', app_hidden.format_money(i.balance_due, i.currency_code)),
      'payments', NEW.id, 'payment_receipt:' || NEW.id)
      from app_public.patients p
      join app_public.hospitals h on h.id = p.hospital_id
      left join app_public.invoices i on i.hospital_id = NEW.hospital_id and i.id = NEW.invoice_id
     where p.hospital_id = NEW.hospital_id and p.id = NEW.patient_id;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_payments__notify() is 'AFTER INSERT on payments: sends the patient the receipt of a completed payment (payment_receipt).';
revoke execute on function app_hidden.tg_payments__notify() from public;
drop trigger if exists _850_notify on app_public.payments;
create trigger _850_notify after insert on app_public.payments
  for each row execute function app_hidden.tg_payments__notify();

/*
 * Scheduled (worker/crontab), each answering what it did. p_as_of is the schedule's own time
 * (the cron job's timestamp), so a backfilled run acts as of its slot and a test can run one on
 * a frozen clock.
 */

-- Reminders: every booked or confirmed appointment starting within the hospital's
-- appointment_reminder_hours of p_as_of (and not before it) gets one reminder.
create or replace function app_private.send_appointment_reminders(p_as_of timestamptz)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_appointment app_public.appointments;
  v_count integer := 0;
begin
  for v_appointment in
    select a.*
      from app_public.hospital_settings s
      join app_public.appointments a
        on a.hospital_id = s.hospital_id
       and a.scheduled_start > p_as_of
       and a.scheduled_start <= p_as_of + make_interval(hours => s.appointment_reminder_hours)
     where s.appointment_reminder_hours > 0
       and a.status in ('booked', 'confirmed') and not a.is_deleted
  loop
    v_count := v_count + app_hidden.notify(v_appointment.hospital_id, 'appointment_reminder', v_appointment.patient_id, null,
                                           app_hidden.appointment_message_values(v_appointment),
                                           'appointments', v_appointment.id, 'appointment_reminder:' || v_appointment.id);
  end loop;
  return v_count;
end;
$$;
comment on function app_private.send_appointment_reminders(timestamptz) is 'Writes the reminder (appointment_reminder, once per appointment) of every booked or confirmed appointment starting within its hospital''s appointment_reminder_hours after p_as_of; answers how many notifications. Run every 10 minutes (appointments__send_reminders).';
revoke execute on function app_private.send_appointment_reminders(timestamptz) from public;

-- Stock alerts, once a day per hospital with low_stock_alerts_enabled: medicines at or below
-- their reorder level, and batches in stock expiring within expiry_alert_days, to the staff
-- holding inventory.manage. One alert per medicine (or batch) and day.
create or replace function app_private.send_stock_alerts(p_as_of timestamptz)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row record;
  v_count integer := 0;
begin
  for v_row in
    select m.hospital_id, m.id, coalesce(m.brand_name, m.generic_name) as name, m.reorder_level, coalesce(sum(b.quantity_on_hand), 0) as on_hand
      from app_public.hospital_settings s
      join app_public.medicines m on m.hospital_id = s.hospital_id and m.is_active and not m.is_deleted and m.reorder_level > 0
      left join app_public.medicine_batches b on b.hospital_id = m.hospital_id and b.medicine_id = m.id and b.status = 'active'
     where s.low_stock_alerts_enabled
     group by m.hospital_id, m.id, m.brand_name, m.generic_name, m.reorder_level
    having coalesce(sum(b.quantity_on_hand), 0) <= m.reorder_level
  loop
    v_count := v_count + app_hidden.notify_staff(v_row.hospital_id, 'inventory.manage', 'low_stock_alert',
      jsonb_build_object('medicine_name', v_row.name, 'quantity_on_hand', v_row.on_hand, 'reorder_level', v_row.reorder_level),
      'medicines', v_row.id, 'low_stock_alert:' || v_row.id || ':' || app_hidden.hospital_local_date(v_row.hospital_id, p_as_of));
  end loop;
  for v_row in
    select b.hospital_id, b.id, b.batch_number, b.expiry_date, b.quantity_on_hand, coalesce(m.brand_name, m.generic_name) as name
      from app_public.hospital_settings s
      join app_public.medicine_batches b on b.hospital_id = s.hospital_id and b.status = 'active' and b.quantity_on_hand > 0
      join app_public.medicines m on m.hospital_id = b.hospital_id and m.id = b.medicine_id
     where s.low_stock_alerts_enabled and s.expiry_alert_days > 0
       and b.expiry_date <= app_hidden.hospital_local_date(s.hospital_id, p_as_of) + s.expiry_alert_days
  loop
    v_count := v_count + app_hidden.notify_staff(v_row.hospital_id, 'inventory.manage', 'expiry_alert',
      jsonb_build_object('medicine_name', v_row.name, 'batch_number', v_row.batch_number,
                         'expiry_date', to_char(v_row.expiry_date, 'FMDD FMMonth YYYY'), 'quantity_on_hand', v_row.quantity_on_hand),
      'medicine_batches', v_row.id, 'expiry_alert:' || v_row.id || ':' || app_hidden.hospital_local_date(v_row.hospital_id, p_as_of));
  end loop;
  return v_count;
end;
$$;
comment on function app_private.send_stock_alerts(timestamptz) is 'Daily: tells the staff holding inventory.manage of medicines at or below their reorder level and of batches in stock expiring within expiry_alert_days (low_stock_alert, expiry_alert; once per item and day), where low_stock_alerts_enabled; answers how many notifications.';
revoke execute on function app_private.send_stock_alerts(timestamptz) from public;

-- Claims submitted longer ago than the insurer's settlement_days (30 without one) and not yet
-- decided or paid: one reminder per claim and week to the staff holding insurance.manage.
create or replace function app_private.send_overdue_claim_alerts(p_as_of timestamptz)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row record;
  v_count integer := 0;
begin
  for v_row in
    select c.hospital_id, c.id, c.claim_number, c.submitted_at, pr.name as insurer, coalesce(pr.settlement_days, 30) as days
      from app_public.insurance_claims c
      join app_public.insurance_providers pr on pr.hospital_id = c.hospital_id and pr.id = c.provider_id
     where c.status in ('submitted', 'under_review')
       and c.submitted_at < p_as_of - make_interval(days => coalesce(pr.settlement_days, 30))
  loop
    v_count := v_count + app_hidden.notify_staff(v_row.hospital_id, 'insurance.manage', 'claim_overdue',
      jsonb_build_object('claim_number', v_row.claim_number, 'insurer', v_row.insurer,
                         'submitted_on', to_char(v_row.submitted_at, 'FMDD FMMonth YYYY'), 'settlement_days', v_row.days),
      'insurance_claims', v_row.id, 'claim_overdue:' || v_row.id || ':' || to_char(p_as_of, 'IYYY-IW'));
  end loop;
  return v_count;
end;
$$;
comment on function app_private.send_overdue_claim_alerts(timestamptz) is 'Daily: tells the staff holding insurance.manage of each claim still submitted or under review past its insurer''s settlement_days (30 by default), once a week (claim_overdue); answers how many notifications.';
revoke execute on function app_private.send_overdue_claim_alerts(timestamptz) from public;

/*
 * The day's settlement, by the clock: every hospital whose local day before p_as_of has no
 * settlement, or one still open, is settled as settle_day does it (payments and refunds locked
 * out while it counts; no counted cash: the system counts what was recorded), with the summary to
 * the staff holding billing.settle. A day a manager reopened is left to them.
 */
create or replace function app_private.settle_due_days(p_as_of timestamptz)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital app_public.hospitals;
  v_day date;
  v_row app_public.daily_settlements;
  v_count integer := 0;
begin
  for v_hospital in select h.* from app_public.hospitals h where h.is_active and not h.is_deleted order by h.code loop
    v_day := app_hidden.hospital_local_date(v_hospital.id, p_as_of) - 1;
    perform pg_advisory_xact_lock(hashtextextended('hms.settlement:' || v_hospital.id || ':' || v_day, 0));
    select * into v_row from app_public.daily_settlements d where d.hospital_id = v_hospital.id and d.settlement_date = v_day;
    continue when found and v_row.status <> 'open';
    lock table app_public.payments, app_public.refunds in share row exclusive mode;
    insert into app_public.daily_settlements (hospital_id, settlement_date) values (v_hospital.id, v_day)
    on conflict on constraint daily_settlements_hospital_id_settlement_date_key do nothing;
    v_row := app_hidden.compute_daily_settlement(v_hospital.id, v_day);
    -- No session, so the status machine stamps nobody: settled_at is the schedule's, settled_by
    -- stays empty (the system settled it).
    update app_public.daily_settlements d set status = 'settled', settled_at = app_hidden.now()
     where d.id = v_row.id returning * into v_row;
    v_count := v_count + 1;
    perform app_hidden.notify_staff(v_hospital.id, 'billing.settle', 'day_settled',
      jsonb_build_object('settlement_date', to_char(v_day, 'FMDay, FMDD FMMonth YYYY'),
                         'total_collected', app_hidden.format_money(v_row.net_collections, v_hospital.currency_code),
                         'payment_count', v_row.payment_count),
      'daily_settlements', v_row.id, 'day_settled:' || v_row.id);
  end loop;
  return v_count;
end;
$$;
comment on function app_private.settle_due_days(timestamptz) is 'Settles, for every active hospital, the local day before p_as_of when it has no settlement or an open one (as settle_day, without counted cash), and sends the summary to the staff holding billing.settle (day_settled); answers how many days it settled. Run hourly (daily_settlements__settle_due), so each hospital''s day is settled within the hour after its local midnight.';
revoke execute on function app_private.settle_due_days(timestamptz) from public;

grant execute on function app_private.send_appointment_reminders(timestamptz) to :DATABASE_WORKER;
grant execute on function app_private.send_stock_alerts(timestamptz) to :DATABASE_WORKER;
grant execute on function app_private.send_overdue_claim_alerts(timestamptz) to :DATABASE_WORKER;
grant execute on function app_private.settle_due_days(timestamptz) to :DATABASE_WORKER;

-- The hourly purge also closes the invitation and reset links that ran out (status expired).
create or replace function app_private.purge_expired_sessions(p_keep interval default interval '30 days')
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_sessions integer;
  v_tokens integer;
  v_links integer;
begin
  if p_keep is null or p_keep < interval '0' then
    raise exception 'purge_expired_sessions: p_keep must be a non-negative interval';
  end if;
  delete from app_private.sessions s
   where least(s.expires_at, coalesce(s.revoked_at, 'infinity')) < now() - p_keep;
  get diagnostics v_sessions = row_count;
  update app_public.password_emails e set status = 'expired'
   where e.status in ('pending', 'sent') and e.expires_at < now();
  get diagnostics v_links = row_count;
  delete from app_private.password_email_tokens t
   using app_public.password_emails e
   where e.id = t.password_email_id
     and (e.status in ('used', 'revoked', 'expired') or e.expires_at < now());
  get diagnostics v_tokens = row_count;
  return jsonb_build_object('sessions', v_sessions, 'password_email_tokens', v_tokens, 'expired_links', v_links);
end;
$$;
comment on function app_private.purge_expired_sessions(interval) is 'Deletes the sessions that ended (expired or revoked) more than p_keep ago, with their refresh tokens; marks invitation and reset links past their expiry expired and deletes the token hashes of those no longer usable; answers the counts. Run hourly by the worker (sessions__purge_expired).';

--! split: 2-graphql.sql
/*
 * GraphQL and the front's rate limits (issue 10 §1, §2): two refusals of the front's own, as rows
 * of the one mapping (app_hidden.raw_errors, source 'front'), so REST and GraphQL answer them with
 * registered codes:
 *   - rate_limited: too many calls of an authentication RPC (login, refresh,
 *     request_password_reset) from one client address or naming one email — 429 HMS_RATE_LIMITED
 *     (new), with Retry-After;
 *   - token_invalid: a bearer token GraphQL refuses before the database (tampered, signed with
 *     another key, expired, another audience) — 401 HMS_SESSION_INVALID, PostgREST's PGRST301.
 */
select app_hidden.register_error_codes('front', $json$[
  {"code": "HMS_RATE_LIMITED", "http_status": 429, "meaning": "Too many calls of the authentication RPCs (login, refresh, request_password_reset, over REST or GraphQL) from one client address or for one email within the window (HMS_AUTH_RATE_LIMIT_*); details.retry_after_seconds and a Retry-After header."}
]$json$);

insert into app_hidden.raw_errors (raw_code, upstream_status, source, code, message, keep_details) values
  ('rate_limited', null, 'front', 'HMS_RATE_LIMITED', 'Too many attempts from this address or for this email: please wait a moment and try again.', false),
  ('token_invalid', null, 'front', 'HMS_SESSION_INVALID', 'The access token is not valid (altered, signed with another key, expired or for another audience): log in again.', false)
on conflict do nothing;
