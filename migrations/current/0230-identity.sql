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
