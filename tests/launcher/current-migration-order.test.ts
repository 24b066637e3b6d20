/**
 * db:check-sections applies migrations/current/ file by file; graphile-migrate (db:watch,
 * db:commit) joins the same files into one migration. Both must take the files in one order —
 * graphile-migrate's: by the number the name starts with, as a number.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCurrentMigration } from 'graphile-migrate/dist/current.js';
import { afterAll, describe, expect, it } from 'vitest';
import { currentMigrationFiles } from '../../db/launcher/migrate.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'hms-current-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the order of migrations/current/ files', () => {
  it('is the order graphile-migrate commits them in', async () => {
    // Lexical order would put 1000 before 900 and 0050 before 7.
    for (const name of ['900-doctors.sql', '1000-appointments.sql', '0050-helpers.sql', '7-schemas.sql', '10000-api.sql']) {
      writeFileSync(path.join(dir, name), `select 1; -- ${name}\n`);
    }
    writeFileSync(path.join(dir, '.draft.sql'), 'dotfiles are skipped\n');
    writeFileSync(path.join(dir, 'notes.txt'), 'non-SQL files are skipped\n');

    const committed = await readCurrentMigration({} as never, { isFile: false, path: dir, exists: true });
    const graphileOrder = [...committed.matchAll(/^--! split: (.+)$/gm)].map((match) => match[1]);
    expect(graphileOrder).toEqual(['7-schemas.sql', '0050-helpers.sql', '900-doctors.sql', '1000-appointments.sql', '10000-api.sql']);
    expect(currentMigrationFiles(dir)).toEqual(graphileOrder);
  });

  it('refuses what graphile-migrate refuses: two files with one number, a name without a number', () => {
    writeFileSync(path.join(dir, '0900-clash.sql'), 'select 1;\n');
    expect(() => currentMigrationFiles(dir)).toThrow(/clash/);
    rmSync(path.join(dir, '0900-clash.sql'));
    writeFileSync(path.join(dir, 'misc.sql'), 'select 1;\n');
    expect(() => currentMigrationFiles(dir)).toThrow(/Invalid current migration filename/);
    rmSync(path.join(dir, 'misc.sql'));
  });
});
