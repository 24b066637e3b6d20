/**
 * Every minute (worker/crontab) and when the worker starts: a wake-up job for each notification
 * that should be moving and is not — overdue (its job went with a worker that died) or held by a
 * stale lock (app_private.notification_sweep).
 */
import { channels } from '../delivery/channels.ts';
import { cronPayload, defineTask } from '../task.ts';

export default defineTask(cronPayload, async (_payload, helpers) => {
  const { rows } = await helpers.query<{ woken: number }>(
    'select app_private.notification_sweep(make_interval(secs => $1)) as woken', [channels().staleLockSeconds]);
  if (rows[0].woken > 0) helpers.logger.info(`woke ${rows[0].woken} stuck notifications`);
});
