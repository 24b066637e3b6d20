/*
 * Privilege inside a hospital, for accounts and access (first part).
 * - Writing RPCs answer only POST: PostgREST runs GET/HEAD in a read-only transaction, where the
 *   first write fails and its error text told a caller whether a password was right (an oracle that
 *   also skipped the lockout and the audit). The pre-request refuses a non-POST call of every
 *   volatile app_public function before the function runs, with one answer for all.
 * - A token must name the audience login mints ('hms'); PostgREST checks aud only when present.
 * - Permissions are hospital-level or chain-level (permissions.scope), the basis for keeping
 *   chain-level permissions out of hospital roles.
 */

alter table app_hidden.error_codes drop constraint error_codes_http_status_check,
  add constraint error_codes_http_status_check check (http_status in (400, 401, 403, 404, 405, 409, 422, 429));

select app_hidden.register_error_codes('identity_privilege', $json$[
  {"code": "HMS_METHOD_NOT_ALLOWED", "http_status": 405, "meaning": "An RPC that writes was called with a method other than POST (GET and HEAD run read-only); it did nothing. Call it with POST."}
]$json$);

/* ---------------------------------------------------------------------------------------------
 * The pre-request: method, audience, live session. It runs before every request's query, in the
 * same transaction, so a refused call never reaches the function.
 */
create or replace function app_hidden.check_request() returns void
language plpgsql stable as $$
declare
  v_method text := current_setting('request.method', true);
  v_rpc text := substring(current_setting('request.path', true) from '^/rpc/([^/]+)/?$');
  v_role text := app_hidden.jwt_claim('role');
begin
  -- A writing RPC (volatile) answers POST only: under GET/HEAD it would run read-only and its
  -- first write would fail with an error that depends on what it did so far.
  if v_rpc is not null and v_method is distinct from 'POST'
     and exists (select 1 from pg_catalog.pg_proc p
                  where p.pronamespace = 'app_public'::regnamespace and p.proname = v_rpc
                    and p.provolatile = 'v') then
    perform app_hidden.raise_error('HMS_METHOD_NOT_ALLOWED',
      format('%s changes data and must be called with POST.', v_rpc),
      jsonb_build_object('method', v_method), 'Send the same parameters as a JSON body with POST.');
  end if;
  -- PostgREST sets a role claim for anonymous requests too: only a token for another role
  -- (a signed-in user) must carry HMS's audience and name a live session.
  if v_role is distinct from 'hms_anonymous' and v_role is not null
     and (app_hidden.jwt_claim('aud') is distinct from 'hms' or app_hidden.current_user_id() is null) then
    perform app_hidden.raise_error('HMS_SESSION_INVALID',
      'Your session has ended (logged out, revoked or expired). Please log in again.');
  end if;
end;
$$;
comment on function app_hidden.check_request() is 'PostgREST db-pre-request: refuses (405) a non-POST call of a writing (volatile) RPC before it runs, and (401) a signed token without the aud "hms" or whose session is no longer live.';

create or replace function app_hidden.current_user_id() returns uuid
language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  v_user_id uuid;
begin
  if v_claims is null or v_claims ->> 'aud' is distinct from 'hms' then
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
comment on function app_hidden.current_user_id() is 'The acting user, resolved through the live session of the JWT (null when the token lacks the aud "hms", the session is revoked or expired, or the user deactivated).';

/* ---------------------------------------------------------------------------------------------
 * Permission scope. hospitals.manage (and any later permission about the chain) is chain-level:
 * it is held only through the chain-scoped super admin role, never through a hospital role.
 */
alter table app_public.permissions add column scope text not null default 'hospital',
  add constraint permissions_scope_check check (scope in ('hospital', 'chain'));
comment on column app_public.permissions.scope is 'hospital: may enter a hospital role; chain: about the whole chain (e.g. hospitals.manage), held only by the super admin role.';
update app_public.permissions set scope = 'chain' where code in ('hospitals.manage');
select app_hidden.register_table('app_public.permissions', 'permission', policies => 'hand_written');

