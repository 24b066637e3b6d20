--! Previous: sha1:8000098bb73573a66929ca4ce8729618ece39084
--! Hash: sha1:387414bbbcc5d927befc60a461db4ae6fc21e010

--! split: 1-current.sql
/*
 * Trigram indexes per hospital. A search runs inside one hospital, but a trigram index over the
 * whole chain hands back every hospital's matches: for a surname, thousands of rows of the other
 * nineteen hospitals, each fetched from the heap only to be dropped by the hospital filter (at
 * 1,000,000 patients, "Webb" in BOS: 4,877 candidates for 351 rows, 171 ms; "Tho": 301 ms). With
 * hospital_id as the index's first column (btree_gin makes a uuid a GIN key) the index intersects
 * the hospital's entries with the trigrams' and the heap sees the hospital's matches only
 * (10 ms and 4 ms).
 */
drop index if exists app_public.idx_patients__full_name_trgm;
drop index if exists app_public.idx_patients__phone_primary_trgm;
drop index if exists app_public.idx_patients__mrn_trgm;
drop index if exists app_public.idx_medicines__generic_name_trgm;
drop index if exists app_public.idx_medicines__brand_name_trgm;
drop index if exists app_public.idx_optical_products__name_trgm;
drop index if exists app_public.idx_optical_products__brand_trgm;
drop index if exists app_public.idx_optical_repairs__customer_name_trgm;
drop index if exists app_public.idx_invoices__bill_to_name_trgm;
drop index if exists app_public.idx_insurance_providers__name_trgm;
drop index if exists app_public.idx_suppliers__name_trgm;

create index if not exists idx_patients__hospital_id_full_name_trgm on app_public.patients using gin (hospital_id, full_name public.gin_trgm_ops);
create index if not exists idx_patients__hospital_id_phone_primary_trgm on app_public.patients using gin (hospital_id, phone_primary public.gin_trgm_ops);
create index if not exists idx_patients__hospital_id_mrn_trgm on app_public.patients using gin (hospital_id, mrn public.gin_trgm_ops);
create index if not exists idx_medicines__hospital_id_generic_name_trgm on app_public.medicines using gin (hospital_id, generic_name public.gin_trgm_ops);
create index if not exists idx_medicines__hospital_id_brand_name_trgm on app_public.medicines using gin (hospital_id, brand_name public.gin_trgm_ops);
create index if not exists idx_optical_products__hospital_id_name_trgm on app_public.optical_products using gin (hospital_id, name public.gin_trgm_ops);
create index if not exists idx_optical_products__hospital_id_brand_trgm on app_public.optical_products using gin (hospital_id, brand public.gin_trgm_ops);
create index if not exists idx_optical_repairs__hospital_id_customer_name_trgm on app_public.optical_repairs using gin (hospital_id, customer_name public.gin_trgm_ops);
create index if not exists idx_invoices__hospital_id_bill_to_name_trgm on app_public.invoices using gin (hospital_id, bill_to_name public.gin_trgm_ops);
create index if not exists idx_insurance_providers__hospital_id_name_trgm on app_public.insurance_providers using gin (hospital_id, name public.gin_trgm_ops);
create index if not exists idx_suppliers__hospital_id_name_trgm on app_public.suppliers using gin (hospital_id, name public.gin_trgm_ops);
