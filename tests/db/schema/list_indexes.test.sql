-- Every list a member of staff opens on a big table is served by an index, under RLS: the first
-- page costs its 25 (or 50) rows, whatever the size of the hospital. For each list below, planned
-- as a member of staff of NY (the policies applied, the planner forbidden sequential scans and
-- sorts), no node may be a Seq Scan or a Sort, and every index scan must be bounded by the
-- hospital (an Index Cond on hospital_id, put there by the tenant policy) — so an index read
-- whole with a filter, or a policy the planner cannot turn into an index condition (an OR), fails.
-- The filters are written as PostgREST sends them (`is_deleted=is.false` is `is_deleted IS FALSE`,
-- which a partial index `where not is_deleted` cannot serve: migration 000017).
-- The plans do not depend on the demo data's size: sequential scans and sorts are disabled.
-- The generated 1,000,000-patient chain runs the same lists in `npm run bench`.
begin;
select plan(22);

/** The plan's nodes as "Node Type [index] {Index Cond} <where partial index predicate>" lines, planned as p_email (a session of theirs). */
create function pg_temp.page_plan(p_email text, p_sql text) returns text[]
language plpgsql
set enable_seqscan = off
set enable_sort = off
set enable_bitmapscan = off
as $$
declare
  v_plan jsonb;
begin
  perform tests.authenticate_as(p_email);
  execute 'explain (format json) ' || p_sql into v_plan;
  perform tests.clear_authentication();
  return array(
    select concat_ws(' ', n ->> 'Node Type', '[' || (n ->> 'Index Name') || ']', '{' || (n ->> 'Index Cond') || '}',
                     '<where ' || (select pg_get_expr(i.indpred, i.indrelid) from pg_index i join pg_class c on c.oid = i.indexrelid
                                    where c.relname = n ->> 'Index Name' and i.indpred is not null) || '>')
      from jsonb_path_query(v_plan, 'strict $.** ? (exists (@."Node Type"))') n);
end;
$$;

/** No node is a Seq Scan or a Sort and every index scan is bounded by the hospital (its condition, or a partial index's WHERE). */
create function pg_temp.bounded(p_plan text[]) returns boolean
language sql as $$
  select not exists (select 1 from unnest(p_plan) line
                      where line ~ '^(Seq Scan|Sort|Incremental Sort)'
                         or (line ~ '^Index (Only )?Scan' and line !~ '(\{|<where ).*hospital_id (=|IS NULL)'));
$$;

/** The NY administrator's list (p_email: someone else's). */
create function pg_temp.uses_index(p_sql text, p_description text, p_email text default 'admin.ny@hms.test') returns text
language sql as $$
  select ok(pg_temp.bounded(plan), p_description || ' — ' || array_to_string(plan, '; '))
    from (select pg_temp.page_plan(p_email, p_sql) as plan) p;
$$;

-- Reception
select pg_temp.uses_index($$select * from app_public.patients where is_deleted is false order by last_name, first_name limit 25$$,
  'patients in name order');
select pg_temp.uses_index($$select * from app_public.patients where is_deleted is false order by registration_date desc limit 25$$,
  'patients, latest registrations first');
select pg_temp.uses_index($$select * from app_public.appointments where is_deleted is false
                              and scheduled_start >= date_trunc('day', now()) and scheduled_start < date_trunc('day', now()) + interval '1 day'
                            order by scheduled_start limit 25$$,
  'today''s appointments of the hospital');
select pg_temp.uses_index($$select * from app_public.appointments where is_deleted is false and status = 'checked_in' order by scheduled_start limit 25$$,
  'the queue: checked-in patients by appointment time');
select pg_temp.uses_index($$select * from app_public.appointments where doctor_id = '10000000-0000-4000-8000-000000000001'
                              and scheduled_start >= date_trunc('day', now()) order by scheduled_start limit 25$$,
  'a doctor''s coming appointments');
select pg_temp.uses_index($$select * from app_public.appointment_status_log where appointment_id = '10000000-0000-4000-8000-000000000001' order by changed_at$$,
  'the status history of an appointment');
-- Doctor and pharmacy
select pg_temp.uses_index($$select * from app_public.prescriptions where is_deleted is false order by prescribed_at desc limit 25$$,
  'prescriptions, newest first');
select pg_temp.uses_index($$select * from app_public.prescriptions where is_deleted is false and status = 'finalized' order by prescribed_at limit 25$$,
  'prescriptions waiting at the pharmacy');
select pg_temp.uses_index($$select * from app_public.pharmacy_dispensing where is_deleted is false order by dispensed_at desc limit 25$$,
  'dispensings, newest first');
select pg_temp.uses_index($$select * from app_public.medicine_batches where quantity_on_hand > 0 order by expiry_date limit 25$$,
  'batches in stock, nearest expiry first');
select pg_temp.uses_index($$select * from app_public.stock_movements order by occurred_at desc limit 25$$,
  'the stock ledger, newest first (every month''s partition)');
-- Lab
select pg_temp.uses_index($$select * from app_public.lab_orders where is_deleted is false and status = 'ordered' order by priority, ordered_at limit 25$$,
  'the lab''s work list');
-- Billing
select pg_temp.uses_index($$select * from app_public.invoices order by invoice_date desc limit 25$$,
  'invoices, newest first');
select pg_temp.uses_index($$select * from app_public.invoices where status in ('issued', 'partially_paid') and is_deleted is false order by due_date limit 25$$,
  'outstanding invoices by due date');
select pg_temp.uses_index($$select * from app_public.payments order by payment_date desc limit 25$$,
  'payments, newest first');
select pg_temp.uses_index($$select * from app_public.insurance_claims
                             where status in ('submitted', 'under_review', 'approved', 'partially_approved') and is_deleted is false order by submitted_at limit 25$$,
  'claims awaiting the insurer');
-- Stores
select pg_temp.uses_index($$select * from app_public.purchase_orders where is_deleted is false order by order_date desc limit 25$$,
  'purchase orders, newest first');
-- Administration
select pg_temp.uses_index($$select * from app_public.audit_logs where occurred_at >= date_trunc('day', now()) order by occurred_at desc limit 50$$,
  'today''s audit trail, newest first');
select pg_temp.uses_index($$select * from app_public.audit_logs where table_name = 'patients' and record_id = '10000000-0000-4000-8000-000000000001' order by occurred_at desc$$,
  'the audit trail of one record');
select pg_temp.uses_index($$select * from app_public.notification_queue where status = 'dead' order by created_at desc limit 25$$,
  'notifications that could not be delivered');

-- The super admin's chain-level trail: bounded by "no hospital" (the same index).
select pg_temp.uses_index($$select * from app_public.chain_audit_logs where occurred_at >= date_trunc('day', now()) order by occurred_at desc limit 50$$,
  'the chain-level audit trail of today', 'superadmin@hms.test');

-- The check itself catches what it is for: an OR in a policy (the audit policy as it was).
alter policy select_with_permission on app_public.audit_logs
  using (hospital_id = (select app_hidden.current_hospital_id()) and (select app_hidden.has_permission('audit.read'))
         or hospital_id is null and (select app_hidden.is_super_admin()));
select ok(not pg_temp.bounded(pg_temp.page_plan('admin.ny@hms.test', $$select * from app_public.audit_logs where occurred_at >= date_trunc('day', now()) order by occurred_at desc limit 50$$)),
  'with an OR in the audit policy, today''s trail is no longer bounded by the hospital (the check fails)');

select * from finish();
rollback;
