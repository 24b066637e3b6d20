-- The append-heavy tables partitioned by month (app_hidden.partition_by_month,
-- create_month_partitions, create_partitions_ahead): how each is partitioned, where its partitions
-- live and who may reach them, where a row lands, and that the rules of the parent (append-only,
-- tenant isolation) hold on rows stored in a partition. Rolled back at the end.
begin;
select plan(19);

create temporary table partitioned (table_name text, partition_key text);
insert into partitioned values ('audit_logs', 'RANGE (occurred_at)'), ('stock_movements', 'RANGE (occurred_at)'),
  ('appointment_status_log', 'RANGE (changed_at)'), ('notification_queue', 'RANGE (created_at)');

select is(array(select c.relname::text || ' ' || pg_get_partkeydef(c.oid) from pg_class c
                 where c.relnamespace = 'app_public'::regnamespace and c.relkind = 'p' order by 1),
  array(select table_name || ' ' || partition_key from partitioned order by 1),
  'audit_logs, stock_movements, appointment_status_log and notification_queue are partitioned by the month of their time column');
select is(array(select t.table_name from partitioned t
                 where exists (select 1 from pg_inherits i join pg_class p on p.oid = i.inhrelid
                                where i.inhparent = ('app_public.' || t.table_name)::regclass
                                  and p.relname = t.table_name || '_default' and pg_get_expr(p.relpartbound, p.oid) = 'DEFAULT')
                 order by 1),
  array(select table_name from partitioned order by 1), '… each with a default partition');
select is(array(select t.table_name from partitioned t
                 where (select count(*) from generate_series(date_trunc('month', current_date), date_trunc('month', current_date) + interval '3 months', interval '1 month') m
                         where to_regclass(format('app_partitions.%I', t.table_name || '_' || to_char(m, 'YYYY_MM'))) is not null) = 4
                 order by 1),
  array(select table_name from partitioned order by 1), '… and one for this month and each of the next three');
select is((select count(*)::int from pg_inherits i join pg_class p on p.oid = i.inhrelid join partitioned t on i.inhparent = ('app_public.' || t.table_name)::regclass
            where p.relnamespace <> 'app_partitions'::regnamespace), 0, 'every partition is in app_partitions');
select ok(not has_schema_privilege('hms_staff', 'app_partitions', 'usage') and not has_schema_privilege('hms_anonymous', 'app_partitions', 'usage')
          and not has_schema_privilege('hms_authenticator', 'app_partitions', 'usage'),
  'no API role may use app_partitions: rows are reached through the parent only, under its policies');
select is(array(select t.table_name from partitioned t
                 join pg_class c on c.oid = ('app_public.' || t.table_name)::regclass
                where c.relrowsecurity and c.relforcerowsecurity order by 1),
  array(select table_name from partitioned order by 1), 'row-level security stays enabled and forced on the parents');
select is(array(select t.table_name || ' ' || pg_get_constraintdef(k.oid) from partitioned t
                 join pg_constraint k on k.conrelid = ('app_public.' || t.table_name)::regclass and k.contype = 'p' order by 1),
  array['appointment_status_log PRIMARY KEY (id, changed_at)', 'audit_logs PRIMARY KEY (id, occurred_at)',
        'notification_queue PRIMARY KEY (id, created_at)', 'stock_movements PRIMARY KEY (id, occurred_at)'],
  'primary keys include the partition column (PostgreSQL requires it of a partitioned table)');

-- Where a row lands, and the parent's rules on it.
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select is(tests.try($$select app_public.dispense_otc(null, 'Partition test', jsonb_build_array(jsonb_build_object('medicine_id',
            (select b.medicine_id from app_public.medicine_batches b join app_public.medicines m on m.id = b.medicine_id and m.schedule_category = 'otc'
              where b.hospital_id = '10000000-0000-4000-8000-000000000001' and b.quantity_on_hand > 5 and b.status = 'active'
              order by b.expiry_date desc limit 1), 'quantity', 1)))$$),
  'ok', 'a pharmacist dispenses through the RPC');
select tests.clear_authentication();
select is((select m.tableoid::regclass::text from app_public.stock_movements m where m.created_at = now() limit 1),
  'app_partitions.stock_movements_' || to_char(now(), 'YYYY_MM'), '… its stock movement is stored in this month''s partition');
select is((select a.tableoid::regclass::text from app_public.audit_logs a order by a.occurred_at desc limit 1),
  'app_partitions.audit_logs_' || to_char(now(), 'YYYY_MM'), '… and so is its audit row');
select is(tests.try(format('update app_partitions.%I set reason = %L', 'stock_movements_' || to_char(now(), 'YYYY_MM'), 'changed')), 'HMS_APPEND_ONLY',
  'a row of a partition cannot be changed, even by the owner on the partition itself (the parent''s append-only trigger is on every partition)');
select is(tests.try(format('delete from app_partitions.%I', 'audit_logs_' || to_char(now(), 'YYYY_MM'))), 'HMS_APPEND_ONLY',
  '… nor deleted');
select tests.authenticate_as('pharmacist.ny@hms.test', 'NY');
select is(tests.try(format('select count(*) from app_partitions.%I', 'stock_movements_' || to_char(now(), 'YYYY_MM'))), 'E:42501',
  'staff cannot read a partition directly');
select is((select count(*)::int from app_public.stock_movements where hospital_id <> '10000000-0000-4000-8000-000000000001'), 0,
  '… and through the parent see only their hospital''s movements');
select ok((select count(*) from app_public.stock_movements) > 0, '… which they do see');
select tests.clear_authentication();

-- Months ahead.
select is(app_hidden.create_partitions_ahead(3), 0, 'create_partitions_ahead: nothing to create when the months exist');
select is(app_hidden.create_month_partitions('app_public.audit_logs', (current_date + interval '14 months')::date, (current_date + interval '14 months')::date), 1,
  'create_month_partitions: a month further ahead gets its partition');
select is((select pg_get_expr(p.relpartbound, p.oid) from pg_class p
            where p.oid = to_regclass(format('app_partitions.%I', 'audit_logs_' || to_char(current_date + interval '14 months', 'YYYY_MM')))),
  format('FOR VALUES FROM (%L) TO (%L)',
         (date_trunc('month', current_date + interval '14 months')::date::timestamp at time zone 'UTC')::text,
         ((date_trunc('month', current_date + interval '14 months') + interval '1 month')::date::timestamp at time zone 'UTC')::text),
  '… bounded by the month''s first instants, midnight UTC');
select throws_ok($$select app_hidden.create_month_partitions('app_public.patients', current_date, current_date)$$, 'P0001',
  'create_month_partitions: app_public.patients is not a partitioned table', 'a table that is not partitioned is refused');

select * from finish();
rollback;
