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
