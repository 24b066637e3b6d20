-- Insurance workflow (db/schema/app_public/functions/: request_pre_authorization,
-- decide_pre_authorization, create_claim, submit_claim, decide_claim, record_claim_payment,
-- cancel_claim): pre-authorizations and
-- claims — the claimed-amount formula, the payer's decision splitting the invoice, payments,
-- the status machines (RPCs and direct updates), permissions and tenant isolation.
begin;
select plan(91);

create function pg_temp.ny() returns uuid language sql immutable as $$ select '10000000-0000-4000-8000-000000000001'::uuid $$;
create function pg_temp.la() returns uuid language sql immutable as $$ select '10000000-0000-4000-8000-000000000002'::uuid $$;

create temp table ids (name text primary key, id uuid);
grant all on ids to public;
create function pg_temp.id(p text) returns uuid language sql stable as $$ select id from ids where name = p $$;
-- Statements run as staff build their SQL from these names.
grant execute on function pg_temp.id(text) to public;
create function pg_temp.user_id(p_email text) returns uuid language sql stable security definer set search_path = pg_catalog as $$
  select id from app_public.users where email = p_email $$;
grant execute on function pg_temp.user_id(text) to public;
-- Validity is judged on the hospital's day.
create function pg_temp.today() returns date language sql stable as $$ select app_hidden.hospital_today('10000000-0000-4000-8000-000000000001') $$;

-- ------------------------------------------------------------------------------------------
-- Fixtures (as the owner): patients, policies and issued invoices in NY; a policy in LA.
-- ------------------------------------------------------------------------------------------
insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender) values
  ('31990000-0000-4000-8000-000000000001', pg_temp.ny(), 'WF-3100-P1', 'Iris', 'Insured', date '1975-05-05', 'female'),
  ('31990000-0000-4000-8000-000000000002', pg_temp.ny(), 'WF-3100-P2', 'Otto', 'Other', date '1970-01-01', 'male'),
  ('31990000-0000-4000-8000-000000000003', pg_temp.la(), 'WF-3100-P3', 'Lara', 'Angeles', date '1980-01-01', 'female');
insert into app_public.insurance_policies
  (id, hospital_id, patient_id, provider_id, policy_number, valid_from, valid_to, coverage_percent, co_pay_amount,
   remaining_limit, per_visit_limit, is_primary, status)
values
  -- A: 80 % cover, 30 co-pay, 1000 left this year
  ('31990000-0000-4000-8000-000000000011', pg_temp.ny(), '31990000-0000-4000-8000-000000000001', 'd3100000-0000-4000-8000-000000000001',
   'WF-A', pg_temp.today() - 30, pg_temp.today() + 300, 80, 30, 1000, null, true, 'active'),
  -- B: suspended
  ('31990000-0000-4000-8000-000000000012', pg_temp.ny(), '31990000-0000-4000-8000-000000000001', 'd3100000-0000-4000-8000-000000000001',
   'WF-B', pg_temp.today() - 30, pg_temp.today() + 300, 80, 0, null, null, false, 'suspended'),
  -- C: full cover capped at 200 a visit
  ('31990000-0000-4000-8000-000000000013', pg_temp.ny(), '31990000-0000-4000-8000-000000000001', 'd3100000-0000-4000-8000-000000000001',
   'WF-C', pg_temp.today() - 30, null, 100, 0, null, 200, false, 'active'),
  -- D: expired yesterday (status still active)
  ('31990000-0000-4000-8000-000000000014', pg_temp.ny(), '31990000-0000-4000-8000-000000000001', 'd3100000-0000-4000-8000-000000000001',
   'WF-D', pg_temp.today() - 300, pg_temp.today() - 1, 80, 0, null, null, false, 'active'),
  -- LA
  ('31990000-0000-4000-8000-000000000015', pg_temp.la(), '31990000-0000-4000-8000-000000000003', 'd3100000-0000-4000-8000-000000000002',
   'WF-LA', pg_temp.today() - 30, null, 80, 0, null, null, true, 'active');

