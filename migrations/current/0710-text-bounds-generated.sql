/*
 * Text bounds (0630) skip generated columns: patients.full_name is first, middle and last name
 * together, each bounded already; a bound of its own (200, the rule for names) would refuse
 * patients whose names are each valid.
 */
alter table app_public.patients drop constraint if exists patients_full_name_max_length;

create or replace function app_hidden.apply_table_conventions(p_table regclass)
 RETURNS void
 LANGUAGE plpgsql
AS $$
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
       and a.attgenerated = ''  -- a generated column is as long as its sources allow
       and not exists (select 1 from pg_catalog.pg_constraint k
                        where k.conrelid = p_table and k.conname = left(v_name || '_' || a.attname || '_max_length', 63))
  loop
    execute format('alter table %s add constraint %I check (char_length(%I) <= %s)',
                   p_table, v_column.constraint_name, v_column.name, v_column.max_length);
  end loop;
end;
$$;
select app_hidden.create_constraint_probe('app_public.patients');
