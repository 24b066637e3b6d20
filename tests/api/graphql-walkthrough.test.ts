/**
 * The README's day at the hospital (tests/api/workflows/walkthrough.test.ts runs it with curl over
 * REST) as GraphQL operations, step by step, against /graphql of a stack of its own (`npm start`
 * on a temporary data folder and free ports) — the day is settled, and the suite's shared stack
 * must not see that. Reception registers a patient and books Dr. Mitchell's next free slot today
 * (the hospital admin opens a one-day on-call session when none is left), checks the patient in;
 * the doctor prescribes and finalizes; the pharmacist dispenses; the accountant issues the two
 * invoices, takes the consultation's payment and settles the day — and paying the medicine then
 * is refused with the database's HMS_DAY_SETTLED in extensions.code.
 *
 * As over REST it runs twice on the same data: the second time after reopening the day and
 * booking out what is left of the doctor's regular sessions today, so the on-call path runs too.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, LOGIN } from '../support/graphql.ts';
import { npm, stackEnv, stopLaunched, waitForRoomToday } from '../support/processes.ts';

const DOCTOR = 'd1100000-0000-4000-8000-000000000001'; // Dr. Mitchell (doctor.ny)
const MEDICINE = 'd2000000-0000-4000-8000-000000000011';
const NY = '10000000-0000-4000-8000-000000000001';
const NY_ZONE = 'America/New_York';

let url: string;
let launched: ReturnType<typeof npm>;
let owner: pg.Client;

async function ownerQuery<T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await owner.query(sql, params)).rows as T[];
}

beforeAll(async () => {
  const env = await stackEnv();
  url = `http://127.0.0.1:${env.HMS_API_PORT}/graphql`; // GraphQL on the front's one origin
  launched = npm(['start'], env);
  await launched.waitForOutput(/HMS is running/, 180_000);
  owner = new pg.Client({ connectionString: `postgresql://hms_user:${encodeURIComponent('HMS@2026')}@127.0.0.1:${env.HMS_PG_PORT}/hms_db` });
  await owner.connect();
}, 200_000);

afterAll(async () => {
  await owner?.end();
  await stopLaunched();
});

/** The data of a document that must succeed (the errors in the failure otherwise). */
async function ok(query: string, variables: Record<string, unknown>, token?: string): Promise<any> {
  const answer = await gql(query, variables, token, url);
  expect(answer.body.errors, `${query.slice(0, 80)}…\n${answer.body.errors ? launched.output().slice(-3000) : ''}`).toBeUndefined();
  expect(answer.status).toBe(200);
  return answer.body.data;
}

const login = async (email: string): Promise<string> => (await ok(LOGIN, { email, password: 'Admin@123' })).login.result.access_token;

/** Minutes since midnight of a time of day ("17:30:00"). */
const minutes = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

/** Now in New York: the day, the day of the week and the minute of the day. */
function newYorkNow(): { today: string; dow: number; minute: number } {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: NY_ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' })
    .formatToParts(new Date()).map((p) => [p.type, p.value]));
  const today = `${parts.year}-${parts.month}-${parts.day}`;
  return { today, dow: new Date(`${today}T12:00:00Z`).getUTCDay(), minute: Number(parts.hour) * 60 + Number(parts.minute) };
}

/** Dr. Mitchell's first free slot later today (availableSlots, the same function as REST's /rpc/available_slots). */
async function freeSlot(token: string, today: string): Promise<string | undefined> {
  const data = await ok(`query($doctor: UUID!, $day: Date!) { availableSlots(doctorId: $doctor, day: $day) { nodes { slotStart isFree } } }`, { doctor: DOCTOR, day: today }, token);
  const now = Date.now();
  return (data.availableSlots.nodes as { slotStart: string; isFree: boolean }[])
    .filter((slot) => slot.isFree && Date.parse(slot.slotStart) > now)
    .sort((a, b) => Date.parse(a.slotStart) - Date.parse(b.slotStart))[0]?.slotStart;
}

interface Day {
  appointmentId: string;
  scheduleId: string;
  last: { code?: string; status?: number; message: string };
}

