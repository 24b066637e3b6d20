/*
 * Insurance on the kit: pre-authorizations and claims as database rules (tables:
 * db/schema/app_public/tables/).
 *
 * Pre-authorization: requested → approved | partially_approved | denied (the payer's answer,
 *                    decide_pre_authorization) | cancelled; approved | partially_approved → used
 *                    (consumed by the claim decide_claim approves) | expired.
 * Claim:             draft (create_claim computes what is claimed) → submitted → under_review →
 *                    approved | partially_approved | denied (decide_claim); approved |
 *                    partially_approved → paid (record_claim_payment); draft | submitted → cancelled.
 * The steps with side effects are declared `via` their RPC, so a direct write (REST PATCH,
 * GraphQL) gets 409 HMS_WORKFLOW_REQUIRED; amounts, links and workflow results are protected
 * columns; who requested and submitted, and when decisions and payments happened, are stamped from
 * the session by the status machine.
 *
 * CLAIMED AMOUNT (create_claim) — the insurer's share of an issued invoice:
 *   share = round(invoice.total_amount × coverage_percent / 100, 2)
 *           − round(invoice.total_amount × co_pay_percent / 100, 2)
 *           − co_pay_amount
 *   then capped (least) by: per_visit_limit (when set), remaining_limit (when set, else
 *   annual_limit when set), and the approved_amount of the pre-authorization (when given).
 *   The deductible is not applied (the insurer tracks what the patient has met this year).
 *   A share ≤ 0 is refused (HMS_CLAIM_NOTHING_TO_CLAIM).
 *
 * DECISION (decide_claim) — approved / partially approved amounts split the invoice:
 *   invoices.insurance_amount = approved_amount, invoices.patient_amount = total − approved_amount
 *   (denied: 0 and total); the claim's patient_responsibility = total − approved_amount. An
 *   approval also lowers the policy's remaining_limit (when set) and marks the claim's
 *   pre-authorization used. Payments stay with billing: record_claim_payment only records the
 *   insurer's payment on the claim.
 *
 * Validity (a policy active today, a pre-authorization not expired) is judged on the hospital's
 * day by the business clock. HMS_AMOUNT_INVALID is billing's code (3000-billing.sql).
 */

select app_hidden.register_error_codes('insurance', $json$[
  {"code": "HMS_POLICY_NOT_ACTIVE", "http_status": 422, "meaning": "The policy is not active, or not valid on the day that matters (today for a pre-authorization, the invoice date for a claim)."},
  {"code": "HMS_POLICY_PATIENT_MISMATCH", "http_status": 422, "meaning": "The invoice is not for the patient the policy covers."},
  {"code": "HMS_PROCEDURE_DESCRIPTION_REQUIRED", "http_status": 422, "meaning": "A pre-authorization describes the planned procedure (2 to 2000 characters)."},
  {"code": "HMS_DECISION_INVALID", "http_status": 422, "meaning": "Unknown decision: a pre-authorization is approved, partially_approved, denied or cancelled; a claim under_review, approved, partially_approved or denied."},
  {"code": "HMS_APPROVED_AMOUNT_INVALID", "http_status": 422, "meaning": "A full approval is for the amount asked; a partial approval is for less (details give both amounts)."},
  {"code": "HMS_VALIDITY_INVALID", "http_status": 422, "meaning": "A pre-authorization cannot be valid until a day in the past."},
  {"code": "HMS_CLAIM_TYPE_INVALID", "http_status": 422, "meaning": "A claim is cashless or reimbursement."},
  {"code": "HMS_INVOICE_NOT_ISSUED", "http_status": 409, "meaning": "Only an issued (partially paid or paid) invoice can be claimed (details.status)."},
  {"code": "HMS_CLAIM_EXISTS", "http_status": 409, "meaning": "The invoice already has an open or settled claim (one live claim per invoice)."},
  {"code": "HMS_PRE_AUTHORIZATION_MISMATCH", "http_status": 422, "meaning": "The pre-authorization belongs to another policy."},
  {"code": "HMS_PRE_AUTHORIZATION_NOT_APPROVED", "http_status": 409, "meaning": "The pre-authorization is not approved, or it expired (details.status or valid_until)."},
  {"code": "HMS_PRE_AUTHORIZATION_IN_USE", "http_status": 409, "meaning": "Another live claim already uses the pre-authorization."},
  {"code": "HMS_CLAIM_NOTHING_TO_CLAIM", "http_status": 422, "meaning": "Under the policy's coverage, co-pay and limits the insurer owes nothing on the invoice."},
  {"code": "HMS_CLAIM_PAYMENT_INVALID", "http_status": 422, "meaning": "The insurer's payment is above 0 and at most the approved amount."}
]$json$);

