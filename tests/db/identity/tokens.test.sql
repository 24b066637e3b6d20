-- Identity RPCs (db/schema/app_public/functions/: login, refresh, logout, me, switch_hospital,
-- change_password; the signer app_private.sign_jwt): the functions and their grants, the
-- HS256 tokens signed in SQL (verified here by recomputing the HMAC), the claims and the refresh
-- token storage, and what the API roles may NOT reach (the signer and the secret).
begin;
select plan(36);

create function pg_temp.b64url_decode(p_text text) returns bytea
language sql
immutable
as $$
  select decode(rpad(translate(p_text, '-_', '+/'), (length(p_text) + 3) / 4 * 4, '='), 'base64');
$$;

create function pg_temp.hs256(p_signing_input text) returns text
language sql
stable
as $$
  select rtrim(translate(encode(hmac(convert_to(p_signing_input, 'utf8'),
                                     convert_to((select value from app_private.instance_settings where key = 'jwt_secret'), 'utf8'),
                                     'sha256'), 'base64'), '+/', '-_'), '=');
$$;

-- The API
select has_function('app_public', 'login', array['text', 'text', 'uuid'], 'login(email, password, hospital_id) exists');
select has_function('app_public', 'refresh', array['text'], 'refresh(refresh_token) exists');
select has_function('app_public', 'logout', array[]::text[], 'logout() exists');
select has_function('app_public', 'me', array[]::text[], 'me() exists');
select has_function('app_public', 'switch_hospital', array['uuid'], 'switch_hospital(hospital_id) exists');
select has_function('app_public', 'change_password', array['text', 'text'], 'change_password(old_password, new_password) exists');

select is(
  array(select p.proname::text from pg_proc p
         where p.pronamespace = 'app_public'::regnamespace
           and p.proname in ('login', 'refresh', 'logout', 'me', 'switch_hospital', 'change_password')
           and not (p.prosecdef and p.proconfig @> array['search_path=pg_catalog, public, pg_temp']
                    and obj_description(p.oid, 'pg_proc') is not null)
         order by 1),
  '{}'::text[], 'the six identity functions are security definer, pin search_path = pg_catalog, public, pg_temp and are documented');

select ok(
  has_function_privilege('hms_anonymous', 'app_public.login(text, text, uuid)', 'execute')
  and has_function_privilege('hms_anonymous', 'app_public.refresh(text)', 'execute'),
  'anonymous may call login and refresh');
select ok(
  not has_function_privilege('hms_anonymous', 'app_public.logout()', 'execute')
  and not has_function_privilege('hms_anonymous', 'app_public.me()', 'execute')
  and not has_function_privilege('hms_anonymous', 'app_public.switch_hospital(uuid)', 'execute')
  and not has_function_privilege('hms_anonymous', 'app_public.change_password(text, text)', 'execute'),
  'anonymous may not call logout, me, switch_hospital or change_password');
select ok(
  has_function_privilege('hms_staff', 'app_public.login(text, text, uuid)', 'execute')
  and has_function_privilege('hms_staff', 'app_public.refresh(text)', 'execute')
  and has_function_privilege('hms_staff', 'app_public.logout()', 'execute')
  and has_function_privilege('hms_staff', 'app_public.me()', 'execute')
  and has_function_privilege('hms_staff', 'app_public.switch_hospital(uuid)', 'execute')
  and has_function_privilege('hms_staff', 'app_public.change_password(text, text)', 'execute'),
  'staff may call all six');
select is(
  array(select p.oid::regprocedure::text from pg_proc p, aclexplode(p.proacl) a
         where p.pronamespace = 'app_public'::regnamespace
           and p.proname in ('login', 'refresh', 'logout', 'me', 'switch_hospital', 'change_password')
           and a.grantee = 0
         order by 1),
  '{}'::text[], 'PUBLIC may execute none of them');
select is(app_hidden.staff_role(), 'hms_staff', 'the staff role name comes from configuration (placeholder)');

-- What the API roles must never reach (staff: a logged-in hospital admin; anonymous: no token).
select tests.authenticate_as('admin.ny@hms.test', 'NY');
select is(tests.try($$select app_private.sign_jwt('{"role": "hms_staff"}')$$), 'E:42501',
  'staff cannot sign tokens (app_private.sign_jwt)');
select tests.authenticate_as_anonymous();
select is(tests.try($$select app_private.sign_jwt('{"role": "hms_staff"}')$$), 'E:42501',
  'anonymous cannot sign tokens');
select tests.authenticate_as('admin.ny@hms.test', 'NY');
select is(tests.try($$select value from app_private.instance_settings$$), 'E:42501',
  'staff cannot read the JWT secret (app_private.instance_settings)');
select tests.authenticate_as_anonymous();
select is(tests.try($$select value from app_private.instance_settings$$), 'E:42501',
  'anonymous cannot read the JWT secret');
