/**
 * Identity RPCs through the real PostgREST (app_public.login, refresh, logout, me, switch_hospital,
 * change_password — db/schema/app_public/functions/): login and its lockout, refresh-token
 * rotation and reuse detection, logout, expired and tampered tokens, me(), switch_hospital,
 * change_password, and what an anonymous caller may do.
 *
 * Demo users are never locked out and never get a new password (other test files log in as them
 * in parallel): those tests use dedicated users created here as the owner, or unknown emails.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { apiFetch, login, loginToken, rpc, signToken, type LoginResult } from '../support/api.ts';
import { ownerQuery } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const LA = '10000000-0000-4000-8000-000000000002';
const stack = inject('stack');

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
const uniqueEmail = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}@hms.test`;

/** A dedicated user (never a demo user) with one role in one hospital. */
async function createUser(options: { password?: string; role?: string; hospitalId?: string; active?: boolean } = {}) {
  const { password = 'Initial-Passw0rd', role = 'doctor', hospitalId = NY, active = true } = options;
  const email = uniqueEmail('identity-test');
  const rows = await ownerQuery(
    `insert into app_public.users (email, first_name, last_name, home_hospital_id, is_active)
     values ($1, 'Identity', 'Tester', $2, $3) returning id`,
    [email, hospitalId, active],
  );
  const id: string = rows[0].id;
  await ownerQuery(
    `insert into app_private.user_secrets (user_id, password_hash) values ($1, public.crypt($2, public.gen_salt('bf', 10)))`,
    [id, password],
  );
  await ownerQuery(
    `insert into app_public.user_roles (user_id, role_id, hospital_id)
     select $1, r.id, $2 from app_public.roles r where r.code = $3 and r.hospital_id is null`,
    [id, hospitalId, role],
  );
  return { id, email, password };
}

async function auditRows(where: string, params: unknown[]) {
  const rows = await ownerQuery(
    `select action, user_id, hospital_id, session_id, record_id, new_values, old_values, description
       from app_public.audit_logs where ${where} order by occurred_at, created_at`,
    params,
  );
  return rows;
}

const countActions = (rows: { action: string }[]) =>
  rows.reduce<Record<string, number>>((counts, row) => ({ ...counts, [row.action]: (counts[row.action] ?? 0) + 1 }), {});

