/**
 * The front (db/launcher/front.ts), over HTTP against the suite's real stack: the one origin
 * (`/`, `/api/`, `/health`), the request id, the client address the database believes, the
 * request bounds (statement timeout per role, embed depth, body and answer size) and the error
 * contract — every row of app_hidden.raw_errors is met here by a real request and answers its HMS
 * code with the registry's status, never a raw SQLSTATE or PGRST code.
 *
 * A few checks need a front with other settings (trusted proxies, a small answer cap, no
 * PostgREST behind it): they start a second front in this process on the same PostgREST.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HmsConfig } from '../../db/launcher/config.ts';
import { startFront, type FrontServer } from '../../db/launcher/front.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { apiFetch, loginToken } from '../support/api.ts';
import { ownerQuery } from '../support/db.ts';

const stack = inject('stack');
const RECEPTION = 'reception.ny@hms.test';
const NY = '10000000-0000-4000-8000-000000000001';
const started: FrontServer[] = [];

/** A second front on the suite's PostgREST, with other settings. */
async function otherFront(overrides: Partial<HmsConfig>, workerRunning?: () => boolean): Promise<FrontServer> {
  const config = {
    authenticatorUrl: stack.authenticatorUrl,
    roles: stack.roles,
    postgrestUrl: stack.postgrestUrl,
    apiHost: '127.0.0.1',
    apiPort: await freePort(),
    trustedProxies: [],
    maxBodyBytes: 1_048_576,
    maxResponseBytes: 5_242_880,
    maxEmbedDepth: 3,
    ...overrides,
  } as unknown as HmsConfig;
  const front = await startFront({ config, ...(workerRunning ? { workerRunning } : {}) });
  started.push(front);
  return front;
}

async function json(response: Response): Promise<any> {
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

async function reloadSchema(): Promise<void> {
  await ownerQuery(`notify pgrst, 'reload schema'`);
  // PostgREST reloads asynchronously: wait until the test functions are served.
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    const probe = await apiFetch('/rpc/front_test_raise', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"p_sqlstate":"00000"}' });
    if (probe.status !== 404) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('PostgREST did not load the test functions');
}

let reception: string;

beforeAll(async () => {
  reception = await loginToken(RECEPTION);
  // Two functions only this file serves (dropped in afterAll): one sleeps, one raises a raw SQLSTATE.
  await ownerQuery(`
    create function app_public.front_test_sleep(p_seconds double precision) returns integer
      language sql volatile as $$ select 1 from pg_sleep(p_seconds) $$;
    create function app_public.front_test_raise(p_sqlstate text) returns integer
      language plpgsql volatile as $$
      begin
        if p_sqlstate <> '00000' then
          raise exception 'raw % from inside the database (an internal message)', p_sqlstate using errcode = p_sqlstate;
        end if;
        return 1;
      end $$;
    grant execute on function app_public.front_test_sleep(double precision), app_public.front_test_raise(text) to ${stack.roles.anonymous}, ${stack.roles.staff};
  `);
  await reloadSchema();
});

afterAll(async () => {
  await Promise.all(started.map((front) => front.stop()));
  await ownerQuery(`drop function if exists app_public.front_test_sleep(double precision); drop function if exists app_public.front_test_raise(text)`);
  await ownerQuery(`notify pgrst, 'reload schema'`);
});

const post = (path: string, body: unknown, token?: string, headers: Record<string, string> = {}) =>
  apiFetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body), token });

