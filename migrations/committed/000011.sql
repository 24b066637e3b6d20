--! Previous: sha1:d2da30d8e5345a43f2701a527ef2de29960c75d0
--! Hash: sha1:50689dd190678ad34e47210094186b89cfe2ba43

--! split: 0740-numbering-lookup-once.sql
/*
 * hms_generate_id looks its sequence up once, before choosing the gapless or the counter path
 * (the lookup and its HMS_ID_SEQUENCE_NOT_CONFIGURED answer were written in both).
 */
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
  v_counter regclass;
  v_id uuid;
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

  select s.* into v_seq from app_public.id_sequences s
   where s.hospital_id = p_hospital_id and s.document_type = p_document_type and s.scope = v_scope and s.is_active;
  if not found then
    perform app_hidden.raise_error('HMS_ID_SEQUENCE_NOT_CONFIGURED',
      format('Numbering of "%s" is not configured or not active for this hospital.', p_document_type),
      jsonb_build_object('hospital_id', p_hospital_id, 'document_type', p_document_type, 'scope', v_scope));
  end if;
  v_id := v_seq.id;

  if (select d.gapless from app_hidden.document_types d where d.document_type = p_document_type) then
    -- Gapless (the law's fiscal series): the row lock taken here serialises concurrent callers
    -- until they commit, so a rolled-back number is issued again; the value is next_value - 1.
    -- A period only moves forward: a caller whose clock is behind the sequence's period (its
    -- transaction began before midnight or new year and met the lock after one of the new period)
    -- takes the next number of the newer period, never a restart of its own.
    update app_public.id_sequences s
       set next_value = case when s.current_period collate "C" >= app_hidden.id_sequence_period(s.reset_period, v_local) collate "C"
                             then s.next_value + 1 else 2 end,
           current_period = greatest(s.current_period collate "C", app_hidden.id_sequence_period(s.reset_period, v_local) collate "C"),
           last_issued_at = now()
     where s.id = v_id
    returning s.* into v_seq;
    v_value := v_seq.next_value - 1;
  else
    -- Unique and monotonic, not gapless: the counter is the row's PostgreSQL sequence, which
    -- never waits for another transaction (nor gives a number back on rollback). The row is locked
    -- only by the first caller of a new period, to record where that period's numbers start.
    v_counter := app_hidden.id_counter(v_id);
    if v_seq.current_period collate "C" < app_hidden.id_sequence_period(v_seq.reset_period, v_local) collate "C" then
      v_value := nextval(v_counter);
      update app_public.id_sequences s
         set current_period = app_hidden.id_sequence_period(s.reset_period, v_local), period_base = v_value - 1,
             next_value = 2, last_issued_at = now()
       where s.id = v_id
         and s.current_period collate "C" < app_hidden.id_sequence_period(s.reset_period, v_local) collate "C"
      returning s.* into v_seq;
      if found then
        v_value := 1;
      else
        -- Another caller opened the period meanwhile (its lock was waited for): count in it.
        select s.* into v_seq from app_public.id_sequences s where s.id = v_id;
        v_value := v_value - v_seq.period_base;
      end if;
    else
      v_value := nextval(v_counter) - v_seq.period_base;
    end if;
  end if;

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
