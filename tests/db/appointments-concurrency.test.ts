/**
 * book_appointment under real concurrency: many receptionist connections book the same slot of
 * the same doctor at the same instant. Exactly one booking wins; every other call answers
 * HMS_SLOT_TAKEN (409) — whether it saw the winner in its pre-check or was stopped by the
 * exclusion constraint (23P01, translated). check_in_appointment likewise: the appointment's row
 * lock lets one check-in through and the others find it checked in (HMS_ILLEGAL_TRANSITION), so
 * the patient gets one queue token and one invoice line. Runs on the scratch copy of the seeded database.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { openSessions, ownerQuery, race } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const DOCTOR_NY = 'd1100000-0000-4000-8000-000000000001';
const CONNECTIONS = 16;

let patients: string[];
let claims: string[];

beforeAll(async () => {
  patients = (
    await ownerQuery<{ id: string }>(
      `insert into app_public.patients (hospital_id, first_name, last_name, date_of_birth, gender)
       select $1, 'Race', 'Patient ' || n, date '1980-01-01', 'other' from generate_series(1, $2::int) n returning id`,
      [NY, CONNECTIONS],
      'scratch',
    )
  ).map((r) => r.id);
  claims = await openSessions('reception.ny@hms.test', NY, CONNECTIONS, 'scratch');
});

/** A free slot of doctor.ny, a few weeks ahead (first working day from `fromDays`). */
async function freeSlot(fromDays: number): Promise<string> {
  const rows = await ownerQuery<{ slot_start: Date }>(
    `select s.slot_start
       from generate_series($3::int, $3::int + 14) n
      cross join lateral app_hidden.doctor_schedule_slots($1, $2, app_hidden.hospital_today($1) + n) s
      where not app_hidden.doctor_slot_taken($1, $2, s.slot_start, s.slot_end)
        and not app_hidden.doctor_on_leave($1, $2, s.slot_start)
      order by s.slot_start limit 1`,
    [NY, DOCTOR_NY, fromDays],
    'scratch',
  );
  return rows[0].slot_start.toISOString();
}

/** Each receptionist connection books the same slot at the same instant: 'ok' or the error code. */
async function raceBooking(slotStart: string): Promise<string[]> {
  const outcomes = await race(claims, `select app_public.book_appointment($1, $2, $3)`, (index) => [patients[index], DOCTOR_NY, slotStart]);
  return outcomes.map((o) => o.code ?? 'ok');
}

describe('book_appointment with parallel connections', () => {
  it(`${CONNECTIONS} receptionists book the same slot: exactly one wins, the others get HMS_SLOT_TAKEN`, async () => {
    for (const fromDays of [21, 35]) {
      const slotStart = await freeSlot(fromDays);
      const outcomes = await raceBooking(slotStart);
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      expect(outcomes.filter((o) => o !== 'ok')).toEqual(Array(CONNECTIONS - 1).fill('HMS_SLOT_TAKEN'));

      const live = await ownerQuery(
        `select a.id, (select count(*)::int from app_public.appointment_status_log l where l.appointment_id = a.id) as log_rows
           from app_public.appointments a
          where a.hospital_id = $1 and a.doctor_id = $2 and a.scheduled_start = $3
            and a.status not in ('cancelled', 'no_show', 'rescheduled') and not a.is_deleted`,
        [NY, DOCTOR_NY, slotStart],
        'scratch',
      );
      expect(live).toHaveLength(1);
      expect(live[0].log_rows).toBe(1);
    }
  });
});

describe('check_in_appointment with parallel connections', () => {
  it(`${CONNECTIONS} receptionists check the same patient in at once: one token, one invoice line, the others get HMS_ILLEGAL_TRANSITION`, async () => {
    // Today's appointment of a doctor of our own, written as the owner (booking refuses a slot that began).
    const suffix = Math.random().toString(36).slice(2, 10);
    const [user] = await ownerQuery<{ id: string }>(
      `insert into app_public.users (email, first_name, last_name) values ($1, 'Race', 'Doctor') returning id`, [`race.${suffix}@example.org`], 'scratch');
    const [doctor] = await ownerQuery<{ id: string }>(
      `insert into app_public.doctors (hospital_id, user_id, department_id, registration_number, specialization)
       values ($1, $2, 'd0100000-0000-4000-8000-000000000011', $3, 'Cardiology') returning id`, [NY, user.id, `RACE-${suffix}`], 'scratch');
    const [appointment] = await ownerQuery<{ id: string }>(
      `insert into app_public.appointments (hospital_id, patient_id, doctor_id, department_id, scheduled_start, scheduled_end, quoted_fee)
       select $1, $2, $3, 'd0100000-0000-4000-8000-000000000011', t.s, t.s + interval '15 minutes', 180
         from app_public.hospitals h
        cross join lateral (select (app_hidden.hospital_today(h.id) + time '10:00') at time zone h.time_zone as s) t
        where h.id = $1
       returning id`, [NY, patients[0], doctor.id], 'scratch');

    const outcomes = (await race(claims, `select app_public.check_in_appointment($1)`, () => [appointment.id])).map((o) => o.code ?? 'ok');
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'ok')).toEqual(Array(CONNECTIONS - 1).fill('HMS_ILLEGAL_TRANSITION'));

    const [effects] = await ownerQuery(
      `select a.status,
              (select count(*)::int from app_public.appointment_queue q where q.appointment_id = a.id) as tokens,
              (select count(*)::int from app_public.invoice_items i where i.appointment_id = a.id) as invoice_lines,
              (select count(*)::int from app_public.appointment_status_log l where l.appointment_id = a.id and l.to_status = 'checked_in') as log_rows
         from app_public.appointments a where a.id = $1`, [appointment.id], 'scratch');
    expect(effects).toEqual({ status: 'checked_in', tokens: 1, invoice_lines: 1, log_rows: 1 });
  });
});
