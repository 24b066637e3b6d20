/**
 * Billing workflow through the real PostgREST: the accountant of HMS Core NY bills a new patient,
 * reception collects, the accountant refunds, credits and settles a (long past) day. Rows are our
 * own (a new patient created as the owner); nothing global is asserted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, loginToken, rpc } from '../../support/api.ts';
import { ownerQuery } from '../../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const INVOICE_LA = 'd3000000-0000-4000-8000-000000000002';

let accountant: string;
let reception: string;
let admin: string;
let nurse: string;
let patientId: string;
let invoiceId: string;

beforeAll(async () => {
  [accountant, reception, admin, nurse] = await Promise.all([
    loginToken('accountant.ny@hms.test'),
    loginToken('reception.ny@hms.test'),
    loginToken('admin.ny@hms.test'),
    loginToken('nurse.ny@hms.test'),
  ]);
  const [patient] = await ownerQuery<{ id: string }>(
    `insert into app_public.patients (hospital_id, first_name, last_name, date_of_birth, gender)
     values ($1, 'Billy', 'Api-' || substr(md5(random()::text), 1, 8), date '1975-05-05', 'male') returning id`,
    [NY],
  );
  patientId = patient.id;
});

describe('billing workflow over REST', () => {
  it('create_invoice opens a draft (billing.write) and refuses without permission or for another hospital', async () => {
    const created = await rpc('create_invoice', { patient_id: patientId, invoice_type: 'outpatient' }, accountant);
    expect(created.status).toBe(200);
    expect(created.body.status).toBe('draft');
    expect(created.body.invoice_number).toMatch(/^INV-/);
    invoiceId = created.body.id;

    const forbidden = await rpc('create_invoice', { patient_id: patientId, invoice_type: 'outpatient' }, nurse);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('HMS_FORBIDDEN');

    const badType = await rpc('create_invoice', { patient_id: patientId, invoice_type: 'spa' }, accountant);
    expect(badType.status).toBe(422);
    expect(badType.body.code).toBe('HMS_INVOICE_TYPE_INVALID');

    const [laPatient] = await ownerQuery<{ id: string }>(`select id from app_public.patients where hospital_id <> $1 limit 1`, [NY]);
    const foreign = await rpc('create_invoice', { patient_id: laPatient.id }, accountant);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('HMS_NOT_FOUND');
  });

  it('add_invoice_item computes the line; issue_invoice freezes the lines', async () => {
    const consult = await rpc('add_invoice_item', { invoice_id: invoiceId, item_type: 'consultation', description: 'Consultation', quantity: 1, unit_price: 150 }, accountant);
    expect(consult.status).toBe(200);
    expect(Number(consult.body.line_total)).toBe(150);
    const medicine = await rpc('add_invoice_item', { invoice_id: invoiceId, item_type: 'medicine', description: 'Ibuprofen 400 mg', quantity: 20, unit_price: 0.5, discount_percent: 10 }, accountant);
    expect(medicine.status).toBe(200);
    expect(Number(medicine.body.tax_amount)).toBe(0.45); // 9.00 after discount × 5 % (MED_5 default rule)
    expect(Number(medicine.body.line_total)).toBe(9.45);

    const bad = await rpc('add_invoice_item', { invoice_id: invoiceId, item_type: 'other', description: 'x', quantity: -1, unit_price: 1 }, accountant);
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('HMS_INVOICE_ITEM_INVALID');

    const issued = await rpc('issue_invoice', { invoice_id: invoiceId }, accountant);
    expect(issued.status).toBe(200);
    expect(issued.body.status).toBe('issued');
    expect(Number(issued.body.total_amount)).toBe(159.45);
    expect(Number(issued.body.balance_due)).toBe(159.45);

    const late = await rpc('add_invoice_item', { invoice_id: invoiceId, item_type: 'other', description: 'Late line', quantity: 1, unit_price: 1 }, accountant);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe('HMS_DOCUMENT_LOCKED');

    // The money statuses and the stamps are the workflow's: a PATCH cannot take or write them.
    const patchPaid = await apiFetch(`/invoices?id=eq.${invoiceId}`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'paid' }), token: accountant,
    });
    expect(patchPaid.status).toBe(409);
    expect((await patchPaid.json()).code).toBe('HMS_WORKFLOW_REQUIRED');
    const patchStamp = await apiFetch(`/invoices?id=eq.${invoiceId}`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ issued_by: null }), token: accountant,
    });
    expect(patchStamp.status).toBe(403);
    expect((await patchStamp.json()).code).toBe('HMS_FORBIDDEN');

    const again = await rpc('issue_invoice', { invoice_id: invoiceId }, accountant);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('HMS_ILLEGAL_TRANSITION');
  });

  it('record_payment: reception collects; overpayment, bad input and foreign ids are refused', async () => {
    const direct = await apiFetch('/payments', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ invoice_id: invoiceId, patient_id: patientId, amount: 1, payment_method: 'cash' }), token: reception,
    });
    expect(direct.status).toBe(409);
    expect((await direct.json()).code).toBe('HMS_WORKFLOW_REQUIRED');

    const paid = await rpc('record_payment', { invoice_id: invoiceId, amount: 100, payment_method: 'cash' }, reception);
    expect(paid.status).toBe(200);
    expect(paid.body.receipt_number).toMatch(/^RCT-/);

    const over = await rpc('record_payment', { invoice_id: invoiceId, amount: 59.46, payment_method: 'card' }, accountant);
    expect(over.status).toBe(422);
    expect(over.body.code).toBe('HMS_OVERPAYMENT');

    const zero = await rpc('record_payment', { invoice_id: invoiceId, amount: 0, payment_method: 'cash' }, reception);
    expect(zero.status).toBe(422);
    expect(zero.body.code).toBe('HMS_AMOUNT_INVALID');

    const method = await rpc('record_payment', { invoice_id: invoiceId, amount: 1, payment_method: 'gold' }, reception);
    expect(method.status).toBe(422);
    expect(method.body.code).toBe('HMS_PAYMENT_METHOD_INVALID');

    const foreign = await rpc('record_payment', { invoice_id: INVOICE_LA, amount: 1, payment_method: 'cash' }, reception);
    expect(foreign.status).toBe(404);
    expect(foreign.body.code).toBe('HMS_NOT_FOUND');

    const forbidden = await rpc('record_payment', { invoice_id: invoiceId, amount: 1, payment_method: 'cash' }, nurse);
    expect(forbidden.status).toBe(403);

    const rest = await rpc('record_payment', { invoice_id: invoiceId, amount: 59.45, payment_method: 'card', reference_number: 'AUTH 9', card_last4: '4242' }, accountant);
    expect(rest.status).toBe(200);

    const response = await apiFetch(`/invoices?id=eq.${invoiceId}&select=status,amount_paid,balance_due,paid_at`, { token: accountant });
    const [invoice] = await response.json();
    expect(invoice.status).toBe('paid');
    expect(Number(invoice.amount_paid)).toBe(159.45);
    expect(Number(invoice.balance_due)).toBe(0);
    expect(invoice.paid_at).not.toBeNull();
  });

  it('refunds: reception may not refund; approval by another user above the threshold; processing counts', async () => {
    const notAllowed = await rpc('request_refund', { invoice_id: invoiceId, amount: 10, reason: 'overbilling' }, reception);
    expect(notAllowed.status).toBe(403);
    expect(notAllowed.body.code).toBe('HMS_FORBIDDEN');

    const tooMuch = await rpc('request_refund', { invoice_id: invoiceId, amount: 159.46, reason: 'overbilling' }, accountant);
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body.code).toBe('HMS_REFUND_EXCEEDS_PAID');

    const credit = await rpc('issue_credit_note', { invoice_id: invoiceId, amount: 9.45, reason: 'Medicine not taken', lines: [{ description: 'Ibuprofen 400 mg', amount: 9.45 }] }, accountant);
    expect(credit.status).toBe(200);
    expect(credit.body.status).toBe('issued');

    const requested = await rpc('request_refund', { invoice_id: invoiceId, amount: 9.45, reason: 'medicine_return' }, accountant);
    expect(requested.status).toBe(200);
    expect(requested.body.status).toBe('requested');

    const self = await rpc('approve_refund', { refund_id: requested.body.id }, accountant);
    expect(self.status).toBe(409);
    expect(self.body.code).toBe('HMS_APPROVAL_BY_OTHER_USER');

    const approved = await rpc('approve_refund', { refund_id: requested.body.id }, admin);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');

    const processed = await rpc('process_refund', { refund_id: requested.body.id }, accountant);
    expect(processed.status).toBe(200);
    expect(processed.body.status).toBe('processed');

    const response = await apiFetch(`/invoices?id=eq.${invoiceId}&select=status,amount_refunded,amount_credited,balance_due`, { token: accountant });
    const [invoice] = await response.json();
    expect(Number(invoice.amount_refunded)).toBe(9.45);
    expect(Number(invoice.amount_credited)).toBe(9.45);
    expect(Number(invoice.balance_due)).toBe(0);
    expect(invoice.status).toBe('paid');

    const unknown = await rpc('approve_refund', { refund_id: '00000000-0000-4000-8000-000000000000' }, admin);
    expect(unknown.status).toBe(404);
  });

  it('void_invoice needs billing.void and a reason, and never voids paid money', async () => {
    const draft = await rpc('create_invoice', { patient_id: patientId, invoice_type: 'other' }, accountant);
    expect(draft.status).toBe(200);
    const byReception = await rpc('void_invoice', { invoice_id: draft.body.id, reason: 'Duplicate' }, reception);
    expect(byReception.status).toBe(403);
    const noReason = await rpc('void_invoice', { invoice_id: draft.body.id, reason: '' }, accountant);
    expect(noReason.status).toBe(422);
    expect(noReason.body.code).toBe('HMS_REASON_REQUIRED');
    const voided = await rpc('void_invoice', { invoice_id: draft.body.id, reason: 'Duplicate' }, accountant);
    expect(voided.status).toBe(200);
    expect(voided.body.status).toBe('void');
    const paid = await rpc('void_invoice', { invoice_id: invoiceId, reason: 'Too late' }, accountant);
    expect(paid.status).toBe(409);
  });

  it('settle_day locks a (past) day; reopen_day unlocks it', async () => {
    const offset = 1000 + Math.floor(Math.random() * 2000);
    const [{ day }] = await ownerQuery<{ day: string }>(
      `select to_char(app_hidden.hospital_today($1) - $2::int, 'YYYY-MM-DD') as day`, [NY, offset]);
    const forbidden = await rpc('settle_day', { settlement_date: day }, reception);
    expect(forbidden.status).toBe(403);
    const future = await rpc('settle_day', { settlement_date: '2999-01-01' }, accountant);
    expect(future.status).toBe(422);
    expect(future.body.code).toBe('HMS_SETTLEMENT_DATE_INVALID');
    const settled = await rpc('settle_day', { settlement_date: day, counted_cash: 0 }, accountant);
    expect(settled.status).toBe(200);
    expect(settled.body.status).toBe('settled');
    expect(settled.body.settlement_number).toBeTruthy();
    const twice = await rpc('settle_day', { settlement_date: day }, accountant);
    expect(twice.status).toBe(409);
    const reopened = await rpc('reopen_day', { settlement_date: day, reason: 'API test' }, accountant);
    expect(reopened.status).toBe(200);
    expect(reopened.body.status).toBe('reopened');
  });
});
