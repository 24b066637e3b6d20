/**
 * Enqueued by invite_user and request_password_reset (job key `password_emails:<id>`): asks the
 * database for a fresh one-time token and the rendered message (app_private.password_email_claim),
 * e-mails the link, and marks the e-mail sent. The token exists only here and in the e-mail; the
 * database keeps its hash. A failed send is retried by graphile-worker (up to 5 attempts, with its
 * backoff), each attempt with a new token, so only the link of the e-mail that arrived works.
 */
import { z } from 'zod';
import { channels } from '../delivery/channels.ts';
import { defineTask } from '../task.ts';

const message = z.object({ to: z.string(), from_name: z.string(), subject: z.string(), text: z.string() }).nullable();

export default defineTask(z.object({ id: z.uuid() }).strict(), async ({ id }, helpers) => {
  const delivery = channels();
  const { rows } = await helpers.query<{ message: unknown }>(
    'select app_private.password_email_claim($1, $2) as message', [id, delivery.publicUrl]);
  const claimed = message.parse(rows[0].message);
  if (!claimed) return;
  await delivery.email({ reference: id, to: claimed.to, fromName: claimed.from_name, replyTo: null, subject: claimed.subject, text: claimed.text });
  await helpers.query('select app_private.password_email_sent($1)', [id]);
});
