--! split: 0100-forbidden-writes.sql
/*
 * A forbidden write answers 403 whatever the verb.
 *
 * Row-level security alone answers a write the member may not make in three different ways: an
 * INSERT fails the policy's WITH CHECK (a raw 42501, no HMS code), an UPDATE or DELETE finds no row
 * (200 [] / 204, "nothing happened"). The error contract says 403 HMS_FORBIDDEN. So register_table
 * installs, per command a client may use, one BEFORE ... FOR EACH STATEMENT trigger
 * (_001_forbidden_<command>) that asks once per statement — not per row — whether the member
 * holds any permission the command needs (app_hidden.has_any_permission, the helper the policies
 * use), and refuses with HMS_FORBIDDEN naming the entity and the permissions when not.
 *
 * Who is checked: a member of staff writing as the API role hms_staff with a session, outside a
 * workflow. Workflow RPCs are security definer (current_user is the owner) and marked
 * (app_hidden.in_workflow()): they write on the member's behalf after their own gate. The owner
 * without a session (migrations, seed) is trusted. Anonymous callers hold no grant on any table:
 * PostgreSQL refuses them (42501) before any trigger, as before.
 *
 * Commands nobody may use through the API (write_mode read_only / insert_only / update_only, or no
 * permission at all) have no grant: PostgreSQL refuses them first (42501, mapped to 403 by the
 * front), so no trigger is installed for them. The policies stay: this check adds a clear answer,
 * it does not replace them.
 */
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
      format('You may not %s %s rows: this needs %s.', v_command,
             case when v_entity ~ '^[aeiou]' then 'an ' else 'a ' end || v_entity,
             case when cardinality(v_permissions) = 1 then 'the permission ' || v_permissions[1]
                  else 'one of the permissions ' || array_to_string(v_permissions, ', ') end),
      jsonb_build_object('entity', v_entity, 'command', v_command, 'permissions', to_jsonb(v_permissions)));
  end if;
  return null;
end;
$$;
comment on function app_hidden.tg__forbidden_write() is 'Statement trigger _001_forbidden_<command> installed by register_table: refuses (403 HMS_FORBIDDEN) a client write of a member of staff who holds none of the permissions the command needs (arguments: entity, command, permissions). Workflow RPCs and the owner without a session pass.';
revoke execute on function app_hidden.tg__forbidden_write() from public;
grant execute on function app_hidden.tg__forbidden_write() to hms_staff;

CREATE OR REPLACE FUNCTION app_hidden.register_table(p_table regclass, entity text, read_permissions text[] DEFAULT NULL::text[], write_permissions text[] DEFAULT '{}'::text[], delete_permissions text[] DEFAULT '{}'::text[], write_mode text DEFAULT 'read_write'::text, protected_columns text[] DEFAULT '{}'::text[], immutable_columns text[] DEFAULT '{}'::text[], audited boolean DEFAULT true, append_only boolean DEFAULT false, policies text DEFAULT 'generated'::text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table and c.relnamespace = 'app_public'::regnamespace);
  v_scoped boolean;
  v_soft boolean;
  v_number app_hidden.document_types;
