/**
 * Daily (worker/crontab): the monthly partitions of the append-heavy tables (audit_logs,
 * stock_movements, appointment_status_log, notification_queue) exist for this month and the next
 * three before any row arrives, so no row lands in a default partition. Idempotent: it creates
 * only the missing months.
 */
import { cronPayload, defineTask } from '../task.ts';

export default defineTask(cronPayload, async (_payload, helpers) => {
  const { rows } = await helpers.query<{ created: number }>('select app_hidden.create_partitions_ahead(3) as created');
  if (rows[0].created > 0) helpers.logger.info(`created ${rows[0].created} monthly partitions`);
});
