/**
 * db/schema/ (written by `npm run db:schema`, db/scripts/schema-snapshot.ts) must be the current
 * definition of the schema: this snapshots the suite's database — migrated with committed/ and
 * current/, like the throwaway database `npm run db:schema` starts — into a temporary folder and
 * compares it with db/schema/ file by file. It also proves the output is deterministic: the
 * committed files come from another fresh database. pgTAP, the `tests` helper schema and the demo
 * data of the suite's database are not structure of HMS and stay out of the snapshot.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { errorCodesFile, readErrorCodes } from '../../db/scripts/error-codes.ts';
import { listFiles, readSnapshot, schemaDir, writeSnapshot } from '../../db/scripts/schema-snapshot.ts';

const { databaseUrl } = inject('stack');
const freshDir = mkdtempSync(path.join(tmpdir(), 'hms-schema-test-'));
beforeAll(async () => {
  writeSnapshot(freshDir, await readSnapshot(databaseUrl));
});
afterAll(() => rmSync(freshDir, { recursive: true, force: true }));

/** 1-based number of the first line where two texts differ. */
function firstDifferentLine(a: string, b: string): number {
  const left = a.split('\n');
  const right = b.split('\n');
  let i = 0;
  while (i < left.length && i < right.length && left[i] === right[i]) i++;
  return i + 1;
}

describe('db/schema/', () => {
  it('is what `npm run db:schema` writes for the schema as migrated now', () => {
    const fresh = listFiles(freshDir);
    const committed = new Set(listFiles(schemaDir));
    const problems = [
      ...fresh.filter((file) => !committed.has(file)).map((file) => `missing   db/schema/${file}`),
      ...[...committed].filter((file) => !fresh.includes(file)).map((file) => `extra     db/schema/${file}`),
      ...fresh
        .filter((file) => committed.has(file))
        .flatMap((file) => {
          const want = readFileSync(path.join(freshDir, file), 'utf8');
          const have = readFileSync(path.join(schemaDir, file), 'utf8');
          return want === have ? [] : [`differs   db/schema/${file}:${firstDifferentLine(have, want)}`];
        }),
    ];
    expect(problems, `db/schema/ is stale; run \`npm run db:schema\` and commit the result:\n  ${problems.join('\n  ')}\n`).toEqual([]);
  });

  it('describes the HMS schemas and nothing of pgTAP, the test helpers or the tools', () => {
    const files = listFiles(freshDir);
    expect(files).toContain('app_public/tables/patients.sql');
    expect(files).toContain('app_hidden/functions/has_permission.sql');
    expect(files).toContain('app_private/tables/sessions.sql');
    expect(files.filter((file) => /^(tests|graphile_migrate|graphile_worker)\//.test(file))).toEqual([]);
    expect(files.filter((file) => file.startsWith('public/'))).toEqual(['public/schema.sql']);
    expect(readFileSync(path.join(freshDir, 'database.sql'), 'utf8')).not.toMatch(/pgtap/i);
  });

  it('comes with db/error_codes.md as the error registry renders it', async () => {
    const fresh = await readErrorCodes(databaseUrl);
    const committed = readFileSync(errorCodesFile, 'utf8');
    expect(committed === fresh, 'db/error_codes.md is stale; run `npm run db:schema` and commit the result').toBe(true);
  });
});
