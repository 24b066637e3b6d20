/*
 * Supply chain — how stock enters a hospital (tables: db/schema/app_public/tables/suppliers.sql,
 * purchase_orders.sql, purchase_order_items.sql, goods_receipt_notes.sql, grn_items.sql), on the kit.
 *
 *   create_purchase_order → draft ─approve_purchase_order─→ approved ─send_purchase_order─→ sent
 *   receive_goods (approved | sent | partially_received) → partially_received … → received
 *   cancel_purchase_order: draft | approved | sent → cancelled, with a reason
 *
 * A purchase order is approved by someone other than the person who raised it, holding
 * inventory.approve. Every step after the draft has side effects or needs that permission, so it
 * is taken only through its RPC (a PATCH of the status answers 409 HMS_WORKFLOW_REQUIRED); the
 * status machine stamps who took it and when from the session. While an order is a draft its
 * header and lines are edited freely; afterwards only its delivery details and notes change (409
 * HMS_DOCUMENT_LOCKED), and only a draft is deleted. A GRN is posted by receive_goods, already
 * complete; a posted GRN keeps its lines and amounts, only its invoice references and notes change.
 *
 * Money is computed by the database: purchase_line_amounts is the one rule for a purchase line
 * (gross = quantity × unit cost, discount = gross × discount %, tax = (gross − discount) × tax %,
 * each rounded to the cent; PO lines on quantity_ordered, GRN lines on quantity_received), each
 * line carries its line_total, the header's subtotal / discount_amount / tax_amount are the sums
 * over its lines (refresh_purchase_order_totals, refresh_goods_receipt_totals) and total_amount =
 * subtotal − discount + tax + shipping, to the cent.
 *
 * receive_goods posts a goods receipt note in one go: for every medicine line it creates the batch
 * (or tops up the batch with the same medicine and batch number) and writes a goods_receipt
 * movement of the accepted quantity (received + free − rejected) into the stock ledger
 * (4100-stock.sql), whose trigger changes quantity_on_hand; optical lines move the product's
 * stock, consumables none. Against a PO line the paid accepted quantity (received − rejected, at
 * least 0) counts as received; rejected units stay outstanding, and the order becomes
 * partially_received or received.
 */

select app_hidden.register_error_codes('supply_chain', $json$[
  {"code": "HMS_SUPPLIER_INACTIVE", "http_status": 422, "meaning": "The supplier is no longer active: no new orders or direct receipts from it (details.supplier_id)."},
  {"code": "HMS_SUPPLIER_LICENCE_EXPIRED", "http_status": 422, "meaning": "The supplier's drug licence has lapsed: medicines are neither ordered nor received directly from it (details.drug_licence_expiry)."},
  {"code": "HMS_SUPPLIER_REQUIRED", "http_status": 422, "meaning": "A goods receipt names the purchase order it is against, or the supplier of a direct receipt."},
  {"code": "HMS_SUPPLIER_MISMATCH", "http_status": 422, "meaning": "The supplier named is not the supplier of the purchase order."},
  {"code": "HMS_ITEMS_REQUIRED", "http_status": 422, "meaning": "The document needs at least one line: items is a non-empty JSON array."},
  {"code": "HMS_ITEM_INVALID", "http_status": 422, "meaning": "A line must name exactly one item: a medicine (batch), an optical product, or a described consumable (details.line)."},
  {"code": "HMS_INVALID_QUANTITY", "http_status": 422, "meaning": "A quantity is not a whole number of base units in the allowed range (details name the line)."},
  {"code": "HMS_INVALID_PRICE", "http_status": 422, "meaning": "A price is missing or negative, or a selling price exceeds the MRP (details.line)."},
  {"code": "HMS_INVALID_PERCENT", "http_status": 422, "meaning": "A discount or tax percentage is outside 0–100 (details.line)."},
  {"code": "HMS_INVALID_DATE", "http_status": 422, "meaning": "A date is in the past where it must lie ahead, or out of order (details.field)."},
  {"code": "HMS_PURCHASE_ORDER_NOT_RECEIVABLE", "http_status": 409, "meaning": "Goods are received only against an approved, sent or partially received purchase order (details.status)."},
  {"code": "HMS_PO_ITEM_REQUIRED", "http_status": 422, "meaning": "A receipt line does not say which purchase order line it fulfils, and the item alone does not tell (details.line)."},
  {"code": "HMS_PO_ITEM_MISMATCH", "http_status": 422, "meaning": "A receipt line names a purchase order line of another order or of another item (details.line)."},
  {"code": "HMS_QUANTITY_EXCEEDS_OUTSTANDING", "http_status": 422, "meaning": "More is received than the purchase order line has outstanding (details.outstanding)."},
  {"code": "HMS_REJECTION_REASON_REQUIRED", "http_status": 422, "meaning": "Units rejected at inspection need a rejection_reason on their line (details.line)."},
  {"code": "HMS_BATCH_REQUIRED", "http_status": 422, "meaning": "A medicine is received with the batch number printed on its pack (at most 64 characters; details.line)."},
  {"code": "HMS_EXPIRY_INVALID", "http_status": 422, "meaning": "A medicine is received with an expiry date after today (details.line, expiry_date)."},
  {"code": "HMS_BATCH_EXPIRY_MISMATCH", "http_status": 422, "meaning": "A batch number already on file is received with another expiry date (details.batch_id, expiry_date)."},
  {"code": "HMS_BATCH_NOT_RECEIVABLE", "http_status": 409, "meaning": "A recalled or expired batch is not topped up with new stock (details.batch_id, status)."},
  {"code": "HMS_DUPLICATE_SUPPLIER_INVOICE", "http_status": 409, "meaning": "That supplier invoice number was already received from this supplier."}
]$json$);

