/**
 * The golden access model: every table of app_public and, per table, who may read, insert,
 * update and delete its rows through the API. It is written here by hand, on purpose, and never
 * read from the database's own model (app_hidden.table_access) or from the policies: the tests
 * compare what the database does with this list, so a policy, a grant or an access-model row that
 * changes without this file changing turns the suite red.
 *
 * Every test that needs the list of tables or their number uses TABLES / TABLE_COUNT. The pgTAP
 * runner loads the model into tests.expected_access of the test database (expectedAccessSql).
 */

/** Every permission of the chain (app_public.permissions). */
export const PERMISSIONS = [
  'appointments.checkin', 'appointments.manage', 'appointments.read', 'audit.read',
  'billing.collect', 'billing.read', 'billing.refund', 'billing.settle', 'billing.void', 'billing.write',
  'doctors.manage', 'hospitals.manage', 'insurance.manage', 'insurance.read',
  'inventory.approve', 'inventory.manage', 'inventory.read', 'lab.order', 'lab.process', 'lab.read',
  'medicines.manage', 'medicines.read', 'optical.manage', 'optical.prescribe', 'optical.read',
  'patients.delete', 'patients.read', 'patients.read_confidential', 'patients.write', 'pharmacy.dispense', 'pharmacy.return',
  'prescriptions.read', 'prescriptions.write', 'reports.read', 'roles.manage', 'settings.manage',
  'users.manage', 'users.read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Permissions held only chain-wide (the super admin); they never enter a hospital's role. */
export const CHAIN_PERMISSIONS: readonly Permission[] = ['hospitals.manage'];

/**
 * Who may do something: every member of staff of the active hospital, the holders of any of
 * these permissions (in the active hospital), or nobody through the API (no grant at all).
 */
export type Who = 'every member' | 'nobody' | readonly Permission[];

export interface TableAccess {
  table: string;
  /**
   * hospital: each row belongs to one hospital and staff reach only their active hospital's rows;
   * chain: rows of the whole chain (no hospital_id, or one that may be null), each with its own
   * rule (see `rule`).
   */
  scope: 'hospital' | 'chain';
  read: Who;
  insert: Who;
  update: Who;
  delete: Who;
  /** A DELETE by staff marks the row is_deleted (it stays, hidden from normal lists). */
  softDelete: boolean;
  /** For rows that are not simply "the active hospital's": which rows the permissions reach. */
  rule?: string;
  /**
   * Writes the policies admit but a workflow rule of the table refuses first, with the code it
   * answers: rows only an RPC may create or remove, or a permission that is not enough on its own
   * (`unless`: holders of one of these are let through).
   */
  workflow?: Partial<Record<'insert' | 'update' | 'delete', { code: string; unless?: readonly Permission[] }>>;
}

const MEMBER = 'every member';
const NOBODY = 'nobody';

export const ACCESS_MODEL: readonly TableAccess[] = [
  // 0 Foundation
  { table: 'hospitals', scope: 'chain', read: MEMBER, insert: ['hospitals.manage'], update: ['hospitals.manage'], delete: ['hospitals.manage'], softDelete: true,
    rule: 'staff see the hospitals they hold a role in (the super admin: all); only hospitals.manage (chain-wide) adds, edits or removes them' },
  { table: 'departments', scope: 'hospital', read: MEMBER, insert: ['settings.manage'], update: ['settings.manage'], delete: ['settings.manage'], softDelete: true },
  { table: 'hospital_settings', scope: 'hospital', read: MEMBER, insert: NOBODY, update: ['settings.manage'], delete: NOBODY, softDelete: false },
  { table: 'tax_configurations', scope: 'hospital', read: MEMBER, insert: ['settings.manage'], update: ['settings.manage'], delete: ['settings.manage'], softDelete: false },
  // 0 Auth
  { table: 'users', scope: 'chain', read: ['users.read', 'users.manage'], insert: ['users.manage'], update: ['users.manage'], delete: ['users.manage'], softDelete: true,
    rule: 'each member sees their own account; users.read / users.manage the accounts of the colleagues holding a role in the active hospital (the super admin: everyone; colleagues find each other in staff_directory); users.manage edits and removes those accounts, never oneself, and a chain-level account (super admin, or someone working in another hospital too) only the super admin' },
  { table: 'roles', scope: 'chain', read: MEMBER, insert: ['roles.manage'], update: ['roles.manage'], delete: ['roles.manage'], softDelete: false,
    rule: 'staff see the system roles and the custom roles of their active hospital; roles.manage writes the custom roles of the active hospital only' },
  { table: 'permissions', scope: 'chain', read: MEMBER, insert: NOBODY, update: NOBODY, delete: NOBODY, softDelete: false,
    rule: 'the catalogue, readable by every member of staff' },
  { table: 'user_roles', scope: 'chain', read: ['users.read'], insert: ['users.manage'], update: ['users.manage'], delete: ['users.manage'], softDelete: false,
    rule: 'staff see their own roles; users.read the roles held in the active hospital (the super admin: all); users.manage grants hospital roles there' },
  { table: 'role_permissions', scope: 'chain', read: MEMBER, insert: ['roles.manage'], update: NOBODY, delete: ['roles.manage'], softDelete: false,
    rule: 'staff see the permissions of the roles they see; roles.manage composes the custom roles of the active hospital' },
  { table: 'refresh_tokens', scope: 'chain', read: MEMBER, insert: NOBODY, update: NOBODY, delete: NOBODY, softDelete: false,
    rule: 'each user sees only their own tokens; only the identity functions write them' },
  // 1 Core
  { table: 'patients', scope: 'hospital', read: ['patients.read'], insert: ['patients.write'], update: ['patients.write'], delete: ['patients.delete'], softDelete: true },
  { table: 'patient_consents', scope: 'hospital', read: ['patients.read'], insert: ['patients.write'], update: ['patients.write'], delete: ['patients.write'], softDelete: false },
  // A document marked is_confidential needs patients.read_confidential as well (its matrix rows are
  // not confidential; tests/db/security/privilege.test.sql covers the confidential ones).
  { table: 'patient_documents', scope: 'hospital', read: ['patients.read'], insert: ['patients.write'], update: ['patients.write'], delete: ['patients.delete'], softDelete: true },
  { table: 'doctors', scope: 'hospital', read: MEMBER, insert: ['doctors.manage'], update: ['doctors.manage'], delete: ['doctors.manage'], softDelete: true },
  { table: 'doctor_schedules', scope: 'hospital', read: MEMBER, insert: ['doctors.manage'], update: ['doctors.manage'], delete: ['doctors.manage'], softDelete: false },
  { table: 'doctor_leaves', scope: 'hospital', read: MEMBER, insert: ['doctors.manage'], update: ['doctors.manage'], delete: ['doctors.manage'], softDelete: false },
  { table: 'doctor_fees', scope: 'hospital', read: MEMBER, insert: ['doctors.manage'], update: ['doctors.manage'], delete: ['doctors.manage'], softDelete: false },
  { table: 'appointments', scope: 'hospital', read: ['appointments.read'], insert: ['appointments.manage', 'appointments.checkin'], update: ['appointments.manage', 'appointments.checkin'], delete: ['appointments.manage'], softDelete: true },
  { table: 'appointment_status_log', scope: 'hospital', read: ['appointments.read'], insert: NOBODY, update: NOBODY, delete: NOBODY, softDelete: false },
  { table: 'appointment_queue', scope: 'hospital', read: ['appointments.read'], insert: ['appointments.checkin'], update: ['appointments.checkin'], delete: NOBODY, softDelete: false },
  // 2 Clinical
  { table: 'prescriptions', scope: 'hospital', read: ['prescriptions.read'], insert: ['prescriptions.write'], update: ['prescriptions.write'], delete: ['prescriptions.write'], softDelete: true },
  { table: 'prescription_items', scope: 'hospital', read: ['prescriptions.read'], insert: ['prescriptions.write'], update: ['prescriptions.write'], delete: ['prescriptions.write'], softDelete: false },
  { table: 'prescription_templates', scope: 'hospital', read: ['prescriptions.read', 'prescriptions.write'], insert: ['prescriptions.write'], update: ['prescriptions.write'], delete: ['prescriptions.write'], softDelete: false },
  { table: 'prescription_versions', scope: 'hospital', read: ['prescriptions.read'], insert: NOBODY, update: NOBODY, delete: NOBODY, softDelete: false },
  { table: 'lab_orders', scope: 'hospital', read: ['lab.read'], insert: ['lab.order', 'lab.process'], update: ['lab.order', 'lab.process'], delete: ['lab.order'], softDelete: true,
    workflow: { insert: { code: 'HMS_FORBIDDEN', unless: ['lab.order'] } } },
  { table: 'medicines', scope: 'hospital', read: ['medicines.read', 'pharmacy.dispense', 'prescriptions.write', 'inventory.read', 'billing.write'], insert: ['medicines.manage'], update: ['medicines.manage'], delete: ['medicines.manage'], softDelete: true },
  { table: 'medicine_batches', scope: 'hospital', read: ['medicines.read', 'pharmacy.dispense', 'inventory.read'], insert: ['medicines.manage', 'inventory.manage'], update: ['medicines.manage', 'inventory.manage'], delete: NOBODY, softDelete: false },
  { table: 'pharmacy_dispensing', scope: 'hospital', read: ['pharmacy.dispense', 'pharmacy.return', 'billing.read'], insert: ['pharmacy.dispense'], update: ['pharmacy.dispense'], delete: ['pharmacy.dispense'], softDelete: true },
  { table: 'pharmacy_dispensing_items', scope: 'hospital', read: ['pharmacy.dispense', 'pharmacy.return', 'billing.read'], insert: ['pharmacy.dispense'], update: ['pharmacy.dispense'], delete: ['pharmacy.dispense'], softDelete: false },
  { table: 'pharmacy_returns', scope: 'hospital', read: ['pharmacy.dispense', 'pharmacy.return', 'billing.read'], insert: ['pharmacy.return'], update: ['pharmacy.return'], delete: ['pharmacy.return'], softDelete: true },
  { table: 'pharmacy_return_items', scope: 'hospital', read: ['pharmacy.dispense', 'pharmacy.return', 'billing.read'], insert: ['pharmacy.return'], update: ['pharmacy.return'], delete: ['pharmacy.return'], softDelete: false },
  // 2 Optical
  { table: 'optical_products', scope: 'hospital', read: ['optical.read', 'inventory.read'], insert: ['optical.manage', 'inventory.manage'], update: ['optical.manage', 'inventory.manage'], delete: ['optical.manage'], softDelete: true },
  { table: 'optical_prescriptions', scope: 'hospital', read: ['optical.read'], insert: ['optical.prescribe'], update: ['optical.prescribe'], delete: ['optical.prescribe'], softDelete: true },
  { table: 'optical_orders', scope: 'hospital', read: ['optical.read'], insert: ['optical.manage'], update: ['optical.manage'], delete: ['optical.manage'], softDelete: true },
  { table: 'optical_order_items', scope: 'hospital', read: ['optical.read'], insert: ['optical.manage'], update: ['optical.manage'], delete: ['optical.manage'], softDelete: false },
  { table: 'optical_repairs', scope: 'hospital', read: ['optical.read'], insert: ['optical.manage'], update: ['optical.manage'], delete: ['optical.manage'], softDelete: true },
  // 3 Billing
  { table: 'invoices', scope: 'hospital', read: ['billing.read'], insert: ['billing.write'], update: ['billing.write'], delete: ['billing.write'], softDelete: true },
  { table: 'invoice_items', scope: 'hospital', read: ['billing.read'], insert: ['billing.write'], update: ['billing.write'], delete: ['billing.write'], softDelete: false },
  { table: 'payments', scope: 'hospital', read: ['billing.read'], insert: ['billing.collect'], update: ['billing.collect'], delete: ['billing.collect'], softDelete: true },
  { table: 'refunds', scope: 'hospital', read: ['billing.read'], insert: ['billing.refund'], update: ['billing.refund'], delete: ['billing.refund'], softDelete: true },
  { table: 'credit_notes', scope: 'hospital', read: ['billing.read'], insert: ['billing.refund'], update: ['billing.refund'], delete: ['billing.refund'], softDelete: true },
  { table: 'daily_settlements', scope: 'hospital', read: ['billing.read'], insert: ['billing.settle'], update: ['billing.settle'], delete: NOBODY, softDelete: false },
  // 3 Insurance
  { table: 'insurance_providers', scope: 'hospital', read: ['insurance.read'], insert: ['insurance.manage'], update: ['insurance.manage'], delete: ['insurance.manage'], softDelete: true },
  { table: 'insurance_policies', scope: 'hospital', read: ['insurance.read'], insert: ['insurance.manage'], update: ['insurance.manage'], delete: ['insurance.manage'], softDelete: true },
  // Claims are created by create_claim: the amounts and the policy it decides are never client-written.
  { table: 'insurance_claims', scope: 'hospital', read: ['insurance.read'], insert: NOBODY, update: ['insurance.manage'], delete: ['insurance.manage'], softDelete: true },
  { table: 'pre_authorizations', scope: 'hospital', read: ['insurance.read'], insert: ['insurance.manage'], update: ['insurance.manage'], delete: ['insurance.manage'], softDelete: true },
  // 4 Inventory
  { table: 'suppliers', scope: 'hospital', read: ['inventory.read'], insert: ['inventory.manage'], update: ['inventory.manage'], delete: ['inventory.manage'], softDelete: true },
  { table: 'purchase_orders', scope: 'hospital', read: ['inventory.read'], insert: ['inventory.manage', 'inventory.approve'], update: ['inventory.manage', 'inventory.approve'], delete: ['inventory.manage'], softDelete: true },
  { table: 'purchase_order_items', scope: 'hospital', read: ['inventory.read'], insert: ['inventory.manage'], update: ['inventory.manage'], delete: ['inventory.manage'], softDelete: false },
  { table: 'goods_receipt_notes', scope: 'hospital', read: ['inventory.read'], insert: ['inventory.manage'], update: ['inventory.manage'], delete: ['inventory.manage'], softDelete: true },
  { table: 'grn_items', scope: 'hospital', read: ['inventory.read'], insert: ['inventory.manage'], update: ['inventory.manage'], delete: ['inventory.manage'], softDelete: false },
  { table: 'stock_movements', scope: 'hospital', read: ['inventory.read', 'medicines.read', 'optical.read'], insert: NOBODY, update: NOBODY, delete: NOBODY, softDelete: false },
  { table: 'stock_adjustments', scope: 'hospital', read: ['inventory.read'], insert: ['inventory.manage', 'inventory.approve'], update: ['inventory.manage', 'inventory.approve'], delete: ['inventory.manage'], softDelete: true },
  { table: 'cycle_counts', scope: 'hospital', read: ['inventory.read'], insert: ['inventory.manage', 'inventory.approve'], update: ['inventory.manage', 'inventory.approve'], delete: ['inventory.manage'], softDelete: true },
  // Count lines come from start_cycle_count (system quantities snapshotted): clients write only a line's reason.
  { table: 'cycle_count_items', scope: 'hospital', read: ['inventory.read'], insert: NOBODY, update: ['inventory.manage'], delete: ['inventory.manage'], softDelete: false,
    workflow: { delete: { code: 'HMS_DOCUMENT_LOCKED' } } },
  // 5 Support
  { table: 'notifications', scope: 'hospital', read: MEMBER, insert: NOBODY, update: MEMBER, delete: NOBODY, softDelete: false,
    rule: 'staff read and mark read their own in-app notifications; settings.manage reads every notification of the active hospital' },
  { table: 'notification_templates', scope: 'hospital', read: MEMBER, insert: ['settings.manage'], update: ['settings.manage'], delete: ['settings.manage'], softDelete: false },
  { table: 'notification_queue', scope: 'hospital', read: ['settings.manage'], insert: NOBODY, update: NOBODY, delete: NOBODY, softDelete: false },
  { table: 'audit_logs', scope: 'chain', read: ['audit.read'], insert: NOBODY, update: NOBODY, delete: NOBODY, softDelete: false,
    rule: 'audit.read reads the active hospital\'s trail; chain-level events (no hospital) are not in it (the super admin reads them in chain_audit_logs)' },
  // 5 ID system
  { table: 'id_sequences', scope: 'hospital', read: MEMBER, insert: NOBODY, update: ['settings.manage'], delete: NOBODY, softDelete: false },
  // Patient cards need patients.write, staff badges users.manage (a row trigger; the fixtures are patient cards).
  { table: 'id_cards', scope: 'hospital', read: ['patients.read', 'users.read'], insert: ['patients.write', 'users.manage'], update: ['patients.write', 'users.manage'], delete: ['patients.write', 'users.manage'], softDelete: false,
    workflow: { insert: { code: 'HMS_FORBIDDEN', unless: ['patients.write'] }, update: { code: 'HMS_FORBIDDEN', unless: ['patients.write'] }, delete: { code: 'HMS_FORBIDDEN', unless: ['patients.write'] } } },
  { table: 'password_emails', scope: 'chain', read: MEMBER, insert: NOBODY, update: NOBODY, delete: NOBODY, softDelete: false,
    rule: 'users see their own password emails; users.manage those of the active hospital\'s staff' },
];

/** The tables of app_public, in the order above. */
export const TABLES: readonly string[] = ACCESS_MODEL.map((entry) => entry.table);
export const TABLE_COUNT = TABLES.length;

/** The views of app_public (read models): with the tables, what the API lists. */
export const VIEWS = ['chain_audit_logs', 'staff_directory'] as const;
export const API_RESOURCES: readonly string[] = [...TABLES, ...VIEWS];

const encode = (who: Who) => (who === MEMBER ? ['*'] : who === NOBODY ? [] : [...who]);
const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
const array = (values: readonly string[]) => `array[${values.map(literal).join(', ')}]::text[]`;

/**
 * SQL that (re)creates tests.expected_access in a test database, as the owner: one row per table,
 * each command's holders as text[] — '{*}' every member, '{}' nobody, else permission codes.
 */
export function expectedAccessSql(): string {
  const rows = ACCESS_MODEL.map((t) =>
    `(${literal(t.table)}, ${literal(t.scope)}, ${array(encode(t.read))}, ${array(encode(t.insert))}, ${array(encode(t.update))}, ` +
    `${array(encode(t.delete))}, ${t.softDelete}, ${t.rule ? literal(t.rule) : 'null'}, ${literal(JSON.stringify(t.workflow ?? {}))})`,
  );
  return `
create schema if not exists tests;
drop table if exists tests.expected_access;
create table tests.expected_access (
  table_name text primary key,
  scope text not null check (scope in ('hospital', 'chain')),
  read text[] not null,
  insert text[] not null,
  update text[] not null,
  delete text[] not null,
  soft_delete boolean not null,
  rule text,
  workflow jsonb not null
);
comment on table tests.expected_access is
  'The golden access model (tests/support/access-model.ts): per table, who may read, insert, update, delete — {*} every member, {} nobody, else any of these permissions — and the writes a workflow rule refuses first ({"insert": {"code": …, "unless": […]}}).';
insert into tests.expected_access values
${rows.join(',\n')};
drop table if exists tests.permissions;
create table tests.permissions (code text primary key, chain_only boolean not null);
insert into tests.permissions values
${PERMISSIONS.map((p) => `(${literal(p)}, ${CHAIN_PERMISSIONS.includes(p)})`).join(',\n')};
grant usage on schema tests to public;
grant select on tests.expected_access, tests.permissions to public;
`;
}
