
/*
 * Who reads what about people (issue 8, items 7 and 9).
 *
 * - Account rows (email, last login, must_change_password, activity) need users.read: app_public.users
 *   shows a member of staff their own row, holders of users.read the accounts of their hospital,
 *   the super admin everyone. Colleagues find each other in app_public.staff_directory: name,
 *   title, job title, avatar and the roles and departments they hold in the active hospital.
 * - A document marked confidential (patient_documents.is_confidential: a psychiatric report, an
 *   HIV result, a legal letter) is read only with patients.read_confidential — doctors and the
 *   hospital's administrators —, by a generated restrictive policy on every table with an
 *   is_confidential column, so a pharmacist, an accountant or the front desk (patients.read) do
 *   not see it, even in counts and embeds.
 */

/* ---- Confidential rows ----------------------------------------------------------------------- */

insert into app_public.permissions (code, module, action, description, is_sensitive, scope)
values ('patients.read_confidential', 'patients', 'read_confidential',
        'Open patient documents marked confidential (psychiatric, HIV, legal, …).', true, 'hospital')
on conflict (code) do nothing;

insert into app_public.role_permissions (role_id, permission_id)
select r.id, p.id
  from app_public.roles r cross join app_public.permissions p
 where r.hospital_id is null and r.code in ('super_admin', 'hospital_admin', 'doctor')
   and p.code = 'patients.read_confidential'
on conflict (role_id, permission_id) do nothing;

create or replace function app_hidden.apply_access_policies(p_table regclass) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_access app_hidden.table_access;
  v_policy record;
  v_has_deleted boolean := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_deleted' and not a.attisdropped);
  v_has_confidential boolean := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = 'is_confidential' and not a.attisdropped);
  v_read text;
begin
  select * into strict v_access from app_hidden.table_access where table_name = v_name;

  for v_policy in select polname from pg_catalog.pg_policy where polrelid = p_table loop
    execute format('drop policy %I on %s', v_policy.polname, p_table);
  end loop;
  execute format('revoke insert, update, delete on %s from :DATABASE_STAFF, :DATABASE_ANONYMOUS', p_table);
  execute format('alter table %s alter column hospital_id set default app_hidden.current_hospital_id()', p_table);

  execute format($p$create policy tenant_isolation on %s as restrictive for all to :DATABASE_STAFF
                    using (hospital_id = (select app_hidden.current_hospital_id()))
                    with check (hospital_id = (select app_hidden.current_hospital_id()))$p$, p_table);
  execute format('comment on policy tenant_isolation on %s is %L', p_table,
                 'Staff see and write only rows of their active hospital; no other policy can widen this.');

  if v_has_deleted then
    execute format($p$create policy hide_deleted on %s as restrictive for select to :DATABASE_STAFF
                      using (not is_deleted or (select app_hidden.has_permission('audit.read')))$p$, p_table);
    execute format('comment on policy hide_deleted on %s is %L', p_table,
                   'Soft-deleted rows leave normal lists; holders of audit.read (hospital admins) still see them.');
  end if;

  -- A row marked confidential is read, changed and removed only with patients.read_confidential
  -- (whoever may write the table may still file one: an insert is not restricted).
  if v_has_confidential then
    execute format($p$create policy hide_confidential on %s as restrictive for all to :DATABASE_STAFF
                      using (not is_confidential or (select app_hidden.has_permission('patients.read_confidential')))
                      with check (true)$p$, p_table);
    execute format('comment on policy hide_confidential on %s is %L', p_table,
                   'Rows marked confidential are seen, changed and removed only with patients.read_confidential; anyone who may write the table may file one.');
  end if;

  v_read := case when v_access.read_permissions is null
                 then '(select app_hidden.current_hospital_id()) is not null'
                 else format('(select app_hidden.has_any_permission(%L::text[]))', v_access.read_permissions) end;
  execute format('create policy select_with_permission on %s for select to :DATABASE_STAFF using (%s)', p_table, v_read);
  execute format('comment on policy select_with_permission on %s is %L', p_table,
                 case when v_access.read_permissions is null then 'Every member of the hospital may read.'
                      else 'Readable with any of: ' || array_to_string(v_access.read_permissions, ', ') || '.' end);
  execute format('grant select on %s to :DATABASE_STAFF', p_table);

  if v_access.write_mode in ('read_write', 'insert_only') and v_access.write_permissions <> '{}' then
    execute format('create policy insert_with_permission on %s for insert to :DATABASE_STAFF with check ((select app_hidden.has_any_permission(%L::text[])))',
                   p_table, v_access.write_permissions);
    execute format('comment on policy insert_with_permission on %s is %L', p_table,
                   'Insertable with any of: ' || array_to_string(v_access.write_permissions, ', ') || '.');
    execute format('grant insert (%s) on %s to :DATABASE_STAFF',
                   (select string_agg(quote_ident(c), ', ') from unnest(app_hidden.client_writable_columns(p_table, false)) c), p_table);
  end if;

  if v_access.write_mode in ('read_write', 'update_only') and v_access.write_permissions <> '{}' then
    execute format('create policy update_with_permission on %s for update to :DATABASE_STAFF using ((select app_hidden.has_any_permission(%L::text[]))) with check ((select app_hidden.has_any_permission(%L::text[])))',
                   p_table, v_access.write_permissions, v_access.write_permissions);
    execute format('comment on policy update_with_permission on %s is %L', p_table,
                   'Updatable with any of: ' || array_to_string(v_access.write_permissions, ', ') || '.');
    execute format('grant update (%s) on %s to :DATABASE_STAFF',
                   (select string_agg(quote_ident(c), ', ') from unnest(app_hidden.client_writable_columns(p_table, true)) c), p_table);
  end if;

  if v_access.delete_permissions <> '{}' then
    execute format('create policy delete_with_permission on %s for delete to :DATABASE_STAFF using ((select app_hidden.has_any_permission(%L::text[])))',
                   p_table, v_access.delete_permissions);
    execute format('comment on policy delete_with_permission on %s is %L', p_table,
                   'Deletable with any of: ' || array_to_string(v_access.delete_permissions, ', ') || '.'
                   || case when v_has_deleted then ' A delete by staff is a soft delete.' else '' end);
    execute format('grant delete on %s to :DATABASE_STAFF', p_table);
  end if;
