--! Previous: sha1:5a57cdae872fb058bafd3cf6dbb8d8224df54a93
--! Hash: sha1:24761b0dd1dacf0006f698d52b14ee3a842e7592

--! split: 0600-grants-and-accounts.sql
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

--! split: 0610-directory-and-confidential.sql
/*
 * Who reads what about people (issue 8, items 7 and 9).
 *
 * - Account rows (email, last login, must_change_password, activity) need users.read: app_public.users
 *   shows a member of staff their own row, holders of users.read the accounts of their hospital,
 *   the super admin everyone. Colleagues find each other in app_public.staff_directory: name,
 *   title, job title, avatar and the roles and departments they hold in the active hospital.
 * - A document marked confidential (patient_documents.is_confidential: a psychiatric report, an
 *   HIV result, a legal letter) is read only with patients.read_confidential — doctors and the
 *   hospital's administrators —, by a generated restrictive policy on every table with an
 *   is_confidential column, so a pharmacist, an accountant or the front desk (patients.read) do
 *   not see it, even in counts and embeds.
 */

/* ---- Confidential rows ----------------------------------------------------------------------- */

insert into app_public.permissions (code, module, action, description, is_sensitive, scope)
values ('patients.read_confidential', 'patients', 'read_confidential',
        'Open patient documents marked confidential (psychiatric, HIV, legal, …).', true, 'hospital')
on conflict (code) do nothing;

insert into app_public.role_permissions (role_id, permission_id)
select r.id, p.id
  from app_public.roles r cross join app_public.permissions p
 where r.hospital_id is null and r.code in ('super_admin', 'hospital_admin', 'doctor')
   and p.code = 'patients.read_confidential'
on conflict (role_id, permission_id) do nothing;

create or replace function app_hidden.apply_access_policies(p_table regclass) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_access app_hidden.table_access;
  v_policy record;
  v_has_deleted boolean := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_deleted' and not a.attisdropped);
  v_has_confidential boolean := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_confidential' and not a.attisdropped);
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

  -- A row marked confidential is read, changed and removed only with patients.read_confidential
  -- (whoever may write the table may still file one: an insert is not restricted).
  if v_has_confidential then
    execute format($p$create policy hide_confidential on %s as restrictive for all to :DATABASE_STAFF
                      using (not is_confidential or (select app_hidden.has_permission('patients.read_confidential')))
                      with check (true)$p$, p_table);
    execute format('comment on policy hide_confidential on %s is %L', p_table,
                   'Rows marked confidential are seen, changed and removed only with patients.read_confidential; anyone who may write the table may file one.');
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
    'Generates the RLS policies and grants of a hospital-scoped table from its app_hidden.table_access row (re-runnable; hide_deleted when it has is_deleted, hide_confidential when it has is_confidential); part of register_table.';

select app_hidden.reregister_table('app_public.patient_documents');
comment on column app_public.patient_documents.is_confidential is 'Marked confidential: seen only by staff holding patients.read_confidential (doctors, hospital administrators); whoever may write documents may file one.';

/* The action column of the trail gained password_change_failed (0600): the registration's
   constraint probe follows the table's constraints. */
select app_hidden.register_table('app_public.audit_logs', 'audit log entry', policies => 'hand_written',
  audited => false, append_only => true);

/* ---- Accounts and the staff directory -------------------------------------------------------- */

drop policy if exists select_directory on app_public.users;
drop policy if exists select_account on app_public.users;
create policy select_account on app_public.users for select to :DATABASE_STAFF
  using (id = (select app_hidden.current_user_id())
         or ((select app_hidden.has_any_permission('{users.read,users.manage}')) and id in (select app_hidden.hospital_member_ids()))
         or (select app_hidden.is_super_admin()));
comment on policy select_account on app_public.users is 'Account rows: each member of staff sees their own; holders of users.read (or users.manage) the accounts of their hospital''s staff; the super admin every account. Colleagues find each other in staff_directory.';

