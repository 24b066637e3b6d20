/**
 * `npm start` against an existing PostgreSQL named by DATABASE_URL / ROOT_DATABASE_URL — here a
 * real PostgreSQL 15 server (Debian's postgresql-15, part of this machine image), the oldest
 * version HMS supports. The launcher must create the roles, database and extensions through the
 * superuser connection, migrate, load the demo data, serve the API, and leave the server running
 * (it did not start it) when it stops.
 */
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/launcher/ports.ts';
import { startPg15, type Pg15Server } from '../support/pg15.ts';
import { launcher, loginAt, stopLaunched } from '../support/processes.ts';
import { TABLE_COUNT } from '../support/access-model.ts';

const SECRET = 'external-test-secret-0123456789abcdefghij';
let server: Pg15Server | undefined;

// For HMS it is simply a server that exists (started by the test, stopped by it).
beforeAll(async () => {
  server = await startPg15();
}, 60_000);

afterAll(async () => {
  await stopLaunched();
  await server?.stop();
});

describe('npm start with DATABASE_URL and ROOT_DATABASE_URL', () => {
  it('prepares, migrates, seeds and serves an existing PostgreSQL 15', async () => {
    const apiPort = await freePort();
    const env = {
      HMS_DATA_DIR: path.join(server!.dir, 'hms'),
      DATABASE_URL: `postgresql://hms_user:${encodeURIComponent('HMS@2026')}@127.0.0.1:${server!.port}/hms_db`,
      ROOT_DATABASE_URL: server!.rootUrl,
      HMS_API_PORT: String(apiPort),
      HMS_API_ADMIN_PORT: String(await freePort()),
      HMS_POSTGREST_PORT: String(await freePort()),
      HMS_MAIL_CATCHER_PORT: String(await freePort()),
      HMS_JWT_SECRET: SECRET,
    };
    const run = launcher('start.ts', env);
    await run.waitForOutput(/HMS is running/, 120_000);
    expect(run.output()).toContain('demo data loaded');
    expect(run.output()).not.toContain('embedded');

    const token = await loginAt(`http://127.0.0.1:${apiPort}/api`);
    const response = await fetch(`http://127.0.0.1:${apiPort}/api/hospitals?select=code&order=code`, { headers: { Authorization: `Bearer ${token}` } });
    expect(await response.json()).toEqual([{ code: 'CHI' }, { code: 'LA' }, { code: 'NY' }]);

    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    const { rows } = await client.query(`select current_setting('server_version_num')::int as version, (select count(*)::int from pg_tables where schemaname = 'app_public') as tables`);
    await client.end();
    expect(rows[0].version).toBeGreaterThanOrEqual(150000);
    expect(rows[0].version).toBeLessThan(160000);
    expect(rows[0].tables).toBe(TABLE_COUNT);

    expect((await run.stop('SIGTERM')).code).toBe(0);
    // The server was not ours to stop: it still answers.
    const after = new pg.Client({ connectionString: env.ROOT_DATABASE_URL });
    await after.connect();
    await after.end();
  }, 180_000);
});
