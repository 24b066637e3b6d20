/*
 * Search under row-level security that uses its indexes (issue 9, item 3).
 *
 * A member of staff searching `patients?full_name=ilike.*Name*` gets a sequential scan:
 * ILIKE is not leakproof, so PostgreSQL must apply the row policies before it, and an index scan
 * would apply it first. The search RPCs below run with their owner's rights and apply the access
 * rule themselves, as their first lines — the session's permission (require_permission, 403) and
 * its hospital (hospital_id = the active one), soft-deleted rows excluded — so the trigram
 * indexes answer the pattern. They return table rows (setof), so PostgREST's select and embedding
 * work on them as on the table. The pattern is the caller's text, LIKE's wildcards escaped; at
 * least 3 characters (trigrams). Each call is planned with its pattern (plan_cache_mode
 * force_custom_plan): a generic plan cannot know the pattern is selective and walks the hospital's
 * name index instead of the trigram ones.
 */

select app_hidden.register_error_codes('search', $json$[
  {"code": "HMS_SEARCH_TOO_SHORT", "http_status": 422, "meaning": "A search needs at least 3 characters (details.min_length)."}
]$json$);

/* The caller's text as a LIKE pattern matching it anywhere, or 422 when it is too short. */
create or replace function app_hidden.search_pattern(p_query text) returns text
language plpgsql immutable as $$
declare
  v_query text := trim(coalesce(p_query, ''));
begin
  if char_length(v_query) < 3 then
    perform app_hidden.raise_error('HMS_SEARCH_TOO_SHORT', 'Type at least 3 characters to search.',
      jsonb_build_object('min_length', 3));
  end if;
  -- chr(92) is the backslash, LIKE's escape character.
  return '%' || replace(replace(replace(v_query, chr(92), chr(92) || chr(92)), '%', chr(92) || '%'), '_', chr(92) || '_') || '%';
end;
$$;
comment on function app_hidden.search_pattern(text) is 'The search text as a LIKE pattern matching it anywhere (wildcards escaped); 422 HMS_SEARCH_TOO_SHORT under 3 characters.';
revoke execute on function app_hidden.search_pattern(text) from public;

create or replace function app_public.search_patients(query text, max_rows integer default 20) returns setof app_public.patients
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
set plan_cache_mode = force_custom_plan
rows 20
as $$
declare
  v_hospital uuid := app_hidden.require_permission('patients.read');
  v_pattern text := app_hidden.search_pattern(search_patients.query);
begin
  return query
    select p.*
      from app_public.patients p
     where p.hospital_id = v_hospital
       and not p.is_deleted
       and (p.full_name ilike v_pattern or p.mrn ilike v_pattern or p.phone_primary ilike v_pattern
            or p.national_id_number = trim(search_patients.query))
     order by p.last_name, p.first_name, p.id
     limit least(greatest(coalesce(search_patients.max_rows, 20), 1), 100);
end;
$$;
comment on function app_public.search_patients(text, integer) is 'Find patients of your hospital by part of their name, MRN or phone, or by their national id (at least 3 characters; up to max_rows, default 20, at most 100), in name order. Uses the trigram indexes. Embed as on patients: ?select=id,full_name,appointments(scheduled_start).
Errors: 403 HMS_FORBIDDEN without patients.read, 422 HMS_SEARCH_TOO_SHORT.';
revoke execute on function app_public.search_patients(text, integer) from public;
grant execute on function app_public.search_patients(text, integer) to :DATABASE_STAFF;

create or replace function app_public.search_medicines(query text, max_rows integer default 20) returns setof app_public.medicines
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
set plan_cache_mode = force_custom_plan
rows 20
as $$
declare
  v_hospital uuid := app_hidden.require_permission('medicines.read');
  v_pattern text := app_hidden.search_pattern(search_medicines.query);
begin
  return query
    select m.*
      from app_public.medicines m
     where m.hospital_id = v_hospital
       and not m.is_deleted
       and (m.generic_name ilike v_pattern or m.brand_name ilike v_pattern)
     order by m.generic_name, m.brand_name, m.id
     limit least(greatest(coalesce(search_medicines.max_rows, 20), 1), 100);
end;
$$;
comment on function app_public.search_medicines(text, integer) is 'Find medicines of your hospital by part of their generic or brand name (at least 3 characters; up to max_rows, default 20, at most 100). Uses the trigram indexes.
Errors: 403 HMS_FORBIDDEN without medicines.read, 422 HMS_SEARCH_TOO_SHORT.';
revoke execute on function app_public.search_medicines(text, integer) from public;
grant execute on function app_public.search_medicines(text, integer) to :DATABASE_STAFF;

create or replace function app_public.search_suppliers(query text, max_rows integer default 20) returns setof app_public.suppliers
language plpgsql
stable
security definer
set search_path = pg_catalog, public, pg_temp
set plan_cache_mode = force_custom_plan
rows 20
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.read');
  v_pattern text := app_hidden.search_pattern(search_suppliers.query);
begin
  return query
    select s.*
      from app_public.suppliers s
     where s.hospital_id = v_hospital
       and not s.is_deleted
       and s.name ilike v_pattern
     order by s.name, s.id
     limit least(greatest(coalesce(search_suppliers.max_rows, 20), 1), 100);
end;
$$;
comment on function app_public.search_suppliers(text, integer) is 'Find suppliers of your hospital by part of their name (at least 3 characters; up to max_rows, default 20, at most 100). Uses the trigram index.
Errors: 403 HMS_FORBIDDEN without inventory.read, 422 HMS_SEARCH_TOO_SHORT.';
revoke execute on function app_public.search_suppliers(text, integer) from public;
grant execute on function app_public.search_suppliers(text, integer) to :DATABASE_STAFF;
