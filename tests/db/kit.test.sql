-- The kit is applied to every table, from its registries (db/schema/app_hidden/functions/register_table.sql
-- and its neighbours; the registries are db/schema/app_hidden/tables/): every
-- app_public table is registered, its registration is current with its catalog, it carries
-- exactly the triggers its registry entries call for, and no module keeps a dialect of its own.
begin;
select plan(16);

select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and c.relname not in (select r.table_name from app_hidden.table_registry r)
         order by 1),
  '{}'::text[], 'every app_public table is registered (app_hidden.register_table)');

select is(
  array(select r.table_name from app_hidden.table_registry r
         where not exists (select 1 from pg_proc p
                            where p.pronamespace = 'app_hidden'::regnamespace and p.proname = 'constraint_probe__' || r.table_name
                              and strpos(p.prosrc, coalesce(app_hidden.constraint_probe_sql(('app_public.' || r.table_name)::regclass, 'own'), 'where false')) > 0
                              and strpos(p.prosrc, coalesce(app_hidden.constraint_probe_sql(('app_public.' || r.table_name)::regclass, 'other'), 'where false')) > 0)
         order by 1),
  '{}'::text[], 'every registration is current: its constraint probe matches the table''s constraints (re-register after altering a table)');

-- The triggers a registration installs, by what the catalog and the registries say.
create temporary table expected_trigger as
select r.table_name, t.name, t.wanted
  from app_hidden.table_registry r
  cross join lateral (values
    ('_000_append_only', r.append_only),
    ('_000_append_only_truncate', r.append_only),
    ('_010_number', exists (select 1 from app_hidden.document_types d where d.table_name = r.table_name)),
    ('_050_soft_delete', r.soft_delete),
    ('_100_stamp', exists (select 1 from pg_attribute a where a.attrelid = ('app_public.' || r.table_name)::regclass and a.attname = 'updated_by')),
    ('_110_soft_delete', r.soft_delete),
    ('_150_status_machine', exists (select 1 from app_hidden.status_transitions s where s.table_name = r.table_name)),
    ('_900_audit', r.audited),
    ('_990_friendly_constraints', true)) t(name, wanted);
select is(
  array(select e.table_name || '.' || e.name || case when e.wanted then ' missing' else ' unexpected' end
          from expected_trigger e
         where e.wanted <> exists (select 1 from pg_trigger g
                                    where g.tgrelid = ('app_public.' || e.table_name)::regclass and g.tgname = e.name and not g.tgisinternal)
         order by 1),
  '{}'::text[], 'every table carries exactly the kit triggers its registration calls for');

select is(
  array(select g.tgrelid::regclass::text || '.' || g.tgname from pg_trigger g
          join pg_class c on c.oid = g.tgrelid and c.relnamespace = 'app_public'::regnamespace
         where not g.tgisinternal and g.tgname in (select name from expected_trigger)
           and g.tgfoid <> (case g.tgname
                              when '_000_append_only' then 'app_hidden.tg__append_only'::regproc
                              when '_000_append_only_truncate' then 'app_hidden.tg__append_only'::regproc
                              when '_010_number' then 'app_hidden.tg__assign_number'::regproc
                              when '_050_soft_delete' then 'app_hidden.tg__soft_delete'::regproc
                              when '_100_stamp' then 'app_hidden.tg__stamp'::regproc
                              when '_110_soft_delete' then 'app_hidden.tg__soft_delete_stamp'::regproc
                              when '_150_status_machine' then 'app_hidden.tg__status_machine'::regproc
                              when '_900_audit' then 'app_hidden.tg__audit'::regproc
                              when '_990_friendly_constraints' then 'app_hidden.tg__friendly_constraints'::regproc end)::oid
         order by 1),
  '{}'::text[], 'the kit''s trigger names run the kit''s functions (one append-only, one number, one status machine, …)');

select is(
  array(select r.table_name from app_hidden.table_registry r
         where (r.policies = 'generated') <> exists (select 1 from app_hidden.table_access a where a.table_name = r.table_name)
         order by 1),
  '{}'::text[], 'generated policies come from an access-model row, and only they do');

