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
