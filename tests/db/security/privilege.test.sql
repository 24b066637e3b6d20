-- Privilege inside a hospital for roles, accounts and sensitive rows: chain-level permissions
-- stay out of hospital roles, nobody grants what they lack, chain-level accounts are the super
-- admin's, account rows need users.read (colleagues use staff_directory), confidential documents
-- need patients.read_confidential. Its own fixtures: a NY-only user, a NY+LA user, a custom role,
-- a patient with an open and a confidential document.
begin;
select plan(31);

-- Fixtures, as the owner (no session: the trusted writer).
insert into app_public.users (id, email, first_name, last_name) values
  ('61000000-0000-4000-8000-000000000001', 'priv.local@hms.test', 'Lena', 'Local'),
  ('61000000-0000-4000-8000-000000000002', 'priv.chain@hms.test', 'Chris', 'Twohouses');
insert into app_public.user_roles (user_id, role_id, hospital_id)
select u, r.id, h.id
  from (values ('61000000-0000-4000-8000-000000000001'::uuid, 'NY'),
               ('61000000-0000-4000-8000-000000000002'::uuid, 'NY'),
               ('61000000-0000-4000-8000-000000000002'::uuid, 'LA')) v(u, hospital)
  join app_public.hospitals h on h.code = v.hospital
  join app_public.roles r on r.code = 'nurse' and r.hospital_id is null;
insert into app_public.roles (id, hospital_id, code, name)
select '61000000-0000-4000-8000-000000000010', h.id, 'priv_custom', 'Custom (privilege test)'
  from app_public.hospitals h where h.code = 'NY';
-- A custom role holding a permission the accountant lacks (prescriptions.write).
insert into app_public.role_permissions (role_id, permission_id)
select '61000000-0000-4000-8000-000000000010', p.id from app_public.permissions p where p.code = 'prescriptions.write';
insert into app_public.patients (id, hospital_id, first_name, last_name, date_of_birth, gender)
select '61000000-0000-4000-8000-000000000020', h.id, 'Petra', 'Private', date '1980-05-05', 'female'
  from app_public.hospitals h where h.code = 'NY';
insert into app_public.patient_documents (id, hospital_id, patient_id, document_type, title, file_name, file_url, is_confidential)
select v.id, h.id, '61000000-0000-4000-8000-000000000020', 'other', v.title, 'doc.pdf', 'https://files.hms.test/doc.pdf', v.confidential
  from (values ('61000000-0000-4000-8000-000000000021'::uuid, 'Open letter', false),
               ('61000000-0000-4000-8000-000000000022'::uuid, 'Psychiatric report', true)) v(id, title, confidential)
  cross join app_public.hospitals h where h.code = 'NY';

-- 1. A chain-level permission never enters a hospital role: not for the hospital admin, not for
--    the owner without a session either.
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.try($$insert into app_public.role_permissions (role_id, permission_id)
                      select '61000000-0000-4000-8000-000000000010', id from app_public.permissions where code = 'hospitals.manage'$$, true),
          'HMS_PERMISSION_CHAIN_LEVEL/422', 'a hospital admin cannot put hospitals.manage into a custom role');
select is(tests.try($$insert into app_public.role_permissions (role_id, permission_id)
                      select '61000000-0000-4000-8000-000000000010', id from app_public.permissions where code = 'patients.read'$$),
          'ok', 'a hospital admin composes a custom role from hospital permissions it holds');
select tests.clear_authentication();
select is(tests.try($$insert into app_public.role_permissions (role_id, permission_id)
                      select r.id, p.id from app_public.roles r, app_public.permissions p
                       where r.code = 'hospital_admin' and r.hospital_id is null and p.code = 'hospitals.manage'$$),
          'HMS_PERMISSION_CHAIN_LEVEL', 'not even the owner puts a chain-level permission into a hospital role');
select is(array(select r.code from app_public.role_permissions rp
                  join app_public.roles r on r.id = rp.role_id join app_public.permissions p on p.id = rp.permission_id
                 where p.scope = 'chain' order by 1),
          array['super_admin']::text[], 'chain-level permissions are held by the super admin role alone');