/*
 * The directory every member of staff may read. It runs with its owner's rights (not
 * security_invoker, unlike the other read models) because its readers may not read the account
 * rows beneath it: its own WHERE is its access rule — the colleagues holding a role in the active
 * hospital today — and security_barrier keeps a caller's filter from running before that rule.
 * PostgREST follows users' foreign keys through it: doctors?select=*,staff_directory(display_name).
 */
create or replace view app_public.staff_directory with (security_barrier) as
select u.id,
       u.title,
       u.first_name,
       u.last_name,
       coalesce(u.display_name, u.first_name || ' ' || u.last_name) as display_name,
       u.job_title,
       u.avatar_url,
       held.role_codes,
       held.role_names,
       held.department_ids,
       held.department_names
  from app_public.users u
  cross join lateral (
    select array_agg(distinct r.code order by r.code) as role_codes,
           array_agg(distinct r.name order by r.name) as role_names,
           coalesce(array_agg(distinct d.id) filter (where d.id is not null), '{}') as department_ids,
           coalesce(array_agg(distinct d.name order by d.name) filter (where d.name is not null), '{}') as department_names
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id and r.is_active
      left join app_public.departments d on d.hospital_id = ur.hospital_id and d.id = ur.department_id
     where ur.user_id = u.id
       and (ur.hospital_id = app_hidden.current_hospital_id() or (ur.hospital_id is null and r.scope = 'chain'))
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until)) held
 where u.is_active and not u.is_deleted
   and held.role_codes is not null
   and app_hidden.current_hospital_id() is not null;
comment on view app_public.staff_directory is 'The staff directory of the active hospital: every colleague holding a role there today, with name, job title, avatar, roles and departments. Readable by every member of staff; account details (email, last login) are in users, with users.read.';
comment on column app_public.staff_directory.id is 'The colleague''s user id (users.id).';
comment on column app_public.staff_directory.title is 'Title, e.g. Dr.';
comment on column app_public.staff_directory.first_name is 'Given name.';
comment on column app_public.staff_directory.last_name is 'Family name.';
comment on column app_public.staff_directory.display_name is 'Name to show: the chosen display name, else first and last name.';
comment on column app_public.staff_directory.job_title is 'Job title, e.g. Senior Cardiologist.';
comment on column app_public.staff_directory.avatar_url is 'Picture of the colleague.';
comment on column app_public.staff_directory.role_codes is 'Codes of the roles held in the active hospital today, e.g. {doctor}; filter with role_codes=cs.{doctor}.';
comment on column app_public.staff_directory.role_names is 'Names of those roles.';
comment on column app_public.staff_directory.department_ids is 'Departments those roles are attached to.';
comment on column app_public.staff_directory.department_names is 'Names of those departments.';
revoke all on app_public.staff_directory from public;
grant select on app_public.staff_directory to :DATABASE_STAFF;

/* An embed that more than one foreign key could mean (doctors → staff_directory: user_id,
   created_by, updated_by) is a request to fix, named in PostgREST's hint. */
insert into app_hidden.raw_errors (raw_code, upstream_status, source, code, message, keep_details) values
  ('PGRST201', null, 'postgrest', 'HMS_BAD_REQUEST', 'The select embeds a table reached through more than one relationship: name the one you mean, as the hint shows.', true)
on conflict do nothing;

--! split: 0620-four-eyes-discounts-claims.sql
/*
 * Four eyes for the last two approvals that compared nobody (issue 8, item 2).
 *
 * - Discounts. Whoever sets an invoice-level discount gives it (invoices.discount_approved_by, from
 *   the session). Above the hospital's discount_approval_threshold (0: every discount) that person
 *   must not be who created the invoice: the front desk that raised the bill asks a colleague
 *   holding billing.write (a supervisor, the accountant) to grant the discount
 *   (409 HMS_APPROVAL_BY_OTHER_USER). Line discounts are the price list's (discount_percent on a
 *   line), not a concession.
 * - Insurance decisions. The payer's answer to a claim or a pre-authorization is recorded by
 *   someone other than who submitted the claim or requested the authorization, and who recorded it
 *   is stamped (decided_by): the status machine's distinct_from and stamp_by, as for every other
 *   approval.
 */