-- Invoices through the billing contract: I1 (issued), I4 (issued), I2 (draft) for P1; I3 (issued) for P2.
create function pg_temp.invoice(p_name text, p_patient uuid, p_price numeric, p_issue boolean) returns void language plpgsql as $$
declare
  v uuid := app_hidden.ensure_draft_invoice(pg_temp.ny(), p_patient, 'other');
begin
  perform app_hidden.add_invoice_item(v, 'other', 'Test service ' || p_name, 1, p_price);
  if p_issue then
    update app_public.invoices set status = 'issued', issued_at = now() where id = v;  -- the owner writes its own stamps
  end if;
  insert into ids values (p_name, v);
end;
$$;
select pg_temp.invoice('I1', '31990000-0000-4000-8000-000000000001', 500, true);
select pg_temp.invoice('I4', '31990000-0000-4000-8000-000000000001', 1000, true);
select pg_temp.invoice('I5', '31990000-0000-4000-8000-000000000001', 20, true);
select pg_temp.invoice('I2', '31990000-0000-4000-8000-000000000001', 100, false);
select pg_temp.invoice('I3', '31990000-0000-4000-8000-000000000002', 100, true);

-- ------------------------------------------------------------------------------------------
-- Pre-authorizations
-- ------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test');
select is(tests.try($$select app_public.request_pre_authorization('31990000-0000-4000-8000-000000000011', 'Knee MRI', 900, 900)$$, true),
          'HMS_FORBIDDEN/403', 'request_pre_authorization needs insurance.manage');
select tests.clear_authentication();
select is(tests.try($$select app_public.request_pre_authorization('31990000-0000-4000-8000-000000000011', 'Knee MRI', 900, 900)$$, true),
          'HMS_SESSION_INVALID/401', 'and a session');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try($$select app_public.request_pre_authorization('31990000-0000-4000-8000-000000000015', 'Knee MRI', 900, 900)$$, true),
          'HMS_NOT_FOUND/404', 'another hospital''s policy is not found');
select is(tests.try($$select app_public.request_pre_authorization('31990000-0000-4000-8000-000000000012', 'Knee MRI', 900, 900)$$, true),
          'HMS_POLICY_NOT_ACTIVE/422', 'a suspended policy is refused');
select is(tests.try($$select app_public.request_pre_authorization('31990000-0000-4000-8000-000000000014', 'Knee MRI', 900, 900)$$, true),
          'HMS_POLICY_NOT_ACTIVE/422', 'a policy not valid today is refused');
select is(tests.try($$select app_public.request_pre_authorization('31990000-0000-4000-8000-000000000011', 'Knee MRI', 900, 0)$$, true),
          'HMS_AMOUNT_INVALID/422', 'the requested amount must be positive');
select is(tests.try($$select app_public.request_pre_authorization('31990000-0000-4000-8000-000000000011', 'Knee MRI', -1, 10)$$, true),
          'HMS_AMOUNT_INVALID/422', 'the estimate cannot be negative');
select is(tests.try($$select app_public.request_pre_authorization('31990000-0000-4000-8000-000000000011', ' ', 900, 900)$$, true),
          'HMS_PROCEDURE_DESCRIPTION_REQUIRED/422', 'a procedure description is required');

insert into ids select 'PA1', (tests.call($$select to_jsonb(app_public.request_pre_authorization('31990000-0000-4000-8000-000000000011', 'Knee arthroscopy', 900, 800, '{M23.2}'))$$) ->> 'id')::uuid;
insert into ids select 'PA2', (tests.call($$select to_jsonb(app_public.request_pre_authorization('31990000-0000-4000-8000-000000000011', 'Shoulder MRI', 600, 600))$$) ->> 'id')::uuid;
insert into ids select 'PA3', (tests.call($$select to_jsonb(app_public.request_pre_authorization('31990000-0000-4000-8000-000000000011', 'Cataract surgery', 3000, 3000))$$) ->> 'id')::uuid;

select tests.clear_authentication();
select is((select status from app_public.pre_authorizations where id = pg_temp.id('PA1')), 'requested', 'a pre-authorization starts requested');
select ok((select pre_authorization_number like 'PAU-%' and patient_id = '31990000-0000-4000-8000-000000000001'
                  and provider_id = 'd3100000-0000-4000-8000-000000000001' and requested_by = pg_temp.user_id('accountant.ny@hms.test')
             from app_public.pre_authorizations where id = pg_temp.id('PA1')),
          'it is numbered, takes patient and provider from the policy, and requested_by from the session');