select is(
  array(select r.table_name || ': ' || coalesce(array_to_string(array(
                 select p.polname::text from pg_policy p where p.polrelid = ('app_public.' || r.table_name)::regclass order by 1), ','), '')
          from app_hidden.table_registry r
          join app_hidden.table_access a on a.table_name = r.table_name
         where array(select p.polname::text from pg_policy p where p.polrelid = ('app_public.' || r.table_name)::regclass order by 1)
               <> array(select x from unnest(array[
                          'delete_with_permission', 'hide_confidential', 'hide_deleted', 'insert_with_permission', 'select_with_permission',
                          'tenant_isolation', 'update_with_permission']) x
                         where (x <> 'hide_deleted' or r.soft_delete)
                           and (x <> 'hide_confidential' or exists (select 1 from pg_attribute c where c.attrelid = ('app_public.' || r.table_name)::regclass
                                                                       and c.attname = 'is_confidential' and not c.attisdropped))
                           and (x <> 'delete_with_permission' or a.delete_permissions <> '{}')
                           and (x <> 'insert_with_permission' or (a.write_mode in ('read_write', 'insert_only') and a.write_permissions <> '{}'))
                           and (x <> 'update_with_permission' or (a.write_mode in ('read_write', 'update_only') and a.write_permissions <> '{}'))
                         order by 1)
         order by 1),
  '{}'::text[], 'a table with generated policies has exactly the policies its access model generates, no hand-added one');

select is(
  array(select r.table_name from app_hidden.table_registry r
         where r.policies = 'hand_written'
           and not exists (select 1 from pg_policy p where p.polrelid = ('app_public.' || r.table_name)::regclass)
         order by 1),
  '{}'::text[], 'a table with hand-written policies has some');

-- Columns the registries protect are never client-writable.
select is(
  array(select s.table_name || '.' || c from app_hidden.status_transitions s
         cross join lateral unnest(array[s.stamp_at, s.stamp_by]) c
         where c is not null
           and (has_column_privilege('hms_staff', ('app_public.' || s.table_name)::regclass, c, 'INSERT')
                or has_column_privilege('hms_staff', ('app_public.' || s.table_name)::regclass, c, 'UPDATE'))
         group by 1 order by 1),
  '{}'::text[], 'no client writes a stamp of a status step (who and when come from the session)');
select is(
  array(select d.table_name || '.' || d.column_name from app_hidden.document_types d
         where has_column_privilege('hms_staff', ('app_public.' || d.table_name)::regclass, d.column_name, 'INSERT')
            or has_column_privilege('hms_staff', ('app_public.' || d.table_name)::regclass, d.column_name, 'UPDATE')
         order by 1),
  '{}'::text[], 'no client writes a document number');
select is(
  array(select a.table_name || '.' || c from app_hidden.table_access a cross join lateral unnest(a.protected_columns) c
         where has_column_privilege('hms_staff', ('app_public.' || a.table_name)::regclass, c, 'INSERT')
            or has_column_privilege('hms_staff', ('app_public.' || a.table_name)::regclass, c, 'UPDATE')
        union all
        select a.table_name || '.' || c from app_hidden.table_access a cross join lateral unnest(a.immutable_columns) c
         where has_column_privilege('hms_staff', ('app_public.' || a.table_name)::regclass, c, 'UPDATE')
         order by 1),
  '{}'::text[], 'protected columns are never client-written, immutable ones never changed');

