--! Previous: sha1:28793d148b1f2f5c06f2ebbac8bf08a64e071ebf
--! Hash: sha1:ee2590952a4751571abbd6b3ca9f0393cbe4877b

--! split: 0220-identity-core.sql
/*
 * Identity helpers, made fast (same answers as migration 000002's, one query each).
 *
 * The first versions were `language sql` functions calling each other (has_permission →
 * current_hospital_id → current_user_id → jwt_claim → is_member_of …). Security definer SQL
 * functions are never inlined, and PostgreSQL plans the body of a non-inlined SQL function again
 * on every call: one has_any_permission cost ≈ 10 ms and a staff list 2–5× the owner's time
 * (npm run bench). Each helper is now one plpgsql function with one query — plpgsql keeps its
 * plans for the session — reading the claims once. Policies still call them through (select …),
 * so each runs once per statement.
 */

create or replace function app_hidden.claim_uuid(p_claims jsonb, p_name text) returns uuid
language sql
immutable
as $$
  select case when p_claims ->> p_name ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
              then (p_claims ->> p_name)::uuid end;
$$;
comment on function app_hidden.claim_uuid(jsonb, text) is 'A claim as uuid, or null when it is missing or not a uuid.';
grant execute on function app_hidden.claim_uuid(jsonb, text) to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.current_user_id() returns uuid
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  v_user_id uuid;
begin
  if v_claims is null then
    return null;
  end if;
  select s.user_id into v_user_id
    from app_private.sessions s
    join app_public.users u on u.id = s.user_id
   where s.id = app_hidden.claim_uuid(v_claims, 'sid')
     and s.user_id = app_hidden.claim_uuid(v_claims, 'sub')
     and s.revoked_at is null and s.expires_at > now()
     and u.is_active and not u.is_deleted;
  return v_user_id;
end;
$$;

create or replace function app_hidden.current_hospital_id() returns uuid
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  v_hospital_id uuid;
begin
  if v_claims is null then
    return null;
  end if;
  select s.hospital_id into v_hospital_id
    from app_private.sessions s
    join app_public.users u on u.id = s.user_id and u.is_active and not u.is_deleted
    join app_public.hospitals h on h.id = s.hospital_id and h.is_active and not h.is_deleted
   where s.id = app_hidden.claim_uuid(v_claims, 'sid')
     and s.user_id = app_hidden.claim_uuid(v_claims, 'sub')
     and s.hospital_id = app_hidden.claim_uuid(v_claims, 'hid')
     and s.revoked_at is null and s.expires_at > now()
     and exists (select 1
                   from app_public.user_roles ur
                   join app_public.roles r on r.id = ur.role_id and r.is_active
                  where ur.user_id = s.user_id
                    and (ur.hospital_id = s.hospital_id or (ur.hospital_id is null and r.scope = 'chain'))
                    and current_date >= ur.valid_from
                    and (ur.valid_until is null or current_date <= ur.valid_until));
  return v_hospital_id;
end;
$$;

create or replace function app_hidden.has_any_permission(p_codes text[]) returns boolean
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
begin
  if v_claims is null then
    return false;
  end if;
  return exists (
    select 1
      from app_private.sessions s
      join app_public.users u on u.id = s.user_id and u.is_active and not u.is_deleted
      join app_public.hospitals h on h.id = s.hospital_id and h.is_active and not h.is_deleted
      join app_public.user_roles ur on ur.user_id = s.user_id
                                    and current_date >= ur.valid_from
                                    and (ur.valid_until is null or current_date <= ur.valid_until)
      join app_public.roles r on r.id = ur.role_id and r.is_active
                              and (ur.hospital_id = s.hospital_id or (ur.hospital_id is null and r.scope = 'chain'))
      join app_public.role_permissions rp on rp.role_id = r.id
      join app_public.permissions p on p.id = rp.permission_id and p.code = any (p_codes)
     where s.id = app_hidden.claim_uuid(v_claims, 'sid')
       and s.user_id = app_hidden.claim_uuid(v_claims, 'sub')
       and s.hospital_id = app_hidden.claim_uuid(v_claims, 'hid')
       and s.revoked_at is null and s.expires_at > now());
end;
$$;

create or replace function app_hidden.has_permission(p_code text) returns boolean
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  return app_hidden.has_any_permission(array[p_code]);
end;
$$;

create or replace function app_hidden.is_super_admin() returns boolean
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
begin
  if v_claims is null then
    return false;
  end if;
  return exists (
    select 1
      from app_private.sessions s
      join app_public.users u on u.id = s.user_id and u.is_active and not u.is_deleted
      join app_public.user_roles ur on ur.user_id = s.user_id and ur.hospital_id is null
                                    and current_date >= ur.valid_from
                                    and (ur.valid_until is null or current_date <= ur.valid_until)
      join app_public.roles r on r.id = ur.role_id and r.is_active and r.scope = 'chain' and r.code = 'super_admin'
     where s.id = app_hidden.claim_uuid(v_claims, 'sid')
       and s.user_id = app_hidden.claim_uuid(v_claims, 'sub')
       and s.revoked_at is null and s.expires_at > now());
end;
$$;

create or replace function app_hidden.hospital_member_ids() returns setof uuid
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital_id uuid := app_hidden.current_hospital_id();
begin
  return query
    select ur.user_id
      from app_public.user_roles ur
      join app_public.roles r on r.id = ur.role_id
     where (ur.hospital_id = v_hospital_id or (ur.hospital_id is null and r.scope = 'chain'))
       and v_hospital_id is not null
       and current_date >= ur.valid_from
       and (ur.valid_until is null or current_date <= ur.valid_until);
end;
$$;

--! split: 1000-patients.sql
/*
 * Patient lists sorted by name (the front desk's default view) and patient counts under
 * row-level security. With 20,000 patients a hospital, sorting without an index cost ≈ 40 ms a
 * page (npm run bench). The index leads with hospital_id (the tenant policy) and carries
 * is_deleted, so the hide_deleted policy is answered from the index too.
 */
drop index if exists app_public.idx_patients__hospital_id_last_name_first_name;
create index idx_patients__hospital_id_last_name_first_name
  on app_public.patients (hospital_id, last_name, first_name) include (is_deleted);
