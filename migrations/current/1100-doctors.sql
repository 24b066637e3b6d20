/*
 * Doctors, their weekly schedules, leaves and fees (tables: db/schema/app_public/tables/):
 * the directory every member of the hospital books against, maintained by holders of
 * doctors.manage. A leave is requested, then approved, rejected or cancelled: who approved it and
 * when are recorded from the session by the status machine; a rejection needs its reason.
 */
select app_hidden.declare_status_machine('app_public.doctor_leaves', $json$[
  {"from": null, "to": "requested"},
  {"from": "requested", "to": "approved", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "reason": "rejection_reason"},
  {"from": "requested", "to": "cancelled", "stamp_at": "cancelled_at"},
  {"from": "approved", "to": "cancelled", "stamp_at": "cancelled_at"}
]$json$);

select app_hidden.register_table('app_public.doctors', 'doctor',
  write_permissions => '{doctors.manage}', delete_permissions => '{doctors.manage}');
select app_hidden.register_table('app_public.doctor_schedules', 'doctor schedule',
  write_permissions => '{doctors.manage}', delete_permissions => '{doctors.manage}');
select app_hidden.register_table('app_public.doctor_leaves', 'doctor leave',
  write_permissions => '{doctors.manage}', delete_permissions => '{doctors.manage}');
select app_hidden.register_table('app_public.doctor_fees', 'doctor fee',
  write_permissions => '{doctors.manage}', delete_permissions => '{doctors.manage}');
