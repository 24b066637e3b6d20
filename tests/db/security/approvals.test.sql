-- Decisions, four eyes and stamps, as classes: a new plain (PATCH-able) status step, a
-- client-writable user reference or stamp, or a four-eyes column a client could write turns this
-- red. Behaviour per workflow is tested in tests/db/workflows/.
begin;
select plan(5);

-- The status steps a plain INSERT/PATCH may take (via null). Every other step — every decision:
-- approved, rejected, issued, void, paid, processed, decided, received, settled — has its RPC.
select is(
  array(select format('%s:%s>%s', table_name, coalesce(from_status, ''), to_status)
          from app_hidden.status_transitions where via is null
         order by table_name, from_status nulls first, to_status),
  array['appointment_queue:>waiting', 'appointment_queue:called>cancelled', 'appointment_queue:called>completed', 'appointment_queue:called>in_consultation', 'appointment_queue:called>no_show', 'appointment_queue:called>skipped', 'appointment_queue:called>waiting', 'appointment_queue:in_consultation>cancelled', 'appointment_queue:in_consultation>completed', 'appointment_queue:skipped>called', 'appointment_queue:skipped>cancelled', 'appointment_queue:skipped>completed', 'appointment_queue:skipped>in_consultation', 'appointment_queue:skipped>no_show', 'appointment_queue:skipped>waiting', 'appointment_queue:waiting>called', 'appointment_queue:waiting>cancelled', 'appointment_queue:waiting>completed', 'appointment_queue:waiting>in_consultation', 'appointment_queue:waiting>no_show', 'appointment_queue:waiting>skipped', 'appointments:>booked', 'appointments:booked>cancelled', 'appointments:booked>confirmed', 'appointments:booked>no_show', 'appointments:checked_in>cancelled', 'appointments:checked_in>in_progress', 'appointments:confirmed>cancelled', 'appointments:confirmed>no_show', 'appointments:in_progress>completed', 'credit_notes:>draft', 'cycle_counts:>draft', 'daily_settlements:>open', 'daily_settlements:>reconciling', 'daily_settlements:open>reconciling', 'daily_settlements:reopened>reconciling', 'doctor_leaves:>requested', 'doctor_leaves:approved>cancelled', 'doctor_leaves:requested>cancelled', 'goods_receipt_notes:>draft', 'id_cards:>active', 'id_cards:active>expired', 'id_cards:active>lost', 'id_cards:active>replaced', 'id_cards:active>revoked', 'id_cards:lost>replaced', 'id_cards:lost>revoked', 'insurance_claims:draft>cancelled', 'insurance_claims:submitted>cancelled', 'insurance_claims:submitted>under_review', 'invoices:>draft', 'lab_orders:>ordered', 'lab_orders:completed>reported', 'lab_orders:in_progress>completed', 'lab_orders:ordered>cancelled', 'lab_orders:ordered>in_progress', 'lab_orders:ordered>sample_collected', 'lab_orders:sample_collected>cancelled', 'lab_orders:sample_collected>in_progress', 'optical_orders:>draft', 'optical_orders:confirmed>cancelled', 'optical_orders:confirmed>ready', 'optical_orders:confirmed>sent_to_lab', 'optical_orders:draft>cancelled', 'optical_orders:draft>confirmed', 'optical_orders:in_production>ready', 'optical_orders:sent_to_lab>cancelled', 'optical_orders:sent_to_lab>in_production', 'optical_prescriptions:>active', 'optical_prescriptions:active>expired', 'optical_prescriptions:active>superseded', 'optical_repairs:>received', 'optical_repairs:in_repair>cancelled', 'optical_repairs:in_repair>ready', 'optical_repairs:ready>returned', 'optical_repairs:received>cancelled', 'optical_repairs:received>in_repair', 'patient_consents:>granted', 'patient_consents:granted>expired', 'patient_consents:granted>withdrawn', 'payments:>pending', 'payments:pending>cancelled', 'payments:pending>failed', 'pharmacy_dispensing:>draft', 'pharmacy_dispensing:draft>cancelled', 'pharmacy_returns:>requested', 'pre_authorizations:>requested', 'pre_authorizations:approved>expired', 'pre_authorizations:partially_approved>expired', 'pre_authorizations:requested>cancelled', 'prescriptions:>draft', 'prescriptions:draft>cancelled', 'prescriptions:finalized>cancelled', 'prescriptions:finalized>expired', 'prescriptions:partially_dispensed>expired', 'purchase_orders:>draft', 'refunds:>requested', 'stock_adjustments:>draft']::text[],
  'the golden list of status steps a direct write may take');

