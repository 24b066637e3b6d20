/*
 * Billing on the kit: the cash desk as database rules (tables: db/schema/app_public/tables/).
 *
 *   - Invoice lines compute their own discount, tax and line total (BEFORE trigger on the line)
 *     and change only while their invoice is a draft (document lock); issuing also freezes the
 *     header fields that decide what is owed.
 *   - One function computes an invoice's totals from everything that feeds them,
 *     app_hidden.refresh_invoice_totals(id), called by the totals trigger of its lines, payments,
 *     refunds and credit notes and of its own invoice-level discount:
 *       subtotal        = Σ line amounts before discount and tax (line_total − tax + line discount)
 *       discount_amount = Σ line discounts + invoice_discount_amount (the discount staff give on
 *                         the whole draft); both parts are kept, so a line change moves the total
 *                         discount by that line's discount and the invoice-level part stays
 *       tax_amount      = Σ line tax
 *       amount_paid     = Σ completed payments, amount_refunded = Σ processed refunds,
 *       amount_credited = Σ issued/applied credit notes.
 *     The invoice's own trigger derives the rest from those columns whoever writes the row:
 *       total_amount    = max(subtotal − discount_amount + tax_amount, 0)
 *       balance_due     = max(total − paid + refunded − credited, 0); 0 for void and refunded
 *                         invoices (nothing is asked any more). A credit note on a paid invoice
 *                         leaves balance 0: what is owed back is returned by a refund.
 *       status          once issued, follows the money: issued → partially_paid → paid, back to
 *                         partially_paid when a refund reopens the balance (or to issued when
 *                         every payment was cancelled), refunded when every paid cent went back.
 *                         The steps payments and refunds take are declared with `via` so no client
 *                         takes them by hand.
 *   - Payments are taken by record_payment under the invoice's row lock, so parallel payments
 *     never overpay; a client records only pending payments (cheques, transfers not cleared).
 *   - Refunds: requested → approved | rejected, approved → processed (by process_refund, which
 *     moves the money); above the hospital's refund_approval_threshold the approver is not the
 *     requester (four eyes, also for a direct update).
 *   - Credit notes reduce what an issued invoice asks for; they are issued by issue_credit_note.
 *   - Daily settlements: settle_day computes a hospital-local day's collections and locks the
 *     day; payments and refunds dated in a settled day are refused (HMS_DAY_SETTLED), whoever
 *     writes them, until reopen_day.
 *
 * BILLING CONTRACT for other workflows (called from their security definer RPCs, names and
 * arguments fixed):
 *   app_hidden.ensure_draft_invoice(hospital, patient, invoice_type, appointment default null) → invoice id
 *   app_hidden.add_invoice_item(invoice, item_type, description, quantity, unit_price,
 *                               tax_configuration_id default null, links jsonb default '{}') → line id
 */

select app_hidden.register_error_codes('billing', $json$[
  {"code": "HMS_INVOICE_TYPE_INVALID", "http_status": 422, "meaning": "Unknown invoice type: outpatient, pharmacy, optical, lab, inpatient or other."},
  {"code": "HMS_INVOICE_ITEM_INVALID", "http_status": 422, "meaning": "An invoice line is wrong: unknown item type, empty description, quantity not above 0, negative price, discount outside 0–100 or an amount too large (details.field)."},
  {"code": "HMS_INVOICE_EMPTY", "http_status": 422, "meaning": "An invoice needs at least one line before it is issued."},
  {"code": "HMS_INVOICE_HAS_PAYMENTS", "http_status": 409, "meaning": "Money was paid on the invoice: refund it or issue a credit note instead of voiding."},
  {"code": "HMS_INVOICE_NOT_PAYABLE", "http_status": 409, "meaning": "Payments are taken on issued or partially paid invoices only (details.status)."},
  {"code": "HMS_OVERPAYMENT", "http_status": 422, "meaning": "The payment is more than the balance due, also when payments race (details.balance_due)."},
  {"code": "HMS_AMOUNT_INVALID", "http_status": 422, "meaning": "An amount is not above 0, has more than two decimals or is too large (details.field)."},
  {"code": "HMS_PAYMENT_METHOD_INVALID", "http_status": 422, "meaning": "Unknown payment or refund method, a cheque without its number, or card_last4 that is not four digits (details.field)."},
  {"code": "HMS_REFUND_EXCEEDS_PAID", "http_status": 422, "meaning": "More would go back than was paid: paid − refunded − pending refunds on the invoice, or what is left of the payment."},
  {"code": "HMS_REFUND_REASON_INVALID", "http_status": 422, "meaning": "Unknown refund reason: service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return or other."},
  {"code": "HMS_INVOICE_NOT_CREDITABLE", "http_status": 409, "meaning": "Credit notes are issued against issued, partially paid or paid invoices only (details.status)."},
  {"code": "HMS_CREDIT_EXCEEDS_TOTAL", "http_status": 422, "meaning": "The credit is more than the invoice total not yet credited (details.creditable)."},
  {"code": "HMS_CREDIT_NOTE_LINES_INVALID", "http_status": 422, "meaning": "The credited lines are not a JSON array of items with numeric amounts."},
  {"code": "HMS_DAY_SETTLED", "http_status": 409, "meaning": "The hospital-local day is settled: no payment or refund may be recorded or changed in it until it is reopened (details.settlement_date)."},
  {"code": "HMS_SETTLEMENT_DATE_INVALID", "http_status": 422, "meaning": "Only today or a past day (hospital time) can be settled."},
  {"code": "HMS_VARIANCE_REASON_REQUIRED", "http_status": 422, "meaning": "The counted cash differs from the expected cash: say why (variance_reason)."}
]$json$);

/* ------------------------------------------------------------------------------------------
 * Columns: the invoice-level discount, and business time in the hospital's day
 * ------------------------------------------------------------------------------------------ */

/*
 * The discount of an invoice has two parts: what its lines give and what staff give on the whole
 * draft. Keeping the second in its own column lets refresh_invoice_totals compute the total
 * discount from scratch, so every change of a line moves it by exactly that line's discount.
 */
alter table app_public.invoices add column if not exists invoice_discount_amount numeric(12,2) not null default 0
  constraint invoices_invoice_discount_amount_check check (invoice_discount_amount >= 0);
comment on column app_public.invoices.invoice_discount_amount is
  E'Discount given on the invoice as a whole, on top of the line discounts; set on a draft (discount_reason says why).';
comment on column app_public.invoices.discount_amount is
  E'Total discount: the line discounts plus invoice_discount_amount. Maintained by triggers; never client-written.';
comment on column app_public.invoices.discount_approved_by is
  E'Staff member who gave the invoice-level discount (invoice_discount_amount), from the session; never client-written.';
-- The day of an invoice and the instant of a payment are the hospital's business time.
alter table app_public.invoices alter column invoice_date set default app_hidden.hospital_today(app_hidden.current_hospital_id());
alter table app_public.payments alter column payment_date set default app_hidden.now();

/* ------------------------------------------------------------------------------------------
 * Status machines, document locks, totals
 * ------------------------------------------------------------------------------------------ */

select app_hidden.declare_status_machine('app_public.invoices', $json$[
  {"from": null, "to": "draft"},
  {"from": "draft", "to": "issued", "stamp_at": "issued_at", "stamp_by": "issued_by"},
  {"from": "draft", "to": "void", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "void", "permission": "billing.void", "reason": "void_reason", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "partially_paid", "via": "record_payment"},
  {"from": "issued", "to": "paid", "via": "record_payment"},
  {"from": "partially_paid", "to": "paid", "via": "record_payment"},
  {"from": "paid", "to": "partially_paid", "via": "process_refund"},
  {"from": "partially_paid", "to": "refunded", "via": "process_refund"},
  {"from": "paid", "to": "refunded", "via": "process_refund"}
]$json$);

