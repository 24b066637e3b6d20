--! Previous: sha1:68422b38ff417648c0a46da730b6310c1d11298b
--! Hash: sha1:6bf9664487a9b36deb7f779c2931e8ebfc3786ef

--! split: 1-current.sql
/*
 * A purchase order e-mailed to its supplier when it is sent (issue 10): notifications get a third
 * kind of recipient, the supplier, reached by e-mail at the address on its record.
 */
alter table app_public.notifications add column if not exists supplier_id uuid;
comment on column app_public.notifications.supplier_id is 'Supplier the message is for (recipient_type supplier): a purchase order sent to it.';
alter table app_public.notifications
  drop constraint if exists notifications_recipient_type_check,
  drop constraint if exists notifications_recipient_check,
  drop constraint if exists notifications_supplier_fkey,
  add constraint notifications_recipient_type_check check (recipient_type in ('patient', 'user', 'supplier')),
  add constraint notifications_recipient_check check (
    recipient_type = 'patient' and patient_id is not null and user_id is null and supplier_id is null
    or recipient_type = 'user' and user_id is not null and patient_id is null and supplier_id is null
    or recipient_type = 'supplier' and supplier_id is not null and patient_id is null and user_id is null),
  add constraint notifications_supplier_fkey foreign key (hospital_id, supplier_id)
    references app_public.suppliers (hospital_id, id) on delete restrict;
comment on column app_public.notifications.recipient_type is 'patient, user (a member of staff) or supplier; the matching id column is set, the others empty.';
create index if not exists idx_notifications__hospital_id_supplier_id_created_at on app_public.notifications (hospital_id, supplier_id, created_at desc)
  where supplier_id is not null;
select app_hidden.create_constraint_probe('app_public.notifications');

drop function if exists app_hidden.notify(uuid, text, uuid, uuid, jsonb, text, uuid, text, text);
create or replace function app_hidden.notify(p_hospital_id uuid, p_code text, p_patient_id uuid, p_user_id uuid, p_values jsonb, p_related_table text DEFAULT NULL::text, p_related_id uuid DEFAULT NULL::uuid, p_dedupe_key text DEFAULT NULL::text, p_action_url text DEFAULT NULL::text, p_supplier_id uuid DEFAULT NULL::uuid)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_settings app_public.hospital_settings;
  v_hospital app_public.hospitals;
  v_patient app_public.patients;
  v_user app_public.users;
  v_supplier app_public.suppliers;
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
  if num_nonnulls(p_patient_id, p_user_id, p_supplier_id) <> 1 then
    raise exception 'notify: give exactly one of p_patient_id, p_user_id, p_supplier_id';
  end if;
  select * into v_hospital from app_public.hospitals h where h.id = p_hospital_id;
  select * into v_settings from app_public.hospital_settings s where s.hospital_id = p_hospital_id;
  if p_patient_id is not null then
    select * into v_patient from app_public.patients p where p.hospital_id = p_hospital_id and p.id = p_patient_id;
    if not found or v_patient.is_deceased or v_patient.is_deleted then
      return 0;
    end if;
    v_locale := coalesce(v_patient.preferred_language, v_hospital.locale);
  elsif p_supplier_id is not null then
    select * into v_supplier from app_public.suppliers s where s.hospital_id = p_hospital_id and s.id = p_supplier_id;
    if not found or not v_supplier.is_active or v_supplier.is_deleted then
      return 0;
    end if;
    v_locale := v_hospital.locale;
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
    -- A supplier hears by e-mail only: its orders go to the address on its record.
    continue when p_supplier_id is not null and v_template.channel <> 'email';
    if v_template.channel = 'in_app' then
      continue when p_user_id is null;
    elsif v_template.channel = 'email' then
      continue when not coalesce(v_settings.email_notifications_enabled, false);
      v_address := coalesce(v_patient.email::text, v_user.email::text, v_supplier.email::text);
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
      (hospital_id, recipient_type, patient_id, user_id, supplier_id, template_id, channel, category, title, body, data,
       related_table, related_id, action_url, status, dedupe_key, sent_at)
    values
      (p_hospital_id, case when p_patient_id is not null then 'patient' when p_user_id is not null then 'user' else 'supplier' end,
       p_patient_id, p_user_id, p_supplier_id,
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
$function$;
comment on function app_hidden.notify(uuid, text, uuid, uuid, jsonb, text, uuid, text, text, uuid) is 'Writes the notifications of one event (template p_code of the hospital) to a patient, a member of staff or a supplier on every channel the hospital''s settings, the recipient''s consents and addresses and the templates allow (suppliers: e-mail only), in the recipient''s language; queues email/SMS/WhatsApp for the worker. Idempotent per p_dedupe_key. Answers how many it wrote.';
revoke execute on function app_hidden.notify(uuid, text, uuid, uuid, jsonb, text, uuid, text, text, uuid) from public;

create or replace function app_hidden.tg_purchase_orders__notify()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if NEW.sent_at is not null and OLD.sent_at is null then
    perform app_hidden.notify(NEW.hospital_id, 'purchase_order_sent', null, null,
      jsonb_build_object(
        'supplier_name', s.name, 'po_number', NEW.po_number,
        'order_date', to_char(NEW.order_date, 'FMDD FMMonth YYYY'),
        'expected_delivery_date', coalesce(to_char(NEW.expected_delivery_date, 'FMDD FMMonth YYYY'), 'as agreed'),
        'total_amount', app_hidden.format_money(NEW.total_amount, coalesce(NEW.currency_code, h.currency_code)),
        'payment_terms', coalesce(NEW.payment_terms, s.payment_terms_days || ' days', ''),
        'delivery_address', coalesce(NEW.delivery_address, ''),
        'lines', (select string_agg(format('%s. %s × %s (%s each)', i.line_number, trim(to_char(i.quantity_ordered, 'FM999G999G990')),
                                           i.description, app_hidden.format_money(i.unit_cost, coalesce(NEW.currency_code, h.currency_code))), E'\n' order by i.line_number)
                    from app_public.purchase_order_items i where i.hospital_id = NEW.hospital_id and i.purchase_order_id = NEW.id)),
      'purchase_orders', NEW.id, 'purchase_order_sent:' || NEW.id, null, NEW.supplier_id)
      from app_public.suppliers s join app_public.hospitals h on h.id = s.hospital_id
     where s.hospital_id = NEW.hospital_id and s.id = NEW.supplier_id;
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg_purchase_orders__notify() is 'AFTER UPDATE on purchase_orders, when sent_at is first set: e-mails the order with its lines to the supplier (purchase_order_sent).';
revoke execute on function app_hidden.tg_purchase_orders__notify() from public;
drop trigger if exists _850_notify on app_public.purchase_orders;
create trigger _850_notify after update on app_public.purchase_orders
  for each row execute function app_hidden.tg_purchase_orders__notify();
