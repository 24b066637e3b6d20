-- The chain-level audit trail (events of no hospital) is read through app_public.chain_audit_logs,
-- by the super admin only; audit_logs' policy is one equality on the active hospital (so a page of
-- the trail uses the (hospital_id, occurred_at) index, see tests/db/schema/list_indexes.test.sql).
-- Its own fixtures: one chain-level event and one event of each demo hospital.
begin;
select plan(11);

do $$
begin
  perform app_private.write_audit_log('other', p_description => 'chain-trail probe: chain');
  perform app_private.write_audit_log('other', p_hospital_id => h.id, p_description => 'chain-trail probe: ' || h.code)
     from app_public.hospitals h where h.code in ('NY', 'LA');
end;
$$;

-- The view runs with its owner's rights, its WHERE being its rule: it must stay a barrier, so a
-- caller's leaky filter never sees the rows that rule removes.
select ok((select 'security_barrier=true' = any(c.reloptions) from pg_class c where c.oid = 'app_public.chain_audit_logs'::regclass),
  'chain_audit_logs is a security_barrier view');
select is((select array_agg(privilege_type::text order by privilege_type) from information_schema.role_table_grants
            where table_schema = 'app_public' and table_name = 'chain_audit_logs' and grantee in ('hms_staff', 'hms_anonymous', 'PUBLIC')),
  array['SELECT'], 'staff may only select from it; the anonymous role not at all');

-- The super admin: the chain-level events in the view, not in audit_logs.
select tests.authenticate_as('superadmin@hms.test');
select is((select array_agg(description) from app_public.chain_audit_logs where description like 'chain-trail probe:%'),
  array['chain-trail probe: chain'], 'the super admin reads the chain-level events in chain_audit_logs, and only those');
select is((select count(*)::int from app_public.audit_logs where description = 'chain-trail probe: chain'), 0,
  '… and no longer through audit_logs');
select is((select count(*)::int from app_public.chain_audit_logs where occurred_at >= now() - interval '1 minute' and description like 'chain-trail probe:%'), 1,
  '… filters on occurred_at apply to the view');

-- A hospital administrator with audit.read: the hospital's trail, no chain-level event.
select tests.authenticate_as('admin.ny@hms.test');
select ok(app_hidden.has_permission('audit.read'), 'the NY administrator holds audit.read');
select is((select count(*)::int from app_public.chain_audit_logs), 0, 'a hospital administrator reads no chain-level event');
select is((select array_agg(description order by description) from app_public.audit_logs where description like 'chain-trail probe:%'),
  array['chain-trail probe: NY'], '… and in audit_logs only the active hospital''s');

-- A member of staff without audit.read, and a caller without a token.
select tests.authenticate_as('reception.ny@hms.test');
select is((select count(*)::int from app_public.chain_audit_logs), 0, 'a receptionist reads no chain-level event');
select is((select count(*)::int from app_public.audit_logs where description like 'chain-trail probe:%'), 0, '… and no audit row');
select tests.authenticate_as_anonymous();
select is(tests.try($$select 1 from app_public.chain_audit_logs$$), 'E:42501', 'without a token: permission denied');

select tests.clear_authentication();
select * from finish();
rollback;