/* ------------------------------------------------------------------------------------------
 * Status machines
 * ------------------------------------------------------------------------------------------ */

select app_hidden.declare_status_machine('app_public.pre_authorizations', $json$[
  {"from": null, "to": "requested", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "requested", "to": "approved", "via": "decide_pre_authorization", "stamp_at": "decided_at"},
  {"from": "requested", "to": "partially_approved", "via": "decide_pre_authorization", "stamp_at": "decided_at"},
  {"from": "requested", "to": "denied", "via": "decide_pre_authorization", "reason": "denial_reason", "stamp_at": "decided_at"},
  {"from": "requested", "to": "cancelled"},
  {"from": "approved", "to": "used", "via": "decide_claim", "stamp_at": "used_at"},
  {"from": "partially_approved", "to": "used", "via": "decide_claim", "stamp_at": "used_at"},
  {"from": "approved", "to": "expired"},
  {"from": "partially_approved", "to": "expired"}
]$json$);

select app_hidden.declare_status_machine('app_public.insurance_claims', $json$[
  {"from": null, "to": "draft", "via": "create_claim"},
  {"from": "draft", "to": "submitted", "via": "submit_claim", "stamp_at": "submitted_at", "stamp_by": "submitted_by"},
  {"from": "draft", "to": "cancelled"},
  {"from": "submitted", "to": "cancelled"},
  {"from": "submitted", "to": "under_review"},
  {"from": "under_review", "to": "approved", "via": "decide_claim", "stamp_at": "decided_at"},
  {"from": "under_review", "to": "partially_approved", "via": "decide_claim", "stamp_at": "decided_at"},
  {"from": "under_review", "to": "denied", "via": "decide_claim", "reason": "denial_reason", "stamp_at": "decided_at"},
  {"from": "approved", "to": "paid", "via": "record_claim_payment", "stamp_at": "paid_at"},
  {"from": "partially_approved", "to": "paid", "via": "record_claim_payment", "stamp_at": "paid_at"}
]$json$);

drop trigger if exists _200_workflow on app_public.pre_authorizations;
drop function if exists app_hidden.tg_pre_authorizations__workflow();
drop trigger if exists _200_workflow on app_public.insurance_claims;
drop function if exists app_hidden.tg_insurance_claims__workflow();

/* ------------------------------------------------------------------------------------------
 * Policies: who verified the cover
 * ------------------------------------------------------------------------------------------ */

/* Staff record when they verified a policy with the payer; who did is the session, never the request. */
create or replace function app_hidden.tg_insurance_policies__verified_by() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
begin
  if v_user is not null and NEW.verified_at is distinct from (case when TG_OP = 'UPDATE' then OLD.verified_at end) then
    NEW.verified_by := case when NEW.verified_at is not null then v_user end;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_insurance_policies__verified_by() is
  'BEFORE INSERT/UPDATE on insurance_policies (_200_verified_by): when staff set or change verified_at, verified_by is the session''s user (cleared with verified_at).';