select app_hidden.declare_status_machine('app_public.payments', $json$[
  {"from": null, "to": "pending", "stamp_by": "received_by"},
  {"from": null, "to": "completed", "via": "record_payment", "stamp_by": "received_by"},
  {"from": "pending", "to": "failed"},
  {"from": "pending", "to": "cancelled", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"},
  {"from": "completed", "to": "cancelled", "stamp_at": "cancelled_at", "stamp_by": "cancelled_by"}
]$json$);

select app_hidden.declare_status_machine('app_public.refunds', $json$[
  {"from": null, "to": "requested", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "requested", "to": "approved", "stamp_at": "approved_at", "stamp_by": "approved_by"},
  {"from": "requested", "to": "rejected", "reason": "rejection_reason", "stamp_at": "rejected_at", "stamp_by": "rejected_by"},
  {"from": "approved", "to": "processed", "via": "process_refund", "stamp_at": "processed_at", "stamp_by": "processed_by"}
]$json$);

select app_hidden.declare_status_machine('app_public.credit_notes', $json$[
  {"from": null, "to": "draft"},
  {"from": null, "to": "issued", "via": "issue_credit_note", "stamp_at": "issued_at", "stamp_by": "issued_by"},
  {"from": "draft", "to": "void", "stamp_at": "voided_at", "stamp_by": "voided_by"},
  {"from": "issued", "to": "void", "stamp_at": "voided_at", "stamp_by": "voided_by"}
]$json$);

select app_hidden.declare_status_machine('app_public.daily_settlements', $json$[
  {"from": null, "to": "open"},
  {"from": null, "to": "reconciling"},
  {"from": "open", "to": "reconciling"},
  {"from": "reopened", "to": "reconciling"},
  {"from": "open", "to": "settled", "via": "settle_day", "stamp_at": "settled_at", "stamp_by": "settled_by"},
  {"from": "reconciling", "to": "settled", "via": "settle_day", "stamp_at": "settled_at", "stamp_by": "settled_by"},
  {"from": "reopened", "to": "settled", "via": "settle_day", "stamp_at": "settled_at", "stamp_by": "settled_by"},
  {"from": "settled", "to": "reopened", "via": "reopen_day", "reason": "reopen_reason", "stamp_at": "reopened_at", "stamp_by": "reopened_by"}
]$json$);

-- Once issued, what decides what is owed is frozen; addressee, notes, due date and links stay editable.
select app_hidden.lock_document('app_public.invoices', '{draft}',
  still_editable => '{status,due_date,discount_reason,bill_to_name,bill_to_tax_identifier,billing_address_line1,billing_address_line2,billing_city,billing_state_province,billing_postal_code,billing_country_code,notes,dispensing_id,optical_order_id}');
select app_hidden.lock_document('app_public.invoice_items', '{draft}', document => 'app_public.invoices', document_column => 'invoice_id');
select app_hidden.lock_document('app_public.credit_notes', '{draft}', still_editable => '{status,void_reason,notes}');
select app_hidden.lock_document('app_public.daily_settlements', '{open,reconciling,reopened}', still_editable => '{status,notes}');

/* ------------------------------------------------------------------------------------------
 * Invoice totals
 * ------------------------------------------------------------------------------------------ */

drop trigger if exists _800_refresh_invoice on app_public.invoice_items;
drop trigger if exists _800_refresh_invoice on app_public.payments;
drop trigger if exists _800_refresh_invoice on app_public.refunds;
drop trigger if exists _800_refresh_invoice on app_public.credit_notes;
drop function if exists app_hidden.tg__refresh_invoice_totals();
drop function if exists app_hidden.refresh_invoice_totals(uuid, numeric);

/*
 * The invoice row is locked first (no key update: it does not conflict with the key-share locks
 * that inserting lines and payments take), so the sums below see every line or payment committed
 * by a transaction that refreshed the same invoice before.
 */
create or replace function app_hidden.refresh_invoice_totals(p_id uuid) returns void
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_invoice app_public.invoices;
  v_subtotal numeric;
  v_discount numeric;
  v_tax numeric;
  v_paid numeric;
  v_refunded numeric;
  v_credited numeric;
begin
  select * into v_invoice from app_public.invoices i where i.id = p_id for no key update;
  if not found then
    return;
  end if;
  select coalesce(sum(l.line_total - l.tax_amount + l.discount_amount), 0), coalesce(sum(l.discount_amount), 0), coalesce(sum(l.tax_amount), 0)
    into v_subtotal, v_discount, v_tax
    from app_public.invoice_items l where l.hospital_id = v_invoice.hospital_id and l.invoice_id = v_invoice.id;
  select coalesce(sum(p.amount), 0) into v_paid
    from app_public.payments p
   where p.hospital_id = v_invoice.hospital_id and p.invoice_id = v_invoice.id and p.status = 'completed' and not p.is_deleted;
  select coalesce(sum(r.amount), 0) into v_refunded
    from app_public.refunds r
   where r.hospital_id = v_invoice.hospital_id and r.invoice_id = v_invoice.id and r.status = 'processed' and not r.is_deleted;
  select coalesce(sum(c.amount), 0) into v_credited
    from app_public.credit_notes c
   where c.hospital_id = v_invoice.hospital_id and c.invoice_id = v_invoice.id and c.status in ('issued', 'applied') and not c.is_deleted;
  v_discount := v_discount + v_invoice.invoice_discount_amount;
  update app_public.invoices i
     set subtotal = v_subtotal, discount_amount = v_discount, tax_amount = v_tax,
         amount_paid = v_paid, amount_refunded = v_refunded, amount_credited = v_credited
   where i.id = v_invoice.id
     and (i.subtotal, i.discount_amount, i.tax_amount, i.amount_paid, i.amount_refunded, i.amount_credited)
         is distinct from (v_subtotal, v_discount, v_tax, v_paid, v_refunded, v_credited);
end;
$$;
comment on function app_hidden.refresh_invoice_totals(uuid) is
  E'Recomputes an invoice''s subtotal, discount (lines + invoice_discount_amount), tax, amount paid, refunded and credited from its lines, completed payments, processed refunds and issued credit notes; the invoice''s own trigger then derives total, balance and the money-driven status.';

select app_hidden.refresh_totals_from('app_public.invoice_items', 'invoice_id', 'app_hidden.refresh_invoice_totals');
select app_hidden.refresh_totals_from('app_public.payments', 'invoice_id', 'app_hidden.refresh_invoice_totals');
select app_hidden.refresh_totals_from('app_public.refunds', 'invoice_id', 'app_hidden.refresh_invoice_totals');
select app_hidden.refresh_totals_from('app_public.credit_notes', 'invoice_id', 'app_hidden.refresh_invoice_totals');
-- The invoice-level discount feeds the totals too (the refresh itself never writes that column).
drop trigger if exists _800_refresh_totals on app_public.invoices;
create trigger _800_refresh_totals after insert or update of invoice_discount_amount on app_public.invoices
  for each row execute function app_hidden.tg__refresh_totals('id', 'app_hidden.refresh_invoice_totals');

/* ------------------------------------------------------------------------------------------
 * Invoices: what issuing and voiding imply, and the derived money columns
 * ------------------------------------------------------------------------------------------ */

drop trigger if exists _200_workflow on app_public.invoices;
drop function if exists app_hidden.tg_invoices__workflow();

create or replace function app_hidden.tg_invoices__derive() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_owed numeric;
  v_due_days integer;
begin
  if TG_OP = 'INSERT' then
    NEW.currency_code := coalesce(NEW.currency_code, (select h.currency_code from app_public.hospitals h where h.id = NEW.hospital_id));
  elsif NEW.status is distinct from OLD.status then
    if OLD.status = 'draft' and NEW.status = 'issued' then
      if not exists (select 1 from app_public.invoice_items it where it.hospital_id = NEW.hospital_id and it.invoice_id = NEW.id) then
        perform app_hidden.raise_error('HMS_INVOICE_EMPTY', 'An invoice needs at least one line before it is issued.',
          jsonb_build_object('invoice_id', NEW.id));
      end if;
      if NEW.due_date is null then
        select s.invoice_due_days into v_due_days from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
        NEW.due_date := NEW.invoice_date + coalesce(v_due_days, 0);
      end if;
    elsif NEW.status = 'void' and OLD.amount_paid > 0 then
      perform app_hidden.raise_error('HMS_INVOICE_HAS_PAYMENTS',
        format('Invoice %s has %s paid against it: refund the payments or issue a credit note instead of voiding.', OLD.invoice_number, OLD.amount_paid),
        jsonb_build_object('invoice_id', OLD.id, 'amount_paid', OLD.amount_paid));
    end if;
  end if;

  -- Who gave the invoice-level discount: the session that set it.
  if v_user is not null
     and NEW.invoice_discount_amount is distinct from (case when TG_OP = 'UPDATE' then OLD.invoice_discount_amount else 0 end) then
    NEW.discount_approved_by := v_user;
  end if;

  NEW.total_amount := greatest(NEW.subtotal - NEW.discount_amount + NEW.tax_amount, 0);
  v_owed := NEW.total_amount - NEW.amount_paid + NEW.amount_refunded - NEW.amount_credited;
  if NEW.status in ('issued', 'partially_paid', 'paid') then
    NEW.status := case
      when NEW.amount_paid > 0 and NEW.amount_refunded >= NEW.amount_paid then 'refunded'
      when v_owed <= 0 then 'paid'
      when NEW.amount_paid - NEW.amount_refunded > 0 then 'partially_paid'
      else 'issued' end;
  end if;
  NEW.balance_due := case when NEW.status in ('void', 'refunded') then 0 else greatest(v_owed, 0) end;
  if NEW.insurance_amount = 0 then
    NEW.patient_amount := NEW.total_amount;
  end if;
  if NEW.status = 'paid' and (TG_OP = 'INSERT' or OLD.status <> 'paid') then
    NEW.paid_at := app_hidden.now();
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_invoices__derive() is
  'BEFORE INSERT/UPDATE on invoices (_200_derive, after the status machine): currency from the hospital; issuing needs a line (HMS_INVOICE_EMPTY) and sets the due date; no void with money paid (HMS_INVOICE_HAS_PAYMENTS); the invoice-level discount is attributed to the session; total, balance, patient share, paid_at and the money-driven status are derived.';

drop trigger if exists _200_derive on app_public.invoices;
create trigger _200_derive before insert or update on app_public.invoices
  for each row execute function app_hidden.tg_invoices__derive();

/* ------------------------------------------------------------------------------------------
 * Invoice lines: computed amounts
 * ------------------------------------------------------------------------------------------ */

drop trigger if exists _050_draft_only on app_public.invoice_items;
drop function if exists app_hidden.tg_invoice_items__draft_only();

/* The item_type of an invoice line → the applies_to category of tax_configurations. */
create or replace function app_hidden.tax_category_of_item_type(p_item_type text) returns text
language sql
immutable
as $$
  select case p_item_type
           when 'consultation' then 'consultation'
           when 'medicine' then 'medicine'
           when 'lab_test' then 'lab'
           when 'optical' then 'optical'
           when 'procedure' then 'procedure'
           when 'room' then 'room'
           else 'all' end;
$$;
comment on function app_hidden.tax_category_of_item_type(text) is
  'Maps an invoice line item_type to the tax_configurations.applies_to category whose default rule taxes it.';

create or replace function app_hidden.tg_invoice_items__compute() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_rate numeric;
  v_gross numeric;
  v_net numeric;
  v_today date;
begin
  if NEW.line_number is null then
    NEW.line_number := coalesce((select max(it.line_number) from app_public.invoice_items it
                                  where it.hospital_id = NEW.hospital_id and it.invoice_id = NEW.invoice_id), 0) + 1;
  end if;
  -- Tax rate: an explicit (non-zero) rate is kept; else the configuration's rate; else the category's default rule.
  if TG_OP = 'INSERT' or NEW.tax_configuration_id is distinct from OLD.tax_configuration_id
     or NEW.item_type is distinct from OLD.item_type then
    if NEW.tax_configuration_id is not null then
      if NEW.tax_percent = 0 or (TG_OP = 'UPDATE' and NEW.tax_percent = OLD.tax_percent) then
        select t.rate_percent into v_rate from app_public.tax_configurations t
         where t.id = NEW.tax_configuration_id and t.hospital_id = NEW.hospital_id;
        NEW.tax_percent := coalesce(v_rate, NEW.tax_percent);
      end if;
    elsif TG_OP = 'INSERT' and NEW.tax_percent = 0 then
      v_today := app_hidden.hospital_today(NEW.hospital_id);
      select t.id, t.rate_percent into NEW.tax_configuration_id, v_rate
        from app_public.tax_configurations t
       where t.hospital_id = NEW.hospital_id and t.is_active and t.is_default
         and t.applies_to = app_hidden.tax_category_of_item_type(NEW.item_type)
         and t.effective_from <= v_today and (t.effective_to is null or t.effective_to >= v_today)
       order by t.effective_from desc
       limit 1;
      NEW.tax_percent := coalesce(v_rate, 0);
    end if;
  end if;

  v_gross := round(NEW.quantity * NEW.unit_price, 2);
  NEW.discount_amount := round(v_gross * NEW.discount_percent / 100, 2);
  v_net := v_gross - NEW.discount_amount;
  if NEW.price_includes_tax then
    NEW.tax_amount := round(v_net - v_net / (1 + NEW.tax_percent / 100), 2);
    NEW.line_total := v_net;
  else
    NEW.tax_amount := round(v_net * NEW.tax_percent / 100, 2);
    NEW.line_total := v_net + NEW.tax_amount;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_invoice_items__compute() is
  'BEFORE INSERT/UPDATE on invoice_items (_200_compute): line number, tax rate (given, from tax_configuration_id, or the category''s default rule in force on the hospital''s day), discount, tax and line total rounded to cents; price_includes_tax extracts the tax from the price.';

drop trigger if exists _200_compute on app_public.invoice_items;
create trigger _200_compute before insert or update on app_public.invoice_items
  for each row execute function app_hidden.tg_invoice_items__compute();

/* ------------------------------------------------------------------------------------------
 * BILLING CONTRACT
 * ------------------------------------------------------------------------------------------ */

/*
 * Callers pass the hospital (they run as the owner, possibly without a session, e.g. a job), so
 * the lookups here name it instead of the session's active hospital.
 */
create or replace function app_hidden.ensure_draft_invoice(
  p_hospital_id uuid,
  p_patient_id uuid,
  p_invoice_type text,
  p_appointment_id uuid default null
) returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_id uuid;
begin
  if p_invoice_type is null or p_invoice_type not in ('outpatient', 'pharmacy', 'optical', 'lab', 'inpatient', 'other') then
    perform app_hidden.raise_error('HMS_INVOICE_TYPE_INVALID',
      format('Unknown invoice type %s: outpatient, pharmacy, optical, lab, inpatient or other.', coalesce(p_invoice_type, 'null')),
      jsonb_build_object('field', 'invoice_type'));
  end if;
  if not exists (select 1 from app_public.patients p where p.id = p_patient_id and p.hospital_id = p_hospital_id and not p.is_deleted) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such patient in this hospital.',
      jsonb_build_object('entity', 'patient', 'id', p_patient_id));
  end if;
  if p_appointment_id is not null
     and not exists (select 1 from app_public.appointments a where a.id = p_appointment_id and a.hospital_id = p_hospital_id
                        and a.patient_id = p_patient_id) then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such appointment of this patient in this hospital.',
      jsonb_build_object('entity', 'appointment', 'id', p_appointment_id));
  end if;
  -- One open draft per patient, type (and appointment): serialise concurrent callers.
  perform pg_advisory_xact_lock(hashtextextended('hms.draft_invoice:' || p_hospital_id || ':' || p_patient_id || ':' || p_invoice_type, 0));
  select i.id into v_id from app_public.invoices i
   where i.hospital_id = p_hospital_id and i.patient_id = p_patient_id and i.invoice_type = p_invoice_type
     and i.status = 'draft' and not i.is_deleted
     and (p_appointment_id is null or i.appointment_id = p_appointment_id)
   order by (i.appointment_id is not distinct from p_appointment_id) desc, i.created_at
   limit 1;
  if v_id is null then
    insert into app_public.invoices (hospital_id, patient_id, appointment_id, invoice_type, status, invoice_date, currency_code,
                                     bill_to_name, billing_address_line1, billing_address_line2, billing_city,
                                     billing_state_province, billing_postal_code, billing_country_code)
    select p_hospital_id, p.id, p_appointment_id, p_invoice_type, 'draft', app_hidden.hospital_today(p_hospital_id), h.currency_code,
           p.full_name, p.address_line1, p.address_line2, p.city, p.state_province, p.postal_code, p.country_code
      from app_public.patients p join app_public.hospitals h on h.id = p.hospital_id
     where p.id = p_patient_id and p.hospital_id = p_hospital_id
    returning id into v_id;
  end if;
  return v_id;
