--! Previous: sha1:50689dd190678ad34e47210094186b89cfe2ba43
--! Hash: sha1:13c333e298c5d497b9b8458fe8530ec14640338e

--! split: 1-current.sql
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
grant execute on function app_hidden.resolve_identity(text) to :DATABASE_ANONYMOUS, :DATABASE_STAFF;

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
grant execute on function app_hidden.identity(text) to :DATABASE_ANONYMOUS, :DATABASE_STAFF;

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
grant execute on function app_hidden.current_permissions() to :DATABASE_ANONYMOUS, :DATABASE_STAFF;

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

--! split: 2-partitions.sql
-- Append-heavy tables partitioned by month.
--
-- audit_logs, stock_movements, appointment_status_log and notification_queue only grow (the
-- first three are append-only): a chain writes millions of rows a year into each. Partitioned by
-- the month of their time column, an insert touches the current month's small indexes, a recent
-- read prunes to one or two months, and retention (README: "Retention") detaches or drops whole
-- months instead of deleting rows. Partitions live in app_partitions, a schema no API role may
-- use: the only way to their rows is the parent table in app_public, whose policies apply.

create schema if not exists app_partitions;
comment on schema app_partitions is 'Monthly partitions of the append-heavy tables (created by app_hidden.create_month_partitions); reached only through their parent tables in app_public, whose policies apply.';
revoke all on schema app_partitions from public;

create or replace function app_hidden.create_month_partitions(p_table regclass, p_from date, p_through date) returns integer
language plpgsql
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table and c.relkind = 'p');
  v_month date := date_trunc('month', p_from)::date;
  v_created integer := 0;
begin
  if v_name is null then
    raise exception 'create_month_partitions: % is not a partitioned table', p_table;
  end if;
  while v_month <= p_through loop
    if to_regclass(format('app_partitions.%I', v_name || '_' || to_char(v_month, 'YYYY_MM'))) is null then
      begin
        -- Bounds at midnight UTC, the same wherever the session is.
        execute format('create table app_partitions.%I partition of %s for values from (%L) to (%L)',
                       v_name || '_' || to_char(v_month, 'YYYY_MM'), p_table,
                       v_month::timestamp at time zone 'UTC', (v_month + interval '1 month')::timestamp at time zone 'UTC');
        v_created := v_created + 1;
      exception when check_violation then
        -- Rows of that month are in the default partition already: they stay there (moving them
        -- would delete from an append-only table); the month gets no partition of its own.
        raise notice 'create_month_partitions: % keeps % in its default partition', p_table, to_char(v_month, 'YYYY-MM');
      end;
    end if;
    v_month := (v_month + interval '1 month')::date;
  end loop;
  return v_created;
end;
$$;
comment on function app_hidden.create_month_partitions(regclass, date, date) is 'Creates the missing monthly partitions of a partitioned table for the months from p_from through p_through (app_partitions.<table>_YYYY_MM, bounds at midnight UTC); answers how many it created. Run ahead of time (the monthly job); a month already written to the default partition keeps its rows there.';
revoke execute on function app_hidden.create_month_partitions(regclass, date, date) from public;

create or replace function app_hidden.create_partitions_ahead(p_months integer default 3) returns integer
language plpgsql
as $$
declare
  v_table regclass;
  v_created integer := 0;
begin
  for v_table in select c.oid from pg_catalog.pg_class c
                  where c.relnamespace = 'app_public'::regnamespace and c.relkind = 'p' and not c.relispartition order by c.relname loop
    v_created := v_created + app_hidden.create_month_partitions(v_table, current_date, (current_date + make_interval(months => p_months))::date);
  end loop;
  return v_created;
end;
$$;
comment on function app_hidden.create_partitions_ahead(integer) is 'Creates the missing monthly partitions of every partitioned table of app_public from this month through p_months ahead; answers how many it created. npm start runs it at every start; a long-running installation runs it monthly.';
revoke execute on function app_hidden.create_partitions_ahead(integer) from public;

create or replace function app_hidden.partition_by_month(p_table regclass, p_column text, p_months_ahead integer default 3) returns void
language plpgsql
as $$
declare
  v_relation pg_catalog.pg_class;
  v_table text;
  v_old text;
  v_columns text;
  v_after text[] := '{}';
  v_statement text;
  v_from date;
  v_probe regprocedure;
  r record;
