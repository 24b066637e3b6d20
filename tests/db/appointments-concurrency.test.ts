/**
 * book_appointment under real concurrency: many receptionist connections book the same slot of
 * the same doctor at the same instant. Exactly one booking wins; every other call answers
 * HMS_SLOT_TAKEN (409) — whether it saw the winner in its pre-check or was stopped by the
 * exclusion constraint (23P01, translated). check_in_appointment likewise: the appointment's row
 * lock lets one check-in through and the others find it checked in (HMS_ILLEGAL_TRANSITION), so
 * the patient gets one queue token and one invoice line. Runs on the scratch copy of the seeded database.
 */
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';

const NY = '10000000-0000-4000-8000-000000000001';
const DOCTOR_NY = 'd1100000-0000-4000-8000-000000000001';
const RECEPTION_NY = '20000000-0000-4000-8000-000000000008';
const CONNECTIONS = 16;

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

let patients: string[];

beforeAll(async () => {
  patients = await asOwner(async (c) =>
    (
      await c.query<{ id: string }>(
        `insert into app_public.patients (hospital_id, first_name, last_name, date_of_birth, gender)
         select $1, 'Race', 'Patient ' || n, date '1980-01-01', 'other' from generate_series(1, $2::int) n returning id`,
        [NY, CONNECTIONS],
      )
    ).rows.map((r) => r.id),
  );
});

/** A free slot of doctor.ny, a few weeks ahead (first working day from `fromDays`). */
async function freeSlot(fromDays: number): Promise<string> {
  return asOwner(async (c) => {
    const { rows } = await c.query<{ slot_start: Date }>(
      `select s.slot_start
         from generate_series($3::int, $3::int + 14) n
        cross join lateral app_hidden.doctor_schedule_slots($1, $2, app_hidden.hospital_today($1) + n) s
        where not app_hidden.doctor_slot_taken($1, $2, s.slot_start, s.slot_end)
          and not app_hidden.doctor_on_leave($1, $2, s.slot_start)
        order by s.slot_start limit 1`,
      [NY, DOCTOR_NY, fromDays],
    );
    return rows[0].slot_start.toISOString();
  });
}

/** Each connection: its own staff session and transaction, all released at once, then one booking call. */
async function race(slotStart: string): Promise<string[]> {
  return raceCall(`select app_public.book_appointment($1, $2, $3)`, (index) => [patients[index], DOCTOR_NY, slotStart]);
}

/** CONNECTIONS receptionist sessions, each in its own transaction, make one call at the same instant. */
async function raceCall(sql: string, params: (index: number) => unknown[]): Promise<string[]> {
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, connect));
  try {
    await Promise.all(
      clients.map(async (client) => {
        await client.query('begin');
        const { rows } = await client.query<{ id: string }>(
          `insert into app_private.sessions (user_id, hospital_id, expires_at) values ($1, $2, now() + interval '1 hour') returning id`,
          [RECEPTION_NY, NY],
        );
        await client.query(`select set_config('request.jwt.claims', $1, true), set_config('role', 'hms_staff', true)`, [
          JSON.stringify({ role: 'hms_staff', sub: RECEPTION_NY, sid: rows[0].id, hid: NY, aud: 'hms' }),
        ]);
      }),
    );
    return await Promise.all(
      clients.map(async (client, index) => {
        try {
          await client.query(sql, params(index));
          await client.query('commit');
          return 'ok';
        } catch (error) {
          await client.query('rollback');
          const message = (error as Error).message;
          try {
            return (JSON.parse(message) as { code: string }).code;
          } catch {
            return `error: ${message}`;
          }
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
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      expect(outcomes.filter((o) => o !== 'ok')).toEqual(Array(CONNECTIONS - 1).fill('HMS_SLOT_TAKEN'));

      const live = await asOwner((c) =>
        c.query(
          `select a.id, (select count(*)::int from app_public.appointment_status_log l where l.appointment_id = a.id) as log_rows
             from app_public.appointments a
            where a.hospital_id = $1 and a.doctor_id = $2 and a.scheduled_start = $3
              and a.status not in ('cancelled', 'no_show', 'rescheduled') and not a.is_deleted`,
          [NY, DOCTOR_NY, slotStart],
        ),
      );
      expect(live.rows).toHaveLength(1);
      expect(live.rows[0].log_rows).toBe(1);
    }
  });
});

describe('check_in_appointment with parallel connections', () => {
  it(`${CONNECTIONS} receptionists check the same patient in at once: one token, one invoice line, the others get HMS_ILLEGAL_TRANSITION`, async () => {
    // Today's appointment of a doctor of our own, written as the owner (booking refuses a slot that began).
    const appointmentId = await asOwner(async (c) => {
      const suffix = Math.random().toString(36).slice(2, 10);
      const { rows: [user] } = await c.query<{ id: string }>(
        `insert into app_public.users (email, first_name, last_name) values ($1, 'Race', 'Doctor') returning id`, [`race.${suffix}@example.org`]);
      const { rows: [doctor] } = await c.query<{ id: string }>(
        `insert into app_public.doctors (hospital_id, user_id, department_id, registration_number, specialization)
         values ($1, $2, 'd0100000-0000-4000-8000-000000000011', $3, 'Cardiology') returning id`, [NY, user.id, `RACE-${suffix}`]);
      const { rows: [appointment] } = await c.query<{ id: string }>(
        `insert into app_public.appointments (hospital_id, patient_id, doctor_id, department_id, scheduled_start, scheduled_end, quoted_fee)
         select $1, $2, $3, 'd0100000-0000-4000-8000-000000000011', t.s, t.s + interval '15 minutes', 180
           from app_public.hospitals h
          cross join lateral (select (app_hidden.hospital_today(h.id) + time '10:00') at time zone h.time_zone as s) t
          where h.id = $1
         returning id`, [NY, patients[0], doctor.id]);
      return appointment.id;
    });

    const outcomes = await raceCall(`select app_public.check_in_appointment($1)`, () => [appointmentId]);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'ok')).toEqual(Array(CONNECTIONS - 1).fill('HMS_ILLEGAL_TRANSITION'));

    const [effects] = await asOwner(async (c) => (await c.query(
      `select a.status,
              (select count(*)::int from app_public.appointment_queue q where q.appointment_id = a.id) as tokens,
              (select count(*)::int from app_public.invoice_items i where i.appointment_id = a.id) as invoice_lines,
              (select count(*)::int from app_public.appointment_status_log l where l.appointment_id = a.id and l.to_status = 'checked_in') as log_rows
         from app_public.appointments a where a.id = $1`, [appointmentId])).rows);
    expect(effects).toEqual({ status: 'checked_in', tokens: 1, invoice_lines: 1, log_rows: 1 });
  });
});