drop trigger if exists _200_verified_by on app_public.insurance_policies;
create trigger _200_verified_by before insert or update on app_public.insurance_policies
  for each row execute function app_hidden.tg_insurance_policies__verified_by();

/* ------------------------------------------------------------------------------------------
 * Pre-authorization RPCs
 * ------------------------------------------------------------------------------------------ */

create or replace function app_public.request_pre_authorization(
  policy_id uuid,
  procedure_description text,
  estimated_amount numeric,
  requested_amount numeric,
  diagnosis_codes text[] default '{}',
  procedure_codes text[] default '{}',
  planned_date date default null,
  appointment_id uuid default null,
  doctor_id uuid default null,
  notes text default null
) returns app_public.pre_authorizations
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_policy app_public.insurance_policies := app_hidden.find_or_404(null::app_public.insurance_policies, request_pre_authorization.policy_id);
  v_today date := app_hidden.hospital_today(v_hospital);
  v_appointment app_public.appointments;
  v_row app_public.pre_authorizations;
begin
  if v_policy.status <> 'active' or v_today < coalesce(v_policy.valid_from, v_today) or v_today > coalesce(v_policy.valid_to, v_today) then
    perform app_hidden.raise_error('HMS_POLICY_NOT_ACTIVE',
      format('The policy %s is not active today (status %s, valid %s to %s).', v_policy.policy_number, v_policy.status,
             coalesce(v_policy.valid_from::text, '…'), coalesce(v_policy.valid_to::text, '…')),
      jsonb_build_object('policy_id', v_policy.id, 'status', v_policy.status, 'valid_from', v_policy.valid_from, 'valid_to', v_policy.valid_to));
  end if;
  if length(trim(coalesce(request_pre_authorization.procedure_description, ''))) not between 2 and 2000 then
    perform app_hidden.raise_error('HMS_PROCEDURE_DESCRIPTION_REQUIRED', 'Describe the planned procedure (2 to 2000 characters).',
      jsonb_build_object('field', 'procedure_description'));
  end if;
  if request_pre_authorization.requested_amount is null or request_pre_authorization.requested_amount <= 0
     or request_pre_authorization.requested_amount >= 1e10
     or request_pre_authorization.estimated_amount < 0 or request_pre_authorization.estimated_amount >= 1e10 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The requested amount must be greater than zero and the estimate not negative.',
      jsonb_build_object('requested_amount', request_pre_authorization.requested_amount, 'estimated_amount', request_pre_authorization.estimated_amount));
  end if;
  if request_pre_authorization.appointment_id is not null then
    v_appointment := app_hidden.find_or_404(null::app_public.appointments, request_pre_authorization.appointment_id);
    if v_appointment.patient_id <> v_policy.patient_id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment of the policy''s patient in this hospital.',
        jsonb_build_object('entity', 'appointment', 'id', v_appointment.id));
    end if;
  end if;
  if request_pre_authorization.doctor_id is not null then
    perform app_hidden.find_or_404(null::app_public.doctors, request_pre_authorization.doctor_id);
  end if;

  insert into app_public.pre_authorizations
    (hospital_id, policy_id, patient_id, provider_id, appointment_id, doctor_id, procedure_description,
     diagnosis_codes, procedure_codes, planned_date, estimated_amount, requested_amount, notes)
  values
    (v_hospital, v_policy.id, v_policy.patient_id, v_policy.provider_id, request_pre_authorization.appointment_id,
     request_pre_authorization.doctor_id, trim(request_pre_authorization.procedure_description),
     coalesce(request_pre_authorization.diagnosis_codes, '{}'), coalesce(request_pre_authorization.procedure_codes, '{}'),
     request_pre_authorization.planned_date, request_pre_authorization.estimated_amount,
     request_pre_authorization.requested_amount, request_pre_authorization.notes)
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.request_pre_authorization(uuid, text, numeric, numeric, text[], text[], date, uuid, uuid, text) is
  E'Asks the payer of a policy to pre-authorize a planned procedure (status requested, numbered PAU-…; requested_at/by stamped); patient and provider come from the policy. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (policy, appointment of the patient, doctor), 422 HMS_POLICY_NOT_ACTIVE (policy not active or not valid today), HMS_PROCEDURE_DESCRIPTION_REQUIRED, HMS_AMOUNT_INVALID.';
