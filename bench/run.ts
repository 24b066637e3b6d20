/**
 * `npm run bench`: measurements, not tests (numbers vary with the machine; ratios matter).
 *
 *   0. the data generator (bench/generate.ts): a chain of 20 hospitals with BENCH_PATIENTS
 *      patients (1,000,000 by default) and everything they imply, timed step by step, then
 *      checked against the rules the triggers enforce;
 *   1. (hotPaths) the reads of a hospital's day on the generated data, side by side: pgbench as the
 *      owner, the owner over pg, the owner after the identity work, staff under RLS, a minimal
 *      Node http + pg endpoint, PostgREST — with the ratios the targets are stated in; the point
 *      read through PostgREST at 32 clients (the latency target); and through the front, REST
 *      (/api) and GraphQL (/graphql) side by side: the point read, a doctor's appointments with
 *      their patient and doctor;
 *  1b. (firstPages) the first page of the big lists through PostgREST with no count, an
 *      estimated count and an exact count;
 *   2. (chainWrites) the writes of a hospital's day on the generated chain, as staff over pg and
 *      through PostgREST: check-in of today's appointments, a payment on an outstanding invoice;
 *      the generated data's rules checked again afterwards;
 *   3. hms_generate_id throughput with 1…32 parallel connections (each number its own
 *      transaction), and a check that the numbers issued are unique and gapless;
 *   4. workflow throughput with 16 parallel connections acting as staff: book_appointment across
 *      16 doctors, dispense_otc across 16 medicines (plus a race for one batch's last 200 units),
 *      each followed by its invariant check (no double booking; batch = sum of movements ≥ 0);
 *   5. (partitionGrowth) appends to the audit trail and today's page of it, before and after its
 *      history is doubled (monthly partitions: the numbers stay flat);
 *   6. (bench/worker.ts) the worker: e-mails per second from notification_queue to an SMTP server,
 *      and the settlement of one hospital-day with a million payments.
 *
 * It runs on its own throwaway embedded stack and stops it at the end.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inDatabaseOf, loadConfig } from '../db/launcher/config.ts';
import { freePort } from '../db/launcher/ports.ts';
import { startStack } from '../db/launcher/stack.ts';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { checkGeneratedChain, generateChain } from './generate.ts';
import { deliveryThroughput, settlementAtScale } from './worker.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const PATIENTS = Number(process.env.BENCH_PATIENTS ?? 1_000_000);
const dataDir = mkdtempSync(path.join(tmpdir(), 'hms-bench-'));
const config = loadConfig({
  HMS_DATA_DIR: dataDir,
  HMS_PG_PORT: String(await freePort()),
  HMS_API_PORT: String(await freePort()),
  HMS_API_ADMIN_PORT: String(await freePort()),
  HMS_MAIL_CATCHER_PORT: String(await freePort()),
  HMS_JWT_SECRET: 'bench-secret-0123456789-0123456789-abcdef',
});
const coldStart = Date.now();
const stack = await startStack(config, { includeCurrent: true });
console.log(`stack ready in ${((Date.now() - coldStart) / 1000).toFixed(1)} s (cold: initdb, migrate, demo data, PostgREST)`);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

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

/**
 * Runs `request(worker)` from `workers` loops for SECONDS (or until every loop returns false: its
 * work list is used up) and answers the throughput over the time it really took, with latency percentiles.
 */