-- The payer's answer is recorded by someone other than who requested it: the NY admin.
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.decide_pre_authorization(%L, 'partially_approved', 300)$$, pg_temp.id('PA1')), true),
          'HMS_APPROVAL_BY_OTHER_USER/409', 'who requested a pre-authorization does not record its decision (four eyes)');
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.try(format('select app_public.decide_pre_authorization(%L, %L)', pg_temp.id('PA1'), 'maybe'), true),
          'HMS_DECISION_INVALID/422', 'an unknown decision is refused');
select is(tests.try(format('select app_public.decide_pre_authorization(%L, %L, 900)', pg_temp.id('PA1'), 'partially_approved'), true),
          'HMS_APPROVED_AMOUNT_INVALID/422', 'a partial approval must be below the requested amount');
select is(tests.try(format('select app_public.decide_pre_authorization(%L, %L, 700)', pg_temp.id('PA1'), 'approved'), true),
          'HMS_APPROVED_AMOUNT_INVALID/422', 'a full approval is for the requested amount');
select is(tests.try(format('select app_public.decide_pre_authorization(%L, %L)', pg_temp.id('PA2'), 'denied'), true),
          'HMS_REASON_REQUIRED/422', 'a denial needs a reason');
select is(tests.try(format($$update app_public.pre_authorizations set status = 'approved' where id = %L$$, pg_temp.id('PA1')), true),
          'HMS_WORKFLOW_REQUIRED/409', 'the payer''s answer is recorded only by decide_pre_authorization');
select tests.authenticate_as('doctor.ny@hms.test');
select is(tests.try(format('select app_public.decide_pre_authorization(%L, %L)', pg_temp.id('PA1'), 'approved'), true),
          'HMS_FORBIDDEN/403', 'deciding needs insurance.manage');
select tests.authenticate_as('admin.la@hms.test');
select is(tests.try(format('select app_public.decide_pre_authorization(%L, %L)', pg_temp.id('PA1'), 'approved'), true),
          'HMS_NOT_FOUND/404', 'another hospital cannot decide it');

select tests.authenticate_as('admin.ny@hms.test');
select is(tests.call(format($$select to_jsonb(app_public.decide_pre_authorization(%L, 'partially_approved', 300, 'ATL-PA-1', null, current_date + 30))$$, pg_temp.id('PA1')))
            ->> 'status', 'partially_approved', 'partial approval recorded');
select tests.clear_authentication();
select ok((select approved_amount = 300 and insurer_reference = 'ATL-PA-1' and decided_at is not null
                  and decided_by = pg_temp.user_id('admin.ny@hms.test')
             from app_public.pre_authorizations where id = pg_temp.id('PA1')), 'with its amount, reference, decision time and who recorded it');
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.call(format($$select to_jsonb(app_public.decide_pre_authorization(%L, 'denied', null, null, 'Not covered'))$$, pg_temp.id('PA2')))
            ->> 'status', 'denied', 'a denial is recorded');
select is(tests.try(format('select app_public.decide_pre_authorization(%L, %L)', pg_temp.id('PA2'), 'approved'), true),
          'HMS_ILLEGAL_TRANSITION/409', 'denied → approved is illegal');
select is(tests.call(format($$select to_jsonb(app_public.decide_pre_authorization(%L, 'cancelled'))$$, pg_temp.id('PA3')))
            ->> 'status', 'cancelled', 'a request can be cancelled');

