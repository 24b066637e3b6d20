/**
 * Every 10 minutes (worker/crontab): the reminder of each appointment starting within its
 * hospital's appointment_reminder_hours (app_private.send_appointment_reminders; once per
 * appointment, so overlapping or backfilled runs send nothing twice).
 */
import { scheduledCall } from '../task.ts';

export default scheduledCall('app_private.send_appointment_reminders', (count) => `${count} appointment reminders`);