describe('login', () => {
  it('logs a demo user in; the access token carries the session claims and reads data', async () => {
    const session = await login('doctor.ny@hms.test');
    expect(session.token_type).toBe('bearer');
    expect(session.expires_in).toBe(900);
    expect(session.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.user).toMatchObject({
      email: 'doctor.ny@hms.test',
      first_name: 'Sarah',
      last_name: 'Mitchell',
      display_name: 'Dr. Sarah Mitchell',
      hospital: { id: NY, code: 'NY', name: 'HMS Core NY' },
    });

    const claims = claimsOf(session.access_token);
    expect(claims).toMatchObject({ role: stack.roles.staff, sub: session.user.id, hid: NY, aud: 'hms' });
    expect(claims.sid).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims.exp - claims.iat).toBe(900);
    expect(Math.abs(claims.iat - Date.now() / 1000)).toBeLessThan(120);

    const response = await apiFetch('/patients?select=id,mrn&limit=2', { token: session.access_token });
    expect(response.status).toBe(200);
    expect((await response.json()).length).toBeGreaterThan(0);

    const rows = await ownerQuery(
      `select s.user_id, s.hospital_id, s.expires_at > now() + interval '29 days' as thirty_days, u.last_login_at > now() - interval '1 minute' as stamped
         from app_private.sessions s join app_public.users u on u.id = s.user_id where s.id = $1`,
      [claims.sid],
    );
    expect(rows).toEqual([{ user_id: session.user.id, hospital_id: NY, thirty_days: true, stamped: true }]);
    const audit = await auditRows(`action = 'login' and record_id = $1`, [claims.sid]);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ user_id: session.user.id, hospital_id: NY, session_id: claims.sid });
  });

  it('stores only the SHA-256 of the refresh token', async () => {
    const session = await login('nurse.ny@hms.test');
    const rows = await ownerQuery(
      `select t.session_id, t.expires_at between now() + interval '6 days 23 hours' and now() + interval '7 days 1 minute' as seven_days
         from app_private.refresh_token_hashes h join app_public.refresh_tokens t on t.id = h.refresh_token_id
        where h.token_hash = sha256(convert_to($1, 'utf8'))`,
      [session.refresh_token],
    );
    expect(rows).toEqual([{ session_id: claimsOf(session.access_token).sid, seven_days: true }]);
  });

  it('treats the email case-insensitively', async () => {
    const session = await login('Reception.NY@HMS.test');
    expect(session.user.email).toBe('reception.ny@hms.test');
  });

  it('answers a wrong email, a wrong password and an inactive account identically (401 HMS_LOGIN_FAILED)', async () => {
    const user = await createUser();
    const inactive = await createUser({ active: false });
    const unknownEmail = await rpc('login', { email: uniqueEmail('nobody'), password: user.password });
    const wrongPassword = await rpc('login', { email: user.email, password: 'not-the-password' });
    const inactiveAccount = await rpc('login', { email: inactive.email, password: inactive.password });
    for (const answer of [unknownEmail, wrongPassword, inactiveAccount]) {
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({
        code: 'HMS_LOGIN_FAILED',
        message: 'Email or password is incorrect.',
        details: null,
        hint: null,
      });
    }
    // The failures were recorded although the answer was an error (the transaction committed).
    const audit = await auditRows(`action = 'login_failed' and new_values ->> 'email' = any ($1)`, [[user.email, inactive.email]]);
    expect(audit.map((row) => [row.user_id, row.new_values.reason])).toEqual([
      [user.id, 'wrong_password'],
      [inactive.id, 'inactive_account'],
    ]);
  });

  it('locks an account after 5 failures (429 HMS_ACCOUNT_LOCKED, even with the right password) and audits it', async () => {
    const user = await createUser();
    for (let attempt = 1; attempt <= 4; attempt++) {
      const answer = await rpc('login', { email: user.email, password: `wrong-${attempt}` });
      expect(answer.status, `attempt ${attempt}`).toBe(401);
    }
    const fifth = await rpc('login', { email: user.email, password: 'wrong-5' });
    expect(fifth.status).toBe(429);
    expect(fifth.body.code).toBe('HMS_ACCOUNT_LOCKED');
    expect(fifth.body.message).toMatch(/try again later/i);
    expect(fifth.body.details.retry_after_seconds).toBeGreaterThan(800);
    expect(fifth.body.details.retry_after_seconds).toBeLessThanOrEqual(900);
    expect(Number(fifth.headers.get('retry-after'))).toBe(fifth.body.details.retry_after_seconds);

    const rightPassword = await rpc('login', { email: user.email, password: user.password });
    expect(rightPassword.status).toBe(429);
    expect(rightPassword.body.code).toBe('HMS_ACCOUNT_LOCKED');

    const state = await ownerQuery(
      `select failed_count, locked_until between now() + interval '14 minutes' and now() + interval '15 minutes' as fifteen_minutes
         from app_private.login_failures where email = $1`,
      [user.email],
    );
    expect(state).toEqual([{ failed_count: 5, fifteen_minutes: true }]);
    const audit = await auditRows(`action in ('login_failed', 'account_locked') and new_values ->> 'email' = $1`, [user.email]);
    expect(countActions(audit)).toEqual({ login_failed: 6, account_locked: 1 });
    expect(audit.every((row) => row.user_id === user.id && row.hospital_id === NY)).toBe(true);
    expect(audit.filter((row) => row.new_values.reason === 'locked')).toHaveLength(1);

    // Once the lock has run out, the right password works and clears the counter.
    await ownerQuery(`update app_private.login_failures set locked_until = now() - interval '1 second' where email = $1`, [user.email]);
    const afterLock = await rpc('login', { email: user.email, password: user.password });
    expect(afterLock.status).toBe(200);
    const { length: rowCount } = await ownerQuery(`select 1 from app_private.login_failures where email = $1`, [user.email]);
    expect(rowCount).toBe(0);
  });

  it('locks an unknown email the same way, so the lockout reveals nothing', async () => {
    const email = uniqueEmail('unknown');
    const statuses: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      statuses.push((await rpc('login', { email, password: `guess-${attempt}` })).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    const audit = await auditRows(`action in ('login_failed', 'account_locked') and new_values ->> 'email' = $1`, [email]);
    expect(countActions(audit)).toEqual({ login_failed: 6, account_locked: 1 });
    expect(audit.every((row) => row.user_id === null && row.hospital_id === null)).toBe(true);
  });

  it('opens the hospital asked for when the user is a member (super admin: any), else 403 HMS_HOSPITAL_ACCESS_DENIED', async () => {
    const superAdmin = await login('superadmin@hms.test', 'Admin@123', LA);
    expect(superAdmin.user.hospital.code).toBe('LA');
    expect(claimsOf(superAdmin.access_token).hid).toBe(LA);

    const denied = await rpc('login', { email: 'admin.ny@hms.test', password: 'Admin@123', hospital_id: LA });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('HMS_HOSPITAL_ACCESS_DENIED');
  });
});

