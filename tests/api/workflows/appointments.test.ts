/**
 * Appointments workflow through the real PostgREST: the front desk of HMS Core NY finds a free
 * slot of doctor.ny, books a new patient, and the booking follows its status machine. Rows are
 * our own (a new patient created as the owner); slots are picked at random among the free ones
 * so parallel test files do not collide.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, loginToken, rpc } from '../../support/api.ts';
import { ownerQuery } from '../../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const DOCTOR_NY = 'd1100000-0000-4000-8000-000000000001';
const DOCTOR_LA = 'd1100000-0000-4000-8000-000000000002';
const APPOINTMENT_LA = 'd1200000-0000-4000-8000-000000000022';

interface Slot {
  slot_start: string;
  slot_end: string;
  is_free: boolean;
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];

let reception: string;
let patientId: string;
let todayNy: string;

/** Free future slots of doctor.ny on the first working day found from `fromDays` days ahead. */
async function freeSlots(fromDays: number): Promise<Slot[]> {
  for (let n = fromDays; n < fromDays + 14; n++) {
    const [{ day }] = await ownerQuery<{ day: string }>(`select to_char($1::date + $2::int, 'YYYY-MM-DD') as day`, [todayNy, n]);
    const { status, body } = await rpc('available_slots', { doctor_id: DOCTOR_NY, day }, reception, '?is_free=is.true&order=slot_start');
    expect(status).toBe(200);
    const slots = (body as Slot[]).filter((s) => new Date(s.slot_start).getTime() > Date.now() + 60_000);
    if (slots.length > 0) return slots;
  }
  throw new Error('doctor.ny has no free slot in the next weeks');
}

beforeAll(async () => {
  reception = await loginToken('reception.ny@hms.test');
  [{ today: todayNy }] = await ownerQuery<{ today: string }>(
    `select to_char((now() at time zone 'America/New_York')::date, 'YYYY-MM-DD') as today`,
  );
  [{ id: patientId }] = await ownerQuery<{ id: string }>(
    `insert into app_public.patients (hospital_id, first_name, last_name, date_of_birth, gender, phone_primary)
     values ($1, 'Booking', 'Workflow-' || substr(md5(random()::text), 1, 8), date '1975-04-12', 'female', '+1 212-555-0199')
     returning id`,
    [NY],
  );
});

