-- Helpers for pgTAP files, installed into the throwaway test database only (never migrated), as
-- the schema owner: switching identity the way PostgREST does (role + request.jwt.claims, with a
-- real session), running a statement and answering its outcome, and stopping the clock.
-- tests/db/support/helpers.test.sql tests them.
create schema if not exists tests;
grant usage on schema tests to public;

/**
 * tests.authenticate_as('doctor.ny@hms.test', 'NY') — act as that user in that hospital for the
 * rest of the transaction: opens a live session, then sets the staff role and the claims a
 * verified token would carry. Without a hospital code: the user's home hospital.
 */
create or replace function tests.authenticate_as(p_email text, p_hospital_code text default null) returns uuid
language plpgsql
as $$
declare
  v_user app_public.users;
  v_hospital_id uuid;
  v_session_id uuid;
begin
  perform set_config('role', 'none', true);
  select * into strict v_user from app_public.users where email = p_email;
  v_hospital_id := coalesce((select id from app_public.hospitals where code = p_hospital_code), v_user.home_hospital_id);
  insert into app_private.sessions (user_id, hospital_id, expires_at)
  values (v_user.id, v_hospital_id, now() + interval '1 hour')
  returning id into v_session_id;
  perform set_config('request.jwt.claims',
    json_build_object('role', 'hms_staff', 'sub', v_user.id, 'sid', v_session_id, 'hid', v_hospital_id, 'aud', 'hms')::text, true);
  perform set_config('role', 'hms_staff', true);
  return v_session_id;
end;
$$;

/** tests.authenticate_as_anonymous() — a request without a token. */
create or replace function tests.authenticate_as_anonymous() returns void
language plpgsql
as $$
begin
  perform set_config('request.jwt.claims', '', true);
  perform set_config('role', 'hms_anonymous', true);
end;
$$;

/** tests.clear_authentication() — back to the owner (the test file's own role). */
create or replace function tests.clear_authentication() returns void
language plpgsql
as $$
begin
  perform set_config('role', 'none', true);
  perform set_config('request.jwt.claims', '', true);
end;
$$;

/**
 * tests.try($$<one statement>$$) — runs the statement as whoever is authenticated now (after
 * tests.authenticate_as / tests.authenticate_as_anonymous, or the owner after
 * tests.clear_authentication) and answers what became of it:
 *   'ok'            it ran; its effects stay in the test's transaction (the next line sees them);
 *   'HMS_…'         a business error (sqlstate PGRST, message JSON with a code) — with
 *                   p_with_status, 'HMS_…/<HTTP status>' (e.g. 'HMS_FORBIDDEN/403');
 *   'E:<sqlstate>'  any other error (E:42501: refused by a privilege or a policy).
 * A statement that fails is rolled back (the exception block is a subtransaction), so it writes
 * nothing, as an API request would. To undo a successful statement as well, call tests.try in a
 * block that raises afterwards (the isolation matrix does). The identity is left as it was.
 */
create or replace function tests.try(p_sql text, p_with_status boolean default false) returns text
language plpgsql
as $$
declare
  v_state text;
  v_message text;
  v_detail text;
begin
  execute p_sql;
  return 'ok';
exception when others then
  get stacked diagnostics v_state = returned_sqlstate, v_message = message_text, v_detail = pg_exception_detail;
  if v_state = 'PGRST' then
    return (v_message::jsonb ->> 'code') || case when p_with_status then '/' || (v_detail::jsonb ->> 'status') else '' end;
  end if;
  return 'E:' || v_state;
end;
$$;

/**
 * tests.call($$select app_public.submit_claim(…)$$) — runs a query as whoever is authenticated
 * now and answers the first column of its first row as jsonb (wrap a row as
 * `select to_jsonb(r) from (…) r`). Errors are not caught: a call the test expects to succeed.
 */
create or replace function tests.call(p_sql text) returns jsonb
language plpgsql
as $$
declare
  v_value jsonb;
begin
  execute p_sql into v_value;
  return v_value;
end;
$$;

