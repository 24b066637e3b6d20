--! Previous: -
--! Hash: sha1:fb7bdd78ab2385c2306270d2ae56363779862f60

--! split: 0001-reset.sql
/*
 * Reset. graphile-migrate re-runs `current/` on every change while a DBA works on it, so
 * everything below must be idempotent: we drop our three schemas (and with them every table,
 * function, trigger and policy) and create them again. Committed migrations are never re-run.
 * Extensions and database roles are created outside migrations, by `db/launcher/bootstrap.ts`
 * (they need the superuser and are cluster-wide).
 */
drop schema if exists app_public cascade;
drop schema if exists app_hidden cascade;
drop schema if exists app_private cascade;

--! split: 0010-schemas.sql
/*
 * Schemas and default privileges (DESIGN.md §4).
 *
 * - app_public:  the business tables and RPC functions. PostgREST and PostGraphile expose it.
 * - app_hidden:  helpers that policies, triggers and functions call. Not exposed, but staff may
 *                execute what is granted explicitly.
 * - app_private: secrets and internals (password hashes, sessions, token hashes, instance
 *                settings). Only the owner and `security definer` functions reach it.
 *
 * Nothing is granted by default: functions lose their implicit EXECUTE for PUBLIC, and every
 * grant later in this migration is explicit. :DATABASE_STAFF etc. are graphile-migrate
 * placeholders (see .gmrc), so role names are configuration, not code.
 */
revoke all on schema public from public;
grant usage on schema public to :DATABASE_OWNER, :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create schema app_public;
comment on schema app_public is
  E'HMS — hospital management API. Every table is scoped to one hospital (tenant) unless its description says otherwise.';
create schema app_hidden;
comment on schema app_hidden is 'Helpers used by policies, triggers and functions; not exposed over the API.';
create schema app_private;
comment on schema app_private is 'Secrets and internals; reachable only through security definer functions.';

grant usage on schema app_public to :DATABASE_STAFF, :DATABASE_ANONYMOUS;
grant usage on schema app_hidden to :DATABASE_STAFF, :DATABASE_ANONYMOUS;
-- app_private: no usage for anyone but the owner.

alter default privileges in schema public, app_public, app_hidden, app_private
  revoke all on functions from public;
alter default privileges in schema app_public, app_hidden, app_private
  revoke all on tables from public;
alter default privileges in schema app_public, app_hidden, app_private
  revoke all on sequences from public;

--! split: 0020-common.sql
/*
 * Shared helpers used by every later section.
 *
 * raise_error — the one way HMS raises a business error (DESIGN.md §10). PostgREST turns
 *   `sqlstate 'PGRST'` with a JSON message and a JSON detail into exactly that HTTP status and
 *   body, so both APIs answer `{code, message, details, hint}` with a stable application code.
 *   Every code used anywhere is listed in db/error_codes.md.
 *
 * current_user_id — who is acting. Until the identity issue lands it trusts the `sub` claim of
 *   the (signature-checked) JWT, but only when it names an active user; the identity work will
 *   resolve the session (`sid`) instead so that revocation takes effect at once.
 *
 * tg__stamp — keeps created_at/created_by immutable and stamps updated_at/updated_by, on every
 *   table, whichever API the write arrives through.
 */
create function app_hidden.raise_error(
  p_code text,
  p_message text,
  p_status integer default 422,
  p_details jsonb default null,
  p_hint text default null
) returns void
language plpgsql
volatile
as $$
begin
  raise sqlstate 'PGRST' using
    message = json_build_object('code', p_code, 'message', p_message, 'details', p_details, 'hint', p_hint)::text,
    detail = json_build_object('status', p_status, 'headers', json_build_object())::text;
end;
$$;
comment on function app_hidden.raise_error(text, text, integer, jsonb, text) is
  E'Raises a business error with a stable HMS_* code, a human message and an HTTP status (422 by default). See db/error_codes.md.';
grant execute on function app_hidden.raise_error(text, text, integer, jsonb, text) to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create function app_hidden.jwt_claim(p_name text) returns text
language sql
stable
as $$
  select nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> p_name;
$$;
comment on function app_hidden.jwt_claim(text) is
  'One claim of the verified JWT of the current request (PostgREST and PostGraphile both set request.jwt.claims), or null.';
grant execute on function app_hidden.jwt_claim(text) to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create function app_hidden.current_user_id() returns uuid
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_sub text := app_hidden.jwt_claim('sub');
  v_user_id uuid;
begin
  if v_sub is null or v_sub !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return null;
  end if;
  select u.id into v_user_id
    from app_public.users u
   where u.id = v_sub::uuid and u.is_active and not u.is_deleted;
  return v_user_id;
end;
$$;
comment on function app_hidden.current_user_id() is
  'The acting user: the JWT subject when it names an active user, otherwise null (the owner, migrations, seed data).';
grant execute on function app_hidden.current_user_id() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create function app_hidden.tg__stamp() returns trigger
language plpgsql
as $$
declare
  v_actor uuid := app_hidden.current_user_id();
begin
  if TG_OP = 'INSERT' then
    NEW.created_at := now();
    NEW.updated_at := NEW.created_at;
    -- A request's user wins; a trusted writer without a session (seed, psql as owner) may name one.
    NEW.created_by := coalesce(v_actor, NEW.created_by);
    NEW.updated_by := NEW.created_by;
  else
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := greatest(now(), OLD.updated_at);
    NEW.updated_by := coalesce(v_actor, NEW.updated_by);
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__stamp() is
  'BEFORE INSERT/UPDATE trigger for every table: created_at/created_by are set once and never change; updated_at/updated_by follow each write.';

create function app_hidden.tg__soft_delete_stamp() returns trigger
language plpgsql
as $$
begin
  -- Keep is_deleted and deleted_at consistent whichever one a client sets.
  if NEW.is_deleted and NEW.deleted_at is null then
    NEW.deleted_at := now();
  elsif not NEW.is_deleted then
    NEW.deleted_at := null;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__soft_delete_stamp() is
  'BEFORE INSERT/UPDATE trigger for soft-deletable tables: deleted_at is set when is_deleted becomes true and cleared when it is undone.';

create function app_hidden.is_valid_time_zone(p_name text) returns boolean
language sql
stable
as $$
  select exists (select 1 from pg_catalog.pg_timezone_names where name = p_name);
$$;
comment on function app_hidden.is_valid_time_zone(text) is 'True when the name is an IANA time zone PostgreSQL knows (e.g. America/New_York).';

--! split: 0100-hospitals.sql
/*
 * Hospitals — the tenants. A chain runs several hospitals in one database; every business row
 * carries `hospital_id` and (from the identity issue on) row-level security shows staff one
 * hospital at a time. `hospitals` itself is chain-level (no hospital_id).
 *
 * Tenant consistency is enforced by keys, not by application code: every tenant table has
 * `unique (hospital_id, id)`, and children reference their parent with a *composite* foreign key
 * `(hospital_id, parent_id)`, so a row can never point at another hospital's row.
 */

create table app_public.hospitals (
  id uuid primary key default gen_random_uuid(),
  code text not null
    constraint hospitals_code_check check (code ~ '^[A-Z][A-Z0-9]{1,9}$'),
  name text not null constraint hospitals_name_check check (length(trim(name)) between 2 and 200),
  legal_name text,
  hospital_type text not null default 'general'
    constraint hospitals_hospital_type_check check (hospital_type in ('general', 'multi_specialty', 'specialty', 'teaching', 'clinic', 'eye_care', 'diagnostic_center')),
  registration_number text,
  tax_identifier text,
  email citext constraint hospitals_email_check check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  phone text constraint hospitals_phone_check check (phone ~ '^\+?[0-9 ()./-]{6,24}$'),
  website text,
  address_line1 text,
  address_line2 text,
  city text,
  state_province text,
  postal_code text,
  country_code char(2) not null default 'US' constraint hospitals_country_code_check check (country_code ~ '^[A-Z]{2}$'),
  time_zone text not null default 'UTC'
    constraint hospitals_time_zone_check check (app_hidden.is_valid_time_zone(time_zone)),
  currency_code char(3) not null default 'USD' constraint hospitals_currency_code_check check (currency_code ~ '^[A-Z]{3}$'),
  locale text not null default 'en-US' constraint hospitals_locale_check check (locale ~ '^[a-z]{2,3}(-[A-Z]{2})?$'),
  bed_capacity integer constraint hospitals_bed_capacity_check check (bed_capacity >= 0),
  accreditation text,
  logo_url text,
  is_active boolean not null default true,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint hospitals_code_key unique (code),
  constraint hospitals_deleted_check check (is_deleted = (deleted_at is not null))
);
comment on table app_public.hospitals is
  E'A hospital of the chain (the tenant). Chain-level: not scoped by hospital_id.';
comment on column app_public.hospitals.code is E'Short unique code (2–10 capitals/digits, e.g. NY) used in document numbers.';
comment on column app_public.hospitals.name is 'Display name, e.g. HMS Core NY.';
comment on column app_public.hospitals.legal_name is 'Registered legal entity name printed on invoices.';
comment on column app_public.hospitals.hospital_type is 'general, multi_specialty, specialty, teaching, clinic, eye_care or diagnostic_center.';
comment on column app_public.hospitals.registration_number is 'Licence / registration number issued by the health authority.';
comment on column app_public.hospitals.tax_identifier is 'Tax registration (GSTIN, VAT number, EIN, …) printed on invoices.';
comment on column app_public.hospitals.email is 'Main contact email.';
comment on column app_public.hospitals.phone is 'Main contact phone, international format preferred.';
comment on column app_public.hospitals.website is 'Public website URL.';
comment on column app_public.hospitals.address_line1 is 'Street address, first line.';
comment on column app_public.hospitals.address_line2 is 'Street address, second line.';
comment on column app_public.hospitals.city is 'City.';
comment on column app_public.hospitals.state_province is 'State, province or region.';
comment on column app_public.hospitals.postal_code is 'Postal / ZIP code.';
comment on column app_public.hospitals.country_code is 'ISO 3166-1 alpha-2 country code.';
comment on column app_public.hospitals.time_zone is E'IANA time zone; days (queue tokens, settlements, number periods) are counted in it.';
comment on column app_public.hospitals.currency_code is 'ISO 4217 currency of every amount recorded for this hospital.';
comment on column app_public.hospitals.locale is 'Default locale for printed documents and notifications (BCP 47, e.g. en-US).';
comment on column app_public.hospitals.bed_capacity is 'Licensed number of beds.';
comment on column app_public.hospitals.accreditation is 'Accreditations held (e.g. JCI, NABH).';
comment on column app_public.hospitals.logo_url is 'Logo shown in the console and on printed documents.';
comment on column app_public.hospitals.is_active is 'False when the hospital no longer operates; its records stay readable.';

create trigger _100_stamp before insert or update on app_public.hospitals
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.hospitals
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * One settings row per hospital (1-to-1): scheduling defaults, billing defaults, branding and
 * print configuration. Numbering formats live in id_sequences.
 */
create table app_public.hospital_settings (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete cascade,
  default_slot_minutes smallint not null default 15
    constraint hospital_settings_default_slot_minutes_check check (default_slot_minutes between 5 and 240),
  booking_horizon_days smallint not null default 90
    constraint hospital_settings_booking_horizon_days_check check (booking_horizon_days between 1 and 730),
  allow_walk_ins boolean not null default true,
  cancellation_notice_hours smallint not null default 2
    constraint hospital_settings_cancellation_notice_hours_check check (cancellation_notice_hours between 0 and 168),
  no_show_after_minutes smallint not null default 30
    constraint hospital_settings_no_show_after_minutes_check check (no_show_after_minutes between 5 and 1440),
  appointment_reminder_hours smallint not null default 24
    constraint hospital_settings_appointment_reminder_hours_check check (appointment_reminder_hours between 0 and 336),
  prescription_validity_days smallint not null default 30
    constraint hospital_settings_prescription_validity_days_check check (prescription_validity_days between 1 and 365),
  invoice_due_days smallint not null default 0
    constraint hospital_settings_invoice_due_days_check check (invoice_due_days between 0 and 365),
  fiscal_year_start_month smallint not null default 1
    constraint hospital_settings_fiscal_year_start_month_check check (fiscal_year_start_month between 1 and 12),
  prices_include_tax boolean not null default false,
  refund_approval_threshold numeric(12,2) not null default 0
    constraint hospital_settings_refund_approval_threshold_check check (refund_approval_threshold >= 0),
  expiry_alert_days smallint not null default 90
    constraint hospital_settings_expiry_alert_days_check check (expiry_alert_days between 0 and 730),
  near_expiry_block_days smallint not null default 0
    constraint hospital_settings_near_expiry_block_days_check check (near_expiry_block_days between 0 and 365),
  low_stock_alerts_enabled boolean not null default true,
  email_notifications_enabled boolean not null default true,
  sms_notifications_enabled boolean not null default false,
  whatsapp_notifications_enabled boolean not null default false,
  primary_color text not null default '#1565c0'
    constraint hospital_settings_primary_color_check check (primary_color ~ '^#[0-9a-fA-F]{6}$'),
  letterhead_url text,
  print_paper_size text not null default 'A4'
    constraint hospital_settings_print_paper_size_check check (print_paper_size in ('A4', 'A5', 'letter', 'thermal_80mm')),
  print_header text,
  print_footer text,
  invoice_terms text,
  prescription_footer text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint hospital_settings_hospital_id_key unique (hospital_id)
);
comment on table app_public.hospital_settings is
  E'Per-hospital configuration (one row per hospital): scheduling, billing, stock alerts, notification channels, branding and print layout.';
comment on column app_public.hospital_settings.default_slot_minutes is 'Appointment slot length used when a doctor schedule does not set its own.';
comment on column app_public.hospital_settings.booking_horizon_days is 'How many days ahead appointments may be booked.';
comment on column app_public.hospital_settings.allow_walk_ins is 'Whether reception may add walk-in patients to the queue without a booking.';
comment on column app_public.hospital_settings.cancellation_notice_hours is 'Minimum notice for a patient-initiated cancellation.';
comment on column app_public.hospital_settings.no_show_after_minutes is 'Minutes after the slot start after which an unchecked-in appointment may be marked no-show.';
comment on column app_public.hospital_settings.appointment_reminder_hours is 'How long before an appointment the reminder is sent (0 = none).';
comment on column app_public.hospital_settings.prescription_validity_days is 'Days a prescription may be dispensed after it is written.';
comment on column app_public.hospital_settings.invoice_due_days is 'Days after issue an invoice falls due (0 = due on issue).';
comment on column app_public.hospital_settings.fiscal_year_start_month is 'First month (1–12) of the fiscal year, for yearly number resets and reports.';
comment on column app_public.hospital_settings.prices_include_tax is 'Whether list prices are tax-inclusive by default.';
comment on column app_public.hospital_settings.refund_approval_threshold is 'Refunds above this amount need a second person to approve (0 = every refund).';
comment on column app_public.hospital_settings.expiry_alert_days is 'Batches expiring within this many days raise an alert.';
comment on column app_public.hospital_settings.near_expiry_block_days is 'Batches expiring within this many days are not dispensed (0 = only expired batches are blocked).';
comment on column app_public.hospital_settings.low_stock_alerts_enabled is 'Raise alerts when a medicine falls below its reorder level.';
comment on column app_public.hospital_settings.email_notifications_enabled is 'Send notifications by email.';
comment on column app_public.hospital_settings.sms_notifications_enabled is 'Send notifications by SMS.';
comment on column app_public.hospital_settings.whatsapp_notifications_enabled is 'Send notifications by WhatsApp.';
comment on column app_public.hospital_settings.primary_color is 'Brand colour (#rrggbb) for the console and printouts.';
comment on column app_public.hospital_settings.letterhead_url is 'Letterhead image used on printed documents.';
comment on column app_public.hospital_settings.print_paper_size is 'Paper for printed documents: A4, A5, letter or thermal_80mm (receipts).';
comment on column app_public.hospital_settings.print_header is 'Text printed at the top of documents.';
comment on column app_public.hospital_settings.print_footer is 'Text printed at the bottom of documents.';
comment on column app_public.hospital_settings.invoice_terms is 'Payment terms printed on invoices.';
comment on column app_public.hospital_settings.prescription_footer is 'Text printed under prescriptions (e.g. pharmacy hours).';

create trigger _100_stamp before insert or update on app_public.hospital_settings
  for each row execute function app_hidden.tg__stamp();

/*
 * Departments of a hospital (cardiology, pharmacy, billing…). A department may sit under
 * another (parent) of the same hospital. The head of department is linked in the doctors section.
 */
create table app_public.departments (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  code text not null constraint departments_code_check check (code ~ '^[A-Z][A-Z0-9_]{1,15}$'),
  name text not null constraint departments_name_check check (length(trim(name)) between 2 and 120),
  department_type text not null default 'clinical'
    constraint departments_department_type_check check (department_type in ('clinical', 'diagnostic', 'surgical', 'emergency', 'pharmacy', 'optical', 'administrative', 'support')),
  description text,
  parent_department_id uuid,
  location text,
  phone_extension text,
  email citext constraint departments_email_check check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  accepts_appointments boolean not null default false,
  is_active boolean not null default true,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint departments_hospital_id_id_key unique (hospital_id, id),
  constraint departments_hospital_id_code_key unique (hospital_id, code),
  constraint departments_parent_department_fkey foreign key (hospital_id, parent_department_id)
    references app_public.departments (hospital_id, id) on delete restrict,
  constraint departments_not_own_parent_check check (parent_department_id <> id),
  constraint departments_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_departments__hospital_id_parent_department_id on app_public.departments (hospital_id, parent_department_id)
  where parent_department_id is not null;
comment on table app_public.departments is 'A department of a hospital (clinical, diagnostic, pharmacy, administrative, …).';
comment on column app_public.departments.code is 'Short code unique within the hospital (e.g. CARD); used in queue token numbers.';
comment on column app_public.departments.name is 'Display name, e.g. Cardiology.';
comment on column app_public.departments.department_type is 'clinical, diagnostic, surgical, emergency, pharmacy, optical, administrative or support.';
comment on column app_public.departments.description is 'What the department does.';
comment on column app_public.departments.parent_department_id is 'Enclosing department of the same hospital, if any.';
comment on column app_public.departments.location is 'Building, floor and room, for signage and patient directions.';
comment on column app_public.departments.phone_extension is 'Internal phone extension.';
comment on column app_public.departments.email is 'Department email.';
comment on column app_public.departments.accepts_appointments is 'Whether patients can be booked into this department (outpatient clinics).';
comment on column app_public.departments.is_active is 'False when the department is closed; history stays.';

create trigger _100_stamp before insert or update on app_public.departments
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.departments
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Tax rules per hospital, country-neutral: a rate with optional components (e.g. India's GST as
 * CGST + SGST, or a single VAT rate), what it applies to, and a validity window so a rate change
 * does not rewrite history. Invoice lines copy the rate they used.
 */
create table app_public.tax_configurations (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  code text not null constraint tax_configurations_code_check check (code ~ '^[A-Z][A-Z0-9_]{1,23}$'),
  name text not null,
  tax_type text not null default 'vat'
    constraint tax_configurations_tax_type_check check (tax_type in ('vat', 'gst', 'sales_tax', 'service_tax', 'exempt', 'other')),
  applies_to text not null default 'all'
    constraint tax_configurations_applies_to_check check (applies_to in ('all', 'consultation', 'procedure', 'medicine', 'lab', 'optical', 'room', 'other')),
  rate_percent numeric(5,2) not null
    constraint tax_configurations_rate_percent_check check (rate_percent between 0 and 100),
  components jsonb not null default '[]'::jsonb
    constraint tax_configurations_components_check check (jsonb_typeof(components) = 'array'),
  tax_code text,
  is_inclusive boolean not null default false,
  is_default boolean not null default false,
  effective_from date not null default current_date,
  effective_to date,
  is_active boolean not null default true,
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint tax_configurations_hospital_id_id_key unique (hospital_id, id),
  constraint tax_configurations_hospital_id_code_key unique (hospital_id, code),
  constraint tax_configurations_validity_check check (effective_to is null or effective_to >= effective_from)
);
create unique index idx_tax_configurations__one_default_per_category on app_public.tax_configurations (hospital_id, applies_to)
  where is_default and is_active;
comment on table app_public.tax_configurations is
  E'Tax rules of a hospital: rate, components, what they apply to and when they are valid.';
comment on column app_public.tax_configurations.code is 'Short code unique within the hospital, e.g. VAT_STD or GST_5.';
comment on column app_public.tax_configurations.name is 'Name printed on invoices, e.g. GST 5%.';
comment on column app_public.tax_configurations.tax_type is 'vat, gst, sales_tax, service_tax, exempt or other.';
comment on column app_public.tax_configurations.applies_to is 'Item category the rule applies to: all, consultation, procedure, medicine, lab, optical, room or other.';
comment on column app_public.tax_configurations.rate_percent is 'Total rate in percent (0–100).';
comment on column app_public.tax_configurations.components is E'Split of the rate for printing, e.g. [{"name":"CGST","rate_percent":2.5},{"name":"SGST","rate_percent":2.5}].';
comment on column app_public.tax_configurations.tax_code is 'Classification code the rate belongs to (HSN/SAC, EU VAT category, …).';
comment on column app_public.tax_configurations.is_inclusive is 'Whether prices this rule applies to already include the tax.';
comment on column app_public.tax_configurations.is_default is 'The rule used for its category when an item names none (one active default per category).';
comment on column app_public.tax_configurations.effective_from is 'First day the rule applies.';
comment on column app_public.tax_configurations.effective_to is 'Last day the rule applies (null = open-ended).';
comment on column app_public.tax_configurations.is_active is 'False to retire the rule; lines already billed keep their copied rate.';
comment on column app_public.tax_configurations.description is 'Notes, e.g. the legal basis of an exemption.';

create trigger _100_stamp before insert or update on app_public.tax_configurations
  for each row execute function app_hidden.tg__stamp();

--! split: 0200-users-and-access.sql
/*
 * Users and access. People who log in are `users` (chain-level: one account may work in several
 * hospitals). What they may do comes from rows, never from database roles: users → user_roles
 * (per hospital) → roles → role_permissions → permissions (`<module>.<action>`).
 *
 * Secrets never sit in app_public: the password hash, the live sessions and the hashes of
 * refresh tokens and password-email tokens live in app_private, one-to-one with their public row,
 * reachable only through security definer functions (the identity issue adds them).
 */

create table app_public.users (
  id uuid primary key default gen_random_uuid(),
  email citext not null constraint users_email_check check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  title text,
  first_name text not null constraint users_first_name_check check (length(trim(first_name)) between 1 and 100),
  last_name text not null constraint users_last_name_check check (length(trim(last_name)) between 1 and 100),
  display_name text,
  phone text constraint users_phone_check check (phone ~ '^\+?[0-9 ()./-]{6,24}$'),
  job_title text,
  employee_code text,
  home_hospital_id uuid references app_public.hospitals (id) on delete restrict,
  avatar_url text,
  locale text not null default 'en-US' constraint users_locale_check check (locale ~ '^[a-z]{2,3}(-[A-Z]{2})?$'),
  must_change_password boolean not null default false,
  last_login_at timestamptz,
  is_active boolean not null default true,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint users_email_key unique (email),
  constraint users_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_users__home_hospital_id on app_public.users (home_hospital_id);
create index idx_users__name_trgm on app_public.users
  using gin ((lower(first_name || ' ' || last_name)) gin_trgm_ops);
comment on table app_public.users is
  E'A person who logs in (staff of one or more hospitals). Chain-level: hospital membership comes from user_roles. The password hash lives in app_private.';
comment on column app_public.users.email is 'Login name; unique across the chain, case-insensitive.';
comment on column app_public.users.title is 'Form of address, e.g. Dr.';
comment on column app_public.users.first_name is 'Given name.';
comment on column app_public.users.last_name is 'Family name.';
comment on column app_public.users.display_name is 'Name shown in the console when different from first + last name.';
comment on column app_public.users.phone is 'Work phone, international format preferred.';
comment on column app_public.users.job_title is 'Job title as printed on badges, e.g. Senior Pharmacist.';
comment on column app_public.users.employee_code is 'HR employee number.';
comment on column app_public.users.home_hospital_id is 'Hospital a login opens in when none is asked for.';
comment on column app_public.users.avatar_url is 'Profile picture.';
comment on column app_public.users.locale is 'Preferred language of the console (BCP 47).';
comment on column app_public.users.must_change_password is 'True when the next login must set a new password (e.g. after an admin reset).';
comment on column app_public.users.last_login_at is 'Time of the last successful login.';
comment on column app_public.users.is_active is 'False blocks login without deleting the account.';

create trigger _100_stamp before insert or update on app_public.users
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.users
  for each row execute function app_hidden.tg__soft_delete_stamp();

/* The password hash (bcrypt via pgcrypto crypt()) and the login-failure counters. */
create table app_private.user_secrets (
  user_id uuid primary key references app_public.users (id) on delete cascade,
  password_hash text not null,
  password_changed_at timestamptz not null default now(),
  failed_login_count integer not null default 0 constraint user_secrets_failed_login_count_check check (failed_login_count >= 0),
  last_failed_login_at timestamptz,
  locked_until timestamptz
);
comment on table app_private.user_secrets is 'Secrets of a user, one row per user: never exposed.';
comment on column app_private.user_secrets.password_hash is 'bcrypt hash (pgcrypto crypt(password, gen_salt(''bf''))).';
comment on column app_private.user_secrets.failed_login_count is 'Consecutive failed logins; reset by a successful one.';
comment on column app_private.user_secrets.locked_until is 'Login refused until this time (set after repeated failures).';

/*
 * Roles are rows. The nine system roles have hospital_id null and exist in every hospital; a
 * hospital may add its own roles (hospital_id set). A chain-scoped role (super admin) is granted
 * without a hospital and applies in all of them.
 */
create table app_public.roles (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid references app_public.hospitals (id) on delete restrict,
  code text not null constraint roles_code_check check (code ~ '^[a-z][a-z0-9_]{1,47}$'),
  name text not null,
  description text,
  scope text not null default 'hospital' constraint roles_scope_check check (scope in ('chain', 'hospital')),
  is_system boolean not null default false,
  sort_order smallint not null default 100,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint roles_hospital_id_code_key unique nulls not distinct (hospital_id, code),
  constraint roles_chain_scope_is_system_check check (scope = 'hospital' or (is_system and hospital_id is null))
);
comment on table app_public.roles is
  E'An application role (super admin, doctor, pharmacist, …): a named set of permissions. System roles (hospital_id null) exist in every hospital; a hospital may define its own.';
comment on column app_public.roles.hospital_id is 'Hospital that defined this custom role; null for the system roles shared by the chain.';
comment on column app_public.roles.code is 'Stable identifier, e.g. pharmacist.';
comment on column app_public.roles.name is 'Display name, e.g. Pharmacist.';
comment on column app_public.roles.description is 'What people with this role do.';
comment on column app_public.roles.scope is 'chain: granted across all hospitals (super admin); hospital: granted per hospital.';
comment on column app_public.roles.is_system is 'Shipped with HMS; its code cannot be reused.';
comment on column app_public.roles.sort_order is 'Order in pickers and the README matrix.';
comment on column app_public.roles.is_active is 'False hides the role from new assignments.';

create trigger _100_stamp before insert or update on app_public.roles
  for each row execute function app_hidden.tg__stamp();

create table app_public.permissions (
  id uuid primary key default gen_random_uuid(),
  code text not null constraint permissions_code_check check (code ~ '^[a-z][a-z_]*\.[a-z][a-z_]*$'),
  module text not null,
  action text not null,
  description text not null,
  is_sensitive boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint permissions_code_key unique (code),
  constraint permissions_code_parts_check check (code = module || '.' || action)
);
comment on table app_public.permissions is 'Something a role may do, named <module>.<action> (e.g. pharmacy.dispense). Chain-level catalogue shipped with HMS.';
comment on column app_public.permissions.code is 'Stable identifier <module>.<action> used by policies and the console.';
comment on column app_public.permissions.module is 'Module the permission belongs to (patients, billing, …).';
comment on column app_public.permissions.action is 'Action within the module (read, write, manage, …).';
comment on column app_public.permissions.description is 'What the permission allows, in a sentence.';
comment on column app_public.permissions.is_sensitive is 'Grants access to money, audit or identity data; shown highlighted when assigning.';

create trigger _100_stamp before insert or update on app_public.permissions
  for each row execute function app_hidden.tg__stamp();

create table app_public.role_permissions (
  id uuid primary key default gen_random_uuid(),
  role_id uuid not null references app_public.roles (id) on delete cascade,
  permission_id uuid not null references app_public.permissions (id) on delete restrict,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint role_permissions_role_id_permission_id_key unique (role_id, permission_id)
);
create index idx_role_permissions__permission_id on app_public.role_permissions (permission_id);
comment on table app_public.role_permissions is 'Which permissions a role grants.';
comment on column app_public.role_permissions.role_id is 'The role.';
comment on column app_public.role_permissions.permission_id is 'A permission the role grants.';

create trigger _100_stamp before insert or update on app_public.role_permissions
  for each row execute function app_hidden.tg__stamp();

/*
 * A user holds a role in a hospital (hospital_id null: a chain-scoped role such as super admin,
 * valid in every hospital). Validity dates let HR schedule locum cover and departures.
 */
create table app_public.user_roles (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  role_id uuid not null references app_public.roles (id) on delete restrict,
  hospital_id uuid references app_public.hospitals (id) on delete restrict,
  department_id uuid,
  is_primary boolean not null default false,
  valid_from date not null default current_date,
  valid_until date,
  granted_by uuid references app_public.users (id) on delete restrict,
  granted_at timestamptz not null default now(),
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint user_roles_user_id_role_id_hospital_id_key unique nulls not distinct (user_id, role_id, hospital_id),
  constraint user_roles_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete set null (department_id),
  constraint user_roles_department_needs_hospital_check check (department_id is null or hospital_id is not null),
  constraint user_roles_validity_check check (valid_until is null or valid_until >= valid_from)
);
create index idx_user_roles__role_id on app_public.user_roles (role_id);
create index idx_user_roles__hospital_id_user_id on app_public.user_roles (hospital_id, user_id);
create index idx_user_roles__hospital_id_department_id on app_public.user_roles (hospital_id, department_id) where department_id is not null;
create index idx_user_roles__granted_by on app_public.user_roles (granted_by);
comment on table app_public.user_roles is
  E'A role held by a user in a hospital; this is what makes a user staff of that hospital. hospital_id null = chain-wide (super admin).';
comment on column app_public.user_roles.user_id is 'The user.';
comment on column app_public.user_roles.role_id is 'The role held.';
comment on column app_public.user_roles.hospital_id is 'Hospital where the role applies; null only for chain-scoped roles.';
comment on column app_public.user_roles.department_id is 'Department the user mainly works in under this role (optional).';
comment on column app_public.user_roles.is_primary is 'The role shown first for this user in this hospital.';
comment on column app_public.user_roles.valid_from is 'First day the role applies.';
comment on column app_public.user_roles.valid_until is 'Last day the role applies (null = until revoked).';
comment on column app_public.user_roles.granted_by is 'Administrator who granted the role.';
comment on column app_public.user_roles.granted_at is 'When the role was granted.';
comment on column app_public.user_roles.notes is 'Why the role was granted (e.g. locum cover).';

create trigger _100_stamp before insert or update on app_public.user_roles
  for each row execute function app_hidden.tg__stamp();

/*
 * Sessions: one per login, the `sid` claim of every access token. Revoking a session (logout,
 * refresh-token reuse, admin action, password change) stops its tokens on the next request.
 */
create table app_private.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text constraint sessions_revoked_reason_check check (revoked_reason in ('logout', 'refresh_token_reuse', 'password_changed', 'admin_revoked', 'user_deactivated')),
  user_agent text,
  client_address inet,
  constraint sessions_revoked_check check ((revoked_at is null) = (revoked_reason is null))
);
create index idx_sessions__user_id on app_private.sessions (user_id);
create index idx_sessions__hospital_id on app_private.sessions (hospital_id);
comment on table app_private.sessions is 'A login session (the sid claim): the active hospital, expiry and revocation.';

/*
 * Refresh tokens: one row per token issued, so rotation and re-use detection are possible
 * (presenting a token that was already rotated revokes its whole session). The public row is the
 * user's "where am I logged in" list; the token hash is in app_private.
 */
create table app_public.refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references app_private.sessions (id) on delete cascade,
  user_id uuid not null references app_public.users (id) on delete cascade,
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  issued_at timestamptz not null default now(),
  expires_at timestamptz not null,
  rotated_at timestamptz,
  replaced_by_id uuid references app_public.refresh_tokens (id) on delete set null,
  revoked_at timestamptz,
  revoked_reason text constraint refresh_tokens_revoked_reason_check check (revoked_reason in ('logout', 'reuse_detected', 'password_changed', 'admin_revoked', 'user_deactivated')),
  user_agent text,
  client_address inet,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint refresh_tokens_expiry_check check (expires_at > issued_at),
  constraint refresh_tokens_revoked_check check ((revoked_at is null) = (revoked_reason is null))
);
create index idx_refresh_tokens__session_id on app_public.refresh_tokens (session_id);
create index idx_refresh_tokens__user_id_issued_at on app_public.refresh_tokens (user_id, issued_at desc);
create index idx_refresh_tokens__hospital_id on app_public.refresh_tokens (hospital_id);
create index idx_refresh_tokens__replaced_by_id on app_public.refresh_tokens (replaced_by_id);
comment on table app_public.refresh_tokens is
  E'Each refresh token issued (rotated on every use). Metadata only: the token hash is kept in app_private.';
comment on column app_public.refresh_tokens.session_id is 'Login session the token belongs to.';
comment on column app_public.refresh_tokens.user_id is 'Owner of the token.';
comment on column app_public.refresh_tokens.hospital_id is 'Active hospital of the tokens issued with it.';
comment on column app_public.refresh_tokens.issued_at is 'When the token was issued.';
comment on column app_public.refresh_tokens.expires_at is 'After this time the token cannot be used.';
comment on column app_public.refresh_tokens.rotated_at is 'When the token was exchanged for its successor; presenting it again revokes the session.';
comment on column app_public.refresh_tokens.replaced_by_id is 'The token issued in exchange for this one.';
comment on column app_public.refresh_tokens.revoked_at is 'When the token was revoked.';
comment on column app_public.refresh_tokens.revoked_reason is 'logout, reuse_detected, password_changed, admin_revoked or user_deactivated.';
comment on column app_public.refresh_tokens.user_agent is 'Browser or client that obtained the token.';
comment on column app_public.refresh_tokens.client_address is 'Client address as forwarded by the proxy.';

create trigger _100_stamp before insert or update on app_public.refresh_tokens
  for each row execute function app_hidden.tg__stamp();

create table app_private.refresh_token_hashes (
  refresh_token_id uuid primary key references app_public.refresh_tokens (id) on delete cascade,
  token_hash bytea not null,
  constraint refresh_token_hashes_token_hash_key unique (token_hash)
);
comment on table app_private.refresh_token_hashes is 'SHA-256 of each refresh token; the token itself is never stored.';

/*
 * Password emails: invitations to set a first password and password-reset links. The public
 * row records that an email was sent and whether it was used; the token hash is private.
 */
create table app_public.password_emails (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app_public.users (id) on delete cascade,
  purpose text not null constraint password_emails_purpose_check check (purpose in ('invite', 'reset')),
  sent_to citext not null constraint password_emails_sent_to_check check (sent_to ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  status text not null default 'pending' constraint password_emails_status_check check (status in ('pending', 'sent', 'used', 'expired', 'revoked')),
  requested_at timestamptz not null default now(),
  requested_by uuid references app_public.users (id) on delete restrict,
  requested_from inet,
  sent_at timestamptz,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint password_emails_expiry_check check (expires_at > requested_at),
  constraint password_emails_used_check check ((status = 'used') = (used_at is not null))
);
create index idx_password_emails__user_id_requested_at on app_public.password_emails (user_id, requested_at desc);
create index idx_password_emails__requested_by on app_public.password_emails (requested_by);
comment on table app_public.password_emails is
  E'An invitation or password-reset email sent to a user (chain-level). The one-time token is stored only as a hash in app_private.';
comment on column app_public.password_emails.user_id is 'User the email is for.';
comment on column app_public.password_emails.purpose is 'invite (set a first password) or reset (forgotten password).';
comment on column app_public.password_emails.sent_to is 'Address the email was sent to (the user''s email at that time).';
comment on column app_public.password_emails.status is 'pending, sent, used, expired or revoked.';
comment on column app_public.password_emails.requested_at is 'When the email was requested.';
comment on column app_public.password_emails.requested_by is 'Administrator who sent an invitation; null for a self-service reset.';
comment on column app_public.password_emails.requested_from is 'Client address of a self-service reset request.';
comment on column app_public.password_emails.sent_at is 'When the mail server accepted the email.';
comment on column app_public.password_emails.expires_at is 'The link stops working after this time.';
comment on column app_public.password_emails.used_at is 'When the link was used to set a password.';

create trigger _100_stamp before insert or update on app_public.password_emails
  for each row execute function app_hidden.tg__stamp();

create table app_private.password_email_tokens (
  password_email_id uuid primary key references app_public.password_emails (id) on delete cascade,
  token_hash bytea not null,
  constraint password_email_tokens_token_hash_key unique (token_hash)
);
comment on table app_private.password_email_tokens is 'SHA-256 of each password-email token; the token itself is only in the email.';

/*
 * Instance-level settings kept out of reach of every API role (the JWT secret from the identity
 * issue on, the time the demo data was loaded, …).
 */
create table app_private.instance_settings (
  key text primary key,
  value text not null,
  updated_at timestamptz not null default now()
);
comment on table app_private.instance_settings is 'Key/value settings of this installation that no API role may read.';

--! split: 0210-access-reference-data.sql
/*
 * Reference data every installation needs (not demo data): the 37 permissions and the nine
 * system roles with the permission sets a real hospital gives them. Hospitals can add their own
 * roles; these rows are the baseline the README's roles × permissions matrix documents.
 */
insert into app_public.permissions (code, module, action, description, is_sensitive) values
  ('hospitals.manage',       'hospitals',     'manage',   'Create and edit the hospitals of the chain.', true),
  ('settings.manage',        'settings',      'manage',   'Edit hospital settings, departments, tax rules, numbering and notification templates.', true),
  ('users.read',             'users',         'read',     'See staff accounts and the roles they hold.', false),
  ('users.manage',           'users',         'manage',   'Create, edit and deactivate staff accounts and assign roles.', true),
  ('roles.manage',           'roles',         'manage',   'Create roles and change which permissions they grant.', true),
  ('patients.read',          'patients',      'read',     'See patient demographics, consents and documents.', false),
  ('patients.write',         'patients',      'write',    'Register patients and edit their details, consents and documents.', false),
  ('patients.delete',        'patients',      'delete',   'Remove (soft-delete) patient records registered in error.', true),
  ('doctors.manage',         'doctors',       'manage',   'Manage doctor profiles, weekly schedules, leaves and fees.', false),
  ('appointments.read',      'appointments',  'read',     'See appointments, their history and the day''s queue.', false),
  ('appointments.manage',    'appointments',  'manage',   'Book, reschedule and cancel appointments.', false),
  ('appointments.checkin',   'appointments',  'checkin',  'Check patients in, issue queue tokens and move the queue.', false),
  ('prescriptions.read',     'prescriptions', 'read',     'See prescriptions, their items and versions.', false),
  ('prescriptions.write',    'prescriptions', 'write',    'Write, finalize and amend prescriptions and templates.', false),
  ('lab.read',               'lab',           'read',     'See lab orders and results.', false),
  ('lab.order',              'lab',           'order',    'Order lab tests.', false),
  ('lab.process',            'lab',           'process',  'Collect samples, enter results and report lab orders.', false),
  ('medicines.read',         'medicines',     'read',     'See the medicine catalogue, batches and stock.', false),
  ('medicines.manage',       'medicines',     'manage',   'Edit the medicine catalogue, prices and reorder levels.', false),
  ('pharmacy.dispense',      'pharmacy',      'dispense', 'Dispense prescriptions and over-the-counter sales.', false),
  ('pharmacy.return',        'pharmacy',      'return',   'Accept medicines returned by patients.', false),
  ('optical.read',           'optical',       'read',     'See optical products, eye prescriptions, orders and repairs.', false),
  ('optical.manage',         'optical',       'manage',   'Manage optical products, orders and repairs.', false),
  ('optical.prescribe',      'optical',       'prescribe','Write eye (refraction) prescriptions.', false),
  ('billing.read',           'billing',       'read',     'See invoices, payments, refunds, credit notes and settlements.', true),
  ('billing.write',          'billing',       'write',    'Create invoices and add items; issue invoices.', true),
  ('billing.collect',        'billing',       'collect',  'Record payments and print receipts.', true),
  ('billing.refund',         'billing',       'refund',   'Request, approve and process refunds and credit notes.', true),
  ('billing.void',           'billing',       'void',     'Void an issued invoice.', true),
  ('billing.settle',         'billing',       'settle',   'Reconcile and settle the day''s collections (locks the day).', true),
  ('insurance.read',         'insurance',     'read',     'See insurers, patient policies, pre-authorizations and claims.', false),
  ('insurance.manage',       'insurance',     'manage',   'Manage insurers and policies; submit and update claims and pre-authorizations.', true),
  ('inventory.read',         'inventory',     'read',     'See suppliers, purchase orders, receipts, stock movements and counts.', false),
  ('inventory.manage',       'inventory',     'manage',   'Raise purchase orders, receive goods, adjust stock and count it.', false),
  ('inventory.approve',      'inventory',     'approve',  'Approve purchase orders, stock adjustments and cycle-count variances.', true),
  ('reports.read',           'reports',       'read',     'See dashboards and operational and financial reports.', true),
  ('audit.read',             'audit',         'read',     'Read the audit trail of the hospital.', true);

insert into app_public.roles (code, name, description, scope, is_system, sort_order) values
  ('super_admin',     'Super Admin',     'Runs the chain: manages hospitals, users and roles everywhere and may work in any hospital.', 'chain', true, 10),
  ('hospital_admin',  'Hospital Admin',  'Runs one hospital: staff, settings, and every module of that hospital.', 'hospital', true, 20),
  ('doctor',          'Doctor',          'Sees patients, writes prescriptions, orders tests, manages own appointments.', 'hospital', true, 30),
  ('nurse',           'Nurse',           'Assists consultations: checks patients in, records details, collects samples.', 'hospital', true, 40),
  ('receptionist',    'Receptionist',    'Front desk: registers patients, books appointments, runs the queue, collects payments.', 'hospital', true, 50),
  ('pharmacist',      'Pharmacist',      'Dispenses medicines, accepts returns and keeps pharmacy stock.', 'hospital', true, 60),
  ('lab_technician',  'Lab Technician',  'Collects samples and enters and reports lab results.', 'hospital', true, 70),
  ('accountant',      'Accountant',      'Billing, refunds, insurance claims and the daily settlement.', 'hospital', true, 80),
  ('optometrist',     'Optometrist',     'Eye examinations, spectacle and contact-lens prescriptions, optical orders and repairs.', 'hospital', true, 90);

-- Which permissions each role grants. Super admin: all. Hospital admin: all but hospitals.manage.
insert into app_public.role_permissions (role_id, permission_id)
select r.id, p.id
  from app_public.roles r
  join app_public.permissions p on
       r.code = 'super_admin'
    or (r.code = 'hospital_admin' and p.code <> 'hospitals.manage')
    or (r.code, p.code) in (
      ('doctor', 'patients.read'), ('doctor', 'patients.write'), ('doctor', 'appointments.read'),
      ('doctor', 'appointments.manage'), ('doctor', 'prescriptions.read'), ('doctor', 'prescriptions.write'),
      ('doctor', 'lab.read'), ('doctor', 'lab.order'), ('doctor', 'medicines.read'), ('doctor', 'optical.read'),
      ('doctor', 'optical.prescribe'), ('doctor', 'billing.read'), ('doctor', 'insurance.read'), ('doctor', 'reports.read'),

      ('nurse', 'patients.read'), ('nurse', 'patients.write'), ('nurse', 'appointments.read'),
      ('nurse', 'appointments.checkin'), ('nurse', 'prescriptions.read'), ('nurse', 'lab.read'),
      ('nurse', 'lab.process'), ('nurse', 'medicines.read'),

      ('receptionist', 'patients.read'), ('receptionist', 'patients.write'), ('receptionist', 'appointments.read'),
      ('receptionist', 'appointments.manage'), ('receptionist', 'appointments.checkin'), ('receptionist', 'billing.read'),
      ('receptionist', 'billing.write'), ('receptionist', 'billing.collect'), ('receptionist', 'insurance.read'),

      ('pharmacist', 'patients.read'), ('pharmacist', 'prescriptions.read'), ('pharmacist', 'medicines.read'),
      ('pharmacist', 'medicines.manage'), ('pharmacist', 'pharmacy.dispense'), ('pharmacist', 'pharmacy.return'),
      ('pharmacist', 'billing.read'), ('pharmacist', 'billing.write'), ('pharmacist', 'billing.collect'),
      ('pharmacist', 'inventory.read'), ('pharmacist', 'inventory.manage'),

      ('lab_technician', 'patients.read'), ('lab_technician', 'appointments.read'), ('lab_technician', 'lab.read'),
      ('lab_technician', 'lab.process'),

      ('accountant', 'patients.read'), ('accountant', 'billing.read'), ('accountant', 'billing.write'),
      ('accountant', 'billing.collect'), ('accountant', 'billing.refund'), ('accountant', 'billing.void'),
      ('accountant', 'billing.settle'), ('accountant', 'insurance.read'), ('accountant', 'insurance.manage'),
      ('accountant', 'inventory.read'), ('accountant', 'reports.read'),

      ('optometrist', 'patients.read'), ('optometrist', 'patients.write'), ('optometrist', 'appointments.read'),
      ('optometrist', 'appointments.manage'), ('optometrist', 'optical.read'), ('optometrist', 'optical.manage'),
      ('optometrist', 'optical.prescribe'), ('optometrist', 'billing.read'), ('optometrist', 'billing.write'),
      ('optometrist', 'billing.collect'), ('optometrist', 'inventory.read')
    )
 where r.hospital_id is null;

--! split: 0300-numbering.sql
/*
 * Numbering (DESIGN.md §7). Every document a person reads aloud or prints gets a human-readable
 * number, e.g. INV-NY-2026-000042-7: a prefix, the hospital code, the period, a zero-padded
 * counter and a check character that catches a mistyped number.
 *
 * id_sequences holds, per hospital, document type and scope (e.g. a department for queue
 * tokens), the format, the reset period and the next value. hms_generate_id() takes the row lock
 * of that sequence with an UPDATE, so concurrent callers queue behind each other: numbers are
 * unique and gapless per hospital/type/scope/period, and a rolled-back transaction gives its
 * number back (the update is rolled back with it). It never uses a PostgreSQL SEQUENCE, which
 * would leave gaps.
 *
 * A new hospital is provisioned by a trigger: its settings row and one sequence per document
 * type with the defaults below, which an administrator may then edit.
 */

create function app_hidden.id_sequence_defaults()
returns table (document_type text, prefix text, pattern text, padding smallint, reset_period text, description text)
language sql
immutable
as $$
  values
    ('patient',           'MRN', '{PREFIX}-{HOSPITAL}-{SEQ}-{CHECK}',        6::smallint, 'never',  'Patient medical record number (MRN).'),
    ('appointment',       'APT', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Appointment number.'),
    ('queue_token',       'Q',   '{PREFIX}-{SEQ}',                           3::smallint, 'daily',  'Queue token of the day; one sequence per department (scope = department code).'),
    ('prescription',      'RX',  '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Prescription number.'),
    ('lab_order',         'LAB', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Lab order number (also printed on sample labels).'),
    ('dispensing',        'DSP', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Pharmacy dispensing number.'),
    ('pharmacy_return',   'PRT', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Pharmacy return number.'),
    ('optical_order',     'OPO', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Optical order number.'),
    ('optical_repair',    'OPR', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Optical repair ticket number.'),
    ('invoice',           'INV', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Invoice number.'),
    ('receipt',           'RCT', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Payment receipt number.'),
    ('refund',            'RFD', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Refund number.'),
    ('credit_note',       'CRN', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Credit note number.'),
    ('settlement',        'STL', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 4::smallint, 'yearly', 'Daily settlement number.'),
    ('insurance_claim',   'CLM', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Insurance claim number.'),
    ('pre_authorization', 'PAU', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Insurance pre-authorization request number.'),
    ('purchase_order',    'PO',  '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Purchase order number.'),
    ('goods_receipt',     'GRN', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Goods receipt note number.'),
    ('stock_adjustment',  'ADJ', '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 6::smallint, 'yearly', 'Stock adjustment number.'),
    ('cycle_count',       'CC',  '{PREFIX}-{HOSPITAL}-{YYYY}-{SEQ}-{CHECK}', 4::smallint, 'yearly', 'Cycle count number.'),
    ('id_card',           'IDC', '{PREFIX}-{HOSPITAL}-{SEQ}-{CHECK}',        8::smallint, 'never',  'Patient or staff ID card number.')
$$;
comment on function app_hidden.id_sequence_defaults() is
  'The document types HMS numbers, with the default format a new hospital starts with.';

create function app_hidden.is_document_type(p_document_type text) returns boolean
language sql
immutable
as $$
  select exists (select 1 from app_hidden.id_sequence_defaults() d where d.document_type = p_document_type);
$$;
comment on function app_hidden.is_document_type(text) is 'True for a document type listed in id_sequence_defaults().';

create table app_public.id_sequences (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  document_type text not null
    constraint id_sequences_document_type_check check (app_hidden.is_document_type(document_type)),
  scope text not null default '' constraint id_sequences_scope_check check (scope ~ '^([A-Z0-9_]{1,16})?$'),
  prefix text not null constraint id_sequences_prefix_check check (prefix ~ '^[A-Z0-9_]{1,16}$'),
  pattern text not null constraint id_sequences_pattern_check check (position('{SEQ}' in pattern) > 0 and length(pattern) <= 80),
  padding smallint not null default 6 constraint id_sequences_padding_check check (padding between 1 and 12),
  reset_period text not null default 'yearly' constraint id_sequences_reset_period_check check (reset_period in ('never', 'yearly', 'monthly', 'daily')),
  current_period text not null default '',
  next_value bigint not null default 1 constraint id_sequences_next_value_check check (next_value >= 1),
  last_issued_at timestamptz,
  description text,
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint id_sequences_hospital_id_id_key unique (hospital_id, id),
  constraint id_sequences_hospital_id_document_type_scope_key unique (hospital_id, document_type, scope)
);
comment on table app_public.id_sequences is
  E'Numbering of one document type in one hospital (and scope): format, reset period and the next value. Numbers are unique and gapless per hospital, type, scope and period.';
comment on column app_public.id_sequences.document_type is
  'patient, appointment, queue_token, prescription, lab_order, dispensing, pharmacy_return, optical_order, optical_repair, invoice, receipt, refund, credit_note, settlement, insurance_claim, pre_authorization, purchase_order, goods_receipt, stock_adjustment, cycle_count or id_card.';
comment on column app_public.id_sequences.scope is E'Sub-sequence within the type, e.g. a department code for queue tokens; empty for the hospital-wide sequence.';
comment on column app_public.id_sequences.prefix is 'Letters that start the number, e.g. INV.';
comment on column app_public.id_sequences.pattern is
  E'Format with tokens {PREFIX} {HOSPITAL} (hospital code) {SCOPE} {YYYY} {YY} {MM} {DD} {SEQ} (zero-padded counter) {CHECK} (ISO 7064 check character of everything before it). Put the period in the pattern when numbers must be unique beyond one period.';
comment on column app_public.id_sequences.padding is 'Minimum number of digits of {SEQ}.';
comment on column app_public.id_sequences.reset_period is E'When the counter restarts at 1: never, yearly, monthly or daily (in the hospital''s time zone).';
comment on column app_public.id_sequences.current_period is 'Period the next value belongs to (YYYY, YYYY-MM or YYYY-MM-DD; empty when never reset). Maintained by hms_generate_id.';
comment on column app_public.id_sequences.next_value is 'Counter value the next number will use. Maintained by hms_generate_id.';
comment on column app_public.id_sequences.last_issued_at is 'When the last number was issued.';
comment on column app_public.id_sequences.description is 'What is numbered.';
comment on column app_public.id_sequences.is_active is 'False stops numbering this document type (inserts needing a number then fail).';

create trigger _100_stamp before insert or update on app_public.id_sequences
  for each row execute function app_hidden.tg__stamp();

/*
 * ISO 7064 MOD 37,36 (hybrid system): one check character from 0-9A-Z over the letters and
 * digits of the input (other characters, e.g. dashes, are ignored). It detects every single
 * wrong character and every swap of two adjacent characters.
 */
create function app_hidden.hms_calculate_checksum(p_input text) returns text
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
    perform app_hidden.raise_error('HMS_CHECKSUM_INPUT_INVALID', 'A check character needs at least one letter or digit.', 422);
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
comment on function app_hidden.hms_calculate_checksum(text) is
  'ISO 7064 MOD 37,36 check character (0-9, A-Z) of the letters and digits of the input.';
grant execute on function app_hidden.hms_calculate_checksum(text) to :DATABASE_STAFF;

create function app_hidden.id_sequence_period(p_reset_period text, p_local timestamp) returns text
language sql
immutable
as $$
  select case p_reset_period
    when 'yearly' then to_char(p_local, 'YYYY')
    when 'monthly' then to_char(p_local, 'YYYY-MM')
    when 'daily' then to_char(p_local, 'YYYY-MM-DD')
    else ''
  end;
$$;
comment on function app_hidden.id_sequence_period(text, timestamp) is 'The period key of a local time for a reset period.';

create function app_hidden.hms_generate_id(p_hospital_id uuid, p_document_type text, p_scope text default '')
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
begin
  if p_document_type is null or not app_hidden.is_document_type(p_document_type) then
    perform app_hidden.raise_error('HMS_ID_TYPE_UNKNOWN',
      format('Unknown document type "%s".', p_document_type), 422,
      jsonb_build_object('document_type', p_document_type,
                         'known_types', (select jsonb_agg(d.document_type order by d.document_type) from app_hidden.id_sequence_defaults() d)));
  end if;
  select h.code, h.time_zone into v_hospital_code, v_time_zone
    from app_public.hospitals h where h.id = p_hospital_id;
  if not found then
    perform app_hidden.raise_error('HMS_HOSPITAL_NOT_FOUND', 'The hospital does not exist.', 404,
      jsonb_build_object('hospital_id', p_hospital_id));
  end if;
  -- The transaction's start time, read in the hospital's time zone, decides the period.
  v_local := now() at time zone v_time_zone;

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
      format('Numbering of "%s" is not configured or not active for this hospital.', p_document_type), 422,
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
  return v_number;
end;
$$;
comment on function app_hidden.hms_generate_id(uuid, text, text) is
  E'Issues the next number of a document type for a hospital (and scope), formatted by its id_sequences row. Unique and gapless per hospital, type, scope and period, also under concurrency; errors HMS_ID_TYPE_UNKNOWN, HMS_HOSPITAL_NOT_FOUND, HMS_ID_SEQUENCE_NOT_CONFIGURED.';
grant execute on function app_hidden.hms_generate_id(uuid, text, text) to :DATABASE_STAFF;

/*
 * Clients (a scanner at the pharmacy counter, an insurer's portal) can check a number before
 * they look it up: the last letter or digit must be the check character of those before it.
 */
create function app_public.check_document_number(number text) returns boolean
language sql
immutable
as $$
  select case
    when length(regexp_replace(upper(coalesce(number, '')), '[^0-9A-Z]', '', 'g')) < 2 then false
    else right(regexp_replace(upper(number), '[^0-9A-Z]', '', 'g'), 1)
       = app_hidden.hms_calculate_checksum(left(regexp_replace(upper(number), '[^0-9A-Z]', '', 'g'),
                                               length(regexp_replace(upper(number), '[^0-9A-Z]', '', 'g')) - 1))
  end;
$$;
comment on function app_public.check_document_number(text) is
  E'True when the number''s last character is its valid check character (catches a mistyped MRN, invoice number, …). Does not say whether the document exists.';
grant execute on function app_public.check_document_number(text) to :DATABASE_STAFF;

/* A new hospital gets its settings row and one sequence per document type. */
create function app_hidden.tg_hospitals__provision() returns trigger
language plpgsql
as $$
begin
  insert into app_public.hospital_settings (hospital_id) values (NEW.id);
  insert into app_public.id_sequences (hospital_id, document_type, prefix, pattern, padding, reset_period, description)
  select NEW.id, d.document_type, d.prefix, d.pattern, d.padding, d.reset_period, d.description
    from app_hidden.id_sequence_defaults() d;
  return null;
end;
$$;
comment on function app_hidden.tg_hospitals__provision() is
  'AFTER INSERT on hospitals: creates the hospital_settings row and the default id_sequences.';
create trigger _900_provision after insert on app_public.hospitals
  for each row execute function app_hidden.tg_hospitals__provision();

--! split: 1000-patients.sql
/*
 * Patients — the people a hospital treats. A patient is registered per hospital (the MRN is the
 * hospital's own medical record number); a person seen in two hospitals of the chain has two
 * rows, and linking them is a later, explicit step (there is no implicit cross-hospital merge).
 *
 * Around the patient row: the consents the patient (or a guardian) signed, which are legal records
 * kept with their form version, and the documents scanned or uploaded into the record.
 *
 * Patient rows are never hard-deleted once used (every clinical and financial row references them
 * with `on delete restrict`); they are soft-deleted, or marked inactive or deceased.
 */

/*
 * Demographics, contact, identity and the short clinical flags every screen shows (allergies,
 * chronic conditions). Reception searches patients by name, phone and MRN while the patient stands
 * at the desk, so those three have trigram indexes; `full_name` is a generated column so that both
 * REST (`full_name=ilike.*ann smi*`) and GraphQL clients can search the whole name through one
 * indexed column (pg_trgm serves ILIKE, so no lower() is needed).
 */
create table app_public.patients (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  mrn text not null,
  first_name text not null constraint patients_first_name_check check (length(trim(first_name)) between 1 and 100),
  middle_name text,
  last_name text constraint patients_last_name_check check (length(trim(last_name)) between 1 and 100),
  full_name text generated always as (
    first_name || coalesce(' ' || middle_name, '') || coalesce(' ' || last_name, '')
  ) stored,
  preferred_name text,
  date_of_birth date not null
    constraint patients_date_of_birth_check check (date_of_birth > date '1900-01-01' and date_of_birth <= current_date + 1),
  date_of_birth_is_estimated boolean not null default false,
  gender text not null
    constraint patients_gender_check check (gender in ('male', 'female', 'other', 'unknown')),
  sex_at_birth text
    constraint patients_sex_at_birth_check check (sex_at_birth in ('male', 'female', 'intersex', 'unknown')),
  blood_group text not null default 'unknown'
    constraint patients_blood_group_check check (blood_group in ('A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', 'O+', 'O-', 'unknown')),
  marital_status text
    constraint patients_marital_status_check check (marital_status in ('single', 'married', 'domestic_partner', 'separated', 'divorced', 'widowed', 'unknown')),
  phone_primary text constraint patients_phone_primary_check check (phone_primary ~ '^\+?[0-9 ()./-]{6,24}$'),
  phone_alternate text constraint patients_phone_alternate_check check (phone_alternate ~ '^\+?[0-9 ()./-]{6,24}$'),
  email citext constraint patients_email_check check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  address_line1 text,
  address_line2 text,
  city text,
  state_province text,
  postal_code text,
  country_code char(2) constraint patients_country_code_check check (country_code ~ '^[A-Z]{2}$'),
  national_id_type text
    constraint patients_national_id_type_check check (national_id_type in ('national_id', 'passport', 'driving_licence', 'ssn', 'aadhaar', 'nhs_number', 'voter_id', 'other')),
  national_id_number text,
  emergency_contact_name text,
  emergency_contact_relationship text,
  emergency_contact_phone text
    constraint patients_emergency_contact_phone_check check (emergency_contact_phone ~ '^\+?[0-9 ()./-]{6,24}$'),
  allergies text[] not null default '{}',
  chronic_conditions text[] not null default '{}',
  current_medications text[] not null default '{}',
  photo_url text,
  preferred_language text
    constraint patients_preferred_language_check check (preferred_language ~ '^[a-z]{2,3}(-[A-Z]{2})?$'),
  occupation text,
  nationality char(2) constraint patients_nationality_check check (nationality ~ '^[A-Z]{2}$'),
  religion text,
  registration_date date not null default current_date,
  referred_by text,
  is_vip boolean not null default false,
  is_deceased boolean not null default false,
  date_of_death date,
  sms_consent boolean not null default false,
  email_consent boolean not null default false,
  whatsapp_consent boolean not null default false,
  notes text,
  is_active boolean not null default true,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint patients_hospital_id_id_key unique (hospital_id, id),
  constraint patients_hospital_id_mrn_key unique (hospital_id, mrn),
  constraint patients_national_id_check check ((national_id_type is null) = (national_id_number is null)),
  constraint patients_death_check check (
    (is_deceased or date_of_death is null)
    and (date_of_death is null or date_of_death >= date_of_birth)
  ),
  constraint patients_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_patients__full_name_trgm on app_public.patients using gin (full_name gin_trgm_ops);
create index idx_patients__phone_primary_trgm on app_public.patients using gin (phone_primary gin_trgm_ops);
create index idx_patients__mrn_trgm on app_public.patients using gin (mrn gin_trgm_ops);
create index idx_patients__hospital_id_date_of_birth on app_public.patients (hospital_id, date_of_birth)
  where not is_deleted;
create index idx_patients__hospital_id_national_id_number on app_public.patients (hospital_id, national_id_number)
  where national_id_number is not null and not is_deleted;
create index idx_patients__hospital_id_registration_date on app_public.patients (hospital_id, registration_date)
  where not is_deleted;
comment on table app_public.patients is
  E'A patient registered at a hospital: demographics, contact, identity, emergency contact and standing clinical flags.';
comment on column app_public.patients.mrn is
  E'Medical record number: human-readable number from id_sequences (document type ''patient''), e.g. MRN-NY-000042-K (never resets); unique within the hospital.';
comment on column app_public.patients.first_name is 'Given name.';
comment on column app_public.patients.middle_name is 'Middle name(s), if any.';
comment on column app_public.patients.last_name is 'Family name; null for patients who have a single name.';
comment on column app_public.patients.full_name is 'First, middle and last name joined by spaces (generated); search it with ILIKE.';
comment on column app_public.patients.preferred_name is 'Name the patient wants to be called by.';
comment on column app_public.patients.date_of_birth is E'Date of birth (after 1900, not in the future); an estimate when date_of_birth_is_estimated.';
comment on column app_public.patients.date_of_birth_is_estimated is 'True when only the age was known and the date of birth was estimated from it.';
comment on column app_public.patients.gender is 'Gender identity: male, female, other or unknown.';
comment on column app_public.patients.sex_at_birth is 'Sex assigned at birth, when clinically relevant: male, female, intersex or unknown.';
comment on column app_public.patients.blood_group is E'ABO/Rh blood group: A+, A-, B+, B-, AB+, AB-, O+, O- or unknown.';
comment on column app_public.patients.marital_status is 'single, married, domestic_partner, separated, divorced, widowed or unknown.';
comment on column app_public.patients.phone_primary is 'Main phone number (international format preferred); used for reminders and search.';
comment on column app_public.patients.phone_alternate is 'Second phone number.';
comment on column app_public.patients.email is 'Email address.';
comment on column app_public.patients.address_line1 is 'Home address, first line.';
comment on column app_public.patients.address_line2 is 'Home address, second line.';
comment on column app_public.patients.city is 'City.';
comment on column app_public.patients.state_province is 'State, province or region.';
comment on column app_public.patients.postal_code is 'Postal / ZIP code.';
comment on column app_public.patients.country_code is 'ISO 3166-1 alpha-2 country of residence.';
comment on column app_public.patients.national_id_type is
  'Kind of identity document recorded: national_id, passport, driving_licence, ssn, aadhaar, nhs_number, voter_id or other.';
comment on column app_public.patients.national_id_number is 'Number of that identity document (given together with national_id_type).';
comment on column app_public.patients.emergency_contact_name is 'Person to call in an emergency.';
comment on column app_public.patients.emergency_contact_relationship is 'Relationship of the emergency contact to the patient, e.g. spouse.';
comment on column app_public.patients.emergency_contact_phone is 'Phone number of the emergency contact.';
comment on column app_public.patients.allergies is E'Known allergies (drugs, food, latex, …), one per element; empty when none are known.';
comment on column app_public.patients.chronic_conditions is 'Long-term conditions (e.g. diabetes, hypertension), one per element.';
comment on column app_public.patients.current_medications is 'Medicines the patient currently takes, as reported (name, dose, frequency), one per element.';
comment on column app_public.patients.photo_url is 'Photo used on the record and the ID card.';
comment on column app_public.patients.preferred_language is 'Language for communication and printed instructions (BCP 47, e.g. en or hi-IN).';
comment on column app_public.patients.occupation is 'Occupation.';
comment on column app_public.patients.nationality is 'ISO 3166-1 alpha-2 nationality.';
comment on column app_public.patients.religion is 'Religion, recorded only when the patient chooses to give it (diet, end-of-life care).';
comment on column app_public.patients.registration_date is 'Day the patient was first registered at this hospital.';
comment on column app_public.patients.referred_by is 'Referring doctor, clinic or person, as told at registration.';
comment on column app_public.patients.is_vip is 'Flags a patient whose record needs discretion and priority handling.';
comment on column app_public.patients.is_deceased is 'True once the patient has died; no new appointments are booked.';
comment on column app_public.patients.date_of_death is 'Date of death (only for deceased patients; not before the date of birth).';
comment on column app_public.patients.sms_consent is 'Patient agreed to receive SMS messages (reminders, results).';
comment on column app_public.patients.email_consent is 'Patient agreed to receive emails.';
comment on column app_public.patients.whatsapp_consent is 'Patient agreed to receive WhatsApp messages.';
comment on column app_public.patients.notes is 'Free-text administrative notes about the patient.';
comment on column app_public.patients.is_active is 'False when the record is inactive (e.g. merged into another record); it stays readable.';

create trigger _100_stamp before insert or update on app_public.patients
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.patients
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Consents are legal records: what was agreed, on which version of the form, by whom (the patient,
 * a guardian for a minor, or a representative), witnessed by which staff member, and when it was
 * withdrawn or expires. A consent is never edited into another; withdrawing sets status and
 * withdrawn_at, and a new signature is a new row.
 */
create table app_public.patient_consents (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  patient_id uuid not null,
  consent_type text not null
    constraint patient_consents_consent_type_check check (consent_type in ('treatment', 'surgery', 'anesthesia', 'data_processing', 'research', 'telemedicine', 'photography', 'marketing_communications', 'data_sharing')),
  description text,
  status text not null default 'granted'
    constraint patient_consents_status_check check (status in ('granted', 'withdrawn', 'expired')),
  form_version text,
  granted_at timestamptz not null default now(),
  withdrawn_at timestamptz,
  withdrawal_reason text,
  expires_at timestamptz,
  signed_by text not null default 'patient'
    constraint patient_consents_signed_by_check check (signed_by in ('patient', 'guardian', 'representative')),
  signatory_name text,
  signatory_relationship text,
  obtained_by uuid references app_public.users (id) on delete restrict,
  witness_user_id uuid references app_public.users (id) on delete restrict,
  document_url text,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint patient_consents_hospital_id_id_key unique (hospital_id, id),
  constraint patient_consents_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint patient_consents_withdrawn_check check (
    (status = 'withdrawn') = (withdrawn_at is not null)
    and (withdrawn_at is null or withdrawn_at >= granted_at)
  ),
  constraint patient_consents_expiry_check check (expires_at is null or expires_at > granted_at),
  constraint patient_consents_signatory_check check (signed_by = 'patient' or signatory_name is not null)
);
create index idx_patient_consents__hospital_id_patient_id_consent_type on app_public.patient_consents (hospital_id, patient_id, consent_type);
create index idx_patient_consents__obtained_by on app_public.patient_consents (obtained_by) where obtained_by is not null;
create index idx_patient_consents__witness_user_id on app_public.patient_consents (witness_user_id) where witness_user_id is not null;
create index idx_patient_consents__hospital_id_expires_at on app_public.patient_consents (hospital_id, expires_at)
  where status = 'granted' and expires_at is not null;
comment on table app_public.patient_consents is
  E'A consent given (or refused later) by a patient or on the patient''s behalf, with the form version, signatory and witness.';
comment on column app_public.patient_consents.patient_id is 'Patient the consent is about.';
comment on column app_public.patient_consents.consent_type is
  'What is consented to: treatment, surgery, anesthesia, data_processing, research, telemedicine, photography, marketing_communications or data_sharing.';
comment on column app_public.patient_consents.description is E'Scope in words, e.g. the procedure or study the consent covers.';
comment on column app_public.patient_consents.status is 'granted (in force), withdrawn (revoked by the patient) or expired.';
comment on column app_public.patient_consents.form_version is 'Version of the consent form that was signed, e.g. SURG-2026.1.';
comment on column app_public.patient_consents.granted_at is 'When the consent was signed.';
comment on column app_public.patient_consents.withdrawn_at is 'When the consent was withdrawn (set exactly when status is withdrawn).';
comment on column app_public.patient_consents.withdrawal_reason is 'Why the consent was withdrawn, as stated.';
comment on column app_public.patient_consents.expires_at is 'When the consent lapses (null = until withdrawn).';
comment on column app_public.patient_consents.signed_by is 'Who signed: patient, guardian (e.g. for a minor) or representative (legal proxy).';
comment on column app_public.patient_consents.signatory_name is 'Name of the person who signed, required when it is not the patient.';
comment on column app_public.patient_consents.signatory_relationship is 'Relationship of the signatory to the patient, e.g. mother.';
comment on column app_public.patient_consents.obtained_by is 'Staff member who explained the form and took the consent.';
comment on column app_public.patient_consents.witness_user_id is 'Staff member who witnessed the signature.';
comment on column app_public.patient_consents.document_url is 'Scan of the signed form.';
comment on column app_public.patient_consents.notes is 'Notes, e.g. interpreter used or questions asked.';

create trigger _100_stamp before insert or update on app_public.patient_consents
  for each row execute function app_hidden.tg__stamp();

/*
 * Files in the patient's record: identity proofs, insurance cards, outside lab reports and
 * imaging, discharge summaries, referral letters. The file itself lives in object storage; the
 * row holds where it is, what it is and its SHA-256 so a download can be verified. Confidential
 * documents are shown only to staff with the matching permission (security issue).
 */
create table app_public.patient_documents (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  patient_id uuid not null,
  document_type text not null
    constraint patient_documents_document_type_check check (document_type in ('id_proof', 'insurance_card', 'lab_report', 'imaging', 'discharge_summary', 'referral_letter', 'prescription_scan', 'consent_form', 'other')),
  title text not null constraint patient_documents_title_check check (length(trim(title)) between 1 and 200),
  description text,
  file_name text not null,
  file_url text not null,
  mime_type text constraint patient_documents_mime_type_check check (mime_type ~ '^[a-z]+/[A-Za-z0-9.+-]+$'),
  size_bytes bigint constraint patient_documents_size_bytes_check check (size_bytes >= 0),
  sha256 text constraint patient_documents_sha256_check check (sha256 ~ '^[0-9a-f]{64}$'),
  document_date date,
  source text,
  uploaded_by uuid references app_public.users (id) on delete restrict,
  is_confidential boolean not null default false,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint patient_documents_hospital_id_id_key unique (hospital_id, id),
  constraint patient_documents_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint patient_documents_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_patient_documents__hospital_id_patient_id_document_type on app_public.patient_documents (hospital_id, patient_id, document_type);
create index idx_patient_documents__uploaded_by on app_public.patient_documents (uploaded_by) where uploaded_by is not null;
comment on table app_public.patient_documents is
  E'A file in a patient''s record (ID proof, insurance card, outside report, imaging, discharge summary, …) stored in object storage.';
comment on column app_public.patient_documents.patient_id is 'Patient whose record holds the document.';
comment on column app_public.patient_documents.document_type is
  'id_proof, insurance_card, lab_report, imaging, discharge_summary, referral_letter, prescription_scan, consent_form or other.';
comment on column app_public.patient_documents.title is 'Title shown in the record, e.g. Chest X-ray (outside).';
comment on column app_public.patient_documents.description is 'What the document contains.';
comment on column app_public.patient_documents.file_name is 'Original file name as uploaded.';
comment on column app_public.patient_documents.file_url is 'Where the file is stored (object storage URL or key).';
comment on column app_public.patient_documents.mime_type is 'Media type of the file, e.g. application/pdf or image/jpeg.';
comment on column app_public.patient_documents.size_bytes is 'File size in bytes.';
comment on column app_public.patient_documents.sha256 is 'SHA-256 of the file contents (64 lowercase hex digits), to verify downloads.';
comment on column app_public.patient_documents.document_date is 'Date the document was issued (e.g. report date), not the upload date.';
comment on column app_public.patient_documents.source is E'Who issued the document, e.g. the outside lab or hospital.';
comment on column app_public.patient_documents.uploaded_by is 'Staff member who uploaded or scanned the file.';
comment on column app_public.patient_documents.is_confidential is 'Restricts viewing to staff with the confidential-documents permission.';

create trigger _100_stamp before insert or update on app_public.patient_documents
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.patient_documents
  for each row execute function app_hidden.tg__soft_delete_stamp();

--! split: 1100-doctors.sql
/*
 * Doctors — the clinicians patients are booked with. A doctor is a user (login, name, contact) plus
 * a professional profile per hospital: the same person may practise in several hospitals of the
 * chain, with a department, room, fees and weekly schedule in each (one doctors row per hospital
 * and user).
 *
 * Around the doctor: the weekly schedule template the booking screen turns into slots, leaves
 * (which block those slots and may name a substitute), and the fee list per visit type. Schedules
 * and fees are dated (valid_from/valid_to) so that a change does not rewrite what was booked or
 * billed before it; exclusion constraints keep them from overlapping.
 */

/*
 * The professional profile: licence (registration number, issuing council, expiry — checked by
 * credentialing), specialty, qualifications and languages patients choose by, and the booking
 * limits (accepts new patients, patients per day).
 */
create table app_public.doctors (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  user_id uuid not null references app_public.users (id) on delete restrict,
  department_id uuid not null,
  registration_number text not null
    constraint doctors_registration_number_check check (length(trim(registration_number)) between 2 and 50),
  registration_council text,
  licence_expiry_date date,
  specialization text not null,
  sub_specialization text,
  qualifications text[] not null default '{}',
  years_of_experience smallint
    constraint doctors_years_of_experience_check check (years_of_experience between 0 and 80),
  languages text[] not null default '{}',
  employment_type text not null default 'full_time'
    constraint doctors_employment_type_check check (employment_type in ('full_time', 'part_time', 'visiting', 'resident', 'locum')),
  joined_on date,
  consultation_room text,
  bio text,
  signature_url text,
  photo_url text,
  accepts_new_patients boolean not null default true,
  offers_teleconsultation boolean not null default false,
  max_patients_per_day smallint
    constraint doctors_max_patients_per_day_check check (max_patients_per_day between 1 and 1000),
  is_active boolean not null default true,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint doctors_hospital_id_id_key unique (hospital_id, id),
  constraint doctors_hospital_id_user_id_key unique (hospital_id, user_id),
  constraint doctors_hospital_id_registration_number_key unique (hospital_id, registration_number),
  constraint doctors_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete restrict,
  constraint doctors_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_doctors__user_id on app_public.doctors (user_id);
create index idx_doctors__hospital_id_department_id on app_public.doctors (hospital_id, department_id);
create index idx_doctors__hospital_id_specialization on app_public.doctors (hospital_id, specialization)
  where is_active and not is_deleted;
create index idx_doctors__hospital_id_licence_expiry_date on app_public.doctors (hospital_id, licence_expiry_date)
  where licence_expiry_date is not null and not is_deleted;
comment on table app_public.doctors is
  E'A doctor practising at a hospital: the user''s professional profile there (licence, specialty, department, booking limits).';
comment on column app_public.doctors.user_id is E'The doctor''s user account (name, login, contact); one doctors row per hospital the user practises in.';
comment on column app_public.doctors.department_id is 'Department the doctor belongs to (default department of their appointments and queue).';
comment on column app_public.doctors.registration_number is 'Medical registration / licence number, unique within the hospital.';
comment on column app_public.doctors.registration_council is E'Body that issued the registration, e.g. a state medical council or medical board.';
comment on column app_public.doctors.licence_expiry_date is 'Day the licence expires (null = no expiry recorded); credentialing follows it up.';
comment on column app_public.doctors.specialization is 'Main specialty, e.g. Cardiology.';
comment on column app_public.doctors.sub_specialization is 'Sub-specialty, e.g. Interventional Cardiology.';
comment on column app_public.doctors.qualifications is 'Degrees and diplomas as printed on prescriptions, e.g. {MBBS,MD}.';
comment on column app_public.doctors.years_of_experience is 'Years of clinical practice (0–80).';
comment on column app_public.doctors.languages is 'Languages the doctor consults in, e.g. {English,Hindi}.';
comment on column app_public.doctors.employment_type is 'full_time, part_time, visiting (consultant), resident or locum.';
comment on column app_public.doctors.joined_on is 'Day the doctor started practising at this hospital.';
comment on column app_public.doctors.consultation_room is 'Usual consultation room or chamber shown on tokens and directions.';
comment on column app_public.doctors.bio is 'Short professional biography shown to patients.';
comment on column app_public.doctors.signature_url is 'Image of the signature printed on prescriptions and reports.';
comment on column app_public.doctors.photo_url is 'Photo shown to patients when booking.';
comment on column app_public.doctors.accepts_new_patients is 'False when only existing patients may be booked.';
comment on column app_public.doctors.offers_teleconsultation is 'Whether teleconsultation appointments may be booked with this doctor.';
comment on column app_public.doctors.max_patients_per_day is 'Cap on appointments per day across sessions (null = limited by the schedule only).';
comment on column app_public.doctors.is_active is 'False when the doctor no longer practises here; history stays.';

create trigger _100_stamp before insert or update on app_public.doctors
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.doctors
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * The head of a department is a doctor of the same hospital; departments come before doctors, so
 * the link is added here. Deleting the doctor row leaves the department without a head.
 */
alter table app_public.departments add column head_doctor_id uuid;
alter table app_public.departments add constraint departments_head_doctor_fkey foreign key (hospital_id, head_doctor_id)
  references app_public.doctors (hospital_id, id) on delete set null (head_doctor_id);
create index idx_departments__hospital_id_head_doctor_id on app_public.departments (hospital_id, head_doctor_id)
  where head_doctor_id is not null;
comment on column app_public.departments.head_doctor_id is 'Doctor who heads the department (a doctor of the same hospital), if any.';

/*
 * The weekly template of consultation sessions: e.g. Monday 09:00–13:00 in room 12, 15-minute
 * slots, at most 20 patients. Booking turns sessions into slots for concrete days; leaves remove
 * them. A session crossing midnight is entered as two rows.
 *
 * Two active sessions of a doctor may not overlap on the same weekday while their validity periods
 * overlap; the exclusion constraint compares clock times as ranges on a fixed day (2000-01-01),
 * half-open, so back-to-back sessions (09:00–13:00, 13:00–17:00) are allowed. It includes the
 * hospital: the same doctor working in two hospitals is two doctors rows anyway.
 */
create table app_public.doctor_schedules (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  doctor_id uuid not null,
  department_id uuid,
  day_of_week smallint not null
    constraint doctor_schedules_day_of_week_check check (day_of_week between 0 and 6),
  session text not null default 'other'
    constraint doctor_schedules_session_check check (session in ('morning', 'afternoon', 'evening', 'other')),
  start_time time not null,
  end_time time not null,
  slot_minutes smallint
    constraint doctor_schedules_slot_minutes_check check (slot_minutes between 5 and 240),
  max_patients smallint
    constraint doctor_schedules_max_patients_check check (max_patients between 1 and 1000),
  room text,
  allows_online_booking boolean not null default true,
  valid_from date not null default current_date,
  valid_to date,
  is_active boolean not null default true,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint doctor_schedules_hospital_id_id_key unique (hospital_id, id),
  constraint doctor_schedules_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete cascade,
  constraint doctor_schedules_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete set null (department_id),
  constraint doctor_schedules_time_check check (end_time > start_time),
  constraint doctor_schedules_validity_check check (valid_to is null or valid_to >= valid_from),
  constraint doctor_schedules_no_overlap_excl exclude using gist (
    hospital_id with =,
    doctor_id with =,
    day_of_week with =,
    tsrange(date '2000-01-01' + start_time, date '2000-01-01' + end_time) with &&,
    daterange(valid_from, valid_to, '[]') with &&
  ) where (is_active)
);
create index idx_doctor_schedules__hospital_id_doctor_id_day_of_week on app_public.doctor_schedules (hospital_id, doctor_id, day_of_week);
create index idx_doctor_schedules__hospital_id_department_id on app_public.doctor_schedules (hospital_id, department_id)
  where department_id is not null;
comment on table app_public.doctor_schedules is
  E'A weekly consultation session of a doctor (weekday, clock times, slot length, capacity, room), valid over a date range.';
comment on column app_public.doctor_schedules.doctor_id is 'Doctor who holds the session.';
comment on column app_public.doctor_schedules.department_id is E'Department the session belongs to (null = the doctor''s own department).';
comment on column app_public.doctor_schedules.day_of_week is 'Weekday of the session: 0 = Sunday, 1 = Monday, … 6 = Saturday (as extract(dow)).';
comment on column app_public.doctor_schedules.session is 'Part of the day: morning, afternoon, evening or other.';
comment on column app_public.doctor_schedules.start_time is E'Clock time the session starts, in the hospital''s time zone.';
comment on column app_public.doctor_schedules.end_time is E'Clock time the session ends (after start_time), in the hospital''s time zone.';
comment on column app_public.doctor_schedules.slot_minutes is E'Length of one appointment slot, 5–240 minutes (null = the hospital''s default_slot_minutes).';
comment on column app_public.doctor_schedules.max_patients is 'Most patients booked into one occurrence of the session (null = as many as slots).';
comment on column app_public.doctor_schedules.room is E'Room for this session when it differs from the doctor''s usual consultation room.';
comment on column app_public.doctor_schedules.allows_online_booking is 'Whether patients may book this session themselves (web, app); otherwise front desk only.';
comment on column app_public.doctor_schedules.valid_from is 'First day the session applies.';
comment on column app_public.doctor_schedules.valid_to is 'Last day the session applies (null = until changed).';
comment on column app_public.doctor_schedules.is_active is 'False to switch the session off; inactive sessions are not checked for overlap.';
comment on column app_public.doctor_schedules.notes is 'Notes, e.g. procedures only on this session.';

create trigger _100_stamp before insert or update on app_public.doctor_schedules
  for each row execute function app_hidden.tg__stamp();

/*
 * Leave of a doctor, by calendar days in the hospital's time zone, optionally half a day. A leave
 * is requested, then approved or rejected (or cancelled); approved leave blocks booking, and a
 * substitute doctor of the same hospital may take over the appointments. Requested and approved
 * leaves of one doctor may not overlap (two half days of one date are one full-day leave).
 */
create table app_public.doctor_leaves (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  doctor_id uuid not null,
  leave_type text not null
    constraint doctor_leaves_leave_type_check check (leave_type in ('vacation', 'sick', 'conference', 'training', 'personal', 'other')),
  start_date date not null,
  end_date date not null,
  half_day text
    constraint doctor_leaves_half_day_check check (half_day in ('first_half', 'second_half')),
  reason text,
  status text not null default 'requested'
    constraint doctor_leaves_status_check check (status in ('requested', 'approved', 'rejected', 'cancelled')),
  approved_by uuid references app_public.users (id) on delete restrict,
  approved_at timestamptz,
  rejection_reason text,
  cancelled_at timestamptz,
  substitute_doctor_id uuid,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint doctor_leaves_hospital_id_id_key unique (hospital_id, id),
  constraint doctor_leaves_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete cascade,
  constraint doctor_leaves_substitute_doctor_fkey foreign key (hospital_id, substitute_doctor_id)
    references app_public.doctors (hospital_id, id) on delete set null (substitute_doctor_id),
  constraint doctor_leaves_dates_check check (end_date >= start_date),
  constraint doctor_leaves_half_day_single_date_check check (half_day is null or start_date = end_date),
  constraint doctor_leaves_approval_check check (status <> 'approved' or approved_at is not null),
  constraint doctor_leaves_cancelled_check check ((status = 'cancelled') = (cancelled_at is not null)),
  constraint doctor_leaves_substitute_check check (substitute_doctor_id <> doctor_id),
  constraint doctor_leaves_no_overlap_excl exclude using gist (
    hospital_id with =,
    doctor_id with =,
    daterange(start_date, end_date, '[]') with &&
  ) where (status in ('requested', 'approved'))
);
create index idx_doctor_leaves__hospital_id_doctor_id_start_date on app_public.doctor_leaves (hospital_id, doctor_id, start_date);
create index idx_doctor_leaves__hospital_id_substitute_doctor_id on app_public.doctor_leaves (hospital_id, substitute_doctor_id)
  where substitute_doctor_id is not null;
create index idx_doctor_leaves__approved_by on app_public.doctor_leaves (approved_by) where approved_by is not null;
create index idx_doctor_leaves__hospital_id_start_date_end_date on app_public.doctor_leaves (hospital_id, start_date, end_date)
  where status in ('requested', 'approved');
comment on table app_public.doctor_leaves is
  E'A leave of a doctor over calendar days (or half a day), with its approval and an optional substitute.';
comment on column app_public.doctor_leaves.doctor_id is 'Doctor on leave.';
comment on column app_public.doctor_leaves.leave_type is 'vacation, sick, conference, training, personal or other.';
comment on column app_public.doctor_leaves.start_date is E'First day of leave (hospital''s time zone).';
comment on column app_public.doctor_leaves.end_date is 'Last day of leave, inclusive (on or after start_date).';
comment on column app_public.doctor_leaves.half_day is 'For a half-day leave on a single date: first_half or second_half; null = whole days.';
comment on column app_public.doctor_leaves.reason is 'Reason given by the doctor.';
comment on column app_public.doctor_leaves.status is 'requested, approved, rejected or cancelled; only approved leave blocks booking.';
comment on column app_public.doctor_leaves.approved_by is 'User who approved the leave.';
comment on column app_public.doctor_leaves.approved_at is 'When the leave was approved (required once approved).';
comment on column app_public.doctor_leaves.rejection_reason is 'Why the leave was rejected.';
comment on column app_public.doctor_leaves.cancelled_at is 'When the leave was cancelled (set exactly when status is cancelled).';
comment on column app_public.doctor_leaves.substitute_doctor_id is E'Doctor of the same hospital who covers the absent doctor''s patients, if any.';
comment on column app_public.doctor_leaves.notes is 'Administrative notes, e.g. how affected patients were informed.';

create trigger _100_stamp before insert or update on app_public.doctor_leaves
  for each row execute function app_hidden.tg__stamp();

/*
 * What a doctor charges per visit type, over a validity period, with the tax rule that applies.
 * Billing copies amount and rate onto the invoice line, so changing a fee means closing the old
 * row (valid_to) and adding a new one; active fees of one doctor and visit type cannot overlap in
 * time, so exactly one price applies on any day. follow_up_window_days says how long after a
 * consultation a return visit counts as a follow-up.
 */
create table app_public.doctor_fees (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  doctor_id uuid not null,
  visit_type text not null
    constraint doctor_fees_visit_type_check check (visit_type in ('new_consultation', 'follow_up', 'emergency', 'teleconsultation', 'home_visit', 'procedure')),
  amount numeric(12,2) not null
    constraint doctor_fees_amount_check check (amount >= 0),
  follow_up_window_days smallint
    constraint doctor_fees_follow_up_window_days_check check (follow_up_window_days between 0 and 365),
  tax_configuration_id uuid,
  valid_from date not null default current_date,
  valid_to date,
  is_active boolean not null default true,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint doctor_fees_hospital_id_id_key unique (hospital_id, id),
  constraint doctor_fees_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete cascade,
  constraint doctor_fees_tax_configuration_fkey foreign key (hospital_id, tax_configuration_id)
    references app_public.tax_configurations (hospital_id, id) on delete set null (tax_configuration_id),
  constraint doctor_fees_validity_check check (valid_to is null or valid_to >= valid_from),
  constraint doctor_fees_no_overlap_excl exclude using gist (
    hospital_id with =,
    doctor_id with =,
    visit_type with =,
    daterange(valid_from, valid_to, '[]') with &&
  ) where (is_active)
);
create index idx_doctor_fees__hospital_id_doctor_id_visit_type_valid_from on app_public.doctor_fees (hospital_id, doctor_id, visit_type, valid_from);
create index idx_doctor_fees__hospital_id_tax_configuration_id on app_public.doctor_fees (hospital_id, tax_configuration_id)
  where tax_configuration_id is not null;
comment on table app_public.doctor_fees is
  E'The fee a doctor charges for a visit type over a validity period, with its tax rule.';
comment on column app_public.doctor_fees.doctor_id is 'Doctor the fee belongs to.';
comment on column app_public.doctor_fees.visit_type is 'new_consultation, follow_up, emergency, teleconsultation, home_visit or procedure.';
comment on column app_public.doctor_fees.amount is E'Fee in the hospital''s currency (>= 0), before tax unless the tax rule is inclusive.';
comment on column app_public.doctor_fees.follow_up_window_days is 'Days after a consultation within which a return visit is charged as a follow-up (null = not applicable).';
comment on column app_public.doctor_fees.tax_configuration_id is E'Tax rule applied to the fee (null = the hospital''s default for consultations).';
comment on column app_public.doctor_fees.valid_from is 'First day the fee applies.';
comment on column app_public.doctor_fees.valid_to is 'Last day the fee applies (null = until changed).';
comment on column app_public.doctor_fees.is_active is 'False to withdraw the fee; active fees of one doctor and visit type never overlap in time.';
comment on column app_public.doctor_fees.notes is 'Notes, e.g. what a procedure fee covers.';

create trigger _100_stamp before insert or update on app_public.doctor_fees
  for each row execute function app_hidden.tg__stamp();

--! split: 1200-appointments.sql
/*
 * Appointments — a patient booked with a doctor for a time. The booking is the root of the
 * outpatient visit: check-in puts the patient in the day's queue, the consultation produces
 * prescriptions and lab orders, billing invoices the fee.
 *
 * Double booking is made impossible by the database, not by the booking screen: an exclusion
 * constraint refuses two live appointments of one doctor whose times overlap, even when two
 * receptionists book the same slot at the same instant. Every status change is written to an
 * append-only log (by the workflow functions of a later issue), and the queue holds the day's
 * tokens for booked and walk-in patients alike.
 */

/*
 * Times are instants (timestamptz); the booking functions derive them from the doctor's schedule
 * in the hospital's time zone. A rescheduled appointment keeps its row with status
 * 'rescheduled' and the new one points back at it (rescheduled_from_id), so the history of a
 * booking reads as a chain. Cancelled, no-show, rescheduled and soft-deleted appointments free
 * their slot.
 */
create table app_public.appointments (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  appointment_number text not null,
  patient_id uuid not null,
  doctor_id uuid not null,
  department_id uuid not null,
  schedule_id uuid,
  visit_type text not null default 'new_consultation'
    constraint appointments_visit_type_check check (visit_type in ('new_consultation', 'follow_up', 'emergency', 'teleconsultation', 'home_visit', 'procedure')),
  scheduled_start timestamptz not null,
  scheduled_end timestamptz not null,
  status text not null default 'booked'
    constraint appointments_status_check check (status in ('booked', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show', 'rescheduled')),
  booking_source text not null default 'front_desk'
    constraint appointments_booking_source_check check (booking_source in ('front_desk', 'phone', 'web', 'app', 'walk_in', 'referral', 'api')),
  priority text not null default 'routine'
    constraint appointments_priority_check check (priority in ('routine', 'urgent', 'emergency')),
  reason_for_visit text,
  chief_complaint text,
  referred_by text,
  rescheduled_from_id uuid,
  quoted_fee numeric(12,2)
    constraint appointments_quoted_fee_check check (quoted_fee >= 0),
  video_call_url text,
  confirmed_at timestamptz,
  checked_in_at timestamptz,
  started_at timestamptz,
  completed_at timestamptz,
  no_show_at timestamptz,
  cancelled_at timestamptz,
  cancelled_by uuid references app_public.users (id) on delete restrict,
  cancellation_reason text,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint appointments_hospital_id_id_key unique (hospital_id, id),
  constraint appointments_hospital_id_appointment_number_key unique (hospital_id, appointment_number),
  constraint appointments_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint appointments_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete restrict,
  constraint appointments_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete restrict,
  constraint appointments_schedule_fkey foreign key (hospital_id, schedule_id)
    references app_public.doctor_schedules (hospital_id, id) on delete set null (schedule_id),
  constraint appointments_rescheduled_from_fkey foreign key (hospital_id, rescheduled_from_id)
    references app_public.appointments (hospital_id, id) on delete set null (rescheduled_from_id),
  constraint appointments_time_check check (scheduled_end > scheduled_start),
  constraint appointments_not_own_predecessor_check check (rescheduled_from_id <> id),
  constraint appointments_cancelled_check check (status <> 'cancelled' or cancelled_at is not null),
  constraint appointments_completed_check check (status <> 'completed' or completed_at is not null),
  constraint appointments_no_show_check check (status <> 'no_show' or no_show_at is not null),
  constraint appointments_consultation_times_check check (completed_at is null or started_at is null or completed_at >= started_at),
  constraint appointments_deleted_check check (is_deleted = (deleted_at is not null)),
  constraint appointments_no_double_booking_excl exclude using gist (
    hospital_id with =,
    doctor_id with =,
    tstzrange(scheduled_start, scheduled_end) with &&
  ) where (status not in ('cancelled', 'no_show', 'rescheduled') and not is_deleted)
);
create index idx_appointments__hospital_id_doctor_id_scheduled_start on app_public.appointments (hospital_id, doctor_id, scheduled_start);
create index idx_appointments__hospital_id_patient_id_scheduled_start on app_public.appointments (hospital_id, patient_id, scheduled_start);
create index idx_appointments__hospital_id_department_id_scheduled_start on app_public.appointments (hospital_id, department_id, scheduled_start);
create index idx_appointments__hospital_id_scheduled_start on app_public.appointments (hospital_id, scheduled_start)
  where not is_deleted;
create index idx_appointments__hospital_id_status_scheduled_start on app_public.appointments (hospital_id, status, scheduled_start)
  where status in ('booked', 'confirmed', 'checked_in', 'in_progress') and not is_deleted;
create index idx_appointments__hospital_id_schedule_id on app_public.appointments (hospital_id, schedule_id)
  where schedule_id is not null;
create index idx_appointments__hospital_id_rescheduled_from_id on app_public.appointments (hospital_id, rescheduled_from_id)
  where rescheduled_from_id is not null;
create index idx_appointments__cancelled_by on app_public.appointments (cancelled_by) where cancelled_by is not null;
comment on table app_public.appointments is
  E'A booking of a patient with a doctor for a time slot, with its status, visit details and key transition times; one doctor can never be double-booked.';
comment on column app_public.appointments.appointment_number is
  E'Human-readable number from id_sequences (document type ''appointment''), e.g. APT-NY-2026-000042-K; unique within the hospital.';
comment on column app_public.appointments.patient_id is 'Patient who is booked.';
comment on column app_public.appointments.doctor_id is 'Doctor the patient is booked with.';
comment on column app_public.appointments.department_id is 'Department of the visit (usually the doctor''s).';
comment on column app_public.appointments.schedule_id is 'Weekly schedule session the slot was taken from (null for walk-ins and ad-hoc slots).';
comment on column app_public.appointments.visit_type is 'new_consultation, follow_up, emergency, teleconsultation, home_visit or procedure; selects the doctor fee.';
comment on column app_public.appointments.scheduled_start is 'Start of the booked slot.';
comment on column app_public.appointments.scheduled_end is 'End of the booked slot (after the start).';
comment on column app_public.appointments.status is
  'booked, confirmed, checked_in, in_progress, completed, cancelled, no_show or rescheduled; cancelled, no_show and rescheduled free the slot.';
comment on column app_public.appointments.booking_source is 'How the booking was made: front_desk, phone, web, app, walk_in, referral or api.';
comment on column app_public.appointments.priority is 'routine, urgent or emergency.';
comment on column app_public.appointments.reason_for_visit is 'Reason for the visit as given when booking.';
comment on column app_public.appointments.chief_complaint is 'Main complaint recorded at check-in or by the doctor.';
comment on column app_public.appointments.referred_by is 'Referring doctor or facility, for referral bookings.';
comment on column app_public.appointments.rescheduled_from_id is 'Earlier appointment (status rescheduled) this one replaces.';
comment on column app_public.appointments.quoted_fee is E'Fee quoted to the patient when booking, in the hospital''s currency (the invoice is authoritative).';
comment on column app_public.appointments.video_call_url is 'Join link for a teleconsultation.';
comment on column app_public.appointments.confirmed_at is 'When the patient confirmed attendance.';
comment on column app_public.appointments.checked_in_at is 'When the patient checked in at the hospital.';
comment on column app_public.appointments.started_at is 'When the consultation started.';
comment on column app_public.appointments.completed_at is 'When the consultation ended (required once completed).';
comment on column app_public.appointments.no_show_at is 'When the appointment was marked no-show (required once no_show).';
comment on column app_public.appointments.cancelled_at is 'When the appointment was cancelled (required once cancelled).';
comment on column app_public.appointments.cancelled_by is 'User who cancelled the appointment.';
comment on column app_public.appointments.cancellation_reason is 'Why the appointment was cancelled.';
comment on column app_public.appointments.notes is 'Front-desk notes, e.g. needs wheelchair.';

create trigger _100_stamp before insert or update on app_public.appointments
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.appointments
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Append-only history of appointment statuses: one row per transition, written by the workflow
 * functions, never updated or deleted by staff (the security issue grants no update/delete).
 * The first row of an appointment has no from_status. Lines belong to their appointment
 * (cascade).
 */
create table app_public.appointment_status_log (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  appointment_id uuid not null,
  from_status text
    constraint appointment_status_log_from_status_check check (from_status in ('booked', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show', 'rescheduled')),
  to_status text not null
    constraint appointment_status_log_to_status_check check (to_status in ('booked', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show', 'rescheduled')),
  changed_at timestamptz not null default now(),
  changed_by uuid references app_public.users (id) on delete restrict,
  reason text,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint appointment_status_log_hospital_id_id_key unique (hospital_id, id),
  constraint appointment_status_log_appointment_fkey foreign key (hospital_id, appointment_id)
    references app_public.appointments (hospital_id, id) on delete cascade,
  constraint appointment_status_log_transition_check check (from_status is distinct from to_status)
);
create index idx_appointment_status_log__hospital_id_appointment_id_changed_at on app_public.appointment_status_log (hospital_id, appointment_id, changed_at);
create index idx_appointment_status_log__changed_by on app_public.appointment_status_log (changed_by) where changed_by is not null;
comment on table app_public.appointment_status_log is
  E'Append-only history of an appointment''s status changes: one row per transition, never updated or deleted.';
comment on column app_public.appointment_status_log.appointment_id is 'Appointment whose status changed.';
comment on column app_public.appointment_status_log.from_status is
  'Status before the change (null for the first entry): booked, confirmed, checked_in, in_progress, completed, cancelled, no_show or rescheduled.';
comment on column app_public.appointment_status_log.to_status is
  'Status after the change: booked, confirmed, checked_in, in_progress, completed, cancelled, no_show or rescheduled.';
comment on column app_public.appointment_status_log.changed_at is 'When the change happened.';
comment on column app_public.appointment_status_log.changed_by is 'User who made the change (null for system jobs, e.g. automatic no-show).';
comment on column app_public.appointment_status_log.reason is 'Reason for the change, e.g. the cancellation reason.';
comment on column app_public.appointment_status_log.notes is 'Additional notes.';

create trigger _100_stamp before insert or update on app_public.appointment_status_log
  for each row execute function app_hidden.tg__stamp();

/*
 * The day's queue: one token per patient waiting for a department (and usually a doctor), whether
 * booked (appointment_id) or walk-in. queue_date is the day in the hospital's time zone; tokens
 * are numbered per department and day (token_number), and the printed label (e.g. CARD-012) comes
 * from id_sequences with a daily reset, so it is unique per hospital and day. The waiting-room
 * display and the doctor's console read the queue by hospital, day and status.
 */
create table app_public.appointment_queue (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  queue_date date not null,
  department_id uuid not null,
  doctor_id uuid,
  appointment_id uuid,
  patient_id uuid not null,
  token_number integer not null
    constraint appointment_queue_token_number_check check (token_number > 0),
  token_label text not null,
  priority text not null default 'normal'
    constraint appointment_queue_priority_check check (priority in ('normal', 'urgent', 'emergency', 'senior_citizen', 'differently_abled')),
  status text not null default 'waiting'
    constraint appointment_queue_status_check check (status in ('waiting', 'called', 'in_consultation', 'completed', 'skipped', 'cancelled', 'no_show')),
  checked_in_at timestamptz not null default now(),
  called_at timestamptz,
  call_count smallint not null default 0
    constraint appointment_queue_call_count_check check (call_count >= 0),
  consultation_started_at timestamptz,
  completed_at timestamptz,
  counter text,
  estimated_wait_minutes smallint
    constraint appointment_queue_estimated_wait_minutes_check check (estimated_wait_minutes >= 0),
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint appointment_queue_hospital_id_id_key unique (hospital_id, id),
  constraint appointment_queue_hospital_id_department_id_queue_date_token_number_key unique (hospital_id, department_id, queue_date, token_number),
  constraint appointment_queue_hospital_id_queue_date_token_label_key unique (hospital_id, queue_date, token_label),
  constraint appointment_queue_hospital_id_appointment_id_key unique (hospital_id, appointment_id),
  constraint appointment_queue_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete restrict,
  constraint appointment_queue_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete restrict,
  constraint appointment_queue_appointment_fkey foreign key (hospital_id, appointment_id)
    references app_public.appointments (hospital_id, id) on delete restrict,
  constraint appointment_queue_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint appointment_queue_times_check check (
    (called_at is null or called_at >= checked_in_at)
    and (consultation_started_at is null or consultation_started_at >= checked_in_at)
    and (completed_at is null or completed_at >= checked_in_at)
  ),
  constraint appointment_queue_completed_check check (status <> 'completed' or completed_at is not null)
);
create index idx_appointment_queue__hospital_id_queue_date_status on app_public.appointment_queue (hospital_id, queue_date, status);
create index idx_appointment_queue__hospital_id_doctor_id_queue_date on app_public.appointment_queue (hospital_id, doctor_id, queue_date)
  where doctor_id is not null;
create index idx_appointment_queue__hospital_id_patient_id_queue_date on app_public.appointment_queue (hospital_id, patient_id, queue_date);
comment on table app_public.appointment_queue is
  E'A queue token of the day: a booked or walk-in patient waiting for a department or doctor, from check-in to the end of the consultation.';
comment on column app_public.appointment_queue.queue_date is E'Day of the queue in the hospital''s time zone.';
comment on column app_public.appointment_queue.department_id is 'Department whose queue the token is in.';
comment on column app_public.appointment_queue.doctor_id is 'Doctor the patient waits for (null = first available doctor of the department).';
comment on column app_public.appointment_queue.appointment_id is 'Appointment the token was issued for (null for walk-ins); one token per appointment.';
comment on column app_public.appointment_queue.patient_id is 'Patient holding the token.';
comment on column app_public.appointment_queue.token_number is 'Position number within the department and day (> 0), as called out.';
comment on column app_public.appointment_queue.token_label is
  E'Printed token from id_sequences (document type ''queue_token'', reset daily), e.g. CARD-012 (the department code and the day''s counter); unique within the hospital and day.';
comment on column app_public.appointment_queue.priority is 'normal, urgent, emergency, senior_citizen or differently_abled; higher priorities are called first.';
comment on column app_public.appointment_queue.status is 'waiting, called, in_consultation, completed, skipped, cancelled or no_show.';
comment on column app_public.appointment_queue.checked_in_at is 'When the patient joined the queue.';
comment on column app_public.appointment_queue.called_at is 'When the token was last called.';
comment on column app_public.appointment_queue.call_count is 'How many times the token has been called (a token not answered is skipped after a few calls).';
comment on column app_public.appointment_queue.consultation_started_at is 'When the patient went in to the doctor.';
comment on column app_public.appointment_queue.completed_at is 'When the consultation ended (required once completed).';
comment on column app_public.appointment_queue.counter is 'Counter or room the token is called to.';
comment on column app_public.appointment_queue.estimated_wait_minutes is 'Estimated minutes until the patient is called, shown on the token and display.';
comment on column app_public.appointment_queue.notes is 'Notes, e.g. reason for priority.';

create trigger _100_stamp before insert or update on app_public.appointment_queue
  for each row execute function app_hidden.tg__stamp();

--! split: 2000-medicines.sql
/*
 * Medicines — each hospital's formulary (the catalogue its pharmacy stocks and its doctors
 * prescribe from) and the batches physically on its shelves.
 *
 * Stock is counted per batch, in the medicine's base unit (tablets, ml, vials, …), because
 * expiry, recalls and cost are properties of a batch, not of the medicine. There is deliberately
 * no stock column on `medicines`: the on-hand figure of a medicine is the sum over its batches,
 * and each batch balance is kept by the stock ledger (`stock_movements`, 4100), written only by
 * triggers (goods received, dispensing first-expiry-first-out, returns, adjustments, counts).
 *
 * Batches are created by goods receipts (4000); following the "links point backwards" rule, the
 * GRN line names the batch it created, the batch does not name the GRN line or the supplier.
 */

/*
 * One medicine of the formulary: what it is (generic, brand, form, strength), how it is counted
 * (base unit, pack size), how it is regulated (schedule), stored and priced, and when to reorder.
 * `requires_prescription` is derived from the schedule so the two can never disagree.
 */
create table app_public.medicines (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  item_code text constraint medicines_item_code_check check (item_code ~ '^[A-Z0-9][A-Z0-9_-]{1,31}$'),
  generic_name text not null constraint medicines_generic_name_check check (length(trim(generic_name)) between 2 and 200),
  brand_name text constraint medicines_brand_name_check check (length(trim(brand_name)) between 1 and 200),
  manufacturer text,
  dosage_form text not null
    constraint medicines_dosage_form_check check (dosage_form in ('tablet', 'capsule', 'syrup', 'suspension', 'injection', 'infusion', 'ointment', 'cream', 'gel', 'drops', 'inhaler', 'spray', 'patch', 'suppository', 'powder', 'solution', 'other')),
  strength text,
  strength_value numeric(12,4) constraint medicines_strength_value_check check (strength_value > 0),
  strength_unit text,
  base_unit text not null
    constraint medicines_base_unit_check check (base_unit in ('tablet', 'capsule', 'ml', 'g', 'vial', 'ampoule', 'unit', 'sachet', 'bottle', 'tube', 'inhaler', 'patch', 'suppository', 'piece')),
  pack_size integer not null default 1 constraint medicines_pack_size_check check (pack_size > 0),
  route text
    constraint medicines_route_check check (route in ('oral', 'sublingual', 'topical', 'inhalation', 'intravenous', 'intramuscular', 'subcutaneous', 'rectal', 'ophthalmic', 'otic', 'nasal', 'other')),
  therapeutic_class text,
  atc_code text constraint medicines_atc_code_check check (atc_code ~ '^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$'),
  hsn_code text constraint medicines_hsn_code_check check (hsn_code ~ '^[0-9]{4,10}$'),
  barcode text constraint medicines_barcode_check check (barcode ~ '^[0-9A-Za-z-]{4,48}$'),
  schedule_category text not null default 'prescription_only'
    constraint medicines_schedule_category_check check (schedule_category in ('otc', 'prescription_only', 'controlled', 'narcotic')),
  regulatory_schedule text,
  requires_prescription boolean not null generated always as (schedule_category <> 'otc') stored,
  storage_conditions text not null default 'room_temperature'
    constraint medicines_storage_conditions_check check (storage_conditions in ('room_temperature', 'cool', 'refrigerated', 'frozen')),
  protect_from_light boolean not null default false,
  reorder_level integer not null default 0 constraint medicines_reorder_level_check check (reorder_level >= 0),
  reorder_quantity integer constraint medicines_reorder_quantity_check check (reorder_quantity > 0),
  max_stock_level integer constraint medicines_max_stock_level_check check (max_stock_level > 0),
  purchase_price numeric(12,2) constraint medicines_purchase_price_check check (purchase_price >= 0),
  selling_price numeric(12,2) not null default 0 constraint medicines_selling_price_check check (selling_price >= 0),
  mrp numeric(12,2) constraint medicines_mrp_check check (mrp >= 0),
  tax_configuration_id uuid,
  side_effects text,
  contraindications text,
  notes text,
  is_active boolean not null default true,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint medicines_hospital_id_id_key unique (hospital_id, id),
  constraint medicines_hospital_id_item_code_key unique (hospital_id, item_code),
  constraint medicines_tax_configuration_fkey foreign key (hospital_id, tax_configuration_id)
    references app_public.tax_configurations (hospital_id, id) on delete set null (tax_configuration_id),
  constraint medicines_strength_check check ((strength_value is null) = (strength_unit is null)),
  constraint medicines_stock_levels_check check (max_stock_level is null or max_stock_level >= reorder_level),
  constraint medicines_selling_price_mrp_check check (mrp is null or selling_price <= mrp),
  constraint medicines_deleted_check check (is_deleted = (deleted_at is not null))
);
create unique index idx_medicines__hospital_id_barcode on app_public.medicines (hospital_id, barcode)
  where barcode is not null;
create index idx_medicines__hospital_id_tax_configuration_id on app_public.medicines (hospital_id, tax_configuration_id)
  where tax_configuration_id is not null;
create index idx_medicines__hospital_id_generic_name on app_public.medicines (hospital_id, generic_name)
  where not is_deleted;
create index idx_medicines__generic_name_trgm on app_public.medicines using gin (generic_name gin_trgm_ops);
create index idx_medicines__brand_name_trgm on app_public.medicines using gin (brand_name gin_trgm_ops);
create index idx_medicines__hospital_id_therapeutic_class on app_public.medicines (hospital_id, therapeutic_class)
  where not is_deleted and therapeutic_class is not null;
comment on table app_public.medicines is
  E'A medicine of the hospital formulary: identity, form and strength, unit of count, regulatory schedule, storage, pricing and reorder levels. Stock is held per batch (medicine_batches).';
comment on column app_public.medicines.item_code is 'Pharmacy item code (SKU) unique within the hospital, 2–32 capitals, digits, _ or -.';
comment on column app_public.medicines.generic_name is 'International non-proprietary (generic) name, e.g. Amoxicillin.';
comment on column app_public.medicines.brand_name is 'Trade name as printed on the pack, e.g. Amoxil.';
comment on column app_public.medicines.manufacturer is 'Manufacturer or marketing-authorisation holder.';
comment on column app_public.medicines.dosage_form is 'tablet, capsule, syrup, suspension, injection, infusion, ointment, cream, gel, drops, inhaler, spray, patch, suppository, powder, solution or other.';
comment on column app_public.medicines.strength is E'Strength as printed, e.g. 500 mg or 250 mg/5 ml.';
comment on column app_public.medicines.strength_value is 'Numeric part of the strength (e.g. 500), for dose calculations; set together with strength_unit.';
comment on column app_public.medicines.strength_unit is E'Unit of strength_value, e.g. mg, mcg, g, IU, mg/ml, %.';
comment on column app_public.medicines.base_unit is 'Unit stock is counted, dispensed and priced in: tablet, capsule, ml, g, vial, ampoule, unit, sachet, bottle, tube, inhaler, patch, suppository or piece.';
comment on column app_public.medicines.pack_size is 'Base units in one purchase pack (e.g. 10 tablets per strip). Every quantity (stock, orders, receipts) is counted in base units; packs are for display and printing.';
comment on column app_public.medicines.route is 'Usual route of administration, proposed when prescribing: oral, sublingual, topical, inhalation, intravenous, intramuscular, subcutaneous, rectal, ophthalmic, otic, nasal or other.';
comment on column app_public.medicines.therapeutic_class is E'Therapeutic / pharmacological class, e.g. Antibiotic – penicillins.';
comment on column app_public.medicines.atc_code is 'WHO ATC code (7 characters, e.g. J01CA04).';
comment on column app_public.medicines.hsn_code is 'Customs / tax tariff code of the product (HSN, HS or CN digits) used to pick the tax rate.';
comment on column app_public.medicines.barcode is 'Barcode on the pack (GTIN/EAN/UPC or local), unique within the hospital; scanned at dispensing and receipt.';
comment on column app_public.medicines.schedule_category is 'Regulatory class, country-neutral: otc (sold without prescription), prescription_only, controlled (register kept) or narcotic (strictest control).';
comment on column app_public.medicines.regulatory_schedule is E'The local schedule as the regulator names it (e.g. H1, Schedule II, CD2), printed on labels and registers.';
comment on column app_public.medicines.requires_prescription is 'Derived: true unless the schedule is otc.';
comment on column app_public.medicines.storage_conditions is E'Storage temperature: room_temperature (15–25 °C), cool (8–15 °C), refrigerated (2–8 °C) or frozen.';
comment on column app_public.medicines.protect_from_light is 'Whether the medicine must be kept away from light.';
comment on column app_public.medicines.reorder_level is 'On-hand quantity (base units, all usable batches) at or below which a reorder alert is raised.';
comment on column app_public.medicines.reorder_quantity is 'Quantity (base units) usually ordered when reordering.';
comment on column app_public.medicines.max_stock_level is 'Quantity (base units) that should not be exceeded when ordering.';
comment on column app_public.medicines.purchase_price is 'Last purchase cost per base unit, before tax; updated from goods receipts.';
comment on column app_public.medicines.selling_price is 'Default selling price per base unit; a batch may carry its own.';
comment on column app_public.medicines.mrp is 'Maximum retail price per base unit where the law sets one; the selling price may not exceed it.';
comment on column app_public.medicines.tax_configuration_id is 'Tax rule applied when the medicine is sold (the hospital default for medicines when null).';
comment on column app_public.medicines.side_effects is 'Common side effects, for counselling.';
comment on column app_public.medicines.contraindications is 'Contraindications and major interactions, shown when prescribing.';
comment on column app_public.medicines.notes is 'Internal pharmacy notes.';
comment on column app_public.medicines.is_active is 'False when the medicine is no longer stocked or prescribed; history stays.';

create trigger _100_stamp before insert or update on app_public.medicines
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.medicines
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * A batch (lot) of a medicine received into the pharmacy: its expiry, cost and prices, where it
 * sits, and how many base units are left. `quantity_on_hand` is the ledger balance — stock
 * movements keep it, the CHECK keeps it from going negative, and clients never write it.
 * Dispensing picks batches first-expiry-first-out, so the hot path is "usable batches of this
 * medicine by expiry" (partial index). `unique (hospital_id, medicine_id, id)` lets dispensing
 * and return lines prove that the batch they name belongs to the medicine they name.
 */
create table app_public.medicine_batches (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  medicine_id uuid not null,
  batch_number text not null constraint medicine_batches_batch_number_check check (length(trim(batch_number)) between 1 and 64),
  manufacture_date date,
  expiry_date date not null,
  quantity_received integer not null default 0 constraint medicine_batches_quantity_received_check check (quantity_received >= 0),
  quantity_on_hand integer not null default 0 constraint medicine_batches_quantity_on_hand_check check (quantity_on_hand >= 0),
  unit_cost numeric(12,2) not null default 0 constraint medicine_batches_unit_cost_check check (unit_cost >= 0),
  mrp numeric(12,2) constraint medicine_batches_mrp_check check (mrp >= 0),
  selling_price numeric(12,2) constraint medicine_batches_selling_price_check check (selling_price >= 0),
  received_at timestamptz not null default now(),
  storage_location text,
  status text not null default 'active'
    constraint medicine_batches_status_check check (status in ('active', 'quarantined', 'expired', 'recalled', 'depleted')),
  recall_reference text,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint medicine_batches_hospital_id_id_key unique (hospital_id, id),
  constraint medicine_batches_hospital_id_medicine_id_id_key unique (hospital_id, medicine_id, id),
  constraint medicine_batches_hospital_id_medicine_id_batch_number_key unique (hospital_id, medicine_id, batch_number),
  constraint medicine_batches_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint medicine_batches_dates_check check (manufacture_date is null or expiry_date > manufacture_date),
  constraint medicine_batches_selling_price_mrp_check check (mrp is null or selling_price is null or selling_price <= mrp),
  constraint medicine_batches_recall_check check (status <> 'recalled' or recall_reference is not null)
);
create index idx_medicine_batches__hospital_id_medicine_id_expiry_date on app_public.medicine_batches (hospital_id, medicine_id, expiry_date)
  where quantity_on_hand > 0;
create index idx_medicine_batches__hospital_id_expiry_date on app_public.medicine_batches (hospital_id, expiry_date)
  where quantity_on_hand > 0;
comment on table app_public.medicine_batches is
  E'A batch (lot) of a medicine in the pharmacy: batch number, expiry, cost and prices, location, status and the quantity left (in the medicine\'s base unit).';
comment on column app_public.medicine_batches.medicine_id is 'The medicine this batch is of.';
comment on column app_public.medicine_batches.batch_number is E'Manufacturer\'s batch / lot number as printed on the pack; unique per medicine.';
comment on column app_public.medicine_batches.manufacture_date is 'Date of manufacture printed on the pack.';
comment on column app_public.medicine_batches.expiry_date is 'Expiry date printed on the pack (after the date of manufacture); expired batches are never dispensed.';
comment on column app_public.medicine_batches.quantity_received is 'Base units received when the batch was booked in.';
comment on column app_public.medicine_batches.quantity_on_hand is 'Base units left (never negative). Maintained by stock movements; never written by clients.';
comment on column app_public.medicine_batches.unit_cost is 'Purchase cost per base unit, before tax (stock valuation and margins).';
comment on column app_public.medicine_batches.mrp is 'Maximum retail price per base unit printed on this batch, where the law sets one.';
comment on column app_public.medicine_batches.selling_price is E'Selling price per base unit for this batch (the medicine\'s selling_price when null).';
comment on column app_public.medicine_batches.received_at is 'When the batch was received into stock.';
comment on column app_public.medicine_batches.storage_location is 'Where the batch is kept: store, rack and bin, or the fridge.';
comment on column app_public.medicine_batches.status is 'active (dispensable), quarantined (held for inspection), expired, recalled (withdrawn by manufacturer or regulator) or depleted (nothing left).';
comment on column app_public.medicine_batches.recall_reference is 'Reference of the recall notice; required when the status is recalled.';
comment on column app_public.medicine_batches.notes is 'Notes, e.g. the reason for a quarantine.';

create trigger _100_stamp before insert or update on app_public.medicine_batches
  for each row execute function app_hidden.tg__stamp();

--! split: 2100-prescriptions.sql
/*
 * Prescriptions — what a doctor orders for a patient, usually during an appointment: the
 * diagnosis, the medicines line by line (dose, frequency, route, duration, quantity), advice and
 * follow-up. The pharmacy dispenses against the lines (2300), which is why each line tracks how
 * much of it has been dispensed.
 *
 * A prescription is written as a draft and finalized; once finalized it is a legal document, so
 * changes made afterwards raise `version` and the previous state is kept as a snapshot in
 * `prescription_versions` (written by a trigger of a later issue; append-only). Doctors reuse
 * their usual regimens through `prescription_templates`.
 */

/*
 * The prescription header: who, when, why (diagnosis with ICD-10 codes), its workflow state and
 * the current version. Lines are in prescription_items.
 */
create table app_public.prescriptions (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  prescription_number text not null,
  patient_id uuid not null,
  doctor_id uuid not null,
  appointment_id uuid,
  prescribed_at timestamptz not null default now(),
  status text not null default 'draft'
    constraint prescriptions_status_check check (status in ('draft', 'finalized', 'partially_dispensed', 'dispensed', 'cancelled', 'expired')),
  version integer not null default 1 constraint prescriptions_version_check check (version >= 1),
  diagnosis text,
  diagnosis_codes text[] not null default '{}'
    constraint prescriptions_diagnosis_codes_check check (array_to_string(diagnosis_codes, ',', '?') ~ '^([A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?(,|$))*$'),
  chief_complaint text,
  clinical_notes text,
  advice text,
  follow_up_date date,
  valid_until date,
  finalized_at timestamptz,
  finalized_by uuid references app_public.users (id) on delete restrict,
  cancelled_at timestamptz,
  cancelled_by uuid references app_public.users (id) on delete restrict,
  cancellation_reason text,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint prescriptions_hospital_id_id_key unique (hospital_id, id),
  constraint prescriptions_hospital_id_prescription_number_key unique (hospital_id, prescription_number),
  constraint prescriptions_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint prescriptions_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete restrict,
  constraint prescriptions_appointment_fkey foreign key (hospital_id, appointment_id)
    references app_public.appointments (hospital_id, id) on delete set null (appointment_id),
  constraint prescriptions_finalized_check check (status in ('draft', 'cancelled') or finalized_at is not null),
  constraint prescriptions_cancelled_check check ((status = 'cancelled') = (cancelled_at is not null)),
  constraint prescriptions_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_prescriptions__hospital_id_patient_id_prescribed_at on app_public.prescriptions (hospital_id, patient_id, prescribed_at desc);
create index idx_prescriptions__hospital_id_doctor_id_prescribed_at on app_public.prescriptions (hospital_id, doctor_id, prescribed_at desc);
create index idx_prescriptions__hospital_id_appointment_id on app_public.prescriptions (hospital_id, appointment_id)
  where appointment_id is not null;
create index idx_prescriptions__hospital_id_prescribed_at on app_public.prescriptions (hospital_id, prescribed_at desc)
  where not is_deleted;
create index idx_prescriptions__hospital_id_status_prescribed_at on app_public.prescriptions (hospital_id, status, prescribed_at)
  where not is_deleted and status in ('finalized', 'partially_dispensed');
create index idx_prescriptions__finalized_by on app_public.prescriptions (finalized_by) where finalized_by is not null;
create index idx_prescriptions__cancelled_by on app_public.prescriptions (cancelled_by) where cancelled_by is not null;
comment on table app_public.prescriptions is
  E'A prescription written by a doctor for a patient: diagnosis, advice, follow-up, workflow state and current version. Its medicines are prescription_items.';
comment on column app_public.prescriptions.prescription_number is 'Human-readable number from id_sequences (document type ''prescription''), e.g. RX-NY-2026-000042-K.';
comment on column app_public.prescriptions.patient_id is 'The patient the prescription is for.';
comment on column app_public.prescriptions.doctor_id is 'The prescribing doctor.';
comment on column app_public.prescriptions.appointment_id is 'The consultation it was written in, if any.';
comment on column app_public.prescriptions.prescribed_at is 'When the prescription was written (date printed on it).';
comment on column app_public.prescriptions.status is 'draft (being written), finalized (signed, dispensable), partially_dispensed, dispensed, cancelled or expired (validity passed).';
comment on column app_public.prescriptions.version is 'Current version, 1 at creation; raised on each change after finalization, the previous state being kept in prescription_versions.';
comment on column app_public.prescriptions.diagnosis is 'Diagnosis as written by the doctor.';
comment on column app_public.prescriptions.diagnosis_codes is 'ICD-10 codes of the diagnosis, e.g. {J06.9,E11.9}.';
comment on column app_public.prescriptions.chief_complaint is 'Presenting complaint in the patient''s words.';
comment on column app_public.prescriptions.clinical_notes is 'Findings and notes of the examination.';
comment on column app_public.prescriptions.advice is 'Advice to the patient (diet, rest, precautions), printed on the prescription.';
comment on column app_public.prescriptions.follow_up_date is 'Day the patient should come back.';
comment on column app_public.prescriptions.valid_until is 'Last day the prescription may be dispensed (from the hospital''s prescription_validity_days unless the doctor sets it).';
comment on column app_public.prescriptions.finalized_at is 'When the doctor signed the prescription; required once it leaves draft (except cancelled drafts).';
comment on column app_public.prescriptions.finalized_by is 'User who finalized (signed) the prescription.';
comment on column app_public.prescriptions.cancelled_at is 'When the prescription was cancelled; set exactly when the status is cancelled.';
comment on column app_public.prescriptions.cancelled_by is 'User who cancelled the prescription.';
comment on column app_public.prescriptions.cancellation_reason is 'Why the prescription was cancelled.';
comment on column app_public.prescriptions.notes is 'Internal notes, not printed.';

create trigger _100_stamp before insert or update on app_public.prescriptions
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.prescriptions
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * One medicine line of a prescription. Usually it names a formulary medicine, but a doctor may
 * prescribe something the hospital does not stock, so `drug_name` always keeps the drug as
 * written and `medicine_id` is optional. Dose and frequency are kept both as written (printed)
 * and as numbers (for quantity calculation and checks). `quantity_dispensed` is raised by
 * dispensing and can never exceed what was prescribed.
 */
create table app_public.prescription_items (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  prescription_id uuid not null,
  line_number integer not null constraint prescription_items_line_number_check check (line_number between 1 and 999),
  medicine_id uuid,
  drug_name text not null constraint prescription_items_drug_name_check check (length(trim(drug_name)) between 2 and 200),
  dose text,
  dose_quantity numeric(10,3) constraint prescription_items_dose_quantity_check check (dose_quantity > 0),
  dose_unit text,
  frequency text,
  frequency_per_day numeric(6,3) constraint prescription_items_frequency_per_day_check check (frequency_per_day > 0 and frequency_per_day <= 48),
  route text not null default 'oral'
    constraint prescription_items_route_check check (route in ('oral', 'sublingual', 'topical', 'inhalation', 'intravenous', 'intramuscular', 'subcutaneous', 'rectal', 'ophthalmic', 'otic', 'nasal', 'other')),
  duration_days integer constraint prescription_items_duration_days_check check (duration_days between 1 and 3650),
  quantity_prescribed integer not null constraint prescription_items_quantity_prescribed_check check (quantity_prescribed > 0),
  quantity_dispensed integer not null default 0 constraint prescription_items_quantity_dispensed_check check (quantity_dispensed >= 0),
  timing text not null default 'any'
    constraint prescription_items_timing_check check (timing in ('before_food', 'after_food', 'with_food', 'empty_stomach', 'bedtime', 'any')),
  instructions text,
  is_prn boolean not null default false,
  substitution_allowed boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint prescription_items_hospital_id_id_key unique (hospital_id, id),
  constraint prescription_items_hospital_id_prescription_id_line_number_key unique (hospital_id, prescription_id, line_number),
  constraint prescription_items_prescription_fkey foreign key (hospital_id, prescription_id)
    references app_public.prescriptions (hospital_id, id) on delete cascade,
  constraint prescription_items_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint prescription_items_dose_check check ((dose_quantity is null) = (dose_unit is null)),
  constraint prescription_items_dispensed_check check (quantity_dispensed <= quantity_prescribed)
);
create index idx_prescription_items__hospital_id_medicine_id on app_public.prescription_items (hospital_id, medicine_id)
  where medicine_id is not null;
comment on table app_public.prescription_items is
  E'One medicine line of a prescription: the drug as written, dose, frequency, route, duration, quantity, timing and instructions, and how much has been dispensed.';
comment on column app_public.prescription_items.prescription_id is 'The prescription this line belongs to (deleted with it).';
comment on column app_public.prescription_items.line_number is 'Position of the line on the prescription (1, 2, …), unique within it.';
comment on column app_public.prescription_items.medicine_id is 'Formulary medicine prescribed; null for a drug the hospital does not stock.';
comment on column app_public.prescription_items.drug_name is 'Drug as written and printed (name, form and strength), e.g. Amoxicillin 500 mg capsule.';
comment on column app_public.prescription_items.dose is E'Dose as written, e.g. 500 mg or 1 tablet.';
comment on column app_public.prescription_items.dose_quantity is 'Numeric dose per administration (e.g. 500, 1); set together with dose_unit.';
comment on column app_public.prescription_items.dose_unit is E'Unit of dose_quantity, e.g. mg, ml, tablet, puff, drop, IU.';
comment on column app_public.prescription_items.frequency is E'Frequency as written, e.g. TID, 1-0-1, every 8 hours.';
comment on column app_public.prescription_items.frequency_per_day is 'Administrations per day (e.g. 3 for TID, 0.143 for once weekly), for quantity calculation.';
comment on column app_public.prescription_items.route is 'oral, sublingual, topical, inhalation, intravenous, intramuscular, subcutaneous, rectal, ophthalmic, otic, nasal or other.';
comment on column app_public.prescription_items.duration_days is 'Treatment length in days (null for long-term or as-needed use).';
comment on column app_public.prescription_items.quantity_prescribed is 'Quantity to dispense, in the medicine''s base unit (e.g. 15 tablets); more than zero.';
comment on column app_public.prescription_items.quantity_dispensed is 'Quantity dispensed so far (base units), kept by dispensing; never more than prescribed.';
comment on column app_public.prescription_items.timing is 'When to take it relative to meals: before_food, after_food, with_food, empty_stomach, bedtime or any.';
comment on column app_public.prescription_items.instructions is 'Additional instructions printed for the patient (e.g. stop if rash appears).';
comment on column app_public.prescription_items.is_prn is 'Taken only when needed (pro re nata), e.g. for pain or fever.';
comment on column app_public.prescription_items.substitution_allowed is 'Whether the pharmacy may dispense another brand of the same generic.';

create trigger _100_stamp before insert or update on app_public.prescription_items
  for each row execute function app_hidden.tg__stamp();

/*
 * Reusable regimens ("URTI adult", "Type 2 diabetes starter"): a doctor's own templates, or
 * hospital-/department-wide ones when doctor_id is null. The lines are a JSON array in the shape
 * of prescription_items so that applying a template is one insert … select; a name is unique per
 * owner (doctor, or the hospital for shared ones).
 */
create table app_public.prescription_templates (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  name text not null constraint prescription_templates_name_check check (length(trim(name)) between 2 and 120),
  doctor_id uuid,
  department_id uuid,
  diagnosis text,
  diagnosis_codes text[] not null default '{}'
    constraint prescription_templates_diagnosis_codes_check check (array_to_string(diagnosis_codes, ',', '?') ~ '^([A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?(,|$))*$'),
  description text,
  items jsonb not null default '[]'::jsonb
    constraint prescription_templates_items_check check (jsonb_typeof(items) = 'array'),
  advice text,
  is_shared boolean not null default false,
  is_active boolean not null default true,
  usage_count integer not null default 0 constraint prescription_templates_usage_count_check check (usage_count >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint prescription_templates_hospital_id_id_key unique (hospital_id, id),
  constraint prescription_templates_hospital_id_doctor_id_name_key unique nulls not distinct (hospital_id, doctor_id, name),
  constraint prescription_templates_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete restrict,
  constraint prescription_templates_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete restrict
);
create index idx_prescription_templates__hospital_id_department_id on app_public.prescription_templates (hospital_id, department_id)
  where department_id is not null;
comment on table app_public.prescription_templates is
  E'A reusable prescription (diagnosis, medicine lines, advice) owned by a doctor, or hospital-/department-wide when doctor_id is null.';
comment on column app_public.prescription_templates.name is 'Template name shown in the picker, unique per owner, e.g. URTI adult.';
comment on column app_public.prescription_templates.doctor_id is 'Doctor who owns the template; null for a hospital-wide template.';
comment on column app_public.prescription_templates.department_id is 'Department the template is meant for (offered first to its doctors), if any.';
comment on column app_public.prescription_templates.diagnosis is 'Diagnosis the template fills in.';
comment on column app_public.prescription_templates.diagnosis_codes is 'ICD-10 codes the template fills in, e.g. {J06.9}.';
comment on column app_public.prescription_templates.description is 'When to use the template.';
comment on column app_public.prescription_templates.items is E'Medicine lines as a JSON array of objects shaped like prescription_items, e.g. [{"medicine_id":"…","drug_name":"Paracetamol 500 mg tablet","dose":"1 tablet","frequency":"TID","route":"oral","duration_days":3,"quantity_prescribed":9,"timing":"after_food"}].';
comment on column app_public.prescription_templates.advice is 'Advice the template fills in.';
comment on column app_public.prescription_templates.is_shared is 'Whether other doctors of the hospital may use a personal template.';
comment on column app_public.prescription_templates.is_active is 'False to hide the template from the picker.';
comment on column app_public.prescription_templates.usage_count is 'How many prescriptions were started from the template (sorts the picker).';

create trigger _100_stamp before insert or update on app_public.prescription_templates
  for each row execute function app_hidden.tg__stamp();

/*
 * History of a prescription after finalization: each row is the whole prescription with its
 * lines as it was at one version, with who changed it and why. Append-only: rows are inserted by
 * the versioning trigger of a later issue and never updated or deleted (they go only with their
 * prescription).
 */
create table app_public.prescription_versions (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  prescription_id uuid not null,
  version integer not null constraint prescription_versions_version_check check (version >= 1),
  snapshot jsonb not null constraint prescription_versions_snapshot_check check (jsonb_typeof(snapshot) = 'object'),
  change_reason text,
  changed_at timestamptz not null default now(),
  changed_by uuid references app_public.users (id) on delete restrict,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint prescription_versions_hospital_id_id_key unique (hospital_id, id),
  constraint prescription_versions_hospital_id_prescription_id_version_key unique (hospital_id, prescription_id, version),
  constraint prescription_versions_prescription_fkey foreign key (hospital_id, prescription_id)
    references app_public.prescriptions (hospital_id, id) on delete cascade
);
create index idx_prescription_versions__changed_by on app_public.prescription_versions (changed_by) where changed_by is not null;
comment on table app_public.prescription_versions is
  E'Append-only history of a prescription: one snapshot (header and lines) per version, with the reason and author of the change.';
comment on column app_public.prescription_versions.prescription_id is 'The prescription this is a version of.';
comment on column app_public.prescription_versions.version is 'Version number the snapshot shows, unique per prescription.';
comment on column app_public.prescription_versions.snapshot is 'The whole prescription at that version as a JSON object, with its lines under "items".';
comment on column app_public.prescription_versions.change_reason is 'Why the prescription was changed (e.g. dose corrected after pharmacist query).';
comment on column app_public.prescription_versions.changed_at is 'When the change was made.';
comment on column app_public.prescription_versions.changed_by is 'User who made the change.';

create trigger _100_stamp before insert or update on app_public.prescription_versions
  for each row execute function app_hidden.tg__stamp();

--! split: 2200-lab.sql
/*
 * Laboratory and imaging orders. One row is one test (or one panel) ordered for a patient and
 * follows it through the lab: ordered → sample collected → in progress → completed (results
 * entered) → reported (verified and released), or cancelled. The row carries the result too:
 * a single value with unit, reference range and flag for simple tests, and `results` (a JSON
 * array of analytes) for panels such as a complete blood count.
 *
 * Orders come from a doctor of the hospital (usually during an appointment or with a
 * prescription) or, for walk-in diagnostics, from an outside physician named in
 * `referring_physician`. Critical values must be phoned through and the call documented
 * (`critical_notified_at`, `critical_notified_to`). Billing (3000) links invoice lines to orders.
 */
create table app_public.lab_orders (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  order_number text not null,
  patient_id uuid not null,
  doctor_id uuid,
  referring_physician text,
  appointment_id uuid,
  prescription_id uuid,
  department_id uuid,
  test_code text constraint lab_orders_test_code_check check (test_code ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
  test_name text not null constraint lab_orders_test_name_check check (length(trim(test_name)) between 2 and 200),
  test_category text not null
    constraint lab_orders_test_category_check check (test_category in ('hematology', 'biochemistry', 'microbiology', 'pathology', 'radiology', 'immunology', 'serology', 'urinalysis', 'molecular', 'other')),
  specimen_type text
    constraint lab_orders_specimen_type_check check (specimen_type in ('blood', 'urine', 'stool', 'sputum', 'swab', 'tissue', 'csf', 'other')),
  priority text not null default 'routine'
    constraint lab_orders_priority_check check (priority in ('routine', 'urgent', 'stat')),
  status text not null default 'ordered'
    constraint lab_orders_status_check check (status in ('ordered', 'sample_collected', 'in_progress', 'completed', 'reported', 'cancelled')),
  clinical_notes text,
  ordered_at timestamptz not null default now(),
  sample_collected_at timestamptz,
  sample_collected_by uuid references app_public.users (id) on delete restrict,
  sample_barcode text constraint lab_orders_sample_barcode_check check (sample_barcode ~ '^[0-9A-Za-z-]{4,48}$'),
  started_at timestamptz,
  completed_at timestamptz,
  performed_by uuid references app_public.users (id) on delete restrict,
  reported_at timestamptz,
  reported_by uuid references app_public.users (id) on delete restrict,
  result_value text,
  result_unit text,
  reference_range text,
  result_flag text
    constraint lab_orders_result_flag_check check (result_flag in ('normal', 'low', 'high', 'critical_low', 'critical_high', 'abnormal')),
  results jsonb not null default '[]'::jsonb
    constraint lab_orders_results_check check (jsonb_typeof(results) = 'array'),
  result_notes text,
  interpretation text,
  report_url text,
  is_critical boolean not null default false,
  critical_notified_at timestamptz,
  critical_notified_to text,
  cancelled_at timestamptz,
  cancelled_by uuid references app_public.users (id) on delete restrict,
  cancellation_reason text,
  price numeric(12,2) not null default 0 constraint lab_orders_price_check check (price >= 0),
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint lab_orders_hospital_id_id_key unique (hospital_id, id),
  constraint lab_orders_hospital_id_order_number_key unique (hospital_id, order_number),
  constraint lab_orders_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint lab_orders_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete restrict,
  constraint lab_orders_appointment_fkey foreign key (hospital_id, appointment_id)
    references app_public.appointments (hospital_id, id) on delete set null (appointment_id),
  constraint lab_orders_prescription_fkey foreign key (hospital_id, prescription_id)
    references app_public.prescriptions (hospital_id, id) on delete set null (prescription_id),
  constraint lab_orders_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete set null (department_id),
  constraint lab_orders_orderer_check check (doctor_id is not null or referring_physician is not null),
  constraint lab_orders_collected_check check (status in ('ordered', 'cancelled') or sample_collected_at is not null or specimen_type is null),
  constraint lab_orders_completed_check check (completed_at is null or started_at is null or completed_at >= started_at),
  constraint lab_orders_reported_check check (status <> 'reported' or reported_at is not null),
  constraint lab_orders_report_order_check check (reported_at is null or completed_at is null or reported_at >= completed_at),
  constraint lab_orders_critical_notified_check check (critical_notified_at is null or is_critical),
  constraint lab_orders_cancelled_check check ((status = 'cancelled') = (cancelled_at is not null)),
  constraint lab_orders_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_lab_orders__hospital_id_status_priority_ordered_at on app_public.lab_orders (hospital_id, status, priority, ordered_at)
  where not is_deleted;
create index idx_lab_orders__hospital_id_patient_id_ordered_at on app_public.lab_orders (hospital_id, patient_id, ordered_at desc);
create index idx_lab_orders__hospital_id_doctor_id_ordered_at on app_public.lab_orders (hospital_id, doctor_id, ordered_at desc)
  where doctor_id is not null;
create index idx_lab_orders__hospital_id_appointment_id on app_public.lab_orders (hospital_id, appointment_id)
  where appointment_id is not null;
create index idx_lab_orders__hospital_id_prescription_id on app_public.lab_orders (hospital_id, prescription_id)
  where prescription_id is not null;
create index idx_lab_orders__hospital_id_department_id on app_public.lab_orders (hospital_id, department_id)
  where department_id is not null;
create unique index idx_lab_orders__hospital_id_sample_barcode on app_public.lab_orders (hospital_id, sample_barcode)
  where sample_barcode is not null;
create index idx_lab_orders__hospital_id_reported_at_critical on app_public.lab_orders (hospital_id, reported_at)
  where is_critical and critical_notified_at is null and not is_deleted;
create index idx_lab_orders__sample_collected_by on app_public.lab_orders (sample_collected_by) where sample_collected_by is not null;
create index idx_lab_orders__performed_by on app_public.lab_orders (performed_by) where performed_by is not null;
create index idx_lab_orders__reported_by on app_public.lab_orders (reported_by) where reported_by is not null;
create index idx_lab_orders__cancelled_by on app_public.lab_orders (cancelled_by) where cancelled_by is not null;
comment on table app_public.lab_orders is
  E'A laboratory or imaging test ordered for a patient, followed from order through sample collection and processing to the released report, with its results.';
comment on column app_public.lab_orders.order_number is 'Human-readable number from id_sequences (document type ''lab_order''), e.g. LAB-NY-2026-000042-K.';
comment on column app_public.lab_orders.patient_id is 'The patient tested.';
comment on column app_public.lab_orders.doctor_id is 'Ordering doctor of the hospital; null for an outside referral (see referring_physician).';
comment on column app_public.lab_orders.referring_physician is 'Outside physician (name, registration, clinic) who referred the patient; required when doctor_id is null.';
comment on column app_public.lab_orders.appointment_id is 'Consultation the test was ordered in, if any.';
comment on column app_public.lab_orders.prescription_id is 'Prescription the test was ordered with, if any.';
comment on column app_public.lab_orders.department_id is 'Lab department performing the test (e.g. Pathology, Radiology).';
comment on column app_public.lab_orders.test_code is 'Code of the test in the lab catalogue or LOINC, e.g. CBC or 2345-7.';
comment on column app_public.lab_orders.test_name is 'Test name as printed on the report, e.g. Complete blood count.';
comment on column app_public.lab_orders.test_category is 'hematology, biochemistry, microbiology, pathology, radiology, immunology, serology, urinalysis, molecular or other.';
comment on column app_public.lab_orders.specimen_type is 'Specimen needed: blood, urine, stool, sputum, swab, tissue, csf or other; null when none (imaging).';
comment on column app_public.lab_orders.priority is 'routine, urgent or stat (immediately).';
comment on column app_public.lab_orders.status is 'ordered, sample_collected, in_progress, completed (results entered), reported (verified and released) or cancelled.';
comment on column app_public.lab_orders.clinical_notes is 'Clinical information for the lab from the ordering doctor (indication, medication, fasting).';
comment on column app_public.lab_orders.ordered_at is 'When the test was ordered.';
comment on column app_public.lab_orders.sample_collected_at is 'When the specimen was collected; required past collection for tests that need one.';
comment on column app_public.lab_orders.sample_collected_by is 'User (phlebotomist, nurse) who collected the specimen.';
comment on column app_public.lab_orders.sample_barcode is 'Barcode on the specimen container, unique within the hospital.';
comment on column app_public.lab_orders.started_at is 'When processing started.';
comment on column app_public.lab_orders.completed_at is 'When results were entered.';
comment on column app_public.lab_orders.performed_by is 'User (lab technician, radiographer) who performed the test.';
comment on column app_public.lab_orders.reported_at is 'When the report was verified and released; required when the status is reported.';
comment on column app_public.lab_orders.reported_by is 'User (pathologist, radiologist) who verified and released the report.';
comment on column app_public.lab_orders.result_value is 'Result of a single-value test as reported, e.g. 13.5 or Positive.';
comment on column app_public.lab_orders.result_unit is E'Unit of result_value, e.g. g/dL.';
comment on column app_public.lab_orders.reference_range is E'Reference range printed with the result, e.g. 13.0–17.0.';
comment on column app_public.lab_orders.result_flag is 'Flag of the (overall) result: normal, low, high, critical_low, critical_high or abnormal.';
comment on column app_public.lab_orders.results is E'Panel results as a JSON array, e.g. [{"analyte":"Hemoglobin","value":"13.5","unit":"g/dL","reference_range":"13.0–17.0","flag":"normal"}].';
comment on column app_public.lab_orders.result_notes is 'Technician remarks on the sample or the run (e.g. haemolysed sample).';
comment on column app_public.lab_orders.interpretation is 'Interpretation or impression of the reporting pathologist or radiologist.';
comment on column app_public.lab_orders.report_url is 'Location of the signed report document (PDF, images).';
comment on column app_public.lab_orders.is_critical is 'Whether the result is a critical (panic) value that must be notified at once.';
comment on column app_public.lab_orders.critical_notified_at is 'When the critical result was communicated to the clinician.';
comment on column app_public.lab_orders.critical_notified_to is 'Who received the critical result notification (name and role, read back).';
comment on column app_public.lab_orders.cancelled_at is 'When the order was cancelled; set exactly when the status is cancelled.';
comment on column app_public.lab_orders.cancelled_by is 'User who cancelled the order.';
comment on column app_public.lab_orders.cancellation_reason is 'Why the order was cancelled (e.g. sample rejected, patient left).';
comment on column app_public.lab_orders.price is 'Price charged for the test, copied to the invoice.';

create trigger _100_stamp before insert or update on app_public.lab_orders
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.lab_orders
  for each row execute function app_hidden.tg__soft_delete_stamp();

--! split: 2300-pharmacy.sql
/*
 * Pharmacy — medicines leaving the shelves and coming back.
 *
 * A dispensing is one handover at the counter (or to a ward): against a prescription of the
 * hospital, against an outside prescription, or as an over-the-counter sale to a walk-in
 * customer who need not be a registered patient. Each line names the exact batch taken, so a
 * recall can find every patient who received it; completing a dispensing writes the stock
 * movements (−) that lower the batches, first expiry first out, and raises the prescription
 * lines' quantity_dispensed (triggers of later issues). Amounts on the header are totals of the
 * lines, also kept by triggers.
 *
 * A return brings dispensed units back (adverse reaction, wrong medicine, excess…). Its lines
 * point at the dispensing lines they reverse, so nobody can return more than was handed out;
 * resalable units are restocked (+ movements), the others are written off.
 *
 * Batch references are composite with the medicine: `(hospital_id, medicine_id, batch_id)` must
 * be a batch of that medicine, so a line can never say one drug and take stock from another.
 */

/*
 * The dispensing header: who received the medicines (patient, or a named walk-in customer),
 * against which prescription, who dispensed them and the amounts.
 */
create table app_public.pharmacy_dispensing (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  dispensing_number text not null,
  patient_id uuid,
  customer_name text,
  customer_phone text constraint pharmacy_dispensing_customer_phone_check check (customer_phone ~ '^\+?[0-9 ()./-]{6,24}$'),
  prescription_id uuid,
  external_prescriber text,
  dispensing_type text not null default 'prescription'
    constraint pharmacy_dispensing_dispensing_type_check check (dispensing_type in ('prescription', 'otc', 'inpatient', 'emergency')),
  status text not null default 'draft'
    constraint pharmacy_dispensing_status_check check (status in ('draft', 'completed', 'partially_dispensed', 'cancelled')),
  dispensed_at timestamptz,
  dispensed_by uuid references app_public.users (id) on delete restrict,
  total_amount numeric(12,2) not null default 0 constraint pharmacy_dispensing_total_amount_check check (total_amount >= 0),
  discount_amount numeric(12,2) not null default 0 constraint pharmacy_dispensing_discount_amount_check check (discount_amount >= 0),
  tax_amount numeric(12,2) not null default 0 constraint pharmacy_dispensing_tax_amount_check check (tax_amount >= 0),
  net_amount numeric(12,2) not null default 0 constraint pharmacy_dispensing_net_amount_check check (net_amount >= 0),
  notes text,
  counselling_notes text,
  cancelled_at timestamptz,
  cancelled_by uuid references app_public.users (id) on delete restrict,
  cancellation_reason text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint pharmacy_dispensing_hospital_id_id_key unique (hospital_id, id),
  constraint pharmacy_dispensing_hospital_id_dispensing_number_key unique (hospital_id, dispensing_number),
  constraint pharmacy_dispensing_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint pharmacy_dispensing_prescription_fkey foreign key (hospital_id, prescription_id)
    references app_public.prescriptions (hospital_id, id) on delete restrict,
  constraint pharmacy_dispensing_recipient_check check (patient_id is not null or customer_name is not null),
  constraint pharmacy_dispensing_prescription_check check (dispensing_type <> 'prescription' or prescription_id is not null or external_prescriber is not null),
  constraint pharmacy_dispensing_discount_check check (discount_amount <= total_amount),
  constraint pharmacy_dispensing_dispensed_check check (status not in ('completed', 'partially_dispensed') or dispensed_at is not null),
  constraint pharmacy_dispensing_cancelled_check check ((status = 'cancelled') = (cancelled_at is not null)),
  constraint pharmacy_dispensing_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_pharmacy_dispensing__hospital_id_patient_id_dispensed_at on app_public.pharmacy_dispensing (hospital_id, patient_id, dispensed_at desc)
  where patient_id is not null;
create index idx_pharmacy_dispensing__hospital_id_prescription_id on app_public.pharmacy_dispensing (hospital_id, prescription_id)
  where prescription_id is not null;
create index idx_pharmacy_dispensing__hospital_id_dispensed_at on app_public.pharmacy_dispensing (hospital_id, dispensed_at desc)
  where not is_deleted;
create index idx_pharmacy_dispensing__hospital_id_created_at_draft on app_public.pharmacy_dispensing (hospital_id, created_at)
  where status = 'draft' and not is_deleted;
create index idx_pharmacy_dispensing__dispensed_by on app_public.pharmacy_dispensing (dispensed_by) where dispensed_by is not null;
create index idx_pharmacy_dispensing__cancelled_by on app_public.pharmacy_dispensing (cancelled_by) where cancelled_by is not null;
comment on table app_public.pharmacy_dispensing is
  E'A handover of medicines by the pharmacy — against a prescription, over the counter, to a ward or in an emergency — with its amounts. Lines are pharmacy_dispensing_items.';
comment on column app_public.pharmacy_dispensing.dispensing_number is 'Human-readable number from id_sequences (document type ''dispensing''), e.g. DSP-NY-2026-000042-K.';
comment on column app_public.pharmacy_dispensing.patient_id is 'Registered patient who received the medicines; null for a walk-in over-the-counter customer.';
comment on column app_public.pharmacy_dispensing.customer_name is 'Name of a walk-in customer (required when there is no patient) or of the person collecting.';
comment on column app_public.pharmacy_dispensing.customer_phone is 'Phone of a walk-in customer, for recalls.';
comment on column app_public.pharmacy_dispensing.prescription_id is 'Prescription of the hospital dispensed against, if any.';
comment on column app_public.pharmacy_dispensing.external_prescriber is 'Prescriber (name, registration number) of an outside prescription, when prescription_id is null.';
comment on column app_public.pharmacy_dispensing.dispensing_type is 'prescription (needs a prescription of the hospital or an external prescriber), otc (over the counter), inpatient (ward issue) or emergency.';
comment on column app_public.pharmacy_dispensing.status is 'draft (being prepared), completed, partially_dispensed (some prescribed lines short) or cancelled.';
comment on column app_public.pharmacy_dispensing.dispensed_at is 'When the medicines were handed over; set once the dispensing is completed or partially dispensed.';
comment on column app_public.pharmacy_dispensing.dispensed_by is 'Pharmacist who handed the medicines over.';
comment on column app_public.pharmacy_dispensing.total_amount is 'Sum of the lines before discount and tax. Maintained by triggers from the lines.';
comment on column app_public.pharmacy_dispensing.discount_amount is 'Total discount given (never more than total_amount). Maintained by triggers from the lines.';
comment on column app_public.pharmacy_dispensing.tax_amount is 'Total tax of the lines. Maintained by triggers from the lines.';
comment on column app_public.pharmacy_dispensing.net_amount is 'Amount payable: total − discount + tax. Maintained by triggers from the lines.';
comment on column app_public.pharmacy_dispensing.notes is 'Internal notes (e.g. substitution agreed with the doctor).';
comment on column app_public.pharmacy_dispensing.counselling_notes is 'What the pharmacist told the patient (how to take, side effects, storage).';
comment on column app_public.pharmacy_dispensing.cancelled_at is 'When the dispensing was cancelled; set exactly when the status is cancelled.';
comment on column app_public.pharmacy_dispensing.cancelled_by is 'User who cancelled the dispensing.';
comment on column app_public.pharmacy_dispensing.cancellation_reason is 'Why the dispensing was cancelled.';

create trigger _100_stamp before insert or update on app_public.pharmacy_dispensing
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.pharmacy_dispensing
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * One line of a dispensing: a quantity of one batch of one medicine, its price, discount and
 * tax (rates copied at the time of sale), and the label printed for the patient. When it fills
 * a prescription line it names it. quantity_returned is raised by completed returns.
 */
create table app_public.pharmacy_dispensing_items (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  dispensing_id uuid not null,
  prescription_item_id uuid,
  medicine_id uuid not null,
  batch_id uuid not null,
  quantity integer not null constraint pharmacy_dispensing_items_quantity_check check (quantity > 0),
  quantity_returned integer not null default 0 constraint pharmacy_dispensing_items_quantity_returned_check check (quantity_returned >= 0),
  unit_price numeric(12,2) not null constraint pharmacy_dispensing_items_unit_price_check check (unit_price >= 0),
  discount_percent numeric(5,2) not null default 0
    constraint pharmacy_dispensing_items_discount_percent_check check (discount_percent between 0 and 100),
  discount_amount numeric(12,2) not null default 0 constraint pharmacy_dispensing_items_discount_amount_check check (discount_amount >= 0),
  tax_percent numeric(5,2) not null default 0
    constraint pharmacy_dispensing_items_tax_percent_check check (tax_percent between 0 and 100),
  tax_amount numeric(12,2) not null default 0 constraint pharmacy_dispensing_items_tax_amount_check check (tax_amount >= 0),
  line_total numeric(12,2) not null default 0 constraint pharmacy_dispensing_items_line_total_check check (line_total >= 0),
  expiry_date date not null,
  dosage_instructions text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint pharmacy_dispensing_items_hospital_id_id_key unique (hospital_id, id),
  constraint pharmacy_dispensing_items_dispensing_fkey foreign key (hospital_id, dispensing_id)
    references app_public.pharmacy_dispensing (hospital_id, id) on delete cascade,
  constraint pharmacy_dispensing_items_prescription_item_fkey foreign key (hospital_id, prescription_item_id)
    references app_public.prescription_items (hospital_id, id) on delete restrict,
  constraint pharmacy_dispensing_items_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint pharmacy_dispensing_items_batch_fkey foreign key (hospital_id, medicine_id, batch_id)
    references app_public.medicine_batches (hospital_id, medicine_id, id) on delete restrict,
  constraint pharmacy_dispensing_items_returned_check check (quantity_returned <= quantity)
);
create index idx_pharmacy_dispensing_items__hospital_id_dispensing_id on app_public.pharmacy_dispensing_items (hospital_id, dispensing_id);
create index idx_pharmacy_dispensing_items__hospital_id_prescription_item_id on app_public.pharmacy_dispensing_items (hospital_id, prescription_item_id)
  where prescription_item_id is not null;
create index idx_pharmacy_dispensing_items__hospital_id_medicine_id_batch_id on app_public.pharmacy_dispensing_items (hospital_id, medicine_id, batch_id);
comment on table app_public.pharmacy_dispensing_items is
  E'One line of a dispensing: how many base units of which batch of which medicine, at what price, discount and tax, with the label instructions.';
comment on column app_public.pharmacy_dispensing_items.dispensing_id is 'The dispensing this line belongs to (deleted with it).';
comment on column app_public.pharmacy_dispensing_items.prescription_item_id is 'Prescription line this fills, if dispensed against a prescription of the hospital.';
comment on column app_public.pharmacy_dispensing_items.medicine_id is 'Medicine handed over (may be a permitted substitute for the one prescribed).';
comment on column app_public.pharmacy_dispensing_items.batch_id is 'Batch the units were taken from; must be a batch of medicine_id.';
comment on column app_public.pharmacy_dispensing_items.quantity is 'Base units handed over; more than zero.';
comment on column app_public.pharmacy_dispensing_items.quantity_returned is 'Base units returned so far by completed returns; never more than quantity.';
comment on column app_public.pharmacy_dispensing_items.unit_price is 'Selling price per base unit at the time of sale, before discount and tax.';
comment on column app_public.pharmacy_dispensing_items.discount_percent is 'Discount on the line in percent (0–100).';
comment on column app_public.pharmacy_dispensing_items.discount_amount is 'Discount on the line in money.';
comment on column app_public.pharmacy_dispensing_items.tax_percent is 'Tax rate applied, copied from the tax rule at the time of sale (0–100).';
comment on column app_public.pharmacy_dispensing_items.tax_amount is 'Tax on the line in money.';
comment on column app_public.pharmacy_dispensing_items.line_total is 'Amount of the line after discount and tax.';
comment on column app_public.pharmacy_dispensing_items.expiry_date is 'Expiry of the batch, copied for the label.';
comment on column app_public.pharmacy_dispensing_items.dosage_instructions is 'Instructions printed on the label, e.g. 1 tablet three times a day after food for 5 days.';

create trigger _100_stamp before insert or update on app_public.pharmacy_dispensing_items
  for each row execute function app_hidden.tg__stamp();

/*
 * A return of dispensed medicines to the pharmacy, reviewed before any refund: requested at the
 * counter, approved (or rejected) by a pharmacist, completed when stock and refund are booked.
 */
create table app_public.pharmacy_returns (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  return_number text not null,
  dispensing_id uuid not null,
  patient_id uuid,
  returned_at timestamptz not null default now(),
  received_by uuid references app_public.users (id) on delete restrict,
  reason text not null
    constraint pharmacy_returns_reason_check check (reason in ('adverse_reaction', 'wrong_medicine', 'excess_quantity', 'expired', 'damaged', 'discontinued', 'patient_request', 'other')),
  reason_notes text,
  status text not null default 'requested'
    constraint pharmacy_returns_status_check check (status in ('requested', 'approved', 'completed', 'rejected')),
  approved_at timestamptz,
  approved_by uuid references app_public.users (id) on delete restrict,
  rejection_reason text,
  completed_at timestamptz,
  refund_amount numeric(12,2) not null default 0 constraint pharmacy_returns_refund_amount_check check (refund_amount >= 0),
  restock boolean not null default true,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint pharmacy_returns_hospital_id_id_key unique (hospital_id, id),
  constraint pharmacy_returns_hospital_id_return_number_key unique (hospital_id, return_number),
  constraint pharmacy_returns_dispensing_fkey foreign key (hospital_id, dispensing_id)
    references app_public.pharmacy_dispensing (hospital_id, id) on delete restrict,
  constraint pharmacy_returns_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint pharmacy_returns_reason_notes_check check (reason <> 'other' or reason_notes is not null),
  constraint pharmacy_returns_approved_check check (status not in ('approved', 'completed') or approved_at is not null),
  constraint pharmacy_returns_rejected_check check (status <> 'rejected' or rejection_reason is not null),
  constraint pharmacy_returns_completed_check check ((status = 'completed') = (completed_at is not null)),
  constraint pharmacy_returns_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_pharmacy_returns__hospital_id_dispensing_id on app_public.pharmacy_returns (hospital_id, dispensing_id);
create index idx_pharmacy_returns__hospital_id_patient_id on app_public.pharmacy_returns (hospital_id, patient_id)
  where patient_id is not null;
create index idx_pharmacy_returns__hospital_id_returned_at on app_public.pharmacy_returns (hospital_id, returned_at desc)
  where not is_deleted;
create index idx_pharmacy_returns__hospital_id_status_returned_at on app_public.pharmacy_returns (hospital_id, status, returned_at)
  where not is_deleted and status in ('requested', 'approved');
create index idx_pharmacy_returns__received_by on app_public.pharmacy_returns (received_by) where received_by is not null;
create index idx_pharmacy_returns__approved_by on app_public.pharmacy_returns (approved_by) where approved_by is not null;
comment on table app_public.pharmacy_returns is
  E'A return of dispensed medicines to the pharmacy: why, who received and approved it, the refund and whether units go back to stock. Lines are pharmacy_return_items.';
comment on column app_public.pharmacy_returns.return_number is 'Human-readable number from id_sequences (document type ''pharmacy_return''), e.g. PRT-NY-2026-000042-K.';
comment on column app_public.pharmacy_returns.dispensing_id is 'The dispensing the medicines came from.';
comment on column app_public.pharmacy_returns.patient_id is 'Patient returning the medicines (that of the dispensing); null for a walk-in customer.';
comment on column app_public.pharmacy_returns.returned_at is 'When the medicines were brought back.';
comment on column app_public.pharmacy_returns.received_by is 'Pharmacy staff who took the medicines back.';
comment on column app_public.pharmacy_returns.reason is 'adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued (therapy stopped), patient_request or other.';
comment on column app_public.pharmacy_returns.reason_notes is 'Details of the reason; required when the reason is other.';
comment on column app_public.pharmacy_returns.status is 'requested, approved, completed (stock and refund booked) or rejected.';
comment on column app_public.pharmacy_returns.approved_at is 'When the return was approved; required once approved or completed.';
comment on column app_public.pharmacy_returns.approved_by is 'Pharmacist who approved the return.';
comment on column app_public.pharmacy_returns.rejection_reason is 'Why the return was refused; required when rejected.';
comment on column app_public.pharmacy_returns.completed_at is 'When stock and refund were booked; set exactly when the status is completed.';
comment on column app_public.pharmacy_returns.refund_amount is 'Amount refunded to the patient (sum of the lines'' refunds).';
comment on column app_public.pharmacy_returns.restock is 'Whether resalable units are put back into stock (false: all are written off).';
comment on column app_public.pharmacy_returns.notes is 'Internal notes.';

create trigger _100_stamp before insert or update on app_public.pharmacy_returns
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.pharmacy_returns
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * One line of a return: how many units of one dispensing line come back, their condition, the
 * refund, and whether they were put back on the shelf. At most one line per dispensing line per
 * return; medicine and batch are copied from the dispensing line for the stock movement.
 */
create table app_public.pharmacy_return_items (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  return_id uuid not null,
  dispensing_item_id uuid not null,
  medicine_id uuid not null,
  batch_id uuid not null,
  quantity integer not null constraint pharmacy_return_items_quantity_check check (quantity > 0),
  unit_price numeric(12,2) not null constraint pharmacy_return_items_unit_price_check check (unit_price >= 0),
  line_refund numeric(12,2) not null default 0 constraint pharmacy_return_items_line_refund_check check (line_refund >= 0),
  condition text not null default 'resalable'
    constraint pharmacy_return_items_condition_check check (condition in ('resalable', 'damaged', 'expired')),
  restocked boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint pharmacy_return_items_hospital_id_id_key unique (hospital_id, id),
  constraint pharmacy_return_items_hospital_id_return_id_dispensing_item_id_key unique (hospital_id, return_id, dispensing_item_id),
  constraint pharmacy_return_items_return_fkey foreign key (hospital_id, return_id)
    references app_public.pharmacy_returns (hospital_id, id) on delete cascade,
  constraint pharmacy_return_items_dispensing_item_fkey foreign key (hospital_id, dispensing_item_id)
    references app_public.pharmacy_dispensing_items (hospital_id, id) on delete restrict,
  constraint pharmacy_return_items_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint pharmacy_return_items_batch_fkey foreign key (hospital_id, medicine_id, batch_id)
    references app_public.medicine_batches (hospital_id, medicine_id, id) on delete restrict,
  constraint pharmacy_return_items_restocked_check check (not restocked or condition = 'resalable')
);
create index idx_pharmacy_return_items__hospital_id_dispensing_item_id on app_public.pharmacy_return_items (hospital_id, dispensing_item_id);
create index idx_pharmacy_return_items__hospital_id_medicine_id_batch_id on app_public.pharmacy_return_items (hospital_id, medicine_id, batch_id);
comment on table app_public.pharmacy_return_items is
  E'One line of a pharmacy return: units of one dispensing line brought back, their condition, refund and whether they were restocked.';
comment on column app_public.pharmacy_return_items.return_id is 'The return this line belongs to (deleted with it).';
comment on column app_public.pharmacy_return_items.dispensing_item_id is 'Dispensing line being reversed (one line per dispensing line per return).';
comment on column app_public.pharmacy_return_items.medicine_id is 'Medicine returned (that of the dispensing line).';
comment on column app_public.pharmacy_return_items.batch_id is 'Batch returned (that of the dispensing line); must be a batch of medicine_id.';
comment on column app_public.pharmacy_return_items.quantity is 'Base units returned; more than zero.';
comment on column app_public.pharmacy_return_items.unit_price is 'Price per base unit refunded (normally the dispensing line''s net unit price).';
comment on column app_public.pharmacy_return_items.line_refund is 'Amount refunded for the line.';
comment on column app_public.pharmacy_return_items.condition is 'State of the returned units: resalable, damaged or expired.';
comment on column app_public.pharmacy_return_items.restocked is 'Whether the units went back into stock (only resalable units can).';

create trigger _100_stamp before insert or update on app_public.pharmacy_return_items
  for each row execute function app_hidden.tg__stamp();

--! split: 2400-optical.sql
/*
 * Optical — the eye-care counter of a hospital: the frames, lenses, contact lenses and
 * accessories it sells, the refraction prescriptions its optometrists and ophthalmologists write
 * (or that patients bring from outside), the spectacle / contact-lens orders made up from them by
 * an in-house workshop or an outside lab, and the repairs the counter takes in.
 *
 * Powers follow optical practice: diopters in 0.25 steps, cylinder in either sign convention
 * (plus or minus cylinder, as written by the prescriber), axis in degrees 0–180, one set of
 * columns per eye with the clinical prefixes od_ (oculus dexter, right eye) and os_ (oculus
 * sinister, left eye). Near power is distance sphere + addition, so only the addition is stored.
 *
 * Stock of optical products is counted on the product (quantity_on_hand) and changed only by
 * stock movements (supply chain / stock sections, 4000–4100); suppliers are also defined there,
 * so a product here names its supplier as text and the later purchasing tables carry the links.
 * Order numbering, workflow transitions and payments (advance_paid) are wired by later issues.
 */

/*
 * The optical catalogue of a hospital. One table for every product type, because the counter
 * sells them on one order and searches them in one box; the attributes that only make sense for
 * one type (frame sizes, lens index, contact-lens base curve) are nullable and guarded by CHECKs.
 * Stock lenses carry the power range they are stocked in; lenses surfaced by a lab for one
 * patient are ordered without a product row (see optical_order_items).
 */
create table app_public.optical_products (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  sku text not null constraint optical_products_sku_check check (sku ~ '^[A-Z0-9][A-Z0-9._/-]{1,39}$'),
  barcode text constraint optical_products_barcode_check check (barcode ~ '^[0-9A-Za-z-]{4,48}$'),
  name text not null constraint optical_products_name_check check (length(trim(name)) between 2 and 200),
  product_type text not null
    constraint optical_products_product_type_check check (product_type in ('frame', 'spectacle_lens', 'contact_lens', 'sunglasses', 'accessory', 'solution')),
  brand text,
  model text,
  color text,
  material text,
  frame_type text
    constraint optical_products_frame_type_check check (frame_type in ('full_rim', 'half_rim', 'rimless')),
  frame_shape text
    constraint optical_products_frame_shape_check check (frame_shape in ('rectangle', 'square', 'round', 'oval', 'cat_eye', 'aviator', 'wayfarer', 'browline', 'geometric', 'wrap', 'other')),
  eye_size_mm smallint constraint optical_products_eye_size_mm_check check (eye_size_mm between 30 and 75),
  bridge_mm smallint constraint optical_products_bridge_mm_check check (bridge_mm between 10 and 30),
  temple_mm smallint constraint optical_products_temple_mm_check check (temple_mm between 100 and 165),
  gender_target text
    constraint optical_products_gender_target_check check (gender_target in ('men', 'women', 'unisex', 'kids')),
  lens_type text
    constraint optical_products_lens_type_check check (lens_type in ('single_vision', 'bifocal', 'progressive', 'office', 'plano')),
  lens_material text
    constraint optical_products_lens_material_check check (lens_material in ('cr39', 'polycarbonate', 'trivex', 'high_index', 'glass', 'hydrogel', 'silicone_hydrogel', 'rgp', 'other')),
  lens_index numeric(3,2) constraint optical_products_lens_index_check check (lens_index between 1.40 and 2.00),
  coatings text[] not null default '{}'
    constraint optical_products_coatings_check check (coatings <@ array['anti_reflective', 'blue_cut', 'hard_coat', 'uv_protection', 'hydrophobic', 'anti_fog', 'photochromic', 'polarized', 'tinted', 'mirror']::text[]),
  sphere_min numeric(5,2) constraint optical_products_sphere_min_check check (sphere_min between -30 and 30),
  sphere_max numeric(5,2) constraint optical_products_sphere_max_check check (sphere_max between -30 and 30),
  cylinder_min numeric(5,2) constraint optical_products_cylinder_min_check check (cylinder_min between -10 and 10),
  cylinder_max numeric(5,2) constraint optical_products_cylinder_max_check check (cylinder_max between -10 and 10),
  replacement_schedule text
    constraint optical_products_replacement_schedule_check check (replacement_schedule in ('daily', 'biweekly', 'monthly', 'quarterly', 'yearly')),
  base_curve_mm numeric(3,1) constraint optical_products_base_curve_mm_check check (base_curve_mm between 6.0 and 10.0),
  diameter_mm numeric(3,1) constraint optical_products_diameter_mm_check check (diameter_mm between 8.0 and 16.0),
  unit_of_measure text not null default 'piece'
    constraint optical_products_unit_of_measure_check check (unit_of_measure in ('piece', 'pair', 'box', 'bottle', 'set')),
  purchase_price numeric(12,2) constraint optical_products_purchase_price_check check (purchase_price >= 0),
  selling_price numeric(12,2) not null constraint optical_products_selling_price_check check (selling_price >= 0),
  mrp numeric(12,2) constraint optical_products_mrp_check check (mrp >= 0),
  tax_configuration_id uuid,
  quantity_on_hand integer not null default 0
    constraint optical_products_quantity_on_hand_check check (quantity_on_hand >= 0),
  reorder_level integer not null default 0 constraint optical_products_reorder_level_check check (reorder_level >= 0),
  supplier_name text,
  warranty_months smallint not null default 0
    constraint optical_products_warranty_months_check check (warranty_months between 0 and 120),
  is_active boolean not null default true,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint optical_products_hospital_id_id_key unique (hospital_id, id),
  constraint optical_products_hospital_id_sku_key unique (hospital_id, sku),
  constraint optical_products_tax_configuration_fkey foreign key (hospital_id, tax_configuration_id)
    references app_public.tax_configurations (hospital_id, id) on delete set null (tax_configuration_id),
  constraint optical_products_frame_attributes_check check (
    product_type in ('frame', 'sunglasses')
    or (frame_type is null and frame_shape is null and eye_size_mm is null and bridge_mm is null and temple_mm is null)),
  constraint optical_products_contact_lens_attributes_check check (
    product_type = 'contact_lens' or (replacement_schedule is null and base_curve_mm is null and diameter_mm is null)),
  constraint optical_products_lens_attributes_check check (
    product_type in ('spectacle_lens', 'contact_lens', 'sunglasses')
    or (lens_type is null and lens_material is null and lens_index is null and cardinality(coatings) = 0)),
  constraint optical_products_power_range_check check (
    product_type in ('spectacle_lens', 'contact_lens')
    or (sphere_min is null and sphere_max is null and cylinder_min is null and cylinder_max is null)),
  constraint optical_products_sphere_range_check check (sphere_min <= sphere_max),
  constraint optical_products_cylinder_range_check check (cylinder_min <= cylinder_max),
  constraint optical_products_price_check check (mrp is null or selling_price <= mrp),
  constraint optical_products_deleted_check check (is_deleted = (deleted_at is not null))
);
create unique index idx_optical_products__hospital_id_barcode on app_public.optical_products (hospital_id, barcode)
  where barcode is not null and not is_deleted;
create index idx_optical_products__hospital_id_tax_configuration_id on app_public.optical_products (hospital_id, tax_configuration_id)
  where tax_configuration_id is not null;
create index idx_optical_products__hospital_id_product_type on app_public.optical_products (hospital_id, product_type, name)
  where is_active and not is_deleted;
create index idx_optical_products__hospital_id_reorder on app_public.optical_products (hospital_id, product_type)
  where quantity_on_hand <= reorder_level and is_active and not is_deleted;
create index idx_optical_products__name_trgm on app_public.optical_products using gin (name gin_trgm_ops);
create index idx_optical_products__brand_trgm on app_public.optical_products using gin (brand gin_trgm_ops);
comment on table app_public.optical_products is
  E'The optical catalogue of a hospital: frames, spectacle lenses, contact lenses, sunglasses, accessories and solutions, with their stock on hand.';
comment on column app_public.optical_products.sku is 'Stock-keeping unit, unique within the hospital (capitals, digits, . _ / -).';
comment on column app_public.optical_products.barcode is 'Barcode printed on the product or its tag (EAN/UPC or in-house), scanned at the counter.';
comment on column app_public.optical_products.name is E'Display name, e.g. Ray-Ban RB5154 Clubmaster 51□21 Black.';
comment on column app_public.optical_products.product_type is 'frame, spectacle_lens, contact_lens, sunglasses, accessory or solution.';
comment on column app_public.optical_products.brand is 'Brand or manufacturer, e.g. Ray-Ban, Essilor, Acuvue.';
comment on column app_public.optical_products.model is 'Manufacturer model number or name.';
comment on column app_public.optical_products.color is 'Colour or colour code as the manufacturer names it.';
comment on column app_public.optical_products.material is 'Frame or accessory material, e.g. acetate, TR90, stainless steel, titanium.';
comment on column app_public.optical_products.frame_type is 'Frames and sunglasses only: full_rim, half_rim or rimless.';
comment on column app_public.optical_products.frame_shape is 'Frames and sunglasses only: rectangle, square, round, oval, cat_eye, aviator, wayfarer, browline, geometric, wrap or other.';
comment on column app_public.optical_products.eye_size_mm is 'Frames and sunglasses only: lens width (eye size) in millimetres, the first of the three numbers on the temple.';
comment on column app_public.optical_products.bridge_mm is 'Frames and sunglasses only: bridge width in millimetres.';
comment on column app_public.optical_products.temple_mm is 'Frames and sunglasses only: temple (arm) length in millimetres.';
comment on column app_public.optical_products.gender_target is 'Who the product is styled for: men, women, unisex or kids.';
comment on column app_public.optical_products.lens_type is 'Lenses and sunglasses only: single_vision, bifocal, progressive, office (near-intermediate) or plano (no power).';
comment on column app_public.optical_products.lens_material is 'Lenses and sunglasses only: cr39, polycarbonate, trivex, high_index, glass, hydrogel, silicone_hydrogel, rgp (rigid gas-permeable) or other.';
comment on column app_public.optical_products.lens_index is 'Lenses and sunglasses only: refractive index of the lens material, e.g. 1.50, 1.59, 1.67, 1.74.';
comment on column app_public.optical_products.coatings is E'Lenses and sunglasses only: coatings and treatments, any of anti_reflective, blue_cut, hard_coat, uv_protection, hydrophobic, anti_fog, photochromic, polarized, tinted, mirror.';
comment on column app_public.optical_products.sphere_min is 'Stock lenses only: lowest sphere power stocked, in diopters.';
comment on column app_public.optical_products.sphere_max is 'Stock lenses only: highest sphere power stocked, in diopters.';
comment on column app_public.optical_products.cylinder_min is 'Stock lenses only: lowest cylinder power stocked, in diopters.';
comment on column app_public.optical_products.cylinder_max is 'Stock lenses only: highest cylinder power stocked, in diopters.';
comment on column app_public.optical_products.replacement_schedule is 'Contact lenses only: how often they are replaced: daily, biweekly, monthly, quarterly or yearly.';
comment on column app_public.optical_products.base_curve_mm is 'Contact lenses only: base curve in millimetres, e.g. 8.6.';
comment on column app_public.optical_products.diameter_mm is 'Contact lenses only: overall diameter in millimetres, e.g. 14.2.';
comment on column app_public.optical_products.unit_of_measure is 'Unit in which stock is counted and sold: piece, pair, box, bottle or set.';
comment on column app_public.optical_products.purchase_price is 'Last purchase cost per unit of measure, for margin reports.';
comment on column app_public.optical_products.selling_price is 'Counter price per unit of measure before discount (tax per tax_configuration).';
comment on column app_public.optical_products.mrp is 'Maximum retail price printed on the package, where the law requires one; selling_price may not exceed it.';
comment on column app_public.optical_products.tax_configuration_id is 'Tax rule applied when the product is sold (null = the hospital''s default rule for optical).';
comment on column app_public.optical_products.quantity_on_hand is E'Units in stock now. Maintained by stock movements (stock section); never written by clients.';
comment on column app_public.optical_products.reorder_level is 'When quantity_on_hand falls to this level the product appears on the reorder list.';
comment on column app_public.optical_products.supplier_name is 'Usual supplier or distributor, as text (purchase documents link the supplier record).';
comment on column app_public.optical_products.warranty_months is 'Manufacturer or shop warranty in months (0 = none); decides whether a repair is under warranty.';
comment on column app_public.optical_products.is_active is 'False when the product is no longer sold; history stays.';

create trigger _100_stamp before insert or update on app_public.optical_products
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.optical_products
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * A refraction prescription: what an optometrist or ophthalmologist of the hospital found on
 * examination (doctor_id), or a prescription the patient brought from outside (external_prescriber).
 * Powers are checked the way a lab would reject them: range, 0.25 D steps, an axis whenever there
 * is a cylinder, a base direction whenever there is a prism. A newer prescription makes the older
 * one 'superseded'; past valid_until it is 'expired' (workflow by a later issue).
 */
create table app_public.optical_prescriptions (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  patient_id uuid not null,
  doctor_id uuid,
  external_prescriber text,
  appointment_id uuid,
  prescription_type text not null default 'spectacles'
    constraint optical_prescriptions_prescription_type_check check (prescription_type in ('spectacles', 'contact_lenses', 'both')),
  examination_date date not null default current_date,
  prescribed_at timestamptz not null default now(),
  valid_until date,
  od_sphere numeric(5,2)
    constraint optical_prescriptions_od_sphere_check check (od_sphere between -30 and 30 and mod(od_sphere, 0.25) = 0),
  od_cylinder numeric(5,2)
    constraint optical_prescriptions_od_cylinder_check check (od_cylinder between -10 and 10 and mod(od_cylinder, 0.25) = 0),
  od_axis smallint constraint optical_prescriptions_od_axis_check check (od_axis between 0 and 180),
  od_add numeric(4,2)
    constraint optical_prescriptions_od_add_check check (od_add between 0.25 and 4.00 and mod(od_add, 0.25) = 0),
  od_prism numeric(4,2) constraint optical_prescriptions_od_prism_check check (od_prism between 0 and 20),
  od_prism_base text constraint optical_prescriptions_od_prism_base_check check (od_prism_base in ('up', 'down', 'in', 'out')),
  od_visual_acuity_unaided text,
  od_visual_acuity_corrected text,
  od_near_visual_acuity text,
  os_sphere numeric(5,2)
    constraint optical_prescriptions_os_sphere_check check (os_sphere between -30 and 30 and mod(os_sphere, 0.25) = 0),
  os_cylinder numeric(5,2)
    constraint optical_prescriptions_os_cylinder_check check (os_cylinder between -10 and 10 and mod(os_cylinder, 0.25) = 0),
  os_axis smallint constraint optical_prescriptions_os_axis_check check (os_axis between 0 and 180),
  os_add numeric(4,2)
    constraint optical_prescriptions_os_add_check check (os_add between 0.25 and 4.00 and mod(os_add, 0.25) = 0),
  os_prism numeric(4,2) constraint optical_prescriptions_os_prism_check check (os_prism between 0 and 20),
  os_prism_base text constraint optical_prescriptions_os_prism_base_check check (os_prism_base in ('up', 'down', 'in', 'out')),
  os_visual_acuity_unaided text,
  os_visual_acuity_corrected text,
  os_near_visual_acuity text,
  pd_right_mm numeric(3,1) constraint optical_prescriptions_pd_right_mm_check check (pd_right_mm between 20 and 40),
  pd_left_mm numeric(3,1) constraint optical_prescriptions_pd_left_mm_check check (pd_left_mm between 20 and 40),
  pd_binocular_mm numeric(3,1) constraint optical_prescriptions_pd_binocular_mm_check check (pd_binocular_mm between 40 and 80),
  pd_near_mm numeric(3,1) constraint optical_prescriptions_pd_near_mm_check check (pd_near_mm between 40 and 80),
  od_iop_mmhg smallint constraint optical_prescriptions_od_iop_mmhg_check check (od_iop_mmhg between 0 and 80),
  os_iop_mmhg smallint constraint optical_prescriptions_os_iop_mmhg_check check (os_iop_mmhg between 0 and 80),
  od_keratometry_k1 numeric(4,2) constraint optical_prescriptions_od_keratometry_k1_check check (od_keratometry_k1 between 30 and 60),
  od_keratometry_k2 numeric(4,2) constraint optical_prescriptions_od_keratometry_k2_check check (od_keratometry_k2 between 30 and 60),
  od_keratometry_axis smallint constraint optical_prescriptions_od_keratometry_axis_check check (od_keratometry_axis between 0 and 180),
  os_keratometry_k1 numeric(4,2) constraint optical_prescriptions_os_keratometry_k1_check check (os_keratometry_k1 between 30 and 60),
  os_keratometry_k2 numeric(4,2) constraint optical_prescriptions_os_keratometry_k2_check check (os_keratometry_k2 between 30 and 60),
  os_keratometry_axis smallint constraint optical_prescriptions_os_keratometry_axis_check check (os_keratometry_axis between 0 and 180),
  recommended_lens_type text
    constraint optical_prescriptions_recommended_lens_type_check check (recommended_lens_type in ('single_vision', 'bifocal', 'progressive', 'office', 'plano')),
  recommended_coatings text[] not null default '{}'
    constraint optical_prescriptions_recommended_coatings_check check (recommended_coatings <@ array['anti_reflective', 'blue_cut', 'hard_coat', 'uv_protection', 'hydrophobic', 'anti_fog', 'photochromic', 'polarized', 'tinted', 'mirror']::text[]),
  contact_lens_details text,
  diagnosis text,
  clinical_notes text,
  status text not null default 'active'
    constraint optical_prescriptions_status_check check (status in ('active', 'superseded', 'expired')),
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint optical_prescriptions_hospital_id_id_key unique (hospital_id, id),
  constraint optical_prescriptions_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint optical_prescriptions_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete restrict,
  constraint optical_prescriptions_appointment_fkey foreign key (hospital_id, appointment_id)
    references app_public.appointments (hospital_id, id) on delete set null (appointment_id),
  constraint optical_prescriptions_prescriber_check check (doctor_id is not null or external_prescriber is not null),
  constraint optical_prescriptions_power_check check (od_sphere is not null or os_sphere is not null),
  constraint optical_prescriptions_od_axis_required_check check (coalesce(od_cylinder, 0) = 0 or od_axis is not null),
  constraint optical_prescriptions_os_axis_required_check check (coalesce(os_cylinder, 0) = 0 or os_axis is not null),
  constraint optical_prescriptions_od_prism_base_required_check check ((coalesce(od_prism, 0) = 0) = (od_prism_base is null)),
  constraint optical_prescriptions_os_prism_base_required_check check ((coalesce(os_prism, 0) = 0) = (os_prism_base is null)),
  constraint optical_prescriptions_pd_consistency_check check (abs(pd_right_mm + pd_left_mm - pd_binocular_mm) <= 2),
  constraint optical_prescriptions_pd_near_check check (pd_near_mm <= pd_binocular_mm),
  constraint optical_prescriptions_validity_check check (valid_until >= examination_date),
  constraint optical_prescriptions_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_optical_prescriptions__hospital_id_patient_id on app_public.optical_prescriptions (hospital_id, patient_id, prescribed_at desc);
create index idx_optical_prescriptions__hospital_id_doctor_id on app_public.optical_prescriptions (hospital_id, doctor_id, prescribed_at desc)
  where doctor_id is not null;
create index idx_optical_prescriptions__hospital_id_appointment_id on app_public.optical_prescriptions (hospital_id, appointment_id)
  where appointment_id is not null;
create index idx_optical_prescriptions__hospital_id_prescribed_at on app_public.optical_prescriptions (hospital_id, prescribed_at desc)
  where not is_deleted;
comment on table app_public.optical_prescriptions is
  E'A spectacle / contact-lens prescription of a patient: refraction per eye (od = right, os = left), pupillary distance, eye pressure, keratometry and the prescriber''s recommendation.';
comment on column app_public.optical_prescriptions.patient_id is 'The patient the prescription is for.';
comment on column app_public.optical_prescriptions.doctor_id is 'Optometrist or ophthalmologist of the hospital who examined the patient (null for an outside prescription).';
comment on column app_public.optical_prescriptions.external_prescriber is 'Name and clinic of the outside prescriber when the patient brought the prescription; one of doctor_id or this is required.';
comment on column app_public.optical_prescriptions.appointment_id is 'The eye-clinic visit the prescription was written in, if any.';
comment on column app_public.optical_prescriptions.prescription_type is 'What the prescription is for: spectacles, contact_lenses or both.';
comment on column app_public.optical_prescriptions.examination_date is 'Day the eyes were examined (for an outside prescription, the date written on it).';
comment on column app_public.optical_prescriptions.prescribed_at is 'When the prescription was written or recorded in HMS.';
comment on column app_public.optical_prescriptions.valid_until is 'Last day the prescription may be used to make up spectacles or lenses.';
comment on column app_public.optical_prescriptions.od_sphere is 'Right eye distance sphere in diopters (−30 to +30, 0.25 steps; 0 = plano).';
comment on column app_public.optical_prescriptions.od_cylinder is 'Right eye cylinder in diopters (−10 to +10, 0.25 steps), in the prescriber''s sign convention.';
comment on column app_public.optical_prescriptions.od_axis is 'Right eye cylinder axis in degrees (0–180); required when there is a cylinder.';
comment on column app_public.optical_prescriptions.od_add is 'Right eye near addition in diopters (0.25 to 4.00, 0.25 steps); near power = sphere + add.';
comment on column app_public.optical_prescriptions.od_prism is 'Right eye prism in prism diopters (0–20).';
comment on column app_public.optical_prescriptions.od_prism_base is 'Right eye prism base direction: up, down, in or out; required when there is a prism.';
comment on column app_public.optical_prescriptions.od_visual_acuity_unaided is 'Right eye distance visual acuity without correction, as recorded (e.g. 6/18, 20/60, CF 2m).';
comment on column app_public.optical_prescriptions.od_visual_acuity_corrected is 'Right eye best-corrected distance visual acuity with this prescription (e.g. 6/6, 20/20).';
comment on column app_public.optical_prescriptions.od_near_visual_acuity is 'Right eye corrected near visual acuity (e.g. N6, J1).';
comment on column app_public.optical_prescriptions.os_sphere is 'Left eye distance sphere in diopters (−30 to +30, 0.25 steps; 0 = plano).';
comment on column app_public.optical_prescriptions.os_cylinder is 'Left eye cylinder in diopters (−10 to +10, 0.25 steps), in the prescriber''s sign convention.';
comment on column app_public.optical_prescriptions.os_axis is 'Left eye cylinder axis in degrees (0–180); required when there is a cylinder.';
comment on column app_public.optical_prescriptions.os_add is 'Left eye near addition in diopters (0.25 to 4.00, 0.25 steps); near power = sphere + add.';
comment on column app_public.optical_prescriptions.os_prism is 'Left eye prism in prism diopters (0–20).';
comment on column app_public.optical_prescriptions.os_prism_base is 'Left eye prism base direction: up, down, in or out; required when there is a prism.';
comment on column app_public.optical_prescriptions.os_visual_acuity_unaided is 'Left eye distance visual acuity without correction, as recorded (e.g. 6/18, 20/60, CF 2m).';
comment on column app_public.optical_prescriptions.os_visual_acuity_corrected is 'Left eye best-corrected distance visual acuity with this prescription (e.g. 6/6, 20/20).';
comment on column app_public.optical_prescriptions.os_near_visual_acuity is 'Left eye corrected near visual acuity (e.g. N6, J1).';
comment on column app_public.optical_prescriptions.pd_right_mm is 'Monocular pupillary distance of the right eye in millimetres (20–40).';
comment on column app_public.optical_prescriptions.pd_left_mm is 'Monocular pupillary distance of the left eye in millimetres (20–40).';
comment on column app_public.optical_prescriptions.pd_binocular_mm is 'Binocular distance pupillary distance in millimetres (40–80); within 2 mm of right + left when all are recorded.';
comment on column app_public.optical_prescriptions.pd_near_mm is 'Binocular near pupillary distance in millimetres (40–80), not more than the distance PD.';
comment on column app_public.optical_prescriptions.od_iop_mmhg is 'Right eye intraocular pressure in mmHg (0–80).';
comment on column app_public.optical_prescriptions.os_iop_mmhg is 'Left eye intraocular pressure in mmHg (0–80).';
comment on column app_public.optical_prescriptions.od_keratometry_k1 is 'Right eye keratometry, flat meridian power in diopters.';
comment on column app_public.optical_prescriptions.od_keratometry_k2 is 'Right eye keratometry, steep meridian power in diopters.';
comment on column app_public.optical_prescriptions.od_keratometry_axis is 'Right eye keratometry, axis of the flat meridian in degrees (0–180).';
comment on column app_public.optical_prescriptions.os_keratometry_k1 is 'Left eye keratometry, flat meridian power in diopters.';
comment on column app_public.optical_prescriptions.os_keratometry_k2 is 'Left eye keratometry, steep meridian power in diopters.';
comment on column app_public.optical_prescriptions.os_keratometry_axis is 'Left eye keratometry, axis of the flat meridian in degrees (0–180).';
comment on column app_public.optical_prescriptions.recommended_lens_type is 'Lens design the prescriber recommends: single_vision, bifocal, progressive, office or plano.';
comment on column app_public.optical_prescriptions.recommended_coatings is E'Coatings the prescriber recommends, any of anti_reflective, blue_cut, hard_coat, uv_protection, hydrophobic, anti_fog, photochromic, polarized, tinted, mirror.';
comment on column app_public.optical_prescriptions.contact_lens_details is 'Contact-lens fitting: brand, base curve, diameter and powers when they differ from the spectacle refraction.';
comment on column app_public.optical_prescriptions.diagnosis is 'Refractive or eye diagnosis, e.g. myopia with astigmatism, presbyopia.';
comment on column app_public.optical_prescriptions.clinical_notes is 'Examination notes of the prescriber (findings, advice, follow-up).';
comment on column app_public.optical_prescriptions.status is 'active, superseded (a newer prescription replaced it) or expired (past valid_until).';

create trigger _100_stamp before insert or update on app_public.optical_prescriptions
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.optical_prescriptions
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * A spectacle / contact-lens order: the counter sells a frame and lenses made up to a
 * prescription, sends the job to the in-house workshop or an outside lab, and hands the glasses
 * over when they are ready. The fitting measurements are taken on the chosen frame at the
 * counter (they belong to the order, not to the prescription). Totals are the sum of the lines;
 * advance_paid is maintained by billing (a later issue), never written by clients.
 */
create table app_public.optical_orders (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  order_number text not null,
  patient_id uuid not null,
  optical_prescription_id uuid,
  ordered_at timestamptz not null default now(),
  status text not null default 'draft'
    constraint optical_orders_status_check check (status in ('draft', 'confirmed', 'sent_to_lab', 'in_production', 'ready', 'delivered', 'cancelled')),
  confirmed_at timestamptz,
  lab_name text,
  lab_reference text,
  sent_to_lab_at timestamptz,
  expected_ready_at timestamptz,
  ready_at timestamptz,
  delivered_at timestamptz,
  delivered_by uuid references app_public.users (id) on delete restrict,
  cancelled_at timestamptz,
  cancelled_by uuid references app_public.users (id) on delete restrict,
  cancellation_reason text,
  frame_provided_by_patient boolean not null default false,
  pd_right_mm numeric(3,1) constraint optical_orders_pd_right_mm_check check (pd_right_mm between 20 and 40),
  pd_left_mm numeric(3,1) constraint optical_orders_pd_left_mm_check check (pd_left_mm between 20 and 40),
  fitting_height_right_mm numeric(3,1)
    constraint optical_orders_fitting_height_right_mm_check check (fitting_height_right_mm between 8 and 40),
  fitting_height_left_mm numeric(3,1)
    constraint optical_orders_fitting_height_left_mm_check check (fitting_height_left_mm between 8 and 40),
  segment_height_right_mm numeric(3,1)
    constraint optical_orders_segment_height_right_mm_check check (segment_height_right_mm between 5 and 35),
  segment_height_left_mm numeric(3,1)
    constraint optical_orders_segment_height_left_mm_check check (segment_height_left_mm between 5 and 35),
  vertex_distance_mm numeric(3,1) constraint optical_orders_vertex_distance_mm_check check (vertex_distance_mm between 5 and 25),
  pantoscopic_tilt_degrees numeric(3,1)
    constraint optical_orders_pantoscopic_tilt_degrees_check check (pantoscopic_tilt_degrees between -5 and 25),
  wrap_angle_degrees numeric(3,1) constraint optical_orders_wrap_angle_degrees_check check (wrap_angle_degrees between 0 and 35),
  subtotal numeric(12,2) not null default 0 constraint optical_orders_subtotal_check check (subtotal >= 0),
  discount_amount numeric(12,2) not null default 0 constraint optical_orders_discount_amount_check check (discount_amount >= 0),
  tax_amount numeric(12,2) not null default 0 constraint optical_orders_tax_amount_check check (tax_amount >= 0),
  total_amount numeric(12,2) not null default 0 constraint optical_orders_total_amount_check check (total_amount >= 0),
  advance_paid numeric(12,2) not null default 0 constraint optical_orders_advance_paid_check check (advance_paid >= 0),
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint optical_orders_hospital_id_id_key unique (hospital_id, id),
  constraint optical_orders_hospital_id_order_number_key unique (hospital_id, order_number),
  constraint optical_orders_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint optical_orders_optical_prescription_fkey foreign key (hospital_id, optical_prescription_id)
    references app_public.optical_prescriptions (hospital_id, id) on delete restrict,
  constraint optical_orders_discount_check check (discount_amount <= subtotal),
  constraint optical_orders_dates_check check (
    (sent_to_lab_at is null or sent_to_lab_at >= ordered_at)
    and (ready_at is null or ready_at >= ordered_at)
    and (delivered_at is null or delivered_at >= ordered_at)
    and (expected_ready_at is null or expected_ready_at >= ordered_at)),
  constraint optical_orders_delivered_check check (status <> 'delivered' or delivered_at is not null),
  constraint optical_orders_cancellation_check check (status <> 'cancelled' or cancellation_reason is not null),
  constraint optical_orders_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_optical_orders__hospital_id_status_ordered_at on app_public.optical_orders (hospital_id, status, ordered_at desc)
  where not is_deleted;
create index idx_optical_orders__hospital_id_ordered_at on app_public.optical_orders (hospital_id, ordered_at desc)
  where not is_deleted;
create index idx_optical_orders__hospital_id_expected_ready_at on app_public.optical_orders (hospital_id, expected_ready_at)
  where status in ('confirmed', 'sent_to_lab', 'in_production') and not is_deleted;
create index idx_optical_orders__hospital_id_patient_id on app_public.optical_orders (hospital_id, patient_id, ordered_at desc);
create index idx_optical_orders__hospital_id_optical_prescription_id on app_public.optical_orders (hospital_id, optical_prescription_id)
  where optical_prescription_id is not null;
create index idx_optical_orders__delivered_by on app_public.optical_orders (delivered_by) where delivered_by is not null;
create index idx_optical_orders__cancelled_by on app_public.optical_orders (cancelled_by) where cancelled_by is not null;
comment on table app_public.optical_orders is
  E'A spectacle or contact-lens order of a patient: what was sold, the lab job, fitting measurements, and its way from draft to delivery.';
comment on column app_public.optical_orders.order_number is E'Human-readable number from id_sequences (document type \'optical_order\'), e.g. OPO-NY-2026-000042-K.';
comment on column app_public.optical_orders.patient_id is 'The patient (customer) the order is for.';
comment on column app_public.optical_orders.optical_prescription_id is 'Prescription the lenses are made to (null for frames, sunglasses or accessories only).';
comment on column app_public.optical_orders.ordered_at is 'When the order was taken at the counter.';
comment on column app_public.optical_orders.status is 'draft, confirmed, sent_to_lab, in_production, ready, delivered or cancelled.';
comment on column app_public.optical_orders.confirmed_at is 'When the customer confirmed the order (usually with an advance).';
comment on column app_public.optical_orders.lab_name is 'Workshop or outside lab that makes up the glasses.';
comment on column app_public.optical_orders.lab_reference is 'The lab''s job or order number, for follow-up calls.';
comment on column app_public.optical_orders.sent_to_lab_at is 'When the job was sent to the lab.';
comment on column app_public.optical_orders.expected_ready_at is 'When the glasses were promised to the customer.';
comment on column app_public.optical_orders.ready_at is 'When the finished glasses came back and passed checking.';
comment on column app_public.optical_orders.delivered_at is 'When the glasses were handed over to the customer.';
comment on column app_public.optical_orders.delivered_by is 'Staff member who handed the glasses over (and checked the fit).';
comment on column app_public.optical_orders.cancelled_at is 'When the order was cancelled.';
comment on column app_public.optical_orders.cancelled_by is 'Staff member who cancelled the order.';
comment on column app_public.optical_orders.cancellation_reason is 'Why the order was cancelled; required when status is cancelled.';
comment on column app_public.optical_orders.frame_provided_by_patient is 'True when the lenses are fitted into the customer''s own frame (the shop is not liable for the frame).';
comment on column app_public.optical_orders.pd_right_mm is 'Right monocular pupillary distance measured on the chosen frame, in millimetres (20–40).';
comment on column app_public.optical_orders.pd_left_mm is 'Left monocular pupillary distance measured on the chosen frame, in millimetres (20–40).';
comment on column app_public.optical_orders.fitting_height_right_mm is 'Right lens fitting height (pupil centre above the lowest point of the lens rim) in millimetres; needed for progressives.';
comment on column app_public.optical_orders.fitting_height_left_mm is 'Left lens fitting height in millimetres; needed for progressives.';
comment on column app_public.optical_orders.segment_height_right_mm is 'Right lens bifocal segment height in millimetres.';
comment on column app_public.optical_orders.segment_height_left_mm is 'Left lens bifocal segment height in millimetres.';
comment on column app_public.optical_orders.vertex_distance_mm is 'Distance from the back of the lens to the cornea in millimetres (for high powers and free-form lenses).';
comment on column app_public.optical_orders.pantoscopic_tilt_degrees is 'Pantoscopic (forward) tilt of the fitted frame in degrees (for free-form lenses).';
comment on column app_public.optical_orders.wrap_angle_degrees is 'Face-form wrap angle of the fitted frame in degrees (for free-form lenses).';
comment on column app_public.optical_orders.subtotal is 'Sum of the line totals before the order discount and tax.';
comment on column app_public.optical_orders.discount_amount is 'Discount on the whole order; not more than the subtotal.';
comment on column app_public.optical_orders.tax_amount is 'Tax on the order.';
comment on column app_public.optical_orders.total_amount is 'Amount payable by the customer.';
comment on column app_public.optical_orders.advance_paid is E'Advance received so far. Maintained by billing from the payments recorded; never written by clients.';
comment on column app_public.optical_orders.notes is 'Instructions to the lab or remarks for the counter (tint shade, edge polish, customer requests).';

create trigger _100_stamp before insert or update on app_public.optical_orders
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.optical_orders
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * The lines of an optical order: the frame, each lens (or the pair), contact lenses, accessories
 * and services (fitting, tinting, edging). A line names its catalogue product when it comes from
 * stock; lenses surfaced by the lab for this patient and services have no product. Lines are part
 * of their order and go with it; the product cannot be removed while lines name it.
 */
create table app_public.optical_order_items (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  optical_order_id uuid not null,
  optical_product_id uuid,
  item_type text not null
    constraint optical_order_items_item_type_check check (item_type in ('frame', 'lens_right', 'lens_left', 'lens_pair', 'contact_lens', 'accessory', 'service')),
  description text not null constraint optical_order_items_description_check check (length(trim(description)) between 1 and 500),
  eye text not null default 'none'
    constraint optical_order_items_eye_check check (eye in ('right', 'left', 'both', 'none')),
  quantity integer not null default 1 constraint optical_order_items_quantity_check check (quantity > 0),
  unit_price numeric(12,2) not null default 0 constraint optical_order_items_unit_price_check check (unit_price >= 0),
  discount_percent numeric(5,2) not null default 0
    constraint optical_order_items_discount_percent_check check (discount_percent between 0 and 100),
  tax_percent numeric(5,2) not null default 0
    constraint optical_order_items_tax_percent_check check (tax_percent between 0 and 100),
  line_total numeric(12,2) not null default 0 constraint optical_order_items_line_total_check check (line_total >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint optical_order_items_hospital_id_id_key unique (hospital_id, id),
  constraint optical_order_items_optical_order_fkey foreign key (hospital_id, optical_order_id)
    references app_public.optical_orders (hospital_id, id) on delete cascade,
  constraint optical_order_items_optical_product_fkey foreign key (hospital_id, optical_product_id)
    references app_public.optical_products (hospital_id, id) on delete restrict,
  constraint optical_order_items_item_eye_check check (
    (item_type <> 'lens_right' or eye = 'right')
    and (item_type <> 'lens_left' or eye = 'left')
    and (item_type <> 'lens_pair' or eye = 'both'))
);
create index idx_optical_order_items__hospital_id_optical_order_id on app_public.optical_order_items (hospital_id, optical_order_id);
create index idx_optical_order_items__hospital_id_optical_product_id on app_public.optical_order_items (hospital_id, optical_product_id)
  where optical_product_id is not null;
comment on table app_public.optical_order_items is
  'A line of an optical order: a frame, a lens or lens pair, contact lenses, an accessory or a service.';
comment on column app_public.optical_order_items.optical_order_id is 'The order the line belongs to.';
comment on column app_public.optical_order_items.optical_product_id is 'Catalogue product sold from stock (null for lab-made lenses and services such as fitting or tinting).';
comment on column app_public.optical_order_items.item_type is 'frame, lens_right, lens_left, lens_pair, contact_lens, accessory or service.';
comment on column app_public.optical_order_items.description is 'Text printed on the order and the job card, e.g. Essilor Varilux 1.67 Crizal Prevencia.';
comment on column app_public.optical_order_items.eye is 'Eye the line is for: right, left, both or none (lens_right = right, lens_left = left, lens_pair = both).';
comment on column app_public.optical_order_items.quantity is 'Number of units of measure sold (pieces, pairs, boxes).';
comment on column app_public.optical_order_items.unit_price is 'Price per unit before discount and tax.';
comment on column app_public.optical_order_items.discount_percent is 'Line discount in percent (0–100).';
comment on column app_public.optical_order_items.tax_percent is 'Tax rate applied to the line in percent (0–100), copied from the tax rule at the time of sale.';
comment on column app_public.optical_order_items.line_total is 'Quantity × unit price less the line discount, plus tax.';

create trigger _100_stamp before insert or update on app_public.optical_order_items
  for each row execute function app_hidden.tg__stamp();

/*
 * Repairs taken in at the optical counter: tightening, nose pads, hinges, soldering, a new lens
 * in an old frame. The customer may be a registered patient or a walk-in (name and phone only);
 * a repair of glasses sold here names the order, which decides the warranty.
 */
create table app_public.optical_repairs (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  repair_number text not null,
  patient_id uuid,
  customer_name text,
  customer_phone text constraint optical_repairs_customer_phone_check check (customer_phone ~ '^\+?[0-9 ()./-]{6,24}$'),
  optical_order_id uuid,
  item_description text not null
    constraint optical_repairs_item_description_check check (length(trim(item_description)) between 2 and 500),
  repair_type text not null
    constraint optical_repairs_repair_type_check check (repair_type in ('frame_adjustment', 'hinge', 'nose_pad', 'screw', 'lens_replacement', 'frame_replacement', 'soldering', 'cleaning', 'other')),
  problem_description text not null,
  work_done text,
  status text not null default 'received'
    constraint optical_repairs_status_check check (status in ('received', 'in_repair', 'ready', 'returned', 'cancelled')),
  received_at timestamptz not null default now(),
  promised_at timestamptz,
  ready_at timestamptz,
  returned_at timestamptz,
  estimated_cost numeric(12,2) constraint optical_repairs_estimated_cost_check check (estimated_cost >= 0),
  final_cost numeric(12,2) constraint optical_repairs_final_cost_check check (final_cost >= 0),
  is_under_warranty boolean not null default false,
  technician_user_id uuid references app_public.users (id) on delete restrict,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint optical_repairs_hospital_id_id_key unique (hospital_id, id),
  constraint optical_repairs_hospital_id_repair_number_key unique (hospital_id, repair_number),
  constraint optical_repairs_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint optical_repairs_optical_order_fkey foreign key (hospital_id, optical_order_id)
    references app_public.optical_orders (hospital_id, id) on delete set null (optical_order_id),
  constraint optical_repairs_customer_check check (patient_id is not null or customer_name is not null),
  constraint optical_repairs_dates_check check (
    (promised_at is null or promised_at >= received_at)
    and (ready_at is null or ready_at >= received_at)
    and (returned_at is null or returned_at >= received_at)),
  constraint optical_repairs_returned_check check (status <> 'returned' or returned_at is not null),
  constraint optical_repairs_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_optical_repairs__hospital_id_status_received_at on app_public.optical_repairs (hospital_id, status, received_at desc)
  where not is_deleted;
create index idx_optical_repairs__hospital_id_promised_at on app_public.optical_repairs (hospital_id, promised_at)
  where status in ('received', 'in_repair') and not is_deleted;
create index idx_optical_repairs__hospital_id_patient_id on app_public.optical_repairs (hospital_id, patient_id)
  where patient_id is not null;
create index idx_optical_repairs__hospital_id_optical_order_id on app_public.optical_repairs (hospital_id, optical_order_id)
  where optical_order_id is not null;
create index idx_optical_repairs__technician_user_id on app_public.optical_repairs (technician_user_id)
  where technician_user_id is not null;
create index idx_optical_repairs__customer_phone on app_public.optical_repairs (hospital_id, customer_phone)
  where customer_phone is not null;
create index idx_optical_repairs__customer_name_trgm on app_public.optical_repairs using gin (customer_name gin_trgm_ops);
comment on table app_public.optical_repairs is
  'A spectacle repair taken in at the optical counter, for a patient or a walk-in customer, from receipt to return.';
comment on column app_public.optical_repairs.repair_number is E'Human-readable number from id_sequences (document type \'optical_repair\'), e.g. OPR-NY-2026-000042-K.';
comment on column app_public.optical_repairs.patient_id is 'Registered patient who brought the item (null for a walk-in customer).';
comment on column app_public.optical_repairs.customer_name is 'Name of a walk-in customer; one of patient_id or this is required.';
comment on column app_public.optical_repairs.customer_phone is 'Phone to call when the repair is ready.';
comment on column app_public.optical_repairs.optical_order_id is 'The order the glasses were sold on, when they were bought here (decides the warranty).';
comment on column app_public.optical_repairs.item_description is 'The item received, e.g. black metal half-rim frame with progressive lenses.';
comment on column app_public.optical_repairs.repair_type is 'frame_adjustment, hinge, nose_pad, screw, lens_replacement, frame_replacement, soldering, cleaning or other.';
comment on column app_public.optical_repairs.problem_description is 'What the customer reports and the condition on receipt (scratches, missing parts).';
comment on column app_public.optical_repairs.work_done is 'What the technician did.';
comment on column app_public.optical_repairs.status is 'received, in_repair, ready, returned or cancelled.';
comment on column app_public.optical_repairs.received_at is 'When the item was taken in.';
comment on column app_public.optical_repairs.promised_at is 'When the repair was promised to the customer.';
comment on column app_public.optical_repairs.ready_at is 'When the repair was finished.';
comment on column app_public.optical_repairs.returned_at is 'When the item was handed back to the customer.';
comment on column app_public.optical_repairs.estimated_cost is 'Cost quoted to the customer on receipt.';
comment on column app_public.optical_repairs.final_cost is 'Amount charged (0 when covered by warranty).';
comment on column app_public.optical_repairs.is_under_warranty is 'True when the repair is done free under the product or shop warranty.';
comment on column app_public.optical_repairs.technician_user_id is 'Staff member who did the repair.';
comment on column app_public.optical_repairs.notes is 'Remarks for the counter.';

create trigger _100_stamp before insert or update on app_public.optical_repairs
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.optical_repairs
  for each row execute function app_hidden.tg__soft_delete_stamp();

--! split: 3000-billing.sql
/*
 * Billing — what a patient is charged and what the hospital collects. An invoice is made of
 * lines (invoice_items) that point back to what was rendered (a consultation, a dispensed
 * medicine, a lab order, an optical order line) so nothing is billed from memory and revenue can
 * be traced per doctor and department. Money arrives as payments (one receipt each) and leaves as
 * refunds; credit notes reduce what is owed without moving cash. At the end of a day the cashier's
 * collections are reconciled into one daily_settlements row per hospital, after which that day is
 * locked.
 *
 * Totals on invoices and settlements are derived data: they are maintained by triggers and jobs
 * from the lines, payments, refunds and credit notes (a later issue wires them), never written by
 * clients. Every amount is in the hospital's currency (hospitals.currency_code), copied onto the
 * invoice so a printed invoice stays true if the hospital's setting ever changes.
 */

/*
 * Invoices — the bill a patient (or whoever pays for them) receives. Drafts are edited freely;
 * issuing freezes the lines, after which only payments, refunds, credit notes or a void change
 * it. The split between the insurer's portion and the patient's portion is recorded here so the
 * cashier collects only the patient's share of a cashless case; the claim itself lives in
 * insurance_claims.
 */
create table app_public.invoices (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  invoice_number text not null,
  patient_id uuid not null,
  appointment_id uuid,
  dispensing_id uuid,
  optical_order_id uuid,
  invoice_type text not null default 'outpatient'
    constraint invoices_invoice_type_check check (invoice_type in ('outpatient', 'pharmacy', 'optical', 'lab', 'inpatient', 'other')),
  status text not null default 'draft'
    constraint invoices_status_check check (status in ('draft', 'issued', 'partially_paid', 'paid', 'void', 'refunded')),
  invoice_date date not null default current_date,
  issued_at timestamptz,
  issued_by uuid references app_public.users (id) on delete restrict,
  due_date date,
  currency_code char(3) not null constraint invoices_currency_code_check check (currency_code ~ '^[A-Z]{3}$'),
  subtotal numeric(12,2) not null default 0 constraint invoices_subtotal_check check (subtotal >= 0),
  discount_amount numeric(12,2) not null default 0 constraint invoices_discount_amount_check check (discount_amount >= 0),
  discount_reason text,
  discount_approved_by uuid references app_public.users (id) on delete restrict,
  tax_amount numeric(12,2) not null default 0 constraint invoices_tax_amount_check check (tax_amount >= 0),
  total_amount numeric(12,2) not null default 0 constraint invoices_total_amount_check check (total_amount >= 0),
  amount_paid numeric(12,2) not null default 0 constraint invoices_amount_paid_check check (amount_paid >= 0),
  amount_refunded numeric(12,2) not null default 0 constraint invoices_amount_refunded_check check (amount_refunded >= 0),
  amount_credited numeric(12,2) not null default 0 constraint invoices_amount_credited_check check (amount_credited >= 0),
  balance_due numeric(12,2) not null default 0 constraint invoices_balance_due_check check (balance_due >= 0),
  insurance_amount numeric(12,2) not null default 0 constraint invoices_insurance_amount_check check (insurance_amount >= 0),
  patient_amount numeric(12,2) not null default 0 constraint invoices_patient_amount_check check (patient_amount >= 0),
  paid_at timestamptz,
  bill_to_name text,
  bill_to_tax_identifier text,
  billing_address_line1 text,
  billing_address_line2 text,
  billing_city text,
  billing_state_province text,
  billing_postal_code text,
  billing_country_code char(2) constraint invoices_billing_country_code_check check (billing_country_code ~ '^[A-Z]{2}$'),
  notes text,
  void_reason text,
  voided_at timestamptz,
  voided_by uuid references app_public.users (id) on delete restrict,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint invoices_hospital_id_id_key unique (hospital_id, id),
  constraint invoices_hospital_id_invoice_number_key unique (hospital_id, invoice_number),
  constraint invoices_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint invoices_appointment_fkey foreign key (hospital_id, appointment_id)
    references app_public.appointments (hospital_id, id) on delete set null (appointment_id),
  constraint invoices_dispensing_fkey foreign key (hospital_id, dispensing_id)
    references app_public.pharmacy_dispensing (hospital_id, id) on delete set null (dispensing_id),
  constraint invoices_optical_order_fkey foreign key (hospital_id, optical_order_id)
    references app_public.optical_orders (hospital_id, id) on delete set null (optical_order_id),
  constraint invoices_due_date_check check (due_date is null or due_date >= invoice_date),
  constraint invoices_issued_check check (status in ('draft', 'void') or issued_at is not null),
  constraint invoices_void_check check (status <> 'void' or (voided_at is not null and void_reason is not null)),
  constraint invoices_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_invoices__hospital_id_patient_id_status on app_public.invoices (hospital_id, patient_id, status);
create index idx_invoices__hospital_id_invoice_date on app_public.invoices (hospital_id, invoice_date);
create index idx_invoices__open_by_due_date on app_public.invoices (hospital_id, due_date)
  where status in ('issued', 'partially_paid') and not is_deleted;
create index idx_invoices__hospital_id_appointment_id on app_public.invoices (hospital_id, appointment_id)
  where appointment_id is not null;
create index idx_invoices__hospital_id_dispensing_id on app_public.invoices (hospital_id, dispensing_id)
  where dispensing_id is not null;
create index idx_invoices__hospital_id_optical_order_id on app_public.invoices (hospital_id, optical_order_id)
  where optical_order_id is not null;
create index idx_invoices__issued_by on app_public.invoices (issued_by) where issued_by is not null;
create index idx_invoices__discount_approved_by on app_public.invoices (discount_approved_by) where discount_approved_by is not null;
create index idx_invoices__voided_by on app_public.invoices (voided_by) where voided_by is not null;
create index idx_invoices__bill_to_name_trgm on app_public.invoices using gin (bill_to_name gin_trgm_ops);
comment on table app_public.invoices is
  E'A bill to a patient: its lines, totals, what has been paid, refunded and credited, and the insurer''s and patient''s shares.';
comment on column app_public.invoices.invoice_number is
  E'Human-readable number from id_sequences (document type ''invoice''), e.g. INV-NY-2026-000042-K.';
comment on column app_public.invoices.patient_id is 'Patient billed.';
comment on column app_public.invoices.appointment_id is 'Visit this invoice bills, for outpatient invoices (null for walk-in pharmacy or optical sales).';
comment on column app_public.invoices.dispensing_id is 'Pharmacy dispensing this invoice bills, for pharmacy invoices.';
comment on column app_public.invoices.optical_order_id is 'Optical order this invoice bills, for optical invoices.';
comment on column app_public.invoices.invoice_type is 'Billing counter the invoice comes from: outpatient, pharmacy, optical, lab, inpatient or other.';
comment on column app_public.invoices.status is
  E'draft (being prepared), issued (final, nothing paid), partially_paid, paid, void (cancelled; keeps its number) or refunded (all money returned).';
comment on column app_public.invoices.invoice_date is E'Calendar day of the invoice in the hospital''s time zone (printed, and used for reports).';
comment on column app_public.invoices.issued_at is 'When the invoice was issued (made final); null while draft.';
comment on column app_public.invoices.issued_by is 'Staff member who issued the invoice.';
comment on column app_public.invoices.due_date is 'Day payment is due (null or the invoice date = due on issue).';
comment on column app_public.invoices.currency_code is E'ISO 4217 currency of every amount of the invoice, copied from the hospital when the invoice is created.';
comment on column app_public.invoices.subtotal is E'Sum of the lines before invoice-level discount and tax. Maintained by triggers from items; never client-written.';
comment on column app_public.invoices.discount_amount is E'Total discount given (line discounts plus any invoice-level discount). Maintained by triggers from items; never client-written.';
comment on column app_public.invoices.discount_reason is 'Why a discount was given (staff concession, senior citizen, package, …).';
comment on column app_public.invoices.discount_approved_by is 'Staff member who authorised the discount.';
comment on column app_public.invoices.tax_amount is 'Total tax of the lines. Maintained by triggers from items; never client-written.';
comment on column app_public.invoices.total_amount is 'Amount billed: subtotal less discount plus tax. Maintained by triggers from items; never client-written.';
comment on column app_public.invoices.amount_paid is 'Sum of completed payments. Maintained by triggers from payments; never client-written.';
comment on column app_public.invoices.amount_refunded is 'Sum of processed refunds. Maintained by triggers from refunds; never client-written.';
comment on column app_public.invoices.amount_credited is 'Sum of issued or applied credit notes. Maintained by triggers from credit notes; never client-written.';
comment on column app_public.invoices.balance_due is E'What is still owed: total less payments and credits plus refunds, never below 0. Maintained by triggers from items and payments; never client-written.';
comment on column app_public.invoices.insurance_amount is E'Insurer''s portion of the total (cashless cover or expected claim). Maintained by triggers; never client-written.';
comment on column app_public.invoices.patient_amount is E'Patient''s portion of the total (total less the insurer''s portion). Maintained by triggers; never client-written.';
comment on column app_public.invoices.paid_at is 'When the invoice became fully paid.';
comment on column app_public.invoices.bill_to_name is E'Name printed as the invoice addressee (the patient, a guardian or a company); defaults to the patient''s name.';
comment on column app_public.invoices.bill_to_tax_identifier is E'Tax registration of the addressee (GSTIN, VAT number) when a business is billed.';
comment on column app_public.invoices.billing_address_line1 is 'Billing address, first line.';
comment on column app_public.invoices.billing_address_line2 is 'Billing address, second line.';
comment on column app_public.invoices.billing_city is 'Billing address city.';
comment on column app_public.invoices.billing_state_province is 'Billing address state, province or region.';
comment on column app_public.invoices.billing_postal_code is 'Billing address postal / ZIP code.';
comment on column app_public.invoices.billing_country_code is 'Billing address ISO 3166-1 alpha-2 country code.';
comment on column app_public.invoices.notes is 'Free-text remarks printed on or kept with the invoice.';
comment on column app_public.invoices.void_reason is 'Why the invoice was voided (required when void).';
comment on column app_public.invoices.voided_at is 'When the invoice was voided.';
comment on column app_public.invoices.voided_by is 'Staff member who voided the invoice.';

create trigger _100_stamp before insert or update on app_public.invoices
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.invoices
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Invoice lines. Each line copies what it charged (description, code, price, tax rate) so the
 * invoice stays printable as issued even when prices or tax rules change, and links to its source
 * (appointment, dispensed item, lab order, optical order line, medicine batch) so a source is not
 * billed twice and returns can be credited precisely. doctor_id and department_id attribute the
 * revenue for doctor revenue sharing and department reports. Lines belong to their invoice and go
 * with it.
 */
create table app_public.invoice_items (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  invoice_id uuid not null,
  line_number integer not null constraint invoice_items_line_number_check check (line_number > 0),
  item_type text not null
    constraint invoice_items_item_type_check check (item_type in ('consultation', 'procedure', 'medicine', 'lab_test', 'optical', 'room', 'service', 'package', 'other')),
  description text not null constraint invoice_items_description_check check (length(trim(description)) between 1 and 500),
  service_code text,
  service_date date,
  appointment_id uuid,
  dispensing_item_id uuid,
  lab_order_id uuid,
  optical_order_item_id uuid,
  medicine_id uuid,
  batch_id uuid,
  doctor_id uuid,
  department_id uuid,
  quantity numeric(12,3) not null default 1 constraint invoice_items_quantity_check check (quantity > 0),
  unit_price numeric(12,2) not null constraint invoice_items_unit_price_check check (unit_price >= 0),
  discount_percent numeric(5,2) not null default 0
    constraint invoice_items_discount_percent_check check (discount_percent between 0 and 100),
  discount_amount numeric(12,2) not null default 0 constraint invoice_items_discount_amount_check check (discount_amount >= 0),
  price_includes_tax boolean not null default false,
  tax_configuration_id uuid,
  tax_percent numeric(5,2) not null default 0 constraint invoice_items_tax_percent_check check (tax_percent between 0 and 100),
  tax_amount numeric(12,2) not null default 0 constraint invoice_items_tax_amount_check check (tax_amount >= 0),
  line_total numeric(12,2) not null default 0 constraint invoice_items_line_total_check check (line_total >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint invoice_items_hospital_id_id_key unique (hospital_id, id),
  constraint invoice_items_hospital_id_invoice_id_line_number_key unique (hospital_id, invoice_id, line_number),
  constraint invoice_items_invoice_fkey foreign key (hospital_id, invoice_id)
    references app_public.invoices (hospital_id, id) on delete cascade,
  constraint invoice_items_appointment_fkey foreign key (hospital_id, appointment_id)
    references app_public.appointments (hospital_id, id) on delete set null (appointment_id),
  constraint invoice_items_dispensing_item_fkey foreign key (hospital_id, dispensing_item_id)
    references app_public.pharmacy_dispensing_items (hospital_id, id) on delete set null (dispensing_item_id),
  constraint invoice_items_lab_order_fkey foreign key (hospital_id, lab_order_id)
    references app_public.lab_orders (hospital_id, id) on delete set null (lab_order_id),
  constraint invoice_items_optical_order_item_fkey foreign key (hospital_id, optical_order_item_id)
    references app_public.optical_order_items (hospital_id, id) on delete set null (optical_order_item_id),
  constraint invoice_items_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete set null (medicine_id),
  constraint invoice_items_batch_fkey foreign key (hospital_id, batch_id)
    references app_public.medicine_batches (hospital_id, id) on delete set null (batch_id),
  constraint invoice_items_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete set null (doctor_id),
  constraint invoice_items_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete set null (department_id),
  constraint invoice_items_tax_configuration_fkey foreign key (hospital_id, tax_configuration_id)
    references app_public.tax_configurations (hospital_id, id) on delete set null (tax_configuration_id)
);
create index idx_invoice_items__hospital_id_appointment_id on app_public.invoice_items (hospital_id, appointment_id)
  where appointment_id is not null;
create index idx_invoice_items__hospital_id_dispensing_item_id on app_public.invoice_items (hospital_id, dispensing_item_id)
  where dispensing_item_id is not null;
create index idx_invoice_items__hospital_id_lab_order_id on app_public.invoice_items (hospital_id, lab_order_id)
  where lab_order_id is not null;
create index idx_invoice_items__hospital_id_optical_order_item_id on app_public.invoice_items (hospital_id, optical_order_item_id)
  where optical_order_item_id is not null;
create index idx_invoice_items__hospital_id_medicine_id on app_public.invoice_items (hospital_id, medicine_id)
  where medicine_id is not null;
create index idx_invoice_items__hospital_id_batch_id on app_public.invoice_items (hospital_id, batch_id)
  where batch_id is not null;
create index idx_invoice_items__hospital_id_doctor_id on app_public.invoice_items (hospital_id, doctor_id)
  where doctor_id is not null;
create index idx_invoice_items__hospital_id_department_id on app_public.invoice_items (hospital_id, department_id)
  where department_id is not null;
create index idx_invoice_items__hospital_id_tax_configuration_id on app_public.invoice_items (hospital_id, tax_configuration_id)
  where tax_configuration_id is not null;
comment on table app_public.invoice_items is
  E'A line of an invoice: what was charged, its quantity, price, discount and tax, and the clinical or pharmacy record it bills.';
comment on column app_public.invoice_items.invoice_id is 'Invoice the line belongs to (deleting a draft invoice deletes its lines).';
comment on column app_public.invoice_items.line_number is 'Position of the line on the invoice (1, 2, …), unique within the invoice.';
comment on column app_public.invoice_items.item_type is 'What is charged: consultation, procedure, medicine, lab_test, optical, room, service, package or other.';
comment on column app_public.invoice_items.description is 'Text printed on the line, copied from the source (e.g. Consultation — Dr. Lee, Paracetamol 500 mg tab).';
comment on column app_public.invoice_items.service_code is 'Billing code of the service: CPT, HCPCS or a local tariff code; used on insurance claims.';
comment on column app_public.invoice_items.service_date is 'Day the service was rendered, when it differs from the invoice date (e.g. each day of a room stay).';
comment on column app_public.invoice_items.appointment_id is 'Appointment (consultation) this line bills.';
comment on column app_public.invoice_items.dispensing_item_id is 'Dispensed medicine line this line bills.';
comment on column app_public.invoice_items.lab_order_id is 'Lab order this line bills.';
comment on column app_public.invoice_items.optical_order_item_id is 'Optical order line (frame, lens, …) this line bills.';
comment on column app_public.invoice_items.medicine_id is 'Medicine sold, for medicine lines.';
comment on column app_public.invoice_items.batch_id is 'Medicine batch sold (printed with its expiry date), for medicine lines.';
comment on column app_public.invoice_items.doctor_id is 'Doctor who performed the service, credited with the revenue for revenue sharing.';
comment on column app_public.invoice_items.department_id is 'Department credited with the revenue.';
comment on column app_public.invoice_items.quantity is 'Quantity charged (units, days, sessions; up to 3 decimals), greater than 0.';
comment on column app_public.invoice_items.unit_price is 'Price of one unit, copied from the tariff or batch when the line is added.';
comment on column app_public.invoice_items.discount_percent is 'Line discount in percent (0–100).';
comment on column app_public.invoice_items.discount_amount is 'Line discount as an amount (from the percent, or given directly).';
comment on column app_public.invoice_items.price_includes_tax is 'Whether unit_price already includes the tax (copied from the tax rule or hospital setting).';
comment on column app_public.invoice_items.tax_configuration_id is 'Tax rule applied to the line.';
comment on column app_public.invoice_items.tax_percent is 'Tax rate in percent (0–100) copied from the tax rule when the line is added, so later rate changes do not alter the invoice.';
comment on column app_public.invoice_items.tax_amount is 'Tax of the line. Maintained by triggers; never client-written.';
comment on column app_public.invoice_items.line_total is 'Amount of the line after discount, including tax. Maintained by triggers; never client-written.';

create trigger _100_stamp before insert or update on app_public.invoice_items
  for each row execute function app_hidden.tg__stamp();

/*
 * Payments — money received against an invoice, one receipt each. payment_date is the instant the
 * money counts for: the daily settlement of that day (in the hospital's time zone) includes it,
 * and once that day is settled no payment may be dated in it. Cheques and online payments may sit
 * in pending until they clear; a failed or cancelled payment stays on record with its receipt
 * number but no longer counts towards the invoice.
 */
create table app_public.payments (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  receipt_number text not null,
  invoice_id uuid not null,
  patient_id uuid not null,
  amount numeric(12,2) not null constraint payments_amount_check check (amount > 0),
  payment_method text not null
    constraint payments_payment_method_check check (payment_method in ('cash', 'card', 'upi', 'bank_transfer', 'cheque', 'mobile_wallet', 'insurance', 'online', 'other')),
  payment_date timestamptz not null default now(),
  status text not null default 'completed'
    constraint payments_status_check check (status in ('completed', 'pending', 'failed', 'cancelled')),
  payer_name text,
  reference_number text,
  card_last4 text constraint payments_card_last4_check check (card_last4 ~ '^[0-9]{4}$'),
  bank_name text,
  cheque_number text,
  cheque_date date,
  received_by uuid references app_public.users (id) on delete restrict,
  cancelled_at timestamptz,
  cancelled_by uuid references app_public.users (id) on delete restrict,
  cancellation_reason text,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint payments_hospital_id_id_key unique (hospital_id, id),
  constraint payments_hospital_id_receipt_number_key unique (hospital_id, receipt_number),
  constraint payments_invoice_fkey foreign key (hospital_id, invoice_id)
    references app_public.invoices (hospital_id, id) on delete restrict,
  constraint payments_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint payments_cheque_check check (payment_method <> 'cheque' or cheque_number is not null),
  constraint payments_cancelled_check check (status <> 'cancelled' or cancelled_at is not null),
  constraint payments_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_payments__hospital_id_invoice_id on app_public.payments (hospital_id, invoice_id);
create index idx_payments__hospital_id_patient_id on app_public.payments (hospital_id, patient_id);
create index idx_payments__hospital_id_payment_date on app_public.payments (hospital_id, payment_date);
create index idx_payments__pending on app_public.payments (hospital_id, payment_date)
  where status = 'pending' and not is_deleted;
create index idx_payments__received_by on app_public.payments (received_by) where received_by is not null;
create index idx_payments__cancelled_by on app_public.payments (cancelled_by) where cancelled_by is not null;
comment on table app_public.payments is
  E'Money received against an invoice (one receipt): amount, method, instrument details and who took it.';
comment on column app_public.payments.receipt_number is
  E'Human-readable number from id_sequences (document type ''receipt''), e.g. RCT-NY-2026-000042-K.';
comment on column app_public.payments.invoice_id is 'Invoice the payment is applied to.';
comment on column app_public.payments.patient_id is 'Patient whose invoice is paid (the same as the invoice patient).';
comment on column app_public.payments.amount is 'Amount received, greater than 0, in the hospital currency.';
comment on column app_public.payments.payment_method is 'How it was paid: cash, card, upi, bank_transfer, cheque, mobile_wallet, insurance, online or other.';
comment on column app_public.payments.payment_date is
  E'When the money was received; the hospital-local day of this instant is the settlement day it counts in.';
comment on column app_public.payments.status is
  E'completed (counts towards the invoice), pending (cheque or online payment not yet cleared), failed (bounced or declined) or cancelled (reversed by staff).';
comment on column app_public.payments.payer_name is 'Person who paid, when not the patient (relative, employer).';
comment on column app_public.payments.reference_number is 'Transaction reference of the instrument: card approval code, UPI/bank transaction id, wallet reference.';
comment on column app_public.payments.card_last4 is 'Last four digits of the card (never the full number).';
comment on column app_public.payments.bank_name is 'Bank of the card, cheque or transfer.';
comment on column app_public.payments.cheque_number is 'Cheque number (required for cheque payments).';
comment on column app_public.payments.cheque_date is 'Date written on the cheque.';
comment on column app_public.payments.received_by is 'Cashier who received the payment.';
comment on column app_public.payments.cancelled_at is 'When the payment was cancelled.';
comment on column app_public.payments.cancelled_by is 'Staff member who cancelled the payment.';
comment on column app_public.payments.cancellation_reason is 'Why the payment was cancelled or failed (wrong amount, cheque bounced, …).';
comment on column app_public.payments.notes is 'Free-text remarks.';

create trigger _100_stamp before insert or update on app_public.payments
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.payments
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Refunds — money paid back to a patient. A refund is requested, approved (above the hospital's
 * refund_approval_threshold by someone other than the requester) and then processed (cash handed
 * over or the card reversed). Only processed refunds count against the invoice and against the
 * settlement of the day they are processed in. A refund for returned medicines names the pharmacy
 * return it pays out.
 */
create table app_public.refunds (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  refund_number text not null,
  invoice_id uuid not null,
  payment_id uuid,
  patient_id uuid not null,
  pharmacy_return_id uuid,
  amount numeric(12,2) not null constraint refunds_amount_check check (amount > 0),
  refund_method text not null
    constraint refunds_refund_method_check check (refund_method in ('cash', 'card', 'upi', 'bank_transfer', 'cheque', 'mobile_wallet', 'insurance', 'online', 'other')),
  reason text not null
    constraint refunds_reason_check check (reason in ('service_not_rendered', 'overbilling', 'duplicate_payment', 'cancellation', 'insurance_adjustment', 'medicine_return', 'other')),
  reason_notes text,
  status text not null default 'requested'
    constraint refunds_status_check check (status in ('requested', 'approved', 'rejected', 'processed')),
  requested_at timestamptz not null default now(),
  requested_by uuid references app_public.users (id) on delete restrict,
  approved_at timestamptz,
  approved_by uuid references app_public.users (id) on delete restrict,
  rejected_at timestamptz,
  rejected_by uuid references app_public.users (id) on delete restrict,
  rejection_reason text,
  processed_at timestamptz,
  processed_by uuid references app_public.users (id) on delete restrict,
  reference_number text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint refunds_hospital_id_id_key unique (hospital_id, id),
  constraint refunds_hospital_id_refund_number_key unique (hospital_id, refund_number),
  constraint refunds_invoice_fkey foreign key (hospital_id, invoice_id)
    references app_public.invoices (hospital_id, id) on delete restrict,
  constraint refunds_payment_fkey foreign key (hospital_id, payment_id)
    references app_public.payments (hospital_id, id) on delete restrict,
  constraint refunds_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint refunds_pharmacy_return_fkey foreign key (hospital_id, pharmacy_return_id)
    references app_public.pharmacy_returns (hospital_id, id) on delete set null (pharmacy_return_id),
  constraint refunds_processed_check check (status <> 'processed' or processed_at is not null),
  constraint refunds_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_refunds__hospital_id_invoice_id on app_public.refunds (hospital_id, invoice_id);
create index idx_refunds__hospital_id_payment_id on app_public.refunds (hospital_id, payment_id) where payment_id is not null;
create index idx_refunds__hospital_id_patient_id on app_public.refunds (hospital_id, patient_id);
create index idx_refunds__hospital_id_pharmacy_return_id on app_public.refunds (hospital_id, pharmacy_return_id)
  where pharmacy_return_id is not null;
create index idx_refunds__hospital_id_processed_at on app_public.refunds (hospital_id, processed_at)
  where processed_at is not null;
create index idx_refunds__open on app_public.refunds (hospital_id, requested_at)
  where status in ('requested', 'approved') and not is_deleted;
create index idx_refunds__requested_by on app_public.refunds (requested_by) where requested_by is not null;
create index idx_refunds__approved_by on app_public.refunds (approved_by) where approved_by is not null;
create index idx_refunds__rejected_by on app_public.refunds (rejected_by) where rejected_by is not null;
create index idx_refunds__processed_by on app_public.refunds (processed_by) where processed_by is not null;
comment on table app_public.refunds is
  E'Money paid back to a patient against an invoice: why, how, and who requested, approved and processed it.';
comment on column app_public.refunds.refund_number is
  E'Human-readable number from id_sequences (document type ''refund''), e.g. RFD-NY-2026-000042-K.';
comment on column app_public.refunds.invoice_id is 'Invoice the refund is made against.';
comment on column app_public.refunds.payment_id is 'Payment being returned, when the refund reverses a specific payment (e.g. a card reversal).';
comment on column app_public.refunds.patient_id is 'Patient refunded (the same as the invoice patient).';
comment on column app_public.refunds.pharmacy_return_id is 'Pharmacy return the refund pays out, for medicine returns.';
comment on column app_public.refunds.amount is 'Amount refunded, greater than 0, in the hospital currency.';
comment on column app_public.refunds.refund_method is 'How the money goes back: cash, card, upi, bank_transfer, cheque, mobile_wallet, insurance, online or other.';
comment on column app_public.refunds.reason is
  'Why: service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return or other.';
comment on column app_public.refunds.reason_notes is 'Details of the reason.';
comment on column app_public.refunds.status is
  E'requested (awaiting approval), approved (may be paid out), rejected or processed (money returned; counts in the settlement).';
comment on column app_public.refunds.requested_at is 'When the refund was requested.';
comment on column app_public.refunds.requested_by is 'Staff member who requested the refund.';
comment on column app_public.refunds.approved_at is 'When the refund was approved.';
comment on column app_public.refunds.approved_by is 'Staff member who approved the refund.';
comment on column app_public.refunds.rejected_at is 'When the refund was rejected.';
comment on column app_public.refunds.rejected_by is 'Staff member who rejected the refund.';
comment on column app_public.refunds.rejection_reason is 'Why the refund was rejected.';
comment on column app_public.refunds.processed_at is
  E'When the money was returned; the hospital-local day of this instant is the settlement day it counts in.';
comment on column app_public.refunds.processed_by is 'Cashier who paid the refund out.';
comment on column app_public.refunds.reference_number is 'Transaction reference of the refund (card reversal id, bank transfer reference, cheque number).';

create trigger _100_stamp before insert or update on app_public.refunds
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.refunds
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Credit notes — a reduction of what an invoice asks for after it was issued (returned medicines,
 * an overcharge, an insurer's adjustment), without editing the issued invoice. Tax law in most
 * countries requires such a separate numbered document with the credited lines and their tax.
 * An applied credit note lowers the invoice balance; if more was already paid, the difference is
 * returned through a refund.
 */
create table app_public.credit_notes (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  credit_note_number text not null,
  invoice_id uuid not null,
  patient_id uuid not null,
  pharmacy_return_id uuid,
  amount numeric(12,2) not null constraint credit_notes_amount_check check (amount > 0),
  tax_amount numeric(12,2) not null default 0 constraint credit_notes_tax_amount_check check (tax_amount >= 0),
  reason text not null constraint credit_notes_reason_check check (length(trim(reason)) between 2 and 500),
  status text not null default 'draft'
    constraint credit_notes_status_check check (status in ('draft', 'issued', 'applied', 'void')),
  issued_at timestamptz,
  issued_by uuid references app_public.users (id) on delete restrict,
  applied_at timestamptz,
  voided_at timestamptz,
  voided_by uuid references app_public.users (id) on delete restrict,
  void_reason text,
  lines jsonb not null default '[]'::jsonb
    constraint credit_notes_lines_check check (jsonb_typeof(lines) = 'array'),
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint credit_notes_hospital_id_id_key unique (hospital_id, id),
  constraint credit_notes_hospital_id_credit_note_number_key unique (hospital_id, credit_note_number),
  constraint credit_notes_invoice_fkey foreign key (hospital_id, invoice_id)
    references app_public.invoices (hospital_id, id) on delete restrict,
  constraint credit_notes_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint credit_notes_pharmacy_return_fkey foreign key (hospital_id, pharmacy_return_id)
    references app_public.pharmacy_returns (hospital_id, id) on delete set null (pharmacy_return_id),
  constraint credit_notes_tax_within_amount_check check (tax_amount <= amount),
  constraint credit_notes_issued_check check (status in ('draft', 'void') or issued_at is not null),
  constraint credit_notes_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_credit_notes__hospital_id_invoice_id on app_public.credit_notes (hospital_id, invoice_id);
create index idx_credit_notes__hospital_id_patient_id on app_public.credit_notes (hospital_id, patient_id);
create index idx_credit_notes__hospital_id_pharmacy_return_id on app_public.credit_notes (hospital_id, pharmacy_return_id)
  where pharmacy_return_id is not null;
create index idx_credit_notes__hospital_id_issued_at on app_public.credit_notes (hospital_id, issued_at)
  where issued_at is not null;
create index idx_credit_notes__issued_by on app_public.credit_notes (issued_by) where issued_by is not null;
create index idx_credit_notes__voided_by on app_public.credit_notes (voided_by) where voided_by is not null;
comment on table app_public.credit_notes is
  E'A numbered document reducing what an issued invoice asks for (returns, overcharges, adjustments), with the credited lines and tax.';
comment on column app_public.credit_notes.credit_note_number is
  E'Human-readable number from id_sequences (document type ''credit_note''), e.g. CRN-NY-2026-000042-K.';
comment on column app_public.credit_notes.invoice_id is 'Invoice credited.';
comment on column app_public.credit_notes.patient_id is 'Patient of the credited invoice.';
comment on column app_public.credit_notes.pharmacy_return_id is 'Pharmacy return the credit note is for, when medicines were returned.';
comment on column app_public.credit_notes.amount is 'Total amount credited including tax, greater than 0.';
comment on column app_public.credit_notes.tax_amount is 'Tax included in the credited amount (reversed output tax).';
comment on column app_public.credit_notes.reason is 'Why the credit is given, printed on the credit note.';
comment on column app_public.credit_notes.status is
  E'draft (being prepared), issued (final and numbered), applied (deducted from the invoice balance) or void.';
comment on column app_public.credit_notes.issued_at is 'When the credit note was issued.';
comment on column app_public.credit_notes.issued_by is 'Staff member who issued the credit note.';
comment on column app_public.credit_notes.applied_at is 'When the credit was applied to the invoice balance.';
comment on column app_public.credit_notes.voided_at is 'When the credit note was voided.';
comment on column app_public.credit_notes.voided_by is 'Staff member who voided the credit note.';
comment on column app_public.credit_notes.void_reason is 'Why the credit note was voided.';
comment on column app_public.credit_notes.lines is
  E'Credited items as a JSON array, e.g. [{"invoice_item_id":"…","description":"Amoxicillin 500 mg cap","quantity":10,"unit_price":2.50,"tax_percent":5,"tax_amount":1.25,"amount":26.25}].';
comment on column app_public.credit_notes.notes is 'Free-text remarks.';

create trigger _100_stamp before insert or update on app_public.credit_notes
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.credit_notes
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Daily settlements — the end-of-day cash-up of a hospital: what was collected per payment
 * method, what was refunded, how much cash should be in the drawer and how much was counted.
 * There is one row per hospital and calendar day (in the hospital's time zone). The totals and
 * counts are computed by a job from the payments and refunds of that day, never typed in; staff
 * record only the counted cash and the reason for a variance. Once settled the day is locked:
 * payments or refunds dated in it are refused (enforced by a later trigger) until a supervisor
 * reopens it.
 */
create table app_public.daily_settlements (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  settlement_number text not null,
  settlement_date date not null,
  status text not null default 'open'
    constraint daily_settlements_status_check check (status in ('open', 'reconciling', 'settled', 'reopened')),
  cash_total numeric(12,2) not null default 0 constraint daily_settlements_cash_total_check check (cash_total >= 0),
  card_total numeric(12,2) not null default 0 constraint daily_settlements_card_total_check check (card_total >= 0),
  upi_total numeric(12,2) not null default 0 constraint daily_settlements_upi_total_check check (upi_total >= 0),
  bank_transfer_total numeric(12,2) not null default 0
    constraint daily_settlements_bank_transfer_total_check check (bank_transfer_total >= 0),
  cheque_total numeric(12,2) not null default 0 constraint daily_settlements_cheque_total_check check (cheque_total >= 0),
  wallet_total numeric(12,2) not null default 0 constraint daily_settlements_wallet_total_check check (wallet_total >= 0),
  insurance_total numeric(12,2) not null default 0 constraint daily_settlements_insurance_total_check check (insurance_total >= 0),
  other_total numeric(12,2) not null default 0 constraint daily_settlements_other_total_check check (other_total >= 0),
  gross_collections numeric(12,2) not null default 0
    constraint daily_settlements_gross_collections_check check (gross_collections >= 0),
  refunds_total numeric(12,2) not null default 0 constraint daily_settlements_refunds_total_check check (refunds_total >= 0),
  net_collections numeric(12,2) not null default 0,
  invoice_count integer not null default 0 constraint daily_settlements_invoice_count_check check (invoice_count >= 0),
  payment_count integer not null default 0 constraint daily_settlements_payment_count_check check (payment_count >= 0),
  refund_count integer not null default 0 constraint daily_settlements_refund_count_check check (refund_count >= 0),
  expected_cash numeric(12,2) not null default 0,
  counted_cash numeric(12,2) constraint daily_settlements_counted_cash_check check (counted_cash >= 0),
  cash_variance numeric(12,2),
  variance_reason text,
  computed_at timestamptz,
  settled_at timestamptz,
  settled_by uuid references app_public.users (id) on delete restrict,
  reopened_at timestamptz,
  reopened_by uuid references app_public.users (id) on delete restrict,
  reopen_reason text,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint daily_settlements_hospital_id_id_key unique (hospital_id, id),
  constraint daily_settlements_hospital_id_settlement_number_key unique (hospital_id, settlement_number),
  constraint daily_settlements_hospital_id_settlement_date_key unique (hospital_id, settlement_date),
  constraint daily_settlements_settled_check check (status <> 'settled' or settled_at is not null),
  constraint daily_settlements_reopened_check check (status <> 'reopened' or (reopened_at is not null and reopen_reason is not null))
);
create index idx_daily_settlements__unsettled on app_public.daily_settlements (hospital_id, settlement_date)
  where status <> 'settled';
create index idx_daily_settlements__settled_by on app_public.daily_settlements (settled_by) where settled_by is not null;
create index idx_daily_settlements__reopened_by on app_public.daily_settlements (reopened_by) where reopened_by is not null;
comment on table app_public.daily_settlements is
  E'End-of-day cash-up of a hospital: collections per payment method, refunds, expected and counted cash. One row per hospital and day; a settled day is locked: payments or refunds dated in it are refused (enforced by a later trigger).';
comment on column app_public.daily_settlements.settlement_number is
  E'Human-readable number from id_sequences (document type ''settlement''), e.g. STL-NY-2026-0042-K.';
comment on column app_public.daily_settlements.settlement_date is E'Calendar day settled, in the hospital''s time zone (one settlement per hospital and day).';
comment on column app_public.daily_settlements.status is
  E'open (day in progress), reconciling (cash being counted), settled (locked) or reopened (unlocked by a supervisor for corrections; must be settled again).';
comment on column app_public.daily_settlements.cash_total is 'Completed cash payments of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.card_total is 'Completed card payments of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.upi_total is 'Completed UPI payments of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.bank_transfer_total is 'Completed bank transfers of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.cheque_total is 'Completed cheque payments of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.wallet_total is 'Completed mobile wallet payments of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.insurance_total is 'Insurer payments received that day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.other_total is 'Completed online and other payments of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.gross_collections is 'Sum of all completed payments of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.refunds_total is 'Sum of refunds processed that day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.net_collections is
  'Gross collections less refunds (negative when refunds exceed collections). Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.invoice_count is 'Invoices issued that day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.payment_count is 'Completed payments of the day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.refund_count is 'Refunds processed that day. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.expected_cash is
  'Cash that should be in the drawer: cash payments less cash refunds. Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.counted_cash is 'Cash physically counted by the cashier at close.';
comment on column app_public.daily_settlements.cash_variance is
  'Counted cash less expected cash (negative = shortage). Computed by the settlement job; never client-written.';
comment on column app_public.daily_settlements.variance_reason is 'Explanation of a cash shortage or excess.';
comment on column app_public.daily_settlements.computed_at is 'When the settlement job last recomputed the totals.';
comment on column app_public.daily_settlements.settled_at is 'When the day was settled (locked).';
comment on column app_public.daily_settlements.settled_by is 'Staff member who settled the day.';
comment on column app_public.daily_settlements.reopened_at is 'When the settled day was last reopened.';
comment on column app_public.daily_settlements.reopened_by is 'Supervisor who reopened the day.';
comment on column app_public.daily_settlements.reopen_reason is 'Why the settled day was reopened (required when reopened).';
comment on column app_public.daily_settlements.notes is 'Free-text remarks of the cashier or supervisor.';

create trigger _100_stamp before insert or update on app_public.daily_settlements
  for each row execute function app_hidden.tg__stamp();

--! split: 3100-insurance.sql
/*
 * Insurance — who pays on a patient's behalf. Each hospital signs its own contracts with insurers,
 * government schemes, third-party administrators (TPAs) and corporates, so providers are per
 * hospital. A patient's cover is an insurance_policies row; planned treatment may need the
 * insurer's pre-authorization before it is given (cashless cases); after billing, the insurer's
 * portion of an invoice is claimed through insurance_claims and tracked until it is paid.
 *
 * Totals and status transitions (a claim moving from submitted to paid, a pre-authorization being
 * used by a claim, the invoice's insurer portion) are enforced by triggers and RPCs of a later
 * issue; this section holds the columns, keys and checks.
 */

/*
 * Insurance providers — the payers a hospital has a contract with, with how to reach them, how
 * claims are sent and the negotiated terms (discount, days to settle, cashless or not).
 */
create table app_public.insurance_providers (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  code text not null constraint insurance_providers_code_check check (code ~ '^[A-Z][A-Z0-9_]{1,19}$'),
  name text not null constraint insurance_providers_name_check check (length(trim(name)) between 2 and 200),
  provider_type text not null default 'private_insurer'
    constraint insurance_providers_provider_type_check check (provider_type in ('private_insurer', 'government_scheme', 'tpa', 'corporate', 'other')),
  payer_id text,
  contact_person text,
  contact_phone text constraint insurance_providers_contact_phone_check check (contact_phone ~ '^\+?[0-9 ()./-]{6,24}$'),
  contact_email citext constraint insurance_providers_contact_email_check check (contact_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  address_line1 text,
  address_line2 text,
  city text,
  state_province text,
  postal_code text,
  country_code char(2) constraint insurance_providers_country_code_check check (country_code ~ '^[A-Z]{2}$'),
  portal_url text,
  claim_submission_method text not null default 'portal'
    constraint insurance_providers_claim_submission_method_check check (claim_submission_method in ('portal', 'email', 'edi', 'paper')),
  claim_submission_email citext
    constraint insurance_providers_claim_submission_email_check check (claim_submission_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  settlement_days smallint constraint insurance_providers_settlement_days_check check (settlement_days between 0 and 365),
  contract_start_date date,
  contract_end_date date,
  discount_percent numeric(5,2) not null default 0
    constraint insurance_providers_discount_percent_check check (discount_percent between 0 and 100),
  is_cashless_enabled boolean not null default false,
  is_active boolean not null default true,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint insurance_providers_hospital_id_id_key unique (hospital_id, id),
  constraint insurance_providers_hospital_id_code_key unique (hospital_id, code),
  constraint insurance_providers_contract_dates_check check (contract_end_date is null or contract_start_date is null or contract_end_date >= contract_start_date),
  constraint insurance_providers_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_insurance_providers__name_trgm on app_public.insurance_providers using gin (name gin_trgm_ops);
comment on table app_public.insurance_providers is
  E'An insurer, government scheme, TPA or corporate payer the hospital has a contract with, and the terms of that contract.';
comment on column app_public.insurance_providers.code is 'Short code unique within the hospital (e.g. STAR_HEALTH), used on lists and exports.';
comment on column app_public.insurance_providers.name is 'Payer name as printed on claims, e.g. Star Health Insurance.';
comment on column app_public.insurance_providers.provider_type is 'private_insurer, government_scheme, tpa (third-party administrator), corporate or other.';
comment on column app_public.insurance_providers.payer_id is 'Identifier of the payer at the claims clearing house (electronic claims).';
comment on column app_public.insurance_providers.contact_person is 'Name of the contact at the payer (relationship manager, TPA desk).';
comment on column app_public.insurance_providers.contact_phone is 'Phone of the contact.';
comment on column app_public.insurance_providers.contact_email is 'Email of the contact.';
comment on column app_public.insurance_providers.address_line1 is 'Postal address, first line (where paper claims go).';
comment on column app_public.insurance_providers.address_line2 is 'Postal address, second line.';
comment on column app_public.insurance_providers.city is 'City.';
comment on column app_public.insurance_providers.state_province is 'State, province or region.';
comment on column app_public.insurance_providers.postal_code is 'Postal / ZIP code.';
comment on column app_public.insurance_providers.country_code is 'ISO 3166-1 alpha-2 country code.';
comment on column app_public.insurance_providers.portal_url is 'Web portal where pre-authorizations and claims are filed.';
comment on column app_public.insurance_providers.claim_submission_method is 'How claims are sent: portal, email, edi (electronic interchange) or paper.';
comment on column app_public.insurance_providers.claim_submission_email is 'Address claims are emailed to, when sent by email.';
comment on column app_public.insurance_providers.settlement_days is 'Days the contract gives the payer to settle an approved claim.';
comment on column app_public.insurance_providers.contract_start_date is 'First day of the current contract.';
comment on column app_public.insurance_providers.contract_end_date is 'Last day of the current contract (null = open-ended).';
comment on column app_public.insurance_providers.discount_percent is 'Negotiated discount (0–100 %) on the hospital tariff for this payer.';
comment on column app_public.insurance_providers.is_cashless_enabled is 'Whether the payer settles directly with the hospital (cashless), rather than reimbursing the patient.';
comment on column app_public.insurance_providers.is_active is 'False when the contract has ended; existing policies and claims stay.';
comment on column app_public.insurance_providers.notes is 'Free-text remarks (empanelment terms, escalation contacts).';

create trigger _100_stamp before insert or update on app_public.insurance_providers
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.insurance_providers
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Insurance policies — a patient's cover with one provider, as on the insurance card: numbers,
 * validity, limits and cost-sharing (co-pay, deductible, room rent cap). A patient may hold several
 * policies; at most one active one is primary and is tried first. A family policy shares one
 * policy number between members, each with a member id, so the natural key is per patient.
 */
create table app_public.insurance_policies (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  patient_id uuid not null,
  provider_id uuid not null,
  policy_number text not null constraint insurance_policies_policy_number_check check (length(trim(policy_number)) between 1 and 60),
  member_id text,
  group_number text,
  plan_name text,
  policy_holder_name text,
  relationship_to_holder text not null default 'self'
    constraint insurance_policies_relationship_to_holder_check check (relationship_to_holder in ('self', 'spouse', 'child', 'parent', 'other')),
  valid_from date,
  valid_to date,
  coverage_percent numeric(5,2) not null default 100
    constraint insurance_policies_coverage_percent_check check (coverage_percent between 0 and 100),
  annual_limit numeric(12,2) constraint insurance_policies_annual_limit_check check (annual_limit >= 0),
  remaining_limit numeric(12,2) constraint insurance_policies_remaining_limit_check check (remaining_limit >= 0),
  per_visit_limit numeric(12,2) constraint insurance_policies_per_visit_limit_check check (per_visit_limit >= 0),
  co_pay_amount numeric(12,2) not null default 0 constraint insurance_policies_co_pay_amount_check check (co_pay_amount >= 0),
  co_pay_percent numeric(5,2) not null default 0
    constraint insurance_policies_co_pay_percent_check check (co_pay_percent between 0 and 100),
  deductible_amount numeric(12,2) not null default 0
    constraint insurance_policies_deductible_amount_check check (deductible_amount >= 0),
  room_rent_limit numeric(12,2) constraint insurance_policies_room_rent_limit_check check (room_rent_limit >= 0),
  is_primary boolean not null default true,
  status text not null default 'active'
    constraint insurance_policies_status_check check (status in ('active', 'suspended', 'expired', 'cancelled')),
  verified_at timestamptz,
  verified_by uuid references app_public.users (id) on delete restrict,
  card_front_url text,
  card_back_url text,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint insurance_policies_hospital_id_id_key unique (hospital_id, id),
  constraint insurance_policies_patient_provider_policy_number_key unique (hospital_id, patient_id, provider_id, policy_number),
  constraint insurance_policies_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint insurance_policies_provider_fkey foreign key (hospital_id, provider_id)
    references app_public.insurance_providers (hospital_id, id) on delete restrict,
  constraint insurance_policies_validity_check check (valid_to is null or valid_from is null or valid_to >= valid_from),
  constraint insurance_policies_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_insurance_policies__hospital_id_provider_id_policy_number
  on app_public.insurance_policies (hospital_id, provider_id, policy_number);
create unique index idx_insurance_policies__one_primary_per_patient on app_public.insurance_policies (hospital_id, patient_id)
  where is_primary and status = 'active' and not is_deleted;
create index idx_insurance_policies__expiring on app_public.insurance_policies (hospital_id, valid_to)
  where status = 'active' and not is_deleted;
create index idx_insurance_policies__verified_by on app_public.insurance_policies (verified_by) where verified_by is not null;
comment on table app_public.insurance_policies is
  E'A patient''s insurance cover with one provider: card numbers, validity, limits and cost-sharing.';
comment on column app_public.insurance_policies.patient_id is 'Insured patient (the member covered).';
comment on column app_public.insurance_policies.provider_id is 'Insurer, scheme, TPA or corporate that provides the cover.';
comment on column app_public.insurance_policies.policy_number is 'Policy number as on the insurance card (shared by the members of a family policy).';
comment on column app_public.insurance_policies.member_id is 'Member / subscriber id of this patient under the policy.';
comment on column app_public.insurance_policies.group_number is 'Group (employer or scheme) number, for group policies.';
comment on column app_public.insurance_policies.plan_name is 'Plan or product name, e.g. Family Health Optima.';
comment on column app_public.insurance_policies.policy_holder_name is 'Name of the policy holder (the proposer; the patient when relationship is self).';
comment on column app_public.insurance_policies.relationship_to_holder is 'Patient relationship to the policy holder: self, spouse, child, parent or other.';
comment on column app_public.insurance_policies.valid_from is 'First day of cover.';
comment on column app_public.insurance_policies.valid_to is 'Last day of cover (null = not stated).';
comment on column app_public.insurance_policies.coverage_percent is 'Share of eligible charges the payer covers (0–100 %).';
comment on column app_public.insurance_policies.annual_limit is 'Sum insured per policy year (null = no stated limit).';
comment on column app_public.insurance_policies.remaining_limit is 'Part of the annual limit still available, as last verified with the payer.';
comment on column app_public.insurance_policies.per_visit_limit is 'Most the payer covers per visit or admission (null = no limit).';
comment on column app_public.insurance_policies.co_pay_amount is 'Fixed amount the patient pays per visit.';
comment on column app_public.insurance_policies.co_pay_percent is 'Share of eligible charges the patient pays (0–100 %).';
comment on column app_public.insurance_policies.deductible_amount is 'Amount the patient pays each policy year before the cover starts.';
comment on column app_public.insurance_policies.room_rent_limit is 'Most the payer covers per day of room rent (null = no cap).';
comment on column app_public.insurance_policies.is_primary is 'Whether this is the policy billed first (one active primary policy per patient).';
comment on column app_public.insurance_policies.status is 'active, suspended (premium unpaid, under review), expired or cancelled.';
comment on column app_public.insurance_policies.verified_at is 'When eligibility was last verified with the payer.';
comment on column app_public.insurance_policies.verified_by is 'Staff member who verified eligibility.';
comment on column app_public.insurance_policies.card_front_url is 'Scan of the front of the insurance card.';
comment on column app_public.insurance_policies.card_back_url is 'Scan of the back of the insurance card.';
comment on column app_public.insurance_policies.notes is 'Free-text remarks (exclusions, waiting periods).';

create trigger _100_stamp before insert or update on app_public.insurance_policies
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.insurance_policies
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Pre-authorizations — the insurer's approval, before treatment, of a planned procedure or
 * admission and of how much it will pay. A cashless case starts here; the approval has a
 * reference, an amount and an expiry, and is consumed by the claim that bills the treatment.
 */
create table app_public.pre_authorizations (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  pre_authorization_number text not null,
  policy_id uuid not null,
  patient_id uuid not null,
  provider_id uuid not null,
  appointment_id uuid,
  doctor_id uuid,
  requested_at timestamptz not null default now(),
  requested_by uuid references app_public.users (id) on delete restrict,
  procedure_description text not null
    constraint pre_authorizations_procedure_description_check check (length(trim(procedure_description)) between 2 and 2000),
  diagnosis_codes text[] not null default '{}',
  procedure_codes text[] not null default '{}',
  planned_date date,
  estimated_amount numeric(12,2) constraint pre_authorizations_estimated_amount_check check (estimated_amount >= 0),
  requested_amount numeric(12,2) not null constraint pre_authorizations_requested_amount_check check (requested_amount > 0),
  approved_amount numeric(12,2) constraint pre_authorizations_approved_amount_check check (approved_amount >= 0),
  status text not null default 'requested'
    constraint pre_authorizations_status_check check (status in ('requested', 'approved', 'partially_approved', 'denied', 'used', 'expired', 'cancelled')),
  insurer_reference text,
  decided_at timestamptz,
  denial_reason text,
  valid_until date,
  used_at timestamptz,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint pre_authorizations_hospital_id_id_key unique (hospital_id, id),
  constraint pre_authorizations_hospital_id_pre_authorization_number_key unique (hospital_id, pre_authorization_number),
  constraint pre_authorizations_policy_fkey foreign key (hospital_id, policy_id)
    references app_public.insurance_policies (hospital_id, id) on delete restrict,
  constraint pre_authorizations_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint pre_authorizations_provider_fkey foreign key (hospital_id, provider_id)
    references app_public.insurance_providers (hospital_id, id) on delete restrict,
  constraint pre_authorizations_appointment_fkey foreign key (hospital_id, appointment_id)
    references app_public.appointments (hospital_id, id) on delete set null (appointment_id),
  constraint pre_authorizations_doctor_fkey foreign key (hospital_id, doctor_id)
    references app_public.doctors (hospital_id, id) on delete set null (doctor_id),
  constraint pre_authorizations_approved_check check (status not in ('approved', 'partially_approved', 'used') or approved_amount is not null),
  constraint pre_authorizations_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_pre_authorizations__hospital_id_policy_id on app_public.pre_authorizations (hospital_id, policy_id);
create index idx_pre_authorizations__hospital_id_patient_id on app_public.pre_authorizations (hospital_id, patient_id);
create index idx_pre_authorizations__hospital_id_provider_id_status on app_public.pre_authorizations (hospital_id, provider_id, status);
create index idx_pre_authorizations__hospital_id_appointment_id on app_public.pre_authorizations (hospital_id, appointment_id)
  where appointment_id is not null;
create index idx_pre_authorizations__hospital_id_doctor_id on app_public.pre_authorizations (hospital_id, doctor_id)
  where doctor_id is not null;
create index idx_pre_authorizations__pending on app_public.pre_authorizations (hospital_id, requested_at)
  where status = 'requested' and not is_deleted;
create index idx_pre_authorizations__requested_by on app_public.pre_authorizations (requested_by) where requested_by is not null;
comment on table app_public.pre_authorizations is
  E'An insurer''s prior approval of a planned treatment and of the amount it will pay, used by the later claim.';
comment on column app_public.pre_authorizations.pre_authorization_number is
  E'Human-readable number from id_sequences (document type ''pre_authorization''), e.g. PAU-NY-2026-000042-K.';
comment on column app_public.pre_authorizations.policy_id is 'Policy the treatment is to be covered under.';
comment on column app_public.pre_authorizations.patient_id is 'Patient to be treated (the insured member of the policy).';
comment on column app_public.pre_authorizations.provider_id is 'Payer asked for approval (the provider of the policy).';
comment on column app_public.pre_authorizations.appointment_id is 'Visit at which the treatment was advised, if any.';
comment on column app_public.pre_authorizations.doctor_id is 'Treating doctor named on the request.';
comment on column app_public.pre_authorizations.requested_at is 'When the request was sent to the payer.';
comment on column app_public.pre_authorizations.requested_by is 'Staff member (insurance desk) who sent the request.';
comment on column app_public.pre_authorizations.procedure_description is 'Planned procedure or admission as described to the payer.';
comment on column app_public.pre_authorizations.diagnosis_codes is 'Diagnosis codes supporting the request (ICD-10, e.g. {H25.9}).';
comment on column app_public.pre_authorizations.procedure_codes is 'Codes of the planned procedures (CPT, HCPCS, ICD-10-PCS or the payer''s package codes).';
comment on column app_public.pre_authorizations.planned_date is 'Day the procedure or admission is planned.';
comment on column app_public.pre_authorizations.estimated_amount is 'Hospital estimate of the total cost of the treatment.';
comment on column app_public.pre_authorizations.requested_amount is 'Amount asked of the payer, greater than 0.';
comment on column app_public.pre_authorizations.approved_amount is 'Amount the payer approved (required once approved or partially approved).';
comment on column app_public.pre_authorizations.status is
  E'requested (awaiting the payer), approved, partially_approved, denied, used (consumed by a claim), expired or cancelled.';
comment on column app_public.pre_authorizations.insurer_reference is E'Payer''s reference (authorization / approval number) for the request.';
comment on column app_public.pre_authorizations.decided_at is 'When the payer answered.';
comment on column app_public.pre_authorizations.denial_reason is 'Reason the payer gave for a denial or partial approval.';
comment on column app_public.pre_authorizations.valid_until is 'Last day the approval may be used.';
comment on column app_public.pre_authorizations.used_at is 'When a claim consumed the approval.';
comment on column app_public.pre_authorizations.notes is 'Free-text remarks (queries from the payer, documents sent).';

create trigger _100_stamp before insert or update on app_public.pre_authorizations
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.pre_authorizations
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Insurance claims — a request to a payer to pay (part of) an invoice under a policy: cashless
 * (the payer pays the hospital) or reimbursement (the hospital prepares the papers and the payer
 * repays the patient). The claim follows the payer's decision and payment; what the payer does
 * not pay is the patient's responsibility.
 */
create table app_public.insurance_claims (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  claim_number text not null,
  invoice_id uuid not null,
  policy_id uuid not null,
  provider_id uuid not null,
  patient_id uuid not null,
  pre_authorization_id uuid,
  claim_type text not null default 'cashless'
    constraint insurance_claims_claim_type_check check (claim_type in ('cashless', 'reimbursement')),
  status text not null default 'draft'
    constraint insurance_claims_status_check check (status in ('draft', 'submitted', 'under_review', 'approved', 'partially_approved', 'denied', 'paid', 'cancelled')),
  claimed_amount numeric(12,2) not null constraint insurance_claims_claimed_amount_check check (claimed_amount > 0),
  approved_amount numeric(12,2) constraint insurance_claims_approved_amount_check check (approved_amount >= 0),
  paid_amount numeric(12,2) constraint insurance_claims_paid_amount_check check (paid_amount >= 0),
  patient_responsibility numeric(12,2)
    constraint insurance_claims_patient_responsibility_check check (patient_responsibility >= 0),
  diagnosis_codes text[] not null default '{}',
  denial_reason text,
  denial_code text,
  insurer_claim_reference text,
  submitted_at timestamptz,
  submitted_by uuid references app_public.users (id) on delete restrict,
  decided_at timestamptz,
  paid_at timestamptz,
  payment_reference text,
  documents jsonb not null default '[]'::jsonb
    constraint insurance_claims_documents_check check (jsonb_typeof(documents) = 'array'),
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint insurance_claims_hospital_id_id_key unique (hospital_id, id),
  constraint insurance_claims_hospital_id_claim_number_key unique (hospital_id, claim_number),
  constraint insurance_claims_invoice_fkey foreign key (hospital_id, invoice_id)
    references app_public.invoices (hospital_id, id) on delete restrict,
  constraint insurance_claims_policy_fkey foreign key (hospital_id, policy_id)
    references app_public.insurance_policies (hospital_id, id) on delete restrict,
  constraint insurance_claims_provider_fkey foreign key (hospital_id, provider_id)
    references app_public.insurance_providers (hospital_id, id) on delete restrict,
  constraint insurance_claims_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint insurance_claims_pre_authorization_fkey foreign key (hospital_id, pre_authorization_id)
    references app_public.pre_authorizations (hospital_id, id) on delete set null (pre_authorization_id),
  constraint insurance_claims_approved_within_claimed_check check (approved_amount is null or approved_amount <= claimed_amount),
  constraint insurance_claims_paid_within_approved_check check (paid_amount is null or approved_amount is null or paid_amount <= approved_amount),
  constraint insurance_claims_submitted_check check (status in ('draft', 'cancelled') or submitted_at is not null),
  constraint insurance_claims_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_insurance_claims__hospital_id_invoice_id on app_public.insurance_claims (hospital_id, invoice_id);
create index idx_insurance_claims__hospital_id_policy_id on app_public.insurance_claims (hospital_id, policy_id);
create index idx_insurance_claims__hospital_id_provider_id_status on app_public.insurance_claims (hospital_id, provider_id, status);
create index idx_insurance_claims__hospital_id_patient_id on app_public.insurance_claims (hospital_id, patient_id);
create index idx_insurance_claims__hospital_id_pre_authorization_id on app_public.insurance_claims (hospital_id, pre_authorization_id)
  where pre_authorization_id is not null;
create index idx_insurance_claims__outstanding on app_public.insurance_claims (hospital_id, submitted_at)
  where status in ('submitted', 'under_review', 'approved', 'partially_approved') and not is_deleted;
create index idx_insurance_claims__submitted_by on app_public.insurance_claims (submitted_by) where submitted_by is not null;
comment on table app_public.insurance_claims is
  E'A claim to a payer for (part of) an invoice under a policy, followed from submission to decision and payment.';
comment on column app_public.insurance_claims.claim_number is
  E'Human-readable number from id_sequences (document type ''insurance_claim''), e.g. CLM-NY-2026-000042-K.';
comment on column app_public.insurance_claims.invoice_id is 'Invoice claimed.';
comment on column app_public.insurance_claims.policy_id is 'Policy the claim is made under.';
comment on column app_public.insurance_claims.provider_id is 'Payer the claim is sent to (the provider of the policy).';
comment on column app_public.insurance_claims.patient_id is 'Patient treated (the insured member).';
comment on column app_public.insurance_claims.pre_authorization_id is 'Pre-authorization the claim uses, for planned cashless treatment.';
comment on column app_public.insurance_claims.claim_type is 'cashless (payer pays the hospital) or reimbursement (payer repays the patient).';
comment on column app_public.insurance_claims.status is
  E'draft, submitted, under_review (payer queried or assessing), approved, partially_approved, denied, paid or cancelled.';
comment on column app_public.insurance_claims.claimed_amount is 'Amount claimed from the payer, greater than 0.';
comment on column app_public.insurance_claims.approved_amount is 'Amount the payer approved; at most the claimed amount.';
comment on column app_public.insurance_claims.paid_amount is 'Amount the payer actually paid; at most the approved amount.';
comment on column app_public.insurance_claims.patient_responsibility is 'Part of the claimed charges the patient must pay (co-pay, deductible, disallowed items).';
comment on column app_public.insurance_claims.diagnosis_codes is 'Diagnosis codes on the claim (ICD-10, e.g. {E11.9,I10}).';
comment on column app_public.insurance_claims.denial_reason is 'Reason the payer gave for a denial or partial approval.';
comment on column app_public.insurance_claims.denial_code is 'Payer or standard denial / adjustment reason code (e.g. CARC 96).';
comment on column app_public.insurance_claims.insurer_claim_reference is E'Payer''s own reference for the claim.';
comment on column app_public.insurance_claims.submitted_at is 'When the claim was sent to the payer.';
comment on column app_public.insurance_claims.submitted_by is 'Staff member who submitted the claim.';
comment on column app_public.insurance_claims.decided_at is 'When the payer approved, partially approved or denied the claim.';
comment on column app_public.insurance_claims.paid_at is 'When the payer paid the claim.';
comment on column app_public.insurance_claims.payment_reference is 'Payer remittance reference (UTR, EFT or cheque number) of the payment.';
comment on column app_public.insurance_claims.documents is
  E'Documents attached to the claim as a JSON array, e.g. [{"type":"discharge_summary","url":"…","uploaded_at":"…"}].';
comment on column app_public.insurance_claims.notes is 'Free-text remarks (payer queries, follow-up).';

create trigger _100_stamp before insert or update on app_public.insurance_claims
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.insurance_claims
  for each row execute function app_hidden.tg__soft_delete_stamp();

--! split: 4000-supply-chain.sql
/*
 * Supply chain — how stock enters a hospital: the suppliers it buys from, the purchase orders it
 * raises, and the goods receipt notes (GRNs) that record what actually arrived.
 *
 * The flow is supplier → purchase order (draft → approved → sent → partially_received/received)
 * → GRN (draft → posted). Posting a GRN is the moment stock exists: a later issue's trigger creates
 * or tops up the medicine batch of each accepted GRN line, writes the `goods_receipt` movement in
 * `stock_movements` (4100) and adds the received quantity to the PO line. Links point backwards only
 * (CONVENTIONS.md): a GRN line names the batch it created; the batch does not name the GRN line.
 *
 * Lines say what they are with `item_type` — a medicine (2000), an optical product (2400) or a
 * consumable that is not stock-tracked (gloves, stationery: described in words only) — and a CHECK
 * makes exactly the matching reference present. All amounts are in the order's currency; header
 * totals are maintained from the lines by triggers of a later issue, never typed by clients.
 */

/*
 * Suppliers a hospital buys from: manufacturers, distributors, wholesalers, local vendors and the
 * optical labs that grind lenses. Pharmacies must keep the supplier's drug licence on file (and
 * stop buying when it lapses), accounts need tax and bank details to pay them, and purchasing
 * rates them and plans orders around their lead time.
 */
create table app_public.suppliers (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  code text not null constraint suppliers_code_check check (code ~ '^[A-Z][A-Z0-9_-]{1,19}$'),
  name text not null constraint suppliers_name_check check (length(trim(name)) between 2 and 200),
  supplier_type text not null default 'distributor'
    constraint suppliers_supplier_type_check check (supplier_type in ('manufacturer', 'distributor', 'wholesaler', 'local_vendor', 'optical_lab', 'other')),
  contact_person text,
  phone text constraint suppliers_phone_check check (phone ~ '^\+?[0-9 ()./-]{6,24}$'),
  alternate_phone text constraint suppliers_alternate_phone_check check (alternate_phone ~ '^\+?[0-9 ()./-]{6,24}$'),
  email citext constraint suppliers_email_check check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  website text,
  address_line1 text,
  address_line2 text,
  city text,
  state_province text,
  postal_code text,
  country_code char(2) constraint suppliers_country_code_check check (country_code ~ '^[A-Z]{2}$'),
  tax_identifier text,
  drug_licence_number text,
  drug_licence_expiry date,
  payment_terms_days smallint not null default 30
    constraint suppliers_payment_terms_days_check check (payment_terms_days between 0 and 365),
  credit_limit numeric(12,2) constraint suppliers_credit_limit_check check (credit_limit >= 0),
  currency_code char(3) constraint suppliers_currency_code_check check (currency_code ~ '^[A-Z]{3}$'),
  bank_name text,
  bank_account_name text,
  bank_account_number text,
  bank_routing_code text,
  bank_swift_code text
    constraint suppliers_bank_swift_code_check check (bank_swift_code ~ '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
  rating smallint constraint suppliers_rating_check check (rating between 1 and 5),
  lead_time_days smallint constraint suppliers_lead_time_days_check check (lead_time_days between 0 and 365),
  is_active boolean not null default true,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint suppliers_hospital_id_id_key unique (hospital_id, id),
  constraint suppliers_hospital_id_code_key unique (hospital_id, code),
  constraint suppliers_drug_licence_check check (drug_licence_expiry is null or drug_licence_number is not null),
  constraint suppliers_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_suppliers__name_trgm on app_public.suppliers using gin (name gin_trgm_ops);
create index idx_suppliers__hospital_id_supplier_type on app_public.suppliers (hospital_id, supplier_type)
  where is_active and not is_deleted;
create index idx_suppliers__hospital_id_drug_licence_expiry on app_public.suppliers (hospital_id, drug_licence_expiry)
  where drug_licence_expiry is not null and is_active and not is_deleted;
comment on table app_public.suppliers is
  E'A supplier the hospital buys medicines, optical products and consumables from, with licence, tax, payment and bank details.';
comment on column app_public.suppliers.code is 'Short code unique within the hospital (2–20 capitals, digits, _ or -), e.g. MEDPLUS.';
comment on column app_public.suppliers.name is 'Trading name printed on purchase orders, e.g. MedPlus Distributors.';
comment on column app_public.suppliers.supplier_type is 'manufacturer, distributor, wholesaler, local_vendor, optical_lab or other.';
comment on column app_public.suppliers.contact_person is 'Name of the sales or account contact at the supplier.';
comment on column app_public.suppliers.phone is 'Main phone, international format preferred.';
comment on column app_public.suppliers.alternate_phone is 'Second phone (e.g. the contact person''s mobile).';
comment on column app_public.suppliers.email is 'Email purchase orders are sent to.';
comment on column app_public.suppliers.website is 'Supplier website or ordering portal URL.';
comment on column app_public.suppliers.address_line1 is 'Street address, first line.';
comment on column app_public.suppliers.address_line2 is 'Street address, second line.';
comment on column app_public.suppliers.city is 'City.';
comment on column app_public.suppliers.state_province is 'State, province or region (decides intra- or inter-state tax where that matters).';
comment on column app_public.suppliers.postal_code is 'Postal / ZIP code.';
comment on column app_public.suppliers.country_code is 'ISO 3166-1 alpha-2 country code.';
comment on column app_public.suppliers.tax_identifier is 'Supplier tax registration (GSTIN, VAT number, EIN, …) printed on purchase orders.';
comment on column app_public.suppliers.drug_licence_number is 'Wholesale drug licence number; required by law before buying medicines from the supplier in many countries.';
comment on column app_public.suppliers.drug_licence_expiry is 'Last day the drug licence is valid; purchasing is warned before and blocked after it.';
comment on column app_public.suppliers.payment_terms_days is 'Days after the supplier invoice date payment is due (0 = cash on delivery).';
comment on column app_public.suppliers.credit_limit is 'Maximum outstanding amount the supplier allows (null = not agreed).';
comment on column app_public.suppliers.currency_code is 'ISO 4217 currency the supplier invoices in (null = the hospital''s currency).';
comment on column app_public.suppliers.bank_name is 'Bank the supplier is paid into.';
comment on column app_public.suppliers.bank_account_name is 'Account holder name as registered at the bank.';
comment on column app_public.suppliers.bank_account_number is
  E'Bank account number or IBAN, stored in full for payment runs; the console shows only its last four characters.';
comment on column app_public.suppliers.bank_routing_code is 'Branch routing code of the account: IFSC (India), ABA routing number (US), sort code (UK), BSB, ….';
comment on column app_public.suppliers.bank_swift_code is 'SWIFT/BIC code of the bank (8 or 11 characters) for international transfers.';
comment on column app_public.suppliers.rating is 'Purchasing''s rating of the supplier from 1 (poor) to 5 (excellent): quality, punctuality, service.';
comment on column app_public.suppliers.lead_time_days is 'Usual days between sending a purchase order and delivery; used to plan reorders.';
comment on column app_public.suppliers.is_active is 'False when the hospital no longer buys from the supplier; past orders stay readable.';
comment on column app_public.suppliers.notes is 'Free-text notes (delivery days, escalation contacts, agreed discounts).';

create trigger _100_stamp before insert or update on app_public.suppliers
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.suppliers
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Purchase orders: what the hospital asks a supplier to deliver, at what price and when. A store
 * (department) raises a draft, a manager approves it, purchasing sends it; goods receipts then move
 * it to partially_received and received. Orders are never hard-deleted once sent: they are
 * cancelled with a reason. The status columns and the timestamps/actors of each transition are
 * stored here; the workflow (legal transitions, who may approve) comes in a later issue.
 */
create table app_public.purchase_orders (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  po_number text not null,
  supplier_id uuid not null,
  department_id uuid,
  status text not null default 'draft'
    constraint purchase_orders_status_check check (status in ('draft', 'approved', 'sent', 'partially_received', 'received', 'cancelled')),
  is_urgent boolean not null default false,
  order_date date not null default current_date,
  expected_delivery_date date,
  supplier_quotation_reference text,
  approved_by uuid references app_public.users (id) on delete restrict,
  approved_at timestamptz,
  sent_at timestamptz,
  closed_at timestamptz,
  cancelled_at timestamptz,
  cancelled_by uuid references app_public.users (id) on delete restrict,
  cancellation_reason text,
  subtotal numeric(12,2) not null default 0 constraint purchase_orders_subtotal_check check (subtotal >= 0),
  discount_amount numeric(12,2) not null default 0
    constraint purchase_orders_discount_amount_check check (discount_amount >= 0),
  tax_amount numeric(12,2) not null default 0 constraint purchase_orders_tax_amount_check check (tax_amount >= 0),
  shipping_amount numeric(12,2) not null default 0
    constraint purchase_orders_shipping_amount_check check (shipping_amount >= 0),
  total_amount numeric(12,2) not null default 0
    constraint purchase_orders_total_amount_check check (total_amount >= 0),
  currency_code char(3) constraint purchase_orders_currency_code_check check (currency_code ~ '^[A-Z]{3}$'),
  payment_terms text,
  delivery_address text,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint purchase_orders_hospital_id_id_key unique (hospital_id, id),
  constraint purchase_orders_hospital_id_po_number_key unique (hospital_id, po_number),
  constraint purchase_orders_supplier_fkey foreign key (hospital_id, supplier_id)
    references app_public.suppliers (hospital_id, id) on delete restrict,
  constraint purchase_orders_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete restrict,
  constraint purchase_orders_expected_delivery_date_check check (expected_delivery_date is null or expected_delivery_date >= order_date),
  constraint purchase_orders_discount_check check (discount_amount <= subtotal),
  constraint purchase_orders_totals_check check (total_amount = subtotal - discount_amount + tax_amount + shipping_amount),
  constraint purchase_orders_approved_check check (status in ('draft', 'cancelled') or approved_at is not null),
  constraint purchase_orders_sent_check check (status not in ('sent', 'partially_received', 'received') or sent_at is not null),
  constraint purchase_orders_cancelled_check check ((status = 'cancelled') = (cancelled_at is not null)),
  constraint purchase_orders_cancellation_reason_check check (status <> 'cancelled' or cancellation_reason is not null),
  constraint purchase_orders_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_purchase_orders__hospital_id_supplier_id on app_public.purchase_orders (hospital_id, supplier_id, order_date desc);
create index idx_purchase_orders__hospital_id_department_id on app_public.purchase_orders (hospital_id, department_id)
  where department_id is not null;
create index idx_purchase_orders__approved_by on app_public.purchase_orders (approved_by) where approved_by is not null;
create index idx_purchase_orders__cancelled_by on app_public.purchase_orders (cancelled_by) where cancelled_by is not null;
create index idx_purchase_orders__hospital_id_order_date on app_public.purchase_orders (hospital_id, order_date desc)
  where not is_deleted;
create index idx_purchase_orders__hospital_id_status_expected_delivery_date on app_public.purchase_orders (hospital_id, status, expected_delivery_date)
  where not is_deleted and status in ('draft', 'approved', 'sent', 'partially_received');
comment on table app_public.purchase_orders is
  E'A purchase order sent to a supplier: header, workflow state and totals (the lines are purchase_order_items).';
comment on column app_public.purchase_orders.po_number is
  E'Human-readable number from id_sequences (document type ''purchase_order''), e.g. PO-NY-2026-000042-K.';
comment on column app_public.purchase_orders.supplier_id is 'Supplier the order is placed with.';
comment on column app_public.purchase_orders.department_id is 'Requesting store or department (e.g. main pharmacy, optical store); null = central purchasing.';
comment on column app_public.purchase_orders.status is
  E'draft, approved, sent, partially_received, received or cancelled. Receipts (GRNs) move it to partially_received/received.';
comment on column app_public.purchase_orders.is_urgent is 'Marked urgent (stock-out or emergency need); shown first to approvers and the supplier.';
comment on column app_public.purchase_orders.order_date is 'Date of the order as printed on it.';
comment on column app_public.purchase_orders.expected_delivery_date is 'Date the supplier is expected to deliver; overdue open orders are chased.';
comment on column app_public.purchase_orders.supplier_quotation_reference is 'Supplier quotation or rate-contract reference the prices come from.';
comment on column app_public.purchase_orders.approved_by is 'User who approved the order.';
comment on column app_public.purchase_orders.approved_at is 'When the order was approved (required from approved on).';
comment on column app_public.purchase_orders.sent_at is 'When the order was sent to the supplier (required from sent on).';
comment on column app_public.purchase_orders.closed_at is 'When the order was closed: fully received, or short-closed with the remainder no longer expected.';
comment on column app_public.purchase_orders.cancelled_at is 'When the order was cancelled (set exactly when status is cancelled).';
comment on column app_public.purchase_orders.cancelled_by is 'User who cancelled the order.';
comment on column app_public.purchase_orders.cancellation_reason is 'Why the order was cancelled (required when cancelled).';
comment on column app_public.purchase_orders.subtotal is
  E'Sum of the lines'' quantity × unit cost before discount. Maintained from the lines by a trigger (later issue).';
comment on column app_public.purchase_orders.discount_amount is 'Total discount of the lines. Maintained by a trigger (later issue).';
comment on column app_public.purchase_orders.tax_amount is 'Total tax of the lines. Maintained by a trigger (later issue).';
comment on column app_public.purchase_orders.shipping_amount is 'Freight and delivery charges agreed with the supplier.';
comment on column app_public.purchase_orders.total_amount is
  E'Order value: subtotal − discount + tax + shipping. Maintained by a trigger (later issue); clients never send it.';
comment on column app_public.purchase_orders.currency_code is 'ISO 4217 currency of every amount on the order (null = the hospital''s currency).';
comment on column app_public.purchase_orders.payment_terms is 'Payment terms printed on the order, e.g. Net 30; copied from the supplier by default.';
comment on column app_public.purchase_orders.delivery_address is 'Where the supplier delivers (store address, dock, contact) if not the hospital''s main address.';
comment on column app_public.purchase_orders.notes is 'Notes printed on the order or kept for purchasing.';

create trigger _100_stamp before insert or update on app_public.purchase_orders
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.purchase_orders
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Lines of a purchase order (deleted with it). Quantities are in the item's base unit (tablets,
 * ml, pieces); pack_size records how the supplier packs them. quantity_received is the running
 * total of accepted receipts against the line, maintained from posted GRN lines by a later
 * trigger; over-receipt is refused (a surplus delivery needs a new order or a direct GRN).
 */
create table app_public.purchase_order_items (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  purchase_order_id uuid not null,
  line_number smallint not null constraint purchase_order_items_line_number_check check (line_number > 0),
  item_type text not null
    constraint purchase_order_items_item_type_check check (item_type in ('medicine', 'optical_product', 'consumable')),
  medicine_id uuid,
  optical_product_id uuid,
  description text,
  pack_size integer not null default 1 constraint purchase_order_items_pack_size_check check (pack_size > 0),
  quantity_ordered integer not null constraint purchase_order_items_quantity_ordered_check check (quantity_ordered > 0),
  quantity_received integer not null default 0
    constraint purchase_order_items_quantity_received_check check (quantity_received >= 0),
  free_quantity integer not null default 0 constraint purchase_order_items_free_quantity_check check (free_quantity >= 0),
  unit_cost numeric(12,2) not null constraint purchase_order_items_unit_cost_check check (unit_cost >= 0),
  discount_percent numeric(5,2) not null default 0
    constraint purchase_order_items_discount_percent_check check (discount_percent between 0 and 100),
  tax_percent numeric(5,2) not null default 0
    constraint purchase_order_items_tax_percent_check check (tax_percent between 0 and 100),
  line_total numeric(12,2) not null default 0 constraint purchase_order_items_line_total_check check (line_total >= 0),
  expected_date date,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint purchase_order_items_hospital_id_id_key unique (hospital_id, id),
  constraint purchase_order_items_purchase_order_id_line_number_key unique (hospital_id, purchase_order_id, line_number),
  constraint purchase_order_items_purchase_order_fkey foreign key (hospital_id, purchase_order_id)
    references app_public.purchase_orders (hospital_id, id) on delete cascade,
  constraint purchase_order_items_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint purchase_order_items_optical_product_fkey foreign key (hospital_id, optical_product_id)
    references app_public.optical_products (hospital_id, id) on delete restrict,
  constraint purchase_order_items_item_check check (
    case item_type
      when 'medicine' then medicine_id is not null and optical_product_id is null
      when 'optical_product' then optical_product_id is not null and medicine_id is null
      else medicine_id is null and optical_product_id is null and description is not null
    end),
  constraint purchase_order_items_quantity_received_max_check check (quantity_received <= quantity_ordered)
);
create index idx_purchase_order_items__hospital_id_medicine_id on app_public.purchase_order_items (hospital_id, medicine_id)
  where medicine_id is not null;
create index idx_purchase_order_items__hospital_id_optical_product_id on app_public.purchase_order_items (hospital_id, optical_product_id)
  where optical_product_id is not null;
comment on table app_public.purchase_order_items is
  E'A line of a purchase order: one medicine, optical product or consumable, quantity and agreed price.';
comment on column app_public.purchase_order_items.purchase_order_id is 'Order the line belongs to (deleted with it).';
comment on column app_public.purchase_order_items.line_number is 'Position of the line on the printed order (1, 2, …), unique within the order.';
comment on column app_public.purchase_order_items.item_type is
  E'medicine, optical_product or consumable. A medicine line names medicine_id, an optical line optical_product_id, a consumable line only a description.';
comment on column app_public.purchase_order_items.medicine_id is 'Medicine ordered (item_type medicine).';
comment on column app_public.purchase_order_items.optical_product_id is 'Optical product ordered (item_type optical_product).';
comment on column app_public.purchase_order_items.description is 'Item description as printed on the order (required for consumables, e.g. Nitrile gloves, size M).';
comment on column app_public.purchase_order_items.pack_size is
  E'Base units per supplier pack (e.g. 100 tablets per box), copied from the item; quantities stay in base units and the printed order shows quantity_ordered / pack_size packs.';
comment on column app_public.purchase_order_items.quantity_ordered is 'Quantity ordered, in base units (> 0).';
comment on column app_public.purchase_order_items.quantity_received is
  E'Paid quantity received so far, in base units (0 … quantity_ordered). Maintained from posted GRN lines by a trigger (later issue).';
comment on column app_public.purchase_order_items.free_quantity is 'Bonus quantity the supplier gives free with the order (e.g. 10 + 1), in base units.';
comment on column app_public.purchase_order_items.unit_cost is 'Agreed purchase price per base unit, before discount and tax.';
comment on column app_public.purchase_order_items.discount_percent is 'Trade discount on the line, in percent (0–100).';
comment on column app_public.purchase_order_items.tax_percent is 'Tax rate applied to the line, in percent (0–100).';
comment on column app_public.purchase_order_items.line_total is
  E'quantity_ordered × unit_cost less discount plus tax. Maintained by a trigger (later issue).';
comment on column app_public.purchase_order_items.expected_date is 'Delivery date for this line when it differs from the order''s expected date (staggered deliveries).';
comment on column app_public.purchase_order_items.notes is 'Notes for the supplier about this line (brand preference, packing, minimum shelf life).';

create trigger _100_stamp before insert or update on app_public.purchase_order_items
  for each row execute function app_hidden.tg__stamp();

/*
 * Goods receipt notes: what arrived from a supplier, checked against the supplier's invoice and
 * (optionally) a purchase order. Direct receipts without a PO are allowed (local emergency buys).
 * A GRN is entered as a draft while the goods are inspected; posting it puts the accepted
 * quantities into stock (trigger of a later issue) and it can then no longer be edited, only
 * cancelled (which reverses the stock). The same supplier invoice cannot be entered twice.
 */
create table app_public.goods_receipt_notes (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  grn_number text not null,
  purchase_order_id uuid,
  supplier_id uuid not null,
  department_id uuid,
  received_at timestamptz not null default now(),
  received_by uuid references app_public.users (id) on delete restrict,
  supplier_invoice_number text,
  supplier_invoice_date date,
  supplier_invoice_amount numeric(12,2)
    constraint goods_receipt_notes_supplier_invoice_amount_check check (supplier_invoice_amount >= 0),
  delivery_note_number text,
  status text not null default 'draft'
    constraint goods_receipt_notes_status_check check (status in ('draft', 'posted', 'cancelled')),
  inspection_status text not null default 'pending'
    constraint goods_receipt_notes_inspection_status_check check (inspection_status in ('pending', 'passed', 'failed', 'partial')),
  inspected_by uuid references app_public.users (id) on delete restrict,
  inspected_at timestamptz,
  posted_at timestamptz,
  posted_by uuid references app_public.users (id) on delete restrict,
  cancelled_at timestamptz,
  cancelled_by uuid references app_public.users (id) on delete restrict,
  cancellation_reason text,
  subtotal numeric(12,2) not null default 0 constraint goods_receipt_notes_subtotal_check check (subtotal >= 0),
  discount_amount numeric(12,2) not null default 0
    constraint goods_receipt_notes_discount_amount_check check (discount_amount >= 0),
  tax_amount numeric(12,2) not null default 0 constraint goods_receipt_notes_tax_amount_check check (tax_amount >= 0),
  shipping_amount numeric(12,2) not null default 0
    constraint goods_receipt_notes_shipping_amount_check check (shipping_amount >= 0),
  total_amount numeric(12,2) not null default 0
    constraint goods_receipt_notes_total_amount_check check (total_amount >= 0),
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint goods_receipt_notes_hospital_id_id_key unique (hospital_id, id),
  constraint goods_receipt_notes_hospital_id_grn_number_key unique (hospital_id, grn_number),
  constraint goods_receipt_notes_purchase_order_fkey foreign key (hospital_id, purchase_order_id)
    references app_public.purchase_orders (hospital_id, id) on delete restrict,
  constraint goods_receipt_notes_supplier_fkey foreign key (hospital_id, supplier_id)
    references app_public.suppliers (hospital_id, id) on delete restrict,
  constraint goods_receipt_notes_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete restrict,
  constraint goods_receipt_notes_discount_check check (discount_amount <= subtotal),
  constraint goods_receipt_notes_totals_check check (total_amount = subtotal - discount_amount + tax_amount + shipping_amount),
  constraint goods_receipt_notes_posted_check check (status <> 'posted' or posted_at is not null),
  constraint goods_receipt_notes_inspected_check check (inspection_status = 'pending' or inspected_at is not null),
  constraint goods_receipt_notes_cancelled_check check ((status = 'cancelled') = (cancelled_at is not null)),
  constraint goods_receipt_notes_cancellation_reason_check check (status <> 'cancelled' or cancellation_reason is not null),
  constraint goods_receipt_notes_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_goods_receipt_notes__hospital_id_purchase_order_id on app_public.goods_receipt_notes (hospital_id, purchase_order_id)
  where purchase_order_id is not null;
create index idx_goods_receipt_notes__hospital_id_supplier_id on app_public.goods_receipt_notes (hospital_id, supplier_id, received_at desc);
create index idx_goods_receipt_notes__hospital_id_department_id on app_public.goods_receipt_notes (hospital_id, department_id)
  where department_id is not null;
create index idx_goods_receipt_notes__received_by on app_public.goods_receipt_notes (received_by) where received_by is not null;
create index idx_goods_receipt_notes__inspected_by on app_public.goods_receipt_notes (inspected_by) where inspected_by is not null;
create index idx_goods_receipt_notes__posted_by on app_public.goods_receipt_notes (posted_by) where posted_by is not null;
create index idx_goods_receipt_notes__cancelled_by on app_public.goods_receipt_notes (cancelled_by) where cancelled_by is not null;
create index idx_goods_receipt_notes__hospital_id_received_at on app_public.goods_receipt_notes (hospital_id, received_at desc)
  where not is_deleted;
create index idx_goods_receipt_notes__hospital_id_status on app_public.goods_receipt_notes (hospital_id, status, received_at)
  where not is_deleted and status = 'draft';
create unique index idx_goods_receipt_notes__supplier_invoice on app_public.goods_receipt_notes (hospital_id, supplier_id, supplier_invoice_number)
  where supplier_invoice_number is not null and status <> 'cancelled' and not is_deleted;
comment on table app_public.goods_receipt_notes is
  E'A goods receipt note (GRN): one delivery from a supplier, matched to its invoice and optionally to a purchase order.';
comment on column app_public.goods_receipt_notes.grn_number is
  E'Human-readable number from id_sequences (document type ''goods_receipt''), e.g. GRN-NY-2026-000042-K.';
comment on column app_public.goods_receipt_notes.purchase_order_id is 'Purchase order the delivery is against (null = direct receipt without an order).';
comment on column app_public.goods_receipt_notes.supplier_id is 'Supplier who delivered (the order''s supplier when there is an order).';
comment on column app_public.goods_receipt_notes.department_id is 'Store or department that received the goods (e.g. main pharmacy); null = central store.';
comment on column app_public.goods_receipt_notes.received_at is 'When the goods physically arrived.';
comment on column app_public.goods_receipt_notes.received_by is 'Store staff member who took delivery.';
comment on column app_public.goods_receipt_notes.supplier_invoice_number is 'Number of the supplier''s invoice for this delivery; unique per supplier among GRNs that are not cancelled.';
comment on column app_public.goods_receipt_notes.supplier_invoice_date is 'Date of the supplier''s invoice; payment falls due from it.';
comment on column app_public.goods_receipt_notes.supplier_invoice_amount is 'Total of the supplier''s invoice as printed, to reconcile with total_amount.';
comment on column app_public.goods_receipt_notes.delivery_note_number is 'Supplier''s delivery note / challan number.';
comment on column app_public.goods_receipt_notes.status is
  E'draft (being checked), posted (stock updated; no longer editable) or cancelled.';
comment on column app_public.goods_receipt_notes.inspection_status is
  E'Quality inspection of the delivery: pending, passed, failed or partial (some lines rejected).';
comment on column app_public.goods_receipt_notes.inspected_by is 'Pharmacist or store officer who inspected the goods.';
comment on column app_public.goods_receipt_notes.inspected_at is 'When the inspection was completed (required once it is no longer pending).';
comment on column app_public.goods_receipt_notes.posted_at is 'When the GRN was posted into stock (required when posted).';
comment on column app_public.goods_receipt_notes.posted_by is 'User who posted the GRN.';
comment on column app_public.goods_receipt_notes.cancelled_at is 'When the GRN was cancelled (set exactly when status is cancelled).';
comment on column app_public.goods_receipt_notes.cancelled_by is 'User who cancelled the GRN.';
comment on column app_public.goods_receipt_notes.cancellation_reason is 'Why the GRN was cancelled (required when cancelled).';
comment on column app_public.goods_receipt_notes.subtotal is
  E'Sum of the lines'' quantity received × unit cost before discount. Maintained from the lines by a trigger (later issue).';
comment on column app_public.goods_receipt_notes.discount_amount is 'Total discount of the lines. Maintained by a trigger (later issue).';
comment on column app_public.goods_receipt_notes.tax_amount is 'Total tax of the lines. Maintained by a trigger (later issue).';
comment on column app_public.goods_receipt_notes.shipping_amount is 'Freight and delivery charges on the supplier invoice.';
comment on column app_public.goods_receipt_notes.total_amount is
  E'Receipt value: subtotal − discount + tax + shipping. Maintained by a trigger (later issue); clients never send it.';
comment on column app_public.goods_receipt_notes.notes is 'Notes on the delivery (condition of packaging, cold-chain temperature, shortages).';

create trigger _100_stamp before insert or update on app_public.goods_receipt_notes
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.goods_receipt_notes
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Lines of a GRN (deleted with it while it is a draft). A medicine line carries the batch number
 * and expiry printed on the pack — without them the medicine cannot be dispensed first-expiry-first-
 * out. quantity_received is what was delivered and invoiced, free_quantity the bonus units,
 * quantity_rejected what inspection refused; the accepted quantity goes into stock. When the GRN is
 * posted a later trigger creates or tops up the medicine batch and records it in batch_id.
 */
create table app_public.grn_items (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  grn_id uuid not null,
  line_number smallint not null constraint grn_items_line_number_check check (line_number > 0),
  purchase_order_item_id uuid,
  item_type text not null
    constraint grn_items_item_type_check check (item_type in ('medicine', 'optical_product', 'consumable')),
  medicine_id uuid,
  optical_product_id uuid,
  description text,
  batch_number text,
  manufacture_date date,
  expiry_date date,
  quantity_received integer not null constraint grn_items_quantity_received_check check (quantity_received > 0),
  free_quantity integer not null default 0 constraint grn_items_free_quantity_check check (free_quantity >= 0),
  quantity_rejected integer not null default 0 constraint grn_items_quantity_rejected_check check (quantity_rejected >= 0),
  quantity_accepted integer generated always as (quantity_received + free_quantity - quantity_rejected) stored,
  rejection_reason text,
  unit_cost numeric(12,2) not null constraint grn_items_unit_cost_check check (unit_cost >= 0),
  mrp numeric(12,2) constraint grn_items_mrp_check check (mrp >= 0),
  selling_price numeric(12,2) constraint grn_items_selling_price_check check (selling_price >= 0),
  discount_percent numeric(5,2) not null default 0
    constraint grn_items_discount_percent_check check (discount_percent between 0 and 100),
  tax_percent numeric(5,2) not null default 0 constraint grn_items_tax_percent_check check (tax_percent between 0 and 100),
  line_total numeric(12,2) not null default 0 constraint grn_items_line_total_check check (line_total >= 0),
  batch_id uuid,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint grn_items_hospital_id_id_key unique (hospital_id, id),
  constraint grn_items_grn_id_line_number_key unique (hospital_id, grn_id, line_number),
  constraint grn_items_grn_fkey foreign key (hospital_id, grn_id)
    references app_public.goods_receipt_notes (hospital_id, id) on delete cascade,
  constraint grn_items_purchase_order_item_fkey foreign key (hospital_id, purchase_order_item_id)
    references app_public.purchase_order_items (hospital_id, id) on delete restrict,
  constraint grn_items_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint grn_items_optical_product_fkey foreign key (hospital_id, optical_product_id)
    references app_public.optical_products (hospital_id, id) on delete restrict,
  constraint grn_items_batch_fkey foreign key (hospital_id, medicine_id, batch_id)
    references app_public.medicine_batches (hospital_id, medicine_id, id) on delete set null (batch_id),
  constraint grn_items_item_check check (
    case item_type
      when 'medicine' then medicine_id is not null and optical_product_id is null
      when 'optical_product' then optical_product_id is not null and medicine_id is null and batch_id is null
      else medicine_id is null and optical_product_id is null and batch_id is null and description is not null
    end),
  constraint grn_items_medicine_batch_check check (item_type <> 'medicine' or (batch_number is not null and expiry_date is not null)),
  constraint grn_items_dates_check check (manufacture_date is null or expiry_date is null or expiry_date > manufacture_date),
  constraint grn_items_quantity_rejected_max_check check (quantity_rejected <= quantity_received + free_quantity),
  constraint grn_items_rejection_reason_check check (quantity_rejected = 0 or rejection_reason is not null),
  constraint grn_items_mrp_selling_price_check check (mrp is null or selling_price is null or selling_price <= mrp)
);
create index idx_grn_items__hospital_id_purchase_order_item_id on app_public.grn_items (hospital_id, purchase_order_item_id)
  where purchase_order_item_id is not null;
create index idx_grn_items__hospital_id_medicine_id_batch_id on app_public.grn_items (hospital_id, medicine_id, batch_id)
  where medicine_id is not null;
create index idx_grn_items__hospital_id_optical_product_id on app_public.grn_items (hospital_id, optical_product_id)
  where optical_product_id is not null;
comment on table app_public.grn_items is
  E'A line of a goods receipt note: item, batch and expiry, quantities received, free and rejected, and cost.';
comment on column app_public.grn_items.grn_id is 'Goods receipt note the line belongs to (deleted with it).';
comment on column app_public.grn_items.line_number is 'Position of the line on the GRN (1, 2, …), unique within the GRN.';
comment on column app_public.grn_items.purchase_order_item_id is 'Purchase order line this delivery fulfils (null for direct receipts and unordered items).';
comment on column app_public.grn_items.item_type is
  E'medicine, optical_product or consumable. A medicine line names medicine_id, an optical line optical_product_id, a consumable line only a description.';
comment on column app_public.grn_items.medicine_id is 'Medicine received (item_type medicine).';
comment on column app_public.grn_items.optical_product_id is 'Optical product received (item_type optical_product).';
comment on column app_public.grn_items.description is 'Item description as on the supplier invoice (required for consumables).';
comment on column app_public.grn_items.batch_number is 'Manufacturer batch / lot number printed on the pack (required for medicines).';
comment on column app_public.grn_items.manufacture_date is 'Manufacturing date printed on the pack.';
comment on column app_public.grn_items.expiry_date is 'Expiry date printed on the pack (required for medicines; after manufacture_date).';
comment on column app_public.grn_items.quantity_received is 'Quantity delivered and invoiced, in base units (> 0).';
comment on column app_public.grn_items.free_quantity is 'Bonus units delivered free of charge, in base units.';
comment on column app_public.grn_items.quantity_rejected is 'Units refused at inspection (damaged, short expiry, wrong item), at most received + free.';
comment on column app_public.grn_items.quantity_accepted is 'Units that go into stock: quantity_received + free_quantity − quantity_rejected (computed).';
comment on column app_public.grn_items.rejection_reason is 'Why units were rejected (required when quantity_rejected > 0).';
comment on column app_public.grn_items.unit_cost is 'Invoiced purchase price per base unit, before discount and tax.';
comment on column app_public.grn_items.mrp is 'Maximum retail price per base unit printed on the pack, where the law prints one.';
comment on column app_public.grn_items.selling_price is 'Price per base unit the hospital will charge patients for this batch (at most the MRP).';
comment on column app_public.grn_items.discount_percent is 'Trade discount on the line, in percent (0–100).';
comment on column app_public.grn_items.tax_percent is 'Tax rate on the supplier invoice for the line, in percent (0–100).';
comment on column app_public.grn_items.line_total is
  E'quantity_received × unit_cost less discount plus tax. Maintained by a trigger (later issue).';
comment on column app_public.grn_items.batch_id is
  E'Medicine batch (of medicine_id) created or topped up when the GRN was posted (set by a later trigger; null while a draft).';
comment on column app_public.grn_items.notes is 'Notes on the line (storage condition on arrival, short-expiry acceptance).';

create trigger _100_stamp before insert or update on app_public.grn_items
  for each row execute function app_hidden.tg__stamp();

--! split: 4100-stock.sql
/*
 * Stock — the ledger of every unit that enters or leaves a hospital's stock, and the two
 * documents by which staff correct it: adjustments (damage, loss, found stock, …) and cycle
 * counts (physical counts compared with the system).
 *
 * `stock_movements` is THE LEDGER (DESIGN.md §8): append-only, and written only by triggers of a
 * later issue — posting a GRN line (+), dispensing (−, batches first-expiry-first-out), patient
 * returns (+), approving an adjustment (±), approving a cycle count (variance), optical sales and
 * returns. Nobody inserts, updates or deletes a movement directly. For medicines the unit of stock
 * is the batch (medicine_batches), for optical products the product itself; every batch/product
 * balance equals the sum of its movements, and `balance_after` records that balance so a stock
 * card is read without summing. Quantities are integers in the item's base unit.
 *
 * stock_adjustments and cycle_count_items are created first because movements point at them.
 */

/*
 * Stock adjustments: a one-off correction of one batch (or optical product) with a reason —
 * breakage, expiry write-off, theft, stock found, a data-entry correction. Because they change the
 * books, they are requested, then approved by someone else; only approval writes the movement
 * (later issue). Rejected and cancelled adjustments stay for audit.
 */
create table app_public.stock_adjustments (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  adjustment_number text not null,
  item_type text not null constraint stock_adjustments_item_type_check check (item_type in ('medicine', 'optical_product')),
  medicine_id uuid,
  batch_id uuid,
  optical_product_id uuid,
  quantity_change integer not null constraint stock_adjustments_quantity_change_check check (quantity_change <> 0),
  reason text not null
    constraint stock_adjustments_reason_check check (reason in ('damage', 'expiry', 'theft_loss', 'found', 'data_correction', 'donation', 'sample', 'return_to_supplier', 'other')),
  reason_notes text,
  status text not null default 'draft'
    constraint stock_adjustments_status_check check (status in ('draft', 'pending_approval', 'approved', 'rejected', 'cancelled')),
  requested_by uuid references app_public.users (id) on delete restrict,
  requested_at timestamptz,
  approved_by uuid references app_public.users (id) on delete restrict,
  approved_at timestamptz,
  rejected_by uuid references app_public.users (id) on delete restrict,
  rejected_at timestamptz,
  rejection_reason text,
  unit_cost numeric(12,2) constraint stock_adjustments_unit_cost_check check (unit_cost >= 0),
  value_change numeric(12,2),
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint stock_adjustments_hospital_id_id_key unique (hospital_id, id),
  constraint stock_adjustments_hospital_id_adjustment_number_key unique (hospital_id, adjustment_number),
  constraint stock_adjustments_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint stock_adjustments_batch_fkey foreign key (hospital_id, medicine_id, batch_id)
    references app_public.medicine_batches (hospital_id, medicine_id, id) on delete restrict,
  constraint stock_adjustments_optical_product_fkey foreign key (hospital_id, optical_product_id)
    references app_public.optical_products (hospital_id, id) on delete restrict,
  constraint stock_adjustments_item_check check (
    case item_type
      when 'medicine' then medicine_id is not null and batch_id is not null and optical_product_id is null
      else optical_product_id is not null and medicine_id is null and batch_id is null
    end),
  constraint stock_adjustments_reason_sign_check check (
    case
      when reason in ('damage', 'expiry', 'theft_loss', 'return_to_supplier') then quantity_change < 0
      when reason = 'found' then quantity_change > 0
      else true
    end),
  constraint stock_adjustments_reason_notes_check check (reason not in ('other', 'data_correction') or reason_notes is not null),
  constraint stock_adjustments_requested_check check (status = 'draft' or requested_at is not null),
  constraint stock_adjustments_approved_check check (status <> 'approved' or approved_at is not null),
  constraint stock_adjustments_rejected_check check ((status = 'rejected') = (rejected_at is not null)),
  constraint stock_adjustments_rejection_reason_check check (status <> 'rejected' or rejection_reason is not null),
  constraint stock_adjustments_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_stock_adjustments__hospital_id_medicine_id_batch_id on app_public.stock_adjustments (hospital_id, medicine_id, batch_id)
  where medicine_id is not null;
create index idx_stock_adjustments__hospital_id_optical_product_id on app_public.stock_adjustments (hospital_id, optical_product_id)
  where optical_product_id is not null;
create index idx_stock_adjustments__requested_by on app_public.stock_adjustments (requested_by) where requested_by is not null;
create index idx_stock_adjustments__approved_by on app_public.stock_adjustments (approved_by) where approved_by is not null;
create index idx_stock_adjustments__rejected_by on app_public.stock_adjustments (rejected_by) where rejected_by is not null;
create index idx_stock_adjustments__hospital_id_created_at on app_public.stock_adjustments (hospital_id, created_at desc)
  where not is_deleted;
create index idx_stock_adjustments__hospital_id_status on app_public.stock_adjustments (hospital_id, status, requested_at)
  where not is_deleted and status in ('draft', 'pending_approval');
comment on table app_public.stock_adjustments is
  E'A requested correction of the stock of one medicine batch or optical product, with its reason and approval.';
comment on column app_public.stock_adjustments.adjustment_number is
  E'Human-readable number from id_sequences (document type ''stock_adjustment''), e.g. ADJ-NY-2026-000042-K.';
comment on column app_public.stock_adjustments.item_type is 'medicine (names medicine_id and batch_id) or optical_product (names optical_product_id).';
comment on column app_public.stock_adjustments.medicine_id is 'Medicine adjusted (item_type medicine).';
comment on column app_public.stock_adjustments.batch_id is 'Medicine batch whose quantity changes (item_type medicine); must be a batch of medicine_id.';
comment on column app_public.stock_adjustments.optical_product_id is 'Optical product adjusted (item_type optical_product).';
comment on column app_public.stock_adjustments.quantity_change is
  E'Units added (+) or removed (−), in base units, never 0. damage, expiry, theft_loss and return_to_supplier remove; found adds.';
comment on column app_public.stock_adjustments.reason is
  E'damage, expiry, theft_loss, found, data_correction, donation, sample, return_to_supplier or other.';
comment on column app_public.stock_adjustments.reason_notes is 'What happened, in words (required for data_correction and other).';
comment on column app_public.stock_adjustments.status is
  E'draft, pending_approval, approved (movement written), rejected or cancelled.';
comment on column app_public.stock_adjustments.requested_by is 'User who requested the adjustment.';
comment on column app_public.stock_adjustments.requested_at is 'When the adjustment was submitted for approval (required from pending_approval on).';
comment on column app_public.stock_adjustments.approved_by is 'User who approved the adjustment (someone other than the requester).';
comment on column app_public.stock_adjustments.approved_at is 'When the adjustment was approved and stock changed (required when approved).';
comment on column app_public.stock_adjustments.rejected_by is 'User who rejected the adjustment.';
comment on column app_public.stock_adjustments.rejected_at is 'When the adjustment was rejected (set exactly when status is rejected).';
comment on column app_public.stock_adjustments.rejection_reason is 'Why the approver rejected it (required when rejected).';
comment on column app_public.stock_adjustments.unit_cost is 'Cost per base unit used to value the adjustment (the batch''s purchase cost).';
comment on column app_public.stock_adjustments.value_change is 'Value of the adjustment: quantity_change × unit_cost (negative for a loss).';

create trigger _100_stamp before insert or update on app_public.stock_adjustments
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.stock_adjustments
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Cycle counts: a physical count of part (or all) of the stock. When counting starts the system
 * quantity of every batch/product in scope is snapshotted into cycle_count_items; staff enter what
 * they find; a supervisor approves, and approval writes one cycle_count_variance movement per line
 * that differs (later issue). Totals are maintained from the lines by a later trigger.
 */
create table app_public.cycle_counts (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  count_number text not null,
  count_date date not null default current_date,
  scope text not null default 'partial'
    constraint cycle_counts_scope_check check (scope in ('full', 'partial', 'medicine_category', 'location')),
  category text,
  location text,
  department_id uuid,
  status text not null default 'draft'
    constraint cycle_counts_status_check check (status in ('draft', 'counting', 'counted', 'approved', 'cancelled')),
  started_at timestamptz,
  counted_by uuid references app_public.users (id) on delete restrict,
  completed_at timestamptz,
  approved_by uuid references app_public.users (id) on delete restrict,
  approved_at timestamptz,
  cancelled_at timestamptz,
  total_variance_quantity integer not null default 0,
  total_variance_value numeric(12,2) not null default 0,
  notes text,
  is_deleted boolean not null default false,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint cycle_counts_hospital_id_id_key unique (hospital_id, id),
  constraint cycle_counts_hospital_id_count_number_key unique (hospital_id, count_number),
  constraint cycle_counts_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete restrict,
  constraint cycle_counts_category_check check (scope <> 'medicine_category' or category is not null),
  constraint cycle_counts_location_check check (scope <> 'location' or location is not null or department_id is not null),
  constraint cycle_counts_started_check check (status not in ('counting', 'counted', 'approved') or started_at is not null),
  constraint cycle_counts_completed_check check (status not in ('counted', 'approved') or completed_at is not null),
  constraint cycle_counts_approved_check check (status <> 'approved' or approved_at is not null),
  constraint cycle_counts_cancelled_check check ((status = 'cancelled') = (cancelled_at is not null)),
  constraint cycle_counts_dates_check check (completed_at is null or started_at is null or completed_at >= started_at),
  constraint cycle_counts_deleted_check check (is_deleted = (deleted_at is not null))
);
create index idx_cycle_counts__hospital_id_department_id on app_public.cycle_counts (hospital_id, department_id)
  where department_id is not null;
create index idx_cycle_counts__counted_by on app_public.cycle_counts (counted_by) where counted_by is not null;
create index idx_cycle_counts__approved_by on app_public.cycle_counts (approved_by) where approved_by is not null;
create index idx_cycle_counts__hospital_id_count_date on app_public.cycle_counts (hospital_id, count_date desc)
  where not is_deleted;
create index idx_cycle_counts__hospital_id_status on app_public.cycle_counts (hospital_id, status, count_date)
  where not is_deleted and status in ('draft', 'counting', 'counted');
comment on table app_public.cycle_counts is
  E'A physical stock count (full or partial), its workflow and total variance; the counted lines are cycle_count_items.';
comment on column app_public.cycle_counts.count_number is
  E'Human-readable number from id_sequences (document type ''cycle_count''), e.g. CC-NY-2026-000042-K.';
comment on column app_public.cycle_counts.count_date is 'Day the count is (or was) carried out.';
comment on column app_public.cycle_counts.scope is
  E'What is counted: full (all stock), partial (chosen items), medicine_category (one category) or location (one store or shelf area).';
comment on column app_public.cycle_counts.category is 'Medicine category counted, e.g. Antibiotics (required when scope is medicine_category).';
comment on column app_public.cycle_counts.location is 'Shelf, rack or storage area counted, e.g. Cold room 2 (scope location).';
comment on column app_public.cycle_counts.department_id is 'Store or department whose stock is counted (null = the hospital''s central stock).';
comment on column app_public.cycle_counts.status is
  E'draft, counting (system quantities snapshotted), counted, approved (variances posted to stock) or cancelled.';
comment on column app_public.cycle_counts.started_at is 'When counting started and system quantities were snapshotted.';
comment on column app_public.cycle_counts.counted_by is 'User responsible for the count (team lead).';
comment on column app_public.cycle_counts.completed_at is 'When counting finished (required from counted on).';
comment on column app_public.cycle_counts.approved_by is 'Supervisor who approved the variances.';
comment on column app_public.cycle_counts.approved_at is 'When the count was approved and its variances posted (required when approved).';
comment on column app_public.cycle_counts.cancelled_at is 'When the count was cancelled (set exactly when status is cancelled).';
comment on column app_public.cycle_counts.total_variance_quantity is
  E'Sum of the lines'' variance in base units (negative = shortage). Maintained from the lines by a trigger (later issue).';
comment on column app_public.cycle_counts.total_variance_value is
  E'Sum of the lines'' variance value (negative = loss). Maintained from the lines by a trigger (later issue).';
comment on column app_public.cycle_counts.notes is 'Notes on the count (team, conditions, follow-up actions).';

create trigger _100_stamp before insert or update on app_public.cycle_counts
  for each row execute function app_hidden.tg__stamp();
create trigger _110_soft_delete before insert or update on app_public.cycle_counts
  for each row execute function app_hidden.tg__soft_delete_stamp();

/*
 * Lines of a cycle count (deleted with it): one batch or optical product, its system quantity at
 * the start of counting and the quantity found. The variance is computed by the database, so it
 * can never disagree with the two quantities. A batch or product appears once per count.
 */
create table app_public.cycle_count_items (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  cycle_count_id uuid not null,
  item_type text not null constraint cycle_count_items_item_type_check check (item_type in ('medicine', 'optical_product')),
  medicine_id uuid,
  batch_id uuid,
  optical_product_id uuid,
  system_quantity integer not null constraint cycle_count_items_system_quantity_check check (system_quantity >= 0),
  counted_quantity integer constraint cycle_count_items_counted_quantity_check check (counted_quantity >= 0),
  variance_quantity integer generated always as (counted_quantity - system_quantity) stored,
  unit_cost numeric(12,2) constraint cycle_count_items_unit_cost_check check (unit_cost >= 0),
  variance_value numeric(12,2) generated always as ((counted_quantity - system_quantity) * unit_cost) stored,
  reason text,
  counted_at timestamptz,
  counted_by uuid references app_public.users (id) on delete restrict,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint cycle_count_items_hospital_id_id_key unique (hospital_id, id),
  constraint cycle_count_items_cycle_count_fkey foreign key (hospital_id, cycle_count_id)
    references app_public.cycle_counts (hospital_id, id) on delete cascade,
  constraint cycle_count_items_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint cycle_count_items_batch_fkey foreign key (hospital_id, medicine_id, batch_id)
    references app_public.medicine_batches (hospital_id, medicine_id, id) on delete restrict,
  constraint cycle_count_items_optical_product_fkey foreign key (hospital_id, optical_product_id)
    references app_public.optical_products (hospital_id, id) on delete restrict,
  constraint cycle_count_items_item_check check (
    case item_type
      when 'medicine' then medicine_id is not null and batch_id is not null and optical_product_id is null
      else optical_product_id is not null and medicine_id is null and batch_id is null
    end),
  constraint cycle_count_items_counted_check check (counted_at is null or counted_quantity is not null)
);
create index idx_cycle_count_items__hospital_id_cycle_count_id on app_public.cycle_count_items (hospital_id, cycle_count_id);
create unique index idx_cycle_count_items__cycle_count_id_batch_id on app_public.cycle_count_items (cycle_count_id, batch_id)
  where batch_id is not null;
create unique index idx_cycle_count_items__cycle_count_id_optical_product_id on app_public.cycle_count_items (cycle_count_id, optical_product_id)
  where optical_product_id is not null;
create index idx_cycle_count_items__hospital_id_medicine_id_batch_id on app_public.cycle_count_items (hospital_id, medicine_id, batch_id)
  where medicine_id is not null;
create index idx_cycle_count_items__hospital_id_optical_product_id on app_public.cycle_count_items (hospital_id, optical_product_id)
  where optical_product_id is not null;
create index idx_cycle_count_items__counted_by on app_public.cycle_count_items (counted_by) where counted_by is not null;
comment on table app_public.cycle_count_items is
  E'A counted line of a cycle count: one medicine batch or optical product, system versus counted quantity and the variance.';
comment on column app_public.cycle_count_items.cycle_count_id is 'Cycle count the line belongs to (deleted with it).';
comment on column app_public.cycle_count_items.item_type is 'medicine (names medicine_id and batch_id) or optical_product (names optical_product_id).';
comment on column app_public.cycle_count_items.medicine_id is 'Medicine counted (item_type medicine).';
comment on column app_public.cycle_count_items.batch_id is 'Medicine batch counted (item_type medicine; a batch of medicine_id); once per count.';
comment on column app_public.cycle_count_items.optical_product_id is 'Optical product counted (item_type optical_product); once per count.';
comment on column app_public.cycle_count_items.system_quantity is 'Quantity the system held when counting started (snapshot), in base units.';
comment on column app_public.cycle_count_items.counted_quantity is 'Quantity physically found, in base units (null until counted).';
comment on column app_public.cycle_count_items.variance_quantity is 'counted_quantity − system_quantity (computed; negative = shortage, null until counted).';
comment on column app_public.cycle_count_items.unit_cost is 'Cost per base unit used to value the variance.';
comment on column app_public.cycle_count_items.variance_value is 'variance_quantity × unit_cost (computed; negative = loss).';
comment on column app_public.cycle_count_items.reason is 'Explanation of the variance found (breakage, misplaced, unrecorded dispensing, …).';
comment on column app_public.cycle_count_items.counted_at is 'When this line was counted.';
comment on column app_public.cycle_count_items.counted_by is 'User who counted this line.';

create trigger _100_stamp before insert or update on app_public.cycle_count_items
  for each row execute function app_hidden.tg__stamp();

/*
 * The ledger. One row per change of one batch (medicines) or one optical product, signed (+ in,
 * − out), with the balance right after it and the document line that caused it. Append-only and
 * written only by triggers (later issue); RLS/grants will give clients read access only. Its
 * source references are `restrict`: a document line that moved stock cannot be deleted — it is
 * reversed by a new movement instead. A candidate for monthly partitioning at scale (DESIGN §14).
 */
create table app_public.stock_movements (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  movement_type text not null
    constraint stock_movements_movement_type_check check (movement_type in (
      'goods_receipt', 'dispense', 'patient_return', 'supplier_return', 'adjustment_increase', 'adjustment_decrease',
      'cycle_count_variance', 'optical_sale', 'optical_return', 'transfer_in', 'transfer_out', 'expiry_write_off',
      'opening_balance')),
  item_type text not null constraint stock_movements_item_type_check check (item_type in ('medicine', 'optical_product')),
  medicine_id uuid,
  batch_id uuid,
  optical_product_id uuid,
  quantity integer not null constraint stock_movements_quantity_check check (quantity <> 0),
  balance_after integer not null constraint stock_movements_balance_after_check check (balance_after >= 0),
  unit_cost numeric(12,2) constraint stock_movements_unit_cost_check check (unit_cost >= 0),
  occurred_at timestamptz not null default now(),
  grn_item_id uuid,
  dispensing_item_id uuid,
  return_item_id uuid,
  adjustment_id uuid,
  cycle_count_item_id uuid,
  optical_order_item_id uuid,
  reason text,
  performed_by uuid references app_public.users (id) on delete restrict,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint stock_movements_hospital_id_id_key unique (hospital_id, id),
  constraint stock_movements_medicine_fkey foreign key (hospital_id, medicine_id)
    references app_public.medicines (hospital_id, id) on delete restrict,
  constraint stock_movements_batch_fkey foreign key (hospital_id, medicine_id, batch_id)
    references app_public.medicine_batches (hospital_id, medicine_id, id) on delete restrict,
  constraint stock_movements_optical_product_fkey foreign key (hospital_id, optical_product_id)
    references app_public.optical_products (hospital_id, id) on delete restrict,
  constraint stock_movements_grn_item_fkey foreign key (hospital_id, grn_item_id)
    references app_public.grn_items (hospital_id, id) on delete restrict,
  constraint stock_movements_dispensing_item_fkey foreign key (hospital_id, dispensing_item_id)
    references app_public.pharmacy_dispensing_items (hospital_id, id) on delete restrict,
  constraint stock_movements_return_item_fkey foreign key (hospital_id, return_item_id)
    references app_public.pharmacy_return_items (hospital_id, id) on delete restrict,
  constraint stock_movements_adjustment_fkey foreign key (hospital_id, adjustment_id)
    references app_public.stock_adjustments (hospital_id, id) on delete restrict,
  constraint stock_movements_cycle_count_item_fkey foreign key (hospital_id, cycle_count_item_id)
    references app_public.cycle_count_items (hospital_id, id) on delete restrict,
  constraint stock_movements_optical_order_item_fkey foreign key (hospital_id, optical_order_item_id)
    references app_public.optical_order_items (hospital_id, id) on delete restrict,
  constraint stock_movements_item_check check (
    case item_type
      when 'medicine' then medicine_id is not null and batch_id is not null and optical_product_id is null
      else optical_product_id is not null and medicine_id is null and batch_id is null
    end),
  constraint stock_movements_item_type_movement_check check (
    case
      when movement_type in ('dispense', 'patient_return', 'expiry_write_off') then item_type = 'medicine'
      when movement_type in ('optical_sale', 'optical_return') then item_type = 'optical_product'
      else true
    end),
  constraint stock_movements_quantity_sign_check check (
    case
      when movement_type in ('goods_receipt', 'patient_return', 'adjustment_increase', 'optical_return', 'transfer_in', 'opening_balance')
        then quantity > 0
      when movement_type in ('dispense', 'supplier_return', 'adjustment_decrease', 'optical_sale', 'transfer_out', 'expiry_write_off')
        then quantity < 0
      else true
    end),
  constraint stock_movements_source_check check (
    num_nonnulls(grn_item_id, dispensing_item_id, return_item_id, adjustment_id, cycle_count_item_id, optical_order_item_id) <= 1
    and case movement_type
      when 'goods_receipt' then grn_item_id is not null
      when 'dispense' then dispensing_item_id is not null
      when 'patient_return' then return_item_id is not null
      when 'adjustment_increase' then adjustment_id is not null
      when 'adjustment_decrease' then adjustment_id is not null
      when 'cycle_count_variance' then cycle_count_item_id is not null
      when 'optical_sale' then optical_order_item_id is not null
      when 'optical_return' then optical_order_item_id is not null
      else true
    end)
);
create index idx_stock_movements__hospital_id_batch_id_occurred_at on app_public.stock_movements (hospital_id, batch_id, occurred_at)
  where batch_id is not null;
create index idx_stock_movements__hospital_id_optical_product_id_occurred_at on app_public.stock_movements (hospital_id, optical_product_id, occurred_at)
  where optical_product_id is not null;
create index idx_stock_movements__hospital_id_medicine_id_batch_id on app_public.stock_movements (hospital_id, medicine_id, batch_id)
  where medicine_id is not null;
create index idx_stock_movements__hospital_id_occurred_at on app_public.stock_movements (hospital_id, occurred_at);
create index idx_stock_movements__hospital_id_grn_item_id on app_public.stock_movements (hospital_id, grn_item_id)
  where grn_item_id is not null;
create index idx_stock_movements__hospital_id_dispensing_item_id on app_public.stock_movements (hospital_id, dispensing_item_id)
  where dispensing_item_id is not null;
create index idx_stock_movements__hospital_id_return_item_id on app_public.stock_movements (hospital_id, return_item_id)
  where return_item_id is not null;
create index idx_stock_movements__hospital_id_adjustment_id on app_public.stock_movements (hospital_id, adjustment_id)
  where adjustment_id is not null;
create index idx_stock_movements__hospital_id_cycle_count_item_id on app_public.stock_movements (hospital_id, cycle_count_item_id)
  where cycle_count_item_id is not null;
create index idx_stock_movements__hospital_id_optical_order_item_id on app_public.stock_movements (hospital_id, optical_order_item_id)
  where optical_order_item_id is not null;
create index idx_stock_movements__performed_by on app_public.stock_movements (performed_by) where performed_by is not null;
comment on table app_public.stock_movements is
  E'The stock ledger: every signed change of a medicine batch or optical product, with the balance after it and its source document line. Append-only; written only by triggers (later issue), never by clients.';
comment on column app_public.stock_movements.movement_type is
  E'goods_receipt, dispense, patient_return, supplier_return, adjustment_increase, adjustment_decrease, cycle_count_variance, optical_sale, optical_return, transfer_in, transfer_out, expiry_write_off or opening_balance.';
comment on column app_public.stock_movements.item_type is 'medicine (names medicine_id and batch_id) or optical_product (names optical_product_id).';
comment on column app_public.stock_movements.medicine_id is 'Medicine moved (item_type medicine).';
comment on column app_public.stock_movements.batch_id is 'Medicine batch whose balance changed (item_type medicine); always a batch of medicine_id.';
comment on column app_public.stock_movements.optical_product_id is 'Optical product whose balance changed (item_type optical_product).';
comment on column app_public.stock_movements.quantity is
  E'Signed change in base units: + into stock (receipts, returns, increases, transfers in, opening balance), − out of stock (dispensing, sales, decreases, write-offs, transfers out); never 0.';
comment on column app_public.stock_movements.balance_after is 'Balance of the batch (or optical product) right after this movement, in base units; never negative.';
comment on column app_public.stock_movements.unit_cost is 'Cost per base unit at which the movement is valued.';
comment on column app_public.stock_movements.occurred_at is 'When the stock physically moved (the stock card is ordered by it).';
comment on column app_public.stock_movements.grn_item_id is 'GRN line that received the stock (goods_receipt; optionally supplier_return).';
comment on column app_public.stock_movements.dispensing_item_id is 'Pharmacy dispensing line that issued the stock (dispense).';
comment on column app_public.stock_movements.return_item_id is 'Pharmacy return line through which a patient returned the stock (patient_return).';
comment on column app_public.stock_movements.adjustment_id is 'Approved stock adjustment (adjustment_increase, adjustment_decrease; optionally expiry_write_off).';
comment on column app_public.stock_movements.cycle_count_item_id is 'Approved cycle count line whose variance was posted (cycle_count_variance).';
comment on column app_public.stock_movements.optical_order_item_id is 'Optical order line that sold or took back the product (optical_sale, optical_return).';
comment on column app_public.stock_movements.reason is 'Why the stock moved, in words (e.g. transfer to ward store, supplier recall).';
comment on column app_public.stock_movements.performed_by is 'User whose action caused the movement.';

create trigger _100_stamp before insert or update on app_public.stock_movements
  for each row execute function app_hidden.tg__stamp();

--! split: 5000-notifications.sql
/*
 * Notifications — everything HMS tells a person: appointment confirmations and reminders,
 * "your report is ready", invoices and receipts, stock alerts for the pharmacy, password resets.
 *
 * Three tables, one per stage:
 *   notification_templates  what a message of each kind says, per channel and language;
 *   notifications           what one person receives: the in-app inbox and, for every outbound
 *                           channel, the record that a message was (or was meant to be) sent;
 *   notification_queue      the delivery attempts the worker (graphile-worker, DESIGN.md §11)
 *                           makes through SMTP or an SMS/WhatsApp gateway, with retries.
 *
 * Rows are created by triggers and RPCs of later issues (booking an appointment, issuing an
 * invoice, a batch nearing expiry); this section only declares the tables. A notification names
 * the row it is about generically (related_table + related_id, and ids in `data`) because it can
 * be about any table of any section, and sections may only reference earlier ones.
 */

/*
 * Message templates of a hospital. One row per message kind (code), channel and locale, so the
 * same reminder can exist as an email in en-US and an SMS in hi-IN. Bodies use {{placeholders}}
 * that the worker fills from the notification's data; `variables` lists the ones a template
 * expects so the console can check an edited template before it is saved. A template is never
 * edited in place once used: `version` is bumped, and notifications keep the text they were sent with.
 */
create table app_public.notification_templates (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  code text not null
    constraint notification_templates_code_check check (code ~ '^[a-z][a-z0-9_]{2,63}$'),
  name text not null
    constraint notification_templates_name_check check (length(trim(name)) between 2 and 200),
  description text,
  channel text not null
    constraint notification_templates_channel_check check (channel in ('email', 'sms', 'whatsapp', 'in_app', 'push')),
  locale text not null default 'en-US'
    constraint notification_templates_locale_check check (locale ~ '^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$'),
  category text not null
    constraint notification_templates_category_check check (category in ('appointment', 'clinical', 'billing', 'inventory', 'account', 'marketing')),
  subject text,
  body text not null
    constraint notification_templates_body_check check (length(trim(body)) > 0),
  body_html text,
  variables text[] not null default '{}',
  external_template_id text,
  is_transactional boolean not null default true,
  is_active boolean not null default true,
  version integer not null default 1
    constraint notification_templates_version_check check (version >= 1),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint notification_templates_hospital_id_id_key unique (hospital_id, id),
  constraint notification_templates_hospital_id_code_channel_locale_key unique (hospital_id, code, channel, locale),
  constraint notification_templates_email_subject_check check (channel <> 'email' or (subject is not null and length(trim(subject)) > 0)),
  constraint notification_templates_marketing_check check (category <> 'marketing' or not is_transactional)
);
comment on table app_public.notification_templates is
  E'Message templates of a hospital, one per message kind, channel and locale; bodies contain {{placeholders}} filled when a notification is created.';
comment on column app_public.notification_templates.code is
  E'Message kind (lower snake_case), e.g. appointment_confirmation, appointment_reminder, appointment_cancelled, prescription_ready, lab_report_ready, invoice_issued, payment_receipt, low_stock_alert, expiry_alert, password_reset, welcome_user.';
comment on column app_public.notification_templates.name is 'Display name in the console, e.g. Appointment reminder (SMS).';
comment on column app_public.notification_templates.description is 'When the message is sent and to whom, for the staff who edit it.';
comment on column app_public.notification_templates.channel is 'How the message is delivered: email, sms, whatsapp, in_app (console inbox) or push.';
comment on column app_public.notification_templates.locale is 'Language of the text (BCP 47, e.g. en-US, hi-IN); the recipient''s preferred locale is used, else the hospital''s.';
comment on column app_public.notification_templates.category is 'appointment, clinical, billing, inventory, account or marketing; recipients may opt out of marketing only.';
comment on column app_public.notification_templates.subject is 'Subject line with {{placeholders}}; required for email, used as the title of in-app and push messages.';
comment on column app_public.notification_templates.body is 'Plain-text body with {{placeholders}}, e.g. Dear {{patient_name}}, your appointment is on {{date}} at {{time}}.';
comment on column app_public.notification_templates.body_html is 'Optional HTML body for email (with the same placeholders); the plain body is the fallback.';
comment on column app_public.notification_templates.variables is 'Placeholders the template expects (without braces), e.g. {patient_name,date,time,doctor_name}.';
comment on column app_public.notification_templates.external_template_id is
  E'Id of the template registered with the provider, where required (pre-approved WhatsApp Business templates, DLT-registered SMS templates).';
comment on column app_public.notification_templates.is_transactional is
  'True for messages a patient or user must receive about their own care, account or payments; false (always for marketing) means they are sent only with consent.';
comment on column app_public.notification_templates.is_active is 'False to stop using the template; notifications already sent keep their text.';
comment on column app_public.notification_templates.version is 'Revision number, incremented each time the text is changed.';

create trigger _100_stamp before insert or update on app_public.notification_templates
  for each row execute function app_hidden.tg__stamp();

/*
 * What a person receives. Recipients are either a patient (reminders, reports ready, receipts)
 * or a staff user (stock alerts, tasks, password resets); exactly one of patient_id / user_id is
 * set, matching recipient_type. The title and body are stored rendered, so the record shows what
 * was actually sent even after the template changes. For channel in_app this row *is* the inbox
 * entry (read_at marks it read); for outbound channels the worker moves it through
 * pending → queued → sent → delivered (or failed), one notification_queue row per delivery.
 */
create table app_public.notifications (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  recipient_type text not null
    constraint notifications_recipient_type_check check (recipient_type in ('patient', 'user')),
  patient_id uuid,
  user_id uuid references app_public.users (id) on delete restrict,
  template_id uuid,
  channel text not null
    constraint notifications_channel_check check (channel in ('email', 'sms', 'whatsapp', 'in_app', 'push')),
  category text not null
    constraint notifications_category_check check (category in ('appointment', 'clinical', 'billing', 'inventory', 'account', 'marketing')),
  title text not null
    constraint notifications_title_check check (length(trim(title)) > 0),
  body text not null,
  data jsonb not null default '{}'::jsonb
    constraint notifications_data_check check (jsonb_typeof(data) = 'object'),
  related_table text
    constraint notifications_related_table_check check (related_table ~ '^[a-z][a-z0-9_]{0,62}$'),
  related_id uuid,
  action_url text,
  priority text not null default 'normal'
    constraint notifications_priority_check check (priority in ('low', 'normal', 'high', 'urgent')),
  status text not null default 'pending'
    constraint notifications_status_check check (status in ('pending', 'queued', 'sent', 'delivered', 'read', 'failed', 'cancelled')),
  dedupe_key text,
  scheduled_for timestamptz not null default now(),
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  failed_at timestamptz,
  failure_reason text,
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint notifications_hospital_id_id_key unique (hospital_id, id),
  constraint notifications_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint notifications_template_fkey foreign key (hospital_id, template_id)
    references app_public.notification_templates (hospital_id, id) on delete set null (template_id),
  constraint notifications_recipient_check check (
    (recipient_type = 'patient' and patient_id is not null and user_id is null)
    or (recipient_type = 'user' and user_id is not null and patient_id is null)
  ),
  constraint notifications_related_check check ((related_table is null) = (related_id is null)),
  constraint notifications_expiry_check check (expires_at is null or expires_at > scheduled_for)
);
-- The user's inbox (user_id first so the index also covers the users foreign key; both are equality filters).
create index idx_notifications__user_id_hospital_id_status_created_at on app_public.notifications (user_id, hospital_id, status, created_at desc)
  where user_id is not null;
create index idx_notifications__hospital_id_patient_id_created_at on app_public.notifications (hospital_id, patient_id, created_at desc)
  where patient_id is not null;
create index idx_notifications__hospital_id_template_id on app_public.notifications (hospital_id, template_id)
  where template_id is not null;
-- What the worker must send next (cross-hospital).
create index idx_notifications__scheduled_for_hospital_id on app_public.notifications (scheduled_for, hospital_id)
  where status = 'pending';
-- Everything sent about one row, e.g. to cancel the pending reminders of a cancelled appointment.
create index idx_notifications__hospital_id_related_table_related_id on app_public.notifications (hospital_id, related_table, related_id)
  where related_id is not null;
-- The message log of a hospital, newest first.
create index idx_notifications__hospital_id_created_at on app_public.notifications (hospital_id, created_at desc);
create unique index idx_notifications__hospital_id_dedupe_key on app_public.notifications (hospital_id, dedupe_key)
  where dedupe_key is not null;
comment on table app_public.notifications is
  E'A message to one patient or staff user: the in-app inbox and the record of every email, SMS, WhatsApp or push message sent.';
comment on column app_public.notifications.recipient_type is 'Who receives it: patient (patient_id is set) or user, a staff member (user_id is set).';
comment on column app_public.notifications.patient_id is 'The patient who receives the message, when recipient_type is patient.';
comment on column app_public.notifications.user_id is 'The staff user who receives the message, when recipient_type is user.';
comment on column app_public.notifications.template_id is 'Template the message was rendered from (null for a message typed by staff or once the template is deleted).';
comment on column app_public.notifications.channel is 'email, sms, whatsapp, in_app (console inbox) or push.';
comment on column app_public.notifications.category is 'appointment, clinical, billing, inventory, account or marketing.';
comment on column app_public.notifications.title is 'Rendered headline: the email subject and the inbox title.';
comment on column app_public.notifications.body is 'Rendered text as sent (placeholders already filled).';
comment on column app_public.notifications.data is E'Ids of the rows the message is about, for links and rendering, e.g. {"appointment_id": "…"}; never clinical detail.';
comment on column app_public.notifications.related_table is 'Table of the main row the message is about, e.g. appointments, invoices, medicine_batches.';
comment on column app_public.notifications.related_id is 'Id of that row in related_table.';
comment on column app_public.notifications.action_url is 'Console or patient-portal route the inbox entry opens, e.g. /appointments/<id>.';
comment on column app_public.notifications.priority is 'low, normal, high or urgent; urgent in-app messages are shown as a banner.';
comment on column app_public.notifications.status is
  E'pending (waiting for scheduled_for), queued (handed to the worker), sent, delivered (confirmed by the provider), read, failed or cancelled.';
comment on column app_public.notifications.dedupe_key is
  E'Key that makes creating a message idempotent within the hospital, e.g. appointment_reminder:<appointment id>; a second message with the same key is refused.';
comment on column app_public.notifications.scheduled_for is 'Earliest time to send (e.g. 24 hours before the appointment); now for immediate messages.';
comment on column app_public.notifications.sent_at is 'When the message was handed to the provider (or shown, for in_app).';
comment on column app_public.notifications.delivered_at is 'When the provider confirmed delivery to the device or mailbox.';
comment on column app_public.notifications.read_at is 'When the recipient opened it (in-app inbox, push, read receipts where the channel reports them).';
comment on column app_public.notifications.failed_at is 'When delivery finally failed (all attempts used up).';
comment on column app_public.notifications.failure_reason is 'Why delivery failed, e.g. invalid phone number, mailbox full, no address on file.';
comment on column app_public.notifications.expires_at is 'After this time an unsent message is no longer worth sending (e.g. a reminder after the appointment) and leaves the inbox.';

create trigger _100_stamp before insert or update on app_public.notifications
  for each row execute function app_hidden.tg__stamp();

/*
 * Outbound delivery, worked by the notification worker. A row is one message to one resolved
 * address; the worker claims due rows (status queued or failed, next_attempt_at reached) with
 * `for update skip locked`, stamps locked_at/locked_by, calls the provider and records the result.
 * A failure schedules a retry with back-off until max_attempts, then the row is dead and the
 * notification failed. The address is copied at send time, so the row still shows where a message
 * went after the patient changes their phone number. Append-heavy: a candidate for monthly
 * partitioning (DESIGN.md §14).
 */
create table app_public.notification_queue (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  notification_id uuid not null,
  channel text not null
    constraint notification_queue_channel_check check (channel in ('email', 'sms', 'whatsapp', 'push')),
  recipient_address text not null,
  status text not null default 'queued'
    constraint notification_queue_status_check check (status in ('queued', 'processing', 'sent', 'failed', 'dead')),
  attempts smallint not null default 0,
  max_attempts smallint not null default 5
    constraint notification_queue_max_attempts_check check (max_attempts between 1 and 50),
  next_attempt_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  locked_at timestamptz,
  locked_by text,
  last_error text,
  provider text
    constraint notification_queue_provider_check check (provider in ('smtp', 'sms_gateway', 'whatsapp_gateway', 'push_gateway')),
  provider_message_id text,
  sent_at timestamptz,
  payload jsonb not null default '{}'::jsonb
    constraint notification_queue_payload_check check (jsonb_typeof(payload) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint notification_queue_hospital_id_id_key unique (hospital_id, id),
  constraint notification_queue_notification_fkey foreign key (hospital_id, notification_id)
    references app_public.notifications (hospital_id, id) on delete cascade,
  constraint notification_queue_attempts_check check (attempts >= 0 and attempts <= max_attempts),
  constraint notification_queue_lock_check check ((locked_at is null) = (locked_by is null)),
  constraint notification_queue_recipient_address_check check (
    case channel
      when 'email' then recipient_address ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'
      when 'sms' then recipient_address ~ '^\+?[0-9 ()./-]{6,24}$'
      when 'whatsapp' then recipient_address ~ '^\+?[0-9 ()./-]{6,24}$'
      else length(trim(recipient_address)) > 0
    end
  )
);
create index idx_notification_queue__hospital_id_notification_id on app_public.notification_queue (hospital_id, notification_id);
-- The worker's claim query, across all hospitals: due rows that are waiting or to be retried.
create index idx_notification_queue__status_next_attempt_at_hospital_id on app_public.notification_queue (status, next_attempt_at, hospital_id)
  where status in ('queued', 'failed');
-- Dead letters a hospital's administrator reviews.
create index idx_notification_queue__hospital_id_created_at on app_public.notification_queue (hospital_id, created_at desc)
  where status = 'dead';
-- Delivery receipts from a provider's webhook name its own message id.
create index idx_notification_queue__provider_provider_message_id on app_public.notification_queue (provider, provider_message_id)
  where provider_message_id is not null;
comment on table app_public.notification_queue is
  E'Outbound delivery of a notification to one address through SMTP or an SMS/WhatsApp/push gateway, with the worker''s lock and retry state.';
comment on column app_public.notification_queue.notification_id is 'The notification being delivered; its queue rows are deleted with it.';
comment on column app_public.notification_queue.channel is 'email, sms, whatsapp or push (in_app messages are never queued).';
comment on column app_public.notification_queue.recipient_address is
  E'Email address, phone number (sms, whatsapp) or device token (push), resolved from the recipient at send time and kept as used.';
comment on column app_public.notification_queue.status is
  E'queued (waiting), processing (claimed by a worker), sent (accepted by the provider), failed (will be retried at next_attempt_at) or dead (gave up after max_attempts).';
comment on column app_public.notification_queue.attempts is 'Delivery attempts made so far (0 to max_attempts).';
comment on column app_public.notification_queue.max_attempts is 'Attempts allowed before the row becomes dead (1–50).';
comment on column app_public.notification_queue.next_attempt_at is 'When the worker may try (again); pushed back after each failure.';
comment on column app_public.notification_queue.last_attempt_at is 'When the last attempt started.';
comment on column app_public.notification_queue.locked_at is 'When a worker claimed the row; a stale lock is released by the worker''s sweeper.';
comment on column app_public.notification_queue.locked_by is 'Id of the worker process holding the row (host and pid).';
comment on column app_public.notification_queue.last_error is 'Error returned by the last failed attempt (provider response or network error).';
comment on column app_public.notification_queue.provider is 'Delivery service used: smtp, sms_gateway, whatsapp_gateway or push_gateway.';
comment on column app_public.notification_queue.provider_message_id is 'Message id returned by the provider, matched against its delivery receipts.';
comment on column app_public.notification_queue.sent_at is 'When the provider accepted the message.';
comment on column app_public.notification_queue.payload is
  E'What is handed to the provider: rendered subject, text and HTML bodies or the provider template id and its parameters.';

create trigger _100_stamp before insert or update on app_public.notification_queue
  for each row execute function app_hidden.tg__stamp();

--! split: 5100-audit.sql
/*
 * Audit — who did what, when, from where (DESIGN.md §8). One generic trigger of a later issue
 * (`app_hidden.tg__audit`) is attached to every major table and writes a row here for each insert,
 * update, soft delete, restore and delete, with the old and new values (secrets removed) and the
 * changed columns; login, failed login, logout, token refresh, lockout, password change and
 * hospital switch are written by the identity functions, exports and prints by the API and worker.
 *
 * The trail is append-only: no update or delete grants and a trigger that refuses them come with
 * the security issue; only the owner (retention purge, partitioning) may remove rows.
 */

/*
 * audit_logs deviates from the standard columns on purpose:
 * - hospital_id is NULLABLE: it is the one tenant table where it may be null, for chain-level
 *   events (super-admin actions on hospitals and users, a failed login whose hospital is not
 *   known). It still references hospitals (restrict), so a hospital with history cannot vanish.
 * - there is no updated_at/updated_by/created_by and no _100_stamp trigger: a row never changes,
 *   and the actor is user_id, recorded explicitly. occurred_at is when the event happened (a
 *   worker may record an event after the fact); created_at is when the row was written.
 * - no unique (hospital_id, id): nothing references an audit row.
 * Append-heavy and read by time range: a candidate for monthly partitioning on occurred_at.
 */
create table app_public.audit_logs (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid references app_public.hospitals (id) on delete restrict,
  occurred_at timestamptz not null default now(),
  user_id uuid references app_public.users (id) on delete restrict,
  session_id uuid,
  action text not null
    constraint audit_logs_action_check check (action in (
      'insert', 'update', 'delete', 'soft_delete', 'restore',
      'login', 'login_failed', 'logout', 'token_refresh', 'account_locked', 'password_changed', 'switch_hospital',
      'export', 'print', 'other')),
  table_name text
    constraint audit_logs_table_name_check check (table_name ~ '^[a-z][a-z0-9_]{0,62}(\.[a-z][a-z0-9_]{0,62})?$'),
  record_id uuid,
  old_values jsonb
    constraint audit_logs_old_values_check check (jsonb_typeof(old_values) = 'object'),
  new_values jsonb
    constraint audit_logs_new_values_check check (jsonb_typeof(new_values) = 'object'),
  changed_columns text[],
  request_id text,
  client_address inet,
  user_agent text,
  api text
    constraint audit_logs_api_check check (api in ('rest', 'graphql', 'worker', 'sql')),
  description text,
  created_at timestamptz not null default now(),
  constraint audit_logs_record_check check (
    action not in ('insert', 'update', 'delete', 'soft_delete', 'restore')
    or (table_name is not null and record_id is not null)
  ),
  constraint audit_logs_values_check check (
    (action <> 'insert' or old_values is null)
    and (action <> 'delete' or new_values is null)
  )
);
create index idx_audit_logs__hospital_id_occurred_at on app_public.audit_logs (hospital_id, occurred_at desc);
-- The history of one record ("who changed this invoice?").
create index idx_audit_logs__hospital_id_table_name_record_id on app_public.audit_logs (hospital_id, table_name, record_id, occurred_at desc)
  where record_id is not null;
create index idx_audit_logs__user_id_occurred_at on app_public.audit_logs (user_id, occurred_at desc);
-- Security review: failed logins, lockouts, exports over a period.
create index idx_audit_logs__action_occurred_at on app_public.audit_logs (action, occurred_at desc);
-- Chain-wide time ranges and retention purges; rows arrive in time order, so a BRIN index stays tiny.
create index idx_audit_logs__occurred_at on app_public.audit_logs using brin (occurred_at);
comment on table app_public.audit_logs is
  E'Append-only audit trail: every change to a major table, logins and other security events, exports and prints. Written by the generic audit trigger and the identity functions; never updated or deleted. hospital_id is null for chain-level events.';
comment on column app_public.audit_logs.hospital_id is
  E'Hospital the event belongs to; null for chain-level events (super-admin work on hospitals and users, failed logins of an unknown account). The only tenant table where it may be null.';
comment on column app_public.audit_logs.occurred_at is 'When the event happened.';
comment on column app_public.audit_logs.created_at is 'When the audit row was written (equal to occurred_at except for events recorded after the fact).';
comment on column app_public.audit_logs.user_id is 'User who acted; null for the system (worker, migrations) and for failed logins of an unknown account.';
comment on column app_public.audit_logs.session_id is 'Login session the request belonged to (app_private sessions; no foreign key so the trail outlives the session).';
comment on column app_public.audit_logs.action is
  E'insert, update, delete, soft_delete, restore, login, login_failed, logout, token_refresh, account_locked, password_changed, switch_hospital, export, print or other.';
comment on column app_public.audit_logs.table_name is 'Table the event concerns, e.g. invoices (schema-qualified outside app_public); required for data changes.';
comment on column app_public.audit_logs.record_id is 'Id of the row concerned; required for data changes.';
comment on column app_public.audit_logs.old_values is 'Row before the change as JSON, without secrets (null for insert).';
comment on column app_public.audit_logs.new_values is 'Row after the change as JSON, without secrets (null for delete).';
comment on column app_public.audit_logs.changed_columns is 'Columns whose value changed (update and soft_delete/restore).';
comment on column app_public.audit_logs.request_id is 'Id of the HTTP request or worker job, to correlate with server logs.';
comment on column app_public.audit_logs.client_address is 'Client IP address, as passed on by the reverse proxy.';
comment on column app_public.audit_logs.user_agent is 'Browser or client software of the request.';
comment on column app_public.audit_logs.api is 'Where the change came in: rest (PostgREST), graphql (PostGraphile), worker or sql (direct database session).';
comment on column app_public.audit_logs.description is 'Human-readable summary, e.g. Exported patient list (CSV, 240 rows) or Login failed: wrong password.';

--! split: 5200-id-cards.sql
/*
 * ID cards — the printed cards a hospital issues: the patient health card shown at reception,
 * staff badges, visitor passes and insurance cards. A card is scanned to find its holder, so the
 * barcode and QR code carry identifiers only (the card number, the holder's id), never medical
 * data: a lost card must not disclose anything.
 *
 * A card is never edited into another card: when one is lost or damaged a new card (new number)
 * is issued and the old one points at it (replaced_by_id) with status lost or replaced. Only one
 * active card of each type per holder exists at a time (partial unique indexes).
 */
create table app_public.id_cards (
  id uuid primary key default gen_random_uuid(),
  hospital_id uuid not null references app_public.hospitals (id) on delete restrict,
  card_number text not null,
  holder_type text not null
    constraint id_cards_holder_type_check check (holder_type in ('patient', 'staff')),
  patient_id uuid,
  user_id uuid references app_public.users (id) on delete restrict,
  card_type text not null
    constraint id_cards_card_type_check check (card_type in ('patient_health_card', 'staff_badge', 'visitor_pass', 'insurance_card')),
  department_id uuid,
  issued_at timestamptz not null default now(),
  valid_from date not null default current_date,
  valid_until date,
  status text not null default 'active'
    constraint id_cards_status_check check (status in ('active', 'lost', 'replaced', 'revoked', 'expired')),
  replaced_by_id uuid,
  barcode_value text,
  qr_payload text,
  photo_url text,
  print_count smallint not null default 0
    constraint id_cards_print_count_check check (print_count >= 0),
  last_printed_at timestamptz,
  revoked_at timestamptz,
  revoked_by uuid references app_public.users (id) on delete restrict,
  revocation_reason text,
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  created_by uuid,
  updated_by uuid,
  constraint id_cards_hospital_id_id_key unique (hospital_id, id),
  constraint id_cards_hospital_id_card_number_key unique (hospital_id, card_number),
  constraint id_cards_patient_fkey foreign key (hospital_id, patient_id)
    references app_public.patients (hospital_id, id) on delete restrict,
  constraint id_cards_department_fkey foreign key (hospital_id, department_id)
    references app_public.departments (hospital_id, id) on delete set null (department_id),
  constraint id_cards_replaced_by_fkey foreign key (hospital_id, replaced_by_id)
    references app_public.id_cards (hospital_id, id) on delete set null (replaced_by_id),
  constraint id_cards_holder_check check (
    (holder_type = 'patient' and patient_id is not null and user_id is null)
    or (holder_type = 'staff' and user_id is not null and patient_id is null)
  ),
  constraint id_cards_card_type_holder_check check (
    (card_type not in ('patient_health_card', 'insurance_card') or holder_type = 'patient')
    and (card_type <> 'staff_badge' or holder_type = 'staff')
  ),
  constraint id_cards_validity_check check (valid_until is null or valid_until >= valid_from),
  constraint id_cards_not_own_replacement_check check (replaced_by_id <> id),
  constraint id_cards_revoked_check check (status <> 'revoked' or revoked_at is not null),
  constraint id_cards_printed_check check (print_count = 0 or last_printed_at is not null)
);
create index idx_id_cards__hospital_id_patient_id on app_public.id_cards (hospital_id, patient_id)
  where patient_id is not null;
create index idx_id_cards__user_id on app_public.id_cards (user_id)
  where user_id is not null;
create index idx_id_cards__hospital_id_department_id on app_public.id_cards (hospital_id, department_id)
  where department_id is not null;
create index idx_id_cards__hospital_id_replaced_by_id on app_public.id_cards (hospital_id, replaced_by_id)
  where replaced_by_id is not null;
create index idx_id_cards__revoked_by on app_public.id_cards (revoked_by)
  where revoked_by is not null;
-- One active card of each type per holder.
create unique index idx_id_cards__one_active_per_patient on app_public.id_cards (hospital_id, patient_id, card_type)
  where status = 'active' and patient_id is not null;
create unique index idx_id_cards__one_active_per_user on app_public.id_cards (hospital_id, user_id, card_type)
  where status = 'active' and user_id is not null;
-- Scanning a card finds it by what its barcode encodes.
create unique index idx_id_cards__hospital_id_barcode_value on app_public.id_cards (hospital_id, barcode_value)
  where barcode_value is not null;
-- Active cards about to expire (renewal list).
create index idx_id_cards__hospital_id_valid_until on app_public.id_cards (hospital_id, valid_until)
  where status = 'active' and valid_until is not null;
comment on table app_public.id_cards is
  E'A printed card issued to a patient (health card, insurance card, visitor pass) or a staff member (badge), with its validity, status and print history.';
comment on column app_public.id_cards.card_number is
  E'Human-readable number from id_sequences (document type ''id_card''), e.g. IDC-NY-00000042-K; printed on the card.';
comment on column app_public.id_cards.holder_type is 'Who holds the card: patient (patient_id is set) or staff (user_id is set).';
comment on column app_public.id_cards.patient_id is 'The patient the card belongs to, when holder_type is patient.';
comment on column app_public.id_cards.user_id is 'The staff user the card belongs to, when holder_type is staff.';
comment on column app_public.id_cards.card_type is
  E'patient_health_card, staff_badge, visitor_pass or insurance_card; health and insurance cards are for patients, badges for staff.';
comment on column app_public.id_cards.department_id is 'Department printed on a staff badge (or the ward a visitor pass admits to).';
comment on column app_public.id_cards.issued_at is 'When the card was issued to the holder.';
comment on column app_public.id_cards.valid_from is 'First day the card is valid.';
comment on column app_public.id_cards.valid_until is 'Last day the card is valid (null = no expiry); printed on the card.';
comment on column app_public.id_cards.status is
  E'active, lost (reported lost), replaced (superseded by replaced_by_id), revoked (withdrawn, e.g. staff left) or expired.';
comment on column app_public.id_cards.replaced_by_id is 'The card issued to replace this one.';
comment on column app_public.id_cards.barcode_value is 'Value encoded in the printed barcode (normally the card number); unique within the hospital.';
comment on column app_public.id_cards.qr_payload is
  E'Text encoded in the printed QR code: identifiers only (card number, holder id, hospital code), never medical data.';
comment on column app_public.id_cards.photo_url is 'Holder photo printed on the card.';
comment on column app_public.id_cards.print_count is 'How many times the card has been printed (reprints included).';
comment on column app_public.id_cards.last_printed_at is 'When the card was last printed.';
comment on column app_public.id_cards.revoked_at is 'When the card was revoked.';
comment on column app_public.id_cards.revoked_by is 'User who revoked the card.';
comment on column app_public.id_cards.revocation_reason is 'Why the card was revoked, e.g. employment ended, misuse.';
comment on column app_public.id_cards.notes is 'Free-text remarks, e.g. where a lost card was reported.';

create trigger _100_stamp before insert or update on app_public.id_cards
  for each row execute function app_hidden.tg__stamp();

--! split: 9000-conventions.sql
/*
 * Conventions applied to every table at once, so that no section repeats them and no table can
 * forget them (db/CONVENTIONS.md):
 *   - the standard columns get the same comment everywhere (they become the API docs);
 *   - created_by / updated_by reference users (restrict: users are never hard-deleted, so these
 *     FKs are deliberately not indexed — the lookup would only run for a refused delete).
 * Runs last; a table added by a later migration calls app_hidden.apply_table_conventions itself.
 */
create function app_hidden.apply_table_conventions(p_table regclass) returns void
language plpgsql
as $$
declare
  v_column record;
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
begin
  for v_column in
    select a.attname::text as name,
           case a.attname
             when 'id' then 'Unique identifier (UUID).'
             when 'hospital_id' then 'Hospital (tenant) the row belongs to.'
             when 'is_deleted' then 'Soft delete: true hides the row from normal lists; it stays for history and audit.'
             when 'deleted_at' then 'When the row was soft-deleted.'
             when 'created_at' then 'When the row was created.'
             when 'updated_at' then 'When the row was last changed.'
             when 'created_by' then 'User who created the row (null for system and seed data).'
             when 'updated_by' then 'User who last changed the row.'
           end as text
      from pg_catalog.pg_attribute a
     where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
       and a.attname in ('id', 'hospital_id', 'is_deleted', 'deleted_at', 'created_at', 'updated_at', 'created_by', 'updated_by')
       and pg_catalog.col_description(p_table, a.attnum) is null
  loop
    execute format('comment on column %s.%I is %L', p_table, v_column.name, v_column.text);
  end loop;

  for v_column in
    select a.attname::text as name
      from pg_catalog.pg_attribute a
     where a.attrelid = p_table and a.attname in ('created_by', 'updated_by') and not a.attisdropped
       and not exists (select 1 from pg_catalog.pg_constraint k
                        where k.conrelid = p_table and k.contype = 'f' and k.conkey = array[a.attnum])
  loop
    execute format('alter table %s add constraint %I foreign key (%I) references app_public.users (id) on delete restrict',
                   p_table, v_name || '_' || v_column.name || '_fkey', v_column.name);
  end loop;
end;
$$;
comment on function app_hidden.apply_table_conventions(regclass) is
  'Comments the standard columns of a table and links created_by/updated_by to users (idempotent).';

select app_hidden.apply_table_conventions(c.oid)
  from pg_catalog.pg_class c
 where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
 order by c.relname;

--! split: 9100-api-grants.sql
/*
 * API grants. Until the identity and row-level-security issue lands, a signed-in member of staff
 * (role :DATABASE_STAFF) may read every business table; nothing is writable through the API yet
 * and the anonymous role sees nothing but the functions granted to it explicitly.
 * The security issue replaces this with per-command grants (insert/update with column lists)
 * guarded by row-level security.
 */
grant select on all tables in schema app_public to :DATABASE_STAFF;
