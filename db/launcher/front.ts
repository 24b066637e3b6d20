/**
 * The front: the one origin of HMS (issue 10 §1), a small fastify server in the launcher's own
 * process, in front of PostgREST (which listens on an internal 127.0.0.1 port only):
 *
 *   /          a placeholder page (the console comes later)
 *   /api/…     PostgREST (OpenAPI at /api/), through @fastify/reply-from
 *   /outbox/…  the messages the local mail catcher kept (holders of settings.manage)
 *   /health    200 once the database and PostgREST answer (and the worker runs, when it runs in
 *              this process), else 503
 *
 *   /graphql   GraphQL (PostGraphile 5, db/launcher/graphql.ts) in this process; Ruru on GET
 *
 * Libraries: fastify 5 (the server), @fastify/reply-from (the proxying — we need its onResponse
 * hook to bound and translate answers, which @fastify/http-proxy hides behind a stream pass-through),
 * @fastify/helmet (standard security headers on every answer) and @fastify/rate-limit (the
 * authentication RPCs, per client address and per email: its createRateLimit counters, checked by
 * hand because one request is counted against two keys and a GraphQL request may call login more
 * than once).
 *
 * What it adds to every request (issue 8 item 5, item 10, the error contract):
 *   - a request id of its own (X-Request-Id, sent to PostgREST — audit_logs.request_id — and back);
 *   - the client address in X-HMS-Client-Address, the only address the database believes: the
 *     socket's peer, or the X-Forwarded-For entry added by a peer listed in HMS_TRUSTED_PROXIES.
 *     Whatever the client sent in X-HMS-Client-Address or X-Forwarded-For is dropped;
 *   - bounds: the request body (HMS_MAX_BODY_BYTES), each text argument of an RPC
 *     (app_hidden.rpc_parameter_limits, 422 HMS_VALUE_TOO_LONG), the nesting of embeds in `select`
 *     (HMS_MAX_EMBED_DEPTH) and the size of the answer (HMS_MAX_RESPONSE_BYTES), refused with HMS
 *     codes; the statement timeout is the database's (role settings, db/launcher/bootstrap.ts);
 *   - raw errors (a SQLSTATE or a PGRST code) become registered HMS_* codes with human messages,
 *     through the one mapping app_hidden.raw_errors (read at start-up as the anonymous role over
 *     PostgREST's own login); an unexpected 5xx becomes HMS_INTERNAL_ERROR and reveals nothing.
 */
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import replyFrom from '@fastify/reply-from';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import pg from 'pg';
import type { HmsConfig } from './config.ts';
import { authCallsOf, mountGraphql, type MountedGraphql, type Refusal } from './graphql.ts';
import { assertPortFree } from './postgres.ts';
import { caughtMailFile, listCaughtMail } from '../../worker/src/delivery/mail-catcher.ts';

/** One row of app_hidden.raw_errors with the registry's status. */
export interface RawError {
  raw_code: string;
  upstream_status: number | null;
  code: string;
  message: string;
  keep_details: boolean;
  http_status: number;
}

/** The HMS error body, the same shape app_hidden.raise_error gives PostgREST. */
export interface ErrorBody {
  code: string;
  message: string;
  details: string | null;
  hint: string | null;
}


/** Reads the mapping as the anonymous API role (the authenticator login PostgREST uses, no privileges of its own). */
export async function loadRawErrors(config: HmsConfig): Promise<RawError[]> {
  const client = new pg.Client({ connectionString: config.authenticatorUrl });
  await client.connect();
  try {
    await client.query(`set role ${pg.escapeIdentifier(config.roles.anonymous)}`);
    // Before migration 0500 is committed, `npm start` (committed migrations only) has no mapping:
    // the front then passes raw errors and answers its own refusals as HMS_INTERNAL_ERROR.
    const exists = await client.query(`select to_regclass('app_hidden.raw_errors') is not null as present`);
    if (!exists.rows[0].present) return [];
    const { rows } = await client.query<RawError>(`
      select r.raw_code, r.upstream_status, r.code, r.message, r.keep_details, e.http_status
        from app_hidden.raw_errors r join app_hidden.error_codes e on e.code = r.code`);
    return rows;
  } finally {
    await client.end();
  }
}

