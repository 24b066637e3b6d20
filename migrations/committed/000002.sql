--! Previous: sha1:fb7bdd78ab2385c2306270d2ae56363779862f60
--! Hash: sha1:28793d148b1f2f5c06f2ebbac8bf08a64e071ebf

--! split: 0011-function-privileges.sql
/*
 * Function privileges, corrected. Migration 000001 ran
 *   alter default privileges in schema … revoke all on functions from public;
 * which does nothing: per-schema default privileges can only ADD to the global defaults, and the
 * global default gives PUBLIC execute on every new function. So:
 *   1. revoke it globally for functions the owner creates from now on;
 *   2. revoke it from every function already created in our schemas;
 *   3. grant back, explicitly, only what the API roles evaluate as themselves (helpers called
 *      by CHECK constraints, policies, column defaults and invoker triggers). Functions granted
 *      explicitly before (raise_error, jwt_claim, current_user_id, hms_generate_id, …) keep their
 *      grants. tests/db/structure.test.sql fails on any function PUBLIC may execute.
 */
alter default privileges revoke execute on functions from public;
revoke execute on all functions in schema app_public, app_hidden, app_private from public;

-- CHECK constraints that staff writes evaluate.
grant execute on function app_hidden.is_valid_time_zone(text) to :DATABASE_STAFF;
grant execute on function app_hidden.is_document_type(text) to :DATABASE_STAFF;
grant execute on function app_hidden.id_sequence_defaults() to :DATABASE_STAFF;

--! split: 0021-error-helper.sql
/*
 * The error helper, corrected: PostgREST 12 accepts only text in the "details" field of a
 * `sqlstate 'PGRST'` message (a JSON object there makes it answer 500 PGRST121). Structured
 * details therefore travel as JSON *text*: clients parse `details` when they need its fields.
 * tests/db/functions/errors.test.sql pins the shape.
 */
create or replace function app_hidden.raise_error(
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
    message = json_build_object(
      'code', p_code,
      'message', p_message,
      'details', case when p_details is null then null
                      when jsonb_typeof(p_details) = 'string' then p_details #>> '{}'
                      else p_details::text end,
      'hint', p_hint)::text,
    detail = json_build_object('status', p_status, 'headers', json_build_object())::text;
end;
$$;
comment on function app_hidden.raise_error(text, text, integer, jsonb, text) is
  E'Raises a business error with a stable HMS_* code, a human message and an HTTP status (422 by default); structured details are sent as JSON text. See db/error_codes.md.';

--! split: 0220-identity-core.sql
/*
 * Identity core (DESIGN.md §5). Authorization is read from tables, never trusted from the token:
 *
 *   current_session_id()  the `sid` claim of the verified JWT;
 *   current_user_id()     that session's user — only while the session is live (not revoked, not
 *                         expired) and the user active: revoking a session or deactivating a user
 *                         takes effect on the next request;
 *   current_hospital_id() the `hid` claim, checked against the session's active hospital and the
 *                         user's roles there (a chain-scoped role such as super admin counts in
 *                         every hospital);
 *   has_permission(code)  user_roles → roles → role_permissions → permissions in that hospital.
 *
 * All are stable, security definer with a pinned search_path; policies call them wrapped in
 * (select …) so PostgreSQL evaluates each once per statement.
 *
 * The JWT secret lives in app_private.instance_settings (written by the launcher from its
 * configuration, never by a migration) and is used only by app_private.sign_jwt, which no API
 * role may execute.
 *
 * This migration is re-runnable: functions are created or replaced.
 */

create or replace function app_hidden.current_session_id() returns uuid
language sql
stable
as $$
  select case when app_hidden.jwt_claim('sid') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then app_hidden.jwt_claim('sid')::uuid end;
$$;
comment on function app_hidden.current_session_id() is 'The session (sid claim) of the current request, or null.';
grant execute on function app_hidden.current_session_id() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.current_user_id() returns uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select s.user_id
    from app_private.sessions s
    join app_public.users u on u.id = s.user_id
   where s.id = app_hidden.current_session_id()
     and s.user_id::text = app_hidden.jwt_claim('sub')
     and s.revoked_at is null
     and s.expires_at > now()
     and u.is_active and not u.is_deleted;
$$;
comment on function app_hidden.current_user_id() is
  'The acting user, resolved through the live session of the JWT (null when the session is revoked or expired, or the user deactivated).';

/* Does the user hold, today, any role valid in the hospital (or a chain-wide one)? */
create or replace function app_hidden.is_member_of(p_user_id uuid, p_hospital_id uuid) returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id and r.is_active
      join app_public.hospitals h on h.id = p_hospital_id and h.is_active and not h.is_deleted
     where ur.user_id = p_user_id
       and (ur.hospital_id = p_hospital_id or (ur.hospital_id is null and r.scope = 'chain'))
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until));
$$;
comment on function app_hidden.is_member_of(uuid, uuid) is
  'True when the user holds a role valid today in the hospital, or a chain-wide role (super admin).';

create or replace function app_hidden.current_hospital_id() returns uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select s.hospital_id
    from app_private.sessions s
   where s.id = app_hidden.current_session_id()
     and s.user_id = app_hidden.current_user_id()
     and s.hospital_id::text = app_hidden.jwt_claim('hid')
     and app_hidden.is_member_of(s.user_id, s.hospital_id);
$$;
comment on function app_hidden.current_hospital_id() is
  'The active hospital: the hid claim, only when it is the session''s hospital and the user still holds a role there.';
grant execute on function app_hidden.current_hospital_id() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.has_permission(p_code text) returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id and r.is_active
      join app_public.role_permissions rp on rp.role_id = r.id
      join app_public.permissions p on p.id = rp.permission_id
     where ur.user_id = app_hidden.current_user_id()
       and (ur.hospital_id = app_hidden.current_hospital_id() or (ur.hospital_id is null and r.scope = 'chain'))
       and app_hidden.current_hospital_id() is not null
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until)
       and p.code = p_code);
$$;
comment on function app_hidden.has_permission(text) is
  'True when the acting user holds the permission (e.g. patients.read) in the active hospital.';
grant execute on function app_hidden.has_permission(text) to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.is_super_admin() returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id and r.is_active and r.scope = 'chain' and r.code = 'super_admin'
     where ur.user_id = app_hidden.current_user_id()
       and ur.hospital_id is null
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until));
$$;
comment on function app_hidden.is_super_admin() is 'True when the acting user holds the chain-wide super admin role.';
grant execute on function app_hidden.is_super_admin() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

/*
 * PostgREST runs this before every request (db-pre-request): a token that verified but whose
 * session is revoked or expired, or whose user was deactivated, gets 401 — not an empty answer.
 */
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
      'Your session has ended (logged out, revoked or expired). Please log in again.', 401);
  end if;
end;
$$;
comment on function app_hidden.check_request() is
  'PostgREST db-pre-request: refuses (401) a signed token whose session is no longer live.';
grant execute on function app_hidden.check_request() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

/* HS256 JSON Web Token signed in SQL (pgcrypto hmac) with the secret kept in app_private. */
create or replace function app_private.base64url(p_data bytea) returns text
language sql
immutable
as $$
  select translate(encode(p_data, 'base64'), E'+/=\n', '-_');
$$;

create or replace function app_private.sign_jwt(p_claims jsonb) returns text
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_secret text := (select value from app_private.instance_settings where key = 'jwt_secret');
  v_signing_input text;
begin
  if v_secret is null or length(v_secret) < 32 then
    raise exception 'The JWT secret is not configured (app_private.instance_settings jwt_secret).';
  end if;
  v_signing_input := app_private.base64url(convert_to('{"alg":"HS256","typ":"JWT"}', 'utf8'))
                  || '.' || app_private.base64url(convert_to(p_claims::text, 'utf8'));
  return v_signing_input || '.' || app_private.base64url(hmac(v_signing_input, v_secret, 'sha256'));
end;
$$;
comment on function app_private.sign_jwt(jsonb) is 'Signs claims as an HS256 JWT with the installation''s secret. Owner-only.';

/*
 * The one writer of audit_logs (append-only): the generic audit trigger and the identity RPCs
 * (login, failures, lockouts, refresh, logout, …) both call it, so every row carries the same
 * request context — who, which session and hospital, the request id, user agent and the client
 * address the proxy forwarded (PostgREST exposes the request headers as request.headers).
 */
create or replace function app_private.write_audit_log(
  p_action text,
  p_table_name text default null,
  p_record_id uuid default null,
  p_hospital_id uuid default null,
  p_old_values jsonb default null,
  p_new_values jsonb default null,
  p_changed_columns text[] default null,
  p_description text default null,
  p_user_id uuid default null
) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
  v_forwarded text := split_part(coalesce(v_headers ->> 'x-forwarded-for', ''), ',', 1);
  v_address inet;
begin
  begin
    v_address := nullif(trim(v_forwarded), '')::inet;
  exception when others then
    v_address := null; -- a malformed header must never block the write it describes
  end;
  insert into app_public.audit_logs
    (hospital_id, user_id, session_id, action, table_name, record_id, old_values, new_values, changed_columns,
     request_id, client_address, user_agent, api, description)
  values
    (coalesce(p_hospital_id, app_hidden.current_hospital_id()),
     coalesce(p_user_id, app_hidden.current_user_id()),
     app_hidden.current_session_id(),
     p_action, p_table_name, p_record_id, p_old_values, p_new_values, p_changed_columns,
     left(v_headers ->> 'x-request-id', 200), v_address, left(v_headers ->> 'user-agent', 500),
     case when nullif(current_setting('request.method', true), '') is not null then 'rest' else 'sql' end,
     p_description);
