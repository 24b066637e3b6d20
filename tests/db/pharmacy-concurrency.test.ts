/**
 * Dispensing under real concurrency (scratch database, committed transactions): many connections
 * dispense the last units of one medicine at once, as the NY pharmacist. First-expiry-first-out
 * locks the batches, so stock never goes negative, exactly the units on the shelf are handed out,
 * each batch still equals the sum of its movements, and every loser gets HMS_INSUFFICIENT_STOCK.
 * The stock ledger's own batch lock (app_hidden.tg_stock_movements__apply) is raced on its own
 * too: movements written straight into the ledger, as the workflows other than dispensing do.
 * (No timing is measured here.)
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { connectOwner, errorCode, openSessions, ownerQuery, race, withOwner } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const NY_PATIENT = 'd1000000-0000-4000-8000-000000000011';
const NY_DOCTOR = 'd1100000-0000-4000-8000-000000000001';
const WORKERS = 24;

const connect = () => connectOwner('scratch');

let pharmacists: string[];

/** Runs one statement as the NY pharmacist in its own transaction; returns its row or the HMS error code. */

async function createMedicine(client: pg.Client, schedule: 'otc' | 'prescription_only', batches: [string, number, number][]) {
  const medicineId = randomUUID();
  await client.query(
    `insert into app_public.medicines (id, hospital_id, item_code, generic_name, dosage_form, base_unit, schedule_category, selling_price)
     values ($1, $2, $3, 'Concurrentol', 'tablet', 'tablet', $4, 1.00)`,
    [medicineId, NY, `CONC-${randomUUID().slice(0, 8).toUpperCase()}`, schedule],
  );
  const batchIds: string[] = [];
  for (const [batchNumber, expiresInDays, quantity] of batches) {
    const batchId = randomUUID();
    batchIds.push(batchId);
    await client.query(
      `insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, expiry_date) values ($1, $2, $3, $4, current_date + $5::int)`,
      [batchId, NY, medicineId, batchNumber, expiresInDays],
    );
    await client.query(
      `insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason)
       values ($1, 'opening_balance', 'medicine', $2, $3, $4, 0, 'concurrency test stock')`,
      [NY, medicineId, batchId, quantity],
    );
  }
  return { medicineId, batchIds };
}

function stockState(medicineId: string) {
  return ownerQuery<{ id: string; quantity_on_hand: number; ledger: number; dispensed: number }>(
    `select b.id, b.quantity_on_hand,
            (select coalesce(sum(m.quantity), 0)::int from app_public.stock_movements m where m.batch_id = b.id) as ledger,
            (select coalesce(sum(i.quantity), 0)::int from app_public.pharmacy_dispensing_items i where i.batch_id = b.id) as dispensed
       from app_public.medicine_batches b where b.medicine_id = $1 order by b.expiry_date`,
    [medicineId],
    'scratch',
  );
}

beforeAll(async () => {
  pharmacists = await openSessions('pharmacist.ny@hms.test', NY, WORKERS, 'scratch');
});

describe('parallel dispensing of the last units', () => {
  it(`${WORKERS} OTC sales of 1 unit against 10 units in two batches: exactly 10 succeed, never negative`, async () => {
    const { medicineId } = await withOwner((c) => createMedicine(c, 'otc', [['C-SOON', 30, 4], ['C-LATE', 300, 6]]), 'scratch');
    const results = await race(pharmacists, `select app_public.dispense_otc(null, $1, $2::jsonb) as result`, (index) => [
      `Walk-in ${index}`,
      JSON.stringify([{ medicine_id: medicineId, quantity: 1 }]),
    ]);
    const winners = results.filter((r) => r.row);
    const losers = results.filter((r) => r.code);
    expect(winners).toHaveLength(10);
    expect(losers).toHaveLength(WORKERS - 10);
    expect(new Set(losers.map((r) => r.code))).toEqual(new Set(['HMS_INSUFFICIENT_STOCK']));
    const state = await stockState(medicineId);
    expect(state.map((b) => b.quantity_on_hand)).toEqual([0, 0]);
    expect(state.map((b) => b.dispensed)).toEqual([4, 6]);
    for (const batch of state) expect(batch.quantity_on_hand).toBe(batch.ledger);
  });

  it(`${WORKERS} prescriptions of 3 units each against 20 units: 6 succeed (18 units), the rest refused, nothing negative`, async () => {
    const { medicineId } = await withOwner((c) => createMedicine(c, 'prescription_only', [['P-ONLY', 200, 20]]), 'scratch');
    const prescriptions = await withOwner(async (c) => {
      const ids: string[] = [];
      for (let i = 0; i < WORKERS; i++) {
        const id = randomUUID();
        ids.push(id);
        await c.query(
          `insert into app_public.prescriptions (id, hospital_id, patient_id, doctor_id, status, valid_until, finalized_at)
           values ($1, $2, $3, $4, 'finalized', current_date + 30, now())`,
          [id, NY, NY_PATIENT, NY_DOCTOR],
        );
        await c.query(
          `insert into app_public.prescription_items (hospital_id, prescription_id, line_number, medicine_id, drug_name, quantity_prescribed)
           values ($1, $2, 1, $3, 'Concurrentol', 3)`,
          [NY, id, medicineId],
        );
      }
      return ids;
    }, 'scratch');
    const results = await race(pharmacists, `select app_public.dispense_prescription($1) as result`, (index) => [prescriptions[index]]);
    const winners = results.filter((r) => r.row);
    const losers = results.filter((r) => r.code);
    expect(winners).toHaveLength(6);
    expect(new Set(losers.map((r) => r.code))).toEqual(new Set(['HMS_INSUFFICIENT_STOCK']));
    const [batch] = await stockState(medicineId);
    expect(batch).toMatchObject({ quantity_on_hand: 2, ledger: 2, dispensed: 18 });
    // The losers left nothing behind: their prescriptions are untouched.
    const [untouched] = await ownerQuery(
      `select count(*)::int as n from app_public.prescriptions p
        where p.id = any($1::uuid[]) and p.status = 'finalized'
          and not exists (select 1 from app_public.pharmacy_dispensing d where d.prescription_id = p.id)`,
      [prescriptions],
      'scratch',
    );
    expect(untouched.n).toBe(WORKERS - 6);
  });

  it(`${WORKERS} pharmacists dispense the same prescription at once: it is dispensed exactly once`, async () => {
    const { medicineId } = await withOwner((c) => createMedicine(c, 'prescription_only', [['S-ONLY', 200, 100]]), 'scratch');
    const prescriptionId = randomUUID();
    await withOwner(async (c) => {
      await c.query(
        `insert into app_public.prescriptions (id, hospital_id, patient_id, doctor_id, status, valid_until, finalized_at)
         values ($1, $2, $3, $4, 'finalized', current_date + 30, now())`,
        [prescriptionId, NY, NY_PATIENT, NY_DOCTOR],
      );
      await c.query(
        `insert into app_public.prescription_items (hospital_id, prescription_id, line_number, medicine_id, drug_name, quantity_prescribed)
         values ($1, $2, 1, $3, 'Concurrentol', 3)`,
        [NY, prescriptionId, medicineId],
      );
    }, 'scratch');
    const results = await race(pharmacists, `select app_public.dispense_prescription($1) as result`, () => [prescriptionId]);
    expect(results.filter((r) => r.row)).toHaveLength(1);
    expect(new Set(results.filter((r) => r.code).map((r) => r.code))).toEqual(new Set(['HMS_PRESCRIPTION_ALREADY_DISPENSED']));
    const [batch] = await stockState(medicineId);
    expect(batch).toMatchObject({ quantity_on_hand: 97, ledger: 97, dispensed: 3 });
    const [line] = await ownerQuery(`select quantity_dispensed from app_public.prescription_items where prescription_id = $1`, [prescriptionId], 'scratch');
    expect(line.quantity_dispensed).toBe(3);
  });
});

