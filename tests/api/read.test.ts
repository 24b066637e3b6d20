/**
 * Reading the demo data through the real PostgREST with @supabase/postgrest-js, logged in as demo
 * staff: embedded relations follow the (composite) foreign keys, errors come back as clear 4xx.
 */
import { describe, expect, it } from 'vitest';
import { apiClient, apiFetch, loginToken, signToken, staffToken } from '../support/api.ts';
import { ownerQuery } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
// Fixed ids of demo rows (db/seed/demo.sql): other test files add rows of their own to NY.
const DEMO_NY_MEDICINES = [1, 2, 3, 4].map((n) => `d2000000-0000-4000-8000-00000000001${n}`);
const as = async (email: string) => apiClient(await loginToken(email));

describe('reading through PostgREST as staff', () => {
  it('embeds departments in hospitals — only the active hospital\'s, even for the super admin', async () => {
    const api = await as('superadmin@hms.test');
    const { data, error } = await api
      .from('hospitals')
      .select('code, name, time_zone, departments!departments_hospital_id_fkey(code, name)')
      .order('code');
    expect(error).toBeNull();
    expect(data!.map((h) => h.code)).toEqual(['CHI', 'LA', 'NY']);
    const ny = data!.find((h) => h.code === 'NY')!;
    expect(ny.departments.map((d: { code: string }) => d.code).sort()).toEqual(['CARD', 'GEN', 'LAB', 'PHARM']);
    expect(data!.find((h) => h.code === 'LA')!.departments).toEqual([]);
  });

  it('embeds a doctor with their directory entry and weekly schedule (the account itself needs users.read)', async () => {
    const api = await as('reception.ny@hms.test');
    const { data, error } = await api
      .from('doctors')
      .select('specialization, staff_directory!doctors_user_id_fkey(display_name, role_codes), users!doctors_user_id_fkey(email), doctor_schedules(day_of_week, start_time, end_time)')
      .eq('id', 'd1100000-0000-4000-8000-000000000001');
    expect(error).toBeNull();
    expect(data).toHaveLength(1);
    expect(data![0].staff_directory).toEqual({ display_name: 'Dr. Sarah Mitchell', role_codes: ['doctor'] });
    expect(data![0].users).toBeNull();
    expect(data![0].doctor_schedules).toHaveLength(8);
  });

  it('reads an invoice with its items and payments', async () => {
    const api = await as('accountant.ny@hms.test');
    const { data, error } = await api
      .from('invoices')
      .select('invoice_number, status, total_amount, amount_paid, balance_due, invoice_items(description, line_total), payments(receipt_number, amount, payment_method)')
      .eq('id', 'd3000000-0000-4000-8000-000000000001') // the demo's NY invoice (other tests add their own)
      .single();
    expect(error).toBeNull();
    expect(data!.invoice_items.length).toBeGreaterThan(0);
    expect(data!.payments.length).toBeGreaterThan(0);
    const paid = data!.payments.reduce((sum: number, p: { amount: number }) => sum + Number(p.amount), 0);
    expect(paid).toBeCloseTo(Number(data!.amount_paid), 2);
    const lines = data!.invoice_items.reduce((sum: number, i: { line_total: number }) => sum + Number(i.line_total), 0);
    expect(lines).toBeGreaterThan(0);
  });

  it('reads medicines with their batches, soonest expiry first', async () => {
    const api = await as('pharmacist.ny@hms.test');
    const { data, error } = await api
      .from('medicines')
      .select('generic_name, medicine_batches(batch_number, expiry_date, quantity_on_hand)')
      .in('id', DEMO_NY_MEDICINES)
      .order('expiry_date', { referencedTable: 'medicine_batches' });
    expect(error).toBeNull();
    expect(data).toHaveLength(4);
    for (const medicine of data!) {
      expect(medicine.medicine_batches.length).toBeGreaterThan(0);
      const dates = medicine.medicine_batches.map((b: { expiry_date: string }) => b.expiry_date);
      expect(dates).toEqual([...dates].sort());
    }
  });

  it('finds a patient by part of the name (trigram-indexed search) with appointments and prescriptions', async () => {
    const api = await as('doctor.ny@hms.test');
    const { data: all } = await api.from('patients').select('first_name').eq('hospital_id', NY).limit(1);
    const fragment = all![0].first_name.slice(1, 4);
    const { data, error } = await api
      .from('patients')
      .select('mrn, first_name, last_name, appointments!appointments_patient_fkey(appointment_number, status), prescriptions!prescriptions_patient_fkey(prescription_number, prescription_items(drug_name))')
      .ilike('first_name', `%${fragment}%`)
      .eq('hospital_id', NY);
    expect(error).toBeNull();
    expect(data!.length).toBeGreaterThan(0);
    expect(data![0].mrn).toMatch(/^MRN-NY-\d{6}-[0-9A-Z]$/);
  });

  it('counts exactly with Prefer: count=exact — the hospital\'s own rows only', async () => {
    const api = await as('reception.ny@hms.test');
    const { count, error } = await api.from('patients').select('id', { count: 'exact', head: true });
    expect(error).toBeNull();
    const rows = await ownerQuery(`select count(*)::int as n, (select count(*)::int from app_public.patients) as all_hospitals
                                     from app_public.patients where hospital_id = $1 and not is_deleted`, [NY]);
    expect(count).toBe(rows[0].n);
    expect(count).toBeLessThan(rows[0].all_hospitals);
  });

  it('validates a document number through the check_document_number RPC', async () => {
    const api = await as('accountant.ny@hms.test');
    const { data: invoices } = await api.from('invoices').select('invoice_number');
    for (const invoice of invoices!) {
      const { data, error } = await api.rpc('check_document_number', { number: invoice.invoice_number });
      expect(error).toBeNull();
      expect(data).toBe(true);
    }
    const { data } = await api.rpc('check_document_number', { number: 'INV-NY-2026-000001-!' });
    expect(data).toBe(false);
  });

  it('refuses an oversize document number at once with 422 HMS_VALUE_TOO_LONG', async () => {
    const token = await loginToken('accountant.ny@hms.test');
    const started = Date.now();
    const response = await apiFetch('/rpc/check_document_number', { token, method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ number: 'A7'.repeat(50_000) }) });
    expect(response.status).toBe(422);
    const body = await response.json();
    expect(body.code).toBe('HMS_VALUE_TOO_LONG');
    expect(JSON.parse(body.details)).toEqual({ function: 'check_document_number', parameter: 'number', max_length: 128 });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('caps a list at db-max-rows (10 in the test stack)', async () => {
    const token = await loginToken('admin.ny@hms.test');
    const response = await apiFetch('/id_sequences?select=id', { token, headers: { Prefer: 'count=exact' } });
    expect(response.status).toBe(206);
    expect((await response.json()).length).toBe(10);
    // 21 sequences per hospital, plus one per department that has issued queue tokens.
    expect(response.headers.get('content-range')).toMatch(/^0-9\/(2[1-9]|[3-9]\d)$/);
  });
});

