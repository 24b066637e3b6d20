/**
 * Prescription and lab steps under real concurrency (scratch database, committed transactions):
 * many connections take the same step on the same row at once. The RPCs lock the row before they
 * look at its status (app_hidden.lock_or_404), so exactly one takes the step and every other one
 * waits, then meets the row in its new status: 409 HMS_ILLEGAL_TRANSITION — never a second
 * signature, a duplicate version or an overwritten sample barcode.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { asSession, openSessions, ownerQuery, race } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const NURSE = '20000000-0000-4000-8000-000000000007';
const NY_PATIENT = 'd1000000-0000-4000-8000-000000000011';
const WORKERS = 12;

let doctor: string[];
let nurse: string[];

beforeAll(async () => {
  doctor = await openSessions('doctor.ny@hms.test', NY, WORKERS, 'scratch');
  nurse = await openSessions('nurse.ny@hms.test', NY, WORKERS, 'scratch');
});

describe('one step, many hands', () => {
  it(`${WORKERS} doctors finalize the same draft: one signature, one version 1, the others 409`, async () => {
    const draft = await asSession(doctor[0], `select (app_public.create_prescription($1, null, 'Concurrency', '{}', $2::jsonb)).id`, [
      NY_PATIENT,
      JSON.stringify([{ drug_name: 'Paracetamol 500 mg tablet', quantity_prescribed: 10 }]),
    ]);
    expect(draft.code).toBeUndefined();
    const prescriptionId = draft.row!.id as string;

    const results = await race(doctor, `select (app_public.finalize_prescription($1)).status`, () => [prescriptionId]);
    expect(results.filter((r) => r.row)).toHaveLength(1);
    expect(results.filter((r) => r.code).map((r) => r.code)).toEqual(Array(WORKERS - 1).fill('HMS_ILLEGAL_TRANSITION'));
    const versions = await ownerQuery(`select version from app_public.prescription_versions where prescription_id = $1`, [prescriptionId], 'scratch');
    expect(versions).toEqual([{ version: 1 }]);
  });

  it(`${WORKERS} technicians collect the same sample with their own barcode: one collection, its barcode kept, the others 409`, async () => {
    const order = await asSession(doctor[0], `select (app_public.order_lab_test($1, 'CBC', 'Complete blood count', 'hematology', 'blood')).id`, [NY_PATIENT]);
    expect(order.code).toBeUndefined();
    const labOrderId = order.row!.id as string;
    const prefix = randomUUID().slice(0, 8).toUpperCase();

    const results = await race(nurse, `select (app_public.collect_sample($1, $2)).sample_barcode`, (index) => [labOrderId, `${prefix}-${index}`]);
    const winners = results.filter((r) => r.row);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.code).map((r) => r.code)).toEqual(Array(WORKERS - 1).fill('HMS_ILLEGAL_TRANSITION'));
    const [row] = await ownerQuery(`select status, sample_barcode, sample_collected_by from app_public.lab_orders where id = $1`, [labOrderId], 'scratch');
    expect(row).toEqual({ status: 'sample_collected', sample_barcode: winners[0].row!.sample_barcode, sample_collected_by: NURSE });
  });
});