end;
$$;
comment on function app_private.write_audit_log(text, text, uuid, uuid, jsonb, jsonb, text[], text, uuid) is
  'Appends one audit_logs row with the request context (user, session, hospital, request id, user agent, forwarded address).';

--! split: 0230-identity-rpcs.sql
/*
 * Identity RPCs (DESIGN.md §5): login, refresh, logout, me, switch_hospital, change_password —
 * the functions PostgREST exposes as POST /rpc/<name>. All are security definer with a pinned
 * search_path (public holds pgcrypto) and check themselves who may do what: they read
 * app_private, which no API role can reach, and run as the owner, which bypasses row-level
 * security.
 *
 * Tokens
 *   - access token: HS256 JWT signed in SQL (app_private.sign_jwt) with the claims
 *     {role: the staff role, sub: user, sid: session, hid: active hospital, aud: "hms", iat, exp}
 *     valid 15 minutes. Authorization is never read from it: app_hidden.current_user_id() and
 *     current_hospital_id() (0220) resolve sid/hid against the live session on every request.
 *   - refresh token: 32 random bytes, base64url. Only its SHA-256 is stored
 *     (app_private.refresh_token_hashes); the public refresh_tokens row keeps the metadata.
 *     Every use rotates it (rotated_at, replaced_by_id) and a session has one live refresh token
 *     at a time. Presenting a token that was already rotated or revoked means it was copied:
 *     the whole session is revoked (sessions.revoked_reason 'refresh_token_reuse', its tokens
 *     'reuse_detected'), so the thief's and the owner's access tokens die on the next request
 *     (check_request). Two concurrent refreshes with the same token count as reuse too.
 *   - session (app_private.sessions): one per login, 30 days; logout, reuse, a password change
 *     and administrators revoke it.
 *
 * Failures that must persist although the answer is a 4xx
 *   Raising an error makes PostgREST roll the request's transaction back, so a failed login
 *   could neither count towards the lockout nor reach the audit trail, and a detected refresh
 *   token reuse could not revoke the session. PostgREST offers the way out (docs: Transactions →
 *   "Response Status Code"; "If the transaction doesn't fail, it will always end in a COMMIT"):
 *   the function sets the transaction-local GUC `response.status` (and `response.headers`) and
 *   RETURNS the error body {code, message, details, hint} — the same body app_hidden.raise_error
 *   produces. The transaction commits, the bookkeeping stays, and the client still gets the 4xx.
 *   app_private.error_response() does exactly that. It is used only where something must persist
 *   (failed login, lockout, refresh-token reuse); every other error is raised with
 *   app_hidden.raise_error as usual, so nothing half-done survives it.
 *   Consequence for direct SQL callers (pgTAP, a future PostGraphile plugin): these functions
 *   return the error object instead of raising; current_setting('response.status') tells.
 *   Errors raised with raise_error carry `details` as a string or null: PostgREST 12 parses the
 *   raised message's details as text (an object there makes it answer 500 PGRST121). Bodies
 *   returned by error_response may carry an object (HMS_ACCOUNT_LOCKED: {retry_after_seconds}).
 *
 * Login lockout
 *   Failures are counted per lower(email) in app_private.login_failures — for unknown addresses
 *   too, so that neither the answer nor the lockout reveals whether an account exists. The 5th
 *   failure within 15 minutes (counted from the first) locks the address for 15 minutes: that
 *   attempt and every one until the lock expires (even with the right password) get 429
 *   HMS_ACCOUNT_LOCKED with details.retry_after_seconds and a Retry-After header. A successful
 *   login clears the row; a lock that has run out starts a fresh count. Wrong email, wrong
 *   password, an inactive or deleted account: one answer, 401 HMS_LOGIN_FAILED, and an unknown
 *   email still pays one bcrypt computation so the timing is alike. The former counters of
 *   app_private.user_secrets are dropped: lockout state lives in one place.
 *   Rows of login_failures for addresses nobody uses pile up with guessing attacks: a periodic
 *   purge (worker) may delete rows whose last_failed_at is older than a day and not locked.
 *
 * Audit: login, login_failed (user_id null for an unknown email; new_values {"email", "reason"}),
 * account_locked, token_refresh (also on reuse detection), logout, password_changed and
 * switch_hospital rows, all through app_private.write_audit_log. write_audit_log takes the session
 * from the request's claims, which login and refresh (called without a token) do not have: they
 * set the session's claims for the duration of their writes (app_private.enter_session), so
 * their rows carry audit_logs.session_id like every later request of the session.
 *
 * Error codes (db/error_codes.md): HMS_LOGIN_FAILED 401, HMS_ACCOUNT_LOCKED 429,
 * HMS_HOSPITAL_ACCESS_DENIED 403, HMS_REFRESH_TOKEN_INVALID 401, HMS_REFRESH_TOKEN_REUSED 401,
 * HMS_SESSION_INVALID 401, HMS_PASSWORD_INCORRECT 403, HMS_PASSWORD_POLICY 422.
 *
 * Re-runnable (graphile-migrate current/): everything below is dropped first and created again.
 */

drop function if exists app_public.login(text, text, uuid);
drop function if exists app_public.refresh(text);
drop function if exists app_public.logout();
drop function if exists app_public.me();
drop function if exists app_public.switch_hospital(uuid);
drop function if exists app_public.change_password(text, text);
drop function if exists app_private.issue_tokens(uuid);
drop function if exists app_private.enter_session(uuid);
drop function if exists app_private.user_role_codes(uuid, uuid);
drop function if exists app_private.user_permission_codes(uuid, uuid);
drop function if exists app_private.error_response(text, text, integer, jsonb, text, jsonb);
drop function if exists app_private.request_user_agent();
drop function if exists app_private.request_client_address();
drop function if exists app_hidden.staff_role();
drop table if exists app_private.login_failures;

/* One place for lockout state: login_failures (below). */
alter table app_private.user_secrets drop column if exists failed_login_count;
alter table app_private.user_secrets drop column if exists last_failed_login_at;
alter table app_private.user_secrets drop column if exists locked_until;
comment on table app_private.user_secrets is
  'Secrets of a user, one row per user: never exposed. Login-failure counters are kept by email in app_private.login_failures.';

/*
 * Failed logins by email address (known or not), for the lockout. Keyed by the address typed,
 * lower-cased, so an attacker learns nothing from which addresses lock.
 */
create table app_private.login_failures (
  email public.citext primary key,
  failed_count integer not null default 0 constraint login_failures_failed_count_check check (failed_count >= 0),
  first_failed_at timestamptz not null default now(),
  last_failed_at timestamptz not null default now(),
  locked_until timestamptz,
  constraint login_failures_dates_check check (last_failed_at >= first_failed_at)
);
create index idx_login_failures__last_failed_at on app_private.login_failures (last_failed_at);
comment on table app_private.login_failures is
  'Consecutive failed logins per email address (known or unknown), and the lock they caused. Cleared by a successful login.';
comment on column app_private.login_failures.email is 'Email address as typed at login, lower-cased.';
comment on column app_private.login_failures.failed_count is 'Failures since first_failed_at; the 5th within 15 minutes locks the address.';
comment on column app_private.login_failures.first_failed_at is 'First failure of the current count (a count older than 15 minutes starts over).';
comment on column app_private.login_failures.last_failed_at is 'Latest failure.';
comment on column app_private.login_failures.locked_until is 'Login with this address is refused (429) until this time.';

/* The staff role name is configuration (graphile-migrate placeholder), never a literal in code. */
create function app_hidden.staff_role() returns text
language sql
immutable
as $$
  select ':DATABASE_STAFF'::text;
$$;
comment on function app_hidden.staff_role() is 'Name of the database role every logged-in user acts as (the role claim of access tokens).';

/* Request context, read the same way app_private.write_audit_log reads it. */
create function app_private.request_user_agent() returns text
language sql
stable
as $$
  select left(nullif(current_setting('request.headers', true), '')::jsonb ->> 'user-agent', 500);
$$;
comment on function app_private.request_user_agent() is 'User-Agent header of the current PostgREST request, or null.';