describe('one origin', () => {
  it('serves a placeholder at /, REST at /api/ and readiness at /health', async () => {
    const home = await fetch(`${stack.frontUrl}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toMatch(/text\/html/);
    expect(await home.text()).toContain('/api/');
    const openapi = await fetch(`${stack.frontUrl}/api/`);
    expect(openapi.status).toBe(200);
    const document = await openapi.json();
    expect(document.swagger).toBe('2.0');
    expect(document.basePath).toBe('/api');
    const health = await fetch(`${stack.frontUrl}/health`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ready', database: 'ok', postgrest: 'ok' }]);
  });

  it('answers 503 at /health and HMS_SERVICE_UNAVAILABLE at /api/ when PostgREST is not there', async () => {
    const front = await otherFront({ postgrestUrl: `http://127.0.0.1:${await freePort()}` });
    const health = await fetch(`${front.url}/health`);
    expect(health.status).toBe(503);
    expect((await health.json()).postgrest).toBe('unavailable');
    const answer = await fetch(`${front.apiUrl}/patients`);
    expect(answer.status).toBe(503);
    expect((await answer.json()).code).toBe('HMS_SERVICE_UNAVAILABLE');
  });

  it('reports the worker at /health when it runs in the same process: ready only while it runs', async () => {
    let running = true;
    const front = await otherFront({}, () => running);
    const up = await fetch(`${front.url}/health`);
    expect([up.status, await up.json()]).toEqual([200, { status: 'ready', database: 'ok', postgrest: 'ok', worker: 'ok' }]);
    running = false;
    const down = await fetch(`${front.url}/health`);
    expect([down.status, await down.json()]).toEqual([503, { status: 'unavailable', database: 'ok', postgrest: 'ok', worker: 'unavailable' }]);
  });

  it('gives every request an id of its own, sent back and written to the audit trail', async () => {
    const response = await post('/rpc/login', { email: RECEPTION, password: 'Admin@123' }, undefined, { 'X-Request-Id': 'chosen-by-the-client' });
    expect(response.status).toBe(200);
    const id = response.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const rows = await ownerQuery(`select action from app_public.audit_logs where request_id = $1`, [id]);
    expect(rows.map((row) => row.action)).toEqual(['login']);
    expect(await ownerQuery(`select 1 from app_public.audit_logs where request_id = 'chosen-by-the-client'`)).toEqual([]);
  });
});

describe('the client address', () => {
  const loginAddress = async (base: string, headers: Record<string, string>) => {
    const response = await fetch(`${base}/rpc/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ email: RECEPTION, password: 'Admin@123' }),
    });
    expect(response.status).toBe(200);
    const body = await response.json();
    const [audit] = await ownerQuery(
      `select host(a.client_address) as audit, host(s.client_address) as session
         from app_public.audit_logs a join app_private.sessions s on s.id = a.record_id
        where a.action = 'login' and a.user_id = $1 order by a.created_at desc limit 1`,
      [body.user.id],
    );
    return audit;
  };
  const spoof = { 'X-Forwarded-For': '203.0.113.7', 'X-HMS-Client-Address': '198.51.100.9' };

  it('is the peer the front sees: a client cannot choose it with X-Forwarded-For or X-HMS-Client-Address', async () => {
    expect(await loginAddress(stack.apiUrl, spoof)).toEqual({ audit: '127.0.0.1', session: '127.0.0.1' });
  });

  it('is the X-Forwarded-For entry only when the peer is a trusted proxy', async () => {
    const behindProxy = await otherFront({ trustedProxies: ['127.0.0.1'] });
    expect(await loginAddress(behindProxy.apiUrl, spoof)).toEqual({ audit: '203.0.113.7', session: '203.0.113.7' });
  });

  it('is never read from X-Forwarded-For by the database', async () => {
    expect(await loginAddress(stack.postgrestUrl, { 'X-Forwarded-For': '203.0.113.7' })).toEqual({ audit: null, session: null });
  });
});

describe('request bounds', () => {
  it('gives the API roles their statement timeouts (anonymous 3 s, staff 8 s)', async () => {
    const rows = await ownerQuery(`select rolname, rolconfig from pg_roles where rolname = any($1) order by rolname`, [[stack.roles.anonymous, stack.roles.staff]]);
    expect(rows).toEqual([
      { rolname: stack.roles.anonymous, rolconfig: ['statement_timeout=3000ms'] },
      { rolname: stack.roles.staff, rolconfig: ['statement_timeout=8000ms'] },
    ]);
  });

  it('cancels a statement past the timeout of its role and answers 504 HMS_STATEMENT_TIMEOUT', { timeout: 60_000 }, async () => {
    const anonymous = await post('/rpc/front_test_sleep', { p_seconds: 3.5 });
    expect([anonymous.status, (await json(anonymous)).code]).toEqual([504, 'HMS_STATEMENT_TIMEOUT']);
    const staffWithin = await post('/rpc/front_test_sleep', { p_seconds: 3.5 }, reception);
    expect([staffWithin.status, await json(staffWithin)]).toEqual([200, 1]);
    const staffBeyond = await post('/rpc/front_test_sleep', { p_seconds: 8.5 }, reception);
    const body = await json(staffBeyond);
    expect([staffBeyond.status, body.code]).toEqual([504, 'HMS_STATEMENT_TIMEOUT']);
    expect(JSON.stringify(body)).not.toMatch(/57014|canceling/);
  });

  it('refuses a select nested deeper than 3 levels with 400 HMS_EMBED_TOO_DEEP, before PostgREST', async () => {
    const three = await apiFetch('/permissions?select=id,role_permissions(role_id,roles(id,role_permissions(permission_id)))&limit=1', { token: reception });
    expect(three.status).toBe(200);
    const seven = '/permissions?select=*,role_permissions(*,roles(*,role_permissions(*,permissions(*,role_permissions(*,roles(*,user_roles(*))))))))';
    const refused = await apiFetch(seven, { token: reception });
    const body = await json(refused);
    expect([refused.status, body.code]).toEqual([400, 'HMS_EMBED_TOO_DEEP']);
    expect(JSON.parse(body.details)).toEqual({ depth: 7, max_depth: 3 });
  });

  it('refuses an answer larger than the cap with 400 HMS_RESPONSE_TOO_LARGE instead of sending it', async () => {
    const small = await otherFront({ maxResponseBytes: 2000 });
    const headers = { Authorization: `Bearer ${reception}` };
    const ok = await fetch(`${small.apiUrl}/departments?select=id&limit=1`, { headers });
    expect(ok.status).toBe(200);
    const big = await fetch(`${small.apiUrl}/permissions?select=*,role_permissions(*,roles(*))`, { headers });
    const body = await json(big);
    expect([big.status, body.code]).toEqual([400, 'HMS_RESPONSE_TOO_LARGE']);
    expect(JSON.parse(body.details)).toEqual({ limit_bytes: 2000 });
  });

  it('refuses a body larger than 1 MiB with 413 HMS_BODY_TOO_LARGE', async () => {
    const response = await post('/rpc/login', { email: RECEPTION, password: 'x'.repeat(1_100_000) });
    expect([response.status, (await json(response)).code]).toEqual([413, 'HMS_BODY_TOO_LARGE']);
  });

  it('refuses every RPC text argument longer than its parameter allows with 422 HMS_VALUE_TOO_LONG, before the call', async () => {
    // (front_test_raise is this file's own probe, created after the front read the limits.)
    const limits = await ownerQuery(`select function_name, parameter_name, max_length from app_hidden.rpc_parameter_limits
                                      where function_name <> 'front_test_raise' order by 1, 2`);
    expect(limits.length).toBeGreaterThan(50);
    for (const { function_name, parameter_name, max_length } of limits) {
      const response = await post(`/rpc/${function_name}`, { [parameter_name]: 'é'.repeat(max_length + 1) }, reception);
      const body = await json(response);
      expect([response.status, body.code], `${function_name}(${parameter_name})`).toEqual([422, 'HMS_VALUE_TOO_LONG']);
      expect(JSON.parse(body.details)).toEqual({ function: function_name, parameter: parameter_name, max_length });
    }
    // At the limit the call goes through to the function (which then answers for itself).
    const atLimit = await post('/rpc/check_document_number', { number: '9'.repeat(128) }, reception);
    expect(atLimit.status).toBe(200);
  });

  it('lets a client still writing a refused body read its 413: the connection is not reset under it', async () => {
    // The whole body in one write on a raw socket: a front that answers on the Content-Length and
    // closes with the body unread resets the connection, and the client sees EPIPE, not the 413.
    const { hostname, port } = new URL(stack.frontUrl);
    const body = 'x'.repeat(4_000_000);
    const outcome = await new Promise<{ error: string | null; statusLine: string }>((resolve) => {
      const socket = net.connect(Number(port), hostname);
      let received = '';
      let error: string | null = null;
      socket.on('data', (chunk) => (received += chunk));
      socket.on('error', (e) => (error = e.message));
      socket.on('close', () => resolve({ error, statusLine: received.split('\r\n')[0] }));
      socket.write(`POST /api/rpc/login HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.end(body);
    });
    expect(outcome).toEqual({ error: null, statusLine: 'HTTP/1.1 413 Payload Too Large' });
  });
});

