--! Previous: sha1:13c333e298c5d497b9b8458fe8530ec14640338e
--! Hash: sha1:1bc90caa7b9eeab42635ab730fa817fbd478cbd2

--! split: 1-current.sql
-- Per-call lookups in PL/pgSQL.
--
-- A SQL function the planner cannot inline (security definer, or with a SET clause) is planned
-- again on every call; PL/pgSQL keeps its plans for the connection. These are called on every
-- booking, check-in, dispensing, payment and API write (the friendly-constraint check), so they
-- become PL/pgSQL with the same body, signature, attributes, comment and grants:
-- `return (<select>)` for a value, `return query <select>` for a set, the statement itself for
-- void. #variable_conflict use_column keeps SQL's rule that a column wins over a parameter name.
do $$
declare
  v_function regprocedure;
  v_body text;
  v_settings text;
  v_kind text;
begin
  foreach v_function in array array[
    'app_hidden.policies_may_admit(regclass, jsonb)',
    'app_hidden.hospital_today(uuid)',
    'app_hidden.hospital_local_date(uuid, timestamptz)',
    'app_hidden.doctor_schedule_slots(uuid, uuid, date)',
    'app_hidden.doctor_on_leave(uuid, uuid, timestamptz)',
    'app_hidden.doctor_slot_taken(uuid, uuid, timestamptz, timestamptz)',
    'app_hidden.is_day_settled(uuid, date)',
    'app_hidden.is_chain_level_account(uuid)',
    'app_hidden.my_hospital_ids()',
    'app_hidden.refresh_pharmacy_dispensing_totals(uuid)',
    'app_hidden.refresh_pharmacy_return_totals(uuid)',
    'app_hidden.refresh_optical_order_totals(uuid)']::regprocedure[] loop
    select rtrim(btrim(p.prosrc, ' ' || chr(10) || chr(9)), ';'),
           coalesce((select string_agg(format(' set %s = %s', split_part(c, '=', 1), substr(c, strpos(c, '=') + 1)), '') from unnest(p.proconfig) c), ''),
           case when p.proretset then 'set' when p.prorettype = 'void'::regtype then 'void' else 'value' end
      into v_body, v_settings, v_kind
      from pg_catalog.pg_proc p
     where p.oid = v_function and p.prolang = (select l.oid from pg_catalog.pg_language l where l.lanname = 'sql');
    continue when v_body is null;  -- PL/pgSQL already
    execute format('create or replace function %s(%s) returns %s language plpgsql %s %s%s as %L',
      v_function::oid::regproc, pg_catalog.pg_get_function_arguments(v_function), pg_catalog.pg_get_function_result(v_function),
      (select case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end
                || case when p.prosecdef then ' security definer' else '' end from pg_catalog.pg_proc p where p.oid = v_function),
      '', v_settings,
      '#variable_conflict use_column' || chr(10) || 'begin' || chr(10)
      || case v_kind when 'set' then '  return query ' || v_body || ';'
                     when 'void' then '  ' || v_body || ';'
                     else '  return (' || v_body || ');' end
      || chr(10) || 'end;');
  end loop;
end;
$$;
