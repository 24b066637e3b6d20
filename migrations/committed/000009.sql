--! Previous: sha1:24761b0dd1dacf0006f698d52b14ee3a842e7592
--! Hash: sha1:4ddfc8463f2844dd26dbcc7fdb5a1b848653648b

--! split: 0700-numbering.sql
/*
 * Numbering (issue 9, item 4): a number never goes backwards across a period boundary.
 *
 * hms_generate_id kept one current_period per sequence and restarted the counter whenever the
 * caller's period differed from it, in either direction. A transaction that began before midnight
 * (a queue token) or new year (a yearly document) and reached the sequence's lock after one of the
 * new period restarted the counter in the old period: it reissued a number of that period (a 23505
 * on the document's unique number) and moved the counter back, so the next caller of the new period
 * restarted again and reissued that period's numbers. Now the period only moves forward: a late
 * caller takes the next number of the newer period, written with that period's date.
 */

create or replace function app_hidden.id_period_start(p_period text) returns timestamp
language sql immutable as $$
  select case char_length(p_period)
    when 4 then to_timestamp(p_period || '-01-01', 'YYYY-MM-DD')::timestamp
    when 7 then to_timestamp(p_period || '-01', 'YYYY-MM-DD')::timestamp
    when 10 then to_timestamp(p_period, 'YYYY-MM-DD')::timestamp
  end;
$$;
comment on function app_hidden.id_period_start(text) is 'The first moment (local time) of a period key of id_sequences (YYYY, YYYY-MM or YYYY-MM-DD).';
revoke execute on function app_hidden.id_period_start(text) from public;