create function app_private.request_client_address() returns inet
language plpgsql
stable
as $$
begin
  return nullif(trim(split_part(coalesce(nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-forwarded-for', ''), ',', 1)), '')::inet;
exception when others then
  return null; -- a malformed header must never block a login
end;
$$;
comment on function app_private.request_client_address() is 'Client address forwarded by the proxy (first X-Forwarded-For entry), or null.';

/*
 * A 4xx answer WITHOUT raising (see the header): sets response.status (and headers) for
 * PostgREST and returns the body raise_error would produce. The transaction commits.
 */
create function app_private.error_response(
  p_code text,
  p_message text,
  p_status integer,
  p_details jsonb default null,
  p_hint text default null,
  p_headers jsonb default null
) returns json
language plpgsql
volatile
as $$
begin
  perform set_config('response.status', p_status::text, true);
  if p_headers is not null then
    perform set_config('response.headers', p_headers::text, true);
  end if;
  return json_build_object('code', p_code, 'message', p_message, 'details', p_details, 'hint', p_hint);
end;
$$;
comment on function app_private.error_response(text, text, integer, jsonb, text, jsonb) is
  'Returns {code, message, details, hint} and sets response.status: an HTTP error whose transaction still commits (failure bookkeeping).';

/*
 * Makes the rest of the transaction act in a session, as a request carrying its token would:
 * sets request.jwt.claims {role, sub, sid, hid, aud} and returns the previous claims, which the
 * caller restores with set_config. login and refresh (called without a token) use it so that
 * their own audit rows and the users update of login carry the session (audit_logs.session_id)
 * and the user, exactly like the later requests of that session.
 */
create function app_private.enter_session(p_session_id uuid) returns text
language plpgsql
volatile
as $$
declare
  v_previous text := coalesce(current_setting('request.jwt.claims', true), '');
begin
  perform set_config('request.jwt.claims',
    (select jsonb_build_object('role', app_hidden.staff_role(), 'sub', s.user_id, 'sid', s.id, 'hid', s.hospital_id, 'aud', 'hms')::text
       from app_private.sessions s where s.id = p_session_id),
    true);
  return v_previous;
end;
$$;
comment on function app_private.enter_session(uuid) is
  'Sets request.jwt.claims to those of a session (for audit rows written by login and refresh) and returns the previous claims. Owner-only.';

/* Role codes a user holds today in a hospital (chain-wide roles count everywhere); [] without a hospital. */
create function app_private.user_role_codes(p_user_id uuid, p_hospital_id uuid) returns text[]
language sql
stable
as $$
  select array(
    select r.code
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id and r.is_active
     where ur.user_id = p_user_id
       and p_hospital_id is not null
       and (ur.hospital_id = p_hospital_id or (ur.hospital_id is null and r.scope = 'chain'))
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until)
     group by r.code
     order by min(r.sort_order), r.code);
$$;
comment on function app_private.user_role_codes(uuid, uuid) is 'Codes of the roles a user holds today in a hospital, in display order.';

create function app_private.user_permission_codes(p_user_id uuid, p_hospital_id uuid) returns text[]
language sql
stable
as $$
  select array(
    select distinct p.code
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id and r.is_active
      join app_public.role_permissions rp on rp.role_id = r.id
      join app_public.permissions p on p.id = rp.permission_id
     where ur.user_id = p_user_id
       and p_hospital_id is not null
       and (ur.hospital_id = p_hospital_id or (ur.hospital_id is null and r.scope = 'chain'))
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until)
     order by p.code);
$$;
comment on function app_private.user_permission_codes(uuid, uuid) is 'Codes of the permissions a user holds today in a hospital, sorted.';

/*
 * Issues the token pair of a live session: a new refresh token that replaces every live one of
 * the session (rotation; at most one live token per session) and an access token for the
 * session's hospital. Returns the login answer.
 */
create function app_private.issue_tokens(p_session_id uuid) returns json
language plpgsql
volatile
as $$
declare
  c_access_ttl constant integer := 900;              -- seconds
  c_refresh_ttl constant interval := interval '7 days';
  v_session app_private.sessions;
  v_user app_public.users;
  v_hospital app_public.hospitals;
  v_refresh_token text := app_private.base64url(public.gen_random_bytes(32));
  v_refresh_token_id uuid;
  v_iat bigint := floor(extract(epoch from now()))::bigint;
begin
  select * into strict v_session from app_private.sessions where id = p_session_id;
  select * into strict v_user from app_public.users where id = v_session.user_id;
  select * into strict v_hospital from app_public.hospitals where id = v_session.hospital_id;

  insert into app_public.refresh_tokens (session_id, user_id, hospital_id, expires_at, user_agent, client_address, created_by, updated_by)
  values (v_session.id, v_user.id, v_hospital.id, least(now() + c_refresh_ttl, v_session.expires_at),
          app_private.request_user_agent(), app_private.request_client_address(), v_user.id, v_user.id)
  returning id into v_refresh_token_id;
  insert into app_private.refresh_token_hashes (refresh_token_id, token_hash)
  values (v_refresh_token_id, public.digest(v_refresh_token, 'sha256'));

  update app_public.refresh_tokens
     set rotated_at = now(), replaced_by_id = v_refresh_token_id
   where session_id = v_session.id and id <> v_refresh_token_id
     and rotated_at is null and revoked_at is null;

  update app_private.sessions set last_seen_at = now() where id = v_session.id;

  return json_build_object(
    'access_token', app_private.sign_jwt(jsonb_build_object(
      'role', app_hidden.staff_role(),
      'sub', v_user.id,
      'sid', v_session.id,
      'hid', v_hospital.id,
      'aud', 'hms',
      'iat', v_iat,
      'exp', v_iat + c_access_ttl)),
    'refresh_token', v_refresh_token,
    'token_type', 'bearer',
    'expires_in', c_access_ttl,
    'user', json_build_object(
      'id', v_user.id,
      'email', v_user.email,
      'first_name', v_user.first_name,
      'last_name', v_user.last_name,
      'display_name', coalesce(v_user.display_name, v_user.first_name || ' ' || v_user.last_name),
      'hospital', json_build_object('id', v_hospital.id, 'code', v_hospital.code, 'name', v_hospital.name)));
end;
$$;
comment on function app_private.issue_tokens(uuid) is
  'Issues a rotated refresh token and an access token for a live session and returns the login answer. Owner-only.';

create function app_public.login(email text, password text, hospital_id uuid default null) returns json
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
      'Too many failed logins: this account is locked for a while. Please try again later.', 429,
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
          'Too many failed logins: this account is locked for a while. Please try again later.', 429,
          jsonb_build_object('retry_after_seconds', ceil(extract(epoch from v_failure.locked_until - now()))::integer),
          null,
          jsonb_build_array(jsonb_build_object('Retry-After', ceil(extract(epoch from v_failure.locked_until - now()))::integer::text)));
      end if;
    end if;
    return app_private.error_response('HMS_LOGIN_FAILED', 'Email or password is incorrect.', 401);
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
      'You have no role in this hospital.', 403, null,
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

create function app_public.refresh(refresh_token text) returns json
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
    perform app_hidden.raise_error('HMS_REFRESH_TOKEN_INVALID', 'The refresh token is unknown or has expired. Please log in again.', 401);
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
      'This refresh token has already been used. For your safety the session was ended: please log in again.', 401);
  end if;

  select s.* into v_session from app_private.sessions s where s.id = v_token.session_id for update;
  select u.* into v_user from app_public.users u where u.id = v_token.user_id;
  if v_token.expires_at <= now() or v_session.revoked_at is not null or v_session.expires_at <= now()
     or not v_user.is_active or v_user.is_deleted then
    perform app_hidden.raise_error('HMS_REFRESH_TOKEN_INVALID', 'The refresh token is unknown or has expired. Please log in again.', 401);
  end if;
  if not app_hidden.is_member_of(v_user.id, v_session.hospital_id) then
    perform app_hidden.raise_error('HMS_HOSPITAL_ACCESS_DENIED', 'You no longer have a role in this hospital.', 403,
      null, 'Log in again to open another hospital.');
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

create function app_public.logout() returns json
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
      'Your session has ended (logged out, revoked or expired). Please log in again.', 401);
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

create function app_public.me() returns json
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
      'Your session has ended (logged out, revoked or expired). Please log in again.', 401);
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

create function app_public.switch_hospital(hospital_id uuid) returns json
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
      'Your session has ended (logged out, revoked or expired). Please log in again.', 401);
  end if;
  if v_target_id is null or not app_hidden.is_member_of(v_user_id, v_target_id) then
    perform app_hidden.raise_error('HMS_HOSPITAL_ACCESS_DENIED', 'You have no role in this hospital.', 403,
      null, 'Ask an administrator of the hospital to grant you a role.');
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

