-- The isolation matrix: every table of app_public × select / insert / update / delete × who asks,
-- each cell with its exact outcome, against the golden access model
-- (tests/support/access-model.ts, loaded as tests.expected_access) — never against the model the
-- policies are generated from.
--
-- Rows: the matrix's own fixtures in NY and LA (tests/support/access-fixtures.sql); a cell only
-- ever touches those rows. Who asks (all members of NY unless said otherwise):
--   only:<p>      a custom role holding exactly one permission, for every permission the table involves;
--   without:<set> every hospital permission but the set that guards this command;
--   all           every hospital permission (reads and writes what any permission allows);
--   nobody        a member whose only role grants nothing;
--   other         the hospital admin of LA (every hospital permission, there); on insert it tries
--                 to put a row into NY (hospital_id chosen: refused by the column grant);
--   super         the super admin, working in NY (chain-level tables);
--   anonymous     no token.
-- A cell runs as that identity and is undone (a subtransaction rolled back), so cells are
-- independent; its outcome is what tests.try answered, then what the owner sees afterwards:
--   select  'ok; LA:all NY:none'           which fixture rows of each hospital came back (all, none, part);
--   insert  'ok; new row in NY'            the probe row (the INSERT a permitted member sends) exists, in which hospital;
--   update  'ok; changed LA:none NY:all'   which fixture rows now hold the probe's new value;
--   delete  'ok; LA:kept NY:soft'          per hospital: gone, soft (still there, is_deleted), kept.
-- 'E:42501' is a refusal by a grant or a policy; an HMS code is a trigger that refused first.
begin;

select tests.access_fixtures();
create temporary table access_seen (id uuid);
grant insert on access_seen to public;

/** The outcome of one cell (see the header). */
create function pg_temp.cell(p_table text, p_command text, p_who text) returns text
language plpgsql as $$
declare
  v_probe access_probe;
  v_ids text := (select format('%L::uuid[]', array_agg(id)) from access_row where table_name = p_table);
  v_sql text;
  v_outcome text;
  v_effect text;
  v_before bigint;
  v_after bigint;
  v_new text;
  v_soft boolean := exists (select 1 from pg_attribute where attrelid = ('app_public.' || p_table)::regclass and attname = 'is_deleted');
  v_hospital boolean := exists (select 1 from pg_attribute where attrelid = ('app_public.' || p_table)::regclass and attname = 'hospital_id');
begin
  select * into strict v_probe from access_probe where table_name = p_table;
  v_sql := case p_command
    when 'select' then format('insert into access_seen select id from app_public.%I where id = any (%s)', p_table, v_ids)
    when 'insert' then case when p_who = 'other' and v_hospital
                            then format('insert into app_public.%I (hospital_id) values (%L)', p_table, '10000000-0000-4000-8000-000000000001')
                            else v_probe.insert_sql end
    when 'update' then format('update app_public.%I set %s where id = any (%s)', p_table, v_probe.update_set, v_ids)
    when 'delete' then format('delete from app_public.%I where id = any (%s)', p_table, v_ids) end;
  begin
    if p_command = 'insert' then
      execute format('select count(*) from app_public.%I', p_table) into v_before;
    end if;
    if p_who = 'anonymous' then
      perform tests.authenticate_as_anonymous();
    else
      perform tests.authenticate_as(i.email, i.hospital_code) from access_identity i where i.name = p_who;
      if not found then raise exception 'no identity %', p_who; end if;
    end if;
    v_outcome := tests.try(v_sql);
    perform tests.clear_authentication();
    case p_command
      when 'select' then
        select string_agg(r.hospital || ':' || case when r.seen = 0 then 'none' when r.seen = r.total then 'all' else 'part' end, ' ' order by r.hospital)
          into v_effect
          from (select a.hospital, count(*) as total, count(s.id) as seen
                  from access_row a left join access_seen s on s.id = a.id where a.table_name = p_table group by a.hospital) r;
      when 'insert' then
        execute format('select count(*) from app_public.%I', p_table) into v_after;
        execute format('select string_agg(coalesce(h.code, ''the chain''), '','') from (select * from app_public.%I where %s) t left join app_public.hospitals h on h.id = %s',
                       p_table, v_probe.new_row, case when v_hospital then 't.hospital_id' else 'null' end) into v_new;
        v_effect := case when v_after = v_before then 'no new row'
                         when v_after = v_before + 1 and v_new is not null and v_new !~ ',' then 'new row in ' || v_new
                         else (v_after - v_before) || ' new rows (' || coalesce(v_new, 'none matching the probe') || ')' end;
      when 'update' then
        execute format($q$select string_agg(r.hospital || ':' || case when r.changed = 0 then 'none' when r.changed = r.total then 'all' else 'part' end, ' ' order by r.hospital)
                            from (select a.hospital, count(*) as total, count(c.id) as changed
                                    from access_row a left join (select id from app_public.%I where %s) c on c.id = a.id
                                   where a.table_name = %L group by a.hospital) r$q$,
                       p_table, v_probe.update_set, p_table) into v_effect;
        v_effect := 'changed ' || v_effect;
      when 'delete' then
        execute format($q$select string_agg(r.hospital || ':' || case when r.present = 0 then 'gone' when r.present < r.total then 'part'
                                                                     when r.deleted = r.total then 'soft' when r.deleted = 0 then 'kept' else 'part' end, ' ' order by r.hospital)
                            from (select a.hospital, count(*) as total, count(t.id) as present, count(*) filter (where %s) as deleted
                                    from access_row a left join app_public.%I t on t.id = a.id where a.table_name = %L group by a.hospital) r$q$,
                       case when v_soft then 't.is_deleted' else 'false' end, p_table, p_table) into v_effect;
    end case;
    raise sqlstate 'HMSRB' using message = v_outcome || '; ' || v_effect;
  exception when sqlstate 'HMSRB' then
    return sqlerrm;
  end;
