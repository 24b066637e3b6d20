-- The error registry and the one error helper (app_hidden.error_codes, app_hidden.raise_error —
-- db/schema/app_hidden/functions/raise_error.sql): the exact message and detail PostgREST turns
-- into {code, message, details, hint} and an HTTP status looked up in the registry; "details" must
-- be text (PostgREST 12 answers 500 otherwise). Every code a function can raise is registered,
-- and every registered code is raised somewhere, so db/error_codes.md (generated from the
-- registry) lists exactly what clients can meet.
begin;
select plan(12);

create function pg_temp.raised(p_sql text) returns jsonb language plpgsql as $$
declare
  v_state text; v_message text; v_detail text;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics v_state = returned_sqlstate, v_message = message_text, v_detail = pg_exception_detail;
  return jsonb_build_object('sqlstate', v_state, 'message', case when v_state = 'PGRST' then v_message::jsonb else to_jsonb(v_message) end,
                            'detail', case when v_state = 'PGRST' then v_detail::jsonb end);
end;
$$;

insert into app_hidden.error_codes (code, http_status, module, meaning)
values ('HMS_TEST_CONFLICT', 409, 'tests', 'A code registered by this test only.');

select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST_CONFLICT', 'A sentence.')$$)) ->> 'sqlstate', 'PGRST',
          'raised with sqlstate PGRST');
select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST_CONFLICT', 'A sentence.')$$)) -> 'detail' -> 'status', '409'::jsonb,
          'the detail carries the HTTP status of the registry');
update app_hidden.error_codes set http_status = 422 where code = 'HMS_TEST_CONFLICT';
select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST_CONFLICT', 'A sentence.')$$)) -> 'detail' -> 'status', '422'::jsonb,
          '… and follows the registry when it changes');
select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST_CONFLICT', 'A sentence.', null::jsonb, 'Try this.')$$)) -> 'message',
          '{"code": "HMS_TEST_CONFLICT", "message": "A sentence.", "details": null, "hint": "Try this."}'::jsonb,
          'the message is {code, message, details, hint}');
select is(jsonb_typeof((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST_CONFLICT', 'x', '{"a": [1, 2]}')$$)) -> 'message' -> 'details'),
          'string', 'structured details travel as JSON text');
select is(((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST_CONFLICT', 'x', '{"a": [1, 2]}')$$)) -> 'message' ->> 'details')::jsonb,
          '{"a": [1, 2]}'::jsonb, 'and parse back to the same value');
select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST_CONFLICT', 'x', to_jsonb('plain words'::text))$$)) -> 'message' ->> 'details',
          'plain words', 'a string detail stays a plain string');
select is(pg_temp.raised($$select app_hidden.raise_error('HMS_NOBODY_REGISTERED_THIS', 'x')$$),
          jsonb_build_object('sqlstate', 'P0001', 'message', 'HMS error code HMS_NOBODY_REGISTERED_THIS is not registered in app_hidden.error_codes', 'detail', null),
          'an unregistered code is a programming error: an internal error naming the missing registration');
select is(jsonb_typeof((pg_temp.raised($$select app_hidden.hms_generate_id('10000000-0000-4000-8000-000000000001', 'bogus')$$)) -> 'message' -> 'details'),
          'string', 'HMS_ID_TYPE_UNKNOWN sends its known types as text');

-- Every HMS_ code written in a function body (raised, returned by error_response, or chosen as a
-- default) is registered …
select is(
  array(select distinct m[1]
          from pg_proc p cross join lateral regexp_matches(p.prosrc, '''(HMS_[A-Z][A-Z0-9_]*[A-Z0-9])''', 'g') m
         where p.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
        except select e.code from app_hidden.error_codes e
         order by 1),
  '{}'::text[], 'every code a function can raise is in the registry');
-- … and every registered code can be raised (by a function, or by a constraint's friendly error).
select is(
  array(select e.code from app_hidden.error_codes e
         where e.module <> 'tests'
           and not exists (select 1 from pg_proc p
                            where p.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
                              and p.prosrc like '%''' || e.code || '''%')
           and not exists (select 1 from app_hidden.constraint_errors c where c.code = e.code)
           -- … or by the front, which answers raw errors and its own refusals through app_hidden.raw_errors
           -- (tests/api/front.test.ts meets every row over HTTP).
           and not exists (select 1 from app_hidden.raw_errors r where r.code = e.code)
         order by 1),
  '{}'::text[], 'every registered code is raised somewhere');
-- The status comes from the registry: no call passes one any more.
select is(
  array(select p.oid::regprocedure::text
          from pg_proc p
         where p.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
           and p.prosrc ~ 'raise_error\(\s*''HMS_[A-Z0-9_]+''\s*,\s*(''([^'']|'''')*''|E''([^'']|'''')*''|format\([^;]*?\))\s*,\s*[0-9]{3}\s*[,)]'
         order by 1),
  '{}'::text[], 'no function passes an HTTP status to raise_error (the registry has it)');

select * from finish();
rollback;
