-- Every RPC of the API, as the members who may not call it: for each workflow RPC, a member of NY
-- holding no permission at all and a member holding every hospital permission but the one the RPC
-- needs are refused with 403 HMS_FORBIDDEN before anything happens, and a member holding just that
-- permission gets past the gate. The golden list below names each RPC's permission by hand (null:
-- every member of staff may call it), so a gate that moves, widens or disappears turns this red.
-- Anonymous callers may call login, refresh and the two password-link RPCs only. Tables: tests/db/security/isolation-matrix.
begin;
select plan(7);

create temporary table rpc_gate (rpc text primary key, permission text);
grant select on rpc_gate to public;
insert into rpc_gate (rpc, permission) values
  ('add_invoice_item', 'billing.write'),
  ('add_prescription_item', 'prescriptions.write'),
  ('amend_prescription', 'prescriptions.write'),
  ('apply_prescription_template', 'prescriptions.write'),
  ('approve_cycle_count', 'inventory.approve'),
  ('approve_doctor_leave', 'doctors.manage'),
  ('approve_pharmacy_return', 'pharmacy.return'),
  ('approve_purchase_order', 'inventory.approve'),
  ('approve_refund', 'billing.refund'),
  ('approve_stock_adjustment', 'inventory.approve'),
  ('available_slots', 'appointments.read'),
  ('book_appointment', 'appointments.manage'),
  ('cancel_appointment', 'appointments.manage'),
  ('cancel_claim', 'insurance.manage'),
  ('cancel_lab_order', 'lab.order'),
  ('cancel_optical_order', 'optical.manage'),
  ('cancel_prescription', 'prescriptions.write'),
  ('cancel_purchase_order', 'inventory.manage'),
  ('change_password', null),
  ('check_document_number', null),
  ('check_in_appointment', 'appointments.checkin'),
  ('collect_sample', 'lab.process'),
  ('complete_appointment', 'appointments.manage'),
  ('complete_cycle_count', 'inventory.manage'),
  ('confirm_optical_order', 'optical.manage'),
  ('create_claim', 'insurance.manage'),
  ('create_invoice', 'billing.write'),
  ('create_optical_order', 'optical.manage'),
  ('create_optical_prescription', 'optical.prescribe'),
  ('create_prescription', 'prescriptions.write'),
  ('create_prescription_template', 'prescriptions.write'),
  ('create_purchase_order', 'inventory.manage'),
  ('create_staff_account', 'users.manage'),
  ('decide_claim', 'insurance.manage'),
  ('decide_pre_authorization', 'insurance.manage'),
  ('deliver_optical_order', 'optical.manage'),
  ('dispense_otc', 'pharmacy.dispense'),
  ('dispense_prescription', 'pharmacy.dispense'),
  ('finalize_prescription', 'prescriptions.write'),
  ('issue_credit_note', 'billing.refund'),
  ('invite_user', 'users.manage'),
  ('issue_invoice', 'billing.write'),
  ('login', null),
  ('logout', null),
  ('mark_no_show', 'appointments.manage'),
  ('mark_order_in_production', 'optical.manage'),
  ('mark_order_ready', 'optical.manage'),
  ('me', null),
  ('order_lab_test', 'lab.order'),
  ('process_refund', 'billing.refund'),
  ('receive_goods', 'inventory.manage'),
  ('receive_repair', 'optical.manage'),
  ('record_claim_payment', 'insurance.manage'),
  ('record_count', 'inventory.manage'),
  ('record_lab_result', 'lab.process'),
  ('record_payment', 'billing.collect'),
  ('refresh', null),
  ('reject_doctor_leave', 'doctors.manage'),
  ('reject_pharmacy_return', 'pharmacy.return'),
  ('reject_refund', 'billing.refund'),
  ('reject_stock_adjustment', 'inventory.approve'),
  ('remove_prescription_item', 'prescriptions.write'),
  ('reopen_day', 'billing.settle'),
  ('report_lab_result', 'lab.process'),
  ('request_password_reset', null),
  ('request_pre_authorization', 'insurance.manage'),
  ('request_refund', 'billing.refund'),
  ('request_stock_adjustment', 'inventory.manage'),
  ('reschedule_appointment', 'appointments.manage'),
  ('return_dispensed_items', 'pharmacy.return'),
  ('search_medicines', 'medicines.read'),
  ('search_patients', 'patients.read'),
  ('search_suppliers', 'inventory.read'),
  ('send_purchase_order', 'inventory.manage'),
  ('send_to_lab', 'optical.manage'),
  ('set_password_with_token', null),
  ('settle_day', 'billing.settle'),
  ('start_appointment', 'appointments.manage'),
  ('start_cycle_count', 'inventory.manage'),
  ('start_lab_test', 'lab.process'),
  ('submit_claim', 'insurance.manage'),
  ('switch_hospital', null),
  ('update_my_profile', null),
  ('update_prescription', 'prescriptions.write'),
  ('update_repair_status', 'optical.manage'),
  ('verify_insurance_policy', 'insurance.manage'),
  ('void_credit_note', 'billing.void'),
  ('void_invoice', 'billing.void');

