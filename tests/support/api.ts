/**
 * Helpers for API tests against the suite's real PostgREST.
 *
 * Until the identity issue lands (login RPC), tests sign their own HS256 tokens with the stack's
 * JWT secret — exactly what PostgREST verifies.
 */
import { PostgrestClient } from '@supabase/postgrest-js';
import { createHmac } from 'node:crypto';
import { inject } from 'vitest';

const base64url = (value: Buffer | string) => Buffer.from(value).toString('base64url');

export function signToken(claims: Record<string, unknown>, secret = inject('stack').jwtSecret): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

/** A token for the staff database role, valid for five minutes. */
export function staffToken(extra: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return signToken({ role: inject('stack').roles.staff, iat: now, exp: now + 300, ...extra });
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
