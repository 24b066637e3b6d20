-- database: pristine   (the demo data exactly as loaded: a copy no other test writes to)
-- Demo data (db/seed/demo.sql): the exact counts of seed 000's "Seed Data Summary" and the facts
-- the demo relies on — logins work, staff and doctors are wired to their hospitals, appointments
-- sit in the doctors' schedules, numbers come from the numbering, stock and money add up.
-- Runs against the suite's database, where the launcher loaded the demo data once.
begin;
-- The demo rows are those created by the demo load's transaction (its time is the marker the
-- loader records), so rows that other test files add do not disturb these counts.
create function pg_temp.demo_loaded_at() returns timestamptz language sql stable as $$
  select value::timestamptz from app_private.instance_settings where key = 'demo_data_loaded_at'
$$;
select plan(79);

-- ---------------------------------------------------------------------------------------------
-- Exact counts
-- ---------------------------------------------------------------------------------------------
select is((select count(*)::int from app_public.hospitals where created_at = pg_temp.demo_loaded_at()), 3, '3 hospitals');
select is((select count(*)::int from app_public.departments where created_at = pg_temp.demo_loaded_at()), 10, '10 departments');
select is((select count(*)::int from app_public.roles where is_system), 9, '9 roles (reference data of migration 000001)');
select is((select count(*)::int from app_public.permissions), 38, '38 permissions (reference data of migrations 000001 and 000008)');
-- Demo users are the rows with the demo's fixed ids: other test files may add (and lock out)
-- users of their own in the shared test database.
select is((select count(*)::int from (select * from app_public.users where id::text like '20000000-0000-4000-8000-%') u), 10, '10 users');
select is((select count(*)::int from app_public.doctors where created_at = pg_temp.demo_loaded_at()), 3, '3 doctors');
select is((select count(*)::int from app_public.doctor_schedules where created_at = pg_temp.demo_loaded_at()), 24, '24 doctor schedules');
select is((select count(*)::int from app_public.patients where created_at = pg_temp.demo_loaded_at()), 5, '5 patients');
select is((select count(*)::int from app_public.appointments where created_at = pg_temp.demo_loaded_at()), 5, '5 appointments');
select is((select count(*)::int from app_public.prescriptions where created_at = pg_temp.demo_loaded_at()), 3, '3 prescriptions');
select is((select count(*)::int from app_public.medicines where created_at = pg_temp.demo_loaded_at()), 10, '10 medicines');
select is((select count(*)::int from app_public.invoices where created_at = pg_temp.demo_loaded_at()), 3, '3 invoices');
select is((select count(*)::int from app_public.optical_products where created_at = pg_temp.demo_loaded_at()), 7, '7 optical products');
select is((select count(*)::int from app_public.suppliers where created_at = pg_temp.demo_loaded_at()), 3, '3 suppliers');
select is((select count(*)::int from app_public.insurance_providers where created_at = pg_temp.demo_loaded_at()), 3, '3 insurance providers');
select is((select count(*)::int from app_public.id_sequences where created_at = pg_temp.demo_loaded_at()), 63, '63 id sequences (21 per hospital)');
select cmp_ok((select count(*)::int from app_public.notification_templates), '>=', 12, 'at least 12 notification templates');
select cmp_ok((select count(*)::int from app_public.audit_logs), '>=', 3, 'at least 3 audit log rows');
select is((select count(*)::int from app_public.invoices i
            where not exists (select 1 from app_public.payments p where p.invoice_id = i.id)), 0,
          'every invoice has at least one payment');
select is((select count(*)::int from app_public.prescriptions p
            where not exists (select 1 from app_public.prescription_items i where i.prescription_id = p.id)), 0,
          'every prescription has at least one item');
select is((select count(*)::int from app_public.medicines m
            where not exists (select 1 from app_public.medicine_batches b where b.medicine_id = m.id)), 0,
          'every medicine has at least one batch');

