/**
 * Pharmacy workflow through the real PostgREST, as pharmacist.ny@hms.test: dispensing a
 * prescription (partly, then the rest), over-the-counter sales, returns, and the refusals —
 * bad input (4xx with a stable code, never 500), a doctor (403), another hospital's ids (404).
 *
 * These tests commit to the shared test database, so they create their own medicine, batches and
 * prescription in NY (as the owner) and never touch demo stock.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, loginToken, rpc } from '../../support/api.ts';
import { ownerQuery } from '../../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const NY_PATIENT = 'd1000000-0000-4000-8000-000000000011';
const NY_DOCTOR = 'd1100000-0000-4000-8000-000000000001';
const LA_PRESCRIPTION = 'd2100000-0000-4000-8000-000000000002';

async function get(path: string, token: string) {
  const response = await apiFetch(path, { token });
  return { status: response.status, body: await response.json() };
}

const suffix = randomUUID().slice(0, 8).toUpperCase();
const rxMedicine = randomUUID();
const otcMedicine = randomUUID();
const batchSoon = randomUUID();
const batchLate = randomUUID();
const otcBatch = randomUUID();
const prescription = randomUUID();
const line1 = randomUUID();
let pharmacist: string;
let doctor: string;

beforeAll(async () => {
  pharmacist = await loginToken('pharmacist.ny@hms.test', 'NY');
  doctor = await loginToken('doctor.ny@hms.test', 'NY');
  await ownerQuery(
    `insert into app_public.medicines (id, hospital_id, item_code, generic_name, dosage_form, strength, base_unit, schedule_category,
                                       selling_price, tax_configuration_id)
     select v.id, $1, v.code, v.name, 'tablet', '5 mg', 'tablet', v.schedule, 3.00, t.id
       from (values ($2::uuid, $3, 'Apitestine', 'prescription_only'), ($4::uuid, $5, 'Apiotcamol', 'otc')) v(id, code, name, schedule)
       join app_public.tax_configurations t on t.hospital_id = $1 and t.code = 'MED_5'`,
    [NY, rxMedicine, `API-RX-${suffix}`, otcMedicine, `API-OTC-${suffix}`],
  );
  await ownerQuery(
    `insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, expiry_date)
     values ($2, $1, $3, 'API-SOON', current_date + 20), ($4, $1, $3, 'API-LATE', current_date + 300),
            ($5, $1, $6, 'API-OTC', current_date + 300)`,
    [NY, batchSoon, rxMedicine, batchLate, otcBatch, otcMedicine],
  );
  await ownerQuery(
    `insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason)
     select $1, 'opening_balance', 'medicine', b.medicine_id, b.id, case b.batch_number when 'API-SOON' then 4 else 30 end, 0, 'API test stock'
       from app_public.medicine_batches b where b.id in ($2, $3, $4)`,
    [NY, batchSoon, batchLate, otcBatch],
  );
  await ownerQuery(
    `insert into app_public.prescriptions (id, hospital_id, patient_id, doctor_id, status, valid_until, finalized_at)
     values ($1, $2, $3, $4, 'finalized', current_date + 30, now())`,
    [prescription, NY, NY_PATIENT, NY_DOCTOR],
  );
  await ownerQuery(
    `insert into app_public.prescription_items (id, hospital_id, prescription_id, line_number, medicine_id, drug_name, quantity_prescribed)
     values ($1, $2, $3, 1, $4, 'Apitestine 5 mg', 10)`,
    [line1, NY, prescription, rxMedicine],
  );
});

describe('dispense_prescription over REST', () => {
  it('a doctor may not dispense (403 HMS_FORBIDDEN)', async () => {
    const { status, body } = await rpc('dispense_prescription', { prescription_id: prescription }, doctor);
    expect(status).toBe(403);
    expect(body.code).toBe('HMS_FORBIDDEN');
  });

  it('an LA prescription is not found from NY (404)', async () => {
    const { status, body } = await rpc('dispense_prescription', { prescription_id: LA_PRESCRIPTION }, pharmacist);
    expect(status).toBe(404);
    expect(body.code).toBe('HMS_NOT_FOUND');
  });

  it('bad input answers 422 with a stable code, never 500', async () => {
    const tooMany = await rpc('dispense_prescription', { prescription_id: prescription, items: [{ prescription_item_id: line1, quantity: 11 }] }, pharmacist);
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.code).toBe('HMS_QUANTITY_EXCEEDS_PRESCRIBED');
    const garbage = await rpc('dispense_prescription', { prescription_id: prescription, items: [{ prescription_item_id: 'x', quantity: 'many' }] }, pharmacist);
    expect(garbage.status).toBe(422);
    expect(garbage.body.code).toBe('HMS_INVALID_ITEMS');
    const notArray = await rpc('dispense_prescription', { prescription_id: prescription, items: { quantity: 1 } }, pharmacist);
    expect(notArray.status).toBe(422);
    expect(notArray.body.code).toBe('HMS_INVALID_ITEMS');
  });

  it('dispenses part first-expiry-first-out, then the rest, with invoice lines', async () => {
    // The RPC answers the dispensing row; its prescription and lines are read with an embedding.
    const dispensing = (id: string) =>
      get(`/pharmacy_dispensing?id=eq.${id}&select=status,prescriptions(status),pharmacy_dispensing_items(batch_id,quantity,invoice_items(invoice_id))`
        + '&pharmacy_dispensing_items.order=expiry_date', pharmacist);
    type Line = { batch_id: string; quantity: number; invoice_items: { invoice_id: string }[] };

    const first = await rpc('dispense_prescription', { prescription_id: prescription, items: [{ prescription_item_id: line1, quantity: 6 }] }, pharmacist);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('partially_dispensed');
    expect(first.body.dispensing_number).toMatch(/^DSP-/);
    const firstRead = await dispensing(first.body.id);
    expect(firstRead.status).toBe(200);
    expect(firstRead.body[0].status).toBe('partially_dispensed');
    expect(firstRead.body[0].prescriptions.status).toBe('partially_dispensed');
    const firstLines: Line[] = firstRead.body[0].pharmacy_dispensing_items;
    expect(firstLines.map((i) => [i.batch_id, i.quantity])).toEqual([
      [batchSoon, 4],
      [batchLate, 2],
    ]);
    expect(firstLines.every((i) => i.invoice_items.length === 1)).toBe(true);
    expect(new Set(firstLines.map((i) => i.invoice_items[0].invoice_id)).size).toBe(1);

    const rest = await rpc('dispense_prescription', { prescription_id: prescription }, pharmacist);
    expect(rest.status).toBe(200);
    expect(rest.body.status).toBe('completed');
    const restRead = await dispensing(rest.body.id);
    expect(restRead.body[0].prescriptions.status).toBe('dispensed');
    expect(restRead.body[0].pharmacy_dispensing_items).toHaveLength(1);
    expect(restRead.body[0].pharmacy_dispensing_items[0]).toMatchObject({ batch_id: batchLate, quantity: 4 });

    const again = await rpc('dispense_prescription', { prescription_id: prescription }, pharmacist);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('HMS_PRESCRIPTION_ALREADY_DISPENSED');

    const [batches] = await ownerQuery<{ soon: number; late: number; ledger_ok: boolean }>(
      `select (select quantity_on_hand from app_public.medicine_batches where id = $1) as soon,
              (select quantity_on_hand from app_public.medicine_batches where id = $2) as late,
              not exists (select 1 from app_public.medicine_batches b where b.id in ($1, $2)
                             and b.quantity_on_hand <> (select sum(m.quantity) from app_public.stock_movements m where m.batch_id = b.id)) as ledger_ok`,
      [batchSoon, batchLate],
    );
    expect(batches).toEqual({ soon: 0, late: 24, ledger_ok: true });
  });

  it('the pharmacist cannot PATCH quantity_dispensed directly', async () => {
    const response = await apiFetch(`/prescription_items?id=eq.${line1}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ quantity_dispensed: 0 }),
      token: pharmacist,
    });
    expect(response.status).toBe(403);
    expect((await response.json()).code).toBe('HMS_FORBIDDEN');
  });

  it('a dispensing is never created as completed by POST (409 HMS_WORKFLOW_REQUIRED)', async () => {
    const response = await apiFetch('/pharmacy_dispensing', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ customer_name: 'API walk-in', dispensing_type: 'otc', status: 'completed' }),
      token: pharmacist,
    });
    expect(response.status).toBe(409);
    expect((await response.json()).code).toBe('HMS_WORKFLOW_REQUIRED');
  });
});

describe('dispense_otc and return_dispensed_items over REST', () => {
  let dispensingId: string;
  let itemId: string;

  it('refuses a prescription-only medicine over the counter (422 HMS_PRESCRIPTION_REQUIRED)', async () => {
    const { status, body } = await rpc('dispense_otc', { customer_name: 'API walk-in', items: [{ medicine_id: rxMedicine, quantity: 1 }] }, pharmacist);
    expect(status).toBe(422);
    expect(body.code).toBe('HMS_PRESCRIPTION_REQUIRED');
  });

  it('refuses more than the shelves hold (409 HMS_INSUFFICIENT_STOCK)', async () => {
    const { status, body } = await rpc('dispense_otc', { customer_name: 'API walk-in', items: [{ medicine_id: otcMedicine, quantity: 31 }] }, pharmacist);
    expect(status).toBe(409);
    expect(body.code).toBe('HMS_INSUFFICIENT_STOCK');
    expect(JSON.parse(body.details)).toMatchObject({ requested: 31, available: 30 });
  });

  it('sells over the counter to a patient, on the patient invoice', async () => {
    const { status, body } = await rpc('dispense_otc', { patient_id: NY_PATIENT, items: [{ medicine_id: otcMedicine, quantity: 3 }] }, pharmacist);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'completed', patient_id: NY_PATIENT, total_amount: 9, tax_amount: 0.45, net_amount: 9.45 });
    const lines = await get(`/pharmacy_dispensing_items?dispensing_id=eq.${body.id}&select=id,batch_id,quantity,unit_price,tax_percent,line_total,invoice_items(invoice_id)`, pharmacist);
    expect(lines.status).toBe(200);
    expect(lines.body).toHaveLength(1);
    expect(lines.body[0]).toMatchObject({ batch_id: otcBatch, quantity: 3, unit_price: 3, tax_percent: 5, line_total: 9.45 });
    expect(lines.body[0].invoice_items).toHaveLength(1);
    expect(lines.body[0].invoice_items[0].invoice_id).toBeTruthy();
    dispensingId = body.id;
    itemId = lines.body[0].id;
  });

  it('a doctor may not accept returns (403)', async () => {
    const { status, body } = await rpc('return_dispensed_items',
      { dispensing_id: dispensingId, items: [{ dispensing_item_id: itemId, quantity: 1 }], reason: 'excess_quantity' }, doctor);
    expect(status).toBe(403);
    expect(body.code).toBe('HMS_FORBIDDEN');
  });

  it('accepts a return within what was dispensed and refuses more', async () => {
    const ok = await rpc('return_dispensed_items',
      { dispensing_id: dispensingId, items: [{ dispensing_item_id: itemId, quantity: 2, condition: 'resalable' }], reason: 'excess_quantity' }, pharmacist);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'completed', refund_amount: 6.3, dispensing_id: dispensingId });
    expect(ok.body.return_number).toMatch(/^PRT-/);
    const returned = await get(`/pharmacy_return_items?return_id=eq.${ok.body.id}&select=dispensing_item_id,restocked,quantity`, pharmacist);
    expect(returned.body).toEqual([{ dispensing_item_id: itemId, restocked: true, quantity: 2 }]);

    const tooMany = await rpc('return_dispensed_items',
      { dispensing_id: dispensingId, items: [{ dispensing_item_id: itemId, quantity: 2 }], reason: 'excess_quantity' }, pharmacist);
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.code).toBe('HMS_RETURN_EXCEEDS_DISPENSED');

    const badReason = await rpc('return_dispensed_items',
      { dispensing_id: dispensingId, items: [{ dispensing_item_id: itemId, quantity: 1 }], reason: 'bored' }, pharmacist);
    expect(badReason.status).toBe(422);
    expect(badReason.body.code).toBe('HMS_INVALID_RETURN_REASON');

    const [batch] = await ownerQuery<{ quantity_on_hand: number }>(`select quantity_on_hand from app_public.medicine_batches where id = $1`, [otcBatch]);
    expect(batch.quantity_on_hand).toBe(29);
  });

  it('an unknown dispensing is not found (404)', async () => {
    const { status, body } = await rpc('return_dispensed_items',
      { dispensing_id: randomUUID(), items: [{ dispensing_item_id: itemId, quantity: 1 }], reason: 'damaged' }, pharmacist);
    expect(status).toBe(404);
    expect(body.code).toBe('HMS_NOT_FOUND');
  });
});
