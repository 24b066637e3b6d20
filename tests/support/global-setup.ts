/**
 * vitest global setup: one throwaway stack for the whole suite — an embedded PostgreSQL in a
 * temporary folder on free ports, migrated (committed + current work) with the demo data, the
 * real PostgREST behind the real front (db/launcher/front.ts: every API test goes through /api on
 * the one origin), and a scratch copy of the database for tests that commit. Everything is stopped by PID and the folder removed at the end.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../db/launcher/config.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { startFront, type FrontServer } from '../../db/launcher/front.ts';
import { startPostgrest, type PostgrestServer } from '../../db/launcher/postgrest.ts';
import { startStack, type Stack } from '../../db/launcher/stack.ts';
import { ensurePgTap } from './pgtap.ts';

export interface TestStackInfo {
  databaseUrl: string;
  /** A copy of the seeded database (no API in front) for tests that commit data. */
  scratchDatabaseUrl: string;
  /** A copy of the seeded database nobody writes to (pgTAP files that begin with `-- database: pristine`). */
  pristineDatabaseUrl: string;
  rootDatabaseUrl: string;
  authenticatorUrl: string;
  /** What the worker connects as (its own role), to the suite's database. */
  workerUrl: string;
  /** The front's /api: where every API test sends its requests. */
  apiUrl: string;
  /** The front's origin (/, /graphql, /health). */
  frontUrl: string;
  /** PostgREST's internal port, for tests that prove what the database believes without the front. */
  postgrestUrl: string;
  jwtSecret: string;
  /** The front's local outbox (the mail catcher's folder when HMS_SMTP_URL is unset). */
  outboxDir: string;
  roles: { owner: string; authenticator: string; anonymous: string; staff: string; worker: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStackInfo;
  }
}

let stack: Stack | undefined;
let postgrest: PostgrestServer | undefined;
let front: FrontServer | undefined;
let dataDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  ensurePgTap();
  dataDir = mkdtempSync(path.join(tmpdir(), 'hms-test-'));
  const apiPort = await freePort();
  const config = loadConfig({
    HMS_DATA_DIR: dataDir,
    HMS_PG_PORT: String(await freePort()),
    HMS_API_PORT: String(apiPort),
    HMS_API_ADMIN_PORT: String(await freePort()),
    HMS_POSTGREST_PORT: String(await freePort()),
    HMS_JWT_SECRET: 'test-secret-that-is-long-enough-0123456789',
    // Small enough that a test can see PostgREST cap a list (a hospital has 21 id_sequences).
    HMS_DB_MAX_ROWS: '10',
    // The whole suite logs in from 127.0.0.1 as the same demo users: the shared front's
    // authentication rate limits stay out of its way (tests/api/graphql-rate-limit.test.ts starts
    // a front with small ones).
    HMS_AUTH_RATE_LIMIT_PER_ADDRESS: '1000000',
    HMS_AUTH_RATE_LIMIT_PER_EMAIL: '1000000',
  });
  stack = await startStack(config, { includeCurrent: true, api: false });
  const root = new pg.Client({ connectionString: new URL(config.databaseName, config.rootDatabaseUrl!.replace(/[^/]+$/, '')).toString() });
  await root.connect();
  // pgTAP is not a trusted extension: the superuser installs it into the throwaway database.
  await root.query('create extension if not exists pgtap with schema public');
  await root.end();
  // Identity helpers for pgTAP files (tests.authenticate_as, …), as the schema owner.
  const owner = new pg.Client({ connectionString: config.databaseUrl });
  await owner.connect();
  await owner.query(readFileSync(path.join(import.meta.dirname, 'test-helpers.sql'), 'utf8'));
  await owner.end();
  // A scratch copy of the migrated, seeded database for tests that must commit (parallel
  // connections cannot share a transaction): they change it freely without touching the demo
  // data other tests read. Copied before PostgREST connects (a template must be idle).
  const scratch = new pg.Client({ connectionString: config.rootDatabaseUrl! });
  await scratch.connect();
  await scratch.query(`create database "${config.databaseName}_scratch" template "${config.databaseName}" owner "${config.roles.owner}"`);
  // …and a pristine copy nobody writes to, for checks of the demo data exactly as loaded.
  await scratch.query(`create database "${config.databaseName}_pristine" template "${config.databaseName}" owner "${config.roles.owner}"`);
  await scratch.end();
  postgrest = await startPostgrest(config);
  front = await startFront({ config, log: (line) => console.error(line) });
  const scratchUrl = new URL(config.databaseUrl);
  scratchUrl.pathname = `/${config.databaseName}_scratch`;
  const pristineUrl = new URL(config.databaseUrl);
  pristineUrl.pathname = `/${config.databaseName}_pristine`;
  project.provide('stack', {
    databaseUrl: config.databaseUrl,
    rootDatabaseUrl: config.rootDatabaseUrl!,
    authenticatorUrl: config.authenticatorUrl,
    workerUrl: config.workerUrl,
    scratchDatabaseUrl: scratchUrl.toString(),
    pristineDatabaseUrl: pristineUrl.toString(),
    apiUrl: front.apiUrl,
    frontUrl: front.url,
    postgrestUrl: postgrest.url,
    jwtSecret: config.jwtSecret,
    outboxDir: config.delivery.outboxDir,
    roles: config.roles,
  });
}

export async function teardown(): Promise<void> {
  await front?.stop();
  await postgrest?.stop();
  await stack?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
