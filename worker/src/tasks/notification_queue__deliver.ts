/**
 * Enqueued by the database (app_hidden.notify, the retries of app_private.notification_failed, the
 * sweep), one job per notification_queue row, job key `notification_queue:<id>`. Claims the row
 * (app_private.notification_claim: nothing happens unless it is due and nobody else holds it),
 * sends it on its channel and records the outcome: sent with the provider's message id, or failed
 * with the reason — retried with backoff, or dead when permanent or out of attempts.
 *
 * Exactly once as far as the database can see: a second job for the same row finds it sent or
 * held and does nothing. A worker killed between the provider's acceptance and the record of it
 * leaves the row `processing`; after HMS_WORKER_STALE_LOCK_SECONDS another worker sends it again
 * (with the same Message-ID, by which a mail system can recognise the repeat) — the one window no
 * database can close (RFC 1047).
 */
import { z } from 'zod';
import { channels, DeliveryError } from '../delivery/channels.ts';
import { defineTask } from '../task.ts';

const claim = z.discriminatedUnion('action', [
  z.object({ action: z.literal('skip'), reason: z.string() }),
  z.object({ action: z.literal('later'), at: z.string() }),
  z.object({
    action: z.literal('send'),
    id: z.uuid(),
    channel: z.enum(['email', 'sms', 'whatsapp', 'push']),
    to: z.string(),
    payload: z.object({ subject: z.string().optional(), text: z.string(), html: z.string().optional(), template_id: z.string().optional() }),
    attempt: z.number(),
    from_name: z.string().nullable(),
    reply_to: z.string().nullable(),
  }),
]);

export default defineTask(z.object({ id: z.uuid() }).strict(), async ({ id }, helpers) => {
  const delivery = channels();
  const { rows } = await helpers.query<{ claim: unknown }>(
    'select app_private.notification_claim($1, $2, make_interval(secs => $3)) as claim',
    [id, delivery.workerId, delivery.staleLockSeconds]);
  const claimed = claim.parse(rows[0].claim);
  if (claimed.action !== 'send') return;

  let sent: { provider: string; id: string };
  try {
    const text = { reference: claimed.id, to: claimed.to, text: claimed.payload.text, templateId: claimed.payload.template_id };
    switch (claimed.channel) {
      case 'email':
        sent = await delivery.email({
          ...text,
          fromName: claimed.from_name,
          replyTo: claimed.reply_to,
          subject: claimed.payload.subject ?? '',
          html: claimed.payload.html,
        });
        break;
      case 'sms':
        sent = await delivery.sms(text);
        break;
      case 'whatsapp':
        sent = await delivery.whatsapp(text);
        break;
      default:
        throw new DeliveryError(`no provider for the ${claimed.channel} channel`, true);
    }
  } catch (error) {
    const permanent = error instanceof DeliveryError ? error.permanent : false;
    const { rows: outcome } = await helpers.query<{ outcome: string }>(
      'select app_private.notification_failed($1, $2, $3) as outcome', [id, (error as Error).message, permanent]);
    helpers.logger.info(`notification ${id} attempt ${claimed.attempt} failed (${outcome[0].outcome}): ${(error as Error).message}`);
    return;
  }
  await helpers.query('select app_private.notification_sent($1, $2, $3)', [id, sent.provider, sent.id]);
});