/** One day at the hospital, as GraphQL operations. */
async function runDay(today: string, run: number): Promise<Day> {
  // Reception: register the patient, find Dr. Mitchell's first free slot later today.
  const reception = await login('reception.ny@hms.test');
  const { createPatient } = await ok(`mutation($p: PatientInput!) { createPatient(input: { patient: $p }) { patient { rowId mrn hospitalId } } }`,
    { p: { firstName: 'Walker', lastName: `GraphQL-${run}`, dateOfBirth: '1970-07-07', gender: 'male' } }, reception);
  const patient = createPatient.patient;
  expect(patient.mrn).toMatch(/^MRN-NY-/);
  expect(patient.hospitalId).toBe(NY);
  let slot = await freeSlot(reception, today);

  // None left today: the hospital admin opens a one-day on-call session, 5-minute slots until midnight.
  if (!slot) {
    const admin = await login('admin.ny@hms.test');
    const { dow, minute } = newYorkNow();
    const { allDoctorSchedules } = await ok(`query($doctor: UUID!, $dow: Int!) { allDoctorSchedules(condition: { doctorId: $doctor, dayOfWeek: $dow }) { nodes { endTime isActive validFrom validTo } } }`,
      { doctor: DOCTOR, dow }, admin);
    const last = Math.max(0, ...(allDoctorSchedules.nodes as { endTime: string; isActive: boolean; validFrom: string | null; validTo: string | null }[])
      .filter((s) => s.isActive && (!s.validFrom || s.validFrom <= today) && (!s.validTo || s.validTo >= today))
      .map((s) => minutes(s.endTime)));
    const from = Math.max(Math.floor(minute / 5) * 5 + 5, last); // the next 5-minute boundary, or the end of her last session
    expect(from, 'No slot is left today: run this again after midnight (New York time).').toBeLessThan(1440);
    const start = `${String(Math.floor(from / 60)).padStart(2, '0')}:${String(from % 60).padStart(2, '0')}`;
    await ok(`mutation($s: DoctorScheduleInput!) { createDoctorSchedule(input: { doctorSchedule: $s }) { doctorSchedule { rowId } } }`,
      { s: { doctorId: DOCTOR, dayOfWeek: dow, session: 'evening', startTime: start, endTime: '24:00', slotMinutes: 5, validFrom: today, validTo: today, notes: 'On call' } }, admin);
    slot = await freeSlot(reception, today);
  }
  expect(slot, 'a free slot today').toBeDefined();

  // Reception: book the slot, check the patient in (queue token + consultation fee on the invoice).
  const { bookAppointment } = await ok(`mutation($p: UUID!, $d: UUID!, $s: Datetime!) { bookAppointment(input: { patientId: $p, doctorId: $d, scheduledStart: $s }) { result { rowId status scheduleId } } }`,
    { p: patient.rowId, d: DOCTOR, s: slot }, reception);
  const appointment = bookAppointment.result;
  expect(appointment.status).toBe('booked');
  const { checkInAppointment } = await ok(`mutation($id: UUID!) { checkInAppointment(input: { appointmentId: $id }) { result { status appointmentQueueByHospitalIdAndAppointmentId { tokenLabel } } } }`,
    { id: appointment.rowId }, reception);
  expect(checkInAppointment.result.status).toBe('checked_in');

  // Doctor: prescribe and finalize.
  const doctor = await login('doctor.ny@hms.test');
  const { createPrescription } = await ok(`mutation($p: UUID!, $a: UUID!, $items: JSON!) { createPrescription(input: { patientId: $p, appointmentId: $a, diagnosis: "Essential hypertension", diagnosisCodes: ["I10"], items: $items }) { result { rowId status } } }`,
    { p: patient.rowId, a: appointment.rowId, items: [{ medicine_id: MEDICINE, dose: '20 mg', frequency: 'Once daily', route: 'oral', duration_days: 30, quantity_prescribed: 30 }] }, doctor);
  const prescriptionId = createPrescription.result.rowId;
  const { finalizePrescription } = await ok(`mutation($id: UUID!) { finalizePrescription(input: { prescriptionId: $id }) { result { status } } }`, { id: prescriptionId }, doctor);
  expect(finalizePrescription.result.status).not.toBe('draft');

  // Pharmacy: dispense (first expiry first out; the medicine goes on the patient's pharmacy invoice).
  const pharmacist = await login('pharmacist.ny@hms.test');
  const { dispensePrescription } = await ok(`mutation($id: UUID!) { dispensePrescription(input: { prescriptionId: $id }) { result { rowId status dispensingNumber } } }`, { id: prescriptionId }, pharmacist);
  expect(dispensePrescription.result.status).toBe('completed');

  // Billing: issue the visit's two invoices (consultation, medicine), take the consultation's payment, settle the day.
  const accountant = await login('accountant.ny@hms.test');
  const { patientByRowId } = await ok(`query($id: UUID!) { patientByRowId(rowId: $id) { invoicesByHospitalIdAndPatientId { nodes { rowId invoiceType status appointmentId } } } }`, { id: patient.rowId }, accountant);
  const invoices = patientByRowId.invoicesByHospitalIdAndPatientId.nodes as { rowId: string; invoiceType: string; status: string; appointmentId: string | null }[];
  const consultation = invoices.find((i) => i.invoiceType === 'outpatient' && i.appointmentId === appointment.rowId)!;
  const medicine = invoices.find((i) => i.invoiceType === 'pharmacy' && i.status === 'draft')!;
  expect(consultation).toBeDefined();
  expect(medicine).toBeDefined();
  const issue = `mutation($id: UUID!) { issueInvoice(input: { invoiceId: $id }) { result { status balanceDue } } }`;
  const balance = (await ok(issue, { id: consultation.rowId }, accountant)).issueInvoice.result.balanceDue;
  expect(Number(balance)).toBeGreaterThan(0);
  expect((await ok(issue, { id: medicine.rowId }, accountant)).issueInvoice.result.status).toBe('issued');
  const { recordPayment } = await ok(`mutation($id: UUID!, $amount: BigFloat!) { recordPayment(input: { invoiceId: $id, amount: $amount, paymentMethod: "card", referenceNumber: "4242" }) { result { status amount } } }`,
    { id: consultation.rowId, amount: balance }, accountant);
  expect(recordPayment.result.status).toBe('completed');
  const { settleDay } = await ok(`mutation($day: Date!) { settleDay(input: { settlementDate: $day }) { result { status settlementDate } } }`, { day: today }, accountant);
  expect(settleDay.result).toEqual({ status: 'settled', settlementDate: today });

  // The settled day is locked: paying for the medicine now is refused.
  const refused = await gql(`mutation($id: UUID!) { recordPayment(input: { invoiceId: $id, amount: "1", paymentMethod: "cash" }) { result { rowId } } }`, { id: medicine.rowId }, accountant, url);
  expect(refused.body.data?.recordPayment ?? null).toBeNull();
  const error = refused.body.errors![0];
  return { appointmentId: appointment.rowId, scheduleId: appointment.scheduleId, last: { code: error.extensions?.code, status: error.extensions?.status, message: error.message } };
}

