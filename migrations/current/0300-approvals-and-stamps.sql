--! split: 0300-approvals-and-stamps.sql
/*
 * Approvals, workflow-only states and stamps: one rule for each, in the status machine.
 *
 * 1. Every state that records a decision (approved, rejected, issued, void) is reached only
 *    through its workflow RPC: the step carries `via`, so a plain INSERT or PATCH meets 409
 *    HMS_WORKFLOW_REQUIRED (tg__status_machine). A golden list in tests/db/security/approvals
 *    pins the steps a PATCH may still take, so a new plain step is a visible decision.
 * 2. Four eyes is declared on the step, not coded per RPC: `distinct_from` names the columns
 *    holding the users who may not take it (the requester, the one who raised or counted it).
 *    The status machine compares them with the session's user, inside workflows too, and
 *    refuses with 409 HMS_APPROVAL_BY_OTHER_USER. Those columns are stamps or bookkeeping
 *    (created_by) set from the session, never from the request, so the comparison is between
 *    session users.
 * 3. A completed financial record changes only through the document that reverses it: a
 *    completed payment by a refund, an approved refund by processing, an issued invoice by a
 *    credit note or void_invoice, an issued credit note by void_credit_note (document locks).
 * 4. Stamps that were still client-writable are closed: who uploaded a document, when a card was
 *    issued or a patient checked in, when a policy was verified.
 */

/* ---- 2. Four eyes on the step ----------------------------------------------------------- */
alter table app_hidden.status_transitions add column if not exists distinct_from text[];
comment on column app_hidden.status_transitions.distinct_from is
  'Four eyes: columns naming users (the requester, the creator, the counter) who may not take this step; the acting user must differ from each (409 HMS_APPROVAL_BY_OTHER_USER, inside workflows too).';

create or replace function app_hidden.declare_status_machine(p_table regclass, p_steps jsonb) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_column text;
begin
  delete from app_hidden.status_transitions t where t.table_name = v_name;
  insert into app_hidden.status_transitions (table_name, from_status, to_status, via, permission, stamp_at, stamp_by, reason_column, distinct_from)
  select v_name, s."from", s."to", s.via, s.permission, s.stamp_at, s.stamp_by, s.reason, s.distinct_from
    from jsonb_to_recordset(p_steps) as s("from" text, "to" text, via text, permission text, stamp_at text, stamp_by text, reason text, distinct_from text[]);
  -- Every column named must exist.
  for v_column in
    select distinct c from app_hidden.status_transitions t
     cross join lateral unnest(array[t.stamp_at, t.stamp_by, t.reason_column] || coalesce(t.distinct_from, '{}')) c
     where t.table_name = v_name and c is not null
  loop
    if not exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = v_column and not a.attisdropped) then
      raise exception 'status machine of %: no column %', p_table, v_column;
    end if;
  end loop;
end;
$$;
comment on function app_hidden.declare_status_machine(regclass, jsonb) is
  E'Declares the legal status steps of a table (replacing its previous ones): [{"from", "to", "via", "permission", "stamp_at", "stamp_by", "reason", "distinct_from": [columns]}]; register_table installs the trigger that enforces them.';

/*
 * BEFORE INSERT OR UPDATE OF status (_150_status_machine): the one enforcement of every status
 * machine. For writes with a session (client writes and workflow RPCs):
 *   - the step must be declared, else 409 HMS_ILLEGAL_TRANSITION (a new row by a client must start
 *     in a declared initial status; workflow RPCs may create rows in any declared status);
 *   - a step with `via` is taken only inside a workflow RPC, else 409 HMS_WORKFLOW_REQUIRED;
 *   - a step with a permission needs it, else 403 HMS_FORBIDDEN;
 *   - a step with distinct_from is not taken by the user any of those columns names, else 409
 *     HMS_APPROVAL_BY_OTHER_USER (workflows included: four eyes binds the RPC as much as a PATCH);
 *   - a step with a reason column needs a reason, else 422 HMS_REASON_REQUIRED;
 *   - stamp_at / stamp_by are set from the business clock and the session, unconditionally.
 * The owner without a session (demo data, migrations, maintenance) is trusted with everything but
 * an undeclared step of an existing row: it may insert rows in any status and take workflow-only
 * steps, but a completed appointment is not reopened by anyone (DESIGN.md §8, legal state changes).
 */
create or replace function app_hidden.tg__status_machine() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_from text;
  v_step app_hidden.status_transitions;
  v_patch jsonb := '{}';
  v_column text;