select tests.authenticate_as('admin.ny@hms.test', 'NY');
select is(tests.try($$select app_private.issue_tokens(gen_random_uuid())$$), 'E:42501',
  'staff cannot mint tokens for a session (app_private.issue_tokens)');
select is(tests.try($$select * from app_private.login_failures$$), 'E:42501',
  'staff cannot read or reset lockout state');
select tests.clear_authentication();

-- sign_jwt: a standard HS256 JWT.
create temporary table signed as
select app_private.sign_jwt('{"sub": "someone", "n": 1, "aud": "hms"}'::jsonb) as jwt;
select matches((select jwt from signed), '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$',
  'sign_jwt returns three base64url parts without padding');
select is((select convert_from(pg_temp.b64url_decode(split_part(jwt, '.', 1)), 'utf8')::jsonb from signed),
  '{"alg": "HS256", "typ": "JWT"}'::jsonb, 'the header says HS256');
select is((select convert_from(pg_temp.b64url_decode(split_part(jwt, '.', 2)), 'utf8')::jsonb from signed),
  '{"sub": "someone", "n": 1, "aud": "hms"}'::jsonb, 'the payload is the claims');
select is((select split_part(jwt, '.', 3) from signed),
  (select pg_temp.hs256(split_part(jwt, '.', 1) || '.' || split_part(jwt, '.', 2)) from signed),
  'the signature is HMAC-SHA256 of header.payload with the instance secret');

-- A login's tokens.
insert into app_public.users (id, email, first_name, last_name, home_hospital_id) values
  ('23000000-0000-4000-8000-000000000001', 'pgtap-tokens@hms.test', 'Token', 'Tester', '10000000-0000-4000-8000-000000000001');
insert into app_private.user_secrets (user_id, password_hash) values
  ('23000000-0000-4000-8000-000000000001', crypt('Tokens-Passw0rd', gen_salt('bf', 6)));
insert into app_public.user_roles (user_id, role_id, hospital_id)
select '23000000-0000-4000-8000-000000000001', r.id, '10000000-0000-4000-8000-000000000001'
  from app_public.roles r where r.code = 'pharmacist' and r.hospital_id is null;

create temporary table answer as
select app_public.login('pgtap-tokens@hms.test', 'Tokens-Passw0rd')::jsonb as body;
select is(coalesce(current_setting('request.jwt.claims', true), ''), '', 'login leaves the request''s claims as they were');
create temporary table claims as
select convert_from(pg_temp.b64url_decode(split_part(body ->> 'access_token', '.', 2)), 'utf8')::jsonb as c from answer;

select is((select split_part(body ->> 'access_token', '.', 3) from answer),
  (select pg_temp.hs256(split_part(body ->> 'access_token', '.', 1) || '.' || split_part(body ->> 'access_token', '.', 2)) from answer),
  'the access token verifies with the instance secret');
select is((select array(select jsonb_object_keys(c) order by 1) from claims),
  array['aud', 'exp', 'hid', 'iat', 'role', 'sid', 'sub'], 'claims: role, sub, sid, hid, aud, iat, exp');
select is((select c ->> 'role' from claims), 'hms_staff', 'role claim: the staff role');
select is((select c ->> 'sub' from claims), '23000000-0000-4000-8000-000000000001', 'sub claim: the user');
select is((select c ->> 'hid' from claims), '10000000-0000-4000-8000-000000000001', 'hid claim: the active hospital');
select is((select c ->> 'aud' from claims), 'hms', 'aud claim: hms (PGRST_JWT_AUD)');
select ok((select exists (select 1 from app_private.sessions s
                            where s.id = (c ->> 'sid')::uuid and s.user_id = (c ->> 'sub')::uuid
                              and s.hospital_id = (c ->> 'hid')::uuid and s.revoked_at is null) from claims),
  'sid claim: the live session just opened for that user and hospital');
select is((select (c ->> 'iat')::bigint from claims), floor(extract(epoch from now()))::bigint, 'iat: now (epoch seconds)');
select is((select (c ->> 'exp')::bigint - (c ->> 'iat')::bigint from claims), 900::bigint, 'exp: 15 minutes after iat');
select is((select (body ->> 'expires_in')::int from answer), 900, 'expires_in says 900 seconds');

select matches((select body ->> 'refresh_token' from answer), '^[A-Za-z0-9_-]{43}$',
  'the refresh token is 32 random bytes, base64url');
select is(
  (select t.session_id from app_private.refresh_token_hashes h join app_public.refresh_tokens t on t.id = h.refresh_token_id
    where h.token_hash = sha256(convert_to((select body ->> 'refresh_token' from answer), 'utf8'))),
  (select (c ->> 'sid')::uuid from claims),
  'only its SHA-256 is stored, with the session it belongs to');
select is(
  (select count(*)::int from app_public.refresh_tokens t
    where t.session_id = (select (c ->> 'sid')::uuid from claims)
      and t.expires_at = now() + interval '7 days' and t.rotated_at is null and t.revoked_at is null),
  1, 'the session has one live refresh token, valid 7 days');

select * from finish();
rollback;
