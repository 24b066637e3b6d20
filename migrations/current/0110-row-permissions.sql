--! split: 0110-row-permissions.sql
/*
 * Rows that mean different things need different permissions.
 *
 * An id card is a patient's health or insurance card (reception: patients.write) or a staff badge
 * (administration: users.manage). The table-level policy admits either permission; this row
 * trigger then asks for the permission the row's holder_type implies, on the row as it was (update,
 * delete) and as it becomes (insert, update), so a receptionist can neither issue, edit, revoke
 * nor turn a card into a staff badge. Workflow RPCs and the owner pass (is_trusted_writer).
 */
create or replace function app_hidden.tg_id_cards__holder_permission() returns trigger
language plpgsql stable as $$
declare
  v_row jsonb;
  v_needed text;
begin
  if current_user <> 'hms_staff' or app_hidden.is_trusted_writer() then
    return case when tg_op = 'DELETE' then old else new end;
  end if;
  foreach v_row in array case tg_op when 'INSERT' then array[to_jsonb(new)]
                                    when 'DELETE' then array[to_jsonb(old)]
                                    else array[to_jsonb(old), to_jsonb(new)] end loop
    v_needed := case v_row ->> 'holder_type' when 'staff' then 'users.manage' else 'patients.write' end;
    if not app_hidden.has_permission(v_needed) then
      perform app_hidden.raise_error('HMS_FORBIDDEN',
        format('You may not %s a %s card: this needs the permission %s.', lower(tg_op),
               case when v_row ->> 'holder_type' = 'staff' then 'staff' else 'patient' end, v_needed),
        jsonb_build_object('entity', 'id card', 'holder_type', v_row ->> 'holder_type', 'permissions', jsonb_build_array(v_needed)));
    end if;
  end loop;
  return case when tg_op = 'DELETE' then old else new end;
end;
$$;
comment on function app_hidden.tg_id_cards__holder_permission() is 'Row trigger _020_holder_permission of id_cards: staff badges need users.manage, patient cards patients.write (403 HMS_FORBIDDEN), on insert, update (old and new row) and delete.';
revoke execute on function app_hidden.tg_id_cards__holder_permission() from public;
grant execute on function app_hidden.tg_id_cards__holder_permission() to hms_staff;

drop trigger if exists _020_holder_permission on app_public.id_cards;
create trigger _020_holder_permission before insert or update or delete on app_public.id_cards
  for each row execute function app_hidden.tg_id_cards__holder_permission();

select app_hidden.register_table('app_public.id_cards', 'id card',
  read_permissions => '{patients.read,users.read}', write_permissions => '{patients.write,users.manage}',
  delete_permissions => '{patients.write,users.manage}',
  protected_columns => '{print_count,last_printed_at}');

/*
 * Configuration changes are audited: numbering formats (prefix, pattern, padding,
 * reset) configure the hospital like settings and taxes. The counters move on every number issued;
 * those updates are audited too (one row per number: the price of a trail that misses nothing).
 * Deliberately unaudited, and tested so: audit_logs (the trail itself), refresh_tokens (token
 * hashes, churn on every refresh), notification_queue (delivery bookkeeping of audited events).
 */
select app_hidden.register_table('app_public.id_sequences', 'id sequence',
  write_permissions => '{settings.manage}', write_mode => 'update_only',
  protected_columns => '{document_type,scope,current_period,next_value,last_issued_at}', audited => true);
