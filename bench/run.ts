/**
 * `npm run bench`: measurements, not tests (numbers vary with the machine; ratios matter).
 *
 *   1. hms_generate_id throughput with 1…32 parallel connections (each number its own
 *      transaction), and a check that the numbers issued are unique and gapless;
 *   2. a staff list read through the real PostgREST (patients with appointments) at 16 parallel
 *      requests, beside the same query in plain SQL over one connection per worker;
 *   3. the cost of row-level security: one list query on 60,000 patients (20,000 per hospital),
 *      run as the owner (who bypasses RLS) and as a logged-in member of staff (tenant and
 *      permission policies), side by side; and a name search, as the owner, as staff on the table
 *      (RLS first: no trigram index) and as staff through search_patients;
 *   4. workflow throughput with 16 parallel connections acting as staff: book_appointment on
 *      distinct slots, and dispense_otc from one batch (plus a race for the last 200 units),
 *      each followed by its invariant check (no double booking; batch = sum of movements ≥ 0).
 *
 * It runs on its own throwaway embedded stack and stops it at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../db/launcher/config.ts';
import { freePort } from '../db/launcher/ports.ts';
import { startStack } from '../db/launcher/stack.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const dataDir = mkdtempSync(path.join(tmpdir(), 'hms-bench-'));
const config = loadConfig({
  HMS_DATA_DIR: dataDir,
  HMS_PG_PORT: String(await freePort()),
  HMS_API_PORT: String(await freePort()),
  HMS_API_ADMIN_PORT: String(await freePort()),
  HMS_JWT_SECRET: 'bench-secret-0123456789-0123456789-abcdef',
});
const coldStart = Date.now();
const stack = await startStack(config, { includeCurrent: true });
console.log(`stack ready in ${((Date.now() - coldStart) / 1000).toFixed(1)} s (cold: initdb, migrate, demo data, PostgREST)`);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function generateIdThroughput(connections: number, hospitalId: string): Promise<{ perSecond: number; issued: string[] }> {
  const issued: string[] = [];
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: config.databaseUrl });
      await client.connect();
      while (Date.now() < deadline) {
        const { rows } = await client.query(`select app_hidden.hms_generate_id($1, 'invoice') as n`, [hospitalId]);
        issued.push(rows[0].n);
      }
      await client.end();
    }),
  );
  return { perSecond: issued.length / SECONDS, issued };
}

async function timedLoop(workers: number, request: () => Promise<void>) {
  const latencies: number[] = [];
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < deadline) {
        const started = performance.now();
        await request();
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / SECONDS,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

try {
  const owner = new pg.Client({ connectionString: config.databaseUrl });
  owner.on('error', () => {}); // the stack stops under it at the end
  await owner.connect();

  console.log(`\nhms_generate_id (each call its own transaction, ${SECONDS} s per row)`);
  console.log('connections  numbers/s  unique+gapless');
  for (const connections of [1, 4, 16, 32]) {
    const { rows } = await owner.query(
      `insert into app_public.hospitals (code, name) values ($1, 'Bench hospital') returning id`,
      [`BENCH${connections}`],
    );
    const { perSecond, issued } = await generateIdThroughput(connections, rows[0].id);
    const counters = issued.map((n) => Number(/-(\d+)-[0-9A-Z]$/.exec(n)![1])).sort((a, b) => a - b);
    const gapless = new Set(issued).size === issued.length && counters.every((value, index) => value === index + 1);
    console.log(`${String(connections).padStart(11)}  ${perSecond.toFixed(0).padStart(9)}  ${gapless ? 'yes' : 'NO'} (${issued.length} numbers)`);
  }

  const login = await fetch(`${stack.postgrest!.url}/rpc/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'reception.ny@hms.test', password: 'Admin@123' }),
  });
  const token = (await login.json()).access_token as string;
  const url = `${stack.postgrest!.url}/patients?select=mrn,first_name,last_name,appointments!appointments_patient_fkey(appointment_number,status,scheduled_start)&order=last_name&limit=20`;
  const sql = `select p.mrn, p.first_name, p.last_name,
                      (select json_agg(json_build_object('appointment_number', a.appointment_number, 'status', a.status, 'scheduled_start', a.scheduled_start))
                         from app_public.appointments a where a.hospital_id = p.hospital_id and a.patient_id = p.id)
                 from app_public.patients p order by p.last_name limit 20`;

  console.log(`\npatients with appointments, 16 parallel workers, ${SECONDS} s`);
  console.log('path                 req/s    p50 ms   p95 ms   p99 ms');
  const rest = await timedLoop(16, async () => {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await response.arrayBuffer();
  });
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 16 });
  const plain = await timedLoop(16, async () => {
    await pool.query(sql);
  });
  await pool.end();
  for (const [name, r] of [['PostgREST (HTTP)', rest], ['plain SQL (pg pool)', plain]] as const) {
    console.log(`${name.padEnd(19)} ${r.perSecond.toFixed(0).padStart(6)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p95.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}`);
  }
  // 3. RLS cost. Bench-only rows (numbers not from hms_generate_id: they are not documents).
  await owner.query(`
    insert into app_public.patients (hospital_id, mrn, first_name, last_name, date_of_birth, gender, phone_primary)
    select h.id, 'BENCH-' || h.code || '-' || g, 'Bench' || g, 'Patient' || (g % 997), date '1950-01-01' + (g % 20000), 'unknown', '+1 555 ' || lpad(g::text, 7, '0')
      from app_public.hospitals h cross join generate_series(1, 20000) g
     where h.code in ('NY', 'LA', 'CHI')`);
  await owner.query('analyze app_public.patients');
  const { rows: [staff] } = await owner.query(`
    insert into app_private.sessions (user_id, hospital_id, expires_at)
    select u.id, u.home_hospital_id, now() + interval '1 hour' from app_public.users u where u.email = 'reception.ny@hms.test'
    returning id, user_id, hospital_id`);
  const claims = JSON.stringify({ role: config.roles.staff, sub: staff.user_id, sid: staff.id, hid: staff.hospital_id, aud: 'hms' });
  const listSql = `select id, mrn, full_name, date_of_birth from app_public.patients
                    where hospital_id = '${staff.hospital_id}' and not is_deleted order by last_name, first_name limit 50`;
  const countSql = `select count(*) from app_public.patients where hospital_id = '${staff.hospital_id}'`;
  // Part of a name, MRN or phone, as the front desk types it (search_patients' predicate): ILIKE is not leakproof, so under RLS the table
  // filter cannot use the trigram index; search_patients applies the access rule itself and can.
  const searchSql = `select id, mrn, full_name from app_public.patients
                      where hospital_id = '${staff.hospital_id}' and not is_deleted
                        and (full_name ilike '%ench1234%' or mrn ilike '%ench1234%' or phone_primary ilike '%ench1234%')
                      order by last_name, first_name, id limit 50`;
  const rlsPool = new pg.Pool({ connectionString: config.databaseUrl, max: 8 });
  const asStaff = (sql: string) => async () => {
    const client = await rlsPool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [config.roles.staff, claims]);
      await client.query(sql);
      await client.query('commit');
    } finally {
      client.release();
    }
  };
  const ownerTx = (sql: string) => async () => {
    const client = await rlsPool.connect();
    try {
      await client.query('begin');
      await client.query(sql);
      await client.query('commit');
    } finally {
      client.release();
    }
  };
  console.log(`\nrow-level security cost (60,000 patients, 8 workers, ${SECONDS} s each; same SQL)`);
  console.log('query                              req/s    p50 ms   p95 ms   p99 ms');
  for (const [name, run] of [
    ['list 50 — owner (no RLS)', ownerTx(listSql)],
    ['list 50 — staff (RLS)', asStaff(listSql)],
    ['count — owner (no RLS)', ownerTx(countSql)],
    ['count — staff (RLS)', asStaff(countSql)],
    ['search — owner (ilike)', ownerTx(searchSql)],
    ['search — staff (ilike, RLS)', asStaff(searchSql)],
    ['search — staff (search_patients)', asStaff(`select id, mrn, full_name from app_public.search_patients('ench1234', 50)`)],
  ] as const) {
    const r = await timedLoop(8, run);
    console.log(`${name.padEnd(33)} ${r.perSecond.toFixed(0).padStart(6)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p95.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}`);
  }
  await rlsPool.end();

  // 4. Workflows under parallel connections, acting as staff through the RPCs.
  const ny = (await owner.query(`select id from app_public.hospitals where code = 'NY'`)).rows[0].id;
  const sessionFor = async (email: string) => {
    const { rows: [s] } = await owner.query(
      `insert into app_private.sessions (user_id, hospital_id, expires_at)
       select u.id, $2, now() + interval '1 hour' from app_public.users u where u.email = $1 returning id, user_id, hospital_id`,
      [email, ny],
    );
    return JSON.stringify({ role: config.roles.staff, sub: s.user_id, sid: s.id, hid: s.hospital_id, aud: 'hms' });
  };
  const receptionClaims = await sessionFor('reception.ny@hms.test');
  const pharmacistClaims = await sessionFor('pharmacist.ny@hms.test');
  const { rows: [benchDoctor] } = await owner.query(`
    with u as (insert into app_public.users (email, first_name, last_name, home_hospital_id) values ('bench.doctor@hms.test', 'Bench', 'Doctor', $1) returning id),
         d as (insert into app_public.doctors (hospital_id, user_id, department_id, registration_number, specialization)
               select $1, u.id, (select id from app_public.departments where hospital_id = $1 and code = 'GEN'), 'BENCH-1', 'General practice'
                 from u returning id)
    select id from d`, [ny]);
  await owner.query(`
    insert into app_public.doctor_schedules (hospital_id, doctor_id, department_id, day_of_week, start_time, end_time, slot_minutes, valid_from)
    select $1, $2, (select id from app_public.departments where hospital_id = $1 and code = 'GEN'), dow, '00:00', '23:59', 5, current_date - 1
      from generate_series(0, 6) dow`, [ny, benchDoctor.id]);
  const { rows: slots } = await owner.query(`
    select g as slot_start from generate_series(date_trunc('day', now()) + interval '2 days', date_trunc('day', now()) + interval '60 days', interval '5 minutes') g
     where (g at time zone 'America/New_York')::time < time '23:55' order by random()`);
  const { rows: patients } = await owner.query(`select id from app_public.patients where hospital_id = $1 and mrn like 'BENCH-%' limit 2000`, [ny]);
  const workflowPool = new pg.Pool({ connectionString: config.databaseUrl, max: 16 });
  const asStaffCall = async (claims: string, sql: string, params: unknown[]) => {
    const client = await workflowPool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, [config.roles.staff, claims]);
      await client.query(sql, params);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
  };
  let slotIndex = 0;
  let bookingErrors = 0;
  const booking = await timedLoop(16, async () => {
    const slot = slots[slotIndex++ % slots.length].slot_start;
    const patient = patients[slotIndex % patients.length].id;
    await asStaffCall(receptionClaims, `select app_public.book_appointment($1, $2, $3)`, [patient, benchDoctor.id, slot]).catch(() => bookingErrors++);
  });
  const { rows: [overlaps] } = await owner.query(`
    select count(*)::int as n from app_public.appointments a join app_public.appointments b
      on a.doctor_id = b.doctor_id and a.id < b.id and tstzrange(a.scheduled_start, a.scheduled_end) && tstzrange(b.scheduled_start, b.scheduled_end)
     where a.doctor_id = $1 and a.status not in ('cancelled', 'no_show', 'rescheduled') and b.status not in ('cancelled', 'no_show', 'rescheduled')`, [benchDoctor.id]);

  const { rows: [medicine] } = await owner.query(`
    insert into app_public.medicines (hospital_id, item_code, generic_name, dosage_form, strength, base_unit, schedule_category, selling_price, purchase_price)
    values ($1, 'BENCH-PARA', 'Paracetamol (bench)', 'tablet', '500 mg', 'tablet', 'otc', 0.10, 0.05) returning id`, [ny]);
  const newBatch = async (number: string, quantity: number) => {
    const { rows: [batch] } = await owner.query(`
      insert into app_public.medicine_batches (hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, quantity_received, quantity_on_hand, unit_cost)
      values ($1, $2, $3, current_date - 30, current_date + 700, $4, 0, 0.05) returning id`, [ny, medicine.id, number, quantity]);
    await owner.query(`
      insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason)
      values ($1, 'opening_balance', 'medicine', $2, $3, $4, $4, 'bench stock')`, [ny, medicine.id, batch.id, quantity]);
    return batch.id as string;
  };
  const bigBatch = await newBatch('BENCH-BIG', 1_000_000);
  let dispenseErrors = 0;
  const dispensing = await timedLoop(16, async () => {
    await asStaffCall(pharmacistClaims, `select app_public.dispense_otc(null, 'Bench customer', $1::jsonb)`,
      [JSON.stringify([{ medicine_id: medicine.id, quantity: 1 }])]).catch(() => dispenseErrors++);
  });
  const ledgerCheck = async (batchId: string) =>
    (await owner.query(`
      select b.quantity_on_hand, (select coalesce(sum(m.quantity), 0)::int from app_public.stock_movements m where m.batch_id = b.id) as ledger
        from app_public.medicine_batches b where b.id = $1`, [batchId])).rows[0];
  const big = await ledgerCheck(bigBatch);

  // The race for the last units: a second medicine whose only batch holds 200 units; 16 workers
  // ask for 320 in all.
  const { rows: [raceMedicine] } = await owner.query(`
    insert into app_public.medicines (hospital_id, item_code, generic_name, dosage_form, strength, base_unit, schedule_category, selling_price, purchase_price)
    values ($1, 'BENCH-RACE', 'Ibuprofen (bench race)', 'tablet', '200 mg', 'tablet', 'otc', 0.10, 0.05) returning id`, [ny]);
  medicine.id = raceMedicine.id;
  const lastBatch = await newBatch('BENCH-LAST', 200);
  let sold = 0;
  let refused = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let i = 0; i < 20; i++) {
      try {
        await asStaffCall(pharmacistClaims, `select app_public.dispense_otc(null, 'Bench customer', $1::jsonb)`, [JSON.stringify([{ medicine_id: medicine.id, quantity: 1 }])]);
        sold++;
      } catch {
        refused++;
      }
    }
  }));
  const last = await ledgerCheck(lastBatch);
  await workflowPool.end();

  console.log(`\nworkflows, 16 parallel connections acting as staff, ${SECONDS} s each`);
  console.log('workflow                            per second   p50 ms   p95 ms   invariant');
  console.log(`book_appointment (distinct slots)   ${booking.perSecond.toFixed(0).padStart(10)}  ${booking.p50.toFixed(2).padStart(7)}  ${booking.p95.toFixed(2).padStart(7)}   double bookings: ${overlaps.n} (refused calls: ${bookingErrors})`);
  console.log(`dispense_otc (one batch)            ${dispensing.perSecond.toFixed(0).padStart(10)}  ${dispensing.p50.toFixed(2).padStart(7)}  ${dispensing.p95.toFixed(2).padStart(7)}   batch ${big.quantity_on_hand} = ledger ${big.ledger}: ${big.quantity_on_hand === big.ledger ? 'yes' : 'NO'} (errors: ${dispenseErrors})`);
  console.log(`race for the last 200 units: ${sold} sold, ${refused} refused (HMS_INSUFFICIENT_STOCK), batch ${last.quantity_on_hand} = ledger ${last.ledger}, never negative: ${last.quantity_on_hand >= 0 ? 'yes' : 'NO'}`);
  await owner.end();
} catch (error) {
  console.error('bench failed:', (error as Error).message);
  process.exitCode = 1;
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
