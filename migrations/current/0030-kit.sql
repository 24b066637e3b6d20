/*
 * The kit: one way for each idea that every workflow module needs (DESIGN.md §8 "One kit").
 *
 *   clock            app_hidden.now(), hospital_today(), hospital_local_date()
 *   workflow mark    require_permission() marks the statement; in_workflow() / is_trusted_writer() read it
 *   gate             require_permission(code): the active hospital, or 401 / 403
 *   lock-or-404      lock_or_404(null::app_public.<table>, id) / find_or_404(…): a row of the active hospital, or 404
 *   status machine   app_hidden.status_transitions + one BEFORE trigger (_150_status_machine)
 *   document lock    lock_document(): a document (or its lines) is edited only in its editable statuses
 *   append-only      one trigger (_000_append_only) raising HMS_APPEND_ONLY
 *   totals           refresh_totals_from(lines, parent column, refresh function): one AFTER trigger on the lines
 *   friendly errors  one BEFORE trigger (_990_friendly_constraints) turning constraint violations into HMS_* codes
 *   registration     register_table(): conventions, stamps, numbers, soft delete, status machine,
 *                    audit, access policies and grants — one call per table (0033-register-table.sql)
 *
 * Who is trusted. A write is a *client write* when it comes from a member of staff's request
 * (REST, GraphQL) outside a workflow RPC. Workflow RPCs are security definer functions that start
 * with require_permission(), which marks the current statement; the triggers then let the RPC do
 * what only the workflow may (take a workflow-only status step, change a locked document).
 * The mark is bound to the statement (statement_timestamp()) and to the function call that took
 * it (the RPC, or the trigger refreshing derived columns), so it cannot leak into a later
 * statement of the same transaction (a second GraphQL mutation, a psql session) — not even one
 * sent in the same message, which shares its statement_timestamp(). The owner
 * without a session (migrations, demo data, a DBA) is trusted as well; it bypasses row-level
 * security anyway.
 */

/* ------------------------------------------------------------------------------------------
 * Clock
 * ------------------------------------------------------------------------------------------ */

/*
 * The clock business rules read: the transaction's start, like pg_catalog.now(). Tests stop it
 * with tests.freeze_time() (which replaces this function inside the test's transaction) to check
 * rules that depend on the day, the hour or a period boundary. Identity (session expiry, role
 * validity) and bookkeeping stamps (created_at, audit) deliberately stay on the real clock.
 */
create or replace function app_hidden.now() returns timestamptz
language sql
stable
as $$
  select pg_catalog.now();
$$;
comment on function app_hidden.now() is
  'The clock business rules read (pg_catalog.now(): the start of the transaction); tests stop it with tests.freeze_time().';
grant execute on function app_hidden.now() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.hospital_local_date(p_hospital_id uuid, p_at timestamptz) returns date
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select (p_at at time zone coalesce((select h.time_zone from app_public.hospitals h where h.id = p_hospital_id), 'UTC'))::date;
$$;
comment on function app_hidden.hospital_local_date(uuid, timestamptz) is
  E'The calendar day of an instant in the hospital''s time zone (the day an appointment, payment or settlement counts in).';
grant execute on function app_hidden.hospital_local_date(uuid, timestamptz) to :DATABASE_STAFF;

create or replace function app_hidden.hospital_today(p_hospital_id uuid) returns date
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select app_hidden.hospital_local_date(p_hospital_id, app_hidden.now());
$$;
comment on function app_hidden.hospital_today(uuid) is E'Today in the hospital''s time zone, by the business clock (app_hidden.now()).';
grant execute on function app_hidden.hospital_today(uuid) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Workflow mark and gate
 * ------------------------------------------------------------------------------------------ */

/*
 * The function call a workflow mark belongs to, from a call stack (GET DIAGNOSTICS … PG_CONTEXT):
 * the innermost frame that is not the kit's own, as the stack names it
 * ('PL/pgSQL function app_public.approve_purchase_order(uuid)'); '' at the top level.
 */
create or replace function app_hidden.workflow_frame(p_context text) returns text
language sql
immutable
as $$
  select coalesce((
    select f.frame
      from unnest(string_to_array(p_context, E'\n')) with ordinality as c(line, n)
     cross join lateral (select coalesce(substring(c.line from '^(PL/pgSQL function .+?) line [0-9]+'),
                                         substring(c.line from '^(SQL function "[^"]+")')) as frame) f
     where f.frame is not null
       and f.frame !~ '^PL/pgSQL function app_hidden\.(enter_workflow|in_workflow|require_permission)\('
     order by c.n
     limit 1), '');
