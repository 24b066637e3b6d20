/*
 * Hospitals, their settings, departments and tax rules (tables: db/schema/app_public/tables/):
 * registered with the kit. hospitals is chain-level (its policies are hand-written: members see
 * their hospitals, the super admin manages the chain); the others are scoped to one hospital and
 * readable by every member of it, written by holders of settings.manage.
 */
select app_hidden.register_table('app_public.hospitals', 'hospital', policies => 'hand_written',
  write_permissions => '{hospitals.manage}');
select app_hidden.register_table('app_public.hospital_settings', 'hospital settings',
  write_permissions => '{settings.manage}', write_mode => 'update_only');
select app_hidden.register_table('app_public.departments', 'department',
  write_permissions => '{settings.manage}', delete_permissions => '{settings.manage}');
select app_hidden.register_table('app_public.tax_configurations', 'tax configuration',
  write_permissions => '{settings.manage}', delete_permissions => '{settings.manage}');