create function app_public.change_password(old_password text, new_password text) returns json
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
      'Your session has ended (logged out, revoked or expired). Please log in again.', 401);
  end if;
  select lower(u.email::text) into v_email from app_public.users u where u.id = v_user_id;
  select s.password_hash into v_hash from app_private.user_secrets s where s.user_id = v_user_id for update;
  if v_hash is null or public.crypt(v_old, v_hash) <> v_hash then
    perform app_hidden.raise_error('HMS_PASSWORD_INCORRECT', 'The current password is incorrect.', 403);
  end if;

  v_local_part := split_part(v_email, '@', 1);
  if char_length(v_new) < c_min_length then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      format('The new password must have at least %s characters.', c_min_length), 422,
      to_jsonb('min_length'::text));
  elsif octet_length(v_new) > 72 then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      'The new password must not be longer than 72 bytes (bcrypt ignores anything beyond).', 422,
      to_jsonb('max_bytes'::text));
  elsif strpos(lower(v_new), v_email) > 0 or lower(v_new) = v_local_part
        or (char_length(v_local_part) >= 3 and strpos(lower(v_new), v_local_part) > 0) then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      'The new password must not be or contain your email address or its name part.', 422,
      to_jsonb('not_email'::text));
  elsif v_new = v_old then
    perform app_hidden.raise_error('HMS_PASSWORD_POLICY',
      'The new password must be different from the current one.', 422,
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

grant execute on function app_public.login(text, text, uuid) to :DATABASE_ANONYMOUS, :DATABASE_STAFF;
grant execute on function app_public.refresh(text) to :DATABASE_ANONYMOUS, :DATABASE_STAFF;
grant execute on function app_public.logout() to :DATABASE_STAFF;
grant execute on function app_public.me() to :DATABASE_STAFF;
grant execute on function app_public.switch_hospital(uuid) to :DATABASE_STAFF;
grant execute on function app_public.change_password(text, text) to :DATABASE_STAFF;

--! split: 0240-audit.sql
/*
 * Audit trail (DESIGN.md §8; the table is section 5100 of the committed migration).
 *
 * One generic trigger, app_hidden.tg__audit(), is attached AFTER INSERT OR UPDATE OR DELETE FOR
 * EACH ROW, as `_900_audit` (after every other trigger of the table), to every app_public table
 * except:
 *   - audit_logs          the trail itself;
 *   - id_sequences        every number issued is an update of its counter: noise. Numbers are
 *                         audited on the documents that receive them (invoice_number, mrn, …);
 *   - notification_queue  worker bookkeeping (claims, retries), not a business change;
 *   - refresh_tokens      login and refresh are audited as events by the identity functions.
 * It writes through app_private.write_audit_log (section 0220), the one writer of audit_logs, so
 * data changes carry the same request context as logins: user, session, hospital, request id,
 * user agent, forwarded client address and API.
 *
 * What a row records:
 *   action          insert, update or delete; an update that flips is_deleted false→true is a
 *                   soft_delete, true→false a restore;
 *   table_name      the table (schema-qualified outside app_public); record_id the row's id;
 *   hospital_id     the row's hospital_id when the table has one; for hospitals, the row itself
 *                   (except a hard delete: the hospital is gone, so that event — and the deletes
 *                   it cascades to — are chain-level). Chain-level
 *                   rows (users, system roles, permissions) get the acting session's hospital
 *                   from write_audit_log, or null outside a request;
 *   old/new_values  the row as JSON minus secrets (app_hidden.audit_redact); insert has no old,
 *                   delete no new;
 *   changed_columns for updates, the columns whose value changed, in column order, without the
 *                   bookkeeping stamps updated_at/updated_by (they change on every write; their
 *                   values are still in old/new_values). An update that changes nothing but those
 *                   stamps writes no audit row at all, nor one that only records a login
 *                   (users.last_login_at: the login RPC audits the login itself).
 *
 * A table added later is covered by one call in its own section:
 *     select app_hidden.enable_audit('app_public.<table>');
 * (the loop at the end of this file also picks up every table that exists when it runs).
 *
 * The trail is append-only for everyone, the owner included: a BEFORE UPDATE OR DELETE row
 * trigger and a BEFORE TRUNCATE statement trigger refuse with HMS_AUDIT_APPEND_ONLY (403), and no
 * API role has insert/update/delete/truncate on it (9200 grants staff SELECT under audit.read).
 * A retention purge is a deliberate, visible DBA step: in one transaction as the owner,
 * `alter table app_public.audit_logs disable trigger _000_append_only`, delete the old rows,
 * `enable trigger` again (ALTER TABLE locks the trail exclusively meanwhile and is logged with
 * log_statement = 'ddl'); with monthly partitions, dropping an old partition fires no row trigger.
 * Note that audit_logs.hospital_id restricts: a hospital with history cannot be hard-deleted
 * unless its history is purged that way first (soft delete is the normal way out).
 *
 * Re-runnable (graphile-migrate current/): create or replace, drop trigger if exists, idempotent loops.
 */

/*
 * Removes secrets from a row image: top-level keys whose name says password, secret or token_hash
 * (defence in depth: secrets live in app_private, one-to-one tables). Boolean values are kept — a
 * flag such as users.must_change_password says nothing secret.
 */
create or replace function app_hidden.audit_redact(p_row jsonb) returns jsonb
language sql
immutable
strict
parallel safe
as $$
  select p_row - coalesce((select array_agg(e.key)
                             from jsonb_each(p_row) e
                            where e.key ~* '(password|secret|token_hash)'
                              and jsonb_typeof(e.value) <> 'boolean'), '{}'::text[]);
$$;
comment on function app_hidden.audit_redact(jsonb) is
  'A row image (JSON object) without its secrets: keys naming a password, secret or token_hash are removed (boolean flags are kept).';

create or replace function app_hidden.tg__audit() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_old jsonb;
  v_new jsonb;
  v_row jsonb;
  v_action text;
  v_changed text[];
  v_hospital_id uuid;
  v_table text := case when TG_TABLE_SCHEMA = 'app_public' then TG_TABLE_NAME
                       else TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME end;
begin
  if TG_OP in ('UPDATE', 'DELETE') then
    v_old := to_jsonb(OLD);
  end if;
  if TG_OP in ('INSERT', 'UPDATE') then
    v_new := to_jsonb(NEW);
  end if;
  v_row := coalesce(v_new, v_old);

  if TG_OP = 'UPDATE' then
    -- to_json keeps the column order (jsonb sorts its keys).
    select array_agg(n.key order by n.ord) into v_changed
      from json_each(to_json(NEW)) with ordinality as n(key, value, ord)
     where n.key not in ('updated_at', 'updated_by')
       and (v_new -> n.key) is distinct from (v_old -> n.key);
    if v_changed is null then
      return null; -- nothing but the stamps changed: not an event
    end if;
    if TG_TABLE_NAME = 'users' and v_changed = array['last_login_at'] then
      return null; -- a login, audited as its own 'login' event by app_public.login
    end if;
    v_action := case
      when v_old -> 'is_deleted' = 'false'::jsonb and v_new -> 'is_deleted' = 'true'::jsonb then 'soft_delete'
      when v_old -> 'is_deleted' = 'true'::jsonb and v_new -> 'is_deleted' = 'false'::jsonb then 'restore'
      else 'update'
    end;
  else
    v_action := lower(TG_OP);
  end if;

  if TG_TABLE_SCHEMA = 'app_public' and TG_TABLE_NAME = 'hospitals' then
    v_hospital_id := case when TG_OP <> 'DELETE' then (v_row ->> 'id')::uuid end;
  else
    v_hospital_id := (v_row ->> 'hospital_id')::uuid;
    -- A row deleted together with its hospital (cascade from a hard delete of the hospital, only
    -- possible after a DBA purged its history): the event can only be chain-level.
    if TG_OP = 'DELETE' and v_hospital_id is not null
       and not exists (select 1 from app_public.hospitals h where h.id = v_hospital_id) then
      v_hospital_id := null;
    end if;
  end if;

  perform app_private.write_audit_log(
    p_action => v_action,
    p_table_name => v_table,
    p_record_id => (v_row ->> 'id')::uuid,
    p_hospital_id => v_hospital_id,
    p_old_values => app_hidden.audit_redact(v_old),
    p_new_values => app_hidden.audit_redact(v_new),
    p_changed_columns => v_changed);
  return null;
end;
$$;
comment on function app_hidden.tg__audit() is
  E'AFTER INSERT/UPDATE/DELETE row trigger (_900_audit) of every audited table: writes one audit_logs row (insert, update, delete, soft_delete or restore) with the old and new values minus secrets and the changed columns. Updates that only touch updated_at/updated_by are not recorded.';

/* Installs (or re-installs) the audit trigger on one table. */
create or replace function app_hidden.enable_audit(p_table regclass) returns void
language plpgsql
volatile
as $$
begin
  if p_table = 'app_public.audit_logs'::regclass then
    raise exception 'app_public.audit_logs cannot audit itself';
  end if;
  if not exists (select 1 from pg_catalog.pg_attribute a
                  where a.attrelid = p_table and a.attname = 'id' and a.atttypid = 'uuid'::regtype and not a.attisdropped) then
    raise exception 'cannot audit %: it has no uuid id column (audit rows name their record by id)', p_table;
  end if;
  if exists (select 1 from pg_catalog.pg_trigger t where t.tgrelid = p_table and t.tgname = '_900_audit') then
    execute format('drop trigger _900_audit on %s', p_table);
  end if;
  execute format('create trigger _900_audit after insert or update or delete on %s '
                 'for each row execute function app_hidden.tg__audit()', p_table);
end;
$$;
comment on function app_hidden.enable_audit(regclass) is
  'Attaches the generic audit trigger (_900_audit) to a table (idempotent). A table added by a later migration calls it once.';

create or replace function app_hidden.disable_audit(p_table regclass) returns void
language plpgsql
volatile
as $$
begin
  if exists (select 1 from pg_catalog.pg_trigger t where t.tgrelid = p_table and t.tgname = '_900_audit') then
    execute format('drop trigger _900_audit on %s', p_table);
  end if;
end;
$$;
comment on function app_hidden.disable_audit(regclass) is 'Removes the generic audit trigger from a table (idempotent).';

do $$
declare
  v record;
begin
  for v in
    select c.oid::regclass as tbl,
           c.relname in ('audit_logs', 'id_sequences', 'notification_queue', 'refresh_tokens') as excluded
      from pg_catalog.pg_class c
     where c.relnamespace = 'app_public'::regnamespace
       and c.relkind in ('r', 'p') and not c.relispartition -- a partitioned table's trigger covers its partitions
     order by c.relname
  loop
    if v.excluded then
      perform app_hidden.disable_audit(v.tbl);
    else
      perform app_hidden.enable_audit(v.tbl);
    end if;
  end loop;
end;
$$;

/*
 * Append-only: no row of the trail is ever changed or removed, whoever asks (the owner included,
 * and a `truncate … cascade` from another table). Raised before anything is touched.
 */
create or replace function app_hidden.tg_audit_logs__append_only() returns trigger
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_AUDIT_APPEND_ONLY',
    'The audit trail is append-only: its entries cannot be changed or removed.', 403,
    jsonb_build_object('operation', lower(TG_OP)));
  return null;
