/**
 * Tenant isolation and role permissions through GraphQL (/graphql on the front), table by table,
 * with REST as the oracle: the same token asks PostgREST (`/api/<table>?select=id`) and
 * PostGraphile (`all<Table>s { totalCount nodes { rowId } }`) — the same identity, the same RLS —
 * and both must answer the same ids. On top of that, independently of REST, the owner's view of
 * the database says which hospital each row belongs to: a hospital-scoped row of another hospital
 * is never in an answer, and the Apollo LA admin (every hospital permission) gets exactly LA's rows.
 *
 * The tables are not listed here: they are every resource REST exposes (its OpenAPI document),
 * mapped to GraphQL by PostGraphile's own inflection, and the mapping must be a bijection onto
 * the connection fields of Query — a new table or view fails this file until it is in both APIs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { allRows, apiFetch, loginToken } from '../support/api.ts';
import { ACCESS_MODEL, API_RESOURCES, VIEWS, type TableAccess } from '../support/access-model.ts';
import { ownerQuery } from '../support/db.ts';
import { connectionField, fieldName, gql, gqlData, graphqlType, queryConnections } from '../support/graphql.ts';

const NY = '10000000-0000-4000-8000-000000000001';
const LA = '10000000-0000-4000-8000-000000000002';

interface Caller {
  email: string;
  token: string;
  hospitalId: string;
  permissions: Set<string>;
}

// What REST exposes, to a logged-in member of staff (the OpenAPI document follows the caller's privileges).
const openapi = await (await apiFetch('/', { token: await loginToken('reception.ny@hms.test') })).json();
const REST_RESOURCES: string[] = Object.keys(openapi.definitions).sort();
const MODEL = new Map<string, TableAccess>(ACCESS_MODEL.map((entry) => [entry.table, entry]));

const CALLERS = ['admin.la@hms.test', 'doctor.la@hms.test', 'nurse.ny@hms.test', 'accountant.ny@hms.test', 'superadmin@hms.test'];
const callers = new Map<string, Caller>();
let hospitalColumn: Set<string>;

beforeAll(async () => {
  // Every login first: sessions, refresh tokens and audit rows they write are settled before any read.
  for (const email of CALLERS) {
    const token = await loginToken(email);
    const { me } = await gqlData(`{ me }`, {}, token);
    callers.set(email, { email, token, hospitalId: me.hospital.id, permissions: new Set(me.permissions) });
  }
  hospitalColumn = new Set((await ownerQuery<{ t: string }>(
    `select table_name as t from information_schema.columns where table_schema = 'app_public' and column_name = 'hospital_id'`)).map((r) => r.t));
});

/** Every row id the caller gets from the table's GraphQL connection, and its totalCount. */
async function graphqlIds(table: string, token: string): Promise<{ ids: string[]; totalCount: number }> {
  const field = connectionField(table);
  const data = await gqlData(`{ ${field} { totalCount nodes { rowId } } }`, {}, token);
  return { ids: data[field].nodes.map((n: { rowId: string }) => n.rowId).sort(), totalCount: data[field].totalCount };
}

const restIds = async (table: string, token: string, filter = '') =>
  (await allRows(table, token, 'id', filter)).map((row) => String(row.id)).sort();

const holdsAny = (caller: Caller, who: TableAccess['read']) =>
  who === 'every member' || (who !== 'nobody' && who.some((permission) => caller.permissions.has(permission)));

describe('the tables of GraphQL are the tables of REST', () => {
  it('every REST table and view is one connection of Query, and every connection of Query is a REST resource', async () => {
    expect(REST_RESOURCES).toEqual([...API_RESOURCES].sort());
    const connections = await queryConnections(await loginToken('reception.ny@hms.test'));
    const expected = new Map(REST_RESOURCES.map((resource) => [connectionField(resource), graphqlType(resource)]));
    expect(new Map([...connections].sort())).toEqual(new Map([...expected].sort()));
  });
});

