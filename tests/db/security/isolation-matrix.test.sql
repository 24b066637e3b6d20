-- The tenant isolation matrix, generated from the catalog and the access model
-- (app_hidden.table_access): every hospital-scoped table × select/insert/update/delete ×
--   own hospital with permission   (admin.ny@hms.test, hospital admin of NY)
--   own hospital without it        (a member of NY whose only role grants nothing)
--   another hospital               (admin.la@hms.test, hospital admin of LA)
--   anonymous                      (no token)
-- A new hospital-scoped table is covered without editing this file — and fails the first
-- assertion until the access model says who may read and write it.
begin;

-- Identities: three live sessions, and a switch that sets role and claims as PostgREST does.
insert into app_public.roles (id, hospital_id, code, name) values
  ('77000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'matrix_nothing', 'Grants nothing');
insert into app_public.users (id, email, first_name, last_name, home_hospital_id) values
  ('77000000-0000-4000-8000-000000000002', 'matrix.nobody@hms.test', 'Matrix', 'Nobody', '10000000-0000-4000-8000-000000000001');
insert into app_public.user_roles (user_id, role_id, hospital_id) values
  ('77000000-0000-4000-8000-000000000002', '77000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001');

insert into app_private.sessions (id, user_id, hospital_id, expires_at)
select v.session_id, u.id, h.id, now() + interval '1 hour'
  from (values ('77000000-0000-4000-8000-0000000000a1'::uuid, 'admin.ny@hms.test', 'NY'),
               ('77000000-0000-4000-8000-0000000000a2'::uuid, 'matrix.nobody@hms.test', 'NY'),
               ('77000000-0000-4000-8000-0000000000a3'::uuid, 'admin.la@hms.test', 'LA')) as v(session_id, email, code)
  join app_public.users u on u.email = v.email
  join app_public.hospitals h on h.code = v.code;

create temporary table matrix_identity (name text primary key, claims text);
insert into matrix_identity
select v.name, json_build_object('role', 'hms_staff', 'sub', s.user_id, 'sid', s.id, 'hid', s.hospital_id, 'aud', 'hms')::text
  from (values ('own_with', '77000000-0000-4000-8000-0000000000a1'::uuid), ('own_without', '77000000-0000-4000-8000-0000000000a2'::uuid),
               ('other', '77000000-0000-4000-8000-0000000000a3'::uuid)) as v(name, session_id)
  join app_private.sessions s on s.id = v.session_id;
grant select on matrix_identity to public;

create function pg_temp.act_as(p_who text) returns void language plpgsql as $$
begin
  perform set_config('role', 'none', true);
  if p_who = 'anonymous' then
    perform set_config('request.jwt.claims', '', true);
    perform set_config('role', 'hms_anonymous', true);
  else
    perform set_config('request.jwt.claims', (select claims from matrix_identity where name = p_who), true);
    perform set_config('role', 'hms_staff', true);
  end if;
end;
$$;

-- Runs one statement as someone and undoes it (a subtransaction always rolled back), so no
-- attempt changes what the next one sees; returns the row count, or the SQLSTATE of its error ('E:xxxxx').
create function pg_temp.attempt(p_who text, p_sql text) returns text language plpgsql as $$
declare
  v_count bigint;
begin
  begin
    perform pg_temp.act_as(p_who);
    execute 'with r as (' || p_sql || ') select count(*) from r' into v_count;
    raise sqlstate 'HMSRB';  -- roll the attempt back
  exception
    when sqlstate 'HMSRB' then
      perform set_config('role', 'none', true);
      return v_count::text;
    when others then
      perform set_config('role', 'none', true);
      return 'E:' || sqlstate;
  end;
end;
$$;

create function pg_temp.matrix() returns setof text language plpgsql as $$
declare
  ny constant uuid := '10000000-0000-4000-8000-000000000001';
  t record;
  v_rows bigint;
  v_live bigint;
  v_update_column text;
  v_result text;
  v_can_insert boolean;
  v_can_update boolean;
  v_can_delete boolean;
begin
  -- Every hospital-scoped table is in the access model or hand-written (and tested elsewhere).
  return next is(
    array(select c.relname::text from pg_class c
           where c.relnamespace = 'app_public'::regnamespace and c.relkind = 'r'
             and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'hospital_id' and a.attnotnull)
             and c.relname not in (select table_name from app_hidden.table_access)
             and c.relname not in ('refresh_tokens', 'notifications')
           order by 1),
    '{}'::text[], 'every hospital-scoped table has an access model (app_hidden.table_access)');

  for t in select a.*, format('app_public.%I', a.table_name) as qualified from app_hidden.table_access a order by a.table_name loop
    execute format('select count(*), count(*) filter (where %s) from %s where hospital_id = %L',
                   case when exists (select 1 from pg_attribute where attrelid = t.qualified::regclass and attname = 'is_deleted')
                        then 'not is_deleted' else 'true' end, t.qualified, ny)
      into v_rows, v_live;
    v_update_column := (app_hidden.client_writable_columns(t.qualified::regclass, true))[1];
    v_can_insert := t.write_mode in ('read_write', 'insert_only') and t.write_permissions <> '{}';
    v_can_update := t.write_mode in ('read_write', 'update_only') and t.write_permissions <> '{}';
    v_can_delete := t.delete_permissions <> '{}';

    -- SELECT
    return next is(pg_temp.attempt('own_with', format('select 1 from %s where hospital_id = %L', t.qualified, ny)),
                   v_rows::text, t.table_name || ': select — own hospital with permission sees all its rows');
    return next is(pg_temp.attempt('own_without', format('select 1 from %s where hospital_id = %L', t.qualified, ny)),
                   case when t.read_permissions is null then v_live::text else '0' end,
                   t.table_name || ': select — own hospital without permission sees '
                   || case when t.read_permissions is null then 'the live rows (readable by every member)' else 'nothing' end);
    return next is(pg_temp.attempt('other', format('select 1 from %s where hospital_id = %L', t.qualified, ny)),
                   '0', t.table_name || ': select — another hospital sees nothing');
    return next is(pg_temp.attempt('anonymous', format('select 1 from %s', t.qualified)),
                   'E:42501', t.table_name || ': select — anonymous is refused');

    -- INSERT
    v_result := pg_temp.attempt('own_with', format('insert into %s default values returning 1', t.qualified));
    if v_can_insert then
      return next ok(v_result <> 'E:42501', t.table_name || ': insert — own hospital with permission passes the policy (' || v_result || ')');
    else
      return next is(v_result, 'E:42501', t.table_name || ': insert — nobody inserts into it through the API');
    end if;
    -- BEFORE INSERT triggers run before the policy's WITH CHECK, so a workflow rule may refuse
    -- first (its own 4xx); what matters is that nothing is written.
    v_result := pg_temp.attempt('own_without', format('insert into %s default values returning 1', t.qualified));
    return next ok(v_result like 'E:%', t.table_name || ': insert — own hospital without permission is refused (' || v_result || ')');
    return next is(pg_temp.attempt('other', format('insert into %s (hospital_id) values (%L) returning 1', t.qualified, ny)),
                   'E:42501', t.table_name || ': insert — nobody chooses hospital_id (another hospital''s least of all)');
    return next is(pg_temp.attempt('anonymous', format('insert into %s default values returning 1', t.qualified)),
                   'E:42501', t.table_name || ': insert — anonymous is refused');

    -- UPDATE
    if v_can_update then
      -- The policy must let the permitted user reach every row; a workflow rule may still refuse
      -- to change a locked row (its own 4xx, never a permission error).
      v_result := pg_temp.attempt('own_with', format('update %s set %I = %I where hospital_id = %L returning 1', t.qualified, v_update_column, v_update_column, ny));
      return next ok(v_result = v_rows::text or (v_result like 'E:%' and v_result <> 'E:42501'),
                     t.table_name || ': update — own hospital with permission reaches all its rows (' || v_result || ' of ' || v_rows || ')');
      return next is(pg_temp.attempt('own_without', format('update %s set %I = %I where hospital_id = %L returning 1', t.qualified, v_update_column, v_update_column, ny)),
                     '0', t.table_name || ': update — own hospital without permission changes nothing');
      return next is(pg_temp.attempt('other', format('update %s set %I = %I where hospital_id = %L returning 1', t.qualified, v_update_column, v_update_column, ny)),
                     '0', t.table_name || ': update — another hospital changes nothing');
      return next is(pg_temp.attempt('anonymous', format('update %s set %I = %I returning 1', t.qualified, v_update_column, v_update_column)),
                     'E:42501', t.table_name || ': update — anonymous is refused');
    else
      return next is(pg_temp.attempt('own_with', format('update %s set updated_at = now() returning 1', t.qualified)),
                     'E:42501', t.table_name || ': update — nobody updates it through the API (own hospital with permission)');
      return next is(pg_temp.attempt('own_without', format('update %s set updated_at = now() returning 1', t.qualified)),
                     'E:42501', t.table_name || ': update — refused for own hospital without permission');
      return next is(pg_temp.attempt('other', format('update %s set updated_at = now() returning 1', t.qualified)),
                     'E:42501', t.table_name || ': update — refused for another hospital');
      return next is(pg_temp.attempt('anonymous', format('update %s set updated_at = now() returning 1', t.qualified)),
                     'E:42501', t.table_name || ': update — anonymous is refused');
    end if;

    -- DELETE (other hospital and no permission first: the permitted delete changes the rows)
    v_result := pg_temp.attempt('own_without', format('delete from %s where hospital_id = %L returning 1', t.qualified, ny));
    return next ok(v_result in ('0', 'E:42501'), t.table_name || ': delete — own hospital without permission removes nothing (' || v_result || ')');
    v_result := pg_temp.attempt('other', format('delete from %s where hospital_id = %L returning 1', t.qualified, ny));
    return next ok(v_result in ('0', 'E:42501'), t.table_name || ': delete — another hospital removes nothing (' || v_result || ')');
    return next is(pg_temp.attempt('anonymous', format('delete from %s returning 1', t.qualified)),
                   'E:42501', t.table_name || ': delete — anonymous is refused');
    v_result := pg_temp.attempt('own_with', format('delete from %s where hospital_id = %L returning 1', t.qualified, ny));
    if v_can_delete then
      return next ok(v_result <> 'E:42501', t.table_name || ': delete — own hospital with permission passes the policy (' || v_result || ')');
    else
      return next is(v_result, 'E:42501', t.table_name || ': delete — nobody deletes it through the API');
    end if;
  end loop;
end;
$$;

select plan(1 + 16 * (select count(*)::int from app_hidden.table_access));
select * from pg_temp.matrix();
select * from finish();
rollback;