select is(
  array(select s.table_name || ': ' || coalesce(s.from_status, 'new') || ' -> ' || s.to_status
          from app_hidden.status_transitions s
         where not exists (select 1 from pg_constraint k
                            where k.conrelid = ('app_public.' || s.table_name)::regclass and k.contype = 'c'
                              and k.conname = s.table_name || '_status_check'
                              and pg_get_constraintdef(k.oid) like '%''' || s.to_status || '''%')
         order by 1),
  '{}'::text[], 'every status a machine declares is one its table''s status CHECK allows');

-- One workflow mark, one gate, one clock: no function reads a module-named mark or a private copy.
select is(
  array(select p.oid::regprocedure::text from pg_proc p
         where p.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
           and p.prosrc ~ 'hms\.workflow'''
         order by 1),
  '{}'::text[], 'no function reads or sets a module''s own workflow mark (hms.workflow): one mark, in_workflow()');
select is(
  array(select p.oid::regprocedure::text from pg_proc p
         where p.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
           and p.proname ~ '(_require|_begin|_not_found|_for_update|_trusted_writer|_workflow_on|_workflow_off|_workflow_active|_assert_transition|_transitions|_transition_allowed|_transition_error|^sc_|^lock_(prescription|lab_order)$|_lock_(invoice|refund|claim|order|purchase_order|adjustment|cycle_count)$|_append_only$)'
           -- the kit's own: the one append-only trigger, the machine's allowed steps, the trusted-writer test
           and p.oid not in ('app_hidden.tg__append_only()'::regprocedure, 'app_hidden.allowed_transitions(text,text)'::regprocedure,
                             'app_hidden.is_trusted_writer()'::regprocedure)
         order by 1),
  '{}'::text[], 'no module keeps a gate, lock-or-404, transition check, workflow mark or append-only trigger of its own');
select is(
  array(select p.oid::regprocedure::text from pg_proc p
         where p.pronamespace = 'app_public'::regnamespace
           and p.prokind = 'f' and p.provolatile = 'v'
           and p.prorettype = 'json'::regtype
           and p.proname not in ('login', 'refresh', 'logout', 'switch_hospital', 'change_password',
                                 'request_password_reset', 'set_password_with_token')
         order by 1),
  '{}'::text[], 'every workflow RPC returns rows of its table (only the identity RPCs answer token or session JSON)');

-- Every helper in app_hidden and app_private is used: by a function, a trigger, a policy, a default
-- or a constraint — or it is one of the entry points named here (the kit's registration API and
-- partition_by_month, which migrations call; create_partitions_ahead, which npm start calls; the
-- functions granted to the worker's role, which its tasks call; and PostgREST's pre-request
-- check). A dialect left behind shows up here.
select is(
  array(select p.oid::regprocedure::text
          from pg_proc p
         where p.pronamespace in ('app_hidden'::regnamespace, 'app_private'::regnamespace)
           and p.proname not in ('check_request', 'register_table', 'reregister_table', 'declare_status_machine', 'lock_document', 'refresh_totals_from',
                                 'register_error_codes', 'partition_by_month', 'create_partitions_ahead')
           and not has_function_privilege('hms_worker', p.oid, 'execute')
           -- the generated probes, which the friendly-constraint trigger calls by the table's name
           and p.proname !~ '^constraint_probe__'
           and not exists (select 1 from pg_proc q
                            where q.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
                              and q.oid <> p.oid
                              and q.prosrc ~ (p.pronamespace::regnamespace::text || '\.' || p.proname || '\s*\('))
           and not exists (select 1 from pg_trigger t
                            where t.tgfoid = p.oid
                               or encode(t.tgargs, 'escape') ~ (p.pronamespace::regnamespace::text || '\.' || p.proname || '\M'))
           and not exists (select 1 from pg_policy po
                            where coalesce(pg_get_expr(po.polqual, po.polrelid), '') || coalesce(pg_get_expr(po.polwithcheck, po.polrelid), '')
                                  ~ (p.pronamespace::regnamespace::text || '\.' || p.proname || '\('))
           and not exists (select 1 from pg_attrdef d where pg_get_expr(d.adbin, d.adrelid) ~ (p.pronamespace::regnamespace::text || '\.' || p.proname || '\('))
           and not exists (select 1 from pg_constraint k where k.contype = 'c' and pg_get_constraintdef(k.oid) ~ (p.pronamespace::regnamespace::text || '\.' || p.proname || '\('))
         order by 1),
  '{}'::text[], 'every helper of app_hidden and app_private is used (no dialect left behind)');

select is(
  array(select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'app_hidden'::regnamespace and p.proname = 'raise_error'),
  array['app_hidden.raise_error(text,text,jsonb,text)'], 'raise_error has one signature: (code, message, details, hint), the status in the registry');

select * from finish();
rollback;