-- Direct writes (REST PATCH): transitions and decision columns.
select is(tests.try(format($$update app_public.pre_authorizations set status = 'requested' where id = %L$$, pg_temp.id('PA1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a direct update cannot go back to requested');
select is(tests.try(format($$update app_public.pre_authorizations set approved_amount = 800 where id = %L$$, pg_temp.id('PA1')), true),
          'E:42501', 'nor change the approved amount');
select is(tests.try(format($$update app_public.pre_authorizations set status = 'used' where id = %L$$, pg_temp.id('PA1')), true),
          'HMS_WORKFLOW_REQUIRED/409', 'a pre-authorization is used only by the claim decide_claim approves');
select is(tests.try(format($$update app_public.pre_authorizations set policy_id = '31990000-0000-4000-8000-000000000013' where id = %L$$, pg_temp.id('PA1')), true),
          'E:42501', 'nor moved to another policy');
select is(tests.try($$insert into app_public.pre_authorizations (policy_id, patient_id, provider_id, procedure_description, requested_amount, approved_amount)
            values ('31990000-0000-4000-8000-000000000011', '31990000-0000-4000-8000-000000000001', 'd3100000-0000-4000-8000-000000000001', 'Direct request', 100, 100)$$, true),
          'E:42501', 'a direct insert cannot bring its own approval');
select is(tests.try($$insert into app_public.pre_authorizations (policy_id, patient_id, provider_id, procedure_description, requested_amount)
            values ('31990000-0000-4000-8000-000000000011', '31990000-0000-4000-8000-000000000001', 'd3100000-0000-4000-8000-000000000001', 'Direct request', 100)$$, true),
          'ok', 'a request may be recorded directly');
select is((select requested_by from app_public.pre_authorizations where procedure_description = 'Direct request'),
          pg_temp.user_id('admin.ny@hms.test'), 'requested_by of a direct request comes from the session');
select is(tests.try(format($$update app_public.pre_authorizations set notes = 'called the payer' where id = %L$$, pg_temp.id('PA1')), true),
          'ok', 'ordinary columns stay editable');

-- ------------------------------------------------------------------------------------------
-- Claims: creation and the claimed amount
-- ------------------------------------------------------------------------------------------
select tests.authenticate_as('doctor.ny@hms.test');
select is(tests.try(format('select app_public.create_claim(%L, %L)', pg_temp.id('I1'), '31990000-0000-4000-8000-000000000011'), true),
          'HMS_FORBIDDEN/403', 'create_claim needs insurance.manage');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('select app_public.create_claim(%L, %L)', 'd3000000-0000-4000-8000-000000000002', '31990000-0000-4000-8000-000000000011'), true),
          'HMS_NOT_FOUND/404', 'another hospital''s invoice is not found');
select is(tests.try(format('select app_public.create_claim(%L, %L)', pg_temp.id('I1'), '31990000-0000-4000-8000-000000000015'), true),
          'HMS_NOT_FOUND/404', 'another hospital''s policy is not found');
select is(tests.try(format('select app_public.create_claim(%L, %L)', pg_temp.id('I2'), '31990000-0000-4000-8000-000000000011'), true),
          'HMS_INVOICE_NOT_ISSUED/409', 'a draft invoice cannot be claimed');
select is(tests.try(format('select app_public.create_claim(%L, %L)', pg_temp.id('I3'), '31990000-0000-4000-8000-000000000011'), true),
          'HMS_POLICY_PATIENT_MISMATCH/422', 'the invoice must be the policy holder''s');
select is(tests.try(format('select app_public.create_claim(%L, %L)', pg_temp.id('I1'), '31990000-0000-4000-8000-000000000012'), true),
          'HMS_POLICY_NOT_ACTIVE/422', 'a suspended policy cannot be claimed on');
select is(tests.try(format('select app_public.create_claim(%L, %L, %L)', pg_temp.id('I1'), '31990000-0000-4000-8000-000000000011', 'cash'), true),
          'HMS_CLAIM_TYPE_INVALID/422', 'an unknown claim type is refused');
select is(tests.try(format('select app_public.create_claim(%L, %L, %L, %L)', pg_temp.id('I1'), '31990000-0000-4000-8000-000000000011', 'cashless', pg_temp.id('PA2')), true),
          'HMS_PRE_AUTHORIZATION_NOT_APPROVED/409', 'a denied pre-authorization cannot back a claim');
select is(tests.try(format('select app_public.create_claim(%L, %L, %L, %L)', pg_temp.id('I4'), '31990000-0000-4000-8000-000000000013', 'cashless', pg_temp.id('PA1')), true),
          'HMS_PRE_AUTHORIZATION_MISMATCH/422', 'a pre-authorization of another policy is refused');
select is(tests.try(format('select app_public.create_claim(%L, %L)', pg_temp.id('I5'), '31990000-0000-4000-8000-000000000011'), true),
          'HMS_CLAIM_NOTHING_TO_CLAIM/422', 'nothing to claim when the co-pay exceeds the cover');

-- C1: I1 under policy A with the partial pre-authorization (300): min(total × 80 % − 30, 1000, 300)
insert into ids select 'C1', (tests.call(format($$select to_jsonb(app_public.create_claim(%L, '31990000-0000-4000-8000-000000000011', 'cashless', %L))$$, pg_temp.id('I1'), pg_temp.id('PA1'))) ->> 'id')::uuid;
select tests.clear_authentication();
select is((select claimed_amount from app_public.insurance_claims where id = pg_temp.id('C1')),
          (select least(round(total_amount * 0.80, 2) - 30, 1000, 300) from app_public.invoices where id = pg_temp.id('I1')),
          'claimed = total × coverage − co-pay, capped by the pre-authorized amount');
select ok((select status = 'draft' and claim_number like 'CLM-%' and provider_id = 'd3100000-0000-4000-8000-000000000001'
                  and patient_id = '31990000-0000-4000-8000-000000000001' and diagnosis_codes = '{M23.2}'
             from app_public.insurance_claims where id = pg_temp.id('C1')), 'a numbered draft claim for the policy''s patient and payer');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('select app_public.create_claim(%L, %L)', pg_temp.id('I1'), '31990000-0000-4000-8000-000000000013'), true),
          'HMS_CLAIM_EXISTS/409', 'one live claim per invoice');