$$;
comment on function app_hidden.workflow_frame(text) is
  'The innermost function call of a call stack that is not the kit''s own (the RPC or trigger a workflow mark belongs to).';
grant execute on function app_hidden.workflow_frame(text) to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

/*
 * Marks the current statement, within the calling function, as a workflow's own and returns the
 * previous mark. RPCs never call it directly (require_permission does); triggers that maintain
 * derived columns (totals) on a client's behalf wrap their write in enter_workflow() …
 * leave_workflow(previous).
 */
create or replace function app_hidden.enter_workflow() returns text
language plpgsql
volatile
as $$
declare
  v_previous text := coalesce(current_setting('hms.workflow_mark', true), '');
  v_context text;
begin
  get diagnostics v_context = pg_context;
  perform set_config('hms.workflow_mark', statement_timestamp()::text || '|' || app_hidden.workflow_frame(v_context), true);
  return v_previous;
end;
$$;
comment on function app_hidden.enter_workflow() is
  'Marks the current statement as a workflow write (see in_workflow) and returns the previous mark for leave_workflow.';

create or replace function app_hidden.leave_workflow(p_previous text) returns void
language sql
volatile
as $$
  select set_config('hms.workflow_mark', coalesce(p_previous, ''), true);
$$;
comment on function app_hidden.leave_workflow(text) is 'Restores the workflow mark enter_workflow returned.';

create or replace function app_hidden.in_workflow() returns boolean
language plpgsql
stable
as $$
declare
  v_mark text := coalesce(current_setting('hms.workflow_mark', true), '');
  v_statement text := statement_timestamp()::text || '|';
  v_frame text;
  v_context text;
begin
  if left(v_mark, length(v_statement)) is distinct from v_statement then
    return false;
  end if;
  v_frame := substr(v_mark, length(v_statement) + 1);
  if v_frame = '' then
    return true;  -- marked at the top level of the statement
  end if;
  -- Still inside the call that took the mark (its frame is on the stack).
  get diagnostics v_context = pg_context;
  return strpos(v_context, E'\n' || v_frame || ' ') > 0;
end;
$$;
comment on function app_hidden.in_workflow() is
  'True while the current statement runs inside a workflow RPC (marked by require_permission) or a derived-column refresh — inside that very call, not after it returned.';
grant execute on function app_hidden.in_workflow() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

create or replace function app_hidden.is_trusted_writer() returns boolean
language sql
stable
as $$
  select app_hidden.in_workflow() or app_hidden.current_user_id() is null;
$$;
comment on function app_hidden.is_trusted_writer() is
  'True for a workflow RPC and for the owner without a session (migrations, demo data, maintenance); false for a client write of staff.';
grant execute on function app_hidden.is_trusted_writer() to :DATABASE_STAFF, :DATABASE_ANONYMOUS;

/*
 * The gate of every workflow RPC: the active hospital of a logged-in member of staff holding the
 * permission, or 401 HMS_SESSION_INVALID / 403 HMS_FORBIDDEN. It marks the call as the
 * workflow's (in_workflow).
 */
drop function if exists app_hidden.require_permission(text, text);
create or replace function app_hidden.require_permission(p_permission text) returns uuid
language plpgsql
volatile
as $$
declare
  v_hospital uuid := app_hidden.current_hospital_id();
begin
  if v_hospital is null or app_hidden.current_user_id() is null then
    perform app_hidden.raise_error('HMS_SESSION_INVALID', 'Log in as a member of staff with an active hospital.');
  end if;
  if not app_hidden.has_permission(p_permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN', format('This needs the %s permission.', p_permission),
      jsonb_build_object('permission', p_permission));
  end if;
  perform app_hidden.enter_workflow();
  return v_hospital;
end;
$$;
comment on function app_hidden.require_permission(text) is
  'The gate of every workflow RPC: returns the active hospital, or raises 401 HMS_SESSION_INVALID / 403 HMS_FORBIDDEN; marks the call as a workflow write (in_workflow).';

