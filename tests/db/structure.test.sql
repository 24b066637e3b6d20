-- Structure of the hms_db schema, checked from the catalog so that a new table is covered
-- without editing this file: the tables and RPCs of app_public, conventions on every table and column.
begin;
select plan(43);

-- The tables and the RPCs of the API change only on purpose: the tables are the golden list
-- (tests/support/access-model.ts, tests.expected_access), the functions are written out here.
select tables_are('app_public', array(select table_name::name from tests.expected_access order by 1),
  'app_public holds exactly the tables of the golden access model');

select functions_are('app_public', array[
  -- identity
  'login', 'refresh', 'logout', 'me', 'switch_hospital', 'change_password', 'update_my_profile',
  'request_password_reset', 'set_password_with_token',
  -- staff accounts
  'create_staff_account', 'invite_user',
  -- numbering
  'check_document_number',
  -- search (the access rule applied inside, so the trigram indexes answer)
  'search_patients', 'search_medicines', 'search_suppliers',
  -- appointments
  'available_slots', 'book_appointment', 'reschedule_appointment', 'cancel_appointment',
  'check_in_appointment', 'start_appointment', 'complete_appointment', 'mark_no_show',
  -- prescriptions
  'create_prescription', 'update_prescription', 'add_prescription_item', 'remove_prescription_item',
  'finalize_prescription', 'amend_prescription', 'cancel_prescription', 'create_prescription_template',
  'apply_prescription_template',
  -- lab
  'order_lab_test', 'collect_sample', 'start_lab_test', 'record_lab_result', 'report_lab_result',
  'cancel_lab_order',
  -- pharmacy
  'dispense_prescription', 'dispense_otc', 'return_dispensed_items', 'approve_pharmacy_return',
  'reject_pharmacy_return',
  -- doctors
  'approve_doctor_leave', 'reject_doctor_leave',
  -- optical
  'create_optical_prescription', 'create_optical_order', 'confirm_optical_order', 'send_to_lab',
  'mark_order_in_production', 'mark_order_ready', 'deliver_optical_order', 'cancel_optical_order',
  'receive_repair', 'update_repair_status',
  -- billing
  'create_invoice', 'add_invoice_item', 'issue_invoice', 'void_invoice', 'record_payment',
  'request_refund', 'approve_refund', 'reject_refund', 'process_refund', 'issue_credit_note',
  'void_credit_note', 'settle_day', 'reopen_day',
  -- insurance
  'verify_insurance_policy', 'request_pre_authorization', 'decide_pre_authorization', 'create_claim', 'submit_claim',
  'decide_claim', 'record_claim_payment', 'cancel_claim',
  -- supply chain and stock
  'create_purchase_order', 'approve_purchase_order', 'send_purchase_order', 'cancel_purchase_order',
  'receive_goods', 'request_stock_adjustment', 'approve_stock_adjustment', 'reject_stock_adjustment',
  'start_cycle_count', 'record_count', 'complete_cycle_count', 'approve_cycle_count'
], 'app_public exposes exactly these functions (the RPCs of the API)');

-- Views are read models; staff_directory and chain_audit_logs run with their owner's rights on
-- purpose (the WHERE is the access rule, see their migrations), every other one would be security_invoker.
select views_are('app_public', array['chain_audit_logs', 'staff_directory'], 'app_public holds exactly these views');

-- Every text column is bounded by the kit's <table>_<column>_max_length (422 HMS_VALUE_TOO_LONG).
select is(array(select format('%s.%s', c.relname, a.attname)
                  from pg_attribute a join pg_class c on c.oid = a.attrelid
                 where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
                   and a.atttypid in ('text'::regtype, 'varchar'::regtype, 'citext'::regtype) and a.attgenerated = ''
                   and not exists (select 1 from pg_constraint k
                                    where k.conrelid = c.oid and k.contype = 'c' and k.conkey = array[a.attnum]
                                      and k.conname = left(c.relname || '_' || a.attname || '_max_length', 63)
                                      and pg_get_constraintdef(k.oid) ~ ('char_length\(\(?' || a.attname || '(\)::text)?\) <= \d+'))
                 order by 1),
          '{}'::text[], 'every text column has a maximum length (a generated one: its sources'')');
