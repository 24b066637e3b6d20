/**
 * hms_generate_id under real concurrency: many connections ask for numbers of the same hospital
 * and type at once, some of them roll back. The committed numbers must be exactly 1..N — unique
 * and without gaps. (Throughput is measured by `npm run bench`, not here.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { connectOwner, ownerQuery } from '../support/db.ts';

const HOSPITAL = '99000000-0000-4000-8000-0000000000c0';
const CONNECTIONS = 24;
const PER_CONNECTION = 30;

// On the scratch copy of the seeded database: committed test data there disturbs no other test.

describe('hms_generate_id with parallel connections', () => {
  beforeAll(() => ownerQuery(`insert into app_public.hospitals (id, code, name) values ($1, 'CONC', 'Concurrency Test Hospital')`, [HOSPITAL], 'scratch'));
  it(`${CONNECTIONS} connections × ${PER_CONNECTION} numbers: committed numbers are unique and gapless`, async () => {
    const committed: string[] = [];
    let rolledBack = 0;
    const worker = async (index: number) => {
      const client = await connectOwner('scratch');
      try {
        for (let i = 0; i < PER_CONNECTION; i++) {
          await client.query('begin');
          const { rows } = await client.query(`select app_hidden.hms_generate_id($1, 'invoice') as number`, [HOSPITAL]);
          // Every seventh transaction of each worker rolls back: its number must be reissued.
          if ((i + index) % 7 === 0) {
            await client.query('rollback');
            rolledBack++;
          } else {
            await client.query('commit');
            committed.push(rows[0].number);
          }
        }
      } finally {
        await client.end();
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, index) => worker(index)));

    expect(rolledBack).toBeGreaterThan(0);
    expect(new Set(committed).size).toBe(committed.length);
    const counters = committed.map((number) => Number(/-(\d{6})-[0-9A-Z]$/.exec(number)![1])).sort((a, b) => a - b);
    expect(counters).toEqual(Array.from({ length: committed.length }, (_, i) => i + 1));
    const next = await ownerQuery(`select next_value from app_public.id_sequences where hospital_id = $1 and document_type = 'invoice'`, [HOSPITAL], 'scratch');
    expect(Number(next[0].next_value)).toBe(committed.length + 1);
  });
});
