/*
 * Friendly constraint errors (DESIGN.md §10): a client never sees a raw SQLSTATE for a rule the
 * schema states.
 *
 * PostgreSQL checks NOT NULL and CHECK constraints after the BEFORE triggers, unique indexes
 * while it inserts, and foreign keys at the end of the statement — and raises 23502/23514/23505/
 * 23503 with the constraint's name, which PostgREST passes on as a 400/409 with that SQLSTATE.
 * Neither PostgREST nor PostGraphile can translate an error, so the database names the broken
 * rule first: the last BEFORE trigger of every registered table (_990_friendly_constraints) runs,
 * for API requests, one query built from the table's catalog at registration
 * (table_registry.constraint_probe) that returns the first constraint the final row would
 * break, and raises its registered code (app_hidden.constraint_errors) or the default of its kind:
 *
 *   NOT NULL          → 422 HMS_REQUIRED
 *   CHECK             → 422 HMS_INVALID_VALUE (hint: the column's comment, which lists what is allowed)
 *   unique            → 409 HMS_DUPLICATE
 *   foreign key       → 422 HMS_REFERENCE_NOT_FOUND (composite keys: the row does not exist in this hospital)
 *
 * The probe answers only writers the policies let through (the table's write permissions, their
 * own hospital's rows): PostgreSQL checks row-level security before constraints, so a writer
 * without the permission, or a row aimed at another hospital, still meets 42501 first.
 * The constraints themselves stay the guarantee: the probe only words the refusal. Unique values
 * are probed for client writes (workflow RPCs check their own, e.g. HMS_LAB_BARCODE_TAKEN, and
 * may insert … on conflict); two requests racing for the same unique value can still meet the
 * raw 23505 of the loser (the probe ran before the winner committed); exclusion constraints are left to the functions that insert into
 * them (book_appointment answers HMS_SLOT_TAKEN), and a direct write that breaks one answers
 * the raw 23P01. Writes without an API request (the owner, migrations, demo data) skip the probe
 * and meet the constraints directly, as before.
 */

/*
 * The probe of a table: one query over the row ($1) answering (kind, constraint name, columns) of
 * the first broken rule. Unique rules are probed only when $2 is true (see the trigger).
 */
create or replace function app_hidden.constraint_probe_sql(p_table regclass) returns text
language plpgsql
stable
-- The same path as the trigger that runs the probe: expressions are deparsed with every name qualified.
set search_path = pg_catalog, pg_temp
as $$
declare
  v_parts text[] := '{}';
  v record;
