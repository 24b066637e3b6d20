/**
 * `npm start` as a user runs it: a real launcher process on its own data folder and ports.
 * It must start everything, restart on the same data, stop every process it started, rebuild
 * with db:reset, and refuse bad configuration with one clear line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../db/launcher/config.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { killAndWait } from '../../db/launcher/postgres.ts';

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

const SECRET = 'launcher-test-secret-0123456789abcdefghij';
const dataDirs: string[] = [];
const launched: ChildProcess[] = [];
afterAll(async () => {
  // A failed assertion must not leave a launcher (and its servers) running: stop what is left.
  for (const child of launched) if (child.exitCode === null && child.pid) await killAndWait(child.pid);
  dataDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(script: string, env: Record<string, string>, args: string[] = []): Run {
  const child = spawn(process.execPath, [path.join(repoRoot, 'db', 'launcher', script), ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  launched.push(child);
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

async function waitFor(run: Run, pattern: RegExp, timeoutMs = 120_000): Promise<void> {
  const started = Date.now();
  while (!pattern.test(run.output())) {
    if (run.child.exitCode !== null) throw new Error(`exited with ${run.child.exitCode}:\n${run.output()}`);
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${pattern}:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** PIDs of processes whose command line mentions the folder (postgres -D <dir>/pgdata, …). */
function processesUsing(dir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function stackEnv(): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hms-launcher-'));
  dataDirs.push(dataDir);
  return {
    HMS_DATA_DIR: dataDir,
    HMS_PG_PORT: String(await freePort()),
    HMS_API_PORT: String(await freePort()),
    HMS_API_ADMIN_PORT: String(await freePort()),
    HMS_JWT_SECRET: SECRET,
  };
}

describe('npm start', () => {
  it('starts the stack, refuses a second launcher, stops every process, restarts on the same data and rebuilds with db:reset', async () => {
    const env = await stackEnv();
    const api = `http://127.0.0.1:${env.HMS_API_PORT}`;

    const first = launch('start.ts', env);
    await waitFor(first, /HMS is running/);
    expect(first.output()).toContain('demo data loaded');
    expect(first.output()).toContain('superadmin@hms.test');
    expect((await fetch(`http://127.0.0.1:${env.HMS_API_ADMIN_PORT}/ready`)).status).toBe(200);
    const token = await loginAt(api);
    const openapi = await (await fetch(`${api}/`, { headers: { Authorization: `Bearer ${token}` } })).json();
    expect(Object.keys(openapi.definitions)).toHaveLength(62);

    const second = launch('start.ts', env);
    expect(await second.exited).toBe(2);
    expect(second.output().trim().split('\n')).toHaveLength(1);
    expect(second.output()).toMatch(/already running/);

    expect(processesUsing(env.HMS_DATA_DIR).length).toBeGreaterThan(0);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(processesUsing(env.HMS_DATA_DIR)).toEqual([]);
    await expect(fetch(`${api}/`)).rejects.toThrow();

    const again = launch('start.ts', env);
    await waitFor(again, /HMS is running/);
    expect(again.output()).not.toContain('demo data loaded');
    const count = await fetch(`${api}/patients?select=id`, { headers: { Authorization: `Bearer ${token}`, Prefer: 'count=exact' } });
    // The super admin works in one hospital at a time: NY has two of the five demo patients.
    expect(count.headers.get('content-range')).toBe('0-1/2');
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
    expect(processesUsing(env.HMS_DATA_DIR)).toEqual([]);

    const reset = launch('setup.ts', env, ['--reset']);
    expect(await reset.exited, reset.output()).toBe(0);
    expect(reset.output()).toMatch(/database rebuilt, demo data loaded/);
    expect(processesUsing(env.HMS_DATA_DIR)).toEqual([]);
  }, 300_000);
});

describe('bad configuration fails fast with one line', () => {
  async function expectRefusal(env: Record<string, string>, pattern: RegExp): Promise<void> {
    const run = launch('start.ts', env);
    expect(await run.exited).toBe(2);
    const lines = run.output().trim().split('\n');
    expect(lines, run.output()).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
    expect(processesUsing(env.HMS_DATA_DIR)).toEqual([]);
  }

  it('refuses a JWT secret shorter than 32 characters', async () => {
    await expectRefusal({ ...(await stackEnv()), HMS_JWT_SECRET: 'too-short' }, /HMS_JWT_SECRET must be at least 32 characters/);
  });

  it('refuses a port in use', async () => {
    const env = await stackEnv();
    const blocker = net.createServer().listen(Number(env.HMS_API_PORT), '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    try {
      await expectRefusal(env, /Port \d+ on 127\.0\.0\.1 is already in use \(HMS_API_PORT\)/);
    } finally {
      blocker.close();
    }
  });

  it('refuses an unreachable DATABASE_URL', async () => {
    const port = await freePort();
    await expectRefusal(
      { ...(await stackEnv()), DATABASE_URL: `postgresql://hms_user:secret@127.0.0.1:${port}/hms_db` },
      /Cannot connect to DATABASE_URL \(127\.0\.0\.1:\d+\/hms_db as hms_user\)/,
    );
  });

  it('refuses a malformed DATABASE_URL', async () => {
    await expectRefusal({ ...(await stackEnv()), DATABASE_URL: 'mysql://nope' }, /DATABASE_URL must start with postgresql:\/\//);
  });
});
