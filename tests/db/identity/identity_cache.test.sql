-- The identity cache inside one transaction (app_hidden.resolve_identity, app_hidden.identity):
-- bound to the claims it was resolved from, unbound by any write to what identity is read from
-- (so a change made earlier in the same transaction is seen by the next check), and written by
-- one function only. Across transactions: tests/db/identity-cache.test.ts.
begin;
select plan(14);

insert into app_public.users (id, email, first_name, last_name, home_hospital_id) values
  ('23a00000-0000-4000-8000-000000000001', 'pgtap-identity-cache@hms.test', 'Cache', 'Tester', '10000000-0000-4000-8000-000000000001');
insert into app_public.user_roles (user_id, role_id, hospital_id)
select '23a00000-0000-4000-8000-000000000001', r.id, '10000000-0000-4000-8000-000000000001'
  from app_public.roles r where r.code = 'pharmacist' and r.hospital_id is null;

select tests.authenticate_as('pgtap-identity-cache@hms.test', 'NY');
-- The helpers answer from the claims whatever the role: this file reads them as the owner.
select set_config('role', 'none', true);
create temporary table claims as select current_setting('request.jwt.claims') as text;
create function pg_temp.identity() returns jsonb language sql stable as $$
  select jsonb_build_object('user', app_hidden.current_user_id(), 'hospital', app_hidden.current_hospital_id(),
                            'dispense', app_hidden.has_permission('pharmacy.dispense'),
                            'any', app_hidden.has_any_permission('{users.manage,pharmacy.dispense}'),
                            'super', app_hidden.is_super_admin()) $$;
-- Back to the same claims after the owner changed something in between.
create function pg_temp.same_claims_again() returns void language sql as $$
  select set_config('request.jwt.claims', (select text from claims), true) $$;

select is(pg_temp.identity(),
  '{"user": "23a00000-0000-4000-8000-000000000001", "hospital": "10000000-0000-4000-8000-000000000001", "dispense": true, "any": true, "super": false}',
  'a pharmacist of NY: user, hospital, permissions resolved from the session');
select is(current_setting('hms.identity_claims', true), (select text from claims), '… and kept bound to the claims they were resolved from');

-- A forged binding is ignored: a cached part is read only while the binding equals the claims.
select set_config('hms.identity_hospital_id', '10000000-0000-4000-8000-000000000002', true),
       set_config('hms.identity_claims', 'forged', true);
select is(app_hidden.current_hospital_id(), '10000000-0000-4000-8000-000000000001'::uuid,
  'a binding that is not the claims of the request is resolved anew (the hospital of the session, not the planted one)');

-- Changes made earlier in the same transaction are seen by the next check.
select tests.clear_authentication();
update app_public.user_roles set valid_from = current_date - 2, valid_until = current_date - 1
 where user_id = '23a00000-0000-4000-8000-000000000001';
select pg_temp.same_claims_again();
select is(pg_temp.identity(),
  '{"user": "23a00000-0000-4000-8000-000000000001", "hospital": null, "dispense": false, "any": false, "super": false}',
  'the role expired in this transaction: no hospital, no permission at the next check');
select tests.clear_authentication();
update app_public.user_roles set valid_from = current_date, valid_until = null
 where user_id = '23a00000-0000-4000-8000-000000000001';
select pg_temp.same_claims_again();
select is(pg_temp.identity() ->> 'dispense', 'true', 'the role valid again: the permission is back');

select tests.clear_authentication();
delete from app_public.role_permissions rp using app_public.roles r, app_public.permissions p
 where rp.role_id = r.id and r.code = 'pharmacist' and r.hospital_id is null and p.id = rp.permission_id and p.code = 'pharmacy.dispense';
select pg_temp.same_claims_again();
select is(pg_temp.identity() ->> 'dispense', 'false', 'a permission taken from the role: gone at the next check');
select is(pg_temp.identity() ->> 'hospital', '10000000-0000-4000-8000-000000000001', '… the hospital stays');

select tests.clear_authentication();
update app_public.hospitals set is_active = false where code = 'NY';
select pg_temp.same_claims_again();
select is(pg_temp.identity() ->> 'hospital', null, 'the hospital deactivated: no active hospital at the next check');
select tests.clear_authentication();
update app_public.hospitals set is_active = true where code = 'NY';

select tests.clear_authentication();
update app_public.users set is_active = false where id = '23a00000-0000-4000-8000-000000000001';
select pg_temp.same_claims_again();
select is(pg_temp.identity() ->> 'user', null, 'the user deactivated: no acting user at the next check');
select tests.clear_authentication();
update app_public.users set is_active = true where id = '23a00000-0000-4000-8000-000000000001';

select pg_temp.same_claims_again();
select is(pg_temp.identity() ->> 'user', '23a00000-0000-4000-8000-000000000001', 'active again: the user is back');
select is(tests.rpc('select app_public.logout()', 'hms_staff', (select text from claims)) -> 'status', '200', 'logout in the same transaction');
select pg_temp.same_claims_again();
select is(pg_temp.identity() ->> 'user', null, '… and the same claims name nobody at the next check');
select tests.clear_authentication();

-- Another user's claims in the same transaction: resolved for them, not answered from the cache.
select tests.authenticate_as('admin.la@hms.test', 'LA');
select set_config('role', 'none', true);
select is(app_hidden.current_hospital_id(), '10000000-0000-4000-8000-000000000002'::uuid, 'other claims in the same transaction: their own hospital');
select tests.clear_authentication();

-- One writer: only resolve_identity sets the identity settings (tg__identity_changed only unbinds them).
select is(array(select p.oid::regprocedure::text from pg_catalog.pg_proc p
                 where p.pronamespace::regnamespace::text in ('app_public', 'app_hidden', 'app_private', 'public')
                   and p.prosrc ~ 'set_config\(\s*''hms\.identity_' order by 1),
  array['app_hidden.resolve_identity(text)', 'app_hidden.tg__identity_changed()'],
  'the identity settings are written by resolve_identity (and unbound by the identity-change trigger) only');

select * from finish();
rollback;