end;
$$;
comment on function app_hidden.ensure_draft_invoice(uuid, uuid, text, uuid) is
  'BILLING CONTRACT: the patient''s open draft invoice of that type (and appointment when given), created if none (dated the hospital''s today). Errors: HMS_INVOICE_TYPE_INVALID (422), HMS_NOT_FOUND (404).';
revoke all on function app_hidden.ensure_draft_invoice(uuid, uuid, text, uuid) from public;

create or replace function app_hidden.add_invoice_item(
  p_invoice_id uuid,
  p_item_type text,
  p_description text,
  p_quantity numeric,
  p_unit_price numeric,
  p_tax_configuration_id uuid default null,
  p_links jsonb default '{}'
) returns uuid
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_invoice app_public.invoices;
  v_links jsonb := coalesce(p_links, '{}');
  v_tax app_public.tax_configurations;
  v_includes boolean;
  v_discount numeric;
  v_id uuid;
begin
  select * into v_invoice from app_public.invoices i where i.id = p_invoice_id and not i.is_deleted for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such invoice.', jsonb_build_object('entity', 'invoice', 'id', p_invoice_id));
  end if;
  -- Callers are workflows, which the document lock lets through: the contract keeps drafts-only itself.
  if v_invoice.status <> 'draft' then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
      format('Invoice %s is %s: lines are added only to a draft.', v_invoice.invoice_number, v_invoice.status),
      jsonb_build_object('entity', 'invoice', 'id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if p_item_type is null or p_item_type not in ('consultation', 'procedure', 'medicine', 'lab_test', 'optical', 'room', 'service', 'package', 'other') then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID',
      format('Unknown item type %s.', coalesce(p_item_type, 'null')), jsonb_build_object('field', 'item_type'));
  end if;
  if length(trim(coalesce(p_description, ''))) not between 1 and 500 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'A line needs a description of 1 to 500 characters.',
      jsonb_build_object('field', 'description'));
  end if;
  if p_quantity is null or p_quantity <= 0 or p_quantity >= 1e9 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The quantity must be greater than zero.',
      jsonb_build_object('field', 'quantity'));
  end if;
  if p_unit_price is null or p_unit_price < 0 or p_unit_price >= 1e10 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The unit price must be zero or more.',
      jsonb_build_object('field', 'unit_price'));
  end if;
  if round(p_quantity * p_unit_price, 2) >= 1e10 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'The line amount (quantity × unit price) is too large.',
      jsonb_build_object('field', 'quantity'));
  end if;
  begin
    v_discount := coalesce((v_links ->> 'discount_percent')::numeric, 0);
  exception when others then
    v_discount := -1;
  end;
  if v_discount < 0 or v_discount > 100 then
    perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'discount_percent must be between 0 and 100.',
      jsonb_build_object('field', 'discount_percent'));
  end if;
  if p_tax_configuration_id is not null then
    select * into v_tax from app_public.tax_configurations t
     where t.id = p_tax_configuration_id and t.hospital_id = v_invoice.hospital_id;
    if not found then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such tax configuration in this hospital.',
        jsonb_build_object('entity', 'tax_configuration', 'id', p_tax_configuration_id));
    end if;
    v_includes := v_tax.is_inclusive;
  else
    v_includes := coalesce((select s.prices_include_tax from app_public.hospital_settings s where s.hospital_id = v_invoice.hospital_id), false);
  end if;

  begin
    insert into app_public.invoice_items
      (hospital_id, invoice_id, item_type, description, service_code, service_date, appointment_id, dispensing_item_id,
       lab_order_id, optical_order_item_id, medicine_id, batch_id, doctor_id, department_id, quantity, unit_price,
       discount_percent, price_includes_tax, tax_configuration_id)
    values
      (v_invoice.hospital_id, v_invoice.id, p_item_type, trim(p_description), v_links ->> 'service_code',
       app_hidden.hospital_today(v_invoice.hospital_id),
       (v_links ->> 'appointment_id')::uuid, (v_links ->> 'dispensing_item_id')::uuid, (v_links ->> 'lab_order_id')::uuid,
       (v_links ->> 'optical_order_item_id')::uuid, (v_links ->> 'medicine_id')::uuid, (v_links ->> 'batch_id')::uuid,
       (v_links ->> 'doctor_id')::uuid, (v_links ->> 'department_id')::uuid, p_quantity, p_unit_price,
       v_discount, v_includes, p_tax_configuration_id)
    returning id into v_id;
  exception
    -- Without an API request (a job, the owner) the constraint itself answers: the same code the
    -- friendly-constraint trigger gives a request.
    when foreign_key_violation then
      perform app_hidden.raise_error('HMS_REFERENCE_NOT_FOUND', 'A record linked to this line does not exist in this hospital.',
        jsonb_build_object('table', 'invoice_items', 'links', v_links));
    when invalid_text_representation then
      perform app_hidden.raise_error('HMS_INVOICE_ITEM_INVALID', 'A link id of this line is not a valid id.',
        jsonb_build_object('field', 'links'));
  end;
  return v_id;