-- 2. Nobody grants a permission they do not hold. The NY accountant, given roles.manage and
--    users.manage through a role of its own, still lacks prescriptions.write.
insert into app_public.roles (id, hospital_id, code, name)
select '61000000-0000-4000-8000-000000000011', h.id, 'priv_granter', 'Granter (privilege test)' from app_public.hospitals h where h.code = 'NY';
insert into app_public.role_permissions (role_id, permission_id)
select '61000000-0000-4000-8000-000000000011', p.id from app_public.permissions p where p.code in ('roles.manage', 'users.manage', 'users.read');
insert into app_public.user_roles (user_id, role_id, hospital_id)
select u.id, '61000000-0000-4000-8000-000000000011', h.id
  from app_public.users u, app_public.hospitals h where u.email = 'accountant.ny@hms.test' and h.code = 'NY';
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try($$insert into app_public.role_permissions (role_id, permission_id)
                      select '61000000-0000-4000-8000-000000000011', id from app_public.permissions where code = 'pharmacy.dispense'$$, true),
          'HMS_GRANT_NOT_HELD/403', 'a permission one does not hold cannot be added to a role');
select is(tests.try($$insert into app_public.role_permissions (role_id, permission_id)
                      select '61000000-0000-4000-8000-000000000011', id from app_public.permissions where code = 'billing.read'$$),
          'ok', 'a permission one holds can be');
select is(tests.try($$insert into app_public.user_roles (user_id, role_id)
                      values ('61000000-0000-4000-8000-000000000001', '61000000-0000-4000-8000-000000000010')$$, true),
          'HMS_GRANT_NOT_HELD/403', 'a role with a permission one does not hold cannot be given');
select is(tests.try($$insert into app_public.user_roles (user_id, role_id)
                      select '61000000-0000-4000-8000-000000000001', id from app_public.roles where code = 'doctor' and hospital_id is null$$),
          'HMS_GRANT_NOT_HELD', 'nor a system role beyond one''s own permissions (doctor)');
select is(tests.try($$insert into app_public.user_roles (user_id, role_id)
                      select '61000000-0000-4000-8000-000000000001', id from app_public.roles where code = 'accountant' and hospital_id is null$$),
          'ok', 'a role within one''s own permissions can be given');
select tests.clear_authentication();
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.try($$insert into app_public.user_roles (user_id, role_id)
                      values ('61000000-0000-4000-8000-000000000001', '61000000-0000-4000-8000-000000000010')$$),
          'ok', 'the hospital admin, who holds prescriptions.write, gives the custom role');
select tests.clear_authentication();

-- 3. Chain-level accounts are the super admin's.
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.try($$update app_public.users set is_active = false where email = 'superadmin@hms.test'$$, true),
          'HMS_CHAIN_ACCOUNT/403', 'a hospital admin cannot deactivate the super admin');
select is(tests.try($$update app_public.users set is_active = false where id = '61000000-0000-4000-8000-000000000002'$$),
          'HMS_CHAIN_ACCOUNT', 'nor someone who also works in another hospital');
select is(tests.try($$update app_public.users set must_change_password = true where id = '61000000-0000-4000-8000-000000000002'$$),
          'HMS_CHAIN_ACCOUNT', 'nor force their password');
select is(tests.try($$update app_public.users set last_name = 'Renamed' where id = '61000000-0000-4000-8000-000000000002'$$),
          'HMS_CHAIN_ACCOUNT', 'nor rename them');
select is(tests.try($$delete from app_public.users where id = '61000000-0000-4000-8000-000000000002'$$),
          'HMS_CHAIN_ACCOUNT', 'nor delete them');
select is(tests.try($$update app_public.users set is_active = false, job_title = 'Night nurse' where id = '61000000-0000-4000-8000-000000000001'$$),
          'ok', 'an account of this hospital alone stays the hospital admin''s');
select tests.clear_authentication();
select is((select is_active::text || ' ' || last_name from app_public.users where id = '61000000-0000-4000-8000-000000000002'),
          'true Twohouses', 'the chain-level account is unchanged');
select tests.authenticate_as('superadmin@hms.test', 'NY');
select is(tests.try($$update app_public.users set is_active = false where id = '61000000-0000-4000-8000-000000000002'$$),
          'ok', 'the super admin changes a chain-level account');
