/**
 * The worker's scheduled jobs, each run the way its crontab runs it — a job whose payload carries
 * the schedule's time (`_cron.ts`) — on a clock the test chooses: reminders, the day's settlement,
 * stock and overdue-claim alerts. The real worker as its own role, the suite's scratch database,
 * a real SMTP server and HTTP gateway for what reaches patients.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parseCrontab } from 'graphile-worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { inDatabaseOf, loadConfig } from '../../db/launcher/config.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { crontabFile, startWorker, type WorkerServer } from '../../worker/src/worker.ts';
import { startHttpSink, startSmtpSink, waitFor, type HttpSink, type SmtpSink } from '../support/sinks.ts';
import { LA, NY, workerFixtures } from '../support/worker-fixtures.ts';

const stack = inject('stack');
const ownerUrl = stack.scratchDatabaseUrl;
const workerUrl = inDatabaseOf(stack.workerUrl, stack.scratchDatabaseUrl);
const worker = new URL(workerUrl);

const owner = new pg.Pool({ connectionString: ownerUrl, max: 3 });
const query = async (sql: string, params: unknown[] = []) => (await owner.query(sql, params)).rows;
const { createPatient, book } = workerFixtures(owner);

let smtp: SmtpSink;
let gateway: HttpSink;
let running: WorkerServer;
let dataDir: string;

/** Runs a scheduled task as the crontab would at `at`, and waits for it to finish. */
async function runScheduled(task: string, at: Date): Promise<void> {
  const [job] = await query(`select (graphile_worker.add_job($1, json_build_object('_cron', json_build_object('ts', $2::text, 'backfilled', false)), max_attempts => 1)).id`, [task, at.toISOString()]);
  const outcome = await waitFor(`${task} done`, async () => {
    const [left] = await query(`select attempts, last_error from graphile_worker._private_jobs where id = $1`, [job.id]);
    if (!left) return 'done';
    return left.last_error ? `failed: ${left.last_error}` : null;
  });
  expect(outcome).toBe('done');
}

beforeAll(async () => {
  smtp = await startSmtpSink();
  gateway = await startHttpSink();
  dataDir = mkdtempSync(path.join(tmpdir(), 'hms-schedules-'));
  const config = loadConfig({
    DATABASE_URL: ownerUrl,
    DATABASE_WORKER: decodeURIComponent(worker.username),
    DATABASE_WORKER_PASSWORD: decodeURIComponent(worker.password),
    HMS_JWT_SECRET: stack.jwtSecret,
    HMS_DATA_DIR: dataDir,
    HMS_API_PORT: String(await freePort()),
    HMS_SMTP_URL: smtp.url,
    HMS_SMS_GATEWAY_URL: gateway.url,
  });
  running = await startWorker(config, { connectionString: workerUrl, pollInterval: 100, withoutSchedules: true, log: () => {} });
});

