/*
 * Medicines and their batches (tables: db/schema/app_public/tables/medicines.sql,
 * medicine_batches.sql), registered with the kit. The formulary is read by everyone who
 * prescribes, dispenses, stocks or bills medicines and kept by holders of medicines.manage.
 * A batch's stock is the stock ledger's: quantity_on_hand and quantity_received change only
 * through stock_movements (its trigger, section 4100), never by a client; a batch stays a batch
 * of the medicine it was received as, since its movements and dispensed lines name both.
 */
select app_hidden.register_table('app_public.medicines', 'medicine',
  read_permissions => '{medicines.read,pharmacy.dispense,prescriptions.write,inventory.read,billing.write}',
  write_permissions => '{medicines.manage}', delete_permissions => '{medicines.manage}');
select app_hidden.register_table('app_public.medicine_batches', 'medicine batch',
  read_permissions => '{medicines.read,pharmacy.dispense,inventory.read}',
  write_permissions => '{medicines.manage,inventory.manage}',
  protected_columns => '{quantity_on_hand,quantity_received}',
  immutable_columns => '{medicine_id}');
