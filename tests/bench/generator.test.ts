/**
 * The data generator (bench/generate.ts) at a small size, on its own copy of the seeded database:
 * the rules its set-based load computes instead of the triggers hold on the result (ledger = batch,
 * invoice totals, gapless fiscal series, check characters, counters past every issued number, no
 * double booking — the exclusion constraint is rebuilt over the generated rows), and the real
 * workflows carry on over the generated data as if it had been entered through them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { checkGeneratedChain, generateChain, type GeneratedChain } from '../../bench/generate.ts';

const stack = inject('stack');
const database = `${new URL(stack.databaseUrl).pathname.slice(1)}_generated`;
const urlOf = (base: string) => {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
};
let chain: GeneratedChain;
const lines: string[] = [];

beforeAll(async () => {
  const root = new pg.Client({ connectionString: stack.rootDatabaseUrl });
  await root.connect();
  const pristine = `${new URL(stack.databaseUrl).pathname.slice(1)}_pristine`;
  await root.query(`create database "${database}" template "${pristine}" owner "${stack.roles.owner}"`);
  await root.end();
  chain = await generateChain(urlOf(stack.rootDatabaseUrl), { patients: 4000, log: (line) => lines.push(line) });
}, 180_000);

afterAll(async () => {
  const root = new pg.Client({ connectionString: stack.rootDatabaseUrl });
  await root.connect();
  await root.query(`drop database if exists "${database}" with (force)`);
  await root.end();
});

/** One statement in a transaction acting as a member of staff of a generated hospital (as PostgREST does). */
async function asStaffOf(email: string, sql: string, params: unknown[]): Promise<any[]> {
  const owner = new pg.Client({ connectionString: urlOf(stack.databaseUrl) });
  await owner.connect();
  try {
    const { rows: [session] } = await owner.query(
      `insert into app_private.sessions (user_id, hospital_id, expires_at)
       select u.id, u.home_hospital_id, now() + interval '1 hour' from app_public.users u where u.email = $1
       returning json_build_object('role', $2::text, 'sub', user_id, 'sid', id, 'hid', hospital_id, 'aud', 'hms')::text as claims`,
      [email, stack.roles.staff],
    );
    await owner.query('begin');
    await owner.query(`select set_config('request.jwt.claims', $1, true), set_config('role', $2, true)`, [session.claims, stack.roles.staff]);
    const { rows } = await owner.query(sql, params);
    await owner.query('commit');
    return rows;
  } finally {
    await owner.end();
  }
}

describe('the data generator', () => {
  it('writes the chain in proportion to the patients asked for, with progress lines', () => {
    expect(chain.hospitalCodes).toHaveLength(20);
    expect(chain.rows.patients).toBeGreaterThan(3990); // 4000 split by hospital size, and the 5 demo patients
    expect(chain.rows.patients).toBeLessThan(4020);
    expect(chain.rows.appointments).toBeGreaterThan(4000 * 4.5);
    expect(chain.rows.appointments).toBeLessThan(4000 * 5.5);
    expect(chain.rows.invoices).toBeGreaterThan(4000 * 1.5);
    expect(chain.rows.stock_movements).toBeGreaterThan(4000 * 3);
    expect(lines.some((line) => /appointments: [\d,]+ rows in/.test(line))).toBe(true);
  });

  it('keeps every rule the triggers would have enforced', async () => {
    const failures = await checkGeneratedChain(urlOf(stack.databaseUrl));
    expect(Object.keys(failures).length).toBeGreaterThanOrEqual(10);
    expect(failures).toEqual(Object.fromEntries(Object.keys(failures).map((name) => [name, 0])));
  });

  it('leaves data the real workflows continue: the next invoice, MRN and dispensing follow the generated ones', async () => {
    const [registered] = await asStaffOf(
      await staffEmail('BOS', 'receptionist'),
      `insert into app_public.patients (first_name, last_name, date_of_birth, gender) values ('Nora', 'Generated', '1990-05-01', 'female') returning mrn`,
      [],
    );
    const [{ count }] = await asStaffOf(await staffEmail('BOS', 'receptionist'), `select count(*)::int from app_public.patients`, []);
    // Past every generated MRN (the checks above drew one more from the counter: MRNs need not be gapless).
    const seq = Number(/^MRN-BOS-(\d{6})-[0-9A-Z]$/.exec(registered.mrn)![1]);
    expect(seq).toBeGreaterThanOrEqual(count);
    expect(seq).toBeLessThanOrEqual(count + 1);

    const pharmacist = await staffEmail('BOS', 'pharmacist');
    const [medicine] = await asStaffOf(pharmacist, `select id from app_public.medicines where schedule_category = 'otc' order by item_code limit 1`, []);
    const [sale] = await asStaffOf(pharmacist, `select app_public.dispense_otc(null, 'Walk-in customer', $1::jsonb) as result`,
      [JSON.stringify([{ medicine_id: medicine.id, quantity: 2 }])]);
    expect(JSON.stringify(sale.result)).toMatch(/DSP-BOS-\d{4}-\d{6}-[0-9A-Z]/);
    const failures = await checkGeneratedChain(urlOf(stack.databaseUrl));
    expect(failures['batch on hand ≠ sum of its movements']).toBe(0);
  });
});

async function staffEmail(code: string, role: string): Promise<string> {
  return `${role}.${await firstStaffNumber(code, role)}@${code.toLowerCase()}.chain.hms.test`;
}

async function firstStaffNumber(code: string, role: string): Promise<number> {
  const client = new pg.Client({ connectionString: urlOf(stack.databaseUrl) });
  await client.connect();
  try {
    const { rows } = await client.query(
      `select min(split_part(split_part(email::text, '@', 1), '.', 2)::int) as k from app_public.users where email::text like $1`,
      [`${role}.%@${code.toLowerCase()}.chain.hms.test`],
    );
    return rows[0].k;
  } finally {
    await client.end();
  }
}