end;
$$;
comment on function app_hidden.tg_audit_logs__append_only() is
  'BEFORE UPDATE/DELETE/TRUNCATE trigger of audit_logs: refuses with HMS_AUDIT_APPEND_ONLY (403), for every role including the owner.';

drop trigger if exists _000_append_only on app_public.audit_logs;
create trigger _000_append_only before update or delete on app_public.audit_logs
  for each row execute function app_hidden.tg_audit_logs__append_only();
drop trigger if exists _000_append_only_truncate on app_public.audit_logs;
create trigger _000_append_only_truncate before truncate on app_public.audit_logs
  for each statement execute function app_hidden.tg_audit_logs__append_only();

-- Only app_private.write_audit_log (as the owner) writes the trail; API roles at most read it.
revoke insert, update, delete, truncate on app_public.audit_logs from :DATABASE_STAFF, :DATABASE_ANONYMOUS;

--! split: 0250-soft-delete.sql
/*
 * Soft delete (DESIGN.md §8, db/CONVENTIONS.md "major entities").
 *
 * Every app_public table with an is_deleted column gets a BEFORE DELETE row trigger
 * `_050_soft_delete` → app_hidden.tg__soft_delete(). When the delete comes from a request — a
 * logged-in member of staff, through REST, GraphQL or an RPC (app_hidden.current_user_id() is not
 * null) — the row is not removed: the trigger runs
 *     update <table> set is_deleted = true where id = OLD.id and not is_deleted
 * and returns NULL, which cancels the delete of that row. That update goes through the table's
 * own triggers like any other: _100_stamp records who and when (updated_by/updated_at),
 * _110_soft_delete stamps deleted_at, the table's BEFORE UPDATE business rules apply, and
 * _900_audit (0240) writes a 'soft_delete' audit row. Deleting a row that is already soft-deleted
 * changes nothing.
 *
 * Who may delete is decided before the trigger runs: the DELETE privilege and the permission-gated
 * delete policy (9200) filter the rows; the trigger is security definer only because staff have no
 * UPDATE privilege on is_deleted/deleted_at. A restore (is_deleted back to false) is an update by
 * an RPC or the owner, audited as 'restore'.
 *
 * A delete WITHOUT a request user — the owner in psql, a DBA, a maintenance or retention job, a
 * migration — is a REAL delete (the trigger returns OLD): removing rows entered by mistake, or
 * test data, stays possible, and it is audited as 'delete' with the full old row.
 *
 * API behaviour (checked against PostgREST 12): because the trigger returns NULL, PostgreSQL
 * counts the row as not deleted. `DELETE /patients?id=eq.…` answers 204 as usual; with
 * `Prefer: return=representation` it answers 200 with `[]`, and with `Prefer: count=exact` the
 * Content-Range reports a total of 0 — exactly as for a DELETE that matched nothing. The console must not rely
 * on the representation or count of a DELETE: it re-reads the row (holders of audit.read still see
 * it, with is_deleted = true and deleted_at; others no longer see it — hide_deleted policy, 9200).
 * GraphQL (not verified here, PostGraphile is not in the stack yet): generated delete mutations
 * read back the deleted row and PostGraphile v4 reports "No values were deleted" when there is
 * none, so a soft delete there may surface as an error; check it when PostGraphile lands.
 *
 * Only soft-deletable tables get the trigger, so their children with `on delete cascade` (invoice
 * lines, schedules, …) are never cascaded from a soft delete (nothing is deleted), and none of
 * them has is_deleted itself (a cascaded delete into a soft-deletable row would be cancelled).
 * BEFORE DELETE triggers named after _050 do not run for a soft delete (the delete is cancelled
 * first); put rules that must hold for removal in BEFORE UPDATE triggers (or number them < _050).
 *
 * A table added later: `select app_hidden.enable_soft_delete('app_public.<table>');`
 * Re-runnable: create or replace, drop trigger if exists, idempotent loop.
 */

create or replace function app_hidden.tg__soft_delete() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if app_hidden.current_user_id() is null then
    -- No request user (owner, DBA, maintenance job, migration): a real delete.
    return OLD;
  end if;
  execute format('update %I.%I set is_deleted = true where id = $1 and not is_deleted', TG_TABLE_SCHEMA, TG_TABLE_NAME)
    using OLD.id;
  return null; -- the row stays: it is now soft-deleted
end;
$$;
comment on function app_hidden.tg__soft_delete() is
  E'BEFORE DELETE row trigger (_050_soft_delete) of soft-deletable tables: a delete by a logged-in member of staff becomes is_deleted = true (the row stays, audited as soft_delete); a delete without a request user (owner, maintenance) really deletes.';

/* Installs (or re-installs) the soft-delete trigger on one table. */
create or replace function app_hidden.enable_soft_delete(p_table regclass) returns void
language plpgsql
volatile
as $$
begin
  if not exists (select 1 from pg_catalog.pg_attribute a
                  where a.attrelid = p_table and a.attname = 'is_deleted' and a.atttypid = 'boolean'::regtype and not a.attisdropped)
     or not exists (select 1 from pg_catalog.pg_attribute a
                     where a.attrelid = p_table and a.attname = 'id' and not a.attisdropped) then
    raise exception 'cannot soft-delete %: it needs an id and an is_deleted boolean column', p_table;
  end if;
  if exists (select 1 from pg_catalog.pg_trigger t where t.tgrelid = p_table and t.tgname = '_050_soft_delete') then
    execute format('drop trigger _050_soft_delete on %s', p_table);
  end if;
  execute format('create trigger _050_soft_delete before delete on %s '
                 'for each row execute function app_hidden.tg__soft_delete()', p_table);
end;
$$;
comment on function app_hidden.enable_soft_delete(regclass) is
  'Attaches the soft-delete trigger (_050_soft_delete) to a table with is_deleted (idempotent). A table added by a later migration calls it once.';

do $$
declare
  v record;
begin
  for v in
    select c.oid::regclass as tbl,
           exists (select 1 from pg_catalog.pg_attribute a
                    where a.attrelid = c.oid and a.attname = 'is_deleted' and not a.attisdropped) as soft_deletable
      from pg_catalog.pg_class c
     where c.relnamespace = 'app_public'::regnamespace
       and c.relkind in ('r', 'p') and not c.relispartition
     order by c.relname
  loop
    if v.soft_deletable then
      perform app_hidden.enable_soft_delete(v.tbl);
    elsif exists (select 1 from pg_catalog.pg_trigger t where t.tgrelid = v.tbl and t.tgname = '_050_soft_delete') then
      execute format('drop trigger _050_soft_delete on %s', v.tbl);
    end if;
  end loop;
end;
$$;

--! split: 9200-row-level-security.sql
/*
 * Row-level security and API grants for every table (DESIGN.md §6), generated from one access
 * model kept as data.
 *
 * app_hidden.table_access says, per hospital-scoped table, which permissions let a member of staff
 * read it, write it (insert/update) and delete it, and which columns clients may never write.
 * app_hidden.apply_access_policies(table) turns a row of it into:
 *   - RLS enabled and FORCED;
 *   - tenant_isolation: a RESTRICTIVE policy, hospital_id = the active hospital, for every command
 *     (no permissive policy can widen it);
 *   - hide_deleted: a restrictive SELECT policy: soft-deleted rows leave normal lists but stay
 *     readable to those who hold audit.read (hospital admins);
 *   - select/insert/update/delete_with_permission: permissive policies on the permissions;
 *   - grants: SELECT, INSERT and UPDATE with explicit column lists (never hospital_id — it defaults
 *     to the active hospital —, ids on update, the stamps, soft-delete flags, document numbers,
 *     totals, balances, stock levels or generated columns), DELETE where a permission allows it.
 * Chain-level tables (hospitals, users, roles, …) and a few special ones have hand-written
 * policies at the end. Every helper is wrapped in (select …) so it is evaluated once per
 * statement, and every policy column (hospital_id) leads an index.
 *
 * The owner (migrations, security definer functions) has BYPASSRLS (db/launcher/bootstrap.ts):
 * security definer functions therefore check tenancy themselves.
 *
 * Re-runnable: the model table is recreated and apply_access_policies drops what it creates.
 */

create or replace function app_hidden.has_any_permission(p_codes text[]) returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (select 1 from unnest(p_codes) c where app_hidden.has_permission(c));
$$;
comment on function app_hidden.has_any_permission(text[]) is 'True when the acting user holds at least one of the permissions in the active hospital.';
grant execute on function app_hidden.has_any_permission(text[]) to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.hospital_member_ids() returns setof uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select ur.user_id
    from app_public.user_roles ur
    join app_public.roles r on r.id = ur.role_id
   where (ur.hospital_id = app_hidden.current_hospital_id() or (ur.hospital_id is null and r.scope = 'chain'))
     and app_hidden.current_hospital_id() is not null
     and current_date >= ur.valid_from
     and (ur.valid_until is null or current_date <= ur.valid_until);
