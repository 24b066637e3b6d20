/**
 * record_payment under real concurrency (scratch database): many connections, each acting as the
 * NY accountant, pay the same invoice at once. The invoice row lock keeps the balance exact: the
 * accepted payments never add up to more than the total, the final balance is total − accepted,
 * and every refused call gets HMS_OVERPAYMENT. (No timing is measured here.)
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actAs, connectOwner, errorCode, openSessions } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const CONNECTIONS = 16;
const PER_CONNECTION = 4;
const AMOUNT = 7.5;
const TOTAL = 301; // 40 payments of 7.50 fit (1.00 stays due), 64 are attempted
const FITTING = Math.floor(TOTAL / AMOUNT);

let owner: pg.Client;
let invoiceId: string;
let claims: string[];

beforeAll(async () => {
  owner = await connectOwner('scratch');
  const { rows: [patient] } = await owner.query(
    `insert into app_public.patients (hospital_id, first_name, last_name, date_of_birth, gender)
     values ($1, 'Race', 'Condition', date '1990-01-01', 'female') returning id`, [NY]);
  const { rows: [invoice] } = await owner.query(`select app_hidden.ensure_draft_invoice($1, $2, 'other') as id`, [NY, patient.id]);
  invoiceId = invoice.id;
  await owner.query(`select app_hidden.add_invoice_item($1, 'service', 'Concurrency service', 1, $2)`, [invoiceId, TOTAL]);
  // The owner writes its own stamps (the status machine stamps sessions only).
  await owner.query(`update app_public.invoices set status = 'issued', issued_at = now() where id = $1`, [invoiceId]);
  // One live session per connection for the accountant of NY.
  claims = await openSessions('accountant.ny@hms.test', NY, CONNECTIONS, 'scratch');
});

afterAll(async () => {
  await owner?.end();
});

describe('record_payment with parallel connections', () => {
  it(`${CONNECTIONS} connections × ${PER_CONNECTION} payments of ${AMOUNT} on one invoice of ${TOTAL}`, async () => {
    let accepted = 0;
    const refusals: string[] = [];
    const worker = async (index: number) => {
      const client = await connectOwner('scratch');
      try {
        for (let i = 0; i < PER_CONNECTION; i++) {
          await client.query('begin');
          await actAs(client, claims[index]);
          try {
            await client.query(`select app_public.record_payment($1, $2, 'cash')`, [invoiceId, AMOUNT]);
            await client.query('commit');
            accepted++;
          } catch (error) {
            await client.query('rollback');
            refusals.push(errorCode(error));
          }
        }
      } finally {
        await client.end();
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, index) => worker(index)));

    expect(accepted).toBe(FITTING);
    expect(refusals).toHaveLength(CONNECTIONS * PER_CONNECTION - FITTING);
    expect(new Set(refusals)).toEqual(new Set(['HMS_OVERPAYMENT']));

    const { rows: [invoice] } = await owner.query(
      `select i.status, i.amount_paid::float8 as amount_paid, i.balance_due::float8 as balance_due, i.total_amount::float8 as total_amount,
              (select sum(p.amount)::float8 from app_public.payments p where p.invoice_id = i.id and p.status = 'completed') as payments,
              (select count(*)::int from app_public.payments p where p.invoice_id = i.id) as payment_count
         from app_public.invoices i where i.id = $1`, [invoiceId]);
    expect(invoice.total_amount).toBe(TOTAL);
    expect(invoice.payments).toBe(FITTING * AMOUNT);
    expect(invoice.payments).toBeLessThanOrEqual(TOTAL);
    expect(invoice.amount_paid).toBe(FITTING * AMOUNT);
    expect(invoice.balance_due).toBe(TOTAL - FITTING * AMOUNT);
    expect(invoice.payment_count).toBe(accepted);
    expect(invoice.status).toBe('partially_paid');
  });
});