async function timedLoop(workers: number, request: (worker: number) => Promise<void | false>) {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (Date.now() < deadline) {
        const began = performance.now();
        if ((await request(worker)) === false) break;
        latencies.push(performance.now() - began);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / seconds,
    calls: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

const rootUrl = inDatabaseOf(config.rootDatabaseUrl!, config.databaseUrl);

/** Opens a session for a user (as login would) in a hospital; answers the claims its access token carries, and the token. */
async function openSession(owner: pg.Client, email: string, hospitalId: string): Promise<{ claims: string; token: string }> {
  const { rows: [session] } = await owner.query(
    `insert into app_private.sessions (user_id, hospital_id, expires_at)
     select u.id, $2, now() + interval '2 hours' from app_public.users u where u.email = $1 returning id, user_id, hospital_id`,
    [email, hospitalId],
  );
  const { rows: [tokens] } = await owner.query(`select app_private.issue_tokens($1) ->> 'access_token' as token`, [session.id]);
  const claims = JSON.stringify({ role: config.roles.staff, sub: session.user_id, sid: session.id, hid: session.hospital_id, aud: 'hms' });
  return { claims, token: tokens.token };
}

/** One transaction on a pooled connection, rolled back if the work fails. */
async function inTransaction(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<unknown>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await work(client);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}

/**
 * What PostgREST does before each request, on the transaction of `client`: the verified claims,
 * the staff role (unless `asStaff` is false: the owner then bypasses RLS) and the session check.
 */
const identify = (client: pg.PoolClient, claims: string, asStaff = true) =>
  client.query(
    `select set_config('request.jwt.claims', $1, true), ${asStaff ? `set_config('role', '${config.roles.staff}', true), ` : ''}app_hidden.check_request()`,
    [claims],
  );

/** One RPC call (or any statement) as the staff member whose claims are given, in its own transaction on `pool`. */
const asStaff = (pool: pg.Pool, claims: string, sql: string, params: unknown[]) =>
  inTransaction(pool, async (client) => {
    await identify(client, claims);
    await client.query(sql, params);
  });

interface HotPath {
  name: string;
  /** The staff query under RLS ($1 = the sample); PostgREST's request for the same rows. */
  staffSql: string;
  rest: (sample: string) => string;
  /** The owner's query for the same rows without RLS: the tenant filter written out ($2 = hospital). */
  ownerSql: string;
  samples: string[];
}

/** k samples spread over a query's rows. */
async function sample(owner: pg.Client, sql: string, params: unknown[], k = 500): Promise<string[]> {
  const { rows } = await owner.query(`select s::text as v from (${sql}) x(s) order by random() limit ${k}`, params);
  if (rows.length === 0) throw new Error(`no samples for: ${sql}`);
  return rows.map((r) => r.v);
}

/**
 * 1. The hot paths of a hospital's day at the generated scale, side by side in one run: the same
 * rows read by the owner (no identity, no RLS; pgbench for the point read: the database's ceiling),
 * by the owner after the per-request identity work (claims + check_request, RLS bypassed), by a
 * member of staff (identity + RLS), through a minimal hand-written Node http + pg endpoint doing
 * that staff transaction, and through PostgREST.
 */
async function hotPaths(owner: pg.Client) {
  const { rows: [bos] } = await owner.query(`select id from app_public.hospitals where code = 'BOS'`);
  const { rows: [admin] } = await owner.query(
    `select email from app_public.users where home_hospital_id = $1 and email like 'hospital_admin.%' limit 1`, [bos.id]);
  const { claims, token } = await openSession(owner, admin.email, bos.id);
  const H = bos.id as string;
  const { rows: [day] } = await owner.query(`
    select to_char(d, 'YYYY-MM-DD') as local_day from generate_series((now() at time zone 'America/New_York')::date, (now() at time zone 'America/New_York')::date - 6, interval '-1 day') d
     where extract(isodow from d) between 1 and 5 limit 1`);
  const dayStart = `${day.local_day}T00:00:00-05:00`;
  const dayEnd = new Date(new Date(dayStart).getTime() + 86400_000).toISOString();
  const enc = encodeURIComponent;
  const paths: HotPath[] = [
    {
      name: 'patient point read',
      staffSql: `select to_json(p) from app_public.patients p where p.id = $1`,
      ownerSql: `select to_json(p) from app_public.patients p where p.id = $1 and p.hospital_id = $2`,
      rest: (id) => `/patients?id=eq.${id}`,
      samples: await sample(owner, `select id from app_public.patients where hospital_id = $1`, [H]),
    },
    {
      name: 'patient search (name/phone/MRN)',
      staffSql: `select json_agg(s) from app_public.search_patients($1, 20) s`,
      // search_patients' own query, the tenant filter written out instead of its permission check.
      ownerSql: `select json_agg(s) from (select * from app_public.patients p where p.hospital_id = $2 and not p.is_deleted
                   and (p.full_name ilike app_hidden.search_pattern($1) or p.mrn ilike app_hidden.search_pattern($1)
                        or p.phone_primary ilike app_hidden.search_pattern($1) or p.national_id_number = trim($1))
                 order by p.last_name, p.first_name, p.id limit 20) s`,
      rest: (q) => `/rpc/search_patients?query=${enc(q)}&max_rows=20`,
      samples: await sample(owner, `select distinct left(last_name, 5) || ' ' from app_public.patients where hospital_id = $1
                                    union all select distinct substr(mrn, 9, 6) from app_public.patients where hospital_id = $1 and mrn like '%0'`, [H], 200),
    },
    {
      name: "a doctor's appointments today",
      staffSql: `select json_agg(x) from (select a.id, a.appointment_number, a.status, a.scheduled_start, p.full_name, p.mrn
                   from app_public.appointments a join app_public.patients p on p.hospital_id = a.hospital_id and p.id = a.patient_id
                  where a.doctor_id = $1 and a.scheduled_start >= '${dayStart}' and a.scheduled_start < '${dayEnd}' order by a.scheduled_start) x`,
      ownerSql: `select json_agg(x) from (select a.id, a.appointment_number, a.status, a.scheduled_start, p.full_name, p.mrn
                   from app_public.appointments a join app_public.patients p on p.hospital_id = a.hospital_id and p.id = a.patient_id
                  where a.hospital_id = $2 and a.doctor_id = $1 and a.scheduled_start >= '${dayStart}' and a.scheduled_start < '${dayEnd}' order by a.scheduled_start) x`,
      rest: (id) => `/appointments?doctor_id=eq.${id}&scheduled_start=gte.${enc(dayStart)}&scheduled_start=lt.${enc(dayEnd)}&order=scheduled_start`
        + `&select=id,appointment_number,status,scheduled_start,patients!appointments_patient_fkey(full_name,mrn)`,
      samples: await sample(owner, `select id from app_public.doctors where hospital_id = $1`, [H]),
    },
    {
      name: "a patient's history",
      staffSql: `select json_build_object('patient', (select to_json(p) from app_public.patients p where p.id = $1),
                   'appointments', (select json_agg(a) from app_public.appointments a where a.patient_id = $1),
                   'prescriptions', (select json_agg(r) from app_public.prescriptions r where r.patient_id = $1),
                   'invoices', (select json_agg(i) from app_public.invoices i where i.patient_id = $1))`,
      ownerSql: `select json_build_object('patient', (select to_json(p) from app_public.patients p where p.id = $1 and p.hospital_id = $2),
                   'appointments', (select json_agg(a) from app_public.appointments a where a.hospital_id = $2 and a.patient_id = $1),
                   'prescriptions', (select json_agg(r) from app_public.prescriptions r where r.hospital_id = $2 and r.patient_id = $1),
                   'invoices', (select json_agg(i) from app_public.invoices i where i.hospital_id = $2 and i.patient_id = $1))`,
      rest: (id) => `/patients?id=eq.${id}&select=*,appointments!appointments_patient_fkey(*),prescriptions!prescriptions_patient_fkey(*),invoices!invoices_patient_fkey(*)`,
      samples: await sample(owner, `select patient_id from app_public.appointments where hospital_id = $1 and scheduled_start > now() - interval '30 days'`, [H]),
    },
    {
      name: 'an invoice with items and payments',
      staffSql: `select json_build_object('invoice', (select to_json(i) from app_public.invoices i where i.id = $1),
                   'items', (select json_agg(l) from app_public.invoice_items l where l.invoice_id = $1),
                   'payments', (select json_agg(p) from app_public.payments p where p.invoice_id = $1))`,
      ownerSql: `select json_build_object('invoice', (select to_json(i) from app_public.invoices i where i.id = $1 and i.hospital_id = $2),
                   'items', (select json_agg(l) from app_public.invoice_items l where l.hospital_id = $2 and l.invoice_id = $1),
                   'payments', (select json_agg(p) from app_public.payments p where p.hospital_id = $2 and p.invoice_id = $1))`,
      rest: (id) => `/invoices?id=eq.${id}&select=*,invoice_items!invoice_items_invoice_fkey(*),payments!payments_invoice_fkey(*)`,
      samples: await sample(owner, `select id from app_public.invoices where hospital_id = $1`, [H]),
    },
    {
      name: "the day's collections",
      // The bounds in the column's type: a date compared with a timestamptz is not leakproof, so
      // under RLS it would wait for the policies and scan the hospital's every payment.
      staffSql: `select json_agg(p order by p.payment_date) from app_public.payments p
                  where p.payment_date >= $1::timestamptz and p.payment_date < $1::timestamptz + interval '1 day' and p.status = 'completed'`,
      ownerSql: `select json_agg(p order by p.payment_date) from app_public.payments p
                  where p.hospital_id = $2 and p.payment_date >= $1::timestamptz and p.payment_date < $1::timestamptz + interval '1 day'
                    and p.status = 'completed'`,
      rest: (d) => `/payments?payment_date=gte.${d}&payment_date=lt.${new Date(new Date(d).getTime() + 86400_000).toISOString().slice(0, 10)}&status=eq.completed&order=payment_date`,
      samples: await sample(owner, `select to_char(current_date - g, 'YYYY-MM-DD') from generate_series(1, 60) g where extract(isodow from current_date - g) < 6`, []),
    },
    {
      name: "a day of the audit trail (50 rows)",
      // audit_logs is partitioned by month: a day's read prunes to one partition.
      staffSql: `select json_agg(a) from (select * from app_public.audit_logs a
                  where a.occurred_at >= $1::timestamptz and a.occurred_at < $1::timestamptz + interval '1 day' order by a.occurred_at desc limit 50) a`,
      ownerSql: `select json_agg(a) from (select * from app_public.audit_logs a where a.hospital_id = $2
                  and a.occurred_at >= $1::timestamptz and a.occurred_at < $1::timestamptz + interval '1 day' order by a.occurred_at desc limit 50) a`,
      rest: (d) => `/audit_logs?occurred_at=gte.${d}&occurred_at=lt.${new Date(new Date(d).getTime() + 86400_000).toISOString().slice(0, 10)}&order=occurred_at.desc&limit=50`,
      samples: await sample(owner, `select to_char(current_date - g, 'YYYY-MM-DD') from generate_series(1, 360) g`, []),
    },
  ];

  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 16 });
  // The hand-written endpoint: the same staff transaction as PostgREST's, nothing else.
  const endpoint = http.createServer(async (request, response) => {
    const url = new URL(request.url!, 'http://x');
    const path = paths[Number(url.searchParams.get('path'))];
    try {
      let body = '';
      await inTransaction(pool, async (client) => {
        await identify(client, claims);
        body = JSON.stringify((await client.query(path.staffSql, [url.searchParams.get('arg')])).rows[0]);
      });
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    } catch (error) {
      response.writeHead(500).end(String(error));
    }
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const endpointUrl = `http://127.0.0.1:${(endpoint.address() as { port: number }).port}`;
  const agent = { headers: { Authorization: `Bearer ${token}` } };
  const get = async (url: string, init?: RequestInit) => {
    const response = await fetch(url, init);
    if (!response.ok) throw new Error(`HTTP ${response.status} ${url}: ${await response.text()}`);
    await response.arrayBuffer();
  };

  // pgbench: the owner's point read, every client its own connection, prepared, no identity work.
  // The generated ids are <tag>-0000-4000-8000-<n>: pgbench draws n within the hospital's range.
  const { rows: [range] } = await owner.query(`
    select min(('x' || right(id::text, 12))::bit(48)::bigint) as lo, max(('x' || right(id::text, 12))::bit(48)::bigint) as hi,
           min(left(id::text, 24)) as head
      from app_public.patients where hospital_id = $1 and id::text like '000000a1-0000-4000-8000-%'`, [H]);
  const pgbenchCeiling = (() => {
    const script = path.join(dataDir, 'point-read.sql');
    writeFileSync(script, `\\set n random(${range.lo}, ${range.hi})\nselect to_json(p) from app_public.patients p`
      + ` where p.id = ('${range.head}' || lpad(to_hex(:n::bigint), 12, '0'))::uuid and p.hospital_id = '${H}';\n`);
    try {
      const out = execFileSync('pgbench', ['-n', '-M', 'prepared', '-c', '16', '-j', '2', '-T', String(SECONDS), '-f', script, config.databaseUrl], { encoding: 'utf8' });
      return Number(/tps = ([\d.]+)/.exec(out)![1]);
    } catch (error) {
      console.log(`(pgbench not run: ${(error as Error).message.split('\n')[0]})`);
      return NaN;
    }
  })();

  console.log(`\nhot paths at ${PATIENTS.toLocaleString('en-US')} patients (hospital BOS), 16 workers, ${SECONDS} s each: requests/s (p95 ms)`);
  console.log('path                               owner  owner+identity   staff (RLS)   Node endpoint     PostgREST   RLS cost  identity  REST/endpoint');
  for (const [index, hot] of paths.entries()) {
    let n = 0;
    const next = () => hot.samples[n++ % hot.samples.length];
    const modes = [
      await timedLoop(16, () => inTransaction(pool, (c) => c.query(hot.ownerSql, [next(), H]))),
      await timedLoop(16, () => inTransaction(pool, async (c) => { await identify(c, claims, false); await c.query(hot.ownerSql, [next(), H]); })),
      await timedLoop(16, () => inTransaction(pool, async (c) => { await identify(c, claims); await c.query(hot.staffSql, [next()]); })),
      await timedLoop(16, () => get(`${endpointUrl}/?path=${index}&arg=${encodeURIComponent(next())}`)),
      await timedLoop(16, () => get(`${stack.postgrest!.url}${hot.rest(next())}`, agent)),
    ];
    const cell = (r: { perSecond: number; p95: number }) => `${r.perSecond.toFixed(0).padStart(6)} (${r.p95.toFixed(0).padStart(4)})`;
    console.log(`${hot.name.padEnd(32)} ${modes.map(cell).join('  ')}   ${(modes[1].perSecond / modes[2].perSecond).toFixed(2).padStart(6)}×  ${(modes[0].perSecond / modes[1].perSecond).toFixed(2).padStart(6)}×  ${(modes[4].perSecond / modes[3].perSecond).toFixed(2).padStart(8)}×`);
    if (index === 0) {
      console.log(`${'  pgbench, owner (the ceiling)'.padEnd(32)} ${pgbenchCeiling.toFixed(0).padStart(6)}         PostgREST / ceiling: ${(modes[4].perSecond / pgbenchCeiling).toFixed(2)}×`);
    }
  }
  console.log('(RLS cost = owner+identity / staff; identity = owner / owner+identity; targets: RLS ≤ 1.15×, identity ≤ 2×, REST/endpoint ≥ 0.8×)');
  // GraphQL beside REST, both through the front (the one origin: /api → PostgREST, /graphql →
  // PostGraphile in the front's process), the same token, the same samples, the same fields, 16 clients.
  {
    const front = stack.front!.url;
    const patientFields = 'id,mrn,full_name,first_name,last_name,date_of_birth,gender,phone_primary';
    const side: { name: string; samples: string[]; rest: (s: string) => string; graphql: (s: string) => { query: string; variables: Record<string, unknown> } }[] = [
      {
        name: 'patient point read',
        samples: paths[0].samples,
        rest: (id) => `/api/patients?id=eq.${id}&select=${patientFields}`,
        graphql: (id) => ({ query: `query($id: UUID!) { patientByRowId(rowId: $id) { rowId mrn fullName firstName lastName dateOfBirth gender phonePrimary } }`, variables: { id } }),
      },
      {
        // GraphQL (amber) has equality conditions only, no range filter: both read the doctor's
        // latest 20 appointments (by scheduled start) with their patient and doctor.
        name: "a doctor's 20 latest appointments + patient, doctor",
        samples: paths[2].samples,
        rest: (id) => `/api/appointments?doctor_id=eq.${id}&order=scheduled_start.desc&limit=20`
          + `&select=id,appointment_number,status,scheduled_start,patients!appointments_patient_fkey(full_name,mrn),doctors!appointments_doctor_fkey(specialization)`,
        graphql: (id) => ({
          query: `query($id: UUID!) { allAppointments(condition: { doctorId: $id }, orderBy: SCHEDULED_START_DESC, first: 20) { nodes { rowId appointmentNumber status scheduledStart
                    patientByHospitalIdAndPatientId { fullName mrn } doctorByHospitalIdAndDoctorId { specialization } } } }`,
          variables: { id },
        }),
      },
    ];
    const postGraphql = async (body: { query: string; variables: Record<string, unknown> }) => {
      const response = await fetch(`${front}/graphql`, { method: 'POST', headers: { ...agent.headers, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const answer = await response.json() as { errors?: unknown[] };
      if (!response.ok || answer.errors) throw new Error(`GraphQL ${response.status}: ${JSON.stringify(answer.errors ?? answer)}`);
    };
    console.log(`\nREST and GraphQL side by side through the front (${front}), 16 clients, ${SECONDS} s each: requests/s (p95 ms)`);
    console.log('read                                                  REST /api    GraphQL /graphql   GraphQL/REST');
    for (const read of side) {
      let n = 0;
      const next = () => read.samples[n++ % read.samples.length];
      const rest = await timedLoop(16, () => get(`${front}${read.rest(next())}`, agent));
      const graphql = await timedLoop(16, () => postGraphql(read.graphql(next())));
      const cell = (r: { perSecond: number; p95: number }) => `${r.perSecond.toFixed(0).padStart(6)} (${r.p95.toFixed(0).padStart(4)})`;
      console.log(`${read.name.padEnd(52)} ${cell(rest)}     ${cell(graphql)}        ${(graphql.perSecond / rest.perSecond).toFixed(2).padStart(6)}×`);
    }
  }
  // The latency target is stated at 32 connections: the point read through PostgREST with 32 clients.
  {
    let n = 0;
    const wide = await timedLoop(32, () => get(`${stack.postgrest!.url}${paths[0].rest(paths[0].samples[n++ % paths[0].samples.length])}`, agent));
    console.log(`patient point read through PostgREST, 32 clients: ${wide.perSecond.toFixed(0)} req/s, p50 ${wide.p50.toFixed(1)} ms, p95 ${wide.p95.toFixed(1)} ms, p99 ${wide.p99.toFixed(1)} ms (target p95 ≤ 50 ms)`);
  }
  endpoint.close();
  await pool.end();
}

/**
 * 1b. The first page of the big lists a member of staff opens (through PostgREST, as BOS's
 * administrator), with the total each count mode gives: none, `Prefer: count=estimated` (exact up
 * to db-max-rows, the planner's estimate beyond) and `count=exact` (counts every row the policies
 * let through). The console asks for estimated counts on these lists.
 */
async function firstPages(owner: pg.Client) {
  const { rows: [bos] } = await owner.query(`select id from app_public.hospitals where code = 'BOS'`);
  const { rows: [admin] } = await owner.query(
    `select email from app_public.users where home_hospital_id = $1 and email like 'hospital_admin.%' limit 1`, [bos.id]);
  const { token } = await openSession(owner, admin.email, bos.id);
  const lists = [
    { name: 'patients, by name', url: '/patients?is_deleted=is.false&order=last_name,first_name&limit=25' },
    { name: 'appointments, newest first', url: '/appointments?is_deleted=is.false&order=scheduled_start.desc&limit=25' },
    { name: 'invoices, newest first', url: '/invoices?order=invoice_date.desc&limit=25' },
    { name: 'audit trail, newest first', url: '/audit_logs?order=occurred_at.desc&limit=50' },
  ];
  const modes = [undefined, 'count=estimated', 'count=exact'];
  console.log(`\nfirst pages of the big lists through PostgREST (BOS administrator), 16 clients, ${SECONDS} s each: requests/s (p95 ms) and the total given`);
  console.log('list                          no count               count=estimated                 count=exact');
  for (const list of lists) {
    const cells: string[] = [];
    for (const prefer of modes) {
      let total = '';
      let timeouts = 0;
      const headers: Record<string, string> = { Authorization: `Bearer ${token}`, ...(prefer ? { Prefer: prefer } : {}) };
      const r = await timedLoop(16, async () => {
        const response = await fetch(`${stack.postgrest!.url}${list.url}`, { headers });
        const body = await response.text();
        // An exact count of a big list can outlast the staff statement timeout: counted, not fatal.
        if (!response.ok && body.includes('57014')) timeouts++;
        else if (!response.ok) throw new Error(`HTTP ${response.status} ${list.url}: ${body}`);
        else total = response.headers.get('content-range')?.split('/')[1] ?? '';
      });
      cells.push(timeouts > 0
        ? `${`${timeouts} of ${r.calls} timed out (${(config.statementTimeoutMs.staff / 1000).toFixed(0)} s)`.padStart(23)}`
        : `${r.perSecond.toFixed(0).padStart(6)} (${r.p95.toFixed(0).padStart(5)})${prefer ? ` ${total.padStart(9)}` : ''}`);
    }
    console.log(`${list.name.padEnd(27)} ${cells.join('      ')}`);
  }
}

/**
 * 5. The partitioned audit trail as it grows: audit rows appended (16 clients, the writer the
 * triggers use) and today's page of the trail read as staff, on the generated trail, then again
 * after as much history again has been added in older months (copied back in time, as the
 * superuser without triggers). A month's partition holds the recent rows whatever the history.
 */
async function partitionGrowth(owner: pg.Client) {
  const { rows: [bos] } = await owner.query(`select id from app_public.hospitals where code = 'BOS'`);
  const { rows: [admin] } = await owner.query(
    `select email from app_public.users where home_hospital_id = $1 and email like 'hospital_admin.%' limit 1`, [bos.id]);
  const { claims } = await openSession(owner, admin.email, bos.id);
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 16 });
  const measure = async () => {
    const { rows: [size] } = await owner.query(`
      select (select count(*) from app_public.audit_logs)::bigint as rows,
             (select count(*) from pg_inherits where inhparent = 'app_public.audit_logs'::regclass)::int as partitions`);
    const inserts = await timedLoop(16, () => inTransaction(pool, (c) =>
      c.query(`select app_private.write_audit_log('other', p_hospital_id => $1, p_description => 'Bench: growth probe')`, [bos.id])));
    // Today as a value (as PostgREST sends it): the planner prunes to this month's partition.
    const today = new Date().toISOString().slice(0, 10);
    const reads = await timedLoop(16, () => asStaff(pool, claims,
      `select json_agg(a) from (select * from app_public.audit_logs a where a.occurred_at >= $1::timestamptz order by a.occurred_at desc limit 50) a`, [today]));
    console.log(`${Number(size.rows).toLocaleString('en-US').padStart(12)}  ${String(size.partitions).padStart(10)}  ${inserts.perSecond.toFixed(0).padStart(9)} (${inserts.p95.toFixed(1).padStart(5)})  ${reads.perSecond.toFixed(0).padStart(11)} (${reads.p95.toFixed(1).padStart(5)})`);
  };
  console.log(`\nthe audit trail as it grows (monthly partitions), 16 clients, ${SECONDS} s each`);
  console.log('  audit rows  partitions  appends/s (p95 ms)  today\'s page/s (p95 ms)');
  await measure();
  const started = Date.now();
  const root = new pg.Client({ connectionString: rootUrl });
  await root.connect();
  try {
    // The generated trail spans 800 days: the last 27 months again, 27 months earlier.
    const back = '27 months';
    await root.query(`select app_hidden.create_month_partitions('app_public.audit_logs', (now() - interval '54 months')::date, (now() - interval '27 months')::date)`);
    await root.query('set session_replication_role = replica');
    await root.query(`
      insert into app_public.audit_logs (id, hospital_id, occurred_at, user_id, session_id, action, table_name, record_id, old_values, new_values,
                                         changed_columns, request_id, client_address, user_agent, api, description, created_at)
      select gen_random_uuid(), hospital_id, occurred_at - $1::interval, user_id, session_id, action, table_name, record_id, old_values, new_values,
             changed_columns, request_id, client_address, user_agent, api, description, created_at - $1::interval
        from app_public.audit_logs where occurred_at >= now() - $1::interval`, [back]);
    await root.query('set session_replication_role = origin');
    await root.query('analyze app_public.audit_logs');
    console.log(`  (history doubled: the last ${back} copied ${back} earlier, in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    await root.end();
  }
  await measure();
  await pool.end();
}

/**
 * 2. The writes of a hospital's day on the generated chain, each call its own transaction, by the
 * staff who make them in every one of the 20 hospitals: check-in of today's appointments (queue
 * token + consultation fee on the visit's invoice) and a payment on an outstanding invoice — as
 * staff over pg and through PostgREST, on distinct rows (each appointment is checked in once).
 * The rules of the generated data are checked again afterwards (gapless fiscal series, totals,
 * ledger).
 */
async function chainWrites(owner: pg.Client) {
  const { rows: hospitals } = await owner.query(`
    select h.id, h.code, r.email as receptionist, a.email as accountant
      from app_public.hospitals h
      join lateral (select email from app_public.users where home_hospital_id = h.id and email like 'receptionist.%' order by email limit 1) r on true
      join lateral (select email from app_public.users where home_hospital_id = h.id and email like 'accountant.%' order by email limit 1) a on true
     where h.id::text like '000000c1-%' order by h.code`);
  const sessions = new Map<string, { reception: { claims: string; token: string }; billing: { claims: string; token: string } }>();
  for (const h of hospitals) {
    sessions.set(h.id, { reception: await openSession(owner, h.receptionist, h.id), billing: await openSession(owner, h.accountant, h.id) });
  }
  // Today's appointments to check in: the generated ones of today may all lie in the past at the
  // hour the bench runs (then completed), so each generated doctor gets twelve bookings early
  // this morning, hospital time (00:00–02:45, before the generated day starts at 09:00).
  const { rows: todays } = await owner.query(`
    with slot as (
      select d.hospital_id, d.id as doctor_id, d.department_id,
             ((now() at time zone h.time_zone)::date + g * interval '15 minutes') at time zone h.time_zone as start_at,
             row_number() over (partition by d.hospital_id order by d.id, g) as n
        from app_public.doctors d join app_public.hospitals h on h.id = d.hospital_id
       cross join generate_series(0, 11) g
       where d.hospital_id::text like '000000c1-%' and d.department_id is not null),
    patient as (
      select id, hospital_id, row_number() over (partition by hospital_id order by id) as n
        from app_public.patients where hospital_id::text like '000000c1-%')
    insert into app_public.appointments (hospital_id, patient_id, doctor_id, department_id, scheduled_start, scheduled_end, reason_for_visit)
    select s.hospital_id, p.id, s.doctor_id, s.department_id, s.start_at, s.start_at + interval '15 minutes', 'Bench: check-in'
      from slot s join patient p on p.hospital_id = s.hospital_id and p.n = s.n
     order by random()
    returning id, hospital_id`);
  const { rows: payable } = await owner.query(`
    select i.id, i.hospital_id from app_public.invoices i
     where i.hospital_id::text like '000000c1-%' and i.status in ('issued', 'partially_paid') and i.balance_due >= 1
     order by random() limit 20000`);
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 16 });
  const post = async (rpc: string, token: string, body: unknown) => {
    const response = await fetch(`${stack.postgrest!.url}/rpc/${rpc}`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Prefer: 'return=minimal' }, body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status} /rpc/${rpc}: ${text}`);
  };
  let errors = 0;
  const failed = (error: unknown) => {
    if (errors++ === 0) console.log(`  (first refused write: ${(error as Error).message.slice(0, 200)})`);
  };
  // Each list in two halves, one per way in: every appointment is checked in once, every invoice paid once.
  const halves = <T>(list: T[]) => [list.slice(0, list.length / 2), list.slice(list.length / 2)];
  /** 16 workers drawing from `items` until the time or the list runs out. */
  const drain = <T>(items: T[], write: (item: T) => Promise<void>) =>
    timedLoop(16, async () => {
      const item = items.pop();
      if (!item) return false;
      await write(item).catch(failed);
    });
  const [checkInsPg, checkInsRest] = halves(todays);
  const [paymentsPg, paymentsRest] = halves(payable);
  const session = (row: { hospital_id: string }) => sessions.get(row.hospital_id)!;
  const rows = [
    { name: 'check_in_appointment', via: 'staff over pg', run: () => drain(checkInsPg, (a) =>
      asStaff(pool, session(a).reception.claims, `select app_public.check_in_appointment($1)`, [a.id])) },
    { name: 'check_in_appointment', via: 'PostgREST', run: () => drain(checkInsRest, (a) =>
      post('check_in_appointment', session(a).reception.token, { appointment_id: a.id })) },
    { name: 'record_payment', via: 'staff over pg', run: () => drain(paymentsPg, (i) =>
      asStaff(pool, session(i).billing.claims, `select app_public.record_payment($1, 1.00, 'cash')`, [i.id])) },
    { name: 'record_payment', via: 'PostgREST', run: () => drain(paymentsRest, (i) =>
      post('record_payment', session(i).billing.token, { invoice_id: i.id, amount: 1.0, payment_method: 'cash' })) },
  ];
  console.log(`\nwrites on the generated chain (20 hospitals, ${todays.length} appointments booked for this morning, ${payable.length} outstanding invoices drawn), 16 workers`);
  console.log('write                   via              per second   p50 ms   p95 ms   calls');
  for (const row of rows) {
    const r = await row.run();
    console.log(`${row.name.padEnd(23)} ${row.via.padEnd(15)} ${r.perSecond.toFixed(0).padStart(11)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p95.toFixed(2).padStart(7)}   ${r.calls}`);
  }
  console.log(`  refused writes: ${errors}`);
  await pool.end();
  const failures = await checkGeneratedChain(rootUrl);
  for (const [name, count] of Object.entries(failures)) console.log(`  ${count === 0 ? 'ok  ' : 'FAIL'} after the writes, ${name}: ${count}`);
}

try {
  const owner = new pg.Client({ connectionString: config.databaseUrl });
  owner.on('error', () => {}); // the stack stops under it at the end
  await owner.connect();

  // The generated chain: what every later section reads (and is checked like the real data).
  console.log(`\ndata generator: a chain of 20 hospitals with ${PATIENTS.toLocaleString('en-US')} patients (BENCH_PATIENTS)`);
  const chain = await generateChain(rootUrl, { patients: PATIENTS, log: (line) => console.log('  ' + line) });
  const failures = await checkGeneratedChain(rootUrl);
  console.log(`  generated in ${chain.seconds.toFixed(1)} s; rows: ${Object.entries(chain.rows).map(([t, n]) => `${t} ${n.toLocaleString('en-US')}`).join(', ')}`);
  for (const [name, count] of Object.entries(failures)) console.log(`  ${count === 0 ? 'ok  ' : 'FAIL'} ${name}: ${count}`);
  if (Object.values(failures).some((count) => count > 0)) throw new Error('the generated data breaks a rule');

  await hotPaths(owner);
  await firstPages(owner);
  // Before the numbering section: its bench hospitals draw invoice numbers no invoice carries,
  // which the generated data's checks (run again after the writes) would report.
  await chainWrites(owner);

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


  // 4. Workflows under parallel connections, acting as staff through the RPCs: bookings across 16
  // doctors and sales across 16 medicines (each worker its own doctor or medicine, as 16 front
  // desks and counters would be), then the race for one batch's last units.
  const WORKERS = 16;
  const ny = (await owner.query(`select id from app_public.hospitals where code = 'NY'`)).rows[0].id;
  const { claims: receptionClaims } = await openSession(owner, 'reception.ny@hms.test', ny);
  const { claims: pharmacistClaims } = await openSession(owner, 'pharmacist.ny@hms.test', ny);
  const { rows: benchDoctors } = await owner.query(`
    with u as (insert into app_public.users (email, first_name, last_name, home_hospital_id)
               select 'bench.doctor' || g || '@hms.test', 'Bench', 'Doctor ' || g, $1 from generate_series(1, ${WORKERS}) g returning id, email)
    insert into app_public.doctors (hospital_id, user_id, department_id, registration_number, specialization)
    select $1, u.id, (select id from app_public.departments where hospital_id = $1 and code = 'GEN'), 'BENCH-' || u.email, 'General practice'
      from u order by u.email returning id`, [ny]);
  await owner.query(`
    insert into app_public.doctor_schedules (hospital_id, doctor_id, department_id, day_of_week, start_time, end_time, slot_minutes, valid_from)
    select $1, d, (select id from app_public.departments where hospital_id = $1 and code = 'GEN'), dow, '00:00', '23:59', 5, current_date - 1
      from unnest($2::uuid[]) d, generate_series(0, 6) dow`, [ny, benchDoctors.map((d) => d.id)]);
  const { rows: slots } = await owner.query(`
    select g as slot_start from generate_series(date_trunc('day', now()) + interval '2 days', date_trunc('day', now()) + interval '60 days', interval '5 minutes') g
     where (g at time zone 'America/New_York')::time < time '23:55' order by random()`);
  // Patients for the bookings (bench-only rows: their numbers are not documents).
  const { rows: patients } = await owner.query(`
    insert into app_public.patients (hospital_id, mrn, first_name, last_name, date_of_birth, gender)
    select $1, 'BENCH-' || g, 'Bench' || g, 'Patient', date '1970-01-01' + g, 'unknown' from generate_series(1, 2000) g
    returning id`, [ny]);
  const workflowPool = new pg.Pool({ connectionString: config.databaseUrl, max: WORKERS });
  let bookingErrors = 0;
  const bookedSlots = benchDoctors.map(() => 0);
  // Worker k books for doctor k, the shuffled slots one after the other.
  const booking = await timedLoop(WORKERS, (k) =>
    asStaff(workflowPool, receptionClaims, `select app_public.book_appointment($1, $2, $3)`,
      [patients[(bookedSlots[k] * WORKERS + k) % patients.length].id, benchDoctors[k].id, slots[bookedSlots[k]++ % slots.length].slot_start])
      .catch(() => { bookingErrors++; }));
  const { rows: [overlaps] } = await owner.query(`
    select count(*)::int as n from app_public.appointments a join app_public.appointments b
      on a.doctor_id = b.doctor_id and a.id < b.id and tstzrange(a.scheduled_start, a.scheduled_end) && tstzrange(b.scheduled_start, b.scheduled_end)
     where a.doctor_id = any ($1) and a.status not in ('cancelled', 'no_show', 'rescheduled') and b.status not in ('cancelled', 'no_show', 'rescheduled')`,
    [benchDoctors.map((d) => d.id)]);

  const newMedicine = async (code: string, name: string) => (await owner.query(`
    insert into app_public.medicines (hospital_id, item_code, generic_name, dosage_form, strength, base_unit, schedule_category, selling_price, purchase_price)
    values ($1, $2, $3, 'tablet', '500 mg', 'tablet', 'otc', 0.10, 0.05) returning id`, [ny, code, name])).rows[0].id as string;
  const newBatch = async (medicineId: string, number: string, quantity: number) => {
    const { rows: [batch] } = await owner.query(`
      insert into app_public.medicine_batches (hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, quantity_received, quantity_on_hand, unit_cost)
      values ($1, $2, $3, current_date - 30, current_date + 700, $4, 0, 0.05) returning id`, [ny, medicineId, number, quantity]);
    await owner.query(`
      insert into app_public.stock_movements (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason)
      values ($1, 'opening_balance', 'medicine', $2, $3, $4, $4, 'bench stock')`, [ny, medicineId, batch.id, quantity]);
    return batch.id as string;
  };
  const benchMedicines: { id: string; batchId: string }[] = [];
  for (let k = 1; k <= WORKERS; k++) {
    const id = await newMedicine(`BENCH-MED-${k}`, `Paracetamol ${k} (bench)`);
    benchMedicines.push({ id, batchId: await newBatch(id, `BENCH-BIG-${k}`, 1_000_000) });
  }
  let dispenseErrors = 0;
  // Worker k sells medicine k.
  const dispensing = await timedLoop(WORKERS, (k) =>
    asStaff(workflowPool, pharmacistClaims, `select app_public.dispense_otc(null, 'Bench customer', $1::jsonb)`,
      [JSON.stringify([{ medicine_id: benchMedicines[k].id, quantity: 1 }])]).catch(() => { dispenseErrors++; }));
  const ledgerCheck = async (batchId: string) =>
    (await owner.query(`
      select b.quantity_on_hand, (select coalesce(sum(m.quantity), 0)::int from app_public.stock_movements m where m.batch_id = b.id) as ledger
        from app_public.medicine_batches b where b.id = $1`, [batchId])).rows[0];
  const ledgers = [];
  for (const m of benchMedicines) ledgers.push(await ledgerCheck(m.batchId));
  const ledgersAgree = ledgers.every((l) => l.quantity_on_hand === l.ledger);

  // The race for the last units: a second medicine whose only batch holds 200 units; 16 workers
  // ask for 320 in all.
  const raceMedicine = await newMedicine('BENCH-RACE', 'Ibuprofen (bench race)');
  const lastBatch = await newBatch(raceMedicine, 'BENCH-LAST', 200);
  let sold = 0;
  let refused = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let i = 0; i < 20; i++) {
      try {
        await asStaff(workflowPool, pharmacistClaims, `select app_public.dispense_otc(null, 'Bench customer', $1::jsonb)`, [JSON.stringify([{ medicine_id: raceMedicine, quantity: 1 }])]);
        sold++;
      } catch {
        refused++;
      }
    }
  }));
  const last = await ledgerCheck(lastBatch);
  await workflowPool.end();

  console.log(`\nworkflows, ${WORKERS} parallel connections acting as staff, ${SECONDS} s each`);
  console.log('workflow                            per second   p50 ms   p95 ms   invariant');
  console.log(`book_appointment (16 doctors)       ${booking.perSecond.toFixed(0).padStart(10)}  ${booking.p50.toFixed(2).padStart(7)}  ${booking.p95.toFixed(2).padStart(7)}   double bookings: ${overlaps.n} (refused calls: ${bookingErrors})`);
  console.log(`dispense_otc (16 medicines)         ${dispensing.perSecond.toFixed(0).padStart(10)}  ${dispensing.p50.toFixed(2).padStart(7)}  ${dispensing.p95.toFixed(2).padStart(7)}   every batch = its ledger: ${ledgersAgree ? 'yes' : 'NO'} (errors: ${dispenseErrors})`);
  console.log(`race for the last 200 units: ${sold} sold, ${refused} refused (HMS_INSUFFICIENT_STOCK), batch ${last.quantity_on_hand} = ledger ${last.ledger}, never negative: ${last.quantity_on_hand >= 0 ? 'yes' : 'NO'}`);

  await partitionGrowth(owner);
  // 6. The worker: delivery to an SMTP server, the settlement of a day with a million payments.
  await settlementAtScale(rootUrl, owner);
  await deliveryThroughput(stack, owner);
  await owner.end();
} catch (error) {
  console.error('bench failed:', (error as Error).message);
  process.exitCode = 1;
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