describe('booking through /rpc/book_appointment', () => {
  it('lists slots of doctor.ny with available_slots', async () => {
    const slots = await freeSlots(15);
    expect(slots.length).toBeGreaterThan(0);
    expect(slots.every((s) => s.is_free)).toBe(true);
  });

  it('books a free slot for a new patient, then refuses the same slot (409 HMS_SLOT_TAKEN)', async () => {
    const slot = pick(await freeSlots(15));
    const booked = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: slot.slot_start,
      reason_for_visit: 'Palpitations' }, reception);
    expect(booked.status).toBe(200);
    expect(booked.body).toMatchObject({ patient_id: patientId, doctor_id: DOCTOR_NY, status: 'booked', quoted_fee: 250,
      department_id: 'd0100000-0000-4000-8000-000000000011' });
    expect(new Date(booked.body.scheduled_start).getTime()).toBe(new Date(slot.slot_start).getTime());
    expect(new Date(booked.body.scheduled_end).getTime()).toBe(new Date(slot.slot_end).getTime());
    expect(booked.body.appointment_number).toMatch(/^APT-NY-/);

    const again = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: slot.slot_start }, reception);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('HMS_SLOT_TAKEN');

    const log = await apiFetch(`/appointment_status_log?appointment_id=eq.${booked.body.id}&select=from_status,to_status`, { token: reception });
    expect(await log.json()).toEqual([{ from_status: null, to_status: 'booked' }]);

    const checkIn = await rpc('check_in_appointment', { appointment_id: booked.body.id }, reception);
    expect(checkIn.status).toBe(422);
    expect(checkIn.body.code).toBe('HMS_CHECKIN_NOT_TODAY');

    const noShow = await rpc('mark_no_show', { appointment_id: booked.body.id }, reception);
    expect(noShow.status).toBe(422);
    expect(noShow.body.code).toBe('HMS_TOO_EARLY_FOR_NO_SHOW');

    const patch = await apiFetch(`/appointments?id=eq.${booked.body.id}`, {
      method: 'PATCH', token: reception, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'completed' }),
    });
    expect(patch.status).toBe(409);
    expect((await patch.json()).code).toBe('HMS_ILLEGAL_TRANSITION');

    const noReason = await rpc('cancel_appointment', { appointment_id: booked.body.id, reason: '' }, reception);
    expect(noReason.status).toBe(422);
    expect(noReason.body.code).toBe('HMS_REASON_REQUIRED');
    const cancelled = await rpc('cancel_appointment', { appointment_id: booked.body.id, reason: 'Patient asked to cancel' }, reception);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancellation_reason: 'Patient asked to cancel' });
  });

  it('reschedules a booking to another free slot', async () => {
    const slots = await freeSlots(20);
    const first = pick(slots);
    const booked = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: first.slot_start,
      visit_type: 'follow_up' }, reception);
    expect(booked.status).toBe(200);
    expect(booked.body.quoted_fee).toBe(150);
    const second = pick((await freeSlots(25)));
    const moved = await rpc('reschedule_appointment', { appointment_id: booked.body.id, new_start: second.slot_start }, reception);
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ status: 'booked', rescheduled_from_id: booked.body.id, visit_type: 'follow_up' });
    const old = await apiFetch(`/appointments?id=eq.${booked.body.id}&select=status`, { token: reception });
    expect(await old.json()).toEqual([{ status: 'rescheduled' }]);
  });

  it('answers the appointment row (related rows embed), and a PATCH takes no workflow step, moves no slot and sets no stamp', async () => {
    const slot = pick(await freeSlots(30));
    // Embedded rows are read with the request's snapshot: rows that existed before the call (the
    // patient), not the ones the call itself wrote (its status log, read afterwards).
    const booked = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: slot.slot_start },
      reception, '?select=id,status,patients(id,date_of_birth)');
    expect(booked.status).toBe(200);
    expect(booked.body).toEqual({ id: booked.body.id, status: 'booked', patients: { id: patientId, date_of_birth: '1975-04-12' } });
    const log = await apiFetch(`/appointment_status_log?appointment_id=eq.${booked.body.id}&select=from_status,to_status,changed_by`, { token: reception });
    expect(await log.json()).toEqual([{ from_status: null, to_status: 'booked', changed_by: '20000000-0000-4000-8000-000000000008' }]);

    const patch = (body: Record<string, unknown>) => apiFetch(`/appointments?id=eq.${booked.body.id}`, {
      method: 'PATCH', token: reception, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    const checkIn = await patch({ status: 'checked_in' });
    expect(checkIn.status).toBe(409);
    const refusal = await checkIn.json();
    expect(refusal.code).toBe('HMS_WORKFLOW_REQUIRED');
    expect(JSON.parse(refusal.details)).toMatchObject({ entity: 'appointment', to: 'checked_in', use: 'check_in_appointment' });
    const move = await patch({ scheduled_start: slot.slot_end });
    expect(move.status).toBe(403);
    expect((await move.json()).code).toBe('HMS_FORBIDDEN');
    const stamp = await patch({ status: 'confirmed', confirmed_at: '2020-01-01T00:00:00Z' });
    expect(stamp.status).toBe(403);
    expect((await stamp.json()).code).toBe('HMS_FORBIDDEN');
    const confirmed = await patch({ status: 'confirmed' });
    expect(confirmed.status).toBe(204);
    const [row] = await ownerQuery<{ status: string; stamped: boolean }>(
      `select status, confirmed_at > now() - interval '1 minute' as stamped from app_public.appointments where id = $1`, [booked.body.id]);
    expect(row).toEqual({ status: 'confirmed', stamped: true });

    const cancelled = await rpc('cancel_appointment', { appointment_id: booked.body.id, reason: 'Test over' }, reception);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', cancelled_by: '20000000-0000-4000-8000-000000000008' });
  });

  it('answers 422 for a time that is not a slot start and for an unknown visit type (never 500)', async () => {
    const slot = pick(await freeSlots(15));
    const offSlot = new Date(new Date(slot.slot_start).getTime() + 7 * 60_000).toISOString();
    const outside = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: offSlot }, reception);
    expect(outside.status).toBe(422);
    expect(outside.body.code).toBe('HMS_SLOT_OUTSIDE_SCHEDULE');
    const badType = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: slot.slot_start,
      visit_type: 'massage' }, reception);
    expect(badType.status).toBe(422);
    expect(badType.body.code).toBe('HMS_INVALID_INPUT');
    const past = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: '2020-01-06T14:00:00Z' }, reception);
    expect(past.status).toBe(422);
    expect(past.body.code).toBe('HMS_SLOT_IN_PAST');
  });

  it('refuses staff without appointments.manage (403 HMS_FORBIDDEN)', async () => {
    const slot = pick(await freeSlots(15));
    const pharmacist = await loginToken('pharmacist.ny@hms.test');
    const answer = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: slot.slot_start }, pharmacist);
    expect(answer.status).toBe(403);
    expect(answer.body.code).toBe('HMS_FORBIDDEN');
    const slots = await rpc('available_slots', { doctor_id: DOCTOR_NY, day: todayNy }, pharmacist);
    expect(slots.status).toBe(403);
  });

  it('answers 404 HMS_NOT_FOUND for another hospital\'s ids', async () => {
    const slot = pick(await freeSlots(15));
    const laDoctor = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_LA, scheduled_start: slot.slot_start }, reception);
    expect(laDoctor.status).toBe(404);
    expect(laDoctor.body.code).toBe('HMS_NOT_FOUND');
    const laAppointment = await rpc('cancel_appointment', { appointment_id: APPOINTMENT_LA, reason: 'x' }, reception);
    expect(laAppointment.status).toBe(404);
    const doctorLa = await loginToken('doctor.la@hms.test');
    const nyPatient = await rpc('book_appointment', { patient_id: patientId, doctor_id: DOCTOR_NY, scheduled_start: slot.slot_start }, doctorLa);
    expect(nyPatient.status).toBe(404);
  });
});

