/**
 * The data generator: a hospital chain at realistic scale, for the benchmark (`npm run bench`)
 * and for trying the console or a query plan on big tables.
 *
 *   npm run generate -- --patients 1000000      (against the stack `npm start` runs, same variables)
 *
 * What it writes, for --patients N (the defaults, N = 1,000,000, give the sizes of issue 9):
 *   20 hospitals (codes BOS … SLC) of different sizes, each with 7 departments, its doctors
 *   (enough for its busiest day), their weekly schedules and fees, front-desk, pharmacy, billing
 *   and admin staff with their roles, 150 medicines with 4 batches each;
 *   N patients; ≈ 5N appointments over the last two years and the coming week (busy Mondays,
 *   quiet Saturdays, no Sundays, winter peaks, holidays), slot-aligned so no doctor is double
 *   booked, with their status history; ≈ 0.5N prescriptions with items, 90 % dispensed; ≈ N
 *   over-the-counter sales; ≈ 2N invoices (billable visits and prescription sales) with items and
 *   ≈ 2N payments; a stock ledger of ≈ 4N movements (dispensings and the pharmacy's top-ups from
 *   the chain's central store); one audit row per document created.
 *
 * How: set-based SQL over generate_series on one superuser connection. Reference data (a few
 * thousand rows) goes through the normal triggers, as the schema owner, like the demo data. The
 * big tables are loaded with session_replication_role = replica (no row triggers, no foreign-key
 * triggers) and their plain indexes dropped and rebuilt after the load; the generator therefore
 * computes everything those triggers would: document numbers in the hospital's format with their
 * check character, invoice totals from their items and payments, stock balances from the ledger,
 * and the numbering counters advanced past what it issued. Ids are deterministic and ordered
 * (`<table tag>-0000-4000-8000-<n>`), so each parent id is computed, never looked up, and index
 * inserts land at the right edge. `checkGeneratedChain` then verifies the rules on the result.
 */
import pg from 'pg';

export interface GenerateOptions {
  patients: number;
  /** Progress lines (default: console.log). */
  log?: (line: string) => void;
}

export interface GeneratedChain {
  seconds: number;
  rows: Record<string, number>;
  hospitalCodes: string[];
}

const HOSPITALS: [code: string, city: string, state: string, timeZone: string, weight: number][] = [
  ['BOS', 'Boston', 'MA', 'America/New_York', 1.4],
  ['SEA', 'Seattle', 'WA', 'America/Los_Angeles', 1.0],
  ['DEN', 'Denver', 'CO', 'America/Denver', 0.9],
  ['ATL', 'Atlanta', 'GA', 'America/New_York', 1.2],
  ['MIA', 'Miami', 'FL', 'America/New_York', 1.1],
  ['PHX', 'Phoenix', 'AZ', 'America/Phoenix', 1.0],
  ['DAL', 'Dallas', 'TX', 'America/Chicago', 1.3],
  ['HOU', 'Houston', 'TX', 'America/Chicago', 1.5],
  ['SFO', 'San Francisco', 'CA', 'America/Los_Angeles', 1.1],
  ['SAN', 'San Diego', 'CA', 'America/Los_Angeles', 0.9],
  ['PDX', 'Portland', 'OR', 'America/Los_Angeles', 0.7],
  ['MSP', 'Minneapolis', 'MN', 'America/Chicago', 0.8],
  ['DTW', 'Detroit', 'MI', 'America/Detroit', 0.8],
  ['CLE', 'Cleveland', 'OH', 'America/New_York', 0.7],
  ['PIT', 'Pittsburgh', 'PA', 'America/New_York', 0.7],
  ['STL', 'St. Louis', 'MO', 'America/Chicago', 0.6],
  ['MCI', 'Kansas City', 'MO', 'America/Chicago', 0.6],
  ['BNA', 'Nashville', 'TN', 'America/Chicago', 0.8],
  ['MCO', 'Orlando', 'FL', 'America/New_York', 0.9],
  ['SLC', 'Salt Lake City', 'UT', 'America/Denver', 0.5],
];

const MALE_NAMES = `James Robert John Michael David William Richard Joseph Thomas Charles Christopher Daniel Matthew
  Anthony Mark Donald Steven Andrew Paul Joshua Kenneth Kevin Brian George Timothy Ronald Jason Edward Jeffrey Ryan
  Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Patrick Frank
  Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Zachary Douglas Peter Kyle Noah Ethan Jeremy Walter
  Christian Keith Roger Terry Austin Sean Gerald Carl Harold Dylan Arthur Lawrence Jordan Jesse Bryan Billy Bruce
  Gabriel Joe Logan Alan Juan Albert Willie Elijah Wayne Randy Vincent Mason Roy Ralph Bobby Russell Bradley Philip
  Eugene Wei Arjun Mohammed Omar Hiroshi Carlos Luis Diego Rahul Minh`.split(/\s+/);
const FEMALE_NAMES = `Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Sandra
  Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Dorothy Rebecca Sharon Laura
  Cynthia Amy Kathleen Angela Shirley Brenda Emma Anna Pamela Nicole Samantha Katherine Christine Helen Debra Rachel
  Carolyn Janet Maria Catherine Heather Diane Olivia Julie Joyce Victoria Ruth Virginia Lauren Kelly Christina Joan
  Evelyn Judith Andrea Hannah Megan Cheryl Jacqueline Martha Madison Teresa Gloria Sara Janice Ann Kathryn Abigail
  Sophia Frances Jean Alice Judy Isabella Julia Grace Amber Denise Danielle Marilyn Beverly Charlotte Natalie Theresa
  Diana Brittany Doris Kayla Alexis Lori Marie Priya Mei Aisha Fatima Yuki Sofia Lucia Ananya Linh`.split(/\s+/);
const LAST_NAMES = `Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
  Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis
  Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera
  Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris
  Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward
  Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel
  Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales
  Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole
  Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez
  McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson
  Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd
  Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan
  Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight
  Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman
  Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval Singh Sharma Wang Zhang Yamamoto
  Okafor Mensah Haddad Kowalski Novak Rossi Muller Dubois`.split(/\s+/);

