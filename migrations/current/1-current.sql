-- Identity resolved once per request.
--
-- The live session, the acting user, the active hospital, the permission set and the super-admin
-- flag are looked up by one function, app_hidden.resolve_identity, and kept in transaction-local
-- settings (hms.identity_*) bound to the exact claims they were computed from. The helpers the
-- policies call read those settings: plain SQL, no security definer, inlined by the planner, so a
-- policy costs a few setting lookups instead of a join over sessions, users, roles and permissions.
--
-- Why it cannot be forged or outlive its request:
--   * the settings are set with is_local = true, so they end with the transaction: the next
--     request on the same pooled connection starts without them and resolves again (revoking a
--     session or a role takes effect on the next request);
--   * they are read only while hms.identity_claims equals request.jwt.claims (the verified
--     token PostgREST set for this transaction), so claims changed inside a transaction (login,
--     tests switching users) are resolved anew;
--   * a write to any table identity is read from (sessions, users, hospitals, roles, user_roles,
--     role_permissions, permissions) clears the binding, so a change made inside the transaction
--     is seen by the very next check;
--   * the API roles run no SQL of their own: through PostgREST (and PostGraphile) they reach only
--     the RPCs, and resolve_identity is the one function that writes these settings
--     (tests/db/identity/identity_cache.test.sql checks that).

create or replace function app_hidden.resolve_identity(p_part text default null) returns text
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_claims_text text := coalesce(current_setting('request.jwt.claims', true), '');
  v_claims jsonb := nullif(v_claims_text, '')::jsonb;
  v_user_id uuid;
  v_hospital_id uuid;
  v_permissions text[];
  v_super_admin boolean;
begin
  -- One statement (its plan kept for the connection): the live session and its user; the roles
  -- the user holds today in the session's hospital or chain-wide, with their permissions. The
  -- active hospital is the hid claim, only when it is the session's, active, and the user holds a
  -- role there; the permissions count only in an active hospital.
  if v_claims ->> 'aud' is not distinct from 'hms' then
    select s.user_id,
           case when m.member and h.id is not null then h.id end,
           case when m.member and h.id is not null then m.codes end,
           m.super_admin
      into v_user_id, v_hospital_id, v_permissions, v_super_admin
      from app_private.sessions s
      join app_public.users u on u.id = s.user_id and u.is_active and not u.is_deleted
      left join app_public.hospitals h on h.id = s.hospital_id and h.is_active and not h.is_deleted
                                      and h.id = app_hidden.claim_uuid(v_claims, 'hid')
      cross join lateral (
        select count(*) > 0 as member,
               coalesce(array_agg(distinct p.code order by p.code) filter (where p.code is not null), '{}') as codes,
               coalesce(bool_or(r.code = 'super_admin' and ur.hospital_id is null), false) as super_admin
          from app_public.user_roles ur
          join app_public.roles r on r.id = ur.role_id and r.is_active
          left join app_public.role_permissions rp on rp.role_id = r.id
          left join app_public.permissions p on p.id = rp.permission_id
         where ur.user_id = s.user_id
           and (ur.hospital_id = s.hospital_id or (ur.hospital_id is null and r.scope = 'chain'))
           and current_date >= ur.valid_from
           and (ur.valid_until is null or current_date <= ur.valid_until)) m
     where s.id = app_hidden.claim_uuid(v_claims, 'sid')
       and s.user_id = app_hidden.claim_uuid(v_claims, 'sub')
       and s.revoked_at is null and s.expires_at > now();
  end if;
  perform set_config('hms.identity_user_id', coalesce(v_user_id::text, ''), true),
          set_config('hms.identity_hospital_id', coalesce(v_hospital_id::text, ''), true),
          set_config('hms.identity_permissions', coalesce(v_permissions, '{}')::text, true),
          set_config('hms.identity_super_admin', coalesce(v_super_admin, false)::text, true),
          set_config('hms.identity_claims', v_claims_text, true);  -- the binding, once the parts are set
  return case when p_part is null then null else current_setting('hms.identity_' || p_part) end;
end;
$$;
comment on function app_hidden.resolve_identity(text) is 'Looks up the identity of the current claims once (live session, user, active hospital, permissions, super admin), keeps it in transaction-local hms.identity_* settings bound to those claims, and answers one part of it (user_id, hospital_id, permissions, super_admin). Declared stable: it only caches what it read.';
revoke execute on function app_hidden.resolve_identity(text) from public;
grant execute on function app_hidden.resolve_identity(text) to hms_anonymous, hms_staff;

create or replace function app_hidden.identity(p_part text) returns text
language sql stable
as $$
  select case when coalesce(current_setting('request.jwt.claims', true), '') = '' then null
              when current_setting('hms.identity_claims', true) = current_setting('request.jwt.claims', true)
              then current_setting('hms.identity_' || p_part, true)
              else app_hidden.resolve_identity(p_part) end;
$$;
comment on function app_hidden.identity(text) is 'One part (user_id, hospital_id, permissions, super_admin) of the identity of the current request, resolved at most once per transaction and claims (null without claims).';
revoke execute on function app_hidden.identity(text) from public;
grant execute on function app_hidden.identity(text) to hms_anonymous, hms_staff;

create or replace function app_hidden.current_user_id() returns uuid
language sql stable
as $$
  select nullif(app_hidden.identity('user_id'), '')::uuid;
$$;

create or replace function app_hidden.current_hospital_id() returns uuid
language sql stable
as $$
  select nullif(app_hidden.identity('hospital_id'), '')::uuid;
$$;

