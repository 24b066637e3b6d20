/*
 * Patients, their consents and documents (tables: db/schema/app_public/tables/), registered with
 * the kit. A consent is granted, then withdrawn or expired; who obtained it and when it was
 * withdrawn are recorded from the session by the status machine, never taken from the request.
 */
select app_hidden.declare_status_machine('app_public.patient_consents', $json$[
  {"from": null, "to": "granted", "stamp_by": "obtained_by"},
  {"from": "granted", "to": "withdrawn", "stamp_at": "withdrawn_at"},
  {"from": "granted", "to": "expired"}
]$json$);

select app_hidden.register_table('app_public.patients', 'patient',
  read_permissions => '{patients.read}', write_permissions => '{patients.write}', delete_permissions => '{patients.delete}');
select app_hidden.register_table('app_public.patient_consents', 'patient consent',
  read_permissions => '{patients.read}', write_permissions => '{patients.write}', delete_permissions => '{patients.write}');
select app_hidden.register_table('app_public.patient_documents', 'patient document',
  read_permissions => '{patients.read}', write_permissions => '{patients.write}', delete_permissions => '{patients.delete}');
