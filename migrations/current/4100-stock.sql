/*
 * Stock — the ledger and the two documents by which staff correct it (tables:
 * db/schema/app_public/tables/stock_movements.sql, stock_adjustments.sql, cycle_counts.sql,
 * cycle_count_items.sql), on the kit.
 *
 * The ledger (DESIGN.md §8). stock_movements is the only way a stock level changes, and the
 * contract every stocking workflow relies on (goods receipt, dispensing and patient returns,
 * optical sales, adjustments, cycle counts): they insert a movement and its BEFORE INSERT trigger
 * locks the batch (or optical product) row, refuses to take it below zero (409
 * HMS_INSUFFICIENT_STOCK), applies the signed quantity (a batch at 0 is depleted, above 0 active
 * again) and records the resulting balance in balance_after, attributed to the member of staff
 * whose request moved it. The row lock serialises concurrent movements of one batch, so parallel
 * dispensing of the last units never goes negative: the losers get the 409. Movements are
 * append-only (HMS_APPEND_ONLY; corrections are new movements) and clients never write them, so
 * every batch's quantity_on_hand always equals the sum of its movements.
 *
 * Adjustments: request_stock_adjustment → pending_approval; approve_stock_adjustment (another
 * user, inventory.approve) → approved + one adjustment_increase / adjustment_decrease movement;
 * reject_stock_adjustment → rejected, with a reason. What is adjusted and by how much is fixed
 * once requested; an approved adjustment moved stock and stays on file.
 *
 * Cycle counts: start_cycle_count → counting (system quantities snapshotted per line);
 * record_count per line; complete_cycle_count → counted (every line counted); approve_cycle_count
 * (another user than the one who started it, inventory.approve) → approved + one
 * cycle_count_variance movement per line whose variance is not 0. Lines come only from
 * start_cycle_count and are counted only by record_count; staff may still explain a variance
 * (reason). An approved count moved stock and stays on file.
 *
 * Batches keep moving while a count is under way (the pharmacy keeps dispensing): the system
 * quantity of a line is taken again, from the live balance, when its count is recorded, so
 * variance_quantity = counted − on hand when the shelf was counted. Approval applies that
 * variance to the current balance: movements before the count are part of the system quantity,
 * movements after it are kept — neither is mistaken for a variance.
 */

select app_hidden.register_error_codes('stock', $json$[
  {"code": "HMS_STOCK_ITEM_NOT_FOUND", "http_status": 404, "meaning": "The batch (of that medicine) or optical product of a stock movement does not exist in this hospital (details.batch_id, optical_product_id)."},
  {"code": "HMS_INSUFFICIENT_STOCK", "http_status": 409, "meaning": "Not enough stock: the movement would take the batch or product below zero (details.on_hand, requested); nothing is written."},
  {"code": "HMS_INVALID_REASON", "http_status": 422, "meaning": "The adjustment reason is not one of damage, expiry, theft_loss, found, data_correction, donation, sample, return_to_supplier, other."},
  {"code": "HMS_ADJUSTMENT_SIGN_MISMATCH", "http_status": 422, "meaning": "The reason and the sign of the change disagree: damage, expiry, theft_loss and return_to_supplier remove stock, found adds it."},
  {"code": "HMS_REASON_NOTES_REQUIRED", "http_status": 422, "meaning": "An adjustment for data_correction or other is explained in reason_notes."},
  {"code": "HMS_INVALID_SCOPE", "http_status": 422, "meaning": "A cycle count's scope is full, partial, medicine_category or location."},
  {"code": "HMS_CATEGORY_REQUIRED", "http_status": 422, "meaning": "A medicine_category count names the category (therapeutic class) it counts."},
  {"code": "HMS_LOCATION_REQUIRED", "http_status": 422, "meaning": "A location count names the location (or the department store) it counts."},
  {"code": "HMS_NOTHING_TO_COUNT", "http_status": 422, "meaning": "No stock matches the scope of the cycle count (details.scope, category, location)."},
  {"code": "HMS_CYCLE_COUNT_NOT_COUNTING", "http_status": 409, "meaning": "Counts are recorded only while the cycle count is counting (details.status)."},
  {"code": "HMS_COUNT_INCOMPLETE", "http_status": 422, "meaning": "Some lines of the cycle count are not counted yet (details.uncounted)."}
]$json$);

