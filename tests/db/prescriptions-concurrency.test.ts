/**
 * Prescription and lab steps under real concurrency (scratch database, committed transactions):
 * many connections take the same step on the same row at once. The RPCs lock the row before they
 * look at its status (app_hidden.lock_or_404), so exactly one takes the step and every other one
 * waits, then meets the row in its new status: 409 HMS_ILLEGAL_TRANSITION — never a second
 * signature, a duplicate version or an overwritten sample barcode.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';

const NY = '10000000-0000-4000-8000-000000000001';
const DOCTOR = '20000000-0000-4000-8000-000000000004';
const NURSE = '20000000-0000-4000-8000-000000000007';
const NY_PATIENT = 'd1000000-0000-4000-8000-000000000011';
const WORKERS = 12;

const connect = async () => {
  const client = new pg.Client({ connectionString: inject('stack').scratchDatabaseUrl });
  await client.connect();
  return client;
};

async function asOwner<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const sessions: Record<string, string> = {};

/** Runs one statement as that user in NY in its own transaction; returns its row or the HMS error code. */
async function as(user: string, client: pg.Client, sql: string, params: unknown[]): Promise<{ row?: Record<string, unknown>; code?: string }> {
  await client.query('begin');
  try {
    const claims = JSON.stringify({ role: inject('stack').roles.staff, sub: user, sid: sessions[user], hid: NY, aud: 'hms' });
    await client.query(`select set_config('request.jwt.claims', $1, true), set_config('role', $2, true)`, [claims, inject('stack').roles.staff]);
    const { rows } = await client.query(sql, params);
    await client.query('commit');
    return { row: rows[0] };
  } catch (error) {
    await client.query('rollback');
    const message = (error as Error).message;
    try {
      return { code: JSON.parse(message).code };
    } catch {
      return { code: message };
    }
  }
}

/** The same statement from WORKERS connections at once. */
async function race(user: string, sql: string, params: (index: number) => unknown[]) {
  const clients = await Promise.all(Array.from({ length: WORKERS }, connect));
  try {
    return await Promise.all(clients.map((client, index) => as(user, client, sql, params(index))));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

beforeAll(async () => {
  await asOwner(async (c) => {
    for (const user of [DOCTOR, NURSE]) {
      const { rows } = await c.query(
        `insert into app_private.sessions (user_id, hospital_id, expires_at) values ($1, $2, now() + interval '1 hour') returning id`,
        [user, NY],
      );
      sessions[user] = rows[0].id as string;
    }
  });
});

describe('one step, many hands', () => {
  it(`${WORKERS} doctors finalize the same draft: one signature, one version 1, the others 409`, async () => {
    const draft = await asOwner((c) =>
      as(DOCTOR, c, `select (app_public.create_prescription($1, null, 'Concurrency', '{}', $2::jsonb)).id`, [
        NY_PATIENT,
        JSON.stringify([{ drug_name: 'Paracetamol 500 mg tablet', quantity_prescribed: 10 }]),
      ]),
    );
    expect(draft.code).toBeUndefined();
    const prescriptionId = draft.row!.id as string;

    const results = await race(DOCTOR, `select (app_public.finalize_prescription($1)).status`, () => [prescriptionId]);
    expect(results.filter((r) => r.row)).toHaveLength(1);
    expect(results.filter((r) => r.code).map((r) => r.code)).toEqual(Array(WORKERS - 1).fill('HMS_ILLEGAL_TRANSITION'));
    const versions = await asOwner(async (c) =>
      (await c.query(`select version from app_public.prescription_versions where prescription_id = $1`, [prescriptionId])).rows,
    );
    expect(versions).toEqual([{ version: 1 }]);
  });

  it(`${WORKERS} technicians collect the same sample with their own barcode: one collection, its barcode kept, the others 409`, async () => {
    const order = await asOwner((c) =>
      as(DOCTOR, c, `select (app_public.order_lab_test($1, 'CBC', 'Complete blood count', 'hematology', 'blood')).id`, [NY_PATIENT]),
    );
    expect(order.code).toBeUndefined();
    const labOrderId = order.row!.id as string;
    const prefix = randomUUID().slice(0, 8).toUpperCase();

    const results = await race(NURSE, `select (app_public.collect_sample($1, $2)).sample_barcode`, (index) => [labOrderId, `${prefix}-${index}`]);
    const winners = results.filter((r) => r.row);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.code).map((r) => r.code)).toEqual(Array(WORKERS - 1).fill('HMS_ILLEGAL_TRANSITION'));
    const [row] = await asOwner(async (c) =>
      (await c.query(`select status, sample_barcode, sample_collected_by from app_public.lab_orders where id = $1`, [labOrderId])).rows,
    );
    expect(row).toEqual({ status: 'sample_collected', sample_barcode: winners[0].row!.sample_barcode, sample_collected_by: NURSE });
  });
});