/* ---------------------------------------------------------------------------------------------
 * Money of purchase lines and documents
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.purchase_line_amounts(p_quantity numeric, p_unit_cost numeric, p_discount_percent numeric, p_tax_percent numeric,
                                                 out gross numeric, out discount numeric, out tax numeric, out total numeric)
language plpgsql
immutable
as $$
begin
  gross := round(coalesce(p_quantity, 0) * coalesce(p_unit_cost, 0), 2);
  discount := round(gross * coalesce(p_discount_percent, 0) / 100, 2);
  tax := round((gross - discount) * coalesce(p_tax_percent, 0) / 100, 2);
  total := gross - discount + tax;
end;
$$;
comment on function app_hidden.purchase_line_amounts(numeric, numeric, numeric, numeric) is
  'Gross (quantity × unit cost), discount, tax and total of a purchase line (PO or GRN), each rounded to the cent: total = quantity × cost × (1 − discount %) × (1 + tax %).';
grant execute on function app_hidden.purchase_line_amounts(numeric, numeric, numeric, numeric) to :DATABASE_STAFF;

/* BEFORE INSERT/UPDATE on purchase_order_items (_200_line_total): the line's own total. */
create or replace function app_hidden.tg_purchase_order_items__line_total() returns trigger
language plpgsql
as $$
begin
  NEW.line_total := (app_hidden.purchase_line_amounts(NEW.quantity_ordered, NEW.unit_cost, NEW.discount_percent, NEW.tax_percent)).total;
  return NEW;
end;
$$;
comment on function app_hidden.tg_purchase_order_items__line_total() is
  'BEFORE INSERT/UPDATE on purchase_order_items: line_total of quantity_ordered at the line''s cost, discount and tax (purchase_line_amounts).';

/* BEFORE INSERT/UPDATE on grn_items (_200_line_total): the line's own total. */
create or replace function app_hidden.tg_grn_items__line_total() returns trigger
language plpgsql
as $$
begin
  NEW.line_total := (app_hidden.purchase_line_amounts(NEW.quantity_received, NEW.unit_cost, NEW.discount_percent, NEW.tax_percent)).total;
  return NEW;
end;
$$;
comment on function app_hidden.tg_grn_items__line_total() is
  'BEFORE INSERT/UPDATE on grn_items: line_total of quantity_received at the line''s cost, discount and tax (purchase_line_amounts).';

/*
 * BEFORE INSERT/UPDATE on purchase_orders and goods_receipt_notes (_300_total_amount): total =
 * subtotal − discount + tax + shipping, so a change of the shipping charge keeps the total right.
 * A document inserted by a workflow RPC or the owner keeps the total it is given (the totals
 * CHECK holds it to the rule); every update and every client insert is computed.
 */
create or replace function app_hidden.tg__purchase_total_amount() returns trigger
language plpgsql
as $$
begin
  if TG_OP = 'UPDATE' or not app_hidden.is_trusted_writer() then
    NEW.total_amount := NEW.subtotal - NEW.discount_amount + NEW.tax_amount + NEW.shipping_amount;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__purchase_total_amount() is
  'BEFORE INSERT/UPDATE on purchase_orders and goods_receipt_notes: total_amount = subtotal − discount + tax + shipping.';

