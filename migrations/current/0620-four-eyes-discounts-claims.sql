/*
 * Four eyes for the last two approvals that compared nobody (issue 8, item 2).
 *
 * - Discounts. Whoever sets an invoice-level discount gives it (invoices.discount_approved_by, from
 *   the session). Above the hospital's discount_approval_threshold (0: every discount) that person
 *   must not be who created the invoice: the front desk that raised the bill asks a colleague
 *   holding billing.write (a supervisor, the accountant) to grant the discount
 *   (409 HMS_APPROVAL_BY_OTHER_USER). Line discounts are the price list's (discount_percent on a
 *   line), not a concession.
 * - Insurance decisions. The payer's answer to a claim or a pre-authorization is recorded by
 *   someone other than who submitted the claim or requested the authorization, and who recorded it
 *   is stamped (decided_by): the status machine's distinct_from and stamp_by, as for every other
 *   approval.
 */

alter table app_public.hospital_settings add column if not exists discount_approval_threshold numeric(12,2) not null default 0;
alter table app_public.hospital_settings drop constraint if exists hospital_settings_discount_approval_threshold_check;
alter table app_public.hospital_settings add constraint hospital_settings_discount_approval_threshold_check check (discount_approval_threshold >= 0);
comment on column app_public.hospital_settings.discount_approval_threshold is 'Invoice-level discounts above this amount are given by someone other than who created the invoice (0 = every discount).';
select app_hidden.reregister_table('app_public.hospital_settings');

/* BEFORE INSERT OR UPDATE OF invoice_discount_amount on invoices (_210_discount_four_eyes). */
create or replace function app_hidden.tg_invoices__discount_four_eyes() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_threshold numeric;
begin
  if v_user is null
     or NEW.invoice_discount_amount is not distinct from (case when TG_OP = 'UPDATE' then OLD.invoice_discount_amount else 0 end) then
    return NEW;
  end if;
  select s.discount_approval_threshold into v_threshold from app_public.hospital_settings s where s.hospital_id = NEW.hospital_id;
  if NEW.invoice_discount_amount > coalesce(v_threshold, 0) and NEW.created_by is not distinct from v_user then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      format('A discount of %s is above this hospital''s limit of %s for the person who raised the invoice: a colleague gives it.',
             NEW.invoice_discount_amount, coalesce(v_threshold, 0)),
      jsonb_build_object('invoice_id', NEW.id, 'discount', NEW.invoice_discount_amount, 'threshold', coalesce(v_threshold, 0)),
      'Ask a colleague holding billing.write (a supervisor or the accountant) to set the discount.');
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg_invoices__discount_four_eyes() is 'invoices: an invoice-level discount above hospital_settings.discount_approval_threshold is given by someone other than the invoice''s creator (409 HMS_APPROVAL_BY_OTHER_USER).';
revoke execute on function app_hidden.tg_invoices__discount_four_eyes() from public;
drop trigger if exists _210_discount_four_eyes on app_public.invoices;
create trigger _210_discount_four_eyes before insert or update of invoice_discount_amount on app_public.invoices
  for each row execute function app_hidden.tg_invoices__discount_four_eyes();

/* Insurance decisions: stamped and by another person. */
alter table app_public.insurance_claims add column if not exists decided_by uuid references app_public.users (id) on delete restrict;
comment on column app_public.insurance_claims.decided_by is 'Who recorded the payer''s decision (from the session; never who submitted the claim).';
create index if not exists idx_insurance_claims__decided_by on app_public.insurance_claims (decided_by) where decided_by is not null;
alter table app_public.pre_authorizations add column if not exists decided_by uuid references app_public.users (id) on delete restrict;
comment on column app_public.pre_authorizations.decided_by is 'Who recorded the payer''s decision (from the session; never who requested the authorization).';
create index if not exists idx_pre_authorizations__decided_by on app_public.pre_authorizations (decided_by) where decided_by is not null;

select app_hidden.declare_status_machine('app_public.pre_authorizations', $json$[
  {"from": null, "to": "requested", "stamp_at": "requested_at", "stamp_by": "requested_by"},
  {"from": "requested", "to": "approved", "via": "decide_pre_authorization", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["requested_by"]},
  {"from": "requested", "to": "partially_approved", "via": "decide_pre_authorization", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["requested_by"]},
  {"from": "requested", "to": "denied", "via": "decide_pre_authorization", "reason": "denial_reason", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["requested_by"]},
  {"from": "requested", "to": "cancelled"},
  {"from": "approved", "to": "used", "via": "decide_claim", "stamp_at": "used_at"},
  {"from": "partially_approved", "to": "used", "via": "decide_claim", "stamp_at": "used_at"},
  {"from": "approved", "to": "expired"},
  {"from": "partially_approved", "to": "expired"}
]$json$);

select app_hidden.declare_status_machine('app_public.insurance_claims', $json$[
  {"from": null, "to": "draft", "via": "create_claim"},
  {"from": "draft", "to": "submitted", "via": "submit_claim", "stamp_at": "submitted_at", "stamp_by": "submitted_by"},
  {"from": "draft", "to": "cancelled"},
  {"from": "submitted", "to": "cancelled"},
  {"from": "submitted", "to": "under_review"},
  {"from": "under_review", "to": "approved", "via": "decide_claim", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["submitted_by"]},
  {"from": "under_review", "to": "partially_approved", "via": "decide_claim", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["submitted_by"]},
  {"from": "under_review", "to": "denied", "via": "decide_claim", "reason": "denial_reason", "stamp_at": "decided_at", "stamp_by": "decided_by", "distinct_from": ["submitted_by"]},
  {"from": "approved", "to": "paid", "via": "record_claim_payment", "stamp_at": "paid_at"},
  {"from": "partially_approved", "to": "paid", "via": "record_claim_payment", "stamp_at": "paid_at"}
]$json$);

select app_hidden.reregister_table('app_public.pre_authorizations');
select app_hidden.reregister_table('app_public.insurance_claims');
