/**
 * Hourly (worker/crontab): sessions that ended more than 30 days ago, with their refresh tokens;
 * invitation and reset links past their expiry, marked expired, and the token hashes of password
 * e-mails that can no longer be used
 * (app_private.purge_expired_sessions). The audit trail keeps the logins and logouts.
 */
import { cronPayload, defineTask } from '../task.ts';

export default defineTask(cronPayload, async (_payload, helpers) => {
  const { rows } = await helpers.query<{ purged: { sessions: number; password_email_tokens: number; expired_links: number } }>(
    `select app_private.purge_expired_sessions(interval '30 days') as purged`);
  const { sessions, password_email_tokens, expired_links } = rows[0].purged;
  if (sessions + password_email_tokens + expired_links > 0) {
    helpers.logger.info(`purged ${sessions} sessions and ${password_email_tokens} password e-mail tokens; ${expired_links} links expired`);
  }
});
