/**
 * `npm start`: the whole HMS stack on this machine, demo data loaded, until Ctrl-C / SIGTERM.
 *
 * Bad configuration fails fast with one line (exit code 2): an unreachable DATABASE_URL, a port
 * in use, a second `npm start` while one runs, a JWT secret shorter than 32 characters.
 */
import path from 'node:path';
import pg from 'pg';
import { ConfigError, loadConfig, type HmsConfig } from './config.ts';
import { acquireLock } from './lock.ts';
import { describeExit } from './process.ts';
import { startStack, type Stack } from './stack.ts';

const started = Date.now();

function fail(message: string, code = 2): never {
  console.error(`hms: ${message}`);
  process.exit(code);
}

/** A URL without its password, for printing. */
function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '****';
  return parsed.toString();
}

async function demoLogins(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(`
      select u.email,
             string_agg(distinct r.name, ', ') as roles,
             coalesce(string_agg(distinct h.code, ', '), 'all hospitals') as hospitals
        from app_public.users u
        join app_public.user_roles ur on ur.user_id = u.id
        join app_public.roles r on r.id = ur.role_id
        left join app_public.hospitals h on h.id = ur.hospital_id
       where u.email like '%@hms.test'
       group by u.email
       order by min(r.sort_order), u.email`);
    return rows.map((row) => `  ${row.email.padEnd(28)} ${row.roles} (${row.hospitals})`);
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  let config: HmsConfig;
  let releaseLock: () => void;
  try {
    config = loadConfig();
    releaseLock = acquireLock(config);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }

  let stack: Stack | undefined;
  let stopping = false;
  const starting = startStack(config, { log: (line) => console.log(`hms: ${line}`) });
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nhms: stopping…');
    try {
      // A signal during start-up: let the start finish (or fail), then stop what it started.
      stack ??= await starting.catch(() => undefined);
      await stack?.stop();
    } finally {
      releaseLock();
    }
    process.exit(code);
  };
  // Ctrl-C (SIGINT to the terminal's foreground group), SIGTERM (kill, a service manager, npm
  // passing on its own SIGTERM: the npm scripts `exec` node, so npm's child is this process) and
  // SIGHUP (the terminal closed) all stop the servers in reverse order, by PID, then the lock goes.
  // The servers run in process groups of their own, so only this process receives a terminal's
  // signals and the order holds.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));

  try {
    stack = await starting;
  } catch (error) {
    releaseLock();
    if (error instanceof ConfigError) fail(error.message);
    fail((error as Error).message, 1);
  }
  if (stopping) return;
  // If PostgREST dies, the stack is not usable: stop the rest and say so.
  void stack.postgrest?.process.exited.then((exit) => {
    if (!stopping) {
      console.error(`hms: PostgREST exited unexpectedly (${describeExit(exit)}); stopping.`);
      void shutdown(1);
    }
  });

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const logins = config.loadDemoData ? await demoLogins(config.databaseUrl) : [];
  const db = new URL(redacted(config.databaseUrl));
  console.log(`
HMS is running (ready in ${seconds} s${stack.demoDataLoadedNow ? ', demo data loaded' : ''}).

  HMS                    ${stack.front!.url}/
  REST API               ${stack.front!.apiUrl}/        OpenAPI document at /api/
  GraphQL                ${stack.front!.url}/graphql    Ruru (GraphiQL) in a browser
  Health                 ${stack.front!.url}/health
  PostgreSQL             ${db.toString()}${config.embedded ? `  (embedded, data in ${path.relative(process.cwd(), config.dataDir) || '.'})` : ''}
  Worker                 ${stack.worker ? `running as ${config.roles.worker} (schedules in worker/crontab)` : 'not in this process (HMS_WORKER=false: npm run worker)'}
  Mail                   ${config.delivery.smtpUrl ? `through ${redacted(config.delivery.smtpUrl)}` : `local mail catcher on smtp://127.0.0.1:${config.delivery.mailCatcherPort}, kept in ${path.relative(process.cwd(), path.join(config.delivery.outboxDir, 'mail')) || '.'} (${stack.front!.url}/outbox/mail)`}
  SMS, WhatsApp          ${[config.delivery.sms.url ? `SMS gateway ${config.delivery.sms.url}` : `SMS to ${path.relative(process.cwd(), path.join(config.delivery.outboxDir, 'sms.jsonl'))}`, config.delivery.whatsapp.url ? `WhatsApp gateway ${config.delivery.whatsapp.url}` : `WhatsApp to ${path.relative(process.cwd(), path.join(config.delivery.outboxDir, 'whatsapp.jsonl'))}`].join('; ')}
${logins.length ? `
Demo logins (password Admin@123):
${logins.join('\n')}
` : ''}
Press Ctrl-C to stop.`);
}

await main();