begin
  for v in
    select a.attname::text as name
      from pg_catalog.pg_attribute a
     where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped and a.attnotnull and a.attgenerated = ''
     order by a.attnum
  loop
    v_parts := v_parts || format('(%L, %L, array[%L], t.%I is not null)', 'not_null',
                                 pg_catalog.split_part(p_table::text, '.', 2) || '_' || v.name || '_not_null', v.name, v.name);
  end loop;

  for v in
    select c.conname::text as name, pg_catalog.pg_get_expr(c.conbin, c.conrelid) as expr,
           array(select a.attname::text from unnest(c.conkey) k join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k) as cols
      from pg_catalog.pg_constraint c
     where c.conrelid = p_table and c.contype = 'c'
     order by c.conname
  loop
    v_parts := v_parts || format('(%L, %L, %L::text[], (%s) is not false)', 'check', v.name, v.cols, v.expr);
  end loop;

  -- Unique constraints and unique indexes on plain columns (expression indexes are left to PostgreSQL).
  for v in
    select ic.relname::text as name, i.indnullsnotdistinct as nulls_not_distinct,
           pg_catalog.pg_get_expr(i.indpred, i.indrelid) as predicate,
           array(select a.attname::text from unnest(i.indkey::int2[]) with ordinality k(attnum, n)
                   join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
                  where k.n <= i.indnkeyatts order by k.n) as cols
      from pg_catalog.pg_index i
      join pg_catalog.pg_class ic on ic.oid = i.indexrelid
     where i.indrelid = p_table and i.indisunique and not i.indisprimary
       and i.indexprs is null and 0 <> all (i.indkey::int2[])
     order by ic.relname
  loop
    v_parts := v_parts || format('(%L, %L, %L::text[], not $2 or %s not exists (select 1 from %s x where x.id is distinct from t.id and %s%s))',
      'unique', v.name, v.cols,
      case when v.predicate is not null then format('(%s) is not true or', v.predicate) else '' end,
      p_table,
      (select string_agg(format(case when v.nulls_not_distinct then 'x.%1$I is not distinct from t.%1$I' else 'x.%1$I = t.%1$I' end, c), ' and ')
         from unnest(v.cols) c),
      case when v.predicate is not null then format(' and (%s)', v.predicate) else '' end);
  end loop;

  for v in
    select c.conname::text as name, c.confrelid::regclass as target,
           array(select a.attname::text from unnest(c.conkey) with ordinality k(attnum, n)
                   join pg_catalog.pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum order by k.n) as cols,
           array(select a.attname::text from unnest(c.confkey) with ordinality k(attnum, n)
                   join pg_catalog.pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum order by k.n) as target_cols
      from pg_catalog.pg_constraint c
     where c.conrelid = p_table and c.contype = 'f'
     order by c.conname
  loop
    v_parts := v_parts || format('(%L, %L, %L::text[], %s or exists (select 1 from %s r where %s))',
      'foreign_key', v.name, v.cols,
      (select string_agg(format('t.%I is null', c), ' or ') from unnest(v.cols) c),
      v.target,
      (select string_agg(format('r.%I = t.%I', v.target_cols[n], v.cols[n]), ' and ') from generate_subscripts(v.cols, 1) n));
  end loop;

  if cardinality(v_parts) = 0 then
    return null;
  end if;
  return format(E'select v.kind, v.name, v.columns\n  from (select ($1).*) t\n cross join lateral (values\n    %s\n ) v(kind, name, columns, ok)\n where not v.ok\n limit 1',
                array_to_string(v_parts, E',\n    '));
end;
$$;
comment on function app_hidden.constraint_probe_sql(regclass) is
  'Builds the friendly-constraint probe of a table from its catalog: NOT NULL, CHECK, unique and foreign-key rules evaluated on one row.';

/* Raises the friendly error of a broken constraint: its registered code and message, or the default of its kind. */
create or replace function app_hidden.raise_constraint_error(p_table regclass, p_kind text, p_constraint text, p_columns text[]) returns void
language plpgsql
volatile
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
begin
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
comment on function app_hidden.raise_constraint_error(regclass, text, text, text[]) is
  'Raises the friendly error of a broken constraint (app_hidden.constraint_errors, else the default code and sentence of its kind).';

/* BEFORE INSERT OR UPDATE, last of the BEFORE triggers (_990_friendly_constraints), for API requests. */
create or replace function app_hidden.tg__friendly_constraints() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_probe text;
  v_kind text;
  v_name text;
  v_columns text[];
begin
  if nullif(current_setting('request.jwt.claims', true), '') is null then
    return NEW;  -- the owner, migrations, demo data: the constraints answer themselves
  end if;
  -- Only a writer the policies will let through hears which rule the row breaks: PostgreSQL
  -- checks row-level security before constraints, and so must the probe (a row of another
  -- hospital, or a writer without the permission, meets 42501 first and learns nothing).
  if not app_hidden.policies_may_admit(TG_RELID, to_jsonb(NEW)) then
    return NEW;
  end if;
  select r.constraint_probe into v_probe from app_hidden.table_registry r where r.table_name = TG_TABLE_NAME;
  if v_probe is not null then
    -- Unique values are probed for the rows a client writes itself (not for rows written on its
    -- behalf by a trigger or a workflow), and not for an upsert: an INSERT … ON CONFLICT
    -- (PostgREST's resolution=merge-duplicates) meets its duplicate on purpose.
    execute v_probe into v_kind, v_name, v_columns
      using NEW, not app_hidden.is_trusted_writer() and pg_trigger_depth() = 1 and current_query() !~* '\mon\s+conflict\M';
    if v_kind is not null then
      perform app_hidden.raise_constraint_error(TG_RELID, v_kind, v_name, v_columns);
    end if;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__friendly_constraints() is
  'BEFORE INSERT/UPDATE (_990_friendly_constraints): for API requests, answers the first constraint the row would break with its HMS_* code instead of the raw SQLSTATE.';
