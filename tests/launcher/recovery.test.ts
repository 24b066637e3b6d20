/**
 * The database restarted under load: `npm start` (its front, PostgREST, GraphQL and worker) runs
 * against a PostgreSQL server this test starts, reads keep coming over REST and GraphQL, the
 * server is stopped and started again — and without anyone touching the stack, REST, GraphQL and
 * the health check answer again and the worker delivers a message enqueued after the restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/launcher/ports.ts';
import { startPostgresCluster, type EmbeddedServer } from '../../db/launcher/postgres.ts';
import { launcher, loginAt, stopLaunched } from '../support/processes.ts';
import { startSmtpSink, waitFor, type SmtpSink } from '../support/sinks.ts';

const SUPERUSER_PASSWORD = 'recovery-root-secret';
let server: EmbeddedServer | undefined;
let smtp: SmtpSink | undefined;
const dir = mkdtempSync(path.join(tmpdir(), 'hms-recovery-'));

afterAll(async () => {
  await stopLaunched();
  await server?.stop();
  await smtp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a database restart under load', () => {
  it('the API, GraphQL and the worker recover by themselves', async () => {
    const pgPort = await freePort();
    const pgdata = path.join(dir, 'pgdata');
    server = await startPostgresCluster({ pgdata, port: pgPort, superuserPassword: SUPERUSER_PASSWORD });
    smtp = await startSmtpSink();
    const apiPort = await freePort();
    const env = {
      HMS_DATA_DIR: path.join(dir, 'hms'),
      DATABASE_URL: `postgresql://hms_user:${encodeURIComponent('HMS@2026')}@127.0.0.1:${pgPort}/hms_db`,
      ROOT_DATABASE_URL: `postgresql://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${pgPort}/postgres`,
      HMS_API_PORT: String(apiPort),
      HMS_API_ADMIN_PORT: String(await freePort()),
      HMS_POSTGREST_PORT: String(await freePort()),
      HMS_JWT_SECRET: 'recovery-test-secret-0123456789abcdefghij',
      HMS_SMTP_URL: smtp.url,
    };
    const run = launcher('start.ts', env);
    await run.waitForOutput(/HMS is running/, 120_000);
    const origin = `http://127.0.0.1:${apiPort}`;
    const token = await loginAt(`${origin}/api`, 'admin.ny@hms.test');
    const headers = { Authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const rest = () => fetch(`${origin}/api/departments?select=code&limit=1`, { headers }).then((r) => r.status, () => 0);
    const graphql = () => fetch(`${origin}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query: '{ allDepartments(first: 1) { totalCount } }' }) })
      .then(async (r) => (r.status === 200 && !(await r.json()).errors ? 200 : r.status || -1), () => 0);
    expect([await rest(), await graphql()]).toEqual([200, 200]);

    // Load: 8 clients reading over both APIs while the server goes down and comes back.
    let loading = true;
    const statuses: number[] = [];
    const load = Promise.all(Array.from({ length: 8 }, async (_, k) => {
      while (loading) statuses.push(await (k % 2 ? graphql() : rest()));
    }));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    server = await startPostgresCluster({ pgdata, port: pgPort, superuserPassword: SUPERUSER_PASSWORD });

    await waitFor('REST answers again', async () => (await rest()) === 200, 60_000).catch((error) => {
      throw new Error(`${(error as Error).message}; the launcher said:\n${run.output().slice(-3000)}`);
    });
    await waitFor('GraphQL answers again', async () => (await graphql()) === 200, 60_000);
    await waitFor('ready again', async () => (await fetch(`${origin}/health`)).status === 200, 60_000);
    loading = false;
    await load;
    expect(statuses.filter((status) => status !== 200).length).toBeGreaterThan(0); // the outage was real
    // Once back, every request succeeds.
    const after = await Promise.all(Array.from({ length: 20 }, (_, k) => (k % 2 ? graphql() : rest())));
    expect(after.every((status) => status === 200)).toBe(true);
    expect(await (await fetch(`${origin}/health`)).json()).toMatchObject({ status: 'ready', database: 'ok', postgrest: 'ok', worker: 'ok' });

    // The worker reconnected: a message enqueued now is delivered.
    const owner = new pg.Client({ connectionString: env.DATABASE_URL });
    await owner.connect();
    try {
      const { rows: [patient] } = await owner.query(`
        insert into app_public.patients (hospital_id, first_name, last_name, date_of_birth, gender, email, email_consent)
        select id, 'Back', 'Online', '1990-01-01', 'unknown', 'back.online@example.org', true from app_public.hospitals where code = 'NY' returning id, hospital_id`);
      await owner.query(`select app_hidden.notify($1, 'appointment_confirmation', $2, null, '{"appointment_number": "AFTER-RESTART"}', null, null, 'after-restart')`, [patient.hospital_id, patient.id]);
    } finally {
      await owner.end();
    }
    await waitFor('the message after the restart', () => smtp!.messages.find((message) => message.to === 'back.online@example.org'), 60_000);
    // The launcher never gave up: it is still running, and stops cleanly.
    expect(run.child.exitCode).toBeNull();
    expect((await run.stop('SIGTERM')).code).toBe(0);
  }, 240_000);
});
