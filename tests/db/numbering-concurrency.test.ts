/**
 * hms_generate_id under real concurrency: many connections ask for numbers of the same hospital
 * and type at once, some of them roll back. The committed numbers must be exactly 1..N — unique
 * and without gaps. Across a period boundary a number never goes backwards: a caller still in the
 * old period that meets the lock after a caller of the new one continues the new period's series.
 * (Throughput is measured by `npm run bench`, not here.)
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

  // A caller of the new period (its clock frozen just after the boundary, in its own transaction
  // only) takes the sequence first; a caller of the old period (the real clock) meets it after
  // and continues the new period's series: never a restart, never a number issued twice.
  for (const { type, boundary, key, numbers } of [
    { type: 'queue_token', boundary: `date_trunc('day', now() at time zone h.time_zone) + interval '1 day 5 seconds'`, key: 'YYYY-MM-DD',
      numbers: (first: string, second: string) => expect([first, second]).toEqual(['Q-001', 'Q-002']) },
    { type: 'receipt', boundary: `date_trunc('year', now() at time zone h.time_zone) + interval '1 year 5 seconds'`, key: 'YYYY',
      numbers: (first: string, second: string) => {
        expect(first).toMatch(/-000001-[0-9A-Z]$/);
        expect(second).toBe(first.replace(/-000001-[0-9A-Z]$/, '') + second.slice(-9));
        expect(second).toMatch(/-000002-[0-9A-Z]$/);
      } },
  ]) {
    it(`${type}: a caller of the old period that meets the lock after one of the new period continues the new one (frozen clock)`, async () => {
      const [{ later }] = await ownerQuery(`select (${boundary}) at time zone h.time_zone as later from app_public.hospitals h where h.id = $1`, [HOSPITAL], 'scratch');
      const newPeriod = await connectOwner('scratch');
      const oldPeriod = await connectOwner('scratch');
      try {
        await newPeriod.query('begin');
        await newPeriod.query('select tests.freeze_time($1)', [later]);
        const first = (await newPeriod.query(`select app_hidden.hms_generate_id($1, $2) as number`, [HOSPITAL, type])).rows[0].number;
        await oldPeriod.query('begin');
        const [{ pid }] = (await oldPeriod.query('select pg_backend_pid() as pid')).rows;
        const late = oldPeriod.query(`select app_hidden.hms_generate_id($1, $2) as number`, [HOSPITAL, type]);
        for (let i = 0; i < 200; i++) {
          const waiting = await ownerQuery(`select 1 from pg_stat_activity where pid = $1 and wait_event_type = 'Lock'`, [pid], 'scratch');
          if (waiting.length) break;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        await newPeriod.query('select tests.unfreeze_time()');
        await newPeriod.query('commit');
        const second = (await late).rows[0].number;
        await oldPeriod.query('commit');
        numbers(first, second);
        const [sequence] = await ownerQuery(
          `select s.current_period = to_char($3::timestamptz at time zone h.time_zone, $4) as newer
             from app_public.id_sequences s join app_public.hospitals h on h.id = s.hospital_id
            where s.hospital_id = $1 and s.document_type = $2 and s.scope = ''`, [HOSPITAL, type, later, key], 'scratch');
        expect(sequence.newer, 'the sequence stays in the new period').toBe(true);
      } finally {
        await Promise.allSettled([newPeriod.end(), oldPeriod.end()]);
      }
    });
  }

  it('numbers that need not be gapless never wait for another transaction; the fiscal series do', async () => {
    // The period is open (its first number committed): only that first caller locks the row.
    await ownerQuery(`select app_hidden.hms_generate_id($1, 'appointment')`, [HOSPITAL], 'scratch');
    const holder = await connectOwner('scratch');
    const other = await connectOwner('scratch');
    try {
      await holder.query('begin');
      const held = (await holder.query(`select app_hidden.hms_generate_id($1, 'appointment') as number, app_hidden.hms_generate_id($1, 'invoice') as invoice`, [HOSPITAL])).rows[0];
      await other.query('begin');
      await other.query(`set local lock_timeout = '500ms'`);
      const next = (await other.query(`select app_hidden.hms_generate_id($1, 'appointment') as number`, [HOSPITAL])).rows[0].number;
      expect(next).not.toBe(held.number);
      const counter = (n: string) => Number(/-(\d{6})-[0-9A-Z]$/.exec(n)![1]);
      expect(counter(next)).toBeGreaterThan(counter(held.number));
      await expect(other.query(`select app_hidden.hms_generate_id($1, 'invoice')`, [HOSPITAL])).rejects.toThrow(/lock timeout/);
      await other.query('rollback');
      await holder.query('rollback');
    } finally {
      await Promise.allSettled([holder.end(), other.end()]);
    }
  });
});
