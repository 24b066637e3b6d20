/**
 * `npm run db:setup`: prepare the database without serving it — roles, migrations, demo data
 * once — then stop. It is what docker-compose's one-shot `migrate` service runs.
 * `npm run db:reset` (`--reset`): drop the database and rebuild it from nothing.
 */
import { ConfigError, loadConfig } from './config.ts';
import { startStack } from './stack.ts';
import { acquireLock } from './lock.ts';

const reset = process.argv.includes('--reset');
try {
  const config = loadConfig();
  const release = acquireLock(config);
  try {
    const stack = await startStack(config, { api: false, reset, log: (line) => console.log(`hms: ${line}`) });
    await stack.stop();
    console.log(`hms: database ${reset ? 'rebuilt' : 'ready'}${stack.demoDataLoadedNow ? ', demo data loaded' : ''}.`);
  } finally {
    release();
  }
} catch (error) {
  console.error(`hms: ${(error as Error).message}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
