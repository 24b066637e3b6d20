/*
 * Privilege inside a hospital, for roles and accounts (issue 8, items 3 and 6).
 *
 * - A chain-level permission (permissions.scope = 'chain', e.g. hospitals.manage) never enters a
 *   hospital role: it is held only through the chain's super admin role (422, for everyone,
 *   migrations included).
 * - Nobody grants a permission they do not hold: adding a permission to a role needs that
 *   permission, giving someone a role needs every permission of the role (403
 *   HMS_GRANT_NOT_HELD). The super admin holds them all.
 * - Chain-level accounts — of a super admin, or of someone who also works in another hospital —
 *   are changed only by a super admin (403 HMS_CHAIN_ACCOUNT): one hospital's admin cannot
 *   deactivate, delete or rename a person other hospitals depend on. An account that belongs to
 *   the active hospital alone stays with that hospital's users.manage.
 * - A user's own profile (title, display name, phone, avatar, language) is theirs:
 *   update_my_profile, no permission needed.
 * - A wrong current password given to change_password counts toward the login lockout and is
 *   audited, like a failed login; a locked account cannot change its password either.
 */

select app_hidden.register_error_codes('identity_privilege', $json$[
  {"code": "HMS_PERMISSION_CHAIN_LEVEL", "http_status": 422, "meaning": "A chain-level permission (such as hospitals.manage) was added to a hospital role; chain-level permissions are held only through the super admin role."},
  {"code": "HMS_GRANT_NOT_HELD", "http_status": 403, "meaning": "A permission was granted (to a role, or through a role to a user) by someone who does not hold it; details.permissions lists the missing ones."},
  {"code": "HMS_CHAIN_ACCOUNT", "http_status": 403, "meaning": "The account of a super admin or of a user who works in another hospital too was changed by someone other than a super admin."}]$json$);
select app_hidden.register_error_codes('identity', $json$[
  {"code": "HMS_PASSWORD_INCORRECT", "http_status": 403, "meaning": "The current password given to change_password is wrong; the attempt counts toward the login lockout (429 HMS_ACCOUNT_LOCKED after 5)."}
]$json$);

/* ---- Password failures: one bookkeeping for login and change_password ---------------------- */

alter table app_public.audit_logs drop constraint audit_logs_action_check,
  add constraint audit_logs_action_check check (action in ('insert', 'update', 'delete', 'soft_delete', 'restore',
    'login', 'login_failed', 'logout', 'token_refresh', 'account_locked', 'password_changed', 'password_change_failed',
    'switch_hospital', 'export', 'print', 'other'));

create or replace function app_private.account_locked_response(p_locked_until timestamptz) returns json
language sql volatile as $$
  select app_private.error_response('HMS_ACCOUNT_LOCKED',
    'Too many failed logins: this account is locked for a while. Please try again later.',
    jsonb_build_object('retry_after_seconds', ceil(extract(epoch from p_locked_until - now()))::integer),
    null,
    jsonb_build_array(jsonb_build_object('Retry-After', ceil(extract(epoch from p_locked_until - now()))::integer::text)));
$$;
comment on function app_private.account_locked_response(timestamptz) is 'The 429 HMS_ACCOUNT_LOCKED answer (Retry-After) of login and change_password.';
revoke execute on function app_private.account_locked_response(timestamptz) from public;

/*
 * Counts a wrong password for an address (login or change_password): 5 within 15 minutes lock it
 * for 15 minutes (audited once as account_locked). Answers the 429 to return when the address is
 * now locked, else null. The caller returns rather than raises, so the count commits.
 */
create or replace function app_private.count_password_failure(p_email text, p_user_id uuid, p_hospital_id uuid) returns json
language plpgsql volatile as $$
declare
  c_max_failures constant integer := 5;
  c_window constant interval := interval '15 minutes';
  c_lock constant interval := interval '15 minutes';
  v_failure app_private.login_failures;
