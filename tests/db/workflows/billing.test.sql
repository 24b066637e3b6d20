-- Billing workflow (db/schema/app_public/functions/: create_invoice, add_invoice_item, issue_invoice,
-- void_invoice, record_payment, the refund RPCs, issue_credit_note, settle_day, reopen_day; the
-- contract db/schema/app_hidden/functions/ensure_draft_invoice.sql, add_invoice_item.sql): the billing contract, line
-- computation, invoice totals and status machine, payments, refunds, credit notes and the daily
-- settlement lock.
begin;
select plan(155);

create function pg_temp.ny() returns uuid language sql immutable as $$ select '10000000-0000-4000-8000-000000000001'::uuid $$;
create function pg_temp.la() returns uuid language sql immutable as $$ select '10000000-0000-4000-8000-000000000002'::uuid $$;

insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender, is_active) values
  ('30990000-0000-4000-8000-000000000201', pg_temp.ny(), 'WF-3000-P1', 'Bill', 'Payer', date '1980-01-01', 'male', true),
  ('30990000-0000-4000-8000-000000000202', pg_temp.ny(), 'WF-3000-P2', 'Cash', 'Only', date '1981-01-01', 'female', true),
  ('30990000-0000-4000-8000-000000000203', pg_temp.la(), 'WF-3000-P3', 'Far', 'Away', date '1982-01-01', 'male', true);
insert into app_public.tax_configurations (id, hospital_id, code, name, tax_type, applies_to, rate_percent, is_inclusive, is_default) values
  ('30990000-0000-4000-8000-000000000301', pg_temp.ny(), 'WF_INCL_10', 'Inclusive 10%', 'vat', 'other', 10.00, true, false),
  ('30990000-0000-4000-8000-000000000302', pg_temp.la(), 'WF_LA_7', 'LA 7%', 'sales_tax', 'other', 7.00, false, false);

create temp table ids (name text primary key, id uuid);
create function pg_temp.id(p_name text) returns uuid language sql stable as $$ select id from ids where name = p_name $$;
create function pg_temp.inv(p_name text) returns app_public.invoices language sql stable as $$
  select * from app_public.invoices where id = pg_temp.id(p_name) $$;
create function pg_temp.user_id(p_email text) returns uuid language sql stable security definer set search_path = pg_catalog as $$
  select id from app_public.users where email = p_email $$;
-- Statements run as staff build their SQL from these names.
grant select, insert on ids to public;
insert into ids select 'la_invoice', id from app_public.invoices where hospital_id = pg_temp.la() limit 1;
grant execute on all functions in schema pg_temp to public;

-- ------------------------------------------------------------------------------------------
-- 1. The billing contract (as the owner, like other workflows' security definer RPCs)
-- ------------------------------------------------------------------------------------------
insert into ids values ('c1', app_hidden.ensure_draft_invoice(pg_temp.ny(), '30990000-0000-4000-8000-000000000201', 'pharmacy'));
select is((select status from app_public.invoices where id = pg_temp.id('c1')), 'draft', 'ensure_draft_invoice creates a draft');
select is(app_hidden.ensure_draft_invoice(pg_temp.ny(), '30990000-0000-4000-8000-000000000201', 'pharmacy'), pg_temp.id('c1'),
          'ensure_draft_invoice returns the open draft of that patient and type');
select isnt(app_hidden.ensure_draft_invoice(pg_temp.ny(), '30990000-0000-4000-8000-000000000201', 'lab'), pg_temp.id('c1'),
            'another invoice type gets its own draft');
select alike((select invoice_number from app_public.invoices where id = pg_temp.id('c1')), 'INV-%', 'the draft is numbered automatically');
select is((select currency_code::text from app_public.invoices where id = pg_temp.id('c1')), 'USD', 'the draft takes the hospital currency');
select is(tests.try($$select app_hidden.ensure_draft_invoice('10000000-0000-4000-8000-000000000001', '30990000-0000-4000-8000-000000000203', 'pharmacy')$$),
          'HMS_NOT_FOUND', 'ensure_draft_invoice: another hospital''s patient is 404');
select is(tests.try($$select app_hidden.ensure_draft_invoice('10000000-0000-4000-8000-000000000001', '30990000-0000-4000-8000-000000000201', 'spa')$$),
          'HMS_INVOICE_TYPE_INVALID', 'ensure_draft_invoice: unknown type is 422');

-- medicine line, default MED_5 rule (5 %): 3 × 10.00, 10 % discount → 27.00 + 1.35 tax
insert into ids values ('l1', app_hidden.add_invoice_item(pg_temp.id('c1'), 'medicine', 'Paracetamol 500 mg', 3, 10.00, null,
                                                          '{"discount_percent": 10, "service_code": "RX1"}'));
select results_eq($$select discount_amount, tax_percent, tax_amount, line_total, line_number from app_public.invoice_items where id = pg_temp.id('l1')$$,
                  $$values (3.00::numeric(12,2), 5.00::numeric(5,2), 1.35::numeric(12,2), 28.35::numeric(12,2), 1)$$,
                  'line: discount from percent, tax from the category''s default rule, line total, line number 1');
-- consultation line: CONSULT_EXEMPT (0 %)
insert into ids values ('l2', app_hidden.add_invoice_item(pg_temp.id('c1'), 'consultation', 'Follow-up visit', 1, 100.00));
select is((select tax_amount from app_public.invoice_items where id = pg_temp.id('l2')), 0.00::numeric(12,2), 'consultation line: exempt default rule');
-- inclusive configuration: 11.00 including 10 % → tax 1.00
insert into ids values ('l3', app_hidden.add_invoice_item(pg_temp.id('c1'), 'service', 'Dressing kit', 1, 11.00, '30990000-0000-4000-8000-000000000301'));
select results_eq($$select tax_percent, tax_amount, line_total, price_includes_tax from app_public.invoice_items where id = pg_temp.id('l3')$$,
                  $$values (10.00::numeric(5,2), 1.00::numeric(12,2), 11.00::numeric(12,2), true)$$,
                  'tax_configuration_id: rate copied, inclusive price keeps the line total and extracts the tax');
-- 'service' has no category rule → no tax
insert into ids values ('l4', app_hidden.add_invoice_item(pg_temp.id('c1'), 'service', 'Parking', 2, 2.50));
select is((select tax_percent from app_public.invoice_items where id = pg_temp.id('l4')), 0.00::numeric(5,2), 'no rule for the category: no tax');
select is(tests.try(format('select app_hidden.add_invoice_item(%L, %L, %L, 1, 1)', pg_temp.id('c1'), 'spa', 'x')),
          'HMS_INVOICE_ITEM_INVALID', 'add_invoice_item: unknown item type is 422');
select is(tests.try(format('select app_hidden.add_invoice_item(%L, %L, %L, 0, 1)', pg_temp.id('c1'), 'other', 'x')),
          'HMS_INVOICE_ITEM_INVALID', 'add_invoice_item: zero quantity is 422');
select is(tests.try(format('select app_hidden.add_invoice_item(%L, %L, %L, 1, -1)', pg_temp.id('c1'), 'other', 'x')),
          'HMS_INVOICE_ITEM_INVALID', 'add_invoice_item: negative price is 422');
select is(tests.try(format('select app_hidden.add_invoice_item(%L, %L, %L, 999999999, 99999)', pg_temp.id('c1'), 'other', 'x')),
          'HMS_INVOICE_ITEM_INVALID', 'add_invoice_item: an amount too large is 422, not a numeric overflow');
select is(tests.try(format('select app_hidden.add_invoice_item(%L, %L, %L, 1, 1, %L)', pg_temp.id('c1'), 'other', 'x', '30990000-0000-4000-8000-000000000302')),
          'HMS_NOT_FOUND', 'add_invoice_item: another hospital''s tax configuration is 404');
select is(tests.try(format('select app_hidden.add_invoice_item(%L, %L, %L, 1, 1, null, %L)', pg_temp.id('c1'), 'other', 'x', '{"doctor_id": "11000000-0000-4000-8000-000000000002"}')),
          'HMS_REFERENCE_NOT_FOUND', 'add_invoice_item: a link to a missing record is 422 HMS_REFERENCE_NOT_FOUND');

-- Invariant: total = Σ lines ± tax and discount
select results_eq($$select subtotal, discount_amount, tax_amount, total_amount, balance_due from app_public.invoices where id = pg_temp.id('c1')$$,
                  $$values (145.00::numeric(12,2), 3.00::numeric(12,2), 2.35::numeric(12,2), 144.35::numeric(12,2), 144.35::numeric(12,2))$$,
                  'invoice totals: subtotal = Σ lines before discount and tax, discount = Σ line discounts, tax = Σ line tax, total = subtotal − discount + tax');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.invoices set invoice_discount_amount = 4.35, discount_reason = 'Loyalty' where id = %L$$, pg_temp.id('c1'))), 'ok',
          'staff give an invoice-level discount on a draft');
