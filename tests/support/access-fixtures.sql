-- Fixtures of the isolation matrix (tests/db/security/isolation-matrix.test.sql), installed into
-- the test database by the pgTAP runner and called inside the matrix's own transaction (so
-- everything here is rolled back with it). Written as the owner, the trusted writer: no policy
-- applies, triggers do.
--
-- tests.access_fixtures() creates, in NY and in LA:
--   - anchor rows: the parents the other rows need (a department, a doctor, a patient, a medicine
--     and its batch, invoices, orders, …), named 'anchor:<what>';
--   - matrix rows: for every table, rows nothing else refers to, so that a cell may delete them,
--     with the id tests.fixture_id(<hospital>, <table>). They are listed in access_row (table,
--     hospital, id); the matrix only ever touches these ids.
-- and, for every table, access_probe: the INSERT a permitted member of NY staff sends (with the
-- id tests.fixture_id('NY', 'probe:<table>')) and the SET clause of an UPDATE (one
-- `column = value` assignment, also used as the test that a row was changed).
-- tests.access_identities() creates the members of NY staff the matrix acts as, listed in
-- access_identity (name, email, hospital code, permissions held):
--   only:<permission>   a custom role holding exactly that permission, for each permission of a hospital role;
--   without:<set>       every hospital permission but that set, for each set the golden model
--                       (tests.expected_access) names — it must reach nothing that set guards;
--   all                 every hospital permission;  nobody  a role granting nothing;
--   other               admin.la@hms.test (hospital admin of LA);  super  superadmin@hms.test in NY.

/** A fixed uuid per (hospital label, name): fixtures can be named anywhere without a lookup. */
create or replace function tests.fixture_id(p_hospital text, p_name text) returns uuid
language sql immutable
as $$ select md5('access-fixture:' || p_hospital || ':' || p_name)::uuid $$;

create or replace function tests.access_fixtures() returns void
language plpgsql
as $$
declare
  v_h record;
  v_t record;
  v_found boolean;
begin
  create temporary table access_row (table_name text not null, hospital text not null, id uuid primary key);
  create temporary table access_probe (table_name text primary key, insert_sql text not null, new_row text not null, update_set text not null);
  grant select on access_row, access_probe to public;

  perform tests.access_identities();
  for v_h in select * from (values ('NY', '10000000-0000-4000-8000-000000000001'::uuid),
                                   ('LA', '10000000-0000-4000-8000-000000000002'::uuid)) v(label, id) loop
    perform tests.access_hospital_fixtures(v_h.id, v_h.label);
  end loop;
  perform tests.access_chain_fixtures();
  -- The matrix rows of a table in a hospital are the rows named after the table.
  for v_t in select e.table_name, x.l from tests.expected_access e cross join (values ('NY'), ('LA')) x(l) loop
    execute format('select exists (select 1 from app_public.%I where id = $1)', v_t.table_name)
      into v_found using tests.fixture_id(v_t.l, v_t.table_name);
    if v_found then
      insert into access_row values (v_t.table_name, v_t.l, tests.fixture_id(v_t.l, v_t.table_name));
    end if;
  end loop;
  perform tests.access_probes();
end;
$$;

/**
 * What a permitted member of NY staff writes: for each table an INSERT (referring to NY anchors),
 * the test that finds the row it adds, and the SET clause of an UPDATE of the matrix rows.
 */
