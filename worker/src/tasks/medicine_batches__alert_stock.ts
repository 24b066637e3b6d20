/**
 * Daily (worker/crontab): low-stock and near-expiry alerts to the staff who keep the stock
 * (app_private.send_stock_alerts; once per item and day).
 */
import { cronPayload, defineTask, scheduledTime } from '../task.ts';

export default defineTask(cronPayload, async (payload, helpers) => {
  const { rows } = await helpers.query<{ sent: number }>('select app_private.send_stock_alerts($1) as sent', [scheduledTime(payload)]);
  if (rows[0].sent > 0) helpers.logger.info(`${rows[0].sent} stock alerts`);
});