grant execute on function app_public.request_pre_authorization(uuid, text, numeric, numeric, text[], text[], date, uuid, uuid, text) to :DATABASE_STAFF;

create or replace function app_public.decide_pre_authorization(
  pre_authorization_id uuid,
  decision text,
  approved_amount numeric default null,
  insurer_reference text default null,
  denial_reason text default null,
  valid_until date default null
) returns app_public.pre_authorizations
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.pre_authorizations := app_hidden.lock_or_404(null::app_public.pre_authorizations, decide_pre_authorization.pre_authorization_id);
  v_amount numeric;
begin
  if decide_pre_authorization.decision is null
     or decide_pre_authorization.decision not in ('approved', 'partially_approved', 'denied', 'cancelled') then
    perform app_hidden.raise_error('HMS_DECISION_INVALID',
      'The decision must be approved, partially_approved, denied or cancelled.',
      jsonb_build_object('decision', decide_pre_authorization.decision));
  end if;
  perform app_hidden.require_transition('app_public.pre_authorizations', v_row.status, decide_pre_authorization.decision);

  if decide_pre_authorization.decision = 'approved' then
    v_amount := coalesce(decide_pre_authorization.approved_amount, v_row.requested_amount);
    if v_amount <> v_row.requested_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        'A full approval is for the requested amount; use partially_approved for less.',
        jsonb_build_object('requested_amount', v_row.requested_amount, 'approved_amount', v_amount));
    end if;
  elsif decide_pre_authorization.decision = 'partially_approved' then
    v_amount := decide_pre_authorization.approved_amount;
    if v_amount is null or v_amount <= 0 or v_amount >= v_row.requested_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A partial approval needs an amount above 0 and below the requested %s.', v_row.requested_amount),
        jsonb_build_object('requested_amount', v_row.requested_amount, 'approved_amount', v_amount));
    end if;
  end if;
  if decide_pre_authorization.valid_until is not null and decide_pre_authorization.valid_until < app_hidden.hospital_today(v_hospital) then
    perform app_hidden.raise_error('HMS_VALIDITY_INVALID', 'valid_until cannot be in the past.', jsonb_build_object('field', 'valid_until'));
  end if;

  update app_public.pre_authorizations p
     set status = decide_pre_authorization.decision,
         approved_amount = v_amount,
         insurer_reference = coalesce(decide_pre_authorization.insurer_reference, p.insurer_reference),
         denial_reason = case when decide_pre_authorization.decision = 'denied' then nullif(trim(decide_pre_authorization.denial_reason), '')
                              else p.denial_reason end,
         valid_until = coalesce(decide_pre_authorization.valid_until, p.valid_until)
   where p.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.decide_pre_authorization(uuid, text, numeric, text, text, date) is
  E'Records the payer''s answer to a requested pre-authorization (decided_at stamped): approved (for the requested amount), partially_approved (approved_amount below it), denied (denial_reason) or cancelled. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not requested any more), 422 HMS_DECISION_INVALID, HMS_APPROVED_AMOUNT_INVALID, HMS_REASON_REQUIRED (a denial), HMS_VALIDITY_INVALID.';
grant execute on function app_public.decide_pre_authorization(uuid, text, numeric, text, text, date) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Claim RPCs
 * ------------------------------------------------------------------------------------------ */

