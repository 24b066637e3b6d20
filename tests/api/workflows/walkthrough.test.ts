/**
 * The README's "A day at the hospital, with curl", run as written: the ```sh block under that
 * heading is read from README.md and run with bash — curl and jq, as a reader would — against a
 * stack of its own (`npm start` on a temporary data folder and free ports), because the block
 * settles the day and may open an on-call session, which the suite's shared stack must not see.
 * The block's first line, `API=${API:-http://127.0.0.1:3000/api}`, takes the address from the
 * environment, so the text runs unchanged.
 *
 * It runs twice on the same data: once as the day finds it, then — after reopening the day and
 * booking out what is left of Dr. Mitchell's regular sessions today — again, so the on-call path
 * runs whatever the hour. Every step's answer must be a success except the last, which must be
 * HMS_DAY_SETTLED; the database then shows the queue token, the invoice lines and the paid status.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCrontab } from 'graphile-worker';
import { repoRoot } from '../../../db/launcher/config.ts';
import { crontabFile } from '../../../worker/src/worker.ts';
import { runProcess, type ManagedProcess } from '../../../db/launcher/process.ts';
import { loginAt, npm, stackEnv, stopLaunched, userEnv, waitForRoomToday } from '../../support/processes.ts';

const HEADING = '### A day at the hospital, with curl';
const DOCTOR = 'd1100000-0000-4000-8000-000000000001';
const NY = '10000000-0000-4000-8000-000000000001';
const OTHER_PATIENT = 'd1000000-0000-4000-8000-000000000012';

/** The first ```sh block under the heading, exactly as the README has it. */
function readmeBlock(): string {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${HEADING}\n`));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match || !section.startsWith(`\n${HEADING}\n`)) throw new Error(`README.md has no sh block under "${HEADING}"`);
  return match[1];
}

let stack: ManagedProcess;
let api: string;
let owner: pg.Client;

async function ownerQuery<T = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await owner.query(sql, params)).rows as T[];
}

async function rpc(name: string, token: string, body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const response = await fetch(`${api}/rpc/${name}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

beforeAll(async () => {
  for (const [tool, install] of [['curl', 'apt-get install -y curl'], ['jq', 'apt-get install -y jq']]) {
    const found = await runProcess({ name: 'command -v', command: 'sh', args: ['-c', `command -v ${tool}`] });
    if (found.code !== 0) throw new Error(`The README walk-through needs ${tool}: ${install}`);
  }
  const env = await stackEnv();
  api = `http://127.0.0.1:${env.HMS_API_PORT}/api`; // REST on the front's one origin
  stack = npm(['start'], env);
  await stack.waitForOutput(/HMS is running/, 180_000);
  owner = new pg.Client({ connectionString: `postgresql://hms_user:${encodeURIComponent('HMS@2026')}@127.0.0.1:${env.HMS_PG_PORT}/hms_db` });
  await owner.connect();
}, 200_000);

afterAll(async () => {
  await owner?.end();
  await stopLaunched();
});

/** Runs the block with bash; every output line is one JSON answer. */
async function runBlock(): Promise<any[]> {
  const run = await runProcess({ name: 'README walk-through', command: 'bash', args: ['-c', readmeBlock()], env: userEnv({ API: api }), timeoutMs: 120_000 });
  expect(run.code, run.output).toBe(0);
  const lines = run.output.split('\n').filter((line) => line.trim() !== '');
  return lines.map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`not a JSON answer: ${line}\n--- whole output:\n${run.output}`);
    }
  });
}