end;
$$;

/**
 * What the golden model says a cell must answer, for tables whose rows each belong to one
 * hospital (scope 'hospital', no rule of their own). A member of NY with permissions P:
 *   reads the NY rows when the table is readable by every member or P holds a read permission;
 *   inserts the probe when P holds an insert permission;
 *   updates / deletes the NY rows when P holds such a permission AND reads them (the WHERE of
 *   an UPDATE or DELETE only finds rows the member may see);
 * a write P does not permit is refused (E:42501) where a policy checks new rows (insert), and
 * finds nothing where a policy filters rows (update, delete); a command nobody may use through
 * the API has no grant at all (E:42501), whoever asks; a write the policy admits meets the
 * table's workflow rule, if the model names one (its code, nothing written).
 * The LA admin reaches exactly the LA rows and cannot choose hospital_id; anonymous is refused.
 */
create function pg_temp.expected(p_table text, p_command text, p_who text) returns text
language plpgsql as $$
declare
  e tests.expected_access;
  v_holders text[];
  v_held text[];
  v_reads boolean;
  v_may boolean;
  v_deleted text;
  v_untouched text;
  v_rule jsonb;
begin
  select * into strict e from tests.expected_access where table_name = p_table;
  v_holders := case p_command when 'select' then e.read when 'insert' then e.insert when 'update' then e.update else e.delete end;
  v_deleted := case when e.soft_delete then 'soft' else 'gone' end;
  v_untouched := case p_command when 'select' then 'LA:none NY:none' when 'insert' then 'no new row'
                                when 'update' then 'changed LA:none NY:none' else 'LA:kept NY:kept' end;
  v_rule := e.workflow -> p_command;
  if p_who = 'anonymous' or (p_command <> 'select' and v_holders = '{}') then
    return 'E:42501; ' || v_untouched;
  end if;
  if p_who = 'other' then
    if v_rule is not null and p_command <> 'insert' and v_rule -> 'unless' is null then  -- it holds every 'unless'
      return (v_rule ->> 'code') || '; ' || v_untouched;
    end if;
    return case p_command when 'select' then 'ok; LA:all NY:none' when 'insert' then 'E:42501; no new row'
                          when 'update' then 'ok; changed LA:all NY:none' else 'ok; LA:' || v_deleted || ' NY:kept' end;
  end if;
  v_held := (select permissions from access_identity where name = p_who);
  v_reads := e.read = '{*}' or e.read && v_held;
  v_may := v_holders = '{*}' or v_holders && v_held;
  if v_rule is not null and v_may and (p_command = 'insert' or v_reads)
     and not coalesce(array(select jsonb_array_elements_text(v_rule -> 'unless')) && v_held, false) then
    return (v_rule ->> 'code') || '; ' || v_untouched;
  end if;
  return case p_command
    when 'select' then 'ok; LA:none NY:' || case when v_reads then 'all' else 'none' end
    when 'insert' then case when v_may then 'ok; new row in NY' else 'HMS_FORBIDDEN; no new row' end
    when 'update' then case when v_may then 'ok; changed LA:none NY:' || case when v_reads then 'all' else 'none' end
                            else 'HMS_FORBIDDEN; changed LA:none NY:none' end
    else case when v_may then 'ok; LA:kept NY:' || case when v_reads then v_deleted else 'kept' end
              else 'HMS_FORBIDDEN; LA:kept NY:kept' end end;