alter table app_public.hospital_settings add column if not exists discount_approval_threshold numeric(12,2) not null default 0;
alter table app_public.hospital_settings drop constraint if exists hospital_settings_discount_approval_threshold_check;
alter table app_public.hospital_settings add constraint hospital_settings_discount_approval_threshold_check check (discount_approval_threshold >= 0);
comment on column app_public.hospital_settings.discount_approval_threshold is 'Invoice-level discounts above this amount are given by someone other than who created the invoice (0 = every discount).';
select app_hidden.reregister_table('app_public.hospital_settings');

/* BEFORE INSERT OR UPDATE OF invoice_discount_amount on invoices (_210_discount_four_eyes). */
create or replace function app_hidden.tg_invoices__discount_four_eyes() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_threshold numeric;
begin
  if v_user is null
     or NEW.invoice_discount_amount is not distinct from (case when TG_OP = 'UPDATE' then OLD.invoice_discount_amount else 0 end) then
    return NEW;
  end if;
  select s.discount_approval_threshold into v_threshold from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
  if NEW.invoice_discount_amount > coalesce(v_threshold, 0) and NEW.created_by is not distinct from v_user then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      format('A discount of %s is above this hospital''s limit of %s for the person who raised the invoice: a colleague gives it.',
             NEW.invoice_discount_amount, coalesce(v_threshold, 0)),
      jsonb_build_object('invoice_id', NEW.id, 'discount', NEW.invoice_discount_amount, 'threshold', coalesce(v_threshold, 0)),
      'Ask a colleague holding billing.write (a supervisor or the accountant) to set the discount.');
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_invoices__discount_four_eyes() is 'invoices: an invoice-level discount above hospital_settings.discount_approval_threshold is given by someone other than the invoice''s creator (409 HMS_APPROVAL_BY_OTHER_USER).';
revoke execute on function app_hidden.tg_invoices__discount_four_eyes() from public;
drop trigger if exists _210_discount_four_eyes on app_public.invoices;
create trigger _210_discount_four_eyes before insert or update of invoice_discount_amount on app_public.invoices
  for each row execute function app_hidden.tg_invoices__discount_four_eyes();

/* Insurance decisions: stamped and by another person. */
alter table app_public.insurance_claims add column if not exists decided_by uuid references app_public.users (id) on delete restrict;
comment on column app_public.insurance_claims.decided_by is 'Who recorded the payer''s decision (from the session; never who submitted the claim).';
create index if not exists idx_insurance_claims__decided_by on app_public.insurance_claims (decided_by) where decided_by is not null;
alter table app_public.pre_authorizations add column if not exists decided_by uuid references app_public.users (id) on delete restrict;
comment on column app_public.pre_authorizations.decided_by is 'Who recorded the payer''s decision (from the session; never who requested the authorization).';
create index if not exists idx_pre_authorizations__decided_by on app_public.pre_authorizations (decided_by) where decided_by is not null;

select app_hidden.declare_status_machine('app_public.pre_authorizations', $json$[
  {"from": null, "to": "requested", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "requested", "to": "approved", "via": "decide_pre_authorization", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["requested_by"]},
  {"from": "requested", "to": "partially_approved", "via": "decide_pre_authorization", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["requested_by"]},
  {"from": "requested", "to": "denied", "via": "decide_pre_authorization", "reason": "denial_reason", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["requested_by"]},
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
  {"from": "under_review", "to": "approved", "via": "decide_claim", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["submitted_by"]},
  {"from": "under_review", "to": "partially_approved", "via": "decide_claim", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["submitted_by"]},
  {"from": "under_review", "to": "denied", "via": "decide_claim", "reason": "denial_reason", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["submitted_by"]},
  {"from": "approved", "to": "paid", "via": "record_claim_payment", "stamp_at": "paid_at"},
  {"from": "partially_approved", "to": "paid", "via": "record_claim_payment", "stamp_at": "paid_at"}
]$json$);

select app_hidden.reregister_table('app_public.pre_authorizations');
select app_hidden.reregister_table('app_public.insurance_claims');

