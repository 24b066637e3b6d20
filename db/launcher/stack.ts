/**
 * The whole stack in one call — used by `npm start`, `npm run db:setup|db:reset` and the test
 * suite, so all three prepare the database the same way:
 *   PostgreSQL (embedded, or the one DATABASE_URL names) → roles/database/extensions →
 *   graphile-migrate → the job queue (graphile-worker's schema) → demo data once → PostgREST
 *   (internal port) → the front (the one origin, db/launcher/front.ts, in this process) → the
 *   worker (worker/, in this process unless HMS_WORKER=false).
 * stop() stops, by PID, everything that was started, in reverse order.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { bootstrap } from './bootstrap.ts';
import { ConfigError, repoRoot, type HmsConfig } from './config.ts';
import { currentMigrationFiles, graphileMigrateCommand, migrate } from './migrate.ts';
import { assertPortFree, assertReachable, startEmbeddedPostgres, type EmbeddedServer } from './postgres.ts';
import { startFront, type FrontServer } from './front.ts';
import { startPostgrest, type PostgrestServer } from './postgrest.ts';
import { createPartitionsAhead } from './partitions.ts';
import { storeJwtSecret } from './secrets.ts';
import { loadDemoDataOnce } from './seed.ts';
import { installWorkerSchema } from '../../worker/src/install.ts';
import { startWorker, type WorkerServer } from '../../worker/src/worker.ts';

export interface StackOptions {
  /** Start PostgREST and the front (false: database only, e.g. db:setup). */
  api?: boolean;
  /** Drop and recreate the database first (db:reset, throwaway test databases). */
  reset?: boolean;
  /** Also apply migrations/current/ (work in progress) after the committed ones. */
  includeCurrent?: boolean;
  log?: (line: string) => void;
}

export interface Stack {
  config: HmsConfig;
  postgres?: EmbeddedServer;
  postgrest?: PostgrestServer;
  front?: FrontServer;
  worker?: WorkerServer;
  demoDataLoadedNow: boolean;
  timings: Record<string, number>;
  stop(): Promise<void>;
}

/** True when migrations/current/ holds uncommitted SQL (more than comments and blank lines). */
export function hasCurrentMigration(): boolean {
  const dir = path.join(repoRoot, 'migrations', 'current');
  if (!existsSync(dir)) return false;
  return currentMigrationFiles(dir).some((name) => readFileSync(path.join(dir, name), 'utf8').replace(/--.*$/gm, '').trim() !== '');
}

/** HMS uses PostgreSQL 15 features (unique nulls not distinct, on delete set null (column)). */
async function assertServerVersion(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query(`select current_setting('server_version_num')::int as num, current_setting('server_version') as version`);
    if (rows[0].num < 150000) {
      throw new ConfigError(`HMS needs PostgreSQL 15 or later; the server at DATABASE_URL runs ${rows[0].version}.`);
    }
  } finally {
    await client.end();
  }
}

async function dropDatabase(config: HmsConfig): Promise<void> {
  if (!config.rootDatabaseUrl) throw new Error('Resetting needs ROOT_DATABASE_URL (a superuser connection).');
  const root = new pg.Client({ connectionString: config.rootDatabaseUrl });
  await root.connect();
  try {
    await root.query(`drop database if exists "${config.databaseName.replace(/"/g, '""')}" with (force)`);
  } finally {
    await root.end();
  }
}

export async function startStack(config: HmsConfig, options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? (() => {});
  const timings: Record<string, number> = {};
  let mark = Date.now();
  const lap = (name: string) => {
    const now = Date.now();
    timings[name] = now - mark;
    mark = now;
  };

  if (options.api !== false) {
    await assertPortFree(config.apiPort, config.apiHost, 'HMS_API_PORT');
    await assertPortFree(config.apiAdminPort, '127.0.0.1', 'HMS_API_ADMIN_PORT');
    await assertPortFree(config.postgrestPort, '127.0.0.1', 'HMS_POSTGREST_PORT');
    if (config.runWorker && !config.delivery.smtpUrl) await assertPortFree(config.delivery.mailCatcherPort, '127.0.0.1', 'HMS_MAIL_CATCHER_PORT');
  }

  let postgres: EmbeddedServer | undefined;
  let postgrest: PostgrestServer | undefined;
  let front: FrontServer | undefined;
  let worker: WorkerServer | undefined;
  const stop = async () => {
    await worker?.stop();
    worker = undefined;
    await front?.stop();
    front = undefined;
    await postgrest?.stop();
    postgrest = undefined;
    await postgres?.stop();
    postgres = undefined;
  };

  try {
    if (config.embedded) {
      postgres = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.pgPort, log });
      log(`PostgreSQL ready on 127.0.0.1:${config.pgPort} (pid ${postgres.pid})`);
    } else {
      // With a superuser connection, the database and owner may not exist yet: probe the server there.
      const probe = config.rootDatabaseUrl ?? config.databaseUrl;
      await assertReachable(probe, config.rootDatabaseUrl ? 'ROOT_DATABASE_URL' : 'DATABASE_URL');
      await assertServerVersion(probe);
    }
    lap('postgres');
    if (options.reset) await dropDatabase(config);
    await bootstrap(config);
    if (!config.embedded) await assertReachable(config.databaseUrl, 'DATABASE_URL');
    lap('bootstrap');
    await migrate(config);
    if (options.includeCurrent && hasCurrentMigration()) {
      await graphileMigrateCommand(config, ['watch', '--once']);
    }
    await storeJwtSecret(config.databaseUrl, config.jwtSecret);
    await createPartitionsAhead(config.databaseUrl);
    await installWorkerSchema(config);
    lap('migrate');
    const demoDataLoadedNow = config.loadDemoData ? await loadDemoDataOnce(config.databaseUrl) : false;
    lap('seed');
    if (options.api !== false) {
      postgrest = await startPostgrest(config);
      lap('postgrest');
      const inProcess = config.runWorker;
      front = await startFront({ config, log, ...(inProcess ? { workerRunning: () => worker?.running() ?? false } : {}) });
      lap('front');
      if (inProcess) {
        worker = await startWorker(config, { log });
        lap('worker');
      }
    }
    return {
      config,
      postgres,
      postgrest,
      front,
      worker,
      demoDataLoadedNow,
      timings,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