/* Four eyes: the acting user must not be the one who requested or created what is approved. */
create or replace function app_hidden.require_other_user(p_user_id uuid, p_what text) returns void
language plpgsql
stable
as $$
begin
  if p_user_id is not null and p_user_id = app_hidden.current_user_id() then
    perform app_hidden.raise_error('HMS_APPROVAL_BY_OTHER_USER',
      format('You %s this yourself: another member of staff must approve it.', p_what),
      jsonb_build_object('user_id', p_user_id));
  end if;
end;
$$;
comment on function app_hidden.require_other_user(uuid, text) is
  E'Four eyes: raises HMS_APPROVAL_BY_OTHER_USER when the acting user is the given one (e.g. the requester). p_what completes "You … this yourself", e.g. ''requested''.';
grant execute on function app_hidden.require_other_user(uuid, text) to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Table registry (filled by register_table) and lock-or-404
 * ------------------------------------------------------------------------------------------ */

drop table if exists app_hidden.table_registry cascade;
create table app_hidden.table_registry (
  table_name text primary key,
  entity text not null constraint table_registry_entity_check check (entity ~ '^[a-z][a-z ]*[a-z]$'),
  hospital_scoped boolean not null,
  soft_delete boolean not null,
  audited boolean not null,
  append_only boolean not null,
  policies text not null constraint table_registry_policies_check check (policies in ('generated', 'hand_written')),
  write_permissions text[] not null default '{}',
  constraint_probe text
);
comment on table app_hidden.table_registry is
  E'Every app_public table, as register_table registered it: the entity name used in messages and what was installed. The structure test checks every table is registered and up to date.';
comment on column app_hidden.table_registry.entity is 'The table''s row in words, singular (e.g. purchase order), used in error messages.';
comment on column app_hidden.table_registry.policies is 'generated: tenant and permission policies from app_hidden.table_access; hand_written: the section writes them (chain-level tables).';
comment on column app_hidden.table_registry.write_permissions is 'Permissions that let a member of staff write the table (for hand-written policies too): friendly constraint errors answer only them.';
comment on column app_hidden.table_registry.constraint_probe is 'Query the friendly-constraint trigger runs to name the first constraint a row breaks (built from the catalog at registration).';
grant select on app_hidden.table_registry to :DATABASE_STAFF;

create or replace function app_hidden.entity_of(p_table regclass) returns text
language sql
stable
as $$
  select coalesce((select r.entity from app_hidden.table_registry r
                    where r.table_name = (select c.relname from pg_catalog.pg_class c where c.oid = p_table)),
                  (select replace(c.relname, '_', ' ') from pg_catalog.pg_class c where c.oid = p_table));
$$;
comment on function app_hidden.entity_of(regclass) is 'The entity name of a table for messages (its registry entry, else its name in words).';
grant execute on function app_hidden.entity_of(regclass) to :DATABASE_STAFF;

/* The entity with its indefinite article, for messages: 'an appointment', 'a purchase order'. */
create or replace function app_hidden.a_or_an(p_entity text, p_capital boolean default false) returns text
language sql
immutable
as $$
  select case when p_entity ~* '^[aeiou]' then case when p_capital then 'An ' else 'an ' end
              else case when p_capital then 'A ' else 'a ' end end || p_entity;
$$;
comment on function app_hidden.a_or_an(text, boolean) is E'The word with its indefinite article (a / an; capitalised to start a sentence), for messages.';
grant execute on function app_hidden.a_or_an(text, boolean) to :DATABASE_STAFF;

/*
 * May the policies let this writer insert this row? PostgreSQL checks row-level security after
 * the BEFORE triggers, so a kit trigger that refuses an insert first would answer a writer the
 * policies refuse anyway with the rule it broke instead of 42501. The kit's insert rules (status
 * machine, document lock, friendly constraint errors) therefore speak only to writers who hold a
 * write permission of the table (table_registry.write_permissions) for a row of their own
 * hospital, and to trusted writers; everyone else meets the policy.
 */
create or replace function app_hidden.policies_may_admit(p_table regclass, p_row jsonb) returns boolean
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  select app_hidden.is_trusted_writer()
      or (coalesce((p_row ->> 'hospital_id')::uuid = app_hidden.current_hospital_id(), true)
          and exists (select 1 from app_hidden.table_registry r
                       where r.table_name = (select c.relname from pg_catalog.pg_class c where c.oid = p_table)
                         and app_hidden.has_any_permission(r.write_permissions)));