// Medicines every pharmacy of the chain stocks: name, form, strengths, base unit, price per unit, OTC?
const MEDICINES: [name: string, form: string, strengths: string[], unit: string, price: number, otc: boolean, atc: string][] = [
  ['Paracetamol', 'tablet', ['500 mg', '650 mg', '1 g'], 'tablet', 0.08, true, 'N02BE01'],
  ['Ibuprofen', 'tablet', ['200 mg', '400 mg', '600 mg'], 'tablet', 0.12, true, 'M01AE01'],
  ['Cetirizine', 'tablet', ['5 mg', '10 mg', '20 mg'], 'tablet', 0.10, true, 'R06AE07'],
  ['Loratadine', 'tablet', ['5 mg', '10 mg', '20 mg'], 'tablet', 0.11, true, 'R06AX13'],
  ['Omeprazole', 'capsule', ['10 mg', '20 mg', '40 mg'], 'capsule', 0.25, true, 'A02BC01'],
  ['Loperamide', 'capsule', ['2 mg', '4 mg', '8 mg'], 'capsule', 0.15, true, 'A07DA03'],
  ['Aspirin', 'tablet', ['75 mg', '81 mg', '300 mg'], 'tablet', 0.05, true, 'B01AC06'],
  ['Oral rehydration salts', 'powder', ['4.2 g', '10.5 g', '20.5 g'], 'sachet', 0.40, true, 'A07CA01'],
  ['Amoxicillin', 'capsule', ['250 mg', '500 mg', '875 mg'], 'capsule', 0.30, false, 'J01CA04'],
  ['Azithromycin', 'tablet', ['250 mg', '500 mg', '600 mg'], 'tablet', 1.10, false, 'J01FA10'],
  ['Ciprofloxacin', 'tablet', ['250 mg', '500 mg', '750 mg'], 'tablet', 0.45, false, 'J01MA02'],
  ['Doxycycline', 'capsule', ['50 mg', '100 mg', '200 mg'], 'capsule', 0.35, false, 'J01AA02'],
  ['Metformin', 'tablet', ['500 mg', '850 mg', '1000 mg'], 'tablet', 0.09, false, 'A10BA02'],
  ['Glipizide', 'tablet', ['2.5 mg', '5 mg', '10 mg'], 'tablet', 0.14, false, 'A10BB07'],
  ['Atorvastatin', 'tablet', ['10 mg', '20 mg', '40 mg'], 'tablet', 0.32, false, 'C10AA05'],
  ['Rosuvastatin', 'tablet', ['5 mg', '10 mg', '20 mg'], 'tablet', 0.40, false, 'C10AA07'],
  ['Amlodipine', 'tablet', ['2.5 mg', '5 mg', '10 mg'], 'tablet', 0.18, false, 'C08CA01'],
  ['Lisinopril', 'tablet', ['5 mg', '10 mg', '20 mg'], 'tablet', 0.15, false, 'C09AA03'],
  ['Losartan', 'tablet', ['25 mg', '50 mg', '100 mg'], 'tablet', 0.22, false, 'C09CA01'],
  ['Metoprolol', 'tablet', ['25 mg', '50 mg', '100 mg'], 'tablet', 0.25, false, 'C07AB02'],
  ['Hydrochlorothiazide', 'tablet', ['12.5 mg', '25 mg', '50 mg'], 'tablet', 0.08, false, 'C03AA03'],
  ['Levothyroxine', 'tablet', ['25 mcg', '50 mcg', '100 mcg'], 'tablet', 0.20, false, 'H03AA01'],
  ['Salbutamol', 'inhaler', ['100 mcg', '200 mcg', '250 mcg'], 'unit', 6.50, false, 'R03AC02'],
  ['Prednisolone', 'tablet', ['5 mg', '10 mg', '20 mg'], 'tablet', 0.12, false, 'H02AB06'],
  ['Sertraline', 'tablet', ['25 mg', '50 mg', '100 mg'], 'tablet', 0.28, false, 'N06AB06'],
  ['Gabapentin', 'capsule', ['100 mg', '300 mg', '400 mg'], 'capsule', 0.33, false, 'N03AX12'],
  ['Pantoprazole', 'tablet', ['20 mg', '40 mg', '80 mg'], 'tablet', 0.27, false, 'A02BC02'],
  ['Clopidogrel', 'tablet', ['75 mg', '150 mg', '300 mg'], 'tablet', 0.35, false, 'B01AC04'],
  ['Warfarin', 'tablet', ['1 mg', '2 mg', '5 mg'], 'tablet', 0.10, false, 'B01AA03'],
  ['Montelukast', 'tablet', ['4 mg', '5 mg', '10 mg'], 'tablet', 0.42, false, 'R03DC03'],
  ['Furosemide', 'tablet', ['20 mg', '40 mg', '80 mg'], 'tablet', 0.09, false, 'C03CA01'],
  ['Tramadol', 'capsule', ['50 mg', '100 mg', '200 mg'], 'capsule', 0.38, false, 'N02AX02'],
  ['Diclofenac', 'tablet', ['25 mg', '50 mg', '75 mg'], 'tablet', 0.13, false, 'M01AB05'],
  ['Cefuroxime', 'tablet', ['125 mg', '250 mg', '500 mg'], 'tablet', 0.95, false, 'J01DC02'],
  ['Fluconazole', 'capsule', ['50 mg', '150 mg', '200 mg'], 'capsule', 0.80, false, 'J02AC01'],
  ['Ondansetron', 'tablet', ['4 mg', '8 mg', '16 mg'], 'tablet', 0.55, false, 'A04AA01'],
  ['Esomeprazole', 'capsule', ['20 mg', '40 mg', '80 mg'], 'capsule', 0.45, false, 'A02BC05'],
  ['Tamsulosin', 'capsule', ['0.2 mg', '0.4 mg', '0.8 mg'], 'capsule', 0.40, false, 'G04CA02'],
  ['Allopurinol', 'tablet', ['100 mg', '200 mg', '300 mg'], 'tablet', 0.11, false, 'M04AA01'],
  ['Escitalopram', 'tablet', ['5 mg', '10 mg', '20 mg'], 'tablet', 0.30, false, 'N06AB10'],
  ['Insulin glargine', 'injection', ['100 IU/ml 3 ml', '100 IU/ml 10 ml', '300 IU/ml 1.5 ml'], 'unit', 28.0, false, 'A10AE04'],
  ['Enoxaparin', 'injection', ['40 mg', '60 mg', '80 mg'], 'unit', 9.5, false, 'B01AB05'],
  ['Vitamin D3', 'tablet', ['400 IU', '1000 IU', '2000 IU'], 'tablet', 0.06, true, 'A11CC05'],
  ['Folic acid', 'tablet', ['0.4 mg', '1 mg', '5 mg'], 'tablet', 0.04, true, 'B03BB01'],
  ['Ferrous sulfate', 'tablet', ['65 mg', '130 mg', '200 mg'], 'tablet', 0.05, true, 'B03AA07'],
  ['Dextromethorphan', 'syrup', ['10 mg/5 ml', '15 mg/5 ml', '30 mg/10 ml'], 'bottle', 4.20, true, 'R05DA09'],
  ['Chlorhexidine', 'solution', ['0.12 %', '0.2 %', '2 %'], 'bottle', 3.80, true, 'A01AB03'],
  ['Hydrocortisone', 'cream', ['0.5 %', '1 %', '2.5 %'], 'tube', 3.10, true, 'D07AA02'],
  ['Clotrimazole', 'cream', ['1 %', '2 %', '10 %'], 'tube', 2.90, true, 'D01AC01'],
  ['Ranitidine', 'tablet', ['75 mg', '150 mg', '300 mg'], 'tablet', 0.12, true, 'A02BA02'],
];

const DEPARTMENTS: [code: string, name: string, type: string, newFee: number, followUpFee: number][] = [
  ['GEN', 'General Medicine', 'clinical', 150, 90],
  ['CARD', 'Cardiology', 'clinical', 260, 150],
  ['PED', 'Pediatrics', 'clinical', 140, 80],
  ['ORTH', 'Orthopedics', 'surgical', 220, 130],
  ['DERM', 'Dermatology', 'clinical', 180, 110],
  ['ENT', 'Otolaryngology (ENT)', 'clinical', 170, 100],
];
const CLINICAL_DEPARTMENTS = DEPARTMENTS.length; // department 7 of each hospital is its pharmacy

const sqlText = (values: string[]) => `array[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')}]::text[]`;

/** Table tags of the deterministic ids: <tag as 8 hex digits>-0000-4000-8000-<n as 12 hex digits>. */
const TAG = {
  hospital: 0xc1, department: 0xc2, user: 0xc3, doctor: 0xc4, schedule: 0xc5, fee: 0xc6, tax: 0xc7,
  medicine: 0xb1, batch: 0xb2,
  patient: 0xa1, appointment: 0xa2, statusLog: 0xa3, invoice: 0xa4, invoiceItem: 0xa5, payment: 0xa6,
  prescription: 0xa7, prescriptionItem: 0xa8, dispensing: 0xa9, dispensingItem: 0xaa, movement: 0xab, audit: 0xac,
};

/** The big tables: loaded without triggers, their plain (non-constraint) indexes rebuilt after. */
const BULK_TABLES = [
  'patients', 'appointments', 'appointment_status_log', 'invoices', 'invoice_items', 'payments', 'prescriptions',
  'prescription_items', 'pharmacy_dispensing', 'pharmacy_dispensing_items', 'stock_movements', 'audit_logs',
];

/** Helpers in pg_temp: deterministic ids, and document numbers formatted as hms_generate_id does. */
const HELPERS = `
create function pg_temp.gid(p_tag int, p_n bigint) returns uuid language sql immutable parallel safe as
$$ select (lpad(to_hex(p_tag), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(p_n), 12, '0'))::uuid $$;

-- app_hidden.hms_calculate_checksum (ISO 7064 MOD 37,36) reads its input through 36 states and
-- writes the final state as the check character, one character per state: so the state after any
-- input is known from its check character, and a number's check character is a function of its
-- prefix's state and its digits.
create function pg_temp.check_state(p_input text) returns int language sql immutable as $$
  select case when k = 0 then 1 else 37 - k end
    from (select position(app_hidden.hms_calculate_checksum(p_input) in '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ') - 1 as k) x
$$;

-- The state after three more digits, for every state (1..36) and block 000..999, as one constant
-- array (each state reached from a one-character input): numbering a million rows is then two
-- array lookups each instead of the function's loop per character.
do $$
declare v_table int[];
begin
  with representative as (
    select distinct on (pg_temp.check_state(c)) pg_temp.check_state(c) as state, c
      from regexp_split_to_table('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', '') c order by pg_temp.check_state(c), c)
  select array_agg(pg_temp.check_state(r.c || lpad(b::text, 3, '0')) order by r.state, b) into v_table
    from representative r, generate_series(0, 999) b;
  if array_length(v_table, 1) <> 36000 then
    raise exception 'the check-character states are not what the generator expects';
  end if;
  execute format('create function pg_temp.check_table() returns int[] language sql immutable as %L',
                 format('select %L::int[]', v_table));
end $$;

-- prefix || 6-digit sequence || '-' || check character: what hms_generate_id writes for the
-- patterns {PREFIX}-{HOSPITAL}[-{YYYY}]-{SEQ}-{CHECK} (p_state = check_state(prefix)).
create function pg_temp.document_number(p_prefix text, p_state int, p_seq bigint) returns text language sql immutable as $$
  select case when p_seq < 1000000 then
    p_prefix || lpad(p_seq::text, 6, '0') || '-' || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ',
      (37 - (pg_temp.check_table())[((pg_temp.check_table())[(p_state - 1) * 1000 + (p_seq / 1000)::int + 1] - 1) * 1000
                                    + (p_seq % 1000)::int + 1]) % 36 + 1, 1)
  else p_prefix || p_seq::text || '-' || app_hidden.hms_calculate_checksum(p_prefix || p_seq::text) end
$$;
`;