/** The longest value each text parameter of each RPC takes (app_hidden.rpc_parameter_limits). */
export type ParameterLimits = Map<string, Map<string, number>>;

export async function loadParameterLimits(config: HmsConfig): Promise<ParameterLimits> {
  const client = new pg.Client({ connectionString: config.authenticatorUrl });
  await client.connect();
  try {
    await client.query(`set role ${pg.escapeIdentifier(config.roles.anonymous)}`);
    const exists = await client.query(`select to_regclass('app_hidden.rpc_parameter_limits') is not null as present`);
    if (!exists.rows[0].present) return new Map();
    const { rows } = await client.query<{ function_name: string; parameter_name: string; max_length: number }>(
      `select function_name, parameter_name, max_length from app_hidden.rpc_parameter_limits`);
    const limits: ParameterLimits = new Map();
    for (const row of rows) {
      if (!limits.has(row.function_name)) limits.set(row.function_name, new Map());
      limits.get(row.function_name)!.set(row.parameter_name, row.max_length);
    }
    return limits;
  } finally {
    await client.end();
  }
}

/**
 * The first RPC argument longer than its parameter allows (query string or JSON object body), in
 * characters as PostgreSQL counts them, or null.
 */
export function overlongArgument(limits: Map<string, number> | undefined, query: URLSearchParams, body: Buffer | undefined):
  { parameter: string; max_length: number } | null {
  if (!limits) return null;
  const values: [string, unknown][] = [...query.entries()];
  if (body?.length) {
    try {
      const parsed = JSON.parse(body.toString('utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) values.push(...Object.entries(parsed));
    } catch {
      // Not JSON: PostgREST answers that itself.
    }
  }
  for (const [name, value] of values) {
    const max = limits.get(name);
    if (max !== undefined && typeof value === 'string' && value.length > max && [...value].length > max) {
      return { parameter: name, max_length: max };
    }
  }
  return null;
}

/** The mapping as the front applies it: the row narrowed to PostgREST's status wins over the general one. */
export class ErrorMap {
  private readonly rows = new Map<string, RawError>();

  constructor(rows: RawError[]) {
    for (const row of rows) this.rows.set(`${row.raw_code}|${row.upstream_status ?? ''}`, row);
  }

  find(rawCode: string, upstreamStatus?: number): RawError | undefined {
    return this.rows.get(`${rawCode}|${upstreamStatus ?? ''}`) ?? this.rows.get(`${rawCode}|`);
  }

  /** The front's own refusal (a row of source 'front'): its status and body. */
  own(key: string, details: Record<string, unknown> | null = null): { status: number; body: ErrorBody } {
    const row = this.find(key);
    if (!row) {
      return { status: 500, body: { code: 'HMS_INTERNAL_ERROR', message: `The front's error mapping (app_hidden.raw_errors) has no row "${key}".`, details: null, hint: null } };
    }
    return { status: row.http_status, body: { code: row.code, message: row.message, details: details && JSON.stringify(details), hint: null } };
  }

  /**
   * An upstream error answer, translated: HMS_* answers pass unchanged; a mapped raw code gets its
   * HMS code, message and the registry's status (the raw message under details only where the row
   * says so, with PostgREST's hint); an unmapped 5xx becomes HMS_INTERNAL_ERROR; other unmapped 4xx pass.
   */
  translate(status: number, raw: Partial<ErrorBody> | null, requestId: string): { status: number; body: unknown } | null {
    const code = typeof raw?.code === 'string' ? raw.code : undefined;
    if (code?.startsWith('HMS_')) return null;
    const row = code ? this.find(code, status) : undefined;
    if (row) {
      const original = [raw?.message, raw?.details].filter((part) => typeof part === 'string' && part !== '').join(' — ');
      return {
        status: row.http_status,
        body: {
          code: row.code,
          message: row.message,
          details: row.keep_details && original ? original : null,
          hint: row.keep_details && typeof raw?.hint === 'string' ? raw.hint : null,
        },
      };
    }
    if (status >= 500) return this.own('internal', { request_id: requestId });
    return null;
  }
}

/** The email an authentication RPC names (JSON body, else the query string), or null. */
function emailInBody(query: URLSearchParams, body: Buffer | undefined): string | null {
  if (body?.length) {
    try {
      const parsed = JSON.parse(body.toString('utf8'));
      if (parsed && typeof parsed === 'object' && typeof parsed.email === 'string') return parsed.email;
    } catch {
      // Not JSON: PostgREST answers that itself.
    }
  }
  return query.get('email');
}

/** The deepest nesting of embedded resources in a PostgREST `select` (`*,a(*,b(*))` → 2). */
export function embedDepth(select: string): number {
  let depth = 0;
  let max = 0;
  let quoted = false;
  for (const char of select) {
    if (char === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (char === '(') max = Math.max(max, ++depth);
    else if (char === ')') depth = Math.max(0, depth - 1);
  }
  return max;
}

export interface FrontOptions {
  /** Overrides of the configuration (tests start a second front with other bounds). */
  config: HmsConfig;
  errors?: RawError[];
  parameterLimits?: ParameterLimits;
  log?: (line: string) => void;
  /** When the worker runs in this process: whether it is running (reported by /health). */
  workerRunning?: () => boolean;
  /** Serve /graphql (default: whenever the configuration has the JWT secret). */
  graphql?: boolean;
}

export interface FrontServer {
  url: string;
  apiUrl: string;
  app: FastifyInstance;
  stop(): Promise<void>;
}

const PLACEHOLDER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HMS</title></head>
<body><h1>HMS</h1>
<p>The console comes here. The REST API is at <a href="/api/">/api/</a> (its OpenAPI document), GraphQL at <a href="/graphql">/graphql</a>, readiness at <a href="/health">/health</a>.</p>
</body></html>
`;

/** Headers a client never sets for the database: the front decides them. */
const DROPPED_REQUEST_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-real-ip', 'x-hms-client-address', 'x-request-id'];

/** The request headers the database sees (request.headers): the client's, with the front's address and request id. */
function databaseHeaders(request: FastifyRequest, headers: Record<string, unknown> = request.headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !DROPPED_REQUEST_HEADERS.includes(name)) out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  out['x-hms-client-address'] = request.ip;
  out['x-request-id'] = request.id;
  return out;
}

/** The authentication RPCs the front rate-limits (issue 10 §1), by REST name. */
const AUTH_RPCS = new Set(['login', 'refresh', 'request_password_reset']);

/** The defaults of config.ts, for a front started with a partial configuration (tests). */
const DEFAULT_AUTH_RATE_LIMIT = { perAddress: 30, perEmail: 10, windowMs: 60_000 };

/**
 * A refused body may still be on its way when the 413 is ready: fastify refuses on the
 * Content-Length alone and closes the connection, and closing a socket with unread data resets it,
 * so a client still writing gets EPIPE/ECONNRESET instead of the 413. The front reads the rest and
 * throws it away first (nginx's "lingering close"), bounded in bytes and time: past the bound the
 * 413 goes out and the connection closes as before.
 */
const DISCARD_MAX_BYTES = 64 * 1_048_576;
const DISCARD_MAX_MS = 10_000;

function discardRestOfBody(request: IncomingMessage): Promise<void> {
  if (request.complete || request.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      request.off('data', onData).off('end', done).off('error', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DISCARD_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DISCARD_MAX_MS);
    request.on('data', onData).once('end', done).once('error', done).once('close', done);
    request.resume();
  });
}

/** Headers of PostgREST's answer that no longer describe a body the front replaced. */
const BODY_HEADERS = ['content-length', 'content-range', 'content-location', 'location', 'preference-applied'];

export async function startFront(options: FrontOptions): Promise<FrontServer> {
  const { config } = options;
  const log = options.log ?? (() => {});
  const errors = new ErrorMap(options.errors ?? (await loadRawErrors(config)));
  const parameterLimits = options.parameterLimits ?? (await loadParameterLimits(config));
  const upstream = config.postgrestUrl.replace(/\/$/, '');
  const health = new pg.Pool({ connectionString: config.authenticatorUrl, max: 1, idleTimeoutMillis: 10_000 });
  health.on('error', () => {}); // a dropped idle connection: the next check reconnects

  const app = Fastify({
    logger: false,
    bodyLimit: config.maxBodyBytes,
    // X-Forwarded-For is believed only from the configured proxies (proxy-addr's rules).
    trustProxy: config.trustedProxies.length ? config.trustedProxies : false,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
  });
  await app.register(helmet, { global: true });
  // The authentication RPCs: one counter per client address and one per email (normalised as
  // login does: trimmed, lower case), each attempt counted against both, in fastify's memory.
  await app.register(rateLimit, { global: false });
  const limits = config.authRateLimit ?? DEFAULT_AUTH_RATE_LIMIT;
  const byAddress = app.createRateLimit({ max: limits.perAddress, timeWindow: limits.windowMs, keyGenerator: (request) => `address|${request.ip}` });
  const emailOf = new WeakMap<FastifyRequest, string>();
  const byEmail = app.createRateLimit({ max: limits.perEmail, timeWindow: limits.windowMs, keyGenerator: (request) => `email|${emailOf.get(request)}` });
  /** Counts the authentication calls of one request; the refusal when a limit is passed. */
  const authRefusal = async (request: FastifyRequest, calls: { email: string | null }[]): Promise<Refusal | null> => {
    let retryAfter = 0;
    for (const call of calls) {
      const checks = [await byAddress(request)];
      if (call.email !== null) {
        emailOf.set(request, call.email.trim().toLowerCase());
        checks.push(await byEmail(request));
      }
      for (const check of checks) {
        if (!check.isAllowed && check.isExceeded) retryAfter = Math.max(retryAfter, check.ttlInSeconds ?? 1);
      }
    }
    if (!retryAfter) return null;
    const own = errors.own('rate_limited', { retry_after_seconds: retryAfter });
    return { ...own, headers: { 'retry-after': String(retryAfter) } };
  };
  await app.register(replyFrom, { base: upstream, undici: { connections: 32, pipelining: 1 }, disableRequestLogging: true });

  const sendError = (reply: FastifyReply | { removeHeader(name: string): unknown; code(status: number): any }, answer: { status: number; body: unknown }) => {
    for (const name of BODY_HEADERS) reply.removeHeader(name);
    return (reply as FastifyReply).code(answer.status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(answer.body));
  };

  // Bodies travel to PostgREST as they came, bounded by bodyLimit (413 HMS_BODY_TOO_LARGE); the
  // bytes stay at hand for the RPC argument bounds.
  const bodyBytes = new WeakMap<FastifyRequest, Buffer>();
  app.removeAllContentTypeParsers();
  // Read whole (so the limit holds), handed on as a stream: reply-from then sends the bytes as they
  // came instead of re-encoding JSON.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    bodyBytes.set(request, body as Buffer);
    done(null, Readable.from([body]));
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.setErrorHandler(async (error: Error & { code?: string; statusCode?: number }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      await discardRestOfBody(request.raw);
      // Read to the end, the connection is as good as any other and stays open.
      if (request.raw.complete) reply.removeHeader('connection');
      return sendError(reply, errors.own('body_too_large', { limit_bytes: config.maxBodyBytes }));
    }
    if ((error.statusCode ?? 500) < 500) {
      return sendError(reply, { status: error.statusCode!, body: { code: 'HMS_BAD_REQUEST', message: error.message, details: null, hint: null } });
    }
    log(`front: request ${request.id} failed: ${error.stack ?? error.message}`);
    return sendError(reply, errors.own('internal', { request_id: request.id }));
  });

  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PLACEHOLDER));

  /*
   * The local outbox (issue 10 §3): what the worker's mail catcher kept when HMS_SMTP_URL is unset,
   * for the console's outbox. Only for holders of settings.manage (who may read notification_queue
   * too), checked by asking PostgREST who the token is (/rpc/me: the same identity checks as any
   * request). With a real mail server the outbox is empty and says so.
   */
  const outboxAccess = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    const authorization = request.headers.authorization;
    const who = authorization
      ? await fetch(`${upstream}/rpc/me`, { method: 'POST', headers: { authorization, 'content-type': 'application/json', 'x-request-id': request.id, 'x-hms-client-address': request.ip }, body: '{}' }).catch(() => null)
      : null;
    if (!who?.ok) {
      await sendError(reply, errors.own('token_invalid'));
      return false;
    }
    const me = (await who.json()) as { permissions?: string[] };
    if (!me.permissions?.includes('settings.manage')) {
      await sendError(reply, { status: 403, body: { code: 'HMS_FORBIDDEN', message: 'The outbox is for holders of settings.manage.', details: JSON.stringify({ permission: 'settings.manage' }), hint: null } });
      return false;
    }
    return true;
  };
  app.get('/outbox/mail', async (request, reply) => {
    if (!(await outboxAccess(request, reply))) return reply;
    return reply.send({ catcher: config.delivery.smtpUrl === null, messages: config.delivery.smtpUrl === null ? listCaughtMail(config.delivery.outboxDir) : [] });
  });
  app.get<{ Params: { file: string } }>('/outbox/mail/:file', async (request, reply) => {
    if (!(await outboxAccess(request, reply))) return reply;
    const file = caughtMailFile(config.delivery.outboxDir, request.params.file);
    if (!file || config.delivery.smtpUrl !== null) {
      return sendError(reply, { status: 404, body: { code: 'HMS_NOT_FOUND', message: 'No such message in the outbox.', details: null, hint: null } });
    }
    return reply.type('message/rfc822').header('content-disposition', `attachment; filename="${request.params.file}"`).send(readFileSync(file));
  });

  app.get('/health', async (_request, reply) => {
    const check = async (probe: () => Promise<boolean>) => {
      try {
        return (await probe()) ? 'ok' : 'unavailable';
      } catch {
        return 'unavailable';
      }
    };
    const [database, postgrest] = await Promise.all([
      check(async () => (await health.query('select 1 as ok')).rows[0]?.ok === 1),
      check(async () => (await fetch(`${upstream}/`, { method: 'HEAD', signal: AbortSignal.timeout(5000) })).ok),
    ]);
    const worker = options.workerRunning ? (options.workerRunning() ? 'ok' : 'unavailable') : undefined;
    const ready = database === 'ok' && postgrest === 'ok' && worker !== 'unavailable';
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', database, postgrest, ...(worker ? { worker } : {}) });
  });

  const proxy = async (request: FastifyRequest, reply: FastifyReply) => {
    const url = request.raw.url ?? '/api';
    const rest = url.slice('/api'.length);
    const path = rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
    const query = new URLSearchParams(path.includes('?') ? path.slice(path.indexOf('?') + 1) : '');
    const depth = Math.max(0, ...query.getAll('select').map(embedDepth));
    if (depth > config.maxEmbedDepth) return sendError(reply, errors.own('embed_too_deep', { depth, max_depth: config.maxEmbedDepth }));
    const rpc = /^\/rpc\/([^/?]+)/.exec(path)?.[1];
    if (rpc) {
      const overlong = overlongArgument(parameterLimits.get(decodeURIComponent(rpc)), query, bodyBytes.get(request));
      if (overlong) return sendError(reply, errors.own('value_too_long', { function: rpc, ...overlong }));
      if (AUTH_RPCS.has(decodeURIComponent(rpc))) {
        const refusal = await authRefusal(request, [{ email: emailInBody(query, bodyBytes.get(request)) }]);
        if (refusal) {
          for (const [name, value] of Object.entries(refusal.headers ?? {})) reply.header(name, value);
          return sendError(reply, refusal);
        }
      }
    }

    return reply.from(path, {
      rewriteRequestHeaders: (_request, headers) => databaseHeaders(request, headers),
      rewriteHeaders: (headers) => {
        const out = { ...headers };
        // PostgREST's Location (POST with return=headers-only) names its own paths: put /api in front.
        for (const name of ['location', 'content-location']) {
          const value = out[name];
          if (typeof value === 'string' && value.startsWith('/')) out[name] = `/api${value}`;
        }
        return out;
      },
      onResponse: async (_request, reply, response) => {
        const status = response.statusCode;
        const chunks: Buffer[] = [];
        let size = 0;
        try {
          for await (const chunk of response.stream as AsyncIterable<Buffer>) {
            size += chunk.length;
            if (size > config.maxResponseBytes) {
              (response.stream as { destroy?: () => void }).destroy?.();
              return sendError(reply, errors.own('response_too_large', { limit_bytes: config.maxResponseBytes }));
            }
            chunks.push(chunk);
          }
        } catch {
          return sendError(reply, errors.own('upstream_unavailable'));
        }
        const body = Buffer.concat(chunks);
        // 300 too: PostgREST answers an ambiguous embed (PGRST201) with Multiple Choices.
        if (status >= 400 || status === 300) {
          let parsed: Partial<ErrorBody> | null = null;
          try {
            parsed = body.length ? JSON.parse(body.toString('utf8')) : null;
          } catch {
            parsed = null;
          }
          const translated = errors.translate(status, parsed, request.id);
          if (translated) {
            if (translated.status >= 500) log(`front: request ${request.id}: PostgREST answered ${status} ${body.toString('utf8').slice(0, 2000)}`);
            return sendError(reply, translated);
          }
        }
        return reply.code(status).send(body);
      },
      onError: (reply, failure) => {
        const error = (failure as { error?: Error }).error ?? (failure as unknown as Error);
        log(`front: request ${request.id}: PostgREST unreachable: ${error?.message}`);
        return sendError(reply, errors.own('upstream_unavailable'));
      },
    });
  };
  const methods = ['GET', 'HEAD', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS'] as const;
  app.route({ method: [...methods], url: '/api', handler: proxy });
  app.route({ method: [...methods], url: '/api/*', handler: proxy });

  // GraphQL needs the JWT secret; a front started with a partial configuration (a test's second
  // front for REST bounds) serves no /graphql.
  let graphql: MountedGraphql | undefined;
  if (config.jwtSecret && options.graphql !== false) {
    graphql = await mountGraphql(app, {
      config,
      errors,
      log,
      beforeGraphql: (request, body) => {
        const calls = authCallsOf(body);
        return calls.length ? authRefusal(request, calls) : Promise.resolve(null);
      },
      // As for PostgREST, without the token itself (nothing in the database reads it).
      clientHeaders: (request) => {
        const headers = databaseHeaders(request);
        delete headers.authorization;
        delete headers.cookie;
        return headers;
      },
    });
  }

  try {
    await app.listen({ host: config.apiHost, port: config.apiPort });
  } catch (error) {
    await health.end();
    await graphql?.stop();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') await assertPortFree(config.apiPort, config.apiHost, 'HMS_API_PORT');
    throw error;
  }
  const host = config.apiHost.includes(':') ? `[${config.apiHost}]` : config.apiHost;
  const url = `http://${host}:${config.apiPort}`;
  return {
    url,
    apiUrl: `${url}/api`,
    app,
    stop: async () => {
      await app.close();
      await health.end();
      await graphql?.stop();
    },
  };
}
