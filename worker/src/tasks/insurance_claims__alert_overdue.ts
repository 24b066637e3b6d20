/**
 * Daily (worker/crontab): claims past their insurer's settlement days, to the staff who handle
 * claims (app_private.send_overdue_claim_alerts; once per claim and week).
 */
import { scheduledCall } from '../task.ts';

export default scheduledCall('app_private.send_overdue_claim_alerts', (count) => `${count} overdue-claim alerts`);