create or replace function tests.access_probes() returns void
language plpgsql
as $body$
begin
  insert into access_probe
  select v.t, v.insert_sql,
         coalesce(v.new_row, format('id = tests.fixture_id(%L, %L)', 'NY', 'probe:' || v.t)),
         v.update_set
    from (values
    ('departments', $$insert into app_public.departments (id, code, name) values (tests.fixture_id('NY', 'probe:departments'), 'MXPROBE', 'Matrix probe')$$, null, $$description = 'matrix edit'$$),
    ('hospital_settings', $$insert into app_public.hospital_settings (print_footer) values ('matrix probe')$$, $$print_footer = 'matrix probe'$$, $$print_footer = 'matrix edit'$$),
    ('tax_configurations', $$insert into app_public.tax_configurations (id, code, name, rate_percent) values (tests.fixture_id('NY', 'probe:tax_configurations'), 'MXPROBE', 'Matrix probe', 1)$$, null, $$description = 'matrix edit'$$),
    ('id_sequences', $$insert into app_public.id_sequences (description) values ('matrix probe')$$, $$description = 'matrix probe'$$, $$description = 'matrix edit'$$),
    ('doctors', $$insert into app_public.doctors (id, user_id, department_id, registration_number, specialization) values (tests.fixture_id('NY', 'probe:doctors'), tests.fixture_id('NY', 'anchor:probe_user'), tests.fixture_id('NY', 'anchor:department'), 'MX-PROBE', 'Cardiology')$$, null, $$bio = 'matrix edit'$$),
    ('doctor_schedules', $$insert into app_public.doctor_schedules (id, doctor_id, day_of_week, start_time, end_time) values (tests.fixture_id('NY', 'probe:doctor_schedules'), tests.fixture_id('NY', 'anchor:doctor'), 3, '14:00', '16:00')$$, null, $$room = 'matrix edit'$$),
    ('doctor_leaves', $$insert into app_public.doctor_leaves (id, doctor_id, leave_type, start_date, end_date) values (tests.fixture_id('NY', 'probe:doctor_leaves'), tests.fixture_id('NY', 'anchor:doctor'), 'sick', current_date + 210, current_date + 210)$$, null, $$reason = 'matrix edit'$$),
    ('doctor_fees', $$insert into app_public.doctor_fees (id, doctor_id, visit_type, amount) values (tests.fixture_id('NY', 'probe:doctor_fees'), tests.fixture_id('NY', 'anchor:doctor'), 'emergency', 300)$$, null, $$notes = 'matrix edit'$$),
    ('patients', $$insert into app_public.patients (id, first_name, date_of_birth, gender) values (tests.fixture_id('NY', 'probe:patients'), 'Probe', '1990-01-01', 'other')$$, null, $$notes = 'matrix edit'$$),
    ('patient_consents', $$insert into app_public.patient_consents (id, patient_id, consent_type) values (tests.fixture_id('NY', 'probe:patient_consents'), tests.fixture_id('NY', 'anchor:patient2'), 'telemedicine')$$, null, $$notes = 'matrix edit'$$),
    ('patient_documents', $$insert into app_public.patient_documents (id, patient_id, document_type, title, file_name, file_url) values (tests.fixture_id('NY', 'probe:patient_documents'), tests.fixture_id('NY', 'anchor:patient2'), 'other', 'Probe', 'probe.pdf', 'https://files.hms.test/probe.pdf')$$, null, $$description = 'matrix edit'$$),
    ('id_cards', $$insert into app_public.id_cards (id, holder_type, patient_id, card_type) values (tests.fixture_id('NY', 'probe:id_cards'), 'patient', tests.fixture_id('NY', 'anchor:patient2'), 'patient_health_card')$$, null, $$notes = 'matrix edit'$$),
    ('appointments', $$insert into app_public.appointments (id, patient_id, doctor_id, department_id, scheduled_start, scheduled_end) values (tests.fixture_id('NY', 'probe:appointments'), tests.fixture_id('NY', 'anchor:patient2'), tests.fixture_id('NY', 'anchor:doctor'), tests.fixture_id('NY', 'anchor:department'), date_trunc('day', now()) + interval '302 days 8 hours', date_trunc('day', now()) + interval '302 days 8 hours 30 minutes')$$, null, $$notes = 'matrix edit'$$),
    ('appointment_status_log', $$insert into app_public.appointment_status_log (id, appointment_id, to_status) values (tests.fixture_id('NY', 'probe:appointment_status_log'), tests.fixture_id('NY', 'anchor:appointment'), 'cancelled')$$, null, $$notes = 'matrix edit'$$),
    ('appointment_queue', $$insert into app_public.appointment_queue (id, queue_date, department_id, patient_id) values (tests.fixture_id('NY', 'probe:appointment_queue'), current_date, tests.fixture_id('NY', 'anchor:department'), tests.fixture_id('NY', 'anchor:patient2'))$$, null, $$notes = 'matrix edit'$$),
    ('prescriptions', $$insert into app_public.prescriptions (id, patient_id, doctor_id) values (tests.fixture_id('NY', 'probe:prescriptions'), tests.fixture_id('NY', 'anchor:patient2'), tests.fixture_id('NY', 'anchor:doctor'))$$, null, $$notes = 'matrix edit'$$),
    ('prescription_items', $$insert into app_public.prescription_items (id, prescription_id, line_number, drug_name, quantity_prescribed) values (tests.fixture_id('NY', 'probe:prescription_items'), tests.fixture_id('NY', 'anchor:prescription'), 2, 'Probe', 1)$$, null, $$instructions = 'matrix edit'$$),
    ('prescription_templates', $$insert into app_public.prescription_templates (id, name) values (tests.fixture_id('NY', 'probe:prescription_templates'), 'Matrix probe template')$$, null, $$description = 'matrix edit'$$),
    ('prescription_versions', $$insert into app_public.prescription_versions (id, prescription_id, version, snapshot) values (tests.fixture_id('NY', 'probe:prescription_versions'), tests.fixture_id('NY', 'anchor:prescription'), 8, '{}')$$, null, $$change_reason = 'matrix edit'$$),
    ('lab_orders', $$insert into app_public.lab_orders (id, patient_id, doctor_id, test_name, test_category) values (tests.fixture_id('NY', 'probe:lab_orders'), tests.fixture_id('NY', 'anchor:patient2'), tests.fixture_id('NY', 'anchor:doctor'), 'Probe panel', 'hematology')$$, null, $$clinical_notes = 'matrix edit'$$),
    ('medicines', $$insert into app_public.medicines (id, generic_name, dosage_form, base_unit) values (tests.fixture_id('NY', 'probe:medicines'), 'Probeol', 'tablet', 'tablet')$$, null, $$notes = 'matrix edit'$$),
    ('medicine_batches', $$insert into app_public.medicine_batches (id, medicine_id, batch_number, expiry_date) values (tests.fixture_id('NY', 'probe:medicine_batches'), tests.fixture_id('NY', 'anchor:medicine'), 'MX-PROBE', current_date + 300)$$, null, $$notes = 'matrix edit'$$),
    ('pharmacy_dispensing', $$insert into app_public.pharmacy_dispensing (id, patient_id, dispensing_type) values (tests.fixture_id('NY', 'probe:pharmacy_dispensing'), tests.fixture_id('NY', 'anchor:patient2'), 'otc')$$, null, $$notes = 'matrix edit'$$),
    ('pharmacy_dispensing_items', $$insert into app_public.pharmacy_dispensing_items (id, dispensing_id, medicine_id, batch_id, quantity, unit_price, expiry_date) values (tests.fixture_id('NY', 'probe:pharmacy_dispensing_items'), tests.fixture_id('NY', 'anchor:dispensing'), tests.fixture_id('NY', 'anchor:medicine'), tests.fixture_id('NY', 'anchor:batch'), 1, 2.00, current_date + 400)$$, null, $$dosage_instructions = 'matrix edit'$$),
    ('pharmacy_returns', $$insert into app_public.pharmacy_returns (id, dispensing_id, reason) values (tests.fixture_id('NY', 'probe:pharmacy_returns'), tests.fixture_id('NY', 'anchor:dispensing'), 'damaged')$$, null, $$notes = 'matrix edit'$$),
    ('pharmacy_return_items', $$insert into app_public.pharmacy_return_items (id, return_id, dispensing_item_id, medicine_id, batch_id, quantity, unit_price) values (tests.fixture_id('NY', 'probe:pharmacy_return_items'), tests.fixture_id('NY', 'anchor:return'), tests.fixture_id('NY', 'anchor:dispensing_item2'), tests.fixture_id('NY', 'anchor:medicine'), tests.fixture_id('NY', 'anchor:batch'), 1, 2.00)$$, null, $$condition = 'damaged'$$),
    ('optical_products', $$insert into app_public.optical_products (id, sku, name, product_type, selling_price) values (tests.fixture_id('NY', 'probe:optical_products'), 'MX-PROBE', 'Probe case', 'accessory', 4.00)$$, null, $$supplier_name = 'matrix edit'$$),
    ('optical_prescriptions', $$insert into app_public.optical_prescriptions (id, patient_id, doctor_id, od_sphere) values (tests.fixture_id('NY', 'probe:optical_prescriptions'), tests.fixture_id('NY', 'anchor:patient2'), tests.fixture_id('NY', 'anchor:doctor'), -2.00)$$, null, $$clinical_notes = 'matrix edit'$$),
    ('optical_orders', $$insert into app_public.optical_orders (id, patient_id) values (tests.fixture_id('NY', 'probe:optical_orders'), tests.fixture_id('NY', 'anchor:patient2'))$$, null, $$notes = 'matrix edit'$$),
    ('optical_order_items', $$insert into app_public.optical_order_items (id, optical_order_id, item_type, description, unit_price) values (tests.fixture_id('NY', 'probe:optical_order_items'), tests.fixture_id('NY', 'anchor:optical_order'), 'service', 'Probe fitting', 3.00)$$, null, $$description = 'matrix edit'$$),
    ('optical_repairs', $$insert into app_public.optical_repairs (id, patient_id, item_description, repair_type, problem_description) values (tests.fixture_id('NY', 'probe:optical_repairs'), tests.fixture_id('NY', 'anchor:patient2'), 'Probe frame', 'hinge', 'Broken hinge')$$, null, $$notes = 'matrix edit'$$),
    ('invoices', $$insert into app_public.invoices (id, patient_id, currency_code) values (tests.fixture_id('NY', 'probe:invoices'), tests.fixture_id('NY', 'anchor:patient2'), 'USD')$$, null, $$notes = 'matrix edit'$$),
    ('invoice_items', $$insert into app_public.invoice_items (id, invoice_id, line_number, item_type, description, unit_price) values (tests.fixture_id('NY', 'probe:invoice_items'), tests.fixture_id('NY', 'anchor:draft_invoice'), 2, 'service', 'Probe line', 1.00)$$, null, $$description = 'matrix edit'$$),
    -- A client records a payment as pending (record_payment completes it).
    ('payments', $$insert into app_public.payments (id, invoice_id, patient_id, amount, payment_method, status) values (tests.fixture_id('NY', 'probe:payments'), tests.fixture_id('NY', 'anchor:issued_invoice'), tests.fixture_id('NY', 'anchor:patient'), 1.00, 'cash', 'pending')$$, null, $$notes = 'matrix edit'$$),
    ('refunds', $$insert into app_public.refunds (id, invoice_id, patient_id, amount, refund_method, reason) values (tests.fixture_id('NY', 'probe:refunds'), tests.fixture_id('NY', 'anchor:issued_invoice'), tests.fixture_id('NY', 'anchor:patient'), 1.00, 'cash', 'overbilling')$$, null, $$reason_notes = 'matrix edit'$$),
    ('credit_notes', $$insert into app_public.credit_notes (id, invoice_id, patient_id, amount, reason) values (tests.fixture_id('NY', 'probe:credit_notes'), tests.fixture_id('NY', 'anchor:issued_invoice'), tests.fixture_id('NY', 'anchor:patient'), 1.00, 'Probe credit')$$, null, $$notes = 'matrix edit'$$),
    ('daily_settlements', $$insert into app_public.daily_settlements (id, settlement_date) values (tests.fixture_id('NY', 'probe:daily_settlements'), current_date - 901)$$, null, $$notes = 'matrix edit'$$),
    ('insurance_providers', $$insert into app_public.insurance_providers (id, code, name) values (tests.fixture_id('NY', 'probe:insurance_providers'), 'MX_PROBE', 'Probe insurer')$$, null, $$notes = 'matrix edit'$$),
    ('insurance_policies', $$insert into app_public.insurance_policies (id, patient_id, provider_id, policy_number, is_primary) values (tests.fixture_id('NY', 'probe:insurance_policies'), tests.fixture_id('NY', 'anchor:patient2'), tests.fixture_id('NY', 'anchor:insurance_provider'), 'MX-PROBE', false)$$, null, $$notes = 'matrix edit'$$),
    ('pre_authorizations', $$insert into app_public.pre_authorizations (id, policy_id, patient_id, provider_id, procedure_description, requested_amount) values (tests.fixture_id('NY', 'probe:pre_authorizations'), tests.fixture_id('NY', 'anchor:insurance_policy'), tests.fixture_id('NY', 'anchor:patient'), tests.fixture_id('NY', 'anchor:insurance_provider'), 'Probe procedure', 10)$$, null, $$notes = 'matrix edit'$$),
    ('insurance_claims', $$insert into app_public.insurance_claims (id, invoice_id, policy_id, provider_id, patient_id, claimed_amount) values (tests.fixture_id('NY', 'probe:insurance_claims'), tests.fixture_id('NY', 'anchor:issued_invoice'), tests.fixture_id('NY', 'anchor:insurance_policy'), tests.fixture_id('NY', 'anchor:insurance_provider'), tests.fixture_id('NY', 'anchor:patient'), 10)$$, null, $$notes = 'matrix edit'$$),
    ('suppliers', $$insert into app_public.suppliers (id, code, name) values (tests.fixture_id('NY', 'probe:suppliers'), 'MX-PROBE', 'Probe supplier')$$, null, $$notes = 'matrix edit'$$),
    ('purchase_orders', $$insert into app_public.purchase_orders (id, supplier_id) values (tests.fixture_id('NY', 'probe:purchase_orders'), tests.fixture_id('NY', 'anchor:supplier'))$$, null, $$notes = 'matrix edit'$$),
    ('purchase_order_items', $$insert into app_public.purchase_order_items (id, purchase_order_id, line_number, item_type, description, quantity_ordered, unit_cost) values (tests.fixture_id('NY', 'probe:purchase_order_items'), tests.fixture_id('NY', 'anchor:purchase_order'), 2, 'consumable', 'Probe masks', 5, 1.00)$$, null, $$notes = 'matrix edit'$$),
    ('goods_receipt_notes', $$insert into app_public.goods_receipt_notes (id, supplier_id) values (tests.fixture_id('NY', 'probe:goods_receipt_notes'), tests.fixture_id('NY', 'anchor:supplier'))$$, null, $$notes = 'matrix edit'$$),
    ('grn_items', $$insert into app_public.grn_items (id, grn_id, line_number, item_type, description, quantity_received, unit_cost) values (tests.fixture_id('NY', 'probe:grn_items'), tests.fixture_id('NY', 'anchor:grn'), 2, 'consumable', 'Probe masks', 5, 1.00)$$, null, $$notes = 'matrix edit'$$),
    ('stock_movements', $$insert into app_public.stock_movements (id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after) values (tests.fixture_id('NY', 'probe:stock_movements'), 'opening_balance', 'medicine', tests.fixture_id('NY', 'anchor:medicine'), tests.fixture_id('NY', 'anchor:batch'), 1, 0)$$, null, $$reason = 'matrix edit'$$),
    ('stock_adjustments', $$insert into app_public.stock_adjustments (id, item_type, medicine_id, batch_id, quantity_change, reason) values (tests.fixture_id('NY', 'probe:stock_adjustments'), 'medicine', tests.fixture_id('NY', 'anchor:medicine'), tests.fixture_id('NY', 'anchor:batch'), 1, 'found')$$, null, $$reason_notes = 'matrix edit'$$),
    ('cycle_counts', $$insert into app_public.cycle_counts (id) values (tests.fixture_id('NY', 'probe:cycle_counts'))$$, null, $$notes = 'matrix edit'$$),
    ('cycle_count_items', $$insert into app_public.cycle_count_items (id, cycle_count_id, item_type, medicine_id, batch_id) values (tests.fixture_id('NY', 'probe:cycle_count_items'), tests.fixture_id('NY', 'anchor:cycle_count'), 'medicine', tests.fixture_id('NY', 'anchor:medicine'), tests.fixture_id('NY', 'medicine_batches'))$$, null, $$reason = 'matrix edit'$$),
    ('notification_templates', $$insert into app_public.notification_templates (id, code, name, channel, category, body) values (tests.fixture_id('NY', 'probe:notification_templates'), 'matrix_probe', 'Matrix probe', 'sms', 'account', 'Probe')$$, null, $$description = 'matrix edit'$$),
    ('notification_queue', $$insert into app_public.notification_queue (id, notification_id, channel, recipient_address) values (tests.fixture_id('NY', 'probe:notification_queue'), tests.fixture_id('NY', 'anchor:notification'), 'sms', '+1 212-555-0198')$$, null, $$last_error = 'matrix edit'$$),
    -- chain-level tables
    ('hospitals', $$insert into app_public.hospitals (code, name) values ('MXPROBE', 'Matrix probe hospital')$$, $$code = 'MXPROBE'$$, $$legal_name = 'matrix edit'$$),
    ('users', $$insert into app_public.users (email, first_name, last_name) values ('matrix.probe@hms.test', 'Probe', 'User')$$, $$email = 'matrix.probe@hms.test'$$, $$job_title = 'matrix edit'$$),
    ('roles', $$insert into app_public.roles (code, name) values ('mx_probe', 'Matrix probe role')$$, $$code = 'mx_probe'$$, $$description = 'matrix edit'$$),
    ('permissions', $$insert into app_public.permissions (code, module, action, description) values ('matrix.probe', 'matrix', 'probe', 'Probe')$$, $$code = 'matrix.probe'$$, $$description = 'matrix edit'$$),
    ('user_roles', $$insert into app_public.user_roles (user_id, role_id) values (tests.fixture_id('NY', 'anchor:probe_user'), tests.fixture_id('NY', 'anchor:role'))$$, $$user_id = tests.fixture_id('NY', 'anchor:probe_user')$$, $$notes = 'matrix edit'$$),
    ('role_permissions', $$insert into app_public.role_permissions (role_id, permission_id) select tests.fixture_id('NY', 'roles'), p.id from app_public.permissions p where p.code = 'reports.read'$$, $$role_id = tests.fixture_id('NY', 'roles')$$, $$permission_id = tests.fixture_id('CHAIN', 'permissions:1')$$),
    ('refresh_tokens', $$insert into app_public.refresh_tokens (session_id, user_id, hospital_id, expires_at) values (tests.fixture_id('NY', 'session'), tests.fixture_id('NY', 'user:nobody'), '10000000-0000-4000-8000-000000000001', now() + interval '1 day')$$, $$user_agent = 'matrix probe'$$, $$user_agent = 'matrix edit'$$),
    ('password_emails', $$insert into app_public.password_emails (user_id, purpose, sent_to, expires_at) values (tests.fixture_id('NY', 'user:nobody'), 'reset', 'matrix.nobody@hms.test', now() + interval '2 days')$$, $$expires_at > now() + interval '36 hours'$$, $$status = 'revoked'$$),
    ('notifications', $$insert into app_public.notifications (recipient_type, user_id, channel, category, title, body) values ('user', tests.fixture_id('NY', 'user:nobody'), 'in_app', 'account', 'Probe', 'Probe')$$, $$title = 'Probe'$$, $$status = 'read'$$),
    ('audit_logs', $$insert into app_public.audit_logs (action, description) values ('other', 'matrix probe')$$, $$description = 'matrix probe'$$, $$description = 'matrix edit'$$)
    ) v(t, insert_sql, new_row, update_set);
