/**
 * Hourly (worker/crontab): each hospital's previous local day is settled within the hour after
 * its midnight, with the summary to the staff who settle (app_private.settle_due_days). Days
 * already settled, or reopened by a manager, are left alone.
 */
import { cronPayload, defineTask, scheduledTime } from '../task.ts';

export default defineTask(cronPayload, async (payload, helpers) => {
  const { rows } = await helpers.query<{ settled: number }>('select app_private.settle_due_days($1) as settled', [scheduledTime(payload)]);
  if (rows[0].settled > 0) helpers.logger.info(`settled ${rows[0].settled} hospital days`);
});
