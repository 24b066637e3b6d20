/*
 * Messages: "a user", not "an user". The article follows the sound: a vowel letter reads as a
 * vowel except a "u" spoken "you" (user, unit, usage: u, a consonant, a vowel). The forbidden-write
 * message uses the same function instead of a rule of its own.
 */
create or replace function app_hidden.a_or_an(p_entity text, p_capital boolean default false) returns text
language sql immutable as $$
  select case when p_entity ~* '^[aeio]' or (p_entity ~* '^u' and p_entity !~* '^u[^aeiou][aeiou]')
              then case when p_capital then 'An ' else 'an ' end
              else case when p_capital then 'A ' else 'a ' end end || p_entity;
$$;
comment on function app_hidden.a_or_an(text, boolean) is 'The word with its indefinite article (a / an, by sound: a user, an update; capitalised to start a sentence), for messages.';

create or replace function app_hidden.tg__forbidden_write() returns trigger
language plpgsql stable as $$
declare
  v_entity text := tg_argv[0];
  v_command text := tg_argv[1];
  v_permissions text[] := tg_argv[2]::text[];
begin
  if current_user <> 'hms_staff' or app_hidden.is_trusted_writer() then
    return null;
  end if;
  if not app_hidden.has_any_permission(v_permissions) then
    perform app_hidden.raise_error('HMS_FORBIDDEN',
      format('You may not %s %s rows: this needs %s.', v_command, app_hidden.a_or_an(v_entity),
             case when cardinality(v_permissions) = 1 then 'the permission ' || v_permissions[1]
                  else 'one of the permissions ' || array_to_string(v_permissions, ', ') end),
      jsonb_build_object('entity', v_entity, 'command', v_command, 'permissions', to_jsonb(v_permissions)));
  end if;
  return null;
end;
$$;
