/**
 * schema.graphql (written by `npm run graphql:schema`, db/scripts/graphql-schema.ts; `npm run
 * db:commit` runs it) must be the GraphQL schema PostGraphile builds now: this builds it from the
 * suite's database — committed and current migrations, as the throwaway database of the script —
 * as the authenticator, and compares. Work in progress in migrations/current/ that adds an RPC or
 * a table makes it stale on purpose: run the script and commit the result with the migration.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { readGraphqlSchema, schemaFile } from '../../db/scripts/graphql-schema.ts';

const { authenticatorUrl } = inject('stack');

/** 1-based number of the first line where two texts differ, with both lines. */
function firstDifference(a: string, b: string): string {
  const left = a.split('\n');
  const right = b.split('\n');
  let i = 0;
  while (i < left.length && i < right.length && left[i] === right[i]) i++;
  return `line ${i + 1}: committed ${JSON.stringify(left[i])}, fresh ${JSON.stringify(right[i])}`;
}

describe('schema.graphql', () => {
  it('is what `npm run graphql:schema` writes for the schema as migrated now', async () => {
    const fresh = await readGraphqlSchema(authenticatorUrl);
    const committed = readFileSync(schemaFile, 'utf8');
    expect(committed === fresh, `schema.graphql is stale (${firstDifference(committed, fresh)}); run \`npm run graphql:schema\` and commit it`).toBe(true);
  });

  it('holds the workflow RPCs as mutations and the tables as connections', () => {
    const text = readFileSync(schemaFile, 'utf8');
    for (const field of ['login(', 'bookAppointment(', 'checkInAppointment(', 'createPrescription(', 'dispensePrescription(', 'settleDay(', 'createPrescriptionRow(']) {
      expect(text, field).toContain(`  ${field}`);
    }
    expect(text).toContain('  allPatients(');
    expect(text).not.toContain('patientByHospitalIdAndRowId(');
  });
});