/* The insurer's share of an invoice total under a policy (formula in the header of this file). */
create or replace function app_hidden.insurance_claimable_amount(
  p_total numeric, p_policy app_public.insurance_policies, p_pre_authorized numeric default null
) returns numeric
language sql
immutable
as $$
  select greatest(0, least(
           round(p_total * p_policy.coverage_percent / 100, 2)
             - round(p_total * p_policy.co_pay_percent / 100, 2)
             - p_policy.co_pay_amount,
           coalesce(p_policy.per_visit_limit, 'infinity'::numeric),
           coalesce(p_policy.remaining_limit, p_policy.annual_limit, 'infinity'::numeric),
           coalesce(p_pre_authorized, 'infinity'::numeric)));
$$;
comment on function app_hidden.insurance_claimable_amount(numeric, app_public.insurance_policies, numeric) is
  'Insurer''s share: total × coverage% − total × co-pay% − co-pay amount, capped by per-visit limit, remaining (else annual) limit and the pre-authorized amount; never below 0.';

create or replace function app_public.create_claim(
  invoice_id uuid,
  policy_id uuid,
  claim_type text default 'cashless',
  pre_authorization_id uuid default null
) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  -- The invoice's row lock serialises claims on it: one live claim per invoice.
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, create_claim.invoice_id);
  v_policy app_public.insurance_policies := app_hidden.find_or_404(null::app_public.insurance_policies, create_claim.policy_id);
  v_pre app_public.pre_authorizations;
  v_amount numeric;
  v_row app_public.insurance_claims;
