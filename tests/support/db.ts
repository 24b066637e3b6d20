/**
 * Database helpers for TypeScript tests: owner connections to the suite's databases and acting
 * as a member of staff on a plain connection the way PostgREST does (role + request.jwt.claims).
 *
 * Argument order everywhere: what to run first, then its parameters, then where (the database)
 * or as whom.
 */
import pg from 'pg';
import { inject } from 'vitest';

/**
 * Which copy of the suite's database: `main` is the one behind PostgREST; `scratch` is a copy
 * for tests that commit from parallel connections (they must not disturb the rows other files read).
 */
export type SuiteDatabase = 'main' | 'scratch';

function ownerUrl(database: SuiteDatabase): string {
  const stack = inject('stack');
  return database === 'scratch' ? stack.scratchDatabaseUrl : stack.databaseUrl;
}

/** A new owner connection (BYPASSRLS, trusted writer of fixtures); the caller ends it. */
export async function connectOwner(database: SuiteDatabase = 'main'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: ownerUrl(database) });
  await client.connect();
  return client;
}

/** Runs `work` on a new owner connection and ends the connection afterwards. */
export async function withOwner<T>(work: (client: pg.Client) => Promise<T>, database: SuiteDatabase = 'main'): Promise<T> {
  const client = await connectOwner(database);
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** One statement as the owner on its own connection; answers its rows. */
export function ownerQuery<T = any>(sql: string, params: unknown[] = [], database: SuiteDatabase = 'main'): Promise<T[]> {
  return withOwner(async (client) => (await client.query(sql, params)).rows as T[], database);
}

/**
 * Opens `count` live sessions of a user in a hospital (as the owner) and answers, for each, the
 * claims a verified access token of that session carries.
 */
export async function openSessions(email: string, hospitalId: string, count = 1, database: SuiteDatabase = 'main'): Promise<string[]> {
  const rows = await ownerQuery<{ claims: string }>(
    `insert into app_private.sessions (user_id, hospital_id, expires_at)
     select u.id, $2, now() + interval '1 hour' from app_public.users u, generate_series(1, $3::int) where u.email = $1
     returning json_build_object('role', $4::text, 'sub', user_id, 'sid', id, 'hid', hospital_id, 'aud', 'hms')::text as claims`,
    [email, hospitalId, count, inject('stack').roles.staff],
    database,
  );
  if (rows.length !== count) throw new Error(`no user ${email}`);
  return rows.map((row) => row.claims);
}

/** Makes the open transaction of `client` act as the session whose claims are given, as PostgREST does per request. */
export async function actAs(client: pg.Client, claims: string): Promise<void> {
  await client.query(`select set_config('request.jwt.claims', $1, true), set_config('role', $2, true)`, [claims, inject('stack').roles.staff]);
}

/** The HMS code of a business error raised in SQL (its message is JSON with `code`), else the message itself. */
export function errorCode(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  try {
    return (JSON.parse(message) as { code: string }).code;
  } catch {
    return message;
  }
}

/** What one connection's statement came to: its first row, or the code of the error it raised. */
export interface Outcome {
  row?: Record<string, any>;
  code?: string;
}

/**
 * Runs one statement from several scratch connections at once — each in its own transaction, as
 * the session whose claims it is given (one connection per claims) — and commits each that
 * succeeds: what parallel API requests do. `params(index)` gives each connection's parameters.
 * Every connection has begun and taken its identity before any statement starts.
 */
export async function race(claims: string[], sql: string, params: (index: number) => unknown[] = () => []): Promise<Outcome[]> {
  const clients = await Promise.all(claims.map(() => connectOwner('scratch')));
  try {
    await Promise.all(clients.map(async (client, index) => {
      await client.query('begin');
      await actAs(client, claims[index]);
    }));
    return await Promise.all(clients.map(async (client, index): Promise<Outcome> => {
      try {
        const { rows } = await client.query(sql, params(index));
        await client.query('commit');
        return { row: rows[0] ?? {} };
      } catch (error) {
        await client.query('rollback');
        return { code: errorCode(error) };
      }
    }));
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

/** One statement as that session, on its own scratch connection and transaction (committed when it succeeds). */
export async function asSession(claims: string, sql: string, params: unknown[] = []): Promise<Outcome> {
  return (await race([claims], sql, () => params))[0];
}
