/**
 * GraphQL at /graphql on the front, over HTTP against the suite's real stack: login through the
 * mutation, the same identity as REST (role, claims, headers, the pre-request check), errors in
 * the HMS contract (extensions.code, extensions.status, the registry's sentence), Ruru for a browser.
 */
import { describe, expect, inject, it } from 'vitest';
import { loginToken, rpc, signToken, staffToken } from '../support/api.ts';
import { ownerQuery } from '../support/db.ts';
import { gql, gqlData, gqlLogin, LOGIN } from '../support/graphql.ts';

const stack = inject('stack');
const NY = '10000000-0000-4000-8000-000000000001';

describe('logging in through GraphQL', () => {
  it('answers the login RPC\'s tokens, and the token reads as the user', async () => {
    const answer = await gql(LOGIN, { email: 'reception.ny@hms.test', password: 'Admin@123' });
    expect(answer.status).toBe(200);
    const result = answer.body.data.login.result;
    expect(result.token_type).toBe('bearer');
    expect(result.user.email).toBe('reception.ny@hms.test');
    const me = await gqlData(`{ me }`, {}, result.access_token);
    expect(me.me.user.email).toBe('reception.ny@hms.test');
  });

  it('a wrong password is HMS_LOGIN_FAILED (401) and counts toward the lockout, as over REST', async () => {
    const email = 'pharmacist.ny@hms.test';
    await ownerQuery(`delete from app_private.login_failures where email = $1`, [email]);
    const answer = await gql(LOGIN, { email, password: 'wrong password' });
    expect(answer.body.data?.login?.result ?? null).toBeNull();
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors![0].extensions).toMatchObject({ code: 'HMS_LOGIN_FAILED', status: 401 });
    expect(answer.body.errors![0].message).toBe('Email or password is incorrect.');
    const rest = await rpc('login', { email, password: 'wrong password' });
    expect([rest.status, rest.body.code, rest.body.message]).toEqual([401, 'HMS_LOGIN_FAILED', answer.body.errors![0].message]);
    const [failures] = await ownerQuery(`select failed_count from app_private.login_failures where email = $1`, [email]);
    expect(failures.failed_count).toBe(2);
    await ownerQuery(`delete from app_private.login_failures where email = $1`, [email]);
  });
});