select is(array(select format('%s(%s)', p.proname, a.name)
                  from pg_proc p
                 cross join lateral unnest(p.proargnames, coalesce(p.proallargtypes, p.proargtypes::oid[]),
                                           coalesce(p.proargmodes, array_fill('i'::"char", array[p.pronargs::integer]))) as a(name, type_oid, mode)
                 where p.pronamespace = 'app_public'::regnamespace and a.mode in ('i', 'b')
                   and a.type_oid in ('text'::regtype, 'varchar'::regtype, 'citext'::regtype)
                   and not exists (select 1 from app_hidden.rpc_parameter_limits l where l.function_name = p.proname and l.parameter_name = a.name)
                 order by 1),
          '{}'::text[], 'every text parameter of an RPC has a maximum length the front enforces');

select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and obj_description(c.oid, 'pg_class') is null order by 1),
  '{}'::text[], 'every table has a comment');

select is(
  array(select c.relname || '.' || a.attname from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
           and col_description(c.oid, a.attnum) is null order by 1),
  '{}'::text[], 'every column has a comment');

select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and not exists (select 1 from pg_constraint k join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
                            where k.conrelid = c.oid and k.contype = 'p'
                              -- a partitioned table's key also holds its partition column (PostgreSQL requires it)
                              and (array_length(k.conkey, 1) = 1
                                   or (c.relkind = 'p' and array_length(k.conkey, 1) = 2
                                       and k.conkey[2] = (select pt.partattrs[0] from pg_partitioned_table pt where pt.partrelid = c.oid)))
                              and a.attname = 'id' and a.atttypid = 'uuid'::regtype
                              and pg_get_expr((select d.adbin from pg_attrdef d where d.adrelid = c.oid and d.adnum = a.attnum), c.oid) = 'gen_random_uuid()')
         order by 1),
  '{}'::text[], 'every table has a uuid primary key "id" defaulting to gen_random_uuid() (with the partition column, if partitioned)');

-- Chain-level tables (no hospital_id or a nullable one, documented in their comments).
select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and c.relname not in ('hospitals', 'users', 'roles', 'permissions', 'role_permissions', 'user_roles', 'password_emails', 'audit_logs')
           and not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'hospital_id'
                             and a.atttypid = 'uuid'::regtype and a.attnotnull)
         order by 1),
  '{}'::text[], 'every tenant table has hospital_id uuid not null');

select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'hospital_id')
           and not exists (select 1 from pg_constraint k join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
                            where k.conrelid = c.oid and k.contype = 'f' and array_length(k.conkey, 1) = 1
                              and a.attname = 'hospital_id' and k.confrelid = 'app_public.hospitals'::regclass)
           and c.relname <> 'hospitals'
         order by 1),
  '{}'::text[], 'every hospital_id references hospitals');

-- A tenant table that others reference exposes (hospital_id, id), and every reference to a
-- tenant table from a tenant table is composite: a row cannot point into another hospital.
select is(
  array(select k.conrelid::regclass || ' ' || k.conname from pg_constraint k
          join pg_class p on p.oid = k.confrelid
         where k.contype = 'f' and k.connamespace = 'app_public'::regnamespace
           and p.relnamespace = 'app_public'::regnamespace
           and k.confrelid <> 'app_public.hospitals'::regclass
           -- a refresh token's hospital_id is the session's *active* hospital, which
           -- switch_hospital changes: its successor may belong to another hospital.
           and k.conrelid <> 'app_public.refresh_tokens'::regclass
           and exists (select 1 from pg_attribute a where a.attrelid = k.conrelid and a.attname = 'hospital_id' and a.attnotnull)
           and exists (select 1 from pg_attribute a where a.attrelid = k.confrelid and a.attname = 'hospital_id' and a.attnotnull)
           and not (select array_agg(a.attname::text) from pg_attribute a where a.attrelid = k.conrelid and a.attnum = any (k.conkey)) @> array['hospital_id']
         order by 1),
  '{}'::text[], 'references between tenant tables include hospital_id (composite foreign keys)');