begin
  select c.* into v_relation from pg_catalog.pg_class c where c.oid = p_table;
  if v_relation.relkind = 'p' then
    return;  -- partitioned already
  end if;
  if v_relation.relkind is distinct from 'r' then
    raise exception 'partition_by_month: % is not a table', p_table;
  end if;
  v_table := format('%I.%I', v_relation.relnamespace::regnamespace::text, v_relation.relname);
  v_old := v_relation.relname || '_unpartitioned';
  v_columns := (select string_agg(quote_ident(a.attname), ', ' order by a.attnum) from pg_catalog.pg_attribute a
                 where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped);

  -- What CREATE TABLE … (LIKE …) does not carry over, as statements for the new table (same
  -- name, so the definitions read from the catalog apply as they are). A primary key or unique
  -- constraint of a partitioned table must include the partition column: it is appended.
  for r in select k.conname, k.contype, pg_catalog.pg_get_constraintdef(k.oid) as def, pg_catalog.obj_description(k.oid, 'pg_constraint') as note,
                  (select string_agg(quote_ident(a.attname), ', ' order by u.ord)
                     from unnest(k.conkey) with ordinality u(attnum, ord)
                     join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum) as key_columns,
                  exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = k.conrelid and a.attname = p_column and a.attnum = any (k.conkey)) as has_column
             from pg_catalog.pg_constraint k where k.conrelid = p_table and k.contype in ('p', 'u', 'f', 'x')
            order by k.contype desc, k.conname loop
    v_statement := case when r.contype in ('p', 'u') and not r.has_column
                        then format('%s (%s, %I)', case r.contype when 'p' then 'primary key' else 'unique' end, r.key_columns, p_column)
                        else r.def end;
    v_after := v_after || format('alter table %s add constraint %I %s', v_table, r.conname, v_statement);
    if r.note is not null then
      v_after := v_after || format('comment on constraint %I on %s is %L', r.conname, v_table, r.note);
    end if;
  end loop;
  for r in select pg_catalog.pg_get_indexdef(i.indexrelid) as def, i.indisunique, x.relname, pg_catalog.obj_description(i.indexrelid, 'pg_class') as note
             from pg_catalog.pg_index i join pg_catalog.pg_class x on x.oid = i.indexrelid
            where i.indrelid = p_table and not exists (select 1 from pg_catalog.pg_constraint k where k.conindid = i.indexrelid and k.conrelid = p_table)
            order by x.relname loop
    if r.indisunique then
      raise exception 'partition_by_month: the unique index % of % must become a constraint first', r.relname, p_table;
    end if;
    v_after := v_after || r.def;
    if r.note is not null then
      v_after := v_after || format('comment on index %I.%I is %L', v_relation.relnamespace::regnamespace::text, r.relname, r.note);
    end if;
  end loop;
  for r in select pg_catalog.pg_get_triggerdef(t.oid) as def, t.tgname, pg_catalog.obj_description(t.oid, 'pg_trigger') as note
             from pg_catalog.pg_trigger t where t.tgrelid = p_table and not t.tgisinternal order by t.tgname loop
    v_after := v_after || r.def;
    if r.note is not null then
      v_after := v_after || format('comment on trigger %I on %s is %L', r.tgname, v_table, r.note);
    end if;
  end loop;
  for r in select p.polname, p.polpermissive, p.polcmd,
                  (select coalesce(string_agg(case when o = 0 then 'public' else quote_ident(o::regrole::text) end, ', '), 'public') from unnest(p.polroles) o) as roles,
                  pg_catalog.pg_get_expr(p.polqual, p.polrelid) as qual, pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) as checked,
                  pg_catalog.obj_description(p.oid, 'pg_policy') as note
             from pg_catalog.pg_policy p where p.polrelid = p_table order by p.polname loop
    v_after := v_after || format('create policy %I on %s as %s for %s to %s%s%s', r.polname, v_table,
      case when r.polpermissive then 'permissive' else 'restrictive' end,
      case r.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete' else 'all' end,
      r.roles, coalesce(' using (' || r.qual || ')', ''), coalesce(' with check (' || r.checked || ')', ''));
    if r.note is not null then
      v_after := v_after || format('comment on policy %I on %s is %L', r.polname, v_table, r.note);
    end if;
  end loop;
  for r in select a.privilege_type, a.grantee from pg_catalog.aclexplode(v_relation.relacl) a where a.grantee <> v_relation.relowner loop
    v_after := v_after || format('grant %s on %s to %s', r.privilege_type, v_table, case when r.grantee = 0 then 'public' else quote_ident(r.grantee::regrole::text) end);
  end loop;
  for r in select c.attname, a.privilege_type, a.grantee from pg_catalog.pg_attribute c cross join pg_catalog.aclexplode(c.attacl) a
            where c.attrelid = p_table and c.attnum > 0 and not c.attisdropped and a.grantee <> v_relation.relowner loop
    v_after := v_after || format('grant %s (%I) on %s to %s', r.privilege_type, r.attname, v_table, case when r.grantee = 0 then 'public' else quote_ident(r.grantee::regrole::text) end);
  end loop;
  if v_relation.relrowsecurity then
    v_after := v_after || format('alter table %s enable row level security', v_table);
  end if;
  if v_relation.relforcerowsecurity then
    v_after := v_after || format('alter table %s force row level security', v_table);
  end if;
  if pg_catalog.obj_description(p_table, 'pg_class') is not null then
    v_after := v_after || format('comment on table %s is %L', v_table, pg_catalog.obj_description(p_table, 'pg_class'));
  end if;

  -- The constraint probe (register_table's, taking a row of the table) is generated again for the
  -- new table; any other function taking its rows would have to be recreated by hand.
  v_probe := to_regprocedure(format('app_hidden.%I(%s, boolean)', 'constraint_probe__' || v_relation.relname, v_table));
  if exists (select 1 from pg_catalog.pg_depend d
              where d.refclassid = 'pg_catalog.pg_type'::regclass and d.refobjid = v_relation.reltype
                and d.classid = 'pg_catalog.pg_proc'::regclass and d.objid is distinct from v_probe) then
    raise exception 'partition_by_month: functions take rows of % (only its constraint probe may): recreate them after', p_table;
  end if;
  if v_probe is not null then
    execute format('drop function %s', v_probe);
  end if;

  -- The new table beside the old one, its months, the rows (no trigger, index or constraint of
  -- the new table exists yet: nothing is re-stamped, re-applied or re-audited), then the rest.
  execute format('alter table %s rename to %I', v_table, v_old);
  execute format('create table %s (like %I.%I including defaults including constraints including comments including storage including statistics) partition by range (%I)',
                 v_table, v_relation.relnamespace::regnamespace::text, v_old, p_column);
  execute format('select min(%I)::date from %I.%I', p_column, v_relation.relnamespace::regnamespace::text, v_old) into v_from;
  execute format('create table app_partitions.%I partition of %s default', v_relation.relname || '_default', v_table);
  perform app_hidden.create_month_partitions(v_table::regclass, least(coalesce(v_from, current_date), current_date),
                                             (current_date + make_interval(months => p_months_ahead))::date);
  execute format('insert into %s (%s) select %s from %I.%I', v_table, v_columns, v_columns, v_relation.relnamespace::regnamespace::text, v_old);
  execute format('drop table %I.%I', v_relation.relnamespace::regnamespace::text, v_old);
  -- The default privileges gave the new table nothing the old one lacked; revoke what they did give.
  for r in select distinct a.grantee from pg_catalog.pg_class c cross join pg_catalog.aclexplode(c.relacl) a
            where c.oid = v_table::regclass and a.grantee <> c.relowner loop
    execute format('revoke all on %s from %s', v_table, case when r.grantee = 0 then 'public' else quote_ident(r.grantee::regrole::text) end);
  end loop;
  foreach v_statement in array v_after loop
    execute v_statement;
  end loop;
  if v_probe is not null then
    perform app_hidden.create_constraint_probe(v_table::regclass);
  end if;
  execute format('analyze %s', v_table);
end;
$$;
comment on function app_hidden.partition_by_month(regclass, text, integer) is 'Turns a table into one partitioned by month of p_column (a default partition, and one per month from its oldest row through p_months_ahead months ahead, in app_partitions), keeping its rows, columns, constraints (primary key and unique ones extended by p_column), indexes, triggers, policies, grants, row-level security and comments. Does nothing to a table partitioned already.';
revoke execute on function app_hidden.partition_by_month(regclass, text, integer) from public;

select app_hidden.partition_by_month('app_public.audit_logs', 'occurred_at');
select app_hidden.partition_by_month('app_public.stock_movements', 'occurred_at');
select app_hidden.partition_by_month('app_public.appointment_status_log', 'changed_at');
select app_hidden.partition_by_month('app_public.notification_queue', 'created_at');