/* The amounts of a purchase order from its lines: subtotal, discount and tax are their sums. */
create or replace function app_hidden.refresh_purchase_order_totals(p_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := (select po.hospital_id from app_public.purchase_orders po where po.id = p_id);
  v_gross numeric;
  v_discount numeric;
  v_tax numeric;
begin
  select coalesce(sum(a.gross), 0), coalesce(sum(a.discount), 0), coalesce(sum(a.tax), 0) into v_gross, v_discount, v_tax
    from app_public.purchase_order_items i
   cross join lateral app_hidden.purchase_line_amounts(i.quantity_ordered, i.unit_cost, i.discount_percent, i.tax_percent) a
   where i.hospital_id = v_hospital and i.purchase_order_id = p_id;
  update app_public.purchase_orders po
     set subtotal = v_gross, discount_amount = v_discount, tax_amount = v_tax
   where po.id = p_id and (po.subtotal, po.discount_amount, po.tax_amount) is distinct from (v_gross, v_discount, v_tax);
end;
$$;
comment on function app_hidden.refresh_purchase_order_totals(uuid) is
  'Sets a purchase order''s subtotal, discount_amount and tax_amount to the sums over its lines (purchase_line_amounts of quantity_ordered); its total follows (_300_total_amount).';

/* The amounts of a goods receipt note from its lines: subtotal, discount and tax are their sums. */
create or replace function app_hidden.refresh_goods_receipt_totals(p_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := (select g.hospital_id from app_public.goods_receipt_notes g where g.id = p_id);
  v_gross numeric;
  v_discount numeric;
  v_tax numeric;
begin
  select coalesce(sum(a.gross), 0), coalesce(sum(a.discount), 0), coalesce(sum(a.tax), 0) into v_gross, v_discount, v_tax
    from app_public.grn_items i
   cross join lateral app_hidden.purchase_line_amounts(i.quantity_received, i.unit_cost, i.discount_percent, i.tax_percent) a
   where i.hospital_id = v_hospital and i.grn_id = p_id;
  update app_public.goods_receipt_notes g
     set subtotal = v_gross, discount_amount = v_discount, tax_amount = v_tax
   where g.id = p_id and (g.subtotal, g.discount_amount, g.tax_amount) is distinct from (v_gross, v_discount, v_tax);
end;
$$;
comment on function app_hidden.refresh_goods_receipt_totals(uuid) is
  'Sets a goods receipt note''s subtotal, discount_amount and tax_amount to the sums over its lines (purchase_line_amounts of quantity_received); its total follows (_300_total_amount).';

drop trigger if exists _200_before on app_public.purchase_order_items;
drop trigger if exists _800_touch_order on app_public.purchase_order_items;
drop trigger if exists _200_line_total on app_public.purchase_order_items;
create trigger _200_line_total before insert or update on app_public.purchase_order_items
  for each row execute function app_hidden.tg_purchase_order_items__line_total();
drop trigger if exists _200_before on app_public.grn_items;
drop trigger if exists _800_touch_grn on app_public.grn_items;
drop trigger if exists _200_line_total on app_public.grn_items;
create trigger _200_line_total before insert or update on app_public.grn_items
  for each row execute function app_hidden.tg_grn_items__line_total();

drop trigger if exists _200_workflow on app_public.purchase_orders;
drop trigger if exists _300_totals on app_public.purchase_orders;
drop trigger if exists _300_total_amount on app_public.purchase_orders;
create trigger _300_total_amount before insert or update on app_public.purchase_orders
  for each row execute function app_hidden.tg__purchase_total_amount();
drop trigger if exists _200_workflow on app_public.goods_receipt_notes;
drop trigger if exists _300_totals on app_public.goods_receipt_notes;
drop trigger if exists _300_total_amount on app_public.goods_receipt_notes;
create trigger _300_total_amount before insert or update on app_public.goods_receipt_notes
  for each row execute function app_hidden.tg__purchase_total_amount();

select app_hidden.refresh_totals_from('app_public.purchase_order_items', 'purchase_order_id', 'app_hidden.refresh_purchase_order_totals');
select app_hidden.refresh_totals_from('app_public.grn_items', 'grn_id', 'app_hidden.refresh_goods_receipt_totals');

comment on column app_public.purchase_orders.subtotal is
  E'Sum of the lines'' quantity × unit cost before discount. Maintained from the lines by the database; clients never send it.';
comment on column app_public.purchase_orders.discount_amount is 'Total discount of the lines (Σ quantity × unit cost × discount %). Maintained from the lines by the database.';
comment on column app_public.purchase_orders.tax_amount is 'Total tax of the lines (on the discounted amounts). Maintained from the lines by the database.';
comment on column app_public.purchase_orders.total_amount is
  E'Order value: subtotal − discount + tax + shipping. Maintained by the database; clients never send it.';
comment on column app_public.purchase_order_items.quantity_received is
  E'Paid quantity accepted so far (received − rejected of each GRN line), in base units (0 … quantity_ordered). Maintained by receive_goods.';
comment on column app_public.purchase_order_items.line_total is
  E'quantity_ordered × unit_cost × (1 − discount %) × (1 + tax %), rounded to the cent. Computed by the database.';
comment on column app_public.goods_receipt_notes.subtotal is
  E'Sum of the lines'' quantity received × unit cost before discount. Maintained from the lines by the database.';
comment on column app_public.goods_receipt_notes.discount_amount is 'Total discount of the lines. Maintained from the lines by the database.';
comment on column app_public.goods_receipt_notes.tax_amount is 'Total tax of the lines. Maintained from the lines by the database.';
comment on column app_public.goods_receipt_notes.total_amount is
  E'Receipt value: subtotal − discount + tax + shipping. Maintained by the database; clients never send it.';
comment on column app_public.grn_items.line_total is
  E'quantity_received × unit_cost × (1 − discount %) × (1 + tax %), rounded to the cent. Computed by the database.';
comment on column app_public.grn_items.batch_id is
  E'Medicine batch (of medicine_id) created or topped up when the GRN was posted by receive_goods (null when nothing was accepted).';

/* ---------------------------------------------------------------------------------------------
 * RPCs: purchase orders
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.create_purchase_order(uuid, jsonb, date, text);
create function app_public.create_purchase_order(
  supplier_id uuid,
  items jsonb,
  expected_delivery_date date default null,
  notes text default null
) returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_today date := app_hidden.hospital_today(v_hospital);
  v_supplier app_public.suppliers := app_hidden.find_or_404(null::app_public.suppliers, create_purchase_order.supplier_id);
  v_po app_public.purchase_orders;
  v_medicine_row app_public.medicines;
  v_item jsonb;
  v_line integer := 0;
  v_type text;
  v_medicine uuid;
  v_product uuid;
  v_description text;
  v_qty integer;
  v_free integer;
  v_cost numeric;
  v_disc numeric;
  v_tax numeric;
  v_pack integer;
  v_expected date;
  v_has_medicine boolean := false;
begin
  if not v_supplier.is_active then
    perform app_hidden.raise_error('HMS_SUPPLIER_INACTIVE', format('%s is no longer an active supplier.', v_supplier.name),
      jsonb_build_object('supplier_id', v_supplier.id));
  end if;
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    perform app_hidden.raise_error('HMS_ITEMS_REQUIRED', 'A purchase order needs at least one line (items: a non-empty JSON array).');
  end if;
  if create_purchase_order.expected_delivery_date is not null and create_purchase_order.expected_delivery_date < v_today then
    perform app_hidden.raise_error('HMS_INVALID_DATE', 'The expected delivery date cannot be in the past.',
      jsonb_build_object('field', 'expected_delivery_date'));
  end if;

  insert into app_public.purchase_orders (hospital_id, supplier_id, status, expected_delivery_date, currency_code, notes, payment_terms)
  values (v_hospital, v_supplier.id, 'draft', create_purchase_order.expected_delivery_date, v_supplier.currency_code,
          create_purchase_order.notes,
          case when v_supplier.payment_terms_days is not null then format('Net %s days', v_supplier.payment_terms_days) end)
  returning * into v_po;

  for v_item in select value from jsonb_array_elements(items) loop
    v_line := v_line + 1;
    if jsonb_typeof(v_item) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s is not a JSON object.', v_line), jsonb_build_object('line', v_line));
    end if;
    begin
      v_medicine := (v_item ->> 'medicine_id')::uuid;
      v_product := (v_item ->> 'optical_product_id')::uuid;
      v_description := nullif(trim(v_item ->> 'description'), '');
      v_qty := coalesce(v_item ->> 'quantity_ordered', v_item ->> 'quantity')::integer;
      v_free := coalesce((v_item ->> 'free_quantity')::integer, 0);
      v_cost := (v_item ->> 'unit_cost')::numeric;
      v_disc := coalesce((v_item ->> 'discount_percent')::numeric, 0);
      v_tax := coalesce((v_item ->> 'tax_percent')::numeric, 0);
      v_pack := (v_item ->> 'pack_size')::integer;
      v_expected := (v_item ->> 'expected_date')::date;
    exception when data_exception then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s has a value of the wrong type (%s).', v_line, sqlerrm),
        jsonb_build_object('line', v_line));
    end;
    if num_nonnulls(v_medicine, v_product) > 1 or (num_nonnulls(v_medicine, v_product) = 0 and v_description is null) then
      perform app_hidden.raise_error('HMS_ITEM_INVALID',
        format('Line %s must name one medicine_id or one optical_product_id (or describe a consumable).', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_qty is null or v_qty <= 0 or v_free < 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: the quantity ordered must be a whole number above 0 (free quantity at least 0).', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_cost is null or v_cost < 0 then
      perform app_hidden.raise_error('HMS_INVALID_PRICE', format('Line %s: unit_cost is required and cannot be negative.', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_disc not between 0 and 100 or v_tax not between 0 and 100 then
      perform app_hidden.raise_error('HMS_INVALID_PERCENT', format('Line %s: discount and tax percentages are between 0 and 100.', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_pack is not null and v_pack <= 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: pack_size must be above 0.', v_line), jsonb_build_object('line', v_line));
    end if;
    if v_medicine is not null then
      v_type := 'medicine';
      v_has_medicine := true;
      v_medicine_row := app_hidden.find_or_404(null::app_public.medicines, v_medicine);
      v_pack := coalesce(v_pack, v_medicine_row.pack_size);
      v_description := coalesce(v_description, v_medicine_row.generic_name);
    elsif v_product is not null then
      v_type := 'optical_product';
      v_description := coalesce(v_description, (app_hidden.find_or_404(null::app_public.optical_products, v_product)).name);
    else
      v_type := 'consumable';
    end if;
    insert into app_public.purchase_order_items
      (hospital_id, purchase_order_id, line_number, item_type, medicine_id, optical_product_id, description, pack_size,
       quantity_ordered, free_quantity, unit_cost, discount_percent, tax_percent, expected_date, notes)
    values (v_hospital, v_po.id, v_line, v_type, v_medicine, v_product, v_description, coalesce(v_pack, 1),
            v_qty, v_free, v_cost, v_disc, v_tax, v_expected, v_item ->> 'notes');
  end loop;

  if v_has_medicine and v_supplier.drug_licence_expiry is not null and v_supplier.drug_licence_expiry < v_today then
    perform app_hidden.raise_error('HMS_SUPPLIER_LICENCE_EXPIRED',
      format('The drug licence of %s expired on %s: medicines cannot be ordered from it.', v_supplier.name, v_supplier.drug_licence_expiry),
      jsonb_build_object('supplier_id', v_supplier.id, 'drug_licence_expiry', v_supplier.drug_licence_expiry));
  end if;

  select * into v_po from app_public.purchase_orders po where po.id = v_po.id;
  return v_po;
end;
$$;
comment on function app_public.create_purchase_order(uuid, jsonb, date, text) is
E'Creates a draft purchase order with its lines (needs inventory.manage). items: [{medicine_id | optical_product_id | description (consumable), quantity_ordered, unit_cost, discount_percent?, tax_percent?, free_quantity?, pack_size?, expected_date?, notes?}]. Line totals = qty × cost × (1 − discount%) × (1 + tax%) and the order totals are computed by the database. Returns the purchase order; its lines are GET /purchase_order_items?purchase_order_id=eq.<id> (a request reads what an earlier one wrote: an embed in the same request shows the data as it was before the call).\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (supplier, medicine, optical product); 422 HMS_SUPPLIER_INACTIVE, HMS_SUPPLIER_LICENCE_EXPIRED, HMS_ITEMS_REQUIRED, HMS_ITEM_INVALID, HMS_INVALID_QUANTITY, HMS_INVALID_PRICE, HMS_INVALID_PERCENT, HMS_INVALID_DATE, HMS_INVALID_INPUT.';
grant execute on function app_public.create_purchase_order(uuid, jsonb, date, text) to :DATABASE_STAFF;

drop function if exists app_public.approve_purchase_order(uuid);
create function app_public.approve_purchase_order(po_id uuid) returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_po app_public.purchase_orders := app_hidden.lock_or_404(null::app_public.purchase_orders, po_id);
begin
  perform app_hidden.require_transition('app_public.purchase_orders', v_po.status, 'approved');
  perform app_hidden.require_other_user(v_po.created_by, 'raised');
  update app_public.purchase_orders po set status = 'approved' where po.id = v_po.id and po.hospital_id = v_hospital
  returning * into v_po;
  return v_po;
end;
$$;
comment on function app_public.approve_purchase_order(uuid) is
E'Approves a draft purchase order (needs inventory.approve); the approver must not be the person who raised it. approved_by and approved_at come from the session. Returns the purchase order.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not a draft), HMS_APPROVAL_BY_OTHER_USER.';
grant execute on function app_public.approve_purchase_order(uuid) to :DATABASE_STAFF;

drop function if exists app_public.send_purchase_order(uuid);
create function app_public.send_purchase_order(po_id uuid) returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_po app_public.purchase_orders := app_hidden.lock_or_404(null::app_public.purchase_orders, po_id);
begin
  perform app_hidden.require_transition('app_public.purchase_orders', v_po.status, 'sent');
  update app_public.purchase_orders po set status = 'sent' where po.id = v_po.id and po.hospital_id = v_hospital
  returning * into v_po;
  return v_po;
end;
$$;
comment on function app_public.send_purchase_order(uuid) is
E'Marks an approved purchase order as sent to the supplier (needs inventory.manage); sent_at is stamped. Returns the purchase order.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not approved).';
grant execute on function app_public.send_purchase_order(uuid) to :DATABASE_STAFF;

drop function if exists app_public.cancel_purchase_order(uuid, text);
create function app_public.cancel_purchase_order(po_id uuid, reason text) returns app_public.purchase_orders
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_po app_public.purchase_orders := app_hidden.lock_or_404(null::app_public.purchase_orders, po_id);
begin
  perform app_hidden.require_transition('app_public.purchase_orders', v_po.status, 'cancelled');
  update app_public.purchase_orders po
     set status = 'cancelled', cancellation_reason = nullif(trim(cancel_purchase_order.reason), '')
   where po.id = v_po.id and po.hospital_id = v_hospital
  returning * into v_po;
  return v_po;
end;
$$;
comment on function app_public.cancel_purchase_order(uuid, text) is
E'Cancels a draft, approved or sent purchase order with a reason (needs inventory.manage); cancelled_by and cancelled_at come from the session. Orders with goods received cannot be cancelled. Returns the purchase order.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION; 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.cancel_purchase_order(uuid, text) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * RPC: receive_goods
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.receive_goods(uuid, uuid, jsonb, text, date, numeric, text, uuid, text);
create function app_public.receive_goods(
  purchase_order_id uuid default null,
  supplier_id uuid default null,
  items jsonb default null,
  supplier_invoice_number text default null,
  supplier_invoice_date date default null,
  supplier_invoice_amount numeric default null,
  delivery_note_number text default null,
  department_id uuid default null,
  notes text default null
) returns app_public.goods_receipt_notes
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_user uuid := app_hidden.current_user_id();
  v_now timestamptz := app_hidden.now();
  v_today date := app_hidden.hospital_today(v_hospital);
  v_po app_public.purchase_orders;
  v_supplier app_public.suppliers;
  v_grn app_public.goods_receipt_notes;
  v_poi app_public.purchase_order_items;
  v_batch app_public.medicine_batches;
  v_grn_item app_public.grn_items;
  v_item jsonb;
  v_line integer := 0;
  v_poi_id uuid;
  v_medicine uuid;
  v_product uuid;
  v_type text;
  v_description text;
  v_batch_number text;
  v_mfg date;
  v_expiry date;
  v_qty integer;
  v_free integer;
  v_rejected integer;
  v_cost numeric;
  v_mrp numeric;
  v_price numeric;
  v_disc numeric;
  v_tax numeric;
  v_accepted integer;
  v_any_rejected boolean := false;
  v_any_accepted boolean := false;
  v_count integer;
begin
  if receive_goods.purchase_order_id is null and receive_goods.supplier_id is null then
    perform app_hidden.raise_error('HMS_SUPPLIER_REQUIRED', 'Name the purchase order received against, or the supplier of a direct receipt.');
  end if;
  if receive_goods.purchase_order_id is not null then
    v_po := app_hidden.lock_or_404(null::app_public.purchase_orders, receive_goods.purchase_order_id);
    if receive_goods.supplier_id is not null and receive_goods.supplier_id <> v_po.supplier_id then
      perform app_hidden.raise_error('HMS_SUPPLIER_MISMATCH', 'The supplier is not the supplier of the purchase order.',
        jsonb_build_object('purchase_order_supplier_id', v_po.supplier_id, 'supplier_id', receive_goods.supplier_id));
    end if;
    if v_po.status not in ('approved', 'sent', 'partially_received') then
      perform app_hidden.raise_error('HMS_PURCHASE_ORDER_NOT_RECEIVABLE',
        format('Goods are received only against an approved, sent or partially received purchase order (this one is %s).', v_po.status),
        jsonb_build_object('purchase_order_id', v_po.id, 'status', v_po.status));
    end if;
  end if;
  v_supplier := app_hidden.find_or_404(null::app_public.suppliers, coalesce(v_po.supplier_id, receive_goods.supplier_id));
  if v_po.id is null and not v_supplier.is_active then
    perform app_hidden.raise_error('HMS_SUPPLIER_INACTIVE', format('%s is no longer an active supplier.', v_supplier.name),
      jsonb_build_object('supplier_id', v_supplier.id));
  end if;
  if receive_goods.department_id is not null then
    perform app_hidden.find_or_404(null::app_public.departments, receive_goods.department_id);
  end if;
  if items is null or jsonb_typeof(items) <> 'array' or jsonb_array_length(items) = 0 then
    perform app_hidden.raise_error('HMS_ITEMS_REQUIRED', 'A goods receipt needs at least one line (items: a non-empty JSON array).');
  end if;
  if receive_goods.supplier_invoice_amount is not null and receive_goods.supplier_invoice_amount < 0 then
    perform app_hidden.raise_error('HMS_INVALID_PRICE', 'The supplier invoice amount cannot be negative.');
  end if;
  if nullif(trim(receive_goods.supplier_invoice_number), '') is not null and exists (
       select 1 from app_public.goods_receipt_notes g
        where g.hospital_id = v_hospital and g.supplier_id = v_supplier.id
          and g.supplier_invoice_number = trim(receive_goods.supplier_invoice_number)
          and g.status <> 'cancelled' and not g.is_deleted) then
    perform app_hidden.raise_error('HMS_DUPLICATE_SUPPLIER_INVOICE',
      format('Supplier invoice %s of %s was already received.', trim(receive_goods.supplier_invoice_number), v_supplier.name),
      jsonb_build_object('supplier_invoice_number', trim(receive_goods.supplier_invoice_number)));
  end if;

  insert into app_public.goods_receipt_notes
    (hospital_id, purchase_order_id, supplier_id, department_id, received_at, received_by, supplier_invoice_number,
     supplier_invoice_date, supplier_invoice_amount, delivery_note_number, status, posted_at, posted_by, notes)
  values (v_hospital, v_po.id, v_supplier.id, coalesce(receive_goods.department_id, v_po.department_id), v_now, v_user,
          nullif(trim(receive_goods.supplier_invoice_number), ''), receive_goods.supplier_invoice_date,
          receive_goods.supplier_invoice_amount, receive_goods.delivery_note_number, 'posted', v_now, v_user, receive_goods.notes)
  returning * into v_grn;

  for v_item in select value from jsonb_array_elements(items) loop
    v_line := v_line + 1;
    if jsonb_typeof(v_item) <> 'object' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s is not a JSON object.', v_line), jsonb_build_object('line', v_line));
    end if;
    begin
      v_poi_id := (v_item ->> 'purchase_order_item_id')::uuid;
      v_medicine := (v_item ->> 'medicine_id')::uuid;
      v_product := (v_item ->> 'optical_product_id')::uuid;
      v_description := nullif(trim(v_item ->> 'description'), '');
      v_batch_number := nullif(trim(v_item ->> 'batch_number'), '');
      v_mfg := (v_item ->> 'manufacture_date')::date;
      v_expiry := (v_item ->> 'expiry_date')::date;
      v_qty := (v_item ->> 'quantity_received')::integer;
      v_free := coalesce((v_item ->> 'free_quantity')::integer, 0);
      v_rejected := coalesce((v_item ->> 'quantity_rejected')::integer, 0);
      v_cost := (v_item ->> 'unit_cost')::numeric;
      v_mrp := (v_item ->> 'mrp')::numeric;
      v_price := (v_item ->> 'selling_price')::numeric;
      v_disc := (v_item ->> 'discount_percent')::numeric;
      v_tax := (v_item ->> 'tax_percent')::numeric;
    exception when data_exception then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', format('Line %s has a value of the wrong type (%s).', v_line, sqlerrm),
        jsonb_build_object('line', v_line));
    end;

    -- The purchase order line: named, or the one line of the order with the same item.
    v_poi := null;
    if v_poi_id is not null then
      if v_po.id is null then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s names a purchase order line but no purchase order is given.', v_line),
          jsonb_build_object('line', v_line));
      end if;
      v_poi := app_hidden.lock_or_404(null::app_public.purchase_order_items, v_poi_id);
      if v_poi.purchase_order_id <> v_po.id then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s: that line belongs to another purchase order.', v_line),
          jsonb_build_object('line', v_line, 'purchase_order_item_id', v_poi_id));
      end if;
    elsif v_po.id is not null then
      select count(*) into v_count from app_public.purchase_order_items i
       where i.hospital_id = v_hospital and i.purchase_order_id = v_po.id
         and ((v_medicine is not null and i.medicine_id = v_medicine) or (v_product is not null and i.optical_product_id = v_product));
      if v_count <> 1 then
        perform app_hidden.raise_error('HMS_PO_ITEM_REQUIRED',
          format('Line %s: say which purchase order line (purchase_order_item_id) it receives.', v_line), jsonb_build_object('line', v_line));
      end if;
      select * into v_poi from app_public.purchase_order_items i
       where i.hospital_id = v_hospital and i.purchase_order_id = v_po.id
         and ((v_medicine is not null and i.medicine_id = v_medicine) or (v_product is not null and i.optical_product_id = v_product))
         for update;
    end if;
    if v_poi.id is not null then
      if (v_medicine is not null and v_medicine is distinct from v_poi.medicine_id)
         or (v_product is not null and v_product is distinct from v_poi.optical_product_id) then
        perform app_hidden.raise_error('HMS_PO_ITEM_MISMATCH', format('Line %s: the item is not the item of the purchase order line.', v_line),
          jsonb_build_object('line', v_line, 'purchase_order_item_id', v_poi.id));
      end if;
      v_medicine := v_poi.medicine_id;
      v_product := v_poi.optical_product_id;
      v_description := coalesce(v_description, v_poi.description);
      v_cost := coalesce(v_cost, v_poi.unit_cost);
      v_disc := coalesce(v_disc, v_poi.discount_percent);
      v_tax := coalesce(v_tax, v_poi.tax_percent);
    end if;

    if num_nonnulls(v_medicine, v_product) > 1 or (num_nonnulls(v_medicine, v_product) = 0 and v_description is null) then
      perform app_hidden.raise_error('HMS_ITEM_INVALID',
        format('Line %s must name one medicine_id or one optical_product_id (or describe a consumable).', v_line), jsonb_build_object('line', v_line));
    end if;
    if v_qty is null or v_qty <= 0 or v_free < 0 or v_rejected < 0 then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY',
        format('Line %s: quantity_received must be above 0; free_quantity and quantity_rejected at least 0.', v_line), jsonb_build_object('line', v_line));
    end if;
    if v_rejected > v_qty + v_free then
      perform app_hidden.raise_error('HMS_INVALID_QUANTITY', format('Line %s: more units rejected than delivered.', v_line), jsonb_build_object('line', v_line));
    end if;
    if v_rejected > 0 and nullif(trim(v_item ->> 'rejection_reason'), '') is null then
      perform app_hidden.raise_error('HMS_REJECTION_REASON_REQUIRED', format('Line %s: say why units were rejected (rejection_reason).', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_cost is null or v_cost < 0 or v_mrp < 0 or v_price < 0 or (v_mrp is not null and v_price is not null and v_price > v_mrp) then
      perform app_hidden.raise_error('HMS_INVALID_PRICE',
        format('Line %s: unit_cost is required; prices cannot be negative and the selling price cannot exceed the MRP.', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if coalesce(v_disc, 0) not between 0 and 100 or coalesce(v_tax, 0) not between 0 and 100 then
      perform app_hidden.raise_error('HMS_INVALID_PERCENT', format('Line %s: discount and tax percentages are between 0 and 100.', v_line),
        jsonb_build_object('line', v_line));
    end if;
    if v_poi.id is not null and v_qty > v_poi.quantity_ordered - v_poi.quantity_received then
      perform app_hidden.raise_error('HMS_QUANTITY_EXCEEDS_OUTSTANDING',
        format('Line %s: %s received but only %s of the purchase order line are outstanding.', v_line, v_qty,
               v_poi.quantity_ordered - v_poi.quantity_received),
        jsonb_build_object('line', v_line, 'purchase_order_item_id', v_poi.id, 'outstanding', v_poi.quantity_ordered - v_poi.quantity_received,
                           'quantity_received', v_qty));
    end if;

    v_accepted := v_qty + v_free - v_rejected;
    v_any_rejected := v_any_rejected or v_rejected > 0;
    v_any_accepted := v_any_accepted or v_accepted > 0;
    v_batch := null;

    if v_medicine is not null then
      v_type := 'medicine';
      perform app_hidden.find_or_404(null::app_public.medicines, v_medicine);
      if v_po.id is null and v_supplier.drug_licence_expiry is not null and v_supplier.drug_licence_expiry < v_today then
        perform app_hidden.raise_error('HMS_SUPPLIER_LICENCE_EXPIRED',
          format('The drug licence of %s expired on %s: medicines cannot be bought from it.', v_supplier.name, v_supplier.drug_licence_expiry),
          jsonb_build_object('supplier_id', v_supplier.id, 'drug_licence_expiry', v_supplier.drug_licence_expiry));
      end if;
      if v_batch_number is null or length(v_batch_number) > 64 then
        perform app_hidden.raise_error('HMS_BATCH_REQUIRED', format('Line %s: the batch number printed on the pack is required (at most 64 characters).', v_line),
          jsonb_build_object('line', v_line));
      end if;
      if v_expiry is null or v_expiry <= v_today then
        perform app_hidden.raise_error('HMS_EXPIRY_INVALID', format('Line %s: a medicine needs an expiry date in the future.', v_line),
          jsonb_build_object('line', v_line, 'expiry_date', v_expiry));
      end if;
      if v_mfg is not null and (v_mfg >= v_expiry or v_mfg > v_today) then
        perform app_hidden.raise_error('HMS_INVALID_DATE', format('Line %s: the manufacture date must be before the expiry date and not in the future.', v_line),
          jsonb_build_object('line', v_line, 'field', 'manufacture_date'));
      end if;
      if v_accepted > 0 then
        select * into v_batch from app_public.medicine_batches b
         where b.hospital_id = v_hospital and b.medicine_id = v_medicine and b.batch_number = v_batch_number
           for update;
        if found then
          if v_batch.expiry_date <> v_expiry then
            perform app_hidden.raise_error('HMS_BATCH_EXPIRY_MISMATCH',
              format('Line %s: batch %s is on file with expiry %s, not %s.', v_line, v_batch_number, v_batch.expiry_date, v_expiry),
              jsonb_build_object('line', v_line, 'batch_id', v_batch.id, 'expiry_date', v_batch.expiry_date));
          end if;
          if v_batch.status in ('recalled', 'expired') then
            perform app_hidden.raise_error('HMS_BATCH_NOT_RECEIVABLE',
              format('Line %s: batch %s is %s and cannot be topped up.', v_line, v_batch_number, v_batch.status),
              jsonb_build_object('line', v_line, 'batch_id', v_batch.id, 'status', v_batch.status));
          end if;
          if coalesce(v_price, v_batch.selling_price) > coalesce(v_mrp, v_batch.mrp) then
            perform app_hidden.raise_error('HMS_INVALID_PRICE',
              format('Line %s: the selling price of batch %s cannot exceed its MRP.', v_line, v_batch_number), jsonb_build_object('line', v_line));
          end if;
          update app_public.medicine_batches b
             set quantity_received = b.quantity_received + v_accepted,
                 mrp = coalesce(v_mrp, b.mrp),
                 selling_price = coalesce(v_price, b.selling_price),
                 manufacture_date = coalesce(b.manufacture_date, v_mfg),
                 received_at = v_now
           where b.id = v_batch.id
          returning * into v_batch;
        else
          insert into app_public.medicine_batches
            (hospital_id, medicine_id, batch_number, manufacture_date, expiry_date, quantity_received, quantity_on_hand,
             unit_cost, mrp, selling_price, received_at, storage_location, status)
          values (v_hospital, v_medicine, v_batch_number, v_mfg, v_expiry, v_accepted, 0, v_cost, v_mrp, v_price, v_now,
                  nullif(trim(v_item ->> 'storage_location'), ''), 'active')
          returning * into v_batch;
        end if;
      end if;
    elsif v_product is not null then
      v_type := 'optical_product';
      perform app_hidden.find_or_404(null::app_public.optical_products, v_product);
    else
      v_type := 'consumable';
    end if;

    insert into app_public.grn_items
      (hospital_id, grn_id, line_number, purchase_order_item_id, item_type, medicine_id, optical_product_id, description,
       batch_number, manufacture_date, expiry_date, quantity_received, free_quantity, quantity_rejected, rejection_reason,
       unit_cost, mrp, selling_price, discount_percent, tax_percent, batch_id, notes)
    values (v_hospital, v_grn.id, v_line, v_poi.id, v_type, v_medicine, v_product, v_description,
            case when v_type = 'medicine' then v_batch_number end, case when v_type = 'medicine' then v_mfg end,
            case when v_type = 'medicine' then v_expiry end, v_qty, v_free, v_rejected, nullif(trim(v_item ->> 'rejection_reason'), ''),
            v_cost, v_mrp, v_price, coalesce(v_disc, 0), coalesce(v_tax, 0), v_batch.id, v_item ->> 'notes')
    returning * into v_grn_item;

    -- Into the ledger (4100-stock.sql): its trigger applies the quantity and records who and the balance.
    if v_accepted > 0 and v_type = 'medicine' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, medicine_id, batch_id, quantity, balance_after, unit_cost, grn_item_id, reason)
      values (v_hospital, 'goods_receipt', 'medicine', v_medicine, v_batch.id, v_accepted, 0, v_cost, v_grn_item.id,
              format('Goods receipt %s, line %s.', v_grn.grn_number, v_line));
    elsif v_accepted > 0 and v_type = 'optical_product' then
      insert into app_public.stock_movements
        (hospital_id, movement_type, item_type, optical_product_id, quantity, balance_after, unit_cost, grn_item_id, reason)
      values (v_hospital, 'goods_receipt', 'optical_product', v_product, v_accepted, 0, v_cost, v_grn_item.id,
              format('Goods receipt %s, line %s.', v_grn.grn_number, v_line));
    end if;

    if v_poi.id is not null then
      update app_public.purchase_order_items i
         set quantity_received = i.quantity_received + greatest(v_qty - v_rejected, 0)
       where i.id = v_poi.id;
    end if;
  end loop;

  update app_public.goods_receipt_notes g
     set inspection_status = case when not v_any_rejected then 'passed' when v_any_accepted then 'partial' else 'failed' end,
         inspected_at = v_now, inspected_by = v_user
   where g.id = v_grn.id
  returning * into v_grn;

  if v_po.id is not null then
    -- An order received before it was marked sent was sent all the same.
    update app_public.purchase_orders po
       set status = case when exists (select 1 from app_public.purchase_order_items i
                                        where i.hospital_id = v_hospital and i.purchase_order_id = po.id
                                          and i.quantity_received < i.quantity_ordered)
                         then 'partially_received' else 'received' end,
           sent_at = coalesce(po.sent_at, v_now)
     where po.id = v_po.id;
  end if;

  return v_grn;
end;
$$;
comment on function app_public.receive_goods(uuid, uuid, jsonb, text, date, numeric, text, uuid, text) is
E'Receives a delivery and posts its goods receipt note (needs inventory.manage), against a purchase order (approved, sent or partially received) or directly from a supplier. items: [{purchase_order_item_id?, medicine_id | optical_product_id | description, batch_number, manufacture_date?, expiry_date, quantity_received, free_quantity?, quantity_rejected?, rejection_reason?, unit_cost (default: the PO line''s), mrp?, selling_price?, discount_percent?, tax_percent?, storage_location?}]. For each medicine line the batch with that number is topped up or created, and a goods_receipt stock movement of the accepted quantity (received + free − rejected) is written; optical lines move the product''s stock; received − rejected counts against the PO line, and the order becomes partially_received or received (closed). Returns the goods receipt note; what it did is read with the next request: GET /grn_items?grn_id=eq.<id>&select=*,stock_movements(*) (batch_id, quantity_accepted, the movements and their balance_after) and the purchase order''s new status.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (purchase order, supplier, purchase order line, medicine, optical product, department); 409 HMS_PURCHASE_ORDER_NOT_RECEIVABLE, HMS_DUPLICATE_SUPPLIER_INVOICE, HMS_BATCH_NOT_RECEIVABLE; 422 HMS_SUPPLIER_REQUIRED, HMS_SUPPLIER_MISMATCH, HMS_SUPPLIER_INACTIVE, HMS_SUPPLIER_LICENCE_EXPIRED (direct receipt of medicines), HMS_ITEMS_REQUIRED, HMS_ITEM_INVALID, HMS_PO_ITEM_REQUIRED, HMS_PO_ITEM_MISMATCH, HMS_QUANTITY_EXCEEDS_OUTSTANDING, HMS_INVALID_QUANTITY, HMS_REJECTION_REASON_REQUIRED, HMS_INVALID_PRICE, HMS_INVALID_PERCENT, HMS_BATCH_REQUIRED, HMS_EXPIRY_INVALID, HMS_BATCH_EXPIRY_MISMATCH, HMS_INVALID_DATE, HMS_INVALID_INPUT.';
grant execute on function app_public.receive_goods(uuid, uuid, jsonb, text, date, numeric, text, uuid, text) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * Status machines, document locks, registration
 * ------------------------------------------------------------------------------------------- */

select app_hidden.declare_status_machine('app_public.purchase_orders', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "approved", "via": "approve_purchase_order", "permission": "inventory.approve", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "approved", "to": "sent", "via": "send_purchase_order", "stamp_at": "sent_at"},
  {"from": "approved", "to": "partially_received", "via": "receive_goods"},
  {"from": "approved", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "sent", "to": "partially_received", "via": "receive_goods"},
  {"from": "sent", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "partially_received", "to": "received", "via": "receive_goods", "stamp_at": "closed_at"},
  {"from": "draft", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "approved", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "sent", "to": "cancelled", "via": "cancel_purchase_order", "reason": "cancellation_reason", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);

-- receive_goods creates the GRN already posted (and stamps it); a GRN entered as a draft is posted only by it.
select app_hidden.declare_status_machine('app_public.goods_receipt_notes', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "posted", "via": "receive_goods", "stamp_at": "posted_at", "stamp_by": "posted_by"}
]$json$);