-- ---------------------------------------------------------------------------------------------
-- Hospitals and their provisioning
-- ---------------------------------------------------------------------------------------------
select results_eq(
  $$select id, code, name, time_zone, currency_code::text from app_public.hospitals order by id$$,
  $$values ('10000000-0000-4000-8000-000000000001'::uuid, 'NY', 'HMS Core NY', 'America/New_York', 'USD'),
           ('10000000-0000-4000-8000-000000000002'::uuid, 'LA', 'Apollo LA', 'America/Los_Angeles', 'USD'),
           ('10000000-0000-4000-8000-000000000003'::uuid, 'CHI', 'Max Chicago', 'America/Chicago', 'USD')$$,
  'the three hospitals with their fixed ids, codes, time zones and currency');
select results_eq(
  $$select h.code, (select count(*)::int from app_public.hospital_settings s where s.hospital_id = h.id),
           (select count(*)::int from app_public.id_sequences s where s.hospital_id = h.id)
      from app_public.hospitals h order by h.code$$,
  $$values ('CHI', 1, 21), ('LA', 1, 21), ('NY', 1, 21)$$,
  'each hospital has its settings row and its 21 provisioned sequences');
select results_eq(
  $$select h.code, array_agg(d.code::text order by d.code)
      from app_public.departments d join app_public.hospitals h on h.id = d.hospital_id
     group by h.code order by h.code$$,
  $$values ('CHI', array['ER', 'OPHT', 'OPTIC']), ('LA', array['ORTH', 'PED', 'PHARM']),
           ('NY', array['CARD', 'GEN', 'LAB', 'PHARM'])$$,
  'each hospital has its own departments');
select results_eq(
  $$select h.code, array_agg(t.applies_to || ':' || t.rate_percent order by t.applies_to)
      from app_public.tax_configurations t join app_public.hospitals h on h.id = t.hospital_id
     where t.is_default and t.is_active group by h.code order by h.code$$,
  $$values ('CHI', array['consultation:0.00', 'medicine:5.00', 'optical:12.00']),
           ('LA',  array['consultation:0.00', 'medicine:5.00', 'optical:12.00']),
           ('NY',  array['consultation:0.00', 'medicine:5.00', 'optical:12.00'])$$,
  'each hospital has default tax rules: consultations exempt, medicines 5 %, optical 12 %');

-- ---------------------------------------------------------------------------------------------
-- Users, passwords and roles
-- ---------------------------------------------------------------------------------------------
select results_eq(
  $$select id, email::text from app_public.users where id::text like '20000000-0000-4000-8000-%' order by id$$,
  $$values ('20000000-0000-4000-8000-000000000001'::uuid, 'superadmin@hms.test'),
           ('20000000-0000-4000-8000-000000000002'::uuid, 'admin.ny@hms.test'),
           ('20000000-0000-4000-8000-000000000003'::uuid, 'admin.la@hms.test'),
           ('20000000-0000-4000-8000-000000000004'::uuid, 'doctor.ny@hms.test'),
           ('20000000-0000-4000-8000-000000000005'::uuid, 'doctor.la@hms.test'),
           ('20000000-0000-4000-8000-000000000006'::uuid, 'doctor.chi@hms.test'),
           ('20000000-0000-4000-8000-000000000007'::uuid, 'nurse.ny@hms.test'),
           ('20000000-0000-4000-8000-000000000008'::uuid, 'reception.ny@hms.test'),
           ('20000000-0000-4000-8000-000000000009'::uuid, 'pharmacist.ny@hms.test'),
           ('20000000-0000-4000-8000-000000000010'::uuid, 'accountant.ny@hms.test')$$,
  'the ten demo users with their fixed ids');
select is((select count(*)::int from (select * from app_public.users where id::text like '20000000-0000-4000-8000-%') u join app_private.user_secrets s on s.user_id = u.id
            where s.password_hash = crypt('Admin@123', s.password_hash)), 10,
          'every demo user''s password verifies as Admin@123');
select is((select count(*)::int from app_private.user_secrets s
            where s.user_id::text like '20000000-0000-4000-8000-%'
              and s.password_hash = crypt('admin@123', s.password_hash)
               or s.password_hash !~ '^\$2[abxy]\$10\$'), 0,
          'hashes are bcrypt (cost 10) and reject a wrong password');
select is((select count(*)::int from (select * from app_public.users where id::text like '20000000-0000-4000-8000-%') u
            where home_hospital_id is null or job_title is null or not is_active or must_change_password), 0,
          'every user is active, has a home hospital and a job title');