begin
  if coalesce(p_email, '') = '' then
    return null;
  end if;
  insert into app_private.login_failures as f (email, failed_count, first_failed_at, last_failed_at)
  values (p_email, 1, now(), now())
  on conflict (email) do update set
    failed_count = case when f.first_failed_at <= now() - c_window or f.locked_until <= now() then 1 else f.failed_count + 1 end,
    first_failed_at = case when f.first_failed_at <= now() - c_window or f.locked_until <= now() then now() else f.first_failed_at end,
    locked_until = case when f.locked_until <= now() then null else f.locked_until end,
    last_failed_at = now()
  returning f.* into v_failure;
  if v_failure.failed_count < c_max_failures then
    return null;
  end if;
  if v_failure.locked_until is null then
    update app_private.login_failures f set locked_until = now() + c_lock
     where f.email = v_failure.email
    returning f.* into v_failure;
    perform app_private.write_audit_log('account_locked', null, null, p_hospital_id, null,
      jsonb_build_object('email', v_failure.email::text, 'failed_count', v_failure.failed_count,
                         'locked_until', v_failure.locked_until),
      null, format('Login locked for %s minutes after %s failed attempts', extract(epoch from c_lock)::integer / 60, v_failure.failed_count),
      p_user_id);
  end if;
  return app_private.account_locked_response(v_failure.locked_until);
end;
$$;
comment on function app_private.count_password_failure(text, uuid, uuid) is 'Counts a wrong password for an address (login, change_password): the 5th within 15 minutes locks it for 15 minutes (audited as account_locked). Returns the 429 answer once locked, else null.';
revoke execute on function app_private.count_password_failure(text, uuid, uuid) from public;

create or replace function app_public.login(email text, password text, hospital_id uuid DEFAULT NULL::uuid)
 RETURNS json
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $$
#variable_conflict use_column
declare
  c_session_ttl constant interval := interval '30 days';
  v_email text := left(lower(trim(coalesce(login.email, ''))), 320);  -- the longest valid address
  v_password text := coalesce(login.password, '');
  v_requested_hospital_id uuid := login.hospital_id;
  v_user app_public.users;
  v_hash text;
  v_ok boolean;
  v_reason text;
  v_failure app_private.login_failures;
  v_locked json;
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
    return app_private.account_locked_response(v_failure.locked_until);
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
    v_locked := app_private.count_password_failure(v_email, v_user.id, v_user.home_hospital_id);
    if v_locked is not null then
      return v_locked;
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
create or replace function app_public.change_password(old_password text, new_password text) returns json
language plpgsql
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
$$;
comment on function app_public.change_password(text, text) is 'Change your password. The new one needs at least 10 characters, must not be or contain your email (or its name part) and must differ from the current one. Your other sessions are ended. A wrong current password counts toward the login lockout.
Errors: 403 HMS_PASSWORD_INCORRECT (wrong current password), 429 HMS_ACCOUNT_LOCKED (5 wrong passwords in 15 minutes, at login or here; details.retry_after_seconds), 422 HMS_PASSWORD_POLICY (details names the rule: min_length, max_bytes, not_email or not_reused), 401 HMS_SESSION_INVALID.';

/* ---- Grants: chain-level permissions stay chain-level; nobody grants what they lack ---------- */

/* BEFORE INSERT OR UPDATE on role_permissions (_200_grantable). */
create or replace function app_hidden.tg_role_permissions__grantable() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_role app_public.roles;
  v_permission app_public.permissions;
  v_user uuid := app_hidden.current_user_id();
begin
  select r.* into v_role from app_public.roles r where r.id = NEW.role_id;
  select p.* into v_permission from app_public.permissions p where p.id = NEW.permission_id;
  if v_permission.scope = 'chain' and v_role.scope is distinct from 'chain' then
    perform app_hidden.raise_error('HMS_PERMISSION_CHAIN_LEVEL',
      format('%s is a chain-level permission: it is held only through the super admin role, never through a hospital role such as %s.', v_permission.code, v_role.code),
      jsonb_build_object('permission', v_permission.code, 'role', v_role.code));
  end if;
  if v_user is not null
     and not (v_permission.code = any (app_private.user_permission_codes(v_user, app_hidden.current_hospital_id()))) then
    perform app_hidden.raise_error('HMS_GRANT_NOT_HELD',
      format('You may only grant permissions you hold yourself; you do not hold %s.', v_permission.code),
      jsonb_build_object('permissions', jsonb_build_array(v_permission.code)));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_role_permissions__grantable() is 'role_permissions: a chain-level permission never enters a hospital role (422 HMS_PERMISSION_CHAIN_LEVEL); a member of staff adds to a role only permissions they hold (403 HMS_GRANT_NOT_HELD).';
drop trigger if exists _200_grantable on app_public.role_permissions;
create trigger _200_grantable before insert or update on app_public.role_permissions
  for each row execute function app_hidden.tg_role_permissions__grantable();

