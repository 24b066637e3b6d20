/**
 * GraphQL at /graphql on the front (issue 10 §2): PostGraphile 5 (preset amber) over app_public, in
 * the front's own process, with Ruru (GraphiQL) on GET /graphql for a browser.
 *
 * The same identity as PostgREST's (db/launcher/postgrest.ts, DESIGN §5):
 *   - it connects as the authenticator login (config.authenticatorUrl), no privileges of its own;
 *   - the bearer token is verified here, before anything reaches the database, exactly as PostgREST
 *     does (HS256, the same secret, aud "hms", exp/nbf with PostgREST's 30 s of clock skew); a bad
 *     token is refused with the front's row `token_invalid` of app_hidden.raw_errors (401
 *     HMS_SESSION_INVALID), PostgREST's PGRST301;
 *   - every transaction gets the settings PostgREST sets per request (pgSettings): `role` (the
 *     token's role, hms_staff, else the anonymous role), `request.jwt.claims` (the verified claims;
 *     {"role": <anonymous>} without a token, as PostgREST), `request.headers` (with the
 *     x-hms-client-address and x-request-id the front computes — app_private.request_client_address
 *     and write_audit_log read them — and the user agent), `request.method`, `request.path`
 *     (/graphql), PostgREST's search_path (app_public, public) and the role's own
 *     statement_timeout (PostgREST applies a role's settings when it switches to it; set_config of
 *     `role` does not, so it is read from pg_roles at start-up and set with the rest);
 *   - then PostgREST's db-pre-request, app_hidden.check_request(), runs first in the transaction
 *     (a wrapper of the pg adaptor's withPgClient, the one place every GraphQL transaction is
 *     opened): the identity is resolved once per transaction and a revoked session is refused
 *     before anything else runs.
 *
 * Errors (DESIGN §10): maskError turns every error into the HMS contract — `message` the human
 * sentence, `extensions.code` the HMS_* code and `extensions.status` the HTTP status REST answers:
 *   - a business error (app_hidden.raise_error: SQLSTATE PGRST, message JSON, detail {status});
 *   - a raw SQLSTATE through the one mapping app_hidden.raw_errors (the front's ErrorMap; 42501 is
 *     its 401 row before login, as PostgREST answers it);
 *   - the {code, message, …} answers login, refresh and change_password *return* with
 *     response.status set (so their failure bookkeeping commits): raised here as errors, the
 *     status from the registry (app_hidden.error_codes);
 *   - GraphQL's own refusals (a document that does not validate, a variable of the wrong type):
 *     HMS_BAD_REQUEST (400) with GraphQL's message, as the front answers fastify's 4xx;
 *   - anything else: HMS_INTERNAL_ERROR (500), revealing nothing, logged with the request id.
 *
 * Adapter: grafserv's fastify v5 adapter (grafserv 1.0.2 ships one), mounted in an encapsulated
 * fastify context so its JSON body parser does not replace the front's (the front hands REST
 * bodies on as streams).
 */
import './graphile-env.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHmac, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { postgraphile, type PostGraphileInstance } from 'postgraphile';
import * as pgAdaptor from 'postgraphile/@dataplan/pg/adaptors/pg';
import { makePgService } from 'postgraphile/adaptors/pg';
import { lambda } from 'postgraphile/grafast';
import { grafserv } from 'postgraphile/grafserv/fastify/v5';
import { GraphQLError, Kind, parse, type DocumentNode, type ObjectValueNode, type SelectionSetNode, type ValueNode } from 'postgraphile/graphql';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { makePgSmartTagsFromFilePlugin, wrapPlans } from 'postgraphile/utils';
import { repoRoot, type HmsConfig } from './config.ts';
import type { ErrorMap } from './front.ts';

/** The smart tags that shape the GraphQL schema (db/graphql/tags.json5). */
export const tagsFile = path.join(repoRoot, 'db', 'graphql', 'tags.json5');

/** The authentication mutations the front rate-limits (GraphQL field names of the RPCs). */
export const AUTH_MUTATIONS: Record<string, string> = { login: 'login', refresh: 'refresh', requestPasswordReset: 'request_password_reset' };

/** An error already in the HMS contract (thrown by this file's plans). */
class HmsError extends Error {
  readonly hms: { code: string; message: string; status: number; details: string | null; hint: string | null };
  constructor(hms: HmsError['hms']) {
    super(hms.message);
    this.hms = hms;
  }
}