select results_eq(
  $$select u.email::text, r.code, coalesce(h.code, '*')
      from app_public.user_roles ur
      join app_public.users u on u.id = ur.user_id and u.id::text like '20000000-0000-4000-8000-%'
      join app_public.roles r on r.id = ur.role_id
      left join app_public.hospitals h on h.id = ur.hospital_id
     order by 1, 2$$,
  $$values ('accountant.ny@hms.test', 'accountant', 'NY'),
           ('admin.la@hms.test', 'hospital_admin', 'LA'),
           ('admin.ny@hms.test', 'hospital_admin', 'NY'),
           ('doctor.chi@hms.test', 'doctor', 'CHI'),
           ('doctor.chi@hms.test', 'optometrist', 'CHI'),
           ('doctor.la@hms.test', 'doctor', 'LA'),
           ('doctor.ny@hms.test', 'doctor', 'NY'),
           ('nurse.ny@hms.test', 'lab_technician', 'NY'),
           ('nurse.ny@hms.test', 'nurse', 'NY'),
           ('pharmacist.ny@hms.test', 'pharmacist', 'NY'),
           ('reception.ny@hms.test', 'receptionist', 'NY'),
           ('superadmin@hms.test', 'super_admin', '*')$$,
  'each user holds exactly the roles of the summary (super admin chain-wide)');
select is((select count(*)::int from app_public.user_roles ur join app_public.roles r on r.id = ur.role_id
            where r.hospital_id is not null), 0, 'user roles use the system roles of migration 0210');

-- ---------------------------------------------------------------------------------------------
-- Doctors, schedules, fees
-- ---------------------------------------------------------------------------------------------
select results_eq(
  $$select d.id, u.email::text, h.code, dep.code
      from app_public.doctors d
      join app_public.users u on u.id = d.user_id
      join app_public.hospitals h on h.id = d.hospital_id
      join app_public.departments dep on dep.id = d.department_id
     order by d.id$$,
  $$values ('d1100000-0000-4000-8000-000000000001'::uuid, 'doctor.ny@hms.test', 'NY', 'CARD'),
           ('d1100000-0000-4000-8000-000000000002'::uuid, 'doctor.la@hms.test', 'LA', 'ORTH'),
           ('d1100000-0000-4000-8000-000000000003'::uuid, 'doctor.chi@hms.test', 'CHI', 'OPHT')$$,
  'the doctors are linked to the doctor users, in CARD (NY), ORTH (LA) and OPHT (CHI)');
select is((select count(*)::int from app_public.doctors d
            where not exists (select 1 from app_public.user_roles ur join app_public.roles r on r.id = ur.role_id
                               where ur.user_id = d.user_id and ur.hospital_id = d.hospital_id and r.code = 'doctor')), 0,
          'every doctor holds the doctor role in the doctor''s hospital');
select results_eq(
  $$select dep.code, d.id from app_public.departments dep join app_public.doctors d on d.id = dep.head_doctor_id
     order by d.id$$,
  $$values ('CARD', 'd1100000-0000-4000-8000-000000000001'::uuid), ('ORTH', 'd1100000-0000-4000-8000-000000000002'::uuid),
           ('OPHT', 'd1100000-0000-4000-8000-000000000003'::uuid)$$,
  'each doctor heads the department');
select results_eq(
  $$select h.code,
           array_agg(s.day_of_week || ' ' || s.session || ' ' || to_char(s.start_time, 'HH24:MI') || '-' || to_char(s.end_time, 'HH24:MI')
                     order by s.session desc, s.day_of_week),
           min(s.slot_minutes)::int, max(s.slot_minutes)::int
      from app_public.doctor_schedules s join app_public.hospitals h on h.id = s.hospital_id
     where s.is_active group by h.code order by h.code$$,
  $$select c, array['1 morning 09:00-13:00', '2 morning 09:00-13:00', '3 morning 09:00-13:00', '4 morning 09:00-13:00',
                    '5 morning 09:00-13:00', '1 afternoon 14:00-17:00', '3 afternoon 14:00-17:00', '5 afternoon 14:00-17:00'],
           slot, slot
      from (values ('CHI', 15), ('LA', 20), ('NY', 15)) v(c, slot)$$,
  'each doctor works Mon–Fri 09:00–13:00 and Mon/Wed/Fri 14:00–17:00, slots of 15 (NY, CHI) and 20 (LA) minutes');
