/**
 * Every PL/pgSQL function of HMS passes plpgsql_check (the PL/pgSQL linter Debian packages for
 * PostgreSQL 15) with zero errors: a wrong column, a misspelt variable, a call to a function that
 * does not exist with those arguments, a type that cannot be assigned — the mistakes PostgreSQL
 * itself only reports when the line runs. The schema (committed migrations + current/) is applied
 * to a real PostgreSQL 15 for this; trigger functions are checked against every table they are
 * attached to, so a generic trigger cannot name a column some of its tables lack.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../db/launcher/config.ts';
import { startStack, type Stack } from '../../db/launcher/stack.ts';
import { ensurePlpgsqlCheck, startPg15, type Pg15Server } from '../support/pg15.ts';

let server: Pg15Server | undefined;
let stack: Stack | undefined;
let databaseUrl: string;

beforeAll(async () => {
  ensurePlpgsqlCheck();
  server = await startPg15();
  const config = loadConfig({
    HMS_DATA_DIR: `${server.dir}/hms`,
    DATABASE_URL: `postgresql://hms_user:${encodeURIComponent('HMS@2026')}@127.0.0.1:${server.port}/hms_db`,
    ROOT_DATABASE_URL: server.rootUrl,
    HMS_JWT_SECRET: 'lint-test-secret-0123456789abcdefghijklmn',
    HMS_DEMO_DATA: 'false',
  });
  stack = await startStack(config, { includeCurrent: true, api: false });
  databaseUrl = new URL('/hms_db', server.rootUrl).toString();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await server?.stop();
});

describe('plpgsql_check', () => {
  it('finds no error in any PL/pgSQL function of app_public, app_hidden and app_private', async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await client.query('create extension if not exists plpgsql_check');
      const { rows } = await client.query<{ fn: string; relation: string | null; lineno: number | null; statement: string | null; message: string }>(`
        with checked as (
          select p.oid, t.tgrelid
            from pg_proc p
            join pg_language l on l.oid = p.prolang and l.lanname = 'plpgsql'
            left join pg_trigger t on t.tgfoid = p.oid and not t.tgisinternal
           where p.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
             -- a trigger function that no table uses cannot be checked (nor run)
             and (p.prorettype <> 'trigger'::regtype or t.tgrelid is not null))
        select c.oid::regprocedure::text as fn, c.tgrelid::regclass::text as relation, r.lineno, r.statement, r.message
          from checked c
         cross join lateral plpgsql_check_function_tb(c.oid, relid => coalesce(c.tgrelid, 0),
                                                     fatal_errors => false, extra_warnings => false,
                                                     performance_warnings => false, security_warnings => false) r
         where r.level = 'error'
         order by 1, 2, 3`);
      const errors = rows.map((r) => `${r.fn}${r.relation ? ` on ${r.relation}` : ''} line ${r.lineno ?? '?'} (${r.statement ?? ''}): ${r.message}`);
      expect(errors, `plpgsql_check errors:\n  ${errors.join('\n  ')}\n`).toEqual([]);
    } finally {
      await client.end();
    }
  }, 120_000);
});