begin
  if create_claim.claim_type is null or create_claim.claim_type not in ('cashless', 'reimbursement') then
    perform app_hidden.raise_error('HMS_CLAIM_TYPE_INVALID', 'The claim type must be cashless or reimbursement.',
      jsonb_build_object('claim_type', create_claim.claim_type));
  end if;
  if v_invoice.status not in ('issued', 'partially_paid', 'paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_ISSUED',
      format('Invoice %s is %s: only an issued invoice can be claimed.', v_invoice.invoice_number, v_invoice.status),
      jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if v_invoice.patient_id <> v_policy.patient_id then
    perform app_hidden.raise_error('HMS_POLICY_PATIENT_MISMATCH', 'The invoice is not for the patient this policy covers.',
      jsonb_build_object('invoice_patient_id', v_invoice.patient_id, 'policy_patient_id', v_policy.patient_id));
  end if;
  if v_policy.status <> 'active' or v_invoice.invoice_date < coalesce(v_policy.valid_from, v_invoice.invoice_date)
     or v_invoice.invoice_date > coalesce(v_policy.valid_to, v_invoice.invoice_date) then
    perform app_hidden.raise_error('HMS_POLICY_NOT_ACTIVE',
      format('The policy %s was not active on the invoice date %s.', v_policy.policy_number, v_invoice.invoice_date),
      jsonb_build_object('policy_id', v_policy.id, 'status', v_policy.status, 'valid_from', v_policy.valid_from, 'valid_to', v_policy.valid_to));
  end if;
  if exists (select 1 from app_public.insurance_claims c
              where c.hospital_id = v_hospital and c.invoice_id = v_invoice.id and not c.is_deleted
                and c.status not in ('cancelled', 'denied')) then
    perform app_hidden.raise_error('HMS_CLAIM_EXISTS', 'This invoice already has an open or settled claim.',
      jsonb_build_object('invoice_id', v_invoice.id));
  end if;
  if create_claim.pre_authorization_id is not null then
    v_pre := app_hidden.lock_or_404(null::app_public.pre_authorizations, create_claim.pre_authorization_id);
    if v_pre.policy_id <> v_policy.id then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_MISMATCH', 'The pre-authorization belongs to another policy.',
        jsonb_build_object('pre_authorization_id', v_pre.id, 'policy_id', v_pre.policy_id));
    end if;
    if v_pre.status not in ('approved', 'partially_approved') then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_NOT_APPROVED',
        format('The pre-authorization is %s, not approved.', v_pre.status), jsonb_build_object('status', v_pre.status));
    end if;
    if v_pre.valid_until is not null and v_pre.valid_until < app_hidden.hospital_today(v_hospital) then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_NOT_APPROVED',
        format('The pre-authorization expired on %s.', v_pre.valid_until), jsonb_build_object('valid_until', v_pre.valid_until));
    end if;
    if exists (select 1 from app_public.insurance_claims c
                where c.hospital_id = v_hospital and c.pre_authorization_id = v_pre.id and not c.is_deleted
                  and c.status not in ('cancelled', 'denied')) then
      perform app_hidden.raise_error('HMS_PRE_AUTHORIZATION_IN_USE', 'Another claim already uses this pre-authorization.',
        jsonb_build_object('pre_authorization_id', v_pre.id));
    end if;
  end if;

  v_amount := app_hidden.insurance_claimable_amount(v_invoice.total_amount, v_policy, v_pre.approved_amount);
  if v_amount <= 0 then
    perform app_hidden.raise_error('HMS_CLAIM_NOTHING_TO_CLAIM',
      'Under this policy the insurer owes nothing on this invoice (coverage, co-pay or limits).',
      jsonb_build_object('invoice_total', v_invoice.total_amount, 'coverage_percent', v_policy.coverage_percent,
                         'co_pay_amount', v_policy.co_pay_amount, 'remaining_limit', v_policy.remaining_limit));
  end if;

  insert into app_public.insurance_claims
    (hospital_id, invoice_id, policy_id, provider_id, patient_id, pre_authorization_id, claim_type, claimed_amount,
     diagnosis_codes)
  values
    (v_hospital, v_invoice.id, v_policy.id, v_policy.provider_id, v_policy.patient_id, v_pre.id, create_claim.claim_type,
     v_amount, coalesce(v_pre.diagnosis_codes, '{}'))
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.create_claim(uuid, uuid, text, uuid) is
  E'Drafts a claim for the insurer''s share of an issued invoice: claimed_amount = total × coverage% − total × co-pay% − co-pay amount, capped by the per-visit limit, the remaining (else annual) limit and the pre-authorized amount. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (invoice, policy, pre-authorization), 409 HMS_INVOICE_NOT_ISSUED, HMS_CLAIM_EXISTS, HMS_PRE_AUTHORIZATION_NOT_APPROVED, HMS_PRE_AUTHORIZATION_IN_USE, 422 HMS_CLAIM_TYPE_INVALID, HMS_POLICY_PATIENT_MISMATCH, HMS_POLICY_NOT_ACTIVE, HMS_PRE_AUTHORIZATION_MISMATCH, HMS_CLAIM_NOTHING_TO_CLAIM.';
grant execute on function app_public.create_claim(uuid, uuid, text, uuid) to :DATABASE_STAFF;

create or replace function app_public.submit_claim(claim_id uuid) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.lock_or_404(null::app_public.insurance_claims, submit_claim.claim_id);
begin
  perform app_hidden.require_transition('app_public.insurance_claims', v_row.status, 'submitted');
  update app_public.insurance_claims c set status = 'submitted' where c.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.submit_claim(uuid) is
  'Sends a draft claim to the payer (status submitted, submitted_at/by stamped). Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft).';
grant execute on function app_public.submit_claim(uuid) to :DATABASE_STAFF;

create or replace function app_public.cancel_claim(claim_id uuid, reason text default null) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.lock_or_404(null::app_public.insurance_claims, cancel_claim.claim_id);
begin
  perform app_hidden.require_transition('app_public.insurance_claims', v_row.status, 'cancelled');
  update app_public.insurance_claims c
     set status = 'cancelled',
         notes = case when nullif(trim(cancel_claim.reason), '') is null then c.notes
                      else concat_ws(E'\n', c.notes, 'Cancelled: ' || trim(cancel_claim.reason)) end
   where c.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.cancel_claim(uuid, text) is
  'Withdraws a draft or submitted claim (status cancelled; the reason is appended to the notes). Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION.';