select is(
  array(select k.conrelid::regclass || ' ' || k.conname from pg_constraint k
         where k.contype = 'f' and k.connamespace in ('app_public'::regnamespace, 'app_private'::regnamespace)
           and not exists (select 1 from pg_attribute a where a.attrelid = k.conrelid and a.attnum = k.conkey[1]
                            and a.attname in ('created_by', 'updated_by') and array_length(k.conkey, 1) = 1)
           and not exists (select 1 from pg_index i
                            where i.indrelid = k.conrelid
                              and (i.indkey::int2[])[0:array_length(k.conkey, 1) - 1] @> k.conkey
                              and (i.indkey::int2[])[0:array_length(k.conkey, 1) - 1] <@ k.conkey)
         order by 1),
  '{}'::text[], 'every foreign key (but created_by/updated_by) is covered by an index on its leading columns');

select is(
  array(select k.conrelid::regclass || ' ' || k.conname from pg_constraint k
         where k.contype = 'f' and k.connamespace = 'app_public'::regnamespace and k.confdeltype = 'a'
         order by 1),
  '{}'::text[], 'no foreign key uses the implicit "no action" on delete: each chose restrict, cascade or set null');

select is(
  array(select c.relname || '.' || a.attname from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace in ('app_public'::regnamespace, 'app_private'::regnamespace) and c.relkind in ('r', 'p')
           and a.attnum > 0 and not a.attisdropped and a.atttypid = 'timestamp'::regtype order by 1),
  '{}'::text[], 'instants are timestamptz (no timestamp without time zone)');

select is(
  array(select c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
          from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
           and a.attname ~ '(amount|price|_total|total_|_cost|cost_|fee|balance|_value)$'
           and a.attname !~ '(percent|quantity|_number|_days|strength)'
           and a.atttypid = 'numeric'::regtype and format_type(a.atttypid, a.atttypmod) <> 'numeric(12,2)'
         order by 1),
  '{}'::text[], 'money is numeric(12,2)');

select is(
  array(select c.relname || '.' || a.attname from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
           and a.atttypid in ('real'::regtype, 'double precision'::regtype, 'money'::regtype) order by 1),
  '{}'::text[], 'no float or money types (exact numerics only)');

select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p') and c.relname <> 'audit_logs'
           and (select count(*) from pg_attribute a where a.attrelid = c.oid and not a.attisdropped
                  and a.attname in ('created_at', 'updated_at', 'created_by', 'updated_by')) <> 4
         order by 1),
  '{}'::text[], 'every table (but the immutable audit_logs) has created_at, updated_at, created_by, updated_by');

select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'updated_at')
           and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = '_100_stamp'
                            and t.tgfoid = 'app_hidden.tg__stamp'::regproc)
         order by 1),
  '{}'::text[], 'every table with updated_at has the _100_stamp trigger');

select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'is_deleted')
           and (not exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'deleted_at' and a.atttypid = 'timestamptz'::regtype)
             or not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = '_110_soft_delete'))
         order by 1),
  '{}'::text[], 'soft-deletable tables have deleted_at and the _110_soft_delete trigger');

select is(
  array(select t from unnest(array['hospitals', 'departments', 'users', 'patients', 'patient_documents', 'doctors',
                                    'appointments', 'prescriptions', 'lab_orders', 'medicines', 'pharmacy_dispensing',
                                    'pharmacy_returns', 'optical_products', 'optical_prescriptions', 'optical_orders',
                                    'optical_repairs', 'invoices', 'payments', 'refunds', 'credit_notes',
                                    'insurance_providers', 'insurance_policies', 'insurance_claims', 'pre_authorizations',
                                    'suppliers', 'purchase_orders', 'goods_receipt_notes', 'stock_adjustments', 'cycle_counts']) t
         where not exists (select 1 from pg_attribute a where a.attrelid = ('app_public.' || t)::regclass and a.attname = 'is_deleted')),
  '{}'::text[], 'the major entities are soft-deletable (is_deleted/deleted_at)');

