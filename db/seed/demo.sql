/*
 * HMS demo data — seed 000's "Seed Data Summary".
 *
 * Loaded once by the launcher (db/launcher/seed.ts), as the schema owner, inside one transaction
 * (this file has no begin/commit of its own). There is no JWT, so created_by is null unless a row
 * below names the member of staff who did the work.
 *
 * What it contains (exact counts that tests/db/demo_data.test.sql checks):
 *   3 hospitals            HMS Core NY (NY), Apollo LA (LA), Max Chicago (CHI), all USD. Their
 *                          hospital_settings row and 21 id_sequences each (63) come from the
 *                          provisioning trigger of 0300; only the settings are edited here.
 *  10 departments          NY: CARD GEN PHARM LAB · LA: ORTH PED PHARM · CHI: OPHT OPTIC ER
 *   9 roles, 37 permissions reference data of migration 0210 (not inserted here)
 *  10 users                password Admin@123 for every one (bcrypt in app_private.user_secrets)
 *   3 doctors              with 24 weekly schedules (8 each), fees and one approved leave
 *   5 patients             NY 2, LA 2, CHI 1; an ID card each
 *   5 appointments         3 completed on the previous weekday (status log + queue token),
 *                          2 booked for the next weekday — dates follow the day the data is loaded
 *   3 prescriptions        finalized, with items and a version-1 snapshot
 *  10 medicines            NY 4, LA 3, CHI 3, each with batches; every batch with stock has its
 *                          opening_balance stock movement (NY also has one expired batch with stock
 *                          and one batch expiring within 60 days)
 *   3 invoices             NY paid, LA partially paid, CHI paid by card + cash
 *   7 optical products     CHI; plus an eye (refraction) prescription and one delivered optical order
 *   3 suppliers, 3 insurance providers (and one policy), 12 notification templates, 4 audit rows
 *
 * Every document number comes from app_hidden.hms_generate_id, so id_sequences.next_value always
 * matches what was issued.
 *
 * Fixed ids make the SQL readable and let tests name rows. The first group says the table (it is
 * the schema section number where one exists), the last digits say the hospital (1 NY, 2 LA, 3 CHI)
 * and the row:
 *   10000000-…-00000000000H  hospitals            20000000-…-0000000000NN  users
 *   d0100000-…-0000000000HN  departments          d0110000-…-0000000000HN  tax_configurations
 *   d1000000-…-0000000000HN  patients             d1100000-…-00000000000H  doctors
 *   d1110000-…-0000000000HN  doctor_schedules     d1200000-…-0000000000HN  appointments
 *   d2000000-…-0000000000HN  medicines            d2010000-…-000000000HNB  medicine_batches
 *   d2100000-…-00000000000H  prescriptions        d2400000-…-0000000000HN  optical_products
 *   d2410000-…-00000000000H  optical_prescriptions d2420000-…-00000000000H optical_orders
 *   d2430000-…-0000000000HN  optical_order_items
 *   d3000000-…-00000000000H  invoices             d3010000-…-000000000HLLL invoice_items (LLL = line)
 *   d3020000-…-0000000000HN  payments
 *   d3100000-…-00000000000H  insurance_providers  d4000000-…-00000000000H  suppliers
 *
 * Dates: clinical history is dated relative to the day of loading, in each hospital's time zone:
 * completed visits on the previous Monday–Friday, bookings on the next one, schedules, fees, roles
 * and tax rules valid from 1 January of last year ("go-live").
 */

-- The months of that history (from go-live on) get their partitions first, so no demo row lands
-- in a default partition (whose rows every query would read, and whose months could then never
-- get a partition of their own). The months ahead come from the migrations and every start.
select app_hidden.create_month_partitions(c.oid::regclass, make_date(extract(year from current_date)::int - 1, 1, 1), current_date)
  from pg_class c where c.relnamespace = 'app_public'::regnamespace and c.relkind = 'p';

-- ---------------------------------------------------------------------------------------------
-- Hospitals (the provisioning trigger adds hospital_settings and the 21 id_sequences of each)
-- ---------------------------------------------------------------------------------------------
insert into app_public.hospitals
  (id, code, name, legal_name, hospital_type, registration_number, tax_identifier, email, phone, website,
   address_line1, address_line2, city, state_province, postal_code, country_code, time_zone, currency_code,
   locale, bed_capacity, accreditation)
values
  ('10000000-0000-4000-8000-000000000001', 'NY', 'HMS Core NY', 'HMS Core Health System of New York, Inc.',
   'multi_specialty', 'NYS-DOH PFI 7001', '13-5550101', 'contact@ny.hms.test', '+1 212-555-0100', 'https://ny.hms.test',
   '1 Core Health Plaza', 'East 31st Street entrance', 'New York', 'NY', '10016', 'US', 'America/New_York', 'USD',
   'en-US', 420, 'The Joint Commission'),
  ('10000000-0000-4000-8000-000000000002', 'LA', 'Apollo LA', 'Apollo Hospitals Los Angeles, LLC',
   'general', 'CDPH 930000123', '95-5550102', 'contact@la.hms.test', '+1 323-555-0100', 'https://la.hms.test',
   '2400 Sunset Medical Way', null, 'Los Angeles', 'CA', '90027', 'US', 'America/Los_Angeles', 'USD',
   'en-US', 260, 'The Joint Commission'),
  ('10000000-0000-4000-8000-000000000003', 'CHI', 'Max Chicago', 'Max Eye & Emergency Care Chicago, Inc.',
   'eye_care', 'IDPH 0051234', '36-5550103', 'contact@chi.hms.test', '+1 312-555-0100', 'https://chi.hms.test',
   '455 West Lake Vision Drive', 'Suite 200', 'Chicago', 'IL', '60606', 'US', 'America/Chicago', 'USD',
   'en-US', 40, 'AAAHC');

-- Branding, print layout and defaults of each hospital (the rows exist already: provisioned).
update app_public.hospital_settings s
   set default_slot_minutes = v.slot,
       invoice_due_days = v.due_days,
       sms_notifications_enabled = true,
       primary_color = v.color,
       print_paper_size = 'letter',
       print_header = v.header,
       print_footer = v.footer,
       invoice_terms = v.terms,
       prescription_footer = v.rx_footer
  from (values
    ('10000000-0000-4000-8000-000000000001'::uuid, 15, 0, '#1565c0',
     'HMS Core NY · 1 Core Health Plaza, New York, NY 10016 · +1 212-555-0100',
     'Thank you for choosing HMS Core NY.',
     'Payment is due on receipt. We accept cash, cards and bank transfers.',
     'Pharmacy: Building B, ground floor — open 8 am to 10 pm every day.'),
    ('10000000-0000-4000-8000-000000000002'::uuid, 20, 30, '#00897b',
     'Apollo LA · 2400 Sunset Medical Way, Los Angeles, CA 90027 · +1 323-555-0100',
     'Apollo LA — caring for Los Angeles.',
     'Payment is due within 30 days of the invoice date.',
     'Pharmacy: main lobby — open 7 am to 9 pm, Monday to Saturday.'),
    ('10000000-0000-4000-8000-000000000003'::uuid, 15, 0, '#6a1b9a',
     'Max Chicago · 455 West Lake Vision Drive, Suite 200, Chicago, IL 60606 · +1 312-555-0100',
     'Max Chicago — eye care and emergency.',
     'Payment is due on receipt. Spectacle orders require payment in full at delivery.',
     'Keep eye drops in the refrigerator once opened if the label says so; discard 4 weeks after opening.')
  ) v(hospital_id, slot, due_days, color, header, footer, terms, rx_footer)
 where s.hospital_id = v.hospital_id;

-- ---------------------------------------------------------------------------------------------
-- Departments (10); heads of department are set once the doctors exist
-- ---------------------------------------------------------------------------------------------
insert into app_public.departments
  (id, hospital_id, code, name, department_type, description, location, phone_extension, email, accepts_appointments)
values
  ('d0100000-0000-4000-8000-000000000011', '10000000-0000-4000-8000-000000000001', 'CARD', 'Cardiology', 'clinical',
   'Heart and vascular outpatient clinic: consultations, ECG and echocardiography referrals.',
   'Building A, 3rd floor', '3100', 'cardiology@ny.hms.test', true),
  ('d0100000-0000-4000-8000-000000000012', '10000000-0000-4000-8000-000000000001', 'GEN', 'General Medicine', 'clinical',
   'Adult internal medicine clinic for new complaints and long-term conditions.',
   'Building A, 1st floor', '1100', 'medicine@ny.hms.test', true),
  ('d0100000-0000-4000-8000-000000000013', '10000000-0000-4000-8000-000000000001', 'PHARM', 'Pharmacy', 'pharmacy',
   'Outpatient pharmacy: dispensing, counselling and medicine stock.',
   'Building B, ground floor', '0500', 'pharmacy@ny.hms.test', false),
  ('d0100000-0000-4000-8000-000000000014', '10000000-0000-4000-8000-000000000001', 'LAB', 'Laboratory', 'diagnostic',
   'Clinical laboratory: sample collection, haematology, biochemistry and microbiology.',
   'Building B, lower level', '0700', 'lab@ny.hms.test', false),
  ('d0100000-0000-4000-8000-000000000021', '10000000-0000-4000-8000-000000000002', 'ORTH', 'Orthopedics', 'surgical',
   'Bone, joint and sports injury clinic; fracture care and joint replacement.',
   'East Wing, 2nd floor', '2200', 'orthopedics@la.hms.test', true),
  ('d0100000-0000-4000-8000-000000000022', '10000000-0000-4000-8000-000000000002', 'PED', 'Pediatrics', 'clinical',
   'Well-child visits, vaccinations and children''s illnesses from birth to 18.',
   'West Wing, 1st floor', '1300', 'pediatrics@la.hms.test', true),
  ('d0100000-0000-4000-8000-000000000023', '10000000-0000-4000-8000-000000000002', 'PHARM', 'Pharmacy', 'pharmacy',
   'Outpatient pharmacy: dispensing, counselling and medicine stock.',
   'Main lobby', '0500', 'pharmacy@la.hms.test', false),
  ('d0100000-0000-4000-8000-000000000031', '10000000-0000-4000-8000-000000000003', 'OPHT', 'Ophthalmology', 'clinical',
   'Eye examinations, glaucoma and cataract clinic, diabetic eye screening.',
   '2nd floor, Suite 200', '2000', 'eyes@chi.hms.test', true),
  ('d0100000-0000-4000-8000-000000000032', '10000000-0000-4000-8000-000000000003', 'OPTIC', 'Optical Shop', 'optical',
   'Spectacles, contact lenses and repairs made up from our optometrists'' prescriptions.',
   'Ground floor, street entrance', '0800', 'optical@chi.hms.test', false),
  ('d0100000-0000-4000-8000-000000000033', '10000000-0000-4000-8000-000000000003', 'ER', 'Emergency', 'emergency',
   'Emergency department, open 24/7, with an eye-injury bay.',
   'Ground floor, ambulance entrance', '0911', 'emergency@chi.hms.test', false);

-- ---------------------------------------------------------------------------------------------
-- Tax rules: consultations exempt, medicines 5 %, optical goods 12 % (defaults of each category)
-- ---------------------------------------------------------------------------------------------
insert into app_public.tax_configurations
  (id, hospital_id, code, name, tax_type, applies_to, rate_percent, components, tax_code, is_default, effective_from, description)
select format('d0110000-0000-4000-8000-0000000000%s%s', h.n, r.n)::uuid, h.id, r.code, r.name, r.tax_type, r.applies_to,
       r.rate, r.components::jsonb, r.tax_code, true,
       make_date(extract(year from current_date)::int - 1, 1, 1),   -- go-live: 1 January of last year
       r.description
  from (values (1, '10000000-0000-4000-8000-000000000001'::uuid),
               (2, '10000000-0000-4000-8000-000000000002'::uuid),
               (3, '10000000-0000-4000-8000-000000000003'::uuid)) h(n, id)
 cross join (values
   (1, 'CONSULT_EXEMPT', 'Medical services (exempt)', 'exempt', 'consultation', 0.00, '[]', null,
    'Professional medical services are not subject to sales tax.'),
   (2, 'MED_5', 'Sales tax 5% (medicines)', 'sales_tax', 'medicine', 5.00,
    '[{"name": "State sales tax", "rate_percent": 4.00}, {"name": "Local sales tax", "rate_percent": 1.00}]', null,
    'Rate applied by the demo hospitals to medicines sold over the counter and on prescription.'),
   (3, 'OPTICAL_12', 'Sales tax 12% (optical goods)', 'sales_tax', 'optical', 12.00,
    '[{"name": "State sales tax", "rate_percent": 8.00}, {"name": "Local sales tax", "rate_percent": 4.00}]', null,
    'Frames, lenses, contact lenses and optical accessories.')
 ) r(n, code, name, tax_type, applies_to, rate, components, tax_code, description);

