/**
 * Hourly (worker/crontab): each hospital's previous local day is settled within the hour after
 * its midnight, with the summary to the staff who settle (app_private.settle_due_days). Days
 * already settled, or reopened by a manager, are left alone.
 */
import { scheduledCall } from '../task.ts';

export default scheduledCall('app_private.settle_due_days', (count) => `settled ${count} hospital days`);
