/**
 * The worker (worker/): the real graphile-worker, connected as its own role to the suite's scratch
 * database (jobs commit), runs the tasks of worker/src/tasks/ — and that role may use the job
 * queue and the functions granted to it, nothing else of HMS.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { parseCrontab } from 'graphile-worker';
import { inDatabaseOf, loadConfig } from '../../db/launcher/config.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { crontabFile, loadTasks, startWorker, type WorkerServer } from '../../worker/src/worker.ts';

const stack = inject('stack');
const inScratch = (base: string) => inDatabaseOf(base, stack.scratchDatabaseUrl);
const ownerUrl = stack.scratchDatabaseUrl;
const workerUrl = inScratch(stack.workerUrl);
const worker = new URL(workerUrl);

async function query<R extends pg.QueryResultRow = any>(connectionString: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** What a statement run as the worker's role becomes: 'ok' or the SQLSTATE. */
async function asWorker(sql: string): Promise<string> {
  try {
    await query(workerUrl, sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

/** Waits until the job is no longer in the queue (done) or has failed once; answers its last error. */
async function settle(jobId: string, timeoutMs = 20_000): Promise<string | null> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const [job] = await query(ownerUrl, `select attempts, last_error from graphile_worker.jobs where id = $1`, [jobId]);
    if (!job) return null;
    if (job.attempts > 0 && job.last_error) return job.last_error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const [job] = await query(ownerUrl, `select * from graphile_worker.jobs where id = $1`, [jobId]);
  throw new Error(`job ${jobId} neither finished nor failed in ${timeoutMs} ms: ${JSON.stringify(job)}`);
}

let running: WorkerServer;
let dataDir: string | undefined;
const lines: string[] = [];

beforeAll(async () => {
  // The configuration the suite's stack was started with, pointed at the scratch database.
  // Its mail goes to the local catcher, in a folder and on a port of its own.
  dataDir = mkdtempSync(path.join(tmpdir(), 'hms-worker-'));
  const config = loadConfig({ DATABASE_URL: ownerUrl, DATABASE_WORKER: decodeURIComponent(worker.username),
    DATABASE_WORKER_PASSWORD: decodeURIComponent(worker.password), HMS_JWT_SECRET: stack.jwtSecret,
    HMS_DATA_DIR: dataDir, HMS_MAIL_CATCHER_PORT: String(await freePort()) });
  // No schedules here: the crontab's own test is below; jobs are added by the tests.
  running = await startWorker(config, { connectionString: workerUrl, pollInterval: 200, withoutSchedules: true, log: (line) => lines.push(line) });
});

afterAll(async () => {
  await running?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (process.env.HMS_DEBUG_WORKER) console.error(lines.join("\n"));
});

describe('the worker', () => {
  it('connects as its own role: a login without superuser, RLS bypass or membership of an API role', async () => {
    const [role] = await query(ownerUrl, `
      select r.rolcanlogin, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
             array(select g.rolname::text from pg_auth_members m join pg_roles g on g.oid = m.roleid where m.member = r.oid) as member_of
        from pg_roles r where r.rolname = $1`, [stack.roles.worker]);
    expect(role).toEqual({ rolcanlogin: true, rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, member_of: [] });
    expect(running.running()).toBe(true);
  });

  it('may not read or write HMS tables, call the API, or reach the private schema', async () => {
    expect(await asWorker(`select 1 from app_public.patients limit 1`)).toBe('42501');
    expect(await asWorker(`select 1 from app_public.audit_logs limit 1`)).toBe('42501');
    expect(await asWorker(`update app_public.invoices set updated_at = now() where false`)).toBe('42501');
    expect(await asWorker(`select app_public.search_patients('Smith')`)).toBe('42501');
    expect(await asWorker(`select 1 from app_private.sessions limit 1`)).toBe('42501');
    expect(await asWorker(`select app_hidden.create_month_partitions('app_public.audit_logs', current_date, current_date)`)).toBe('42501');
    expect(await asWorker(`create table app_public.worker_was_here (id int)`)).toBe('42501');
    // …but it calls what its tasks need.
    expect(await asWorker(`select app_hidden.create_partitions_ahead(3)`)).toBe('ok');
  });

  it('owns the job queue and nothing else; no API role may touch the queue', async () => {
    // In the suite's own database, where the launcher installed the queue (a copy made from it
    // as a template does not inherit database privileges).
    const [owned] = await query(stack.databaseUrl, `
      select (select nspowner::regrole::text from pg_namespace where nspname = 'graphile_worker') as queue_owner,
             has_database_privilege($1, current_database(), 'CREATE') as may_create_schemas,
             (select coalesce(string_agg(n.nspname || '.' || c.relname, ', '), '') from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relowner = $1::regrole and n.nspname not in ('graphile_worker', 'pg_toast')) as owns_elsewhere`, [stack.roles.worker]);
    expect(owned).toEqual({ queue_owner: stack.roles.worker, may_create_schemas: false, owns_elsewhere: '' });
    for (const role of [stack.roles.staff, stack.roles.anonymous]) {
      const client = new pg.Client({ connectionString: inScratch(stack.authenticatorUrl) });
      await client.connect();
      try {
        for (const sql of [`select 1 from graphile_worker.jobs limit 1`, `select graphile_worker.add_job('partitions__create_ahead')`]) {
          await client.query(`set role ${role}`);
          const outcome = await client.query(sql).then(() => 'ok', (error) => error.code);
          expect(outcome, `${role}: ${sql}`).toBe('42501');
        }
      } finally {
        await client.end();
      }
    }
  });

  it('runs partitions__create_ahead: a missing month ahead gets its partition again', async () => {
    const month = await query(ownerUrl, `select to_char(current_date + interval '3 months', 'YYYY_MM') as m`);
    const partition = `app_partitions.audit_logs_${month[0].m}`;
    await query(ownerUrl, `drop table ${partition}`);
    expect((await query(ownerUrl, `select to_regclass($1) as t`, [partition]))[0].t).toBeNull();
    const [job] = await query(ownerUrl, `select (graphile_worker.add_job('partitions__create_ahead', '{}'::json, max_attempts => 1)).id`);
    expect(await settle(job.id)).toBeNull();
    expect((await query(ownerUrl, `select to_regclass($1)::text as t`, [partition]))[0].t).toBe(partition);
  });

  it('runs sessions__purge_expired: sessions ended over 30 days ago go with their refresh tokens, recent ones stay', async () => {
    const [fixture] = await query(ownerUrl, `
      with u as (select id, home_hospital_id as h, email from app_public.users where email = 'reception.ny@hms.test'),
      s as (
        insert into app_private.sessions (user_id, hospital_id, created_at, expires_at, revoked_at, revoked_reason)
        select u.id, u.h, now() - v.age - interval '1 day', now() - v.age + v.life, v.revoked, case when v.revoked is not null then 'logout' end
          from u, (values (interval '40 days', interval '0', null::timestamptz),                      -- expired 40 days ago
                          (interval '45 days', interval '30 days', now() - interval '31 days'),       -- revoked 31 days ago
                          (interval '10 days', interval '0', null),                                    -- expired 10 days ago
                          (interval '0', interval '1 hour', null)) v(age, life, revoked)              -- live
        returning id, expires_at, revoked_at),
      t as (
        insert into app_public.refresh_tokens (session_id, user_id, hospital_id, issued_at, expires_at)
        select s.id, u.id, u.h, s.expires_at - interval '1 hour', s.expires_at from s, u returning id, session_id),
      e as (
        insert into app_public.password_emails (user_id, purpose, sent_to, status, expires_at, used_at)
        select u.id, 'reset', u.email, v.status, now() + interval '1 day', v.used from u,
               (values ('used', now() - interval '1 hour'), ('sent', null::timestamptz)) v(status, used)
        returning id, status),
      k as (insert into app_private.password_email_tokens (password_email_id, token_hash)
            select e.id, gen_random_bytes(32) from e returning password_email_id)
      select (select array_agg(id order by coalesce(revoked_at, expires_at)) from s) as sessions,
             (select array_agg(id) from e where status = 'used') as used_email,
             (select array_agg(id) from e where status = 'sent') as open_email`);
    const [job] = await query(ownerUrl, `select (graphile_worker.add_job('sessions__purge_expired', '{}'::json, max_attempts => 1)).id`);
    expect(await settle(job.id)).toBeNull();
    const [after] = await query(ownerUrl, `
      select array(select id from app_private.sessions where id = any($1) order by coalesce(revoked_at, expires_at)) as sessions,
             (select count(*)::int from app_public.refresh_tokens where session_id = any($1)) as refresh_tokens,
             (select count(*)::int from app_private.password_email_tokens where password_email_id = any($2)) as used_tokens,
             (select count(*)::int from app_private.password_email_tokens where password_email_id = any($3)) as open_tokens`,
      [fixture.sessions, fixture.used_email, fixture.open_email]);
    // Ordered by when they ended: the two that ended over 30 days ago are gone.
    expect(after).toEqual({ sessions: fixture.sessions.slice(2), refresh_tokens: 2, used_tokens: 0, open_tokens: 1 });
  });

  it('refuses a payload its schema does not allow, with the reason in the job', async () => {
    const [job] = await query(ownerUrl, `select (graphile_worker.add_job('partitions__create_ahead', '{"patient_id": "x"}'::json, max_attempts => 1)).id`);
    expect(await settle(job.id)).toMatch(/partitions__create_ahead: invalid payload: .*patient_id/);
  });

  it('has a task file for every schedule of its crontab, each named <table>__<action>', async () => {
    const tasks = await loadTasks();
    const items = parseCrontab(readFileSync(crontabFile, 'utf8'));
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) expect(Object.keys(tasks), item.task).toContain(item.task);
    expect(items.find((item) => item.task === 'partitions__create_ahead')?.options.backfillPeriod).toBeGreaterThan(0);
  });
});