-- C2: I4 (1000) under policy C: 100 % cover capped by the per-visit limit of 200
insert into ids select 'C2', (tests.call(format($$select to_jsonb(app_public.create_claim(%L, '31990000-0000-4000-8000-000000000013', 'reimbursement'))$$, pg_temp.id('I4'))) ->> 'id')::uuid;
select tests.clear_authentication();
select is((select claimed_amount from app_public.insurance_claims where id = pg_temp.id('C2')), 200.00::numeric(12,2),
          'the per-visit limit caps the claim');
select is(app_hidden.insurance_claimable_amount(1000, (select p from app_public.insurance_policies p where id = '31990000-0000-4000-8000-000000000011')),
          770.00, 'formula: 1000 × 80 % − 30 = 770 (under the 1000 remaining)');
select is(app_hidden.insurance_claimable_amount(2000, (select p from app_public.insurance_policies p where id = '31990000-0000-4000-8000-000000000011')),
          1000.00, 'formula: capped by the remaining limit');

-- Claim protections: no direct insert, no amount edits, no approval by PATCH.
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$insert into app_public.insurance_claims (invoice_id, policy_id, provider_id, patient_id, claimed_amount)
            values (%L, '31990000-0000-4000-8000-000000000011', 'd3100000-0000-4000-8000-000000000001', '31990000-0000-4000-8000-000000000001', 10)$$, pg_temp.id('I1')), true),
          'E:42501', 'claims are created only by create_claim');
select is(tests.try($$insert into app_public.insurance_claims (claim_type, notes) values ('cashless', 'Direct claim')$$, true),
          'HMS_WORKFLOW_REQUIRED/409', 'not even a bare draft: create_claim computes what is claimed');
select is(tests.try(format($$update app_public.insurance_claims set claimed_amount = 999 where id = %L$$, pg_temp.id('C1')), true),
          'E:42501', 'the claimed amount cannot be edited');
select is(tests.try(format($$update app_public.insurance_claims set status = 'submitted' where id = %L$$, pg_temp.id('C1')), true),
          'HMS_WORKFLOW_REQUIRED/409', 'a claim is submitted only by submit_claim');