$$;
comment on function app_hidden.hospital_member_ids() is 'Users who hold a role valid today in the active hospital (the staff directory).';
grant execute on function app_hidden.hospital_member_ids() to :DATABASE_STAFF;

create or replace function app_hidden.my_hospital_ids() returns setof uuid
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select h.id from app_public.hospitals h where app_hidden.is_member_of(app_hidden.current_user_id(), h.id);
$$;
comment on function app_hidden.my_hospital_ids() is 'Hospitals the acting user may work in (all active ones for the super admin).';
grant execute on function app_hidden.my_hospital_ids() to :DATABASE_STAFF;

drop table if exists app_hidden.table_access cascade;
create table app_hidden.table_access (
  table_name text primary key,
  read_permissions text[],
  write_permissions text[] not null default '{}',
  delete_permissions text[] not null default '{}',
  write_mode text not null default 'read_write'
    constraint table_access_write_mode_check check (write_mode in ('read_write', 'insert_only', 'update_only', 'read_only')),
  protected_columns text[] not null default '{}'
);
comment on table app_hidden.table_access is
  E'The access model of each hospital-scoped table: read_permissions (null = every member of the hospital), write_permissions (insert/update), delete_permissions, write_mode and the columns clients may never write. app_hidden.apply_access_policies() turns it into policies and grants.';

insert into app_hidden.table_access (table_name, read_permissions, write_permissions, delete_permissions, write_mode, protected_columns) values
  -- Foundation
  ('departments',               null, '{settings.manage}', '{settings.manage}', 'read_write', '{}'),
  ('hospital_settings',         null, '{settings.manage}', '{}', 'update_only', '{}'),
  ('tax_configurations',        null, '{settings.manage}', '{settings.manage}', 'read_write', '{}'),
  ('id_sequences',              null, '{settings.manage}', '{}', 'update_only', '{document_type,scope,current_period,next_value,last_issued_at}'),
  ('notification_templates',    null, '{settings.manage}', '{settings.manage}', 'read_write', '{}'),
  -- Patients
  ('patients',                  '{patients.read}', '{patients.write}', '{patients.delete}', 'read_write', '{}'),
  ('patient_consents',          '{patients.read}', '{patients.write}', '{patients.write}', 'read_write', '{}'),
  ('patient_documents',         '{patients.read}', '{patients.write}', '{patients.delete}', 'read_write', '{}'),
  ('id_cards',                  '{patients.read,users.read}', '{patients.write}', '{patients.write}', 'read_write', '{print_count,last_printed_at}'),
  -- Doctors (the directory every member of staff books against)
  ('doctors',                   null, '{doctors.manage}', '{doctors.manage}', 'read_write', '{}'),
  ('doctor_schedules',          null, '{doctors.manage}', '{doctors.manage}', 'read_write', '{}'),
  ('doctor_leaves',             null, '{doctors.manage}', '{doctors.manage}', 'read_write', '{}'),
  ('doctor_fees',               null, '{doctors.manage}', '{doctors.manage}', 'read_write', '{}'),
  -- Appointments
  ('appointments',              '{appointments.read}', '{appointments.manage,appointments.checkin}', '{appointments.manage}', 'read_write', '{}'),
  ('appointment_status_log',    '{appointments.read}', '{}', '{}', 'read_only', '{}'),
  ('appointment_queue',         '{appointments.read}', '{appointments.checkin}', '{}', 'read_write', '{}'),
  -- Medicines and pharmacy
  ('medicines',                 '{medicines.read,pharmacy.dispense,prescriptions.write,inventory.read,billing.write}', '{medicines.manage}', '{medicines.manage}', 'read_write', '{}'),
  ('medicine_batches',          '{medicines.read,pharmacy.dispense,inventory.read}', '{medicines.manage,inventory.manage}', '{}', 'read_write', '{quantity_on_hand,quantity_received}'),
  ('pharmacy_dispensing',       '{pharmacy.dispense,pharmacy.return,billing.read}', '{pharmacy.dispense}', '{pharmacy.dispense}', 'read_write', '{total_amount,tax_amount,net_amount}'),
  ('pharmacy_dispensing_items', '{pharmacy.dispense,pharmacy.return,billing.read}', '{pharmacy.dispense}', '{pharmacy.dispense}', 'read_write', '{tax_amount,line_total,quantity_returned}'),
  ('pharmacy_returns',          '{pharmacy.dispense,pharmacy.return,billing.read}', '{pharmacy.return}', '{pharmacy.return}', 'read_write', '{}'),
  ('pharmacy_return_items',     '{pharmacy.dispense,pharmacy.return,billing.read}', '{pharmacy.return}', '{pharmacy.return}', 'read_write', '{}'),
  -- Prescriptions and lab
  ('prescriptions',             '{prescriptions.read}', '{prescriptions.write}', '{prescriptions.write}', 'read_write', '{version}'),
  ('prescription_items',        '{prescriptions.read}', '{prescriptions.write}', '{prescriptions.write}', 'read_write', '{quantity_dispensed}'),
  ('prescription_templates',    '{prescriptions.read,prescriptions.write}', '{prescriptions.write}', '{prescriptions.write}', 'read_write', '{usage_count}'),
  ('prescription_versions',     '{prescriptions.read}', '{}', '{}', 'read_only', '{}'),
  ('lab_orders',                '{lab.read}', '{lab.order,lab.process}', '{lab.order}', 'read_write', '{}'),
  -- Optical
  ('optical_products',          '{optical.read,inventory.read}', '{optical.manage,inventory.manage}', '{optical.manage}', 'read_write', '{quantity_on_hand}'),
  ('optical_prescriptions',     '{optical.read}', '{optical.prescribe}', '{optical.prescribe}', 'read_write', '{}'),
  ('optical_orders',            '{optical.read}', '{optical.manage}', '{optical.manage}', 'read_write', '{subtotal,tax_amount,total_amount,advance_paid}'),
  ('optical_order_items',       '{optical.read}', '{optical.manage}', '{optical.manage}', 'read_write', '{line_total}'),
  ('optical_repairs',           '{optical.read}', '{optical.manage}', '{optical.manage}', 'read_write', '{}'),
  -- Billing
  ('invoices',                  '{billing.read}', '{billing.write}', '{billing.write}', 'read_write',
     '{subtotal,tax_amount,total_amount,amount_paid,amount_refunded,amount_credited,balance_due,insurance_amount,patient_amount,paid_at}'),
  ('invoice_items',             '{billing.read}', '{billing.write}', '{billing.write}', 'read_write', '{tax_amount,line_total}'),
  ('payments',                  '{billing.read}', '{billing.collect}', '{billing.collect}', 'read_write', '{}'),
  ('refunds',                   '{billing.read}', '{billing.refund}', '{billing.refund}', 'read_write', '{}'),
  ('credit_notes',              '{billing.read}', '{billing.refund}', '{billing.refund}', 'read_write', '{}'),
  ('daily_settlements',         '{billing.read}', '{billing.settle}', '{}', 'read_write',
     '{cash_total,card_total,upi_total,bank_transfer_total,cheque_total,wallet_total,insurance_total,other_total,gross_collections,refunds_total,net_collections,invoice_count,payment_count,refund_count,expected_cash,cash_variance,computed_at}'),
  -- Insurance
  ('insurance_providers',       '{insurance.read}', '{insurance.manage}', '{insurance.manage}', 'read_write', '{}'),
  ('insurance_policies',        '{insurance.read}', '{insurance.manage}', '{insurance.manage}', 'read_write', '{remaining_limit}'),
  ('pre_authorizations',        '{insurance.read}', '{insurance.manage}', '{insurance.manage}', 'read_write', '{}'),
  ('insurance_claims',          '{insurance.read}', '{insurance.manage}', '{insurance.manage}', 'read_write', '{}'),
  -- Supply chain and stock
  ('suppliers',                 '{inventory.read}', '{inventory.manage}', '{inventory.manage}', 'read_write', '{}'),
  ('purchase_orders',           '{inventory.read}', '{inventory.manage,inventory.approve}', '{inventory.manage}', 'read_write', '{subtotal,tax_amount,total_amount}'),
  ('purchase_order_items',      '{inventory.read}', '{inventory.manage}', '{inventory.manage}', 'read_write', '{quantity_received,line_total}'),
  ('goods_receipt_notes',       '{inventory.read}', '{inventory.manage}', '{inventory.manage}', 'read_write', '{subtotal,tax_amount,total_amount}'),
  ('grn_items',                 '{inventory.read}', '{inventory.manage}', '{inventory.manage}', 'read_write', '{line_total,batch_id}'),
  ('stock_movements',           '{inventory.read,medicines.read,optical.read}', '{}', '{}', 'read_only', '{}'),
  ('stock_adjustments',         '{inventory.read}', '{inventory.manage,inventory.approve}', '{inventory.manage}', 'read_write', '{}'),
  ('cycle_counts',              '{inventory.read}', '{inventory.manage,inventory.approve}', '{inventory.manage}', 'read_write', '{total_variance_quantity,total_variance_value}'),
  ('cycle_count_items',         '{inventory.read}', '{inventory.manage}', '{inventory.manage}', 'read_write', '{system_quantity}'),
  -- Worker bookkeeping
  ('notification_queue',        '{settings.manage}', '{}', '{}', 'read_only', '{}');

