/**
 * Helpers for API tests against the suite's real PostgREST.
 *
 * Requests log in as demo staff through the real login RPC (loginToken) and call RPCs with
 * rpc(name, body, token); signToken/staffToken forge tokens with the stack's secret only to test
 * refusals. Owner connections to the database are in db.ts.
 */
import { PostgrestClient } from '@supabase/postgrest-js';
import { createHmac } from 'node:crypto';
import { expect, inject } from 'vitest';

const base64url = (value: Buffer | string) => Buffer.from(value).toString('base64url');

export function signToken(claims: Record<string, unknown>, secret = inject('stack').jwtSecret): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/**
 * A correctly signed token for the staff role WITHOUT a session behind it (or with the claims
 * given): for testing what PostgREST and check_request refuse. Real requests use loginToken().
 */
export function staffToken(extra: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signToken({ role: inject('stack').roles.staff, aud: 'hms', iat: now, exp: now + 300, ...extra });
}

export function apiClient(token?: string): PostgrestClient {
  return new PostgrestClient(inject('stack').apiUrl, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
}

export function apiFetch(path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
  return fetch(inject('stack').apiUrl + path, { ...init, headers });
}

/** The answer of POST /rpc/login (and /rpc/refresh, /rpc/switch_hospital). */
export interface LoginResult {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  expires_in: number;
  user: {
    id: string;
    email: string;
    first_name: string;
    last_name: string;
    display_name: string;
    hospital: { id: string; code: string; name: string };
  };
}

/** The answer of a call: HTTP status, parsed JSON body (null when empty) and headers. */
export interface RpcAnswer {
  status: number;
  body: any;
  headers: Headers;
}

/** POST /rpc/<name> with a JSON body, as the token's session (anonymous without one); `query` is appended to the path. */
export async function rpc(name: string, body: Record<string, unknown> = {}, token?: string, query = ''): Promise<RpcAnswer> {
  const response = await apiFetch(`/rpc/${name}${query}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    token,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

async function rpcOrThrow<T>(name: string, body: Record<string, unknown>, token?: string): Promise<T> {
  const answer = await rpc(name, body, token);
  if (answer.status < 200 || answer.status > 299) throw new Error(`/rpc/${name} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body as T;
}

/** Logs in through the real login RPC (demo users: password Admin@123); throws on a non-2xx answer. */
export function login(email: string, password = 'Admin@123', hospitalId?: string): Promise<LoginResult> {
  return rpcOrThrow<LoginResult>('login', { email, password, ...(hospitalId ? { hospital_id: hospitalId } : {}) });
}

const tokenCache = new Map<string, Promise<string>>();

/**
 * An access token of a real session for a (demo) user, in the hospital with that code (default:
 * the user's home hospital). Cached per email and hospital for the test file (tokens live 15 minutes).
 */
export function loginToken(email: string, hospitalCode?: string): Promise<string> {
  const key = `${email.toLowerCase()}|${hospitalCode ?? ''}`;
  let token = tokenCache.get(key);
  if (!token) {
    token = (async () => {
      const session = await login(email);
      if (!hospitalCode || session.user.hospital.code === hospitalCode) return session.access_token;
      const me = await rpcOrThrow<{ hospitals: { id: string; code: string }[] }>('me', {}, session.access_token);
      const hospital = me.hospitals.find((h) => h.code === hospitalCode);
      if (!hospital) throw new Error(`${email} may not work in hospital ${hospitalCode}`);
      const switched = await rpcOrThrow<LoginResult>('switch_hospital', { hospital_id: hospital.id }, session.access_token);
      return switched.access_token;
    })();
    token.catch(() => tokenCache.delete(key));
    tokenCache.set(key, token);
  }
  return token;
}

/**
 * Every row a caller gets from a table or view (`select` columns, an optional PostgREST `filter`
 * such as `hospital_id=eq.…`), page by page: PostgREST caps each answer at db-max-rows. Ordered by id.
 */
export async function allRows(table: string, token: string, select = '*', filter = ''): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (;;) {
    const response = await apiFetch(`/${table}?select=${select}&order=id&offset=${rows.length}${filter ? `&${filter}` : ''}`, { token });
    expect(response.status, table).toBe(200);
    const page: Record<string, unknown>[] = await response.json();
    rows.push(...page);
    if (page.length === 0) return rows;
  }
}
