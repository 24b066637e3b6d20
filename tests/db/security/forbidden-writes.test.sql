-- The audit trail covers every table but three deliberate exceptions, and the
-- id card rule (item 4): staff badges need users.manage, patient cards patients.write.
begin;
select tests.access_fixtures();
select plan(4);

select is(array(select c.relname::text from pg_class c
                 where c.relnamespace = 'app_public'::regnamespace and c.relkind in ('r', 'p')
                   and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = '_900_audit')
                 order by 1),
          array['audit_logs', 'notification_queue', 'refresh_tokens'],
          'every table is audited but the trail itself, refresh tokens (hashes) and the notification queue; id_sequences, settings, taxes, fees, roles, role permissions, templates, departments, schedules are');

select ok(exists (select 1 from pg_trigger t where t.tgrelid = 'app_public.id_sequences'::regclass and t.tgname = '_900_audit'),
          'id_sequences (numbering formats) is audited');

select tests.authenticate_as('matrix.only.patients_write@hms.test', 'NY');
select is(tests.try($$insert into app_public.id_cards (holder_type, user_id, card_type)
                      values ('staff', tests.fixture_id('NY', 'user:only:patients.write'), 'staff_badge')$$),
          'HMS_FORBIDDEN', 'patients.write cannot issue a staff badge');
select tests.clear_authentication();
select tests.authenticate_as('matrix.only.users_manage@hms.test', 'NY');
select is(tests.try($$insert into app_public.id_cards (holder_type, user_id, card_type)
                      values ('staff', tests.fixture_id('NY', 'user:only:users.manage'), 'staff_badge')$$),
          'ok', 'users.manage issues a staff badge');
select tests.clear_authentication();

select * from finish();
rollback;