end;
$$;
comment on function app_hidden.add_invoice_item(uuid, text, text, numeric, numeric, uuid, jsonb) is
  'BILLING CONTRACT: adds a line to a draft invoice; tax, line total and invoice totals come from the billing triggers. p_links (optional keys): appointment_id, dispensing_item_id, lab_order_id, optical_order_item_id, medicine_id, batch_id, doctor_id, department_id, service_code, discount_percent. Errors: HMS_NOT_FOUND (404: invoice, tax configuration), HMS_DOCUMENT_LOCKED (409: not a draft), HMS_INVOICE_ITEM_INVALID (422), HMS_REFERENCE_NOT_FOUND (422: a linked record).';
revoke all on function app_hidden.add_invoice_item(uuid, text, text, numeric, numeric, uuid, jsonb) from public;

/* ------------------------------------------------------------------------------------------
 * Payments and refunds: the settled-day lock, four eyes on refunds
 * ------------------------------------------------------------------------------------------ */

drop trigger if exists _200_guard on app_public.payments;
drop function if exists app_hidden.tg_payments__guard();
drop trigger if exists _200_workflow on app_public.refunds;
drop function if exists app_hidden.tg_refunds__workflow();
drop trigger if exists _200_guard on app_public.credit_notes;
drop function if exists app_hidden.tg_credit_notes__guard();
drop trigger if exists _200_workflow on app_public.daily_settlements;
drop function if exists app_hidden.tg_daily_settlements__workflow();