select is(tests.try(format($$update app_public.invoices set discount_approved_by = %L where id = %L$$, pg_temp.user_id('admin.ny@hms.test'), pg_temp.id('c1'))),
          'E:42501', 'who gave the discount is never written by a client');
select tests.clear_authentication();
select results_eq($$select discount_amount, total_amount, discount_approved_by from app_public.invoices where id = pg_temp.id('c1')$$,
                  $$values (7.35::numeric(12,2), 140.00::numeric(12,2), pg_temp.user_id('accountant.ny@hms.test'))$$,
                  'an invoice-level discount applies on top of the lines; who gave it comes from the session');
select is((select count(*)::int from app_public.invoices i
            where i.id = pg_temp.id('c1')
              and i.subtotal = (select sum(line_total - tax_amount + discount_amount) from app_public.invoice_items where invoice_id = i.id)
              and i.tax_amount = (select sum(tax_amount) from app_public.invoice_items where invoice_id = i.id)
              and i.total_amount = i.subtotal - i.discount_amount + i.tax_amount), 1,
          'invariant: invoice total = items ± tax and discount');
-- Four eyes on discounts: above the hospital's threshold (NY: 5.00 here), who raised the invoice
-- does not give its discount; a colleague with billing.write does.
update app_public.hospital_settings set discount_approval_threshold = 5 where hospital_id = pg_temp.ny();
select tests.authenticate_as('reception.ny@hms.test');
insert into ids select 'dsc1', (tests.call($$select to_jsonb(app_public.create_invoice('30990000-0000-4000-8000-000000000201', 'outpatient'))$$) ->> 'id')::uuid;
select is(tests.try(format($$update app_public.invoices set invoice_discount_amount = 20, discount_reason = 'Staff family' where id = %L$$, pg_temp.id('dsc1')), true),
          'HMS_APPROVAL_BY_OTHER_USER/409', 'who raised an invoice does not give it a discount above the threshold');
select is(tests.try(format($$update app_public.invoices set invoice_discount_amount = 5, discount_reason = 'Rounding' where id = %L$$, pg_temp.id('dsc1'))),
          'ok', 'up to the threshold they may');
select tests.clear_authentication();
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.invoices set invoice_discount_amount = 20, discount_reason = 'Staff family' where id = %L$$, pg_temp.id('dsc1'))),
          'ok', 'a colleague gives the larger discount');
select tests.clear_authentication();
select is((select invoice_discount_amount::text || ' ' || discount_approved_by::text from app_public.invoices where id = pg_temp.id('dsc1')),
          '20.00 ' || pg_temp.user_id('accountant.ny@hms.test')::text, 'and is recorded as who gave it');
update app_public.hospital_settings set discount_approval_threshold = 0 where hospital_id = pg_temp.ny();

-- a line changes and goes while the invoice is a draft
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('update app_public.invoice_items set quantity = 4 where id = %L', pg_temp.id('l4'))), 'ok',
          'staff may change a draft line');
select tests.clear_authentication();
select is((select line_total from app_public.invoice_items where id = pg_temp.id('l4')), 10.00::numeric(12,2), 'the changed line is recomputed');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('delete from app_public.invoice_items where id = %L', pg_temp.id('l4'))), 'ok',
          'staff may remove a draft line');