-- After the draft, an order keeps its supplier, prices and lines; its delivery details and notes still change.
select app_hidden.lock_document('app_public.purchase_orders', '{draft}',
  still_editable => '{status,is_urgent,order_date,expected_delivery_date,supplier_quotation_reference,payment_terms,delivery_address,notes}');
select app_hidden.lock_document('app_public.purchase_order_items', '{draft}', still_editable => '{notes}',
  document => 'app_public.purchase_orders', document_column => 'purchase_order_id');
-- A posted GRN keeps what arrived and its amounts; its invoice references and notes still change.
select app_hidden.lock_document('app_public.goods_receipt_notes', '{draft}',
  still_editable => '{status,department_id,supplier_invoice_number,supplier_invoice_date,supplier_invoice_amount,delivery_note_number,notes}');
select app_hidden.lock_document('app_public.grn_items', '{draft}', still_editable => '{notes}',
  document => 'app_public.goods_receipt_notes', document_column => 'grn_id');

select app_hidden.register_table('app_public.suppliers', 'supplier',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}');
select app_hidden.register_table('app_public.purchase_orders', 'purchase order',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage,inventory.approve}', delete_permissions => '{inventory.manage}',
  protected_columns => '{subtotal,discount_amount,tax_amount,total_amount,cancellation_reason}');