/* BEFORE INSERT OR UPDATE OF role_id on user_roles (_200_grantable). */
create or replace function app_hidden.tg_user_roles__grantable() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_missing text[];
begin
  if v_user is null then
    return NEW;
  end if;
  select array_agg(p.code order by p.code) into v_missing
    from app_public.role_permissions rp
    join app_public.permissions p on p.id = rp.permission_id
   where rp.role_id = NEW.role_id
     and p.code <> all (app_private.user_permission_codes(v_user, app_hidden.current_hospital_id()));
  if v_missing is not null then
    perform app_hidden.raise_error('HMS_GRANT_NOT_HELD',
      format('You may only give a role whose permissions you hold yourself; you do not hold %s.', array_to_string(v_missing, ', ')),
      jsonb_build_object('permissions', to_jsonb(v_missing)));
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_user_roles__grantable() is 'user_roles: a member of staff gives only roles whose every permission they hold (403 HMS_GRANT_NOT_HELD, details.permissions the missing ones).';
drop trigger if exists _200_grantable on app_public.user_roles;
create trigger _200_grantable before insert or update of role_id on app_public.user_roles
  for each row execute function app_hidden.tg_user_roles__grantable();

/* ---- Chain-level accounts -------------------------------------------------------------------- */

create or replace function app_hidden.is_chain_level_account(p_user_id uuid) returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select exists (
    select 1
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id
     where ur.user_id = p_user_id
       and (r.scope = 'chain' or ur.hospital_id is distinct from app_hidden.current_hospital_id()));
$$;
comment on function app_hidden.is_chain_level_account(uuid) is 'True for the account of a super admin (a chain role) or of a user who holds (or held) a role in a hospital other than the active one.';
revoke execute on function app_hidden.is_chain_level_account(uuid) from public;

/*
 * BEFORE UPDATE on users (_200_chain_account): a member of staff other than a super admin changes
 * no chain-level account but their own (soft deletes arrive here as the update they become).
 * Workflows (login, change_password, update_my_profile) change only the caller's own row.
 */
create or replace function app_hidden.tg_users__chain_account() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
begin
  if v_user is null or OLD.id = v_user or app_hidden.is_super_admin()
     or not app_hidden.is_chain_level_account(OLD.id) then
    return NEW;
  end if;
  perform app_hidden.raise_error('HMS_CHAIN_ACCOUNT',
    'Only a super admin may change this account: it belongs to a super admin or to someone who also works in another hospital.',
    jsonb_build_object('user_id', OLD.id),
    'Ask a super admin, or change what belongs to your hospital: the person''s roles here (user_roles).');
end;
$$;
comment on function app_hidden.tg_users__chain_account() is 'users: only a super admin changes (or deactivates, or deletes) the account of a super admin or of a user who works in another hospital too (403 HMS_CHAIN_ACCOUNT); one''s own row is changed through its RPCs.';
drop trigger if exists _200_chain_account on app_public.users;
create trigger _200_chain_account before update on app_public.users
  for each row execute function app_hidden.tg_users__chain_account();

/* ---- One's own profile ----------------------------------------------------------------------- */

create or replace function app_public.update_my_profile(
  title text default null, display_name text default null, phone text default null,
  avatar_url text default null, locale text default null) returns app_public.users
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_row app_public.users;
begin
  if v_user is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
  -- A parameter left out keeps its value; an empty string clears an optional field.
  update app_public.users u
     set title = case when update_my_profile.title is null then u.title else nullif(trim(update_my_profile.title), '') end,
         display_name = case when update_my_profile.display_name is null then u.display_name else nullif(trim(update_my_profile.display_name), '') end,
         phone = case when update_my_profile.phone is null then u.phone else nullif(trim(update_my_profile.phone), '') end,
         avatar_url = case when update_my_profile.avatar_url is null then u.avatar_url else nullif(trim(update_my_profile.avatar_url), '') end,
         locale = coalesce(nullif(trim(update_my_profile.locale), ''), u.locale)
   where u.id = v_user
  returning u.* into v_row;
  return v_row;
end;
$$;
comment on function app_public.update_my_profile(text, text, text, text, text) is 'Change your own profile: title, display name, phone, avatar URL, language (e.g. fr-FR). A parameter left out keeps its value; an empty string clears it (the language cannot be cleared). No permission needed: these fields are yours.
Errors: 422 HMS_VALIDATION_FAILED (a phone or language in the wrong format), 401 HMS_SESSION_INVALID.';
revoke execute on function app_public.update_my_profile(text, text, text, text, text) from public;
grant execute on function app_public.update_my_profile(text, text, text, text, text) to hms_staff;