/**
 * tests.try_as('nurse.ny@hms.test', $$…$$) and tests.call_as(…) — tests.try / tests.call as that
 * member of staff (home hospital; null: as the owner, i.e. without a session), back to the owner
 * afterwards: one request of one person.
 */
create or replace function tests.try_as(p_email text, p_sql text, p_with_status boolean default false) returns text
language plpgsql
as $$
declare
  v_outcome text;
begin
  if p_email is not null then
    perform tests.authenticate_as(p_email);
  end if;
  v_outcome := tests.try(p_sql, p_with_status);
  perform tests.clear_authentication();
  return v_outcome;
end;
$$;

create or replace function tests.call_as(p_email text, p_sql text) returns jsonb
language plpgsql
as $$
declare
  v_value jsonb;
begin
  if p_email is not null then
    perform tests.authenticate_as(p_email);
  end if;
  v_value := tests.call(p_sql);
  perform tests.clear_authentication();
  return v_value;
end;
$$;

/**
 * tests.rpc($$select app_public.login(…)$$, 'hms_anonymous'[, claims]) — calls an RPC the way
 * PostgREST would, as that API role with those request.jwt.claims (no role: as the owner), and
 * answers {status, body[, headers]}: response.status (200 by default), the returned JSON and
 * response.headers (when set) for an answer; the PGRST status and JSON message for a business
 * error; a null status and body {code: <sqlstate>, message} for any other error. Back to the
 * owner afterwards.
 */
create or replace function tests.rpc(p_sql text, p_role text default null, p_claims text default '') returns jsonb
language plpgsql
as $$
declare
  v_body json;
  v_state text;
  v_message text;
  v_detail text;
  v_headers jsonb;
begin
  perform set_config('response.status', '', true);
  perform set_config('response.headers', '', true);
  if p_role is not null then
    perform set_config('request.jwt.claims', p_claims, true);
    perform set_config('role', p_role, true);
  end if;
  begin
    execute p_sql into v_body;
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text, v_detail = pg_exception_detail;
    perform tests.clear_authentication();
    if v_state = 'PGRST' then
      return jsonb_build_object('status', (v_detail::jsonb ->> 'status')::int, 'body', v_message::jsonb);
    end if;
    return jsonb_build_object('status', null, 'body', jsonb_build_object('code', v_state, 'message', v_message));
  end;
  perform tests.clear_authentication();
  v_headers := nullif(current_setting('response.headers', true), '')::jsonb;
  return jsonb_build_object('status', coalesce(nullif(current_setting('response.status', true), '')::int, 200), 'body', v_body::jsonb)
         || case when v_headers is null then '{}'::jsonb else jsonb_build_object('headers', v_headers) end;
end;
$$;

/**
 * tests.freeze_time('2026-03-02 09:00+00') — stops the clock business rules read,
 * app_hidden.now(), at that instant until tests.unfreeze_time() or the end of the test's
 * transaction. It replaces the function in place: DDL is transactional, so other sessions never
 * see the frozen clock and the test's rollback restores the real one. now(), current_date and
 * identity (session expiry, role validity) keep the real clock. Call it as the owner.
 */
create or replace function tests.freeze_time(p_at timestamptz) returns void
language plpgsql
as $$
begin
  if coalesce(current_setting('tests.real_clock', true), '') = '' then
    perform set_config('tests.real_clock', pg_get_functiondef('app_hidden.now()'::regprocedure), true);
  end if;
  execute format('create or replace function app_hidden.now() returns timestamptz language sql stable as %L',
                 format('select %L::timestamptz', p_at));
end;
$$;

/** tests.unfreeze_time() — app_hidden.now() reads the real clock again (its definition before freeze_time). */
create or replace function tests.unfreeze_time() returns void
language plpgsql
as $$
declare
  v_real text := coalesce(current_setting('tests.real_clock', true), '');
begin
  if v_real <> '' then
    execute v_real;
    perform set_config('tests.real_clock', '', true);
  end if;
end;
$$;

grant execute on all functions in schema tests to public;
