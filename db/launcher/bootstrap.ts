/**
 * Superuser steps that migrations cannot do (DESIGN.md §4): the database roles (cluster-wide,
 * so created idempotently), the database itself, and the extensions. Safe to run on every start.
 *
 * Roles:
 *   owner          LOGIN BYPASSRLS, owns hms_db, runs migrations (the user of DATABASE_URL)
 *   authenticator  LOGIN NOINHERIT, no privileges; PostgREST/PostGraphile connect as it and
 *                  switch to anonymous or staff per request
 *   anonymous      NOLOGIN: before login
 *   staff          NOLOGIN: every logged-in member of staff
 *   worker         LOGIN NOINHERIT: the worker (graphile-worker); the job queue and the functions its
 *                  tasks call are granted to it by worker/src/install.ts and the migrations
 */
import pg from 'pg';
import { ConfigError, type HmsConfig } from './config.ts';

/** Extensions every migration may rely on (all trusted or shipped with PostgreSQL ≥ 15). */
export const EXTENSIONS = ['pgcrypto', 'citext', 'pg_trgm', 'btree_gist', 'btree_gin'];

const literal = (value: string) => "'" + value.replace(/'/g, "''") + "'";

async function ensureRole(client: pg.Client, name: string, attributes: string, password?: string): Promise<void> {
  const exists = await client.query('select 1 from pg_roles where rolname = $1', [name]);
  const pw = password === undefined ? '' : ` password ${literal(password)}`;
  if (exists.rowCount === 0) {
    await client.query(`create role ${pg.escapeIdentifier(name)} ${attributes}${pw}`);
  } else {
    await client.query(`alter role ${pg.escapeIdentifier(name)} ${attributes}${pw}`);
  }
}

/** Creates roles, the database (and its shadow for `db:commit` when asked) and extensions. */
export async function bootstrap(config: HmsConfig, options: { withShadow?: boolean; databaseName?: string } = {}): Promise<void> {
  const databaseName = options.databaseName ?? config.databaseName;
  const rootUrl = config.rootDatabaseUrl;
  if (!rootUrl) {
    // An existing server without superuser access: the DBA created roles and database already.
    await verifyPrepared(config);
    return;
  }
  const owner = new URL(config.databaseUrl);
  const root = new pg.Client({ connectionString: rootUrl });
  await root.connect();
  try {
    // The owner runs migrations and security definer functions: it bypasses row-level security
    // (those functions check tenancy themselves); every API role is subject to it.
    await ensureRole(root, config.roles.owner, 'login nosuperuser bypassrls', decodeURIComponent(owner.password) || undefined);
    await ensureRole(root, config.roles.authenticator, 'login noinherit nosuperuser nocreatedb nocreaterole', config.authenticatorPassword);
    await ensureRole(root, config.roles.anonymous, 'nologin');
    await ensureRole(root, config.roles.staff, 'nologin');
    await ensureRole(root, config.roles.worker, 'login noinherit nosuperuser nocreatedb nocreaterole', config.workerPassword);
    // Every request is bounded (issue 8 item 5): PostgREST 12 applies the settings of the role it
    // impersonates (it reads them when its configuration loads), so a runaway query as either
    // role is cancelled (57014, which the front answers as 504 HMS_STATEMENT_TIMEOUT). Set on the
    // role, not the database, so it also holds on an external server.
    await root.query(`alter role ${pg.escapeIdentifier(config.roles.anonymous)} set statement_timeout = ${literal(`${config.statementTimeoutMs.anonymous}ms`)}`);
    await root.query(`alter role ${pg.escapeIdentifier(config.roles.staff)} set statement_timeout = ${literal(`${config.statementTimeoutMs.staff}ms`)}`);
    await root.query(`grant ${pg.escapeIdentifier(config.roles.anonymous)}, ${pg.escapeIdentifier(config.roles.staff)} to ${pg.escapeIdentifier(config.roles.authenticator)}`);
    // The owner must be able to grant the API roles to nobody else but may need to SET ROLE in tests.
    await root.query(`grant ${pg.escapeIdentifier(config.roles.anonymous)}, ${pg.escapeIdentifier(config.roles.staff)} to ${pg.escapeIdentifier(config.roles.owner)}`);

    const names = options.withShadow ? [databaseName, `${databaseName}_shadow`] : [databaseName];
    for (const name of names) {
      const db = await root.query('select 1 from pg_database where datname = $1', [name]);
      if (db.rowCount === 0) await root.query(`create database ${pg.escapeIdentifier(name)} owner ${pg.escapeIdentifier(config.roles.owner)} encoding 'UTF8'`);
      await root.query(`revoke all on database ${pg.escapeIdentifier(name)} from public`);
      await root.query(`grant connect, temporary on database ${pg.escapeIdentifier(name)} to ${pg.escapeIdentifier(config.roles.authenticator)}`);
      await root.query(`grant connect on database ${pg.escapeIdentifier(name)} to ${pg.escapeIdentifier(config.roles.worker)}`);
      const url = new URL(rootUrl);
      url.pathname = '/' + name;
      const inDb = new pg.Client({ connectionString: url.toString() });
      await inDb.connect();
      try {
        for (const extension of EXTENSIONS) {
          await inDb.query(`create extension if not exists ${pg.escapeIdentifier(extension)} with schema public`);
        }
      } finally {
        await inDb.end();
      }
    }
  } finally {
    await root.end();
  }
}

/** Without ROOT_DATABASE_URL: check what bootstrap would have created, and say exactly what is missing. */
async function verifyPrepared(config: HmsConfig): Promise<void> {
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  try {
    const roles = [config.roles.authenticator, config.roles.anonymous, config.roles.staff, config.roles.worker];
    const found = await client.query('select rolname from pg_roles where rolname = any($1)', [roles]);
    const missing = roles.filter((role) => !found.rows.some((row) => row.rolname === role));
    const bypass = await client.query('select rolbypassrls from pg_roles where rolname = current_user');
    if (!bypass.rows[0]?.rolbypassrls) missing.push(`${config.roles.owner} BYPASSRLS`);
    const ext = await client.query('select extname from pg_extension where extname = any($1)', [EXTENSIONS]);
    const missingExt = EXTENSIONS.filter((name) => !ext.rows.some((row) => row.extname === name));
    if (missing.length || missingExt.length) {
      throw new ConfigError(
        `The database is not prepared (missing roles: ${missing.join(', ') || 'none'}; missing extensions: ${missingExt.join(', ') || 'none'}). ` +
          'Set ROOT_DATABASE_URL to a superuser connection so HMS can create them, or see README "Using an existing PostgreSQL".',
      );
    }
  } finally {
    await client.end();
  }
}