describe('the same identity as PostgREST', () => {
  it('sets role, claims, headers, method and path as PostgREST does: the audit row of a GraphQL login names the front\'s request id and address', async () => {
    const response = await fetch(`${stack.frontUrl}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'graphql-identity-test', 'X-Forwarded-For': '198.51.100.9', 'X-Request-Id': 'forged' },
      body: JSON.stringify({ query: LOGIN, variables: { email: 'doctor.ny@hms.test', password: 'Admin@123' } }),
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const [row] = await ownerQuery(
      `select request_id, host(client_address) as address, user_agent, api from app_public.audit_logs where action = 'login' and request_id = $1`, [requestId]);
    expect(row).toEqual({ request_id: requestId, address: '127.0.0.1', user_agent: 'graphql-identity-test', api: 'graphql' });
  });

  it('runs the pre-request check: a revoked session is refused with HMS_SESSION_INVALID', async () => {
    const token = await gqlLogin('nurse.ny@hms.test');
    expect((await gqlData(`{ me }`, {}, token)).me.user.email).toBe('nurse.ny@hms.test');
    // Logged out through the GraphQL logout mutation: the session is revoked in the database.
    expect((await gql(`mutation { logout(input: {}) { clientMutationId } }`, {}, token)).body.errors).toBeUndefined();
    const answer = await gql(`{ allPatients { totalCount } }`, {}, token);
    expect(answer.body.errors![0].extensions).toMatchObject({ code: 'HMS_SESSION_INVALID', status: 401 });
    expect(answer.body.errors![0].message).toMatch(/session has ended/);
    expect(answer.body.data?.allPatients ?? null).toBeNull();
  });

  it('a well-signed token without a live session is refused before any row is read', async () => {
    const answer = await gql(`{ allPatients { totalCount } }`, {}, staffToken({ sub: '00000000-0000-4000-8000-000000000000', sid: '00000000-0000-4000-8000-000000000000', hid: NY }));
    expect(answer.body.errors![0].extensions).toMatchObject({ code: 'HMS_SESSION_INVALID', status: 401 });
  });

  it('refuses a tampered, foreign, expired or wrong-audience token with 401 HMS_SESSION_INVALID', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = await loginToken('doctor.ny@hms.test');
    const [header, , signature] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ role: 'hms_user', exp: now + 300 })).toString('base64url');
    const tokens = {
      tampered: `${header}.${forged}.${signature}`,
      foreign: signToken({ role: 'hms_staff', aud: 'hms', exp: now + 300 }, 'another-secret-that-is-long-enough-0000'),
      expired: staffToken({ exp: now - 120 }),
      audience: staffToken({ aud: 'someone-else' }),
      garbage: 'not-a-token',
    };
    for (const [name, token] of Object.entries(tokens)) {
      const answer = await gql(`{ allPatients { totalCount } }`, {}, token);
      expect([answer.status, answer.body.errors?.[0].extensions?.code, answer.body.errors?.[0].extensions?.status], name).toEqual([401, 'HMS_SESSION_INVALID', 401]);
      expect(answer.body.data, name).toBeUndefined();
    }
  });

  it('without a token, tables are refused as over REST (401 HMS_SESSION_INVALID), and login is open', async () => {
    const answer = await gql(`{ allPatients { totalCount } }`);
    expect(answer.body.errors![0].extensions).toMatchObject({ code: 'HMS_SESSION_INVALID', status: 401 });
    expect(answer.body.errors![0].message).not.toMatch(/permission denied/);
  });

});

describe('errors in the HMS contract', () => {
  it('a business error (raise_error) carries its code, sentence and status', async () => {
    const token = await loginToken('reception.ny@hms.test');
    const answer = await gql(`mutation($id: UUID!) { checkInAppointment(input: { appointmentId: $id }) { clientMutationId } }`, { id: '00000000-0000-4000-8000-000000000000' }, token);
    const rest = await rpc('check_in_appointment', { appointment_id: '00000000-0000-4000-8000-000000000000' }, token);
    expect(answer.body.errors![0].extensions).toMatchObject({ code: rest.body.code, status: rest.status });
    expect(answer.body.errors![0].message).toBe(rest.body.message);
    expect(rest.body.code).toMatch(/^HMS_/);
  });

  it('a constraint broken by a plain-table write answers the friendly code (HMS_INVALID_VALUE, 422)', async () => {
    const token = await loginToken('reception.ny@hms.test');
    const answer = await gql(
      `mutation { createPatient(input: { patient: { firstName: "Ada", lastName: "Byron", dateOfBirth: "1990-01-01", gender: "x" } }) { patient { rowId } } }`, {}, token);
    expect(answer.body.errors![0].extensions).toMatchObject({ code: 'HMS_INVALID_VALUE', status: 422 });
    expect(answer.body.errors![0].message).toBe('The gender given for this patient is not allowed.');
  });

  it('a write the role may not make: 403 HMS_FORBIDDEN, never a raw SQLSTATE', async () => {
    const token = await loginToken('doctor.ny@hms.test');
    const answer = await gql(`mutation { createSupplier(input: { supplier: { code: "NOPE", name: "Not allowed" } }) { supplier { rowId } } }`, {}, token);
    expect(answer.body.errors![0].extensions).toMatchObject({ code: 'HMS_FORBIDDEN', status: 403 });
  });

  it('bad input never becomes an internal error', async () => {
    const token = await loginToken('reception.ny@hms.test');
    const cases: [string, string, Record<string, unknown>][] = [
      ['unknown field', `{ allPatients { noSuchField } }`, {}],
      ['syntax', `{ allPatients { `, {}],
      ['bad uuid variable', `query($id: UUID!) { patientByRowId(rowId: $id) { mrn } }`, { id: 'not-a-uuid' }],
      ['bad date literal', `{ allPatients(condition: { dateOfBirth: "yesterday-ish" }) { totalCount } }`, {}],
      ['wrong variable type', `query($n: Int) { allPatients(first: $n) { totalCount } }`, { n: 'ten' }],
      ['negative page', `{ allPatients(first: -1) { totalCount } }`, {}],
    ];
    for (const [name, query, variables] of cases) {
      const answer = await gql(query, variables, token);
      const error = answer.body.errors?.[0];
      expect(error, name).toBeDefined();
      expect(error!.extensions?.code, `${name}: ${JSON.stringify(error)}`).toMatch(/^HMS_(BAD_REQUEST|INVALID_SYNTAX)$/);
      expect(error!.extensions?.status, name).toBe(400);
      expect(answer.status, name).toBeLessThan(500);
    }
  });
});

describe('Ruru for a browser', () => {
  it('GET /graphql with Accept: text/html serves Ruru, its scripts from the same origin under a relaxed CSP', async () => {
    const response = await fetch(`${stack.frontUrl}/graphql`, { headers: { Accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toMatch(/ruru/i);
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self' 'unsafe-inline'/);
    // Everywhere else helmet's strict default holds.
    expect((await fetch(`${stack.frontUrl}/`)).headers.get('content-security-policy')).not.toMatch(/unsafe-inline'; style/);
  });
});
