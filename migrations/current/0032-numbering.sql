/*
 * Numbering (DESIGN.md §7) driven by one registry.
 *
 * app_hidden.document_types lists every document HMS numbers: which table and column the number
 * goes in, and the default format a hospital starts with. Everything else follows from it:
 *   - a new hospital gets one id_sequences row per type (tg_hospitals__provision, 0100 section);
 *   - a type added later is backfilled into every existing hospital (trigger on the registry);
 *   - register_table installs the _010_number trigger on the numbered table;
 *   - the number column is never client-writable (client_writable_columns reads the registry);
 *   - id_sequences.document_type must name a registered type (foreign key).
 *
 * hms_generate_id(hospital, type[, scope]) issues the next number of a sequence under its row
 * lock, so numbers are unique and gapless per hospital, type, scope and period, also under
 * concurrency (a rolled-back transaction gives its number back). A type with a scope_column
 * numbers per department (queue tokens: one sequence per department code, restarting daily).
 */

drop table if exists app_hidden.document_types cascade;
create table app_hidden.document_types (
  document_type text primary key constraint document_types_document_type_check check (document_type ~ '^[a-z][a-z_]*[a-z]$'),
  table_name text not null,
  column_name text not null,
  scope_column text,
  prefix text not null constraint document_types_prefix_check check (prefix ~ '^[A-Z0-9_]{1,16}$'),
  pattern text not null constraint document_types_pattern_check check (position('{SEQ}' in pattern) > 0 and length(pattern) <= 80),
  padding smallint not null constraint document_types_padding_check check (padding between 1 and 12),
  reset_period text not null constraint document_types_reset_period_check check (reset_period in ('never', 'yearly', 'monthly', 'daily')),
  description text not null,
  constraint document_types_table_name_key unique (table_name)
);
comment on table app_hidden.document_types is
  E'Every document type HMS numbers: the table and column its number goes in and the default format (prefix, pattern, padding, reset period) a hospital''s sequence starts with.';
comment on column app_hidden.document_types.table_name is 'The app_public table numbered (one type per table).';
comment on column app_hidden.document_types.column_name is 'Its number column: filled by the _010_number trigger, never written by clients.';
comment on column app_hidden.document_types.scope_column is 'A column of the table naming a department: the department code scopes the sequence (queue tokens per department); null = one sequence per hospital.';
grant select on app_hidden.document_types to :DATABASE_STAFF;

