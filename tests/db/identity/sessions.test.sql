-- Sessions after login (db/schema/app_public/functions/: refresh, logout, me, switch_hospital,
-- change_password): refresh-token rotation, reuse
-- detection revoking the whole session (persisted although the answer is a 401), expiry,
-- logout, me(), switch_hospital and change_password. Dedicated users only, rolled back at the end.
begin;
select plan(62);

create temporary table answers (name text primary key, answer jsonb not null);
create function pg_temp.answer(p_name text) returns jsonb language sql stable as $$ select answer from answers where name = p_name $$;
create function pg_temp.token(p_name text, p_kind text) returns text language sql stable as $$
  select answer #>> array['body', p_kind] from answers where name = p_name $$;
-- The verified claims PostgREST would set for the access token of an answer.
create function pg_temp.claims(p_name text) returns text language sql stable as $$
  select convert_from(decode(rpad(translate(split_part(t, '.', 2), '-_', '+/'), (length(split_part(t, '.', 2)) + 3) / 4 * 4, '='), 'base64'), 'utf8')
    from (select pg_temp.token(p_name, 'access_token') as t) s $$;
create function pg_temp.sid(p_name text) returns uuid language sql stable as $$ select (pg_temp.claims(p_name)::jsonb ->> 'sid')::uuid $$;
create function pg_temp.token_row(p_token text) returns app_public.refresh_tokens language sql stable as $$
  select t.* from app_private.refresh_token_hashes h join app_public.refresh_tokens t on t.id = h.refresh_token_id
   where h.token_hash = sha256(convert_to(p_token, 'utf8')) $$;
create function pg_temp.login(p_email text, p_password text, p_hospital_id uuid default null) returns jsonb language sql volatile as $$
  select tests.rpc(format('select app_public.login(%L, %L, %L)', p_email, p_password, p_hospital_id), 'hms_anonymous') $$;
create function pg_temp.refresh(p_token text) returns jsonb language sql volatile as $$
  select tests.rpc(format('select app_public.refresh(%L)', p_token), 'hms_anonymous') $$;
create function pg_temp.as_staff(p_name text, p_sql text) returns jsonb language sql volatile as $$
  select tests.rpc(p_sql, 'hms_staff', pg_temp.claims(p_name)) $$;

insert into app_public.users (id, email, first_name, last_name, home_hospital_id) values
  ('23200000-0000-4000-8000-000000000001', 'pgtap-sessions@hms.test',      'Sessions', 'Tester', '10000000-0000-4000-8000-000000000001'),
  ('23200000-0000-4000-8000-000000000002', 'pgtap-sessions-chain@hms.test', 'Chain',    'Tester', '10000000-0000-4000-8000-000000000001'),
  ('23200000-0000-4000-8000-000000000003', 'pgtap-password-user@hms.test', 'Password', 'Tester', '10000000-0000-4000-8000-000000000001');
insert into app_private.user_secrets (user_id, password_hash)
select id, crypt('Old-Passw0rd-1', gen_salt('bf', 6)) from app_public.users where id::text like '23200000-%';
insert into app_public.user_roles (user_id, role_id, hospital_id)
select v.user_id, r.id, v.hospital_id
  from (values ('23200000-0000-4000-8000-000000000001'::uuid, 'pharmacist', '10000000-0000-4000-8000-000000000001'::uuid),
               ('23200000-0000-4000-8000-000000000001'::uuid, 'nurse', '10000000-0000-4000-8000-000000000001'::uuid),
               ('23200000-0000-4000-8000-000000000002'::uuid, 'super_admin', null),
               ('23200000-0000-4000-8000-000000000003'::uuid, 'doctor', '10000000-0000-4000-8000-000000000001'::uuid)) v(user_id, code, hospital_id)
  join app_public.roles r on r.code = v.code and r.hospital_id is null;