-- ---------------------------------------------------------------------------------------------
-- Users (10), their password (Admin@123, bcrypt cost 10) and their roles
-- ---------------------------------------------------------------------------------------------
insert into app_public.users
  (id, email, title, first_name, last_name, display_name, phone, job_title, employee_code, home_hospital_id)
values
  ('20000000-0000-4000-8000-000000000001', 'superadmin@hms.test', 'Ms.', 'Olivia', 'Bennett', null,
   '+1 212-555-0101', 'Chief Information Officer, HMS Group', 'HMS-0001', '10000000-0000-4000-8000-000000000001'),
  ('20000000-0000-4000-8000-000000000002', 'admin.ny@hms.test', 'Mr.', 'Michael', 'Torres', null,
   '+1 212-555-0102', 'Hospital Administrator', 'NY-0002', '10000000-0000-4000-8000-000000000001'),
  ('20000000-0000-4000-8000-000000000003', 'admin.la@hms.test', 'Ms.', 'Jennifer', 'Park', null,
   '+1 323-555-0103', 'Hospital Administrator', 'LA-0003', '10000000-0000-4000-8000-000000000002'),
  ('20000000-0000-4000-8000-000000000004', 'doctor.ny@hms.test', 'Dr.', 'Sarah', 'Mitchell', 'Dr. Sarah Mitchell',
   '+1 212-555-0104', 'Consultant Cardiologist', 'NY-0104', '10000000-0000-4000-8000-000000000001'),
  ('20000000-0000-4000-8000-000000000005', 'doctor.la@hms.test', 'Dr.', 'David', 'Nguyen', 'Dr. David Nguyen',
   '+1 323-555-0105', 'Consultant Orthopedic Surgeon', 'LA-0105', '10000000-0000-4000-8000-000000000002'),
  ('20000000-0000-4000-8000-000000000006', 'doctor.chi@hms.test', 'Dr.', 'Priya', 'Raman', 'Dr. Priya Raman',
   '+1 312-555-0106', 'Consultant Ophthalmologist', 'CHI-0106', '10000000-0000-4000-8000-000000000003'),
  ('20000000-0000-4000-8000-000000000007', 'nurse.ny@hms.test', 'Ms.', 'Emily', 'Johnson', 'Emily Johnson, RN',
   '+1 212-555-0107', 'Registered Nurse & Phlebotomist', 'NY-0207', '10000000-0000-4000-8000-000000000001'),
  ('20000000-0000-4000-8000-000000000008', 'reception.ny@hms.test', 'Mr.', 'Carlos', 'Rivera', null,
   '+1 212-555-0108', 'Front Desk Coordinator', 'NY-0308', '10000000-0000-4000-8000-000000000001'),
  ('20000000-0000-4000-8000-000000000009', 'pharmacist.ny@hms.test', 'Ms.', 'Rachel', 'Kim', 'Rachel Kim, PharmD',
   '+1 212-555-0109', 'Senior Pharmacist', 'NY-0409', '10000000-0000-4000-8000-000000000001'),
  ('20000000-0000-4000-8000-000000000010', 'accountant.ny@hms.test', 'Mr.', 'James', 'O''Connor', null,
   '+1 212-555-0110', 'Senior Accountant', 'NY-0510', '10000000-0000-4000-8000-000000000001');

-- One bcrypt hash per user (each with its own salt).
insert into app_private.user_secrets (user_id, password_hash)
select u.id, crypt('Admin@123', gen_salt('bf', 10))
  from app_public.users u
 where u.email like '%@hms.test';

-- Roles by code (the nine system roles, hospital_id null). hospital null = chain-wide (super admin).
insert into app_public.user_roles (user_id, role_id, hospital_id, department_id, is_primary, valid_from, granted_by, notes)
select v.user_id, r.id, v.hospital_id, v.department_id, v.is_primary,
       make_date(extract(year from current_date)::int - 1, 1, 1),   -- go-live
       case when v.user_id <> '20000000-0000-4000-8000-000000000001'::uuid
            then '20000000-0000-4000-8000-000000000001'::uuid end,  -- granted by the super admin
       v.notes
  from (values
    ('20000000-0000-4000-8000-000000000001'::uuid, 'super_admin',    null::uuid,                                   null::uuid,                                   true,  'Chain-wide administrator.'),
    ('20000000-0000-4000-8000-000000000002'::uuid, 'hospital_admin', '10000000-0000-4000-8000-000000000001'::uuid, null,                                         true,  null),
    ('20000000-0000-4000-8000-000000000003'::uuid, 'hospital_admin', '10000000-0000-4000-8000-000000000002'::uuid, null,                                         true,  null),
    ('20000000-0000-4000-8000-000000000004'::uuid, 'doctor',         '10000000-0000-4000-8000-000000000001'::uuid, 'd0100000-0000-4000-8000-000000000011'::uuid, true,  null),
    ('20000000-0000-4000-8000-000000000005'::uuid, 'doctor',         '10000000-0000-4000-8000-000000000002'::uuid, 'd0100000-0000-4000-8000-000000000021'::uuid, true,  null),
    ('20000000-0000-4000-8000-000000000006'::uuid, 'doctor',         '10000000-0000-4000-8000-000000000003'::uuid, 'd0100000-0000-4000-8000-000000000031'::uuid, true,  null),
    ('20000000-0000-4000-8000-000000000006'::uuid, 'optometrist',    '10000000-0000-4000-8000-000000000003'::uuid, 'd0100000-0000-4000-8000-000000000032'::uuid, false, 'Ophthalmologist: also writes refraction prescriptions and supervises the optical shop.'),
    ('20000000-0000-4000-8000-000000000007'::uuid, 'nurse',          '10000000-0000-4000-8000-000000000001'::uuid, 'd0100000-0000-4000-8000-000000000012'::uuid, true,  null),
    ('20000000-0000-4000-8000-000000000007'::uuid, 'lab_technician', '10000000-0000-4000-8000-000000000001'::uuid, 'd0100000-0000-4000-8000-000000000014'::uuid, false, 'Certified phlebotomist: covers sample collection in the laboratory.'),
    ('20000000-0000-4000-8000-000000000008'::uuid, 'receptionist',   '10000000-0000-4000-8000-000000000001'::uuid, null,                                         true,  null),
    ('20000000-0000-4000-8000-000000000009'::uuid, 'pharmacist',     '10000000-0000-4000-8000-000000000001'::uuid, 'd0100000-0000-4000-8000-000000000013'::uuid, true,  null),
    ('20000000-0000-4000-8000-000000000010'::uuid, 'accountant',     '10000000-0000-4000-8000-000000000001'::uuid, null,                                         true,  null)
  ) v(user_id, role_code, hospital_id, department_id, is_primary, notes)
  join app_public.roles r on r.code = v.role_code and r.hospital_id is null;

-- ---------------------------------------------------------------------------------------------
-- Doctors (3), linked to the doctor users; heads of their departments
-- ---------------------------------------------------------------------------------------------
insert into app_public.doctors
  (id, hospital_id, user_id, department_id, registration_number, registration_council, licence_expiry_date,
   specialization, sub_specialization, qualifications, years_of_experience, languages, employment_type, joined_on,
   consultation_room, bio, accepts_new_patients, offers_teleconsultation, max_patients_per_day)
values
  ('d1100000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000004',
   'd0100000-0000-4000-8000-000000000011', '284519', 'New York State Education Department, Office of the Professions',
   make_date(extract(year from current_date)::int + 2, 6, 30),
   'Cardiology', 'Preventive cardiology and hypertension', '{MD,"FACC (Fellow of the American College of Cardiology)"}', 18,
   '{en,es}', 'full_time', date '2016-09-01', 'Room A-312',
   'Board-certified cardiologist with a special interest in hypertension and lipid disorders.', true, true, 24),
  ('d1100000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000005',
   'd0100000-0000-4000-8000-000000000021', 'A145872', 'Medical Board of California',
   make_date(extract(year from current_date)::int + 1, 11, 30),
   'Orthopedic Surgery', 'Sports medicine and knee surgery', '{MD,"FAAOS (Fellow of the American Academy of Orthopaedic Surgeons)"}', 14,
   '{en,vi}', 'full_time', date '2018-03-15', 'Room E-204',
   'Orthopedic surgeon treating knee and shoulder injuries, osteoarthritis and sports injuries.', true, false, 18),
  ('d1100000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000006',
   'd0100000-0000-4000-8000-000000000031', '036-145227', 'Illinois Department of Financial and Professional Regulation',
   make_date(extract(year from current_date)::int + 2, 7, 31),
   'Ophthalmology', 'Glaucoma', '{MD,"Diplomate, American Board of Ophthalmology"}', 12,
   '{en,hi,ta}', 'full_time', date '2019-07-01', 'Eye Clinic Room 3',
   'Ophthalmologist specialising in glaucoma, also running the refraction and contact-lens clinic.', true, false, 28);

update app_public.departments d
   set head_doctor_id = v.doctor_id
  from (values ('d0100000-0000-4000-8000-000000000011'::uuid, 'd1100000-0000-4000-8000-000000000001'::uuid),
               ('d0100000-0000-4000-8000-000000000021'::uuid, 'd1100000-0000-4000-8000-000000000002'::uuid),
               ('d0100000-0000-4000-8000-000000000031'::uuid, 'd1100000-0000-4000-8000-000000000003'::uuid)) v(department_id, doctor_id)
 where d.id = v.department_id;

-- Weekly schedules (24): Mon–Fri 09:00–13:00 and Mon/Wed/Fri 14:00–17:00 per doctor.
-- Ids: d1110000-…-0000000000HK, K 1–5 = Monday–Friday mornings, 6–8 = Mon/Wed/Fri afternoons.
insert into app_public.doctor_schedules
  (id, hospital_id, doctor_id, department_id, day_of_week, session, start_time, end_time, slot_minutes, max_patients,
   room, valid_from, notes)
select format('d1110000-0000-4000-8000-0000000000%s%s', d.n, s.k)::uuid, d.hospital_id, d.doctor_id, d.department_id,
       s.dow, s.session, s.start_time, s.end_time, d.slot,
       (extract(epoch from s.end_time - s.start_time) / 60 / d.slot)::smallint,   -- one patient per slot
       d.room,
       make_date(extract(year from current_date)::int - 1, 1, 1),                -- go-live
       case s.session when 'afternoon' then 'Follow-ups and test results first.' end
  from (values
    (1, '10000000-0000-4000-8000-000000000001'::uuid, 'd1100000-0000-4000-8000-000000000001'::uuid, 'd0100000-0000-4000-8000-000000000011'::uuid, 15, 'Room A-312'),
    (2, '10000000-0000-4000-8000-000000000002'::uuid, 'd1100000-0000-4000-8000-000000000002'::uuid, 'd0100000-0000-4000-8000-000000000021'::uuid, 20, 'Room E-204'),
    (3, '10000000-0000-4000-8000-000000000003'::uuid, 'd1100000-0000-4000-8000-000000000003'::uuid, 'd0100000-0000-4000-8000-000000000031'::uuid, 15, 'Eye Clinic Room 3')
  ) d(n, hospital_id, doctor_id, department_id, slot, room)
 cross join (values
    (1, 1, 'morning',   time '09:00', time '13:00'),
    (2, 2, 'morning',   time '09:00', time '13:00'),
    (3, 3, 'morning',   time '09:00', time '13:00'),
    (4, 4, 'morning',   time '09:00', time '13:00'),
    (5, 5, 'morning',   time '09:00', time '13:00'),
    (6, 1, 'afternoon', time '14:00', time '17:00'),
    (7, 3, 'afternoon', time '14:00', time '17:00'),
    (8, 5, 'afternoon', time '14:00', time '17:00')
 ) s(k, dow, session, start_time, end_time);

-- Fees: a new consultation and a follow-up per doctor, exempt from tax.
insert into app_public.doctor_fees
  (hospital_id, doctor_id, visit_type, amount, follow_up_window_days, tax_configuration_id, valid_from, notes)
