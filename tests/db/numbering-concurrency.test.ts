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

  it('a caller of the old day that meets the lock after one of the new day continues the new day (a frozen clock at midnight)', async () => {
    const [{ tomorrow }] = await ownerQuery(
      `select (date_trunc('day', now() at time zone h.time_zone) + interval '1 day 5 seconds') at time zone h.time_zone as tomorrow
         from app_public.hospitals h where h.id = $1`, [HOSPITAL], 'scratch');
    const newDay = await connectOwner('scratch');
    const oldDay = await connectOwner('scratch');
    try {
      // The new day's caller: its clock just after midnight (frozen in its own transaction only).
      await newDay.query('begin');
      await newDay.query('select tests.freeze_time($1)', [tomorrow]);
      const first = await newDay.query(`select app_hidden.hms_generate_id($1, 'queue_token') as number`, [HOSPITAL]);
      // The old day's caller (the real clock, today) waits for the sequence's lock…
      await oldDay.query('begin');
      const [{ pid }] = (await oldDay.query('select pg_backend_pid() as pid')).rows;
      const late = oldDay.query(`select app_hidden.hms_generate_id($1, 'queue_token') as number`, [HOSPITAL]);
      for (let i = 0; i < 200; i++) {
        const waiting = await ownerQuery(`select 1 from pg_stat_activity where pid = $1 and wait_event_type = 'Lock'`, [pid], 'scratch');
        if (waiting.length) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // …which it gets once the new day's transaction commits (its clock restored first).
      await newDay.query('select tests.unfreeze_time()');
      await newDay.query('commit');
      const second = (await late).rows[0].number;
      await oldDay.query('commit');
      expect([first.rows[0].number, second]).toEqual(['Q-001', 'Q-002']);
      const [sequence] = await ownerQuery(
        `select current_period, next_value from app_public.id_sequences where hospital_id = $1 and document_type = 'queue_token' and scope = ''`,
        [HOSPITAL], 'scratch');
      expect(sequence.next_value).toBe('3');
      const [{ key }] = await ownerQuery(
        `select to_char($2::timestamptz at time zone h.time_zone, 'YYYY-MM-DD') as key from app_public.hospitals h where h.id = $1`,
        [HOSPITAL, tomorrow], 'scratch');
      expect(sequence.current_period, 'the period stays the new day').toBe(key);
    } finally {
      await Promise.allSettled([newDay.end(), oldDay.end()]);
    }
  });
});
