/**
 * Constraint violations over REST: PostgREST passes a database error on as it is, so what a
 * client reads is what the database raised — an HMS_* code with its HTTP status and a sentence
 * (the friendly-constraint probe, db/schema/app_hidden/functions/tg__friendly_constraints.sql),
 * never a raw SQLSTATE for a rule the schema states. Writers the policies refuse still get 403,
 * and an upsert (Prefer: resolution=…) meets its duplicate as PostgreSQL intends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, loginToken } from '../support/api.ts';
import { ownerQuery } from '../support/db.ts';

const code = `FE${Date.now().toString(36).toUpperCase().slice(-6)}`;
let admin: string;
let reception: string;

async function post(table: string, body: unknown, token: string, prefer?: string, query = '') {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (prefer) headers.Prefer = prefer;
  const response = await apiFetch(`/${table}${query}`, { method: 'POST', token, headers, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

beforeAll(async () => {
  admin = await loginToken('admin.ny@hms.test');
  reception = await loginToken('reception.ny@hms.test');
  expect((await post('departments', { code, name: 'Friendly errors' }, admin)).status).toBe(201);
});

// The departments this file adds go again: other files read the demo hospital's departments.
afterAll(async () => {
  await ownerQuery(`delete from app_public.departments where code like $1`, [`${code}%`]);
});

describe('constraint violations through PostgREST', () => {
  it('a value a CHECK refuses: 422 HMS_INVALID_VALUE, with the column and its documentation', async () => {
    const { status, body } = await post('patients', { first_name: 'Fay', last_name: 'Friendly', date_of_birth: '1990-01-01', gender: 'banana' }, reception);
    expect(status).toBe(422);
    expect(body.code).toBe('HMS_INVALID_VALUE');
    expect(JSON.parse(body.details)).toEqual({ table: 'patients', constraint: 'patients_gender_check', columns: ['gender'] });
    expect(body.hint).toMatch(/male, female/);
  });

  it('a value longer than its column allows: 422 HMS_VALUE_TOO_LONG, with the column and its maximum, nothing written', async () => {
    const { status, body } = await post('departments', { code: `${code}L`, name: 'Long', description: 'd'.repeat(10_001) }, admin);
    expect([status, body.code]).toEqual([422, 'HMS_VALUE_TOO_LONG']);
    expect(JSON.parse(body.details)).toEqual({ table: 'departments', constraint: 'departments_description_max_length', column: 'description', columns: ['description'], max_length: 10000 });
    expect(body.message).toBe('The description of a department may have at most 10000 characters.');
    expect(await ownerQuery(`select 1 from app_public.departments where code = $1`, [`${code}L`])).toEqual([]);
    const atLimit = await post('departments', { code: `${code}L`, name: 'Long', description: 'd'.repeat(10_000) }, admin);
    expect(atLimit.status).toBe(201);
  });

  it('a generated column is bounded by its sources only: long but valid names make a longer full_name', async () => {
    const { status, body } = await post('patients', { first_name: 'F'.repeat(100), middle_name: 'M'.repeat(150), last_name: 'L'.repeat(100), date_of_birth: '1990-01-01', gender: 'female' }, reception, 'return=representation');
    expect(status).toBe(201);
    expect(body[0].full_name).toHaveLength(352);
    await ownerQuery(`delete from app_public.patients where id = $1`, [body[0].id]);
  });

  it('a missing required value: 422 HMS_REQUIRED', async () => {
    const { status, body } = await post('patients', { last_name: 'Friendly', date_of_birth: '1990-01-01', gender: 'female' }, reception);
    expect([status, body.code]).toEqual([422, 'HMS_REQUIRED']);
  });

  it('a duplicate: 409 HMS_DUPLICATE; a reference to another hospital: 422 HMS_REFERENCE_NOT_FOUND', async () => {
    const duplicate = await post('departments', { code, name: 'Again' }, admin);
    expect([duplicate.status, duplicate.body.code, duplicate.body.message]).toEqual([409, 'HMS_DUPLICATE', 'A department with this code already exists.']);
    const elsewhere = await post('departments', { code: `${code}X`, name: 'Child', parent_department_id: 'd0100000-0000-4000-8000-000000000021' }, admin);
    expect([elsewhere.status, elsewhere.body.code]).toEqual([422, 'HMS_REFERENCE_NOT_FOUND']);
  });

  it('a writer without the permission gets 403 HMS_FORBIDDEN, not the rule the row breaks', async () => {
    const { status, body } = await post('departments', { code }, reception);
    expect([status, body.code]).toEqual([403, 'HMS_FORBIDDEN']);
  });

  it('an upsert that ignores duplicates is not refused as one', async () => {
    const { status, body } = await post('departments', { code, name: 'Again' }, admin, 'resolution=ignore-duplicates,return=representation',
      '?on_conflict=hospital_id,code');
    expect(status).toBe(201);
    expect(body).toEqual([]);
  });
});