function steps(patients: number): { label: string; table?: string; sql: string }[] {
  const hospitalsValues = HOSPITALS.map(
    ([code, city, state, tz, weight], i) => `(${i + 1}, '${code}', '${city.replace(/'/g, "''")}', '${state}', '${tz}', ${weight})`,
  ).join(',\n    ');
  const medicinesValues = MEDICINES.flatMap(([name, form, strengths, unit, price, otc, atc], i) =>
    strengths.map(
      (strength, s) =>
        `(${i * 3 + s + 1}, '${name}', '${form}', '${strength}', '${unit}', ${(price * (1 + s * 0.6)).toFixed(2)}, ${otc}, '${atc}')`,
    ),
  ).join(',\n    ');
  const departmentsValues = DEPARTMENTS.map(
    ([code, name, type, newFee, followUpFee], i) => `(${i + 1}, '${code}', '${name}', '${type}', ${newFee}, ${followUpFee})`,
  ).join(', ');
  const first = (gender: string) => `case when ${gender} = 'male' then (${sqlText(MALE_NAMES)})[1 + floor(random() * ${MALE_NAMES.length})::int]
                    else (${sqlText(FEMALE_NAMES)})[1 + floor(random() * ${FEMALE_NAMES.length})::int] end`;
  const last = `(${sqlText(LAST_NAMES)})[1 + floor(random() * ${LAST_NAMES.length})::int]`;
  const otcKs = MEDICINES.flatMap(([, , strengths, , , otc], i) => strengths.map((_, s) => (otc ? i * 3 + s + 1 : 0))).filter((k) => k > 0);
  const otcList = `array[${otcKs.join(',')}]`;
  const otcCount = otcKs.length;

  return [
    {
      label: 'plan: hospitals, sizes and calendar',
      sql: `
create temp table gen_hospital as
select v.h, pg_temp.gid(${TAG.hospital}, v.h) as id, v.code, v.city, v.state, v.time_zone, v.weight,
       round(${patients} * v.weight / sum(v.weight) over ())::int as n_patients
  from (values ${hospitalsValues}) v(h, code, city, state, time_zone, weight);
alter table gen_hospital add column patient_offset bigint;
update gen_hospital g set patient_offset = o.s
  from (select h, coalesce(sum(n_patients) over (order by h rows between unbounded preceding and 1 preceding), 0) as s from gen_hospital) o
 where o.h = g.h;

-- The calendar of each hospital: two years back and a week ahead, Monday to Saturday. A day's load
-- follows the weekday (Mondays busiest, Saturdays morning only), the season (winter peaks), chance,
-- and the holidays (clinics nearly empty).
create temp table gen_day as
select h.h, h.id as hospital_id, h.code, h.time_zone, d::date as day, extract(isodow from d)::int as dow,
       extract(year from d)::int as year,
       (case extract(isodow from d)::int when 1 then 1.25 when 2 then 1.05 when 3 then 1.0 when 4 then 0.95 when 5 then 0.9 else 0.6 end)
       * (1 + 0.15 * cos(2 * pi() * (extract(doy from d) - 20) / 365.0))
       * (0.85 + 0.3 * random())
       * (case when to_char(d, 'MM-DD') in ('01-01', '07-04', '12-25', '12-31', '11-26') then 0.1 else 1 end) as factor
  from gen_hospital h
 cross join generate_series(current_date - 730, least(current_date + 7, make_date(extract(year from current_date)::int, 12, 31)), interval '1 day') d
 where extract(isodow from d) <> 7;

-- Appointments per hospital ≈ 5 × its patients; doctors: enough for the busiest day (28 slots of 15
-- minutes on weekdays, 16 on Saturday mornings).
alter table gen_hospital add column n_doctors int;
update gen_hospital g set n_doctors = greatest(${CLINICAL_DEPARTMENTS}, ceil(5.0 * g.n_patients / f.total * f.peak / 26)::int)
  from (select h, sum(factor) as total, max(factor / case when dow = 6 then 16.0 / 28 else 1 end) as peak from gen_day group by h) f
 where f.h = g.h;
alter table gen_day add column n int;
update gen_day d set n = least(case when d.dow = 6 then 16 else 28 end * h.n_doctors,
                               round(5.0 * h.n_patients * d.factor / f.total))::int
  from gen_hospital h, (select h, sum(factor) as total from gen_day group by h) f
 where h.h = d.h and f.h = d.h;
alter table gen_day add column global_offset bigint, add column year_offset bigint;
update gen_day d set global_offset = o.g, year_offset = o.y
  from (select h, day,
               coalesce(sum(n) over (order by h, day rows between unbounded preceding and 1 preceding), 0) as g,
               coalesce(sum(n) over (partition by h, year order by day rows between unbounded preceding and 1 preceding), 0) as y
          from gen_day) o
 where o.h = d.h and o.day = d.day;

analyze gen_hospital; analyze gen_day;
-- The reference data is written as the schema owner: it reads the plan.
grant select on gen_hospital, gen_day to :owner;`,
    },
    // ---------------------------------------------------------------- reference data (triggers on)
    {
      label: 'hospitals (provisioned by their trigger) and their numbering prefixes',
      sql: `
set role :owner;
insert into app_public.hospitals (id, code, name, legal_name, hospital_type, email, phone, address_line1, city, state_province,
                                  postal_code, country_code, time_zone, currency_code, locale, bed_capacity)
select id, code, city || ' General Hospital', 'HMS Chain Health of ' || city || ', Inc.', 'multi_specialty',
       lower(code) || '@chain.hms.test', '+1 555-01' || lpad(h::text, 2, '0') || '-0000', h || ' Hospital Avenue', city, state,
       lpad((10000 + h * 3137)::text, 5, '0'), 'US', time_zone, 'USD', 'en-US', (120 * weight)::int
  from gen_hospital order by h;
reset role;

-- The numbering prefix of each hospital, document type and year, with its check-digit state.
create temp table gen_prefix as
select h.h, h.id as hospital_id, s.document_type, y.year,
       replace(replace(replace(replace(s.pattern, '{PREFIX}', s.prefix), '{HOSPITAL}', h.code), '{YYYY}', y.year::text), '{SEQ}-{CHECK}', '') as prefix
  from gen_hospital h
  join (values ('patient'), ('appointment'), ('prescription'), ('dispensing'), ('invoice'), ('receipt')) t(document_type) on true
  join lateral (select * from app_public.id_sequences s where s.hospital_id = h.id and s.document_type = t.document_type and s.scope = '') s on true
  join lateral (select generate_series(extract(year from current_date)::int - 2, extract(year from current_date)::int) as year) y
    on s.reset_period = 'yearly' or y.year = extract(year from current_date)::int;
alter table gen_prefix add column state int;
update gen_prefix set state = pg_temp.check_state(prefix);
create index on gen_prefix (hospital_id, document_type, year);
analyze gen_prefix;
grant select on gen_prefix to :owner;
`,
    },
    {
      label: 'departments, taxes, staff, doctors, schedules, fees',
      sql: `
set role :owner;
-- (the temp tables stay readable: pg_temp belongs to this session)
insert into app_public.departments (id, hospital_id, code, name, department_type, accepts_appointments, location)
select pg_temp.gid(${TAG.department}, h.h * 100 + d.k), h.id, d.code, d.name, d.type, true, 'Outpatient block, floor ' || d.k
  from gen_hospital h cross join (values ${departmentsValues}) d(k, code, name, type, new_fee, follow_up_fee)
union all
select pg_temp.gid(${TAG.department}, h.h * 100 + ${CLINICAL_DEPARTMENTS + 1}), h.id, 'PHARM', 'Pharmacy', 'pharmacy', false, 'Main lobby'
  from gen_hospital h;

insert into app_public.tax_configurations (id, hospital_id, code, name, tax_type, applies_to, rate_percent, is_default, effective_from)
select pg_temp.gid(${TAG.tax}, h.h * 10 + t.k), h.id, t.code, t.name, t.tax_type, t.applies_to, t.rate, true, current_date - 800
  from gen_hospital h
 cross join (values (1, 'CONSULT_EXEMPT', 'Medical services (exempt)', 'exempt', 'consultation', 0.00),
                    (2, 'MED_5', 'Sales tax 5% (medicines)', 'sales_tax', 'medicine', 5.00)) t(k, code, name, tax_type, applies_to, rate);

-- Staff: user 1..n_doctors are the doctors; then 3 receptionists, 2 pharmacists, 1 accountant, 1 admin.
create temp table gen_staff as
select h.h, h.id as hospital_id, h.code, k,
       case when k <= h.n_doctors then 'doctor'
            when k <= h.n_doctors + 3 then 'receptionist'
            when k <= h.n_doctors + 5 then 'pharmacist'
            when k = h.n_doctors + 6 then 'accountant'
            else 'hospital_admin' end as role_code,
       pg_temp.gid(${TAG.user}, h.h * 1000 + k) as user_id
  from gen_hospital h cross join lateral generate_series(1, h.n_doctors + 7) k;
insert into app_public.users (id, email, title, first_name, last_name, phone, job_title, employee_code, home_hospital_id)
select s.user_id, s.role_code || '.' || s.k || '@' || lower(s.code) || '.chain.hms.test',
       case when s.role_code = 'doctor' then 'Dr.' end, n.first_name, n.last_name,
       '+1 555-02' || lpad(s.h::text, 2, '0') || '-' || lpad(s.k::text, 4, '0'),
       initcap(replace(s.role_code, '_', ' ')), s.code || '-' || lpad(s.k::text, 4, '0'), s.hospital_id
  from gen_staff s
 cross join lateral (select ${first("case when s.k % 2 = 0 then 'male' else 'female' end")} as first_name, ${last} as last_name) n;
insert into app_public.user_roles (user_id, role_id, hospital_id, is_primary, valid_from)
select s.user_id, r.id, s.hospital_id, true, current_date - 800
  from gen_staff s join app_public.roles r on r.code = s.role_code and r.hospital_id is null;

insert into app_public.doctors (id, hospital_id, user_id, department_id, registration_number, specialization, qualifications,
                                years_of_experience, languages, joined_on, consultation_room, max_patients_per_day)
select pg_temp.gid(${TAG.doctor}, s.h * 1000 + s.k), s.hospital_id, s.user_id,
       pg_temp.gid(${TAG.department}, s.h * 100 + (s.k - 1) % ${CLINICAL_DEPARTMENTS} + 1),
       s.code || 'MD' || lpad(s.k::text, 5, '0'), d.name, '{MD}', 3 + s.k % 25, '{en}', current_date - 900,
       'Room ' || (100 + s.k), 28
  from gen_staff s
  join (values ${departmentsValues}) d(k, code, name, type, new_fee, follow_up_fee) on d.k = (s.k - 1) % ${CLINICAL_DEPARTMENTS} + 1
 where s.role_code = 'doctor';

-- Monday–Friday 09:00–13:00 and 14:00–17:00, Saturday 09:00–13:00, 15-minute slots.
insert into app_public.doctor_schedules (id, hospital_id, doctor_id, department_id, day_of_week, session, start_time, end_time,
                                         slot_minutes, max_patients, valid_from)
select pg_temp.gid(${TAG.schedule}, (s.h * 1000 + s.k) * 16 + w.k), s.hospital_id, pg_temp.gid(${TAG.doctor}, s.h * 1000 + s.k),
       pg_temp.gid(${TAG.department}, s.h * 100 + (s.k - 1) % ${CLINICAL_DEPARTMENTS} + 1),
       w.dow, w.session, w.start_time, w.end_time, 15, w.slots, current_date - 800
  from gen_staff s
 cross join (values (1, 1, 'morning', time '09:00', time '13:00', 16), (2, 2, 'morning', time '09:00', time '13:00', 16),
                    (3, 3, 'morning', time '09:00', time '13:00', 16), (4, 4, 'morning', time '09:00', time '13:00', 16),
                    (5, 5, 'morning', time '09:00', time '13:00', 16), (6, 6, 'morning', time '09:00', time '13:00', 16),
                    (7, 1, 'afternoon', time '14:00', time '17:00', 12), (8, 2, 'afternoon', time '14:00', time '17:00', 12),
                    (9, 3, 'afternoon', time '14:00', time '17:00', 12), (10, 4, 'afternoon', time '14:00', time '17:00', 12),
                    (11, 5, 'afternoon', time '14:00', time '17:00', 12)) w(k, dow, session, start_time, end_time, slots)
 where s.role_code = 'doctor';

insert into app_public.doctor_fees (id, hospital_id, doctor_id, visit_type, amount, follow_up_window_days, tax_configuration_id, valid_from)
select pg_temp.gid(${TAG.fee}, (s.h * 1000 + s.k) * 4 + f.k), s.hospital_id, pg_temp.gid(${TAG.doctor}, s.h * 1000 + s.k), f.visit_type,
       case f.visit_type when 'follow_up' then d.follow_up_fee else d.new_fee end, case when f.k = 1 then 14 end,
       pg_temp.gid(${TAG.tax}, s.h * 10 + 1), current_date - 800
  from gen_staff s
  join (values ${departmentsValues}) d(k, code, name, type, new_fee, follow_up_fee) on d.k = (s.k - 1) % ${CLINICAL_DEPARTMENTS} + 1
 cross join (values (1, 'new_consultation'), (2, 'follow_up'), (3, 'procedure'), (4, 'emergency')) f(k, visit_type)
 where s.role_code = 'doctor';

create temp table gen_medicine as
select h.h, h.id as hospital_id, m.*, pg_temp.gid(${TAG.medicine}, h.h * 1000 + m.k) as id
  from gen_hospital h cross join (values ${medicinesValues}) m(k, name, form, strength, unit, price, otc, atc);
insert into app_public.medicines (id, hospital_id, item_code, generic_name, dosage_form, strength, base_unit, pack_size, route, atc_code,
                                  schedule_category, reorder_level, reorder_quantity, purchase_price, selling_price, mrp, tax_configuration_id)
select m.id, m.hospital_id, 'M' || lpad(m.k::text, 4, '0'), m.name, m.form, m.strength, m.unit,
       case when m.unit in ('tablet', 'capsule') then 10 else 1 end,
       case m.form when 'cream' then 'topical' when 'inhaler' then 'inhalation' when 'injection' then 'subcutaneous'
                   when 'solution' then 'topical' else 'oral' end,
       m.atc, case when m.otc then 'otc' else 'prescription_only' end, 200, 1000,
       round(m.price * 0.6, 2), m.price, round(m.price * 1.2, 2), pg_temp.gid(${TAG.tax}, m.h * 10 + 2)
  from gen_medicine m;
analyze gen_staff; analyze gen_medicine;
reset role;`,
    },
    // ---------------------------------------------------------------- the big tables (no triggers)
    {
      label: 'patients',
      table: 'patients',
      sql: `
insert into app_public.patients (id, hospital_id, mrn, first_name, middle_name, last_name, date_of_birth, gender, sex_at_birth,
  blood_group, marital_status, phone_primary, email, address_line1, city, state_province, postal_code, country_code,
  national_id_type, national_id_number, preferred_language, registration_date, sms_consent, email_consent, created_at, updated_at)
select pg_temp.gid(${TAG.patient}, h.patient_offset + g.seq), h.id, pg_temp.document_number(pf.prefix, pf.state, g.seq),
       ${first('r.gender')}, case when r.r1 < 0.2 then ${last} end, ${last},
       r.dob, r.gender, r.gender,
       (array['A+','A+','A-','B+','B-','AB+','O+','O+','O-','unknown'])[1 + floor(random() * 10)::int],
       case when r.age < 18 then 'single' else (array['single','married','married','divorced','widowed'])[1 + floor(random() * 5)::int] end,
       '+1 ' || (200 + g.seq % 700) || '-555-' || lpad((g.seq % 10000)::text, 4, '0'),
       case when r.r1 < 0.6 then 'p' || h.code || g.seq || '@example.com' end,
       (1 + g.seq % 9000) || ' ' || (array['Main','Oak','Pine','Maple','Cedar','Elm','Lake','Hill','Park','River'])[1 + g.seq % 10] || ' Street',
       h.city, h.state, lpad(((h.h * 3137 + g.seq) % 90000 + 10000)::text, 5, '0'), 'US',
       case when r.r1 < 0.7 then 'ssn' end,
       case when r.r1 < 0.7 then lpad((100 + (g.seq * 7 + h.h) % 800)::text, 3, '0') || '-' || lpad((h.h * 3 + g.seq % 90 + 10)::text, 2, '0')
                                 || '-' || lpad((g.seq % 10000)::text, 4, '0') end,
       case when r.r1 > 0.85 then 'es' else 'en' end, r.registered, r.r1 < 0.8, r.r1 < 0.6,
       r.registered::timestamptz + interval '9 hours', r.registered::timestamptz + interval '9 hours'
  from gen_hospital h
  join gen_prefix pf on pf.hospital_id = h.id and pf.document_type = 'patient'
 cross join lateral generate_series(1, h.n_patients) g(seq)
 cross join lateral (
   select x.*, (current_date - (x.age * 365.25 + x.r2 * 364)::int) as dob
     from (select case when x0.r0 < 0.49 then 'male' when x0.r0 < 0.99 then 'female' else 'unknown' end as gender,
                  x0.r1, x0.r2,
                  case when x0.r3 < 0.2 then floor(x0.r4 * 18) when x0.r3 < 0.8 then 18 + floor(x0.r4 * 47) else 65 + floor(x0.r4 * 30) end as age,
                  current_date - floor(power(x0.r5, 0.7) * 1825)::int as registered
             from (select random() + 0 * g.seq as r0, random() as r1, random() as r2, random() as r3, random() as r4, random() as r5) x0) x
 ) r;`,
    },
    {
      label: 'appointments',
      table: 'appointments',
      sql: `
insert into app_public.appointments (id, hospital_id, appointment_number, patient_id, doctor_id, department_id, schedule_id, visit_type,
  scheduled_start, scheduled_end, status, booking_source, priority, reason_for_visit, quoted_fee, confirmed_at, checked_in_at,
  started_at, completed_at, no_show_at, cancelled_at, cancelled_by, cancellation_reason, created_at, updated_at, created_by)
select pg_temp.gid(${TAG.appointment}, d.global_offset + i + 1), d.hospital_id,
       pg_temp.document_number(pf.prefix, pf.state, d.year_offset + i + 1),
       pg_temp.gid(${TAG.patient}, h.patient_offset + 1 + floor(power(r.r0, 1.6) * h.n_patients)::int),
       pg_temp.gid(${TAG.doctor}, d.h * 1000 + s.doctor_k), pg_temp.gid(${TAG.department}, d.h * 100 + s.department_k),
       pg_temp.gid(${TAG.schedule}, (d.h * 1000 + s.doctor_k) * 16 + case when s.slot < 16 then d.dow else 6 + d.dow end),
       s.visit_type, s.start_at, s.start_at + interval '15 minutes', s.status, s.source, 'routine',
       (array['Fever and cough','Follow-up of treatment','Chest pain on exertion','Back pain','Skin rash','Ear pain',
              'Annual check-up','Knee pain after a fall','Blood pressure review','Headaches','Child vaccination','Sore throat'])[1 + floor(r.r1 * 12)::int],
       case s.visit_type when 'follow_up' then dep.follow_up_fee else dep.new_fee end,
       case when s.status = 'confirmed' then s.booked_at + interval '1 hour' end,
       case when s.status in ('completed', 'checked_in') then s.start_at - interval '10 minutes' end,
       case when s.status = 'completed' then s.start_at + interval '2 minutes' end,
       case when s.status = 'completed' then s.start_at + interval '14 minutes' end,
       case when s.status = 'no_show' then s.start_at + interval '30 minutes' end,
       case when s.status = 'cancelled' then s.booked_at + (s.start_at - s.booked_at) / 2 end,
       case when s.status = 'cancelled' then pg_temp.gid(${TAG.user}, d.h * 1000 + h.n_doctors + 1) end,
       case when s.status = 'cancelled' then 'Patient asked to cancel.' end,
       s.booked_at, greatest(s.booked_at, least(now(), s.start_at + interval '14 minutes')),
       case when s.source in ('front_desk', 'phone') then pg_temp.gid(${TAG.user}, d.h * 1000 + h.n_doctors + 1 + i % 3) end
  from gen_day d
  join gen_hospital h on h.h = d.h
  join gen_prefix pf on pf.hospital_id = d.hospital_id and pf.document_type = 'appointment' and pf.year = d.year
 cross join lateral generate_series(0, d.n - 1) i
 cross join lateral (select random() + 0 * i as r0, random() as r1, random() as r2, random() as r3, random() as r4) r
 cross join lateral (
   select x.*, case when x.start_at > now() then 'booked'
                    when r.r2 < 0.83 then 'completed' when r.r2 < 0.89 then 'no_show' else 'cancelled' end as status0
     from (select i % h.n_doctors + 1 as doctor_k, (i % h.n_doctors) % ${CLINICAL_DEPARTMENTS} + 1 as department_k, i / h.n_doctors as slot,
                  (case when i / h.n_doctors < 16 then d.day + time '09:00' + make_interval(mins => 15 * (i / h.n_doctors)::int)
                        else d.day + time '14:00' + make_interval(mins => 15 * (i / h.n_doctors - 16)::int) end) at time zone d.time_zone as start_at,
                  case when r.r3 < 0.42 then 'new_consultation' when r.r3 < 0.93 then 'follow_up' when r.r3 < 0.97 then 'procedure' else 'emergency' end as visit_type,
                  case when r.r4 < 0.4 then 'front_desk' when r.r4 < 0.7 then 'phone' when r.r4 < 0.9 then 'web' else 'app' end as source) x
 ) s0
 cross join lateral (
   select s0.*,
          case when s0.status0 <> 'booked' then s0.status0
               when s0.start_at < now() + interval '45 minutes' and r.r2 < 0.6 then 'checked_in'
               when r.r2 < 0.35 then 'confirmed' else 'booked' end as status,
          least(now() - interval '1 minute', s0.start_at - make_interval(hours => 1 + floor(power(r.r1, 2) * 21 * 24)::int)) as booked_at
 ) s
  join (values ${departmentsValues}) dep(k, code, name, type, new_fee, follow_up_fee) on dep.k = s.department_k;`,
    },
    {
      label: 'appointment status history',
      table: 'appointment_status_log',
      sql: `
insert into app_public.appointment_status_log (id, hospital_id, appointment_id, from_status, to_status, changed_at, changed_by, reason,
                                               created_at, updated_at, created_by)
select pg_temp.gid(${TAG.statusLog}, row_number() over ()), a.hospital_id, a.id, t.from_status, t.to_status, t.changed_at, t.changed_by,
       case when t.to_status = 'cancelled' then a.cancellation_reason end, t.changed_at, t.changed_at, t.changed_by
  from app_public.appointments a
 cross join lateral (values
   ('booked', 'confirmed', a.confirmed_at, a.created_by),
   ('booked', 'checked_in', a.checked_in_at, a.created_by),
   ('checked_in', 'in_progress', a.started_at, null),
   ('in_progress', 'completed', a.completed_at, null),
   ('booked', 'no_show', a.no_show_at, null),
   ('booked', 'cancelled', a.cancelled_at, a.cancelled_by)) t(from_status, to_status, changed_at, changed_by)
 where t.changed_at is not null and a.hospital_id in (select id from gen_hospital);`,
    },
    {
      label: 'prescriptions and their items',
      table: 'prescriptions',
      sql: `
-- About one completed visit in eight ends with a prescription (≈ 0.5 × patients).
create temp table gen_rx as
select a.hospital_id, a.id as appointment_id, a.patient_id, a.doctor_id, a.completed_at, h.h, h.time_zone,
       extract(year from a.completed_at at time zone h.time_zone)::int as year,
       row_number() over (order by a.id) as n,
       row_number() over (partition by a.hospital_id, extract(year from a.completed_at at time zone h.time_zone) order by a.completed_at, a.id) as seq,
       1 + floor(random() * 3)::int as lines, random() < 0.9 as dispensed
  from app_public.appointments a
  join gen_hospital h on h.id = a.hospital_id
 where a.status = 'completed' and random() < ${0.5 / 4.1};
insert into app_public.prescriptions (id, hospital_id, prescription_number, patient_id, doctor_id, appointment_id, prescribed_at,
  status, version, diagnosis, diagnosis_codes, advice, valid_until, finalized_at, finalized_by, created_at, updated_at, created_by)
select pg_temp.gid(${TAG.prescription}, x.n), x.hospital_id, pg_temp.document_number(pf.prefix, pf.state, x.seq),
       x.patient_id, x.doctor_id, x.appointment_id, x.completed_at - interval '4 minutes',
       case when x.dispensed then 'dispensed' else 'finalized' end, 1, c.diagnosis, array[c.code], 'Review if not better in a week.',
       (x.completed_at at time zone x.time_zone)::date + 30, x.completed_at - interval '1 minute', dr.user_id,
       x.completed_at - interval '4 minutes', x.completed_at, dr.user_id
  from gen_rx x
  join gen_prefix pf on pf.hospital_id = x.hospital_id and pf.document_type = 'prescription' and pf.year = x.year
  join app_public.doctors dr on dr.id = x.doctor_id
 cross join lateral (select (array['Acute upper respiratory infection','Essential hypertension','Type 2 diabetes mellitus',
                                   'Low back pain','Atopic dermatitis','Acute otitis media','Osteoarthritis of knee','Gastritis'])[1 + x.n % 8] as diagnosis,
                            (array['J06.9','I10','E11.9','M54.5','L20.9','H66.9','M17.9','K29.7'])[1 + x.n % 8] as code) c;

create temp table gen_rx_item as
select x.*, l as line, pg_temp.gid(${TAG.prescriptionItem}, x.n * 4 + l) as item_id, m.id as medicine_id, m.k as medicine_k,
       m.name || ' ' || m.strength as drug_name, m.price, (10 + floor(random() * 5)::int * 10) as quantity
  from gen_rx x
 cross join lateral generate_series(1, x.lines) l
  join gen_medicine m on m.h = x.h and m.k = 1 + (x.n * 7 + l * 13) % ${MEDICINES.length * 3};
insert into app_public.prescription_items (id, hospital_id, prescription_id, line_number, medicine_id, drug_name, dose, frequency,
  frequency_per_day, route, duration_days, quantity_prescribed, quantity_dispensed, timing, created_at, updated_at)
select i.item_id, i.hospital_id, pg_temp.gid(${TAG.prescription}, i.n), i.line, i.medicine_id, i.drug_name, '1 unit', 'twice daily', 2,
       'oral', i.quantity / 2, i.quantity, case when i.dispensed then i.quantity else 0 end, 'after_food',
       i.completed_at - interval '4 minutes', i.completed_at
  from gen_rx_item i;`,
    },
    {
      label: 'pharmacy: prescription and over-the-counter dispensings',
      table: 'pharmacy_dispensing',
      sql: `
-- Dispensings: 90 % of prescriptions, 20 minutes after the visit; and ≈ 1 × patients walk-in sales
-- of OTC medicines during opening hours (08:00–20:00), spread over the calendar like the visits.
create temp table gen_dispensing as
select x.hospital_id, x.h, x.patient_id, pg_temp.gid(${TAG.prescription}, x.n) as prescription_id, null::text as customer_name,
       'prescription' as dispensing_type, x.completed_at + interval '20 minutes' as dispensed_at, x.n as rx_n, x.lines
  from gen_rx x where x.dispensed
union all
select d.hospital_id, d.h, null, null, ${first("case when random() < 0.5 then 'male' else 'female' end")} || ' ' || ${last},
       'otc', (d.day + time '08:00' + make_interval(secs => floor(random() * 43200)::int)) at time zone d.time_zone, null, 1 + floor(random() * 3)::int
  from gen_day d cross join lateral generate_series(1, (d.n / 5.0 * (0.8 + 0.4 * random()))::int) k
 where d.day < current_date;
delete from gen_dispensing where dispensed_at > now();
create temp table gen_dispensing_n as
select g.*, row_number() over (order by g.dispensed_at, g.hospital_id) as n,
       row_number() over (partition by g.hospital_id, extract(year from g.dispensed_at at time zone h.time_zone) order by g.dispensed_at) as seq,
       extract(year from g.dispensed_at at time zone h.time_zone)::int as year
  from gen_dispensing g join gen_hospital h on h.id = g.hospital_id;
drop table gen_dispensing;

create temp table gen_dispensing_item as
select d.n, d.hospital_id, d.h, d.dispensed_at, d.dispensing_type, l as line, pg_temp.gid(${TAG.dispensingItem}, d.n * 4 + l) as item_id,
       ri.item_id as rx_item_id, m.id as medicine_id, m.k as medicine_k, m.price,
       coalesce(ri.quantity, (1 + floor(random() * 3)::int) * case when m.unit in ('tablet', 'capsule') then 10 else 1 end) as quantity,
       -- first expiry, first out: the batch in use rotates every six months
       pg_temp.gid(${TAG.batch}, (d.h * 1000 + m.k) * 10 + 1 + (extract(epoch from d.dispensed_at)::bigint / (86400 * 182)) % 4) as batch_id,
       (1 + (extract(epoch from d.dispensed_at)::bigint / (86400 * 182)) % 4)::int as batch_k
  from gen_dispensing_n d
 cross join lateral generate_series(1, d.lines) l
  left join gen_rx_item ri on ri.n = d.rx_n and ri.line = l
  join gen_medicine m on m.h = d.h and m.k = coalesce(ri.medicine_k, (${otcList})[1 + (d.n * 3 + l * 7) % ${otcCount}]);
alter table gen_dispensing_item add column net numeric(12,2), add column tax numeric(12,2);
update gen_dispensing_item set net = round(quantity * price, 2), tax = round(round(quantity * price, 2) * 0.05, 2);
analyze gen_dispensing_item;

insert into app_public.pharmacy_dispensing (id, hospital_id, dispensing_number, patient_id, customer_name, prescription_id, dispensing_type,
  status, dispensed_at, dispensed_by, total_amount, tax_amount, net_amount, created_at, updated_at, created_by)
select pg_temp.gid(${TAG.dispensing}, d.n), d.hospital_id, pg_temp.document_number(pf.prefix, pf.state, d.seq), d.patient_id, d.customer_name,
       d.prescription_id, d.dispensing_type, 'completed', d.dispensed_at, ph.user_id, t.net, t.tax, t.net + t.tax,
       d.dispensed_at, d.dispensed_at, ph.user_id
  from gen_dispensing_n d
  join gen_prefix pf on pf.hospital_id = d.hospital_id and pf.document_type = 'dispensing' and pf.year = d.year
  join (select n, sum(net) as net, sum(tax) as tax from gen_dispensing_item group by n) t on t.n = d.n
  join gen_hospital h on h.h = d.h
  join gen_staff ph on ph.h = d.h and ph.k = h.n_doctors + 4 + d.n % 2;

insert into app_public.pharmacy_dispensing_items (id, hospital_id, dispensing_id, prescription_item_id, medicine_id, batch_id, quantity,
  unit_price, tax_percent, tax_amount, line_total, expiry_date, created_at, updated_at)
select i.item_id, i.hospital_id, pg_temp.gid(${TAG.dispensing}, i.n), i.rx_item_id, i.medicine_id, i.batch_id, i.quantity, i.price, 5,
       i.tax, i.net + i.tax, current_date + 400 + i.batch_k * 90, i.dispensed_at, i.dispensed_at
  from gen_dispensing_item i;`,
    },
    {
      label: 'medicine batches and the stock ledger',
      table: 'stock_movements',
      sql: `
-- Each batch: an opening balance two years ago, then a top-up from the chain's central store at the
-- start of every day that dispenses from it (what the day will dispense plus a margin),
-- then the dispensings. Its balance after each movement is the running sum and never negative.
create temp table gen_movement as
select b.hospital_id, b.medicine_id, b.batch_id, 'opening_balance' as movement_type, 100 as quantity,
       now() - interval '731 days' as occurred_at, null::uuid as dispensing_item_id, 0 as ord
  from (select distinct m.hospital_id, m.id as medicine_id, pg_temp.gid(${TAG.batch}, (m.h * 1000 + m.k) * 10 + b) as batch_id
          from gen_medicine m cross join generate_series(1, 4) b) b
union all
select i.hospital_id, i.medicine_id, i.batch_id, 'transfer_in', (sum(i.quantity) * 1.2)::int + 10,
       to_timestamp(floor(extract(epoch from min(i.dispensed_at)) / 86400) * 86400), null, 1
  from gen_dispensing_item i
 group by i.hospital_id, i.medicine_id, i.batch_id, floor(extract(epoch from i.dispensed_at) / 86400)
union all
select i.hospital_id, i.medicine_id, i.batch_id, 'dispense', -i.quantity, i.dispensed_at, i.item_id, 2
  from gen_dispensing_item i;

insert into app_public.stock_movements (id, hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after,
  occurred_at, dispensing_item_id, reason, created_at, updated_at)
select pg_temp.gid(${TAG.movement}, row_number() over (order by m.occurred_at, m.ord)), m.hospital_id, m.movement_type, 'medicine',
       m.medicine_id, m.batch_id, m.quantity,
       sum(m.quantity) over (partition by m.batch_id order by m.occurred_at, m.ord, m.dispensing_item_id rows unbounded preceding),
       m.occurred_at, m.dispensing_item_id,
       case m.movement_type when 'opening_balance' then 'Opening balance at go-live.' when 'transfer_in' then 'Top-up from the central store.' end,
       m.occurred_at, m.occurred_at
  from gen_movement m;

insert into app_public.medicine_batches (id, hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, quantity_received,
  quantity_on_hand, unit_cost, selling_price, received_at, storage_location, status, created_at, updated_at)
select pg_temp.gid(${TAG.batch}, (m.h * 1000 + m.k) * 10 + b), m.hospital_id, m.id, 'B' || m.k || '-' || b || '-' || m.h,
       current_date - 800, current_date + 400 + b * 90, t.received, t.on_hand, round(m.price * 0.6, 2), m.price,
       now() - interval '731 days', 'Main pharmacy · Rack ' || (1 + m.k % 12), case when t.on_hand = 0 then 'depleted' else 'active' end,
       now() - interval '731 days', now()
  from gen_medicine m cross join generate_series(1, 4) b
  join (select batch_id, sum(quantity) filter (where quantity > 0) as received, sum(quantity) as on_hand
          from gen_movement group by batch_id) t on t.batch_id = pg_temp.gid(${TAG.batch}, (m.h * 1000 + m.k) * 10 + b);`,
    },
    {
      label: 'invoices, their items and payments',
      table: 'invoices',
      sql: `
-- Billable visits (new consultations, procedures, emergencies; follow-ups are free within the
-- window) and prescription sales are invoiced. Payments: 92 % paid at once (8 % of them in two
-- parts), 4 % partially paid, 4 % still open.
create temp table gen_invoice as
select a.hospital_id, h.h, a.patient_id, a.id as appointment_id, null::uuid as dispensing_id, 'outpatient' as invoice_type,
       a.completed_at + interval '5 minutes' as issued_at, a.quoted_fee as amount, 0::numeric as tax, a.doctor_id, a.department_id,
       null::bigint as dispensing_n
  from app_public.appointments a join gen_hospital h on h.id = a.hospital_id
 where a.status = 'completed' and a.visit_type <> 'follow_up'
union all
select d.hospital_id, d.h, d.patient_id, null, pg_temp.gid(${TAG.dispensing}, d.n), 'pharmacy', d.dispensed_at + interval '1 minute',
       t.net, t.tax, null, null, d.n
  from gen_dispensing_n d join (select n, sum(net) as net, sum(tax) as tax from gen_dispensing_item group by n) t on t.n = d.n
 where d.dispensing_type = 'prescription';
create temp table gen_invoice_n as
select g.*, row_number() over (order by g.issued_at, g.hospital_id) as n,
       row_number() over (partition by g.hospital_id, extract(year from g.issued_at at time zone h.time_zone) order by g.issued_at, g.appointment_id, g.dispensing_id) as seq,
       extract(year from g.issued_at at time zone h.time_zone)::int as year, (g.issued_at at time zone h.time_zone)::date as local_date,
       random() as r, case when g.invoice_type = 'outpatient' and random() < 0.3 then 1 else 0 end as extra_line
  from gen_invoice g join gen_hospital h on h.id = g.hospital_id;
drop table gen_invoice;
alter table gen_invoice_n add column total numeric(12,2), add column paid numeric(12,2);
update gen_invoice_n set total = amount + tax + extra_line * 45.00;
update gen_invoice_n set paid = case when r < 0.92 then total when r < 0.96 then round(total / 2, 2) else 0 end;
analyze gen_invoice_n;

insert into app_public.invoices (id, hospital_id, invoice_number, patient_id, appointment_id, dispensing_id, invoice_type, status, invoice_date,
  issued_at, issued_by, due_date, currency_code, subtotal, tax_amount, total_amount, amount_paid, balance_due, patient_amount, paid_at,
  created_at, updated_at, created_by)
select pg_temp.gid(${TAG.invoice}, i.n), i.hospital_id, pg_temp.document_number(pf.prefix, pf.state, i.seq), i.patient_id, i.appointment_id,
       i.dispensing_id, i.invoice_type,
       case when i.paid = i.total then 'paid' when i.paid > 0 then 'partially_paid' else 'issued' end, i.local_date, i.issued_at,
       acc.user_id, i.local_date + 30, 'USD', i.total - i.tax, i.tax, i.total, i.paid, i.total - i.paid, i.total,
       case when i.paid = i.total then i.issued_at + interval '3 minutes' end, i.issued_at, i.issued_at, acc.user_id
  from gen_invoice_n i
  join gen_prefix pf on pf.hospital_id = i.hospital_id and pf.document_type = 'invoice' and pf.year = i.year
  join gen_hospital h on h.h = i.h
  join gen_staff acc on acc.h = i.h and acc.k = h.n_doctors + 1 + i.n % 3;

insert into app_public.invoice_items (id, hospital_id, invoice_id, line_number, item_type, description, service_date, appointment_id,
  doctor_id, department_id, quantity, unit_price, tax_percent, tax_amount, line_total, tax_configuration_id, created_at, updated_at,
  dispensing_item_id, medicine_id, batch_id)
select pg_temp.gid(${TAG.invoiceItem}, i.n * 8 + 1), i.hospital_id, pg_temp.gid(${TAG.invoice}, i.n), 1, 'consultation', 'Consultation',
       i.local_date, i.appointment_id, i.doctor_id, i.department_id, 1, i.amount, 0, 0, i.amount, pg_temp.gid(${TAG.tax}, i.h * 10 + 1),
       i.issued_at, i.issued_at, null::uuid, null::uuid, null::uuid
  from gen_invoice_n i where i.invoice_type = 'outpatient'
union all
select pg_temp.gid(${TAG.invoiceItem}, i.n * 8 + 2), i.hospital_id, pg_temp.gid(${TAG.invoice}, i.n), 2, 'procedure',
       'Electrocardiogram (ECG)', i.local_date, i.appointment_id, i.doctor_id, i.department_id, 1, 45.00, 0, 0, 45.00,
       pg_temp.gid(${TAG.tax}, i.h * 10 + 1), i.issued_at, i.issued_at, null, null, null
  from gen_invoice_n i where i.extra_line = 1
union all
select pg_temp.gid(${TAG.invoiceItem}, i.n * 8 + d.line), i.hospital_id, pg_temp.gid(${TAG.invoice}, i.n), d.line, 'medicine',
       m.name || ' ' || m.strength, i.local_date, null, null, null, d.quantity, d.price, 5, d.tax, d.net + d.tax,
       pg_temp.gid(${TAG.tax}, i.h * 10 + 2), i.issued_at, i.issued_at, d.item_id, d.medicine_id, d.batch_id
  from gen_invoice_n i
  join gen_dispensing_item d on d.n = i.dispensing_n
  join gen_medicine m on m.id = d.medicine_id;

create temp table gen_payment as
select i.hospital_id, i.h, i.n as invoice_n, i.patient_id, p.part, p.amount, i.issued_at + make_interval(mins => 3 + (p.part - 1) * 20) as paid_at,
       case when i.invoice_type = 'pharmacy' then 'card' else (array['cash','card','card','upi','mobile_wallet'])[1 + (i.n % 5)::int] end as method
  from gen_invoice_n i
 cross join lateral (values (1, case when i.r < 0.92 * 0.08 then round(i.paid / 2, 2) else i.paid end),
                            (2, case when i.r < 0.92 * 0.08 then i.paid - round(i.paid / 2, 2) end)) p(part, amount)
 where p.amount > 0;
create temp table gen_payment_n as
select g.*, row_number() over (order by g.paid_at, g.hospital_id) as n,
       row_number() over (partition by g.hospital_id, extract(year from g.paid_at at time zone h.time_zone) order by g.paid_at, g.invoice_n, g.part) as seq,
       extract(year from g.paid_at at time zone h.time_zone)::int as year
  from gen_payment g join gen_hospital h on h.id = g.hospital_id;
drop table gen_payment;
insert into app_public.payments (id, hospital_id, receipt_number, invoice_id, patient_id, amount, payment_method, payment_date, status,
  card_last4, received_by, created_at, updated_at, created_by)
select pg_temp.gid(${TAG.payment}, p.n), p.hospital_id, pg_temp.document_number(pf.prefix, pf.state, p.seq), pg_temp.gid(${TAG.invoice}, p.invoice_n),
       p.patient_id, p.amount, p.method, p.paid_at, 'completed', case when p.method = 'card' then lpad((p.n % 10000)::text, 4, '0') end,
       acc.user_id, p.paid_at, p.paid_at, acc.user_id
  from gen_payment_n p
  join gen_prefix pf on pf.hospital_id = p.hospital_id and pf.document_type = 'receipt' and pf.year = p.year
  join gen_hospital h on h.h = p.h
  join gen_staff acc on acc.h = p.h and acc.k = h.n_doctors + 1 + p.n % 3;`,
    },
    {
      label: 'audit trail (one row per document created)',
      table: 'audit_logs',
      sql: `
-- What the audit trigger writes for each insert, with the document's identifying fields as its
-- new values (the whole row would multiply the trail's size without changing its access paths).
insert into app_public.audit_logs (id, hospital_id, occurred_at, user_id, action, table_name, record_id, new_values, api, created_at)
select pg_temp.gid(${TAG.audit}, row_number() over ()), x.hospital_id, x.at, x.user_id, 'insert', x.table_name, x.id, x.new_values, 'rest', x.at
  from (
    select hospital_id, created_at as at, created_by as user_id, 'patients' as table_name, id, jsonb_build_object('mrn', mrn, 'full_name', full_name) as new_values
      from app_public.patients where hospital_id in (select id from gen_hospital)
    union all
    select hospital_id, created_at, created_by, 'appointments', id, jsonb_build_object('appointment_number', appointment_number, 'status', 'booked')
      from app_public.appointments where hospital_id in (select id from gen_hospital)
    union all
    select hospital_id, created_at, created_by, 'prescriptions', id, jsonb_build_object('prescription_number', prescription_number)
      from app_public.prescriptions where hospital_id in (select id from gen_hospital)
    union all
    select hospital_id, created_at, created_by, 'pharmacy_dispensing', id, jsonb_build_object('dispensing_number', dispensing_number, 'net_amount', net_amount)
      from app_public.pharmacy_dispensing where hospital_id in (select id from gen_hospital)
    union all
    select hospital_id, created_at, created_by, 'invoices', id, jsonb_build_object('invoice_number', invoice_number, 'total_amount', total_amount)
      from app_public.invoices where hospital_id in (select id from gen_hospital)
    union all
    select hospital_id, created_at, created_by, 'payments', id, jsonb_build_object('receipt_number', receipt_number, 'amount', amount)
      from app_public.payments where hospital_id in (select id from gen_hospital)
  ) x;`,
    },
    {
      label: 'numbering counters advanced past the generated numbers',
      sql: `
-- Fiscal series (gapless): next_value continues the current year. Other types: the row's
-- PostgreSQL sequence counts every number issued, period_base where the current period began.
create temp table gen_issued as
select hospital_id, 'patient' as document_type, null::int as year, count(*) as n from app_public.patients where hospital_id in (select id from gen_hospital) group by 1
union all select d.hospital_id, 'appointment', d.year, sum(d.n) from gen_day d group by 1, 3
union all select hospital_id, 'prescription', year, count(*) from gen_rx group by 1, 3
union all select hospital_id, 'dispensing', year, count(*) from gen_dispensing_n group by 1, 3
union all select hospital_id, 'invoice', year, count(*) from gen_invoice_n group by 1, 3
union all select hospital_id, 'receipt', year, count(*) from gen_payment_n group by 1, 3;
select setval(app_hidden.id_counter(s.id), i.total::bigint)
  from app_public.id_sequences s
  join (select hospital_id, document_type, sum(n) as total from gen_issued group by 1, 2) i
    on i.hospital_id = s.hospital_id and i.document_type = s.document_type and s.scope = ''
  join app_hidden.document_types t on t.document_type = s.document_type and not t.gapless;
update app_public.id_sequences s
   set current_period = app_hidden.id_sequence_period(s.reset_period, now() at time zone h.time_zone),
       next_value = coalesce(c.n, 0) + 1,
       period_base = case when t.gapless then 0 else i.total - coalesce(c.n, 0) end,
       last_issued_at = now()
  from gen_hospital h,
       (select hospital_id, document_type, sum(n) as total from gen_issued group by 1, 2) i
       left join lateral (select sum(g.n) as n from gen_issued g
                           where g.hospital_id = i.hospital_id and g.document_type = i.document_type
                             and (g.year is null or g.year = extract(year from current_date))) c on true,
       app_hidden.document_types t
 where h.id = s.hospital_id and i.hospital_id = s.hospital_id and i.document_type = s.document_type and s.scope = ''
   and t.document_type = s.document_type;`,
    },
  ];
}

