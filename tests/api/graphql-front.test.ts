/**
 * The front's bounds on GraphQL and on the authentication RPCs, on a second front of this process
 * (the suite's PostgREST and database) with small rate limits and 127.0.0.1 as a trusted proxy,
 * so each test speaks from an address of its own (X-Forwarded-For):
 *   - the rate limits of login/refresh/request_password_reset (REST) and of the login mutation
 *     (GraphQL), per client address and per email: 429 HMS_RATE_LIMITED with Retry-After;
 *   - the role's statement timeout holds in GraphQL transactions as in PostgREST's.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../db/launcher/config.ts';
import { startFront, type FrontServer } from '../../db/launcher/front.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { loginToken } from '../support/api.ts';
import { ownerQuery } from '../support/db.ts';
import { gql, LOGIN } from '../support/graphql.ts';

const stack = inject('stack');
let front: FrontServer;

beforeAll(async () => {
  // A function that answers the statement_timeout its transaction runs with (created before the
  // front builds its GraphQL schema; PostgREST reloads its cache).
  await ownerQuery(`
    create or replace function app_public.graphql_test_timeout() returns text language sql stable as $$ select current_setting('statement_timeout') $$;
    grant execute on function app_public.graphql_test_timeout() to ${stack.roles.anonymous}, ${stack.roles.staff};
    notify pgrst, 'reload schema';`);
  const config = {
    ...loadConfig({ HMS_JWT_SECRET: stack.jwtSecret, HMS_DATA_DIR: '/tmp/hms-graphql-front-test' }),
    authenticatorUrl: stack.authenticatorUrl,
    roles: stack.roles,
    postgrestUrl: stack.postgrestUrl,
    apiHost: '127.0.0.1',
    apiPort: await freePort(),
    trustedProxies: ['127.0.0.1'],
    authRateLimit: { perAddress: 4, perEmail: 3, windowMs: 60_000 },
  };
  front = await startFront({ config, log: (line) => console.error(line) });
});

afterAll(async () => {
  await front?.stop();
  await ownerQuery(`drop function if exists app_public.graphql_test_timeout(); notify pgrst, 'reload schema';`);
});

let nextAddress = 10;
/** A client address of its own for one test (the second front trusts 127.0.0.1 as its proxy). */
const address = () => `203.0.113.${nextAddress++}`;

const restLogin = (from: string, email: string, path = 'login', body?: Record<string, unknown>) =>
  fetch(`${front.apiUrl}/rpc/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': from },
    body: JSON.stringify(body ?? { email, password: 'not the password' }),
  });
const graphqlLogin = (from: string, email: string) => gql(LOGIN, { email, password: 'not the password' }, undefined, `${front.url}/graphql`, { 'X-Forwarded-For': from });

describe('rate limits of the authentication RPCs', () => {
  it('per client address: the fifth call from one address is 429 HMS_RATE_LIMITED, another address is not limited', async () => {
    const from = address();
    const emails = ['rl-a1@hms.test', 'rl-a2@hms.test', 'rl-a3@hms.test', 'rl-a4@hms.test'];
    for (const email of emails) expect((await restLogin(from, email)).status).toBe(401);
    const refused = await restLogin(from, 'rl-a5@hms.test');
    expect(refused.status).toBe(429);
    const body = await refused.json();
    expect(body.code).toBe('HMS_RATE_LIMITED');
    expect(body.message).toMatch(/Too many attempts/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // refresh and request_password_reset count against the same address…
    expect((await restLogin(from, '', 'refresh', { refresh_token: 'x' })).status).toBe(429);
    expect((await restLogin(from, 'rl-a6@hms.test', 'request_password_reset', { email: 'rl-a6@hms.test' })).status).toBe(429);
    // …and the GraphQL login mutation too.
    const graphql = await graphqlLogin(from, 'rl-a7@hms.test');
    expect(graphql.status).toBe(429);
    expect(graphql.body.errors![0].extensions).toMatchObject({ code: 'HMS_RATE_LIMITED', status: 429 });
    expect((await restLogin(address(), 'rl-a8@hms.test')).status).toBe(401);
    // Other requests from the limited address pass.
    expect((await fetch(`${front.url}/health`, { headers: { 'X-Forwarded-For': from } })).status).toBe(200);
  });

  it('per email: the fourth attempt at one email is 429 from any address, over REST and GraphQL alike', async () => {
    const email = 'Rl-Target@hms.test';
    expect((await restLogin(address(), email)).status).toBe(401);
    expect((await graphqlLogin(address(), email.toLowerCase())).body.errors![0].extensions?.code).toBe('HMS_LOGIN_FAILED');
    expect((await restLogin(address(), ` ${email} `)).status).toBe(401);
    const rest = await restLogin(address(), email);
    expect([rest.status, (await rest.json()).code]).toEqual([429, 'HMS_RATE_LIMITED']);
    const graphql = await graphqlLogin(address(), email);
    expect(graphql.body.errors![0].extensions).toMatchObject({ code: 'HMS_RATE_LIMITED', status: 429 });
    expect(graphql.body.data).toBeUndefined();
    expect((await restLogin(address(), 'rl-someone-else@hms.test')).status).toBe(401);
    await ownerQuery(`delete from app_private.login_failures where email like 'rl-%'`);
  });

  it('counts each login of one GraphQL document (aliases cannot batch guesses)', async () => {
    const from = address();
    const query = `mutation { a: login(input: { email: "rl-b1@hms.test", password: "x" }) { result } b: login(input: { email: "rl-b2@hms.test", password: "x" }) { result }
      c: login(input: { email: "rl-b3@hms.test", password: "x" }) { result } d: login(input: { email: "rl-b4@hms.test", password: "x" }) { result } e: login(input: { email: "rl-b5@hms.test", password: "x" }) { result } }`;
    const answer = await gql(query, {}, undefined, `${front.url}/graphql`, { 'X-Forwarded-For': from });
    expect([answer.status, answer.body.errors?.[0].extensions?.code]).toEqual([429, 'HMS_RATE_LIMITED']);
    await ownerQuery(`delete from app_private.login_failures where email like 'rl-%'`);
  });
});

describe('the statement timeout', () => {
  it('is the role\'s own in GraphQL transactions, as in PostgREST\'s (8 s staff, 3 s anonymous in the suite)', async () => {
    const token = await loginToken('admin.ny@hms.test');
    const staff = await gql(`{ graphqlTestTimeout }`, {}, token, `${front.url}/graphql`);
    const anonymous = await gql(`{ graphqlTestTimeout }`, {}, undefined, `${front.url}/graphql`);
    const rest = await (await fetch(`${front.apiUrl}/rpc/graphql_test_timeout`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' })).json();
    expect([staff.body.data?.graphqlTestTimeout, anonymous.body.data?.graphqlTestTimeout]).toEqual([rest, '3s']);
    expect(rest).toBe('8s');
  });
});