/* ---------------------------------------------------------------------------------------------
 * The ledger
 * ------------------------------------------------------------------------------------------- */

create or replace function app_hidden.tg_stock_movements__apply() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_on_hand integer;
  v_name text;
begin
  if NEW.item_type = 'medicine' then
    select b.quantity_on_hand, m.generic_name || ' batch ' || b.batch_number into v_on_hand, v_name
      from app_public.medicine_batches b
      join app_public.medicines m on m.id = b.medicine_id
     where b.id = NEW.batch_id and b.hospital_id = NEW.hospital_id and b.medicine_id = NEW.medicine_id
       for update of b;
  else
    select p.quantity_on_hand, p.name into v_on_hand, v_name
      from app_public.optical_products p
     where p.id = NEW.optical_product_id and p.hospital_id = NEW.hospital_id
       for update;
  end if;
  if not found then
    perform app_hidden.raise_error('HMS_STOCK_ITEM_NOT_FOUND', 'The batch or product of this stock movement does not exist in this hospital.',
      jsonb_build_object('batch_id', NEW.batch_id, 'optical_product_id', NEW.optical_product_id));
  end if;
  if v_on_hand + NEW.quantity < 0 then
    perform app_hidden.raise_error('HMS_INSUFFICIENT_STOCK',
      format('Not enough stock of %s: %s on hand, %s needed.', v_name, v_on_hand, -NEW.quantity),
      jsonb_build_object('on_hand', v_on_hand, 'requested', -NEW.quantity,
                         'batch_id', NEW.batch_id, 'optical_product_id', NEW.optical_product_id));
  end if;

  if NEW.item_type = 'medicine' then
    update app_public.medicine_batches b
       set quantity_on_hand = b.quantity_on_hand + NEW.quantity,
           status = case when b.status = 'active' and b.quantity_on_hand + NEW.quantity = 0 then 'depleted'
                         when b.status = 'depleted' and b.quantity_on_hand + NEW.quantity > 0 then 'active'
                         else b.status end
     where b.id = NEW.batch_id;
  else
    update app_public.optical_products p set quantity_on_hand = p.quantity_on_hand + NEW.quantity
     where p.id = NEW.optical_product_id;
  end if;
  NEW.balance_after := v_on_hand + NEW.quantity;
  -- The member of staff whose request moved the stock; the owner without a session (demo data) may name one.
  NEW.performed_by := coalesce(app_hidden.current_user_id(), NEW.performed_by);
  return NEW;
end;
$$;
comment on function app_hidden.tg_stock_movements__apply() is
  'BEFORE INSERT on stock_movements (the ledger): locks the batch or product, refuses to go below zero (HMS_INSUFFICIENT_STOCK), applies the quantity, records balance_after and who moved the stock (the session).';

drop trigger if exists _200_apply on app_public.stock_movements;
create trigger _200_apply before insert on app_public.stock_movements
  for each row execute function app_hidden.tg_stock_movements__apply();

comment on table app_public.stock_movements is
  E'The stock ledger: every signed change of a medicine batch or optical product, with the balance after it and its source document line. Append-only; written only by the workflows (through the ledger trigger), never by clients.';
comment on column app_public.stock_movements.performed_by is 'User whose request moved the stock (from the session).';

/* ---------------------------------------------------------------------------------------------
 * Cycle count totals
 * ------------------------------------------------------------------------------------------- */