/**
 * Plain indexes and exclusion constraints of the bulk tables: dropped before the load, rebuilt
 * after it (a GiST exclusion index costs ~20 µs per row inserted; rebuilt, it also checks the rule
 * on the whole generated table). Primary keys and unique constraints stay: foreign keys need them.
 */
async function dropRebuildableIndexes(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ drop: string; create: string }>(
    // A partitioned table's index reads "ON ONLY" (the parent alone): rebuilt on every partition.
    `select format('drop index %s', i.indexrelid::regclass) as drop, replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON ') as create
       from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app_public' and c.relname = any($1)
        and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
     union all
     select format('alter table %s drop constraint %I', k.conrelid::regclass, k.conname),
            format('alter table %s add constraint %I %s', k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid))
       from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app_public' and c.relname = any($1) and k.contype = 'x'`,
    [BULK_TABLES],
  );
  for (const row of rows) await client.query(row.drop);
  return rows.map((row) => row.create);
}

export async function generateChain(rootDatabaseUrl: string, options: GenerateOptions): Promise<GeneratedChain> {
  const log = options.log ?? ((line: string) => console.log(line));
  const started = performance.now();
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  const client = new pg.Client({ connectionString: rootDatabaseUrl });
  await client.connect();
  const rows: Record<string, number> = {};
  try {
    const existing = await client.query(`select count(*)::int as n from app_public.hospitals where code = any($1)`, [HOSPITALS.map((h) => h[0])]);
    if (existing.rows[0].n > 0) throw new Error('The chain is generated already in this database (hospitals BOS … SLC exist).');
    await client.query(`set synchronous_commit = off; set work_mem = '256MB'; set maintenance_work_mem = '1GB';
                        set max_parallel_maintenance_workers = 1; set wal_compression = on; select setseed(0.2026)`);
    // One transaction: a failed run leaves nothing behind.
    await client.query('begin');
    await client.query(HELPERS);
    let indexes: string[] = [];
    // The schema owner writes the reference data (as the demo data is loaded).
    const { rows: [{ owner }] } = await client.query(
      `select quote_ident(pg_get_userbyid(datdba)) as owner from pg_database where datname = current_database()`);
    for (const step of steps(options.patients)) {
      const t0 = performance.now();
      if (step.table && indexes.length === 0) {
        // The months the generated rows fall in get their partitions first (as the schema owner,
        // who owns the tables), so no row lands in a default partition: back to the first
        // registration (five years: each registration has its audit row), on to the coming week's bookings.
        await client.query(`set role ${owner}`);
        await client.query(
          `select app_hidden.create_month_partitions(c.oid::regclass, current_date - 1826, current_date + 92)
             from pg_class c where c.relnamespace = 'app_public'::regnamespace and c.relkind = 'p' and c.relname = any($1)`,
          [BULK_TABLES]);
        await client.query('reset role');
        indexes = await dropRebuildableIndexes(client);
        await client.query(`set session_replication_role = replica`);
      }
      const result = await client.query(step.sql.replaceAll(':owner', owner));
      const results = Array.isArray(result) ? result : [result];
      const inserted = results.filter((r) => r.command === 'INSERT').reduce((sum, r) => sum + (r.rowCount ?? 0), 0);
      log(`[${elapsed()} s] ${step.label}: ${inserted.toLocaleString('en-US')} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    await client.query(`set session_replication_role = origin`);
    const t0 = performance.now();
    for (const def of indexes) await client.query(def);
    log(`[${elapsed()} s] ${indexes.length} indexes and exclusion constraints rebuilt in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const t1 = performance.now();
    await client.query('commit');
    log(`[${elapsed()} s] committed in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    const t2 = performance.now();
    await client.query(`analyze`);
    log(`[${elapsed()} s] analyze in ${((performance.now() - t2) / 1000).toFixed(1)} s`);
    // Rows per table (the planner's count after analyze: exact for small tables, close for big ones).
    const counts = await client.query(
      `select c.relname, case when c.relkind = 'p'
                               then (select coalesce(sum(greatest(p.reltuples, 0)), 0) from pg_inherits i join pg_class p on p.oid = i.inhrelid where i.inhparent = c.oid)
                               else c.reltuples end::bigint as n
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app_public' and c.relname = any($1)`,
      [[...BULK_TABLES, 'medicine_batches']],
    );
    for (const row of counts.rows) rows[row.relname] = Number(row.n);
    return { seconds: (performance.now() - started) / 1000, rows, hospitalCodes: HOSPITALS.map((h) => h[0]) };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * The rules the triggers would have enforced, checked on the generated data: each returns the
 * number of rows breaking it (0 expected).
 */
export const GENERATED_CHAIN_CHECKS: Record<string, string> = {
  'batch on hand ≠ sum of its movements': `
    select count(*) from app_public.medicine_batches b
      left join (select batch_id, sum(quantity) as s from app_public.stock_movements group by 1) m on m.batch_id = b.id
     where b.quantity_on_hand <> coalesce(m.s, 0)`,
  'negative balance in the ledger': `select count(*) from app_public.stock_movements where balance_after < 0`,
  // Every generated month has its partition: a default partition holding rows would be read by every query.
  'rows in a default partition': `
    select (select count(*) from app_partitions.audit_logs_default) + (select count(*) from app_partitions.stock_movements_default)
         + (select count(*) from app_partitions.appointment_status_log_default) + (select count(*) from app_partitions.notification_queue_default) as count`,
  'invoice total ≠ its items': `
    select count(*) from app_public.invoices i
      join (select invoice_id, sum(line_total) as s from app_public.invoice_items group by 1) l on l.invoice_id = i.id
     where l.s <> i.total_amount`,
  'invoice paid ≠ its payments': `
    select count(*) from app_public.invoices i
      left join (select invoice_id, sum(amount) as s from app_public.payments where status = 'completed' and not is_deleted group by 1) p
        on p.invoice_id = i.id
     where i.amount_paid <> coalesce(p.s, 0)`,
  'balance due ≠ total − paid': `select count(*) from app_public.invoices where balance_due <> total_amount - amount_paid - amount_credited + amount_refunded`,
  'gap in an invoice or receipt series': `
    select count(*) from (
      select hospital_id, left(invoice_number, -9) as series, count(*) as n, max(substr(invoice_number, length(invoice_number) - 7, 6)::int) as top
        from app_public.invoices where invoice_number ~ '-[0-9]{6}-[0-9A-Z]$' group by 1, 2
      union all
      select hospital_id, left(receipt_number, -9), count(*), max(substr(receipt_number, length(receipt_number) - 7, 6)::int)
        from app_public.payments where receipt_number ~ '-[0-9]{6}-[0-9A-Z]$' group by 1, 2) s
     where n <> top`,
  'wrong check character (1 % sample and the first 5,000 of each)': `
    select count(*) from (select mrn as number from app_public.patients tablesample system (1)
                          union all select invoice_number from app_public.invoices tablesample system (1)
                          union all select appointment_number from app_public.appointments tablesample system (1)
                          union all (select mrn from app_public.patients order by id limit 5000)
                          union all (select invoice_number from app_public.invoices order by id limit 5000)
                          union all (select receipt_number from app_public.payments order by id limit 5000)
                          union all (select appointment_number from app_public.appointments order by id limit 5000)) s
     where right(s.number, 1) <> app_hidden.hms_calculate_checksum(left(s.number, -1))`,
  'next number already issued': `
    select count(*) from app_public.id_sequences s
     cross join lateral (select app_hidden.hms_generate_id(s.hospital_id, s.document_type) as n) x
     where s.scope = '' and s.document_type in ('invoice', 'receipt', 'patient', 'appointment', 'prescription', 'dispensing')
       and (exists (select 1 from app_public.invoices i where i.hospital_id = s.hospital_id and i.invoice_number = x.n)
         or exists (select 1 from app_public.payments p where p.hospital_id = s.hospital_id and p.receipt_number = x.n)
         or exists (select 1 from app_public.patients p where p.hospital_id = s.hospital_id and p.mrn = x.n)
         or exists (select 1 from app_public.appointments a where a.hospital_id = s.hospital_id and a.appointment_number = x.n)
         or exists (select 1 from app_public.prescriptions r where r.hospital_id = s.hospital_id and r.prescription_number = x.n)
         or exists (select 1 from app_public.pharmacy_dispensing d where d.hospital_id = s.hospital_id and d.dispensing_number = x.n))`,
  'fiscal series not continued (next invoice ≠ count + 1)': `
    select count(*) from app_public.id_sequences s join app_public.hospitals h on h.id = s.hospital_id
     where s.scope = '' and s.document_type = 'invoice' and s.current_period = to_char(now() at time zone h.time_zone, 'YYYY')
       and s.next_value <> 1 + (select count(*) from app_public.invoices i where i.hospital_id = s.hospital_id
                                   and i.invoice_number like '%-' || s.current_period || '-%')`,
};

export async function checkGeneratedChain(databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const failures: Record<string, number> = {};
  try {
    for (const [name, sql] of Object.entries(GENERATED_CHAIN_CHECKS)) {
      await client.query('begin');
      const { rows } = await client.query(sql);
      failures[name] = Number(rows[0].count);
      await client.query('rollback'); // a number drawn by a check is not kept
    }
  } finally {
    await client.end();
  }
  return failures;
}

// npm run generate -- --patients N: against the database of the stack configured like `npm start`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { loadConfig } = await import('../db/launcher/config.ts');
  const at = process.argv.indexOf('--patients');
  const patients = at > 0 ? Number(process.argv[at + 1]) : 1_000_000;
  if (!Number.isInteger(patients) || patients < 1000) throw new Error('--patients needs a whole number ≥ 1000.');
  const config = loadConfig(process.env);
  if (!config.rootDatabaseUrl) throw new Error('The generator needs a superuser connection (ROOT_DATABASE_URL, or the embedded server).');
  const root = new URL(config.rootDatabaseUrl);
  root.pathname = '/' + new URL(config.databaseUrl).pathname.slice(1);
  const result = await generateChain(root.toString(), { patients });
  console.log(`generated in ${result.seconds.toFixed(1)} s`);
  const failures = await checkGeneratedChain(root.toString());
  for (const [name, count] of Object.entries(failures)) console.log(`  ${count === 0 ? 'ok  ' : 'FAIL'} ${name}: ${count}`);
  if (Object.values(failures).some((n) => n > 0)) process.exit(1);
}
