/*
 * The stock ledger (DESIGN.md §8). stock_movements is the only way a stock level changes: a
 * BEFORE INSERT trigger locks the batch (or optical product) row, checks that the movement does
 * not take it below zero (HMS_INSUFFICIENT_STOCK, 409), applies the signed quantity and records
 * the resulting balance in balance_after. Row locks serialise concurrent movements of one batch,
 * so parallel dispensing of the last units can never go negative: the losers get the 409.
 * Movements are append-only (corrections are new movements), so every batch's quantity_on_hand
 * always equals the sum of its movements.
 *
 * Every workflow (goods receipt, dispensing, patient returns, adjustments, cycle counts, optical
 * sales) writes its movements through this one trigger — never by updating quantity_on_hand.
 */

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
    perform app_hidden.raise_error('HMS_STOCK_ITEM_NOT_FOUND', 'The batch or product of this stock movement does not exist in this hospital.', 404);
  end if;
  if v_on_hand + NEW.quantity < 0 then
    perform app_hidden.raise_error('HMS_INSUFFICIENT_STOCK',
      format('Not enough stock of %s: %s on hand, %s needed.', v_name, v_on_hand, -NEW.quantity), 409,
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
  NEW.occurred_at := coalesce(NEW.occurred_at, now());
  NEW.performed_by := coalesce(NEW.performed_by, app_hidden.current_user_id());
  return NEW;
end;
$$;
comment on function app_hidden.tg_stock_movements__apply() is
  'BEFORE INSERT on stock_movements: locks the batch or product, refuses to go below zero (HMS_INSUFFICIENT_STOCK), applies the quantity and records balance_after.';

drop trigger if exists _200_apply on app_public.stock_movements;
create trigger _200_apply before insert on app_public.stock_movements
  for each row execute function app_hidden.tg_stock_movements__apply();

create or replace function app_hidden.tg_stock_movements__append_only() returns trigger
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_LEDGER_APPEND_ONLY',
    'Stock movements are never changed or removed; record a correcting movement (an adjustment) instead.', 403,
    jsonb_build_object('operation', lower(TG_OP)));
  return null;
end;
$$;
comment on function app_hidden.tg_stock_movements__append_only() is 'Refuses updates and deletes of the stock ledger, for everyone.';

drop trigger if exists _000_append_only on app_public.stock_movements;
create trigger _000_append_only before update or delete on app_public.stock_movements
  for each row execute function app_hidden.tg_stock_movements__append_only();