/* Is that hospital-local day settled? */
create or replace function app_hidden.is_day_settled(p_hospital_id uuid, p_day date) returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select exists (select 1 from app_public.daily_settlements d
                  where d.hospital_id = p_hospital_id and d.settlement_date = p_day and d.status = 'settled');
$$;
comment on function app_hidden.is_day_settled(uuid, date) is 'True when the daily settlement of that hospital-local day is settled (locked).';

/* After the status machine (_150), which stamps processed_at: the day a refund counts in is known. */
create or replace function app_hidden.tg__settled_day_lock() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  -- The column that dates the money movement (TG_ARGV[0]), read through jsonb: one function serves payments and refunds.
  v_new_at timestamptz := (to_jsonb(NEW) ->> TG_ARGV[0])::timestamptz;
  v_old_at timestamptz := case when TG_OP = 'UPDATE' then (to_jsonb(OLD) ->> TG_ARGV[0])::timestamptz end;
  v_day date;
begin
  foreach v_day in array array[app_hidden.hospital_local_date(NEW.hospital_id, v_new_at),
                               app_hidden.hospital_local_date(NEW.hospital_id, v_old_at)] loop
    if v_day is not null and app_hidden.is_day_settled(NEW.hospital_id, v_day) then
      perform app_hidden.raise_error('HMS_DAY_SETTLED',
        format('The day %s is settled: no %s may be recorded or changed in it (reopen the day first).', v_day,
               app_hidden.entity_of(TG_RELID)),
        jsonb_build_object('settlement_date', v_day));
    end if;
  end loop;
  return NEW;
end;
$$;
comment on function app_hidden.tg__settled_day_lock() is
  'BEFORE INSERT/UPDATE on payments and refunds (_300_settled_day_lock), for every writer: refuses a row dated (by the column TG_ARGV[0], hospital-local) in a settled day (HMS_DAY_SETTLED).';

drop trigger if exists _300_settled_day_lock on app_public.payments;
create trigger _300_settled_day_lock before insert or update on app_public.payments
  for each row execute function app_hidden.tg__settled_day_lock('payment_date');
drop trigger if exists _300_settled_day_lock on app_public.refunds;
create trigger _300_settled_day_lock before insert or update on app_public.refunds
  for each row execute function app_hidden.tg__settled_day_lock('processed_at');

/* Four eyes: above the hospital's threshold the requester does not approve their own refund, by RPC or by PATCH. */
create or replace function app_hidden.tg_refunds__four_eyes() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_threshold numeric;
begin
  if NEW.status = 'approved' and OLD.status is distinct from 'approved' then
    select coalesce(s.refund_approval_threshold, 0) into v_threshold from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
    if NEW.amount > coalesce(v_threshold, 0) then
      perform app_hidden.require_other_user(OLD.requested_by, 'requested');
    end if;
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_refunds__four_eyes() is
  'BEFORE UPDATE on refunds (_200_four_eyes): a refund above hospital_settings.refund_approval_threshold is approved by someone other than its requester (HMS_APPROVAL_BY_OTHER_USER).';

drop trigger if exists _200_four_eyes on app_public.refunds;
create trigger _200_four_eyes before update on app_public.refunds
  for each row execute function app_hidden.tg_refunds__four_eyes();

/* ------------------------------------------------------------------------------------------
 * Daily settlement computation (also for a settlement job)
 * ------------------------------------------------------------------------------------------ */

create or replace function app_hidden.compute_daily_settlement(p_hospital_id uuid, p_date date)
returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_tz text;
  v_from timestamptz;
  v_to timestamptz;
  v_row app_public.daily_settlements;
begin
  select h.time_zone into v_tz from app_public.hospitals h where h.id = p_hospital_id;
  if v_tz is null then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such hospital.', jsonb_build_object('entity', 'hospital', 'id', p_hospital_id));
  end if;
  v_from := p_date::timestamp at time zone v_tz;
  v_to := (p_date + 1)::timestamp at time zone v_tz;

  insert into app_public.daily_settlements (hospital_id, settlement_date)
  values (p_hospital_id, p_date)
  on conflict on constraint daily_settlements_hospital_id_settlement_date_key do nothing;

  with p as (
    select p.amount, p.payment_method, p.invoice_id from app_public.payments p
     where p.hospital_id = p_hospital_id and p.status = 'completed' and not p.is_deleted
       and p.payment_date >= v_from and p.payment_date < v_to
  ), r as (
    select r.amount, r.refund_method from app_public.refunds r
     where r.hospital_id = p_hospital_id and r.status = 'processed' and not r.is_deleted
       and r.processed_at >= v_from and r.processed_at < v_to
  )
  update app_public.daily_settlements d
     set cash_total = coalesce((select sum(amount) from p where payment_method = 'cash'), 0),
         card_total = coalesce((select sum(amount) from p where payment_method = 'card'), 0),
         upi_total = coalesce((select sum(amount) from p where payment_method = 'upi'), 0),
         bank_transfer_total = coalesce((select sum(amount) from p where payment_method = 'bank_transfer'), 0),
         cheque_total = coalesce((select sum(amount) from p where payment_method = 'cheque'), 0),
         wallet_total = coalesce((select sum(amount) from p where payment_method = 'mobile_wallet'), 0),
         insurance_total = coalesce((select sum(amount) from p where payment_method = 'insurance'), 0),
         other_total = coalesce((select sum(amount) from p where payment_method in ('online', 'other')), 0),
         gross_collections = coalesce((select sum(amount) from p), 0),
         refunds_total = coalesce((select sum(amount) from r), 0),
         net_collections = coalesce((select sum(amount) from p), 0) - coalesce((select sum(amount) from r), 0),
         invoice_count = (select count(distinct invoice_id) from p),
         payment_count = (select count(*) from p),
         refund_count = (select count(*) from r),
         expected_cash = coalesce((select sum(amount) from p where payment_method = 'cash'), 0)
                         - coalesce((select sum(amount) from r where refund_method = 'cash'), 0),
         cash_variance = case when d.counted_cash is null then null
                              else d.counted_cash - (coalesce((select sum(amount) from p where payment_method = 'cash'), 0)
                                                     - coalesce((select sum(amount) from r where refund_method = 'cash'), 0)) end,
         computed_at = now()
   where d.hospital_id = p_hospital_id and d.settlement_date = p_date
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_hidden.compute_daily_settlement(uuid, date) is
  'Creates (if needed) and recomputes the daily_settlements row of a hospital-local day from its completed payments and processed refunds: totals per method, gross, refunds, net, counts, expected cash and variance. Does not change the status.';
revoke all on function app_hidden.compute_daily_settlement(uuid, date) from public;

/* ------------------------------------------------------------------------------------------
 * RPCs
 * ------------------------------------------------------------------------------------------ */

create or replace function app_public.create_invoice(patient_id uuid, invoice_type text default 'outpatient', appointment_id uuid default null)
returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.write');
  v_patient app_public.patients := app_hidden.find_or_404(null::app_public.patients, create_invoice.patient_id);
begin
  return app_hidden.find_or_404(null::app_public.invoices,
    app_hidden.ensure_draft_invoice(v_hospital, v_patient.id, create_invoice.invoice_type, create_invoice.appointment_id));
end;
$$;
comment on function app_public.create_invoice(uuid, text, uuid) is
  E'Opens a draft invoice for a patient (or returns their open draft of that type and appointment). Needs billing.write. invoice_type: outpatient, pharmacy, optical, lab, inpatient or other. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (patient, appointment), 422 HMS_INVOICE_TYPE_INVALID.';
grant execute on function app_public.create_invoice(uuid, text, uuid) to :DATABASE_STAFF;

create or replace function app_public.add_invoice_item(
  invoice_id uuid,
  item_type text,
  description text,
  quantity numeric default 1,
  unit_price numeric default 0,
  tax_configuration_id uuid default null,
  discount_percent numeric default 0,
  service_code text default null,
  doctor_id uuid default null,
  department_id uuid default null
) returns app_public.invoice_items
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.write');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, add_invoice_item.invoice_id);
  v_id uuid;
