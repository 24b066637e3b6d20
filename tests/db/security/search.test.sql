-- The search RPCs (search_patients, search_medicines, search_suppliers) run with their owner's
-- rights so their trigram indexes answer under RLS; they must apply the access rule themselves:
-- the active hospital only, soft-deleted rows out, the caller's text matched literally. The
-- permission each needs is in tests/db/security/rpc-permissions.test.sql. Fixtures of its own: a
-- patient, a medicine and a supplier of the same name in NY and in LA, a deleted NY patient, and
-- a patient whose name holds LIKE's wildcards.
begin;
select plan(13);

insert into app_public.patients (id, hospital_id, mrn, first_name, last_name, date_of_birth, gender, phone_primary, national_id_type, national_id_number, is_deleted, deleted_at)
select v.id, h.id, v.mrn, v.first_name, 'Quixotica', date '1977-07-07', 'other', v.phone,
       case when v.national_id is not null then 'passport' end, v.national_id, v.deleted, case when v.deleted then now() end
  from (values ('62000000-0000-4000-8000-000000000001'::uuid, 'NY', 'SRCH-NY-1', 'Zebulon', '+1 555 0101 777', 'P-SRCH-777', false),
               ('62000000-0000-4000-8000-000000000002'::uuid, 'LA', 'SRCH-LA-1', 'Zebulon', '+1 555 0101 778', 'P-SRCH-778', false),
               ('62000000-0000-4000-8000-000000000003'::uuid, 'NY', 'SRCH-NY-2', 'Zebulonia', '+1 555 0101 779', null, true),
               ('62000000-0000-4000-8000-000000000004'::uuid, 'NY', 'SRCH-NY-3', 'Per%cent_ia', '+1 555 0101 780', null, false)) v(id, hospital, mrn, first_name, phone, national_id, deleted)
  join app_public.hospitals h on h.code = v.hospital;
insert into app_public.medicines (hospital_id, generic_name, brand_name, dosage_form, base_unit)
select h.id, 'Quixoprofen', 'Quixo ' || h.code, 'tablet', 'tablet' from app_public.hospitals h where h.code in ('NY', 'LA');
insert into app_public.suppliers (hospital_id, code, name)
select h.id, 'SRCH-' || h.code, 'Quixotic Supplies ' || h.code from app_public.hospitals h where h.code in ('NY', 'LA');

select tests.authenticate_as('reception.ny@hms.test');
select is(array(select mrn from app_public.search_patients('ebulo')), array['SRCH-NY-1'],
          'part of a name finds the NY patient — not the LA namesake, not the deleted one');
select is(array(select mrn from app_public.search_patients('SRCH-NY')), array['SRCH-NY-3', 'SRCH-NY-1'], 'part of an MRN (in name order)');
select is(array(select mrn from app_public.search_patients('0101 777')), array['SRCH-NY-1'], 'part of a phone number');
select is(array(select mrn from app_public.search_patients('P-SRCH-777')), array['SRCH-NY-1'], 'a national id');
select is(array(select mrn from app_public.search_patients('P-SRCH-778')), '{}'::text[], 'another hospital''s national id finds nothing');
select is(array(select mrn from app_public.search_patients('%cent_')), array['SRCH-NY-3'],
          'the text is matched literally: a name holding % and _ is found by them');
select is(array(select mrn from app_public.search_patients('_ebulon%')), '{}'::text[],
          '… and they are not wildcards (_ebulon% matches no Zebulon)');
select is((select count(*)::int from app_public.search_patients('Quixotica', 1000)), 2, 'at most what exists, max_rows capped at 100');
select is(tests.try($$select app_public.search_patients('ze')$$, true), 'HMS_SEARCH_TOO_SHORT/422', 'fewer than 3 characters: 422');
select tests.clear_authentication();

select tests.authenticate_as('admin.la@hms.test');
select is(array(select mrn from app_public.search_patients('Zebulon')), array['SRCH-LA-1'], 'LA staff find only the LA patient');
select tests.clear_authentication();

select tests.authenticate_as('pharmacist.ny@hms.test');
select is(array(select brand_name from app_public.search_medicines('xoprof')), array['Quixo NY'], 'medicines: the NY one by part of the generic name');
select is(array(select brand_name from app_public.search_medicines('quixo la')), '{}'::text[], 'not LA''s by its brand name');
select is(array(select name from app_public.search_suppliers('xotic supp')), array['Quixotic Supplies NY'], 'suppliers: the NY one only');
select tests.clear_authentication();

select * from finish();
rollback;