select v.hospital_id, v.doctor_id, v.visit_type, v.amount, v.window_days, t.id,
       make_date(extract(year from current_date)::int - 1, 1, 1), v.notes
  from (values
    ('10000000-0000-4000-8000-000000000001'::uuid, 'd1100000-0000-4000-8000-000000000001'::uuid, 'new_consultation', 250.00, 14::smallint, 'Includes a resting ECG.'),
    ('10000000-0000-4000-8000-000000000001'::uuid, 'd1100000-0000-4000-8000-000000000001'::uuid, 'follow_up',        150.00, null,         null),
    ('10000000-0000-4000-8000-000000000002'::uuid, 'd1100000-0000-4000-8000-000000000002'::uuid, 'new_consultation', 220.00, 14::smallint, null),
    ('10000000-0000-4000-8000-000000000002'::uuid, 'd1100000-0000-4000-8000-000000000002'::uuid, 'follow_up',        140.00, null,         null),
    ('10000000-0000-4000-8000-000000000003'::uuid, 'd1100000-0000-4000-8000-000000000003'::uuid, 'new_consultation', 180.00, 30::smallint, 'Comprehensive eye examination with refraction and tonometry.'),
    ('10000000-0000-4000-8000-000000000003'::uuid, 'd1100000-0000-4000-8000-000000000003'::uuid, 'follow_up',        110.00, null,         null)
  ) v(hospital_id, doctor_id, visit_type, amount, window_days, notes)
  join app_public.tax_configurations t on t.hospital_id = v.hospital_id and t.code = 'CONSULT_EXEMPT';

-- One approved leave: Dr. Nguyen at a course, Wednesday–Friday four weeks from now.
insert into app_public.doctor_leaves
  (hospital_id, doctor_id, leave_type, start_date, end_date, reason, status, approved_by, approved_at, notes)
values
  ('10000000-0000-4000-8000-000000000002', 'd1100000-0000-4000-8000-000000000002', 'conference',
   date_trunc('week', current_date + 28)::date + 2, date_trunc('week', current_date + 28)::date + 4,
   'Regional orthopaedic trauma course (CME).', 'approved', '20000000-0000-4000-8000-000000000003', now(),
   'Patients booked on these days are offered another date by the front desk.');

-- ---------------------------------------------------------------------------------------------
-- Patients (5); the MRN comes from the hospital's numbering (e.g. MRN-NY-000001-X)
-- ---------------------------------------------------------------------------------------------
insert into app_public.patients
  (id, hospital_id, mrn, first_name, middle_name, last_name, preferred_name, date_of_birth, gender, sex_at_birth,
   blood_group, marital_status, phone_primary, email, address_line1, address_line2, city, state_province, postal_code,
   country_code, national_id_type, national_id_number, emergency_contact_name, emergency_contact_relationship,
   emergency_contact_phone, allergies, chronic_conditions, current_medications, preferred_language, occupation,
   nationality, registration_date, referred_by, sms_consent, email_consent, notes)
select v.id, v.hospital_id, app_hidden.hms_generate_id(v.hospital_id, 'patient'), v.first_name, v.middle_name, v.last_name,
       v.preferred_name, v.date_of_birth, v.gender, v.gender, v.blood_group, v.marital_status, v.phone, v.email,
       v.address_line1, v.address_line2, v.city, v.state, v.postal_code, 'US', v.id_type, v.id_number,
       v.ec_name, v.ec_relationship, v.ec_phone, v.allergies, v.chronic, v.medications, v.language, v.occupation, 'US',
       current_date - v.registered_days_ago, v.referred_by, true, v.email is not null, v.notes
  from (values
    (1, 'd1000000-0000-4000-8000-000000000011'::uuid, '10000000-0000-4000-8000-000000000001'::uuid,
     'Robert', 'James', 'Whitaker', 'Bob', date '1961-03-14', 'male', 'A+', 'married',
     '+1 917-555-0141', 'bob.whitaker@example.com', '214 East 29th Street', 'Apt 5C', 'New York', 'NY', '10016',
     'driving_licence', 'NY-D481-227-913', 'Linda Whitaker', 'spouse', '+1 917-555-0142',
     '{"Penicillin (hives)"}'::text[], '{"Essential hypertension","Hyperlipidaemia"}'::text[],
     '{"Lisinopril 10 mg once daily"}'::text[], 'en', 'Retired transit bus operator',
     400, 'Dr. Alan Feld, General Medicine (internal referral)', null),
    (2, 'd1000000-0000-4000-8000-000000000012'::uuid, '10000000-0000-4000-8000-000000000001'::uuid,
     'Maria', 'Elena', 'Gonzalez', null, date '1988-07-22', 'female', 'O+', 'single',
     '+1 347-555-0143', 'maria.gonzalez@example.com', '88 Bedford Park Boulevard', null, 'Bronx', 'NY', '10468',
     null, null, 'Ana Gonzalez', 'mother', '+1 347-555-0144',
     '{Latex}'::text[], '{"Mild persistent asthma"}'::text[],
     '{"Budesonide/formoterol 160/4.5 mcg inhaler, 2 puffs twice daily"}'::text[], 'es-US', 'Elementary school teacher',
     3, null, 'Prefers appointments after 3 pm on school days when possible.'),
    (3, 'd1000000-0000-4000-8000-000000000021'::uuid, '10000000-0000-4000-8000-000000000002'::uuid,
     'Kevin', 'Thomas', 'Brooks', null, date '1979-11-02', 'male', 'B+', 'married',
     '+1 213-555-0145', 'kevin.brooks@example.com', '1537 North Vermont Avenue', null, 'Los Angeles', 'CA', '90027',
     'driving_licence', 'CA-B7734021', 'Tanya Brooks', 'spouse', '+1 213-555-0146',
     '{"Sulfonamides (rash)"}'::text[], '{"Type 2 diabetes mellitus"}'::text[],
     '{"Metformin 500 mg twice daily"}'::text[], 'en', 'Warehouse supervisor',
     30, 'Self-referred (knee pain)', null),
    (4, 'd1000000-0000-4000-8000-000000000022'::uuid, '10000000-0000-4000-8000-000000000002'::uuid,
     'Aisha', null, 'Rahman', null, date '1995-05-09', 'female', 'AB+', 'married',
     '+1 310-555-0147', 'aisha.rahman@example.com', '3300 Glendale Boulevard', 'Unit 12', 'Los Angeles', 'CA', '90039',
     null, null, 'Imran Rahman', 'spouse', '+1 310-555-0148',
     '{}'::text[], '{}'::text[], '{}'::text[], 'en', 'Physical therapist assistant',
     1, 'Urgent care clinic, Silver Lake', 'Twisted left ankle playing soccer; X-ray at urgent care showed no fracture.'),
    (5, 'd1000000-0000-4000-8000-000000000031'::uuid, '10000000-0000-4000-8000-000000000003'::uuid,
     'Harold', 'Lee', 'Jensen', 'Hal', date '1954-09-30', 'male', 'O-', 'widowed',
     '+1 773-555-0149', null, '5021 North Winthrop Avenue', null, 'Chicago', 'IL', '60640',
     null, null, 'Karen Jensen-Miller', 'daughter', '+1 773-555-0150',
     '{"Sulfa drugs","Shellfish"}'::text[], '{"Primary open-angle glaucoma","Type 2 diabetes mellitus"}'::text[],
     '{"Metformin 1000 mg twice daily","Timolol 0.5% eye drops (stopped: slow heart rate)"}'::text[], 'en', 'Retired machinist',
     800, null, 'Hard of hearing on the left: speak on his right side.')
  ) v(n, id, hospital_id, first_name, middle_name, last_name, preferred_name, date_of_birth, gender, blood_group,
      marital_status, phone, email, address_line1, address_line2, city, state, postal_code, id_type, id_number,
      ec_name, ec_relationship, ec_phone, allergies, chronic, medications, language, occupation,
      registered_days_ago, referred_by, notes)
 order by v.n;

-- Insurance: one provider per hospital and a policy for the second NY patient.
insert into app_public.insurance_providers
  (id, hospital_id, code, name, provider_type, payer_id, contact_person, contact_phone, contact_email, address_line1,
   city, state_province, postal_code, country_code, portal_url, claim_submission_method, claim_submission_email,
   settlement_days, contract_start_date, contract_end_date, discount_percent, is_cashless_enabled, notes)
values
  ('d3100000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'ATLANTIC', 'Atlantic Health Assurance',
   'private_insurer', '60054', 'Provider Relations Desk', '+1 800-555-0161', 'providers@atlantic-health.example',
   '100 Wall Street', 'New York', 'NY', '10005', 'US', 'https://providers.atlantic-health.example', 'edi', null,
   30, make_date(extract(year from current_date)::int - 1, 1, 1), make_date(extract(year from current_date)::int + 1, 12, 31),
   8.00, true, 'PPO and HMO plans; prior authorization needed for imaging and procedures.'),
  ('d3100000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', 'PACIFIC_TPA', 'Pacific Coast Benefits Administrators',
   'tpa', '95432', 'Claims Unit', '+1 800-555-0162', 'claims@pacific-benefits.example',
   '600 Wilshire Boulevard', 'Los Angeles', 'CA', '90017', 'US', 'https://portal.pacific-benefits.example', 'portal', null,
   45, make_date(extract(year from current_date)::int - 1, 1, 1), null,
   5.00, false, 'Administers self-funded employer plans in Southern California.'),
  ('d3100000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000003', 'GREAT_LAKES_VISION', 'Great Lakes Vision Plan',
   'private_insurer', '36987', 'Network Services', '+1 800-555-0163', 'network@glvision.example',
   '200 East Randolph Street', 'Chicago', 'IL', '60601', 'US', null, 'email', 'claims@glvision.example',
   21, make_date(extract(year from current_date)::int - 1, 1, 1), null,
   10.00, false, 'Vision benefit: one eye examination and one pair of spectacles or contact lenses every 12 months.');

insert into app_public.insurance_policies
  (hospital_id, patient_id, provider_id, policy_number, member_id, group_number, plan_name, policy_holder_name,
   relationship_to_holder, valid_from, valid_to, coverage_percent, per_visit_limit, co_pay_amount, deductible_amount,
   is_primary, status, verified_at, verified_by, notes)
values
  ('10000000-0000-4000-8000-000000000001', 'd1000000-0000-4000-8000-000000000012', 'd3100000-0000-4000-8000-000000000001',
   'AHA-PPO-55201873', 'W284001930', 'NYC-DOE-100245', 'Gold PPO 1500', 'Maria Elena Gonzalez', 'self',
   make_date(extract(year from current_date)::int, 1, 1), make_date(extract(year from current_date)::int, 12, 31),
   80.00, null, 30.00, 1500.00, true, 'active', now(), '20000000-0000-4000-8000-000000000008',
   'Employer plan (NYC Department of Education). Specialist visits: $30 co-pay.');

-- ID cards: a patient health card each (numbers IDC-<hospital>-00000001-<check>).
insert into app_public.id_cards
  (hospital_id, card_number, holder_type, patient_id, card_type, issued_at, valid_from, valid_until, status,
   barcode_value, qr_payload, print_count, last_printed_at)
select c.hospital_id, c.card_number, 'patient', c.patient_id, 'patient_health_card', c.issued_at, c.registration_date,
       c.registration_date + interval '5 years' - interval '1 day', 'active',
       c.card_number, json_build_object('card', c.card_number, 'patient', c.patient_id)::text, 1, c.issued_at
  from (select p.hospital_id, p.id as patient_id, p.registration_date,
               (p.registration_date + time '10:30') at time zone h.time_zone as issued_at,
               app_hidden.hms_generate_id(p.hospital_id, 'id_card') as card_number   -- numbered in patient order
          from app_public.patients p
          join app_public.hospitals h on h.id = p.hospital_id
         where p.id in ('d1000000-0000-4000-8000-000000000011', 'd1000000-0000-4000-8000-000000000012',
                        'd1000000-0000-4000-8000-000000000021', 'd1000000-0000-4000-8000-000000000022',
                        'd1000000-0000-4000-8000-000000000031')
         order by p.id) c;

-- ---------------------------------------------------------------------------------------------
-- Appointments (5): one per patient. Completed on the previous weekday at 10:00, booked for the
-- next weekday at 11:00 — local hospital time, in the doctor's morning session, slot-aligned.
-- ---------------------------------------------------------------------------------------------
insert into app_public.appointments
  (id, hospital_id, appointment_number, patient_id, doctor_id, department_id, schedule_id, visit_type,
   scheduled_start, scheduled_end, status, booking_source, priority, reason_for_visit, chief_complaint, referred_by,
   quoted_fee, checked_in_at, started_at, completed_at, notes, created_by)
