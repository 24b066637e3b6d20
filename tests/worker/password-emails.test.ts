/**
 * Staff invitations and password resets end to end, over the real API (the front and PostgREST)
 * with the real worker sending to a real SMTP server: an administrator creates an account and
 * invites it, the link in the e-mail sets the first password, and the new member of staff logs in.
 * The worker runs against the suite's main database here (the one behind the API).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../db/launcher/config.ts';
import { freePort } from '../../db/launcher/ports.ts';
import { startWorker, type WorkerServer } from '../../worker/src/worker.ts';
import { login, loginToken, rpc } from '../support/api.ts';
import { startSmtpSink, waitFor, type SmtpSink } from '../support/sinks.ts';

const stack = inject('stack');
const worker = new URL(stack.workerUrl);
const owner = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
const query = async (sql: string, params: unknown[] = []) => (await owner.query(sql, params)).rows;

let smtp: SmtpSink;
let running: WorkerServer;
let dataDir: string;
const PUBLIC_URL = 'https://hms.example.org';

/** The one e-mail to `to` sent after `since` messages, and the token of its link. */
async function linkSentTo(to: string, since: number): Promise<{ subject: string; text: string; token: string }> {
  const mail = await waitFor(`an e-mail to ${to}`, () => smtp.messages.slice(since).find((message) => message.to === to));
  const token = new RegExp(`${PUBLIC_URL.replace(/\./g, '\\.')}/set-password\\?token=([0-9a-f]{64})`).exec(mail.text)?.[1];
  expect(token, mail.text).toBeTruthy();
  return { subject: mail.subject, text: mail.text, token: token! };
}

async function createStaffAccount(adminToken: string, email: string): Promise<string> {
  const [role] = await query(`select id from app_public.roles where name = 'Nurse' and hospital_id is null`);
  const created = await rpc('create_staff_account', { email, first_name: 'Nadia', last_name: 'Newcomer', role_id: role.id, job_title: 'Staff nurse', send_invitation: false }, adminToken);
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  expect(created.body).toMatchObject({ email, home_hospital_id: '10000000-0000-4000-8000-000000000001' });
  return created.body.id;
}

beforeAll(async () => {
  smtp = await startSmtpSink();
  dataDir = mkdtempSync(path.join(tmpdir(), 'hms-password-'));
  const config = loadConfig({
    DATABASE_URL: stack.databaseUrl,
    DATABASE_WORKER: decodeURIComponent(worker.username),
    DATABASE_WORKER_PASSWORD: decodeURIComponent(worker.password),
    HMS_JWT_SECRET: stack.jwtSecret,
    HMS_DATA_DIR: dataDir,
    HMS_API_PORT: String(await freePort()),
    HMS_SMTP_URL: smtp.url,
    HMS_PUBLIC_URL: PUBLIC_URL,
  });
  running = await startWorker(config, { pollInterval: 100, withoutSchedules: true, log: () => {} });
});