select results_eq(
  $$select d.id, array_agg(f.visit_type order by f.visit_type)
      from app_public.doctors d join app_public.doctor_fees f on f.doctor_id = d.id and f.is_active
     group by d.id order by d.id$$,
  $$values ('d1100000-0000-4000-8000-000000000001'::uuid, array['follow_up', 'new_consultation']),
           ('d1100000-0000-4000-8000-000000000002'::uuid, array['follow_up', 'new_consultation']),
           ('d1100000-0000-4000-8000-000000000003'::uuid, array['follow_up', 'new_consultation'])$$,
  'each doctor has a new-consultation and a follow-up fee');

-- ---------------------------------------------------------------------------------------------
-- Patients and appointments
-- ---------------------------------------------------------------------------------------------
select results_eq(
  $$select h.code, count(*)::int from app_public.patients p join app_public.hospitals h on h.id = p.hospital_id
     group by h.code order by h.code$$,
  $$values ('CHI', 1), ('LA', 2), ('NY', 2)$$,
  'patients: NY 2, LA 2, CHI 1');
select is((select count(*)::int from app_public.patients
            where emergency_contact_name is null or emergency_contact_phone is null or blood_group = 'unknown'
               or phone_primary is null or date_of_birth is null), 0,
          'every patient has a blood group, a phone and an emergency contact');
select results_eq(
  $$select p.id, a.status from app_public.appointments a join app_public.patients p on p.id = a.patient_id order by p.id$$,
  $$values ('d1000000-0000-4000-8000-000000000011'::uuid, 'completed'), ('d1000000-0000-4000-8000-000000000012'::uuid, 'booked'),
           ('d1000000-0000-4000-8000-000000000021'::uuid, 'completed'), ('d1000000-0000-4000-8000-000000000022'::uuid, 'booked'),
           ('d1000000-0000-4000-8000-000000000031'::uuid, 'completed')$$,
  'one appointment per patient: the first patient of each hospital seen, the others booked');
select is((select count(*)::int
             from app_public.appointments a
             join app_public.hospitals h on h.id = a.hospital_id
             join app_public.doctor_schedules s
               on s.id = a.schedule_id and s.doctor_id = a.doctor_id and s.is_active
              and s.day_of_week = extract(dow from a.scheduled_start at time zone h.time_zone)
              and (a.scheduled_start at time zone h.time_zone)::time >= s.start_time
              and (a.scheduled_end at time zone h.time_zone)::time <= s.end_time
              and extract(epoch from (a.scheduled_start at time zone h.time_zone)::time - s.start_time)::int % (s.slot_minutes * 60) = 0
              and a.scheduled_end = a.scheduled_start + make_interval(mins => s.slot_minutes)
              and (a.scheduled_start at time zone h.time_zone)::date between s.valid_from and coalesce(s.valid_to, 'infinity')), 5,
          'every appointment is a slot of its doctor''s schedule (weekday, hours, slot-aligned, end = start + slot, local time)');
select is((select count(*)::int from app_public.appointments
            where (status = 'completed' and scheduled_start < created_at and completed_at <= created_at
                   and checked_in_at < started_at and started_at < completed_at and completed_at <= scheduled_end)
               or (status = 'booked' and scheduled_start > created_at and checked_in_at is null)), 5,
          'completed visits lie before the load, booked ones after it, with consistent check-in/start/end times');
select results_eq(
  $$select a.id, array_agg(coalesce(l.from_status, '-') || '>' || l.to_status order by l.changed_at)
      from app_public.appointments a join app_public.appointment_status_log l on l.appointment_id = a.id
     group by a.id order by a.id$$,
  $$values ('d1200000-0000-4000-8000-000000000011'::uuid, array['->booked', 'booked>checked_in', 'checked_in>in_progress', 'in_progress>completed']),
           ('d1200000-0000-4000-8000-000000000012'::uuid, array['->booked']),
           ('d1200000-0000-4000-8000-000000000021'::uuid, array['->booked', 'booked>checked_in', 'checked_in>in_progress', 'in_progress>completed']),
           ('d1200000-0000-4000-8000-000000000022'::uuid, array['->booked']),
           ('d1200000-0000-4000-8000-000000000031'::uuid, array['->booked', 'booked>checked_in', 'checked_in>in_progress', 'in_progress>completed'])$$,
  'the status log tells each appointment''s history in order');