select v.id, v.hospital_id, app_hidden.hms_generate_id(v.hospital_id, 'appointment'), v.patient_id, v.doctor_id,
       dr.department_id, s.id, 'new_consultation',
       t.start_at, t.start_at + make_interval(mins => s.slot_minutes), v.status, v.booking_source, 'routine',
       v.reason, v.complaint, p.referred_by, f.amount,
       case when v.status = 'completed' then t.start_at - interval '12 minutes' end,                     -- checked in
       case when v.status = 'completed' then t.start_at + interval '2 minutes' end,                      -- consultation starts
       case when v.status = 'completed' then t.start_at + make_interval(mins => s.slot_minutes - 1) end, -- and ends
       v.notes, v.booked_by
  from (values
    (1, 'd1200000-0000-4000-8000-000000000011'::uuid, '10000000-0000-4000-8000-000000000001'::uuid,
     'd1000000-0000-4000-8000-000000000011'::uuid, 'd1100000-0000-4000-8000-000000000001'::uuid,
     'completed', 'previous', time '10:00', 'phone', '20000000-0000-4000-8000-000000000008'::uuid,
     'Blood pressure above target on treatment; cholesterol review.',
     'Home blood pressure readings around 150/95 for a month; occasional tightness in the chest climbing stairs.', null),
    (2, 'd1200000-0000-4000-8000-000000000012'::uuid, '10000000-0000-4000-8000-000000000001'::uuid,
     'd1000000-0000-4000-8000-000000000012'::uuid, 'd1100000-0000-4000-8000-000000000001'::uuid,
     'booked', 'next', time '11:00', 'web', null::uuid,
     'Palpitations at night for three weeks.', null, 'Booked online by the patient.'),
    (3, 'd1200000-0000-4000-8000-000000000021'::uuid, '10000000-0000-4000-8000-000000000002'::uuid,
     'd1000000-0000-4000-8000-000000000021'::uuid, 'd1100000-0000-4000-8000-000000000002'::uuid,
     'completed', 'previous', time '10:00', 'web', null::uuid,
     'Right knee pain.',
     'Right knee pain and stiffness for six months, worse on stairs and after long shifts standing.', null),
    (4, 'd1200000-0000-4000-8000-000000000022'::uuid, '10000000-0000-4000-8000-000000000002'::uuid,
     'd1000000-0000-4000-8000-000000000022'::uuid, 'd1100000-0000-4000-8000-000000000002'::uuid,
     'booked', 'next', time '11:00', 'referral', '20000000-0000-4000-8000-000000000003'::uuid,
     'Left ankle sprain, not improving after two weeks.', null, 'Bring the urgent care X-ray report.'),
    (5, 'd1200000-0000-4000-8000-000000000031'::uuid, '10000000-0000-4000-8000-000000000003'::uuid,
     'd1000000-0000-4000-8000-000000000031'::uuid, 'd1100000-0000-4000-8000-000000000003'::uuid,
     'completed', 'previous', time '10:00', 'phone', '20000000-0000-4000-8000-000000000006'::uuid,
     'Glaucoma review and new reading glasses.',
     'Blurred near vision; due for glaucoma pressure check after stopping timolol.', null)
  ) v(n, id, hospital_id, patient_id, doctor_id, status, day, start_time, booking_source, booked_by, reason, complaint, notes)
  join app_public.hospitals h on h.id = v.hospital_id
  join app_public.doctors dr on dr.id = v.doctor_id
  join app_public.patients p on p.id = v.patient_id
 cross join lateral (select (now() at time zone h.time_zone)::date as today) l
 cross join lateral (
   select case v.day
            -- previous Monday–Friday before today (Mon → Fri, Sun → Fri, Sat → Fri, else yesterday)
            when 'previous' then l.today - case extract(isodow from l.today)::int when 1 then 3 when 7 then 2 else 1 end
            -- next Monday–Friday after today (Fri → Mon, Sat → Mon, else tomorrow)
            else l.today + case extract(isodow from l.today)::int when 5 then 3 when 6 then 2 else 1 end
          end as visit_date) d
 cross join lateral (select (d.visit_date + v.start_time) at time zone h.time_zone as start_at) t
  join app_public.doctor_schedules s
    on s.hospital_id = v.hospital_id and s.doctor_id = v.doctor_id and s.session = 'morning'
   and s.day_of_week = extract(dow from d.visit_date)
  join app_public.doctor_fees f
    on f.hospital_id = v.hospital_id and f.doctor_id = v.doctor_id and f.visit_type = 'new_consultation'
 order by v.n;

-- Status history: booked → checked_in → in_progress → completed for the visits that took place,
-- the booking itself for the two future appointments.
insert into app_public.appointment_status_log
  (hospital_id, appointment_id, from_status, to_status, changed_at, changed_by, notes, created_by)
select a.hospital_id, a.id, x.from_status, x.to_status, x.changed_at, x.changed_by, x.notes, x.changed_by
  from app_public.appointments a
  join app_public.doctors dr on dr.id = a.doctor_id
  join (values
    ('d1200000-0000-4000-8000-000000000011'::uuid, '20000000-0000-4000-8000-000000000008'::uuid),
    ('d1200000-0000-4000-8000-000000000021'::uuid, '20000000-0000-4000-8000-000000000003'::uuid),
    ('d1200000-0000-4000-8000-000000000031'::uuid, '20000000-0000-4000-8000-000000000006'::uuid)
  ) desk(appointment_id, user_id) on desk.appointment_id = a.id
 cross join lateral (values
    (1, null,          'booked',      a.scheduled_start - interval '7 days' + interval '95 minutes', a.created_by,
        'Booked by ' || a.booking_source || '.'),
    (2, 'booked',      'checked_in',  a.checked_in_at, desk.user_id, 'Arrived at reception; queue token issued.'),
    (3, 'checked_in',  'in_progress', a.started_at,    dr.user_id,   null),
    (4, 'in_progress', 'completed',   a.completed_at,  dr.user_id,   null)
 ) x(n, from_status, to_status, changed_at, changed_by, notes)
 where a.status = 'completed'
union all
select a.hospital_id, a.id, null, 'booked', now(), a.created_by, 'Booked by ' || a.booking_source || '.', a.created_by
  from app_public.appointments a
 where a.status = 'booked'
   and a.id in ('d1200000-0000-4000-8000-000000000012', 'd1200000-0000-4000-8000-000000000022');

-- Queue tokens of the checked-in visits (token 1 of the day in the department). The label comes
-- from the hospital-wide queue_token sequence (e.g. Q-001): a department-scoped call would
-- provision an extra id_sequences row per department, and the demo keeps the 63 provisioned rows.
insert into app_public.appointment_queue
  (hospital_id, queue_date, department_id, doctor_id, appointment_id, patient_id, token_number, token_label, priority,
   status, checked_in_at, called_at, call_count, consultation_started_at, completed_at, counter, estimated_wait_minutes,
   created_by)
select a.hospital_id, (a.scheduled_start at time zone h.time_zone)::date, a.department_id, a.doctor_id, a.id, a.patient_id,
       1, app_hidden.hms_generate_id(a.hospital_id, 'queue_token'),
       case when age((a.scheduled_start at time zone h.time_zone)::date, p.date_of_birth) >= interval '65 years'
            then 'senior_citizen' else 'normal' end,
       'completed', a.checked_in_at, a.started_at - interval '1 minute', 1, a.started_at, a.completed_at,
       dr.consultation_room, 12, a.created_by
  from app_public.appointments a
  join app_public.hospitals h on h.id = a.hospital_id
  join app_public.patients p on p.id = a.patient_id
  join app_public.doctors dr on dr.id = a.doctor_id
 where a.status = 'completed'
   and a.id in ('d1200000-0000-4000-8000-000000000011', 'd1200000-0000-4000-8000-000000000021',
                'd1200000-0000-4000-8000-000000000031')
 order by a.id;

-- ---------------------------------------------------------------------------------------------
-- Medicines (10): NY 4, LA 3, CHI 3 (eye drops), taxed at the hospital's medicine rate
-- ---------------------------------------------------------------------------------------------
insert into app_public.medicines
  (id, hospital_id, item_code, generic_name, brand_name, manufacturer, dosage_form, strength, strength_value,
   strength_unit, base_unit, pack_size, route, therapeutic_class, atc_code, barcode, schedule_category,
   storage_conditions, protect_from_light, reorder_level, reorder_quantity, max_stock_level, purchase_price,
   selling_price, tax_configuration_id, side_effects, contraindications)
select v.id, v.hospital_id, v.item_code, v.generic_name, v.brand_name, v.manufacturer, v.dosage_form, v.strength,
       v.strength_value, v.strength_unit, v.base_unit, v.pack_size, v.route, v.therapeutic_class, v.atc_code, v.barcode,
       v.schedule_category, v.storage, v.protect_from_light, v.reorder_level, v.reorder_quantity, v.max_stock,
       v.purchase_price, v.selling_price, t.id, v.side_effects, v.contraindications
  from (values
    -- HMS Core NY (cardiology)
    ('d2000000-0000-4000-8000-000000000011'::uuid, '10000000-0000-4000-8000-000000000001'::uuid, 'ATOR20T',
     'Atorvastatin calcium', 'Lipitor', 'Pfizer', 'tablet', '20 mg', 20.0, 'mg', 'tablet', 30, 'oral',
     'HMG-CoA reductase inhibitor (statin)', 'C10AA05', '0071015523', 'prescription_only', 'room_temperature', false,
     200, 600, 2000, 0.32, 0.85,
     'Muscle aches, raised liver enzymes, headache.', 'Active liver disease; pregnancy and breastfeeding.'),
    ('d2000000-0000-4000-8000-000000000012'::uuid, '10000000-0000-4000-8000-000000000001'::uuid, 'AMLO5T',
     'Amlodipine besylate', 'Norvasc', 'Pfizer', 'tablet', '5 mg', 5.0, 'mg', 'tablet', 30, 'oral',
     'Dihydropyridine calcium channel blocker', 'C08CA01', '0069152030', 'prescription_only', 'room_temperature', false,
     200, 600, 2000, 0.18, 0.60,
     'Ankle swelling, flushing, headache, dizziness.', 'Cardiogenic shock; severe aortic stenosis.'),
    ('d2000000-0000-4000-8000-000000000013'::uuid, '10000000-0000-4000-8000-000000000001'::uuid, 'METO50ER',
     'Metoprolol succinate', 'Toprol-XL', 'AstraZeneca', 'tablet', '50 mg extended-release', 50.0, 'mg', 'tablet', 30, 'oral',
     'Beta-1 selective adrenergic blocker', 'C07AB02', '0186109205', 'prescription_only', 'room_temperature', false,
     150, 450, 1500, 0.25, 0.75,
     'Tiredness, slow heart rate, cold hands and feet.', 'Severe bradycardia; second- or third-degree heart block; decompensated heart failure.'),
    ('d2000000-0000-4000-8000-000000000014'::uuid, '10000000-0000-4000-8000-000000000001'::uuid, 'ASA81T',
     'Acetylsalicylic acid (aspirin)', 'Bayer Low Dose Aspirin', 'Bayer HealthCare', 'tablet', '81 mg delayed-release', 81.0, 'mg', 'tablet', 120, 'oral',
     'Antiplatelet agent', 'B01AC06', '0312843512', 'otc', 'room_temperature', false,
     300, 1200, 3000, 0.03, 0.10,
     'Indigestion, bruising, gastrointestinal bleeding.', 'Active peptic ulcer; bleeding disorders; aspirin allergy.'),
    -- Apollo LA (orthopedics)
    ('d2000000-0000-4000-8000-000000000021'::uuid, '10000000-0000-4000-8000-000000000002'::uuid, 'IBU400T',
     'Ibuprofen', 'Motrin', 'Kenvue', 'tablet', '400 mg', 400.0, 'mg', 'tablet', 100, 'oral',
     'Non-steroidal anti-inflammatory drug (NSAID)', 'M01AE01', '5058049612', 'prescription_only', 'room_temperature', false,
     200, 500, 1500, 0.12, 0.40,
     'Heartburn, nausea, stomach ulcer or bleeding; raised blood pressure.', 'Active peptic ulcer; severe kidney or heart failure; third trimester of pregnancy.'),
    ('d2000000-0000-4000-8000-000000000022'::uuid, '10000000-0000-4000-8000-000000000002'::uuid, 'DICLO1G',
     'Diclofenac sodium', 'Voltaren Arthritis Pain', 'Haleon', 'gel', '1% (100 g tube)', 1.0, '%', 'tube', 1, 'topical',
     'Topical NSAID', 'M02AA15', '0083009410', 'otc', 'room_temperature', false,
     15, 40, 120, 7.20, 14.50,
     'Skin redness, itching or dryness where applied.', 'Broken or infected skin; allergy to NSAIDs.'),
    ('d2000000-0000-4000-8000-000000000023'::uuid, '10000000-0000-4000-8000-000000000002'::uuid, 'CALC600T',
     'Calcium carbonate', 'Caltrate 600', 'Haleon', 'tablet', '1500 mg (600 mg calcium)', 1500.0, 'mg', 'tablet', 60, 'oral',
     'Calcium supplement', 'A12AA04', '0300540439', 'otc', 'room_temperature', false,
     200, 600, 1800, 0.05, 0.15,
     'Constipation, bloating.', 'Hypercalcaemia; kidney stones of calcium.'),
    -- Max Chicago (eye care)
    ('d2000000-0000-4000-8000-000000000031'::uuid, '10000000-0000-4000-8000-000000000003'::uuid, 'LATANO-ED',
     'Latanoprost', 'Xalatan', 'Pfizer', 'drops', '0.005% (2.5 ml)', 0.005, '%', 'bottle', 1, 'ophthalmic',
     'Prostaglandin analogue (glaucoma)', 'S01EE01', '0013830404', 'prescription_only', 'refrigerated', true,
     10, 24, 60, 14.00, 32.00,
     'Red eyes, darkening of the iris and eyelashes, eye irritation.', 'Hypersensitivity to latanoprost or benzalkonium chloride.'),
    ('d2000000-0000-4000-8000-000000000032'::uuid, '10000000-0000-4000-8000-000000000003'::uuid, 'MOXI-ED',
     'Moxifloxacin hydrochloride', 'Vigamox', 'Alcon', 'drops', '0.5% (3 ml)', 0.5, '%', 'bottle', 1, 'ophthalmic',
     'Fluoroquinolone antibiotic (eye)', 'S01AE07', '0065400603', 'prescription_only', 'room_temperature', false,
     10, 30, 80, 18.00, 38.00,
     'Eye irritation, blurred vision for a few minutes after use.', 'Hypersensitivity to quinolones.'),
    ('d2000000-0000-4000-8000-000000000033'::uuid, '10000000-0000-4000-8000-000000000003'::uuid, 'CMC05-ED',
     'Carboxymethylcellulose sodium', 'Refresh Tears', 'Allergan', 'drops', '0.5% (15 ml)', 0.5, '%', 'bottle', 1, 'ophthalmic',
     'Ocular lubricant (artificial tears)', 'S01XA20', '0023079815', 'otc', 'room_temperature', false,
     20, 60, 150, 4.80, 11.50,
     'Brief blurred vision or stinging.', 'Hypersensitivity to any ingredient.')
  ) v(id, hospital_id, item_code, generic_name, brand_name, manufacturer, dosage_form, strength, strength_value,
      strength_unit, base_unit, pack_size, route, therapeutic_class, atc_code, barcode, schedule_category, storage,
      protect_from_light, reorder_level, reorder_quantity, max_stock, purchase_price, selling_price, side_effects,
      contraindications)
  join app_public.tax_configurations t on t.hospital_id = v.hospital_id and t.code = 'MED_5';