describe('refresh tokens', () => {
  it('rotate: a refresh gives a new working token pair', async () => {
    const first = await login('pharmacist.ny@hms.test');
    const second = await rpc('refresh', { refresh_token: first.refresh_token });
    expect(second.status).toBe(200);
    const next = second.body as LoginResult;
    expect(next.refresh_token).not.toBe(first.refresh_token);
    expect(claimsOf(next.access_token)).toMatchObject({ sid: claimsOf(first.access_token).sid, hid: NY });
    expect(next.user.hospital.code).toBe('NY');
    expect((await rpc('me', {}, next.access_token)).status).toBe(200);

    const rows = await ownerQuery(
      `select old.rotated_at is not null as rotated, old.replaced_by_id = new.id as replaced
         from app_public.refresh_tokens old
         join app_private.refresh_token_hashes oh on oh.refresh_token_id = old.id and oh.token_hash = sha256(convert_to($1, 'utf8'))
         join app_private.refresh_token_hashes nh on nh.token_hash = sha256(convert_to($2, 'utf8'))
         join app_public.refresh_tokens new on new.id = nh.refresh_token_id`,
      [first.refresh_token, next.refresh_token],
    );
    expect(rows).toEqual([{ rotated: true, replaced: true }]);
    expect(await auditRows(`action = 'token_refresh' and new_values ->> 'session_id' = $1`, [claimsOf(first.access_token).sid]))
      .toHaveLength(1);
  });

  it('re-using a rotated token revokes the whole session (401 HMS_REFRESH_TOKEN_REUSED), and its access tokens get 401', async () => {
    const first = await login('accountant.ny@hms.test');
    const rotated = (await rpc('refresh', { refresh_token: first.refresh_token })).body as LoginResult;

    const reuse = await rpc('refresh', { refresh_token: first.refresh_token });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('HMS_REFRESH_TOKEN_REUSED');

    // The revocation persisted: the successor's access token and refresh token are dead too.
    const me = await rpc('me', {}, rotated.access_token);
    expect(me.status).toBe(401);
    expect(me.body.code).toBe('HMS_SESSION_INVALID');
    expect((await rpc('refresh', { refresh_token: rotated.refresh_token })).status).toBe(401);

    const sid = claimsOf(first.access_token).sid;
    const session = await ownerQuery(`select revoked_reason from app_private.sessions where id = $1`, [sid]);
    expect(session).toEqual([{ revoked_reason: 'refresh_token_reuse' }]);
    const tokens = await ownerQuery(
      `select revoked_reason, count(*)::int as n from app_public.refresh_tokens where session_id = $1 group by 1`,
      [sid],
    );
    expect(tokens).toEqual([{ revoked_reason: 'reuse_detected', n: 2 }]);
  });

  it('an unknown refresh token gets 401 HMS_REFRESH_TOKEN_INVALID', async () => {
    const answer = await rpc('refresh', { refresh_token: 'not-a-token' });
    expect(answer.status).toBe(401);
    expect(answer.body.code).toBe('HMS_REFRESH_TOKEN_INVALID');
  });
});