--! split: 0630-text-bounds.sql
/*
 * Every text field has a maximum length that fits its meaning (issue 8, item 5).
 *
 * One rule, by what the name says the field holds (app_hidden.text_length_limit): identifiers
 * and references (…_number, …_code, …_reference, mrn, sku, …) 128 characters, phone numbers 32,
 * email addresses 320, URLs 2048, names and titles 200, prose (notes, descriptions, instructions,
 * reasons, letter bodies) 10,000, an HTML body 100,000, anything else 500.
 *
 * - Columns: the kit (apply_table_conventions, part of register_table) gives every text column a
 *   check constraint <table>_<column>_max_length, so a new table is bounded by registering it.
 *   A write over the bound is refused before it happens by the friendly-constraint probe: 422
 *   HMS_VALUE_TOO_LONG, details.column and details.max_length.
 * - RPC parameters: app_hidden.rpc_parameter_limits applies the same rule to every text parameter
 *   of every app_public function; the front reads it at start-up and refuses an over-long value
 *   with the same 422 before PostgREST (or the function) does any work.
 */

create or replace function app_hidden.text_length_limit(p_name text) returns integer
language sql immutable as $$
  select case
    when p_name = 'body_html' then 100000
    when p_name ~ '(^|_)(notes|description|instructions|advice|bio|body|contraindications|side_effects|complaint|diagnosis|interpretation|header|footer|terms|reason|reason_for_visit|work_done|conditions|error|details|payload|summary|findings|message)$' then 10000
    when p_name ~ '(^|_)url$' or p_name = 'website' then 2048
    when p_name ~ 'email$' or p_name = 'recipient_address' then 320
    when p_name ~ 'phone' then 32
    when p_name = 'user_agent' then 1000
    when p_name ~ '(^|_)(number|reference|code|id|key|barcode|barcode_value|sku|mrn|last4|sha256|label|identifier|period|locale|time_zone)$' then 128
    when p_name ~ '(^|_)(name|title|by|to|person|physician|prescriber|manufacturer|brand|provider|location|room|specialization|occupation)$' then 200
    else 500
  end;
$$;
comment on function app_hidden.text_length_limit(text) is 'The maximum length (characters) of a text column or RPC parameter, by what its name says it holds: identifiers 128, phones 32, emails 320, URLs 2048, names 200, prose 10,000, an HTML body 100,000, else 500.';

create or replace function app_hidden.apply_table_conventions(p_table regclass) returns void
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

  -- Every text column is bounded (422 HMS_VALUE_TOO_LONG through the constraint probe).
  for v_column in
    select a.attname::text as name, left(v_name || '_' || a.attname || '_max_length', 63) as constraint_name,
           app_hidden.text_length_limit(a.attname) as max_length
      from pg_catalog.pg_attribute a
     where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
       and a.atttypid in ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype, 'public.citext'::regtype)
       and not exists (select 1 from pg_catalog.pg_constraint k
                        where k.conrelid = p_table and k.conname = left(v_name || '_' || a.attname || '_max_length', 63))
  loop
    execute format('alter table %s add constraint %I check (char_length(%I) <= %s)',
                   p_table, v_column.constraint_name, v_column.name, v_column.max_length);
  end loop;
end;
$$;
comment on function app_hidden.apply_table_conventions(regclass) is 'Comments the standard columns of a table, links created_by/updated_by to users and bounds every text column (<table>_<column>_max_length, app_hidden.text_length_limit) (idempotent); part of register_table.';

/* The friendly answer of a max-length constraint: which column, how long at most. */
create or replace function app_hidden.raise_constraint_error(p_table regclass, p_kind text, p_constraint text, p_columns text[]) returns void
language plpgsql
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
  v_max_length integer;
begin
  if p_kind = 'check' and p_constraint like '%\_max\_length' then
    v_max_length := substring(pg_catalog.pg_get_constraintdef(
                      (select c.oid from pg_catalog.pg_constraint c where c.conrelid = p_table and c.conname = p_constraint))
                      from '<= (\d+)')::integer;
    perform app_hidden.raise_error('HMS_VALUE_TOO_LONG',
      format('The %s of %s may have at most %s characters.', replace(v_column_list, '_', ' '), app_hidden.a_or_an(v_entity, false), v_max_length),
      jsonb_build_object('table', pg_catalog.split_part(p_table::text, '.', 2), 'constraint', p_constraint,
                         'column', v_columns[1], 'columns', to_jsonb(v_columns), 'max_length', v_max_length));
  end if;
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
comment on function app_hidden.raise_constraint_error(regclass, text, text, text[]) is 'Raises the friendly error of a broken constraint: 422 HMS_VALUE_TOO_LONG for a <table>_<column>_max_length bound (details.column, details.max_length), else app_hidden.constraint_errors, else the default code and sentence of its kind.';

