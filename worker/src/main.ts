/**
 * `npm run worker`: the worker alone (for a deployment that runs it apart from the API, e.g. the
 * docker-compose `worker` service), with the same configuration as `npm start`. The database must
 * be set up already (`npm start` or `npm run db:setup` installs the job queue). Stops on SIGINT/SIGTERM.
 */
import { ConfigError, loadConfig } from '../../db/launcher/config.ts';
import { startWorker } from './worker.ts';

try {
  const config = loadConfig(process.env);
  const worker = await startWorker(config);
  console.log(`worker running as ${config.roles.worker} (concurrency ${config.workerConcurrency}); Ctrl-C to stop.`);
  const stop = async () => {
    await worker.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  console.error(error instanceof ConfigError ? `hms: ${error.message}` : error);
  process.exit(1);
}
