-- app_public.login (db/schema/app_public/functions/login.sql): the answer, the session and refresh
-- token it opens, one answer for every kind of failure, the lockout counters (5 failures in 15
-- minutes lock an address for 15 minutes, known or not) and their persistence WITHOUT raising
-- (response.status), the audit rows, and the choice of hospital.
-- Only dedicated users (rolled back at the end): demo users are never locked out.
begin;
select plan(46);

create temporary table answers (name text primary key, answer jsonb not null);
create function pg_temp.answer(p_name text) returns jsonb language sql stable as $$ select answer from answers where name = p_name $$;
create function pg_temp.login(p_email text, p_password text, p_hospital_id uuid default null) returns jsonb
language sql volatile
as $$ select tests.rpc(format('select app_public.login(%L, %L, %L)', p_email, p_password, p_hospital_id), 'hms_anonymous') $$;
create function pg_temp.failures(p_email text) returns app_private.login_failures
language sql stable as $$ select * from app_private.login_failures where email = p_email $$;

-- Dedicated users.
insert into app_public.users (id, email, first_name, last_name, home_hospital_id, is_active) values
  ('23100000-0000-4000-8000-000000000001', 'pgtap-login@hms.test',    'Login',    'Tester', '10000000-0000-4000-8000-000000000001', true),
  ('23100000-0000-4000-8000-000000000002', 'pgtap-inactive@hms.test', 'Inactive', 'Tester', '10000000-0000-4000-8000-000000000001', false),
  ('23100000-0000-4000-8000-000000000003', 'pgtap-deleted@hms.test',  'Deleted',  'Tester', '10000000-0000-4000-8000-000000000001', true),
  ('23100000-0000-4000-8000-000000000004', 'pgtap-chain@hms.test',    'Chain',    'Tester', '10000000-0000-4000-8000-000000000001', true),
  ('23100000-0000-4000-8000-000000000005', 'pgtap-moved@hms.test',    'Moved',    'Tester', '10000000-0000-4000-8000-000000000001', true),
  ('23100000-0000-4000-8000-000000000006', 'pgtap-noroles@hms.test',  'Noroles',  'Tester', '10000000-0000-4000-8000-000000000001', true);
update app_public.users set is_deleted = true where id = '23100000-0000-4000-8000-000000000003';
insert into app_private.user_secrets (user_id, password_hash)
select id, crypt('Login-Passw0rd', gen_salt('bf', 6)) from app_public.users where email like 'pgtap-%@hms.test' and id::text like '23100000-%';
insert into app_public.user_roles (user_id, role_id, hospital_id)
select v.user_id, r.id, v.hospital_id
  from (values ('23100000-0000-4000-8000-000000000001'::uuid, 'doctor', '10000000-0000-4000-8000-000000000001'::uuid),
               ('23100000-0000-4000-8000-000000000002'::uuid, 'doctor', '10000000-0000-4000-8000-000000000001'::uuid),
               ('23100000-0000-4000-8000-000000000003'::uuid, 'doctor', '10000000-0000-4000-8000-000000000001'::uuid),
               ('23100000-0000-4000-8000-000000000004'::uuid, 'super_admin', null),
               ('23100000-0000-4000-8000-000000000005'::uuid, 'nurse', '10000000-0000-4000-8000-000000000002'::uuid)) v(user_id, code, hospital_id)
  join app_public.roles r on r.code = v.code and r.hospital_id is null;

-- Schema
select has_table('app_private', 'login_failures', 'app_private.login_failures keeps the lockout state');
select col_type_is('app_private', 'login_failures', 'email', 'citext', 'login_failures.email is citext');
select col_is_pk('app_private', 'login_failures', 'email', 'login_failures is keyed by email');
select ok(
  not exists (select 1 from pg_attribute where attrelid = 'app_private.user_secrets'::regclass and not attisdropped
                 and attname in ('failed_login_count', 'last_failed_login_at', 'locked_until')),
  'user_secrets keeps no failure counters (one place for lockout state)');

