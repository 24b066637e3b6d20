/**
 * What tests that start HMS as a user does need besides the process helper
 * (db/launcher/process.ts): npm and the launcher as processes on a data folder and ports of their
 * own, a login through the launched API, and ways to see that everything they started is gone
 * (process trees from /proc, open ports).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../db/launcher/config.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { isAlive, spawnProcess, type ManagedProcess } from '../../db/launcher/process.ts';

const launched: ManagedProcess[] = [];
const dataDirs: string[] = [];

/** The variables of a stack of its own: a temporary data folder and free ports. */
export async function stackEnv(secret = 'launched-test-secret-0123456789abcdefghij'): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hms-launched-'));
  dataDirs.push(dataDir);
  return {
    HMS_DATA_DIR: dataDir,
    HMS_PG_PORT: String(await freePort()),
    HMS_API_PORT: String(await freePort()),
    HMS_API_ADMIN_PORT: String(await freePort()),
    HMS_POSTGREST_PORT: String(await freePort()),
    HMS_MAIL_CATCHER_PORT: String(await freePort()),
    HMS_JWT_SECRET: secret,
  };
}

/** Logs in through the launched stack's own login RPC; the access token. */
export async function loginAt(api: string, email = 'superadmin@hms.test'): Promise<string> {
  const response = await fetch(`${api}/rpc/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: 'Admin@123' }),
  });
  if (!response.ok) throw new Error(`login answered ${response.status}: ${await response.text()}`);
  return (await response.json()).access_token;
}

/** The environment a user's shell would give: PATH and HOME, plus the variables given. */
export function userEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env };
}

/**
 * `npm <args>` (npm start, npm run db:watch …) from the repository (or `cwd`), in a process
 * group of its own like a terminal's foreground job, so a test can send the group a Ctrl-C.
 */
export function npm(args: string[], env: Record<string, string>, cwd = repoRoot): ManagedProcess {
  const child = spawnProcess({ name: `npm ${args.join(' ')}`, command: 'npm', args, cwd, env: userEnv(env), detached: true });
  launched.push(child);
  return child;
}

/** `node db/launcher/<script>` directly, without npm. */
export function launcher(script: string, env: Record<string, string>, args: string[] = []): ManagedProcess {
  const child = spawnProcess({
    name: script,
    command: process.execPath,
    args: [path.join(repoRoot, 'db', 'launcher', script), ...args],
    cwd: repoRoot,
    env: userEnv(env),
  });
  launched.push(child);
  return child;
}

/** For afterAll: stops whatever a failed assertion left running, then removes the data folders. */
export async function stopLaunched(): Promise<void> {
  await Promise.all(launched.map((child) => child.stop()));
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may contain spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Every live process below `pid` (children, their children, …). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const parent = parentOf(Number(name));
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** PIDs of processes whose command line mentions the folder (postgres -D <dir>/pgdata, …). */
export function processesUsing(dir: string): number[] {
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

/** Those of the PIDs still alive. */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => isAlive(pid) && !isZombie(pid));
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * New York's day (HMS Core NY's), once at least ten minutes are left in it: near midnight a
 * walk-through cannot book today, so this waits for tomorrow. `query` runs SQL on the stack's database.
 */
export async function waitForRoomToday(query: (sql: string) => Promise<Record<string, any>[]>): Promise<string> {
  for (;;) {
    const [{ today, minutes_left }] = await query(
      `select (now() at time zone 'America/New_York')::date::text as today,
              extract(epoch from (date_trunc('day', now() at time zone 'America/New_York') + interval '1 day') - now() at time zone 'America/New_York')::int / 60 as minutes_left`,
    );
    // Two runs take well under a minute; ten minutes leaves slots and no midnight mid-run.
    if (minutes_left >= 10) return today;
    await new Promise((resolve) => setTimeout(resolve, (minutes_left + 1) * 60_000));
  }
}