/* Columns no client ever writes, whatever the table. */
create or replace function app_hidden.never_client_writable() returns text[]
language sql
immutable
as $$
  select array[
    'hospital_id', 'created_at', 'updated_at', 'created_by', 'updated_by', 'is_deleted', 'deleted_at',
    -- document numbers come from hms_generate_id
    'mrn', 'appointment_number', 'token_number', 'token_label', 'prescription_number', 'order_number',
    'dispensing_number', 'return_number', 'repair_number', 'invoice_number', 'receipt_number', 'refund_number',
    'credit_note_number', 'settlement_number', 'claim_number', 'pre_authorization_number', 'po_number',
    'grn_number', 'adjustment_number', 'count_number', 'card_number'];
$$;
comment on function app_hidden.never_client_writable() is
  'Columns no API client may write on any table: tenant, stamps, soft-delete flags and document numbers.';

/* The columns of a table a client may write: all but the protected and generated ones (and id on update). */
create or replace function app_hidden.client_writable_columns(p_table regclass, p_for_update boolean) returns text[]
language sql
stable
as $$
  select coalesce(array_agg(a.attname::text order by a.attnum), '{}')
    from pg_catalog.pg_attribute a
   where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
     and a.attname <> all (app_hidden.never_client_writable())
     and a.attname <> all (coalesce((select t.protected_columns from app_hidden.table_access t
                                      where t.table_name = (select c.relname from pg_catalog.pg_class c where c.oid = p_table)), '{}'))
     and not (p_for_update and a.attname = 'id');
$$;
comment on function app_hidden.client_writable_columns(regclass, boolean) is 'Columns of a table API clients may insert (or update).';

create or replace function app_hidden.apply_access_policies(p_table regclass) returns void
language plpgsql
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_access app_hidden.table_access;
  v_policy record;
  v_has_deleted boolean := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_deleted' and not a.attisdropped);
  v_read text;
  v_insert_columns text;
  v_update_columns text;
begin
  select * into strict v_access from app_hidden.table_access where table_name = v_name;

  for v_policy in select polname from pg_catalog.pg_policy where polrelid = p_table loop
    execute format('drop policy %I on %s', v_policy.polname, p_table);
  end loop;
  execute format('revoke insert, update, delete on %s from :DATABASE_STAFF, :DATABASE_ANONYMOUS', p_table);
  execute format('alter table %s enable row level security, force row level security', p_table);
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
    v_insert_columns := (select string_agg(quote_ident(c), ', ') from unnest(app_hidden.client_writable_columns(p_table, false)) c);
    execute format('create policy insert_with_permission on %s for insert to :DATABASE_STAFF with check ((select app_hidden.has_any_permission(%L::text[])))',
                   p_table, v_access.write_permissions);
    execute format('comment on policy insert_with_permission on %s is %L', p_table,
                   'Insertable with any of: ' || array_to_string(v_access.write_permissions, ', ') || '.');
    execute format('grant insert (%s) on %s to :DATABASE_STAFF', v_insert_columns, p_table);
  end if;

  if v_access.write_mode in ('read_write', 'update_only') and v_access.write_permissions <> '{}' then
    v_update_columns := (select string_agg(quote_ident(c), ', ') from unnest(app_hidden.client_writable_columns(p_table, true)) c);
    execute format('create policy update_with_permission on %s for update to :DATABASE_STAFF using ((select app_hidden.has_any_permission(%L::text[]))) with check ((select app_hidden.has_any_permission(%L::text[])))',
                   p_table, v_access.write_permissions, v_access.write_permissions);
    execute format('comment on policy update_with_permission on %s is %L', p_table,
                   'Updatable with any of: ' || array_to_string(v_access.write_permissions, ', ') || '.');
    execute format('grant update (%s) on %s to :DATABASE_STAFF', v_update_columns, p_table);
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
  'Generates RLS policies and grants of a hospital-scoped table from its app_hidden.table_access row (re-runnable).';

select app_hidden.apply_access_policies(('app_public.' || table_name)::regclass)
  from app_hidden.table_access order by table_name;

/* ------------------------------------------------------------------------------------------
 * Chain-level and special tables: hand-written policies.
 * ------------------------------------------------------------------------------------------ */

-- Drop every policy of the hand-written tables first (re-runnable).
do $$
declare
  v record;
begin
  for v in
    select p.polname, c.oid::regclass as tbl from pg_catalog.pg_policy p join pg_catalog.pg_class c on c.oid = p.polrelid
     where c.relnamespace = 'app_public'::regnamespace
       and c.relname in ('hospitals', 'users', 'roles', 'permissions', 'role_permissions', 'user_roles',
                         'refresh_tokens', 'password_emails', 'notifications', 'audit_logs')
  loop
    execute format('drop policy %I on %s', v.polname, v.tbl);
  end loop;
end;
$$;

-- hospitals: members see their hospitals; the super admin sees and manages the chain.
alter table app_public.hospitals enable row level security, force row level security;
revoke insert, update, delete on app_public.hospitals from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_member on app_public.hospitals for select to :DATABASE_STAFF
  using (id in (select app_hidden.my_hospital_ids()));
comment on policy select_member on app_public.hospitals is 'Staff see the hospitals they hold a role in (the super admin: all).';
create policy insert_super_admin on app_public.hospitals for insert to :DATABASE_STAFF
  with check ((select app_hidden.has_permission('hospitals.manage')));
comment on policy insert_super_admin on app_public.hospitals is 'Only holders of hospitals.manage (super admin) add hospitals.';
create policy update_super_admin on app_public.hospitals for update to :DATABASE_STAFF
  using ((select app_hidden.has_permission('hospitals.manage'))) with check ((select app_hidden.has_permission('hospitals.manage')));
comment on policy update_super_admin on app_public.hospitals is 'Only holders of hospitals.manage (super admin) edit hospitals.';
create policy delete_super_admin on app_public.hospitals for delete to :DATABASE_STAFF
  using ((select app_hidden.has_permission('hospitals.manage')));
comment on policy delete_super_admin on app_public.hospitals is 'Only holders of hospitals.manage (super admin) remove hospitals (a soft delete).';
grant insert (code, name, legal_name, hospital_type, registration_number, tax_identifier, email, phone, website, address_line1,
              address_line2, city, state_province, postal_code, country_code, time_zone, currency_code, locale, bed_capacity,
              accreditation, logo_url, is_active)
  on app_public.hospitals to :DATABASE_STAFF;
grant update (name, legal_name, hospital_type, registration_number, tax_identifier, email, phone, website, address_line1,
              address_line2, city, state_province, postal_code, country_code, time_zone, currency_code, locale, bed_capacity,
              accreditation, logo_url, is_active)
  on app_public.hospitals to :DATABASE_STAFF;
grant delete on app_public.hospitals to :DATABASE_STAFF;

-- users: the staff directory of the active hospital, oneself, or the whole chain for the super admin.
alter table app_public.users enable row level security, force row level security;
revoke insert, update, delete on app_public.users from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_directory on app_public.users for select to :DATABASE_STAFF
  using (id = (select app_hidden.current_user_id())
         or id in (select app_hidden.hospital_member_ids())
         or (select app_hidden.is_super_admin()));
comment on policy select_directory on app_public.users is
  'Staff see themselves and the colleagues who hold a role in their active hospital; the super admin sees every user.';
create policy insert_with_permission on app_public.users for insert to :DATABASE_STAFF
  with check ((select app_hidden.has_permission('users.manage')));
comment on policy insert_with_permission on app_public.users is 'Holders of users.manage create accounts (then grant them roles in their hospital).';
create policy update_with_permission on app_public.users for update to :DATABASE_STAFF
  using ((select app_hidden.has_permission('users.manage'))
         and (id in (select app_hidden.hospital_member_ids()) or (select app_hidden.is_super_admin())))
  with check ((select app_hidden.has_permission('users.manage')));
comment on policy update_with_permission on app_public.users is 'Holders of users.manage edit the accounts of their hospital''s staff (the super admin: any).';
create policy delete_with_permission on app_public.users for delete to :DATABASE_STAFF
  using ((select app_hidden.has_permission('users.manage'))
         and (id in (select app_hidden.hospital_member_ids()) or (select app_hidden.is_super_admin()))
         and id <> (select app_hidden.current_user_id()));
comment on policy delete_with_permission on app_public.users is 'Holders of users.manage deactivate (soft-delete) their hospital''s staff, never themselves.';
grant insert (email, title, first_name, last_name, display_name, phone, job_title, employee_code, home_hospital_id, avatar_url,
              locale, must_change_password, is_active)
  on app_public.users to :DATABASE_STAFF;
grant update (title, first_name, last_name, display_name, phone, job_title, employee_code, home_hospital_id, avatar_url,
              locale, must_change_password, is_active)
  on app_public.users to :DATABASE_STAFF;
grant delete on app_public.users to :DATABASE_STAFF;

-- roles and permissions: the catalogue is readable by every member of staff.
alter table app_public.roles enable row level security, force row level security;
revoke insert, update, delete on app_public.roles from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_visible on app_public.roles for select to :DATABASE_STAFF
  using ((select app_hidden.current_hospital_id()) is not null
         and (hospital_id is null or hospital_id = (select app_hidden.current_hospital_id())));