-- A successful login, as anonymous (the request context as PostgREST passes it).
select set_config('request.headers', '{"user-agent": "pgtap-agent/1.0", "x-forwarded-for": "198.51.100.1", "x-hms-client-address": "203.0.113.9"}', true);
insert into answers values ('ok', pg_temp.login('pgtap-login@hms.test', 'Login-Passw0rd'));
create temporary table ok_claims as
select convert_from(decode(rpad(translate(split_part(pg_temp.answer('ok') #>> '{body,access_token}', '.', 2), '-_', '+/'),
                                (length(split_part(pg_temp.answer('ok') #>> '{body,access_token}', '.', 2)) + 3) / 4 * 4, '='), 'base64'), 'utf8')::jsonb as c;

select is((pg_temp.answer('ok') ->> 'status')::int, 200, 'anonymous logs in with the right password: 200');
select is((pg_temp.answer('ok') -> 'body') - 'access_token' - 'refresh_token',
  '{"token_type": "bearer", "expires_in": 900,
    "user": {"id": "23100000-0000-4000-8000-000000000001", "email": "pgtap-login@hms.test", "first_name": "Login",
             "last_name": "Tester", "display_name": "Login Tester",
             "hospital": {"id": "10000000-0000-4000-8000-000000000001", "code": "NY", "name": "HMS Core NY"}}}'::jsonb,
  'the answer: tokens, token_type, expires_in and the user with the hospital');
select ok(exists (select 1 from app_private.sessions s, ok_claims
                   where s.id = (c ->> 'sid')::uuid and s.user_id = '23100000-0000-4000-8000-000000000001'
                     and s.hospital_id = '10000000-0000-4000-8000-000000000001' and s.expires_at = now() + interval '30 days'
                     and s.user_agent = 'pgtap-agent/1.0' and s.client_address = '203.0.113.9' and s.revoked_at is null),
  'a session opens: the hospital, 30 days, the user agent and the client address the front passed (X-HMS-Client-Address, never X-Forwarded-For)');
select ok(exists (select 1 from app_public.refresh_tokens t, ok_claims
                   where t.session_id = (c ->> 'sid')::uuid and t.user_id = '23100000-0000-4000-8000-000000000001'
                     and t.hospital_id = '10000000-0000-4000-8000-000000000001' and t.expires_at = now() + interval '7 days'
                     and t.user_agent = 'pgtap-agent/1.0' and t.client_address = '203.0.113.9'),
  'a refresh token row: session, user, hospital, 7 days, user agent and address');
select is((select last_login_at from app_public.users where id = '23100000-0000-4000-8000-000000000001'), now(),
  'users.last_login_at is stamped');
select is((select count(*)::int from app_public.audit_logs a, ok_claims
            where a.action = 'login' and a.record_id = (c ->> 'sid')::uuid and a.session_id = (c ->> 'sid')::uuid
              and a.table_name = 'app_private.sessions'
              and a.user_id = '23100000-0000-4000-8000-000000000001' and a.hospital_id = '10000000-0000-4000-8000-000000000001'
              and a.user_agent = 'pgtap-agent/1.0' and a.client_address = '203.0.113.9'),
  1, 'the login is audited (user, hospital, session — also as audit_logs.session_id —, user agent, address)');
select set_config('request.headers', '', true);

-- Every failure looks the same.
insert into answers values
  ('wrong_password', pg_temp.login('pgtap-login@hms.test', 'not-the-password')),
  ('unknown_email', pg_temp.login('pgtap-nobody@hms.test', 'Login-Passw0rd')),
  ('inactive', pg_temp.login('pgtap-inactive@hms.test', 'Login-Passw0rd')),
  ('deleted', pg_temp.login('pgtap-deleted@hms.test', 'Login-Passw0rd')),
  ('nulls', pg_temp.login(null, null));
select is(pg_temp.answer('wrong_password'),
  '{"status": 401,
    "body": {"code": "HMS_LOGIN_FAILED", "message": "Email or password is incorrect.", "details": null, "hint": null}}'::jsonb,
  'a wrong password: 401 HMS_LOGIN_FAILED, returned (not raised) so the failure is kept');
select is(pg_temp.answer('unknown_email'), pg_temp.answer('wrong_password'), 'an unknown email: the very same answer');
select is(pg_temp.answer('inactive'), pg_temp.answer('wrong_password'), 'an inactive account with the right password: the same answer');
select is(pg_temp.answer('deleted'), pg_temp.answer('wrong_password'), 'a deleted account with the right password: the same answer');
select is(pg_temp.answer('nulls'), pg_temp.answer('wrong_password'), 'no email and no password: the same answer');
select is((select count(*)::int from app_private.sessions where user_id in ('23100000-0000-4000-8000-000000000001',
             '23100000-0000-4000-8000-000000000002', '23100000-0000-4000-8000-000000000003')),
  1, 'failed logins open no session');
select is(array(select email || ':' || failed_count from app_private.login_failures
                 where email in ('pgtap-login@hms.test', 'pgtap-nobody@hms.test', 'pgtap-inactive@hms.test', 'pgtap-deleted@hms.test')
                 order by email),
  array['pgtap-deleted@hms.test:1', 'pgtap-inactive@hms.test:1', 'pgtap-login@hms.test:1', 'pgtap-nobody@hms.test:1'],
  'each failure is counted by email, known or not');
select is(array(select coalesce(user_id::text, '-') || ' ' || coalesce(hospital_id::text, '-') || ' ' || (new_values ->> 'reason')
                  from app_public.audit_logs
                 where action = 'login_failed' and new_values ->> 'email' in ('pgtap-login@hms.test', 'pgtap-nobody@hms.test', 'pgtap-inactive@hms.test')
                 order by new_values ->> 'email'),
  array['23100000-0000-4000-8000-000000000002 10000000-0000-4000-8000-000000000001 inactive_account',
        '23100000-0000-4000-8000-000000000001 10000000-0000-4000-8000-000000000001 wrong_password',
        '- - unknown_account'],
  'failures are audited as login_failed: the user and home hospital when known, nulls for an unknown email');

-- Lockout of a known account.
select is(array(select (pg_temp.login('pgtap-login@hms.test', 'wrong-' || n) ->> 'status')::int from generate_series(2, 4) n),
  array[401, 401, 401], 'failures 2 to 4: 401');
select is((pg_temp.failures('pgtap-login@hms.test')).failed_count, 4, '… counted: 4');
select is((pg_temp.failures('pgtap-login@hms.test')).locked_until, null, '… not locked yet');
insert into answers values ('fifth', pg_temp.login('pgtap-login@hms.test', 'wrong-5'));
select is((pg_temp.answer('fifth') ->> 'status')::int, 429, 'the 5th failure: 429');
select is((pg_temp.answer('fifth') -> 'body') - 'message',
  '{"code": "HMS_ACCOUNT_LOCKED", "details": {"retry_after_seconds": 900}, "hint": null}'::jsonb,
  '… HMS_ACCOUNT_LOCKED with details.retry_after_seconds');
select matches(pg_temp.answer('fifth') #>> '{body,message}', 'try again later', '… the message says to try again later');
select is(pg_temp.answer('fifth') -> 'headers', '[{"Retry-After": "900"}]'::jsonb, '… and a Retry-After header');
select is(pg_temp.failures('pgtap-login@hms.test'),
  row('pgtap-login@hms.test', 5, now(), now(), now() + interval '15 minutes')::app_private.login_failures,
  'the address is locked for 15 minutes (state persisted without raising)');
select is((select count(*)::int from app_public.audit_logs
            where action = 'account_locked' and user_id = '23100000-0000-4000-8000-000000000001'
              and (new_values ->> 'failed_count')::int = 5),
  1, 'the lock is audited as account_locked');
insert into answers values ('locked_right_password', pg_temp.login('pgtap-login@hms.test', 'Login-Passw0rd'));
select is(pg_temp.answer('locked_right_password') - 'body', '{"status": 429, "headers": [{"Retry-After": "900"}]}'::jsonb,
  'while locked even the right password gets 429');
select is((select count(*)::int from app_private.sessions where user_id = '23100000-0000-4000-8000-000000000001'), 1,
  '… and opens no session');
select is((pg_temp.failures('pgtap-login@hms.test')).failed_count, 5, 'attempts during the lock do not extend it');
select is((select count(*)::int from app_public.audit_logs
            where action = 'login_failed' and new_values ->> 'email' = 'pgtap-login@hms.test' and new_values ->> 'reason' = 'locked'),
  1, 'a refused attempt during the lock is audited (reason locked)');

-- After the lock, and outside the 15-minute window, counting starts over.
update app_private.login_failures set locked_until = now() - interval '1 second' where email = 'pgtap-login@hms.test';
select is((pg_temp.login('pgtap-login@hms.test', 'wrong-again') ->> 'status')::int, 401, 'after the lock ran out, a failure is a 401 again');
select is(pg_temp.failures('pgtap-login@hms.test'),
  row('pgtap-login@hms.test', 1, now(), now(), null)::app_private.login_failures, '… and starts a fresh count');
update app_private.login_failures
   set failed_count = 4, first_failed_at = now() - interval '16 minutes', last_failed_at = now() - interval '1 minute'
 where email = 'pgtap-login@hms.test';
select is((pg_temp.login('pgtap-login@hms.test', 'wrong-later') ->> 'status')::int, 401,
  '4 failures older than 15 minutes and one more: still 401');
select is((pg_temp.failures('pgtap-login@hms.test')).failed_count, 1, '… the window started over');
update app_private.login_failures set failed_count = 4 where email = 'pgtap-login@hms.test';
select is((pg_temp.login('  PGTAP-Login@HMS.test ', 'Login-Passw0rd') -> 'body' -> 'user' ->> 'email'), 'pgtap-login@hms.test',
  'a successful login (email trimmed, any case) after 4 failures');
select is(pg_temp.failures('pgtap-login@hms.test'), null, '… clears the failure count');

-- Lockout of an unknown address: indistinguishable.
select is(array(select (pg_temp.login('pgtap-ghost@hms.test', 'guess-' || n) ->> 'status')::int from generate_series(1, 6) n),
  array[401, 401, 401, 401, 429, 429], 'an unknown email locks after 5 failures too');
select is((select count(*)::int from app_public.audit_logs
            where action = 'account_locked' and user_id is null and new_values ->> 'email' = 'pgtap-ghost@hms.test'),
  1, '… audited as account_locked without a user');

-- Which hospital.
select is(pg_temp.login('pgtap-login@hms.test', 'Login-Passw0rd', '10000000-0000-4000-8000-000000000002'),
  '{"status": 403,
    "body": {"code": "HMS_HOSPITAL_ACCESS_DENIED", "message": "You have no role in this hospital.", "details": null,
             "hint": "Ask an administrator of the hospital to grant you a role, or log in without choosing a hospital."}}'::jsonb,
  'a hospital where the user holds no role: 403 HMS_HOSPITAL_ACCESS_DENIED');
select is(pg_temp.failures('pgtap-login@hms.test'), null, '… which is not a failed login');
select is(pg_temp.login('pgtap-login@hms.test', 'Login-Passw0rd', '10000000-0000-4000-8000-0000000000ff') #>> '{body,code}',
  'HMS_HOSPITAL_ACCESS_DENIED', 'an unknown hospital: the same 403');
select is(pg_temp.login('pgtap-chain@hms.test', 'Login-Passw0rd', '10000000-0000-4000-8000-000000000002') #>> '{body,user,hospital,code}',
  'LA', 'a chain-wide role (super admin) opens any active hospital');
select is(pg_temp.login('pgtap-chain@hms.test', 'Login-Passw0rd') #>> '{body,user,hospital,code}',
  'NY', 'without a hospital: the home hospital');
select is(pg_temp.login('pgtap-moved@hms.test', 'Login-Passw0rd') #>> '{body,user,hospital,code}',
  'LA', 'home hospital without a role there: the hospital of the user''s role');
select is(pg_temp.login('pgtap-noroles@hms.test', 'Login-Passw0rd') #>> '{status}',
  '403', 'a user without any role cannot log in anywhere (403)');

select * from finish();
rollback;