select tests.clear_authentication();
select results_eq($$select subtotal, discount_amount, total_amount from app_public.invoices where id = pg_temp.id('c1')$$,
                  $$values (140.00::numeric(12,2), 7.35::numeric(12,2), 135.00::numeric(12,2))$$,
                  'totals follow removed lines; the invoice-level discount stays');

-- ------------------------------------------------------------------------------------------
-- 2. RPCs: create, add line, issue, void
-- ------------------------------------------------------------------------------------------
select tests.authenticate_as('nurse.ny@hms.test');
select is(tests.try($$select app_public.create_invoice('30990000-0000-4000-8000-000000000202', 'outpatient')$$),
          'HMS_FORBIDDEN', 'create_invoice: 403 without billing.write');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try($$select app_public.create_invoice('30990000-0000-4000-8000-000000000203', 'outpatient')$$),
          'HMS_NOT_FOUND', 'create_invoice: another hospital''s patient is 404');
select tests.clear_authentication();
select is(tests.try($$select app_public.create_invoice('30990000-0000-4000-8000-000000000202', 'outpatient')$$),
          'HMS_SESSION_INVALID', 'create_invoice: no session is 401');
select tests.authenticate_as('reception.ny@hms.test');
insert into ids select 'r1', (tests.call($$select to_jsonb(r) from (select * from app_public.create_invoice('30990000-0000-4000-8000-000000000202', 'outpatient')) r$$) ->> 'id')::uuid;
select tests.clear_authentication();
select is((pg_temp.inv('r1')).status, 'draft', 'create_invoice opens a draft');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('select app_public.issue_invoice(%L)', pg_temp.id('r1'))),
          'HMS_INVOICE_EMPTY', 'issue_invoice: an invoice without lines is 422');
select is(tests.call(format($$select to_jsonb(r) from (select line_total from app_public.add_invoice_item(%L, 'consultation', 'Consultation', 1, 200)) r$$, pg_temp.id('r1'))) ->> 'line_total',
          '200.00', 'add_invoice_item RPC adds a computed line');
select tests.authenticate_as('nurse.ny@hms.test');
select is(tests.try(format($$select app_public.add_invoice_item(%L, 'other', 'x', 1, 1)$$, pg_temp.id('r1'))),
          'HMS_FORBIDDEN', 'add_invoice_item RPC: 403 without billing.write');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.add_invoice_item(%L, 'other', 'x', 1, 1)$$, pg_temp.id('la_invoice'))),
          'HMS_NOT_FOUND', 'add_invoice_item RPC: another hospital''s invoice is 404');
select is(tests.try(format($$select app_public.add_invoice_item(%L, 'other', '', 1, 1)$$, pg_temp.id('r1'))),
          'HMS_INVOICE_ITEM_INVALID', 'add_invoice_item RPC: empty description is 422');
select is(tests.try(format($$select app_public.add_invoice_item(%L, 'consultation', 'Visit', 1, 1, doctor_id => 'd1100000-0000-4000-8000-000000000002')$$, pg_temp.id('r1'))),
          'HMS_REFERENCE_NOT_FOUND', 'add_invoice_item RPC: another hospital''s doctor is 422 HMS_REFERENCE_NOT_FOUND, as for the contract');
select is(tests.try(format($$update app_public.invoices set status = 'paid' where id = %L$$, pg_temp.id('r1'))),
          'HMS_ILLEGAL_TRANSITION', 'draft → paid by hand is 409');
select is(tests.call(format('select to_jsonb(r) from (select status, issued_at is not null as stamped, due_date from app_public.issue_invoice(%L)) r', pg_temp.id('r1'))),
          jsonb_build_object('status', 'issued', 'stamped', true, 'due_date', (pg_temp.inv('r1')).invoice_date),
          'issue_invoice: issued, stamped, due date from invoice_due_days (NY: 0)');
select tests.clear_authentication();
select isnt((pg_temp.inv('r1')).issued_by, null, 'issue_invoice records who issued');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('select app_public.issue_invoice(%L)', pg_temp.id('r1'))),
          'HMS_ILLEGAL_TRANSITION', 'issue_invoice twice is 409');
select is(tests.try(format($$select app_public.add_invoice_item(%L, 'other', 'x', 1, 1)$$, pg_temp.id('r1'))),
          'HMS_DOCUMENT_LOCKED', 'no line is added after issue (RPC)');
select tests.clear_authentication();
select is(tests.try(format($$select app_hidden.add_invoice_item(%L, 'other', 'x', 1, 1)$$, pg_temp.id('r1'))),
          'HMS_DOCUMENT_LOCKED', 'no line is added after issue (contract)');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('update app_public.invoice_items set unit_price = 1 where invoice_id = %L', pg_temp.id('r1'))),
          'HMS_DOCUMENT_LOCKED', 'no line changes after issue (REST)');
select is(tests.try(format('delete from app_public.invoice_items where invoice_id = %L', pg_temp.id('r1'))),
          'HMS_DOCUMENT_LOCKED', 'no line is removed after issue (REST)');
select is(tests.try(format('update app_public.invoices set invoice_discount_amount = 50 where id = %L', pg_temp.id('r1'))),
          'HMS_DOCUMENT_LOCKED', 'the discount is frozen after issue');
select is(tests.try(format('update app_public.invoices set discount_amount = 50 where id = %L', pg_temp.id('r1'))),
          'E:42501', 'the total discount is derived: no client writes it');
select is(tests.try(format($$update app_public.invoices set patient_id = '30990000-0000-4000-8000-000000000201' where id = %L$$, pg_temp.id('r1'))),
          'HMS_DOCUMENT_LOCKED', 'who is billed is frozen after issue');
select is(tests.try(format($$update app_public.invoices set notes = 'Call before sending' where id = %L$$, pg_temp.id('r1'))),
          'ok', 'notes stay editable on an issued invoice');
select is(tests.try(format('delete from app_public.invoices where id = %L', pg_temp.id('r1'))),
          'HMS_DOCUMENT_LOCKED', 'an issued invoice is not deleted');