insert into app_hidden.document_types (document_type, table_name, column_name, scope_column, prefix, pattern, padding, reset_period, description) values
  ('patient',           'patients',            'mrn',                      null, 'MRN', '{PREFIX}-{HOSPITAL}-{SEQ}-{CHECK}',        6, 'never',  'Patient medical record number (MRN).'),
  ('appointment',       'appointments',        'appointment_number',       null, 'APT', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Appointment number.'),
  ('queue_token',       'appointment_queue',   'token_label',              'department_id', 'Q', '{PREFIX}-{SEQ}',               3, 'daily',  'Queue token of the day; one sequence per department (scope = department code).'),
  ('prescription',      'prescriptions',       'prescription_number',      null, 'RX',  '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Prescription number.'),
  ('lab_order',         'lab_orders',          'order_number',             null, 'LAB', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Lab order number (also printed on sample labels).'),
  ('dispensing',        'pharmacy_dispensing', 'dispensing_number',        null, 'DSP', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Pharmacy dispensing number.'),
  ('pharmacy_return',   'pharmacy_returns',    'return_number',            null, 'PRT', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Pharmacy return number.'),
  ('optical_order',     'optical_orders',      'order_number',             null, 'OPO', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Optical order number.'),
  ('optical_repair',    'optical_repairs',     'repair_number',            null, 'OPR', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Optical repair ticket number.'),
  ('invoice',           'invoices',            'invoice_number',           null, 'INV', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Invoice number.'),
  ('receipt',           'payments',            'receipt_number',           null, 'RCT', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Payment receipt number.'),
  ('refund',            'refunds',             'refund_number',            null, 'RFD', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Refund number.'),
  ('credit_note',       'credit_notes',        'credit_note_number',       null, 'CRN', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Credit note number.'),
  ('settlement',        'daily_settlements',   'settlement_number',        null, 'STL', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 4, 'yearly', 'Daily settlement number.'),
  ('insurance_claim',   'insurance_claims',    'claim_number',             null, 'CLM', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Insurance claim number.'),
  ('pre_authorization', 'pre_authorizations',  'pre_authorization_number', null, 'PAU', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Insurance pre-authorization request number.'),
  ('purchase_order',    'purchase_orders',     'po_number',                null, 'PO',  '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Purchase order number.'),
  ('goods_receipt',     'goods_receipt_notes', 'grn_number',               null, 'GRN', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Goods receipt note number.'),
  ('stock_adjustment',  'stock_adjustments',   'adjustment_number',        null, 'ADJ', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6, 'yearly', 'Stock adjustment number.'),
  ('cycle_count',       'cycle_counts',        'count_number',             null, 'CC',  '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 4, 'yearly', 'Cycle count number.'),
  ('id_card',           'id_cards',            'card_number',              null, 'IDC', '{PREFIX}-{HOSPITAL}-{SEQ}-{CHECK}',        8, 'never',  'Patient or staff ID card number.');

/* A hospital's sequence of a document type, with the registry's defaults (nothing when it exists). */
create or replace function app_hidden.provision_id_sequences(p_hospital_id uuid, p_document_type text default null) returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  insert into app_public.id_sequences (hospital_id, document_type, prefix, pattern, padding, reset_period, description)
  select p_hospital_id, d.document_type, d.prefix, d.pattern, d.padding, d.reset_period, d.description
    from app_hidden.document_types d
   where p_document_type is null or d.document_type = p_document_type
  on conflict (hospital_id, document_type, scope) do nothing;
$$;
comment on function app_hidden.provision_id_sequences(uuid, text) is
  'Creates the hospital''s id_sequences rows (every registered type, or one) with the registry''s default format; existing rows are kept.';

/* A type registered later is numbered in every existing hospital at once. */
create or replace function app_hidden.tg_document_types__backfill() returns trigger
language plpgsql
volatile
as $$
begin
  perform app_hidden.provision_id_sequences(h.id, NEW.document_type) from app_public.hospitals h;
  return null;
end;
$$;
comment on function app_hidden.tg_document_types__backfill() is 'AFTER INSERT on document_types: every existing hospital gets the new type''s sequence.';
create trigger _900_backfill after insert on app_hidden.document_types
  for each row execute function app_hidden.tg_document_types__backfill();

alter table app_public.id_sequences drop constraint if exists id_sequences_document_type_check;
alter table app_public.id_sequences drop constraint if exists id_sequences_document_type_fkey;
alter table app_public.id_sequences add constraint id_sequences_document_type_fkey
  foreign key (document_type) references app_hidden.document_types (document_type) on update cascade on delete restrict;
create index if not exists idx_id_sequences__document_type on app_public.id_sequences (document_type);
comment on column app_public.id_sequences.document_type is
  'The numbered document type (app_hidden.document_types: patient, appointment, queue_token, prescription, lab_order, dispensing, pharmacy_return, optical_order, optical_repair, invoice, receipt, refund, credit_note, settlement, insurance_claim, pre_authorization, purchase_order, goods_receipt, stock_adjustment, cycle_count, id_card).';

/*
 * ISO 7064 MOD 37,36 (hybrid system): one check character from 0-9A-Z over the letters and
 * digits of the input (other characters, e.g. dashes, are ignored). It detects every single
 * wrong character and every swap of two adjacent characters.
 */
create or replace function app_hidden.hms_calculate_checksum(p_input text) returns text
language plpgsql
immutable
parallel safe
as $$
declare
  v_alphabet constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  v_clean text := regexp_replace(upper(coalesce(p_input, '')), '[^0-9A-Z]', '', 'g');
  v_product integer := 36;
  v_sum integer;
begin
  if v_clean = '' then
    perform app_hidden.raise_error('HMS_CHECKSUM_INPUT_INVALID', 'A check character needs at least one letter or digit.');
  end if;
  for i in 1 .. length(v_clean) loop
    v_sum := (v_product + position(substr(v_clean, i, 1) in v_alphabet) - 1) % 36;
    if v_sum = 0 then
      v_sum := 36;
    end if;
    v_product := (v_sum * 2) % 37;
  end loop;
  return substr(v_alphabet, (37 - v_product) % 36 + 1, 1);
end;
$$;

create or replace function app_hidden.hms_generate_id(p_hospital_id uuid, p_document_type text, p_scope text default '')
returns text
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital_code text;
  v_time_zone text;
  v_local timestamp;
  v_scope text := upper(coalesce(p_scope, ''));
  v_seq app_public.id_sequences;
  v_value bigint;
  v_number text;
  v_check_at integer;
  v_previous text;
begin
  -- The sequence rows are written on the caller's behalf (a client's walk-in token creates its
  -- department's sequence with an upsert): they are the numbering's own writes, not the client's.
  v_previous := app_hidden.enter_workflow();
  if not exists (select 1 from app_hidden.document_types d where d.document_type = p_document_type) then
    perform app_hidden.raise_error('HMS_ID_TYPE_UNKNOWN',
      format('Unknown document type "%s".', p_document_type),
      jsonb_build_object('document_type', p_document_type,
                         'known_types', (select jsonb_agg(d.document_type order by d.document_type) from app_hidden.document_types d)));
  end if;
  select h.code, h.time_zone into v_hospital_code, v_time_zone
    from app_public.hospitals h where h.id = p_hospital_id;
  if not found then
    perform app_hidden.raise_error('HMS_HOSPITAL_NOT_FOUND', 'The hospital does not exist.', jsonb_build_object('hospital_id', p_hospital_id));
  end if;
  -- The business clock, read in the hospital's time zone, decides the period.
  v_local := app_hidden.now() at time zone v_time_zone;

  if v_scope <> '' then
    -- A scoped sequence (e.g. one department's queue) starts as a copy of the hospital-wide one.
    insert into app_public.id_sequences (hospital_id, document_type, scope, prefix, pattern, padding, reset_period, description)
    select s.hospital_id, s.document_type, v_scope, left(v_scope, 16), s.pattern, s.padding, s.reset_period, s.description
      from app_public.id_sequences s
     where s.hospital_id = p_hospital_id and s.document_type = p_document_type and s.scope = ''
    on conflict (hospital_id, document_type, scope) do nothing;
  end if;

  -- The row lock taken here serialises concurrent callers; the value issued is next_value - 1.
  update app_public.id_sequences s
     set next_value = case when s.current_period = app_hidden.id_sequence_period(s.reset_period, v_local)
                           then s.next_value + 1 else 2 end,
         current_period = app_hidden.id_sequence_period(s.reset_period, v_local),
         last_issued_at = now()
   where s.hospital_id = p_hospital_id
     and s.document_type = p_document_type
     and s.scope = v_scope
     and s.is_active
  returning s.* into v_seq;
  if not found then
    perform app_hidden.raise_error('HMS_ID_SEQUENCE_NOT_CONFIGURED',
      format('Numbering of "%s" is not configured or not active for this hospital.', p_document_type),
      jsonb_build_object('hospital_id', p_hospital_id, 'document_type', p_document_type, 'scope', v_scope));
  end if;
  v_value := v_seq.next_value - 1;

  v_number := v_seq.pattern;
  v_number := replace(v_number, '{PREFIX}', v_seq.prefix);
  v_number := replace(v_number, '{HOSPITAL}', v_hospital_code);
  v_number := replace(v_number, '{SCOPE}', v_seq.scope);
  v_number := replace(v_number, '{YYYY}', to_char(v_local, 'YYYY'));
  v_number := replace(v_number, '{YY}', to_char(v_local, 'YY'));
  v_number := replace(v_number, '{MM}', to_char(v_local, 'MM'));
  v_number := replace(v_number, '{DD}', to_char(v_local, 'DD'));
  v_number := replace(v_number, '{SEQ}', lpad(v_value::text, greatest(v_seq.padding, length(v_value::text)), '0'));
  v_check_at := position('{CHECK}' in v_number);
  if v_check_at > 0 then
    v_number := replace(v_number, '{CHECK}', app_hidden.hms_calculate_checksum(left(v_number, v_check_at - 1)));
  end if;
  perform app_hidden.leave_workflow(v_previous);
  return v_number;
end;
$$;
comment on function app_hidden.hms_generate_id(uuid, text, text) is
  E'Issues the next number of a document type for a hospital (and scope), formatted by its id_sequences row. Unique and gapless per hospital, type, scope and period, also under concurrency; errors HMS_ID_TYPE_UNKNOWN, HMS_HOSPITAL_NOT_FOUND, HMS_ID_SEQUENCE_NOT_CONFIGURED.';

/*
 * BEFORE INSERT (_010_number, installed by register_table from the registry): fills the number
 * column (TG_ARGV[0]) of a document type (TG_ARGV[1]) when none is given — clients cannot give
 * one (no column privilege); a trusted writer may supply a number it generated itself. With a
 * scope column (TG_ARGV[2]) the sequence is that department's.
 */
create or replace function app_hidden.tg__assign_number() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_column text := TG_ARGV[0];
  v_document_type text := TG_ARGV[1];
  v_scope_column text := nullif(TG_ARGV[2], '');
  v_scope text := '';
begin
  if to_jsonb(NEW) ->> v_column is null then
    if v_scope_column is not null then
      select d.code into v_scope from app_public.departments d
       where d.hospital_id = NEW.hospital_id and d.id = (to_jsonb(NEW) ->> v_scope_column)::uuid;
    end if;
    NEW := jsonb_populate_record(NEW, jsonb_build_object(v_column,
             app_hidden.hms_generate_id(NEW.hospital_id, v_document_type, coalesce(v_scope, ''))));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__assign_number() is
  'BEFORE INSERT (_010_number): fills the number column (TG_ARGV[0]) from hms_generate_id(hospital_id, TG_ARGV[1], the code of the department in TG_ARGV[2]) when none is given.';

create or replace function app_hidden.tg_hospitals__provision() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  insert into app_public.hospital_settings (hospital_id) values (NEW.id);
  perform app_hidden.provision_id_sequences(NEW.id);
  return null;
end;
$$;
comment on function app_hidden.tg_hospitals__provision() is
  'AFTER INSERT on hospitals: creates the hospital_settings row and one id_sequences row per registered document type.';

select app_hidden.register_error_codes('numbering', $json$[
  {"code": "HMS_ID_TYPE_UNKNOWN", "http_status": 422, "meaning": "The document type is not one HMS numbers; details.known_types lists them."},
  {"code": "HMS_HOSPITAL_NOT_FOUND", "http_status": 404, "meaning": "No hospital with that id."},
  {"code": "HMS_ID_SEQUENCE_NOT_CONFIGURED", "http_status": 422, "meaning": "The hospital has no active sequence for that document type (and scope)."},
  {"code": "HMS_CHECKSUM_INPUT_INVALID", "http_status": 422, "meaning": "The input has no letter or digit to compute a check character from."}
]$json$);