grant execute on function app_public.cancel_claim(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.decide_claim(
  claim_id uuid,
  decision text,
  approved_amount numeric default null,
  denial_reason text default null,
  denial_code text default null,
  insurer_claim_reference text default null
) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.lock_or_404(null::app_public.insurance_claims, decide_claim.claim_id);
  v_invoice app_public.invoices;
  v_amount numeric;
begin
  if decide_claim.decision is null
     or decide_claim.decision not in ('under_review', 'approved', 'partially_approved', 'denied') then
    perform app_hidden.raise_error('HMS_DECISION_INVALID',
      'The decision must be under_review, approved, partially_approved or denied.',
      jsonb_build_object('decision', decide_claim.decision));
  end if;
  if v_row.status = 'submitted' and decide_claim.decision <> 'under_review' then
    -- The payer's answer implies it reviewed the claim: pass through under_review.
    update app_public.insurance_claims c set status = 'under_review' where c.id = v_row.id returning * into v_row;
  end if;
  perform app_hidden.require_transition('app_public.insurance_claims', v_row.status, decide_claim.decision);

  if decide_claim.decision = 'under_review' then
    update app_public.insurance_claims c
       set status = 'under_review',
           insurer_claim_reference = coalesce(decide_claim.insurer_claim_reference, c.insurer_claim_reference)
     where c.id = v_row.id returning * into v_row;
    return v_row;
  end if;

  if decide_claim.decision = 'approved' then
    v_amount := coalesce(decide_claim.approved_amount, v_row.claimed_amount);
    if v_amount <> v_row.claimed_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A full approval is for the claimed %s; use partially_approved for less.', v_row.claimed_amount),
        jsonb_build_object('claimed_amount', v_row.claimed_amount, 'approved_amount', v_amount));
    end if;
  elsif decide_claim.decision = 'partially_approved' then
    v_amount := decide_claim.approved_amount;
    if v_amount is null or v_amount < 0 or v_amount >= v_row.claimed_amount then
      perform app_hidden.raise_error('HMS_APPROVED_AMOUNT_INVALID',
        format('A partial approval needs an amount from 0 to below the claimed %s.', v_row.claimed_amount),
        jsonb_build_object('claimed_amount', v_row.claimed_amount, 'approved_amount', v_amount));
    end if;
  else
    v_amount := 0;
  end if;

  v_invoice := app_hidden.lock_or_404(null::app_public.invoices, v_row.invoice_id);
  v_amount := least(v_amount, v_invoice.total_amount);

  update app_public.insurance_claims c
     set status = decide_claim.decision,
         approved_amount = case when decide_claim.decision = 'denied' then null else v_amount end,
         patient_responsibility = v_invoice.total_amount - v_amount,
         denial_reason = case when decide_claim.decision = 'denied' then nullif(trim(decide_claim.denial_reason), '') else c.denial_reason end,
         denial_code = case when decide_claim.decision = 'denied' then decide_claim.denial_code else c.denial_code end,
         insurer_claim_reference = coalesce(decide_claim.insurer_claim_reference, c.insurer_claim_reference)
   where c.id = v_row.id
  returning * into v_row;

  -- The invoice's split between insurer and patient.
  update app_public.invoices i
     set insurance_amount = v_amount,
         patient_amount = i.total_amount - v_amount
   where i.id = v_invoice.id;

  if v_amount > 0 then
    update app_public.insurance_policies p
       set remaining_limit = greatest(p.remaining_limit - v_amount, 0)
     where p.id = v_row.policy_id and p.hospital_id = v_hospital and p.remaining_limit is not null;
    if v_row.pre_authorization_id is not null then
      update app_public.pre_authorizations p set status = 'used'
       where p.id = v_row.pre_authorization_id and p.hospital_id = v_hospital and p.status in ('approved', 'partially_approved');
    end if;
  end if;
  return v_row;