end;
$body$;

create or replace function tests.access_identities() returns void
language plpgsql
as $$
declare
  ny constant uuid := '10000000-0000-4000-8000-000000000001';
  v record;
begin
  create temporary table access_identity (name text primary key, email text not null, hospital_code text not null, permissions text[]);
  grant select on access_identity to public;
  insert into access_identity
  select 'only:' || p.code, 'matrix.only.' || replace(p.code, '.', '_') || '@hms.test', 'NY', array[p.code]
    from tests.permissions p where not p.chain_only
  union all
  select 'without:' || s.held::text, 'matrix.without.' || md5(s.held::text) || '@hms.test', 'NY',
         array(select p.code from tests.permissions p where not p.chain_only and p.code <> all (s.held) order by 1)
    from (select distinct held from tests.expected_access,
            lateral (values (read), (insert), (update), (delete)) c(held)
           where held <> '{*}' and held <> '{}') s
  union all
  select 'all', 'matrix.all@hms.test', 'NY', array(select p.code from tests.permissions p where not p.chain_only order by 1)
  union all
  select 'nobody', 'matrix.nobody@hms.test', 'NY', '{}';
  for v in select * from access_identity loop
    insert into app_public.roles (id, hospital_id, code, name)
    values (tests.fixture_id('NY', 'role:' || v.name), ny, 'mx_' || substr(md5(v.name), 1, 12), 'Matrix ' || v.name);
    insert into app_public.role_permissions (role_id, permission_id)
    select tests.fixture_id('NY', 'role:' || v.name), p.id from app_public.permissions p where p.code = any (v.permissions);
    insert into app_public.users (id, email, first_name, last_name, home_hospital_id)
    values (tests.fixture_id('NY', 'user:' || v.name), v.email, 'Matrix', v.name, ny);
    insert into app_public.user_roles (user_id, role_id, hospital_id)
    values (tests.fixture_id('NY', 'user:' || v.name), tests.fixture_id('NY', 'role:' || v.name), ny);
  end loop;
  insert into access_identity values
    ('other', 'admin.la@hms.test', 'LA', null),
    ('super', 'superadmin@hms.test', 'NY', null);
