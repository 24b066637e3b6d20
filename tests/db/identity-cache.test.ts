/**
 * The identity of a request is resolved once (app_hidden.resolve_identity) and kept for the rest
 * of its transaction only. These tests use one connection for consecutive transactions, as a
 * PostgREST or PostGraphile pool does, and check that nothing of one request's identity reaches
 * the next: another user in another hospital sees only their own rows, and a session revoked or a
 * role removed between two requests of the same token takes effect on the very next one — both
 * through the pre-request (check_request) and through a transaction that only sets the claims and
 * lets the policies resolve the identity themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { actAs, connectOwner, errorCode, openSessions, ownerQuery } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const LA = '10000000-0000-4000-8000-000000000002';
const USER = '23900000-0000-4000-8000-000000000001';

let connection: pg.Client;

/** One request on the shared connection: its own transaction, the claims, optionally the pre-request, then `sql`. */
async function request(claims: string, sql: string, { preRequest }: { preRequest: boolean }): Promise<{ rows?: any[]; code?: string }> {
  await connection.query('begin');
  try {
    await actAs(connection, claims);
    if (preRequest) await connection.query('select app_hidden.check_request()');
    const { rows } = await connection.query(sql);
    await connection.query('commit');
    return { rows };
  } catch (error) {
    await connection.query('rollback');
    return { code: errorCode(error) };
  }
}

const patientHospitals = `select coalesce(array_agg(distinct hospital_id::text), '{}') as hospitals, count(*)::int as n from app_public.patients`;
const identity = `select app_hidden.current_user_id() as user_id, app_hidden.current_hospital_id() as hospital_id,
                         app_hidden.has_permission('pharmacy.dispense') as may_dispense`;

beforeAll(async () => {
  connection = await connectOwner('scratch');
  // A dedicated pharmacist of NY whose session and role the tests revoke (committed on the scratch copy).
  await ownerQuery(
    `insert into app_public.users (id, email, first_name, last_name, home_hospital_id) values ($1, 'identity-cache@hms.test', 'Cache', 'Tester', $2)`,
    [USER, NY],
    'scratch',
  );
  await ownerQuery(
    `insert into app_public.user_roles (user_id, role_id, hospital_id)
     select $1, r.id, $2 from app_public.roles r where r.code = 'pharmacist' and r.hospital_id is null`,
    [USER, NY],
    'scratch',
  );
});
afterAll(() => connection.end());

describe.each([{ preRequest: true }, { preRequest: false }])('one pooled connection, pre-request: $preRequest', (mode) => {
  it('consecutive requests of users of two hospitals each see only their own hospital', async () => {
    const [ny] = await openSessions('reception.ny@hms.test', NY, 1, 'scratch');
    const [la] = await openSessions('doctor.la@hms.test', LA, 1, 'scratch');
    for (const [claims, hospital] of [[ny, NY], [la, LA], [ny, NY], [la, LA]]) {
      const { rows, code } = await request(claims, patientHospitals, mode);
      expect(code).toBeUndefined();
      expect(rows![0].n).toBeGreaterThan(0);
      expect(rows![0].hospitals).toEqual([hospital]);
    }
  });

  it('a session revoked between two requests of the same token is refused on the next one', async () => {
    const [claims] = await openSessions('identity-cache@hms.test', NY, 1, 'scratch');
    expect((await request(claims, identity, mode)).rows![0]).toEqual({ user_id: USER, hospital_id: NY, may_dispense: true });
    await ownerQuery(`update app_private.sessions set revoked_at = now(), revoked_reason = 'admin_revoked' where id = $1`, [JSON.parse(claims).sid], 'scratch');
    if (mode.preRequest) {
      expect((await request(claims, identity, mode)).code).toBe('HMS_SESSION_INVALID');
    } else {
      expect((await request(claims, identity, mode)).rows![0]).toEqual({ user_id: null, hospital_id: null, may_dispense: false });
      expect((await request(claims, patientHospitals, mode)).rows![0].n).toBe(0);
    }
  });

  it('a role removed between two requests of the same token takes its permissions and hospital with it', async () => {
    const [claims] = await openSessions('identity-cache@hms.test', NY, 1, 'scratch');
    expect((await request(claims, identity, mode)).rows![0]).toEqual({ user_id: USER, hospital_id: NY, may_dispense: true });
    await ownerQuery(`update app_public.user_roles set valid_until = current_date - 1, valid_from = current_date - 2 where user_id = $1`, [USER], 'scratch');
    try {
      expect((await request(claims, identity, mode)).rows![0]).toEqual({ user_id: USER, hospital_id: null, may_dispense: false });
    } finally {
      await ownerQuery(`update app_public.user_roles set valid_from = current_date, valid_until = null where user_id = $1`, [USER], 'scratch');
    }
    expect((await request(claims, identity, mode)).rows![0]).toEqual({ user_id: USER, hospital_id: NY, may_dispense: true });
  });
});
