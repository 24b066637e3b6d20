/**
 * Writing RPCs answer POST only (no read-only password oracle), tokens need aud "hms", and every
 * permission says whether it is hospital-level or chain-level.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiFetch, loginToken, staffToken } from '../support/api.ts';
import { ownerQuery, openSessions } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';

describe('writing RPCs refuse every method but POST', () => {
  it('GET /rpc/login answers the same 405 for a right and a wrong password and counts nothing', async () => {
    const email = 'doctor.ny@hms.test';
    const answers = [];
    for (const password of ['Admin@123', 'wrong-password']) {
      const response = await apiFetch(`/rpc/login?email=${encodeURIComponent(email)}&password=${encodeURIComponent(password)}`);
      answers.push({ status: response.status, body: await response.json() });
    }
    expect(answers[0].status).toBe(405);
    expect(answers[0].body.code).toBe('HMS_METHOD_NOT_ALLOWED');
    expect(answers[1]).toEqual(answers[0]);
    const unknown = `nobody-${randomUUID().slice(0, 8)}@hms.test`;
    for (let i = 0; i < 7; i += 1) {
      const response = await apiFetch(`/rpc/login?email=${unknown}&password=x`);
      expect(response.status).toBe(405);
      const head = await apiFetch(`/rpc/login?email=${unknown}&password=x`, { method: 'HEAD' });
      expect(head.status).toBe(405);
    }
    expect(await ownerQuery('select 1 from app_private.login_failures where email = $1', [unknown])).toHaveLength(0);
    const post = await apiFetch('/rpc/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: unknown, password: 'x' }) });
    expect(post.status).toBe(401);
    expect((await post.json()).code).toBe('HMS_LOGIN_FAILED');
  });

  it('every volatile app_public function refuses GET; a stable one (me) keeps it', async () => {
    const token = await loginToken('admin.ny@hms.test');
    // Every parameter named in the query string (PostgREST picks the function by its parameter names);
    // the values are never read: the call is refused before it runs.
    const rows = await ownerQuery<{ proname: string; args: string[] }>(
      `select distinct on (p.proname) p.proname,
              coalesce(array(select a.name from unnest(p.proargnames, coalesce(p.proargmodes, array_fill('i'::"char", array[coalesce(cardinality(p.proargnames), 0)]))) a(name, mode)
                              where a.mode in ('i', 'b') and a.name <> ''), '{}') as args
         from pg_proc p where p.pronamespace = 'app_public'::regnamespace and p.provolatile = 'v' order by p.proname, p.pronargs`);
    expect(rows.length).toBeGreaterThan(40);
    for (const { proname, args } of rows) {
      const query = args.map((name) => `${name}=x`).join('&');
      const response = await apiFetch(`/rpc/${proname}${query ? `?${query}` : ''}`, { token });
      expect({ proname, status: response.status }).toEqual({ proname, status: 405 });
      expect((await response.json()).code).toBe('HMS_METHOD_NOT_ALLOWED');
    }
    const me = await apiFetch('/rpc/me', { token });
    expect(me.status).toBe(200);
  });
});

describe('tokens', () => {
  it('a correctly signed token of a live session without aud is refused', async () => {
    const [claims] = await openSessions('doctor.ny@hms.test', NY);
    const { sub, sid, hid } = JSON.parse(claims);
    const withAud = await apiFetch('/patients?select=id&limit=1', { token: staffToken({ sub, sid, hid }) });
    expect(withAud.status).toBe(200);
    const withoutAud = await apiFetch('/patients?select=id&limit=1', { token: staffToken({ sub, sid, hid, aud: undefined }) });
    expect(withoutAud.status).toBe(401);
    expect((await withoutAud.json()).code).toBe('HMS_SESSION_INVALID');
  });
});

describe('permission scope', () => {
  it('hospitals.manage is chain-level', async () => {
    expect(await ownerQuery(`select code from app_public.permissions where scope = 'chain'`)).toEqual([{ code: 'hospitals.manage' }]);
  });
});
