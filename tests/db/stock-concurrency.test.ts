/**
 * The stock ledger under real concurrency (scratch database, committed transactions): many
 * connections approve stock adjustments of one batch at once, as the NY admin. Each approval
 * locks only its own adjustment, so the batch's row lock in the ledger trigger is all that keeps
 * the stock from going negative and each balance_after right: exactly the units on the shelf
 * are written off, every loser gets HMS_INSUFFICIENT_STOCK, the balances after the movements are
 * one each of the values the batch went through, and the batch equals the sum of its movements.
 * (No timing is measured here.)
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { openSessions, race, withOwner } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const PHARMACIST = '20000000-0000-4000-8000-000000000009';
const WORKERS = 24;

let admin: string[];

beforeAll(async () => {
  admin = await openSessions('admin.ny@hms.test', NY, WORKERS, 'scratch');
});

/** A batch holding `onHand` units and `count` adjustments of `change` each, requested by the pharmacist. */
async function pendingAdjustments(onHand: number, count: number, change: number, reason: string) {
  return withOwner(async (c) => {
    const medicineId = randomUUID();
    const batchId = randomUUID();
    await c.query(
      `insert into app_public.medicines (id, hospital_id, item_code, generic_name, dosage_form, base_unit)
       values ($1, $2, $3, 'Concurrent ledgerol', 'tablet', 'tablet')`,
      [medicineId, NY, `LEDG-${randomUUID().slice(0, 8).toUpperCase()}`],
    );
    await c.query(
      `insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, expiry_date, unit_cost)
       values ($1, $2, $3, 'LEDGER-1', current_date + 300, 1.00)`,
      [batchId, NY, medicineId],
    );
    await c.query(
      `insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason)
       values ($1, 'opening_balance', 'medicine', $2, $3, $4, 0, 'ledger concurrency test stock')`,
      [NY, medicineId, batchId, onHand],
    );
    const { rows } = await c.query(
      `insert into app_public.stock_adjustments
         (hospital_id, item_type, medicine_id, batch_id, quantity_change, reason, status, requested_by, requested_at, unit_cost, value_change)
       select $1::uuid, 'medicine', $2::uuid, $3::uuid, $4::int, $5::text, 'pending_approval', $6::uuid, now(), 1.00, $4::numeric
         from generate_series(1, $7::int)
       returning id`,
      [NY, medicineId, batchId, change, reason, PHARMACIST, count],
    );
    return { batchId, adjustmentIds: rows.map((r) => r.id as string) };
  }, 'scratch');
}

async function ledgerState(batchId: string) {
  return withOwner(async (c) => {
    const { rows } = await c.query(
      `select b.quantity_on_hand, b.status,
              (select coalesce(sum(m.quantity), 0)::int from app_public.stock_movements m where m.batch_id = b.id) as ledger,
              (select array_agg(m.balance_after order by m.balance_after) from app_public.stock_movements m
                where m.batch_id = b.id and m.adjustment_id is not null) as balances
         from app_public.medicine_batches b where b.id = $1`,
      [batchId],
    );
    return rows[0] as { quantity_on_hand: number; status: string; ledger: number; balances: number[] | null };
  }, 'scratch');
}

/** The NY admin approves each adjustment from a connection of its own, all at once. */
function approveAllAtOnce(adjustmentIds: string[]) {
  return race(admin.slice(0, adjustmentIds.length), 'select (app_public.approve_stock_adjustment($1)).status', (index) => [adjustmentIds[index]]);
}

describe('parallel movements of one batch through the ledger', () => {
  it(`${WORKERS} write-offs of 1 unit against 10 units: exactly 10 are approved, never negative`, async () => {
    const { batchId, adjustmentIds } = await pendingAdjustments(10, WORKERS, -1, 'damage');
    const results = await approveAllAtOnce(adjustmentIds);
    expect(results.filter((r) => r.row)).toHaveLength(10);
    const losers = results.filter((r) => r.code);
    expect(losers).toHaveLength(WORKERS - 10);
    expect(new Set(losers.map((r) => r.code))).toEqual(new Set(['HMS_INSUFFICIENT_STOCK']));
    const state = await ledgerState(batchId);
    expect(state).toEqual({ quantity_on_hand: 0, status: 'depleted', ledger: 0, balances: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
  });

  it(`${WORKERS} additions of 1 unit: every balance_after is one step of the batch, none lost`, async () => {
    const { batchId, adjustmentIds } = await pendingAdjustments(5, WORKERS, 1, 'found');
    const results = await approveAllAtOnce(adjustmentIds);
    expect(results.filter((r) => r.code)).toEqual([]);
    const state = await ledgerState(batchId);
    expect(state).toEqual({
      quantity_on_hand: 5 + WORKERS,
      status: 'active',
      ledger: 5 + WORKERS,
      balances: Array.from({ length: WORKERS }, (_, i) => 6 + i),
    });
  });
});