select is((select count(*)::int from app_public.appointments a
             join app_public.hospitals h on h.id = a.hospital_id
             join app_public.appointment_queue q on q.appointment_id = a.id
            where a.status = 'completed' and q.status = 'completed' and q.patient_id = a.patient_id
              and q.department_id = a.department_id and q.queue_date = (a.scheduled_start at time zone h.time_zone)::date
              and q.checked_in_at = a.checked_in_at), 3,
          'each checked-in visit has its completed queue token on the visit day');
select is((select count(*)::int from app_public.appointment_queue where created_at = pg_temp.demo_loaded_at()), 3, 'no other queue tokens');

-- ---------------------------------------------------------------------------------------------
-- Prescriptions
-- ---------------------------------------------------------------------------------------------
select results_eq(
  $$select h.code, p.status, p.version, (select count(*)::int from app_public.prescription_items i where i.prescription_id = p.id)
      from app_public.prescriptions p
      join app_public.hospitals h on h.id = p.hospital_id
      join app_public.appointments a on a.id = p.appointment_id
     where a.status = 'completed' and a.patient_id = p.patient_id and a.doctor_id = p.doctor_id
     order by h.code$$,
  $$values ('CHI', 'finalized', 1, 2), ('LA', 'finalized', 1, 2), ('NY', 'finalized', 1, 2)$$,
  'one finalized prescription per hospital, written at the completed visit by its doctor');
select is((select count(*)::int from app_public.prescriptions p
             join app_public.doctors d on d.id = p.doctor_id
             join app_public.prescription_versions v on v.prescription_id = p.id and v.version = 1
            where p.finalized_at is not null and p.finalized_by = d.user_id
              and v.snapshot ->> 'prescription_number' = p.prescription_number
              and jsonb_array_length(v.snapshot -> 'items')
                  = (select count(*) from app_public.prescription_items i where i.prescription_id = p.id)), 3,
          'each prescription was finalized by its doctor and has a version-1 snapshot with its items');
select is((select count(*)::int from app_public.prescription_items i
             join app_public.medicines m on m.id = i.medicine_id
            where i.quantity_dispensed <= i.quantity_prescribed and m.hospital_id = i.hospital_id), 6,
          'prescription items name the hospital''s own medicines; nothing dispensed beyond what was prescribed');
select is((select count(*)::int from app_public.prescription_items i join app_public.medicines m on m.id = i.medicine_id
            where i.hospital_id = '10000000-0000-4000-8000-000000000003' and m.route = 'ophthalmic'), 2,
          'the CHI prescription is for eye drops');

-- ---------------------------------------------------------------------------------------------
-- Document numbers
-- ---------------------------------------------------------------------------------------------
select is((select count(*)::int from (
             select mrn as n from app_public.patients
             union all select appointment_number from app_public.appointments
             union all select prescription_number from app_public.prescriptions
             union all select invoice_number from app_public.invoices
             union all select receipt_number from app_public.payments
             union all select card_number from app_public.id_cards
             union all select order_number from app_public.optical_orders) x
            where not app_public.check_document_number(x.n)), 0,
          'every MRN, appointment, prescription, invoice, receipt, ID card and optical order number has a valid check character');
select is((select count(*)::int from app_public.patients p join app_public.hospitals h on h.id = p.hospital_id
            where p.mrn ~ ('^MRN-' || h.code || '-[0-9]{6}-[0-9A-Z]$')), 5,
          'MRNs read MRN-<hospital>-NNNNNN-<check>');
select is((select count(*)::int from (
             select a.hospital_id, a.appointment_number as n, 'APT' as prefix from app_public.appointments a
             union all select hospital_id, prescription_number, 'RX' from app_public.prescriptions
             union all select hospital_id, invoice_number, 'INV' from app_public.invoices
             union all select hospital_id, receipt_number, 'RCT' from app_public.payments) x
             join app_public.hospitals h on h.id = x.hospital_id
            where x.n !~ ('^' || x.prefix || '-' || h.code || '-[0-9]{4}-[0-9]{6}-[0-9A-Z]$')), 0,
          'yearly document numbers read <PREFIX>-<hospital>-YYYY-NNNNNN-<check>');
