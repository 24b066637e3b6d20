--! Previous: sha1:a8007729d9f130283395acecc17423acfd0f3720
--! Hash: sha1:2bf2d0b4a104d63950b7ca18eac8e48e6f788f03

--! split: 0021-errors.sql
/*
 * Errors: one registry, one helper (DESIGN.md §10).
 *
 * app_hidden.error_codes lists every business error HMS raises, with its HTTP status and what it
 * means to a client. app_hidden.raise_error(code, message, details, hint) looks the status up, so
 * a call site says *what* went wrong and the registry says how the API answers; an unregistered
 * code is a programming error and fails loudly (the suite also scans every function body for
 * codes missing from the registry). db/error_codes.md is generated from this table
 * (npm run db:schema), so the documentation cannot drift from what the database raises.
 *
 * PostgREST turns `raise sqlstate 'PGRST'` with a JSON message {code, message, details, hint} and
 * a JSON detail {status, headers} into exactly that HTTP status and body. PostgREST 12 accepts
 * only text in "details" (an object there answers 500 PGRST121), so structured details travel as
 * JSON text; clients parse them when they need their fields.
 *
 * Constraint violations are business errors too: app_hidden.constraint_errors names, by
 * constraint, the code and sentence a client gets instead of a raw SQLSTATE; constraints without
 * an entry get the default of their kind (see app_hidden.tg__friendly_constraints in 0030-kit).
 *
 * Modules register their own codes in their own section (insert … on conflict do update), next
 * to the code that raises them; the codes below are the shared ones of the kit.
 */

drop table if exists app_hidden.constraint_errors;
drop table if exists app_hidden.error_codes cascade;
create table app_hidden.error_codes (
  code text primary key constraint error_codes_code_check check (code ~ '^HMS_[A-Z][A-Z0-9_]*[A-Z0-9]$'),
  http_status smallint not null constraint error_codes_http_status_check check (http_status in (400, 401, 403, 404, 409, 422, 429)),
  module text not null,
  meaning text not null constraint error_codes_meaning_check check (length(trim(meaning)) >= 10)
);
comment on table app_hidden.error_codes is
  E'Every business error code HMS raises: its HTTP status, the module it belongs to and what it means. raise_error looks the status up here; db/error_codes.md is generated from it.';
comment on column app_hidden.error_codes.code is 'Stable application code (HMS_…) clients may branch on.';
comment on column app_hidden.error_codes.http_status is 'HTTP status both APIs answer with.';
comment on column app_hidden.error_codes.module is 'Module (section) that raises it, for the generated documentation.';
comment on column app_hidden.error_codes.meaning is 'What the error means to a client, in a sentence.';
grant select on app_hidden.error_codes to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create table app_hidden.constraint_errors (
  constraint_name text primary key,
  code text not null references app_hidden.error_codes (code) on update cascade,
  message text not null
);
comment on table app_hidden.constraint_errors is
  E'Friendly errors for named constraints: a write that breaks the constraint answers this code and message instead of the raw SQLSTATE. Constraints not listed get the default of their kind (HMS_INVALID_VALUE, HMS_REQUIRED, HMS_DUPLICATE, HMS_REFERENCE_NOT_FOUND).';
comment on column app_hidden.constraint_errors.constraint_name is 'Name of the constraint (or unique index) in app_public.';
comment on column app_hidden.constraint_errors.code is 'Code answered when the constraint is broken.';
comment on column app_hidden.constraint_errors.message is 'Sentence answered when the constraint is broken.';
grant select on app_hidden.constraint_errors to :DATABASE_STAFF;

/* Registers (or updates) codes of a module: one call per section, next to the code that raises them. */
create or replace function app_hidden.register_error_codes(p_module text, p_codes jsonb) returns void
language sql
volatile
as $$
  insert into app_hidden.error_codes (code, http_status, module, meaning)
  select e.code, e.http_status, p_module, e.meaning
    from jsonb_to_recordset(p_codes) as e(code text, http_status smallint, meaning text)
  on conflict (code) do update set http_status = excluded.http_status, module = excluded.module, meaning = excluded.meaning;
$$;
comment on function app_hidden.register_error_codes(text, jsonb) is
  E'Registers a module''s error codes: [{"code", "http_status", "meaning"}, …] (idempotent).';

select app_hidden.register_error_codes('kit', $json$[
  {"code": "HMS_SESSION_INVALID", "http_status": 401, "meaning": "No live session with an active hospital: the token was logged out, revoked or expired, or the user deactivated. Log in again."},
  {"code": "HMS_FORBIDDEN", "http_status": 403, "meaning": "You lack the permission this needs (details.permission names it)."},
  {"code": "HMS_NOT_FOUND", "http_status": 404, "meaning": "No such record in your hospital — another hospital's ids are simply not found (details.entity, details.id)."},
  {"code": "HMS_ILLEGAL_TRANSITION", "http_status": 409, "meaning": "The status change is not allowed from the current status (details.entity, from, to, allowed)."},
  {"code": "HMS_WORKFLOW_REQUIRED", "http_status": 409, "meaning": "This step has side effects and is taken only through its workflow function (details.use names it)."},
  {"code": "HMS_REASON_REQUIRED", "http_status": 422, "meaning": "This step needs a reason (details.field names the column or argument)."},
  {"code": "HMS_DOCUMENT_LOCKED", "http_status": 409, "meaning": "The document left the state in which it may be edited (details.entity, status); correct it with its reversing document or an amendment."},
  {"code": "HMS_APPEND_ONLY", "http_status": 403, "meaning": "History is append-only: its rows are never changed or removed, not even by the owner (details.table, operation)."},
  {"code": "HMS_APPROVAL_BY_OTHER_USER", "http_status": 409, "meaning": "Four eyes: the person who requested or created something may not also approve it."},
  {"code": "HMS_INVALID_INPUT", "http_status": 422, "meaning": "A value has the wrong shape or is missing (details names the field and what is allowed)."},
  {"code": "HMS_INVALID_VALUE", "http_status": 422, "meaning": "A value breaks a rule of the schema (details.constraint, column; the hint says what is allowed)."},
  {"code": "HMS_REQUIRED", "http_status": 422, "meaning": "A required value is missing (details.column)."},
  {"code": "HMS_DUPLICATE", "http_status": 409, "meaning": "A record with the same unique values already exists (details.constraint, columns)."},
  {"code": "HMS_REFERENCE_NOT_FOUND", "http_status": 422, "meaning": "The record refers to something that does not exist in your hospital (details.constraint, columns)."}
]$json$);

/*
 * The one way to raise a business error. The status comes from the registry; details are sent as
 * JSON text (a string detail as itself). Security definer only to read the registry whoever
 * raises (anonymous login failures, staff triggers).
 */
drop function if exists app_hidden.raise_error(text, text, integer, jsonb, text);
create or replace function app_hidden.raise_error(p_code text, p_message text, p_details jsonb default null, p_hint text default null)
returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_status smallint := (select e.http_status from app_hidden.error_codes e where e.code = p_code);
begin
  if v_status is null then
    -- A programming error, not a client's: a 500 that names the missing registration.
    raise exception 'HMS error code % is not registered in app_hidden.error_codes', coalesce(p_code, 'null')
      using hint = 'Register it with app_hidden.register_error_codes in the module''s section.';
  end if;
  raise sqlstate 'PGRST' using
    message = json_build_object(
      'code', p_code,
      'message', p_message,
      'details', case when p_details is null then null
                      when jsonb_typeof(p_details) = 'string' then p_details #>> '{}'
                      else p_details::text end,
      'hint', p_hint)::text,
    detail = json_build_object('status', v_status, 'headers', json_build_object())::text;
end;
$$;
comment on function app_hidden.raise_error(text, text, jsonb, text) is
  E'Raises a registered business error: {code, message, details (JSON text), hint} with the HTTP status of app_hidden.error_codes. An unregistered code raises an internal error.';
grant execute on function app_hidden.raise_error(text, text, jsonb, text) to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

/* The status of a registered code (for functions that answer an error without raising it). */
create or replace function app_hidden.error_status(p_code text) returns smallint
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_status smallint := (select e.http_status from app_hidden.error_codes e where e.code = p_code);
begin
  if v_status is null then
    raise exception 'HMS error code % is not registered in app_hidden.error_codes', coalesce(p_code, 'null');
  end if;
  return v_status;
end;
$$;
comment on function app_hidden.error_status(text) is 'HTTP status of a registered error code (raises when the code is not registered).';

--! split: 0030-kit.sql
/*
 * The kit: one way for each idea that every workflow module needs (DESIGN.md §8 "One kit").
 *
 *   clock            app_hidden.now(), hospital_today(), hospital_local_date()
 *   workflow mark    require_permission() marks the statement; in_workflow() / is_trusted_writer() read it
 *   gate             require_permission(code): the active hospital, or 401 / 403
 *   lock-or-404      lock_or_404(null::app_public.<table>, id) / find_or_404(…): a row of the active hospital, or 404
 *   status machine   app_hidden.status_transitions + one BEFORE trigger (_150_status_machine)
 *   document lock    lock_document(): a document (or its lines) is edited only in its editable statuses
 *   append-only      one trigger (_000_append_only) raising HMS_APPEND_ONLY
 *   totals           refresh_totals_from(lines, parent column, refresh function): one AFTER trigger on the lines
 *   friendly errors  one BEFORE trigger (_990_friendly_constraints) turning constraint violations into HMS_* codes
 *   registration     register_table(): conventions, stamps, numbers, soft delete, status machine,
 *                    audit, access policies and grants — one call per table (0033-register-table.sql)
 *
 * Who is trusted. A write is a *client write* when it comes from a member of staff's request
 * (REST, GraphQL) outside a workflow RPC. Workflow RPCs are security definer functions that start
 * with require_permission(), which marks the current statement; the triggers then let the RPC do
 * what only the workflow may (take a workflow-only status step, change a locked document).
 * The mark is bound to the statement (statement_timestamp()) and to the function call that took
 * it (the RPC, or the trigger refreshing derived columns), so it cannot leak into a later
 * statement of the same transaction (a second GraphQL mutation, a psql session) — not even one
 * sent in the same message, which shares its statement_timestamp(). The owner
 * without a session (migrations, demo data, a DBA) is trusted as well; it bypasses row-level
 * security anyway.
 */

/* ------------------------------------------------------------------------------------------
 * Clock
 * ------------------------------------------------------------------------------------------ */

/*
 * The clock business rules read: the transaction's start, like pg_catalog.now(). Tests stop it
 * with tests.freeze_time() (which replaces this function inside the test's transaction) to check
 * rules that depend on the day, the hour or a period boundary. Identity (session expiry, role
 * validity) and bookkeeping stamps (created_at, audit) deliberately stay on the real clock.
 */
create or replace function app_hidden.now() returns timestamptz
language sql
stable
as $$
  select pg_catalog.now();
$$;
comment on function app_hidden.now() is
  'The clock business rules read (pg_catalog.now(): the start of the transaction); tests stop it with tests.freeze_time().';
grant execute on function app_hidden.now() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.hospital_local_date(p_hospital_id uuid, p_at timestamptz) returns date
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select (p_at at time zone coalesce((select h.time_zone from app_public.hospitals h where h.id = p_hospital_id), 'UTC'))::date;
$$;
comment on function app_hidden.hospital_local_date(uuid, timestamptz) is
  E'The calendar day of an instant in the hospital''s time zone (the day an appointment, payment or settlement counts in).';
grant execute on function app_hidden.hospital_local_date(uuid, timestamptz) to :DATABASE_STAFF;

create or replace function app_hidden.hospital_today(p_hospital_id uuid) returns date
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select app_hidden.hospital_local_date(p_hospital_id, app_hidden.now());
$$;
comment on function app_hidden.hospital_today(uuid) is E'Today in the hospital''s time zone, by the business clock (app_hidden.now()).';
grant execute on function app_hidden.hospital_today(uuid) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Workflow mark and gate
 * ------------------------------------------------------------------------------------------ */

/*
 * The function call a workflow mark belongs to, from a call stack (GET DIAGNOSTICS … PG_CONTEXT):
 * the innermost frame that is not the kit's own, as the stack names it
 * ('PL/pgSQL function app_public.approve_purchase_order(uuid)'); '' at the top level.
 */
create or replace function app_hidden.workflow_frame(p_context text) returns text
language plpgsql
immutable
as $$
declare
  v_line text;
  v_at integer;
begin
  -- Plain string functions, not patterns: the mark is taken on every workflow call.
  foreach v_line in array string_to_array(p_context, E'\n') loop
    if starts_with(v_line, 'PL/pgSQL function ') then
      v_at := position(' line ' in v_line);
      if v_at > 0 then
        v_line := left(v_line, v_at - 1);
      end if;
    elsif starts_with(v_line, 'SQL function "') then
      v_line := left(v_line, position('"' in substr(v_line, 15)) + 14);
    else
      continue;
    end if;
    if not (starts_with(v_line, 'PL/pgSQL function app_hidden.enter_workflow(')
            or starts_with(v_line, 'PL/pgSQL function app_hidden.in_workflow(')
            or starts_with(v_line, 'PL/pgSQL function app_hidden.require_permission(')) then
      return v_line;
    end if;
  end loop;
  return '';
end;
$$;
comment on function app_hidden.workflow_frame(text) is
  'The innermost function call of a call stack that is not the kit''s own (the RPC or trigger a workflow mark belongs to).';
grant execute on function app_hidden.workflow_frame(text) to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

/*
 * Marks the current statement, within the calling function, as a workflow's own and returns the
 * previous mark. RPCs never call it directly (require_permission does); triggers that maintain
 * derived columns (totals) on a client's behalf wrap their write in enter_workflow() …
 * leave_workflow(previous).
 */
create or replace function app_hidden.enter_workflow() returns text
language plpgsql
volatile
as $$
declare
  v_previous text := coalesce(current_setting('hms.workflow_mark', true), '');
  v_context text;
begin
  get diagnostics v_context = pg_context;
  perform set_config('hms.workflow_mark', statement_timestamp()::text || '|' || app_hidden.workflow_frame(v_context), true);
  return v_previous;
end;
$$;
comment on function app_hidden.enter_workflow() is
  'Marks the current statement as a workflow write (see in_workflow) and returns the previous mark for leave_workflow.';

create or replace function app_hidden.leave_workflow(p_previous text) returns void
language sql
volatile
as $$
  select set_config('hms.workflow_mark', coalesce(p_previous, ''), true);
$$;
comment on function app_hidden.leave_workflow(text) is 'Restores the workflow mark enter_workflow returned.';

create or replace function app_hidden.in_workflow() returns boolean
language plpgsql
stable
as $$
declare
  v_mark text := coalesce(current_setting('hms.workflow_mark', true), '');
  v_statement text := statement_timestamp()::text || '|';
  v_frame text;
  v_context text;
begin
  if left(v_mark, length(v_statement)) is distinct from v_statement then
    return false;
  end if;
  v_frame := substr(v_mark, length(v_statement) + 1);
  if v_frame = '' then
    return true;  -- marked at the top level of the statement
  end if;
  -- Still inside the call that took the mark (its frame is on the stack).
  get diagnostics v_context = pg_context;
  return strpos(v_context, E'\n' || v_frame || ' ') > 0;
end;
$$;
comment on function app_hidden.in_workflow() is
  'True while the current statement runs inside a workflow RPC (marked by require_permission) or a derived-column refresh — inside that very call, not after it returned.';
grant execute on function app_hidden.in_workflow() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.is_trusted_writer() returns boolean
language sql
stable
as $$
  select app_hidden.in_workflow() or app_hidden.current_user_id() is null;
$$;
comment on function app_hidden.is_trusted_writer() is
  'True for a workflow RPC and for the owner without a session (migrations, demo data, maintenance); false for a client write of staff.';
grant execute on function app_hidden.is_trusted_writer() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

/*
 * The gate of every workflow RPC: the active hospital of a logged-in member of staff holding the
 * permission, or 401 HMS_SESSION_INVALID / 403 HMS_FORBIDDEN. It marks the call as the
 * workflow's (in_workflow).
 */
drop function if exists app_hidden.require_permission(text, text);
create or replace function app_hidden.require_permission(p_permission text) returns uuid
language plpgsql
volatile
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
begin
  if v_hospital is null or app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in as a member of staff with an active hospital.');
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the %s permission.', p_permission),
      jsonb_build_object('permission', p_permission));
  end if;
  perform app_hidden.enter_workflow();
  return v_hospital;
end;
$$;
comment on function app_hidden.require_permission(text) is
  'The gate of every workflow RPC: returns the active hospital, or raises 401 HMS_SESSION_INVALID / 403 HMS_FORBIDDEN; marks the call as a workflow write (in_workflow).';

/* Four eyes: the acting user must not be the one who requested or created what is approved. */
create or replace function app_hidden.require_other_user(p_user_id uuid, p_what text) returns void
language plpgsql
stable
as $$
begin
  if p_user_id is not null and p_user_id = app_hidden.current_user_id() then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      format('You %s this yourself: another member of staff must approve it.', p_what),
      jsonb_build_object('user_id', p_user_id));
  end if;
end;
$$;
comment on function app_hidden.require_other_user(uuid, text) is
  E'Four eyes: raises HMS_APPROVAL_BY_OTHER_USER when the acting user is the given one (e.g. the requester). p_what completes "You … this yourself", e.g. ''requested''.';
grant execute on function app_hidden.require_other_user(uuid, text) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Table registry (filled by register_table) and lock-or-404
 * ------------------------------------------------------------------------------------------ */

drop table if exists app_hidden.table_registry cascade;
create table app_hidden.table_registry (
  table_name text primary key,
  entity text not null constraint table_registry_entity_check check (entity ~ '^[a-z][a-z ]*[a-z]$'),
  hospital_scoped boolean not null,
  soft_delete boolean not null,
  audited boolean not null,
  append_only boolean not null,
  policies text not null constraint table_registry_policies_check check (policies in ('generated', 'hand_written')),
  write_permissions text[] not null default '{}'
);
comment on table app_hidden.table_registry is
  E'Every app_public table, as register_table registered it: the entity name used in messages and what was installed. The structure test checks every table is registered and up to date.';
comment on column app_hidden.table_registry.entity is 'The table''s row in words, singular (e.g. purchase order), used in error messages.';
comment on column app_hidden.table_registry.policies is 'generated: tenant and permission policies from app_hidden.table_access; hand_written: the section writes them (chain-level tables).';
comment on column app_hidden.table_registry.write_permissions is 'Permissions that let a member of staff write the table (for hand-written policies too): friendly constraint errors answer only them.';
grant select on app_hidden.table_registry to :DATABASE_STAFF;

create or replace function app_hidden.entity_of(p_table regclass) returns text
language sql
stable
as $$
  select coalesce((select r.entity from app_hidden.table_registry r
                    where r.table_name = (select c.relname from pg_catalog.pg_class c where c.oid = p_table)),
                  (select replace(c.relname, '_', ' ') from pg_catalog.pg_class c where c.oid = p_table));
$$;
comment on function app_hidden.entity_of(regclass) is 'The entity name of a table for messages (its registry entry, else its name in words).';
grant execute on function app_hidden.entity_of(regclass) to :DATABASE_STAFF;

/* The entity with its indefinite article, for messages: 'an appointment', 'a purchase order'. */
create or replace function app_hidden.a_or_an(p_entity text, p_capital boolean default false) returns text
language sql
immutable
as $$
  select case when p_entity ~* '^[aeiou]' then case when p_capital then 'An ' else 'an ' end
              else case when p_capital then 'A ' else 'a ' end end || p_entity;
$$;
comment on function app_hidden.a_or_an(text, boolean) is E'The word with its indefinite article (a / an; capitalised to start a sentence), for messages.';
grant execute on function app_hidden.a_or_an(text, boolean) to :DATABASE_STAFF;

/*
 * May the policies let this writer insert this row? PostgreSQL checks row-level security after
 * the BEFORE triggers, so a kit trigger that refuses an insert first would answer a writer the
 * policies refuse anyway with the rule it broke instead of 42501. The kit's insert rules (status
 * machine, document lock, friendly constraint errors) therefore speak only to writers who hold a
 * write permission of the table (table_registry.write_permissions) for a row of their own
 * hospital, and to trusted writers; everyone else meets the policy.
 */
create or replace function app_hidden.policies_may_admit(p_table regclass, p_row jsonb) returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select app_hidden.is_trusted_writer()
      or (coalesce((p_row ->> 'hospital_id')::uuid = app_hidden.current_hospital_id(), true)
          and exists (select 1 from app_hidden.table_registry r
                       where r.table_name = (select c.relname from pg_catalog.pg_class c where c.oid = p_table)
                         and app_hidden.has_any_permission(r.write_permissions)));
$$;
comment on function app_hidden.policies_may_admit(regclass, jsonb) is
  'True for a trusted writer, or a writer holding a write permission of the table for a row of the active hospital: whom the kit''s insert rules answer before row-level security does.';

/* Shared body of lock_or_404 and find_or_404. */
create or replace function app_hidden.row_or_404(p_row anyelement, p_id uuid, p_lock boolean) returns anyelement
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_table regclass := (select t.typrelid from pg_catalog.pg_type t where t.oid = pg_typeof(p_row))::regclass;
  v_soft boolean;
  v_found integer;
begin
  if v_table is null then
    raise exception 'row_or_404 needs a row of a table, e.g. null::app_public.patients (got %)', pg_typeof(p_row);
  end if;
  v_soft := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = v_table and a.attname = 'is_deleted' and not a.attisdropped);
  execute format('select t.* from %s t where t.id = $1 and t.hospital_id = $2%s%s',
                 v_table, case when v_soft then ' and not t.is_deleted' else '' end, case when p_lock then ' for update' else '' end)
     into p_row using p_id, app_hidden.current_hospital_id();
  get diagnostics v_found = row_count;
  if v_found = 0 then
    perform app_hidden.raise_error('HMS_NOT_FOUND', format('No such %s in this hospital.', app_hidden.entity_of(v_table)),
      jsonb_build_object('entity', replace(app_hidden.entity_of(v_table), ' ', '_'), 'id', p_id));
  end if;
  return p_row;
end;
$$;
comment on function app_hidden.row_or_404(anyelement, uuid, boolean) is 'Body of lock_or_404 / find_or_404.';

/*
 * v := app_hidden.lock_or_404(null::app_public.appointments, p_id): the row with that id in the
 * active hospital (not soft-deleted), locked FOR UPDATE until the transaction ends — or 404
 * HMS_NOT_FOUND, also for another hospital's id.
 */
create or replace function app_hidden.lock_or_404(p_row anyelement, p_id uuid) returns anyelement
language sql
volatile
as $$
  select app_hidden.row_or_404(p_row, p_id, true);
$$;
comment on function app_hidden.lock_or_404(anyelement, uuid) is
  'The row of the table (given as null::app_public.<table>) with that id in the active hospital, locked for update; 404 HMS_NOT_FOUND otherwise.';

/* The same lookup without a lock, for rows a workflow only reads (the patient of a booking). */
create or replace function app_hidden.find_or_404(p_row anyelement, p_id uuid) returns anyelement
language sql
volatile
as $$
  select app_hidden.row_or_404(p_row, p_id, false);
$$;
comment on function app_hidden.find_or_404(anyelement, uuid) is
  'The row of the table (given as null::app_public.<table>) with that id in the active hospital, without a lock; 404 HMS_NOT_FOUND otherwise.';

/* ------------------------------------------------------------------------------------------
 * Status machine
 * ------------------------------------------------------------------------------------------ */

drop table if exists app_hidden.status_transitions cascade;
create table app_hidden.status_transitions (
  table_name text not null,
  from_status text,
  to_status text not null,
  via text,
  permission text,
  stamp_at text,
  stamp_by text,
  reason_column text,
  constraint status_transitions_key unique nulls not distinct (table_name, from_status, to_status)
);
comment on table app_hidden.status_transitions is
  E'The status machine of every table with a status column: each legal step (from_status null = the status a new row starts in). The _150_status_machine trigger refuses every other change of status, whoever writes (owner without a session excepted).';
comment on column app_hidden.status_transitions.via is 'The workflow RPC that takes this step (it has side effects); null = a plain write (PATCH) may take it too.';
comment on column app_hidden.status_transitions.permission is 'A permission this step needs on top of the table''s write permission (e.g. billing.void); null = none.';
comment on column app_hidden.status_transitions.stamp_at is 'Column set to the business clock when the step is taken.';
comment on column app_hidden.status_transitions.stamp_by is 'Column set to the acting user when the step is taken (never from the request).';
comment on column app_hidden.status_transitions.reason_column is 'Column that must hold a reason (not blank) when the step is taken.';
grant select on app_hidden.status_transitions to :DATABASE_STAFF;

/*
 * Declares a table's status machine: one call per table, replacing its previous steps.
 * p_steps: [{"from": null|"…", "to": "…", "via": "rpc", "permission": "…", "stamp_at": "col",
 *            "stamp_by": "col", "reason": "col"}, …]
 */
create or replace function app_hidden.declare_status_machine(p_table regclass, p_steps jsonb) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_column text;
begin
  delete from app_hidden.status_transitions t where t.table_name = v_name;
  insert into app_hidden.status_transitions (table_name, from_status, to_status, via, permission, stamp_at, stamp_by, reason_column)
  select v_name, s."from", s."to", s.via, s.permission, s.stamp_at, s.stamp_by, s.reason
    from jsonb_to_recordset(p_steps) as s("from" text, "to" text, via text, permission text, stamp_at text, stamp_by text, reason text);
  -- Every column named must exist, and every status must pass the table's status CHECK.
  for v_column in
    select distinct c from app_hidden.status_transitions t
     cross join lateral unnest(array[t.stamp_at, t.stamp_by, t.reason_column]) c
     where t.table_name = v_name and c is not null
  loop
    if not exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = v_column and not a.attisdropped) then
      raise exception 'status machine of %: no column %', p_table, v_column;
    end if;
  end loop;
end;
$$;
comment on function app_hidden.declare_status_machine(regclass, jsonb) is
  E'Declares the legal status steps of a table (replacing its previous ones); register_table installs the trigger that enforces them.';

/* The statuses a row may go to next (for messages and clients). */
create or replace function app_hidden.allowed_transitions(p_table text, p_from text) returns text[]
language sql
stable
as $$
  select coalesce(array_agg(t.to_status order by t.to_status), '{}')
    from app_hidden.status_transitions t
   where t.table_name = p_table and t.from_status is not distinct from p_from;
$$;
comment on function app_hidden.allowed_transitions(text, text) is 'The statuses a row of the table may go to from a status (null: the statuses a new row may start in).';
grant execute on function app_hidden.allowed_transitions(text, text) to :DATABASE_STAFF;

/* The one refusal of an undeclared step (409 HMS_ILLEGAL_TRANSITION), for the trigger and require_transition. */
create or replace function app_hidden.raise_illegal_transition(p_table regclass, p_from text, p_to text) returns void
language plpgsql
stable
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_entity text := app_hidden.entity_of(p_table);
begin
  perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
    case when p_from is null
         then format('A new %s starts as %s, not %s.', v_entity,
                     array_to_string(app_hidden.allowed_transitions(v_name, null), ' or '), p_to)
         else format('%s cannot go from %s to %s.', app_hidden.a_or_an(v_entity, true), p_from, p_to) end,
    jsonb_build_object('entity', replace(v_entity, ' ', '_'), 'from', p_from, 'to', p_to,
                       'allowed', to_jsonb(app_hidden.allowed_transitions(v_name, p_from))));
end;
$$;
comment on function app_hidden.raise_illegal_transition(regclass, text, text) is
  'Raises 409 HMS_ILLEGAL_TRANSITION for a status step the table''s machine does not declare (details.entity, from, to, allowed).';

/*
 * For workflow RPCs, before they do anything: the step from the row's status must be declared.
 * It also refuses a repeated step (cancelling a cancelled appointment, approving an approved
 * order), which the trigger cannot see: to it, a status that stays the same is no step at all.
 */
create or replace function app_hidden.require_transition(p_table regclass, p_from text, p_to text) returns void
language plpgsql
stable
as $$
begin
  if not exists (select 1 from app_hidden.status_transitions t
                  where t.table_name = (select c.relname from pg_catalog.pg_class c where c.oid = p_table)
                    and t.from_status is not distinct from p_from and t.to_status = p_to) then
    perform app_hidden.raise_illegal_transition(p_table, p_from, p_to);
  end if;
end;
$$;
comment on function app_hidden.require_transition(regclass, text, text) is
  'Raises 409 HMS_ILLEGAL_TRANSITION unless the table''s status machine declares the step from p_from to p_to (repeated steps included); workflow RPCs call it before they change anything.';

/*
 * BEFORE INSERT OR UPDATE OF status (_150_status_machine): the one enforcement of every status
 * machine. For writes with a session (client writes and workflow RPCs):
 *   - the step must be declared, else 409 HMS_ILLEGAL_TRANSITION (a new row by a client must start
 *     in a declared initial status; workflow RPCs may create rows in any declared status);
 *   - a step with `via` is taken only inside a workflow RPC, else 409 HMS_WORKFLOW_REQUIRED;
 *   - a step with a permission needs it, else 403 HMS_FORBIDDEN;
 *   - a step with a reason column needs a reason, else 422 HMS_REASON_REQUIRED;
 *   - stamp_at / stamp_by are set from the business clock and the session, unconditionally.
 * The owner without a session (demo data, migrations, maintenance) is trusted with everything but
 * an undeclared step of an existing row: it may insert rows in any status and take workflow-only
 * steps, but a completed appointment is not reopened by anyone (DESIGN.md §8, legal state changes).
 */
create or replace function app_hidden.tg__status_machine() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_from text;
  v_step app_hidden.status_transitions;
  v_patch jsonb := '{}';
begin
  if TG_OP = 'INSERT' and (v_user is null or not app_hidden.policies_may_admit(TG_RELID, to_jsonb(NEW))) then
    return NEW;  -- the owner may insert in any status; a writer the policies refuse meets 42501
  end if;
  if TG_OP = 'UPDATE' then
    if NEW.status is not distinct from OLD.status then
      return NEW;
    end if;
    v_from := OLD.status;
  end if;
  select * into v_step from app_hidden.status_transitions t
   where t.table_name = TG_TABLE_NAME and t.from_status is not distinct from v_from and t.to_status = NEW.status;
  if not found then
    if TG_OP = 'INSERT' and app_hidden.in_workflow()
       and exists (select 1 from app_hidden.status_transitions t where t.table_name = TG_TABLE_NAME and t.to_status = NEW.status) then
      return NEW;  -- a workflow records a row in a later status (e.g. a completed payment)
    end if;
    perform app_hidden.raise_illegal_transition(TG_RELID, v_from, NEW.status);
  end if;
  if v_user is null then
    return NEW;
  end if;
  if v_step.via is not null and not app_hidden.in_workflow() then
    perform app_hidden.raise_error('HMS_WORKFLOW_REQUIRED',
      format('%s goes to %s only through %s.', app_hidden.a_or_an(app_hidden.entity_of(TG_RELID), true), NEW.status, v_step.via),
      jsonb_build_object('entity', replace(app_hidden.entity_of(TG_RELID), ' ', '_'), 'to', NEW.status, 'use', v_step.via));
  end if;
  if v_step.permission is not null and not app_hidden.has_permission(v_step.permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN',
      format('Moving %s to %s needs the %s permission.', app_hidden.a_or_an(app_hidden.entity_of(TG_RELID)), NEW.status, v_step.permission),
      jsonb_build_object('permission', v_step.permission));
  end if;
  if v_step.reason_column is not null and nullif(trim(to_jsonb(NEW) ->> v_step.reason_column), '') is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED',
      format('Say why the %s goes to %s (%s).', app_hidden.entity_of(TG_RELID), NEW.status, v_step.reason_column),
      jsonb_build_object('field', v_step.reason_column));
  end if;
  if v_step.stamp_at is not null then
    v_patch := v_patch || jsonb_build_object(v_step.stamp_at, app_hidden.now());
  end if;
  if v_step.stamp_by is not null then
    v_patch := v_patch || jsonb_build_object(v_step.stamp_by, v_user);
  end if;
  if v_patch <> '{}' then
    NEW := jsonb_populate_record(NEW, v_patch);
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__status_machine() is
  'BEFORE INSERT/UPDATE OF status (_150_status_machine): legal steps only (HMS_ILLEGAL_TRANSITION), workflow-only steps (HMS_WORKFLOW_REQUIRED), step permissions (HMS_FORBIDDEN) and reasons (HMS_REASON_REQUIRED); stamps who and when from the session.';

/* ------------------------------------------------------------------------------------------
 * Document lock: a document, or its lines, is edited only while it is in an editable status
 * ------------------------------------------------------------------------------------------ */

/*
 * BEFORE INSERT/UPDATE/DELETE, for client writes only (workflow RPCs change locked documents the
 * way the workflow allows: a credit note, an amendment, a receipt). Arguments:
 *   0 editable statuses (comma-separated)
 *   1 columns a client may still change when locked (comma-separated; may be empty)
 *   2 the document table, when the trigger sits on its lines (empty: on the document itself)
 *   3 the lines' column naming their document
 * Refuses with 409 HMS_DOCUMENT_LOCKED.
 */
create or replace function app_hidden.tg__document_lock() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_editable text[] := string_to_array(TG_ARGV[0], ',');
  -- Generated columns are null in NEW until after the BEFORE triggers, and nobody writes them.
  v_still_editable text[] := coalesce(string_to_array(nullif(TG_ARGV[1], ''), ','), '{}') || array['updated_at', 'updated_by']
    || array(select a.attname::text from pg_catalog.pg_attribute a
              where a.attrelid = TG_RELID and a.attnum > 0 and a.attgenerated <> '' and not a.attisdropped);
  v_document regclass := nullif(TG_ARGV[2], '')::regclass;
  v_column text := nullif(TG_ARGV[3], '');
  v_ids uuid[];
  v_hospital uuid;
  v_status text;
  v_locked_id uuid;
  v_locked_status text;
begin
  if app_hidden.is_trusted_writer() or (TG_OP = 'INSERT' and not app_hidden.policies_may_admit(TG_RELID, to_jsonb(NEW))) then
    return case when TG_OP = 'DELETE' then OLD else NEW end;
  end if;
  if TG_OP = 'UPDATE' and (to_jsonb(NEW) - v_still_editable) = (to_jsonb(OLD) - v_still_editable) then
    return NEW;
  end if;
  if v_document is null then
    -- On the document itself: its own status decides (an insert is checked by the status machine).
    -- (read through jsonb: the same function serves tables whose rows have no status of their own)
    v_status := to_jsonb(OLD) ->> 'status';
    if TG_OP <> 'INSERT' and not (v_status = any (v_editable)) then
      perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
        format('This %s is %s: it can no longer be changed this way.', app_hidden.entity_of(TG_RELID), v_status),
        jsonb_build_object('entity', replace(app_hidden.entity_of(TG_RELID), ' ', '_'), 'id', OLD.id, 'status', v_status));
    end if;
    return case when TG_OP = 'DELETE' then OLD else NEW end;
  end if;
  -- On lines: the status of the document the line belongs to (before and after a move).
  v_hospital := case when TG_OP = 'DELETE' then OLD.hospital_id else NEW.hospital_id end;
  v_ids := array[case when TG_OP <> 'DELETE' then (to_jsonb(NEW) ->> v_column)::uuid end,
                 case when TG_OP <> 'INSERT' then (to_jsonb(OLD) ->> v_column)::uuid end];
  execute format('select d.id, d.status from %s d where d.hospital_id = $1 and d.id = any ($2) and not (d.status = any ($3)) limit 1', v_document)
     into v_locked_id, v_locked_status using v_hospital, v_ids, v_editable;
  if v_locked_id is not null then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
      format('This %s is %s: its lines can no longer change.', app_hidden.entity_of(v_document), v_locked_status),
      jsonb_build_object('entity', replace(app_hidden.entity_of(v_document), ' ', '_'), 'id', v_locked_id, 'status', v_locked_status));
  end if;
  return case when TG_OP = 'DELETE' then OLD else NEW end;
end;
$$;
comment on function app_hidden.tg__document_lock() is
  'BEFORE INSERT/UPDATE/DELETE (_060_document_lock): client writes change a document, or its lines, only while the document is in an editable status (HMS_DOCUMENT_LOCKED).';

/*
 * Installs the document lock on a document table (p_document_column null) or on its lines.
 * select app_hidden.lock_document('app_public.invoices', '{draft}', still_editable => '{notes}');
 * select app_hidden.lock_document('app_public.invoice_items', '{draft}', document => 'app_public.invoices', document_column => 'invoice_id');
 */
create or replace function app_hidden.lock_document(
  p_table regclass, editable_statuses text[], still_editable text[] default '{}',
  document regclass default null, document_column text default null
) returns void
language plpgsql
volatile
as $$
begin
  execute format('drop trigger if exists _060_document_lock on %s', p_table);
  execute format('create trigger _060_document_lock before insert or update or delete on %s for each row '
                 'execute function app_hidden.tg__document_lock(%L, %L, %L, %L)',
                 p_table, array_to_string(editable_statuses, ','), array_to_string(still_editable, ','),
                 coalesce(document::text, ''), coalesce(document_column, ''));
end;
$$;
comment on function app_hidden.lock_document(regclass, text[], text[], regclass, text) is
  'Installs the document lock (_060_document_lock) on a document or on its lines (idempotent).';

/* ------------------------------------------------------------------------------------------
 * Append-only history
 * ------------------------------------------------------------------------------------------ */

create or replace function app_hidden.tg__append_only() returns trigger
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_APPEND_ONLY',
    format('%s is append-only history: its rows are never changed or removed.', initcap(app_hidden.entity_of(TG_RELID))),
    jsonb_build_object('table', TG_TABLE_NAME, 'operation', lower(TG_OP)));
  return null;
end;
$$;
comment on function app_hidden.tg__append_only() is
  'BEFORE UPDATE/DELETE row and BEFORE TRUNCATE statement trigger (_000_append_only) of history tables: refuses with HMS_APPEND_ONLY, for every role including the owner.';
grant execute on function app_hidden.tg__append_only() to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Totals from lines
 * ------------------------------------------------------------------------------------------ */

/*
 * AFTER INSERT/UPDATE/DELETE on lines (_800_refresh_totals): calls the document's refresh
 * function (TG_ARGV[1], taking the document id) for the document the line belongs to — before and
 * after a move — inside enter_workflow()/leave_workflow(), so the derived columns it writes pass
 * the document's own guards. The refresh function is the one place a document's totals are
 * computed (app_hidden.refresh_<document>_totals).
 */
create or replace function app_hidden.tg__refresh_totals() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_column text := TG_ARGV[0];
  v_refresh regproc := TG_ARGV[1]::regproc;
  v_new uuid;
  v_old uuid;
  v_previous text;
begin
  if TG_OP <> 'DELETE' then v_new := (to_jsonb(NEW) ->> v_column)::uuid; end if;
  if TG_OP <> 'INSERT' then v_old := (to_jsonb(OLD) ->> v_column)::uuid; end if;
  v_previous := app_hidden.enter_workflow();
  if v_new is not null then
    execute format('select %s($1)', v_refresh) using v_new;
  end if;
  if v_old is not null and v_old is distinct from v_new then
    execute format('select %s($1)', v_refresh) using v_old;
  end if;
  perform app_hidden.leave_workflow(v_previous);
  return null;
end;
$$;
comment on function app_hidden.tg__refresh_totals() is
  'AFTER INSERT/UPDATE/DELETE on lines (_800_refresh_totals): recomputes the totals of the document the line belongs to through its refresh function.';

/* select app_hidden.refresh_totals_from('app_public.invoice_items', 'invoice_id', 'app_hidden.refresh_invoice_totals'); */
create or replace function app_hidden.refresh_totals_from(p_lines regclass, p_document_column text, p_refresh regproc) returns void
language plpgsql
volatile
as $$
begin
  execute format('drop trigger if exists _800_refresh_totals on %s', p_lines);
  execute format('create trigger _800_refresh_totals after insert or update or delete on %s for each row '
                 'execute function app_hidden.tg__refresh_totals(%L, %L)', p_lines, p_document_column, p_refresh::text);
end;
$$;
comment on function app_hidden.refresh_totals_from(regclass, text, regproc) is
  'Installs the totals trigger (_800_refresh_totals) on a lines table: every change of a line refreshes its document through the refresh function (idempotent).';

--! split: 0031-friendly-constraints.sql
/*
 * Friendly constraint errors (DESIGN.md §10): a client never sees a raw SQLSTATE for a rule the
 * schema states.
 *
 * PostgreSQL checks NOT NULL and CHECK constraints after the BEFORE triggers, unique indexes
 * while it inserts, and foreign keys at the end of the statement — and raises 23502/23514/23505/
 * 23503 with the constraint's name, which PostgREST passes on as a 400/409 with that SQLSTATE.
 * Neither PostgREST nor PostGraphile can translate an error, so the database names the broken
 * rule first: the last BEFORE trigger of every registered table (_990_friendly_constraints) runs,
 * for API requests, one query built from the table's catalog at registration — the table's
 * probe function, app_hidden.constraint_probe__<table>, whose plan PostgreSQL keeps for the
 * session like any PL/pgSQL query's — that returns the first constraint the final row would
 * break, and raises its registered code (app_hidden.constraint_errors) or the default of its kind:
 *
 *   NOT NULL          → 422 HMS_REQUIRED
 *   CHECK             → 422 HMS_INVALID_VALUE (hint: the column's comment, which lists what is allowed)
 *   unique            → 409 HMS_DUPLICATE
 *   foreign key       → 422 HMS_REFERENCE_NOT_FOUND (composite keys: the row does not exist in this hospital)
 *
 * The probe answers only writers the policies let through (the table's write permissions, their
 * own hospital's rows): PostgreSQL checks row-level security before constraints, so a writer
 * without the permission, or a row aimed at another hospital, still meets 42501 first.
 * The constraints themselves stay the guarantee: the probe only words the refusal. Unique values
 * are probed for client writes (workflow RPCs check their own, e.g. HMS_LAB_BARCODE_TAKEN, and
 * may insert … on conflict); two requests racing for the same unique value can still meet the
 * raw 23505 of the loser (the probe ran before the winner committed); exclusion constraints are left to the functions that insert into
 * them (book_appointment answers HMS_SLOT_TAKEN), and a direct write that breaks one answers
 * the raw 23P01. Writes without an API request (the owner, migrations, demo data) skip the probe
 * and meet the constraints directly, as before.
 */

/*
 * A query of a table's probe over the row ($1) answering (kind, constraint name, columns) of the
 * first broken rule: the rules about the row itself (p_rules 'own': NOT NULL — for a client's own
 * row, $2 — and CHECK), or those about other rows ('other': unique values, foreign keys), which
 * the probe asks only for a client's own row.
 */
drop function if exists app_hidden.constraint_probe_sql(regclass);
create or replace function app_hidden.constraint_probe_sql(p_table regclass, p_rules text) returns text
language plpgsql
stable
-- The same path as the trigger that runs the probe: expressions are deparsed with every name qualified.
set search_path = pg_catalog, pg_temp
as $$
declare
  -- One rule each: its kind, constraint name, columns, and the condition under which the row breaks it.
  v_kinds text[] := '{}';
  v_names text[] := '{}';
  v_columns text[] := '{}';
  v_broken text[] := '{}';
  v record;
begin
  for v in
    select a.attname::text as name
      from pg_catalog.pg_attribute a
     where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped and a.attnotnull and a.attgenerated = ''
       and p_rules = 'own'
     order by a.attnum
  loop
    v_kinds := v_kinds || 'not_null'::text;
    v_names := v_names || (pg_catalog.split_part(p_table::text, '.', 2) || '_' || v.name || '_not_null');
    v_columns := v_columns || array[v.name]::text;
    -- (a workflow sets what it inserts: only a client's row is told what it lacks)
    v_broken := v_broken || format('$2 and t.%I is null', v.name);
  end loop;

  for v in
    select c.conname::text as name, pg_catalog.pg_get_expr(c.conbin, c.conrelid) as expr,
           array(select a.attname::text from unnest(c.conkey) k join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k) as cols
      from pg_catalog.pg_constraint c
     where c.conrelid = p_table and c.contype = 'c' and p_rules = 'own'
     order by c.conname
  loop
    v_kinds := v_kinds || 'check'::text;
    v_names := v_names || v.name;
    v_columns := v_columns || v.cols::text;
    v_broken := v_broken || format('(%s) is false', v.expr);
  end loop;

  -- Unique constraints and unique indexes on plain columns (expression indexes are left to PostgreSQL).
  for v in
    select ic.relname::text as name, i.indnullsnotdistinct as nulls_not_distinct,
           pg_catalog.pg_get_expr(i.indpred, i.indrelid) as predicate,
           array(select a.attname::text from unnest(i.indkey::int2[]) with ordinality k(attnum, n)
                   join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                  where k.n <= i.indnkeyatts order by k.n) as cols
      from pg_catalog.pg_index i
      join pg_catalog.pg_class ic on ic.oid = i.indexrelid
     where i.indrelid = p_table and i.indisunique and not i.indisprimary
       and i.indexprs is null and 0 <> all (i.indkey::int2[]) and p_rules = 'other'
     order by ic.relname
  loop
    v_kinds := v_kinds || 'unique'::text;
    v_names := v_names || v.name;
    v_columns := v_columns || v.cols::text;
    v_broken := v_broken || format('%s exists (select 1 from %s x where x.id is distinct from t.id and %s%s)',
      case when v.predicate is not null then format('(%s) is true and', v.predicate) else '' end,
      p_table,
      (select string_agg(format(case when v.nulls_not_distinct then 'x.%1$I is not distinct from t.%1$I' else 'x.%1$I = t.%1$I' end, c), ' and ')
         from unnest(v.cols) c),
      case when v.predicate is not null then format(' and (%s)', v.predicate) else '' end);
  end loop;

  for v in
    select c.conname::text as name, c.confrelid::regclass as target,
           array(select a.attname::text from unnest(c.conkey) with ordinality k(attnum, n)
                   join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum order by k.n) as cols,
           array(select a.attname::text from unnest(c.confkey) with ordinality k(attnum, n)
                   join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum order by k.n) as target_cols
      from pg_catalog.pg_constraint c
     where c.conrelid = p_table and c.contype = 'f' and p_rules = 'other'
     order by c.conname
  loop
    v_kinds := v_kinds || 'foreign_key'::text;
    v_names := v_names || v.name;
    v_columns := v_columns || v.cols::text;
    v_broken := v_broken || format('%s and not exists (select 1 from %s r where %s)',
      (select string_agg(format('t.%I is not null', c), ' and ') from unnest(v.cols) c),
      v.target,
      (select string_agg(format('r.%I = t.%I', v.target_cols[n], v.cols[n]), ' and ') from generate_subscripts(v.cols, 1) n));
  end loop;

  if cardinality(v_kinds) = 0 then
    return null;
  end if;
  -- One CASE over the row: evaluated in order and stopping at the first broken rule, so a row
  -- that breaks nothing costs one pass over its own values (and, for a client's own row, one
  -- index lookup per unique value and reference).
  return format(E'select (%L::text[])[p.i], (%L::text[])[p.i], ((%L::text[])[p.i])::text[]\n'
                || E'  from (select case\n%s\n  end as i\n  from (select ($1).*) t) p\n where p.i is not null',
                v_kinds, v_names, v_columns,
                (select string_agg(format('    when %s then %s', b, n), E'\n' order by n) from unnest(v_broken) with ordinality u(b, n)));
end;
$$;
comment on function app_hidden.constraint_probe_sql(regclass, text) is
  'Builds a query of the friendly-constraint probe of a table from its catalog: the rules about the row itself (own: NOT NULL, CHECK) or about other rows (other: unique values, foreign keys), evaluated on one row ($1; $2: a client''s own row).';

/*
 * (Re)creates a table's probe function from its catalog: app_hidden.constraint_probe__<table>(row,
 * probe unique values) returns the (kind, constraint, columns) of the first rule the row breaks.
 * Generated, not written by hand: register_table calls it, and tests/db/kit.test.sql fails when a
 * table's constraints changed without its registration being run again.
 */
create or replace function app_hidden.create_constraint_probe(p_table regclass) returns void
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
as $$
begin
  execute format($f$create or replace function app_hidden.%I(%s, boolean) returns table (kind text, name text, columns text[])
                    language plpgsql stable security definer set search_path = pg_catalog, pg_temp
                    set plan_cache_mode = force_generic_plan
                    as %L$f$,
                 'constraint_probe__' || pg_catalog.split_part(p_table::text, '.', 2), p_table,
                 -- Two queries, so a workflow's write (no rules about other rows) never starts the second.
                 E'#variable_conflict use_column\nbegin\n  return query\n'
                 || coalesce(app_hidden.constraint_probe_sql(p_table, 'own'), 'select null::text, null::text, null::text[] where false')
                 || E';\n  if found or not $2 then\n    return;\n  end if;\n  return query\n'
                 || coalesce(app_hidden.constraint_probe_sql(p_table, 'other'), 'select null::text, null::text, null::text[] where false')
                 || E';\nend');
  execute format('comment on function app_hidden.%I(%s, boolean) is %L', 'constraint_probe__' || pg_catalog.split_part(p_table::text, '.', 2),
                 p_table, format('Generated by register_table from the constraints of %s: the first rule a row breaks (see tg__friendly_constraints).', p_table));
end;
$$;
comment on function app_hidden.create_constraint_probe(regclass) is
  'Creates the probe function of a table (app_hidden.constraint_probe__<table>) from its constraints; part of register_table.';

/* Raises the friendly error of a broken constraint: its registered code and message, or the default of its kind. */
create or replace function app_hidden.raise_constraint_error(p_table regclass, p_kind text, p_constraint text, p_columns text[]) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_registered app_hidden.constraint_errors;
  v_entity text := app_hidden.entity_of(p_table);
  v_columns text[] := coalesce(nullif(array_remove(p_columns, 'hospital_id'), '{}'), p_columns);
  v_column_list text := array_to_string(v_columns, ', ');
  v_hint text;
  v_target regclass;
begin
  select * into v_registered from app_hidden.constraint_errors e where e.constraint_name = p_constraint;
  if p_kind = 'check' and cardinality(v_columns) = 1 then
    v_hint := pg_catalog.col_description(p_table, (select a.attnum from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = v_columns[1]));
  end if;
  if p_kind = 'foreign_key' then
    v_target := (select c.confrelid::regclass from pg_catalog.pg_constraint c where c.conrelid = p_table and c.conname = p_constraint);
  end if;
  perform app_hidden.raise_error(
    coalesce(v_registered.code, case p_kind when 'not_null' then 'HMS_REQUIRED' when 'check' then 'HMS_INVALID_VALUE'
                                             when 'unique' then 'HMS_DUPLICATE' else 'HMS_REFERENCE_NOT_FOUND' end),
    coalesce(v_registered.message, case p_kind
      when 'not_null' then format('%s needs %s.', app_hidden.a_or_an(v_entity, true), v_column_list)
      when 'check' then case when cardinality(v_columns) = 1
                             then format('The %s given for this %s is not allowed.', v_column_list, v_entity)
                             else format('This %s breaks the rule %s (%s).', v_entity, p_constraint, v_column_list) end
      when 'unique' then format('%s with this %s already exists.', app_hidden.a_or_an(v_entity, true), v_column_list)
      else format('The %s given in %s does not exist in this hospital.', app_hidden.entity_of(v_target), v_column_list) end),
    jsonb_build_object('table', pg_catalog.split_part(p_table::text, '.', 2), 'constraint', p_constraint, 'columns', to_jsonb(v_columns)),
    v_hint);
end;
$$;
comment on function app_hidden.raise_constraint_error(regclass, text, text, text[]) is
  'Raises the friendly error of a broken constraint (app_hidden.constraint_errors, else the default code and sentence of its kind).';

/* BEFORE INSERT OR UPDATE, last of the BEFORE triggers (_990_friendly_constraints), for API requests. */
create or replace function app_hidden.tg__friendly_constraints() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_kind text;
  v_name text;
  v_columns text[];
begin
  if nullif(current_setting('request.jwt.claims', true), '') is null then
    return NEW;  -- the owner, migrations, demo data: the constraints answer themselves
  end if;
  -- Tables no client writes (the audit trail, the ledger, status logs, versions) are written only
  -- by the database's own functions: a broken rule there is a defect to see as it is.
  if not exists (select 1 from app_hidden.table_registry r where r.table_name = TG_TABLE_NAME and r.write_permissions <> '{}') then
    return NEW;
  end if;
  -- Only a writer the policies will let through hears which rule the row breaks: PostgreSQL
  -- checks row-level security before constraints, and so must the probe (a row of another
  -- hospital, or a writer without the permission, meets 42501 first and learns nothing).
  if not app_hidden.policies_may_admit(TG_RELID, to_jsonb(NEW)) then
    return NEW;
  end if;
  -- Rules about other rows (unique values, references) are probed for the rows a client writes
  -- itself — not for rows a trigger or a workflow writes on its behalf: a workflow looks up what
  -- it references (find_or_404) and checks its own unique values, and the lookups would only
  -- cost time — and not for an upsert: an INSERT … ON CONFLICT (PostgREST's
  -- resolution=merge-duplicates) meets its duplicate on purpose.
  execute format('select p.kind, p.name, p.columns from app_hidden.%I($1, $2) p limit 1', 'constraint_probe__' || TG_TABLE_NAME)
     into v_kind, v_name, v_columns
    using NEW, not app_hidden.is_trusted_writer() and pg_trigger_depth() = 1 and current_query() !~* '\mon\s+conflict\M';
  if v_kind is not null then
    perform app_hidden.raise_constraint_error(TG_RELID, v_kind, v_name, v_columns);
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__friendly_constraints() is
  'BEFORE INSERT/UPDATE (_990_friendly_constraints): for API requests, answers the first constraint the row would break with its HMS_* code instead of the raw SQLSTATE.';

--! split: 0032-numbering.sql
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

--! split: 0033-register-table.sql
/*
 * One registration call per table (DESIGN.md §8, db/CONVENTIONS.md "Adding a table").
 *
 *   select app_hidden.register_table('app_public.<table>', '<entity in words>',
 *     read_permissions => '{…}', write_permissions => '{…}', delete_permissions => '{…}', …);
 *
 * applies everything a table of HMS has, from the catalog and the registries, so no section
 * repeats it and no table can forget it:
 *   conventions    comments of the standard columns; created_by/updated_by → users
 *   _000           append-only (history tables)
 *   _010_number    its document number, when app_hidden.document_types numbers the table
 *   _050/_110      soft delete (tables with is_deleted): a staff DELETE becomes is_deleted = true
 *   _100_stamp     created_at/created_by once, updated_at/updated_by on every write (tables with them)
 *   _150           the status machine, when app_hidden.status_transitions declares one
 *   _990           friendly constraint errors
 *   _900_audit     the audit trail (unless audited => false)
 *   access         RLS enabled and forced; for hospital-scoped tables (policies => 'generated') the
 *                  restrictive tenant policy, hide_deleted, the permissive permission policies and
 *                  column-listed grants from the access model (app_hidden.table_access); chain-level
 *                  and special tables (policies => 'hand_written') write their own policies and
 *                  grants right after the call (their write_permissions, when clients write them,
 *                  say who gets friendly constraint errors: see 0031).
 * It records the registration in app_hidden.table_registry. Re-running it is harmless: it drops
 * what it installs before installing it again. Declare the table's status machine
 * (declare_status_machine) and document type (0032-numbering) before registering it.
 *
 * Columns clients never write (no insert/update privilege, so PostgREST and PostGraphile answer
 * 403; security definer workflow RPCs, running as the owner, still write them): the tenant and
 * bookkeeping columns, soft-delete flags, the document number, every stamp column of the status
 * machine, and the table's protected_columns; on update also id and its immutable_columns.
 */

alter table app_hidden.table_access add column if not exists immutable_columns text[] not null default '{}';
comment on column app_hidden.table_access.immutable_columns is 'Columns clients set when they insert a row but never change afterwards.';
comment on column app_hidden.table_access.protected_columns is 'Columns clients never write (derived values, workflow results); workflow RPCs write them.';

/* The columns of a table a client may write: everything but what the conventions, the registries and the model protect. */
create or replace function app_hidden.client_writable_columns(p_table regclass, p_for_update boolean) returns text[]
language sql
stable
as $$
  with t as (select c.relname::text as name from pg_catalog.pg_class c where c.oid = p_table),
  closed as (
    select unnest(array['hospital_id', 'created_at', 'updated_at', 'created_by', 'updated_by', 'is_deleted', 'deleted_at']) as col
    union select d.column_name from app_hidden.document_types d, t where d.table_name = t.name
    union select unnest(array[s.stamp_at, s.stamp_by]) from app_hidden.status_transitions s, t where s.table_name = t.name
    union select unnest(a.protected_columns) from app_hidden.table_access a, t where a.table_name = t.name
    union select unnest(a.immutable_columns) from app_hidden.table_access a, t where a.table_name = t.name and p_for_update
    union select 'id' where p_for_update)
  select coalesce(array_agg(a.attname::text order by a.attnum), '{}')
    from pg_catalog.pg_attribute a
   where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
     and a.attname::text not in (select col from closed where col is not null);
$$;
comment on function app_hidden.client_writable_columns(regclass, boolean) is
  'Columns of a table API clients may insert (p_for_update false) or update: all but tenant, bookkeeping, soft-delete, number, status-stamp, protected (and on update id and immutable) columns.';

/* Comments of the standard columns and the created_by/updated_by keys (idempotent). */
create or replace function app_hidden.apply_table_conventions(p_table regclass) returns void
language plpgsql
volatile
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
  'Comments the standard columns of a table and links created_by/updated_by to users (idempotent); part of register_table.';

/* The generated access policies and grants of a hospital-scoped table, from its app_hidden.table_access row. */
create or replace function app_hidden.apply_access_policies(p_table regclass) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_access app_hidden.table_access;
  v_policy record;
  v_has_deleted boolean := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_deleted' and not a.attisdropped);
  v_read text;
begin
  select * into strict v_access from app_hidden.table_access where table_name = v_name;

  for v_policy in select polname from pg_catalog.pg_policy where polrelid = p_table loop
    execute format('drop policy %I on %s', v_policy.polname, p_table);
  end loop;
  execute format('revoke insert, update, delete on %s from :DATABASE_STAFF, :DATABASE_ANONYMOUS', p_table);
  execute format('alter table %s alter column hospital_id set default app_hidden.current_hospital_id()', p_table);

  execute format($p$create policy tenant_isolation on %s as restrictive for all to :DATABASE_STAFF
                    using (hospital_id = (select app_hidden.current_hospital_id()))
                    with check (hospital_id = (select app_hidden.current_hospital_id()))$p$, p_table);
  execute format('comment on policy tenant_isolation on %s is %L', p_table,
                 'Staff see and write only rows of their active hospital; no other policy can widen this.');

  if v_has_deleted then
    execute format($p$create policy hide_deleted on %s as restrictive for select to :DATABASE_STAFF
                      using (not is_deleted or (select app_hidden.has_permission('audit.read')))$p$, p_table);
    execute format('comment on policy hide_deleted on %s is %L', p_table,
                   'Soft-deleted rows leave normal lists; holders of audit.read (hospital admins) still see them.');
  end if;

  v_read := case when v_access.read_permissions is null
                 then '(select app_hidden.current_hospital_id()) is not null'
                 else format('(select app_hidden.has_any_permission(%L::text[]))', v_access.read_permissions) end;
  execute format('create policy select_with_permission on %s for select to :DATABASE_STAFF using (%s)', p_table, v_read);
  execute format('comment on policy select_with_permission on %s is %L', p_table,
                 case when v_access.read_permissions is null then 'Every member of the hospital may read.'
                      else 'Readable with any of: ' || array_to_string(v_access.read_permissions, ', ') || '.' end);
  execute format('grant select on %s to :DATABASE_STAFF', p_table);

  if v_access.write_mode in ('read_write', 'insert_only') and v_access.write_permissions <> '{}' then
    execute format('create policy insert_with_permission on %s for insert to :DATABASE_STAFF with check ((select app_hidden.has_any_permission(%L::text[])))',
                   p_table, v_access.write_permissions);
    execute format('comment on policy insert_with_permission on %s is %L', p_table,
                   'Insertable with any of: ' || array_to_string(v_access.write_permissions, ', ') || '.');
    execute format('grant insert (%s) on %s to :DATABASE_STAFF',
                   (select string_agg(quote_ident(c), ', ') from unnest(app_hidden.client_writable_columns(p_table, false)) c), p_table);
  end if;

  if v_access.write_mode in ('read_write', 'update_only') and v_access.write_permissions <> '{}' then
    execute format('create policy update_with_permission on %s for update to :DATABASE_STAFF using ((select app_hidden.has_any_permission(%L::text[]))) with check ((select app_hidden.has_any_permission(%L::text[])))',
                   p_table, v_access.write_permissions, v_access.write_permissions);
    execute format('comment on policy update_with_permission on %s is %L', p_table,
                   'Updatable with any of: ' || array_to_string(v_access.write_permissions, ', ') || '.');
    execute format('grant update (%s) on %s to :DATABASE_STAFF',
                   (select string_agg(quote_ident(c), ', ') from unnest(app_hidden.client_writable_columns(p_table, true)) c), p_table);
  end if;

  if v_access.delete_permissions <> '{}' then
    execute format('create policy delete_with_permission on %s for delete to :DATABASE_STAFF using ((select app_hidden.has_any_permission(%L::text[])))',
                   p_table, v_access.delete_permissions);
    execute format('comment on policy delete_with_permission on %s is %L', p_table,
                   'Deletable with any of: ' || array_to_string(v_access.delete_permissions, ', ') || '.'
                   || case when v_has_deleted then ' A delete by staff is a soft delete.' else '' end);
    execute format('grant delete on %s to :DATABASE_STAFF', p_table);
  end if;
end;
$$;
comment on function app_hidden.apply_access_policies(regclass) is
  'Generates the RLS policies and grants of a hospital-scoped table from its app_hidden.table_access row (re-runnable); part of register_table.';

/* Installs (or removes) one of the triggers register_table manages. */
create or replace function app_hidden.set_trigger(p_table regclass, p_name text, p_wanted boolean, p_definition text) returns void
language plpgsql
volatile
as $$
begin
  execute format('drop trigger if exists %I on %s', p_name, p_table);
  if p_wanted then
    execute format('create trigger %I %s', p_name, replace(p_definition, '%TABLE%', p_table::text));
  end if;
end;
$$;
comment on function app_hidden.set_trigger(regclass, text, boolean, text) is
  'Drops a trigger and, when wanted, creates it again from its definition (%TABLE% is the table): the idempotent step of register_table.';

create or replace function app_hidden.register_table(
  p_table regclass,
  entity text,
  read_permissions text[] default null,
  write_permissions text[] default '{}',
  delete_permissions text[] default '{}',
  write_mode text default 'read_write',
  protected_columns text[] default '{}',
  immutable_columns text[] default '{}',
  audited boolean default true,
  append_only boolean default false,
  policies text default 'generated'
) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table and c.relnamespace = 'app_public'::regnamespace);
  v_scoped boolean;
  v_soft boolean;
  v_number app_hidden.document_types;
begin
  if v_name is null then
    raise exception 'register_table: % is not a table of app_public', p_table;
  end if;
  v_scoped := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'hospital_id' and a.attnotnull and not a.attisdropped);
  v_soft := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_deleted' and not a.attisdropped);
  if p_table = 'app_public.audit_logs'::regclass and register_table.audited then
    raise exception 'register_table: app_public.audit_logs cannot audit itself (audited => false)';
  end if;
  if register_table.policies = 'generated' and not v_scoped then
    raise exception 'register_table: % has no hospital_id: its policies are hand-written (policies => ''hand_written'')', p_table;
  end if;

  perform app_hidden.apply_table_conventions(p_table);

  if register_table.policies = 'generated' then
    insert into app_hidden.table_access as a
      (table_name, read_permissions, write_permissions, delete_permissions, write_mode, protected_columns, immutable_columns)
    values (v_name, register_table.read_permissions, register_table.write_permissions, register_table.delete_permissions,
            register_table.write_mode, register_table.protected_columns, register_table.immutable_columns)
    on conflict (table_name) do update
       set read_permissions = excluded.read_permissions, write_permissions = excluded.write_permissions,
           delete_permissions = excluded.delete_permissions, write_mode = excluded.write_mode,
           protected_columns = excluded.protected_columns, immutable_columns = excluded.immutable_columns;
  else
    delete from app_hidden.table_access a where a.table_name = v_name;
  end if;

  -- Triggers, in firing order (BEFORE triggers fire by name).
  perform app_hidden.set_trigger(p_table, '_000_append_only', register_table.append_only,
    'before update or delete on %TABLE% for each row execute function app_hidden.tg__append_only()');
  perform app_hidden.set_trigger(p_table, '_000_append_only_truncate', register_table.append_only,
    'before truncate on %TABLE% for each statement execute function app_hidden.tg__append_only()');
  select * into v_number from app_hidden.document_types d where d.table_name = v_name;
  perform app_hidden.set_trigger(p_table, '_010_number', v_number.document_type is not null,
    format('before insert on %%TABLE%% for each row execute function app_hidden.tg__assign_number(%L, %L, %L)',
           v_number.column_name, v_number.document_type, coalesce(v_number.scope_column, '')));
  perform app_hidden.set_trigger(p_table, '_050_soft_delete', v_soft,
    'before delete on %TABLE% for each row execute function app_hidden.tg__soft_delete()');
  perform app_hidden.set_trigger(p_table, '_100_stamp',
    exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'updated_by' and not a.attisdropped),
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__stamp()');
  perform app_hidden.set_trigger(p_table, '_110_soft_delete', v_soft,
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__soft_delete_stamp()');
  perform app_hidden.set_trigger(p_table, '_150_status_machine',
    exists (select 1 from app_hidden.status_transitions s where s.table_name = v_name),
    'before insert or update of status on %TABLE% for each row execute function app_hidden.tg__status_machine()');
  perform app_hidden.set_trigger(p_table, '_990_friendly_constraints', true,
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__friendly_constraints()');
  perform app_hidden.set_trigger(p_table, '_900_audit', register_table.audited,
    'after insert or update or delete on %TABLE% for each row execute function app_hidden.tg__audit()');

  execute format('alter table %s enable row level security, force row level security', p_table);
  if register_table.policies = 'generated' then
    perform app_hidden.apply_access_policies(p_table);
  end if;

  insert into app_hidden.table_registry as r
    (table_name, entity, hospital_scoped, soft_delete, audited, append_only, policies, write_permissions)
  values (v_name, register_table.entity, v_scoped, v_soft, register_table.audited, register_table.append_only, register_table.policies,
          register_table.write_permissions)
  on conflict (table_name) do update
     set entity = excluded.entity, hospital_scoped = excluded.hospital_scoped, soft_delete = excluded.soft_delete,
         audited = excluded.audited, append_only = excluded.append_only, policies = excluded.policies,
         write_permissions = excluded.write_permissions;
  perform app_hidden.create_constraint_probe(p_table);
end;
$$;
comment on function app_hidden.register_table(regclass, text, text[], text[], text[], text, text[], text[], boolean, boolean, text) is
  E'Registers an app_public table: conventions, number, stamps, soft delete, status machine, friendly constraint errors, audit, RLS and (for hospital-scoped tables) the generated tenant/permission policies and column-listed grants. Idempotent. See 0033-register-table.sql.';

--! split: 0100-hospitals.sql
/*
 * Hospitals, their settings, departments and tax rules (tables: db/schema/app_public/tables/):
 * registered with the kit. hospitals is chain-level (its policies are hand-written: members see
 * their hospitals, the super admin manages the chain); the others are scoped to one hospital and
 * readable by every member of it, written by holders of settings.manage.
 */
select app_hidden.register_table('app_public.hospitals', 'hospital', policies => 'hand_written',
  write_permissions => '{hospitals.manage}');
select app_hidden.register_table('app_public.hospital_settings', 'hospital settings',
  write_permissions => '{settings.manage}', write_mode => 'update_only');
select app_hidden.register_table('app_public.departments', 'department',
  write_permissions => '{settings.manage}', delete_permissions => '{settings.manage}');
select app_hidden.register_table('app_public.tax_configurations', 'tax configuration',
  write_permissions => '{settings.manage}', delete_permissions => '{settings.manage}');

--! split: 0200-users-and-access.sql
/*
 * Users and access (tables: db/schema/app_public/tables/): chain-level tables with hand-written
 * policies (section 9200 of migration 000002: the staff directory of the active hospital, the
 * role catalogue, role assignments within one's hospital), registered with the kit for their
 * conventions, stamps, soft delete, friendly errors and audit. refresh_tokens and password_emails
 * are written only by the identity functions; refresh tokens are audited as login/refresh events
 * instead of row changes.
 */
select app_hidden.register_table('app_public.users', 'user', policies => 'hand_written', write_permissions => '{users.manage}');
select app_hidden.register_table('app_public.roles', 'role', policies => 'hand_written', write_permissions => '{roles.manage}');
select app_hidden.register_table('app_public.permissions', 'permission', policies => 'hand_written');
select app_hidden.register_table('app_public.role_permissions', 'role permission', policies => 'hand_written', write_permissions => '{roles.manage}');
select app_hidden.register_table('app_public.user_roles', 'role assignment', policies => 'hand_written', write_permissions => '{users.manage}');
select app_hidden.register_table('app_public.refresh_tokens', 'refresh token', policies => 'hand_written', audited => false);
select app_hidden.register_table('app_public.password_emails', 'password email', policies => 'hand_written');

/* Numbering formats are edited by administrators; the counters only by hms_generate_id. Not audited: every number issued is a counter update (the documents that receive numbers are audited). */
select app_hidden.register_table('app_public.id_sequences', 'id sequence',
  write_permissions => '{settings.manage}', write_mode => 'update_only',
  protected_columns => '{document_type,scope,current_period,next_value,last_issued_at}', audited => false);

--! split: 0230-identity.sql
/*
 * Identity RPCs and the pre-request check on the error registry: the same behaviour as their
 * first definitions (login, refresh, logout, me, switch_hospital, change_password — see
 * db/schema/app_public/functions/), each error's HTTP status now coming from
 * app_hidden.error_codes. error_response answers an error *without* raising it, for the failures
 * that must persist (a counted failed login, a lockout, a revoked session on refresh-token reuse).
 */
drop function if exists app_private.error_response(text, text, integer, jsonb, text, jsonb);


create or replace function app_hidden.check_request() returns void
language plpgsql
stable
as $$
begin
  -- PostgREST sets a role claim for anonymous requests too: only a token for another role
  -- (a signed-in user) must name a live session.
  if app_hidden.jwt_claim('role') is distinct from ':DATABASE_ANONYMOUS' and app_hidden.jwt_claim('role') is not null
     and app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
end;
$$;
comment on function app_hidden.check_request() is
  'PostgREST db-pre-request: refuses (401) a signed token whose session is no longer live.';

create or replace function app_private.error_response(
  p_code text,
  p_message text,
  p_details jsonb default null,
  p_hint text default null,
  p_headers jsonb default null
) returns json
language plpgsql
volatile
as $$
begin
  perform set_config('response.status', app_hidden.error_status(p_code)::text, true);
  if p_headers is not null then
    perform set_config('response.headers', p_headers::text, true);
  end if;
  return json_build_object('code', p_code, 'message', p_message, 'details', p_details, 'hint', p_hint);
end;
$$;
comment on function app_private.error_response(text, text, jsonb, text, jsonb) is
  'Returns {code, message, details, hint} and sets response.status from the error registry: an HTTP error whose transaction still commits (failure bookkeeping).';

create or replace function app_public.login(email text, password text, hospital_id uuid default null) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  c_max_failures constant integer := 5;
  c_window constant interval := interval '15 minutes';
  c_lock constant interval := interval '15 minutes';
  c_session_ttl constant interval := interval '30 days';
  v_email text := left(lower(trim(coalesce(login.email, ''))), 320);  -- the longest valid address
  v_password text := coalesce(login.password, '');
  v_requested_hospital_id uuid := login.hospital_id;
  v_user app_public.users;
  v_hash text;
  v_ok boolean;
  v_reason text;
  v_failure app_private.login_failures;
  v_hospital_id uuid;
  v_session_id uuid;
  v_previous_claims text;
begin
  select u.* into v_user from app_public.users u where u.email = v_email::public.citext;

  -- A locked address is refused before any password check, whoever owns it.
  select f.* into v_failure from app_private.login_failures f where f.email = v_email::public.citext;
  if v_failure.locked_until > now() then
    perform app_private.write_audit_log('login_failed', null, null, v_user.home_hospital_id, null,
      jsonb_build_object('email', v_email, 'reason', 'locked'), null, 'Login refused: account locked', v_user.id);
    return app_private.error_response('HMS_ACCOUNT_LOCKED',
      'Too many failed logins: this account is locked for a while. Please try again later.',
      jsonb_build_object('retry_after_seconds', ceil(extract(epoch from v_failure.locked_until - now()))::integer),
      null,
      jsonb_build_array(jsonb_build_object('Retry-After', ceil(extract(epoch from v_failure.locked_until - now()))::integer::text)));
  end if;

  -- One bcrypt computation whether or not the account exists (similar timing).
  if v_user.id is not null then
    select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = v_user.id;
  end if;
  if v_hash is null then
    perform public.crypt(v_password, public.gen_salt('bf', 10));
    v_ok := false;
    v_reason := case when v_user.id is null then 'unknown_account' else 'no_password' end;
  else
    v_ok := public.crypt(v_password, v_hash) = v_hash;
    v_reason := 'wrong_password';
  end if;
  if v_ok and (not v_user.is_active or v_user.is_deleted) then
    v_ok := false;
    v_reason := 'inactive_account';
  end if;

  if not v_ok then
    perform app_private.write_audit_log('login_failed', null, null, v_user.home_hospital_id, null,
      jsonb_build_object('email', v_email, 'reason', v_reason), null,
      'Login failed: ' || replace(v_reason, '_', ' '), v_user.id);
    if v_email <> '' then
      insert into app_private.login_failures as f (email, failed_count, first_failed_at, last_failed_at)
      values (v_email, 1, now(), now())
      on conflict (email) do update set
        failed_count = case when f.first_failed_at <= now() - c_window or f.locked_until <= now() then 1 else f.failed_count + 1 end,
        first_failed_at = case when f.first_failed_at <= now() - c_window or f.locked_until <= now() then now() else f.first_failed_at end,
        locked_until = case when f.locked_until <= now() then null else f.locked_until end,
        last_failed_at = now()
      returning f.* into v_failure;
      if v_failure.failed_count >= c_max_failures then
        if v_failure.locked_until is null then
          update app_private.login_failures f set locked_until = now() + c_lock
           where f.email = v_failure.email
          returning f.* into v_failure;
          perform app_private.write_audit_log('account_locked', null, null, v_user.home_hospital_id, null,
            jsonb_build_object('email', v_failure.email::text, 'failed_count', v_failure.failed_count,
                               'locked_until', v_failure.locked_until),
            null, format('Login locked for %s minutes after %s failed attempts', extract(epoch from c_lock)::integer / 60, v_failure.failed_count),
            v_user.id);
        end if;
        return app_private.error_response('HMS_ACCOUNT_LOCKED',
          'Too many failed logins: this account is locked for a while. Please try again later.',
          jsonb_build_object('retry_after_seconds', ceil(extract(epoch from v_failure.locked_until - now()))::integer),
          null,
          jsonb_build_array(jsonb_build_object('Retry-After', ceil(extract(epoch from v_failure.locked_until - now()))::integer::text)));
      end if;
    end if;
    return app_private.error_response('HMS_LOGIN_FAILED', 'Email or password is incorrect.');
  end if;

  -- Authenticated. The hospital: the one asked for; else home, else a hospital of a role, else
  -- (chain-wide roles) the first active hospital — wherever the user is a member today.
  if v_requested_hospital_id is not null then
    v_hospital_id := v_requested_hospital_id;
  else
    v_hospital_id := coalesce(
      case when app_hidden.is_member_of(v_user.id, v_user.home_hospital_id) then v_user.home_hospital_id end,
      (select ur.hospital_id
         from app_public.user_roles ur
         join app_public.roles r on r.id = ur.role_id and r.is_active
         join app_public.hospitals h on h.id = ur.hospital_id and h.is_active and not h.is_deleted
        where ur.user_id = v_user.id
          and current_date >= ur.valid_from
          and (ur.valid_until is null or current_date <= ur.valid_until)
        order by ur.is_primary desc, ur.granted_at, h.code
        limit 1),
      (select h.id from app_public.hospitals h
        where h.is_active and not h.is_deleted and app_hidden.is_member_of(v_user.id, h.id)
        order by h.code
        limit 1));
  end if;
  if v_hospital_id is null or not app_hidden.is_member_of(v_user.id, v_hospital_id) then
    perform app_hidden.raise_error('HMS_HOSPITAL_ACCESS_DENIED',
      'You have no role in this hospital.', null::jsonb,
      'Ask an administrator of the hospital to grant you a role, or log in without choosing a hospital.');
  end if;

  delete from app_private.login_failures f where f.email = v_email::public.citext;

  insert into app_private.sessions (user_id, hospital_id, expires_at, user_agent, client_address)
  values (v_user.id, v_hospital_id, now() + c_session_ttl, app_private.request_user_agent(), app_private.request_client_address())
  returning id into v_session_id;

  -- From here on, act in the new session (audit rows name it, the users update names the user).
  v_previous_claims := app_private.enter_session(v_session_id);
  update app_public.users u set last_login_at = now() where u.id = v_user.id;
  perform app_private.write_audit_log('login', 'app_private.sessions', v_session_id, v_hospital_id, null,
    jsonb_build_object('email', v_user.email::text, 'session_id', v_session_id, 'hospital_id', v_hospital_id),
    null, 'Logged in', v_user.id);
  perform set_config('request.jwt.claims', v_previous_claims, true);

  return app_private.issue_tokens(v_session_id);
end;
$$;
comment on function app_public.login(text, text, uuid) is
  E'Log in with email and password; optionally choose the hospital (default: your home hospital). Returns {access_token (15 minutes), refresh_token, token_type, expires_in, user {…, hospital}}.\n'
  'Errors: 401 HMS_LOGIN_FAILED (wrong email or password — one answer for both), 429 HMS_ACCOUNT_LOCKED after 5 failures in 15 minutes (details.retry_after_seconds), '
  '403 HMS_HOSPITAL_ACCESS_DENIED when you have no role in the hospital.';

create or replace function app_public.refresh(refresh_token text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_token app_public.refresh_tokens;
  v_session app_private.sessions;
  v_user app_public.users;
  v_previous_claims text;
begin
  select t.* into v_token
    from app_private.refresh_token_hashes h
    join app_public.refresh_tokens t on t.id = h.refresh_token_id
   where h.token_hash = public.digest(coalesce(refresh.refresh_token, ''), 'sha256')
     for update of t;
  if v_token.id is null then
    perform app_hidden.raise_error('HMS_REFRESH_TOKEN_INVALID', 'The refresh token is unknown or has expired. Please log in again.');
  end if;

  -- Already exchanged or revoked: a copy is in use. End the session (persisted: no raise).
  if v_token.rotated_at is not null or v_token.revoked_at is not null then
    update app_private.sessions s set revoked_at = now(), revoked_reason = 'refresh_token_reuse'
     where s.id = v_token.session_id and s.revoked_at is null;
    update app_public.refresh_tokens t set revoked_at = now(), revoked_reason = 'reuse_detected'
     where t.session_id = v_token.session_id and t.revoked_at is null;
    v_previous_claims := app_private.enter_session(v_token.session_id);
    perform app_private.write_audit_log('token_refresh', 'refresh_tokens', v_token.id, v_token.hospital_id, null,
      jsonb_build_object('result', 'reuse_detected', 'session_id', v_token.session_id), null,
      'Refresh token used again after rotation or revocation: session revoked', v_token.user_id);
    perform set_config('request.jwt.claims', v_previous_claims, true);
    return app_private.error_response('HMS_REFRESH_TOKEN_REUSED',
      'This refresh token has already been used. For your safety the session was ended: please log in again.');
  end if;

  select s.* into v_session from app_private.sessions s where s.id = v_token.session_id for update;
  select u.* into v_user from app_public.users u where u.id = v_token.user_id;
  if v_token.expires_at <= now() or v_session.revoked_at is not null or v_session.expires_at <= now()
     or not v_user.is_active or v_user.is_deleted then
    perform app_hidden.raise_error('HMS_REFRESH_TOKEN_INVALID', 'The refresh token is unknown or has expired. Please log in again.');
  end if;
  if not app_hidden.is_member_of(v_user.id, v_session.hospital_id) then
    perform app_hidden.raise_error('HMS_HOSPITAL_ACCESS_DENIED', 'You no longer have a role in this hospital.',
      null::jsonb, 'Log in again to open another hospital.');
  end if;

  v_previous_claims := app_private.enter_session(v_session.id);
  perform app_private.write_audit_log('token_refresh', 'refresh_tokens', v_token.id, v_session.hospital_id, null,
    jsonb_build_object('result', 'rotated', 'session_id', v_session.id), null, 'Access token refreshed', v_user.id);
  perform set_config('request.jwt.claims', v_previous_claims, true);
  return app_private.issue_tokens(v_session.id);
end;
$$;
comment on function app_public.refresh(text) is
  E'Exchange a refresh token for a new access token and a new refresh token (the old one stops working). Call it without an Authorization header. Same answer as login.\n'
  'Errors: 401 HMS_REFRESH_TOKEN_INVALID (unknown, expired, or the session ended); 401 HMS_REFRESH_TOKEN_REUSED when the token was already used — the whole session is then ended; '
  '403 HMS_HOSPITAL_ACCESS_DENIED when you lost your role in the session''s hospital.';

create or replace function app_public.logout() returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := app_hidden.current_user_id();
  v_session_id uuid := app_hidden.current_session_id();
  v_hospital_id uuid;
begin
  if v_user_id is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
  select s.hospital_id into v_hospital_id from app_private.sessions s where s.id = v_session_id;
  perform app_private.write_audit_log('logout', 'app_private.sessions', v_session_id, v_hospital_id, null, null, null,
    'Logged out', v_user_id);
  update app_private.sessions s set revoked_at = now(), revoked_reason = 'logout'
   where s.id = v_session_id and s.revoked_at is null;
  update app_public.refresh_tokens t set revoked_at = now(), revoked_reason = 'logout'
   where t.session_id = v_session_id and t.revoked_at is null;
  return json_build_object('session_id', v_session_id, 'logged_out_at', now());
end;
$$;
comment on function app_public.logout() is
  'End the current session: its access and refresh tokens stop working at once. Error: 401 HMS_SESSION_INVALID when there is no live session.';

create or replace function app_public.me() returns json
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_user_id uuid := app_hidden.current_user_id();
  v_hospital_id uuid := app_hidden.current_hospital_id();
begin
  if v_user_id is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
  return json_build_object(
    'user', (select json_build_object(
               'id', u.id, 'email', u.email, 'title', u.title, 'first_name', u.first_name, 'last_name', u.last_name,
               'display_name', coalesce(u.display_name, u.first_name || ' ' || u.last_name),
               'job_title', u.job_title, 'phone', u.phone, 'employee_code', u.employee_code, 'locale', u.locale,
               'avatar_url', u.avatar_url, 'home_hospital_id', u.home_hospital_id,
               'must_change_password', u.must_change_password, 'last_login_at', u.last_login_at)
               from app_public.users u where u.id = v_user_id),
    'hospital', (select json_build_object('id', h.id, 'code', h.code, 'name', h.name,
                                          'time_zone', h.time_zone, 'currency_code', h.currency_code)
                   from app_public.hospitals h where h.id = v_hospital_id),
    'hospitals', coalesce((select json_agg(json_build_object('id', h.id, 'code', h.code, 'name', h.name,
                                                             'roles', app_private.user_role_codes(v_user_id, h.id))
                                           order by h.code)
                             from app_public.hospitals h
                            where h.is_active and not h.is_deleted and app_hidden.is_member_of(v_user_id, h.id)), '[]'::json),
    'roles', to_json(app_private.user_role_codes(v_user_id, v_hospital_id)),
    'permissions', to_json(app_private.user_permission_codes(v_user_id, v_hospital_id)));
end;
$$;
comment on function app_public.me() is
  E'Who am I: {user, hospital (the active one: id, code, name, time_zone, currency_code), hospitals (every hospital you may switch to, with your roles there), '
  'roles and permissions (codes, in the active hospital)}. Error: 401 HMS_SESSION_INVALID.';

create or replace function app_public.switch_hospital(hospital_id uuid) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_user_id uuid := app_hidden.current_user_id();
  v_session_id uuid := app_hidden.current_session_id();
  v_target_id uuid := switch_hospital.hospital_id;
  v_previous_id uuid;
begin
  if v_user_id is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
  if v_target_id is null or not app_hidden.is_member_of(v_user_id, v_target_id) then
    perform app_hidden.raise_error('HMS_HOSPITAL_ACCESS_DENIED', 'You have no role in this hospital.',
      null::jsonb, 'Ask an administrator of the hospital to grant you a role.');
  end if;
  select s.hospital_id into v_previous_id from app_private.sessions s where s.id = v_session_id for update;
  update app_private.sessions s set hospital_id = v_target_id where s.id = v_session_id;
  perform app_private.write_audit_log('switch_hospital', 'app_private.sessions', v_session_id, v_target_id,
    jsonb_build_object('hospital_id', v_previous_id), jsonb_build_object('hospital_id', v_target_id), array['hospital_id'],
    'Switched hospital', v_user_id);
  return app_private.issue_tokens(v_session_id);
end;
$$;
comment on function app_public.switch_hospital(uuid) is
  E'Work in another hospital of yours: returns new tokens (same answer as login) for that hospital; the previous refresh token stops working and the previous access token loses its hospital.\n'
  'Errors: 403 HMS_HOSPITAL_ACCESS_DENIED (no role there; super admins may open any active hospital), 401 HMS_SESSION_INVALID.';

create or replace function app_public.change_password(old_password text, new_password text) returns json
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  c_min_length constant integer := 10;
  v_user_id uuid := app_hidden.current_user_id();
  v_session_id uuid := app_hidden.current_session_id();
  v_old text := coalesce(change_password.old_password, '');
  v_new text := coalesce(change_password.new_password, '');
  v_email text;
  v_local_part text;
  v_hash text;
  v_hospital_id uuid;
  v_revoked integer;
begin
  if v_user_id is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
  select lower(u.email::text) into v_email from app_public.users u where u.id = v_user_id;
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = v_user_id for update;
  if v_hash is null or public.crypt(v_old, v_hash) <> v_hash then
    perform app_hidden.raise_error('HMS_PASSWORD_INCORRECT', 'The current password is incorrect.');
  end if;

  v_local_part := split_part(v_email, '@', 1);
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
  elsif v_new = v_old then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      'The new password must be different from the current one.',
      to_jsonb('not_reused'::text));
  end if;

  update app_private.user_secrets s
     set password_hash = public.crypt(v_new, public.gen_salt('bf', 10)), password_changed_at = now()
   where s.user_id = v_user_id;
  update app_public.users u set must_change_password = false where u.id = v_user_id and u.must_change_password;

  -- Every other session ends (a thief who knew the old password loses access).
  with revoked as (
    update app_private.sessions s set revoked_at = now(), revoked_reason = 'password_changed'
     where s.user_id = v_user_id and s.id is distinct from v_session_id and s.revoked_at is null
    returning s.id)
  select count(*) into v_revoked from revoked;
  update app_public.refresh_tokens t set revoked_at = now(), revoked_reason = 'password_changed'
   where t.user_id = v_user_id and t.session_id is distinct from v_session_id and t.revoked_at is null;

  select s.hospital_id into v_hospital_id from app_private.sessions s where s.id = v_session_id;
  perform app_private.write_audit_log('password_changed', 'users', v_user_id, v_hospital_id, null,
    jsonb_build_object('revoked_sessions', v_revoked), null, 'Password changed by the user', v_user_id);
  return json_build_object('password_changed_at', now(), 'revoked_sessions', v_revoked);
end;
$$;
comment on function app_public.change_password(text, text) is
  E'Change your password. The new one needs at least 10 characters, must not be or contain your email (or its name part) and must differ from the current one. Your other sessions are ended.\n'
  'Errors: 403 HMS_PASSWORD_INCORRECT (wrong current password), 422 HMS_PASSWORD_POLICY (details names the rule: min_length, max_bytes, not_email or not_reused), 401 HMS_SESSION_INVALID.';

select app_hidden.register_error_codes('identity', $json$[
  {"code": "HMS_LOGIN_FAILED", "http_status": 401, "meaning": "Wrong email, wrong password, inactive or deleted account — one answer for all, so nothing reveals whether an account exists."},
  {"code": "HMS_ACCOUNT_LOCKED", "http_status": 429, "meaning": "Five failures within 15 minutes lock the email (known or unknown) for 15 minutes, even with the right password; details.retry_after_seconds and a Retry-After header."},
  {"code": "HMS_HOSPITAL_ACCESS_DENIED", "http_status": 403, "meaning": "The user holds no role valid today in that hospital (the super admin may enter any active one)."},
  {"code": "HMS_REFRESH_TOKEN_INVALID", "http_status": 401, "meaning": "Unknown or expired refresh token, ended session or deactivated user."},
  {"code": "HMS_REFRESH_TOKEN_REUSED", "http_status": 401, "meaning": "The refresh token was already rotated or revoked: the whole session is revoked (token theft is assumed)."},
  {"code": "HMS_PASSWORD_INCORRECT", "http_status": 403, "meaning": "The current password is wrong."},
  {"code": "HMS_PASSWORD_POLICY", "http_status": 422, "meaning": "The new password breaks a rule (details: min_length — at least 10 characters, max_bytes — at most 72 bytes, not_email, not_reused); the message says which."}
]$json$);

grant execute on function app_public.login(text, text, uuid) to :DATABASE_ANONYMOUS, :DATABASE_STAFF;
grant execute on function app_public.refresh(text) to :DATABASE_ANONYMOUS, :DATABASE_STAFF;
grant execute on function app_public.logout() to :DATABASE_STAFF;
grant execute on function app_public.me() to :DATABASE_STAFF;
grant execute on function app_public.switch_hospital(uuid) to :DATABASE_STAFF;
grant execute on function app_public.change_password(text, text) to :DATABASE_STAFF;

--! split: 1000-patients.sql
/*
 * Patients, their consents and documents (tables: db/schema/app_public/tables/), registered with
 * the kit. A consent is granted, then withdrawn or expired; who obtained it and when it was
 * withdrawn are recorded from the session by the status machine, never taken from the request.
 */
select app_hidden.declare_status_machine('app_public.patient_consents', $json$[
  {"from": null, "to": "granted", "stamp_by": "obtained_by"},
  {"from": "granted", "to": "withdrawn", "stamp_at": "withdrawn_at"},
  {"from": "granted", "to": "expired"}
]$json$);

select app_hidden.register_table('app_public.patients', 'patient',
  read_permissions => '{patients.read}', write_permissions => '{patients.write}', delete_permissions => '{patients.delete}');
select app_hidden.register_table('app_public.patient_consents', 'patient consent',
  read_permissions => '{patients.read}', write_permissions => '{patients.write}', delete_permissions => '{patients.write}');
select app_hidden.register_table('app_public.patient_documents', 'patient document',
  read_permissions => '{patients.read}', write_permissions => '{patients.write}', delete_permissions => '{patients.delete}');

--! split: 1100-doctors.sql
/*
 * Doctors, their weekly schedules, leaves and fees (tables: db/schema/app_public/tables/):
 * the directory every member of the hospital books against, maintained by holders of
 * doctors.manage. A leave is requested, then approved, rejected or cancelled: who approved it and
 * when are recorded from the session by the status machine; a rejection needs its reason.
 */
select app_hidden.declare_status_machine('app_public.doctor_leaves', $json$[
  {"from": null, "to": "requested"},
  {"from": "requested", "to": "approved", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "reason": "rejection_reason"},
  {"from": "requested", "to": "cancelled", "stamp_at": "cancelled_at"},
  {"from": "approved", "to": "cancelled", "stamp_at": "cancelled_at"}
]$json$);

select app_hidden.register_table('app_public.doctors', 'doctor',
  write_permissions => '{doctors.manage}', delete_permissions => '{doctors.manage}');
select app_hidden.register_table('app_public.doctor_schedules', 'doctor schedule',
  write_permissions => '{doctors.manage}', delete_permissions => '{doctors.manage}');
select app_hidden.register_table('app_public.doctor_leaves', 'doctor leave',
  write_permissions => '{doctors.manage}', delete_permissions => '{doctors.manage}');
select app_hidden.register_table('app_public.doctor_fees', 'doctor fee',
  write_permissions => '{doctors.manage}', delete_permissions => '{doctors.manage}');

--! split: 1200-appointments.sql
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

--! split: 2000-medicines.sql
/*
 * Medicines and their batches (tables: db/schema/app_public/tables/medicines.sql,
 * medicine_batches.sql), registered with the kit. The formulary is read by everyone who
 * prescribes, dispenses, stocks or bills medicines and kept by holders of medicines.manage.
 * A batch's stock is the stock ledger's: quantity_on_hand and quantity_received change only
 * through stock_movements (its trigger, section 4100), never by a client; a batch stays a batch
 * of the medicine it was received as, since its movements and dispensed lines name both.
 */
select app_hidden.register_table('app_public.medicines', 'medicine',
  read_permissions => '{medicines.read,pharmacy.dispense,prescriptions.write,inventory.read,billing.write}',
  write_permissions => '{medicines.manage}', delete_permissions => '{medicines.manage}');
select app_hidden.register_table('app_public.medicine_batches', 'medicine batch',
  read_permissions => '{medicines.read,pharmacy.dispense,inventory.read}',
  write_permissions => '{medicines.manage,inventory.manage}',
  protected_columns => '{quantity_on_hand,quantity_received}',
  immutable_columns => '{medicine_id}');

--! split: 2100-prescriptions.sql
/*
 * Prescriptions (tables: db/schema/app_public/tables/prescriptions.sql, prescription_items.sql,
 * prescription_templates.sql, prescription_versions.sql) on the kit.
 *
 * A prescription is written as a draft (create_prescription, apply_prescription_template), edited
 * freely while it is a draft (update_prescription, add_prescription_item, remove_prescription_item,
 * or plain REST writes), then signed with finalize_prescription: from then on it is a legal
 * document. Version 1 in prescription_versions keeps it as signed; every later change goes through
 * amend_prescription, which applies the change, raises prescriptions.version and stores the next
 * snapshot with the reason. The document lock refuses any other change of a signed prescription's
 * clinical fields or lines (409 HMS_DOCUMENT_LOCKED); what the pharmacy writes while dispensing
 * (prescription_items.quantity_dispensed, the dispensing statuses) stays open to its workflow.
 *
 * The status machine: draft → finalized (only through finalize_prescription: it stores version 1)
 * or cancelled (with a reason); finalized → cancelled (nothing dispensed), expired, or the
 * dispensing statuses, which follow the quantities dispensed and are taken only by the pharmacy's
 * workflow. History is append-only, for everyone.
 */

select app_hidden.register_error_codes('prescriptions', $json$[
  {"code": "HMS_NOT_A_DOCTOR", "http_status": 403, "meaning": "Only a doctor of this hospital (an active doctor record linked to your user) writes prescriptions."},
  {"code": "HMS_PRESCRIPTION_ITEMS_INVALID", "http_status": 422, "meaning": "items is not a JSON array of item objects."},
  {"code": "HMS_PRESCRIPTION_ITEM_INVALID", "http_status": 422, "meaning": "A field of a prescription line is missing or wrong (details.item is its position, details.field the field)."},
  {"code": "HMS_PRESCRIPTION_QUANTITY_INVALID", "http_status": 422, "meaning": "quantity_prescribed of a line is missing or not a whole number greater than zero (details.item)."},
  {"code": "HMS_PRESCRIPTION_ROUTE_INVALID", "http_status": 422, "meaning": "The route of a line is not one of oral, sublingual, topical, inhalation, intravenous, intramuscular, subcutaneous, rectal, ophthalmic, otic, nasal, other."},
  {"code": "HMS_MEDICINE_INACTIVE", "http_status": 422, "meaning": "The medicine is no longer in the formulary (is_active is false)."},
  {"code": "HMS_DIAGNOSIS_CODE_INVALID", "http_status": 422, "meaning": "A diagnosis code does not look like an ICD-10 code (e.g. J06.9); details.codes lists the ones refused."},
  {"code": "HMS_APPOINTMENT_PATIENT_MISMATCH", "http_status": 422, "meaning": "The appointment (or prescription) named belongs to another patient than the one given."},
  {"code": "HMS_PRESCRIPTION_DATE_INVALID", "http_status": 422, "meaning": "A follow-up date in the past, or a follow-up or validity date before the prescription's date."},
  {"code": "HMS_PRESCRIPTION_CHANGES_INVALID", "http_status": 422, "meaning": "changes is not a non-empty JSON object of the allowed keys, or one of its values has the wrong shape (details.unknown lists unknown keys)."},
  {"code": "HMS_PRESCRIPTION_EMPTY", "http_status": 422, "meaning": "A prescription (or template) needs at least one medicine line to be finalized, kept after an amendment, or saved."},
  {"code": "HMS_PRESCRIPTION_NOT_AMENDABLE", "http_status": 409, "meaning": "Only a finalized or partially dispensed prescription is amended: a draft is edited with update_prescription; a cancelled, expired or fully dispensed one no longer changes."},
  {"code": "HMS_PRESCRIPTION_ITEM_DISPENSED", "http_status": 409, "meaning": "The line has already been (partly) dispensed: an amendment can no longer remove or replace it (details.prescription_item_id)."},
  {"code": "HMS_PRESCRIPTION_DISPENSED", "http_status": 409, "meaning": "Medicines of the prescription have already been dispensed: it can no longer be cancelled."},
  {"code": "HMS_TEMPLATE_NAME_INVALID", "http_status": 422, "meaning": "A prescription template name has 2 to 120 characters."},
  {"code": "HMS_TEMPLATE_NAME_TAKEN", "http_status": 409, "meaning": "The owner (the doctor, or the hospital for hospital-wide templates) already has a template with that name."},
  {"code": "HMS_TEMPLATE_INACTIVE", "http_status": 422, "meaning": "The prescription template has been deactivated (is_active is false) and is no longer applied."}
]$json$);

-- Direct (REST) writes meet the same codes as the RPCs for the rules the schema states.
insert into app_hidden.constraint_errors (constraint_name, code, message) values
  ('prescriptions_diagnosis_codes_check', 'HMS_DIAGNOSIS_CODE_INVALID', 'Diagnosis codes are ICD-10 codes, e.g. J06.9.'),
  ('prescription_templates_diagnosis_codes_check', 'HMS_DIAGNOSIS_CODE_INVALID', 'Diagnosis codes are ICD-10 codes, e.g. J06.9.'),
  ('prescription_templates_hospital_id_doctor_id_name_key', 'HMS_TEMPLATE_NAME_TAKEN', 'The owner of the template already has a template with that name.')
on conflict (constraint_name) do update set code = excluded.code, message = excluded.message;

/* The prescription with its lines as one JSON object, as stored in prescription_versions.snapshot. */
comment on function app_hidden.prescription_snapshot(uuid, uuid) is
  'The prescription (without stamps) and its lines under "items": the snapshot stored in prescription_versions.snapshot.';

-- ---------------------------------------------------------------------------------------------
-- Input of the RPCs
-- ---------------------------------------------------------------------------------------------

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
  perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID', format('Item %s: %s must be a number.', p_index, p_key),
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
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID', format('Item %s must be a JSON object.', p_index),
      jsonb_build_object('item', p_index));
  end if;

  if nullif(p_item ->> 'medicine_id', '') is not null then
    if (p_item ->> 'medicine_id') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID', format('Item %s: medicine_id is not a valid id.', p_index),
        jsonb_build_object('item', p_index, 'field', 'medicine_id'));
    end if;
    v_medicine_id := (p_item ->> 'medicine_id')::uuid;
    v_medicine := app_hidden.find_or_404(null::app_public.medicines, v_medicine_id);
    if not v_medicine.is_active then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE', format('Item %s: %s is no longer in the formulary.', p_index, v_medicine.generic_name),
        jsonb_build_object('item', p_index, 'medicine_id', v_medicine_id));
    end if;
  end if;

  v_drug_name := coalesce(nullif(trim(p_item ->> 'drug_name'), ''),
                          case when v_medicine.id is not null
                               then v_medicine.generic_name || coalesce(' ' || v_medicine.strength, '') || coalesce(' (' || v_medicine.brand_name || ')', '') end);
  if v_drug_name is null or length(v_drug_name) not between 2 and 200 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: drug_name (2 to 200 characters) is required when no medicine_id is given.', p_index),
      jsonb_build_object('item', p_index, 'field', 'drug_name'));
  end if;

  v_quantity := app_hidden.rx_item_number(p_item, 'quantity_prescribed', p_index);
  if v_quantity is null or v_quantity <= 0 or v_quantity <> trunc(v_quantity) or v_quantity > 2147483647 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_QUANTITY_INVALID',
      format('Item %s: quantity_prescribed must be a whole number greater than zero.', p_index),
      jsonb_build_object('item', p_index, 'field', 'quantity_prescribed'));
  end if;

  v_route := coalesce(nullif(p_item ->> 'route', ''), v_medicine.route, 'oral');
  if v_route not in ('oral', 'sublingual', 'topical', 'inhalation', 'intravenous', 'intramuscular', 'subcutaneous', 'rectal',
                     'ophthalmic', 'otic', 'nasal', 'other') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ROUTE_INVALID',
      format('Item %s: route %s is not one of oral, sublingual, topical, inhalation, intravenous, intramuscular, subcutaneous, rectal, ophthalmic, otic, nasal, other.', p_index, v_route),
      jsonb_build_object('item', p_index, 'field', 'route'));
  end if;

  v_timing := coalesce(nullif(p_item ->> 'timing', ''), 'any');
  if v_timing not in ('before_food', 'after_food', 'with_food', 'empty_stomach', 'bedtime', 'any') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: timing must be before_food, after_food, with_food, empty_stomach, bedtime or any.', p_index),
      jsonb_build_object('item', p_index, 'field', 'timing'));
  end if;

  v_dose_quantity := app_hidden.rx_item_number(p_item, 'dose_quantity', p_index);
  v_dose_unit := nullif(trim(p_item ->> 'dose_unit'), '');
  if (v_dose_quantity is null) <> (v_dose_unit is null) or v_dose_quantity <= 0 or v_dose_quantity >= 10000000 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: dose_quantity (greater than zero) and dose_unit go together.', p_index),
      jsonb_build_object('item', p_index, 'field', 'dose_quantity'));
  end if;

  v_frequency_per_day := app_hidden.rx_item_number(p_item, 'frequency_per_day', p_index);
  if v_frequency_per_day <= 0 or v_frequency_per_day > 48 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: frequency_per_day must be more than 0 and at most 48.', p_index),
      jsonb_build_object('item', p_index, 'field', 'frequency_per_day'));
  end if;

  v_duration := app_hidden.rx_item_number(p_item, 'duration_days', p_index);
  if v_duration < 1 or v_duration > 3650 or v_duration <> trunc(v_duration) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: duration_days must be a whole number of days between 1 and 3650.', p_index),
      jsonb_build_object('item', p_index, 'field', 'duration_days'));
  end if;

  if (p_item ? 'is_prn' and jsonb_typeof(p_item -> 'is_prn') not in ('boolean', 'null'))
     or (p_item ? 'substitution_allowed' and jsonb_typeof(p_item -> 'substitution_allowed') not in ('boolean', 'null')) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_INVALID',
      format('Item %s: is_prn and substitution_allowed are true or false.', p_index),
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
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEMS_INVALID', 'items must be a JSON array of item objects.', p_hint => 'e.g. [{"drug_name": "Paracetamol 500 mg tablet", "quantity_prescribed": 10}]');
  end if;
  for v_item in select e from jsonb_array_elements(p_items) e loop
    v_index := v_index + 1;
    v_result := v_result || jsonb_build_array(app_hidden.normalize_prescription_item(p_hospital_id, v_item, v_index));
  end loop;
  return v_result;
end;
$$;
comment on function app_hidden.normalize_prescription_items(uuid, jsonb) is 'Validates a JSON array of prescription items (see normalize_prescription_item); HMS_PRESCRIPTION_ITEMS_INVALID when it is not an array.';

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
      format('Not ICD-10 codes: %s (expected e.g. J06.9).', array_to_string(v_bad, ', ')), jsonb_build_object('codes', v_bad));
  end if;
end;
$$;
comment on function app_hidden.check_diagnosis_codes(text[]) is 'Refuses diagnosis codes that do not look like ICD-10 codes (HMS_DIAGNOSIS_CODE_INVALID).';

/*
 * A line of the prescription that a change removes or replaces, locked: 404 when it is not a line
 * of this prescription, 409 HMS_PRESCRIPTION_ITEM_DISPENSED once medicines were handed out on it
 * (what was dispensed stays on the prescription it was dispensed against).
 */
create or replace function app_hidden.lock_undispensed_line(p_prescription app_public.prescriptions, p_line_id uuid, p_done text)
returns app_public.prescription_items
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_line app_public.prescription_items := app_hidden.lock_or_404(null::app_public.prescription_items, p_line_id);
begin
  if v_line.prescription_id <> p_prescription.id then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this prescription.',
      jsonb_build_object('entity', 'prescription_line', 'id', p_line_id));
  end if;
  if v_line.quantity_dispensed > 0 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_ITEM_DISPENSED',
      format('Line %s (%s) has already been dispensed and cannot be %s.', v_line.line_number, v_line.drug_name, p_done),
      jsonb_build_object('prescription_item_id', v_line.id));
  end if;
  return v_line;
end;
$$;
comment on function app_hidden.lock_undispensed_line(app_public.prescriptions, uuid, text) is
  'Locks a line of the prescription that a change removes or replaces (p_done: removed, replaced): 404 HMS_NOT_FOUND when not on it, 409 HMS_PRESCRIPTION_ITEM_DISPENSED once dispensed.';

/*
 * Applies a change set to a prescription: header fields and items (add_items, remove_items,
 * replace_items). Used by update_prescription (drafts) and amend_prescription (signed ones).
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
  v_line app_public.prescription_items;
  v_new jsonb;
  v_index integer := 0;
  v_date date;
  v_prescribed_on date := app_hidden.hospital_local_date(p_row.hospital_id, p_row.prescribed_at);
begin
  if p_changes is null or jsonb_typeof(p_changes) <> 'object' or p_changes = '{}'::jsonb then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'changes must be a non-empty JSON object.', null::jsonb);
  end if;
  select array_agg(k) into v_unknown from jsonb_object_keys(p_changes) k
   where k not in ('diagnosis', 'diagnosis_codes', 'chief_complaint', 'clinical_notes', 'advice', 'follow_up_date', 'valid_until',
                   'notes', 'add_items', 'remove_items', 'replace_items');
  if v_unknown is not null then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID',
      format('Unknown change: %s. Allowed: diagnosis, diagnosis_codes, chief_complaint, clinical_notes, advice, follow_up_date, valid_until, notes, add_items, remove_items, replace_items.',
             array_to_string(v_unknown, ', ')), jsonb_build_object('unknown', v_unknown));
  end if;

  if p_changes ? 'diagnosis_codes' then
    if jsonb_typeof(p_changes -> 'diagnosis_codes') <> 'array' then
      perform app_hidden.raise_error('HMS_DIAGNOSIS_CODE_INVALID', 'diagnosis_codes must be an array of ICD-10 codes.', null::jsonb);
    end if;
    v_codes := array(select jsonb_array_elements_text(p_changes -> 'diagnosis_codes'));
    perform app_hidden.check_diagnosis_codes(v_codes);
  end if;
  begin
    if p_changes ? 'follow_up_date' then v_date := (p_changes ->> 'follow_up_date')::date; end if;
    if p_changes ? 'valid_until' then v_date := (p_changes ->> 'valid_until')::date; end if;
  exception when others then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'follow_up_date and valid_until are dates (YYYY-MM-DD).', null::jsonb);
  end;
  if (p_changes ->> 'valid_until')::date < v_prescribed_on or (p_changes ->> 'follow_up_date')::date < v_prescribed_on then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_DATE_INVALID', 'follow_up_date and valid_until cannot be before the prescription date.',
      jsonb_build_object('prescribed_on', v_prescribed_on));
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
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'remove_items must be an array of prescription item ids.', null::jsonb);
    end if;
    for v_item in select e from jsonb_array_elements(p_changes -> 'remove_items') e loop
      if jsonb_typeof(v_item) <> 'string' or (v_item #>> '{}') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'remove_items must be an array of prescription item ids.', null::jsonb);
      end if;
      v_line := app_hidden.lock_undispensed_line(p_row, (v_item #>> '{}')::uuid, 'removed');
      delete from app_public.prescription_items i where i.id = v_line.id;
    end loop;
  end if;

  -- replace_items: [{id, …item}] — the line keeps its number, its content is replaced
  if p_changes ? 'replace_items' then
    if jsonb_typeof(p_changes -> 'replace_items') <> 'array' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'replace_items must be an array of item objects with their id.', null::jsonb);
    end if;
    for v_item in select e from jsonb_array_elements(p_changes -> 'replace_items') e loop
      v_index := v_index + 1;
      if jsonb_typeof(v_item) <> 'object' or coalesce(v_item ->> 'id', '') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        perform app_hidden.raise_error('HMS_PRESCRIPTION_CHANGES_INVALID', 'replace_items must be an array of item objects with their id.', null::jsonb);
      end if;
      v_line := app_hidden.lock_undispensed_line(p_row, (v_item ->> 'id')::uuid, 'replaced');
      v_new := app_hidden.normalize_prescription_item(p_row.hospital_id, v_item - 'id', v_index);
      update app_public.prescription_items i
         set (medicine_id, drug_name, dose, dose_quantity, dose_unit, frequency, frequency_per_day, route, duration_days,
              quantity_prescribed, timing, instructions, is_prn, substitution_allowed)
           = (select r.medicine_id, r.drug_name, r.dose, r.dose_quantity, r.dose_unit, r.frequency, r.frequency_per_day, r.route,
                     r.duration_days, r.quantity_prescribed, r.timing, r.instructions, r.is_prn, r.substitution_allowed
                from jsonb_populate_record(null::app_public.prescription_items, v_new) r)
       where i.id = v_line.id;
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
-- Rules of the module's own (the status machine, document lock and history are the kit's)
-- ---------------------------------------------------------------------------------------------

/*
 * BEFORE UPDATE on prescriptions (_200_rules): a prescription of which medicines were dispensed
 * is not cancelled, whoever writes; for client writes of a signed prescription, the two columns
 * the document lock leaves open keep their meaning: the cancellation reason is written by
 * cancelling, and a prescription in force is cancelled rather than deleted.
 */
create or replace function app_hidden.tg_prescriptions__rules() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_dispensed integer;
begin
  if NEW.status = 'cancelled' and OLD.status <> 'cancelled' then
    select coalesce(sum(i.quantity_dispensed), 0) into v_dispensed from app_public.prescription_items i
     where i.hospital_id = NEW.hospital_id and i.prescription_id = NEW.id;
    if v_dispensed > 0 then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_DISPENSED',
        'Medicines of this prescription have already been dispensed: it can no longer be cancelled.',
        jsonb_build_object('quantity_dispensed', v_dispensed));
    end if;
  end if;
  if app_hidden.is_trusted_writer() or OLD.status = 'draft' then
    return NEW;
  end if;
  if NEW.cancellation_reason is distinct from OLD.cancellation_reason and NEW.status <> 'cancelled' then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED', 'The cancellation reason is written by cancelling the prescription.',
      jsonb_build_object('entity', 'prescription', 'id', OLD.id, 'status', OLD.status));
  end if;
  if NEW.is_deleted and not OLD.is_deleted and OLD.status in ('finalized', 'partially_dispensed', 'dispensed') then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
      format('Prescription %s is %s and cannot be deleted; cancel it instead.', OLD.prescription_number, OLD.status),
      jsonb_build_object('entity', 'prescription', 'id', OLD.id, 'status', OLD.status));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_prescriptions__rules() is
  'BEFORE UPDATE on prescriptions (_200_rules): no cancellation once something was dispensed (HMS_PRESCRIPTION_DISPENSED); for client writes of a signed prescription, the cancellation reason only by cancelling and no deletion of one in force (HMS_DOCUMENT_LOCKED).';

drop trigger if exists _200_workflow on app_public.prescriptions;
drop trigger if exists _300_first_version on app_public.prescriptions;
drop trigger if exists _200_rules on app_public.prescriptions;
create trigger _200_rules before update on app_public.prescriptions
  for each row execute function app_hidden.tg_prescriptions__rules();

/*
 * BEFORE INSERT on prescription_items (_070_line_number): a line without a number gets the next
 * one of its prescription; the prescription's row lock serialises concurrent additions.
 */
create or replace function app_hidden.tg_prescription_items__line_number() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if NEW.line_number is null then
    perform 1 from app_public.prescriptions p where p.hospital_id = NEW.hospital_id and p.id = NEW.prescription_id for update;
    NEW.line_number := coalesce((select max(i.line_number) from app_public.prescription_items i
                                  where i.hospital_id = NEW.hospital_id and i.prescription_id = NEW.prescription_id), 0) + 1;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_prescription_items__line_number() is
  'BEFORE INSERT on prescription_items (_070_line_number): numbers a new line after the last line of its prescription.';

drop trigger if exists _200_workflow on app_public.prescription_items;
drop trigger if exists _070_line_number on app_public.prescription_items;
create trigger _070_line_number before insert on app_public.prescription_items
  for each row execute function app_hidden.tg_prescription_items__line_number();

drop trigger if exists _000_append_only on app_public.prescription_versions;

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

drop function if exists app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date);
create function app_public.create_prescription(
  patient_id uuid,
  appointment_id uuid default null,
  diagnosis text default null,
  diagnosis_codes text[] default '{}',
  items jsonb default '[]',
  advice text default null,
  follow_up_date date default null
) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_patient app_public.patients;
  v_appointment app_public.appointments;
  v_items jsonb;
  v_doctor_id uuid;
  v_today date := app_hidden.hospital_today(v_hospital);
  v_validity integer;
  v_row app_public.prescriptions;
begin
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and d.is_active and not d.is_deleted;
  if v_doctor_id is null then
    perform app_hidden.raise_error('HMS_NOT_A_DOCTOR', 'Only a doctor of this hospital can write a prescription.', null::jsonb);
  end if;
  v_patient := app_hidden.find_or_404(null::app_public.patients, create_prescription.patient_id);
  if create_prescription.appointment_id is not null then
    v_appointment := app_hidden.find_or_404(null::app_public.appointments, create_prescription.appointment_id);
    if v_appointment.patient_id <> v_patient.id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The appointment is of another patient.',
        jsonb_build_object('appointment_id', v_appointment.id));
    end if;
  end if;
  perform app_hidden.check_diagnosis_codes(create_prescription.diagnosis_codes);
  v_items := app_hidden.normalize_prescription_items(v_hospital, create_prescription.items);

  if create_prescription.follow_up_date < v_today then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_DATE_INVALID', 'The follow-up date is in the past.',
      jsonb_build_object('today', v_today));
  end if;
  select s.prescription_validity_days into v_validity from app_public.hospital_settings s where s.hospital_id = v_hospital;

  insert into app_public.prescriptions (hospital_id, patient_id, doctor_id, appointment_id, status, diagnosis, diagnosis_codes,
                                        advice, follow_up_date, valid_until, chief_complaint)
  values (v_hospital, v_patient.id, v_doctor_id, v_appointment.id, 'draft', nullif(trim(create_prescription.diagnosis), ''),
          coalesce(create_prescription.diagnosis_codes, '{}'), nullif(trim(create_prescription.advice), ''),
          create_prescription.follow_up_date, v_today + coalesce(v_validity, 30), v_appointment.chief_complaint)
  returning * into v_row;
  perform app_hidden.insert_prescription_items(v_hospital, v_row.id, v_items);
  return v_row;
end;
$$;
comment on function app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date) is
  E'Starts a draft prescription for a patient, written by the calling doctor, valid for the hospital''s prescription_validity_days. items: [{medicine_id?, drug_name, dose, dose_quantity, dose_unit, frequency, frequency_per_day, route, duration_days, quantity_prescribed, timing, instructions, is_prn, substitution_allowed}] (line numbers are automatic). Needs prescriptions.write. Returns the prescription; read its lines from prescription_items afterwards (an embed in the same call sees them as they were before it). Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 403 HMS_NOT_A_DOCTOR, 404 HMS_NOT_FOUND (patient, appointment, medicine), 422 HMS_APPOINTMENT_PATIENT_MISMATCH, HMS_DIAGNOSIS_CODE_INVALID, HMS_PRESCRIPTION_ITEMS_INVALID, HMS_PRESCRIPTION_ITEM_INVALID, HMS_PRESCRIPTION_QUANTITY_INVALID, HMS_PRESCRIPTION_ROUTE_INVALID, HMS_MEDICINE_INACTIVE, HMS_PRESCRIPTION_DATE_INVALID.';
grant execute on function app_public.create_prescription(uuid, uuid, text, text[], jsonb, text, date) to :DATABASE_STAFF;

drop function if exists app_public.update_prescription(uuid, jsonb);
create function app_public.update_prescription(prescription_id uuid, changes jsonb) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_row app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, update_prescription.prescription_id);
begin
  if v_row.status <> 'draft' then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
      format('Prescription %s is %s: change it with amend_prescription (a new version with a reason).', v_row.prescription_number, v_row.status),
      jsonb_build_object('entity', 'prescription', 'id', v_row.id, 'status', v_row.status));
  end if;
  perform app_hidden.apply_prescription_changes(v_row, update_prescription.changes);
  select * into v_row from app_public.prescriptions p where p.hospital_id = v_hospital and p.id = v_row.id;
  return v_row;
end;
$$;
comment on function app_public.update_prescription(uuid, jsonb) is
  E'Edits a DRAFT prescription. changes: {diagnosis, diagnosis_codes, chief_complaint, clinical_notes, advice, follow_up_date, valid_until, notes, add_items: [item…], remove_items: [prescription_item id…], replace_items: [{id, …item}]}. Needs prescriptions.write. Returns the prescription; read its lines from prescription_items afterwards (an embed in the same call sees them as they were before it). Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_DOCUMENT_LOCKED (signed: use amend_prescription), 422 HMS_PRESCRIPTION_CHANGES_INVALID, HMS_PRESCRIPTION_DATE_INVALID and the item errors of create_prescription.';
grant execute on function app_public.update_prescription(uuid, jsonb) to :DATABASE_STAFF;

drop function if exists app_public.add_prescription_item(uuid, jsonb);
create function app_public.add_prescription_item(prescription_id uuid, item jsonb) returns app_public.prescriptions
language sql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select app_public.update_prescription(add_prescription_item.prescription_id,
                                        jsonb_build_object('add_items', jsonb_build_array(add_prescription_item.item)));
$$;
comment on function app_public.add_prescription_item(uuid, jsonb) is
  'Adds one medicine line (an item object as for create_prescription) to a DRAFT prescription; returns the prescription. Errors as update_prescription.';
grant execute on function app_public.add_prescription_item(uuid, jsonb) to :DATABASE_STAFF;

drop function if exists app_public.remove_prescription_item(uuid);
create function app_public.remove_prescription_item(prescription_item_id uuid) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_line app_public.prescription_items := app_hidden.find_or_404(null::app_public.prescription_items, remove_prescription_item.prescription_item_id);
begin
  return app_public.update_prescription(v_line.prescription_id, jsonb_build_object('remove_items', jsonb_build_array(v_line.id)));
end;
$$;
comment on function app_public.remove_prescription_item(uuid) is
  'Removes one line from a DRAFT prescription; returns the prescription. Errors as update_prescription (404 HMS_NOT_FOUND for a line not of this hospital).';
grant execute on function app_public.remove_prescription_item(uuid) to :DATABASE_STAFF;

drop function if exists app_public.finalize_prescription(uuid);
create function app_public.finalize_prescription(prescription_id uuid) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_row app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, finalize_prescription.prescription_id);
begin
  perform app_hidden.require_transition('app_public.prescriptions', v_row.status, 'finalized');
  if not exists (select 1 from app_public.prescription_items i where i.hospital_id = v_hospital and i.prescription_id = v_row.id) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A prescription needs at least one medicine line to be finalized.',
      jsonb_build_object('prescription_id', v_row.id));
  end if;
  update app_public.prescriptions p set status = 'finalized' where p.id = v_row.id returning * into v_row;
  insert into app_public.prescription_versions (hospital_id, prescription_id, version, snapshot, change_reason, changed_at, changed_by)
  values (v_hospital, v_row.id, v_row.version, app_hidden.prescription_snapshot(v_hospital, v_row.id), 'Finalized',
          v_row.finalized_at, v_row.finalized_by);
  return v_row;
end;
$$;
comment on function app_public.finalize_prescription(uuid) is
  E'Signs a draft prescription: draft → finalized (finalized_at/by from the session) and version 1 in prescription_versions (snapshot with its lines). Later changes go through amend_prescription. The only way to finalize. Needs prescriptions.write. Returns the prescription. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft), 422 HMS_PRESCRIPTION_EMPTY (no line).';
grant execute on function app_public.finalize_prescription(uuid) to :DATABASE_STAFF;

drop function if exists app_public.amend_prescription(uuid, jsonb, text);
create function app_public.amend_prescription(prescription_id uuid, changes jsonb, change_reason text) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_row app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, amend_prescription.prescription_id);
  v_reason text := nullif(trim(amend_prescription.change_reason), '');
begin
  if v_row.status not in ('finalized', 'partially_dispensed') then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_NOT_AMENDABLE',
      case when v_row.status = 'draft'
           then format('Prescription %s is a draft: edit it with update_prescription.', v_row.prescription_number)
           else format('Prescription %s is %s and can no longer be amended.', v_row.prescription_number, v_row.status) end,
      jsonb_build_object('prescription_id', v_row.id, 'status', v_row.status));
  end if;
  if v_reason is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the signed prescription is changed (change_reason).',
      jsonb_build_object('field', 'change_reason'));
  end if;

  perform app_hidden.apply_prescription_changes(v_row, amend_prescription.changes);
  if not exists (select 1 from app_public.prescription_items i where i.hospital_id = v_hospital and i.prescription_id = v_row.id) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A signed prescription keeps at least one medicine line; cancel it instead.',
      jsonb_build_object('prescription_id', v_row.id));
  end if;
  update app_public.prescriptions p set version = p.version + 1 where p.id = v_row.id returning * into v_row;
  insert into app_public.prescription_versions (hospital_id, prescription_id, version, snapshot, change_reason, changed_at, changed_by)
  values (v_hospital, v_row.id, v_row.version, app_hidden.prescription_snapshot(v_hospital, v_row.id), v_reason,
          app_hidden.now(), app_hidden.current_user_id());
  return v_row;
end;
$$;
comment on function app_public.amend_prescription(uuid, jsonb, text) is
  E'Changes a finalized (or partially dispensed) prescription: applies changes (as update_prescription: header fields, add_items, remove_items, replace_items — dispensed lines cannot be removed or replaced), raises version and stores the new snapshot with change_reason in prescription_versions. Needs prescriptions.write. Returns the prescription; read its lines from prescription_items afterwards (an embed in the same call sees them as they were before it). Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_PRESCRIPTION_NOT_AMENDABLE, 409 HMS_PRESCRIPTION_ITEM_DISPENSED, 422 HMS_REASON_REQUIRED (change_reason), HMS_PRESCRIPTION_CHANGES_INVALID, HMS_PRESCRIPTION_EMPTY and the item errors of create_prescription.';
grant execute on function app_public.amend_prescription(uuid, jsonb, text) to :DATABASE_STAFF;

drop function if exists app_public.cancel_prescription(uuid, text);
create function app_public.cancel_prescription(prescription_id uuid, reason text) returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_row app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, cancel_prescription.prescription_id);
begin
  perform app_hidden.require_transition('app_public.prescriptions', v_row.status, 'cancelled');
  -- the status machine asks for the reason and stamps cancelled_at/by; the module rule refuses once something was dispensed
  update app_public.prescriptions p set status = 'cancelled', cancellation_reason = nullif(trim(cancel_prescription.reason), '')
   where p.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.cancel_prescription(uuid, text) is
  E'Cancels a draft or finalized prescription of which nothing was dispensed, with the reason (cancelled_at/by from the session). Needs prescriptions.write. Returns the prescription. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (other states), 409 HMS_PRESCRIPTION_DISPENSED, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.cancel_prescription(uuid, text) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Templates
-- ---------------------------------------------------------------------------------------------

drop function if exists app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid);
create function app_public.create_prescription_template(
  name text,
  diagnosis text default null,
  items jsonb default '[]',
  diagnosis_codes text[] default '{}',
  advice text default null,
  description text default null,
  is_shared boolean default false,
  department_id uuid default null
) returns app_public.prescription_templates
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_doctor_id uuid;
  v_name text := trim(create_prescription_template.name);
  v_department app_public.departments;
  v_items jsonb;
  v_row app_public.prescription_templates;
begin
  -- a doctor's own template; staff who are not doctors (hospital admins) write hospital-wide ones
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and not d.is_deleted;
  if v_name is null or length(v_name) not between 2 and 120 then
    perform app_hidden.raise_error('HMS_TEMPLATE_NAME_INVALID', 'A template name has 2 to 120 characters.', jsonb_build_object('field', 'name'));
  end if;
  if create_prescription_template.department_id is not null then
    v_department := app_hidden.find_or_404(null::app_public.departments, create_prescription_template.department_id);
  end if;
  perform app_hidden.check_diagnosis_codes(create_prescription_template.diagnosis_codes);
  v_items := app_hidden.normalize_prescription_items(v_hospital, create_prescription_template.items);
  if jsonb_array_length(v_items) = 0 then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EMPTY', 'A template needs at least one medicine line.', jsonb_build_object('field', 'items'));
  end if;
  if exists (select 1 from app_public.prescription_templates t
              where t.hospital_id = v_hospital and t.doctor_id is not distinct from v_doctor_id and t.name = v_name) then
    perform app_hidden.raise_error('HMS_TEMPLATE_NAME_TAKEN', format('There is already a template named %s.', v_name),
      jsonb_build_object('name', v_name));
  end if;
  insert into app_public.prescription_templates (hospital_id, name, doctor_id, department_id, diagnosis, diagnosis_codes, description,
                                                 items, advice, is_shared)
  values (v_hospital, v_name, v_doctor_id, v_department.id, nullif(trim(create_prescription_template.diagnosis), ''),
          coalesce(create_prescription_template.diagnosis_codes, '{}'), nullif(trim(create_prescription_template.description), ''),
          v_items, nullif(trim(create_prescription_template.advice), ''), coalesce(create_prescription_template.is_shared, false))
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid) is
  E'Saves a reusable regimen: the caller''s own template (hospital-wide when the caller is not a doctor). items as for create_prescription (validated). Needs prescriptions.write. Returns the template. Errors: 401, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (department, medicine), 409 HMS_TEMPLATE_NAME_TAKEN, 422 HMS_TEMPLATE_NAME_INVALID, HMS_PRESCRIPTION_EMPTY, HMS_DIAGNOSIS_CODE_INVALID and the item errors.';
grant execute on function app_public.create_prescription_template(text, text, jsonb, text[], text, text, boolean, uuid) to :DATABASE_STAFF;

drop function if exists app_public.apply_prescription_template(uuid, uuid, uuid);
create function app_public.apply_prescription_template(template_id uuid, patient_id uuid, appointment_id uuid default null)
returns app_public.prescriptions
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('prescriptions.write');
  v_template app_public.prescription_templates := app_hidden.lock_or_404(null::app_public.prescription_templates, apply_prescription_template.template_id);
  v_row app_public.prescriptions;
begin
  -- a colleague's personal template that is not shared is not visible: 404 as for another hospital's
  if v_template.doctor_id is not null and not v_template.is_shared
     and not exists (select 1 from app_public.doctors d
                      where d.hospital_id = v_hospital and d.id = v_template.doctor_id and d.user_id = app_hidden.current_user_id()) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such prescription template in this hospital.',
      jsonb_build_object('entity', 'prescription_template', 'id', v_template.id));
  end if;
  if not v_template.is_active then
    perform app_hidden.raise_error('HMS_TEMPLATE_INACTIVE', format('The template %s is no longer active.', v_template.name),
      jsonb_build_object('template_id', v_template.id));
  end if;
  v_row := app_public.create_prescription(apply_prescription_template.patient_id, apply_prescription_template.appointment_id,
                                          v_template.diagnosis, v_template.diagnosis_codes, v_template.items, v_template.advice, null);
  update app_public.prescription_templates t set usage_count = t.usage_count + 1 where t.id = v_template.id;
  return v_row;
end;
$$;
comment on function app_public.apply_prescription_template(uuid, uuid, uuid) is
  E'Starts a draft prescription for the patient from a template (diagnosis, codes, items, advice) and counts the use. Needs prescriptions.write. Returns the prescription; read its lines from prescription_items afterwards. Errors: those of create_prescription, 404 HMS_NOT_FOUND (template of another hospital or a colleague''s unshared one), 422 HMS_TEMPLATE_INACTIVE.';
grant execute on function app_public.apply_prescription_template(uuid, uuid, uuid) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Status machine, document lock, registration
-- ---------------------------------------------------------------------------------------------

/*
 * The dispensing statuses follow the quantities the pharmacy dispenses (and gives back), so only
 * its workflow takes them; finalizing stores version 1, so it is taken only by
 * finalize_prescription. A partly dispensed prescription that expires is closed by the pharmacy.
 */
select app_hidden.declare_status_machine('app_public.prescriptions', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "finalized", "via": "finalize_prescription", "stamp_at": "finalized_at", "stamp_by": "finalized_by"},
  {"from": "draft", "to": "cancelled", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "finalized", "to": "cancelled", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "finalized", "to": "partially_dispensed", "via": "dispense_prescription"},
  {"from": "finalized", "to": "dispensed", "via": "dispense_prescription"},
  {"from": "partially_dispensed", "to": "dispensed", "via": "dispense_prescription"},
  {"from": "partially_dispensed", "to": "finalized", "via": "return_dispensed_items"},
  {"from": "dispensed", "to": "partially_dispensed", "via": "return_dispensed_items"},
  {"from": "finalized", "to": "expired"},
  {"from": "partially_dispensed", "to": "expired", "permission": "pharmacy.dispense"}
]$json$);

-- A signed prescription changes only through amend_prescription; its status (by the machine's
-- steps), internal notes and soft delete (see _200_rules) stay open, and the pharmacy keeps
-- quantity_dispensed of its lines.
select app_hidden.lock_document('app_public.prescriptions', '{draft}',
  still_editable => '{status,cancellation_reason,notes,is_deleted,deleted_at}');
select app_hidden.lock_document('app_public.prescription_items', '{draft}', still_editable => '{quantity_dispensed}',
  document => 'app_public.prescriptions', document_column => 'prescription_id');

select app_hidden.register_table('app_public.prescriptions', 'prescription',
  read_permissions => '{prescriptions.read}', write_permissions => '{prescriptions.write}', delete_permissions => '{prescriptions.write}',
  protected_columns => '{version}');
select app_hidden.register_table('app_public.prescription_items', 'prescription line',
  read_permissions => '{prescriptions.read}', write_permissions => '{prescriptions.write}', delete_permissions => '{prescriptions.write}',
  protected_columns => '{quantity_dispensed}', immutable_columns => '{prescription_id}');
select app_hidden.register_table('app_public.prescription_templates', 'prescription template',
  read_permissions => '{prescriptions.read,prescriptions.write}', write_permissions => '{prescriptions.write}',
  delete_permissions => '{prescriptions.write}', protected_columns => '{usage_count}');
select app_hidden.register_table('app_public.prescription_versions', 'prescription version',
  read_permissions => '{prescriptions.read}', write_mode => 'read_only', append_only => true);

-- ---------------------------------------------------------------------------------------------
-- Dialect helpers replaced by the kit
-- ---------------------------------------------------------------------------------------------
drop function if exists app_hidden.lock_prescription(uuid, text);
drop function if exists app_hidden.tg_prescriptions__workflow();
drop function if exists app_hidden.tg_prescriptions__first_version();
drop function if exists app_hidden.tg_prescription_items__workflow();
drop function if exists app_hidden.tg_prescription_versions__append_only();

--! split: 2200-lab.sql
/*
 * Laboratory and imaging orders (table: db/schema/app_public/tables/lab_orders.sql) on the kit.
 *
 * A lab order follows ordered → sample_collected → in_progress → completed (results entered) →
 * reported (verified and released); a test without a specimen (imaging) goes ordered →
 * in_progress directly, and an order that has not started (ordered or sample_collected) can be
 * cancelled with a reason. The status machine holds the steps, the permission each needs (lab.order
 * to order and cancel, lab.process for the rest) and who/when of each; whichever way a row
 * arrives (RPC, REST, GraphQL) it obeys them. The module's own rules: results are entered only
 * while the test is in progress or completed, by lab staff, and is_critical follows the flags.
 *
 * RPCs: order_lab_test, collect_sample, start_lab_test, record_lab_result, report_lab_result,
 * cancel_lab_order — each returns the lab order.
 */

select app_hidden.register_error_codes('lab', $json$[
  {"code": "HMS_LAB_TEST_INVALID", "http_status": 422, "meaning": "test_code (1 to 32 letters, digits, dots, dashes, underscores) or test_name (2 to 200 characters) is wrong (details.field)."},
  {"code": "HMS_LAB_CATEGORY_INVALID", "http_status": 422, "meaning": "test_category is not one of hematology, biochemistry, microbiology, pathology, radiology, immunology, serology, urinalysis, molecular, other."},
  {"code": "HMS_LAB_SPECIMEN_INVALID", "http_status": 422, "meaning": "specimen_type is not one of blood, urine, stool, sputum, swab, tissue, csf, other (null when the test needs none)."},
  {"code": "HMS_LAB_PRIORITY_INVALID", "http_status": 422, "meaning": "priority is not routine, urgent or stat."},
  {"code": "HMS_LAB_PRICE_INVALID", "http_status": 422, "meaning": "price is not an amount of zero or more."},
  {"code": "HMS_LAB_ORDERER_REQUIRED", "http_status": 422, "meaning": "The caller is not a doctor of the hospital and no referring_physician (outside referral) was named."},
  {"code": "HMS_LAB_NO_SPECIMEN", "http_status": 422, "meaning": "The test needs no specimen (e.g. imaging): there is no sample to collect; start it directly."},
  {"code": "HMS_LAB_BARCODE_INVALID", "http_status": 422, "meaning": "A sample barcode has 4 to 48 letters, digits or dashes."},
  {"code": "HMS_LAB_BARCODE_TAKEN", "http_status": 409, "meaning": "The barcode is already on another sample of this hospital."},
  {"code": "HMS_LAB_RESULTS_NOT_ALLOWED", "http_status": 409, "meaning": "Results are entered only while the test is in progress or completed, and the interpretation only once it is completed (details.status)."},
  {"code": "HMS_LAB_RESULTS_INVALID", "http_status": 422, "meaning": "results is not a JSON array of {analyte, value, unit, reference_range, flag} objects with an analyte and a known flag (details.result)."},
  {"code": "HMS_LAB_RESULT_FLAG_INVALID", "http_status": 422, "meaning": "result_flag is not one of normal, low, high, critical_low, critical_high, abnormal."},
  {"code": "HMS_LAB_RESULTS_EMPTY", "http_status": 422, "meaning": "A test is completed with a result value or panel results; none was given."}
]$json$);

/*
 * Direct (REST) writes meet the codes of the RPCs for the rules the schema states; the collection
 * rule is the conditional step ordered → in_progress, taken only by tests without a specimen.
 */
insert into app_hidden.constraint_errors (constraint_name, code, message) values
  ('lab_orders_collected_check', 'HMS_ILLEGAL_TRANSITION',
   'A test that needs a specimen starts only after its sample is collected: collect the sample first.'),
  ('lab_orders_orderer_check', 'HMS_LAB_ORDERER_REQUIRED',
   'A lab order names its ordering doctor of the hospital, or the referring_physician of an outside referral.'),
  ('idx_lab_orders__hospital_id_sample_barcode', 'HMS_LAB_BARCODE_TAKEN', 'The barcode is already on another sample of this hospital.')
on conflict (constraint_name) do update set code = excluded.code, message = excluded.message;

/*
 * BEFORE INSERT/UPDATE on lab_orders (_200_rules). Whoever writes: is_critical follows the flags,
 * and a critical notification goes with the critical value it documented. For client writes:
 * results only while the test is in progress or completed and only by lab staff (lab.process),
 * the interpretation once the results are completed, and a test is completed with a result (the
 * RPCs check their own input).
 */
create or replace function app_hidden.tg_lab_orders__rules() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_results_changed boolean;
begin
  NEW.is_critical := app_hidden.lab_results_critical(NEW.result_flag, NEW.results);
  if TG_OP = 'UPDATE' and OLD.is_critical and not NEW.is_critical then
    NEW.critical_notified_at := null;
    NEW.critical_notified_to := null;
  end if;
  if app_hidden.is_trusted_writer() then
    return NEW;
  end if;

  if TG_OP = 'INSERT' then
    if NEW.results <> '[]'::jsonb or num_nonnulls(NEW.result_value, NEW.result_unit, NEW.reference_range, NEW.result_flag,
                                                   NEW.result_notes, NEW.interpretation) > 0 then
      perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED', 'Results are entered once the test is in progress.',
        jsonb_build_object('status', NEW.status));
    end if;
    return NEW;
  end if;

  v_results_changed := (NEW.results, NEW.result_value, NEW.result_unit, NEW.reference_range, NEW.result_flag, NEW.result_notes)
                       is distinct from
                       (OLD.results, OLD.result_value, OLD.result_unit, OLD.reference_range, OLD.result_flag, OLD.result_notes);
  if v_results_changed then
    if OLD.status not in ('in_progress', 'completed') or NEW.status not in ('in_progress', 'completed') then
      perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
        format('Results are entered only while the test is in progress or completed (this order is %s).', OLD.status),
        jsonb_build_object('status', OLD.status));
    end if;
    if not app_hidden.has_permission('lab.process') then
      perform app_hidden.raise_error('HMS_FORBIDDEN', 'Entering results needs the lab.process permission.',
        jsonb_build_object('permission', 'lab.process'));
    end if;
  end if;
  if NEW.interpretation is distinct from OLD.interpretation and OLD.status <> 'completed' then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
      format('The interpretation is written when the results are completed, before the report is released (this order is %s).', OLD.status),
      jsonb_build_object('status', OLD.status));
  end if;
  if NEW.status = 'completed' and OLD.status <> 'completed'
     and NEW.results = '[]'::jsonb and nullif(trim(NEW.result_value), '') is null then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_EMPTY', 'Enter a result value or panel results before completing the test.',
      jsonb_build_object('field', 'result_value'));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_lab_orders__rules() is
  'BEFORE INSERT/UPDATE on lab_orders (_200_rules): is_critical from the flags; for client writes, results only while in progress or completed and with lab.process, the interpretation once completed, completion with a result (HMS_LAB_RESULTS_NOT_ALLOWED, HMS_FORBIDDEN, HMS_LAB_RESULTS_EMPTY).';

drop trigger if exists _200_workflow on app_public.lab_orders;
drop trigger if exists _200_rules on app_public.lab_orders;
create trigger _200_rules before insert or update on app_public.lab_orders
  for each row execute function app_hidden.tg_lab_orders__rules();

-- ---------------------------------------------------------------------------------------------
-- RPCs
-- ---------------------------------------------------------------------------------------------

drop function if exists app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric);
create function app_public.order_lab_test(
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
) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.order');
  v_patient app_public.patients := app_hidden.find_or_404(null::app_public.patients, order_lab_test.patient_id);
  v_appointment app_public.appointments;
  v_prescription app_public.prescriptions;
  v_department app_public.departments;
  v_doctor_id uuid;
  v_row app_public.lab_orders;
begin
  if order_lab_test.appointment_id is not null then
    v_appointment := app_hidden.find_or_404(null::app_public.appointments, order_lab_test.appointment_id);
    if v_appointment.patient_id <> v_patient.id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The appointment is of another patient.',
        jsonb_build_object('appointment_id', v_appointment.id));
    end if;
  end if;
  if order_lab_test.prescription_id is not null then
    v_prescription := app_hidden.find_or_404(null::app_public.prescriptions, order_lab_test.prescription_id);
    if v_prescription.patient_id <> v_patient.id then
      perform app_hidden.raise_error('HMS_APPOINTMENT_PATIENT_MISMATCH', 'The prescription is of another patient.',
        jsonb_build_object('prescription_id', v_prescription.id));
    end if;
  end if;
  if order_lab_test.department_id is not null then
    v_department := app_hidden.find_or_404(null::app_public.departments, order_lab_test.department_id);
  end if;
  if order_lab_test.test_code is not null and order_lab_test.test_code !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$' then
    perform app_hidden.raise_error('HMS_LAB_TEST_INVALID', 'test_code has 1 to 32 letters, digits, dots, dashes or underscores (e.g. CBC, 2345-7).',
      jsonb_build_object('field', 'test_code'));
  end if;
  if order_lab_test.test_name is null or length(trim(order_lab_test.test_name)) not between 2 and 200 then
    perform app_hidden.raise_error('HMS_LAB_TEST_INVALID', 'test_name (2 to 200 characters) is required.',
      jsonb_build_object('field', 'test_name'));
  end if;
  if order_lab_test.test_category is null or order_lab_test.test_category not in
       ('hematology', 'biochemistry', 'microbiology', 'pathology', 'radiology', 'immunology', 'serology', 'urinalysis', 'molecular', 'other') then
    perform app_hidden.raise_error('HMS_LAB_CATEGORY_INVALID',
      'test_category is hematology, biochemistry, microbiology, pathology, radiology, immunology, serology, urinalysis, molecular or other.',
      jsonb_build_object('field', 'test_category'));
  end if;
  if order_lab_test.specimen_type not in ('blood', 'urine', 'stool', 'sputum', 'swab', 'tissue', 'csf', 'other') then
    perform app_hidden.raise_error('HMS_LAB_SPECIMEN_INVALID',
      'specimen_type is blood, urine, stool, sputum, swab, tissue, csf, other, or null when none is needed.',
      jsonb_build_object('field', 'specimen_type'));
  end if;
  if coalesce(order_lab_test.priority, '') not in ('routine', 'urgent', 'stat') then
    perform app_hidden.raise_error('HMS_LAB_PRIORITY_INVALID', 'priority is routine, urgent or stat.', jsonb_build_object('field', 'priority'));
  end if;
  if order_lab_test.price is null or order_lab_test.price < 0 or order_lab_test.price >= 10000000000 then
    perform app_hidden.raise_error('HMS_LAB_PRICE_INVALID', 'price is an amount of zero or more.', jsonb_build_object('field', 'price'));
  end if;
  select d.id into v_doctor_id from app_public.doctors d
   where d.hospital_id = v_hospital and d.user_id = app_hidden.current_user_id() and not d.is_deleted;
  if v_doctor_id is null and nullif(trim(order_lab_test.referring_physician), '') is null then
    perform app_hidden.raise_error('HMS_LAB_ORDERER_REQUIRED',
      'Only doctors of the hospital order in their own name; name the referring_physician of an outside referral.',
      jsonb_build_object('field', 'referring_physician'));
  end if;

  insert into app_public.lab_orders (hospital_id, patient_id, doctor_id, referring_physician, appointment_id, prescription_id, department_id,
                                     test_code, test_name, test_category, specimen_type, priority, clinical_notes, price)
  values (v_hospital, v_patient.id, v_doctor_id, nullif(trim(order_lab_test.referring_physician), ''), v_appointment.id, v_prescription.id,
          v_department.id, order_lab_test.test_code, trim(order_lab_test.test_name), order_lab_test.test_category,
          order_lab_test.specimen_type, order_lab_test.priority, nullif(trim(order_lab_test.clinical_notes), ''),
          round(order_lab_test.price, 2))
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric) is
  E'Orders a lab or imaging test for a patient, in the calling doctor''s name (or for an outside referring_physician); status ordered, ordered_at from the session''s clock. Needs lab.order. Returns the lab order. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN (lab.order), 404 HMS_NOT_FOUND (patient, appointment, prescription, department), 422 HMS_APPOINTMENT_PATIENT_MISMATCH, HMS_LAB_TEST_INVALID, HMS_LAB_CATEGORY_INVALID, HMS_LAB_SPECIMEN_INVALID, HMS_LAB_PRIORITY_INVALID, HMS_LAB_PRICE_INVALID, HMS_LAB_ORDERER_REQUIRED.';
grant execute on function app_public.order_lab_test(uuid, text, text, text, text, text, uuid, text, text, uuid, uuid, numeric) to :DATABASE_STAFF;

drop function if exists app_public.collect_sample(uuid, text);
create function app_public.collect_sample(lab_order_id uuid, sample_barcode text default null) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.process');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, collect_sample.lab_order_id);
  v_barcode text := nullif(trim(collect_sample.sample_barcode), '');
begin
  perform app_hidden.require_transition('app_public.lab_orders', v_row.status, 'sample_collected');
  if v_row.specimen_type is null then
    perform app_hidden.raise_error('HMS_LAB_NO_SPECIMEN', format('Test %s needs no specimen: start it directly.', v_row.test_name),
      jsonb_build_object('lab_order_id', v_row.id));
  end if;
  if v_barcode is not null and v_barcode !~ '^[0-9A-Za-z-]{4,48}$' then
    perform app_hidden.raise_error('HMS_LAB_BARCODE_INVALID', 'A sample barcode has 4 to 48 letters, digits or dashes.',
      jsonb_build_object('field', 'sample_barcode'));
  end if;
  if v_barcode is not null and exists (select 1 from app_public.lab_orders l
                                        where l.hospital_id = v_hospital and l.sample_barcode = v_barcode and l.id <> v_row.id) then
    perform app_hidden.raise_error('HMS_LAB_BARCODE_TAKEN', format('Barcode %s is already on another sample.', v_barcode),
      jsonb_build_object('sample_barcode', v_barcode));
  end if;
  update app_public.lab_orders l set status = 'sample_collected', sample_barcode = coalesce(v_barcode, l.sample_barcode)
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.collect_sample(uuid, text) is
  E'Records the specimen collection of an ordered test (ordered → sample_collected, sample_collected_at/by from the session), with the container barcode. Needs lab.process. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_LAB_BARCODE_TAKEN, 422 HMS_LAB_NO_SPECIMEN, HMS_LAB_BARCODE_INVALID.';
grant execute on function app_public.collect_sample(uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.start_lab_test(uuid);
create function app_public.start_lab_test(lab_order_id uuid) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.process');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, start_lab_test.lab_order_id);
begin
  perform app_hidden.require_transition('app_public.lab_orders', v_row.status, 'in_progress');
  -- a test that needs a specimen and has none collected meets lab_orders_collected_check (409)
  update app_public.lab_orders l set status = 'in_progress' where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.start_lab_test(uuid) is
  E'Starts processing: sample_collected (or ordered, for tests without a specimen) → in_progress, started_at from the session''s clock. Needs lab.process. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (also a specimen test whose sample is not collected).';
grant execute on function app_public.start_lab_test(uuid) to :DATABASE_STAFF;

drop function if exists app_public.record_lab_result(uuid, jsonb, text, text, text, text, text);
create function app_public.record_lab_result(
  lab_order_id uuid,
  results jsonb default '[]',
  result_value text default null,
  result_unit text default null,
  reference_range text default null,
  result_flag text default null,
  result_notes text default null
) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.process');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, record_lab_result.lab_order_id);
  v_results jsonb := coalesce(record_lab_result.results, '[]'::jsonb);
  v_bad jsonb;
begin
  -- results are entered (in_progress → completed) or corrected (completed, before the report)
  if v_row.status not in ('in_progress', 'completed') then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_NOT_ALLOWED',
      format('Results are entered only while the test is in progress or completed (lab order %s is %s).', v_row.order_number, v_row.status),
      jsonb_build_object('status', v_row.status));
  end if;
  if jsonb_typeof(v_results) <> 'array' then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_INVALID', 'results is a JSON array of {analyte, value, unit, reference_range, flag}.',
      jsonb_build_object('field', 'results'));
  end if;
  select e into v_bad from jsonb_array_elements(v_results) e
   where jsonb_typeof(e) <> 'object' or nullif(trim(e ->> 'analyte'), '') is null
      or (e ? 'flag' and jsonb_typeof(e -> 'flag') <> 'null'
          and (e ->> 'flag') not in ('normal', 'low', 'high', 'critical_low', 'critical_high', 'abnormal'))
   limit 1;
  if v_bad is not null then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_INVALID',
      'Each panel result is an object with an analyte (and value, unit, reference_range, flag: normal, low, high, critical_low, critical_high or abnormal).',
      jsonb_build_object('result', v_bad));
  end if;
  if record_lab_result.result_flag not in ('normal', 'low', 'high', 'critical_low', 'critical_high', 'abnormal') then
    perform app_hidden.raise_error('HMS_LAB_RESULT_FLAG_INVALID', 'result_flag is normal, low, high, critical_low, critical_high or abnormal.',
      jsonb_build_object('field', 'result_flag'));
  end if;
  if v_results = '[]'::jsonb and nullif(trim(record_lab_result.result_value), '') is null then
    perform app_hidden.raise_error('HMS_LAB_RESULTS_EMPTY', 'Enter a result value or panel results.', jsonb_build_object('field', 'result_value'));
  end if;
  update app_public.lab_orders l
     set status = 'completed', results = v_results,
         result_value = nullif(trim(record_lab_result.result_value), ''),
         result_unit = nullif(trim(record_lab_result.result_unit), ''),
         reference_range = nullif(trim(record_lab_result.reference_range), ''),
         result_flag = record_lab_result.result_flag,
         result_notes = nullif(trim(record_lab_result.result_notes), '')
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.record_lab_result(uuid, jsonb, text, text, text, text, text) is
  E'Enters (or corrects, before the report) the results of a test in progress: in_progress → completed, performed_by/completed_at from the session; is_critical is set when a flag is critical_low or critical_high. Needs lab.process. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_LAB_RESULTS_NOT_ALLOWED (not in progress or completed), 422 HMS_LAB_RESULTS_INVALID, HMS_LAB_RESULT_FLAG_INVALID, HMS_LAB_RESULTS_EMPTY.';
grant execute on function app_public.record_lab_result(uuid, jsonb, text, text, text, text, text) to :DATABASE_STAFF;

drop function if exists app_public.report_lab_result(uuid, text);
create function app_public.report_lab_result(lab_order_id uuid, interpretation text default null) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.process');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, report_lab_result.lab_order_id);
begin
  perform app_hidden.require_transition('app_public.lab_orders', v_row.status, 'reported');
  update app_public.lab_orders l
     set status = 'reported', interpretation = coalesce(nullif(trim(report_lab_result.interpretation), ''), l.interpretation)
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.report_lab_result(uuid, text) is
  E'Verifies and releases the report of a completed test (completed → reported, reported_at/by from the session), with an optional interpretation. Needs lab.process. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.process), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.report_lab_result(uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.cancel_lab_order(uuid, text);
create function app_public.cancel_lab_order(lab_order_id uuid, reason text) returns app_public.lab_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('lab.order');
  v_row app_public.lab_orders := app_hidden.lock_or_404(null::app_public.lab_orders, cancel_lab_order.lab_order_id);
begin
  perform app_hidden.require_transition('app_public.lab_orders', v_row.status, 'cancelled');
  -- the status machine asks for the reason and stamps cancelled_at/by
  update app_public.lab_orders l set status = 'cancelled', cancellation_reason = nullif(trim(cancel_lab_order.reason), '')
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.cancel_lab_order(uuid, text) is
  E'Cancels a test that has not started (ordered or sample_collected), with the reason (cancelled_at/by from the session). Needs lab.order. Returns the lab order. Errors: 401, 403 HMS_FORBIDDEN (lab.order), 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.cancel_lab_order(uuid, text) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Status machine, registration
-- ---------------------------------------------------------------------------------------------

/*
 * ordered → in_progress is the step of tests without a specimen (imaging); for a test that needs
 * one, lab_orders_collected_check refuses it (worded as HMS_ILLEGAL_TRANSITION above).
 */
select app_hidden.declare_status_machine('app_public.lab_orders', $json$[
  {"from": null, "to": "ordered", "permission": "lab.order", "stamp_at": "ordered_at"},
  {"from": "ordered", "to": "sample_collected", "permission": "lab.process", "stamp_at": "sample_collected_at", "stamp_by": "sample_collected_by"},
  {"from": "ordered", "to": "in_progress", "permission": "lab.process", "stamp_at": "started_at"},
  {"from": "sample_collected", "to": "in_progress", "permission": "lab.process", "stamp_at": "started_at"},
  {"from": "in_progress", "to": "completed", "permission": "lab.process", "stamp_at": "completed_at", "stamp_by": "performed_by"},
  {"from": "completed", "to": "reported", "permission": "lab.process", "stamp_at": "reported_at", "stamp_by": "reported_by"},
  {"from": "ordered", "to": "cancelled", "permission": "lab.order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "sample_collected", "to": "cancelled", "permission": "lab.order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);

select app_hidden.register_table('app_public.lab_orders', 'lab order',
  read_permissions => '{lab.read}', write_permissions => '{lab.order,lab.process}', delete_permissions => '{lab.order}',
  protected_columns => '{is_critical}');

-- ---------------------------------------------------------------------------------------------
-- Dialect helpers replaced by the kit
-- ---------------------------------------------------------------------------------------------
drop function if exists app_hidden.tg_lab_orders__workflow();
drop function if exists app_hidden.lock_lab_order(uuid, text);
drop function if exists app_hidden.lab_transition_error(app_public.lab_orders, text);

--! split: 2300-pharmacy.sql
/*
 * Pharmacy (tables: db/schema/app_public/tables/pharmacy_dispensing.sql, pharmacy_dispensing_items.sql,
 * pharmacy_returns.sql, pharmacy_return_items.sql): medicines handed over against a prescription
 * or over the counter, and brought back, on the kit.
 *
 * - dispense_prescription / dispense_otc take batches first-expiry-first-out (FEFO) among the
 *   medicine's usable batches (active, on hand, expiring after today plus the hospital's
 *   near_expiry_block_days), locking them in expiry order, and write one 'dispense' stock movement
 *   per line: the ledger trigger (section 4100) lowers the batch. A line the usable batches cannot
 *   cover → HMS_INSUFFICIENT_STOCK and nothing at all is written. Dispensed lines go on the
 *   patient's draft pharmacy invoice in the same transaction through the billing contract
 *   (app_hidden.ensure_draft_invoice / add_invoice_item); a walk-in customer pays at the counter.
 * - return_dispensed_items books a completed return: resalable units go back to their batch
 *   ('patient_return' movement), damaged or expired ones are written off; the refund is recorded
 *   (paying it out is billing's job).
 *
 * What clients may do directly is declared once: a dispensing starts as a draft and a draft may be
 * cancelled; handed-over dispensings are born completed (or partially dispensed) inside the RPCs.
 * A return is recorded as requested, then approved or rejected; a completed return is born inside
 * return_dispensed_items. Who received, approved, cancelled or dispensed is the session's user.
 * Handed-over dispensings and completed or rejected returns are locked documents (their lines too);
 * their amounts are totals of their lines.
 */

select app_hidden.register_error_codes('pharmacy', $json$[
  {"code": "HMS_INSUFFICIENT_STOCK", "http_status": 409, "meaning": "Not enough usable stock: the batches that are active and not (nearly) expired hold less than asked (details: medicine, requested, available); nothing is written."},
  {"code": "HMS_PRESCRIPTION_NOT_FINALIZED", "http_status": 409, "meaning": "The prescription is still a draft: the doctor must finalize it before it is dispensed."},
  {"code": "HMS_PRESCRIPTION_CANCELLED", "http_status": 409, "meaning": "The prescription was cancelled and cannot be dispensed."},
  {"code": "HMS_PRESCRIPTION_EXPIRED", "http_status": 409, "meaning": "The prescription is past its validity and cannot be dispensed (details.valid_until)."},
  {"code": "HMS_PRESCRIPTION_ALREADY_DISPENSED", "http_status": 409, "meaning": "The prescription has already been dispensed in full."},
  {"code": "HMS_NOTHING_TO_DISPENSE", "http_status": 422, "meaning": "Nothing is outstanding on the prescription's formulary lines."},
  {"code": "HMS_INVALID_ITEMS", "http_status": 422, "meaning": "items must be a non-empty JSON array of objects, each naming its line or medicine by a uuid."},
  {"code": "HMS_INVALID_QUANTITY", "http_status": 422, "meaning": "A quantity is not a whole number above zero (details.item)."},
  {"code": "HMS_DUPLICATE_ITEM", "http_status": 422, "meaning": "The same line or medicine is listed twice in items."},
  {"code": "HMS_MEDICINE_NOT_STOCKED", "http_status": 422, "meaning": "The prescription line names no medicine of the formulary: it is dispensed elsewhere, not from stock."},
  {"code": "HMS_QUANTITY_EXCEEDS_PRESCRIBED", "http_status": 422, "meaning": "More is asked than is still outstanding on the prescription line (details: requested, outstanding)."},
  {"code": "HMS_MEDICINE_INACTIVE", "http_status": 422, "meaning": "The medicine is no longer active in the formulary and cannot be dispensed."},
  {"code": "HMS_RECIPIENT_REQUIRED", "http_status": 422, "meaning": "An over-the-counter sale needs a patient or the walk-in customer's name."},
  {"code": "HMS_PRESCRIPTION_REQUIRED", "http_status": 422, "meaning": "The medicine is not over-the-counter: it is dispensed only against a prescription."},
  {"code": "HMS_DISPENSING_NOT_RETURNABLE", "http_status": 409, "meaning": "Only handed-over (completed or partially dispensed) medicines can be returned."},
  {"code": "HMS_INVALID_RETURN_REASON", "http_status": 422, "meaning": "The return reason is not one of adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued, patient_request, other."},
  {"code": "HMS_RETURN_REASON_NOTES_REQUIRED", "http_status": 422, "meaning": "A return for reason other needs reason_notes saying why."},
  {"code": "HMS_INVALID_CONDITION", "http_status": 422, "meaning": "A returned item's condition is not resalable, damaged or expired."},
  {"code": "HMS_RETURN_EXCEEDS_DISPENSED", "http_status": 422, "meaning": "More units are returned than were dispensed on the line and not returned yet (details: requested, dispensed, already_returned)."}
]$json$);

-- ---------------------------------------------------------------------------------------------
-- Helpers of the RPCs
-- ---------------------------------------------------------------------------------------------

/*
 * Takes p_quantity units of a medicine first-expiry-first-out: locks the usable batches in
 * expiry order and returns the batches and quantities to take (a line may span batches).
 * Raises HMS_INSUFFICIENT_STOCK when the usable batches hold less than asked. Writes nothing:
 * the caller writes the stock movements.
 */
create or replace function app_hidden.pharmacy_allocate_fefo(p_hospital_id uuid, p_medicine_id uuid, p_quantity integer)
returns table (batch_id uuid, batch_number text, expiry_date date, quantity integer)
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_usable_after date := app_hidden.hospital_today(p_hospital_id)
    + coalesce((select s.near_expiry_block_days from app_public.hospital_settings s where s.hospital_id = p_hospital_id), 0);
  v_remaining integer := p_quantity;
  v_available integer := 0;
  v_take integer;
  v_name text;
  r record;
begin
  for r in
    select b.id, b.batch_number, b.expiry_date, b.quantity_on_hand
      from app_public.medicine_batches b
     where b.hospital_id = p_hospital_id
       and b.medicine_id = p_medicine_id
       and b.status = 'active'
       and b.quantity_on_hand > 0
       and b.expiry_date > v_usable_after
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
             v_name, p_quantity, v_available),
      jsonb_build_object('medicine_id', p_medicine_id, 'medicine', v_name, 'requested', p_quantity, 'available', v_available));
  end if;
end;
$$;
comment on function app_hidden.pharmacy_allocate_fefo(uuid, uuid, integer) is
  'First-expiry-first-out allocation of a medicine: locks the usable batches (active, on hand, expiring after today + near_expiry_block_days) in expiry order and returns how much to take from which; HMS_INSUFFICIENT_STOCK when they do not hold enough.';

/* A positive whole number from a JSON value, or null. */
create or replace function app_hidden.pharmacy_json_quantity(p_value jsonb) returns integer
language sql
immutable
as $$
  select case when jsonb_typeof(p_value) = 'number' and p_value::text ~ '^[0-9]{1,9}$' and p_value::text::integer > 0
              then p_value::text::integer end;
$$;
comment on function app_hidden.pharmacy_json_quantity(jsonb) is 'A whole number above zero from a JSON value of items, or null (the caller answers HMS_INVALID_QUANTITY).';

/* A uuid from a JSON string, or null when it is not one. */
create or replace function app_hidden.pharmacy_json_uuid(p_value jsonb) returns uuid
language sql
immutable
as $$
  select case when jsonb_typeof(p_value) = 'string'
               and (p_value #>> '{}') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then (p_value #>> '{}')::uuid end;
$$;
comment on function app_hidden.pharmacy_json_uuid(jsonb) is 'A uuid from a JSON string of items, or null (the caller answers HMS_INVALID_ITEMS).';

/*
 * Writes one dispensing line per FEFO batch of one medicine (price and tax from the medicine),
 * its 'dispense' stock movement and, given an invoice, its invoice line.
 */
drop function if exists app_hidden.pharmacy_dispense_medicine(uuid, uuid, uuid, uuid, integer, uuid, text);
create function app_hidden.pharmacy_dispense_medicine(
  p_hospital_id uuid, p_dispensing_id uuid, p_prescription_item_id uuid, p_medicine_id uuid, p_quantity integer,
  p_invoice_id uuid, p_instructions text default null
) returns void
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

    if p_invoice_id is not null then
      perform app_hidden.add_invoice_item(
        p_invoice_id, 'medicine',
        format('%s (batch %s)', concat_ws(' ', v_medicine.generic_name, v_medicine.strength), a.batch_number),
        a.quantity, v_medicine.selling_price, v_medicine.tax_configuration_id,
        jsonb_build_object('dispensing_item_id', v_item_id, 'medicine_id', p_medicine_id, 'batch_id', a.batch_id));
    end if;
  end loop;
end;
$$;
comment on function app_hidden.pharmacy_dispense_medicine(uuid, uuid, uuid, uuid, integer, uuid, text) is
  'Writes the FEFO dispensing lines of one medicine (price and tax from the medicine), their dispense stock movements and, given an invoice, their invoice lines.';

-- ---------------------------------------------------------------------------------------------
-- Totals from lines
-- ---------------------------------------------------------------------------------------------

/* A dispensing's amounts from its lines: total = Σ price × quantity, tax = Σ line tax, net = Σ line totals. */
create or replace function app_hidden.refresh_pharmacy_dispensing_totals(p_id uuid) returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update app_public.pharmacy_dispensing d
     set total_amount = t.gross, tax_amount = t.tax, net_amount = t.net
    from app_public.pharmacy_dispensing h
   cross join lateral (select coalesce(sum(round(i.quantity * i.unit_price, 2)), 0) as gross,
                              coalesce(sum(i.tax_amount), 0) as tax,
                              coalesce(sum(i.line_total), 0) as net
                         from app_public.pharmacy_dispensing_items i
                        where i.hospital_id = h.hospital_id and i.dispensing_id = h.id) t
   where h.id = p_id and d.id = h.id
     and (d.total_amount, d.tax_amount, d.net_amount) is distinct from (t.gross, t.tax, t.net);
$$;
comment on function app_hidden.refresh_pharmacy_dispensing_totals(uuid) is
  'Recomputes a dispensing''s total_amount (Σ price × quantity), tax_amount and net_amount (Σ line totals) from its lines; the one place they are computed.';

/* A return's refund from its lines: refund_amount = Σ line refunds. */
create or replace function app_hidden.refresh_pharmacy_return_totals(p_id uuid) returns void
language sql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
  update app_public.pharmacy_returns r
     set refund_amount = t.refund
    from app_public.pharmacy_returns h
   cross join lateral (select coalesce(sum(i.line_refund), 0) as refund
                         from app_public.pharmacy_return_items i
                        where i.hospital_id = h.hospital_id and i.return_id = h.id) t
   where h.id = p_id and r.id = h.id and r.refund_amount is distinct from t.refund;
$$;
comment on function app_hidden.refresh_pharmacy_return_totals(uuid) is
  'Recomputes a return''s refund_amount (Σ line refunds) from its lines; the one place it is computed.';

-- ---------------------------------------------------------------------------------------------
-- dispense_prescription
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.dispense_prescription(uuid, jsonb);
create function app_public.dispense_prescription(prescription_id uuid, items jsonb default null)
returns app_public.pharmacy_dispensing
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.dispense');
  v_prescription app_public.prescriptions := app_hidden.lock_or_404(null::app_public.prescriptions, dispense_prescription.prescription_id);
  v_requests jsonb := '[]'::jsonb;   -- [{prescription_item_id, medicine_id, quantity, instructions}]
  v_element jsonb;
  v_item_id uuid;
  v_quantity integer;
  v_line app_public.prescription_items;
  v_medicine app_public.medicines;
  v_dispensing app_public.pharmacy_dispensing;
  v_invoice_id uuid;
  v_outstanding_after integer;
  v_new_prescription_status text;
  r record;
begin
  case v_prescription.status
    when 'draft' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_NOT_FINALIZED', 'The prescription is still a draft: the doctor must finalize it before it is dispensed.',
        jsonb_build_object('status', v_prescription.status));
    when 'cancelled' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_CANCELLED', 'The prescription was cancelled and cannot be dispensed.',
        jsonb_build_object('status', v_prescription.status));
    when 'expired' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_EXPIRED', 'The prescription has expired and cannot be dispensed.',
        jsonb_build_object('status', v_prescription.status, 'valid_until', v_prescription.valid_until));
    when 'dispensed' then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_ALREADY_DISPENSED', 'The prescription has already been dispensed in full.',
        jsonb_build_object('status', v_prescription.status));
    else null;
  end case;
  if v_prescription.valid_until < app_hidden.hospital_today(v_hospital) then
    perform app_hidden.raise_error('HMS_PRESCRIPTION_EXPIRED',
      format('The prescription was valid until %s and cannot be dispensed any more.', v_prescription.valid_until),
      jsonb_build_object('status', v_prescription.status, 'valid_until', v_prescription.valid_until));
  end if;

  -- What to dispense: the lines asked for, or everything still outstanding.
  if dispense_prescription.items is null then
    for v_line in
      select * from app_public.prescription_items i
       where i.hospital_id = v_hospital and i.prescription_id = v_prescription.id
         and i.medicine_id is not null and i.quantity_dispensed < i.quantity_prescribed
       order by i.line_number
         for update
    loop
      v_requests := v_requests || jsonb_build_object('prescription_item_id', v_line.id, 'medicine_id', v_line.medicine_id,
        'quantity', v_line.quantity_prescribed - v_line.quantity_dispensed, 'instructions', v_line.instructions);
    end loop;
    if jsonb_array_length(v_requests) = 0 then
      perform app_hidden.raise_error('HMS_NOTHING_TO_DISPENSE',
        'Nothing is left to dispense on this prescription: its formulary lines are fully dispensed (lines for medicines the hospital does not stock are dispensed elsewhere).');
    end if;
  else
    if jsonb_typeof(dispense_prescription.items) <> 'array' or jsonb_array_length(dispense_prescription.items) = 0 then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {prescription_item_id, quantity}.');
    end if;
    for v_element in select e from jsonb_array_elements(dispense_prescription.items) e loop
      if jsonb_typeof(v_element) <> 'object' then
        perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {prescription_item_id, quantity}.');
      end if;
      v_item_id := app_hidden.pharmacy_json_uuid(v_element -> 'prescription_item_id');
      if v_item_id is null then
        perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a prescription_item_id (a uuid).',
          jsonb_build_object('item', v_element));
      end if;
      v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
      if v_quantity is null then
        perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.',
          jsonb_build_object('item', v_element));
      end if;
      if v_requests @> jsonb_build_array(jsonb_build_object('prescription_item_id', v_item_id)) then
        perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same prescription line is listed twice.',
          jsonb_build_object('prescription_item_id', v_item_id));
      end if;
      v_line := app_hidden.lock_or_404(null::app_public.prescription_items, v_item_id);
      if v_line.prescription_id is distinct from v_prescription.id then
        perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this prescription.',
          jsonb_build_object('entity', replace(app_hidden.entity_of('app_public.prescription_items'), ' ', '_'), 'id', v_item_id));
      end if;
      if v_line.medicine_id is null then
        perform app_hidden.raise_error('HMS_MEDICINE_NOT_STOCKED',
          format('Line %s (%s) names no medicine of the formulary: it cannot be dispensed from stock.', v_line.line_number, v_line.drug_name),
          jsonb_build_object('prescription_item_id', v_item_id));
      end if;
      if v_quantity > v_line.quantity_prescribed - v_line.quantity_dispensed then
        perform app_hidden.raise_error('HMS_QUANTITY_EXCEEDS_PRESCRIBED',
          format('Line %s (%s): %s requested but only %s of %s prescribed are still to dispense.', v_line.line_number,
                 v_line.drug_name, v_quantity, v_line.quantity_prescribed - v_line.quantity_dispensed, v_line.quantity_prescribed),
          jsonb_build_object('prescription_item_id', v_item_id, 'requested', v_quantity,
                             'outstanding', v_line.quantity_prescribed - v_line.quantity_dispensed));
      end if;
      v_requests := v_requests || jsonb_build_object('prescription_item_id', v_item_id, 'medicine_id', v_line.medicine_id,
        'quantity', v_quantity, 'instructions', v_line.instructions);
    end loop;
  end if;

  -- Every medicine must still be dispensable.
  for r in select distinct (e ->> 'medicine_id')::uuid as medicine_id from jsonb_array_elements(v_requests) e loop
    select * into v_medicine from app_public.medicines m where m.hospital_id = v_hospital and m.id = r.medicine_id;
    if not v_medicine.is_active or v_medicine.is_deleted then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE',
        format('%s is no longer active in the formulary and cannot be dispensed.', v_medicine.generic_name),
        jsonb_build_object('medicine_id', r.medicine_id));
    end if;
  end loop;

  -- Complete when no formulary line stays outstanding after this dispensing.
  select coalesce(sum(greatest(i.quantity_prescribed - i.quantity_dispensed
                               - coalesce((select sum((e ->> 'quantity')::integer) from jsonb_array_elements(v_requests) e
                                            where (e ->> 'prescription_item_id')::uuid = i.id), 0), 0)), 0)
    into v_outstanding_after
    from app_public.prescription_items i
   where i.hospital_id = v_hospital and i.prescription_id = v_prescription.id and i.medicine_id is not null;
  v_new_prescription_status := case when v_outstanding_after = 0 then 'dispensed' else 'partially_dispensed' end;

  -- Born handed over: the status machine stamps dispensed_at / dispensed_by from the session.
  insert into app_public.pharmacy_dispensing (hospital_id, patient_id, prescription_id, dispensing_type, status)
  values (v_hospital, v_prescription.patient_id, v_prescription.id, 'prescription',
          case when v_outstanding_after = 0 then 'completed' else 'partially_dispensed' end)
  returning * into v_dispensing;

  v_invoice_id := app_hidden.ensure_draft_invoice(v_hospital, v_prescription.patient_id, 'pharmacy');

  -- Lines in medicine order, so concurrent dispensings lock batches in one global order (no deadlock).
  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'medicine_id', e ->> 'prescription_item_id' loop
    perform app_hidden.pharmacy_dispense_medicine(v_hospital, v_dispensing.id,
      (v_element ->> 'prescription_item_id')::uuid, (v_element ->> 'medicine_id')::uuid, (v_element ->> 'quantity')::integer,
      v_invoice_id, v_element ->> 'instructions');
    update app_public.prescription_items i
       set quantity_dispensed = i.quantity_dispensed + (v_element ->> 'quantity')::integer
     where i.hospital_id = v_hospital and i.id = (v_element ->> 'prescription_item_id')::uuid;
  end loop;

  update app_public.prescriptions p set status = v_new_prescription_status
   where p.hospital_id = v_hospital and p.id = v_prescription.id and p.status is distinct from v_new_prescription_status;

  select * into v_dispensing from app_public.pharmacy_dispensing d where d.id = v_dispensing.id;
  return v_dispensing;
end;
$$;
comment on function app_public.dispense_prescription(uuid, jsonb) is
E'Dispenses a finalized (or partially dispensed) prescription, in full or in part (needs pharmacy.dispense).\n'
 'items: optional array of {prescription_item_id, quantity}; without it everything still outstanding on the formulary lines is dispensed. '
 'Batches are taken first-expiry-first-out among active batches that expire after today + near_expiry_block_days (a line may span batches; expired batches are never used); '
 'each line writes a dispense stock movement and goes on the patient''s draft pharmacy invoice in the same transaction; the prescription becomes partially_dispensed or dispensed. '
 'Returns the dispensing (status completed or partially_dispensed, with its totals); its lines are pharmacy_dispensing_items (each with its invoice_items line), read them with GET /pharmacy_dispensing?id=eq.…&select=*,pharmacy_dispensing_items(*,invoice_items(invoice_id)).\n'
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
returns app_public.pharmacy_dispensing
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.dispense');
  v_customer text := nullif(trim(dispense_otc.customer_name), '');
  v_requests jsonb := '[]'::jsonb;
  v_element jsonb;
  v_medicine_id uuid;
  v_quantity integer;
  v_medicine app_public.medicines;
  v_dispensing app_public.pharmacy_dispensing;
  v_invoice_id uuid;
begin
  if dispense_otc.patient_id is not null then
    perform app_hidden.find_or_404(null::app_public.patients, dispense_otc.patient_id);
  elsif v_customer is null then
    perform app_hidden.raise_error('HMS_RECIPIENT_REQUIRED', 'Give the patient or the walk-in customer''s name.');
  end if;

  if dispense_otc.items is null or jsonb_typeof(dispense_otc.items) <> 'array' or jsonb_array_length(dispense_otc.items) = 0 then
    perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {medicine_id, quantity}.');
  end if;
  for v_element in select e from jsonb_array_elements(dispense_otc.items) e loop
    if jsonb_typeof(v_element) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {medicine_id, quantity}.');
    end if;
    v_medicine_id := app_hidden.pharmacy_json_uuid(v_element -> 'medicine_id');
    if v_medicine_id is null then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a medicine_id (a uuid).', jsonb_build_object('item', v_element));
    end if;
    v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
    if v_quantity is null then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.',
        jsonb_build_object('item', v_element));
    end if;
    if v_requests @> jsonb_build_array(jsonb_build_object('medicine_id', v_medicine_id)) then
      perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same medicine is listed twice.', jsonb_build_object('medicine_id', v_medicine_id));
    end if;
    v_medicine := app_hidden.find_or_404(null::app_public.medicines, v_medicine_id);
    if not v_medicine.is_active then
      perform app_hidden.raise_error('HMS_MEDICINE_INACTIVE',
        format('%s is no longer active in the formulary and cannot be dispensed.', v_medicine.generic_name),
        jsonb_build_object('medicine_id', v_medicine_id));
    end if;
    if v_medicine.requires_prescription then
      perform app_hidden.raise_error('HMS_PRESCRIPTION_REQUIRED',
        format('%s is %s: it is dispensed only against a prescription.', v_medicine.generic_name,
               replace(v_medicine.schedule_category, '_', ' ')),
        jsonb_build_object('medicine_id', v_medicine_id, 'schedule_category', v_medicine.schedule_category));
    end if;
    v_requests := v_requests || jsonb_build_object('medicine_id', v_medicine_id, 'quantity', v_quantity);
  end loop;

  -- Born handed over: the status machine stamps dispensed_at / dispensed_by from the session.
  insert into app_public.pharmacy_dispensing (hospital_id, patient_id, customer_name, dispensing_type, status)
  values (v_hospital, dispense_otc.patient_id, v_customer, 'otc', 'completed')
  returning * into v_dispensing;

  -- Walk-in customers pay at the counter: only a registered patient's sale goes on an invoice.
  if dispense_otc.patient_id is not null then
    v_invoice_id := app_hidden.ensure_draft_invoice(v_hospital, dispense_otc.patient_id, 'pharmacy');
  end if;

  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'medicine_id' loop
    perform app_hidden.pharmacy_dispense_medicine(v_hospital, v_dispensing.id, null,
      (v_element ->> 'medicine_id')::uuid, (v_element ->> 'quantity')::integer, v_invoice_id, null);
  end loop;

  select * into v_dispensing from app_public.pharmacy_dispensing d where d.id = v_dispensing.id;
  return v_dispensing;
end;
$$;
comment on function app_public.dispense_otc(uuid, text, jsonb) is
E'Over-the-counter sale of medicines that need no prescription (needs pharmacy.dispense): to a registered patient (patient_id) or a walk-in customer (customer_name). '
 'items: array of {medicine_id, quantity}. Batches first-expiry-first-out as for prescriptions, one dispense stock movement per line. '
 'A patient''s sale goes on their draft pharmacy invoice; a walk-in sale is not invoiced (paid at the counter). '
 'Returns the dispensing (completed, with its totals); its lines are pharmacy_dispensing_items.\n'
 'Errors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (patient, medicine); HMS_INSUFFICIENT_STOCK 409; '
 'HMS_PRESCRIPTION_REQUIRED, HMS_RECIPIENT_REQUIRED, HMS_INVALID_ITEMS, HMS_INVALID_QUANTITY, HMS_DUPLICATE_ITEM, HMS_MEDICINE_INACTIVE 422.';
grant execute on function app_public.dispense_otc(uuid, text, jsonb) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- return_dispensed_items
-- ---------------------------------------------------------------------------------------------
drop function if exists app_public.return_dispensed_items(uuid, jsonb, text, text);
create function app_public.return_dispensed_items(dispensing_id uuid, items jsonb, reason text, reason_notes text default null)
returns app_public.pharmacy_returns
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
#variable_conflict use_column
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.return');
  v_dispensing app_public.pharmacy_dispensing := app_hidden.lock_or_404(null::app_public.pharmacy_dispensing, return_dispensed_items.dispensing_id);
  v_notes text := nullif(trim(return_dispensed_items.reason_notes), '');
  v_requests jsonb := '[]'::jsonb;
  v_element jsonb;
  v_item_id uuid;
  v_quantity integer;
  v_condition text;
  v_item app_public.pharmacy_dispensing_items;
  v_return app_public.pharmacy_returns;
  v_return_item_id uuid;
begin
  if v_dispensing.status not in ('completed', 'partially_dispensed') then
    perform app_hidden.raise_error('HMS_DISPENSING_NOT_RETURNABLE',
      format('Only handed-over medicines can be returned; this dispensing is %s.', v_dispensing.status),
      jsonb_build_object('status', v_dispensing.status));
  end if;
  if return_dispensed_items.reason is null or return_dispensed_items.reason not in
     ('adverse_reaction', 'wrong_medicine', 'excess_quantity', 'expired', 'damaged', 'discontinued', 'patient_request', 'other') then
    perform app_hidden.raise_error('HMS_INVALID_RETURN_REASON',
      'reason must be one of adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued, patient_request, other.',
      jsonb_build_object('reason', return_dispensed_items.reason));
  end if;
  if return_dispensed_items.reason = 'other' and v_notes is null then
    perform app_hidden.raise_error('HMS_RETURN_REASON_NOTES_REQUIRED', 'A return for reason "other" needs reason_notes saying why.');
  end if;

  if return_dispensed_items.items is null or jsonb_typeof(return_dispensed_items.items) <> 'array'
     or jsonb_array_length(return_dispensed_items.items) = 0 then
    perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'items must be a non-empty array of {dispensing_item_id, quantity, condition}.');
  end if;
  for v_element in select e from jsonb_array_elements(return_dispensed_items.items) e loop
    if jsonb_typeof(v_element) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item must be an object {dispensing_item_id, quantity, condition}.');
    end if;
    v_item_id := app_hidden.pharmacy_json_uuid(v_element -> 'dispensing_item_id');
    if v_item_id is null then
      perform app_hidden.raise_error('HMS_INVALID_ITEMS', 'Each item needs a dispensing_item_id (a uuid).', jsonb_build_object('item', v_element));
    end if;
    v_quantity := app_hidden.pharmacy_json_quantity(v_element -> 'quantity');
    if v_quantity is null then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'Each item needs a quantity that is a whole number above zero.',
        jsonb_build_object('item', v_element));
    end if;
    v_condition := coalesce(v_element ->> 'condition', 'resalable');
    if v_condition not in ('resalable', 'damaged', 'expired') then
      perform app_hidden.raise_error('HMS_INVALID_CONDITION', 'condition must be resalable, damaged or expired.', jsonb_build_object('item', v_element));
    end if;
    if v_requests @> jsonb_build_array(jsonb_build_object('dispensing_item_id', v_item_id)) then
      perform app_hidden.raise_error('HMS_DUPLICATE_ITEM', 'The same dispensing line is listed twice.', jsonb_build_object('dispensing_item_id', v_item_id));
    end if;
    v_item := app_hidden.lock_or_404(null::app_public.pharmacy_dispensing_items, v_item_id);
    if v_item.dispensing_id is distinct from v_dispensing.id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such line on this dispensing.',
        jsonb_build_object('entity', replace(app_hidden.entity_of('app_public.pharmacy_dispensing_items'), ' ', '_'), 'id', v_item_id));
    end if;
    if v_quantity > v_item.quantity - v_item.quantity_returned then
      perform app_hidden.raise_error('HMS_RETURN_EXCEEDS_DISPENSED',
        format('%s units returned but only %s of the %s dispensed on this line are not returned yet.', v_quantity,
               v_item.quantity - v_item.quantity_returned, v_item.quantity),
        jsonb_build_object('dispensing_item_id', v_item_id, 'requested', v_quantity, 'dispensed', v_item.quantity,
                           'already_returned', v_item.quantity_returned));
    end if;
    v_requests := v_requests || jsonb_build_object('dispensing_item_id', v_item_id, 'quantity', v_quantity, 'condition', v_condition);
  end loop;

  -- Born completed (the pharmacist approves it by booking it): the status machine stamps
  -- received_by and completed_at; the approval is the same pharmacist's, now.
  insert into app_public.pharmacy_returns
    (hospital_id, dispensing_id, patient_id, returned_at, reason, reason_notes, status, approved_at, approved_by, restock)
  values
    (v_hospital, v_dispensing.id, v_dispensing.patient_id, app_hidden.now(), return_dispensed_items.reason, v_notes, 'completed',
     app_hidden.now(), app_hidden.current_user_id(), v_requests @> '[{"condition": "resalable"}]')
  returning * into v_return;

  for v_element in select e from jsonb_array_elements(v_requests) e order by e ->> 'dispensing_item_id' loop
    select * into v_item from app_public.pharmacy_dispensing_items i
     where i.hospital_id = v_hospital and i.id = (v_element ->> 'dispensing_item_id')::uuid;
    v_quantity := (v_element ->> 'quantity')::integer;
    v_condition := v_element ->> 'condition';
    -- Refund at the price paid, tax included: the share of the line total for these units.
    insert into app_public.pharmacy_return_items
      (hospital_id, return_id, dispensing_item_id, medicine_id, batch_id, quantity, unit_price, line_refund, condition, restocked)
    values
      (v_hospital, v_return.id, v_item.id, v_item.medicine_id, v_item.batch_id, v_quantity, v_item.unit_price,
       round(v_item.line_total * v_quantity / v_item.quantity, 2), v_condition, v_condition = 'resalable')
    returning id into v_return_item_id;
    if v_condition = 'resalable' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, return_item_id, reason)
      values
        (v_hospital, 'patient_return', 'medicine', v_item.medicine_id, v_item.batch_id, v_quantity, 0, v_return_item_id,
         'Returned by the patient in resalable condition.');
    end if;
    update app_public.pharmacy_dispensing_items i set quantity_returned = i.quantity_returned + v_quantity
     where i.hospital_id = v_hospital and i.id = v_item.id;
  end loop;

  select * into v_return from app_public.pharmacy_returns r where r.id = v_return.id;
  return v_return;
end;
$$;
comment on function app_public.return_dispensed_items(uuid, jsonb, text, text) is
E'Books a completed return of dispensed medicines (needs pharmacy.return). items: array of {dispensing_item_id, quantity, condition: resalable|damaged|expired (default resalable)}; '
 'reason: adverse_reaction, wrong_medicine, excess_quantity, expired, damaged, discontinued, patient_request or other (then reason_notes is required). '
 'Resalable units go back to their batch (patient_return stock movement); damaged or expired ones are not restocked. '
 'refund_amount = returned units × price paid including tax; it is recorded only (the refund itself is made by billing). '
 'Returns the return (completed, with its refund_amount); its lines are pharmacy_return_items.\n'
 'Errors: HMS_SESSION_INVALID 401; HMS_FORBIDDEN 403; HMS_NOT_FOUND 404 (dispensing, line); HMS_DISPENSING_NOT_RETURNABLE 409; '
 'HMS_RETURN_EXCEEDS_DISPENSED, HMS_INVALID_RETURN_REASON, HMS_RETURN_REASON_NOTES_REQUIRED, HMS_INVALID_ITEMS, HMS_INVALID_QUANTITY, HMS_INVALID_CONDITION, HMS_DUPLICATE_ITEM 422.';
grant execute on function app_public.return_dispensed_items(uuid, jsonb, text, text) to :DATABASE_STAFF;

-- ---------------------------------------------------------------------------------------------
-- Rules of direct writes: status machines, document locks, totals, access
-- ---------------------------------------------------------------------------------------------

-- Direct writes are ruled by the declarations below alone: no per-module guard triggers.
drop trigger if exists _300_workflow_guard on app_public.pharmacy_dispensing;
drop trigger if exists _300_workflow_guard on app_public.pharmacy_dispensing_items;
drop trigger if exists _300_workflow_guard on app_public.pharmacy_returns;
drop trigger if exists _300_workflow_guard on app_public.pharmacy_return_items;
-- prescription_items.quantity_dispensed is a protected column of prescription_items (section 2100).
drop trigger if exists _310_protect_quantity_dispensed on app_public.prescription_items;

/*
 * A dispensing is prepared as a draft (or cancelled as one); it is handed over only through
 * dispense_prescription / dispense_otc, which create it completed or partially dispensed.
 */
select app_hidden.declare_status_machine('app_public.pharmacy_dispensing', $json$[
  {"from": null, "to": "draft"},
  {"from": null, "to": "completed", "via": "dispense_prescription or dispense_otc", "stamp_at": "dispensed_at", "stamp_by": "dispensed_by"},
  {"from": null, "to": "partially_dispensed", "via": "dispense_prescription", "stamp_at": "dispensed_at", "stamp_by": "dispensed_by"},
  {"from": "draft", "to": "cancelled", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);

/*
 * A return is recorded as requested (by the member of staff taking it in), then approved or
 * rejected with a reason; a completed return (stock back, refund) is created by return_dispensed_items.
 */
select app_hidden.declare_status_machine('app_public.pharmacy_returns', $json$[
  {"from": null, "to": "requested", "stamp_by": "received_by"},
  {"from": null, "to": "completed", "via": "return_dispensed_items", "stamp_at": "completed_at", "stamp_by": "received_by"},
  {"from": "requested", "to": "approved", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "reason": "rejection_reason"},
  {"from": "approved", "to": "rejected", "reason": "rejection_reason"}
]$json$);

-- Handed-over dispensings: who, what and how much are fixed (a return reverses them); notes stay editable.
select app_hidden.lock_document('app_public.pharmacy_dispensing', '{draft}',
  still_editable => '{status,customer_name,customer_phone,external_prescriber,notes,counselling_notes,cancellation_reason,is_deleted,deleted_at}');
select app_hidden.lock_document('app_public.pharmacy_dispensing_items', '{draft}',
  document => 'app_public.pharmacy_dispensing', document_column => 'dispensing_id');
-- Completed or rejected returns: what came back and why are fixed.
select app_hidden.lock_document('app_public.pharmacy_returns', '{requested,approved}',
  still_editable => '{status,returned_at,reason_notes,rejection_reason,notes,is_deleted,deleted_at}');
select app_hidden.lock_document('app_public.pharmacy_return_items', '{requested,approved}',
  document => 'app_public.pharmacy_returns', document_column => 'return_id');

select app_hidden.refresh_totals_from('app_public.pharmacy_dispensing_items', 'dispensing_id', 'app_hidden.refresh_pharmacy_dispensing_totals');
select app_hidden.refresh_totals_from('app_public.pharmacy_return_items', 'return_id', 'app_hidden.refresh_pharmacy_return_totals');

select app_hidden.register_table('app_public.pharmacy_dispensing', 'dispensing',
  read_permissions => '{pharmacy.dispense,pharmacy.return,billing.read}',
  write_permissions => '{pharmacy.dispense}', delete_permissions => '{pharmacy.dispense}',
  protected_columns => '{total_amount,tax_amount,net_amount}');
select app_hidden.register_table('app_public.pharmacy_dispensing_items', 'dispensing line',
  read_permissions => '{pharmacy.dispense,pharmacy.return,billing.read}',
  write_permissions => '{pharmacy.dispense}', delete_permissions => '{pharmacy.dispense}',
  protected_columns => '{tax_amount,line_total,quantity_returned}');
select app_hidden.register_table('app_public.pharmacy_returns', 'pharmacy return',
  read_permissions => '{pharmacy.dispense,pharmacy.return,billing.read}',
  write_permissions => '{pharmacy.return}', delete_permissions => '{pharmacy.return}',
  protected_columns => '{refund_amount}');
select app_hidden.register_table('app_public.pharmacy_return_items', 'pharmacy return line',
  read_permissions => '{pharmacy.dispense,pharmacy.return,billing.read}',
  write_permissions => '{pharmacy.return}', delete_permissions => '{pharmacy.return}',
  protected_columns => '{restocked}');

-- ---------------------------------------------------------------------------------------------
-- Guards and helpers the declarations above make redundant (dropped where an earlier migration made them)
-- ---------------------------------------------------------------------------------------------
drop function if exists app_hidden.tg_pharmacy_dispensing__guard();
drop function if exists app_hidden.tg_pharmacy_dispensing_items__guard();
drop function if exists app_hidden.tg_pharmacy_returns__guard();
drop function if exists app_hidden.tg_pharmacy_return_items__guard();
drop function if exists app_hidden.tg_prescription_items__protect_dispensed();
drop function if exists app_hidden.pharmacy_total_dispensing(uuid);
drop function if exists app_hidden.pharmacy_workflow_active();

--! split: 2400-optical.sql
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

--! split: 3000-billing.sql
/*
 * Billing on the kit: the cash desk as database rules (tables: db/schema/app_public/tables/).
 *
 *   - Invoice lines compute their own discount, tax and line total (BEFORE trigger on the line)
 *     and change only while their invoice is a draft (document lock); issuing also freezes the
 *     header fields that decide what is owed.
 *   - One function computes an invoice's totals from everything that feeds them,
 *     app_hidden.refresh_invoice_totals(id), called by the totals trigger of its lines, payments,
 *     refunds and credit notes and of its own invoice-level discount:
 *       subtotal        = Σ line amounts before discount and tax (line_total − tax + line discount)
 *       discount_amount = Σ line discounts + invoice_discount_amount (the discount staff give on
 *                         the whole draft); both parts are kept, so a line change moves the total
 *                         discount by that line's discount and the invoice-level part stays
 *       tax_amount      = Σ line tax
 *       amount_paid     = Σ completed payments, amount_refunded = Σ processed refunds,
 *       amount_credited = Σ issued/applied credit notes.
 *     The invoice's own trigger derives the rest from those columns whoever writes the row:
 *       total_amount    = max(subtotal − discount_amount + tax_amount, 0)
 *       balance_due     = max(total − paid + refunded − credited, 0); 0 for void and refunded
 *                         invoices (nothing is asked any more). A credit note on a paid invoice
 *                         leaves balance 0: what is owed back is returned by a refund.
 *       status          once issued, follows the money: issued → partially_paid → paid, back to
 *                         partially_paid when a refund reopens the balance (or to issued when
 *                         every payment was cancelled), refunded when every paid cent went back.
 *                         The steps payments and refunds take are declared with `via` so no client
 *                         takes them by hand.
 *   - Payments are taken by record_payment under the invoice's row lock, so parallel payments
 *     never overpay; a client records only pending payments (cheques, transfers not cleared).
 *   - Refunds: requested → approved | rejected, approved → processed (by process_refund, which
 *     moves the money); above the hospital's refund_approval_threshold the approver is not the
 *     requester (four eyes, also for a direct update).
 *   - Credit notes reduce what an issued invoice asks for; they are issued by issue_credit_note.
 *   - Daily settlements: settle_day computes a hospital-local day's collections and locks the
 *     day; payments and refunds dated in a settled day are refused (HMS_DAY_SETTLED), whoever
 *     writes them, until reopen_day.
 *
 * BILLING CONTRACT for other workflows (called from their security definer RPCs, names and
 * arguments fixed):
 *   app_hidden.ensure_draft_invoice(hospital, patient, invoice_type, appointment default null) → invoice id
 *   app_hidden.add_invoice_item(invoice, item_type, description, quantity, unit_price,
 *                               tax_configuration_id default null, links jsonb default '{}') → line id
 */

select app_hidden.register_error_codes('billing', $json$[
  {"code": "HMS_INVOICE_TYPE_INVALID", "http_status": 422, "meaning": "Unknown invoice type: outpatient, pharmacy, optical, lab, inpatient or other."},
  {"code": "HMS_INVOICE_ITEM_INVALID", "http_status": 422, "meaning": "An invoice line is wrong: unknown item type, empty description, quantity not above 0, negative price, discount outside 0–100 or an amount too large (details.field)."},
  {"code": "HMS_INVOICE_EMPTY", "http_status": 422, "meaning": "An invoice needs at least one line before it is issued."},
  {"code": "HMS_INVOICE_HAS_PAYMENTS", "http_status": 409, "meaning": "Money was paid on the invoice: refund it or issue a credit note instead of voiding."},
  {"code": "HMS_INVOICE_NOT_PAYABLE", "http_status": 409, "meaning": "Payments are taken on issued or partially paid invoices only (details.status)."},
  {"code": "HMS_OVERPAYMENT", "http_status": 422, "meaning": "The payment is more than the balance due, also when payments race (details.balance_due)."},
  {"code": "HMS_AMOUNT_INVALID", "http_status": 422, "meaning": "An amount is not above 0, has more than two decimals or is too large (details.field)."},
  {"code": "HMS_PAYMENT_METHOD_INVALID", "http_status": 422, "meaning": "Unknown payment or refund method, a cheque without its number, or card_last4 that is not four digits (details.field)."},
  {"code": "HMS_REFUND_EXCEEDS_PAID", "http_status": 422, "meaning": "More would go back than was paid: paid − refunded − pending refunds on the invoice, or what is left of the payment."},
  {"code": "HMS_REFUND_REASON_INVALID", "http_status": 422, "meaning": "Unknown refund reason: service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return or other."},
  {"code": "HMS_INVOICE_NOT_CREDITABLE", "http_status": 409, "meaning": "Credit notes are issued against issued, partially paid or paid invoices only (details.status)."},
  {"code": "HMS_CREDIT_EXCEEDS_TOTAL", "http_status": 422, "meaning": "The credit is more than the invoice total not yet credited (details.creditable)."},
  {"code": "HMS_CREDIT_NOTE_LINES_INVALID", "http_status": 422, "meaning": "The credited lines are not a JSON array of items with numeric amounts."},
  {"code": "HMS_DAY_SETTLED", "http_status": 409, "meaning": "The hospital-local day is settled: no payment or refund may be recorded or changed in it until it is reopened (details.settlement_date)."},
  {"code": "HMS_SETTLEMENT_DATE_INVALID", "http_status": 422, "meaning": "Only today or a past day (hospital time) can be settled."},
  {"code": "HMS_VARIANCE_REASON_REQUIRED", "http_status": 422, "meaning": "The counted cash differs from the expected cash: say why (variance_reason)."}
]$json$);

/* ------------------------------------------------------------------------------------------
 * Columns: the invoice-level discount, and business time in the hospital's day
 * ------------------------------------------------------------------------------------------ */

/*
 * The discount of an invoice has two parts: what its lines give and what staff give on the whole
 * draft. Keeping the second in its own column lets refresh_invoice_totals compute the total
 * discount from scratch, so every change of a line moves it by exactly that line's discount.
 */
alter table app_public.invoices add column if not exists invoice_discount_amount numeric(12,2) not null default 0
  constraint invoices_invoice_discount_amount_check check (invoice_discount_amount >= 0);
comment on column app_public.invoices.invoice_discount_amount is
  E'Discount given on the invoice as a whole, on top of the line discounts; set on a draft (discount_reason says why).';
comment on column app_public.invoices.discount_amount is
  E'Total discount: the line discounts plus invoice_discount_amount. Maintained by triggers; never client-written.';
comment on column app_public.invoices.discount_approved_by is
  E'Staff member who gave the invoice-level discount (invoice_discount_amount), from the session; never client-written.';
-- The day of an invoice and the instant of a payment are the hospital's business time.
alter table app_public.invoices alter column invoice_date set default app_hidden.hospital_today(app_hidden.current_hospital_id());
alter table app_public.payments alter column payment_date set default app_hidden.now();

/* ------------------------------------------------------------------------------------------
 * Status machines, document locks, totals
 * ------------------------------------------------------------------------------------------ */

select app_hidden.declare_status_machine('app_public.invoices', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "issued", "stamp_at": "issued_at", "stamp_by": "issued_by"},
  {"from": "draft", "to": "void", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "void", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "partially_paid", "via": "record_payment"},
  {"from": "issued", "to": "paid", "via": "record_payment"},
  {"from": "partially_paid", "to": "paid", "via": "record_payment"},
  {"from": "paid", "to": "partially_paid", "via": "process_refund"},
  {"from": "partially_paid", "to": "refunded", "via": "process_refund"},
  {"from": "paid", "to": "refunded", "via": "process_refund"}
]$json$);

select app_hidden.declare_status_machine('app_public.payments', $json$[
  {"from": null, "to": "pending", "stamp_by": "received_by"},
  {"from": null, "to": "completed", "via": "record_payment", "stamp_by": "received_by"},
  {"from": "pending", "to": "failed"},
  {"from": "pending", "to": "cancelled", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "completed", "to": "cancelled", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);

select app_hidden.declare_status_machine('app_public.refunds', $json$[
  {"from": null, "to": "requested", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "requested", "to": "approved", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "reason": "rejection_reason", "stamp_at": "rejected_at", "stamp_by": "rejected_by"},
  {"from": "approved", "to": "processed", "via": "process_refund", "stamp_at": "processed_at", "stamp_by": "processed_by"}
]$json$);

select app_hidden.declare_status_machine('app_public.credit_notes', $json$[
  {"from": null, "to": "draft"},
  {"from": null, "to": "issued", "via": "issue_credit_note", "stamp_at": "issued_at", "stamp_by": "issued_by"},
  {"from": "draft", "to": "void", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "void", "stamp_at": "voided_at", "stamp_by": "voided_by"}
]$json$);

select app_hidden.declare_status_machine('app_public.daily_settlements', $json$[
  {"from": null, "to": "open"},
  {"from": null, "to": "reconciling"},
  {"from": "open", "to": "reconciling"},
  {"from": "reopened", "to": "reconciling"},
  {"from": "open", "to": "settled", "via": "settle_day", "stamp_at": "settled_at", "stamp_by": "settled_by"},
  {"from": "reconciling", "to": "settled", "via": "settle_day", "stamp_at": "settled_at", "stamp_by": "settled_by"},
  {"from": "reopened", "to": "settled", "via": "settle_day", "stamp_at": "settled_at", "stamp_by": "settled_by"},
  {"from": "settled", "to": "reopened", "via": "reopen_day", "reason": "reopen_reason", "stamp_at": "reopened_at", "stamp_by": "reopened_by"}
]$json$);

-- Once issued, what decides what is owed is frozen; addressee, notes, due date and links stay editable.
select app_hidden.lock_document('app_public.invoices', '{draft}',
  still_editable => '{status,due_date,discount_reason,bill_to_name,bill_to_tax_identifier,billing_address_line1,billing_address_line2,billing_city,billing_state_province,billing_postal_code,billing_country_code,notes,dispensing_id,optical_order_id}');
select app_hidden.lock_document('app_public.invoice_items', '{draft}', document => 'app_public.invoices', document_column => 'invoice_id');
select app_hidden.lock_document('app_public.credit_notes', '{draft}', still_editable => '{status,void_reason,notes}');
select app_hidden.lock_document('app_public.daily_settlements', '{open,reconciling,reopened}', still_editable => '{status,notes}');

/* ------------------------------------------------------------------------------------------
 * Invoice totals
 * ------------------------------------------------------------------------------------------ */

drop trigger if exists _800_refresh_invoice on app_public.invoice_items;
drop trigger if exists _800_refresh_invoice on app_public.payments;
drop trigger if exists _800_refresh_invoice on app_public.refunds;
drop trigger if exists _800_refresh_invoice on app_public.credit_notes;
drop function if exists app_hidden.tg__refresh_invoice_totals();
drop function if exists app_hidden.refresh_invoice_totals(uuid, numeric);

/*
 * The invoice row is locked first (no key update: it does not conflict with the key-share locks
 * that inserting lines and payments take), so the sums below see every line or payment committed
 * by a transaction that refreshed the same invoice before.
 */
create or replace function app_hidden.refresh_invoice_totals(p_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_invoice app_public.invoices;
  v_subtotal numeric;
  v_discount numeric;
  v_tax numeric;
  v_paid numeric;
  v_refunded numeric;
  v_credited numeric;
begin
  select * into v_invoice from app_public.invoices i where i.id = p_id for no key update;
  if not found then
    return;
  end if;
  select coalesce(sum(l.line_total - l.tax_amount + l.discount_amount), 0), coalesce(sum(l.discount_amount), 0), coalesce(sum(l.tax_amount), 0)
    into v_subtotal, v_discount, v_tax
    from app_public.invoice_items l where l.hospital_id = v_invoice.hospital_id and l.invoice_id = v_invoice.id;
  select coalesce(sum(p.amount), 0) into v_paid
    from app_public.payments p
   where p.hospital_id = v_invoice.hospital_id and p.invoice_id = v_invoice.id and p.status = 'completed' and not p.is_deleted;
  select coalesce(sum(r.amount), 0) into v_refunded
    from app_public.refunds r
   where r.hospital_id = v_invoice.hospital_id and r.invoice_id = v_invoice.id and r.status = 'processed' and not r.is_deleted;
  select coalesce(sum(c.amount), 0) into v_credited
    from app_public.credit_notes c
   where c.hospital_id = v_invoice.hospital_id and c.invoice_id = v_invoice.id and c.status in ('issued', 'applied') and not c.is_deleted;
  v_discount := v_discount + v_invoice.invoice_discount_amount;
  update app_public.invoices i
     set subtotal = v_subtotal, discount_amount = v_discount, tax_amount = v_tax,
         amount_paid = v_paid, amount_refunded = v_refunded, amount_credited = v_credited
   where i.id = v_invoice.id
     and (i.subtotal, i.discount_amount, i.tax_amount, i.amount_paid, i.amount_refunded, i.amount_credited)
         is distinct from (v_subtotal, v_discount, v_tax, v_paid, v_refunded, v_credited);
end;
$$;
comment on function app_hidden.refresh_invoice_totals(uuid) is
  E'Recomputes an invoice''s subtotal, discount (lines + invoice_discount_amount), tax, amount paid, refunded and credited from its lines, completed payments, processed refunds and issued credit notes; the invoice''s own trigger then derives total, balance and the money-driven status.';

select app_hidden.refresh_totals_from('app_public.invoice_items', 'invoice_id', 'app_hidden.refresh_invoice_totals');
select app_hidden.refresh_totals_from('app_public.payments', 'invoice_id', 'app_hidden.refresh_invoice_totals');
select app_hidden.refresh_totals_from('app_public.refunds', 'invoice_id', 'app_hidden.refresh_invoice_totals');
select app_hidden.refresh_totals_from('app_public.credit_notes', 'invoice_id', 'app_hidden.refresh_invoice_totals');
-- The invoice-level discount feeds the totals too (the refresh itself never writes that column).
drop trigger if exists _800_refresh_totals on app_public.invoices;
create trigger _800_refresh_totals after insert or update of invoice_discount_amount on app_public.invoices
  for each row execute function app_hidden.tg__refresh_totals('id', 'app_hidden.refresh_invoice_totals');

/* ------------------------------------------------------------------------------------------
 * Invoices: what issuing and voiding imply, and the derived money columns
 * ------------------------------------------------------------------------------------------ */

drop trigger if exists _200_workflow on app_public.invoices;
drop function if exists app_hidden.tg_invoices__workflow();

create or replace function app_hidden.tg_invoices__derive() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_owed numeric;
  v_due_days integer;
begin
  if TG_OP = 'INSERT' then
    NEW.currency_code := coalesce(NEW.currency_code, (select h.currency_code from app_public.hospitals h where h.id = NEW.hospital_id));
  elsif NEW.status is distinct from OLD.status then
    if OLD.status = 'draft' and NEW.status = 'issued' then
      if not exists (select 1 from app_public.invoice_items it where it.hospital_id = NEW.hospital_id and it.invoice_id = NEW.id) then
        perform app_hidden.raise_error('HMS_INVOICE_EMPTY', 'An invoice needs at least one line before it is issued.',
          jsonb_build_object('invoice_id', NEW.id));
      end if;
      if NEW.due_date is null then
        select s.invoice_due_days into v_due_days from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
        NEW.due_date := NEW.invoice_date + coalesce(v_due_days, 0);
      end if;
    elsif NEW.status = 'void' and OLD.amount_paid > 0 then
      perform app_hidden.raise_error('HMS_INVOICE_HAS_PAYMENTS',
        format('Invoice %s has %s paid against it: refund the payments or issue a credit note instead of voiding.', OLD.invoice_number, OLD.amount_paid),
        jsonb_build_object('invoice_id', OLD.id, 'amount_paid', OLD.amount_paid));
    end if;
  end if;

  -- Who gave the invoice-level discount: the session that set it.
  if v_user is not null
     and NEW.invoice_discount_amount is distinct from (case when TG_OP = 'UPDATE' then OLD.invoice_discount_amount else 0 end) then
    NEW.discount_approved_by := v_user;
  end if;

  NEW.total_amount := greatest(NEW.subtotal - NEW.discount_amount + NEW.tax_amount, 0);
  v_owed := NEW.total_amount - NEW.amount_paid + NEW.amount_refunded - NEW.amount_credited;
  if NEW.status in ('issued', 'partially_paid', 'paid') then
    NEW.status := case
      when NEW.amount_paid > 0 and NEW.amount_refunded >= NEW.amount_paid then 'refunded'
      when v_owed <= 0 then 'paid'
      when NEW.amount_paid - NEW.amount_refunded > 0 then 'partially_paid'
      else 'issued' end;
  end if;
  NEW.balance_due := case when NEW.status in ('void', 'refunded') then 0 else greatest(v_owed, 0) end;
  if NEW.insurance_amount = 0 then
    NEW.patient_amount := NEW.total_amount;
  end if;
  if NEW.status = 'paid' and (TG_OP = 'INSERT' or OLD.status <> 'paid') then
    NEW.paid_at := app_hidden.now();
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_invoices__derive() is
  'BEFORE INSERT/UPDATE on invoices (_200_derive, after the status machine): currency from the hospital; issuing needs a line (HMS_INVOICE_EMPTY) and sets the due date; no void with money paid (HMS_INVOICE_HAS_PAYMENTS); the invoice-level discount is attributed to the session; total, balance, patient share, paid_at and the money-driven status are derived.';

drop trigger if exists _200_derive on app_public.invoices;
create trigger _200_derive before insert or update on app_public.invoices
  for each row execute function app_hidden.tg_invoices__derive();

/* ------------------------------------------------------------------------------------------
 * Invoice lines: computed amounts
 * ------------------------------------------------------------------------------------------ */

drop trigger if exists _050_draft_only on app_public.invoice_items;
drop function if exists app_hidden.tg_invoice_items__draft_only();

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

create or replace function app_hidden.tg_invoice_items__compute() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_rate numeric;
  v_gross numeric;
  v_net numeric;
  v_today date;
begin
  if NEW.line_number is null then
    NEW.line_number := coalesce((select max(it.line_number) from app_public.invoice_items it
                                  where it.hospital_id = NEW.hospital_id and it.invoice_id = NEW.invoice_id), 0) + 1;
  end if;
  -- Tax rate: an explicit (non-zero) rate is kept; else the configuration's rate; else the category's default rule.
  if TG_OP = 'INSERT' or NEW.tax_configuration_id is distinct from OLD.tax_configuration_id
     or NEW.item_type is distinct from OLD.item_type then
    if NEW.tax_configuration_id is not null then
      if NEW.tax_percent = 0 or (TG_OP = 'UPDATE' and NEW.tax_percent = OLD.tax_percent) then
        select t.rate_percent into v_rate from app_public.tax_configurations t
         where t.id = NEW.tax_configuration_id and t.hospital_id = NEW.hospital_id;
        NEW.tax_percent := coalesce(v_rate, NEW.tax_percent);
      end if;
    elsif TG_OP = 'INSERT' and NEW.tax_percent = 0 then
      v_today := app_hidden.hospital_today(NEW.hospital_id);
      select t.id, t.rate_percent into NEW.tax_configuration_id, v_rate
        from app_public.tax_configurations t
       where t.hospital_id = NEW.hospital_id and t.is_active and t.is_default
         and t.applies_to = app_hidden.tax_category_of_item_type(NEW.item_type)
         and t.effective_from <= v_today and (t.effective_to is null or t.effective_to >= v_today)
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
  'BEFORE INSERT/UPDATE on invoice_items (_200_compute): line number, tax rate (given, from tax_configuration_id, or the category''s default rule in force on the hospital''s day), discount, tax and line total rounded to cents; price_includes_tax extracts the tax from the price.';

drop trigger if exists _200_compute on app_public.invoice_items;
create trigger _200_compute before insert or update on app_public.invoice_items
  for each row execute function app_hidden.tg_invoice_items__compute();

/* ------------------------------------------------------------------------------------------
 * BILLING CONTRACT
 * ------------------------------------------------------------------------------------------ */

/*
 * Callers pass the hospital (they run as the owner, possibly without a session, e.g. a job), so
 * the lookups here name it instead of the session's active hospital.
 */
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
      format('Unknown invoice type %s: outpatient, pharmacy, optical, lab, inpatient or other.', coalesce(p_invoice_type, 'null')),
      jsonb_build_object('field', 'invoice_type'));
  end if;
  if not exists (select 1 from app_public.patients p where p.id = p_patient_id and p.hospital_id = p_hospital_id and not p.is_deleted) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such patient in this hospital.',
      jsonb_build_object('entity', 'patient', 'id', p_patient_id));
  end if;
  if p_appointment_id is not null
     and not exists (select 1 from app_public.appointments a where a.id = p_appointment_id and a.hospital_id = p_hospital_id
                        and a.patient_id = p_patient_id) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment of this patient in this hospital.',
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
    insert into app_public.invoices (hospital_id, patient_id, appointment_id, invoice_type, status, invoice_date, currency_code,
                                     bill_to_name, billing_address_line1, billing_address_line2, billing_city,
                                     billing_state_province, billing_postal_code, billing_country_code)
    select p_hospital_id, p.id, p_appointment_id, p_invoice_type, 'draft', app_hidden.hospital_today(p_hospital_id), h.currency_code,
           p.full_name, p.address_line1, p.address_line2, p.city, p.state_province, p.postal_code, p.country_code
      from app_public.patients p join app_public.hospitals h on h.id = p.hospital_id
     where p.id = p_patient_id and p.hospital_id = p_hospital_id
    returning id into v_id;
  end if;
  return v_id;
end;
$$;
comment on function app_hidden.ensure_draft_invoice(uuid, uuid, text, uuid) is
  'BILLING CONTRACT: the patient''s open draft invoice of that type (and appointment when given), created if none (dated the hospital''s today). Errors: HMS_INVOICE_TYPE_INVALID (422), HMS_NOT_FOUND (404).';
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
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such invoice.', jsonb_build_object('entity', 'invoice', 'id', p_invoice_id));
  end if;
  -- Callers are workflows, which the document lock lets through: the contract keeps drafts-only itself.
  if v_invoice.status <> 'draft' then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
      format('Invoice %s is %s: lines are added only to a draft.', v_invoice.invoice_number, v_invoice.status),
      jsonb_build_object('entity', 'invoice', 'id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if p_item_type is null or p_item_type not in ('consultation', 'procedure', 'medicine', 'lab_test', 'optical', 'room', 'service', 'package', 'other') then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID',
      format('Unknown item type %s.', coalesce(p_item_type, 'null')), jsonb_build_object('field', 'item_type'));
  end if;
  if length(trim(coalesce(p_description, ''))) not between 1 and 500 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'A line needs a description of 1 to 500 characters.',
      jsonb_build_object('field', 'description'));
  end if;
  if p_quantity is null or p_quantity <= 0 or p_quantity >= 1e9 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The quantity must be greater than zero.',
      jsonb_build_object('field', 'quantity'));
  end if;
  if p_unit_price is null or p_unit_price < 0 or p_unit_price >= 1e10 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The unit price must be zero or more.',
      jsonb_build_object('field', 'unit_price'));
  end if;
  if round(p_quantity * p_unit_price, 2) >= 1e10 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The line amount (quantity × unit price) is too large.',
      jsonb_build_object('field', 'quantity'));
  end if;
  begin
    v_discount := coalesce((v_links ->> 'discount_percent')::numeric, 0);
  exception when others then
    v_discount := -1;
  end;
  if v_discount < 0 or v_discount > 100 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'discount_percent must be between 0 and 100.',
      jsonb_build_object('field', 'discount_percent'));
  end if;
  if p_tax_configuration_id is not null then
    select * into v_tax from app_public.tax_configurations t
     where t.id = p_tax_configuration_id and t.hospital_id = v_invoice.hospital_id;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such tax configuration in this hospital.',
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
       app_hidden.hospital_today(v_invoice.hospital_id),
       (v_links ->> 'appointment_id')::uuid, (v_links ->> 'dispensing_item_id')::uuid, (v_links ->> 'lab_order_id')::uuid,
       (v_links ->> 'optical_order_item_id')::uuid, (v_links ->> 'medicine_id')::uuid, (v_links ->> 'batch_id')::uuid,
       (v_links ->> 'doctor_id')::uuid, (v_links ->> 'department_id')::uuid, p_quantity, p_unit_price,
       v_discount, v_includes, p_tax_configuration_id)
    returning id into v_id;
  exception
    -- Without an API request (a job, the owner) the constraint itself answers: the same code the
    -- friendly-constraint trigger gives a request.
    when foreign_key_violation then
      perform app_hidden.raise_error('HMS_REFERENCE_NOT_FOUND', 'A record linked to this line does not exist in this hospital.',
        jsonb_build_object('table', 'invoice_items', 'links', v_links));
    when invalid_text_representation then
      perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'A link id of this line is not a valid id.',
        jsonb_build_object('field', 'links'));
  end;
  return v_id;
end;
$$;
comment on function app_hidden.add_invoice_item(uuid, text, text, numeric, numeric, uuid, jsonb) is
  'BILLING CONTRACT: adds a line to a draft invoice; tax, line total and invoice totals come from the billing triggers. p_links (optional keys): appointment_id, dispensing_item_id, lab_order_id, optical_order_item_id, medicine_id, batch_id, doctor_id, department_id, service_code, discount_percent. Errors: HMS_NOT_FOUND (404: invoice, tax configuration), HMS_DOCUMENT_LOCKED (409: not a draft), HMS_INVOICE_ITEM_INVALID (422), HMS_REFERENCE_NOT_FOUND (422: a linked record).';
revoke all on function app_hidden.add_invoice_item(uuid, text, text, numeric, numeric, uuid, jsonb) from public;

/* ------------------------------------------------------------------------------------------
 * Payments and refunds: the settled-day lock, four eyes on refunds
 * ------------------------------------------------------------------------------------------ */

drop trigger if exists _200_guard on app_public.payments;
drop function if exists app_hidden.tg_payments__guard();
drop trigger if exists _200_workflow on app_public.refunds;
drop function if exists app_hidden.tg_refunds__workflow();
drop trigger if exists _200_guard on app_public.credit_notes;
drop function if exists app_hidden.tg_credit_notes__guard();
drop trigger if exists _200_workflow on app_public.daily_settlements;
drop function if exists app_hidden.tg_daily_settlements__workflow();

/* Is that hospital-local day settled? */
create or replace function app_hidden.is_day_settled(p_hospital_id uuid, p_day date) returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (select 1 from app_public.daily_settlements d
                  where d.hospital_id = p_hospital_id and d.settlement_date = p_day and d.status = 'settled');
$$;
comment on function app_hidden.is_day_settled(uuid, date) is 'True when the daily settlement of that hospital-local day is settled (locked).';

/* After the status machine (_150), which stamps processed_at: the day a refund counts in is known. */
create or replace function app_hidden.tg__settled_day_lock() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  -- The column that dates the money movement (TG_ARGV[0]), read through jsonb: one function serves payments and refunds.
  v_new_at timestamptz := (to_jsonb(NEW) ->> TG_ARGV[0])::timestamptz;
  v_old_at timestamptz := case when TG_OP = 'UPDATE' then (to_jsonb(OLD) ->> TG_ARGV[0])::timestamptz end;
  v_day date;
begin
  foreach v_day in array array[app_hidden.hospital_local_date(NEW.hospital_id, v_new_at),
                               app_hidden.hospital_local_date(NEW.hospital_id, v_old_at)] loop
    if v_day is not null and app_hidden.is_day_settled(NEW.hospital_id, v_day) then
      perform app_hidden.raise_error('HMS_DAY_SETTLED',
        format('The day %s is settled: no %s may be recorded or changed in it (reopen the day first).', v_day,
               app_hidden.entity_of(TG_RELID)),
        jsonb_build_object('settlement_date', v_day));
    end if;
  end loop;
  return NEW;
end;
$$;
comment on function app_hidden.tg__settled_day_lock() is
  'BEFORE INSERT/UPDATE on payments and refunds (_300_settled_day_lock), for every writer: refuses a row dated (by the column TG_ARGV[0], hospital-local) in a settled day (HMS_DAY_SETTLED).';

drop trigger if exists _300_settled_day_lock on app_public.payments;
create trigger _300_settled_day_lock before insert or update on app_public.payments
  for each row execute function app_hidden.tg__settled_day_lock('payment_date');
drop trigger if exists _300_settled_day_lock on app_public.refunds;
create trigger _300_settled_day_lock before insert or update on app_public.refunds
  for each row execute function app_hidden.tg__settled_day_lock('processed_at');

/* Four eyes: above the hospital's threshold the requester does not approve their own refund, by RPC or by PATCH. */
create or replace function app_hidden.tg_refunds__four_eyes() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_threshold numeric;
begin
  if NEW.status = 'approved' and OLD.status is distinct from 'approved' then
    select coalesce(s.refund_approval_threshold, 0) into v_threshold from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
    if NEW.amount > coalesce(v_threshold, 0) then
      perform app_hidden.require_other_user(OLD.requested_by, 'requested');
    end if;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_refunds__four_eyes() is
  'BEFORE UPDATE on refunds (_200_four_eyes): a refund above hospital_settings.refund_approval_threshold is approved by someone other than its requester (HMS_APPROVAL_BY_OTHER_USER).';

drop trigger if exists _200_four_eyes on app_public.refunds;
create trigger _200_four_eyes before update on app_public.refunds
  for each row execute function app_hidden.tg_refunds__four_eyes();

/* ------------------------------------------------------------------------------------------
 * Daily settlement computation (also for a settlement job)
 * ------------------------------------------------------------------------------------------ */

create or replace function app_hidden.compute_daily_settlement(p_hospital_id uuid, p_date date)
returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_tz text;
  v_from timestamptz;
  v_to timestamptz;
  v_row app_public.daily_settlements;
begin
  select h.time_zone into v_tz from app_public.hospitals h where h.id = p_hospital_id;
  if v_tz is null then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such hospital.', jsonb_build_object('entity', 'hospital', 'id', p_hospital_id));
  end if;
  v_from := p_date::timestamp at time zone v_tz;
  v_to := (p_date + 1)::timestamp at time zone v_tz;

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
  return v_row;
end;
$$;
comment on function app_hidden.compute_daily_settlement(uuid, date) is
  'Creates (if needed) and recomputes the daily_settlements row of a hospital-local day from its completed payments and processed refunds: totals per method, gross, refunds, net, counts, expected cash and variance. Does not change the status.';
revoke all on function app_hidden.compute_daily_settlement(uuid, date) from public;

/* ------------------------------------------------------------------------------------------
 * RPCs
 * ------------------------------------------------------------------------------------------ */

create or replace function app_public.create_invoice(patient_id uuid, invoice_type text default 'outpatient', appointment_id uuid default null)
returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.write');
  v_patient app_public.patients := app_hidden.find_or_404(null::app_public.patients, create_invoice.patient_id);
begin
  return app_hidden.find_or_404(null::app_public.invoices,
    app_hidden.ensure_draft_invoice(v_hospital, v_patient.id, create_invoice.invoice_type, create_invoice.appointment_id));
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
  v_hospital uuid := app_hidden.require_permission('billing.write');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, add_invoice_item.invoice_id);
  v_id uuid;
begin
  v_id := app_hidden.add_invoice_item(v_invoice.id, add_invoice_item.item_type, add_invoice_item.description,
            add_invoice_item.quantity, add_invoice_item.unit_price, add_invoice_item.tax_configuration_id,
            jsonb_strip_nulls(jsonb_build_object('discount_percent', add_invoice_item.discount_percent,
                                                 'service_code', add_invoice_item.service_code,
                                                 'doctor_id', add_invoice_item.doctor_id,
                                                 'department_id', add_invoice_item.department_id)));
  return app_hidden.find_or_404(null::app_public.invoice_items, v_id);
end;
$$;
comment on function app_public.add_invoice_item(uuid, text, text, numeric, numeric, uuid, numeric, text, uuid, uuid) is
  E'Adds a line to a draft invoice; discount, tax (from tax_configuration_id or the hospital''s default rule for the item type) and totals are computed. Needs billing.write. item_type: consultation, procedure, medicine, lab_test, optical, room, service, package or other. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (invoice, tax configuration), 409 HMS_DOCUMENT_LOCKED (not a draft), 422 HMS_INVOICE_ITEM_INVALID, 422 HMS_REFERENCE_NOT_FOUND (doctor, department).';
grant execute on function app_public.add_invoice_item(uuid, text, text, numeric, numeric, uuid, numeric, text, uuid, uuid) to :DATABASE_STAFF;

create or replace function app_public.issue_invoice(invoice_id uuid) returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.write');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, issue_invoice.invoice_id);
begin
  perform app_hidden.require_transition('app_public.invoices', v_invoice.status, 'issued');
  update app_public.invoices i set status = 'issued' where i.id = v_invoice.id returning * into v_invoice;
  return v_invoice;
end;
$$;
comment on function app_public.issue_invoice(uuid) is
  E'Issues a draft invoice: freezes its lines and what it charges, stamps issued_at/by and sets the due date from hospital_settings.invoice_due_days (a zero total is paid at once). Needs billing.write. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft), 422 HMS_INVOICE_EMPTY (no line).';
grant execute on function app_public.issue_invoice(uuid) to :DATABASE_STAFF;

create or replace function app_public.void_invoice(invoice_id uuid, reason text) returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.void');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, void_invoice.invoice_id);
begin
  perform app_hidden.require_transition('app_public.invoices', v_invoice.status, 'void');
  update app_public.invoices i set status = 'void', void_reason = nullif(trim(void_invoice.reason), '')
   where i.id = v_invoice.id returning * into v_invoice;
  return v_invoice;
end;
$$;
comment on function app_public.void_invoice(uuid, text) is
  E'Cancels a draft or issued invoice on which nothing was paid; it keeps its number, voided_at/by are stamped. Needs billing.void. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_INVOICE_HAS_PAYMENTS, 422 HMS_REASON_REQUIRED.';
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
  v_hospital uuid := app_hidden.require_permission('billing.collect');
  -- The invoice's row lock serialises payments on it: the balance read here stays true until commit.
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, record_payment.invoice_id);
  v_row app_public.payments;
begin
  if v_invoice.status not in ('issued', 'partially_paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_PAYABLE',
      format('Invoice %s is %s: payments are taken on issued or partially paid invoices.', v_invoice.invoice_number, v_invoice.status),
      jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if record_payment.amount is null or record_payment.amount <= 0 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero.', jsonb_build_object('field', 'amount'));
  end if;
  if round(record_payment.amount, 2) <> record_payment.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount has at most two decimals.', jsonb_build_object('field', 'amount'));
  end if;
  if record_payment.amount > v_invoice.balance_due then
    perform app_hidden.raise_error('HMS_OVERPAYMENT',
      format('%s is more than the balance due of %s on invoice %s.', record_payment.amount, v_invoice.balance_due, v_invoice.invoice_number),
      jsonb_build_object('invoice_id', v_invoice.id, 'balance_due', v_invoice.balance_due, 'amount', record_payment.amount));
  end if;
  if record_payment.payment_method is null
     or record_payment.payment_method not in ('cash', 'card', 'upi', 'bank_transfer', 'cheque', 'mobile_wallet', 'insurance', 'online', 'other') then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID',
      format('Unknown payment method %s: cash, card, upi, bank_transfer, cheque, mobile_wallet, insurance, online or other.', coalesce(record_payment.payment_method, 'null')),
      jsonb_build_object('field', 'payment_method'));
  end if;
  if record_payment.payment_method = 'cheque' and nullif(trim(coalesce(record_payment.cheque_number, '')), '') is null then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', 'A cheque payment needs the cheque number.',
      jsonb_build_object('field', 'cheque_number'));
  end if;
  if record_payment.card_last4 is not null and record_payment.card_last4 !~ '^[0-9]{4}$' then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', 'card_last4 is the last four digits of the card.',
      jsonb_build_object('field', 'card_last4'));
  end if;
  insert into app_public.payments (hospital_id, invoice_id, patient_id, amount, payment_method, payment_date, status,
                                   payer_name, reference_number, card_last4, cheque_number, notes)
  values (v_hospital, v_invoice.id, v_invoice.patient_id, record_payment.amount, record_payment.payment_method, app_hidden.now(), 'completed',
          coalesce(record_payment.payer_name, v_invoice.bill_to_name), record_payment.reference_number, record_payment.card_last4,
          record_payment.cheque_number, record_payment.notes)
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.record_payment(uuid, numeric, text, text, text, text, text, text) is
  E'Records a completed payment (with its automatic receipt number; received_by is the caller) against an issued or partially paid invoice; the invoice is locked so parallel payments never exceed the balance. Needs billing.collect. payment_method: cash, card, upi, bank_transfer, cheque, mobile_wallet, insurance, online or other. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_INVOICE_NOT_PAYABLE, 409 HMS_DAY_SETTLED, 422 HMS_AMOUNT_INVALID, 422 HMS_OVERPAYMENT, 422 HMS_PAYMENT_METHOD_INVALID.';
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
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, request_refund.invoice_id);
  v_payment app_public.payments;
  v_pending numeric;
  v_available numeric;
  v_row app_public.refunds;
begin
  if request_refund.payment_id is not null then
    v_payment := app_hidden.find_or_404(null::app_public.payments, request_refund.payment_id);
    if v_payment.invoice_id <> v_invoice.id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such payment on this invoice.',
        jsonb_build_object('entity', 'payment', 'id', request_refund.payment_id));
    end if;
  end if;
  if request_refund.amount is null or request_refund.amount <= 0 or round(request_refund.amount, 2) <> request_refund.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero, with at most two decimals.',
      jsonb_build_object('field', 'amount'));
  end if;
  if request_refund.reason is null or request_refund.reason not in
     ('service_not_rendered', 'overbilling', 'duplicate_payment', 'cancellation', 'insurance_adjustment', 'medicine_return', 'other') then
    perform app_hidden.raise_error('HMS_REFUND_REASON_INVALID',
      'reason is one of service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return, other.',
      jsonb_build_object('field', 'reason'));
  end if;
  if request_refund.refund_method is not null and request_refund.refund_method not in
     ('cash', 'card', 'upi', 'bank_transfer', 'cheque', 'mobile_wallet', 'insurance', 'online', 'other') then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', format('Unknown refund method %s.', request_refund.refund_method),
      jsonb_build_object('field', 'refund_method'));
  end if;
  select coalesce(sum(r.amount), 0) into v_pending from app_public.refunds r
   where r.invoice_id = v_invoice.id and r.hospital_id = v_hospital and r.status in ('requested', 'approved') and not r.is_deleted;
  v_available := v_invoice.amount_paid - v_invoice.amount_refunded - v_pending;
  if request_refund.amount > v_available then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID',
      format('%s is more than the %s still refundable on invoice %s (paid %s, refunded %s, pending %s).', request_refund.amount,
             greatest(v_available, 0), v_invoice.invoice_number, v_invoice.amount_paid, v_invoice.amount_refunded, v_pending),
      jsonb_build_object('invoice_id', v_invoice.id, 'refundable', greatest(v_available, 0)));
  end if;
  if request_refund.payment_id is not null and request_refund.amount > v_payment.amount
       - coalesce((select sum(r.amount) from app_public.refunds r where r.payment_id = v_payment.id and r.status <> 'rejected' and not r.is_deleted), 0) then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID', 'The amount is more than what is left to refund of that payment.',
      jsonb_build_object('payment_id', v_payment.id));
  end if;
  insert into app_public.refunds (hospital_id, invoice_id, payment_id, patient_id, amount, refund_method, reason, reason_notes, status)
  values (v_hospital, v_invoice.id, request_refund.payment_id, v_invoice.patient_id, request_refund.amount,
          coalesce(request_refund.refund_method, v_payment.payment_method, 'cash'), request_refund.reason, request_refund.reason_notes,
          'requested')
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.request_refund(uuid, numeric, text, uuid, text, text) is
  E'Requests a refund of money paid on an invoice (at most paid − refunded − pending refunds); requested_at/by are stamped. Needs billing.refund. reason: service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return or other; refund_method defaults to the payment''s method (else cash). Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (invoice, payment), 422 HMS_AMOUNT_INVALID, 422 HMS_REFUND_REASON_INVALID, 422 HMS_PAYMENT_METHOD_INVALID, 422 HMS_REFUND_EXCEEDS_PAID.';
grant execute on function app_public.request_refund(uuid, numeric, text, uuid, text, text) to :DATABASE_STAFF;

create or replace function app_public.approve_refund(refund_id uuid) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_row app_public.refunds := app_hidden.lock_or_404(null::app_public.refunds, approve_refund.refund_id);
begin
  perform app_hidden.require_transition('app_public.refunds', v_row.status, 'approved');
  update app_public.refunds r set status = 'approved' where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.approve_refund(uuid) is
  E'Approves a requested refund (approved_at/by stamped); above hospital_settings.refund_approval_threshold the approver must not be the requester. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_APPROVAL_BY_OTHER_USER.';
grant execute on function app_public.approve_refund(uuid) to :DATABASE_STAFF;

create or replace function app_public.reject_refund(refund_id uuid, reason text) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_row app_public.refunds := app_hidden.lock_or_404(null::app_public.refunds, reject_refund.refund_id);
begin
  perform app_hidden.require_transition('app_public.refunds', v_row.status, 'rejected');
  update app_public.refunds r set status = 'rejected', rejection_reason = nullif(trim(reject_refund.reason), '')
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reject_refund(uuid, text) is
  E'Rejects a requested refund with a reason (rejected_at/by stamped). Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reject_refund(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.process_refund(refund_id uuid, reference_number text default null) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_row app_public.refunds := app_hidden.find_or_404(null::app_public.refunds, process_refund.refund_id);
  v_invoice app_public.invoices;
begin
  -- Never more out than in: the invoice's lock (taken before the refund's, like payments) keeps what was paid true.
  v_invoice := app_hidden.lock_or_404(null::app_public.invoices, v_row.invoice_id);
  v_row := app_hidden.lock_or_404(null::app_public.refunds, v_row.id);
  perform app_hidden.require_transition('app_public.refunds', v_row.status, 'processed');
  if v_row.amount > v_invoice.amount_paid - v_invoice.amount_refunded then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID',
      format('%s is more than the %s still paid on invoice %s.', v_row.amount, v_invoice.amount_paid - v_invoice.amount_refunded, v_invoice.invoice_number),
      jsonb_build_object('invoice_id', v_invoice.id));
  end if;
  update app_public.refunds r
     set status = 'processed', reference_number = coalesce(process_refund.reference_number, r.reference_number)
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.process_refund(uuid, text) is
  E'Pays out an approved refund (processed_at/by stamped): it now counts in the invoice''s amount_refunded and in the day''s settlement. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_DAY_SETTLED, 422 HMS_REFUND_EXCEEDS_PAID.';
grant execute on function app_public.process_refund(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.issue_credit_note(invoice_id uuid, amount numeric, reason text, lines jsonb default '[]')
returns app_public.credit_notes
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, issue_credit_note.invoice_id);
  v_row app_public.credit_notes;
  v_tax numeric;
begin
  if v_invoice.status not in ('issued', 'partially_paid', 'paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_CREDITABLE',
      format('Invoice %s is %s: credit notes are issued against issued, partially paid or paid invoices.', v_invoice.invoice_number, v_invoice.status),
      jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if issue_credit_note.amount is null or issue_credit_note.amount <= 0 or round(issue_credit_note.amount, 2) <> issue_credit_note.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero, with at most two decimals.',
      jsonb_build_object('field', 'amount'));
  end if;
  -- The reason is printed on the document (2 to 500 characters), more than a step's reason.
  if length(trim(coalesce(issue_credit_note.reason, ''))) not between 2 and 500 then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the invoice is credited (2 to 500 characters).',
      jsonb_build_object('field', 'reason'));
  end if;
  if issue_credit_note.lines is not null and jsonb_typeof(issue_credit_note.lines) <> 'array' then
    perform app_hidden.raise_error('HMS_CREDIT_NOTE_LINES_INVALID', 'lines is a JSON array of credited items.',
      jsonb_build_object('field', 'lines'));
  end if;
  if issue_credit_note.amount > v_invoice.total_amount - v_invoice.amount_credited then
    perform app_hidden.raise_error('HMS_CREDIT_EXCEEDS_TOTAL',
      format('%s is more than the %s not yet credited on invoice %s.', issue_credit_note.amount,
             v_invoice.total_amount - v_invoice.amount_credited, v_invoice.invoice_number),
      jsonb_build_object('invoice_id', v_invoice.id, 'creditable', v_invoice.total_amount - v_invoice.amount_credited));
  end if;
  begin
    v_tax := least(coalesce((select sum((l ->> 'tax_amount')::numeric) from jsonb_array_elements(coalesce(issue_credit_note.lines, '[]')) l), 0),
                   issue_credit_note.amount);
  exception when others then
    perform app_hidden.raise_error('HMS_CREDIT_NOTE_LINES_INVALID', 'A line''s tax_amount is not a number.',
      jsonb_build_object('field', 'lines'));
  end;
  insert into app_public.credit_notes (hospital_id, invoice_id, patient_id, amount, tax_amount, reason, status, lines)
  values (v_hospital, v_invoice.id, v_invoice.patient_id, issue_credit_note.amount, greatest(v_tax, 0), trim(issue_credit_note.reason),
          'issued', coalesce(issue_credit_note.lines, '[]'))
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.issue_credit_note(uuid, numeric, text, jsonb) is
  E'Issues a numbered credit note (issued_at/by stamped) reducing what an issued, partially paid or paid invoice asks for (at most total − already credited); lines lists the credited items. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_INVOICE_NOT_CREDITABLE, 422 HMS_AMOUNT_INVALID, 422 HMS_REASON_REQUIRED, 422 HMS_CREDIT_NOTE_LINES_INVALID, 422 HMS_CREDIT_EXCEEDS_TOTAL.';
grant execute on function app_public.issue_credit_note(uuid, numeric, text, jsonb) to :DATABASE_STAFF;

create or replace function app_public.settle_day(settlement_date date, counted_cash numeric default null, variance_reason text default null)
returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.settle');
  v_row app_public.daily_settlements;
begin
  if settle_day.settlement_date is null or settle_day.settlement_date > app_hidden.hospital_today(v_hospital) then
    perform app_hidden.raise_error('HMS_SETTLEMENT_DATE_INVALID', 'Only today or a past day (hospital time) can be settled.',
      jsonb_build_object('field', 'settlement_date'));
  end if;
  if settle_day.counted_cash is not null and (settle_day.counted_cash < 0 or settle_day.counted_cash >= 1e10) then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'counted_cash cannot be negative.', jsonb_build_object('field', 'counted_cash'));
  end if;
  -- Serialise settling the same day: one advisory lock per hospital and day, then the row (created if needed).
  perform pg_advisory_xact_lock(hashtextextended('hms.settlement:' || v_hospital || ':' || settle_day.settlement_date, 0));
  select * into v_row from app_public.daily_settlements d
   where d.hospital_id = v_hospital and d.settlement_date = settle_day.settlement_date for update;
  if found then
    perform app_hidden.require_transition('app_public.daily_settlements', v_row.status, 'settled');
  end if;
  -- Lock out concurrent payment and refund writers of the hospital while the day is counted.
  lock table app_public.payments, app_public.refunds in share row exclusive mode;
  insert into app_public.daily_settlements (hospital_id, settlement_date) values (v_hospital, settle_day.settlement_date)
  on conflict on constraint daily_settlements_hospital_id_settlement_date_key do nothing;
  update app_public.daily_settlements d set counted_cash = settle_day.counted_cash, variance_reason = nullif(trim(settle_day.variance_reason), '')
   where d.hospital_id = v_hospital and d.settlement_date = settle_day.settlement_date;
  v_row := app_hidden.compute_daily_settlement(v_hospital, settle_day.settlement_date);
  -- Only a cash variance needs a reason, so it is this RPC's rule rather than the step's.
  if v_row.cash_variance is not null and v_row.cash_variance <> 0 and v_row.variance_reason is null then
    perform app_hidden.raise_error('HMS_VARIANCE_REASON_REQUIRED',
      format('Counted cash differs from the expected %s by %s: give a variance_reason.', v_row.expected_cash, v_row.cash_variance),
      jsonb_build_object('expected_cash', v_row.expected_cash, 'cash_variance', v_row.cash_variance));
  end if;
  update app_public.daily_settlements d set status = 'settled' where d.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.settle_day(date, numeric, text) is
  E'Computes a hospital-local day''s collections per method from completed payments and processed refunds and settles (locks) the day, settled_at/by stamped: no payment or refund may then be dated in it. counted_cash records the cash counted in the drawer; a variance needs variance_reason. Needs billing.settle. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 409 HMS_ILLEGAL_TRANSITION (already settled), 422 HMS_SETTLEMENT_DATE_INVALID, 422 HMS_AMOUNT_INVALID, 422 HMS_VARIANCE_REASON_REQUIRED.';
grant execute on function app_public.settle_day(date, numeric, text) to :DATABASE_STAFF;

create or replace function app_public.reopen_day(settlement_date date, reason text) returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.settle');
  v_row app_public.daily_settlements;
begin
  -- A settlement is found by its day (one per hospital and day), not by id.
  select * into v_row from app_public.daily_settlements d
   where d.hospital_id = v_hospital and d.settlement_date = reopen_day.settlement_date for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No settlement for that day in this hospital.',
      jsonb_build_object('entity', 'daily_settlement', 'settlement_date', reopen_day.settlement_date));
  end if;
  perform app_hidden.require_transition('app_public.daily_settlements', v_row.status, 'reopened');
  update app_public.daily_settlements d set status = 'reopened', reopen_reason = nullif(trim(reopen_day.reason), '')
   where d.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reopen_day(date, text) is
  E'Reopens a settled day with a reason (reopened_at/by stamped) so payments and refunds may be corrected in it; settle it again afterwards. Needs billing.settle. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reopen_day(date, text) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Registration (access models as the isolation matrix pins them)
 * ------------------------------------------------------------------------------------------ */

select app_hidden.register_table('app_public.invoices', 'invoice',
  read_permissions => '{billing.read}', write_permissions => '{billing.write}', delete_permissions => '{billing.write}',
  protected_columns => '{subtotal,discount_amount,tax_amount,total_amount,amount_paid,amount_refunded,amount_credited,balance_due,insurance_amount,patient_amount,paid_at,discount_approved_by}');
select app_hidden.register_table('app_public.invoice_items', 'invoice line',
  read_permissions => '{billing.read}', write_permissions => '{billing.write}', delete_permissions => '{billing.write}',
  protected_columns => '{discount_amount,tax_amount,line_total}');
select app_hidden.register_table('app_public.payments', 'payment',
  read_permissions => '{billing.read}', write_permissions => '{billing.collect}', delete_permissions => '{billing.collect}',
  immutable_columns => '{invoice_id,patient_id,amount}');
select app_hidden.register_table('app_public.refunds', 'refund',
  read_permissions => '{billing.read}', write_permissions => '{billing.refund}', delete_permissions => '{billing.refund}',
  immutable_columns => '{invoice_id,payment_id,patient_id,amount}');
select app_hidden.register_table('app_public.credit_notes', 'credit note',
  read_permissions => '{billing.read}', write_permissions => '{billing.refund}', delete_permissions => '{billing.refund}',
  protected_columns => '{applied_at}');
select app_hidden.register_table('app_public.daily_settlements', 'daily settlement',
  read_permissions => '{billing.read}', write_permissions => '{billing.settle}', delete_permissions => '{}',
  protected_columns => '{cash_total,card_total,upi_total,bank_transfer_total,cheque_total,wallet_total,insurance_total,other_total,gross_collections,refunds_total,net_collections,invoice_count,payment_count,refund_count,expected_cash,cash_variance,computed_at}');

/* ------------------------------------------------------------------------------------------
 * The billing dialect, folded into the kit
 * ------------------------------------------------------------------------------------------ */

drop function if exists app_hidden.billing_require(text);
drop function if exists app_hidden.billing_lock_invoice(uuid, uuid);
drop function if exists app_hidden.billing_lock_refund(uuid, uuid);
drop function if exists app_hidden.in_billing_workflow();
drop function if exists app_hidden.billing_local_date(uuid, timestamptz);

--! split: 3100-insurance.sql
/*
 * Insurance on the kit: pre-authorizations and claims as database rules (tables:
 * db/schema/app_public/tables/).
 *
 * Pre-authorization: requested → approved | partially_approved | denied (the payer's answer,
 *                    decide_pre_authorization) | cancelled; approved | partially_approved → used
 *                    (consumed by the claim decide_claim approves) | expired.
 * Claim:             draft (create_claim computes what is claimed) → submitted → under_review →
 *                    approved | partially_approved | denied (decide_claim); approved |
 *                    partially_approved → paid (record_claim_payment); draft | submitted → cancelled.
 * The steps with side effects are declared `via` their RPC, so a direct write (REST PATCH,
 * GraphQL) gets 409 HMS_WORKFLOW_REQUIRED; amounts, links and workflow results are protected
 * columns; who requested and submitted, and when decisions and payments happened, are stamped from
 * the session by the status machine.
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
 *   pre-authorization used. Payments stay with billing: record_claim_payment only records the
 *   insurer's payment on the claim.
 *
 * Validity (a policy active today, a pre-authorization not expired) is judged on the hospital's
 * day by the business clock. HMS_AMOUNT_INVALID is billing's code (3000-billing.sql).
 */

select app_hidden.register_error_codes('insurance', $json$[
  {"code": "HMS_POLICY_NOT_ACTIVE", "http_status": 422, "meaning": "The policy is not active, or not valid on the day that matters (today for a pre-authorization, the invoice date for a claim)."},
  {"code": "HMS_POLICY_PATIENT_MISMATCH", "http_status": 422, "meaning": "The invoice is not for the patient the policy covers."},
  {"code": "HMS_PROCEDURE_DESCRIPTION_REQUIRED", "http_status": 422, "meaning": "A pre-authorization describes the planned procedure (2 to 2000 characters)."},
  {"code": "HMS_DECISION_INVALID", "http_status": 422, "meaning": "Unknown decision: a pre-authorization is approved, partially_approved, denied or cancelled; a claim under_review, approved, partially_approved or denied."},
  {"code": "HMS_APPROVED_AMOUNT_INVALID", "http_status": 422, "meaning": "A full approval is for the amount asked; a partial approval is for less (details give both amounts)."},
  {"code": "HMS_VALIDITY_INVALID", "http_status": 422, "meaning": "A pre-authorization cannot be valid until a day in the past."},
  {"code": "HMS_CLAIM_TYPE_INVALID", "http_status": 422, "meaning": "A claim is cashless or reimbursement."},
  {"code": "HMS_INVOICE_NOT_ISSUED", "http_status": 409, "meaning": "Only an issued (partially paid or paid) invoice can be claimed (details.status)."},
  {"code": "HMS_CLAIM_EXISTS", "http_status": 409, "meaning": "The invoice already has an open or settled claim (one live claim per invoice)."},
  {"code": "HMS_PRE_AUTHORIZATION_MISMATCH", "http_status": 422, "meaning": "The pre-authorization belongs to another policy."},
  {"code": "HMS_PRE_AUTHORIZATION_NOT_APPROVED", "http_status": 409, "meaning": "The pre-authorization is not approved, or it expired (details.status or valid_until)."},
  {"code": "HMS_PRE_AUTHORIZATION_IN_USE", "http_status": 409, "meaning": "Another live claim already uses the pre-authorization."},
  {"code": "HMS_CLAIM_NOTHING_TO_CLAIM", "http_status": 422, "meaning": "Under the policy's coverage, co-pay and limits the insurer owes nothing on the invoice."},
  {"code": "HMS_CLAIM_PAYMENT_INVALID", "http_status": 422, "meaning": "The insurer's payment is above 0 and at most the approved amount."}
]$json$);

/* ------------------------------------------------------------------------------------------
 * Status machines
 * ------------------------------------------------------------------------------------------ */

select app_hidden.declare_status_machine('app_public.pre_authorizations', $json$[
  {"from": null, "to": "requested", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "requested", "to": "approved", "via": "decide_pre_authorization", "stamp_at": "decided_at"},
  {"from": "requested", "to": "partially_approved", "via": "decide_pre_authorization", "stamp_at": "decided_at"},
  {"from": "requested", "to": "denied", "via": "decide_pre_authorization", "reason": "denial_reason", "stamp_at": "decided_at"},
  {"from": "requested", "to": "cancelled"},
  {"from": "approved", "to": "used", "via": "decide_claim", "stamp_at": "used_at"},
  {"from": "partially_approved", "to": "used", "via": "decide_claim", "stamp_at": "used_at"},
  {"from": "approved", "to": "expired"},
  {"from": "partially_approved", "to": "expired"}
]$json$);

select app_hidden.declare_status_machine('app_public.insurance_claims', $json$[
  {"from": null, "to": "draft", "via": "create_claim"},
  {"from": "draft", "to": "submitted", "via": "submit_claim", "stamp_at": "submitted_at", "stamp_by": "submitted_by"},
  {"from": "draft", "to": "cancelled"},
  {"from": "submitted", "to": "cancelled"},
  {"from": "submitted", "to": "under_review"},
  {"from": "under_review", "to": "approved", "via": "decide_claim", "stamp_at": "decided_at"},
  {"from": "under_review", "to": "partially_approved", "via": "decide_claim", "stamp_at": "decided_at"},
  {"from": "under_review", "to": "denied", "via": "decide_claim", "reason": "denial_reason", "stamp_at": "decided_at"},
  {"from": "approved", "to": "paid", "via": "record_claim_payment", "stamp_at": "paid_at"},
  {"from": "partially_approved", "to": "paid", "via": "record_claim_payment", "stamp_at": "paid_at"}
]$json$);

drop trigger if exists _200_workflow on app_public.pre_authorizations;
drop function if exists app_hidden.tg_pre_authorizations__workflow();
drop trigger if exists _200_workflow on app_public.insurance_claims;
drop function if exists app_hidden.tg_insurance_claims__workflow();

/* ------------------------------------------------------------------------------------------
 * Policies: who verified the cover
 * ------------------------------------------------------------------------------------------ */

/* Staff record when they verified a policy with the payer; who did is the session, never the request. */
create or replace function app_hidden.tg_insurance_policies__verified_by() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
begin
  if v_user is not null and NEW.verified_at is distinct from (case when TG_OP = 'UPDATE' then OLD.verified_at end) then
    NEW.verified_by := case when NEW.verified_at is not null then v_user end;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_insurance_policies__verified_by() is
  'BEFORE INSERT/UPDATE on insurance_policies (_200_verified_by): when staff set or change verified_at, verified_by is the session''s user (cleared with verified_at).';

drop trigger if exists _200_verified_by on app_public.insurance_policies;
create trigger _200_verified_by before insert or update on app_public.insurance_policies
  for each row execute function app_hidden.tg_insurance_policies__verified_by();

/* ------------------------------------------------------------------------------------------
 * Pre-authorization RPCs
 * ------------------------------------------------------------------------------------------ */

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
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_policy app_public.insurance_policies := app_hidden.find_or_404(null::app_public.insurance_policies, request_pre_authorization.policy_id);
  v_today date := app_hidden.hospital_today(v_hospital);
  v_appointment app_public.appointments;
  v_row app_public.pre_authorizations;
begin
  if v_policy.status <> 'active' or v_today < coalesce(v_policy.valid_from, v_today) or v_today > coalesce(v_policy.valid_to, v_today) then
    perform app_hidden.raise_error('HMS_POLICY_NOT_ACTIVE',
      format('The policy %s is not active today (status %s, valid %s to %s).', v_policy.policy_number, v_policy.status,
             coalesce(v_policy.valid_from::text, '…'), coalesce(v_policy.valid_to::text, '…')),
      jsonb_build_object('policy_id', v_policy.id, 'status', v_policy.status, 'valid_from', v_policy.valid_from, 'valid_to', v_policy.valid_to));
  end if;
  if length(trim(coalesce(request_pre_authorization.procedure_description, ''))) not between 2 and 2000 then
    perform app_hidden.raise_error('HMS_PROCEDURE_DESCRIPTION_REQUIRED', 'Describe the planned procedure (2 to 2000 characters).',
      jsonb_build_object('field', 'procedure_description'));
  end if;
  if request_pre_authorization.requested_amount is null or request_pre_authorization.requested_amount <= 0
     or request_pre_authorization.requested_amount >= 1e10
     or request_pre_authorization.estimated_amount < 0 or request_pre_authorization.estimated_amount >= 1e10 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The requested amount must be greater than zero and the estimate not negative.',
      jsonb_build_object('requested_amount', request_pre_authorization.requested_amount, 'estimated_amount', request_pre_authorization.estimated_amount));
  end if;
  if request_pre_authorization.appointment_id is not null then
    v_appointment := app_hidden.find_or_404(null::app_public.appointments, request_pre_authorization.appointment_id);
    if v_appointment.patient_id <> v_policy.patient_id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment of the policy''s patient in this hospital.',
        jsonb_build_object('entity', 'appointment', 'id', v_appointment.id));
    end if;
  end if;
  if request_pre_authorization.doctor_id is not null then
    perform app_hidden.find_or_404(null::app_public.doctors, request_pre_authorization.doctor_id);
  end if;

  insert into app_public.pre_authorizations
    (hospital_id, policy_id, patient_id, provider_id, appointment_id, doctor_id, procedure_description,
     diagnosis_codes, procedure_codes, planned_date, estimated_amount, requested_amount, notes)
  values
    (v_hospital, v_policy.id, v_policy.patient_id, v_policy.provider_id, request_pre_authorization.appointment_id,
     request_pre_authorization.doctor_id, trim(request_pre_authorization.procedure_description),
     coalesce(request_pre_authorization.diagnosis_codes, '{}'), coalesce(request_pre_authorization.procedure_codes, '{}'),
     request_pre_authorization.planned_date, request_pre_authorization.estimated_amount,
     request_pre_authorization.requested_amount, request_pre_authorization.notes)
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.request_pre_authorization(uuid, text, numeric, numeric, text[], text[], date, uuid, uuid, text) is
  E'Asks the payer of a policy to pre-authorize a planned procedure (status requested, numbered PAU-…; requested_at/by stamped); patient and provider come from the policy. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (policy, appointment of the patient, doctor), 422 HMS_POLICY_NOT_ACTIVE (policy not active or not valid today), HMS_PROCEDURE_DESCRIPTION_REQUIRED, HMS_AMOUNT_INVALID.';
grant execute on function app_public.request_pre_authorization(uuid, text, numeric, numeric, text[], text[], date, uuid, uuid, text) to :DATABASE_STAFF;

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
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.pre_authorizations := app_hidden.lock_or_404(null::app_public.pre_authorizations, decide_pre_authorization.pre_authorization_id);
  v_amount numeric;
begin
  if decide_pre_authorization.decision is null
     or decide_pre_authorization.decision not in ('approved', 'partially_approved', 'denied', 'cancelled') then
    perform app_hidden.raise_error('HMS_DECISION_INVALID',
      'The decision must be approved, partially_approved, denied or cancelled.',
      jsonb_build_object('decision', decide_pre_authorization.decision));
  end if;
  perform app_hidden.require_transition('app_public.pre_authorizations', v_row.status, decide_pre_authorization.decision);

  if decide_pre_authorization.decision = 'approved' then
    v_amount := coalesce(decide_pre_authorization.approved_amount, v_row.requested_amount);
    if v_amount <> v_row.requested_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        'A full approval is for the requested amount; use partially_approved for less.',
        jsonb_build_object('requested_amount', v_row.requested_amount, 'approved_amount', v_amount));
    end if;
  elsif decide_pre_authorization.decision = 'partially_approved' then
    v_amount := decide_pre_authorization.approved_amount;
    if v_amount is null or v_amount <= 0 or v_amount >= v_row.requested_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A partial approval needs an amount above 0 and below the requested %s.', v_row.requested_amount),
        jsonb_build_object('requested_amount', v_row.requested_amount, 'approved_amount', v_amount));
    end if;
  end if;
  if decide_pre_authorization.valid_until is not null and decide_pre_authorization.valid_until < app_hidden.hospital_today(v_hospital) then
    perform app_hidden.raise_error('HMS_VALIDITY_INVALID', 'valid_until cannot be in the past.', jsonb_build_object('field', 'valid_until'));
  end if;

  update app_public.pre_authorizations p
     set status = decide_pre_authorization.decision,
         approved_amount = v_amount,
         insurer_reference = coalesce(decide_pre_authorization.insurer_reference, p.insurer_reference),
         denial_reason = case when decide_pre_authorization.decision = 'denied' then nullif(trim(decide_pre_authorization.denial_reason), '')
                              else p.denial_reason end,
         valid_until = coalesce(decide_pre_authorization.valid_until, p.valid_until)
   where p.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.decide_pre_authorization(uuid, text, numeric, text, text, date) is
  E'Records the payer''s answer to a requested pre-authorization (decided_at stamped): approved (for the requested amount), partially_approved (approved_amount below it), denied (denial_reason) or cancelled. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not requested any more), 422 HMS_DECISION_INVALID, HMS_APPROVED_AMOUNT_INVALID, HMS_REASON_REQUIRED (a denial), HMS_VALIDITY_INVALID.';
grant execute on function app_public.decide_pre_authorization(uuid, text, numeric, text, text, date) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Claim RPCs
 * ------------------------------------------------------------------------------------------ */

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
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  -- The invoice's row lock serialises claims on it: one live claim per invoice.
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, create_claim.invoice_id);
  v_policy app_public.insurance_policies := app_hidden.find_or_404(null::app_public.insurance_policies, create_claim.policy_id);
  v_pre app_public.pre_authorizations;
  v_amount numeric;
  v_row app_public.insurance_claims;
begin
  if create_claim.claim_type is null or create_claim.claim_type not in ('cashless', 'reimbursement') then
    perform app_hidden.raise_error('HMS_CLAIM_TYPE_INVALID', 'The claim type must be cashless or reimbursement.',
      jsonb_build_object('claim_type', create_claim.claim_type));
  end if;
  if v_invoice.status not in ('issued', 'partially_paid', 'paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_ISSUED',
      format('Invoice %s is %s: only an issued invoice can be claimed.', v_invoice.invoice_number, v_invoice.status),
      jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if v_invoice.patient_id <> v_policy.patient_id then
    perform app_hidden.raise_error('HMS_POLICY_PATIENT_MISMATCH', 'The invoice is not for the patient this policy covers.',
      jsonb_build_object('invoice_patient_id', v_invoice.patient_id, 'policy_patient_id', v_policy.patient_id));
  end if;
  if v_policy.status <> 'active' or v_invoice.invoice_date < coalesce(v_policy.valid_from, v_invoice.invoice_date)
     or v_invoice.invoice_date > coalesce(v_policy.valid_to, v_invoice.invoice_date) then
    perform app_hidden.raise_error('HMS_POLICY_NOT_ACTIVE',
      format('The policy %s was not active on the invoice date %s.', v_policy.policy_number, v_invoice.invoice_date),
      jsonb_build_object('policy_id', v_policy.id, 'status', v_policy.status, 'valid_from', v_policy.valid_from, 'valid_to', v_policy.valid_to));
  end if;
  if exists (select 1 from app_public.insurance_claims c
              where c.hospital_id = v_hospital and c.invoice_id = v_invoice.id and not c.is_deleted
                and c.status not in ('cancelled', 'denied')) then
    perform app_hidden.raise_error('HMS_CLAIM_EXISTS', 'This invoice already has an open or settled claim.',
      jsonb_build_object('invoice_id', v_invoice.id));
  end if;
  if create_claim.pre_authorization_id is not null then
    v_pre := app_hidden.lock_or_404(null::app_public.pre_authorizations, create_claim.pre_authorization_id);
    if v_pre.policy_id <> v_policy.id then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_MISMATCH', 'The pre-authorization belongs to another policy.',
        jsonb_build_object('pre_authorization_id', v_pre.id, 'policy_id', v_pre.policy_id));
    end if;
    if v_pre.status not in ('approved', 'partially_approved') then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_NOT_APPROVED',
        format('The pre-authorization is %s, not approved.', v_pre.status), jsonb_build_object('status', v_pre.status));
    end if;
    if v_pre.valid_until is not null and v_pre.valid_until < app_hidden.hospital_today(v_hospital) then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_NOT_APPROVED',
        format('The pre-authorization expired on %s.', v_pre.valid_until), jsonb_build_object('valid_until', v_pre.valid_until));
    end if;
    if exists (select 1 from app_public.insurance_claims c
                where c.hospital_id = v_hospital and c.pre_authorization_id = v_pre.id and not c.is_deleted
                  and c.status not in ('cancelled', 'denied')) then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_IN_USE', 'Another claim already uses this pre-authorization.',
        jsonb_build_object('pre_authorization_id', v_pre.id));
    end if;
  end if;

  v_amount := app_hidden.insurance_claimable_amount(v_invoice.total_amount, v_policy, v_pre.approved_amount);
  if v_amount <= 0 then
    perform app_hidden.raise_error('HMS_CLAIM_NOTHING_TO_CLAIM',
      'Under this policy the insurer owes nothing on this invoice (coverage, co-pay or limits).',
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
  return v_row;
end;
$$;
comment on function app_public.create_claim(uuid, uuid, text, uuid) is
  E'Drafts a claim for the insurer''s share of an issued invoice: claimed_amount = total × coverage% − total × co-pay% − co-pay amount, capped by the per-visit limit, the remaining (else annual) limit and the pre-authorized amount. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (invoice, policy, pre-authorization), 409 HMS_INVOICE_NOT_ISSUED, HMS_CLAIM_EXISTS, HMS_PRE_AUTHORIZATION_NOT_APPROVED, HMS_PRE_AUTHORIZATION_IN_USE, 422 HMS_CLAIM_TYPE_INVALID, HMS_POLICY_PATIENT_MISMATCH, HMS_POLICY_NOT_ACTIVE, HMS_PRE_AUTHORIZATION_MISMATCH, HMS_CLAIM_NOTHING_TO_CLAIM.';
grant execute on function app_public.create_claim(uuid, uuid, text, uuid) to :DATABASE_STAFF;

create or replace function app_public.submit_claim(claim_id uuid) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.lock_or_404(null::app_public.insurance_claims, submit_claim.claim_id);
begin
  perform app_hidden.require_transition('app_public.insurance_claims', v_row.status, 'submitted');
  update app_public.insurance_claims c set status = 'submitted' where c.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.submit_claim(uuid) is
  'Sends a draft claim to the payer (status submitted, submitted_at/by stamped). Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft).';
grant execute on function app_public.submit_claim(uuid) to :DATABASE_STAFF;

create or replace function app_public.cancel_claim(claim_id uuid, reason text default null) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.lock_or_404(null::app_public.insurance_claims, cancel_claim.claim_id);
begin
  perform app_hidden.require_transition('app_public.insurance_claims', v_row.status, 'cancelled');
  update app_public.insurance_claims c
     set status = 'cancelled',
         notes = case when nullif(trim(cancel_claim.reason), '') is null then c.notes
                      else concat_ws(E'\n', c.notes, 'Cancelled: ' || trim(cancel_claim.reason)) end
   where c.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.cancel_claim(uuid, text) is
  'Withdraws a draft or submitted claim (status cancelled; the reason is appended to the notes). Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.cancel_claim(uuid, text) to :DATABASE_STAFF;

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
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.lock_or_404(null::app_public.insurance_claims, decide_claim.claim_id);
  v_invoice app_public.invoices;
  v_amount numeric;
begin
  if decide_claim.decision is null
     or decide_claim.decision not in ('under_review', 'approved', 'partially_approved', 'denied') then
    perform app_hidden.raise_error('HMS_DECISION_INVALID',
      'The decision must be under_review, approved, partially_approved or denied.',
      jsonb_build_object('decision', decide_claim.decision));
  end if;
  if v_row.status = 'submitted' and decide_claim.decision <> 'under_review' then
    -- The payer's answer implies it reviewed the claim: pass through under_review.
    update app_public.insurance_claims c set status = 'under_review' where c.id = v_row.id returning * into v_row;
  end if;
  perform app_hidden.require_transition('app_public.insurance_claims', v_row.status, decide_claim.decision);

  if decide_claim.decision = 'under_review' then
    update app_public.insurance_claims c
       set status = 'under_review',
           insurer_claim_reference = coalesce(decide_claim.insurer_claim_reference, c.insurer_claim_reference)
     where c.id = v_row.id returning * into v_row;
    return v_row;
  end if;

  if decide_claim.decision = 'approved' then
    v_amount := coalesce(decide_claim.approved_amount, v_row.claimed_amount);
    if v_amount <> v_row.claimed_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A full approval is for the claimed %s; use partially_approved for less.', v_row.claimed_amount),
        jsonb_build_object('claimed_amount', v_row.claimed_amount, 'approved_amount', v_amount));
    end if;
  elsif decide_claim.decision = 'partially_approved' then
    v_amount := decide_claim.approved_amount;
    if v_amount is null or v_amount < 0 or v_amount >= v_row.claimed_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A partial approval needs an amount from 0 to below the claimed %s.', v_row.claimed_amount),
        jsonb_build_object('claimed_amount', v_row.claimed_amount, 'approved_amount', v_amount));
    end if;
  else
    v_amount := 0;
  end if;

  v_invoice := app_hidden.lock_or_404(null::app_public.invoices, v_row.invoice_id);
  v_amount := least(v_amount, v_invoice.total_amount);

  update app_public.insurance_claims c
     set status = decide_claim.decision,
         approved_amount = case when decide_claim.decision = 'denied' then null else v_amount end,
         patient_responsibility = v_invoice.total_amount - v_amount,
         denial_reason = case when decide_claim.decision = 'denied' then nullif(trim(decide_claim.denial_reason), '') else c.denial_reason end,
         denial_code = case when decide_claim.decision = 'denied' then decide_claim.denial_code else c.denial_code end,
         insurer_claim_reference = coalesce(decide_claim.insurer_claim_reference, c.insurer_claim_reference)
   where c.id = v_row.id
  returning * into v_row;

  -- The invoice's split between insurer and patient.
  update app_public.invoices i
     set insurance_amount = v_amount,
         patient_amount = i.total_amount - v_amount
   where i.id = v_invoice.id;

  if v_amount > 0 then
    update app_public.insurance_policies p
       set remaining_limit = greatest(p.remaining_limit - v_amount, 0)
     where p.id = v_row.policy_id and p.hospital_id = v_hospital and p.remaining_limit is not null;
    if v_row.pre_authorization_id is not null then
      update app_public.pre_authorizations p set status = 'used'
       where p.id = v_row.pre_authorization_id and p.hospital_id = v_hospital and p.status in ('approved', 'partially_approved');
    end if;
  end if;
  return v_row;
end;
$$;
comment on function app_public.decide_claim(uuid, text, numeric, text, text, text) is
  E'Records the payer''s decision on a submitted claim (decided_at stamped): under_review, approved (the claimed amount), partially_approved (approved_amount below it) or denied (denial_reason). An approval sets the invoice''s insurance_amount = approved and patient_amount = total − approved, lowers the policy''s remaining_limit and marks the pre-authorization used. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_DECISION_INVALID, HMS_APPROVED_AMOUNT_INVALID, HMS_REASON_REQUIRED (a denial).';
grant execute on function app_public.decide_claim(uuid, text, numeric, text, text, text) to :DATABASE_STAFF;

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
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.lock_or_404(null::app_public.insurance_claims, record_claim_payment.claim_id);
begin
  perform app_hidden.require_transition('app_public.insurance_claims', v_row.status, 'paid');
  if record_claim_payment.paid_amount is null or record_claim_payment.paid_amount <= 0
     or record_claim_payment.paid_amount > v_row.approved_amount then
    perform app_hidden.raise_error('HMS_CLAIM_PAYMENT_INVALID',
      format('The payment must be above 0 and at most the approved %s.', v_row.approved_amount),
      jsonb_build_object('approved_amount', v_row.approved_amount, 'paid_amount', record_claim_payment.paid_amount));
  end if;
  update app_public.insurance_claims c
     set status = 'paid', paid_amount = record_claim_payment.paid_amount,
         payment_reference = coalesce(record_claim_payment.payment_reference, c.payment_reference)
   where c.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.record_claim_payment(uuid, numeric, text) is
  E'Records the payer''s payment of an approved claim (status paid, paid_amount ≤ approved_amount, paid_at stamped). The cash itself is posted by billing. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_CLAIM_PAYMENT_INVALID.';
grant execute on function app_public.record_claim_payment(uuid, numeric, text) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Registration (access models as the isolation matrix pins them)
 * ------------------------------------------------------------------------------------------ */

select app_hidden.register_table('app_public.insurance_providers', 'insurance provider',
  read_permissions => '{insurance.read}', write_permissions => '{insurance.manage}', delete_permissions => '{insurance.manage}');
select app_hidden.register_table('app_public.insurance_policies', 'insurance policy',
  read_permissions => '{insurance.read}', write_permissions => '{insurance.manage}', delete_permissions => '{insurance.manage}',
  protected_columns => '{remaining_limit,verified_by}');
select app_hidden.register_table('app_public.pre_authorizations', 'pre authorization',
  read_permissions => '{insurance.read}', write_permissions => '{insurance.manage}', delete_permissions => '{insurance.manage}',
  protected_columns => '{approved_amount}', immutable_columns => '{policy_id,patient_id,provider_id}');
select app_hidden.register_table('app_public.insurance_claims', 'insurance claim',
  read_permissions => '{insurance.read}', write_permissions => '{insurance.manage}', delete_permissions => '{insurance.manage}',
  protected_columns => '{invoice_id,policy_id,provider_id,patient_id,pre_authorization_id,claimed_amount,approved_amount,paid_amount,patient_responsibility}');

/* ------------------------------------------------------------------------------------------
 * The insurance dialect, folded into the kit
 * ------------------------------------------------------------------------------------------ */

drop function if exists app_hidden.insurance_begin(text);
drop function if exists app_hidden.insurance_lock_claim(uuid, uuid);
drop function if exists app_hidden.insurance_not_found(text, uuid);
drop function if exists app_hidden.insurance_assert_transition(text, text, text, jsonb);
drop function if exists app_hidden.insurance_trusted_writer();

--! split: 4000-supply-chain.sql
/*
 * Supply chain — how stock enters a hospital (tables: db/schema/app_public/tables/suppliers.sql,
 * purchase_orders.sql, purchase_order_items.sql, goods_receipt_notes.sql, grn_items.sql), on the kit.
 *
 *   create_purchase_order → draft ─approve_purchase_order─→ approved ─send_purchase_order─→ sent
 *   receive_goods (approved | sent | partially_received) → partially_received … → received
 *   cancel_purchase_order: draft | approved | sent → cancelled, with a reason
 *
 * A purchase order is approved by someone other than the person who raised it, holding
 * inventory.approve. Every step after the draft has side effects or needs that permission, so it
 * is taken only through its RPC (a PATCH of the status answers 409 HMS_WORKFLOW_REQUIRED); the
 * status machine stamps who took it and when from the session. While an order is a draft its
 * header and lines are edited freely; afterwards only its delivery details and notes change (409
 * HMS_DOCUMENT_LOCKED), and only a draft is deleted. A GRN is posted by receive_goods, already
 * complete; a posted GRN keeps its lines and amounts, only its invoice references and notes change.
 *
 * Money is computed by the database: purchase_line_amounts is the one rule for a purchase line
 * (gross = quantity × unit cost, discount = gross × discount %, tax = (gross − discount) × tax %,
 * each rounded to the cent; PO lines on quantity_ordered, GRN lines on quantity_received), each
 * line carries its line_total, the header's subtotal / discount_amount / tax_amount are the sums
 * over its lines (refresh_purchase_order_totals, refresh_goods_receipt_totals) and total_amount =
 * subtotal − discount + tax + shipping, to the cent.
 *
 * receive_goods posts a goods receipt note in one go: for every medicine line it creates the batch
 * (or tops up the batch with the same medicine and batch number) and writes a goods_receipt
 * movement of the accepted quantity (received + free − rejected) into the stock ledger
 * (4100-stock.sql), whose trigger changes quantity_on_hand; optical lines move the product's
 * stock, consumables none. Against a PO line the paid accepted quantity (received − rejected, at
 * least 0) counts as received; rejected units stay outstanding, and the order becomes
 * partially_received or received.
 */

select app_hidden.register_error_codes('supply_chain', $json$[
  {"code": "HMS_SUPPLIER_INACTIVE", "http_status": 422, "meaning": "The supplier is no longer active: no new orders or direct receipts from it (details.supplier_id)."},
  {"code": "HMS_SUPPLIER_LICENCE_EXPIRED", "http_status": 422, "meaning": "The supplier's drug licence has lapsed: medicines are neither ordered nor received directly from it (details.drug_licence_expiry)."},
  {"code": "HMS_SUPPLIER_REQUIRED", "http_status": 422, "meaning": "A goods receipt names the purchase order it is against, or the supplier of a direct receipt."},
  {"code": "HMS_SUPPLIER_MISMATCH", "http_status": 422, "meaning": "The supplier named is not the supplier of the purchase order."},
  {"code": "HMS_ITEMS_REQUIRED", "http_status": 422, "meaning": "The document needs at least one line: items is a non-empty JSON array."},
  {"code": "HMS_ITEM_INVALID", "http_status": 422, "meaning": "A line must name exactly one item: a medicine (batch), an optical product, or a described consumable (details.line)."},
  {"code": "HMS_INVALID_QUANTITY", "http_status": 422, "meaning": "A quantity is not a whole number of base units in the allowed range (details name the line)."},
  {"code": "HMS_INVALID_PRICE", "http_status": 422, "meaning": "A price is missing or negative, or a selling price exceeds the MRP (details.line)."},
  {"code": "HMS_INVALID_PERCENT", "http_status": 422, "meaning": "A discount or tax percentage is outside 0–100 (details.line)."},
  {"code": "HMS_INVALID_DATE", "http_status": 422, "meaning": "A date is in the past where it must lie ahead, or out of order (details.field)."},
  {"code": "HMS_PURCHASE_ORDER_NOT_RECEIVABLE", "http_status": 409, "meaning": "Goods are received only against an approved, sent or partially received purchase order (details.status)."},
  {"code": "HMS_PO_ITEM_REQUIRED", "http_status": 422, "meaning": "A receipt line does not say which purchase order line it fulfils, and the item alone does not tell (details.line)."},
  {"code": "HMS_PO_ITEM_MISMATCH", "http_status": 422, "meaning": "A receipt line names a purchase order line of another order or of another item (details.line)."},
  {"code": "HMS_QUANTITY_EXCEEDS_OUTSTANDING", "http_status": 422, "meaning": "More is received than the purchase order line has outstanding (details.outstanding)."},
  {"code": "HMS_REJECTION_REASON_REQUIRED", "http_status": 422, "meaning": "Units rejected at inspection need a rejection_reason on their line (details.line)."},
  {"code": "HMS_BATCH_REQUIRED", "http_status": 422, "meaning": "A medicine is received with the batch number printed on its pack (at most 64 characters; details.line)."},
  {"code": "HMS_EXPIRY_INVALID", "http_status": 422, "meaning": "A medicine is received with an expiry date after today (details.line, expiry_date)."},
  {"code": "HMS_BATCH_EXPIRY_MISMATCH", "http_status": 422, "meaning": "A batch number already on file is received with another expiry date (details.batch_id, expiry_date)."},
  {"code": "HMS_BATCH_NOT_RECEIVABLE", "http_status": 409, "meaning": "A recalled or expired batch is not topped up with new stock (details.batch_id, status)."},
  {"code": "HMS_DUPLICATE_SUPPLIER_INVOICE", "http_status": 409, "meaning": "That supplier invoice number was already received from this supplier."}
]$json$);

/* ---------------------------------------------------------------------------------------------
 * Money of purchase lines and documents
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.purchase_line_amounts(p_quantity numeric, p_unit_cost numeric, p_discount_percent numeric, p_tax_percent numeric,
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
comment on function app_hidden.purchase_line_amounts(numeric, numeric, numeric, numeric) is
  'Gross (quantity × unit cost), discount, tax and total of a purchase line (PO or GRN), each rounded to the cent: total = quantity × cost × (1 − discount %) × (1 + tax %).';
grant execute on function app_hidden.purchase_line_amounts(numeric, numeric, numeric, numeric) to :DATABASE_STAFF;

/* BEFORE INSERT/UPDATE on purchase_order_items (_200_line_total): the line's own total. */
create or replace function app_hidden.tg_purchase_order_items__line_total() returns trigger
language plpgsql
as $$
begin
  NEW.line_total := (app_hidden.purchase_line_amounts(NEW.quantity_ordered, NEW.unit_cost, NEW.discount_percent, NEW.tax_percent)).total;
  return NEW;
end;
$$;
comment on function app_hidden.tg_purchase_order_items__line_total() is
  'BEFORE INSERT/UPDATE on purchase_order_items: line_total of quantity_ordered at the line''s cost, discount and tax (purchase_line_amounts).';

/* BEFORE INSERT/UPDATE on grn_items (_200_line_total): the line's own total. */
create or replace function app_hidden.tg_grn_items__line_total() returns trigger
language plpgsql
as $$
begin
  NEW.line_total := (app_hidden.purchase_line_amounts(NEW.quantity_received, NEW.unit_cost, NEW.discount_percent, NEW.tax_percent)).total;
  return NEW;
end;
$$;
comment on function app_hidden.tg_grn_items__line_total() is
  'BEFORE INSERT/UPDATE on grn_items: line_total of quantity_received at the line''s cost, discount and tax (purchase_line_amounts).';

/*
 * BEFORE INSERT/UPDATE on purchase_orders and goods_receipt_notes (_300_total_amount): total =
 * subtotal − discount + tax + shipping, so a change of the shipping charge keeps the total right.
 * A document inserted by a workflow RPC or the owner keeps the total it is given (the totals
 * CHECK holds it to the rule); every update and every client insert is computed.
 */
create or replace function app_hidden.tg__purchase_total_amount() returns trigger
language plpgsql
as $$
begin
  if TG_OP = 'UPDATE' or not app_hidden.is_trusted_writer() then
    NEW.total_amount := NEW.subtotal - NEW.discount_amount + NEW.tax_amount + NEW.shipping_amount;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__purchase_total_amount() is
  'BEFORE INSERT/UPDATE on purchase_orders and goods_receipt_notes: total_amount = subtotal − discount + tax + shipping.';

/* The amounts of a purchase order from its lines: subtotal, discount and tax are their sums. */
create or replace function app_hidden.refresh_purchase_order_totals(p_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := (select po.hospital_id from app_public.purchase_orders po where po.id = p_id);
  v_gross numeric;
  v_discount numeric;
  v_tax numeric;
begin
  select coalesce(sum(a.gross), 0), coalesce(sum(a.discount), 0), coalesce(sum(a.tax), 0) into v_gross, v_discount, v_tax
    from app_public.purchase_order_items i
   cross join lateral app_hidden.purchase_line_amounts(i.quantity_ordered, i.unit_cost, i.discount_percent, i.tax_percent) a
   where i.hospital_id = v_hospital and i.purchase_order_id = p_id;
  update app_public.purchase_orders po
     set subtotal = v_gross, discount_amount = v_discount, tax_amount = v_tax
   where po.id = p_id and (po.subtotal, po.discount_amount, po.tax_amount) is distinct from (v_gross, v_discount, v_tax);
end;
$$;
comment on function app_hidden.refresh_purchase_order_totals(uuid) is
  'Sets a purchase order''s subtotal, discount_amount and tax_amount to the sums over its lines (purchase_line_amounts of quantity_ordered); its total follows (_300_total_amount).';

/* The amounts of a goods receipt note from its lines: subtotal, discount and tax are their sums. */
create or replace function app_hidden.refresh_goods_receipt_totals(p_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := (select g.hospital_id from app_public.goods_receipt_notes g where g.id = p_id);
  v_gross numeric;
  v_discount numeric;
  v_tax numeric;
begin
  select coalesce(sum(a.gross), 0), coalesce(sum(a.discount), 0), coalesce(sum(a.tax), 0) into v_gross, v_discount, v_tax
    from app_public.grn_items i
   cross join lateral app_hidden.purchase_line_amounts(i.quantity_received, i.unit_cost, i.discount_percent, i.tax_percent) a
   where i.hospital_id = v_hospital and i.grn_id = p_id;
  update app_public.goods_receipt_notes g
     set subtotal = v_gross, discount_amount = v_discount, tax_amount = v_tax
   where g.id = p_id and (g.subtotal, g.discount_amount, g.tax_amount) is distinct from (v_gross, v_discount, v_tax);
end;
$$;
comment on function app_hidden.refresh_goods_receipt_totals(uuid) is
  'Sets a goods receipt note''s subtotal, discount_amount and tax_amount to the sums over its lines (purchase_line_amounts of quantity_received); its total follows (_300_total_amount).';

drop trigger if exists _200_before on app_public.purchase_order_items;
drop trigger if exists _800_touch_order on app_public.purchase_order_items;
drop trigger if exists _200_line_total on app_public.purchase_order_items;
create trigger _200_line_total before insert or update on app_public.purchase_order_items
  for each row execute function app_hidden.tg_purchase_order_items__line_total();
drop trigger if exists _200_before on app_public.grn_items;
drop trigger if exists _800_touch_grn on app_public.grn_items;
drop trigger if exists _200_line_total on app_public.grn_items;
create trigger _200_line_total before insert or update on app_public.grn_items
  for each row execute function app_hidden.tg_grn_items__line_total();

drop trigger if exists _200_workflow on app_public.purchase_orders;
drop trigger if exists _300_totals on app_public.purchase_orders;
drop trigger if exists _300_total_amount on app_public.purchase_orders;
create trigger _300_total_amount before insert or update on app_public.purchase_orders
  for each row execute function app_hidden.tg__purchase_total_amount();
drop trigger if exists _200_workflow on app_public.goods_receipt_notes;
drop trigger if exists _300_totals on app_public.goods_receipt_notes;
drop trigger if exists _300_total_amount on app_public.goods_receipt_notes;
create trigger _300_total_amount before insert or update on app_public.goods_receipt_notes
  for each row execute function app_hidden.tg__purchase_total_amount();

select app_hidden.refresh_totals_from('app_public.purchase_order_items', 'purchase_order_id', 'app_hidden.refresh_purchase_order_totals');
select app_hidden.refresh_totals_from('app_public.grn_items', 'grn_id', 'app_hidden.refresh_goods_receipt_totals');

comment on column app_public.purchase_orders.subtotal is
  E'Sum of the lines'' quantity × unit cost before discount. Maintained from the lines by the database; clients never send it.';
comment on column app_public.purchase_orders.discount_amount is 'Total discount of the lines (Σ quantity × unit cost × discount %). Maintained from the lines by the database.';
comment on column app_public.purchase_orders.tax_amount is 'Total tax of the lines (on the discounted amounts). Maintained from the lines by the database.';
comment on column app_public.purchase_orders.total_amount is
  E'Order value: subtotal − discount + tax + shipping. Maintained by the database; clients never send it.';
comment on column app_public.purchase_order_items.quantity_received is
  E'Paid quantity accepted so far (received − rejected of each GRN line), in base units (0 … quantity_ordered). Maintained by receive_goods.';
comment on column app_public.purchase_order_items.line_total is
  E'quantity_ordered × unit_cost × (1 − discount %) × (1 + tax %), rounded to the cent. Computed by the database.';
comment on column app_public.goods_receipt_notes.subtotal is
  E'Sum of the lines'' quantity received × unit cost before discount. Maintained from the lines by the database.';
comment on column app_public.goods_receipt_notes.discount_amount is 'Total discount of the lines. Maintained from the lines by the database.';
comment on column app_public.goods_receipt_notes.tax_amount is 'Total tax of the lines. Maintained from the lines by the database.';
comment on column app_public.goods_receipt_notes.total_amount is
  E'Receipt value: subtotal − discount + tax + shipping. Maintained by the database; clients never send it.';
comment on column app_public.grn_items.line_total is
  E'quantity_received × unit_cost × (1 − discount %) × (1 + tax %), rounded to the cent. Computed by the database.';
comment on column app_public.grn_items.batch_id is
  E'Medicine batch (of medicine_id) created or topped up when the GRN was posted by receive_goods (null when nothing was accepted).';

/* ---------------------------------------------------------------------------------------------
 * RPCs: purchase orders
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.create_purchase_order(uuid, jsonb, date, text);
create function app_public.create_purchase_order(
  supplier_id uuid,
  items jsonb,
  expected_delivery_date date default null,
  notes text default null
) returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_today date := app_hidden.hospital_today(v_hospital);
  v_supplier app_public.suppliers := app_hidden.find_or_404(null::app_public.suppliers, create_purchase_order.supplier_id);
  v_po app_public.purchase_orders;
  v_medicine_row app_public.medicines;
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
  if not v_supplier.is_active then
    perform app_hidden.raise_error('HMS_SUPPLIER_INACTIVE', format('%s is no longer an active supplier.', v_supplier.name),
      jsonb_build_object('supplier_id', v_supplier.id));
  end if;
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    perform app_hidden.raise_error('HMS_ITEMS_REQUIRED', 'A purchase order needs at least one line (items: a non-empty JSON array).');
  end if;
  if create_purchase_order.expected_delivery_date is not null and create_purchase_order.expected_delivery_date < v_today then
    perform app_hidden.raise_error('HMS_INVALID_DATE', 'The expected delivery date cannot be in the past.',
      jsonb_build_object('field', 'expected_delivery_date'));
  end if;

  insert into app_public.purchase_orders (hospital_id, supplier_id, status, expected_delivery_date, currency_code, notes, payment_terms)
  values (v_hospital, v_supplier.id, 'draft', create_purchase_order.expected_delivery_date, v_supplier.currency_code,
          create_purchase_order.notes,
          case when v_supplier.payment_terms_days is not null then format('Net %s days', v_supplier.payment_terms_days) end)
  returning * into v_po;

  for v_item in select value from jsonb_array_elements(items) loop
    v_line := v_line + 1;
    if jsonb_typeof(v_item) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s is not a JSON object.', v_line), jsonb_build_object('line', v_line));
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
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s has a value of the wrong type (%s).', v_line, sqlerrm),
        jsonb_build_object('line', v_line));
    end;
    if num_nonnulls(v_medicine, v_product) > 1 or (num_nonnulls(v_medicine, v_product) = 0 and v_description is null) then
      perform app_hidden.raise_error('HMS_ITEM_INVALID',
        format('Line %s must name one medicine_id or one optical_product_id (or describe a consumable).', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_qty is null or v_qty <= 0 or v_free < 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: the quantity ordered must be a whole number above 0 (free quantity at least 0).', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_cost is null or v_cost < 0 then
      perform app_hidden.raise_error('HMS_INVALID_PRICE', format('Line %s: unit_cost is required and cannot be negative.', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_disc not between 0 and 100 or v_tax not between 0 and 100 then
      perform app_hidden.raise_error('HMS_INVALID_PERCENT', format('Line %s: discount and tax percentages are between 0 and 100.', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_pack is not null and v_pack <= 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: pack_size must be above 0.', v_line), jsonb_build_object('line', v_line));
    end if;
    if v_medicine is not null then
      v_type := 'medicine';
      v_has_medicine := true;
      v_medicine_row := app_hidden.find_or_404(null::app_public.medicines, v_medicine);
      v_pack := coalesce(v_pack, v_medicine_row.pack_size);
      v_description := coalesce(v_description, v_medicine_row.generic_name);
    elsif v_product is not null then
      v_type := 'optical_product';
      v_description := coalesce(v_description, (app_hidden.find_or_404(null::app_public.optical_products, v_product)).name);
    else
      v_type := 'consumable';
    end if;
    insert into app_public.purchase_order_items
      (hospital_id, purchase_order_id, line_number, item_type, medicine_id, optical_product_id, description, pack_size,
       quantity_ordered, free_quantity, unit_cost, discount_percent, tax_percent, expected_date, notes)
    values (v_hospital, v_po.id, v_line, v_type, v_medicine, v_product, v_description, coalesce(v_pack, 1),
            v_qty, v_free, v_cost, v_disc, v_tax, v_expected, v_item ->> 'notes');
  end loop;

  if v_has_medicine and v_supplier.drug_licence_expiry is not null and v_supplier.drug_licence_expiry < v_today then
    perform app_hidden.raise_error('HMS_SUPPLIER_LICENCE_EXPIRED',
      format('The drug licence of %s expired on %s: medicines cannot be ordered from it.', v_supplier.name, v_supplier.drug_licence_expiry),
      jsonb_build_object('supplier_id', v_supplier.id, 'drug_licence_expiry', v_supplier.drug_licence_expiry));
  end if;

  select * into v_po from app_public.purchase_orders po where po.id = v_po.id;
  return v_po;
end;
$$;
comment on function app_public.create_purchase_order(uuid, jsonb, date, text) is
E'Creates a draft purchase order with its lines (needs inventory.manage). items: [{medicine_id | optical_product_id | description (consumable), quantity_ordered, unit_cost, discount_percent?, tax_percent?, free_quantity?, pack_size?, expected_date?, notes?}]. Line totals = qty × cost × (1 − discount%) × (1 + tax%) and the order totals are computed by the database. Returns the purchase order; its lines are GET /purchase_order_items?purchase_order_id=eq.<id> (a request reads what an earlier one wrote: an embed in the same request shows the data as it was before the call).\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (supplier, medicine, optical product); 422 HMS_SUPPLIER_INACTIVE, HMS_SUPPLIER_LICENCE_EXPIRED, HMS_ITEMS_REQUIRED, HMS_ITEM_INVALID, HMS_INVALID_QUANTITY, HMS_INVALID_PRICE, HMS_INVALID_PERCENT, HMS_INVALID_DATE, HMS_INVALID_INPUT.';
grant execute on function app_public.create_purchase_order(uuid, jsonb, date, text) to :DATABASE_STAFF;

drop function if exists app_public.approve_purchase_order(uuid);
create function app_public.approve_purchase_order(po_id uuid) returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_po app_public.purchase_orders := app_hidden.lock_or_404(null::app_public.purchase_orders, po_id);
begin
  perform app_hidden.require_transition('app_public.purchase_orders', v_po.status, 'approved');
  perform app_hidden.require_other_user(v_po.created_by, 'raised');
  update app_public.purchase_orders po set status = 'approved' where po.id = v_po.id and po.hospital_id = v_hospital
  returning * into v_po;
  return v_po;
end;
$$;
comment on function app_public.approve_purchase_order(uuid) is
E'Approves a draft purchase order (needs inventory.approve); the approver must not be the person who raised it. approved_by and approved_at come from the session. Returns the purchase order.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not a draft), HMS_APPROVAL_BY_OTHER_USER.';
grant execute on function app_public.approve_purchase_order(uuid) to :DATABASE_STAFF;

drop function if exists app_public.send_purchase_order(uuid);
create function app_public.send_purchase_order(po_id uuid) returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_po app_public.purchase_orders := app_hidden.lock_or_404(null::app_public.purchase_orders, po_id);
begin
  perform app_hidden.require_transition('app_public.purchase_orders', v_po.status, 'sent');
  update app_public.purchase_orders po set status = 'sent' where po.id = v_po.id and po.hospital_id = v_hospital
  returning * into v_po;
  return v_po;
end;
$$;
comment on function app_public.send_purchase_order(uuid) is
E'Marks an approved purchase order as sent to the supplier (needs inventory.manage); sent_at is stamped. Returns the purchase order.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not approved).';
grant execute on function app_public.send_purchase_order(uuid) to :DATABASE_STAFF;

drop function if exists app_public.cancel_purchase_order(uuid, text);
create function app_public.cancel_purchase_order(po_id uuid, reason text) returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_po app_public.purchase_orders := app_hidden.lock_or_404(null::app_public.purchase_orders, po_id);
begin
  perform app_hidden.require_transition('app_public.purchase_orders', v_po.status, 'cancelled');
  update app_public.purchase_orders po
     set status = 'cancelled', cancellation_reason = nullif(trim(cancel_purchase_order.reason), '')
   where po.id = v_po.id and po.hospital_id = v_hospital
  returning * into v_po;
  return v_po;
end;
$$;
comment on function app_public.cancel_purchase_order(uuid, text) is
E'Cancels a draft, approved or sent purchase order with a reason (needs inventory.manage); cancelled_by and cancelled_at come from the session. Orders with goods received cannot be cancelled. Returns the purchase order.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION; 422 HMS_REASON_REQUIRED.';
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
) returns app_public.goods_receipt_notes
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_user uuid := app_hidden.current_user_id();
  v_now timestamptz := app_hidden.now();
  v_today date := app_hidden.hospital_today(v_hospital);
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
begin
  if receive_goods.purchase_order_id is null and receive_goods.supplier_id is null then
    perform app_hidden.raise_error('HMS_SUPPLIER_REQUIRED', 'Name the purchase order received against, or the supplier of a direct receipt.');
  end if;
  if receive_goods.purchase_order_id is not null then
    v_po := app_hidden.lock_or_404(null::app_public.purchase_orders, receive_goods.purchase_order_id);
    if receive_goods.supplier_id is not null and receive_goods.supplier_id <> v_po.supplier_id then
      perform app_hidden.raise_error('HMS_SUPPLIER_MISMATCH', 'The supplier is not the supplier of the purchase order.',
        jsonb_build_object('purchase_order_supplier_id', v_po.supplier_id, 'supplier_id', receive_goods.supplier_id));
    end if;
    if v_po.status not in ('approved', 'sent', 'partially_received') then
      perform app_hidden.raise_error('HMS_PURCHASE_ORDER_NOT_RECEIVABLE',
        format('Goods are received only against an approved, sent or partially received purchase order (this one is %s).', v_po.status),
        jsonb_build_object('purchase_order_id', v_po.id, 'status', v_po.status));
    end if;
  end if;
  v_supplier := app_hidden.find_or_404(null::app_public.suppliers, coalesce(v_po.supplier_id, receive_goods.supplier_id));
  if v_po.id is null and not v_supplier.is_active then
    perform app_hidden.raise_error('HMS_SUPPLIER_INACTIVE', format('%s is no longer an active supplier.', v_supplier.name),
      jsonb_build_object('supplier_id', v_supplier.id));
  end if;
  if receive_goods.department_id is not null then
    perform app_hidden.find_or_404(null::app_public.departments, receive_goods.department_id);
  end if;
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    perform app_hidden.raise_error('HMS_ITEMS_REQUIRED', 'A goods receipt needs at least one line (items: a non-empty JSON array).');
  end if;
  if receive_goods.supplier_invoice_amount is not null and receive_goods.supplier_invoice_amount < 0 then
    perform app_hidden.raise_error('HMS_INVALID_PRICE', 'The supplier invoice amount cannot be negative.');
  end if;
  if nullif(trim(receive_goods.supplier_invoice_number), '') is not null and exists (
       select 1 from app_public.goods_receipt_notes g
        where g.hospital_id = v_hospital and g.supplier_id = v_supplier.id
          and g.supplier_invoice_number = trim(receive_goods.supplier_invoice_number)
          and g.status <> 'cancelled' and not g.is_deleted) then
    perform app_hidden.raise_error('HMS_DUPLICATE_SUPPLIER_INVOICE',
      format('Supplier invoice %s of %s was already received.', trim(receive_goods.supplier_invoice_number), v_supplier.name),
      jsonb_build_object('supplier_invoice_number', trim(receive_goods.supplier_invoice_number)));
  end if;

  insert into app_public.goods_receipt_notes
    (hospital_id, purchase_order_id, supplier_id, department_id, received_at, received_by, supplier_invoice_number,
     supplier_invoice_date, supplier_invoice_amount, delivery_note_number, status, posted_at, posted_by, notes)
  values (v_hospital, v_po.id, v_supplier.id, coalesce(receive_goods.department_id, v_po.department_id), v_now, v_user,
          nullif(trim(receive_goods.supplier_invoice_number), ''), receive_goods.supplier_invoice_date,
          receive_goods.supplier_invoice_amount, receive_goods.delivery_note_number, 'posted', v_now, v_user, receive_goods.notes)
  returning * into v_grn;

  for v_item in select value from jsonb_array_elements(items) loop
    v_line := v_line + 1;
    if jsonb_typeof(v_item) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s is not a JSON object.', v_line), jsonb_build_object('line', v_line));
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
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s has a value of the wrong type (%s).', v_line, sqlerrm),
        jsonb_build_object('line', v_line));
    end;

    -- The purchase order line: named, or the one line of the order with the same item.
    v_poi := null;
    if v_poi_id is not null then
      if v_po.id is null then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s names a purchase order line but no purchase order is given.', v_line),
          jsonb_build_object('line', v_line));
      end if;
      v_poi := app_hidden.lock_or_404(null::app_public.purchase_order_items, v_poi_id);
      if v_poi.purchase_order_id <> v_po.id then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s: that line belongs to another purchase order.', v_line),
          jsonb_build_object('line', v_line, 'purchase_order_item_id', v_poi_id));
      end if;
    elsif v_po.id is not null then
      select count(*) into v_count from app_public.purchase_order_items i
       where i.hospital_id = v_hospital and i.purchase_order_id = v_po.id
         and ((v_medicine is not null and i.medicine_id = v_medicine) or (v_product is not null and i.optical_product_id = v_product));
      if v_count <> 1 then
        perform app_hidden.raise_error('HMS_PO_ITEM_REQUIRED',
          format('Line %s: say which purchase order line (purchase_order_item_id) it receives.', v_line), jsonb_build_object('line', v_line));
      end if;
      select * into v_poi from app_public.purchase_order_items i
       where i.hospital_id = v_hospital and i.purchase_order_id = v_po.id
         and ((v_medicine is not null and i.medicine_id = v_medicine) or (v_product is not null and i.optical_product_id = v_product))
         for update;
    end if;
    if v_poi.id is not null then
      if (v_medicine is not null and v_medicine is distinct from v_poi.medicine_id)
         or (v_product is not null and v_product is distinct from v_poi.optical_product_id) then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s: the item is not the item of the purchase order line.', v_line),
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
        format('Line %s must name one medicine_id or one optical_product_id (or describe a consumable).', v_line), jsonb_build_object('line', v_line));
    end if;
    if v_qty is null or v_qty <= 0 or v_free < 0 or v_rejected < 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY',
        format('Line %s: quantity_received must be above 0; free_quantity and quantity_rejected at least 0.', v_line), jsonb_build_object('line', v_line));
    end if;
    if v_rejected > v_qty + v_free then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: more units rejected than delivered.', v_line), jsonb_build_object('line', v_line));
    end if;
    if v_rejected > 0 and nullif(trim(v_item ->> 'rejection_reason'), '') is null then
      perform app_hidden.raise_error('HMS_REJECTION_REASON_REQUIRED', format('Line %s: say why units were rejected (rejection_reason).', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_cost is null or v_cost < 0 or v_mrp < 0 or v_price < 0 or (v_mrp is not null and v_price is not null and v_price > v_mrp) then
      perform app_hidden.raise_error('HMS_INVALID_PRICE',
        format('Line %s: unit_cost is required; prices cannot be negative and the selling price cannot exceed the MRP.', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if coalesce(v_disc, 0) not between 0 and 100 or coalesce(v_tax, 0) not between 0 and 100 then
      perform app_hidden.raise_error('HMS_INVALID_PERCENT', format('Line %s: discount and tax percentages are between 0 and 100.', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_poi.id is not null and v_qty > v_poi.quantity_ordered - v_poi.quantity_received then
      perform app_hidden.raise_error('HMS_QUANTITY_EXCEEDS_OUTSTANDING',
        format('Line %s: %s received but only %s of the purchase order line are outstanding.', v_line, v_qty,
               v_poi.quantity_ordered - v_poi.quantity_received),
        jsonb_build_object('line', v_line, 'purchase_order_item_id', v_poi.id, 'outstanding', v_poi.quantity_ordered - v_poi.quantity_received,
                           'quantity_received', v_qty));
    end if;

    v_accepted := v_qty + v_free - v_rejected;
    v_any_rejected := v_any_rejected or v_rejected > 0;
    v_any_accepted := v_any_accepted or v_accepted > 0;
    v_batch := null;

    if v_medicine is not null then
      v_type := 'medicine';
      perform app_hidden.find_or_404(null::app_public.medicines, v_medicine);
      if v_po.id is null and v_supplier.drug_licence_expiry is not null and v_supplier.drug_licence_expiry < v_today then
        perform app_hidden.raise_error('HMS_SUPPLIER_LICENCE_EXPIRED',
          format('The drug licence of %s expired on %s: medicines cannot be bought from it.', v_supplier.name, v_supplier.drug_licence_expiry),
          jsonb_build_object('supplier_id', v_supplier.id, 'drug_licence_expiry', v_supplier.drug_licence_expiry));
      end if;
      if v_batch_number is null or length(v_batch_number) > 64 then
        perform app_hidden.raise_error('HMS_BATCH_REQUIRED', format('Line %s: the batch number printed on the pack is required (at most 64 characters).', v_line),
          jsonb_build_object('line', v_line));
      end if;
      if v_expiry is null or v_expiry <= v_today then
        perform app_hidden.raise_error('HMS_EXPIRY_INVALID', format('Line %s: a medicine needs an expiry date in the future.', v_line),
          jsonb_build_object('line', v_line, 'expiry_date', v_expiry));
      end if;
      if v_mfg is not null and (v_mfg >= v_expiry or v_mfg > v_today) then
        perform app_hidden.raise_error('HMS_INVALID_DATE', format('Line %s: the manufacture date must be before the expiry date and not in the future.', v_line),
          jsonb_build_object('line', v_line, 'field', 'manufacture_date'));
      end if;
      if v_accepted > 0 then
        select * into v_batch from app_public.medicine_batches b
         where b.hospital_id = v_hospital and b.medicine_id = v_medicine and b.batch_number = v_batch_number
           for update;
        if found then
          if v_batch.expiry_date <> v_expiry then
            perform app_hidden.raise_error('HMS_BATCH_EXPIRY_MISMATCH',
              format('Line %s: batch %s is on file with expiry %s, not %s.', v_line, v_batch_number, v_batch.expiry_date, v_expiry),
              jsonb_build_object('line', v_line, 'batch_id', v_batch.id, 'expiry_date', v_batch.expiry_date));
          end if;
          if v_batch.status in ('recalled', 'expired') then
            perform app_hidden.raise_error('HMS_BATCH_NOT_RECEIVABLE',
              format('Line %s: batch %s is %s and cannot be topped up.', v_line, v_batch_number, v_batch.status),
              jsonb_build_object('line', v_line, 'batch_id', v_batch.id, 'status', v_batch.status));
          end if;
          if coalesce(v_price, v_batch.selling_price) > coalesce(v_mrp, v_batch.mrp) then
            perform app_hidden.raise_error('HMS_INVALID_PRICE',
              format('Line %s: the selling price of batch %s cannot exceed its MRP.', v_line, v_batch_number), jsonb_build_object('line', v_line));
          end if;
          update app_public.medicine_batches b
             set quantity_received = b.quantity_received + v_accepted,
                 mrp = coalesce(v_mrp, b.mrp),
                 selling_price = coalesce(v_price, b.selling_price),
                 manufacture_date = coalesce(b.manufacture_date, v_mfg),
                 received_at = v_now
           where b.id = v_batch.id
          returning * into v_batch;
        else
          insert into app_public.medicine_batches
            (hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, quantity_received, quantity_on_hand,
             unit_cost, mrp, selling_price, received_at, storage_location, status)
          values (v_hospital, v_medicine, v_batch_number, v_mfg, v_expiry, v_accepted, 0, v_cost, v_mrp, v_price, v_now,
                  nullif(trim(v_item ->> 'storage_location'), ''), 'active')
          returning * into v_batch;
        end if;
      end if;
    elsif v_product is not null then
      v_type := 'optical_product';
      perform app_hidden.find_or_404(null::app_public.optical_products, v_product);
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

    -- Into the ledger (4100-stock.sql): its trigger applies the quantity and records who and the balance.
    if v_accepted > 0 and v_type = 'medicine' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, unit_cost, grn_item_id, reason)
      values (v_hospital, 'goods_receipt', 'medicine', v_medicine, v_batch.id, v_accepted, 0, v_cost, v_grn_item.id,
              format('Goods receipt %s, line %s.', v_grn.grn_number, v_line));
    elsif v_accepted > 0 and v_type = 'optical_product' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after, unit_cost, grn_item_id, reason)
      values (v_hospital, 'goods_receipt', 'optical_product', v_product, v_accepted, 0, v_cost, v_grn_item.id,
              format('Goods receipt %s, line %s.', v_grn.grn_number, v_line));
    end if;

    if v_poi.id is not null then
      update app_public.purchase_order_items i
         set quantity_received = i.quantity_received + greatest(v_qty - v_rejected, 0)
       where i.id = v_poi.id;
    end if;
  end loop;

  update app_public.goods_receipt_notes g
     set inspection_status = case when not v_any_rejected then 'passed' when v_any_accepted then 'partial' else 'failed' end,
         inspected_at = v_now, inspected_by = v_user
   where g.id = v_grn.id
  returning * into v_grn;

  if v_po.id is not null then
    -- An order received before it was marked sent was sent all the same.
    update app_public.purchase_orders po
       set status = case when exists (select 1 from app_public.purchase_order_items i
                                        where i.hospital_id = v_hospital and i.purchase_order_id = po.id
                                          and i.quantity_received < i.quantity_ordered)
                         then 'partially_received' else 'received' end,
           sent_at = coalesce(po.sent_at, v_now)
     where po.id = v_po.id;
  end if;

  return v_grn;
end;
$$;
comment on function app_public.receive_goods(uuid, uuid, jsonb, text, date, numeric, text, uuid, text) is
E'Receives a delivery and posts its goods receipt note (needs inventory.manage), against a purchase order (approved, sent or partially received) or directly from a supplier. items: [{purchase_order_item_id?, medicine_id | optical_product_id | description, batch_number, manufacture_date?, expiry_date, quantity_received, free_quantity?, quantity_rejected?, rejection_reason?, unit_cost (default: the PO line''s), mrp?, selling_price?, discount_percent?, tax_percent?, storage_location?}]. For each medicine line the batch with that number is topped up or created, and a goods_receipt stock movement of the accepted quantity (received + free − rejected) is written; optical lines move the product''s stock; received − rejected counts against the PO line, and the order becomes partially_received or received (closed). Returns the goods receipt note; what it did is read with the next request: GET /grn_items?grn_id=eq.<id>&select=*,stock_movements(*) (batch_id, quantity_accepted, the movements and their balance_after) and the purchase order''s new status.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (purchase order, supplier, purchase order line, medicine, optical product, department); 409 HMS_PURCHASE_ORDER_NOT_RECEIVABLE, HMS_DUPLICATE_SUPPLIER_INVOICE, HMS_BATCH_NOT_RECEIVABLE; 422 HMS_SUPPLIER_REQUIRED, HMS_SUPPLIER_MISMATCH, HMS_SUPPLIER_INACTIVE, HMS_SUPPLIER_LICENCE_EXPIRED (direct receipt of medicines), HMS_ITEMS_REQUIRED, HMS_ITEM_INVALID, HMS_PO_ITEM_REQUIRED, HMS_PO_ITEM_MISMATCH, HMS_QUANTITY_EXCEEDS_OUTSTANDING, HMS_INVALID_QUANTITY, HMS_REJECTION_REASON_REQUIRED, HMS_INVALID_PRICE, HMS_INVALID_PERCENT, HMS_BATCH_REQUIRED, HMS_EXPIRY_INVALID, HMS_BATCH_EXPIRY_MISMATCH, HMS_INVALID_DATE, HMS_INVALID_INPUT.';
grant execute on function app_public.receive_goods(uuid, uuid, jsonb, text, date, numeric, text, uuid, text) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * Status machines, document locks, registration
 * ------------------------------------------------------------------------------------------- */

select app_hidden.declare_status_machine('app_public.purchase_orders', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "approved", "via": "approve_purchase_order", "permission": "inventory.approve", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "approved", "to": "sent", "via": "send_purchase_order", "stamp_at": "sent_at"},
  {"from": "approved", "to": "partially_received", "via": "receive_goods"},
  {"from": "approved", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "sent", "to": "partially_received", "via": "receive_goods"},
  {"from": "sent", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "partially_received", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "draft", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "approved", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "sent", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);

-- receive_goods creates the GRN already posted (and stamps it); a GRN entered as a draft is posted only by it.
select app_hidden.declare_status_machine('app_public.goods_receipt_notes', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "posted", "via": "receive_goods", "stamp_at": "posted_at", "stamp_by": "posted_by"}
]$json$);

-- After the draft, an order keeps its supplier, prices and lines; its delivery details and notes still change.
select app_hidden.lock_document('app_public.purchase_orders', '{draft}',
  still_editable => '{status,is_urgent,order_date,expected_delivery_date,supplier_quotation_reference,payment_terms,delivery_address,notes}');
select app_hidden.lock_document('app_public.purchase_order_items', '{draft}', still_editable => '{notes}',
  document => 'app_public.purchase_orders', document_column => 'purchase_order_id');
-- A posted GRN keeps what arrived and its amounts; its invoice references and notes still change.
select app_hidden.lock_document('app_public.goods_receipt_notes', '{draft}',
  still_editable => '{status,department_id,supplier_invoice_number,supplier_invoice_date,supplier_invoice_amount,delivery_note_number,notes}');
select app_hidden.lock_document('app_public.grn_items', '{draft}', still_editable => '{notes}',
  document => 'app_public.goods_receipt_notes', document_column => 'grn_id');

select app_hidden.register_table('app_public.suppliers', 'supplier',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}');
select app_hidden.register_table('app_public.purchase_orders', 'purchase order',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage,inventory.approve}', delete_permissions => '{inventory.manage}',
  protected_columns => '{subtotal,discount_amount,tax_amount,total_amount,cancellation_reason}');
select app_hidden.register_table('app_public.purchase_order_items', 'purchase order line',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}',
  protected_columns => '{quantity_received,line_total}', immutable_columns => '{purchase_order_id}');
select app_hidden.register_table('app_public.goods_receipt_notes', 'goods receipt note',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}',
  protected_columns => '{subtotal,discount_amount,tax_amount,total_amount,received_by,inspection_status,inspected_by,inspected_at,cancelled_at,cancelled_by,cancellation_reason}');
select app_hidden.register_table('app_public.grn_items', 'goods receipt line',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}',
  protected_columns => '{line_total,batch_id}', immutable_columns => '{grn_id}');

/* Dropped: the supply-chain dialect (sc_*) and the triggers that the kit's mechanisms and the functions above replace. */
drop function if exists app_hidden.tg_purchase_orders__workflow();
drop function if exists app_hidden.tg_purchase_orders__totals();
drop function if exists app_hidden.tg_purchase_order_items__before();
drop function if exists app_hidden.tg_purchase_order_items__touch_order();
drop function if exists app_hidden.tg_goods_receipt_notes__workflow();
drop function if exists app_hidden.tg_goods_receipt_notes__totals();
drop function if exists app_hidden.tg_grn_items__before();
drop function if exists app_hidden.tg_grn_items__touch_grn();
drop function if exists app_hidden.sc_po_json(app_public.purchase_orders);
drop function if exists app_hidden.sc_lock_purchase_order(uuid, uuid);
drop function if exists app_hidden.sc_line_amounts(numeric, numeric, numeric, numeric);

--! split: 4100-stock.sql
/*
 * Stock — the ledger and the two documents by which staff correct it (tables:
 * db/schema/app_public/tables/stock_movements.sql, stock_adjustments.sql, cycle_counts.sql,
 * cycle_count_items.sql), on the kit.
 *
 * The ledger (DESIGN.md §8). stock_movements is the only way a stock level changes, and the
 * contract every stocking workflow relies on (goods receipt, dispensing and patient returns,
 * optical sales, adjustments, cycle counts): they insert a movement and its BEFORE INSERT trigger
 * locks the batch (or optical product) row, refuses to take it below zero (409
 * HMS_INSUFFICIENT_STOCK), applies the signed quantity (a batch at 0 is depleted, above 0 active
 * again) and records the resulting balance in balance_after, attributed to the member of staff
 * whose request moved it. The row lock serialises concurrent movements of one batch, so parallel
 * dispensing of the last units never goes negative: the losers get the 409. Movements are
 * append-only (HMS_APPEND_ONLY; corrections are new movements) and clients never write them, so
 * every batch's quantity_on_hand always equals the sum of its movements.
 *
 * Adjustments: request_stock_adjustment → pending_approval; approve_stock_adjustment (another
 * user, inventory.approve) → approved + one adjustment_increase / adjustment_decrease movement;
 * reject_stock_adjustment → rejected, with a reason. What is adjusted and by how much is fixed
 * once requested; an approved adjustment moved stock and stays on file.
 *
 * Cycle counts: start_cycle_count → counting (system quantities snapshotted per line);
 * record_count per line; complete_cycle_count → counted (every line counted); approve_cycle_count
 * (another user than the one who started it, inventory.approve) → approved + one
 * cycle_count_variance movement per line whose variance is not 0. Lines come only from
 * start_cycle_count and are counted only by record_count; staff may still explain a variance
 * (reason). An approved count moved stock and stays on file.
 *
 * Batches keep moving while a count is under way (the pharmacy keeps dispensing): the system
 * quantity of a line is taken again, from the live balance, when its count is recorded, so
 * variance_quantity = counted − on hand when the shelf was counted. Approval applies that
 * variance to the current balance: movements before the count are part of the system quantity,
 * movements after it are kept — neither is mistaken for a variance.
 */

select app_hidden.register_error_codes('stock', $json$[
  {"code": "HMS_STOCK_ITEM_NOT_FOUND", "http_status": 404, "meaning": "The batch (of that medicine) or optical product of a stock movement does not exist in this hospital (details.batch_id, optical_product_id)."},
  {"code": "HMS_INSUFFICIENT_STOCK", "http_status": 409, "meaning": "Not enough stock: the movement would take the batch or product below zero (details.on_hand, requested); nothing is written."},
  {"code": "HMS_INVALID_REASON", "http_status": 422, "meaning": "The adjustment reason is not one of damage, expiry, theft_loss, found, data_correction, donation, sample, return_to_supplier, other."},
  {"code": "HMS_ADJUSTMENT_SIGN_MISMATCH", "http_status": 422, "meaning": "The reason and the sign of the change disagree: damage, expiry, theft_loss and return_to_supplier remove stock, found adds it."},
  {"code": "HMS_REASON_NOTES_REQUIRED", "http_status": 422, "meaning": "An adjustment for data_correction or other is explained in reason_notes."},
  {"code": "HMS_INVALID_SCOPE", "http_status": 422, "meaning": "A cycle count's scope is full, partial, medicine_category or location."},
  {"code": "HMS_CATEGORY_REQUIRED", "http_status": 422, "meaning": "A medicine_category count names the category (therapeutic class) it counts."},
  {"code": "HMS_LOCATION_REQUIRED", "http_status": 422, "meaning": "A location count names the location (or the department store) it counts."},
  {"code": "HMS_NOTHING_TO_COUNT", "http_status": 422, "meaning": "No stock matches the scope of the cycle count (details.scope, category, location)."},
  {"code": "HMS_CYCLE_COUNT_NOT_COUNTING", "http_status": 409, "meaning": "Counts are recorded only while the cycle count is counting (details.status)."},
  {"code": "HMS_COUNT_INCOMPLETE", "http_status": 422, "meaning": "Some lines of the cycle count are not counted yet (details.uncounted)."}
]$json$);

/* ---------------------------------------------------------------------------------------------
 * The ledger
 * ------------------------------------------------------------------------------------------- */

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
    perform app_hidden.raise_error('HMS_STOCK_ITEM_NOT_FOUND', 'The batch or product of this stock movement does not exist in this hospital.',
      jsonb_build_object('batch_id', NEW.batch_id, 'optical_product_id', NEW.optical_product_id));
  end if;
  if v_on_hand + NEW.quantity < 0 then
    perform app_hidden.raise_error('HMS_INSUFFICIENT_STOCK',
      format('Not enough stock of %s: %s on hand, %s needed.', v_name, v_on_hand, -NEW.quantity),
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
  -- The member of staff whose request moved the stock; the owner without a session (demo data) may name one.
  NEW.performed_by := coalesce(app_hidden.current_user_id(), NEW.performed_by);
  return NEW;
end;
$$;
comment on function app_hidden.tg_stock_movements__apply() is
  'BEFORE INSERT on stock_movements (the ledger): locks the batch or product, refuses to go below zero (HMS_INSUFFICIENT_STOCK), applies the quantity, records balance_after and who moved the stock (the session).';

drop trigger if exists _200_apply on app_public.stock_movements;
create trigger _200_apply before insert on app_public.stock_movements
  for each row execute function app_hidden.tg_stock_movements__apply();

comment on table app_public.stock_movements is
  E'The stock ledger: every signed change of a medicine batch or optical product, with the balance after it and its source document line. Append-only; written only by the workflows (through the ledger trigger), never by clients.';
comment on column app_public.stock_movements.performed_by is 'User whose request moved the stock (from the session).';

/* ---------------------------------------------------------------------------------------------
 * Cycle count totals
 * ------------------------------------------------------------------------------------------- */

/* The variance totals of a cycle count: the sums over its lines. */
create or replace function app_hidden.refresh_cycle_count_totals(p_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := (select c.hospital_id from app_public.cycle_counts c where c.id = p_id);
  v_quantity integer;
  v_value numeric;
begin
  select coalesce(sum(i.variance_quantity), 0), coalesce(sum(i.variance_value), 0) into v_quantity, v_value
    from app_public.cycle_count_items i
   where i.hospital_id = v_hospital and i.cycle_count_id = p_id;
  update app_public.cycle_counts c
     set total_variance_quantity = v_quantity, total_variance_value = v_value
   where c.id = p_id and (c.total_variance_quantity, c.total_variance_value) is distinct from (v_quantity, v_value);
end;
$$;
comment on function app_hidden.refresh_cycle_count_totals(uuid) is
  'Sets a cycle count''s total_variance_quantity and total_variance_value to the sums over its counted lines.';

drop trigger if exists _200_workflow on app_public.stock_adjustments;
drop trigger if exists _200_workflow on app_public.cycle_counts;
drop trigger if exists _300_totals on app_public.cycle_counts;
drop trigger if exists _200_before on app_public.cycle_count_items;
drop trigger if exists _800_touch_count on app_public.cycle_count_items;
select app_hidden.refresh_totals_from('app_public.cycle_count_items', 'cycle_count_id', 'app_hidden.refresh_cycle_count_totals');

comment on column app_public.cycle_counts.total_variance_quantity is
  E'Sum of the lines'' variance in base units (negative = shortage). Maintained from the lines by the database.';
comment on column app_public.cycle_counts.total_variance_value is
  E'Sum of the lines'' variance value (negative = loss). Maintained from the lines by the database.';
comment on column app_public.cycle_count_items.system_quantity is
  E'Quantity the system held, in base units: snapshotted when counting starts and taken again when the line''s count is recorded (record_count), so stock that moved before the count is not mistaken for a variance.';

/* ---------------------------------------------------------------------------------------------
 * RPCs: stock adjustments
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text);
create function app_public.request_stock_adjustment(
  quantity_change integer,
  reason text,
  batch_id uuid default null,
  optical_product_id uuid default null,
  medicine_id uuid default null,
  reason_notes text default null
) returns app_public.stock_adjustments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_qty integer := request_stock_adjustment.quantity_change;
  v_reason text := request_stock_adjustment.reason;
  v_notes text := nullif(trim(request_stock_adjustment.reason_notes), '');
  v_batch_id uuid := request_stock_adjustment.batch_id;
  v_product_id uuid := request_stock_adjustment.optical_product_id;
  v_medicine_id uuid := request_stock_adjustment.medicine_id;
  v_batch app_public.medicine_batches;
  v_cost numeric;
  v_adj app_public.stock_adjustments;
begin
  if num_nonnulls(v_batch_id, v_product_id) <> 1 or (v_product_id is not null and v_medicine_id is not null) then
    perform app_hidden.raise_error('HMS_ITEM_INVALID', 'Name either a medicine batch (batch_id) or an optical product (optical_product_id).');
  end if;
  if v_qty is null or v_qty = 0 then
    perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'quantity_change is a whole number of base units, + to add or − to remove, never 0.');
  end if;
  if v_reason is null or v_reason not in ('damage', 'expiry', 'theft_loss', 'found', 'data_correction', 'donation', 'sample', 'return_to_supplier', 'other') then
    perform app_hidden.raise_error('HMS_INVALID_REASON',
      'reason is one of damage, expiry, theft_loss, found, data_correction, donation, sample, return_to_supplier, other.',
      jsonb_build_object('reason', v_reason));
  end if;
  if (v_reason in ('damage', 'expiry', 'theft_loss', 'return_to_supplier') and v_qty > 0) or (v_reason = 'found' and v_qty < 0) then
    perform app_hidden.raise_error('HMS_ADJUSTMENT_SIGN_MISMATCH',
      format('An adjustment for %s %s stock.', v_reason, case when v_reason = 'found' then 'adds' else 'removes' end),
      jsonb_build_object('reason', v_reason, 'quantity_change', v_qty));
  end if;
  if v_reason in ('other', 'data_correction') and v_notes is null then
    perform app_hidden.raise_error('HMS_REASON_NOTES_REQUIRED', format('Explain an adjustment for %s in reason_notes.', v_reason));
  end if;
  if v_batch_id is not null then
    v_batch := app_hidden.find_or_404(null::app_public.medicine_batches, v_batch_id);
    -- A batch of another medicine than the one named is not the batch asked for.
    if v_medicine_id is not null and v_batch.medicine_id <> v_medicine_id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such batch of that medicine in this hospital.',
        jsonb_build_object('entity', 'medicine_batch', 'id', v_batch_id, 'medicine_id', v_medicine_id));
    end if;
    v_medicine_id := v_batch.medicine_id;
    v_cost := v_batch.unit_cost;
  else
    v_cost := coalesce((app_hidden.find_or_404(null::app_public.optical_products, v_product_id)).purchase_price, 0);
  end if;

  insert into app_public.stock_adjustments
    (hospital_id, item_type, medicine_id, batch_id, optical_product_id, quantity_change, reason, reason_notes, status,
     requested_by, requested_at, unit_cost, value_change)
  values (v_hospital, case when v_batch_id is not null then 'medicine' else 'optical_product' end, v_medicine_id, v_batch_id,
          v_product_id, v_qty, v_reason, v_notes, 'pending_approval', app_hidden.current_user_id(), app_hidden.now(),
          v_cost, round(v_qty * v_cost, 2))
  returning * into v_adj;
  return v_adj;
end;
$$;
comment on function app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text) is
E'Requests a stock adjustment of one medicine batch (batch_id; medicine_id optional, checked) or optical product (needs inventory.manage); it waits for approval by someone else (approve_stock_adjustment). quantity_change: + adds, − removes (damage, expiry, theft_loss and return_to_supplier remove; found adds; other and data_correction need reason_notes). Returns the adjustment (pending_approval, valued at the batch''s cost).\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (medicine batch, optical product); 422 HMS_ITEM_INVALID, HMS_INVALID_QUANTITY, HMS_INVALID_REASON, HMS_ADJUSTMENT_SIGN_MISMATCH, HMS_REASON_NOTES_REQUIRED.';
grant execute on function app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.approve_stock_adjustment(uuid);
create function app_public.approve_stock_adjustment(adjustment_id uuid) returns app_public.stock_adjustments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_adj app_public.stock_adjustments := app_hidden.lock_or_404(null::app_public.stock_adjustments, approve_stock_adjustment.adjustment_id);
begin
  perform app_hidden.require_transition('app_public.stock_adjustments', v_adj.status, 'approved');
  perform app_hidden.require_other_user(coalesce(v_adj.requested_by, v_adj.created_by), 'requested');
  insert into app_public.stock_movements
    (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
     adjustment_id, reason)
  values (v_hospital, case when v_adj.quantity_change > 0 then 'adjustment_increase' else 'adjustment_decrease' end,
          v_adj.item_type, v_adj.medicine_id, v_adj.batch_id, v_adj.optical_product_id, v_adj.quantity_change, 0, v_adj.unit_cost,
          v_adj.id, format('Stock adjustment %s (%s).', v_adj.adjustment_number, v_adj.reason));
  update app_public.stock_adjustments a set status = 'approved' where a.id = v_adj.id returning * into v_adj;
  return v_adj;
end;
$$;
comment on function app_public.approve_stock_adjustment(uuid) is
E'Approves a pending stock adjustment (needs inventory.approve; not by its requester) and writes its adjustment_increase / adjustment_decrease stock movement; approved_by and approved_at come from the session. Returns the adjustment; the new balance is the balance_after of its movement (GET /stock_movements?adjustment_id=eq.<id>, with the next request).\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not pending), HMS_APPROVAL_BY_OTHER_USER, HMS_INSUFFICIENT_STOCK (a decrease larger than the stock on hand).';
grant execute on function app_public.approve_stock_adjustment(uuid) to :DATABASE_STAFF;

drop function if exists app_public.reject_stock_adjustment(uuid, text);
create function app_public.reject_stock_adjustment(adjustment_id uuid, reason text) returns app_public.stock_adjustments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_adj app_public.stock_adjustments := app_hidden.lock_or_404(null::app_public.stock_adjustments, reject_stock_adjustment.adjustment_id);
begin
  perform app_hidden.require_transition('app_public.stock_adjustments', v_adj.status, 'rejected');
  update app_public.stock_adjustments a
     set status = 'rejected', rejection_reason = nullif(trim(reject_stock_adjustment.reason), '')
   where a.id = v_adj.id and a.hospital_id = v_hospital
  returning * into v_adj;
  return v_adj;
end;
$$;
comment on function app_public.reject_stock_adjustment(uuid, text) is
E'Rejects a pending stock adjustment with a reason (needs inventory.approve); stock does not change; rejected_by and rejected_at come from the session. Returns the adjustment.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not pending); 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reject_stock_adjustment(uuid, text) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * RPCs: cycle counts
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.start_cycle_count(text, text, jsonb, text, uuid, text);
create function app_public.start_cycle_count(
  scope text default 'partial',
  location text default null,
  items jsonb default null,
  category text default null,
  department_id uuid default null,
  notes text default null
) returns app_public.cycle_counts
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_scope text := coalesce(start_cycle_count.scope, 'partial');
  v_location text := nullif(trim(start_cycle_count.location), '');
  v_category text := nullif(trim(start_cycle_count.category), '');
  v_ids uuid[];
  v_id uuid;
  v_count app_public.cycle_counts;
  v_lines integer;
begin
  if v_scope not in ('full', 'partial', 'medicine_category', 'location') then
    perform app_hidden.raise_error('HMS_INVALID_SCOPE', 'scope is full, partial, medicine_category or location.', jsonb_build_object('scope', v_scope));
  end if;
  if v_scope = 'medicine_category' and v_category is null then
    perform app_hidden.raise_error('HMS_CATEGORY_REQUIRED', 'A medicine_category count names the category (therapeutic class).');
  end if;
  if v_scope = 'location' and v_location is null and start_cycle_count.department_id is null then
    perform app_hidden.raise_error('HMS_LOCATION_REQUIRED', 'A location count names the location (or the department store).');
  end if;
  if start_cycle_count.department_id is not null then
    perform app_hidden.find_or_404(null::app_public.departments, start_cycle_count.department_id);
  end if;
  if items is not null and jsonb_typeof(items) <> 'null' then
    if jsonb_typeof(items) <> 'array' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', 'items is a JSON array of batch ids and optical product ids.');
    end if;
    begin
      select coalesce(array_agg(distinct (e #>> '{}')::uuid), '{}') into v_ids from jsonb_array_elements(items) e;
    exception when data_exception then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', 'items is a JSON array of batch ids and optical product ids.');
    end;
    foreach v_id in array v_ids loop
      if not exists (select 1 from app_public.medicine_batches b where b.id = v_id and b.hospital_id = v_hospital)
         and not exists (select 1 from app_public.optical_products p where p.id = v_id and p.hospital_id = v_hospital and not p.is_deleted) then
        perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such medicine batch or optical product in this hospital.',
          jsonb_build_object('entity', 'medicine_batch_or_optical_product', 'id', v_id));
      end if;
    end loop;
  end if;

  insert into app_public.cycle_counts (hospital_id, count_date, scope, category, location, department_id, status, started_at, notes)
  values (v_hospital, app_hidden.hospital_today(v_hospital), v_scope, v_category, v_location, start_cycle_count.department_id,
          'counting', app_hidden.now(), start_cycle_count.notes)
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
    perform app_hidden.raise_error('HMS_NOTHING_TO_COUNT', 'No stock matches the scope of this count.',
      jsonb_build_object('scope', v_scope, 'category', v_category, 'location', v_location));
  end if;
  select * into v_count from app_public.cycle_counts c where c.id = v_count.id;
  return v_count;
end;
$$;
comment on function app_public.start_cycle_count(text, text, jsonb, text, uuid, text) is
E'Starts a physical stock count (needs inventory.manage): status counting, one line per batch or optical product with the system quantity snapshotted. items: optional JSON array of medicine batch ids and optical product ids; without it, scope full or partial takes every active batch and active optical product with stock, medicine_category the active batches of medicines of that therapeutic class (category), location the active batches whose storage location matches (location). Returns the count; its lines are GET /cycle_count_items?cycle_count_id=eq.<id>, with the next request.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (medicine batch or optical product, department); 422 HMS_INVALID_SCOPE, HMS_CATEGORY_REQUIRED, HMS_LOCATION_REQUIRED, HMS_NOTHING_TO_COUNT, HMS_INVALID_INPUT.';
grant execute on function app_public.start_cycle_count(text, text, jsonb, text, uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.record_count(uuid, integer, text);
create function app_public.record_count(cycle_count_item_id uuid, counted_quantity integer, reason text default null)
returns app_public.cycle_count_items
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_item app_public.cycle_count_items := app_hidden.find_or_404(null::app_public.cycle_count_items, record_count.cycle_count_item_id);
  v_count app_public.cycle_counts := app_hidden.lock_or_404(null::app_public.cycle_counts, v_item.cycle_count_id);
  v_on_hand integer;
begin
  if v_count.status <> 'counting' then
    perform app_hidden.raise_error('HMS_CYCLE_COUNT_NOT_COUNTING',
      format('Counts are recorded only while the cycle count is counting (it is %s).', v_count.status),
      jsonb_build_object('cycle_count_id', v_count.id, 'status', v_count.status));
  end if;
  if record_count.counted_quantity is null or record_count.counted_quantity < 0 then
    perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'counted_quantity is the whole number of base units found (0 or more).');
  end if;
  -- The system quantity is taken again now, when the shelf is counted (see the header).
  if v_item.item_type = 'medicine' then
    select b.quantity_on_hand into v_on_hand from app_public.medicine_batches b where b.id = v_item.batch_id and b.hospital_id = v_hospital;
  else
    select p.quantity_on_hand into v_on_hand from app_public.optical_products p where p.id = v_item.optical_product_id and p.hospital_id = v_hospital;
  end if;
  update app_public.cycle_count_items i
     set counted_quantity = record_count.counted_quantity, system_quantity = v_on_hand, counted_at = app_hidden.now(),
         counted_by = app_hidden.current_user_id(), reason = coalesce(nullif(trim(record_count.reason), ''), i.reason)
   where i.id = v_item.id
  returning * into v_item;
  return v_item;
end;
$$;
comment on function app_public.record_count(uuid, integer, text) is
E'Records the quantity found for one line of a cycle count that is counting (needs inventory.manage); may be recorded again until the count is completed. The line''s system quantity is re-read at this moment, so variance = counted − on hand when counted; counted_by comes from the session. Returns the line with its variance.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_CYCLE_COUNT_NOT_COUNTING; 422 HMS_INVALID_QUANTITY.';
grant execute on function app_public.record_count(uuid, integer, text) to :DATABASE_STAFF;

drop function if exists app_public.complete_cycle_count(uuid);
create function app_public.complete_cycle_count(cycle_count_id uuid) returns app_public.cycle_counts
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_count app_public.cycle_counts := app_hidden.lock_or_404(null::app_public.cycle_counts, complete_cycle_count.cycle_count_id);
  v_uncounted integer;
begin
  perform app_hidden.require_transition('app_public.cycle_counts', v_count.status, 'counted');
  select count(*) into v_uncounted from app_public.cycle_count_items i
   where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id and i.counted_quantity is null;
  if v_uncounted > 0 then
    perform app_hidden.raise_error('HMS_COUNT_INCOMPLETE', format('%s line(s) of the count are not counted yet.', v_uncounted),
      jsonb_build_object('uncounted', v_uncounted));
  end if;
  update app_public.cycle_counts c set status = 'counted' where c.id = v_count.id returning * into v_count;
  return v_count;
end;
$$;
comment on function app_public.complete_cycle_count(uuid) is
E'Closes the counting of a cycle count (needs inventory.manage): every line must be counted. Status counted (completed_at, counted_by from the session); it then waits for approval. Returns the count.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not counting); 422 HMS_COUNT_INCOMPLETE.';
grant execute on function app_public.complete_cycle_count(uuid) to :DATABASE_STAFF;

drop function if exists app_public.approve_cycle_count(uuid);
create function app_public.approve_cycle_count(cycle_count_id uuid) returns app_public.cycle_counts
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_count app_public.cycle_counts := app_hidden.lock_or_404(null::app_public.cycle_counts, approve_cycle_count.cycle_count_id);
  v_item app_public.cycle_count_items;
begin
  perform app_hidden.require_transition('app_public.cycle_counts', v_count.status, 'approved');
  perform app_hidden.require_other_user(v_count.created_by, 'started');
  for v_item in
    select * from app_public.cycle_count_items i
     where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id and i.variance_quantity <> 0
     order by i.created_at, i.id
  loop
    insert into app_public.stock_movements
      (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
       cycle_count_item_id, reason)
    values (v_hospital, 'cycle_count_variance', v_item.item_type, v_item.medicine_id, v_item.batch_id, v_item.optical_product_id,
            v_item.variance_quantity, 0, v_item.unit_cost, v_item.id,
            format('Cycle count %s variance%s.', v_count.count_number, coalesce(': ' || v_item.reason, '')));
  end loop;
  update app_public.cycle_counts c set status = 'approved' where c.id = v_count.id returning * into v_count;
  return v_count;
end;
$$;
comment on function app_public.approve_cycle_count(uuid) is
E'Approves a counted cycle count (needs inventory.approve; not by the person who started it) and posts one cycle_count_variance stock movement per line whose variance is not 0; approved_by and approved_at come from the session. Returns the count with its totals; its lines and movements are GET /cycle_count_items?cycle_count_id=eq.<id>&select=*,stock_movements(*), with the next request.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not counted), HMS_APPROVAL_BY_OTHER_USER, HMS_INSUFFICIENT_STOCK (stock moved out since the count so the shortage no longer fits).';
grant execute on function app_public.approve_cycle_count(uuid) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * Status machines, document locks, registration
 * ------------------------------------------------------------------------------------------- */

-- request_stock_adjustment creates the adjustment already pending (and stamps the request).
select app_hidden.declare_status_machine('app_public.stock_adjustments', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "pending_approval", "via": "request_stock_adjustment", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "pending_approval", "to": "approved", "via": "approve_stock_adjustment", "permission": "inventory.approve", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "pending_approval", "to": "rejected", "via": "reject_stock_adjustment", "permission": "inventory.approve", "reason": "rejection_reason", "stamp_at": "rejected_at", "stamp_by": "rejected_by"}
]$json$);

-- start_cycle_count creates the count already counting (and stamps the start).
select app_hidden.declare_status_machine('app_public.cycle_counts', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "counting", "via": "start_cycle_count", "stamp_at": "started_at"},
  {"from": "counting", "to": "counted", "via": "complete_cycle_count", "stamp_at": "completed_at", "stamp_by": "counted_by"},
  {"from": "counted", "to": "approved", "via": "approve_cycle_count", "permission": "inventory.approve", "stamp_at": "approved_at", "stamp_by": "approved_by"}
]$json$);

-- What an adjustment or a count covers is fixed when it is created (immutable columns below);
-- once approved it moved stock and stays as it is, notes aside.
select app_hidden.lock_document('app_public.stock_adjustments', '{draft,pending_approval,rejected,cancelled}',
  still_editable => '{status,reason_notes}');
select app_hidden.lock_document('app_public.cycle_counts', '{draft,counting,counted,cancelled}', still_editable => '{status,notes}');
-- Lines come from start_cycle_count and are counted by record_count; staff only explain a variance.
select app_hidden.lock_document('app_public.cycle_count_items', '{}', still_editable => '{reason}',
  document => 'app_public.cycle_counts', document_column => 'cycle_count_id');

select app_hidden.register_table('app_public.stock_movements', 'stock movement',
  read_permissions => '{inventory.read,medicines.read,optical.read}', write_mode => 'read_only', append_only => true);
select app_hidden.register_table('app_public.stock_adjustments', 'stock adjustment',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage,inventory.approve}', delete_permissions => '{inventory.manage}',
  protected_columns => '{rejection_reason,unit_cost,value_change}',
  immutable_columns => '{item_type,medicine_id,batch_id,optical_product_id,quantity_change,reason}');
select app_hidden.register_table('app_public.cycle_counts', 'cycle count',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage,inventory.approve}', delete_permissions => '{inventory.manage}',
  protected_columns => '{total_variance_quantity,total_variance_value,cancelled_at}',
  immutable_columns => '{scope,category,location,department_id,count_date}');
select app_hidden.register_table('app_public.cycle_count_items', 'cycle count line',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}',
  protected_columns => '{cycle_count_id,item_type,medicine_id,batch_id,optical_product_id,system_quantity,counted_quantity,unit_cost,counted_at,counted_by}');

/* Dropped: the rest of the supply-chain dialect (sc_*, shared with 4000) and the triggers that the kit's mechanisms and the functions above replace. */
drop function if exists app_hidden.tg_stock_movements__append_only();
drop function if exists app_hidden.tg_stock_adjustments__workflow();
drop function if exists app_hidden.tg_cycle_counts__workflow();
drop function if exists app_hidden.tg_cycle_counts__totals();
drop function if exists app_hidden.tg_cycle_count_items__before();
drop function if exists app_hidden.tg_cycle_count_items__touch_count();
drop function if exists app_hidden.sc_adjustment_json(app_public.stock_adjustments);
drop function if exists app_hidden.sc_lock_adjustment(uuid, uuid);
drop function if exists app_hidden.sc_cycle_count_json(app_public.cycle_counts);
drop function if exists app_hidden.sc_lock_cycle_count(uuid, uuid);
drop function if exists app_hidden.sc_workflow(boolean);
drop function if exists app_hidden.sc_is_direct_write();
drop function if exists app_hidden.sc_changed_columns(jsonb, jsonb, text[]);
drop function if exists app_hidden.sc_protect(text, jsonb, jsonb, text[], text);
drop function if exists app_hidden.sc_row_changed(jsonb, jsonb, text[]);
drop function if exists app_hidden.sc_check_transition(text, text, text, jsonb);
drop function if exists app_hidden.sc_illegal_transition(text, text, text);
drop function if exists app_hidden.sc_require(text);
drop function if exists app_hidden.sc_not_found(text, uuid);

--! split: 5000-notifications.sql
/*
 * Notifications (tables: db/schema/app_public/tables/): templates are hospital settings; the
 * in-app inbox (notifications) has hand-written policies (one's own, or all with
 * settings.manage); the delivery queue is worker bookkeeping — readable by administrators,
 * written by nobody through the API, and not audited (claims and retries are not business changes).
 */
select app_hidden.register_table('app_public.notification_templates', 'notification template',
  write_permissions => '{settings.manage}', delete_permissions => '{settings.manage}');
select app_hidden.register_table('app_public.notifications', 'notification', policies => 'hand_written');
select app_hidden.register_table('app_public.notification_queue', 'queued notification',
  read_permissions => '{settings.manage}', write_mode => 'read_only', audited => false);

--! split: 5100-audit.sql
/*
 * The audit trail (table: db/schema/app_public/tables/audit_logs.sql) is append-only history for
 * everyone, the owner included (the kit's _000_append_only triggers), written only by
 * app_private.write_audit_log; its read policy is hand-written (audit.read within the hospital,
 * chain-level events for the super admin). A retention purge is a deliberate, visible DBA step:
 * in one transaction as the owner, `alter table app_public.audit_logs disable trigger
 * _000_append_only`, delete the old rows, `enable trigger` again (or drop an old monthly partition).
 */
select app_hidden.register_table('app_public.audit_logs', 'audit log entry', policies => 'hand_written',
  audited => false, append_only => true);

--! split: 5200-id-cards.sql
/*
 * ID cards of patients and staff (table: db/schema/app_public/tables/id_cards.sql), numbered by
 * the registry (document type id_card). The print counters are maintained by printing, never
 * written by clients.
 */
select app_hidden.register_table('app_public.id_cards', 'id card',
  read_permissions => '{patients.read,users.read}', write_permissions => '{patients.write}', delete_permissions => '{patients.write}',
  protected_columns => '{print_count,last_printed_at}');

--! split: 9990-drop-dialects.sql
/*
 * What the kit replaced, removed once every module is on it (the sections above):
 *   - the per-concern installers enable_audit / disable_audit / enable_soft_delete and the lists
 *     id_sequence_defaults / is_document_type / never_client_writable: register_table and the
 *     document-type registry;
 *   - the audit trail's own append-only trigger: app_hidden.tg__append_only.
 * tests/db/kit.test.sql fails on any helper nothing uses and on any module-named gate, lock,
 * transition check, mark or append-only trigger.
 */
drop function if exists app_hidden.enable_audit(regclass);
drop function if exists app_hidden.disable_audit(regclass);
drop function if exists app_hidden.enable_soft_delete(regclass);
drop function if exists app_hidden.never_client_writable();
drop function if exists app_hidden.is_document_type(text);
drop function if exists app_hidden.id_sequence_defaults();
drop function if exists app_hidden.tg_audit_logs__append_only();