-- Refresh: rotation.
insert into answers values ('l1', pg_temp.login('pgtap-sessions@hms.test', 'Old-Passw0rd-1'));
insert into answers values ('r1', pg_temp.refresh(pg_temp.token('l1', 'refresh_token')));
select is((pg_temp.answer('r1') ->> 'status')::int, 200, 'refresh (as anonymous) with a fresh token: 200');
select is(pg_temp.answer('r1') -> 'body' -> 'user', pg_temp.answer('l1') -> 'body' -> 'user', '… the same user and hospital as the login');
select is(pg_temp.sid('r1'), pg_temp.sid('l1'), '… the same session');
select isnt(pg_temp.token('r1', 'refresh_token'), pg_temp.token('l1', 'refresh_token'), '… and a new refresh token');
select ok((pg_temp.token_row(pg_temp.token('l1', 'refresh_token'))).rotated_at = now()
          and (pg_temp.token_row(pg_temp.token('l1', 'refresh_token'))).replaced_by_id = (pg_temp.token_row(pg_temp.token('r1', 'refresh_token'))).id,
  'the old token is marked rotated and names its successor');
select is((select count(*)::int from app_public.refresh_tokens where session_id = pg_temp.sid('l1') and rotated_at is null and revoked_at is null),
  1, 'the session keeps one live refresh token');
select is((select count(*)::int from app_public.audit_logs where action = 'token_refresh' and session_id = pg_temp.sid('l1')
             and new_values ->> 'result' = 'rotated' and user_id = '23200000-0000-4000-8000-000000000001'
             and hospital_id = '10000000-0000-4000-8000-000000000001'),
  1, 'the refresh is audited (token_refresh, with its session)');
select is(pg_temp.refresh('no-such-token') -> 'body' ->> 'code', 'HMS_REFRESH_TOKEN_INVALID', 'an unknown token: HMS_REFRESH_TOKEN_INVALID');
select is(pg_temp.refresh(null) - 'body', '{"status": 401}'::jsonb, 'no token: 401');

-- An expired token is invalid, not a reuse.
insert into answers values ('l2', pg_temp.login('pgtap-sessions@hms.test', 'Old-Passw0rd-1'));
update app_public.refresh_tokens set issued_at = now() - interval '8 days', expires_at = now() - interval '1 day'
 where id = (pg_temp.token_row(pg_temp.token('l2', 'refresh_token'))).id;
select is(pg_temp.refresh(pg_temp.token('l2', 'refresh_token')),
  '{"status": 401, "body": {"code": "HMS_REFRESH_TOKEN_INVALID", "message": "The refresh token is unknown or has expired. Please log in again.", "details": null, "hint": null}}'::jsonb,
  'an expired refresh token: 401 HMS_REFRESH_TOKEN_INVALID');
select is((select revoked_at from app_private.sessions where id = pg_temp.sid('l2')), null, '… its session stays live');