create or replace function app_hidden.hms_generate_id(p_hospital_id uuid, p_document_type text, p_scope text DEFAULT ''::text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $$
declare
  v_hospital_code text;
  v_time_zone text;
  v_local timestamp;
  v_scope text := upper(coalesce(p_scope, ''));
  v_seq app_public.id_sequences;
  v_value bigint;
  v_number text;
  v_check_at integer;
  v_previous text;
begin
  -- The sequence rows are written on the caller's behalf (a client's walk-in token creates its
  -- department's sequence with an upsert): they are the numbering's own writes, not the client's.
  v_previous := app_hidden.enter_workflow();
  if not exists (select 1 from app_hidden.document_types d where d.document_type = p_document_type) then
    perform app_hidden.raise_error('HMS_ID_TYPE_UNKNOWN',
      format('Unknown document type "%s".', p_document_type),
      jsonb_build_object('document_type', p_document_type,
                         'known_types', (select jsonb_agg(d.document_type order by d.document_type) from app_hidden.document_types d)));
  end if;
  select h.code, h.time_zone into v_hospital_code, v_time_zone
    from app_public.hospitals h where h.id = p_hospital_id;
  if not found then
    perform app_hidden.raise_error('HMS_HOSPITAL_NOT_FOUND', 'The hospital does not exist.', jsonb_build_object('hospital_id', p_hospital_id));
  end if;
  -- The business clock, read in the hospital's time zone, decides the period.
  v_local := app_hidden.now() at time zone v_time_zone;

  if v_scope <> '' then
    -- A scoped sequence (e.g. one department's queue) starts as a copy of the hospital-wide one.
    insert into app_public.id_sequences (hospital_id, document_type, scope, prefix, pattern, padding, reset_period, description)
    select s.hospital_id, s.document_type, v_scope, left(v_scope, 16), s.pattern, s.padding, s.reset_period, s.description
      from app_public.id_sequences s
     where s.hospital_id = p_hospital_id and s.document_type = p_document_type and s.scope = ''
    on conflict (hospital_id, document_type, scope) do nothing;
  end if;

  -- The row lock taken here serialises concurrent callers; the value issued is next_value - 1.
  -- A period only moves forward: a caller whose clock is behind the sequence's period (its
  -- transaction began before midnight or new year and met the lock after one of the new period)
  -- takes the next number of the newer period, never a restart of its own (which would reissue a
  -- number and move the counter back).
  update app_public.id_sequences s
     set next_value = case when s.current_period collate "C" >= app_hidden.id_sequence_period(s.reset_period, v_local) collate "C"
                           then s.next_value + 1 else 2 end,
         current_period = greatest(s.current_period collate "C", app_hidden.id_sequence_period(s.reset_period, v_local) collate "C"),
         last_issued_at = now()
   where s.hospital_id = p_hospital_id
     and s.document_type = p_document_type
     and s.scope = v_scope
     and s.is_active
  returning s.* into v_seq;
  if not found then
    perform app_hidden.raise_error('HMS_ID_SEQUENCE_NOT_CONFIGURED',
      format('Numbering of "%s" is not configured or not active for this hospital.', p_document_type),
      jsonb_build_object('hospital_id', p_hospital_id, 'document_type', p_document_type, 'scope', v_scope));
  end if;
  v_value := v_seq.next_value - 1;
  -- The number is written in the period it was counted in.
  if v_seq.current_period collate "C" > app_hidden.id_sequence_period(v_seq.reset_period, v_local) collate "C" then
    v_local := app_hidden.id_period_start(v_seq.current_period);
  end if;

  v_number := v_seq.pattern;
  v_number := replace(v_number, '{PREFIX}', v_seq.prefix);
  v_number := replace(v_number, '{HOSPITAL}', v_hospital_code);
  v_number := replace(v_number, '{SCOPE}', v_seq.scope);
  v_number := replace(v_number, '{YYYY}', to_char(v_local, 'YYYY'));
  v_number := replace(v_number, '{YY}', to_char(v_local, 'YY'));
  v_number := replace(v_number, '{MM}', to_char(v_local, 'MM'));
  v_number := replace(v_number, '{DD}', to_char(v_local, 'DD'));
  v_number := replace(v_number, '{SEQ}', lpad(v_value::text, greatest(v_seq.padding, length(v_value::text)), '0'));
  v_check_at := position('{CHECK}' in v_number);
  if v_check_at > 0 then
    v_number := replace(v_number, '{CHECK}', app_hidden.hms_calculate_checksum(left(v_number, v_check_at - 1)));
  end if;
  perform app_hidden.leave_workflow(v_previous);
  return v_number;
end;
$$;
comment on function app_hidden.hms_generate_id(uuid, text, text) is 'Issues the next number of a document type for a hospital (and scope), formatted by its id_sequences row. Unique and gapless per hospital, type, scope and period, also under concurrency; a number never goes backwards (a caller whose clock is behind the sequence''s period continues the newer period). Errors HMS_ID_TYPE_UNKNOWN, HMS_HOSPITAL_NOT_FOUND, HMS_ID_SEQUENCE_NOT_CONFIGURED.';

--! split: 0710-text-bounds-generated.sql
/*
 * Text bounds (0630) skip generated columns: patients.full_name is first, middle and last name
 * together, each bounded already; a bound of its own (200, the rule for names) would refuse
 * patients whose names are each valid.
 */
alter table app_public.patients drop constraint if exists patients_full_name_max_length;

create or replace function app_hidden.apply_table_conventions(p_table regclass)
 RETURNS void
 LANGUAGE plpgsql
AS $$
declare
  v_column record;
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
begin
  for v_column in
    select a.attname::text as name,
           case a.attname
             when 'id' then 'Unique identifier (UUID).'
             when 'hospital_id' then 'Hospital (tenant) the row belongs to.'
             when 'is_deleted' then 'Soft delete: true hides the row from normal lists; it stays for history and audit.'
             when 'deleted_at' then 'When the row was soft-deleted.'
             when 'created_at' then 'When the row was created.'
             when 'updated_at' then 'When the row was last changed.'
             when 'created_by' then 'User who created the row (null for system and seed data).'
             when 'updated_by' then 'User who last changed the row.'
           end as text
      from pg_catalog.pg_attribute a
     where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
       and a.attname in ('id', 'hospital_id', 'is_deleted', 'deleted_at', 'created_at', 'updated_at', 'created_by', 'updated_by')
       and pg_catalog.col_description(p_table, a.attnum) is null
  loop
    execute format('comment on column %s.%I is %L', p_table, v_column.name, v_column.text);
  end loop;

  for v_column in
    select a.attname::text as name
      from pg_catalog.pg_attribute a
     where a.attrelid = p_table and a.attname in ('created_by', 'updated_by') and not a.attisdropped
       and not exists (select 1 from pg_catalog.pg_constraint k
                        where k.conrelid = p_table and k.contype = 'f' and k.conkey = array[a.attnum])
  loop
    execute format('alter table %s add constraint %I foreign key (%I) references app_public.users (id) on delete restrict',
                   p_table, v_name || '_' || v_column.name || '_fkey', v_column.name);
  end loop;

  -- Every text column is bounded (422 HMS_VALUE_TOO_LONG through the constraint probe).
  for v_column in
    select a.attname::text as name, left(v_name || '_' || a.attname || '_max_length', 63) as constraint_name,
           app_hidden.text_length_limit(a.attname) as max_length
      from pg_catalog.pg_attribute a
     where a.attrelid = p_table and a.attnum > 0 and not a.attisdropped
       and a.atttypid in ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype, 'public.citext'::regtype)
       and a.attgenerated = ''  -- a generated column is as long as its sources allow
       and not exists (select 1 from pg_catalog.pg_constraint k
                        where k.conrelid = p_table and k.conname = left(v_name || '_' || a.attname || '_max_length', 63))
  loop
    execute format('alter table %s add constraint %I check (char_length(%I) <= %s)',
                   p_table, v_column.constraint_name, v_column.name, v_column.max_length);
  end loop;
end;
$$;
select app_hidden.create_constraint_probe('app_public.patients');

--! split: 0720-search.sql
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