-- Batches: at least one per medicine. Expiry dates follow the loading date: NY keeps one batch
-- past its expiry (still on the shelf, status expired, awaiting write-off) and one expiring in 45 days.
insert into app_public.medicine_batches
  (id, hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, quantity_received, quantity_on_hand,
   unit_cost, received_at, storage_location, status, notes)
select v.id, m.hospital_id, m.id, v.batch_number, current_date - v.made_days_ago, current_date + v.expires_in_days,
       v.quantity, 0, m.purchase_price, now() - make_interval(days => v.received_days_ago), v.location, v.status, v.notes
  from (values
    ('d2010000-0000-4000-8000-000000000111'::uuid, 'd2000000-0000-4000-8000-000000000011'::uuid, 'LPT24K118', 200,  600, 600, 60,  'Main pharmacy · Rack A2 · Bin 04', 'active', null),
    ('d2010000-0000-4000-8000-000000000121'::uuid, 'd2000000-0000-4000-8000-000000000012'::uuid, 'NRV24J221', 150,  480, 420, 45,  'Main pharmacy · Rack A2 · Bin 07', 'active', null),
    ('d2010000-0000-4000-8000-000000000122'::uuid, 'd2000000-0000-4000-8000-000000000012'::uuid, 'NRV23D097', 680,   45, 120, 400, 'Main pharmacy · Rack A2 · Bin 08', 'active',
     'Expires within 60 days: dispense first (first expiry, first out).'),
    ('d2010000-0000-4000-8000-000000000131'::uuid, 'd2000000-0000-4000-8000-000000000013'::uuid, 'TXL24G310', 240,  420, 300, 90,  'Main pharmacy · Rack A3 · Bin 02', 'active', null),
    ('d2010000-0000-4000-8000-000000000141'::uuid, 'd2000000-0000-4000-8000-000000000014'::uuid, 'BAY25A014',  90,  720, 1000, 30, 'Main pharmacy · OTC shelf 1', 'active', null),
    ('d2010000-0000-4000-8000-000000000142'::uuid, 'd2000000-0000-4000-8000-000000000014'::uuid, 'BAY23C552', 750,  -20, 60, 700,  'Main pharmacy · Quarantine shelf', 'expired',
     'Past its expiry date; awaiting write-off or return to the supplier. Never dispense.'),
    ('d2010000-0000-4000-8000-000000000211'::uuid, 'd2000000-0000-4000-8000-000000000021'::uuid, 'MTR24H077', 180,  540, 500, 50,  'Pharmacy · Rack 1 · Bin 03', 'active', null),
    ('d2010000-0000-4000-8000-000000000221'::uuid, 'd2000000-0000-4000-8000-000000000022'::uuid, 'VOL24F330', 200,  530, 40, 40,   'Pharmacy · OTC shelf 2', 'active', null),
    ('d2010000-0000-4000-8000-000000000231'::uuid, 'd2000000-0000-4000-8000-000000000023'::uuid, 'CTR24E512', 160,  900, 600, 35,  'Pharmacy · OTC shelf 3', 'active', null),
    ('d2010000-0000-4000-8000-000000000311'::uuid, 'd2000000-0000-4000-8000-000000000031'::uuid, 'XAL24L019',  70,  660, 24, 20,   'Pharmacy fridge 1 (2–8 °C)', 'active', null),
    ('d2010000-0000-4000-8000-000000000321'::uuid, 'd2000000-0000-4000-8000-000000000032'::uuid, 'VGM24K203', 120,  600, 30, 30,   'Eye clinic pharmacy · Drawer 2', 'active', null),
    ('d2010000-0000-4000-8000-000000000331'::uuid, 'd2000000-0000-4000-8000-000000000033'::uuid, 'RFT25A088',  60,  700, 60, 25,   'Eye clinic pharmacy · Drawer 4', 'active', null)
  ) v(id, medicine_id, batch_number, made_days_ago, expires_in_days, quantity, received_days_ago, location, status, notes)
  join app_public.medicines m on m.id = v.medicine_id;

-- The stock ledger: batches start empty and one opening_balance movement per batch brings its
-- stock in (the ledger trigger applies it), so each batch's quantity_on_hand equals the sum of
-- its movements.
insert into app_public.stock_movements
  (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, unit_cost, occurred_at,
   reason, performed_by)
select b.hospital_id, 'opening_balance', 'medicine', b.medicine_id, b.id, b.quantity_received, b.quantity_received,
       b.unit_cost, b.received_at, 'Opening balance of the batch when the demo stock was loaded.',
       case b.hospital_id when '10000000-0000-4000-8000-000000000001' then '20000000-0000-4000-8000-000000000009'::uuid end
  from app_public.medicine_batches b
 where b.quantity_received > 0
   and b.hospital_id in ('10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002',
                         '10000000-0000-4000-8000-000000000003')
 order by b.id;

-- ---------------------------------------------------------------------------------------------
-- Prescriptions (3): one per completed visit, finalized, with items and a version-1 snapshot
-- ---------------------------------------------------------------------------------------------
insert into app_public.prescriptions
  (id, hospital_id, prescription_number, patient_id, doctor_id, appointment_id, prescribed_at, status, version,
   diagnosis, diagnosis_codes, chief_complaint, clinical_notes, advice, follow_up_date, valid_until, finalized_at,
   finalized_by, created_by)
select v.id, a.hospital_id, app_hidden.hms_generate_id(a.hospital_id, 'prescription'), a.patient_id, a.doctor_id, a.id,
       a.completed_at - interval '4 minutes', 'finalized', 1, v.diagnosis, v.codes, a.chief_complaint, v.clinical_notes,
       v.advice, (a.scheduled_start at time zone h.time_zone)::date + v.follow_up_days,
       (a.scheduled_start at time zone h.time_zone)::date + hs.prescription_validity_days,
       a.completed_at - interval '1 minute', dr.user_id, dr.user_id
  from (values
    (1, 'd2100000-0000-4000-8000-000000000001'::uuid, 'd1200000-0000-4000-8000-000000000011'::uuid,
     'Essential hypertension, above target on lisinopril; mixed hyperlipidaemia.', '{I10,E78.2}'::text[],
     'BP 152/94 (seated, repeated), HR 72 regular. ECG: sinus rhythm, no ischaemic changes. LDL 168 mg/dL (last month). '
       || 'Exertional chest tightness atypical; exercise stress test to be arranged.',
     'Low-salt (DASH) diet, 30 minutes of brisk walking five days a week. Keep a home blood-pressure log twice a day. '
       || 'Call 911 for chest pain at rest or lasting more than 15 minutes.', 28),
    (2, 'd2100000-0000-4000-8000-000000000002'::uuid, 'd1200000-0000-4000-8000-000000000021'::uuid,
     'Primary osteoarthritis of the right knee.', '{M17.11}'::text[],
     'Medial joint-line tenderness, crepitus, no effusion, full extension, flexion 120°. Standing X-ray: medial joint-space '
       || 'narrowing (Kellgren–Lawrence grade 2). HbA1c 6.9% last quarter.',
     'Quadriceps strengthening exercises daily; physiotherapy referral given. Lose 5 kg over 3 months. '
       || 'Avoid kneeling and deep squats. Take ibuprofen with food.', 42),
    (3, 'd2100000-0000-4000-8000-000000000003'::uuid, 'd1200000-0000-4000-8000-000000000031'::uuid,
     'Primary open-angle glaucoma, both eyes, mild stage; presbyopia.', '{H40.1131,H52.4}'::text[],
     'IOP 23 mmHg right, 24 mmHg left (Goldmann) off treatment since timolol stopped for bradycardia. Cup-to-disc 0.6 both eyes, '
       || 'visual fields: early superior arcuate defect left. Refraction: see eye prescription.',
     'Use the drops every evening, even when your eyes feel fine. Bring all eye drops to the next visit.', 42)
  ) v(n, id, appointment_id, diagnosis, codes, clinical_notes, advice, follow_up_days)
  join app_public.appointments a on a.id = v.appointment_id
  join app_public.hospitals h on h.id = a.hospital_id
  join app_public.hospital_settings hs on hs.hospital_id = a.hospital_id
  join app_public.doctors dr on dr.id = a.doctor_id
 order by v.n;

insert into app_public.prescription_items
  (hospital_id, prescription_id, line_number, medicine_id, drug_name, dose, dose_quantity, dose_unit, frequency,
   frequency_per_day, route, duration_days, quantity_prescribed, quantity_dispensed, timing, instructions, is_prn,
   substitution_allowed, created_by)
select p.hospital_id, p.id, v.line_number, m.id,
       m.generic_name || ' ' || m.strength || coalesce(' (' || m.brand_name || ')', ''),
       v.dose, v.dose_quantity, v.dose_unit, v.frequency, v.frequency_per_day, m.route, v.duration_days,
       v.quantity, 0, v.timing, v.instructions, v.is_prn, true, p.created_by
  from (values
    ('d2100000-0000-4000-8000-000000000001'::uuid, 1, 'd2000000-0000-4000-8000-000000000011'::uuid, '20 mg', 1.0, 'tablet',
     'Once daily at bedtime', 1.0, 30, 30, 'bedtime', 'Report unexplained muscle pain or weakness.', false),
    ('d2100000-0000-4000-8000-000000000001'::uuid, 2, 'd2000000-0000-4000-8000-000000000012'::uuid, '5 mg', 1.0, 'tablet',
     'Once daily in the morning', 1.0, 30, 30, 'any', 'Continue lisinopril 10 mg. Ankle swelling is common; tell us if it bothers you.', false),
    ('d2100000-0000-4000-8000-000000000002'::uuid, 1, 'd2000000-0000-4000-8000-000000000021'::uuid, '400 mg', 1.0, 'tablet',
     'Three times a day', 3.0, 10, 30, 'after_food', 'Stop and call if you have black stools or stomach pain.', false),
    ('d2100000-0000-4000-8000-000000000002'::uuid, 2, 'd2000000-0000-4000-8000-000000000022'::uuid, '4 g', 4.0, 'g',
     'Four times a day', 4.0, 14, 1, 'any', 'Rub gently into the right knee; use the dosing card. Wash hands after use.', false),
    ('d2100000-0000-4000-8000-000000000003'::uuid, 1, 'd2000000-0000-4000-8000-000000000031'::uuid, '1 drop', 1.0, 'drop',
     'Once daily in the evening, both eyes', 1.0, 30, 1, 'bedtime', 'One drop in each eye. Keep the unopened bottle in the refrigerator.', false),
    ('d2100000-0000-4000-8000-000000000003'::uuid, 2, 'd2000000-0000-4000-8000-000000000033'::uuid, '1 drop', 1.0, 'drop',
     'Up to four times a day when eyes feel dry, both eyes', 4.0, 30, 1, 'any', 'Wait 5 minutes between different eye drops.', true)
  ) v(prescription_id, line_number, medicine_id, dose, dose_quantity, dose_unit, frequency, frequency_per_day,
      duration_days, quantity, timing, instructions, is_prn)
  join app_public.prescriptions p on p.id = v.prescription_id
  join app_public.medicines m on m.id = v.medicine_id;