-- Identities of NY: nobody; for each permission P, only:P and without:P (every hospital permission but P).
create temporary table rpc_identity (name text primary key, email text not null, permissions text[] not null);
grant select on rpc_identity to public;
insert into rpc_identity
select 'nobody', 'rpcgate.nobody@hms.test', '{}'
union all
select 'only:' || g.permission, 'rpcgate.only.' || replace(g.permission, '.', '_') || '@hms.test', array[g.permission]
  from (select distinct permission from rpc_gate where permission is not null) g
union all
select 'without:' || g.permission, 'rpcgate.without.' || replace(g.permission, '.', '_') || '@hms.test',
       array(select p.code from app_public.permissions p where p.scope = 'hospital' and p.code <> g.permission order by 1)
  from (select distinct permission from rpc_gate where permission is not null) g;

insert into app_public.users (email, first_name, last_name, home_hospital_id)
select i.email, 'Gate', i.name, h.id from rpc_identity i cross join app_public.hospitals h where h.code = 'NY';
insert into app_public.roles (hospital_id, code, name)
select h.id, 'rg_' || md5(i.name), 'RPC gate ' || i.name from rpc_identity i cross join app_public.hospitals h where h.code = 'NY';
insert into app_public.role_permissions (role_id, permission_id)
select r.id, p.id
  from rpc_identity i
  join app_public.roles r on r.code = 'rg_' || md5(i.name)
  join app_public.permissions p on p.code = any (i.permissions);
insert into app_public.user_roles (user_id, role_id, hospital_id)
select u.id, r.id, r.hospital_id
  from rpc_identity i join app_public.users u on u.email = i.email join app_public.roles r on r.code = 'rg_' || md5(i.name);

-- A call of the RPC with every argument null: the gate is the first thing every workflow does.
create function pg_temp.null_call(p_rpc text) returns text language sql stable as $$
  select format('select app_public.%I(%s)', p.proname,
                coalesce((select string_agg('null::' || format_type(t, null), ', ' order by n)
                            from unnest(p.proargtypes::oid[]) with ordinality a(t, n)), ''))
    from pg_proc p where p.pronamespace = 'app_public'::regnamespace and p.proname = p_rpc;
$$;
grant execute on function pg_temp.null_call(text) to public;

create temporary table rpc_outcome (rpc text, who text, outcome text);
grant all on rpc_outcome to public;
do $$
declare
  g record;
  i record;
  v_outcome text;
begin
  for g in select * from rpc_gate order by rpc loop
    for i in select * from rpc_identity
              where name = 'nobody' or (g.permission is not null and name in ('only:' || g.permission, 'without:' || g.permission)) loop
      v_outcome := tests.try_as(i.email, pg_temp.null_call(g.rpc), true);
      insert into rpc_outcome values (g.rpc, i.name, v_outcome);
    end loop;
    perform tests.authenticate_as_anonymous();
    v_outcome := tests.try(pg_temp.null_call(g.rpc), true);
    perform tests.clear_authentication();
    insert into rpc_outcome values (g.rpc, 'anonymous', v_outcome);
  end loop;
end;
$$;

select is(array(select p.proname::text from pg_proc p where p.pronamespace = 'app_public'::regnamespace
                except select rpc from rpc_gate order by 1),
          '{}'::text[], 'every RPC of the API is in the golden list of gates');
select is(array(select rpc from rpc_gate except select p.proname::text from pg_proc p where p.pronamespace = 'app_public'::regnamespace order by 1),
          '{}'::text[], 'and the list names no RPC that does not exist');
select is(array(select o.rpc || ': ' || o.outcome from rpc_outcome o join rpc_gate g using (rpc)
                 where g.permission is not null and o.who = 'nobody' and o.outcome <> 'HMS_FORBIDDEN/403' order by 1),
          '{}'::text[], 'every gated RPC refuses a member holding no permission (403 HMS_FORBIDDEN)');
select is(array(select o.rpc || ': ' || o.outcome from rpc_outcome o join rpc_gate g using (rpc)
                 where o.who = 'without:' || g.permission and o.outcome <> 'HMS_FORBIDDEN/403' order by 1),
          '{}'::text[], 'every gated RPC refuses a member holding every other hospital permission (403 HMS_FORBIDDEN)');
select is(array(select o.rpc || ': ' || o.outcome from rpc_outcome o join rpc_gate g using (rpc)
                 where o.who = 'only:' || g.permission and o.outcome like 'HMS_FORBIDDEN%' order by 1),
          '{}'::text[], 'the permission the list names is enough to pass each gate');
select is(array(select o.rpc || ': ' || o.outcome from rpc_outcome o join rpc_gate g using (rpc)
                 where g.permission is null and o.who = 'nobody' and o.outcome like 'HMS_FORBIDDEN%' order by 1),
          '{}'::text[], 'the ungated RPCs (identity, one''s profile, available checks) answer every member of staff');
select is(array(select o.rpc from rpc_outcome o where o.who = 'anonymous' and o.outcome not like 'E:42501%' order by 1),
          array['login', 'refresh', 'request_password_reset', 'set_password_with_token'],
          'an anonymous caller may call login, refresh, request_password_reset and set_password_with_token only');

select * from finish();
rollback;
