/**
 * `npm run db:watch | db:commit | db:uncommit`: graphile-migrate against the database `npm start`
 * runs (start it first in another terminal), with connection strings and role placeholders set
 * from HMS's configuration. commit/uncommit also need the shadow database, created here.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { bootstrap } from '../launcher/bootstrap.ts';
import { loadConfig, migrateEnv, repoRoot } from '../launcher/config.ts';
import { assertReachable } from '../launcher/postgres.ts';

const args = process.argv.slice(2);
const config = loadConfig();
try {
  await assertReachable(config.databaseUrl, 'DATABASE_URL');
} catch (error) {
  console.error(`hms: ${(error as Error).message}\nhms: start the database first (npm start in another terminal).`);
  process.exit(2);
}
if (args[0] === 'commit' || args[0] === 'uncommit') await bootstrap(config, { withShadow: true });
const result = spawnSync(path.join(repoRoot, 'node_modules', '.bin', 'graphile-migrate'), args, {
  cwd: repoRoot,
  env: migrateEnv(config),
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