select is(tests.try(format($$update app_public.invoices set status = 'draft' where id = %L$$, pg_temp.id('r1'))),
          'HMS_ILLEGAL_TRANSITION', 'no way back to draft');
select is(tests.try(format($$insert into app_public.invoices (patient_id, status) values (%L, 'paid')$$, '30990000-0000-4000-8000-000000000202')),
          'HMS_ILLEGAL_TRANSITION', 'a new invoice over REST starts as a draft');

-- issuing is a decision: only issue_invoice takes it, and the stamps come from the session
select tests.clear_authentication();
insert into ids values ('d1', app_hidden.ensure_draft_invoice(pg_temp.ny(), '30990000-0000-4000-8000-000000000202', 'optical'));
select app_hidden.add_invoice_item(pg_temp.id('d1'), 'optical', 'Frame', 1, 50);
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.invoices set issued_by = %L where id = %L$$, pg_temp.user_id('admin.ny@hms.test'), pg_temp.id('d1'))),
          'E:42501', 'issued_by is never written by a client');
select is(tests.try(format($$update app_public.invoices set issued_at = '2020-01-01' where id = %L$$, pg_temp.id('d1'))),
          'E:42501', 'issued_at is never written by a client');
select is(tests.try(format($$update app_public.invoices set status = 'issued' where id = %L$$, pg_temp.id('d1'))),
          'HMS_WORKFLOW_REQUIRED', 'a draft is not issued by a direct update: issue_invoice issues it');
select is(tests.try(format($$select app_public.issue_invoice(%L)$$, pg_temp.id('d1'))), 'ok', 'issue_invoice issues the draft');
select tests.clear_authentication();
select results_eq($$select status, issued_by, issued_at is not null, due_date = invoice_date from app_public.invoices where id = pg_temp.id('d1')$$,
                  $$values ('issued'::text, pg_temp.user_id('accountant.ny@hms.test'), true, true)$$,
                  'issued_at/by stamped from the session, due date set');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.invoices set status = 'paid' where id = %L$$, pg_temp.id('d1'))),
          'HMS_WORKFLOW_REQUIRED', 'issued → paid by hand is 409 HMS_WORKFLOW_REQUIRED: payments decide it');
select is(tests.try(format($$update app_public.invoices set bill_to_name = 'Someone Else' where id = %L$$, pg_temp.id('d1'))),
          'HMS_DOCUMENT_LOCKED', 'an issued invoice''s addressee is frozen: corrections are credit notes');
select is(tests.try(format($$update app_public.invoices set notes = 'Patient asked for a copy' where id = %L$$, pg_temp.id('d1'))),
          'ok', '… its internal notes and due date still move');

-- void
select tests.clear_authentication();
insert into ids values ('v1', app_hidden.ensure_draft_invoice(pg_temp.ny(), '30990000-0000-4000-8000-000000000202', 'other'));
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.invoices set status = 'void', void_reason = 'x' where id = %L$$, pg_temp.id('v1'))),
          'HMS_WORKFLOW_REQUIRED', 'voiding is not a direct update: void_invoice voids');
select is(tests.try(format($$select app_public.void_invoice(%L, ' ')$$, pg_temp.id('v1'))),
          'HMS_REASON_REQUIRED', 'void_invoice needs a reason');
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try(format($$select app_public.void_invoice(%L, 'duplicate')$$, pg_temp.id('v1'))),
          'HMS_FORBIDDEN', 'void_invoice: 403 without billing.void');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.void_invoice(%L, '  ')$$, pg_temp.id('v1'))),
          'HMS_REASON_REQUIRED', 'void_invoice: a reason is required');
select is(tests.call(format($$select to_jsonb(r) from (select status, void_reason, voided_at is not null as stamped, voided_by from app_public.void_invoice(%L, 'Opened twice')) r$$, pg_temp.id('v1'))),
          jsonb_build_object('status', 'void', 'void_reason', 'Opened twice', 'stamped', true, 'voided_by', pg_temp.user_id('accountant.ny@hms.test')),
          'void_invoice voids a draft, stamped from the session');
select is(tests.try(format($$select app_public.void_invoice(%L, 'Again')$$, pg_temp.id('v1'))),
          'HMS_ILLEGAL_TRANSITION', 'void_invoice twice is 409');
select is(tests.try(format($$select app_public.issue_invoice(%L)$$, pg_temp.id('v1'))),
          'HMS_ILLEGAL_TRANSITION', 'void is final');
select is(tests.try(format($$select app_public.void_invoice(%L, 'x')$$, pg_temp.id('la_invoice'))),
          'HMS_NOT_FOUND', 'void_invoice: another hospital''s invoice is 404');

-- ------------------------------------------------------------------------------------------
-- 3. Payments (r1: total 200.00)
-- ------------------------------------------------------------------------------------------
select tests.authenticate_as('nurse.ny@hms.test');
select is(tests.try(format($$select app_public.record_payment(%L, 10, 'cash')$$, pg_temp.id('r1'))),
          'HMS_FORBIDDEN', 'record_payment: 403 without billing.collect');
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try(format($$select app_public.record_payment(%L, 0, 'cash')$$, pg_temp.id('r1'))),
          'HMS_AMOUNT_INVALID', 'record_payment: zero is 422');
select is(tests.try(format($$select app_public.record_payment(%L, 10, 'gold')$$, pg_temp.id('r1'))),
          'HMS_PAYMENT_METHOD_INVALID', 'record_payment: unknown method is 422');
select is(tests.try(format($$select app_public.record_payment(%L, 200.01, 'cash')$$, pg_temp.id('r1'))),
          'HMS_OVERPAYMENT', 'record_payment: more than the balance is 422 HMS_OVERPAYMENT');
select is(tests.try(format($$select app_public.record_payment(%L, 10, 'cash')$$, pg_temp.id('c1'))),
          'HMS_INVOICE_NOT_PAYABLE', 'record_payment: a draft is not payable');