/* The variance totals of a cycle count: the sums over its lines. */
create or replace function app_hidden.refresh_cycle_count_totals(p_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_hospital uuid := (select c.hospital_id from app_public.cycle_counts c where c.id = p_id);
  v_quantity integer;
  v_value numeric;
begin
  select coalesce(sum(i.variance_quantity), 0), coalesce(sum(i.variance_value), 0) into v_quantity, v_value
    from app_public.cycle_count_items i
   where i.hospital_id = v_hospital and i.cycle_count_id = p_id;
  update app_public.cycle_counts c
     set total_variance_quantity = v_quantity, total_variance_value = v_value
   where c.id = p_id and (c.total_variance_quantity, c.total_variance_value) is distinct from (v_quantity, v_value);
end;
$$;
comment on function app_hidden.refresh_cycle_count_totals(uuid) is
  'Sets a cycle count''s total_variance_quantity and total_variance_value to the sums over its counted lines.';

drop trigger if exists _200_workflow on app_public.stock_adjustments;
drop trigger if exists _200_workflow on app_public.cycle_counts;
drop trigger if exists _300_totals on app_public.cycle_counts;
drop trigger if exists _200_before on app_public.cycle_count_items;
drop trigger if exists _800_touch_count on app_public.cycle_count_items;
select app_hidden.refresh_totals_from('app_public.cycle_count_items', 'cycle_count_id', 'app_hidden.refresh_cycle_count_totals');

comment on column app_public.cycle_counts.total_variance_quantity is
  E'Sum of the lines'' variance in base units (negative = shortage). Maintained from the lines by the database.';
comment on column app_public.cycle_counts.total_variance_value is
  E'Sum of the lines'' variance value (negative = loss). Maintained from the lines by the database.';
comment on column app_public.cycle_count_items.system_quantity is
  E'Quantity the system held, in base units: snapshotted when counting starts and taken again when the line''s count is recorded (record_count), so stock that moved before the count is not mistaken for a variance.';

/* ---------------------------------------------------------------------------------------------
 * RPCs: stock adjustments
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text);
create function app_public.request_stock_adjustment(
  quantity_change integer,
  reason text,
  batch_id uuid default null,
  optical_product_id uuid default null,
  medicine_id uuid default null,
  reason_notes text default null
) returns app_public.stock_adjustments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_qty integer := request_stock_adjustment.quantity_change;
  v_reason text := request_stock_adjustment.reason;
  v_notes text := nullif(trim(request_stock_adjustment.reason_notes), '');
  v_batch_id uuid := request_stock_adjustment.batch_id;
  v_product_id uuid := request_stock_adjustment.optical_product_id;
  v_medicine_id uuid := request_stock_adjustment.medicine_id;
  v_batch app_public.medicine_batches;
  v_cost numeric;
  v_adj app_public.stock_adjustments;
begin
  if num_nonnulls(v_batch_id, v_product_id) <> 1 or (v_product_id is not null and v_medicine_id is not null) then
    perform app_hidden.raise_error('HMS_ITEM_INVALID', 'Name either a medicine batch (batch_id) or an optical product (optical_product_id).');
  end if;
  if v_qty is null or v_qty = 0 then
    perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'quantity_change is a whole number of base units, + to add or − to remove, never 0.');
  end if;
  if v_reason is null or v_reason not in ('damage', 'expiry', 'theft_loss', 'found', 'data_correction', 'donation', 'sample', 'return_to_supplier', 'other') then
    perform app_hidden.raise_error('HMS_INVALID_REASON',
      'reason is one of damage, expiry, theft_loss, found, data_correction, donation, sample, return_to_supplier, other.',
      jsonb_build_object('reason', v_reason));
  end if;
  if (v_reason in ('damage', 'expiry', 'theft_loss', 'return_to_supplier') and v_qty > 0) or (v_reason = 'found' and v_qty < 0) then
    perform app_hidden.raise_error('HMS_ADJUSTMENT_SIGN_MISMATCH',
      format('An adjustment for %s %s stock.', v_reason, case when v_reason = 'found' then 'adds' else 'removes' end),
      jsonb_build_object('reason', v_reason, 'quantity_change', v_qty));
  end if;
  if v_reason in ('other', 'data_correction') and v_notes is null then
    perform app_hidden.raise_error('HMS_REASON_NOTES_REQUIRED', format('Explain an adjustment for %s in reason_notes.', v_reason));
  end if;
  if v_batch_id is not null then
    v_batch := app_hidden.find_or_404(null::app_public.medicine_batches, v_batch_id);
    -- A batch of another medicine than the one named is not the batch asked for.
    if v_medicine_id is not null and v_batch.medicine_id <> v_medicine_id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such batch of that medicine in this hospital.',
        jsonb_build_object('entity', 'medicine_batch', 'id', v_batch_id, 'medicine_id', v_medicine_id));
    end if;
    v_medicine_id := v_batch.medicine_id;
    v_cost := v_batch.unit_cost;
  else
    v_cost := coalesce((app_hidden.find_or_404(null::app_public.optical_products, v_product_id)).purchase_price, 0);
  end if;

  insert into app_public.stock_adjustments
    (hospital_id, item_type, medicine_id, batch_id, optical_product_id, quantity_change, reason, reason_notes, status,
     requested_by, requested_at, unit_cost, value_change)
  values (v_hospital, case when v_batch_id is not null then 'medicine' else 'optical_product' end, v_medicine_id, v_batch_id,
          v_product_id, v_qty, v_reason, v_notes, 'pending_approval', app_hidden.current_user_id(), app_hidden.now(),
          v_cost, round(v_qty * v_cost, 2))
  returning * into v_adj;
  return v_adj;
end;
$$;
comment on function app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text) is
E'Requests a stock adjustment of one medicine batch (batch_id; medicine_id optional, checked) or optical product (needs inventory.manage); it waits for approval by someone else (approve_stock_adjustment). quantity_change: + adds, − removes (damage, expiry, theft_loss and return_to_supplier remove; found adds; other and data_correction need reason_notes). Returns the adjustment (pending_approval, valued at the batch''s cost).\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (medicine batch, optical product); 422 HMS_ITEM_INVALID, HMS_INVALID_QUANTITY, HMS_INVALID_REASON, HMS_ADJUSTMENT_SIGN_MISMATCH, HMS_REASON_NOTES_REQUIRED.';
grant execute on function app_public.request_stock_adjustment(integer, text, uuid, uuid, uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.approve_stock_adjustment(uuid);
create function app_public.approve_stock_adjustment(adjustment_id uuid) returns app_public.stock_adjustments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_adj app_public.stock_adjustments := app_hidden.lock_or_404(null::app_public.stock_adjustments, approve_stock_adjustment.adjustment_id);
begin
  perform app_hidden.require_transition('app_public.stock_adjustments', v_adj.status, 'approved');
  perform app_hidden.require_other_user(coalesce(v_adj.requested_by, v_adj.created_by), 'requested');
  insert into app_public.stock_movements
    (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
     adjustment_id, reason)
  values (v_hospital, case when v_adj.quantity_change > 0 then 'adjustment_increase' else 'adjustment_decrease' end,
          v_adj.item_type, v_adj.medicine_id, v_adj.batch_id, v_adj.optical_product_id, v_adj.quantity_change, 0, v_adj.unit_cost,
          v_adj.id, format('Stock adjustment %s (%s).', v_adj.adjustment_number, v_adj.reason));
  update app_public.stock_adjustments a set status = 'approved' where a.id = v_adj.id returning * into v_adj;
  return v_adj;
end;
$$;
comment on function app_public.approve_stock_adjustment(uuid) is
E'Approves a pending stock adjustment (needs inventory.approve; not by its requester) and writes its adjustment_increase / adjustment_decrease stock movement; approved_by and approved_at come from the session. Returns the adjustment; the new balance is the balance_after of its movement (GET /stock_movements?adjustment_id=eq.<id>, with the next request).\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not pending), HMS_APPROVAL_BY_OTHER_USER, HMS_INSUFFICIENT_STOCK (a decrease larger than the stock on hand).';
grant execute on function app_public.approve_stock_adjustment(uuid) to :DATABASE_STAFF;

drop function if exists app_public.reject_stock_adjustment(uuid, text);
create function app_public.reject_stock_adjustment(adjustment_id uuid, reason text) returns app_public.stock_adjustments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_adj app_public.stock_adjustments := app_hidden.lock_or_404(null::app_public.stock_adjustments, reject_stock_adjustment.adjustment_id);
begin
  perform app_hidden.require_transition('app_public.stock_adjustments', v_adj.status, 'rejected');
  update app_public.stock_adjustments a
     set status = 'rejected', rejection_reason = nullif(trim(reject_stock_adjustment.reason), '')
   where a.id = v_adj.id and a.hospital_id = v_hospital
  returning * into v_adj;
  return v_adj;
end;
$$;
comment on function app_public.reject_stock_adjustment(uuid, text) is
E'Rejects a pending stock adjustment with a reason (needs inventory.approve); stock does not change; rejected_by and rejected_at come from the session. Returns the adjustment.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not pending); 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reject_stock_adjustment(uuid, text) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * RPCs: cycle counts
 * ------------------------------------------------------------------------------------------- */

drop function if exists app_public.start_cycle_count(text, text, jsonb, text, uuid, text);
create function app_public.start_cycle_count(
  scope text default 'partial',
  location text default null,
  items jsonb default null,
  category text default null,
  department_id uuid default null,
  notes text default null
) returns app_public.cycle_counts
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_scope text := coalesce(start_cycle_count.scope, 'partial');
  v_location text := nullif(trim(start_cycle_count.location), '');
  v_category text := nullif(trim(start_cycle_count.category), '');
  v_ids uuid[];
  v_id uuid;
  v_count app_public.cycle_counts;
  v_lines integer;
begin
  if v_scope not in ('full', 'partial', 'medicine_category', 'location') then
    perform app_hidden.raise_error('HMS_INVALID_SCOPE', 'scope is full, partial, medicine_category or location.', jsonb_build_object('scope', v_scope));
  end if;
  if v_scope = 'medicine_category' and v_category is null then
    perform app_hidden.raise_error('HMS_CATEGORY_REQUIRED', 'A medicine_category count names the category (therapeutic class).');
  end if;
  if v_scope = 'location' and v_location is null and start_cycle_count.department_id is null then
    perform app_hidden.raise_error('HMS_LOCATION_REQUIRED', 'A location count names the location (or the department store).');
  end if;
  if start_cycle_count.department_id is not null then
    perform app_hidden.find_or_404(null::app_public.departments, start_cycle_count.department_id);
  end if;
  if items is not null and jsonb_typeof(items) <> 'null' then
    if jsonb_typeof(items) <> 'array' then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', 'items is a JSON array of batch ids and optical product ids.');
    end if;
    begin
      select coalesce(array_agg(distinct (e #>> '{}')::uuid), '{}') into v_ids from jsonb_array_elements(items) e;
    exception when data_exception then
      perform app_hidden.raise_error('HMS_INVALID_INPUT', 'items is a JSON array of batch ids and optical product ids.');
    end;
    foreach v_id in array v_ids loop
      if not exists (select 1 from app_public.medicine_batches b where b.id = v_id and b.hospital_id = v_hospital)
         and not exists (select 1 from app_public.optical_products p where p.id = v_id and p.hospital_id = v_hospital and not p.is_deleted) then
        perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such medicine batch or optical product in this hospital.',
          jsonb_build_object('entity', 'medicine_batch_or_optical_product', 'id', v_id));
      end if;
    end loop;
  end if;

  insert into app_public.cycle_counts (hospital_id, count_date, scope, category, location, department_id, status, started_at, notes)
  values (v_hospital, app_hidden.hospital_today(v_hospital), v_scope, v_category, v_location, start_cycle_count.department_id,
          'counting', app_hidden.now(), start_cycle_count.notes)
  returning * into v_count;

  insert into app_public.cycle_count_items
    (hospital_id, cycle_count_id, item_type, medicine_id, batch_id, system_quantity, unit_cost)
  select v_hospital, v_count.id, 'medicine', b.medicine_id, b.id, b.quantity_on_hand, b.unit_cost
    from app_public.medicine_batches b
    join app_public.medicines m on m.id = b.medicine_id and m.hospital_id = b.hospital_id
   where b.hospital_id = v_hospital
     and case when v_ids is not null then b.id = any (v_ids)
              else b.status = 'active' and b.quantity_on_hand > 0 and not m.is_deleted
                   and (v_scope <> 'medicine_category' or m.therapeutic_class ilike '%' || v_category || '%')
                   and (v_scope <> 'location' or v_location is null or b.storage_location ilike '%' || v_location || '%')
         end
   order by m.generic_name, b.expiry_date, b.id;

  insert into app_public.cycle_count_items
    (hospital_id, cycle_count_id, item_type, optical_product_id, system_quantity, unit_cost)
  select v_hospital, v_count.id, 'optical_product', p.id, p.quantity_on_hand, p.purchase_price
    from app_public.optical_products p
   where p.hospital_id = v_hospital and not p.is_deleted
     and case when v_ids is not null then p.id = any (v_ids)
              else v_scope in ('full', 'partial') and p.is_active and p.quantity_on_hand > 0 end
   order by p.name, p.id;

  select count(*) into v_lines from app_public.cycle_count_items i where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id;
  if v_lines = 0 then
    perform app_hidden.raise_error('HMS_NOTHING_TO_COUNT', 'No stock matches the scope of this count.',
      jsonb_build_object('scope', v_scope, 'category', v_category, 'location', v_location));
  end if;
  select * into v_count from app_public.cycle_counts c where c.id = v_count.id;
  return v_count;
end;
$$;
comment on function app_public.start_cycle_count(text, text, jsonb, text, uuid, text) is
E'Starts a physical stock count (needs inventory.manage): status counting, one line per batch or optical product with the system quantity snapshotted. items: optional JSON array of medicine batch ids and optical product ids; without it, scope full or partial takes every active batch and active optical product with stock, medicine_category the active batches of medicines of that therapeutic class (category), location the active batches whose storage location matches (location). Returns the count; its lines are GET /cycle_count_items?cycle_count_id=eq.<id>, with the next request.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND (medicine batch or optical product, department); 422 HMS_INVALID_SCOPE, HMS_CATEGORY_REQUIRED, HMS_LOCATION_REQUIRED, HMS_NOTHING_TO_COUNT, HMS_INVALID_INPUT.';
grant execute on function app_public.start_cycle_count(text, text, jsonb, text, uuid, text) to :DATABASE_STAFF;

drop function if exists app_public.record_count(uuid, integer, text);
create function app_public.record_count(cycle_count_item_id uuid, counted_quantity integer, reason text default null)
returns app_public.cycle_count_items
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_item app_public.cycle_count_items := app_hidden.find_or_404(null::app_public.cycle_count_items, record_count.cycle_count_item_id);
  v_count app_public.cycle_counts := app_hidden.lock_or_404(null::app_public.cycle_counts, v_item.cycle_count_id);
  v_on_hand integer;
begin
  if v_count.status <> 'counting' then
    perform app_hidden.raise_error('HMS_CYCLE_COUNT_NOT_COUNTING',
      format('Counts are recorded only while the cycle count is counting (it is %s).', v_count.status),
      jsonb_build_object('cycle_count_id', v_count.id, 'status', v_count.status));
  end if;
  if record_count.counted_quantity is null or record_count.counted_quantity < 0 then
    perform app_hidden.raise_error('HMS_INVALID_QUANTITY', 'counted_quantity is the whole number of base units found (0 or more).');
  end if;
  -- The system quantity is taken again now, when the shelf is counted (see the header).
  if v_item.item_type = 'medicine' then
    select b.quantity_on_hand into v_on_hand from app_public.medicine_batches b where b.id = v_item.batch_id and b.hospital_id = v_hospital;
  else
    select p.quantity_on_hand into v_on_hand from app_public.optical_products p where p.id = v_item.optical_product_id and p.hospital_id = v_hospital;
  end if;
  update app_public.cycle_count_items i
     set counted_quantity = record_count.counted_quantity, system_quantity = v_on_hand, counted_at = app_hidden.now(),
         counted_by = app_hidden.current_user_id(), reason = coalesce(nullif(trim(record_count.reason), ''), i.reason)
   where i.id = v_item.id
  returning * into v_item;
  return v_item;
end;
$$;
comment on function app_public.record_count(uuid, integer, text) is
E'Records the quantity found for one line of a cycle count that is counting (needs inventory.manage); may be recorded again until the count is completed. The line''s system quantity is re-read at this moment, so variance = counted − on hand when counted; counted_by comes from the session. Returns the line with its variance.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_CYCLE_COUNT_NOT_COUNTING; 422 HMS_INVALID_QUANTITY.';
grant execute on function app_public.record_count(uuid, integer, text) to :DATABASE_STAFF;

drop function if exists app_public.complete_cycle_count(uuid);
create function app_public.complete_cycle_count(cycle_count_id uuid) returns app_public.cycle_counts
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.manage');
  v_count app_public.cycle_counts := app_hidden.lock_or_404(null::app_public.cycle_counts, complete_cycle_count.cycle_count_id);
  v_uncounted integer;
begin
  perform app_hidden.require_transition('app_public.cycle_counts', v_count.status, 'counted');
  select count(*) into v_uncounted from app_public.cycle_count_items i
   where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id and i.counted_quantity is null;
  if v_uncounted > 0 then
    perform app_hidden.raise_error('HMS_COUNT_INCOMPLETE', format('%s line(s) of the count are not counted yet.', v_uncounted),
      jsonb_build_object('uncounted', v_uncounted));
  end if;
  update app_public.cycle_counts c set status = 'counted' where c.id = v_count.id returning * into v_count;
  return v_count;
end;
$$;
comment on function app_public.complete_cycle_count(uuid) is
E'Closes the counting of a cycle count (needs inventory.manage): every line must be counted. Status counted (completed_at, counted_by from the session); it then waits for approval. Returns the count.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not counting); 422 HMS_COUNT_INCOMPLETE.';
grant execute on function app_public.complete_cycle_count(uuid) to :DATABASE_STAFF;

drop function if exists app_public.approve_cycle_count(uuid);
create function app_public.approve_cycle_count(cycle_count_id uuid) returns app_public.cycle_counts
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('inventory.approve');
  v_count app_public.cycle_counts := app_hidden.lock_or_404(null::app_public.cycle_counts, approve_cycle_count.cycle_count_id);
  v_item app_public.cycle_count_items;
begin
  perform app_hidden.require_transition('app_public.cycle_counts', v_count.status, 'approved');
  perform app_hidden.require_other_user(v_count.created_by, 'started');
  for v_item in
    select * from app_public.cycle_count_items i
     where i.hospital_id = v_hospital and i.cycle_count_id = v_count.id and i.variance_quantity <> 0
     order by i.created_at, i.id
  loop
    insert into app_public.stock_movements
      (hospital_id, movement_type, item_type, medicine_id, batch_id, optical_product_id, quantity, balance_after, unit_cost,
       cycle_count_item_id, reason)
    values (v_hospital, 'cycle_count_variance', v_item.item_type, v_item.medicine_id, v_item.batch_id, v_item.optical_product_id,
            v_item.variance_quantity, 0, v_item.unit_cost, v_item.id,
            format('Cycle count %s variance%s.', v_count.count_number, coalesce(': ' || v_item.reason, '')));
  end loop;
  update app_public.cycle_counts c set status = 'approved' where c.id = v_count.id returning * into v_count;
  return v_count;
end;
$$;
comment on function app_public.approve_cycle_count(uuid) is
E'Approves a counted cycle count (needs inventory.approve; not by the person who started it) and posts one cycle_count_variance stock movement per line whose variance is not 0; approved_by and approved_at come from the session. Returns the count with its totals; its lines and movements are GET /cycle_count_items?cycle_count_id=eq.<id>&select=*,stock_movements(*), with the next request.\nErrors: 401 HMS_SESSION_INVALID; 403 HMS_FORBIDDEN; 404 HMS_NOT_FOUND; 409 HMS_ILLEGAL_TRANSITION (not counted), HMS_APPROVAL_BY_OTHER_USER, HMS_INSUFFICIENT_STOCK (stock moved out since the count so the shortage no longer fits).';
grant execute on function app_public.approve_cycle_count(uuid) to :DATABASE_STAFF;

/* ---------------------------------------------------------------------------------------------
 * Status machines, document locks, registration
 * ------------------------------------------------------------------------------------------- */

-- request_stock_adjustment creates the adjustment already pending (and stamps the request).
select app_hidden.declare_status_machine('app_public.stock_adjustments', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "pending_approval", "via": "request_stock_adjustment", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "pending_approval", "to": "approved", "via": "approve_stock_adjustment", "permission": "inventory.approve", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "pending_approval", "to": "rejected", "via": "reject_stock_adjustment", "permission": "inventory.approve", "reason": "rejection_reason", "stamp_at": "rejected_at", "stamp_by": "rejected_by"}
]$json$);

-- start_cycle_count creates the count already counting (and stamps the start).
select app_hidden.declare_status_machine('app_public.cycle_counts', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "counting", "via": "start_cycle_count", "stamp_at": "started_at"},
  {"from": "counting", "to": "counted", "via": "complete_cycle_count", "stamp_at": "completed_at", "stamp_by": "counted_by"},
  {"from": "counted", "to": "approved", "via": "approve_cycle_count", "permission": "inventory.approve", "stamp_at": "approved_at", "stamp_by": "approved_by"}
]$json$);