$$;
comment on function app_hidden.policies_may_admit(regclass, jsonb) is
  'True for a trusted writer, or a writer holding a write permission of the table for a row of the active hospital: whom the kit''s insert rules answer before row-level security does.';

/* Shared body of lock_or_404 and find_or_404. */
create or replace function app_hidden.row_or_404(p_row anyelement, p_id uuid, p_lock boolean) returns anyelement
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_table regclass := (select t.typrelid from pg_catalog.pg_type t where t.oid = pg_typeof(p_row))::regclass;
  v_soft boolean;
  v_found integer;
begin
  if v_table is null then
    raise exception 'row_or_404 needs a row of a table, e.g. null::app_public.patients (got %)', pg_typeof(p_row);
  end if;
  v_soft := exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = v_table and a.attname = 'is_deleted' and not a.attisdropped);
  execute format('select t.* from %s t where t.id = $1 and t.hospital_id = $2%s%s',
                 v_table, case when v_soft then ' and not t.is_deleted' else '' end, case when p_lock then ' for update' else '' end)
     into p_row using p_id, app_hidden.current_hospital_id();
  get diagnostics v_found = row_count;
  if v_found = 0 then
    perform app_hidden.raise_error('HMS_NOT_FOUND', format('No such %s in this hospital.', app_hidden.entity_of(v_table)),
      jsonb_build_object('entity', replace(app_hidden.entity_of(v_table), ' ', '_'), 'id', p_id));
  end if;
  return p_row;
end;
$$;
comment on function app_hidden.row_or_404(anyelement, uuid, boolean) is 'Body of lock_or_404 / find_or_404.';

/*
 * v := app_hidden.lock_or_404(null::app_public.appointments, p_id): the row with that id in the
 * active hospital (not soft-deleted), locked FOR UPDATE until the transaction ends — or 404
 * HMS_NOT_FOUND, also for another hospital's id.
 */
create or replace function app_hidden.lock_or_404(p_row anyelement, p_id uuid) returns anyelement
language sql
volatile
as $$
  select app_hidden.row_or_404(p_row, p_id, true);
$$;
comment on function app_hidden.lock_or_404(anyelement, uuid) is
  'The row of the table (given as null::app_public.<table>) with that id in the active hospital, locked for update; 404 HMS_NOT_FOUND otherwise.';

/* The same lookup without a lock, for rows a workflow only reads (the patient of a booking). */
create or replace function app_hidden.find_or_404(p_row anyelement, p_id uuid) returns anyelement
language sql
volatile
as $$
  select app_hidden.row_or_404(p_row, p_id, false);
$$;
comment on function app_hidden.find_or_404(anyelement, uuid) is
  'The row of the table (given as null::app_public.<table>) with that id in the active hospital, without a lock; 404 HMS_NOT_FOUND otherwise.';

/* ------------------------------------------------------------------------------------------
 * Status machine
 * ------------------------------------------------------------------------------------------ */

drop table if exists app_hidden.status_transitions cascade;
create table app_hidden.status_transitions (
  table_name text not null,
  from_status text,
  to_status text not null,
  via text,
  permission text,
  stamp_at text,
  stamp_by text,
  reason_column text,
  constraint status_transitions_key unique nulls not distinct (table_name, from_status, to_status)
);
comment on table app_hidden.status_transitions is
  E'The status machine of every table with a status column: each legal step (from_status null = the status a new row starts in). The _150_status_machine trigger refuses every other change of status, whoever writes (owner without a session excepted).';
comment on column app_hidden.status_transitions.via is 'The workflow RPC that takes this step (it has side effects); null = a plain write (PATCH) may take it too.';
comment on column app_hidden.status_transitions.permission is 'A permission this step needs on top of the table''s write permission (e.g. billing.void); null = none.';
comment on column app_hidden.status_transitions.stamp_at is 'Column set to the business clock when the step is taken.';
comment on column app_hidden.status_transitions.stamp_by is 'Column set to the acting user when the step is taken (never from the request).';
comment on column app_hidden.status_transitions.reason_column is 'Column that must hold a reason (not blank) when the step is taken.';
grant select on app_hidden.status_transitions to :DATABASE_STAFF;

