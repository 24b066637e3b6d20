/**
 * Tenant isolation through the real PostgREST, logged in as demo staff of Apollo LA: every table
 * of the golden access model (tests/support/access-model.ts), embed, count, filter and write stays
 * inside the caller's hospital. The cell-by-cell proof, with fixtures in every table, is the
 * isolation matrix (tests/db/security/isolation-matrix.test.sql).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { allRows, apiClient, apiFetch, loginToken } from '../support/api.ts';
import { ACCESS_MODEL, TABLE_COUNT, TABLES } from '../support/access-model.ts';
import { ownerQuery } from '../support/db.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const LA = '10000000-0000-4000-8000-000000000002';

let laMembers: Set<string>;
let nyPatientId: string;

beforeAll(async () => {
  laMembers = new Set(
    (await ownerQuery<{ user_id: string }>(`select user_id from app_public.user_roles where hospital_id = $1 or hospital_id is null`, [LA])).map(
      (r) => r.user_id,
    ),
  );
  nyPatientId = (await ownerQuery<{ id: string }>(`select id from app_public.patients where hospital_id = $1 limit 1`, [NY]))[0].id;
});

describe('admin.la@hms.test reading every table through PostgREST', () => {
  it(`serves exactly the ${TABLE_COUNT} tables of the golden access model`, async () => {
    const catalog = await ownerQuery<{ name: string }>(
      `select relname as name from pg_class where relnamespace = 'app_public'::regnamespace and relkind in ('r', 'p') order by 1`);
    expect(catalog.map((t) => t.name)).toEqual([...TABLES].sort());
  });

  it('gets exactly the Apollo LA rows of every hospital-scoped table, id for id', async () => {
    const token = await loginToken('admin.la@hms.test');
    let rowsSeen = 0;
    for (const { table } of ACCESS_MODEL.filter((t) => t.scope === 'hospital')) {
      const seen = (await allRows(table, token)).map((row) => String(row.id)).sort();
      // The LA admin holds every hospital permission (audit.read included: soft-deleted rows too).
      const own = (await ownerQuery<{ id: string }>(`select id from app_public.${table} where hospital_id = $1 order by id`, [LA])).map((r) => r.id);
      expect(seen, table).toEqual(own);
      rowsSeen += seen.length;
    }
    // Not vacuous: the demo data and other test files give LA rows in most of these tables (the
    // isolation matrix has fixtures in every table).
    expect(rowsSeen).toBeGreaterThan(50);
  });

  it('gets only Apollo LA, its staff and its own rows from the chain-level tables', async () => {
    const token = await loginToken('admin.la@hms.test');
    for (const { table } of ACCESS_MODEL.filter((t) => t.scope === 'chain')) {
      for (const row of await allRows(table, token)) {
        if (row.hospital_id !== undefined && row.hospital_id !== null && table !== 'audit_logs') expect(row.hospital_id, `${table} ${row.id}`).toBe(LA);
        if (table === 'hospitals') expect(row.id).toBe(LA);
        if (table === 'users') expect(laMembers.has(String(row.id)), `users ${row.email}`).toBe(true);
        if (table === 'audit_logs') expect(row.hospital_id).toBe(LA);
      }
    }
  });
});

describe('embeds, counts and filters never reach another hospital', () => {
  it('embeds of another hospital come back empty', async () => {
    const api = apiClient(await loginToken('admin.la@hms.test'));
    const { data, error } = await api
      .from('patients')
      .select('hospital_id, appointments!appointments_patient_fkey(hospital_id), invoices!invoices_patient_fkey(hospital_id, invoice_items(hospital_id), payments(hospital_id))');
    expect(error).toBeNull();
    expect(data!.length).toBeGreaterThan(0);
    const hospitals = JSON.stringify(data).match(/"hospital_id":"[^"]+"/g)!;
    expect(new Set(hospitals)).toEqual(new Set([`"hospital_id":"${LA}"`]));
  });

  it('a chain-level embed (users → their roles) shows only the active hospital', async () => {
    const api = apiClient(await loginToken('superadmin@hms.test'));
    const { data, error } = await api.from('users').select('email, user_roles!user_roles_user_id_fkey(hospital_id)').eq('email', 'admin.la@hms.test');
    expect(error).toBeNull();
    // The super admin sees every user and every role assignment (chain-wide), hospital by hospital.
    expect(data![0].user_roles.map((r: { hospital_id: string }) => r.hospital_id)).toEqual([LA]);
  });

  it('Prefer: count=exact counts only the own hospital', async () => {
    const response = await apiFetch('/patients?select=id', { token: await loginToken('doctor.la@hms.test'), headers: { Prefer: 'count=exact' } });
    const [own] = await ownerQuery<{ n: number }>(`select count(*)::int as n from app_public.patients where hospital_id = $1 and not is_deleted`, [LA]);
    expect(response.headers.get('content-range')).toBe(`0-${own.n - 1}/${own.n}`);
  });

  it('a doctor of LA asking for an NY patient by id gets nothing', async () => {
    const response = await apiFetch(`/patients?id=eq.${nyPatientId}`, { token: await loginToken('doctor.la@hms.test') });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([]);
  });

  it('a filter on another hospital\'s id finds nothing', async () => {
    const response = await apiFetch(`/invoices?hospital_id=eq.${NY}`, { token: await loginToken('admin.la@hms.test') });
    expect(await response.json()).toEqual([]);
  });
});

describe('writes never reach another hospital', () => {
  it('cannot choose hospital_id on insert (403), and an update or delete of NY rows changes nothing', async () => {
    const token = await loginToken('admin.la@hms.test');
    const insert = await apiFetch('/departments', {
      method: 'POST',
      token,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ hospital_id: NY, code: 'EVIL', name: 'Planted department' }),
    });
    expect(insert.status).toBe(403);
    expect((await insert.json()).code).toBe('HMS_FORBIDDEN');

    const update = await apiFetch(`/patients?id=eq.${nyPatientId}`, {
      method: 'PATCH',
      token,
      headers: { 'Content-Type': 'application/json', Prefer: 'return=representation' },
      body: JSON.stringify({ notes: 'changed from LA' }),
    });
    expect(update.status).toBe(200);
    expect(await update.json()).toEqual([]);

    const remove = await apiFetch(`/patients?id=eq.${nyPatientId}`, { method: 'DELETE', token });
    expect(remove.status).toBeLessThan(300);
    const [row] = await ownerQuery<{ notes: string | null; is_deleted: boolean }>(`select notes, is_deleted from app_public.patients where id = $1`, [nyPatientId]);
    expect(row.notes).not.toBe('changed from LA');
    expect(row.is_deleted).toBe(false);
  });

  it('a new row gets the caller\'s hospital without naming it', async () => {
    const token = await loginToken('admin.la@hms.test');
    const code = `T${Date.now() % 100000}`;
    const response = await apiFetch('/departments', {
      method: 'POST',
      token,
      headers: { 'Content-Type': 'application/json', Prefer: 'return=representation' },
      body: JSON.stringify({ code, name: 'Isolation test department' }),
    });
    expect(response.status).toBe(201);
    const [row] = await response.json();
    expect(row.hospital_id).toBe(LA);
    await ownerQuery(`delete from app_public.departments where id = $1`, [row.id]);
  });

  it('a missing permission is 403 on insert (with-check) and invisible on read', async () => {
    const token = await loginToken('doctor.la@hms.test');
    const insert = await apiFetch('/suppliers', {
      method: 'POST',
      token,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: 'NOPE', name: 'Not allowed' }),
    });
    expect(insert.status).toBe(403);
    const read = await apiFetch('/invoices?select=id', { token: await loginToken('nurse.ny@hms.test') });
    expect(await read.json()).toEqual([]);
  });
});