describe('access tokens', () => {
  it('logout ends the session: the token then gets 401, and so does its refresh token', async () => {
    const session = await login('doctor.la@hms.test');
    const out = await rpc('logout', {}, session.access_token);
    expect(out.status).toBe(200);
    expect(out.body.session_id).toBe(claimsOf(session.access_token).sid);

    const after = await apiFetch('/hospitals?select=id', { token: session.access_token });
    expect(after.status).toBe(401);
    expect((await after.json()).code).toBe('HMS_SESSION_INVALID');
    expect((await rpc('logout', {}, session.access_token)).status).toBe(401);
    expect((await rpc('refresh', { refresh_token: session.refresh_token })).status).toBe(401);
    expect(await auditRows(`action = 'logout' and record_id = $1`, [claimsOf(session.access_token).sid])).toHaveLength(1);
  });

  it('an expired token gets 401', async () => {
    const session = await login('doctor.chi@hms.test');
    const now = Math.floor(Date.now() / 1000);
    const expired = signToken({ ...claimsOf(session.access_token), iat: now - 1000, exp: now - 100 }, stack.jwtSecret);
    const response = await apiFetch('/rpc/me', { method: 'POST', token: expired });
    expect(response.status).toBe(401);
    expect((await response.json()).code).toBe('PGRST301');
  });

  it('a tampered token (claims changed, signature kept) gets 401', async () => {
    const session = await login('admin.la@hms.test');
    const [header, , signature] = session.access_token.split('.');
    const claims = { ...claimsOf(session.access_token), hid: NY };
    const tampered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    const response = await apiFetch('/rpc/me', { method: 'POST', token: tampered });
    expect(response.status).toBe(401);
  });

  it('a token for another audience gets 401', async () => {
    const session = await login('admin.la@hms.test');
    const otherAudience = signToken({ ...claimsOf(session.access_token), aud: 'not-hms' }, stack.jwtSecret);
    expect((await apiFetch('/rpc/me', { method: 'POST', token: otherAudience })).status).toBe(401);
  });

  it('anonymous may call login and refresh but not me or logout (401, missing execute grant)', async () => {
    for (const name of ['me', 'logout']) {
      const answer = await rpc(name);
      expect(answer.status, name).toBe(401);
      expect(answer.body.code, name).toBe('HMS_SESSION_INVALID');
    }
    for (const name of ['switch_hospital', 'change_password']) {
      const body = name === 'switch_hospital' ? { hospital_id: NY } : { old_password: 'x', new_password: 'y' };
      expect((await rpc(name, body)).status, name).toBe(401);
    }
    expect((await rpc('refresh', { refresh_token: 'x' })).body.code).toBe('HMS_REFRESH_TOKEN_INVALID');
  });
});

describe('me', () => {
  it('describes the user, the active hospital, the hospitals to switch to, roles and permissions', async () => {
    const me = await rpc('me', {}, await loginToken('doctor.ny@hms.test'));
    expect(me.status).toBe(200);
    expect(me.body.user).toMatchObject({ email: 'doctor.ny@hms.test', first_name: 'Sarah', display_name: 'Dr. Sarah Mitchell' });
    expect(me.body.hospital).toEqual({ id: NY, code: 'NY', name: 'HMS Core NY', time_zone: 'America/New_York', currency_code: 'USD' });
    expect(me.body.hospitals).toEqual([{ id: NY, code: 'NY', name: 'HMS Core NY', roles: ['doctor'] }]);
    expect(me.body.roles).toEqual(['doctor']);
    expect(me.body.permissions).toEqual([...me.body.permissions].sort());
    expect(me.body.permissions).toContain('prescriptions.write');
    expect(me.body.permissions).not.toContain('billing.void');

    const nurse = await rpc('me', {}, await loginToken('nurse.ny@hms.test'));
    expect(nurse.body.roles).toEqual(['nurse', 'lab_technician']);
    expect(nurse.body.permissions).toContain('lab.process');
  });

  it('lists every active hospital for the super admin', async () => {
    const me = await rpc('me', {}, await loginToken('superadmin@hms.test'));
    const rows = await ownerQuery(`select code from app_public.hospitals where is_active and not is_deleted order by code`);
    expect(me.body.hospitals.map((h: { code: string }) => h.code)).toEqual(rows.map((r) => r.code));
    expect(me.body.hospitals.every((h: { roles: string[] }) => h.roles.includes('super_admin'))).toBe(true);
    expect(me.body.permissions).toContain('hospitals.manage');
  });
});

describe('switch_hospital', () => {
  it('takes the super admin to LA: new tokens, me() shows LA, the old access token loses its hospital', async () => {
    const session = await login('superadmin@hms.test');
    expect(session.user.hospital.code).toBe('NY');
    const switched = await rpc('switch_hospital', { hospital_id: LA }, session.access_token);
    expect(switched.status).toBe(200);
    expect(switched.body.user.hospital.code).toBe('LA');
    expect(claimsOf(switched.body.access_token)).toMatchObject({ hid: LA, sid: claimsOf(session.access_token).sid });
    expect(switched.body.refresh_token).not.toBe(session.refresh_token);

    const me = await rpc('me', {}, switched.body.access_token);
    expect(me.body.hospital.code).toBe('LA');
    expect(me.body.roles).toEqual(['super_admin']);
    const old = await rpc('me', {}, session.access_token);
    expect(old.status).toBe(200);
    expect(old.body.hospital).toBeNull();
    expect(old.body.permissions).toEqual([]);

    const audit = await auditRows(`action = 'switch_hospital' and record_id = $1`, [claimsOf(session.access_token).sid]);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ hospital_id: LA, old_values: { hospital_id: NY }, new_values: { hospital_id: LA } });
  });

  it('refuses a hospital admin another hospital (403 HMS_HOSPITAL_ACCESS_DENIED)', async () => {
    const answer = await rpc('switch_hospital', { hospital_id: LA }, await loginToken('admin.ny@hms.test'));
    expect(answer.status).toBe(403);
    expect(answer.body.code).toBe('HMS_HOSPITAL_ACCESS_DENIED');
  });
});