end;
$$;

/** Who asks, per table and command: see the header. */
create function pg_temp.askers(p_table text, p_command text) returns setof text
language sql as $$
  select distinct w from (
    select 'only:' || p as w
      from tests.expected_access e, unnest(e.read || e.insert || e.update || e.delete) p
     where e.table_name = p_table and p <> '*'
    union all
    select 'without:' || h::text from tests.expected_access e,
           lateral (select case p_command when 'select' then e.read when 'insert' then e.insert when 'update' then e.update else e.delete end) c(h)
     where e.table_name = p_table and h not in ('{*}', '{}')
    union all
    select unnest(array['all', 'nobody', 'other', 'anonymous'])) a
  order by 1;
$$;

create temporary table matrix_cell as
select e.table_name, c.command, w.who, pg_temp.expected(e.table_name, c.command, w.who) as expected
  from tests.expected_access e
 cross join (values ('select'), ('insert'), ('update'), ('delete')) c(command)
 cross join lateral pg_temp.askers(e.table_name, c.command) w(who)
 where e.scope = 'hospital' and e.rule is null;

-- Tables with rules of their own (scope chain, or a rule in the model): every cell written out.
-- Labels: NY and LA rows (users: where they hold a role); CHAIN, rows of no hospital; OWN, the
-- asking member's own row (nobody's).
insert into matrix_cell (table_name, command, who, expected) values
  ('audit_logs', 'select', 'nobody', 'ok; CHAIN:none LA:none NY:none'),
  ('audit_logs', 'select', 'only:audit.read', 'ok; CHAIN:none LA:none NY:all'),
  ('audit_logs', 'select', 'all', 'ok; CHAIN:none LA:none NY:all'),
  ('audit_logs', 'select', 'other', 'ok; CHAIN:none LA:all NY:none'),
  ('audit_logs', 'select', 'super', 'ok; CHAIN:none LA:none NY:all'),
  ('audit_logs', 'select', 'anonymous', 'E:42501; CHAIN:none LA:none NY:none'),
  ('audit_logs', 'insert', 'nobody', 'E:42501; no new row'),
  ('audit_logs', 'insert', 'only:audit.read', 'E:42501; no new row'),
  ('audit_logs', 'insert', 'all', 'E:42501; no new row'),
  ('audit_logs', 'insert', 'other', 'E:42501; no new row'),
  ('audit_logs', 'insert', 'super', 'E:42501; no new row'),
  ('audit_logs', 'insert', 'anonymous', 'E:42501; no new row'),
  ('audit_logs', 'update', 'nobody', 'E:42501; changed CHAIN:none LA:none NY:none'),
  ('audit_logs', 'update', 'only:audit.read', 'E:42501; changed CHAIN:none LA:none NY:none'),
  ('audit_logs', 'update', 'all', 'E:42501; changed CHAIN:none LA:none NY:none'),
  ('audit_logs', 'update', 'other', 'E:42501; changed CHAIN:none LA:none NY:none'),
  ('audit_logs', 'update', 'super', 'E:42501; changed CHAIN:none LA:none NY:none'),
  ('audit_logs', 'update', 'anonymous', 'E:42501; changed CHAIN:none LA:none NY:none'),
  ('audit_logs', 'delete', 'nobody', 'E:42501; CHAIN:kept LA:kept NY:kept'),
  ('audit_logs', 'delete', 'only:audit.read', 'E:42501; CHAIN:kept LA:kept NY:kept'),
  ('audit_logs', 'delete', 'all', 'E:42501; CHAIN:kept LA:kept NY:kept'),
  ('audit_logs', 'delete', 'other', 'E:42501; CHAIN:kept LA:kept NY:kept'),
  ('audit_logs', 'delete', 'super', 'E:42501; CHAIN:kept LA:kept NY:kept'),
  ('audit_logs', 'delete', 'anonymous', 'E:42501; CHAIN:kept LA:kept NY:kept'),
  ('hospitals', 'select', 'nobody', 'ok; LA:none NY:all'),
  ('hospitals', 'select', 'all', 'ok; LA:none NY:all'),
  ('hospitals', 'select', 'other', 'ok; LA:all NY:none'),
  ('hospitals', 'select', 'super', 'ok; LA:all NY:all'),
  ('hospitals', 'select', 'anonymous', 'E:42501; LA:none NY:none'),
  ('hospitals', 'insert', 'nobody', 'HMS_FORBIDDEN; no new row'),
  ('hospitals', 'insert', 'all', 'HMS_FORBIDDEN; no new row'),
  ('hospitals', 'insert', 'other', 'HMS_FORBIDDEN; no new row'),
  -- The super admin adds hospitals through the API (the provisioning of its settings and
  -- sequences runs as the owner: app_hidden.tg_hospitals__provision is security definer).
  ('hospitals', 'insert', 'super', 'ok; new row in the chain'),
  ('hospitals', 'insert', 'anonymous', 'E:42501; no new row'),
  ('hospitals', 'update', 'nobody', 'HMS_FORBIDDEN; changed LA:none NY:none'),
  ('hospitals', 'update', 'all', 'HMS_FORBIDDEN; changed LA:none NY:none'),
  ('hospitals', 'update', 'other', 'HMS_FORBIDDEN; changed LA:none NY:none'),
  ('hospitals', 'update', 'super', 'ok; changed LA:all NY:all'),
  ('hospitals', 'update', 'anonymous', 'E:42501; changed LA:none NY:none'),
  ('hospitals', 'delete', 'nobody', 'HMS_FORBIDDEN; LA:kept NY:kept'),
  ('hospitals', 'delete', 'all', 'HMS_FORBIDDEN; LA:kept NY:kept'),
  ('hospitals', 'delete', 'other', 'HMS_FORBIDDEN; LA:kept NY:kept'),
  ('hospitals', 'delete', 'super', 'ok; LA:soft NY:soft'),
  ('hospitals', 'delete', 'anonymous', 'E:42501; LA:kept NY:kept'),
  ('notifications', 'select', 'nobody', 'ok; LA:none NY:all'),
  ('notifications', 'select', 'only:settings.manage', 'ok; LA:none NY:all'),
  ('notifications', 'select', 'all', 'ok; LA:none NY:all'),
  ('notifications', 'select', 'other', 'ok; LA:all NY:none'),
  ('notifications', 'select', 'super', 'ok; LA:none NY:all'),
  ('notifications', 'select', 'anonymous', 'E:42501; LA:none NY:none'),
  ('notifications', 'insert', 'nobody', 'E:42501; no new row'),
  ('notifications', 'insert', 'only:settings.manage', 'E:42501; no new row'),
  ('notifications', 'insert', 'all', 'E:42501; no new row'),
  ('notifications', 'insert', 'other', 'E:42501; no new row'),
  ('notifications', 'insert', 'super', 'E:42501; no new row'),
  ('notifications', 'insert', 'anonymous', 'E:42501; no new row'),
  ('notifications', 'update', 'nobody', 'ok; changed LA:none NY:all'),
  ('notifications', 'update', 'only:settings.manage', 'ok; changed LA:none NY:none'),
  ('notifications', 'update', 'all', 'ok; changed LA:none NY:none'),
  ('notifications', 'update', 'other', 'ok; changed LA:all NY:none'),
  ('notifications', 'update', 'super', 'ok; changed LA:none NY:none'),
  ('notifications', 'update', 'anonymous', 'E:42501; changed LA:none NY:none'),
  ('notifications', 'delete', 'nobody', 'E:42501; LA:kept NY:kept'),
  ('notifications', 'delete', 'only:settings.manage', 'E:42501; LA:kept NY:kept'),
  ('notifications', 'delete', 'all', 'E:42501; LA:kept NY:kept'),
  ('notifications', 'delete', 'other', 'E:42501; LA:kept NY:kept'),
  ('notifications', 'delete', 'super', 'E:42501; LA:kept NY:kept'),
  ('notifications', 'delete', 'anonymous', 'E:42501; LA:kept NY:kept'),
  ('password_emails', 'select', 'nobody', 'ok; LA:none NY:none OWN:all'),
  ('password_emails', 'select', 'only:users.manage', 'ok; LA:none NY:all OWN:all'),
  ('password_emails', 'select', 'all', 'ok; LA:none NY:all OWN:all'),
  ('password_emails', 'select', 'other', 'ok; LA:all NY:none OWN:none'),
  ('password_emails', 'select', 'super', 'ok; LA:none NY:all OWN:all'),
  ('password_emails', 'select', 'anonymous', 'E:42501; LA:none NY:none OWN:none'),
  ('password_emails', 'insert', 'nobody', 'E:42501; no new row'),
  ('password_emails', 'insert', 'only:users.manage', 'E:42501; no new row'),
  ('password_emails', 'insert', 'all', 'E:42501; no new row'),
  ('password_emails', 'insert', 'other', 'E:42501; no new row'),
  ('password_emails', 'insert', 'super', 'E:42501; no new row'),
  ('password_emails', 'insert', 'anonymous', 'E:42501; no new row'),
  ('password_emails', 'update', 'nobody', 'E:42501; changed LA:none NY:none OWN:none'),
  ('password_emails', 'update', 'only:users.manage', 'E:42501; changed LA:none NY:none OWN:none'),
  ('password_emails', 'update', 'all', 'E:42501; changed LA:none NY:none OWN:none'),
  ('password_emails', 'update', 'other', 'E:42501; changed LA:none NY:none OWN:none'),
  ('password_emails', 'update', 'super', 'E:42501; changed LA:none NY:none OWN:none'),
  ('password_emails', 'update', 'anonymous', 'E:42501; changed LA:none NY:none OWN:none'),
  ('password_emails', 'delete', 'nobody', 'E:42501; LA:kept NY:kept OWN:kept'),
  ('password_emails', 'delete', 'only:users.manage', 'E:42501; LA:kept NY:kept OWN:kept'),
  ('password_emails', 'delete', 'all', 'E:42501; LA:kept NY:kept OWN:kept'),
  ('password_emails', 'delete', 'other', 'E:42501; LA:kept NY:kept OWN:kept'),
  ('password_emails', 'delete', 'super', 'E:42501; LA:kept NY:kept OWN:kept'),
  ('password_emails', 'delete', 'anonymous', 'E:42501; LA:kept NY:kept OWN:kept'),
  ('permissions', 'select', 'nobody', 'ok; CHAIN:all'),
  ('permissions', 'select', 'all', 'ok; CHAIN:all'),
  ('permissions', 'select', 'other', 'ok; CHAIN:all'),
  ('permissions', 'select', 'super', 'ok; CHAIN:all'),
  ('permissions', 'select', 'anonymous', 'E:42501; CHAIN:none'),
  ('permissions', 'insert', 'nobody', 'E:42501; no new row'),
  ('permissions', 'insert', 'all', 'E:42501; no new row'),
  ('permissions', 'insert', 'other', 'E:42501; no new row'),
  ('permissions', 'insert', 'super', 'E:42501; no new row'),
  ('permissions', 'insert', 'anonymous', 'E:42501; no new row'),
  ('permissions', 'update', 'nobody', 'E:42501; changed CHAIN:none'),
  ('permissions', 'update', 'all', 'E:42501; changed CHAIN:none'),
  ('permissions', 'update', 'other', 'E:42501; changed CHAIN:none'),
  ('permissions', 'update', 'super', 'E:42501; changed CHAIN:none'),
  ('permissions', 'update', 'anonymous', 'E:42501; changed CHAIN:none'),
  ('permissions', 'delete', 'nobody', 'E:42501; CHAIN:kept'),
  ('permissions', 'delete', 'all', 'E:42501; CHAIN:kept'),
  ('permissions', 'delete', 'other', 'E:42501; CHAIN:kept'),
  ('permissions', 'delete', 'super', 'E:42501; CHAIN:kept'),
  ('permissions', 'delete', 'anonymous', 'E:42501; CHAIN:kept'),
  ('refresh_tokens', 'select', 'nobody', 'ok; LA:none NY:all'),
  ('refresh_tokens', 'select', 'all', 'ok; LA:none NY:none'),
  ('refresh_tokens', 'select', 'other', 'ok; LA:all NY:none'),
  ('refresh_tokens', 'select', 'super', 'ok; LA:none NY:none'),
  ('refresh_tokens', 'select', 'anonymous', 'E:42501; LA:none NY:none'),
  ('refresh_tokens', 'insert', 'nobody', 'E:42501; no new row'),
  ('refresh_tokens', 'insert', 'all', 'E:42501; no new row'),
  ('refresh_tokens', 'insert', 'other', 'E:42501; no new row'),
  ('refresh_tokens', 'insert', 'super', 'E:42501; no new row'),
  ('refresh_tokens', 'insert', 'anonymous', 'E:42501; no new row'),
  ('refresh_tokens', 'update', 'nobody', 'E:42501; changed LA:none NY:none'),
  ('refresh_tokens', 'update', 'all', 'E:42501; changed LA:none NY:none'),
  ('refresh_tokens', 'update', 'other', 'E:42501; changed LA:none NY:none'),
  ('refresh_tokens', 'update', 'super', 'E:42501; changed LA:none NY:none'),
  ('refresh_tokens', 'update', 'anonymous', 'E:42501; changed LA:none NY:none'),
  ('refresh_tokens', 'delete', 'nobody', 'E:42501; LA:kept NY:kept'),
  ('refresh_tokens', 'delete', 'all', 'E:42501; LA:kept NY:kept'),
  ('refresh_tokens', 'delete', 'other', 'E:42501; LA:kept NY:kept'),
  ('refresh_tokens', 'delete', 'super', 'E:42501; LA:kept NY:kept'),
  ('refresh_tokens', 'delete', 'anonymous', 'E:42501; LA:kept NY:kept'),
  ('role_permissions', 'select', 'nobody', 'ok; LA:none NY:all'),
  ('role_permissions', 'select', 'only:roles.manage', 'ok; LA:none NY:all'),
  ('role_permissions', 'select', 'all', 'ok; LA:none NY:all'),
  ('role_permissions', 'select', 'other', 'ok; LA:all NY:none'),
  ('role_permissions', 'select', 'super', 'ok; LA:none NY:all'),
  ('role_permissions', 'select', 'anonymous', 'E:42501; LA:none NY:none'),
  ('role_permissions', 'insert', 'nobody', 'HMS_FORBIDDEN; no new row'),
  ('role_permissions', 'insert', 'only:roles.manage', 'HMS_GRANT_NOT_HELD; no new row'),
  ('role_permissions', 'insert', 'all', 'ok; new row in the chain'),
  ('role_permissions', 'insert', 'other', 'E:42501; no new row'),
  ('role_permissions', 'insert', 'super', 'ok; new row in the chain'),
  ('role_permissions', 'insert', 'anonymous', 'E:42501; no new row'),
  ('role_permissions', 'update', 'nobody', 'E:42501; changed LA:none NY:none'),
  ('role_permissions', 'update', 'only:roles.manage', 'E:42501; changed LA:none NY:none'),
  ('role_permissions', 'update', 'all', 'E:42501; changed LA:none NY:none'),
  ('role_permissions', 'update', 'other', 'E:42501; changed LA:none NY:none'),
  ('role_permissions', 'update', 'super', 'E:42501; changed LA:none NY:none'),
  ('role_permissions', 'update', 'anonymous', 'E:42501; changed LA:none NY:none'),
  ('role_permissions', 'delete', 'nobody', 'HMS_FORBIDDEN; LA:kept NY:kept'),
  ('role_permissions', 'delete', 'only:roles.manage', 'ok; LA:kept NY:gone'),
  ('role_permissions', 'delete', 'all', 'ok; LA:kept NY:gone'),
  ('role_permissions', 'delete', 'other', 'ok; LA:gone NY:kept'),
  ('role_permissions', 'delete', 'super', 'ok; LA:kept NY:gone'),
  ('role_permissions', 'delete', 'anonymous', 'E:42501; LA:kept NY:kept'),
  ('roles', 'select', 'nobody', 'ok; LA:none NY:all'),
  ('roles', 'select', 'only:roles.manage', 'ok; LA:none NY:all'),
  ('roles', 'select', 'all', 'ok; LA:none NY:all'),
  ('roles', 'select', 'other', 'ok; LA:all NY:none'),
  ('roles', 'select', 'super', 'ok; LA:none NY:all'),
  ('roles', 'select', 'anonymous', 'E:42501; LA:none NY:none'),
  ('roles', 'insert', 'nobody', 'HMS_FORBIDDEN; no new row'),
  ('roles', 'insert', 'only:roles.manage', 'ok; new row in NY'),
  ('roles', 'insert', 'all', 'ok; new row in NY'),
  ('roles', 'insert', 'other', 'E:42501; no new row'),
  ('roles', 'insert', 'super', 'ok; new row in NY'),
  ('roles', 'insert', 'anonymous', 'E:42501; no new row'),
  ('roles', 'update', 'nobody', 'HMS_FORBIDDEN; changed LA:none NY:none'),
  ('roles', 'update', 'only:roles.manage', 'ok; changed LA:none NY:all'),
  ('roles', 'update', 'all', 'ok; changed LA:none NY:all'),
  ('roles', 'update', 'other', 'ok; changed LA:all NY:none'),
  ('roles', 'update', 'super', 'ok; changed LA:none NY:all'),
  ('roles', 'update', 'anonymous', 'E:42501; changed LA:none NY:none'),
  ('roles', 'delete', 'nobody', 'HMS_FORBIDDEN; LA:kept NY:kept'),
  ('roles', 'delete', 'only:roles.manage', 'ok; LA:kept NY:gone'),
  ('roles', 'delete', 'all', 'ok; LA:kept NY:gone'),
  ('roles', 'delete', 'other', 'ok; LA:gone NY:kept'),
  ('roles', 'delete', 'super', 'ok; LA:kept NY:gone'),
  ('roles', 'delete', 'anonymous', 'E:42501; LA:kept NY:kept'),
  ('user_roles', 'select', 'nobody', 'ok; LA:none NY:none'),
  ('user_roles', 'select', 'only:users.manage', 'ok; LA:none NY:none'),
  ('user_roles', 'select', 'only:users.read', 'ok; LA:none NY:all'),
  ('user_roles', 'select', 'all', 'ok; LA:none NY:all'),
  ('user_roles', 'select', 'other', 'ok; LA:all NY:none'),
  ('user_roles', 'select', 'super', 'ok; LA:all NY:all'),
  ('user_roles', 'select', 'anonymous', 'E:42501; LA:none NY:none'),
  ('user_roles', 'insert', 'nobody', 'HMS_FORBIDDEN; no new row'),
  ('user_roles', 'insert', 'only:users.manage', 'HMS_GRANT_NOT_HELD; no new row'),
  ('user_roles', 'insert', 'only:users.read', 'HMS_FORBIDDEN; no new row'),
  ('user_roles', 'insert', 'all', 'ok; new row in NY'),
  ('user_roles', 'insert', 'other', 'E:42501; no new row'),
  ('user_roles', 'insert', 'super', 'ok; new row in NY'),
  ('user_roles', 'insert', 'anonymous', 'E:42501; no new row'),
  ('user_roles', 'update', 'nobody', 'HMS_FORBIDDEN; changed LA:none NY:none'),
  ('user_roles', 'update', 'only:users.manage', 'ok; changed LA:none NY:none'),
  ('user_roles', 'update', 'only:users.read', 'HMS_FORBIDDEN; changed LA:none NY:none'),
  ('user_roles', 'update', 'all', 'ok; changed LA:none NY:all'),
  ('user_roles', 'update', 'other', 'ok; changed LA:all NY:none'),
  ('user_roles', 'update', 'super', 'ok; changed LA:all NY:all'),
  ('user_roles', 'update', 'anonymous', 'E:42501; changed LA:none NY:none'),
  ('user_roles', 'delete', 'nobody', 'HMS_FORBIDDEN; LA:kept NY:kept'),
  ('user_roles', 'delete', 'only:users.manage', 'ok; LA:kept NY:kept'),
  ('user_roles', 'delete', 'only:users.read', 'HMS_FORBIDDEN; LA:kept NY:kept'),
  ('user_roles', 'delete', 'all', 'ok; LA:kept NY:gone'),
  ('user_roles', 'delete', 'other', 'ok; LA:gone NY:kept'),
  ('user_roles', 'delete', 'super', 'ok; LA:gone NY:gone'),
  ('user_roles', 'delete', 'anonymous', 'E:42501; LA:kept NY:kept'),
  ('users', 'select', 'nobody', 'ok; LA:none NY:none'),
  ('users', 'select', 'only:users.manage', 'ok; LA:none NY:all'),
  ('users', 'select', 'all', 'ok; LA:none NY:all'),
  ('users', 'select', 'other', 'ok; LA:all NY:none'),
  ('users', 'select', 'super', 'ok; LA:all NY:all'),
  ('users', 'select', 'anonymous', 'E:42501; LA:none NY:none'),
  ('users', 'insert', 'nobody', 'HMS_FORBIDDEN; no new row'),
  ('users', 'insert', 'only:users.manage', 'ok; new row in the chain'),
  ('users', 'insert', 'all', 'ok; new row in the chain'),
  ('users', 'insert', 'other', 'ok; new row in the chain'),
  ('users', 'insert', 'super', 'ok; new row in the chain'),
  ('users', 'insert', 'anonymous', 'E:42501; no new row'),
  ('users', 'update', 'nobody', 'HMS_FORBIDDEN; changed LA:none NY:none'),
  ('users', 'update', 'only:users.manage', 'ok; changed LA:none NY:all'),
  ('users', 'update', 'all', 'ok; changed LA:none NY:all'),
  ('users', 'update', 'other', 'ok; changed LA:all NY:none'),
  ('users', 'update', 'super', 'ok; changed LA:all NY:all'),
  ('users', 'update', 'anonymous', 'E:42501; changed LA:none NY:none'),
  ('users', 'delete', 'nobody', 'HMS_FORBIDDEN; LA:kept NY:kept'),
  ('users', 'delete', 'only:users.manage', 'ok; LA:kept NY:soft'),
  ('users', 'delete', 'all', 'ok; LA:kept NY:soft'),
  ('users', 'delete', 'other', 'ok; LA:soft NY:kept'),
  ('users', 'delete', 'super', 'ok; LA:soft NY:soft'),
  ('users', 'delete', 'anonymous', 'E:42501; LA:kept NY:kept');

