/**
 * Runs every pgTAP file (tests/db/**\/*.test.sql) against the suite's throwaway database and turns
 * each TAP line into a vitest test, so one runner reports everything. A file that fails to run,
 * or whose plan does not match the assertions it ran, fails too.
 *
 * `HMS_PGTAP=<part of a path> npm run test:db` runs only matching files.
 *
 * Each file is `begin; select plan(n); …; select * from finish(); rollback;` and runs as the
 * schema owner; it switches role itself where it tests what staff or anonymous may do. Before they
 * run, the suite's database gets the golden access model (tests.expected_access, from
 * tests/support/access-model.ts) and the isolation matrix's fixture functions
 * (tests/support/access-fixtures.sql).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { expectedAccessSql } from '../support/access-model.ts';
import { withOwner } from '../support/db.ts';
import { parseTap, type TapResult } from '../support/tap.ts';

const dir = import.meta.dirname;
const files = (readdirSync(dir, { recursive: true }) as string[]).filter((name) => name.endsWith('.test.sql'))
  // HMS_PGTAP=schema/billing runs only the files whose path contains that text.
  .filter((name) => !process.env.HMS_PGTAP || name.includes(process.env.HMS_PGTAP))
  .sort();
const { databaseUrl, pristineDatabaseUrl } = inject('stack');

await withOwner(async (client) => {
  await client.query(expectedAccessSql());
  await client.query(readFileSync(path.join(dir, '..', 'support', 'access-fixtures.sql'), 'utf8'));
});

async function runFile(file: string): Promise<TapResult> {
  const sql = readFileSync(path.join(dir, file), 'utf8');
  // A file that checks the demo data exactly as loaded runs on the copy no test writes to.
  const onPristine = /^-- database: pristine\b/m.test(sql);
  const client = new pg.Client({ connectionString: onPristine ? pristineDatabaseUrl : databaseUrl });
  await client.connect();
  try {
    const results = await client.query(sql);
    const lines = (Array.isArray(results) ? results : [results]).flatMap((result) =>
      result.rows.flatMap((row: Record<string, unknown>) => Object.values(row).map(String)),
    );
    return parseTap(lines.join('\n'));
  } finally {
    await client.end().catch(() => {});
  }
}

for (const file of files) {
  let result: TapResult | undefined;
  let error: Error | undefined;
  try {
    result = await runFile(file);
  } catch (caught) {
    error = caught as Error;
  }
  describe(`pgTAP ${file}`, () => {
    if (error || !result) {
      it('runs', () => {
        throw new Error(`${file} did not run: ${error?.message}`);
      });
      return;
    }
    it(`plan of ${result.planned} matches the ${result.assertions.length} assertions run`, () => {
      expect(result.assertions.length).toBeGreaterThan(0);
      expect(result.assertions.length).toBe(result.planned);
    });
    for (const assertion of result.assertions) {
      it(`${assertion.number} - ${assertion.description}`, () => {
        if (!assertion.ok) throw new Error(assertion.diagnostics || 'not ok');
      });
    }
  });
}
