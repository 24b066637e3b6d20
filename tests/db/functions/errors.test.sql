-- The one error helper: the exact message and detail PostgREST turns into {code, message,
-- details, hint} and an HTTP status. "details" must be text (PostgREST 12 answers 500 otherwise).
begin;
select plan(7);

create function pg_temp.raised(p_sql text) returns jsonb language plpgsql as $$
declare
  v_state text; v_message text; v_detail text;
begin
  execute p_sql;
  return null;
exception when others then
  get stacked diagnostics v_state = returned_sqlstate, v_message = message_text, v_detail = pg_exception_detail;
  return jsonb_build_object('sqlstate', v_state, 'message', v_message::jsonb, 'detail', v_detail::jsonb);
end;
$$;

select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST', 'A sentence.', 409)$$)) ->> 'sqlstate', 'PGRST',
          'raised with sqlstate PGRST');
select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST', 'A sentence.', 409)$$)) -> 'detail' -> 'status', '409'::jsonb,
          'the detail carries the HTTP status');
select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST', 'A sentence.', 409, null, 'Try this.')$$)) -> 'message',
          '{"code": "HMS_TEST", "message": "A sentence.", "details": null, "hint": "Try this."}'::jsonb,
          'the message is {code, message, details, hint}');
select is(jsonb_typeof((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST', 'x', 422, '{"a": [1, 2]}')$$)) -> 'message' -> 'details'),
          'string', 'structured details travel as JSON text');
select is(((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST', 'x', 422, '{"a": [1, 2]}')$$)) -> 'message' ->> 'details')::jsonb,
          '{"a": [1, 2]}'::jsonb, 'and parse back to the same value');
select is((pg_temp.raised($$select app_hidden.raise_error('HMS_TEST', 'x', 422, to_jsonb('plain words'::text))$$)) -> 'message' ->> 'details',
          'plain words', 'a string detail stays a plain string');
select is(jsonb_typeof((pg_temp.raised($$select app_hidden.hms_generate_id('10000000-0000-4000-8000-000000000001', 'bogus')$$)) -> 'message' -> 'details'),
          'string', 'HMS_ID_TYPE_UNKNOWN sends its known types as text');

select * from finish();
rollback;
