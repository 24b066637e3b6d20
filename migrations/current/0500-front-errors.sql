/*
 * The front's half of the error contract (issue 8, item 5 and the error contract; issue 10 §1).
 *
 * Every answer of the API carries a stable HMS_* code. Business errors get theirs from
 * app_hidden.raise_error; what PostgreSQL or PostgREST raise by themselves (a column grant, a
 * bad uuid in a filter, a statement timeout, a singular response with 0 rows, a parse error of
 * the query string …) and what the front itself refuses (a body or answer too large, an embed too
 * deep) is translated by the front — through ONE mapping kept here, next to the registry, not in
 * TypeScript: app_hidden.raw_errors. The HTTP status of the answer is always the registry's.
 *
 * The front reads the mapping at start-up as the anonymous API role (it connects with
 * PostgREST's own authenticator login): the table is in app_hidden, which PostgREST does not
 * serve.
 */

-- Statuses the front answers with that business errors never needed: 406 (singular response),
-- 413 (request body), 500 (an unexpected error, no internals), 503 (PostgREST or the database
-- unavailable), 504 (statement timeout).
alter table app_hidden.error_codes drop constraint error_codes_http_status_check;
alter table app_hidden.error_codes add constraint error_codes_http_status_check
  check (http_status = any (array[400, 401, 403, 404, 405, 406, 409, 413, 422, 429, 500, 503, 504]));

select app_hidden.register_error_codes('front', $json$[
  {"code": "HMS_INVALID_SYNTAX", "http_status": 400, "meaning": "A value in the query string or body is not written the way its type needs — a uuid, a date or time, a number, a boolean (details quotes what PostgreSQL could not read)."},
  {"code": "HMS_BAD_REQUEST", "http_status": 400, "meaning": "The query string or body cannot be read: an unknown column or relationship, a malformed filter, select or order, or a body that is not the JSON expected (details quotes the parser)."},
  {"code": "HMS_NOT_SINGLE_ROW", "http_status": 406, "meaning": "A single object was asked for (Accept: application/vnd.pgrst.object+json) but the request matched none or several rows (details says how many)."},
  {"code": "HMS_BODY_TOO_LARGE", "http_status": 413, "meaning": "The request body is larger than the front accepts (details.limit_bytes, HMS_MAX_BODY_BYTES)."},
  {"code": "HMS_EMBED_TOO_DEEP", "http_status": 400, "meaning": "The select nests embedded resources deeper than allowed (details.depth, details.max_depth, HMS_MAX_EMBED_DEPTH); read the deeper levels with a second request."},
  {"code": "HMS_RESPONSE_TOO_LARGE", "http_status": 400, "meaning": "The answer would be larger than the front sends (details.limit_bytes, HMS_MAX_RESPONSE_BYTES): select fewer columns, filter, or page with limit and offset."},
  {"code": "HMS_STATEMENT_TIMEOUT", "http_status": 504, "meaning": "The request ran longer than the statement timeout of its role (3 s before login, 8 s for staff) and was cancelled; nothing it did was kept."},
  {"code": "HMS_SERVICE_UNAVAILABLE", "http_status": 503, "meaning": "The REST server or the database is not reachable right now; try again in a moment."},
  {"code": "HMS_INTERNAL_ERROR", "http_status": 500, "meaning": "The server failed in a way it did not expect; nothing is revealed about it, details.request_id finds it in the server's log."}
]$json$);

/*
 * One row per raw error the front translates. raw_code is a PostgreSQL SQLSTATE (42501, 22P02 …),
 * a PostgREST code (PGRST116 …) or one of the front's own conditions (source 'front'). A row may
 * be narrowed to the status PostgREST answered with (42501 is 401 before login, 403 after), the
 * narrower row winning. keep_details passes the original message under `details` where it helps
 * the client (which value could not be read) and reveals nothing (never for unique or foreign-key
 * violations: their detail names other rows' values).
 */
create table app_hidden.raw_errors (
  raw_code text not null,
  upstream_status smallint,
  source text not null,
  code text not null references app_hidden.error_codes (code) on update cascade on delete restrict,
  message text not null,
  keep_details boolean not null default false,
  constraint raw_errors_source_check check (source in ('postgresql', 'postgrest', 'front')),
  constraint raw_errors_raw_code_check check (raw_code ~ '^([0-9A-Z]{5}|PGRST[0-9]{3}|[a-z][a-z_]*[a-z])$'),
  constraint raw_errors_message_check check (length(trim(message)) >= 10),
  constraint raw_errors_upstream_status_check check (upstream_status between 400 and 599)
);
create unique index raw_errors_key on app_hidden.raw_errors (raw_code, coalesce(upstream_status, 0));

comment on table app_hidden.raw_errors is 'The one mapping of raw PostgreSQL/PostgREST errors and of the front''s own refusals to registered HMS_* codes with a human message; the front applies it to every answer (db/error_codes.md lists it).';
comment on column app_hidden.raw_errors.raw_code is 'SQLSTATE, PostgREST code (PGRSTnnn) or the front''s condition (body_too_large, embed_too_deep, response_too_large, upstream_unavailable, internal).';
comment on column app_hidden.raw_errors.upstream_status is 'Only when PostgREST answered this status (null: any status); the narrower row wins.';
comment on column app_hidden.raw_errors.source is 'Who raises the raw error: postgresql, postgrest or front.';
comment on column app_hidden.raw_errors.code is 'The registered HMS_* code the client gets; the HTTP status is the registry''s.';
comment on column app_hidden.raw_errors.message is 'The sentence the client gets instead of the raw message.';
comment on column app_hidden.raw_errors.keep_details is 'True: the raw message (and PostgREST''s details) travel under details because they tell the client which value was wrong and nothing else.';