/*
 * Declares a table's status machine: one call per table, replacing its previous steps.
 * p_steps: [{"from": null|"…", "to": "…", "via": "rpc", "permission": "…", "stamp_at": "col",
 *            "stamp_by": "col", "reason": "col"}, …]
 */
create or replace function app_hidden.declare_status_machine(p_table regclass, p_steps jsonb) returns void
language plpgsql
volatile
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_column text;
begin
  delete from app_hidden.status_transitions t where t.table_name = v_name;
  insert into app_hidden.status_transitions (table_name, from_status, to_status, via, permission, stamp_at, stamp_by, reason_column)
  select v_name, s."from", s."to", s.via, s.permission, s.stamp_at, s.stamp_by, s.reason
    from jsonb_to_recordset(p_steps) as s("from" text, "to" text, via text, permission text, stamp_at text, stamp_by text, reason text);
  -- Every column named must exist, and every status must pass the table's status CHECK.
  for v_column in
    select distinct c from app_hidden.status_transitions t
     cross join lateral unnest(array[t.stamp_at, t.stamp_by, t.reason_column]) c
     where t.table_name = v_name and c is not null
  loop
    if not exists (select 1 from pg_catalog.pg_attribute a where a.attrelid = p_table and a.attname = v_column and not a.attisdropped) then
      raise exception 'status machine of %: no column %', p_table, v_column;
    end if;
  end loop;
end;
$$;
comment on function app_hidden.declare_status_machine(regclass, jsonb) is
  E'Declares the legal status steps of a table (replacing its previous ones); register_table installs the trigger that enforces them.';

/* The statuses a row may go to next (for messages and clients). */
create or replace function app_hidden.allowed_transitions(p_table text, p_from text) returns text[]
language sql
stable
as $$
  select coalesce(array_agg(t.to_status order by t.to_status), '{}')
    from app_hidden.status_transitions t
   where t.table_name = p_table and t.from_status is not distinct from p_from;
$$;
comment on function app_hidden.allowed_transitions(text, text) is 'The statuses a row of the table may go to from a status (null: the statuses a new row may start in).';
grant execute on function app_hidden.allowed_transitions(text, text) to :DATABASE_STAFF;

/* The one refusal of an undeclared step (409 HMS_ILLEGAL_TRANSITION), for the trigger and require_transition. */
create or replace function app_hidden.raise_illegal_transition(p_table regclass, p_from text, p_to text) returns void
language plpgsql
stable
as $$
declare
  v_name text := (select c.relname from pg_catalog.pg_class c where c.oid = p_table);
  v_entity text := app_hidden.entity_of(p_table);
begin
  perform app_hidden.raise_error('HMS_ILLEGAL_TRANSITION',
    case when p_from is null
         then format('A new %s starts as %s, not %s.', v_entity,
                     array_to_string(app_hidden.allowed_transitions(v_name, null), ' or '), p_to)
         else format('%s cannot go from %s to %s.', app_hidden.a_or_an(v_entity, true), p_from, p_to) end,
    jsonb_build_object('entity', replace(v_entity, ' ', '_'), 'from', p_from, 'to', p_to,
                       'allowed', to_jsonb(app_hidden.allowed_transitions(v_name, p_from))));
end;
$$;
comment on function app_hidden.raise_illegal_transition(regclass, text, text) is
  'Raises 409 HMS_ILLEGAL_TRANSITION for a status step the table''s machine does not declare (details.entity, from, to, allowed).';

/*
 * For workflow RPCs, before they do anything: the step from the row's status must be declared.
 * It also refuses a repeated step (cancelling a cancelled appointment, approving an approved
 * order), which the trigger cannot see: to it, a status that stays the same is no step at all.
 */
create or replace function app_hidden.require_transition(p_table regclass, p_from text, p_to text) returns void
language plpgsql
stable
as $$
begin
  if not exists (select 1 from app_hidden.status_transitions t
                  where t.table_name = (select c.relname from pg_catalog.pg_class c where c.oid = p_table)
                    and t.from_status is not distinct from p_from and t.to_status = p_to) then
    perform app_hidden.raise_illegal_transition(p_table, p_from, p_to);
  end if;
