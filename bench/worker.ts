/**
 * The worker's benchmarks (npm run bench, section 6):
 *   - delivery: e-mails per second from notification_queue to a local SMTP sink (a real SMTP
 *     server in a process of its own that accepts and counts, bench/smtp-sink.ts), through the real
 *     worker as its own role, at the default concurrency and at 16;
 *   - settlement: one hospital-day holding BENCH_SETTLEMENT_PAYMENTS payments (1,000,000 by
 *     default), settled by the scheduled job's function (app_private.settle_due_days), with the
 *     day's recomputation alone (app_hidden.compute_daily_settlement) timed as well.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import type { HmsConfig } from '../db/launcher/config.ts';
import type { Stack } from '../db/launcher/stack.ts';
import { startWorker } from '../worker/src/worker.ts';

/** The counting SMTP server of bench/smtp-sink.ts, in its own process. */
async function countingSmtpSink(): Promise<{ url: string; stop: () => Promise<number> }> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'smtp-sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const port = await new Promise<number>((resolve, reject) => {
    const check = setInterval(() => {
      const ready = /ready (\d+)/.exec(output);
      if (ready) { clearInterval(check); resolve(Number(ready[1])); }
    }, 20);
    child.once('exit', (code) => { clearInterval(check); reject(new Error(`the SMTP sink exited (${code})`)); });
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    stop: () => new Promise<number>((resolve) => {
      child.once('exit', () => resolve(Number(/received (\d+)/.exec(output)?.[1] ?? NaN)));
      child.kill('SIGTERM');
    }),
  };
}

export async function deliveryThroughput(stack: Stack, owner: pg.Client, messages = Number(process.env.BENCH_EMAILS ?? 5000)): Promise<void> {
  // The stack's own worker would take the jobs to its mail catcher: the measured one runs alone.
  await stack.worker?.stop();
  const ny = (await owner.query(`select id from app_public.hospitals where code = 'NY'`)).rows[0].id;
  await owner.query(`update app_public.hospital_settings set email_notifications_enabled = true where hospital_id = $1`, [ny]);
  console.log(`\nnotification delivery: ${messages.toLocaleString('en-US')} e-mails from notification_queue to a local SMTP server, the real worker as ${stack.config.roles.worker}`);
  console.log('concurrency   e-mails/s   enqueue s   all sent   sent once');
  for (const concurrency of [stack.config.workerConcurrency, 16]) {
    const { rows: [patient] } = await owner.query(`
      insert into app_public.patients (hospital_id, mrn, first_name, last_name, date_of_birth, gender, email, email_consent)
      values ($1, 'BENCH-MAIL-' || $2::text, 'Mail', 'Bench ' || $2::text, '1980-01-01', 'unknown', 'mail.bench.' || $2::text || '@example.org', true) returning id`,
      [ny, concurrency]);
    const enqueued = Date.now();
    await owner.query(`
      select app_hidden.notify($1, 'appointment_confirmation', $2::uuid, null, jsonb_build_object('appointment_number', 'BENCH-' || i), null, null, 'bench-mail:' || $2::text || ':' || i)
        from generate_series(1, $3) i`, [ny, patient.id, messages]);
    const enqueueSeconds = (Date.now() - enqueued) / 1000;
    const sink = await countingSmtpSink();
    const config: HmsConfig = { ...stack.config, workerConcurrency: concurrency, delivery: { ...stack.config.delivery, smtpUrl: sink.url } };
    const started = Date.now();
    const worker = await startWorker(config, { withoutSchedules: true, pollInterval: 200, log: () => {} });
    const sent = async () => (await owner.query(`
      select count(*)::int as n from app_public.notification_queue q join app_public.notifications n on n.hospital_id = q.hospital_id and n.id = q.notification_id
       where n.patient_id = $1 and q.status = 'sent'`, [patient.id])).rows[0].n as number;
    while ((await sent()) < messages && Date.now() - started < 600_000) await new Promise((resolve) => setTimeout(resolve, 100));
    const seconds = (Date.now() - started) / 1000;
    await worker.stop();
    const done = await sent();
    const received = await sink.stop();
    console.log(`${String(concurrency).padStart(11)}   ${(done / seconds).toFixed(0).padStart(9)}   ${enqueueSeconds.toFixed(1).padStart(9)}   ${done === messages ? 'yes' : `NO (${done})`}        ${received === messages ? 'yes' : `NO (${received})`}`);
  }
}