select results_eq(
  $$select h.code, s.document_type,
            case when d.gapless then s.next_value - 1
                 else coalesce(pg_sequence_last_value(app_hidden.id_counter(s.id)), s.period_base) - s.period_base end
      from app_public.id_sequences s join app_public.hospitals h on h.id = s.hospital_id
      join app_hidden.document_types d on d.document_type = s.document_type
     where s.scope = '' and s.document_type in ('patient', 'appointment', 'queue_token', 'prescription', 'invoice', 'receipt',
                                                'id_card', 'optical_order')
     order by 1, 2$$,
  $$select h.code, t.document_type, t.issued
      from app_public.hospitals h
     cross join lateral (values
       ('appointment',   (select count(*) from app_public.appointments x where x.hospital_id = h.id)),
       ('id_card',       (select count(*) from app_public.id_cards x where x.hospital_id = h.id)),
       ('invoice',       (select count(*) from app_public.invoices x where x.hospital_id = h.id)),
       ('optical_order', (select count(*) from app_public.optical_orders x where x.hospital_id = h.id)),
       ('patient',       (select count(*) from app_public.patients x where x.hospital_id = h.id)),
       ('prescription',  (select count(*) from app_public.prescriptions x where x.hospital_id = h.id)),
       ('queue_token',   (select count(*) from app_public.appointment_queue x where x.hospital_id = h.id)),
       ('receipt',       (select count(*) from app_public.payments x where x.hospital_id = h.id))
     ) t(document_type, issued)
     order by 1, 2$$,
  'each counter equals the numbers issued, per hospital and document type (gapless: next_value − 1; others: their sequence − period_base)');
select is((select count(*)::int from app_public.id_sequences
            where next_value <> 1 and document_type not in ('patient', 'appointment', 'queue_token', 'prescription', 'invoice',
                                                             'receipt', 'id_card', 'optical_order')), 0,
          'no other sequence has issued a number');

-- ---------------------------------------------------------------------------------------------
-- Medicines and stock
-- ---------------------------------------------------------------------------------------------
select results_eq(
  $$select h.code, count(*)::int from app_public.medicines m join app_public.hospitals h on h.id = m.hospital_id
     group by h.code order by h.code$$,
  $$values ('CHI', 3), ('LA', 3), ('NY', 4)$$,
  'medicines: NY 4, LA 3, CHI 3');
select is((select count(*)::int from app_public.medicines
            where hospital_id = '10000000-0000-4000-8000-000000000003' and route = 'ophthalmic' and dosage_form = 'drops'), 3,
          'the CHI medicines are eye drops');
select is((select count(*)::int from app_public.medicine_batches b
            where b.quantity_on_hand <> coalesce((select sum(m.quantity) from app_public.stock_movements m
                                                   where m.batch_id = b.id), 0)), 0,
          'every batch''s quantity_on_hand equals the sum of its stock movements');
select is((select count(*)::int from app_public.medicine_batches b
            where b.quantity_on_hand > 0
              and not exists (select 1 from app_public.stock_movements m
                               where m.batch_id = b.id and m.movement_type = 'opening_balance'
                                 and m.quantity = b.quantity_on_hand and m.balance_after = b.quantity_on_hand)), 0,
          'every batch with stock has its opening_balance movement');
select is((select count(*)::int from app_public.optical_products o
            where o.quantity_on_hand <> coalesce((select sum(m.quantity) from app_public.stock_movements m
                                                   where m.optical_product_id = o.id), 0)
               or o.quantity_on_hand <> (select m.balance_after from app_public.stock_movements m
                                          where m.optical_product_id = o.id order by m.occurred_at desc limit 1)), 0,
          'every optical product''s stock equals the sum of its movements and its last balance_after');
select cmp_ok((select count(*)::int from app_public.medicine_batches b join app_public.hospitals h on h.id = b.hospital_id
                where h.code = 'NY' and b.expiry_date < (now() at time zone h.time_zone)::date and b.quantity_on_hand > 0), '>=', 1,
              'NY has an expired batch still holding stock');