begin
  v_id := app_hidden.add_invoice_item(v_invoice.id, add_invoice_item.item_type, add_invoice_item.description,
            add_invoice_item.quantity, add_invoice_item.unit_price, add_invoice_item.tax_configuration_id,
            jsonb_strip_nulls(jsonb_build_object('discount_percent', add_invoice_item.discount_percent,
                                                 'service_code', add_invoice_item.service_code,
                                                 'doctor_id', add_invoice_item.doctor_id,
                                                 'department_id', add_invoice_item.department_id)));
  return app_hidden.find_or_404(null::app_public.invoice_items, v_id);
end;
$$;
comment on function app_public.add_invoice_item(uuid, text, text, numeric, numeric, uuid, numeric, text, uuid, uuid) is
  E'Adds a line to a draft invoice; discount, tax (from tax_configuration_id or the hospital''s default rule for the item type) and totals are computed. Needs billing.write. item_type: consultation, procedure, medicine, lab_test, optical, room, service, package or other. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (invoice, tax configuration), 409 HMS_DOCUMENT_LOCKED (not a draft), 422 HMS_INVOICE_ITEM_INVALID, 422 HMS_REFERENCE_NOT_FOUND (doctor, department).';
grant execute on function app_public.add_invoice_item(uuid, text, text, numeric, numeric, uuid, numeric, text, uuid, uuid) to :DATABASE_STAFF;

create or replace function app_public.issue_invoice(invoice_id uuid) returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.write');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, issue_invoice.invoice_id);
begin
  perform app_hidden.require_transition('app_public.invoices', v_invoice.status, 'issued');
  update app_public.invoices i set status = 'issued' where i.id = v_invoice.id returning * into v_invoice;
  return v_invoice;
end;
$$;
comment on function app_public.issue_invoice(uuid) is
  E'Issues a draft invoice: freezes its lines and what it charges, stamps issued_at/by and sets the due date from hospital_settings.invoice_due_days (a zero total is paid at once). Needs billing.write. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION (not a draft), 422 HMS_INVOICE_EMPTY (no line).';
grant execute on function app_public.issue_invoice(uuid) to :DATABASE_STAFF;

create or replace function app_public.void_invoice(invoice_id uuid, reason text) returns app_public.invoices
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.void');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, void_invoice.invoice_id);
begin
  perform app_hidden.require_transition('app_public.invoices', v_invoice.status, 'void');
  update app_public.invoices i set status = 'void', void_reason = nullif(trim(void_invoice.reason), '')
   where i.id = v_invoice.id returning * into v_invoice;
  return v_invoice;
end;
$$;
comment on function app_public.void_invoice(uuid, text) is
  E'Cancels a draft or issued invoice on which nothing was paid; it keeps its number, voided_at/by are stamped. Needs billing.void. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_INVOICE_HAS_PAYMENTS, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.void_invoice(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.record_payment(
  invoice_id uuid,
  amount numeric,
  payment_method text,
  reference_number text default null,
  payer_name text default null,
  card_last4 text default null,
  cheque_number text default null,
  notes text default null
) returns app_public.payments
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.collect');
  -- The invoice's row lock serialises payments on it: the balance read here stays true until commit.
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, record_payment.invoice_id);
  v_row app_public.payments;
begin
  if v_invoice.status not in ('issued', 'partially_paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_PAYABLE',
      format('Invoice %s is %s: payments are taken on issued or partially paid invoices.', v_invoice.invoice_number, v_invoice.status),
      jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if record_payment.amount is null or record_payment.amount <= 0 then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero.', jsonb_build_object('field', 'amount'));
  end if;
  if round(record_payment.amount, 2) <> record_payment.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount has at most two decimals.', jsonb_build_object('field', 'amount'));
  end if;
  if record_payment.amount > v_invoice.balance_due then
    perform app_hidden.raise_error('HMS_OVERPAYMENT',
      format('%s is more than the balance due of %s on invoice %s.', record_payment.amount, v_invoice.balance_due, v_invoice.invoice_number),
      jsonb_build_object('invoice_id', v_invoice.id, 'balance_due', v_invoice.balance_due, 'amount', record_payment.amount));
  end if;
  if record_payment.payment_method is null
     or record_payment.payment_method not in ('cash', 'card', 'upi', 'bank_transfer', 'cheque', 'mobile_wallet', 'insurance', 'online', 'other') then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID',
      format('Unknown payment method %s: cash, card, upi, bank_transfer, cheque, mobile_wallet, insurance, online or other.', coalesce(record_payment.payment_method, 'null')),
      jsonb_build_object('field', 'payment_method'));
  end if;
  if record_payment.payment_method = 'cheque' and nullif(trim(coalesce(record_payment.cheque_number, '')), '') is null then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', 'A cheque payment needs the cheque number.',
      jsonb_build_object('field', 'cheque_number'));
  end if;
  if record_payment.card_last4 is not null and record_payment.card_last4 !~ '^[0-9]{4}$' then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', 'card_last4 is the last four digits of the card.',
      jsonb_build_object('field', 'card_last4'));
  end if;
  insert into app_public.payments (hospital_id, invoice_id, patient_id, amount, payment_method, payment_date, status,
                                   payer_name, reference_number, card_last4, cheque_number, notes)
  values (v_hospital, v_invoice.id, v_invoice.patient_id, record_payment.amount, record_payment.payment_method, app_hidden.now(), 'completed',
          coalesce(record_payment.payer_name, v_invoice.bill_to_name), record_payment.reference_number, record_payment.card_last4,
          record_payment.cheque_number, record_payment.notes)
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.record_payment(uuid, numeric, text, text, text, text, text, text) is
  E'Records a completed payment (with its automatic receipt number; received_by is the caller) against an issued or partially paid invoice; the invoice is locked so parallel payments never exceed the balance. Needs billing.collect. payment_method: cash, card, upi, bank_transfer, cheque, mobile_wallet, insurance, online or other. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_INVOICE_NOT_PAYABLE, 409 HMS_DAY_SETTLED, 422 HMS_AMOUNT_INVALID, 422 HMS_OVERPAYMENT, 422 HMS_PAYMENT_METHOD_INVALID.';
grant execute on function app_public.record_payment(uuid, numeric, text, text, text, text, text, text) to :DATABASE_STAFF;

create or replace function app_public.request_refund(
  invoice_id uuid,
  amount numeric,
  reason text,
  payment_id uuid default null,
  refund_method text default null,
  reason_notes text default null
) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, request_refund.invoice_id);
  v_payment app_public.payments;
  v_pending numeric;
  v_available numeric;
  v_row app_public.refunds;