describe.each(CALLERS)('%s reads every table through GraphQL as through REST', (email) => {
  it.each(REST_RESOURCES)('%s', async (table) => {
    const caller = callers.get(email)!;
    const graphql = await graphqlIds(table, caller.token);
    const rest = await restIds(table, caller.token);
    expect(graphql.ids, 'GraphQL ids = REST ids').toEqual(rest);
    expect(graphql.totalCount, 'totalCount').toBe(rest.length);

    const access = MODEL.get(table);
    if (!access) {
      expect(VIEWS as readonly string[]).toContain(table);
      return;
    }
    // Independently of REST: which hospital the rows answered belong to.
    if (hospitalColumn.has(table) && (access.scope === 'hospital' || table === 'audit_logs' || email !== 'superadmin@hms.test')) {
      const foreign = await ownerQuery(
        `select id, hospital_id from app_public.${table} where id = any($1::uuid[]) and hospital_id is distinct from $2 ${access.scope === 'chain' && table !== 'audit_logs' ? 'and hospital_id is not null' : ''}`,
        [graphql.ids, caller.hospitalId]);
      expect(foreign, 'rows of another hospital').toEqual([]);
    }
    if (access.scope === 'hospital' && !holdsAny(caller, access.read)) expect(graphql.ids, 'no read permission: nothing').toEqual([]);
    if (access.scope === 'hospital' && email === 'admin.la@hms.test') {
      // Every hospital permission, audit.read included (soft-deleted rows too): exactly LA's rows.
      const own = (await ownerQuery<{ id: string }>(`select id from app_public.${table} where hospital_id = $1`, [LA])).map((r) => r.id).sort();
      expect(graphql.ids, 'exactly the LA rows').toEqual(own);
    }
  });
});

describe('not vacuous', () => {
  it('other hospitals hold rows in most hospital-scoped tables, which the LA callers were shown none of', async () => {
    let tables = 0;
    for (const { table } of ACCESS_MODEL.filter((t) => t.scope === 'hospital')) {
      const [{ n }] = await ownerQuery<{ n: number }>(`select count(*)::int as n from app_public.${table} where hospital_id <> $1`, [LA]);
      if (n > 0) tables += 1;
    }
    // The demo data alone gives NY or Chicago rows in 29 of them (other test files add more).
    expect(tables).toBeGreaterThanOrEqual(29);
  });
});

describe('anonymous', () => {
  it.each(REST_RESOURCES)('%s is refused as over REST', async (table) => {
    const rest = await apiFetch(`/${table}?select=id`);
    const restBody = await rest.json();
    const field = connectionField(table);
    const answer = await gql(`{ ${field} { totalCount nodes { rowId } } }`);
    expect(answer.body.data?.[field] ?? null).toBeNull();
    expect(answer.body.errors?.[0].extensions, JSON.stringify(answer.body)).toMatchObject({ code: restBody.code, status: rest.status });
    expect(answer.body.errors![0].message).toBe(restBody.message);
    expect(rest.status).toBe(401);
  });
});