select is(
  array(select c.relname || '.' || a.attname from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
           and a.atttypid = 'text'::regtype
           and a.attname ~ '(^status$|_status$|_type$|^priority$)'
           and not exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype in ('c', 'f') and a.attnum = any (k.conkey))
         order by 1),
  '{}'::text[], 'every status, type and priority column is a closed set (a named CHECK, or a key of a registry)');

select ok(
  (select count(*) from pg_indexes where schemaname = 'app_public') >= 150,
  'far more than the seed''s 25 indexes cover the access paths');

-- The access paths staff use most (the issue names them); pinned so a refactor cannot drop them.
select has_index('app_public', 'patients', 'idx_patients__hospital_id_full_name_trgm', 'patient search by name (trigram)');
select has_index('app_public', 'patients', 'idx_patients__hospital_id_phone_primary_trgm', 'patient search by phone (trigram)');
select has_index('app_public', 'patients', 'idx_patients__hospital_id_mrn_trgm', 'patient search by MRN (trigram)');
-- A search runs in one hospital: a chain-wide trigram index would hand the heap every hospital's
-- matches to throw away (see migration 000015).
select is(array(select i.indexrelid::regclass::text from pg_index i join pg_class t on t.oid = i.indrelid
                 where t.relnamespace = 'app_public'::regnamespace
                   and exists (select 1 from pg_attribute a where a.attrelid = t.oid and a.attname = 'hospital_id')
                   and exists (select 1 from unnest(i.indclass) c join pg_opclass o on o.oid = c where o.opcname = 'gin_trgm_ops')
                   and (i.indkey[0] = 0 or (select attname from pg_attribute where attrelid = t.oid and attnum = i.indkey[0]) <> 'hospital_id')
                 order by 1),
          '{}'::text[], 'every trigram index of a hospital table starts with hospital_id');
-- PostgREST's is_deleted=is.false does not prove "not is_deleted": a list index with that predicate
-- would serve no list (migration 000017). Unique indexes and the indexes of exclusion constraints
-- keep it: there it is the rule (unique, or not overlapping, among the rows not deleted).
select is(array(select i.indexrelid::regclass::text from pg_index i join pg_class t on t.oid = i.indrelid
                 where t.relnamespace = 'app_public'::regnamespace and not i.indisunique
                   and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
                   and pg_get_expr(i.indpred, i.indrelid) ~ 'is_deleted' order by 1),
          '{}'::text[], 'no list index is partial on is_deleted');
select has_index('app_public', 'appointments', 'idx_appointments__hospital_id_doctor_id_scheduled_start', 'a doctor''s appointments of a day');
select has_index('app_public', 'medicine_batches', 'idx_medicine_batches__hospital_id_medicine_id_expiry_date', 'batches by medicine and expiry (first-expiry-first-out)');
select has_index('app_public', 'appointment_queue', 'idx_appointment_queue__hospital_id_queue_date_status', 'the queue of a hospital and day');
select has_index('app_public', 'invoices', 'idx_invoices__hospital_id_patient_id_status', 'invoices by patient and status');

select is(
  array(select p.oid::regprocedure::text from pg_proc p
         where p.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
           and p.prosecdef
           and not exists (select 1 from unnest(p.proconfig) s where s like 'search_path=%')
         order by 1),
  '{}'::text[], 'every security definer function pins its search_path');

select is(
  array(select c.relname::text from pg_class c where c.relnamespace = 'app_private'::regnamespace and c.relkind in ('r', 'p') order by 1),
  array['instance_settings', 'login_failures', 'password_email_tokens', 'refresh_token_hashes', 'sessions', 'user_secrets'],
  'secrets live in app_private');

