/**
 * The local outbox on the one origin: what the mail catcher (a real SMTP server, used when
 * HMS_SMTP_URL is unset) kept is listed at /outbox/mail for holders of settings.manage only.
 */
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../db/launcher/ports.ts';
import { startMailCatcher, type MailCatcher } from '../../worker/src/delivery/mail-catcher.ts';
import { loginToken } from '../support/api.ts';

const stack = inject('stack');
let catcher: MailCatcher;
const subject = `Outbox test ${Date.now()}`;

const outbox = (path: string, token?: string) => fetch(`${stack.frontUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

beforeAll(async () => {
  catcher = await startMailCatcher({ port: await freePort(), outboxDir: stack.outboxDir });
  const transport = nodemailer.createTransport(catcher.url);
  await transport.sendMail({ from: 'no-reply@hms.local', to: 'patient@example.org', subject, text: 'Kept by the catcher.', messageId: '<outbox-test@hms.local>' });
  transport.close();
});

afterAll(async () => {
  await catcher?.stop();
});

describe('the local outbox', () => {
  it('lists the caught messages, newest first, for holders of settings.manage', async () => {
    const answer = await outbox('/outbox/mail', await loginToken('admin.ny@hms.test'));
    expect(answer.status).toBe(200);
    const body = await answer.json();
    expect(body.catcher).toBe(true);
    const message = body.messages.find((item: { subject: string }) => item.subject === subject);
    expect(message).toMatchObject({ to: 'patient@example.org', from: 'no-reply@hms.local', message_id: '<outbox-test@hms.local>' });
    const raw = await outbox(`/outbox/mail/${message.file}`, await loginToken('admin.ny@hms.test'));
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toContain('message/rfc822');
    expect(await raw.text()).toContain('Kept by the catcher.');
  });

  it('refuses everyone else with the HMS codes, and names outside the outbox', async () => {
    const anonymous = await outbox('/outbox/mail');
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).code).toBe('HMS_SESSION_INVALID');
    const reception = await outbox('/outbox/mail', await loginToken('reception.ny@hms.test'));
    expect(reception.status).toBe(403);
    expect((await reception.json()).code).toBe('HMS_FORBIDDEN');
    const forged = await outbox('/outbox/mail', 'not-a-token');
    expect(forged.status).toBe(401);
    const escape = await outbox('/outbox/mail/..%2Fjwt-secret', await loginToken('admin.ny@hms.test'));
    expect(escape.status).toBe(404);
    expect((await escape.json()).code).toBe('HMS_NOT_FOUND');
  });
});