-- Version 1 = the prescription as finalized, with its lines.
insert into app_public.prescription_versions
  (hospital_id, prescription_id, version, snapshot, change_reason, changed_at, changed_by, created_by)
select p.hospital_id, p.id, 1,
       (to_jsonb(p) - array['created_at', 'updated_at', 'created_by', 'updated_by'])
         || jsonb_build_object('items',
              (select jsonb_agg(to_jsonb(i) - array['hospital_id', 'prescription_id', 'created_at', 'updated_at', 'created_by', 'updated_by']
                                order by i.line_number)
                 from app_public.prescription_items i
                where i.hospital_id = p.hospital_id and i.prescription_id = p.id)),
       'Finalized', p.finalized_at, p.finalized_by, p.finalized_by
  from app_public.prescriptions p
 where p.id in ('d2100000-0000-4000-8000-000000000001', 'd2100000-0000-4000-8000-000000000002',
                'd2100000-0000-4000-8000-000000000003');

-- ---------------------------------------------------------------------------------------------
-- Optical (CHI): 7 products with their opening stock, the eye prescription written at the visit
-- and a small delivered order (a spectacle case), whose sale is in the stock ledger
-- ---------------------------------------------------------------------------------------------
insert into app_public.optical_products
  (id, hospital_id, sku, barcode, name, product_type, brand, model, color, material, frame_type, frame_shape,
   eye_size_mm, bridge_mm, temple_mm, gender_target, lens_type, lens_material, lens_index, coatings, sphere_min,
   sphere_max, cylinder_min, cylinder_max, replacement_schedule, base_curve_mm, diameter_mm, unit_of_measure,
   purchase_price, selling_price, tax_configuration_id, quantity_on_hand, reorder_level, supplier_name, warranty_months)
select v.id, '10000000-0000-4000-8000-000000000003', v.sku, v.barcode, v.name, v.product_type, v.brand, v.model, v.color,
       v.material, v.frame_type, v.frame_shape, v.eye_size, v.bridge, v.temple, v.gender_target, v.lens_type, v.lens_material,
       v.lens_index, v.coatings, v.sphere_min, v.sphere_max, v.cylinder_min, v.cylinder_max, v.replacement, v.base_curve,
       v.diameter, v.unit, v.purchase_price, v.selling_price, t.id, v.quantity, v.reorder_level, v.supplier, v.warranty
  from (values
    ('d2400000-0000-4000-8000-000000000031'::uuid, 'FR-RB5154-2000-51', '8053672001234', 'Ray-Ban Clubmaster RX5154 51-21 Black',
     'frame', 'Ray-Ban', 'RX5154', 'Black', 'Acetate and metal', 'half_rim', 'browline', 51::smallint, 21::smallint, 145::smallint,
     'unisex', null, null, null::numeric, '{}'::text[], null::numeric, null::numeric, null::numeric, null::numeric, null, null::numeric,
     null::numeric, 'piece', 82.00, 175.00, 6, 2, 'Luxottica of America', 24::smallint),
    ('d2400000-0000-4000-8000-000000000032'::uuid, 'FR-OX8046-0155', '0888392123456', 'Oakley Airdrop OX8046 55-18 Satin Black',
     'frame', 'Oakley', 'OX8046 Airdrop', 'Satin black', 'O Matter nylon', 'full_rim', 'rectangle', 55, 18, 143,
     'men', null, null, null, '{}', null, null, null, null, null, null,
     null, 'piece', 90.00, 198.00, 4, 2, 'Luxottica of America', 24),
    ('d2400000-0000-4000-8000-000000000033'::uuid, 'LN-SV160-AR', null, 'Single-vision 1.60 lenses, anti-reflective (pair)',
     'spectacle_lens', 'Essilor', 'Crizal Sapphire 1.60', null, null, null, null, null, null, null,
     null, 'single_vision', 'high_index', 1.60, '{anti_reflective,hard_coat,uv_protection,hydrophobic}', -6.00, 4.00, -2.00, 0.00, null, null,
     null, 'pair', 58.00, 140.00, 10, 4, 'Lakeshore Optical Lab', 12),
    ('d2400000-0000-4000-8000-000000000034'::uuid, 'LN-PAL150-VX', null, 'Varilux Comfort Max progressive 1.50 lenses (pair)',
     'spectacle_lens', 'Essilor', 'Varilux Comfort Max 1.50', null, null, null, null, null, null, null,
     null, 'progressive', 'cr39', 1.50, '{anti_reflective,hard_coat,uv_protection}', -4.00, 4.00, -2.00, 0.00, null, null,
     null, 'pair', 145.00, 320.00, 4, 2, 'Lakeshore Optical Lab', 12),
    ('d2400000-0000-4000-8000-000000000035'::uuid, 'CL-VITA-6', '0733905551234', 'Acuvue Vita monthly contact lenses (6 per box)',
     'contact_lens', 'Johnson & Johnson Vision', 'Acuvue Vita', null, null, null, null, null, null, null,
     null, 'single_vision', 'silicone_hydrogel', null, '{uv_protection}', -12.00, 8.00, null, null, 'monthly', 8.4,
     14.0, 'box', 31.00, 62.00, 20, 6, 'Lakeshore Optical Lab', 0),
    ('d2400000-0000-4000-8000-000000000036'::uuid, 'SOL-OPTIFREE-300', '0300650355123', 'Opti-Free PureMoist multi-purpose solution 300 ml',
     'solution', 'Alcon', 'Opti-Free PureMoist', null, null, null, null, null, null, null,
     null, null, null, null, '{}', null, null, null, null, null, null,
     null, 'bottle', 6.50, 14.50, 24, 8, 'Lakeshore Optical Lab', 0),
    ('d2400000-0000-4000-8000-000000000037'::uuid, 'ACC-CASE-HARD', null, 'Hard-shell spectacle case with microfibre cloth',
     'accessory', 'Max Optical', 'Hard case', 'Navy', 'Aluminium shell, felt lining', null, null, null, null, null,
     null, null, null, null, '{}', null, null, null, null, null, null,
     null, 'piece', 3.50, 12.00, 30, 10, 'Lakeshore Optical Lab', 0)
  ) v(id, sku, barcode, name, product_type, brand, model, color, material, frame_type, frame_shape, eye_size, bridge, temple,
      gender_target, lens_type, lens_material, lens_index, coatings, sphere_min, sphere_max, cylinder_min, cylinder_max,
      replacement, base_curve, diameter, unit, purchase_price, selling_price, quantity, reorder_level, supplier, warranty)
  join app_public.tax_configurations t on t.hospital_id = '10000000-0000-4000-8000-000000000003' and t.code = 'OPTICAL_12';

-- Opening stock of every optical product goes through the ledger, as for medicine batches: the
-- quantities listed above are taken back to zero and brought in again as opening_balance
-- movements (the ledger trigger applies them).
with listed as (
  update app_public.optical_products p set quantity_on_hand = 0
    from app_public.optical_products before_update
   where before_update.id = p.id and p.hospital_id = '10000000-0000-4000-8000-000000000003' and before_update.quantity_on_hand > 0
  returning p.id, p.hospital_id, p.purchase_price, before_update.quantity_on_hand as quantity
)
insert into app_public.stock_movements
  (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after, unit_cost, occurred_at, reason)
select l.hospital_id, 'opening_balance', 'optical_product', l.id, l.quantity, l.quantity,
       l.purchase_price, now() - interval '30 days', 'Opening balance of the product when the demo stock was loaded.'
  from listed l
 order by l.id;

-- The refraction done at the CHI visit (near addition for presbyopia, glaucoma pressures recorded).
insert into app_public.optical_prescriptions
  (id, hospital_id, patient_id, doctor_id, appointment_id, prescription_type, examination_date, prescribed_at,
   valid_until, od_sphere, od_cylinder, od_axis, od_add, od_visual_acuity_unaided, od_visual_acuity_corrected,
   od_near_visual_acuity, os_sphere, os_cylinder, os_axis, os_add, os_visual_acuity_unaided, os_visual_acuity_corrected,
   os_near_visual_acuity, pd_right_mm, pd_left_mm, pd_binocular_mm, pd_near_mm, od_iop_mmhg, os_iop_mmhg,
   recommended_lens_type, recommended_coatings, diagnosis, clinical_notes, status, created_by)
select 'd2410000-0000-4000-8000-000000000003', a.hospital_id, a.patient_id, a.doctor_id, a.id, 'spectacles',
       (a.scheduled_start at time zone h.time_zone)::date, a.completed_at - interval '6 minutes',
       (a.scheduled_start at time zone h.time_zone)::date + 365,
       1.25, -0.50, 90, 2.25, '20/40', '20/20', 'J1',
       1.50, -0.75, 85, 2.25, '20/50', '20/20', 'J1',
       32.0, 31.5, 63.5, 60.5, 23, 24,
       'progressive', '{anti_reflective,uv_protection}',
       'Hyperopia with astigmatism and presbyopia, both eyes.',
       'Progressive lenses recommended for full-time wear; a separate pair of readers is an alternative.',
       'active', dr.user_id
  from app_public.appointments a
  join app_public.hospitals h on h.id = a.hospital_id
  join app_public.doctors dr on dr.id = a.doctor_id
 where a.id = 'd1200000-0000-4000-8000-000000000031';

-- A delivered order from the optical counter after the visit: one hard case.
insert into app_public.optical_orders
  (id, hospital_id, order_number, patient_id, optical_prescription_id, ordered_at, status, confirmed_at, delivered_at,
   delivered_by, subtotal, discount_amount, tax_amount, total_amount, advance_paid, notes, created_by)
select 'd2420000-0000-4000-8000-000000000003', a.hospital_id, app_hidden.hms_generate_id(a.hospital_id, 'optical_order'),
       a.patient_id, 'd2410000-0000-4000-8000-000000000003', a.completed_at + interval '15 minutes', 'delivered',
       a.completed_at + interval '15 minutes', a.completed_at + interval '18 minutes', dr.user_id,
       0, 0, 0, 0, 0,   -- totals are set from the line below
       'Patient will decide on progressive lenses after the glaucoma review; bought a case for his current glasses.',
       dr.user_id
  from app_public.appointments a
  join app_public.doctors dr on dr.id = a.doctor_id
 where a.id = 'd1200000-0000-4000-8000-000000000031';

insert into app_public.optical_order_items
  (id, hospital_id, optical_order_id, optical_product_id, item_type, description, eye, quantity, unit_price,
   discount_percent, tax_percent, line_total, created_by)
select 'd2430000-0000-4000-8000-000000000031', o.hospital_id, o.id, p.id, 'accessory', p.name, 'none', 1, p.selling_price,
       0, t.rate_percent, p.selling_price + round(p.selling_price * t.rate_percent / 100, 2), o.created_by
  from app_public.optical_orders o
  join app_public.optical_products p on p.id = 'd2400000-0000-4000-8000-000000000037'
  join app_public.tax_configurations t on t.id = p.tax_configuration_id
 where o.id = 'd2420000-0000-4000-8000-000000000003';

update app_public.optical_orders o
   set subtotal = s.subtotal, tax_amount = s.total - s.subtotal, total_amount = s.total
  from (select i.optical_order_id, sum(round(i.quantity * i.unit_price * (1 - i.discount_percent / 100), 2)) as subtotal,
               sum(i.line_total) as total
          from app_public.optical_order_items i group by i.optical_order_id) s
 where s.optical_order_id = o.id and o.id = 'd2420000-0000-4000-8000-000000000003';