select is(
  array(select format('%s:%s>%s', table_name, coalesce(from_status, ''), to_status)
          from app_hidden.status_transitions
         where via is null and from_status is not null and to_status in ('approved', 'rejected', 'issued', 'void', 'paid', 'partially_paid', 'refunded',
                                             'processed', 'settled', 'denied', 'partially_approved', 'received', 'partially_received')
         order by 1),
  '{}'::text[], 'no decision is a plain write');

-- Columns naming a member of staff that a client may write: only subjects and assignments, never
-- who did something (that comes from the session).
select is(
  array(select format('%s.%s', c.conrelid::regclass::text, a.attname)
          from pg_constraint c join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any (c.conkey)
         where c.contype = 'f' and c.confrelid = 'app_public.users'::regclass
           and (has_column_privilege('hms_staff', c.conrelid, a.attname, 'INSERT')
                or has_column_privilege('hms_staff', c.conrelid, a.attname, 'UPDATE'))
         order by 1),
  array['app_public.doctors.user_id',                   -- the doctor's own account
        'app_public.id_cards.user_id',                  -- the card's holder
        'app_public.optical_repairs.technician_user_id', -- an assignment
        'app_public.patient_consents.witness_user_id',  -- the witness, another person than the recorder
        'app_public.user_roles.user_id'],               -- the member given a role
  'no client writes who did something');

-- Client-writable times and names ending in _at/_by: business facts entered by staff, each on purpose.
select is(
  array(select distinct format('%s.%s', p.table_name, p.column_name)
          from information_schema.column_privileges p
         where p.table_schema = 'app_public' and p.grantee = 'hms_staff' and p.privilege_type in ('INSERT', 'UPDATE')
           and (p.column_name like '%\_at' or p.column_name like '%\_by')
         order by 1),
  array['appointments.referred_by',          -- name of the referring clinician (text)
        'goods_receipt_notes.received_at',   -- when the delivery arrived, from the delivery note
        'lab_orders.critical_notified_at',   -- when the doctor was told of a critical value (a phone call)
        'medicine_batches.received_at',      -- when the batch arrived
        'notifications.read_at',             -- the reader marks their own notification
        'optical_orders.expected_ready_at',  -- a promise to the patient
        'optical_orders.ordered_at',         -- when the patient ordered (may be entered after the visit)
        'optical_prescriptions.prescribed_at', -- the eye examination's time
        'optical_repairs.promised_at',       -- a promise to the patient
        'optical_repairs.received_at',       -- when the item was handed in
        'patient_consents.expires_at',       -- the consent's own term
        'patient_consents.granted_at',       -- when the patient signed (paper forms are entered later)
        'patient_consents.signed_by',        -- name of who signed (patient or guardian, text)
        'patients.referred_by',              -- name of the referrer (text)
        'pharmacy_returns.returned_at',      -- when the patient brought the medicines back
        'prescriptions.prescribed_at'],      -- the clinical time of the prescription
  'the golden list of client-writable *_at / *_by columns');

-- Four-eyes columns are set by the database (stamps, bookkeeping), so the comparison is between session users.
select is(
  array(select distinct format('%s.%s', t.table_name, c)
          from app_hidden.status_transitions t cross join unnest(t.distinct_from) c
         where has_column_privilege('hms_staff', ('app_public.' || t.table_name)::regclass, c, 'INSERT')
            or has_column_privilege('hms_staff', ('app_public.' || t.table_name)::regclass, c, 'UPDATE')
         order by 1),
  '{}'::text[], 'no four-eyes column is written by a client');

select * from finish();
rollback;
