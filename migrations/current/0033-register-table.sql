/*
 * One registration call per table (DESIGN.md §8, db/CONVENTIONS.md "Adding a table").
 *
 *   select app_hidden.register_table('app_public.<table>', '<entity in words>',
 *     read_permissions => '{…}', write_permissions => '{…}', delete_permissions => '{…}', …);
 *
 * applies everything a table of HMS has, from the catalog and the registries, so no section
 * repeats it and no table can forget it:
 *   conventions    comments of the standard columns; created_by/updated_by → users
 *   _000           append-only (history tables)
 *   _010_number    its document number, when app_hidden.document_types numbers the table
 *   _050/_110      soft delete (tables with is_deleted): a staff DELETE becomes is_deleted = true
 *   _100_stamp     created_at/created_by once, updated_at/updated_by on every write (tables with them)
 *   _150           the status machine, when app_hidden.status_transitions declares one
 *   _990           friendly constraint errors
 *   _900_audit     the audit trail (unless audited => false)
 *   access         RLS enabled and forced; for hospital-scoped tables (policies => 'generated') the
 *                  restrictive tenant policy, hide_deleted, the permissive permission policies and
 *                  column-listed grants from the access model (app_hidden.table_access); chain-level
 *                  and special tables (policies => 'hand_written') write their own policies and
 *                  grants right after the call (their write_permissions, when clients write them,
 *                  say who gets friendly constraint errors: see 0031).
 * It records the registration in app_hidden.table_registry. Re-running it is harmless: it drops
 * what it installs before installing it again. Declare the table's status machine
 * (declare_status_machine) and document type (0032-numbering) before registering it.
 *
 * Columns clients never write (no insert/update privilege, so PostgREST and PostGraphile answer
 * 403; security definer workflow RPCs, running as the owner, still write them): the tenant and
 * bookkeeping columns, soft-delete flags, the document number, every stamp column of the status
 * machine, and the table's protected_columns; on update also id and its immutable_columns.
 */

alter table app_hidden.table_access add column if not exists immutable_columns text[] not null default '{}';
comment on column app_hidden.table_access.immutable_columns is 'Columns clients set when they insert a row but never change afterwards.';
comment on column app_hidden.table_access.protected_columns is 'Columns clients never write (derived values, workflow results); workflow RPCs write them.';

/* The columns of a table a client may write: everything but what the conventions, the registries and the model protect. */
create or replace function app_hidden.client_writable_columns(p_table regclass, p_for_update boolean) returns text[]
language sql
stable
as $$
  with t as (select c.relname::text as name from pg_catalog.pg_class c where c.oid = p_table),
  closed as (
    select unnest(array['hospital_id', 'created_at', 'updated_at', 'created_by', 'updated_by', 'is_deleted', 'deleted_at']) as col
    union select d.column_name from app_hidden.document_types d, t where d.table_name = t.name
    union select unnest(array[s.stamp_at, s.stamp_by]) from app_hidden.status_transitions s, t where s.table_name = t.name
    union select unnest(a.protected_columns) from app_hidden.table_access a, t where a.table_name = t.name
    union select unnest(a.immutable_columns) from app_hidden.table_access a, t where a.table_name = t.name and p_for_update
    union select 'id' where p_for_update)
  select coalesce(array_agg(a.attname::text order by a.attnum), '{}')
    from pg_catalog.pg_attribute a
   where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
     and a.attname::text not in (select col from closed where col is not null);
$$;
comment on function app_hidden.client_writable_columns(regclass, boolean) is
  'Columns of a table API clients may insert (p_for_update false) or update: all but tenant, bookkeeping, soft-delete, number, status-stamp, protected (and on update id and immutable) columns.';

/* Comments of the standard columns and the created_by/updated_by keys (idempotent). */
create or replace function app_hidden.apply_table_conventions(p_table regclass) returns void
language plpgsql
volatile
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
end;
$$;
comment on function app_hidden.apply_table_conventions(regclass) is
  'Comments the standard columns of a table and links created_by/updated_by to users (idempotent); part of register_table.';

/* The generated access policies and grants of a hospital-scoped table, from its app_hidden.table_access row. */
create or replace function app_hidden.apply_access_policies(p_table regclass) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_access app_hidden.table_access;
  v_policy record;
  v_has_deleted boolean := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_deleted' and not a.attisdropped);
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
  'Generates the RLS policies and grants of a hospital-scoped table from its app_hidden.table_access row (re-runnable); part of register_table.';

/* Installs (or removes) one of the triggers register_table manages. */
create or replace function app_hidden.set_trigger(p_table regclass, p_name text, p_wanted boolean, p_definition text) returns void
language plpgsql
volatile
as $$
begin
  execute format('drop trigger if exists %I on %s', p_name, p_table);
  if p_wanted then
    execute format('create trigger %I %s', p_name, replace(p_definition, '%TABLE%', p_table::text));
  end if;
end;
$$;
comment on function app_hidden.set_trigger(regclass, text, boolean, text) is
  'Drops a trigger and, when wanted, creates it again from its definition (%TABLE% is the table): the idempotent step of register_table.';

create or replace function app_hidden.register_table(
  p_table regclass,
  entity text,
  read_permissions text[] default null,
  write_permissions text[] default '{}',
  delete_permissions text[] default '{}',
  write_mode text default 'read_write',
  protected_columns text[] default '{}',
  immutable_columns text[] default '{}',
  audited boolean default true,
  append_only boolean default false,
  policies text default 'generated'
) returns void
language plpgsql
volatile
as $$
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
  perform app_hidden.set_trigger(p_table, '_900_audit', register_table.audited,
    'after insert or update or delete on %TABLE% for each row execute function app_hidden.tg__audit()');

  execute format('alter table %s enable row level security, force row level security', p_table);
  if register_table.policies = 'generated' then
    perform app_hidden.apply_access_policies(p_table);
  end if;

  insert into app_hidden.table_registry as r
    (table_name, entity, hospital_scoped, soft_delete, audited, append_only, policies, write_permissions, constraint_probe)
  values (v_name, register_table.entity, v_scoped, v_soft, register_table.audited, register_table.append_only, register_table.policies,
          register_table.write_permissions, app_hidden.constraint_probe_sql(p_table))
  on conflict (table_name) do update
     set entity = excluded.entity, hospital_scoped = excluded.hospital_scoped, soft_delete = excluded.soft_delete,
         audited = excluded.audited, append_only = excluded.append_only, policies = excluded.policies,
         write_permissions = excluded.write_permissions, constraint_probe = excluded.constraint_probe;
end;
$$;
comment on function app_hidden.register_table(regclass, text, text[], text[], text[], text, text[], text[], boolean, boolean, text) is
  E'Registers an app_public table: conventions, number, stamps, soft delete, status machine, friendly constraint errors, audit, RLS and (for hospital-scoped tables) the generated tenant/permission policies and column-listed grants. Idempotent. See 0033-register-table.sql.';