begin
  if TG_OP = 'INSERT' and (v_user is null or not app_hidden.policies_may_admit(TG_RELID, to_jsonb(NEW))) then
    return NEW;  -- the owner may insert in any status; a writer the policies refuse meets 42501
  end if;
  if TG_OP = 'UPDATE' then
    if NEW.status is not distinct from OLD.status then
      return NEW;
    end if;
    v_from := OLD.status;
  end if;
  select * into v_step from app_hidden.status_transitions t
   where t.table_name = TG_TABLE_NAME and t.from_status is not distinct from v_from and t.to_status = NEW.status;
  if not found then
    if TG_OP = 'INSERT' and app_hidden.in_workflow()
       and exists (select 1 from app_hidden.status_transitions t where t.table_name = TG_TABLE_NAME and t.to_status = NEW.status) then
      return NEW;  -- a workflow records a row in a later status (e.g. a completed payment)
    end if;
    perform app_hidden.raise_illegal_transition(TG_RELID, v_from, NEW.status);
  end if;
  if v_user is null then
    return NEW;
  end if;
  if v_step.via is not null and not app_hidden.in_workflow() then
    perform app_hidden.raise_error('HMS_WORKFLOW_REQUIRED',
      format('%s goes to %s only through %s.', app_hidden.a_or_an(app_hidden.entity_of(TG_RELID), true), NEW.status, v_step.via),
      jsonb_build_object('entity', replace(app_hidden.entity_of(TG_RELID), ' ', '_'), 'to', NEW.status, 'use', v_step.via));
  end if;
  if v_step.permission is not null and not app_hidden.has_permission(v_step.permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN',
      format('Moving %s to %s needs the %s permission.', app_hidden.a_or_an(app_hidden.entity_of(TG_RELID)), NEW.status, v_step.permission),
      jsonb_build_object('permission', v_step.permission));
  end if;
  if TG_OP = 'UPDATE' then
    foreach v_column in array coalesce(v_step.distinct_from, '{}') loop
      if (to_jsonb(OLD) ->> v_column)::uuid = v_user then
        perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
          format('You %s this %s yourself: another member of staff must move it to %s.',
                 case v_column when 'created_by' then 'created' when 'requested_by' then 'requested'
                               when 'received_by' then 'received' when 'counted_by' then 'counted'
                               else regexp_replace(v_column, '_by$', '') end,
                 app_hidden.entity_of(TG_RELID), NEW.status),
          jsonb_build_object('entity', replace(app_hidden.entity_of(TG_RELID), ' ', '_'), 'to', NEW.status,
                             'column', v_column, 'user_id', v_user));
      end if;
    end loop;
  end if;
  if v_step.reason_column is not null and nullif(trim(to_jsonb(NEW) ->> v_step.reason_column), '') is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED',
      format('Say why the %s goes to %s (%s).', app_hidden.entity_of(TG_RELID), NEW.status, v_step.reason_column),
      jsonb_build_object('field', v_step.reason_column));
  end if;
  if v_step.stamp_at is not null then
    v_patch := v_patch || jsonb_build_object(v_step.stamp_at, app_hidden.now());
  end if;
  if v_step.stamp_by is not null then
    v_patch := v_patch || jsonb_build_object(v_step.stamp_by, v_user);
  end if;
  if v_patch <> '{}' then
    NEW := jsonb_populate_record(NEW, v_patch);
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__status_machine() is
  'BEFORE INSERT/UPDATE OF status (_150_status_machine): legal steps only (HMS_ILLEGAL_TRANSITION), workflow-only steps (HMS_WORKFLOW_REQUIRED), step permissions (HMS_FORBIDDEN), four eyes (HMS_APPROVAL_BY_OTHER_USER), reasons (HMS_REASON_REQUIRED); stamps who and when from the session.';