end;
$$;
comment on function app_hidden.require_transition(regclass, text, text) is
  'Raises 409 HMS_ILLEGAL_TRANSITION unless the table''s status machine declares the step from p_from to p_to (repeated steps included); workflow RPCs call it before they change anything.';

/*
 * BEFORE INSERT OR UPDATE OF status (_150_status_machine): the one enforcement of every status
 * machine. For writes with a session (client writes and workflow RPCs):
 *   - the step must be declared, else 409 HMS_ILLEGAL_TRANSITION (a new row by a client must start
 *     in a declared initial status; workflow RPCs may create rows in any declared status);
 *   - a step with `via` is taken only inside a workflow RPC, else 409 HMS_WORKFLOW_REQUIRED;
 *   - a step with a permission needs it, else 403 HMS_FORBIDDEN;
 *   - a step with a reason column needs a reason, else 422 HMS_REASON_REQUIRED;
 *   - stamp_at / stamp_by are set from the business clock and the session, unconditionally.
 * The owner without a session (demo data, migrations, maintenance) is trusted with everything but
 * an undeclared step of an existing row: it may insert rows in any status and take workflow-only
 * steps, but a completed appointment is not reopened by anyone (DESIGN.md §8, legal state changes).
 */
create or replace function app_hidden.tg__status_machine() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_user uuid := app_hidden.current_user_id();
  v_from text;
  v_step app_hidden.status_transitions;
  v_patch jsonb := '{}';
begin
  if TG_OP = 'INSERT' and (v_user is null or not app_hidden.policies_may_admit(TG_RELID, to_jsonb(NEW))) then
    return NEW;  -- the owner may insert in any status; a writer the policies refuse meets 42501
  end if;
  if TG_OP = 'UPDATE' then
    if NEW.status is not distinct from OLD.status then
      return NEW;
    end if;
    v_from := OLD.status;
  end if;
  select * into v_step from app_hidden.status_transitions t
   where t.table_name = TG_TABLE_NAME and t.from_status is not distinct from v_from and t.to_status = NEW.status;
  if not found then
    if TG_OP = 'INSERT' and app_hidden.in_workflow()
       and exists (select 1 from app_hidden.status_transitions t where t.table_name = TG_TABLE_NAME and t.to_status = NEW.status) then
      return NEW;  -- a workflow records a row in a later status (e.g. a completed payment)
    end if;
    perform app_hidden.raise_illegal_transition(TG_RELID, v_from, NEW.status);
  end if;
  if v_user is null then
    return NEW;
  end if;
  if v_step.via is not null and not app_hidden.in_workflow() then
    perform app_hidden.raise_error('HMS_WORKFLOW_REQUIRED',
      format('%s goes to %s only through %s.', app_hidden.a_or_an(app_hidden.entity_of(TG_RELID), true), NEW.status, v_step.via),
      jsonb_build_object('entity', replace(app_hidden.entity_of(TG_RELID), ' ', '_'), 'to', NEW.status, 'use', v_step.via));
  end if;
  if v_step.permission is not null and not app_hidden.has_permission(v_step.permission) then
    perform app_hidden.raise_error('HMS_FORBIDDEN',
      format('Moving %s to %s needs the %s permission.', app_hidden.a_or_an(app_hidden.entity_of(TG_RELID)), NEW.status, v_step.permission),
      jsonb_build_object('permission', v_step.permission));
  end if;
  if v_step.reason_column is not null and nullif(trim(to_jsonb(NEW) ->> v_step.reason_column), '') is null then
    perform app_hidden.raise_error('HMS_REASON_REQUIRED',
      format('Say why the %s goes to %s (%s).', app_hidden.entity_of(TG_RELID), NEW.status, v_step.reason_column),
      jsonb_build_object('field', v_step.reason_column));
  end if;
  if v_step.stamp_at is not null then
    v_patch := v_patch || jsonb_build_object(v_step.stamp_at, app_hidden.now());
  end if;
  if v_step.stamp_by is not null then
    v_patch := v_patch || jsonb_build_object(v_step.stamp_by, v_user);
  end if;
  if v_patch <> '{}' then
    NEW := jsonb_populate_record(NEW, v_patch);
  end if;
  return NEW;
end;
$$;
comment on function app_hidden.tg__status_machine() is
  'BEFORE INSERT/UPDATE OF status (_150_status_machine): legal steps only (HMS_ILLEGAL_TRANSITION), workflow-only steps (HMS_WORKFLOW_REQUIRED), step permissions (HMS_FORBIDDEN) and reasons (HMS_REASON_REQUIRED); stamps who and when from the session.';

