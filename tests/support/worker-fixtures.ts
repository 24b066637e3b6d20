/**
 * Fixtures of the worker tests, in a database they commit to (the scratch copy): statements as a
 * demo user with a live session (the identity the API gives), patients of their own, free slots
 * and bookings with the NY demo doctor.
 */
import pg from 'pg';

export const NY = '10000000-0000-4000-8000-000000000001';
export const LA = '10000000-0000-4000-8000-000000000002';
export const DOCTOR_NY = 'd1100000-0000-4000-8000-000000000001';

export function workerFixtures(owner: pg.Pool) {
  let patientSeq = 0;

  /** Runs one statement as a demo user with a live session, committed; answers its first row. */
  async function asUser<R = any>(email: string, sql: string, params: unknown[] = []): Promise<R> {
    const client = await owner.connect();
    try {
      await client.query('begin');
      await client.query('select tests.authenticate_as($1)', [email]);
      const { rows } = await client.query(sql, params);
      await client.query('commit');
      return rows[0] as R;
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
  }

  /** A patient of NY of the test's own, with the consents given. */
  async function createPatient(consents: { email?: boolean; sms?: boolean } = { email: true, sms: true }, firstName = 'Notify'):
    Promise<{ id: string; email: string; phone: string; full_name: string }> {
    patientSeq += 1;
    const email = `notify.patient.${patientSeq}.${Date.now()}@example.org`;
    const phone = `+1 212-555-${String(1000 + patientSeq).slice(-4)}`;
    const { rows } = await owner.query(`
      insert into app_public.patients (hospital_id, first_name, last_name, date_of_birth, gender, phone_primary, email, email_consent, sms_consent)
      values ($1, $2, $3, '1980-05-01', 'female', $4, $5, $6, $7) returning id, full_name`,
      [NY, firstName, `Patient${patientSeq}`, phone, email, consents.email ?? false, consents.sms ?? false]);
    return { id: rows[0].id, full_name: rows[0].full_name, email, phone };
  }

  /** The NY doctor's first free slot at least `daysAhead` days ahead. */
  async function freeSlot(daysAhead: number): Promise<string> {
    for (let day = daysAhead; day < daysAhead + 30; day += 1) {
      const slot = await asUser<{ slot_start: string } | undefined>('reception.ny@hms.test', `
        select slot_start from app_public.available_slots($1, (current_date + $2::int)) where is_free and slot_start > now() order by slot_start limit 1`,
        [DOCTOR_NY, day]);
      if (slot) return slot.slot_start;
    }
    throw new Error('no free slot in 30 days');
  }

  /** Books the patient with the NY doctor at the first free slot at least `daysAhead` days ahead, as reception. */
  async function book(patientId: string, daysAhead = 3): Promise<{ id: string; appointment_number: string; scheduled_start: Date }> {
    return asUser('reception.ny@hms.test', `select id, appointment_number, scheduled_start from app_public.book_appointment($1, $2, $3)`,
      [patientId, DOCTOR_NY, await freeSlot(daysAhead)]);
  }

  return { asUser, createPatient, freeSlot, book };
}
