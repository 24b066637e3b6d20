--! Previous: sha1:3c46baece9a6a56a007ec4e3daf695b48e52c520
--! Hash: sha1:a8007729d9f130283395acecc17423acfd0f3720

--! split: 0025-require-permission.sql
/*
 * One gate for every workflow RPC. The modules of migration 000004 each wrote the same prologue —
 * a live session with an active hospital (401 HMS_SESSION_INVALID), then the permission (403
 * HMS_FORBIDDEN) — as billing_require, appointments_require, sc_require, insurance_begin and
 * optical_begin. The check now lives once, in require_permission; the module names stay as
 * one-line delegates so the committed RPCs that call them need no rewrite. New RPCs call
 * app_hidden.require_permission directly.
 */
create or replace function app_hidden.require_permission(p_permission text, p_workflow text default null) returns uuid
language plpgsql
volatile
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
begin
  if v_hospital is null or app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in as a member of staff with an active hospital.', 401);
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the %s permission.', p_permission), 403,
      jsonb_build_object('permission', p_permission));
  end if;
  if p_workflow is not null then
    -- Marks this transaction's writes as the workflow's own (the guard triggers let them through).
    perform set_config('hms.workflow', p_workflow, true);
  end if;
  return v_hospital;
end;
$$;
comment on function app_hidden.require_permission(text, text) is
  'The gate of every workflow RPC: returns the active hospital, or raises 401 HMS_SESSION_INVALID / 403 HMS_FORBIDDEN; optionally marks the transaction as the named workflow (hms.workflow).';

create or replace function app_hidden.billing_require(p_permission text) returns uuid
language sql volatile as $$ select app_hidden.require_permission(p_permission) $$;
create or replace function app_hidden.appointments_require(p_permission text) returns uuid
language sql volatile as $$ select app_hidden.require_permission(p_permission) $$;
create or replace function app_hidden.sc_require(p_permission text) returns uuid
language sql volatile as $$ select app_hidden.require_permission(p_permission) $$;
create or replace function app_hidden.insurance_begin(p_permission text) returns uuid
language sql volatile as $$ select app_hidden.require_permission(p_permission, 'insurance') $$;
create or replace function app_hidden.optical_begin(p_permission text) returns uuid
language sql volatile as $$ select app_hidden.require_permission(p_permission, 'optical') $$;