begin
  if request_refund.payment_id is not null then
    v_payment := app_hidden.find_or_404(null::app_public.payments, request_refund.payment_id);
    if v_payment.invoice_id <> v_invoice.id then
      perform app_hidden.raise_error('HMS_NOT_FOUND', 'No such payment on this invoice.',
        jsonb_build_object('entity', 'payment', 'id', request_refund.payment_id));
    end if;
  end if;
  if request_refund.amount is null or request_refund.amount <= 0 or round(request_refund.amount, 2) <> request_refund.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero, with at most two decimals.',
      jsonb_build_object('field', 'amount'));
  end if;
  if request_refund.reason is null or request_refund.reason not in
     ('service_not_rendered', 'overbilling', 'duplicate_payment', 'cancellation', 'insurance_adjustment', 'medicine_return', 'other') then
    perform app_hidden.raise_error('HMS_REFUND_REASON_INVALID',
      'reason is one of service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return, other.',
      jsonb_build_object('field', 'reason'));
  end if;
  if request_refund.refund_method is not null and request_refund.refund_method not in
     ('cash', 'card', 'upi', 'bank_transfer', 'cheque', 'mobile_wallet', 'insurance', 'online', 'other') then
    perform app_hidden.raise_error('HMS_PAYMENT_METHOD_INVALID', format('Unknown refund method %s.', request_refund.refund_method),
      jsonb_build_object('field', 'refund_method'));
  end if;
  select coalesce(sum(r.amount), 0) into v_pending from app_public.refunds r
   where r.invoice_id = v_invoice.id and r.hospital_id = v_hospital and r.status in ('requested', 'approved') and not r.is_deleted;
  v_available := v_invoice.amount_paid - v_invoice.amount_refunded - v_pending;
  if request_refund.amount > v_available then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID',
      format('%s is more than the %s still refundable on invoice %s (paid %s, refunded %s, pending %s).', request_refund.amount,
             greatest(v_available, 0), v_invoice.invoice_number, v_invoice.amount_paid, v_invoice.amount_refunded, v_pending),
      jsonb_build_object('invoice_id', v_invoice.id, 'refundable', greatest(v_available, 0)));
  end if;
  if request_refund.payment_id is not null and request_refund.amount > v_payment.amount
       - coalesce((select sum(r.amount) from app_public.refunds r where r.payment_id = v_payment.id and r.status <> 'rejected' and not r.is_deleted), 0) then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID', 'The amount is more than what is left to refund of that payment.',
      jsonb_build_object('payment_id', v_payment.id));
  end if;
  insert into app_public.refunds (hospital_id, invoice_id, payment_id, patient_id, amount, refund_method, reason, reason_notes, status)
  values (v_hospital, v_invoice.id, request_refund.payment_id, v_invoice.patient_id, request_refund.amount,
          coalesce(request_refund.refund_method, v_payment.payment_method, 'cash'), request_refund.reason, request_refund.reason_notes,
          'requested')
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.request_refund(uuid, numeric, text, uuid, text, text) is
  E'Requests a refund of money paid on an invoice (at most paid − refunded − pending refunds); requested_at/by are stamped. Needs billing.refund. reason: service_not_rendered, overbilling, duplicate_payment, cancellation, insurance_adjustment, medicine_return or other; refund_method defaults to the payment''s method (else cash). Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND (invoice, payment), 422 HMS_AMOUNT_INVALID, 422 HMS_REFUND_REASON_INVALID, 422 HMS_PAYMENT_METHOD_INVALID, 422 HMS_REFUND_EXCEEDS_PAID.';
grant execute on function app_public.request_refund(uuid, numeric, text, uuid, text, text) to :DATABASE_STAFF;

create or replace function app_public.approve_refund(refund_id uuid) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_row app_public.refunds := app_hidden.lock_or_404(null::app_public.refunds, approve_refund.refund_id);
begin
  perform app_hidden.require_transition('app_public.refunds', v_row.status, 'approved');
  update app_public.refunds r set status = 'approved' where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.approve_refund(uuid) is
  E'Approves a requested refund (approved_at/by stamped); above hospital_settings.refund_approval_threshold the approver must not be the requester. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_APPROVAL_BY_OTHER_USER.';
grant execute on function app_public.approve_refund(uuid) to :DATABASE_STAFF;

create or replace function app_public.reject_refund(refund_id uuid, reason text) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_row app_public.refunds := app_hidden.lock_or_404(null::app_public.refunds, reject_refund.refund_id);
begin
  perform app_hidden.require_transition('app_public.refunds', v_row.status, 'rejected');
  update app_public.refunds r set status = 'rejected', rejection_reason = nullif(trim(reject_refund.reason), '')
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reject_refund(uuid, text) is
  E'Rejects a requested refund with a reason (rejected_at/by stamped). Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reject_refund(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.process_refund(refund_id uuid, reference_number text default null) returns app_public.refunds
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_row app_public.refunds := app_hidden.find_or_404(null::app_public.refunds, process_refund.refund_id);
  v_invoice app_public.invoices;
begin
  -- Never more out than in: the invoice's lock (taken before the refund's, like payments) keeps what was paid true.
  v_invoice := app_hidden.lock_or_404(null::app_public.invoices, v_row.invoice_id);
  v_row := app_hidden.lock_or_404(null::app_public.refunds, v_row.id);
  perform app_hidden.require_transition('app_public.refunds', v_row.status, 'processed');
  if v_row.amount > v_invoice.amount_paid - v_invoice.amount_refunded then
    perform app_hidden.raise_error('HMS_REFUND_EXCEEDS_PAID',
      format('%s is more than the %s still paid on invoice %s.', v_row.amount, v_invoice.amount_paid - v_invoice.amount_refunded, v_invoice.invoice_number),
      jsonb_build_object('invoice_id', v_invoice.id));
  end if;
  update app_public.refunds r
     set status = 'processed', reference_number = coalesce(process_refund.reference_number, r.reference_number)
   where r.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.process_refund(uuid, text) is
  E'Pays out an approved refund (processed_at/by stamped): it now counts in the invoice''s amount_refunded and in the day''s settlement. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 409 HMS_DAY_SETTLED, 422 HMS_REFUND_EXCEEDS_PAID.';
grant execute on function app_public.process_refund(uuid, text) to :DATABASE_STAFF;

create or replace function app_public.issue_credit_note(invoice_id uuid, amount numeric, reason text, lines jsonb default '[]')
returns app_public.credit_notes
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.refund');
  v_invoice app_public.invoices := app_hidden.lock_or_404(null::app_public.invoices, issue_credit_note.invoice_id);
  v_row app_public.credit_notes;
  v_tax numeric;
begin
  if v_invoice.status not in ('issued', 'partially_paid', 'paid') then
    perform app_hidden.raise_error('HMS_INVOICE_NOT_CREDITABLE',
      format('Invoice %s is %s: credit notes are issued against issued, partially paid or paid invoices.', v_invoice.invoice_number, v_invoice.status),
      jsonb_build_object('invoice_id', v_invoice.id, 'status', v_invoice.status));
  end if;
  if issue_credit_note.amount is null or issue_credit_note.amount <= 0 or round(issue_credit_note.amount, 2) <> issue_credit_note.amount then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'The amount must be greater than zero, with at most two decimals.',
      jsonb_build_object('field', 'amount'));
  end if;
  -- The reason is printed on the document (2 to 500 characters), more than a step's reason.
  if length(trim(coalesce(issue_credit_note.reason, ''))) not between 2 and 500 then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED', 'Say why the invoice is credited (2 to 500 characters).',
      jsonb_build_object('field', 'reason'));
  end if;
  if issue_credit_note.lines is not null and jsonb_typeof(issue_credit_note.lines) <> 'array' then
    perform app_hidden.raise_error('HMS_CREDIT_NOTE_LINES_INVALID', 'lines is a JSON array of credited items.',
      jsonb_build_object('field', 'lines'));
  end if;
  if issue_credit_note.amount > v_invoice.total_amount - v_invoice.amount_credited then
    perform app_hidden.raise_error('HMS_CREDIT_EXCEEDS_TOTAL',
      format('%s is more than the %s not yet credited on invoice %s.', issue_credit_note.amount,
             v_invoice.total_amount - v_invoice.amount_credited, v_invoice.invoice_number),
      jsonb_build_object('invoice_id', v_invoice.id, 'creditable', v_invoice.total_amount - v_invoice.amount_credited));
  end if;
  begin
    v_tax := least(coalesce((select sum((l ->> 'tax_amount')::numeric) from jsonb_array_elements(coalesce(issue_credit_note.lines, '[]')) l), 0),
                   issue_credit_note.amount);
  exception when others then
    perform app_hidden.raise_error('HMS_CREDIT_NOTE_LINES_INVALID', 'A line''s tax_amount is not a number.',
      jsonb_build_object('field', 'lines'));
  end;
  insert into app_public.credit_notes (hospital_id, invoice_id, patient_id, amount, tax_amount, reason, status, lines)
  values (v_hospital, v_invoice.id, v_invoice.patient_id, issue_credit_note.amount, greatest(v_tax, 0), trim(issue_credit_note.reason),
          'issued', coalesce(issue_credit_note.lines, '[]'))
  returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.issue_credit_note(uuid, numeric, text, jsonb) is
  E'Issues a numbered credit note (issued_at/by stamped) reducing what an issued, partially paid or paid invoice asks for (at most total − already credited); lines lists the credited items. Needs billing.refund. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_INVOICE_NOT_CREDITABLE, 422 HMS_AMOUNT_INVALID, 422 HMS_REASON_REQUIRED, 422 HMS_CREDIT_NOTE_LINES_INVALID, 422 HMS_CREDIT_EXCEEDS_TOTAL.';
