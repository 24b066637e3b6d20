--! Previous: sha1:f657ea6588d9f989c0fc81aae100c2b056defbde
--! Hash: sha1:6a2fe50b0552f465e3a31a8ca8d2d9e9c4a40e2c

--! split: 1-current.sql
/*
 * List indexes without "where not is_deleted". PostgREST sends `is_deleted=is.false` as
 * `is_deleted IS FALSE`, which the planner does not take as implying `NOT is_deleted`, so no list
 * filtered that way could use a partial index with that predicate: at 1,000,000 patients BOS's
 * appointments, newest first, sorted the hospital's 1.25M appointments for each page (1 request/s,
 * 12 s each). Soft-deleted rows are few, so the predicate saved nothing; it goes from every
 * non-unique index (the other terms stay: open documents by status, active doctors, …). Unique
 * indexes keep it: there it is the rule (unique among the rows not deleted).
 */
do $$
declare
  v_index record;
  v_predicate text;
begin
  for v_index in
    select i.indexrelid::regclass as name, pg_get_indexdef(i.indexrelid) as definition, pg_get_expr(i.indpred, i.indrelid) as predicate
      from pg_index i join pg_class t on t.oid = i.indrelid
     where t.relnamespace = 'app_public'::regnamespace and not i.indisunique
       and pg_get_expr(i.indpred, i.indrelid) ~ '\(NOT is_deleted\)'
       -- an index that backs a constraint (the exclusion constraint against double booking) is
       -- the rule itself, like a unique index: it keeps its predicate
       and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
  loop
    v_predicate := v_index.predicate;
    v_predicate := replace(v_predicate, ' AND (NOT is_deleted)', '');
    v_predicate := replace(v_predicate, '(NOT is_deleted) AND ', '');
    if v_predicate = '(NOT is_deleted)' then
      v_predicate := null;
    end if;
    if v_predicate ~ 'is_deleted' then
      raise exception 'index %: cannot take is_deleted out of %', v_index.name, v_index.predicate;
    end if;
    execute format('drop index %s', v_index.name);
    execute split_part(v_index.definition, ' WHERE ', 1) || coalesce(' WHERE ' || v_predicate, '');
  end loop;
end;
$$;
