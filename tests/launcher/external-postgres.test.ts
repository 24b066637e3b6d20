/**
 * `npm start` against an existing PostgreSQL named by DATABASE_URL / ROOT_DATABASE_URL — here a
 * real PostgreSQL 15 server (Debian's postgresql-15, part of this machine image), the oldest
 * version HMS supports. The launcher must create the roles, database and extensions through the
 * superuser connection, migrate, load the demo data, serve the API, and leave the server running
 * (it did not start it) when it stops.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../db/launcher/config.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { killAndWait } from '../../db/launcher/postgres.ts';

const PG15 = '/usr/lib/postgresql/15/bin';
/** Logs in as the super admin through the launched stack's own login RPC. */
async function loginAt(api: string): Promise<string> {
  const response = await fetch(`${api}/rpc/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'superadmin@hms.test', password: 'Admin@123' }),
  });
  if (!response.ok) throw new Error(`login answered ${response.status}: ${await response.text()}`);
  return (await response.json()).access_token;
}

const SECRET = 'external-test-secret-0123456789abcdefghij';
const SUPERUSER_PASSWORD = 'root-secret';
let dir: string;
let port: number;
let server: ChildProcess | undefined;
let launcher: ChildProcess | undefined;

/** As root, PostgreSQL must run as the postgres system user (created with the embedded cluster). */
function asPostgres(command: string, args: string[]): string[] {
  return userInfo().uid === 0 ? ['runuser', '-u', 'postgres', '--', command, ...args] : [command, ...args];
}

beforeAll(async () => {
  if (!existsSync(path.join(PG15, 'postgres'))) {
    throw new Error(`PostgreSQL 15 is not installed at ${PG15}: apt-get install -y postgresql-15 (then: pg_ctlcluster 15 main stop)`);
  }
  dir = mkdtempSync(path.join(tmpdir(), 'hms-pg15-'));
  chmodSync(dir, 0o777);
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, SUPERUSER_PASSWORD + '\n', { mode: 0o644 });
  const [initdb, ...initArgs] = asPostgres(path.join(PG15, 'initdb'), [
    '-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C.UTF-8',
  ]);
  execFileSync(initdb, initArgs, { stdio: 'pipe' });
  port = await freePort();
  const [postgres, ...args] = asPostgres(path.join(PG15, 'postgres'), [
    '-D', path.join(dir, 'data'), '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
  ]);
  server = spawn(postgres, args, { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const client = new pg.Client({ connectionString: `postgresql://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres` });
    try {
      await client.connect();
      await client.end();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error('PostgreSQL 15 did not start');
}, 60_000);

afterAll(async () => {
  if (launcher?.pid && launcher.exitCode === null) await killAndWait(launcher.pid);
  // runuser does not pass signals on: stop the postmaster itself, by the PID it recorded.
  const pidFile = dir && path.join(dir, 'data', 'postmaster.pid');
  if (pidFile && existsSync(pidFile)) await killAndWait(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
  if (server?.pid) await killAndWait(server.pid);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm start with DATABASE_URL and ROOT_DATABASE_URL', () => {
  it('prepares, migrates, seeds and serves an existing PostgreSQL 15', async () => {
    const apiPort = await freePort();
    const env = {
      PATH: process.env.PATH ?? '',
      HMS_DATA_DIR: path.join(dir, 'hms'),
      DATABASE_URL: `postgresql://hms_user:${encodeURIComponent('HMS@2026')}@127.0.0.1:${port}/hms_db`,
      ROOT_DATABASE_URL: `postgresql://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`,
      HMS_API_PORT: String(apiPort),
      HMS_API_ADMIN_PORT: String(await freePort()),
      HMS_JWT_SECRET: SECRET,
    };
    const child = spawn(process.execPath, [path.join(repoRoot, 'db', 'launcher', 'start.ts')], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    launcher = child;
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const started = Date.now();
    while (!output.includes('HMS is running')) {
      if (child.exitCode !== null || Date.now() - started > 120_000) throw new Error(output);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(output).toContain('demo data loaded');
    expect(output).not.toContain('embedded');

    const token = await loginAt(`http://127.0.0.1:${apiPort}`);
    const response = await fetch(`http://127.0.0.1:${apiPort}/hospitals?select=code&order=code`, { headers: { Authorization: `Bearer ${token}` } });
    expect(await response.json()).toEqual([{ code: 'CHI' }, { code: 'LA' }, { code: 'NY' }]);

    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    const { rows } = await client.query(`select current_setting('server_version_num')::int as version, (select count(*)::int from pg_tables where schemaname = 'app_public') as tables`);
    await client.end();
    expect(rows[0].version).toBeGreaterThanOrEqual(150000);
    expect(rows[0].version).toBeLessThan(160000);
    expect(rows[0].tables).toBe(62);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The server was not ours to stop: it still answers.
    const after = new pg.Client({ connectionString: env.ROOT_DATABASE_URL });
    await after.connect();
    await after.end();
  }, 180_000);
});
