/**
 * The job queue: graphile-worker's own schema (graphile_worker), owned by the worker's role and
 * installed or upgraded by graphile-worker's migrations as that role — at every start, after
 * HMS's migrations. graphile-worker protects its tables with row-level security that only their
 * owner passes, so the role that runs the jobs owns them; it owns nothing else.
 *
 * The very first install creates the schema, which needs CREATE on the database: with the
 * superuser connection (the embedded server, ROOT_DATABASE_URL) it is granted for the install and
 * revoked right after; without one, the DBA runs the same once (README, "Using an existing
 * PostgreSQL"). HMS's schema owner (migrations, security definer functions; it bypasses RLS) may
 * enqueue jobs (graphile_worker.add_job) and read the queue; no API role has any privilege on it.
 */
import pg from 'pg';
import { Logger, runMigrations } from 'graphile-worker';
import { inDatabaseOf, type HmsConfig } from '../../db/launcher/config.ts';

const quiet = new Logger(() => () => {});

async function asRoot(config: HmsConfig, databaseUrl: string, sql: string): Promise<void> {
  const root = new pg.Client({ connectionString: inDatabaseOf(config.rootDatabaseUrl!, databaseUrl) });
  await root.connect();
  try {
    await root.query(sql);
  } finally {
    await root.end();
  }
}

export async function installWorkerSchema(config: HmsConfig, databaseUrl = config.databaseUrl): Promise<void> {
  const worker = pg.escapeIdentifier(config.roles.worker);
  const database = pg.escapeIdentifier(decodeURIComponent(new URL(databaseUrl).pathname.slice(1)));
  const workerUrl = inDatabaseOf(config.workerUrl, databaseUrl);
  if (config.rootDatabaseUrl) await asRoot(config, databaseUrl, `grant create on database ${database} to ${worker}`);
  try {
    await runMigrations({ connectionString: workerUrl, logger: quiet });
  } finally {
    if (config.rootDatabaseUrl) await asRoot(config, databaseUrl, `revoke create on database ${database} from ${worker}`);
  }
  const client = new pg.Client({ connectionString: workerUrl });
  await client.connect();
  try {
    const owner = pg.escapeIdentifier(config.roles.owner);
    await client.query(`
      revoke all on schema graphile_worker from public;
      grant usage on schema graphile_worker to ${owner};
      grant execute on all functions in schema graphile_worker to ${owner};
      grant select, insert, update, delete on all tables in schema graphile_worker to ${owner};
      grant usage, select on all sequences in schema graphile_worker to ${owner};`);
  } finally {
    await client.end();
  }
}