export async function settlementAtScale(rootUrl: string, owner: pg.Client, payments = Number(process.env.BENCH_SETTLEMENT_PAYMENTS ?? 1_000_000)): Promise<void> {
  const { rows: [hospital] } = await owner.query(`
    insert into app_public.hospitals (code, name, time_zone) values ('BENCHSTL', 'Settlement bench hospital', 'America/New_York') returning id`);
  const { rows: [patient] } = await owner.query(`
    insert into app_public.patients (hospital_id, mrn, first_name, last_name, date_of_birth, gender)
    values ($1, 'BENCH-STL-1', 'Settle', 'Bench', '1980-01-01', 'unknown') returning id`, [hospital.id]);
  const day = '2026-01-15';
  const { rows: invoices } = await owner.query(`
    insert into app_public.invoices (hospital_id, invoice_number, patient_id, currency_code, invoice_type)
    select $1, 'BENCH-STL-' || g, $2, 'USD', 'outpatient' from generate_series(1, 1000) g returning id`, [hospital.id, patient.id]);
  // The day's payments, loaded without row triggers (as the generator loads history).
  const root = new pg.Client({ connectionString: rootUrl });
  await root.connect();
  const loaded = Date.now();
  await root.query(`set session_replication_role = replica`);
  await root.query(`
    insert into app_public.payments (hospital_id, receipt_number, invoice_id, patient_id, amount, payment_method, payment_date, status)
    select $1, 'BENCH-RCT-' || g, ($3::uuid[])[1 + g % 1000], $2, 10 + (g % 500), (array['cash', 'card', 'upi', 'bank_transfer', 'insurance'])[1 + g % 5],
           ($4::date + time '08:00')::timestamp at time zone 'America/New_York' + (g % 43200) * interval '1 second', 'completed'
      from generate_series(1, $5) g`, [hospital.id, patient.id, invoices.map((row) => row.id), day, payments]);
  await root.query(`set session_replication_role = origin`);
  await root.query(`analyze app_public.payments`);
  await root.end();
  const loadSeconds = (Date.now() - loaded) / 1000;

  const timed = async (sql: string, params: unknown[]) => {
    const started = process.hrtime.bigint();
    const { rows } = await owner.query(sql, params);
    return { ms: Number(process.hrtime.bigint() - started) / 1e6, row: rows[0] };
  };
  const recompute = await timed(`select (app_hidden.compute_daily_settlement($1, $2)).payment_count`, [hospital.id, day]);
  const asOf = `${day}T12:00:00-05:00`;
  const nextDay = new Date(new Date(asOf).getTime() + 86_400_000).toISOString();
  const settle = await timed(`select app_private.settle_due_days($1) as settled`, [nextDay]);
  const { rows: [result] } = await owner.query(`
    select status, payment_count, gross_collections from app_public.daily_settlements where hospital_id = $1 and settlement_date = $2`, [hospital.id, day]);
  console.log(`\nsettlement of one hospital-day with ${payments.toLocaleString('en-US')} payments (loaded in ${loadSeconds.toFixed(1)} s)`);
  console.log(`  recompute the day (compute_daily_settlement)      ${(recompute.ms / 1000).toFixed(2)} s   ${Number(recompute.row.payment_count).toLocaleString('en-US')} payments`);
  console.log(`  the scheduled settlement of every hospital's day  ${(settle.ms / 1000).toFixed(2)} s   ${settle.row.settled} days settled; this one ${result.status}, ${Number(result.payment_count).toLocaleString('en-US')} payments, gross ${result.gross_collections}`);
}
