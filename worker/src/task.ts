/**
 * The one way to write a task: its payload schema (zod) and its handler. The payload is checked
 * before the handler runs — a job whose payload does not match fails with the schema's message
 * and is not retried into the same failure blindly (graphile-worker retries with backoff up to
 * the job's max_attempts; the error is kept in the job's last_error).
 *
 * Payloads hold ids only (DESIGN.md §11): the jobs table is outside row-level security, so
 * nothing confidential is ever written into it; the task reads what it needs by id.
 */
import type { JobHelpers, Task } from 'graphile-worker';
import { z } from 'zod';

export function defineTask<Schema extends z.ZodType>(
  payload: Schema,
  handler: (payload: z.infer<Schema>, helpers: JobHelpers) => Promise<void>,
): Task {
  return async (raw, helpers) => {
    const parsed = payload.safeParse(raw ?? {});
    if (!parsed.success) {
      throw new Error(`${helpers.job.task_identifier}: invalid payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'} ${i.message}`).join('; ')}`);
    }
    await handler(parsed.data, helpers);
  };
}

/** The payload graphile-worker gives a task started by the crontab (nothing else in it). */
export const cronPayload = z.object({ _cron: z.object({ ts: z.string(), backfilled: z.boolean().optional() }).optional() }).strict();

/** The time a scheduled run stands for: its crontab slot (a backfilled run acts as of its slot), else now. */
export function scheduledTime(payload: z.infer<typeof cronPayload>): string {
  return payload._cron?.ts ?? new Date().toISOString();
}

/**
 * A scheduled task that calls one function of the database as of its slot (`fn(timestamptz)`
 * answering a count) and logs `describe(count)` when it did something.
 */
export function scheduledCall(fn: string, describe: (count: number) => string): Task {
  if (!/^app_private\.[a-z_]+$/.test(fn)) throw new Error(`scheduledCall: ${fn} is not a function of app_private`);
  return defineTask(cronPayload, async (payload, helpers) => {
    const { rows } = await helpers.query<{ count: number }>(`select ${fn}($1) as count`, [scheduledTime(payload)]);
    if (rows[0].count > 0) helpers.logger.info(describe(rows[0].count));
  });
}