-- What an adjustment or a count covers is fixed when it is created (immutable columns below);
-- once approved it moved stock and stays as it is, notes aside.
select app_hidden.lock_document('app_public.stock_adjustments', '{draft,pending_approval,rejected,cancelled}',
  still_editable => '{status,reason_notes}');
select app_hidden.lock_document('app_public.cycle_counts', '{draft,counting,counted,cancelled}', still_editable => '{status,notes}');
-- Lines come from start_cycle_count and are counted by record_count; staff only explain a variance.
select app_hidden.lock_document('app_public.cycle_count_items', '{}', still_editable => '{reason}',
  document => 'app_public.cycle_counts', document_column => 'cycle_count_id');

select app_hidden.register_table('app_public.stock_movements', 'stock movement',
  read_permissions => '{inventory.read,medicines.read,optical.read}', write_mode => 'read_only', append_only => true);
select app_hidden.register_table('app_public.stock_adjustments', 'stock adjustment',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage,inventory.approve}', delete_permissions => '{inventory.manage}',
  protected_columns => '{rejection_reason,unit_cost,value_change}',
  immutable_columns => '{item_type,medicine_id,batch_id,optical_product_id,quantity_change,reason}');
select app_hidden.register_table('app_public.cycle_counts', 'cycle count',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage,inventory.approve}', delete_permissions => '{inventory.manage}',
  protected_columns => '{total_variance_quantity,total_variance_value,cancelled_at}',
  immutable_columns => '{scope,category,location,department_id,count_date}');