afterAll(async () => {
  await running?.stop();
  await owner.end();
  await smtp?.stop();
  await gateway?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('scheduled jobs', () => {
  it('every schedule of the crontab names a task and backfills what a stopped worker missed', () => {
    const items = parseCrontab(readFileSync(crontabFile, 'utf8'));
    const byTask = new Map(items.map((item) => [item.task, item]));
    for (const task of ['appointments__send_reminders', 'daily_settlements__settle_due', 'medicine_batches__alert_stock', 'insurance_claims__alert_overdue']) {
      expect(byTask.get(task)?.options.backfillPeriod, task).toBeGreaterThan(0);
    }
  });

  it("sends an appointment's reminder once, when the clock enters the hospital's reminder window", async () => {
    const patient = await createPatient({ sms: true }, 'Remy');
    const appointment = await book(patient.id, 4);
    const start = new Date(appointment.scheduled_start);
    const [{ hours }] = await query(`select appointment_reminder_hours as hours from app_public.hospital_settings where hospital_id = $1`, [NY]);
    const reminders = () => query(`select n.id, n.status, n.channel from app_public.notifications n join app_public.notification_templates t on t.id = n.template_id where n.related_id = $1 and t.code = 'appointment_reminder'`, [appointment.id]);

    await runScheduled('appointments__send_reminders', new Date(start.getTime() - (hours + 1) * 3600_000));
    expect(await reminders()).toEqual([]); // before the window
    await runScheduled('appointments__send_reminders', new Date(start.getTime() - (hours - 1) * 3600_000));
    await runScheduled('appointments__send_reminders', new Date(start.getTime() - (hours - 2) * 3600_000));
    const sent = await waitFor('the reminder SMS sent', async () => {
      const rows = await reminders();
      return rows.length === 1 && rows[0].status === 'sent' ? rows : null;
    });
    expect(sent[0].channel).toBe('sms');
    const [queued] = await query(`select id from app_public.notification_queue where notification_id = $1`, [sent[0].id]);
    const posted = gateway.requests.filter((request) => request.body.reference === queued.id);
    expect(posted).toHaveLength(1);
    expect(posted[0].body.text).toMatch(new RegExp(`^Reminder from HMS Core NY: ${patient.full_name}, you see Dr\\. Sarah Mitchell on `));
    await runScheduled('appointments__send_reminders', start); // at the start itself: nothing more
    expect(await reminders()).toHaveLength(1);
  });

  it("settles each hospital's previous local day, tells the accountants, and leaves a reopened day alone", async () => {
    const asOf = new Date('2001-03-02T12:00:00Z'); // the 1st of March 2001 in every demo time zone
    await query(`insert into app_public.daily_settlements (hospital_id, settlement_date, status, reopened_at, reopen_reason) values ($1, '2001-03-01', 'reopened', now(), 'A late card batch')`, [LA]);
    await runScheduled('daily_settlements__settle_due', asOf);
    const days = await query(`select h.code, d.status, d.settled_at is not null as stamped, d.payment_count from app_public.daily_settlements d join app_public.hospitals h on h.id = d.hospital_id where d.settlement_date = '2001-03-01' and h.code in ('CHI', 'LA', 'NY') order by h.code`);
    expect(days).toEqual([
      { code: 'CHI', status: 'settled', stamped: true, payment_count: 0 },
      { code: 'LA', status: 'reopened', stamped: false, payment_count: 0 },
      { code: 'NY', status: 'settled', stamped: true, payment_count: 0 },
    ]);
    const told = await query(`
      select u.email, n.channel, n.status, n.title from app_public.notifications n join app_public.users u on u.id = n.user_id
        join app_public.daily_settlements d on d.id = n.related_id
       where d.settlement_date = '2001-03-01' and d.hospital_id = $1 order by u.email`, [NY]);
    expect(told.map((row) => row.email)).toContain('accountant.ny@hms.test');
    expect(told.every((row) => row.channel === 'in_app' && row.status === 'sent' && row.title === 'Day settled: Thursday, 1 March 2001')).toBe(true);
    // The settled day is locked: a payment dated in it is refused by the billing rules.
    const [{ settled }] = await query(`select app_hidden.is_day_settled($1, '2001-03-01') as settled`, [NY]);
    expect(settled).toBe(true);
    const summaries = `select count(*)::int as n from app_public.notifications n join app_public.daily_settlements d on d.id = n.related_id where d.settlement_date = '2001-03-01'`;
    const [before] = await query(summaries);
    await runScheduled('daily_settlements__settle_due', asOf); // a second run (a backfill) settles nothing again
    expect((await query(summaries))[0].n).toBe(before.n);
    expect((await query(`select status from app_public.daily_settlements where hospital_id = $1 and settlement_date = '2001-03-01'`, [LA]))[0].status).toBe('reopened');
  });

  it('alerts the stores staff of low stock and near expiry once a day', async () => {
    const [medicine] = await query(`
      select m.id, coalesce(m.brand_name, m.generic_name) as name from app_public.medicines m
       where m.hospital_id = $1 and m.is_active and not m.is_deleted
         and exists (select 1 from app_public.medicine_batches b where b.medicine_id = m.id and b.status = 'active' and b.quantity_on_hand > 0)
       order by m.item_code limit 1`, [NY]);
    await query(`update app_public.medicines set max_stock_level = null, reorder_level = 1000000 where id = $1`, [medicine.id]);
    await query(`update app_public.hospital_settings set low_stock_alerts_enabled = true where hospital_id = $1`, [NY]);
    const alerts = () => query(`
      select u.email, n.title, n.channel from app_public.notifications n join app_public.users u on u.id = n.user_id
       where n.related_table = 'medicines' and n.related_id = $1 order by u.email`, [medicine.id]);
    const day = new Date('2030-06-15T15:00:00Z');
    await runScheduled('medicine_batches__alert_stock', day);
    const first = await alerts();
    expect(first.map((row) => row.email)).toContain('pharmacist.ny@hms.test');
    expect(first.every((row) => row.channel === 'in_app' && row.title === `Low stock: ${medicine.name}`)).toBe(true);
    await runScheduled('medicine_batches__alert_stock', new Date(day.getTime() + 3600_000));
    expect(await alerts()).toHaveLength(first.length); // the same day: not again
    // By 2030 every demo batch is near its expiry: each batch in stock was announced too.
    const [{ expiring }] = await query(`select count(*)::int as expiring from app_public.notifications where related_table = 'medicine_batches' and hospital_id = $1`, [NY]);
    expect(expiring).toBeGreaterThan(0);
  });

  it("reminds the claims staff of a claim past its insurer's settlement days", async () => {
    const [policy] = await query(`select p.id, p.patient_id, p.provider_id, p.hospital_id from app_public.insurance_policies p limit 1`);
    const [invoice] = await query(`
      insert into app_public.invoices (hospital_id, invoice_number, patient_id, currency_code, invoice_type)
      values ($1, 'INV-TEST-CLAIM', $2, 'USD', 'outpatient') returning id`, [policy.hospital_id, policy.patient_id]);
    const [claim] = await query(`
      insert into app_public.insurance_claims (hospital_id, claim_number, invoice_id, policy_id, provider_id, patient_id, claimed_amount, status, submitted_at)
      values ($1, 'CLM-TEST-OVERDUE', $2, $3, $4, $5, 100, 'submitted', now() - interval '400 days') returning id`,
      [policy.hospital_id, invoice.id, policy.id, policy.provider_id, policy.patient_id]);
    await runScheduled('insurance_claims__alert_overdue', new Date());
    const told = await query(`select n.title, n.channel from app_public.notifications n where n.related_id = $1`, [claim.id]);
    expect(told.length).toBeGreaterThan(0);
    expect(told.every((row) => row.title === 'Claim CLM-TEST-OVERDUE overdue' && row.channel === 'in_app')).toBe(true);
  });
});