comment on policy select_visible on app_public.roles is 'Staff see the system roles and the custom roles of their active hospital.';
create policy insert_custom on app_public.roles for insert to :DATABASE_STAFF
  with check ((select app_hidden.has_permission('roles.manage')) and not is_system and scope = 'hospital'
              and hospital_id = (select app_hidden.current_hospital_id()));
comment on policy insert_custom on app_public.roles is 'Holders of roles.manage add custom roles to their own hospital.';
create policy update_custom on app_public.roles for update to :DATABASE_STAFF
  using ((select app_hidden.has_permission('roles.manage')) and not is_system and hospital_id = (select app_hidden.current_hospital_id()))
  with check (not is_system and scope = 'hospital' and hospital_id = (select app_hidden.current_hospital_id()));
comment on policy update_custom on app_public.roles is 'Custom roles of the hospital are editable with roles.manage; system roles never.';
create policy delete_custom on app_public.roles for delete to :DATABASE_STAFF
  using ((select app_hidden.has_permission('roles.manage')) and not is_system and hospital_id = (select app_hidden.current_hospital_id()));
comment on policy delete_custom on app_public.roles is 'Custom roles of the hospital may be removed with roles.manage (if nobody holds them).';
alter table app_public.roles alter column hospital_id set default app_hidden.current_hospital_id();
grant insert (code, name, description, sort_order, is_active) on app_public.roles to :DATABASE_STAFF;
grant update (name, description, sort_order, is_active) on app_public.roles to :DATABASE_STAFF;
grant delete on app_public.roles to :DATABASE_STAFF;

alter table app_public.permissions enable row level security, force row level security;
revoke insert, update, delete on app_public.permissions from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_member on app_public.permissions for select to :DATABASE_STAFF
  using ((select app_hidden.current_hospital_id()) is not null);
comment on policy select_member on app_public.permissions is 'The permission catalogue is readable by every member of staff; it changes only by migration.';

alter table app_public.role_permissions enable row level security, force row level security;
revoke insert, update, delete on app_public.role_permissions from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_visible on app_public.role_permissions for select to :DATABASE_STAFF
  using (role_id in (select r.id from app_public.roles r));
comment on policy select_visible on app_public.role_permissions is 'Staff see the permissions of the roles they can see.';
create policy insert_custom on app_public.role_permissions for insert to :DATABASE_STAFF
  with check ((select app_hidden.has_permission('roles.manage'))
              and role_id in (select r.id from app_public.roles r where not r.is_system and r.hospital_id = (select app_hidden.current_hospital_id())));
comment on policy insert_custom on app_public.role_permissions is 'Holders of roles.manage compose their hospital''s custom roles.';
create policy delete_custom on app_public.role_permissions for delete to :DATABASE_STAFF
  using ((select app_hidden.has_permission('roles.manage'))
         and role_id in (select r.id from app_public.roles r where not r.is_system and r.hospital_id = (select app_hidden.current_hospital_id())));
comment on policy delete_custom on app_public.role_permissions is 'Holders of roles.manage remove permissions from their hospital''s custom roles.';
grant insert (role_id, permission_id) on app_public.role_permissions to :DATABASE_STAFF;
grant delete on app_public.role_permissions to :DATABASE_STAFF;

-- user_roles: who holds which role here. Chain-wide roles are granted by the super admin only.
alter table app_public.user_roles enable row level security, force row level security;
revoke insert, update, delete on app_public.user_roles from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_visible on app_public.user_roles for select to :DATABASE_STAFF
  using (user_id = (select app_hidden.current_user_id())
         or (hospital_id = (select app_hidden.current_hospital_id()) and (select app_hidden.has_permission('users.read')))
         or (select app_hidden.is_super_admin()));
comment on policy select_visible on app_public.user_roles is
  'Staff see their own roles; holders of users.read see the roles held in their hospital; the super admin sees all.';
create policy insert_with_permission on app_public.user_roles for insert to :DATABASE_STAFF
  with check ((select app_hidden.has_permission('users.manage'))
              and ((hospital_id = (select app_hidden.current_hospital_id())
                    and role_id in (select r.id from app_public.roles r where r.scope = 'hospital'))
                   or (select app_hidden.is_super_admin())));
comment on policy insert_with_permission on app_public.user_roles is
  'Holders of users.manage grant hospital roles in their own hospital; only the super admin grants chain-wide roles.';
create policy update_with_permission on app_public.user_roles for update to :DATABASE_STAFF
  using ((select app_hidden.has_permission('users.manage'))
         and (hospital_id = (select app_hidden.current_hospital_id()) or (select app_hidden.is_super_admin())))
  with check (hospital_id = (select app_hidden.current_hospital_id()) or (select app_hidden.is_super_admin()));
comment on policy update_with_permission on app_public.user_roles is 'Holders of users.manage change validity and notes of roles held in their hospital.';
create policy delete_with_permission on app_public.user_roles for delete to :DATABASE_STAFF
  using ((select app_hidden.has_permission('users.manage'))
         and (hospital_id = (select app_hidden.current_hospital_id()) or (select app_hidden.is_super_admin())));
comment on policy delete_with_permission on app_public.user_roles is 'Holders of users.manage revoke roles held in their hospital (effective on the next request).';
alter table app_public.user_roles alter column hospital_id set default app_hidden.current_hospital_id();
alter table app_public.user_roles alter column granted_by set default app_hidden.current_user_id();
grant insert (user_id, role_id, hospital_id, department_id, is_primary, valid_from, valid_until, notes) on app_public.user_roles to :DATABASE_STAFF;
grant update (department_id, is_primary, valid_from, valid_until, notes) on app_public.user_roles to :DATABASE_STAFF;
grant delete on app_public.user_roles to :DATABASE_STAFF;

-- refresh_tokens and password_emails: a user's own rows; never written through the API.
alter table app_public.refresh_tokens enable row level security, force row level security;
revoke insert, update, delete on app_public.refresh_tokens from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_own on app_public.refresh_tokens for select to :DATABASE_STAFF
  using (user_id = (select app_hidden.current_user_id()));
comment on policy select_own on app_public.refresh_tokens is 'Users see their own sessions'' tokens (where they are logged in); only the identity functions write them.';

alter table app_public.password_emails enable row level security, force row level security;
revoke insert, update, delete on app_public.password_emails from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_own_or_manager on app_public.password_emails for select to :DATABASE_STAFF
  using (user_id = (select app_hidden.current_user_id())
         or ((select app_hidden.has_permission('users.manage')) and user_id in (select app_hidden.hospital_member_ids())));
comment on policy select_own_or_manager on app_public.password_emails is
  'Users see their own password emails; holders of users.manage those of their hospital''s staff.';

-- notifications: the tenant rule, then one's own inbox (or all of the hospital's with settings.manage).
alter table app_public.notifications enable row level security, force row level security;
revoke insert, update, delete on app_public.notifications from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
alter table app_public.notifications alter column hospital_id set default app_hidden.current_hospital_id();
create policy tenant_isolation on app_public.notifications as restrictive for all to :DATABASE_STAFF
  using (hospital_id = (select app_hidden.current_hospital_id()))
  with check (hospital_id = (select app_hidden.current_hospital_id()));
comment on policy tenant_isolation on app_public.notifications is 'Staff see and write only rows of their active hospital; no other policy can widen this.';
create policy select_own_or_manager on app_public.notifications for select to :DATABASE_STAFF
  using (user_id = (select app_hidden.current_user_id()) or (select app_hidden.has_permission('settings.manage')));
comment on policy select_own_or_manager on app_public.notifications is
  'Staff read their own in-app notifications; holders of settings.manage see every notification of the hospital.';
create policy update_own on app_public.notifications for update to :DATABASE_STAFF
  using (user_id = (select app_hidden.current_user_id())) with check (user_id = (select app_hidden.current_user_id()));
comment on policy update_own on app_public.notifications is 'Staff mark their own notifications read.';
grant update (status, read_at) on app_public.notifications to :DATABASE_STAFF;

-- audit_logs: readable with audit.read within the hospital; chain-level events by the super admin.
-- Nobody writes it through the API (app_private.write_audit_log does, as the owner).
alter table app_public.audit_logs enable row level security, force row level security;
revoke insert, update, delete, truncate on app_public.audit_logs from :DATABASE_STAFF, :DATABASE_ANONYMOUS;
create policy select_with_permission on app_public.audit_logs for select to :DATABASE_STAFF
  using ((hospital_id = (select app_hidden.current_hospital_id()) and (select app_hidden.has_permission('audit.read')))
         or (hospital_id is null and (select app_hidden.is_super_admin())));
comment on policy select_with_permission on app_public.audit_logs is
  'Holders of audit.read read their hospital''s trail; chain-level events (no hospital) are for the super admin.';

/* Every app_public table, including any this list forgot, has RLS enabled and forced. */
do $$
declare
  v record;
begin
  for v in select c.oid::regclass as tbl from pg_catalog.pg_class c
            where c.relnamespace = 'app_public'::regnamespace and c.relkind = 'r'
  loop
    execute format('alter table %s enable row level security, force row level security', v.tbl);
  end loop;
end;
$$;