/* ------------------------------------------------------------------------------------------
 * Document lock: a document, or its lines, is edited only while it is in an editable status
 * ------------------------------------------------------------------------------------------ */

/*
 * BEFORE INSERT/UPDATE/DELETE, for client writes only (workflow RPCs change locked documents the
 * way the workflow allows: a credit note, an amendment, a receipt). Arguments:
 *   0 editable statuses (comma-separated)
 *   1 columns a client may still change when locked (comma-separated; may be empty)
 *   2 the document table, when the trigger sits on its lines (empty: on the document itself)
 *   3 the lines' column naming their document
 * Refuses with 409 HMS_DOCUMENT_LOCKED.
 */
create or replace function app_hidden.tg__document_lock() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_editable text[] := string_to_array(TG_ARGV[0], ',');
  -- Generated columns are null in NEW until after the BEFORE triggers, and nobody writes them.
  v_still_editable text[] := coalesce(string_to_array(nullif(TG_ARGV[1], ''), ','), '{}') || array['updated_at', 'updated_by']
    || array(select a.attname::text from pg_catalog.pg_attribute a
              where a.attrelid = TG_RELID and a.attnum > 0 and a.attgenerated <> '' and not a.attisdropped);
  v_document regclass := nullif(TG_ARGV[2], '')::regclass;
  v_column text := nullif(TG_ARGV[3], '');
  v_ids uuid[];
  v_hospital uuid;
  v_status text;
  v_locked_id uuid;
  v_locked_status text;
begin
  if app_hidden.is_trusted_writer() or (TG_OP = 'INSERT' and not app_hidden.policies_may_admit(TG_RELID, to_jsonb(NEW))) then
    return case when TG_OP = 'DELETE' then OLD else NEW end;
  end if;
  if TG_OP = 'UPDATE' and (to_jsonb(NEW) - v_still_editable) = (to_jsonb(OLD) - v_still_editable) then
    return NEW;
  end if;
  if v_document is null then
    -- On the document itself: its own status decides (an insert is checked by the status machine).
    -- (read through jsonb: the same function serves tables whose rows have no status of their own)
    v_status := to_jsonb(OLD) ->> 'status';
    if TG_OP <> 'INSERT' and not (v_status = any (v_editable)) then
      perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
        format('This %s is %s: it can no longer be changed this way.', app_hidden.entity_of(TG_RELID), v_status),
        jsonb_build_object('entity', replace(app_hidden.entity_of(TG_RELID), ' ', '_'), 'id', OLD.id, 'status', v_status));
    end if;
    return case when TG_OP = 'DELETE' then OLD else NEW end;
  end if;
  -- On lines: the status of the document the line belongs to (before and after a move).
  v_hospital := case when TG_OP = 'DELETE' then OLD.hospital_id else NEW.hospital_id end;
  v_ids := array[case when TG_OP <> 'DELETE' then (to_jsonb(NEW) ->> v_column)::uuid end,
                 case when TG_OP <> 'INSERT' then (to_jsonb(OLD) ->> v_column)::uuid end];
  execute format('select d.id, d.status from %s d where d.hospital_id = $1 and d.id = any ($2) and not (d.status = any ($3)) limit 1', v_document)
     into v_locked_id, v_locked_status using v_hospital, v_ids, v_editable;
  if v_locked_id is not null then
    perform app_hidden.raise_error('HMS_DOCUMENT_LOCKED',
      format('This %s is %s: its lines can no longer change.', app_hidden.entity_of(v_document), v_locked_status),
      jsonb_build_object('entity', replace(app_hidden.entity_of(v_document), ' ', '_'), 'id', v_locked_id, 'status', v_locked_status));
  end if;
  return case when TG_OP = 'DELETE' then OLD else NEW end;
end;
$$;
comment on function app_hidden.tg__document_lock() is
  'BEFORE INSERT/UPDATE/DELETE (_060_document_lock): client writes change a document, or its lines, only while the document is in an editable status (HMS_DOCUMENT_LOCKED).';