-- The case leaves the shelf: an optical_sale movement (the ledger trigger lowers the product's stock).
insert into app_public.stock_movements
  (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after, unit_cost, occurred_at,
   optical_order_item_id, reason, performed_by)
select i.hospital_id, 'optical_sale', 'optical_product', p.id, -i.quantity, p.quantity_on_hand - i.quantity,
       p.purchase_price, o.delivered_at, i.id, 'Sold on optical order ' || o.order_number || '.', o.delivered_by
  from app_public.optical_order_items i
  join app_public.optical_orders o on o.id = i.optical_order_id
  join app_public.optical_products p on p.id = i.optical_product_id
 where i.id = 'd2430000-0000-4000-8000-000000000031';


-- ---------------------------------------------------------------------------------------------
-- Invoices (3) for the completed visits: consultation + prescribed medicines (+ the CHI case).
-- The medicines are billed at the cashier before the pharmacy hands them over ("pay, then
-- collect"), so the prescriptions are still finalized (not dispensed) and no batch is named yet.
-- ---------------------------------------------------------------------------------------------
insert into app_public.invoices
  (id, hospital_id, invoice_number, patient_id, appointment_id, optical_order_id, invoice_type, status, invoice_date,
   issued_at, issued_by, due_date, currency_code, discount_reason, discount_approved_by, bill_to_name,
   billing_address_line1, billing_address_line2, billing_city, billing_state_province, billing_postal_code,
   billing_country_code, notes, created_by)
select v.id, a.hospital_id, app_hidden.hms_generate_id(a.hospital_id, 'invoice'), a.patient_id, a.id, v.optical_order_id,
       'outpatient', v.status, (a.scheduled_start at time zone h.time_zone)::date, a.completed_at + interval '6 minutes',
       v.issued_by, (a.scheduled_start at time zone h.time_zone)::date + hs.invoice_due_days, h.currency_code,
       v.discount_reason, v.discount_approved_by, p.full_name, p.address_line1, p.address_line2, p.city, p.state_province,
       p.postal_code, p.country_code, v.notes, v.issued_by
  from (values
    (1, 'd3000000-0000-4000-8000-000000000001'::uuid, 'd1200000-0000-4000-8000-000000000011'::uuid, null::uuid, 'paid',
     '20000000-0000-4000-8000-000000000008'::uuid, null, null::uuid, null),
    (2, 'd3000000-0000-4000-8000-000000000002'::uuid, 'd1200000-0000-4000-8000-000000000021'::uuid, null::uuid, 'partially_paid',
     '20000000-0000-4000-8000-000000000003'::uuid, 'Employer wellness programme: 10% off consultations.',
     '20000000-0000-4000-8000-000000000003'::uuid, 'Balance to be paid within 30 days.'),
    (3, 'd3000000-0000-4000-8000-000000000003'::uuid, 'd1200000-0000-4000-8000-000000000031'::uuid,
     'd2420000-0000-4000-8000-000000000003'::uuid, 'paid',
     '20000000-0000-4000-8000-000000000006'::uuid, null, null::uuid, null)
  ) v(n, id, appointment_id, optical_order_id, status, issued_by, discount_reason, discount_approved_by, notes)
  join app_public.appointments a on a.id = v.appointment_id
  join app_public.hospitals h on h.id = a.hospital_id
  join app_public.hospital_settings hs on hs.hospital_id = a.hospital_id
  join app_public.patients p on p.id = a.patient_id
 order by v.n;

-- Lines: discount = gross × discount %, tax = (gross − discount) × the rule's rate, each rounded to cents.
insert into app_public.invoice_items
  (id, hospital_id, invoice_id, line_number, item_type, description, service_code, service_date, appointment_id,
   optical_order_item_id, medicine_id, doctor_id, department_id, quantity, unit_price, discount_percent, discount_amount,
   price_includes_tax, tax_configuration_id, tax_percent, tax_amount, line_total, created_by)
select format('d3010000-0000-4000-8000-00000000%s%s', right(i.id::text, 1), lpad(v.line_number::text, 3, '0'))::uuid,
       i.hospital_id, i.id, v.line_number, v.item_type, v.description, v.service_code, i.invoice_date,
       case when v.item_type = 'consultation' then i.appointment_id end, v.optical_order_item_id, v.medicine_id,
       case when v.item_type = 'consultation' then a.doctor_id end,
       coalesce(d.id, a.department_id),   -- revenue: pharmacy / optical shop where the hospital has one
       v.quantity, v.unit_price, v.discount_percent, g.discount, false, t.id, t.rate_percent, x.tax,
       g.gross - g.discount + x.tax, i.created_by
  from (values
    -- NY: cardiology consultation + atorvastatin + amlodipine
    ('d3000000-0000-4000-8000-000000000001'::uuid, 1, 'consultation', 'Cardiology consultation, new patient — Dr. Sarah Mitchell',
     '99204', null::uuid, null::uuid, 1.0, 250.00, 0.00, 'CONSULT_EXEMPT'),
    ('d3000000-0000-4000-8000-000000000001'::uuid, 2, 'medicine', 'Atorvastatin 20 mg tablet (Lipitor)',
     null, 'd2000000-0000-4000-8000-000000000011'::uuid, null, 30, 0.85, 0, 'MED_5'),
    ('d3000000-0000-4000-8000-000000000001'::uuid, 3, 'medicine', 'Amlodipine 5 mg tablet (Norvasc)',
     null, 'd2000000-0000-4000-8000-000000000012'::uuid, null, 30, 0.60, 0, 'MED_5'),
    -- LA: orthopedic consultation (10% wellness discount) + ibuprofen + diclofenac gel
    ('d3000000-0000-4000-8000-000000000002'::uuid, 1, 'consultation', 'Orthopedic consultation, new patient — Dr. David Nguyen',
     '99204', null, null, 1, 220.00, 10.00, 'CONSULT_EXEMPT'),
    ('d3000000-0000-4000-8000-000000000002'::uuid, 2, 'medicine', 'Ibuprofen 400 mg tablet (Motrin)',
     null, 'd2000000-0000-4000-8000-000000000021'::uuid, null, 30, 0.40, 0, 'MED_5'),
    ('d3000000-0000-4000-8000-000000000002'::uuid, 3, 'medicine', 'Diclofenac 1% gel, 100 g tube (Voltaren Arthritis Pain)',
     null, 'd2000000-0000-4000-8000-000000000022'::uuid, null, 1, 14.50, 0, 'MED_5'),
    -- CHI: eye examination + latanoprost + lubricant drops + spectacle case
    ('d3000000-0000-4000-8000-000000000003'::uuid, 1, 'consultation', 'Comprehensive eye examination, new patient — Dr. Priya Raman',
     '92004', null, null, 1, 180.00, 0, 'CONSULT_EXEMPT'),
    ('d3000000-0000-4000-8000-000000000003'::uuid, 2, 'medicine', 'Latanoprost 0.005% eye drops, 2.5 ml (Xalatan)',
     null, 'd2000000-0000-4000-8000-000000000031'::uuid, null, 1, 32.00, 0, 'MED_5'),
    ('d3000000-0000-4000-8000-000000000003'::uuid, 3, 'medicine', 'Carboxymethylcellulose 0.5% eye drops, 15 ml (Refresh Tears)',
     null, 'd2000000-0000-4000-8000-000000000033'::uuid, null, 1, 11.50, 0, 'MED_5'),
    ('d3000000-0000-4000-8000-000000000003'::uuid, 4, 'optical', 'Hard-shell spectacle case with microfibre cloth',
     null, null, 'd2430000-0000-4000-8000-000000000031'::uuid, 1, 12.00, 0, 'OPTICAL_12')
  ) v(invoice_id, line_number, item_type, description, service_code, medicine_id, optical_order_item_id, quantity,
      unit_price, discount_percent, tax_code)
  join app_public.invoices i on i.id = v.invoice_id
  join app_public.appointments a on a.id = i.appointment_id
  join app_public.tax_configurations t on t.hospital_id = i.hospital_id and t.code = v.tax_code
  left join app_public.departments d
    on d.hospital_id = i.hospital_id and d.code = case v.item_type when 'medicine' then 'PHARM' when 'optical' then 'OPTIC' end
 cross join lateral (select round(v.quantity * v.unit_price, 2) as gross,
                            round(v.quantity * v.unit_price * v.discount_percent / 100, 2) as discount) g
 cross join lateral (select round((g.gross - g.discount) * t.rate_percent / 100, 2) as tax) x;

-- Invoice totals from the lines: total = subtotal − discount + tax = sum of the line totals.
update app_public.invoices i
   set subtotal = s.subtotal, discount_amount = s.discount, tax_amount = s.tax, total_amount = s.total,
       patient_amount = s.total, insurance_amount = 0
  from (select l.invoice_id, sum(round(l.quantity * l.unit_price, 2)) as subtotal, sum(l.discount_amount) as discount,
               sum(l.tax_amount) as tax, sum(l.line_total) as total
          from app_public.invoice_items l group by l.invoice_id) s
 where s.invoice_id = i.id
   and i.id in ('d3000000-0000-4000-8000-000000000001', 'd3000000-0000-4000-8000-000000000002',
                'd3000000-0000-4000-8000-000000000003');

-- Payments: NY in full by card, LA a cash part-payment, CHI split between card and cash.
insert into app_public.payments
  (id, hospital_id, receipt_number, invoice_id, patient_id, amount, payment_method, payment_date, status, payer_name,
   reference_number, card_last4, received_by, notes, created_by)
select v.id, i.hospital_id, app_hidden.hms_generate_id(i.hospital_id, 'receipt'), i.id, i.patient_id,
       coalesce(v.amount, i.total_amount - coalesce(v.paid_before, 0)), v.method,
       i.issued_at + make_interval(mins => v.minutes_after_issue), 'completed', i.bill_to_name, v.reference, v.card_last4,
       v.received_by, v.notes, v.received_by
  from (values
    (1, 'd3020000-0000-4000-8000-000000000011'::uuid, 'd3000000-0000-4000-8000-000000000001'::uuid, null::numeric, null::numeric,
     'card', 3, 'AUTH 482913', '4417', '20000000-0000-4000-8000-000000000008'::uuid, 'Visa, chip and PIN.'),
    (2, 'd3020000-0000-4000-8000-000000000021'::uuid, 'd3000000-0000-4000-8000-000000000002'::uuid, 100.00, null,
     'cash', 4, null, null, '20000000-0000-4000-8000-000000000003'::uuid, 'Part payment; balance due within 30 days.'),
    (3, 'd3020000-0000-4000-8000-000000000031'::uuid, 'd3000000-0000-4000-8000-000000000003'::uuid, 150.00, null,
     'card', 3, 'AUTH 771204', '0093', '20000000-0000-4000-8000-000000000006'::uuid, 'Mastercard, contactless.'),
    (4, 'd3020000-0000-4000-8000-000000000032'::uuid, 'd3000000-0000-4000-8000-000000000003'::uuid, null, 150.00,
     'cash', 4, null, null, '20000000-0000-4000-8000-000000000006'::uuid, 'Remainder in cash.')
  ) v(n, id, invoice_id, amount, paid_before, method, minutes_after_issue, reference, card_last4, received_by, notes)
  join app_public.invoices i on i.id = v.invoice_id
 order by v.n;

-- What was paid and what is left; fully paid invoices record when.
update app_public.invoices i
   set amount_paid = s.paid,
       balance_due = greatest(i.total_amount - s.paid - i.amount_credited + i.amount_refunded, 0),
       paid_at = case when s.paid >= i.total_amount then s.last_payment_at end
  from (select p.invoice_id, sum(p.amount) as paid, max(p.payment_date) as last_payment_at
          from app_public.payments p
         where p.status = 'completed' and not p.is_deleted
         group by p.invoice_id) s
 where s.invoice_id = i.id
   and i.id in ('d3000000-0000-4000-8000-000000000001', 'd3000000-0000-4000-8000-000000000002',
                'd3000000-0000-4000-8000-000000000003');

-- ---------------------------------------------------------------------------------------------
-- Suppliers (3): a pharmaceutical distributor (NY), a wholesaler (LA), an optical lab (CHI)
-- ---------------------------------------------------------------------------------------------
insert into app_public.suppliers
  (id, hospital_id, code, name, supplier_type, contact_person, phone, email, website,
   address_line1, city, state_province, postal_code, country_code, tax_identifier, drug_licence_number,
   drug_licence_expiry, payment_terms_days, credit_limit, currency_code, bank_name, bank_account_name,
   bank_account_number, bank_routing_code, bank_swift_code, rating, lead_time_days, notes)
values
  ('d4000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001', 'HUDSON-RX',
   'Hudson Valley Pharma Distributors', 'distributor', 'Daniel Weiss (key account manager)', '+1 845-555-0171',
   'orders@hudsonrx.example', 'https://hudsonrx.example', '75 Industrial Park Road', 'Newburgh', 'NY', '12550', 'US',
   '14-5550171', 'NYS-BOP-W-031447', make_date(extract(year from current_date)::int + 1, 12, 31), 30, 50000.00, 'USD',
   'JPMorgan Chase Bank', 'Hudson Valley Pharma Distributors LLC', '000123456789', '021000021', 'CHASUS33', 5, 2,
   'Next-day delivery for orders placed before 4 pm.'),
  ('d4000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002', 'PACMED',
   'Pacific Coast Medical Supply', 'wholesaler', 'Grace Liu (sales representative)', '+1 562-555-0172',
   'sales@pacmed.example', 'https://pacmed.example', '1900 East Carson Street', 'Long Beach', 'CA', '90810', 'US',
   '95-5550172', 'CA-BOP-WLS-7712', make_date(extract(year from current_date)::int + 1, 6, 30), 45, 30000.00, 'USD',
   'Wells Fargo Bank', 'Pacific Coast Medical Supply Inc.', '000987654321', '121000248', 'WFBIUS6S', 4, 3,
   'Medicines, dressings and orthopedic supports.'),
  ('d4000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000003', 'LAKESHORE-LAB',
   'Lakeshore Optical Lab', 'optical_lab', 'Tom Kowalski (lab manager)', '+1 312-555-0173',
   'jobs@lakeshoreoptical.example', null, '2100 West Fulton Street', 'Chicago', 'IL', '60612', 'US',
   '36-5550173', null, null, 30, 15000.00, 'USD',
   'BMO Bank', 'Lakeshore Optical Lab Inc.', '000555123987', '071000288', 'HATRUS44', 5, 5,
   'Surfaces progressive and high-index lenses; also supplies frames, contact lenses, solutions and ophthalmic drops.');

-- ---------------------------------------------------------------------------------------------
-- Notification templates, per hospital: every message HMS sends (app_hidden.notify and the
-- password e-mails) — appointments, lab reports, prescriptions, invoices and receipts, purchase
-- orders, stock and claim alerts, the day settled, invitations and resets; variables list every
-- {{placeholder}} used
-- ---------------------------------------------------------------------------------------------
insert into app_public.notification_templates
  (hospital_id, code, name, description, channel, locale, category, subject, body, variables, is_transactional)
select h.id, t.code, t.name, t.description, t.channel, 'en-US', t.category, t.subject, t.body, t.variables, true
  from app_public.hospitals h
 cross join (values
   ('appointment_confirmation', 'Appointment confirmation (email)', 'Sent when an appointment is booked.', 'email', 'appointment',
    'Your appointment at {{hospital_name}} is confirmed ({{appointment_number}})',
    E'Dear {{patient_name}},\n\nYour appointment with {{doctor_name}} ({{department_name}}) is confirmed for '
      || E'{{appointment_date}} at {{appointment_time}}.\nAppointment number: {{appointment_number}}\n\n'
      || E'Please arrive 15 minutes early with a photo ID and your insurance card. To reschedule or cancel, '
      || E'call us on {{hospital_phone}}.\n\n{{hospital_name}}',
    '{patient_name,doctor_name,department_name,appointment_date,appointment_time,appointment_number,hospital_phone,hospital_name}'::text[]),
   ('appointment_confirmation', 'Appointment confirmation (SMS)', 'Sent when an appointment is booked.', 'sms', 'appointment',
    null,
    '{{hospital_name}}: your appointment {{appointment_number}} with {{doctor_name}} on {{appointment_date}} at '
      || '{{appointment_time}} is confirmed. To change it call {{hospital_phone}}.',
    '{hospital_name,appointment_number,doctor_name,appointment_date,appointment_time,hospital_phone}'),
   ('appointment_reminder', 'Appointment reminder (SMS)', 'Sent before the appointment (hospital setting appointment_reminder_hours).', 'sms', 'appointment',
    null,
    'Reminder from {{hospital_name}}: {{patient_name}}, you see {{doctor_name}} on {{appointment_date}} at '
      || '{{appointment_time}}. Please arrive 15 min early. Call {{hospital_phone}} to reschedule.',
    '{hospital_name,patient_name,doctor_name,appointment_date,appointment_time,hospital_phone}'),
   ('payment_receipt', 'Payment receipt (email)', 'Sent when a payment is recorded.', 'email', 'billing',
    'Payment receipt {{receipt_number}} — {{hospital_name}}',
    E'Dear {{patient_name}},\n\nThank you for your payment of {{amount}} by {{payment_method}} on {{payment_date}} '
      || E'against invoice {{invoice_number}}.\nReceipt number: {{receipt_number}}\nBalance due: {{balance_due}}\n\n'
      || E'Questions about your bill? Call {{hospital_phone}}.\n\n{{hospital_name}}',
    '{patient_name,amount,payment_method,payment_date,invoice_number,receipt_number,balance_due,hospital_phone,hospital_name}'),
   ('appointment_cancelled', 'Appointment cancelled (email)', 'Sent when an appointment is cancelled.', 'email', 'appointment',
    'Your appointment {{appointment_number}} at {{hospital_name}} is cancelled',
    E'Dear {{patient_name}},\n\nYour appointment with {{doctor_name}} on {{appointment_date}} at {{appointment_time}} is cancelled.\n'
      || E'To book again, call us on {{hospital_phone}}.\n\n{{hospital_name}}',
    '{patient_name,appointment_number,doctor_name,appointment_date,appointment_time,hospital_phone,hospital_name}'::text[]),
   ('appointment_cancelled', 'Appointment cancelled (SMS)', 'Sent when an appointment is cancelled.', 'sms', 'appointment', null,
    '{{hospital_name}}: your appointment {{appointment_number}} on {{appointment_date}} at {{appointment_time}} is cancelled. Call {{hospital_phone}} to book again.',
    '{hospital_name,appointment_number,appointment_date,appointment_time,hospital_phone}'),
   ('appointment_rescheduled', 'Appointment moved (email)', 'Sent when an appointment is moved to another slot.', 'email', 'appointment',
    'Your appointment at {{hospital_name}} is moved to {{appointment_date}}',
    E'Dear {{patient_name}},\n\nYour appointment with {{doctor_name}} of {{previous_date}} at {{previous_time}} is moved to '
      || E'{{appointment_date}} at {{appointment_time}}.\nAppointment number: {{appointment_number}}\n\n{{hospital_name}}',
    '{patient_name,doctor_name,previous_date,previous_time,appointment_date,appointment_time,appointment_number,hospital_name}'),
   ('appointment_rescheduled', 'Appointment moved (SMS)', 'Sent when an appointment is moved to another slot.', 'sms', 'appointment', null,
    '{{hospital_name}}: your appointment with {{doctor_name}} is moved to {{appointment_date}} at {{appointment_time}} ({{appointment_number}}).',
    '{hospital_name,doctor_name,appointment_date,appointment_time,appointment_number}'),
   ('lab_report_ready', 'Lab report ready (SMS)', 'Sent when a lab report is signed out.', 'sms', 'clinical', null,
    '{{hospital_name}}: {{patient_name}}, the report of your {{test_name}} ({{order_number}}) is ready. Your doctor will discuss it with you.',
    '{hospital_name,patient_name,test_name,order_number}'),
   ('prescription_ready', 'Prescription ready (SMS)', 'Sent when the doctor finalizes a prescription.', 'sms', 'clinical', null,
    '{{hospital_name}}: {{patient_name}}, your prescription {{prescription_number}} is ready at our pharmacy.',
    '{hospital_name,patient_name,prescription_number}'),
   ('invoice_issued', 'Invoice issued (email)', 'Sent when an invoice is issued.', 'email', 'billing',
    'Invoice {{invoice_number}} from {{hospital_name}}',
    E'Dear {{patient_name}},\n\nInvoice {{invoice_number}} of {{total_amount}} has been issued; balance due {{balance_due}} by {{due_date}}.\n'
      || E'Questions about your bill? Call {{hospital_phone}}.\n\n{{hospital_name}}',
    '{patient_name,invoice_number,total_amount,balance_due,due_date,hospital_phone,hospital_name}'),
   ('low_stock_alert', 'Low stock (console)', 'To the stores staff when a medicine reaches its reorder level.', 'in_app', 'inventory',
    'Low stock: {{medicine_name}}', '{{medicine_name}}: {{quantity_on_hand}} in stock, reorder level {{reorder_level}}.',
    '{medicine_name,quantity_on_hand,reorder_level}'),
   ('expiry_alert', 'Near expiry (console)', 'To the stores staff when a batch in stock nears its expiry.', 'in_app', 'inventory',
    'Expiring: {{medicine_name}} batch {{batch_number}}', '{{quantity_on_hand}} of {{medicine_name}} (batch {{batch_number}}) expire on {{expiry_date}}.',
    '{medicine_name,batch_number,expiry_date,quantity_on_hand}'),
   ('claim_overdue', 'Claim overdue (console)', 'To the claims staff when an insurer is late.', 'in_app', 'billing',
    'Claim {{claim_number}} overdue', '{{insurer}} has not settled claim {{claim_number}} submitted on {{submitted_on}} ({{settlement_days}} days).',
    '{claim_number,insurer,submitted_on,settlement_days}'),
   ('day_settled', 'Day settled (console)', 'To the accountants when the day is settled at its end.', 'in_app', 'billing',
    'Day settled: {{settlement_date}}', '{{settlement_date}} is settled: {{payment_count}} payments, net collections {{total_collected}}.',
    '{settlement_date,payment_count,total_collected}'),
   ('purchase_order_sent', 'Purchase order to the supplier (email)', 'Sent to the supplier when a purchase order is sent.', 'email', 'inventory',
    'Purchase order {{po_number}} from {{hospital_name}}',
    E'Dear {{supplier_name}},\n\nPlease supply the following against purchase order {{po_number}} of {{order_date}}:\n\n{{lines}}\n\n'
      || E'Total: {{total_amount}}. Delivery by {{expected_delivery_date}} to {{delivery_address}}. Payment terms: {{payment_terms}}.\n'
      || E'Please quote the order number on your delivery note and invoice.\n\n{{hospital_name}}, stores ({{hospital_phone}})',
    '{supplier_name,po_number,order_date,lines,total_amount,expected_delivery_date,delivery_address,payment_terms,hospital_name,hospital_phone}'),
   ('user_invitation', 'Staff invitation (email)', 'Sent by invite_user and create_staff_account.', 'email', 'account',
    'Welcome to {{hospital_name}}: set your HMS password',
    E'Hello {{user_name}},\n\nAn HMS account was created for you ({{email}}) at {{hospital_name}}. Set your password here:\n\n{{link}}\n\n'
      || E'The link works once, until {{expires_at}}. Then sign in with your e-mail address and the new password.',
    '{user_name,email,hospital_name,link,expires_at}'),
   ('password_reset', 'Password reset (email)', 'Sent by request_password_reset.', 'email', 'account',
    'Set a new HMS password',
    E'Hello {{user_name}},\n\nSomeone (we hope you) asked to set a new password for {{email}}. Set it here:\n\n{{link}}\n\n'
      || E'The link works once, until {{expires_at}}. If you did not ask, ignore this e-mail: your password stays as it is.',
    '{user_name,email,link,expires_at}')
 ) t(code, name, description, channel, category, subject, body, variables)
 where h.id in ('10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002',
                '10000000-0000-4000-8000-000000000003');

-- ---------------------------------------------------------------------------------------------
-- Audit trail: what this file did, told honestly (no user: it ran as the schema owner)
-- ---------------------------------------------------------------------------------------------
insert into app_public.audit_logs
  (hospital_id, occurred_at, user_id, action, table_name, record_id, new_values, api, description)
select h.id, now(), null, 'insert', 'app_public.hospitals', h.id,
       jsonb_build_object('code', h.code, 'name', h.name, 'time_zone', h.time_zone, 'currency_code', h.currency_code),
       'sql', 'Demo data loaded'
  from app_public.hospitals h
 where h.id in ('10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000002',
                '10000000-0000-4000-8000-000000000003')
 order by h.code;

insert into app_public.audit_logs
  (hospital_id, occurred_at, user_id, action, client_address, user_agent, api, description)
values
  ('10000000-0000-4000-8000-000000000001', now(), '20000000-0000-4000-8000-000000000001', 'login', '127.0.0.1',
   'HMS demo data', 'sql',
   'Example sign-in of the super admin, written by the demo data (no session was opened).');