end;
$$;

/**
 * Rows of the chain-level tables, labelled by the hospital they belong to (for users: where they
 * hold a role; CHAIN: no hospital). The hospitals themselves are NY and LA.
 */
create or replace function tests.access_chain_fixtures() returns void
language plpgsql
as $$
declare
  v record;
  nobody constant uuid := tests.fixture_id('NY', 'user:nobody');
  admin_la constant uuid := (select id from app_public.users where email = 'admin.la@hms.test');
begin
  insert into access_row values
    ('hospitals', 'NY', '10000000-0000-4000-8000-000000000001'),
    ('hospitals', 'LA', '10000000-0000-4000-8000-000000000002');
  insert into app_public.permissions (id, code, module, action, description) values
    (tests.fixture_id('CHAIN', 'permissions:1'), 'matrix.first', 'matrix', 'first', 'A permission of the matrix fixtures.'),
    (tests.fixture_id('CHAIN', 'permissions:2'), 'matrix.second', 'matrix', 'second', 'Another permission of the matrix fixtures.');
  insert into access_row values
    ('permissions', 'CHAIN', tests.fixture_id('CHAIN', 'permissions:1')),
    ('permissions', 'CHAIN', tests.fixture_id('CHAIN', 'permissions:2'));
  for v in select * from (values ('NY', '10000000-0000-4000-8000-000000000001'::uuid), ('LA', '10000000-0000-4000-8000-000000000002'::uuid)) x(l, h) loop
    -- a colleague holding an anchor role (which grants reports.read), and a custom role nobody holds
    insert into app_public.roles (id, hospital_id, code, name) values
      (tests.fixture_id(v.l, 'anchor:role'), v.h, 'mx_anchor_' || lower(v.l), 'Matrix anchor role'),
      (tests.fixture_id(v.l, 'roles'), v.h, 'mx_row_' || lower(v.l), 'Matrix role');
    insert into app_public.role_permissions (id, role_id, permission_id)
    select tests.fixture_id(v.l, 'role_permissions'), tests.fixture_id(v.l, 'anchor:role'), p.id from app_public.permissions p where p.code = 'reports.read';
    insert into app_public.users (id, email, first_name, last_name, home_hospital_id) values
      (tests.fixture_id(v.l, 'users'), 'matrix.colleague.' || lower(v.l) || '@hms.test', 'Matrix', 'Colleague ' || v.l, v.h);
    insert into app_public.user_roles (id, user_id, role_id, hospital_id) values
      (tests.fixture_id(v.l, 'user_roles'), tests.fixture_id(v.l, 'users'), tests.fixture_id(v.l, 'anchor:role'), v.h);
    insert into app_public.password_emails (id, user_id, purpose, sent_to, expires_at) values
      (tests.fixture_id(v.l, 'password_emails'), tests.fixture_id(v.l, 'users'), 'invite', 'matrix.colleague.' || lower(v.l) || '@hms.test', now() + interval '1 day');
    insert into app_public.audit_logs (id, hospital_id, action, description) values
      (tests.fixture_id(v.l, 'audit_logs'), v.h, 'other', 'Matrix audit entry');
  end loop;
  insert into app_public.audit_logs (id, hospital_id, action, description) values
    (tests.fixture_id('CHAIN', 'audit_logs'), null, 'other', 'Matrix chain-level audit entry');
  insert into access_row values ('audit_logs', 'CHAIN', tests.fixture_id('CHAIN', 'audit_logs'));
  -- Own rows: the NY member "nobody" and the LA admin each have a session with a refresh token, a
  -- password email and an in-app notification.
  insert into app_private.sessions (id, user_id, hospital_id, expires_at) values
    (tests.fixture_id('NY', 'session'), nobody, '10000000-0000-4000-8000-000000000001', now() + interval '1 day'),
    (tests.fixture_id('LA', 'session'), admin_la, '10000000-0000-4000-8000-000000000002', now() + interval '1 day');
  insert into app_public.refresh_tokens (id, session_id, user_id, hospital_id, expires_at) values
    (tests.fixture_id('NY', 'refresh_tokens'), tests.fixture_id('NY', 'session'), nobody, '10000000-0000-4000-8000-000000000001', now() + interval '1 day'),
    (tests.fixture_id('LA', 'refresh_tokens'), tests.fixture_id('LA', 'session'), admin_la, '10000000-0000-4000-8000-000000000002', now() + interval '1 day');
  insert into app_public.password_emails (id, user_id, purpose, sent_to, expires_at) values
    (tests.fixture_id('NY', 'password_emails:own'), nobody, 'reset', 'matrix.nobody@hms.test', now() + interval '1 day');
  insert into app_public.notifications (id, hospital_id, recipient_type, user_id, channel, category, title, body) values
    (tests.fixture_id('NY', 'notifications'), '10000000-0000-4000-8000-000000000001', 'user', nobody, 'in_app', 'account', 'Matrix', 'For nobody'),
    (tests.fixture_id('LA', 'notifications'), '10000000-0000-4000-8000-000000000002', 'user', admin_la, 'in_app', 'account', 'Matrix', 'For the LA admin');
  insert into access_row values ('password_emails', 'OWN', tests.fixture_id('NY', 'password_emails:own'));