create or replace function app_hidden.current_permissions() returns text[]
language sql stable
as $$
  select coalesce(app_hidden.identity('permissions')::text[], '{}');
$$;
comment on function app_hidden.current_permissions() is 'Codes of the permissions the acting user holds today in the active hospital, sorted (empty without one).';
revoke execute on function app_hidden.current_permissions() from public;
grant execute on function app_hidden.current_permissions() to hms_anonymous, hms_staff;

create or replace function app_hidden.has_any_permission(p_codes text[]) returns boolean
language sql stable
as $$
  select app_hidden.current_permissions() && p_codes;
$$;

create or replace function app_hidden.has_permission(p_code text) returns boolean
language sql stable
as $$
  select app_hidden.current_permissions() && array[p_code];
$$;

create or replace function app_hidden.is_super_admin() returns boolean
language sql stable
as $$
  select coalesce(app_hidden.identity('super_admin')::boolean, false);
$$;

-- The pre-request resolves the identity first (whatever the transaction held before) and reads the
-- claims once.
create or replace function app_hidden.check_request() returns void
language plpgsql stable
as $$
declare
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  v_user_id text := app_hidden.resolve_identity('user_id');
  v_path text := current_setting('request.path', true);
  v_rpc text;
begin
  -- A writing RPC (volatile) answers POST only: under GET/HEAD it would run read-only and its
  -- first write would fail with an error that depends on what it did so far.
  if starts_with(v_path, '/rpc/') and current_setting('request.method', true) is distinct from 'POST' then
    v_rpc := substring(v_path from '^/rpc/([^/]+)/?$');
    if exists (select 1 from pg_catalog.pg_proc p
                where p.pronamespace = 'app_public'::regnamespace and p.proname = v_rpc and p.provolatile = 'v') then
      perform app_hidden.raise_error('HMS_METHOD_NOT_ALLOWED',
        format('%s changes data and must be called with POST.', v_rpc),
        jsonb_build_object('method', current_setting('request.method', true)), 'Send the same parameters as a JSON body with POST.');
    end if;
  end if;
  -- PostgREST sets a role claim for anonymous requests too: only a token for another role
  -- (a signed-in user) must carry HMS's audience and name a live session.
  if v_claims ->> 'role' is distinct from 'hms_anonymous' and v_claims ->> 'role' is not null
     and (v_claims ->> 'aud' is distinct from 'hms' or v_user_id = '') then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
end;
$$;
comment on function app_hidden.check_request() is 'PostgREST db-pre-request: resolves the identity of the request once (app_hidden.resolve_identity), refuses (405) a non-POST call of a writing (volatile) RPC before it runs, and (401) a signed token without the aud "hms" or whose session is no longer live.';

-- A write to what identity is read from unbinds the cached identity of this transaction.
create or replace function app_hidden.tg__identity_changed() returns trigger
language plpgsql
as $$
begin
  perform set_config('hms.identity_claims', '', true);
  return null;
end;
$$;
comment on function app_hidden.tg__identity_changed() is 'Statement trigger on the tables identity is resolved from: the next identity check of the transaction resolves again.';
revoke execute on function app_hidden.tg__identity_changed() from public;

do $$
declare
  v_table regclass;
begin
  foreach v_table in array array['app_private.sessions', 'app_public.users', 'app_public.hospitals', 'app_public.roles',
                                 'app_public.user_roles', 'app_public.role_permissions', 'app_public.permissions']::regclass[] loop
    perform app_hidden.set_trigger(v_table, '_950_identity_changed', true,
      'after insert or update or delete or truncate on %TABLE% for each statement execute function app_hidden.tg__identity_changed()');
  end loop;
end;
$$;

-- PL/pgSQL, not SQL: a SQL function the planner cannot inline is planned again on every call, and
-- this join costs milliseconds to plan; PL/pgSQL keeps its plan for the connection (login, refresh,
-- me, my_hospital_ids and switch_hospital call it on their requests).
create or replace function app_hidden.is_member_of(p_user_id uuid, p_hospital_id uuid) returns boolean
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return exists (
    select 1
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id and r.is_active
      join app_public.hospitals h on h.id = p_hospital_id and h.is_active and not h.is_deleted
     where ur.user_id = p_user_id
       and (ur.hospital_id = p_hospital_id or (ur.hospital_id is null and r.scope = 'chain'))
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until));
end;
$$;

-- The acting user's permissions come from the resolved identity, the one place they are computed.

CREATE OR REPLACE FUNCTION app_public.me()
 RETURNS json
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
    'permissions', to_json(app_hidden.current_permissions()));
end;
$function$;

CREATE OR REPLACE FUNCTION app_hidden.tg_user_roles__grantable()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
     and p.code <> all (app_hidden.current_permissions());
  if v_missing is not null then
    perform app_hidden.raise_error('HMS_GRANT_NOT_HELD',
      format('You may only give a role whose permissions you hold yourself; you do not hold %s.', array_to_string(v_missing, ', ')),
      jsonb_build_object('permissions', to_jsonb(v_missing)));
  end if;
  return NEW;
end;
$function$;

CREATE OR REPLACE FUNCTION app_hidden.tg_role_permissions__grantable()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
     and not (v_permission.code = any (app_hidden.current_permissions())) then
    perform app_hidden.raise_error('HMS_GRANT_NOT_HELD',
      format('You may only grant permissions you hold yourself; you do not hold %s.', v_permission.code),
      jsonb_build_object('permissions', jsonb_build_array(v_permission.code)));
  end if;
  return NEW;
end;
$function$;

drop function if exists app_private.user_permission_codes(uuid, uuid);
