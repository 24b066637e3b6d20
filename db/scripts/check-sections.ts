/**
 * Developer aid: applies the committed migrations, then migrations/current/*.sql file by file,
 * to a throwaway embedded PostgreSQL and reports each file's result (with the failing line), then
 * removes the cluster.
 * Unlike `graphile-migrate watch`, a broken file does not hide the result of the files after it
 * (each file runs in its own transaction; later files see what earlier successful ones created).
 *
 *   npm run db:check-sections              # all files
 *   npm run db:check-sections -- 0220 9200 # only files whose name starts with these prefixes
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, repoRoot } from '../launcher/config.ts';
import { bootstrap } from '../launcher/bootstrap.ts';
import { startEmbeddedPostgres } from '../launcher/postgres.ts';
import { freePort } from '../launcher/ports.ts';
import { currentMigrationFiles, migrate, substitutePlaceholders } from '../launcher/migrate.ts';

const prefixes = process.argv.slice(2);
const dir = path.join(repoRoot, 'migrations', 'current');
// In graphile-migrate's order (by number), so each file sees what it will see in a commit.
const files = currentMigrationFiles(dir).filter((name) => prefixes.length === 0 || prefixes.some((p) => name.startsWith(p)));

const dataDir = mkdtempSync(path.join(tmpdir(), 'hms-check-'));
const port = await freePort();
const config = loadConfig({ HMS_DATA_DIR: dataDir, HMS_PG_PORT: String(port), HMS_JWT_SECRET: 'x'.repeat(32) });
const server = await startEmbeddedPostgres({ dataDir, port });
let failures = 0;
try {
  await bootstrap(config);
  await migrate(config); // committed migrations first: current/ builds on them
  const client = new pg.Client({ connectionString: config.databaseUrl });
  await client.connect();
  for (const file of files) {
    const sql = substitutePlaceholders(readFileSync(path.join(dir, file), 'utf8'), config);
    try {
      await client.query('begin');
      await client.query(sql);
      await client.query('commit');
      console.log(`ok      ${file}`);
    } catch (error) {
      await client.query('rollback');
      failures++;
      const err = error as pg.DatabaseError;
      const line = err.position ? sql.slice(0, Number(err.position)).split('\n').length : undefined;
      console.log(`FAILED  ${file}${line ? `:${line}` : ''}  ${err.message}${err.detail ? ` (${err.detail})` : ''}`);
    }
  }
  await client.end();
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