/* Bound every registered table now, and regenerate its probe. */
do $$
declare
  v_table regclass;
begin
  for v_table in select ('app_public.' || r.table_name)::regclass from app_hidden.table_registry r order by r.table_name loop
    perform app_hidden.apply_table_conventions(v_table);
    perform app_hidden.create_constraint_probe(v_table);
  end loop;
end;
$$;

/* The same rule for the parameters of the API's functions, read by the front. */
create or replace view app_hidden.rpc_parameter_limits as
select p.proname::text as function_name, a.name as parameter_name, app_hidden.text_length_limit(a.name) as max_length
  from pg_catalog.pg_proc p
 cross join lateral unnest(p.proargnames, coalesce(p.proallargtypes, p.proargtypes::oid[]),
                           coalesce(p.proargmodes, array_fill('i'::"char", array[p.pronargs::integer]))) as a(name, type_oid, mode)
 where p.pronamespace = 'app_public'::regnamespace and a.mode in ('i', 'b')
   and a.type_oid in ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype, 'public.citext'::regtype)
   and a.name is not null and a.name <> '';
comment on view app_hidden.rpc_parameter_limits is 'The maximum length of every text parameter of every app_public function (app_hidden.text_length_limit): the front refuses a longer value with 422 HMS_VALUE_TOO_LONG before the call.';
grant select on app_hidden.rpc_parameter_limits to :DATABASE_ANONYMOUS;
grant execute on function app_hidden.text_length_limit(text) to :DATABASE_ANONYMOUS;

insert into app_hidden.raw_errors (raw_code, upstream_status, source, code, message, keep_details) values
  ('value_too_long', null, 'front', 'HMS_VALUE_TOO_LONG', 'A value is longer than its parameter allows (details names the parameter and its maximum length).', true)
on conflict do nothing;

--! split: 0640-messages.sql
/*
 * Messages: "a user", not "an user". The article follows the sound: a vowel letter reads as a
 * vowel except a "u" spoken "you" (user, unit, usage: u, a consonant, a vowel). The forbidden-write
 * message uses the same function instead of a rule of its own.
 */
create or replace function app_hidden.a_or_an(p_entity text, p_capital boolean default false) returns text
language sql immutable as $$
  select case when p_entity ~* '^[aeio]' or (p_entity ~* '^u' and p_entity !~* '^u[^aeiou][aeiou]')
              then case when p_capital then 'An ' else 'an ' end
              else case when p_capital then 'A ' else 'a ' end end || p_entity;
$$;
comment on function app_hidden.a_or_an(text, boolean) is 'The word with its indefinite article (a / an, by sound: a user, an update; capitalised to start a sentence), for messages.';

create or replace function app_hidden.tg__forbidden_write() returns trigger
language plpgsql stable as $$
declare
  v_entity text := tg_argv[0];
  v_command text := tg_argv[1];
  v_permissions text[] := tg_argv[2]::text[];
begin
  if current_user <> 'hms_staff' or app_hidden.is_trusted_writer() then
    return null;
  end if;
  if not app_hidden.has_any_permission(v_permissions) then
    perform app_hidden.raise_error('HMS_FORBIDDEN',
      format('You may not %s %s rows: this needs %s.', v_command, app_hidden.a_or_an(v_entity),
             case when cardinality(v_permissions) = 1 then 'the permission ' || v_permissions[1]
                  else 'one of the permissions ' || array_to_string(v_permissions, ', ') end),
      jsonb_build_object('entity', v_entity, 'command', v_command, 'permissions', to_jsonb(v_permissions)));
  end if;
  return null;
end;
$$;
