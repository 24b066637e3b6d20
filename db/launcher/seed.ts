/**
 * Demo data (seed 000's "Seed Data Summary"), loaded once: the load and its marker in
 * app_private.instance_settings are one transaction, so a restart never loads it twice and a
 * failed load leaves nothing behind.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { repoRoot } from './config.ts';

export const demoDataFile = path.join(repoRoot, 'db', 'seed', 'demo.sql');
const MARKER = 'demo_data_loaded_at';

/** Returns true when it loaded the data now, false when it had been loaded before. */
export async function loadDemoDataOnce(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('begin');
    // Serialise two launchers racing on a fresh database.
    await client.query('lock table app_private.instance_settings in exclusive mode');
    const done = await client.query('select 1 from app_private.instance_settings where key = $1', [MARKER]);
    if (done.rowCount) {
      await client.query('rollback');
      return false;
    }
    await client.query(readFileSync(demoDataFile, 'utf8'));
    await client.query('insert into app_private.instance_settings (key, value) values ($1, now()::text)', [MARKER]);
    await client.query('commit');
    return true;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw new Error(`Loading the demo data failed: ${(error as Error).message}`);
  } finally {
    await client.end();
  }
}

