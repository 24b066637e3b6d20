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