select is(tests.try($$select app_public.record_payment('d3000000-0000-4000-8000-000000000002', 1, 'cash')$$),
          'HMS_NOT_FOUND', 'record_payment: another hospital''s invoice is 404');
insert into ids select 'p1', (tests.call(format($$select to_jsonb(r) from (select * from app_public.record_payment(%L, 120, 'cash')) r$$, pg_temp.id('r1'))) ->> 'id')::uuid;
select tests.clear_authentication();
select alike((select receipt_number from app_public.payments where id = pg_temp.id('p1')), 'RCT-%', 'record_payment: automatic receipt number');
select is((select received_by from app_public.payments where id = pg_temp.id('p1')), pg_temp.user_id('reception.ny@hms.test'), 'record_payment: received by the caller');
select results_eq(format('select status, amount_paid, balance_due from app_public.invoices where id = %L', pg_temp.id('r1')),
                  $$values ('partially_paid'::text, 120.00::numeric(12,2), 80.00::numeric(12,2))$$, 'a part payment: partially_paid');
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try(format($$insert into app_public.payments (invoice_id, patient_id, amount, payment_method) values (%L, %L, 80.01, 'card')$$,
                                                      pg_temp.id('r1'), '30990000-0000-4000-8000-000000000202')),
          'HMS_WORKFLOW_REQUIRED', 'a direct REST insert cannot overpay either: completed payments are taken by record_payment');
select is(tests.try(format($$insert into app_public.payments (invoice_id, patient_id, amount, payment_method) values (%L, %L, 1, 'card')$$,
                                                      pg_temp.id('r1'), '30990000-0000-4000-8000-000000000202')),
          'HMS_WORKFLOW_REQUIRED', '… not even within the balance');
select is(tests.try(format($$insert into app_public.payments (invoice_id, patient_id, amount, payment_method, cheque_number, status) values (%L, %L, 50, 'cheque', '000123', 'pending')$$,
                                                      pg_temp.id('r1'), '30990000-0000-4000-8000-000000000202')),
          'ok', 'a pending cheque may be recorded directly');
select tests.clear_authentication();
select results_eq(format($$select p.received_by, i.amount_paid from app_public.payments p join app_public.invoices i on i.id = p.invoice_id where p.invoice_id = %L and p.status = 'pending'$$, pg_temp.id('r1')),
                  $$values (pg_temp.user_id('reception.ny@hms.test'), 120.00::numeric(12,2))$$,
                  'received_by comes from the session; a pending payment does not count');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.void_invoice(%L, 'x')$$, pg_temp.id('r1'))),
          'HMS_ILLEGAL_TRANSITION', 'a partially paid invoice cannot be voided');
select is(tests.try(format($$update app_public.invoices set status = 'paid' where id = %L$$, pg_temp.id('r1'))),
          'HMS_WORKFLOW_REQUIRED', 'paid is not set by hand');
insert into ids select 'p2', (tests.call(format($$select to_jsonb(r) from (select * from app_public.record_payment(%L, 80, 'card', 'AUTH 1', card_last4 => '4242')) r$$, pg_temp.id('r1'))) ->> 'id')::uuid;
select tests.clear_authentication();
select results_eq(format('select status, amount_paid, balance_due, paid_at is not null from app_public.invoices where id = %L', pg_temp.id('r1')),
                  $$values ('paid'::text, 200.00::numeric(12,2), 0.00::numeric(12,2), true)$$, 'paid in full: paid, balance 0, paid_at set');
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try(format($$select app_public.record_payment(%L, 1, 'cash')$$, pg_temp.id('r1'))),
          'HMS_INVOICE_NOT_PAYABLE', 'a paid invoice takes no more payments');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.payments set amount = 1 where id = %L$$, pg_temp.id('p1'))),
          'E:42501', 'a payment''s amount never changes');
select is(tests.try(format($$update app_public.payments set payment_method = 'card', notes = 'was cash' where id = %L$$, pg_temp.id('p2'))),
          'HMS_DOCUMENT_LOCKED', 'a completed payment is not rewritten (card → cash): a refund reverses it');

-- ------------------------------------------------------------------------------------------
-- 4. Refunds (NY threshold 0: every approval by someone else)
-- ------------------------------------------------------------------------------------------
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try(format($$select app_public.request_refund(%L, 10, 'overbilling')$$, pg_temp.id('r1'))),
          'HMS_FORBIDDEN', 'request_refund: 403 without billing.refund');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.request_refund(%L, 200.01, 'overbilling')$$, pg_temp.id('r1'))),
          'HMS_REFUND_EXCEEDS_PAID', 'request_refund: more than paid is 422');
select is(tests.try(format($$select app_public.request_refund(%L, 10, 'because')$$, pg_temp.id('r1'))),
          'HMS_REFUND_REASON_INVALID', 'request_refund: unknown reason is 422');
select is(tests.try(format($$select app_public.request_refund(%L, 10, 'overbilling', %L)$$, pg_temp.id('r1'), pg_temp.id('l1'))),
          'HMS_NOT_FOUND', 'request_refund: a payment of another invoice is 404');
insert into ids select 'f1', (tests.call(format($$select to_jsonb(r) from (select * from app_public.request_refund(%L, 100, 'service_not_rendered', %L)) r$$, pg_temp.id('r1'), pg_temp.id('p1'))) ->> 'id')::uuid;
select tests.clear_authentication();
select is((select refund_method from app_public.refunds where id = pg_temp.id('f1')), 'cash', 'the refund method defaults to the payment''s');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.request_refund(%L, 100.01, 'overbilling')$$, pg_temp.id('r1'))),
          'HMS_REFUND_EXCEEDS_PAID', 'pending refunds count against what may still be refunded');
select is(tests.try(format($$select app_public.approve_refund(%L)$$, pg_temp.id('f1'))),
          'HMS_APPROVAL_BY_OTHER_USER', 'approve_refund: the requester may not approve above the threshold');
select is(tests.try(format($$update app_public.refunds set status = 'approved' where id = %L$$, pg_temp.id('f1'))),
          'HMS_WORKFLOW_REQUIRED', 'a direct update approves nothing: only approve_refund does');
