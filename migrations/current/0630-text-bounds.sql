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
