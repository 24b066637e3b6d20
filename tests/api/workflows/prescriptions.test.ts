/**
 * Prescriptions and lab workflows through the real PostgREST: doctor.ny@hms.test prescribes,
 * finalizes and amends (versions), nurse.ny@hms.test (nurse + lab technician) processes a lab
 * order; the refusals — bad input (4xx with a stable code, never 500), a pharmacist prescribing
 * or a nurse ordering (403), another hospital's ids (404), direct edits of a finalized
 * prescription (409).
 *
 * These tests commit to the shared test database: they create their own patient in NY (as the
 * owner) and an LA lab order for the 404 case, and never assert counts of demo tables.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, loginToken, rpc } from '../../support/api.ts';
import { ownerQuery } from '../../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const LA = '10000000-0000-4000-8000-000000000002';
const LA_PATIENT = 'd1000000-0000-4000-8000-000000000021';
const NY_MEDICINE = 'd2000000-0000-4000-8000-000000000011';

const patient = randomUUID();
const laLabOrder = randomUUID();
let doctor: string;
let nurse: string;
let pharmacist: string;

beforeAll(async () => {
  doctor = await loginToken('doctor.ny@hms.test', 'NY');
  nurse = await loginToken('nurse.ny@hms.test', 'NY');
  pharmacist = await loginToken('pharmacist.ny@hms.test', 'NY');
  await ownerQuery(
    `insert into app_public.patients (id, hospital_id, first_name, last_name, date_of_birth, gender)
     values ($1, $2, 'Api', 'Rxpatient', '1970-02-03', 'female')`,
    [patient, NY],
  );
  await ownerQuery(
    `insert into app_public.lab_orders (id, hospital_id, patient_id, referring_physician, test_name, test_category, specimen_type)
     values ($1, $2, $3, 'Dr. Outside', 'Lipid profile', 'biochemistry', 'blood')`,
    [laLabOrder, LA, LA_PATIENT],
  );
});

const items = [
  { medicine_id: NY_MEDICINE, dose: '20 mg', frequency: 'Once daily at bedtime', duration_days: 30, quantity_prescribed: 30, timing: 'bedtime' },
  { drug_name: 'Aspirin 81 mg tablet', frequency: 'Once daily', quantity_prescribed: 30 },
];

describe('prescriptions as doctor.ny@hms.test', () => {
  let prescriptionId: string;

  it('creates a draft prescription with numbered lines', async () => {
    const { status, body } = await rpc('create_prescription', {
      patient_id: patient, diagnosis: 'Essential hypertension', diagnosis_codes: ['I10'], items, advice: 'Low-salt diet.',
    }, doctor);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.status).toBe('draft');
    expect(body.prescription_number).toMatch(/^RX-/);
    prescriptionId = body.id;
    // The answer is the prescription row; its lines are read afterwards (an embed in the same call
    // would see them as they were before it: PostgreSQL evaluates the embed on the call's snapshot).
    const lines = await apiFetch(`/prescription_items?prescription_id=eq.${prescriptionId}&select=line_number&order=line_number`, { token: doctor });
    expect((await lines.json()).map((i: { line_number: number }) => i.line_number)).toEqual([1, 2]);
  });

  it('answers 422 with a stable code for bad items, never 500', async () => {
    const zero = await rpc('create_prescription', { patient_id: patient, items: [{ drug_name: 'Paracetamol', quantity_prescribed: 0 }] }, doctor);
    expect(zero.status).toBe(422);
    expect(zero.body.code).toBe('HMS_PRESCRIPTION_QUANTITY_INVALID');
    const route = await rpc('create_prescription', { patient_id: patient, items: [{ drug_name: 'Paracetamol', quantity_prescribed: 5, route: 'by_mouth' }] }, doctor);
    expect(route.status).toBe(422);
    expect(route.body.code).toBe('HMS_PRESCRIPTION_ROUTE_INVALID');
    const notArray = await rpc('create_prescription', { patient_id: patient, items: { drug_name: 'Paracetamol' } }, doctor);
    expect(notArray.status).toBe(422);
    expect(notArray.body.code).toBe('HMS_PRESCRIPTION_ITEMS_INVALID');
  });

  it('does not find a patient of another hospital (404)', async () => {
    const { status, body } = await rpc('create_prescription', { patient_id: LA_PATIENT, items }, doctor);
    expect(status).toBe(404);
    expect(body.code).toBe('HMS_NOT_FOUND');
  });

  it('refuses a pharmacist (403)', async () => {
    const { status, body } = await rpc('create_prescription', { patient_id: patient, items }, pharmacist);
    expect(status).toBe(403);
    expect(body.code).toBe('HMS_FORBIDDEN');
  });

  it('finalizes: version 1 is stored', async () => {
    const { status, body } = await rpc('finalize_prescription', { prescription_id: prescriptionId }, doctor);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.status).toBe('finalized');
    expect(body.finalized_at).toBeTruthy();
    const versions = await apiFetch(`/prescription_versions?prescription_id=eq.${prescriptionId}&select=version,change_reason`, { token: doctor });
    expect(await versions.json()).toEqual([{ version: 1, change_reason: 'Finalized' }]);
  });

  it('refuses a direct PATCH of a finalized prescription or its lines (409)', async () => {
    const header = await apiFetch(`/prescriptions?id=eq.${prescriptionId}`, {
      method: 'PATCH', token: doctor, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ diagnosis: 'Changed quietly' }),
    });
    expect(header.status).toBe(409);
    expect((await header.json()).code).toBe('HMS_DOCUMENT_LOCKED');
    const line = await apiFetch(`/prescription_items?prescription_id=eq.${prescriptionId}&line_number=eq.1`, {
      method: 'PATCH', token: doctor, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ dose: '40 mg' }),
    });
    expect(line.status).toBe(409);
    expect((await line.json()).code).toBe('HMS_DOCUMENT_LOCKED');
    const stamp = await apiFetch(`/prescriptions?id=eq.${prescriptionId}`, {
      method: 'PATCH', token: doctor, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ finalized_at: '2020-01-01T00:00:00Z' }),
    });
    expect(stamp.status).toBe(403);
    expect((await stamp.json()).code).toBe('HMS_FORBIDDEN');
  });

  it('signs only through finalize_prescription: a PATCH to finalized is refused (409)', async () => {
    const draft = await rpc('create_prescription', { patient_id: patient, items }, doctor);
    expect(draft.status, JSON.stringify(draft.body)).toBe(200);
    const patch = await apiFetch(`/prescriptions?id=eq.${draft.body.id}`, {
      method: 'PATCH', token: doctor, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'finalized' }),
    });
    expect(patch.status).toBe(409);
    expect((await patch.json()).code).toBe('HMS_WORKFLOW_REQUIRED');
    const [row] = await ownerQuery<{ status: string; finalized_at: string | null }>(
      'select status, finalized_at from app_public.prescriptions where id = $1', [draft.body.id]);
    expect(row).toEqual({ status: 'draft', finalized_at: null });
  });

  it('amends with a reason: version 2', async () => {
    const noReason = await rpc('amend_prescription', { prescription_id: prescriptionId, changes: { advice: 'Walk daily.' }, change_reason: '' }, doctor);
    expect(noReason.status).toBe(422);
    expect(noReason.body.code).toBe('HMS_REASON_REQUIRED');
    const { status, body } = await rpc('amend_prescription', {
      prescription_id: prescriptionId,
      changes: { advice: 'Low-salt diet; walk 30 minutes daily.', add_items: [{ drug_name: 'Amlodipine 5 mg tablet', quantity_prescribed: 30 }] },
      change_reason: 'Amlodipine added after BP log',
    }, doctor);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.version).toBe(2);
    const lines = await apiFetch(`/prescription_items?prescription_id=eq.${prescriptionId}&select=id`, { token: doctor });
    expect(await lines.json()).toHaveLength(3);
    const versions = await apiFetch(`/prescription_versions?prescription_id=eq.${prescriptionId}&select=version&order=version`, { token: doctor });
    expect(await versions.json()).toEqual([{ version: 1 }, { version: 2 }]);
  });
});

describe('lab orders', () => {
  let labOrderId: string;

  it('a nurse (lab technician) cannot order a test (403)', async () => {
    const { status, body } = await rpc('order_lab_test', {
      patient_id: patient, test_code: 'CBC', test_name: 'Complete blood count', test_category: 'hematology', specimen_type: 'blood',
    }, nurse);
    expect(status).toBe(403);
    expect(body.code).toBe('HMS_FORBIDDEN');
  });

  it('the doctor orders; bad input is a 422', async () => {
    const bad = await rpc('order_lab_test', {
      patient_id: patient, test_code: 'CBC', test_name: 'Complete blood count', test_category: 'astrology', specimen_type: 'blood',
    }, doctor);
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('HMS_LAB_CATEGORY_INVALID');
    const { status, body } = await rpc('order_lab_test', {
      patient_id: patient, test_code: 'CBC', test_name: 'Complete blood count', test_category: 'hematology', specimen_type: 'blood',
      priority: 'urgent',
    }, doctor);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.status).toBe('ordered');
    labOrderId = body.id;
  });

  it('the nurse collects the sample, runs the test and records results', async () => {
    const early = await rpc('record_lab_result', { lab_order_id: labOrderId, result_value: '13.5' }, nurse);
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('HMS_LAB_RESULTS_NOT_ALLOWED');
    const collected = await rpc('collect_sample', { lab_order_id: labOrderId, sample_barcode: `API-${labOrderId.slice(0, 8)}` }, nurse);
    expect(collected.status, JSON.stringify(collected.body)).toBe(200);
    expect(collected.body.status).toBe('sample_collected');
    const started = await rpc('start_lab_test', { lab_order_id: labOrderId }, nurse);
    expect(started.body.status).toBe('in_progress');
    const recorded = await rpc('record_lab_result', {
      lab_order_id: labOrderId,
      results: [{ analyte: 'Hemoglobin', value: '6.0', unit: 'g/dL', reference_range: '12.0–15.5', flag: 'critical_low' }],
      result_flag: 'abnormal',
    }, nurse);
    expect(recorded.status, JSON.stringify(recorded.body)).toBe(200);
    expect(recorded.body.status).toBe('completed');
    expect(recorded.body.is_critical).toBe(true);
    const reported = await rpc('report_lab_result', { lab_order_id: labOrderId, interpretation: 'Severe anaemia.' }, nurse);
    expect(reported.status).toBe(200);
    expect(reported.body.status).toBe('reported');
  });

  it('an illegal transition is a 409, another hospital\'s order a 404', async () => {
    const again = await rpc('collect_sample', { lab_order_id: labOrderId }, nurse);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('HMS_ILLEGAL_TRANSITION');
    const la = await rpc('collect_sample', { lab_order_id: laLabOrder }, nurse);
    expect(la.status).toBe(404);
    expect(la.body.code).toBe('HMS_NOT_FOUND');
  });
});
