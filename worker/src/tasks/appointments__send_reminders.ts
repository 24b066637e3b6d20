/**
 * Every 10 minutes (worker/crontab): the reminder of each appointment starting within its
 * hospital's appointment_reminder_hours (app_private.send_appointment_reminders; once per
 * appointment, so overlapping or backfilled runs send nothing twice).
 */
import { cronPayload, defineTask, scheduledTime } from '../task.ts';

export default defineTask(cronPayload, async (payload, helpers) => {
  const { rows } = await helpers.query<{ sent: number }>('select app_private.send_appointment_reminders($1) as sent', [scheduledTime(payload)]);
  if (rows[0].sent > 0) helpers.logger.info(`${rows[0].sent} appointment reminders`);
});
