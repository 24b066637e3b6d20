/**
 * Daily (worker/crontab): low-stock and near-expiry alerts to the staff who keep the stock
 * (app_private.send_stock_alerts; once per item and day).
 */
import { scheduledCall } from '../task.ts';

export default scheduledCall('app_private.send_stock_alerts', (count) => `${count} stock alerts`);