select cmp_ok((select count(*)::int from app_public.medicine_batches b join app_public.hospitals h on h.id = b.hospital_id
                where h.code = 'NY' and b.quantity_on_hand > 0
                  and b.expiry_date >= (now() at time zone h.time_zone)::date
                  and b.expiry_date < (now() at time zone h.time_zone)::date + 60), '>=', 1,
              'NY has a batch expiring within 60 days');
select is((select count(*)::int from app_public.medicine_batches b join app_public.medicines m on m.id = b.medicine_id
            where m.atc_code is null or m.brand_name is null or m.selling_price <= 0 or b.expiry_date <= b.manufacture_date), 0,
          'medicines have ATC codes, brands and prices; batches expire after they were made');

-- ---------------------------------------------------------------------------------------------
-- Invoices and payments
-- ---------------------------------------------------------------------------------------------
select is((select count(*)::int from app_public.invoice_items l
             join app_public.tax_configurations t on t.id = l.tax_configuration_id
            where l.tax_percent = t.rate_percent
              and l.discount_amount = round(l.quantity * l.unit_price * l.discount_percent / 100, 2)
              and l.tax_amount = round((round(l.quantity * l.unit_price, 2) - l.discount_amount) * l.tax_percent / 100, 2)
              and l.line_total = round(l.quantity * l.unit_price, 2) - l.discount_amount + l.tax_amount),
          (select count(*)::int from app_public.invoice_items),
          'every invoice line: discount, tax (at its rule''s rate) and total add up to the cent');
select is((select count(*)::int from app_public.invoices i
            where (i.subtotal, i.discount_amount, i.tax_amount, i.total_amount)
                  is distinct from (select row(sum(round(l.quantity * l.unit_price, 2)), sum(l.discount_amount),
                                               sum(l.tax_amount), sum(l.line_total))
                                      from app_public.invoice_items l where l.invoice_id = i.id)
               or i.total_amount <> i.subtotal - i.discount_amount + i.tax_amount
               or i.patient_amount + i.insurance_amount <> i.total_amount), 0,
          'invoice totals are the sums of their lines: total = subtotal - discount + tax');
select is((select count(*)::int from app_public.invoices i
            where i.amount_paid <> (select coalesce(sum(p.amount), 0) from app_public.payments p
                                     where p.invoice_id = i.id and p.status = 'completed' and not p.is_deleted)
               or i.balance_due <> i.total_amount - i.amount_paid - i.amount_credited + i.amount_refunded
               or i.currency_code <> 'USD'), 0,
          'amount paid is the sum of the payments and balance due what is left');
select results_eq(
  $$select h.code, i.status, i.balance_due = 0, i.paid_at is not null,
           (select count(distinct p.payment_method)::int from app_public.payments p where p.invoice_id = i.id)
      from app_public.invoices i join app_public.hospitals h on h.id = i.hospital_id order by h.code$$,
  $$values ('CHI', 'paid', true, true, 2), ('LA', 'partially_paid', false, false, 1), ('NY', 'paid', true, true, 1)$$,
  'NY paid in full, LA partially paid, CHI paid by two methods');
select is((select count(*)::int from app_public.invoice_items l
             join app_public.invoices i on i.id = l.invoice_id
             join app_public.appointments a on a.id = i.appointment_id
             join app_public.doctor_fees f on f.doctor_id = a.doctor_id and f.visit_type = a.visit_type and f.is_active
            where l.item_type = 'consultation' and l.appointment_id = a.id and l.doctor_id = a.doctor_id
              and l.unit_price = f.amount and a.quoted_fee = f.amount), 3,
          'each invoice bills its visit at the doctor''s fee');
select is((select count(*)::int from app_public.invoice_items l join app_public.medicines m on m.id = l.medicine_id
            where l.item_type = 'medicine' and l.unit_price = m.selling_price),
          (select count(*)::int from app_public.invoice_items where item_type = 'medicine'),
          'medicine lines are billed at the medicine''s selling price');
select is((select count(*)::int from app_public.invoice_items l
             join app_public.optical_order_items oi on oi.id = l.optical_order_item_id
             join app_public.optical_orders o on o.id = oi.optical_order_id
             join app_public.invoices i on i.id = l.invoice_id and i.optical_order_id = o.id
            where l.item_type = 'optical' and l.line_total = oi.line_total and o.total_amount = oi.line_total
              and o.status = 'delivered'), 1,
          'the CHI invoice bills the delivered optical order line');

