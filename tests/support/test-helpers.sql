-- Helpers for pgTAP files, installed into the throwaway test database only (never migrated):
-- switching identity the way PostgREST does (role + request.jwt.claims), with a real session.
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

grant execute on all functions in schema tests to public;