end;
$$;
comment on function app_public.decide_claim(uuid, text, numeric, text, text, text) is
  E'Records the payer''s decision on a submitted claim (decided_at stamped): under_review, approved (the claimed amount), partially_approved (approved_amount below it) or denied (denial_reason). An approval sets the invoice''s insurance_amount = approved and patient_amount = total − approved, lowers the policy''s remaining_limit and marks the pre-authorization used. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_DECISION_INVALID, HMS_APPROVED_AMOUNT_INVALID, HMS_REASON_REQUIRED (a denial).';
grant execute on function app_public.decide_claim(uuid, text, numeric, text, text, text) to :DATABASE_STAFF;

create or replace function app_public.record_claim_payment(
  claim_id uuid,
  paid_amount numeric,
  payment_reference text default null
) returns app_public.insurance_claims
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('insurance.manage');
  v_row app_public.insurance_claims := app_hidden.lock_or_404(null::app_public.insurance_claims, record_claim_payment.claim_id);
begin
  perform app_hidden.require_transition('app_public.insurance_claims', v_row.status, 'paid');
  if record_claim_payment.paid_amount is null or record_claim_payment.paid_amount <= 0
     or record_claim_payment.paid_amount > v_row.approved_amount then
    perform app_hidden.raise_error('HMS_CLAIM_PAYMENT_INVALID',
      format('The payment must be above 0 and at most the approved %s.', v_row.approved_amount),
      jsonb_build_object('approved_amount', v_row.approved_amount, 'paid_amount', record_claim_payment.paid_amount));
  end if;
  update app_public.insurance_claims c
     set status = 'paid', paid_amount = record_claim_payment.paid_amount,
         payment_reference = coalesce(record_claim_payment.payment_reference, c.payment_reference)
   where c.id = v_row.id
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.record_claim_payment(uuid, numeric, text) is
  E'Records the payer''s payment of an approved claim (status paid, paid_amount ≤ approved_amount, paid_at stamped). The cash itself is posted by billing. Needs insurance.manage. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_CLAIM_PAYMENT_INVALID.';
grant execute on function app_public.record_claim_payment(uuid, numeric, text) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Registration (access models as the isolation matrix pins them)
 * ------------------------------------------------------------------------------------------ */

select app_hidden.register_table('app_public.insurance_providers', 'insurance provider',
  read_permissions => '{insurance.read}', write_permissions => '{insurance.manage}', delete_permissions => '{insurance.manage}');
select app_hidden.register_table('app_public.insurance_policies', 'insurance policy',
  read_permissions => '{insurance.read}', write_permissions => '{insurance.manage}', delete_permissions => '{insurance.manage}',
  protected_columns => '{remaining_limit,verified_by}');
select app_hidden.register_table('app_public.pre_authorizations', 'pre authorization',
  read_permissions => '{insurance.read}', write_permissions => '{insurance.manage}', delete_permissions => '{insurance.manage}',
  protected_columns => '{approved_amount}', immutable_columns => '{policy_id,patient_id,provider_id}');
select app_hidden.register_table('app_public.insurance_claims', 'insurance claim',
  read_permissions => '{insurance.read}', write_permissions => '{insurance.manage}', delete_permissions => '{insurance.manage}',
  protected_columns => '{invoice_id,policy_id,provider_id,patient_id,pre_authorization_id,claimed_amount,approved_amount,paid_amount,patient_responsibility}');

/* ------------------------------------------------------------------------------------------
 * The insurance dialect, folded into the kit
 * ------------------------------------------------------------------------------------------ */

drop function if exists app_hidden.insurance_begin(text);
drop function if exists app_hidden.insurance_lock_claim(uuid, uuid);
drop function if exists app_hidden.insurance_not_found(text, uuid);
drop function if exists app_hidden.insurance_assert_transition(text, text, text, jsonb);
drop function if exists app_hidden.insurance_trusted_writer();
