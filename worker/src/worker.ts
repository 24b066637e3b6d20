/**
 * The worker: graphile-worker running the tasks of worker/src/tasks/ (one file per task, named
 * <table>__<action>.ts, its default export made with defineTask) and the schedules of
 * worker/crontab, connected as its own role (DATABASE_WORKER), which may use the job queue and
 * call the functions its tasks need, nothing else.
 *
 * `npm start` runs it in the launcher's process (HMS_WORKER=true); `npm run worker` runs it alone.
 */
import { readdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Logger, run, type Runner, type TaskList } from 'graphile-worker';
import type { HmsConfig } from '../../db/launcher/config.ts';
import { createChannels, setChannels } from './delivery/channels.ts';
import { startMailCatcher, type MailCatcher } from './delivery/mail-catcher.ts';

const here = import.meta.dirname;
export const tasksDirectory = path.join(here, 'tasks');
export const crontabFile = path.join(here, '..', 'crontab');

/** The task list: every file of worker/src/tasks/, by its name. */
export async function loadTasks(directory = tasksDirectory): Promise<TaskList> {
  const tasks: TaskList = {};
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.ts')).sort()) {
    const name = file.slice(0, -3);
    if (!/^[a-z][a-z0-9_]*__[a-z][a-z0-9_]*$/.test(name)) throw new Error(`worker task ${file}: name it <table>__<action>.ts`);
    const module = await import(path.join(directory, file));
    if (typeof module.default !== 'function') throw new Error(`worker task ${file}: its default export must be a task (defineTask)`);
    tasks[name] = module.default;
  }
  return tasks;
}

export interface WorkerServer {
  runner: Runner;
  /** The local mail catcher, when HMS_SMTP_URL is unset. */
  mailCatcher: MailCatcher | null;
  /** False once the runner has stopped (stopped on purpose, or failed). */
  running(): boolean;
  stop(): Promise<void>;
}

export async function startWorker(
  config: HmsConfig,
  options: { log?: (line: string) => void; connectionString?: string; pollInterval?: number; withoutSchedules?: boolean } = {},
): Promise<WorkerServer> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { delivery } = config;
  const mailCatcher = delivery.smtpUrl ? null : await startMailCatcher({ port: delivery.mailCatcherPort, outboxDir: delivery.outboxDir });
  const channels = createChannels(delivery, delivery.smtpUrl ?? mailCatcher!.url);
  setChannels(Object.assign(channels, {
    workerId: `${hostname()}:${process.pid}`,
    staleLockSeconds: config.workerStaleLockSeconds,
    publicUrl: config.publicUrl,
  }));
  const logger = new Logger((scope) => (level, message) => {
    // Every job's start and end are debug detail; the tasks' own lines and the warnings are not.
    if ((level === 'debug' || /^(Completed|Started) task/.test(message)) && !process.env.HMS_WORKER_DEBUG) return;
    log(`worker${scope.taskIdentifier ? ` ${scope.taskIdentifier}` : ''}: ${message}`);
  });
  const closeChannels = async () => {
    channels.close();
    setChannels(null);
    await mailCatcher?.stop();
  };
  let runner: Runner;
  try {
    runner = await run({
    connectionString: options.connectionString ?? config.workerUrl,
    concurrency: config.workerConcurrency,
    // Jobs fetched (and locked) a few at a time and completed in batches: far fewer round trips
    // per job when a burst of messages is queued. Jobs a worker that dies held locked are not
    // lost: the notification sweep wakes their rows once they are overdue.
    preset: { worker: { localQueue: { size: config.workerConcurrency * 4 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    pollInterval: options.pollInterval ?? 2000,
    noHandleSignals: true,
    logger,
    taskList: await loadTasks(),
    ...(options.withoutSchedules ? { parsedCronItems: [] } : { crontabFile }),
    });
    // What a worker that was down left behind is picked up now, not at the next minute.
    await runner.addJob('notification_queue__sweep', {}, { jobKey: 'notification_queue__sweep:start', maxAttempts: 1 });
  } catch (error) {
    await closeChannels();
    throw error;
  }
  let running = true;
  runner.promise.then(
    () => { running = false; },
    (error) => { running = false; log(`worker stopped: ${(error as Error).message}`); },
  );
  return {
    runner,
    mailCatcher,
    running: () => running,
    async stop() {
      if (running) await runner.stop();
      await closeChannels();
    },
  };
}
