/**
 * `npm run db:watch | db:commit | db:uncommit`: graphile-migrate against the database `npm start`
 * runs (start it first in another terminal), with connection strings and role placeholders set
 * from HMS's configuration. commit/uncommit also need the shadow database, created here.
 *
 * After each change `watch` applies, .gmrc's afterCurrent action sends
 * `NOTIFY pgrst, 'reload schema'`, so the running PostgREST serves a new table at once. After a
 * successful commit (and uncommit) db/schema/ and db/error_codes.md are written again (npm run
 * db:schema), and schema.graphql (npm run graphql:schema), so the committed schema, its snapshot
 * and the GraphQL schema move together.
 */
import path from 'node:path';
import { bootstrap } from '../launcher/bootstrap.ts';
import { loadConfig, migrateEnv, repoRoot } from '../launcher/config.ts';
import { graphileMigrate } from '../launcher/migrate.ts';
import { assertReachable } from '../launcher/postgres.ts';
import { runProcess } from '../launcher/process.ts';

const args = process.argv.slice(2);
const config = loadConfig();
try {
  await assertReachable(config.databaseUrl, 'DATABASE_URL');
} catch (error) {
  console.error(`hms: ${(error as Error).message}\nhms: start the database first (npm start in another terminal).`);
  process.exit(2);
}
if (args[0] === 'commit' || args[0] === 'uncommit') await bootstrap(config, { withShadow: true });
const result = await runProcess({
  name: 'graphile-migrate',
  command: graphileMigrate,
  args,
  cwd: repoRoot,
  env: migrateEnv(config),
  onOutput: (text) => process.stdout.write(text),
});
if (result.code === 0 && (args[0] === 'commit' || args[0] === 'uncommit')) {
  const snapshot = await runProcess({
    name: 'db:schema',
    command: process.execPath,
    args: [path.join(repoRoot, 'db', 'scripts', 'schema-snapshot.ts')],
    cwd: repoRoot,
    onOutput: (text) => process.stdout.write(text),
  });
  if (snapshot.code !== 0) process.exit(snapshot.code ?? 1);
  // …and schema.graphql, the GraphQL schema of the same migrations (npm run graphql:schema).
  const graphqlSchema = await runProcess({
    name: 'graphql:schema',
    command: process.execPath,
    args: [path.join(repoRoot, 'db', 'scripts', 'graphql-schema.ts')],
    cwd: repoRoot,
    onOutput: (text) => process.stdout.write(text),
  });
  process.exit(graphqlSchema.code ?? 1);
}
process.exit(result.code ?? 1);