/* ---- 1. Decisions through their RPCs; four eyes declared -------------------------------- */
select app_hidden.declare_status_machine('app_public.invoices', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "issued", "via": "issue_invoice", "stamp_at": "issued_at", "stamp_by": "issued_by"},
  {"from": "draft", "to": "void", "via": "void_invoice", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "void", "via": "void_invoice", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "partially_paid", "via": "record_payment"},
  {"from": "issued", "to": "paid", "via": "record_payment"},
  {"from": "partially_paid", "to": "paid", "via": "record_payment"},
  {"from": "paid", "to": "partially_paid", "via": "process_refund"},
  {"from": "partially_paid", "to": "refunded", "via": "process_refund"},
  {"from": "paid", "to": "refunded", "via": "process_refund"}
]$json$);
-- A completed payment is reversed by a refund, never cancelled.
select app_hidden.declare_status_machine('app_public.payments', $json$[
  {"from": null, "to": "pending", "stamp_by": "received_by"},
  {"from": null, "to": "completed", "via": "record_payment", "stamp_by": "received_by"},
  {"from": "pending", "to": "failed"},
  {"from": "pending", "to": "cancelled", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);
-- Four eyes on refunds depends on the amount (hospital_settings.refund_approval_threshold): tg_refunds__four_eyes.
select app_hidden.declare_status_machine('app_public.refunds', $json$[
  {"from": null, "to": "requested", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "requested", "to": "approved", "via": "approve_refund", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "via": "reject_refund", "reason": "rejection_reason", "stamp_at": "rejected_at", "stamp_by": "rejected_by"},
  {"from": "approved", "to": "processed", "via": "process_refund", "stamp_at": "processed_at", "stamp_by": "processed_by"}
]$json$);
select app_hidden.declare_status_machine('app_public.credit_notes', $json$[
  {"from": null, "to": "draft"},
  {"from": null, "to": "issued", "via": "issue_credit_note", "stamp_at": "issued_at", "stamp_by": "issued_by"},
  {"from": "draft", "to": "void", "via": "void_credit_note", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "void", "via": "void_credit_note", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"}
]$json$);
select app_hidden.declare_status_machine('app_public.doctor_leaves', $json$[
  {"from": null, "to": "requested"},
  {"from": "requested", "to": "approved", "via": "approve_doctor_leave", "distinct_from": ["created_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "via": "reject_doctor_leave", "reason": "rejection_reason"},
  {"from": "requested", "to": "cancelled", "stamp_at": "cancelled_at"},
  {"from": "approved", "to": "cancelled", "stamp_at": "cancelled_at"}
]$json$);
select app_hidden.declare_status_machine('app_public.pharmacy_returns', $json$[
  {"from": null, "to": "requested", "stamp_by": "received_by"},
  {"from": null, "to": "completed", "via": "return_dispensed_items", "stamp_at": "completed_at", "stamp_by": "received_by"},
  {"from": "requested", "to": "approved", "via": "approve_pharmacy_return", "distinct_from": ["received_by", "created_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "via": "reject_pharmacy_return", "reason": "rejection_reason"},
  {"from": "approved", "to": "rejected", "via": "reject_pharmacy_return", "reason": "rejection_reason"}
]$json$);
select app_hidden.declare_status_machine('app_public.purchase_orders', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "approved", "via": "approve_purchase_order", "permission": "inventory.approve", "distinct_from": ["created_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "approved", "to": "sent", "via": "send_purchase_order", "stamp_at": "sent_at"},
  {"from": "approved", "to": "partially_received", "via": "receive_goods"},
  {"from": "approved", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "sent", "to": "partially_received", "via": "receive_goods"},
  {"from": "sent", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "partially_received", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "draft", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "approved", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "sent", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);
select app_hidden.declare_status_machine('app_public.stock_adjustments', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "pending_approval", "via": "request_stock_adjustment", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "pending_approval", "to": "approved", "via": "approve_stock_adjustment", "permission": "inventory.approve", "distinct_from": ["requested_by", "created_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "pending_approval", "to": "rejected", "via": "reject_stock_adjustment", "permission": "inventory.approve", "reason": "rejection_reason", "stamp_at": "rejected_at", "stamp_by": "rejected_by"}
]$json$);
select app_hidden.declare_status_machine('app_public.cycle_counts', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "counting", "via": "start_cycle_count", "stamp_at": "started_at"},
  {"from": "counting", "to": "counted", "via": "complete_cycle_count", "stamp_at": "completed_at", "stamp_by": "counted_by"},
  {"from": "counted", "to": "approved", "via": "approve_cycle_count", "permission": "inventory.approve", "distinct_from": ["created_by", "counted_by"], "stamp_at": "approved_at", "stamp_by": "approved_by"}
]$json$);
-- Cards: revocation is stamped from the session and needs a reason.
select app_hidden.declare_status_machine('app_public.id_cards', $json$[
  {"from": null, "to": "active"},
  {"from": "active", "to": "lost"},
  {"from": "active", "to": "replaced"},
  {"from": "lost", "to": "replaced"},
  {"from": "active", "to": "expired"},
  {"from": "active", "to": "revoked", "reason": "revocation_reason", "stamp_at": "revoked_at", "stamp_by": "revoked_by"},
  {"from": "lost", "to": "revoked", "reason": "revocation_reason", "stamp_at": "revoked_at", "stamp_by": "revoked_by"}
]$json$);
-- The queue board: called and in consultation are stamped; the appointment's own steps move it too.
select app_hidden.declare_status_machine('app_public.appointment_queue', $json$[
  {"from": null, "to": "waiting"},
  {"from": "waiting", "to": "called", "stamp_at": "called_at"},
  {"from": "skipped", "to": "called", "stamp_at": "called_at"},
  {"from": "called", "to": "waiting"},
  {"from": "skipped", "to": "waiting"},
  {"from": "waiting", "to": "skipped"},
  {"from": "called", "to": "skipped"},
  {"from": "waiting", "to": "in_consultation", "stamp_at": "consultation_started_at"},
  {"from": "called", "to": "in_consultation", "stamp_at": "consultation_started_at"},
  {"from": "skipped", "to": "in_consultation", "stamp_at": "consultation_started_at"},
  {"from": "waiting", "to": "completed", "stamp_at": "completed_at"},
  {"from": "called", "to": "completed", "stamp_at": "completed_at"},
  {"from": "skipped", "to": "completed", "stamp_at": "completed_at"},
  {"from": "in_consultation", "to": "completed", "stamp_at": "completed_at"},
  {"from": "waiting", "to": "cancelled"},
  {"from": "called", "to": "cancelled"},
  {"from": "skipped", "to": "cancelled"},
  {"from": "in_consultation", "to": "cancelled"},
  {"from": "waiting", "to": "no_show"},
  {"from": "called", "to": "no_show"},
  {"from": "skipped", "to": "no_show"}
]$json$);

/* The approval RPCs whose four-eyes check the status machine now makes. */
create or replace function app_public.approve_purchase_order(po_id uuid)
returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_po app_public.purchase_orders := app_hidden.lock_or_404(null::app_public.purchase_orders, po_id);
begin
  perform app_hidden.require_transition('app_public.purchase_orders', v_po.status, 'approved');
  update app_public.purchase_orders po set status = 'approved' where po.id = v_po.id and po.hospital_id = v_hospital
  returning * into v_po;
  return v_po;
end;
$$;

create or replace function app_public.approve_stock_adjustment(adjustment_id uuid)
returns app_public.stock_adjustments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_adj app_public.stock_adjustments := app_hidden.lock_or_404(null::app_public.stock_adjustments, approve_stock_adjustment.adjustment_id);
begin
  perform app_hidden.require_transition('app_public.stock_adjustments', v_adj.status, 'approved');
  -- The status first: its four-eyes check refuses before any stock moves.
  update app_public.stock_adjustments a set status = 'approved' where a.id = v_adj.id returning * into v_adj;
  insert into app_public.stock_movements
    (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
     adjustment_id, reason)
  values (v_hospital, case when v_adj.quantity_change > 0 then 'adjustment_increase' else 'adjustment_decrease' end,
          v_adj.item_type, v_adj.medicine_id, v_adj.batch_id, v_adj.optical_product_id, v_adj.quantity_change, 0, v_adj.unit_cost,
          v_adj.id, format('Stock adjustment %s (%s).', v_adj.adjustment_number, v_adj.reason));
  return v_adj;
end;
$$;

create or replace function app_public.approve_cycle_count(cycle_count_id uuid)
returns app_public.cycle_counts
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_count app_public.cycle_counts := app_hidden.lock_or_404(null::app_public.cycle_counts, approve_cycle_count.cycle_count_id);
  v_item app_public.cycle_count_items;
begin
  perform app_hidden.require_transition('app_public.cycle_counts', v_count.status, 'approved');
  -- The status first: its four-eyes check refuses before any stock moves.
  update app_public.cycle_counts c set status = 'approved' where c.id = v_count.id;
  for v_item in
    select * from app_public.cycle_count_items i
     where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id and i.variance_quantity <> 0
     order by i.created_at, i.id
  loop
    insert into app_public.stock_movements
      (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
       cycle_count_item_id, reason)
    values (v_hospital, 'cycle_count_variance', v_item.item_type, v_item.medicine_id, v_item.batch_id, v_item.optical_product_id,
            v_item.variance_quantity, 0, v_item.unit_cost, v_item.id,
            format('Cycle count %s variance%s.', v_count.count_number, coalesce(': ' || v_item.reason, '')));
  end loop;
  select * into v_count from app_public.cycle_counts c where c.id = v_count.id;
  return v_count;
end;
$$;

/* New workflow RPCs for the decisions that were plain PATCHes. */
create or replace function app_public.void_credit_note(credit_note_id uuid, reason text)
returns app_public.credit_notes
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.void');
  v_row app_public.credit_notes := app_hidden.lock_or_404(null::app_public.credit_notes, void_credit_note.credit_note_id);
begin
  perform app_hidden.require_transition('app_public.credit_notes', v_row.status, 'void');
  update app_public.credit_notes c set status = 'void', void_reason = nullif(trim(void_credit_note.reason), '')
   where c.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.void_credit_note(uuid, text) is
  'Voids a draft or issued credit note with a reason (voided_at/by stamped; an issued one no longer reduces its invoice). Needs billing.void. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
revoke execute on function app_public.void_credit_note(uuid, text) from public;
grant execute on function app_public.void_credit_note(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.approve_doctor_leave(leave_id uuid)
returns app_public.doctor_leaves
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('doctors.manage');
  v_row app_public.doctor_leaves := app_hidden.lock_or_404(null::app_public.doctor_leaves, approve_doctor_leave.leave_id);
begin
  perform app_hidden.require_transition('app_public.doctor_leaves', v_row.status, 'approved');
  -- A doctor who also manages doctors does not approve their own leave.
  if exists (select 1 from app_public.doctors d
              where d.hospital_id = v_hospital and d.id = v_row.doctor_id and d.user_id = app_hidden.current_user_id()) then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      'This is your own leave: another member of staff must approve it.',
      jsonb_build_object('entity', 'doctor_leave', 'to', 'approved', 'column', 'doctor_id'));
  end if;
  update app_public.doctor_leaves l set status = 'approved' where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.approve_doctor_leave(uuid) is
  'Approves a requested leave of a doctor (approved_at/by stamped); not by the member of staff who recorded it nor by the doctor on leave. Needs doctors.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_APPROVAL_BY_OTHER_USER.';
revoke execute on function app_public.approve_doctor_leave(uuid) from public;
grant execute on function app_public.approve_doctor_leave(uuid) to :DATABASE_STAFF;

create or replace function app_public.reject_doctor_leave(leave_id uuid, reason text)
returns app_public.doctor_leaves
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('doctors.manage');
  v_row app_public.doctor_leaves := app_hidden.lock_or_404(null::app_public.doctor_leaves, reject_doctor_leave.leave_id);
begin
  perform app_hidden.require_transition('app_public.doctor_leaves', v_row.status, 'rejected');
  update app_public.doctor_leaves l set status = 'rejected', rejection_reason = nullif(trim(reject_doctor_leave.reason), '')
   where l.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reject_doctor_leave(uuid, text) is
  'Rejects a requested leave of a doctor with a reason. Needs doctors.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
revoke execute on function app_public.reject_doctor_leave(uuid, text) from public;
grant execute on function app_public.reject_doctor_leave(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.approve_pharmacy_return(return_id uuid)
returns app_public.pharmacy_returns
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.return');
  v_row app_public.pharmacy_returns := app_hidden.lock_or_404(null::app_public.pharmacy_returns, approve_pharmacy_return.return_id);
begin
  perform app_hidden.require_transition('app_public.pharmacy_returns', v_row.status, 'approved');
  update app_public.pharmacy_returns r set status = 'approved' where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.approve_pharmacy_return(uuid) is
  'Approves a requested pharmacy return (approved_at/by stamped); not by the member of staff who received it. Needs pharmacy.return. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_APPROVAL_BY_OTHER_USER.';
revoke execute on function app_public.approve_pharmacy_return(uuid) from public;
grant execute on function app_public.approve_pharmacy_return(uuid) to :DATABASE_STAFF;

create or replace function app_public.reject_pharmacy_return(return_id uuid, reason text)
returns app_public.pharmacy_returns
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('pharmacy.return');
  v_row app_public.pharmacy_returns := app_hidden.lock_or_404(null::app_public.pharmacy_returns, reject_pharmacy_return.return_id);
begin
  perform app_hidden.require_transition('app_public.pharmacy_returns', v_row.status, 'rejected');
  update app_public.pharmacy_returns r set status = 'rejected', rejection_reason = nullif(trim(reject_pharmacy_return.reason), '')
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reject_pharmacy_return(uuid, text) is
  'Rejects a requested or approved pharmacy return with a reason. Needs pharmacy.return. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
revoke execute on function app_public.reject_pharmacy_return(uuid, text) from public;
grant execute on function app_public.reject_pharmacy_return(uuid, text) to :DATABASE_STAFF;

/* ---- 3. Completed financial records change only through their reversing documents -------- */
-- Once issued, what is owed and to whom is frozen (corrections are credit notes); only the due
-- date and internal notes move. status stays listed so a PATCH of it meets the status machine's
-- clearer answer (HMS_WORKFLOW_REQUIRED), not the lock.
select app_hidden.lock_document('app_public.invoices', '{draft}', still_editable => '{status,due_date,notes}');
select app_hidden.lock_document('app_public.payments', '{pending}', still_editable => '{status}');
select app_hidden.lock_document('app_public.refunds', '{requested}', still_editable => '{status}');
select app_hidden.lock_document('app_public.credit_notes', '{draft}', still_editable => '{status}');
-- A return's lines are fixed once someone decided on it.
select app_hidden.lock_document('app_public.pharmacy_returns', '{requested}', still_editable => '{status,notes}');
select app_hidden.lock_document('app_public.pharmacy_return_items', '{requested}',
  document => 'app_public.pharmacy_returns', document_column => 'return_id');

/* ---- 4. Stamps a client could still write ---------------------------------------------- */
alter table app_public.patient_documents alter column uploaded_by set default app_hidden.current_user_id();
update app_hidden.table_access set protected_columns = array(select distinct unnest(protected_columns || '{uploaded_by}'))
 where table_name = 'patient_documents';
update app_hidden.table_access set protected_columns = array(select distinct unnest(protected_columns || '{issued_at}'))
 where table_name = 'id_cards';
update app_hidden.table_access set protected_columns = array(select distinct unnest(protected_columns || '{checked_in_at,call_count}'))
 where table_name = 'appointment_queue';
update app_hidden.table_access set protected_columns = array(select distinct unnest(protected_columns || '{verified_at}'))
 where table_name = 'insurance_policies';

-- Who uploaded a document is the session that inserted it.
create or replace function app_hidden.tg_patient_documents__uploaded_by() returns trigger
language plpgsql
volatile
as $$
begin
  if app_hidden.current_user_id() is not null then
    NEW.uploaded_by := app_hidden.current_user_id();
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_patient_documents__uploaded_by() is
  'BEFORE INSERT on patient_documents (_200_uploaded_by): uploaded_by is the session''s user, whatever the request said.';
drop trigger if exists _200_uploaded_by on app_public.patient_documents;
create trigger _200_uploaded_by before insert on app_public.patient_documents
  for each row execute function app_hidden.tg_patient_documents__uploaded_by();

-- Verifying a policy is an act of the session: when and by whom both come from it.
create or replace function app_public.verify_insurance_policy(policy_id uuid)
returns app_public.insurance_policies
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_policies := app_hidden.lock_or_404(null::app_public.insurance_policies, verify_insurance_policy.policy_id);
begin
  update app_public.insurance_policies p set verified_at = app_hidden.now(), verified_by = app_hidden.current_user_id()
   where p.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.verify_insurance_policy(uuid) is
  'Records that the policy was verified with the insurer now, by the caller (verified_at/by). Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND.';
revoke execute on function app_public.verify_insurance_policy(uuid) from public;
grant execute on function app_public.verify_insurance_policy(uuid) to :DATABASE_STAFF;
drop trigger if exists _200_verified_by on app_public.insurance_policies;
drop function if exists app_hidden.tg_insurance_policies__verified_by();

/* Grants and triggers follow the new machines and protected columns. */
select app_hidden.reregister_table(t::regclass) from unnest(array[
  'app_public.invoices', 'app_public.payments', 'app_public.refunds', 'app_public.credit_notes',
  'app_public.doctor_leaves', 'app_public.pharmacy_returns', 'app_public.purchase_orders',
  'app_public.stock_adjustments', 'app_public.cycle_counts', 'app_public.id_cards',
  'app_public.appointment_queue', 'app_public.patient_documents', 'app_public.insurance_policies']) t;