begin
  if v_name is null then
    raise exception 'register_table: % is not a table of app_public', p_table;
  end if;
  v_scoped := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'hospital_id' and a.attnotnull and not a.attisdropped);
  v_soft := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_deleted' and not a.attisdropped);
  if p_table = 'app_public.audit_logs'::regclass and register_table.audited then
    raise exception 'register_table: app_public.audit_logs cannot audit itself (audited => false)';
  end if;
  if register_table.policies = 'generated' and not v_scoped then
    raise exception 'register_table: % has no hospital_id: its policies are hand-written (policies => ''hand_written'')', p_table;
  end if;

  perform app_hidden.apply_table_conventions(p_table);

  if register_table.policies = 'generated' then
    insert into app_hidden.table_access as a
      (table_name, read_permissions, write_permissions, delete_permissions, write_mode, protected_columns, immutable_columns)
    values (v_name, register_table.read_permissions, register_table.write_permissions, register_table.delete_permissions,
            register_table.write_mode, register_table.protected_columns, register_table.immutable_columns)
    on conflict (table_name) do update
       set read_permissions = excluded.read_permissions, write_permissions = excluded.write_permissions,
           delete_permissions = excluded.delete_permissions, write_mode = excluded.write_mode,
           protected_columns = excluded.protected_columns, immutable_columns = excluded.immutable_columns;
  else
    delete from app_hidden.table_access a where a.table_name = v_name;
  end if;

  -- Triggers, in firing order (BEFORE triggers fire by name).
  perform app_hidden.set_trigger(p_table, '_000_append_only', register_table.append_only,
    'before update or delete on %TABLE% for each row execute function app_hidden.tg__append_only()');
  perform app_hidden.set_trigger(p_table, '_000_append_only_truncate', register_table.append_only,
    'before truncate on %TABLE% for each statement execute function app_hidden.tg__append_only()');
  select * into v_number from app_hidden.document_types d where d.table_name = v_name;
  perform app_hidden.set_trigger(p_table, '_010_number', v_number.document_type is not null,
    format('before insert on %%TABLE%% for each row execute function app_hidden.tg__assign_number(%L, %L, %L)',
           v_number.column_name, v_number.document_type, coalesce(v_number.scope_column, '')));
  perform app_hidden.set_trigger(p_table, '_050_soft_delete', v_soft,
    'before delete on %TABLE% for each row execute function app_hidden.tg__soft_delete()');
  perform app_hidden.set_trigger(p_table, '_100_stamp',
    exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'updated_by' and not a.attisdropped),
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__stamp()');
  perform app_hidden.set_trigger(p_table, '_110_soft_delete', v_soft,
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__soft_delete_stamp()');
  perform app_hidden.set_trigger(p_table, '_150_status_machine',
    exists (select 1 from app_hidden.status_transitions s where s.table_name = v_name),
    'before insert or update of status on %TABLE% for each row execute function app_hidden.tg__status_machine()');
  perform app_hidden.set_trigger(p_table, '_990_friendly_constraints', true,
    'before insert or update on %TABLE% for each row execute function app_hidden.tg__friendly_constraints()');
  -- One permission check per statement (0100-forbidden-writes.sql): a member of staff without
  -- the permission a command needs is refused with 403 HMS_FORBIDDEN before any row is touched.
  perform app_hidden.set_trigger(p_table, '_001_forbidden_insert',
    register_table.write_mode in ('read_write', 'insert_only') and register_table.write_permissions <> '{}',
    format('before insert on %%TABLE%% for each statement execute function app_hidden.tg__forbidden_write(%L, %L, %L)',
           register_table.entity, 'insert', register_table.write_permissions));
  perform app_hidden.set_trigger(p_table, '_001_forbidden_update',
    register_table.write_mode in ('read_write', 'update_only') and register_table.write_permissions <> '{}',
    format('before update on %%TABLE%% for each statement execute function app_hidden.tg__forbidden_write(%L, %L, %L)',
           register_table.entity, 'update', register_table.write_permissions));
  perform app_hidden.set_trigger(p_table, '_001_forbidden_delete', register_table.delete_permissions <> '{}',
    format('before delete on %%TABLE%% for each statement execute function app_hidden.tg__forbidden_write(%L, %L, %L)',
           register_table.entity, 'delete', register_table.delete_permissions));
  perform app_hidden.set_trigger(p_table, '_900_audit', register_table.audited,
    'after insert or update or delete on %TABLE% for each row execute function app_hidden.tg__audit()');

  execute format('alter table %s enable row level security, force row level security', p_table);
  if register_table.policies = 'generated' then
    perform app_hidden.apply_access_policies(p_table);
  end if;

  insert into app_hidden.table_registry as r
    (table_name, entity, hospital_scoped, soft_delete, audited, append_only, policies, write_permissions)
  values (v_name, register_table.entity, v_scoped, v_soft, register_table.audited, register_table.append_only, register_table.policies,
          register_table.write_permissions)
  on conflict (table_name) do update
     set entity = excluded.entity, hospital_scoped = excluded.hospital_scoped, soft_delete = excluded.soft_delete,
         audited = excluded.audited, append_only = excluded.append_only, policies = excluded.policies,
         write_permissions = excluded.write_permissions;
  perform app_hidden.create_constraint_probe(p_table);
end;
$function$;
comment on function app_hidden.register_table(regclass, text, text[], text[], text[], text, text[], text[], boolean, boolean, text) is 'Registers an app_public table: conventions, number, stamps, soft delete, status machine, friendly constraint errors, audit, RLS, the statement-level forbidden-write check (403 HMS_FORBIDDEN per command, from write_permissions / delete_permissions / write_mode, for hand-written policies too) and (for hospital-scoped tables) the generated tenant/permission policies and column-listed grants. Idempotent. See 0033-register-table.sql and 0100-forbidden-writes.sql.';

/*
 * Registering a table again with the arguments it was registered with: a later section that
 * changes what registration derives from (the status machine's stamps, protected columns, the
 * checks register_table installs) calls this so the table's grants and triggers follow.
 */
create or replace function app_hidden.reregister_table(p_table regclass) returns void
  language plpgsql
as $$
declare
  r record;
begin
  select g.table_name, g.entity, g.audited, g.append_only, g.policies,
         a.read_permissions, a.write_permissions, a.delete_permissions, a.write_mode, a.protected_columns, a.immutable_columns
    into r
    from app_hidden.table_registry g left join app_hidden.table_access a using (table_name)
   where g.table_name = (select c.relname::text from pg_catalog.pg_class c where c.oid = p_table);
  if not found then
    raise exception 'reregister_table: % was never registered', p_table;
  end if;
  if r.policies <> 'generated' then
    raise exception 'reregister_table: % has hand-written policies: call register_table with its arguments', p_table;
  end if;
  perform app_hidden.register_table(p_table, r.entity,
    read_permissions => r.read_permissions, write_permissions => r.write_permissions,
    delete_permissions => r.delete_permissions, write_mode => r.write_mode,
    protected_columns => r.protected_columns, immutable_columns => r.immutable_columns,
    audited => r.audited, append_only => r.append_only);
end;
$$;
comment on function app_hidden.reregister_table(regclass) is 'Registers a table again with the arguments recorded in table_registry and table_access (generated policies only), so its grants and triggers follow a change of what registration derives from.';
revoke execute on function app_hidden.reregister_table(regclass) from public;

/* Every table again, so each gets the forbidden-write checks. */
select app_hidden.reregister_table(('app_public.' || g.table_name)::regclass)
  from app_hidden.table_registry g where g.policies = 'generated' order by g.table_name;

/* Chain-level tables with hand-written policies: their permissions, per command, for the check. */
select app_hidden.register_table('app_public.hospitals', 'hospital', policies => 'hand_written',
  write_permissions => '{hospitals.manage}', delete_permissions => '{hospitals.manage}');
select app_hidden.register_table('app_public.users', 'user', policies => 'hand_written',
  write_permissions => '{users.manage}', delete_permissions => '{users.manage}');
select app_hidden.register_table('app_public.roles', 'role', policies => 'hand_written',
  write_permissions => '{roles.manage}', delete_permissions => '{roles.manage}');
select app_hidden.register_table('app_public.role_permissions', 'role permission', policies => 'hand_written',
  write_permissions => '{roles.manage}', delete_permissions => '{roles.manage}');
select app_hidden.register_table('app_public.user_roles', 'role assignment', policies => 'hand_written',
  write_permissions => '{users.manage}', delete_permissions => '{users.manage}');
