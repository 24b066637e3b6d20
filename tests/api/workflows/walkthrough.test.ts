/**
 * The README's walk-through, end to end through the real PostgREST, each step by the member of
 * staff who does it in a hospital: log in → book → check in → prescribe → dispense → invoice →
 * pay → settle the day → a payment in the settled day is refused.
 *
 * So that it runs on any day of the week, it brings its own doctor (a user, a doctors row, a fee
 * and a schedule covering the whole of today); near the end of New York's day it runs in Los
 * Angeles instead, so a free slot later today always exists. It reopens the day at the end.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { apiFetch, login } from '../../support/api.ts';

async function owner<T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: inject('stack').databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

async function rpc(name: string, token: string, body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const response = await apiFetch(`/rpc/${name}`, {
    method: 'POST',
    token,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

const tag = Date.now().toString(36);
let site: { code: string; reception: string; pharmacist: string; accountant: string; medicineId: string };
let hospitalId: string;
let today: string;
let doctorEmail: string;
let doctorId: string;
let patientId: string;
let settled = false;
let accountantToken: string;

beforeAll(async () => {
  const [{ ny_hour }] = await owner(`select extract(hour from now() at time zone 'America/New_York')::int as ny_hour`);
  site =
    ny_hour < 23
      ? { code: 'NY', reception: 'reception.ny@hms.test', pharmacist: 'pharmacist.ny@hms.test', accountant: 'accountant.ny@hms.test', medicineId: 'd2000000-0000-4000-8000-000000000011' }
      : { code: 'LA', reception: 'admin.la@hms.test', pharmacist: 'admin.la@hms.test', accountant: 'admin.la@hms.test', medicineId: 'd2000000-0000-4000-8000-000000000021' };
  const [hospital] = await owner(
    `select h.id, (now() at time zone h.time_zone)::date::text as today, extract(dow from now() at time zone h.time_zone)::int as dow,
            (select d.id from app_public.departments d where d.hospital_id = h.id and d.accepts_appointments order by d.code limit 1) as department_id
       from app_public.hospitals h where h.code = $1`,
    [site.code],
  );
  hospitalId = hospital.id;
  today = hospital.today;

  // A doctor of our own: a user who can log in, a doctors row, a fee, and a session covering today.
  doctorEmail = `walkthrough.doctor.${tag}@hms.test`;
  const [user] = await owner(
    `insert into app_public.users (email, title, first_name, last_name, home_hospital_id, job_title)
     values ($1, 'Dr.', 'Walk', 'Through', $2, 'Consultant') returning id`,
    [doctorEmail, hospitalId],
  );
  await owner(`insert into app_private.user_secrets (user_id, password_hash) values ($1, crypt('Admin@123', gen_salt('bf', 6)))`, [user.id]);
  await owner(
    `insert into app_public.user_roles (user_id, role_id, hospital_id, valid_from)
     select $1, r.id, $2, current_date - 1 from app_public.roles r where r.code = 'doctor' and r.hospital_id is null`,
    [user.id, hospitalId],
  );
  const [doctor] = await owner(
    `insert into app_public.doctors (hospital_id, user_id, department_id, registration_number, specialization)
     values ($1, $2, $3, $4, 'General practice') returning id`,
    [hospitalId, user.id, hospital.department_id, `WT-${tag}`],
  );
  doctorId = doctor.id;
  await owner(
    `insert into app_public.doctor_fees (hospital_id, doctor_id, visit_type, amount, valid_from)
     values ($1, $2, 'new_consultation', 120.00, current_date - 1)`,
    [hospitalId, doctorId],
  );
  await owner(
    `insert into app_public.doctor_schedules (hospital_id, doctor_id, department_id, day_of_week, start_time, end_time, slot_minutes, valid_from, valid_to)
     values ($1, $2, $3, $4, '00:00', '23:59', 5, $5::date, $5::date)`,
    [hospitalId, doctorId, hospital.department_id, hospital.dow, today],
  );
  const [patient] = await owner(
    `insert into app_public.patients (hospital_id, first_name, last_name, date_of_birth, gender, phone_primary)
     values ($1, 'Wanda', 'Walkthrough', '1980-04-02', 'female', '+1 555 0100') returning id`,
    [hospitalId],
  );
  patientId = patient.id;
});

afterAll(async () => {
  // Leave the day open for the tests that follow.
  if (settled) await rpc('reopen_day', accountantToken, { settlement_date: today, reason: 'walk-through test finished' });
});

describe('the README walk-through', () => {
  it('log in → book → check in → prescribe → dispense → invoice → pay → settled day refuses a payment', async () => {
    // 1. Reception logs in and books the first free slot later today.
    const reception = (await login(site.reception)).access_token;
    // Filters on an RPC's rows run in the database: the first free slot starting after now.
    const notBefore = new Date(Date.now() + 60_000).toISOString();
    const slots = await apiFetch(`/rpc/available_slots?is_free=is.true&slot_start=gt.${encodeURIComponent(notBefore)}&order=slot_start&limit=1`, {
      method: 'POST',
      token: reception,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ doctor_id: doctorId, day: today }),
    });
    expect(slots.status).toBe(200);
    const [free] = await slots.json();
    expect(free, 'a free slot later today').toBeDefined();
    const booked = await rpc('book_appointment', reception, {
      patient_id: patientId,
      doctor_id: doctorId,
      scheduled_start: free.slot_start,
      reason_for_visit: 'Persistent cough',
    });
    expect(booked.status, JSON.stringify(booked.json)).toBe(200);
    expect(booked.json.appointment_number).toMatch(/^APT-/);

    // 2. The patient arrives: check-in issues the day's queue token and bills the consultation.
    const checkedIn = await rpc('check_in_appointment', reception, { appointment_id: booked.json.id });
    expect(checkedIn.status, JSON.stringify(checkedIn.json)).toBe(200);
    expect(checkedIn.json.status).toBe('checked_in');
    const [token] = await owner(`select token_label from app_public.appointment_queue where appointment_id = $1`, [booked.json.id]);
    expect(token.token_label).toMatch(/-\d{3}$/);

    // 3. The doctor prescribes and finalizes.
    const doctor = (await login(doctorEmail, 'Admin@123', hospitalId)).access_token;
    const prescription = await rpc('create_prescription', doctor, {
      patient_id: patientId,
      appointment_id: booked.json.id,
      diagnosis: 'Acute bronchitis',
      diagnosis_codes: ['J20.9'],
      items: [{ medicine_id: site.medicineId, dose: '1 tablet', frequency: 'Once daily', route: 'oral', duration_days: 3, quantity_prescribed: 3 }],
    });
    expect(prescription.status, JSON.stringify(prescription.json)).toBe(200);
    const finalized = await rpc('finalize_prescription', doctor, { prescription_id: prescription.json.id });
    expect(finalized.status, JSON.stringify(finalized.json)).toBe(200);

    // 4. The pharmacy dispenses (first expiry first out); the medicine lands on an invoice.
    const pharmacist = (await login(site.pharmacist)).access_token;
    const dispensed = await rpc('dispense_prescription', pharmacist, { prescription_id: prescription.json.id });
    expect(dispensed.status, JSON.stringify(dispensed.json)).toBe(200);

    // 5. Billing issues the patient's invoices and takes the payment in full.
    accountantToken = (await login(site.accountant)).access_token;
    const invoices = await apiFetch(`/invoices?patient_id=eq.${patientId}&select=id,invoice_type,status,total_amount,invoice_items(item_type)&order=invoice_type`, {
      token: accountantToken,
    });
    const drafts: { id: string; invoice_type: string; status: string; invoice_items: { item_type: string }[] }[] = await invoices.json();
    expect(drafts.map((i) => i.invoice_type).sort()).toEqual(['outpatient', 'pharmacy']);
    expect(drafts.find((i) => i.invoice_type === 'outpatient')!.invoice_items.map((i) => i.item_type)).toEqual(['consultation']);
    expect(drafts.find((i) => i.invoice_type === 'pharmacy')!.invoice_items.map((i) => i.item_type)).toEqual(['medicine']);
    const [outpatient, pharmacy] = drafts;
    for (const invoice of drafts) {
      const issued = await rpc('issue_invoice', accountantToken, { invoice_id: invoice.id });
      expect(issued.status, JSON.stringify(issued.json)).toBe(200);
    }
    const [{ balance_due }] = await owner(`select balance_due::text from app_public.invoices where id = $1`, [outpatient.id]);
    const paid = await rpc('record_payment', accountantToken, { invoice_id: outpatient.id, amount: Number(balance_due), payment_method: 'card', card_last4: '4242' });
    expect(paid.status, JSON.stringify(paid.json)).toBe(200);
    expect(paid.json.receipt_number).toMatch(/^RCT-/);
    const [after] = await owner(`select status, balance_due::text from app_public.invoices where id = $1`, [outpatient.id]);
    expect(after).toEqual({ status: 'paid', balance_due: '0.00' });

    // 6. The day is settled; a payment dated in it is refused.
    const settlement = await rpc('settle_day', accountantToken, { settlement_date: today });
    expect(settlement.status, JSON.stringify(settlement.json)).toBe(200);
    settled = true;
    expect(settlement.json.status).toBe('settled');
    const refused = await rpc('record_payment', accountantToken, { invoice_id: pharmacy.id, amount: 1, payment_method: 'cash' });
    expect(refused.status).toBe(409);
    expect(refused.json.code).toBe('HMS_DAY_SETTLED');
  });
});