/** What the database holds for one day's visit: the refusal, the queue token, the invoices, the settlement. */
async function checkDay(day: Day, today: string): Promise<void> {
  expect(day.last).toEqual({ code: 'HMS_DAY_SETTLED', status: 409, message: `The day ${today} is settled: no payment may be recorded or changed in it (reopen the day first).` });
  const [queue] = await ownerQuery(`select token_label from app_public.appointment_queue where appointment_id = $1`, [day.appointmentId]);
  expect(queue.token_label).toMatch(/-\d{3}$/);
  const invoices = await ownerQuery(
    `select i.invoice_type, i.status, i.balance_due::text, i.amount_paid::text, array_agg(it.item_type order by it.item_type) as items
       from app_public.invoices i join app_public.invoice_items it on it.invoice_id = i.id
      where i.patient_id = (select patient_id from app_public.appointments where id = $1)
      group by i.id order by i.invoice_type`, [day.appointmentId]);
  expect(invoices.map((i) => [i.invoice_type, i.status, i.items])).toEqual([
    ['outpatient', 'paid', ['consultation']],
    ['pharmacy', 'issued', ['medicine']],
  ]);
  expect(invoices[0].balance_due).toBe('0.00');
  expect(invoices[1].amount_paid).toBe('0.00');
  const [settlement] = await ownerQuery(`select status from app_public.daily_settlements where hospital_id = $1 and settlement_date = $2`, [NY, today]);
  expect(settlement.status).toBe('settled');
  // Booked by reception, stamped from the session GraphQL gave the transaction.
  const [booked] = await ownerQuery(`select u.email from app_public.appointments a join app_public.users u on u.id = a.created_by where a.id = $1`, [day.appointmentId]);
  expect(booked.email).toBe('reception.ny@hms.test');
}

describe('the day at the hospital through GraphQL', () => {
  it('runs twice on the same data (the second time through the on-call session) and ends in HMS_DAY_SETTLED', async () => {
    const today = await waitForRoomToday(ownerQuery);
    const first = await runDay(today, 1);
    await checkDay(first, today);

    const accountant = await login('accountant.ny@hms.test');
    const { reopenDay } = await ok(`mutation($day: Date!) { reopenDay(input: { settlementDate: $day, reason: "GraphQL walk-through, second run" }) { result { status } } }`, { day: today }, accountant);
    expect(reopenDay.result.status).not.toBe('settled');

    // A fully booked day: every slot of the regular sessions still ahead is taken.
    const reception = await login('reception.ny@hms.test');
    const ahead = await ownerQuery<{ slot_start: Date }>(
      `select s.slot_start from app_hidden.doctor_schedule_slots($1, $2, $3::date) s
         join app_public.doctor_schedules ds on ds.id = s.schedule_id
        where ds.valid_to is null and s.slot_start > now() + interval '1 minute'`, [NY, DOCTOR, today]);
    for (const { slot_start } of ahead) {
      const booked = await gql(`mutation($p: UUID!, $d: UUID!, $s: Datetime!) { bookAppointment(input: { patientId: $p, doctorId: $d, scheduledStart: $s }) { result { rowId } } }`,
        { p: 'd1000000-0000-4000-8000-000000000012', d: DOCTOR, s: slot_start.toISOString() }, reception, url);
      // Booked, or taken meanwhile (409): never anything else.
      expect(booked.body.errors?.[0].extensions?.status ?? 200, JSON.stringify(booked.body)).toBeOneOf([200, 409]);
    }

    const second = await runDay(today, 2);
    await checkDay(second, today);
    expect(second.appointmentId).not.toBe(first.appointmentId);
    const [session] = await ownerQuery(
      `select s.valid_from::text, s.valid_to::text, s.slot_minutes, s.end_time::text, u.email as created_by
         from app_public.doctor_schedules s join app_public.users u on u.id = s.created_by where s.id = $1`, [second.scheduleId]);
    expect(session).toEqual({ valid_from: today, valid_to: today, slot_minutes: 5, end_time: '24:00:00', created_by: 'admin.ny@hms.test' });
  }, 900_000);
});
