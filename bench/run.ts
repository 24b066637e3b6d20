/**
 * `npm run bench`: measurements, not tests (numbers vary with the machine; ratios matter).
 *
 *   1. hms_generate_id throughput with 1…32 parallel connections (each number its own
 *      transaction), and a check that the numbers issued are unique and gapless;
 *   2. a staff list read through the real PostgREST (patients with appointments) at 16 parallel
 *      requests, beside the same query in plain SQL over one connection per worker;
 *   3. the cost of row-level security: one list query on 60,000 patients (20,000 per hospital),
 *      run as the owner (who bypasses RLS) and as a logged-in member of staff (tenant and
 *      permission policies), side by side.
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
  console.log('query                          req/s    p50 ms   p95 ms   p99 ms');
  for (const [name, run] of [
    ['list 50 — owner (no RLS)', ownerTx(listSql)],
    ['list 50 — staff (RLS)', asStaff(listSql)],
    ['count — owner (no RLS)', ownerTx(countSql)],
    ['count — staff (RLS)', asStaff(countSql)],
  ] as const) {
    const r = await timedLoop(8, run);
    console.log(`${name.padEnd(29)} ${r.perSecond.toFixed(0).padStart(6)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p95.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}`);
  }
  await rlsPool.end();
  await owner.end();
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