select app_hidden.register_table('app_public.cycle_count_items', 'cycle count line',
  read_permissions => '{inventory.read}', write_permissions => '{inventory.manage}', delete_permissions => '{inventory.manage}',
  protected_columns => '{cycle_count_id,item_type,medicine_id,batch_id,optical_product_id,system_quantity,counted_quantity,unit_cost,counted_at,counted_by}');

/* Dropped: the rest of the supply-chain dialect (sc_*, shared with 4000) and the triggers that the kit's mechanisms and the functions above replace. */
drop function if exists app_hidden.tg_stock_movements__append_only();
drop function if exists app_hidden.tg_stock_adjustments__workflow();
drop function if exists app_hidden.tg_cycle_counts__workflow();
drop function if exists app_hidden.tg_cycle_counts__totals();
drop function if exists app_hidden.tg_cycle_count_items__before();
drop function if exists app_hidden.tg_cycle_count_items__touch_count();
drop function if exists app_hidden.sc_adjustment_json(app_public.stock_adjustments);
drop function if exists app_hidden.sc_lock_adjustment(uuid, uuid);
drop function if exists app_hidden.sc_cycle_count_json(app_public.cycle_counts);
drop function if exists app_hidden.sc_lock_cycle_count(uuid, uuid);
drop function if exists app_hidden.sc_workflow(boolean);
drop function if exists app_hidden.sc_is_direct_write();
drop function if exists app_hidden.sc_changed_columns(jsonb, jsonb, text[]);
drop function if exists app_hidden.sc_protect(text, jsonb, jsonb, text[], text);
drop function if exists app_hidden.sc_row_changed(jsonb, jsonb, text[]);
drop function if exists app_hidden.sc_check_transition(text, text, text, jsonb);
drop function if exists app_hidden.sc_illegal_transition(text, text, text);
drop function if exists app_hidden.sc_require(text);
drop function if exists app_hidden.sc_not_found(text, uuid);
