/**
 * `npm start` as a user runs it: a real npm process, on its own data folder and ports. It must
 * start everything, refuse a second launcher, let `npm run db:watch` publish a new table at once,
 * stop the whole stack on SIGTERM to the npm process and on Ctrl-C (SIGINT to the process group,
 * as a terminal sends it) within seconds, restart on the same data, rebuild with db:reset, leave
 * nothing running when start-up fails late, and refuse bad configuration with one clear line.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../db/launcher/config.ts';
import { freePort } from '../../db/launcher/ports.ts';
import type { ManagedProcess } from '../../db/launcher/process.ts';
import { alive, descendants, launcher, loginAt, npm, portOpen, processesUsing, stackEnv, stopLaunched } from '../support/processes.ts';
import { API_RESOURCES } from '../support/access-model.ts';

afterAll(stopLaunched);

const RUNNING = /HMS is running/;

/** The ports of a stack's variables. */
const portsOf = (env: Record<string, string>) => [env.HMS_PG_PORT, env.HMS_API_PORT, env.HMS_API_ADMIN_PORT, env.HMS_POSTGREST_PORT, env.HMS_MAIL_CATCHER_PORT].map(Number);

/** Waits (bounded) until none of the PIDs is alive and none of the ports accepts connections. */
async function expectAllGone(pids: number[], ports: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let open: number[] = [];
  while (Date.now() < deadline) {
    open = [];
    for (const port of ports) if (await portOpen(port)) open.push(port);
    if (alive(pids).length === 0 && open.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect({ alive: alive(pids), open }).toEqual({ alive: [], open: [] });
}

/**
 * A scratch copy of the repository's migration set-up (the npm scripts, .gmrc, db/, the committed
 * migrations) whose migrations/current/ holds only `files`, sharing node_modules: `npm run
 * db:watch` there changes a running stack's schema without touching the repository's own
 * work in progress.
 */
function scratchRepo(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hms-watch-'));
  for (const entry of ['package.json', '.gmrc', 'db', 'migrations']) cpSync(path.join(repoRoot, entry), path.join(dir, entry), { recursive: true });
  const current = path.join(dir, 'migrations', 'current');
  rmSync(current, { recursive: true, force: true });
  mkdirSync(current);
  for (const [name, sql] of Object.entries(files)) writeFileSync(path.join(current, name), sql);
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

describe('npm start', () => {
  it('starts the stack, refuses a second launcher, reloads the API schema on db:watch, stops on SIGTERM to npm and on Ctrl-C, restarts on the same data and rebuilds with db:reset', async () => {
    const env = await stackEnv();
    const api = `http://127.0.0.1:${env.HMS_API_PORT}/api`; // REST on the front's one origin
    const lock = path.join(env.HMS_DATA_DIR, 'launcher.pid');

    const first = npm(['start'], env);
    await first.waitForOutput(RUNNING, 120_000);
    expect(first.output()).toContain('demo data loaded');
    expect(first.output()).toContain('superadmin@hms.test');
    expect((await fetch(`http://127.0.0.1:${env.HMS_API_ADMIN_PORT}/ready`)).status).toBe(200);
    const token = await loginAt(api);
    const openapi = await (await fetch(`${api}/`, { headers: { Authorization: `Bearer ${token}` } })).json();
    expect(Object.keys(openapi.definitions).sort()).toEqual([...API_RESOURCES].sort());

    const second = launcher('start.ts', env);
    expect((await second.exited).code).toBe(2);
    expect(second.output().trim().split('\n')).toHaveLength(1);
    expect(second.output()).toMatch(/already running/);

    // db:watch applies migrations/current/ and PostgREST serves the new table at once (no restart).
    const probe = `${api}/watch_probe`;
    expect((await fetch(probe)).status).toBe(404);
    const scratch = scratchRepo({
      '1-watch-probe.sql': `drop table if exists app_public.watch_probe;
create table app_public.watch_probe (id int primary key);
grant select on app_public.watch_probe to :DATABASE_ANONYMOUS;
`,
    });
    try {
      const watch = npm(['run', 'db:watch', '--', '--once'], env, scratch);
      expect((await watch.exited).code, watch.output()).toBe(0);
      let status = 0;
      for (const deadline = Date.now() + 5_000; Date.now() < deadline && status !== 200; ) {
        status = (await fetch(probe)).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(status).toBe(200);
      expect(await (await fetch(probe)).json()).toEqual([]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }

    // SIGTERM to the npm process itself stops the launcher and every server it started.
    const tree = descendants(first.pid);
    expect(tree.length).toBeGreaterThan(2); // the launcher, PostgreSQL (and its workers), PostgREST
    expect(processesUsing(env.HMS_DATA_DIR).length).toBeGreaterThan(0);
    first.signal('SIGTERM');
    expect((await first.exited).code).toBe(0);
    await expectAllGone(tree, portsOf(env));
    expect(processesUsing(env.HMS_DATA_DIR)).toEqual([]);
    expect(existsSync(lock)).toBe(false);

    const again = npm(['start'], env);
    await again.waitForOutput(RUNNING, 120_000);
    expect(again.output()).not.toContain('demo data loaded');
    const count = await fetch(`${api}/patients?select=id`, { headers: { Authorization: `Bearer ${token}`, Prefer: 'count=exact' } });
    // The super admin works in one hospital at a time: NY has two of the five demo patients.
    expect(count.headers.get('content-range')).toBe('0-1/2');

    // Ctrl-C: SIGINT to the whole foreground process group, as a terminal sends it.
    const running = descendants(again.pid);
    const pressed = Date.now();
    process.kill(-again.pid, 'SIGINT');
    await again.exited;
    await expectAllGone(running, portsOf(env));
    const stopSeconds = (Date.now() - pressed) / 1000;
    console.log(`Ctrl-C stopped the whole stack in ${stopSeconds.toFixed(2)} s`);
    expect(stopSeconds).toBeLessThan(3);
    expect(again.exit!.code).toBe(0);
    expect(existsSync(lock)).toBe(false);

    const reset = launcher('setup.ts', env, ['--reset']);
    expect((await reset.exited).code, reset.output()).toBe(0);
    expect(reset.output()).toMatch(/database rebuilt, demo data loaded/);
    expect(processesUsing(env.HMS_DATA_DIR)).toEqual([]);
  }, 300_000);

  it('leaves nothing running when start-up fails after PostgreSQL started (the API port was taken meanwhile)', async () => {
    const env = await stackEnv();
    let blocker: net.Server | undefined;
    let run: ManagedProcess | undefined;
    const taken = new Promise<void>((resolve) => {
      // The moment PostgreSQL is up (migrations are still to come), something takes PostgREST's port.
      run = npm(['start'], env);
      void run.waitForOutput(/PostgreSQL ready on/, 120_000).then(() => {
        blocker = net.createServer().listen(Number(env.HMS_API_PORT), '127.0.0.1', resolve);
      });
    });
    try {
      await taken;
      const postgresPid = Number(/PostgreSQL ready on \S+ \(pid (\d+)\)/.exec(run!.output())![1]);
      expect(alive([postgresPid])).toEqual([postgresPid]);
      expect((await run!.exited).code).toBe(2);
      expect(run!.output().trim().split('\n').at(-1)).toMatch(/^hms: Port \d+ on 127\.0\.0\.1 is already in use \(HMS_API_PORT\)/);
      await expectAllGone([postgresPid], [Number(env.HMS_PG_PORT), Number(env.HMS_API_ADMIN_PORT), Number(env.HMS_POSTGREST_PORT)]);
      expect(processesUsing(env.HMS_DATA_DIR)).toEqual([]);
      expect(existsSync(path.join(env.HMS_DATA_DIR, 'launcher.pid'))).toBe(false);
    } finally {
      blocker?.close();
    }
  }, 180_000);
});

describe('bad configuration fails fast with one line', () => {
  async function expectRefusal(env: Record<string, string>, pattern: RegExp): Promise<void> {
    const run = launcher('start.ts', env);
    expect((await run.exited).code).toBe(2);
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