end;
$$;
comment on function app_hidden.apply_access_policies(regclass) is
    'Generates the RLS policies and grants of a hospital-scoped table from its app_hidden.table_access row (re-runnable; hide_deleted when it has is_deleted, hide_confidential when it has is_confidential); part of register_table.';

select app_hidden.reregister_table('app_public.patient_documents');
comment on column app_public.patient_documents.is_confidential is 'Marked confidential: seen only by staff holding patients.read_confidential (doctors, hospital administrators); whoever may write documents may file one.';

/* The action column of the trail gained password_change_failed (0600): the registration's
   constraint probe follows the table's constraints. */
select app_hidden.register_table('app_public.audit_logs', 'audit log entry', policies => 'hand_written',
  audited => false, append_only => true);

/* ---- Accounts and the staff directory -------------------------------------------------------- */

drop policy if exists select_directory on app_public.users;
drop policy if exists select_account on app_public.users;
create policy select_account on app_public.users for select to :DATABASE_STAFF
  using (id = (select app_hidden.current_user_id())
         or ((select app_hidden.has_any_permission('{users.read,users.manage}')) and id in (select app_hidden.hospital_member_ids()))
         or (select app_hidden.is_super_admin()));
comment on policy select_account on app_public.users is 'Account rows: each member of staff sees their own; holders of users.read (or users.manage) the accounts of their hospital''s staff; the super admin every account. Colleagues find each other in staff_directory.';

/*
 * The directory every member of staff may read. It runs with its owner's rights (not
 * security_invoker, unlike the other read models) because its readers may not read the account
 * rows beneath it: its own WHERE is its access rule — the colleagues holding a role in the active
 * hospital today — and security_barrier keeps a caller's filter from running before that rule.
 * PostgREST follows users' foreign keys through it: doctors?select=*,staff_directory(display_name).
 */
create or replace view app_public.staff_directory with (security_barrier) as
select u.id,
       u.title,
       u.first_name,
       u.last_name,
       coalesce(u.display_name, u.first_name || ' ' || u.last_name) as display_name,
       u.job_title,
       u.avatar_url,
       held.role_codes,
       held.role_names,
       held.department_ids,
       held.department_names
  from app_public.users u
  cross join lateral (
    select array_agg(distinct r.code order by r.code) as role_codes,
           array_agg(distinct r.name order by r.name) as role_names,
           coalesce(array_agg(distinct d.id) filter (where d.id is not null), '{}') as department_ids,
           coalesce(array_agg(distinct d.name order by d.name) filter (where d.name is not null), '{}') as department_names
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id and r.is_active
      left join app_public.departments d on d.hospital_id = ur.hospital_id and d.id = ur.department_id
     where ur.user_id = u.id
       and (ur.hospital_id = app_hidden.current_hospital_id() or (ur.hospital_id is null and r.scope = 'chain'))
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until)) held
 where u.is_active and not u.is_deleted
   and held.role_codes is not null
   and app_hidden.current_hospital_id() is not null;
comment on view app_public.staff_directory is 'The staff directory of the active hospital: every colleague holding a role there today, with name, job title, avatar, roles and departments. Readable by every member of staff; account details (email, last login) are in users, with users.read.';
comment on column app_public.staff_directory.id is 'The colleague''s user id (users.id).';
comment on column app_public.staff_directory.title is 'Title, e.g. Dr.';
comment on column app_public.staff_directory.first_name is 'Given name.';
comment on column app_public.staff_directory.last_name is 'Family name.';
comment on column app_public.staff_directory.display_name is 'Name to show: the chosen display name, else first and last name.';
comment on column app_public.staff_directory.job_title is 'Job title, e.g. Senior Cardiologist.';
comment on column app_public.staff_directory.avatar_url is 'Picture of the colleague.';
comment on column app_public.staff_directory.role_codes is 'Codes of the roles held in the active hospital today, e.g. {doctor}; filter with role_codes=cs.{doctor}.';
comment on column app_public.staff_directory.role_names is 'Names of those roles.';
comment on column app_public.staff_directory.department_ids is 'Departments those roles are attached to.';
comment on column app_public.staff_directory.department_names is 'Names of those departments.';
revoke all on app_public.staff_directory from public;
grant select on app_public.staff_directory to :DATABASE_STAFF;

/* An embed that more than one foreign key could mean (doctors → staff_directory: user_id,
   created_by, updated_by) is a request to fix, named in PostgREST's hint. */
insert into app_hidden.raw_errors (raw_code, upstream_status, source, code, message, keep_details) values
  ('PGRST201', null, 'postgrest', 'HMS_BAD_REQUEST', 'The select embeds a table reached through more than one relationship: name the one you mean, as the hint shows.', true)
on conflict do nothing;