describe('refusals are clear 4xx answers', () => {
  it('refuses a tampered token with 401', async () => {
    const token = staffToken();
    const [header, payload] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ role: 'hms_user', exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url');
    const response = await apiFetch('/patients', { token: `${header}.${forged}.${token.split('.')[2]}` });
    expect(response.status).toBe(401);
    expect((await response.json()).code).toBe('PGRST301');
    expect(payload).toBeTruthy();
  });

  it('refuses a token signed with another secret with 401', async () => {
    const token = signToken({ role: 'hms_staff', exp: Math.floor(Date.now() / 1000) + 300 }, 'another-secret-that-is-long-enough-0000');
    const response = await apiFetch('/patients', { token });
    expect(response.status).toBe(401);
  });

  it('refuses an expired token with 401', async () => {
    const token = staffToken({ exp: Math.floor(Date.now() / 1000) - 120 });
    const response = await apiFetch('/patients', { token });
    expect(response.status).toBe(401);
    const body = await response.json();
    expect(body.code).toBe('PGRST301');
    expect(body.message).toMatch(/expired/i);
  });

  it('refuses anonymous reads of business tables with 401', async () => {
    const response = await apiFetch('/patients');
    expect(response.status).toBe(401);
    expect((await response.json()).code).toBe('HMS_SESSION_INVALID');
  });

  it('refuses a well-signed token without a live session with 401 HMS_SESSION_INVALID', async () => {
    const response = await apiFetch('/patients', { token: staffToken() });
    expect(response.status).toBe(401);
    expect((await response.json()).code).toBe('HMS_SESSION_INVALID');
  });

  it('answers a bad filter with 400, not 500', async () => {
    const response = await apiFetch('/patients?date_of_birth=eq.not-a-date', { token: await loginToken('doctor.ny@hms.test') });
    expect(response.status).toBe(400);
  });

  it('answers an unknown table with 404', async () => {
    const response = await apiFetch('/no_such_table', { token: await loginToken('doctor.ny@hms.test') });
    expect(response.status).toBe(404);
  });
});