interface Identity {
  role: string;
  claims: Record<string, unknown>;
  headers: Record<string, string>;
  method: string;
}

const base64urlJson = (part: string): Record<string, unknown> | null => {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
};

/** PostgREST 12's allowed clock skew on exp, nbf and iat. */
const CLOCK_SKEW_SECONDS = 30;

/**
 * The claims of a bearer token as PostgREST verifies it (HS256 with the secret, aud "hms" when the
 * token names an audience, exp/nbf/iat within the skew, a role it may switch to), or the reason
 * it is refused. PostgREST accepts a token without aud; check_request then refuses it.
 */
export function verifyToken(token: string, config: Pick<HmsConfig, 'jwtSecret' | 'roles'>, now = Date.now() / 1000): { claims: Record<string, unknown> } | { reason: string } {
  const parts = token.split('.');
  if (parts.length !== 3) return { reason: 'The token is not a JWT.' };
  const header = base64urlJson(parts[0]);
  if (header?.alg !== 'HS256') return { reason: 'The token is not signed with HS256.' };
  const expected = createHmac('sha256', config.jwtSecret).update(`${parts[0]}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { reason: 'The token signature is not valid.' };
  const claims = base64urlJson(parts[1]);
  if (!claims) return { reason: 'The token claims are not a JSON object.' };
  if (claims.exp !== undefined && !(typeof claims.exp === 'number' && claims.exp + CLOCK_SKEW_SECONDS > now)) return { reason: 'JWT expired' };
  if (claims.nbf !== undefined && !(typeof claims.nbf === 'number' && claims.nbf - CLOCK_SKEW_SECONDS <= now)) return { reason: 'JWT not yet valid' };
  if (claims.iat !== undefined && !(typeof claims.iat === 'number' && claims.iat - CLOCK_SKEW_SECONDS <= now)) return { reason: 'JWT issued at future' };
  if (claims.aud !== undefined) {
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes('hms')) return { reason: 'JWT not in audience' };
  }
  const role = claims.role ?? config.roles.anonymous;
  if (role !== config.roles.staff && role !== config.roles.anonymous) return { reason: 'The token names a role the API does not switch to.' };
  return { claims };
}

/** statement_timeout of each API role as the database holds it (ALTER ROLE … SET, db/launcher/bootstrap.ts). */
async function roleTimeouts(config: HmsConfig): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: config.authenticatorUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ rolname: string; timeout: string | null }>(
      `select rolname, (select substr(s, length('statement_timeout=') + 1) from unnest(rolconfig) s where s like 'statement_timeout=%') as timeout
         from pg_catalog.pg_roles where rolname = any($1)`,
      [[config.roles.anonymous, config.roles.staff]],
    );
    return Object.fromEntries(rows.filter((row) => row.timeout).map((row) => [row.rolname, row.timeout!]));
  } finally {
    await client.end();
  }
}

/** HTTP status of every registered HMS code (app_hidden.error_codes, readable by the anonymous role). */
async function registryStatuses(config: HmsConfig): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: config.authenticatorUrl });
  await client.connect();
  try {
    await client.query(`set role ${pg.escapeIdentifier(config.roles.anonymous)}`);
    const exists = await client.query(`select to_regclass('app_hidden.error_codes') is not null as present`);
    if (!exists.rows[0].present) return new Map();
    const { rows } = await client.query<{ code: string; http_status: number }>(`select code, http_status from app_hidden.error_codes`);
    return new Map(rows.map((row) => [row.code, row.http_status]));
  } finally {
    await client.end();
  }
}

/**
 * login, refresh and change_password return their failures as {code, message, details, hint}
 * (with response.status for PostgREST) so the failure counter and the audit row commit. In
 * GraphQL that value becomes an error of the `result` field; the transaction has committed.
 */
function returnedErrorsPlugin(statuses: () => Map<string, number>): GraphileConfig.Plugin {
  return wrapPlans(
    (context, build, field) => {
      const scope = context.scope as { isMutationPayload?: boolean; fieldName?: string };
      // Only a JSON/scalar result can be such an answer; a row result keeps its own plan (a lambda has no .get()).
      return scope.isMutationPayload && scope.fieldName === 'result' && build.graphql.isLeafType(build.graphql.getNamedType(field.type)) ? {} : null;
    },
    () => (plan) =>
      lambda(plan(), (value: unknown) => {
        const body = value as { code?: unknown; message?: unknown; details?: unknown; hint?: unknown } | null;
        if (body && typeof body === 'object' && typeof body.code === 'string' && body.code.startsWith('HMS_') && typeof body.message === 'string') {
          throw new HmsError({
            code: body.code,
            message: body.message,
            status: statuses().get(body.code) ?? 400,
            details: body.details == null ? null : typeof body.details === 'string' ? body.details : JSON.stringify(body.details),
            hint: typeof body.hint === 'string' ? body.hint : null,
          });
        }
        return value;
      }),
  );
}

/**
 * A workflow RPC and a table's plain mutation may want the same name (create_prescription and the
 * insert into prescriptions both make `createPrescription`, update_prescription and the update of
 * prescriptions `updatePrescription`): the RPC keeps it — it is the workflow, named as REST's
 * /rpc/create_prescription — and the plain mutation of that table becomes `…Row`
 * (`createPrescriptionRow`, `updatePrescriptionRow`, with their input and payload types).
 */
type Inflection = GraphileBuild.Inflection;
type AnyResource = { registry: { pgResources: Record<string, { name: string; parameters?: unknown }> } };
function rpcTakes(inflection: Inflection, name: string, resource: AnyResource): boolean {
  return Object.values(resource.registry.pgResources).some((r) => r.parameters && inflection.camelCase(r.name) === name);
}
const avoidRpc = (inflection: Inflection, name: string, resource: AnyResource) => (rpcTakes(inflection, name, resource) ? `${name}Row` : name);
const RowMutationNamesPlugin: GraphileConfig.Plugin = {
  name: 'HmsRowMutationNamesPlugin',
  version: '1.0.0',
  description: 'Plain table mutations whose name a workflow RPC takes are named …Row.',
  inflection: {
    replace: {
      createField(previous, _options, resource) {
        return avoidRpc(this, previous!(resource), resource as unknown as AnyResource);
      },
      updateNodeField(previous, _options, details) {
        return avoidRpc(this, previous!(details), details.resource as unknown as AnyResource);
      },
      deleteNodeField(previous, _options, details) {
        return avoidRpc(this, previous!(details), details.resource as unknown as AnyResource);
      },
      updatePayloadType(previous, _options, details) {
        const resource = details.resource as unknown as AnyResource;
        const verb = this.camelCase(`update-${this._singularizedResourceName(details.resource)}`);
        return rpcTakes(this, verb, resource) ? this.upperCamelCase(`${verb}-row-payload`) : previous!(details);
      },
      deletePayloadType(previous, _options, details) {
        const resource = details.resource as unknown as AnyResource;
        const verb = this.camelCase(`delete-${this._singularizedResourceName(details.resource)}`);
        return rpcTakes(this, verb, resource) ? this.upperCamelCase(`${verb}-row-payload`) : previous!(details);
      },
    },
  },
};

/** The settings PostgREST gives a request, for this request's identity. */
function pgSettingsOf(identity: Identity, timeouts: Record<string, string>): Record<string, string> {
  return {
    role: identity.role,
    'request.jwt.claims': JSON.stringify(identity.claims),
    'request.headers': JSON.stringify(identity.headers),
    'request.method': identity.method,
    'request.path': '/graphql',
    search_path: 'app_public, public',
    ...(timeouts[identity.role] ? { statement_timeout: timeouts[identity.role] } : {}),
  };
}

/**
 * The pg adaptor with PostgREST's pre-request: every transaction opened with request settings
 * calls app_hidden.check_request() first. Errors raised inside are marked with whether the
 * request was anonymous (42501 then answers 401, as PostgREST does) and its request id.
 */
function adaptorWithPreRequest(anonymousRole: string): typeof pgAdaptor {
  return {
    ...pgAdaptor,
    createWithPgClient: (...args: Parameters<typeof pgAdaptor.createWithPgClient>) => {
      const inner = pgAdaptor.createWithPgClient(...args);
      const withPgClient = (async (pgSettings, callback) => {
        if (!pgSettings?.role) return inner(pgSettings, callback); // introspection, no request
        try {
          return await inner(pgSettings, async (client) => {
            await client.query({ text: 'select app_hidden.check_request()' });
            return callback(client);
          });
        } catch (error) {
          if (error && typeof error === 'object') {
            const headers = JSON.parse(pgSettings['request.headers'] ?? '{}');
            Object.assign(error, { hmsAnonymous: pgSettings.role === anonymousRole, hmsRequestId: headers['x-request-id'] });
          }
          throw error;
        }
      }) as typeof inner;
      withPgClient.release = inner.release;
      return withPgClient;
    },
  } as unknown as typeof pgAdaptor;
}

function withAdaptor<T extends { adaptor: unknown }>(service: T, adaptor: typeof pgAdaptor): T {
  return { ...service, adaptor };
}

export interface GraphqlOptions {
  config: HmsConfig;
  /** Connection pool (the front's, or the schema script's). */
  pool: pg.Pool;
  errors?: ErrorMap;
  log?: (line: string) => void;
  /** The settings of a request (the front); the schema script has no requests. */
  pgSettings?: (requestContext: Partial<Grafast.RequestContext>) => Record<string, string> | null;
  statuses?: () => Map<string, number>;
}

/** The preset of HMS's GraphQL API: shared by the front and db/scripts/graphql-schema.ts. */
export function graphqlPreset(options: GraphqlOptions): GraphileConfig.Preset {
  const { config } = options;
  const errors = options.errors;
  const log = options.log ?? (() => {});
  return {
    extends: [PostGraphileAmberPreset],
    plugins: [makePgSmartTagsFromFilePlugin(tagsFile), RowMutationNamesPlugin, returnedErrorsPlugin(options.statuses ?? (() => new Map()))],
    pgServices: [
      // makePgService fixes the adaptor to @dataplan/pg's own: ours wraps its withPgClient.
      withAdaptor(makePgService({
        pool: options.pool,
        schemas: ['app_public'],
        pgSettings: options.pgSettings ? (ctx) => options.pgSettings!(ctx) ?? {} : undefined,
        // Introspected as the authenticator; ignoreRBAC: false (amber's default) then exposes what
        // the roles it may become (anonymous, staff) are granted: a table, column or function
        // without a grant is not in the schema, and create/update/delete mutations exist only where
        // the staff role holds INSERT/UPDATE/DELETE — the writes REST allows.
        pgSettingsForIntrospection: null,
      }), adaptorWithPreRequest(config.roles.anonymous)),
    ],
    grafserv: {
      graphqlPath: '/graphql',
      // Ruru on GET /graphql for a browser; GraphQL itself only over POST (a GET never runs a
      // query, so request.method is always POST, and check_request's GET rule never applies).
      graphiql: true,
      graphiqlOnGraphQLGET: true,
      graphiqlPath: '/graphql/ruru', // the same page; GET /graphql is the address to give
      graphiqlStaticPath: '/graphql/ruru-static/',
      graphqlOverGET: false,
      websockets: false,
      maxRequestLength: config.maxBodyBytes,
      maskError: (error: GraphQLError) => maskError(error, errors, log),
    },
    grafast: { explain: false },
  };
}

/** The HMS error of a GraphQL error (see the file comment). */
export function maskError(error: GraphQLError, errors: ErrorMap | undefined, log: (line: string) => void): GraphQLError {
  const hms = hmsErrorOf(error, errors, log);
  return new GraphQLError(hms.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { code: hms.code, status: hms.status, details: hms.details, hint: hms.hint },
  });
}

type HmsBody = { code: string; message: string; status: number; details: string | null; hint: string | null };

function hmsErrorOf(error: GraphQLError, errors: ErrorMap | undefined, log: (line: string) => void): HmsBody {
  const original = error.originalError as (Error & { code?: unknown; detail?: unknown; severity?: unknown; hmsAnonymous?: boolean; hmsRequestId?: string }) | undefined;
  if (original instanceof HmsError) return original.hms;
  const internal = (requestId?: string): HmsBody => {
    log(`graphql: request ${requestId ?? '?'} failed: ${original?.stack ?? original?.message ?? error.message}`);
    const own = errors?.own('internal', { request_id: requestId ?? null });
    return { ...(own?.body ?? { code: 'HMS_INTERNAL_ERROR', message: 'The server failed unexpectedly.', details: null, hint: null }), status: own?.status ?? 500 };
  };
  if (original && typeof original.code === 'string' && typeof original.severity === 'string') {
    // A PostgreSQL error.
    if (original.code === 'PGRST') {
      // app_hidden.raise_error: the HMS body in the message, the status in the detail.
      try {
        const body = JSON.parse(original.message);
        const detail = typeof original.detail === 'string' ? JSON.parse(original.detail) : {};
        return { code: body.code, message: body.message, details: body.details ?? null, hint: body.hint ?? null, status: Number(detail.status) || 400 };
      } catch {
        return internal(original.hmsRequestId);
      }
    }
    // PostgREST answers 42501 with 401 before login, 403 after: the mapping's narrower row.
    // A data exception (class 22) not mapped on its own (GraphQL passes first: -1 to LIMIT: 2201W)
    // is bad input like 22P02: answered with that row.
    const row = errors?.find(original.code, original.code === '42501' && original.hmsAnonymous ? 401 : undefined)
      ?? (original.code.startsWith('22') ? errors?.find('22P02') : undefined);
    if (row) {
      const raw = [original.message, typeof original.detail === 'string' ? original.detail : ''].filter(Boolean).join(' — ');
      return { code: row.code, message: row.message, status: row.http_status, details: row.keep_details ? raw : null, hint: null };
    }
    return internal(original.hmsRequestId);
  }
  if (!original || original instanceof GraphQLError) {
    // GraphQL's own refusal of the document or of a variable: bad input, said as GraphQL says it.
    return { code: 'HMS_BAD_REQUEST', message: error.message, status: 400, details: null, hint: null };
  }
  return internal();
}

/** The HMS error body of a GraphQL answer that never reached PostgraPhile (token, rate limit, …). */
export function graphqlErrorBody(answer: { status: number; body: { code: string; message: string; details: string | null; hint: string | null } }): string {
  const { code, message, details, hint } = answer.body;
  return JSON.stringify({ errors: [{ message, extensions: { code, status: answer.status, details, hint } }] });
}

/**
 * The authentication mutations a GraphQL request calls (login, refresh, requestPasswordReset), with
 * the email each names (literal or from the variables): the front counts each against its limits.
 */
export function authCallsOf(body: unknown): { field: string; email: string | null }[] {
  if (!body || typeof body !== 'object') return [];
  const { query, variables, operationName } = body as { query?: unknown; variables?: unknown; operationName?: unknown };
  if (typeof query !== 'string') return [];
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch {
    return []; // PostGraphile refuses it
  }
  const vars = variables && typeof variables === 'object' ? (variables as Record<string, unknown>) : {};
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])));
  const calls: { field: string; email: string | null }[] = [];
  const valueOf = (node: ValueNode | undefined): unknown => {
    if (!node) return undefined;
    if (node.kind === Kind.VARIABLE) return vars[node.name.value];
    if (node.kind === Kind.STRING) return node.value;
    if (node.kind === Kind.OBJECT) return Object.fromEntries((node as ObjectValueNode).fields.map((f) => [f.name.value, valueOf(f.value)]));
    return undefined;
  };
  const walk = (selections: SelectionSetNode, seen: Set<string>) => {
    for (const selection of selections.selections) {
      if (selection.kind === Kind.FIELD) {
        if (!(selection.name.value in AUTH_MUTATIONS)) continue;
        const input = valueOf(selection.arguments?.find((a) => a.name.value === 'input')?.value) as Record<string, unknown> | undefined;
        const email = input && typeof input === 'object' && typeof input.email === 'string' ? input.email : null;
        calls.push({ field: selection.name.value, email });
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, seen);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet, new Set([...seen, selection.name.value]));
      }
    }
  };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION || definition.operation !== 'mutation') continue;
    if (typeof operationName === 'string' && operationName && definition.name?.value !== operationName) continue;
    walk(definition.selectionSet, new Set());
  }
  return calls;
}

/** A refusal of the front's (status, HMS body, extra headers). */
export interface Refusal {
  status: number;
  body: { code: string; message: string; details: string | null; hint: string | null };
  headers?: Record<string, string>;
}

export interface MountedGraphql {
  pgl: PostGraphileInstance;
  stop(): Promise<void>;
}

/**
 * Mounts /graphql (POST) and Ruru (GET /graphql) on the front. `beforeGraphql` runs before the
 * token is looked at (the front's rate limits); `sendError` answers a refusal in GraphQL's shape.
 */
export async function mountGraphql(
  app: FastifyInstance,
  options: {
    config: HmsConfig;
    errors: ErrorMap;
    log?: (line: string) => void;
    beforeGraphql?: (request: FastifyRequest, body: unknown) => Promise<Refusal | null>;
    clientHeaders: (request: FastifyRequest) => Record<string, string>;
  },
): Promise<MountedGraphql> {
  const { config, errors } = options;
  const log = options.log ?? (() => {});
  const pool = new pg.Pool({ connectionString: config.authenticatorUrl, max: 10, idleTimeoutMillis: 30_000 });
  pool.on('error', () => {}); // a dropped idle connection: the next request reconnects
  // A connection dropped while checked out (the database restarted mid-request) emits 'error' on
  // its client, which @dataplan/pg does not listen to: unheard, it would end the process. The
  // request in flight fails with the error; on release pg-pool discards the broken client.
  pool.on('connect', (client) => client.on('error', () => {}));
  const [timeouts, statuses] = await Promise.all([roleTimeouts(config), registryStatuses(config)]);
  const identities = new WeakMap<FastifyRequest, Identity>();
  const preset = graphqlPreset({
    config,
    pool,
    errors,
    log,
    statuses: () => statuses,
    pgSettings: (ctx) => {
      const request = ctx.fastifyv5?.request;
      const identity = request && identities.get(request);
      // No identity, no settings: without a role the transaction would run as the authenticator,
      // which holds nothing — but never let it get that far.
      if (!identity) throw new Error('GraphQL request without an identity');
      return pgSettingsOf(identity, timeouts);
    },
  });
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);

  const refuse = (reply: FastifyReply, answer: { status: number; body: { code: string; message: string; details: string | null; hint: string | null } }) =>
    reply.code(answer.status).header('content-type', 'application/json; charset=utf-8').send(graphqlErrorBody(answer));

  await app.register(async (scope) => {
    // Bodies of /graphql as buffers (grafserv parses them); the front's stream parser stays on /api.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    scope.addHook('preHandler', async (request, reply) => {
      if (request.method !== 'POST') return;
      let body: unknown = null;
      try {
        body = JSON.parse((request.body as Buffer | undefined)?.toString('utf8') ?? '');
      } catch {
        body = null; // grafserv answers it
      }
      const refusal = await options.beforeGraphql?.(request, body);
      if (refusal) {
        for (const [name, value] of Object.entries(refusal.headers ?? {})) reply.header(name, value);
        return refuse(reply, refusal);
      }
      const authorization = request.headers.authorization;
      let claims: Record<string, unknown> = { role: config.roles.anonymous };
      if (authorization !== undefined) {
        const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
        const verified = match ? verifyToken(match[1], config) : { reason: 'The Authorization header is not "Bearer <token>".' };
        if ('reason' in verified) return refuse(reply, errors.own('token_invalid', { reason: verified.reason }));
        claims = verified.claims;
      }
      identities.set(request, {
        role: String(claims.role ?? config.roles.anonymous),
        claims,
        headers: options.clientHeaders(request),
        method: request.method,
      });
    });

    scope.addHook('onSend', async (request, reply, payload) => {
      // Ruru loads its scripts and styles from /graphql/ruru-static/ and runs an inline bootstrap:
      // helmet's CSP is relaxed for those answers only.
      if (request.method === 'GET' || request.method === 'HEAD') {
        reply.header('content-security-policy', "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; font-src 'self' data:");
        return payload;
      }
      // grafserv answers a document that does not parse or validate without maskError: those
      // errors get HMS_BAD_REQUEST here (every other error went through maskError already).
      if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
        try {
          const answer = JSON.parse(payload.toString());
          if (Array.isArray(answer?.errors) && answer.errors.some((e: { extensions?: { code?: unknown } }) => typeof e?.extensions?.code !== 'string')) {
            for (const e of answer.errors) {
              if (typeof e?.extensions?.code !== 'string') e.extensions = { ...e.extensions, code: 'HMS_BAD_REQUEST', status: 400, details: null, hint: null };
            }
            reply.removeHeader('content-length');
            return JSON.stringify(answer);
          }
        } catch {
          // not JSON: leave it
        }
      }
      return payload;
    });

    await serv.addTo(scope);
  });

  return {
    pgl,
    stop: async () => {
      await pgl.release(); // releases the server too
      await pool.end();
    },
  };
}