select plan(8 + (select count(*)::int from matrix_cell));

select is(array(select table_name from tests.expected_access
                except select table_name from matrix_cell order by 1),
          '{}'::text[], 'every table of the golden model has matrix cells');
select is(array(select e.table_name from tests.expected_access e
                 where e.scope = 'hospital' and not exists (select 1 from access_row a where a.table_name = e.table_name and a.hospital = 'NY')
                    or e.scope = 'hospital' and not exists (select 1 from access_row a where a.table_name = e.table_name and a.hospital = 'LA')
                 order by 1),
          '{}'::text[], 'every hospital-scoped table has fixture rows of its own in NY and in LA');
select is(array(select name from access_identity i
                 where i.permissions is not null
                   and i.permissions is distinct from array(select p.code from app_public.role_permissions rp
                                                              join app_public.permissions p on p.id = rp.permission_id
                                                             where rp.role_id = tests.fixture_id('NY', 'role:' || i.name) order by 1)
                 order by 1),
          '{}'::text[], 'every matrix identity holds exactly the permissions it is named after');

select is(pg_temp.cell(table_name, command, who), expected, format('%s: %s as %s', table_name, command, who))
  from matrix_cell order by table_name, command, who;

-- Granting more than one holds (DESIGN §6): a chain-level permission never enters a hospital
-- role, and nobody grants a permission they do not hold (the role_permissions and user_roles
-- cells above are refused for the same reason: their probes grant reports.read, which
-- only:roles.manage and only:users.manage lack). tests/db/security/privilege.test.sql has the rest.
select tests.authenticate_as('matrix.only.roles_manage@hms.test', 'NY');
select is(tests.try($$insert into app_public.role_permissions (role_id, permission_id)
                      select tests.fixture_id('NY', 'roles'), p.id from app_public.permissions p where p.code = 'billing.refund'$$),
          'HMS_GRANT_NOT_HELD', 'role_permissions: roles.manage cannot grant billing.refund, which it does not hold');
select is(tests.try($$insert into app_public.role_permissions (role_id, permission_id)
                      select tests.fixture_id('NY', 'role:only:roles.manage'), p.id from app_public.permissions p where p.code = 'hospitals.manage'$$),
          'HMS_PERMISSION_CHAIN_LEVEL', 'role_permissions: roles.manage cannot put the chain-level hospitals.manage into its own custom role');
select is(tests.try($$update app_public.hospitals set legal_name = 'matrix edit'
                       where id in ('10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002')$$),
          'HMS_FORBIDDEN', '… so it cannot edit hospitals');
select tests.clear_authentication();
select is(array(select code::text from app_public.hospitals where legal_name = 'matrix edit'), '{}'::text[],
          '… and no hospital row changed');
select tests.authenticate_as('matrix.only.users_manage@hms.test', 'NY');
select is(tests.try($$insert into app_public.user_roles (user_id, role_id)
                      select tests.fixture_id('NY', 'user:only:users.manage'), r.id from app_public.roles r where r.code = 'hospital_admin'$$),
          'HMS_GRANT_NOT_HELD', 'user_roles: users.manage cannot make its holder hospital admin of NY');
select tests.clear_authentication();

select * from finish();
rollback;