describe('parallel movements straight into the stock ledger', () => {
  /** A medicine batch or an optical product of NY holding 10 units; the column that names it in the ledger. */
  async function stockItem(kind: 'medicine' | 'optical_product'): Promise<{ column: string; id: string; item: string }> {
    if (kind === 'medicine') {
      const { batchIds: [batchId], medicineId } = await withOwner((c) => createMedicine(c, 'otc', [['L-ONLY', 100, 10]]), 'scratch');
      return { column: 'batch_id', id: batchId, item: `'medicine', '${medicineId}', '${batchId}', null` };
    }
    const productId = randomUUID();
    await withOwner(async (c) => {
      await c.query(
        `insert into app_public.optical_products (id, hospital_id, sku, name, product_type, selling_price) values ($1, $2, $3, 'Race case', 'accessory', 5)`,
        [productId, NY, `RACE-${randomUUID().slice(0, 8).toUpperCase()}`],
      );
      await c.query(
        `insert into app_public.stock_movements (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after, reason)
         values ($1, 'opening_balance', 'optical_product', $2, 10, 0, 'concurrency test stock')`,
        [NY, productId],
      );
    }, 'scratch');
    return { column: 'optical_product_id', id: productId, item: `'optical_product', null, null, '${productId}'` };
  }

  for (const kind of ['medicine', 'optical_product'] as const) {
    it(`${WORKERS} connections each take 1 ${kind} unit out of 10: exactly 10 succeed, the balance never goes negative`, async () => {
      const { column, id, item } = await stockItem(kind);
      const clients = await Promise.all(Array.from({ length: WORKERS }, connect));
      let outcomes: string[];
      try {
        outcomes = await Promise.all(
          clients.map(async (client) => {
            try {
              await client.query(
                `insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, reason)
                 values ($1, 'transfer_out', ${item}, -1, 0, 'ledger race')`,
                [NY],
              );
              return 'moved';
            } catch (error) {
              return errorCode(error);
            }
          }),
        );
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
      expect(outcomes.filter((o) => o === 'moved')).toHaveLength(10);
      expect(new Set(outcomes.filter((o) => o !== 'moved'))).toEqual(new Set(['HMS_INSUFFICIENT_STOCK']));
      const [state] = await ownerQuery<{ on_hand: number; ledger: number }>(
        `select (select quantity_on_hand from app_public.${kind === 'medicine' ? 'medicine_batches' : 'optical_products'} where id = $1) as on_hand,
                (select sum(quantity)::int from app_public.stock_movements where ${column} = $1) as ledger`,
        [id],
        'scratch',
      );
      expect(state).toEqual({ on_hand: 0, ledger: 0 });
      // Each movement recorded the balance it left: 9, 8, …, 0, once each.
      const balances = await ownerQuery<{ balance_after: number }>(
        `select balance_after from app_public.stock_movements where ${column} = $1 and movement_type = 'transfer_out' order by balance_after`,
        [id],
        'scratch',
      );
      expect(balances.map((b) => b.balance_after)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  }
});
