-- Friendly constraint errors (db/schema/app_hidden/functions/tg__friendly_constraints.sql,
-- constraint_probe_sql.sql, raise_constraint_error.sql): a write of staff that breaks a rule the
-- schema states answers an HMS_* code instead of a raw SQLSTATE — but only to a writer the
-- policies would let through; everyone else, and the owner, meets PostgreSQL itself. (Upserts
-- are tested over REST, tests/api/friendly-errors.test.ts: the probe recognises one by its
-- statement, and this file reaches the server as one message.)
begin;
select plan(16);

-- Fixtures: a department of NY and one of LA, as the owner.
insert into app_public.departments (id, hospital_id, code, name) values
  ('6a100000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'ZZFRIEND', 'Friendly errors'),
  ('6a100000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', 'ZZFRIEND', 'Friendly errors LA');

-- NY's hospital admin (settings.manage writes departments).
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.try($$insert into app_public.departments (code) values ('ZZNONAME')$$, true), 'HMS_REQUIRED/422',
  'a missing required value: 422 HMS_REQUIRED');
select is(tests.try($$insert into app_public.departments (code, name, department_type) values ('ZZBAD', 'Bad', 'banana')$$, true),
  'HMS_INVALID_VALUE/422', 'a value a CHECK refuses: 422 HMS_INVALID_VALUE');
select is(tests.try($$insert into app_public.departments (code, name) values ('ZZFRIEND', 'Again')$$, true), 'HMS_DUPLICATE/409',
  'a duplicate of a unique value in the hospital: 409 HMS_DUPLICATE');
select is(tests.try($$insert into app_public.departments (code, name, parent_department_id) values ('ZZCHILD', 'Child', '6a100000-0000-4000-8000-000000000002')$$, true),
  'HMS_REFERENCE_NOT_FOUND/422', 'a reference to another hospital''s row (composite key): 422 HMS_REFERENCE_NOT_FOUND');
select is(tests.try($$update app_public.departments set name = ' ' where id = '6a100000-0000-4000-8000-000000000001'$$), 'HMS_INVALID_VALUE',
  'an update is probed too');

-- The answer names the rule and, for a CHECK of one column, repeats its documentation as the hint.
select tests.clear_authentication();
-- The body an API client gets for a statement run as NY's hospital admin.
create function pg_temp.error_body(p_sql text) returns jsonb language plpgsql as $$
declare
  v_message text;
begin
  perform tests.authenticate_as('admin.ny@hms.test');
  begin
    execute p_sql;
  exception when sqlstate 'PGRST' then
    get stacked diagnostics v_message = message_text;
  end;
  perform tests.clear_authentication();
  return v_message::jsonb;
end;
$$;
select is(
  (select jsonb_build_object('details', (b ->> 'details')::jsonb, 'hint', b ->> 'hint')
     from pg_temp.error_body($$insert into app_public.departments (code, name, department_type) values ('ZZBAD', 'Bad', 'banana')$$) b),
  jsonb_build_object('details', jsonb_build_object('table', 'departments', 'constraint', 'departments_department_type_check', 'columns', jsonb_build_array('department_type')),
                     'hint', col_description('app_public.departments'::regclass,
                                             (select attnum from pg_attribute where attrelid = 'app_public.departments'::regclass and attname = 'department_type'))),
  'details name the table, constraint and columns; the hint is the column''s documentation');
select is((pg_temp.error_body($$insert into app_public.departments (code, name) values ('ZZFRIEND', 'Again')$$)) ->> 'message',
  'A department with this code already exists.', 'the message says it in words');

-- A constraint with a registered message answers it.
insert into app_hidden.constraint_errors (constraint_name, code, message)
values ('departments_not_own_parent_check', 'HMS_INVALID_INPUT', 'A department cannot sit under itself.');
select is((pg_temp.error_body($$update app_public.departments set parent_department_id = id where id = '6a100000-0000-4000-8000-000000000001'$$)) - 'details' - 'hint',
  '{"code": "HMS_INVALID_INPUT", "message": "A department cannot sit under itself."}'::jsonb,
  'a registered constraint answers its own code and message (app_hidden.constraint_errors)');
select tests.authenticate_as('admin.ny@hms.test');
select tests.clear_authentication();

-- Writers the policies refuse meet row-level security first, as without the probe.
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try($$insert into app_public.departments (code) values ('ZZNONAME')$$), 'HMS_FORBIDDEN',
  'without the table''s write permission: HMS_FORBIDDEN, not the broken rule');
select is(tests.try($$insert into app_public.departments (code, name) values ('ZZFRIEND', 'Again')$$), 'HMS_FORBIDDEN',
  '… nor whether the value exists');
select tests.clear_authentication();
select tests.authenticate_as('admin.ny@hms.test');
-- user_roles lets a holder of users.manage name the hospital; a role of LA is refused by its policy first.
select is(tests.try($$insert into app_public.user_roles (hospital_id) values ('10000000-0000-4000-8000-000000000002')$$), 'E:42501',
  'a row aimed at another hospital: 42501 before any rule');
select tests.clear_authentication();

-- The owner (migrations, demo data) meets PostgreSQL's own errors.
select throws_ok($$insert into app_public.departments (hospital_id, code) values ('10000000-0000-4000-8000-000000000001', 'ZZNONAME')$$,
  '23502', null, 'the owner meets the raw NOT NULL violation');
select throws_ok($$insert into app_public.departments (hospital_id, code, name, department_type) values ('10000000-0000-4000-8000-000000000001', 'ZZBAD', 'Bad', 'banana')$$,
  '23514', null, 'the owner meets the raw CHECK violation');

-- Through a workflow RPC the probe speaks too (it writes as the owner, inside a request).
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try($$select app_public.book_appointment('d1000000-0000-4000-8000-000000000011', 'd1100000-0000-4000-8000-000000000001', now() + interval '1 day', visit_type => 'banana')$$),
  'HMS_INVALID_INPUT', 'a workflow validates its own arguments first (its own code)');
select tests.clear_authentication();

-- Every registered table's probe runs (a syntax or reference error would surface here, not in a
-- request): each is executed on an empty row of its table, which breaks its first NOT NULL rule.
create function pg_temp.probe_failures() returns text[] language plpgsql as $$
declare
  v record;
  v_kind text;
  v_failures text[] := '{}';
begin
  for v in select r.table_name from app_hidden.table_registry r order by 1 loop
    begin
      execute format('select p.kind from app_hidden.%I(null::app_public.%I, true) p', 'constraint_probe__' || v.table_name, v.table_name)
         into v_kind;
      if v_kind is distinct from 'not_null' then
        v_failures := v_failures || (v.table_name || ': answered ' || coalesce(v_kind, 'nothing') || ' for an empty row');
      end if;
    exception when others then
      v_failures := v_failures || (v.table_name || ': ' || sqlerrm);
    end;
  end loop;
  return v_failures;
end;
$$;
select is(pg_temp.probe_failures(), '{}'::text[], 'every table''s probe runs and names the first rule an empty row breaks');
select is(
  array(select r.table_name from app_hidden.table_registry r
         where to_regprocedure(format('app_hidden.constraint_probe__%s(app_public.%s, boolean)', r.table_name, r.table_name)) is null
         order by 1),
  '{}'::text[], 'every registered table has its probe function');

select * from finish();
rollback;