insert into app_hidden.raw_errors (raw_code, upstream_status, source, code, message, keep_details) values
  ('42501', 401,  'postgresql', 'HMS_SESSION_INVALID', 'Log in first: this needs a session.', false),
  ('42501', null, 'postgresql', 'HMS_FORBIDDEN', 'Your roles do not allow this: the table, one of the columns written or the function is not open to you.', true),
  ('23505', null, 'postgresql', 'HMS_DUPLICATE', 'A record with the same unique values already exists.', false),
  ('23514', null, 'postgresql', 'HMS_INVALID_VALUE', 'A value breaks a rule of the schema.', false),
  ('23503', null, 'postgresql', 'HMS_REFERENCE_NOT_FOUND', 'The record refers to something that does not exist, or is still referred to.', false),
  ('23502', null, 'postgresql', 'HMS_REQUIRED', 'A required value is missing.', false),
  ('22P02', null, 'postgresql', 'HMS_INVALID_SYNTAX', 'A value is not written the way its type needs.', true),
  ('22007', null, 'postgresql', 'HMS_INVALID_SYNTAX', 'A date or time is not written the way PostgreSQL reads it (ISO 8601: 2026-12-31, 2026-12-31T08:30:00Z).', true),
  ('22008', null, 'postgresql', 'HMS_INVALID_SYNTAX', 'A date or time is out of range.', true),
  ('22003', null, 'postgresql', 'HMS_INVALID_VALUE', 'A number is out of the range its column holds.', true),
  ('57014', null, 'postgresql', 'HMS_STATEMENT_TIMEOUT', 'The request took longer than its statement timeout and was cancelled.', false),
  ('42703', null, 'postgresql', 'HMS_BAD_REQUEST', 'The request names a column that does not exist.', true),
  ('PGRST100', null, 'postgrest', 'HMS_BAD_REQUEST', 'The query string cannot be parsed (select, filter, order or limit).', true),
  ('PGRST102', null, 'postgrest', 'HMS_BAD_REQUEST', 'The body is not the JSON expected.', true),
  ('PGRST116', null, 'postgrest', 'HMS_NOT_SINGLE_ROW', 'A single object was asked for, but the request did not match exactly one row.', true),
  ('PGRST200', null, 'postgrest', 'HMS_BAD_REQUEST', 'The select embeds a relationship that does not exist.', true),
  ('PGRST204', null, 'postgrest', 'HMS_BAD_REQUEST', 'The body names a column that does not exist or cannot be written.', true),
  ('body_too_large', null, 'front', 'HMS_BODY_TOO_LARGE', 'The request body is too large.', false),
  ('embed_too_deep', null, 'front', 'HMS_EMBED_TOO_DEEP', 'The select nests embedded resources too deep.', false),
  ('response_too_large', null, 'front', 'HMS_RESPONSE_TOO_LARGE', 'The answer would be too large: select fewer columns, filter, or page with limit and offset.', false),
  ('upstream_unavailable', null, 'front', 'HMS_SERVICE_UNAVAILABLE', 'The REST server is not reachable right now; try again in a moment.', false),
  ('internal', null, 'front', 'HMS_INTERNAL_ERROR', 'The server failed unexpectedly; quote the request id when you report it.', false);

grant select on table app_hidden.raw_errors to :DATABASE_ANONYMOUS, :DATABASE_STAFF;

/*
 * The client address. Only the front decides it (the socket's peer, or X-Forwarded-For when that
 * peer is one of HMS_TRUSTED_PROXIES) and sends it in X-HMS-Client-Address, replacing whatever the
 * client sent; PostgREST listens on an internal address the front alone reaches. X-Forwarded-For is
 * no longer read by the database at all.
 */
create or replace function app_private.request_client_address() returns inet
language plpgsql stable as $$
begin
  return nullif(trim(coalesce(nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-hms-client-address', '')), '')::inet;
exception when others then
  return null; -- a malformed header must never block a login
end;
$$;
comment on function app_private.request_client_address() is 'Client address as the front saw it (X-HMS-Client-Address, which the front always overwrites; X-Forwarded-For is believed by the front only from HMS_TRUSTED_PROXIES), or null outside a request.';

create or replace function app_private.write_audit_log(p_action text, p_table_name text DEFAULT NULL::text, p_record_id uuid DEFAULT NULL::uuid, p_hospital_id uuid DEFAULT NULL::uuid, p_old_values jsonb DEFAULT NULL::jsonb, p_new_values jsonb DEFAULT NULL::jsonb, p_changed_columns text[] DEFAULT NULL::text[], p_description text DEFAULT NULL::text, p_user_id uuid DEFAULT NULL::uuid)
 returns void
 language plpgsql
 security definer
 set search_path to 'pg_catalog', 'pg_temp'
as $function$
declare
  v_headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
begin
  insert into app_public.audit_logs
    (hospital_id, user_id, session_id, action, table_name, record_id, old_values, new_values, changed_columns,
     request_id, client_address, user_agent, api, description)
  values
    (coalesce(p_hospital_id, app_hidden.current_hospital_id()),
     coalesce(p_user_id, app_hidden.current_user_id()),
     app_hidden.current_session_id(),
     p_action, p_table_name, p_record_id, p_old_values, p_new_values, p_changed_columns,
     left(v_headers ->> 'x-request-id', 200), app_private.request_client_address(), left(v_headers ->> 'user-agent', 500),
     case when nullif(current_setting('request.method', true), '') is not null then 'rest' else 'sql' end,
     p_description);
end;
$function$;
comment on function app_private.write_audit_log(text,text,uuid,uuid,jsonb,jsonb,text[],text,uuid) is 'Appends one audit_logs row with the request context (user, session, hospital, request id and client address as the front set them, user agent).';
