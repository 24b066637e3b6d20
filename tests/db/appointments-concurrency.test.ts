/**
 * book_appointment under real concurrency: many receptionist connections book the same slot of
 * the same doctor at the same instant. Exactly one booking wins; every other call answers
 * HMS_SLOT_TAKEN (409) — whether it saw the winner in its pre-check or was stopped by the
 * exclusion constraint (23P01, translated). Runs on the scratch copy of the seeded database.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { actAs, connectOwner, errorCode, openSessions, ownerQuery } from '../support/db.ts';

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

/** Each connection: its own staff session and transaction, all released at once, then one booking call. */
async function race(slotStart: string): Promise<string[]> {
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectOwner('scratch')));
  try {
    await Promise.all(
      clients.map(async (client, index) => {
        await client.query('begin');
        await actAs(client, claims[index]);
      }),
    );
    return await Promise.all(
      clients.map(async (client, index) => {
        try {
          await client.query(`select app_public.book_appointment($1, $2, $3)`, [patients[index], DOCTOR_NY, slotStart]);
          await client.query('commit');
          return 'booked';
        } catch (error) {
          await client.query('rollback');
          return errorCode(error);
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

describe('book_appointment with parallel connections', () => {
  it(`${CONNECTIONS} receptionists book the same slot: exactly one wins, the others get HMS_SLOT_TAKEN`, async () => {
    for (const fromDays of [21, 35]) {
      const slotStart = await freeSlot(fromDays);
      const outcomes = await race(slotStart);
      expect(outcomes.filter((o) => o === 'booked')).toHaveLength(1);
      expect(outcomes.filter((o) => o !== 'booked')).toEqual(Array(CONNECTIONS - 1).fill('HMS_SLOT_TAKEN'));

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