/** What the database holds for one run's appointment: its queue token, invoices and schedule. */
async function checkRun(answers: any[], today: string): Promise<{ appointmentId: string; scheduleId: string }> {
  const last = answers.at(-1);
  expect(last.code, JSON.stringify(last)).toBe('HMS_DAY_SETTLED');
  expect(last.message).toBe(`The day ${today} is settled: no payment may be recorded or changed in it (reopen the day first).`);
  // Every other step succeeded: no error answer before the last.
  const errors = answers.slice(0, -1).filter((answer) => !Array.isArray(answer) && typeof answer.code === 'string');
  expect(errors).toEqual([]);

  const checkedIn = answers.find((answer) => answer.appointment_number && answer.status === 'checked_in');
  expect(checkedIn, 'check-in answer').toBeDefined();
  const [queue] = await ownerQuery(`select token_label from app_public.appointment_queue where appointment_id = $1`, [checkedIn.id]);
  expect(queue.token_label).toMatch(/-\d{3}$/);

  const dispensing = answers.find((answer) => answer.dispensing_number);
  expect(dispensing?.status).toBe('completed');
  const invoices = await ownerQuery(
    `select i.invoice_type, i.status, i.balance_due::text, i.amount_paid::text,
            array_agg(it.item_type order by it.item_type) as items
       from app_public.invoices i join app_public.invoice_items it on it.invoice_id = i.id
      where i.appointment_id = $1
         or i.id = (select it2.invoice_id from app_public.invoice_items it2
                      join app_public.pharmacy_dispensing_items di on di.id = it2.dispensing_item_id
                     where di.dispensing_id = $2 limit 1)
      group by i.id order by i.invoice_type`,
    [checkedIn.id, dispensing.id],
  );
  expect(invoices.map((i) => [i.invoice_type, i.status, i.items])).toEqual([
    ['outpatient', 'paid', ['consultation']],
    ['pharmacy', 'issued', ['medicine']],
  ]);
  expect(invoices[0].balance_due).toBe('0.00');
  expect(invoices[1].amount_paid).toBe('0.00');

  const [settlement] = await ownerQuery(`select status from app_public.daily_settlements where hospital_id = $1 and settlement_date = $2`, [NY, today]);
  expect(settlement.status).toBe('settled');
  return { appointmentId: checkedIn.id, scheduleId: checkedIn.schedule_id };
}

describe('the README walk-through', () => {
  it('runs on a stack whose worker runs in the launcher, as its own role, with the crontab\'s schedules', async () => {
    const health = await fetch(`${api.replace(/\/api$/, '')}/health`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ready', database: 'ok', postgrest: 'ok', worker: 'ok' }]);
    const crons = await ownerQuery(`select identifier from graphile_worker._private_known_crontabs order by 1`);
    // Every schedule of worker/crontab is known to the running worker.
    const scheduled = parseCrontab(readFileSync(crontabFile, 'utf8')).map((item) => item.identifier).sort();
    expect(scheduled).toContain('daily_settlements__settle_due');
    expect(crons.map((row) => row.identifier)).toEqual(scheduled);
    const workers = await ownerQuery(`select usename from pg_stat_activity where datname = 'hms_db' and usename = 'hms_worker' limit 1`);
    expect(workers).toEqual([{ usename: 'hms_worker' }]);
  });

  it('runs as written, twice on the same data, and ends in HMS_DAY_SETTLED', async () => {
    const today = await waitForRoomToday(ownerQuery);
    const first = await checkRun(await runBlock(), today);

    const accountant = await loginAt(api, 'accountant.ny@hms.test');
    const reopened = await rpc('reopen_day', accountant, { settlement_date: today, reason: 'README walk-through, second run' });
    expect(reopened.status, JSON.stringify(reopened.json)).toBe(200);

    // A fully booked day: every slot of the regular sessions still ahead is taken.
    const reception = await loginAt(api, 'reception.ny@hms.test');
    const ahead = await ownerQuery<{ slot_start: Date }>(
      `select s.slot_start from app_hidden.doctor_schedule_slots($1, $2, $3::date) s
         join app_public.doctor_schedules ds on ds.id = s.schedule_id
        where ds.valid_to is null and s.slot_start > now() + interval '1 minute'`,
      [NY, DOCTOR, today],
    );
    for (const { slot_start } of ahead) {
      const booked = await rpc('book_appointment', reception, { patient_id: OTHER_PATIENT, doctor_id: DOCTOR, scheduled_start: slot_start.toISOString() });
      expect([200, 409], JSON.stringify(booked.json)).toContain(booked.status);
    }

    const second = await checkRun(await runBlock(), today);
    expect(second.appointmentId).not.toBe(first.appointmentId);
    // The second visit is in a one-day on-call session the hospital admin opened (in this run or the first).
    const [session] = await ownerQuery(
      `select s.valid_from::text, s.valid_to::text, s.slot_minutes, s.end_time::text, u.email as created_by
         from app_public.doctor_schedules s join app_public.users u on u.id = s.created_by where s.id = $1`,
      [second.scheduleId],
    );
    expect(session).toEqual({ valid_from: today, valid_to: today, slot_minutes: 5, end_time: '24:00:00', created_by: 'admin.ny@hms.test' });
    // One on-call session for the day, however many runs: a later run reuses its free slots.
    const [{ sessions }] = await ownerQuery(`select count(*)::int as sessions from app_public.doctor_schedules where doctor_id = $1 and valid_to is not null`, [DOCTOR]);
    expect(sessions).toBe(1);
  }, 900_000);
});