-- ---------------------------------------------------------------------------------------------
-- Optical, suppliers, insurance
-- ---------------------------------------------------------------------------------------------
select results_eq(
  $$select product_type, count(*)::int from app_public.optical_products
     where hospital_id = '10000000-0000-4000-8000-000000000003' group by product_type order by product_type$$,
  $$values ('accessory', 1), ('contact_lens', 1), ('frame', 2), ('solution', 1), ('spectacle_lens', 2)$$,
  'CHI sells frames, spectacle lenses, contact lenses, solution and a case');
select is((select array_agg(lens_type order by lens_type) from app_public.optical_products where product_type = 'spectacle_lens'),
          array['progressive', 'single_vision'], 'spectacle lenses: single vision and progressive');
select is((select count(*)::int from app_public.optical_prescriptions o
             join app_public.appointments a on a.id = o.appointment_id and a.patient_id = o.patient_id
            where o.hospital_id = '10000000-0000-4000-8000-000000000003'), 1,
          'the CHI patient has an eye prescription from the visit');
select results_eq(
  $$select h.code, (select count(*)::int from app_public.suppliers s where s.hospital_id = h.id),
           (select count(*)::int from app_public.insurance_providers p where p.hospital_id = h.id)
      from app_public.hospitals h order by h.code$$,
  $$values ('CHI', 1, 1), ('LA', 1, 1), ('NY', 1, 1)$$,
  'one supplier and one insurance provider per hospital');
select is((select count(*)::int from app_public.insurance_policies where status = 'active' and is_primary), 1,
          'one active insurance policy (the second NY patient)');
select is((select count(*)::int from app_public.id_cards c join app_public.patients p on p.id = c.patient_id
            where c.status = 'active' and c.card_type = 'patient_health_card' and c.barcode_value = c.card_number), 5,
          'every patient has an active health card');

-- ---------------------------------------------------------------------------------------------
-- Notification templates and audit
-- ---------------------------------------------------------------------------------------------
select is((select count(*)::int from app_public.hospitals h
             cross join (values ('appointment_confirmation', 'email'), ('appointment_confirmation', 'sms'),
                                ('appointment_reminder', 'sms'), ('payment_receipt', 'email')) t(code, channel)
            where exists (select 1 from app_public.notification_templates n
                           where n.hospital_id = h.id and n.code = t.code and n.channel = t.channel and n.is_active)), 12,
          'each hospital has appointment confirmation (email, SMS), reminder (SMS) and payment receipt (email) templates');
select is((select count(*)::int from app_public.notification_templates n
            where array(select distinct m[1] from regexp_matches(coalesce(n.subject, '') || ' ' || n.body, '\{\{([a-z_]+)\}\}', 'g') m
                         order by 1)
                  <> array(select distinct v from unnest(n.variables) v order by 1)), 0,
          'every template lists exactly the {{placeholders}} it uses');
select results_eq(
  $$select a.hospital_id, a.record_id, a.description from app_public.audit_logs a
     where a.action = 'insert' and a.table_name = 'app_public.hospitals' and a.description = 'Demo data loaded'
     order by a.hospital_id$$,
  $$values ('10000000-0000-4000-8000-000000000001'::uuid, '10000000-0000-4000-8000-000000000001'::uuid, 'Demo data loaded'),
           ('10000000-0000-4000-8000-000000000002'::uuid, '10000000-0000-4000-8000-000000000002'::uuid, 'Demo data loaded'),
           ('10000000-0000-4000-8000-000000000003'::uuid, '10000000-0000-4000-8000-000000000003'::uuid, 'Demo data loaded')$$,
  'the audit trail records the demo load of each hospital');
select is((select count(*)::int from app_public.audit_logs
            where action = 'login' and user_id = '20000000-0000-4000-8000-000000000001' and session_id is null), 1,
          'the audit trail has the super admin''s example login');

select is((select count(*)::int from app_partitions.audit_logs_default) + (select count(*)::int from app_partitions.stock_movements_default)
          + (select count(*)::int from app_partitions.appointment_status_log_default) + (select count(*)::int from app_partitions.notification_queue_default),
          0, 'no demo row lies in a default partition: every month of the demo''s history has its partition');

select * from finish();
rollback;