afterAll(async () => {
  await running?.stop();
  await smtp?.stop();
  await owner.end();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('invitations and password resets', () => {
  it('an invitation ends in a first login; its link works once', async () => {
    const admin = await loginToken('admin.ny@hms.test');
    const email = `nadia.${Date.now()}@example.org`;
    const userId = await createStaffAccount(admin, email);
    // Without a password nobody can log in yet.
    expect((await rpc('login', { email, password: 'anything-at-all' })).status).toBe(401);

    const since = smtp.messages.length;
    const invited = await rpc('invite_user', { user_id: userId }, admin);
    expect(invited.status, JSON.stringify(invited.body)).toBe(200);
    expect(invited.body).toMatchObject({ user_id: userId, purpose: 'invite', status: 'pending', sent_to: email });
    expect(JSON.stringify(invited.body)).not.toMatch(/token/);
    const mail = await linkSentTo(email, since);
    expect(mail.subject).toContain('HMS Core NY');
    await waitFor('marked sent', async () => (await query(`select status from app_public.password_emails where id = $1`, [invited.body.id]))[0].status === 'sent');
    // The database keeps only the token's hash.
    const [kept] = await query(`select encode(token_hash, 'hex') as hash from app_private.password_email_tokens where password_email_id = $1`, [invited.body.id]);
    expect(kept.hash).not.toBe(mail.token);
    expect(kept.hash).toHaveLength(64);

    const weak = await rpc('set_password_with_token', { token: mail.token, new_password: 'short' });
    expect(weak.status).toBe(422);
    expect(weak.body.code).toBe('HMS_PASSWORD_POLICY');
    const set = await rpc('set_password_with_token', { token: mail.token, new_password: 'Lantern-Quietly-42' });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toEqual({ password_set: true, email });
    const session = await login(email, 'Lantern-Quietly-42');
    expect(session.user.email).toBe(email);

    const again = await rpc('set_password_with_token', { token: mail.token, new_password: 'Another-Password-77' });
    expect(again.status).toBe(422);
    expect(again.body.code).toBe('HMS_PASSWORD_LINK_INVALID');
    const [audit] = await query(`select description, new_values from app_public.audit_logs where action = 'password_changed' and record_id = $1 order by occurred_at desc limit 1`, [userId]);
    expect(audit.description).toBe('Password set with an invitation link');
  });

  it('a reset never tells whether the address exists; only the newest link works, and it ends every session', async () => {
    const unknown = await rpc('request_password_reset', { email: `nobody.${Date.now()}@example.org` });
    const known = await rpc('request_password_reset', { email: 'nurse.ny@hms.test' });
    expect(unknown.status).toBe(200);
    expect(known.status).toBe(200);
    expect(known.body).toEqual(unknown.body);
    const first = await linkSentTo('nurse.ny@hms.test', 0);

    // A second request within two minutes sends nothing more; an older request's link is revoked by a newer one.
    await query(`update app_public.password_emails set requested_at = requested_at - interval '5 minutes' where sent_to = 'nurse.ny@hms.test'`);
    const since = smtp.messages.length;
    expect((await rpc('request_password_reset', { email: 'NURSE.NY@hms.test' })).status).toBe(200);
    const second = await linkSentTo('nurse.ny@hms.test', since);
    expect(second.token).not.toBe(first.token);
    expect((await rpc('set_password_with_token', { token: first.token, new_password: 'Harbor-Lights-2026' })).body.code).toBe('HMS_PASSWORD_LINK_INVALID');

    const before = await login('nurse.ny@hms.test');
    const reset = await rpc('set_password_with_token', { token: second.token, new_password: 'Harbor-Lights-2026' });
    expect(reset.status).toBe(200);
    // The session opened with the old password is over.
    const me = await rpc('me', {}, before.access_token);
    expect(me.status).toBe(401);
    expect((await rpc('login', { email: 'nurse.ny@hms.test', password: 'Admin@123' })).status).toBe(401);
    expect((await login('nurse.ny@hms.test', 'Harbor-Lights-2026')).user.email).toBe('nurse.ny@hms.test');
    // Back to the demo password for the rest of the suite.
    await query(`update app_private.user_secrets set password_hash = crypt('Admin@123', gen_salt('bf', 10))
                  where user_id = (select id from app_public.users where email = 'nurse.ny@hms.test')`);
  });

  it('an expired link is refused, and an invitation needs users.manage in the same hospital', async () => {
    const [nurse] = await query(`select id from app_public.users where email = 'nurse.ny@hms.test'`);
    const reception = await loginToken('reception.ny@hms.test');
    const refused = await rpc('invite_user', { user_id: nurse.id }, reception);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('HMS_FORBIDDEN');
    const otherHospitalAdmin = await loginToken('admin.la@hms.test');
    const notFound = await rpc('invite_user', { user_id: nurse.id }, otherHospitalAdmin);
    expect(notFound.status).toBe(404);

    const since = smtp.messages.length;
    const invited = await rpc('invite_user', { user_id: nurse.id }, await loginToken('admin.ny@hms.test'));
    expect(invited.status).toBe(200);
    const mail = await linkSentTo('nurse.ny@hms.test', since);
    await query(`update app_public.password_emails set expires_at = now() - interval '1 second', requested_at = now() - interval '1 hour' where id = $1`, [invited.body.id]);
    const expired = await rpc('set_password_with_token', { token: mail.token, new_password: 'Harbor-Lights-2027' });
    expect(expired.status).toBe(422);
    expect(expired.body.code).toBe('HMS_PASSWORD_LINK_INVALID');
  });
});