select app_hidden.register_table('app_public.purchase_order_items', 'purchase order line',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}',
  protected_columns => '{quantity_received,line_total}', immutable_columns => '{purchase_order_id}');
select app_hidden.register_table('app_public.goods_receipt_notes', 'goods receipt note',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}',
  protected_columns => '{subtotal,discount_amount,tax_amount,total_amount,received_by,inspection_status,inspected_by,inspected_at,cancelled_at,cancelled_by,cancellation_reason}');
select app_hidden.register_table('app_public.grn_items', 'goods receipt line',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}',
  protected_columns => '{line_total,batch_id}', immutable_columns => '{grn_id}');

/* Dropped: the supply-chain dialect (sc_*) and the triggers that the kit's mechanisms and the functions above replace. */
drop function if exists app_hidden.tg_purchase_orders__workflow();
drop function if exists app_hidden.tg_purchase_orders__totals();
drop function if exists app_hidden.tg_purchase_order_items__before();
drop function if exists app_hidden.tg_purchase_order_items__touch_order();
drop function if exists app_hidden.tg_goods_receipt_notes__workflow();
drop function if exists app_hidden.tg_goods_receipt_notes__totals();
drop function if exists app_hidden.tg_grn_items__before();
drop function if exists app_hidden.tg_grn_items__touch_grn();
drop function if exists app_hidden.sc_po_json(app_public.purchase_orders);
drop function if exists app_hidden.sc_lock_purchase_order(uuid, uuid);
drop function if exists app_hidden.sc_line_amounts(numeric, numeric, numeric, numeric);