select is(
  array(select c.relname || '.' || a.attname from pg_class c join pg_attribute a on a.attrelid = c.oid
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
           and a.attname ~ '(^password$|password_hash|secret|token_hash|_hash$)' order by 1),
  '{}'::text[], 'no password, secret or token hash column in app_public');

select ok(
  not has_schema_privilege('hms_staff', 'app_private', 'usage')
  and not has_schema_privilege('hms_anonymous', 'app_private', 'usage'),
  'app_private is unreachable by the API roles');

select ok(
  (select bool_and(has_table_privilege('hms_staff', c.oid, 'select')) from pg_class c
    where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p'))
  and (select bool_and(not has_table_privilege('hms_anonymous', c.oid, 'select')) from pg_class c
    where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')),
  'staff may read the business tables; anonymous may not');

-- Row-level security (the isolation matrix in security/ tests what the policies do)
select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and not (c.relrowsecurity and c.relforcerowsecurity) order by 1),
  '{}'::text[], 'row-level security is enabled and forced on every app_public table');

select is(
  array(select c.relname::text from pg_class c
         where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
           and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'hospital_id' and a.attnotnull)
           and c.relname <> 'refresh_tokens'
           and not exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'tenant_isolation'
                            and not p.polpermissive and p.polcmd = '*')
         order by 1),
  '{}'::text[], 'every hospital-scoped table has the restrictive tenant_isolation policy for all commands');

select is(
  array(select c.relname || '.' || p.polname from pg_policy p join pg_class c on c.oid = p.polrelid
         where c.relnamespace = 'app_public'::regnamespace and obj_description(p.oid, 'pg_policy') is null order by 1),
  '{}'::text[], 'every policy carries a comment with its rule');

-- Helpers in policies are wrapped in (select …): evaluated once per statement, never per row.
select is(
  array(select c.relname || '.' || p.polname from pg_policy p join pg_class c on c.oid = p.polrelid
         where c.relnamespace = 'app_public'::regnamespace
           and (select count(*) from regexp_matches(coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''), 'app_hidden\.', 'g'))
             <> (select count(*) from regexp_matches(coalesce(pg_get_expr(p.polqual, p.polrelid), '') || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), ''), 'SELECT app_hidden\.', 'g'))
         order by 1),
  '{}'::text[], 'every helper a policy calls is wrapped in (select …)');

select is(
  array(select table_name || '.' || column_name || ' ' || privilege_type
          from information_schema.column_privileges
         where table_schema = 'app_public' and grantee in ('hms_staff', 'hms_anonymous')
           and privilege_type in ('INSERT', 'UPDATE')
           and (column_name in ('hospital_id', 'created_at', 'updated_at', 'created_by', 'updated_by', 'is_deleted', 'deleted_at')
                or (table_name, column_name) in (select d.table_name, d.column_name from app_hidden.document_types d))
           -- user_roles.hospital_id says where a role applies; its policy allows only the active
           -- hospital (or, for the super admin, another hospital or none = chain-wide).
           and not (table_name = 'user_roles' and column_name = 'hospital_id' and privilege_type = 'INSERT')
         order by 1),
  '{}'::text[], 'no client may write hospital_id, stamps, soft-delete flags or document numbers');

select ok(
  not has_table_privilege('hms_staff', 'app_private.instance_settings', 'select')
  and not has_table_privilege('hms_anonymous', 'app_private.instance_settings', 'select')
  and not has_function_privilege('hms_staff', 'app_private.sign_jwt(jsonb)', 'execute')
  and not has_function_privilege('hms_anonymous', 'app_private.sign_jwt(jsonb)', 'execute'),
  'the JWT secret and the signing function are out of reach of the API roles');

select is(
  array(select p.oid::regprocedure::text from pg_proc p
         where p.pronamespace in ('app_public'::regnamespace, 'app_hidden'::regnamespace, 'app_private'::regnamespace)
           and (p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE'))
         order by 1),
  '{}'::text[], 'no function of ours is executable by PUBLIC: every grant is explicit');

select * from finish();
rollback;