select is(tests.try(format($$update app_public.insurance_claims set status = 'paid' where id = %L$$, pg_temp.id('C1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'draft → paid is illegal');

-- ------------------------------------------------------------------------------------------
-- Claims: submission, decision, payment
-- ------------------------------------------------------------------------------------------
select is(tests.try(format('select app_public.decide_claim(%L, %L)', pg_temp.id('C1'), 'approved'), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a draft claim cannot be decided');
select is(tests.try(format('select app_public.record_claim_payment(%L, 10)', pg_temp.id('C1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'nor paid');
select is(tests.call(format('select to_jsonb(app_public.submit_claim(%L))', pg_temp.id('C1'))) ->> 'status',
          'submitted', 'submit_claim: draft → submitted');
select tests.clear_authentication();
select ok((select submitted_at is not null and submitted_by = pg_temp.user_id('accountant.ny@hms.test') from app_public.insurance_claims where id = pg_temp.id('C1')),
          'submission is stamped from the session');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('select app_public.submit_claim(%L)', pg_temp.id('C1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a claim is submitted once');
select tests.authenticate_as('admin.la@hms.test');
select is(tests.try(format('select app_public.submit_claim(%L)', pg_temp.id('C2')), true),
          'HMS_NOT_FOUND/404', 'another hospital cannot submit it');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.call(format('select to_jsonb(app_public.decide_claim(%L, %L))', pg_temp.id('C1'), 'under_review')) ->> 'status',
          'under_review', 'submitted → under_review');
select is(tests.try(format('select app_public.decide_claim(%L, %L, 250)', pg_temp.id('C1'), 'partially_approved'), true),
          'HMS_APPROVAL_BY_OTHER_USER/409', 'who submitted a claim does not record the payer''s decision (four eyes)');
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.try(format('select app_public.decide_claim(%L, %L, 1000)', pg_temp.id('C1'), 'partially_approved'), true),
          'HMS_APPROVED_AMOUNT_INVALID/422', 'approved cannot exceed claimed');
select is(tests.try(format('select app_public.decide_claim(%L, %L)', pg_temp.id('C1'), 'denied'), true),
          'HMS_REASON_REQUIRED/422', 'a denial needs a reason');
select is(tests.try(format($$update app_public.insurance_claims set status = 'approved' where id = %L$$, pg_temp.id('C1')), true),
          'HMS_WORKFLOW_REQUIRED/409', 'the payer''s decision is recorded only by decide_claim');
select is(tests.try(format('select app_public.decide_claim(%L, %L)', pg_temp.id('C1'), 'paid'), true),
          'HMS_DECISION_INVALID/422', 'paid is not a decision');
select is(tests.try(format('select app_public.cancel_claim(%L)', pg_temp.id('C1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a claim under review cannot be cancelled');

select is(tests.call(format('select to_jsonb(app_public.decide_claim(%L, %L, 250, null, null, %L))', pg_temp.id('C1'), 'partially_approved', 'ATL-C-1')) ->> 'status',
          'partially_approved', 'partial approval recorded');
select tests.clear_authentication();
select is((select decided_by from app_public.insurance_claims where id = pg_temp.id('C1')), pg_temp.user_id('admin.ny@hms.test'),
          'who recorded the decision is stamped from the session');
select ok((select approved_amount = 250 and patient_responsibility = i.total_amount - 250 and decided_at is not null
             from app_public.insurance_claims c join app_public.invoices i on i.id = c.invoice_id where c.id = pg_temp.id('C1')),
          'patient responsibility = invoice total − approved');
select ok((select insurance_amount = 250 and patient_amount = total_amount - 250 from app_public.invoices where id = pg_temp.id('I1')),
          'the invoice is split: insurance_amount = approved, patient_amount = total − approved');
select is((select remaining_limit from app_public.insurance_policies where id = '31990000-0000-4000-8000-000000000011'), 750.00::numeric(12,2),
          'the policy''s remaining limit drops by the approved amount');
select is((select status from app_public.pre_authorizations where id = pg_temp.id('PA1')), 'used', 'the pre-authorization is used');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.invoices set insurance_amount = 0 where id = %L$$, pg_temp.id('I1')), true),
          'E:42501', 'clients cannot write the invoice''s insurance amount');
select ok((select decided_at is not null from app_public.insurance_claims where id = pg_temp.id('C1'))
          and (select used_at is not null from app_public.pre_authorizations where id = pg_temp.id('PA1')),
          'the decision and the use of the pre-authorization are stamped');

select is(tests.try(format('select app_public.record_claim_payment(%L, 300)', pg_temp.id('C1')), true),
          'HMS_CLAIM_PAYMENT_INVALID/422', 'paid cannot exceed approved');
select is(tests.try(format('select app_public.record_claim_payment(%L, 0)', pg_temp.id('C1')), true),
          'HMS_CLAIM_PAYMENT_INVALID/422', 'a payment is positive');
select is(tests.call(format('select to_jsonb(app_public.record_claim_payment(%L, 250, %L))', pg_temp.id('C1'), 'EFT-778')) ->> 'status',
          'paid', 'approved → paid');
select tests.clear_authentication();
select ok((select paid_amount = 250 and paid_at is not null and payment_reference = 'EFT-778' from app_public.insurance_claims where id = pg_temp.id('C1')),
          'the payment is recorded on the claim');
select ok((select amount_paid = 0 and insurance_amount = 250 from app_public.invoices where id = pg_temp.id('I1')),
          'the invoice''s payments are left to billing');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('select app_public.record_claim_payment(%L, 250)', pg_temp.id('C1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a claim is paid once');
select is(tests.try(format($$update app_public.insurance_claims set status = 'submitted' where id = %L$$, pg_temp.id('C1')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'paid is final');

-- C2: submitted then denied straight from submitted (passes through under_review); then C3 on the same invoice.
select is(tests.call(format('select to_jsonb(app_public.submit_claim(%L))', pg_temp.id('C2'))) ->> 'status', 'submitted', 'C2 submitted');
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.call(format($$select to_jsonb(app_public.decide_claim(%L, 'denied', null, 'Not a covered service', 'N-12'))$$, pg_temp.id('C2'))) ->> 'status',
          'denied', 'a submitted claim can be denied');
select tests.clear_authentication();
select ok((select insurance_amount = 0 and patient_amount = total_amount from app_public.invoices where id = pg_temp.id('I4')),
          'a denial leaves the whole invoice to the patient');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('select app_public.record_claim_payment(%L, 1)', pg_temp.id('C2')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'a denied claim cannot be paid');
insert into ids select 'C3', (tests.call(format($$select to_jsonb(app_public.create_claim(%L, '31990000-0000-4000-8000-000000000013'))$$, pg_temp.id('I4'))) ->> 'id')::uuid;
select is(tests.call(format('select to_jsonb(app_public.cancel_claim(%L, %L))', pg_temp.id('C3'), 'Duplicate')) ->> 'status',
          'cancelled', 'after a denial a new claim can be made, and a draft cancelled');
select is(tests.try(format($$update app_public.insurance_claims set status = 'draft' where id = %L$$, pg_temp.id('C3')), true),
          'HMS_ILLEGAL_TRANSITION/409', 'cancelled is final');

-- Policies: who verified the cover is the session.
select is(tests.try($$update app_public.insurance_policies set verified_by = '20000000-0000-4000-8000-000000000001' where id = '31990000-0000-4000-8000-000000000013'$$, true),
          'E:42501', 'verified_by is never written by a client');
select is(tests.try($$update app_public.insurance_policies set verified_at = '2020-01-01' where id = '31990000-0000-4000-8000-000000000013'$$, true),
          'E:42501', 'nor verified_at: a verification is not back-dated');
select is(tests.try($$select app_public.verify_insurance_policy('31990000-0000-4000-8000-000000000013')$$, true),
          'ok', 'staff record that they verified a policy (verify_insurance_policy)');
select is((select verified_by from app_public.insurance_policies where id = '31990000-0000-4000-8000-000000000013'),
          pg_temp.user_id('accountant.ny@hms.test'), 'verified_by comes from the session');

-- Invariants over every claim of this test.
select tests.clear_authentication();
select ok(not exists (select 1 from app_public.insurance_claims c
                       where c.invoice_id in (select id from ids)
                         and (c.approved_amount > c.claimed_amount or c.paid_amount > c.approved_amount)),
          'approved ≤ claimed and paid ≤ approved on every claim');

select * from finish();
rollback;