select tests.clear_authentication();

-- 4. One's own profile is one's own; the account fields are not in it.
select tests.authenticate_as('pharmacist.ny@hms.test');
select is((app_public.update_my_profile(display_name => 'Rachel K.', locale => 'fr-FR')).display_name,
          'Rachel K.', 'update_my_profile changes one''s own display name without any permission');
select is(tests.try($$update app_public.users set display_name = 'x' where email = 'pharmacist.ny@hms.test'$$),
          'HMS_FORBIDDEN', 'a PATCH of one''s own account still needs users.manage');
select tests.clear_authentication();
select is((select locale from app_public.users where email = 'pharmacist.ny@hms.test'), 'fr-FR', 'the language was changed');

-- 5. Account rows need users.read; colleagues are in the directory.
select tests.authenticate_as('pharmacist.ny@hms.test');
select is(array(select email::text from app_public.users), array['pharmacist.ny@hms.test'],
          'without users.read a member of staff reads only their own account');
select ok((select count(*) from app_public.staff_directory) >= 7
          and exists (select 1 from app_public.staff_directory where display_name = 'Emily Johnson, RN' and role_codes = '{lab_technician,nurse}')
          and exists (select 1 from app_public.staff_directory where display_name = 'Dr. Sarah Mitchell' and role_codes = '{doctor}'),
          'the directory lists the colleagues of the active hospital with their roles');
select tests.clear_authentication();
select is((select count(*)::int
             from jsonb_array_elements_text(tests.call_as('pharmacist.ny@hms.test', $$select jsonb_agg(id) from app_public.staff_directory$$)) seen(id)
            where not exists (select 1 from app_public.user_roles ur join app_public.roles r on r.id = ur.role_id
                               left join app_public.hospitals h on h.id = ur.hospital_id
                               where ur.user_id = seen.id::uuid and (h.code = 'NY' or r.scope = 'chain'))), 0,
          'and nobody who holds no role in it (LA staff stay out)');
select is(array(select a.attname::text from pg_attribute a
                 where a.attrelid = 'app_public.staff_directory'::regclass and a.attnum > 0 order by a.attnum),
          array['id', 'title', 'first_name', 'last_name', 'display_name', 'job_title', 'avatar_url',
                'role_codes', 'role_names', 'department_ids', 'department_names'],
          'the directory shows no account detail (email, last login, activity)');
select tests.authenticate_as('admin.ny@hms.test');
select ok(exists (select 1 from app_public.users where email = 'reception.ny@hms.test')
          and not exists (select 1 from app_public.users where email = 'admin.la@hms.test'),
          'users.read reads the accounts of its hospital''s staff, not another''s');
select tests.clear_authentication();

-- 6. Confidential documents need patients.read_confidential.
select tests.authenticate_as('pharmacist.ny@hms.test');
select is(array(select title from app_public.patient_documents where patient_id = '61000000-0000-4000-8000-000000000020'),
          array['Open letter'], 'patients.read alone does not show a confidential document');
select tests.clear_authentication();
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try($$insert into app_public.patient_documents (patient_id, document_type, title, file_name, file_url, is_confidential)
                      values ('61000000-0000-4000-8000-000000000020', 'referral_letter', 'Sealed referral', 'ref.pdf', 'https://files.hms.test/ref.pdf', true)$$),
          'ok', 'the front desk still files a confidential document');
select is(tests.try($$update app_public.patient_documents set is_confidential = false where id = '61000000-0000-4000-8000-000000000022' returning 1$$)
          || ':' || (select count(*) from app_public.patient_documents where id = '61000000-0000-4000-8000-000000000022'),
          'ok:0', 'but cannot see it or reach it with a PATCH');
select tests.clear_authentication();
select ok((select is_confidential from app_public.patient_documents where id = '61000000-0000-4000-8000-000000000022'),
          'the document stays confidential');
select tests.authenticate_as('doctor.ny@hms.test');
select is(array(select title from app_public.patient_documents where patient_id = '61000000-0000-4000-8000-000000000020' order by title),
          array['Open letter', 'Psychiatric report', 'Sealed referral'], 'a doctor reads the confidential documents');
select tests.clear_authentication();

select * from finish();
rollback;