describe('change_password', () => {
  it('checks the current password and the policy (422 HMS_PASSWORD_POLICY, details names the rule)', async () => {
    const user = await createUser();
    const token = (await login(user.email, user.password)).access_token;

    const wrongOld = await rpc('change_password', { old_password: 'nope', new_password: 'A-good-new-passw0rd' }, token);
    expect(wrongOld.status).toBe(403);
    expect(wrongOld.body.code).toBe('HMS_PASSWORD_INCORRECT');

    const cases: [string, string, RegExp][] = [
      ['Sh0rt!', 'min_length', /at least 10 characters/],
      [`${user.email.split('@')[0]}-2024!`, 'not_email', /email/],
      [`X${user.email.toUpperCase()}`, 'not_email', /email/],
      [user.password, 'not_reused', /different/],
    ];
    for (const [newPassword, rule, message] of cases) {
      const answer = await rpc('change_password', { old_password: user.password, new_password: newPassword }, token);
      expect(answer.status, rule).toBe(422);
      expect(answer.body.code).toBe('HMS_PASSWORD_POLICY');
      expect(answer.body.details).toBe(rule);
      expect(answer.body.message).toMatch(message);
    }
    // The wrong current password counted towards the login lockout (one failure) and was audited.
    const failures = await ownerQuery(`select failed_count from app_private.login_failures where email = $1`, [user.email]);
    expect(failures).toEqual([{ failed_count: 1 }]);
    const audit = await auditRows(`action = 'password_change_failed' and user_id = $1`, [user.id]);
    expect(audit.map((row) => row.new_values.reason)).toEqual(['wrong_password']);
  });

  it('counts wrong current passwords toward the lockout: the 5th locks the account (429), for login too', async () => {
    const user = await createUser();
    const token = (await login(user.email, user.password)).access_token;
    const guess = () => rpc('change_password', { old_password: 'a-wrong-guess', new_password: 'A-good-new-passw0rd' }, token);
    for (let attempt = 1; attempt <= 4; attempt++) expect((await guess()).status, `guess ${attempt}`).toBe(403);
    const fifth = await guess();
    expect([fifth.status, fifth.body.code]).toEqual([429, 'HMS_ACCOUNT_LOCKED']);
    // Locked: not even the right current password changes it, and login is refused as well.
    const right = await rpc('change_password', { old_password: user.password, new_password: 'A-good-new-passw0rd' }, token);
    expect([right.status, right.body.code]).toEqual([429, 'HMS_ACCOUNT_LOCKED']);
    expect((await rpc('login', { email: user.email, password: user.password })).status).toBe(429);
    const audit = await auditRows(`action in ('password_change_failed', 'account_locked') and user_id = $1`, [user.id]);
    expect(countActions(audit)).toEqual({ password_change_failed: 6, account_locked: 1 });
  });

  it('changes the password: the old one then fails, the new one works, other sessions end', async () => {
    const user = await createUser();
    const current = await login(user.email, user.password);
    const other = await login(user.email, user.password);

    const changed = await rpc('change_password', { old_password: user.password, new_password: 'Brand-new-Passw0rd' }, current.access_token);
    expect(changed.status).toBe(200);
    expect(changed.body.revoked_sessions).toBe(1);

    expect((await rpc('me', {}, current.access_token)).status).toBe(200);
    expect((await rpc('me', {}, other.access_token)).status).toBe(401);
    expect((await rpc('login', { email: user.email, password: user.password })).status).toBe(401);
    expect((await rpc('login', { email: user.email, password: 'Brand-new-Passw0rd' })).status).toBe(200);

    const rows = await ownerQuery(
      `select revoked_reason from app_private.sessions where id = $1`,
      [claimsOf(other.access_token).sid],
    );
    expect(rows).toEqual([{ revoked_reason: 'password_changed' }]);
    const audit = await auditRows(`action = 'password_changed' and user_id = $1`, [user.id]);
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0])).not.toContain('Brand-new');
  });
});
