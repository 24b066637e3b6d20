/*
 * ID cards of patients and staff (table: db/schema/app_public/tables/id_cards.sql), numbered by
 * the registry (document type id_card). The print counters are maintained by printing, never
 * written by clients.
 */
select app_hidden.register_table('app_public.id_cards', 'id card',
  read_permissions => '{patients.read,users.read}', write_permissions => '{patients.write}', delete_permissions => '{patients.write}',
  protected_columns => '{print_count,last_printed_at}');