describe('nested connections never reach another hospital', () => {
  it('every connection of a hospital (hospital → its departments, patients, invoices, …) answers what REST filters by that hospital', async () => {
    const superadmin = callers.get('superadmin@hms.test')!;
    const typeToTable = new Map(REST_RESOURCES.map((resource) => [graphqlType(resource), resource]));
    const { __type } = await gqlData(`{ __type(name: "Hospital") { fields { name type { name ofType { name } } } } }`, {}, superadmin.token);
    const nested = (__type.fields as { name: string; type: { name: string | null; ofType: { name: string } | null } }[])
      .map((f) => ({ field: f.name, type: (f.type.name ?? f.type.ofType?.name ?? '') }))
      // The connections of the hospital, and its one-to-one rows (hospitalSettingByHospitalId).
      .filter((f) => f.type.endsWith('Connection') || (f.field.endsWith('ByHospitalId') && typeToTable.has(f.type)))
      .map((f) => {
        const table = typeToTable.get(f.type.replace(/Connection$/, ''));
        const column = f.field.slice(f.field.lastIndexOf('By') + 2).replace(/[A-Z]/g, (c, i) => (i ? '_' : '') + c.toLowerCase());
        return { ...f, table: table!, column };
      });
    expect(nested.filter((n) => !n.table)).toEqual([]);
    // Every hospital-scoped table hangs off the hospital.
    const hospitalTables = ACCESS_MODEL.filter((t) => t.scope === 'hospital').map((t) => t.table);
    expect(hospitalTables.filter((t) => !nested.some((n) => n.table === t))).toEqual([]);
    expect(nested.every((n) => fieldName(n.column) === n.field.slice(n.field.lastIndexOf('By') + 2).replace(/^./, (c) => c.toLowerCase()))).toBe(true);

    const data = await gqlData(
      `{ allHospitals(orderBy: CODE_ASC) { nodes { rowId code ${nested.map((n) => `${n.field} { ${n.type.endsWith('Connection') ? 'totalCount nodes { rowId }' : 'rowId'} }`).join(' ')} } } }`, {}, superadmin.token);
    const hospitals = data.allHospitals.nodes as Record<string, any>[];
    expect(hospitals.map((h) => h.code)).toEqual(['CHI', 'LA', 'NY']);
    let nyRows = 0;
    for (const hospital of hospitals) {
      for (const { field, table, column } of nested) {
        const answer = hospital[field];
        const ids = (answer?.nodes ?? (answer ? [answer] : [])).map((n: { rowId: string }) => n.rowId).sort();
        expect(ids, `${hospital.code} ${field}`).toEqual(await restIds(table, superadmin.token, `${column}=eq.${hospital.rowId}`));
        if (answer?.nodes) expect(answer.totalCount, `${hospital.code} ${field} totalCount`).toBe(ids.length);
        // The super admin works in NY: a hospital-scoped row of another hospital is never shown.
        if (hospitalTables.includes(table) && hospital.rowId !== NY) expect(ids, `${hospital.code} ${field}`).toEqual([]);
        if (hospital.rowId === NY) nyRows += ids.length;
      }
    }
    expect(nyRows).toBeGreaterThan(100);
  });

  it('patients → appointments (→ patient, doctor), invoices → items and payments, prescriptions → items: only LA rows', async () => {
    const admin = callers.get('admin.la@hms.test')!;
    const data = await gqlData(`{
      allPatients { nodes { hospitalId
        appointmentsByHospitalIdAndPatientId { nodes { hospitalId
          patientByHospitalIdAndPatientId { hospitalId } doctorByHospitalIdAndDoctorId { hospitalId }
          appointmentStatusLogsByHospitalIdAndAppointmentId { nodes { hospitalId } } } }
        invoicesByHospitalIdAndPatientId { nodes { hospitalId
          invoiceItemsByHospitalIdAndInvoiceId { totalCount nodes { hospitalId } }
          paymentsByHospitalIdAndInvoiceId { totalCount nodes { hospitalId } } } }
        prescriptionsByHospitalIdAndPatientId { nodes { hospitalId prescriptionItemsByHospitalIdAndPrescriptionId { nodes { hospitalId } } } } } } }`, {}, admin.token);
    const text = JSON.stringify(data);
    expect(data.allPatients.nodes.length).toBeGreaterThan(0);
    // Not vacuous: the demo's LA invoice has lines and a payment, its appointments a status log.
    expect(text).toMatch(/"invoiceItemsByHospitalIdAndInvoiceId":\{"totalCount":[1-9]/);
    expect(text).toMatch(/"paymentsByHospitalIdAndInvoiceId":\{"totalCount":[1-9]/);
    expect(new Set(text.match(/"hospitalId":"[^"]+"/g))).toEqual(new Set([`"hospitalId":"${LA}"`]));

    // The same tree over REST, with the same token: the same rows at every level.
    const rest = await apiFetch('/patients?select=id,appointments!appointments_patient_fkey(id,appointment_status_log(id)),invoices!invoices_patient_fkey(id,invoice_items(id),payments(id))', { token: admin.token });
    const levels = (patients: any[], key: (level: string) => string) => {
      const appointments = patients.flatMap((p) => p[key('appointments')]);
      const invoices = patients.flatMap((p) => p[key('invoices')]);
      return [patients.length, appointments.length, appointments.flatMap((a) => a[key('logs')]).length,
        invoices.length, invoices.flatMap((i) => i[key('items')]).length, invoices.flatMap((i) => i[key('payments')]).length];
    };
    const graphqlKeys: Record<string, string> = { appointments: 'appointmentsByHospitalIdAndPatientId', logs: 'appointmentStatusLogsByHospitalIdAndAppointmentId', invoices: 'invoicesByHospitalIdAndPatientId', items: 'invoiceItemsByHospitalIdAndInvoiceId', payments: 'paymentsByHospitalIdAndInvoiceId' };
    const restKeys: Record<string, string> = { appointments: 'appointments', logs: 'appointment_status_log', invoices: 'invoices', items: 'invoice_items', payments: 'payments' };
    const unwrap = (value: any): any => (Array.isArray(value) ? value.map(unwrap) : value && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v && typeof v === 'object' && 'nodes' in (v as object) ? unwrap((v as any).nodes) : unwrap(v)])) : value);
    expect(levels(unwrap(data.allPatients.nodes), (l) => graphqlKeys[l])).toEqual(levels(await rest.json(), (l) => restKeys[l]));
  });

  it('users → their roles: the super admin sees each user\'s roles as REST embeds them', async () => {
    const superadmin = callers.get('superadmin@hms.test')!;
    const data = await gqlData(`{ allUsers(orderBy: EMAIL_ASC) { nodes { email userRolesByUserId { nodes { rowId hospitalId } } } } }`, {}, superadmin.token);
    const rest = await allRows('users', superadmin.token, 'email,user_roles!user_roles_user_id_fkey(id,hospital_id)');
    const graphqlRoles = Object.fromEntries(data.allUsers.nodes.map((u: any) => [u.email, u.userRolesByUserId.nodes.map((r: any) => r.rowId).sort()]));
    const restRoles = Object.fromEntries(rest.map((u: any) => [u.email, u.user_roles.map((r: any) => r.id).sort()]));
    expect(graphqlRoles).toEqual(restRoles);
    expect(data.allUsers.nodes.find((u: any) => u.email === 'admin.la@hms.test').userRolesByUserId.nodes.map((r: any) => r.hospitalId)).toEqual([LA]);
  });

  it('a point lookup of another hospital\'s row answers null, as REST answers nothing', async () => {
    const doctor = callers.get('doctor.la@hms.test')!;
    const [nyPatient] = await ownerQuery<{ id: string }>(`select id from app_public.patients where hospital_id = $1 limit 1`, [NY]);
    const data = await gqlData(`query($id: UUID!) { patientByRowId(rowId: $id) { rowId } }`, { id: nyPatient.id }, doctor.token);
    expect(data.patientByRowId).toBeNull();
    expect(await restIds('patients', doctor.token, `id=eq.${nyPatient.id}`)).toEqual([]);
  });
});

/** A REST write and the GraphQL mutation that makes the same write, with the same token. */
async function restWrite(method: string, path: string, token: string, body: Record<string, unknown>) {
  const response = await apiFetch(path, { method, token, headers: { 'Content-Type': 'application/json', Prefer: 'return=representation' }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

describe('plain writes: GraphQL allows and refuses what REST does, with the same code', () => {
  const created: { table: string; id: string }[] = [];

  it('createDepartment: the LA admin (settings.manage) may, the LA doctor may not; nobody may name another hospital', async () => {
    const admin = callers.get('admin.la@hms.test')!;
    const doctor = callers.get('doctor.la@hms.test')!;
    const mutation = `mutation($d: DepartmentInput!) { createDepartment(input: { department: $d }) { department { rowId hospitalId code } } }`;
    const code = `GQ${Date.now() % 100000}`;

    const allowedRest = await restWrite('POST', '/departments', admin.token, { code: `${code}R`, name: 'GraphQL isolation (REST)' });
    expect(allowedRest.status).toBe(201);
    created.push({ table: 'departments', id: allowedRest.body[0].id });
    const allowed = await gql(mutation, { d: { code: `${code}G`, name: 'GraphQL isolation' } }, admin.token);
    expect(allowed.body.errors).toBeUndefined();
    const department = allowed.body.data.createDepartment.department;
    created.push({ table: 'departments', id: department.rowId });
    expect(department.hospitalId).toBe(LA);

    const rest = await restWrite('POST', '/departments', doctor.token, { code: `${code}D`, name: 'Not allowed' });
    expect(rest.status).toBe(403);
    const graphql = await gql(mutation, { d: { code: `${code}D`, name: 'Not allowed' } }, doctor.token);
    expect(graphql.body.data?.createDepartment ?? null).toBeNull();
    expect(graphql.body.errors?.[0].extensions, JSON.stringify(graphql.body)).toMatchObject({ code: rest.body.code, status: rest.status, details: rest.body.details });
    expect(graphql.body.errors![0].message).toBe(rest.body.message);

    // hospital_id is not granted for insert: REST refuses the column (403); GraphQL has no such
    // input field at all, so the document itself is refused (400) — either way no row.
    const planted = await restWrite('POST', '/departments', admin.token, { hospital_id: NY, code: 'EVIL', name: 'Planted' });
    expect([planted.status, planted.body.code]).toEqual([403, 'HMS_FORBIDDEN']);
    const plantedGraphql = await gql(mutation, { d: { hospitalId: NY, code: 'EVIL', name: 'Planted' } }, admin.token);
    expect(plantedGraphql.body.errors?.[0].extensions).toMatchObject({ code: 'HMS_BAD_REQUEST', status: 400 });
    expect(plantedGraphql.body.errors![0].message).toMatch(/"hospitalId" is not defined by type "DepartmentInput"/);
    const [{ n }] = await ownerQuery<{ n: number }>(`select count(*)::int as n from app_public.departments where code in ($1, 'EVIL')`, [`${code}D`]);
    expect(n).toBe(0);
  });

  it('updateDepartmentByRowId: the LA admin may, the LA doctor (who reads it) may not — HMS_FORBIDDEN either way', async () => {
    const admin = callers.get('admin.la@hms.test')!;
    const doctor = callers.get('doctor.la@hms.test')!;
    const id = created[0].id;
    const mutation = `mutation($id: UUID!, $p: DepartmentPatch!) { updateDepartmentByRowId(input: { rowId: $id, departmentPatch: $p }) { department { rowId description } } }`;
    const rest = await restWrite('PATCH', `/departments?id=eq.${id}`, doctor.token, { description: 'by the doctor' });
    expect([rest.status, rest.body.code]).toEqual([403, 'HMS_FORBIDDEN']);
    const refused = await gql(mutation, { id, p: { description: 'by the doctor' } }, doctor.token);
    expect(refused.body.errors?.[0].extensions).toMatchObject({ code: rest.body.code, status: rest.status, details: rest.body.details });

    expect((await restWrite('PATCH', `/departments?id=eq.${id}`, admin.token, { description: 'by REST' })).status).toBe(200);
    const allowed = await gqlData(mutation, { id, p: { description: 'by GraphQL' } }, admin.token);
    expect(allowed.updateDepartmentByRowId.department.description).toBe('by GraphQL');
    const [row] = await ownerQuery(`select description from app_public.departments where id = $1`, [id]);
    expect(row.description).toBe('by GraphQL');
  });

  it('createPatient: reception (patients.write) may, the accountant (patients.read only) may not', async () => {
    const reception = await loginToken('reception.ny@hms.test');
    const accountant = callers.get('accountant.ny@hms.test')!;
    const mutation = `mutation($p: PatientInput!) { createPatient(input: { patient: $p }) { patient { rowId hospitalId mrn } } }`;
    const patient = { firstName: 'Grace', lastName: 'Isolation', dateOfBirth: '1980-02-02', gender: 'female' };
    const allowed = await gqlData(mutation, { p: patient }, reception);
    created.push({ table: 'patients', id: allowed.createPatient.patient.rowId });
    expect(allowed.createPatient.patient.hospitalId).toBe(NY);
    expect(allowed.createPatient.patient.mrn).toMatch(/^MRN-NY-/);

    const rest = await restWrite('POST', '/patients', accountant.token, { first_name: 'Grace', last_name: 'Isolation', date_of_birth: '1980-02-02', gender: 'female' });
    expect(rest.status).toBe(403);
    const refused = await gql(mutation, { p: patient }, accountant.token);
    expect(refused.body.errors?.[0].extensions).toMatchObject({ code: rest.body.code, status: rest.status });
    expect(rest.body.code).toBe('HMS_FORBIDDEN');
  });

  it('an update of another hospital\'s row changes nothing, as over REST', async () => {
    const admin = callers.get('admin.la@hms.test')!;
    const [nyPatient] = await ownerQuery<{ id: string; notes: string | null }>(`select id, notes from app_public.patients where hospital_id = $1 limit 1`, [NY]);
    const rest = await restWrite('PATCH', `/patients?id=eq.${nyPatient.id}`, admin.token, { notes: 'changed from LA' });
    expect([rest.status, rest.body]).toEqual([200, []]);
    const graphql = await gql(`mutation($id: UUID!) { updatePatientByRowId(input: { rowId: $id, patientPatch: { notes: "changed from LA" } }) { patient { rowId } } }`, { id: nyPatient.id }, admin.token);
    // REST's 200 with no rows is GraphQL's payload without a row: no error, nothing changed.
    expect(graphql.body).toEqual({ data: { updatePatientByRowId: { patient: null } } });
    const [row] = await ownerQuery(`select notes from app_public.patients where id = $1`, [nyPatient.id]);
    expect(row.notes).toBe(nyPatient.notes);
  });

  it('cleans up', async () => {
    for (const { table, id } of created.reverse()) await ownerQuery(`delete from app_public.${table} where id = $1`, [id]);
    expect(await ownerQuery(`select id from app_public.departments where id = any($1::uuid[])`, [created.map((c) => c.id)])).toEqual([]);
  });
});
