--! Previous: sha1:bc372d5be7d3fa9b11156454a3477974a74954c0
--! Hash: sha1:68422b38ff417648c0a46da730b6310c1d11298b

--! split: 1-current.sql
/*
 * Where a change came in, told right in the audit trail: GraphQL (PostGraphile sets request.path
 * to /graphql, as PostgREST sets it to its own path), REST, the worker (its own login role, seen
 * as the session's user even inside the owner's functions) or a direct SQL session.
 */
create or replace function app_private.request_api()
returns text
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select case
           when nullif(current_setting('request.path', true), '') = '/graphql' then 'graphql'
           when nullif(current_setting('request.method', true), '') is not null then 'rest'
           when session_user::text = ':DATABASE_WORKER' then 'worker'
           else 'sql'
         end;
$$;
comment on function app_private.request_api() is 'The API a request came in through, for audit_logs.api: graphql, rest, worker or sql.';
revoke execute on function app_private.request_api() from public;

CREATE OR REPLACE FUNCTION app_private.write_audit_log(p_action text, p_table_name text DEFAULT NULL::text, p_record_id uuid DEFAULT NULL::uuid, p_hospital_id uuid DEFAULT NULL::uuid, p_old_values jsonb DEFAULT NULL::jsonb, p_new_values jsonb DEFAULT NULL::jsonb, p_changed_columns text[] DEFAULT NULL::text[], p_description text DEFAULT NULL::text, p_user_id uuid DEFAULT NULL::uuid)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
declare
  v_headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
begin
  insert into app_public.audit_logs
    (hospital_id, user_id, session_id, action, table_name, record_id, old_values, new_values, changed_columns,
     request_id, client_address, user_agent, api, description)
  values
    (coalesce(p_hospital_id, app_hidden.current_hospital_id()),
     coalesce(p_user_id, app_hidden.current_user_id()),
     app_hidden.current_session_id(),
     p_action, p_table_name, p_record_id, p_old_values, p_new_values, p_changed_columns,
     left(v_headers ->> 'x-request-id', 200), app_private.request_client_address(), left(v_headers ->> 'user-agent', 500),
     app_private.request_api(),
     p_description);
end;
$function$;