describe('the day of the visit', () => {
  it('checks in today (queue token, invoice line), starts and completes — or refuses when today has no slot', async () => {
    const { status, body } = await rpc('available_slots', { doctor_id: DOCTOR_NY, day: todayNy }, reception, '?is_free=is.true');
    expect(status).toBe(200);
    const slots = body as Slot[];
    if (slots.length === 0) {
      // No session today (weekend): the refusal on another day is asserted above (HMS_CHECKIN_NOT_TODAY).
      expect(slots).toEqual([]);
      return;
    }
    // The owner books today's slot directly (it may already have started: booking would refuse a past slot).
    let appointmentId: string | undefined;
    for (const slot of [...slots].sort(() => Math.random() - 0.5)) {
      try {
        [{ id: appointmentId }] = await ownerQuery<{ id: string }>(
          `insert into app_public.appointments (hospital_id, patient_id, doctor_id, department_id, scheduled_start, scheduled_end, quoted_fee)
           values ($1, $2, $3, 'd0100000-0000-4000-8000-000000000011', $4, $5, 250) returning id`,
          [NY, patientId, DOCTOR_NY, slot.slot_start, slot.slot_end],
        );
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== '23P01') throw error;
      }
    }
    expect(appointmentId).toBeDefined();

    const doctor = await loginToken('doctor.ny@hms.test');
    const forbidden = await rpc('check_in_appointment', { appointment_id: appointmentId }, doctor);
    expect(forbidden.status).toBe(403);

    const checkedIn = await rpc('check_in_appointment', { appointment_id: appointmentId }, reception);
    expect(checkedIn.status).toBe(200);
    expect(checkedIn.body.status).toBe('checked_in');
    const queue = await apiFetch(`/appointment_queue?appointment_id=eq.${appointmentId}&select=queue_date,status,token_label,token_number`, { token: reception });
    const [token] = await queue.json();
    expect(token).toMatchObject({ queue_date: todayNy, status: 'waiting' });
    expect(token.token_label).toBeTruthy();
    const lines = await apiFetch(`/invoice_items?appointment_id=eq.${appointmentId}&select=item_type,unit_price,invoices(invoice_type,status)`, { token: reception });
    expect(await lines.json()).toEqual([{ item_type: 'consultation', unit_price: 250, invoices: { invoice_type: 'outpatient', status: 'draft' } }]);

    const started = await rpc('start_appointment', { appointment_id: appointmentId }, doctor);
    expect(started.status).toBe(200);
    expect(started.body.status).toBe('in_progress');
    const completed = await rpc('complete_appointment', { appointment_id: appointmentId }, doctor);
    expect(completed.status).toBe(200);
    expect(completed.body.status).toBe('completed');
    const again = await rpc('complete_appointment', { appointment_id: appointmentId }, doctor);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('HMS_ILLEGAL_TRANSITION');
  });
});