-- Reuse of a rotated token ends the session, and that persists although the answer is a 401.
insert into answers values ('reuse', pg_temp.refresh(pg_temp.token('l1', 'refresh_token')));
select is(pg_temp.answer('reuse') -> 'status', '401', 'presenting a rotated token again: 401');
select is(pg_temp.answer('reuse') #>> '{body,code}', 'HMS_REFRESH_TOKEN_REUSED', '… HMS_REFRESH_TOKEN_REUSED');
select is((select revoked_reason || '@' || (revoked_at = now()) from app_private.sessions where id = pg_temp.sid('l1')),
  'refresh_token_reuse@true', 'the whole session is revoked (refresh_token_reuse) — persisted, not rolled back');
select is(array(select distinct revoked_reason from app_public.refresh_tokens where session_id = pg_temp.sid('l1')),
  array['reuse_detected'], 'every refresh token of the session is revoked (reuse_detected)');
select is(pg_temp.refresh(pg_temp.token('r1', 'refresh_token')) #>> '{body,code}', 'HMS_REFRESH_TOKEN_REUSED',
  'the successor (possibly the thief''s) is dead too');
select is(pg_temp.as_staff('r1', 'select app_public.me()'),
  '{"status": 401, "body": {"code": "HMS_SESSION_INVALID", "message": "Your session has ended (logged out, revoked or expired). Please log in again.", "details": null, "hint": null}}'::jsonb,
  'the session''s newest access token is refused (401 HMS_SESSION_INVALID)');
select is(pg_temp.as_staff('r1', 'select json_build_object(''checked'', app_hidden.check_request()::text)') -> 'status', '401',
  '… already by PostgREST''s pre-request check');
select is((select count(*)::int from app_public.audit_logs where action = 'token_refresh' and new_values ->> 'result' = 'reuse_detected'
             and record_id = (pg_temp.token_row(pg_temp.token('l1', 'refresh_token'))).id),
  1, 'the reuse is audited');

-- A deactivated user or a lost role stops refreshing.
insert into answers values ('l3', pg_temp.login('pgtap-sessions@hms.test', 'Old-Passw0rd-1'));
update app_public.users set is_active = false where id = '23200000-0000-4000-8000-000000000001';
select is(pg_temp.refresh(pg_temp.token('l3', 'refresh_token')) #>> '{body,code}', 'HMS_REFRESH_TOKEN_INVALID', 'a deactivated user cannot refresh');
update app_public.users set is_active = true where id = '23200000-0000-4000-8000-000000000001';
update app_public.user_roles set valid_from = current_date - 10, valid_until = current_date - 1
 where user_id = '23200000-0000-4000-8000-000000000001';
select is(pg_temp.refresh(pg_temp.token('l3', 'refresh_token')) - 'body' || jsonb_build_object('code', pg_temp.refresh(pg_temp.token('l3', 'refresh_token')) #>> '{body,code}'),
  '{"status": 403, "code": "HMS_HOSPITAL_ACCESS_DENIED"}'::jsonb, 'a user who lost every role in the session''s hospital: 403');
update app_public.user_roles set valid_until = null where user_id = '23200000-0000-4000-8000-000000000001';
select is((pg_temp.refresh(pg_temp.token('l3', 'refresh_token')) ->> 'status')::int, 200, '… the failed refreshes consumed nothing');

-- Logout.
insert into answers values ('l5', pg_temp.login('pgtap-sessions@hms.test', 'Old-Passw0rd-1'));
insert into answers values ('out', pg_temp.as_staff('l5', 'select app_public.logout()'));
select is(pg_temp.answer('out') -> 'status', '200', 'logout: 200');
select is((pg_temp.answer('out') #>> '{body,session_id}')::uuid, pg_temp.sid('l5'), '… names the session it ended');
select is((select revoked_reason from app_private.sessions where id = pg_temp.sid('l5')), 'logout', 'the session is revoked (logout)');
select is(array(select distinct revoked_reason from app_public.refresh_tokens where session_id = pg_temp.sid('l5')),
  array['logout'], 'its refresh token is revoked (logout)');
select is((select count(*)::int from app_public.audit_logs where action = 'logout' and record_id = pg_temp.sid('l5')
             and user_id = '23200000-0000-4000-8000-000000000001' and hospital_id = '10000000-0000-4000-8000-000000000001'),
  1, 'the logout is audited');
select is(pg_temp.as_staff('l5', 'select app_public.logout()') #>> '{body,code}', 'HMS_SESSION_INVALID', 'logging out twice: 401 HMS_SESSION_INVALID');
select is(pg_temp.as_staff('l5', 'select json_build_object(''checked'', app_hidden.check_request()::text)') -> 'status', '401',
  'the logged-out token is refused before any request');
select is(pg_temp.refresh(pg_temp.token('l5', 'refresh_token')) -> 'status', '401', 'the logged-out refresh token is refused');
select is(tests.rpc('select app_public.logout()', 'hms_anonymous') #>> '{body,code}', '42501', 'anonymous may not call logout');

-- me()
insert into answers values ('l6', pg_temp.login('pgtap-sessions@hms.test', 'Old-Passw0rd-1'));
insert into answers values ('me', pg_temp.as_staff('l6', 'select app_public.me()'));
select is(pg_temp.answer('me') -> 'status', '200', 'me: 200');
select is((pg_temp.answer('me') #> '{body,user}') - 'last_login_at' - 'phone' - 'title' - 'job_title' - 'employee_code' - 'avatar_url',
  '{"id": "23200000-0000-4000-8000-000000000001", "email": "pgtap-sessions@hms.test", "first_name": "Sessions", "last_name": "Tester",
    "display_name": "Sessions Tester", "locale": "en-US", "home_hospital_id": "10000000-0000-4000-8000-000000000001",
    "must_change_password": false}'::jsonb,
  '… the user');
select is(pg_temp.answer('me') #> '{body,hospital}',
  '{"id": "10000000-0000-4000-8000-000000000001", "code": "NY", "name": "HMS Core NY", "time_zone": "America/New_York", "currency_code": "USD"}'::jsonb,
  '… the active hospital with its time zone and currency');
select is(pg_temp.answer('me') #> '{body,hospitals}',
  '[{"id": "10000000-0000-4000-8000-000000000001", "code": "NY", "name": "HMS Core NY", "roles": ["nurse", "pharmacist"]}]'::jsonb,
  '… the hospitals the user may switch to, with the roles there');
select is(pg_temp.answer('me') #> '{body,roles}', '["nurse", "pharmacist"]'::jsonb, '… the roles in the active hospital');
select is(pg_temp.answer('me') #> '{body,permissions}',
  (select jsonb_agg(code order by code) from (select distinct p.code from app_public.role_permissions rp
     join app_public.roles r on r.id = rp.role_id join app_public.permissions p on p.id = rp.permission_id
    where r.hospital_id is null and r.code in ('nurse', 'pharmacist')) s),
  '… the permissions of those roles, distinct and sorted');
select is(tests.rpc('select app_public.me()', 'hms_anonymous') #>> '{body,code}', '42501', 'anonymous may not call me');
select is(tests.rpc('select app_public.me()', 'hms_staff',
            json_build_object('role', 'hms_staff', 'sub', '23200000-0000-4000-8000-000000000001', 'sid', gen_random_uuid(),
                              'hid', '10000000-0000-4000-8000-000000000001', 'aud', 'hms')::text) -> 'status',
  '401', 'a token naming no live session: 401');

-- switch_hospital
insert into answers values ('l7', pg_temp.login('pgtap-sessions-chain@hms.test', 'Old-Passw0rd-1'));
insert into answers values ('sw', pg_temp.as_staff('l7', 'select app_public.switch_hospital(''10000000-0000-4000-8000-000000000002'')'));
select is(pg_temp.answer('sw') -> 'status', '200', 'the super admin switches to LA: 200');
select is((pg_temp.answer('sw') #>> '{body,user,hospital,code}') || ' ' || (pg_temp.claims('sw')::jsonb ->> 'hid'),
  'LA 10000000-0000-4000-8000-000000000002', '… the answer and the new access token name LA');
select is(pg_temp.sid('sw'), pg_temp.sid('l7'), '… in the same session');
select is((select hospital_id from app_private.sessions where id = pg_temp.sid('l7')), '10000000-0000-4000-8000-000000000002'::uuid,
  'the session''s active hospital is LA');
select ok((pg_temp.token_row(pg_temp.token('l7', 'refresh_token'))).replaced_by_id = (pg_temp.token_row(pg_temp.token('sw', 'refresh_token'))).id
          and (pg_temp.token_row(pg_temp.token('sw', 'refresh_token'))).hospital_id = '10000000-0000-4000-8000-000000000002',
  'the previous refresh token is rotated; the new one is for LA');
select is(pg_temp.as_staff('sw', 'select app_public.me()') #> '{body,hospital,code}', '"LA"'::jsonb, 'me() with the new token: LA');
select is(pg_temp.as_staff('sw', 'select app_public.me()') #> '{body,roles}', '["super_admin"]'::jsonb, '… as super admin');
select is(jsonb_array_length(pg_temp.as_staff('sw', 'select app_public.me()') #> '{body,hospitals}'),
  (select count(*)::int from app_public.hospitals where is_active and not is_deleted),
  '… who may switch to every active hospital');
select is((pg_temp.as_staff('l7', 'select app_public.me()') -> 'body') - 'user' - 'hospitals',
  '{"hospital": null, "roles": [], "permissions": []}'::jsonb, 'the previous access token (hid NY) has no hospital any more');
select is((select old_values ->> 'hospital_id' || ' ' || (new_values ->> 'hospital_id') from app_public.audit_logs
            where action = 'switch_hospital' and record_id = pg_temp.sid('l7')),
  '10000000-0000-4000-8000-000000000001 10000000-0000-4000-8000-000000000002', 'the switch is audited (old and new hospital)');
select is(pg_temp.as_staff('l6', 'select app_public.switch_hospital(''10000000-0000-4000-8000-000000000002'')') - 'body'
          || jsonb_build_object('code', pg_temp.as_staff('l6', 'select app_public.switch_hospital(''10000000-0000-4000-8000-000000000002'')') #>> '{body,code}'),
  '{"status": 403, "code": "HMS_HOSPITAL_ACCESS_DENIED"}'::jsonb, 'a member of NY only cannot switch to LA: 403');
select is((select hospital_id from app_private.sessions where id = pg_temp.sid('l6')), '10000000-0000-4000-8000-000000000001'::uuid,
  '… and stays in NY');
select is(tests.rpc('select app_public.switch_hospital(null)', 'hms_anonymous') #>> '{body,code}', '42501', 'anonymous may not switch');

-- change_password
insert into answers values ('p1', pg_temp.login('pgtap-password-user@hms.test', 'Old-Passw0rd-1'));
insert into answers values ('p2', pg_temp.login('pgtap-password-user@hms.test', 'Old-Passw0rd-1'));
create function pg_temp.change(p_old text, p_new text) returns jsonb language sql volatile as $$
  select pg_temp.as_staff('p1', format('select app_public.change_password(%L, %L)', p_old, p_new)) $$;
select is(pg_temp.change('wrong-old-password', 'A-good-new-passw0rd'),
  '{"status": 403, "body": {"code": "HMS_PASSWORD_INCORRECT", "message": "The current password is incorrect.", "details": null, "hint": null}}'::jsonb,
  'a wrong current password: 403 HMS_PASSWORD_INCORRECT');
select is(array(select (pg_temp.change('Old-Passw0rd-1', v.pw) ->> 'status') || ' ' || (pg_temp.change('Old-Passw0rd-1', v.pw) #>> '{body,details}')
                  from (values (1, 'Short-1'), (2, repeat('é', 37)), (3, 'pgtap-password-user'), (4, 'My-pgtap-password-user@hms.test!'),
                               (5, 'x-PGTAP-PASSWORD-USER-1'), (6, 'Old-Passw0rd-1')) v(n, pw) order by v.n),
  array['422 min_length', '422 max_bytes', '422 not_email', '422 not_email', '422 not_email', '422 not_reused'],
  'the policy: at least 10 characters, at most 72 bytes, not (containing) the email or its name part, not the current one');
select matches(pg_temp.change('Old-Passw0rd-1', 'Short-1') #>> '{body,message}', 'at least 10 characters', 'the message names the rule');
update app_public.users set must_change_password = true where id = '23200000-0000-4000-8000-000000000003';
insert into answers values ('changed', pg_temp.change('Old-Passw0rd-1', 'Brand-new-Passw0rd'));
select is(pg_temp.answer('changed') - 'body' || jsonb_build_object('revoked', pg_temp.answer('changed') #> '{body,revoked_sessions}'),
  '{"status": 200, "revoked": 1}'::jsonb, 'the password changes; one other session ended');
select ok((select s.password_hash like '$2a$10$%' and s.password_hash = crypt('Brand-new-Passw0rd', s.password_hash)
                  and s.password_changed_at = now()
             from app_private.user_secrets s where s.user_id = '23200000-0000-4000-8000-000000000003'),
  'the new bcrypt hash (cost 10) verifies the new password; password_changed_at is stamped');
select is((select must_change_password from app_public.users where id = '23200000-0000-4000-8000-000000000003'), false,
  'must_change_password is cleared');
select is((select revoked_reason from app_private.sessions where id = pg_temp.sid('p2')) || ' '
          || (select string_agg(distinct revoked_reason, ',') from app_public.refresh_tokens where session_id = pg_temp.sid('p2')),
  'password_changed password_changed', 'the other session and its refresh token are revoked (password_changed)');
select is((select revoked_at from app_private.sessions where id = pg_temp.sid('p1')), null, 'the current session stays');
select ok((select count(*) = 1 and bool_and(new_values::text not like '%Brand-new%' and new_values::text not like '%Old-Passw0rd%')
             from app_public.audit_logs where action = 'password_changed' and user_id = '23200000-0000-4000-8000-000000000003'),
  'the change is audited, without any password');
select is(array[(pg_temp.login('pgtap-password-user@hms.test', 'Old-Passw0rd-1') ->> 'status')::int,
                (pg_temp.login('pgtap-password-user@hms.test', 'Brand-new-Passw0rd') ->> 'status')::int],
  array[401, 200], 'the old password now fails, the new one works');

select * from finish();
rollback;