select is(tests.try(format($$update app_public.refunds set status = 'rejected', rejection_reason = 'x' where id = %L$$, pg_temp.id('f1'))),
          'HMS_WORKFLOW_REQUIRED', '… nor rejects: only reject_refund does');
select is(tests.try(format($$select app_public.process_refund(%L)$$, pg_temp.id('f1'))),
          'HMS_ILLEGAL_TRANSITION', 'process_refund: requested → processed is 409');
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.call(format($$select to_jsonb(r) from (select status from app_public.approve_refund(%L)) r$$, pg_temp.id('f1'))) ->> 'status',
          'approved', 'approve_refund by another user');
select tests.clear_authentication();
select results_eq(format('select requested_by, approved_by from app_public.refunds where id = %L', pg_temp.id('f1')),
                  $$values (pg_temp.user_id('accountant.ny@hms.test'), pg_temp.user_id('admin.ny@hms.test'))$$,
                  'requested_by and approved_by come from the sessions');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.refunds set status = 'processed' where id = %L$$, pg_temp.id('f1'))),
          'HMS_WORKFLOW_REQUIRED', 'a refund is paid out only by process_refund');
select tests.authenticate_as('admin.ny@hms.test');
select is(tests.try(format($$select app_public.reject_refund(%L, 'no')$$, pg_temp.id('f1'))),
          'HMS_ILLEGAL_TRANSITION', 'reject_refund: approved → rejected is 409');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.refunds set refund_method = 'bank_transfer', reason_notes = 'changed' where id = %L$$, pg_temp.id('f1'))),
          'HMS_DOCUMENT_LOCKED', 'an approved refund is not rewritten');
select is(tests.call(format($$select to_jsonb(r) from (select status, processed_at is not null as stamped from app_public.process_refund(%L, 'CASH OUT')) r$$, pg_temp.id('f1'))),
          '{"status": "processed", "stamped": true}'::jsonb, 'process_refund');
select is(tests.try(format($$update app_public.refunds set reason_notes = 'changed after payout' where id = %L$$, pg_temp.id('f1'))),
          'HMS_DOCUMENT_LOCKED', 'nor a processed one');
select tests.clear_authentication();
select results_eq(format('select status, amount_refunded, balance_due from app_public.invoices where id = %L', pg_temp.id('r1')),
                  $$values ('partially_paid'::text, 100.00::numeric(12,2), 100.00::numeric(12,2))$$,
                  'a processed refund counts: balance reopens, status partially_paid');
-- Invariant: paid − refunded = Σ completed payments − Σ processed refunds
select is((select amount_paid - amount_refunded from app_public.invoices where id = pg_temp.id('r1')),
          (select (select sum(amount) from app_public.payments where invoice_id = pg_temp.id('r1') and status = 'completed')
                - (select sum(amount) from app_public.refunds where invoice_id = pg_temp.id('r1') and status = 'processed')),
          'invariant: paid − refunded = payments − refunds');
update app_public.hospital_settings set refund_approval_threshold = 100 where hospital_id = pg_temp.ny();
select tests.authenticate_as('accountant.ny@hms.test');
insert into ids select 'f2', (tests.call(format($$select to_jsonb(r) from (select * from app_public.request_refund(%L, 100, 'overbilling')) r$$, pg_temp.id('r1'))) ->> 'id')::uuid;
select is(tests.call(format($$select to_jsonb(r) from (select status from app_public.approve_refund(%L)) r$$, pg_temp.id('f2'))) ->> 'status',
          'approved', 'under the threshold the requester may approve');
select is(tests.try(format($$select app_public.process_refund(%L)$$, pg_temp.id('f2'))), 'ok', 'process the second refund');
select tests.clear_authentication();
select results_eq(format('select status, amount_refunded, balance_due from app_public.invoices where id = %L', pg_temp.id('r1')),
                  $$values ('refunded'::text, 200.00::numeric(12,2), 0.00::numeric(12,2))$$, 'fully refunded: refunded, nothing due');
select tests.authenticate_as('accountant.ny@hms.test');
insert into ids select 'f3', (tests.call(format($$select to_jsonb(r) from (select * from app_public.request_refund(%L, 10, 'overbilling')) r$$, 'd3000000-0000-4000-8000-000000000001')) ->> 'id')::uuid;
select is(tests.try(format($$select app_public.reject_refund(%L, '')$$, pg_temp.id('f3'))),
          'HMS_REASON_REQUIRED', 'reject_refund: a reason is required');
select is(tests.call(format($$select to_jsonb(r) from (select status from app_public.reject_refund(%L, 'Not justified')) r$$, pg_temp.id('f3'))) ->> 'status',
          'rejected', 'reject_refund');
select is(tests.try(format($$select app_public.approve_refund(%L)$$, pg_temp.id('f3'))),
          'HMS_ILLEGAL_TRANSITION', 'a rejected refund stays rejected');
select is(tests.try($$select app_public.approve_refund('30990000-0000-4000-8000-00000000ffff')$$),
          'HMS_NOT_FOUND', 'approve_refund: unknown refund is 404');

-- ------------------------------------------------------------------------------------------
-- 5. Credit notes (a new invoice of 100.00, 60 paid)
-- ------------------------------------------------------------------------------------------
select tests.clear_authentication();
insert into ids values ('k1', app_hidden.ensure_draft_invoice(pg_temp.ny(), '30990000-0000-4000-8000-000000000202', 'lab'));
select app_hidden.add_invoice_item(pg_temp.id('k1'), 'other', 'Blood panel', 1, 100);
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.issue_credit_note(%L, 10, 'Too early')$$, pg_temp.id('k1'))),
          'HMS_INVOICE_NOT_CREDITABLE', 'issue_credit_note: a draft is not creditable');