grant execute on function app_public.issue_credit_note(uuid, numeric, text, jsonb) to :DATABASE_STAFF;

create or replace function app_public.settle_day(settlement_date date, counted_cash numeric default null, variance_reason text default null)
returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.settle');
  v_row app_public.daily_settlements;
begin
  if settle_day.settlement_date is null or settle_day.settlement_date > app_hidden.hospital_today(v_hospital) then
    perform app_hidden.raise_error('HMS_SETTLEMENT_DATE_INVALID', 'Only today or a past day (hospital time) can be settled.',
      jsonb_build_object('field', 'settlement_date'));
  end if;
  if settle_day.counted_cash is not null and (settle_day.counted_cash < 0 or settle_day.counted_cash >= 1e10) then
    perform app_hidden.raise_error('HMS_AMOUNT_INVALID', 'counted_cash cannot be negative.', jsonb_build_object('field', 'counted_cash'));
  end if;
  -- Serialise settling the same day: one advisory lock per hospital and day, then the row (created if needed).
  perform pg_advisory_xact_lock(hashtextextended('hms.settlement:' || v_hospital || ':' || settle_day.settlement_date, 0));
  select * into v_row from app_public.daily_settlements d
   where d.hospital_id = v_hospital and d.settlement_date = settle_day.settlement_date for update;
  if found then
    perform app_hidden.require_transition('app_public.daily_settlements', v_row.status, 'settled');
  end if;
  -- Lock out concurrent payment and refund writers of the hospital while the day is counted.
  lock table app_public.payments, app_public.refunds in share row exclusive mode;
  insert into app_public.daily_settlements (hospital_id, settlement_date) values (v_hospital, settle_day.settlement_date)
  on conflict on constraint daily_settlements_hospital_id_settlement_date_key do nothing;
  update app_public.daily_settlements d set counted_cash = settle_day.counted_cash, variance_reason = nullif(trim(settle_day.variance_reason), '')
   where d.hospital_id = v_hospital and d.settlement_date = settle_day.settlement_date;
  v_row := app_hidden.compute_daily_settlement(v_hospital, settle_day.settlement_date);
  -- Only a cash variance needs a reason, so it is this RPC's rule rather than the step's.
  if v_row.cash_variance is not null and v_row.cash_variance <> 0 and v_row.variance_reason is null then
    perform app_hidden.raise_error('HMS_VARIANCE_REASON_REQUIRED',
      format('Counted cash differs from the expected %s by %s: give a variance_reason.', v_row.expected_cash, v_row.cash_variance),
      jsonb_build_object('expected_cash', v_row.expected_cash, 'cash_variance', v_row.cash_variance));
  end if;
  update app_public.daily_settlements d set status = 'settled' where d.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.settle_day(date, numeric, text) is
  E'Computes a hospital-local day''s collections per method from completed payments and processed refunds and settles (locks) the day, settled_at/by stamped: no payment or refund may then be dated in it. counted_cash records the cash counted in the drawer; a variance needs variance_reason. Needs billing.settle. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 409 HMS_ILLEGAL_TRANSITION (already settled), 422 HMS_SETTLEMENT_DATE_INVALID, 422 HMS_AMOUNT_INVALID, 422 HMS_VARIANCE_REASON_REQUIRED.';
grant execute on function app_public.settle_day(date, numeric, text) to :DATABASE_STAFF;

create or replace function app_public.reopen_day(settlement_date date, reason text) returns app_public.daily_settlements
language plpgsql
volatile
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_hospital uuid := app_hidden.require_permission('billing.settle');
  v_row app_public.daily_settlements;
begin
  -- A settlement is found by its day (one per hospital and day), not by id.
  select * into v_row from app_public.daily_settlements d
   where d.hospital_id = v_hospital and d.settlement_date = reopen_day.settlement_date for update;
  if not found then
    perform app_hidden.raise_error('HMS_NOT_FOUND', 'No settlement for that day in this hospital.',
      jsonb_build_object('entity', 'daily_settlement', 'settlement_date', reopen_day.settlement_date));
  end if;
  perform app_hidden.require_transition('app_public.daily_settlements', v_row.status, 'reopened');
  update app_public.daily_settlements d set status = 'reopened', reopen_reason = nullif(trim(reopen_day.reason), '')
   where d.id = v_row.id returning * into v_row;
  return v_row;
end;
$$;
comment on function app_public.reopen_day(date, text) is
  E'Reopens a settled day with a reason (reopened_at/by stamped) so payments and refunds may be corrected in it; settle it again afterwards. Needs billing.settle. Errors: 401 HMS_SESSION_INVALID, 403 HMS_FORBIDDEN, 404 HMS_NOT_FOUND, 409 HMS_ILLEGAL_TRANSITION, 422 HMS_REASON_REQUIRED.';
grant execute on function app_public.reopen_day(date, text) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Registration (access models as the isolation matrix pins them)
 * ------------------------------------------------------------------------------------------ */

select app_hidden.register_table('app_public.invoices', 'invoice',
  read_permissions => '{billing.read}', write_permissions => '{billing.write}', delete_permissions => '{billing.write}',
  protected_columns => '{subtotal,discount_amount,tax_amount,total_amount,amount_paid,amount_refunded,amount_credited,balance_due,insurance_amount,patient_amount,paid_at,discount_approved_by}');
select app_hidden.register_table('app_public.invoice_items', 'invoice line',
  read_permissions => '{billing.read}', write_permissions => '{billing.write}', delete_permissions => '{billing.write}',
  protected_columns => '{discount_amount,tax_amount,line_total}');
select app_hidden.register_table('app_public.payments', 'payment',
  read_permissions => '{billing.read}', write_permissions => '{billing.collect}', delete_permissions => '{billing.collect}',
  immutable_columns => '{invoice_id,patient_id,amount}');
select app_hidden.register_table('app_public.refunds', 'refund',
  read_permissions => '{billing.read}', write_permissions => '{billing.refund}', delete_permissions => '{billing.refund}',
  immutable_columns => '{invoice_id,payment_id,patient_id,amount}');
select app_hidden.register_table('app_public.credit_notes', 'credit note',
  read_permissions => '{billing.read}', write_permissions => '{billing.refund}', delete_permissions => '{billing.refund}',
  protected_columns => '{applied_at}');
select app_hidden.register_table('app_public.daily_settlements', 'daily settlement',
  read_permissions => '{billing.read}', write_permissions => '{billing.settle}', delete_permissions => '{}',
  protected_columns => '{cash_total,card_total,upi_total,bank_transfer_total,cheque_total,wallet_total,insurance_total,other_total,gross_collections,refunds_total,net_collections,invoice_count,payment_count,refund_count,expected_cash,cash_variance,computed_at}');

/* ------------------------------------------------------------------------------------------
 * The billing dialect, folded into the kit
 * ------------------------------------------------------------------------------------------ */

drop function if exists app_hidden.billing_require(text);
drop function if exists app_hidden.billing_lock_invoice(uuid, uuid);
drop function if exists app_hidden.billing_lock_refund(uuid, uuid);
drop function if exists app_hidden.in_billing_workflow();
drop function if exists app_hidden.billing_local_date(uuid, timestamptz);
