/**
 * A real PostgreSQL 15 server for the tests that need one — Debian's postgresql-15, the oldest
 * version HMS supports, and the one Debian packages plpgsql_check for: the launcher's run
 * against an existing server (tests/launcher/external-postgres.test.ts) and the PL/pgSQL lint
 * (tests/db/plpgsql-lint.test.ts). Started the way the launcher starts its embedded server (as the
 * postgres system user when root), in a temporary folder on a free port; stop() removes both.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from '../../db/launcher/ports.ts';
import { startPostgresCluster } from '../../db/launcher/postgres.ts';

export const PG15_BIN = '/usr/lib/postgresql/15/bin';
const SUPERUSER_PASSWORD = 'root-secret';

export interface Pg15Server {
  dir: string;
  port: number;
  /** postgresql://postgres:…@127.0.0.1:<port>/postgres */
  rootUrl: string;
  stop(): Promise<void>;
}

export async function startPg15(): Promise<Pg15Server> {
  if (!existsSync(path.join(PG15_BIN, 'postgres'))) {
    throw new Error(`PostgreSQL 15 is not installed at ${PG15_BIN}: apt-get install -y postgresql-15 (then: pg_ctlcluster 15 main stop)`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'hms-pg15-'));
  const port = await freePort();
  try {
    const server = await startPostgresCluster({ binDir: PG15_BIN, pgdata: path.join(dir, 'data'), port, superuserPassword: SUPERUSER_PASSWORD });
    return {
      dir,
      port,
      rootUrl: `postgresql://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`,
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Debian's plpgsql_check for PostgreSQL 15: installed with apt-get when this process may (root),
 * otherwise the test stops with the exact command to run.
 */
export function ensurePlpgsqlCheck(): void {
  const control = '/usr/share/postgresql/15/extension/plpgsql_check.control';
  if (existsSync(control)) return;
  const command = 'apt-get install -y postgresql-15-plpgsql-check';
  if (userInfo().uid === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql-15-plpgsql-check'], { stdio: 'pipe', env });
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'pipe', env });
      execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql-15-plpgsql-check'], { stdio: 'pipe', env });
    }
  }
  if (!existsSync(control)) throw new Error(`plpgsql_check for PostgreSQL 15 is missing. Run:\n  ${command}`);
}