select is(tests.try(format('select app_public.issue_invoice(%L)', pg_temp.id('k1'))), 'ok', 'issue k1');
select is(tests.try(format($$select app_public.record_payment(%L, 60, 'upi')$$, pg_temp.id('k1'))), 'ok', 'pay 60 on k1');
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try(format($$select app_public.issue_credit_note(%L, 10, 'Overcharge')$$, pg_temp.id('k1'))),
          'HMS_FORBIDDEN', 'issue_credit_note: 403 without billing.refund');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.issue_credit_note(%L, 100.01, 'Overcharge')$$, pg_temp.id('k1'))),
          'HMS_CREDIT_EXCEEDS_TOTAL', 'issue_credit_note: more than the total is 422');
select is(tests.try(format($$select app_public.issue_credit_note(%L, -5, 'Overcharge')$$, pg_temp.id('k1'))),
          'HMS_AMOUNT_INVALID', 'issue_credit_note: a negative amount is 422');
select is(tests.try(format($$select app_public.issue_credit_note(%L, 5, 'Overcharge', '{}')$$, pg_temp.id('k1'))),
          'HMS_CREDIT_NOTE_LINES_INVALID', 'issue_credit_note: lines must be an array');
select is(tests.call(format($$select to_jsonb(r) from (select status, credit_note_number like 'CRN-%%' as numbered from app_public.issue_credit_note(%L, 40, 'Panel partly not run', '[{"description": "Lipids", "amount": 40}]')) r$$, pg_temp.id('k1'))),
          '{"status": "issued", "numbered": true}'::jsonb, 'issue_credit_note: issued and numbered');
select tests.clear_authentication();
select results_eq(format('select status, amount_credited, balance_due from app_public.invoices where id = %L', pg_temp.id('k1')),
                  $$values ('paid'::text, 40.00::numeric(12,2), 0.00::numeric(12,2))$$, 'the credit note settles the rest: paid, balance 0');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.issue_credit_note(%L, 60.01, 'More')$$, pg_temp.id('k1'))),
          'HMS_CREDIT_EXCEEDS_TOTAL', 'already credited amounts count');
select is(tests.try(format($$insert into app_public.credit_notes (invoice_id, patient_id, amount, reason, status) values (%L, %L, 500, 'Direct', 'issued')$$,
                                                        pg_temp.id('k1'), '30990000-0000-4000-8000-000000000202')),
          'HMS_WORKFLOW_REQUIRED', 'a credit note is not issued by a direct insert');
select is(tests.try(format($$insert into app_public.credit_notes (invoice_id, patient_id, amount, reason, status, issued_at) values (%L, %L, 500, 'Direct', 'issued', now())$$,
                                                        pg_temp.id('k1'), '30990000-0000-4000-8000-000000000202')),
          'E:42501', 'nor are its stamps written by a client');
select is(tests.try(format($$update app_public.credit_notes set amount = 1 where invoice_id = %L$$, pg_temp.id('k1'))),
          'HMS_DOCUMENT_LOCKED', 'an issued credit note never changes');
select is(tests.try(format($$update app_public.credit_notes set status = 'void' where invoice_id = %L$$, pg_temp.id('k1'))),
          'HMS_WORKFLOW_REQUIRED', 'a credit note is not voided by a direct update');
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try(format($$select app_public.void_credit_note((select id from app_public.credit_notes where invoice_id = %L), 'Issued in error')$$, pg_temp.id('k1'))),
          'HMS_FORBIDDEN', 'void_credit_note needs billing.void');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.void_credit_note((select id from app_public.credit_notes where invoice_id = %L), ' ')$$, pg_temp.id('k1'))),
          'HMS_REASON_REQUIRED', 'void_credit_note needs a reason');
select is(tests.try(format($$select app_public.void_credit_note((select id from app_public.credit_notes where invoice_id = %L), 'Issued in error')$$, pg_temp.id('k1'))),
          'ok', 'an issued credit note is voided through void_credit_note');
select tests.clear_authentication();
select results_eq(format($$select c.voided_by, i.status, i.amount_credited, i.balance_due from app_public.credit_notes c join app_public.invoices i on i.id = c.invoice_id where c.invoice_id = %L$$, pg_temp.id('k1')),
                  $$values (pg_temp.user_id('accountant.ny@hms.test'), 'partially_paid'::text, 0.00::numeric(12,2), 40.00::numeric(12,2))$$,
                  'voided_by from the session; the void credit note no longer counts: the balance reopens');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$select app_public.issue_credit_note(%L, 1, 'x')$$, pg_temp.id('v1'))),
          'HMS_INVOICE_NOT_CREDITABLE', 'a void invoice is not creditable');

-- ------------------------------------------------------------------------------------------
-- 6. Daily settlement (a day long ago, in NY time)
-- ------------------------------------------------------------------------------------------
select tests.clear_authentication();
create function pg_temp.old_day() returns date language sql stable security definer set search_path = pg_catalog as $$ select app_hidden.hospital_today(pg_temp.ny()) - 400 $$;
create function pg_temp.old_at(p_time time) returns timestamptz language sql stable as $$ select (pg_temp.old_day() + p_time) at time zone 'America/New_York' $$;
grant execute on function pg_temp.old_day(), pg_temp.old_at(time) to public;
insert into ids values ('s1', app_hidden.ensure_draft_invoice(pg_temp.ny(), '30990000-0000-4000-8000-000000000201', 'inpatient'));
select app_hidden.add_invoice_item(pg_temp.id('s1'), 'room', 'Ward bed', 1, 1000);
update app_public.invoices set status = 'issued', issued_at = now() where id = pg_temp.id('s1');  -- the owner writes its own stamps
-- payments written by the owner (a back-office import) on that day: 23:30 local is the next UTC day
insert into app_public.payments (hospital_id, invoice_id, patient_id, amount, payment_method, payment_date) values
  (pg_temp.ny(), pg_temp.id('s1'), '30990000-0000-4000-8000-000000000201', 100, 'cash', pg_temp.old_at('09:00')),
  (pg_temp.ny(), pg_temp.id('s1'), '30990000-0000-4000-8000-000000000201', 250, 'card', pg_temp.old_at('23:30')),
  (pg_temp.ny(), pg_temp.id('s1'), '30990000-0000-4000-8000-000000000201', 70, 'cash', pg_temp.old_at('00:00') - interval '1 minute');