end;
$$;

/** The anchors and matrix rows of one hospital (see tests.access_fixtures). */
create or replace function tests.access_hospital_fixtures(h uuid, l text) returns void
language plpgsql
as $$
declare
  f constant text := 'MX' || l;   -- code prefix of this hospital's fixtures
begin
  -- Foundation -------------------------------------------------------------------------------
  insert into app_public.departments (id, hospital_id, code, name, accepts_appointments) values
    (tests.fixture_id(l, 'anchor:department'), h, f || 'DEP', 'Matrix anchor department', true),
    (tests.fixture_id(l, 'departments'), h, f || 'ROW', 'Matrix department', false);
  insert into app_public.tax_configurations (id, hospital_id, code, name, tax_type, applies_to, rate_percent) values
    (tests.fixture_id(l, 'tax_configurations'), h, f || '_TAX', 'Matrix tax', 'vat', 'other', 3.00);
  -- hospital_settings: the row each hospital is provisioned with
  insert into access_row values ('hospital_settings', l, (select id from app_public.hospital_settings where hospital_id = h));
  insert into app_public.id_sequences (id, hospital_id, document_type, scope, prefix, pattern) values
    (tests.fixture_id(l, 'id_sequences'), h, 'queue_token', f || 'SEQ', 'MXQ', '{PREFIX}-{SEQ}');

  -- People ------------------------------------------------------------------------------------
  insert into app_public.users (id, email, first_name, last_name, home_hospital_id) values
    (tests.fixture_id(l, 'anchor:doctor_user'), 'matrix.doctor.' || lower(l) || '@hms.test', 'Matrix', 'Doctor ' || l, h),
    (tests.fixture_id(l, 'anchor:doctor_user2'), 'matrix.doctor2.' || lower(l) || '@hms.test', 'Matrix', 'Second doctor ' || l, h),
    (tests.fixture_id(l, 'anchor:probe_user'), 'matrix.probe-user.' || lower(l) || '@hms.test', 'Matrix', 'Probe user ' || l, h);
  insert into app_public.doctors (id, hospital_id, user_id, department_id, registration_number, specialization) values
    (tests.fixture_id(l, 'anchor:doctor'), h, tests.fixture_id(l, 'anchor:doctor_user'), tests.fixture_id(l, 'anchor:department'), f || '-REG-1', 'Cardiology'),
    (tests.fixture_id(l, 'doctors'), h, tests.fixture_id(l, 'anchor:doctor_user2'), tests.fixture_id(l, 'anchor:department'), f || '-REG-2', 'Cardiology');
  insert into app_public.doctor_schedules (id, hospital_id, doctor_id, day_of_week, session, start_time, end_time, slot_minutes) values
    (tests.fixture_id(l, 'doctor_schedules'), h, tests.fixture_id(l, 'anchor:doctor'), 1, 'morning', '08:00', '12:00', 30);
  insert into app_public.doctor_leaves (id, hospital_id, doctor_id, leave_type, start_date, end_date) values
    (tests.fixture_id(l, 'doctor_leaves'), h, tests.fixture_id(l, 'anchor:doctor'), 'training', current_date + 200, current_date + 201);
  insert into app_public.doctor_fees (id, hospital_id, doctor_id, visit_type, amount) values
    (tests.fixture_id(l, 'doctor_fees'), h, tests.fixture_id(l, 'anchor:doctor'), 'home_visit', 150.00);
  insert into app_public.patients (id, hospital_id, first_name, last_name, date_of_birth, gender) values
    (tests.fixture_id(l, 'anchor:patient'), h, 'Matrix', 'Anchor ' || l, date '1970-01-01', 'female'),
    (tests.fixture_id(l, 'anchor:patient2'), h, 'Matrix', 'Second anchor ' || l, date '1972-01-01', 'female'),
    (tests.fixture_id(l, 'patients'), h, 'Matrix', 'Row ' || l, date '1971-01-01', 'male');
  insert into app_public.patient_consents (id, hospital_id, patient_id, consent_type) values
    (tests.fixture_id(l, 'patient_consents'), h, tests.fixture_id(l, 'anchor:patient'), 'research');
  insert into app_public.patient_documents (id, hospital_id, patient_id, document_type, title, file_name, file_url) values
    (tests.fixture_id(l, 'patient_documents'), h, tests.fixture_id(l, 'anchor:patient'), 'other', 'Matrix document', 'matrix.pdf', 'https://files.hms.test/matrix.pdf');
  insert into app_public.id_cards (id, hospital_id, holder_type, patient_id, card_type) values
    (tests.fixture_id(l, 'id_cards'), h, 'patient', tests.fixture_id(l, 'anchor:patient'), 'patient_health_card');

  -- Appointments ------------------------------------------------------------------------------
  insert into app_public.appointments (id, hospital_id, patient_id, doctor_id, department_id, scheduled_start, scheduled_end) values
    (tests.fixture_id(l, 'anchor:appointment'), h, tests.fixture_id(l, 'anchor:patient'), tests.fixture_id(l, 'anchor:doctor'),
     tests.fixture_id(l, 'anchor:department'), date_trunc('day', now()) + interval '300 days 8 hours', date_trunc('day', now()) + interval '300 days 8 hours 30 minutes'),
    (tests.fixture_id(l, 'appointments'), h, tests.fixture_id(l, 'anchor:patient'), tests.fixture_id(l, 'anchor:doctor'),
     tests.fixture_id(l, 'anchor:department'), date_trunc('day', now()) + interval '301 days 8 hours', date_trunc('day', now()) + interval '301 days 8 hours 30 minutes');
  insert into app_public.appointment_status_log (id, hospital_id, appointment_id, from_status, to_status) values
    (tests.fixture_id(l, 'appointment_status_log'), h, tests.fixture_id(l, 'anchor:appointment'), 'booked', 'confirmed');
  insert into app_public.appointment_queue (id, hospital_id, queue_date, department_id, patient_id) values
    (tests.fixture_id(l, 'appointment_queue'), h, current_date, tests.fixture_id(l, 'anchor:department'), tests.fixture_id(l, 'anchor:patient'));

  -- Prescriptions and lab ---------------------------------------------------------------------
  insert into app_public.prescriptions (id, hospital_id, patient_id, doctor_id) values
    (tests.fixture_id(l, 'anchor:prescription'), h, tests.fixture_id(l, 'anchor:patient'), tests.fixture_id(l, 'anchor:doctor')),
    (tests.fixture_id(l, 'prescriptions'), h, tests.fixture_id(l, 'anchor:patient'), tests.fixture_id(l, 'anchor:doctor'));
  insert into app_public.prescription_items (id, hospital_id, prescription_id, line_number, drug_name, quantity_prescribed) values
    (tests.fixture_id(l, 'prescription_items'), h, tests.fixture_id(l, 'anchor:prescription'), 1, 'Matrixol 5 mg', 10);
  insert into app_public.prescription_templates (id, hospital_id, name) values
    (tests.fixture_id(l, 'prescription_templates'), h, 'Matrix template ' || l);
  insert into app_public.prescription_versions (id, hospital_id, prescription_id, version, snapshot) values
    (tests.fixture_id(l, 'prescription_versions'), h, tests.fixture_id(l, 'anchor:prescription'), 7, '{"matrix": true}');
  insert into app_public.lab_orders (id, hospital_id, patient_id, doctor_id, test_name, test_category) values
    (tests.fixture_id(l, 'lab_orders'), h, tests.fixture_id(l, 'anchor:patient'), tests.fixture_id(l, 'anchor:doctor'), 'Matrix panel', 'biochemistry');

  -- Medicines, stock and pharmacy -------------------------------------------------------------
  insert into app_public.medicines (id, hospital_id, item_code, generic_name, dosage_form, base_unit, selling_price) values
    (tests.fixture_id(l, 'anchor:medicine'), h, f || '-MED-A', 'Matrixol anchor', 'tablet', 'tablet', 2.00),
    (tests.fixture_id(l, 'medicines'), h, f || '-MED-R', 'Matrixol row', 'tablet', 'tablet', 2.00);
  insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, expiry_date) values
    (tests.fixture_id(l, 'anchor:batch'), h, tests.fixture_id(l, 'anchor:medicine'), f || '-B-A', current_date + 400),
    (tests.fixture_id(l, 'medicine_batches'), h, tests.fixture_id(l, 'anchor:medicine'), f || '-B-R', current_date + 400);
  insert into app_public.stock_movements (id, hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, reason) values
    (tests.fixture_id(l, 'stock_movements'), h, 'opening_balance', 'medicine', tests.fixture_id(l, 'anchor:medicine'), tests.fixture_id(l, 'anchor:batch'), 100, 0, 'matrix stock');
  insert into app_public.pharmacy_dispensing (id, hospital_id, patient_id, dispensing_type) values
    (tests.fixture_id(l, 'anchor:dispensing'), h, tests.fixture_id(l, 'anchor:patient'), 'otc'),
    (tests.fixture_id(l, 'pharmacy_dispensing'), h, tests.fixture_id(l, 'anchor:patient'), 'otc');
  insert into app_public.pharmacy_dispensing_items (id, hospital_id, dispensing_id, medicine_id, batch_id, quantity, unit_price, expiry_date) values
    (tests.fixture_id(l, 'anchor:dispensing_item'), h, tests.fixture_id(l, 'anchor:dispensing'), tests.fixture_id(l, 'anchor:medicine'),
     tests.fixture_id(l, 'anchor:batch'), 5, 2.00, current_date + 400),
    (tests.fixture_id(l, 'anchor:dispensing_item2'), h, tests.fixture_id(l, 'anchor:dispensing'), tests.fixture_id(l, 'anchor:medicine'),
     tests.fixture_id(l, 'anchor:batch'), 5, 2.00, current_date + 400),
    (tests.fixture_id(l, 'pharmacy_dispensing_items'), h, tests.fixture_id(l, 'anchor:dispensing'), tests.fixture_id(l, 'anchor:medicine'),
     tests.fixture_id(l, 'anchor:batch'), 1, 2.00, current_date + 400);
  insert into app_public.pharmacy_returns (id, hospital_id, dispensing_id, reason) values
    (tests.fixture_id(l, 'anchor:return'), h, tests.fixture_id(l, 'anchor:dispensing'), 'patient_request'),
    (tests.fixture_id(l, 'pharmacy_returns'), h, tests.fixture_id(l, 'anchor:dispensing'), 'patient_request');
  insert into app_public.pharmacy_return_items (id, hospital_id, return_id, dispensing_item_id, medicine_id, batch_id, quantity, unit_price) values
    (tests.fixture_id(l, 'pharmacy_return_items'), h, tests.fixture_id(l, 'anchor:return'), tests.fixture_id(l, 'anchor:dispensing_item'),
     tests.fixture_id(l, 'anchor:medicine'), tests.fixture_id(l, 'anchor:batch'), 1, 2.00);

  -- Optical ------------------------------------------------------------------------------------
  insert into app_public.optical_products (id, hospital_id, sku, name, product_type, selling_price) values
    (tests.fixture_id(l, 'anchor:optical_product'), h, f || '-OPT-A', 'Matrix case anchor', 'accessory', 5.00),
    (tests.fixture_id(l, 'optical_products'), h, f || '-OPT-R', 'Matrix case row', 'accessory', 5.00);
  insert into app_public.optical_prescriptions (id, hospital_id, patient_id, doctor_id, od_sphere, os_sphere) values
    (tests.fixture_id(l, 'optical_prescriptions'), h, tests.fixture_id(l, 'anchor:patient'), tests.fixture_id(l, 'anchor:doctor'), -1.00, -1.25);
  insert into app_public.optical_orders (id, hospital_id, patient_id) values
    (tests.fixture_id(l, 'anchor:optical_order'), h, tests.fixture_id(l, 'anchor:patient')),
    (tests.fixture_id(l, 'optical_orders'), h, tests.fixture_id(l, 'anchor:patient'));
  -- The owner is a trusted writer: the line keeps the total it is given.
  insert into app_public.optical_order_items (id, hospital_id, optical_order_id, item_type, description, unit_price, line_total) values
    (tests.fixture_id(l, 'optical_order_items'), h, tests.fixture_id(l, 'anchor:optical_order'), 'service', 'Matrix fitting', 10.00, 10.00);
  insert into app_public.optical_repairs (id, hospital_id, patient_id, item_description, repair_type, problem_description) values
    (tests.fixture_id(l, 'optical_repairs'), h, tests.fixture_id(l, 'anchor:patient'), 'Matrix frame', 'screw', 'Loose screw');

  -- Billing -------------------------------------------------------------------------------------
  insert into app_public.invoices (id, hospital_id, patient_id, currency_code) values
    (tests.fixture_id(l, 'anchor:draft_invoice'), h, tests.fixture_id(l, 'anchor:patient'), 'USD'),
    (tests.fixture_id(l, 'anchor:issued_invoice'), h, tests.fixture_id(l, 'anchor:patient'), 'USD'),
    (tests.fixture_id(l, 'invoices'), h, tests.fixture_id(l, 'anchor:patient'), 'USD');
  insert into app_public.invoice_items (id, hospital_id, invoice_id, line_number, item_type, description, unit_price) values
    (tests.fixture_id(l, 'anchor:issued_invoice_item'), h, tests.fixture_id(l, 'anchor:issued_invoice'), 1, 'service', 'Matrix service', 500.00),
    (tests.fixture_id(l, 'invoice_items'), h, tests.fixture_id(l, 'anchor:draft_invoice'), 1, 'service', 'Matrix line', 10.00);
  update app_public.invoices set status = 'issued', issued_at = now() where id = tests.fixture_id(l, 'anchor:issued_invoice');
  -- The anchor payment is completed (refunds lean on it); the matrix's own row is pending, the
  -- state in which a payment may still be edited or removed (a completed one is locked).
  insert into app_public.payments (id, hospital_id, invoice_id, patient_id, amount, payment_method, status) values
    (tests.fixture_id(l, 'anchor:payment'), h, tests.fixture_id(l, 'anchor:issued_invoice'), tests.fixture_id(l, 'anchor:patient'), 100.00, 'cash', 'completed'),
    (tests.fixture_id(l, 'payments'), h, tests.fixture_id(l, 'anchor:issued_invoice'), tests.fixture_id(l, 'anchor:patient'), 10.00, 'cash', 'pending');
  insert into app_public.refunds (id, hospital_id, invoice_id, payment_id, patient_id, amount, refund_method, reason) values
    (tests.fixture_id(l, 'refunds'), h, tests.fixture_id(l, 'anchor:issued_invoice'), tests.fixture_id(l, 'anchor:payment'),
     tests.fixture_id(l, 'anchor:patient'), 5.00, 'cash', 'overbilling');
  insert into app_public.credit_notes (id, hospital_id, invoice_id, patient_id, amount, reason) values
    (tests.fixture_id(l, 'credit_notes'), h, tests.fixture_id(l, 'anchor:issued_invoice'), tests.fixture_id(l, 'anchor:patient'), 5.00, 'Matrix credit');
  insert into app_public.daily_settlements (id, hospital_id, settlement_date) values
    (tests.fixture_id(l, 'daily_settlements'), h, current_date - 900);

  -- Insurance -----------------------------------------------------------------------------------
  insert into app_public.insurance_providers (id, hospital_id, code, name) values
    (tests.fixture_id(l, 'anchor:insurance_provider'), h, f || '_INS_A', 'Matrix insurer anchor'),
    (tests.fixture_id(l, 'insurance_providers'), h, f || '_INS_R', 'Matrix insurer row');
  insert into app_public.insurance_policies (id, hospital_id, patient_id, provider_id, policy_number, valid_from, is_primary) values
    (tests.fixture_id(l, 'anchor:insurance_policy'), h, tests.fixture_id(l, 'anchor:patient'), tests.fixture_id(l, 'anchor:insurance_provider'), f || '-POL-A', current_date - 10, true),
    (tests.fixture_id(l, 'insurance_policies'), h, tests.fixture_id(l, 'anchor:patient'), tests.fixture_id(l, 'anchor:insurance_provider'), f || '-POL-R', current_date - 10, false);
  insert into app_public.pre_authorizations (id, hospital_id, policy_id, patient_id, provider_id, procedure_description, requested_amount) values
    (tests.fixture_id(l, 'pre_authorizations'), h, tests.fixture_id(l, 'anchor:insurance_policy'), tests.fixture_id(l, 'anchor:patient'),
     tests.fixture_id(l, 'anchor:insurance_provider'), 'Matrix procedure', 100.00);
  insert into app_public.insurance_claims (id, hospital_id, invoice_id, policy_id, provider_id, patient_id, claimed_amount) values
    (tests.fixture_id(l, 'insurance_claims'), h, tests.fixture_id(l, 'anchor:issued_invoice'), tests.fixture_id(l, 'anchor:insurance_policy'),
     tests.fixture_id(l, 'anchor:insurance_provider'), tests.fixture_id(l, 'anchor:patient'), 50.00);

  -- Supply chain and stock operations -----------------------------------------------------------
  insert into app_public.suppliers (id, hospital_id, code, name) values
    (tests.fixture_id(l, 'anchor:supplier'), h, f || '-SUP-A', 'Matrix supplier anchor'),
    (tests.fixture_id(l, 'suppliers'), h, f || '-SUP-R', 'Matrix supplier row');
  insert into app_public.purchase_orders (id, hospital_id, supplier_id) values
    (tests.fixture_id(l, 'anchor:purchase_order'), h, tests.fixture_id(l, 'anchor:supplier')),
    (tests.fixture_id(l, 'purchase_orders'), h, tests.fixture_id(l, 'anchor:supplier'));
  insert into app_public.purchase_order_items (id, hospital_id, purchase_order_id, line_number, item_type, description, quantity_ordered, unit_cost) values
    (tests.fixture_id(l, 'purchase_order_items'), h, tests.fixture_id(l, 'anchor:purchase_order'), 1, 'consumable', 'Matrix gloves', 10, 1.00);
  insert into app_public.goods_receipt_notes (id, hospital_id, supplier_id) values
    (tests.fixture_id(l, 'anchor:grn'), h, tests.fixture_id(l, 'anchor:supplier')),
    (tests.fixture_id(l, 'goods_receipt_notes'), h, tests.fixture_id(l, 'anchor:supplier'));
  insert into app_public.grn_items (id, hospital_id, grn_id, line_number, item_type, description, quantity_received, unit_cost) values
    (tests.fixture_id(l, 'grn_items'), h, tests.fixture_id(l, 'anchor:grn'), 1, 'consumable', 'Matrix gloves', 10, 1.00);
  insert into app_public.stock_adjustments (id, hospital_id, item_type, medicine_id, batch_id, quantity_change, reason) values
    (tests.fixture_id(l, 'stock_adjustments'), h, 'medicine', tests.fixture_id(l, 'anchor:medicine'), tests.fixture_id(l, 'anchor:batch'), -1, 'damage');
  insert into app_public.cycle_counts (id, hospital_id) values
    (tests.fixture_id(l, 'anchor:cycle_count'), h),
    (tests.fixture_id(l, 'cycle_counts'), h);
  insert into app_public.cycle_count_items (id, hospital_id, cycle_count_id, item_type, medicine_id, batch_id, system_quantity) values
    (tests.fixture_id(l, 'cycle_count_items'), h, tests.fixture_id(l, 'anchor:cycle_count'), 'medicine', tests.fixture_id(l, 'anchor:medicine'),
     tests.fixture_id(l, 'anchor:batch'), 100);

  -- Notifications -------------------------------------------------------------------------------
  insert into app_public.notification_templates (id, hospital_id, code, name, channel, category, body) values
    (tests.fixture_id(l, 'notification_templates'), h, 'matrix_' || lower(l), 'Matrix template', 'sms', 'account', 'Matrix says hello');
  insert into app_public.notifications (id, hospital_id, recipient_type, patient_id, channel, category, title, body) values
    (tests.fixture_id(l, 'anchor:notification'), h, 'patient', tests.fixture_id(l, 'anchor:patient'), 'sms', 'account', 'Matrix', 'Matrix anchor');
  insert into app_public.notification_queue (id, hospital_id, notification_id, channel, recipient_address) values
    (tests.fixture_id(l, 'notification_queue'), h, tests.fixture_id(l, 'anchor:notification'), 'sms', '+1 212-555-0199');
end;
$$;

grant execute on all functions in schema tests to public;