/*
 * Installs the document lock on a document table (p_document_column null) or on its lines.
 * select app_hidden.lock_document('app_public.invoices', '{draft}', still_editable => '{notes}');
 * select app_hidden.lock_document('app_public.invoice_items', '{draft}', document => 'app_public.invoices', document_column => 'invoice_id');
 */
create or replace function app_hidden.lock_document(
  p_table regclass, editable_statuses text[], still_editable text[] default '{}',
  document regclass default null, document_column text default null
) returns void
language plpgsql
volatile
as $$
begin
  execute format('drop trigger if exists _060_document_lock on %s', p_table);
  execute format('create trigger _060_document_lock before insert or update or delete on %s for each row '
                 'execute function app_hidden.tg__document_lock(%L, %L, %L, %L)',
                 p_table, array_to_string(editable_statuses, ','), array_to_string(still_editable, ','),
                 coalesce(document::text, ''), coalesce(document_column, ''));
end;
$$;
comment on function app_hidden.lock_document(regclass, text[], text[], regclass, text) is
  'Installs the document lock (_060_document_lock) on a document or on its lines (idempotent).';

/* ------------------------------------------------------------------------------------------
 * Append-only history
 * ------------------------------------------------------------------------------------------ */

create or replace function app_hidden.tg__append_only() returns trigger
language plpgsql
as $$
begin
  perform app_hidden.raise_error('HMS_APPEND_ONLY',
    format('%s is append-only history: its rows are never changed or removed.', initcap(app_hidden.entity_of(TG_RELID))),
    jsonb_build_object('table', TG_TABLE_NAME, 'operation', lower(TG_OP)));
  return null;
end;
$$;
comment on function app_hidden.tg__append_only() is
  'BEFORE UPDATE/DELETE row and BEFORE TRUNCATE statement trigger (_000_append_only) of history tables: refuses with HMS_APPEND_ONLY, for every role including the owner.';
grant execute on function app_hidden.tg__append_only() to :DATABASE_STAFF;

/* ------------------------------------------------------------------------------------------
 * Totals from lines
 * ------------------------------------------------------------------------------------------ */

/*
 * AFTER INSERT/UPDATE/DELETE on lines (_800_refresh_totals): calls the document's refresh
 * function (TG_ARGV[1], taking the document id) for the document the line belongs to — before and
 * after a move — inside enter_workflow()/leave_workflow(), so the derived columns it writes pass
 * the document's own guards. The refresh function is the one place a document's totals are
 * computed (app_hidden.refresh_<document>_totals).
 */
create or replace function app_hidden.tg__refresh_totals() returns trigger
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_column text := TG_ARGV[0];
  v_refresh regproc := TG_ARGV[1]::regproc;
  v_new uuid;
  v_old uuid;
  v_previous text;
begin
  if TG_OP <> 'DELETE' then v_new := (to_jsonb(NEW) ->> v_column)::uuid; end if;
  if TG_OP <> 'INSERT' then v_old := (to_jsonb(OLD) ->> v_column)::uuid; end if;
  v_previous := app_hidden.enter_workflow();
  if v_new is not null then
    execute format('select %s($1)', v_refresh) using v_new;
  end if;
  if v_old is not null and v_old is distinct from v_new then
    execute format('select %s($1)', v_refresh) using v_old;
  end if;
  perform app_hidden.leave_workflow(v_previous);
  return null;
end;
$$;
comment on function app_hidden.tg__refresh_totals() is
  'AFTER INSERT/UPDATE/DELETE on lines (_800_refresh_totals): recomputes the totals of the document the line belongs to through its refresh function.';

/* select app_hidden.refresh_totals_from('app_public.invoice_items', 'invoice_id', 'app_hidden.refresh_invoice_totals'); */
create or replace function app_hidden.refresh_totals_from(p_lines regclass, p_document_column text, p_refresh regproc) returns void
language plpgsql
volatile
as $$
begin
  execute format('drop trigger if exists _800_refresh_totals on %s', p_lines);
  execute format('create trigger _800_refresh_totals after insert or update or delete on %s for each row '
                 'execute function app_hidden.tg__refresh_totals(%L, %L)', p_lines, p_document_column, p_refresh::text);
end;
$$;
comment on function app_hidden.refresh_totals_from(regclass, text, regproc) is
  'Installs the totals trigger (_800_refresh_totals) on a lines table: every change of a line refreshes its document through the refresh function (idempotent).';