select tests.authenticate_as('reception.ny@hms.test');
select is(tests.try(format('select app_public.settle_day(%L)', pg_temp.old_day())),
          'HMS_FORBIDDEN', 'settle_day: 403 without billing.settle');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format('select app_public.settle_day(%L)', current_date + 5)),
          'HMS_SETTLEMENT_DATE_INVALID', 'settle_day: a future day is 422');
select is(tests.try(format('select app_public.settle_day(%L, 90)', pg_temp.old_day())),
          'HMS_VARIANCE_REASON_REQUIRED', 'settle_day: a cash variance needs a reason');
select is(tests.call(format($$select to_jsonb(r) from (select status, cash_total, card_total, gross_collections, payment_count, expected_cash, cash_variance, settled_at is not null as stamped
                                                           from app_public.settle_day(%L, 100)) r$$, pg_temp.old_day())),
          '{"status": "settled", "cash_total": 100.00, "card_total": 250.00, "gross_collections": 350.00, "payment_count": 2, "expected_cash": 100.00, "cash_variance": 0.00, "stamped": true}'::jsonb,
          'settle_day: totals per method of the hospital-local day, settled');
select is((select settled_by from app_public.daily_settlements where hospital_id = pg_temp.ny() and settlement_date = pg_temp.old_day()),
          pg_temp.user_id('accountant.ny@hms.test'), 'settled_by comes from the session');
select is(tests.try(format('select app_public.settle_day(%L)', pg_temp.old_day())),
          'HMS_ILLEGAL_TRANSITION', 'settle_day twice is 409');
select tests.clear_authentication();
select is(tests.try(format($$insert into app_public.payments (hospital_id, invoice_id, patient_id, amount, payment_method, payment_date) values (%L, %L, %L, 5, 'cash', %L)$$,
                                   pg_temp.ny(), pg_temp.id('s1'), '30990000-0000-4000-8000-000000000201', pg_temp.old_at('12:00'))),
          'HMS_DAY_SETTLED', 'no payment may be dated in a settled day (not even by the owner)');
select tests.authenticate_as('accountant.ny@hms.test');
select is(tests.try(format($$update app_public.payments set notes = 'x' where invoice_id = %L and payment_method = 'card'$$, pg_temp.id('s1'))),
          'HMS_DOCUMENT_LOCKED', 'no payment of a settled day changes (a completed payment is locked before its day is asked)');
select is(tests.try(format($$update app_public.daily_settlements set status = 'reopened' where settlement_date = %L$$, pg_temp.old_day())),
          'HMS_WORKFLOW_REQUIRED', 'a settlement is not reopened by hand');
select is(tests.try(format($$update app_public.daily_settlements set counted_cash = 1 where settlement_date = %L$$, pg_temp.old_day())),
          'HMS_DOCUMENT_LOCKED', 'a settled day is locked');
select is(tests.try(format($$insert into app_public.daily_settlements (settlement_date, counted_cash) values (%L, 10)$$, pg_temp.old_day() - 2)),
          'ok', 'the cashier may open another day and record the counted cash');
select is(tests.try(format($$update app_public.daily_settlements set status = 'settled' where settlement_date = %L$$, pg_temp.old_day() - 2)),
          'HMS_WORKFLOW_REQUIRED', 'a day is settled only by settle_day');
select is(tests.try(format($$select app_public.reopen_day(%L, '')$$, pg_temp.old_day())),
          'HMS_REASON_REQUIRED', 'reopen_day: a reason is required');
select is(tests.try(format($$select app_public.reopen_day(%L, 'x')$$, pg_temp.old_day() - 1)),
          'HMS_NOT_FOUND', 'reopen_day: no settlement that day is 404');
select is(tests.call(format($$select to_jsonb(r) from (select status from app_public.reopen_day(%L, 'Late card slip')) r$$, pg_temp.old_day())) ->> 'status',
          'reopened', 'reopen_day');
select tests.clear_authentication();
select is(tests.try(format($$insert into app_public.payments (hospital_id, invoice_id, patient_id, amount, payment_method, payment_date) values (%L, %L, %L, 5, 'upi', %L)$$,
                                   pg_temp.ny(), pg_temp.id('s1'), '30990000-0000-4000-8000-000000000201', pg_temp.old_at('12:00'))),
          'ok', 'a reopened day takes payments again');
select is((app_hidden.compute_daily_settlement(pg_temp.ny(), pg_temp.old_day())).upi_total, 5.00::numeric(12,2),
          'compute_daily_settlement recomputes the totals');
select tests.authenticate_as('admin.la@hms.test');
select is(tests.try(format($$select app_public.reopen_day(%L, 'x')$$, pg_temp.old_day())),
          'HMS_NOT_FOUND', 'reopen_day: another hospital''s settlement is 404');

-- ------------------------------------------------------------------------------------------
-- 7. Invariants over every invoice touched here
-- ------------------------------------------------------------------------------------------
select tests.clear_authentication();
select is((select count(*)::int from app_public.invoices i
            where i.patient_id::text like '30990000-%'
              and (i.total_amount <> greatest(i.subtotal - i.discount_amount + i.tax_amount, 0)
                   or i.subtotal <> coalesce((select sum(line_total - tax_amount + discount_amount) from app_public.invoice_items l where l.invoice_id = i.id), 0)
                   or i.tax_amount <> coalesce((select sum(tax_amount) from app_public.invoice_items l where l.invoice_id = i.id), 0)
                   or i.discount_amount < coalesce((select sum(discount_amount) from app_public.invoice_items l where l.invoice_id = i.id), 0))), 0,
          'invariant: every invoice total = items − discount + tax');
select is((select count(*)::int from app_public.invoices i
            where i.patient_id::text like '30990000-%'
              and (i.amount_paid <> coalesce((select sum(amount) from app_public.payments p where p.invoice_id = i.id and p.status = 'completed'), 0)
                   or i.amount_refunded <> coalesce((select sum(amount) from app_public.refunds r where r.invoice_id = i.id and r.status = 'processed'), 0))), 0,
          'invariant: every invoice''s paid and refunded = its payments and processed refunds');

select * from finish();
rollback;
