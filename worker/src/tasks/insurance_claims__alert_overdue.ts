/**
 * Daily (worker/crontab): claims past their insurer's settlement days, to the staff who handle
 * claims (app_private.send_overdue_claim_alerts; once per claim and week).
 */
import { cronPayload, defineTask, scheduledTime } from '../task.ts';

export default defineTask(cronPayload, async (payload, helpers) => {
  const { rows } = await helpers.query<{ sent: number }>('select app_private.send_overdue_claim_alerts($1) as sent', [scheduledTime(payload)]);
  if (rows[0].sent > 0) helpers.logger.info(`${rows[0].sent} overdue-claim alerts`);
});