describe('raw errors become HMS codes through app_hidden.raw_errors', () => {
  /** Every mapped raw code, and the request below that meets it for real. */
  const met = new Map<string, { status: number; code: string }>();
  const expectMapped = async (key: string, response: Response) => {
    const body = await json(response);
    const [row] = await ownerQuery(
      `select r.code, r.keep_details, e.http_status from app_hidden.raw_errors r join app_hidden.error_codes e using (code)
        where r.raw_code = $1 and coalesce(r.upstream_status, 0) = $2`,
      [key.split('|')[0], Number(key.split('|')[1] ?? 0)],
    );
    expect(row, key).toBeDefined();
    expect([response.status, body.code], key).toEqual([row.http_status, row.code]);
    expect(body.code).toMatch(/^HMS_/);
    // The raw message travels (under details only) where the row says it helps; never otherwise.
    if (!row.keep_details) expect(JSON.stringify(body), key).not.toMatch(/internal message/);
    expect(body.message, key).not.toMatch(/internal message/);
    met.set(key, { status: response.status, code: body.code });
    return body;
  };

  it('22P02: a bad uuid in a filter', async () => {
    const body = await expectMapped('22P02', await apiFetch('/patients?id=eq.not-a-uuid', { token: reception }));
    expect(body.details).toContain('not-a-uuid');
  });

  it('22007: a bad date in a filter', async () => {
    await expectMapped('22007', await apiFetch('/appointments?scheduled_start=gte.yesterday-ish', { token: reception }));
  });

  it('42501: a PATCH of a column the role may not write (403) and an anonymous read (401)', async () => {
    const [patient] = await ownerQuery(`select id from app_public.patients where hospital_id = $1 limit 1`, [NY]);
    const body = await expectMapped(
      '42501',
      await apiFetch(`/patients?id=eq.${patient.id}`, { method: 'PATCH', token: reception, headers: { 'Content-Type': 'application/json' }, body: '{"created_by": null}' }),
    );
    expect(body.details).toMatch(/permission denied/);
    await expectMapped('42501|401', await apiFetch('/patients'));
  });

  it('42703: an unknown column in a select', async () => {
    await expectMapped('42703', await apiFetch('/patients?select=no_such_column', { token: reception }));
  });

  it('PGRST116: a singular answer that matched no row', async () => {
    const body = await expectMapped(
      'PGRST116',
      await apiFetch('/patients?id=eq.00000000-0000-4000-8000-000000000000', { token: reception, headers: { Accept: 'application/vnd.pgrst.object+json' } }),
    );
    expect(body.details).toMatch(/0 rows/);
  });

  it('PGRST100, PGRST102, PGRST200, PGRST201, PGRST204: parse errors of the query string and body', async () => {
    await expectMapped('PGRST100', await apiFetch('/patients?id=nonsense', { token: reception }));
    await expectMapped('PGRST102', await apiFetch('/departments', { method: 'POST', token: reception, headers: { 'Content-Type': 'application/json' }, body: '{"code":' }));
    await expectMapped('PGRST200', await apiFetch('/patients?select=*,no_such_table(*)', { token: reception }));
    const ambiguous = await apiFetch('/doctors?select=id,staff_directory(display_name)', { token: reception });
    await expectMapped('PGRST201', ambiguous.clone());
    expect((await json(ambiguous)).hint).toMatch(/staff_directory!doctors_user_id_fkey/);
    await expectMapped('PGRST204', await post('/departments?columns=no_such_column', { no_such_column: 1 }, reception));
  });

  it('constraint, data and timeout SQLSTATEs that escape the friendly errors (raised inside an RPC)', async () => {
    for (const sqlstate of ['23505', '23514', '23503', '23502', '22008', '22003', '57014']) {
      await expectMapped(sqlstate, await post('/rpc/front_test_raise', { p_sqlstate: sqlstate }, reception));
    }
  });

  it('an unexpected error becomes 500 HMS_INTERNAL_ERROR with the request id and nothing else', async () => {
    const response = await post('/rpc/front_test_raise', { p_sqlstate: 'XX000' }, reception);
    const body = await expectMapped('internal', response);
    expect(JSON.parse(body.details)).toEqual({ request_id: response.headers.get('x-request-id') });
  });

  it("the front's own refusals are rows of the same mapping", async () => {
    await expectMapped('embed_too_deep', await apiFetch('/patients?select=*,a(*,b(*,c(*,d(*))))', { token: reception }));
    await expectMapped('body_too_large', await post('/rpc/login', { password: 'x'.repeat(1_100_000) }));
    const overlong = await post('/rpc/login', { email: `${'x'.repeat(320)}@hms.test`, password: 'Admin@123' });
    expect(JSON.parse((await expectMapped('value_too_long', overlong)).details)).toEqual({ function: 'login', parameter: 'email', max_length: 320 });
    const small = await otherFront({ maxResponseBytes: 10 });
    await expectMapped('response_too_large', await fetch(`${small.apiUrl}/`));
    const nobody = await otherFront({ postgrestUrl: `http://127.0.0.1:${await freePort()}` });
    await expectMapped('upstream_unavailable', await fetch(`${nobody.apiUrl}/patients`));
    // The authentication rate limits (tests/api/graphql-front.test.ts has the rest of them).
    const limited = await otherFront({ authRateLimit: { perAddress: 1, perEmail: 100, windowMs: 60_000 } } as Partial<HmsConfig>);
    await fetch(`${limited.apiUrl}/rpc/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"refresh_token": "x"}' });
    await expectMapped('rate_limited', await fetch(`${limited.apiUrl}/rpc/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"refresh_token": "x"}' }));
  });

  it('token_invalid: a bad bearer token at /graphql (GraphQL\'s shape: the code in extensions)', async () => {
    const response = await fetch(`${stack.frontUrl}/graphql`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer not-a-token' }, body: '{"query": "{ me }"}' });
    const [error] = (await json(response)).errors;
    const [row] = await ownerQuery(`select r.code, e.http_status from app_hidden.raw_errors r join app_hidden.error_codes e using (code) where r.raw_code = 'token_invalid'`);
    expect([response.status, error.extensions.code, error.extensions.status]).toEqual([row.http_status, row.code, row.http_status]);
    met.set('token_invalid', { status: response.status, code: error.extensions.code });
  });

  it('every row of app_hidden.raw_errors was met by a request above', async () => {
    const rows = await ownerQuery(`select raw_code || coalesce('|' || upstream_status, '') as key from app_hidden.raw_errors order by 1`);
    expect([...met.keys()].sort()).toEqual(rows.map((row) => row.key).sort());
  });
});
